"""Graph helpers shared by the graph-based estimators.

Affinities from features, checks of precomputed affinities, connected
components, Laplacians and the modularity of a labelling. Sparse graphs are
CSR matrices of float64 throughout.
"""

import numbers
import warnings

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.utils.validation import check_array

from ._graph_kernels import _csr_matmat, _modularity_partial_sums
from ._openmp_helpers import _openmp_effective_n_threads
from .neighbors import knn_graph
from .validation import message_prefix

# Below this many stored entries the modularity sums run on one thread.
_MIN_NNZ_PER_THREAD = 100_000

__all__ = [
    "affinity_from_distances",
    "affinity_from_features",
    "check_affinity",
    "connected_components",
    "csr_matmat",
    "laplacian",
    "modularity",
]


def _canonical_csr(A, *, drop_diagonal=False):
    """``A`` as the CSR matrix the compiled graph kernels read.

    float64 values, int64 ``indptr`` and ``indices`` (scipy would downcast
    indices that fit into int32, and every kernel call would copy them
    back), duplicates summed, rows sorted and no explicitly stored zeros;
    with ``drop_diagonal=True`` the diagonal is removed too. An input already
    in this form is returned as it is; otherwise the input is not modified.
    """
    A = sparse.csr_matrix(A, dtype=np.float64)
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    drop = A.data == 0
    if drop_diagonal:
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        drop |= rows == A.indices
    if drop.any():
        A = A.copy()
        A.data[drop] = 0.0
        A.eliminate_zeros()
    if A.indptr.dtype == A.indices.dtype == np.int64:
        return A
    out = sparse.csr_matrix(A.shape, dtype=np.float64)
    # Assigned, not passed to the constructor, which would downcast them.
    out.data = A.data
    out.indices = A.indices.astype(np.int64)
    out.indptr = A.indptr.astype(np.int64)
    out.has_canonical_format = True
    return out


