"""Benchmark SDPKMeans and SDPGaussianMixture against scikit-learn and cvxpy.

Data: ``make_heterogeneous_mixture`` designs (one case per seed, the same
data for every method), and the bundled iris, wine, breast cancer (both
standardised) and digits (PCA to 10 dimensions) sets. Quality: the
misclustering error after the best matching of labels, the adjusted Rand
index, exact recovery (error 0) and, for the SDP solvers, the K-means
objective reached (``||X_c||^2 - <A, Z>``; lower is better, the same for
every exact solver).

Methods: ``SDPKMeans`` ('auto' solver: 'exact' up to 500 rows; 'nlr' at up
to 500 rows too, and 'sketch' from 2000 rows), ``SDPGaussianMixture``
(defaults), ``KMeans(n_init=10)``, ``GaussianMixture(full)``
with n_init 1 and 10 and 'kmeans' and 'random' init, ``SpectralClustering``
(rbf, n <= 2000) and the same Peng-Wei SDP solved by cvxpy + SCS (n <= 200,
when cvxpy is installed).

    python benchmarks/bench_sdp.py --size medium --threads 2
"""

import numpy as np
from _runner import Benchmark, main
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from sklearn_spectral.cluster import SDPGaussianMixture, SDPKMeans
from sklearn_spectral.datasets import make_heterogeneous_mixture

HETEROGENEOUS = [
    ("scales", 3), ("shapes", 3), ("equal_means", 2), ("unbalanced", 4),
    ("em_trap", 3),
]
# Methods whose errors the per-cell summary compares with ours, seed by seed.
COMPARED = [
    "KMeans n_init=10", "GaussianMixture kmeans n_init=1",
    "GaussianMixture kmeans n_init=10", "GaussianMixture random n_init=10",
]

CASES = {
    "small": [dict(data="isotropic", n=60, k=3, separation=1.2, seed=0, quick=True)],
    "medium": [
        *[dict(data="isotropic", n=200, k=3, separation=s, seed=seed)
          for s in (0.8, 1.2) for seed in range(20)],
        *[dict(data=design, n=200, k=k, separation=s, seed=seed)
          for design, k in HETEROGENEOUS for s in (0.8, 1.2)
          for seed in range(20)],
        dict(data="iris"),
        dict(data="wine"),
        dict(data="breast_cancer"),
        dict(data="digits"),
        dict(data="isotropic", n=10_000, k=3, separation=1.2, seed=0),
    ],
    "large": [
        *[dict(data="isotropic", n=200, k=3, separation=s, seed=seed)
          for s in (0.8, 1.0, 1.2, 1.4) for seed in range(5)],
        *[dict(data=design, n=200, k=k, separation=1.2, seed=seed)
          for design, k in HETEROGENEOUS for seed in range(10)],
        dict(data="iris"),
        dict(data="wine"),
        dict(data="breast_cancer"),
        dict(data="digits"),
        dict(data="isotropic", n=2_000, k=3, separation=1.2, seed=0),
        dict(data="isotropic", n=10_000, k=3, separation=1.2, seed=0),
        dict(data="isotropic", n=100_000, k=3, separation=1.2, seed=0),
        dict(data="isotropic", n=1_000_000, k=3, separation=1.2, seed=0),
    ],
}


def make_data(data, n=None, k=None, separation=1.2, seed=0, quick=False):
    if data in ("iris", "wine", "breast_cancer", "digits"):
        loader = {"iris": load_iris, "wine": load_wine,
                  "breast_cancer": load_breast_cancer, "digits": load_digits}[data]
        X, y = loader(return_X_y=True)
        if data != "iris":
            X = StandardScaler().fit_transform(X)
        if data == "digits":
            X = PCA(n_components=10, random_state=0).fit_transform(X)
        return X, y, int(np.unique(y).size)
    X, y = make_heterogeneous_mixture(
        n, n_clusters=k, design=data, separation=separation, random_state=seed
    )
    return X, y, k


def _labels(result):
    return result if isinstance(result, np.ndarray) else result.labels_


def misclustering_error(y_true, y_pred):
    k = int(max(y_true.max(), y_pred.max())) + 1
    table = np.zeros((k, k))
    np.add.at(table, (y_true, y_pred), 1)
    rows, cols = linear_sum_assignment(-table)
    return 1.0 - table[rows, cols].sum() / y_true.size


def quality(result, data):
    _, y, _ = data
    labels = np.asarray(_labels(result))
    err = misclustering_error(y, labels)
    out = {"error": round(err, 4), "ARI": round(adjusted_rand_score(y, labels), 4),
           "exact": int(err == 0)}
    objective = getattr(result, "objective_", None)
    if objective is not None:
        out["SDP objective"] = round(float(objective), 4)
    return out


class _CvxpyResult:
    def __init__(self, labels, objective):
        self.labels_ = labels
        self.objective_ = objective


