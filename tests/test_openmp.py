"""The OpenMP build: thread counts read at call time, and the first kernel
giving the same result on one and two threads."""

import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sklearn_spectral.utils import (
    _openmp_effective_n_threads,
    _openmp_parallelism_enabled,
    single_threaded_blas,
)
from sklearn_spectral.utils._graph_kernels import _modularity_partial_sums
from sklearn_spectral.utils._openmp_helpers import _threads_in_parallel_region
from sklearn_spectral.utils._testing import random_weighted_graph
from sklearn_spectral.utils.graph import modularity

openmp_only = pytest.mark.skipif(
    not _openmp_parallelism_enabled(), reason="built without OpenMP"
)


def test_effective_n_threads_explicit_values():
    if _openmp_parallelism_enabled():
        assert _openmp_effective_n_threads(3) == 3
        top = _openmp_effective_n_threads()
        assert top >= 1
        assert _openmp_effective_n_threads(-1) == top
        assert _openmp_effective_n_threads(-top - 5) == 1
    else:
        assert _openmp_effective_n_threads() == 1
        assert _openmp_effective_n_threads(4) == 1


@pytest.mark.parametrize("bad", [0, 1.5, "two"])
def test_effective_n_threads_rejects_bad_values(bad):
    with pytest.raises((ValueError, TypeError), match="n_threads"):
        _openmp_effective_n_threads(bad)


@openmp_only
def test_effective_n_threads_follows_threadpoolctl_at_call_time():
    before = _openmp_effective_n_threads()
    with threadpool_limits(limits=1, user_api="openmp"):
        assert _openmp_effective_n_threads() == 1
    assert _openmp_effective_n_threads() == before


@openmp_only
def test_effective_n_threads_follows_omp_num_threads(tmp_path):
    code = (
        "from sklearn_spectral.utils import _openmp_effective_n_threads as f;"
        "print(f())"
    )
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True, cwd=tmp_path,  # not the source tree, which would shadow the install
    )
    assert out.stdout.strip() == "3"


def test_parallel_region_team_size():
    expected = 2 if _openmp_parallelism_enabled() else 1
    assert _threads_in_parallel_region(2) == expected
    assert _threads_in_parallel_region(1) == 1


def _kernel_inputs(A, labels):
    return (
        A.data,
        A.indices,
        A.indptr,
        np.ascontiguousarray(labels, dtype=np.int64),
    )


def test_modularity_kernel_runs_on_two_threads_with_identical_result():
    # 20 blocks of 2048 rows: a static schedule gives both threads work.
    A = random_weighted_graph(40_000, 5e-4, 1)
    labels = np.random.default_rng(1).integers(0, 7, A.shape[0])
    args = _kernel_inputs(A, labels)

    intra1, deg1, threads1 = _modularity_partial_sums(*args, 1)
    intra2, deg2, threads2 = _modularity_partial_sums(*args, 2)
    assert set(np.unique(threads1)) == {0}
    if _openmp_parallelism_enabled():
        assert set(np.unique(threads2)) == {0, 1}
    else:
        assert set(np.unique(threads2)) == {0}
    np.testing.assert_array_equal(intra1, intra2)
    np.testing.assert_array_equal(deg1, deg2)

    q1 = modularity(A, labels, n_threads=1)
    q2 = modularity(A, labels, n_threads=2)
    assert q1 == q2  # bitwise, not approximately


def test_modularity_kernel_fused_types_agree():
    A = random_weighted_graph(500, 0.02, 2)
    labels = np.arange(500) % 4
    ref = modularity(A, labels)
    A64 = A.copy()
    A64.indices = A64.indices.astype(np.int64)
    A64.indptr = A64.indptr.astype(np.int64)
    assert modularity(A64, labels) == pytest.approx(ref, abs=1e-14)
    A32 = A.astype(np.float32)
    intra, deg, _ = _modularity_partial_sums(*_kernel_inputs(A32, labels), 1)
    assert intra.dtype == np.float64
    np.testing.assert_allclose(deg, np.asarray(A.sum(axis=1)).ravel(), rtol=1e-6)


def test_single_threaded_blas_limits_blas_only():
    from sklearn_spectral.utils import blas_threadpool_info

    with single_threaded_blas():
        assert all(d["num_threads"] == 1 for d in blas_threadpool_info())
        if _openmp_parallelism_enabled():
            assert _threads_in_parallel_region(2) == 2
