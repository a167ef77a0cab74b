"""Smoothers, V-cycles and the bootstrap test iterations of bootstrap AMG.

A hierarchy is a Python list of :class:`_Level` objects, finest first. Each
level holds its operator (CSR, int64 indices, float64), its diagonal and its
l1 diagonal ``d_i = sum_j |a_ij|``, the prolongator ``(agg, p)`` to the next
level and work vectors; the coarsest level holds a dense Cholesky factor
(``scipy.linalg.cho_factor``, lower, Fortran order) when it has at most
``_DIRECT_MAX`` unknowns, else it is relaxed by 20 Gauss-Seidel sweeps.

V-cycle for ``A x = b`` from the current ``x``: a forward Gauss-Seidel sweep
(or an l1-Jacobi sweep ``x += (b - A x) / d``), restriction of the residual
by ``P^T``, a V-cycle on the coarse level from zero, prolongation and
correction, a backward Gauss-Seidel sweep (or l1-Jacobi): a symmetric
operator. The multiplicative composite applies the V-cycles of several
hierarchies to the current iterate in turn.

``_bootstrap_step`` runs the ``test_iterations`` composite iterations of one
bootstrap step on ``A x = 0`` in a single call. l1-Jacobi and the residuals
are parallel over rows (``prange``, static schedule: every row is computed by
one thread, the result does not depend on the thread count); Gauss-Seidel and
energy norms are sequential. ``_CompositeSolver`` (the preconditioner of the
Ritz refinement) runs its right-hand sides on several threads instead, each
V-cycle on one thread with work vectors of its own.
"""

from cython.parallel cimport prange
from libc.math cimport sqrt
from scipy.linalg.cython_lapack cimport dpotrs

import numpy as np

cdef Py_ssize_t _PARALLEL_MIN_ROWS = 20000

cdef int _COARSE_SWEEPS = 20
_DIRECT_MAX = 2000

SMOOTHERS = {"gauss_seidel": 0, "l1_jacobi": 1}


cdef class _Level:
    """One level of a hierarchy (see the module docstring)."""
    cdef public Py_ssize_t n, n_coarse
    cdef public bint coarsest, direct
    cdef long long[::1] indptr, indices, agg
    cdef double[::1] data, diag, l1, p
    cdef double[::1] b, x, r
    cdef double[::1, :] chol

    def __init__(self, indptr, indices, data, agg=None, p=None, n_coarse=0,
                 chol=None):
        # The arrays are used as they are: int64 indices, float64 values.
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.n = self.indptr.shape[0] - 1
        self.coarsest = agg is None
        self.n_coarse = n_coarse
        if not self.coarsest:
            self.agg = agg
            self.p = p
        self.direct = chol is not None
        if self.direct:
            self.chol = np.asfortranarray(chol, dtype=np.float64)
        diag = np.zeros(self.n, dtype=np.float64)
        l1 = np.zeros(self.n, dtype=np.float64)
        _diagonals(self.indptr, self.indices, self.data, diag, l1)
        self.diag = diag
        self.l1 = l1
        self.b = np.zeros(self.n, dtype=np.float64)
        self.x = np.zeros(self.n, dtype=np.float64)
        self.r = np.zeros(self.n, dtype=np.float64)

    def with_own_work(self):
        """This level's operator (shared, not copied) with work vectors of its own.

        V-cycles of copies made this way may run at the same time.
        """
        cdef _Level level = _Level.__new__(_Level)
        level.n, level.n_coarse = self.n, self.n_coarse
        level.coarsest, level.direct = self.coarsest, self.direct
        level.indptr, level.indices, level.data = self.indptr, self.indices, self.data
        level.diag, level.l1 = self.diag, self.l1
        if not self.coarsest:
            level.agg, level.p = self.agg, self.p
        if self.direct:
            level.chol = self.chol
        level.b = np.zeros(self.n, dtype=np.float64)
        level.x = np.zeros(self.n, dtype=np.float64)
        level.r = np.zeros(self.n, dtype=np.float64)
        return level


