"""Compatible weighted matching for bootstrap AMG coarsening.

Kernels of :mod:`sklearn_spectral.cluster._amg_setup`:

``_compatible_weights``
    The compatible-relaxation weight of every stored off-diagonal entry of a
    symmetric matrix ``A`` (CSR) for a smooth vector ``w``::

        h_ij = 1 - 2 a_ij w_i w_j / (a_ii w_i**2 + a_jj w_j**2)

    floored at a tiny positive value. Entries that are not edges (the
    diagonal, stored zeros) get ``-1`` and are never matched.

``_suitor_matching`` and ``_preis_matching``
    The locally dominant matching of the edges with ``h > 0`` under a strict
    total order: first ``h``, then, between equal weights, the key
    ``min(perm_i, perm_j) * n + max(perm_i, perm_j)`` of a vertex permutation
    ``perm``. Under a strict order the locally dominant matching is unique (it
    is the greedy matching), so both algorithms return the same array.

    Suitor (Manne and Halappanavar, 2014): each vertex proposes to its
    heaviest neighbour whose standing offer is lighter; a displaced suitor
    proposes again. Preis (1999): follow heavier and heavier edges from a free
    vertex until an edge is the heaviest free edge at both of its ends, match
    it, and resume from the vertex below it on the stack; with the adjacency of
    every row sorted by decreasing order, each row is scanned once.

Indices are int64 and values float64 throughout (the driver converts once).
"""

from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    /* Per-vertex spin locks and relaxed atomic access to the standing offer
       of the parallel Suitor matching (GCC/Clang builtins; elsewhere the
       driver falls back to the sequential matching). */
    #if defined(__GNUC__) || defined(__clang__)
    #define SKS_HAVE_ATOMICS 1
    static inline double sks_load_double(const double* p) {
        double v; __atomic_load(p, &v, __ATOMIC_RELAXED); return v;
    }
    static inline void sks_store_double(double* p, double v) {
        __atomic_store(p, &v, __ATOMIC_RELAXED);
    }
    static inline void sks_lock(unsigned char* l) {
        while (__atomic_test_and_set(l, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(l, __ATOMIC_RELAXED)) { }
        }
    }
    static inline void sks_unlock(unsigned char* l) {
        __atomic_clear(l, __ATOMIC_RELEASE);
    }
    #else
    #define SKS_HAVE_ATOMICS 0
    static inline double sks_load_double(const double* p) { return *p; }
    static inline void sks_store_double(double* p, double v) { *p = v; }
    static inline void sks_lock(unsigned char* l) { (void) l; }
    static inline void sks_unlock(unsigned char* l) { (void) l; }
    #endif
    """
    int SKS_HAVE_ATOMICS
    double sks_load_double(const double* p) noexcept nogil
    void sks_store_double(double* p, double v) noexcept nogil
    void sks_lock(unsigned char* l) noexcept nogil
    void sks_unlock(unsigned char* l) noexcept nogil


import numpy as np

cdef double _H_FLOOR = 1e-300


cdef inline bint _heavier(double h1, long long k1, double h2,
                          long long k2) noexcept nogil:
    """Whether the edge (h1, k1) comes after (h2, k2) in the strict order."""
    return h1 > h2 or (h1 == h2 and k1 > k2)


cdef inline long long _edge_key(const long long[::1] perm, long long i, long long j,
                                long long n) noexcept nogil:
    cdef long long a = perm[i]
    cdef long long b = perm[j]
    if a < b:
        return a * n + b
    return b * n + a


def _compatible_weights(const long long[::1] indptr, const long long[::1] indices,
                        const double[::1] data, const double[::1] w,
                        int n_threads=1):
    """Compatible-relaxation weight of every stored entry of ``A`` (CSR).

    Rows are independent (``prange`` over rows with ``n_threads`` threads;
    every entry is computed the same way on any thread count).

    Returns
    -------
    h : ndarray of shape (nnz,)
        ``h_ij`` floored at 1e-300 for off-diagonal non-zero entries, -1 for
        the diagonal and stored zeros.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t nnz = indices.shape[0]
    cdef double[::1] diag = np.zeros(n, dtype=np.float64)
    cdef double[::1] h = np.empty(nnz, dtype=np.float64)
    cdef Py_ssize_t i
    cdef int nt = max(n_threads, 1)
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        diag[i] = _row_diagonal(i, indptr, indices, data)
    for i in prange(n, nogil=True, schedule="static", num_threads=nt):
        _compatible_row(i, indptr, indices, data, w, diag, h)
    return np.asarray(h)


