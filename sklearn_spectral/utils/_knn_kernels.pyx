"""Exact k-nearest-neighbour search: a kd-tree, and blocked brute force.

The tree is a complete binary tree over the rows in tree order: node ``i``
holds rows ``start[i]:end[i]``, its children are ``2 i + 1`` and ``2 i + 2``,
and ``lo[i]``, ``hi[i]`` bound its rows. :func:`_build_kdtree` builds it
level by level, the nodes of a level in parallel: each node is split at the
median of its widest coordinate by a quickselect on its slice of ``order``.

The query points are the tree's own rows, so the search runs per query
leaf. The leaf is first compared with itself, which gives every row a
finite k-th distance at once; then one depth-first walk from the root,
nearer child first, serves all rows of the leaf, pruned by the box-to-box
distance against the largest current k-th distance of the leaf, then per
row by the point-to-box distance. A candidate leaf's coordinates are read
column by column (the transposed rows ``XT``), so the squared distances
from one row to all rows of a leaf accumulate in a loop the compiler
vectorises. The leaves spread over the threads (``prange``, dynamic
schedule); each row's result is written by one thread only and does not
depend on the thread count.

Many features: :func:`_brute_kneighbors` compares blocks of rows with
blocks of candidates through one-threaded ``sgemm`` calls, blocks spread
over the threads; the single-precision inner products give a lower bound
on each squared distance, and only candidates that pass it against a row's
current k-th distance are compared exactly, in float64.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport sgemm

import numpy as np


# --------------------------------------------------------------------------
# Tree build


# Columns of padding after the last row of the transposed rows.
_PAD = 8


cdef void _node_box(const floating[:, ::1] X, const int64_t* rows,
                    Py_ssize_t count, double* lo, double* hi) noexcept nogil:
    """Bounding box of ``count`` rows of ``X``."""
    cdef Py_ssize_t d = X.shape[1], i, f
    cdef double v
    for f in range(d):
        lo[f] = INFINITY
        hi[f] = -INFINITY
    for i in range(count):
        for f in range(d):
            v = X[rows[i], f]
            if v < lo[f]:
                lo[f] = v
            if v > hi[f]:
                hi[f] = v


cdef void _select(const floating[:, ::1] X, int64_t* rows, Py_ssize_t count,
                  Py_ssize_t kth, Py_ssize_t dim) noexcept nogil:
    """Reorder ``rows`` so that ``rows[kth]`` has the ``kth`` smallest
    coordinate ``dim``, smaller or equal ones before it, larger or equal ones
    after (Hoare quickselect, median-of-three pivot)."""
    cdef Py_ssize_t left = 0, right = count - 1, i, j, mid
    cdef double pivot, a, b, c
    cdef int64_t tmp
    while right > left:
        mid = left + (right - left) // 2
        a = X[rows[left], dim]
        b = X[rows[mid], dim]
        c = X[rows[right], dim]
        if (a <= b) == (b <= c):
            pivot = b
        elif (b <= a) == (a <= c):
            pivot = a
        else:
            pivot = c
        i = left
        j = right
        while i <= j:
            while X[rows[i], dim] < pivot:
                i += 1
            while X[rows[j], dim] > pivot:
                j -= 1
            if i <= j:
                tmp = rows[i]
                rows[i] = rows[j]
                rows[j] = tmp
                i += 1
                j -= 1
        if kth <= j:
            right = j
        elif kth >= i:
            left = i
        else:
            return


def _build_kdtree(const floating[:, ::1] X, int64_t[::1] order,
                  int64_t[::1] start, int64_t[::1] end, double[:, ::1] lo,
                  double[:, ::1] hi, Py_ssize_t n_levels, int n_threads):
    """A balanced kd-tree, split at the median of the widest coordinate.

    Parameters
    ----------
    X : (n, d) floating, IN
    order : (n,) int64, IN ``arange(n)``, OUT the rows in tree order
    start, end : (n_nodes,) int64, OUT, row range (tree order) of each node
    lo, hi : (n_nodes, d) float64, OUT, bounding box of each node
    n_levels : int, IN, levels of the complete tree
        (``n_nodes = 2^n_levels - 1``)
    n_threads : int, IN
    """
    cdef Py_ssize_t d = X.shape[1], level, first, last, node, s, e, mid, f
    cdef Py_ssize_t dim
    cdef double width, best
    start[0] = 0
    end[0] = X.shape[0]
    with nogil:
        for level in range(n_levels):
            first = (1 << level) - 1
            last = (1 << (level + 1)) - 1
            for node in prange(first, last, schedule="dynamic",
                               num_threads=n_threads if level > 2 else 1):
                s = start[node]
                e = end[node]
                _node_box(X, &order[s], e - s, &lo[node, 0], &hi[node, 0])
                if level == n_levels - 1:
                    continue
                dim = 0
                best = -1.0
                for f in range(d):
                    width = hi[node, f] - lo[node, f]
                    if width > best:
                        best = width
                        dim = f
                mid = (s + e) // 2
                _select(X, &order[s], e - s, mid - s, dim)
                start[2 * node + 1] = s
                end[2 * node + 1] = mid
                start[2 * node + 2] = mid
                end[2 * node + 2] = e


# --------------------------------------------------------------------------
# Tree search


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


cdef void _scan_leaf(const double[:, ::1] XT, const double* qT,
                     Py_ssize_t width, Py_ssize_t qs, Py_ssize_t qe,
                     Py_ssize_t ps, Py_ssize_t pe, const double* lo,
                     const double* hi, bint check_box, Py_ssize_t k,
                     double[:, ::1] dist, int64_t[:, ::1] ind,
                     double* gap) noexcept nogil:
    """Offer the rows ``ps:pe`` to the heaps of the rows ``qs:qe``.

    ``qT[f * width + i]`` is coordinate ``f`` of row ``qs + i``. ``XT`` has
    ``_PAD`` columns past the last row, so that candidates are read eight
    at a time.
    """
    cdef Py_ssize_t d = XT.shape[0], mq = qe - qs, q, i, j, jj, f
    cdef Py_ssize_t m = pe - ps
    cdef const double* col
    cdef double* heap
    cdef double xf, t0, t1, t2, t3, t4, t5, t6, t7, g, h, lof, hif
    cdef double a0, a1, a2, a3, a4, a5, a6, a7
    cdef double acc[8]
    if check_box:
        # Point-to-box distances of all the rows at once, coordinates in
        # the outer loop so that the inner one vectorises.
        for i in range(mq):
            gap[i] = 0.0
        for f in range(d):
            lof = lo[f]
            hif = hi[f]
            for i in range(mq):
                xf = qT[f * width + i]
                g = lof - xf
                h = xf - hif
                g = g if g > h else h
                g = g if g > 0.0 else 0.0
                gap[i] = gap[i] + g * g
    for i in range(mq):
        q = qs + i
        heap = &dist[q, 0]
        if check_box and gap[i] > heap[0]:
            continue
        # Eight candidates at a time, their partial sums in registers; each
        # distance sums its coordinates in order.
        for j in range(0, m, 8):
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
            for f in range(d):
                xf = qT[f * width + i]
                col = &XT[f, ps + j]
                t0 = xf - col[0]
                t1 = xf - col[1]
                t2 = xf - col[2]
                t3 = xf - col[3]
                t4 = xf - col[4]
                t5 = xf - col[5]
                t6 = xf - col[6]
                t7 = xf - col[7]
                a0 = a0 + t0 * t0
                a1 = a1 + t1 * t1
                a2 = a2 + t2 * t2
                a3 = a3 + t3 * t3
                a4 = a4 + t4 * t4
                a5 = a5 + t5 * t5
                a6 = a6 + t6 * t6
                a7 = a7 + t7 * t7
            acc[0] = a0
            acc[1] = a1
            acc[2] = a2
            acc[3] = a3
            acc[4] = a4
            acc[5] = a5
            acc[6] = a6
            acc[7] = a7
            for jj in range(min(8, m - j)):
                if acc[jj] < heap[0]:
                    _heap_replace_top(heap, &ind[q, 0], k, acc[jj], ps + j + jj)


cdef void _query_leaf(const double[:, ::1] XT, const int64_t[::1] start,
                      const int64_t[::1] end, const double[:, ::1] lo,
                      const double[:, ::1] hi, Py_ssize_t leaf,
                      Py_ssize_t first_leaf, Py_ssize_t k, double[:, ::1] dist,
                      int64_t[:, ::1] ind, int64_t* stack, double* qT,
                      Py_ssize_t width, double* gap) noexcept nogil:
    cdef Py_ssize_t d = XT.shape[0]
    cdef Py_ssize_t qs = start[leaf], qe = end[leaf], q, p, f, top, node
    cdef Py_ssize_t c1, c2
    cdef double bound, box, g1, g2
    for q in range(qs, qe):
        for p in range(k):
            dist[q, p] = INFINITY
            ind[q, p] = -1
        for f in range(d):
            qT[f * width + q - qs] = XT[f, q]
    # The leaf itself first: every row gets a finite k-th distance (when the
    # leaf holds k rows) before the walk prunes anything.
    _scan_leaf(XT, qT, width, qs, qe, qs, qe, &lo[leaf, 0], &hi[leaf, 0], False,
               k, dist, ind, gap)
    bound = 0.0
    for q in range(qs, qe):
        if dist[q, 0] > bound:
            bound = dist[q, 0]
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        if node == leaf:
            continue
        box = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[node, 0], &hi[node, 0], d)
        if box > bound:
            continue
        if node >= first_leaf:
            _scan_leaf(XT, qT, width, qs, qe, start[node], end[node],
                       &lo[node, 0], &hi[node, 0], True, k, dist, ind, gap)
            bound = 0.0
            for q in range(qs, qe):
                if dist[q, 0] > bound:
                    bound = dist[q, 0]
        else:
            c1 = 2 * node + 1
            c2 = c1 + 1
            # The nearer child goes on top of the stack, so it is walked
            # first; the query leaf's own side wins a tie.
            if start[c2] <= qs < end[c2]:
                g1 = 1.0
                g2 = 0.0
            elif start[c1] <= qs < end[c1]:
                g1 = 0.0
                g2 = 1.0
            else:
                g1 = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[c1, 0],
                              &hi[c1, 0], d)
                g2 = _box_gap(&lo[leaf, 0], &hi[leaf, 0], &lo[c2, 0],
                              &hi[c2, 0], d)
            if g1 <= g2:
                stack[top] = c2
                stack[top + 1] = c1
            else:
                stack[top] = c1
                stack[top + 1] = c2
            top += 2
    for q in range(qs, qe):
        _sort_row(&dist[q, 0], &ind[q, 0], k)


def _kdtree_kneighbors(const double[:, ::1] XT, const int64_t[::1] start,
                       const int64_t[::1] end, const double[:, ::1] lo,
                       const double[:, ::1] hi, Py_ssize_t n_levels,
                       double[:, ::1] dist, int64_t[:, ::1] ind, int n_threads):
    """The k nearest rows of every row (tree order), self included.

    Parameters
    ----------
    XT : (d, n + _PAD) float64, IN, the rows in tree order, transposed,
        then ``_PAD`` columns of padding
    start, end : (n_nodes,) int64, IN, row range of each node
    lo, hi : (n_nodes, d) float64, IN, bounding box of each node
    n_levels : int, IN, levels of the complete tree (``n_nodes = 2^n_levels - 1``)
    dist : (n, k) float64, OUT, squared distances, ascending per row
    ind : (n, k) int64, OUT, tree-order row of each neighbour (ties: lower
        row first among equal distances that were both kept)
    n_threads : int, IN
    """
    cdef Py_ssize_t n_nodes = start.shape[0], d = XT.shape[0]
    cdef Py_ssize_t first_leaf = (n_nodes - 1) // 2
    cdef Py_ssize_t k = dist.shape[1], leaf, width = 1
    cdef int64_t* stack
    cdef double* qT
    cdef double* gap
    # A flag in memory, not a variable: variables assigned in a parallel
    # block are thread-private.
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)
    for leaf in range(first_leaf, n_nodes):
        width = max(width, end[leaf] - start[leaf])
    with nogil, parallel(num_threads=n_threads):
        # Work arrays once per thread (every leaf overwrites what it reads).
        stack = <int64_t*> malloc((2 * n_levels + 2) * sizeof(int64_t))
        qT = <double*> malloc(width * d * sizeof(double))
        gap = <double*> malloc(width * sizeof(double))
        if stack == NULL or qT == NULL or gap == NULL:
            failed[0] = 1
        for leaf in prange(first_leaf, n_nodes, schedule="dynamic"):
            if stack != NULL and qT != NULL and gap != NULL:
                _query_leaf(XT, start, end, lo, hi, leaf, first_leaf, k, dist,
                            ind, stack, qT, width, gap)
        free(gap)
        free(qT)
        free(stack)
    if failed[0]:
        raise MemoryError()


# --------------------------------------------------------------------------
# Blocked brute force


cdef void _offer_rows(const double[:, ::1] X, const double[::1] shifted,
                      const float[::1] shiftedf, const float* G,
                      const int64_t* queries, Py_ssize_t nq, Py_ssize_t ps,
                      Py_ssize_t m, double[:, ::1] dist,
                      int64_t[:, ::1] ind) noexcept nogil:
    """Offer the rows ``ps:ps + m`` to the heaps of the rows ``queries[:nq]``.

    ``G[i * m + j]`` is the float32 inner product of the centred rows
    ``queries[i]`` and ``ps + j``; a candidate is compared exactly (float64,
    from ``X``) only when the lower bound built from it is below the query's
    current k-th squared distance.
    """
    cdef Py_ssize_t d = X.shape[1], k = dist.shape[1]
    cdef Py_ssize_t i, q, p, j, f, jb, je
    cdef int passed
    cdef float two = 2.0, thr
    cdef double t, dd
    cdef double* heap
    cdef const float* row
    for i in range(nq):
        q = queries[i]
        heap = &dist[q, 0]
        row = &G[i * m]
        for jb in range(0, m, 64):
            je = min(m, jb + 64)
            # A lower bound on each exact squared distance, in float32:
            # first only counted (a loop that vectorises, into a 32-bit
            # count as wide as the floats), since after the first
            # candidates few rows pass it.
            thr = <float> (heap[0] - shifted[q])
            passed = 0
            for j in range(jb, je):
                passed = passed + (shiftedf[ps + j] - two * row[j] < thr)
            if passed == 0:
                continue
            for j in range(jb, je):
                if shiftedf[ps + j] - two * row[j] < thr:
                    p = ps + j
                    dd = 0.0
                    for f in range(d):
                        t = X[q, f] - X[p, f]
                        dd = dd + t * t
                    if dd < heap[0]:
                        _heap_replace_top(heap, &ind[q, 0], k, dd, p)
                        thr = <float> (heap[0] - shifted[q])


cdef void _brute_block(const double[:, ::1] X, const float[:, ::1] Xf,
                       const double[::1] shifted, const float[::1] shiftedf,
                       Py_ssize_t qs, Py_ssize_t qe,
                       Py_ssize_t chunk, double[:, ::1] dist,
                       int64_t[:, ::1] ind, float* G,
                       int64_t* queries) noexcept nogil:
    """The k nearest rows of the rows ``qs:qe``, over all rows."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = dist.shape[1]
    cdef Py_ssize_t q, j, ps, m
    cdef int im, iq = <int> (qe - qs), id_ = <int> d
    cdef float one = 1.0, zero = 0.0
    for q in range(qs, qe):
        queries[q - qs] = q
        for j in range(k):
            dist[q, j] = INFINITY
            ind[q, j] = -1
    ps = 0
    while ps < n:
        m = min(chunk, n - ps)
        im = <int> m
        # G (iq x m, row-major) = Xf[qs:qe] Xf[ps:ps + m]^T: in column-major
        # terms, the (m x iq) product of the candidates' and the queries'
        # coordinate columns.
        sgemm(b"T", b"N", &im, &iq, &id_, &one, <float*> &Xf[ps, 0], &id_,
              <float*> &Xf[qs, 0], &id_, &zero, G, &im)
        _offer_rows(X, shifted, shiftedf, G, queries, qe - qs, ps, m, dist, ind)
        ps += m
    for q in range(qs, qe):
        _sort_row(&dist[q, 0], &ind[q, 0], k)


