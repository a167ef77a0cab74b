"""Input checks shared by the estimators, beyond :mod:`sklearn.utils.validation`.

Every message names the estimator, the input or parameter, and what was
expected.
"""

import numbers

import numpy as np

__all__ = ["check_min_samples", "check_integer_codes", "message_prefix"]


def message_prefix(estimator):
    """The ``"Name: "`` that starts an error or warning message.

    Parameters
    ----------
    estimator : estimator instance, class, str or None
        Whose name to put in front; ``None`` gives an empty prefix.

    Returns
    -------
    prefix : str

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_spectral.utils.validation import message_prefix
    >>> message_prefix(PCA())
    'PCA: '
    >>> message_prefix(None)
    ''
    """
    if estimator is None or estimator == "":
        return ""
    if isinstance(estimator, str):
        return f"{estimator}: "
    cls = estimator if isinstance(estimator, type) else type(estimator)
    return f"{cls.__name__}: "


_prefix = message_prefix


def check_min_samples(n_samples, min_samples, *, estimator_name=None, reason=None):
    """Raise a ValueError when there are fewer rows than a method needs.

    Parameters
    ----------
    n_samples : int
        Rows available.
    min_samples : int
        Rows required.
    estimator_name : str, default=None
        Put in front of the message.
    reason : str, default=None
        Why that many are needed (e.g. ``"for contamination=0.2"``).

    Examples
    --------
    >>> from sklearn_spectral.utils.validation import check_min_samples
    >>> check_min_samples(10, 3)
    >>> check_min_samples(2, 3, estimator_name="RobustPCA", reason="for 3 components")
    Traceback (most recent call last):
    ...
    ValueError: RobustPCA: got n_samples=2; at least 3 are required for 3 components.
    """
    if n_samples < min_samples:
        why = f" {reason}" if reason else ""
        raise ValueError(
            f"{_prefix(estimator_name)}got n_samples={n_samples}; at least "
            f"{min_samples} are required{why}."
        )


def check_integer_codes(codes, n_samples, *, name="attributes", estimator_name=None):
    """Validate integer-coded categories, one column per variable.

    Negative codes mean "missing". Floats holding integral values are accepted.

    Parameters
    ----------
    codes : array-like of shape (n_samples,) or (n_samples, n_variables)
        The codes.
    n_samples : int
        Expected number of rows.
    name : str, default="attributes"
        Name of the input in messages.
    estimator_name : str, default=None
        Put in front of messages.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_variables), dtype int64
        A 1-D input becomes one column.

    Examples
    --------
    >>> from sklearn_spectral.utils.validation import check_integer_codes
    >>> check_integer_codes([0, 2, -1], 3).ravel()
    array([ 0,  2, -1])
    """
    pre = _prefix(estimator_name)
    arr = np.asarray(codes)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
    ):
        raise ValueError(
            f"{pre}{name} must be integer-coded categories, got dtype {arr.dtype}."
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{pre}{name} must be 1-D or 2-D (n_samples, n_variables), got "
            f"{arr.ndim} dimensions."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{pre}{name} has {arr.shape[0]} rows but the data has {n_samples}."
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{pre}{name} contains NaN or infinity.")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{pre}{name} must hold integer codes, got fractions.")
    if isinstance(n_samples, numbers.Integral) and arr.size == 0 and n_samples:
        raise ValueError(f"{pre}{name} has no columns.")
    return np.ascontiguousarray(arr, dtype=np.int64)
