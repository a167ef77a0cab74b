"""Cython kernels for the graph helpers in :mod:`sklearn_spectral.utils.graph`.

The modularity sums run over fixed blocks of rows in a ``prange``: each block
writes its own partial sum, and the partial sums are added in block order
afterwards, so the result is bit-for-bit the same for any number of threads.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t

import numpy as np

from ._openmp_helpers cimport omp_get_thread_num

ctypedef fused index_t:
    int32_t
    int64_t

# Rows per block of the deterministic reduction.
cdef Py_ssize_t _ROW_BLOCK = 2048


cdef inline double _intra_weight_rows(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const int64_t[::1] labels,
    double[::1] degree,
    Py_ssize_t start,
    Py_ssize_t stop,
) noexcept nogil:
    """Weight of the stored entries of rows [start, stop) whose two ends share
    a label; writes each row's weighted degree into ``degree``."""
    cdef double intra = 0.0
    cdef double row_sum
    cdef Py_ssize_t i, k
    cdef int64_t label_i
    for i in range(start, stop):
        row_sum = 0.0
        label_i = labels[i]
        for k in range(indptr[i], indptr[i + 1]):
            row_sum = row_sum + data[k]
            if labels[indices[k]] == label_i:
                intra = intra + data[k]
        degree[i] = row_sum
    return intra


def _modularity_partial_sums(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const int64_t[::1] labels,
    int n_threads,
):
    """Per-block intra-cluster weights and per-row weighted degrees of a CSR
    matrix.

    Parameters
    ----------
    data, indices, indptr : CSR arrays of a square matrix with n rows.
    labels : int64 array of shape (n,), values in [0, n_clusters).
    n_threads : int
        OpenMP threads for the ``prange`` over row blocks.

    Returns
    -------
    intra_per_block : ndarray of float64, one entry per block of rows.
    degree : ndarray of float64 of shape (n,), the row sums.
    block_thread : ndarray of int32, one entry per block of rows
        The OpenMP thread that summed each block (0 without OpenMP); lets the
        tests see that the loop really ran on several threads.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t n_blocks = (n + _ROW_BLOCK - 1) // _ROW_BLOCK
    intra_arr = np.zeros(n_blocks, dtype=np.float64)
    degree_arr = np.zeros(n, dtype=np.float64)
    cdef double[::1] intra = intra_arr
    cdef double[::1] degree = degree_arr
    block_thread_arr = np.zeros(n_blocks, dtype=np.int32)
    cdef int[::1] block_thread = block_thread_arr
    cdef Py_ssize_t b, start, stop
    # No more threads than blocks: an idle thread still costs a wake-up.
    if n_threads > n_blocks:
        n_threads = max(<int> n_blocks, 1)

    for b in prange(n_blocks, nogil=True, schedule="static", num_threads=n_threads):
        start = b * _ROW_BLOCK
        stop = start + _ROW_BLOCK
        if stop > n:
            stop = n
        intra[b] = _intra_weight_rows(
            data, indices, indptr, labels, degree, start, stop
        )
        block_thread[b] = omp_get_thread_num()
    return intra_arr, degree_arr, block_thread_arr


def _csr_matmat(
    const floating[::1] data,
    const index_t[::1] indices,
    const index_t[::1] indptr,
    const double[:, ::1] X,
    double[:, ::1] out,
    int n_threads,
):
    """``out = A @ X`` for the CSR matrix ``A`` and a C-ordered ``X``.

    Rows of ``out`` are split statically over ``n_threads`` threads; each row
    is summed in the stored order of its entries, so the result does not
    depend on the number of threads. One column (a Krylov solver's vector)
    sums in a register.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, m = X.shape[1]
    cdef Py_ssize_t i, k, c
    cdef double a, acc
    with nogil:
        if m == 1:
            for i in prange(n, schedule="static", num_threads=n_threads):
                acc = 0.0
                for k in range(indptr[i], indptr[i + 1]):
                    acc = acc + data[k] * X[indices[k], 0]
                out[i, 0] = acc
        else:
            for i in prange(n, schedule="static", num_threads=n_threads):
                for c in range(m):
                    out[i, c] = 0.0
                for k in range(indptr[i], indptr[i + 1]):
                    a = data[k]
                    for c in range(m):
                        out[i, c] += a * X[indices[k], c]