def affinity_from_features(
    X,
    affinity="nearest_neighbors",
    *,
    n_neighbors=10,
    gamma=1.0,
    n_jobs=None,
    estimator_name=None,
):
    """Build a symmetric affinity matrix from feature vectors.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Feature vectors, one row per vertex.
    affinity : {"nearest_neighbors", "rbf"}, default="nearest_neighbors"
        ``"nearest_neighbors"``: the 0/1 k-nearest-neighbour connectivity
        ``K`` (each point counted among its own neighbours, as in
        :class:`sklearn.cluster.SpectralClustering`), symmetrised as
        ``(K + K.T) / 2``, so an edge found from one side only weighs 0.5.
        ``"rbf"``: the dense complete graph ``exp(-gamma * ||x_i - x_j||^2)``,
        which needs O(n_samples^2) memory.
    n_neighbors : int, default=10
        Neighbours per point for ``"nearest_neighbors"``.
    gamma : float, default=1.0
        Kernel coefficient for ``"rbf"``.
    n_jobs : int, default=None
        Threads of the neighbour search
        (:func:`sklearn_spectral.utils.neighbors.knn_graph`, exact); None
        uses the current OpenMP limit.
    estimator_name : str, default=None
        Name put in front of error messages.

    Returns
    -------
    A : sparse CSR matrix or ndarray of shape (n_samples, n_samples)
        CSR (float64) for ``"nearest_neighbors"``, a dense float64 array for
        ``"rbf"``. Symmetric, non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.graph import affinity_from_features
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> A = affinity_from_features(X, n_neighbors=2)
    >>> A.toarray()
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 1., 1.],
           [0., 0., 1., 1.]])
    """
    pre = message_prefix(estimator_name)
    X = check_array(X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
    if affinity == "nearest_neighbors":
        # knn_graph checks n_neighbors against the rows, under the same prefix
        connectivity = knn_graph(
            X, n_neighbors, n_threads=n_jobs, estimator_name=estimator_name
        )
        A = 0.5 * (connectivity + connectivity.T)
        A = sparse.csr_matrix(A, dtype=np.float64)
        A.sum_duplicates()
        A.sort_indices()
        return A
    if affinity == "rbf":
        if not isinstance(gamma, numbers.Real) or not gamma > 0:
            raise ValueError(
                f"{pre}gamma must be a positive number, got {gamma!r}."
            )
        return rbf_kernel(X, gamma=gamma).astype(np.float64, copy=False)
    raise ValueError(
        f"{pre}affinity must be 'nearest_neighbors' or 'rbf', got {affinity!r}."
    )


def affinity_from_distances(
    distances, *, n_neighbors=10, n_jobs=None, estimator_name=None
):
    """Symmetric k-nearest-neighbour affinity from a precomputed distance graph.

    As :class:`sklearn.cluster.SpectralClustering` with
    ``affinity="precomputed_nearest_neighbors"``: the ``n_neighbors``
    nearest entries of each row of ``distances`` (a sparse graph of
    distances such as :class:`sklearn.neighbors.KNeighborsTransformer`
    writes, self included at distance 0, or a dense distance matrix) give
    a 0/1 connectivity ``K``, symmetrised as ``(K + K.T) / 2``.

    Parameters
    ----------
    distances : {array-like, sparse matrix} of shape (n_samples, n_samples)
        Distances; in a sparse matrix, entries not stored are infinitely
        far, and each row needs at least ``n_neighbors`` stored entries.
    n_neighbors : int, default=10
        Neighbours per row; a graph with more stored entries per row is
        filtered down to the nearest ``n_neighbors``.
    n_jobs : int, default=None
        Parallel jobs of the neighbour search
        (:class:`sklearn.neighbors.NearestNeighbors`); None means 1 unless
        in a joblib context.
    estimator_name : str, default=None
        Name put in front of error messages.

    Returns
    -------
    A : sparse CSR matrix of shape (n_samples, n_samples)
        float64, symmetric, entries 1 and 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsTransformer
    >>> from sklearn_spectral.utils.graph import affinity_from_distances
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> D = KNeighborsTransformer(n_neighbors=1).fit_transform(X)
    >>> affinity_from_distances(D, n_neighbors=2).toarray()
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 1., 1.],
           [0., 0., 1., 1.]])
    """
    from sklearn.neighbors import NearestNeighbors

    pre = message_prefix(estimator_name)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
        raise ValueError(
            f"{pre}a precomputed distance graph must be square "
            f"(n_samples, n_samples), got shape {distances.shape}."
        )
    try:
        nn = NearestNeighbors(
            n_neighbors=n_neighbors, metric="precomputed", n_jobs=n_jobs
        ).fit(distances)
        connectivity = nn.kneighbors_graph(X=distances, mode="connectivity")
    except ValueError as exc:
        raise ValueError(f"{pre}precomputed distance graph: {exc}") from exc
    A = sparse.csr_matrix(0.5 * (connectivity + connectivity.T), dtype=np.float64)
    A.sum_duplicates()
    A.sort_indices()
    return A


def _first_sparse_entry(A_coo, mask):
    k = int(np.flatnonzero(mask)[0])
    return int(A_coo.row[k]), int(A_coo.col[k]), A_coo.data[k]


def check_affinity(
    affinity,
    *,
    estimator_name=None,
    symmetric="raise",
    accept_dense=True,
    ensure_min_samples=1,
):
    """Check a precomputed affinity matrix and return it in canonical form.

    The matrix must be square, finite, non-negative and symmetric. Each failed
    condition raises a ``ValueError`` that names the condition and the first
    offending entry.

    Parameters
    ----------
    affinity : {array-like, sparse matrix} of shape (n_samples, n_samples)
        The affinity (weighted adjacency) matrix. Any scipy sparse format is
        accepted; the input is never modified.
    estimator_name : str, default=None
        Name put in front of error messages.
    symmetric : {"raise", "warn"}, default="raise"
        What to do with an asymmetric matrix: raise, or warn and use
        ``(A + A.T) / 2``. Symmetry is checked to a relative tolerance of
        1e-10 of the largest absolute entry.
    accept_dense : bool, default=True
        If True a dense input is returned as a dense float64 array; if False it
        is converted to CSR.
    ensure_min_samples : int, default=1
        Minimum number of vertices.

    Returns
    -------
    A : sparse CSR matrix or ndarray of shape (n_samples, n_samples)
        float64; CSR with summed duplicates and sorted indices for sparse
        input.

    Raises
    ------
    ValueError
        If the matrix is not square, has NaN or infinite entries, negative
        entries, is asymmetric (with ``symmetric="raise"``) or has too few
        rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.graph import check_affinity
    >>> check_affinity(np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[0., 1.],
           [1., 0.]])
    >>> check_affinity(np.array([[0.0, 1.0], [0.0, 0.0]]))
    Traceback (most recent call last):
    ...
    ValueError: affinity must be symmetric: A[0, 1] = 1 but A[1, 0] = 0 ...
    """
    pre = message_prefix(estimator_name)
    if symmetric not in ("raise", "warn"):
        raise ValueError(
            f"{pre}symmetric must be 'raise' or 'warn', got {symmetric!r}."
        )

    is_sparse = sparse.issparse(affinity)
    if is_sparse:
        A = sparse.csr_matrix(affinity, dtype=np.float64, copy=True)
        A.sum_duplicates()
        A.sort_indices()
    else:
        A = np.asarray(affinity)
        if A.dtype == object or not (
            np.issubdtype(A.dtype, np.number) or A.dtype == bool
        ):
            raise ValueError(
                f"{pre}affinity must be a numeric matrix, got dtype {A.dtype}."
            )
        A = np.array(A, dtype=np.float64, copy=True)

    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(
            f"{pre}affinity must be a square (n_samples, n_samples) matrix, "
            f"got shape {A.shape}."
        )
    n = A.shape[0]
    if n < ensure_min_samples:
        raise ValueError(
            f"{pre}affinity has {n} vertices; at least {ensure_min_samples} "
            "are required."
        )

    values = A.data if is_sparse else A.ravel()
    bad = ~np.isfinite(values)
    if bad.any():
        if is_sparse:
            i, j, v = _first_sparse_entry(A.tocoo(), bad)
        else:
            i, j = divmod(int(np.flatnonzero(bad)[0]), n)
            v = A[i, j]
        raise ValueError(
            f"{pre}affinity must be finite: A[{i}, {j}] = {v} "
            f"({int(bad.sum())} non-finite entries in all)."
        )
    negative = values < 0
    if negative.any():
        if is_sparse:
            i, j, v = _first_sparse_entry(A.tocoo(), negative)
        else:
            i, j = divmod(int(np.flatnonzero(negative)[0]), n)
            v = A[i, j]
        raise ValueError(
            f"{pre}affinity must be non-negative: A[{i}, {j}] = {v:g} "
            f"({int(negative.sum())} negative entries in all)."
        )

    scale = float(values.max()) if values.size else 0.0
    diff = (A - A.T)
    if is_sparse:
        diff = sparse.csr_matrix(diff)
        diff.eliminate_zeros()
        worst = np.abs(diff.data).max() if diff.nnz else 0.0
    else:
        worst = np.abs(diff).max() if diff.size else 0.0
    if worst > 1e-10 * scale:
        if is_sparse:
            coo = diff.tocoo()
            k = int(np.argmax(np.abs(coo.data)))
            i, j = int(coo.row[k]), int(coo.col[k])
        else:
            i, j = divmod(int(np.argmax(np.abs(diff))), n)
        a_ij, a_ji = A[i, j], A[j, i]
        if symmetric == "raise":
            raise ValueError(
                f"{pre}affinity must be symmetric: A[{i}, {j}] = {a_ij:g} but "
                f"A[{j}, {i}] = {a_ji:g} (largest difference of "
                f"{worst:g} against a largest entry of {scale:g})."
            )
        warnings.warn(
            f"{pre}affinity is not symmetric (A[{i}, {j}] = {a_ij:g}, "
            f"A[{j}, {i}] = {a_ji:g}); using (A + A.T) / 2.",
            UserWarning,
        )
        A = 0.5 * (A + A.T)
        if is_sparse:
            A = sparse.csr_matrix(A)
            A.sort_indices()

    if not is_sparse and not accept_dense:
        A = sparse.csr_matrix(A)
    return A


def connected_components(affinity):
    """Connected components of an undirected graph.

    Parameters
    ----------
    affinity : {array-like, sparse matrix} of shape (n_samples, n_samples)
        Symmetric affinity matrix; an edge is any non-zero entry (explicitly
        stored zeros are not edges).

    Returns
    -------
    n_components : int
        Number of connected components (isolated vertices count as one each).
    labels : ndarray of shape (n_samples,), dtype int64
        Component of each vertex, numbered 0 .. n_components - 1 in order of
        each component's lowest vertex.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.graph import connected_components
    >>> A = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    >>> connected_components(A)
    (2, array([0, 0, 1]))
    """
    # csgraph counts explicitly stored zeros as edges: the canonical form
    # has none.
    n_components, labels = csgraph.connected_components(
        _canonical_csr(affinity), directed=False, return_labels=True
    )
    return int(n_components), labels.astype(np.int64, copy=False)


def laplacian(affinity, *, normed=False, return_diag=False):
    """Combinatorial or symmetric normalised graph Laplacian.

    Self-loops (diagonal entries of the affinity) are ignored: they do not
    change a cut, so they do not appear in either Laplacian.

    Parameters
    ----------
    affinity : {array-like, sparse matrix} of shape (n_samples, n_samples)
        Symmetric non-negative affinity matrix (check it first with
        :func:`check_affinity`).
    normed : bool, default=False
        False: ``L = D - A`` with ``D = diag(A 1)``. True:
        ``I - D^{-1/2} A D^{-1/2}``; rows and columns of isolated vertices are
        zero.
    return_diag : bool, default=False
        Also return the vertex degrees ``A 1`` (without self-loops).

    Returns
    -------
    L : sparse CSR matrix or ndarray of shape (n_samples, n_samples)
        Sparse for sparse input (sorted rows, int64 indices), dense for dense
        input; float64.
    degree : ndarray of shape (n_samples,)
        Only with ``return_diag=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.graph import laplacian
    >>> A = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> laplacian(A)
    array([[ 2., -2.],
           [-2.,  2.]])
    """
    is_sparse = sparse.issparse(affinity)
    if is_sparse:
        A = _canonical_csr(affinity, drop_diagonal=True)
    else:
        A = np.array(affinity, dtype=np.float64, copy=True)
        np.fill_diagonal(A, 0.0)
    degree = np.asarray(A.sum(axis=1)).ravel()
    n = A.shape[0]
    if normed:
        isolated = degree == 0
        inv_sqrt = np.zeros(n)
        inv_sqrt[~isolated] = 1.0 / np.sqrt(degree[~isolated])
        if is_sparse:
            scale = sparse.diags_array(inv_sqrt, format="csr")
            L = sparse.diags_array((~isolated).astype(np.float64), format="csr") - (
                scale @ A @ scale
            )
        else:
            L = np.diag((~isolated).astype(np.float64)) - (
                inv_sqrt[:, None] * A * inv_sqrt[None, :]
            )
    else:
        if is_sparse:
            L = sparse.diags_array(degree, format="csr") - A
        else:
            L = np.diag(degree) - A
    if is_sparse:
        L = _canonical_csr(L)
    if return_diag:
        return L, degree
    return L


def modularity(affinity, labels, *, resolution=1.0, n_threads=None):
    """Newman-Girvan modularity of a labelling of a weighted graph.

    ``Q = sum_c [ in_c / W - resolution * (vol_c / W)^2 ]`` where ``W`` is the
    sum of all entries of the affinity, ``in_c`` the sum of the entries whose
    two ends lie in cluster ``c`` (each undirected edge counted from both
    ends) and ``vol_c`` the sum of the row sums of the vertices in ``c``.
    A diagonal entry counts once, as stored. On a graph without self-loops
    this equals :func:`networkx.community.modularity`.

    The sums run in a compiled OpenMP kernel over fixed blocks of rows, added
    in a fixed order: the value does not depend on the number of threads.

    Parameters
    ----------
    affinity : {array-like, sparse matrix} of shape (n_samples, n_samples)
        Symmetric non-negative affinity matrix.
    labels : array-like of shape (n_samples,)
        Cluster label of each vertex (any hashable integers or strings).
    resolution : float, default=1.0
        Weight of the null-model term; 1 is Newman-Girvan modularity.
    n_threads : int, default=None
        OpenMP threads; None uses the current limit (see ``threadpoolctl``),
        or one thread for graphs with fewer than 100,000 stored entries.

    Returns
    -------
    Q : float
        Modularity, in [-1/2, 1) for ``resolution=1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils.graph import modularity
    >>> A = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    >>> float(modularity(A, [0, 0, 1, 1]))
    0.5
    """
    A = _canonical_csr(
        affinity if sparse.issparse(affinity) else np.asarray(affinity)
    )
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"affinity must be square, got shape {A.shape}.")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != A.shape[0]:
        raise ValueError(
            f"labels must have shape ({A.shape[0]},) to match the affinity, got "
            f"{labels.shape}."
        )
    _, codes = np.unique(labels, return_inverse=True)
    codes = np.ascontiguousarray(codes.ravel(), dtype=np.int64)

    if n_threads is None and A.nnz < _MIN_NNZ_PER_THREAD:
        # Waking a thread team costs more than summing a small graph.
        n_threads = 1
    n_threads = _openmp_effective_n_threads(n_threads)
    intra_per_block, degree, _ = _modularity_partial_sums(
        A.data, A.indices, A.indptr, codes, n_threads
    )
    total = float(np.sum(degree))
    if total <= 0:
        raise ValueError("modularity is undefined for a graph without edges.")
    volume = np.bincount(codes, weights=degree)
    intra = float(np.sum(intra_per_block))
    return intra / total - resolution * float(np.sum((volume / total) ** 2))


