"""The kd-tree build and the blocked brute force of the kNN builder."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from sklearn_spectral.utils.neighbors import _kdtree, kneighbors


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