def _brute_kneighbors(const double[:, ::1] X, const float[:, ::1] Xf,
                      const double[::1] shifted, const float[::1] shiftedf,
                      double[:, ::1] dist,
                      int64_t[:, ::1] ind, int n_threads):
    """The k nearest rows of every row of ``X``, self included, by blocks.

    Inner products of the rows come in single precision from ``sgemm``
    (``Xf``, the centred rows in float32); ``shifted[i]`` is ``(1 - c)
    ||Xf_i||^2``, ``c`` a bound on the relative rounding error, so that
    ``shifted[q] + shifted[p] - 2 <Xf_q, Xf_p>`` is below the exact squared
    distance of rows ``q`` and ``p`` (also when evaluated in float32). Rows
    that pass that bound are compared exactly, from ``X`` in float64. Must
    run under a one-thread BLAS limit: each thread calls ``sgemm``.

    Parameters
    ----------
    X : (n, d) float64, IN
    Xf : (n, d) float32, IN, the rows of ``X`` centred, in float32
    shifted : (n,) float64, IN
    shiftedf : (n,) float32, IN, ``shifted`` rounded down to float32
    dist : (n, k) float64, OUT, squared distances, ascending per row
    ind : (n, k) int64, OUT, row of each neighbour
    n_threads : int, IN
    """
    cdef Py_ssize_t n = X.shape[0], block = 128, chunk = 2048
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef float* G
    cdef int64_t* queries
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)
    with nogil, parallel(num_threads=n_threads):
        # Work arrays once per thread: a block's 1 MiB product buffer,
        # allocated per block, went back to the system at every free.
        G = <float*> malloc(block * chunk * sizeof(float))
        queries = <int64_t*> malloc(block * sizeof(int64_t))
        if G == NULL or queries == NULL:
            failed[0] = 1
        for b in prange(n_blocks, schedule="dynamic"):
            if G != NULL and queries != NULL:
                _brute_block(X, Xf, shifted, shiftedf, b * block,
                             min(n, (b + 1) * block), chunk, dist, ind, G,
                             queries)
        free(queries)
        free(G)
    if failed[0]:
        raise MemoryError()


