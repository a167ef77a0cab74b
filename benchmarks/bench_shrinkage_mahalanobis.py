"""Benchmark ShrinkageMahalanobisDetector against the MCD and shrinkage baselines.

Every method gets the same data and flags outliers with its own rule:

- ours, in several variants (refinement, location, shrinkage, intensity,
  consistency, reweighting, cut-off): ``threshold_`` of the detector; "paper"
  is ``refinement='none', reweight=False``;
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
    python benchmarks/bench_shrinkage_mahalanobis.py --grid [--seeds 20]
        [--n 2000] [--dims 10,30,100] [--params "{'reweight': False}"]
    python benchmarks/bench_shrinkage_mahalanobis.py --speed [--fits 8]
        [--n 100000] [--dims 20]

``--speed`` times the default detector against ``EllipticEnvelope`` on one
synthetic set (shift outliers 10%, AR(1) 0.5; ``--n`` rows, ``--dims``
features, 1e5 x 20 by default) in one process: ``--fits`` default fits
(median, range) and one ``EllipticEnvelope(contamination=0.1,
random_state=0)`` fit, and their ratio.

``--grid`` runs the accuracy grid instead: outlier kinds x dimensions x inlier
correlations, ``--seeds`` draws per cell, ours (at the defaults, or with
``--params``) and ``MinCovDet`` + ``chi2_p(0.975)`` on the same draws. Per
cell it prints the mean TPR and FPR of both, the mean paired differences, and
whether ours matches the MCD: TPR at least and FPR at most the MCD's, each up
to one paired standard error (so that two equal detectors match); the last
line counts the cells matched. The rows go to
``benchmarks/results/shrinkage_mahalanobis_grid.json``.
"""

import argparse
import ast
import json
import sys
import time
from pathlib import Path

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
bench.add_method("ours paper", _ours(refinement="none", reweight=False))
bench.add_method("ours paper + reweight", _ours(refinement="none"))
bench.add_method("ours raw (no reweight)", _ours(reweight=False))
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

# kind -> strength of the grid's outliers (10% of the rows)
GRID_KINDS = {
    "shift": 3.0,
    "minor_axis": 3.0,
    "point_mass": 3.0,
    "clusters": 3.0,
    "scatter": 2.0,
}
GRID_CORRELATIONS = [("identity", 0.0), ("ar1", 0.5), ("ar1", 0.9)]


