"""Gaussian (and non-Gaussian) data with planted outliers.

One generator serves :class:`~sklearn_spectral.decomposition.RobustPCA` and the
robust covariance estimators: the inliers follow a known location and scatter,
the outliers are placed where they hurt a given method most.
"""

import numbers
from functools import lru_cache

import numpy as np
from scipy import linalg, stats
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.random import sample_without_replacement

__all__ = ["make_contaminated_gaussian"]

_PCA_KINDS = (
    "far",
    "stealth",
    "multi_direction",
    "strong_adversary",
    "heavy_tailed",
    "sparse_entries",
)
_DETECTOR_KINDS = ("shift", "minor_axis", "point_mass", "scatter", "clusters")
_COVARIANCES = ("identity", "spiked", "decaying", "ar1", "random_corr")
_DISTRIBUTIONS = ("gaussian", "student_t", "skew_normal", "lognormal")

# Fixed shape constants of the generator (documented in the docstring).
_RANDOM_CORR_CONDITION = 100.0
_SKEW_NORMAL_SHAPE = 5.0
_LOGNORMAL_SIGMA = 1.0
_CHI2_LEVEL = 0.975
_SCATTER_FACTOR = 2.5

_TABLE_HALF_WIDTH = 9.0
_TABLE_SIZE = 3601
_BLOCK_ROWS = 1 << 15

_NAME = "make_contaminated_gaussian"


def _random_orthogonal(n, rng):
    """Haar-distributed random orthogonal matrix of shape (n, n)."""
    q, r = linalg.qr(rng.standard_normal((n, n)))
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    return q


def _spectrum(covariance, n_features, n_spikes, spike, rho, rng):
    """Eigenvalues (decreasing), eigenvectors (rows) and the matrix itself."""
    d = n_features
    if covariance == "identity":
        return np.ones(d), np.eye(d), np.eye(d)
    if covariance in ("spiked", "decaying"):
        q = _random_orthogonal(d, rng)
        if covariance == "spiked":
            eig = np.ones(d)
            eig[:n_spikes] = spike
        else:
            eig = spike / np.arange(1, d + 1, dtype=np.float64)
        order = np.argsort(-eig, kind="stable")
        eig = eig[order]
        comps = np.ascontiguousarray(q.T[order])
        sigma = (comps.T * eig) @ comps
        sigma = 0.5 * (sigma + sigma.T)
        return eig, comps, sigma
    if covariance == "ar1":
        idx = np.arange(d)
        sigma = rho ** np.abs(idx[:, None] - idx[None, :]).astype(np.float64)
    else:  # random_corr
        if d == 1:
            return np.ones(1), np.eye(1), np.eye(1)
        target = np.geomspace(1.0, 1.0 / _RANDOM_CORR_CONDITION, d)
        target *= d / target.sum()
        sigma = stats.random_correlation.rvs(target, random_state=rng, tol=1e-8)
        sigma = 0.5 * (sigma + sigma.T)
        np.fill_diagonal(sigma, 1.0)
    eig, vec = linalg.eigh(sigma)
    eig = np.clip(eig[::-1], 0.0, None)
    comps = np.ascontiguousarray(vec[:, ::-1].T)
    return eig, comps, sigma


@lru_cache(maxsize=1)
def _skew_normal_table():
    """Standardised skew-normal quantile of Phi(z) on a uniform grid of z."""
    grid = np.linspace(-_TABLE_HALF_WIDTH, _TABLE_HALF_WIDTH, _TABLE_SIZE)
    q = np.empty_like(grid)
    lower = grid <= 0
    a = _SKEW_NORMAL_SHAPE
    q[lower] = stats.skewnorm.ppf(stats.norm.cdf(grid[lower]), a)
    q[~lower] = stats.skewnorm.isf(stats.norm.sf(grid[~lower]), a)
    delta = a / np.sqrt(1.0 + a * a)
    mean = delta * np.sqrt(2.0 / np.pi)
    std = np.sqrt(1.0 - 2.0 * delta * delta / np.pi)
    return (q - mean) / std


