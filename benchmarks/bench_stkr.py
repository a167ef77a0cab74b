"""Benchmark STKRRegressor against supervised and semi-supervised kernel ridge.

Every method gets the same rows, of which ``n_labeled`` keep their target, and
is scored by R^2 on the unlabeled rows. Each method's hyperparameters (six
grid points for every method) are chosen by 4-fold cross-validation over the
labeled rows only. References: KernelRidge on the labeled rows, Nystroem (fit
on all rows) + Ridge, KernelPCA (fit on all rows) + Ridge.
"""

import numpy as np
from _runner import Benchmark, main
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.decomposition import KernelPCA
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from sklearn_spectral import STKRRegressor
from sklearn_spectral.datasets import hide_labels, make_manifold_regression

CASES = {
    "small": [
        dict(design="moons", n=300, n_labeled=20),
        dict(design="friedman1", n=300, n_labeled=50),
    ],
    "medium": [
        dict(design="moons", n=2000, n_labeled=20),
        dict(design="circles", n=2000, n_labeled=20),
        dict(design="diabetes", n=442, n_labeled=50),
        dict(design="friedman1", n=2000, n_labeled=50),
    ],
    "large": [
        dict(design="moons", n=5000, n_labeled=20),
        dict(design="circles", n=5000, n_labeled=30),
        dict(design="diabetes", n=442, n_labeled=100),
        dict(design="friedman1", n=5000, n_labeled=100),
    ],
}


def make_data(design, n, n_labeled, seed=0):
    if design in ("moons", "circles"):
        X, y = make_manifold_regression(
            n, manifold=design, noise=0.05, random_state=seed
        )
    elif design == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = make_friedman1(n, noise=1.0, random_state=seed)
    X = StandardScaler().fit_transform(X)
    y_semi, mask = hide_labels(y, n_labeled, random_state=seed, return_mask=True)
    return X, y, y_semi, np.flatnonzero(mask)


def _tune(fit_predict, grid, labeled):
    """Grid point with the lowest 4-fold CV error over the labeled rows."""
    best, best_err = None, np.inf
    for params in grid:
        err = 0.0
        for train, val in KFold(4, shuffle=True, random_state=0).split(labeled):
            err += np.mean(fit_predict(params, labeled[train], labeled[val]) ** 2)
        if err < best_err:
            best, best_err = params, err
    return best


def _gammas(X):
    return [g / X.shape[1] for g in (0.3, 3.0)]


def ours(data):
    X, _, y_semi, labeled = data

    def fp(params, train, val):
        y_fold = np.full(X.shape[0], np.nan)
        y_fold[train] = y_semi[train]
        model = STKRRegressor(kernel="knn", **params).fit(X, y_fold)
        return model.predict(X[val]) - y_semi[val]

    grid = [dict(eta=e, n_neighbors=k) for e in (0.99, 0.999, 0.9999) for k in (10, 20)]
    best = _tune(fp, grid, labeled)
    return STKRRegressor(kernel="knn", **best).fit(X, y_semi).transduction_


def kernel_ridge(data):
    X, _, y_semi, labeled = data
    grid = [dict(gamma=g, alpha=a) for g in _gammas(X) for a in (1e-3, 1e-1, 1.0)]

    def fp(params, train, val):
        model = KernelRidge(kernel="rbf", **params).fit(X[train], y_semi[train])
        return model.predict(X[val]) - y_semi[val]

    best = _tune(fp, grid, labeled)
    return KernelRidge(kernel="rbf", **best).fit(X[labeled], y_semi[labeled]).predict(X)


def _features_then_ridge(make_features):
    def method(data):
        X, _, y_semi, labeled = data
        feats = {g: make_features(g, X).fit_transform(X) for g in _gammas(X)}
        grid = [dict(gamma=g, alpha=a) for g in _gammas(X) for a in (1e-3, 1e-1, 1.0)]

        def fp(params, train, val):
            Z = feats[params["gamma"]]
            model = Ridge(alpha=params["alpha"]).fit(Z[train], y_semi[train])
            return model.predict(Z[val]) - y_semi[val]

        best = _tune(fp, grid, labeled)
        Z = feats[best["gamma"]]
        return Ridge(alpha=best["alpha"]).fit(Z[labeled], y_semi[labeled]).predict(Z)

    return method


def r2_unlabeled(pred, data):
    _, y, _, labeled = data
    mask = np.ones(y.shape[0], dtype=bool)
    mask[labeled] = False
    return {"R2 (unlabeled rows)": r2_score(y[mask], pred[mask])}


bench = Benchmark("stkr", reference="ours", quality=r2_unlabeled)
bench.add_method("ours", ours)
bench.add_method("KernelRidge (labeled)", kernel_ridge)
bench.add_method(
    "Nystroem + Ridge",
    _features_then_ridge(
        lambda g, X: Nystroem(
            gamma=g, n_components=min(300, X.shape[0]), random_state=0
        )
    ),
)
bench.add_method(
    "KernelPCA + Ridge",
    _features_then_ridge(
        lambda g, X: KernelPCA(
            min(64, X.shape[0] - 1),
            kernel="rbf",
            gamma=g,
            eigen_solver="randomized",
            random_state=0,
        )
    ),
)

if __name__ == "__main__":
    main(bench, CASES, make_data)
