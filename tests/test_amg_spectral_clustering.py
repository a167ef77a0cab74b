"""AMGSpectralClustering: planted partitions, attributes, K-means restarts,
determinism, input forms and errors."""

import pickle
import warnings

import networkx as nx
import numpy as np
import pytest
import scipy.linalg
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.image import img_to_graph
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from sklearn_spectral.cluster._amg_setup import build_hierarchy, pinned_laplacian
from sklearn_spectral.cluster._amg_spectral import AMGSpectralClustering, _augment
from sklearn_spectral.cluster._kmeans_restarts import _kmeans_restarts, _kmeans_single
from sklearn_spectral.datasets import make_attributed_sbm, sbm_detectability_threshold
from sklearn_spectral.utils.graph import (
    _canonical_csr,
    affinity_from_features,
    connected_components,
    modularity,
)


def _fit(A, k, **kw):
    kw.setdefault("random_state", 0)
    return AMGSpectralClustering(k, affinity="precomputed", **kw).fit(A)


@pytest.fixture(scope="module")
def clear_sbm():
    return make_attributed_sbm(1000, 4, mean_degree=20, mixing=0.05, random_state=0)


# --- item 4: planted partitions ------------------------------------------------


def test_sbm_recovered_exactly(clear_sbm):
    A, y, _ = clear_sbm
    model = _fit(A, 4, solver="bootstrap")
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert model.solver_ == "bootstrap"
    assert model.n_hierarchies_ == 3  # 'auto' for K = 4
    # Refinement stops once the Ritz values settle: on a clear graph after a
    # few steps (3 here) of K V-cycles per preconditioning hierarchy (the
    # newest 2), far from the cap of 20.
    assert 1 <= model.n_ritz_steps_ <= 5
    # Bootstrap: test_iterations H (H + 1) / 2. The constant vector (theta =
    # 0, in the span from the start) is locked: K - 1 preconditioned
    # directions per refinement step, 2 V-cycles each.
    assert model.n_vcycles_ == 8 * 3 * 4 // 2 + model.n_ritz_steps_ * (4 - 1) * 2
    # Three hierarchies, each holding the fine operator and coarser ones.
    assert model.operator_complexity_.shape == (3,)
    assert np.all(model.operator_complexity_ > 1)
    assert model.modularity_ == pytest.approx(modularity(A, model.labels_))
    # Ritz embedding: K columns, D-orthonormal.
    V = model.embedding_
    degree = np.asarray(A.sum(axis=1)).ravel()
    assert V.shape == (1000, 4)
    np.testing.assert_allclose(V.T @ (degree[:, None] * V), np.eye(4), atol=1e-9)
    assert model.attribute_embedding_.shape == (0, 4)
    # The papers' embedding: the orthonormal basis of the 4 smooth vectors.
    svd = _fit(A, 4, embedding="svd")
    assert adjusted_rand_score(y, svd.labels_) == 1.0
    assert svd.n_vcycles_ == 8 * 3 * 4 // 2 and svd.n_ritz_steps_ == 0
    assert svd.embedding_.shape == (1000, 4)
    np.testing.assert_allclose(svd.embedding_.T @ svd.embedding_, np.eye(4), atol=1e-10)


def test_operator_complexity_is_that_of_the_hierarchies(clear_sbm):
    # The first hierarchy is built for w = 1 from the estimator's first
    # draw (the tie-break permutation): its levels' stored entries over the
    # finest level's are the first reported complexity.
    A, _, _ = clear_sbm
    model = _fit(A, 4, n_init=5, solver="bootstrap")
    _, components = connected_components(A)
    L, _ = pinned_laplacian(A, components)
    perm = np.random.RandomState(0).permutation(A.shape[0]).astype(np.int64)
    levels = build_hierarchy(L, np.ones(A.shape[0]), perm, merge_ratio=0.5)
    expected = sum(level.A.nnz for level in levels) / L.nnz
    assert len(levels) >= 2
    assert model.operator_complexity_[0] == pytest.approx(expected, rel=1e-15)


def test_ritz_values_bound_and_approach_the_spectrum(clear_sbm):
    # Rayleigh-Ritz on nested subspaces: every refinement step can only
    # lower each Ritz value, and none falls below the matching eigenvalue
    # of the pencil (L, D) (Courant-Fischer). Two steps land close to it.
    A, _, _ = clear_sbm
    degree = np.asarray(A.sum(axis=1)).ravel()
    L = np.diag(degree) - A.toarray()
    exact = scipy.linalg.eigh(L, np.diag(degree), eigvals_only=True)[:4]
    thetas = [_fit(A, 4, ritz_steps=s, ritz_tol=0.0, n_init=5,
                   solver="bootstrap").ritz_values_
              for s in (0, 1, 2, 3)]
    for coarse, fine in zip(thetas, thetas[1:]):
        assert np.all(fine <= coarse + 1e-12)
    for theta in thetas:
        assert np.all(theta >= exact - 1e-10)
    np.testing.assert_allclose(thetas[2][1:], exact[1:], rtol=0.02)
    assert abs(thetas[2][0]) < 1e-10  # the constant vector


def test_refinement_reaches_the_eigenvectors_near_the_threshold():
    # Close to the detectability limit the smooth vectors are far from the
    # low eigenvectors (two refinement steps leave the Ritz values well
    # above them); the LOBPCG steps run until the Ritz values settle and
    # land on the eigenvalues, and the embedding spans the eigenvectors.
    K, c = 4, 10.0
    eps = sbm_detectability_threshold(K, c) - 0.12
    A, _, _ = make_attributed_sbm(3000, K, mean_degree=c, mixing=eps, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # isolated vertices
        two = _fit(A, K, ritz_steps=2, n_init=5, test_iterations=4,
                   solver="bootstrap")
        model = _fit(A, K, n_init=5, test_iterations=4, solver="bootstrap")
    degree = np.asarray(A.sum(axis=1)).ravel()
    inside = degree > 0
    B = A[inside][:, inside].toarray()
    d = degree[inside]
    vals, vecs = scipy.linalg.eigh(np.diag(d) - B, np.diag(d),
                                   subset_by_index=(0, K - 1))
    assert model.n_ritz_steps_ > 2
    assert np.max(two.ritz_values_ - vals) > 10 * np.max(model.ritz_values_ - vals)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=2e-3, atol=1e-8)
    # Principal angles between the embedding and the eigenvectors (in the
    # D inner product, on the vertices with edges).
    V = model.embedding_[inside]
    Qv = np.linalg.qr(np.sqrt(d)[:, None] * V)[0]
    Qe = np.linalg.qr(np.sqrt(d)[:, None] * vecs)[0]
    cosines = np.linalg.svd(Qv.T @ Qe, compute_uv=False)
    assert cosines.min() > 0.999  # two steps: 0.986


