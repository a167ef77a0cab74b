"""Benchmark AMGSpectralClustering against scikit-learn's SpectralClustering.

Ours (structure only, and with the vertex attributes) against
``SpectralClustering(affinity="precomputed")`` with the ``'arpack'``,
``'lobpcg'`` and ``'amg'`` eigensolvers (``'amg'`` needs pyamg and is skipped
without it), on the same affinity: attributed stochastic block models from
``make_attributed_sbm`` and the 10-nearest-neighbour graph of scikit-learn's
digits. Quality columns: ARI and NMI against the planted labels, and the
modularity of the labelling.

    python benchmarks/bench_amg_spectral.py --size small|medium|large [--threads N]
"""

import importlib.util
import warnings

import numpy as np
from sklearn.cluster import SpectralClustering
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from _runner import Benchmark, main
from sklearn_spectral.cluster import AMGSpectralClustering
from sklearn_spectral.datasets import make_attributed_sbm
from sklearn_spectral.utils.graph import affinity_from_features, modularity

CASES = {
    "small": [
        dict(graph="sbm", n=2_000, n_clusters=5, mean_degree=10),
        dict(graph="digits", n=1_797, n_clusters=10, mean_degree=10),
    ],
    "medium": [
        dict(graph="sbm", n=10_000, n_clusters=5, mean_degree=10),
        dict(graph="sbm", n=100_000, n_clusters=5, mean_degree=10),
        dict(graph="digits", n=1_797, n_clusters=10, mean_degree=10),
    ],
    "large": [
        dict(graph="sbm", n=10_000, n_clusters=5, mean_degree=10),
        dict(graph="sbm", n=100_000, n_clusters=5, mean_degree=10),
        dict(graph="sbm", n=1_000_000, n_clusters=5, mean_degree=10),
        dict(graph="digits", n=1_797, n_clusters=10, mean_degree=10),
    ],
}


def make_data(graph, n, n_clusters, mean_degree):
    if graph == "sbm":
        A, y, attributes = make_attributed_sbm(
            n, n_blocks=n_clusters, mean_degree=mean_degree, mixing=0.3,
            alpha=0.6, random_state=0,
        )
        return A, y, attributes, n_clusters
    X, y = load_digits(return_X_y=True)
    A = affinity_from_features(X, "nearest_neighbors", n_neighbors=mean_degree)
    return A, y, None, n_clusters


def scores(labels, data):
    A, y, _, _ = data
    return {
        "ARI": float(adjusted_rand_score(y, labels)),
        "NMI": float(normalized_mutual_info_score(y, labels)),
        "modularity": float(modularity(A, labels)),
    }


def ours(data, with_attributes=False):
    A, _, attributes, k = data
    model = AMGSpectralClustering(k, affinity="precomputed", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # disconnected kNN graphs
        model.fit(A, attributes=attributes if with_attributes else None)
    return model.labels_


def sklearn_spectral(solver):
    def fit(data):
        A, _, _, k = data
        model = SpectralClustering(
            k, affinity="precomputed", eigen_solver=solver, random_state=0,
            assign_labels="kmeans",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return model.fit(A).labels_

    return fit


def _skip_large(limit):
    return lambda case: f"n > {limit:,}: too slow" if case["n"] > limit else None


bench = Benchmark("amg_spectral", reference="ours", quality=scores)
bench.add_method("ours", ours)
bench.add_method(
    "ours + attributes",
    lambda data: ours(data, with_attributes=True),
    skip=lambda case: "no attributes" if case["graph"] != "sbm" else None,
)
bench.add_method("SpectralClustering arpack", sklearn_spectral("arpack"),
                 skip=_skip_large(100_000))
bench.add_method("SpectralClustering lobpcg", sklearn_spectral("lobpcg"),
                 skip=_skip_large(100_000))
bench.add_method(
    "SpectralClustering amg",
    sklearn_spectral("amg"),
    skip=lambda case: (
        "pyamg is not installed" if importlib.util.find_spec("pyamg") is None
        else _skip_large(100_000)(case)
    ),
)

if __name__ == "__main__":
    main(bench, CASES, make_data)
