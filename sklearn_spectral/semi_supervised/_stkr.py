"""Spectrally transformed kernel regression and classification."""

import numbers
import warnings
from math import ceil

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import LinearOperator, cg, eigsh, gmres
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array, check_random_state, column_or_1d, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils.graph import affinity_from_features, csr_matmat
from ..utils.validation import message_prefix

__all__ = ["STKRRegressor", "STKRClassifier"]

# Above this many rows, ``n_landmarks='auto'`` switches from the dense kernel
# to the Nystroem path (a dense float64 kernel of this size takes 3 GiB).
_DENSE_MAX_ROWS = 20_000
_AUTO_LANDMARKS = 2_000
# ``solver='auto'`` factorises directly up to these sizes.
_DIRECT_MAX_LABELED = 5_000
_DIRECT_MAX_ROWS = 2_000
_GMRES_RESTART = 50
# Candidates of ``alpha='auto'``, and the value it takes where no candidate
# can be scored cheaply (the iterative solvers, fewer than three labels).
_ALPHA_GRID = np.logspace(-7, 2, 28)
_ALPHA_FALLBACK = 1e-3
# Candidates of ``eta='auto'`` (0 is plain kernel ridge), and the range of
# its value where they cannot be scored cheaply.
_ETA_GRID = (0.0, 0.9, 0.99, 0.999)
_ETA_FALLBACK = (0.99, 0.9999)
# ``gamma=None``: the rbf width is this multiple of the typical distance from
# a row to its ``n_neighbors``-th nearest neighbour.
_LOCAL_WIDTH = 3.0


def _working_memory_bytes():
    return int(get_config()["working_memory"]) * 2**20


def _local_scale_gamma(X, n_neighbors, rng, max_samples=1000):
    """rbf ``gamma`` from the typical distance to the ``n_neighbors``-th neighbour.

    ``sigma`` is ``_LOCAL_WIDTH`` times the median, over at most
    ``max_samples`` random rows, of the distance from a row to its
    ``n_neighbors``-th nearest other row among all rows; ``gamma`` is
    ``1 / (2 sigma^2)``.
    """
    n = X.shape[0]
    k = min(n_neighbors, n - 1)
    if k < 1:
        return 1.0
    query = X if n <= max_samples else X[rng.choice(n, size=max_samples, replace=False)]
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(query)
    radius = float(np.median(dist[:, -1]))
    if radius <= 0:
        positive = dist[dist > 0]
        radius = float(np.median(positive)) if positive.size else 0.0
    if radius <= 0:
        return 1.0
    return 1.0 / (2.0 * (_LOCAL_WIDTH * radius) ** 2)


def _ridge_loo(U, w, Yc, betas):
    """Leave-one-out choice of the ridge penalty from an eigendecomposition.

    ``U`` (n, r) and ``w`` (r,) give the labeled Gram matrix ``U diag(w) U.T``
    (``w`` are squared singular values for a feature matrix); for every
    ``beta`` the hat matrix is ``U diag(w / (w + beta)) U.T`` and the exact
    leave-one-out residuals are ``(y - H y)_i / (1 - H_ii)``. Returns the
    ``beta`` with the smallest summed squared leave-one-out residual, and
    that sum.
    """
    UtY = U.T @ Yc
    U2 = U * U
    best, best_err = betas[0], np.inf
    for beta in betas:
        h = w / (w + beta)
        resid = Yc - U @ (h[:, None] * UtY)
        lever = np.maximum(1.0 - U2 @ h, 1e-12)
        err = float(np.sum((resid / lever[:, None]) ** 2))
        if err < best_err:
            best, best_err = beta, err
    return best, best_err


def _top_eigenvalue_bound(matvec, n, *, nonnegative, max_iter=50, rtol=0.01):
    """Upper bound on the top eigenvalue of a PSD operator by power iteration.

    For an entrywise non-negative matrix, ``max_i (G x)_i / x_i`` over a
    positive ``x`` bounds the top eigenvalue from above (Collatz-Wielandt);
    otherwise the Rayleigh quotient plus the residual norm is used.
    """
    x = np.ones(n)
    hi = 0.0
    for _ in range(max_iter):
        g = matvec(x)
        rq = float(x @ g) / float(x @ x)
        if nonnegative:
            pos = x > 0
            hi = float(np.max(g[pos] / x[pos])) if pos.any() else 0.0
        else:
            hi = rq + float(np.linalg.norm(g - rq * x) / np.linalg.norm(x))
        norm = float(np.linalg.norm(g))
        if norm == 0.0 or hi <= (1.0 + rtol) * rq:
            break
        x = g / norm
    return hi if hi > 0 else 1.0