@pytest.mark.parametrize("smoother", ["gauss_seidel", "l1_jacobi"])
@pytest.mark.parametrize("matching", ["suitor", "preis"])
def test_sbm_smoother_matching_variants(clear_sbm, smoother, matching):
    A, y, _ = clear_sbm
    model = _fit(A, 4, smoother=smoother, matching=matching, n_init=30)
    # l1-Jacobi (a weaker smoother) may leave a boundary vertex misplaced.
    assert adjusted_rand_score(y, model.labels_) >= 0.99


def test_matching_methods_same_labels(clear_sbm):
    A, _, _ = clear_sbm
    a = _fit(A, 4, matching="suitor", n_init=20)
    b = _fit(A, 4, matching="preis", n_init=20)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


def test_ring_of_cliques():
    G = nx.ring_of_cliques(8, 10)
    A = nx.to_scipy_sparse_array(G, format="csr")
    y = np.repeat(np.arange(8), 10)
    model = _fit(A, 8)
    assert adjusted_rand_score(y, model.labels_) == 1.0
    # The papers' equally weighted embedding needs max_hierarchies = K: more
    # hierarchies add directions that vary inside the cliques.
    model = _fit(A, 8, embedding="svd", max_hierarchies=8)
    assert adjusted_rand_score(y, model.labels_) == 1.0


def _disk_image(side=24, seed=0):
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:side, :side]
    disk = (xx - side / 2) ** 2 + (yy - side / 2) ** 2 < (side / 4) ** 2
    img = disk.astype(float) + 0.05 * rng.randn(side, side)
    graph = img_to_graph(img)
    graph.data = np.exp(-10 * graph.data / graph.data.std()) + 1e-6
    return sparse.csr_matrix(graph), disk.ravel().astype(int)


@pytest.mark.parametrize(
    "kw", [{}, {"embedding": "svd", "max_hierarchies": 1, "test_iterations": 15}]
)
def test_pixel_disk_needs_weights(kw):
    # The lowest normalised cut of the weighted grid follows the weak edges
    # around the disk; the 0/1 pattern only sees a grid. (The papers' svd
    # embedding needs max_hierarchies=1, i.e. [1, w_1]: more hierarchies add
    # grid modes that K-means splits instead; and the papers' 15 test
    # iterations: after 8, w_1 still misplaces two boundary pixels.)
    A, truth = _disk_image()
    weighted = _fit(A, 2, n_init=30, **kw)
    unweighted = _fit(A, 2, n_init=30, weighted=False, **kw)
    assert adjusted_rand_score(truth, weighted.labels_) == 1.0
    assert adjusted_rand_score(truth, unweighted.labels_) < 0.5


# --- item 5: attributes ----------------------------------------------------------


