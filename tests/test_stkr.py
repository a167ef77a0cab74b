"""Tests of STKRRegressor and STKRClassifier."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_friedman1
from sklearn.decomposition import KernelPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.utils.estimator_checks import check_estimator

from sklearn_spectral.datasets import hide_labels, make_manifold_regression
from sklearn_spectral.semi_supervised import STKRClassifier, STKRRegressor


def _data(n=80, n_labeled=30, seed=0):
    X, y = make_manifold_regression(n, manifold="moons", noise=0.05, random_state=seed)
    y_semi = hide_labels(y, n_labeled, random_state=seed)
    return X, y, y_semi


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_identity_equals_kernel_ridge(seed, solver):
    # Every row labeled: KernelRidge with alpha = n_samples * alpha on the
    # scaled kernel and centred targets.
    rng = np.random.RandomState(seed)
    X, y = rng.randn(60, 3), rng.randn(60)
    X_new = rng.randn(15, 3)
    reg = STKRRegressor(
        kernel="rbf",
        spectral_transform="identity",
        gamma=0.5,
        alpha=1e-2,
        solver=solver,
        tol=1e-12,
    ).fit(X, y)
    K = reg.kernel_scale_ * rbf_kernel(X, X, gamma=0.5)
    ref = KernelRidge(alpha=60 * 1e-2, kernel="precomputed").fit(K, y - y.mean())
    expected = ref.predict(reg.kernel_scale_ * rbf_kernel(X_new, X, gamma=0.5))
    assert_allclose(reg.predict(X_new), expected + y.mean(), rtol=1e-8, atol=1e-10)


def _callable_kernel(A, B):
    return (1.0 + A @ B.T / 10.0) ** 2


@pytest.mark.parametrize(
    "spectral_transform", ["identity", "polynomial", "inverse_laplacian", "kpca"]
)
@pytest.mark.parametrize("kernel", ["rbf", "precomputed", "callable"])
def test_predict_at_training_rows_equals_transduction(spectral_transform, kernel):
    X, _, y_semi = _data()
    params = dict(kernel="rbf", spectral_transform=spectral_transform, n_components=10)
    if kernel == "precomputed":
        X = rbf_kernel(X, gamma=2.0)
        params["kernel"] = "precomputed"
    elif kernel == "callable":
        params["kernel"] = _callable_kernel
    reg = STKRRegressor(**params).fit(X, y_semi)
    assert_allclose(reg.predict(X), reg.transduction_, rtol=1e-9, atol=1e-9)
    labeled = ~np.isnan(y_semi)
    residual = y_semi[labeled] - reg.transduction_[labeled]
    assert_allclose(
        residual, reg.n_labeled_ * reg.alpha_ * reg.dual_coef_.ravel(), atol=1e-8
    )


@pytest.mark.parametrize("whiten", [False, True])
def test_kpca_equals_kernel_pca_and_ridge(whiten):
    X, _, y_semi = _data(n=90, n_labeled=40, seed=3)
    K = rbf_kernel(X, gamma=2.0)
    H = np.eye(90) - 1.0 / 90
    Kc = H @ K @ H
    d, alpha = 6, 1e-2
    reg = STKRRegressor(
        kernel="precomputed",
        spectral_transform="kpca",
        n_components=d,
        whiten=whiten,
        alpha=alpha,
    ).fit(Kc, y_semi)
    kpca = KernelPCA(d, kernel="precomputed")
    Z = kpca.fit_transform(reg.kernel_scale_ * Kc)
    if whiten:
        Z = Z / np.sqrt(kpca.eigenvalues_ / 90)
    labeled = ~np.isnan(y_semi)
    y_mean = y_semi[labeled].mean()
    ridge = Ridge(alpha=labeled.sum() * alpha, fit_intercept=False)
    ridge.fit(Z[labeled], y_semi[labeled] - y_mean)
    assert_allclose(reg.transduction_, ridge.predict(Z) + y_mean, atol=1e-8)


def test_inverse_laplacian_equals_its_power_series():
    X, _, y_semi = _data()
    eta = 0.9
    inv = STKRRegressor(kernel="rbf", eta=eta, gamma=2.0, solver="direct").fit(
        X, y_semi
    )
    poly = STKRRegressor(
        kernel="rbf",
        spectral_transform="polynomial",
        coefficients=eta ** np.arange(300),
        gamma=2.0,
        solver="direct",
    ).fit(X, y_semi)
    assert_allclose(inv.transduction_, poly.transduction_, atol=1e-9)
    assert_allclose(inv.extension_coef_, poly.extension_coef_, atol=1e-9)
    assert_allclose(inv.dual_coef_, poly.dual_coef_, atol=1e-7)


@pytest.mark.parametrize(
    "spectral_transform, solver",
    [
        ("inverse_laplacian", "gmres"),
        ("polynomial", "cg"),
        ("polynomial", "gmres"),
        ("identity", "cg"),
    ],
)
def test_krylov_equals_direct(spectral_transform, solver):
    X, _, y_semi = _data()
    params = dict(kernel="rbf", gamma=2.0, eta=0.99, degree=4)
    params["spectral_transform"] = spectral_transform
    direct = STKRRegressor(solver="direct", **params).fit(X, y_semi)
    params["alpha"] = direct.alpha_
    krylov = STKRRegressor(solver=solver, tol=1e-10, **params).fit(X, y_semi)
    assert krylov.n_iter_ > 1
    assert_allclose(krylov.transduction_, direct.transduction_, atol=1e-6)


@pytest.mark.parametrize("eta", [0.99, 0.9999])
def test_gmres_solves_unlabeled_rows_at_default_tol(eta):
    # Many unlabeled rows and a small penalty: the unlabeled equations carry
    # a weight n_labeled * alpha against N for the labeled ones, so GMRES at
    # its default tolerance must still solve them.
    X, y = make_manifold_regression(1500, manifold="swiss_roll", random_state=0)
    y_semi = hide_labels(y, 15, random_state=0)
    params = dict(kernel="knn", eta=eta, alpha=1e-4)
    direct = STKRRegressor(solver="direct", **params).fit(X, y_semi)
    krylov = STKRRegressor(solver="gmres", **params).fit(X, y_semi)
    scale = np.abs(direct.transduction_ - direct.intercept_).max()
    assert_allclose(krylov.transduction_, direct.transduction_, atol=1e-3 * scale)


@pytest.mark.parametrize("seed", range(5))
def test_auto_alpha_minimises_brute_force_leave_one_out(seed):
    # alpha='auto' must pick the grid value whose refits without each labeled
    # row predict that row best, the intercept (labeled mean) held fixed.
    from sklearn_spectral.semi_supervised._stkr import _ALPHA_GRID

    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 3))
    y = np.sin(X[:, 0]) + 0.3 * rng.normal(size=40)
    y_semi = y.copy()
    y_semi[25:] = np.nan
    reg = STKRRegressor(kernel="rbf", spectral_transform="identity", gamma=0.5).fit(
        X, y_semi
    )
    K = reg.kernel_scale_ * rbf_kernel(X[:25], gamma=0.5)
    yc = y[:25] - y[:25].mean()
    errors = []
    for a in _ALPHA_GRID:
        err = 0.0
        for i in range(25):
            keep = np.arange(25) != i
            A = K[np.ix_(keep, keep)] + 25 * a * np.eye(24)
            pred = K[i, keep] @ np.linalg.solve(A, yc[keep])
            err += (yc[i] - pred) ** 2
        errors.append(err)
    assert reg.alpha_ == pytest.approx(_ALPHA_GRID[int(np.argmin(errors))])


def _brute_force_loo(K_lab, yc, alpha):
    """Summed squared error of refits without each labeled row."""
    n = yc.shape[0]
    err = 0.0
    for i in range(n):
        keep = np.arange(n) != i
        A = K_lab[np.ix_(keep, keep)] + n * alpha * np.eye(n - 1)
        err += (yc[i] - K_lab[i, keep] @ np.linalg.solve(A, yc[keep])) ** 2
    return err


@pytest.mark.parametrize("seed", range(4))
def test_auto_eta_minimises_brute_force_leave_one_out(seed):
    # eta='auto' keeps the candidate (with its own alpha) whose transformed
    # kernel gives the smallest leave-one-out error, eta=0 being kernel ridge;
    # the kept fit equals the fit at that fixed eta.
    from sklearn_spectral.semi_supervised._stkr import _ETA_GRID

    X, y, y_semi = _data(n=90, n_labeled=20, seed=seed)
    lab = np.flatnonzero(~np.isnan(y_semi))
    yc = y[lab] - y[lab].mean()
    auto = STKRRegressor(kernel="rbf", gamma=3.0).fit(X, y_semi)
    assert auto.eta_ in _ETA_GRID
    G = auto.kernel_scale_ * rbf_kernel(X, gamma=3.0)
    errors = []
    for eta in _ETA_GRID:
        params = dict(
            kernel="rbf", gamma=3.0, alpha=auto.alpha_ if eta == auto.eta_ else "auto"
        )
        if eta == 0.0:
            fixed = STKRRegressor(spectral_transform="identity", **params)
        else:
            fixed = STKRRegressor(eta=eta, **params)
        fixed.fit(X, y_semi)
        Ks = G @ np.linalg.inv(np.eye(90) - eta * G / 90)
        errors.append(_brute_force_loo(Ks[np.ix_(lab, lab)], yc, fixed.alpha_))
        if eta == auto.eta_:
            assert_allclose(fixed.transduction_, auto.transduction_, atol=1e-8)
    assert _ETA_GRID[int(np.argmin(errors))] == auto.eta_


def test_auto_eta_without_scores_grows_with_the_data():
    # Where no candidate is scored (GMRES), eta is 1 - n_neighbors / n_samples
    # within [0.99, 0.9999].
    X, _, y_semi = _data(n=300, n_labeled=20)
    for n_neighbors, expected in ((10, 0.99), (1, 1 - 1 / 300)):
        reg = STKRRegressor(kernel="knn", solver="gmres", n_neighbors=n_neighbors)
        assert reg.fit(X, y_semi).eta_ == pytest.approx(expected)
    X, _, y_semi = _data(n=3000, n_labeled=20)
    assert STKRRegressor(kernel="knn").fit(X, y_semi).eta_ == pytest.approx(
        1 - 10 / 3000
    )


def _spectral_reference(G, scale, y_semi, transform, alpha, eta=0.99, degree=3, d=8):
    """Transformed kernel ridge by a full eigendecomposition of G."""
    N = G.shape[0]
    lam, V = np.linalg.eigh(scale * G / N)
    lam = np.clip(lam, 0, None)
    if transform == "identity":
        s = lam
    elif transform == "polynomial":
        s = lam**degree
    elif transform == "inverse_laplacian":
        s = lam / (1 - eta * lam)
    else:
        s = np.where(np.arange(N) >= N - d, lam, 0.0)
    Ks = N * (V * s) @ V.T
    labeled = np.flatnonzero(~np.isnan(y_semi))
    mean = y_semi[labeled].mean()
    A = Ks[np.ix_(labeled, labeled)] + labeled.size * alpha * np.eye(labeled.size)
    return Ks[:, labeled] @ np.linalg.solve(A, y_semi[labeled] - mean) + mean


@pytest.mark.parametrize(
    "spectral_transform", ["identity", "polynomial", "inverse_laplacian", "kpca"]
)
def test_dense_and_nystroem_equal_eigendecomposition(spectral_transform):
    # The dense path, and the landmark path with every row a landmark, equal
    # kernel ridge with the transformed kernel built from all eigenpairs.
    X, _, y_semi = _data(n=70)
    params = dict(kernel="rbf", gamma=1.0, degree=3, n_components=8)
    params["spectral_transform"] = spectral_transform
    G = rbf_kernel(X, gamma=1.0)
    for reg in (
        STKRRegressor(n_landmarks=None, solver="direct", **params),
        STKRRegressor(n_landmarks=70, random_state=0, **params),
    ):
        reg.fit(X, y_semi)
        expected = _spectral_reference(
            G,
            reg.kernel_scale_,
            y_semi,
            spectral_transform,
            reg.alpha_,
            eta=reg.eta_ if spectral_transform == "inverse_laplacian" else None,
        )
        assert_allclose(reg.transduction_, expected, atol=1e-6)
        assert_allclose(reg.predict(X), expected, atol=1e-6)
    # the landmark scale is exact, the dense one a close upper bound
    lam1 = np.linalg.eigvalsh(G / 70)[-1]
    assert_allclose(reg.kernel_scale_, 1.0 / lam1, rtol=1e-8)


def test_kernel_scale_is_an_upper_bound():
    X, _, y_semi = _data(n=120)
    reg = STKRRegressor(kernel="rbf", gamma=3.0).fit(X, y_semi)
    lam1 = np.linalg.eigvalsh(rbf_kernel(X, gamma=3.0) / 120)[-1]
    assert reg.kernel_scale_ * lam1 <= 1.0 + 1e-12
    assert reg.kernel_scale_ * lam1 >= 0.98
    knn = STKRRegressor(kernel="knn").fit(X, y_semi)
    assert knn.kernel_scale_ == 120


def test_knn_predict_close_to_transduction():
    X, y, y_semi = _data(n=400, n_labeled=20)
    reg = STKRRegressor(kernel="knn", eta=0.999).fit(X, y_semi)
    assert r2_score(reg.transduction_, reg.predict(X)) > 0.95


def test_random_state_reproducible():
    X, _, y_semi = _data(n=200)
    a = STKRRegressor(kernel="rbf", n_landmarks=40, random_state=7).fit(X, y_semi)
    b = STKRRegressor(kernel="rbf", n_landmarks=40, random_state=7).fit(X, y_semi)
    c = STKRRegressor(kernel="rbf", n_landmarks=40, random_state=8).fit(X, y_semi)
    assert_array_equal(a.landmark_indices_, b.landmark_indices_)
    assert_array_equal(a.transduction_, b.transduction_)
    assert not np.array_equal(a.landmark_indices_, c.landmark_indices_)


def test_multi_output_matches_single_outputs():
    X, y, y_semi = _data()
    Y = np.column_stack((y_semi, 2 * y_semi + 1))
    both = STKRRegressor(kernel="rbf", gamma=2.0).fit(X, Y)
    first = STKRRegressor(kernel="rbf", gamma=2.0).fit(X, y_semi)
    assert both.predict(X).shape == (80, 2)
    assert_allclose(both.predict(X)[:, 0], first.predict(X), atol=1e-10)
    assert_allclose(both.predict(X)[:, 1], 2 * first.predict(X) + 1, atol=1e-9)


def test_input_not_modified():
    X, _, y_semi = _data()
    X0, y0 = X.copy(), y_semi.copy()
    STKRRegressor().fit(X, y_semi).predict(X)
    assert_array_equal(X, X0)
    assert_array_equal(y_semi, y0)


def test_errors_name_the_estimator():
    X, _, y_semi = _data()
    with pytest.raises(ValueError, match="STKRRegressor: y has no labeled row"):
        STKRRegressor().fit(X, np.full(80, np.nan))
    y_inf = y_semi.copy()
    y_inf[np.flatnonzero(~np.isnan(y_inf))[0]] = np.inf
    with pytest.raises(ValueError, match="STKRRegressor: y contains infinity"):
        STKRRegressor().fit(X, y_inf)
    with pytest.raises(ValueError, match="STKRRegressor: y must have shape"):
        STKRRegressor().fit(X, y_semi[:-1])
    Y = np.column_stack((y_semi, y_semi))
    Y[np.flatnonzero(~np.isnan(y_semi))[0], 1] = np.nan
    with pytest.raises(ValueError, match="STKRRegressor: y has rows with some"):
        STKRRegressor().fit(X, Y)
    with pytest.raises(ValueError, match="STKRRegressor: solver='cg'"):
        STKRRegressor(solver="cg").fit(X, y_semi)
    with pytest.raises(ValueError, match="STKRRegressor: coefficients"):
        STKRRegressor(spectral_transform="polynomial", coefficients=[-1.0]).fit(
            X, y_semi
        )
    with pytest.raises(ValueError, match="STKRRegressor: X must be a square"):
        STKRRegressor(kernel="precomputed").fit(X, y_semi)
    with pytest.raises(ValueError, match="STKRClassifier: needs labeled rows"):
        STKRClassifier().fit(X, np.r_[np.zeros(10), -np.ones(70)])
    with pytest.raises(ValueError, match="STKRClassifier: y has no labeled row"):
        STKRClassifier().fit(X, -np.ones(80))
    with pytest.raises(ValueError, match="STKRClassifier: y must have"):
        STKRClassifier().fit(X, np.zeros(79))
    with pytest.raises(ValueError, match="Unknown label type"):
        STKRClassifier().fit(X, np.linspace(0, 1, 80))
    y_nan = np.r_[np.zeros(40), np.ones(39), np.nan]
    with pytest.raises(ValueError, match="STKRClassifier: y contains NaN"):
        STKRClassifier().fit(X, y_nan)
    # an indefinite precomputed kernel (symmetric, random signs): its top
    # eigenvalue bound is heuristic, so I - eta K / n is indefinite here
    rng = np.random.RandomState(2)
    y_few = rng.randn(40)
    y_few[10:] = np.nan
    A = rng.randn(40, 40)
    A += A.T
    assert np.linalg.eigvalsh(A).min() < 0
    with pytest.raises(ValueError, match="STKRRegressor: I - eta K / n_samples is"):
        STKRRegressor(kernel="precomputed", eta=0.99).fit(A, y_few)


def test_convergence_warning():
    X, _, y_semi = _data()
    reg = STKRRegressor(kernel="rbf", solver="gmres", max_iter=2, tol=1e-14, gamma=2.0)
    with pytest.warns(ConvergenceWarning, match="STKRRegressor: GMRES"):
        reg.fit(X, y_semi)
    assert reg.n_iter_ == 2


def _cv_labeled(fit_predict, grid, labeled):
    """Grid point with the lowest 4-fold CV error over the labeled rows."""
    best, best_err = None, np.inf
    for params in grid:
        err = 0.0
        for train, val in KFold(4, shuffle=True, random_state=0).split(labeled):
            err += np.mean(fit_predict(params, labeled[train], labeled[val]) ** 2)
        if err < best_err:
            best, best_err = params, err
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beats_kernel_ridge_on_interleaved_moons(seed):
    # Two interleaved moons with opposite targets, 20 labels of 500 rows. Both
    # models are tuned by 4-fold CV over the labeled rows only (the hidden
    # targets are never seen); STKR must score R^2 >= 0.85 on the unlabeled
    # rows and at least as much as kernel ridge regression on every seed.
    X, y = make_manifold_regression(
        500, manifold="moons", noise=0.05, random_state=seed
    )
    y_semi, mask = hide_labels(y, 20, random_state=seed, return_mask=True)
    labeled = np.flatnonzero(mask)

    def stkr_fp(params, train, val):
        y_fold = np.full_like(y, np.nan)
        y_fold[train] = y_semi[train]
        model = STKRRegressor(kernel="knn", **params).fit(X, y_fold)
        return model.predict(X[val]) - y_semi[val]

    def krr_fp(params, train, val):
        model = KernelRidge(kernel="rbf", **params).fit(X[train], y_semi[train])
        return model.predict(X[val]) - y_semi[val]

    stkr_grid = [dict(eta=eta) for eta in (0.99, 0.999, 0.9999)]
    krr_grid = [
        dict(gamma=g, alpha=a) for g in (0.3, 1, 3, 10, 30) for a in (1e-4, 1e-2, 1)
    ]
    stkr = STKRRegressor(kernel="knn", **_cv_labeled(stkr_fp, stkr_grid, labeled))
    stkr.fit(X, y_semi)
    krr = KernelRidge(kernel="rbf", **_cv_labeled(krr_fp, krr_grid, labeled))
    krr.fit(X[labeled], y[labeled])
    r2_stkr = r2_score(y[~mask], stkr.predict(X[~mask]))
    r2_krr = r2_score(y[~mask], krr.predict(X[~mask]))
    assert r2_stkr >= 0.85
    assert r2_stkr >= r2_krr


@pytest.mark.parametrize("seed", range(3))
def test_classifier_on_digits_against_label_spreading(seed):
    # 5% of the digits labeled: the defaults (kernel='auto' picks the graph
    # kernel by leave-one-out error) match LabelSpreading's accuracy.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y_semi, mask = hide_labels(
        y, 90, unlabeled=-1, stratify=True, random_state=seed, return_mask=True
    )
    clf = STKRClassifier().fit(X, y_semi)
    ls = LabelSpreading(kernel="knn", n_neighbors=7, alpha=0.2).fit(X, y_semi)
    acc = np.mean(clf.transduction_[~mask] == y[~mask])
    acc_ls = np.mean(ls.transduction_[~mask] == y[~mask])
    assert clf.kernel_ == "knn"
    assert acc >= max(0.92, acc_ls)
    proba = clf.predict_proba(X[:200])
    assert np.all(proba >= 0)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X[:200]))


@pytest.mark.parametrize("design", ["moons", "friedman1", "digits"])
def test_auto_kernel_keeps_the_candidate_of_smaller_leave_one_out_error(design):
    # kernel='auto' is the fit of 'rbf' or of 'knn', whichever has the
    # smaller leave-one-out error, and carries none of the other's state.
    if design == "digits":
        X, y = load_digits(n_class=5, return_X_y=True)
        y_semi = hide_labels(y, 40, unlabeled=-1, stratify=True, random_state=0)
        Est = STKRClassifier
    else:
        if design == "moons":
            X, y = make_manifold_regression(300, manifold="moons", random_state=0)
        else:
            X, y = make_friedman1(300, noise=1.0, random_state=0)
        y_semi = hide_labels(y, 30, random_state=0)
        Est = STKRRegressor
    fits = {k: Est(kernel=k, random_state=0).fit(X, y_semi) for k in ("rbf", "knn")}
    auto = Est(random_state=0).fit(X, y_semi)
    errors = {k: fit._loo_error for k, fit in fits.items()}
    assert np.all(np.isfinite(list(errors.values())))
    assert auto.kernel_ == min(errors, key=errors.get)
    chosen = fits[auto.kernel_]
    assert_array_equal(auto.transduction_, chosen.transduction_)
    assert_allclose(auto.predict(X[:50]), chosen.predict(X[:50]), atol=1e-12)
    assert auto.eta_ == chosen.eta_ and auto.alpha_ == chosen.alpha_
    assert (auto.gamma_ is None) == (auto.kernel_ == "knn")
    assert hasattr(auto, "_knn_index") == (auto.kernel_ == "knn")


def test_auto_kernel_without_scores_is_rbf():
    # GMRES computes no leave-one-out error: 'auto' keeps the rbf kernel.
    X, _, y_semi = _data(n=200, n_labeled=20)
    reg = STKRRegressor(solver="gmres").fit(X, y_semi)
    assert reg.kernel_ == "rbf"
    ref = STKRRegressor(kernel="rbf", solver="gmres").fit(X, y_semi)
    assert_allclose(reg.transduction_, ref.transduction_, atol=1e-12)


@pytest.mark.parametrize("kernel", ["rbf", "precomputed"])
def test_classifier_predict_at_training_rows_equals_transduction(kernel):
    X, y = load_digits(n_class=3, return_X_y=True)
    y_semi = hide_labels(y, 15, unlabeled=-1, stratify=True, random_state=0)
    if kernel == "precomputed":
        X = rbf_kernel(X, gamma=1e-3)
    clf = STKRClassifier(kernel=kernel).fit(X, y_semi)
    assert_array_equal(clf.predict(X), clf.transduction_)
    assert clf.score(X, y) > 0.9


def test_classifier_string_labels():
    X, y = load_digits(n_class=3, return_X_y=True)
    names = np.array(["zero", "one", "two"], dtype=object)[y]
    names[::3] = -1
    clf = STKRClassifier().fit(X, names)
    assert set(clf.classes_) == {"zero", "one", "two"}
    assert np.mean(clf.predict(X) == np.array(["zero", "one", "two"])[y]) > 0.9


def test_pipeline_and_grid_search():
    X, _, y_semi = _data(n=120, n_labeled=40)
    labeled = ~np.isnan(y_semi)
    pipe = make_pipeline(StandardScaler(), STKRRegressor())
    pipe.fit(X, y_semi)
    assert pipe.predict(X).shape == (120,)
    # A grid search scores on labeled rows only: fit on them, as users of
    # GridSearchCV would for a supervised score.
    search = GridSearchCV(
        STKRRegressor(kernel="rbf"),
        {"alpha": [1e-4, 1e-2], "gamma": [1.0, 3.0]},
        cv=3,
        n_jobs=2,
    )
    search.fit(X[labeled], y_semi[labeled])
    assert search.best_score_ > 0.5


@pytest.mark.parametrize(
    "estimator",
    [STKRRegressor(), STKRClassifier()],
    ids=lambda e: type(e).__name__,
)
def test_check_estimator_default(estimator):
    expected = {}
    if isinstance(estimator, STKRClassifier):
        expected["check_classifiers_classes"] = (
            "the check uses -1 as a class label; -1 marks unlabeled rows here, "
            "as in LabelSpreading, which the check exempts by name"
        )
    check_estimator(estimator, expected_failed_checks=expected)
