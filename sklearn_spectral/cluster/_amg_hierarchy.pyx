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
    Rows are not sorted: nothing downstream needs it, and sorting would be a
    large share of the product's time.
"""

from cython.parallel cimport prange
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


def _coarse_perm(const long long[::1] perm, const long long[::1] agg,
                 const double[::1] p, Py_ssize_t n_coarse):
    """Tie-break keys of coarse vertices: the rank of their smallest member key.

    ``perm`` is a permutation of ``range(n)``; the ranks come from one pass
    over its values (no sort). Coarse vertices without members rank last,
    in index order.
    """
    cdef Py_ssize_t n = perm.shape[0]
    cdef long long[::1] keys = np.full(max(n_coarse, 1), n, dtype=np.int64)
    cdef long long[::1] owner = np.full(max(n, 1), -1, dtype=np.int64)
    cdef long long[::1] rank = np.empty(n_coarse, dtype=np.int64)
    cdef Py_ssize_t i, I
    cdef long long r = 0
    with nogil:
        for i in range(n):
            if p[i] != 0.0 and perm[i] < keys[agg[i]]:
                keys[agg[i]] = perm[i]
        for I in range(n_coarse):
            if keys[I] < n:
                owner[keys[I]] = I
        for i in range(n):
            if owner[i] >= 0:
                rank[owner[i]] = r
                r += 1
        for I in range(n_coarse):
            if keys[I] == n:
                rank[I] = r
                r += 1
    return np.asarray(rank)


cdef Py_ssize_t _PARALLEL_MIN_COARSE = 10000


def _galerkin(const long long[::1] indptr, const long long[::1] indices,
              const double[::1] data, const long long[::1] agg,
              const double[::1] p, Py_ssize_t n_coarse, int n_threads=1):
    """``P^T A P`` as CSR arrays (exactly symmetric, no duplicates).

    Row ``I`` holds its columns ``J < I`` in ascending order, then the
    others in the order they are met. Coarse rows are split into
    ``n_threads`` contiguous blocks of about equal work (with at least
    ``_PARALLEL_MIN_COARSE`` rows; one block otherwise); each thread builds
    the upper triangle of its block's rows and scatters its mirror image
    into slots counted per thread and column, so the output does not depend
    on the thread count.

    Returns
    -------
    indptr, indices, data : ndarrays (int64, int64, float64)
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t I, J, t
    cdef long long i, total
    cdef int nt = n_threads if n_coarse >= _PARALLEL_MIN_COARSE else 1
    if nt < 1:
        nt = 1
    # Members of every aggregate (rows with p = 0 are left out), and for each
    # coarse row a slot as long as its members' rows (a bound on its length).
    cdef long long[::1] mptr = np.zeros(n_coarse + 1, dtype=np.int64)
    cdef long long[::1] bptr = np.zeros(n_coarse + 1, dtype=np.int64)
    cdef long long[::1] fill = np.empty(max(n_coarse, 1), dtype=np.int64)
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
    # Blocks of rows [bounds[t], bounds[t + 1]) with about equal slot sizes.
    cdef long long[::1] bounds = np.empty(nt + 1, dtype=np.int64)
    bounds[0] = 0
    I = 0
    for t in range(1, nt):
        while I < n_coarse and bptr[I] * nt < bptr[n_coarse] * t:
            I += 1
        bounds[t] = I
    bounds[nt] = n_coarse
    # Upper triangle of every coarse row in its slot; mirror counts per
    # thread: lower[t, J] entries (I, J), J > I, from block t.
    cdef long long[::1] ucol = np.empty(max(bptr[n_coarse], 1), dtype=np.int64)
    cdef double[::1] uval = np.empty(max(bptr[n_coarse], 1), dtype=np.float64)
    cdef long long[::1] count = np.empty(max(n_coarse, 1), dtype=np.int64)
    cdef long long[:, ::1] marker = np.full((nt, max(n_coarse, 1)), -1, dtype=np.int64)
    cdef double[:, ::1] acc = np.empty((nt, max(n_coarse, 1)), dtype=np.float64)
    cdef long long[:, ::1] lower = np.zeros((nt, max(n_coarse, 1)), dtype=np.int64)
    for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
        _upper_block(t, bounds, mptr, members, indptr, indices, data, agg, p,
                     marker[t], acc[t], ucol, uval, bptr, count, lower[t])
    # Row J: its mirrored entries (sum over t of lower[t, J]), then its
    # count[J] upper ones; lower[t, J] becomes the first slot of block t's
    # entries in row J.
    cdef long long[::1] cptr = np.empty(n_coarse + 1, dtype=np.int64)
    with nogil:
        cptr[0] = 0
        for J in range(n_coarse):
            total = cptr[J]
            for t in range(nt):
                i = lower[t, J]
                lower[t, J] = total
                total += i
            fill[J] = total  # where row J's upper entries start
            cptr[J + 1] = total + count[J]
    cdef long long[::1] cind = np.empty(cptr[n_coarse], dtype=np.int64)
    cdef double[::1] cval = np.empty(cptr[n_coarse], dtype=np.float64)
    for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
        _mirror_block(t, bounds, bptr, count, ucol, uval, fill, lower[t], cind, cval)
    return np.asarray(cptr), np.asarray(cind), np.asarray(cval)