# --------------------------------------------------------------------------
# Cell-pruned search


cdef struct _Key:
    double key
    int64_t index


cdef int _compare_keys(const void* a, const void* b) noexcept nogil:
    """Ascending key, then index (``qsort`` is not stable; the visiting
    order, hence which of equidistant rows is kept, must not vary)."""
    cdef const _Key* x = <const _Key*> a
    cdef const _Key* y = <const _Key*> b
    if x.key < y.key:
        return -1
    if x.key > y.key:
        return 1
    return (x.index > y.index) - (x.index < y.index)


cdef int64_t _cells_block(const double[:, ::1] X, const float[:, ::1] Xf,
                          const double[::1] shifted, const float[::1] shiftedf,
                          const int64_t[::1] cell_start,
                          const double[:, ::1] centres, const double[::1] radii,
                          Py_ssize_t cell, Py_ssize_t qs, Py_ssize_t qe,
                          double slack, Py_ssize_t chunk, double[:, ::1] dist,
                          int64_t[:, ::1] ind, _Key* keys, int64_t* active,
                          float* Qf, float* G) noexcept nogil:
    """The k nearest rows of the rows ``qs:qe`` (all in cell ``cell``).

    Returns the number of (query, candidate) pairs whose inner product was
    computed.
    """
    cdef Py_ssize_t n_cells = radii.shape[0], d = X.shape[1]
    cdef Py_ssize_t k = dist.shape[1], q, j, f, t, na, a, ps, pe, m
    cdef int im, ina, id_ = <int> d
    cdef float one = 1.0, zero = 0.0
    cdef double s, v, rq = 0.0, bound = INFINITY, lb
    cdef int64_t pairs = 0
    for q in range(qs, qe):
        for j in range(k):
            dist[q, j] = INFINITY
            ind[q, j] = -1
        s = 0.0
        for f in range(d):
            v = X[q, f] - centres[cell, f]
            s = s + v * v
        rq = max(rq, sqrt(s))
    # Candidate cells by ||c_cell - c_j|| - r_j: the bound for the whole
    # block is that key minus rq, so the first cell past the block's largest
    # k-th distance ends the walk.
    for j in range(n_cells):
        s = 0.0
        for f in range(d):
            v = centres[cell, f] - centres[j, f]
            s = s + v * v
        keys[j].key = sqrt(s) - radii[j]
        keys[j].index = j
    qsort(keys, n_cells, sizeof(_Key), _compare_keys)
    for t in range(n_cells):
        if keys[t].key - rq - slack > bound:
            break
        j = keys[t].index
        # Per query: ||q - c_j|| - r_j bounds its distance to the cell.
        na = 0
        for q in range(qs, qe):
            s = 0.0
            for f in range(d):
                v = X[q, f] - centres[j, f]
                s = s + v * v
            lb = sqrt(s) - radii[j] - slack
            if lb <= 0.0 or lb * lb <= dist[q, 0]:
                active[na] = q
                na += 1
        if na == 0:
            continue
        for a in range(na):
            memcpy(&Qf[a * d], &Xf[active[a], 0], d * sizeof(float))
        ina = <int> na
        ps = cell_start[j]
        pe = cell_start[j + 1]
        while ps < pe:
            m = min(chunk, pe - ps)
            im = <int> m
            # As in _brute_block: G (na x m, row-major) = Qf Xf[ps:ps + m]^T.
            sgemm(b"T", b"N", &im, &ina, &id_, &one, <float*> &Xf[ps, 0], &id_,
                  Qf, &id_, &zero, G, &im)
            _offer_rows(X, shifted, shiftedf, G, active, na, ps, m, dist, ind)
            pairs += na * m
            ps += m
        bound = 0.0
        for q in range(qs, qe):
            bound = max(bound, dist[q, 0])
        bound = sqrt(bound)
    for q in range(qs, qe):
        _sort_row(&dist[q, 0], &ind[q, 0], k)
    return pairs


