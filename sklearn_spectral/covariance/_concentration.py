"""Concentration steps, deterministic starts and reweighting of a robust scatter.

The refinement that :class:`ShrinkageComedianCovariance` runs by default on top
of the shrinkage comedian estimate, in module-level steps:

- :func:`_deterministic_starts`: cheap starting estimates besides the comedian
  one (spatial signs, the half of the rows nearest the median), as DetMCD does;
- :func:`_whitened_distances`: squared Mahalanobis distances and the log
  determinant of a scatter, one BLAS pass over the data
  (:func:`_whitened_sq_norms`, which the estimator's ``mahalanobis`` uses
  too);
- :func:`_concentrate`: concentration steps (FastMCD's C-steps) from every
  start, the best ones run until the determinant stops falling;
- :func:`_search`: the starts and their concentration, screened on a sample
  of the rows when the data are large, the winner then concentrated on all
  of them;
- :func:`_consistency_factor` and :func:`_reweighted_estimates`: the
  correction of the raw estimate at the normal and the one-step reweighting.
"""

import math

import numpy as np
from scipy import linalg, stats
from sklearn.utils import gen_batches

from ..utils._openmp_helpers import _openmp_effective_n_threads
from ..utils._threading import run_on_row_ranges
from ._comedian import _row_median_mad

# Rows per block of a pass over the data: a block and its product stay in the
# cache (4096 x 50 float64 is 1.6 MB; 1.4x faster than 32768-row blocks on
# 1e6 x 50).
_BLOCK_ROWS = 1 << 12
# Rows per thread below which a distance pass stays on one thread.
_THREAD_ROWS = 1 << 16
# Relative eigenvalue floor of a scatter inside the steps (exact fits).
_STEP_FLOOR = 1e-12
# C-steps run from every start before the _SCREEN_KEEP best ones are run to
# convergence (as FastMCD screens its starts); on X of at most _SCREEN_SIZE
# entries that is not the screening sample, every start runs to convergence.
_SCREEN_STEPS = 2
_SCREEN_KEEP = 2
_SCREEN_SIZE = 1 << 18
# Above _SCREEN_SIZE entries, the starts are built and concentrated on a sample
# of about _SCREEN_SIZE entries (at least _SAMPLE_ROWS_PER_FEATURE rows per
# feature), drawn with this fixed seed so that a fit stays deterministic.
_SAMPLE_ROWS_PER_FEATURE = 20
_SAMPLE_SEED = 0
# After such a screen, the C-steps on all the rows stop once the log
# determinant falls by less than this (a few boundary rows of the subset
# still trading places; the sampling error of the log determinant is of
# order sqrt(2 p / n), 1e-2 at 1e6 x 50, a hundred times this).
_FULL_LOGDET_TOL = 1e-4
# Chi-square quantile of the comedian distance within which the mean of an
# accepted concentration subset lies.
_ANCHOR_QUANTILE = 0.975
# Leading axes of the comedian scatter that give half-space starts.
_N_AXES = 2
# Subsets of fewer than this many rows per feature get a shrunk covariance.
_SHRINK_ROWS_PER_FEATURE = 5
# Eigenvalue ratio below which a subset's covariance counts as singular.
_SINGULAR = 1e-10
# 1 / Phi^{-1}(3/4)^2: squared MAD to a variance at the normal.
_C = 1.0 / stats.norm.ppf(0.75) ** 2


