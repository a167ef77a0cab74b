"""AMGSpectralClustering's modularity refinement: vertex moves, cluster
splits, greedy merges, and the estimator's ``refine=True``."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.image import img_to_graph
from sklearn.metrics import adjusted_rand_score

from sklearn_spectral.cluster._amg_spectral import (
    AMGSpectralClustering,
    _refine_labels,
)
from sklearn_spectral.cluster._modularity_refine import (
    _merge_clusters,
    _modularity,
    _modularity_moves,
    _split_clusters,
)
from sklearn_spectral.datasets import make_attributed_sbm
from sklearn_spectral.utils.graph import _canonical_csr, modularity


def _graph(A):
    A = _canonical_csr(sparse.csr_matrix(A, dtype=np.float64))
    return A, (A.indptr, A.indices, A.data)


def _weighted_sbm(n, k, seed):
    A, y, _ = make_attributed_sbm(n, k, mean_degree=8, mixing=0.35,
                                  random_state=seed)
    A = sparse.triu(sparse.csr_matrix(A), 1).tocsr()
    A.data = np.random.RandomState(seed).uniform(0.5, 2.0, A.nnz)
    return _graph(A + A.T) + (y,)


def _reference_sweep(A, labels, k):
    """One sweep of single-vertex moves, each gain a difference of two full
    modularity evaluations."""
    labels = labels.copy()
    degree = np.asarray(A.sum(axis=1)).ravel()
    W = degree.sum()
    for v in range(A.shape[0]):
        a = labels[v]
        if np.count_nonzero(labels == a) <= 1:
            continue
        q0 = modularity(A, labels)
        row = A.indices[A.indptr[v]:A.indptr[v + 1]]
        best, best_gain = a, 1e-10 * degree[v] * 2 / W
        for c in np.unique(labels[row[row != v]]):
            if c == a:
                continue
            trial = labels.copy()
            trial[v] = c
            gain = modularity(A, trial) - q0
            if gain > best_gain:
                best, best_gain = c, gain
        labels[v] = best
    return labels


def test_moves_match_full_recomputation():
    A, _, _ = _weighted_sbm(120, 4, seed=0)
    # Self-loops count in the degrees but not in the gain of a move.
    A, graph = _graph(A + sparse.diags(np.random.RandomState(0).uniform(0, 3, 120)))
    rng = np.random.RandomState(1)
    labels = rng.randint(0, 4, A.shape[0]).astype(np.int64)
    expected = _reference_sweep(A, labels, 4)
    got = labels.copy()
    n_moves, n_sweeps = _modularity_moves(*graph, got, 4, 1)
    assert n_sweeps == 1 and n_moves == np.count_nonzero(got != labels) > 0
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(4))
def test_moves_raise_modularity_to_a_fixed_point(seed):
    A, graph, _ = _weighted_sbm(400, 5, seed)
    labels = np.random.RandomState(seed).randint(0, 5, A.shape[0]).astype(np.int64)
    before = _modularity(*graph, labels, 5)
    assert before == pytest.approx(modularity(A, labels))
    history = [before]
    for _ in range(30):
        n_moves, _ = _modularity_moves(*graph, labels, 5, 1)
        history.append(_modularity(*graph, labels, 5))
        if n_moves == 0:
            break
    assert n_moves == 0
    assert np.all(np.diff(history) >= 0) and history[-1] > before + 0.1
    assert np.unique(labels).size == 5  # no cluster emptied
    again = labels.copy()
    assert _modularity_moves(*graph, again, 5, 10) == (0, 1)
    np.testing.assert_array_equal(again, labels)


def test_moves_keep_singletons_and_skip_self_loops():
    # A triangle with a heavy self-loop and a pendant singleton cluster: the
    # singleton is never moved out (that would empty its cluster).
    A = sparse.csr_matrix(np.array([
        [5.0, 1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 0.0],
    ]))
    A, graph = _graph(A)
    labels = np.array([0, 0, 0, 1], dtype=np.int64)
    before = modularity(A, labels)
    _modularity_moves(*graph, labels, 2, 10)
    # 1 and 2 join 3 (the self-loop makes cluster 0's volume large), 3 stays.
    np.testing.assert_array_equal(labels, [0, 1, 1, 1])
    assert modularity(A, labels) > before
    np.testing.assert_array_equal(_reference_sweep(A, labels, 2), labels)


def test_split_cuts_each_cluster_across_its_principal_direction():
    rng = np.random.RandomState(0)
    # Cluster 0: two tight groups along the first axis; cluster 1: two
    # along the second; cluster 2: identical rows (stays whole).
    X = np.vstack([
        rng.normal([-5, 0], 0.1, (30, 2)), rng.normal([5, 0], 0.1, (20, 2)),
        rng.normal([0, -5], 0.1, (25, 2)), rng.normal([0, 5], 0.1, (25, 2)),
        np.ones((10, 2)),
    ])
    labels = np.repeat([0, 1, 2], [50, 50, 10]).astype(np.int64)
    for threads in (1, 2):
        pieces = _split_clusters(X, labels, 3, 10, threads)
        assert set(pieces[:50]) <= {0, 3} and set(pieces[50:100]) <= {1, 4}
        assert adjusted_rand_score(np.repeat([0, 1], [30, 20]), pieces[:50]) == 1
        assert adjusted_rand_score(np.repeat([0, 1], 25), pieces[50:100]) == 1
        np.testing.assert_array_equal(pieces[100:], 2)


def _reference_merge(A, pieces, k, K):
    """Greedy merges, each pair scored by a full modularity evaluation."""
    root = np.arange(k)
    while np.unique(root[pieces]).size > K:
        roots = np.unique(root[pieces])
        best = None
        for i, a in enumerate(roots):
            for b in roots[i + 1:]:
                trial = np.where(root == b, a, root)
                q = modularity(A, trial[pieces])
                if best is None or q > best[0]:
                    best = (q, a, b)
        _, a, b = best
        root[root == b] = a
    return np.searchsorted(np.unique(root[pieces]), root)


def test_merge_matches_full_recomputation():
    A, graph, _ = _weighted_sbm(150, 3, seed=2)
    pieces = np.random.RandomState(0).randint(0, 8, A.shape[0]).astype(np.int64)
    merged = _merge_clusters(*graph, pieces, 8, 3)
    np.testing.assert_array_equal(merged, _reference_merge(A, pieces, 8, 3))
    # Pieces without vertices get -1 and do not count.
    pieces[pieces == 5] = 4
    merged = _merge_clusters(*graph, pieces, 8, 3)
    assert merged[5] == -1 and set(merged[pieces]) == {0, 1, 2}


def test_refine_never_lowers_modularity_and_is_a_fixed_point():
    A, graph, y = _weighted_sbm(600, 4, seed=3)
    rng = np.random.RandomState(0)
    X = np.eye(4)[y] + rng.normal(0, 0.8, (A.shape[0], 4))  # noisy embedding
    for seed in range(3):
        labels = np.random.RandomState(seed).randint(0, 4, A.shape[0])
        refined, q, _ = _refine_labels(A, X, labels, 4, max_iter=10, n_threads=2)
        assert q == pytest.approx(modularity(A, refined))
        assert q >= modularity(A, labels)
        assert np.unique(refined).size == 4
        again, q_again, rounds = _refine_labels(A, X, refined, 4, max_iter=10,
                                                n_threads=1)
        np.testing.assert_array_equal(again, refined)
        assert q_again == q and rounds == 0


def _coins_like(side=48, seed=0):
    # Four bright disks on a noisy background, weighted as in scikit-learn's
    # coin segmentation example.
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:side, :side]
    img = 0.05 * rng.randn(side, side)
    for cy, cx in [(12, 12), (12, 36), (36, 12), (36, 36)]:
        img += ((yy - cy) ** 2 + (xx - cx) ** 2 < 25).astype(float)
    graph = img_to_graph(img)
    graph.data = np.exp(-10 * graph.data / graph.data.std()) + 1e-6
    return sparse.csr_matrix(graph)


def test_estimator_refine_raises_modularity():
    A = _coins_like()
    plain = AMGSpectralClustering(5, affinity="precomputed", random_state=0,
                                  n_init=20).fit(A)
    refined = AMGSpectralClustering(5, affinity="precomputed", random_state=0,
                                    n_init=20, refine=True).fit(A)
    assert "refine" not in plain.phase_times_ and plain.n_refine_rounds_ == 0
    assert "refine" in refined.phase_times_
    np.testing.assert_array_equal(refined.embedding_, plain.embedding_)
    assert refined.inertia_ == plain.inertia_
    assert refined.modularity_ == pytest.approx(modularity(A, refined.labels_))
    # Disks of 1.4% of the volume each against a background of 94%: equal
    # volume tiles score far higher.
    assert refined.modularity_ > plain.modularity_ + 0.1
    assert np.unique(refined.labels_).size == 5


def test_estimator_refine_skipped_with_attributes():
    A, y, att = make_attributed_sbm(600, 3, mean_degree=10, mixing=0.3,
                                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plain = AMGSpectralClustering(3, affinity="precomputed",
                                      random_state=0).fit(A, attributes=att)
        refined = AMGSpectralClustering(3, affinity="precomputed", random_state=0,
                                        refine=True).fit(A, attributes=att)
    np.testing.assert_array_equal(refined.labels_, plain.labels_)
    assert "refine" not in refined.phase_times_


def test_estimator_refine_stops_restarts_early_whatever_the_threads():
    from threadpoolctl import threadpool_limits

    A, graph, y = _weighted_sbm(1500, 6, seed=4)
    plain = AMGSpectralClustering(6, affinity="precomputed", random_state=0).fit(A)
    fits = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="openmp"):
            fits.append(AMGSpectralClustering(6, affinity="precomputed",
                                              random_state=0, refine=True).fit(A))
    refined = fits[0]
    # Small graph: all 100 restarts without the refinement; with it they
    # stop once 5 in a row have not raised the best modularity.
    assert plain.n_restarts_ == 100
    assert refined.n_restarts_ < 20
    assert fits[1].n_restarts_ == refined.n_restarts_
    np.testing.assert_array_equal(fits[1].labels_, refined.labels_)
    assert refined.modularity_ >= plain.modularity_ - 1e-3
    assert (adjusted_rand_score(y, refined.labels_)
            >= adjusted_rand_score(y, plain.labels_) - 0.01)