def _cells_kneighbors(const double[:, ::1] X, const float[:, ::1] Xf,
                      const double[::1] shifted, const float[::1] shiftedf,
                      const int64_t[::1] cell_start,
                      const double[:, ::1] centres, const double[::1] radii,
                      const int64_t[::1] block_cell,
                      const int64_t[::1] block_start,
                      const int64_t[::1] block_end, const int64_t[::1] blocks,
                      double slack, double[:, ::1] dist, int64_t[:, ::1] ind,
                      int n_threads):
    """The k nearest rows of the rows of the query blocks ``blocks``, pruned
    by cells.

    The rows are in cell order: cell ``j`` holds rows ``cell_start[j]:
    cell_start[j + 1]``, within ``radii[j]`` of its centre ``centres[j]``.
    A query block (rows ``block_start[b]:block_end[b]``, all in cell
    ``block_cell[b]``) visits the cells by increasing ``||c_i - c_j|| -
    r_j`` and stops at the first whose triangle-inequality bound exceeds the
    largest k-th distance of its rows; within a visited cell, rows whose
    own bound ``||q - c_j|| - r_j`` exceeds their k-th distance are left
    out of the product. Candidates are then tested as in
    :func:`_brute_kneighbors` (same ``Xf``, ``shifted``, ``shiftedf``;
    one-thread BLAS). Each block is searched by one thread in a fixed order,
    so the result does not depend on the thread count.

    Parameters
    ----------
    X, Xf, shifted, shiftedf : IN, as for :func:`_brute_kneighbors`, rows in
        cell order
    cell_start : (n_cells + 1,) int64, IN
    centres : (n_cells, d) float64, IN
    radii : (n_cells,) float64, IN, largest distance of a cell's rows to
        its centre
    block_cell, block_start, block_end : (n_blocks,) int64, IN
    blocks : (n_selected,) int64, IN, the blocks to search
    slack : float, IN, absolute allowance for the rounding of the bounds
    dist : (n, k) float64, OUT, squared distances of the selected blocks'
        rows, ascending per row
    ind : (n, k) int64, OUT, cell-order row of each neighbour
    n_threads : int, IN

    Returns
    -------
    pairs : int, the (query, candidate) inner products computed
    """
    cdef Py_ssize_t n_cells = radii.shape[0], d = X.shape[1], chunk = 2048
    cdef Py_ssize_t width = 1, b, i, n_selected = blocks.shape[0]
    cdef int64_t pairs = 0
    cdef _Key* keys
    cdef int64_t* active
    cdef float* Qf
    cdef float* G
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)
    for b in range(block_start.shape[0]):
        width = max(width, block_end[b] - block_start[b])
    with nogil, parallel(num_threads=n_threads):
        # Work arrays once per thread (every block overwrites what it reads).
        keys = <_Key*> malloc(n_cells * sizeof(_Key))
        active = <int64_t*> malloc(width * sizeof(int64_t))
        Qf = <float*> malloc(width * d * sizeof(float))
        G = <float*> malloc(width * chunk * sizeof(float))
        if keys == NULL or active == NULL or Qf == NULL or G == NULL:
            failed[0] = 1
        for i in prange(n_selected, schedule="dynamic"):
            if keys != NULL and active != NULL and Qf != NULL and G != NULL:
                b = blocks[i]
                pairs += _cells_block(X, Xf, shifted, shiftedf, cell_start,
                                      centres, radii, block_cell[b],
                                      block_start[b], block_end[b], slack, chunk,
                                      dist, ind, keys, active, Qf, G)
        free(G)
        free(Qf)
        free(active)
        free(keys)
    if failed[0]:
        raise MemoryError()
    return pairs