def test_attributes_rescue_ambiguous_structure():
    K, c = 5, 5.0
    eps = sbm_detectability_threshold(K, c) + 0.03  # just undetectable
    gains = []
    for seed in range(3):
        A, y, att = make_attributed_sbm(
            400, K, mean_degree=c, mixing=eps, alpha=0.9, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            structure = _fit(A, K, n_init=50)
            attributed = _fit(A, K, n_init=50).fit(A, attributes=att)
        s_ari = adjusted_rand_score(y, structure.labels_)
        a_ari = adjusted_rand_score(y, attributed.labels_)
        gains.append(a_ari - s_ari)
        assert a_ari > 0.5
        assert s_ari < 0.3
    assert min(gains) > 0.3


@pytest.mark.parametrize("seed", [0, 1])
def test_weaker_attributes_do_not_override_clear_structure(seed):
    # The attribute agrees with the block 60% of the time, the structure is
    # clear: at full block weight (the papers' distance) K-means follows the
    # attribute hubs (ARI ~0.4); "auto" keeps the structure and the
    # attribute adds to it.
    A, y, att = make_attributed_sbm(
        2000, 5, mean_degree=10, mixing=0.3, alpha=0.6, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        structure = adjusted_rand_score(y, _fit(A, 5, n_init=30).labels_)
        auto = adjusted_rand_score(
            y, _fit(A, 5, n_init=30).fit(A, attributes=att).labels_
        )
        full = adjusted_rand_score(
            y,
            _fit(A, 5, n_init=30, attribute_block_weight=1.0)
            .fit(A, attributes=att)
            .labels_,
        )
    assert structure > 0.9
    assert auto >= structure
    assert full < 0.6


def test_random_attributes_keep_clear_structure(clear_sbm):
    # alpha = 0: the attribute is noise and must not destroy the structure.
    A, y, _ = clear_sbm
    _, _, att = make_attributed_sbm(
        1000, 4, mean_degree=20, mixing=0.05, alpha=0.0, random_state=0
    )
    model = _fit(A, 4, n_init=30).fit(A, attributes=att)
    assert adjusted_rand_score(y, model.labels_) >= 0.9


def test_augmented_graph_sizes_and_weights():
    A = sparse.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    codes = np.array([[0, 5], [2, -1], [0, 5]])
    A_aug, global_codes, block = _augment(A, codes, 0.5)
    # Attribute 0 has values {0, 2}, attribute 1 has {5}: 3 attribute vertices.
    assert A_aug.shape == (6, 6)
    np.testing.assert_array_equal(global_codes, [[0, 2], [1, -1], [0, 2]])
    np.testing.assert_array_equal(block, [0, 0, 1])
    dense = A_aug.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_array_equal(dense[:3, :3], A.toarray())
    # n * m edges minus the missing value, each of weight attribute_weight.
    assert np.count_nonzero(dense[:3, 3:]) == 3 * 2 - 1
    assert set(dense[:3, 3:][dense[:3, 3:] != 0]) == {0.5}
    assert dense[0, 3] == dense[2, 3] == dense[1, 4] == dense[0, 5] == 0.5
    assert np.all(dense[3:, 3:] == 0)


def test_attributes_fit_attributes_shapes(clear_sbm):
    A, y, att = clear_sbm
    att = np.column_stack([att, (att + 1) % 4])
    att[::7, 1] = -1
    model = _fit(A, 4, n_init=20).fit(A, attributes=att)
    n_attr = len(np.unique(att[:, 0])) + len(np.unique(att[att[:, 1] >= 0, 1]))
    assert model.attribute_embedding_.shape == (n_attr, model.embedding_.shape[1])
    assert np.isfinite(model.embedding_).all()
    # fit_predict forwards the attributes.
    labels = clone(model).fit_predict(A, attributes=att)
    np.testing.assert_array_equal(labels, model.labels_)


# --- item 6: K-means -----------------------------------------------------------------


def _kmeans_inputs(rng, n=60, d=3, m=2, n_values=(3, 4), K=3, n_init=5):
    X = rng.standard_normal((n, d))
    n_attr = sum(n_values)
    U = rng.standard_normal((n_attr, d))
    codes = np.empty((n, m), dtype=np.int64)
    block = np.concatenate([np.full(k, j) for j, k in enumerate(n_values)])
    block = block.astype(np.int64)
    offset = 0
    for j, k in enumerate(n_values):
        codes[:, j] = offset + rng.randint(0, k, n)
        offset += k
    seeds = np.array(
        [rng.choice(n, K, replace=False) for _ in range(n_init)], dtype=np.int64
    )
    G = sparse.random(n, n, density=0.1, random_state=rng, format="csr")
    G = (G + G.T).tocsr()
    G.setdiag(0.0)
    G.eliminate_zeros()
    return X, U, codes, block, seeds, G


def _graph_arrays(G):
    G = _canonical_csr(G)
    return G.indptr, G.indices, G.data


def _naive_lloyd(Z, seeds, max_iter):
    """Plain Lloyd on materialised points (same tie and reseed rules)."""
    C = Z[seeds].copy()
    labels = np.full(Z.shape[0], -1)
    for it in range(max_iter):
        D = ((Z[:, None, :] - C[None]) ** 2).sum(-1)
        new = D.argmin(1)
        changed = (new != labels).sum()
        labels = new
        if changed == 0:
            break
        if it + 1 < max_iter:
            for c in range(C.shape[0]):
                if (labels == c).any():
                    C[c] = Z[labels == c].mean(0)
    return labels


def test_tabulated_lloyd_equals_materialised():
    rng = np.random.RandomState(0)
    X, U, codes, block, seeds, G = _kmeans_inputs(rng)
    Z = np.hstack([X] + [U[codes[:, j]] for j in range(codes.shape[1])])
    fallback = np.zeros((2, 3))
    for r in range(seeds.shape[0]):
        labels, inertia, q, _ = _kmeans_single(
            X, U, codes, block, fallback, seeds[r], *_graph_arrays(G), 10
        )
        expected = _naive_lloyd(Z, seeds[r], 10)
        if len(np.unique(labels)) == seeds.shape[1] == len(np.unique(expected)):
            np.testing.assert_array_equal(labels, expected)
        # Block distance is the Euclidean distance on the concatenation:
        # materialised K-means (no attribute blocks) gives the same labels.
        empty = np.zeros((0, Z.shape[1]))
        labels_m, inertia_m, _, _ = _kmeans_single(
            np.ascontiguousarray(Z), empty, np.zeros((60, 0), dtype=np.int64),
            np.zeros(0, dtype=np.int64), np.zeros((0, Z.shape[1])), seeds[r],
            *_graph_arrays(G), 10,
        )
        np.testing.assert_array_equal(labels, labels_m)
        assert inertia == pytest.approx(inertia_m, rel=1e-12)


@pytest.mark.parametrize("K", [2, 5, 12])
def test_bounded_lloyd_equals_plain_bit_for_bit(K):
    # Without attributes the iterations skip the distances Elkan's bounds
    # rule out; an attribute column with every value missing adds nothing
    # to the distances but takes the plain iteration: labels, inertia,
    # modularity and iteration counts agree exactly.
    rng = np.random.RandomState(K)
    n, d = 399, 4
    centres = rng.standard_normal((6, d))
    X = centres[rng.randint(0, 6, n)] + 0.3 * rng.standard_normal((n, d))
    X[::7] = X[1::7]
    X = np.ascontiguousarray(X)
    seeds = np.array([rng.choice(n, K, replace=False) for _ in range(20)],
                     dtype=np.int64)
    # Seeds at duplicated points: ties, and clusters emptied and reseeded.
    seeds[0] = np.concatenate([np.arange(7 * K)[np.arange(7 * K) % 7 < 2],
                               200 + np.arange(K)])[:K]
    G = sparse.random(n, n, density=0.05, random_state=rng, format="csr")
    graph = _graph_arrays(G + G.T)
    bounded = (np.zeros((0, d)), np.zeros((n, 0), dtype=np.int64),
               np.zeros(0, dtype=np.int64), np.zeros((0, d)))
    plain = (np.zeros((0, d)), np.full((n, 1), -1, dtype=np.int64),
             np.zeros(0, dtype=np.int64), np.zeros((1, d)))
    for max_iter in (1, 3, 30):
        a = _kmeans_restarts(X, *bounded, seeds, *graph, max_iter, 2)
        b = _kmeans_restarts(X, *plain, seeds, *graph, max_iter, 2)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        for r in range(3):
            la = _kmeans_single(X, *bounded, seeds[r], *graph, max_iter)
            lb = _kmeans_single(X, *plain, seeds[r], *graph, max_iter)
            np.testing.assert_array_equal(la[0], lb[0])
            assert la[1:] == lb[1:]


def test_restart_scores_match_single_runs_and_threads():
    rng = np.random.RandomState(1)
    X, U, codes, block, seeds, G = _kmeans_inputs(rng, n_init=12)
    fallback = np.zeros((2, 3))
    results = [
        _kmeans_restarts(X, U, codes, block, fallback, seeds, *_graph_arrays(G), 10, t)
        for t in (1, 2)
    ]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    inertia, q, _ = results[0]
    for r in range(seeds.shape[0]):
        labels, i_r, q_r, _ = _kmeans_single(
            X, U, codes, block, fallback, seeds[r], *_graph_arrays(G), 10
        )
        assert i_r == inertia[r] and q_r == q[r]
        # Modularity kernel = networkx on the weighted graph.
        Gnx = nx.from_scipy_sparse_array(G)
        comms = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        assert q_r == pytest.approx(
            nx.community.modularity(Gnx, comms, weight="weight"), abs=1e-12
        )
        assert q_r == pytest.approx(modularity(G, labels), abs=1e-12)


def test_duplicated_points_no_nan():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]]), 20, axis=0)
    model = AMGSpectralClustering(3, n_neighbors=5, random_state=0, n_init=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        labels = model.fit_predict(X)
    assert np.isfinite(model.embedding_).all()
    assert labels.min() >= 0 and labels.max() < 3


# --- item 7: determinism and input forms ---------------------------------------


def test_determinism_and_threads(clear_sbm):
    A, _, _ = clear_sbm
    a = _fit(A, 4, random_state=3, n_init=20)
    b = _fit(A, 4, random_state=3, n_init=20)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    assert a.n_hierarchies_ == b.n_hierarchies_
    with threadpool_limits(1):
        c = _fit(A, 4, random_state=3, n_init=20)
    np.testing.assert_array_equal(a.labels_, c.labels_)


@pytest.mark.parametrize("affinity", ["nearest_neighbors", "rbf"])
def test_features_equal_precomputed(affinity):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(40, 2) + c for c in ([0, 0], [8, 0], [0, 8])])
    kw = dict(n_neighbors=6, gamma=0.5, random_state=0, n_init=20, max_hierarchies=3)
    feat = AMGSpectralClustering(3, affinity=affinity, **kw).fit(X)
    A = affinity_from_features(X, affinity, n_neighbors=6, gamma=0.5)
    pre = AMGSpectralClustering(3, affinity="precomputed", **kw).fit(A)
    np.testing.assert_array_equal(
        feat.affinity_matrix_.toarray(), pre.affinity_matrix_.toarray()
    )
    np.testing.assert_array_equal(feat.labels_, pre.labels_)
    if affinity == "nearest_neighbors":  # three components, one per blob
        y = np.repeat(np.arange(3), 40)
        assert adjusted_rand_score(y, feat.labels_) == 1.0


