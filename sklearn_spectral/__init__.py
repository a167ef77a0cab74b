"""sklearn_spectral: scikit-learn compatible spectral and robust estimators.

Subpackages
-----------
decomposition
    Outlier-robust PCA.
covariance
    Robust shrinkage estimators of location and scatter, outlier detection.
cluster
    Spectral clustering of graphs by bootstrap algebraic multigrid.
semi_supervised
    Planned: spectrally transformed kernel regression and classification
    (no estimator yet).
datasets
    Data generators shared by the tests, benchmarks and examples.
utils
    Shared helpers: thread control, graphs, validation, estimator discovery.

Planned, not in this release: ``STKRRegressor`` and ``STKRClassifier``
(``semi_supervised``), ``SDPKMeans`` and ``SDPGaussianMixture`` (``cluster``).
"""

__version__ = "0.1.0.dev0"

from . import cluster, covariance, datasets, decomposition, semi_supervised, utils
from ._show_versions import show_versions

__all__ = [
    "cluster",
    "covariance",
    "datasets",
    "decomposition",
    "semi_supervised",
    "utils",
    "show_versions",
    "__version__",
]
# Each estimator subpackage re-exports its public classes; they are also
# importable from the top level.
for _sub in (decomposition, covariance, cluster, semi_supervised):
    for _name in _sub.__all__:
        globals()[_name] = getattr(_sub, _name)
        __all__.append(_name)
del _sub
