"""Spectral clustering of (attributed) graphs by bootstrap AMG smooth vectors."""

import numbers
import time
import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import (
    ArpackError,
    ArpackNoConvergence,
    LinearOperator,
    eigsh,
    spilu,
    splu,
)
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import validate_data

from ..utils._openmp_helpers import _openmp_effective_n_threads
from ..utils._threading import single_threaded_blas
from ..utils.graph import (
    _canonical_csr,
    affinity_from_distances,
    affinity_from_features,
    check_affinity,
    connected_components,
)
from ..utils.validation import check_integer_codes, check_min_samples, message_prefix
from ._amg_setup import bootstrap, pinned_laplacian
from ._kmeans_restarts import _kmeans_restarts, _kmeans_single
from ._modularity_refine import (
    _merge_clusters,
    _modularity,
    _modularity_moves,
    _split_clusters,
)

__all__ = ["AMGSpectralClustering"]

# Embedding directions with sigma_i < _SVD_RTOL * sigma_1 are dropped.
_SVD_RTOL = 1e-10
# Rayleigh-Ritz drops directions whose Gram eigenvalue (a squared singular
# value of the D-scaled basis) is below _GRAM_RTOL times the largest.
_GRAM_RTOL = 1e-12
# The Ritz refinement is preconditioned by the composite of the newest
# hierarchies only: two converge in nearly as few steps as all of them, at a
# fraction of the V-cycles per step, and in far fewer than the newest alone.
_PRECONDITIONER_HIERARCHIES = 2
# Ritz pairs with ||S v - theta D v|| below this times ||D v|| are locked:
# they get no preconditioned direction in the next refinement step.
_LOCK_RTOL = 1e-8
# K-means restarts run on one thread below this many point-centre-coordinate
# operations (n_init * n * K * dims * iterations).
_KMEANS_MIN_WORK = 2_000_000
# The restarts stop early once this many in a row (in seed order) have not
# raised the best score by more than this relative amount, where one restart
# costs at least this many operations (n * K * dims * iterations): on large
# graphs the best modularity is then within 1e-4 of all ``n_init`` restarts'
# (block models, coins, kNN graphs), while on small graphs, where restarts
# are cheap, the full ``n_init`` still finds better optima.
_RESTART_PATIENCE = 20
_RESTART_RTOL = 1e-5
_EARLY_STOP_MIN_WORK = 5_000_000
# solver="auto" runs Lanczos (ARPACK) for the lowest eigenvectors of the
# normalised Laplacian, with at most this many products with it: block
# models and kNN graphs (well-separated low spectrum) converge in 60-200
# products, far cheaper than growing the hierarchies. Grids and meshes,
# where it would not, take the shift-invert path below.
_LANCZOS_MAX_MATVECS = 300
# Relative residual at which ARPACK accepts a Ritz pair.
_LANCZOS_TOL = 1e-5
# solver="auto" runs Lanczos on the inverse of the Laplacian (shift-invert)
# instead where a sparse factorisation of it is cheap: breadth-first levels
# of at most this many times sqrt(nnz(L)) vertices (2-D grids and meshes:
# about 0.4; block models and kNN graphs in 10 or more dimensions: 2.5 and
# more, where the minimum-degree ordering itself is slow) ...
_SHIFT_INVERT_MAX_WIDTH = 2.0
# ... at most this many factor entries per stored entry of L, about the
# memory of the bootstrap hierarchies it replaces (pixel graphs: 5 at 1e5
# pixels, growing as log n) ...
_SHIFT_INVERT_MAX_FILL = 20
# ... and at most this many multiplications per stored entry of L: those of
# about a thousand V-cycles, while the bootstrap runs 4 H (H + 1) of them for
# H hierarchies (pixel graphs: about 1,000 at 1e5 pixels, 2,900 at 8e5,
# where the factor and 63 solves took 19 s: minutes less than the bootstrap
# would take, at 27 s for 1e5 pixels and growing about linearly).
_SHIFT_INVERT_MAX_FLOPS = 10_000
# Solves the shift-invert Lanczos may spend (60-70 on pixel graphs).
_SHIFT_INVERT_MAX_SOLVES = 300
# A final composite rate at or above this raises a ConvergenceWarning.
_POOR_RATE = 0.99
# A level whose two sweeps leave more than this share of the non-zeros is
# coarsened further before it is stored (expander-like graphs).
_MERGE_RATIO = 0.5


# The modularity refinement: at most this many split-and-merge rounds (each
# stops the refinement unless it raises the modularity), and this many sweeps
# of single-vertex moves per round (they stop at the first without a move:
# 2-8 sweeps on the benchmark graphs).
_REFINE_MAX_ROUNDS = 10
_REFINE_MAX_SWEEPS = 50
# With the refinement the restarts stop once this many in a row have not
# raised the best modularity (by _RESTART_RTOL), at every size: the refined
# modularity is then the same as from all 100 (digits 10-NN graph,
# random_state 0-29: 0.8746 on average from 10 restarts or from 100; ARI
# 0.855 against 0.849), while without it 5 give 0.858 against 0.870.
_REFINE_PATIENCE = 5


def _refine_labels(A, X, labels, n_clusters, *, max_iter, n_threads,
                   max_rounds=_REFINE_MAX_ROUNDS, max_sweeps=_REFINE_MAX_SWEEPS):
    """Raise the modularity of ``labels`` on ``A``, ``n_clusters`` kept.

    Single-vertex moves first; then rounds of: every cluster cut in two by
    2-means on its rows of ``X`` (``max_iter`` Lloyd iterations), the
    ``2 n_clusters`` pieces merged back greedily by modularity, and moves
    again. A round is kept only when it raises the modularity; the first
    that does not ends the refinement, so the result is a fixed point
    (refining it again returns it unchanged, unless ``max_rounds`` or
    ``max_sweeps`` cut it short) and its modularity is never below that of
    ``labels``.

    Returns
    -------
    labels : ndarray of shape (n,), int64, values in [0, n_clusters)
    modularity : float
    n_rounds : int, the rounds kept
    """
    graph = (A.indptr, A.indices, A.data)
    labels = np.array(labels, dtype=np.int64)
    _modularity_moves(*graph, labels, n_clusters, max_sweeps)
    q = _modularity(*graph, labels, n_clusters)
    n_rounds = 0
    while n_rounds < max_rounds:
        pieces = _split_clusters(X, labels, n_clusters, max_iter, n_threads)
        merged = _merge_clusters(*graph, pieces, 2 * n_clusters, n_clusters)
        candidate = merged[pieces]
        _modularity_moves(*graph, candidate, n_clusters, max_sweeps)
        q_candidate = _modularity(*graph, candidate, n_clusters)
        if not q_candidate > q:
            break
        labels, q = candidate, q_candidate
        n_rounds += 1
    return labels, float(q), n_rounds


def _early_stop(scores, patience=_RESTART_PATIENCE, rtol=_RESTART_RTOL):
    """Restarts to keep: the first one after which ``patience`` restarts in a
    row do not beat the best score so far by more than ``rtol`` (relative).

    Returns the number of leading restarts that count (all of them when the
    run never stalls that long); the result depends on the order of the
    scores only, not on how many were computed beyond it.
    """
    best = scores[0]
    since = 0
    for i in range(1, scores.shape[0]):
        if scores[i] > best + rtol * abs(best):
            best, since = scores[i], 0
        else:
            since += 1
            if since >= patience:
                return i + 1
    return scores.shape[0]


def _auto_hierarchies(n_clusters):
    # K - 1 hierarchies give the K smooth vectors (with w_0 = 1) the first
    # Rayleigh-Ritz step needs; at least 3, so that the two newest (the
    # refinement's preconditioner) are not the first.
    return min(40, max(3, n_clusters - 1))


