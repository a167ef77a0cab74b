"""Outlier-robust PCA by spectral filtering.

The filter of Diakonikolas, Kane, Pensia and Pittas (ICML 2023), with a
sketched matrix-power score and a certificate on the returned directions.
"""

import copy
import math
import numbers
import warnings
from contextlib import nullcontext

import numpy as np
from scipy import linalg, sparse
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import validate_data

from ..utils._threading import _openmp_effective_n_threads, single_threaded_blas
from ..utils.validation import check_min_samples, message_prefix
from ._robust_base import _BaseRobustPCA
from ._robust_filters import _FilterStack
from ._robust_moments import (
    _SMALL_PASS_ENTRIES,
    _complement,
    _dense_top,
    _DenseMoments,
    _MatrixFreeMoments,
    _scaled_moment,
)
from ._robust_pca_kernels import (
    soft_filter,
    weighted_tail_shares,
    weighted_upper_tail,
)
from ._robust_stream import _StreamState, _truncated_svd
from ._robust_tail import tail_cut, tail_share_sd

__all__ = ["RobustPCA"]

# The coordinatewise median (conditioning only) is taken on at most this many
# rows, which is plenty for a shift that only needs to be near the data.
_MEDIAN_ROWS = 5000
# 'auto' uses the matrix-free path above this many features.
_AUTO_DENSE_MAX_FEATURES = 4096
# Fits on at least _SAMPLE_MIN_RATIO times the sample's rows learn their
# filter rounds on a uniform sample of max(_SAMPLE_MIN_ROWS,
# _SAMPLE_ROWS_PER_FEATURE * n_features, 200 / contamination) rows first.
_SAMPLE_MIN_ROWS = 1 << 14
_SAMPLE_ROWS_PER_FEATURE = 50
_SAMPLE_MIN_RATIO = 4
# Arrays of at least this many entries go to the OpenMP kernels on every
# thread; smaller ones on one (a threaded region costs a wake-up and a sync).
_THREADED_SIZE = 1 << 20
# Streaming batches hold at least ceil(_STREAM_BATCH_FACTOR / contamination)
# rows, so that each batch holds enough outliers for its own tail test.
_STREAM_BATCH_FACTOR = 50.0


def _pair_rows(X, a, b):
    """Differences of the paired rows, scaled to keep the inliers' covariance."""
    return (X[a] - X[b]) * (1.0 / math.sqrt(2.0))


def _row_weights(n_samples, w, pairs):
    """Weights of the rows of ``X`` from those of the filtered rows (a copy).

    With pairs, both rows of a pair take the pair's weight; a row left out of
    the pairing keeps weight 1.
    """
    if pairs is None:
        return w.copy()
    a, b = pairs
    out = np.ones(n_samples)
    out[a] = w
    out[b] = w
    return out


