# cython: boundscheck=False, wraparound=False, cdivision=True
"""Row loops of RobustPCA: weighted selection and the soft filter.

Everything else RobustPCA computes is BLAS (NumPy / SciPy), so BLAS threads
follow threadpoolctl. These loops are O(n) passes, serial but for the tail
shares of many columns (a ``prange`` over columns); no BLAS is called from
here.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport free, malloc
from libcpp.utility cimport pair


cdef extern from *:
    """
    #include <utility>
    struct SksGreaterFirst {
        bool operator()(const std::pair<double, double>& a,
                        const std::pair<double, double>& b) const {
            return a.first > b.first;
        }
    };
    """
    cdef cppclass SksGreaterFirst:
        pass


cdef extern from "<algorithm>" namespace "std" nogil:
    void nth_element[Iter, Compare](Iter first, Iter nth, Iter last, Compare comp)


ctypedef pair[double, double] ValueWeight

# Rows read to bracket the quantile of a tail selection, and the margin (in
# standard errors of the sampled weight share) on either side of it, so that
# the bracket almost always holds the quantile.
cdef Py_ssize_t _PIVOT_SAMPLE = 8192
cdef double _PIVOT_MARGIN = 5.0
# Candidates a bracketed column may keep, as a share of the rows (the
# bracket spans about 2 * 5 standard errors of a share sampled on 2048 to
# 8192 rows, at most 0.09 of the weight).
cdef double _BRACKET_SHARE = 0.15


cdef void _select_upper(ValueWeight* buf, Py_ssize_t size, double need,
                        double* boundary, double* tail_sum) noexcept nogil:
    """Weighted quickselect of the largest values of ``buf`` holding ``need``.

    Adds their weighted sum to ``tail_sum`` (the last row fractionally) and
    sets ``boundary`` to the value where the weight is reached; ``buf`` is
    reordered.
    """
    cdef Py_ssize_t lo = 0, hi = size, mid, i
    cdef double wsum, vsum
    cdef SksGreaterFirst comp
    while need > 0 and lo < hi:
        mid = lo + (hi - lo) // 2
        nth_element(buf + lo, buf + mid, buf + hi, comp)
        # buf[lo:mid] >= buf[mid] >= buf[mid+1:hi]
        wsum = 0.0
        vsum = 0.0
        for i in range(lo, mid):
            wsum += buf[i].second
            vsum += buf[i].second * buf[i].first
        if wsum >= need:
            hi = mid
            continue
        need -= wsum
        tail_sum[0] += vsum
        boundary[0] = buf[mid].first
        if buf[mid].second >= need:
            tail_sum[0] += need * buf[mid].first
            return
        need -= buf[mid].second
        tail_sum[0] += buf[mid].second * buf[mid].first
        lo = mid + 1


cdef void _bracket(const floating* values, Py_ssize_t stride,
                   const double* weights, Py_ssize_t n, Py_ssize_t size,
                   double share, ValueWeight* buf, double* lo,
                   double* hi) noexcept nogil:
    """Values ``lo <= hi`` around the weighted upper ``share``-quantile of a column.

    Read off about ``size`` evenly spaced rows of the column (``values[i *
    stride]``) into ``buf``, at the share plus and minus ``_PIVOT_MARGIN``
    standard errors of a sampled share, so that the quantile almost always
    lies between them; -inf / +inf where a bound would fall outside the
    rows. ``hi`` may be NULL (only the lower bound is wanted).
    """
    cdef Py_ssize_t step = max((n + size - 1) // size, 1), i = 0, m = 0
    cdef double total = 0.0, acc = 0.0, margin, want_lo, want_hi
    lo[0] = -INFINITY
    if hi != NULL:
        hi[0] = INFINITY
    while i < n:
        if weights[i] > 0:
            buf[m].first = values[i * stride]
            buf[m].second = weights[i]
            total += weights[i]
            m += 1
        i += step
    if m < 64:
        return
    margin = _PIVOT_MARGIN * sqrt(share * (1.0 - share) / m) + 2.0 / m
    want_lo = (share + margin) * total
    want_hi = (share - margin) * total
    # weighted selections, O(m) each
    if want_lo < total:
        _select_upper(buf, m, want_lo, lo, &acc)
    if hi != NULL and want_hi > 0:
        _select_upper(buf, m, want_hi, hi, &acc)
        # rows at the value itself may belong to either side
        if hi[0] <= lo[0]:
            hi[0] = INFINITY


cdef void _upper_tail(const floating* values, Py_ssize_t stride, const double* weights,
                      Py_ssize_t n, double target, double weight_sum,
                      ValueWeight* buf, double* out) noexcept nogil:
    """``out = (boundary, tail_sum, total_sum, max_value)`` of one column.

    Only rows at or above a sampled pivot enter the selection; if they hold
    less than ``target`` the selection runs on every row, so the result is
    exact either way.
    """
    cdef Py_ssize_t i, m
    cdef double piv = -INFINITY, total, vmax, cand, v
    cdef double boundary, tail_sum = 0.0
    if target > 0 and weight_sum > 0:
        # a value below the quantile, almost surely
        _bracket(values, stride, weights, n, _PIVOT_SAMPLE, target / weight_sum,
                 buf, &piv, NULL)
    while True:
        m = 0
        total = 0.0
        cand = 0.0
        vmax = -INFINITY
        for i in range(n):
            if weights[i] > 0:
                v = values[i * stride]
                total += weights[i] * v
                if v > vmax:
                    vmax = v
                if v >= piv:
                    buf[m].first = v
                    buf[m].second = weights[i]
                    cand += weights[i]
                    m += 1
        if cand >= target or piv == -INFINITY:
            break
        piv = -INFINITY
    boundary = vmax
    _select_upper(buf, m, target, &boundary, &tail_sum)
    out[0] = boundary
    out[1] = tail_sum
    out[2] = total
    out[3] = vmax


def weighted_upper_tail(const double[::1] values, const double[::1] weights,
                        double target):
    """Largest values holding ``target`` of the weight, by weighted quickselect.

    Rows with zero weight are ignored. The rows are ranked by decreasing value
    and taken until their weight reaches ``target``; the last one counts
    fractionally.

    Parameters
    ----------
    values : ndarray of shape (n,)
    weights : ndarray of shape (n,), non-negative
    target : float
        Weight to collect (e.g. ``2 * eps * W``).

    Returns
    -------
    boundary : float
        Value of the row where the weight reaches ``target`` (the weighted
        upper ``target``-quantile); the largest value when ``target <= 0``.
    tail_sum : float
        ``sum w_i v_i`` over the collected rows (last one fractionally).
    total_sum : float
        ``sum w_i v_i`` over all rows.
    max_value : float
        Largest value among rows with positive weight.
    """
    cdef Py_ssize_t n = values.shape[0], i
    cdef double out[4]
    cdef double weight_sum = 0.0
    if weights.shape[0] != n:
        raise ValueError("values and weights differ in length")
    cdef ValueWeight* buf = <ValueWeight*> malloc(
        max(n, _PIVOT_SAMPLE) * sizeof(ValueWeight)
    )
    if buf == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n):
            if weights[i] > 0:
                weight_sum += weights[i]
        _upper_tail(&values[0] if n else NULL, 1, &weights[0] if n else NULL,
                    n, target, weight_sum, buf, out)
    free(buf)
    return out[0], out[1], out[2], out[3]


cdef int _tail_pass(const floating* values, Py_ssize_t p, const double* weights,
                    Py_ssize_t n, Py_ssize_t j0, Py_ssize_t j1, const double* lo,
                    const double* hi, double* totals, double* tail_w,
                    double* tail_sum, double* cand_w, Py_ssize_t* counts,
                    ValueWeight* cand, Py_ssize_t cap) noexcept nogil:
    """The pass of ``weighted_tail_shares`` over columns ``j0:j1``; 1 if out of memory.

    For each column: the weighted sum of all values, the weight and weighted
    sum of those above ``hi``, and the values in ``[lo, hi]`` (with their
    weights, into the column's ``cap + 1`` slots of ``cand``). The sums of a
    row over the columns are branch-free (and vectorise); past ``cap``
    candidates a column's writes go to a spare slot, and its count tells the
    caller to redo it. The sums run in arrays of this call's own, written
    out at the end, so that threads on neighbouring columns do not share
    cache lines.
    """
    cdef Py_ssize_t m = j1 - j0, i, j, c
    cdef double wi, v, above
    cdef int inside
    cdef const floating* row
    cdef double* acc = <double*> malloc(4 * m * sizeof(double))
    cdef Py_ssize_t* cnt = <Py_ssize_t*> malloc(m * sizeof(Py_ssize_t))
    cdef double* tot
    cdef double* tw
    cdef double* ts
    cdef double* cw
    if acc == NULL or cnt == NULL:
        free(acc)
        free(cnt)
        return 1
    tot, tw, ts, cw = acc, acc + m, acc + 2 * m, acc + 3 * m
    for j in range(4 * m):
        acc[j] = 0.0
    for j in range(m):
        cnt[j] = 0
    lo += j0
    hi += j0
    cand += j0 * (cap + 1)
    for i in range(n):
        wi = weights[i]
        if wi > 0:
            row = values + i * p + j0
            for j in range(m):
                v = row[j]
                above = wi if v > hi[j] else 0.0
                tot[j] += wi * v
                tw[j] += above
                ts[j] += above * v
            for j in range(m):
                v = row[j]
                inside = (v >= lo[j]) & (v <= hi[j])
                c = min(cnt[j], cap)
                cand[j * (cap + 1) + c].first = v
                cand[j * (cap + 1) + c].second = wi
                cnt[j] += inside
                cw[j] += inside * wi
    for j in range(m):
        totals[j0 + j] = tot[j]
        tail_w[j0 + j] = tw[j]
        tail_sum[j0 + j] = ts[j]
        cand_w[j0 + j] = cw[j]
        counts[j0 + j] = cnt[j]
    free(acc)
    free(cnt)
    return 0


def weighted_tail_shares(const floating[:, ::1] values, const double[::1] weights,
                         double target, int n_threads):
    """Tail share ``tail_sum / total_sum`` of every column (see weighted_upper_tail).

    Each column is bracketed from a sample of rows (``lo <= quantile <=
    hi``); one pass over the rows (all columns together, in memory order)
    then sums the rows above ``hi`` and keeps those in ``[lo, hi]``, and the
    selection runs on the kept rows only. A column whose bracket misses
    falls back to the selection on every row, so the result is exact either
    way. The brackets and selections of the columns are shared out by a
    ``prange``.

    Parameters
    ----------
    values : ndarray of shape (n, p)
        One column per direction (squared projections), float32 or float64
        (sums in float64).
    weights : ndarray of shape (n,), non-negative
    target : float
        Weight of the tail window.
    n_threads : int

    Returns
    -------
    shares : ndarray of shape (p,)
        0 for a column whose weighted sum is not positive.
    """
    cdef Py_ssize_t n = values.shape[0], p = values.shape[1], i, j
    cdef Py_ssize_t cap, t, j0, j1, n_chunks
    cdef double weight_sum = 0.0, need, boundary
    cdef ValueWeight* buf
    cdef ValueWeight* cand
    cdef double out[4]
    if weights.shape[0] != n:
        raise ValueError("values and weights differ in length")
    shares_arr = np.zeros(p)
    if n == 0 or p == 0:
        return shares_arr
    lo_arr = np.full(p, -np.inf)
    hi_arr = np.full(p, np.inf)
    totals_arr = np.zeros(p)
    tail_w_arr = np.zeros(p)
    tail_sum_arr = np.zeros(p)
    cand_w_arr = np.zeros(p)
    counts_arr = np.zeros(p, dtype=np.intp)
    cdef double[::1] shares = shares_arr, lo = lo_arr, hi = hi_arr
    cdef double[::1] totals = totals_arr, tail_w = tail_w_arr
    cdef double[::1] tail_sum = tail_sum_arr, cand_w = cand_w_arr
    cdef Py_ssize_t[::1] counts = counts_arr
    cdef double* lo_p = &lo[0]
    cdef double* hi_p = &hi[0]
    cdef double* tot_p = &totals[0]
    cdef double* tw_p = &tail_w[0]
    cdef double* ts_p = &tail_sum[0]
    cdef double* cw_p = &cand_w[0]
    cdef Py_ssize_t* cnt_p = &counts[0]
    # set by any thread that could not allocate its work array
    fail_arr = np.zeros(1, dtype=np.intc)
    cdef int[::1] fail = fail_arr
    with nogil:
        for i in range(n):
            if weights[i] > 0:
                weight_sum += weights[i]
    if not (target > 0 and weight_sum > 0):
        cap = n
    else:
        cap = min(n, <Py_ssize_t> (n * _BRACKET_SHARE) + 64)
    cand = <ValueWeight*> malloc(p * (cap + 1) * sizeof(ValueWeight))
    if cand == NULL:
        raise MemoryError()
    try:
        with nogil:
            if cap < n:
                with parallel(num_threads=n_threads):
                    buf = <ValueWeight*> malloc(_PIVOT_SAMPLE * sizeof(ValueWeight))
                    for j in prange(p, schedule="dynamic"):
                        # every thread enters the loop; one without its buffer
                        # leaves its columns unbracketed, and the selection
                        # below then runs on all their rows
                        if buf != NULL:
                            # at most an eighth of the rows, so that the
                            # bracket costs little beside the pass over every row
                            _bracket(&values[0, j], p, &weights[0], n,
                                     min(_PIVOT_SAMPLE, max(n // 8, 64)),
                                     target / weight_sum, buf, &lo[j], &hi[j])
                    free(buf)
            # one pass in memory order, each thread over its own range of
            # columns (sums kept in the thread's own arrays: neighbouring
            # columns share cache lines)
            n_chunks = min(n_threads, p)
            for t in prange(n_chunks, num_threads=n_chunks, schedule="static"):
                j0 = t * p // n_chunks
                j1 = (t + 1) * p // n_chunks
                if _tail_pass(&values[0, 0], p, &weights[0], n, j0, j1, lo_p, hi_p,
                              tot_p, tw_p, ts_p, cw_p, cnt_p, cand, cap):
                    fail[0] = 1
            if fail[0]:
                with gil:
                    raise MemoryError()
            with parallel(num_threads=n_threads):
                buf = <ValueWeight*> malloc(max(n, _PIVOT_SAMPLE) * sizeof(ValueWeight))
                for j in prange(p, schedule="dynamic"):
                    if buf == NULL:
                        fail[0] = 1
                    else:
                        need = target - tail_w[j]
                        if (need < 0 or counts[j] > cap
                                or (cand_w[j] < need and lo[j] > -INFINITY)):
                            # the bracket missed: select on every row
                            _upper_tail(&values[0, j], p, &weights[0], n, target,
                                        weight_sum, buf, out)
                            tail_sum[j] = out[1]
                        else:
                            boundary = INFINITY
                            _select_upper(cand + j * (cap + 1), counts[j], need,
                                          &boundary, &tail_sum[j])
                        if totals[j] > 0:
                            shares[j] = tail_sum[j] / totals[j]
                        else:
                            shares[j] = 0.0
                free(buf)
    finally:
        free(cand)
    if fail_arr[0]:
        raise MemoryError()
    return shares_arr


def soft_filter(floating[::1] weights, floating[::1] scores, double thr,
                double tau_max):
    """Down-weight rows by ``w <- w (1 - (tau - thr)_+ / (tau_max - thr))``.

    Updates ``weights`` in place (clipped at 0) and returns the rows whose
    weight changed and by how much.

    Returns
    -------
    changed : ndarray of shape (r,), dtype intp
    delta : ndarray of shape (r,), dtype float64
        New weight minus old weight (<= 0).
    """
    cdef Py_ssize_t n = weights.shape[0], i, r = 0
    cdef double span = tau_max - thr, new_w, f
    changed_arr = np.empty(n, dtype=np.intp)
    delta_arr = np.empty(n, dtype=np.float64)
    cdef Py_ssize_t[::1] changed = changed_arr
    cdef double[::1] delta = delta_arr
    if not span > 0:
        raise ValueError("tau_max must exceed thr")
    with nogil:
        for i in range(n):
            if weights[i] > 0 and scores[i] > thr:
                f = 1.0 - (scores[i] - thr) / span
                if f < 0:
                    f = 0.0
                new_w = weights[i] * f
                delta[r] = new_w - weights[i]
                changed[r] = i
                weights[i] = <floating> new_w
                r += 1
    return changed_arr[:r].copy(), delta_arr[:r].copy()


def apply_stored_filters(const floating[:, ::1] proj, const Py_ssize_t[::1] bounds,
                         const double[::1] thr, const double[::1] tau_max,
                         double[::1] weights, int n_threads=1):
    """Multiply weights by stored filter rounds (``1 - (tau_t - thr_t)_+ / span_t``).

    Round ``t`` holds the columns ``bounds[t]:bounds[t + 1]`` of ``proj``
    (``Z_t (x_i - m_t)`` as rows); ``tau_t = ||proj[i, bounds[t]:bounds[t +
    1]]||^2`` is its sketched score of row ``i`` and ``span_t = tau_max[t] -
    thr[t]``; each factor is clipped to [0, 1]. One pass over the rows
    applies every round. ``weights`` is updated in place.

    Parameters
    ----------
    proj : ndarray of shape (n, b), float32 or float64, C-contiguous
    bounds : ndarray of shape (n_rounds + 1,), dtype intp, non-decreasing
    thr, tau_max : ndarray of shape (n_rounds,)
        Threshold and largest score of each round (``tau_max > thr``).
    weights : ndarray of shape (n,), float64
    n_threads : int, default=1
        Rows are shared out by a ``prange``.
    """
    cdef Py_ssize_t n = proj.shape[0], n_rounds = thr.shape[0], i, j, t
    cdef double tau, f
    if weights.shape[0] != n:
        raise ValueError("proj and weights differ in length")
    if (bounds.shape[0] != n_rounds + 1 or tau_max.shape[0] != n_rounds
            or (n_rounds and (bounds[0] < 0 or bounds[n_rounds] > proj.shape[1]))):
        raise ValueError("bounds, thr and tau_max do not describe the rounds")
    for t in range(n_rounds):
        if not tau_max[t] > thr[t]:
            raise ValueError("tau_max must exceed thr")
        if bounds[t + 1] < bounds[t]:
            raise ValueError("bounds must not decrease")
    with nogil:
        for i in prange(n, num_threads=n_threads, schedule="static"):
            for t in range(n_rounds):
                tau = 0.0
                for j in range(bounds[t], bounds[t + 1]):
                    tau = tau + <double> proj[i, j] * proj[i, j]
                if tau > thr[t]:
                    f = 1.0 - (tau - thr[t]) / (tau_max[t] - thr[t])
                    if f < 0:
                        f = 0.0
                    weights[i] = weights[i] * f