def _augment(A, codes, attribute_weight):
    """The graph augmented with one vertex per (attribute, value).

    Returns
    -------
    A_aug : CSR of shape (n + n_attr, n + n_attr), diagonal dropped, in the
        form of ``_canonical_csr``
    global_codes : (n, m) int64, attribute-vertex index (0-based, among the
        attribute vertices) or -1 when missing
    block : (n_attr,) int64, the attribute of each attribute vertex
    """
    n, m = codes.shape
    global_codes = np.full((n, m), -1, dtype=np.int64)
    blocks = []
    offset = 0
    for col in range(m):
        present = codes[:, col] >= 0
        values, inverse = np.unique(codes[present, col], return_inverse=True)
        global_codes[present, col] = offset + inverse
        blocks.append(np.full(values.shape[0], col, dtype=np.int64))
        offset += values.shape[0]
    n_attr = offset
    block = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
    rows, cols = np.nonzero(global_codes >= 0)
    weights = np.full(rows.shape[0], float(attribute_weight))
    E = sparse.csr_matrix(
        (weights, (rows, global_codes[rows, cols])), shape=(n, n_attr)
    )
    A = _canonical_csr(A, drop_diagonal=True)
    A_aug = _canonical_csr(sparse.block_array([[A, E], [E.T, None]], format="csr"))
    return A_aug, global_codes, block


def _active_vertices(components, n_clusters):
    """Vertices of the components the embedding is computed on.

    Components smaller than half an average cluster would take eigenvectors
    of their own (cut 0) from the ``n_clusters`` the large ones need: they
    are left out (zero rows) and join the nearest cluster.
    """
    sizes = np.bincount(components)
    n = components.shape[0]
    return sizes[components] >= max(2.0, n / (2.0 * n_clusters))


def _component_indicators(components, n_clusters):
    """Indicators of the largest components with two or more vertices.

    Pinning makes every component's constant vector cheap for the first
    hierarchy's coarse space, so the bootstrap never returns it; these
    columns put the components into the embedding (at most ``n_clusters``,
    largest first, lowest label among equal sizes).
    """
    sizes = np.bincount(components)
    order = np.lexsort((np.arange(sizes.shape[0]), -sizes))
    chosen = [c for c in order if sizes[c] >= 2][:n_clusters]
    out = np.zeros((components.shape[0], len(chosen)))
    for k, c in enumerate(chosen):
        out[components == c, k] = 1.0
    return out


def _thin_svd_embedding(W):
    """Left singular vectors of ``W`` (QR, then SVD of R), signs fixed."""
    Q, R = linalg.qr(W, mode="economic", check_finite=False)
    Ur, s, Vt = linalg.svd(R, full_matrices=False, check_finite=False)
    keep = s > _SVD_RTOL * s[0] if s.size and s[0] > 0 else np.zeros(s.size, bool)
    keep[0] = True
    U = Q @ Ur[:, keep]
    U, _ = svd_flip(U, Vt[keep], u_based_decision=True)
    return np.ascontiguousarray(U), s


def _rayleigh_ritz(X, LX, DX, n_keep):
    """Lowest Ritz pairs of the pencil ``(S, D)`` on ``span(X)``.

    ``LX`` is ``S X`` for the plain Laplacian ``S = D - A`` and ``DX`` is
    ``D X``, ``D`` the degrees. The Gram matrices ``X^T D X`` and ``X^T S X`` are
    formed once (two tall-thin products); columns are scaled to unit
    ``D``-norm and directions of ``X^T D X`` with eigenvalues below
    ``_GRAM_RTOL`` times the largest are dropped (dependent columns, zero
    rows). No ``n``-row factorisation is needed.

    Returns
    -------
    coef : ndarray of shape (n_columns, k), ``V = X @ coef`` are the Ritz
        vectors, ``D``-orthonormal up to rounding
    theta : ndarray of shape (k,), the Ritz values, ascending
    """
    G = X.T @ DX
    S = X.T @ LX
    G = 0.5 * (G + G.T)
    S = 0.5 * (S + S.T)
    norms = np.sqrt(np.clip(np.diag(G), 0.0, None))
    used = norms > _SVD_RTOL * max(norms.max(initial=0.0), np.finfo(float).tiny)
    if not used.any():
        return np.zeros((X.shape[1], 1)), np.zeros(1)
    scale = 1.0 / norms[used]
    G = G[np.ix_(used, used)] * np.outer(scale, scale)
    S = S[np.ix_(used, used)] * np.outer(scale, scale)
    lam, Q = linalg.eigh(G, check_finite=False)
    keep = lam > _GRAM_RTOL * lam[-1]
    Z = Q[:, keep] / np.sqrt(lam[keep])
    k = min(n_keep, Z.shape[1])
    theta, C = linalg.eigh(Z.T @ S @ Z, subset_by_index=(0, k - 1),
                           check_finite=False)
    coef = np.zeros((X.shape[1], k))
    coef[used] = scale[:, None] * (Z @ C)
    return coef, theta


def _exact_embedding(L, n_keep, active):
    """The lowest eigenpairs of the normalised-cut pencil, solved densely.

    Rayleigh-Ritz of ``(S, D)`` on the whole space (the unit vectors of the
    vertices in ``active`` with positive degree), which gives the exact
    generalised eigenvectors; ``S`` and ``D`` are read off the pinned ``L``
    as in :func:`_ritz_embedding`. O(n^3): for graphs the hierarchy solves
    in one exact level.

    Returns
    -------
    V : ndarray of shape (n_vertices, n_dims), ``D``-orthonormal, signs fixed
    theta : ndarray of shape (n_dims,), the eigenvalues, ascending
    """
    pin = np.asarray(L.sum(axis=1)).ravel()
    degree = L.diagonal() - pin
    active = np.flatnonzero(active & (degree > 0))
    n = L.shape[0]
    X = np.zeros((n, active.shape[0]))
    X[active, np.arange(active.shape[0])] = 1.0
    S = L.toarray() - np.diag(pin)
    coef, theta = _rayleigh_ritz(X, S[:, active], degree[:, None] * X, n_keep)
    V = X @ coef
    V, _ = svd_flip(_d_orthonormalise(V, degree[:, None] * V), None,
                    u_based_decision=True)
    return np.ascontiguousarray(V), theta


class _BudgetExceeded(Exception):
    """Raised by a Lanczos operator once its product budget is spent."""


class _ActivePencil(NamedTuple):
    """The normalised-cut pencil on the active vertices, and its null space.

    ``idx`` are the vertices in ``active`` with positive degree (whole
    components), ``degree`` their degrees, ``local`` the rank of each one's
    component (largest first, lowest label among equal sizes) and ``z``
    the unit vectors ``D^{1/2} 1_c`` of those components, stored as one
    vector: the exact eigenvectors of eigenvalue 0 of the normalised
    Laplacian.
    """

    idx: np.ndarray
    degree: np.ndarray
    local: np.ndarray
    z: np.ndarray
    n_comp: int

    def project(self, x):
        """``x`` with its components along the vectors ``z`` removed."""
        weights = np.bincount(self.local, weights=self.z * x, minlength=self.n_comp)
        return x - self.z * weights[self.local]


def _active_pencil(L, active, components):
    """The :class:`_ActivePencil` of the pinned ``L``, or None if empty.

    ``S`` and ``D`` are read off the pinned ``L`` as in :func:`_ritz_embedding`.
    """
    pin = np.asarray(L.sum(axis=1)).ravel()
    degree = L.diagonal() - pin
    idx = np.flatnonzero(active & (degree > 0))
    if idx.shape[0] == 0:
        return None
    labels, local, sizes = np.unique(components[idx], return_inverse=True,
                                     return_counts=True)
    order = np.lexsort((labels, -sizes))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    local = rank[local]
    z = np.sqrt(degree[idx])
    z /= np.sqrt(np.bincount(local, weights=z * z))[local]
    return _ActivePencil(idx, degree[idx], local, z, order.shape[0])


def _lanczos_eigenvectors(pencil, operator, k, v0, *, budget, tol):
    """The ``k`` largest eigenpairs of ``operator`` off the null space, by ARPACK.

    ``operator`` maps a vector of the active vertices; it is applied to
    projected vectors and its results projected, at most ``budget`` times.

    Returns
    -------
    mu : ndarray of shape (k,), ascending, or None when ARPACK does not
        converge within the budget (or the space is too small for it)
    U : ndarray of shape (n_active, k)
    n_products : int, the applications of ``operator``
    """
    m = pencil.idx.shape[0]
    ncv = min(m - pencil.n_comp, max(2 * k + 1, 20))
    if k == 0:
        return np.zeros(0), np.zeros((m, 0)), 0
    if k >= ncv:
        return None, None, 0
    count = [0]

    def matvec(x):
        if count[0] >= budget:
            raise _BudgetExceeded
        count[0] += 1
        return pencil.project(operator(pencil.project(np.ravel(x))))

    op = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
    start = pencil.project(np.asarray(v0, dtype=np.float64)[pencil.idx])
    try:
        mu, U = eigsh(op, k, which="LA", v0=start, ncv=ncv, tol=tol, maxiter=budget)
    except (_BudgetExceeded, ArpackNoConvergence, ArpackError):
        return None, None, count[0]
    return mu, U, count[0]


