"""Bootstrap AMG internals: matching, aggregation, Galerkin, V-cycles."""

import networkx as nx
import numpy as np
import pytest
from scipy import sparse

from sklearn_spectral.cluster import _amg_setup as setup
from sklearn_spectral.cluster._amg_cycle import SMOOTHERS, _CompositeSolver
from sklearn_spectral.cluster._amg_hierarchy import _pair_aggregate, _restrict
from sklearn_spectral.cluster._amg_matching import _suitor_matching
from sklearn_spectral.utils.graph import _canonical_csr

from ._amg_helpers import (
    aggregation_level,
    apply_vcycle,
    composite_solve,
    cycle,
    energy,
    prolongator_matrix,
    relax_on_zero,
)
from ._amg_helpers import laplacian64 as _laplacian
from ._amg_helpers import pinned as _pinned
from ._amg_helpers import random_graph as _random_graph


def _check_matching(A, match, h):
    n = A.shape[0]
    A = sparse.csr_matrix(A)
    assert match.shape == (n,)
    for i in range(n):
        j = match[i]
        if j >= 0:
            assert j != i and match[j] == i
            assert A[i, j] != 0
    # Maximal: no edge with both ends free.
    coo = sparse.triu(A, k=1).tocoo()
    free = match < 0
    both_free = free[coo.row] & free[coo.col] & (coo.data != 0)
    assert not both_free.any()


def _weight_dict(A, h):
    indptr, indices = A.indptr, A.indices
    out = {}
    for i in range(A.shape[0]):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if h[e] > 0:
                out[(min(i, j), max(i, j))] = h[e]
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weighted", [True, False])
def test_matching_valid_maximal_half_optimal(seed, weighted):
    A = _random_graph(40, 0.12, seed, weighted)
    L = _pinned(A)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, L.shape[0]) if seed % 2 else np.ones(L.shape[0])
    perm = rng.permutation(L.shape[0])
    m_suitor, h = setup.matching(L, w, perm, "suitor")
    m_preis, h2 = setup.matching(L, w, perm, "preis")
    np.testing.assert_array_equal(m_suitor, m_preis)
    np.testing.assert_array_equal(h, h2)
    _check_matching(L, m_suitor, h)
    weights = _weight_dict(L, h)
    G = nx.Graph()
    for (i, j), value in weights.items():
        G.add_edge(i, j, weight=value)
    optimum = nx.max_weight_matching(G)
    opt = sum(weights[(min(i, j), max(i, j))] for i, j in optimum)
    ours = sum(weights[(i, j)] for i, j in enumerate(m_suitor) if j > i)
    assert ours >= 0.5 * opt - 1e-12


def test_matching_locally_dominant_and_ties():
    # A path with all-equal weights: the tie-break permutation decides.
    n = 12
    A = sparse.diags_array([np.ones(n - 1), np.ones(n - 1)], offsets=[-1, 1]).tocsr()
    L = _laplacian(A)
    L = _canonical_csr(L + sparse.diags_array(np.r_[1.0, np.zeros(n - 2), 1.0]))
    w = np.ones(n)
    results = set()
    for seed in range(8):
        perm = np.random.default_rng(seed).permutation(n)
        a, h = setup.matching(L, w, perm, "suitor")
        b, _ = setup.matching(L, w, perm, "preis")
        np.testing.assert_array_equal(a, b)
        _check_matching(L, a, h)
        c = _suitor_matching(L.indptr, L.indices, h, perm.astype(np.int64), 2)
        np.testing.assert_array_equal(a, c)
        results.add(tuple(a))
    assert len(results) > 1


def test_compatible_weights_formula():
    A = _random_graph(15, 0.3, 3)
    L = _pinned(A)
    w = np.random.default_rng(0).uniform(0.5, 1.5, 15)
    _, h = setup.matching(L, w, np.arange(15))
    d = L.diagonal()
    for i in range(15):
        for e in range(L.indptr[i], L.indptr[i + 1]):
            j = L.indices[e]
            if j == i:
                assert h[e] == -1
                continue
            denom = d[i] * w[i] ** 2 + d[j] * w[j] ** 2
            expected = 1 - 2 * L.data[e] * w[i] * w[j] / denom
            assert h[e] == pytest.approx(expected, rel=1e-14)
            assert 1.0 <= h[e] <= 2.0 + 1e-12  # Laplacian, w > 0


