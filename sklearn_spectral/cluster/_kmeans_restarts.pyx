"""K-means with many short restarts, for AMGSpectralClustering.

Each restart is a Lloyd run from ``K`` given seed vertices (at most
``max_iter`` iterations, stopping when no label changes), on points
``x_i = [X_i, U_{a_1(i)}, ..., U_{a_m(i)}]``: the embedding row of vertex
``i`` followed by the rows of its attribute vertices. The attribute blocks
are never materialised: every iteration tabulates ``||U_v - c_l||^2`` per
(attribute vertex ``v``, cluster) and builds each centroid block from
(attribute vertex x cluster) counts; a missing value (code -1) drops its
block from the point's distance and from the block means. Empty clusters
are reseeded at the point farthest from its centroid (lowest index among
ties). Assignment ties go to the lowest cluster.

Without attributes (``m = 0``) the iterations after the first skip the
distances that Elkan's bounds rule out: per point an upper bound on the
distance to its centroid and a lower bound on the distance to every
centroid, moved by the centroid shifts, and half the distance between
centroids. A lower bound is stored plus the centroid's total shift when it
was set, so a point that its upper bound and the nearest other centroid
already settle reads none of them. A distance is skipped only when the
bounds, less a margin that covers their rounding, show it strictly larger
than the point's own, so the labels, inertia and reseeding are those of
the plain iteration, bit for bit. The lower bounds take ``n * K`` doubles
per thread, used while all threads' together number at most
``_MAX_BOUNDS``.

Every restart also scores its labelling by the modularity
``sum_c [in_c / W - (vol_c / W)^2]`` of the graph given in CSR.

``_kmeans_restarts`` runs all restarts in a ``prange`` (dynamic schedule,
workspace per thread) and returns the scores only; ``_kmeans_single``
re-runs one restart serially and returns its labels. Each restart is
sequential and reads only its own seeds, so the scores do not depend on
the number of threads.
"""

from cython.parallel cimport parallel, prange
from libc.float cimport DBL_EPSILON
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

import numpy as np

from ..utils._graph_kernels cimport _modularity_of_labels
from ._kmeans_common cimport _sqdist

# Most lower bounds (points x clusters x threads) held at once: 256 MiB.
cdef Py_ssize_t _MAX_BOUNDS = 1 << 25
# Rounding margin of the bounds, per coordinate and iteration, relative to
# the largest row norm: far above the error of a distance and its updates.
cdef double _MARGIN = 1024.0 * DBL_EPSILON


cdef struct _Work:
    long long* labels
    double* mindist
    double* c0
    double* ct
    double* dist
    double* ca
    double* table
    long long* count
    double* count_v
    double* holders
    # Elkan's bounds (NULL without them): lower (n, K), each plus moved[c]
    # when set, upper (n), the centroid shifts of the last update and in all
    # (K), half the centroid distances (K, K) and their smallest off the
    # diagonal (K), the previous centroids (K, d).
    double* lower
    double* upper
    double* shift
    double* moved
    double* half
    double* nearest
    double* c_old


cdef bint _use_bounds(Py_ssize_t n, Py_ssize_t m, Py_ssize_t K,
                      int n_threads) noexcept nogil:
    return m == 0 and K > 1 and n * K * max(n_threads, 1) <= _MAX_BOUNDS


cdef int _alloc(_Work* w, Py_ssize_t n, Py_ssize_t d, Py_ssize_t m,
                Py_ssize_t n_attr, Py_ssize_t K, int n_threads) noexcept nogil:
    w.lower = w.upper = w.shift = w.moved = w.half = w.nearest = w.c_old = NULL
    w.labels = <long long*> malloc((n + 1) * sizeof(long long))
    w.mindist = <double*> malloc((n + 1) * sizeof(double))
    w.c0 = <double*> malloc((K * d + 1) * sizeof(double))
    w.ct = <double*> malloc((K * d + 1) * sizeof(double))
    w.dist = <double*> malloc((K + 1) * sizeof(double))
    w.ca = <double*> malloc((m * K * d + 1) * sizeof(double))
    w.table = <double*> malloc((n_attr * K + 1) * sizeof(double))
    w.count = <long long*> malloc((K + 1) * sizeof(long long))
    w.count_v = <double*> malloc((n_attr * K + 1) * sizeof(double))
    w.holders = <double*> malloc((m * K + 1) * sizeof(double))
    if (w.labels == NULL or w.mindist == NULL or w.c0 == NULL or w.ct == NULL
            or w.dist == NULL or w.ca == NULL
            or w.table == NULL or w.count == NULL or w.count_v == NULL
            or w.holders == NULL):
        return -1
    if not _use_bounds(n, m, K, n_threads):
        return 0
    w.lower = <double*> malloc((n * K + 1) * sizeof(double))
    w.upper = <double*> malloc((n + 1) * sizeof(double))
    w.shift = <double*> malloc((K + 1) * sizeof(double))
    w.moved = <double*> malloc((K + 1) * sizeof(double))
    w.half = <double*> malloc((K * K + 1) * sizeof(double))
    w.nearest = <double*> malloc((K + 1) * sizeof(double))
    w.c_old = <double*> malloc((K * d + 1) * sizeof(double))
    if (w.lower == NULL or w.upper == NULL or w.shift == NULL or w.moved == NULL
            or w.half == NULL or w.nearest == NULL or w.c_old == NULL):
        return -1
    return 0


