"""Graph helpers: affinities, checks, components, Laplacians, modularity."""

import networkx as nx
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.sparse import csgraph
from sklearn.cluster import SpectralClustering
from sklearn.datasets import make_blobs
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import kneighbors_graph

from sklearn_spectral.utils._testing import random_weighted_graph
from sklearn_spectral.utils.graph import (
    _canonical_csr,
    affinity_from_distances,
    affinity_from_features,
    check_affinity,
    connected_components,
    csr_matmat,
    laplacian,
    modularity,
)
from sklearn_spectral.utils.neighbors import kneighbors, knn_graph

# --------------------------------------------------------------------------
# affinity_from_features


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_knn_affinity_equals_spectral_clustering_affinity():
    X, _ = make_blobs(200, n_features=3, centers=3, random_state=0)
    ours = affinity_from_features(X, "nearest_neighbors", n_neighbors=7)
    sc = SpectralClustering(
        n_clusters=3, affinity="nearest_neighbors", n_neighbors=7, random_state=0
    ).fit(X)
    assert sparse.issparse(ours) and ours.format == "csr"
    np.testing.assert_array_equal(ours.toarray(), sc.affinity_matrix_.toarray())
    assert (ours != ours.T).nnz == 0
    assert set(np.unique(ours.data)) <= {0.5, 1.0}


def test_rbf_affinity_equals_rbf_kernel():
    X, _ = make_blobs(50, n_features=4, random_state=1)
    np.testing.assert_allclose(
        affinity_from_features(X, "rbf", gamma=0.3), rbf_kernel(X, gamma=0.3)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(affinity="cosine"), "affinity must be"),
        (dict(n_neighbors=0), "n_neighbors must be a positive integer"),
        (dict(n_neighbors=11), "n_neighbors=11 must be at most n_samples=10"),
        (dict(affinity="rbf", gamma=-1.0), "gamma must be a positive"),
    ],
)
def test_affinity_from_features_errors(kwargs, match):
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=match):
        affinity_from_features(X, **kwargs)


def test_affinity_from_features_names_the_estimator():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"^MyEstimator: n_neighbors=5 must be"):
        affinity_from_features(X, n_neighbors=5, estimator_name="MyEstimator")


def test_affinity_from_features_rejects_nan():
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        affinity_from_features(X, n_neighbors=2)


# --------------------------------------------------------------------------
# kNN graph builder