def test_compatible_weights_thread_count_invariant():
    from sklearn_spectral.cluster._amg_matching import _compatible_weights

    L = _pinned(_random_graph(3000, 8.0 / 3000, 5))
    w = np.random.default_rng(5).uniform(-1, 1, 3000)
    args = (L.indptr, L.indices, L.data, w)
    serial = _compatible_weights(*args, 1)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(_compatible_weights(*args, n_threads), serial)
    assert np.all((serial == -1) == (L.indices == np.repeat(np.arange(3000),
                                                             np.diff(L.indptr))))


def _check_prolongator(agg, p, nc, w):
    P = prolongator_matrix(agg, p, nc)
    # One non-zero per row at most, zero rows exactly where w = 0.
    nnz_rows = np.diff(P.indptr)
    assert nnz_rows.max() <= 1
    np.testing.assert_array_equal(nnz_rows == 0, w == 0)
    np.testing.assert_allclose((P.T @ P).toarray(), np.eye(nc), atol=1e-14)
    np.testing.assert_allclose(P @ (P.T @ w), w, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(P @ _restrict(agg, p, w, nc), w, rtol=1e-13, atol=1e-15)
    assert np.bincount(agg[p != 0], minlength=nc).min() >= 1
    return P


@pytest.mark.parametrize("seed", range(4))
def test_prolongator_properties(seed):
    A = _random_graph(120, 0.04, seed)
    L = _pinned(A)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, 120)
    w[rng.choice(120, 10, replace=False)] = 0.0
    perm = rng.permutation(120)
    agg, p, nc, sweeps = aggregation_level(L, w, perm, "suitor")
    (agg1, p1, n1), (agg2, p2, n2) = sweeps
    _check_prolongator(agg1, p1, n1, w)
    w1 = _restrict(agg1, p1, w, n1)
    _check_prolongator(agg2, p2, n2, w1)
    _check_prolongator(agg, p, nc, w)
    # At most 4 vertices per aggregate.
    assert np.bincount(agg[p != 0], minlength=nc).max() <= 4
    assert nc < 120


def test_pair_aggregate_zero_pair():
    match = np.array([1, 0, 3, 2, -1, -1], dtype=np.int64)
    w = np.array([0.0, 0.0, 3.0, 4.0, -2.0, 0.0])
    agg, p, nc = _pair_aggregate(match, w)
    assert nc == 2
    np.testing.assert_allclose(p, [0, 0, 0.6, 0.8, -1.0, 0])
    np.testing.assert_array_equal(agg, [0, 0, 0, 0, 1, 0])


@pytest.mark.parametrize("seed", range(20))
def test_coarse_perm_ranks_smallest_member_key(seed):
    # Reference: rank of each aggregate's smallest member key by a stable
    # double argsort; members with p = 0 do not count, empty aggregates last.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    nc = int(rng.integers(1, n + 1))
    agg = rng.integers(0, nc, n)
    p = rng.uniform(-1, 1, n)
    p[rng.random(n) < 0.2] = 0.0
    perm = rng.permutation(n)
    keys = np.full(nc, np.iinfo(np.int64).max)
    keep = p != 0
    np.minimum.at(keys, agg[keep], perm[keep])
    expected = np.argsort(np.argsort(keys, kind="stable"), kind="stable")
    np.testing.assert_array_equal(setup._coarse_perm(perm, agg, p, nc), expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pin", [True, False])
def test_galerkin_matches_scipy(seed, pin):
    A = _random_graph(150, 0.03, seed)
    L = _pinned(A) if pin else _laplacian(A)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, 150)
    agg, p, nc, _ = aggregation_level(L, w, rng.permutation(150))
    P = prolongator_matrix(agg, p, nc)
    Ac = setup.galerkin(L, agg, p, nc)
    expected = (P.T @ L @ P).toarray()
    np.testing.assert_allclose(Ac.toarray(), expected, rtol=1e-12, atol=1e-12)
    dense = Ac.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    # No duplicate columns; the lower part of each row ascends.
    for row in range(nc):
        cols = Ac.indices[Ac.indptr[row]:Ac.indptr[row + 1]]
        assert np.unique(cols).size == cols.size
        assert np.all(np.diff(cols[cols < row]) > 0)
    assert not Ac.has_sorted_indices
    eig = np.linalg.eigvalsh(dense)
    scale = np.abs(eig).max()
    assert eig.min() >= -1e-12 * scale
    if pin:
        assert eig.min() > 0


