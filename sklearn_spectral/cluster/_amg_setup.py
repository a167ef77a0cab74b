"""Setup phase of bootstrap AMG: Laplacian pinning, matching, hierarchies.

Private drivers around the Cython kernels in ``_amg_matching`` and
``_amg_hierarchy``. Every sparse matrix here is in the form of
``sklearn_spectral.utils.graph._canonical_csr`` (CSR, float64 values, int64
indices), except that coarse operators keep their rows unsorted; the kernels
read their arrays as they are.
"""

import numpy as np
from scipy import sparse

from ..utils.graph import _canonical_csr, laplacian
from ._amg_hierarchy import _coarse_perm as _coarse_perm_kernel
from ._amg_hierarchy import _compose, _galerkin, _pair_aggregate, _restrict
from ._amg_matching import _compatible_weights, _preis_matching, _suitor_matching

# A hierarchy has at most this many levels (the reference code's limit).
MAX_LEVELS = 39
# A level whose sweeps shrink it by at most this factor has stalled.
STALL_RATIO = 1.2
# Suitor runs on several threads from this many vertices on (the same
# matching; below it the thread team costs more than it saves).
PARALLEL_MATCHING_MIN = 10_000


def _wrap_csr(data, indices, indptr, shape):
    """A CSR matrix on the kernel's output arrays as they are (no copy).

    The constructor would check the contents and downcast the int64 indices.
    """
    A = sparse.csr_matrix(shape, dtype=np.float64)
    A.data, A.indices, A.indptr = data, indices, indptr
    return A


def pinned_laplacian(graph, component_labels, *, weighted=True):
    """Laplacian regularised per connected component.

    ``weighted=True``: ``L = diag(A 1) - A``, the
    :func:`~sklearn_spectral.utils.graph.laplacian` of ``graph``;
    ``weighted=False``: the same for the 0/1 pattern of ``A`` (edge weights
    discarded, as in the reference code). Diagonal of ``A`` ignored. In each
    component the vertex with the largest diagonal (lowest index among ties)
    gets its diagonal doubled; an isolated vertex gets the mean positive
    diagonal (1 if there is none).

    Returns
    -------
    L : CSR matrix (int64 indices, sorted rows), SPD
    pinned : ndarray of int64, the pinned vertex of each component
    """
    A = _canonical_csr(graph, drop_diagonal=True)
    if not weighted:
        A = A.copy()
        A.data[:] = 1.0
    n = A.shape[0]
    L, degree = laplacian(A, return_diag=True)
    labels = np.asarray(component_labels, dtype=np.int64)
    # Largest degree per component, lowest index among ties.
    order = np.lexsort((np.arange(n), -degree, labels))
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    pinned = order[first]
    positive = degree[degree > 0]
    fill = float(positive.mean()) if positive.size else 1.0
    shift = np.zeros(n)
    shift[pinned] = degree[pinned]
    shift[pinned[degree[pinned] == 0]] = fill
    L = _canonical_csr(L + sparse.diags_array(shift, format="csr"))
    return L, pinned.astype(np.int64)


def matching(A, w, perm, method="suitor", n_threads=1):
    """Locally dominant matching of ``A`` under the compatible weights of ``w``.

    Parameters
    ----------
    A : CSR matrix (symmetric, int64 indices)
    w : ndarray of shape (n,)
    perm : ndarray of shape (n,), int64 permutation (tie-break keys)
    method : {"suitor", "preis"}
    n_threads : int
        Threads of the weights and of the parallel Suitor (from
        ``PARALLEL_MATCHING_MIN`` vertices on); the matching does not
        depend on it.

    Returns
    -------
    match : ndarray of int64, partner or -1
    h : ndarray of the edge weights (per stored entry; -1 for non-edges)
    """
    indptr, indices, data = A.indptr, A.indices, A.data
    w = np.ascontiguousarray(w, dtype=np.float64)
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    threads = n_threads if A.shape[0] >= PARALLEL_MATCHING_MIN else 1
    h = _compatible_weights(indptr, indices, data, w, threads)
    if method == "suitor":
        match = _suitor_matching(indptr, indices, h, perm, threads)
    elif method == "preis":
        n = A.shape[0]
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        a = perm[rows]
        b = perm[indices]
        key = np.minimum(a, b) * n + np.maximum(a, b)
        order = np.lexsort((-key, -h, rows)).astype(np.int64)
        match = _preis_matching(indptr, indices, h, order)
    else:
        raise ValueError(f"matching must be 'suitor' or 'preis', got {method!r}.")
    return match, h


