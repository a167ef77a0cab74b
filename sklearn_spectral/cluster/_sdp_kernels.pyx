"""Projection and low-rank update loops of the SDP clustering solvers.

``_project_rows_simplex`` projects, in place, every row of a stack of ``B``
``n x n`` blocks (row ``i`` of the ``n x Bn`` matrix ``[V_1 | ... | V_B]``)
onto the unit simplex ``{w >= 0, sum(w) = 1}`` with Michelot's algorithm:
the threshold ``tau = (sum_{v_j > tau} v_j - 1) / #{v_j > tau}`` is
recomputed until the active set stops shrinking. It needs no sort and no
buffer, and the result is exact.

``_nlr_step`` takes the projected-gradient step of the nonnegative low-rank
solver in one pass: ``P = max(U - (M + y s^T + 1 t^T) / L, 0)``, together
with the per-thread column sums and squared column norms of ``P``.
``_nlr_rescale`` scales the columns of ``P``, and in the same pass returns
``||P - U||_F^2`` and the row-sum residual ``P (P^T 1) - 1``.

Rows are independent, so every loop is a ``prange`` over rows; none calls
BLAS.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid


cdef inline void _simplex_row(floating[:, :, ::1] V, Py_ssize_t i,
                              Py_ssize_t B, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t b, j, count, new_count
    cdef double total, tau, v
    total = 0.0
    for b in range(B):
        for j in range(n):
            total = total + V[b, i, j]
    count = B * n
    tau = (total - 1.0) / count
    while True:
        total = 0.0
        new_count = 0
        for b in range(B):
            for j in range(n):
                v = V[b, i, j]
                if v > tau:
                    total = total + v
                    new_count = new_count + 1
        # In exact arithmetic the active set only shrinks until it repeats;
        # rounding can lower tau and let entries back in, and a count that
        # does not fall would then cycle: keep the last tau.
        if new_count >= count or new_count == 0:
            break
        count = new_count
        tau = (total - 1.0) / count
    for b in range(B):
        for j in range(n):
            v = V[b, i, j] - tau
            V[b, i, j] = v if v > 0.0 else 0.0


def _project_rows_simplex(floating[:, :, ::1] V, int n_threads):
    """Project row ``i`` of ``[V[0] | ... | V[B-1]]`` onto the simplex, in place."""
    cdef Py_ssize_t B = V.shape[0], n = V.shape[1], i
    if V.shape[2] != n:
        raise ValueError("blocks must be square")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            _simplex_row(V, i, B, n)


def _nlr_step(const floating[:, ::1] U, const floating[:, ::1] M,
              const floating[::1] y, const floating[::1] s,
              const floating[::1] t, double inv_lipschitz,
              floating[:, ::1] out, double[:, ::1] col_sum,
              double[:, ::1] col_sq, int n_threads):
    """``out = max(U - inv_lipschitz * (M + y s^T + 1 t^T), 0)``.

    ``col_sum[thread, :r]`` and ``col_sq[thread, :r]`` (OUT, shape
    ``(n_threads, r + pad)``, zeroed here; the padding keeps the threads'
    rows on different cache lines) receive the column sums and squared
    column norms of ``out`` accumulated by that thread; the caller sums them
    over threads.
    """
    cdef Py_ssize_t n = U.shape[0], r = U.shape[1], i, j
    cdef int n_thr = max(n_threads, 1), tid
    cdef double v
    col_sum[:, :] = 0.0
    col_sq[:, :] = 0.0
    with nogil, parallel(num_threads=n_thr):
        tid = threadid()
        for i in prange(n, schedule="static"):
            for j in range(r):
                v = U[i, j] - inv_lipschitz * (M[i, j] + y[i] * s[j] + t[j])
                if v < 0.0:
                    v = 0.0
                out[i, j] = v
                col_sum[tid, j] += v
                col_sq[tid, j] += v * v


def _nlr_rescale(floating[:, ::1] P, const double[::1] scale,
                 const double[::1] colsum, const floating[:, ::1] U_old,
                 floating[::1] residual, int n_threads):
    """Scale column ``j`` of ``P`` by ``scale[j]``, in place.

    ``colsum`` holds the column sums of the scaled ``P``. Returns
    ``(||P - U_old||_F^2, ||residual||^2)`` with ``residual = P (P^T 1) - 1``
    written to ``residual``.
    """
    cdef Py_ssize_t n = P.shape[0], r = P.shape[1], i, j
    cdef double diff_sq = 0.0, res_sq = 0.0, d, acc, v
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            acc = 0.0
            for j in range(r):
                v = P[i, j] * scale[j]
                P[i, j] = v
                d = v - U_old[i, j]
                diff_sq += d * d
                acc = acc + v * colsum[j]
            acc = acc - 1.0
            residual[i] = acc
            res_sq += acc * acc
    return diff_sq, res_sq


def _min_entry_norm(const floating[:, ::1] Z):
    """``||min(Z, 0)||_F`` without a temporary."""
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1], i, j
    cdef double acc = 0.0, v
    with nogil:
        for i in range(n):
            for j in range(m):
                v = Z[i, j]
                if v < 0.0:
                    acc += v * v
    return acc ** 0.5
