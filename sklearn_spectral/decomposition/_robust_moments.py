"""Weighted moments of the rows and their top eigenpairs, for RobustPCA.

:class:`_DenseMoments` keeps the ``d x d`` weighted second moment and
downdates it by the rows whose weight changed; :class:`_MatrixFreeMoments`
only multiplies by it through ``X`` (sparse ``X`` is never densified). Both
answer the same questions: products ``B U``, the trace, projected rows, and
the top eigenpairs of ``B`` on the complement of the components found so far.
"""

from contextlib import nullcontext

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.utils import gen_batches

from ..utils._threading import (
    _openmp_effective_n_threads,
    run_on_row_ranges,
    single_threaded_blas,
)

# Rows per block when X meets a d x d product (the second moment: blocks of
# about this many entries, 2 MiB in float64, clipped to 1024..16384 rows) or
# a d x p product. A block that stays in cache between its subtraction, its
# weighting and its SYRK makes the pass faster than larger blocks.
_MOMENT_BLOCK_ELEMENTS = 1 << 18
_SCORE_BLOCK = 65536
# Rows per block of the squared projections (a block of 50 columns stays
# within 2 MiB).
_SQUARE_BLOCK = 4096
# Dense moments with at most this many features: products with B and its
# eigensolves on one BLAS thread.
_SMALL_MOMENT = 512
# Dense float64 rows are projected in float32 on directions whose variance
# is at least this share, times d, of the rows' mean squared norm about the
# shift: the float32 errors (about sqrt(d) * 6e-8 of a row's norm) then stay
# below 1e-4 of a typical projection, far below the sampling noise of a
# tail share, and the products take half the time.
_FLOAT32_MIN_VARIANCE = 1e-6
# Dense rows of at most this many entries (a sample's rows; 16 MiB in
# float32) are passed over on one thread, and float64 ones keep their
# float32 shifted copy for every later projection; larger passes run on one
# Python thread per core.
_SMALL_PASS_ENTRIES = 1 << 22
# Dense moments: recompute S1, S2 after this many downdates, so that rounding
# errors of the downdates do not accumulate.
_MAX_DOWNDATES = 10
# Dense moments: top eigenpairs by LAPACK (eigh, subset_by_index) up to this
# many features, by Lanczos (eigsh) above when at most a tenth of the
# spectrum is wanted (where a full tridiagonalisation costs more than Lanczos).
_EIGH_MAX_FEATURES = 1000


