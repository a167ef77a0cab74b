"""Gaussian mixture clustering by likelihood-adjusted semidefinite programs."""

import itertools
import math
import numbers
import warnings

import numpy as np
from scipy import linalg
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.covariance import ledoit_wolf
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils.validation import message_prefix
from ._sdp_kmeans import (
    SDPKMeans,
    _admm,
    _check_fit_input,
    _nlr_normalised,
    _warn_not_converged,
)

_LOG_2PI = np.log(2 * np.pi)
# Split-and-merge moves refitted per round, best ranked first.
_SPLIT_MERGE_TRIES = 3


def _cluster_covariance(Xk, covariance_type, reg_covar):
    """Covariance of the rows ``Xk`` as a full matrix, regularised.

    With at most ``2 p`` rows the empirical estimate is replaced by the
    Ledoit-Wolf shrinkage estimate, which stays well conditioned.
    """
    nk, p = Xk.shape
    Xc = Xk - Xk.mean(axis=0)
    if covariance_type == "full":
        if nk <= 2 * p:
            cov = ledoit_wolf(Xc, assume_centered=True)[0]
        else:
            cov = Xc.T @ Xc / nk
    else:
        var = np.mean(Xc**2, axis=0)
        if covariance_type == "spherical":
            var = np.full(p, var.mean())
        cov = np.diag(var)
    cov = cov + reg_covar * np.eye(p)
    return cov


def _cholesky_or_raise(cov, name):
    """Lower Cholesky factor of ``cov``; a clear error when it is not definite."""
    try:
        return linalg.cholesky(cov, lower=True)
    except linalg.LinAlgError:
        raise ValueError(
            f"{name}fitting failed because a component has an ill-defined "
            "covariance (for instance caused by singleton or collapsed "
            "samples). Decrease n_components, increase reg_covar, or scale "
            "the input data."
        ) from None


class _Params:
    """Means, full covariances and their Cholesky factors for given labels.

    ``name`` starts the error raised when a covariance is not positive
    definite.
    """

    def __init__(self, X, labels, K, covariance_type, reg_covar, name=""):
        n, p = X.shape
        self.counts = np.bincount(labels, minlength=K)
        self.means = np.zeros((K, p))
        self.covs = np.zeros((K, p, p))
        self.chol = np.zeros((K, p, p))
        for k in range(K):
            Xk = X[labels == k]
            self.means[k] = Xk.mean(axis=0)
            self.covs[k] = _cluster_covariance(Xk, covariance_type, reg_covar)
            self.chol[k] = _cholesky_or_raise(self.covs[k], name)
        self.logdet = 2 * np.log(np.diagonal(self.chol, axis1=1, axis2=2)).sum(axis=1)

    def whiten(self, X, k):
        """Rows of ``X L_k^{-T}``."""
        return linalg.solve_triangular(self.chol[k], X.T, lower=True).T

    def profiled_log_likelihood(self, X, labels):
        """Mean log N(x_i; mu_{z_i}, Sigma_{z_i}) over the rows."""
        n, p = X.shape
        total = 0.0
        for k in range(len(self.counts)):
            Wk = self.whiten(X[labels == k] - self.means[k], k)
            total += np.sum(Wk**2) + self.counts[k] * self.logdet[k]
        return -0.5 * total / n - 0.5 * p * _LOG_2PI


