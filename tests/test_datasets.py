"""Properties of the data generators in sklearn_spectral.datasets."""

from contextlib import contextmanager

import numpy as np
import pytest
from scipy import sparse, stats
from scipy.spatial.distance import pdist
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.metrics import adjusted_rand_score

from sklearn_spectral.datasets import (
    OUTLIER_BENCHMARKS,
    exact_recovery_cutoff,
    hide_labels,
    load_outlier_benchmark,
    make_attributed_sbm,
    make_contaminated_gaussian,
    make_heterogeneous_mixture,
    make_manifold_regression,
    sbm_detectability_threshold,
)

ALL_KINDS = [
    "far",
    "stealth",
    "multi_direction",
    "strong_adversary",
    "heavy_tailed",
    "sparse_entries",
    "shift",
    "minor_axis",
    "point_mass",
    "scatter",
    "clusters",
]


@contextmanager
def _raises(function, parameter):
    """A ValueError whose message names the function and the parameter."""
    with pytest.raises(ValueError) as info:
        yield
    message = str(info.value)
    assert function in message and parameter in message, message


def _top_component(X):
    """PCA's top direction (unit vector) of the rows of X."""
    Xc = X - X.mean(axis=0)
    _, vecs = np.linalg.eigh(Xc.T @ Xc / (X.shape[0] - 1))
    return vecs[:, -1]


def _captured(v, params):
    """Share of lambda_1 that direction v captures: v' Sigma v / lambda_1."""
    return float(v @ params["covariance"] @ v / params["eigenvalues"][0])


# --------------------------------------------------------------------------
# make_contaminated_gaussian


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_contaminated_shapes_counts_and_determinism(kind):
    n, d, eps = 400, 12, 0.1
    kwargs = dict(contamination=eps, outlier_kind=kind, return_params=True)
    X, is_out, params = make_contaminated_gaussian(n, d, random_state=3, **kwargs)
    assert X.shape == (n, d) and X.dtype == np.float64
    assert is_out.shape == (n,) and is_out.dtype == bool
    assert np.all(np.isfinite(X))
    if kind == "sparse_entries":
        mask = params["corrupted_entries"]
        assert mask.shape == (n, d) and int(mask.sum()) == round(eps * n * d)
        np.testing.assert_array_equal(is_out, mask.any(axis=1))
    elif kind == "strong_adversary":
        assert int(is_out.sum()) == round(eps * n / 2)
    else:
        assert int(is_out.sum()) == round(eps * n)
    assert params["n_outliers"] == int(is_out.sum())
    # Outliers are scattered, not stacked at the end.
    m = int(is_out.sum())
    assert not is_out[n - m :].all()
    # Same seed, same data; another seed, other data.
    X2, is_out2 = make_contaminated_gaussian(n, d, random_state=3, **kwargs)[:2]
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(is_out, is_out2)
    X3 = make_contaminated_gaussian(n, d, random_state=4, **kwargs)[0]
    assert not np.allclose(X, X3)


def test_contaminated_same_inliers_across_kinds():
    """A fixed seed gives the same clean rows whatever the outlier kind."""
    X1, o1 = make_contaminated_gaussian(300, 6, outlier_kind="far", random_state=0)
    X2, o2 = make_contaminated_gaussian(300, 6, outlier_kind="shift", random_state=0)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(X1[~o1], X2[~o2])
    # Outlier positions are nested in the contamination level.
    _, small = make_contaminated_gaussian(300, 6, contamination=0.05, random_state=0)
    assert int(small.sum()) == 15 and np.all(o1[small])