class RobustPCA(_BaseRobustPCA):
    """Principal component analysis that a fraction of outlying rows cannot hijack.

    A filter down-weights the rows that carry an abnormal share of the
    variance along the top directions, until a certificate holds: along each
    returned direction, the heaviest ``2 * contamination`` of the weight holds
    no more of the variance than it would for Gaussian inliers (the
    ``kappa(eps)`` tail test). Rows are scored with a sketched power of the
    weighted second moment, so that outliers spread over many directions are
    removed in a few rounds. On many rows the rounds are learnt on a
    sample and applied to all rows in the pass that forms their moments, so
    a fit costs about two to four PCAs whatever the number of rounds.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components. None keeps ``min(n_samples, n_features)``
        (with ``partial_fit``: the rows of the first complete batch), as
        :class:`~sklearn.decomposition.PCA` does. A float in (0, 1) keeps the
        fewest components whose share of the variance of the kept rows
        exceeds it, as PCA does with such a float; the filter then stops
        certifying components as soon as that share is reached (``fit``
        only).
    contamination : float in (0, 0.25], default=0.1
        Upper bound on the fraction of outlying rows (at most 0.125 with
        ``center='pairs'``). The default covers data with up to a tenth of
        outliers: too large a value is safe and only removes more inliers,
        while too small a value is detected by a multi-window check, which
        warns and sets ``certified_`` to False. A fit that has removed more
        than twice this share of the weight (more than all the outliers, as
        happens on heavy-tailed inliers) stops there, warns and is not
        certified.
    whiten : bool, default=False
        Divide the coordinates that :meth:`transform` returns by the square
        roots of ``explained_variance_``, so that the inliers' coordinates
        have unit variance, as :class:`~sklearn.decomposition.PCA` does with
        ``whiten=True``. False by default, as in PCA: whitening discards the
        relative variances of the components, which later steps may need.
    center : {True, False, 'pairs'}, default=True
        True: the mean is the weighted mean of the kept rows, updated every
        round. 'pairs': work on differences of randomly paired rows (zero
        mean, contamination doubled). False: the data are already centred.
        True is the default because the inliers' mean is rarely known and
        the weighted mean follows the kept rows.
    solver : {'auto', 'dense', 'matrix_free'}, default='auto'
        'dense' keeps the ``d x d`` weighted moments and downdates only the
        rows whose weight changed; 'matrix_free' uses products with ``X`` only
        (sparse ``X`` is never densified). 'auto' picks 'matrix_free' for
        sparse ``X`` or more than 4096 features, where a ``d x d`` array
        would densify ``X`` or outweigh the data.
    power_iterations : int, default=16
        Depth ``q`` of the matrix-power scores (0 is norm trimming). The
        default concentrates the scores on the top eigendirections of the
        weighted moment, so that outliers spread over several directions are
        removed in a few rounds.
    sketch_size : int, default=16
        Rows ``b`` of the Gaussian sketch of the matrix power. The default
        sees outliers spread over several directions in one round, at the
        cost of ``b`` columns in each product with the moment.
    max_rounds : int, default=50
        Cap on filter rounds; reaching it raises a ``ConvergenceWarning``.
        The default only stops fits that do not converge: a certified fit
        needs far fewer rounds.
    slack : float >= 0 or 'auto', default='auto'
        Allowance on the body share ``1 - kappa`` of the tail test: the cut
        is ``kappa + slack * (1 - kappa)``. 'auto' takes
        ``0.25 * eps * ln(1 / eps)`` and adds the sampling error of the tail
        share over ``n_rows`` rows, at the level that makes all the tests of
        one fit (one per component) fail together on clean Gaussian data in
        about 1 fit in 100; a float is used as is for every test. 'auto' is
        the default so that clean data keep their rows whatever the number of
        components.
    components_strategy : {'deflation', 'final_weights'}, default='deflation'
        'deflation' certifies every component (filtering inside the
        complement of the previous ones); 'final_weights' certifies the first
        one only and takes the others from the final weighted moment (cheaper;
        a failed tail test along one of them warns). 'deflation' is the
        default because it is the one that certifies every component.
    random_state : int, RandomState instance or None, default=None
        Seeds the sketches, the pairing and the Lanczos start vector; drawn
        once per fit. Pass an int for reproducible results.
    verbose : int, default=0
        Print round, removed weight, tail share against the cut and top
        eigenvalue; 0 prints nothing.

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
    singular_values_ : ndarray of shape (`n_components_`,)
        Singular values of the weighted centred rows
        ``sqrt(w_i) (x_i - mean_)`` along the components:
        ``sqrt(explained_variance_ * (W - 1))``, ``W`` the total weight, as
        PCA's are ``sqrt(explained_variance_ * (n_samples - 1))``.
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
    n_samples_ : int
        Number of rows of the training data, as in PCA (with
        ``partial_fit``: all rows seen, equal to ``n_samples_seen_``).
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

    The tail tests of one fit are calibrated as a family: each component is
    tested at the Sidak share of the level (the projections on a sample
    eigenvector of Gaussian rows are distributed as on a fixed direction),
    and so are the wider windows. Directions whose variance is at rounding
    level (beyond the rank of the rows) are returned untested: they hold
    nothing to certify.

    A fit needs at least ``ceil(1 / contamination)`` rows (10 at the
    default; ``2 * ceil(1 / (2 * contamination))`` with ``center='pairs'``),
    so that the tail window holds at least one row, and at least two;
    ``n_components`` is at most ``min(n_samples, n_features)``.

    From ``4 m`` rows on, with ``m = max(16384, 50 n_features,
    200 / contamination)``, the filter first runs on ``m`` rows drawn at
    random (with the cut that all rows will face once it has filtered); its
    rounds are then applied to every row in one float32 product with their
    sketches, inside the pass that forms the moments, and the fit on all rows
    tests every component in one more pass (and filters on, should a test
    fail there). The certificate is always about all rows. Without the sample
    (fewer rows, or given start weights in ``partial_fit``), a round costs
    one pass over ``X`` for the tail test, one ``n x d x b`` product for the
    scores and ``r d**2`` for the downdate of the ``r`` changed rows.

    The dense path keeps two ``d x d`` float64 arrays. Its top eigenpairs
    come from ``scipy.linalg.eigh(subset_by_index=...)`` up
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
        "n_components": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            None,
        ],
        "contamination": [Interval(numbers.Real, 0, 0.25, closed="right")],
        "whiten": ["boolean"],
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
        whiten=False,
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
        self.whiten = whiten
        self.center = center
        self.solver = solver
        self.power_iterations = power_iterations
        self.sketch_size = sketch_size
        self.max_rounds = max_rounds
        self.slack = slack
        self.components_strategy = components_strategy
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------- settings
    def _filter_eps(self):
        """Contamination of the filtered rows (doubled by pairing)."""
        return float(self.contamination) * (2.0 if self.center == "pairs" else 1.0)

    def _min_rows(self):
        """Rows a fit needs: enough for one outlier at ``contamination``."""
        eps = float(self.contamination)
        if self.center == "pairs":
            return 2 * math.ceil(1.0 / (2.0 * eps))
        return math.ceil(1.0 / eps - 1e-9)

    def _check_pairs_contamination(self):
        eps = float(self.contamination)
        if self.center == "pairs" and eps > 0.125:
            raise ValueError(
                f"{message_prefix(self)}contamination must be in (0, 0.125] with "
                f"center='pairs' (pairs double it), got {eps}."
            )

    def _check_settings(self, X):
        """Check the settings against the rows of ``X``; return n_components."""
        self._check_pairs_contamination()
        n, d = X.shape
        check_min_samples(
            n,
            max(self._min_rows(), 2),
            estimator_name=type(self).__name__,
            reason=f"for contamination={self.contamination}",
        )
        k = self.n_components
        limit = min(n, d)
        if k is None or self._variance_share() is not None:
            k = limit
        elif k > limit:
            raise ValueError(
                f"{message_prefix(self)}n_components={k} must be at most "
                f"min(n_samples, n_features) = {limit}."
            )
        return k

    def _variance_share(self):
        """The share of variance a float ``n_components`` asks for, else None."""
        k = self.n_components
        if isinstance(k, numbers.Real) and not isinstance(k, numbers.Integral):
            return float(k)
        return None

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
            Y = _pair_rows(X, a, b)
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

    # ------------------------------------------------------------------ fit
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
        self._fit_rows(X, k, rng, self._choose_solver(X))
        self.n_samples_seen_ = self.n_samples_ = X.shape[0]
        return self

    def _fit_rows(self, X, k, rng, solver, *, weights=None, pairs=None, filters=None):
        """Run the filter on the rows of X and set the fitted attributes.

        ``weights`` are the starting weights of the filtered rows (ones by
        default) and ``pairs`` a pairing to reuse (drawn from ``rng`` with
        ``center='pairs'`` when None). The filter rounds are appended to
        ``filters`` when given.

        Returns
        -------
        rows : {ndarray, sparse matrix}
            The filtered rows (``X`` itself, or the pair differences).
        mom : _Moments
            Their final weighted moments.
        v0 : ndarray of shape (n_features,)
            The eigensolver's start vector.
        pairs : tuple of two ndarray, or None
            The pairing.
        """
        if pairs is None:
            rows, shift, pairs = self._prepare_rows(X, rng)
        else:
            rows, shift = _pair_rows(X, *pairs), np.zeros(X.shape[1])
        n_rows, d = rows.shape
        w = np.ones(n_rows) if weights is None else np.array(weights, dtype=np.float64)
        Mom = _DenseMoments if solver == "dense" else _MatrixFreeMoments
        v0 = rng.uniform(-1.0, 1.0, size=d)
        learnt, rounds, trimmed = [], 0, False
        if weights is None and n_rows >= _SAMPLE_MIN_RATIO * self._sample_rows(d):
            learnt, rounds, trimmed = self._learn_on_sample(
                rows, shift, Mom, k, rng, v0
            )
        if learnt:
            if filters is not None:
                filters.extend(learnt)
            stack = _FilterStack(learnt, shift)
            mom = Mom(rows, w, shift, self.center is True, weigh=stack.weights)
        else:
            mom = Mom(rows, w, shift, self.center is True)
        result = self._filter(
            mom, k, self._filter_eps(), n_rows, rng, v0, filters, rounds=rounds,
            trimmed=trimmed, share=self._variance_share(),
        )
        self._set_attributes(X, mom, result, pairs, k)
        return rows, mom, v0, pairs

    def _sample_rows(self, d):
        """Rows of the sample that the filter rounds are learnt on."""
        eps = self._filter_eps()
        return max(_SAMPLE_MIN_ROWS, _SAMPLE_ROWS_PER_FEATURE * d, math.ceil(200 / eps))

    def _learn_on_sample(self, rows, shift, Mom, k, rng, v0):
        """Filter rounds learnt on a uniform sample of the rows.

        The filter runs to completion on the sample (its warnings silenced:
        the fit on all rows decides). The sample's first tests take the
        sample's own cut, so that clean data are not filtered on sampling
        noise; once it has filtered, it goes on to the cut of all the rows
        less one standard error of the sample's tail share, which the rows
        then pass without rounds of their own. Applied to all rows
        in the pass that forms their moments, its rounds leave the fit on all
        rows with little or nothing to filter, where each round would cost
        passes over every row.

        Returns
        -------
        filters : list of tuple
            The rounds, as ``_filter`` records them (empty when the sample
            passes its tail tests without filtering).
        rounds : int
            Their number.
        trimmed : bool
            Whether the sample's filter stopped on removing more than
            ``2 * contamination`` of its weight (see :meth:`_filter`).
        """
        n_rows, d = rows.shape
        m = self._sample_rows(d)
        k = min(k, m - 1, d)
        eps = self._filter_eps()
        # the cut all rows face, less one standard error of the sample's tail
        # share, so that they pass it after the sample's rounds
        later_cut = tail_cut(
            eps, self.slack, n_rows, self._n_tests(k, n_rows, d)
        ) - tail_share_sd(eps) / math.sqrt(m)
        idx = np.sort(rng.choice(n_rows, size=m, replace=False))
        sample = rows[idx]
        mom = Mom(sample, np.ones(m), shift, self.center is True)
        learnt = []
        if self.verbose:
            self._print_progress(f"learning the filter on a sample of {m} rows")
        # a sample this small runs faster on one BLAS thread than on several
        # (each product wakes and syncs them)
        small = m * d <= _SMALL_PASS_ENTRIES
        with (
            warnings.catch_warnings(),
            single_threaded_blas() if small else nullcontext(),
        ):
            warnings.simplefilter("ignore")
            _, rounds, _ = self._filter(
                mom, k, eps, m, rng, v0, learnt, later_cut=later_cut,
                final_tests=False, share=self._variance_share(),
            )
        if self.verbose:
            self._print_progress(f"applying {rounds} rounds to all {n_rows} rows")
        trimmed = float(mom.w.sum()) < (1.0 - 2.0 * eps) * m
        return learnt, rounds, trimmed

    @staticmethod
    def _tail_shares(S, w, eps):
        """Tail shares at window ``2 eps`` of the columns of ``S`` (n, p)."""
        S = np.ascontiguousarray(S)
        if S.dtype != np.float32:
            S = S.astype(np.float64, copy=False)
        if S.ndim == 1:
            S = S[:, None]
        target = 2.0 * eps * float(w.sum())
        # threads pay on large arrays only (each region wakes and syncs them)
        n_threads = _openmp_effective_n_threads() if S.size >= _THREADED_SIZE else 1
        return weighted_tail_shares(S, w, target, n_threads)

    def _filter(
        self,
        mom,
        k,
        eps,
        n_rows,
        rng,
        v0,
        filters=None,
        rounds=0,
        later_cut=None,
        final_tests=True,
        trimmed=False,
        share=None,
    ):
        """The filter loop; returns (V, rounds, certified).

        For each component in turn, the top eigenvector of the weighted
        moment (on the complement of the components found so far) is tested;
        while its tail share exceeds the cut, one filter round down-weights
        the rows with large sketched matrix-power scores. ``mom.w`` is
        updated in place; ``rounds`` counts earlier rounds (those learnt on a
        sample) against ``max_rounds``. Once a round has run, the tests take
        the cut ``later_cut`` when given (a sample that has shown outliers is
        filtered until it passes the cut that all the rows will face).
        ``final_tests=False`` skips the closing tests of the components at
        the final weights (a sample's rounds need none). A fit stops without
        a certificate once more than ``2 * eps`` of the weight is removed:
        on Gaussian inliers the filter removes no more inlier than outlier
        weight (about ``eps`` in all, measured), so past that more inliers
        than outliers have gone, the model does not hold, and more rounds
        only trim inliers. ``trimmed`` says that the rounds learnt on a
        sample stopped so: then no round runs on these rows. With ``share``,
        the loop stops once the components found hold more than that share
        of the trace of the weighted moment.
        """
        d = mom.d
        n_tests = self._n_tests(k, n_rows, d)
        cut = tail_cut(eps, self.slack, n_rows, n_tests)
        w = mom.w
        V = np.zeros((d, 0))
        certified = not trimmed
        filtering = not trimmed
        if trimmed:
            self._warn_trimmed((n_rows - float(w.sum())) / n_rows, eps)
        state = 0
        # [state, j0, evals, evecs, squared projections or None, first column,
        #  their tail shares]
        cache = None
        deflation = self.components_strategy == "deflation"
        null_tol = self._null_variance(mom, n_rows)
        live = k  # components with variance above round-off
        # the components' variance at the weights of filter state explained[1]
        explained = [0.0, 0]
        for j in range(k):
            while True:
                stale = cache is None or cache[0] != state
                if stale or cache[1] + cache[3].shape[1] <= j:
                    with mom.small_products():
                        evals, evecs = mom.top(V, min(k - j, d - j), v0)
                    cache = [state, j, evals, evecs, None, 0, None]
                v = cache[3][:, j - cache[1]]
                if live == k and cache[2][j - cache[1]] <= null_tol:
                    # round-off variance: nothing to certify along this
                    # direction nor along the later, smaller ones
                    live = j
                if not filtering or j >= live or (j > 0 and not deflation):
                    break
                c = j - cache[1]
                if cache[4] is None or c >= cache[5] + cache[4].shape[1]:
                    # Before any filter round one pass over X scores every
                    # direction of the solve (clean data pass them all).
                    # After a round only this direction is projected (it
                    # often fails again), then batches that double while the
                    # directions pass: a failure wastes at most the rest of
                    # one batch, not every later direction of the solve.
                    if not state:
                        stop = cache[3].shape[1]
                    elif c == 0:
                        stop = 1
                    else:
                        stop = min(cache[3].shape[1], c + 2 * cache[4].shape[1])
                    cache[4] = mom.projected_squares(cache[3][:, c:stop])
                    cache[5] = c
                    cache[6] = self._tail_shares(cache[4], w, eps)
                T = float(cache[6][c - cache[5]])
                if self.verbose:
                    W = float(w.sum())
                    top = float(v @ mom.matmat(v[:, None])[:, 0])
                    self._print_progress(
                        f"component {j + 1} round {rounds}: removed weight "
                        f"{(n_rows - W) / n_rows:.4f}, tail share {T:.4f} "
                        f"(cut {cut:.4f}), top eigenvalue {top:.4g}"
                    )
                if T <= cut:
                    break
                # ---- one filter round: sketched matrix-power scores
                Z = _complement(V, rng.standard_normal((d, self.sketch_size)))
                Z /= max(linalg.norm(Z), 1e-300)
                with mom.small_products():
                    for _ in range(self.power_iterations):
                        Z = _complement(V, mom.matmat(_complement(V, Z)))
                        Z /= max(linalg.norm(Z), 1e-300)
                m_shift = mom.c + mom.mean_shifted()
                tau = mom.projected_sqnorms(Z)
                W = float(w.sum())
                thr, _, _, tau_max = weighted_upper_tail(tau, w, 2.0 * eps * W)
                if not tau_max > thr:
                    certified, filtering = False, False
                    warnings.warn(
                        f"{message_prefix(self)}the filter scores are flat (largest "
                        "equals the threshold); stopping without a certificate.",
                        UserWarning,
                    )
                    break
                if filters is not None:
                    filters.append((Z.T.copy(), m_shift, thr, tau_max))
                changed, delta = soft_filter(w, tau, thr, tau_max)
                rounds += 1
                if later_cut is not None:
                    cut = later_cut
                mom.update(changed, delta)
                state += 1
                removed = (n_rows - float(w.sum())) / n_rows
                if removed > 2.0 * eps:
                    certified, filtering = False, False
                    self._warn_trimmed(removed, eps)
                    continue
                if rounds >= self.max_rounds:
                    certified, filtering = False, False
                    warnings.warn(
                        f"{message_prefix(self)}reached max_rounds={self.max_rounds} "
                        "filter rounds without a certificate; increase max_rounds.",
                        ConvergenceWarning,
                    )
                    continue
            V = np.hstack([V, v[:, None]])
            if share is not None:
                if explained[1] == state:
                    # v is an eigenvector of the moment at these weights
                    explained[0] += float(cache[2][j - cache[1]])
                else:
                    with mom.small_products():
                        explained[0] = float(np.einsum("ij,ij->", V, mom.matmat(V)))
                    explained[1] = state
                if explained[0] > share * mom.trace():
                    break
        live = min(live, V.shape[1])

        if filtering and live and final_tests:
            V_live = V[:, :live]
            shares = None
            if (
                cache is not None
                and cache[0] == state
                and cache[4] is not None
                and 0 <= live - cache[1] - cache[5] <= cache[4].shape[1]
            ):
                j0 = cache[1] + cache[5]
                if j0 == 0 and live == cache[4].shape[1]:
                    # no copy: the common case of a block test, whose tail
                    # shares at the stated contamination are known too
                    S, shares = cache[4], cache[6]
                else:
                    S = np.empty((mom.n, live), dtype=cache[4].dtype)
                    S[:, j0:] = cache[4][:, : live - j0]
                if j0:
                    S[:, :j0] = mom.projected_squares(V_live[:, :j0])
            else:
                S = mom.projected_squares(V_live)
            certified = self._final_tail_tests(
                S, w, eps, n_rows, cut, deflation, n_tests, shares
            )
        return V, rounds, certified

    def _warn_trimmed(self, removed, eps):
        """Warn that the filter stopped on removing more than ``2 * eps``."""
        warnings.warn(
            f"{message_prefix(self)}the filter removed {removed:.3f} of the "
            f"weight, about 2 * contamination = {2 * eps:.3f} or more, more than "
            "the outliers: the inliers look heavier-tailed than Gaussian (or "
            "contamination is too small), and more rounds would trim them "
            "further; stopping without a certificate.",
            UserWarning,
        )

    def _final_tail_tests(
        self, S, w, eps, n_rows, cut, deflation, n_tests, shares=None
    ):
        """Tail tests of the returned components; False (and a warning) on failure.

        ``S`` holds the squared projections of the rows on the components
        with variance above round-off, ``shares`` their tail shares at
        ``contamination`` when already known. Without deflation, the components
        after the first are tested at ``contamination``; all of them are then
        tested at the wider windows ``2 eps, 4 eps, ...`` up to 0.25, which
        catch a contamination larger than the parameter. The wider windows
        form one family of tests, calibrated together.
        """
        certified = True
        if not deflation and S.shape[1] > 1:
            if shares is None:
                shares = self._tail_shares(S, w, eps)
            for j in range(1, S.shape[1]):
                if shares[j] > cut:
                    certified = False
                    warnings.warn(
                        f"{message_prefix(self)}component {j + 1} fails the tail "
                        "test with components_strategy='final_weights' (an outlier "
                        "direction may be kept); use 'deflation'.",
                        UserWarning,
                    )
                    break
        windows = []
        e2 = 2.0 * eps
        while e2 <= 0.25 + 1e-12:
            windows.append(e2)
            e2 *= 2.0
        n_wide = n_tests * len(windows)
        alarm = False
        for e2 in windows:
            cut2 = tail_cut(e2, self.slack, n_rows, n_wide)
            if np.any(self._tail_shares(S, w, e2) > cut2):
                alarm = True
                break
        if alarm:
            certified = False
            warnings.warn(
                f"{message_prefix(self)}the tail test fails at a wider window: the "
                "contamination looks larger than the parameter "
                f"contamination={self.contamination}.",
                UserWarning,
            )
        return certified

    def _n_tests(self, k, n_rows, d):
        """Components a fit can test: at most the rank of the filtered rows."""
        rank = n_rows - 1 if self.center is True else n_rows
        return max(1, min(k, d, rank))

    @staticmethod
    def _null_variance(mom, n_rows):
        """Variance at or below which a direction holds only round-off.

        Rounding errors of the moments scale with the raw second moment of
        the shifted rows and grow with the number of rows and features.
        """
        m = mom.mean_shifted()
        scale = mom.trace() + float(m @ m)
        return 10.0 * max(n_rows, mom.d) * np.finfo(np.float64).eps * scale

    def _set_attributes(self, X, mom, result, pairs, k):
        """Fitted attributes of a batch fit from its final moments."""
        V, rounds, certified = result
        # Rayleigh-Ritz on span(V): the components are eigenvectors of the
        # final weighted moment restricted to the certified subspace
        M = V.T @ mom.matmat(V)
        evals, R = linalg.eigh(0.5 * (M + M.T))
        evals, R = evals[::-1], R[:, ::-1]
        share = self._variance_share()
        if share is not None:
            # the fewest components above the share, as PCA counts them
            ratio = np.cumsum(evals) / max(mom.trace(), 1e-300)
            k = min(int(np.searchsorted(ratio, share, side="right")) + 1, evals.size)
            evals, R = evals[:k], R[:, :k]
        weights = _row_weights(X.shape[0], mom.w, pairs)
        if pairs is not None:
            mean = np.asarray(weights @ X).ravel() / max(weights.sum(), 1e-300)
        else:
            mean = mom.c + mom.mean_shifted()
        self.n_components_ = k
        self._set_spectrum(evals, V @ R, mom.trace(), mean, weights, X.dtype)
        self.n_iter_ = 1 + rounds
        self.certified_ = bool(certified)

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
        self._check_pairs_contamination()
        if self._variance_share() is not None:
            raise ValueError(
                f"{message_prefix(self)}n_components={self.n_components}, a share "
                "of the variance, needs fit; partial_fit takes an int or None."
            )
        if self.n_components is not None and self.n_components > n_features:
            raise ValueError(
                f"{message_prefix(self)}n_components={self.n_components} must be "
                f"at most n_features = {n_features}."
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
            self._stream = _StreamState(
                rng=check_random_state(self.random_state),
                batch_rows=self._stream_batch_rows(),
                low_rank=self._choose_solver(X) == "matrix_free",
            )
            self.n_samples_seen_ = 0
        st = self._stream
        n = X.shape[0]
        self.n_samples_seen_ += n
        self.n_samples_ = self.n_samples_seen_
        if n == 0:
            return self
        if st.n_buffered + n >= st.batch_rows:
            batch = X if st.n_buffered == 0 else np.concatenate([st.buffered(), X])
            st.n_buffered = 0
            self._stream_batch(batch)
            return self
        st.append(X)
        if not st.started:
            self._provisional_fit()
        return self

    def _provisional_fit(self):
        """Batch fit of the buffered rows (before the first complete batch).

        Redone only when the buffer has doubled since the last one, so all
        provisional fits together cost about two batch fits. The stream's
        generator is copied, not advanced: the first complete batch gives the
        same result whatever the calls before it.
        """
        st = self._stream
        nb = st.n_buffered
        if nb < 2 * st.provisional_rows:
            return
        d = st.buffer.shape[1]
        k = min(nb, d) if self.n_components is None else self.n_components
        if nb < max(self._min_rows(), 2) or k > nb:
            return
        rows = st.buffered()
        self._fit_rows(rows, k, copy.deepcopy(st.rng), self._choose_solver(rows))
        st.provisional_rows = nb

    def _stream_batch(self, X):
        """Process one complete batch (at least batch_rows rows)."""
        st = self._stream
        if not st.started:
            k = self._check_settings(X)
            self._restart_stream(X, k, weights=None, pairs=None)
            st.started = True
            st.buffer = None  # refilled lazily, at most batch_rows rows
            st.provisional_rows = 0
            return
        k = self.n_components_
        centered = self.center is True
        eps = self._filter_eps()
        rows, _, pairs = self._prepare_rows(X, st.rng)
        Xs = np.subtract(rows, st.shift, dtype=np.float64)
        w = st.weights_under_filters(Xs)
        # tentative moments with the batch added, and their top direction
        if st.low_rank:
            new = st.low_rank_merge(Xs, w, centered, k)
            v = new["Vt"][0]
        else:
            new = dict(
                S1=st.S1 + w @ Xs,
                S2=st.S2 + (Xs * w[:, None]).T @ Xs,
                W=st.W + float(w.sum()),
            )
            B = _scaled_moment(new["S1"], new["S2"], new["W"], centered)
            v = _dense_top(B, np.zeros((B.shape[0], 0)), 1, st.v0)[1][:, 0]
        s = Xs @ v
        if centered:
            s -= (new["S1"] / new["W"]) @ v
        s *= s
        cut = tail_cut(eps, self.slack, Xs.shape[0])
        if Xs.shape[0] and self._tail_shares(s, w, eps)[0] <= cut:
            row_w = _row_weights(X.shape[0], w, pairs)
            st.commit(new)
            st.R1 = st.R1 + row_w @ np.asarray(X, dtype=np.float64)
            st.RW = st.RW + float(row_w.sum())
            self._stream_attributes(X.dtype, row_w)
            return
        if self.verbose:
            self._print_progress("partial_fit: batch failed the tail test; restarting.")
        if min(X.shape) < k or X.shape[0] < 2:
            return
        self._restart_stream(X, k, weights=w, pairs=pairs)

    def _restart_stream(self, X, k, weights, pairs):
        """Batch fit of X (recording its filter rounds); moments restart from it."""
        st = self._stream
        solver = "matrix_free" if st.low_rank else "dense"
        rows, mom, v0, pairs = self._fit_rows(
            X, k, st.rng, solver, weights=weights, pairs=pairs, filters=st.filters
        )
        row_w = _row_weights(X.shape[0], mom.w, pairs)
        st.S1, st.W, st.shift, st.v0 = mom.S1.copy(), mom.W, mom.c.copy(), v0
        st.R1 = row_w @ np.asarray(X, dtype=np.float64)
        st.RW = float(row_w.sum())
        if st.low_rank:
            keep = mom.w > 0
            Y = np.subtract(rows[keep], mom.c + mom.mean_shifted(), dtype=np.float64)
            Y *= np.sqrt(mom.w[keep])[:, None]
            st.sv, st.Vt = _truncated_svd(Y, k)
            st.trC = float(np.einsum("ij,ij->", Y, Y))
        else:
            st.S2 = mom.S2.copy()

    def _stream_attributes(self, dtype, row_w):
        """Fitted attributes from the stream's moments."""
        st = self._stream
        k = self.n_components_
        d = st.S1.shape[0]
        if st.low_rank:
            denom = max(st.W - 1.0, 1e-12)
            evals = st.sv[:k] ** 2 / denom
            evecs = st.Vt[:k].T
            total = st.trC / denom
        else:
            B = _scaled_moment(st.S1, st.S2, st.W, self.center is True)
            evals, evecs = _dense_top(B, np.zeros((d, 0)), k, st.v0)
            total = float(np.trace(B))
        if self.center == "pairs":
            mean = st.R1 / max(st.RW, 1e-300)
        elif self.center is True:
            mean = st.shift + st.S1 / st.W
        else:
            mean = st.shift
        self._set_spectrum(evals, evecs, total, mean, row_w, dtype, st.RW)

    def __sklearn_is_fitted__(self):
        # partial_fit sets n_features_in_ before enough rows for a fit arrive
        return hasattr(self, "components_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
