"""Tests of SDPKMeans: the SDP optimum, exact recovery, and the estimator API."""

import pickle
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_spectral.cluster import SDPKMeans
from sklearn_spectral.cluster._sdp_kernels import _project_rows_simplex
from sklearn_spectral.cluster._sdp_kmeans import _project_simplex
from sklearn_spectral.datasets import make_heterogeneous_mixture


def _misclustering(y_true, y_pred):
    k = max(y_true.max(), y_pred.max()) + 1
    table = np.zeros((k, k))
    np.add.at(table, (y_true, y_pred), 1)
    rows, cols = linear_sum_assignment(-table)
    return 1.0 - table[rows, cols].sum() / y_true.size


def _planted_inner(X, y):
    """<A, Z_G> for the partition y: the centred K-means gain of y."""
    Xc = X - X.mean(axis=0)
    total = 0.0
    for k in np.unique(y):
        s = Xc[y == k].sum(axis=0)
        total += s @ s / np.sum(y == k)
    return total


def _cvxpy_peng_wei(X, k):
    cp = pytest.importorskip("cvxpy")
    Xc = X - X.mean(axis=0)
    A = Xc @ Xc.T
    n = X.shape[0]
    Z = cp.Variable((n, n), PSD=True)
    cons = [Z >= 0, cp.sum(Z, axis=1) == 1, cp.trace(Z) == k]
    prob = cp.Problem(cp.Maximize(cp.trace(A @ Z)), cons)
    prob.solve(solver="SCS", eps=1e-7, max_iters=200_000)
    return prob.value


def test_misclustering_helper_matches_relabelling():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert _misclustering(y, (y + 1) % 3) == 0.0
    assert _misclustering(y, np.array([0, 0, 1, 1, 2, 1])) == pytest.approx(1 / 6)


def test_simplex_projection_matches_sort_based():
    rng = np.random.RandomState(0)
    V = rng.randn(2, 7, 7)
    W = V.copy()
    _project_rows_simplex(W, 2)
    for i in range(7):
        expected = _project_simplex(np.concatenate([V[0, i], V[1, i]]), 1.0)
        assert_allclose(np.concatenate([W[0, i], W[1, i]]), expected, atol=1e-12)
    # A point already on the simplex is left unchanged, and so is the input.
    p = rng.dirichlet(np.ones(5))
    assert_allclose(_project_simplex(p, 1.0), p, atol=1e-12)
    # Projection is the closest point: compare with a random feasible point.
    v = rng.randn(6)
    w = _project_simplex(v, 2.0)
    q = 2.0 * rng.dirichlet(np.ones(6))
    assert np.linalg.norm(v - w) <= np.linalg.norm(v - q)
    assert w.sum() == pytest.approx(2.0) and w.min() >= 0


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_solver_matches_cvxpy(seed):
    # Below the recovery cutoff the relaxation is not tight: a real comparison.
    X, _ = make_heterogeneous_mixture(
        60, n_clusters=3, separation=0.7, random_state=seed
    )
    reference = _cvxpy_peng_wei(X, 3)
    km = SDPKMeans(3, solver="exact", tol=1e-7, max_iter=20_000, random_state=0)
    km.fit(X)
    Xc = X - X.mean(axis=0)
    ours = np.sum(Xc**2) - km.objective_
    assert ours == pytest.approx(reference, rel=1e-4)
    assert km.primal_infeasibility_ < 1e-5


@pytest.mark.parametrize(
    "solver, seed", [("exact", 0), ("exact", 1), ("nlr", 0), ("nlr", 1), ("nlr", 2)]
)
def test_exact_recovery_above_cutoff(solver, seed):
    X, y = make_heterogeneous_mixture(
        150, n_clusters=3, separation=1.5, random_state=seed
    )
    km = SDPKMeans(3, solver=solver, random_state=seed).fit(X)
    assert _misclustering(y, km.labels_) == 0.0
    # Z is the planted membership matrix: its value is the planted partition's.
    Xc = X - X.mean(axis=0)
    planted = _planted_inner(X, y)
    assert np.sum(Xc**2) - km.objective_ == pytest.approx(planted, rel=1e-3)
    assert km.objective_ <= km.inertia_ * (1 + 10 * km.tol)
    assert km.objective_ == pytest.approx(km.inertia_, rel=10 * km.tol)
    assert km.primal_infeasibility_ <= 10 * km.tol


def test_objective_bounds_kmeans_inertia_below_cutoff():
    X, _ = make_heterogeneous_mixture(
        60, n_clusters=3, separation=0.6, random_state=3
    )
    km = SDPKMeans(3, solver="exact", tol=1e-5, random_state=0).fit(X)
    lloyd = KMeans(3, n_init=10, random_state=0).fit(X)
    assert km.objective_ <= lloyd.inertia_ * (1 + 1e-5)
    assert km.objective_ <= km.inertia_ * (1 + 1e-5)


def test_sketch_recovers_labels():
    X, y = make_heterogeneous_mixture(
        3000, n_clusters=3, separation=1.5, random_state=0
    )
    km = SDPKMeans(3, solver="sketch", sketch_fraction=0.03, random_state=0)
    km.fit(X)
    assert km.solver_ == "sketch"
    assert _misclustering(y, km.labels_) == 0.0


def test_nlr_has_no_quadratic_memory():
    n = 3000
    X, _ = make_heterogeneous_mixture(n, n_clusters=3, separation=1.5, random_state=0)
    km = SDPKMeans(3, solver="nlr", max_iter=30, random_state=0)
    tracemalloc.start()
    with pytest.warns(ConvergenceWarning):
        km.fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * n * 8 / 10


