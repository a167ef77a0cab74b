"""Data generators and loaders shared by the tests, benchmarks and examples.

Every generator is deterministic for a given ``random_state`` and returns the
ground truth it planted, so benchmarks can score against it.

- :func:`make_contaminated_gaussian`: known scatter plus planted outliers
  (robust PCA, robust covariance, outlier detection).
- :func:`load_outlier_benchmark`: ODDS-style outlier sets from scikit-learn's
  bundled data (no download).
- :func:`make_attributed_sbm`, :func:`sbm_detectability_threshold`: sparse
  stochastic block models with categorical attributes, sampled in
  ``O(n + m)``.
- :func:`make_heterogeneous_mixture`, :func:`exact_recovery_cutoff`:
  Gaussian mixtures calibrated against the exact-recovery cutoff.
- :func:`make_manifold_regression`, :func:`hide_labels`: manifold-structured
  regression targets and semi-supervised label hiding.
"""

from ._contaminated import make_contaminated_gaussian
from ._manifold import hide_labels, make_manifold_regression
from ._mixture import exact_recovery_cutoff, make_heterogeneous_mixture
from ._outlier_benchmark import OUTLIER_BENCHMARKS, load_outlier_benchmark
from ._sbm import make_attributed_sbm, sbm_detectability_threshold

__all__ = [
    "OUTLIER_BENCHMARKS",
    "exact_recovery_cutoff",
    "hide_labels",
    "load_outlier_benchmark",
    "make_attributed_sbm",
    "make_contaminated_gaussian",
    "make_heterogeneous_mixture",
    "make_manifold_regression",
    "sbm_detectability_threshold",
]
