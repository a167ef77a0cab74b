"""``show_versions``: what a bug report needs to know about this install."""

import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def _dependency_versions():
    out = {}
    for dist in ("numpy", "scipy", "scikit-learn", "threadpoolctl", "joblib", "Cython"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _build_info():
    from .utils._openmp_helpers import (
        _omp_max_threads,
        _openmp_effective_n_threads,
        _openmp_parallelism_enabled,
    )

    return {
        "openmp_built": _openmp_parallelism_enabled(),
        "openmp_effective_n_threads": _openmp_effective_n_threads(),
        "omp_max_threads": _omp_max_threads(),
    }


def _blas_info():
    from threadpoolctl import threadpool_info

    rows = []
    for lib in threadpool_info():
        rows.append(
            {
                "user_api": lib.get("user_api"),
                "internal_api": lib.get("internal_api"),
                "num_threads": lib.get("num_threads"),
                "version": lib.get("version"),
                "architecture": lib.get("architecture"),
                "filepath": lib.get("filepath"),
            }
        )
    return rows


def show_versions():
    """Print the versions of sklearn_spectral, its dependencies and the BLAS.

    Prints the library's version, Python and platform, the versions of numpy,
    scipy, scikit-learn, threadpoolctl and joblib, whether the compiled kernels
    were built with OpenMP and how many threads they use now, and each native
    thread pool (BLAS, OpenMP) that ``threadpoolctl`` finds.

    Examples
    --------
    >>> from sklearn_spectral import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    <BLANKLINE>
    System:
    ...
    """
    from . import __version__

    print("\nSystem:")
    print(f"{'python':>22}: {sys.version.splitlines()[0]}")
    print(f"{'executable':>22}: {sys.executable}")
    print(f"{'machine':>22}: {platform.platform()}")

    print("\nPython dependencies:")
    print(f"{'sklearn_spectral':>22}: {__version__}")
    for dist, ver in _dependency_versions().items():
        print(f"{dist:>22}: {ver}")

    info = _build_info()
    print("\nBuilt with OpenMP:", info["openmp_built"])
    print(f"{'OpenMP threads now':>22}: {info['openmp_effective_n_threads']}")

    print("\nThreadpool libraries:")
    for lib in _blas_info():
        for key, value in lib.items():
            print(f"{key:>22}: {value}")
        print()