def galerkin(A, agg, p, n_coarse, n_threads=1):
    """``P^T A P`` for the one-non-zero-per-row prolongator ``(agg, p)``.

    Exactly symmetric, without duplicates, rows not sorted.
    """
    cptr, cind, cval = _galerkin(
        A.indptr,
        A.indices,
        A.data,
        np.ascontiguousarray(agg, dtype=np.int64),
        np.ascontiguousarray(p, dtype=np.float64),
        int(n_coarse),
        int(n_threads),
    )
    Ac = _wrap_csr(cval, cind, cptr, (n_coarse, n_coarse))
    Ac.has_sorted_indices = False
    return Ac


def _sweep(A, w, perm, method, n_threads=1):
    """One matching sweep: prolongator, coarse operator, vector and keys."""
    match, _ = matching(A, w, perm, method, n_threads)
    agg, p, nc = _pair_aggregate(match, w)
    return (agg, p, nc, galerkin(A, agg, p, nc, n_threads), _restrict(agg, p, w, nc),
            _coarse_perm(perm, agg, p, nc))


def _two_sweeps(A, w, perm, method, n_threads=1):
    """Two sweeps composed: ``(agg, p, n_coarse, A_c, w_c, perm_c, sweeps)``."""
    agg1, p1, n1, A1, w1, perm1 = _sweep(A, w, perm, method, n_threads)
    agg2, p2, n2, A2, w2, perm2 = _sweep(A1, w1, perm1, method, n_threads)
    agg, p = _compose(agg1, p1, agg2, p2)
    return agg, p, n2, A2, w2, perm2, [(agg1, p1, n1), (agg2, p2, n2)]


def _coarse_perm(perm, agg, p, n_coarse):
    """Tie-break keys of coarse vertices: the rank of their smallest member key."""
    return _coarse_perm_kernel(np.ascontiguousarray(perm, dtype=np.int64),
                               np.ascontiguousarray(agg, dtype=np.int64),
                               np.ascontiguousarray(p, dtype=np.float64), int(n_coarse))


def _fold_singletons(A_c, agg, p, w, n_coarse):
    """Fold the level's one-vertex aggregates into a neighbouring aggregate.

    Fringe vertices (degree one or two) lose their only neighbours to
    heavier partners at every sweep and survive to the coarsest level as
    singletons, hanging off a dense core; stars do the same around a hub.
    Each coarse vertex with a single member joins the aggregate of larger
    size it is most strongly coupled to in ``A_c`` (lowest index among
    ties); singletons without such a neighbour stay. Columns stay
    ``w`` restricted to the aggregate over its norm, so ``P^T P = I`` and
    ``P P^T w = w`` still hold.

    Returns
    -------
    agg, p, n_coarse : the folded prolongator (a copy)
    """
    members = np.bincount(agg[p != 0], minlength=n_coarse)
    single = members == 1
    if not single.any():
        return agg, p, n_coarse
    C = _canonical_csr(A_c, drop_diagonal=True)
    C = sparse.csr_matrix(C.multiply(~single[None, :]))  # targets: larger ones
    C.eliminate_zeros()
    C = C.tocoo()
    strength = np.abs(C.data)
    order = np.lexsort((C.col, -strength, C.row))
    rows, cols = C.row[order], C.col[order]
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    target = np.arange(n_coarse)
    chosen = first & single[rows]
    target[rows[chosen]] = cols[chosen]
    # Renumber the surviving coarse vertices in order.
    keep = target == np.arange(n_coarse)
    new_index = np.cumsum(keep) - 1
    agg = new_index[target[agg]].astype(np.int64)
    n_coarse = int(keep.sum())
    nonzero = p != 0
    norms = np.sqrt(np.bincount(agg[nonzero], weights=w[nonzero] ** 2,
                                minlength=n_coarse))
    p = np.where(nonzero, w / np.where(nonzero, norms[agg], 1.0), 0.0)
    return agg, p, n_coarse


