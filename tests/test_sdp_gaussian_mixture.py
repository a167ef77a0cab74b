"""Tests of SDPGaussianMixture: heterogeneous clusters and the mixture API."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from sklearn_spectral.cluster import SDPGaussianMixture, SDPKMeans
from sklearn_spectral.datasets import make_heterogeneous_mixture

FAST = dict(init_params="k-means++", solver="nlr", sdp_tol=1e-3, sdp_max_iter=2000)


@pytest.fixture(scope="module")
def equal_means():
    return make_heterogeneous_mixture(
        200, n_clusters=2, design="equal_means", random_state=0
    )


@pytest.fixture(scope="module")
def fitted(equal_means):
    X, _ = equal_means
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SDPGaussianMixture(2, random_state=0, **FAST).fit(X)


def test_separates_equal_means_where_kmeans_cannot(equal_means, fitted):
    X, y = equal_means
    km = KMeans(2, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, km) <= 0.3
    assert adjusted_rand_score(y, fitted.labels_) >= 0.8


def test_low_rank_solves_converge(equal_means):
    # Every inner low-rank solve meets sdp_tol within sdp_max_iter, and so does
    # the outer loop: no ConvergenceWarning at all.
    X, y = equal_means
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = SDPGaussianMixture(2, random_state=0, **FAST).fit(X)
    assert gm.converged_
    assert adjusted_rand_score(y, gm.labels_) >= 0.8


def test_likelihood_bounds(equal_means, fitted):
    X, _ = equal_means
    assert fitted.lower_bound_ <= fitted.score(X) + 1e-12
    # log_likelihood_ is the mean log-density of each row under its cluster.
    dens = np.zeros(X.shape[0])
    for k in range(2):
        rows = fitted.labels_ == k
        dens[rows] = multivariate_normal(
            fitted.means_[k], fitted.covariances_[k]
        ).logpdf(X[rows])
    assert fitted.log_likelihood_ == pytest.approx(dens.mean(), rel=1e-10)


def test_likelihood_non_decreasing_in_max_iter(equal_means):
    X, _ = equal_means
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for max_iter in (1, 2, 3):
            gm = SDPGaussianMixture(2, max_iter=max_iter, em_max_iter=0,
                                    n_init=1, random_state=0, **FAST)
            values.append(gm.fit(X).log_likelihood_)
    assert np.all(np.diff(values) >= -1e-12)
    assert values[-1] > values[0]


def test_mixture_methods_agree_with_scipy(equal_means, fitted):
    X, _ = equal_means
    proba = fitted.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(proba.argmax(axis=1), fitted.predict(X))
    dens = sum(
        w * multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(fitted.weights_, fitted.means_, fitted.covariances_)
    )
    assert_allclose(fitted.score_samples(X), np.log(dens), rtol=1e-10)
    for k in range(2):
        P = fitted.precisions_cholesky_[k]
        assert_allclose(P @ P.T @ fitted.covariances_[k], np.eye(X.shape[1]),
                        atol=1e-8)
    assert fitted.weights_.sum() == pytest.approx(1.0)
    # The EM refinement moves the weights off the partition's fractions; the
    # SDP partition alone keeps them.
    raw = SDPGaussianMixture(2, random_state=0, em_max_iter=0, **FAST).fit(X)
    assert_allclose(raw.weights_, np.bincount(raw.labels_) / X.shape[0])
    assert_array_equal(raw.labels_, raw.sdp_labels_)


def test_split_merge_leaves_the_broad_cluster_trap():
    # One broad cluster beside two tight ones: the K-means start cuts the
    # broad cluster and merges the tight pair, and neither the outer loop nor
    # EM leaves that partition; one merge-and-split move does.
    kw = dict(solver="nlr", sdp_tol=1e-3, n_init=1, random_state=0)
    for seed in range(4):
        X, y = make_heterogeneous_mixture(
            200, n_clusters=3, design="em_trap", random_state=seed
        )
        off = SDPGaussianMixture(3, split_merge_max_iter=0, **kw).fit(X)
        on = SDPGaussianMixture(3, **kw).fit(X)
        assert adjusted_rand_score(y, off.labels_) < 0.7
        assert adjusted_rand_score(y, on.labels_) >= 0.95
        assert on.n_split_merge_ >= 1 and off.n_split_merge_ == 0
        assert on.score(X) > off.score(X)


def test_split_merge_idle_where_the_fit_is_right():
    X, y = make_heterogeneous_mixture(
        200, n_clusters=3, design="shapes", separation=1.5, random_state=0
    )
    kw = dict(solver="nlr", sdp_tol=1e-3, n_init=1, random_state=0)
    on = SDPGaussianMixture(3, **kw).fit(X)
    off = SDPGaussianMixture(3, split_merge_max_iter=0, **kw).fit(X)
    assert on.n_split_merge_ == 0
    assert adjusted_rand_score(y, on.labels_) == 1.0
    assert_array_equal(on.labels_, off.labels_)


def test_more_starts_never_lower_the_likelihood():
    # The first start is the same whatever n_init, and the best is kept. On
    # seed 6 the SDP start cuts the two same-mean clusters by a hyperplane and
    # stays there; the k-means++ start does not.
    kw = dict(solver="nlr", sdp_tol=1e-3, random_state=0)
    for seed in (0, 6):
        X, y = make_heterogeneous_mixture(
            200, n_clusters=2, design="equal_means", random_state=seed
        )
        one = SDPGaussianMixture(2, n_init=1, **kw).fit(X)
        two = SDPGaussianMixture(2, n_init=2, **kw).fit(X)
        assert two.score(X) >= one.score(X) - 1e-12
        assert adjusted_rand_score(y, two.labels_) >= 0.9
    assert adjusted_rand_score(y, one.labels_) < 0.5


def test_isotropic_labels_match_sdp_kmeans():
    # With equal spherical clusters the likelihood-adjusted SDP is Peng-Wei's.
    X, y = make_heterogeneous_mixture(
        120, n_clusters=3, separation=1.5, random_state=1
    )
    km = SDPKMeans(3, random_state=0).fit(X)
    gm = SDPGaussianMixture(
        3, covariance_type="spherical", solver="exact", random_state=0
    ).fit(X)
    assert adjusted_rand_score(y, km.labels_) == 1.0
    assert adjusted_rand_score(y, gm.labels_) == 1.0


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_covariance_shapes(covariance_type):
    X, _ = make_heterogeneous_mixture(
        90, n_clusters=3, design="scales", separation=1.5, random_state=2
    )
    gm = SDPGaussianMixture(
        3, covariance_type=covariance_type, random_state=0, **FAST
    ).fit(X)
    shape = (3, X.shape[1]) if covariance_type == "diag" else (3,)
    assert gm.covariances_.shape == shape
    assert gm.precisions_cholesky_.shape == shape
    assert_allclose(gm.precisions_cholesky_, 1 / np.sqrt(gm.covariances_))


def test_same_random_state_same_labels():
    X, _ = make_heterogeneous_mixture(
        90, n_clusters=2, design="scales", separation=1.0, random_state=3
    )
    a = SDPGaussianMixture(2, random_state=5, **FAST).fit(X)
    b = SDPGaussianMixture(2, random_state=5, **FAST).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert a.log_likelihood_ == b.log_likelihood_


def test_single_component_is_the_gaussian_fit():
    X = np.random.RandomState(0).randn(50, 3)
    gm = SDPGaussianMixture().fit(X)
    assert gm.n_iter_ == 1
    assert_allclose(gm.means_[0], X.mean(axis=0))
    assert_allclose(gm.covariances_[0], np.cov(X.T, bias=True) + 1e-6 * np.eye(3))


def test_errors():
    X = np.random.RandomState(0).randn(3, 2)
    with pytest.raises(ValueError, match=r"^SDPGaussianMixture: n_samples=3 should"):
        SDPGaussianMixture(4).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        SDPGaussianMixture(covariance_type="tied").fit(X)
    X, _ = make_heterogeneous_mixture(60, n_clusters=2, design="scales",
                                      random_state=0)
    with pytest.warns(ConvergenceWarning, match="^SDPGaussianMixture: "):
        SDPGaussianMixture(2, sdp_max_iter=2, random_state=0, **{
            k: v for k, v in FAST.items() if k != "sdp_max_iter"}).fit(X)