def grid(seeds=20, n=2000, dims=(10, 30, 100), params=None, eps=0.1):
    """The accuracy grid: ours against MinCovDet + chi2, paired by seed."""
    params = params or {}
    rows = []
    header = (
        "| kind | p | Sigma | TPR ours | TPR MCD | FPR ours | FPR MCD "
        "| dTPR | dFPR | match | time ratio MCD/ours |"
    )
    print(header)
    print("|---" * 11 + "|")
    for p in dims:
        for kind, strength in GRID_KINDS.items():
            for cov, rho in GRID_CORRELATIONS:
                res = {"ours": [], "mcd": []}
                times = {"ours": 0.0, "mcd": 0.0}
                for seed in range(seeds):
                    X, truth = make_contaminated_gaussian(
                        n, p, contamination=eps, outlier_kind=kind,
                        covariance=cov, rho=rho if cov == "ar1" else 0.5,
                        strength=strength, random_state=seed,
                    )
                    cut = stats.chi2.ppf(0.975, p)
                    t0 = time.perf_counter()
                    det = ShrinkageMahalanobisDetector(**params).fit(X)
                    t1 = time.perf_counter()
                    mcd = MinCovDet(random_state=seed).fit(X)
                    t2 = time.perf_counter()
                    times["ours"] += t1 - t0
                    times["mcd"] += t2 - t1
                    for name, flags in (
                        ("ours", det.dist_ > det.threshold_),
                        ("mcd", mcd.mahalanobis(X) > cut),
                    ):
                        res[name].append(
                            (np.mean(flags[truth]), np.mean(flags[~truth]))
                        )
                ours, ref = np.array(res["ours"]), np.array(res["mcd"])
                diff = ours - ref
                se = diff.std(axis=0, ddof=1) / np.sqrt(seeds) if seeds > 1 else 0
                d_tpr, d_fpr = diff.mean(axis=0)
                se = np.broadcast_to(se, (2,))
                match = bool(d_tpr >= -se[0] - 1e-12 and d_fpr <= se[1] + 1e-12)
                row = dict(
                    kind=kind, p=p, n=n, covariance=cov, rho=rho, seeds=seeds,
                    tpr_ours=float(ours[:, 0].mean()), tpr_mcd=float(ref[:, 0].mean()),
                    fpr_ours=float(ours[:, 1].mean()), fpr_mcd=float(ref[:, 1].mean()),
                    d_tpr=float(d_tpr), d_fpr=float(d_fpr), match=match,
                    time_ratio=times["mcd"] / max(times["ours"], 1e-12),
                )
                rows.append(row)
                sigma = "I" if cov == "identity" else f"AR1 {rho}"
                print(
                    f"| {kind} | {p} | {sigma} | {row['tpr_ours']:.3f} "
                    f"| {row['tpr_mcd']:.3f} | {row['fpr_ours']:.3f} "
                    f"| {row['fpr_mcd']:.3f} | {d_tpr:+.3f} | {d_fpr:+.3f} "
                    f"| {'yes' if match else 'no'} | {row['time_ratio']:.1f} |",
                    flush=True,
                )
    matched = sum(r["match"] for r in rows)
    print(f"\nmatched {matched} of {len(rows)} cells ({seeds} seeds, n={n})")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with open(out / "shrinkage_mahalanobis_grid.json", "w") as f:
        json.dump({"params": repr(params), "rows": rows}, f, indent=1)
    return rows


def speed(n=100_000, p=20, fits=8):
    """Default fits against one EllipticEnvelope fit on the same data."""
    X, truth, eps = make_data(**_synthetic(n, p, "shift", 0.1, "ar1"))
    times = []
    for _ in range(fits):
        t0 = time.perf_counter()
        det = ShrinkageMahalanobisDetector().fit(X)
        times.append(time.perf_counter() - t0)
    flags = det.dist_ > det.threshold_
    t0 = time.perf_counter()
    ee = EllipticEnvelope(contamination=eps, random_state=0).fit(X)
    t_ee = time.perf_counter() - t0
    ee_flags = ee.predict(X) == -1
    med = float(np.median(times))
    print(
        f"{n} x {p}: ours median {med:.3f} s over {fits} fits "
        f"(min {min(times):.3f}, max {max(times):.3f}), TPR "
        f"{flags[truth].mean():.3f} FPR {flags[~truth].mean():.4f}; "
        f"EllipticEnvelope {t_ee:.2f} s, TPR {ee_flags[truth].mean():.3f} FPR "
        f"{ee_flags[~truth].mean():.4f}; ratio {t_ee / med:.1f}x",
        flush=True,
    )
    return times, t_ee


def _grid_main(argv):
    parser = argparse.ArgumentParser(description="accuracy grid against MinCovDet")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--fits", type=int, default=8)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--dims", default=None)
    parser.add_argument("--params", default="{}")
    args = parser.parse_args(argv)
    if args.speed:
        speed(
            n=args.n or 100_000, p=int(args.dims or 20), fits=args.fits,
        )
        return
    args.n = args.n or 2000
    args.dims = args.dims or "10,30,100"
    grid(
        seeds=args.seeds, n=args.n,
        dims=tuple(int(d) for d in args.dims.split(",")),
        params=ast.literal_eval(args.params),
    )


if __name__ == "__main__":
    if {"--grid", "--speed"} & set(sys.argv[1:]):
        _grid_main(sys.argv[1:])
    else:
        main(bench, CASES, make_data)
