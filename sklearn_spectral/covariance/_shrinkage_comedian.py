"""Robust Mahalanobis distances from shrunk comedian estimators.

:class:`ShrinkageComedianCovariance` estimates location (L1-median or
coordinatewise median) and scatter (the comedian matrix, made consistent at the
normal) and shrinks both toward simple targets; :class:`ShrinkageMahalanobisDetector`
flags the rows whose robust squared Mahalanobis distance exceeds a chi-square
cut-off, as :class:`~sklearn.covariance.EllipticEnvelope` does with the MCD.
"""

import math
import warnings
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
from scipy import linalg, special, stats
from sklearn.base import OutlierMixin, _fit_context
from sklearn.covariance import EmpiricalCovariance
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._openmp_helpers import _openmp_effective_n_threads
from ..utils.validation import check_min_samples
from ._comedian import _comedian, _row_median_mad

__all__ = ["ShrinkageComedianCovariance", "ShrinkageMahalanobisDetector"]

# 1 / Phi^{-1}(3/4)^2: makes the squared MAD (and the diagonal comedian) a
# consistent variance at the normal.
_C = 1.0 / stats.norm.ppf(0.75) ** 2
# sqrt(pi / 2): makes the mean absolute deviation a consistent standard
# deviation at the normal (the fallback scale of zero-MAD columns).
_MEAN_ABS_SCALE = math.sqrt(math.pi / 2.0)
_EIG_FLOOR = 1e-10
# Rows per block when a pass over the data would otherwise make n x p copies.
_BLOCK_ROWS = 1 << 15
# Rows averaged for the L1-median's asymptotic variance (location shrinkage).
_TRACE_ROWS = 20_000


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
            total += (half * (f @ w[:, None]))[:, 0] if f.ndim == 2 else 0.0
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


def _row_norms_from(X, m):
    """Euclidean norms of the rows of X - m, by blocks of rows."""
    n = X.shape[0]
    r = np.empty(n, dtype=np.float64)
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        diff = X[start:stop] - m
        r[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return r


def _weiszfeld(X, start, *, max_iter, tol, estimator_name):
    """Spatial (L1-) median by Weiszfeld's algorithm, modified at data points.

    Vardi and Zhang's modification: when the iterate sits on ``eta`` data
    points, it moves toward the Weiszfeld update by ``1 - eta / R`` only, and
    stops when ``R <= eta`` (the iterate is then the minimiser). Each iteration
    costs O(n p) and makes no n x p copy beyond one block of rows.

    Returns
    -------
    m : ndarray of shape (p,), float64
    n_iter : int
        Iterations run (at least 1).
    """
    n, p = X.shape
    m = np.asarray(start, dtype=np.float64).copy()
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        r = _row_norms_from(X, m)
        scale = float(np.median(r))
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
        f"{estimator_name}: the L1-median (Weiszfeld) did not converge in "
        f"max_iter={max_iter} iterations; increase max_iter or tol.",
        ConvergenceWarning,
    )
    return m, n_iter


def _l1_median_trace_variance(X, T):
    """Trace of the asymptotic covariance of the L1-median, over n.

    ``tr(A^{-1} B A^{-1}) / n`` with ``y_i = x_i - T`` (zero rows dropped),
    ``A = mean(I / |y| - y y^T / |y|^3)``, ``B = mean(y y^T / |y|^2)``. The
    means run over at most ``_TRACE_ROWS`` evenly spaced rows: they only set
    the shrinkage intensity, and converge long before that.
    """
    n, p = X.shape
    step = max(1, n // _TRACE_ROWS)
    X = X[::step]
    a_mat = np.zeros((p, p))
    b_mat = np.zeros((p, p))
    inv_sum = 0.0
    used = 0
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, X.shape[0])
        y = np.asarray(X[start:stop], dtype=np.float64) - T
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


# ---------------------------------------------------------------------------
# Scatter helpers
# ---------------------------------------------------------------------------


