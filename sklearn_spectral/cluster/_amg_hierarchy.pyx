"""Pairwise aggregation and Galerkin products for bootstrap AMG.

A prolongator ``P`` (``n x nc``) with one non-zero per row is kept as two
arrays: ``agg[i]`` the column of row ``i`` and ``p[i]`` its value (a zero row
has ``agg[i] = 0``, ``p[i] = 0``).

``_pair_aggregate``
    Matched pairs ``(i, j)`` become one aggregate with the unit column
    ``(w_i, w_j) / hypot(w_i, w_j)``; unmatched vertices with ``w_i != 0``
    become singletons with value ``sign(w_i)``; vertices with ``w_i = 0``
    (and pairs with both zero) give zero rows. ``P^T P = I`` and
    ``P P^T w = w`` up to rounding.

``_galerkin``
    ``A_c = P^T A P`` for a symmetric CSR ``A``: the members of every
    aggregate are listed by a counting sort, the upper triangle of each coarse
    row is built with a marker array (symbolic and numeric in one sweep per
    row, ``O(nnz)`` overall) and mirrored, so ``A_c`` is exactly symmetric.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport hypot

import numpy as np


def _pair_aggregate(const long long[::1] match, const double[::1] w):
    """Pairwise aggregation from a matching.

    Returns
    -------
    agg : ndarray of shape (n,), dtype int64
    p : ndarray of shape (n,), dtype float64
    n_coarse : int
    """
    cdef Py_ssize_t n = match.shape[0]
    cdef long long[::1] agg = np.full(n, -1, dtype=np.int64)
    cdef double[::1] p = np.zeros(n, dtype=np.float64)
    cdef long long nc = 0
    cdef Py_ssize_t i
    cdef long long j
    cdef double s
    with nogil:
        for i in range(n):
            j = match[i]
            if j > i:
                s = hypot(w[i], w[j])
                if s > 0.0:
                    agg[i] = nc
                    agg[j] = nc
                    p[i] = w[i] / s
                    p[j] = w[j] / s
                    nc += 1
        for i in range(n):
            if agg[i] != -1:
                continue
            if w[i] != 0.0:
                agg[i] = nc
                p[i] = 1.0 if w[i] > 0.0 else -1.0
                nc += 1
            else:
                agg[i] = 0
                p[i] = 0.0
    return np.asarray(agg), np.asarray(p), int(nc)


def _compose(const long long[::1] agg1, const double[::1] p1,
             const long long[::1] agg2, const double[::1] p2):
    """The product ``P1 P2`` of two one-non-zero-per-row prolongators."""
    cdef Py_ssize_t n = agg1.shape[0]
    cdef long long[::1] agg = np.empty(n, dtype=np.int64)
    cdef double[::1] p = np.empty(n, dtype=np.float64)
    cdef Py_ssize_t i
    cdef double value
    with nogil:
        for i in range(n):
            value = p1[i] * p2[agg1[i]]
            if value == 0.0:
                agg[i] = 0
                p[i] = 0.0
            else:
                agg[i] = agg2[agg1[i]]
                p[i] = value
    return np.asarray(agg), np.asarray(p)


def _restrict(const long long[::1] agg, const double[::1] p, const double[::1] w,
              Py_ssize_t n_coarse):
    """``P^T w``, summed in vertex order."""
    cdef Py_ssize_t n = agg.shape[0]
    cdef double[::1] out = np.zeros(n_coarse, dtype=np.float64)
    cdef Py_ssize_t i
    with nogil:
        for i in range(n):
            if p[i] != 0.0:
                out[agg[i]] += p[i] * w[i]
    return np.asarray(out)


cdef Py_ssize_t _PARALLEL_MIN_COARSE = 10000


def _galerkin(const long long[::1] indptr, const long long[::1] indices,
              const double[::1] data, const long long[::1] agg,
              const double[::1] p, Py_ssize_t n_coarse, int n_threads=1):
    """``P^T A P`` as CSR arrays (sorted indices, exactly symmetric).

    Coarse rows are independent: with ``n_threads > 1`` (and at least
    ``_PARALLEL_MIN_COARSE`` of them) they are built in a ``prange``, each
    into its own slot of the output, so the result does not depend on the
    thread count.

    Returns
    -------
    indptr, indices, data : ndarrays (int64, int64, float64)
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t I, J, m, q, tid
    cdef long long i
    cdef int nt = n_threads if n_coarse >= _PARALLEL_MIN_COARSE else 1
    if nt < 1:
        nt = 1
    # Members of every aggregate (rows with p = 0 are left out), and for each
    # coarse row a slot as long as its members' rows (a bound on its length).
    cdef long long[::1] mptr = np.zeros(n_coarse + 1, dtype=np.int64)
    cdef long long[::1] bptr = np.zeros(n_coarse + 1, dtype=np.int64)
    cdef long long[::1] fill = np.empty(n_coarse, dtype=np.int64)
    cdef long long[::1] members
    cdef long long n_members = 0
    for i in range(n):
        if p[i] != 0.0:
            n_members += 1
    members = np.empty(n_members, dtype=np.int64)
    with nogil:
        for i in range(n):
            if p[i] != 0.0:
                mptr[agg[i] + 1] += 1
                bptr[agg[i] + 1] += indptr[i + 1] - indptr[i]
        for I in range(n_coarse):
            mptr[I + 1] += mptr[I]
            bptr[I + 1] += bptr[I]
            fill[I] = mptr[I]
        for i in range(n):
            if p[i] != 0.0:
                members[fill[agg[i]]] = i
                fill[agg[i]] += 1
    # Upper triangle of every coarse row, in its slot.
    cdef long long[::1] ucol = np.empty(max(bptr[n_coarse], 1), dtype=np.int64)
    cdef double[::1] uval = np.empty(max(bptr[n_coarse], 1), dtype=np.float64)
    cdef long long[::1] count = np.zeros(n_coarse, dtype=np.int64)
    cdef long long[:, ::1] marker = np.full((nt, max(n_coarse, 1)), -1, dtype=np.int64)
    cdef double[:, ::1] acc = np.zeros((nt, max(n_coarse, 1)), dtype=np.float64)
    if nt > 1:
        for I in prange(n_coarse, nogil=True, schedule="static", num_threads=nt):
            tid = threadid()
            count[I] = _upper_row(I, mptr, members, indptr, indices, data, agg, p,
                                  marker[tid], acc[tid], ucol, uval, bptr[I])
    else:
        with nogil:
            for I in range(n_coarse):
                count[I] = _upper_row(I, mptr, members, indptr, indices, data, agg,
                                      p, marker[0], acc[0], ucol, uval, bptr[I])
    # Mirror: row I holds its lower entries (columns < I, ascending) first.
    cdef long long[::1] cptr = np.zeros(n_coarse + 1, dtype=np.int64)
    cdef long long[::1] lower_count = np.zeros(n_coarse, dtype=np.int64)
    with nogil:
        for I in range(n_coarse):
            for q in range(bptr[I], bptr[I] + count[I]):
                if ucol[q] > I:
                    lower_count[ucol[q]] += 1
        for I in range(n_coarse):
            cptr[I + 1] = cptr[I] + lower_count[I] + count[I]
    cdef long long[::1] cind = np.empty(cptr[n_coarse], dtype=np.int64)
    cdef double[::1] cval = np.empty(cptr[n_coarse], dtype=np.float64)
    with nogil:
        for I in range(n_coarse):
            fill[I] = cptr[I]
        for I in range(n_coarse):
            for q in range(bptr[I], bptr[I] + count[I]):
                J = ucol[q]
                if J > I:
                    cind[fill[J]] = I
                    cval[fill[J]] = uval[q]
                    fill[J] += 1
        for I in range(n_coarse):
            for q in range(bptr[I], bptr[I] + count[I]):
                cind[fill[I]] = ucol[q]
                cval[fill[I]] = uval[q]
                fill[I] += 1
    return np.asarray(cptr), np.asarray(cind), np.asarray(cval)


