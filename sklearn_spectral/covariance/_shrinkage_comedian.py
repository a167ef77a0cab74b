"""Robust location and scatter from shrunk medians and the comedian matrix.

:class:`ShrinkageComedianCovariance` estimates location (L1-median or
coordinatewise median) and scatter (the comedian matrix, made consistent at the
normal) and shrinks both toward simple targets. Its ``fit`` runs the
module-level steps below, each usable and testable alone:

- :func:`_robust_location`: the median and its shrinkage toward ``nu * 1``;
- :func:`_comedian_scatter`: the consistent comedian scatter and, for the
  robust shrinkage intensity, the standard errors of its entries;
- :func:`_shrink_to_identity`: the shrinkage of a scatter toward ``m * I``;
- :func:`_floor_eigenvalues`: the eigenvalue floor of a singular scatter;
- :func:`_refined_estimates`: the concentration steps, the consistency
  correction and the reweighting (module ``_concentration``);
- :func:`_robust_estimates`: all of them, with constant columns set aside.
"""

import math
import warnings
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
from scipy import linalg, special, stats
from sklearn.base import _fit_context
from sklearn.covariance import EmpiricalCovariance
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._openmp_helpers import _openmp_effective_n_threads
from ..utils._threading import single_threaded_blas
from ..utils.validation import message_prefix
from ._comedian import _comedian, _row_distances, _row_median_mad
from ._concentration import (
    _C,
    _THREAD_ROWS,
    _cholesky_floored,
    _consistency_factor,
    _median,
    _reweighted_estimates,
    _search,
    _whitened_sq_norms,
)

__all__ = ["ShrinkageComedianCovariance"]

# _C (1 / Phi^{-1}(3/4)^2, from _concentration) makes the squared MAD and the
# diagonal comedian consistent variances at the normal.
# sqrt(pi / 2): makes the mean absolute deviation a consistent standard
# deviation at the normal (the fallback scale of zero-MAD columns).
_MEAN_ABS_SCALE = math.sqrt(math.pi / 2.0)
_EIG_FLOOR = 1e-10
# Rows per block when a pass over the data would otherwise make n x p copies.
_BLOCK_ROWS = 1 << 15
# Rows per block of a transposition.
_TRANSPOSE_ROWS = 1 << 12
# Rows averaged for the L1-median's asymptotic variance (location shrinkage).
_TRACE_ROWS = 20_000
# Half-width of the 95% normal interval, in standard errors (both sides).
_HALF_WIDTH = 2.0 * 1.96
# Most concentration steps of the winning start (as MinCovDet's 30).
_MAX_CSTEPS = 30
# Chi-square quantile of the reweighting cut-off (as MinCovDet's).
_REWEIGHT_QUANTILE = 0.975


# ---------------------------------------------------------------------------
# The normal-consistency map of the off-diagonal comedian
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _comedian_correlation_table(n_grid=1001):
    """Tabulate g(rho) = C * median(U V) for a standard bivariate normal.

    ``U V = ((1 + rho) A - (1 - rho) B) / 2`` with ``A, B`` independent
    chi-square(1), so with ``B = v^2``::

        P(U V <= t) = 2 int_0^inf phi(v) erf(sqrt(a + b v^2)) dv,
        a = t / (1 + rho),  b = (1 - rho) / (2 (1 + rho)).

    The integrand bends on the scale ``sqrt(a / b)`` near ``v = 0`` (the
    density of ``U V`` is infinite at 0, so ``g'(0) = 0``): two Gauss-Legendre
    panels split there keep the quadrature accurate for every ``t``. The median
    is found by a bisection vectorised over the grid of ``rho``.

    Returns
    -------
    rho : ndarray of shape (n_grid,)
        Grid on [0, 1].
    g : ndarray of shape (n_grid,)
        Increasing, ``g[0] = 0``, ``g[-1] = 1``.
    """
    rho = np.linspace(0.0, 1.0, n_grid)
    x1, w1 = np.polynomial.legendre.leggauss(40)
    x2, w2 = np.polynomial.legendre.leggauss(80)
    v_max = 12.0
    b = ((1.0 - rho) / (2.0 * (1.0 + rho)))[:, None]

    def cdf(t):
        a = (t / (1.0 + rho))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            split = np.where(b > 0, 10.0 * np.sqrt(a / b), v_max)
        split = np.minimum(split, v_max)
        total = np.zeros(n_grid)
        for lo, hi, x, w in ((0.0, split, x1, w1), (split, v_max, x2, w2)):
            half = 0.5 * (hi - lo)
            v = lo + half * (x[None, :] + 1.0)
            f = special.erf(np.sqrt(a + b * v * v)) * np.exp(-0.5 * v * v)
            total += (half * (f @ w[:, None]))[:, 0]
        return 2.0 * total / math.sqrt(2.0 * math.pi)

    lo = np.zeros(n_grid)
    hi = np.full(n_grid, 1.0 / _C + 1e-3)  # median(UV) <= median(U^2) = 1/C
    for _ in range(44):  # bracket width 2^-44: below 1e-13
        t = 0.5 * (lo + hi)
        below = cdf(t) < 0.5
        lo = np.where(below, t, lo)
        hi = np.where(below, hi, t)
    g = _C * 0.5 * (lo + hi)
    g[0] = 0.0
    g[-1] = 1.0
    g = np.maximum.accumulate(g)
    return rho, g