def _pencil_embedding(pencil, n, n_comp_kept, theta, U):
    """The embedding from the normalised eigenvectors ``U`` (``D^{1/2} v``).

    The first ``n_comp_kept`` component vectors (eigenvalue 0) come first,
    then the columns of ``U`` (eigenvalues ``theta``, ascending); rows are
    scaled back by ``D^{-1/2}``, so the columns are ``D``-orthonormal, and
    the vertices outside ``pencil.idx`` get zero rows.

    Returns
    -------
    V : ndarray of shape (n, n_dims), signs fixed
    theta : ndarray of shape (n_dims,), the eigenvalues, ascending
    """
    m = pencil.idx.shape[0]
    Z = np.zeros((m, n_comp_kept))
    first = pencil.local < n_comp_kept
    Z[np.flatnonzero(first), pencil.local[first]] = pencil.z[first]
    V = np.zeros((n, n_comp_kept + U.shape[1]))
    V[pencil.idx] = (1.0 / np.sqrt(pencil.degree))[:, None] * np.hstack([Z, U])
    V, _ = svd_flip(V, None, u_based_decision=True)
    theta = np.concatenate([np.zeros(n_comp_kept), theta])
    return np.ascontiguousarray(V), theta


def _lanczos_embedding(M, pencil, n, n_keep, v0, *, max_matvecs, tol):
    """The lowest eigenpairs of the normalised-cut pencil, by Lanczos.

    ARPACK's implicitly restarted Lanczos for the largest eigenvalues of
    ``N + I``, ``N = D^{-1/2} A D^{-1/2}`` the normalised adjacency of the
    vertices ``pencil.idx`` (whole components), read off ``M``, the pinned
    Laplacian of those vertices. The exact eigenvectors ``D^{1/2} 1_c`` of
    the active components (the largest first) are projected out of the
    operator and put first, so Lanczos looks for the ``n_keep -
    n_components`` others only (the shift sends the projected directions
    to the bottom of the spectrum). ``v0`` (of all ``n`` vertices) is the
    start (projected here).

    Returns
    -------
    V : ndarray of shape (n, n_dims), ``D``-orthonormal, signs fixed, or
        None when ARPACK does not converge within ``max_matvecs`` products
        (or the active part is too small for it)
    theta : ndarray of shape (n_dims,), the eigenvalues, ascending
    n_matvecs : int, the products with ``N`` spent
    """
    m = pencil.idx.shape[0]
    N = M.copy()
    N.setdiag(0.0)
    N.eliminate_zeros()
    # N = -D^{-1/2} (M - diag) D^{-1/2}, scaled in place (two sparse
    # products with broadcast vectors took 1 s at 1e6 vertices).
    scale = 1.0 / np.sqrt(pencil.degree)
    rows = np.repeat(np.arange(m), np.diff(N.indptr))
    N.data = -((N.data * scale[rows]) * scale[N.indices])
    n_comp_kept = min(pencil.n_comp, n_keep)
    mu, U, n_matvecs = _lanczos_eigenvectors(
        pencil, lambda x: N @ x + x, n_keep - n_comp_kept, v0,
        budget=max_matvecs, tol=tol,
    )
    if mu is None:
        return None, None, n_matvecs
    V, theta = _pencil_embedding(pencil, n, n_comp_kept, 2.0 - mu[::-1], U[:, ::-1])
    return V, theta, n_matvecs


def _factor_order(M, *, max_width, max_fill, max_flops):
    """A fill-reducing elimination order of the SPD ``M``, or None if costly.

    The order is SuperLU's minimum degree on ``M`` (read off an incomplete
    factorisation that keeps only the diagonal, which costs about as much as
    the ordering). Before it, graphs whose breadth-first levels are wider
    than ``max_width`` (expander-like: minimum degree itself is slow there)
    are turned down; after it, orders whose Cholesky factor would hold more
    than ``max_fill`` entries or take more than ``max_flops``
    multiplications (counted symbolically, stopping at the budget).

    Returns
    -------
    order : ndarray of int64 or None
    reason : str, why there is no order ("" when there is one)
    nnz : int, entries of the Cholesky factor under ``order`` (0 if None)
    """
    from ._amg_fill import _cholesky_count, _max_level_width

    indptr = M.indptr.astype(np.int64, copy=False)
    indices = M.indices.astype(np.int64, copy=False)
    width = _max_level_width(indptr, indices)
    if width > max_width:
        return None, f"level width {width} > {max_width:.0f}", 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
        ilu = spilu(M.tocsc(), drop_tol=1.0, fill_factor=1.0,
                    permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                    options={"SymmetricMode": True})
    order = np.argsort(ilu.perm_c).astype(np.int64)
    nnz, flops = _cholesky_count(indptr, indices, order, int(max_fill))
    if nnz < 0:
        return None, f"factor > {max_fill:.3g} entries", 0
    if flops > max_flops:
        return None, f"factorisation {flops:.3g} > {max_flops:.3g} flops", 0
    return order, "", nnz


