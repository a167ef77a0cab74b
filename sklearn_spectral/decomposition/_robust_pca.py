"""Outlier-robust PCA by spectral filtering (Diakonikolas, Kane, Pensia, Pittas 2023)."""

import copy
import math
import numbers
import warnings

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import LinearOperator, eigsh
from scipy.stats import norm
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils.validation import check_min_samples
from ._robust_pca_kernels import (
    apply_stored_filter,
    soft_filter,
    weighted_upper_tail,
)

__all__ = ["RobustPCA"]

_NAME = "RobustPCA"
# Blocks of rows when X meets a d x d product (S2: about 2**21 entries, 1024 to
# 16384 rows) or a d x p product (scores).
_MOMENT_BLOCK_ELEMENTS = 1 << 21
_SCORE_BLOCK = 65536
# The coordinatewise median (conditioning only) is taken on at most this many rows.
_MEDIAN_ROWS = 5000
# Dense moments: recompute S1, S2 after this many downdates.
_MAX_DOWNDATES = 10
# 'auto' uses the matrix-free path above this many features.
_AUTO_DENSE_MAX_FEATURES = 4096
# Dense path: top eigenpairs by LAPACK (eigh, subset_by_index) up to this many
# features, by Lanczos (eigsh) above, when at most a tenth of the spectrum is
# wanted (the sizes where a full tridiagonalisation costs more than Lanczos).
_EIGH_MAX_FEATURES = 1000
# Streaming batches hold at least ceil(_STREAM_BATCH_FACTOR / contamination) rows.
_STREAM_BATCH_FACTOR = 50.0
# Rank of the incremental SVD that replaces S2 in matrix-free streaming: k + this.
_STREAM_EXTRA_RANK = 10


def _kappa(eps):
    """Share of E[g^2] held by the largest 2 eps of g^2, g ~ N(0, 1)."""
    z = norm.isf(eps)
    return 2.0 * eps + 2.0 * z * norm.pdf(z)


def _slack_value(slack, eps, n_rows):
    if isinstance(slack, str):  # 'auto'
        return 0.25 * eps * math.log(1.0 / eps) + 1.5 / math.sqrt(max(n_rows, 1))
    return float(slack)


def _cut(eps, slack, n_rows):
    kappa = _kappa(eps)
    return kappa + _slack_value(slack, eps, n_rows) * (1.0 - kappa)


def _sign_flip(components):
    """PCA's sign rule (svd_flip, v-based): largest |entry| of each row positive."""
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(components.shape[0]), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


def _lanczos_top(matmat, d, V, count, v0):
    """Top ``count`` eigenpairs of ``P A P`` by Lanczos, ``P = I - V V^T``.

    ``matmat(U)`` returns ``A U`` for a (d, p) block. The start vector is
    ``P v0``, so the result is a deterministic function of ``v0``. The Ritz
    vectors are re-orthonormalised and rotated by a final Rayleigh-Ritz step.
    """
    j = V.shape[1]

    def proj(U):
        return U - V @ (V.T @ U) if j else U

    def mv(u):
        u = proj(np.asarray(u, dtype=np.float64).reshape(d, -1))
        return proj(matmat(u))

    op = LinearOperator((d, d), matvec=mv, matmat=mv, dtype=np.float64)
    start = proj(v0[:, None])[:, 0]
    evals, evecs = eigsh(op, k=count, which="LA", v0=start, tol=0)
    order = np.argsort(-evals)
    evecs = proj(evecs[:, order])
    evecs, _ = linalg.qr(evecs, mode="economic")
    # Rayleigh-Ritz on the returned basis keeps them eigenvectors.
    small = evecs.T @ mv(evecs)
    ev, R = linalg.eigh(0.5 * (small + small.T))
    return ev[::-1], evecs @ R[:, ::-1]


def _dense_top(B, V, count, v0):
    """Top ``count`` eigenpairs of a symmetric ``B`` on the complement of ``V``.

    ``scipy.linalg.eigh(subset_by_index=...)`` on ``Q^T B Q`` (``Q`` an
    orthonormal basis of the complement) up to ``_EIGH_MAX_FEATURES``
    features; above, ``eigsh`` with start vector ``v0`` when ``count`` is at
    most a tenth of the remaining dimension. Eigenvalues decrease.
    """
    d, j = B.shape[0], V.shape[1]
    if d > _EIGH_MAX_FEATURES and count <= (d - j) // 10:
        return _lanczos_top(lambda U: B @ U, d, V, count, v0)
    if j:
        Q = linalg.qr(V, mode="full")[0][:, j:]
        Bq = Q.T @ B @ Q
        Bq = 0.5 * (Bq + Bq.T)
    else:
        Q, Bq = None, B
    m = Bq.shape[0]
    evals, evecs = linalg.eigh(Bq, subset_by_index=[m - count, m - 1])
    evals, evecs = evals[::-1], evecs[:, ::-1]
    if Q is not None:
        evecs = Q @ evecs
    return evals, evecs


