"""Benchmark ShrinkageMahalanobisDetector against the MCD and shrinkage baselines.

Every method gets the same data and flags outliers with its own rule:

- ours, in several variants (location, shrinkage, intensity, consistency,
  reweighting, cut-off): ``threshold_`` of the detector;
- ``EllipticEnvelope`` (FastMCD) with ``contamination`` set to the true
  outlier share (0.1 on clean data);
- ``MinCovDet``, ``LedoitWolf``, ``OAS`` and the classical (empirical)
  covariance, each with the chi-square cut-off ``chi2_p(0.975)`` on its
  squared Mahalanobis distances;
- ``IsolationForest`` (its own ``predict``), as a non-Mahalanobis baseline.

Quality columns: TPR and FPR of the flags, ROC AUC of the outlier scores (the
squared distances). Synthetic data come from
``sklearn_spectral.datasets.make_contaminated_gaussian``; the real sets from
``load_outlier_benchmark`` (ODDS-style, scikit-learn's bundled data) are
robustly standardised (median / IQR, ``RobustScaler``) for every method.

Usage::

    python benchmarks/bench_shrinkage_mahalanobis.py --size small|medium|large
"""

import numpy as np
from _runner import Benchmark, main
from scipy import stats
from sklearn.covariance import (
    OAS,
    EllipticEnvelope,
    EmpiricalCovariance,
    LedoitWolf,
    MinCovDet,
)
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import RobustScaler

from sklearn_spectral.covariance import ShrinkageMahalanobisDetector
from sklearn_spectral.datasets import load_outlier_benchmark, make_contaminated_gaussian


def _synthetic(n, p, kind, eps, cov="identity", rho=0.5, dist="gaussian", k=5.0):
    return dict(n=n, p=p, kind=kind, eps=eps, cov=cov, rho=rho, dist=dist, k=k)


# accuracy grid: clean data (normal, correlated, heavy-tailed, skewed) and every
# outlier kind, at several contamination levels
_ACCURACY = [
    _synthetic(2000, 10, "none", 0.0, "identity"),
    _synthetic(2000, 10, "none", 0.0, "ar1", rho=0.9),
    _synthetic(2000, 10, "none", 0.0, "ar1", dist="student_t"),
    _synthetic(2000, 10, "none", 0.0, "ar1", dist="skew_normal"),
    _synthetic(2000, 10, "shift", 0.05, "ar1"),
    _synthetic(2000, 10, "shift", 0.2, "identity"),
    _synthetic(2000, 10, "shift", 0.4, "ar1", k=5),
    _synthetic(2000, 10, "shift", 0.1, "ar1", dist="student_t"),
    _synthetic(2000, 10, "shift", 0.1, "ar1", k=2),
    _synthetic(2000, 10, "minor_axis", 0.1, "ar1", rho=0.9, k=3),
    _synthetic(2000, 30, "minor_axis", 0.1, "ar1", rho=0.9, k=3),
    _synthetic(2000, 10, "point_mass", 0.2, "ar1"),
    _synthetic(2000, 10, "clusters", 0.2, "random_corr", k=3),
    _synthetic(2000, 10, "scatter", 0.1, "ar1", k=2),
    _synthetic(500, 30, "shift", 0.1, "ar1", k=3),
]
_REAL = [dict(data="wbc"), dict(data="wine"), dict(data="diabetes")]

CASES = {
    "small": [_synthetic(1000, 5, "shift", 0.1, "ar1"), dict(data="wine")],
    "medium": _ACCURACY + _REAL + [_synthetic(100_000, 20, "shift", 0.1, "ar1")],
    "large": [
        _synthetic(100_000, 20, "shift", 0.1, "ar1"),
        _synthetic(100_000, 50, "shift", 0.1, "ar1"),
        _synthetic(1_000_000, 50, "shift", 0.1, "ar1"),
    ],
}


def make_data(n=None, p=None, kind=None, eps=None, cov=None, rho=0.5, dist="gaussian",
              k=5.0, data=None):
    """(X, is_outlier, eps) for one case."""
    if data is not None:
        X, truth = load_outlier_benchmark(data, random_state=0)
        X = RobustScaler().fit_transform(X)
        return X, truth, float(truth.mean())
    X, truth = make_contaminated_gaussian(
        n, p, contamination=eps, outlier_kind="shift" if kind == "none" else kind,
        covariance=cov, rho=rho, strength=k, inlier_distribution=dist,
        random_state=0,
    )
    return X, truth, float(eps)


def quality(result, data):
    scores, flags = result
    _, truth, _ = data
    out = {"TPR": float("nan"), "FPR": float(np.mean(flags[~truth]))}
    if truth.any():
        out["TPR"] = float(np.mean(flags[truth]))
        out["AUC"] = float(roc_auc_score(truth, scores))
    else:
        out["AUC"] = float("nan")
    return out


def _ours(**params):
    def fit(data):
        X = data[0]
        det = ShrinkageMahalanobisDetector(**params).fit(X)
        return det.dist_, det.dist_ > det.threshold_

    return fit


def _chi2(estimator_factory):
    def fit(data):
        X = data[0]
        est = estimator_factory().fit(X)
        d2 = est.mahalanobis(X)
        return d2, d2 > stats.chi2.ppf(0.975, X.shape[1])

    return fit


def _elliptic(data):
    X, _, eps = data
    ee = EllipticEnvelope(contamination=eps if eps > 0 else 0.1, random_state=0).fit(X)
    return -ee.score_samples(X), ee.predict(X) == -1


def _iforest(data):
    X = data[0]
    forest = IsolationForest(random_state=0).fit(X)
    return -forest.score_samples(X), forest.predict(X) == -1


def _too_big_for_mcd(case):
    n, p = case.get("n") or 0, case.get("p") or 0
    if n * p > 2_000_000:
        return "FastMCD would take minutes at this size (see the n=1e5, p=20 case)"
    return None


bench = Benchmark("shrinkage_mahalanobis", reference="ours", quality=quality)
bench.add_method("ours", _ours())
bench.add_method("ours reweight", _ours(reweight=True))
bench.add_method("ours adjusted", _ours(cutoff="adjusted"))
bench.add_method("ours median", _ours(location="median"))
bench.add_method(
    "ours no shrinkage", _ours(shrink_location=False, shrink_scatter=False)
)
bench.add_method("ours raw intensity", _ours(robust_intensity=False))
bench.add_method(
    "ours diagonal, raw intensity",
    _ours(consistency="diagonal", robust_intensity=False),
)
bench.add_method("ours diagonal", _ours(consistency="diagonal"))
bench.add_method("EllipticEnvelope", _elliptic, skip=_too_big_for_mcd)
bench.add_method(
    "MinCovDet + chi2", _chi2(lambda: MinCovDet(random_state=0)), skip=_too_big_for_mcd
)
bench.add_method("LedoitWolf + chi2", _chi2(LedoitWolf))
bench.add_method("OAS + chi2", _chi2(OAS))
bench.add_method("classical + chi2", _chi2(EmpiricalCovariance))
bench.add_method("IsolationForest", _iforest)

if __name__ == "__main__":
    main(bench, CASES, make_data)
