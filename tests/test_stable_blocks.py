"""The vectorised CMS blocks and the stream fill behind rvs / stream_rvs, against scalar references.

The blocks have two loop shapes (one fused loop when numba targets AVX-512, passes over L1-sized
blocks otherwise), chosen at compile time by ``WIDE_VECTORS``; both must give the same bits. The
fill of :func:`simulations.stable.cpu.fill_stable_streams` draws two rows' uniforms in one loop;
each row must still be its stream's draws in order, as m calls of the scalar ``stable_s1_draw``
(libm sin/log/exp, so the values agree to rounding, not bit for bit) would give them.
"""
from __future__ import annotations

import types

import numba as nb
import numpy as np
import pytest

from simulations._core import vector_width
from simulations.stable import api as stable
from simulations.stable import cpu as K
from simulations.stable.streams import init_states

# polynomial sin/log/exp against libm: a few ulp in the exponent E of X = sin(·)·e^E give a relative
# error of |E| · 4 · 2^-52 ≲ 1e-14 in X (|E| ≲ 50 here); in the far tail, where the cosine's argument
# nears π/2, both paths lose the same bits to rounding of that argument (≈ 2^-52 / (π/2 − |arg|)), and
# draws with relative differences of 4e-12 occur (1 in 16 384 at α = 1.2, β = 0.6). 1e-9 still fails
# any wrong stream order or formula by orders of magnitude (those change values at O(1))
RTOL = 1e-9


@pytest.mark.parametrize("name, features, expected", [
    ("haswell", "", False),                        # the AVX2 recipe of the benches
    ("skylake-avx512", "", True),
    ("znver4", "", True),
    ("generic", "", False),
    ("znver5", "+avx2,-avx512f", False),           # an explicit feature decides over the name
    ("haswell", "+avx512f", True),
])
def test_wide_vectors_follows_numba_settings(name, features, expected):
    assert vector_width.wide_vectors(name, features) is expected


def test_wide_vectors_on_the_host_matches_cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags on this system")
    import llvmlite.binding as ll
    assert vector_width.wide_vectors(ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten()) == (
        "avx512f" in flags)


def _other_shape(dispatcher):
    """The block compiled with WIDE_VECTORS negated (for the host target, so it runs anywhere)."""
    f = dispatcher.py_func
    g = dict(f.__globals__, WIDE_VECTORS=not K.WIDE_VECTORS)
    clone = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
    return nb.njit(fastmath={"contract"}, error_model="numpy")(clone)


def _inputs(n, seed):
    rng = np.random.default_rng(seed)
    u, u2 = rng.random(n), rng.random(n)
    # the edges: u = 0 (read as 2^-54), u → 1, u2 = 0, u2 → 1, V = 0
    k = min(n, 6)
    u[:k] = [0.0, 1.0 - 2.0**-53, 0.5, 2.0**-53, 0.25, 0.999][:k]
    u2[:k] = [0.3, 0.7, 0.0, 1.0 - 2.0**-53, 2.0**-53, 0.5][:k]
    return u, u2


@pytest.mark.parametrize("n", [1, 255, 1000])
def test_both_loop_shapes_give_the_same_bits(n):
    sym, skew = _other_shape(K.cms_sym_block), _other_shape(K.cms_block)
    u, u2 = _inputs(n, n)
    for alpha in (0.3, 1.2, 1.5, 1.8):
        a, b = np.empty(n), np.empty(n)
        K.cms_sym_block(alpha, u, u2, a, 2.0, 0.5)
        sym(alpha, u, u2, b, 2.0, 0.5)
        np.testing.assert_array_equal(a, b)
    for alpha, beta in ((0.7, 1.0), (1.5, 0.5), (1.8, -1.0), (2.0, 0.0)):
        a, b = np.empty(n), np.empty(n)
        K.cms_block(alpha, beta, u, u2, a, 3.0, -1.0)
        skew(alpha, beta, u, u2, b, 3.0, -1.0)
        np.testing.assert_array_equal(a, b)


@nb.njit
def _scalar_rows(states, alpha, beta, scale, loc, counts, out):
    """Row i: counts[i] scalar stable_s1_draw calls on stream i (the reference order of the streams)."""
    for i in range(states.shape[0]):
        for j in range(counts[i]):
            out[i, j] = scale * K.stable_s1_draw(states, i, alpha, beta) + loc


@pytest.mark.parametrize("n_rows", [1, 3, 4])
@pytest.mark.parametrize("alpha, beta", [(1.5, 0.0), (0.8, 0.5), (2.0, 0.0), (1.0, 0.3)])
def test_stream_fill_is_each_rows_scalar_draws(n_rows, alpha, beta):
    m = 300
    fast, slow = init_states(n_rows, 17), init_states(n_rows, 17)
    out = np.empty((n_rows, m))
    K.fill_stable_streams(fast, alpha, beta, 2.0, 0.5, out)
    ref = np.empty((n_rows, m))
    _scalar_rows(slow, alpha, beta, 2.0, 0.5, np.full(n_rows, m), ref)
    np.testing.assert_allclose(out, ref, rtol=RTOL)
    np.testing.assert_array_equal(fast, slow)  # every stream advanced by exactly 2m outputs, the others untouched


@pytest.mark.parametrize("alpha, beta, param", [(1.5, 0.0, "S0"), (1.2, 0.6, "S1")])
def test_rvs_block_k_is_stream_k(alpha, beta, param):
    rest = 7
    n = stable.RVS_BLOCK + rest
    x = stable.rvs(alpha, beta, 2.0, 0.5, size=n, param=param, seed=5)
    # the documented seeding: one 63-bit integer from the seed's Generator seeds the streams
    states = init_states(2, int(np.random.default_rng(5).integers(0, 2**63)))
    ref = np.empty((2, stable.RVS_BLOCK))
    loc = 0.5 if param == "S1" else 0.5 - beta * 2.0 * np.tan(np.pi * alpha / 2)  # δ1 = δ0 − βσ tan(πα/2)
    _scalar_rows(states, alpha, beta, 2.0, loc, np.array([stable.RVS_BLOCK, rest]), ref)
    np.testing.assert_allclose(x[: stable.RVS_BLOCK], ref[0], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(x[stable.RVS_BLOCK :], ref[1, :rest], rtol=RTOL, atol=1e-12)
