"""Exact k-nearest-neighbour graphs of feature vectors.

One builder for every estimator that needs a kNN graph. Dense inputs of few
features go to a kd-tree of this package (``_knn_kernels``), built and
searched leaf against leaf on all OpenMP threads. Dense inputs of many
features, where a tree's boxes no longer prune, go to a cell search: the
rows are partitioned into cells of a few hundred rows by a few Lloyd
iterations, and each block of query rows compares itself only with the
cells that the triangle inequality cannot rule out, nearest first. Each
comparison is blocked as in the brute force of this package
(single-precision inner products through BLAS as a lower bound, exact
float64 distances for the rows that pass it), to which the cell search
hands over when a sample of its queries shows that the cells do not prune
(structureless data in many dimensions). Sparse inputs go to scikit-learn's
brute force."""

import numbers

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array

from ._knn_kernels import (
    _PAD,
    _brute_kneighbors,
    _build_kdtree,
    _cells_kneighbors,
    _kdtree_kneighbors,
)
from ._openmp_helpers import _openmp_effective_n_threads
from ._threading import single_threaded_blas
from .validation import message_prefix

__all__ = ["kneighbors", "knn_graph"]

# Up to this many features the kd-tree is used, past it the cell search:
# at 1e5 rows the cells took 0.6-0.8 of the tree's time at 8 features
# (blobs; 1.9x it at 4), 0.3-0.6 at 9 to 12 and 0.1-0.2 at 16 (blobs and
# uniform rows).
KDTREE_MAX_FEATURES = 8
# Rows per leaf of the kd-tree, at least: a query leaf and a candidate leaf
# are compared as small dense blocks, which amortises the walk over them.
LEAF_SIZE = 32
# Rows per cell of the cell search, about: its float32 products are blocks
# of a cell's rows against another cell's. At 1e5 rows, one thread, blobs
# (cluster_std 2): 512 took 0.82-0.91 of 256's time at 5 and 100 centres in
# 50 dimensions and the same at 100 centres in 10; 1024 took 2x 512's at
# 100 centres (cells wider than the clusters).
CELL_SIZE = 512
# Lloyd iterations of the cell partition.
CELL_ITERATIONS = 5
# Query blocks searched first to decide whether the cells pay, and the
# share of all inner products above which they do not. Even at a share of
# about 1 the cells cost only a few percent more than the brute force (their
# nearest-first order fills the heaps early, so fewer rows are re-checked
# in float64), hence a high share.
CELLS_SAMPLE_BLOCKS = 8
CELLS_MAX_FRACTION = 0.9
# Fewer rows go to the brute force under "auto": too few query blocks for
# that check, and a brute force of a few hundredths of a second.
CELLS_MIN_ROWS = CELLS_SAMPLE_BLOCKS * CELL_SIZE


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


def _float32_bound_terms(X):
    """The float32 rows and norms behind the lower bound of the brute force
    and the cell search (see ``_knn_kernels._brute_kneighbors``).

    Returns
    -------
    Xf : (n, d) float32, the rows centred
    shifted : (n,) float64, ``(1 - c) ||Xf_i||^2``
    shiftedf : (n,) float32, ``shifted`` rounded down
    """
    d = X.shape[1]
    # Centred rows in float32 for the inner products: small norms keep the
    # rounding bound tight.
    Xf = np.ascontiguousarray(X - X.mean(axis=0), dtype=np.float32)
    norms = np.einsum("ij,ij->i", Xf, Xf, dtype=np.float64)
    # Relative error of the float32 inner products, of the rounding to
    # float32 and of the float32 test itself, with a factor two to spare.
    c = 2.0 * (d + 16) * np.finfo(np.float32).eps
    shifted = (1.0 - c) * norms
    shiftedf = np.nextafter(shifted.astype(np.float32), np.float32(-np.inf))
    return Xf, shifted, shiftedf


def _cells(X, Xf, cell_size=CELL_SIZE, n_iter=CELL_ITERATIONS):
    """Partition the rows into cells of about ``cell_size`` rows by a few
    Lloyd iterations.

    The centres are fitted on a sample of 16 rows per cell (in float32, the
    distances through BLAS), started from randomly drawn rows
    (``RandomState(0)``, so the cells and the result are reproducible), then
    every row goes to its nearest centre. The partition only steers the
    pruning: any partition gives the same neighbours.

    Returns
    -------
    order : (n,) int64, the rows in cell order
    cell_start : (n_cells + 1,) int64, row range (cell order) of each cell
    centres : (n_cells, d) float64, mean of each cell's rows of ``X``
    radii : (n_cells,) float64, largest distance of a cell's rows to its centre
    """
    n = X.shape[0]
    n_cells = max(1, int(round(n / cell_size)))
    rng = np.random.RandomState(0)
    sample = Xf[rng.choice(n, min(n, 16 * n_cells), replace=False)]
    C = sample[rng.choice(sample.shape[0], n_cells, replace=False)]

    def nearest(rows, C):
        # 2 <x, c> - ||c||^2 is largest for the nearest centre.
        scores = rows @ C.T
        scores *= 2.0
        scores -= np.einsum("ij,ij->i", C, C)
        return np.argmax(scores, axis=1)

    for _ in range(n_iter):
        labels = nearest(sample, C)
        counts = np.bincount(labels, minlength=n_cells)
        filled = counts > 0
        by_cell = np.argsort(labels, kind="stable")
        firsts = np.concatenate([[0], np.cumsum(counts[filled])[:-1]])
        sums = np.add.reduceat(sample[by_cell], firsts, axis=0, dtype=np.float64)
        # Cells left empty keep their centre.
        C[filled] = (sums / counts[filled, None]).astype(np.float32)
    # All rows, in blocks of at most 2^22 scores (16 MiB).
    step = max(256, 2**22 // n_cells)
    labels = np.concatenate([nearest(Xf[s:s + step], C) for s in range(0, n, step)])
    order = np.argsort(labels, kind="stable").astype(np.int64)
    counts = np.bincount(labels, minlength=n_cells)
    counts = counts[counts > 0]
    cell_start = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=cell_start[1:])
    Xs = X[order]
    centres = np.add.reduceat(Xs, cell_start[:-1], axis=0) / counts[:, None]
    offsets = Xs - np.repeat(centres, counts, axis=0)
    radii = np.sqrt(np.maximum.reduceat(
        np.einsum("ij,ij->i", offsets, offsets), cell_start[:-1]))
    return order, cell_start, centres, radii


