"""Modularity refinement of a labelling with K clusters, for AMGSpectralClustering.

Three steps, each O(nnz) or O(n d) apart from the merge's O(K^3) on the
cluster graph:

* ``_modularity_moves``: sweeps of single-vertex moves. A sweep visits the
  vertices in index order and moves each one to the neighbouring cluster
  that raises the modularity ``sum_c [in_c / W - (vol_c / W)^2]`` the most,
  if any does (Louvain's local moving phase with the number of clusters
  fixed: no cluster is emptied). Moving vertex ``v`` of degree ``d`` from
  cluster ``a`` to ``b`` changes the modularity by ``2 / W [k_b - k_a - d
  (vol_b - vol_a + d) / W]``, ``k_c`` the weight of ``v``'s edges into
  ``c`` other than its self-loop. A move is made only when that gain
  exceeds ``_GAIN_RTOL * d`` (far above its rounding), so every move raises
  the modularity and the sweeps end; the volumes are recomputed before each
  sweep.
* ``_split_clusters``: every cluster cut in two by 2-means on its rows of
  the embedding, from the cut through its mean across its principal
  direction (power iterations on its covariance: deterministic, and not
  drawn to outlying rows as a farthest-point start is); the clusters spread
  over the threads.
* ``_merge_clusters``: the pieces merged back to ``K`` clusters, greedily,
  each time the pair whose merge raises the modularity the most (or lowers
  it the least), ``2 (e_ab / W - vol_a vol_b / W^2)``, on the dense graph of
  the pieces (Clauset, Newman and Moore's agglomeration, from the pieces
  instead of single vertices).
"""

from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

from ..utils._graph_kernels cimport _modularity_of_labels
from ._kmeans_common cimport _sqdist

# Smallest gain of a move, relative to the moved vertex's degree.
cdef double _GAIN_RTOL = 1e-10


cdef Py_ssize_t _sweep(const long long* indptr, const long long* indices,
                       const double* data, Py_ssize_t n, Py_ssize_t K,
                       long long* labels, double* vol, long long* size,
                       double* k_c, long long* seen,
                       long long* touched) noexcept nogil:
    """One sweep of moves in vertex order; returns the number of moves."""
    cdef Py_ssize_t i, e, j, c, a, best, n_touched, n_moves = 0
    cdef double total = 0.0, d, gain, best_gain, k_a
    memset(vol, 0, K * sizeof(double))
    memset(size, 0, K * sizeof(long long))
    for i in range(n):
        d = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            d += data[e]
        vol[labels[i]] += d
        size[labels[i]] += 1
        total += d
    if total <= 0.0:
        return 0
    for c in range(K):
        k_c[c] = 0.0
        seen[c] = -1
    for i in range(n):
        a = labels[i]
        if size[a] <= 1:
            continue
        d = 0.0
        n_touched = 0
        for e in range(indptr[i], indptr[i + 1]):
            d += data[e]
            j = indices[e]
            if j == i:
                continue
            c = labels[j]
            if seen[c] != i:
                seen[c] = i
                touched[n_touched] = c
                n_touched += 1
            k_c[c] += data[e]
        k_a = k_c[a]
        best = a
        best_gain = _GAIN_RTOL * d
        for e in range(n_touched):
            c = touched[e]
            if c == a:
                continue
            gain = k_c[c] - k_a - d * (vol[c] - vol[a] + d) / total
            if gain > best_gain or (gain == best_gain and best != a and c < best):
                best = c
                best_gain = gain
        for e in range(n_touched):
            k_c[touched[e]] = 0.0
        if best != a:
            labels[i] = best
            vol[a] -= d
            vol[best] += d
            size[a] -= 1
            size[best] += 1
            n_moves += 1
    return n_moves


def _modularity(const long long[::1] indptr, const long long[::1] indices,
                const double[::1] data, const long long[::1] labels,
                Py_ssize_t n_clusters):
    """Modularity of ``labels`` (values in [0, n_clusters)), as the
    K-means restarts score it."""
    cdef double[::1] in_c = np.zeros(n_clusters + 1)
    cdef double[::1] vol_c = np.zeros(n_clusters + 1)
    cdef const long long* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const double* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef double q
    with nogil:
        q = _modularity_of_labels(&indptr[0], ip, dp, labels.shape[0], n_clusters,
                                  &labels[0], 1.0, &in_c[0], &vol_c[0])
    return q