@pytest.mark.parametrize(
    "n, d, k",
    [(1, 2, 1), (2, 3, 2), (31, 2, 31), (500, 2, 10), (3000, 3, 10),
     (2000, 10, 15), (1500, 16, 5), (800, 17, 10), (600, 50, 10),
     (9000, 12, 10)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_knn_graph_equals_kneighbors_graph(n, d, k, dtype):
    # Continuous data has no ties: the graph is scikit-learn's exactly, on
    # the kd-tree (d <= 8) and on the brute-force path alike.
    X = np.random.RandomState(n + d).standard_normal((n, d)).astype(dtype)
    reference = kneighbors_graph(X.astype(np.float64), k, include_self=True,
                                 mode="distance")
    ours = knn_graph(X, k, mode="distance")
    assert ours.format == "csr" and ours.has_sorted_indices
    np.testing.assert_array_equal(ours.indptr, np.arange(0, n * k + 1, k))
    reference.sort_indices()
    np.testing.assert_array_equal(ours.indices, reference.indices)
    np.testing.assert_allclose(ours.data, reference.data, rtol=1e-5 if dtype ==
                               np.float32 and d > 16 else 1e-12, atol=1e-6)
    connectivity = knn_graph(X, k)
    np.testing.assert_array_equal(connectivity.indices, ours.indices)
    assert np.all(connectivity.data == 1.0)


def test_kdtree_neighbours_exact_against_brute_force_and_threads():
    # Clustered data with a wide range of scales; every row's k nearest
    # distances are the brute-force ones, and the result does not depend on
    # the thread count.
    from scipy.spatial.distance import cdist

    X, _ = make_blobs(2000, n_features=6, centers=20, cluster_std=0.05,
                      random_state=3)
    X[:100] *= 100.0
    dist, ind = kneighbors(X, 12, algorithm="kd_tree", n_threads=1)
    ref_dist = np.sort(cdist(X, X), axis=1)[:, :12]
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(dist, axis=1) >= 0)
    np.testing.assert_allclose(
        np.linalg.norm(X[:, None, :] - X[ind], axis=2), dist, rtol=1e-10,
        atol=1e-12)
    dist2, ind2 = kneighbors(X, 12, algorithm="kd_tree", n_threads=2)
    np.testing.assert_array_equal(ind, ind2)
    np.testing.assert_array_equal(dist, dist2)


def test_knn_graph_with_ties_keeps_the_distances():
    # Duplicated rows: which of equidistant rows is kept may differ from
    # scikit-learn, the distances to the k nearest may not, and every row
    # keeps a neighbour at distance 0 (itself or a copy).
    X = np.repeat(np.random.RandomState(0).standard_normal((50, 3)), 4, axis=0)
    X = np.vstack([X, np.zeros((30, 3))])
    ours = knn_graph(X, 6, mode="distance")
    reference = kneighbors_graph(X, 6, include_self=True, mode="distance")
    np.testing.assert_allclose(np.sort(ours.data.reshape(-1, 6), axis=1),
                               np.sort(reference.data.reshape(-1, 6), axis=1))
    assert np.all(ours.data.reshape(-1, 6).min(axis=1) == 0.0)


def test_knn_graph_sparse_input_and_errors():
    X = sparse.random(300, 40, density=0.2, random_state=0, format="csr")
    np.testing.assert_array_equal(
        knn_graph(X, 5).toarray(), kneighbors_graph(X, 5, include_self=True).toarray()
    )
    with pytest.raises(ValueError, match="^Est: n_neighbors=301 must be"):
        knn_graph(X, 301, estimator_name="Est")
    with pytest.raises(ValueError, match="mode must be"):
        knn_graph(X, 3, mode="weights")
    with pytest.raises(ValueError, match="algorithm must be"):
        kneighbors(X.toarray(), 3, algorithm="ball_tree")


def test_affinity_from_distances_filters_to_n_neighbors():
    X, _ = make_blobs(200, n_features=3, centers=3, random_state=0)
    D = kneighbors_graph(X, 14, mode="distance", include_self=True)
    np.testing.assert_array_equal(
        affinity_from_distances(D, n_neighbors=7).toarray(),
        affinity_from_features(X, n_neighbors=7).toarray(),
    )
    with pytest.raises(ValueError, match="^Est: a precomputed distance graph must"):
        affinity_from_distances(D[:, :100], estimator_name="Est")


# --------------------------------------------------------------------------
# check_affinity


def test_check_affinity_accepts_every_sparse_format_and_dense():
    A = random_weighted_graph(60, 0.1, 3)
    ref = check_affinity(A)
    for fmt in ("csr", "csc", "coo", "lil", "dok"):
        out = check_affinity(A.asformat(fmt))
        assert out.format == "csr" and out.dtype == np.float64
        np.testing.assert_array_equal(out.toarray(), ref.toarray())
    dense = check_affinity(A.toarray())
    assert isinstance(dense, np.ndarray)
    np.testing.assert_array_equal(dense, ref.toarray())
    as_csr = check_affinity(A.toarray(), accept_dense=False)
    assert sparse.issparse(as_csr)


def test_check_affinity_sums_duplicates_without_touching_input():
    A = sparse.coo_matrix(
        (np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))),
        shape=(2, 2),
    )
    before = A.data.copy()
    out = check_affinity(A)
    assert out[0, 1] == 3.0 and out[1, 0] == 3.0
    np.testing.assert_array_equal(A.data, before)