class _DenseKernel:
    """Base kernel over the rows of ``X``, kept whole or evaluated in row blocks.

    The matrix is stored when it fits in scikit-learn's ``working_memory``;
    otherwise every product recomputes it block by block, so memory stays
    bounded by that budget.
    """

    def __init__(self, X, func):
        self.X = X
        self.func = func
        self.n = X.shape[0]
        self.G = func(X, X) if self.n * self.n * 8 <= _working_memory_bytes() else None

    def matmat(self, V):
        if self.G is not None:
            return self.G @ V
        out = np.empty((self.n,) + V.shape[1:])
        rows = max(1, _working_memory_bytes() // (8 * self.n))
        for batch in gen_batches(self.n, rows):
            out[batch] = self.func(self.X[batch], self.X) @ V
        return out

    def columns(self, idx):
        if self.G is not None:
            return self.G[:, idx]
        return self.func(self.X, self.X[idx])

    def dense(self):
        return self.G if self.G is not None else self.func(self.X, self.X)

    def restrict(self, idx):
        return _DenseKernel(self.X[idx], self.func)


class _MatrixKernel:
    """Base kernel given as a matrix (precomputed, or the sparse kNN graph)."""

    def __init__(self, G):
        self.G = G
        self.n = G.shape[0]

    def matmat(self, V):
        if sparse.issparse(self.G) and self.G.format == "csr":
            # the Krylov solvers' product, rows spread over the OpenMP threads
            return csr_matmat(self.G, V)
        return self.G @ V

    def columns(self, idx):
        cols = self.G[:, idx]
        return cols.toarray() if sparse.issparse(cols) else cols

    def dense(self):
        return self.G.toarray() if sparse.issparse(self.G) else self.G

    def restrict(self, idx):
        sub = self.G[idx][:, idx]
        return _MatrixKernel(sub.tocsr() if sparse.issparse(sub) else sub)


class _BaseSTKR(BaseEstimator):
    """Shared fitting code of the STKR regressor and classifier."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions({"auto", "rbf", "knn", "precomputed"}), callable],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "spectral_transform": [
            StrOptions({"identity", "polynomial", "inverse_laplacian", "kpca"})
        ],
        "degree": [Interval(numbers.Integral, 1, None, closed="left")],
        "coefficients": ["array-like", None],
        "eta": [StrOptions({"auto"}), Interval(numbers.Real, 0, 1, closed="neither")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "whiten": ["boolean"],
        "alpha": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "solver": [StrOptions({"auto", "direct", "cg", "gmres"})],
        "n_landmarks": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel="auto",
        *,
        gamma=None,
        n_neighbors=10,
        spectral_transform="inverse_laplacian",
        degree=8,
        coefficients=None,
        eta="auto",
        n_components=64,
        whiten=False,
        alpha="auto",
        solver="auto",
        n_landmarks="auto",
        tol=1e-6,
        max_iter=1000,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.gamma = gamma
        self.n_neighbors = n_neighbors
        self.spectral_transform = spectral_transform
        self.degree = degree
        self.coefficients = coefficients
        self.eta = eta
        self.n_components = n_components
        self.whiten = whiten
        self.alpha = alpha
        self.solver = solver
        self.n_landmarks = n_landmarks
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------
    def _validate_X(self, X, reset):
        X = validate_data(self, X, reset=reset, accept_sparse="csr", dtype=np.float64)
        if reset and self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"{message_prefix(self)}X must be a square kernel matrix when "
                f"kernel='precomputed', got shape {X.shape}."
            )
        return X

    def _validate_fit_X(self, X, y):
        """Validate the training ``X``; ``y`` must be given (checked by the caller)."""
        if y is None:
            raise ValueError(
                f"{message_prefix(self)}requires y to be passed, but the target y "
                "is None."
            )
        return self._validate_X(X, reset=True)

    def _check_params(self, n_samples):
        prefix = message_prefix(self)
        if self.solver == "cg" and self.spectral_transform == "inverse_laplacian":
            raise ValueError(
                f"{prefix}solver='cg' needs a symmetric system; "
                "spectral_transform='inverse_laplacian' is not symmetric, use "
                "solver='gmres' or 'direct'."
            )
        if self.spectral_transform == "polynomial":
            if self.coefficients is None:
                coef = np.zeros(self.degree)
                coef[-1] = 1.0
            else:
                coef = np.asarray(self.coefficients, dtype=np.float64)
                if (
                    coef.ndim != 1
                    or coef.size == 0
                    or not np.all(np.isfinite(coef))
                    or np.any(coef < 0)
                    or not np.any(coef > 0)
                ):
                    raise ValueError(
                        f"{prefix}coefficients must be a 1-D array of finite "
                        "non-negative numbers with at least one positive, got "
                        f"{self.coefficients!r}."
                    )
            return coef
        if self.spectral_transform == "identity":
            return np.ones(1)
        return None

    def _kernel_func(self):
        if self.kernel_ == "rbf":
            gamma = self.gamma_

            def func(A, B):
                return rbf_kernel(A, B, gamma=gamma)

            return func
        kernel = self.kernel
        prefix = message_prefix(self)

        def func(A, B):
            K = kernel(A, B)
            K = K.toarray() if sparse.issparse(K) else np.asarray(K, dtype=np.float64)
            if K.shape != (A.shape[0], B.shape[0]):
                raise ValueError(
                    f"{prefix}the kernel callable must return an array of shape "
                    f"{(A.shape[0], B.shape[0])}, got {K.shape}."
                )
            return K

        return func

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _kernel_candidates(self, n_samples):
        """Base kernels to fit: ``kernel``, or the candidates of ``'auto'``."""
        if self.kernel != "auto":
            return (self.kernel,)
        if n_samples > _DENSE_MAX_ROWS:
            return ("knn",)
        return ("rbf", "knn")

    def _fit_targets(self, X, Y, labeled):
        """Fit on ``Y`` (n_labeled, n_targets); ``labeled`` indexes the rows.

        With ``kernel='auto'`` each candidate kernel is fitted in turn and
        the fitted state of the one of smallest leave-one-out error is kept;
        the first candidate is kept where its fit computes no such error.
        """
        rng = check_random_state(self.random_state)
        self.intercept_ = Y.mean(axis=0)
        Yc = Y - self.intercept_
        best = None
        for kernel in self._kernel_candidates(X.shape[0]):
            self._fit_kernel(X, Yc, labeled, kernel, rng)
            if best is None or self._loo_error < best["_loo_error"]:
                best = dict(vars(self))
            if not np.isfinite(best["_loo_error"]):
                break
        # Restore the winner's attributes exactly, dropping any that only a
        # losing candidate set (the knn index, the landmarks).
        vars(self).clear()
        vars(self).update(best)
        return self

    def _fit_kernel(self, X, Yc, labeled, kernel, rng):
        """Fit the centred targets ``Yc`` with the base kernel ``kernel``."""
        n_samples = X.shape[0]
        self.kernel_ = kernel
        self.n_labeled_ = n_labeled = labeled.shape[0]
        self._loo_error = np.inf
        coef = self._check_params(n_samples)
        self.gamma_ = None
        if kernel == "rbf":
            self.gamma_ = (
                float(self.gamma)
                if self.gamma is not None
                else _local_scale_gamma(X, self.n_neighbors, rng)
            )
        self.n_components_ = max(1, min(self.n_components, n_samples - 1))

        use_landmarks = kernel == "rbf" or callable(kernel)
        n_landmarks = self.n_landmarks
        if n_landmarks == "auto":
            n_landmarks = _AUTO_LANDMARKS if n_samples > _DENSE_MAX_ROWS else None
        if use_landmarks and n_landmarks is not None:
            self._fit_nystroem(X, Yc, labeled, coef, min(n_landmarks, n_samples), rng)
            return

        if kernel == "knn":
            op = self._knn_operator(X)
            self.kernel_scale_ = float(n_samples)
        else:
            if kernel == "precomputed":
                op = _MatrixKernel(X)
                nonneg = bool(np.all((X.data if sparse.issparse(X) else X) >= 0))
            else:
                op = _DenseKernel(X, self._kernel_func())
                # Checked on the stored matrix too, so that a callable and
                # its precomputed matrix get the same bound and the same model.
                nonneg = kernel == "rbf" or (
                    op.G is not None and bool(np.all(op.G >= 0))
                )
            bound = _top_eigenvalue_bound(
                lambda v: op.matmat(v) / n_samples, n_samples, nonnegative=nonneg
            )
            self.kernel_scale_ = 1.0 / bound
        self.X_fit_ = X
        if self.verbose:
            print(
                f"[{type(self).__name__}] {n_samples} rows, {n_labeled} labeled, "
                f"kernel_scale_={self.kernel_scale_:.4g}"
            )

        scale = self.kernel_scale_
        beta = self._fixed_beta()
        if self.spectral_transform == "kpca":
            C = self._solve_kpca(op, Yc, labeled, scale, rng)
        elif self.spectral_transform == "inverse_laplacian":
            C = self._solve_inverse_laplacian(op, Yc, labeled, scale, beta)
        elif self.spectral_transform == "identity":
            C = self._solve_identity(op, Yc, labeled, scale, beta)
        else:
            C = self._solve_polynomial(op, Yc, labeled, scale, beta, coef)
        if self.spectral_transform != "inverse_laplacian":
            self.eta_ = None
        self.extension_coef_ = C
        fitted = scale * op.matmat(C)
        if kernel == "knn":
            self._knn_fitted = fitted
        self.dual_coef_ = (Yc - fitted[labeled]) / (n_labeled * self.alpha_)
        self._transduction = fitted + self.intercept_

    def _fixed_beta(self):
        """System penalty ``n_labeled_ * alpha`` of the iterative solvers.

        Sets ``alpha_``; with ``alpha='auto'`` the direct solvers overwrite it
        with their leave-one-out choice.
        """
        self.alpha_ = _ALPHA_FALLBACK if self.alpha == "auto" else float(self.alpha)
        return self.n_labeled_ * self.alpha_

    def _scores_candidates(self):
        """Whether leave-one-out errors are computed (``'auto'`` and 3+ labels)."""
        return (self.alpha == "auto" or self.eta == "auto") and self.n_labeled_ >= 3

    def _eta_candidates(self, n_samples):
        """Values of ``eta`` to try on the direct paths of the transform."""
        if self.eta != "auto":
            return (float(self.eta),)
        if self._scores_candidates():
            return _ETA_GRID
        return (self._default_eta(n_samples),)

    def _default_eta(self, n_samples):
        """``eta='auto'`` without scores: ``1 - n_neighbors / n_samples``, clipped.

        A walk that restarts with probability ``1 - eta`` per step spreads a
        label over about ``1 / (1 - eta)`` steps; on a graph of
        ``n_samples / n_neighbors`` neighbourhoods that trace a surface, this
        is the number of steps a label needs to reach the far side.
        """
        low, high = _ETA_FALLBACK
        return float(np.clip(1.0 - self.n_neighbors / n_samples, low, high))

    def _fixed_eta(self, n_samples):
        """``eta`` of the iterative solvers; sets ``eta_``."""
        auto = self.eta == "auto"
        self.eta_ = self._default_eta(n_samples) if auto else float(self.eta)
        return self.eta_

    def _choose_beta(self, U, w, Yc):
        """Penalty for the Gram matrix ``U diag(w) U.T`` of the labeled rows.

        Returns the penalty and its leave-one-out error (``inf`` when none is
        computed); sets ``alpha_`` and keeps the smallest error of the fit so
        far in ``_loo_error``.
        """
        n = self.n_labeled_
        if not self._scores_candidates():
            return self._fixed_beta(), np.inf
        betas = n * _ALPHA_GRID if self.alpha == "auto" else [n * float(self.alpha)]
        beta, err = _ridge_loo(U, np.maximum(w, 0.0), Yc, betas)
        self.alpha_ = float(beta / n)
        self._loo_error = min(self._loo_error, err)
        return beta, err

    def _dual_ridge(self, A, Yc):
        """Solve ``(A + n_labeled_ alpha_ I) a = Yc`` for a symmetric PSD ``A``.

        Returns ``a``, the penalty and its leave-one-out error.
        """
        A = 0.5 * (A + A.T)
        w, U = linalg.eigh(A)
        beta, err = self._choose_beta(U, w, Yc)
        return U @ ((U.T @ Yc) / (np.maximum(w, 0.0) + beta)[:, None]), beta, err

    def _primal_ridge(self, Phi, Yc):
        """Ridge weights on the features ``Phi`` of the labeled rows.

        Returns the weights, the penalty and its leave-one-out error.
        """
        U, sv, Vt = linalg.svd(Phi, full_matrices=False)
        beta, err = self._choose_beta(U, sv**2, Yc)
        return Vt.T @ ((sv / (sv**2 + beta))[:, None] * (U.T @ Yc)), beta, err

    def _knn_operator(self, X):
        n_samples = X.shape[0]
        k = min(self.n_neighbors, n_samples)
        W = affinity_from_features(X, n_neighbors=k)
        degree = np.asarray(W.sum(axis=1)).ravel()
        inv_sqrt = 1.0 / np.sqrt(degree)
        S = sparse.diags(inv_sqrt) @ W @ sparse.diags(inv_sqrt)
        G = 0.5 * (sparse.identity(n_samples, format="csr") + S)
        self._knn_k = k
        self._knn_index = NearestNeighbors(n_neighbors=k).fit(X)
        return _MatrixKernel(sparse.csr_matrix(G))

    def _auto_solver(self, size, limit):
        if self.solver != "auto":
            return self.solver
        return "direct" if size <= limit else None

    def _report(self, name, info, n_iter):
        if info > 0:
            warnings.warn(
                f"{message_prefix(self)}{name} did not reach tol={self.tol} in "
                f"max_iter={self.max_iter} iterations; increase max_iter or alpha.",
                ConvergenceWarning,
            )
        if self.verbose:
            print(f"[{type(self).__name__}] {name}: {n_iter} iterations")

    def _krylov(self, method, matvec, B, size):
        """Solve ``A x = b`` for every column of ``B`` by CG or GMRES."""
        A = LinearOperator((size, size), matvec=matvec, dtype=np.float64)
        X = np.zeros((size, B.shape[1]))
        total = 0
        for j in range(B.shape[1]):
            if not np.any(B[:, j]):
                continue
            count = [0]

            def callback(arg, count=count):
                count[0] += 1
                if self.verbose > 1:
                    print(f"  iteration {count[0]}")

            if method == "cg":
                x, info = cg(
                    A, B[:, j], rtol=self.tol, maxiter=self.max_iter, callback=callback
                )
            else:
                restart = min(_GMRES_RESTART, size, self.max_iter)
                x, info = gmres(
                    A,
                    B[:, j],
                    rtol=self.tol,
                    restart=restart,
                    maxiter=ceil(self.max_iter / restart),
                    callback=callback,
                    callback_type="pr_norm",
                )
            self._report(method.upper(), info, count[0])
            X[:, j] = x
            total = max(total, count[0])
        self.n_iter_ = max(1, total)
        return X

    def _solve_identity(self, op, Yc, labeled, scale, beta):
        n_samples = op.n
        n = labeled.shape[0]
        sub = op.restrict(labeled)
        solver = self._auto_solver(n, _DIRECT_MAX_LABELED) or "cg"
        if solver == "direct":
            self.n_iter_ = 1
            alpha = self._dual_ridge(scale * np.asarray(sub.dense(), np.float64), Yc)[0]
        else:
            alpha = self._krylov(
                solver, lambda a: scale * sub.matmat(a) + beta * a, Yc, n
            )
        C = np.zeros((n_samples, Yc.shape[1]))
        C[labeled] = alpha
        return C

    def _solve_polynomial(self, op, Yc, labeled, scale, beta, coef):
        N = op.n
        n = labeled.shape[0]
        q = coef.shape[0]
        solver = self._auto_solver(N, _DIRECT_MAX_ROWS) or "cg"

        def extension(A_cols):
            # Horner's rule: V = sum_{p>=2} pi_p (K/N)^(p-2) K[:, labeled] / N
            V = np.zeros_like(A_cols)
            for p in range(q, 1, -1):
                V = scale * op.matmat(V) / N + coef[p - 1] * A_cols
            return V

        if solver == "direct":
            self.n_iter_ = 1
            B = scale * op.columns(labeled)
            V = extension(B / N)
            alpha = self._dual_ridge(coef[0] * B[labeled] + B.T @ V, Yc)[0]
            C = V @ alpha
            C[labeled] += coef[0] * alpha
            return C

        def scatter(a):
            z = np.zeros((N,) + a.shape[1:])
            z[labeled] = a
            return z

        def apply(a):
            a = np.asarray(a, dtype=np.float64)
            z = scatter(a)
            if q >= 2:
                v = extension(scale * op.matmat(z) / N)
            else:
                v = 0.0
            return (scale * op.matmat(coef[0] * z + v))[labeled] + beta * a

        alpha = self._krylov(solver, apply, Yc, n)
        z = scatter(alpha)
        C = extension(scale * op.matmat(z) / N) if q >= 2 else np.zeros_like(z)
        C[labeled] += coef[0] * alpha
        return C

    def _solve_inverse_laplacian(self, op, Yc, labeled, scale, beta):
        N = op.n
        mask = np.zeros(N, dtype=bool)
        mask[labeled] = True
        B = np.zeros((N, Yc.shape[1]))
        B[labeled] = Yc
        solver = self._auto_solver(N, _DIRECT_MAX_ROWS) or "gmres"
        if solver == "direct":
            # theta = R scatter(a) with R = (I - eta K / N)^-1 (SPD as
            # eta lambda_1 < 1), and a solves the labeled ridge system with
            # the transformed kernel (K R)[labeled, labeled]. With
            # eta='auto' every candidate is solved and the one of smallest
            # leave-one-out error kept.
            self.n_iter_ = 1
            K = scale * np.asarray(op.dense(), dtype=np.float64)
            E = np.zeros((N, labeled.shape[0]))
            E[labeled, np.arange(labeled.shape[0])] = 1.0
            best = None
            R = np.empty_like(K)  # refilled for each candidate, factorised in place
            for eta in self._eta_candidates(N):
                if eta == 0.0:
                    RE = E
                else:
                    np.multiply(K, -eta / N, out=R)
                    R.flat[:: N + 1] += 1.0
                    try:
                        factor = linalg.cho_factor(R, overwrite_a=True)
                    except linalg.LinAlgError:
                        raise ValueError(
                            f"{message_prefix(self)}I - eta K / n_samples is not "
                            f"positive definite at eta={eta}: the kernel matrix "
                            "K is not symmetric positive semi-definite. Pass a "
                            "positive semi-definite kernel."
                        ) from None
                    RE = linalg.cho_solve(factor, E)
                a, beta, err = self._dual_ridge(K[labeled] @ RE, Yc)
                if best is None or err < best[0]:
                    best = (err, eta, beta, RE @ a)
            _, self.eta_, beta, C = best
            self.alpha_ = float(beta / labeled.shape[0])
            return C

        eta = self._fixed_eta(N)

        # Rows scaled so that both kinds are O(1): labeled rows divided by N
        # (their kernel term is N times the normalised kernel), unlabeled rows
        # by beta (their only term). Unscaled, the labeled rows dominate the
        # residual and GMRES stops before the unlabeled rows are solved.
        row_scale = np.where(mask, 1.0 / N, 1.0 / beta)

        def matvec(theta):
            theta = np.asarray(theta, dtype=np.float64)
            Kt = scale * op.matmat(theta)
            out = beta * (theta - (eta / N) * Kt)
            out[mask] += Kt[mask]
            return out * (row_scale if out.ndim == 1 else row_scale[:, None])

        return self._krylov(solver, matvec, B * row_scale[:, None], N)

    def _solve_kpca(self, op, Yc, labeled, scale, rng):
        N = op.n
        d = self.n_components_
        self.n_iter_ = 1
        if N <= _DIRECT_MAX_ROWS or d >= N - 1:
            K = scale * np.asarray(op.dense(), dtype=np.float64) / N
            lam, V = linalg.eigh(K, subset_by_index=(max(0, N - d), N - 1))
        else:
            A = LinearOperator(
                (N, N), matvec=lambda v: scale * op.matmat(v) / N, dtype=np.float64
            )
            lam, V = eigsh(A, k=d, which="LA", v0=rng.uniform(-1, 1, N), tol=1e-10)
        order = np.argsort(lam)[::-1]
        lam, V = lam[order], V[:, order]
        keep = lam > 1e-10 * max(lam[0], np.finfo(float).tiny)
        lam, V = lam[keep], V[:, keep]
        if self.whiten:
            Phi = np.sqrt(N) * V[labeled]
            back = 1.0 / (np.sqrt(N) * lam)
        else:
            Phi = np.sqrt(N * lam) * V[labeled]
            back = 1.0 / np.sqrt(N * lam)
        return V @ (back[:, None] * self._primal_ridge(Phi, Yc)[0])

    def _spectral_weights(self, lam, eta):
        """``s(lambda) / lambda`` on the eigenvalues of the landmark features."""
        if self.spectral_transform == "identity":
            return np.ones_like(lam)
        if self.spectral_transform == "inverse_laplacian":
            return 1.0 / (1.0 - eta * lam)
        if self.spectral_transform == "polynomial":
            coef = self._check_params(lam.shape[0])
            return np.polyval(coef[::-1], lam)
        out = np.zeros_like(lam)
        top = min(self.n_components_, lam.shape[0])
        out[:top] = 1.0 / lam[:top] if self.whiten else 1.0
        return out

    def _fit_nystroem(self, X, Yc, labeled, coef, n_landmarks, rng):
        """Exact STKR with the rank-``n_landmarks`` Nystroem kernel.

        With ``phi(x) = M.T k(L, x)`` and ``F = Phi(X)``, every transformed
        kernel is ``phi(x).T V diag(s(lam) / lam) V.T phi(x')`` where ``V
        diag(lam) V.T = F.T F / N``. ``F.T F = M.T (K_NL.T K_NL) M`` comes from
        one pass over row blocks of ``K_NL``, so neither ``F`` nor ``K_NL`` is
        stored: memory is ``O(n_landmarks^2)`` plus one block.
        """
        N = X.shape[0]
        func = self._kernel_func()
        landmarks = np.sort(rng.choice(N, size=n_landmarks, replace=False))
        L = X[landmarks]
        e, U = linalg.eigh(func(L, L))
        keep = e > 1e-10 * max(e[-1], np.finfo(float).tiny)
        M = U[:, keep] / np.sqrt(e[keep])  # phi(x) = M.T k(L, x)
        gram = np.zeros((n_landmarks, n_landmarks))
        rows = max(1, _working_memory_bytes() // (8 * n_landmarks))
        for batch in gen_batches(N, rows):
            K_b = func(X[batch], L)
            gram += K_b.T @ K_b
        lam, V = linalg.eigh(M.T @ gram @ M / N)
        order = np.argsort(lam)[::-1]
        lam, V = lam[order], V[:, order]
        pos = lam > 1e-12 * max(lam[0], np.finfo(float).tiny)
        lam, V = lam[pos], V[:, pos]
        self.kernel_scale_ = scale = 1.0 / lam[0]
        # Features of a row: sqrt(scale) k(x, L) @ P, with P for each
        # candidate eta; the one of smallest leave-one-out error is kept.
        K_lab = func(X[labeled], L)
        etas = (
            self._eta_candidates(N)
            if self.spectral_transform == "inverse_laplacian"
            else (None,)
        )
        best = None
        MV = np.sqrt(scale) * (M @ V)
        for eta in etas:
            P_eta = MV * np.sqrt(self._spectral_weights(lam * scale, eta))
            w_eta, beta, err = self._primal_ridge(K_lab @ P_eta, Yc)
            if best is None or err < best[0]:
                best = (err, eta, beta, P_eta, w_eta)
        _, self.eta_, beta, P, w = best
        self.alpha_ = float(beta / labeled.shape[0])
        self.n_iter_ = 1
        self.X_fit_ = L
        self.landmark_indices_ = landmarks
        self.extension_coef_ = (P @ w) / scale
        fitted = np.empty((N, Yc.shape[1]))
        for batch in gen_batches(N, rows):
            fitted[batch] = func(X[batch], L) @ (P @ w)
        self.dual_coef_ = (Yc - fitted[labeled]) / (labeled.shape[0] * self.alpha_)
        self._transduction = fitted + self.intercept_

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _decision(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        coef = self.extension_coef_
        out = np.empty((X.shape[0], coef.shape[1]))
        if self.kernel_ == "knn":
            # A new row's kernel row is the mean of its neighbours' rows, so
            # its prediction is the mean fitted value of its neighbours.
            rows = max(1, _working_memory_bytes() // (8 * self._knn_k * coef.shape[1]))
            for batch in gen_batches(X.shape[0], rows):
                ind = self._knn_index.kneighbors(X[batch], return_distance=False)
                out[batch] = self._knn_fitted[ind].mean(axis=1)
            return out + self.intercept_
        if self.kernel_ == "precomputed":
            return self.kernel_scale_ * (X @ coef) + self.intercept_
        func = self._kernel_func()
        n_fit = self.X_fit_.shape[0]
        rows = max(1, _working_memory_bytes() // (8 * n_fit))
        for batch in gen_batches(X.shape[0], rows):
            out[batch] = func(X[batch], self.X_fit_) @ coef
        return self.kernel_scale_ * out + self.intercept_


_SHARED_PARAMETERS = """
    Parameters
    ----------
    kernel : {'auto', 'rbf', 'knn', 'precomputed'} or callable, default='auto'
        Base kernel ``k``. ``'auto'`` fits both ``'rbf'`` and ``'knn'`` and
        keeps the one of smallest exact leave-one-out error over the labeled
        rows, because neither wins on all data: the graph kernel follows
        curved, well-sampled pieces of the data (digits, interleaved moons)
        that the rbf kernel blurs, and the rbf kernel interpolates smooth
        targets in the ambient space that a graph spreads poorly. Where the
        fit computes no leave-one-out error (GMRES or CG, fewer than three
        labeled rows, ``alpha`` and ``eta`` both fixed) ``'auto'`` means
        ``'rbf'``, and above 20000 rows it means ``'knn'``, whose fit is
        linear in ``n_samples``. The kernel used is ``kernel_``.
        ``'rbf'``: ``exp(-gamma ||x - x'||^2)``.
        ``'knn'``: the lazy normalised k-nearest-neighbour graph
        ``(I + D^-1/2 W D^-1/2) / 2``, a sparse PSD matrix whose top
        eigenvalue is 1 (``W`` from
        :func:`sklearn_spectral.utils.graph.affinity_from_features`); the
        kernel row of a new point is the mean of the rows of its
        ``n_neighbors`` nearest training rows, so it is predicted by the mean
        fitted value of those rows. ``'precomputed'``: ``fit`` takes the
        ``(n_samples, n_samples)`` kernel matrix and ``predict`` the
        ``(n_new, n_samples)`` kernel between new and training rows, dense
        or sparse. A callable ``kernel(A, B)`` returns the ``(len(A),
        len(B))`` kernel matrix, dense or sparse (it is densified); sparse
        ``X`` reaches it as CSR rows.
    gamma : float, default=None
        Width of the ``'rbf'`` kernel. ``None`` sets ``sigma`` to three
        times the median distance from a row to its ``n_neighbors``-th
        nearest neighbour (over at most 1000 random rows) and ``gamma = 1 /
        (2 sigma^2)``: a kernel local enough for the unlabeled rows to reveal
        the shape of the data, and wide enough to link neighbouring rows.
    n_neighbors : int, default=10
        Neighbours per row of the ``'knn'`` kernel (clipped to the number of
        rows); each row counts as its own neighbour.
    spectral_transform : {'inverse_laplacian', 'polynomial', 'kpca', 'identity'}, \
default='inverse_laplacian'
        Spectral transform ``s`` applied to the eigenvalues ``lambda`` of
        the kernel matrix over all rows (normalised so that the largest is
        1):

        - ``'inverse_laplacian'``: ``s(lambda) = lambda / (1 - eta lambda)``,
          the default because it needs one kernel product per solver
          iteration whatever the length of its power series.
        - ``'polynomial'``: ``s(lambda) = sum_p pi_p lambda^p`` with
          ``pi = coefficients`` (``pi_p`` at index ``p - 1``), or
          ``lambda^degree``.
        - ``'kpca'``: ``s(lambda) = lambda`` on the top ``n_components``
          eigenvalues and 0 elsewhere (1 with ``whiten=True``).
        - ``'identity'``: ``s(lambda) = lambda``, plain kernel ridge
          regression on the labeled rows.

        The name is not ``transform`` because scikit-learn treats any
        estimator with a ``transform`` attribute as a transformer.
    degree : int, default=8
        Power of the ``'polynomial'`` transform when ``coefficients`` is
        None; high powers smooth more strongly along the data.
    coefficients : array-like of shape (n_powers,), default=None
        Non-negative power-series coefficients ``pi_1, pi_2, ...`` of the
        ``'polynomial'`` transform, at least one positive.
    eta : 'auto' or float in (0, 1), default='auto'
        Strength of the ``'inverse_laplacian'`` transform, relative to the
        top eigenvalue; close to 1 lets the labels spread far along the data.
        ``'auto'`` tries 0 (plain kernel ridge), 0.9, 0.99 and 0.999, each
        with its own ``alpha``, and keeps the one of smallest exact
        leave-one-out error over the labeled rows, because how far the labels
        should spread depends on how well the unlabeled rows trace the target;
        on data where they do not, this falls back to kernel ridge. Where
        ``'auto'`` cannot score the candidates (GMRES, fewer than three
        labeled rows) it means ``1 - n_neighbors / n_samples`` clipped to
        [0.99, 0.9999], so that on larger data the labels spread over more
        steps. The value used is ``eta_``.
    n_components : int, default=64
        Eigenpairs kept by ``'kpca'`` (clipped to ``n_samples - 1``).
    whiten : bool, default=False
        ``'kpca'`` only: give every kept eigenfunction unit weight instead of
        its eigenvalue.
    alpha : 'auto' or float, default='auto'
        Ridge penalty ``beta``; the objective is
        ``mean_i (f(x_i) - y_i)^2 + alpha ||f||^2`` over the labeled rows, so
        the linear system carries ``n_labeled_ * alpha``. ``'auto'`` picks it
        from 28 values between 1e-7 and 100 by exact leave-one-out error over
        the labeled rows, which the direct solvers get from one
        eigendecomposition of the labeled block; the best penalty moves with
        the transform, the kernel and the number of labels. Where no direct
        solver runs (CG or GMRES) or fewer than three rows are labeled,
        ``'auto'`` means 1e-3. The value used is ``alpha_``.
    solver : {'auto', 'direct', 'cg', 'gmres'}, default='auto'
        ``'direct'`` factorises the system (``n_labeled x n_labeled`` for
        ``'identity'`` and ``'polynomial'``, ``n_samples x n_samples`` for
        ``'inverse_laplacian'``); ``'cg'`` solves the symmetric system of
        ``'identity'`` and ``'polynomial'`` by conjugate gradients; ``'gmres'``
        solves any of them (the ``'inverse_laplacian'`` system is not
        symmetric). None of them forms the transformed kernel. ``'auto'``:
        direct for ``'identity'`` up to 5000 labeled rows and for the other
        two up to 2000 rows, CG or GMRES above, because a factorisation is
        then cheaper than tens of products. ``'kpca'`` and the landmark path
        are always direct.
    n_landmarks : 'auto', int or None, default='auto'
        Landmark rows of the Nystroem path for ``'rbf'`` and callable
        kernels: the kernel is replaced by its rank-``n_landmarks``
        approximation through uniformly drawn rows, which makes every
        transform an exact ridge regression on ``n_landmarks`` features
        (``O(n_samples n_landmarks)`` memory). ``None`` keeps the exact
        kernel. ``'auto'``: exact up to 20000 rows, 2000 landmarks above, so
        that memory stays bounded. Ignored for ``'knn'`` and
        ``'precomputed'``.
    tol : float, default=1e-6
        Relative residual at which CG or GMRES stop.
    max_iter : int, default=1000
        Most CG or GMRES iterations per target column.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample behind the default ``gamma``, the landmarks and
        the starting vector of the ``'kpca'`` eigensolver.
    verbose : int, default=0
        1 prints one line per stage, 2 also every solver iteration.
"""

_SHARED_ATTRIBUTES = """
    kernel_ : str or callable
        Base kernel used: ``kernel``, or the choice of ``kernel='auto'``.
    X_fit_ : {ndarray, sparse matrix} of shape (n_fit, n_features)
        Rows the predictor expands over: every training row (in the order
        given), or the landmarks on the Nystroem path.
    extension_coef_ : ndarray of shape (n_fit, n_targets)
        Coefficients ``c`` of ``f(x) = kernel_scale_ k(x, X_fit_) c +
        intercept_``.
    dual_coef_ : ndarray of shape (``n_labeled_``, n_targets)
        Ridge dual coefficients: the residuals on the labeled rows divided by
        ``n_labeled_ * alpha_``.
    intercept_ : ndarray of shape (n_targets,)
        Mean target of the labeled rows.
    kernel_scale_ : float
        Factor that brings the top eigenvalue of ``k(X, X) / n_samples`` to
        at most 1 (an upper bound from power iteration; exact for ``'knn'``
        and on the Nystroem path).
    alpha_ : float
        Ridge penalty used (``alpha``, or its leave-one-out choice).
    eta_ : float or None
        ``eta`` used by ``'inverse_laplacian'`` (its leave-one-out choice with
        ``eta='auto'``), None for the other transforms.
    gamma_ : float or None
        The ``'rbf'`` width used, None for other kernels.
    n_components_ : int
        ``n_components`` clipped to the data.
    n_labeled_ : int
        Labeled training rows.
    n_iter_ : int
        Most CG or GMRES iterations over the target columns; 1 when solved
        directly.
    landmark_indices_ : ndarray of shape (n_landmarks,)
        Training rows used as landmarks; only on the Nystroem path.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column
        names.
"""

_SHARED_NOTES = """
    Rows without a target enter only through the spectrum of the kernel
    matrix ``G`` over all ``n_samples`` rows: with ``lambda`` an eigenvalue
    of ``kernel_scale_ G / n_samples``, the transformed kernel reweights it by
    ``s(lambda)``, so that functions varying slowly along the data (the top
    eigenvectors) are cheap and functions crossing low-density gaps are
    expensive. The fit is kernel ridge regression with the transformed
    kernel on the labeled rows, and ``f(x) = kernel_scale_ k(x, X_fit_)
    extension_coef_ + intercept_`` extends it to any row. The transformed
    kernel is never formed: the ``'polynomial'`` system applies its powers
    by Horner's rule (``degree`` kernel products per iteration), the
    ``'inverse_laplacian'`` one, ``(P K + n_labeled alpha (I - eta K / N))
    theta = y`` with ``P`` the labeled-row mask, takes one product, and
    ``'kpca'`` needs the top eigenpairs only. Targets are centred on the
    labeled mean.

    Memory: the dense kernel matrix is stored while it fits in
    scikit-learn's ``working_memory`` and recomputed in row blocks
    otherwise; ``'direct'`` with ``'inverse_laplacian'`` forms an
    ``n_samples x n_samples`` matrix. For 1e5 rows and more use
    ``kernel='knn'`` (sparse) or the Nystroem path.

    With ``spectral_transform='identity'`` the model equals
    :class:`sklearn.kernel_ridge.KernelRidge` with
    ``alpha=n_labeled_ * alpha_`` on the kernel ``kernel_scale_ * k`` and
    centred targets.
"""

_REFERENCES = """
    .. [1] R. Zhai, R. Pukdee, R. Jin, M.-F. Balcan, P. Ravikumar.
       Spectrally Transformed Kernel Regression. ICLR 2024.
       arXiv:2402.00645.
    .. [2] A. J. Smola, R. Kondor. Kernels and Regularization on Graphs.
       COLT 2003.
"""


class STKRRegressor(RegressorMixin, _BaseSTKR):
    __doc__ = (
        """Spectrally transformed kernel regression (semi-supervised).

    Kernel ridge regression with a kernel whose spectrum over all rows,
    labeled or not, is reweighted by a monotone transform, so the fit is
    smooth along the data rather than in the ambient space. Rows whose target
    is NaN are unlabeled.
"""
        + _SHARED_PARAMETERS
        + """
    Attributes
    ----------
    transduction_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Fitted values on every training row, labeled or not.
"""
        + _SHARED_ATTRIBUTES
        + """
    See Also
    --------
    STKRClassifier : The same model for class labels.
    sklearn.kernel_ridge.KernelRidge : The labeled rows only.
    sklearn.semi_supervised.LabelSpreading : Transductive graph diffusion.

    Notes
    -----"""
        + _SHARED_NOTES
        + """
    References
    ----------"""
        + _REFERENCES
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.datasets import hide_labels, make_manifold_regression
    >>> from sklearn_spectral.semi_supervised import STKRRegressor
    >>> X, y = make_manifold_regression(300, manifold="moons", noise=0.05,
    ...                                 random_state=0)
    >>> y_semi = hide_labels(y, 20, random_state=0)
    >>> reg = STKRRegressor(kernel="knn", eta=0.999).fit(X, y_semi)
    >>> reg.n_labeled_
    20
    >>> bool(reg.score(X, y) > 0.9)
    True
    """
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on all rows of ``X``; rows whose target is NaN are unlabeled.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
(n_samples, n_samples)
            Training rows, or the kernel matrix if
            ``kernel='precomputed'``.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, NaN for unlabeled rows (a 2-D row is unlabeled when all
            its entries are NaN).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        prefix = message_prefix(self)
        X = self._validate_fit_X(X, y)
        y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False)
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{prefix}y must have shape (n_samples,) or (n_samples, "
                f"n_targets) with n_samples={X.shape[0]}, got {y.shape}."
            )
        if np.isinf(y).any():
            raise ValueError(
                f"{prefix}y contains infinity; mark unlabeled rows with NaN."
            )
        Y = y.reshape(y.shape[0], -1)
        missing = np.isnan(Y)
        unlabeled = missing.all(axis=1)
        if np.any(missing.any(axis=1) & ~unlabeled):
            raise ValueError(
                f"{prefix}y has rows with some but not all targets NaN; a row "
                "is unlabeled only when all its targets are NaN."
            )
        labeled = np.flatnonzero(~unlabeled)
        if labeled.size == 0:
            raise ValueError(
                f"{prefix}y has no labeled row (NaN marks unlabeled rows); at "
                "least one finite target is needed."
            )
        self._fit_targets(X, Y[labeled], labeled)
        self.transduction_ = (
            self._transduction.ravel() if y.ndim == 1 else self._transduction
        )
        self._ravel = y.ndim == 1
        del self._transduction
        return self

    def predict(self, X):
        """Predict targets of new rows (inductively).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new, n_features) or \
(n_new, n_samples)
            New rows, or their kernel with the training rows if
            ``kernel='precomputed'``.

        Returns
        -------
        y_pred : ndarray of shape (n_new,) or (n_new, n_targets)
            Predicted targets.
        """
        out = self._decision(X)
        return out.ravel() if self._ravel else out


class STKRClassifier(ClassifierMixin, _BaseSTKR):
    __doc__ = (
        """Spectrally transformed kernel classification (semi-supervised).

    Regresses the one-hot encoding of the labels with
    :class:`STKRRegressor`'s transformed kernel (all classes share one
    system) and predicts the class of the largest score. Rows labeled ``-1``
    are unlabeled.
"""
        + _SHARED_PARAMETERS
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen among the labeled rows.
    transduction_ : ndarray of shape (n_samples,)
        Predicted label of every training row, labeled or not.
"""
        + _SHARED_ATTRIBUTES
        + """
    See Also
    --------
    STKRRegressor : The regression model this classifier is built on.
    sklearn.semi_supervised.LabelSpreading : Transductive graph diffusion.
    sklearn.semi_supervised.SelfTrainingClassifier : Pseudo-labelling.

    Notes
    -----"""
        + _SHARED_NOTES
        + """
    Class scores are the regressions of the one-hot targets (one column per
    class, centred on the labeled rows). :meth:`predict_proba` clips the
    scores at 0 and normalises each row to sum 1; a row without a positive
    score gets probability 1 for its top class. These are normalised scores,
    not calibrated probabilities, and their argmax is always the prediction.

    References
    ----------"""
        + _REFERENCES
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_spectral.datasets import hide_labels
    >>> from sklearn_spectral.semi_supervised import STKRClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> y_semi = hide_labels(y, 15, unlabeled=-1, stratify=True, random_state=0)
    >>> clf = STKRClassifier(random_state=0).fit(X, y_semi)
    >>> clf.classes_
    array([0, 1, 2])
    >>> bool(clf.score(X, y) > 0.8)
    True
    """
    )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on all rows of ``X``; rows labeled ``-1`` are unlabeled.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
(n_samples, n_samples)
            Training rows, or the kernel matrix if
            ``kernel='precomputed'``.
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabeled rows.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        prefix = message_prefix(self)
        X = self._validate_fit_X(X, y)
        y = column_or_1d(y, warn=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{prefix}y must have n_samples={X.shape[0]} entries, got {y.shape[0]}."
            )
        unlabeled = np.asarray(y == -1, dtype=bool).reshape(-1)
        labeled = np.flatnonzero(~unlabeled)
        if labeled.size == 0:
            raise ValueError(f"{prefix}y has no labeled row (-1 marks unlabeled rows).")
        y_lab = y[labeled]
        if y_lab.dtype.kind == "f" and not np.all(np.isfinite(y_lab)):
            raise ValueError(
                f"{prefix}y contains NaN or infinity; class labels must be "
                "finite (-1 marks unlabeled rows)."
            )
        check_classification_targets(y_lab)
        self.classes_, codes = np.unique(y_lab, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"{prefix}needs labeled rows of at least two classes, got one "
                f"class: {self.classes_[0]!r}."
            )
        Y = np.zeros((labeled.size, self.classes_.shape[0]))
        Y[np.arange(labeled.size), codes] = 1.0
        self._fit_targets(X, Y, labeled)
        self.transduction_ = self.classes_[np.argmax(self._transduction, axis=1)]
        del self._transduction
        return self

    def predict(self, X):
        """Predict class labels of new rows (inductively).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new, n_features) or \
(n_new, n_samples)
            New rows, or their kernel with the training rows if
            ``kernel='precomputed'``.

        Returns
        -------
        y_pred : ndarray of shape (n_new,)
            Predicted labels.
        """
        scores = self._decision(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """Normalised class scores of new rows.

        Scores are clipped at 0 and each row divided by its sum; a row
        without a positive score puts probability 1 on its top class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new, n_features) or \
(n_new, n_samples)
            New rows, or their kernel with the training rows if
            ``kernel='precomputed'``.

        Returns
        -------
        proba : ndarray of shape (n_new, n_classes)
            Non-negative, rows sum to 1, columns in the order of ``classes_``.
        """
        scores = self._decision(X)
        P = np.maximum(scores, 0.0)
        total = P.sum(axis=1)
        empty = total <= 0
        if np.any(empty):
            P[empty] = 0.0
            P[empty, np.argmax(scores[empty], axis=1)] = 1.0
            total[empty] = 1.0
        return P / total[:, None]