@pytest.mark.parametrize(
    "covariance", ["identity", "spiked", "decaying", "ar1", "random_corr"]
)
@pytest.mark.parametrize("distribution", ["gaussian", "student_t"])
def test_clean_covariance_is_sigma(covariance, distribution):
    d = 6
    X, is_out, params = make_contaminated_gaussian(
        100_000,
        d,
        contamination=0.0,
        covariance=covariance,
        inlier_distribution=distribution,
        rho=0.7,
        location=2.0,
        return_params=True,
        random_state=0,
    )
    assert not is_out.any()
    sigma = params["covariance"]
    np.testing.assert_allclose(sigma, sigma.T)
    np.testing.assert_allclose(params["location"], np.full(d, 2.0))
    # Components are orthonormal eigenvectors, by decreasing eigenvalue.
    comps, eig = params["components"], params["eigenvalues"]
    np.testing.assert_allclose(comps @ comps.T, np.eye(d), atol=1e-10)
    np.testing.assert_allclose(comps @ sigma @ comps.T, np.diag(eig), atol=1e-10)
    assert np.all(np.diff(eig) <= 1e-12)
    # The sample moments approach the stated ones (t_5 converges slowly).
    tol = 0.05 if distribution == "gaussian" else 0.12
    np.testing.assert_allclose(X.mean(axis=0), params["location"], atol=0.03)
    np.testing.assert_allclose(np.cov(X.T), sigma, atol=tol * eig[0])
    if covariance == "spiked":
        np.testing.assert_allclose(eig, [3.0] + [1.0] * (d - 1))
    elif covariance == "decaying":
        np.testing.assert_allclose(eig, 3.0 / np.arange(1, d + 1))
    elif covariance == "ar1":
        np.testing.assert_allclose(sigma[0, :3], [1.0, 0.7, 0.49])
    elif covariance == "random_corr":
        np.testing.assert_allclose(np.diag(sigma), 1.0)
        assert eig[0] / eig[-1] == pytest.approx(100.0, rel=1e-6)


@pytest.mark.parametrize("distribution", ["skew_normal", "lognormal"])
def test_copula_inliers_keep_marginal_moments_and_skew(distribution):
    X, _, params = make_contaminated_gaussian(
        100_000,
        4,
        contamination=0.0,
        covariance="ar1",
        rho=0.8,
        inlier_distribution=distribution,
        return_params=True,
        random_state=1,
    )
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(X.var(axis=0), np.diag(params["covariance"]), rtol=0.1)
    skew = stats.skew(X, axis=0)
    assert np.all(skew > (0.6 if distribution == "skew_normal" else 2.0))
    # The dependence of the latent Gaussian survives: neighbours correlate.
    corr = np.corrcoef(X.T)
    assert np.all(np.diag(corr, 1) > 0.5)


def test_random_rotation_moves_everything_consistently():
    X, _, params = make_contaminated_gaussian(
        100_000,
        5,
        contamination=0.0,
        covariance="ar1",
        rho=0.9,
        rotate=True,
        return_params=True,
        random_state=2,
    )
    sigma = params["covariance"]
    # No longer the banded AR(1) matrix, but the same spectrum.
    assert abs(sigma[0, 1] - 0.9) > 1e-3
    idx = np.arange(5)
    ar1 = 0.9 ** np.abs(idx[:, None] - idx[None, :])
    np.testing.assert_allclose(
        np.linalg.eigvalsh(sigma), np.linalg.eigvalsh(ar1), atol=1e-10
    )
    comps = params["components"]
    np.testing.assert_allclose(
        comps @ sigma @ comps.T, np.diag(params["eigenvalues"]), atol=1e-10
    )
    np.testing.assert_allclose(np.cov(X.T), sigma, atol=0.05 * params["eigenvalues"][0])


def test_stealth_outliers_hide_in_norms_but_take_pca():
    """Norms look like the inliers' (high d), yet PCA's top component is w."""
    X, is_out, params = make_contaminated_gaussian(
        3000,
        300,
        contamination=0.1,
        outlier_kind="stealth",
        strength=1.0,
        return_params=True,
        random_state=0,
    )
    w = params["outlier_directions"][0]
    assert params["outlier_magnitude"] == pytest.approx(np.sqrt(1.0 * 3.0 / 0.1))
    norms = np.linalg.norm(X - params["location"], axis=1)
    assert np.median(norms[is_out]) < 1.1 * np.median(norms[~is_out])
    assert np.median(norms[is_out]) < np.quantile(norms[~is_out], 0.99)
    # Outliers sit at +-t on w, balanced; w is orthogonal to the spike u_1.
    proj = X[is_out] @ w
    np.testing.assert_allclose(np.abs(proj), params["outlier_magnitude"])
    assert abs(int(np.sign(proj).sum())) <= 1
    assert abs(w @ params["components"][0]) < 1e-10
    v = _top_component(X)
    assert abs(v @ w) > 0.95
    assert _captured(v, params) < 0.4
    # The clean rows alone give about the right direction (d / n = 0.11
    # costs them some accuracy).
    assert _captured(_top_component(X[~is_out]), params) > 0.9


