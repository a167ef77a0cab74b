"""Keep BLAS and OpenMP from oversubscribing the cores.

A ``prange`` region whose threads call BLAS would otherwise let each of them
start its own BLAS thread pool (n_threads x n_blas_threads workers on n cores).
Such a region runs inside :func:`single_threaded_blas`, as scikit-learn's KMeans
does around its Lloyd iterations.
"""

from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController, threadpool_info

from ._openmp_helpers import _openmp_effective_n_threads, _openmp_parallelism_enabled

__all__ = [
    "single_threaded_blas",
    "blas_threadpool_info",
    "_openmp_effective_n_threads",
    "_openmp_parallelism_enabled",
]


@lru_cache(maxsize=1)
def _threadpool_controller():
    # Inspecting the loaded libraries costs milliseconds: do it once per process.
    return ThreadpoolController()


@contextmanager
def single_threaded_blas():
    """Context manager limiting every BLAS library to one thread.

    Wrap calls to OpenMP kernels whose parallel regions call BLAS (directly or
    through scipy's Cython BLAS). OpenMP limits are left untouched.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils import single_threaded_blas
    >>> with single_threaded_blas():
    ...     _ = np.ones((3, 3)) @ np.ones((3, 3))
    """
    with _threadpool_controller().limit(limits=1, user_api="blas"):
        yield


def blas_threadpool_info():
    """Describe the BLAS libraries in use and their current thread counts.

    Returns
    -------
    info : list of dict
        The BLAS entries of :func:`threadpoolctl.threadpool_info`.
    """
    return [d for d in threadpool_info() if d.get("user_api") == "blas"]