def _cells_search(X, Xf, shifted, shiftedf, dist, ind, n_threads, *,
                  fall_back=True, cell_size=CELL_SIZE):
    """The cell-pruned search (``_knn_kernels._cells_kneighbors``) into
    ``dist`` (squared) and ``ind``, in the original row order.

    With ``fall_back``, a sample of the query blocks is searched first and
    when they computed more than ``CELLS_MAX_FRACTION`` of all their
    (query, candidate) inner products, the search stops and returns False
    (the caller runs the brute force): structureless data in many
    dimensions prunes nothing, and the cells only add their cost.
    """
    n, d = X.shape
    order, cell_start, centres, radii = _cells(X, Xf, cell_size)
    # Query blocks: each cell cut into pieces of at most cell_size rows.
    sizes = np.diff(cell_start)
    pieces = -(-sizes // cell_size)
    block_cell = np.repeat(np.arange(sizes.size, dtype=np.int64), pieces)
    within = np.arange(block_cell.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    block_start = (cell_start[block_cell]
                   + (sizes[block_cell] * within) // pieces[block_cell])
    block_end = (cell_start[block_cell]
                 + (sizes[block_cell] * (within + 1)) // pieces[block_cell])
    # Absolute allowance for the rounding of the float64 bounds: far above
    # the error of sums of d squared differences of such coordinates.
    slack = 1e-9 * np.sqrt(d) * max(float(np.max(np.abs(X))), 1e-300)
    Xs = np.ascontiguousarray(X[order])
    Xfs = np.ascontiguousarray(Xf[order])
    shifted_s = shifted[order]
    shiftedf_s = shiftedf[order]
    dist_s = np.empty_like(dist)
    ind_s = np.empty_like(ind)
    n_blocks = block_cell.size
    blocks = np.arange(n_blocks, dtype=np.int64)
    args = (Xs, Xfs, shifted_s, shiftedf_s, cell_start, centres, radii,
            block_cell, block_start, block_end)
    # Each thread runs its own sgemm calls.
    with single_threaded_blas():
        if fall_back and n_blocks > CELLS_SAMPLE_BLOCKS:
            sample = np.unique(np.linspace(0, n_blocks - 1, CELLS_SAMPLE_BLOCKS)
                               .astype(np.int64))
            pairs = _cells_kneighbors(*args, sample, slack, dist_s, ind_s, n_threads)
            rows = int(np.sum(block_end[sample] - block_start[sample]))
            if pairs > CELLS_MAX_FRACTION * rows * n:
                return False
            blocks = np.setdiff1d(blocks, sample)
        _cells_kneighbors(*args, blocks, slack, dist_s, ind_s, n_threads)
    dist[order] = dist_s
    ind[order] = order[ind_s]
    return True


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
    algorithm : {"auto", "kd_tree", "cells", "brute"}, default="auto"
        "auto" uses the kd-tree for dense input of at most
        ``KDTREE_MAX_FEATURES`` (8) features, where its boxes prune most
        candidates, and the cell search for more (from ``CELLS_MIN_ROWS``,
        4096, rows; the blocked brute force below), which skips the cells
        that cannot hold a neighbour (all but a cluster's own on clustered
        data) and hands over to the blocked brute force when a sample of
        its queries prunes less than a tenth of the candidates (scikit-
        learn's brute force for sparse input). "cells" runs the cell search
        without that check (dense input only), "brute" the blocked brute
        force.

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
    fall_back = algorithm == "auto"
    if algorithm == "auto":
        if sparse.issparse(X):
            algorithm = "brute"
        elif d <= KDTREE_MAX_FEATURES:
            algorithm = "kd_tree"
        elif n < CELLS_MIN_ROWS:
            algorithm = "brute"
        else:
            algorithm = "cells"
    if algorithm not in ("kd_tree", "cells", "brute"):
        raise ValueError(
            "algorithm must be 'auto', 'kd_tree', 'cells' or 'brute', got "
            f"{algorithm!r}."
        )
    if algorithm != "brute" and sparse.issparse(X):
        raise ValueError(f"algorithm={algorithm!r} needs dense input.")
    n_threads = _openmp_effective_n_threads(n_threads)
    if algorithm == "brute" and sparse.issparse(X):
        # scikit-learn's brute force (sparse distance blocks, per-row
        # selection) reads its OpenMP thread count itself.
        nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(X)
        distances, indices = nn.kneighbors(X)
        return distances.astype(np.float64, copy=False), indices.astype(np.int64)
    dist = np.empty((n, n_neighbors))
    ind = np.empty((n, n_neighbors), dtype=np.int64)
    if algorithm in ("brute", "cells"):
        X = np.ascontiguousarray(X, dtype=np.float64)
        Xf, shifted, shiftedf = _float32_bound_terms(X)
        if algorithm == "cells":
            found = _cells_search(X, Xf, shifted, shiftedf, dist, ind, n_threads,
                                  fall_back=fall_back)
            if found:
                return np.sqrt(dist), ind
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
