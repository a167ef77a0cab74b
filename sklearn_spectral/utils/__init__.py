"""Shared pieces of sklearn_spectral: threads, graphs, validation, discovery."""

from ._openmp_helpers import _openmp_effective_n_threads, _openmp_parallelism_enabled
from ._threading import blas_threadpool_info, single_threaded_blas
from .discovery import all_estimators

__all__ = [
    "all_estimators",
    "blas_threadpool_info",
    "single_threaded_blas",
    "_openmp_effective_n_threads",
    "_openmp_parallelism_enabled",
]