def test_sparse_formats_agree(clear_sbm):
    A, _, _ = clear_sbm
    A = A[:300][:, :300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = _fit(A.tocsr(), 3, n_init=10).labels_
        for form in (A.tocsc(), A.tocoo(), A.toarray()):
            np.testing.assert_array_equal(_fit(form, 3, n_init=10).labels_, ref)


# --- item 8: disconnected graphs, errors, clone, pickle ------------------------------


def test_disconnected_graph():
    blocks = [
        nx.gnp_random_graph(12, 0.5, seed=1),
        nx.gnp_random_graph(15, 0.4, seed=2),
        nx.gnp_random_graph(10, 0.6, seed=3),
    ]
    G = nx.disjoint_union_all(blocks)
    G.add_nodes_from(range(37, 40))  # isolated vertices
    A = nx.to_scipy_sparse_array(G, format="csr")
    truth = np.r_[np.zeros(12), np.ones(15), np.full(10, 2)]
    with pytest.warns(UserWarning, match="not connected"):
        model = _fit(A, 3)
    assert model.n_components_ == 6
    assert np.isfinite(model.embedding_).all()
    assert adjusted_rand_score(truth, model.labels_[:37]) == 1.0


@pytest.mark.parametrize(
    "A, match",
    [
        (np.ones((3, 4)), "square"),
        (np.array([[0, 1, 0], [0, 0, 1], [1, 1, 0.0]]), None),
        (np.array([[0, -1, 0], [-1, 0, 1], [0, 1, 0.0]]), "non-negative"),
        (np.array([[0, np.inf, 0], [np.inf, 0, 1], [0, 1, 0.0]]), "inf"),
    ],
)
def test_bad_affinity(A, match):
    model = AMGSpectralClustering(2, affinity="precomputed")
    if match is None:  # asymmetric: warned and symmetrised
        with pytest.warns(UserWarning, match="not symmetric"):
            model.fit(A)
        return
    with pytest.raises(ValueError, match=match):
        model.fit(A)


def test_errors_name_estimator_and_parameter():
    A, _, _ = make_attributed_sbm(60, 2, mean_degree=6, random_state=0)
    with pytest.raises(ValueError, match="AMGSpectralClustering.*attributes"):
        _fit(A, 2).fit(A, attributes=np.zeros(5))
    with pytest.raises(ValueError, match="AMGSpectralClustering.*n_neighbors"):
        AMGSpectralClustering(2, n_neighbors=100).fit(np.random.randn(20, 2))
    with pytest.raises(ValueError, match="AMGSpectralClustering.*n_samples"):
        AMGSpectralClustering(30, affinity="precomputed").fit(A[:10][:, :10])
    with pytest.raises(ValueError, match="smoother"):
        AMGSpectralClustering(2, smoother="jacobi").fit(A)
    with pytest.warns(UserWarning, match="attribute_weight"):
        _fit(A, 2, weighted=False, attribute_weight=2.0, n_init=5)


def test_clone_pickle_verbose(clear_sbm, capsys):
    A, _, _ = clear_sbm
    model = _fit(A, 4, n_init=10, verbose=1, solver="bootstrap")
    out = capsys.readouterr().out
    assert "[AMGSpectralClustering] hierarchy 1:" in out
    for phase, seconds in model.phase_times_.items():
        assert f"[AMGSpectralClustering] {phase}: {seconds:.3f}s" in out
    assert set(model.phase_times_) == {
        "affinity", "laplacian", "lanczos", "bootstrap", "hierarchy setup",
        "test iterations", "svd", "ritz", "kmeans",
    }
    assert model.phase_times_["lanczos"] == 0.0 and model.n_matvecs_ == 0
    lanczos = _fit(A, 4, n_init=10, verbose=1)
    out = capsys.readouterr().out
    assert "[AMGSpectralClustering] lanczos:" in out
    assert "hierarchy 1:" not in out
    assert set(lanczos.phase_times_) == {"affinity", "laplacian", "lanczos", "kmeans"}
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.labels_, model.labels_)
    assert clone(model).get_params() == model.get_params()
    tags = model.__sklearn_tags__()
    assert tags.input_tags.pairwise and tags.input_tags.sparse