def _standardised_marginal(z, distribution):
    """Map N(0, 1) values to a standardised (mean 0, variance 1) marginal."""
    if distribution == "skew_normal":
        # Linear interpolation in the table; the grid is uniform, so the cell
        # index is computed directly (np.interp's search is far slower).
        table = _skew_normal_table()
        step = 2.0 * _TABLE_HALF_WIDTH / (_TABLE_SIZE - 1)
        pos = (z + _TABLE_HALF_WIDTH) / step
        np.clip(pos, 0.0, _TABLE_SIZE - 1.0, out=pos)
        i = np.minimum(pos.astype(np.intp), _TABLE_SIZE - 2)
        pos -= i
        lo = table[i]
        return lo + pos * (table[i + 1] - lo)
    s2 = _LOGNORMAL_SIGMA**2
    mean = np.exp(0.5 * s2)
    std = np.sqrt((np.exp(s2) - 1.0) * np.exp(s2))
    out = np.exp(_LOGNORMAL_SIGMA * z)
    out -= mean
    out /= std
    return out


def _sample(n, eig, comps, sigma, location, distribution, df, rng):
    """n draws of the inlier distribution (location + scatter), in row blocks."""
    d = eig.shape[0]
    x = np.empty((n, d))
    root = np.sqrt(eig)
    scale = np.sqrt(np.diag(sigma))
    copula = distribution in ("skew_normal", "lognormal")
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        z = rng.standard_normal((stop - start, d))
        z *= root
        block = z @ comps
        if copula:
            block /= scale
            block = _standardised_marginal(block, distribution)
            block *= scale
        x[start:stop] = block
    if distribution == "student_t":
        x *= np.sqrt((df - 2.0) / rng.chisquare(df, size=n))[:, None]
    x += location
    return x


def _gaussian_noise(n, eig, comps, rng):
    """n draws of N(0, Sigma)."""
    z = rng.standard_normal((n, eig.shape[0]))
    z *= np.sqrt(eig)
    return z @ comps


def _balanced_signs(n, rng):
    """n signs, half +1 and half -1 (one extra +1 or -1 when n is odd)."""
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    if n % 2 == 1 and rng.random() < 0.5:
        signs = -signs
    return signs[rng.permutation(n)]


def _orthogonal_directions(comps_top, n_directions, rng):
    """n_directions orthonormal unit vectors orthogonal to the rows of comps_top."""
    d = comps_top.shape[1]
    g = rng.standard_normal((d, n_directions))
    g -= comps_top.T @ (comps_top @ g)
    q, r = linalg.qr(g, mode="economic")
    # A second projection removes the rounding left by the first one.
    q -= comps_top.T @ (comps_top @ q)
    q, _ = linalg.qr(q, mode="economic")
    return np.ascontiguousarray(q.T)


def _rotate_rows(X, q):
    """X @ q.T in row blocks, in place."""
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        X[start : start + _BLOCK_ROWS] = X[start : start + _BLOCK_ROWS] @ q.T
    return X