cdef inline double _row_diagonal(Py_ssize_t i, const long long[::1] indptr,
                                 const long long[::1] indices,
                                 const double[::1] data) noexcept nogil:
    cdef Py_ssize_t e
    cdef double d = 0.0
    for e in range(indptr[i], indptr[i + 1]):
        if indices[e] == i:
            d += data[e]
    return d


cdef inline void _compatible_row(Py_ssize_t i, const long long[::1] indptr,
                                 const long long[::1] indices,
                                 const double[::1] data, const double[::1] w,
                                 const double[::1] diag, double[::1] h) noexcept nogil:
    cdef Py_ssize_t e
    cdef long long j
    cdef double denom, value
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        if j == i or data[e] == 0.0:
            h[e] = -1.0
            continue
        denom = diag[i] * w[i] * w[i] + diag[j] * w[j] * w[j]
        if denom > 0.0:
            value = 1.0 - 2.0 * data[e] * w[i] * w[j] / denom
        else:
            value = _H_FLOOR
        if not value > _H_FLOOR:   # also catches NaN
            value = _H_FLOOR
        h[e] = value


cdef enum:
    # Candidates a vertex remembers from one scan of its row.
    _CACHE = 8


cdef struct _Candidate:
    # A remembered neighbour with the weight of the edge to it: a proposal
    # from the cache reads no entry of the matrix.
    double h
    long long v


cdef struct _Vertex:
    # Everything a proposal reads about its target in 16 bytes, so that the
    # records of large graphs stay in the cache.
    # The key of the standing offer is that of the pair (suitor, vertex),
    # needed only on a tie of the weights.
    double offer_h
    int key            # perm[v], the tie-break key
    int suitor


cdef inline bint _beats_offer(const _Vertex* vx, long long v, double h, long long k,
                              long long n) noexcept nogil:
    """Whether the edge (h, k) to ``v`` comes after ``v``'s standing offer."""
    cdef double offer = vx[v].offer_h
    if h != offer:
        return h > offer
    return vx[v].suitor != -1 and k > _pair_key(vx, vx[v].suitor, v, n)


cdef inline long long _pair_key(const _Vertex* vx, long long i, long long j,
                                long long n) noexcept nogil:
    cdef long long a = vx[i].key
    cdef long long b = vx[j].key
    if a < b:
        return a * n + b
    return b * n + a


def _suitor_matching(const long long[::1] indptr, const long long[::1] indices,
                     const double[::1] h, const long long[::1] perm,
                     int n_threads=1):
    """Locally dominant matching by the Suitor algorithm.

    A vertex's proposal goes to its heaviest neighbour whose standing offer
    is lighter; a displaced suitor proposes again. Offers only grow, so a
    neighbour that stops being available never becomes available again: one
    scan of the row keeps the ``_CACHE`` heaviest available neighbours in
    order, and the proposals after a displacement take the first of them
    still available; the row is scanned again only when all of them are
    taken (and never when the scan found no more than ``_CACHE``). On the
    dense coarse levels of expander-like graphs a vertex is displaced ten
    times or more.

    With ``n_threads > 1`` (and the atomic builtins) the proposal chains run
    in a ``prange``, as in Manne and Halappanavar's parallel Suitor: a
    proposal locks its target, checks the standing offer exactly and
    replaces it, and the thread goes on with the displaced suitor. A vertex
    is handled by one thread at a time (by its own iteration, then by
    whoever displaces it), so its candidate cache is private to that thread;
    a neighbour seen with a heavier offer, read without the lock, is
    unavailable for good. The locally dominant matching under a strict
    order is unique: the result does not depend on the thread count or the
    scheduling.

    Returns
    -------
    match : ndarray of shape (n,), dtype int64
        Partner of each vertex, -1 if unmatched.
    """
    cdef long long n = indptr.shape[0] - 1
    cdef long long[::1] match = np.full(n, -1, dtype=np.int64)
    # cache[u * _CACHE:][:count[u]]: u's candidates, heaviest first;
    # pos[u]: the next one to try; complete[u]: the scan saw all of them.
    cdef _Candidate* cache = <_Candidate*> malloc(
        max(n, 1) * _CACHE * sizeof(_Candidate))
    cdef signed char[::1] count = np.zeros(n, dtype=np.int8)
    cdef signed char[::1] pos = np.zeros(n, dtype=np.int8)
    cdef signed char[::1] complete = np.zeros(n, dtype=np.int8)
    cdef bint parallel_chains = n_threads > 1 and SKS_HAVE_ATOMICS
    cdef unsigned char[::1] locks = np.zeros(
        max(n, 1) if parallel_chains else 1, dtype=np.uint8)
    if n >= 2 ** 31 - 1:
        raise ValueError(
            f"Suitor matching takes fewer than 2**31 - 1 vertices, got {n}; "
            "use matching='preis'."
        )
    cdef _Vertex* vx = <_Vertex*> malloc(max(n, 1) * sizeof(_Vertex))
    cdef long long u, v
    if vx == NULL or cache == NULL:
        free(vx)
        free(cache)
        raise MemoryError()
    try:
        with nogil:
            for u in range(n):
                vx[u].offer_h = -1.0
                vx[u].key = <int> perm[u]
                vx[u].suitor = -1
            if parallel_chains:
                for u in prange(n, schedule="dynamic", chunksize=1024,
                                num_threads=n_threads):
                    _propose_chain(u, indptr, indices, h, vx, n, cache, count,
                                   pos, complete, &locks[0])
            else:
                for u in range(n):
                    _sequential_chain(u, indptr, indices, h, vx, n, cache, count,
                                      pos, complete)
            for u in range(n):
                v = vx[u].suitor
                if v != -1 and vx[v].suitor == u:
                    match[u] = v
    finally:
        free(vx)
        free(cache)
    return np.asarray(match)


