"""Thread-pool control: OpenBLAS's spin made quiet for a block and restored, numba's pool started with a short
libgomp spin without leaking the variable, and per-entry noise at 2 threads equal to 1 thread."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from simulations._core import threads as th
from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, init_params, train


def _timeouts():
    """The spin exponent each bundled OpenBLAS last read from its environment (``openblas_thread_timeout``)."""
    th._blas()
    out = []
    for lib in th._LIBS:
        try:
            f = lib.openblas_thread_timeout
        except AttributeError:
            continue
        f.restype = ctypes.c_int
        out.append(int(f()))
    return out


@pytest.mark.skipif(os.environ.get("TAILCOMP_QUIET_BLAS") == "1" or "OPENBLAS_THREAD_TIMEOUT" in os.environ,
                    reason="the process-wide quiet mode or a user's OPENBLAS_THREAD_TIMEOUT is in force")
def test_quiet_openblas_sets_the_spin_for_the_block_and_restores_it():
    if not _timeouts():
        pytest.skip("no bundled OpenBLAS with openblas_thread_timeout to inspect")
    a = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    ref = a @ a
    with th.blas_threads(2, quiet=True):
        assert set(_timeouts()) == {th.THREAD_TIMEOUT_EXP}
        assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ   # read by the libraries, not left in the process
        got = a @ a                                         # the pool is recreated and computes as before
    assert set(_timeouts()) == {th.DEFAULT_TIMEOUT_EXP}
    np.testing.assert_array_equal(got, ref)
    with th.blas_threads(1, quiet=True):                    # one thread: nothing to quiet
        assert set(_timeouts()) == {th.DEFAULT_TIMEOUT_EXP}


_POOL_PROBE = """
import ctypes
import os
from simulations._core.threads import blas_threads
from numba.np.ufunc import parallel
with blas_threads(1):
    pass
print(parallel._is_initialized, os.environ.get("GOMP_SPINCOUNT"))
"""


@pytest.mark.parametrize("user", [None, "123"])
def test_numba_pool_start_does_not_leak_or_override_the_spin_variable(user):
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    if user is not None:
        env["GOMP_SPINCOUNT"] = user
    out = subprocess.run([sys.executable, "-c", _POOL_PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", str(user)]


def test_entry_noise_training_equals_across_thread_counts():
    """Row i's draws come from stream i whatever the split, so 1 and 2 threads give the same weights."""
    spec = MLPSpec((20, 48, 3))
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 3, 64).astype(np.int32)
    runs = [train(spec, (X, y), params=init_params(spec, 0), optimizer=SGD(0.05), batch_size=16,
                  noise=NoiseConfig(1.5, 0.05, "entry"), stop=StopRules(max_steps=12), threads=t, seed=3)
            for t in (1, 2)]
    np.testing.assert_array_equal(runs[0].params.flat, runs[1].params.flat)
    assert runs[0].status == "completed"


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx2(), reason="OpenBLAS's Haswell kernels need AVX2")
def test_openblas_kernels_reports_the_forced_core_type():
    code = "from simulations._core.threads import openblas_kernels; print(sorted(set(openblas_kernels().values())))"
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got = out.stdout.strip()
    if got == "[]":
        pytest.skip("no bundled OpenBLAS with a get_corename symbol")
    assert got == "['Haswell']"
