"""Benchmark the modularity kernel (sklearn_spectral.utils.graph.modularity).

The first compiled kernel of the library, measured against networkx's
``community.modularity`` and a vectorised scipy.sparse computation, on
stochastic block models from ``make_attributed_sbm``. Quality column: the
absolute difference to the scipy value (all three must agree).

    python benchmarks/bench_modularity.py --size small|medium|large [--threads N]
"""

import networkx as nx
import numpy as np
from _runner import Benchmark, main
from scipy import sparse

from sklearn_spectral.datasets import make_attributed_sbm
from sklearn_spectral.utils.graph import modularity

CASES = {
    "small": [dict(n=2_000, mean_degree=10)],
    "medium": [dict(n=10_000, mean_degree=10), dict(n=100_000, mean_degree=10)],
    "large": [
        dict(n=10_000, mean_degree=10),
        dict(n=100_000, mean_degree=10),
        dict(n=1_000_000, mean_degree=10),
    ],
}


def make_data(n, mean_degree):
    A, y, _ = make_attributed_sbm(
        n, n_blocks=10, mean_degree=mean_degree, mixing=0.2, random_state=0
    )
    # Weighted edges, so the weighted code paths are measured.
    A = A.tocsr()
    rng = np.random.default_rng(0)
    upper = sparse.triu(A, k=1).tocoo()
    w = rng.uniform(0.5, 2.0, upper.nnz)
    W = sparse.coo_matrix((w, (upper.row, upper.col)), shape=A.shape)
    A = (W + W.T).tocsr()
    return A, y


def scipy_modularity(data):
    A, y = data
    total = A.sum()
    degree = np.asarray(A.sum(axis=1)).ravel()
    coo = A.tocoo()
    intra = coo.data[y[coo.row] == y[coo.col]].sum()
    volume = np.bincount(y, weights=degree)
    return intra / total - np.sum((volume / total) ** 2)


def networkx_modularity(data):
    A, y = data
    G = nx.from_scipy_sparse_array(A)
    communities = [set(np.flatnonzero(y == c)) for c in np.unique(y)]
    return nx.community.modularity(G, communities, weight="weight")


def agreement(result, data):
    difference = abs(float(result) - scipy_modularity(data))
    return {"Q": float(result), "|Q - scipy Q|": difference}


bench = Benchmark("modularity", reference="ours", quality=agreement)
bench.add_method("ours", lambda data: modularity(*data))
bench.add_method("scipy.sparse", scipy_modularity)
bench.add_method(
    "networkx",
    networkx_modularity,
    skip=lambda case: (
        "graph construction alone takes minutes" if case["n"] > 100_000 else None
    ),
)

if __name__ == "__main__":
    main(bench, CASES, make_data)
