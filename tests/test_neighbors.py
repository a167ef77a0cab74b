"""The kd-tree build, the blocked brute force and the cell search of the kNN
builder."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors

from sklearn_spectral.utils.neighbors import (
    _cells_search,
    _float32_bound_terms,
    _kdtree,
    kneighbors,
)


@pytest.mark.parametrize("n, d", [(1, 3), (100, 2), (2500, 7)])
def test_kdtree_nodes_split_their_rows_at_the_median(n, d):
    X = np.random.RandomState(n).standard_normal((n, d))
    X[: n // 3, 0] = 0.5  # many equal coordinates
    order, start, end, lo, hi, n_levels = _kdtree(X, n_threads=2)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    n_nodes = 2**n_levels - 1
    first_leaf = (n_nodes - 1) // 2
    assert start[0] == 0 and end[0] == n
    sizes = end[first_leaf:] - start[first_leaf:]
    assert sizes.min() >= min(n, 32) and sizes.sum() == n
    Xs = X[order]
    for node in range(n_nodes):
        rows = Xs[start[node]:end[node]]
        np.testing.assert_array_equal(lo[node], rows.min(axis=0))
        np.testing.assert_array_equal(hi[node], rows.max(axis=0))
        if node < first_leaf:
            left, right = 2 * node + 1, 2 * node + 2
            assert end[left] == start[right] == (start[node] + end[node]) // 2
            dim = np.argmax(hi[node] - lo[node])
            assert Xs[start[left]:end[left], dim].max() <= Xs[
                start[right]:end[right], dim].min()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_brute_force_is_exact_far_from_the_origin(dtype):
    # The float32 inner products only bound the distances: far from the
    # origin and at small spreads the bound must still keep every true
    # neighbour, and the distances returned are the exact ones.
    rng = np.random.RandomState(0)
    X = (1e3 + 1e-2 * rng.standard_normal((700, 30))).astype(dtype)
    X[::7] = X[1::7][: X[::7].shape[0]]  # exact duplicates: ties at 0
    dist, ind = kneighbors(X, 9, algorithm="brute", n_threads=2)
    ref = np.sort(cdist(X.astype(np.float64), X.astype(np.float64)), axis=1)[:, :9]
    np.testing.assert_allclose(dist, ref, rtol=1e-9, atol=1e-12)
    direct = np.linalg.norm(X[:, None, :].astype(np.float64) - X[ind], axis=2)
    np.testing.assert_allclose(direct, dist, rtol=1e-12, atol=1e-12)
    dist1, ind1 = kneighbors(X, 9, algorithm="brute", n_threads=1)
    np.testing.assert_array_equal(ind, ind1)
    np.testing.assert_array_equal(dist, dist1)


# --------------------------------------------------------------------------
# Cell-pruned search


def _cells_at(X, k, n_threads=2, cell_size=None, fall_back=False):
    """The cell search at a given cell size, as ``kneighbors`` runs it."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    dist = np.empty((X.shape[0], k))
    ind = np.empty((X.shape[0], k), dtype=np.int64)
    kwargs = {} if cell_size is None else {"cell_size": cell_size}
    found = _cells_search(X, *_float32_bound_terms(X), dist, ind, n_threads,
                          fall_back=fall_back, **kwargs)
    return found, np.sqrt(dist), ind