# --- scikit-learn's SpectralClustering tests, over many seeds ---------------------
# scikit-learn runs its tests over a global random seed (0-99 in its CI);
# here every seed is run, the graphs being small enough for milliseconds a fit.

_SEEDS = range(100)

# The two-block graph of scikit-learn's test_spectral_clustering.
_TWO_BLOCKS = np.array(
    [
        [1.0, 1.0, 1.0, 0.2, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 0.2, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 0.2, 0.0, 0.0, 0.0],
        [0.2, 0.2, 0.2, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
    ]
)


def _two_blobs(seed, n_samples=20):
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n_samples, random_state=seed,
                      centers=[[1, 1], [-1, -1]], cluster_std=0.01)


@pytest.mark.parametrize("embedding", ["ritz", "svd"])
def test_sklearn_two_block_graph_every_seed(embedding):
    # 7 vertices <= max_coarse: the hierarchy is one exactly solved level,
    # which leaves no smooth error; the embedding is then the exact lowest
    # eigenvectors of (L, D). Before, some seeds (30 and 61 among these)
    # got a one-column embedding and an arbitrary split, silently.
    S = _TWO_BLOCKS
    degree = S.sum(axis=1) - 1.0  # self-loops are not in the Laplacian
    exact = scipy.linalg.eigh(np.diag(degree) - (S - np.eye(7)), np.diag(degree),
                              eigvals_only=True)[:2]
    truth = [1, 1, 1, 0, 0, 0, 0]
    for seed in _SEEDS:
        for mat in (S, sparse.csr_matrix(S)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no warning is due
                model = _fit(mat, 2, random_state=seed, embedding=embedding)
            assert adjusted_rand_score(truth, model.labels_) == 1.0, seed
            assert model.embedding_.shape == (7, 2)
            assert model.n_hierarchies_ == 1 and model.convergence_ratio_ == 0.0
            if embedding == "ritz":
                np.testing.assert_allclose(model.ritz_values_, exact, atol=1e-12)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.labels_, model.labels_)
    assert restored.get_params() == model.get_params()


def test_sklearn_sparse_rbf_blobs_every_seed():
    # scikit-learn's test_spectral_clustering_sparse: a thresholded rbf
    # affinity of two tight blobs of 20 points, as COO.
    from sklearn.metrics.pairwise import rbf_kernel

    for seed in _SEEDS:
        X, y = _two_blobs(seed)
        S = sparse.coo_matrix(np.maximum(rbf_kernel(X, gamma=1) - 1e-4, 0))
        model = _fit(S, 2, random_state=seed)
        assert adjusted_rand_score(y, model.labels_) == 1.0, seed
        assert model.embedding_.shape == (20, 2)


def test_sklearn_affinities_every_seed():
    # scikit-learn's test_affinities (the kernels this estimator offers):
    # the kNN graph of two far blobs has two components (a warning says
    # so), rbf with gamma=2 is complete; both find the blobs.
    X, y = _two_blobs(0)
    for seed in range(0, 100, 5):
        with pytest.warns(UserWarning, match="not connected"):
            knn = AMGSpectralClustering(2, random_state=seed).fit(X)
        assert adjusted_rand_score(y, knn.labels_) == 1.0
        rbf = AMGSpectralClustering(2, affinity="rbf", gamma=2,
                                    random_state=seed).fit(X)
        assert adjusted_rand_score(y, rbf.labels_) == 1.0


def test_sklearn_two_coins_agree_with_arpack():
    # scikit-learn's test_spectral_clustering_with_arpack_amg_solvers: two
    # touching disks of a 40 x 40 mask; the labels equal arpack's.
    from sklearn.cluster import spectral_clustering

    x, y = np.indices((40, 40))
    circles = (x - 14) ** 2 + (y - 12) ** 2 < 64
    circles |= (x - 20) ** 2 + (y - 25) ** 2 < 49
    graph = img_to_graph(circles.astype(float), mask=circles)
    graph.data = np.exp(-graph.data / graph.data.std())
    reference = spectral_clustering(graph, n_clusters=2, eigen_solver="arpack",
                                    random_state=0)
    for seed in range(5):
        model = _fit(graph, 2, random_state=seed)
        assert adjusted_rand_score(reference, model.labels_) == 1.0


