"""Tests of ShrinkageComedianCovariance and ShrinkageMahalanobisDetector.

Properties: the chi-square law of the distances on clean normal data, the
contamination semantics, detection of shifted outliers, bounded influence,
the shrinkage intensity under heavy tails, equivariance, the kernels against
numpy, and each step of ``fit`` against a direct computation.
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize, sparse, stats
from sklearn.base import clone
from sklearn.covariance import EllipticEnvelope, ledoit_wolf
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler
from threadpoolctl import threadpool_limits

from sklearn_spectral.covariance import (
    ShrinkageComedianCovariance,
    ShrinkageMahalanobisDetector,
)
from sklearn_spectral.covariance._comedian import (
    _comedian,
    _row_distances,
    _row_median_mad,
)
from sklearn_spectral.covariance._concentration import (
    _c_steps,
    _reweighted_estimates,
)
from sklearn_spectral.covariance._mahalanobis_detector import _adjusted_threshold
from sklearn_spectral.covariance._shrinkage_comedian import (
    _comedian_correlation_table,
    _comedian_scatter,
    _l1_median_trace_variance,
    _mahalanobis_sq,
    _raw_intensity_numerator,
    _robust_location,
    _shrink_location,
    _shrink_to_identity,
    _weiszfeld,
)

try:
    from sklearn_spectral.datasets import make_contaminated_gaussian
except ImportError:  # the datasets subpackage may not re-export it yet
    from sklearn_spectral.datasets._contaminated import make_contaminated_gaussian


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # The p x p Gram products here are small: multi-threaded BLAS only adds
    # spin-waiting on a busy 2-core machine. OpenMP (the kernel) is untouched.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _ar1(p, rho):
    idx = np.arange(p)
    return rho ** np.abs(idx[:, None] - idx[None, :]).astype(float)


def _gaussian(n, p, rho, seed):
    rng = np.random.default_rng(seed)
    if rho == 0:
        return rng.standard_normal((n, p))
    root = np.linalg.cholesky(_ar1(p, rho))
    return rng.standard_normal((n, p)) @ root.T


# The estimator of the paper: the shrinkage comedian estimate, not refined.
PAPER = {"refinement": "none", "reweight": False}

SETTINGS = [
    {},
    {"consistency": "diagonal"},
    {"location": "median", "shrink_location": False},
    PAPER,
    {"consistency": "diagonal", **PAPER},
    {"location": "median", "shrink_location": False, **PAPER},
    {"robust_intensity": False, "shrink_location": False, **PAPER},
    {"refinement": "none"},
]


# --------------------------------------------------------------------------
# 1. chi-square law on clean data
# --------------------------------------------------------------------------


@pytest.mark.parametrize("p", [2, 10, 30])
@pytest.mark.parametrize("params", SETTINGS, ids=lambda d: ",".join(d) or "default")
def test_chi2_law_identity(p, params):
    flagged, ratios = [], []
    for seed in range(5):
        X = _gaussian(5000, p, 0, seed)
        det = ShrinkageMahalanobisDetector(**params).fit(X)
        flagged.append(np.mean(det.predict(X) == -1))
        ratios.append(np.median(det.dist_) / stats.chi2.ppf(0.5, p))
    assert 0.015 <= np.mean(flagged) <= 0.035
    assert abs(np.median(ratios) - 1) < 0.05


@pytest.mark.parametrize("p", [2, 10, 30])
@pytest.mark.parametrize(
    "params",
    [{}, {"reweight": False}, PAPER, {"refinement": "none"}],
    ids=["default", "raw", "paper", "paper+reweight"],
)
def test_chi2_law_correlated_normal_consistency(p, params):
    flagged, ratios = [], []
    for seed in range(5):
        X = _gaussian(5000, p, 0.9, seed)
        det = ShrinkageMahalanobisDetector(**params).fit(X)
        flagged.append(np.mean(det.predict(X) == -1))
        ratios.append(np.median(det.dist_) / stats.chi2.ppf(0.5, p))
    assert 0.015 <= np.mean(flagged) <= 0.035
    assert abs(np.median(ratios) - 1) < 0.05


@pytest.mark.parametrize("p", [10, 30])
def test_diagonal_consistency_is_biased_on_correlated_data(p):
    # regression guard: the diagonal rescaling shrinks correlations
    X = _gaussian(5000, p, 0.9, 0)
    det = ShrinkageMahalanobisDetector(consistency="diagonal", **PAPER).fit(X)
    assert np.median(det.dist_) / stats.chi2.ppf(0.5, p) < 0.5


def test_comedian_correlation_table():
    rho, g = _comedian_correlation_table()
    assert rho.shape == g.shape == (1001,)
    assert np.all(np.diff(g) >= 0) and g[0] == 0 and g[-1] == 1
    assert_allclose(
        np.interp([0.5, 0.9, 0.99], rho, g), [0.360, 0.848, 0.984], atol=2e-3
    )
    # Monte Carlo check of C * median(UV) at rho = 0.3
    rng = np.random.default_rng(0)
    u = rng.standard_normal(400_000)
    v = 0.3 * u + np.sqrt(1 - 0.09) * rng.standard_normal(400_000)
    mc = np.median(u * v) / stats.norm.ppf(0.75) ** 2
    assert abs(np.interp(0.3, rho, g) - mc) < 0.01


# --------------------------------------------------------------------------
# 2. contamination semantics
# --------------------------------------------------------------------------


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25, 0.5])
def test_contamination_float_like_elliptic_envelope(contamination):
    X, _ = make_contaminated_gaussian(
        400,
        4,
        contamination=0.1,
        outlier_kind="shift",
        covariance="identity",
        strength=3,
        random_state=0,
    )
    det = ShrinkageMahalanobisDetector(contamination=contamination).fit(X)
    ee = EllipticEnvelope(contamination=contamination, random_state=0).fit(X)
    n_ours = int(np.sum(det.predict(X) == -1))
    n_ee = int(np.sum(ee.predict(X) == -1))
    assert abs(n_ours - contamination * 400) <= 1
    assert n_ours == n_ee
    assert det.offset_ == np.percentile(-det.dist_, 100 * contamination)
    assert det.threshold_ == -det.offset_


@pytest.mark.parametrize(
    "params",
    [{}, {"cutoff": "adjusted"}, {"contamination": 0.1}, {"reweight": True}],
    ids=["chi2", "adjusted", "float", "reweight"],
)
def test_decision_predict_consistency(params):
    X, _ = make_contaminated_gaussian(
        300,
        5,
        contamination=0.1,
        outlier_kind="shift",
        covariance="ar1",
        strength=3,
        random_state=1,
    )
    det = ShrinkageMahalanobisDetector(**params)
    labels = det.fit_predict(X)
    assert_array_equal(labels, det.fit(X).predict(X))
    dec = det.decision_function(X)
    assert_array_equal(dec >= 0, det.predict(X) == 1)
    assert set(np.unique(labels)) <= {-1, 1}
    assert det.offset_ == -det.threshold_
    assert_allclose(det.score_samples(X), -det.mahalanobis(X))
    assert_allclose(dec, det.score_samples(X) - det.offset_)
    assert_allclose(det.mahalanobis(X), det.dist_, rtol=1e-10)
    assert det.score(X, labels) == 1.0


def test_auto_chi2_threshold():
    X = _gaussian(500, 7, 0, 0)
    for q in (0.9, 0.975, 0.99):
        det = ShrinkageMahalanobisDetector(quantile=q).fit(X)
        assert det.threshold_ == stats.chi2.ppf(q, 7)


def _tail_excess(d2, p, quantile):
    # reference: the largest excess of the chi2 cdf over the empirical cdf
    # beyond chi2_p(quantile), and its critical value (p <= 10)
    d2 = np.sort(d2)
    n = d2.size
    excess = stats.chi2.cdf(d2, p) - (np.arange(n) + 0.5) / n
    tail = (d2 >= stats.chi2.ppf(quantile, p)) & (excess > 0)
    return max(excess[tail], default=0.0), (0.24 - 0.003 * p) / np.sqrt(n)


def test_adjusted_threshold():
    # clean data: p_n <= pcrit on most samples, then nothing is flagged
    n_quiet = 0
    for seed in range(5):
        X = _gaussian(2000, 5, 0, seed)
        det = ShrinkageMahalanobisDetector(cutoff="adjusted").fit(X)
        assert det.threshold_ >= stats.chi2.ppf(0.975, 5)
        pn, pcrit = _tail_excess(det.dist_, 5, 0.975)
        if pn <= pcrit:
            n_quiet += 1
            assert np.all(det.predict(X) == 1)
            assert det.threshold_ == max(stats.chi2.ppf(0.975, 5), det.dist_.max())
    assert n_quiet >= 3
    # the cut-off itself on synthetic distances: exact chi2 plus far points
    rng = np.random.default_rng(0)
    d2 = np.concatenate([rng.chisquare(5, 950), np.full(50, 200.0)])
    thr = _adjusted_threshold(d2, 5, 0.975)
    pn, pcrit = _tail_excess(d2, 5, 0.975)
    assert pn > pcrit and stats.chi2.ppf(0.975, 5) <= thr < 200
    cut_rank = d2.size - int(np.ceil(d2.size * pn)) - 1
    assert thr == max(stats.chi2.ppf(0.975, 5), np.sort(d2)[cut_rank])


# --------------------------------------------------------------------------
# 3. shift outliers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.1, 0.2])
@pytest.mark.parametrize("covariance", ["identity", "ar1"])
@pytest.mark.parametrize("cutoff", ["chi2", "adjusted"])
def test_shift_outliers(eps, covariance, cutoff):
    X, truth = make_contaminated_gaussian(
        2000,
        10,
        contamination=eps,
        outlier_kind="shift",
        covariance=covariance,
        rho=0.5,
        strength=5,
        random_state=0,
    )
    pred = ShrinkageMahalanobisDetector(cutoff=cutoff).fit_predict(X) == -1
    assert np.mean(pred[truth]) == 1.0
    assert np.mean(pred[~truth]) <= 0.05


# --------------------------------------------------------------------------
# 4. bounded influence
# --------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.1, 0.2, 0.4])
def test_bounded_influence_point_mass(eps):
    n, p = 2000, 10
    clean = _gaussian(n, p, 0, 3)
    m = int(eps * n)
    fits = []
    for t in (1e3, 1e6):
        X = clean.copy()
        X[:m] = t
        fits.append(ShrinkageComedianCovariance().fit(X))
    top = [np.linalg.eigvalsh(f.covariance_)[-1] for f in fits]
    assert np.linalg.norm(fits[0].location_ - fits[1].location_) < 0.1
    assert abs(top[0] - top[1]) < 0.1 * top[0]
    if eps <= 0.2:
        assert np.linalg.norm(fits[1].location_) < 1.5
        assert top[1] < 3


# --------------------------------------------------------------------------
# 5. shrinkage intensity under heavy tails
# --------------------------------------------------------------------------


def test_robust_intensity_heavy_tails():
    rng = np.random.default_rng(0)
    p, n = 10, 2000
    z = rng.standard_normal((n, p)) @ np.linalg.cholesky(_ar1(p, 0.5)).T
    X = z * np.sqrt(3 / rng.chisquare(3, n))[:, None]
    for consistency in ("normal", "diagonal"):
        robust = ShrinkageComedianCovariance(consistency=consistency).fit(X)
        assert robust.covariance_shrinkage_ < 0.5
    # raw fourth moments (with the diagonal consistency) push delta to 1
    raw = ShrinkageComedianCovariance(
        robust_intensity=False, consistency="diagonal", **PAPER
    ).fit(X)
    assert raw.covariance_shrinkage_ > 0.9


# --------------------------------------------------------------------------
# 6. equivariance
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def equi_data():
    X, _ = make_contaminated_gaussian(
        600,
        6,
        contamination=0.1,
        outlier_kind="shift",
        covariance="ar1",
        rho=0.5,
        strength=3,
        location=1.0,
        random_state=2,
    )
    return X


@pytest.mark.parametrize(
    "params", [{}, {"location": "median", "consistency": "diagonal"}]
)
def test_permutation_and_common_scale(equi_data, params):
    X = equi_data
    ref = ShrinkageMahalanobisDetector(**params).fit(X)
    perm = np.random.default_rng(0).permutation(X.shape[1])
    fp = ShrinkageMahalanobisDetector(**params).fit(X[:, perm])
    assert_allclose(fp.location_, ref.location_[perm], rtol=1e-6, atol=1e-8)
    assert_allclose(
        fp.covariance_, ref.covariance_[np.ix_(perm, perm)], rtol=1e-6, atol=1e-9
    )
    assert_allclose(fp.dist_, ref.dist_, rtol=1e-6)
    a = 3.7
    fa = ShrinkageMahalanobisDetector(**params).fit(a * X)
    assert_allclose(fa.covariance_, a**2 * ref.covariance_, rtol=1e-6, atol=1e-9)
    assert_allclose(fa.dist_, ref.dist_, rtol=1e-6)
    assert_allclose(
        fa.location_shrinkage_, ref.location_shrinkage_, rtol=1e-6, atol=1e-12
    )
    assert_allclose(
        fa.covariance_shrinkage_, ref.covariance_shrinkage_, rtol=1e-6, atol=1e-12
    )


@pytest.mark.parametrize("location", ["l1_median", "median"])
def test_translation_and_sign_flips_without_location_shrinkage(equi_data, location):
    X = equi_data
    kw = dict(shrink_location=False, location=location)
    ref = ShrinkageMahalanobisDetector(**kw).fit(X)
    shift = np.arange(X.shape[1]) * 10.0 - 7.0
    ft = ShrinkageMahalanobisDetector(**kw).fit(X + shift)
    assert_allclose(ft.location_, ref.location_ + shift, rtol=1e-6, atol=1e-6)
    assert_allclose(ft.covariance_, ref.covariance_, rtol=1e-5, atol=1e-8)
    assert_allclose(ft.dist_, ref.dist_, rtol=1e-5)
    signs = np.array([1, -1, 1, -1, -1, 1.0])
    fs = ShrinkageMahalanobisDetector(**kw).fit(X * signs)
    assert_allclose(fs.location_, ref.location_ * signs, rtol=1e-6, atol=1e-8)
    assert_allclose(
        fs.covariance_, ref.covariance_ * np.outer(signs, signs), rtol=1e-6, atol=1e-9
    )
    assert_allclose(fs.dist_, ref.dist_, rtol=1e-6)


def test_column_scaling_without_shrinkage(equi_data):
    # the coordinatewise median is scale equivariant per column; the
    # L1-median is only orthogonally equivariant
    X = equi_data
    kw = dict(location="median", shrink_location=False, shrink_scatter=False)
    ref = ShrinkageMahalanobisDetector(**kw).fit(X)
    s = np.array([1.0, 2.0, 0.5, 10.0, 3.0, 0.1])
    fs = ShrinkageMahalanobisDetector(**kw).fit(X * s)
    assert_allclose(
        fs.covariance_, ref.covariance_ * np.outer(s, s), rtol=1e-6, atol=1e-9
    )
    assert_allclose(fs.dist_, ref.dist_, rtol=1e-6)


def test_rotation_equivariance(equi_data):
    # documented: the comedian and the shrinkage targets are not rotation
    # equivariant, so the paper's distances change under a rotation
    X = equi_data
    q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((6, 6)))
    ref = ShrinkageMahalanobisDetector(**PAPER).fit(X)
    rot = ShrinkageMahalanobisDetector(**PAPER).fit(X @ q.T)
    assert np.max(np.abs(rot.dist_ - ref.dist_) / ref.dist_) > 1e-3
    # the concentration steps are affine equivariant: from the same subset
    # they visit the same subsets, with rotated estimates
    start = np.flatnonzero(ShrinkageMahalanobisDetector().fit(X).support_)[:400]
    a = _c_steps(X, start, delta=0.0, assume_centered=False, max_steps=50)
    b = _c_steps(X @ q.T, start, delta=0.0, assume_centered=False, max_steps=50)
    assert a[5] >= 2
    assert_array_equal(a[3], b[3])
    assert_allclose(b[0], q @ a[0], atol=1e-10)
    assert_allclose(b[1], q @ a[1] @ q.T, atol=1e-10)
    assert_allclose(b[4], a[4], rtol=1e-8)
    # the refined fit's starts are not equivariant, so it may end on another
    # local minimum; the flags agree but for boundary rows
    ref = ShrinkageMahalanobisDetector().fit(X)
    rot = ShrinkageMahalanobisDetector().fit(X @ q.T)
    assert np.mean(ref.predict(X) == rot.predict(X @ q.T)) >= 0.99


# --------------------------------------------------------------------------
# 7. kernels
# --------------------------------------------------------------------------


def _numpy_comedian(Z):
    p = Z.shape[1]
    return np.array(
        [[np.median(Z[:, j] * Z[:, k]) for k in range(p)] for j in range(p)]
    )


@pytest.mark.parametrize("n", [1, 2, 7, 8, 101, 1000])
def test_comedian_kernel_equals_numpy(n):
    rng = np.random.default_rng(n)
    Z = rng.standard_normal((n, 6))
    Z[: n // 2, 1] = 0.5  # ties
    Z[:, 2] = np.round(Z[:, 2])  # more ties
    com, lo, hi = _comedian(np.ascontiguousarray(Z.T), 2, True, 2)
    assert_array_equal(com, _numpy_comedian(Z))
    assert_array_equal(com, com.T)
    # order statistics of ranks (n - 1)//2 - h and n//2 + h (clipped)
    j, k = 0, 3
    y = np.sort(Z[:, j] * Z[:, k])
    assert (
        lo[j, k] == y[max((n - 1) // 2 - 2, 0)]
        and hi[j, k] == y[min(n // 2 + 2, n - 1)]
    )
    med, mad2 = _row_median_mad(np.ascontiguousarray(Z.T), 2)
    assert_array_equal(med, np.median(Z, axis=0))
    assert_array_equal(mad2, np.median((Z - np.median(Z, axis=0)) ** 2, axis=0))


@pytest.mark.parametrize("n", [4096, 5001, 20000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_median_mad_kernel_sampled_bracket(n, dtype):
    # from 4096 values on, the selections run inside a sampled bracket
    rng = np.random.default_rng(n)
    Z = rng.standard_normal((n, 5)).astype(dtype)
    Z[: n // 2, 1] = 0.5  # the median is a tie
    Z[:, 2] = np.round(Z[:, 2])
    Z[:, 3] = np.round(3 * Z[:, 3]) / 3
    Z[:, 4] = np.exp(4 * Z[:, 4])  # skewed
    for n_threads in (1, 2):
        med, mad2 = _row_median_mad(np.ascontiguousarray(Z.T), n_threads)
        ref = np.median(Z, axis=0)
        assert_array_equal(med, ref.astype(np.float64))
        assert_array_equal(mad2, np.median((Z - ref) ** 2, axis=0).astype(np.float64))
    com, _, _ = _comedian(np.ascontiguousarray(Z.T), 50, False, 2)
    assert_array_equal(com, _numpy_comedian(Z).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_distances_kernel(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 7)).astype(dtype)
    point = rng.standard_normal(7)
    out = np.empty(1000)
    for n_threads in (1, 2):
        _row_distances(X, point, out, n_threads)
        assert_allclose(out, np.linalg.norm(X - point, axis=1), rtol=1e-12)


def test_comedian_kernel_float32_and_threads():
    rng = np.random.default_rng(0)
    ZT = np.ascontiguousarray(rng.standard_normal((12, 2001)))
    outs = [_comedian(ZT, 44, True, t) for t in (1, 2, 4)]
    for out in outs[1:]:
        for a, b in zip(outs[0], out):
            assert_array_equal(a, b)
    com32, _, _ = _comedian(ZT.astype(np.float32), 44, True, 2)
    assert com32.dtype == np.float64
    assert_allclose(com32, outs[0][0], atol=1e-5)
    Z32 = ZT.T.astype(np.float32)
    ref32 = np.array(
        [[np.median(Z32[:, j] * Z32[:, k]) for k in range(12)] for j in range(12)]
    )
    assert_array_equal(com32, ref32.astype(np.float64))


def test_estimator_same_result_with_one_and_two_threads():
    X = _gaussian(3000, 8, 0.5, 0)
    fits = []
    for n_threads in (1, 2):
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            fits.append(ShrinkageMahalanobisDetector().fit(X))
    assert_array_equal(fits[0].covariance_, fits[1].covariance_)
    assert_array_equal(fits[0].dist_, fits[1].dist_)


def test_float32_input():
    X = _gaussian(1000, 5, 0.5, 0)
    d64 = ShrinkageMahalanobisDetector().fit(X)
    d32 = ShrinkageMahalanobisDetector().fit(X.astype(np.float32))
    assert d32.covariance_.dtype == np.float64
    assert d32.dist_.dtype == np.float32
    assert_allclose(d32.covariance_, d64.covariance_, rtol=1e-3, atol=1e-4)
    assert np.mean(d32.predict(X) == d64.predict(X)) > 0.99


@pytest.mark.parametrize("seed", [0, 1])
def test_weiszfeld_matches_direct_minimisation(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(300, 4)) + [1.0, -2.0, 0.5, 3.0]
    m, n_iter = _weiszfeld(
        X, np.median(X, axis=0), max_iter=1000, tol=1e-12, estimator="t"
    )

    def objective(v):
        return np.sum(np.linalg.norm(X - v, axis=1))

    def gradient(v):
        d = v - X
        return np.sum(d / np.linalg.norm(d, axis=1)[:, None], axis=0)

    res = optimize.minimize(
        objective,
        X.mean(axis=0),
        jac=gradient,
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 10_000},
    )
    assert_allclose(m, res.x, rtol=1e-6, atol=1e-6 * np.abs(res.x).max())
    assert objective(m) <= res.fun * (1 + 1e-10)
    assert n_iter >= 1


def test_weiszfeld_majority_at_one_point():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 5))
    point = np.array([3.0, -1.0, 2.0, 0.5, 4.0])
    X[:300] = point  # 60% of the rows coincide
    m, _ = _weiszfeld(X, np.median(X, axis=0), max_iter=200, tol=1e-7, estimator="t")
    assert np.all(np.isfinite(m))
    assert_allclose(m, point, atol=1e-9)
    # the same for a start away from the point, and through the estimator
    m2, _ = _weiszfeld(X, np.zeros(5), max_iter=200, tol=1e-7, estimator="t")
    assert_allclose(m2, point, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero-MAD columns
        est = ShrinkageComedianCovariance(shrink_location=False).fit(X)
    assert_allclose(est.location_, point, atol=1e-9)
    assert np.all(np.isfinite(est.covariance_))


def test_weiszfeld_convergence_warning():
    X = _gaussian(200, 3, 0, 0) + 5
    with pytest.warns(ConvergenceWarning, match="ShrinkageComedianCovariance"):
        est = ShrinkageComedianCovariance(max_iter=1, tol=0.0).fit(X)
    assert est.n_iter_ == 1


# --------------------------------------------------------------------------
# 8. the steps of fit, each against a direct computation
# --------------------------------------------------------------------------


def test_shrink_to_identity_is_ledoit_wolf():
    # with the fourth-moment numerator at the mean and the empirical
    # covariance, the shrinkage is scikit-learn's Ledoit-Wolf
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)) @ np.linalg.cholesky(_ar1(6, 0.6)).T
    mean = X.mean(axis=0)
    S = np.cov(X.T, bias=True)
    shrunk, delta = _shrink_to_identity(S, _raw_intensity_numerator(X, mean, S))
    ref, ref_delta = ledoit_wolf(X)
    assert_allclose(delta, ref_delta, rtol=1e-10)
    assert_allclose(shrunk, ref, rtol=1e-10, atol=1e-12)
    # the limits: a scaled identity gets delta = 1, a zero numerator delta = 0
    assert _shrink_to_identity(2.0 * np.eye(3), 0.0)[1] == 1.0
    same, zero = _shrink_to_identity(S, 0.0)
    assert zero == 0.0
    assert_array_equal(same, S)


def test_shrink_location():
    T = np.array([1.0, 2.0, 6.0])
    shrunk, alpha = _shrink_location(T, 7.0)  # spread |T - 3|^2 = 14
    assert alpha == 0.5
    assert_allclose(shrunk, [2.0, 2.5, 4.5])
    assert _shrink_location(T, 100.0)[1] == 1.0
    assert_array_equal(_shrink_location(np.full(3, 4.0), 1.0)[0], np.full(3, 4.0))


def test_robust_location_median():
    X = _gaussian(301, 4, 0.5, 0) + [1.0, 2.0, 3.0, 4.0]
    kw = dict(max_iter=200, tol=1e-7, n_threads=1)
    loc, alpha, n_iter = _robust_location(
        X, location="median", shrink_location=False, **kw
    )
    assert_array_equal(loc, np.median(X, axis=0))
    assert alpha == 0.0 and n_iter == 1
    shrunk, alpha, _ = _robust_location(
        X, location="median", shrink_location=True, **kw
    )
    assert 0 < alpha < 1
    assert_allclose(shrunk, alpha * loc.mean() + (1 - alpha) * loc)


def test_l1_median_trace_variance_spherical_normal():
    # spherical normal, p = 2: n tr Var(T) = 1 / (E[1/r]^2 (1 - 1/p)^2) = 8 / pi
    X = np.random.default_rng(0).standard_normal((20_000, 2))
    n_var = 20_000 * _l1_median_trace_variance(X, np.zeros(2))
    assert abs(n_var - 8 / np.pi) < 0.05 * 8 / np.pi


@pytest.mark.parametrize("consistency", ["normal", "diagonal"])
def test_comedian_scatter(consistency):
    X = _gaussian(100_000, 3, 0.6, 1)
    S, se = _comedian_scatter(
        X, np.zeros(3), consistency=consistency, compute_se=True, n_threads=2
    )
    if consistency == "diagonal":
        # the comedian, its diagonal rescaled to C * median(x^2)
        com = _numpy_comedian(X)
        c = 1 / stats.norm.ppf(0.75) ** 2
        assert_allclose(np.diag(S), c * np.diag(com), rtol=1e-12)
        off = ~np.eye(3, dtype=bool)
        assert_array_equal(S[off], com[off])
    else:
        # normal-consistent: close to the true AR(1) covariance
        assert_allclose(S, _ar1(3, 0.6), atol=0.03)
    # standard errors of order 1 / sqrt(n)
    assert np.all(se > 0) and np.all(se < 0.02)


def test_reweighted_estimates_are_consistent_for_a_truncated_normal():
    cov = _ar1(4, 0.7)
    X = _gaussian(40_000, 4, 0.7, 2)
    cut = stats.chi2.ppf(0.9, 4)
    inside = X[np.einsum("ij,jk,ik->i", X, np.linalg.inv(cov), X) <= cut]
    loc, S, delta = _reweighted_estimates(
        inside, cut=cut, quantile=0.9, assume_centered=False, delta=0.0
    )
    assert delta == 0.0
    assert_allclose(loc, 0.0, atol=0.03)
    assert_allclose(S, cov, atol=0.04)


def test_mahalanobis_by_blocks(monkeypatch):
    import sklearn_spectral.covariance._shrinkage_comedian as module

    X = _gaussian(50, 3, 0.5, 0)
    cov, loc = _ar1(3, 0.5), np.array([0.1, -0.2, 0.3])
    diff = X - loc
    ref = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)
    monkeypatch.setattr(module, "_BLOCK_ROWS", 7)
    assert_allclose(_mahalanobis_sq(X, loc, cov), ref, rtol=1e-12)


# --------------------------------------------------------------------------
# singular data, errors
# --------------------------------------------------------------------------


def test_collinear_data_warns_and_works():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    X = np.column_stack([X, X[:, 0]])  # a duplicated column
    with pytest.warns(RuntimeWarning, match="singular"):
        det = ShrinkageMahalanobisDetector(shrink_scatter=False).fit(X)
    assert np.all(np.isfinite(det.dist_))
    assert np.all(np.linalg.eigvalsh(det.covariance_) > 0)
    assert np.mean(det.predict(X) == -1) < 0.2
    # with shrinkage the estimate is regular: no warning needed
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ShrinkageMahalanobisDetector().fit(X)


def test_p_close_to_n_works():
    X = _gaussian(40, 35, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        det = ShrinkageMahalanobisDetector().fit(X)
    assert np.all(np.isfinite(det.dist_))
    assert np.all(np.linalg.eigvalsh(det.covariance_) > 0)


def test_constant_column_warns_and_works():
    X = _gaussian(300, 4, 0, 0)
    X[:, 2] = 5.0
    with pytest.warns(RuntimeWarning, match=r"column\(s\) \[2\].*constant"):
        det = ShrinkageMahalanobisDetector().fit(X)
    assert det.location_[2] == 5.0
    assert np.all(np.isfinite(det.dist_))
    assert np.mean(det.predict(X) == -1) < 0.1
    Y = X[:5].copy()
    Y[:, 2] = 6.0
    assert np.all(det.predict(Y) == -1)
    with pytest.raises(ValueError, match="ShrinkageMahalanobisDetector: every column"):
        ShrinkageMahalanobisDetector().fit(np.ones((10, 3)))


def test_zero_mad_column_warns():
    X = _gaussian(300, 4, 0, 0)
    X[:200, 1] = 0.0
    with pytest.warns(RuntimeWarning, match=r"column\(s\) \[1\] have a zero median"):
        det = ShrinkageMahalanobisDetector(
            location="median", shrink_location=False
        ).fit(X)
    assert np.all(np.isfinite(det.covariance_))


@pytest.mark.parametrize(
    "Est", [ShrinkageComedianCovariance, ShrinkageMahalanobisDetector]
)
def test_input_errors_name_the_estimator(Est):
    X = _gaussian(50, 3, 0, 0)
    name = Est.__name__
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad
        with pytest.raises(ValueError, match=name):
            Est().fit(Xb)
    with pytest.raises(TypeError, match=name):
        Est().fit(sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="location"):
        Est(location="mean").fit(X)
    with pytest.raises(ValueError, match="consistency"):
        Est(consistency="full").fit(X)
    with pytest.raises(ValueError, match="2"):
        Est().fit(X[:1])
    fitted = Est().fit(X)
    with pytest.raises(ValueError, match="3 features"):
        fitted.mahalanobis(X[:, :2])


def test_detector_parameter_errors():
    X = _gaussian(50, 3, 0, 0)
    for params, word in [
        ({"contamination": 0.7}, "contamination"),
        ({"contamination": 0.0}, "contamination"),
        ({"quantile": 1.0}, "quantile"),
        ({"cutoff": "mcd"}, "cutoff"),
    ]:
        with pytest.raises(ValueError, match=word):
            ShrinkageMahalanobisDetector(**params).fit(X)


def test_attributes_pipeline_and_pickle():
    X, _ = make_contaminated_gaussian(
        500,
        5,
        contamination=0.1,
        outlier_kind="shift",
        covariance="identity",
        strength=4,
        random_state=0,
    )
    det = ShrinkageMahalanobisDetector(reweight=True).fit(X)
    for attr in (
        "raw_location_",
        "raw_covariance_",
        "support_",
        "dist_",
        "threshold_",
        "offset_",
        "location_shrinkage_",
        "covariance_shrinkage_",
        "n_iter_",
        "precision_",
    ):
        assert hasattr(det, attr), attr
    assert det.support_.dtype == bool and det.support_.shape == (500,)
    assert not hasattr(ShrinkageMahalanobisDetector(**PAPER).fit(X), "raw_location_")
    assert ShrinkageComedianCovariance(store_precision=False).fit(X).precision_ is None
    restored = pickle.loads(pickle.dumps(det))
    assert_array_equal(restored.predict(X), det.predict(X))
    pipe = make_pipeline(RobustScaler(), clone(det))
    assert pipe.fit_predict(X).shape == (500,)
    cov = ShrinkageComedianCovariance().fit(X)
    assert np.isfinite(cov.score(X)) and cov.error_norm(np.eye(5)) >= 0
    centred = ShrinkageComedianCovariance(assume_centered=True).fit(X)
    assert_array_equal(centred.location_, np.zeros(5))


# --------------------------------------------------------------------------
# scikit-learn's MinCovDet and EllipticEnvelope suites, ours in their place
# --------------------------------------------------------------------------

# (n_samples, n_features, n_outliers, tol_location, tol_covariance,
# min_support): the cases of scikit-learn's test_mcd, which MinCovDet meets.
_SKLEARN_MCD_CASES = [
    (100, 5, 0, 0.02, 0.1, 74),
    (100, 5, 20, 0.3, 0.3, 65),
    (100, 5, 40, 0.1, 0.1, 50),
    (1000, 5, 450, 0.1, 0.1, 540),
    (1700, 5, 800, 0.1, 0.1, 870),
    (500, 1, 100, 0.10, 0.10, 350),
    (20, 20, 0, 0.1, 0.1, 15),
]


@pytest.mark.parametrize(
    "case", _SKLEARN_MCD_CASES, ids=lambda c: "-".join(map(str, c[:3]))
)
def test_sklearn_mcd_suite(case):
    n, p, n_out, tol_loc, tol_cov, min_support = case
    for seed in range(20):
        rng = np.random.RandomState(seed)
        X = rng.randn(n, p)
        out = rng.permutation(n)[:n_out]
        X[out] += 10.0 * (rng.randint(2, size=(n_out, p)) - 0.5)
        inliers = np.ones(n, dtype=bool)
        inliers[out] = False
        pure = X[inliers]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # p = n: singular
            est = ShrinkageComedianCovariance().fit(X)
        assert np.mean((pure.mean(0) - est.location_) ** 2) < tol_loc, seed
        emp = np.cov(pure.T, bias=True).reshape(p, p)
        assert np.mean((emp - est.covariance_) ** 2) < tol_cov, seed
        assert np.sum(est.support_) >= min_support, seed
        assert_allclose(est.mahalanobis(X), est.dist_, rtol=1e-10)


def test_paper_estimator_breaks_down_where_the_refinement_holds():
    # 45% shifted outliers (scikit-learn's medium case): the comedian scatter
    # spreads over them, the concentrated one does not.
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 5)
    out = rng.permutation(1000)[:450]
    X[out] += 10.0 * (rng.randint(2, size=(450, 5)) - 0.5)
    pure = np.delete(X, out, axis=0)
    ref = np.cov(pure.T, bias=True)
    paper = ShrinkageComedianCovariance(**PAPER).fit(X)
    refined = ShrinkageComedianCovariance().fit(X)
    assert np.mean((paper.covariance_ - ref) ** 2) > 0.3
    assert np.mean((refined.covariance_ - ref) ** 2) < 0.02


@pytest.mark.parametrize("seed", range(20))
def test_sklearn_elliptic_envelope_suite(seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(100, 10)
    det = ShrinkageMahalanobisDetector(contamination=0.1)
    with pytest.raises(NotFittedError):
        det.predict(X)
    with pytest.raises(NotFittedError):
        det.decision_function(X)
    det.fit(X)
    y_pred = det.predict(X)
    scores = det.score_samples(X)
    decisions = det.decision_function(X)
    assert_allclose(scores, -det.mahalanobis(X))
    assert_allclose(det.mahalanobis(X), det.dist_)
    accuracy = (100 - np.sum(y_pred == -1)) / 100
    assert det.score(X, np.ones(100)) == pytest.approx(accuracy)
    assert np.sum(y_pred == -1) == np.sum(decisions < 0) == 10


def test_sklearn_elliptic_envelope_score_samples():
    X_train = [[1, 1], [1, 2], [2, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 3 rows in 2-d
        det1 = ShrinkageMahalanobisDetector(contamination=0.2).fit(X_train)
        det2 = ShrinkageMahalanobisDetector().fit(X_train)
    assert_array_equal(
        det1.score_samples([[2.0, 2.0]]),
        det1.decision_function([[2.0, 2.0]]) + det1.offset_,
    )
    assert_array_equal(
        det2.score_samples([[2.0, 2.0]]),
        det2.decision_function([[2.0, 2.0]]) + det2.offset_,
    )
    assert_array_equal(
        det1.score_samples([[2.0, 2.0]]), det2.score_samples([[2.0, 2.0]])
    )


def test_default_flags_part_of_three_blobs_as_mincovdet_does():
    # check_outliers_train's data: the MCD locks onto part of the three blobs
    # and its chi-square rule flags rows; so does the refined estimate, while
    # the paper's scatter spreads over all blobs and flags none.
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=300, random_state=0)
    flagged = np.sum(ShrinkageMahalanobisDetector().fit(X).predict(X) == -1)
    paper = np.sum(ShrinkageMahalanobisDetector(**PAPER).fit(X).predict(X) == -1)
    assert 0 < flagged < 150
    assert paper == 0


def test_concentration_steps_lower_the_determinant():
    from sklearn_spectral.covariance._concentration import _c_steps, _whitened_distances

    X, _ = make_contaminated_gaussian(
        600, 6, contamination=0.3, outlier_kind="shift", covariance="ar1",
        rho=0.9, strength=2, random_state=1,
    )
    h = (600 + 6 + 1) // 2
    start = np.sort(np.argsort(np.linalg.norm(X, axis=1))[:h])
    Xh = X[start]
    _, logdet0 = _whitened_distances(X, Xh.mean(0), np.cov(Xh.T, bias=True))
    loc, S, logdet, subset, d2, n_steps = _c_steps(
        X, start, delta=0.0, assume_centered=False, max_steps=30
    )
    assert n_steps >= 1 and logdet <= logdet0
    assert_allclose(logdet, np.linalg.slogdet(np.cov(X[subset].T, bias=True))[1])
    # a fixed point: the subset is the h rows of smallest distance
    assert_array_equal(np.sort(np.argpartition(d2, h - 1)[:h]), subset)
    assert_allclose(loc, X[subset].mean(0))