def _num_rows(X):
    """Number of rows of an array-like or a sparse matrix."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _min_component_rows(n_features, covariance_type):
    """Fewest rows (or rows of weight) that give a trustworthy covariance.

    More than ``2 p`` for 'full', 2 otherwise; with fewer the estimate is
    poorly conditioned and the likelihood can grow without bound.
    """
    return 2 * n_features + 1 if covariance_type == "full" else 2


def _log_gaussians(X, means, chol):
    """``log N(x_i; means_k, L_k L_k^T)`` for every row and component."""
    n, p = X.shape
    K = means.shape[0]
    out = np.empty((n, K))
    for k in range(K):
        Wk = linalg.solve_triangular(chol[k], (X - means[k]).T, lower=True)
        logdet = 2 * np.log(np.diagonal(chol[k])).sum()
        out[:, k] = -0.5 * (np.sum(Wk**2, axis=0) + logdet + p * _LOG_2PI)
    return out


def _em_refine(X, weights, means, covs, covariance_type, reg_covar, max_iter, tol):
    """EM on the Gaussian mixture started from the given parameters.

    Returns ``(weights, means, covs, chol, log_resp, mean_log_likelihood,
    n_iter)``, or None when a component's weight falls to fewer than
    ``2 p + 1`` rows ('full') or 2 rows (otherwise): with fewer the
    covariance estimate is not trustworthy and the likelihood can grow
    without bound, so the caller keeps its partition.
    """
    n, p = X.shape
    K = means.shape[0]
    min_count = _min_component_rows(p, covariance_type)
    chol = np.stack([linalg.cholesky(c, lower=True) for c in covs])
    log_prob = _log_gaussians(X, means, chol) + np.log(weights)
    log_norm = logsumexp(log_prob, axis=1)
    value = float(log_norm.mean())
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        resp = np.exp(log_prob - log_norm[:, None])
        nk = resp.sum(axis=0)
        if nk.min() < min_count:
            return None
        weights = nk / n
        means = (resp.T @ X) / nk[:, None]
        covs = np.empty((K, p, p))
        for k in range(K):
            D = X - means[k]
            if covariance_type == "full":
                cov = (resp[:, k] * D.T) @ D / nk[k]
            else:
                var = resp[:, k] @ D**2 / nk[k]
                if covariance_type == "spherical":
                    var = np.full(p, var.mean())
                cov = np.diag(var)
            covs[k] = cov + reg_covar * np.eye(p)
        try:
            chol = np.stack([linalg.cholesky(c, lower=True) for c in covs])
        except linalg.LinAlgError:
            return None
        log_prob = _log_gaussians(X, means, chol) + np.log(weights)
        log_norm = logsumexp(log_prob, axis=1)
        previous, value = value, float(log_norm.mean())
        if value - previous < tol:
            break
    log_resp = log_prob - log_norm[:, None]
    return weights, means, covs, chol, log_resp, value, n_iter


def _mixture_score(X, weights, means, chol):
    """Mean log-density of the rows under ``sum_k weights_k N(means_k, L_k L_k^T)``."""
    log_prob = _log_gaussians(X, means, chol) + np.log(weights)
    return float(logsumexp(log_prob, axis=1).mean())


def _cluster_term(Xk, n, covariance_type, reg_covar):
    """One cluster's share of the classification log-likelihood.

    ``n_k log(n_k / n) - n_k log det(Sigma_k) / 2``: with the maximum
    likelihood mean and covariance the quadratic term is ``n_k p / 2``
    whatever the cluster, so it drops out of differences between partitions
    of the same rows.
    """
    nk = Xk.shape[0]
    logdet = np.linalg.slogdet(_cluster_covariance(Xk, covariance_type, reg_covar))[1]
    return nk * np.log(nk / n) - 0.5 * nk * logdet


def _split_merge_candidates(
    X, labels, K, covariance_type, reg_covar, min_gain, limit, rng
):
    """Partitions one split-and-merge move away from ``labels``, best first.

    A move merges two clusters ``a`` and ``b`` and splits a third, ``c``, in
    two by 2-means, so that the number of clusters stays ``K``. This is the
    local optimum an alternating method cannot leave by moving single rows:
    one true cluster cut in two while two others share a label (K-means
    starts do this to one broad cluster beside two tight ones). Moves are
    ranked by the gain in classification log-likelihood (``_cluster_term``),
    and the best ``limit`` of those gaining more than ``min_gain`` are
    returned (every move is ranked; only those are built). Each split
    keeps more than ``2 p`` rows on either side ('full'; 2 otherwise), the
    fewest that give a trustworthy covariance.
    """
    n, p = X.shape
    if K < 3:
        return []
    min_count = _min_component_rows(p, covariance_type)
    members = [np.flatnonzero(labels == k) for k in range(K)]
    term = [_cluster_term(X[m], n, covariance_type, reg_covar) for m in members]
    splits = {}
    for c, rows in enumerate(members):
        if rows.size < 2 * min_count:
            continue
        seed = rng.randint(np.iinfo(np.int32).max)
        halves = KMeans(2, n_init=3, random_state=seed).fit_predict(X[rows])
        if np.bincount(halves, minlength=2).min() < min_count:
            continue
        gain = sum(
            _cluster_term(X[rows[halves == h]], n, covariance_type, reg_covar)
            for h in (0, 1)
        ) - term[c]
        splits[c] = (gain, rows[halves == 1])
    moves = []
    for a, b in itertools.combinations(range(K), 2):
        merged = np.concatenate((members[a], members[b]))
        merge = (_cluster_term(X[merged], n, covariance_type, reg_covar)
                 - term[a] - term[b])
        for c, (split, moved) in splits.items():
            if c not in (a, b) and merge + split > min_gain:
                moves.append((merge + split, a, b, moved))
    moves.sort(key=lambda move: -move[0])
    candidates = []
    for _, a, b, moved in moves[:limit]:
        new = labels.copy()
        new[labels == b] = a
        new[moved] = b
        candidates.append(new)
    return candidates


def _operator_norm(apply, n, rng, n_iter=30):
    """Power-iteration estimate of the spectral norm of a symmetric operator."""
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    norm = 0.0
    for _ in range(n_iter):
        w = apply(v)
        norm = np.linalg.norm(w)
        if norm == 0:
            return 0.0
        v = w / norm
    return norm


class SDPGaussianMixture(ClusterMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture clustering by iterated likelihood-adjusted SDPs.

    The classification likelihood of a Gaussian mixture with the means
    profiled out is linear in one normalised membership matrix per cluster,
    ``Z_k = 1_{G_k} 1_{G_k}^T / n_k``. Relaxing every ``Z_k`` to a positive
    semidefinite, entrywise nonnegative matrix of unit trace, with
    ``sum_k Z_k 1 = 1``, gives a semidefinite program for fixed covariances.
    The estimator alternates that program with re-estimating the cluster
    covariances from its labels, so that clusters which differ in shape or
    scale but not in location can be told apart, which K-means and its
    relaxations cannot do.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components (clusters).

    covariance_type : {'full', 'diag', 'spherical'}, default='full'
        Form of each component's covariance: any, diagonal, or a multiple of
        the identity.

    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, so that it stays positive
        definite.

    max_iter : int, default=20
        Maximum number of outer steps (SDP solve, then covariance update).

    tol : float, default=1e-4
        The outer loop stops when the labels stop changing or the profiled
        log-likelihood per row improves by less than ``tol``.

    init_params : {'sdp', 'k-means++'}, default='sdp'
        Starting labels: those of :class:`SDPKMeans`, or of one k-means++
        run of :class:`~sklearn.cluster.KMeans`. 'sdp' is the default
        because it does not depend on a random start.

    n_init : int, default=2
        Number of starts; the fit of the largest mixture log-likelihood is
        kept. The first start is ``init_params``, the others k-means++ runs
        with different seeds (the SDP start does not depend on the seed).
        Two by default because the SDP start cuts clusters that share a
        mean by a hyperplane, a partition the outer loop can stay in, where
        a k-means++ start often is not.

    solver : {'auto', 'exact', 'nlr'}, default='auto'
        - 'exact': ADMM on the ``n_components`` full ``n x n`` matrices
          (``O(K n^3)`` per step, ``O(K n^2)`` memory).
        - 'nlr': one nonnegative factor ``Z_k = U_k U_k^T`` of ``rank`` columns
          per component, by projected gradient inside an augmented
          Lagrangian; ``O(K n p r)`` per step and no ``n x n`` matrix.
        - 'auto': 'nlr' at every size. Each solve only has to give the
          labels of the next outer step, and at 200 rows both solvers gave
          the same labels and likelihood on every measured design, 'nlr'
          about ten times faster.

    rank : int, default=None
        Columns of each factor for the 'nlr' solver. None uses 2, enough
        for a block that should converge to rank one.

    sdp_max_iter : int, default=5000
        Maximum number of solver steps per SDP solve.

    sdp_tol : float, default=1e-3
        Tolerance of each SDP solve, including that of the 'sdp' start (see
        :class:`SDPKMeans`). Looser than SDPKMeans' default because the
        outer loop re-solves from the labels: 1e-4 gave the same fits at two
        to four times the cost.

    em_max_iter : int, default=100
        Maximum number of EM steps on the mixture likelihood, started from
        the SDP partition once the outer loop stops (the stopping rule is
        ``tol`` on the mean log-likelihood per row). The refined mixture is
        kept only when it raises the mixture log-likelihood of the SDP
        partition's Gaussians and every component keeps more than ``2 p``
        rows of weight ('full'; 2 otherwise); ``labels_`` are then its most
        probable components. 0 keeps the SDP partition as it is.

    split_merge_max_iter : int, default=10
        Maximum number of split-and-merge moves refitted once the first fit
        stops (3 components or more). A move merges two clusters and splits
        a third in two; moves that raise the classification likelihood are
        refitted from their partition, best first, and one is kept when the
        refitted mixture's log-likelihood exceeds the current one by
        ``tol``. It leaves the local optimum where one broad cluster is cut
        in two while two tight ones share a label, which the outer loop and
        EM cannot leave by moving single rows. On data where no move gains,
        nothing is refitted. 0 turns the moves off.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial labels and the low-rank starting point.

    verbose : int, default=0
        Print the profiled log-likelihood at every outer step when positive,
        and the SDP solver's residuals when larger than 1.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Most probable component of each row under the EM-refined mixture, or
        the SDP partition when the refinement is off or not kept.

    sdp_labels_ : ndarray of shape (n_samples,)
        Partition found by the SDP outer loop, before the EM refinement.

    weights_ : ndarray of shape (n_components,)
        Mixture weights: those of the EM refinement, or the fraction of the
        rows in each cluster of the SDP partition.

    means_ : ndarray of shape (n_components, n_features)
        Mean of each cluster.

    covariances_ : array-like
        Covariance of each cluster; shape ``(n_components, n_features,
        n_features)`` for 'full', ``(n_components, n_features)`` for 'diag',
        ``(n_components,)`` for 'spherical'.

    precisions_cholesky_ : array-like
        Cholesky factors of the precision matrices, with the shapes of
        ``covariances_``: for 'full', ``precision = P P^T`` with ``P =
        L^{-T}``, ``L`` the lower Cholesky factor of the covariance.

    precisions_ : array-like
        Inverses of the covariances, with the shapes of ``covariances_``.
        ``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``
        and ``precisions_`` have the dtype of ``X`` (float32 or float64).

    n_iter_ : int
        Number of outer steps taken (1 when ``n_components=1``: the Gaussian
        fit itself).

    n_em_iter_ : int
        Number of EM steps of the kept refinement (0 when not kept).

    n_split_merge_ : int
        Number of split-and-merge moves kept.

    converged_ : bool
        Whether the outer loop stopped on its criterion before ``max_iter``.

    log_likelihood_ : float
        Mean log-density of every row under the Gaussian of its label in
        ``labels_``.

    lower_bound_ : float
        ``log_likelihood_ + sum_k (n_k / n) log weights_k``, ``n_k`` the rows
        labelled ``k``: a lower bound on ``score(X)`` of the training data.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    SDPKMeans : The Peng-Wei SDP, for clusters of equal spherical covariance.
    sklearn.mixture.GaussianMixture : The same model fitted by EM.

    Notes
    -----
    For covariances ``Sigma_k = L_k L_k^T``, ``W_k = X_c L_k^{-T}`` and
    ``d_k`` the squared row norms of ``W_k``, the program maximises
    ``sum_k <A_k, Z_k>`` with ``A_k = W_k W_k^T - (d_k 1^T + 1 d_k^T) / 2 -
    log det(Sigma_k) 1 1^T``. Labels are ``argmax_k (Z_k 1)_i``. Each SDP
    solve is warm-started from the previous one. With at most ``2 p`` rows
    in a cluster its covariance is the Ledoit-Wolf shrinkage estimate; a
    cluster left with fewer than two rows stops the loop with a
    :class:`~sklearn.exceptions.ConvergenceWarning`.

    The SDP partition is a hard classification; its cluster covariances are
    biased where clusters overlap (the broad cluster loses the rows near the
    tight one), so a few EM steps from it on the mixture likelihood usually
    move the boundary to where the mixture puts it. When the SDP recovers
    the clusters exactly, EM starts at the true partition's estimates.

    The outer loop and EM improve a partition by moving rows one at a time,
    so they keep a partition that cuts one true cluster in two while two
    others share a label. A split-and-merge move (merge two clusters, split
    a third by 2-means) reaches the better partition in one step; the moves
    that raise the classification likelihood, which costs a few
    covariances per move to rank, are refitted from their partition, and a
    refit is kept only when it raises the mixture log-likelihood, so
    ``score(X)`` never falls because of them.

    ``predict``, ``predict_proba`` and ``score_samples`` use the fitted
    mixture ``sum_k weights_k N(x; means_k, covariances_k)``, as
    :class:`~sklearn.mixture.GaussianMixture` does; ``predict(X)`` equals
    ``labels_`` on the training data when the refinement is kept, and may
    differ at a few rows otherwise.

    References
    ----------
    .. [1] Y. Zhuang, X. Chen and Y. Yang, "Likelihood adjusted semidefinite
       programs for clustering heterogeneous data", ICML 2023.
    .. [2] Y. Zhuang, X. Chen, Y. Yang and R. Y. Zhang, "Statistically optimal
       K-means clustering via nonnegative low-rank semidefinite programming",
       ICLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.cluster import SDPGaussianMixture
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(40, 2), 6 + rng.randn(40, 2)])
    >>> gm = SDPGaussianMixture(n_components=2, random_state=0).fit(X)
    >>> (np.sort(np.round(gm.means_[:, 0])) + 0.0).tolist()
    [0.0, 6.0]
    >>> bool(gm.predict([[0, 0], [6, 6]])[0] != gm.predict([[6, 6]])[0])
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "reg_covar": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init_params": [StrOptions({"sdp", "k-means++"})],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "exact", "nlr"})],
        "rank": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sdp_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "sdp_tol": [Interval(numbers.Real, 0, None, closed="left")],
        "em_max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "split_merge_max_iter": [
            Interval(numbers.Integral, 0, None, closed="left")
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        reg_covar=1e-6,
        max_iter=20,
        tol=1e-4,
        init_params="sdp",
        n_init=2,
        solver="auto",
        rank=None,
        sdp_max_iter=5000,
        sdp_tol=1e-3,
        em_max_iter=100,
        split_merge_max_iter=10,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.tol = tol
        self.init_params = init_params
        self.n_init = n_init
        self.solver = solver
        self.rank = rank
        self.sdp_max_iter = sdp_max_iter
        self.sdp_tol = sdp_tol
        self.em_max_iter = em_max_iter
        self.split_merge_max_iter = split_merge_max_iter
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Alternate the likelihood-adjusted SDP and the covariance estimates.

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
        K = self.n_components
        pre = message_prefix(self)
        X, X64, rng, n_threads = _check_fit_input(
            self, X, max(K, 2), f"max(n_components, 2)={max(K, 2)}"
        )
        # Distinct rows are counted on all of X only if the first rows hold
        # fewer than K (sorting 1e6 rows takes a second).
        n_distinct = 1
        if K > 1:
            n_distinct = np.unique(X64[: max(1000, 20 * K)], axis=0).shape[0]
            if n_distinct < K:
                n_distinct = np.unique(X64, axis=0).shape[0]
        if n_distinct < K:
            raise ValueError(
                f"{pre}X has {n_distinct} distinct rows, fewer than "
                f"n_components={K}: some component would have no rows of its "
                "own. Decrease n_components."
            )
        Xc = X64 - X64.mean(axis=0)
        solver = "nlr" if self.solver == "auto" else self.solver
        best = None
        for start in range(self.n_init if K > 1 else 1):
            labels = self._initial_labels(X64, rng, start)
            result, caught = self._fit_from(Xc, labels, solver, rng, n_threads)
            result, caught = self._split_merge(
                Xc, result, caught, solver, rng, n_threads
            )
            if self.verbose:
                print(f"{pre}start {start + 1}: mixture log-likelihood "
                      f"{result['score']:.6f}")
            if best is None or result["score"] > best[0]["score"]:
                best = result, caught
        result, caught = best
        for warning in caught:
            warnings.warn(warning.message, warning.category, stacklevel=2)
        self.sdp_labels_ = result["sdp_labels"]
        self.n_iter_ = result["n_iter"]
        self.n_em_iter_ = result["n_em_iter"]
        self.converged_ = result["converged"]
        self.n_split_merge_ = result["n_split_merge"]
        self._set_parameters(
            X64, Xc, result["labels"], result["weights"], result["means"],
            result["covs"], result["chol"], X.dtype,
        )
        return self

    def _split_merge(self, Xc, result, caught, solver, rng, n_threads):
        """Refit from split-and-merge moves while one raises the score."""
        K = self.n_components
        pre = message_prefix(self)
        result["n_split_merge"] = 0
        tries = 0
        while tries < self.split_merge_max_iter:
            candidates = _split_merge_candidates(
                Xc, result["labels"], K, self.covariance_type, self.reg_covar,
                self.tol * Xc.shape[0], _SPLIT_MERGE_TRIES, rng,
            )
            moved = False
            for candidate in candidates:
                if tries == self.split_merge_max_iter:
                    break
                tries += 1
                trial, trial_caught = self._fit_from(
                    Xc, candidate, solver, rng, n_threads
                )
                if self.verbose:
                    print(f"{pre}split-and-merge try {tries}: mixture "
                          f"log-likelihood {result['score']:.6f} -> "
                          f"{trial['score']:.6f}")
                if trial["score"] > result["score"] + self.tol:
                    trial["n_split_merge"] = result["n_split_merge"] + 1
                    result, caught, moved = trial, trial_caught, True
                    break
            if not moved:
                break
        return result, caught

    def _fit_from(self, Xc, labels, solver, rng, n_threads):
        """Outer loop and EM refinement from the partition ``labels``.

        Returns the fitted mixture as a dict and the warnings it raised,
        which ``fit`` re-emits only for the mixture it keeps.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self._outer_loop(Xc, labels, solver, rng, n_threads)
            result.update(self._em_step(Xc, result))
        return result, caught

    def _outer_loop(self, Xc, labels, solver, rng, n_threads):
        """Alternate the likelihood-adjusted SDP and the covariance update."""
        K = self.n_components
        n = Xc.shape[0]
        pre = message_prefix(self)
        params = _Params(
            Xc, labels, K, self.covariance_type, self.reg_covar, name=pre
        )
        best = params.profiled_log_likelihood(Xc, labels)
        if self.verbose:
            print(f"{pre}initial profiled log-likelihood {best:.6f}")
        converged = K == 1 or np.unique(labels).size < K
        n_iter = 0
        state = None
        if not converged:
            state = self._start(labels, n, K, solver, rng)
        for n_iter in range(1, self.max_iter + 1):
            if converged:
                n_iter -= 1
                break
            new, state = self._sdp_labels(
                Xc, params, state, solver, rng, n_threads
            )
            counts = np.bincount(new, minlength=K)
            if counts.min() < 2:
                warnings.warn(
                    f"{pre}a cluster was left with fewer than 2 rows at outer "
                    f"step {n_iter}; keeping the previous labels.",
                    ConvergenceWarning,
                )
                break
            new_params = _Params(
                Xc, new, K, self.covariance_type, self.reg_covar, name=pre
            )
            value = new_params.profiled_log_likelihood(Xc, new)
            if self.verbose:
                print(f"{pre}outer step {n_iter}: profiled log-likelihood "
                      f"{value:.6f}")
            if np.array_equal(new, labels) or value <= best + self.tol:
                converged = True
                if value > best:
                    labels, params, best = new, new_params, value
                break
            labels, params, best = new, new_params, value
        else:
            warnings.warn(
                f"{pre}the outer loop did not converge in max_iter="
                f"{self.max_iter} steps; increase max_iter or tol.",
                ConvergenceWarning,
            )
        # A single component (or a degenerate start) is one closed-form step.
        return {
            "sdp_labels": labels, "labels": labels, "params": params,
            "n_iter": max(n_iter, 1), "converged": converged,
        }

    def _em_step(self, Xc, result):
        """EM from the outer loop's partition, kept when it raises the score."""
        K = self.n_components
        params = result["params"]
        labels = result["labels"]
        weights = params.counts / Xc.shape[0]
        means, covs, chol = params.means, params.covs, params.chol
        score = _mixture_score(Xc, weights, means, chol)
        n_em_iter = 0
        if K > 1 and self.em_max_iter > 0 and weights.min() > 0:
            refined = _em_refine(Xc, weights, means, covs, self.covariance_type,
                                 self.reg_covar, self.em_max_iter, self.tol)
            if refined is not None and refined[5] > score:
                em_labels = refined[4].argmax(axis=1).astype(np.int64)
                if np.bincount(em_labels, minlength=K).min() >= 1:
                    weights, means, covs, chol = refined[:4]
                    labels, score, n_em_iter = em_labels, refined[5], refined[6]
            if self.verbose:
                kept = "kept" if n_em_iter else "not kept"
                print(f"{message_prefix(self)}EM refinement: mixture "
                      f"log-likelihood {score:.6f} ({kept})")
        return {
            "labels": labels, "weights": weights, "means": means, "covs": covs,
            "chol": chol, "score": score, "n_em_iter": n_em_iter,
        }

    def _initial_labels(self, X, rng, start):
        """Labels of start ``start``: only the first can be the SDP's."""
        K = self.n_components
        if K == 1:
            return np.zeros(X.shape[0], dtype=np.int64)
        seed = rng.randint(np.iinfo(np.int32).max)
        if self.init_params == "sdp" and start == 0:
            km = SDPKMeans(
                K, max_iter=self.sdp_max_iter, tol=self.sdp_tol,
                random_state=seed,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                labels = km.fit(X).labels_
        else:
            labels = KMeans(K, n_init=1, random_state=seed).fit_predict(X)
        return labels.astype(np.int64)

    def _start(self, labels, n, K, solver, rng):
        """Solver state at the membership matrices of ``labels``."""
        counts = np.bincount(labels, minlength=K)
        if solver == "exact":
            W = np.zeros((K, n, n))
            for k in range(K):
                idx = np.flatnonzero(labels == k)
                W[k][np.ix_(idx, idx)] = 1.0 / counts[k]
            return (W, np.zeros_like(W), 1.0)
        r = self.rank if self.rank is not None else 2
        U = 0.01 * np.abs(rng.standard_normal((n, K * r)))
        for k in range(K):
            U[labels == k, k * r] = 1.0 / np.sqrt(counts[k])
            U[:, k * r:(k + 1) * r] /= np.linalg.norm(U[:, k * r:(k + 1) * r])
        return U

    def _sdp_labels(self, Xc, params, state, solver, rng, n_threads):
        """Solve the likelihood-adjusted SDP; return labels and solver state."""
        n = Xc.shape[0]
        K = self.n_components
        W = [params.whiten(Xc, k) for k in range(K)]
        d = [np.sum(w**2, axis=1) for w in W]
        # A common shift of the log-determinants is constant on the feasible set.
        ell = params.logdet - params.logdet.mean()
        pre = message_prefix(self)
        verbose = max(self.verbose - 1, 0)
        if solver == "exact":
            A = np.empty((K, n, n))
            for k in range(K):
                A[k] = W[k] @ W[k].T
                A[k] -= 0.5 * (d[k][:, None] + d[k][None, :])
                A[k] -= ell[k]
            scale = max(np.abs(linalg.eigvalsh(A[k])).max() for k in range(K))
            A /= scale if scale > 0 else 1.0
            Z, state, n_iter, converged = _admm(
                A, [1.0] * K, tol=self.sdp_tol, max_iter=self.sdp_max_iter,
                n_threads=n_threads, warm_start=state, verbose=verbose, name=pre,
            )
            membership = Z.sum(axis=2).T
        else:
            r = state.shape[1] // K

            def apply_A(U):
                out = np.empty_like(U)
                for k in range(K):
                    Uk = U[:, k * r:(k + 1) * r]
                    s = Uk.sum(axis=0)
                    out[:, k * r:(k + 1) * r] = (
                        W[k] @ (W[k].T @ Uk)
                        - 0.5 * (np.outer(d[k], s) + d[k] @ Uk)
                        - ell[k] * s
                    )
                return out

            def apply_block(k):
                def apply(v):
                    return (W[k] @ (W[k].T @ v) - 0.5 * (d[k] * v.sum() + d[k] @ v)
                            - ell[k] * v.sum())
                return apply

            norm = max(_operator_norm(apply_block(k), n, rng) for k in range(K))
            state, n_iter, converged, _ = _nlr_normalised(
                apply_A, norm, state, [r] * K, [1.0] * K, tol=self.sdp_tol,
                max_iter=self.sdp_max_iter, n_threads=n_threads,
                verbose=verbose, name=pre,
            )
            membership = np.column_stack(
                [state[:, k * r:(k + 1) * r] @ state[:, k * r:(k + 1) * r].sum(0)
                 for k in range(K)]
            )
        if not converged:
            _warn_not_converged(self, f"{solver} SDP", "sdp_max_iter", "sdp_tol")
        return membership.argmax(axis=1).astype(np.int64), state

    def _set_parameters(self, X, Xc, labels, weights, means, covs, chol, dtype):
        """Store the fitted mixture; its arrays take the ``dtype`` of ``X``."""
        K = self.n_components
        n = X.shape[0]
        self.labels_ = labels
        if self.covariance_type == "full":
            covariances = covs
            eye = np.eye(X.shape[1])
            prec_chol = np.stack(
                [linalg.solve_triangular(chol[k], eye, lower=True).T
                 for k in range(K)]
            )
            precisions = np.matmul(prec_chol, prec_chol.transpose(0, 2, 1))
        else:
            if self.covariance_type == "diag":
                covariances = np.diagonal(covs, axis1=1, axis2=2).copy()
            else:
                covariances = covs[:, 0, 0].copy()
            prec_chol = 1.0 / np.sqrt(covariances)
            precisions = 1.0 / covariances
        self.weights_ = weights.astype(dtype, copy=False)
        self.means_ = (means + X.mean(axis=0)).astype(dtype, copy=False)
        self.covariances_ = covariances.astype(dtype, copy=False)
        self.precisions_cholesky_ = prec_chol.astype(dtype, copy=False)
        self.precisions_ = precisions.astype(dtype, copy=False)
        own = _log_gaussians(Xc, means, chol)[np.arange(n), labels]
        self.log_likelihood_ = float(own.mean())
        counts = np.bincount(labels, minlength=K)
        used = counts > 0
        self.lower_bound_ = self.log_likelihood_ + float(
            np.sum(counts[used] / n * np.log(weights[used]))
        )

    def _weighted_log_prob(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        X = np.asarray(X, dtype=np.float64)
        n, p = X.shape
        K = self.n_components
        out = np.empty((n, K))
        for k in range(K):
            diff = X - self.means_[k]
            if self.covariance_type == "full":
                P = self.precisions_cholesky_[k]
                y = diff @ P
                log_det = np.sum(np.log(np.diag(P)))
            elif self.covariance_type == "diag":
                y = diff * self.precisions_cholesky_[k]
                log_det = np.sum(np.log(self.precisions_cholesky_[k]))
            else:
                y = diff * self.precisions_cholesky_[k]
                log_det = p * np.log(self.precisions_cholesky_[k])
            with np.errstate(divide="ignore"):
                log_w = np.log(self.weights_[k])
            out[:, k] = log_w - 0.5 * (p * _LOG_2PI + np.sum(y**2, axis=1)) + log_det
        return out

    def score_samples(self, X):
        """Log-density of the fitted mixture at each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            ``log sum_k weights_k N(x; means_k, covariances_k)``.
        """
        return logsumexp(self._weighted_log_prob(X), axis=1)

    def score(self, X, y=None):
        """Mean log-density of the fitted mixture over the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            Mean of :meth:`score_samples`.
        """
        return float(self.score_samples(X).mean())

    def _n_parameters(self):
        """Number of free parameters of the fitted mixture."""
        K, p = self.means_.shape
        if self.covariance_type == "full":
            cov_params = K * p * (p + 1) // 2
        elif self.covariance_type == "diag":
            cov_params = K * p
        else:
            cov_params = K
        return int(cov_params + K * p + K - 1)

    def bic(self, X):
        """Bayesian information criterion of the fitted mixture on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        Returns
        -------
        bic : float
            ``-2 n score(X) + n_parameters log(n)``; lower is better.
        """
        n = _num_rows(X)
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        """Akaike information criterion of the fitted mixture on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        Returns
        -------
        aic : float
            ``-2 n score(X) + 2 n_parameters``; lower is better.
        """
        return -2 * self.score(X) * _num_rows(X) + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture.

        Draws are seeded by ``random_state``, so that an int gives the same
        rows at every call.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The rows, grouped by component.

        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(
                f"{message_prefix(self)}n_samples={n_samples!r} should be an "
                "integer >= 1."
            )
        rng = check_random_state(self.random_state)
        K, p = self.means_.shape
        weights = np.asarray(self.weights_, dtype=np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        draws = []
        for k in range(K):
            mean = np.asarray(self.means_[k], dtype=np.float64)
            cov = np.asarray(self.covariances_[k], dtype=np.float64)
            z = rng.standard_normal((counts[k], p))
            if self.covariance_type == "full":
                draws.append(mean + z @ linalg.cholesky(cov, lower=True).T)
            else:
                draws.append(mean + z * np.sqrt(cov))
        y = np.repeat(np.arange(K, dtype=np.int64), counts)
        return np.vstack(draws), y

    def predict_proba(self, X):
        """Posterior probability of each component for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Rows sum to one.
        """
        log_prob = self._weighted_log_prob(X)
        return np.exp(log_prob - logsumexp(log_prob, axis=1, keepdims=True))

    def predict(self, X):
        """Most probable component of the fitted mixture for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to evaluate.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        return self._weighted_log_prob(X).argmax(axis=1).astype(np.int64)

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
            Cluster labels.
        """
        return self.fit(X).labels_
