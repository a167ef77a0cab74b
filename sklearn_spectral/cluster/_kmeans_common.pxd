# Small inline kernels shared by the K-means restarts and the modularity
# refinement of AMGSpectralClustering.


cdef inline double _sqdist(const double* x, const double* c,
                           Py_ssize_t d) noexcept nogil:
    """``||x - c||^2``, summed in coordinate order (as ``_assign`` sums it)."""
    cdef double s = 0.0, diff
    cdef Py_ssize_t k
    for k in range(d):
        diff = x[k] - c[k]
        s += diff * diff
    return s