def test_sklearn_precomputed_nearest_neighbors_filtering():
    # scikit-learn's test_precomputed_nearest_neighbors_filtering: a distance
    # graph with more neighbours than n_neighbors is filtered down, so 10
    # and 20 stored neighbours give the same labels; they equal the fit from
    # the features.
    from sklearn.datasets import make_blobs
    from sklearn.neighbors import NearestNeighbors

    for seed in range(0, 100, 10):
        X, y = make_blobs(n_samples=300, random_state=seed,
                          centers=[[5, 5, 5], [-5, -5, -5]], cluster_std=0.01)
        results = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # two components
            for extra in (0, 10):
                graph = NearestNeighbors(n_neighbors=10 + extra).fit(X)
                graph = graph.kneighbors_graph(X, mode="distance")
                model = AMGSpectralClustering(
                    2, affinity="precomputed_nearest_neighbors", n_neighbors=10,
                    random_state=seed, n_init=10).fit(graph)
                results.append(model)
            feat = AMGSpectralClustering(2, n_neighbors=10, random_state=seed,
                                         n_init=10).fit(X)
        np.testing.assert_array_equal(results[0].labels_, results[1].labels_)
        np.testing.assert_array_equal(results[0].affinity_matrix_.toarray(),
                                      feat.affinity_matrix_.toarray())
        assert adjusted_rand_score(y, results[0].labels_) == 1.0
    assert results[0].__sklearn_tags__().input_tags.pairwise


def test_pipeline_with_neighbors_transformer():
    # Any KNeighborsTransformer can precede the estimator in a Pipeline.
    from sklearn.neighbors import KNeighborsTransformer
    from sklearn.pipeline import make_pipeline

    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(60, 3) + c for c in ([0, 0, 0], [6, 0, 0], [0, 6, 0])])
    y = np.repeat(np.arange(3), 60)
    pipe = make_pipeline(
        KNeighborsTransformer(n_neighbors=8, mode="distance"),
        AMGSpectralClustering(3, affinity="precomputed_nearest_neighbors",
                              n_neighbors=8, random_state=0, n_init=10),
    )
    labels = pipe.fit_predict(X)
    assert adjusted_rand_score(y, labels) == 1.0
    direct = AMGSpectralClustering(3, n_neighbors=8, random_state=0, n_init=10).fit(X)
    np.testing.assert_array_equal(labels, direct.labels_)


def test_precomputed_nearest_neighbors_errors():
    model = AMGSpectralClustering(2, affinity="precomputed_nearest_neighbors")
    with pytest.raises(ValueError, match="AMGSpectralClustering.*square"):
        model.fit(sparse.csr_matrix(np.ones((4, 5))))
    D = sparse.csr_matrix(np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0.0]]))
    with pytest.raises(ValueError, match="AMGSpectralClustering.*neighbors"):
        model.set_params(n_neighbors=3).fit(D)


def test_sklearn_np_matrix_raises():
    with pytest.raises(TypeError, match=r"np\.matrix is not supported"):
        AMGSpectralClustering(2, affinity="precomputed").fit(
            np.matrix([[0.0, 2.0], [2.0, 0.0]]))


def test_fewer_directions_than_clusters_warn():
    # Five isolated vertices beside a triangle: the pencil has 3 directions
    # on the vertices in components of two or more, fewer than
    # n_clusters=4.
    A = np.zeros((8, 8))
    A[:3, :3] = 1.0
    np.fill_diagonal(A, 0.0)
    with pytest.warns(UserWarning, match="fewer than n_clusters=4"):
        model = _fit(A, 4)
    assert model.embedding_.shape[1] < 4
    # The bootstrap path: the papers' embedding with one hierarchy has 2.
    B, _, _ = make_attributed_sbm(200, 4, mean_degree=10, mixing=0.05,
                                  random_state=0)
    with pytest.warns(UserWarning, match="fewer than n_clusters=4"):
        _fit(B, 4, embedding="svd", max_hierarchies=1, n_init=5)


def test_early_stop_counts_restarts_in_seed_order():
    from sklearn_spectral.cluster._amg_spectral import _early_stop

    flat = np.full(100, 0.5)
    assert _early_stop(flat, patience=20) == 21
    # an improvement beyond the tolerance restarts the count
    scores = np.r_[np.full(15, 0.5), 0.6, np.full(84, 0.6)]
    assert _early_stop(scores, patience=20) == 36
    # gains below the relative tolerance do not
    creeping = 0.5 + 1e-8 * np.arange(100)
    assert _early_stop(creeping, patience=20, rtol=1e-5) == 21
    rising = np.linspace(0.1, 0.9, 30)
    assert _early_stop(rising, patience=20) == 30