def _modularity_moves(const long long[::1] indptr, const long long[::1] indices,
                      const double[::1] data, long long[::1] labels,
                      Py_ssize_t n_clusters, int max_sweeps):
    """Sweeps of single-vertex moves on ``labels`` (changed in place).

    Parameters
    ----------
    indptr, indices, data : the graph in CSR, symmetric, non-negative
        weights, int64 indices.
    labels : (n,) int64 in [0, n_clusters), changed in place.
    n_clusters : int
    max_sweeps : int, the most sweeps; they stop earlier at the first sweep
        without a move.

    Returns
    -------
    n_moves : int, the moves made in all
    n_sweeps : int, the sweeps run (the last one without a move, unless
        ``max_sweeps`` was reached)
    """
    cdef Py_ssize_t n = labels.shape[0], K = n_clusters
    cdef Py_ssize_t moved, n_moves = 0
    cdef int n_sweeps = 0
    cdef const long long* ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const double* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef double* vol
    cdef double* k_c
    cdef long long* size
    cdef long long* seen
    cdef long long* touched
    if n == 0 or K < 2:
        return 0, 0
    vol = <double*> malloc(K * sizeof(double))
    k_c = <double*> malloc(K * sizeof(double))
    size = <long long*> malloc(K * sizeof(long long))
    seen = <long long*> malloc(K * sizeof(long long))
    touched = <long long*> malloc(K * sizeof(long long))
    if (vol == NULL or k_c == NULL or size == NULL or seen == NULL
            or touched == NULL):
        free(vol)
        free(k_c)
        free(size)
        free(seen)
        free(touched)
        raise MemoryError()
    with nogil:
        while n_sweeps < max_sweeps:
            moved = _sweep(&indptr[0], ip, dp, n, K, &labels[0], vol, size,
                           k_c, seen, touched)
            n_sweeps += 1
            n_moves += moved
            if moved == 0:
                break
    free(vol)
    free(k_c)
    free(size)
    free(seen)
    free(touched)
    return int(n_moves), n_sweeps


# Power iterations for a cluster's principal direction.
cdef int _POWER_ITERATIONS = 30


cdef void _bisect(const double* X, const long long* rows, Py_ssize_t m,
                  Py_ssize_t d, int max_iter, long long label,
                  long long new_label, long long* out,
                  double* work) noexcept nogil:
    """2-means on the rows ``rows``; the rows of the second centroid get
    ``new_label`` in ``out``. It starts from the cut through the mean across
    the principal direction (``work``: ``d^2 + 4 d`` doubles).
    """
    cdef Py_ssize_t t, k, l, it, n1
    cdef double* cov = work
    cdef double* c0 = work + d * d
    cdef double* c1 = c0 + d
    cdef double* mean = c1 + d
    cdef double* v = mean + d
    cdef const double* x
    cdef double s, norm
    cdef bint changed
    cdef long long lab
    memset(mean, 0, d * sizeof(double))
    memset(cov, 0, d * d * sizeof(double))
    for t in range(m):
        x = X + rows[t] * d
        for k in range(d):
            mean[k] += x[k]
    for k in range(d):
        mean[k] /= m
    for t in range(m):
        x = X + rows[t] * d
        for k in range(d):
            s = x[k] - mean[k]
            for l in range(k + 1):
                cov[k * d + l] += s * (x[l] - mean[l])
    for k in range(d):
        for l in range(k + 1, d):
            cov[k * d + l] = cov[l * d + k]
    # Power iterations from the diagonal: a fixed start. Were it orthogonal
    # to the principal direction (contrived covariances), the cut would
    # follow another direction of the cluster, still a 2-means start; the
    # round that uses it is kept only if it raises the modularity.
    for k in range(d):
        v[k] = cov[k * d + k]
    for _ in range(_POWER_ITERATIONS):
        norm = 0.0
        for k in range(d):
            norm += v[k] * v[k]
        if norm == 0.0:
            return  # all rows equal: the cluster stays whole
        norm = sqrt(norm)
        for k in range(d):
            c0[k] = v[k] / norm
        for k in range(d):
            s = 0.0
            for l in range(d):
                s += cov[k * d + l] * c0[l]
            v[k] = s
    memset(c0, 0, d * sizeof(double))
    memset(c1, 0, d * sizeof(double))
    n1 = 0
    for t in range(m):
        x = X + rows[t] * d
        s = 0.0
        for k in range(d):
            s += (x[k] - mean[k]) * v[k]
        if s > 0.0:
            out[rows[t]] = new_label
            n1 += 1
            for k in range(d):
                c1[k] += x[k]
        else:
            out[rows[t]] = label
            for k in range(d):
                c0[k] += x[k]
    if n1 == 0 or n1 == m:
        for t in range(m):
            out[rows[t]] = label
        return
    for k in range(d):
        c0[k] /= m - n1
        c1[k] /= n1
    for it in range(max_iter):
        changed = False
        for t in range(m):
            x = X + rows[t] * d
            lab = new_label if _sqdist(x, c1, d) < _sqdist(x, c0, d) else label
            if out[rows[t]] != lab:
                out[rows[t]] = lab
                changed = True
        if not changed or it + 1 >= max_iter:
            break
        memset(c0, 0, d * sizeof(double))
        memset(c1, 0, d * sizeof(double))
        n1 = 0
        for t in range(m):
            x = X + rows[t] * d
            if out[rows[t]] == new_label:
                n1 += 1
                for k in range(d):
                    c1[k] += x[k]
            else:
                for k in range(d):
                    c0[k] += x[k]
        if n1 == 0 or n1 == m:
            break
        for k in range(d):
            c0[k] /= m - n1
            c1[k] /= n1