def cvxpy_scs(data):
    import cvxpy as cp

    X, _, k = data
    Xc = X - X.mean(axis=0)
    A = Xc @ Xc.T
    n = X.shape[0]
    Z = cp.Variable((n, n), PSD=True)
    problem = cp.Problem(
        cp.Maximize(cp.trace(A @ Z)),
        [Z >= 0, cp.sum(Z, axis=1) == 1, cp.trace(Z) == k],
    )
    problem.solve(solver="SCS", eps=1e-7)
    vals, vecs = np.linalg.eigh(Z.value)
    emb = vecs[:, -k:] * np.sqrt(np.maximum(vals[-k:], 0))
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(emb)
    return _CvxpyResult(labels, float(np.sum(Xc**2) - problem.value))


def _has_cvxpy():
    try:
        import cvxpy  # noqa: F401
    except ImportError:
        return False
    return True


def _n(case):
    sizes = {"iris": 150, "wine": 178, "breast_cancer": 569, "digits": 1797}
    return sizes.get(case["data"], case.get("n"))


bench = Benchmark("sdp", reference="ours", quality=quality)
bench.add_method(
    "ours", lambda d: SDPKMeans(d[2], random_state=0).fit(d[0]),
    skip=lambda c: "1e6 rows: sketch only" if _n(c) > 200_000 else None,
    extra=lambda r: {"n_iter": r.n_iter_},
)
bench.add_method(
    "ours sketch",
    lambda d: SDPKMeans(d[2], solver="sketch", random_state=0).fit(d[0]),
    skip=lambda c: "subsample of 10% below 2000 rows" if _n(c) < 2000 else None,
    extra=lambda r: {"n_iter": r.n_iter_},
)
bench.add_method(
    "ours nlr",
    lambda d: SDPKMeans(d[2], solver="nlr", random_state=0).fit(d[0]),
    extra=lambda r: {"n_iter": r.n_iter_},
    skip=lambda c: "the 'auto' row is nlr here" if _n(c) > 500
    else ("1e6 rows: sketch only" if _n(c) > 200_000 else None),
)
bench.add_method(
    "SDPGaussianMixture",
    lambda d: SDPGaussianMixture(d[2], random_state=0).fit(d[0]),
    skip=lambda c: "K low-rank blocks per outer step: beyond 2000 rows"
    if _n(c) > 2000 else None,
)
bench.add_method(
    "KMeans n_init=10", lambda d: KMeans(d[2], n_init=10, random_state=0).fit(d[0])
)
for n_init in (1, 10):
    for init in ("kmeans", "random"):
        bench.add_method(
            f"GaussianMixture {init} n_init={n_init}",
            lambda d, n_init=n_init, init=init: GaussianMixture(
                d[2], covariance_type="full", n_init=n_init, init_params=init,
                random_state=0,
            ).fit_predict(d[0]),
            skip=lambda c, n_init=n_init: "small size: n_init=1 only"
            if c.get("quick") and n_init > 1 else None,
        )
bench.add_method(
    "SpectralClustering rbf",
    lambda d: SpectralClustering(d[2], random_state=0).fit(d[0]),
    skip=lambda c: "dense n x n affinity" if _n(c) > 2000 else None,
)
for name in ("KMeans n_init=10", "SpectralClustering rbf"):
    bench.methods[name].skip = (
        lambda c, old=bench.methods[name].skip: "1e6 rows: sketch only"
        if _n(c) > 200_000 else (old(c) if old else None)
    )
bench.add_method(
    "cvxpy + SCS",
    cvxpy_scs,
    skip=lambda c: "cvxpy not installed" if not _has_cvxpy()
    else ("splitting SDP solver: minutes beyond 200 rows" if _n(c) > 200
          else (None if c.get("seed", 0) == 0 or c.get("quick")
                else "about 30 s a call: first seed of each cell only")),
)

def summarise(rows, method="SDPGaussianMixture"):
    """Per cell (design, separation): mean error of each method over seeds,
    and for ``method`` the seeds where it is worse / better than each of
    ``COMPARED``."""
    cells = {}
    for row in rows:
        case = row["case"]
        if "seed" not in case or row["status"] != "ok":
            continue
        cell = cells.setdefault((case["data"], case["separation"]), {})
        cell.setdefault(row["method"], {})[case["seed"]] = row["quality"]["error"]
    lines = ["", f"Per cell, mean error over seeds; {method}: seeds worse/better"]
    for (data, separation), errors in sorted(cells.items()):
        means = " ".join(f"{name}={np.mean(list(e.values())):.4f}"
                         for name, e in errors.items())
        ours = errors.get(method, {})
        duels = []
        for name in COMPARED:
            other = errors.get(name, {})
            seeds = sorted(set(ours) & set(other))
            worse = sum(ours[s] > other[s] for s in seeds)
            better = sum(ours[s] < other[s] for s in seeds)
            duels.append(f"{name} {worse}/{better}")
        lines.append(f"{data} {separation} ({len(ours)} seeds): {means}")
        lines.append("    " + ", ".join(duels))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    summarise(main(bench, CASES, make_data))
