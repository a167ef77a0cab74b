"""Keep BLAS and OpenMP from oversubscribing the cores.

A ``prange`` region whose threads call BLAS would otherwise let each of them
start its own BLAS thread pool (n_threads x n_blas_threads workers on n cores).
Such a region runs inside :func:`single_threaded_blas`, as scikit-learn's KMeans
does around its Lloyd iterations.
"""

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from ._openmp_helpers import _openmp_effective_n_threads, _openmp_parallelism_enabled

__all__ = [
    "single_threaded_blas",
    "blas_threadpool_info",
    "run_on_row_ranges",
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


def run_on_row_ranges(run, n_rows, n_threads):
    """Call ``run(start, stop)`` on consecutive ranges of rows, one thread each.

    For passes over the rows of an array whose blocks go to numpy and BLAS,
    which release the GIL: with ``n_threads`` Python threads each running
    single-threaded BLAS on its own range (call this inside
    :func:`single_threaded_blas`), every part of the pass runs in parallel,
    not only the parts that BLAS threads itself.

    Parameters
    ----------
    run : callable
        ``run(start, stop)`` handles the rows ``start:stop``.
    n_rows : int
    n_threads : int
        Ranges (and threads); 1 or less calls ``run(0, n_rows)`` here.

    Returns
    -------
    results : list
        What ``run`` returned for each range, in the order of the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_spectral.utils._threading import run_on_row_ranges
    >>> X = np.arange(10.0)
    >>> sum(run_on_row_ranges(lambda a, b: X[a:b].sum(), 10, 2))
    45.0
    """
    if n_threads <= 1:
        return [run(0, n_rows)]
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(np.intp)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        jobs = [pool.submit(run, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        return [job.result() for job in jobs]
