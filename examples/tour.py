"""A tour of sklearn_spectral on real data bundled with the packages.

Every estimator the installed version provides runs here on real data that
ships inside scikit-learn, scikit-image or networkx, beside the scikit-learn
(or networkx) method a user would otherwise reach for, and the tour prints
what each found. Nothing is downloaded.

Run it with::

    python examples/tour.py

Each estimator adds one ``tour_<name>`` function to ``TOURS`` when it lands;
the tour runs those whose estimator this version provides, as listed by
``sklearn_spectral.utils.all_estimators``.
"""

import time

import numpy as np

import sklearn_spectral
from sklearn_spectral.utils import (
    _openmp_effective_n_threads,
    _openmp_parallelism_enabled,
    all_estimators,
)


def _rule(title):
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def tour_graph_utilities():
    """Modularity of community partitions of Zachary's karate club."""
    import networkx as nx

    from sklearn_spectral.utils.graph import (
        affinity_from_features,
        connected_components,
        modularity,
    )

    _rule("Graph utilities: modularity on Zachary's karate club (networkx data)")
    G = nx.karate_club_graph()
    A = nx.to_scipy_sparse_array(G, weight="weight", format="csr")
    factions = np.array([G.nodes[v]["club"] == "Officer" for v in G], dtype=int)
    louvain = nx.community.louvain_communities(G, weight="weight", seed=0)
    louvain_labels = np.empty(A.shape[0], dtype=int)
    for c, members in enumerate(louvain):
        louvain_labels[list(members)] = c
    for name, labels in [
        ("the two factions after the split", factions),
        (f"Louvain communities ({len(louvain)})", louvain_labels),
    ]:
        ours = modularity(A, labels)
        comms = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        ref = nx.community.modularity(G, comms, weight="weight")
        print(f"  {name:<34} Q = {ours:.4f}   networkx: {ref:.4f}")

    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    A = affinity_from_features(X, n_neighbors=10)
    n_comp, _ = connected_components(A)
    print(
        f"  10-NN graph of the digits: {A.shape[0]} vertices, {A.nnz // 2} edges, "
        f"{n_comp} connected component(s); modularity of the true digit classes "
        f"Q = {modularity(A, y):.3f}"
    )


def tour_datasets():
    """The shared generators, one line each."""
    from sklearn_spectral import datasets

    _rule("Data generators shared by tests, benchmarks and examples")
    for name in datasets.__all__:
        if not callable(getattr(datasets, name)):
            continue
        doc = (getattr(datasets, name).__doc__ or "").strip().splitlines()
        print(f"  {name:<32} {doc[0] if doc else ''}")


# Estimator tours, keyed by the estimator's class name.
TOURS = {}