def test_galerkin_threads_bitwise_equal():
    # Above _PARALLEL_MIN_COARSE coarse rows, blocks of rows are built and
    # mirrored in a prange: the thread count must not change a bit.
    A = _random_graph(40000, 8.0 / 40000, 4)
    L = _pinned(A)
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 1.5, L.shape[0])
    match, _ = setup.matching(L, w, rng.permutation(L.shape[0]))
    agg, p, nc = _pair_aggregate(match, w)
    assert nc >= 10000
    serial = setup.galerkin(L, agg, p, nc, n_threads=1)
    for n_threads in (2, 3, 7):
        threaded = setup.galerkin(L, agg, p, nc, n_threads=n_threads)
        for attr in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(serial, attr),
                                          getattr(threaded, attr))
    P = prolongator_matrix(agg, p, nc)
    expected = (P.T @ L @ P).tocsr()
    assert abs(threaded - expected).max() <= 1e-12 * abs(expected).max()
    assert (threaded != threaded.T).nnz == 0


@pytest.mark.parametrize("pin", [False, True])
def test_galerkin_quotient_laplacian_w1(pin):
    A = _random_graph(200, 0.03, 7, weighted=True)
    n = 200
    if pin:
        L, pinned = setup.pinned_laplacian(A, np.zeros(n, dtype=np.int64))
    else:
        L = _laplacian(A)
    w = np.ones(n)
    rng = np.random.default_rng(1)
    levels = setup.build_hierarchy(L, w, rng.permutation(n), max_coarse=5)
    assert len(levels) >= 2
    v = w
    for level, coarse in zip(levels[:-1], levels[1:]):
        v = _restrict(level.agg, level.p, v, level.n_coarse)
        Ac = coarse.A
        Q = sparse.diags_array(v) @ Ac @ sparse.diags_array(v)
        Q = Q.toarray()
        off = Q - np.diag(np.diag(Q))
        assert np.all(off <= 1e-12)
        rows = Q.sum(axis=1)
        if not pin:
            np.testing.assert_allclose(rows, 0, atol=1e-10 * np.abs(Q).max())
        else:
            # Zero row sums everywhere except at the pinned vertex's aggregate.
            assert np.sum(np.abs(rows) > 1e-10 * np.abs(Q).max()) == 1


@pytest.mark.parametrize("random_w", [False, True])
def test_matching_dense_coarse_levels(random_w):
    # Dense coarse operators of an expander-like graph: rows of hundreds of
    # candidates and vertices displaced many times (Suitor's candidate cache
    # and rescans). With w = 1 on the pattern, weights tie and the
    # permutation decides. Suitor must still give Preis's unique matching.
    A = _random_graph(3000, 10.0 / 3000, 3, weighted=not random_w)
    L = _pinned(A)
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.5, L.shape[0]) if random_w else np.ones(L.shape[0])
    perm = rng.permutation(L.shape[0])
    row_lengths = []
    for _ in range(4):  # four levels down: mean row length grows to ~50
        a, h = setup.matching(L, w, perm, "suitor")
        b, _ = setup.matching(L, w, perm, "preis")
        np.testing.assert_array_equal(a, b)
        _check_matching(L, a, h)
        # The parallel Suitor (locks, proposals in any order) gives the same
        # unique matching on any number of threads.
        for n_threads in (1, 2, 4):
            np.testing.assert_array_equal(
                _suitor_matching(L.indptr, L.indices, h, perm.astype(np.int64),
                                 n_threads), a)
        row_lengths.append(L.nnz / L.shape[0])
        agg, p, nc, L, w, perm, _ = setup._two_sweeps(L, w, perm, "suitor")
    assert max(row_lengths) > 40


@pytest.mark.parametrize("unit_w", [True, False])
def test_driver_parallel_matching_equals_preis(unit_w):
    # Above PARALLEL_MATCHING_MIN vertices the driver runs the parallel
    # Suitor on n_threads > 1: same matching as Preis's sequential one.
    n = setup.PARALLEL_MATCHING_MIN + 2000
    A = _random_graph(n, 8.0 / n, 11, weighted=not unit_w)
    L = _pinned(A)
    rng = np.random.default_rng(1)
    w = np.ones(n) if unit_w else rng.uniform(0.5, 1.5, n)
    perm = rng.permutation(n)
    preis, _ = setup.matching(L, w, perm, "preis")
    for n_threads in (1, 2):
        suitor, h = setup.matching(L, w, perm, "suitor", n_threads=n_threads)
        np.testing.assert_array_equal(suitor, preis)
    _check_matching(L, suitor, h)