def _robust_scales(ZT, med_sq, name, estimator_name):
    """Consistent scales of the centred rows of ZT: sqrt(C * median z^2), or
    sqrt(pi/2) * mean |z| where that median is 0 (>= 50% of values at the
    centre). Rows that are exactly 0 keep scale 0 (left to the eigenvalue floor)."""
    scale = np.sqrt(_C * np.maximum(med_sq, 0.0))
    zero = np.flatnonzero(scale <= 0)
    if zero.size:
        mean_abs = np.array([np.mean(np.abs(ZT[j], dtype=np.float64)) for j in zero])
        scale[zero] = _MEAN_ABS_SCALE * mean_abs
        fixed = zero[mean_abs > 0]
        if fixed.size:
            warnings.warn(
                f"{estimator_name}: {name} {fixed.tolist()[:10]} have a zero "
                "median absolute deviation (at least half of the values sit at "
                "the centre); their scale falls back to sqrt(pi/2) * mean "
                "absolute deviation.",
                RuntimeWarning,
            )
    return scale


def _mahalanobis_sq(X, location, covariance):
    """Squared Mahalanobis distances by a Cholesky solve, by blocks of rows."""
    cov = np.asarray(covariance, dtype=np.float64)
    try:
        chol = linalg.cholesky(cov, lower=True)
    except linalg.LinAlgError:
        evals, evecs = linalg.eigh(cov)
        floor = _EIG_FLOOR * max(float(np.mean(np.abs(evals))), np.finfo(float).tiny)
        evals = np.maximum(evals, floor)
        chol = linalg.cholesky((evecs * evals) @ evecs.T, lower=True)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    chol = chol.astype(dtype, copy=False)
    loc = np.asarray(location, dtype=dtype)
    n = X.shape[0]
    out = np.empty(n, dtype=dtype)
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        diff = (X[start:stop] - loc).T
        y = linalg.solve_triangular(chol, diff, lower=True, check_finite=False)
        out[start:stop] = np.einsum("ij,ij->j", y, y)
    return out


def _floor_eigenvalues(cov, estimator_name):
    """Floor the eigenvalues of cov at 1e-10 * tr(cov) / p, warning when needed."""
    p = cov.shape[0]
    cov = 0.5 * (cov + cov.T)
    evals, evecs = linalg.eigh(cov)
    level = float(np.trace(cov)) / p
    floor = _EIG_FLOOR * level if level > 0 else _EIG_FLOOR
    if evals[0] <= floor:
        warnings.warn(
            f"{estimator_name}: the scatter estimate is singular or nearly so "
            f"(smallest eigenvalue {evals[0]:.3g}, trace/p {level:.3g}); its "
            f"eigenvalues were floored at {floor:.3g}. The data may have "
            "collinear columns or too few rows for the number of features.",
            RuntimeWarning,
        )
        evals = np.maximum(evals, floor)
        cov = (evecs * evals) @ evecs.T
        cov = 0.5 * (cov + cov.T)
    return cov


# ---------------------------------------------------------------------------
# The covariance estimator
# ---------------------------------------------------------------------------