@pytest.mark.parametrize(
    "kind", ["far", "multi_direction", "strong_adversary", "heavy_tailed"]
)
def test_pca_kinds_take_pca(kind):
    X, is_out, params = make_contaminated_gaussian(
        4000,
        20,
        contamination=0.1,
        outlier_kind=kind,
        return_params=True,
        random_state=1,
    )
    v = _top_component(X)
    W = params["outlier_directions"]
    assert _captured(v, params) <= 0.4
    # PCA's top direction lies in the span of the outlier directions.
    assert np.linalg.norm(W @ v) > 0.95
    assert _captured(_top_component(X[~is_out]), params) > 0.9
    if kind == "far":
        eps_r2 = 0.1 * params["outlier_magnitude"] ** 2
        assert eps_r2 == pytest.approx(2.0 * 3.0)
        # Far outliers sit near +-R w.
        dist = np.abs(X[is_out] @ W[0]) - params["outlier_magnitude"]
        assert np.abs(dist).max() < 1.0
    if kind == "multi_direction":
        assert W.shape == (4, 20)
        np.testing.assert_allclose(W @ W.T, np.eye(4), atol=1e-10)
        # Outliers split evenly over the directions.
        on = np.argmax(np.abs(X[is_out] @ W.T), axis=1)
        np.testing.assert_array_equal(np.bincount(on, minlength=4), [100] * 4)
    if kind == "strong_adversary":
        # The tail along u_1 was removed from the clean rows.
        u1 = params["components"][0]
        assert np.var(X[~is_out] @ u1) < 0.85 * params["eigenvalues"][0]


def test_sparse_entries_corrupt_single_entries():
    eps, c = 0.05, 2.0
    X, is_out, params = make_contaminated_gaussian(
        1000,
        20,
        contamination=eps,
        outlier_kind="sparse_entries",
        strength=c,
        return_params=True,
        random_state=0,
    )
    X0, _, _ = make_contaminated_gaussian(
        1000,
        20,
        contamination=0.0,
        outlier_kind="sparse_entries",
        return_params=True,
        random_state=0,
    )
    mask = params["corrupted_entries"]
    t = np.sqrt(c * 3.0 / eps)
    np.testing.assert_allclose(np.abs(X - X0)[mask], t)
    np.testing.assert_array_equal(X[~mask], X0[~mask])
    # Most rows hold a corrupted entry: row filters have nothing to remove.
    assert is_out.mean() > 0.5


def test_detector_kinds_follow_their_formulas():
    n, d, eps, k = 4000, 5, 0.1, 3.0
    chi2 = stats.chi2.ppf(0.975, d)
    a = k * np.sqrt(chi2 / d)
    common = dict(contamination=eps, strength=k, return_params=True, random_state=0)

    X, o, p = make_contaminated_gaussian(
        n, d, outlier_kind="point_mass", covariance="identity", **common
    )
    np.testing.assert_allclose(X[o], np.full((400, d), a))

    X, o, p = make_contaminated_gaussian(
        n, d, outlier_kind="shift", covariance="identity", **common
    )
    np.testing.assert_allclose(X[o].mean(axis=0), a, atol=0.2)
    np.testing.assert_allclose(np.cov(X[o].T), np.eye(d), atol=0.25)
    # With Sigma = I the shift sits at Mahalanobis distance k sqrt(chi2).
    assert np.linalg.norm(np.full(d, a)) == pytest.approx(k * np.sqrt(chi2))

    X, o, p = make_contaminated_gaussian(
        n, d, outlier_kind="minor_axis", covariance="ar1", rho=0.8, spread=0.1, **common
    )
    prec = np.linalg.inv(p["covariance"])
    centre = X[o].mean(axis=0)
    maha = np.sqrt(centre @ prec @ centre)
    assert maha == pytest.approx(k * np.sqrt(chi2), rel=0.02)
    u_min = p["components"][-1]
    assert abs(centre @ u_min) / np.linalg.norm(centre) > 0.999
    # Small in Euclidean terms: the minor axis is short.
    assert np.linalg.norm(centre) < k * np.sqrt(chi2)

    X, o, p = make_contaminated_gaussian(
        n, d, outlier_kind="scatter", covariance="ar1", **common
    )
    ratio = np.cov(X[o].T) / p["covariance"]
    assert np.median(np.diag(ratio)) == pytest.approx((2.5 * k) ** 2, rel=0.15)

    X, o, p = make_contaminated_gaussian(
        n, d, outlier_kind="clusters", covariance="ar1", spread=0.05, **common
    )
    prec = np.linalg.inv(p["covariance"])
    labels = KMeans(2, n_init=3, random_state=0).fit_predict(X[o])
    assert sorted(np.bincount(labels).tolist()) == [200, 200]
    for j in range(2):
        c = X[o][labels == j].mean(axis=0)
        assert np.sqrt(c @ prec @ c) == pytest.approx(k * np.sqrt(chi2), rel=0.02)


