"""Properties of scikit-learn's KMeans and GaussianMixture test suites, for ours.

scikit-learn's ``cluster/tests/test_k_means.py`` and
``mixture/tests/test_gaussian_mixture.py`` were run against
:class:`SDPKMeans` and :class:`SDPGaussianMixture` through a thin adapter;
the properties that apply to a relaxation-based estimator are restated here
with our estimators and data generators. Options we do not offer (initial
centres or parameters, ``sample_weight``, ``algorithm='elkan'``, sparse input,
``covariance_type='tied'``, ``warm_start``) and properties of Lloyd's or of
EM's iterations (``max_iter=1`` behaviour, verbose output) are not restated.
"""

import warnings

import numpy as np
import pytest
from scipy import linalg, stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils._testing import create_memmap_backed_data
from threadpoolctl import threadpool_limits

from sklearn_spectral.cluster import SDPGaussianMixture, SDPKMeans
from sklearn_spectral.datasets import make_heterogeneous_mixture

SEEDS = [0, 1, 2, 3, 4]
COVARIANCE_TYPES = ["full", "diag", "spherical"]


def _quiet(estimator, X):
    """Fit, ignoring convergence warnings of the inner solver."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


# --------------------------------------------------------------------------
# SDPKMeans
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=SEEDS)
def kmeans_fit(request):
    """SDPKMeans(3) on a mixture above the recovery cutoff, one per seed."""
    seed = request.param
    X, y = make_heterogeneous_mixture(
        120, 4, 3, separation=1.6, random_state=seed
    )
    km = _quiet(SDPKMeans(3, random_state=seed), X)
    return X, y, km


def test_kmeans_centres_and_inertia_match_labels(kmeans_fit):
    # Centres are the means of the labelled rows; the inertia is the sum of
    # squared distances to them, computed here independently.
    X, _, km = kmeans_fit
    assert km.cluster_centers_.shape == (3, X.shape[1])
    for k in range(3):
        np.testing.assert_allclose(
            km.cluster_centers_[k], X[km.labels_ == k].mean(axis=0)
        )
    d = euclidean_distances(X, km.cluster_centers_, squared=True)
    expected = d[np.arange(X.shape[0]), km.labels_].sum()
    np.testing.assert_allclose(km.inertia_, expected, rtol=1e-10)


def test_kmeans_predict_and_score_agree_with_fit(kmeans_fit):
    X, y, km = kmeans_fit
    # Above the cutoff the rounding is the nearest-centre partition.
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert adjusted_rand_score(y, km.labels_) > 0.9
    # score is minus the inertia of the rows against their nearest centre.
    np.testing.assert_allclose(km.score(X), -km.inertia_, rtol=1e-10)
    rng = np.random.RandomState(0)
    X_new = X[:20] + rng.normal(scale=0.5, size=(20, X.shape[1]))
    d = euclidean_distances(X_new, km.cluster_centers_, squared=True)
    np.testing.assert_allclose(km.score(X_new), -d.min(axis=1).sum())
    assert km.score(X_new) <= 0


def test_kmeans_transform_is_distance_to_centres(kmeans_fit):
    X, _, km = kmeans_fit
    T = km.transform(X[:30])
    assert T.shape == (30, 3)
    for k in range(3):
        np.testing.assert_allclose(
            T[:, k], np.linalg.norm(X[:30] - km.cluster_centers_[k], axis=1),
            atol=1e-10,
        )
    np.testing.assert_array_equal(T.argmin(axis=1), km.predict(X[:30]))


def test_kmeans_feature_names_out(kmeans_fit):
    _, _, km = kmeans_fit
    np.testing.assert_array_equal(
        km.get_feature_names_out(), ["sdpkmeans0", "sdpkmeans1", "sdpkmeans2"]
    )


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_kmeans_fit_predict_fit_transform_and_clone(seed):
    # fit_predict, fit().labels_, fit_transform and fit().transform agree,
    # and a clone with the same random_state reproduces the fit.
    X, _ = make_blobs(60, centers=3, cluster_std=0.5, random_state=seed)
    km = SDPKMeans(3, random_state=seed)
    labels = km.fit_predict(X)
    np.testing.assert_array_equal(labels, clone(km).fit(X).labels_)
    np.testing.assert_allclose(
        clone(km).fit_transform(X), clone(km).fit(X).transform(X)
    )


def test_kmeans_predict_with_read_only_centres():
    X, _ = make_blobs(100, n_features=5, centers=4, random_state=0)
    km = SDPKMeans(4, random_state=0)
    labels = km.fit_predict(X)
    km.cluster_centers_ = create_memmap_backed_data(km.cluster_centers_)
    np.testing.assert_array_equal(km.predict(X), labels)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_kmeans_float32_kept_and_close_to_float64(seed):
    X, _ = make_blobs(80, centers=3, cluster_std=0.6, random_state=seed)
    km64 = SDPKMeans(3, random_state=seed).fit(X)
    km32 = SDPKMeans(3, random_state=seed).fit(X.astype(np.float32))
    assert km32.cluster_centers_.dtype == np.float32
    assert km64.cluster_centers_.dtype == np.float64
    assert adjusted_rand_score(km32.labels_, km64.labels_) == 1.0
    np.testing.assert_allclose(km32.inertia_, km64.inertia_, rtol=1e-5)
    assert km32.predict(X.astype(np.float32)).dtype == km64.labels_.dtype


def test_kmeans_integer_input_same_as_float():
    X, _ = make_blobs(60, centers=3, cluster_std=0.5, random_state=0)
    Xi = np.round(4 * X).astype(np.int64)
    km_int = SDPKMeans(3, random_state=0).fit(Xi)
    km_float = SDPKMeans(3, random_state=0).fit(Xi.astype(np.float64))
    np.testing.assert_array_equal(km_int.labels_, km_float.labels_)
    assert km_int.cluster_centers_.dtype == np.float64


def test_kmeans_does_not_modify_input_and_ignores_memory_order():
    X, _ = make_blobs(60, centers=3, cluster_std=0.5, random_state=1)
    X_copy = X.copy()
    labels_c = SDPKMeans(3, random_state=0).fit(X).labels_
    np.testing.assert_array_equal(X, X_copy)
    labels_f = SDPKMeans(3, random_state=0).fit(np.asfortranarray(X)).labels_
    np.testing.assert_array_equal(labels_c, labels_f)


def test_kmeans_same_result_with_one_or_two_threads():
    X, _ = make_blobs(150, n_features=3, centers=3, random_state=0)
    with threadpool_limits(limits=1):
        one = SDPKMeans(3, solver="nlr", random_state=0).fit(X)
    with threadpool_limits(limits=2):
        two = SDPKMeans(3, solver="nlr", random_state=0).fit(X)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_allclose(one.inertia_, two.inertia_, rtol=1e-8)


def test_kmeans_warns_when_fewer_distinct_clusters_than_n_clusters():
    # Three distinct points for four clusters: two centres must coincide.
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    with pytest.warns(ConvergenceWarning, match=r"SDPKMeans: number of distinct "
                      r"clusters \(3\) found smaller than n_clusters \(4\)"):
        km = SDPKMeans(4, random_state=0).fit(X)
    assert km.inertia_ == 0.0
    # Enough distinct points: no such warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SDPKMeans(3, random_state=0).fit(X)


def test_kmeans_too_few_rows_error_names_estimator():
    with pytest.raises(ValueError, match=r"SDPKMeans: n_samples=2 should be >= "
                       r"n_clusters=3"):
        SDPKMeans(3).fit(np.eye(2))


# --------------------------------------------------------------------------
# SDPGaussianMixture
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[
    (seed, ct) for seed in SEEDS[:3] for ct in COVARIANCE_TYPES
], ids=lambda p: f"{p[1]}-{p[0]}")
def gmm_fit(request):
    """SDPGaussianMixture(2) on clusters of different scales."""
    seed, covariance_type = request.param
    X, y = make_heterogeneous_mixture(
        100, 3, 2, design="scales", separation=2.0, random_state=seed
    )
    gm = _quiet(SDPGaussianMixture(
        2, covariance_type=covariance_type, random_state=seed
    ), X)
    return X, y, gm


def _full_covariances(gm):
    """``covariances_`` of any type as ``(K, p, p)`` matrices."""
    K, p = gm.means_.shape
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type == "full":
        return cov
    if gm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([c * np.eye(p) for c in cov])


def test_gmm_score_samples_is_the_mixture_density(gmm_fit):
    # Reference: log sum_k w_k N(x; mu_k, Sigma_k) with scipy's normal pdf.
    X, _, gm = gmm_fit
    covs = _full_covariances(gm)
    log_dens = np.column_stack([
        np.log(gm.weights_[k])
        + stats.multivariate_normal(gm.means_[k], covs[k]).logpdf(X)
        for k in range(gm.n_components)
    ])
    expected = logsumexp(log_dens, axis=1)
    np.testing.assert_allclose(gm.score_samples(X), expected, rtol=1e-8)
    np.testing.assert_allclose(gm.score(X), expected.mean(), rtol=1e-10)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(
        proba, np.exp(log_dens - expected[:, None]), atol=1e-10
    )
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(gm.predict(X), log_dens.argmax(axis=1))


def test_gmm_predict_matches_fit_and_recovers_clusters(gmm_fit):
    X, y, gm = gmm_fit
    if gm.n_em_iter_ > 0:
        np.testing.assert_array_equal(gm.predict(X), gm.labels_)
    else:
        assert np.mean(gm.predict(X) == gm.labels_) > 0.95
    assert adjusted_rand_score(y, gm.labels_) > 0.8
    np.testing.assert_allclose(gm.weights_.sum(), 1.0)


def test_gmm_precisions_consistent_with_covariances(gmm_fit):
    X, _, gm = gmm_fit
    K, p = gm.means_.shape
    covs = _full_covariances(gm)
    if gm.covariance_type == "full":
        assert gm.precisions_.shape == (K, p, p)
        for k in range(K):
            np.testing.assert_allclose(
                gm.precisions_[k] @ gm.covariances_[k], np.eye(p), atol=1e-8
            )
            P = gm.precisions_cholesky_[k]
            np.testing.assert_allclose(P @ P.T, gm.precisions_[k], rtol=1e-8)
    else:
        np.testing.assert_allclose(gm.precisions_, 1.0 / gm.covariances_)
        np.testing.assert_allclose(gm.precisions_cholesky_ ** 2, gm.precisions_)
    assert all(np.all(linalg.eigvalsh(c) > 0) for c in covs)


def test_gmm_information_criteria(gmm_fit):
    X, _, gm = gmm_fit
    n, p = X.shape
    n_cov = {"full": 2 * p * (p + 1) // 2, "diag": 2 * p, "spherical": 2}
    n_params = n_cov[gm.covariance_type] + 2 * p + 1
    assert gm._n_parameters() == n_params
    np.testing.assert_allclose(
        gm.bic(X), -2 * n * gm.score(X) + n_params * np.log(n)
    )
    np.testing.assert_allclose(gm.aic(X), -2 * n * gm.score(X) + 2 * n_params)


def test_gmm_sample_reproduces_the_fitted_mixture(gmm_fit):
    _, _, gm = gmm_fit
    X_s, y_s = gm.sample(6000)
    assert X_s.shape == (6000, gm.means_.shape[1])
    np.testing.assert_allclose(
        np.bincount(y_s, minlength=2) / 6000, gm.weights_, atol=0.03
    )
    covs = _full_covariances(gm)
    for k in range(2):
        rows = X_s[y_s == k]
        scale = np.sqrt(np.diag(covs[k]))
        np.testing.assert_allclose(rows.mean(axis=0), gm.means_[k],
                                   atol=0.15 * scale.max())
        np.testing.assert_allclose(np.cov(rows.T, bias=True), covs[k],
                                   atol=0.2 * scale.max() ** 2)
    for size in (1, 2, 7):
        assert gm.sample(size)[0].shape == (size, gm.means_.shape[1])
    # An int random_state gives the same draws at every call.
    np.testing.assert_array_equal(gm.sample(5)[0], gm.sample(5)[0])


def test_gmm_sample_errors():
    gm = SDPGaussianMixture(2, random_state=0)
    with pytest.raises(NotFittedError):
        gm.sample(3)
    X, _ = make_blobs(40, centers=2, random_state=0)
    gm.fit(X)
    with pytest.raises(ValueError, match="SDPGaussianMixture: n_samples=0"):
        gm.sample(0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gmm_float32_parameters_keep_dtype(covariance_type):
    X, _ = make_blobs(60, n_features=2, centers=2, random_state=0)
    gm32 = SDPGaussianMixture(2, covariance_type=covariance_type,
                              random_state=0).fit(X.astype(np.float32))
    gm64 = SDPGaussianMixture(2, covariance_type=covariance_type,
                              random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_"):
        assert getattr(gm32, name).dtype == np.float32, name
        assert getattr(gm64, name).dtype == np.float64, name
    assert adjusted_rand_score(gm32.labels_, gm64.labels_) == 1.0
    np.testing.assert_allclose(gm32.means_, gm64.means_, rtol=1e-4, atol=1e-4)


def test_gmm_single_component_is_the_sample_estimate():
    # One component: mean and (biased) covariance of the data, plus reg_covar.
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([1.0, -2.0, 0.5], np.diag([1.0, 4.0, 0.25]), 80)
    reg = 1e-3
    full = SDPGaussianMixture(1, reg_covar=reg).fit(X)
    np.testing.assert_allclose(full.means_[0], X.mean(axis=0))
    np.testing.assert_allclose(
        full.covariances_[0], np.cov(X.T, bias=True) + reg * np.eye(3)
    )
    diag = SDPGaussianMixture(1, covariance_type="diag", reg_covar=reg).fit(X)
    np.testing.assert_allclose(diag.covariances_[0], X.var(axis=0) + reg)
    sph = SDPGaussianMixture(1, covariance_type="spherical", reg_covar=reg).fit(X)
    np.testing.assert_allclose(sph.covariances_[0], X.var(axis=0).mean() + reg)
    np.testing.assert_allclose(full.weights_, [1.0])
    np.testing.assert_allclose(
        full.score_samples(X),
        stats.multivariate_normal(X.mean(axis=0), full.covariances_[0]).logpdf(X),
    )


def test_gmm_bic_same_for_every_covariance_type_in_one_dimension():
    X = np.random.RandomState(0).randn(100, 1)
    bics = [SDPGaussianMixture(1, covariance_type=ct).fit(X).bic(X)
            for ct in COVARIANCE_TYPES]
    np.testing.assert_allclose(bics, bics[0])


def test_gmm_aic_bic_close_to_gaussian_entropy():
    # On one standard normal cloud, -2 n score is close to 2 n times the
    # entropy of the fitted Gaussian (after correcting for the parameters).
    rng = np.random.RandomState(0)
    n, p = 60, 3
    X = rng.randn(n, p)
    entropy = 0.5 * (np.linalg.slogdet(np.cov(X.T, bias=True))[1]
                     + p * (1 + np.log(2 * np.pi)))
    for ct in COVARIANCE_TYPES:
        gm = _quiet(SDPGaussianMixture(2, covariance_type=ct, random_state=0), X)
        k = gm._n_parameters()
        assert (gm.aic(X) - (2 * n * entropy + 2 * k)) / n < p / np.sqrt(n)
        assert (gm.bic(X) - (2 * n * entropy + np.log(n) * k)) / n < p / np.sqrt(n)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_gmm_more_starts_never_lower_the_score(seed):
    # The first start is the same under the same random_state, and the fit
    # of largest mixture log-likelihood is kept.
    X, _ = make_heterogeneous_mixture(
        90, 2, 3, design="em_trap", random_state=seed
    )
    one = _quiet(SDPGaussianMixture(3, n_init=1, random_state=seed), X)
    two = _quiet(SDPGaussianMixture(3, n_init=2, random_state=seed), X)
    assert two.score(X) >= one.score(X) - 1e-12


def test_gmm_collapsed_cluster_without_regularisation_clear_error():
    rng = np.random.RandomState(0)
    X = np.vstack([np.zeros((10, 2)), rng.randn(10, 2) + 5])
    with pytest.raises(ValueError, match="SDPGaussianMixture: fitting failed "
                       "because a component has an ill-defined covariance"):
        SDPGaussianMixture(2, reg_covar=0, random_state=0).fit(X)
    gm = SDPGaussianMixture(2, reg_covar=1e-6, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.score_samples(X)))


def test_gmm_more_components_than_distinct_rows_clear_error():
    X = np.vstack([np.ones((5, 3)), np.zeros((5, 3)), 2 * np.ones((5, 3))])
    with pytest.raises(ValueError, match=r"SDPGaussianMixture: X has 3 distinct "
                       r"rows, fewer than n_components=4"):
        SDPGaussianMixture(4, random_state=0).fit(X)