def test_merged_levels_bound_operator_complexity():
    # merge_ratio: a level keeps pairing while its operator holds more than
    # that share of the fine non-zeros. The composed prolongator is still
    # one entry per row with P^T P = I, and the coarse operator is P^T A P.
    A = _random_graph(4000, 10.0 / 4000, 5)
    L = _pinned(A)
    n = L.shape[0]
    w = np.random.default_rng(1).uniform(0.5, 1.5, n)
    plain = setup.build_hierarchy(L, w, np.arange(n))
    merged = setup.build_hierarchy(L, w, np.arange(n), merge_ratio=0.5)
    for levels in (plain, merged):
        for fine, coarse in zip(levels, levels[1:]):
            P = prolongator_matrix(fine.agg, fine.p, fine.n_coarse)
            np.testing.assert_allclose((P.T @ P).toarray(), np.eye(fine.n_coarse),
                                       atol=1e-12)
            expected = (P.T @ fine.A @ P).toarray()
            np.testing.assert_allclose(coarse.A.toarray(), expected,
                                       atol=1e-12 * abs(expected).max())
    for fine, coarse in zip(merged[:-2], merged[1:-1]):
        assert coarse.A.nnz <= 0.5 * fine.A.nnz
    complexity = [sum(lv.A.nnz for lv in levels) / L.nnz for levels in (plain, merged)]
    assert complexity[1] < 1.6 < complexity[0]


@pytest.mark.parametrize("graph", ["star", "fringe"])
def test_singletons_folded_at_stalls(graph):
    # A star pairs one leaf per sweep; leaves hanging off a random core lose
    # their only neighbour to heavier partners at every sweep. Without
    # folding both would stall far above max_coarse.
    rng = np.random.default_rng(0)
    if graph == "star":
        n = 400
        A = sparse.csr_matrix(
            (np.ones(n - 1), (np.zeros(n - 1, int), np.arange(1, n))), shape=(n, n)
        )
    else:
        core = _random_graph(600, 0.05, 2)
        n = 600 + 1200
        leaves = np.arange(600, n)
        anchors = rng.integers(0, 600, leaves.shape[0])
        A = sparse.block_diag([core, sparse.csr_matrix((1200, 1200))]).tocsr()
        A = A + sparse.csr_matrix((np.ones(1200), (anchors, leaves)), shape=(n, n))
    A = (A + A.T).tocsr()
    L = _pinned(A)
    w = rng.uniform(0.5, 1.5, n)
    levels = setup.build_hierarchy(L, w, rng.permutation(n), max_coarse=10)
    assert levels[-1].A.shape[0] <= 10
    v = w
    for fine, coarse in zip(levels, levels[1:]):
        P = prolongator_matrix(fine.agg, fine.p, fine.n_coarse)
        np.testing.assert_allclose((P.T @ P).toarray(), np.eye(fine.n_coarse),
                                   atol=1e-12)
        np.testing.assert_allclose(P @ (P.T @ v), v, rtol=1e-12, atol=1e-12)
        expected = (P.T @ fine.A @ P).toarray()
        np.testing.assert_allclose(coarse.A.toarray(), expected,
                                   atol=1e-12 * abs(expected).max())
        v = P.T @ v


def test_build_hierarchy_levels_shrink():
    A = _random_graph(500, 0.01, 11)
    L = _pinned(A)
    levels = setup.build_hierarchy(L, np.ones(500), np.arange(500), max_coarse=10)
    sizes = [lvl.A.shape[0] for lvl in levels]
    assert sizes[0] == 500
    assert all(b < a for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] <= 1000


# --- V-cycles and the bootstrap ---------------------------------------------


def _connected_graph(n, seed):
    A = _random_graph(n, 8.0 / n, seed)
    # A ring keeps it connected.
    ring = sparse.diags_array(
        [np.full(n - 1, 0.5), np.full(n - 1, 0.5)], offsets=[-1, 1]
    ).tocsr()
    ring = ring + sparse.csr_matrix(
        ([0.5, 0.5], ([0, n - 1], [n - 1, 0])), shape=(n, n)
    )
    return (A + ring).tocsr()


@pytest.mark.parametrize("smoother", ["gauss_seidel", "l1_jacobi"])
@pytest.mark.parametrize("direct", [True, False])
def test_vcycle_symmetric(smoother, direct):
    n = 400
    L = _pinned(_connected_graph(n, 0))
    rng = np.random.default_rng(0)
    # direct=False relaxes the coarsest level instead of solving it.
    levels, hierarchy = cycle(L, np.ones(n), rng.permutation(n), direct)
    assert len(levels) >= 3
    u = rng.standard_normal(n)
    v = rng.standard_normal(n)
    Bu = apply_vcycle(hierarchy, u, smoother)
    Bv = apply_vcycle(hierarchy, v, smoother)
    assert v @ Bu == pytest.approx(u @ Bv, rel=1e-10)
    # Positive definite on random vectors.
    assert u @ Bu > 0 and v @ Bv > 0