def _comedian_to_correlation(r):
    """Invert g (odd): normal-consistent correlations from comedian ones."""
    rho_grid, g_grid = _comedian_correlation_table()
    r = np.asarray(r, dtype=np.float64)
    a = np.clip(np.abs(r), 0.0, 1.0)
    return np.sign(r) * np.interp(a, g_grid, rho_grid)


# ---------------------------------------------------------------------------
# Location
# ---------------------------------------------------------------------------


def _weiszfeld(X, start, *, max_iter, tol, estimator=None, n_threads=1):
    """Spatial (L1-) median by Weiszfeld's algorithm, modified at data points.

    Vardi and Zhang's modification: when the iterate sits on ``eta`` data
    points, it moves toward the Weiszfeld update by ``1 - eta / R`` only, and
    stops when ``R <= eta`` (the iterate is then the minimiser). Each iteration
    costs O(n p) (one kernel pass for the distances, one selection for their
    median, one product) and makes no n x p copy.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    start : ndarray of shape (n_features,)
        First iterate.
    max_iter : int
        Most iterations; a ConvergenceWarning is raised when they run out.
    tol : float
        Stop when a step is below ``tol`` times the mean distance of the rows
        to the iterate.
    estimator : estimator instance or str, default=None
        Named in front of the warning.
    n_threads : int, default=1
        Most OpenMP threads of the distance kernel: one per ``_THREAD_ROWS``
        rows (a thread costs more than it saves on a pass of a millisecond).

    Returns
    -------
    m : ndarray of shape (n_features,), float64
    n_iter : int
        Iterations run (at least 1).
    """
    n, p = X.shape
    m = np.asarray(start, dtype=np.float64).copy()
    r = np.empty(n, dtype=np.float64)
    n_threads = max(1, min(n_threads, n // _THREAD_ROWS))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        _row_distances(X, m, r, n_threads)
        scale = _median(r)
        mean_r = float(r.mean())
        if mean_r == 0.0:
            return m, n_iter
        on_point = r <= 1e-12 * scale
        eta = int(np.count_nonzero(on_point))
        w = np.zeros(n, dtype=np.float64)
        np.divide(1.0, r, out=w, where=~on_point)
        sum_w = w.sum()
        if sum_w == 0.0:
            return m, n_iter
        wx = (w @ X).astype(np.float64, copy=False)
        t_tilde = wx / sum_w
        if eta == 0:
            m_new = t_tilde
        else:
            resid = wx - sum_w * m  # sum_i w_i (x_i - m)
            big_r = float(np.linalg.norm(resid))
            if big_r <= eta:
                return m, n_iter
            frac = eta / big_r
            m_new = (1.0 - frac) * t_tilde + frac * m
        step = float(np.linalg.norm(m_new - m))
        m = m_new
        if step <= tol * mean_r:
            return m, n_iter
    warnings.warn(
        f"{message_prefix(estimator)}the L1-median (Weiszfeld) did not converge "
        f"in max_iter={max_iter} iterations; increase max_iter or tol.",
        ConvergenceWarning,
    )
    return m, n_iter


def _median_trace_variance(X, med, mad2):
    """Trace of the asymptotic covariance of the coordinatewise median, over n.

    ``(pi / 2) sum_j sigma_j^2 / n`` with ``sigma_j^2 = C * MAD_j^2``, or the
    squared mean-absolute-deviation scale where the MAD is 0.
    """
    scale2 = _C * mad2
    zero = scale2 <= 0
    if np.any(zero):
        scale2[zero] = (
            _MEAN_ABS_SCALE * np.mean(np.abs(X[:, zero] - med[zero]), axis=0)
        ) ** 2
    return (math.pi / 2.0) * float(np.sum(scale2)) / X.shape[0]


def _l1_median_trace_variance(X, T):
    """Trace of the asymptotic covariance of the L1-median, over n.

    ``tr(A^{-1} B A^{-1}) / n`` with ``y_i = x_i - T`` (zero rows dropped),
    ``A = mean(I / |y| - y y^T / |y|^3)``, ``B = mean(y y^T / |y|^2)``. The
    means run over at most ``_TRACE_ROWS`` evenly spaced rows: they only set
    the shrinkage intensity, and converge long before that.
    """
    n, p = X.shape
    X = X[:: max(1, n // _TRACE_ROWS)]
    a_mat = np.zeros((p, p))
    b_mat = np.zeros((p, p))
    inv_sum = 0.0
    used = 0
    for rows in gen_batches(X.shape[0], _BLOCK_ROWS):
        y = np.asarray(X[rows], dtype=np.float64) - T
        r = np.sqrt(np.einsum("ij,ij->i", y, y))
        keep = r > 0
        y = y[keep]
        r = r[keep]
        used += y.shape[0]
        inv_sum += float(np.sum(1.0 / r))
        u = y / r[:, None]
        b_mat += u.T @ u
        v = u / np.sqrt(r)[:, None]
        a_mat += v.T @ v
    if used == 0:
        return 0.0
    a_mat = (inv_sum * np.eye(p) - a_mat) / used
    b_mat /= used
    try:
        a_inv = linalg.pinvh(a_mat)
    except (linalg.LinAlgError, ValueError):
        return 0.0
    return float(np.trace(a_inv @ b_mat @ a_inv)) / n


def _shrink_location(T, tr_var):
    """Shrink T toward ``nu * 1`` (``nu`` its mean entry).

    The intensity ``alpha = tr_var / |T - nu 1|^2``, clipped to [0, 1], is the
    ratio of the estimator's variance to the spread of its entries (0 when they
    are all equal). Returns the shrunk location and ``alpha``.
    """
    nu = float(np.mean(T))
    spread = float(np.sum((T - nu) ** 2))
    alpha = min(max(tr_var / spread, 0.0), 1.0) if spread > 0 else 0.0
    return alpha * nu + (1.0 - alpha) * T, alpha


def _transposed(X):
    """C-contiguous copy of ``X.T``, copied by blocks of rows.

    Blocks of rows keep the strided reads in the cache (several times faster
    than ``np.ascontiguousarray(X.T)`` at 1e6 x 50).
    """
    XT = np.empty((X.shape[1], X.shape[0]), dtype=X.dtype)
    for rows in gen_batches(X.shape[0], _TRANSPOSE_ROWS):
        XT[:, rows] = X[rows].T
    return XT


def _robust_location(
    X, *, location, shrink_location, max_iter, tol, n_threads, estimator=None,
    XT=None,
):
    """Location step: the L1- or coordinatewise median, optionally shrunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Data without constant columns.
    location, shrink_location, max_iter, tol
        As in :class:`ShrinkageComedianCovariance`.
    n_threads : int
        OpenMP threads of the median kernel.
    estimator : estimator instance or str, default=None
        Named in front of warnings.
    XT : ndarray of shape (n_features, n_samples), default=None
        ``X.T`` as a C-contiguous array, if the caller has it; read only.

    Returns
    -------
    location : ndarray of shape (n_features,), float64
    alpha : float
        Location shrinkage intensity (0 when not shrunk).
    n_iter : int
        Weiszfeld iterations (1 for the coordinatewise median).
    """
    if XT is None:
        XT = _transposed(X)
    # the MAD only enters the coordinatewise median's variance
    med, mad2 = _row_median_mad(
        XT, n_threads, location == "median" and shrink_location
    )
    n_iter = 1
    if location == "median":
        T = med
    else:
        T, n_iter = _weiszfeld(
            X, med, max_iter=max_iter, tol=tol, estimator=estimator,
            n_threads=n_threads,
        )
    if not shrink_location:
        return np.asarray(T, dtype=np.float64), 0.0, n_iter
    if location == "median":
        tr_var = _median_trace_variance(X, med, mad2)
    else:
        tr_var = _l1_median_trace_variance(X, T)
    shrunk, alpha = _shrink_location(T, tr_var)
    return shrunk, alpha, n_iter


# ---------------------------------------------------------------------------
# Scatter
# ---------------------------------------------------------------------------


def _robust_scales(ZT, med_sq, name, estimator=None):
    """Consistent scales of the centred rows of ZT.

    ``sqrt(C * median z^2)``, or ``sqrt(pi/2) * mean |z|`` where that median is
    0 (at least half the values at the centre), with a warning naming those
    rows as ``name``. Rows that are exactly 0 keep scale 0 (left to the
    eigenvalue floor).
    """
    scale = np.sqrt(_C * np.maximum(med_sq, 0.0))
    zero = np.flatnonzero(scale <= 0)
    if zero.size:
        mean_abs = np.array([np.mean(np.abs(ZT[j], dtype=np.float64)) for j in zero])
        scale[zero] = _MEAN_ABS_SCALE * mean_abs
        fixed = zero[mean_abs > 0]
        if fixed.size:
            warnings.warn(
                f"{message_prefix(estimator)}{name} {fixed.tolist()[:10]} have a "
                "zero median absolute deviation (at least half of the values sit "
                "at the centre); their scale falls back to sqrt(pi/2) * mean "
                "absolute deviation.",
                RuntimeWarning,
            )
    return scale


def _comedian_normalizer(scale):
    """``sqrt(COM_jj COM_kk)`` as the consistent scales imply."""
    com_diag = scale**2 / _C
    return np.sqrt(np.outer(com_diag, com_diag))


def _orthogonalised_scatter(ZT, com, scale, n_threads, estimator=None):
    """Normal-consistent scatter from the comedian matrix, made positive definite.

    The comedian correlations are mapped to correlations consistent at the
    normal; the data, scaled and rotated onto the eigenvectors ``E`` of that
    correlation matrix, get robust variances ``lam`` (as in the OGK
    estimator), and the scatter is ``D E diag(lam) E^T D`` with ``D`` the
    column scales.
    """
    rho = _comedian_to_correlation(com / _comedian_normalizer(scale))
    np.fill_diagonal(rho, 1.0)
    _, E = linalg.eigh(rho)
    # Y = Z D^{-1} E, transposed: (p, n)
    W = (E / scale[:, None]).T.astype(ZT.dtype)
    YT = np.ascontiguousarray(W @ ZT)
    _, lam_mad2 = _row_median_mad(YT, n_threads)
    lam = _robust_scales(YT, lam_mad2, "orthogonalised component(s)", estimator) ** 2
    S = (scale[:, None] * E * lam) @ (E.T * scale[None, :])
    return 0.5 * (S + S.T)


def _scatter_standard_errors(low, upp, scale, consistency):
    """Standard errors of the scatter entries, in covariance units.

    From the distribution-free 95% interval ``[low, upp]`` of each comedian
    entry: rescaled for ``'diagonal'``, mapped through the correlation map (a
    secant form of the delta method) for ``'normal'``.
    """
    if consistency == "diagonal":
        se = (upp - low) / _HALF_WIDTH
    else:
        denom = _comedian_normalizer(scale)
        rho_width = _comedian_to_correlation(upp / denom) - (
            _comedian_to_correlation(low / denom)
        )
        se = np.outer(scale, scale) * rho_width / _HALF_WIDTH
    np.fill_diagonal(se, _C * np.diag(upp - low) / _HALF_WIDTH)
    return se


def _comedian_scatter(
    X, location, *, consistency, compute_se, n_threads, estimator=None, XT=None
):
    """Scatter step: the comedian matrix of ``X - location``, made consistent.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Data without constant columns.
    location : ndarray of shape (n_features,)
        Centre.
    consistency : {'normal', 'diagonal'}
        As in :class:`ShrinkageComedianCovariance`.
    compute_se : bool
        Also return the standard errors of the entries.
    n_threads : int
        OpenMP threads of the comedian kernel.
    estimator : estimator instance or str, default=None
        Named in front of warnings.
    XT : ndarray of shape (n_features, n_samples), default=None
        ``X.T`` as a C-contiguous array of the dtype of X, if the caller has
        it; it is centred in place (overwritten).

    Returns
    -------
    S : ndarray of shape (n_features, n_features), float64
    se : ndarray of shape (n_features, n_features) or None
        Standard errors of the entries of ``S`` (None unless ``compute_se``).
    """
    n, p = X.shape
    ZT = _transposed(X) if XT is None else XT
    ZT -= location.astype(X.dtype)[:, None]
    h = int(math.ceil(0.98 * math.sqrt(n)))
    com, low, upp = _comedian(ZT, h, compute_se, n_threads)
    scale = _robust_scales(ZT, np.diag(com).copy(), "column(s)", estimator)
    se = _scatter_standard_errors(low, upp, scale, consistency) if compute_se else None
    if consistency == "diagonal":
        S = com.copy()
        np.fill_diagonal(S, scale**2)
    else:
        S = _orthogonalised_scatter(ZT, com, scale, n_threads, estimator)
    return S, se


def _raw_intensity_numerator(X, location, S, factor=1.0):
    """Fourth-moment (Ledoit-Wolf form) numerator of the scatter intensity.

    ``(mean |z|^4 - |S|_F^2) / n`` with ``z = sqrt(factor) (x - location)``,
    by blocks of rows.
    """
    n = X.shape[0]
    fourth = 0.0
    for rows in gen_batches(n, _BLOCK_ROWS):
        z = (np.asarray(X[rows], dtype=np.float64) - location) * math.sqrt(factor)
        sq = np.einsum("ij,ij->i", z, z)
        fourth += float(np.sum(sq**2))
    return (fourth / n - float(np.sum(S**2))) / n


def _shrink_to_identity(S, numerator):
    """Shrink S toward ``m * I`` (``m`` its mean eigenvalue).

    The intensity ``delta = numerator / |S - m I|_F^2`` is clipped to [0, 1]
    (1 when ``S = m I``). Returns the shrunk scatter and ``delta``.
    """
    p = S.shape[0]
    target = (float(np.trace(S)) / p) * np.eye(p)
    gamma = float(np.sum((S - target) ** 2))
    delta = min(max(numerator / gamma, 0.0), 1.0) if gamma > 0 else 1.0
    return delta * target + (1.0 - delta) * S, delta


def _floor_eigenvalues(cov, estimator=None):
    """Floor the eigenvalues of cov at 1e-10 * tr(cov) / p, warning when needed."""
    p = cov.shape[0]
    cov = 0.5 * (cov + cov.T)
    evals, evecs = linalg.eigh(cov)
    level = float(np.trace(cov)) / p
    floor = _EIG_FLOOR * level if level > 0 else _EIG_FLOOR
    if evals[0] <= floor:
        warnings.warn(
            f"{message_prefix(estimator)}the scatter estimate is singular or "
            f"nearly so (smallest eigenvalue {evals[0]:.3g}, trace/p "
            f"{level:.3g}); its eigenvalues were floored at {floor:.3g}. The "
            "data may have collinear columns or too few rows for the number of "
            "features.",
            RuntimeWarning,
        )
        evals = np.maximum(evals, floor)
        cov = (evecs * evals) @ evecs.T
        cov = 0.5 * (cov + cov.T)
    return cov


def _mahalanobis_sq(X, location, covariance):
    """Squared Mahalanobis distances in the dtype of X, by blocks of rows.

    :func:`_whitened_sq_norms` under the Cholesky factor of the covariance
    (eigenvalues floored at ``_EIG_FLOOR`` if it is singular).
    """
    chol = _cholesky_floored(np.asarray(covariance, dtype=np.float64), _EIG_FLOOR)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    return _whitened_sq_norms(X, location, chol, np.empty(X.shape[0], dtype=dtype))


# ---------------------------------------------------------------------------
# All the steps
# ---------------------------------------------------------------------------


def _location_scatter(
    X,
    *,
    location,
    shrink_location,
    shrink_scatter,
    robust_intensity,
    consistency,
    assume_centered,
    max_iter,
    tol,
    estimator=None,
):
    """Location, scatter, alpha, delta and n_iter of X without constant columns.

    The shrinkage comedian estimate of [1]_ (see
    :class:`ShrinkageComedianCovariance`), its eigenvalues not yet floored.
    """
    n_threads = _openmp_effective_n_threads()
    # one transposed copy, read by the location step, centred by the scatter
    XT = _transposed(X)
    if assume_centered:
        center, alpha, n_iter = np.zeros(X.shape[1]), 0.0, 1
    else:
        center, alpha, n_iter = _robust_location(
            X,
            location=location,
            shrink_location=shrink_location,
            max_iter=max_iter,
            tol=tol,
            n_threads=n_threads,
            estimator=estimator,
            XT=XT,
        )
    compute_se = shrink_scatter and robust_intensity
    S, se = _comedian_scatter(
        X,
        center,
        consistency=consistency,
        compute_se=compute_se,
        n_threads=n_threads,
        estimator=estimator,
        XT=XT,
    )
    del XT
    delta = 0.0
    if shrink_scatter:
        if robust_intensity:
            numerator = float(np.sum(se**2))
        else:
            numerator = _raw_intensity_numerator(X, center, S)
        S, delta = _shrink_to_identity(S, numerator)
    return center, S, alpha, delta, n_iter


def _support_size(n, p, support_fraction):
    """Rows of the concentration subsets: ``ceil((n + p + 1) / 2)`` by default."""
    if support_fraction is None:
        h = (n + p + 2) // 2
    else:
        h = int(math.ceil(support_fraction * n))
    return min(max(h, min(n, p + 1), 2), n)


def _refined_estimates(
    X,
    center,
    S,
    *,
    refinement,
    support_fraction,
    reweight,
    quantile,
    shrink_scatter,
    assume_centered,
    estimator=None,
):
    """Refine the comedian estimate: concentration, correction, reweighting.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data without constant columns.
    center, S : ndarray
        The shrinkage comedian estimate.
    refinement, support_fraction, reweight, shrink_scatter, assume_centered
        As in :class:`ShrinkageComedianCovariance`.
    quantile : float
        Chi-square quantile of the reweighting cut-off.
    estimator : estimator instance or str, default=None
        Named in front of warnings.

    Returns
    -------
    result : dict
        ``location``, ``covariance`` (final), ``raw_location``,
        ``raw_covariance`` (before reweighting), ``support`` (bool mask of the
        rows of the final estimate, or None), ``delta`` (scatter shrinkage
        intensity of the final estimate, or None when unchanged), ``dist``
        (squared distances under the final estimate) and ``n_csteps``.
    """
    n, p = X.shape
    out = {"support": None, "delta": None, "n_csteps": 0}
    if refinement == "concentration":
        h = _support_size(n, p, support_fraction)
        loc, raw, subset, d2, delta, n_csteps = _search(
            X, center, S, h=h, shrink_scatter=shrink_scatter,
            assume_centered=assume_centered, max_steps=_MAX_CSTEPS,
        )
        factor = _consistency_factor(d2, p)
        raw = raw * factor
        d2 = d2 / factor
        support = np.zeros(n, dtype=bool)
        support[subset] = True
        out.update(support=support, delta=delta, n_csteps=n_csteps)
    else:
        loc, raw = center, S
        d2 = None
    raw = _floor_eigenvalues(raw, estimator)
    out.update(location=loc, covariance=raw, raw_location=loc, raw_covariance=raw)
    if not reweight:
        out["dist"] = d2 if d2 is not None else _mahalanobis_sq(X, loc, raw)
        return out
    if d2 is None:
        d2 = _mahalanobis_sq(X, loc, raw)
    cut = float(stats.chi2.ppf(quantile, p))
    keep = d2 <= cut
    n_keep = int(np.count_nonzero(keep))
    if n_keep <= p:
        warnings.warn(
            f"{message_prefix(estimator)}reweight=True kept {n_keep} row(s) "
            f"within the chi2 quantile {quantile}, no more than n_features={p}; "
            "the raw estimates are kept.",
            RuntimeWarning,
        )
        if out["support"] is None:
            out["support"] = np.ones(n, dtype=bool)
        out["dist"] = d2
        return out
    loc_w, cov_w, delta_w = _reweighted_estimates(
        X[keep],
        cut=cut,
        quantile=quantile,
        assume_centered=assume_centered,
        delta="ledoit_wolf" if shrink_scatter else 0.0,
    )
    cov_w = _floor_eigenvalues(cov_w, estimator)
    out.update(
        location=loc_w,
        covariance=cov_w,
        support=keep,
        delta=delta_w,
        dist=_mahalanobis_sq(X, loc_w, cov_w),
    )
    return out


def _robust_estimates(X, *, assume_centered, refine, estimator=None, **params):
    """The robust estimates of X, its constant columns set aside.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Data.
    assume_centered : bool
        As in :class:`ShrinkageComedianCovariance`.
    refine : dict
        Keyword arguments of :func:`_refined_estimates` besides the data and
        the comedian estimate.
    estimator : estimator instance or str, default=None
        Named in front of errors and warnings.
    **params
        The other parameters of :class:`ShrinkageComedianCovariance` that
        :func:`_location_scatter` takes.

    Returns
    -------
    result : dict
        The keys of :func:`_refined_estimates`, in the columns of X, and
        ``alpha``, ``comedian_delta`` (shrinkage intensities of the comedian
        estimate) and ``n_iter`` (Weiszfeld iterations).

    Notes
    -----
    A constant column is left out of the estimation: its location is the
    constant (0 when ``assume_centered``) and its variance the eigenvalue
    floor, or ``c^2`` for a constant ``c != 0`` when ``assume_centered``.
    """
    prefix = message_prefix(estimator)
    const = np.ptp(X, axis=0) == 0
    if np.all(const):
        raise ValueError(
            f"{prefix}every column of X is constant; a scatter matrix cannot be "
            "estimated."
        )
    if np.any(const):
        warnings.warn(
            f"{prefix}column(s) {np.flatnonzero(const).tolist()[:10]} of X are "
            "constant; they are set aside: their location is the constant and "
            "their variance is floored, so any other value there is an outlier.",
            RuntimeWarning,
        )
    keep = ~const
    X_sub = X if not np.any(const) else np.ascontiguousarray(X[:, keep])
    # The products are (n x p) by (p x p) or (p x n) by (n x p): threaded BLAS
    # gains little on them and loses much to spin-waiting on busy cores (10x
    # at 5e4 x 20, up to 250x for one Gram matrix at 1e6 x 50, on two shared
    # cores). The distance passes run their own threads.
    with single_threaded_blas():
        center, S, alpha, delta, n_iter = _location_scatter(
            X_sub, assume_centered=assume_centered, estimator=estimator, **params
        )
        result = _refined_estimates(
            X_sub, center, S, assume_centered=assume_centered,
            estimator=estimator, **refine,
        )
    result.update(alpha=alpha, comedian_delta=delta, n_iter=n_iter)
    if not np.any(const):
        return result
    p = X.shape[1]
    for name in ("location", "raw_location"):
        location = np.zeros(p)
        location[keep] = result[name]
        if not assume_centered:
            location[const] = X[0, const]
        result[name] = location
    for name in ("covariance", "raw_covariance"):
        cov_sub = result[name]
        cov = np.zeros((p, p))
        cov[np.ix_(keep, keep)] = cov_sub
        level = float(np.trace(cov_sub)) / cov_sub.shape[0]
        cov[const, const] = _EIG_FLOOR * (level if level > 0 else 1.0)
        if assume_centered:
            # centred at 0: a constant non-zero column has scale |c|.
            nz = const & (X[0] != 0)
            cov[nz, nz] = np.asarray(X[0, nz], dtype=np.float64) ** 2
        result[name] = cov
    result["dist"] = _mahalanobis_sq(X, result["location"], result["covariance"])
    return result


# ---------------------------------------------------------------------------
# The covariance estimator
# ---------------------------------------------------------------------------


class ShrinkageComedianCovariance(EmpiricalCovariance):
    """Robust location and scatter by shrunk medians and the comedian matrix.

    Location is the L1-median (spatial median) or the coordinatewise median,
    optionally shrunk toward the mean of its entries; scatter is the comedian
    matrix ``COM_jk = median_i(z_ij z_ik)`` of the centred data, made
    consistent at the normal, optionally shrunk toward a scaled identity with
    an estimated intensity [1]_. Both estimators have a high breakdown point
    and cost ``O(n p^2)`` order-statistic selections, with no random subsets
    as in the MCD. By default the estimate then starts a few deterministic
    concentration steps (as in DetMCD [5]_), and is reweighted.

    Parameters
    ----------
    location : {'l1_median', 'median'}, default='l1_median'
        ``'l1_median'``: the spatial median (Weiszfeld's algorithm, safe at
        data points). ``'median'``: the coordinatewise median. The default is
        the spatial median because it is equivariant under rotations and
        always lies inside the convex hull of the data, which the
        coordinatewise median does not.
    shrink_location : bool, default=True
        Shrink the location toward ``nu * 1`` (``nu`` the mean of its
        entries) with intensity ``alpha = tr Var(T) / |T - nu 1|^2``, clipped
        to [0, 1]. On by default because, for comparable columns, it lowers
        the total error of the location at no cost in robustness.
    shrink_scatter : bool, default=True
        Shrink the scatter toward ``m * I`` (``m`` its mean eigenvalue) with
        an estimated intensity ``delta``. On by default because it keeps the
        scatter well conditioned when ``n_features`` is close to
        ``n_samples``.
    robust_intensity : bool, default=True
        Estimate ``delta`` from order-statistic standard errors of the
        comedian entries. False uses the raw fourth moments of [1]_
        (Ledoit-Wolf form). On by default because raw fourth moments are
        driven by heavy tails and outliers, and then push ``delta`` to 1.
    consistency : {'normal', 'diagonal'}, default='normal'
        ``'normal'``: every off-diagonal comedian is mapped to a correlation
        consistent at the bivariate normal, and the matrix is orthogonalised
        as in the OGK estimator [4]_. ``'diagonal'``: only the diagonal is
        rescaled, as in [1]_. The default because the diagonal rescaling
        biases correlations toward 0, while the normal map does not and also
        makes the scatter positive definite.
    assume_centered : bool, default=False
        If True, the location is 0 and the data are not centred. Off by
        default because the centre of the data is rarely known.
    store_precision : bool, default=True
        Store the precision matrix (pseudo-inverse of the covariance). On by
        default, as in :class:`~sklearn.covariance.EmpiricalCovariance`, so
        that ``get_precision`` needs no further inversion.
    max_iter : int, default=200
        Maximum number of Weiszfeld iterations. The default is a safety bound
        well above what data not concentrated at one point need.
    tol : float, default=1e-7
        Weiszfeld stops when a step is below ``tol`` times the mean distance
        of the rows to the estimate. The default places the median far more
        precisely than its sampling error at any practical ``n_samples``.
    refinement : {'concentration', 'none'}, default='concentration'
        ``'concentration'``: the shrinkage comedian estimate is the first of
        seven deterministic starts (with a spatial-sign estimate, the half of
        the rows nearest the centre, and the ``h`` rows of lowest and of
        highest projection on each of the two leading axes of the comedian
        correlation) of concentration steps as in FastMCD: the mean and
        covariance of the ``h`` rows of smallest distance are refit until the
        determinant stops falling. Above ``2**18`` entries the starts are
        screened on a fixed sample of the rows and only the best one is
        concentrated on all of them. The winning estimate is then made
        consistent at the normal (``median(dist) / chi2_p
        median``). ``'none'``: the shrinkage comedian estimate of [1]_. The
        default because the comedian scatter spreads over every cluster of
        the data and over correlated outliers, while the concentrated one
        locks onto the majority as the MCD does, for a few passes over the
        data more. Use ``'none'`` for the paper's estimator, or when
        ``n_samples`` is so large that the comedian alone is wanted.
    support_fraction : float in (0, 1] or None, default=None
        Share of the rows in each concentration subset; None uses
        ``(n_samples + n_features + 1) // 2`` rows, as MinCovDet. The default
        gives the highest breakdown point. Unused with ``refinement='none'``.
    reweight : bool, default=True
        One-step hard reweighting, as MinCovDet does: the mean and the
        covariance (consistent for the normal truncated at the cut) of the
        rows within the chi-square 0.975 quantile of the distances replace
        the raw estimates. On by default because it restores most of the
        efficiency at the normal that the raw robust estimate lacks.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Robust location.
    covariance_ : ndarray of shape (n_features, n_features)
        Robust scatter, consistent for the covariance at the normal.
    precision_ : ndarray of shape (n_features, n_features)
        Pseudo-inverse of ``covariance_`` (None unless ``store_precision``).
    location_shrinkage_ : float
        Location shrinkage intensity ``alpha`` (0 when not shrunk).
    covariance_shrinkage_ : float
        Scatter shrinkage intensity ``delta`` (0 when not shrunk).
    n_iter_ : int
        Weiszfeld iterations (1 when none were run).
    n_csteps_ : int
        Concentration steps of the winning start, on the screening sample and
        on all the rows added together (0 with ``refinement='none'``).
    dist_ : ndarray of shape (n_samples,)
        Squared Mahalanobis distances of the training rows under the final
        estimates.
    raw_location_, raw_covariance_ : ndarray
        The estimates before reweighting (the consistency-corrected
        concentrated estimate, or the comedian one); set unless
        ``refinement='none'`` and ``reweight=False``.
    support_ : ndarray of shape (n_samples,), dtype bool
        Rows of the final estimate: those kept by the reweighting, or the
        best concentration subset without it; set with ``raw_location_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    ShrinkageMahalanobisDetector : Outlier detection with these estimates.
    sklearn.covariance.MinCovDet : Affine-equivariant robust covariance (FastMCD).
    sklearn.covariance.LedoitWolf : Shrunk (non-robust) covariance.

    Notes
    -----
    The estimators are not affine equivariant: they are equivariant under
    column permutations and a common positive scale, under translations and
    column sign flips when ``shrink_location=False``, under per-column scaling
    only without any shrinkage, and never under rotations. Shrinkage toward
    ``nu * 1`` and ``m * I`` presumes comparable columns: standardise robustly
    first, e.g. ``make_pipeline(RobustScaler(), ShrinkageComedianCovariance())``.

    With ``shrink_scatter``, the concentration subsets and the reweighted
    rows keep a Ledoit-Wolf shrinkage toward ``m * I`` only where they number
    fewer than 5 rows per feature or their covariance is singular: elsewhere
    it would hide outliers along the minor axes. Each concentration step is
    one matrix product over the data for the distances and one over the
    subset for its covariance.

    The comedian matrix is computed by a Cython kernel: one selection
    (``std::nth_element``) per pair of columns, in parallel over the pairs
    with OpenMP, using one length-``n`` buffer per thread. Columns with a zero
    median absolute deviation fall back to a mean-absolute-deviation scale,
    and a scatter matrix that is singular or nearly so has its eigenvalues
    floored, with a warning. Constant columns are set aside with a warning:
    their location is the constant and their variance the floor.

    References
    ----------
    .. [1] E. Cabana, R. E. Lillo, H. Laniado. Multivariate outlier detection
       based on a robust Mahalanobis distance with shrinkage estimators.
       Statistical Papers 62, 1583-1609 (2021). arXiv:1904.02596.
    .. [2] M. Falk. On MAD and comedians. Annals of the Institute of
       Statistical Mathematics 49, 615-644 (1997).
    .. [3] Y. Vardi, C.-H. Zhang. The multivariate L1-median and associated
       data depth. PNAS 97, 1423-1426 (2000).
    .. [4] R. A. Maronna, R. H. Zamar. Robust estimates of location and
       dispersion for high-dimensional datasets. Technometrics 44, 307-317
       (2002).
    .. [5] M. Hubert, P. J. Rousseeuw, T. Verdonck. A deterministic algorithm
       for robust location and scatter. Journal of Computational and
       Graphical Statistics 21, 618-637 (2012).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.covariance import ShrinkageComedianCovariance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1.0, 0.5], [0.5, 1.0]], size=500)
    >>> X[:25] = 20.0  # 5% gross outliers
    >>> cov = ShrinkageComedianCovariance().fit(X)
    >>> bool(np.all(np.abs(cov.location_) < 0.2))  # the sample mean is near 1
    True
    >>> bool(np.all(np.abs(cov.covariance_ - [[1.0, 0.5], [0.5, 1.0]]) < 0.3))
    True
    """

    _parameter_constraints: dict = {
        **EmpiricalCovariance._parameter_constraints,
        "location": [StrOptions({"l1_median", "median"})],
        "shrink_location": ["boolean"],
        "shrink_scatter": ["boolean"],
        "robust_intensity": ["boolean"],
        "consistency": [StrOptions({"normal", "diagonal"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "refinement": [StrOptions({"concentration", "none"})],
        "support_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "reweight": ["boolean"],
    }

    def __init__(
        self,
        *,
        location="l1_median",
        shrink_location=True,
        shrink_scatter=True,
        robust_intensity=True,
        consistency="normal",
        assume_centered=False,
        store_precision=True,
        max_iter=200,
        tol=1e-7,
        refinement="concentration",
        support_fraction=None,
        reweight=True,
    ):
        super().__init__(
            store_precision=store_precision, assume_centered=assume_centered
        )
        self.location = location
        self.shrink_location = shrink_location
        self.shrink_scatter = shrink_scatter
        self.robust_intensity = robust_intensity
        self.consistency = consistency
        self.max_iter = max_iter
        self.tol = tol
        self.refinement = refinement
        self.support_fraction = support_fraction
        self.reweight = reweight

    def _validate_X(self, X, reset=True):
        try:
            return validate_data(
                self,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2 if reset else 1,
            )
        except (TypeError, ValueError) as exc:
            # every message names the estimator (scikit-learn's do not always)
            if type(self).__name__ in str(exc):
                raise
            raise type(exc)(f"{message_prefix(self)}{exc}") from exc

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the robust location and scatter.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (dense; float32 is kept for the n x p work).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = self._validate_X(X)
        result = _robust_estimates(
            X,
            location=self.location,
            shrink_location=self.shrink_location,
            shrink_scatter=self.shrink_scatter,
            robust_intensity=self.robust_intensity,
            consistency=self.consistency,
            assume_centered=self.assume_centered,
            max_iter=self.max_iter,
            tol=self.tol,
            refine={
                "refinement": self.refinement,
                "support_fraction": self.support_fraction,
                "reweight": self.reweight,
                "quantile": self._reweight_quantile(),
                "shrink_scatter": self.shrink_scatter,
            },
            estimator=self,
        )
        self.location_ = result["location"]
        self._set_covariance(result["covariance"])
        self.location_shrinkage_ = float(result["alpha"])
        delta = result["delta"]
        self.covariance_shrinkage_ = float(
            result["comedian_delta"] if delta is None else delta
        )
        self.n_iter_ = int(result["n_iter"])
        self.n_csteps_ = int(result["n_csteps"])
        self.dist_ = result["dist"]
        if self.refinement != "none" or self.reweight:
            self.raw_location_ = result["raw_location"]
            self.raw_covariance_ = result["raw_covariance"]
            self.support_ = result["support"]
        return self

    def _reweight_quantile(self):
        """Chi-square quantile of the reweighting cut-off."""
        return _REWEIGHT_QUANTILE

    def mahalanobis(self, X):
        """Squared Mahalanobis distances of observations to the robust location.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        dist : ndarray of shape (n_samples,)
            ``(x - location_)^T covariance_^{-1} (x - location_)``, by a
            Cholesky solve.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return _mahalanobis_sq(X, self.location_, self.covariance_)