class _Moments:
    """Weighted first and second moments of the rows, and products with them.

    Rows are ``x_i - c`` (``c`` a fixed shift taken for conditioning); the
    weighted mean is ``m = S1 / W`` when centred, else 0, and
    ``B = sum_i w_i (x_i - c - m)(x_i - c - m)^T / (W - 1)``.
    """

    def __init__(self, X, weights, shift, centered):
        self.X = X
        self.w = weights
        self.c = shift
        self.centered = centered
        self.n, self.d = X.shape
        self.is_sparse = sparse.issparse(X)

    # ---- shared ---------------------------------------------------------
    @property
    def W(self):
        return float(self.w.sum())

    def _denom(self):
        return max(self.W - 1.0, 1e-12)

    def _row_blocks(self, size):
        for start in range(0, self.n, size):
            yield start, min(start + size, self.n)

    def project(self, U):
        """(x_i - c - m)^T U for every row: array (n, p), float64."""
        off = (self.c + self.mean_shifted()) @ U
        out = np.empty((self.n, U.shape[1]))
        if self.is_sparse:
            out[:] = self.X @ U
        else:
            for s, e in self._row_blocks(_SCORE_BLOCK):
                out[s:e] = self.X[s:e] @ U
        out -= off
        return out

    def projected_sqnorms(self, U):
        """||U^T (x_i - c - m)||^2 for every row, in row blocks: array (n,)."""
        if self.is_sparse:
            P = self.project(U)
            return np.einsum("ij,ij->i", P, P)
        off = (self.c + self.mean_shifted()) @ U
        out = np.empty(self.n)
        for s, e in self._row_blocks(_SCORE_BLOCK):
            P = self.X[s:e] @ U
            P -= off
            out[s:e] = np.einsum("ij,ij->i", P, P)
        return out

    def rows(self, idx):
        """Shifted rows as a dense float64 array."""
        Xr = self.X[idx]
        if self.is_sparse:
            return Xr.toarray() - self.c
        return np.subtract(Xr, self.c, dtype=np.float64)


