"""Helpers for the test suite and the benchmarks (not public API)."""

import numpy as np
from scipy import sparse


def random_weighted_graph(n, density, seed, *, self_loops=False):
    """Symmetric non-negative random CSR graph with uniform(0, 2) weights."""
    rng = np.random.default_rng(seed)
    A = sparse.random_array(
        (n, n), density=density, format="coo", rng=rng, dtype=np.float64
    )
    A = sparse.csr_matrix(A + A.T)
    if not self_loops:
        A.setdiag(0.0)
        A.eliminate_zeros()
    A.sort_indices()
    return A
