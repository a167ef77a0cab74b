"""K-means clustering by semidefinite programming (Peng-Wei relaxation)."""

import contextlib
import numbers
import time
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import euclidean_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._openmp_helpers import _openmp_effective_n_threads
from ..utils._threading import single_threaded_blas
from ..utils.validation import message_prefix
from ._sdp_kernels import (
    _min_entry_norm,
    _nlr_rescale,
    _nlr_step,
    _project_rows_simplex,
)

# Sizes at which solver="auto" switches from the full matrix to the low-rank
# factor, and from the low-rank factor to the subsample.
_EXACT_MAX = 500
_NLR_MAX = 50_000

# Below this many entries touched per solver step, the step takes a few
# milliseconds or less on one core: waking threads (BLAS or OpenMP) at every
# step costs more than it saves, and far more when the cores are shared with
# other processes (a thread that lost its core holds the others at the end of
# the parallel region for a whole time slice).
_PARALLEL_MIN_ENTRIES = 1 << 22


def _step_threads(n_entries, n_threads):
    """Threads for a solver step that touches ``n_entries`` values."""
    return max(n_threads, 1) if n_entries >= _PARALLEL_MIN_ENTRIES else 1


def _limit_blas(n_entries):
    """Context keeping BLAS on one thread for small solver steps."""
    if n_entries >= _PARALLEL_MIN_ENTRIES:
        return contextlib.nullcontext()
    return single_threaded_blas()