def _shift_invert_embedding(M, order, pencil, n, n_keep, v0, *, max_solves, tol):
    """The lowest eigenpairs of the normalised-cut pencil, by shift-invert.

    ARPACK's Lanczos for the largest eigenvalues of ``D^{1/2} S^+ D^{1/2}``
    off the component vectors ``D^{1/2} 1_c``: the inverses of the lowest
    non-zero eigenvalues of the normalised Laplacian, which Lanczos
    separates well however crowded they are near 0 (grids, meshes). The
    solves use a sparse factorisation of ``M``, the pinned Laplacian of
    the vertices ``pencil.idx``, in the elimination order ``order`` (from
    :func:`_factor_order`): pinning one vertex per component changes ``S``
    by a rank-one term per component, and for a right-hand side orthogonal
    to the component's constants the pinned solution is a solution of ``S
    y = b`` (its value at the pinned vertex is 0), so after the projection
    the operator is exact, with no shift to choose.

    Returns
    -------
    V : ndarray of shape (n, n_dims), ``D``-orthonormal, signs fixed, or
        None when ARPACK does not converge within ``max_solves`` solves
    theta : ndarray of shape (n_dims,), the eigenvalues, ascending
    n_solves : int, the solves spent
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
        lu = splu(M[order][:, order].tocsc(), permc_spec="NATURAL",
                  diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    position = np.empty_like(order)
    position[order] = np.arange(order.shape[0])
    root = np.sqrt(pencil.degree)

    def solve(x):
        return root * lu.solve((root * x)[order])[position]

    n_comp_kept = min(pencil.n_comp, n_keep)
    mu, U, n_solves = _lanczos_eigenvectors(
        pencil, solve, n_keep - n_comp_kept, v0, budget=max_solves, tol=tol
    )
    if mu is None:
        return None, None, n_solves
    V, theta = _pencil_embedding(pencil, n, n_comp_kept, 1.0 / mu[::-1], U[:, ::-1])
    return V, theta, n_solves


def _d_orthonormalise(V, DV):
    """``V R^{-1}`` with ``R^T R = V^T D V`` (Cholesky); ``DV`` is ``D V``."""
    M = V.T @ DV
    try:
        R = linalg.cholesky(0.5 * (M + M.T), lower=False, check_finite=False)
    except linalg.LinAlgError:
        return V
    return linalg.solve_triangular(R, V.T, trans="T", check_finite=False).T


def _ritz_embedding(U, L, n_keep, *, active, hierarchies, steps, tol, smoother,
                    n_threads):
    """Ritz vectors of the normalised-cut pencil, refined by the AMG solver.

    Rayleigh-Ritz of ``(S, D)``, ``S = D - A`` the Laplacian before pinning
    (read off the pinned ``L``: its row sums are the pinning) and ``D`` the
    degrees, on ``span(U)`` gives the ``n_keep`` directions of the
    smooth-vector span with the smallest normalised cut. Each refinement
    step computes the preconditioned residuals ``T = B^{-1} (S V - D V
    diag(theta))`` of the kept Ritz pairs, ``B`` one multiplicative
    composite iteration of the newest bootstrap hierarchies, and repeats the
    Rayleigh-Ritz step on ``span(U, V, T, V_previous)``: the search space of
    LOBPCG with the AMG preconditioner (``span(V, T, V_previous)`` holds
    LOBPCG's ``[X, W, P]``) plus the smooth vectors, of fixed size ``dim U +
    3 n_keep``. The basis holds the current Ritz vectors, so no Ritz value
    goes up from one step to the next. The steps stop once no Ritz value
    falls by more than ``tol`` times the largest kept one, or after
    ``steps`` of them; each costs ``min(2, n_hierarchies)`` V-cycles (the
    pairs spread over the threads) and a sparse product per unlocked pair
    (``S U`` is formed once, ``S V`` carried along). Pairs whose residual
    is below ``_LOCK_RTOL`` (the constant vector, converged ones) are
    locked: they stay in the basis but get no preconditioned direction.
    Vertices outside ``active`` get zero rows.

    Returns
    -------
    V : ndarray of shape (n_vertices, n_dims), ``D``-orthonormal, signs fixed
    theta : ndarray of the Ritz values kept
    n_vcycles : int
    n_steps : int, the refinement steps taken
    """
    from ._amg_cycle import SMOOTHERS, _CompositeSolver

    pin = np.asarray(L.sum(axis=1)).ravel()  # zero except at pinned vertices
    degree = L.diagonal() - pin
    active = active & (degree > 0)
    mask = None if active.all() else active[:, None]

    def plain(Y):  # S Y on the active rows' columns
        Y = Y if mask is None else Y * mask
        return Y, L @ Y - pin[:, None] * Y

    preconditioner = hierarchies[-_PRECONDITIONER_HIERARCHIES:]
    n, m = U.shape
    # The search space [U | V | T | V_previous] and its images under S and
    # D live in column-major buffers, filled in place (no n-row copies of
    # the whole basis per step).
    X = np.empty((n, m + 3 * n_keep), order="F")
    LX = np.empty_like(X)
    DX = np.empty_like(X)
    X[:, :m], LX[:, :m] = plain(U)
    DX[:, :m] = degree[:, None] * X[:, :m]
    coef, theta = _rayleigh_ritz(X[:, :m], LX[:, :m], DX[:, :m], n_keep)
    k = coef.shape[1]
    V, LV, DV = X[:, :m] @ coef, LX[:, :m] @ coef, DX[:, :m] @ coef
    width = m  # columns of the previous Ritz vectors end here (none yet)
    n_vcycles = n_steps = 0
    # Thread copies of the preconditioner are made once, not per step.
    solver = _CompositeSolver(preconditioner, SMOOTHERS[smoother], n_threads)
    try:
        while n_steps < steps:
            R = LV - theta * DV
            # Soft locking: pairs whose residual is negligible (the constant
            # vector, converged ones) get no preconditioned direction.
            residual = np.linalg.norm(R, axis=0)
            unlocked = residual > _LOCK_RTOL * np.maximum(
                np.linalg.norm(DV, axis=0), np.finfo(float).tiny)
            if not unlocked.any():
                break
            T = solver.solve(np.ascontiguousarray(R[:, unlocked].T)).T
            n_vcycles += T.shape[1] * len(preconditioner)
            n_steps += 1
            T, LT = plain(T)
            # Layout [U | V_previous | V | T]: V_previous sits at [m, width).
            j = width
            X[:, j:j + k], LX[:, j:j + k], DX[:, j:j + k] = V, LV, DV
            j += k
            t = T.shape[1]
            X[:, j:j + t], LX[:, j:j + t] = T, LT
            DX[:, j:j + t] = degree[:, None] * T
            j += t
            theta_previous = theta
            coef, theta = _rayleigh_ritz(X[:, :j], LX[:, :j], DX[:, :j], n_keep)
            V, LV, DV = X[:, :j] @ coef, LX[:, :j] @ coef, DX[:, :j] @ coef
            # The Ritz vectors just used become the "previous" block.
            X[:, m:m + k] = X[:, width:width + k]
            LX[:, m:m + k] = LX[:, width:width + k]
            DX[:, m:m + k] = DX[:, width:width + k]
            width = m + k
            k = coef.shape[1]
            scale = max(float(np.max(np.abs(theta))), np.finfo(float).tiny)
            if (theta.shape == theta_previous.shape
                    and np.max(theta_previous - theta) <= tol * scale):
                break
    finally:
        solver.close()
    V, _ = svd_flip(_d_orthonormalise(V, DV), None, u_based_decision=True)
    return np.ascontiguousarray(V), theta, n_vcycles, n_steps


class AMGSpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering of graphs, with vertex attributes, by bootstrap AMG.

    The method of D'Ambra, Cutillo and Vassilevski: a bootstrap algebraic
    multigrid (AMG) solver is grown for the graph Laplacian, each hierarchy
    coarsened by a compatible weighted matching and seeded by the smooth
    error the previous ones leave on ``L x = 0``; those algebraically smooth
    vectors span an approximation of the low spectrum of the Laplacian.
    K-means on the rows of their orthonormal basis, with many short
    restarts kept by modularity, gives the clusters (refined by modularity
    with ``refine=True``). Categorical vertex
    attributes join as extra vertices (one per attribute value) linked to
    their holders; the points K-means sees are then the vertex's embedding
    concatenated with those of its attribute vertices. The cost is linear in
    the number of edges for a fixed number of hierarchies.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters ``K``.
    affinity : {"nearest_neighbors", "rbf", "precomputed", \
            "precomputed_nearest_neighbors"}, default="nearest_neighbors"
        ``"nearest_neighbors"``: the symmetrised k-nearest-neighbour graph of
        ``X`` (as :class:`sklearn.cluster.SpectralClustering` builds it).
        ``"rbf"``: the dense complete graph ``exp(-gamma ||x_i - x_j||^2)``,
        which needs O(n_samples^2) memory and time. ``"precomputed"``: ``X``
        is a square non-negative affinity matrix (sparse CSR preferred, or
        dense); an asymmetric one is replaced by ``(X + X.T) / 2`` with a
        warning. ``"precomputed_nearest_neighbors"``: ``X`` is a sparse
        graph of distances (as :class:`sklearn.neighbors.KNeighborsTransformer`
        or an approximate neighbour search in a pipeline writes it, self
        included) or a dense distance matrix; the ``n_neighbors`` nearest
        entries of each row give the symmetrised connectivity, as in
        :class:`sklearn.cluster.SpectralClustering`.
    n_neighbors : int, default=10
        Neighbours per point for ``"nearest_neighbors"`` and
        ``"precomputed_nearest_neighbors"``.
    gamma : float, default=1.0
        Kernel coefficient for ``"rbf"``.
    weighted : bool, default=True
        True: the Laplacian ``diag(A 1) - A`` of the weighted graph (needed
        by pixel and kNN graphs). False: edge weights are discarded and the
        Laplacian of the 0/1 pattern is used, as in the reference code.
    max_hierarchies : int or "auto", default="auto"
        Largest number of bootstrap hierarchies ``H``; "auto" is
        ``min(40, max(3, K - 1))``, the fewest that give the first
        Rayleigh-Ritz step ``K`` smooth vectors, since with the Ritz
        refinement more hierarchies cost time without changing the result.
        The papers' code uses up to 40. The bootstrap runs
        ``test_iterations * H (H + 1) / 2`` V-cycles in all.
    convergence_ratio : float, default=1e-6
        The bootstrap stops once the composite solver's energy reduction per
        iteration falls to this ratio (rarely reached before
        ``max_hierarchies``, the normal exit).
    test_iterations : int, default=8
        Composite iterations on ``L x = 0`` per bootstrap step, about half
        the papers' 15, since the Ritz refinement makes up for smooth vectors
        that are less smooth.
    smoother : {"gauss_seidel", "l1_jacobi"}, default="gauss_seidel"
        Relaxation of the V-cycles: forward/backward Gauss-Seidel or
        l1-Jacobi (parallel).
    matching : {"suitor", "preis"}, default="suitor"
        Algorithm of the locally dominant matching (both give the same
        matching).
    max_coarse : int, default=10
        Coarsening stops at this many unknowns (at ``100 * max_coarse``
        once coarsening stalls).
    embedding : {"ritz", "svd"}, default="ritz"
        Coordinates K-means works on. ``"svd"``: the orthonormal basis of
        the smooth vectors (left singular vectors of ``W``), every direction
        weighted equally, as in the papers; its dimension is the number of
        hierarchies plus one, and smooth vectors that vary inside clusters
        dilute it. ``"ritz"`` (our extension): the ``n_clusters`` lowest
        Ritz vectors of the normalised-cut pencil ``(L, D)`` on the span of
        the smooth vectors and of their test iterates halfway through the
        test iterations, which approximate the eigenvectors normalised
        spectral clustering uses; more hierarchies then only enlarge the
        search space. Connected components smaller than half an average
        cluster are left out of it (zero rows) and join the nearest cluster.
    solver : {"auto", "bootstrap"}, default="auto"
        How the ``embedding="ritz"`` eigenvectors are computed.
        ``"bootstrap"``: the bootstrap AMG hierarchies and the Ritz
        refinement. ``"auto"``: ARPACK's Lanczos iteration, with the
        component vectors projected out, on the inverse of the Laplacian
        (shift-invert: solves with a sparse factorisation of the pinned
        Laplacian, at most 300) where that factorisation is cheap
        (breadth-first levels of at most ``2 sqrt(nnz)`` vertices, at most
        20 factor entries and 10,000 multiplications per stored entry of
        the Laplacian), otherwise on the normalised adjacency (at most 300
        products with it); only if it has not converged by then (relative
        residual 1e-5), the bootstrap, which then runs exactly as with
        ``"bootstrap"``. The default because the eigenvectors of
        well-conditioned graphs (block models, kNN graphs, small graphs)
        converge in 60-200 products, several times faster than growing the
        hierarchies, and those of grids and meshes, whose low eigenvalues
        crowd near 0 and which factor with little fill (``n log n`` entries
        on 2-D grids), in 50-70 solves. ``solver_`` says which one ran;
        ``embedding="svd"`` always bootstraps.
    ritz_steps : int, default=20
        Largest number of refinement steps of the Ritz vectors
        (``embedding="ritz"``), each a LOBPCG step preconditioned by the
        composite solver of the two newest hierarchies, ``2 n_clusters``
        V-cycles. 0 keeps the Ritz vectors of the smooth-vector span as they
        are.
    ritz_tol : float, default=1e-4
        The refinement stops once no Ritz value falls by more than
        ``ritz_tol`` times the largest one in a step, a change far below
        what moves a K-means assignment. On clearly clustered graphs that
        takes one or two steps; near the detectability limit of a block
        model, where the smooth vectors are furthest from the eigenvectors,
        up to ``ritz_steps``.
    attribute_weight : float, default=1.0
        Weight of the edges between a vertex and its attribute vertices.
    attribute_block_weight : float or "auto", default="auto"
        Factor on the attribute blocks of the points K-means clusters,
        ``x_i = [U_i, g U_{a_1(i)}, ..., g U_{a_m(i)}]``. 1.0 is the papers'
        distance (Euclidean on the concatenation); "auto" is
        ``1 / (2 sqrt(m))`` for ``m`` attributes, so that all attribute
        blocks together weigh half the vertex's own block, because at full
        weight an attribute vertex, a hub at the mean of its holders, pulls
        K-means towards the partition by attribute value even where the
        graph structure is clearer. The attributes also shape the embedding
        itself through the augmented graph, whatever this weight.
    n_init : int, default=100
        Most K-means restarts, each seeded at ``K`` distinct random
        vertices. Where one restart costs at least 5e6 operations
        (``n_samples * n_clusters * dimensions * kmeans_max_iter``), the
        restarts stop once 20 in a row have not raised the best score (see
        ``selection``) by more than 1e-5 relative, because on large graphs
        the later restarts only move a few vertices; with ``refine=True``
        they stop once 5 in a row have not, at every size. The count run is
        ``n_restarts_``.
    kmeans_max_iter : int, default=10
        Lloyd iterations per restart.
    selection : {"modularity", "inertia"}, default="modularity"
        Which restart is kept: the highest modularity of the labelling on
        the input graph, or the lowest K-means inertia (ties: the first).
    refine : bool, default=False
        Whether to refine the kept labelling by modularity on the input
        graph (without ``attributes`` only). Off by default: the labels are
        those of K-means on the embedding. On: single-vertex moves to the
        neighbouring cluster that raises the modularity most, then rounds
        that cut every cluster in two by 2-means on its rows of the
        embedding, merge the ``2 n_clusters`` pieces back greedily by
        modularity and move vertices again, each round kept only if it
        raises the modularity (at most 10 rounds). The modularity never
        falls, refining the result again leaves it unchanged, and it costs
        O(nnz) per sweep of moves and O(n dimensions) per round, a few
        K-means restarts' worth; the restarts then stop once 5 in a row have
        not raised the best modularity (see ``n_init``), since the refined
        modularity hardly depends on which good restart it starts from.
        Why: K-means on the embedding follows the normalised cut, whose
        weighing of cluster volumes is not modularity's, so on pixel graphs
        it leaves clusters of very unequal volume (objects apart from their
        background) where modularity prefers equal-volume tiles that cut a
        little more weight. Use it when modularity is the goal; it departs
        from normalised spectral clustering (on a disk in an image with
        ``n_clusters=2`` it cuts the image in halves instead of finding the
        disk). With attributes it is skipped, since it would optimise the
        structure alone and undo what the attributes add.
    n_jobs : int, default=None
        Parallelism of the neighbour search. With ``"nearest_neighbors"``
        the number of OpenMP threads of the kNN graph builder; None uses the
        current OpenMP limit (all cores unless limited, e.g. by
        ``threadpoolctl``), as the other compiled kernels do, since the
        search is the costliest step from features. With
        ``"precomputed_nearest_neighbors"`` the joblib jobs of
        :class:`sklearn.neighbors.NearestNeighbors` (None means 1 unless in a
        joblib context).
    random_state : int, RandomState instance or None, default=None
        Seeds the tie-breaking vertex permutation of the matchings, the start
        of every hierarchy's test iterations and the K-means seeds.
    verbose : int, default=0
        Print, per hierarchy, its levels, operator complexity, convergence
        ratio and times, and at the end the time of every phase (as in
        ``phase_times_``).

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each vertex.
    embedding_ : ndarray of shape (n_samples, n_dims)
        Rows of the input vertices in the embedding K-means clustered: Ritz
        vectors (``embedding="ritz"``) or the orthonormal basis of the smooth
        vectors (``"svd"``).
    attribute_embedding_ : ndarray of shape (n_attribute_vertices, n_dims)
        The rows of the attribute vertices (empty without attributes).
    affinity_matrix_ : sparse CSR matrix of shape (n_samples, n_samples)
        The affinity used (float64).
    solver_ : {"exact", "lanczos", "shift_invert", "bootstrap"}
        What computed the embedding: the dense eigensolve of a graph of at
        most ``max_coarse`` vertices, Lanczos or shift-invert Lanczos
        (``solver="auto"``), or the bootstrap hierarchies.
    n_matvecs_ : int
        Products with the normalised adjacency spent by the Lanczos attempt
        (0 when none was made; at most 300).
    n_solves_ : int
        Solves with the factored Laplacian spent by the shift-invert
        attempt (0 when none was made; at most 300).
    n_hierarchies_ : int
        Number of bootstrap hierarchies built (0 with ``solver_`` "lanczos"
        or "shift_invert").
    n_iter_ : int
        Same as ``n_hierarchies_``.
    convergence_ratio_ : float
        The final composite solver's energy reduction per iteration (NaN
        with ``solver_`` "lanczos" or "shift_invert": no solver was built).
    ritz_values_ : ndarray of shape (n_dims,)
        With ``embedding="ritz"``, the Ritz values of the columns of
        ``embedding_``, ascending: upper bounds on, and approximations of,
        the lowest eigenvalues of the normalised Laplacian. Empty with
        ``"svd"``.
    n_ritz_steps_ : int
        Refinement steps taken (0 with ``embedding="svd"``).
    n_vcycles_ : int
        V-cycles applied in all: ``test_iterations * H (H + 1) / 2`` in the
        bootstrap, plus, per refinement step, one per Ritz pair not yet
        converged and preconditioning hierarchy.
    n_restarts_ : int
        K-means restarts run (at most ``n_init``).
    n_refine_rounds_ : int
        Split-and-merge rounds the refinement kept (0 with ``refine=False``).
    modularity_ : float
        Modularity of ``labels_`` on ``affinity_matrix_``.
    inertia_ : float
        K-means inertia of the kept restart (before the refinement).
    n_components_ : int
        Connected components of the graph (with attribute vertices if any).
    operator_complexity_ : ndarray of shape (``n_hierarchies_``,)
        Operator complexity of each bootstrap hierarchy, as pyamg's
        ``operator_complexity()``: the stored entries of the operators of
        all its levels, the finest included, divided by those of the finest
        (the pinned Laplacian of the possibly augmented graph). Its sum is
        the cost of one composite iteration in sparse matrix-vector
        products.
    phase_times_ : dict of str to float
        Wall-clock seconds of each phase of ``fit``: ``"affinity"`` (input
        validation and the affinity), ``"laplacian"`` (attribute
        augmentation, components, pinned Laplacian), ``"lanczos"`` (the
        Lanczos attempt with the check of the factorisation, 0 when none
        was made), ``"shift-invert"`` (the shift-invert attempt with the
        check and the factorisation, only when one was made),
        ``"bootstrap"`` (all hierarchies, split into ``"hierarchy setup"``
        and ``"test iterations"``), ``"svd"`` (the starting basis),
        ``"ritz"`` (the refinement, with ``embedding="ritz"`` only),
        ``"kmeans"`` (the restarts and their selection) and ``"refine"``
        (the modularity refinement, only when it ran).
    n_features_in_ : int
        Number of features (columns) of ``X``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.cluster.SpectralClustering : Spectral clustering from
        eigenvectors of the normalised Laplacian.
    sklearn_spectral.datasets.make_attributed_sbm : Attributed stochastic
        block models to try it on.

    Notes
    -----
    Every computation is in float64. Each connected component is made
    nonsingular by doubling the diagonal of one vertex, so disconnected
    graphs (a warning says so) and isolated vertices work; the indicators of
    the largest ``n_clusters`` components with two or more vertices join the
    smooth vectors (an extension: the bootstrap itself never returns them).
    The matching weights ``h_ij = 1 - 2 a_ij w_i w_j / (a_ii w_i^2 + a_jj
    w_j^2)`` come from compatible relaxation; each level pairs vertices
    twice, so an aggregate holds at most four of them, and the coarsest
    level is solved by a dense Cholesky factorisation (up to 2,000
    unknowns). Fringe vertices (degree one or two) and the leaves of hubs
    can lose their partners at every sweep; a level that stalls on them
    folds each single-vertex aggregate into its most strongly coupled
    neighbouring aggregate (hub folding). On expander-like graphs (block
    models, kNN graphs in high dimension) two sweeps leave a coarse operator
    with nearly as many non-zeros as the fine one, and the operator
    complexity would grow with every level; there a level keeps pairing, two
    sweeps at a time, until its operator has at most half the non-zeros of
    the fine one (our extension; grids and meshes coarsen as in the papers).
    The cost grows as ``H^2`` in the number of hierarchies, which ``"auto"``
    ties to ``n_clusters``.

    A graph (with its attribute vertices) of at most ``max_coarse``
    vertices is its own coarsest level, factored exactly: the test
    iterations end at zero and leave no smooth vector to find. There the
    embedding is the ``n_clusters`` lowest eigenvectors of the pencil
    ``(L, D)``, solved densely (``n_hierarchies_`` is 1,
    ``convergence_ratio_`` 0). An embedding with fewer directions than
    ``n_clusters`` (isolated vertices, tiny components, or
    ``embedding="svd"`` with fewer than ``n_clusters - 1`` hierarchies)
    gives a warning.

    The papers cluster the orthonormal basis of the smooth vectors, each
    direction weighted equally (``embedding="svd"``). Smooth vectors that
    vary inside clusters dilute that embedding, the more so the more
    hierarchies, and the smooth vectors only approximate the low spectrum of
    the preconditioned operator. The default ``embedding="ritz"`` instead
    takes the ``n_clusters`` lowest Ritz vectors of the normalised-cut
    pencil ``(L, D)`` on their span, enlarged by each smooth vector's test
    iterate halfway through its test iterations (free, and richer in the
    faster-decaying smooth modes, which saves refinement steps), and refines
    them by LOBPCG steps preconditioned by the bootstrap solver, the smooth
    vectors kept in the search space, until the Ritz values settle
    (``ritz_tol``): the eigenvectors normalised spectral clustering uses, at
    ``2 n_clusters`` V-cycles per step (the composite of the two newest
    hierarchies preconditions).

    References
    ----------
    .. [1] P. D'Ambra, P. S. Vassilevski, L. Cutillo. Extending bootstrap AMG
       for clustering of attributed graphs. Applied Mathematics and
       Computation 447 (2023) 127904. arXiv:2109.09367.
    .. [2] P. D'Ambra, L. Cutillo, P. S. Vassilevski. Bootstrap AMG for
       spectral clustering. Computational and Mathematical Methods 1 (2019)
       e1020.
    .. [3] P. D'Ambra, P. S. Vassilevski. Adaptive AMG with coarsening based
       on compatible weighted matching. Computing and Visualization in
       Science 16 (2013) 59-76.

    Examples
    --------
    >>> from sklearn.metrics import adjusted_rand_score
    >>> from sklearn_spectral.cluster import AMGSpectralClustering
    >>> from sklearn_spectral.datasets import make_attributed_sbm
    >>> A, y, attributes = make_attributed_sbm(
    ...     400, 4, mean_degree=20, mixing=0.05, random_state=0)
    >>> model = AMGSpectralClustering(
    ...     n_clusters=4, affinity="precomputed", random_state=0).fit(A)
    >>> float(adjusted_rand_score(y, model.labels_))
    1.0
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "affinity": [
            StrOptions({
                "nearest_neighbors", "rbf", "precomputed",
                "precomputed_nearest_neighbors",
            })
        ],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither")],
        "weighted": ["boolean"],
        "max_hierarchies": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "convergence_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "test_iterations": [Interval(numbers.Integral, 1, None, closed="left")],
        "smoother": [StrOptions({"gauss_seidel", "l1_jacobi"})],
        "matching": [StrOptions({"suitor", "preis"})],
        "max_coarse": [Interval(numbers.Integral, 1, None, closed="left")],
        "embedding": [StrOptions({"ritz", "svd"})],
        "solver": [StrOptions({"auto", "bootstrap"})],
        "ritz_steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "ritz_tol": [Interval(numbers.Real, 0, None, closed="left")],
        "attribute_weight": [Interval(numbers.Real, 0, None, closed="neither")],
        "attribute_block_weight": [
            Interval(numbers.Real, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "kmeans_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "selection": [StrOptions({"modularity", "inertia"})],
        "refine": ["boolean"],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        affinity="nearest_neighbors",
        n_neighbors=10,
        gamma=1.0,
        weighted=True,
        max_hierarchies="auto",
        convergence_ratio=1e-6,
        test_iterations=8,
        smoother="gauss_seidel",
        matching="suitor",
        max_coarse=10,
        embedding="ritz",
        solver="auto",
        ritz_steps=20,
        ritz_tol=1e-4,
        attribute_weight=1.0,
        attribute_block_weight="auto",
        n_init=100,
        kmeans_max_iter=10,
        selection="modularity",
        refine=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.weighted = weighted
        self.max_hierarchies = max_hierarchies
        self.convergence_ratio = convergence_ratio
        self.test_iterations = test_iterations
        self.smoother = smoother
        self.matching = matching
        self.max_coarse = max_coarse
        self.embedding = embedding
        self.solver = solver
        self.ritz_steps = ritz_steps
        self.ritz_tol = ritz_tol
        self.attribute_weight = attribute_weight
        self.attribute_block_weight = attribute_block_weight
        self.n_init = n_init
        self.kmeans_max_iter = kmeans_max_iter
        self.selection = selection
        self.refine = refine
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _log(self, message):
        if self.verbose:
            print(f"[{type(self).__name__}] {message}")

    def _affinity(self, X):
        """The affinity in the one form every later step reads.

        CSR of float64 with int64 indices, sorted rows, summed duplicates
        and no stored zeros (``_canonical_csr``); the diagonal is kept, as
        the modularity counts self-loops.
        """
        name = type(self).__name__
        if self.affinity == "precomputed":
            X = validate_data(
                self, X, accept_sparse=("csr", "csc", "coo"), dtype=np.float64,
                ensure_min_samples=2, ensure_all_finite=True,
            )
            A = check_affinity(
                X, estimator_name=name, symmetric="warn", accept_dense=False
            )
        elif self.affinity == "precomputed_nearest_neighbors":
            X = validate_data(
                self, X, accept_sparse=("csr", "csc", "coo"), dtype=np.float64,
                ensure_min_samples=2,
            )
            A = affinity_from_distances(
                X, n_neighbors=self.n_neighbors, n_jobs=self.n_jobs,
                estimator_name=name,
            )
        else:
            X = validate_data(
                self, X, accept_sparse=("csr", "csc"),
                dtype=(np.float64, np.float32), ensure_min_samples=2,
            )
            A = affinity_from_features(
                X, self.affinity, n_neighbors=self.n_neighbors, gamma=self.gamma,
                n_jobs=self.n_jobs, estimator_name=name,
            )
        return _canonical_csr(A)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, attributes=None):
        """Cluster the vertices of the graph.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, n_samples)
            Feature vectors, the affinity matrix with
            ``affinity="precomputed"``, or the distance graph with
            ``affinity="precomputed_nearest_neighbors"``.
        y : Ignored
            Not used, present for API consistency.
        attributes : array-like of shape (n_samples,) or (n_samples, n_attributes), \
                default=None
            Integer-coded categorical attributes of the vertices, one column
            per attribute; negative codes mean missing.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        name = type(self).__name__
        pre = message_prefix(self)
        timings = {}
        tic = time.perf_counter()
        rng = check_random_state(self.random_state)
        A = self._affinity(X)
        n = A.shape[0]
        K = self.n_clusters
        check_min_samples(n, K, estimator_name=name, reason=f"for n_clusters={K}")
        codes = None
        if attributes is not None:
            codes = check_integer_codes(attributes, n, estimator_name=name)
        self.affinity_matrix_ = A
        timings["affinity"] = time.perf_counter() - tic

        tic = time.perf_counter()
        if not self.weighted and self.attribute_weight != 1.0:
            warnings.warn(
                f"{pre}attribute_weight={self.attribute_weight} has no effect "
                "with weighted=False (edge weights are discarded).",
                UserWarning,
            )
        if codes is not None and codes.shape[1] > 0:
            graph, global_codes, block = _augment(A, codes, self.attribute_weight)
        else:
            graph = A
            global_codes = np.zeros((n, 0), dtype=np.int64)
            block = np.zeros(0, dtype=np.int64)
        n_components, components = connected_components(graph)
        self.n_components_ = n_components
        if n_components > 1:
            warnings.warn(
                f"{pre}the graph is not connected ({n_components} connected "
                "components); each component is regularised separately.",
                UserWarning,
            )
        L, _ = pinned_laplacian(graph, components, weighted=self.weighted)
        timings["laplacian"] = time.perf_counter() - tic

        timings["lanczos"] = 0.0
        self.n_matvecs_ = self.n_solves_ = 0
        eigensolve = self.solver == "auto" and self.embedding == "ritz"
        if L.shape[0] <= self.max_coarse:
            self.solver_ = "exact"
            self._embed_exactly(L, components, K, timings)
        elif eigensolve and (
            found := self._embed_by_eigensolver(L, components, K, rng, timings)
        ):
            self.solver_ = found
        else:
            self.solver_ = "bootstrap"
            self._bootstrap_and_embed(L, components, n_components, K, rng, timings)
        if self.embedding_.shape[1] < K:
            warnings.warn(
                f"{pre}the embedding has {self.embedding_.shape[1]} "
                f"direction(s), fewer than n_clusters={K}; K-means may not "
                "separate all clusters (raise max_hierarchies, or check the "
                "graph for isolated vertices and tiny components).",
                UserWarning,
            )

        tic = time.perf_counter()
        self._cluster(A, global_codes, block, rng)
        timings["kmeans"] = time.perf_counter() - tic
        self.n_refine_rounds_ = 0
        if self.refine and global_codes.shape[1] == 0 and K > 1:
            tic = time.perf_counter()
            work = n * self.embedding_.shape[1] * self.kmeans_max_iter
            self.labels_, self.modularity_, self.n_refine_rounds_ = _refine_labels(
                A, np.ascontiguousarray(self.embedding_), self.labels_, K,
                max_iter=self.kmeans_max_iter,
                n_threads=(_openmp_effective_n_threads()
                           if work > _KMEANS_MIN_WORK else 1),
            )
            timings["refine"] = time.perf_counter() - tic
        self.phase_times_ = timings
        for phase, seconds in timings.items():
            self._log(f"{phase}: {seconds:.3f}s")
        return self

    def _bootstrap_and_embed(self, L, components, n_components, K, rng, timings):
        """Bootstrap the AMG solver, then set the embedding from its vectors."""
        pre = message_prefix(self)
        tic = time.perf_counter()
        H = (
            _auto_hierarchies(K)
            if self.max_hierarchies == "auto"
            else self.max_hierarchies
        )
        W, info = bootstrap(
            L,
            rng,
            max_hierarchies=H,
            convergence_ratio=self.convergence_ratio,
            test_iterations=self.test_iterations,
            smoother=self.smoother,
            matching=self.matching,
            max_coarse=self.max_coarse,
            merge_ratio=_MERGE_RATIO,
            n_threads=_openmp_effective_n_threads(),
            log=self._log if self.verbose else None,
        )
        timings["bootstrap"] = time.perf_counter() - tic
        timings["hierarchy setup"] = info["setup_time"]
        timings["test iterations"] = info["solve_time"]
        if not info["direct"]:
            warnings.warn(
                f"{pre}the coarsest level has more than 2000 unknowns; it is "
                "relaxed by Gauss-Seidel sweeps instead of solved exactly.",
                UserWarning,
            )
        self.n_hierarchies_ = info["n_hierarchies"]
        self.n_iter_ = self.n_hierarchies_
        self.convergence_ratio_ = info["rho"]
        self.n_vcycles_ = info["n_vcycles"]
        self.operator_complexity_ = info["operator_complexity"]
        if self.convergence_ratio_ >= _POOR_RATE:
            warnings.warn(
                f"{pre}the bootstrap solver converges poorly (ratio "
                f"{self.convergence_ratio_:.3g} >= {_POOR_RATE}); the smooth "
                "vectors may be inaccurate.",
                ConvergenceWarning,
            )

        tic = time.perf_counter()
        if n_components > 1:
            W = np.hstack([_component_indicators(components, K), W])
        # Tall, thin (n x H) dense algebra is memory-bound: one BLAS thread
        # does it as fast, and a team spinning beside our OpenMP kernels (or
        # on a loaded machine) makes it several times slower.
        with single_threaded_blas():
            if self.embedding == "ritz":
                # The refinement starts from the span of the smooth vectors
                # and their halfway test iterates, which saves it steps. Its
                # Rayleigh-Ritz works on any basis (Gram matrices, dependent
                # directions dropped), so no orthonormal one is formed.
                U = np.hstack([W, info["midpoints"]])
            else:
                U, _ = _thin_svd_embedding(W)
            timings["svd"] = time.perf_counter() - tic
            self._embed(U, L, components, K, info, timings)

    def _embed_by_eigensolver(self, L, components, K, rng, timings):
        """Try the embedding by Lanczos within its budget.

        Lanczos on the inverse of ``L`` (:func:`_shift_invert_embedding`)
        where :func:`_factor_order` finds a factorisation cheap, otherwise
        on the normalised adjacency (:func:`_lanczos_embedding`). Sets the
        embedding and the solver attributes when ARPACK converges and
        returns the path's name (for ``solver_``); otherwise returns None
        and leaves ``rng`` as it found it, so the bootstrap that follows
        draws what it would have drawn without the attempt.
        """
        tic = time.perf_counter()
        state = rng.get_state()
        v0 = rng.uniform(-1.0, 1.0, L.shape[0])
        pencil = _active_pencil(L, _active_vertices(components, K), components)
        V = None
        phase, what = "lanczos", "no active vertex"
        if pencil is not None:
            idx = pencil.idx
            M = L.tocsr() if idx.shape[0] == L.shape[0] else L[idx][:, idx].tocsr()
            order, reason, fill = _factor_order(
                M, max_width=_SHIFT_INVERT_MAX_WIDTH * np.sqrt(M.nnz),
                max_fill=_SHIFT_INVERT_MAX_FILL * M.nnz,
                max_flops=_SHIFT_INVERT_MAX_FLOPS * M.nnz,
            )
            n = L.shape[0]
            # ARPACK's tall, thin updates are memory-bound; a BLAS team only
            # spins beside them.
            with single_threaded_blas():
                if order is not None:
                    V, theta, self.n_solves_ = _shift_invert_embedding(
                        M, order, pencil, n, K, v0,
                        max_solves=_SHIFT_INVERT_MAX_SOLVES, tol=_LANCZOS_TOL,
                    )
                    phase = "shift-invert"
                    what = (f"factor {fill} entries ({fill / M.nnz:.1f} x nnz), "
                            f"{self.n_solves_} solves")
                else:
                    V, theta, self.n_matvecs_ = _lanczos_embedding(
                        M, pencil, n, K, v0,
                        max_matvecs=_LANCZOS_MAX_MATVECS, tol=_LANCZOS_TOL,
                    )
                    what = f"{self.n_matvecs_} products (not factored: {reason})"
        timings[phase] = time.perf_counter() - tic
        self._log(f"{phase}: {what}, "
                  f"{'converged' if V is not None else 'not converged'}")
        if V is None:
            rng.set_state(state)
            return None
        self._set_eigenvector_embedding(V, theta)
        return phase.replace("-", "_")

    def _set_eigenvector_embedding(self, V, theta):
        """Set the embedding to eigenvectors found without a hierarchy."""
        self.n_hierarchies_ = self.n_iter_ = 0
        self.convergence_ratio_ = np.nan  # no hierarchy was built
        self.n_vcycles_ = 0
        self.operator_complexity_ = np.zeros(0)
        self.n_ritz_steps_ = 0
        self.ritz_values_ = theta
        n = self.affinity_matrix_.shape[0]
        self.embedding_ = V[:n]
        self.attribute_embedding_ = V[n:]

    def _embed_exactly(self, L, components, K, timings):
        """The embedding of a graph the hierarchy solves in one exact level.

        With at most ``max_coarse`` vertices the hierarchy is its fine level,
        factored exactly: the test iterations on ``L x = 0`` end at zero (or
        round-off), so the bootstrap finds no smooth vector. The embedding
        is then the ``K`` lowest eigenvectors of the pencil ``(L, D)``,
        solved densely; with ``embedding="svd"`` their orthonormal basis.
        """
        for phase in ("bootstrap", "hierarchy setup", "test iterations"):
            timings[phase] = 0.0
        self.n_hierarchies_ = self.n_iter_ = 1
        self.convergence_ratio_ = 0.0  # an exact solver leaves no error
        self.n_vcycles_ = 0
        self.operator_complexity_ = np.ones(1)
        self.n_ritz_steps_ = 0
        tic = time.perf_counter()
        # A BLAS thread team costs more to wake than these tiny products.
        with single_threaded_blas():
            if self.embedding == "ritz":
                active = _active_vertices(components, K)
                U, self.ritz_values_ = _exact_embedding(L, K, active)
            else:
                V, _ = _exact_embedding(L, K, np.ones(L.shape[0], dtype=bool))
                U, _ = _thin_svd_embedding(V)
                self.ritz_values_ = np.zeros(0)
        timings["svd"] = time.perf_counter() - tic
        n = self.affinity_matrix_.shape[0]
        self.embedding_ = U[:n]
        self.attribute_embedding_ = U[n:]

    def _embed(self, U, L, components, K, info, timings):
        """Set ``embedding_`` and ``attribute_embedding_`` from the basis ``U``."""
        n = self.affinity_matrix_.shape[0]
        if self.embedding == "ritz":
            tic = time.perf_counter()
            active = _active_vertices(components, K)
            U, self.ritz_values_, n_vcycles, self.n_ritz_steps_ = _ritz_embedding(
                U, L, K, active=active,
                hierarchies=info["hierarchies"], steps=self.ritz_steps,
                tol=self.ritz_tol, smoother=self.smoother,
                n_threads=_openmp_effective_n_threads(),
            )
            self.n_vcycles_ += n_vcycles
            timings["ritz"] = time.perf_counter() - tic
        else:
            self.ritz_values_ = np.zeros(0)
            self.n_ritz_steps_ = 0
        self.embedding_ = U[:n]
        self.attribute_embedding_ = U[n:]

    def _cluster(self, A, global_codes, block, rng):
        n = A.shape[0]
        K = self.n_clusters
        seeds = np.empty((self.n_init, K), dtype=np.int64)
        for r in range(self.n_init):
            seeds[r] = rng.choice(n, K, replace=False)
        X = np.ascontiguousarray(self.embedding_)
        m = global_codes.shape[1]
        gamma = self.attribute_block_weight
        if gamma == "auto":
            gamma = 0.5 / np.sqrt(m) if m else 1.0
        Uattr = np.ascontiguousarray(gamma * self.attribute_embedding_)
        d = X.shape[1]
        fallback = np.zeros((m, d))
        for col in range(m):
            present = global_codes[:, col] >= 0
            if present.any():
                fallback[col] = Uattr[global_codes[present, col]].mean(axis=0)
        indptr, indices, data = A.indptr, A.indices, A.data
        # Small problems run on one thread: waking a team costs more.
        work = self.n_init * n * K * (d + m) * self.kmeans_max_iter
        n_threads = _openmp_effective_n_threads() if work > _KMEANS_MIN_WORK else 1
        args = (X, Uattr, global_codes, block, fallback)
        graph = (indptr, indices, data)
        # The refinement ends at about the same modularity from any good
        # restart, so with it the restarts stop early at every size.
        refined = self.refine and m == 0 and K > 1
        patience = _REFINE_PATIENCE if refined else _RESTART_PATIENCE
        if not refined and work / self.n_init < _EARLY_STOP_MIN_WORK:
            inertia, q, _ = _kmeans_restarts(
                *args, seeds, *graph, self.kmeans_max_iter, n_threads
            )
            n_kept = self.n_init
        else:
            # Batches of restarts until the scores in seed order stall; the
            # kept count is the same whatever the batch size or threads.
            batch = max(10, 2 * n_threads)
            inertia, q = np.zeros(0), np.zeros(0)
            n_kept = 0
            while q.shape[0] < self.n_init:
                stop = min(q.shape[0] + batch, self.n_init)
                i_b, q_b, _ = _kmeans_restarts(
                    *args, seeds[q.shape[0] : stop], *graph,
                    self.kmeans_max_iter, n_threads,
                )
                inertia, q = np.concatenate([inertia, i_b]), np.concatenate([q, q_b])
                score = q if self.selection == "modularity" else -inertia
                n_kept = _early_stop(score, patience)
                if n_kept < q.shape[0]:
                    break
            inertia, q = inertia[:n_kept], q[:n_kept]
        self.n_restarts_ = n_kept
        if self.selection == "modularity":
            best = int(np.argmax(q))
        else:
            best = int(np.argmin(inertia))
        labels, inertia_best, q_best, _ = _kmeans_single(
            X, Uattr, global_codes, block, fallback, seeds[best], indptr, indices,
            data, self.kmeans_max_iter,
        )
        self.labels_ = labels
        self.inertia_ = float(inertia_best)
        self.modularity_ = float(q_best)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        precomputed = self.affinity in ("precomputed", "precomputed_nearest_neighbors")
        tags.input_tags.pairwise = precomputed
        tags.input_tags.positive_only = precomputed
        tags.input_tags.sparse = True
        return tags