@pytest.mark.parametrize("smoother", ["gauss_seidel", "l1_jacobi"])
@pytest.mark.parametrize("direct", [True, False])
def test_composite_solve_threads_match_one_vector_cycles(smoother, direct):
    # Right-hand sides on several threads (copies of the hierarchies' work
    # vectors) must give, bit for bit, what one-vector composite iterations
    # give on one thread. n is above the kernels' parallel threshold.
    n = 25000
    L = _pinned(_connected_graph(n, 3))
    rng = np.random.default_rng(3)
    hierarchies = [
        cycle(L, rng.uniform(0.5, 1.5, n), rng.permutation(n), direct)[1]
        for _ in range(2)
    ]
    B = np.ascontiguousarray(rng.standard_normal((5, n)))
    # Reference: every right-hand side alone, on one thread.
    expected = np.vstack([composite_solve(hierarchies, B[c:c + 1], smoother)
                          for c in range(B.shape[0])])
    # The composite of two V-cycles from zero: B2 (b - A B1 b) + B1 b.
    first = composite_solve(hierarchies[:1], B, smoother)
    L_B1 = (L @ first.T).T
    second = composite_solve(hierarchies[1:], B - L_B1, smoother)
    np.testing.assert_allclose(expected, first + second, rtol=1e-9,
                               atol=1e-12 * np.abs(expected).max())
    for n_threads in (1, 2, 3, 8):
        X = composite_solve(hierarchies, B, smoother, n_threads)
        np.testing.assert_array_equal(X, expected)
    # A solver keeps its thread copies and pool across calls of any width.
    solver = _CompositeSolver(hierarchies, SMOOTHERS[smoother], 3)
    try:
        for rows in (slice(0, 5), slice(1, 3), slice(4, 5), slice(0, 5)):
            X = solver.solve(np.ascontiguousarray(B[rows]))
            np.testing.assert_array_equal(X, expected[rows])
    finally:
        solver.close()


@pytest.mark.parametrize("smoother", ["gauss_seidel", "l1_jacobi"])
def test_vcycle_contracts(smoother):
    n = 600
    L = _pinned(_connected_graph(n, 1))
    rng = np.random.default_rng(1)
    levels = setup.build_hierarchy(L, np.ones(n), rng.permutation(n))
    hierarchy, _ = setup.cycle_levels(levels)
    x = rng.uniform(-1, 1, n)
    for _ in range(10):
        x_prev = x.copy()
        rho = relax_on_zero(hierarchy, x, smoother)
        # A V-cycle on L x = 0 from x is the linear step x - B L x, B the
        # V-cycle from zero; the kernel rescales it to unit energy.
        step = x_prev - apply_vcycle(hierarchy, L @ x_prev, smoother)
        np.testing.assert_allclose(x, step / energy(L, step), rtol=1e-8,
                                   atol=1e-10)
        assert rho == pytest.approx(energy(L, step) / energy(L, x_prev), rel=1e-8)
        assert rho < 1.0


@pytest.mark.parametrize("smoother", ["gauss_seidel", "l1_jacobi"])
@pytest.mark.parametrize("matching", ["suitor", "preis"])
def test_bootstrap_counts_and_rho(smoother, matching):
    n = 300
    L = _pinned(_connected_graph(n, 2))
    H, t = 4, 5
    W, info = setup.bootstrap(
        L, np.random.RandomState(0), max_hierarchies=H, convergence_ratio=1e-12,
        test_iterations=t, smoother=smoother, matching=matching,
    )
    assert info["n_hierarchies"] == H
    assert info["n_vcycles"] == t * H * (H + 1) // 2
    assert W.shape == (n, H + 1)
    assert 0 < info["rho"] < 1
    # Unit energy of the smooth vectors.
    for k in range(1, H + 1):
        assert energy(L, W[:, k]) == pytest.approx(1.0)


def test_bootstrap_matching_methods_agree():
    n = 300
    L = _pinned(_connected_graph(n, 3))
    kw = dict(max_hierarchies=3, test_iterations=4)
    W1, _ = setup.bootstrap(L, np.random.RandomState(5), matching="suitor", **kw)
    W2, _ = setup.bootstrap(L, np.random.RandomState(5), matching="preis", **kw)
    np.testing.assert_array_equal(W1, W2)


def test_bootstrap_stops_early():
    n = 300
    L = _pinned(_connected_graph(n, 4))
    W, info = setup.bootstrap(
        L, np.random.RandomState(0), max_hierarchies=30, convergence_ratio=0.5,
        test_iterations=5,
    )
    assert info["n_hierarchies"] < 30
    assert info["rho"] <= 0.5