cdef void _release(_Work* w) noexcept nogil:
    free(w.labels)
    free(w.mindist)
    free(w.c0)
    free(w.ct)
    free(w.dist)
    free(w.ca)
    free(w.table)
    free(w.count)
    free(w.count_v)
    free(w.holders)
    free(w.lower)
    free(w.upper)
    free(w.shift)
    free(w.moved)
    free(w.half)
    free(w.nearest)
    free(w.c_old)


cdef void _update_centroids(const double* X, const double* U, const long long* codes,
                            const long long* block, Py_ssize_t n, Py_ssize_t d,
                            Py_ssize_t m, Py_ssize_t n_attr, Py_ssize_t K,
                            _Work* w) noexcept nogil:
    cdef Py_ssize_t i, c, k, l, v
    cdef long long code
    cdef double cnt
    memset(w.count, 0, K * sizeof(long long))
    memset(w.c0, 0, K * d * sizeof(double))
    for i in range(n):
        c = w.labels[i]
        w.count[c] += 1
        for k in range(d):
            w.c0[c * d + k] += X[i * d + k]
    for c in range(K):
        if w.count[c] > 0:
            for k in range(d):
                w.c0[c * d + k] /= w.count[c]
    if m == 0:
        return
    memset(w.count_v, 0, n_attr * K * sizeof(double))
    memset(w.holders, 0, m * K * sizeof(double))
    for i in range(n):
        c = w.labels[i]
        for l in range(m):
            code = codes[i * m + l]
            if code >= 0:
                w.count_v[code * K + c] += 1.0
    # Blocks with holders in the cluster are recomputed; others keep their value.
    for v in range(n_attr):
        l = block[v]
        for c in range(K):
            if w.count_v[v * K + c] > 0.0:
                if w.holders[l * K + c] == 0.0:
                    for k in range(d):
                        w.ca[(l * K + c) * d + k] = 0.0
                cnt = w.count_v[v * K + c]
                w.holders[l * K + c] += cnt
                for k in range(d):
                    w.ca[(l * K + c) * d + k] += cnt * U[v * d + k]
    for l in range(m):
        for c in range(K):
            cnt = w.holders[l * K + c]
            if cnt > 0.0:
                for k in range(d):
                    w.ca[(l * K + c) * d + k] /= cnt


cdef double _assign(const double* X, const double* U, const long long* codes,
                    const long long* block, Py_ssize_t n, Py_ssize_t d,
                    Py_ssize_t m, Py_ssize_t n_attr, Py_ssize_t K, _Work* w,
                    long long* n_changed) noexcept nogil:
    """Assign every point to its nearest centroid; returns the inertia."""
    cdef Py_ssize_t i, c, k, l, v
    cdef long long code, best
    cdef double dist, diff, xk, best_dist, inertia = 0.0
    cdef double* dists = w.dist
    cdef const double* ct = w.ct
    cdef const double* row
    for v in range(n_attr):
        l = block[v]
        for c in range(K):
            dist = 0.0
            for k in range(d):
                diff = U[v * d + k] - w.ca[(l * K + c) * d + k]
                dist += diff * diff
            w.table[v * K + c] = dist
    # Centroids coordinate-major: the loop over clusters, innermost, keeps
    # K independent sums (vectorised), each summed over the coordinates in
    # order, as a loop over coordinates per cluster would.
    for c in range(K):
        for k in range(d):
            w.ct[k * K + c] = w.c0[c * d + k]
    n_changed[0] = 0
    for i in range(n):
        for c in range(K):
            dists[c] = 0.0
        for k in range(d):
            xk = X[i * d + k]
            row = ct + k * K
            for c in range(K):
                diff = xk - row[c]
                dists[c] += diff * diff
        for l in range(m):
            code = codes[i * m + l]
            if code >= 0:
                for c in range(K):
                    dists[c] += w.table[code * K + c]
        best = 0
        best_dist = dists[0]
        for c in range(1, K):
            if dists[c] < best_dist:
                best = c
                best_dist = dists[c]
        if w.labels[i] != best:
            n_changed[0] += 1
            w.labels[i] = best
        w.mindist[i] = best_dist
        inertia += best_dist
        if w.lower != NULL:
            for c in range(K):
                w.lower[i * K + c] = sqrt(dists[c]) + w.moved[c]
            w.upper[i] = sqrt(best_dist)
    return inertia


