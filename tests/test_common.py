"""Checks every public estimator must pass, read from the one registry in
``sklearn_spectral.utils.discovery``."""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_clusterer, is_outlier_detector, is_regressor
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_spectral
from sklearn_spectral.utils.discovery import (
    _estimator_instances_for_common_checks,
    _expected_failed_checks,
    _registry_entry,
    all_estimators,
)

ESTIMATORS = all_estimators()
ESTIMATOR_IDS = [name for name, _ in ESTIMATORS]


@parametrize_with_checks(
    _estimator_instances_for_common_checks(),
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_registry_lists_every_public_class():
    public_classes = {
        name
        for name in sklearn_spectral.__all__
        if inspect.isclass(getattr(sklearn_spectral, name))
    }
    assert public_classes == set(ESTIMATOR_IDS)
    for sub in (
        sklearn_spectral.decomposition,
        sklearn_spectral.covariance,
        sklearn_spectral.cluster,
        sklearn_spectral.semi_supervised,
    ):
        for name in sub.__all__:
            assert getattr(sklearn_spectral, name) is getattr(sub, name)


def test_expected_failures_carry_reasons():
    from sklearn_spectral.utils.discovery import _EXPECTED_FAILED_CHECKS

    for name, checks in _EXPECTED_FAILED_CHECKS.items():
        assert name in ESTIMATOR_IDS, name
        for check, reason in checks.items():
            assert isinstance(reason, str) and len(reason) > 10, (name, check)


def _data_for(estimator):
    if is_classifier(estimator):
        return make_classification(
            n_samples=120, n_features=6, n_informative=4, random_state=0
        )
    if is_regressor(estimator):
        return make_regression(n_samples=120, n_features=6, noise=0.1, random_state=0)
    X, y = make_blobs(n_samples=120, n_features=6, centers=3, random_state=0)
    return X, y


def _skip_if_empty():
    if not ESTIMATORS:
        pytest.skip("no estimator has joined the registry yet")


@pytest.mark.parametrize("name_cls", ESTIMATORS or [None], ids=ESTIMATOR_IDS or ["none"])
def test_pipeline_gridsearch_pickle(name_cls):
    """Each estimator works in a Pipeline, in GridSearchCV(n_jobs=2) (joblib's
    process pool), survives pickling, and is deterministic under random_state."""
    if name_cls is None:
        _skip_if_empty()
    name, cls = name_cls
    entry = _registry_entry(name)
    est = cls()
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    X, y = _data_for(est)

    pipe = make_pipeline(StandardScaler(), clone(est))
    if is_clusterer(est) or is_outlier_detector(est):
        out = pipe.fit_predict(X)
        assert out.shape == (X.shape[0],)
    else:
        pipe.fit(X, y)

    grid = {f"{pipe.steps[-1][0]}__{k}": v for k, v in entry.get("grid", {}).items()}
    if grid:
        search = GridSearchCV(
            pipe, grid, cv=3, n_jobs=2, scoring=entry.get("scoring"), error_score="raise"
        )
        search.fit(X, y)
        assert set(search.best_params_) == set(grid)

    fitted = clone(est).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    for attr in ("labels_", "components_", "location_", "dist_"):
        if hasattr(fitted, attr):
            np.testing.assert_array_equal(getattr(fitted, attr), getattr(restored, attr))

    if "random_state" in est.get_params():
        again = clone(est).fit(X, y)
        for attr in ("labels_", "components_", "covariance_"):
            if hasattr(fitted, attr):
                np.testing.assert_array_equal(getattr(fitted, attr), getattr(again, attr))