cdef void _diagonals(const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] data, double[::1] diag,
                     double[::1] l1) noexcept nogil:
    cdef Py_ssize_t i, e
    for i in range(indptr.shape[0] - 1):
        for e in range(indptr[i], indptr[i + 1]):
            if indices[e] == i:
                diag[i] += data[e]
            l1[i] += data[e] if data[e] >= 0 else -data[e]


cdef void _gauss_seidel(_Level L, const double[::1] b, double[::1] x,
                        bint forward) noexcept nogil:
    cdef Py_ssize_t n = L.n, t, i, e
    cdef long long j
    cdef double s
    for t in range(n):
        i = t if forward else n - 1 - t
        s = b[i]
        for e in range(L.indptr[i], L.indptr[i + 1]):
            j = L.indices[e]
            if j != i:
                s -= L.data[e] * x[j]
        x[i] = s / L.diag[i]


cdef void _residual(_Level L, const double[::1] b, const double[::1] x,
                    double[::1] r, int n_threads) noexcept nogil:
    cdef Py_ssize_t n = L.n, i, e
    cdef double s
    if n >= _PARALLEL_MIN_ROWS and n_threads > 1:
        for i in prange(n, schedule="static", num_threads=n_threads):
            s = b[i]
            for e in range(L.indptr[i], L.indptr[i + 1]):
                s = s - L.data[e] * x[L.indices[e]]
            r[i] = s
    else:
        for i in range(n):
            s = b[i]
            for e in range(L.indptr[i], L.indptr[i + 1]):
                s = s - L.data[e] * x[L.indices[e]]
            r[i] = s


cdef void _l1_jacobi(_Level L, const double[::1] b, double[::1] x,
                     int n_threads) noexcept nogil:
    cdef Py_ssize_t n = L.n, i
    _residual(L, b, x, L.r, n_threads)
    if n >= _PARALLEL_MIN_ROWS and n_threads > 1:
        for i in prange(n, schedule="static", num_threads=n_threads):
            x[i] += L.r[i] / L.l1[i]
    else:
        for i in range(n):
            x[i] += L.r[i] / L.l1[i]


