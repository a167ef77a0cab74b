"""The registry of public estimators.

Each estimator joins the registry when it lands, with one entry in
``_ESTIMATOR_REGISTRY``::

    "RobustPCA": {
        "module": "sklearn_spectral.decomposition",
        # settings for parametrize_with_checks (several where behaviour branches)
        "check_params": [{}, {"center": "pairs"}],
        # a small grid for the Pipeline + GridSearchCV(n_jobs=2) test
        "grid": {"n_components": [1, 2]},
        # optional: a scorer for GridSearchCV when est.score does not fit
        "scoring": None,
    }

Documentation, the common tests and the tour read this one list.
"""

from importlib import import_module

__all__ = ["all_estimators"]

# name -> {"module", "check_params", "grid", "scoring"}
_ESTIMATOR_REGISTRY = {}

_ESTIMATOR_REGISTRY["RobustPCA"] = {
    "module": "sklearn_spectral.decomposition",
    # center in {True, 'pairs'} x solver in {'dense', 'matrix_free'} x both strategies
    "check_params": [
        {"center": center, "solver": solver, "components_strategy": strategy,
         "n_components": 2, "power_iterations": 4, "sketch_size": 4}
        for center in (True, "pairs")
        for solver in ("dense", "matrix_free")
        for strategy in ("deflation", "final_weights")
    ] + [{}],
    "grid": {"n_components": [1, 2]},
    # RobustPCA.score is the probabilistic-PCA log-likelihood
    "scoring": None,
}


def _mean_score_samples(estimator, X, y=None):
    """Scorer for an outlier detector on unlabelled data: mean score_samples."""
    return float(estimator.score_samples(X).mean())


_ESTIMATOR_REGISTRY["ShrinkageComedianCovariance"] = {
    "module": "sklearn_spectral.covariance",
    "check_params": [
        {},
        {"location": "median", "shrink_scatter": False},
        {"consistency": "diagonal", "robust_intensity": False},
        {"assume_centered": True},
    ],
    "grid": {"shrink_scatter": [True, False]},
    # EmpiricalCovariance.score: Gaussian log-likelihood of held-out rows
    "scoring": None,
}

_ESTIMATOR_REGISTRY["ShrinkageMahalanobisDetector"] = {
    "module": "sklearn_spectral.covariance",
    # The 'auto' settings use quantile=0.9: at the default 0.975 the chi-square
    # rule (rightly) flags no row of make_blobs' three Gaussian blobs, while
    # check_outliers_fit_predict / check_outliers_train need both labels. The
    # default rule and the 'adjusted' cut-off (which flags nothing there either)
    # are tested in tests/test_shrinkage_mahalanobis.py.
    "check_params": [
        {"quantile": 0.9},
        {"location": "median", "consistency": "diagonal", "quantile": 0.9},
        {"reweight": True, "quantile": 0.9},
        {"contamination": 0.1, "cutoff": "adjusted", "shrink_location": False,
         "robust_intensity": False},
    ],
    "grid": {"location": ["l1_median", "median"]},
    "scoring": _mean_score_samples,
}


def _fit_modularity(estimator, X, y=None):
    """Scorer for a clusterer without predict: modularity of a refit on X."""
    from sklearn.base import clone

    fitted = clone(estimator).fit(X)
    final = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
    return float(final.modularity_)


_ESTIMATOR_REGISTRY["AMGSpectralClustering"] = {
    "module": "sklearn_spectral.cluster",
    # Both smoothers x both matchings, rbf affinity, pattern Laplacian with
    # inertia selection. 'precomputed' is tested in
    # tests/test_amg_spectral_clustering.py (the common checks feed it
    # feature matrices).
    "check_params": [
        {},
        {"smoother": "l1_jacobi", "matching": "preis"},
        {"affinity": "rbf"},
        {"weighted": False, "selection": "inertia"},
    ],
    "grid": {"n_neighbors": [5, 10]},
    "scoring": _fit_modularity,
}

# name -> {check name: reason}; an expected failure needs a written reason.
_EXPECTED_FAILED_CHECKS = {}


def all_estimators():
    """Public estimators of sklearn_spectral.

    Returns
    -------
    estimators : list of (name, class) tuples
        Sorted by name.

    Examples
    --------
    >>> from sklearn_spectral.utils.discovery import all_estimators
    >>> isinstance(all_estimators(), list)
    True
    """
    return [
        (name, getattr(import_module(entry["module"]), name))
        for name, entry in sorted(_ESTIMATOR_REGISTRY.items())
    ]


def _estimator_instances_for_common_checks():
    """One instance per registered parameter setting, for parametrize_with_checks."""
    instances = []
    for name, cls in all_estimators():
        settings = _ESTIMATOR_REGISTRY[name].get("check_params") or [{}]
        for params in settings:
            instances.append(cls(**params))
    return instances


def _expected_failed_checks(estimator):
    """Checks expected to fail for ``estimator``, each with its reason."""
    return dict(_EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))


def _registry_entry(name):
    """The registry entry of a public estimator, by class name."""
    return _ESTIMATOR_REGISTRY[name]