class ShrinkageComedianCovariance(EmpiricalCovariance):
    """Robust location and scatter by shrunk medians and the comedian matrix.

    Location is the L1-median (spatial median) or the coordinatewise median,
    optionally shrunk toward the mean of its entries; scatter is the comedian
    matrix ``COM_jk = median_i(z_ij z_ik)`` of the centred data, made
    consistent at the normal, optionally shrunk toward a scaled identity with
    an estimated intensity (Cabana, Lillo and Laniado). Both estimators have a
    high breakdown point and cost ``O(n p^2)`` order-statistic selections, with
    no iteration over subsets as in the MCD.

    See scikit-learn's user guide on covariance estimation for the background.

    Parameters
    ----------
    location : {'l1_median', 'median'}, default='l1_median'
        ``'l1_median'``: the spatial median (Weiszfeld's algorithm, safe at
        data points). ``'median'``: the coordinatewise median.
    shrink_location : bool, default=True
        Shrink the location toward ``nu * 1`` (``nu`` the mean of its
        entries) with intensity ``alpha = tr Var(T) / |T - nu 1|^2``, clipped
        to [0, 1].
    shrink_scatter : bool, default=True
        Shrink the scatter toward ``m * I`` (``m`` its mean eigenvalue) with
        an estimated intensity ``delta``.
    robust_intensity : bool, default=True
        Estimate ``delta`` from order-statistic standard errors of the
        comedian entries (robust to heavy tails and outliers). False uses the
        raw fourth moments of the paper (Ledoit-Wolf form), which tends to
        ``delta = 1`` under heavy tails or contamination.
    consistency : {'normal', 'diagonal'}, default='normal'
        ``'normal'``: every off-diagonal comedian is mapped to a correlation
        consistent at the bivariate normal, and the matrix is orthogonalised
        as in the OGK estimator, which makes it positive definite.
        ``'diagonal'``: only the diagonal is rescaled (the paper's choice);
        its correlations are biased toward 0.
    assume_centered : bool, default=False
        If True, the location is 0 and the data are not centred.
    store_precision : bool, default=True
        Store the precision matrix (pseudo-inverse of the covariance).
    max_iter : int, default=200
        Maximum number of Weiszfeld iterations.
    tol : float, default=1e-7
        Weiszfeld stops when a step is below ``tol`` times the mean distance
        of the rows to the estimate.

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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.covariance import ShrinkageComedianCovariance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1.0, 0.5], [0.5, 1.0]], size=500)
    >>> X[:25] = 20.0  # 5% gross outliers
    >>> cov = ShrinkageComedianCovariance().fit(X)
    >>> bool(np.all(np.abs(cov.location_) < 0.2))  # the mean is near 1
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
    ):
        super().__init__(store_precision=store_precision, assume_centered=assume_centered)
        self.location = location
        self.shrink_location = shrink_location
        self.shrink_scatter = shrink_scatter
        self.robust_intensity = robust_intensity
        self.consistency = consistency
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags

    # -- fitting ------------------------------------------------------------

    def _validate_X(self, X, reset=True):
        name = type(self).__name__
        try:
            X = validate_data(
                self,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2 if reset else 1,
            )
        except (TypeError, ValueError) as exc:
            # every message names the estimator (scikit-learn's do not always)
            msg = str(exc)
            if name not in msg:
                raise type(exc)(f"{name}: {msg}") from exc
            raise
        return X

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
        check_min_samples(X.shape[0], 2, estimator_name=type(self).__name__)
        self._fit_robust(X)
        return self

    def _fit_robust(self, X):
        """Set location_, covariance_ (and precision_) and the intensities."""
        name = type(self).__name__
        n, p = X.shape
        ptp = np.ptp(X, axis=0)
        const = ptp == 0
        if np.all(const):
            raise ValueError(
                f"{name}: every column of X is constant; a scatter matrix "
                "cannot be estimated."
            )
        if np.any(const):
            idx = np.flatnonzero(const)
            warnings.warn(
                f"{name}: column(s) {idx.tolist()[:10]} of X are constant; they "
                "are set aside: their location is the constant and their "
                "variance is floored, so any other value there is an outlier.",
                RuntimeWarning,
            )
            keep = ~const
            loc_sub, cov_sub, alpha, delta, n_iter = self._robust_core(
                np.ascontiguousarray(X[:, keep])
            )
            location = np.zeros(p)
            location[keep] = loc_sub
            if not self.assume_centered:
                location[const] = X[0, const]
            cov = np.zeros((p, p))
            cov[np.ix_(keep, keep)] = cov_sub
            level = float(np.trace(cov_sub)) / cov_sub.shape[0]
            cov[const, const] = _EIG_FLOOR * (level if level > 0 else 1.0)
            if self.assume_centered:
                # centred at 0: a constant non-zero column has scale |c|.
                nz = const & (X[0] != 0)
                cov[nz, nz] = np.asarray(X[0, nz], dtype=np.float64) ** 2
        else:
            location, cov, alpha, delta, n_iter = self._robust_core(X)
        self.location_ = location
        self._set_covariance(cov)
        self.location_shrinkage_ = float(alpha)
        self.covariance_shrinkage_ = float(delta)
        self.n_iter_ = int(n_iter)

    def _robust_core(self, X):
        """Location, scatter, alpha, delta, n_iter for X without constant columns."""
        name = type(self).__name__
        n, p = X.shape
        n_threads = _openmp_effective_n_threads()
        n_iter = 1
        alpha = 0.0

        # ---- location
        if self.assume_centered:
            location = np.zeros(p)
        else:
            XT = np.ascontiguousarray(X.T)
            med, mad2 = _row_median_mad(XT, n_threads)
            del XT
            if self.location == "median":
                T = med
            else:
                T, n_iter = _weiszfeld(
                    X, med, max_iter=self.max_iter, tol=self.tol, estimator_name=name
                )
            if self.shrink_location:
                if self.location == "median":
                    scale2 = _C * mad2
                    zero = scale2 <= 0
                    if np.any(zero):
                        scale2[zero] = (
                            _MEAN_ABS_SCALE
                            * np.mean(np.abs(X[:, zero] - med[zero]), axis=0)
                        ) ** 2
                    tr_var = (math.pi / 2.0) * float(np.sum(scale2)) / n
                else:
                    tr_var = _l1_median_trace_variance(X, T)
                nu = float(np.mean(T))
                spread = float(np.sum((T - nu) ** 2))
                if spread > 0:
                    alpha = min(max(tr_var / spread, 0.0), 1.0)
                else:
                    alpha = 0.0
                location = alpha * nu + (1.0 - alpha) * T
            else:
                location = np.asarray(T, dtype=np.float64)

        # ---- comedian of the centred data (transposed, input dtype)
        ZT = np.empty((p, n), dtype=X.dtype)
        np.subtract(X.T, location.astype(X.dtype)[:, None], out=ZT)
        h = int(math.ceil(0.98 * math.sqrt(n)))
        need_se = self.shrink_scatter and self.robust_intensity
        com, low, upp = _comedian(ZT, h, need_se, n_threads)
        scale = _robust_scales(ZT, np.diag(com).copy(), "column(s)", name)
        # COM_jj as the scales imply (differs only for zero-MAD columns)
        com_diag = scale**2 / _C
        half_width = 2.0 * 1.96

        if self.consistency == "diagonal":
            S = com.copy()
            np.fill_diagonal(S, scale**2)
            se_s = (upp - low) / half_width
        else:
            denom = np.sqrt(np.outer(com_diag, com_diag))
            rho = _comedian_to_correlation(com / denom)
            np.fill_diagonal(rho, 1.0)
            evals, E = linalg.eigh(rho)
            # Y = Z D^{-1} E, transposed: (p, n)
            W = (E / scale[:, None]).T.astype(X.dtype)
            YT = np.ascontiguousarray(W @ ZT)
            del ZT  # keep at most two p x n arrays alive
            _, lam_mad2 = _row_median_mad(YT, n_threads)
            lam = _robust_scales(YT, lam_mad2, "orthogonalised component(s)", name) ** 2
            del YT
            S = (scale[:, None] * E * lam) @ (E.T * scale[None, :])
            S = 0.5 * (S + S.T)
            if need_se:
                # the order-statistic interval of COM_jk mapped through g^{-1}
                # (a secant form of the delta method), in covariance units
                rho_width = _comedian_to_correlation(upp / denom) - (
                    _comedian_to_correlation(low / denom)
                )
                se_s = np.outer(scale, scale) * rho_width / half_width
            else:
                se_s = np.zeros((p, p))
        if need_se:
            np.fill_diagonal(se_s, _C * np.diag(upp - low) / half_width)
        ZT = None

        # ---- shrinkage toward m I
        delta = 0.0
        if self.shrink_scatter:
            m = float(np.trace(S)) / p
            F = m * np.eye(p)
            gamma = float(np.sum((S - F) ** 2))
            if self.robust_intensity:
                num = float(np.sum(se_s**2))
            else:
                fourth = 0.0
                for start in range(0, n, _BLOCK_ROWS):
                    stop = min(start + _BLOCK_ROWS, n)
                    z = np.asarray(X[start:stop], dtype=np.float64) - location
                    sq = np.einsum("ij,ij->i", z, z)
                    fourth += float(np.sum(sq**2))
                num = (fourth / n - float(np.sum(S**2))) / n
            if gamma > 0:
                delta = min(max(num / gamma, 0.0), 1.0)
            else:
                delta = 1.0
            S = delta * F + (1.0 - delta) * S

        S = _floor_eigenvalues(S, name)
        return location, S, alpha, delta, n_iter

    # -- prediction -----------------------------------------------------------

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


# ---------------------------------------------------------------------------
# The detector
# ---------------------------------------------------------------------------


def _adjusted_threshold(d2, p, quantile):
    """Filzmoser-Reimann-Garrett adaptive cut-off (mvoutlier's pcrit)."""
    n = d2.shape[0]
    delta0 = float(stats.chi2.ppf(quantile, p))
    d2s = np.sort(np.asarray(d2, dtype=np.float64))
    diff = stats.chi2.cdf(d2s, p) - (np.arange(1, n + 1) - 0.5) / n
    mask = (d2s >= delta0) & (diff > 0)
    pn = float(diff[mask].max()) if np.any(mask) else 0.0
    if p <= 10:
        pcrit = (0.24 - 0.003 * p) / math.sqrt(n)
    else:
        pcrit = (0.252 - 0.0018 * p) / math.sqrt(n)
    if pn <= pcrit:
        return max(delta0, float(d2s[-1])), pn, pcrit
    idx = n - int(math.ceil(n * pn)) - 1
    idx = min(max(idx, 0), n - 1)
    return max(delta0, float(d2s[idx])), pn, pcrit


class ShrinkageMahalanobisDetector(OutlierMixin, ShrinkageComedianCovariance):
    """Outlier detection by a robust Mahalanobis distance with shrinkage.

    Fits :class:`ShrinkageComedianCovariance` and flags the rows whose squared
    robust Mahalanobis distance exceeds a cut-off: the chi-square quantile, the
    adaptive (adjusted) cut-off, or a training percentile as
    :class:`~sklearn.covariance.EllipticEnvelope` does. It is much faster
    than the MCD for large ``n`` and works for ``p`` close to ``n``.

    Parameters
    ----------
    location : {'l1_median', 'median'}, default='l1_median'
        Spatial median (Weiszfeld) or coordinatewise median.
    shrink_location : bool, default=True
        Shrink the location toward ``nu * 1``.
    shrink_scatter : bool, default=True
        Shrink the scatter toward ``m * I``.
    robust_intensity : bool, default=True
        Order-statistic (robust) scatter shrinkage intensity; False uses the
        paper's raw fourth moments.
    consistency : {'normal', 'diagonal'}, default='normal'
        Normal-consistent correlations with OGK orthogonalisation, or the
        paper's diagonal rescaling only.
    assume_centered : bool, default=False
        If True, the location is 0.
    store_precision : bool, default=True
        Store the precision matrix.
    max_iter : int, default=200
        Maximum number of Weiszfeld iterations.
    tol : float, default=1e-7
        Weiszfeld tolerance, relative to the mean distance to the estimate.
    contamination : 'auto' or float in (0, 0.5], default='auto'
        ``'auto'``: the threshold is the rule given by ``cutoff``. A float:
        that share of the training rows is flagged (``offset_`` is the
        percentile of the training scores, as in ``EllipticEnvelope``);
        ``cutoff`` is then unused.
    cutoff : {'chi2', 'adjusted'}, default='chi2'
        With ``contamination='auto'``: ``'chi2'`` uses ``chi2_p(quantile)``;
        ``'adjusted'`` the adaptive cut-off of Filzmoser, Reimann and Garrett,
        which is at least that quantile and flags nothing when the tail of the
        distances agrees with the chi-square law.
    quantile : float in (0.5, 1), default=0.975
        Chi-square quantile of the cut-off and of the reweighting.
    reweight : bool, default=False
        One-step hard reweighting: the mean and the (consistency-corrected,
        shrunk when ``shrink_scatter``) covariance of the rows within the
        ``quantile`` cut-off replace the raw estimates.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Robust location (reweighted when ``reweight``).
    covariance_ : ndarray of shape (n_features, n_features)
        Robust scatter (reweighted when ``reweight``).
    precision_ : ndarray of shape (n_features, n_features)
        Pseudo-inverse of ``covariance_`` (None unless ``store_precision``).
    location_shrinkage_ : float
        Location shrinkage intensity.
    covariance_shrinkage_ : float
        Scatter shrinkage intensity (of the reweighted scatter when
        ``reweight``).
    n_iter_ : int
        Weiszfeld iterations (1 when none were run).
    dist_ : ndarray of shape (n_samples,)
        Squared robust Mahalanobis distances of the training rows.
    threshold_ : float
        Squared-distance cut-off: rows with ``dist_ > threshold_`` are
        outliers.
    offset_ : float
        ``-threshold_``; ``decision_function = score_samples - offset_``.
    raw_location_, raw_covariance_ : ndarray
        The estimates before reweighting (only when ``reweight``).
    support_ : ndarray of shape (n_samples,), dtype bool
        Rows used by the reweighting (only when ``reweight``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    ShrinkageComedianCovariance : The location and scatter estimator.
    sklearn.covariance.EllipticEnvelope : The same with the MCD.
    sklearn.ensemble.IsolationForest : A non-parametric detector.

    Notes
    -----
    Not affine equivariant (see :class:`ShrinkageComedianCovariance`):
    standardise robustly first, e.g.
    ``make_pipeline(RobustScaler(), ShrinkageMahalanobisDetector())``. For
    strongly correlated data with ``p`` below about 20 and outliers along the
    minor axes of the inlier ellipsoid, the MCD
    (:class:`~sklearn.covariance.MinCovDet`, ``EllipticEnvelope``) detects
    more; ``reweight=True`` lowers the false-positive rate there.

    The adjusted cut-off uses the critical values of R's ``mvoutlier::arw``,
    simulated for MCD distances at ``quantile=0.975``.

    References
    ----------
    .. [1] E. Cabana, R. E. Lillo, H. Laniado. Multivariate outlier detection
       based on a robust Mahalanobis distance with shrinkage estimators.
       Statistical Papers 62, 1583-1609 (2021). arXiv:1904.02596.
    .. [2] P. Filzmoser, R. G. Garrett, C. Reimann. Multivariate outlier
       detection in exploration geochemistry. Computers & Geosciences 31,
       579-587 (2005).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.covariance import ShrinkageMahalanobisDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((1000, 5))
    >>> X[:50] += 6.0  # 5% shifted outliers
    >>> det = ShrinkageMahalanobisDetector().fit(X)
    >>> pred = det.predict(X)
    >>> bool(np.all(pred[:50] == -1)), float(np.mean(pred[50:] == -1)) < 0.05
    (True, True)
    >>> round(det.threshold_, 3)  # chi2.ppf(0.975, 5)
    12.833
    """

    _parameter_constraints: dict = {
        **ShrinkageComedianCovariance._parameter_constraints,
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
        "cutoff": [StrOptions({"chi2", "adjusted"})],
        "quantile": [Interval(Real, 0.5, 1, closed="neither")],
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
        contamination="auto",
        cutoff="chi2",
        quantile=0.975,
        reweight=False,
    ):
        super().__init__(
            location=location,
            shrink_location=shrink_location,
            shrink_scatter=shrink_scatter,
            robust_intensity=robust_intensity,
            consistency=consistency,
            assume_centered=assume_centered,
            store_precision=store_precision,
            max_iter=max_iter,
            tol=tol,
        )
        self.contamination = contamination
        self.cutoff = cutoff
        self.quantile = quantile
        self.reweight = reweight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the robust estimates and the outlier threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        name = type(self).__name__
        X = self._validate_X(X)
        n, p = X.shape
        check_min_samples(n, 2, estimator_name=name)
        self._fit_robust(X)
        d2 = _mahalanobis_sq(X, self.location_, self.covariance_)
        cut = float(stats.chi2.ppf(self.quantile, p))

        if self.reweight:
            self.raw_location_ = self.location_.copy()
            self.raw_covariance_ = self.covariance_.copy()
            keep = d2 <= cut
            self.support_ = keep
            n_keep = int(np.count_nonzero(keep))
            if n_keep < 2:
                warnings.warn(
                    f"{name}: reweight=True kept {n_keep} row(s) within the "
                    f"chi2 quantile {self.quantile}; the raw estimates are kept.",
                    RuntimeWarning,
                )
            else:
                self._reweight(X, keep, cut, p)
                d2 = _mahalanobis_sq(X, self.location_, self.covariance_)

        self.dist_ = d2
        if self.contamination == "auto":
            if self.cutoff == "chi2":
                self.threshold_ = cut
            else:
                self.threshold_, _, _ = _adjusted_threshold(d2, p, self.quantile)
            self.offset_ = -self.threshold_
        else:
            self.offset_ = float(np.percentile(-d2, 100.0 * self.contamination))
            self.threshold_ = -self.offset_
        return self

    def _reweight(self, X, keep, cut, p):
        """One-step hard reweighting on the rows within the cut-off."""
        name = type(self).__name__
        Xk = np.asarray(X[keep], dtype=np.float64)
        n_k = Xk.shape[0]
        if self.assume_centered:
            loc = np.zeros(p)
        else:
            loc = Xk.mean(axis=0)
        # truncation consistency of the covariance of a normal cut at chi2_p(q)
        factor = self.quantile / float(stats.chi2.cdf(cut, p + 2))
        z = (Xk - loc) * math.sqrt(factor)
        S = (z.T @ z) / n_k
        delta = 0.0
        if self.shrink_scatter:
            m = float(np.trace(S)) / p
            F = m * np.eye(p)
            gamma = float(np.sum((S - F) ** 2))
            sq = np.einsum("ij,ij->i", z, z)
            num = (float(np.sum(sq**2)) / n_k - float(np.sum(S**2))) / n_k
            delta = min(max(num / gamma, 0.0), 1.0) if gamma > 0 else 1.0
            S = delta * F + (1.0 - delta) * S
            self.covariance_shrinkage_ = float(delta)
        S = _floor_eigenvalues(S, name)
        self.location_ = loc
        self._set_covariance(S)

    def score_samples(self, X):
        """Negative squared Mahalanobis distances (higher means more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mahalanobis(X)``.
        """
        check_is_fitted(self)
        return -self.mahalanobis(X)

    def decision_function(self, X):
        """Signed distance to the threshold: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_ = threshold_ - mahalanobis(X)``.
        """
        check_is_fitted(self)
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each observation: +1 inlier, -1 outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int
            +1 where ``decision_function(X) >= 0``, else -1.
        """
        values = self.decision_function(X)
        labels = np.full(values.shape[0], -1, dtype=int)
        labels[values >= 0] = 1
        return labels

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against ``y`` (+1 inlier, -1 outlier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)
