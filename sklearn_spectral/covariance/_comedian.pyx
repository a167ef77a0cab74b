# distutils: language = c++
"""Order-statistic kernels of :mod:`sklearn_spectral.covariance`.

``_comedian`` computes the comedian matrix ``COM_jk = median_i(z_ij z_ik)``
(``j <= k``) of a centred data matrix given as its transpose ``ZT`` (``p x n``,
C-contiguous), one ``std::nth_element`` selection per pair of columns. The
``p (p + 1) / 2`` pairs are flattened and shared out by a ``prange`` with a
dynamic schedule; every thread mallocs one length-``n`` buffer inside the
parallel block, so the memory is ``n_threads * n`` values and never ``n p^2``.

For the robust shrinkage intensity the same selection also yields, in each half
of the partitioned buffer, the order statistics ``n/2 - h`` and ``n/2 + h``
(a distribution-free 95% interval of the median), from which the caller reads
a standard error as ``(y_hi - y_lo) / (2 * 1.96)``.

``_row_median_mad`` gives, per row of a ``p x n`` array, the median and the
median of the squared deviations from it (a squared MAD), in parallel over rows.

Every selection over ``n >= 4096`` values first brackets the ranks it needs
by a systematic sample of about ``4 sqrt(n)`` of them, packs the values inside
the bracket in one branch-free pass and selects among those only; the values
are exact order statistics either way.

``_row_distances`` gives the Euclidean distances of the rows of an ``n x p``
array to a point (the pass of each Weiszfeld iteration), in parallel over rows.

Medians of an even number of values are the mean of the two middle ones, as
:func:`numpy.median` computes them: ``(a + b) / 2`` in the input precision.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.math cimport sqrt

import numpy as np


cdef extern from "<algorithm>" namespace "std" nogil:
    void nth_element[Iter](Iter first, Iter nth, Iter last)


cdef inline floating _max_of(const floating* buf, Py_ssize_t length) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating best = buf[0]
    for i in range(1, length):
        if buf[i] > best:
            best = buf[i]
    return best


cdef inline double _order_stats(
    floating* v, Py_ssize_t c, Py_ssize_t base, Py_ssize_t n,
    Py_ssize_t lo, Py_ssize_t hi, bint compute_se,
    double* out_lo, double* out_hi,
) noexcept nogil:
    """Median (and ranks lo, hi) of n values of which v[0:c] hold the global
    ranks base .. base + c - 1, in any order. The caller guarantees that every
    rank needed lies in that range. Returns the median."""
    cdef Py_ssize_t mid = n // 2 - base
    cdef Py_ssize_t rl, rh
    cdef floating upper, lower, med
    nth_element(v, v + mid, v + c)
    upper = v[mid]
    if n % 2 == 1:
        med = upper
    else:
        # the lower middle is the largest value before mid
        lower = _max_of(v, mid)
        med = (lower + upper) / 2
    if compute_se:
        rl = lo - base
        rh = hi - base
        if rl < mid:
            nth_element(v, v + rl, v + mid)
        if rh > mid:
            nth_element(v + mid + 1, v + rh, v + c)
        out_lo[0] = v[rl]
        out_hi[0] = v[rh]
    return med


cdef inline bint _sample_bracket(
    floating* sample, Py_ssize_t m, Py_ssize_t n, Py_ssize_t r_min,
    Py_ssize_t r_max, floating* va, floating* vb,
) noexcept nogil:
    """Values va <= vb that likely bracket the ranks r_min .. r_max of n values,
    from a systematic sample of m of them (reordered in place). False when the
    sample is too small to bracket them with a margin of about 2 sqrt(m)."""
    cdef Py_ssize_t d = 2 * <Py_ssize_t> sqrt(<double> m) + 2
    cdef Py_ssize_t s_lo = (r_min * m) // n - d
    cdef Py_ssize_t s_hi = (r_max * m) // n + 1 + d
    if s_lo < 0 or s_hi >= m:
        return False
    nth_element(sample, sample + s_lo, sample + m)
    va[0] = sample[s_lo]
    nth_element(sample + s_lo + 1, sample + s_hi, sample + m)
    vb[0] = sample[s_hi]
    return True


cdef inline double _pair_stats(
    const floating* a, const floating* b, Py_ssize_t n,
    floating* buf, floating* sample, Py_ssize_t stride, Py_ssize_t m,
    Py_ssize_t lo, Py_ssize_t hi, bint compute_se,
    double* out_lo, double* out_hi,
) noexcept nogil:
    """Median of a[i] * b[i] (and the order statistics of ranks lo, hi).

    For large n a systematic sample of m products brackets the ranks needed;
    one branch-free pass counts the products below the bracket and packs those
    inside it, and the selection runs on the packed values only. When the
    bracket misses (rare), the full selection runs. Either way the values are
    exact order statistics of the products."""
    cdef Py_ssize_t i, t, below, count, r_min, r_max
    cdef floating y, va, vb
    if compute_se:
        r_min = lo
        r_max = hi
    else:
        r_min = (n - 1) // 2
        r_max = n // 2
    if m > 0:
        for t in range(m):
            sample[t] = a[t * stride] * b[t * stride]
        if _sample_bracket(sample, m, n, r_min, r_max, &va, &vb):
            below = 0
            count = 0
            for i in range(n):
                y = a[i] * b[i]
                below += y < va
                buf[count] = y
                count += (y >= va) & (y <= vb)
            if below <= r_min and r_max < below + count:
                return _order_stats(
                    buf, count, below, n, lo, hi, compute_se, out_lo, out_hi
                )
    for i in range(n):
        buf[i] = a[i] * b[i]
    return _order_stats(buf, n, 0, n, lo, hi, compute_se, out_lo, out_hi)


cdef inline floating _median_of(
    const floating* a, floating c, bint squared, Py_ssize_t n,
    floating* buf, floating* sample, Py_ssize_t stride, Py_ssize_t m,
) noexcept nogil:
    """Median of the values a[i], or of (a[i] - c)^2 when squared, bracketed
    by a systematic sample of m of them as in _pair_stats (m = 0: no sample).
    """
    cdef Py_ssize_t i, t, below, count
    cdef Py_ssize_t r_min = (n - 1) // 2
    cdef Py_ssize_t r_max = n // 2
    cdef floating y, va, vb
    cdef double unused
    if m > 0:
        for t in range(m):
            y = a[t * stride]
            if squared:
                y = (y - c) * (y - c)
            sample[t] = y
        if _sample_bracket(sample, m, n, r_min, r_max, &va, &vb):
            below = 0
            count = 0
            if squared:
                for i in range(n):
                    y = (a[i] - c) * (a[i] - c)
                    below += y < va
                    buf[count] = y
                    count += (y >= va) & (y <= vb)
            else:
                for i in range(n):
                    y = a[i]
                    below += y < va
                    buf[count] = y
                    count += (y >= va) & (y <= vb)
            if below <= r_min and r_max < below + count:
                return <floating> _order_stats(
                    buf, count, below, n, 0, 0, False, &unused, &unused
                )
    for i in range(n):
        y = a[i]
        if squared:
            y = (y - c) * (y - c)
        buf[i] = y
    return <floating> _order_stats(buf, n, 0, n, 0, 0, False, &unused, &unused)


# Below this many values the full selection is used directly.
cdef Py_ssize_t _SAMPLE_MIN_N = 4096


cdef inline Py_ssize_t _sample_stride(Py_ssize_t n) noexcept:
    """Stride of the systematic sample of n values: about 4 sqrt(n) of them
    (at least 1000), or 0 (no sample) below _SAMPLE_MIN_N values."""
    if n < _SAMPLE_MIN_N:
        return 0
    return max(1, n // max(1000, <Py_ssize_t> (4.0 * sqrt(<double> n))))


def _comedian(const floating[:, ::1] ZT, Py_ssize_t h, bint compute_se, int n_threads):
    """Comedian matrix of the rows of ``ZT`` and, optionally, order statistics
    bracketing each entry.

    Parameters
    ----------
    ZT : ndarray of shape (p, n), float32 or float64, C-contiguous
        Centred data, transposed.
    h : int
        Half-width in ranks of the order-statistic interval (used when
        ``compute_se``).
    compute_se : bool
        Also return the order statistics of ranks ``(n - 1) // 2 - h`` and
        ``n // 2 + h`` (0-based, clipped to the sample) of each product.
    n_threads : int
        OpenMP threads.

    Returns
    -------
    com : ndarray of shape (p, p), float64
        Symmetric comedian matrix.
    lower, upper : ndarray of shape (p, p), float64
        Those order statistics (zeros when ``compute_se`` is False).
    """
    cdef Py_ssize_t p = ZT.shape[0]
    cdef Py_ssize_t n = ZT.shape[1]
    cdef Py_ssize_t n_pairs = p * (p + 1) // 2
    cdef Py_ssize_t t, j, k, mid, lo, hi, stride, m
    cdef floating* buf
    cdef floating* sample
    cdef double med
    # A flag in memory, not a variable: variables assigned in a parallel block
    # are thread-private.
    failed_arr = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = failed_arr

    if n < 1:
        raise ValueError("_comedian: ZT must have at least one column (sample).")
    pj_arr = np.empty(n_pairs, dtype=np.intp)
    pk_arr = np.empty(n_pairs, dtype=np.intp)
    t = 0
    for j in range(p):
        for k in range(j, p):
            pj_arr[t] = j
            pk_arr[t] = k
            t += 1
    cdef Py_ssize_t[::1] pj = pj_arr
    cdef Py_ssize_t[::1] pk = pk_arr

    com_arr = np.zeros((p, p), dtype=np.float64)
    lower_arr = np.zeros((p, p), dtype=np.float64)
    upper_arr = np.zeros((p, p), dtype=np.float64)
    cdef double[:, ::1] com = com_arr
    cdef double[:, ::1] lower = lower_arr
    cdef double[:, ::1] upper = upper_arr

    # ranks symmetric about the median: n - 1 - lo == hi (for any n), so
    # negating a column swaps the two order statistics exactly
    mid = n // 2
    lo = (n - 1) // 2 - h
    if lo < 0:
        lo = 0
    hi = mid + h
    if hi > n - 1:
        hi = n - 1

    stride = _sample_stride(n)
    m = (n - 1) // stride + 1 if stride > 0 else 0

    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> malloc(n * sizeof(floating))
        sample = <floating*> malloc((m + 1) * sizeof(floating))
        if buf == NULL or sample == NULL:
            failed[0] = 1
        for t in prange(n_pairs, schedule="dynamic"):
            if buf == NULL or sample == NULL:
                continue
            j = pj[t]
            k = pk[t]
            med = _pair_stats(
                &ZT[j, 0], &ZT[k, 0], n, buf, sample, stride, m,
                lo, hi, compute_se, &lower[j, k], &upper[j, k],
            )
            com[j, k] = med
            com[k, j] = med
            lower[k, j] = lower[j, k]
            upper[k, j] = upper[j, k]
        free(buf)
        free(sample)

    if failed_arr[0]:
        raise MemoryError(
            f"_comedian: could not allocate a work buffer of {n} values per thread."
        )
    return com_arr, lower_arr, upper_arr


def _row_median_mad(
    const floating[:, ::1] A, int n_threads, bint compute_mad=True
):
    """Per row of ``A``: the median and the median of squared deviations from it.

    Parameters
    ----------
    A : ndarray of shape (p, n), float32 or float64, C-contiguous
        IN: the rows.
    n_threads : int
        OpenMP threads.
    compute_mad : bool, default=True
        Also compute the squared MAD (a second selection per row).

    Returns
    -------
    median : ndarray of shape (p,), float64
    mad2 : ndarray of shape (p,), float64
        ``median_i((a_li - median_l)^2)``, a squared (unscaled) MAD; zeros
        unless ``compute_mad``.
    """
    cdef Py_ssize_t p = A.shape[0]
    cdef Py_ssize_t n = A.shape[1]
    cdef Py_ssize_t l
    cdef Py_ssize_t stride = _sample_stride(n)
    cdef Py_ssize_t m = (n - 1) // stride + 1 if stride > 0 else 0
    cdef floating* buf
    cdef floating* sample
    cdef floating med
    # A flag in memory, not a variable: variables assigned in a parallel block
    # are thread-private.
    failed_arr = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = failed_arr

    if n < 1:
        raise ValueError("_row_median_mad: A must have at least one column.")
    med_arr = np.zeros(p, dtype=np.float64)
    mad_arr = np.zeros(p, dtype=np.float64)
    cdef double[::1] med_out = med_arr
    cdef double[::1] mad_out = mad_arr

    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> malloc(n * sizeof(floating))
        sample = <floating*> malloc((m + 1) * sizeof(floating))
        if buf == NULL or sample == NULL:
            failed[0] = 1
        for l in prange(p, schedule="dynamic"):
            if buf == NULL or sample == NULL:
                continue
            med = _median_of(&A[l, 0], 0, False, n, buf, sample, stride, m)
            med_out[l] = med
            if compute_mad:
                mad_out[l] = _median_of(
                    &A[l, 0], med, True, n, buf, sample, stride, m
                )
        free(buf)
        free(sample)

    if failed_arr[0]:
        raise MemoryError(
            f"_row_median_mad: could not allocate a work buffer of {n} values per "
            "thread."
        )
    return med_arr, mad_arr


def _row_distances(
    const floating[:, :] X, const double[::1] point, double[::1] out,
    int n_threads,
):
    """Euclidean distances of the rows of X to a point, in float64.

    Parameters
    ----------
    X : ndarray of shape (n, p), float32 or float64, any strides
        IN: the rows.
    point : ndarray of shape (p,), float64
        IN: the point.
    out : ndarray of shape (n,), float64
        OUT: ``out[i] = |X[i] - point|``.
    n_threads : int
        OpenMP threads.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t p = X.shape[1]
    cdef Py_ssize_t i, j
    cdef double z, acc
    if point.shape[0] != p or out.shape[0] != n:
        raise ValueError("_row_distances: point or out does not match X.")
    for i in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        acc = 0.0
        for j in range(p):
            z = X[i, j] - point[j]
            acc = acc + z * z
        out[i] = sqrt(acc)
