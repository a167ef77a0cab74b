"""Fill-in guard of the sparse factorisation in AMGSpectralClustering.

``_max_level_width``
    The widest level of breadth-first level structures, one per connected
    component, each rooted at a pseudo-peripheral vertex (the last vertex
    reached from the component's lowest vertex). Mesh-like graphs have
    narrow levels (about the square root of the vertices on a 2-D grid),
    expander-like graphs a level with a constant share of them.

``_cholesky_count``
    Non-zeros of the Cholesky factor of a symmetric pattern under a given
    elimination order: the elimination tree (Liu's algorithm with path
    compression), then, for every row, the walk up the tree from each of its
    lower entries, marking the row subtree (one step per factor entry). It
    stops once the count passes a budget, so a graph with large fill costs
    no more than the budget to reject.
"""

import numpy as np


cdef Py_ssize_t _bfs(Py_ssize_t start, const long long* indptr,
                     const long long* indices, long long* level,
                     long long* queue, Py_ssize_t* widest) noexcept nogil:
    """Search from ``start`` over the vertices with ``level == -1``.

    Sets their levels, writes the widest level to ``widest`` and returns the
    last vertex reached.
    """
    cdef Py_ssize_t head = 0, tail = 1, v, u, p
    cdef Py_ssize_t width = 0
    cdef long long current = 0
    queue[0] = start
    level[start] = 0
    widest[0] = 0
    while head < tail:
        v = queue[head]
        head += 1
        if level[v] != current:
            widest[0] = max(widest[0], width)
            width = 0
            current = level[v]
        width += 1
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            if level[u] == -1:
                level[u] = level[v] + 1
                queue[tail] = u
                tail += 1
    widest[0] = max(widest[0], width)
    return queue[tail - 1]


def _max_level_width(const long long[::1] indptr, const long long[::1] indices):
    """Widest level over the components' pseudo-peripheral level structures.

    Parameters
    ----------
    indptr, indices : the symmetric pattern, CSR (IN)

    Returns
    -------
    width : int
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef long long[::1] first = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] second = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] queue = np.empty(max(n, 1), dtype=np.int64)
    cdef Py_ssize_t s, far, width, widest = 0
    with nogil:
        for s in range(n):
            if first[s] != -1:
                continue
            far = _bfs(s, &indptr[0], &indices[0], &first[0], &queue[0], &width)
            _bfs(far, &indptr[0], &indices[0], &second[0], &queue[0], &width)
            widest = max(widest, width)
    return int(widest)


def _cholesky_count(const long long[::1] indptr, const long long[::1] indices,
                    const long long[::1] order, long long budget):
    """Entries and flops of the Cholesky factor of ``A[order][:, order]``.

    Parameters
    ----------
    indptr, indices : the symmetric pattern of ``A``, CSR (IN)
    order : ndarray of shape (n,), the elimination order, a permutation (IN)
    budget : int, the count at which to stop

    Returns
    -------
    nnz : int, entries of the factor, diagonal included, or -1 once the
        count passes ``budget``
    flops : float, the sum of squared column counts (multiplications of
        the factorisation, up to a constant), or -1
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef long long[::1] position = np.empty(n, dtype=np.int64)
    cdef long long[::1] parent = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] ancestor = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] mark = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] column = np.zeros(n, dtype=np.int64)
    cdef Py_ssize_t k, p
    cdef long long i, nxt, total = 0
    cdef double flops = 0.0
    cdef bint over = False
    with nogil:
        for k in range(n):
            position[order[k]] = k
        # Elimination tree: the root of the subtree of each lower entry,
        # found through path-compressed ancestors, gets parent k.
        for k in range(n):
            for p in range(indptr[order[k]], indptr[order[k] + 1]):
                i = position[indices[p]]
                while i != -1 and i < k:
                    nxt = ancestor[i]
                    ancestor[i] = k
                    if nxt == -1:
                        parent[i] = k
                    i = nxt
        # Row k of the factor: the tree paths from its lower entries up to k.
        for k in range(n):
            mark[k] = k
            column[k] += 1
            total += 1
            for p in range(indptr[order[k]], indptr[order[k] + 1]):
                i = position[indices[p]]
                if i >= k:
                    continue
                while i != -1 and mark[i] != k:
                    mark[i] = k
                    column[i] += 1
                    total += 1
                    i = parent[i]
            if total > budget:
                over = True
                break
        if not over:
            for k in range(n):
                flops += <double> column[k] * column[k]
    if over:
        return -1, -1.0
    return int(total), flops
