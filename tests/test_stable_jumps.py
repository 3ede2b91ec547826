"""xoroshiro128+ jump-ahead (host matrices and the device jump) against direct stepping of the generator.

Oracle: stepping the CPU stream one draw at a time (simulations.stable.streams.next_uint64).
"""
from __future__ import annotations

import _cuda_setup  # noqa: F401
import numba as nb
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations.stable import cuda as rk  # noqa: E402
from simulations.stable import jumps as jk  # noqa: E402
from simulations.stable.streams import init_states, next_uint64  # noqa: E402


@nb.njit
def _step_n(states, i, m):
    for _ in range(m):
        next_uint64(states, i)


@given(m=st.integers(0, 5000), seed=st.integers(0, 2**64 - 1))
def test_jump_equals_stepping(m, seed):
    s = init_states(1, seed)
    a = s.copy()
    _step_n(a, 0, m)
    b = s.copy()
    jk.advance(b, 0, m, jk.POWERS)
    assert np.array_equal(a, b)


def test_jump_2_64_is_stream_spacing_and_device_jump_matches_host():
    s = init_states(2, 123)
    assert jk.apply(jk.POWERS[64], s[0, 0], s[0, 1]) == (s[1, 0], s[1, 1])

    @cuda.jit
    def dev_jump(M, states):
        i = cuda.grid(1)
        if i < states.shape[0]:
            rk.jump_apply(M, states, i)

    M = jk.power(777)
    d = cuda.to_device(s.copy())
    dev_jump[1, 2](cuda.to_device(M), d)
    ref = s.copy()
    _step_n(ref, 0, 777)
    _step_n(ref, 1, 777)
    assert np.array_equal(d.copy_to_host(), ref)