@pytest.mark.parametrize("solver", ["exact", "nlr"])
def test_centroid_rounding_agrees_above_cutoff(solver):
    X, y = make_heterogeneous_mixture(
        90, n_clusters=3, separation=1.5, random_state=4
    )
    km = SDPKMeans(3, solver=solver, rounding="centroid", random_state=0).fit(X)
    assert _misclustering(y, km.labels_) == 0.0


def test_predict_transform_consistency():
    X, y = make_heterogeneous_mixture(
        90, n_clusters=3, separation=1.0, random_state=5
    )
    X_orig = X.copy()
    km = SDPKMeans(3, random_state=0).fit(X)
    assert_array_equal(X, X_orig)
    D = km.transform(X)
    assert D.shape == (90, 3)
    assert_array_equal(D.argmin(axis=1), km.predict(X))
    for k in range(3):
        assert_allclose(km.cluster_centers_[k], X[km.labels_ == k].mean(axis=0))
    assert km.inertia_ == pytest.approx(
        np.sum((X - km.cluster_centers_[km.labels_]) ** 2)
    )
    assert_array_equal(km.fit_predict(X), km.labels_)


def test_units_do_not_change_the_result():
    X, _ = make_heterogeneous_mixture(
        60, n_clusters=3, separation=1.2, random_state=6
    )
    for solver in ("exact", "nlr"):
        a = SDPKMeans(3, solver=solver, random_state=0).fit(X)
        b = SDPKMeans(3, solver=solver, random_state=0).fit(1e3 * X + 5.0)
        assert adjusted_rand_score(a.labels_, b.labels_) == 1.0
        assert b.objective_ == pytest.approx(1e6 * a.objective_, rel=1e-3)


@pytest.mark.parametrize("solver", ["exact", "nlr", "sketch"])
def test_same_random_state_same_result(solver):
    X, _ = make_heterogeneous_mixture(
        80, n_clusters=3, separation=0.8, random_state=7
    )
    a = SDPKMeans(3, solver=solver, random_state=11).fit(X)
    b = SDPKMeans(3, solver=solver, random_state=11).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert a.objective_ == b.objective_


def test_float32_keeps_dtype_of_centres():
    X, y = make_heterogeneous_mixture(60, n_clusters=2, separation=1.5, random_state=0)
    km = SDPKMeans(2, random_state=0).fit(X.astype(np.float32))
    assert km.cluster_centers_.dtype == np.float32
    assert _misclustering(y, km.labels_) == 0.0


def test_errors_and_warnings():
    X = np.random.RandomState(0).randn(5, 2)
    with pytest.raises(ValueError, match=r"^SDPKMeans: n_samples=5 should be >= "):
        SDPKMeans(n_clusters=6).fit(X)
    X, _ = make_heterogeneous_mixture(60, n_clusters=3, random_state=0)
    for solver in ("exact", "nlr"):
        with pytest.warns(ConvergenceWarning, match="^SDPKMeans: the .* max_iter=3"):
            km = SDPKMeans(3, solver=solver, max_iter=3, random_state=0).fit(X)
        assert km.n_iter_ == 3
    with pytest.raises(ValueError, match="solver"):
        SDPKMeans(solver="cvxpy").fit(X)
    with pytest.raises(ValueError, match="features"):
        SDPKMeans(3, random_state=0).fit(X).predict(X[:, :2])


def test_verbose_prints_progress(capsys):
    X, _ = make_heterogeneous_mixture(60, n_clusters=3, random_state=0)
    SDPKMeans(3, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "ADMM step 1:" in out and "objective" in out


def test_single_cluster():
    X = np.random.RandomState(0).randn(20, 3)
    km = SDPKMeans(1).fit(X)
    assert_array_equal(km.labels_, 0)
    assert km.objective_ == pytest.approx(km.inertia_)


def test_pipeline_grid_search_clone_pickle():
    X, y = make_heterogeneous_mixture(
        90, n_clusters=3, separation=1.5, random_state=8
    )
    pipe = make_pipeline(StandardScaler(), SDPKMeans(3, solver="nlr", random_state=0))
    labels = pipe.fit_predict(X)
    assert _misclustering(y, labels) == 0.0
    grid = GridSearchCV(
        SDPKMeans(solver="nlr", random_state=0), {"n_clusters": [2, 3]}, cv=2,
        n_jobs=2,
        scoring=lambda est, X_, y_=None: -est.transform(X_).min(axis=1).sum(),
    )
    grid.fit(X)
    assert grid.best_params_["n_clusters"] == 3
    km = pickle.loads(pickle.dumps(pipe[-1]))
    assert_array_equal(km.predict(StandardScaler().fit_transform(X)), labels)
    assert clone(km).get_params() == km.get_params()


def test_two_repeated_points_terminate(tmp_path):
    # Rows made of two repeated points once sent the simplex projection into
    # a cycle (rounding let entries back into the active set) inside a nogil
    # loop; run in a child process so that a regression fails instead of
    # hanging the suite.
    code = (
        "import numpy as np\n"
        "from sklearn_spectral.cluster import SDPKMeans\n"
        "X = np.vstack((np.ones((6, 3)), np.zeros((6, 3))))\n"
        "for solver in ('exact', 'nlr'):\n"
        "    labels = SDPKMeans(2, solver=solver, random_state=0).fit(X).labels_\n"
        "    assert len(set(labels[:6])) == 1 and len(set(labels[6:])) == 1\n"
        "    assert labels[0] != labels[6]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=tmp_path,  # import the installed package, not the source tree
    )
    assert done.returncode == 0, done.stderr
