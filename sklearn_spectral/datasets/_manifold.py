"""Regression targets that vary along a manifold, and semi-supervised label hiding."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["make_manifold_regression", "hide_labels"]

_MANIFOLDS = ("swiss_roll", "s_curve", "moons", "circles", "spirals")
_INNER_CIRCLE_RADIUS = 0.5


def _one_piece(manifold, n, rng):
    """Clean points, manifold coordinate t and target of a one-piece manifold."""
    u = rng.random(n)
    v = rng.random(n)
    if manifold == "swiss_roll":
        t = 1.5 * np.pi * (1.0 + 2.0 * u)
        X = np.column_stack((t * np.cos(t), 21.0 * v, t * np.sin(t)))
    else:  # s_curve
        t = 3.0 * np.pi * (u - 0.5)
        X = np.column_stack((np.sin(t), 2.0 * v, np.sign(t) * (np.cos(t) - 1.0)))
    return X, t


def _two_pieces(manifold, piece, frequency, rng):
    """Clean points, coordinate t and target of a two-piece manifold."""
    n = piece.shape[0]
    u = rng.random(n)
    second = piece == 1
    sign = np.where(second, -1.0, 1.0)
    if manifold == "moons":
        t = np.pi * u
        X = np.column_stack((np.cos(t), np.sin(t)))
        X[second, 0] = 1.0 - X[second, 0]
        X[second, 1] = 0.5 - X[second, 1]
        y = sign * X[:, 0]
    elif manifold == "circles":
        t = 2.0 * np.pi * u
        radius = np.where(second, _INNER_CIRCLE_RADIUS, 1.0)
        X = np.column_stack((radius * np.cos(t), radius * np.sin(t)))
        y = sign * np.sin(frequency * t)
    else:  # spirals
        t = np.pi * (0.5 + 2.5 * u)
        radius = t / (2.0 * np.pi)
        X = sign[:, None] * np.column_stack((radius * np.cos(t), radius * np.sin(t)))
        y = sign * np.sin(frequency * t)
    return X, t, y


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "manifold": [StrOptions(set(_MANIFOLDS))],
        "frequency": [Interval(numbers.Real, 0, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "target_noise": [Interval(numbers.Real, 0, None, closed="left")],
        "n_noise_features": [Interval(numbers.Integral, 0, None, closed="left")],
        "return_params": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_manifold_regression(
    n_samples=1000,
    *,
    manifold="swiss_roll",
    frequency=2.0,
    noise=0.3,
    target_noise=0.0,
    n_noise_features=0,
    return_params=False,
    random_state=None,
):
    """Generate a regression problem whose target varies along a manifold.

    The target is ``y = sin(frequency * t)`` with ``t`` the manifold
    coordinate, so it is smooth along the manifold but not in the ambient
    space; unlabeled points that trace the manifold are what a
    semi-supervised regressor can exploit.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.
    manifold : str, default='swiss_roll'
        - ``'swiss_roll'``: ``t`` uniform on ``[1.5 pi, 4.5 pi]``, height
          ``h`` uniform on ``[0, 21]``, ``x = (t cos t, h, t sin t)``,
          ``y = sin(frequency t)``.
        - ``'s_curve'``: ``t`` uniform on ``[-1.5 pi, 1.5 pi]``, ``h``
          uniform on ``[0, 2]``, ``x = (sin t, h, sign(t) (cos t - 1))``,
          ``y = sin(frequency t)``.
        - ``'moons'``: two interleaved half circles (``t`` uniform on
          ``[0, pi]``): ``(cos t, sin t)`` with ``y = x_0``, and
          ``(1 - cos t, 0.5 - sin t)`` with ``y = -x_0`` (clean ``x_0``;
          ``frequency`` is not used).
        - ``'circles'``: concentric circles of radius 1 and 0.5 (angle
          ``t`` uniform on ``[0, 2 pi)``), ``y = sin(frequency t)`` on the
          outer and ``-sin(frequency t)`` on the inner one (an integer
          frequency keeps ``y`` continuous around the circle).
        - ``'spirals'``: two interleaved spirals, angle ``t`` uniform on
          ``[0.5 pi, 3 pi]``, radius ``t / (2 pi)``: ``r (cos t, sin t)``
          with ``y = sin(frequency t)`` and its mirror ``-r (cos t, sin t)``
          with ``y = -sin(frequency t)``; arms are 0.5 apart.

        The two-piece manifolds hold ``ceil(n / 2)`` and ``floor(n / 2)``
        points and put opposite targets on the pieces, so points close in the
        ambient space but on different pieces have very different targets.
    frequency : float >= 0, default=2.0
        Frequency of the target along ``t``.
    noise : float >= 0, default=0.3
        Standard deviation of the isotropic Gaussian noise added to the
        manifold coordinates. It is absolute: the swiss roll spans about 20
        units, moons, circles and spirals about 2 (use about 0.05 there).
    target_noise : float >= 0, default=0.0
        Standard deviation of the Gaussian noise added to ``y``.
    n_noise_features : int, default=0
        Number of standard-normal columns appended to ``X`` (irrelevant to
        ``y``).
    return_params : bool, default=False
        Also return a dictionary with ``'t'`` (the manifold coordinate),
        ``'piece'`` (0 or 1; all 0 for one-piece manifolds), ``'X_clean'``
        (the noiseless manifold coordinates) and ``'y_clean'`` (the target
        before ``target_noise``).
    random_state : int, RandomState instance or None, default=None
        Seeds every draw.

    Returns
    -------
    X : ndarray of shape (n_samples, d + n_noise_features), dtype float64
        ``d = 3`` for swiss_roll and s_curve, 2 otherwise.
    y : ndarray of shape (n_samples,), dtype float64
        The target.
    params : dict
        Only when ``return_params=True``, see above.

    See Also
    --------
    hide_labels : Turn ``y`` into a semi-supervised target.
    sklearn_spectral.semi_supervised.STKRRegressor : Uses the unlabeled rows.

    Notes
    -----
    A frequency of 1 is too easy in the ambient space on the swiss roll
    (plain kernel ridge regression learns it from a few labels); the default
    2 makes the geometry matter.

    References
    ----------
    .. [1] R. Zhai, R. Pukdee, R. Jin, M.-F. Balcan, P. Ravikumar.
       Spectrally Transformed Kernel Regression. ICLR 2024.
       arXiv:2402.00645.

    Examples
    --------
    >>> from sklearn_spectral.datasets import make_manifold_regression
    >>> X, y = make_manifold_regression(500, manifold="moons", noise=0.05,
    ...                                 n_noise_features=2, random_state=0)
    >>> X.shape, y.shape
    ((500, 4), (500,))
    """
    n = int(n_samples)
    rng = check_random_state(random_state)
    if manifold in ("swiss_roll", "s_curve"):
        X_clean, t = _one_piece(manifold, n, rng)
        piece = np.zeros(n, dtype=np.int64)
        y_clean = np.sin(frequency * t)
    else:
        # Balanced pieces in random order: ceil(n/2) of piece 0.
        piece = (rng.permutation(n) % 2).astype(np.int64)
        X_clean, t, y_clean = _two_pieces(manifold, piece, frequency, rng)
    X = X_clean + noise * rng.standard_normal(X_clean.shape)
    y = (
        y_clean + target_noise * rng.standard_normal(n)
        if target_noise > 0
        else y_clean.copy()
    )
    if n_noise_features > 0:
        X = np.hstack((X, rng.standard_normal((n, int(n_noise_features)))))
    if not return_params:
        return X, y
    params = {"t": t, "piece": piece, "X_clean": X_clean, "y_clean": y_clean}
    return X, y, params


def _stratified_counts(n_labeled, counts, rng):
    """How many labels to keep per class: at least one each where possible."""
    n_classes = counts.shape[0]
    alloc = np.zeros(n_classes, dtype=np.int64)
    if n_labeled < n_classes:
        chosen = rng.choice(
            n_classes, size=n_labeled, replace=False, p=counts / counts.sum()
        )
        alloc[chosen] = 1
        return alloc
    alloc[:] = 1
    rest = n_labeled - n_classes
    capacity = counts - 1
    if rest > 0:
        share = rest * capacity / capacity.sum()
        extra = np.floor(share).astype(np.int64)
        left = rest - extra.sum()
        if left > 0:
            order = np.argsort(-(share - extra), kind="stable")
            extra[order[:left]] += 1
        alloc += extra
    return alloc


def _contains_marker(y, unlabeled):
    if isinstance(unlabeled, float) and np.isnan(unlabeled):
        return y.dtype.kind in "fc" and bool(np.isnan(y).any())
    if y.dtype.kind in "biufc":
        return bool(np.any(y == unlabeled))
    return any(value == unlabeled for value in y.ravel().tolist())


@validate_params(
    {
        "y": ["array-like"],
        "n_labeled": [
            Interval(numbers.Integral, 0, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="neither"),
        ],
        "unlabeled": [numbers.Real, str, None],
        "stratify": [None, "boolean", "array-like"],
        "random_state": ["random_state"],
        "return_mask": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def hide_labels(
    y,
    n_labeled,
    *,
    unlabeled=np.nan,
    stratify=None,
    random_state=None,
    return_mask=False,
):
    """Hide all but ``n_labeled`` targets, for semi-supervised learning.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; the input is not modified. For 2-D ``y`` whole rows are
        hidden.
    n_labeled : int or float
        Number of rows that keep their target (an int in
        ``[0, n_samples]``), or the fraction of rows (a float in (0, 1),
        rounded).
    unlabeled : float, int or str, default=np.nan
        The marker for hidden targets: ``np.nan`` for regression (what
        :class:`~sklearn_spectral.semi_supervised.STKRRegressor` expects),
        ``-1`` for classification (scikit-learn's convention, what
        :class:`~sklearn_spectral.semi_supervised.STKRClassifier` expects).
        It must not occur in ``y``.
    stratify : None, bool or array-like of shape (n_samples,), default=None
        None or False: the labeled rows are a uniform random subset. True:
        stratify on ``y`` (1-D, classification); an array: stratify on its
        values. Stratified draws keep at least one label per class when
        ``n_labeled >= n_classes`` (when not, ``n_labeled`` distinct classes
        keep one each, chosen with probability proportional to class size)
        and split the rest in proportion to the class sizes.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of labeled rows.
    return_mask : bool, default=False
        Also return the boolean mask of labeled rows.

    Returns
    -------
    y_hidden : ndarray of the shape of y
        A copy of ``y`` with the hidden rows set to ``unlabeled``. Integer or
        boolean ``y`` becomes float64 with a NaN marker; string or object
        ``y`` becomes object.
    labeled : ndarray of shape (n_samples,), dtype bool
        Only when ``return_mask=True``: True where the target was kept.

    See Also
    --------
    make_manifold_regression : Targets where unlabeled rows help.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.datasets import hide_labels
    >>> y = np.arange(10.0)
    >>> y_semi = hide_labels(y, 3, random_state=0)
    >>> int(np.isfinite(y_semi).sum())
    3
    >>> y_cls = hide_labels(np.array([0, 0, 1, 1, 2, 2]), 3, unlabeled=-1,
    ...                     stratify=True, random_state=0)
    >>> sorted(y_cls[y_cls != -1].tolist())
    [0, 1, 2]
    """
    name = "hide_labels"
    y_arr = np.asarray(y)
    if y_arr.ndim not in (1, 2):
        raise ValueError(
            f"{name}: y must be 1-D or 2-D; got an array of shape {y_arr.shape}."
        )
    n = y_arr.shape[0]
    if isinstance(n_labeled, numbers.Integral):
        n_lab = int(n_labeled)
        if n_lab > n:
            raise ValueError(
                f"{name}: n_labeled={n_lab} exceeds the number of samples {n}."
            )
    else:
        n_lab = int(round(float(n_labeled) * n))
    if unlabeled is None:
        raise ValueError(f"{name}: unlabeled must be a number or a string, not None.")
    if _contains_marker(y_arr, unlabeled):
        raise ValueError(
            f"{name}: y already contains the unlabeled marker {unlabeled!r}; pass "
            "another value as unlabeled."
        )

    groups = None
    if isinstance(stratify, (bool, np.bool_)):
        if stratify:
            if y_arr.ndim != 1:
                raise ValueError(
                    f"{name}: stratify=True needs a 1-D y; got shape {y_arr.shape}. "
                    "Pass the strata as an array instead."
                )
            groups = y_arr
    elif stratify is not None:
        groups = np.asarray(stratify)
        if groups.shape != (n,):
            raise ValueError(
                f"{name}: stratify must have shape (n_samples,) = ({n},); got "
                f"shape {groups.shape}."
            )

    rng = check_random_state(random_state)
    labeled = np.zeros(n, dtype=bool)
    if groups is None:
        labeled[rng.choice(n, size=n_lab, replace=False)] = True
    elif n_lab > 0:
        _, codes = np.unique(groups, return_inverse=True)
        codes = codes.ravel()
        counts = np.bincount(codes)
        alloc = _stratified_counts(n_lab, counts, rng)
        members = np.argsort(codes, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for c in np.flatnonzero(alloc):
            block = members[starts[c] : starts[c] + counts[c]]
            labeled[rng.choice(block, size=alloc[c], replace=False)] = True

    if y_arr.dtype.kind in "biuf" and isinstance(unlabeled, numbers.Real):
        dtype = np.result_type(y_arr.dtype, np.asarray(unlabeled))
    elif y_arr.dtype.kind == "c" and isinstance(unlabeled, numbers.Number):
        dtype = y_arr.dtype
    else:
        dtype = object
    y_hidden = y_arr.astype(dtype, copy=True)
    y_hidden[~labeled] = unlabeled
    if return_mask:
        return y_hidden, labeled
    return y_hidden
