"""Attributed stochastic block models, sampled edge by edge in O(n + m)."""

import numbers

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_attributed_sbm", "sbm_detectability_threshold"]

_NAME = "make_attributed_sbm"


@validate_params(
    {
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "mean_degree": [Interval(numbers.Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def sbm_detectability_threshold(n_blocks, mean_degree):
    """Mixing level below which a balanced SBM's blocks are detectable.

    For ``K`` equal blocks, mean degree ``c`` and mixing ``eps`` (the share of
    a vertex's edges that leave its block), ``c_in = K c (1 - eps)`` and
    ``c_out = K c eps / (K - 1)``; the Kesten-Stigum condition
    ``(c_in - c_out)**2 > K (c_in + (K - 1) c_out)`` reads
    ``eps < (K - 1) / K * (1 - 1 / sqrt(c))``.

    Parameters
    ----------
    n_blocks : int
        Number of blocks ``K``.
    mean_degree : float > 0
        Mean degree ``c``.

    Returns
    -------
    float
        The threshold ``eps* = (K - 1) / K * (1 - 1 / sqrt(c))``, clipped at 0 (for
        ``c <= 1`` no mixing level is detectable; for ``K = 1`` there is
        nothing to detect and the value is 0).

    See Also
    --------
    make_attributed_sbm : Sample a graph at a given mixing level.

    References
    ----------
    .. [1] A. Decelle, F. Krzakala, C. Moore, L. Zdeborova. Asymptotic
       analysis of the stochastic block model for modular networks and its
       algorithmic applications. Phys. Rev. E 84, 066106 (2011).

    Examples
    --------
    >>> from sklearn_spectral.datasets import sbm_detectability_threshold
    >>> round(sbm_detectability_threshold(5, 10.0), 4)
    0.547
    """
    k = float(n_blocks)
    value = (k - 1.0) / k * (1.0 - 1.0 / np.sqrt(float(mean_degree)))
    return max(0.0, float(value))


def _block_propensities(y, sizes, exponent, rng):
    """Power-law propensities normalised to mean 1 inside each block."""
    # Pareto with minimum 1 and density proportional to theta**(-exponent).
    theta = rng.pareto(exponent - 1.0, size=y.shape[0]) + 1.0
    sums = np.bincount(y, weights=theta, minlength=sizes.shape[0])
    theta *= (sizes / sums)[y]
    return theta


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "mean_degree": [Interval(numbers.Real, 0, None, closed="neither")],
        "mixing": [Interval(numbers.Real, 0, 1, closed="both")],
        "n_attributes": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_categories": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        "degree_exponent": [None, Interval(numbers.Real, 2, None, closed="neither")],
        "return_params": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_attributed_sbm(
    n_samples,
    n_blocks=5,
    *,
    mean_degree=10.0,
    mixing=0.1,
    n_attributes=1,
    n_categories=None,
    alpha=0.9,
    degree_exponent=None,
    return_params=False,
    random_state=None,
):
    """Generate a stochastic block model graph with categorical attributes.

    Vertices are split into ``n_blocks`` blocks whose sizes differ by at most
    one (labels in random order). Each vertex has expected degree
    ``mean_degree``, a share ``mixing`` of it to other blocks. Edges are
    sampled directly: a Poisson number per block pair, endpoints uniform in
    their blocks (or proportional to power-law propensities), self-loops
    excluded, duplicates merged. Nothing is ``O(n**2)``: time and memory are
    ``O(n + m)`` for ``m`` edges (one million vertices at mean degree 10 in
    a few seconds).

    Parameters
    ----------
    n_samples : int
        Number of vertices ``n``; at least ``2 * n_blocks``.
    n_blocks : int, default=5
        Number of blocks ``K``.
    mean_degree : float > 0, default=10.0
        Expected degree ``c`` of every vertex (before duplicate merging,
        which removes a share of about ``c / n`` of the edges, more with
        ``degree_exponent``).
    mixing : float in [0, 1], default=0.1
        Expected share ``eps`` of a vertex's edges that leave its block;
        ``(K - 1) / K`` is a graph without structure. See
        :func:`sbm_detectability_threshold` for the detectability limit.
    n_attributes : int, default=1
        Number of categorical attributes ``m`` (0 gives an empty array).
    n_categories : int or None, default=None
        Categories per attribute ``C``; None means ``n_blocks``.
    alpha : float in [0, 1], default=0.9
        Each attribute value equals its block's category with probability
        ``alpha`` and is uniform over the ``C`` categories otherwise, so it
        agrees with the block's category at rate ``alpha + (1 - alpha) / C``.
        Every attribute maps blocks to categories by its own random map
        (one-to-one when ``C >= K``; blocks share categories when ``C < K``).
    degree_exponent : float > 2 or None, default=None
        Degree correction: vertex propensities ``theta`` drawn from a Pareto
        law with density proportional to ``theta**(-degree_exponent)``,
        normalised to mean 1 in each block; edge endpoints are drawn in
        proportion to ``theta`` (expected degree ``c * theta``), so degrees
        follow a power law with that exponent. Self-loops that this draws
        are dropped and hub duplicates merged, so hubs lose some edges.
    return_params : bool, default=False
        Also return a dictionary with the model.
    random_state : int, RandomState instance or None, default=None
        Seeds the blocks, edges and attributes.

    Returns
    -------
    A : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Symmetric 0/1 adjacency (float64), no self-loops, sorted indices.
    y : ndarray of shape (n_samples,), dtype int64
        Block labels in ``[0, K)``.
    attributes : ndarray of shape (n_samples, n_attributes), dtype int64
        Attribute codes in ``[0, C)``.
    params : dict
        Only when ``return_params=True``: ``'p_in'``, ``'p_out'`` (edge
        probabilities of a vertex pair within or across blocks for unit
        propensities), ``'expected_edges'`` (K, K) Poisson means per block
        pair (upper triangle, diagonal for within-block pairs),
        ``'block_sizes'``, ``'propensities'`` (n,), ``'category_map'`` (m, K)
        and ``'detectability_threshold'``.

    See Also
    --------
    sbm_detectability_threshold : The mixing level where blocks stop being
        detectable.
    sklearn_spectral.cluster.AMGSpectralClustering : Clusters such graphs,
        with or without the attributes.

    Notes
    -----
    With ``s = n / K``, a pair of vertices in one block is joined with
    probability ``p_in = c (1 - eps) / (s - 1)`` and a pair in different
    blocks with ``p_out = c eps / (n - s)``: expected within-block degree
    ``c (1 - eps)`` and cross-block degree ``c eps`` (exact for equal
    blocks). The edge count of block pair ``(a, b)`` is Poisson with mean
    ``p_out n_a n_b`` (``a != b``) or ``p_in n_a (n_a - 1) / 2`` (``a = b``).
    Duplicate pairs are merged (0/1 entries), which the ``O(c / n)`` share
    of repeats makes negligible for sparse graphs. In the balanced case,
    ``c_in = K c (1 - eps)`` and ``c_out = K c eps / (K - 1)`` in the usual
    notation of the detectability literature.

    References
    ----------
    .. [1] A. Decelle, F. Krzakala, C. Moore, L. Zdeborova. Asymptotic
       analysis of the stochastic block model for modular networks and its
       algorithmic applications. Phys. Rev. E 84, 066106 (2011).
    .. [2] B. Karrer, M. E. J. Newman. Stochastic blockmodels and community
       structure in networks. Phys. Rev. E 83, 016107 (2011).
    .. [3] P. D'Ambra, P. S. Vassilevski, L. Cutillo. Extending bootstrap AMG
       for clustering of attributed graphs. Applied Mathematics and
       Computation 447 (2023) 127904. arXiv:2109.09367.

    Examples
    --------
    >>> from sklearn_spectral.datasets import make_attributed_sbm
    >>> A, y, attributes = make_attributed_sbm(1000, 4, mean_degree=8.0,
    ...                                        mixing=0.1, random_state=0)
    >>> A.shape, y.shape, attributes.shape
    ((1000, 1000), (1000,), (1000, 1))
    >>> bool((A != A.T).nnz == 0 and A.diagonal().sum() == 0)
    True
    """
    n = int(n_samples)
    k = int(n_blocks)
    c = float(mean_degree)
    eps = float(mixing)
    n_cat = k if n_categories is None else int(n_categories)
    if n < 2 * k:
        raise ValueError(
            f"{_NAME}: n_samples must be at least 2 * n_blocks = {2 * k} "
            f"(every block needs two vertices); got n_samples={n}."
        )
    s = n / k
    p_in = c * (1.0 - eps) / (s - 1.0)
    p_out = c * eps / (n - s) if k > 1 else 0.0
    if k == 1:
        p_in = c / (n - 1.0)
    if p_in > 1.0 or p_out > 1.0:
        raise ValueError(
            f"{_NAME}: mean_degree={c} with mixing={eps} needs a pair "
            f"probability above 1 (p_in={p_in:.3g}, p_out={p_out:.3g}); lower "
            "mean_degree or raise n_samples (the sampler targets sparse graphs)."
        )

    rng = check_random_state(random_state)
    seeds = rng.randint(np.iinfo(np.int32).max, size=4)
    block_rng, edge_rng, theta_rng, attr_rng = (
        np.random.default_rng(sd) for sd in seeds
    )

    # Blocks: sizes differ by at most one, labels in random order.
    y = (np.arange(n) % k)[block_rng.permutation(n)].astype(np.int64)
    sizes = np.bincount(y, minlength=k).astype(np.int64)
    order = np.argsort(y, kind="stable")  # vertices grouped by block
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))

    # Poisson edge counts per block pair (upper triangle).
    ia, ib = np.triu_indices(k)
    lam = np.where(
        ia == ib,
        p_in * sizes[ia] * (sizes[ia] - 1) / 2.0,
        p_out * sizes[ia] * sizes[ib],
    )
    counts = edge_rng.poisson(lam)
    pa = np.repeat(ia, counts)
    pb = np.repeat(ib, counts)
    n_draw = pa.shape[0]
    diag = pa == pb

    if degree_exponent is None:
        theta = np.ones(n)
        size_a = sizes[pa]
        u_loc = (edge_rng.random(n_draw) * size_a).astype(np.int64)
        np.minimum(u_loc, size_a - 1, out=u_loc)
        v_loc = np.empty(n_draw, dtype=np.int64)
        # Within a block: the other endpoint uniform among the n_a - 1 others.
        size_d = size_a[diag]
        v_loc[diag] = (
            u_loc[diag]
            + 1
            + (edge_rng.random(size_d.shape[0]) * (size_d - 1)).astype(np.int64)
        ) % size_d
        off = ~diag
        v_loc[off] = (edge_rng.random(int(off.sum())) * sizes[pb[off]]).astype(np.int64)
        np.minimum(v_loc, sizes[pb] - 1, out=v_loc)
        u = order[starts[pa] + u_loc]
        v = order[starts[pb] + v_loc]
    else:
        theta = _block_propensities(y, sizes, float(degree_exponent), theta_rng)
        cum = np.cumsum(theta[order])
        block_end = cum[starts + sizes - 1]
        block_begin = block_end - np.bincount(y, weights=theta, minlength=k)

        def endpoints(blocks):
            r = block_begin[blocks] + edge_rng.random(blocks.shape[0]) * (
                block_end[blocks] - block_begin[blocks]
            )
            pos = np.searchsorted(cum, r, side="right")
            # Guard the block ends against rounding in the cumulative sums.
            pos = np.clip(pos, starts[blocks], starts[blocks] + sizes[blocks] - 1)
            return order[pos]

        u = endpoints(pa)
        v = endpoints(pb)
        keep = u != v
        u, v = u[keep], v[keep]

    # Symmetric CSR from one sort of both orientations; duplicates merged.
    u = u.astype(np.int64, copy=False)
    v = v.astype(np.int64, copy=False)
    keys = np.concatenate((u * n + v, v * n + u))
    keys.sort()
    if keys.shape[0] > 1:
        fresh = np.empty(keys.shape[0], dtype=bool)
        fresh[0] = True
        np.not_equal(keys[1:], keys[:-1], out=fresh[1:])
        keys = keys[fresh]
    rows = keys // n
    idx_dtype = np.int32 if max(n, keys.shape[0]) < np.iinfo(np.int32).max else np.int64
    indices = (keys - rows * n).astype(idx_dtype)
    indptr = np.zeros(n + 1, dtype=idx_dtype)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    A = sparse.csr_matrix(
        (np.ones(keys.shape[0]), indices, indptr), shape=(n, n), copy=False
    )
    A.has_sorted_indices = True

    # Attributes.
    m = int(n_attributes)
    attributes = np.empty((n, m), dtype=np.int64)
    category_map = np.empty((m, k), dtype=np.int64)
    for j in range(m):
        if n_cat >= k:
            category_map[j] = attr_rng.permutation(n_cat)[:k]
        else:
            category_map[j] = attr_rng.permutation(k) % n_cat
        agree = attr_rng.random(n) < alpha
        noise = attr_rng.integers(0, n_cat, size=n)
        attributes[:, j] = np.where(agree, category_map[j][y], noise)

    if not return_params:
        return A, y, attributes
    expected = np.zeros((k, k))
    expected[ia, ib] = lam
    params = {
        "p_in": float(p_in),
        "p_out": float(p_out),
        "expected_edges": expected,
        "block_sizes": sizes,
        "propensities": theta,
        "category_map": category_map,
        "detectability_threshold": sbm_detectability_threshold(k, c),
    }
    return A, y, attributes, params