cdef void _upper_block(Py_ssize_t t, const long long[::1] bounds,
                       const long long[::1] mptr, const long long[::1] members,
                       const long long[::1] indptr, const long long[::1] indices,
                       const double[::1] data, const long long[::1] agg,
                       const double[::1] p, long long[::1] marker, double[::1] acc,
                       long long[::1] ucol, double[::1] uval,
                       const long long[::1] bptr, long long[::1] count,
                       long long[::1] lower) noexcept nogil:
    """Upper rows of block ``t`` and the block's mirror counts per column."""
    cdef Py_ssize_t I, q
    cdef long long J
    for I in range(bounds[t], bounds[t + 1]):
        count[I] = _upper_row(I, mptr, members, indptr, indices, data, agg, p,
                              marker, acc, ucol, uval, bptr[I])
        for q in range(bptr[I], bptr[I] + count[I]):
            J = ucol[q]
            if J > I:
                lower[J] += 1


cdef void _mirror_block(Py_ssize_t t, const long long[::1] bounds,
                        const long long[::1] bptr, const long long[::1] count,
                        const long long[::1] ucol, const double[::1] uval,
                        const long long[::1] upper_start, long long[::1] slot,
                        long long[::1] cind, double[::1] cval) noexcept nogil:
    """Block ``t``: copy its upper rows, scatter their mirror images.

    ``slot[J]`` is the next free place of the block's entries in row ``J``;
    blocks come in row order, so row ``J``'s mirrored columns ascend.
    """
    cdef Py_ssize_t I, q, dst
    cdef long long J
    for I in range(bounds[t], bounds[t + 1]):
        dst = upper_start[I]
        for q in range(bptr[I], bptr[I] + count[I]):
            J = ucol[q]
            cind[dst] = J
            cval[dst] = uval[q]
            dst += 1
            if J > I:
                cind[slot[J]] = I
                cval[slot[J]] = uval[q]
                slot[J] += 1


cdef long long _upper_row(Py_ssize_t I, const long long[::1] mptr,
                          const long long[::1] members,
                          const long long[::1] indptr,
                          const long long[::1] indices, const double[::1] data,
                          const long long[::1] agg, const double[::1] p,
                          long long[::1] marker, double[::1] acc,
                          long long[::1] ucol, double[::1] uval,
                          long long start) noexcept nogil:
    """Columns ``J >= I`` of coarse row ``I``, written from ``start``.

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
    for k in range(n_row):
        uval[start + k] = acc[ucol[start + k]]
    return n_row