def _assert_exact(X, dist, ind, k):
    # The distances are the k smallest exact ones, ascending, and each
    # index is a row at its reported distance; without ties the index sets
    # are scikit-learn's.
    X64 = X.astype(np.float64)
    ref = np.sort(cdist(X64, X64), axis=1)[:, :k]
    np.testing.assert_allclose(dist, ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(dist, axis=1) >= 0)
    direct = np.sqrt(((X64[:, None, :] - X64[ind]) ** 2).sum(axis=2))
    np.testing.assert_allclose(direct, dist, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", ["blobs", "uniform"])
def test_cells_equal_nearest_neighbors(seed, kind):
    rng = np.random.RandomState(seed)
    n = int(rng.randint(300, 1500))
    d = int(rng.choice([17, 24, 50, 100]))
    k = int(rng.choice([1, 5, 10]))
    if kind == "blobs":
        X, _ = make_blobs(n, d, centers=int(rng.randint(2, 12)),
                          cluster_std=float(rng.uniform(0.5, 3.0)),
                          random_state=seed)
    else:
        X = rng.uniform(size=(n, d))
    # Cells of 24 to 64 rows: many cells even at these sizes.
    found, dist, ind = _cells_at(X, k, cell_size=int(rng.choice([24, 64])))
    assert found
    _assert_exact(X, dist, ind, k)
    ref = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X, return_distance=False)
    np.testing.assert_array_equal(np.sort(ind, axis=1), np.sort(ref, axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cells_with_duplicates_far_from_the_origin(dtype):
    # Exact copies (ties at 0 and between copies), one cell of many equal
    # rows (searched as several query blocks), coordinates far from the
    # origin at a small spread: every distance is still the exact one, and
    # one and two threads give the same result bit for bit.
    rng = np.random.RandomState(0)
    X = 1e3 + 1e-2 * rng.standard_normal((900, 30))
    X[::7] = X[1::7][: X[::7].shape[0]]
    X[-300:] = X[0]
    X = X.astype(dtype)
    found, dist, ind = _cells_at(X, 9, n_threads=2, cell_size=32)
    assert found
    _assert_exact(X, dist, ind, 9)
    _, dist1, ind1 = _cells_at(X, 9, n_threads=1, cell_size=32)
    np.testing.assert_array_equal(ind, ind1)
    np.testing.assert_array_equal(dist, dist1)


@pytest.mark.parametrize("n, k", [(1, 1), (2, 2), (5, 3), (40, 40), (300, 1),
                                  (300, 300)])
def test_cells_tiny_inputs_and_extreme_k(n, k):
    # Fewer rows than a cell, k = 1 (the row itself) and k = n (all rows).
    X = np.random.RandomState(n).standard_normal((n, 20))
    dist, ind = kneighbors(X, k, algorithm="cells", n_threads=2)
    _assert_exact(X, dist, ind, k)
    if k == 1:
        np.testing.assert_array_equal(ind[:, 0], np.arange(n))
    if k == n:
        np.testing.assert_array_equal(np.sort(ind, axis=1),
                                      np.tile(np.arange(n), (n, 1)))
    _, dist_small, ind_small = _cells_at(X, k, cell_size=8)
    np.testing.assert_array_equal(dist_small, dist)


def test_cells_threads_give_identical_results():
    X, _ = make_blobs(3000, 40, centers=6, cluster_std=2.0, random_state=1)
    X[1000:1200] = X[:200]  # ties between copies
    dist1, ind1 = kneighbors(X, 10, algorithm="cells", n_threads=1)
    dist2, ind2 = kneighbors(X, 10, algorithm="cells", n_threads=2)
    np.testing.assert_array_equal(ind1, ind2)
    np.testing.assert_array_equal(dist1, dist2)
    _assert_exact(X, dist1, ind1, 10)


def test_cells_fall_back_to_brute_force_when_nothing_prunes():
    # Uniform rows in 50 dimensions: the sampled query blocks compute about
    # all their inner products, so "auto" hands over to the brute force; on
    # separated blobs the cells stay.
    U = np.random.RandomState(0).uniform(size=(6000, 50))
    found, _, _ = _cells_at(U, 10, cell_size=256, fall_back=True)
    assert not found
    X, _ = make_blobs(6000, 50, centers=10, cluster_std=2.0, random_state=0)
    found, dist, ind = _cells_at(X, 10, cell_size=256, fall_back=True)
    assert found
    dist_brute, ind_brute = kneighbors(X, 10, algorithm="brute")
    np.testing.assert_array_equal(np.sort(ind, axis=1), np.sort(ind_brute, axis=1))
    np.testing.assert_allclose(dist, dist_brute, rtol=1e-12, atol=0)
    dist_auto, ind_auto = kneighbors(U, 10)
    np.testing.assert_array_equal(ind_auto, kneighbors(U, 10, algorithm="brute")[1])


def test_kdtree_threads_give_identical_results():
    # Thousands of leaves, searched on several threads with work arrays
    # allocated once per thread; ties between copied rows.
    X = np.random.RandomState(5).standard_normal((20000, 3))
    X[5000:5500] = X[:500]
    tree1 = _kdtree(X, n_threads=1)
    for threads in (2, 3):
        tree = _kdtree(X, n_threads=threads)
        for a, b in zip(tree1, tree):
            np.testing.assert_array_equal(a, b)
    dist1, ind1 = kneighbors(X, 8, algorithm="kd_tree", n_threads=1)
    for threads in (2, 3):
        dist, ind = kneighbors(X, 8, algorithm="kd_tree", n_threads=threads)
        np.testing.assert_array_equal(ind, ind1)
        np.testing.assert_array_equal(dist, dist1)
    _assert_exact(X, dist1, ind1, 8)
