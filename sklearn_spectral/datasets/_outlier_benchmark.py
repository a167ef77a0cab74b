"""Outlier-detection benchmarks in the style of ODDS, built from bundled data.

Only the data sets that ship inside scikit-learn are used; nothing is
downloaded.
"""

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["load_outlier_benchmark", "OUTLIER_BENCHMARKS"]

#: name -> (n_samples, n_features, n_outliers) of each benchmark.
OUTLIER_BENCHMARKS = {
    "wbc": (378, 30, 21),
    "wine": (129, 13, 10),
    "digits": (187, 48, 9),
    "iris": (55, 4, 5),
    "diabetes": (442, 10, 0),
}

_DIGITS_INLIER = 0
_DIGITS_OUTLIER_SHARE = 0.05


def _split(data, target, inlier_classes, outlier_classes, n_outliers, rng):
    inliers = np.flatnonzero(np.isin(target, inlier_classes))
    pool = np.flatnonzero(np.isin(target, outlier_classes))
    chosen = np.sort(rng.choice(pool, size=n_outliers, replace=False))
    return data[inliers], data[chosen]


@validate_params(
    {
        "name": [StrOptions(set(OUTLIER_BENCHMARKS))],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_outlier_benchmark(name, *, random_state=None):
    """Load an ODDS-style outlier benchmark built from scikit-learn's bundled data.

    Each set takes the rows of some classes as inliers and a few rows drawn at
    random (seeded by ``random_state``) from another class as outliers; rows
    are shuffled. Shapes and outlier counts are fixed:

    ==============  =========  ========  ========  ===============================
    name            n_samples  features  outliers  built from
    ==============  =========  ========  ========  ===============================
    ``'wbc'``       378        30        21        ``load_breast_cancer``: the 357
                                                   benign rows + 21 malignant
                                                   (the ODDS "WBC" counts)
    ``'wine'``      129        13        10        ``load_wine``: classes 1 and 2
                                                   (71 + 48) + 10 rows of class 0
                                                   (the ODDS "Wine" counts)
    ``'digits'``    187        48        9         ``load_digits``: the 178 zeros
                                                   + 9 other digits (5% of 178);
                                                   the 16 pixels constant over
                                                   the zeros are dropped
    ``'iris'``      55         4         5         ``load_iris``: the 50
                                                   versicolor + 5 setosa
    ``'diabetes'``  442        10        0         ``load_diabetes``, no outliers
                                                   (a false-positive check)
    ==============  =========  ========  ========  ===============================

    The features are returned in their original units: robust
    standardisation (e.g. median and MAD, or
    :class:`~sklearn.preprocessing.RobustScaler`), which the benchmarks use,
    is the caller's business. Nothing is downloaded.

    Parameters
    ----------
    name : {'wbc', 'wine', 'digits', 'iris', 'diabetes'}
        Which benchmark.
    random_state : int, RandomState instance or None, default=None
        Chooses the outlier rows and the row order; pass an int for a
        reproducible set.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        The rows.
    is_outlier : ndarray of shape (n_samples,), dtype bool
        True for the planted outliers.

    See Also
    --------
    make_contaminated_gaussian : Synthetic contaminated data with known truth.

    References
    ----------
    .. [1] S. Rayana. ODDS Library. Stony Brook University, Department of
       Computer Sciences, 2016 (the WBC and Wine sets' construction).
    .. [2] E. Cabana, R. E. Lillo, H. Laniado. Multivariate outlier detection
       based on a robust Mahalanobis distance with shrinkage estimators.
       Statistical Papers 62, 2021. arXiv:1904.02596.

    Examples
    --------
    >>> from sklearn_spectral.datasets import load_outlier_benchmark
    >>> X, is_outlier = load_outlier_benchmark("wbc", random_state=0)
    >>> X.shape, int(is_outlier.sum())
    ((378, 30), 21)
    """
    rng = check_random_state(random_state)
    n_out = OUTLIER_BENCHMARKS[name][2]
    if name == "wbc":
        data = load_breast_cancer()
        # target 0 = malignant, 1 = benign.
        inl, out = _split(data.data, data.target, [1], [0], n_out, rng)
    elif name == "wine":
        data = load_wine()
        inl, out = _split(data.data, data.target, [1, 2], [0], n_out, rng)
    elif name == "digits":
        data = load_digits()
        others = [d for d in range(10) if d != _DIGITS_INLIER]
        inl, out = _split(data.data, data.target, [_DIGITS_INLIER], others, n_out, rng)
        keep = inl.std(axis=0) > 0
        inl, out = inl[:, keep], out[:, keep]
    elif name == "iris":
        data = load_iris()
        inl, out = _split(data.data, data.target, [1], [0], n_out, rng)
    else:  # diabetes
        inl = load_diabetes().data
        out = inl[:0]
    X = np.vstack((inl, out)).astype(np.float64)
    is_outlier = np.zeros(X.shape[0], dtype=bool)
    is_outlier[inl.shape[0] :] = True
    perm = rng.permutation(X.shape[0])
    return np.ascontiguousarray(X[perm]), is_outlier[perm]