cdef void _assign_bounded(const double* X, Py_ssize_t n, Py_ssize_t d,
                          Py_ssize_t K, _Work* w, double margin,
                          long long* n_changed) noexcept nogil:
    """``_assign`` without attributes, skipping the distances the bounds
    rule out (after ``_move_bounds``); the labels are ``_assign``'s.

    ``mindist`` is set where the point's own distance was computed and -1
    elsewhere (``_exact_mindist`` completes it).
    """
    cdef Py_ssize_t i, c
    cdef long long a, best
    cdef double u, d2, best_d2
    cdef double* lo
    cdef const double* x
    cdef const double* moved = w.moved
    n_changed[0] = 0
    for i in range(n):
        a = w.labels[i]
        x = X + i * d
        lo = w.lower + i * K
        u = w.upper[i] + w.shift[a]
        w.mindist[i] = -1.0
        if u + margin < w.nearest[a]:
            w.upper[i] = u
            continue
        best = a
        best_d2 = -1.0  # not computed yet
        for c in range(K):
            if c == a or c == best:
                continue
            if (lo[c] - moved[c] > u + margin
                    or w.half[best * K + c] > u + margin):
                continue
            if best_d2 < 0.0:
                best_d2 = _sqdist(x, w.c0 + a * d, d)
                u = sqrt(best_d2)
                lo[a] = u + moved[a]
                if (lo[c] - moved[c] > u + margin
                        or w.half[a * K + c] > u + margin):
                    continue
            d2 = _sqdist(x, w.c0 + c * d, d)
            lo[c] = sqrt(d2) + moved[c]
            if d2 < best_d2 or (d2 == best_d2 and c < best):
                best = c
                best_d2 = d2
                u = sqrt(d2)
        if best != a:
            n_changed[0] += 1
            w.labels[i] = best
        w.upper[i] = u
        if best_d2 >= 0.0:
            w.mindist[i] = best_d2


cdef double _exact_mindist(const double* X, Py_ssize_t n, Py_ssize_t d,
                           _Work* w) noexcept nogil:
    """Fill ``mindist`` where ``_assign_bounded`` left it; returns the
    inertia, summed in point order as ``_assign`` sums it."""
    cdef Py_ssize_t i
    cdef double inertia = 0.0
    for i in range(n):
        if w.mindist[i] < 0.0:
            w.mindist[i] = _sqdist(X + i * d, w.c0 + w.labels[i] * d, d)
        inertia += w.mindist[i]
    return inertia


cdef void _move_bounds(Py_ssize_t d, Py_ssize_t K, _Work* w) noexcept nogil:
    """Centroid shifts since ``c_old`` and half the centroid distances."""
    cdef Py_ssize_t a, c
    cdef double h
    for c in range(K):
        w.shift[c] = sqrt(_sqdist(w.c0 + c * d, w.c_old + c * d, d))
        w.moved[c] += w.shift[c]
        w.nearest[c] = INFINITY
    for a in range(K):
        w.half[a * K + a] = 0.0
        for c in range(a + 1, K):
            h = 0.5 * sqrt(_sqdist(w.c0 + a * d, w.c0 + c * d, d))
            w.half[a * K + c] = h
            w.half[c * K + a] = h
            w.nearest[a] = min(w.nearest[a], h)
            w.nearest[c] = min(w.nearest[c], h)


cdef bint _has_empty(Py_ssize_t n, Py_ssize_t K, _Work* w) noexcept nogil:
    cdef Py_ssize_t i, c
    memset(w.count, 0, K * sizeof(long long))
    for i in range(n):
        w.count[w.labels[i]] += 1
    for c in range(K):
        if w.count[c] == 0:
            return True
    return False