cdef void _coarse_solve(_Level L, const double[::1] b, double[::1] x) noexcept nogil:
    cdef int n = <int> L.n, nrhs = 1, info = 0
    cdef char uplo = b'L'
    cdef Py_ssize_t i, _sweep
    if L.direct:
        _residual(L, b, x, L.r, 1)
        dpotrs(&uplo, &n, &nrhs, &L.chol[0, 0], &n, &L.r[0], &n, &info)
        for i in range(L.n):
            x[i] += L.r[i]
    else:
        for _sweep in range(_COARSE_SWEEPS // 2):
            _gauss_seidel(L, b, x, True)
            _gauss_seidel(L, b, x, False)


cdef void _vcycle(list levels, Py_ssize_t k, double[::1] b, double[::1] x,
                  int smoother, int n_threads):
    cdef _Level L = levels[k]
    cdef _Level C
    cdef Py_ssize_t i
    if L.coarsest:
        with nogil:
            _coarse_solve(L, b, x)
        return
    C = levels[k + 1]
    with nogil:
        if smoother == 0:
            _gauss_seidel(L, b, x, True)
        else:
            _l1_jacobi(L, b, x, n_threads)
        _residual(L, b, x, L.r, n_threads)
        for i in range(C.n):
            C.b[i] = 0.0
            C.x[i] = 0.0
        for i in range(L.n):
            if L.p[i] != 0.0:
                C.b[L.agg[i]] += L.p[i] * L.r[i]
    _vcycle(levels, k + 1, C.b, C.x, smoother, n_threads)
    with nogil:
        for i in range(L.n):
            if L.p[i] != 0.0:
                x[i] += L.p[i] * C.x[L.agg[i]]
        if smoother == 0:
            _gauss_seidel(L, b, x, False)
        else:
            _l1_jacobi(L, b, x, n_threads)


cdef double _energy(_Level L, const double[::1] x) noexcept nogil:
    """``sqrt(x^T A x)``, summed sequentially in row order."""
    cdef Py_ssize_t i, e
    cdef double s, total = 0.0
    for i in range(L.n):
        s = 0.0
        for e in range(L.indptr[i], L.indptr[i + 1]):
            s += L.data[e] * x[L.indices[e]]
        total += x[i] * s
    return sqrt(total) if total > 0.0 else 0.0


def _bootstrap_step(list hierarchies, double[::1] x, int n_iter, int smoother,
                    int n_threads):
    """``n_iter`` multiplicative composite iterations on ``A x = 0``.

    Updates ``x`` in place; after every iteration ``x`` is rescaled to unit
    energy norm.

    Returns
    -------
    rho : float
        Ratio of the energy norms of the last two iterates (inf if ``n_iter``
        is 0, 0 if the iterate vanished).
    energy : float
        Energy norm of the last iterate before its rescaling (0 if it
        vanished; ``x`` then holds that zero vector).
    n_vcycles : int
        Number of V-cycles applied.
    """
    cdef list levels
    cdef _Level fine = hierarchies[0][0]
    cdef double[::1] zero = np.zeros(fine.n, dtype=np.float64)
    cdef double e_old, e_new, rho = float("inf")
    cdef Py_ssize_t _it, n_vcycles = 0
    cdef Py_ssize_t i
    e_old = _energy(fine, x)
    e_new = e_old
    for _it in range(n_iter):
        for levels in hierarchies:
            _vcycle(levels, 0, zero, x, smoother, n_threads)
            n_vcycles += 1
        e_new = _energy(fine, x)
        rho = e_new / e_old if e_old > 0.0 else 0.0
        if e_new == 0.0:
            break
        # The iteration is linear: rescaling to unit energy changes neither
        # the ratios nor the direction, and keeps fast decay from underflowing.
        for i in range(fine.n):
            x[i] /= e_new
        e_old = 1.0
    return rho, e_new, n_vcycles


def _composite_columns(list hierarchies, double[:, ::1] B, double[:, ::1] X,
                       object rows, int smoother, int n_threads):
    """Composite iterations from zero on the given rows of ``B`` into ``X``."""
    cdef list levels
    cdef Py_ssize_t j
    for j in rows:
        for levels in hierarchies:
            _vcycle(levels, 0, B[j], X[j], smoother, n_threads)


cdef class _CompositeSolver:
    """The multiplicative composite of ``hierarchies`` as a preconditioner.

    ``solve(B)`` runs one composite iteration from zero per row of ``B``
    (shape ``(m, n)``) and returns the ``(m, n)`` approximate solutions of
    ``A x = b``. With ``n_threads > 1`` and several right-hand sides,
    ``min(n_threads, m)`` threads take one row each in turn, on copies of the
    hierarchies with work vectors of their own (the V-cycles hold no GIL,
    and each runs on one thread): every row gets the same operations as on
    one thread. The copies and the thread pool are made on first need and
    kept for later calls; ``close()`` ends the pool.
    """
    cdef list copies
    cdef int smoother, n_threads
    cdef object pool

    def __init__(self, list hierarchies, int smoother, int n_threads):
        self.copies = [hierarchies]
        self.smoother = smoother
        self.n_threads = max(n_threads, 1)
        self.pool = None

    def solve(self, double[:, ::1] B):
        from concurrent.futures import ThreadPoolExecutor

        cdef Py_ssize_t m = B.shape[0]
        cdef double[:, ::1] X = np.zeros((m, B.shape[1]), dtype=np.float64)
        cdef int workers = min(self.n_threads, m)
        cdef list hierarchies = self.copies[0]
        if workers <= 1:
            _composite_columns(hierarchies, B, X, range(m), self.smoother,
                               self.n_threads)
            return np.asarray(X)
        while len(self.copies) < workers:
            self.copies.append([[level.with_own_work() for level in levels]
                                for levels in hierarchies])
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=self.n_threads)
        jobs = [self.pool.submit(_composite_columns, self.copies[t], B, X,
                                 range(t, m, workers), self.smoother, 1)
                for t in range(workers)]
        for job in jobs:
            job.result()
        return np.asarray(X)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
