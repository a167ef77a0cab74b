"""Helpers of the bootstrap AMG tests: graphs, prolongators, single V-cycles."""

import numpy as np
from scipy import sparse

from sklearn_spectral.cluster import _amg_setup as setup
from sklearn_spectral.cluster._amg_cycle import (
    SMOOTHERS,
    _bootstrap_step,
    _CompositeSolver,
    _Level,
)
from sklearn_spectral.utils.graph import _canonical_csr, connected_components


def random_graph(n, p, seed, weighted=True):
    """Symmetric random graph without self-loops, sorted CSR."""
    rng = np.random.default_rng(seed)
    A = sparse.random(n, n, density=p, random_state=rng, format="csr")
    if not weighted:
        A.data[:] = 1.0
    A = sparse.triu(A, k=1)
    A = (A + A.T).tocsr()
    A.sort_indices()
    return A


def laplacian64(A):
    """``diag(A 1) - A`` in the form the AMG kernels read."""
    return _canonical_csr(sparse.diags_array(np.asarray(A.sum(axis=1)).ravel()) - A)


def pinned(A):
    """The pinned Laplacian of ``A``, pinned per connected component."""
    _, labels = connected_components(A)
    return setup.pinned_laplacian(A, labels)[0]


def prolongator_matrix(agg, p, n_coarse):
    """The one-entry-per-row prolongator ``(agg, p)`` as a CSR matrix."""
    n = agg.shape[0]
    keep = p != 0
    return sparse.csr_matrix(
        (p[keep], (np.arange(n)[keep], agg[keep])), shape=(n, n_coarse)
    )


def aggregation_level(A, w, perm, method="suitor"):
    """One coarsening level (two sweeps): ``agg, p, n_coarse, sweeps``."""
    agg, p, nc, _, _, _, sweeps = setup._two_sweeps(A, w, perm, method)
    return agg, p, nc, sweeps


def cycle(L, w, perm, direct):
    """Hierarchy of ``L`` for ``w`` as V-cycle levels; the coarsest level
    solved exactly (``direct``) or relaxed by Gauss-Seidel sweeps."""
    levels = setup.build_hierarchy(L, w, perm, max_coarse=10)
    out, is_direct = setup.cycle_levels(levels)
    assert is_direct
    if not direct:
        A = levels[-1].A
        out[-1] = _Level(A.indptr, A.indices, A.data)
    return levels, out


def composite_solve(hierarchies, B, smoother, n_threads=1):
    """One composite iteration from zero per row of ``B``."""
    solver = _CompositeSolver(hierarchies, SMOOTHERS[smoother], n_threads)
    try:
        return solver.solve(np.ascontiguousarray(B))
    finally:
        solver.close()


def apply_vcycle(levels, b, smoother):
    """One V-cycle of ``levels`` on ``A x = b`` from ``x = 0``."""
    return composite_solve([levels], b[None, :], smoother)[0]


def relax_on_zero(levels, x, smoother):
    """One V-cycle on ``A x = 0`` from ``x`` (in place, rescaled to unit
    energy); returns the energy ratio of the step."""
    rho, _, _ = _bootstrap_step([levels], x, 1, SMOOTHERS[smoother], 1)
    return rho


def energy(L, x):
    """``sqrt(x^T L x)``."""
    return float(np.sqrt(x @ (L @ x)))