class Level:
    """One level of a hierarchy: operator ``A`` and prolongator to the next."""

    __slots__ = ("A", "agg", "p", "n_coarse")

    def __init__(self, A, agg=None, p=None, n_coarse=0):
        self.A = A
        self.agg = agg
        self.p = p
        self.n_coarse = n_coarse


def build_hierarchy(A, w, perm, *, method="suitor", max_coarse=10,
                    merge_ratio=None, n_threads=1):
    """Levels from the fine operator ``A`` down to the coarsest.

    Coarsening stops at ``max_coarse`` unknowns or ``MAX_LEVELS`` levels.
    A level whose sweeps shrink the size by at most ``STALL_RATIO`` (hubs
    and fringes the matching cannot pair) has its singletons folded into
    neighbouring aggregates (``_fold_singletons``); if it still stalls,
    coarsening stops once the size is at most ``max(100 * max_coarse,
    _DIRECT_MAX)`` (the largest coarsest level solved exactly), and at a
    second such stall whatever the size.

    Returns
    -------
    levels : list of Level; the last one has no prolongator.
    """
    from ._amg_cycle import _DIRECT_MAX

    levels = []
    target = max_coarse
    stalled = False
    while True:
        n = A.shape[0]
        if n <= target or len(levels) + 1 >= MAX_LEVELS:
            break
        agg, p, nc, A_next, w_next, perm_next, _ = _two_sweeps(
            A, w, perm, method, n_threads)
        if nc == 0 or nc >= n:
            break
        # Expander-like graphs: the coarse operator keeps most of the
        # non-zeros (rows shrink 4x, row lengths grow ~3x). Merge the next
        # pair of sweeps into this level instead of storing it.
        while (merge_ratio is not None and A_next.nnz > merge_ratio * A.nnz
               and nc > target):
            agg2, p2, nc2, A2, w2, perm2, _ = _two_sweeps(
                A_next, w_next, perm_next, method, n_threads)
            if nc2 == 0 or nc2 >= nc:
                break
            agg, p = _compose(agg, p, agg2, p2)
            nc, A_next, w_next, perm_next = nc2, A2, w2, perm2
        if n / nc <= STALL_RATIO:
            # Stalled on singletons (fringes, hubs): fold them in.
            agg, p, nc = _fold_singletons(A_next, agg, p, w, nc)
            A_next = galerkin(A, agg, p, nc, n_threads)
            w_next = _restrict(agg, p, w, nc)
            perm_next = _coarse_perm(perm, agg, p, nc)
        levels.append(Level(A, agg, p, nc))
        A, w, perm = A_next, w_next, perm_next
        if n / nc <= STALL_RATIO:
            if stalled:
                break  # a second stall: more levels would shrink by ones
            # The code's rule raises the target to 100 * max_coarse; a level
            # the coarse solve factors exactly is as good a place to stop.
            stalled = True
            target = max(100 * max_coarse, _DIRECT_MAX)
    levels.append(Level(A))
    return levels


def cycle_levels(levels):
    """The hierarchy as the ``_Level`` objects the V-cycle kernels run on.

    The coarsest level gets a dense Cholesky factor when it has at most
    ``_DIRECT_MAX`` unknowns (it is SPD for a pinned operator).

    Returns
    -------
    cycle : list of _Level
    direct : bool, whether the coarsest level is solved exactly
    """
    from scipy.linalg import LinAlgError, cho_factor

    from ._amg_cycle import _DIRECT_MAX, _Level

    out = [
        _Level(level.A.indptr, level.A.indices, level.A.data, level.agg, level.p,
               level.n_coarse)
        for level in levels[:-1]
    ]
    A = levels[-1].A
    chol = None
    if A.shape[0] <= _DIRECT_MAX:
        try:
            chol, _ = cho_factor(A.toarray(), lower=True, check_finite=False)
        except LinAlgError:
            chol = None
    out.append(_Level(A.indptr, A.indices, A.data, chol=chol))
    return out, chol is not None


