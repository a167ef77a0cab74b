"""STKR against the properties scikit-learn asserts of its reference estimators.

scikit-learn's suites for :class:`~sklearn.kernel_ridge.KernelRidge`
(``sklearn/tests/test_kernel_ridge.py``) and for ``LabelSpreading`` and
``LabelPropagation`` (``sklearn/semi_supervised/tests/test_label_propagation.py``)
were run against :class:`STKRRegressor` and :class:`STKRClassifier`; every
property that applies is re-expressed here for our estimators.

Not carried over, by design:

- ``sample_weight`` (KernelRidge): ``fit`` takes none, as in scikit-learn's
  semi-supervised estimators.
- ``alpha=0`` with a least-squares fallback (KernelRidge): ``alpha`` must be
  positive; the rejection is tested below.
- The closed forms of LabelSpreading (Zhou et al.) and LabelPropagation (Zhu
  et al.), and ``_build_graph`` / ``label_distributions_``: STKR solves a
  different problem (kernel ridge with a spectrally transformed kernel); its
  own closed form is tested instead.
- ``n_iter_`` of an iterative propagation: the small problems here are
  solved directly (``n_iter_ == 1``); the Krylov solvers' warning is tested.
- LabelSpreading's ``gamma=20`` toy data: the kernel between the unlabeled
  and the labeled rows is about 1e-18 to 1e-29 there, below the resolution of
  a score that carries the labeled class frequency (0.5), so STKR's scores
  tie; the same toys are tested with a kernel that links the rows.
- The top-k rbf callable of ``test_predict_sparse_callable_kernel`` fits its
  neighbour index on its first argument, which makes it asymmetric; STKR
  expects a symmetric kernel ``k(A, B)``, so a sparse callable in that
  orientation is tested instead.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import linalg, sparse
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels, rbf_kernel
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_spectral.semi_supervised import STKRClassifier, STKRRegressor

SEEDS = range(5)
SPARSE_FORMATS = [
    sparse.csr_matrix,
    sparse.csc_matrix,
    sparse.csr_array,
    sparse.csc_array,
    sparse.coo_matrix,
]


def _kernel_callable(metric):
    def kernel(A, B):
        return pairwise_kernels(A, B, metric=metric)

    return kernel


def _linear(A, B):
    return A @ B.T


def _regression(seed, n=80, n_features=6, n_unlabeled=0):
    X, y = make_regression(
        n_samples=n, n_features=n_features, noise=1.0, random_state=seed
    )
    y = y / np.std(y)
    y_semi = y.copy()
    if n_unlabeled:
        rng = np.random.RandomState(seed)
        y_semi[rng.choice(n, n_unlabeled, replace=False)] = np.nan
    return X, y, y_semi


def _classification(seed, n=90, n_classes=3, n_unlabeled=45):
    X, y = make_classification(
        n_samples=n,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    y_semi = y.copy()
    rng = np.random.RandomState(seed)
    y_semi[rng.choice(n, n_unlabeled, replace=False)] = -1
    return X, y, y_semi


# ----------------------------------------------------------------------
# KernelRidge properties
# ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_identity_linear_kernel_is_primal_ridge_on_centred_targets(seed):
    # A linear kernel ridge is ridge regression without intercept; STKR
    # centres the targets, and its penalty is n * alpha on the scaled kernel.
    X, y, _ = _regression(seed, n=70, n_features=8)
    X_new = np.random.RandomState(seed + 100).randn(12, 8)
    alpha = 10.0 ** np.random.RandomState(seed).uniform(-4, -1)
    reg = STKRRegressor(
        kernel=_linear, spectral_transform="identity", alpha=alpha, solver="direct"
    ).fit(X, y)
    ridge = Ridge(
        alpha=70 * alpha / reg.kernel_scale_, fit_intercept=False, solver="svd"
    ).fit(X, y - y.mean())
    assert_allclose(reg.predict(X_new), ridge.predict(X_new) + y.mean(), atol=1e-8)
    assert_allclose(reg.transduction_, ridge.predict(X) + y.mean(), atol=1e-8)


@pytest.mark.parametrize("seed", SEEDS)
def test_identity_ignores_unlabeled_rows_except_through_the_scale(seed):
    # spectral_transform='identity': KernelRidge(alpha=n_labeled_ * alpha_)
    # on the labeled rows, kernel kernel_scale_ * k, centred targets; the
    # unlabeled rows only enter kernel_scale_.
    X, _, y_semi = _regression(seed, n=90, n_unlabeled=40)
    labeled = ~np.isnan(y_semi)
    X_new = np.random.RandomState(seed + 100).randn(15, X.shape[1])
    gamma = 0.05
    reg = STKRRegressor(
        kernel="rbf", gamma=gamma, spectral_transform="identity", alpha=1e-3
    ).fit(X, y_semi)
    assert reg.n_labeled_ == 50
    s = reg.kernel_scale_
    y_lab = y_semi[labeled]
    ref = KernelRidge(alpha=50 * 1e-3, kernel="precomputed").fit(
        s * rbf_kernel(X[labeled], gamma=gamma), y_lab - y_lab.mean()
    )
    expected = ref.predict(s * rbf_kernel(X_new, X[labeled], gamma=gamma))
    assert_allclose(reg.predict(X_new), expected + y_lab.mean(), atol=1e-9)
    assert_allclose(reg.intercept_, [y_lab.mean()])
    expected_all = ref.predict(s * rbf_kernel(X, X[labeled], gamma=gamma))
    assert_allclose(reg.transduction_, expected_all + y_lab.mean(), atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "spectral_transform", ["identity", "polynomial", "inverse_laplacian", "kpca"]
)
@pytest.mark.parametrize("metric", ["linear", "rbf", "poly", "cosine"])
def test_precomputed_kernel_equals_the_kernel_callable(
    seed, spectral_transform, metric
):
    # The same kernel as a callable or as a precomputed matrix gives the same
    # model, the same kernel_scale_ included.
    X, _, y_semi = _regression(seed, n=60, n_unlabeled=20)
    X_new = np.random.RandomState(seed + 100).randn(9, X.shape[1])
    params = dict(
        spectral_transform=spectral_transform,
        alpha=1e-2,
        eta=0.9,
        degree=3,
        n_components=10,
    )
    by_callable = STKRRegressor(kernel=_kernel_callable(metric), **params)
    by_callable.fit(X, y_semi)
    by_matrix = STKRRegressor(kernel="precomputed", **params)
    by_matrix.fit(pairwise_kernels(X, metric=metric), y_semi)
    assert by_callable.kernel_scale_ == pytest.approx(
        by_matrix.kernel_scale_, rel=1e-12
    )
    assert_allclose(
        by_callable.predict(X_new),
        by_matrix.predict(pairwise_kernels(X_new, X, metric=metric)),
        rtol=1e-7,
        atol=1e-9,
    )
    assert_allclose(by_callable.transduction_, by_matrix.transduction_, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_rbf_string_equals_rbf_callable(seed):
    X, _, y_semi = _regression(seed, n=60, n_unlabeled=30)
    X_new = np.random.RandomState(seed).randn(7, X.shape[1])
    params = dict(spectral_transform="inverse_laplacian", eta=0.99, alpha=1e-3)
    by_name = STKRRegressor(kernel="rbf", gamma=0.1, **params).fit(X, y_semi)
    by_callable = STKRRegressor(
        kernel=lambda A, B: rbf_kernel(A, B, gamma=0.1), **params
    ).fit(X, y_semi)
    assert by_callable.kernel_scale_ == by_name.kernel_scale_
    assert_allclose(by_callable.predict(X_new), by_name.predict(X_new), atol=1e-10)


@pytest.mark.parametrize("Estimator", [STKRRegressor, STKRClassifier])
@pytest.mark.parametrize("as_sparse", [False, True])
def test_precomputed_kernel_and_targets_not_modified(Estimator, as_sparse):
    X, y, _ = _classification(0, n=60, n_classes=2, n_unlabeled=0)
    K = X @ X.T + 1.0
    if Estimator is STKRRegressor:
        y = y.astype(float)
        y[::3] = np.nan
    else:
        y[::3] = -1
    K_in = sparse.csr_matrix(K) if as_sparse else K.copy()
    y_in = y.copy()
    est = Estimator(kernel="precomputed").fit(K_in, y_in)
    est.predict(K_in[:10])
    K_after = K_in.toarray() if as_sparse else K_in
    assert_array_equal(K_after, K)
    assert_array_equal(y_in, y)


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_output_equals_one_fit_per_column(seed):
    X, y1, _ = _regression(seed, n=70, n_unlabeled=25)
    _, y2, _ = _regression(seed + 50, n=70)
    Y = np.column_stack((y1, y2))
    Y[np.isnan(_regression(seed, n=70, n_unlabeled=25)[2])] = np.nan
    X_new = np.random.RandomState(seed).randn(8, X.shape[1])
    params = dict(kernel="rbf", gamma=0.05, alpha=1e-2, eta=0.99)
    both = STKRRegressor(**params).fit(X, Y)
    assert both.predict(X_new).shape == (8, 2)
    assert both.transduction_.shape == (70, 2)
    for j in range(2):
        one = STKRRegressor(**params).fit(X, Y[:, j])
        assert one.predict(X_new).shape == (8,)
        assert_allclose(both.predict(X_new)[:, j], one.predict(X_new), atol=1e-9)
        assert_allclose(both.transduction_[:, j], one.transduction_, atol=1e-9)
    # a duplicated column is predicted twice
    twice = STKRRegressor(**params).fit(X, np.column_stack((Y[:, 0], Y[:, 0])))
    assert_allclose(twice.predict(X_new)[:, 0], twice.predict(X_new)[:, 1])


def test_alpha_zero_is_rejected():
    X, y, _ = _regression(0, n=20)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        STKRRegressor(alpha=0.0).fit(X, y)


# ----------------------------------------------------------------------
# Sparse input
# ----------------------------------------------------------------------
def _sparse_features(seed, n=70, n_features=20):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features) * (rng.rand(n, n_features) < 0.5)
    return X


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kernel", ["rbf", "rbf-auto-gamma", "knn", "callable"])
def test_sparse_X_equals_dense_X(seed, kernel):
    X = _sparse_features(seed)
    X_new = _sparse_features(seed + 100, n=10)
    y = X[:, 0] - X[:, 1] + 0.1 * np.random.RandomState(seed).randn(70)
    y[::2] = np.nan
    params = dict(alpha=1e-3, eta=0.99, random_state=0)
    if kernel == "rbf":
        params.update(kernel="rbf", gamma=0.02)
    elif kernel == "rbf-auto-gamma":
        params.update(kernel="rbf")
    elif kernel == "knn":
        params.update(kernel="knn", n_neighbors=6)
    else:
        params.update(kernel=_linear, spectral_transform="polynomial", degree=2)
    fmt = SPARSE_FORMATS[seed % len(SPARSE_FORMATS)]
    dense = STKRRegressor(**params).fit(X, y)
    sp = STKRRegressor(**params).fit(fmt(X), y)
    if dense.gamma_ is None:
        assert sp.gamma_ is None
    else:
        assert sp.gamma_ == pytest.approx(dense.gamma_, rel=1e-12)
    assert_allclose(sp.transduction_, dense.transduction_, atol=1e-9)
    assert_allclose(sp.predict(fmt(X_new)), dense.predict(X_new), atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_precomputed_kernel_equals_dense(seed):
    # A sparse graph kernel passed as a matrix.
    X, y, y_semi = _classification(seed, n=80, n_unlabeled=40)
    nn = NearestNeighbors(n_neighbors=8).fit(X)
    W = nn.kneighbors_graph(X, mode="connectivity")
    K = sparse.csr_matrix(0.5 * (W + W.T) + sparse.identity(80))
    clf_sparse = STKRClassifier(kernel="precomputed", alpha=1e-3, eta=0.9)
    clf_dense = STKRClassifier(kernel="precomputed", alpha=1e-3, eta=0.9)
    clf_sparse.fit(K, y_semi)
    clf_dense.fit(K.toarray(), y_semi)
    assert clf_sparse.kernel_scale_ == pytest.approx(clf_dense.kernel_scale_)
    assert_array_equal(clf_sparse.transduction_, clf_dense.transduction_)
    assert_allclose(
        clf_sparse.predict_proba(K[:20]),
        clf_dense.predict_proba(K[:20].toarray()),
        atol=1e-10,
    )


@pytest.mark.parametrize("fmt", SPARSE_FORMATS[:4])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_input_index_and_value_types(fmt, index_dtype, dtype):
    # Three rows: the unlabeled one sits next to the class-1 row.
    X = fmt(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 3.0]]))
    X.data = X.data.astype(dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    clf = STKRClassifier(kernel="rbf", gamma=0.5).fit(X, [0, 1, -1])
    assert_array_equal(clf.transduction_, [0, 1, 1])
    assert_array_equal(clf.predict(fmt(np.array([[0.5, 2.5]]))), [1])


# ----------------------------------------------------------------------
# LabelSpreading / LabelPropagation properties
# ----------------------------------------------------------------------
TOY_ESTIMATORS = {
    "rbf": dict(kernel="rbf", gamma=0.5),
    "knn": dict(kernel="knn", n_neighbors=2),
    "callable": dict(kernel=lambda A, B: rbf_kernel(A, B, gamma=0.5)),
}
TRANSFORMS = ["inverse_laplacian", "identity", "polynomial", "kpca"]


@pytest.mark.parametrize("spectral_transform", TRANSFORMS)
@pytest.mark.parametrize("name", list(TOY_ESTIMATORS))
def test_toy_unlabeled_row_takes_the_nearer_label(name, spectral_transform):
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 3.0]])
    clf = STKRClassifier(spectral_transform=spectral_transform, **TOY_ESTIMATORS[name])
    clf.fit(X, [0, 1, -1])
    assert_array_equal(clf.classes_, [0, 1])
    assert clf.transduction_[2] == 1
    assert_array_equal(clf.predict([[0.5, 2.5]]), [1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("spectral_transform", TRANSFORMS)
@pytest.mark.parametrize("name", ["rbf", "callable", "knn"])
def test_mirror_symmetric_data_gives_even_probabilities(seed, name, spectral_transform):
    # Two labeled rows and unlabeled rows placed symmetrically about their
    # bisector: a query on the bisector is undecided.
    rng = np.random.RandomState(seed)
    a = rng.randn(2)
    b = rng.randn(2)
    mid, d = (a + b) / 2, (b - a) / np.linalg.norm(b - a)
    normal = np.array([-d[1], d[0]])
    # an unlabeled pair mirrored through the bisector, and one row on it
    off = mid + rng.uniform(0.5, 1.5) * normal
    shift = rng.uniform(0.2, 0.6) * np.linalg.norm(b - a) * d
    X = np.vstack([a, b, off - shift, off + shift, mid - normal])
    query = (mid + rng.uniform(-0.3, 0.3) * normal)[None]
    # n_components=3: the 5-row knn kernel can have a double eigenvalue at
    # rank 4, and a cut inside a degenerate eigenspace is not symmetric.
    params = dict(TOY_ESTIMATORS[name], n_components=3)
    if name == "knn":
        params["n_neighbors"] = 3
    clf = STKRClassifier(spectral_transform=spectral_transform, **params)
    clf.fit(X, [0, 1, -1, -1, -1])
    assert_allclose(clf.predict_proba(query), [[0.5, 0.5]], atol=1e-6)
    if name != "knn":
        # the row on the bisector too (knn predicts from its neighbours)
        assert_allclose(clf.predict_proba(X[[4]]), [[0.5, 0.5]], atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kernel", ["rbf", "knn"])
def test_predict_proba_is_a_distribution_ordered_by_classes(seed, kernel):
    X, y, y_semi = _classification(seed, n=100, n_classes=4, n_unlabeled=60)
    labels = np.array([7, 3, 11, 5])
    y_semi = np.where(y_semi == -1, -1, labels[np.maximum(y_semi, 0)])
    clf = STKRClassifier(kernel=kernel).fit(X, y_semi)
    assert_array_equal(clf.classes_, [3, 5, 7, 11])
    X_new = X + 0.3 * np.random.RandomState(seed).randn(*X.shape)
    P = clf.predict_proba(X_new)
    assert P.shape == (100, 4)
    assert np.all(P >= 0)
    assert_allclose(P.sum(axis=1), 1.0)
    assert_array_equal(clf.classes_[np.argmax(P, axis=1)], clf.predict(X_new))
    assert set(np.unique(clf.transduction_)) <= set(labels)
    # renaming the classes does not change the probabilities
    renamed = np.array(["d", "b", "c", "a"], dtype=object)
    y_named = np.where(
        y_semi == -1, -1, renamed[np.searchsorted([3, 5, 7, 11], y_semi)]
    ).astype(object)
    named = STKRClassifier(kernel=kernel).fit(X, y_named)
    order = np.argsort(renamed)  # named.classes_ == ['a', 'b', 'c', 'd']
    assert_array_equal(named.classes_, renamed[order])
    assert_allclose(named.predict_proba(X_new), P[:, order], atol=1e-10)
    assert_array_equal(
        named.transduction_, renamed[np.searchsorted([3, 5, 7, 11], clf.transduction_)]
    )


def _closed_form_scores(K, Y, labeled, alpha, spectral_transform, eta, coef):
    """STKR scores on every row, from the transformed kernel matrix itself."""
    N = K.shape[0]
    M = K / N
    if spectral_transform == "inverse_laplacian":
        T = K @ linalg.inv(np.eye(N) - eta * M)
    else:
        T = np.zeros_like(K)
        power = np.eye(N)
        for c in coef:
            power = power @ M
            T += N * c * power
    mean = Y.mean(axis=0)
    n = labeled.shape[0]
    a = linalg.solve(T[np.ix_(labeled, labeled)] + n * alpha * np.eye(n), Y - mean)
    return T[:, labeled] @ a + mean


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "spectral_transform, eta, coef",
    [
        ("inverse_laplacian", 0.5, None),
        ("inverse_laplacian", 0.95, None),
        ("polynomial", None, [0.5, 0.3, 0.2]),
    ],
)
def test_classifier_matches_its_closed_form(seed, spectral_transform, eta, coef):
    # The counterpart of LabelSpreading's closed-form test: scores of the
    # one-hot labels under the transformed kernel, then clipped and normalised.
    X, y, y_semi = _classification(seed, n=80, n_classes=3, n_unlabeled=50)
    G = rbf_kernel(X, gamma=0.2)
    clf = STKRClassifier(
        kernel="precomputed",
        spectral_transform=spectral_transform,
        eta=eta if eta is not None else "auto",
        coefficients=coef,
        alpha=1e-2,
        solver="direct",
    ).fit(G, y_semi)
    labeled = np.flatnonzero(y_semi != -1)
    Y = (y_semi[labeled][:, None] == clf.classes_).astype(float)
    scores = _closed_form_scores(
        clf.kernel_scale_ * G, Y, labeled, 1e-2, spectral_transform, eta, coef
    )
    assert_array_equal(clf.transduction_, clf.classes_[np.argmax(scores, axis=1)])
    P = np.maximum(scores, 0)
    P /= P.sum(axis=1, keepdims=True)
    assert_allclose(clf.predict_proba(G), P, atol=1e-8)


@pytest.mark.parametrize("seed", SEEDS)
def test_labeled_rows_are_reproduced_as_alpha_vanishes(seed):
    # LabelPropagation clamps the labeled rows; STKR fits them by ridge, which
    # interpolates them as alpha goes to 0 (rbf kernel, distinct rows).
    X, y, y_semi = _classification(seed, n=80, n_unlabeled=40)
    labeled = y_semi != -1
    clf = STKRClassifier(kernel="rbf", gamma=0.5, alpha=1e-8, eta=0.9).fit(X, y_semi)
    assert_array_equal(clf.transduction_[labeled], y_semi[labeled])
    reg = STKRRegressor(kernel="rbf", gamma=0.5, alpha=1e-10, eta=0.9)
    y_reg = np.where(labeled, X[:, 0], np.nan)
    reg.fit(X, y_reg)
    assert_allclose(reg.transduction_[labeled], y_reg[labeled], atol=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_row_order_does_not_matter(seed):
    X, _, y_semi = _classification(seed, n=70, n_unlabeled=35)
    perm = np.random.RandomState(seed).permutation(70)
    params = dict(kernel="rbf", gamma=0.3, alpha=1e-3, eta=0.99)
    a = STKRClassifier(**params).fit(X, y_semi)
    b = STKRClassifier(**params).fit(X[perm], y_semi[perm])
    assert a.kernel_scale_ == pytest.approx(b.kernel_scale_, rel=1e-10)
    assert_array_equal(a.transduction_[perm], b.transduction_)
    assert_allclose(a.predict_proba(X[:10]), b.predict_proba(X[:10]), atol=1e-9)


def test_direct_solver_counts_one_iteration():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 2.5]])
    clf = STKRClassifier(kernel="rbf", gamma=0.5, max_iter=5000).fit(X, [0, 1, -1])
    assert clf.n_iter_ == 1
    assert_array_equal(clf.predict(X), [0, 1, 1])


@pytest.mark.parametrize("seed", SEEDS)
def test_krylov_warns_only_without_convergence(seed):
    X, _, y_semi = _classification(seed, n=60, n_unlabeled=30)
    params = dict(kernel="rbf", gamma=0.3, alpha=1e-2, eta=0.9, solver="gmres")
    short = STKRClassifier(max_iter=1, tol=1e-12, **params)
    with pytest.warns(ConvergenceWarning, match="STKRClassifier: GMRES did not"):
        short.fit(X, y_semi)
    assert short.n_iter_ == short.max_iter
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        long = STKRClassifier(max_iter=500, tol=1e-10, **params).fit(X, y_semi)
    assert long.n_iter_ < 500
    direct = STKRClassifier(**{**params, "solver": "direct"}).fit(X, y_semi)
    assert_array_equal(long.transduction_, direct.transduction_)


@pytest.mark.parametrize("kernel", ["knn", "rbf"])
def test_duplicated_rows_and_one_neighbour_stay_finite(kernel):
    # Labeled rows of different classes at the same point, unlabeled rows at
    # another point far away: no division by zero, and an even split on the
    # unlabeled rows, which no label reaches. (With one neighbour, the knn
    # index maps both duplicates to the first, so only the rbf kernel must
    # split them evenly.)
    X = np.array([[100.0, 100.0], [100.0, 100.0], [0.0, 0.0], [0.0, 0.0]])
    y = np.array([0, 1, -1, -1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf = STKRClassifier(kernel=kernel, n_neighbors=1).fit(X, y)
        P = clf.predict_proba(X)
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1.0)
    assert_allclose(P[2:], 0.5)
    if kernel == "rbf":
        assert_allclose(P[:2], 0.5)


def _sparse_top_k(A, B, n_neighbors=8, gamma=0.05):
    """rbf weights of each row of A to its nearest rows of B, as CSR."""
    nn = NearestNeighbors(n_neighbors=min(n_neighbors, B.shape[0])).fit(B)
    W = nn.kneighbors_graph(A, mode="distance")
    W.data = np.exp(-gamma * W.data**2)
    return W


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_callable_kernel_equals_its_dense_output(seed):
    X, y = make_classification(
        n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=seed
    )
    y_semi = y.copy()
    y_semi[np.random.RandomState(seed).rand(150) < 0.5] = -1
    X_new = X[:10] + 0.05

    def dense_top_k(A, B):
        return _sparse_top_k(A, B).toarray()

    params = dict(spectral_transform="identity", alpha=1e-2)
    sp = STKRClassifier(kernel=_sparse_top_k, **params).fit(X, y_semi)
    dn = STKRClassifier(kernel=dense_top_k, **params).fit(X, y_semi)
    assert_array_equal(sp.transduction_, dn.transduction_)
    assert_allclose(sp.predict_proba(X_new), dn.predict_proba(X_new), atol=1e-12)


def test_precomputed_predict_needs_one_column_per_training_row():
    X, _, y_semi = _classification(0, n=40, n_unlabeled=20)
    K = rbf_kernel(X)
    clf = STKRClassifier(kernel="precomputed").fit(K, y_semi)
    assert clf.predict(K[:5]).shape == (5,)
    with pytest.raises(ValueError, match="expecting 40 features"):
        clf.predict(K[:5, :39])