@pytest.mark.parametrize("seed", [0, 1])
def test_restarts_stop_early_on_large_graphs_keeping_modularity(seed, monkeypatch):
    # Where restarts are costly they stop once 20 in a row do not improve
    # the best modularity; the kept modularity stays within 1e-4 (relative)
    # of all n_init restarts', and the count does not depend on the threads.
    import sklearn_spectral.cluster._amg_spectral as amg

    A, y = make_attributed_sbm(
        30000, 5, mean_degree=10, mixing=0.35, random_state=seed
    )[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        early = _fit(A, 5, random_state=seed)
        with threadpool_limits(1, user_api="openmp"):
            serial = _fit(A, 5, random_state=seed)
        monkeypatch.setattr(amg, "_EARLY_STOP_MIN_WORK", np.inf)
        full = _fit(A, 5, random_state=seed)
    assert full.n_restarts_ == 100
    assert 21 <= early.n_restarts_ < 100
    assert serial.n_restarts_ == early.n_restarts_
    np.testing.assert_array_equal(serial.labels_, early.labels_)
    assert early.modularity_ >= full.modularity_ - 1e-4 * abs(full.modularity_)
    assert adjusted_rand_score(y, early.labels_) >= (
        adjusted_rand_score(y, full.labels_) - 0.01
    )


# --- solver="auto": Lanczos, shift-invert, else the bootstrap ----------------


def _dense_pencil(A, K):
    """Lowest K eigenpairs of (D - A, D) on the vertices with edges."""
    A = sparse.csr_matrix(A).toarray()
    np.fill_diagonal(A, 0.0)
    degree = A.sum(axis=1)
    inside = degree > 0
    B, d = A[inside][:, inside], degree[inside]
    vals, vecs = scipy.linalg.eigh(np.diag(d) - B, np.diag(d),
                                   subset_by_index=(0, K - 1))
    return vals, vecs, inside, d


def _principal_cosines(V, W, d):
    Qv = np.linalg.qr(np.sqrt(d)[:, None] * V)[0]
    Qw = np.linalg.qr(np.sqrt(d)[:, None] * W)[0]
    return np.linalg.svd(Qv.T @ Qw, compute_uv=False)


def test_lanczos_embedding_equals_dense_eigensolve(clear_sbm):
    # An expander: Lanczos converges well within its budget and gives the
    # lowest eigenpairs of the pencil, D-orthonormal, the labels of the
    # bootstrap path.
    A, y, _ = clear_sbm
    model = _fit(A, 4)
    assert model.solver_ == "lanczos"
    assert 0 < model.n_matvecs_ <= 300
    assert model.n_hierarchies_ == 0 and model.n_vcycles_ == 0
    vals, vecs, inside, d = _dense_pencil(A, 4)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=1e-6, atol=1e-10)
    V = model.embedding_
    degree = np.asarray(A.sum(axis=1)).ravel()
    np.testing.assert_allclose(V.T @ (degree[:, None] * V), np.eye(4), atol=1e-9)
    assert _principal_cosines(V[inside], vecs, d).min() > 1 - 1e-8
    boot = _fit(A, 4, solver="bootstrap")
    assert adjusted_rand_score(y, model.labels_) == 1.0
    assert adjusted_rand_score(boot.labels_, model.labels_) == 1.0
    assert model.modularity_ == pytest.approx(boot.modularity_, abs=1e-12)


def test_lanczos_near_threshold_matches_bootstrap():
    # Close to the detectability limit (where the bootstrap needs many
    # refinement steps), Lanczos still converges within its budget, to the
    # eigenvectors, with the ARI and modularity of the bootstrap path.
    K, c = 4, 10.0
    eps = sbm_detectability_threshold(K, c) - 0.12
    A, y, _ = make_attributed_sbm(3000, K, mean_degree=c, mixing=eps, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # isolated vertices
        model = _fit(A, K, n_init=30)
        boot = _fit(A, K, n_init=30, solver="bootstrap")
    assert model.solver_ == "lanczos" and boot.solver_ == "bootstrap"
    vals, vecs, inside, d = _dense_pencil(A, K)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=1e-6, atol=1e-10)
    assert _principal_cosines(model.embedding_[inside], vecs, d).min() > 1 - 1e-6
    assert adjusted_rand_score(y, model.labels_) == pytest.approx(
        adjusted_rand_score(y, boot.labels_), abs=0.01)
    assert model.modularity_ >= boot.modularity_ - 1e-3


def test_lanczos_disconnected_projects_out_components():
    # Two SBMs side by side: the component vector (eigenvalue 0) of each is
    # exact and first; Lanczos finds the others, as the dense solve does.
    A1, y1, _ = make_attributed_sbm(600, 3, mean_degree=20, mixing=0.05,
                                    random_state=0)
    A2, y2, _ = make_attributed_sbm(400, 2, mean_degree=20, mixing=0.05,
                                    random_state=1)
    A = sparse.block_diag([A1, A2], format="csr")
    y = np.concatenate([y1, 3 + y2])
    with pytest.warns(UserWarning, match="not connected"):
        model = _fit(A, 5)
    assert model.solver_ == "lanczos"
    vals, vecs, inside, d = _dense_pencil(A, 5)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=1e-6, atol=1e-10)
    assert np.all(model.ritz_values_[:2] == 0.0)
    assert _principal_cosines(model.embedding_[inside], vecs, d).min() > 1 - 1e-8
    assert adjusted_rand_score(y, model.labels_) == 1.0


def _pixel_graph(side):
    # A 4 x 4 mosaic of flat tiles with a little noise, weighted as in
    # scikit-learn's coin segmentation example.
    rng = np.random.RandomState(0)
    img = np.kron(rng.rand(4, 4), np.ones((side, side)))
    img += 0.05 * rng.rand(4 * side, 4 * side)
    graph = img_to_graph(img)
    graph.data = np.exp(-10 * graph.data / graph.data.std()) + 1e-6
    return sparse.csr_matrix(graph)


def test_grid_takes_shift_invert():
    # A pixel grid: the low eigenvalues crowd near 0, but the grid factors
    # cheaply, and Lanczos on the inverse gives the lowest eigenpairs of the
    # pencil, as the dense solve does, spanning what the bootstrap finds.
    from sklearn_spectral.cluster import _amg_spectral

    A = _pixel_graph(10)
    K = 6
    model = _fit(A, K, n_init=20, verbose=1)
    assert model.solver_ == "shift_invert"
    assert model.n_matvecs_ == 0
    assert 0 < model.n_solves_ <= _amg_spectral._SHIFT_INVERT_MAX_SOLVES == 300
    assert model.phase_times_["lanczos"] == 0.0
    assert model.phase_times_["shift-invert"] > 0.0
    assert model.n_hierarchies_ == 0 and model.n_vcycles_ == 0
    vals, vecs, inside, d = _dense_pencil(A, K)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=1e-6, atol=1e-12)
    assert model.ritz_values_[0] == 0.0
    assert inside.all()
    V = model.embedding_
    np.testing.assert_allclose(V.T @ (d[:, None] * V), np.eye(K), atol=1e-9)
    assert _principal_cosines(V, vecs, d).min() > 1 - 1e-8
    # The bootstrap's Ritz vectors span nearly the same space, so K-means
    # from the same seeds mostly ends at the same labels on both embeddings.
    boot = _fit(A, K, n_init=20, solver="bootstrap")
    assert _principal_cosines(boot.embedding_, V, d).min() > 1 - 1e-4
    seeds = np.random.RandomState(0).rand(30, A.shape[0]).argsort(axis=1)[:, :K]
    empty = (np.zeros((0, K)), np.zeros((A.shape[0], 0), dtype=np.int64),
             np.zeros(0, dtype=np.int64), np.zeros((0, K)))
    graph = (A.indptr.astype(np.int64), A.indices.astype(np.int64), A.data)
    q_si, q_boot, ari = [], [], []
    for s in seeds:
        labels, _, q, _ = _kmeans_single(V, *empty, s, *graph, 10)
        labels_b, _, qb, _ = _kmeans_single(boot.embedding_, *empty, s, *graph, 10)
        ari.append(adjusted_rand_score(labels, labels_b))
        q_si.append(q)
        q_boot.append(qb)
    # K-means from random vertices is sensitive: a few seeds end apart.
    assert np.mean(np.array(ari) > 0.99) >= 0.7
    assert max(q_si) == pytest.approx(max(q_boot), abs=0.01)
    assert np.mean(q_si) == pytest.approx(np.mean(q_boot), abs=0.02)