cdef void _reseed_empty(Py_ssize_t n, Py_ssize_t K, _Work* w) noexcept nogil:
    cdef Py_ssize_t i, c, far
    cdef double far_dist
    memset(w.count, 0, K * sizeof(long long))
    for i in range(n):
        w.count[w.labels[i]] += 1
    for c in range(K):
        if w.count[c] > 0:
            continue
        far = -1
        far_dist = -1.0
        for i in range(n):
            if w.count[w.labels[i]] > 1 and w.mindist[i] > far_dist:
                far = i
                far_dist = w.mindist[i]
        if far == -1:
            continue
        w.count[w.labels[far]] -= 1
        w.labels[far] = c
        w.count[c] = 1
        w.mindist[far] = 0.0
        if w.upper != NULL:
            w.upper[far] = INFINITY  # its new centroid is not known yet


cdef double _margin(const double* X, Py_ssize_t n, Py_ssize_t d) noexcept nogil:
    """Rounding margin of the bounds per iteration: ``_MARGIN`` times
    ``d + 4`` times the largest row norm (every centroid lies in the hull
    of the rows, so every distance and shift is at most twice that)."""
    cdef Py_ssize_t i, k
    cdef double r = 0.0, s
    for i in range(n):
        s = 0.0
        for k in range(d):
            s += X[i * d + k] * X[i * d + k]
        r = max(r, s)
    return _MARGIN * (d + 4) * sqrt(r)


cdef void _lloyd(const double* X, const double* U, const long long* codes,
                 const long long* block, const double* fallback,
                 const long long* seeds, const long long* indptr,
                 const long long* indices, const double* data, Py_ssize_t n,
                 Py_ssize_t d, Py_ssize_t m, Py_ssize_t n_attr, Py_ssize_t K,
                 int max_iter, double margin, _Work* w, double* inertia,
                 double* q, long long* n_iter) noexcept nogil:
    cdef Py_ssize_t c, k, l, it
    cdef long long s, code, n_changed = 0
    for c in range(K):
        s = seeds[c]
        for k in range(d):
            w.c0[c * d + k] = X[s * d + k]
        for l in range(m):
            code = codes[s * m + l]
            for k in range(d):
                if code >= 0:
                    w.ca[(l * K + c) * d + k] = U[code * d + k]
                else:
                    w.ca[(l * K + c) * d + k] = fallback[l * d + k]
    for c in range(n):
        w.labels[c] = -1
    if w.moved != NULL:
        memset(w.moved, 0, K * sizeof(double))
    inertia[0] = 0.0
    n_iter[0] = 0
    for it in range(max(max_iter, 1)):
        if w.lower != NULL and it > 0:
            _assign_bounded(X, n, d, K, w, margin * (it + 1), &n_changed)
            if n_changed == 0 or it + 1 >= max_iter or _has_empty(n, K, w):
                inertia[0] = _exact_mindist(X, n, d, w)
        else:
            inertia[0] = _assign(X, U, codes, block, n, d, m, n_attr, K, w,
                                 &n_changed)
        _reseed_empty(n, K, w)
        n_iter[0] = it + 1
        if n_changed == 0:
            break
        if it + 1 < max_iter:
            if w.lower != NULL:
                memcpy(w.c_old, w.c0, K * d * sizeof(double))
            _update_centroids(X, U, codes, block, n, d, m, n_attr, K, w)
            if w.lower != NULL:
                _move_bounds(d, K, w)
    q[0] = 0.0