def tour_robust_pca():
    """Digits: all the 0s plus 10% of 1s; the principal axes of the 0s."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    from sklearn_spectral import RobustPCA

    _rule("RobustPCA: handwritten 0s with 10% of 1s mixed in (scikit-learn digits)")
    X, y = load_digits(return_X_y=True)
    zeros, ones = X[y == 0], X[y == 1]
    n_ones = int(round(0.1 * len(zeros) / 0.9))
    Xmix = np.vstack([zeros, ones[:n_ones]])
    cov0 = np.cov(zeros, rowvar=False)
    lam0 = np.linalg.eigvalsh(cov0)[::-1]
    print(
        f"  {len(zeros)} zeros + {n_ones} ones, d = {X.shape[1]}; score: share of "
        "the 0s' top-k variance captured (1 = their own PCA)"
    )
    for k in (1, 2, 3):
        pca, t_pca = _timed(PCA(n_components=k).fit, Xmix)
        rpca, t_rpca = _timed(
            RobustPCA(n_components=k, contamination=0.1, random_state=0).fit, Xmix
        )
        score = [
            float(np.trace(est.components_ @ cov0 @ est.components_.T) / lam0[:k].sum())
            for est in (pca, rpca)
        ]
        print(
            f"  k={k}: PCA {score[0]:.3f} ({t_pca * 1e3:.1f} ms)   RobustPCA "
            f"{score[1]:.3f} ({t_rpca * 1e3:.1f} ms, {rpca.n_iter_ - 1} round(s), "
            f"certified={rpca.certified_}, mean weight of the 1s "
            f"{rpca.weights_[len(zeros):].mean():.2f})"
        )


TOURS["RobustPCA"] = tour_robust_pca


def tour_shrinkage_mahalanobis():
    """Robust Mahalanobis outlier detection on the WBC and wine benchmarks."""
    from sklearn.covariance import EllipticEnvelope
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import RobustScaler

    from sklearn_spectral.covariance import ShrinkageMahalanobisDetector
    from sklearn_spectral.datasets import load_outlier_benchmark

    _rule(
        "ShrinkageMahalanobisDetector vs EllipticEnvelope (MCD): ODDS-style sets "
        "from scikit-learn's breast cancer and wine data, robustly standardised"
    )
    # one warm-up fit: the first fit of a session also tabulates the normal
    # consistency map of the comedian (a fraction of a second)
    warm_up = np.random.default_rng(0).standard_normal((50, 3))
    ShrinkageMahalanobisDetector().fit(warm_up)
    for name in ("wbc", "wine"):
        X, truth = load_outlier_benchmark(name, random_state=0)
        X = RobustScaler().fit_transform(X)
        print(
            f"  {name}: {X.shape[0]} rows x {X.shape[1]} features, "
            f"{truth.sum()} outliers"
        )
        fitted = {}
        for label, est in [
            ("shrinkage, refined (default)", ShrinkageMahalanobisDetector()),
            (
                "shrinkage, the paper's",
                ShrinkageMahalanobisDetector(refinement="none", reweight=False),
            ),
            ("EllipticEnvelope (true share)",
             EllipticEnvelope(contamination=truth.mean(), random_state=0)),
        ]:
            _, seconds = _timed(est.fit, X)
            fitted[label] = seconds
            flagged = est.predict(X) == -1
            auc = roc_auc_score(truth, -est.score_samples(X))
            print(
                f"    {label:<30} {seconds * 1e3:7.1f} ms  "
                f"TPR {flagged[truth].mean():.2f}  "
                f"FPR {flagged[~truth].mean():.3f}  ROC AUC {auc:.3f}"
            )
        ratio = (
            fitted["EllipticEnvelope (true share)"]
            / fitted["shrinkage, refined (default)"]
        )
        print(f"    EllipticEnvelope / shrinkage fit time: {ratio:.1f}x")


TOURS["ShrinkageMahalanobisDetector"] = tour_shrinkage_mahalanobis


def tour_amg_spectral_clustering():
    """Digits kNN graph and an attributed block model, against SpectralClustering."""
    import warnings

    from sklearn.cluster import SpectralClustering
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score

    from sklearn_spectral.cluster import AMGSpectralClustering
    from sklearn_spectral.datasets import make_attributed_sbm
    from sklearn_spectral.utils.graph import affinity_from_features

    _rule("AMGSpectralClustering vs SpectralClustering (arpack): digits kNN graph, SBM")
    X, y = load_digits(return_X_y=True)
    A = affinity_from_features(X, n_neighbors=10)
    A_sbm, y_sbm, _ = make_attributed_sbm(
        5000, 5, mean_degree=10, mixing=0.3, random_state=0
    )
    for name, graph, truth, k in [
        ("digits 10-NN graph", A, y, 10),
        ("SBM n=5000, 5 blocks, degree 10", A_sbm, y_sbm, 5),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ours, t_ours = _timed(
                AMGSpectralClustering(k, affinity="precomputed", random_state=0).fit,
                graph,
            )
            ref, t_ref = _timed(
                SpectralClustering(k, affinity="precomputed", random_state=0).fit, graph
            )
        print(
            f"  {name}: ours ARI {adjusted_rand_score(truth, ours.labels_):.3f} "
            f"({t_ours:.2f} s, {ours.n_hierarchies_} hierarchies)   SpectralClustering "
            f"ARI {adjusted_rand_score(truth, ref.labels_):.3f} ({t_ref:.2f} s)"
        )


TOURS["AMGSpectralClustering"] = tour_amg_spectral_clustering


def tour_stkr():
    """Semi-supervised regression on two moons, classification of digits."""
    from sklearn.datasets import load_digits
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV
    from sklearn.semi_supervised import LabelSpreading

    from sklearn_spectral.datasets import hide_labels, make_manifold_regression
    from sklearn_spectral.semi_supervised import STKRClassifier, STKRRegressor

    _rule("STKR vs KernelRidge / LabelSpreading: few labels, many unlabeled rows")
    X, y = make_manifold_regression(
        500, manifold="moons", noise=0.05, random_state=4
    )
    y_semi, labeled = hide_labels(y, 20, random_state=4, return_mask=True)
    reg, t_reg = _timed(STKRRegressor().fit, X, y_semi)
    ridge = GridSearchCV(
        KernelRidge(kernel="rbf"),
        {"alpha": [1e-3, 1e-2, 1e-1], "gamma": [0.3, 1.0, 3.0, 10.0]},
        cv=4,
    )
    ridge.fit(X[labeled], y[labeled])
    rest = ~labeled
    print(
        f"  moons, 20 of 500 labeled: STKR R2 {reg.score(X[rest], y[rest]):.3f} "
        f"({t_reg:.2f} s)   tuned KernelRidge R2 "
        f"{ridge.score(X[rest], y[rest]):.3f}"
    )
    Xd, yd = load_digits(return_X_y=True)
    yd_semi = hide_labels(yd, 50, unlabeled=-1, stratify=True, random_state=0)
    clf, t_clf = _timed(STKRClassifier().fit, Xd, yd_semi)
    spread = LabelSpreading(kernel="knn").fit(Xd, yd_semi)
    print(
        f"  digits, 50 of 1797 labeled: STKR accuracy "
        f"{(clf.transduction_ == yd).mean():.3f} ({t_clf:.2f} s)   LabelSpreading "
        f"{(spread.transduction_ == yd).mean():.3f}"
    )


TOURS["STKRRegressor"] = tour_stkr


def tour_sdp_clustering():
    """The K-means SDP on iris; a mixture whose clusters share their mean."""
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    from sklearn_spectral.cluster import SDPGaussianMixture, SDPKMeans
    from sklearn_spectral.datasets import make_heterogeneous_mixture

    _rule("SDPKMeans / SDPGaussianMixture vs KMeans / GaussianMixture")
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sdp, t_sdp = _timed(SDPKMeans(n_clusters=3, random_state=0).fit, X)
    km = KMeans(3, n_init=10, random_state=0).fit(X)
    print(
        f"  iris: SDPKMeans ARI {adjusted_rand_score(y, sdp.labels_):.3f} "
        f"({t_sdp:.2f} s, SDP objective {sdp.objective_:.1f}, inertia "
        f"{sdp.inertia_:.1f})   KMeans ARI {adjusted_rand_score(y, km.labels_):.3f}"
    )
    for design, k, what in [
        ("equal_means", 2, "equal means, different covariances"),
        ("em_trap", 3, "one broad cluster beside two tight ones"),
    ]:
        X, y = make_heterogeneous_mixture(
            200, n_clusters=k, design=design, random_state=0
        )
        gm, t_gm = _timed(SDPGaussianMixture(k, random_state=0).fit, X)
        ref = GaussianMixture(k, n_init=10, random_state=0).fit(X)
        km = KMeans(k, n_init=10, random_state=0).fit(X)
        print(
            f"  {what}: SDPGaussianMixture ARI "
            f"{adjusted_rand_score(y, gm.labels_):.3f} ({t_gm:.2f} s)   "
            f"GaussianMixture(n_init=10) "
            f"{adjusted_rand_score(y, ref.predict(X)):.3f}   "
            f"KMeans {adjusted_rand_score(y, km.labels_):.3f}"
        )


TOURS["SDPKMeans"] = tour_sdp_clustering


def main():
    _rule(f"sklearn_spectral {sklearn_spectral.__version__}")
    print(
        f"  compiled with OpenMP: {_openmp_parallelism_enabled()}, "
        f"threads: {_openmp_effective_n_threads()}"
    )
    available = [name for name, _ in all_estimators()]
    print(f"  estimators in this version: {', '.join(available) or 'none yet'}")

    tour_graph_utilities()
    tour_datasets()
    for name in available:
        if name in TOURS:
            TOURS[name]()


if __name__ == "__main__":
    main()
