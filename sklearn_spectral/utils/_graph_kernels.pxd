# Graph kernels that other Cython modules call without the GIL.
#
# ``_modularity_of_labels`` is the one serial modularity routine of the library:
# the Python-level ``sklearn_spectral.utils.graph.modularity`` sums the same
# quantities over row blocks in parallel; Cython callers that score many
# labellings inside their own ``prange`` (the K-means restarts of
# AMGSpectralClustering) call this function once per labelling.

from libc.string cimport memset


cdef inline double _modularity_of_labels(
    const long long* indptr,
    const long long* indices,
    const double* data,
    Py_ssize_t n,
    Py_ssize_t n_clusters,
    const long long* labels,
    double resolution,
    double* in_c,
    double* vol_c,
) noexcept nogil:
    """Modularity of ``labels`` (values in [0, n_clusters)) on a CSR graph.

    ``in_c`` and ``vol_c`` are caller-owned work arrays of length n_clusters.
    Same definition as ``sklearn_spectral.utils.graph.modularity``; returns 0
    for a graph without edges.
    """
    cdef Py_ssize_t i, e, c
    cdef double total = 0.0, q = 0.0
    memset(in_c, 0, n_clusters * sizeof(double))
    memset(vol_c, 0, n_clusters * sizeof(double))
    for i in range(n):
        c = labels[i]
        for e in range(indptr[i], indptr[i + 1]):
            total += data[e]
            vol_c[c] += data[e]
            if labels[indices[e]] == c:
                in_c[c] += data[e]
    if total <= 0.0:
        return 0.0
    for c in range(n_clusters):
        q += in_c[c] / total - resolution * (vol_c[c] / total) * (vol_c[c] / total)
    return q