def _moment_block_rows(n_features):
    """Rows per block of a pass that accumulates a ``d x d`` product."""
    return int(min(max(_MOMENT_BLOCK_ELEMENTS // max(n_features, 1), 1024), 16384))


def _complement(V, U):
    """``(I - V V^T) U``; ``U`` itself when ``V`` has no columns."""
    if V.shape[1]:
        return U - V @ (V.T @ U)
    return U


def _scaled_moment(S1, S2, W, centered):
    """``B = (S2 - S1 S1^T / W) / (W - 1)`` (no mean term unless centred).

    Symmetrised, so that LAPACK reads the same matrix from either triangle.
    """
    if centered:
        B = S2 - np.outer(S1, S1) / max(W, 1e-300)
    else:
        B = S2.copy()
    B /= max(W - 1.0, 1e-12)
    return 0.5 * (B + B.T)


def _eigh_top(B, V, count, *, symmetrize):
    """Top ``count`` eigenpairs of a symmetric ``B`` on the complement of ``V``.

    ``scipy.linalg.eigh(subset_by_index=...)`` on ``Q^T B Q``, ``Q`` an
    orthonormal basis of the complement (``B`` itself when ``V`` is empty).
    ``symmetrize`` averages ``Q^T B Q`` with its transpose before LAPACK reads
    its lower triangle. Eigenvalues decrease.
    """
    j = V.shape[1]
    if j:
        Q = linalg.qr(V, mode="full")[0][:, j:]
        Bq = Q.T @ B @ Q
        if symmetrize:
            Bq = 0.5 * (Bq + Bq.T)
    else:
        Q, Bq = None, B
    m = Bq.shape[0]
    evals, evecs = linalg.eigh(Bq, subset_by_index=[m - count, m - 1])
    evals, evecs = evals[::-1], evecs[:, ::-1]
    if Q is not None:
        evecs = Q @ evecs
    return evals, evecs


def _lanczos_top(matmat, d, V, count, v0):
    """Top ``count`` eigenpairs of ``P A P`` by Lanczos, ``P = I - V V^T``.

    ``matmat(U)`` returns ``A U`` for a (d, p) block. The start vector is
    ``P v0``, so the result is a deterministic function of ``v0``. The Ritz
    vectors are re-orthonormalised and rotated by a final Rayleigh-Ritz step,
    which keeps them eigenvectors of ``P A P``.
    """

    def mv(u):
        u = _complement(V, np.asarray(u, dtype=np.float64).reshape(d, -1))
        return _complement(V, matmat(u))

    op = LinearOperator((d, d), matvec=mv, matmat=mv, dtype=np.float64)
    start = _complement(V, v0[:, None])[:, 0]
    evals, evecs = eigsh(op, k=count, which="LA", v0=start, tol=0)
    order = np.argsort(-evals)
    evecs = _complement(V, evecs[:, order])
    evecs, _ = linalg.qr(evecs, mode="economic")
    small = evecs.T @ mv(evecs)
    ev, R = linalg.eigh(0.5 * (small + small.T))
    return ev[::-1], evecs @ R[:, ::-1]


def _dense_top(B, V, count, v0):
    """Top ``count`` eigenpairs of a formed symmetric ``B`` off ``span(V)``.

    LAPACK up to ``_EIGH_MAX_FEATURES`` features; above, Lanczos with start
    vector ``v0`` when ``count`` is at most a tenth of the remaining
    dimension. Eigenvalues decrease.
    """
    d, j = B.shape[0], V.shape[1]
    if d > _EIGH_MAX_FEATURES and count <= (d - j) // 10:
        return _lanczos_top(lambda U: B @ U, d, V, count, v0)
    return _eigh_top(B, V, count, symmetrize=True)


class _Moments:
    """Weighted first and second moments of the rows, and products with them.

    Rows are ``x_i - c`` (``c`` a fixed shift taken for conditioning); the
    weighted mean is ``m = S1 / W`` when centred, else 0, and
    ``B = sum_i w_i (x_i - c - m)(x_i - c - m)^T / (W - 1)``.

    Parameters
    ----------
    X : {ndarray, CSR matrix} of shape (n, d)
        Rows; never modified.
    weights : ndarray of shape (n,), float64
        Row weights in [0, 1]; the filter updates them in place, then calls
        :meth:`update`.
    shift : ndarray of shape (d,)
        The shift ``c`` (zero for sparse ``X``).
    centered : bool
        Whether ``B`` is taken about the weighted mean or about ``c``.
    weigh : callable or None, default=None
        When given, ``weights`` are overwritten in the first pass over ``X``
        by ``weigh(rows - c)`` for each block of rows (the weights of filter
        rounds learnt elsewhere), so that no separate pass computes them.
    """

    def __init__(self, X, weights, shift, centered):
        self.X = X
        self.w = weights
        self.c = shift
        self.centered = centered
        self.n, self.d = X.shape
        self.is_sparse = sparse.issparse(X)
        # float32 copy of the shifted rows, kept for small passes
        self._X32 = None

    def small_products(self):
        """Context for products with ``B`` and its eigensolves.

        Every BLAS thread is kept here (the matrix-free products are passes
        over ``X``); :class:`_DenseMoments` narrows it for small ``d``.
        """
        return nullcontext()

    @property
    def W(self):
        return float(self.w.sum())

    def _denom(self):
        return max(self.W - 1.0, 1e-12)

    def mean_shifted(self):
        """The weighted mean of the shifted rows (zeros unless centred)."""
        if not self.centered:
            return np.zeros(self.d)
        return self.S1 / max(self.W, 1e-300)

    def _product(self, U):
        """``X U`` as a float64 array (n, p), in row blocks for dense ``X``."""
        out = np.empty((self.n, U.shape[1]))
        if self.is_sparse:
            out[:] = self.X @ U
        else:
            for rows in gen_batches(self.n, _SCORE_BLOCK):
                out[rows] = self.X[rows] @ U
        return out

    def project(self, U):
        """(x_i - c - m)^T U for every row: array (n, p), float64."""
        off = (self.c + self.mean_shifted()) @ U
        out = self._product(U)
        out -= off
        return out

    def projected_squares(self, U):
        """((x_i - c - m)^T U)**2 for every row: array (n, p).

        float32 where the rows meet ``U`` in float32 (half the memory of the
        array and of the passes over it; the squares keep a relative
        precision of 1e-7, far below the sampling noise of a tail share),
        float64 otherwise. Dense rows go through in blocks small enough that
        the product is shifted and squared while it is still in cache.
        """
        if self.is_sparse:
            out = self.project(U)
            out *= out
            return out
        low = self._float32_products(U)
        out = np.empty((self.n, U.shape[1]), dtype=np.float32 if low else np.float64)

        def square(rows, P):
            np.multiply(P, P, out=out[rows])

        self._dense_projections(U, square, low)
        return out

    def projected_sqnorms(self, U):
        """||U^T (x_i - c - m)||^2 for every row, in row blocks: array (n,)."""
        if self.is_sparse:
            P = self.project(U)
            return np.einsum("ij,ij->i", P, P)
        out = np.empty(self.n)

        def sqnorms(rows, P):
            out[rows] = np.einsum("ij,ij->i", P, P)

        self._dense_projections(U, sqnorms, self._float32_products(U))
        return out

    def _float32_products(self, U):
        """Whether the dense rows meet ``U`` in float32 (float32 rows only, here)."""
        return self.X.dtype == np.float32

    def _pass_threads(self, block_rows):
        """Python threads for a pass over the dense rows in blocks.

        One per core above ``_SMALL_PASS_ENTRIES`` entries, each with at
        least four blocks; one up to it (a sample's rows).
        """
        if self.n * self.d <= _SMALL_PASS_ENTRIES:
            return 1
        return max(1, min(_openmp_effective_n_threads(), self.n // (4 * block_rows)))

    def _dense_projections(self, U, sink, low):
        """Call ``sink(rows, (x_i - c - m)^T U)`` on blocks of dense rows.

        With ``low`` (see :meth:`_float32_products`) the rows meet ``U`` in
        float32 and the projections are float32: float64 rows are shifted by
        ``c`` in float64 before the cast, so that an offset of the data does
        not reach the product. Otherwise float64. Large passes run on threads
        over disjoint rows (:meth:`_pass_threads`).
        """
        m_off = self.mean_shifted() @ U
        block_rows = _SQUARE_BLOCK
        if not low:
            off = self.c @ U + m_off

            def run(start, stop):
                for rows in gen_batches(stop - start, block_rows):
                    rows = slice(start + rows.start, start + rows.stop)
                    sink(rows, np.subtract(self.X[rows] @ U, off))

        elif self.X.dtype == np.float32:
            off = (self.c @ U + m_off).astype(np.float32)
            Ux = U.astype(np.float32)

            def run(start, stop):
                for rows in gen_batches(stop - start, block_rows):
                    rows = slice(start + rows.start, start + rows.stop)
                    P = self.X[rows] @ Ux
                    P -= off
                    sink(rows, P)

        elif self.n * self.d <= _SMALL_PASS_ENTRIES:
            # small (a sample's rows): shifted and cast once, kept
            if self._X32 is None:
                self._X32 = np.subtract(self.X, self.c).astype(np.float32)
            P = self._X32 @ U.astype(np.float32)
            P -= m_off.astype(np.float32)
            sink(slice(0, self.n), P)
            return
        else:
            Ux = U.astype(np.float32)
            off = m_off.astype(np.float32)

            def run(start, stop):
                buf = np.empty((min(block_rows, stop - start), self.d), np.float32)
                for rows in gen_batches(stop - start, block_rows):
                    Xb = buf[: rows.stop - rows.start]
                    rows = slice(start + rows.start, start + rows.stop)
                    np.subtract(self.X[rows], self.c, out=Xb)
                    P = Xb @ Ux
                    P -= off
                    sink(rows, P)

        n_threads = self._pass_threads(block_rows)
        with single_threaded_blas() if n_threads > 1 else nullcontext():
            run_on_row_ranges(run, self.n, n_threads)

    def rows(self, idx):
        """Shifted rows as a dense float64 array."""
        Xr = self.X[idx]
        if self.is_sparse:
            return Xr.toarray() - self.c
        return np.subtract(Xr, self.c, dtype=np.float64)


class _DenseMoments(_Moments):
    """S1, S2 kept in float64; B formed explicitly, downdated by changed rows."""

    def __init__(self, X, weights, shift, centered, weigh=None):
        super().__init__(X, weights, shift, centered)
        self._recompute(weigh)

    def small_products(self):
        """One BLAS thread for products with ``B`` and its eigensolves.

        With ``d`` at most 512 they are small enough that one thread beats
        several (each call wakes and syncs the pool); above, every thread.
        """
        if self.d <= _SMALL_MOMENT:
            return single_threaded_blas()
        return nullcontext()

    def _float32_products(self, U):
        """Whether every column of ``U`` carries enough variance for float32.

        The variance along each column (``u^T B u / u^T u``) must be at least
        ``_FLOAT32_MIN_VARIANCE * d`` times the mean squared norm of the
        shifted rows; directions of smaller variance are projected in
        float64, so that round-off of the large ones does not swamp them.
        """
        if super()._float32_products(U):
            return True
        if self.is_sparse or not U.shape[1]:
            return False
        with self.small_products():
            BU = self.B() @ U
        q = np.einsum("ij,ij->j", U, BU)
        norms = np.einsum("ij,ij->j", U, U)
        m = self.mean_shifted()
        scale = max(self.trace() + float(m @ m), 1e-300)
        return bool(np.all(q >= _FLOAT32_MIN_VARIANCE * self.d * scale * norms))

    def _recompute(self, weigh=None):
        d = self.d
        self.S1 = np.zeros(d)
        self.S2 = np.zeros((d, d))
        w = self.w
        if self.is_sparse:
            # the shift is zero for sparse input
            if weigh is not None:
                w[:] = weigh(self.X)
            Xw = sparse.diags(w) @ self.X
            self.S1 = np.asarray(Xw.sum(axis=0)).ravel()
            S2 = self.X.T @ Xw
            self.S2 = S2.toarray() if sparse.issparse(S2) else np.asarray(S2)
        else:
            # float32 rows stay float32 within a block (half the memory
            # traffic, as PCA's own product); the blocks' sums are float64
            dtype = np.float32 if self.X.dtype == np.float32 else np.float64
            c = self.c.astype(dtype)
            block = _moment_block_rows(d)

            def run(start, stop):
                S1, S2 = np.zeros(d), np.zeros((d, d))
                for rows in gen_batches(stop - start, block):
                    rows = slice(start + rows.start, start + rows.stop)
                    # one subtraction shifts the block (and casts it to
                    # float64 unless it is float32)
                    Xb = np.subtract(self.X[rows], c, dtype=dtype)
                    if weigh is not None:
                        w[rows] = weigh(Xb)
                    wb = w[rows].astype(dtype, copy=False)
                    S1 += wb @ Xb
                    if not np.all(wb == 1.0):
                        Xb *= np.sqrt(wb)[:, None]
                    S2 += Xb.T @ Xb  # SYRK
                return S1, S2

            # large passes: one Python thread per core, each on its own rows
            # with single-threaded BLAS, so that the shift, the weights and
            # the sums run in parallel too, not only the SYRK
            n_threads = self._pass_threads(block)
            with single_threaded_blas() if n_threads > 1 else nullcontext():
                parts = run_on_row_ranges(run, self.n, n_threads)
            self.S1 = np.sum([p[0] for p in parts], axis=0)
            self.S2 = np.sum([p[1] for p in parts], axis=0)
        self.n_downdates = 0
        self._B = None

    def update(self, changed, delta):
        """Account for the weight changes ``delta`` (<= 0) of rows ``changed``."""
        if changed.size == 0:
            return
        if self.n_downdates >= _MAX_DOWNDATES or changed.size > self.n // 4:
            self._recompute()
            return
        # weights only decrease: S2 -= Y^T Y with Y = sqrt(-delta) * rows (SYRK),
        # gathered in blocks of changed rows
        for block in gen_batches(changed.size, _moment_block_rows(self.d)):
            Xr = self.rows(changed[block])
            dl = delta[block]
            self.S1 += dl @ Xr
            Xr *= np.sqrt(np.maximum(-dl, 0.0))[:, None]
            self.S2 -= Xr.T @ Xr
        self.n_downdates += 1
        self._B = None

    def B(self):
        if self._B is None:
            self._B = _scaled_moment(self.S1, self.S2, self.W, self.centered)
        return self._B

    def matmat(self, U):
        return self.B() @ U

    def trace(self):
        return float(np.trace(self.B()))

    def top(self, V, count, v0):
        """Top ``count`` eigenpairs of B restricted to the complement of V."""
        return _dense_top(self.B(), V, count, v0)


class _MatrixFreeMoments(_Moments):
    """Only products B U = (X~^T (w o X~ U) - W m m^T U) / (W - 1)."""

    def __init__(self, X, weights, shift, centered, weigh=None):
        super().__init__(X, weights, shift, centered)
        # squared norms of the shifted rows, for tr B
        if self.is_sparse:
            self.sqnorms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
            if weigh is not None:
                weights[:] = weigh(X)
        else:
            self.sqnorms = np.empty(self.n)
            for rows in gen_batches(self.n, _SCORE_BLOCK):
                Xb = np.asarray(X[rows], dtype=np.float64) - shift
                self.sqnorms[rows] = np.einsum("ij,ij->i", Xb, Xb)
                if weigh is not None:
                    weights[rows] = weigh(Xb)
        self._refresh()

    def _refresh(self):
        self.S1 = self._rmatvec(self.w[:, None])[:, 0]

    def _matvec(self, U):
        """X~ U, (n, p)."""
        out = self._product(U)
        out -= self.c @ U
        return out

    def _rmatvec(self, Y):
        """X~^T Y, (d, p)."""
        if self.is_sparse:
            out = np.asarray(self.X.T @ Y)
        else:
            out = np.zeros((self.d, Y.shape[1]))
            for rows in gen_batches(self.n, _SCORE_BLOCK):
                out += self.X[rows].T @ Y[rows]
        out -= np.outer(self.c, Y.sum(axis=0))
        return out

    def update(self, changed, delta):
        """Account for changed weights (only ``S1`` is stored)."""
        if changed.size:
            self._refresh()

    def matmat(self, U):
        U = np.asarray(U, dtype=np.float64)
        Y = self._matvec(U)
        Y *= self.w[:, None]
        out = self._rmatvec(Y)
        if self.centered:
            m = self.mean_shifted()
            out -= self.W * np.outer(m, m @ U)
        return out / self._denom()

    def trace(self):
        tot = float(self.w @ self.sqnorms)
        if self.centered:
            m = self.mean_shifted()
            tot -= self.W * float(m @ m)
        return tot / self._denom()

    def top(self, V, count, v0):
        """Top ``count`` eigenpairs of B restricted to the complement of V.

        Lanczos, unless nearly the whole complement is wanted: then ``B`` is
        formed from ``d`` products.
        """
        d, j = self.d, V.shape[1]
        if count >= d - j - 1:
            B = self.matmat(np.eye(d))
            return _eigh_top(0.5 * (B + B.T), V, count, symmetrize=False)
        return _lanczos_top(self.matmat, d, V, count, v0)