def _split_clusters(const double[:, ::1] X, const long long[::1] labels,
                    Py_ssize_t n_clusters, int max_iter, int n_threads):
    """Every cluster cut in two by 2-means on its rows of ``X``.

    Returns
    -------
    pieces : (n,) int64, ``labels[i]`` or ``n_clusters + labels[i]`` (the
        second half); a cluster of fewer than two distinct rows stays whole.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = n_clusters
    cdef Py_ssize_t i, c
    cdef long long[::1] out = np.array(labels, dtype=np.int64, copy=True)
    cdef long long[::1] start = np.zeros(K + 1, dtype=np.int64)
    cdef long long[::1] rows = np.empty(n, dtype=np.int64)
    cdef long long[::1] fill
    cdef int[::1] failed = np.zeros(1, dtype=np.int32)
    cdef double* work
    if n == 0 or d == 0:
        return np.asarray(out)
    # The rows of each cluster, contiguous (counting sort).
    for i in range(n):
        start[labels[i] + 1] += 1
    for c in range(K):
        start[c + 1] += start[c]
    fill = np.array(start[:K], dtype=np.int64, copy=True)
    for i in range(n):
        c = labels[i]
        rows[fill[c]] = i
        fill[c] += 1
    with nogil, parallel(num_threads=max(n_threads, 1)):
        work = <double*> malloc((d * d + 4 * d) * sizeof(double))
        if work == NULL:
            failed[0] = 1
        for c in prange(K, schedule="dynamic"):
            if work != NULL and start[c + 1] - start[c] >= 2:
                _bisect(&X[0, 0], &rows[start[c]], start[c + 1] - start[c], d,
                        max_iter, c, K + c, &out[0], work)
        free(work)
    if failed[0]:
        raise MemoryError()
    return np.asarray(out)


def _merge_clusters(const long long[::1] indptr, const long long[::1] indices,
                    const double[::1] data, const long long[::1] pieces,
                    Py_ssize_t n_pieces, Py_ssize_t n_clusters):
    """Greedy modularity merges of the pieces down to ``n_clusters``.

    Returns
    -------
    merged : (n_pieces,) int64, the cluster in [0, n_clusters) of each
        piece, numbered by its lowest piece (pieces without vertices: -1).
    """
    cdef Py_ssize_t n = pieces.shape[0], k = n_pieces, K = n_clusters
    cdef Py_ssize_t i, e, a, b, r, best_a, best_b, alive
    cdef double total = 0.0, g, best_g
    cdef double[:, ::1] E = np.zeros((k, k))
    cdef double[::1] vol = np.zeros(k)
    cdef long long[::1] size = np.zeros(k, dtype=np.int64)
    cdef long long[::1] parent = np.arange(k, dtype=np.int64)
    cdef long long[::1] merged = np.full(k, -1, dtype=np.int64)
    with nogil:
        for i in range(n):
            a = pieces[i]
            size[a] += 1
            for e in range(indptr[i], indptr[i + 1]):
                E[a, pieces[indices[e]]] += data[e]
                vol[a] += data[e]
                total += data[e]
        alive = 0
        for a in range(k):
            if size[a] > 0:
                alive += 1
        if total <= 0.0:
            total = 1.0
        while alive > K:
            best_a = best_b = -1
            best_g = -INFINITY
            for a in range(k):
                if size[a] == 0:
                    continue
                for b in range(a + 1, k):
                    if size[b] == 0:
                        continue
                    g = (E[a, b] + E[b, a]) / total - 2.0 * vol[a] * vol[b] / (
                        total * total)
                    if g > best_g:
                        best_g = g
                        best_a = a
                        best_b = b
            a = best_a
            b = best_b
            for r in range(k):
                E[a, r] += E[b, r]
                E[b, r] = 0.0
            for r in range(k):
                E[r, a] += E[r, b]
                E[r, b] = 0.0
            vol[a] += vol[b]
            vol[b] = 0.0
            size[a] += size[b]
            size[b] = 0
            parent[b] = a
            alive -= 1
        # Roots in order of their lowest piece get 0, 1, ...
        r = 0
        for a in range(k):
            b = a
            while parent[b] != b:
                b = parent[b]
            if merged[b] < 0 and size[b] > 0:
                merged[b] = r
                r += 1
            merged[a] = merged[b]
    return np.asarray(merged)
