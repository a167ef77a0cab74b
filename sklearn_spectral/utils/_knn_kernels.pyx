"""Exact k-nearest-neighbour search on a kd-tree, leaf against leaf.

The tree (built in :mod:`sklearn_spectral.utils.neighbors`) is a complete
binary tree over the rows in tree order: node ``i`` holds rows
``start[i]:end[i]``, its children are ``2 i + 1`` and ``2 i + 2``, and
``lo[i]``, ``hi[i]`` bound its rows. The query points are the tree's own
rows, so the search runs per query leaf: one depth-first walk from the root
serves all rows of the leaf, pruned by the box-to-box distance against the
largest current k-th distance of the leaf, then per row by the point-to-box
distance. The leaves spread over the threads (``prange``, dynamic schedule);
each row's result is written by one thread only and does not depend on the
thread count.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc


cdef inline double _box_gap(const double* lo1, const double* hi1,
                            const double* lo2, const double* hi2,
                            Py_ssize_t d) noexcept nogil:
    """Squared distance between two boxes (0 when they overlap)."""
    cdef double s = 0.0, g
    cdef Py_ssize_t f
    for f in range(d):
        g = lo2[f] - hi1[f]
        if g < 0.0:
            g = lo1[f] - hi2[f]
        if g > 0.0:
            s += g * g
    return s


cdef inline double _point_gap(const floating* x, const double* lo,
                              const double* hi, Py_ssize_t d) noexcept nogil:
    """Squared distance from a point to a box."""
    cdef double s = 0.0, g
    cdef Py_ssize_t f
    for f in range(d):
        g = lo[f] - x[f]
        if g < 0.0:
            g = x[f] - hi[f]
        if g > 0.0:
            s += g * g
    return s


cdef inline void _heap_replace_top(double* dist, int64_t* ind, Py_ssize_t k,
                                   double value, int64_t j) noexcept nogil:
    """Replace the largest entry of a max-heap of size ``k``, sift down."""
    cdef Py_ssize_t i = 0, left, right, child
    while True:
        left = 2 * i + 1
        if left >= k:
            break
        right = left + 1
        child = left
        if right < k and dist[right] > dist[left]:
            child = right
        if dist[child] <= value:
            break
        dist[i] = dist[child]
        ind[i] = ind[child]
        i = child
    dist[i] = value
    ind[i] = j


cdef void _sort_row(double* dist, int64_t* ind, Py_ssize_t k) noexcept nogil:
    """Insertion sort of one row by distance, then index (k is small)."""
    cdef Py_ssize_t a, b
    cdef double dv
    cdef int64_t iv
    for a in range(1, k):
        dv = dist[a]
        iv = ind[a]
        b = a - 1
        while b >= 0 and (dist[b] > dv or (dist[b] == dv and ind[b] > iv)):
            dist[b + 1] = dist[b]
            ind[b + 1] = ind[b]
            b -= 1
        dist[b + 1] = dv
        ind[b + 1] = iv


cdef void _query_leaf(const floating[:, ::1] X, const int64_t[::1] start,
                      const int64_t[::1] end, const double[:, ::1] lo,
                      const double[:, ::1] hi, Py_ssize_t leaf,
                      Py_ssize_t first_leaf, Py_ssize_t k, double[:, ::1] dist,
                      int64_t[:, ::1] ind, int64_t* stack) noexcept nogil:
    cdef Py_ssize_t d = X.shape[1]
    cdef Py_ssize_t qs = start[leaf], qe = end[leaf], q, p, f, top, node
    cdef Py_ssize_t c1, c2
    cdef double bound = INFINITY, gap, g1, g2, dd, t
    cdef const floating* xq
    cdef const floating* xp
    cdef double* heap
    for q in range(qs, qe):
        for p in range(k):
            dist[q, p] = INFINITY
            ind[q, p] = -1
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        gap = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[node, 0], &hi[node, 0], d)
        if gap > bound:
            continue
        if node >= first_leaf:
            for q in range(qs, qe):
                heap = &dist[q, 0]
                xq = &X[q, 0]
                if node != leaf and _point_gap(xq, &lo[node, 0], &hi[node, 0],
                                               d) > heap[0]:
                    continue
                for p in range(start[node], end[node]):
                    xp = &X[p, 0]
                    dd = 0.0
                    for f in range(d):
                        t = <double>xq[f] - <double>xp[f]
                        dd = dd + t * t
                    if dd < heap[0]:
                        _heap_replace_top(heap, &ind[q, 0], k, dd, p)
            bound = 0.0
            for q in range(qs, qe):
                if dist[q, 0] > bound:
                    bound = dist[q, 0]
        else:
            c1 = 2 * node + 1
            c2 = c1 + 1
            g1 = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[c1, 0], &hi[c1, 0], d)
            g2 = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[c2, 0], &hi[c2, 0], d)
            # The nearer child goes on top of the stack, so it is walked first.
            if g1 <= g2:
                stack[top] = c2
                stack[top + 1] = c1
            else:
                stack[top] = c1
                stack[top + 1] = c2
            top += 2
    for q in range(qs, qe):
        _sort_row(&dist[q, 0], &ind[q, 0], k)


def _kdtree_kneighbors(const floating[:, ::1] X, const int64_t[::1] start,
                       const int64_t[::1] end, const double[:, ::1] lo,
                       const double[:, ::1] hi, Py_ssize_t n_levels,
                       double[:, ::1] dist, int64_t[:, ::1] ind, int n_threads):
    """The k nearest rows of every row of ``X`` (tree order), self included.

    Parameters
    ----------
    X : (n, d) floating, IN, the rows in tree order
    start, end : (n_nodes,) int64, IN, row range of each node
    lo, hi : (n_nodes, d) float64, IN, bounding box of each node
    n_levels : int, IN, levels of the complete tree (``n_nodes = 2^n_levels - 1``)
    dist : (n, k) float64, OUT, squared distances, ascending per row
    ind : (n, k) int64, OUT, tree-order row of each neighbour (ties: lower
        row first among equal distances that were both kept)
    n_threads : int, IN
    """
    cdef Py_ssize_t n_nodes = start.shape[0]
    cdef Py_ssize_t first_leaf = (n_nodes - 1) // 2
    cdef Py_ssize_t k = dist.shape[1], leaf
    cdef int64_t* stack
    with nogil:
        for leaf in prange(first_leaf, n_nodes, schedule="dynamic",
                           num_threads=n_threads):
            stack = <int64_t*> malloc((2 * n_levels + 2) * sizeof(int64_t))
            _query_leaf(X, start, end, lo, hi, leaf, first_leaf, k, dist, ind,
                        stack)
            free(stack)