cdef long long _upper_row(Py_ssize_t I, const long long[::1] mptr,
                          const long long[::1] members,
                          const long long[::1] indptr,
                          const long long[::1] indices, const double[::1] data,
                          const long long[::1] agg, const double[::1] p,
                          long long[::1] marker, double[::1] acc,
                          long long[::1] ucol, double[::1] uval,
                          long long start) noexcept nogil:
    """Columns ``J >= I`` of coarse row ``I``, sorted, written from ``start``.

    ``marker``/``acc`` are the calling thread's work arrays (``marker[J] ==
    I`` marks a column already seen in this row). Returns the row length.
    """
    cdef long long n_row = 0, i, j, J, k
    cdef Py_ssize_t m, e
    for m in range(mptr[I], mptr[I + 1]):
        i = members[m]
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if p[j] == 0.0:
                continue
            J = agg[j]
            if J < I:
                continue
            if marker[J] != I:
                marker[J] = I
                acc[J] = 0.0
                ucol[start + n_row] = J
                n_row += 1
            acc[J] += p[i] * data[e] * p[j]
    if n_row > 1:
        _sort_ll(&ucol[start], n_row)
    for k in range(n_row):
        uval[start + k] = acc[ucol[start + k]]
    return n_row


cdef void _sort_ll(long long* a, Py_ssize_t length) noexcept nogil:
    """In-place ascending sort (insertion sort for short runs, else heapsort)."""
    cdef Py_ssize_t i, j, start, end, root, child
    cdef long long key, tmp
    if length < 32:
        for i in range(1, length):
            key = a[i]
            j = i - 1
            while j >= 0 and a[j] > key:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = key
        return
    # Heapsort.
    start = length // 2 - 1
    while start >= 0:
        _sift(a, start, length)
        start -= 1
    end = length - 1
    while end > 0:
        tmp = a[0]
        a[0] = a[end]
        a[end] = tmp
        _sift(a, 0, end)
        end -= 1


cdef inline void _sift(long long* a, Py_ssize_t root, Py_ssize_t length) noexcept nogil:
    cdef Py_ssize_t child
    cdef long long tmp
    while True:
        child = 2 * root + 1
        if child >= length:
            return
        if child + 1 < length and a[child + 1] > a[child]:
            child += 1
        if a[root] >= a[child]:
            return
        tmp = a[root]
        a[root] = a[child]
        a[child] = tmp
        root = child
