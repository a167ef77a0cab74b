"""Exact k-nearest-neighbour graphs of feature vectors.

One builder for every estimator that needs a kNN graph. Dense inputs of few
features go to a kd-tree of this package (``_knn_kernels``), searched leaf
against leaf on all OpenMP threads; many features, or sparse input, go to
scikit-learn's brute-force search (blocked distance computations through
BLAS, itself multithreaded), where a tree no longer prunes.
"""

import numbers

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array

from ._knn_kernels import _kdtree_kneighbors
from ._openmp_helpers import _openmp_effective_n_threads
from .validation import message_prefix

__all__ = ["kneighbors", "knn_graph"]

# Up to this many features the kd-tree is used. Past it the boxes of a
# tree over n <= 1e6 rows prune too little and brute force through BLAS wins.
KDTREE_MAX_FEATURES = 16
# Rows per leaf of the kd-tree, at most: a query leaf and a candidate leaf
# are compared as small dense blocks, which amortises the walk over them.
LEAF_SIZE = 32


def _build_kdtree(X, leaf_size=LEAF_SIZE):
    """A balanced kd-tree over the rows of ``X``, split at the median of the
    widest coordinate.

    Returns
    -------
    order : (n,) int64, the rows of ``X`` in tree order
    start, end : (n_nodes,) int64, row range (in tree order) of each node
    lo, hi : (n_nodes, d) float64, bounding box of each node
    n_levels : int
    """
    n, d = X.shape
    n_levels = int(np.log2(max(1.0, (n - 1) / leaf_size))) + 1
    n_nodes = 2**n_levels - 1
    first_leaf = (n_nodes - 1) // 2
    start = np.zeros(n_nodes, dtype=np.int64)
    end = np.zeros(n_nodes, dtype=np.int64)
    end[0] = n
    order = np.arange(n, dtype=np.int64)
    for node in range(first_leaf):
        s, e = start[node], end[node]
        rows = order[s:e]
        points = X[rows]
        dim = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        mid = (s + e) // 2
        part = np.argpartition(points[:, dim], mid - s)
        order[s:e] = rows[part]
        left, right = 2 * node + 1, 2 * node + 2
        start[left], end[left] = s, mid
        start[right], end[right] = mid, e
    Xs = X[order]
    lo = np.empty((n_nodes, d))
    hi = np.empty((n_nodes, d))
    leaf_starts = start[first_leaf:]
    # Leaves hold at least one row (n_levels keeps them at leaf_size / 2 or
    # more), so reduceat sees no empty range.
    lo[first_leaf:] = np.minimum.reduceat(Xs, leaf_starts, axis=0)
    hi[first_leaf:] = np.maximum.reduceat(Xs, leaf_starts, axis=0)
    for node in range(first_leaf - 1, -1, -1):
        lo[node] = np.minimum(lo[2 * node + 1], lo[2 * node + 2])
        hi[node] = np.maximum(hi[2 * node + 1], hi[2 * node + 2])
    return order, start, end, lo, hi, n_levels


