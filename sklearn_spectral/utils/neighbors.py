"""Exact k-nearest-neighbour graphs of feature vectors.

One builder for every estimator that needs a kNN graph. Dense inputs of few
features go to a kd-tree of this package (``_knn_kernels``), built and
searched leaf against leaf on all OpenMP threads; dense inputs of many
features, where a tree no longer prunes, to a blocked brute force of this
package (single-precision inner products through BLAS as a lower bound,
exact float64 distances for the rows that pass it); sparse inputs to
scikit-learn's brute force.
"""

import numbers

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array

from ._knn_kernels import _PAD, _brute_kneighbors, _build_kdtree, _kdtree_kneighbors
from ._openmp_helpers import _openmp_effective_n_threads
from ._threading import single_threaded_blas
from .validation import message_prefix

__all__ = ["kneighbors", "knn_graph"]

# Up to this many features the kd-tree is used. Past it the boxes of a
# tree over 1e5 rows that fill their dimensions prune too little and the
# brute force through BLAS wins.
KDTREE_MAX_FEATURES = 16
# Rows per leaf of the kd-tree, at least: a query leaf and a candidate leaf
# are compared as small dense blocks, which amortises the walk over them.
LEAF_SIZE = 32


def _kdtree(X, n_threads, leaf_size=LEAF_SIZE):
    """A balanced kd-tree over the rows of ``X``, split at the median of the
    widest coordinate (built by ``_knn_kernels._build_kdtree``).

    Returns
    -------
    order : (n,) int64, the rows of ``X`` in tree order
    start, end : (n_nodes,) int64, row range (in tree order) of each node
    lo, hi : (n_nodes, d) float64, bounding box of each node
    n_levels : int
    """
    n, d = X.shape
    # Leaves hold from leaf_size to 2 leaf_size rows (all of them if fewer).
    n_levels = int(np.log2(max(1.0, (n - 1) / leaf_size))) + 1
    n_nodes = 2**n_levels - 1
    order = np.arange(n, dtype=np.int64)
    start = np.zeros(n_nodes, dtype=np.int64)
    end = np.zeros(n_nodes, dtype=np.int64)
    lo = np.empty((n_nodes, d))
    hi = np.empty((n_nodes, d))
    _build_kdtree(X, order, start, end, lo, hi, n_levels, n_threads)
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
        candidates, and the blocked brute force otherwise (scikit-learn's
        for sparse input).

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
    if algorithm not in ("kd_tree", "brute"):
        raise ValueError(
            f"algorithm must be 'auto', 'kd_tree' or 'brute', got {algorithm!r}."
        )
    n_threads = _openmp_effective_n_threads(n_threads)
    if algorithm == "brute" and sparse.issparse(X):
        # scikit-learn's brute force (sparse distance blocks, per-row
        # selection) reads its OpenMP thread count itself.
        nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(X)
        distances, indices = nn.kneighbors(X)
        return distances.astype(np.float64, copy=False), indices.astype(np.int64)
    dist = np.empty((n, n_neighbors))
    ind = np.empty((n, n_neighbors), dtype=np.int64)
    if algorithm == "brute":
        X = np.ascontiguousarray(X, dtype=np.float64)
        # Centred rows in float32 for the inner products: small norms keep
        # the rounding bound tight.
        Xf = np.ascontiguousarray(X - X.mean(axis=0), dtype=np.float32)
        norms = np.einsum("ij,ij->i", Xf, Xf, dtype=np.float64)
        # Relative error of the float32 inner products, of the rounding to
        # float32 and of the float32 test itself, with a factor two to spare.
        c = 2.0 * (d + 16) * np.finfo(np.float32).eps
        shifted = (1.0 - c) * norms
        shiftedf = np.nextafter(shifted.astype(np.float32), np.float32(-np.inf))
        # Each thread runs its own sgemm calls.
        with single_threaded_blas():
            _brute_kneighbors(X, Xf, shifted, shiftedf, dist, ind, n_threads)
        return np.sqrt(dist), ind
    X = np.ascontiguousarray(X)
    order, start, end, lo, hi, n_levels = _kdtree(X, n_threads)
    # Tree order, transposed: the search reads a leaf coordinate by
    # coordinate, eight candidates at a time (hence the padding).
    XT = np.zeros((d, n + _PAD))
    XT[:, :n] = X[order].T
    _kdtree_kneighbors(XT, start, end, lo, hi, n_levels, dist, ind, n_threads)
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
