"""Gaussian mixtures with heterogeneous covariances, scaled to the recovery cutoff."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._contaminated import _random_orthogonal

__all__ = ["make_heterogeneous_mixture", "exact_recovery_cutoff"]

_NAME = "make_heterogeneous_mixture"
_DESIGNS = (
    "isotropic",
    "scales",
    "shapes",
    "equal_means",
    "unbalanced",
    "high_dim",
    "em_trap",
)
# Default of `heterogeneity` per design (None: not used).
_DEFAULT_HETEROGENEITY = {
    "isotropic": None,
    "scales": 2.0,
    "shapes": 16.0,
    "equal_means": 4.0,
    "unbalanced": 3.0,
    "high_dim": 2.0,
    "em_trap": 6.0,
}
# em_trap geometry: tight clusters of scale 0.5, 5 tight scales apart.
_EM_TRAP_TIGHT_SCALE = 0.5
_EM_TRAP_TIGHT_DISTANCE = 5.0


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def exact_recovery_cutoff(n_samples, n_features, n_clusters, sigma=1.0):
    """Minimal centre separation for exact recovery in a Gaussian mixture.

    For ``K`` equal-size clusters with noise ``N(0, sigma**2 I_p)``, Chen and
    Yang show a sharp cutoff for exact recovery of the partition at

    ``Delta_bar**2 = 4 sigma**2 (1 + sqrt(1 + K p / (n log n))) log n``:

    the K-means SDP recovers the clusters exactly above ``(1 + e) Delta_bar``
    and no method can below ``(1 - e) Delta_bar``.

    Parameters
    ----------
    n_samples : int >= 2
        Number of points ``n``.
    n_features : int
        Dimension ``p``.
    n_clusters : int
        Number of clusters ``K``.
    sigma : float > 0, default=1.0
        Noise standard deviation.

    Returns
    -------
    float
        The cutoff ``Delta_bar`` (not squared).

    See Also
    --------
    make_heterogeneous_mixture : Mixtures whose separation is set in units of
        this cutoff.

    References
    ----------
    .. [1] X. Chen, Y. Yang. Cutoff for exact recovery of Gaussian mixture
       models. IEEE Trans. Information Theory 67(6), 2021. arXiv:2001.01194.

    Examples
    --------
    >>> from sklearn_spectral.datasets import exact_recovery_cutoff
    >>> round(exact_recovery_cutoff(300, 5, 3), 3)
    6.762
    """
    n = float(n_samples)
    log_n = np.log(n)
    ratio = n_clusters * n_features / (n * log_n)
    sq = 4.0 * sigma**2 * (1.0 + np.sqrt(1.0 + ratio)) * log_n
    return float(np.sqrt(sq))


def _regular_means(k, p, side):
    """k points with every pairwise distance equal to side when p >= k.

    ``(side / sqrt(2)) e_j`` for p >= k; a regular k-gon of that side in the
    first two coordinates for 2 <= p < k; points ``side`` apart on a line for
    p = 1 (then only neighbours are ``side`` apart).
    """
    means = np.zeros((k, p))
    if k == 1:
        return means
    if p >= k:
        means[np.arange(k), np.arange(k)] = side / np.sqrt(2.0)
    elif p >= 2:
        radius = side / (2.0 * np.sin(np.pi / k))
        angles = 2.0 * np.pi * np.arange(k) / k
        means[:, 0] = radius * np.cos(angles)
        means[:, 1] = radius * np.sin(angles)
    else:
        means[:, 0] = side * np.arange(k)
    return means


def _free_direction(k, p):
    """A unit vector orthogonal to the centred layout of ``_regular_means(k, p, .)``."""
    direction = np.zeros(p)
    if k <= 1 or p == 1:
        direction[0] = 1.0
    elif p > k:
        direction[k] = 1.0
    elif p == k:
        # The centred simplex lies in the hyperplane orthogonal to 1.
        direction[:] = 1.0 / np.sqrt(p)
    elif p >= 3:
        direction[2] = 1.0
    else:
        # A polygon filling the plane: shift it within the plane.
        direction[0] = 1.0
    return direction


def _sizes(n, weights):
    """Integer sizes summing to n, proportional to weights (largest remainder)."""
    share = n * np.asarray(weights, dtype=np.float64) / np.sum(weights)
    sizes = np.floor(share).astype(np.int64)
    rest = n - sizes.sum()
    if rest > 0:
        order = np.argsort(-(share - sizes), kind="stable")
        sizes[order[:rest]] += 1
    return sizes


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_features": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "design": [StrOptions(set(_DESIGNS))],
        "separation": [Interval(numbers.Real, 0, None, closed="left")],
        "heterogeneity": [None, Interval(numbers.Real, 1, None, closed="left")],
        "random_state": ["random_state"],
        "return_params": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_heterogeneous_mixture(
    n_samples=300,
    n_features=None,
    n_clusters=3,
    *,
    design="isotropic",
    separation=1.2,
    heterogeneity=None,
    random_state=None,
    return_params=False,
):
    """Generate a Gaussian mixture whose separation is set against the recovery cutoff.

    The cluster means are ``(Delta / sqrt(2)) e_k`` (a regular K-gon of side
    ``Delta`` when ``p < K``; points ``Delta`` apart on a line when ``p = 1``),
    so every pair of centres is ``Delta`` apart, with
    ``Delta = separation * exact_recovery_cutoff(n, p, K, sigma)`` and
    ``sigma**2`` the largest eigenvalue among the cluster covariances. Rows
    are shuffled.

    Parameters
    ----------
    n_samples : int, default=300
        Number of points ``n``.
    n_features : int or None, default=None
        Dimension ``p``; None means 5 (10 for ``'equal_means'``,
        ``n_samples // n_clusters`` for ``'high_dim'``).
    n_clusters : int, default=3
        Number of clusters ``K``.
    design : str, default='isotropic'
        Covariances ``Sigma_k`` and sizes:

        - ``'isotropic'``: ``Sigma_k = I``, equal sizes (the setting of the
          theory: the error vanishes above ``separation = 1``).
        - ``'scales'``: ``Sigma_k = s_k**2 I``, ``s_k`` geometric from 1 to
          ``heterogeneity`` (default 2).
        - ``'shapes'``: ``Sigma_k = R_k diag(kappa**(j / (p - 1))) R_k^T``
          scaled to trace ``p``, random rotations ``R_k``, ``kappa =
          heterogeneity`` (default 16); needs ``p >= 2``.
        - ``'equal_means'``: every mean 0 and ``Sigma_k = s_k**2 I`` with
          ``s_k`` geometric from 1 to ``heterogeneity`` (default 4);
          ``separation`` is ignored: K-means-type methods must fail.
        - ``'unbalanced'``: isotropic; the first ``K // 2`` clusters have
          weight 1 and the others weight ``heterogeneity`` (default 3), e.g.
          sizes ``n/8, n/8, 3n/8, 3n/8`` for ``K = 4``.
        - ``'high_dim'``: ``'scales'`` with ``p = n_samples // n_clusters``
          when ``n_features`` is None (``n_k`` close to ``p``).
        - ``'em_trap'``: one broad cluster (``s = 0.5 * heterogeneity``,
          default 3) and ``K - 1`` tight ones (``s = 0.5``), equal sizes. The
          tight means form a regular simplex of side ``2.5`` (5 tight scales)
          whose centroid is ``Delta`` away from the broad mean (``sigma`` is
          the broad scale). Splitting the broad cluster lowers the K-means
          inertia more than separating the tight ones, so K-means, and EM
          started from it, merge the tight clusters although they are
          clearly apart. Designed for ``K = 3``.
    separation : float >= 0, default=1.2
        ``Delta / Delta_bar``.
    heterogeneity : float >= 1 or None, default=None
        The design's knob (see ``design``); None takes the design's default.
        Not used by ``'isotropic'``.
    random_state : int, RandomState instance or None, default=None
        Seeds rotations, draws and the row order.
    return_params : bool, default=False
        Also return a dictionary with the truth.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        The points.
    y : ndarray of shape (n_samples,), dtype int64
        Cluster labels in ``[0, K)``.
    params : dict
        Only when ``return_params=True``: ``'means'`` (K, p),
        ``'covariances'`` (K, p, p), ``'sizes'`` (K,), ``'weights'``
        (``sizes / n``), ``'sigma'``, ``'cutoff'`` (``Delta_bar``) and
        ``'delta'`` (``Delta``).

    See Also
    --------
    exact_recovery_cutoff : The separation unit.
    sklearn_spectral.cluster.SDPKMeans : Peng-Wei SDP clustering.
    sklearn_spectral.cluster.SDPGaussianMixture : Likelihood-adjusted SDP
        clustering for heterogeneous covariances.

    Notes
    -----
    Exact recovery theory covers the isotropic equal-size case; the other
    designs reuse its scale so that ``separation`` stays comparable across
    them (``sigma`` is the largest standard deviation along any direction).

    References
    ----------
    .. [1] X. Chen, Y. Yang. Cutoff for exact recovery of Gaussian mixture
       models. IEEE Trans. Information Theory 67(6), 2021. arXiv:2001.01194.
    .. [2] Y. Zhuang, X. Chen, Y. Yang. Likelihood Adjusted Semidefinite
       Programs for Clustering Heterogeneous Data. ICML 2023.
       arXiv:2209.15097.

    Examples
    --------
    >>> from sklearn_spectral.datasets import make_heterogeneous_mixture
    >>> X, y = make_heterogeneous_mixture(150, n_clusters=3, design="scales",
    ...                                   random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((150, 5), [0, 1, 2])
    """
    n = int(n_samples)
    k = int(n_clusters)
    if n < k:
        raise ValueError(
            f"{_NAME}: n_samples must be at least n_clusters={k}; got {n}."
        )
    if n_features is None:
        p = {"equal_means": 10, "high_dim": max(1, n // k)}.get(design, 5)
    else:
        p = int(n_features)
    if design == "shapes" and p < 2:
        raise ValueError(f"{_NAME}: design='shapes' needs n_features >= 2; got {p}.")
    h = (
        _DEFAULT_HETEROGENEITY[design]
        if heterogeneity is None
        else float(heterogeneity)
    )

    rng = check_random_state(random_state)

    # Sizes.
    if design == "unbalanced":
        weights = np.where(np.arange(k) < k // 2, 1.0, h)
    else:
        weights = np.ones(k)
    sizes = _sizes(n, weights)

    # Covariances as eigenvalues and eigenvectors (columns).
    eigvals = np.ones((k, p))
    eigvecs = np.broadcast_to(np.eye(p), (k, p, p)).copy()
    if design in ("scales", "high_dim", "equal_means"):
        scales = np.geomspace(1.0, h, k) if k > 1 else np.ones(1)
        eigvals *= (scales**2)[:, None]
    elif design == "shapes":
        spectrum = h ** (np.arange(p) / (p - 1.0))
        spectrum *= p / spectrum.sum()
        eigvals[:] = spectrum
        for j in range(k):
            eigvecs[j] = _random_orthogonal(p, rng)
    elif design == "em_trap":
        eigvals[:] = _EM_TRAP_TIGHT_SCALE**2
        eigvals[0] = (_EM_TRAP_TIGHT_SCALE * h) ** 2
    sigma = float(np.sqrt(eigvals.max()))
    cutoff = exact_recovery_cutoff(n, p, k, sigma)
    delta = float(separation) * cutoff

    # Means.
    if design == "equal_means":
        means = np.zeros((k, p))
    elif design == "em_trap":
        means = np.zeros((k, p))
        if k > 1:
            side = _EM_TRAP_TIGHT_DISTANCE * _EM_TRAP_TIGHT_SCALE
            tight = _regular_means(k - 1, p, side)
            tight -= tight.mean(axis=0)
            tight += delta * _free_direction(k - 1, p)
            means[1:] = tight
    else:
        means = _regular_means(k, p, delta)

    # Draws.
    X = np.empty((n, p))
    y = np.repeat(np.arange(k, dtype=np.int64), sizes)
    start = 0
    for j in range(k):
        stop = start + sizes[j]
        z = rng.standard_normal((sizes[j], p))
        z *= np.sqrt(eigvals[j])
        X[start:stop] = means[j] + z @ eigvecs[j].T
        start = stop
    perm = rng.permutation(n)
    X = X[perm]
    y = y[perm]
    if not return_params:
        return X, y
    covariances = np.einsum("kij,kj,klj->kil", eigvecs, eigvals, eigvecs)
    params = {
        "means": means,
        "covariances": covariances,
        "sizes": sizes,
        "weights": sizes / n,
        "sigma": sigma,
        "cutoff": cutoff,
        "delta": delta,
    }
    return X, y, params