class _DenseMoments(_Moments):
    """S1, S2 kept in float64; B formed explicitly, downdated by changed rows."""

    def __init__(self, X, weights, shift, centered):
        super().__init__(X, weights, shift, centered)
        self._recompute()

    def _recompute(self):
        d = self.d
        self.S1 = np.zeros(d)
        self.S2 = np.zeros((d, d))
        w = self.w
        if self.is_sparse:
            Xw = sparse.diags(w) @ self.X
            self.S1 = np.asarray(Xw.sum(axis=0)).ravel()
            S2 = self.X.T @ Xw
            self.S2 = S2.toarray() if sparse.issparse(S2) else np.asarray(S2)
            # c is zero for sparse input
        else:
            rows = int(min(max(_MOMENT_BLOCK_ELEMENTS // max(self.d, 1), 1024), 16384))
            for s, e in self._row_blocks(rows):
                # one subtraction casts the block to float64 and shifts it
                Xb = np.subtract(self.X[s:e], self.c, dtype=np.float64)
                wb = w[s:e]
                self.S1 += wb @ Xb
                if not np.all(wb == 1.0):
                    Xb *= np.sqrt(wb)[:, None]
                self.S2 += Xb.T @ Xb  # SYRK
        self.n_downdates = 0
        self._B = None

    def update(self, changed, delta):
        if changed.size == 0:
            return
        if self.n_downdates >= _MAX_DOWNDATES or changed.size > self.n // 4:
            self._recompute()
            return
        # weights only decrease: S2 -= Y^T Y with Y = sqrt(-delta) * rows (SYRK),
        # gathered in blocks of changed rows
        step = int(min(max(_MOMENT_BLOCK_ELEMENTS // max(self.d, 1), 1024), 16384))
        for s in range(0, changed.size, step):
            Xr = self.rows(changed[s : s + step])
            dl = delta[s : s + step]
            self.S1 += dl @ Xr
            Xr *= np.sqrt(np.maximum(-dl, 0.0))[:, None]
            self.S2 -= Xr.T @ Xr
        self.n_downdates += 1
        self._B = None

    def mean_shifted(self):
        if not self.centered:
            return np.zeros(self.d)
        return self.S1 / max(self.W, 1e-300)

    def B(self):
        if self._B is None:
            W = self.W
            if self.centered:
                B = self.S2 - np.outer(self.S1, self.S1) / max(W, 1e-300)
            else:
                B = self.S2.copy()
            B /= self._denom()
            B = 0.5 * (B + B.T)
            self._B = B
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

    def __init__(self, X, weights, shift, centered):
        super().__init__(X, weights, shift, centered)
        # squared norms of the shifted rows, for tr B
        if self.is_sparse:
            self.sqnorms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        else:
            self.sqnorms = np.empty(self.n)
            for s, e in self._row_blocks(_SCORE_BLOCK):
                Xb = np.asarray(X[s:e], dtype=np.float64) - shift
                self.sqnorms[s:e] = np.einsum("ij,ij->i", Xb, Xb)
        self._refresh()

    def _refresh(self):
        self.S1 = self._rmatvec(self.w[:, None])[:, 0]

    def _matvec(self, U):
        """X~ U, (n, p)."""
        if self.is_sparse:
            out = np.asarray(self.X @ U)
        else:
            out = np.empty((self.n, U.shape[1]))
            for s, e in self._row_blocks(_SCORE_BLOCK):
                out[s:e] = self.X[s:e] @ U
        out -= self.c @ U
        return out

    def _rmatvec(self, Y):
        """X~^T Y, (d, p)."""
        if self.is_sparse:
            out = np.asarray(self.X.T @ Y)
        else:
            out = np.zeros((self.d, Y.shape[1]))
            for s, e in self._row_blocks(_SCORE_BLOCK):
                out += self.X[s:e].T @ Y[s:e]
        out -= np.outer(self.c, Y.sum(axis=0))
        return out

    def update(self, changed, delta):
        if changed.size:
            self._refresh()

    def mean_shifted(self):
        if not self.centered:
            return np.zeros(self.d)
        return self.S1 / max(self.W, 1e-300)

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
        d, j = self.d, V.shape[1]
        if count >= d - j - 1:
            # Too many pairs for Lanczos: form the restricted matrix from d products.
            B = self.matmat(np.eye(d))
            B = 0.5 * (B + B.T)
            if j:
                Q = linalg.qr(V, mode="full")[0][:, j:]
                Bq = Q.T @ B @ Q
            else:
                Q, Bq = None, B
            m = Bq.shape[0]
            evals, evecs = linalg.eigh(Bq, subset_by_index=[m - count, m - 1])
            evals, evecs = evals[::-1], evecs[:, ::-1]
            return evals, (Q @ evecs if Q is not None else evecs)
        return _lanczos_top(self.matmat, d, V, count, v0)


class RobustPCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis that a fraction of outlying rows cannot hijack.

    A filter down-weights the rows that carry an abnormal share of the
    variance along the top directions, until a certificate holds: along each
    returned direction, the heaviest ``2 * contamination`` of the weight holds
    no more of the variance than it would for Gaussian inliers (the
    ``kappa(eps)`` tail test). Rows are scored with a sketched power of the
    weighted second moment, so that outliers spread over many directions are
    removed in a few rounds. A fit costs about one PCA plus a few passes
    over ``X``.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of components; None keeps ``min(n_samples, n_features)``
        (with ``partial_fit``: the rows of the first complete batch).
    contamination : float in (0, 0.25], default=0.1
        Upper bound on the fraction of outlying rows (at most 0.125 with
        ``center='pairs'``). Too large a value is safe and only removes more
        inliers; too small a value is detected by a multi-window check, which
        warns and sets ``certified_`` to False.
    center : {True, False, 'pairs'}, default=True
        True: the mean is the weighted mean of the kept rows, updated every
        round. 'pairs': work on differences of randomly paired rows (zero
        mean, contamination doubled). False: the data are already centred.
    solver : {'auto', 'dense', 'matrix_free'}, default='auto'
        'dense' keeps the ``d x d`` weighted moments and downdates only the
        rows whose weight changed; 'matrix_free' uses products with ``X`` only
        (sparse ``X`` is never densified). 'auto' picks 'matrix_free' for
        sparse ``X`` or more than 4096 features.
    power_iterations : int, default=16
        Depth ``q`` of the matrix-power scores (0 is norm trimming).
    sketch_size : int, default=16
        Rows ``b`` of the Gaussian sketch of the matrix power.
    max_rounds : int, default=50
        Cap on filter rounds; reaching it raises a ``ConvergenceWarning``.
    slack : float >= 0 or 'auto', default='auto'
        Allowance on the body share ``1 - kappa`` of the tail test; 'auto' is
        ``0.25 * eps * ln(1 / eps) + 1.5 / sqrt(n_rows)``.
    components_strategy : {'deflation', 'final_weights'}, default='deflation'
        'deflation' certifies every component (filtering inside the
        complement of the previous ones); 'final_weights' certifies the first
        one only and takes the others from the final weighted moment (cheaper;
        a failed tail test along one of them warns).
    random_state : int, RandomState instance or None, default=None
        Seeds the sketches, the pairing and the Lanczos start vector; drawn
        once per fit.
    verbose : int, default=0
        Print round, removed weight, tail share against the cut and top
        eigenvalue.

    Attributes
    ----------
    components_ : ndarray of shape (`n_components_`, n_features)
        Principal axes of the kept rows, by decreasing variance, with PCA's
        sign convention.
    explained_variance_ : ndarray of shape (`n_components_`,)
        Weighted variance along each component.
    explained_variance_ratio_ : ndarray of shape (`n_components_`,)
        ``explained_variance_`` over the weighted total variance.
    noise_variance_ : float
        Mean weighted variance outside the components (0 when all kept).
    mean_ : ndarray of shape (n_features,)
        Weighted mean (zeros with ``center=False``).
    weights_ : ndarray of shape (n_samples,)
        Final weight of each row in [0, 1] (with ``partial_fit``: rows of the
        last processed batch, or of the provisional fit before the first
        batch is complete).
    support_ : ndarray of shape (n_samples,), dtype bool
        ``weights_ >= 0.5``.
    certified_ : bool
        Whether every tail test passed.
    n_iter_ : int
        One plus the number of filter rounds.
    n_components_ : int
        Number of components.
    n_samples_seen_ : int
        Rows seen by ``fit`` or all ``partial_fit`` calls (rows still in the
        ``partial_fit`` buffer included).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.decomposition.PCA : Ordinary PCA (not robust).
    sklearn.decomposition.IncrementalPCA : Streaming PCA (not robust).
    sklearn.covariance.MinCovDet : Robust covariance for small dimension.

    Notes
    -----
    The tail test is calibrated on Gaussian inliers. Heavy-tailed inliers
    have a fatter clean tail, so some inliers are trimmed and
    ``explained_variance_`` is biased low. With ``center=True`` and no
    weight removed, the weighted moment is the sample covariance, so a fit
    certified in its first round reproduces
    ``PCA(svd_solver='covariance_eigh')`` (components up to sign).

    The dense path keeps two ``d x d`` float64 arrays; a round costs one
    pass over ``X`` for the tail test, one ``n x d x b`` product for the
    scores and ``r d**2`` for the downdate of the ``r`` changed rows. Its
    top eigenpairs come from ``scipy.linalg.eigh(subset_by_index=...)`` up
    to 1000 features and from ``scipy.sparse.linalg.eigsh`` (start vector
    drawn from ``random_state``) above, when at most a tenth of the
    spectrum is wanted.

    ``partial_fit`` buffers rows into batches of at least
    ``ceil(50 / contamination)`` rows (the buffer never holds more), so
    the result does not depend on how the rows are split into calls, only
    on where the batches end. The first batch is the batch fit of its rows.
    Each later batch is weighted by the filter rounds learnt so far, added
    when its own rows pass the tail test, and otherwise filtered, after
    which the moments restart from it. Memory is
    ``O(d**2 + rounds * sketch_size * d + batch * d)``, independent of the
    rows seen; with the matrix-free solver ('auto' above 4096 features) a
    rank-``(n_components + 10)`` incremental SVD of the weighted rows, as in
    :class:`~sklearn.decomposition.IncrementalPCA`, replaces the ``d x d``
    moment, so no ``d x d`` array is formed and the components are those
    of that truncated moment. Guarantees: after the first batch, each
    committed batch passed the tail test on its own rows, and the
    components are those of the weighted moment of the batches since the
    last restart (not the batch fit of all rows). Before the first batch is
    complete the attributes are a provisional batch fit of the buffered
    rows (see :meth:`partial_fit`).

    References
    ----------
    .. [1] I. Diakonikolas, D. M. Kane, A. Pensia, T. Pittas. Nearly-Linear
       Time and Streaming Algorithms for Outlier-Robust PCA. ICML 2023,
       PMLR 202:7886-7921. arXiv:2305.02544.

    Examples
    --------
    >>> from sklearn_spectral.datasets import make_contaminated_gaussian
    >>> from sklearn_spectral.decomposition import RobustPCA
    >>> X, is_outlier, params = make_contaminated_gaussian(
    ...     2000, 20, contamination=0.1, outlier_kind="stealth",
    ...     return_params=True, random_state=0)
    >>> rpca = RobustPCA(n_components=1, random_state=0).fit(X)
    >>> u = params["components"][0]
    >>> bool(abs(rpca.components_[0] @ u) > 0.95)
    True
    >>> rpca.transform(X).shape
    (2000, 1)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "contamination": [Interval(numbers.Real, 0, 0.25, closed="right")],
        "center": ["boolean", StrOptions({"pairs"})],
        "solver": [StrOptions({"auto", "dense", "matrix_free"})],
        "power_iterations": [Interval(numbers.Integral, 0, None, closed="left")],
        "sketch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "slack": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "components_strategy": [StrOptions({"deflation", "final_weights"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        contamination=0.1,
        center=True,
        solver="auto",
        power_iterations=16,
        sketch_size=16,
        max_rounds=50,
        slack="auto",
        components_strategy="deflation",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.contamination = contamination
        self.center = center
        self.solver = solver
        self.power_iterations = power_iterations
        self.sketch_size = sketch_size
        self.max_rounds = max_rounds
        self.slack = slack
        self.components_strategy = components_strategy
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_settings(self, X):
        n, d = X.shape
        eps = float(self.contamination)
        if self.center == "pairs":
            if eps > 0.125:
                raise ValueError(
                    f"{_NAME}: contamination must be in (0, 0.125] with "
                    f"center='pairs' (pairs double it), got {eps}."
                )
            min_rows = 2 * math.ceil(1.0 / (2.0 * eps))
        else:
            min_rows = math.ceil(1.0 / eps - 1e-9)
        check_min_samples(
            n,
            max(min_rows, 2),
            estimator_name=_NAME,
            reason=f"for contamination={self.contamination}",
        )
        k = self.n_components
        limit = min(n, d)
        if k is None:
            k = limit
        elif k > limit:
            raise ValueError(
                f"{_NAME}: n_components={k} must be at most min(n_samples, "
                f"n_features) = {limit}."
            )
        return k

    def _choose_solver(self, X):
        if self.solver != "auto":
            return self.solver
        if sparse.issparse(X) or X.shape[1] > _AUTO_DENSE_MAX_FEATURES:
            return "matrix_free"
        return "dense"

    def _prepare_rows(self, X, rng):
        """Rows the filter runs on, their shift, and the pairing (or None)."""
        if self.center == "pairs":
            n = X.shape[0]
            perm = rng.permutation(n)
            a, b = perm[0 : 2 * (n // 2) : 2], perm[1 : 2 * (n // 2) : 2]
            Y = (X[a] - X[b]) * (1.0 / math.sqrt(2.0))
            if sparse.issparse(Y):
                Y = Y.tocsr()
            else:
                Y = np.ascontiguousarray(Y)
            return Y, np.zeros(X.shape[1]), (a, b)
        if self.center and not sparse.issparse(X):
            n = X.shape[0]
            step = max(1, n // _MEDIAN_ROWS)
            sub = np.asarray(X[::step], dtype=np.float64)
            shift = np.median(np.ascontiguousarray(sub.T), axis=1)
            return X, shift, None
        return X, np.zeros(X.shape[1]), None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the robust principal subspace.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR or CSC sparse matrices use the matrix-free
            path under ``solver='auto'``.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            reset=True,
        )
        if sparse.issparse(X):
            X = X.tocsr()
        k = self._check_settings(X)
        rng = check_random_state(self.random_state)
        if hasattr(self, "_stream"):
            del self._stream
        self._fit_batch(X, k, rng)
        self.n_samples_seen_ = X.shape[0]
        return self

    def _fit_batch(self, X, k, rng, weights=None):
        """Run the filter on X and set the fitted attributes; returns the state."""
        dtype = X.dtype
        solver = self._choose_solver(X)
        rows, shift, pairs = self._prepare_rows(X, rng)
        n_rows, d = rows.shape
        eps = float(self.contamination) * (2.0 if pairs is not None else 1.0)
        w = np.ones(n_rows) if weights is None else np.array(weights, dtype=np.float64)
        centered = self.center is True
        Mom = _DenseMoments if solver == "dense" else _MatrixFreeMoments
        mom = Mom(rows, w, shift, centered)
        v0 = rng.uniform(-1.0, 1.0, size=d)
        result = self._filter(mom, k, eps, n_rows, rng, v0)
        self._set_attributes(X, mom, result, pairs, dtype, k)
        return mom, result

    def _tail_share(self, s, w, eps):
        W = float(w.sum())
        s = np.ascontiguousarray(s, dtype=np.float64)
        _, tail, total, _ = weighted_upper_tail(s, w, 2.0 * eps * W)
        return tail / total if total > 0 else 0.0

    def _filter(self, mom, k, eps, n_rows, rng, v0, filters=None):
        """The filter loop of the spec; returns (V, rounds, certified)."""
        d = mom.d
        cut = _cut(eps, self.slack, n_rows)
        w = mom.w
        V = np.zeros((d, 0))
        rounds = 0
        certified = True
        filtering = True
        state = 0
        cache = None  # [state, j0, evecs, squared projections or None]
        deflation = self.components_strategy == "deflation"
        for j in range(k):
            while True:
                if cache is None or cache[0] != state or cache[1] + cache[2].shape[1] <= j:
                    _, evecs = mom.top(V, min(k - j, d - j), v0)
                    cache = [state, j, evecs, None]
                v = cache[2][:, j - cache[1]]
                if not filtering or (j > 0 and not deflation):
                    break
                if cache[3] is None:
                    # one pass over X scores every direction of this eigensolve
                    cache[3] = mom.project(cache[2])
                    cache[3] *= cache[3]
                s = cache[3][:, j - cache[1]]
                T = self._tail_share(s, w, eps)
                if self.verbose:
                    W = float(w.sum())
                    top = float(v @ mom.matmat(v[:, None])[:, 0])
                    print(
                        f"[{_NAME}] component {j + 1} round {rounds}: removed weight "
                        f"{(n_rows - W) / n_rows:.4f}, tail share {T:.4f} "
                        f"(cut {cut:.4f}), top eigenvalue {top:.4g}"
                    )
                if T <= cut:
                    break
                # ---- one filter round: sketched matrix-power scores
                G = rng.standard_normal((d, self.sketch_size))
                if V.shape[1]:
                    G -= V @ (V.T @ G)
                Z = G
                Z /= max(linalg.norm(Z), 1e-300)
                for _ in range(self.power_iterations):
                    if V.shape[1]:
                        Z = Z - V @ (V.T @ Z)
                    Z = mom.matmat(Z)
                    if V.shape[1]:
                        Z -= V @ (V.T @ Z)
                    Z /= max(linalg.norm(Z), 1e-300)
                m_shift = mom.c + mom.mean_shifted()
                tau = mom.projected_sqnorms(Z)
                W = float(w.sum())
                thr, _, _, tau_max = weighted_upper_tail(tau, w, 2.0 * eps * W)
                if not tau_max > thr:
                    certified, filtering = False, False
                    warnings.warn(
                        f"{_NAME}: the filter scores are flat (largest equals the "
                        "threshold); stopping without a certificate.",
                        UserWarning,
                    )
                    break
                if filters is not None:
                    filters.append((Z.T.copy(), m_shift, thr, tau_max))
                changed, delta = soft_filter(w, tau, thr, tau_max)
                rounds += 1
                mom.update(changed, delta)
                state += 1
                removed = (n_rows - float(w.sum())) / n_rows
                if removed > 4.0 * eps:
                    certified, filtering = False, False
                    warnings.warn(
                        f"{_NAME}: the filter removed {removed:.3f} of the weight, "
                        f"more than 4 * contamination = {4 * eps:.3f}: contamination "
                        "is too small or the inliers are far from Gaussian; "
                        "stopping without a certificate.",
                        UserWarning,
                    )
                    continue
                if rounds >= self.max_rounds:
                    certified, filtering = False, False
                    warnings.warn(
                        f"{_NAME}: reached max_rounds={self.max_rounds} filter "
                        "rounds without a certificate; increase max_rounds.",
                        ConvergenceWarning,
                    )
                    continue
            V = np.hstack([V, v[:, None]])

        # ---- tail tests after the loop
        if filtering:
            if cache is not None and cache[0] == state and cache[3] is not None:
                j0 = cache[1]
                S = np.empty((mom.n, V.shape[1]))
                S[:, j0:] = cache[3][:, : V.shape[1] - j0]
                if j0:
                    S[:, :j0] = mom.project(V[:, :j0])
                    S[:, :j0] *= S[:, :j0]
            else:
                S = mom.project(V)
                S *= S
            if not deflation:
                for j in range(1, V.shape[1]):
                    if self._tail_share(S[:, j], w, eps) > cut:
                        certified = False
                        warnings.warn(
                            f"{_NAME}: component {j + 1} fails the tail test with "
                            "components_strategy='final_weights' (an outlier "
                            "direction may be kept); use 'deflation'.",
                            UserWarning,
                        )
                        break
            e2 = 2.0 * eps
            alarm = False
            # The components were picked for their variance, so on clean data
            # their tails run slightly heavier than a fixed direction's (the
            # second one, a top noise direction, exceeded the plain cut in
            # ~3% of clean fits, by at most 0.003; real alarms exceed it by
            # 0.1 or more): the wider windows get twice the slack.
            while e2 <= 0.25 + 1e-12 and not alarm:
                slack2 = 2.0 * _slack_value(self.slack, e2, n_rows)
                cut2 = _cut(e2, slack2, n_rows)
                for j in range(V.shape[1]):
                    if self._tail_share(S[:, j], w, e2) > cut2:
                        alarm = True
                        break
                e2 *= 2.0
            if alarm:
                certified = False
                warnings.warn(
                    f"{_NAME}: the tail test fails at a wider window: the "
                    "contamination looks larger than the parameter "
                    f"contamination={self.contamination}.",
                    UserWarning,
                )
        return V, rounds, certified

    def _set_attributes(self, X, mom, result, pairs, dtype, k):
        V, rounds, certified = result
        BV = mom.matmat(V)
        M = V.T @ BV
        evals, R = linalg.eigh(0.5 * (M + M.T))
        evals, R = evals[::-1], R[:, ::-1]
        comps = _sign_flip((V @ R).T)
        evals = np.clip(evals, 0.0, None)
        total = mom.trace()
        d = X.shape[1]
        w = mom.w
        if pairs is not None:
            a, b = pairs
            weights = np.ones(X.shape[0])
            weights[a] = w
            weights[b] = w
            wsum = weights.sum()
            mean = np.asarray(weights @ X).ravel() / max(wsum, 1e-300)
        else:
            weights = w.copy()
            mean = mom.c + mom.mean_shifted()
        self.components_ = comps.astype(dtype, copy=False)
        self.explained_variance_ = evals.astype(dtype, copy=False)
        ratio = evals / total if total > 0 else np.zeros_like(evals)
        self.explained_variance_ratio_ = ratio.astype(dtype, copy=False)
        noise = (total - evals.sum()) / (d - k) if k < d else 0.0
        self.noise_variance_ = float(max(noise, 0.0))
        self.mean_ = np.asarray(mean, dtype=dtype)
        self.weights_ = weights.astype(dtype, copy=False)
        self.support_ = weights >= 0.5
        self.n_iter_ = 1 + rounds
        self.certified_ = bool(certified)
        self.n_components_ = k

    # ------------------------------------------------------------- streaming
    def _stream_batch_rows(self):
        """Rows a streaming batch holds at least.

        ``ceil(50 / contamination)``, and enough rows for ``n_components``
        (pairs of rows with ``center='pairs'``).
        """
        rows = int(math.ceil(_STREAM_BATCH_FACTOR / float(self.contamination) - 1e-9))
        if self.n_components is not None:
            rows = max(rows, self.n_components * (2 if self.center == "pairs" else 1))
        return rows

    def _check_stream_settings(self, n_features):
        """Checks of the first partial_fit call that do not depend on its rows."""
        eps = float(self.contamination)
        if self.center == "pairs" and eps > 0.125:
            raise ValueError(
                f"{_NAME}: contamination must be in (0, 0.125] with "
                f"center='pairs' (pairs double it), got {eps}."
            )
        if self.n_components is not None and self.n_components > n_features:
            raise ValueError(
                f"{_NAME}: n_components={self.n_components} must be at most "
                f"n_features = {n_features}."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the fit with more rows (single pass, bounded memory).

        Rows are buffered until a batch of at least
        ``ceil(50 / contamination)`` rows (and ``n_components``) is complete
        (a call that completes it is taken whole: the batch is the buffer
        plus that call's rows).
        The first batch is the batch fit of its rows (same
        ``random_state``, same result). Later batches are weighted by the
        filter rounds learnt so far (stored as sketches), added when their own
        rows pass the tail test along the current top component, and
        otherwise filtered, after which the moments restart from that batch.

        Until the first batch is complete, the fitted attributes are
        provisional: the batch fit (same ``random_state``) of the rows
        buffered at the last refit, which is redone whenever the buffer has
        doubled, so it covers at least half of the buffered rows and
        ``transform`` works after the first call (once it holds
        ``ceil(1 / contamination)`` and ``n_components`` rows). Afterwards
        the attributes describe the processed batches; rows waiting in the
        buffer enter with the next complete batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows, any number per call.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            Updated estimator.
        """
        first = not hasattr(self, "_stream")
        X = validate_data(
            self,
            X,
            accept_sparse=False,
            dtype=[np.float64, np.float32],
            reset=first,
        )
        if first:
            self._check_stream_settings(X.shape[1])
            self._stream = dict(
                rng=check_random_state(self.random_state),
                filters=[],
                restarts=0,
                batch_rows=self._stream_batch_rows(),
                buffer=None,
                n_buffered=0,
                provisional_rows=0,
                started=False,
                lowrank=self._choose_solver(X) == "matrix_free",
            )
            self.n_samples_seen_ = 0
        st = self._stream
        n = X.shape[0]
        self.n_samples_seen_ += n
        if n == 0:
            return self
        nb = st["n_buffered"]
        if nb + n >= st["batch_rows"]:
            batch = X if nb == 0 else np.concatenate([st["buffer"][:nb], X])
            st["n_buffered"] = 0
            self._stream_batch(batch)
            return self
        self._buffer_rows(X)
        if not st["started"]:
            self._provisional_fit()
        return self

    def _buffer_rows(self, X):
        """Append rows to the buffer, grown geometrically up to batch_rows."""
        st = self._stream
        nb, n = st["n_buffered"], X.shape[0]
        buf = st["buffer"]
        dtype = X.dtype if buf is None else np.result_type(buf.dtype, X.dtype)
        if buf is None or buf.shape[0] < nb + n or buf.dtype != dtype:
            size = nb + n if buf is None else max(nb + n, 2 * buf.shape[0])
            size = min(max(size, 64), st["batch_rows"])
            new = np.empty((size, X.shape[1]), dtype=dtype)
            if nb:
                new[:nb] = buf[:nb]
            st["buffer"] = buf = new
        buf[nb : nb + n] = X
        st["n_buffered"] = nb + n

    def _provisional_fit(self):
        """Batch fit of the buffered rows (before the first complete batch).

        Redone only when the buffer has doubled since the last one, so all
        provisional fits together cost about two batch fits. The stream's
        generator is copied, not advanced: the first complete batch gives the
        same result whatever the calls before it.
        """
        st = self._stream
        nb = st["n_buffered"]
        if nb < 2 * st["provisional_rows"]:
            return
        eps = float(self.contamination)
        if self.center == "pairs":
            min_rows = 2 * math.ceil(1.0 / (2.0 * eps))
        else:
            min_rows = math.ceil(1.0 / eps - 1e-9)
        d = st["buffer"].shape[1]
        k = min(nb, d) if self.n_components is None else self.n_components
        if nb < max(min_rows, 2) or k > nb:
            return
        self._fit_batch(st["buffer"][:nb], k, copy.deepcopy(st["rng"]))
        st["provisional_rows"] = nb

    def _stream_batch(self, X):
        """Process one complete batch (at least batch_rows rows)."""
        st = self._stream
        if not st["started"]:
            k = self._check_settings(X)
            self._restart_stream(X, k, weights=None, pairs=None)
            st["started"] = True
            st["buffer"] = None  # refilled lazily, at most batch_rows rows
            st["provisional_rows"] = 0
            return
        k = self.n_components_
        paired = self.center == "pairs"
        centered = self.center is True
        eps = float(self.contamination) * (2.0 if paired else 1.0)
        rows, _, pairs = self._prepare_rows(X, st["rng"])
        Xs = np.subtract(rows, st["shift"], dtype=np.float64)
        # weights of the new rows under the stored filter rounds
        w = np.ones(Xs.shape[0])
        for Zt, mt, thr, tmax in st["filters"]:
            P = Xs @ Zt.T
            P -= (mt - st["shift"]) @ Zt.T
            apply_stored_filter(P, thr, tmax, w)
        np.clip(w, 0.0, 1.0, out=w)
        # tentative moments with the batch added, and their top direction
        if st["lowrank"]:
            new = self._lowrank_merge(Xs, w, centered, k)
            v = new["Vt"][0]
        else:
            S1 = st["S1"] + w @ Xs
            S2 = st["S2"] + (Xs * w[:, None]).T @ Xs
            W = st["W"] + float(w.sum())
            new = dict(S1=S1, S2=S2, W=W)
            B = self._dense_stream_B(new)
            v = _dense_top(B, np.zeros((B.shape[0], 0)), 1, st["v0"])[1][:, 0]
        s = Xs @ v
        if centered:
            s -= (new["S1"] / new["W"]) @ v
        s *= s
        cut = _cut(eps, self.slack, Xs.shape[0])
        if Xs.shape[0] and self._tail_share(s, w, eps) <= cut:
            row_w = self._row_weights(X, w, pairs)
            st.update(new)
            st["R1"] = st["R1"] + row_w @ np.asarray(X, dtype=np.float64)
            st["RW"] = st["RW"] + float(row_w.sum())
            self._stream_attributes(X.dtype, row_w)
            return
        if self.verbose:
            print(f"[{_NAME}] partial_fit: batch failed the tail test; restarting.")
        st["restarts"] += 1
        if min(X.shape) < k or X.shape[0] < 2:
            return
        self._restart_stream(X, k, weights=w, pairs=pairs)

    @staticmethod
    def _row_weights(X, w, pairs):
        if pairs is None:
            return w
        a, b = pairs
        out = np.ones(X.shape[0])
        out[a] = w
        out[b] = w
        return out

    def _dense_stream_B(self, state):
        W = state["W"]
        if self.center is True:
            B = state["S2"] - np.outer(state["S1"], state["S1"]) / max(W, 1e-300)
        else:
            B = state["S2"].copy()
        B /= max(W - 1.0, 1e-12)
        return 0.5 * (B + B.T)

    def _lowrank_merge(self, Xs, w, centered, k):
        """Incremental SVD: the stream's rank-r scatter plus weighted rows.

        The weighted scatter ``C = sum_i w_i (x_i - m)(x_i - m)^T`` (``m = 0``
        unless centred) is kept as ``Vt^T diag(sv**2) Vt`` with ``r = k + 10``
        rows, plus its exact trace. Adding rows with weights ``w`` (mean
        ``m_b``, weight ``W_b``) stacks ``diag(sv) Vt``, the rows
        ``sqrt(w_i) (x_i - m_b)`` and ``sqrt(W W_b / (W + W_b)) (m - m_b)``
        and truncates their thin SVD, as IncrementalPCA does; no ``d x d``
        array is formed.
        """
        st = self._stream
        keep = w > 0
        Y = Xs[keep]
        wk = w[keep]
        Wb = float(wk.sum())
        out = dict(S1=st["S1"] + wk @ Y, W=st["W"] + Wb)
        if Wb <= 0:
            out.update(sv=st["sv"], Vt=st["Vt"], trC=st["trC"])
            return out
        blocks = [st["sv"][:, None] * st["Vt"]]
        # Y is a copy (boolean indexing): centre and scale it in place
        if centered:
            mb = (wk @ Y) / Wb
            Y -= mb
            Y *= np.sqrt(wk)[:, None]
            extra = math.sqrt(st["W"] * Wb / out["W"]) * (st["S1"] / st["W"] - mb)
            blocks += [Y, extra[None, :]]
            trC = st["trC"] + float(np.einsum("ij,ij->", Y, Y)) + float(extra @ extra)
        else:
            Y *= np.sqrt(wk)[:, None]
            blocks.append(Y)
            trC = st["trC"] + float(np.einsum("ij,ij->", Y, Y))
        del Y
        sv, Vt = self._truncated_svd(np.vstack(blocks), k)
        out.update(sv=sv, Vt=Vt, trC=trC)
        return out

    @staticmethod
    def _truncated_svd(A, k):
        """Top ``k + 10`` singular values and right vectors of ``A`` (m, d).

        For a wide ``A`` (m <= d, the streaming case) the left vectors come
        from the ``m x m`` Gram matrix (one SYRK, ``m**2 d``), and the small
        ``r x d`` block ``U^T A`` is then decomposed exactly; no ``d x d`` or
        full ``m x d`` factorisation is formed.
        """
        m, d = A.shape
        r = min(k + _STREAM_EXTRA_RANK, m, d)
        if m <= d:
            G = A @ A.T
            _, U = linalg.eigh(0.5 * (G + G.T), subset_by_index=[m - r, m - 1])
            A = U.T @ A
        _, sv, Vt = linalg.svd(A, full_matrices=False, check_finite=False)
        return sv[:r].copy(), np.ascontiguousarray(Vt[:r])

    def _restart_stream(self, X, k, weights, pairs):
        """Batch fit of X (recording its filter rounds); moments restart from it."""
        st = self._stream
        rng = st["rng"]
        if pairs is None:
            rows, shift, pairs = self._prepare_rows(X, rng)
        else:  # reuse the pairing the weights were computed on
            a, b = pairs
            rows = (X[a] - X[b]) * (1.0 / math.sqrt(2.0))
            shift = np.zeros(X.shape[1])
        n_rows, d = rows.shape
        eps = float(self.contamination) * (2.0 if pairs is not None else 1.0)
        w = np.ones(n_rows) if weights is None else np.array(weights, dtype=np.float64)
        centered = self.center is True
        Mom = _MatrixFreeMoments if st["lowrank"] else _DenseMoments
        mom = Mom(rows, w, shift, centered)
        v0 = rng.uniform(-1.0, 1.0, size=d)
        result = self._filter(mom, k, eps, n_rows, rng, v0, filters=st["filters"])
        self._set_attributes(X, mom, result, pairs, X.dtype, k)
        row_w = self._row_weights(X, mom.w, pairs)
        st.update(
            S1=mom.S1.copy(), W=mom.W, shift=mom.c.copy(), v0=v0,
            R1=row_w @ np.asarray(X, dtype=np.float64), RW=float(row_w.sum()),
        )
        if st["lowrank"]:
            keep = mom.w > 0
            Y = np.subtract(rows[keep], mom.c + mom.mean_shifted(), dtype=np.float64)
            Y *= np.sqrt(mom.w[keep])[:, None]
            sv, Vt = self._truncated_svd(Y, k)
            st.update(sv=sv, Vt=Vt, trC=float(np.einsum("ij,ij->", Y, Y)))
        else:
            st["S2"] = mom.S2.copy()

    def _stream_attributes(self, dtype, row_w):
        st = self._stream
        k = self.n_components_
        W = st["W"]
        d = st["S1"].shape[0]
        if st["lowrank"]:
            denom = max(W - 1.0, 1e-12)
            evals = st["sv"][:k] ** 2 / denom
            evecs = st["Vt"][:k].T
            total = st["trC"] / denom
        else:
            B = self._dense_stream_B(st)
            evals, evecs = _dense_top(B, np.zeros((d, 0)), k, st["v0"])
            total = float(np.trace(B))
        evals = np.clip(evals, 0.0, None)
        self.components_ = _sign_flip(evecs.T).astype(dtype, copy=False)
        self.explained_variance_ = evals.astype(dtype, copy=False)
        ratio = evals / total if total > 0 else np.zeros_like(evals)
        self.explained_variance_ratio_ = ratio.astype(dtype, copy=False)
        noise = (total - evals.sum()) / (d - k) if k < d else 0.0
        self.noise_variance_ = float(max(noise, 0.0))
        if self.center == "pairs":
            mean = st["R1"] / max(st["RW"], 1e-300)
        elif self.center is True:
            mean = st["shift"] + st["S1"] / W
        else:
            mean = st["shift"]
        self.mean_ = np.asarray(mean, dtype=dtype)
        self.weights_ = row_w.astype(dtype, copy=False)
        self.support_ = row_w >= 0.5

    def __sklearn_is_fitted__(self):
        # partial_fit sets n_features_in_ before enough rows for a fit arrive
        return hasattr(self, "components_")

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Project ``X`` on the robust components: ``(X - mean_) @ components_.T``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_components_`)
            Coordinates, in the dtype of the fitted attributes.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            reset=False,
        )
        C = self.components_.astype(X.dtype, copy=False)
        out = X @ C.T
        out = np.asarray(out) - (self.mean_.astype(X.dtype) @ C.T)
        return out

    def inverse_transform(self, X):
        """Map coordinates back: ``X @ components_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_components_`)
            Coordinates.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Points in the span of the components, shifted by ``mean_``.
        """
        check_is_fitted(self)
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return X @ self.components_.astype(X.dtype) + self.mean_.astype(X.dtype)

    def score_samples(self, X):
        """Probabilistic-PCA log-likelihood of each row (higher = more normal).

        The model of :meth:`sklearn.decomposition.PCA.score_samples`, with the
        robust ``components_``, ``explained_variance_`` and
        ``noise_variance_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.

        Returns
        -------
        ll : ndarray of shape (n_samples,)
            Log-likelihood of each row.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            reset=False,
        )
        d = X.shape[1]
        C = self.components_.astype(np.float64)
        lam = self.explained_variance_.astype(np.float64)
        sig = float(self.noise_variance_)
        k = C.shape[0]
        floor = 1e-12 * max(float(lam.max(initial=0.0)), sig, 1e-300)
        sig_eff = max(sig, floor)
        lam_eff = np.maximum(lam, floor)
        mean = self.mean_.astype(np.float64)
        if sparse.issparse(X):
            P = np.asarray(X @ C.T) - mean @ C.T
            sq = (
                np.asarray(X.multiply(X).sum(axis=1)).ravel()
                - 2.0 * np.asarray(X @ mean).ravel()
                + mean @ mean
            )
        else:
            Xc = np.asarray(X, dtype=np.float64) - mean
            P = Xc @ C.T
            sq = np.einsum("ij,ij->i", Xc, Xc)
        proj_sq = np.einsum("ij,ij->i", P, P)
        quad = (P * P) @ (1.0 / lam_eff)
        if k < d:
            quad += np.maximum(sq - proj_sq, 0.0) / sig_eff
        logdet = np.log(lam_eff).sum() + (d - k) * math.log(sig_eff)
        return -0.5 * (d * math.log(2.0 * math.pi) + logdet + quad)

    def score(self, X, y=None):
        """Mean probabilistic-PCA log-likelihood of the rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        ll : float
            Average of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
