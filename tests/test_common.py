"""Checks every public estimator must pass.

The estimators are found by ``sklearn_spectral.utils.discovery.all_estimators``;
how each is exercised is read from ``_estimator_settings.py`` beside this file.
"""

import ast
import inspect
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import (
    BaseEstimator,
    clone,
    is_classifier,
    is_clusterer,
    is_outlier_detector,
    is_regressor,
)
from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_spectral
from sklearn_spectral.utils.discovery import all_estimators

from ._estimator_settings import (
    ESTIMATOR_SETTINGS,
    EXPECTED_FAILED_CHECKS,
    estimator_instances,
    expected_failed_checks,
    grid,
    scoring,
)

ESTIMATORS = all_estimators()
ESTIMATOR_IDS = [name for name, _ in ESTIMATORS]


@parametrize_with_checks(
    estimator_instances(ESTIMATORS),
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_all_estimators_lists_every_public_class():
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


def test_settings_name_discovered_estimators():
    assert set(ESTIMATOR_SETTINGS) <= set(ESTIMATOR_IDS)
    for name, entry in ESTIMATOR_SETTINGS.items():
        assert set(entry) <= {"check_params", "grid", "scoring"}, name


def test_expected_failures_carry_reasons():
    for name, checks in EXPECTED_FAILED_CHECKS.items():
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
        pytest.skip("no public estimator yet")


@pytest.mark.parametrize(
    "name_cls", ESTIMATORS or [None], ids=ESTIMATOR_IDS or ["none"]
)
def test_pipeline_gridsearch_pickle(name_cls):
    """Each estimator works in a Pipeline, in GridSearchCV(n_jobs=2) (joblib's
    process pool), survives pickling, and is deterministic under random_state."""
    if name_cls is None:
        _skip_if_empty()
    name, cls = name_cls
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

    param_grid = {f"{pipe.steps[-1][0]}__{k}": v for k, v in grid(name).items()}
    if param_grid:
        search = GridSearchCV(
            pipe, param_grid, cv=3, n_jobs=2, scoring=scoring(name), error_score="raise"
        )
        search.fit(X, y)
        assert set(search.best_params_) == set(param_grid)

    fitted = clone(est).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    for attr in ("labels_", "components_", "location_", "dist_"):
        if hasattr(fitted, attr):
            np.testing.assert_array_equal(
                getattr(fitted, attr), getattr(restored, attr)
            )

    if "random_state" in est.get_params():
        again = clone(est).fit(X, y)
        for attr in ("labels_", "components_", "covariance_"):
            if hasattr(fitted, attr):
                np.testing.assert_array_equal(
                    getattr(fitted, attr), getattr(again, attr)
                )


_KIND_PREDICATES = {
    "classifier": is_classifier,
    "regressor": is_regressor,
    "transformer": lambda est: get_tags(est).transformer_tags is not None,
    "cluster": is_clusterer,
    "outlier_detector": is_outlier_detector,
}


def test_all_estimators_sorted_unique_and_defined_here():
    names = [name for name, _ in ESTIMATORS]
    assert names == sorted(set(names))
    for name, cls in ESTIMATORS:
        assert cls.__name__ == name
        assert issubclass(cls, BaseEstimator)
        assert cls.__module__.startswith("sklearn_spectral.")
        assert not cls.__module__.startswith(
            ("sklearn_spectral.utils", "sklearn_spectral.datasets")
        )


@pytest.mark.parametrize("kind", sorted(_KIND_PREDICATES))
def test_all_estimators_type_filter_agrees_with_tags(kind):
    """A kind's estimators are exactly those whose tags say that kind."""
    predicate = _KIND_PREDICATES[kind]
    expected = [(name, cls) for name, cls in ESTIMATORS if predicate(cls())]
    assert all_estimators(type_filter=kind) == expected
    assert all_estimators(type_filter=[kind]) == expected


@pytest.mark.parametrize(
    "kinds",
    [["transformer", "cluster", "outlier_detector"], sorted(_KIND_PREDICATES)],
    ids=["three", "all"],
)
def test_all_estimators_type_filter_list_is_a_union(kinds):
    expected = [
        (name, cls)
        for name, cls in ESTIMATORS
        if any(_KIND_PREDICATES[kind](cls()) for kind in kinds)
    ]
    assert all_estimators(type_filter=kinds) == expected
    assert all_estimators(type_filter=tuple(kinds)) == expected
    assert all_estimators(type_filter=kinds + kinds[:1]) == expected


@pytest.mark.parametrize("bad", ["clusterer", ["cluster", "density"], [None]])
def test_all_estimators_rejects_unknown_type_filter(bad):
    with pytest.raises(ValueError, match="all_estimators: type_filter must be"):
        all_estimators(type_filter=bad)


def test_all_estimators_picks_up_a_new_public_estimator(monkeypatch):
    """A class a public subpackage exports is listed without being registered
    anywhere; private names, abstract classes and classes defined outside
    sklearn_spectral are not."""
    from abc import ABCMeta, abstractmethod

    from sklearn.base import ClusterMixin
    from sklearn.cluster import KMeans

    class NewClusterer(ClusterMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

    class _PrivateClusterer(NewClusterer):
        pass

    class AbstractClusterer(ClusterMixin, BaseEstimator, metaclass=ABCMeta):
        @abstractmethod
        def fit(self, X, y=None):
            """Fit."""

    for cls in (NewClusterer, _PrivateClusterer, AbstractClusterer):
        cls.__module__ = "sklearn_spectral.cluster._new_module"
        monkeypatch.setattr(sklearn_spectral.cluster, cls.__name__, cls, raising=False)
    monkeypatch.setattr(sklearn_spectral.cluster, "KMeans", KMeans, raising=False)

    found = dict(all_estimators())
    assert found["NewClusterer"] is NewClusterer
    assert "NewClusterer" in dict(all_estimators(type_filter="cluster"))
    assert "NewClusterer" not in dict(all_estimators(type_filter="transformer"))
    assert not {"_PrivateClusterer", "AbstractClusterer", "KMeans"} & set(found)
    assert sorted(set(found) - {"NewClusterer"}) == ESTIMATOR_IDS


_PACKAGE_DIR = Path(sklearn_spectral.__file__).resolve().parent
_ESTIMATOR_PACKAGES = tuple(
    f"sklearn_spectral.{sub}"
    for sub in ("cluster", "covariance", "decomposition", "semi_supervised")
)


def _names_estimator_module(module_name):
    return any(
        module_name == pkg or module_name.startswith(pkg + ".")
        for pkg in _ESTIMATOR_PACKAGES
    )


def _estimator_references(path, package="sklearn_spectral.utils"):
    """Imports of an estimator subpackage in one Python file of ``package``, and
    string constants outside docstrings that name an estimator module or class."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        )
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if _names_estimator_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if _names_estimator_module(module):
                found.append(module)
            else:
                found += [
                    f"{module}.{a.name}"
                    for a in node.names
                    if _names_estimator_module(f"{module}.{a.name}")
                ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (_names_estimator_module(node.value) or node.value in ESTIMATOR_IDS)
        ):
            found.append(node.value)
    return found


def test_utils_know_no_estimator():
    """No file of sklearn_spectral.utils imports an estimator subpackage or names
    an estimator: the estimators depend on utils, never the reverse."""
    utils_dir = _PACKAGE_DIR / "utils"
    py_files = sorted(utils_dir.rglob("*.py"))
    assert utils_dir / "discovery.py" in py_files
    for path in py_files:
        assert _estimator_references(path) == [], path
    cimport = re.compile(
        r"^\s*(?:from|cimport)\s+(?:sklearn_spectral\.|\.\.)"
        r"(?:cluster|covariance|decomposition|semi_supervised)\b",
        re.MULTILINE,
    )
    for path in sorted(utils_dir.rglob("*.p[xy][xd]")):
        assert not cimport.search(path.read_text()), path


def test_estimator_reference_finder_sees_imports(tmp_path):
    """The finder above catches each way of reaching an estimator module."""
    source = tmp_path / "module.py"
    source.write_text(
        '"""Docstring naming sklearn_spectral.cluster and RobustPCA is fine."""\n'
        "import sklearn_spectral.cluster\n"
        "from sklearn_spectral.covariance import X\n"
        "from ..decomposition import Y\n"
        "from .. import semi_supervised\n"
        "from . import graph\n"
        "from ._threading import single_threaded_blas\n"
        'REGISTRY = {"RobustPCA": "sklearn_spectral.decomposition"}\n'
    )
    assert _estimator_references(source) == [
        "sklearn_spectral.cluster",
        "sklearn_spectral.covariance",
        "sklearn_spectral.decomposition",
        "sklearn_spectral.semi_supervised",
        "RobustPCA",
        "sklearn_spectral.decomposition",
    ]
