"""The tail test of RobustPCA and its calibration on Gaussian inliers.

Along a direction ``v`` the test statistic is the tail share ``T``: the share
of ``sum_i w_i s_i`` (``s_i = (v^T (x_i - m))**2``) held by the rows of largest
``s`` that total ``2 eps`` of the weight. For Gaussian rows ``T`` tends to
``kappa(eps)`` and is asymptotically normal, with the standard deviation and
skewness of its influence function over ``sqrt(n)``. Along a sample
eigenvector of Gaussian data the projections are those of a fixed direction
(for isotropic data the left singular vectors are uniformly distributed and
independent of the singular values), so the same null distribution holds for
every component, and the tests of the components of one fit are calibrated
together: each at the Sidak level of the family.
"""

import math
from functools import lru_cache

from scipy.stats import norm

# Chance that one family of tail tests (the components of a fit at the
# stated contamination, or the wider windows) fails on clean Gaussian data.
FAMILY_LEVEL = 0.01

# The functions below are pure and each fit asks them the same few questions
# many times (scipy.stats calls cost about 0.1 ms each), hence the caches.


@lru_cache(maxsize=256)
def kappa(eps):
    """Share of E[g^2] held by the largest 2 eps of g^2, g ~ N(0, 1)."""
    z = norm.isf(eps)
    return 2.0 * eps + 2.0 * z * norm.pdf(z)


@lru_cache(maxsize=256)
def _tail_share_moments(eps):
    """Standard deviation and skewness of the tail share's influence function.

    With ``s = g**2``, ``q`` its upper ``2 eps`` quantile and ``k = kappa``,
    the influence function of ``T`` is ``(s - q)_+ - k s`` up to a constant:
    ``(1 - k) s - q`` when ``|g| > z`` and ``-k s`` otherwise. Its moments
    follow from the truncated even moments of the normal.
    """
    z = norm.isf(eps)
    p, q, k, phi = 2.0 * eps, z * z, kappa(eps), norm.pdf(z)
    # E[s^j 1{|g| > z}] and E[s^j] for j = 0..3
    out = [
        p,
        2.0 * z * phi + p,
        2.0 * (z**3 + 3.0 * z) * phi + 3.0 * p,
        2.0 * (z**5 + 5.0 * z**3 + 15.0 * z) * phi + 15.0 * p,
    ]
    full = [1.0, 1.0, 3.0, 15.0]

    def raw(r):
        # E[Y^r] over both regions, the outer one expanded binomially
        inner = (-k) ** r * (full[r] - out[r])
        outer = sum(
            math.comb(r, j) * (1.0 - k) ** j * (-q) ** (r - j) * out[j]
            for j in range(r + 1)
        )
        return inner + outer

    m1, m2, m3 = raw(1), raw(2), raw(3)
    var = m2 - m1 * m1
    third = m3 - 3.0 * m1 * m2 + 2.0 * m1**3
    return math.sqrt(var), third / var**1.5


def tail_share_sd(eps):
    """Asymptotic standard deviation of the tail share, times ``sqrt(n_rows)``."""
    return _tail_share_moments(eps)[0]


@lru_cache(maxsize=256)
def family_quantile(n_tests, n_rows, eps, level=FAMILY_LEVEL):
    """Standardised critical value of one of ``n_tests`` tail tests.

    The one-sided normal quantile at the Sidak level
    ``1 - (1 - level) ** (1 / n_tests)``, with a one-term Cornish-Fisher
    correction for the skewness of the tail share over ``n_rows`` rows
    (conservative: the ratio's own curvature makes the true upper tail
    lighter than this correction assumes).
    """
    single = -math.expm1(math.log1p(-level) / max(int(n_tests), 1))
    zq = norm.isf(single)
    _, skew = _tail_share_moments(eps)
    return zq + (zq * zq - 1.0) * max(skew, 0.0) / (6.0 * math.sqrt(max(n_rows, 1)))


def model_slack(eps):
    """Allowance on the body share ``1 - kappa`` for near-Gaussian inliers."""
    return 0.25 * eps * math.log(1.0 / eps)


@lru_cache(maxsize=1024)
def tail_cut(eps, slack, n_rows, n_tests=1):
    """Largest tail share that passes the test at window ``2 eps``.

    ``slack='auto'``: ``kappa + model_slack(eps) (1 - kappa)`` plus the
    sampling allowance ``z sigma / sqrt(n_rows)``, ``z`` the family's
    critical value for ``n_tests`` tests. A float slack is used as is
    (``kappa + slack (1 - kappa)``), without calibration.
    """
    k = kappa(eps)
    if isinstance(slack, str):  # 'auto'
        sd, _ = _tail_share_moments(eps)
        z = family_quantile(n_tests, n_rows, eps)
        return k + model_slack(eps) * (1.0 - k) + z * sd / math.sqrt(max(n_rows, 1))
    return k + float(slack) * (1.0 - k)
