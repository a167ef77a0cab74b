"""Utilities to discover the estimators of sklearn_spectral.

An estimator is found by walking the package, so a new one is listed as soon
as a public subpackage exports it; nothing here names an estimator.
"""

import inspect
import pkgutil
from importlib import import_module
from operator import itemgetter

__all__ = ["all_estimators"]

# Parts of a module path whose modules hold no public estimator.
_MODULES_TO_IGNORE = {"tests", "utils", "datasets"}


def _public_modules():
    """Names of the public modules of sklearn_spectral, in walk order.

    Private modules (any part of the path starting with ``_``) are skipped: the
    estimators they define are found through the public module that re-exports
    them.
    """
    package = import_module("sklearn_spectral")
    for _, module_name, _ in pkgutil.walk_packages(
        package.__path__, prefix=f"{package.__name__}."
    ):
        parts = module_name.split(".")[1:]
        if any(part in _MODULES_TO_IGNORE or part.startswith("_") for part in parts):
            continue
        yield module_name


def all_estimators(type_filter=None):
    """Get a list of all estimators of sklearn_spectral.

    This function walks the public modules of the package and collects the
    classes that inherit from :class:`~sklearn.base.BaseEstimator`, are not
    abstract, have a public name and are defined in sklearn_spectral. Private
    modules, ``utils`` and ``datasets`` are not searched: an estimator defined in
    a private module is found through the public module that re-exports it.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster", \
"outlier_detector"} or list of such str, default=None
        Which kind of estimators to return. If None, no filter is applied and
        every estimator is returned. A list returns the estimators of at least
        one of the listed kinds. A kind is decided by the scikit-learn mixin the
        class inherits from (``ClassifierMixin``, ``RegressorMixin``,
        ``TransformerMixin``, ``ClusterMixin``, ``OutlierMixin``).

    Returns
    -------
    estimators : list of tuples
        List of ``(name, class)``, where ``name`` is the class name as a string
        and ``class`` is the class itself, sorted by name, without duplicates.

    Raises
    ------
    ValueError
        If ``type_filter`` holds a kind that is not one of the above.

    Examples
    --------
    >>> from sklearn_spectral.utils.discovery import all_estimators
    >>> estimators = all_estimators()
    >>> type(estimators[0])
    <class 'tuple'>
    >>> "AMGSpectralClustering" in dict(all_estimators(type_filter="cluster"))
    True
    >>> [name for name, _ in all_estimators(type_filter="outlier_detector")]
    ['ShrinkageMahalanobisDetector']
    >>> both = dict(all_estimators(type_filter=["transformer", "outlier_detector"]))
    >>> "RobustPCA" in both and "ShrinkageMahalanobisDetector" in both
    True
    """
    # Imported here: sklearn_spectral imports this module while it is itself
    # being imported, so the estimators can only be collected at call time.
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        ClusterMixin,
        OutlierMixin,
        RegressorMixin,
        TransformerMixin,
    )

    mixins = {
        "classifier": ClassifierMixin,
        "regressor": RegressorMixin,
        "transformer": TransformerMixin,
        "cluster": ClusterMixin,
        "outlier_detector": OutlierMixin,
    }
    if type_filter is not None:
        kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
        unknown = [kind for kind in kinds if kind not in mixins]
        if unknown:
            raise ValueError(
                "all_estimators: type_filter must be None, one of "
                f"{', '.join(repr(kind) for kind in mixins)} or a list of "
                f"those; got {type_filter!r}."
            )

    estimators = set()
    for module_name in _public_modules():
        module = import_module(module_name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                not name.startswith("_")
                and cls.__module__.split(".")[0] == "sklearn_spectral"
                and issubclass(cls, BaseEstimator)
                and not inspect.isabstract(cls)
            ):
                estimators.add((name, cls))

    if type_filter is not None:
        estimators = {
            (name, cls)
            for name, cls in estimators
            if any(issubclass(cls, mixins[kind]) for kind in kinds)
        }
    return sorted(estimators, key=itemgetter(0))