def test_contaminated_validation_errors():
    with _raises("make_contaminated_gaussian", "contamination"):
        make_contaminated_gaussian(100, 5, contamination=0.6)
    with _raises("make_contaminated_gaussian", "outlier_kind"):
        make_contaminated_gaussian(100, 5, outlier_kind="nope")
    with _raises("make_contaminated_gaussian", "n_features"):
        make_contaminated_gaussian(
            100, 4, outlier_kind="multi_direction", n_directions=4
        )
    with _raises("make_contaminated_gaussian", "inlier_distribution"):
        make_contaminated_gaussian(
            100, 5, outlier_kind="heavy_tailed", inlier_distribution="lognormal"
        )
    with _raises("make_contaminated_gaussian", "rotate"):
        make_contaminated_gaussian(100, 5, outlier_kind="sparse_entries", rotate=True)
    with _raises("make_contaminated_gaussian", "spike"):
        make_contaminated_gaussian(100, 5, n_spikes=2, spike=[3.0, 2.0, 1.5])
    with _raises("make_contaminated_gaussian", "location"):
        make_contaminated_gaussian(100, 5, location=[1.0, 2.0])
    with _raises("make_contaminated_gaussian", "df"):
        make_contaminated_gaussian(100, 5, df=2)


def test_distinct_spikes():
    _, _, p = make_contaminated_gaussian(
        50, 8, n_spikes=3, spike=[5.0, 4.0, 3.0], return_params=True, random_state=0
    )
    np.testing.assert_allclose(p["eigenvalues"][:4], [5.0, 4.0, 3.0, 1.0])


# --------------------------------------------------------------------------
# make_attributed_sbm


def _edge_mixing(A, y):
    coo = sparse.triu(A, k=1).tocoo()
    return float(np.mean(y[coo.row] != y[coo.col]))