@pytest.mark.parametrize("make_sparse", [False, True])
def test_check_affinity_names_the_problem_and_where(make_sparse):
    def conv(M):
        return sparse.csr_matrix(M) if make_sparse else M

    with pytest.raises(ValueError, match=r"square.*\(3, 4\)"):
        check_affinity(conv(np.zeros((3, 4))))

    M = np.zeros((4, 4))
    M[1, 2] = M[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite: A\[1, 2\] = nan"):
        check_affinity(conv(M))
    M[1, 2] = M[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"finite: A\[1, 2\] = inf"):
        check_affinity(conv(M))

    M = np.zeros((4, 4))
    M[3, 0] = M[0, 3] = -0.5
    with pytest.raises(ValueError, match=r"non-negative: A\[0, 3\] = -0.5"):
        check_affinity(conv(M))

    M = np.zeros((4, 4))
    M[2, 3] = 1.0
    with pytest.raises(
        ValueError, match=r"MyEstimator: affinity must be symmetric: A\[(2, 3|3, 2)\]"
    ):
        check_affinity(conv(M), estimator_name="MyEstimator")


def test_check_affinity_warn_symmetrises():
    M = np.array([[0.0, 2.0], [0.0, 0.0]])
    with pytest.warns(UserWarning, match="not symmetric"):
        out = check_affinity(M, symmetric="warn")
    np.testing.assert_array_equal(out, [[0.0, 1.0], [1.0, 0.0]])
    assert M[1, 0] == 0.0  # input untouched


def test_check_affinity_tolerates_rounding_asymmetry():
    A = random_weighted_graph(50, 0.2, 4).toarray()
    A[0, 1] += 1e-14 if A[0, 1] else 0.0
    check_affinity(A)


def test_check_affinity_min_samples_and_dtype():
    with pytest.raises(ValueError, match="at least 2"):
        check_affinity(np.zeros((1, 1)), ensure_min_samples=2)
    with pytest.raises(ValueError, match="numeric"):
        check_affinity(np.array([["a", "b"], ["b", "a"]]))


# --------------------------------------------------------------------------
# _canonical_csr


@pytest.mark.parametrize("drop_diagonal", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense"])
def test_canonical_csr_form_and_values(fmt, drop_diagonal):
    A = random_weighted_graph(70, 0.1, 8, self_loops=True).tocoo()
    # A duplicate, an explicit zero and an unsorted row, in a COO input.
    row = np.r_[A.row, 3, 5]
    col = np.r_[A.col, 3, 6]
    data = np.r_[A.data, 0.25, 0.0]
    order = np.random.default_rng(0).permutation(row.size)
    M = sparse.coo_matrix((data[order], (row[order], col[order])), shape=A.shape)
    M = M.toarray() if fmt == "dense" else M.asformat(fmt)
    before = M.copy()
    out = _canonical_csr(M, drop_diagonal=drop_diagonal)
    expected = sparse.coo_matrix((data, (row, col)), shape=A.shape).toarray()
    if drop_diagonal:
        np.fill_diagonal(expected, 0.0)
    assert out.format == "csr" and out.dtype == np.float64
    assert out.indptr.dtype == out.indices.dtype == np.int64
    assert out.has_canonical_format
    for i in range(out.shape[0]):
        assert np.all(np.diff(out.indices[out.indptr[i]:out.indptr[i + 1]]) > 0)
    assert np.all(out.data != 0)
    np.testing.assert_array_equal(out.toarray(), expected)
    np.testing.assert_array_equal(
        before.toarray() if sparse.issparse(before) else before,
        M.toarray() if sparse.issparse(M) else M,
    )


def test_canonical_csr_returns_canonical_input_unchanged():
    A = _canonical_csr(random_weighted_graph(50, 0.1, 9))
    out = _canonical_csr(A, drop_diagonal=True)
    assert np.shares_memory(out.data, A.data)
    assert np.shares_memory(out.indices, A.indices)


# --------------------------------------------------------------------------
# connected_components and laplacian


def test_connected_components_with_isolated_vertices():
    blocks = [np.ones((3, 3)) - np.eye(3), np.ones((4, 4)) - np.eye(4)]
    A = sparse.block_diag(blocks + [np.zeros((2, 2))], format="csr")
    n, labels = connected_components(A)
    assert n == 4
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 1, 2, 3])


@pytest.mark.parametrize("normed", [False, True])
@pytest.mark.parametrize("dense", [False, True])
def test_laplacian_matches_scipy(normed, dense):
    A = random_weighted_graph(80, 0.05, 5)
    A = sparse.csr_matrix(sparse.block_diag([A, sparse.csr_matrix((3, 3))]))
    ours = laplacian(A.toarray() if dense else A, normed=normed)
    ref = csgraph.laplacian(A.toarray(), normed=normed)
    assert sparse.issparse(ours) != dense
    ours = ours if dense else ours.toarray()
    # scipy puts 1 on the diagonal of isolated vertices when normed; ours 0.
    iso = np.asarray(A.sum(axis=1)).ravel() == 0
    ref[iso, iso] = 0.0
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_laplacian_properties_and_self_loops_ignored():
    A = random_weighted_graph(100, 0.04, 6, self_loops=True)
    assert A.diagonal().any()
    L, degree = laplacian(A, return_diag=True)
    A0 = A.toarray()
    np.fill_diagonal(A0, 0.0)
    np.testing.assert_allclose(degree, A0.sum(axis=1))
    np.testing.assert_allclose(np.asarray(L.sum(axis=1)).ravel(), 0.0, atol=1e-12)
    eig = np.linalg.eigvalsh(L.toarray())
    n_comp, _ = connected_components(A0)
    assert eig.min() > -1e-10
    assert np.sum(eig < 1e-9) == n_comp
    Ln = laplacian(A, normed=True).toarray()
    eig_n = np.linalg.eigvalsh(Ln)
    assert eig_n.min() > -1e-10 and eig_n.max() < 2 + 1e-10


# --------------------------------------------------------------------------
# modularity


