"""Per-estimator settings of the common tests in ``test_common.py``.

The estimators themselves are found by
:func:`sklearn_spectral.utils.discovery.all_estimators`; this module only says,
by class name, how the common tests exercise one::

    ESTIMATOR_SETTINGS["RobustPCA"] = {
        # settings for parametrize_with_checks (several where behaviour branches)
        "check_params": [{}, {"center": "pairs"}],
        # a small grid for the Pipeline + GridSearchCV(n_jobs=2) test
        "grid": {"n_components": [1, 2]},
        # optional: a scorer for GridSearchCV when est.score does not fit
        "scoring": None,
    }

An estimator without an entry is checked with its default parameters only
(``[{}]``) and gets no grid search. A check expected to fail is listed in
``EXPECTED_FAILED_CHECKS`` with a written reason.
"""

import sys

from sklearn.base import clone

try:  # the copy joblib's process pool pickles with: older joblib bundle one
    from joblib.externals import cloudpickle
except ImportError:
    import cloudpickle

# The scorers below travel to joblib's worker processes in the GridSearchCV
# test. Those processes cannot import a module of tests/ by name, so the
# functions of this module are pickled by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# name -> {"check_params", "grid", "scoring"}
ESTIMATOR_SETTINGS = {}

ESTIMATOR_SETTINGS["RobustPCA"] = {
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


ESTIMATOR_SETTINGS["ShrinkageComedianCovariance"] = {
    "check_params": [
        {},
        {"refinement": "none", "reweight": False},
        {"location": "median", "shrink_scatter": False, "support_fraction": 0.75},
        {"consistency": "diagonal", "robust_intensity": False, "reweight": False},
        {"assume_centered": True},
    ],
    "grid": {"shrink_scatter": [True, False]},
    # EmpiricalCovariance.score: Gaussian log-likelihood of held-out rows
    "scoring": None,
}

ESTIMATOR_SETTINGS["ShrinkageMahalanobisDetector"] = {
    # The defaults first. The paper's estimator (refinement='none' without
    # reweighting) gets quantile=0.9: at 0.975 its scatter spreads over all
    # three of make_blobs' blobs and the chi-square rule flags no row, while
    # check_outliers_fit_predict / check_outliers_train need both labels.
    "check_params": [
        {},
        {"refinement": "none", "reweight": False, "quantile": 0.9},
        {"location": "median", "consistency": "diagonal", "reweight": False},
        {"contamination": 0.1, "cutoff": "adjusted", "shrink_location": False,
         "robust_intensity": False},
    ],
    "grid": {"location": ["l1_median", "median"]},
    "scoring": _mean_score_samples,
}


def _fit_modularity(estimator, X, y=None):
    """Scorer for a clusterer without predict: modularity of a refit on X."""
    fitted = clone(estimator).fit(X)
    final = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
    return float(final.modularity_)


ESTIMATOR_SETTINGS["AMGSpectralClustering"] = {
    # Both smoothers x both matchings, rbf affinity, pattern Laplacian with
    # inertia selection, the modularity refinement. 'precomputed' is tested in
    # tests/test_amg_spectral_clustering.py (the common checks feed it
    # feature matrices).
    "check_params": [
        {},
        {"smoother": "l1_jacobi", "matching": "preis"},
        {"affinity": "rbf"},
        {"weighted": False, "selection": "inertia"},
        {"refine": True},
    ],
    "grid": {"n_neighbors": [5, 10]},
    "scoring": _fit_modularity,
}



def _neg_distance_to_centre(estimator, X, y=None):
    """Scorer for a clusterer without ``score``: minus the summed distance of
    each row to its nearest centre."""
    return -float(estimator.transform(X).min(axis=1).sum())


ESTIMATOR_SETTINGS["SDPKMeans"] = {
    # 'auto' picks the exact ADMM solver at these sizes; the low-rank and
    # sketch-and-lift paths branch from there.
    "check_params": [{}, {"solver": "nlr"}, {"solver": "sketch"}],
    "grid": {"n_clusters": [2, 3]},
    "scoring": _neg_distance_to_centre,
}

ESTIMATOR_SETTINGS["SDPGaussianMixture"] = {
    # One component (the default, as GaussianMixture's) needs no SDP; two run
    # the likelihood-adjusted SDP on the low-rank solver.
    "check_params": [
        {},
        {"n_components": 2, "solver": "nlr", "init_params": "k-means++"},
    ],
    "grid": {"n_components": [1, 2]},
    "scoring": None,
}

ESTIMATOR_SETTINGS["STKRRegressor"] = {
    "check_params": [{}, {"spectral_transform": "kpca"}, {"n_landmarks": 20}],
    "grid": {"alpha": [1e-4, 1e-2]},
    "scoring": None,
}

ESTIMATOR_SETTINGS["STKRClassifier"] = {
    "grid": {"alpha": [1e-4, 1e-2]},
    "scoring": None,
}

# name -> {check name: reason}; an expected failure needs a written reason.
EXPECTED_FAILED_CHECKS = {
    "STKRClassifier": {
        "check_classifiers_classes": (
            "the check uses -1 as a class label; -1 marks unlabeled rows here, "
            "as in LabelSpreading, which the check exempts by name"
        ),
    },
}

# Expected failures of one parameter setting only: name -> (predicate, checks).
_EXPECTED_FAILED_CHECKS_WHEN = {
    "SDPGaussianMixture": (
        lambda est: est.n_components == 1,
        {
            "check_clustering": (
                "with one component (the default, as GaussianMixture's) every "
                "row gets one label, so the check's ARI > 0.4 on three blobs "
                "cannot hold; two components are checked in full"
            ),
        },
    ),
}


def check_params(name):
    """Parameter settings of ``name`` for parametrize_with_checks."""
    return ESTIMATOR_SETTINGS.get(name, {}).get("check_params") or [{}]


def grid(name):
    """The small grid of ``name`` for the GridSearchCV test; empty for none."""
    return dict(ESTIMATOR_SETTINGS.get(name, {}).get("grid") or {})


def scoring(name):
    """The GridSearchCV scorer of ``name``; None means ``estimator.score``."""
    return ESTIMATOR_SETTINGS.get(name, {}).get("scoring")


def estimator_instances(estimators):
    """One instance per parameter setting of each ``(name, class)`` pair."""
    return [cls(**params) for name, cls in estimators for params in check_params(name)]


def expected_failed_checks(estimator):
    """Checks expected to fail for ``estimator``, each with its reason."""
    name = type(estimator).__name__
    checks = dict(EXPECTED_FAILED_CHECKS.get(name, {}))
    if name in _EXPECTED_FAILED_CHECKS_WHEN:
        applies, more = _EXPECTED_FAILED_CHECKS_WHEN[name]
        if applies(estimator):
            checks.update(more)
    return checks