def csr_matmat(A, X, *, n_threads=None):
    """Product of a CSR matrix and a dense array, rows in parallel.

    scipy's sparse products run on one thread; this one splits the rows of
    the result over OpenMP threads, which pays for the repeated products of
    Krylov solvers on large graphs.

    Parameters
    ----------
    A : sparse matrix of shape (n, m), CSR
        Float32 or float64 entries.
    X : array-like of shape (m,) or (m, n_columns)
    n_threads : int, default=None
        OpenMP threads; None uses all of them, or one for a matrix of fewer
        than 100,000 stored entries, where waking the threads costs more
        than the product.

    Returns
    -------
    out : ndarray of shape (n,) or (n, n_columns), float64
        ``A @ X``, the same for any number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from sklearn_spectral.utils.graph import csr_matmat
    >>> A = sparse.csr_matrix(np.array([[0.0, 2.0], [1.0, 0.0]]))
    >>> csr_matmat(A, np.array([1.0, 3.0]))
    array([6., 1.])
    """
    if not sparse.issparse(A) or A.format != "csr":
        raise TypeError(f"A must be a CSR sparse matrix, got {type(A).__name__}.")
    X = np.asarray(X, dtype=np.float64)
    vector = X.ndim == 1
    X2 = np.ascontiguousarray(X.reshape(X.shape[0], -1))
    if X2.shape[0] != A.shape[1]:
        raise ValueError(
            f"X must have {A.shape[1]} rows to multiply A of shape {A.shape}, "
            f"got {X2.shape[0]}."
        )
    data = A.data
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    indices, indptr = A.indices, A.indptr
    if indices.dtype != indptr.dtype:
        indices = indices.astype(np.int64)
        indptr = indptr.astype(np.int64)
    if n_threads is None and A.nnz < _MIN_NNZ_PER_THREAD:
        n_threads = 1
    n_threads = _openmp_effective_n_threads(n_threads)
    out = np.empty((A.shape[0], X2.shape[1]))
    _csr_matmat(data, indices, indptr, X2, out, n_threads)
    return out.ravel() if vector else out
