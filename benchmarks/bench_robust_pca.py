"""Benchmark RobustPCA against scikit-learn's PCA and robust alternatives.

Data: ``make_contaminated_gaussian`` (spiked covariance, lambda_1 = 3) with a
fraction ``eps`` of outliers of kind ``kind``. Quality: the captured variance
``r = tr(V^T Sigma V) / sum_{j <= k} lambda_j`` of the true inlier covariance
(1 is perfect; PCA hijacked by the outliers gets about 1 / lambda_1).

Methods: ours (``RobustPCA``), ``PCA(svd_solver='covariance_eigh')`` and
``'randomized'``, ``IncrementalPCA``, ``eigh(MinCovDet().covariance_)`` where
it runs, a Principal Component Pursuit (inexact ALM, written here) where it
runs, and the oracle (PCA on the true inliers).

    python benchmarks/bench_robust_pca.py --size large --threads 2
"""

import numpy as np
from _runner import Benchmark, main
from scipy import linalg
from sklearn.covariance import MinCovDet
from sklearn.decomposition import PCA, IncrementalPCA

from sklearn_spectral.datasets import make_contaminated_gaussian
from sklearn_spectral.decomposition import RobustPCA

# ``k`` is n_components (1 where not given); the captured variance is over
# the top k inlier eigenvalues.
CASES = {
    "small": [dict(n=1_000, d=10, eps=0.1, kind="stealth")],
    "medium": [
        dict(n=10_000, d=20, eps=0.1, kind="stealth"),
        dict(n=100_000, d=100, eps=0.1, kind="stealth"),
        dict(n=100_000, d=100, eps=0.1, kind="multi_direction"),
        dict(n=300_000, d=100, eps=0.1, kind="multi_direction", k=5),
        dict(n=300_000, d=100, eps=0.1, kind="multi_direction", k=20),
        dict(n=300_000, d=100, eps=0.1, kind="multi_direction", k=50),
    ],
    "large": [
        dict(n=100_000, d=100, eps=0.1, kind="stealth"),
        dict(n=1_000_000, d=100, eps=0.1, kind="stealth"),
        dict(n=100_000, d=100, eps=0.1, kind="heavy_tailed"),
        dict(n=100_000, d=1_000, eps=0.1, kind="stealth"),
    ],
}


def make_data(n, d, eps, kind, k=1):
    X, is_outlier, params = make_contaminated_gaussian(
        n, d, contamination=eps, outlier_kind=kind, return_params=True, random_state=0
    )
    return X, is_outlier, params, k


def _components(result):
    if isinstance(result, np.ndarray):
        return result
    return result.components_


def captured_variance(result, data):
    _, _, params, k = data
    V = np.asarray(_components(result), dtype=np.float64)[:k]
    S = params["covariance"]
    r = float(np.trace(V @ S @ V.T)) / float(params["eigenvalues"][:k].sum())
    out = {"captured variance": round(r, 4)}
    if isinstance(result, RobustPCA):
        out["rounds"] = result.n_iter_ - 1
        out["certified"] = int(result.certified_)
    return out


def mcd_pca(data):
    X, k = data[0], data[3]
    cov = MinCovDet(random_state=0).fit(X).covariance_
    _, vecs = linalg.eigh(cov, subset_by_index=[X.shape[1] - k, X.shape[1] - 1])
    return np.ascontiguousarray(vecs[:, ::-1].T)


def pcp(data, max_iter=200, tol=1e-7):
    """Principal Component Pursuit (L + S) by inexact augmented Lagrangian;
    components: top right singular vectors of the centred low-rank part."""
    X = data[0]
    n, d = X.shape
    lam = 1.0 / np.sqrt(max(n, d))
    norm2 = linalg.norm(X, 2)
    Y = X / max(norm2, np.abs(X).max() / lam)
    mu, rho = 1.25 / norm2, 1.5
    S = np.zeros_like(X)
    normX = linalg.norm(X)
    for _ in range(max_iter):
        U, sig, Vt = linalg.svd(X - S + Y / mu, full_matrices=False)
        sig = np.maximum(sig - 1.0 / mu, 0.0)
        r = int(np.count_nonzero(sig))
        L = (U[:, :r] * sig[:r]) @ Vt[:r]
        T = X - L + Y / mu
        S = np.sign(T) * np.maximum(np.abs(T) - lam / mu, 0.0)
        R = X - L - S
        Y += mu * R
        mu = min(mu * rho, 1e7 / norm2)
        if linalg.norm(R) <= tol * normX:
            break
    Lc = L - L.mean(axis=0)
    return linalg.svd(Lc, full_matrices=False)[2][: data[3]]


bench = Benchmark("robust_pca", reference="ours", quality=captured_variance)
bench.add_method(
    "ours", lambda data: RobustPCA(n_components=data[3], random_state=0).fit(data[0])
)
bench.add_method(
    "PCA covariance_eigh",
    lambda data: PCA(n_components=data[3], svd_solver="covariance_eigh").fit(data[0]),
)
bench.add_method(
    "PCA randomized",
    lambda data: PCA(n_components=data[3], svd_solver="randomized", random_state=0).fit(
        data[0]
    ),
)
bench.add_method(
    "IncrementalPCA",
    lambda data: IncrementalPCA(
        n_components=data[3], batch_size=max(10_000, 5 * data[0].shape[1])
    ).fit(data[0]),
)
bench.add_method(
    "MinCovDet + eigh",
    mcd_pca,
    skip=lambda case: (
        "FastMCD: minutes beyond n*d = 2e5 on 2 cores"
        if case["n"] * case["d"] > 200_000
        else None
    ),
)
bench.add_method(
    "PCP (inexact ALM)",
    pcp,
    skip=lambda case: (
        "full SVD per iteration: n*d > 2e5" if case["n"] * case["d"] > 200_000 else None
    ),
)
bench.add_method(
    "oracle (PCA on inliers)",
    lambda data: PCA(n_components=data[3], svd_solver="covariance_eigh").fit(
        data[0][~data[1]]
    ),
)

if __name__ == "__main__":
    main(bench, CASES, make_data)