cdef void _sequential_chain(long long u, const long long[::1] indptr,
                            const long long[::1] indices, const double[::1] h,
                            _Vertex* vx, long long n, _Candidate* cache,
                            signed char[::1] count, signed char[::1] pos,
                            signed char[::1] complete) noexcept nogil:
    """Proposals of ``u`` and of the suitors it displaces, on one thread."""
    cdef long long current = u, partner, v, displaced, k
    cdef const _Candidate* c
    cdef double best_h = -1.0
    while current != -1:
        partner = -1
        while pos[current] < count[current]:
            c = &cache[current * _CACHE + pos[current]]
            v = c.v
            k = _pair_key(vx, current, v, n)
            if _beats_offer(vx, v, c.h, k, n):
                partner = v
                best_h = c.h
                break
            pos[current] += 1
        if partner == -1 and not complete[current]:
            _scan_row(current, indptr, indices, h, vx, n, cache,
                      count, pos, complete, True, NULL)
            if count[current] > 0:
                partner = cache[current * _CACHE].v
                best_h = cache[current * _CACHE].h
        if partner == -1:
            break
        displaced = vx[partner].suitor
        vx[partner].suitor = <int> current
        vx[partner].offer_h = best_h
        current = displaced


cdef void _propose_chain(long long u, const long long[::1] indptr,
                         const long long[::1] indices, const double[::1] h,
                         _Vertex* vx, long long n, _Candidate* cache,
                         signed char[::1] count, signed char[::1] pos,
                         signed char[::1] complete,
                         unsigned char* locks) noexcept nogil:
    """Proposals of ``u`` and of the suitors it displaces, under locks."""
    cdef long long current = u, partner, v, k, displaced = -1
    cdef const _Candidate* c
    cdef double he
    while current != -1:
        partner = -1
        while True:
            if pos[current] >= count[current]:
                if complete[current]:
                    break
                _scan_row(current, indptr, indices, h, vx, n, cache, count, pos,
                          complete, False, locks)
                if count[current] == 0:
                    break
            c = &cache[current * _CACHE + pos[current]]
            v = c.v
            he = c.h
            if he < sks_load_double(&vx[v].offer_h):
                pos[current] += 1
                continue
            k = _pair_key(vx, current, v, n)
            sks_lock(&locks[v])
            if _beats_offer(vx, v, he, k, n):
                displaced = vx[v].suitor
                vx[v].suitor = <int> current
                sks_store_double(&vx[v].offer_h, he)
                sks_unlock(&locks[v])
                partner = v
                break
            sks_unlock(&locks[v])
            pos[current] += 1
        if partner == -1:
            break
        current = displaced