def _numpy_modularity(A, labels, resolution=1.0):
    A = np.asarray(A, dtype=float)
    total = A.sum()
    same = labels[:, None] == labels[None, :]
    k = A.sum(axis=1)
    return (A[same].sum() - resolution * (np.outer(k, k)[same].sum() / total)) / total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("resolution", [1.0, 0.5, 2.0])
def test_modularity_matches_numpy_reference(seed, resolution):
    A = random_weighted_graph(200, 0.05, seed, self_loops=True)
    labels = np.random.default_rng(seed).integers(0, 5, 200)
    assert modularity(A, labels, resolution=resolution) == pytest.approx(
        _numpy_modularity(A.toarray(), labels, resolution), abs=1e-12
    )


def test_modularity_matches_networkx_on_weighted_graphs():
    G = nx.karate_club_graph()  # carries integer edge weights
    A = nx.to_scipy_sparse_array(G, weight="weight", format="csr")
    communities = nx.community.louvain_communities(G, weight="weight", seed=0)
    labels = np.empty(G.number_of_nodes(), dtype=int)
    for c, members in enumerate(communities):
        labels[list(members)] = c
    ref = nx.community.modularity(G, communities, weight="weight")
    assert modularity(A, labels) == pytest.approx(ref, abs=1e-12)

    B = random_weighted_graph(150, 0.05, 7)
    H = nx.from_scipy_sparse_array(B)
    labels = np.arange(150) % 3
    comms = [set(np.flatnonzero(labels == c)) for c in range(3)]
    for res in (1.0, 0.7):
        ref = nx.community.modularity(H, comms, weight="weight", resolution=res)
        assert modularity(B, labels, resolution=res) == pytest.approx(ref, abs=1e-12)


def test_modularity_invariances_and_bounds(weighted_graph):
    A = weighted_graph
    labels = np.random.default_rng(0).integers(0, 4, A.shape[0])
    q = modularity(A, labels)
    # Renaming clusters changes nothing; string labels work.
    assert modularity(A, (labels + 7) * 3) == pytest.approx(q, abs=1e-15)
    assert modularity(A, np.array(list("abcd"))[labels]) == pytest.approx(q, abs=1e-15)
    # Dense and sparse agree; one cluster gives zero; scaling weights changes nothing.
    assert modularity(A.toarray(), labels) == pytest.approx(q, abs=1e-14)
    assert modularity(A, np.zeros(A.shape[0])) == pytest.approx(0.0, abs=1e-15)
    assert modularity(3.5 * A, labels) == pytest.approx(q, abs=1e-14)
    assert -0.5 <= q < 1


def test_modularity_of_planted_cliques_is_high():
    # A ring of 8 cliques of 10: the clique partition scores 1 - 1/8 - small.
    blocks = sparse.block_diag([np.ones((10, 10)) - np.eye(10)] * 8, format="lil")
    for c in range(8):
        a, b = 10 * c, (10 * (c + 1)) % 80
        blocks[a, b] = blocks[b, a] = 1.0
    A = blocks.tocsr()
    labels = np.repeat(np.arange(8), 10)
    expected = _numpy_modularity(A.toarray(), labels)
    assert modularity(A, labels) == pytest.approx(expected)
    assert modularity(A, labels) > 0.85
    shuffled = np.random.default_rng(0).permutation(labels)
    assert modularity(A, shuffled) < 0.1


def test_modularity_errors():
    with pytest.raises(ValueError, match="without edges"):
        modularity(np.zeros((3, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        modularity(np.ones((3, 3)), [0, 1])
    with pytest.raises(ValueError, match="square"):
        modularity(np.ones((3, 2)), [0, 1, 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n_columns", [None, 1, 3])
def test_csr_matmat_equals_scipy(dtype, index_dtype, n_columns):
    rng = np.random.RandomState(0)
    A = sparse.random(300, 200, density=0.05, format="csr", random_state=rng)
    A = A.astype(dtype)
    A.indices = A.indices.astype(index_dtype)
    A.indptr = A.indptr.astype(index_dtype)
    shape = (200,) if n_columns is None else (200, n_columns)
    X = rng.standard_normal(shape)
    expected = A.astype(np.float64) @ X
    one = csr_matmat(A, X, n_threads=1)
    assert one.shape == expected.shape
    assert_allclose(one, expected, rtol=1e-12, atol=1e-12)
    # rows are split over threads, each summed in stored order: bitwise equal
    assert_array_equal(csr_matmat(A, X, n_threads=2), one)


def test_csr_matmat_rejects_bad_input():
    A = sparse.random(5, 4, density=0.5, format="csr", random_state=0)
    with pytest.raises(TypeError, match="CSR"):
        csr_matmat(A.tocsc(), np.ones(4))
    with pytest.raises(ValueError, match="4 rows"):
        csr_matmat(A, np.ones(5))