def test_sbm_structure_degrees_mixing_attributes():
    n, k, c, eps, alpha, n_cat = 30_000, 5, 10.0, 0.2, 0.5, 7
    A, y, attrs, params = make_attributed_sbm(
        n,
        k,
        mean_degree=c,
        mixing=eps,
        n_attributes=3,
        n_categories=n_cat,
        alpha=alpha,
        return_params=True,
        random_state=0,
    )
    assert sparse.issparse(A) and A.format == "csr" and A.dtype == np.float64
    assert A.shape == (n, n)
    assert (A != A.T).nnz == 0
    assert A.diagonal().sum() == 0
    np.testing.assert_array_equal(A.data, 1.0)
    # Canonical: sorted indices, no duplicate entries.
    B = A.copy()
    B.sum_duplicates()
    assert B.nnz == A.nnz and A.has_sorted_indices
    A.check_format(full_check=True)
    # Balanced blocks, labels in random order.
    assert y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [n // k] * k)
    assert not np.all(np.diff(y) >= 0)
    degree = np.asarray(A.sum(axis=1)).ravel()
    assert degree.mean() == pytest.approx(c, rel=0.02)
    assert _edge_mixing(A, y) == pytest.approx(eps, abs=0.01)
    assert params["p_in"] == pytest.approx(c * (1 - eps) / (n / k - 1))
    assert params["p_out"] == pytest.approx(c * eps / (n - n / k))
    # Attributes agree with their block's category at alpha + (1 - alpha)/C.
    assert attrs.shape == (n, 3) and attrs.dtype == np.int64
    assert attrs.min() >= 0 and attrs.max() < n_cat
    cmap = params["category_map"]
    for j in range(3):
        assert len(set(cmap[j].tolist())) == k  # one-to-one when C >= K
        agree = np.mean(attrs[:, j] == cmap[j][y])
        assert agree == pytest.approx(alpha + (1 - alpha) / n_cat, abs=0.015)


def test_sbm_determinism_and_few_categories():
    kw = dict(mean_degree=6.0, mixing=0.3, n_attributes=2, n_categories=2, alpha=1.0)
    A1, y1, a1 = make_attributed_sbm(2000, 4, random_state=5, **kw)
    A2, y2, a2 = make_attributed_sbm(2000, 4, random_state=5, **kw)
    A3, _, _ = make_attributed_sbm(2000, 4, random_state=6, **kw)
    assert (A1 != A2).nnz == 0
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(a1, a2)
    assert (A1 != A3).nnz > 0
    # alpha = 1 with C < K: the attribute is a function of the block, two
    # blocks per category.
    for j in range(2):
        for b in range(4):
            assert len(set(a1[y1 == b, j].tolist())) == 1
        assert sorted(np.bincount(a1[:, j]).tolist()) == [1000, 1000]


def test_sbm_degree_corrected():
    n = 20_000
    A, y, _, params = make_attributed_sbm(
        n,
        4,
        mean_degree=10.0,
        mixing=0.1,
        degree_exponent=2.5,
        return_params=True,
        random_state=0,
    )
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0
    degree = np.asarray(A.sum(axis=1)).ravel()
    theta = params["propensities"]
    # Propensities have mean 1 in each block.
    np.testing.assert_allclose(np.bincount(y, weights=theta) / np.bincount(y), 1.0)
    # Hubs lose some edges to merging, so slightly below c.
    assert 8.0 < degree.mean() <= 10.1
    assert stats.spearmanr(degree, theta)[0] > 0.7
    assert degree.max() > 20 * np.median(degree)
    assert _edge_mixing(A, y) == pytest.approx(0.1, abs=0.03)


def test_sbm_large_mean_degree():
    # Speed lives in the benchmarks; here the large graph must have the
    # stated mean degree (about 0.2 s to build).
    A, y, attrs = make_attributed_sbm(200_000, 5, mean_degree=10.0, random_state=0)
    assert A.shape == (200_000, 200_000)
    assert A.nnz / 200_000 == pytest.approx(10.0, rel=0.01)


def test_sbm_threshold_and_edge_cases():
    assert sbm_detectability_threshold(5, 10.0) == pytest.approx(
        0.8 * (1 - 1 / np.sqrt(10))
    )
    assert sbm_detectability_threshold(2, 4.0) == pytest.approx(0.25)
    assert sbm_detectability_threshold(3, 0.5) == 0.0
    _, _, _, p = make_attributed_sbm(
        100, 2, mean_degree=4.0, return_params=True, random_state=0
    )
    assert p["detectability_threshold"] == pytest.approx(0.25)
    A, y, attrs = make_attributed_sbm(
        500, 1, mean_degree=4.0, n_attributes=0, random_state=0
    )
    assert np.all(y == 0) and attrs.shape == (500, 0)
    assert A.nnz / 500 == pytest.approx(4.0, rel=0.15)
    A, y, _ = make_attributed_sbm(2000, 4, mixing=0.0, random_state=0)
    assert _edge_mixing(A, y) == 0.0
    with _raises("make_attributed_sbm", "n_samples"):
        make_attributed_sbm(7, 4)
    with _raises("make_attributed_sbm", "mean_degree"):
        make_attributed_sbm(20, 2, mean_degree=50.0)
    with _raises("make_attributed_sbm", "mixing"):
        make_attributed_sbm(20, 2, mixing=1.5)
    with _raises("make_attributed_sbm", "degree_exponent"):
        make_attributed_sbm(20, 2, degree_exponent=1.5)


# --------------------------------------------------------------------------
# make_heterogeneous_mixture


def test_exact_recovery_cutoff_formula():
    n, p, k = 300, 5, 3
    expected = np.sqrt(4 * (1 + np.sqrt(1 + k * p / (n * np.log(n)))) * np.log(n))
    assert exact_recovery_cutoff(n, p, k) == pytest.approx(expected)
    assert exact_recovery_cutoff(n, p, k, sigma=2.5) == pytest.approx(2.5 * expected)
    assert exact_recovery_cutoff(n, 50, k) > exact_recovery_cutoff(n, 5, k)
    with _raises("exact_recovery_cutoff", "n_samples"):
        exact_recovery_cutoff(1, 5, 3)


@pytest.mark.parametrize(
    "design, n_features, n_clusters",
    [
        ("isotropic", None, 3),
        ("isotropic", 2, 4),
        ("scales", None, 3),
        ("shapes", None, 3),
        ("unbalanced", None, 4),
        ("high_dim", None, 3),
    ],
)
def test_mixture_separation_is_separation_times_cutoff(design, n_features, n_clusters):
    n, sep = 240, 1.3
    X, y, p = make_heterogeneous_mixture(
        n,
        n_features,
        n_clusters,
        design=design,
        separation=sep,
        return_params=True,
        random_state=0,
    )
    dim = X.shape[1]
    sigma = np.sqrt(max(np.linalg.eigvalsh(S).max() for S in p["covariances"]))
    assert p["sigma"] == pytest.approx(sigma)
    cutoff = exact_recovery_cutoff(n, dim, n_clusters, sigma)
    dists = pdist(p["means"])
    assert dists.min() == pytest.approx(sep * cutoff)
    if dim >= n_clusters:
        np.testing.assert_allclose(dists, sep * cutoff)  # a regular simplex
    assert y.dtype == np.int64 and X.dtype == np.float64
    np.testing.assert_array_equal(np.bincount(y), p["sizes"])
    assert p["sizes"].sum() == n
    if design == "unbalanced":
        np.testing.assert_array_equal(p["sizes"], [30, 30, 90, 90])
    else:
        assert p["sizes"].max() - p["sizes"].min() <= 1
    if design == "high_dim":
        assert dim == n // n_clusters
    elif n_features is None:
        assert dim == 5


def test_mixture_covariance_designs():
    _, _, p = make_heterogeneous_mixture(
        150, design="scales", return_params=True, random_state=0
    )
    scales = np.sqrt([S[0, 0] for S in p["covariances"]])
    np.testing.assert_allclose(scales, [1.0, np.sqrt(2.0), 2.0])
    for S, s in zip(p["covariances"], scales):
        np.testing.assert_allclose(S, s**2 * np.eye(5))

    _, _, p = make_heterogeneous_mixture(
        150, design="shapes", heterogeneity=16.0, return_params=True, random_state=0
    )
    for S in p["covariances"]:
        ev = np.linalg.eigvalsh(S)
        assert np.trace(S) == pytest.approx(5.0)
        assert ev.max() / ev.min() == pytest.approx(16.0)
        assert np.abs(S - np.diag(np.diag(S))).max() > 1e-3  # rotated
    assert not np.allclose(p["covariances"][0], p["covariances"][1])

    X, y, p = make_heterogeneous_mixture(
        200, n_clusters=2, design="equal_means", return_params=True, random_state=0
    )
    assert X.shape == (200, 10)
    np.testing.assert_array_equal(p["means"], 0.0)
    np.testing.assert_allclose([S[0, 0] for S in p["covariances"]], [1.0, 16.0])


def test_mixture_empirical_moments_match_params():
    X, y, p = make_heterogeneous_mixture(
        30_000,
        3,
        3,
        design="shapes",
        separation=1.0,
        return_params=True,
        random_state=1,
    )
    for j in range(3):
        Xj = X[y == j]
        np.testing.assert_allclose(Xj.mean(axis=0), p["means"][j], atol=0.1)
        np.testing.assert_allclose(np.cov(Xj.T), p["covariances"][j], atol=0.15)


def test_mixture_equal_means_defeats_kmeans():
    X, y = make_heterogeneous_mixture(
        200, n_clusters=2, design="equal_means", random_state=0
    )
    labels = KMeans(2, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, labels) < 0.3


def test_mixture_em_trap_defeats_kmeans():
    fails = 0
    for seed in range(5):
        X, y, p = make_heterogeneous_mixture(
            300, design="em_trap", return_params=True, random_state=seed
        )
        labels = KMeans(3, n_init=10, random_state=seed).fit_predict(X)
        fails += adjusted_rand_score(y, labels) < 0.9
    assert fails >= 4
    # The tight clusters are 5 tight scales apart, far from the broad one.
    d = pdist(p["means"])
    assert sorted(d)[0] == pytest.approx(2.5)
    assert min(d[:2]) > 5 * 3.0
    np.testing.assert_allclose([S[0, 0] for S in p["covariances"]], [9.0, 0.25, 0.25])


def test_mixture_determinism_and_kgon():
    a = make_heterogeneous_mixture(90, 2, 5, random_state=7)
    b = make_heterogeneous_mixture(90, 2, 5, random_state=7)
    c = make_heterogeneous_mixture(90, 2, 5, random_state=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    _, _, p = make_heterogeneous_mixture(90, 2, 5, return_params=True, random_state=7)
    means = p["means"]
    ring = np.linalg.norm(means - np.roll(means, 1, axis=0), axis=1)
    np.testing.assert_allclose(ring, p["delta"])  # a regular pentagon
    with _raises("make_heterogeneous_mixture", "shapes"):
        make_heterogeneous_mixture(50, 1, design="shapes")
    with _raises("make_heterogeneous_mixture", "n_clusters"):
        make_heterogeneous_mixture(3, n_clusters=5)


# --------------------------------------------------------------------------
# make_manifold_regression


def test_manifold_targets_follow_the_coordinate():
    f = 2.5
    X, y, p = make_manifold_regression(
        2000,
        manifold="swiss_roll",
        frequency=f,
        noise=0.0,
        return_params=True,
        random_state=0,
    )
    t = np.hypot(X[:, 0], X[:, 2])
    np.testing.assert_allclose(y, np.sin(f * t), atol=1e-12)
    assert t.min() >= 1.5 * np.pi - 1e-9 and t.max() <= 4.5 * np.pi + 1e-9

    X, y, p = make_manifold_regression(
        2000,
        manifold="s_curve",
        frequency=f,
        noise=0.0,
        return_params=True,
        random_state=0,
    )
    np.testing.assert_allclose(X[:, 0], np.sin(p["t"]))
    np.testing.assert_allclose(y, np.sin(f * p["t"]))

    X, y, p = make_manifold_regression(
        2001, manifold="moons", noise=0.0, return_params=True, random_state=0
    )
    sign = np.where(p["piece"] == 0, 1.0, -1.0)
    np.testing.assert_allclose(y, sign * X[:, 0])
    np.testing.assert_array_equal(np.bincount(p["piece"]), [1001, 1000])

    X, y, p = make_manifold_regression(
        2000,
        manifold="circles",
        frequency=3.0,
        noise=0.0,
        return_params=True,
        random_state=0,
    )
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius, np.where(p["piece"] == 0, 1.0, 0.5))
    angle = np.arctan2(X[:, 1], X[:, 0])
    np.testing.assert_allclose(
        y, np.where(p["piece"] == 0, 1.0, -1.0) * np.sin(3.0 * angle), atol=1e-10
    )

    X, y, p = make_manifold_regression(
        2000,
        manifold="spirals",
        frequency=f,
        noise=0.0,
        return_params=True,
        random_state=0,
    )
    sign = np.where(p["piece"] == 0, 1.0, -1.0)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), p["t"] / (2 * np.pi))
    np.testing.assert_allclose(y, sign * np.sin(f * p["t"]))