def _kmeans_restarts(const double[:, ::1] X, const double[:, ::1] U,
                     const long long[:, ::1] codes, const long long[::1] block,
                     const double[:, ::1] fallback, const long long[:, ::1] seeds,
                     const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] data, int max_iter, int n_threads):
    """Scores of all restarts.

    Parameters
    ----------
    X : (n, d) embedding rows; U : (n_attr, d) attribute-vertex rows;
    codes : (n, m) attribute-vertex index per attribute, -1 if missing;
    block : (n_attr,) attribute of each attribute vertex;
    fallback : (m, d) initial block for a seed with a missing value;
    seeds : (n_init, K) distinct seed vertices per restart;
    indptr, indices, data : the graph (CSR) scored by modularity.

    Returns
    -------
    inertia, modularity : ndarrays of shape (n_init,)
    n_iter : ndarray of shape (n_init,), int64
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = codes.shape[1]
    cdef Py_ssize_t n_attr = U.shape[0], n_init = seeds.shape[0], K = seeds.shape[1]
    cdef double[::1] inertia = np.zeros(n_init)
    cdef double[::1] q = np.zeros(n_init)
    cdef long long[::1] n_iter = np.zeros(n_init, dtype=np.int64)
    cdef int[::1] failed = np.zeros(max(n_threads, 1), dtype=np.int32)
    cdef Py_ssize_t r
    cdef double margin
    cdef _Work* wp
    cdef double* in_c
    cdef double* vol_c
    cdef const double* Up = &U[0, 0] if n_attr > 0 else NULL
    cdef const long long* cp = &codes[0, 0] if m > 0 else NULL
    cdef const long long* bp = &block[0] if n_attr > 0 else NULL
    cdef const double* fp = &fallback[0, 0] if m > 0 else NULL
    cdef const long long* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const double* dp = &data[0] if data.shape[0] > 0 else NULL
    if n_init == 0:
        return np.asarray(inertia), np.asarray(q), np.asarray(n_iter)
    margin = _margin(&X[0, 0], n, d)
    with nogil, parallel(num_threads=max(n_threads, 1)):
        # Assigned inside the parallel block: one workspace per thread.
        wp = <_Work*> calloc(1, sizeof(_Work))
        in_c = <double*> malloc((K + 1) * sizeof(double))
        vol_c = <double*> malloc((K + 1) * sizeof(double))
        if wp == NULL or in_c == NULL or vol_c == NULL:
            failed[0] = 1
        elif _alloc(wp, n, d, m, n_attr, K, n_threads) != 0:
            failed[0] = 1
        for r in prange(n_init, schedule="dynamic"):
            if failed[0] == 0:
                _lloyd(&X[0, 0], Up, cp, bp, fp, &seeds[r, 0], &indptr[0], ip, dp,
                       n, d, m, n_attr, K, max_iter, margin, wp, &inertia[r],
                       &q[r], &n_iter[r])
                q[r] = _modularity_of_labels(
                    &indptr[0], ip, dp, n, K, wp.labels, 1.0, in_c, vol_c
                )
        free(in_c)
        free(vol_c)
        if wp != NULL:
            _release(wp)
            free(wp)
    if failed[0]:
        raise MemoryError()
    return np.asarray(inertia), np.asarray(q), np.asarray(n_iter)


def _kmeans_single(const double[:, ::1] X, const double[:, ::1] U,
                   const long long[:, ::1] codes, const long long[::1] block,
                   const double[:, ::1] fallback, const long long[::1] seeds,
                   const long long[::1] indptr, const long long[::1] indices,
                   const double[::1] data, int max_iter):
    """One restart, serially: labels, inertia, modularity, n_iter."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], m = codes.shape[1]
    cdef Py_ssize_t n_attr = U.shape[0], K = seeds.shape[0]
    cdef _Work w
    cdef double inertia = 0.0, q = 0.0
    cdef long long n_iter = 0
    cdef long long[::1] labels = np.empty(n, dtype=np.int64)
    cdef double[::1] in_c = np.zeros(K + 1)
    cdef double[::1] vol_c = np.zeros(K + 1)
    cdef Py_ssize_t i
    cdef const double* Up = &U[0, 0] if n_attr > 0 else NULL
    cdef const long long* cp = &codes[0, 0] if m > 0 else NULL
    cdef const long long* bp = &block[0] if n_attr > 0 else NULL
    cdef const double* fp = &fallback[0, 0] if m > 0 else NULL
    cdef const long long* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const double* dp = &data[0] if data.shape[0] > 0 else NULL
    if _alloc(&w, n, d, m, n_attr, K, 1) != 0:
        _release(&w)
        raise MemoryError()
    try:
        with nogil:
            _lloyd(&X[0, 0], Up, cp, bp, fp, &seeds[0], &indptr[0], ip, dp, n, d, m,
                   n_attr, K, max_iter, _margin(&X[0, 0], n, d), &w, &inertia, &q,
                   &n_iter)
            q = _modularity_of_labels(
                &indptr[0], ip, dp, n, K, w.labels, 1.0, &in_c[0], &vol_c[0]
            )
            for i in range(n):
                labels[i] = w.labels[i]
    finally:
        _release(&w)
    return np.asarray(labels), inertia, q, int(n_iter)