def bootstrap(L, random_state, *, max_hierarchies, convergence_ratio=1e-6,
              test_iterations=15, smoother="gauss_seidel", matching="suitor",
              max_coarse=10, merge_ratio=None, n_threads=1, log=None):
    """Bootstrap AMG on the pinned operator ``L``: smooth vectors and solver.

    ``L`` is in the canonical form of ``_canonical_csr``. ``random_state`` is
    a ``numpy.random.RandomState``; the tie-break permutation is drawn first,
    then one random start per hierarchy. ``log``, if given, is called with a
    line about every hierarchy.

    Returns
    -------
    W : ndarray of shape (n, n_vectors), the smooth vectors (``w_0 = 1``)
    info : dict with ``n_hierarchies``, ``rho``, ``n_vcycles``,
        ``operator_complexity`` (per hierarchy, the stored entries of all its
        levels over those of ``L``), ``hierarchies`` (the cycle levels),
        ``setup_time``, ``solve_time``, ``direct`` and ``midpoints`` (n,
        n_vectors - 1): each smooth vector's test iterate halfway through
        its test iterations (after ``test_iterations - test_iterations // 2``
        of them), which holds more of the faster-decaying smooth modes than
        the last one.
    """
    import time

    from ._amg_cycle import SMOOTHERS, _bootstrap_step

    n = L.shape[0]
    perm = random_state.permutation(n).astype(np.int64)
    w = np.ones(n)
    W = [w]
    midpoints = []
    half = test_iterations // 2
    hierarchies = []
    complexities = []
    rho = np.inf
    n_vcycles = 0
    setup_time = solve_time = 0.0
    all_direct = True
    code = SMOOTHERS[smoother]
    nnz = L.nnz
    while rho > convergence_ratio and len(hierarchies) < max_hierarchies:
        tic = time.perf_counter()
        levels = build_hierarchy(L, w, perm, method=matching, max_coarse=max_coarse,
                                 merge_ratio=merge_ratio, n_threads=n_threads)
        cycle, direct = cycle_levels(levels)
        all_direct = all_direct and direct
        hierarchies.append(cycle)
        toc = time.perf_counter()
        setup_time += toc - tic
        x = random_state.uniform(-1.0, 1.0, n)
        rho, energy, count = _bootstrap_step(hierarchies, x, test_iterations - half,
                                             code, n_threads)
        midpoint = x.copy()
        if half and energy > 0.0:
            # The same iteration continued (iterates are rescaled to unit
            # energy, so the ratio is that of the uninterrupted run).
            rho, energy, more = _bootstrap_step(hierarchies, x, half, code, n_threads)
            count += more
        solve_time += time.perf_counter() - toc
        n_vcycles += count
        complexity = sum(level.A.nnz for level in levels) / max(nnz, 1)
        complexities.append(complexity)
        if log is not None:
            log(
                f"hierarchy {len(hierarchies)}: "
                f"{len(levels)} levels, coarsest {levels[-1].A.shape[0]}, "
                f"operator complexity {complexity:.2f}, rho {rho:.3g}, "
                f"setup {toc - tic:.3f}s, test iterations "
                f"{time.perf_counter() - toc:.3f}s"
            )
        if not energy > 0.0:
            break
        w = x  # unit energy norm (rescaled by _bootstrap_step)
        W.append(w)
        midpoints.append(midpoint)
    return np.column_stack(W), {
        "midpoints": np.column_stack(midpoints) if midpoints else np.zeros((n, 0)),
        "n_hierarchies": len(hierarchies),
        "rho": float(rho),
        "n_vcycles": n_vcycles,
        "operator_complexity": np.asarray(complexities),
        "hierarchies": hierarchies,
        "setup_time": setup_time,
        "solve_time": solve_time,
        "direct": all_direct,
    }
