"""Thread-count helpers for the OpenMP kernels.

All OpenMP routines are declared once, in ``_openmp_helpers.pxd``; this module
exposes what Python code needs from them.
"""

from cython.parallel cimport prange

import numbers
import os
from functools import lru_cache

from joblib import cpu_count


def _openmp_parallelism_enabled():
    """Whether the compiled kernels were built with OpenMP.

    Returns
    -------
    enabled : bool
        True when the package was compiled with OpenMP support. When False,
        every ``prange`` loop runs serially and
        :func:`_openmp_effective_n_threads` always returns 1.
    """
    return bool(SKSPECTRAL_OPENMP_ENABLED)


@lru_cache(maxsize=2)
def _usable_cpus(only_physical_cores):
    """CPUs usable by this process (cgroup and affinity aware), read once.

    joblib reads the cgroup files at every call, about a millisecond, which
    adds up where a kernel asks for its thread count once per pass.
    """
    return cpu_count(only_physical_cores=only_physical_cores)


cpdef int _openmp_effective_n_threads(n_threads=None, bint only_physical_cores=False):
    """Number of OpenMP threads a kernel should use, read at call time.

    The value honours, in this order, an explicit ``n_threads``, the current
    OpenMP limit (set by ``OMP_NUM_THREADS`` or, at run time, by
    ``threadpoolctl.threadpool_limits`` and joblib's workers), and the number of
    CPUs usable by this process (cgroup and affinity aware, via joblib).

    Parameters
    ----------
    n_threads : int or None, default=None
        ``None`` uses the limit described above. A positive value is used as
        is; a negative value counts down from the maximum (``-1`` = all
        threads, ``-2`` = all but one; at least 1).
    only_physical_cores : bool, default=False
        Count only physical cores when no limit is set.

    Returns
    -------
    n_threads : int
        Always 1 when the package was built without OpenMP.
    """
    if n_threads is not None:
        if (
            isinstance(n_threads, bool)
            or not isinstance(n_threads, numbers.Integral)
            or n_threads == 0
        ):
            raise ValueError(
                f"n_threads must be a non-zero integer or None, got {n_threads!r}."
            )
        n_threads = int(n_threads)

    if not SKSPECTRAL_OPENMP_ENABLED:
        return 1

    cdef int max_n_threads
    if os.getenv("OMP_NUM_THREADS"):
        # The user (or threadpoolctl/joblib) set the limit explicitly.
        max_n_threads = omp_get_max_threads()
    else:
        # omp_get_max_threads() counts hardware threads of the host; a
        # container or CPU affinity may grant fewer.
        max_n_threads = min(omp_get_max_threads(), _usable_cpus(only_physical_cores))

    if n_threads is None:
        return max(max_n_threads, 1)
    if n_threads < 0:
        return max(max_n_threads + 1 + n_threads, 1)
    return n_threads


def _omp_max_threads():
    """Raw ``omp_get_max_threads()`` (1 without OpenMP); for diagnostics."""
    return omp_get_max_threads()


def _threads_in_parallel_region(int n_threads):
    """Size of the team an OpenMP parallel region gets for ``n_threads``.

    1 without OpenMP. A diagnostic used by the tests and ``show_versions``.
    """
    cdef int team = 1
    cdef Py_ssize_t _
    for _ in prange(1, nogil=True, num_threads=n_threads):
        team = omp_get_num_threads()
    return team