def test_shift_invert_disconnected_grids():
    # Two pixel grids side by side: each component is pinned at one vertex,
    # its vector (eigenvalue 0) exact and first; the solves give the other
    # eigenpairs as the dense solve does.
    A = sparse.block_diag([_pixel_graph(10), _pixel_graph(8)], format="csr")
    K = 6
    with pytest.warns(UserWarning, match="not connected"):
        model = _fit(A, K, n_init=10)
    assert model.solver_ == "shift_invert"
    vals, vecs, inside, d = _dense_pencil(A, K)
    np.testing.assert_allclose(model.ritz_values_, vals, rtol=1e-6, atol=1e-12)
    assert np.all(model.ritz_values_[:2] == 0.0)
    assert _principal_cosines(model.embedding_[inside], vecs, d).min() > 1 - 1e-8


@pytest.mark.parametrize("budget", ["_SHIFT_INVERT_MAX_FILL",
                                    "_SHIFT_INVERT_MAX_SOLVES"])
def test_eigensolver_fails_then_the_same_bootstrap(budget, monkeypatch):
    # The pixel grid with the factorisation turned down (no fill allowed):
    # plain Lanczos does not converge within its 300 products; or with too
    # few solves for shift-invert to converge. The fit then bootstraps
    # exactly as solver="bootstrap" does (the attempt leaves the random
    # state as it found it), so labels and embedding are the same.
    from sklearn_spectral.cluster import _amg_spectral

    monkeypatch.setattr(_amg_spectral, budget, 5 if "SOLVES" in budget else 0)
    A = _pixel_graph(15)
    model = _fit(A, 6, n_init=20)
    assert model.solver_ == "bootstrap"
    if "SOLVES" in budget:
        assert model.n_matvecs_ == 0 and model.n_solves_ == 5
        assert model.phase_times_["shift-invert"] > 0.0
    else:
        assert model.n_matvecs_ == _amg_spectral._LANCZOS_MAX_MATVECS == 300
        assert model.n_solves_ == 0 and "shift-invert" not in model.phase_times_
        assert model.phase_times_["lanczos"] > 0.0
    boot = _fit(A, 6, n_init=20, solver="bootstrap")
    assert boot.n_matvecs_ == 0 and boot.n_solves_ == 0
    np.testing.assert_array_equal(model.labels_, boot.labels_)
    np.testing.assert_array_equal(model.embedding_, boot.embedding_)


def test_factor_order_turns_down_expanders():
    # A block model: its breadth-first levels hold a large share of the
    # vertices, and it is turned down before any ordering; a grid gets
    # SuperLU's order, whose symbolic count is the factor SuperLU makes.
    from scipy.sparse.linalg import splu

    from sklearn_spectral.cluster._amg_fill import _cholesky_count
    from sklearn_spectral.cluster._amg_spectral import _factor_order

    A, _, _ = make_attributed_sbm(3000, 4, mean_degree=10, mixing=0.3,
                                  random_state=0)
    L, _ = pinned_laplacian(A, connected_components(A)[1])
    order, reason, _ = _factor_order(L, max_width=2 * np.sqrt(L.nnz),
                                     max_fill=20 * L.nnz, max_flops=np.inf)
    assert order is None and "level width" in reason
    order, reason, _ = _factor_order(L, max_width=np.inf, max_fill=2 * L.nnz,
                                     max_flops=np.inf)
    assert order is None and "entries" in reason
    G = _pixel_graph(10)
    L, _ = pinned_laplacian(G, connected_components(G)[1])
    order, reason, nnz = _factor_order(L, max_width=2 * np.sqrt(L.nnz),
                                       max_fill=20 * L.nnz, max_flops=np.inf)
    assert reason == "" and sorted(order) == list(range(L.shape[0]))
    lu = splu(L[order][:, order].tocsc(), permc_spec="NATURAL",
              diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    assert nnz == lu.L.nnz == lu.U.nnz
    # The count against a dense Cholesky of a small random pattern.
    rng = np.random.RandomState(0)
    B = sparse.random(60, 60, density=0.05, random_state=rng)
    B = sparse.csr_matrix(B + B.T + 60 * sparse.eye(60))
    perm = rng.permutation(60).astype(np.int64)
    C = scipy.linalg.cholesky(B[perm][:, perm].toarray(), lower=True)
    count, flops = _cholesky_count(B.indptr.astype(np.int64),
                                   B.indices.astype(np.int64), perm, 10**6)
    assert count == np.count_nonzero(np.abs(C) > 0)
    assert _cholesky_count(B.indptr.astype(np.int64), B.indices.astype(np.int64),
                           perm, count - 1) == (-1, -1.0)


def test_svd_embedding_always_bootstraps(clear_sbm):
    A, _, _ = clear_sbm
    model = _fit(A, 4, embedding="svd", n_init=5)
    assert model.solver_ == "bootstrap" and model.n_matvecs_ == 0