def _stealth(base, location, w, t, signs):
    """Project the rows of base off w (through location) and put them at +-t on w."""
    xc = base - location
    xc -= np.outer(xc @ w, w)
    xc += np.outer(signs * t, w)
    return xc + location


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "contamination": [Interval(numbers.Real, 0, 0.5, closed="left")],
        "outlier_kind": [StrOptions(set(_PCA_KINDS + _DETECTOR_KINDS))],
        "covariance": [StrOptions(set(_COVARIANCES))],
        "n_spikes": [Interval(numbers.Integral, 1, None, closed="left")],
        "spike": [Interval(numbers.Real, 0, None, closed="neither"), "array-like"],
        "rho": [Interval(numbers.Real, -1, 1, closed="neither")],
        "strength": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_directions": [Interval(numbers.Integral, 1, None, closed="left")],
        "df": [Interval(numbers.Real, 2, None, closed="neither")],
        "inlier_distribution": [StrOptions(set(_DISTRIBUTIONS))],
        "rotate": ["boolean"],
        "spread": [Interval(numbers.Real, 0, None, closed="left")],
        "location": [None, numbers.Real, "array-like"],
        "return_params": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_contaminated_gaussian(
    n_samples,
    n_features,
    *,
    contamination=0.1,
    outlier_kind="stealth",
    covariance="spiked",
    n_spikes=1,
    spike=3.0,
    rho=0.5,
    strength=2.0,
    n_directions=4,
    df=5,
    inlier_distribution="gaussian",
    rotate=False,
    spread=0.1,
    location=None,
    return_params=False,
    random_state=None,
):
    r"""Generate inliers with a known scatter plus planted outliers.

    The inliers are ``n_samples`` i.i.d. draws with location ``mu`` and
    covariance ``Sigma``; then ``round(contamination * n_samples)`` of them are
    replaced by outliers of the chosen kind (``'strong_adversary'`` and
    ``'sparse_entries'`` count differently, see Notes). The outliers take
    random row positions, not the end; ``is_outlier`` says where they are.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int
        Number of columns ``d``.
    contamination : float in [0, 0.5), default=0.1
        Outlier fraction ``eps``.
    outlier_kind : str, default='stealth'
        One of the robust-PCA kinds ``'far'``, ``'stealth'``,
        ``'multi_direction'``, ``'strong_adversary'``, ``'heavy_tailed'``,
        ``'sparse_entries'`` or the detector kinds ``'shift'``,
        ``'minor_axis'``, ``'point_mass'``, ``'scatter'``, ``'clusters'``
        (formulas in Notes).
    covariance : {'identity', 'spiked', 'decaying', 'ar1', 'random_corr'}, default='spiked'
        Inlier covariance ``Sigma``:

        - ``'identity'``: ``I``.
        - ``'spiked'``: ``I + sum_j (lambda_j - 1) u_j u_j^T`` with
          ``lambda_j = spike`` (``j < n_spikes``) and ``U`` a random
          orthonormal basis.
        - ``'decaying'``: eigenvalues ``spike / j`` (``j = 1..d``), random
          orthonormal eigenvectors.
        - ``'ar1'``: ``Sigma_ij = rho**|i - j|``.
        - ``'random_corr'``: a random correlation matrix (unit diagonal) with
          eigenvalues geometric between ``sqrt(100)`` and ``1/sqrt(100)``
          times a constant, so its condition number is 100.
    n_spikes : int, default=1
        Number of spikes for ``'spiked'``; for every covariance, the outlier
        directions ``w`` are drawn orthogonal to the top ``n_spikes``
        eigenvectors ``U`` of ``Sigma``.
    spike : float or array-like of shape (n_spikes,), default=3.0
        Spike eigenvalue(s) ``lambda_j`` for ``'spiked'`` (an array gives
        distinct spikes); the top eigenvalue for ``'decaying'`` (float only).
    rho : float in (-1, 1), default=0.5
        Correlation of neighbouring coordinates for ``'ar1'``.
    strength : float > 0, default=2.0
        The kind's magnitude ``c`` (or ``k``), see Notes.
    n_directions : int, default=4
        Number ``r`` of outlier directions for ``'multi_direction'``.
    df : float > 2, default=5
        Degrees of freedom of the Student-t inliers (``'student_t'`` and
        ``'heavy_tailed'``).
    inlier_distribution : {'gaussian', 'student_t', 'skew_normal', 'lognormal'}, default='gaussian'
        ``'gaussian'``: ``N(mu, Sigma)``. ``'student_t'``: multivariate t with
        ``df`` degrees of freedom scaled so its covariance is exactly
        ``Sigma``. ``'skew_normal'`` and ``'lognormal'``: Gaussian copulas
        with the correlation of ``Sigma`` and skew-normal (shape 5) or
        log-normal (``sigma = 1``) marginals standardised to mean ``mu_j``
        and variance ``Sigma_jj``; their correlations are those of the latent
        Gaussian pushed through the marginal maps, so only the diagonal of
        ``Sigma`` is exact.
    rotate : bool, default=False
        Apply one random rotation ``Q`` to everything: rows become ``Q x``,
        and ``params`` hold ``Q mu``, ``Q Sigma Q^T``, rotated components and
        directions. Not allowed with ``'sparse_entries'``.
    spread : float >= 0, default=0.1
        Scale of the ``N(0, spread**2 Sigma)`` jitter of the cluster-type
        outliers (``'far'``, ``'minor_axis'``, ``'clusters'``).
    location : None, float or array-like of shape (n_features,), default=None
        Inlier location ``mu`` (None means 0; a float fills every
        coordinate), before the rotation.
    return_params : bool, default=False
        Also return a dictionary with the truth.
    random_state : int, RandomState instance or None, default=None
        Seeds everything. Sub-streams are split off it, so for a fixed seed
        the inlier draws and the covariance do not depend on
        ``outlier_kind`` or ``contamination`` (with the same inlier
        settings), and the outlier positions are nested in
        ``contamination`` (except for ``'strong_adversary'``): paired
        comparisons across kinds and levels see the same clean data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        The data.
    is_outlier : ndarray of shape (n_samples,), dtype bool
        True for the planted outliers (for ``'sparse_entries'``: rows holding
        at least one corrupted entry).
    params : dict
        Only when ``return_params=True``:

        - ``'location'``: ``mu``, shape (d,).
        - ``'covariance'``: ``Sigma``, shape (d, d).
        - ``'components'``: eigenvectors of ``Sigma`` as rows, by decreasing
          eigenvalue, shape (d, d); the first ``n_spikes`` rows are ``U``.
        - ``'eigenvalues'``: decreasing, shape (d,).
        - ``'outlier_directions'``: unit rows (r, d) along which the outliers
          were placed (``w``; the all-ones direction for ``'shift'`` and
          ``'point_mass'``; the smallest eigenvector for ``'minor_axis'``;
          the two cluster centre directions for ``'clusters'``; none for
          ``'scatter'`` and ``'sparse_entries'``).
        - ``'outlier_magnitude'``: the ``t``, ``R``, offset norm, radius or
          scale of the formula below (nan when no outlier was planted).
        - ``'n_outliers'``: ``is_outlier.sum()``.
        - ``'corrupted_entries'``: bool (n_samples, d) mask, only for
          ``'sparse_entries'``.

    See Also
    --------
    load_outlier_benchmark : Real data with known outliers.
    sklearn_spectral.decomposition.RobustPCA : Outlier-robust PCA.
    sklearn_spectral.covariance.ShrinkageMahalanobisDetector : Robust
        Mahalanobis outlier detection.

    Notes
    -----
    Write ``eps = contamination``, ``c = k = strength``, ``lambda_1`` the top
    eigenvalue of ``Sigma``, ``chi2 = chi2_d.ppf(0.975)``, ``1`` the
    all-ones vector and ``w`` a unit vector orthogonal to the top
    ``n_spikes`` eigenvectors. Random signs are balanced (half ``+``, half
    ``-``), so the outliers do not move the mean. The number of outliers is
    ``m = round(eps * n_samples)`` unless said otherwise.

    Robust-PCA kinds (each adds second moment ``c * lambda_1`` along ``w``,
    which lifts ``w`` above ``lambda_1`` and so takes PCA's top component):

    - ``'far'``: ``mu +- R w`` plus ``N(0, spread**2 Sigma)`` jitter,
      ``eps R**2 = c lambda_1``, i.e. ``R = sqrt(c lambda_1 / eps)``. Flips
      PCA; norm trimming suffices when ``R**2`` exceeds ``tr Sigma``.
    - ``'stealth'``: an inlier draw projected off ``w`` (through ``mu``)
      plus ``+- t w`` with ``t = sqrt(c lambda_1 / eps)``. The norms look
      like the inliers' once ``t**2`` is small against ``tr Sigma`` (large
      ``d``); the core case.
    - ``'multi_direction'``: the same over ``r = n_directions`` orthonormal
      ``w_j``, ``m / r`` outliers each (as balanced as possible), with
      ``t = sqrt(r c lambda_1 / eps)``.
    - ``'strong_adversary'``: of ``n_samples`` inlier draws, the
      ``m = round(eps * n_samples / 2)`` with the largest ``|u_1^T (x -
      mu)|`` are replaced by stealth points built from fresh draws, with
      ``t = sqrt(2 c lambda_1 / eps)`` (the stealth formula at the fraction
      ``eps / 2`` actually added). So ``is_outlier.sum()`` is ``m``, not
      ``round(eps n)``; the other ``eps n / 2`` of the budget went on
      removing the tail along ``u_1``.
    - ``'heavy_tailed'``: Student-t inliers (``df``, covariance ``Sigma``)
      plus ``'stealth'`` outliers; ``inlier_distribution`` must then be
      ``'gaussian'`` (the default, overridden) or ``'student_t'``.
    - ``'sparse_entries'``: the PCP model: ``round(eps * n_samples * d)``
      entries chosen uniformly at random get ``+- t`` added, ``t =
      sqrt(c lambda_1 / eps)``; every row is a corrupted-or-not inlier, so
      ``is_outlier`` flags rows with at least one corrupted entry and
      ``params['corrupted_entries']`` gives the entries.

    Detector kinds (calibrated on the 97.5% chi-square cut-off):

    - ``'shift'``: an inlier draw plus ``a 1``, ``a = k sqrt(chi2 / d)``
      (Mahalanobis distance of the shift ``k sqrt(chi2)`` when ``Sigma = I``;
      magnitude reported: ``a sqrt(d)``).
    - ``'minor_axis'``: ``N(mu + k sqrt(chi2 lambda_d) u_d, spread**2
      Sigma)``, ``u_d`` the eigenvector of the smallest eigenvalue
      ``lambda_d``: Mahalanobis distance of the centre ``k sqrt(chi2)``.
    - ``'point_mass'``: every outlier equals ``mu + a 1`` with ``a`` as for
      ``'shift'``; to put the mass at ``t 1``, pass ``strength = t /
      sqrt(chi2 / d)``.
    - ``'scatter'``: ``mu + s (x - mu)`` for inlier draws ``x``, ``s = 2.5
      k``, i.e. ``N(mu, 25 Sigma)`` at the default ``strength=2``.
    - ``'clusters'``: two equal clusters ``N(mu + k sqrt(chi2) Sigma^{1/2}
      v_i, spread**2 Sigma)`` with random unit ``v_1, v_2``: centres at
      Mahalanobis distance ``k sqrt(chi2)``.

    The generator draws ``O(n d)`` normals and does one ``n x d x d``
    product; the ``d x d`` eigendecomposition costs ``O(d**3)``
    (``'random_corr'`` also calls :data:`scipy.stats.random_correlation`,
    several seconds at ``d = 1000``).

    References
    ----------
    .. [1] I. Diakonikolas, D. M. Kane, A. Pensia, T. Pittas. Nearly-Linear
       Time and Streaming Algorithms for Outlier-Robust PCA. ICML 2023,
       PMLR 202:7886-7921. arXiv:2305.02544.
    .. [2] E. Cabana, R. E. Lillo, H. Laniado. Multivariate outlier detection
       based on a robust Mahalanobis distance with shrinkage estimators.
       Statistical Papers 62, 2021. arXiv:1904.02596.

    Examples
    --------
    >>> from sklearn_spectral.datasets import make_contaminated_gaussian
    >>> X, is_outlier = make_contaminated_gaussian(
    ...     500, 10, contamination=0.1, outlier_kind="stealth", random_state=0)
    >>> X.shape, int(is_outlier.sum())
    ((500, 10), 50)
    >>> X, is_outlier, params = make_contaminated_gaussian(
    ...     200, 5, outlier_kind="shift", covariance="ar1", rho=0.9,
    ...     return_params=True, random_state=0)
    >>> params["covariance"].shape, params["components"].shape
    ((5, 5), (5, 5))
    """  # noqa: E501 (numpydoc type lines do not wrap)
    d = n_features
    kind = outlier_kind
    distribution = inlier_distribution
    if kind == "heavy_tailed":
        if distribution not in ("gaussian", "student_t"):
            raise ValueError(
                f"{_NAME}: outlier_kind='heavy_tailed' draws Student-t inliers; "
                f"got inlier_distribution={distribution!r}, expected 'gaussian' "
                "or 'student_t'."
            )
        distribution = "student_t"
    if kind == "sparse_entries" and rotate:
        raise ValueError(
            f"{_NAME}: rotate=True is not supported with "
            "outlier_kind='sparse_entries' (a rotation spreads the sparse "
            "corruptions over every entry)."
        )

    # Spikes.
    spike_arr = np.asarray(spike, dtype=np.float64)
    if spike_arr.ndim == 0:
        if covariance == "spiked":
            spike_arr = np.full(n_spikes, float(spike_arr))
    elif covariance == "decaying":
        raise ValueError(
            f"{_NAME}: spike must be a float for covariance='decaying'; got an "
            f"array of shape {spike_arr.shape}."
        )
    elif spike_arr.shape != (n_spikes,):
        raise ValueError(
            f"{_NAME}: spike must be a float or an array of shape "
            f"(n_spikes,) = ({n_spikes},); got shape {spike_arr.shape}."
        )
    if not np.all(np.isfinite(spike_arr)) or np.any(spike_arr <= 0):
        raise ValueError(
            f"{_NAME}: spike must hold finite positive values; got {spike!r}."
        )
    if n_spikes > d:
        raise ValueError(f"{_NAME}: n_spikes={n_spikes} exceeds n_features={d}.")
    n_dir = {"multi_direction": n_directions}.get(kind, 1)
    if kind in (
        "far",
        "stealth",
        "multi_direction",
        "strong_adversary",
        "heavy_tailed",
    ):
        if n_spikes + n_dir > d:
            raise ValueError(
                f"{_NAME}: outlier_kind={kind!r} needs {n_dir} direction(s) "
                f"orthogonal to the top n_spikes={n_spikes} eigenvectors, so "
                f"n_features must be at least {n_spikes + n_dir}; got {d}."
            )

    # Location.
    if location is None:
        mu = np.zeros(d)
    else:
        mu = np.asarray(location, dtype=np.float64)
        if mu.ndim == 0:
            mu = np.full(d, float(mu))
        elif mu.shape != (d,):
            raise ValueError(
                f"{_NAME}: location must be None, a float or an array of shape "
                f"(n_features,) = ({d},); got shape {mu.shape}."
            )
        if not np.all(np.isfinite(mu)):
            raise ValueError(f"{_NAME}: location must be finite.")
        mu = mu.copy()

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=6)
    # numpy Generators for the sub-streams: their normals are several times
    # faster than RandomState's, which matters at 1e8 draws.
    cov_rng, inlier_rng, dir_rng, out_rng, rot_rng, perm_rng = (
        np.random.default_rng(s) for s in seeds
    )

    spike_value = spike_arr if covariance == "spiked" else float(spike_arr.flat[0])
    eig, comps, sigma = _spectrum(covariance, d, n_spikes, spike_value, rho, cov_rng)
    lam1 = float(eig[0])

    X = _sample(n_samples, eig, comps, sigma, mu, distribution, df, inlier_rng)
    is_outlier = np.zeros(n_samples, dtype=bool)
    directions = np.empty((0, d))
    magnitude = np.nan
    corrupted = None
    eps = float(contamination)
    c = float(strength)
    chi2 = stats.chi2.ppf(_CHI2_LEVEL, d)

    if kind == "strong_adversary":
        m = int(round(eps * n_samples / 2))
    else:
        m = int(round(eps * n_samples))

    if kind == "sparse_entries":
        n_entries = int(round(eps * n_samples * d))
        corrupted = np.zeros((n_samples, d), dtype=bool)
        if n_entries > 0:
            t = np.sqrt(c * lam1 / eps)
            flat = sample_without_replacement(
                n_samples * d,
                n_entries,
                random_state=int(out_rng.integers(np.iinfo(np.int32).max)),
            )
            ri, ci = np.unravel_index(flat, (n_samples, d))
            X[ri, ci] += t * _balanced_signs(n_entries, out_rng)
            corrupted[ri, ci] = True
            magnitude = t
        is_outlier = corrupted.any(axis=1)
    elif m > 0:
        # The inlier rows are i.i.d., so replacing a random subset of positions
        # leaves the outliers scattered without copying X for a shuffle.
        rows = perm_rng.permutation(n_samples)[:m]
        if kind in (
            "far",
            "stealth",
            "multi_direction",
            "strong_adversary",
            "heavy_tailed",
        ):
            directions = _orthogonal_directions(comps[:n_spikes], n_dir, dir_rng)
        if kind == "far":
            magnitude = np.sqrt(c * lam1 / eps)
            signs = _balanced_signs(m, out_rng)
            X[rows] = (
                mu
                + np.outer(signs * magnitude, directions[0])
                + spread * _gaussian_noise(m, eig, comps, out_rng)
            )
        elif kind in ("stealth", "heavy_tailed"):
            magnitude = np.sqrt(c * lam1 / eps)
            signs = _balanced_signs(m, out_rng)
            X[rows] = _stealth(X[rows], mu, directions[0], magnitude, signs)
        elif kind == "multi_direction":
            r = n_directions
            magnitude = np.sqrt(r * c * lam1 / eps)
            order = np.arange(m)
            which = order % r
            signs = np.where((order // r) % 2 == 0, 1.0, -1.0)
            for j in range(r):
                sel = which == j
                X[rows[sel]] = _stealth(
                    X[rows[sel]], mu, directions[j], magnitude, signs[sel]
                )
        elif kind == "strong_adversary":
            magnitude = np.sqrt(2.0 * c * lam1 / eps)
            along = np.abs((X - mu) @ comps[0])
            rows = np.argpartition(-along, m - 1)[:m]
            base = _sample(m, eig, comps, sigma, mu, distribution, df, out_rng)
            signs = _balanced_signs(m, out_rng)
            X[rows] = _stealth(base, mu, directions[0], magnitude, signs)
        elif kind in ("shift", "point_mass"):
            a = c * np.sqrt(chi2 / d)
            directions = np.full((1, d), 1.0 / np.sqrt(d))
            magnitude = a * np.sqrt(d)
            if kind == "shift":
                X[rows] += a
            else:
                X[rows] = mu + a
        elif kind == "minor_axis":
            u = comps[-1]
            magnitude = c * np.sqrt(chi2 * eig[-1])
            directions = u[None, :].copy()
            X[rows] = (
                mu + magnitude * u + spread * _gaussian_noise(m, eig, comps, out_rng)
            )
        elif kind == "scatter":
            magnitude = _SCATTER_FACTOR * c
            X[rows] = mu + magnitude * (X[rows] - mu)
        elif kind == "clusters":
            v = out_rng.standard_normal((2, d))
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            # Sigma^{1/2} v for each row v.
            offsets = ((v @ comps.T) * np.sqrt(eig)) @ comps
            offsets *= c * np.sqrt(chi2)
            magnitude = c * np.sqrt(chi2)
            norms = np.linalg.norm(offsets, axis=1, keepdims=True)
            directions = offsets / np.where(norms > 0, norms, 1.0)
            half = (m + 1) // 2
            centres = np.where((np.arange(m) < half)[:, None], offsets[0], offsets[1])
            X[rows] = mu + centres + spread * _gaussian_noise(m, eig, comps, out_rng)
        is_outlier[rows] = True

    if rotate:
        q = _random_orthogonal(d, rot_rng)
        X = _rotate_rows(X, q)
        mu = q @ mu
        sigma = q @ sigma @ q.T
        sigma = 0.5 * (sigma + sigma.T)
        comps = comps @ q.T
        directions = directions @ q.T

    if not return_params:
        return X, is_outlier
    params = {
        "location": mu,
        "covariance": sigma,
        "components": comps,
        "eigenvalues": eig,
        "outlier_directions": directions,
        "outlier_magnitude": float(magnitude),
        "n_outliers": int(is_outlier.sum()),
    }
    if corrupted is not None:
        params["corrupted_entries"] = corrupted
    return X, is_outlier, params