cdef void _scan_row(long long u, const long long[::1] indptr,
                    const long long[::1] indices, const double[::1] h,
                    const _Vertex* vx, long long n,
                    _Candidate* cache, signed char[::1] count,
                    signed char[::1] pos, signed char[::1] complete,
                    bint exact, unsigned char* locks) noexcept nogil:
    """The ``_CACHE`` heaviest available neighbours of ``u``, in order.

    ``exact=False`` (the parallel matching, where offers change under the
    scan): the offer's weight is read atomically; a neighbour whose offer
    is heavier is left out (offers only grow, so it stays unavailable), and
    on equal weights the keys are compared under the neighbour's lock.
    """
    cdef double[_CACHE] top_h
    cdef long long[_CACHE] top_k
    cdef long long[_CACHE] top_v
    cdef int filled = 0, found = 0, t
    cdef Py_ssize_t e
    cdef long long v, k
    cdef double he, offer
    cdef bint available
    for e in range(indptr[u], indptr[u + 1]):
        he = h[e]
        if he <= 0.0:
            continue
        v = indices[e]
        # Lighter than the last kept candidate: only count it (ties count as
        # available, so ``complete`` errs towards rescanning).
        offer = sks_load_double(&vx[v].offer_h)
        if filled == _CACHE and he < top_h[_CACHE - 1]:
            found += 1 if he >= offer else 0
            continue
        if he < offer:
            continue
        k = _pair_key(vx, u, v, n)
        if exact:
            if not _beats_offer(vx, v, he, k, n):
                continue
        elif he == offer:
            # A tie on the weight: the keys decide, read under the lock (a
            # candidate kept here is available now; one rejected later,
            # under the lock, is unavailable for good, so rescans progress).
            sks_lock(&locks[v])
            available = _beats_offer(vx, v, he, k, n)
            sks_unlock(&locks[v])
            if not available:
                continue
        found += 1
        if filled == _CACHE and not _heavier(he, k, top_h[_CACHE - 1],
                                             top_k[_CACHE - 1]):
            continue
        # Insert into the sorted buffer (heaviest first).
        t = filled if filled < _CACHE else _CACHE - 1
        while t > 0 and _heavier(he, k, top_h[t - 1], top_k[t - 1]):
            top_h[t] = top_h[t - 1]
            top_k[t] = top_k[t - 1]
            top_v[t] = top_v[t - 1]
            t -= 1
        top_h[t] = he
        top_k[t] = k
        top_v[t] = v
        if filled < _CACHE:
            filled += 1
    for t in range(filled):
        cache[u * _CACHE + t].h = top_h[t]
        cache[u * _CACHE + t].v = top_v[t]
    count[u] = filled
    pos[u] = 0
    complete[u] = found <= _CACHE


cdef inline long long _preis_candidate(long long u, const long long[::1] indptr,
                                       const long long[::1] indices,
                                       const double[::1] h, const long long[::1] order,
                                       long long[::1] pointer,
                                       const long long[::1] match) noexcept nogil:
    """Heaviest free neighbour of ``u`` (rows sorted by decreasing order)."""
    cdef long long e, v
    while pointer[u] < indptr[u + 1]:
        e = order[pointer[u]]
        if h[e] > 0.0:
            v = indices[e]
            if match[v] == -1:
                return v
        pointer[u] += 1
    return -1


def _preis_matching(const long long[::1] indptr, const long long[::1] indices,
                    const double[::1] h, const long long[::1] order):
    """Locally dominant matching by Preis' pointer-following algorithm.

    ``order`` lists the entry positions of every row by decreasing
    ``(h, key)``: ``order[indptr[i]:indptr[i + 1]]`` are row ``i``'s entries.

    Returns
    -------
    match : ndarray of shape (n,), dtype int64
    """
    cdef long long n = indptr.shape[0] - 1
    cdef long long[::1] match = np.full(n, -1, dtype=np.int64)
    cdef long long[::1] pointer = np.array(indptr[:n], dtype=np.int64)
    cdef long long capacity = 2 * n + 2
    cdef long long* stack = <long long*> malloc(capacity * sizeof(long long))
    cdef long long top, s, u, c, d
    if stack == NULL:
        raise MemoryError()
    try:
        with nogil:
            for s in range(n):
                if match[s] != -1:
                    continue
                top = 0
                stack[0] = s
                while top >= 0:
                    u = stack[top]
                    if match[u] != -1:
                        top -= 1
                        continue
                    c = _preis_candidate(u, indptr, indices, h, order, pointer, match)
                    if c == -1:
                        top -= 1
                        continue
                    d = _preis_candidate(c, indptr, indices, h, order, pointer, match)
                    if d == u:
                        match[u] = c
                        match[c] = u
                        top -= 1
                        continue
                    # The chain's weights increase strictly: it ends in a
                    # mutual pair. Stale entries below are skipped when popped.
                    if top + 2 >= capacity:
                        stack[0] = s
                        top = 0
                    top += 1
                    stack[top] = c
    finally:
        free(stack)
    return np.asarray(match)