def kneighbors(X, n_neighbors, *, n_threads=None, algorithm="auto"):
    """The ``n_neighbors`` nearest rows of every row of ``X``, itself included.

    Exact Euclidean neighbours: the result of
    ``NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(X)`` up to
    the order of equidistant rows.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        float64 or float32 (kept; distances are accumulated in float64).
    n_neighbors : int
        Neighbours per row, the row itself counted, at most ``n_samples``.
    n_threads : int, default=None
        OpenMP threads; None uses the current limit (see
        ``threadpoolctl``).
    algorithm : {"auto", "kd_tree", "brute"}, default="auto"
        "auto" uses the kd-tree for dense input of at most
        ``KDTREE_MAX_FEATURES`` (16) features, where its boxes prune most
        candidates, and scikit-learn's blocked brute force otherwise.

    Returns
    -------
    distances : ndarray of shape (n_samples, n_neighbors), float64
        Ascending per row.
    indices : ndarray of shape (n_samples, n_neighbors), int64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.neighbors import kneighbors
    >>> X = np.array([[0.0], [0.1], [5.0], [5.3]])
    >>> dist, ind = kneighbors(X, 2)
    >>> ind
    array([[0, 1],
           [1, 0],
           [2, 3],
           [3, 2]])
    """
    n, d = X.shape
    if algorithm == "auto":
        algorithm = (
            "kd_tree"
            if not sparse.issparse(X) and d <= KDTREE_MAX_FEATURES
            else "brute"
        )
    if algorithm == "brute":
        # scikit-learn's brute force (pairwise distance blocks through BLAS,
        # per-row selection) reads its OpenMP thread count itself.
        nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(X)
        distances, indices = nn.kneighbors(X)
        return distances.astype(np.float64, copy=False), indices.astype(np.int64)
    if algorithm != "kd_tree":
        raise ValueError(
            f"algorithm must be 'auto', 'kd_tree' or 'brute', got {algorithm!r}."
        )
    X = np.ascontiguousarray(X)
    order, start, end, lo, hi, n_levels = _build_kdtree(X)
    Xs = np.ascontiguousarray(X[order])
    dist = np.empty((n, n_neighbors))
    ind = np.empty((n, n_neighbors), dtype=np.int64)
    _kdtree_kneighbors(Xs, start, end, lo, hi, n_levels, dist, ind,
                       _openmp_effective_n_threads(n_threads))
    distances = np.empty_like(dist)
    indices = np.empty_like(ind)
    distances[order] = np.sqrt(dist)
    indices[order] = order[ind]
    return distances, indices


def knn_graph(X, n_neighbors, *, mode="connectivity", n_threads=None,
              estimator_name=None):
    """The directed k-nearest-neighbour graph of ``X``, each row its own neighbour.

    The graph of ``sklearn.neighbors.kneighbors_graph(X, n_neighbors,
    mode=mode, include_self=True)`` up to ties, built by :func:`kneighbors`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Feature vectors; float32 is kept.
    n_neighbors : int
        Neighbours per row, itself included, at most ``n_samples``.
    mode : {"connectivity", "distance"}, default="connectivity"
        Entries 1, or the Euclidean distances (the row itself stored as an
        explicit 0).
    n_threads : int, default=None
        OpenMP threads; None uses the current limit.
    estimator_name : str, default=None
        Name put in front of error messages.

    Returns
    -------
    G : sparse CSR matrix of shape (n_samples, n_samples)
        float64, ``n_neighbors`` entries per row, sorted column indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.neighbors import knn_graph
    >>> X = np.array([[0.0], [0.1], [5.0], [5.3]])
    >>> knn_graph(X, 2).toarray()
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 1., 1.],
           [0., 0., 1., 1.]])
    """
    pre = message_prefix(estimator_name)
    X = check_array(X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
    n = X.shape[0]
    if (
        not isinstance(n_neighbors, numbers.Integral)
        or isinstance(n_neighbors, bool)
        or n_neighbors < 1
    ):
        raise ValueError(
            f"{pre}n_neighbors must be a positive integer, got {n_neighbors!r}."
        )
    if n_neighbors > n:
        raise ValueError(
            f"{pre}n_neighbors={n_neighbors} must be at most n_samples={n} "
            "(each point counts as its own neighbour)."
        )
    if mode not in ("connectivity", "distance"):
        raise ValueError(
            f"{pre}mode must be 'connectivity' or 'distance', got {mode!r}."
        )
    distances, indices = kneighbors(X, int(n_neighbors), n_threads=n_threads)
    # Rows sorted by column index, as scipy's canonical CSR.
    perm = np.argsort(indices, axis=1, kind="stable")
    indices = np.take_along_axis(indices, perm, axis=1)
    data = (np.ones(indices.size) if mode == "connectivity"
            else np.take_along_axis(distances, perm, axis=1).ravel())
    indptr = np.arange(0, indices.size + 1, n_neighbors, dtype=np.int64)
    G = sparse.csr_matrix((data, indices.ravel(), indptr), shape=(n, n))
    G.has_sorted_indices = True
    return G
