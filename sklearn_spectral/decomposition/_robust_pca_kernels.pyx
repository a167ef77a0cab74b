# cython: boundscheck=False, wraparound=False, cdivision=True
"""Row loops of RobustPCA: weighted selection and the soft filter.

Everything else RobustPCA computes is BLAS (NumPy / SciPy), so BLAS threads
follow threadpoolctl. These loops are serial O(n) passes; no BLAS is called
from here.
"""

import numpy as np

from cython cimport floating
from libcpp.utility cimport pair
from libcpp.vector cimport vector


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


def weighted_upper_tail(floating[::1] values, floating[::1] weights, double target):
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
    cdef Py_ssize_t n = values.shape[0], i, lo, hi, mid
    cdef vector[pair[double, double]] buf
    cdef double total_sum = 0.0, tail_sum = 0.0, need = target
    cdef double wsum, vsum, max_value = -np.inf, boundary
    cdef SksGreaterFirst comp
    if weights.shape[0] != n:
        raise ValueError("values and weights differ in length")
    with nogil:
        buf.reserve(n)
        for i in range(n):
            if weights[i] > 0:
                buf.push_back(pair[double, double](values[i], weights[i]))
                total_sum += weights[i] * values[i]
                if values[i] > max_value:
                    max_value = values[i]
        boundary = max_value
        lo = 0
        hi = <Py_ssize_t> buf.size()
        while need > 0 and lo < hi:
            mid = lo + (hi - lo) // 2
            nth_element(buf.begin() + lo, buf.begin() + mid, buf.begin() + hi, comp)
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
            tail_sum += vsum
            boundary = buf[mid].first
            if buf[mid].second >= need:
                tail_sum += need * buf[mid].first
                need = 0.0
                break
            need -= buf[mid].second
            tail_sum += buf[mid].second * buf[mid].first
            lo = mid + 1
    return boundary, tail_sum, total_sum, max_value


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


def apply_stored_filter(double[:, ::1] proj, double thr, double tau_max,
                        double[::1] weights):
    """Multiply weights by one stored filter round: ``1 - (tau - thr)_+ / span``.

    ``tau_i = ||proj_i||^2`` is the sketched score of row ``i`` (``proj`` holds
    ``Z (x_i - m)`` as rows) and ``span = tau_max - thr``; the factor is
    clipped to [0, 1]. ``weights`` is updated in place.

    Parameters
    ----------
    proj : ndarray of shape (n, b), float64, C-contiguous
    thr, tau_max : float
        Threshold and largest score of the stored round (``tau_max > thr``).
    weights : ndarray of shape (n,), float64
    """
    cdef Py_ssize_t n = proj.shape[0], b = proj.shape[1], i, j
    cdef double span = tau_max - thr, tau, f
    if weights.shape[0] != n:
        raise ValueError("proj and weights differ in length")
    if not span > 0:
        raise ValueError("tau_max must exceed thr")
    with nogil:
        for i in range(n):
            tau = 0.0
            for j in range(b):
                tau += proj[i, j] * proj[i, j]
            if tau > thr:
                f = 1.0 - (tau - thr) / span
                if f < 0:
                    f = 0.0
                weights[i] *= f
