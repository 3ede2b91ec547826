"""Shared setup of the tests/test_cuda_*.py modules (imported first by each of them).

The CUDA tests run on numba's CUDA *simulator* unless the environment says otherwise:
``NUMBA_ENABLE_CUDASIM`` defaults to ``1`` here (set ``NUMBA_ENABLE_CUDASIM=0`` to run the same
tests on a real GPU). The variable must be set before ``numba.cuda`` is first imported. The
simulator runs one Python thread per CUDA thread, so every test uses tiny sizes.

``require()`` skips the calling module when numba.cuda cannot run kernels (numba-cuda not
installed, or numba.cuda already imported for a real target on a machine without a GPU).
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest  # noqa: E402


def require():
    try:
        from simulations._core.device import cuda_available, simulator_enabled
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"simulations.cuda unavailable: {exc}", allow_module_level=True)
    if not cuda_available():
        pytest.skip("numba.cuda cannot run kernels here (install numba-cuda; NUMBA_ENABLE_CUDASIM=1 "
                    "must be set before numba.cuda is first imported)", allow_module_level=True)
    return simulator_enabled()


# uint64 arithmetic of xoroshiro128+ wraps modulo 2^64 by design; on the simulator it runs on
# numpy scalars, which warn about it. numba.cuda.random's host helpers fall back to object mode
# on the simulator and warn too. Use as ``pytestmark = _cuda_setup.PYTESTMARK``.
PYTESTMARK = [
    pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaWarning"),
]