def _project_simplex(v, total):
    """Euclidean projection of the vector ``v`` onto ``{w >= 0, sum(w) = total}``."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - total
    idx = np.arange(1, u.size + 1)
    active = u - css / idx > 0
    rho = idx[active][-1]
    tau = css[rho - 1] / rho
    return np.maximum(v - tau, 0.0)


def _sq_norm(a):
    """Squared Frobenius norm of the contiguous array ``a``, by BLAS."""
    v = a.reshape(-1)
    return float(np.dot(v, v))


def _psd_trace_projection(M, total, n_top):
    """Project the symmetric ``M`` onto ``{Z PSD, tr Z = total}``.

    Only the top eigenpairs are computed: ``n_top`` of them, doubled until the
    next eigenvalue falls below the projection's threshold (so it would be
    set to zero anyway). Returns the projection and the ``n_top`` that sufficed.
    """
    n = M.shape[0]
    while True:
        m = min(n, n_top + 1)
        if m >= n:
            lam, V = linalg.eigh(M, overwrite_a=True, check_finite=False)
            lam_p = _project_simplex(lam, total)
            break
        lam, V = linalg.eigh(
            M, subset_by_index=(n - m, n - 1), driver="evr", check_finite=False
        )
        lam_p = _project_simplex(lam[1:], total)
        # Threshold tau of the projection: lam_p = max(lam - tau, 0).
        tau = (lam[1:] - lam_p)[lam_p > 0][0]
        if lam[0] <= tau:
            lam, V = lam[1:], V[:, 1:]
            break
        n_top = 2 * n_top
    keep = lam_p > 0
    Vk = V[:, keep]
    Z = (Vk * lam_p[keep]) @ Vk.T
    return Z, max(int(keep.sum()) + 1, 2)


def _admm(A, traces, *, tol, max_iter, n_threads, warm_start=None, verbose=0,
          name=""):
    """ADMM on ``max sum_b <A_b, Z_b>`` over PSD, nonnegative ``Z_b``.

    Constraints: ``tr Z_b = traces[b]`` and ``sum_b Z_b 1 = 1``. ``A`` has
    shape ``(B, n, n)`` and is used as given (the caller scales it). The
    splitting is ``Z_b = W_b`` with ``Z_b`` in the PSD-trace set and the rows of
    ``[W_1 | ... | W_B]`` on the unit simplex; the penalty ``rho`` is balanced
    between the primal and dual residuals every 20 steps.

    Returns ``Z, state, n_iter, converged``; ``state`` warm-starts a later call.
    """
    B, n, _ = A.shape
    if warm_start is None:
        W = np.full((B, n, n), 1.0 / (B * n))
        U = np.zeros((B, n, n))
        rho = 1.0
    else:
        W, U, rho = (warm_start[0].copy(), warm_start[1].copy(), warm_start[2])
    Z = np.empty_like(W)
    W_prev = np.empty_like(W)
    D = np.empty_like(W)
    M = np.empty((n, n))
    n_top = [max(2, int(np.ceil(t)) + 2) for t in traces]
    n_entries = B * n * n
    thr = _step_threads(n_entries, n_threads)
    converged = False
    it = 0
    with _limit_blas(n_entries):
        for it in range(1, max_iter + 1):
            for b in range(B):
                np.multiply(A[b], 1.0 / rho, out=M)
                M += W[b]
                M -= U[b]
                M += M.T
                M *= 0.5
                Z[b], n_top[b] = _psd_trace_projection(M, traces[b], n_top[b])
            W, W_prev = W_prev, W
            np.add(Z, U, out=W)
            _project_rows_simplex(W, thr)
            np.subtract(Z, W, out=D)
            U += D
            r = np.sqrt(_sq_norm(D))
            np.subtract(W, W_prev, out=D)
            s = rho * np.sqrt(_sq_norm(D))
            eps_pri = tol * max(1.0, np.sqrt(_sq_norm(Z)))
            eps_dual = tol * max(1.0, rho * np.sqrt(_sq_norm(U)))
            if verbose and (it % 100 == 0 or it == 1):
                print(f"{name}ADMM step {it}: primal residual {r:.3e}, "
                      f"dual residual {s:.3e}, rho {rho:.3g}")
            if r <= eps_pri and s <= eps_dual:
                converged = True
                break
            if it % 20 == 0:
                if r > 10 * s:
                    rho *= 2.0
                    U *= 0.5
                elif s > 10 * r:
                    rho *= 0.5
                    U *= 2.0
    return Z, (W, U, rho), it, converged


def _nlr(apply_A, U, widths, traces, *, lipschitz, tol, max_iter, n_threads,
         beta=1.0, verbose=0, name=""):
    """Projected gradient on ``Z_b = U_b U_b^T`` inside an augmented Lagrangian.

    ``U`` (n x r, nonnegative) stacks the blocks ``U_b`` column-wise, block
    ``b`` being ``widths[b]`` columns with ``||U_b||_F^2 = traces[b]``. The
    objective is ``-sum_b <A_b, U_b U_b^T>``, with ``apply_A(U)`` returning the
    stacked ``A_b U_b``; the constraint ``U (U^T 1) = 1`` enters through the
    multiplier ``y`` and the penalty ``beta / 2 ||U U^T 1 - 1||^2``. The step is
    ``1 / lipschitz``; ``y`` takes a dual ascent step ``beta (U U^T 1 - 1)``
    after every primal step (waiting for the primal change to be small
    instead made the iterates oscillate on likelihood-adjusted programs).

    Returns ``U, n_iter, converged, feasibility``.
    """
    n, r = U.shape
    U = np.array(U, dtype=np.float64, order="C")
    starts = np.concatenate([[0], np.cumsum(widths)])
    traces = np.asarray(traces, dtype=np.float64)
    total = float(traces.sum())
    n_entries = n * r
    thr = _step_threads(n_entries, n_threads)
    P = np.empty_like(U)
    # Per-thread accumulators, rows padded apart so that threads do not write
    # to the same cache line.
    col_sum = np.zeros((thr, r + 8))
    col_sq = np.zeros((thr, r + 8))
    residual = np.empty(n)
    s = U.sum(axis=0)
    np.dot(U, s, out=residual)
    residual -= 1.0
    y = np.zeros(n)
    y_tilde = np.empty(n)
    inv_l = 1.0 / lipschitz
    converged = False
    rel = feas = np.inf
    it = 0
    with _limit_blas(n_entries):
        for it in range(1, max_iter + 1):
            np.multiply(residual, beta, out=y_tilde)
            y_tilde += y
            M = apply_A(U)
            M *= -2.0
            t = y_tilde @ U
            while True:
                _nlr_step(U, M, y_tilde, s, t, inv_l, P, col_sum, col_sq, thr)
                sq = col_sq[:, :r].sum(axis=0)
                block_sq = np.add.reduceat(sq, starts[:-1])
                if np.all(block_sq > 0):
                    break
                inv_l *= 0.5
            scale = np.repeat(np.sqrt(traces / block_sq), widths)
            s = scale * col_sum[:, :r].sum(axis=0)
            diff_sq, res_sq = _nlr_rescale(P, scale, s, U, residual, thr)
            U, P = P, U
            rel = np.sqrt(diff_sq / total)
            feas = np.sqrt(res_sq / n)
            y += beta * residual
            if verbose and (it % 100 == 0 or it == 1):
                print(f"{name}low-rank step {it}: change {rel:.3e}, "
                      f"row-sum residual {feas:.3e}")
            if max(rel, feas) < tol:
                converged = True
                break
    return U, it, converged, feas


def _check_fit_input(estimator, X, min_samples, expected):
    """Validate ``X`` for ``fit`` and set up the draws and threads.

    ``expected`` names the lower bound ``min_samples`` in the error message
    (for instance ``"n_clusters=3"``). Returns ``X`` (validated, original
    dtype), ``X`` as float64, the random state and the OpenMP thread count.
    """
    X = validate_data(estimator, X, dtype=[np.float64, np.float32])
    n = X.shape[0]
    if n < min_samples:
        raise ValueError(
            f"{message_prefix(estimator)}n_samples={n} should be >= {expected}."
        )
    rng = check_random_state(estimator.random_state)
    X64 = np.asarray(X, dtype=np.float64)
    return X, X64, rng, _openmp_effective_n_threads()


def _auto_solver(solver, n, exact_max, nlr_max=_NLR_MAX):
    """Resolve ``solver='auto'`` for ``n`` rows."""
    if solver != "auto":
        return solver
    if n <= exact_max:
        return "exact"
    return "nlr" if n <= nlr_max else "sketch"


def _warn_not_converged(estimator, solver, max_iter_name, tol_name):
    """ConvergenceWarning for a solve that stopped at its step limit."""
    warnings.warn(
        f"{message_prefix(estimator)}the {solver} solver did not converge in "
        f"{max_iter_name}={getattr(estimator, max_iter_name)} steps; increase "
        f"{max_iter_name} or {tol_name}.",
        ConvergenceWarning,
    )


def _nlr_normalised(apply_A, norm, U, widths, traces, **kwargs):
    """:func:`_nlr` on ``A`` rescaled to spectral norm ``n`` (``norm = ||A||_2``).

    With that scale the step ``1 / ((2 + 4 beta) n)``, ``beta = 1``, does not
    depend on the units of the data or on the number of rows.
    """
    n = U.shape[0]
    factor = n / norm if norm > 0 else 1.0
    beta = 1.0

    def apply_scaled(V):
        out = apply_A(V)
        out *= factor
        return out

    return _nlr(apply_scaled, U, widths, traces,
                lipschitz=(2.0 + 4.0 * beta) * n, beta=beta, **kwargs)


def _spectral_embedding_of_factor(F, k):
    """Rows of the best rank-``k`` factor of ``F F^T`` (``F`` is n x r)."""
    Uf, sv, _ = linalg.svd(F, full_matrices=False, check_finite=False)
    return Uf[:, :k] * sv[:k]


class SDPKMeans(
    ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator
):
    """K-means clustering by the Peng-Wei semidefinite relaxation.

    K-means is rewritten as the maximisation of ``<A, Z>``, ``A = X_c X_c^T``
    the Gram matrix of the centred data, over normalised membership matrices
    ``Z = sum_k 1_{G_k} 1_{G_k}^T / n_k``; relaxing them to

        ``Z`` positive semidefinite, ``Z >= 0`` entrywise, ``Z 1 = 1``,
        ``tr Z = n_clusters``

    gives a convex problem whose solution is the planted partition's ``Z``
    whenever the clusters are separated beyond the information-theoretic
    cutoff for exact recovery, where Lloyd's algorithm can still stall in a
    local optimum. Labels are read off the solution by a rounding step.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.

    solver : {'auto', 'exact', 'nlr', 'sketch'}, default='auto'
        - 'exact': ADMM on the full ``n x n`` matrix (``O(n^3)`` time per
          step, ``O(n^2)`` memory); certifies the optimum.
        - 'nlr': nonnegative low-rank factor ``Z = U U^T``, ``U >= 0`` of
          ``rank`` columns, by projected gradient inside an augmented
          Lagrangian; ``O(n p r)`` per step and no ``n x n`` matrix.
        - 'sketch': solve the relaxation on a uniform subsample of
          ``sketch_fraction * n`` rows (at least ``10 * n_clusters``), then
          give every row the label of its nearest subsample centre.
        - 'auto': 'exact' up to 500 rows, 'nlr' up to 50 000, 'sketch' above,
          so that the cost stays near linear in ``n_samples``.

    rank : int, default=None
        Columns of the low-rank factor ('nlr', and 'sketch' on subsamples of
        more than 500 rows). None uses ``2 * n_clusters``, which leaves room
        to escape poor stationary points at little cost.

    sketch_fraction : float in (0, 1], default=0.1
        Fraction of the rows solved for by the 'sketch' solver.

    max_iter : int, default=5000
        Maximum number of solver steps.

    tol : float, default=1e-4
        Tolerance on the relative primal and dual residuals ('exact') or on
        the relative change of the factor and the row-sum residual ('nlr').

    rounding : {'spectral', 'centroid'}, default='spectral'
        How labels are read off the solution ``Z``:

        - 'spectral': k-means on the rows of the top ``n_clusters``
          eigenvectors of ``Z`` scaled by their eigenvalues.
        - 'centroid': k-means on the denoised points ``Z X_c``; each point
          takes the label of the nearest resulting centre.

        Both return the planted partition when ``Z`` is block-constant.

    n_init : int, default=10
        Number of k-means++ restarts of the rounding step; matters only when
        ``Z`` is not block-constant (below the recovery cutoff).

    random_state : int, RandomState instance or None, default=None
        Seeds the low-rank starting point, the subsample and the rounding.

    verbose : int, default=0
        Print the solver's residuals every 100 steps when positive.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Mean of the rows of each cluster, in the units of ``X``.

    labels_ : ndarray of shape (n_samples,)
        Label of each row (from the rounding step).

    objective_ : float
        ``||X_c||_F^2 - <A, Z>`` at the returned ``Z`` (on the subsample for
        'sketch'). At the optimum of the relaxation it bounds the inertia of
        every partition from below, with equality when the relaxation is
        tight.

    inertia_ : float
        Sum of squared distances of the rows to the centre of their cluster.

    primal_infeasibility_ : float
        ``(||Z 1 - 1||_2 + ||min(Z, 0)||_F) / sqrt(n)`` at the returned ``Z``.

    n_iter_ : int
        Number of solver steps.

    solver_ : str
        The solver used ('exact', 'nlr' or 'sketch').

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.cluster.KMeans : Lloyd's algorithm with k-means++ seeding.
    SDPGaussianMixture : Likelihood-adjusted SDP for clusters of different
        covariances.

    Notes
    -----
    The 'exact' solver scales ``A`` to unit spectral norm and runs ADMM with
    the splitting ``Z = W``: ``Z`` is projected onto the PSD matrices of trace
    ``n_clusters`` (top eigenpairs only) and each row of ``W`` onto the unit
    simplex. The 'nlr' solver rescales the data so that ``||A||_2 = n`` and
    takes the step ``1 / ((2 + 4 beta) n)`` with ``beta = 1``, which does not
    depend on the units or the number of rows.

    ``predict`` assigns new rows to the nearest centre. Below the recovery
    cutoff the rounding is not the nearest-centre partition, so
    ``predict(X)`` may differ from ``labels_`` at a few boundary rows.

    References
    ----------
    .. [1] J. Peng and Y. Wei, "Approximating K-means-type clustering via
       semidefinite programming", SIAM J. Optim., 18(1), 2007.
    .. [2] Y. Zhuang, X. Chen, Y. Yang and R. Y. Zhang, "Statistically optimal
       K-means clustering via nonnegative low-rank semidefinite programming",
       ICLR 2024.
    .. [3] Y. Zhuang, X. Chen and Y. Yang, "Sketch-and-lift: scalable
       subsampled semidefinite program for K-means clustering", AISTATS 2022.
    .. [4] X. Chen and Y. Yang, "Cutoff for exact recovery of Gaussian mixture
       models", IEEE Trans. Inf. Theory, 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.cluster import SDPKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = SDPKMeans(n_clusters=2, random_state=0).fit(X)
    >>> bool(km.labels_[0] != km.labels_[3])
    True
    >>> bool(np.all(km.labels_[:3] == km.labels_[0]))
    True
    >>> km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])]
    array([[ 1.,  2.],
           [10.,  2.]])
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "exact", "nlr", "sketch"})],
        "rank": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sketch_fraction": [Interval(numbers.Real, 0, 1, closed="right")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "rounding": [StrOptions({"spectral", "centroid"})],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        solver="auto",
        rank=None,
        sketch_fraction=0.1,
        max_iter=5000,
        tol=1e-4,
        rounding="spectral",
        n_init=10,
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.solver = solver
        self.rank = rank
        self.sketch_fraction = sketch_fraction
        self.max_iter = max_iter
        self.tol = tol
        self.rounding = rounding
        self.n_init = n_init
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Solve the relaxation and round it to ``n_clusters`` clusters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        K = self.n_clusters
        X, X64, rng, n_threads = _check_fit_input(self, X, K, f"n_clusters={K}")
        n = X.shape[0]
        solver = _auto_solver(self.solver, n, _EXACT_MAX)
        self.solver_ = solver
        t0 = time.perf_counter()
        if solver == "sketch":
            m = min(n, max(int(np.ceil(self.sketch_fraction * n)), 10 * K))
            idx = np.sort(rng.choice(n, size=m, replace=False))
            sub_solver = "exact" if m <= _EXACT_MAX else "nlr"
            sub_labels = self._solve_and_round(X64[idx], sub_solver, rng, n_threads)
            centers = np.vstack(
                [X64[idx][sub_labels == k].mean(axis=0) for k in range(K)]
            )
            labels = euclidean_distances(X64, centers, squared=True).argmin(axis=1)
        else:
            labels = self._solve_and_round(X64, solver, rng, n_threads)
        self.labels_ = labels.astype(np.int64)
        centers = np.zeros((K, X.shape[1]))
        for k in range(K):
            members = self.labels_ == k
            if np.any(members):
                centers[k] = X64[members].mean(axis=0)
        self.cluster_centers_ = centers.astype(X.dtype, copy=False)
        self.inertia_ = float(
            np.sum((X64 - centers[self.labels_]) ** 2)
        )
        used = np.bincount(self.labels_, minlength=K) > 0
        n_distinct = np.unique(centers[used], axis=0).shape[0]
        if n_distinct < K:
            warnings.warn(
                f"{message_prefix(self)}number of distinct clusters "
                f"({n_distinct}) found smaller than n_clusters ({K}); possibly "
                "due to duplicate points in X.",
                ConvergenceWarning,
            )
        if self.verbose:
            print(f"SDPKMeans: {solver} solver, {self.n_iter_} steps, objective "
                  f"{self.objective_:.6g}, inertia {self.inertia_:.6g}, "
                  f"{time.perf_counter() - t0:.2f} s")
        return self

    def _solve_and_round(self, X, solver, rng, n_threads):
        """Solve the relaxation on ``X`` (float64) and return its rounded labels.

        Sets ``objective_``, ``primal_infeasibility_`` and ``n_iter_``.
        """
        n = X.shape[0]
        K = self.n_clusters
        Xc = X - X.mean(axis=0)
        total = float(np.sum(Xc**2))
        spec = linalg.norm(Xc, 2) if Xc.size else 0.0
        spec_sq = spec**2
        kmeans_seed = rng.randint(np.iinfo(np.int32).max)
        name = message_prefix(self)
        if K == 1:
            self.objective_ = total
            self.primal_infeasibility_ = 0.0
            self.n_iter_ = 0
            return np.zeros(n, dtype=np.int64)
        if solver == "exact":
            A = Xc @ Xc.T
            scale = spec_sq if spec_sq > 0 else 1.0
            Z, _, n_iter, converged = _admm(
                (A / scale)[None], [float(K)], tol=self.tol,
                max_iter=self.max_iter, n_threads=n_threads,
                verbose=self.verbose, name=name,
            )
            Z = Z[0]
            self.objective_ = total - float(np.sum(A * Z))
            self.primal_infeasibility_ = float(
                (np.linalg.norm(Z.sum(axis=1) - 1.0) + _min_entry_norm(Z))
                / np.sqrt(n)
            )
            if self.rounding == "spectral":
                lam, V = linalg.eigh(Z, subset_by_index=(n - K, n - 1))
                embedding = V * np.sqrt(np.maximum(lam, 0.0))
            else:
                embedding = Z @ Xc
        else:
            r = self.rank if self.rank is not None else 2 * K
            r = min(r, n)
            U0 = np.abs(rng.standard_normal((n, r)))
            U0 *= np.sqrt(K) / np.linalg.norm(U0)
            U, n_iter, converged, feas = _nlr_normalised(
                lambda U: Xc @ (Xc.T @ U), spec_sq, U0, [r], [float(K)],
                tol=self.tol, max_iter=self.max_iter, n_threads=n_threads,
                verbose=self.verbose, name=name,
            )
            self.objective_ = total - float(np.sum((Xc.T @ U) ** 2))
            self.primal_infeasibility_ = float(feas)
            if self.rounding == "spectral":
                embedding = _spectral_embedding_of_factor(U, K)
            else:
                embedding = U @ (U.T @ Xc)
        self.n_iter_ = int(n_iter)
        if not converged:
            _warn_not_converged(self, solver, "max_iter", "tol")
        km = KMeans(n_clusters=K, n_init=self.n_init, random_state=kmeans_seed)
        labels = km.fit_predict(embedding)
        if self.rounding == "centroid":
            centers = km.cluster_centers_
            labels = euclidean_distances(Xc, centers, squared=True).argmin(axis=1)
        return labels

    def predict(self, X):
        """Label of the nearest cluster centre for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the nearest centre.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        d = euclidean_distances(X, self.cluster_centers_, squared=True)
        return d.argmin(axis=1).astype(np.int64)

    def transform(self, X):
        """Euclidean distances of the rows of ``X`` to the cluster centres.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
            Distance of each row to each centre.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return euclidean_distances(X, self.cluster_centers_)

    def score(self, X, y=None):
        """Opposite of the inertia of ``X`` against the cluster centres.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the sum of squared distances of the rows of ``X`` to their
            nearest centre, as :meth:`sklearn.cluster.KMeans.score`; on the
            training data it is ``-inertia_`` when ``predict(X)`` equals
            ``labels_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        d = euclidean_distances(
            np.asarray(X, dtype=np.float64),
            np.asarray(self.cluster_centers_, dtype=np.float64),
            squared=True,
        )
        return -float(d.min(axis=1).sum())

    @property
    def _n_features_out(self):
        """Number of columns of :meth:`transform`, for feature names."""
        return self.cluster_centers_.shape[0]

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels from the rounding step.
        """
        return self.fit(X).labels_