def _median(values):
    """Median of a 1-D float64 array, equal to ``np.median``'s.

    The selection kernel of the comedian (a sampled bracket, then a selection
    inside it), several times faster than numpy's partition on 1e5 values.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    return float(_row_median_mad(values[None, :], 1, False)[0][0])


def _column_median_mad(Y, compute_mad=True):
    """Per column of Y: the median and the median of squared deviations.

    As ``np.median(Y, axis=0)`` and ``np.median((Y - med) ** 2, axis=0)``
    (zeros unless ``compute_mad``), by the selection kernel on the columns
    copied into rows.
    """
    YT = np.ascontiguousarray(Y.T, dtype=np.float64)
    return _row_median_mad(YT, 1, compute_mad)


def _cholesky_floored(S, floor=_STEP_FLOOR):
    """Lower Cholesky factor of S, its eigenvalues floored if S is singular.

    The floor is ``floor`` times the mean absolute eigenvalue.
    """
    S = 0.5 * (S + S.T)
    try:
        return linalg.cholesky(S, lower=True, check_finite=False)
    except linalg.LinAlgError:
        evals, evecs = linalg.eigh(S)
        level = max(float(np.mean(np.abs(evals))), np.finfo(float).tiny)
        evals = np.maximum(evals, floor * level)
        return linalg.cholesky((evecs * evals) @ evecs.T, lower=True)


def _whitened_sq_norms(X, location, L, out, n_threads=1):
    """Squared norms of the rows of ``(X - location) L^{-T}``, written to out.

    With ``L`` lower triangular (float64), ``|L^{-1} (x - location)|^2`` is
    the squared Mahalanobis distance under ``L L^T``. One pass over X by
    blocks of ``_BLOCK_ROWS`` rows, each centred and multiplied by ``L^{-T}``
    in the dtype of X (float64 for any other) inside two reused block
    buffers. With ``n_threads > 1``, X is split into one run of blocks per
    Python thread (the products release the GIL; BLAS is single-threaded
    around the fit).

    Returns
    -------
    out : ndarray of shape (n_samples,)
    """
    p = L.shape[0]
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    W = linalg.solve_triangular(L, np.eye(p), lower=True).T.astype(dtype)
    location = np.asarray(location, dtype=dtype)
    n = X.shape[0]

    def run(start, stop):
        Z = np.empty((min(_BLOCK_ROWS, stop - start), p), dtype=dtype)
        Y = np.empty_like(Z)
        for rows in gen_batches(stop - start, _BLOCK_ROWS):
            m = rows.stop - rows.start
            rows = slice(start + rows.start, start + rows.stop)
            z = np.subtract(X[rows], location, out=Z[:m])
            y = np.matmul(z, W, out=Y[:m])
            out[rows] = np.einsum("ij,ij->i", y, y)

    run_on_row_ranges(run, n, n_threads)
    return out


def _whitened_distances(X, location, S):
    """Squared Mahalanobis distances of the rows of X and ``log det S``.

    :func:`_whitened_sq_norms` with ``L`` the Cholesky factor of S
    (eigenvalues floored if S is singular), on one thread per
    ``_THREAD_ROWS`` rows (at most the OpenMP thread count).

    Returns
    -------
    d2 : ndarray of shape (n_samples,), float64
    logdet : float
    """
    L = _cholesky_floored(np.asarray(S, dtype=np.float64))
    n = X.shape[0]
    n_threads = min(_openmp_effective_n_threads(), n // _THREAD_ROWS)
    d2 = _whitened_sq_norms(X, location, L, np.empty(n, dtype=np.float64), n_threads)
    return d2, 2.0 * float(np.sum(np.log(np.diag(L))))


def _subset_estimates(X, subset, *, delta, assume_centered):
    """Mean and covariance of the rows ``subset`` of X, shrunk by ``delta``.

    The covariance (divided by the subset size) is shrunk toward ``m * I``
    (``m`` its mean eigenvalue) with the fixed intensity ``delta``.
    """
    Xh = np.asarray(X[subset], dtype=np.float64)
    location = np.zeros(X.shape[1]) if assume_centered else Xh.mean(axis=0)
    Xh -= location
    S = (Xh.T @ Xh) / Xh.shape[0]
    if delta > 0:
        p = S.shape[0]
        level = float(np.trace(S)) / p
        S *= 1.0 - delta
        S.flat[:: p + 1] += delta * level
    return location, S


def _eigen_scatter(Z, scale, V):
    """Scatter with eigenvectors V: robust variances along them (as OGK).

    Z are centred data, ``scale`` their column scales, V orthonormal
    directions in the scaled coordinates. The variance along each direction
    is ``C * MAD^2`` of the projections (the mean square where the MAD is 0).
    Returns ``D V diag(lam) V^T D`` with ``D = diag(scale)``.
    """
    Y = (Z / scale) @ V
    lam = _C * _column_median_mad(Y)[1]
    zero = lam <= 0
    if np.any(zero):
        lam[zero] = np.mean(Y[:, zero] ** 2, axis=0)
    lam = np.maximum(lam, _STEP_FLOOR * max(float(lam.max()), np.finfo(float).tiny))
    S = (scale[:, None] * V * lam) @ (V.T * scale[None, :])
    return 0.5 * (S + S.T)


def _deterministic_starts(X, center, S, *, h, assume_centered):
    """Cheap deterministic starts besides the comedian one (DetMCD-style).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data without constant columns.
    center, S : ndarray
        The comedian estimate; ``center`` is 0 when ``assume_centered``.
    h : int
        Rows of the concentration subsets.
    assume_centered : bool
        As in :class:`ShrinkageComedianCovariance`.

    Returns
    -------
    starts : list of (location, scatter)
        The spatial-sign start (eigenvectors of the spatial-sign covariance of
        the robustly scaled data, robust variances along them), the
        nearest-half start (mean and covariance of the half of the rows
        nearest the centre in robustly scaled Euclidean distance), and the
        half-space starts: mean and covariance of the ``h`` rows of lowest and
        of highest projection on each of the ``_N_AXES`` leading axes of
        the correlation matrix of ``S``, which lock onto one cluster when
        the data have two along an axis (the other starts sit between them).
    """
    n, p = X.shape
    Z = np.asarray(X, dtype=np.float64) - center
    scale = np.sqrt(_C) * _column_median_mad(np.abs(Z), compute_mad=False)[0]
    zero = scale <= 0
    if np.any(zero):
        scale[zero] = math.sqrt(math.pi / 2.0) * np.mean(np.abs(Z[:, zero]), axis=0)
    scale[scale <= 0] = 1.0
    U = Z / scale
    r = np.sqrt(np.einsum("ij,ij->i", U, U))
    starts = []
    keep = r > 0
    if np.any(keep):
        signs = U[keep] / r[keep, None]
        _, V = linalg.eigh(signs.T @ signs)
        starts.append((center, _eigen_scatter(Z, scale, V)))
    subsets = [np.argpartition(r, (n + 1) // 2 - 1)[: (n + 1) // 2]]
    if h < n:
        # axes of the correlation form of S: equivariant under column scaling
        d = np.sqrt(np.maximum(np.diag(S), np.finfo(float).tiny))
        _, axes = linalg.eigh(S / np.outer(d, d))
        proj = (Z / d) @ axes[:, ::-1][:, : min(_N_AXES, p)]
        for t in proj.T:
            subsets.append(np.argpartition(t, h - 1)[:h])
            subsets.append(np.argpartition(-t, h - 1)[:h])
    for subset in subsets:
        Zh = Z[subset]
        loc = np.zeros(p) if assume_centered else Zh.mean(axis=0)
        Zh = Zh - loc
        starts.append((center + loc, (Zh.T @ Zh) / Zh.shape[0]))
    return starts


def _smallest(d2, h):
    """Sorted indices of the ``h`` smallest entries of d2.

    Of entries tied at the cut, the lowest indices are taken. One selection
    and two comparisons: no sort of the indices.
    """
    n = d2.shape[0]
    if h >= n:
        return np.arange(n)
    cut = np.partition(d2, h - 1)[h - 1]
    chosen = d2 < cut
    missing = h - int(np.count_nonzero(chosen))
    chosen[np.flatnonzero(d2 == cut)[:missing]] = True
    return np.flatnonzero(chosen)


def _c_steps(X, subset, *, delta, assume_centered, max_steps, tol=0.0, fit=None):
    """Concentration steps from a subset of rows.

    Each step fits the mean and the (shrunk) covariance of the subset and
    moves the subset to the ``h`` rows of smallest distance under them; the
    determinant cannot rise (Rousseeuw and Van Driessen; with a fixed
    shrinkage intensity, Boudt et al.). Stops when it no longer falls, when
    the subset repeats, after ``max_steps``, or after a step whose log
    determinant fell by no more than ``tol`` (that step is kept).

    ``fit``, if given, is ``(location, S, logdet, d2)`` of ``subset`` as this
    function returns them; they are then not computed again.

    Returns
    -------
    location, S : the estimates of the last subset
    logdet : float
    subset : ndarray of int
    d2 : ndarray of shape (n_samples,)
        Distances under the returned estimates.
    n_steps : int
    """
    h = subset.shape[0]
    if fit is None:
        location, S = _subset_estimates(
            X, subset, delta=delta, assume_centered=assume_centered
        )
        d2, logdet = _whitened_distances(X, location, S)
    else:
        location, S, logdet, d2 = fit
    n_steps = 0
    for n_steps in range(1, max_steps + 1):
        new = _smallest(d2, h)
        if np.array_equal(new, subset):
            break
        loc_new, S_new = _subset_estimates(
            X, new, delta=delta, assume_centered=assume_centered
        )
        d2_new, logdet_new = _whitened_distances(X, loc_new, S_new)
        if not logdet_new < logdet:
            break
        fall = logdet - logdet_new
        location, S, d2, logdet, subset = loc_new, S_new, d2_new, logdet_new, new
        if fall <= tol:
            break
    return location, S, logdet, subset, d2, n_steps


def _concentrate(
    X, starts, *, h, shrink_scatter, assume_centered, max_steps, screen=None
):
    """Concentration steps from every start; the lowest determinant wins.

    Every start gives its first subset (the ``h`` rows nearest it); each
    subset runs ``screen`` C-steps, after which the ``_SCREEN_KEEP`` with
    the lowest determinants run until they converge (as FastMCD screens its
    starts); the lowest determinant wins among the subsets whose mean lies
    within the comedian estimate's chi-square cut. With ``shrink_scatter``,
    the covariance of every subset is shrunk toward ``m * I`` with one fixed
    intensity (which keeps the determinant falling): :func:`_gated_intensity`
    of the first subset of the first start.

    ``screen`` defaults to ``_SCREEN_STEPS`` when X has more than
    ``_SCREEN_SIZE`` entries, to ``max_steps`` (every start runs until it
    converges) otherwise.

    Returns
    -------
    location, S : ndarray
        Raw (uncorrected) estimates of the best subset.
    subset : ndarray of int
    d2 : ndarray of shape (n_samples,)
        Distances under the raw estimates.
    delta : float
        The fixed shrinkage intensity.
    n_steps : int
        C-steps run by the winning start.
    """
    first = [_smallest(_whitened_distances(X, loc, S)[0], h) for loc, S in starts]
    delta = 0.0
    if shrink_scatter:
        delta = _gated_intensity(X[first[0]], assume_centered)
    if screen is None:
        screen = _SCREEN_STEPS if X.size > _SCREEN_SIZE else max_steps
    # A subset whose mean lies beyond the chi-square cut of the first start
    # (the comedian estimate, of bounded influence) is accepted only if no
    # other is: that rejects subsets built around a far cluster of outliers
    # (a point mass makes such a subset's determinant small).
    anchor_loc, anchor_S = starts[0]
    anchor_L = _cholesky_floored(np.asarray(anchor_S, dtype=np.float64))
    anchor_cut = float(stats.chi2.ppf(_ANCHOR_QUANTILE, X.shape[1]))

    def key(result):
        y = linalg.solve_triangular(anchor_L, result[0] - anchor_loc, lower=True)
        return (float(y @ y) > anchor_cut, result[2])

    kwargs = dict(delta=delta, assume_centered=assume_centered)
    results = [_c_steps(X, s, max_steps=screen, **kwargs) for s in first]
    if screen < max_steps:
        # sorted() is stable: of equal keys, the earlier start comes first
        kept = sorted(results, key=key)[:_SCREEN_KEEP]
        results = []
        for location, S, logdet, subset, d2, n_screen in kept:
            location, S, logdet, subset, d2, n_steps = _c_steps(
                X, subset, max_steps=max_steps, fit=(location, S, logdet, d2),
                **kwargs,
            )
            results.append((location, S, logdet, subset, d2, n_screen + n_steps))
    location, S, _, subset, d2, n_steps = min(results, key=key)
    return location, S, subset, d2, delta, n_steps


def _screening_sample(n, p):
    """Sorted rows of the screening sample, or None to screen on every row.

    None when ``n p`` is at most ``_SCREEN_SIZE`` or the sample would hold
    more than half of the rows; otherwise ``max(_SCREEN_SIZE // p,
    _SAMPLE_ROWS_PER_FEATURE * p)`` rows drawn without replacement with the
    fixed seed ``_SAMPLE_SEED``.
    """
    if n * p <= _SCREEN_SIZE:
        return None
    m = max(_SCREEN_SIZE // p, _SAMPLE_ROWS_PER_FEATURE * p)
    if 2 * m > n:
        return None
    rng = np.random.default_rng(_SAMPLE_SEED)
    return np.sort(rng.choice(n, size=m, replace=False))


def _search(X, center, S, *, h, shrink_scatter, assume_centered, max_steps):
    """Deterministic starts and their concentration steps; the best one wins.

    On data of at most ``_SCREEN_SIZE`` entries (or too few rows for a
    sample), the comedian estimate and the :func:`_deterministic_starts` of X
    run :func:`_concentrate` on X. On larger data they do so on the rows of
    :func:`_screening_sample`, with subsets of ``ceil(h m / n)`` of its ``m``
    rows, as FastMCD screens its starts on subsets: every start runs
    ``_SCREEN_STEPS`` C-steps there and the ``_SCREEN_KEEP`` best run to
    convergence; the winner's estimates give the first subset of the
    concentration steps on all the rows, run with the shrinkage intensity
    fixed on the sample until the log determinant falls by less than
    ``_FULL_LOGDET_TOL``. The full-data passes are then those of one start
    instead of every start.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data without constant columns.
    center, S : ndarray
        The comedian estimate (of all the rows).
    h : int
        Rows of the concentration subsets of X.
    shrink_scatter, assume_centered : bool
        As in :class:`ShrinkageComedianCovariance`.
    max_steps : int
        Most C-steps of one start, on the sample and on all the rows each.

    Returns
    -------
    The values of :func:`_concentrate`, for X; ``n_steps`` counts the C-steps
    of the winner on the sample and on all the rows.
    """
    n, p = X.shape
    rows = _screening_sample(n, p)
    kwargs = dict(
        shrink_scatter=shrink_scatter, assume_centered=assume_centered,
        max_steps=max_steps,
    )
    if rows is None:
        starts = [(center, S)] + _deterministic_starts(
            X, center, S, h=h, assume_centered=assume_centered
        )
        return _concentrate(X, starts, h=h, **kwargs)
    Xs = X[rows]
    m = rows.shape[0]
    h_s = min(max(int(math.ceil(h * m / n)), p + 1), m)
    starts = [(center, S)] + _deterministic_starts(
        Xs, center, S, h=h_s, assume_centered=assume_centered
    )
    loc_s, S_s, _, _, delta, steps_s = _concentrate(
        Xs, starts, h=h_s, screen=_SCREEN_STEPS, **kwargs
    )
    d2, _ = _whitened_distances(X, loc_s, S_s)
    first = _smallest(d2, h)
    location, S, _, subset, d2, n_steps = _c_steps(
        X, first, delta=delta, assume_centered=assume_centered,
        max_steps=max_steps, tol=_FULL_LOGDET_TOL,
    )
    return location, S, subset, d2, delta, steps_s + n_steps


def _ledoit_wolf_intensity(Xh, assume_centered):
    """Ledoit-Wolf shrinkage intensity of the covariance of the rows Xh."""
    Xh = np.asarray(Xh, dtype=np.float64)
    n, p = Xh.shape
    Z = Xh if assume_centered else Xh - Xh.mean(axis=0)
    S = (Z.T @ Z) / n
    m = float(np.trace(S)) / p
    gamma = float(np.sum(S**2)) - p * m * m  # |S - m I|_F^2
    sq = np.einsum("ij,ij->i", Z, Z)
    beta = (float(np.sum(sq**2)) / n - float(np.sum(S**2))) / n
    if gamma <= 0:
        return 1.0
    return min(max(beta / gamma, 0.0), 1.0)


def _gated_intensity(Xh, assume_centered, gram=None):
    """Shrinkage intensity of a subset: Ledoit-Wolf where it is needed.

    The Ledoit-Wolf intensity when the rows are fewer than
    ``_SHRINK_ROWS_PER_FEATURE`` per feature or their covariance is
    numerically singular; 0 otherwise, since a well-conditioned covariance
    shrunk toward ``m * I`` hides outliers along its minor axes. ``gram``,
    if given, is ``Z^T Z`` of the rows Xh centred at their mean (at 0 when
    ``assume_centered``), or any positive multiple of it.
    """
    n, p = Xh.shape
    if n >= _SHRINK_ROWS_PER_FEATURE * p:
        if gram is None:
            Z = np.asarray(Xh, dtype=np.float64)
            if not assume_centered:
                Z = Z - Z.mean(axis=0)
            gram = Z.T @ Z
        evals = linalg.eigvalsh(gram)
        if evals[0] > _SINGULAR * max(float(evals[-1]), np.finfo(float).tiny):
            return 0.0
    return _ledoit_wolf_intensity(Xh, assume_centered)


def _consistency_factor(d2, p):
    """``median(d2) / chi2_p.median``: makes a raw MCD scatter consistent."""
    med = _median(d2)
    return med / float(stats.chi2.ppf(0.5, p)) if med > 0 else 1.0


def _reweighted_estimates(X_support, *, cut, quantile, assume_centered, delta):
    """One-step hard reweighting: the estimates from the rows within a cut-off.

    The mean and the covariance of the rows kept, the covariance scaled by
    ``quantile / F_{p+2}(cut)`` (``F_{p+2}`` the chi-square cdf) to be
    consistent for a normal truncated at ``cut``, then shrunk toward ``m * I``
    with intensity ``delta``.

    Parameters
    ----------
    X_support : ndarray of shape (n_support, n_features)
        The rows within the cut-off (at least 2).
    cut : float
        The squared-distance cut-off, ``chi2_p(quantile)``.
    quantile : float
        Its chi-square quantile.
    assume_centered : bool
        As in :class:`ShrinkageComedianCovariance`.
    delta : float or 'ledoit_wolf'
        Shrinkage intensity; ``'ledoit_wolf'``: that of
        :func:`_gated_intensity` for the kept rows.

    Returns
    -------
    location : ndarray of shape (n_features,)
    covariance : ndarray of shape (n_features, n_features)
    delta : float
        Scatter shrinkage intensity used.
    """
    X_support = np.asarray(X_support, dtype=np.float64)
    n_k, p = X_support.shape
    location = np.zeros(p) if assume_centered else X_support.mean(axis=0)
    factor = quantile / float(stats.chi2.cdf(cut, p + 2))
    z = X_support - location
    gram = z.T @ z
    S = gram * (factor / n_k)
    if isinstance(delta, str):
        delta = _gated_intensity(X_support, assume_centered, gram=gram)
    if delta > 0:
        target = (float(np.trace(S)) / p) * np.eye(p)
        S = delta * target + (1.0 - delta) * S
    return location, 0.5 * (S + S.T), float(delta)