def test_manifold_two_pieces_are_close_with_opposite_targets():
    X, y, p = make_manifold_regression(
        4000, manifold="moons", noise=0.0, return_params=True, random_state=0
    )
    a, b = X[p["piece"] == 0], X[p["piece"] == 1]
    ya, yb = y[p["piece"] == 0], y[p["piece"] == 1]
    # The closest cross-piece pairs are near each other yet far apart in y.
    i = np.argmin(np.linalg.norm(a - np.array([1.0, 0.0]), axis=1))
    j = np.argmin(np.linalg.norm(b - np.array([1.0, -0.5]), axis=1))
    assert np.linalg.norm(a[i] - b[j]) < 0.55
    assert ya[i] - yb[j] > 1.9


def test_manifold_noise_and_noise_features():
    X, y, p = make_manifold_regression(
        20_000,
        manifold="swiss_roll",
        noise=0.3,
        target_noise=0.2,
        n_noise_features=4,
        return_params=True,
        random_state=0,
    )
    assert X.shape == (20_000, 7)
    resid = X[:, :3] - p["X_clean"]
    np.testing.assert_allclose(resid.std(axis=0), 0.3, rtol=0.05)
    assert np.std(y - p["y_clean"]) == pytest.approx(0.2, rel=0.05)
    noise_cols = X[:, 3:]
    np.testing.assert_allclose(noise_cols.std(axis=0), 1.0, rtol=0.05)
    assert np.abs([np.corrcoef(col, y)[0, 1] for col in noise_cols.T]).max() < 0.05
    a = make_manifold_regression(100, manifold="spirals", random_state=1)
    b = make_manifold_regression(100, manifold="spirals", random_state=1)
    c = make_manifold_regression(100, manifold="spirals", random_state=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    with _raises("make_manifold_regression", "manifold"):
        make_manifold_regression(10, manifold="torus")


# --------------------------------------------------------------------------
# hide_labels


def test_hide_labels_regression():
    y = np.arange(50)
    y_semi, mask = hide_labels(y, 7, random_state=0, return_mask=True)
    assert y_semi.dtype == np.float64
    assert int(np.isfinite(y_semi).sum()) == 7 and int(mask.sum()) == 7
    np.testing.assert_array_equal(y_semi[mask], y[mask])
    assert np.all(np.isnan(y_semi[~mask]))
    np.testing.assert_array_equal(y, np.arange(50))  # input untouched
    np.testing.assert_array_equal(hide_labels(y, 7, random_state=0), y_semi)
    assert int(np.isfinite(hide_labels(y, 0.2, random_state=0)).sum()) == 10
    assert int(np.isfinite(hide_labels(y, 0, random_state=0)).sum()) == 0
    Y = np.column_stack((y, -y)).astype(float)
    Y_semi = hide_labels(Y, 5, random_state=0)
    rows = np.isfinite(Y_semi).all(axis=1)
    assert rows.sum() == 5 and np.isnan(Y_semi[~rows]).all()


def test_hide_labels_stratified_classification():
    y = np.repeat(np.arange(5), [100, 50, 20, 5, 1])
    y_semi = hide_labels(y, 10, unlabeled=-1, stratify=True, random_state=0)
    assert y_semi.dtype == y.dtype
    kept = y_semi[y_semi != -1]
    assert kept.size == 10
    counts = np.bincount(kept, minlength=5)
    assert np.all(counts >= 1)  # at least one label per class
    assert counts[0] >= counts[1] >= counts[2]  # the rest in proportion
    # Fewer labels than classes: distinct classes, one each.
    kept = hide_labels(y, 3, unlabeled=-1, stratify=True, random_state=1)
    kept = kept[kept != -1]
    assert kept.size == 3 and len(set(kept.tolist())) == 3
    # A plain draw with 5 labels usually misses the small classes; stratified never.
    for seed in range(5):
        kept = hide_labels(y, 5, unlabeled=-1, stratify=True, random_state=seed)
        assert set(kept[kept != -1].tolist()) == {0, 1, 2, 3, 4}
    # Strata given as an array.
    groups = np.arange(176) % 2
    kept = hide_labels(y, 4, unlabeled=-1, stratify=groups, random_state=0)
    np.testing.assert_array_equal(np.bincount(groups[kept != -1]), [2, 2])
    # Strings become object arrays.
    s = hide_labels(
        np.array(["a", "b", "a", "b"]), 2, unlabeled=-1, stratify=True, random_state=0
    )
    assert s.dtype == object and sorted(v for v in s if v != -1) == ["a", "b"]


def test_hide_labels_errors():
    with _raises("hide_labels", "unlabeled"):
        hide_labels(np.array([-1, 0, 1]), 2, unlabeled=-1)
    with _raises("hide_labels", "unlabeled"):
        hide_labels(np.array([np.nan, 0.0, 1.0]), 2)
    with _raises("hide_labels", "n_labeled"):
        hide_labels(np.arange(3), 5)
    with _raises("hide_labels", "stratify"):
        hide_labels(np.arange(4), 2, stratify=np.arange(3))


# --------------------------------------------------------------------------
# load_outlier_benchmark


def _row_set(X):
    return {tuple(np.round(row, 10)) for row in X}


@pytest.mark.parametrize("name", sorted(OUTLIER_BENCHMARKS))
def test_outlier_benchmark_sizes_and_determinism(name):
    n, p, n_out = OUTLIER_BENCHMARKS[name]
    X, is_out = load_outlier_benchmark(name, random_state=0)
    assert X.shape == (n, p) and X.dtype == np.float64
    assert is_out.dtype == bool and int(is_out.sum()) == n_out
    if n_out:
        assert not is_out[n - n_out :].all()  # shuffled
    X2, is_out2 = load_outlier_benchmark(name, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(is_out, is_out2)
    if n_out:
        X3, is_out3 = load_outlier_benchmark(name, random_state=1)
        assert _row_set(X3[is_out3]) != _row_set(X[is_out])


def test_outlier_benchmark_rows_come_from_the_stated_classes():
    data = load_breast_cancer()
    X, o = load_outlier_benchmark("wbc", random_state=0)
    assert _row_set(X[~o]) == _row_set(data.data[data.target == 1])
    assert _row_set(X[o]) <= _row_set(data.data[data.target == 0])
    data = load_wine()
    X, o = load_outlier_benchmark("wine", random_state=0)
    assert _row_set(X[~o]) == _row_set(data.data[data.target > 0])
    assert _row_set(X[o]) <= _row_set(data.data[data.target == 0])
    data = load_iris()
    X, o = load_outlier_benchmark("iris", random_state=0)
    assert _row_set(X[~o]) == _row_set(data.data[data.target == 1])
    assert _row_set(X[o]) <= _row_set(data.data[data.target == 0])
    data = load_digits()
    zeros = data.data[data.target == 0]
    keep = zeros.std(axis=0) > 0
    X, o = load_outlier_benchmark("digits", random_state=0)
    assert _row_set(X[~o]) == _row_set(zeros[:, keep])
    assert _row_set(X[o]) <= _row_set(data.data[data.target != 0][:, keep])
    with _raises("load_outlier_benchmark", "name"):
        load_outlier_benchmark("kddcup")
