"""Per-entry α-stable noise of the CPU neural core (``cpu_noise.noise_entry``) against a plain
``sas_draw`` reference: same stream use (draw for draw, masked entries draw nothing, column order)
and the same values to the block sampler's documented accuracy."""
import numba as nb
import numpy as np
import pytest

from simulations.nn.backends import cpu_noise as K
from simulations.stable.cpu import sas_draw
from simulations.stable.f32 import sas32_draw
from simulations.stable.streams import init_states


@nb.njit
def _reference(W, M, has_mask, states, base, alpha, amp, single=False):
    """The documented semantics, one scalar draw at a time: row i uses stream base + i; ``single``: the
    float32 draws (one stream output each, libm float32 transform), else the float64 ``sas_draw``."""
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            if has_mask and M[i, j] == 0:
                W[i, j] = 0.0
            else:
                W[i, j] += amp * (sas32_draw(states, base + i, alpha) if single else sas_draw(states, base + i, alpha))


@pytest.mark.parametrize("alpha", [0.6, 1.0, 1.5, 1.99, 2.0])
@pytest.mark.parametrize("has_mask", [False, True])
def test_entry_noise_matches_scalar_draws(alpha, has_mask):
    rng = np.random.default_rng(int(alpha * 100) + has_mask)
    dout, din, base = 23, 41, 3
    M = (rng.random((dout, din)) < 0.7).astype(np.uint8)
    M[0] = 0  # a fully masked row draws nothing
    M[1] = 1  # a full row
    Mk = M if has_mask else M[:0, :0]
    states = init_states(dout + base + 2, 11)
    W = np.zeros((dout, din))  # increments only: no cancellation in the comparison
    Wr, sr = W.copy(), states.copy()
    _reference(Wr, M, has_mask, sr, base, alpha, 0.37)
    out = []
    for T in (1, 4):  # the split of rows over scratch rows (threads) must not matter
        Wk, sk = W.copy(), states.copy()
        K.noise_entry(Wk, Mk, has_mask, sk, base, alpha, 0.37, np.empty((T, 3 * din)))
        assert np.array_equal(sk, sr)  # every stream advanced by exactly its number of draws
        out.append(Wk)
    assert np.array_equal(out[0], out[1])
    if has_mask:
        assert np.all(out[0][M == 0] == 0.0)
    # The kernel uses vectorised libm-free block samplers (polynomial log/exp/sin instead of libm), equal to
    # sas_draw to ~1e-13 relative but not bit-identical: tolerance 1e-12. α = 1: the reference's
    # tan(π(U − ½)) of a rounded argument loses ~1.6e-16 / (π min(U, 1 − U)) relative near the poles
    # (the kernel computes cos V = sin(π min(U, 1 − U)) exactly there), so allow 1e-10.
    rtol = 1e-10 if alpha == 1.0 else 1e-12
    np.testing.assert_allclose(out[0], Wr, rtol=rtol, atol=0.0)


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.75, 2.0])
@pytest.mark.parametrize("has_mask", [False, True])
def test_entry_noise_float32_weights_draw_float32_from_one_output_each(alpha, has_mask):
    rng = np.random.default_rng(int(alpha * 10) + 7 * has_mask)
    dout, din, base = 9, 37, 2
    M = (rng.random((dout, din)) < 0.6).astype(np.uint8)
    M[0] = 0
    Mk = M if has_mask else M[:0, :0]
    states = init_states(dout + base, 4)
    W = np.zeros((dout, din), np.float32)
    Wr, sr = W.astype(np.float64), states.copy()
    _reference(Wr, M, has_mask, sr, base, alpha, 1e-2, True)
    got = []
    for T in (1, 3):
        Wk, sk = W.copy(), states.copy()
        K.noise_entry(Wk, Mk, has_mask, sk, base, alpha, 1e-2, np.empty((T, 3 * din)))
        assert np.array_equal(sk, sr)           # one output per (unmasked) entry: the float32 stream use
        got.append(Wk)
    assert np.array_equal(got[0], got[1])
    if has_mask:
        assert np.all(got[0][M == 0] == 0.0)
    # polynomial block vs the reference's libm float32 transform: a few float32 ulp
    np.testing.assert_allclose(got[0], Wr.astype(np.float32), rtol=3e-6, atol=1e-9)
    # and not the float64 path's draws (two outputs per draw): another stream use, other numbers
    W64, s64 = np.zeros((dout, din)), states.copy()
    _reference(W64, M, has_mask, s64, base, alpha, 1e-2)
    assert not np.allclose(got[0], W64, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_check_codes_against_numpy_at_the_bound(dtype):
    from simulations.nn.backends.cpu_noise import weight_check

    # Oracle: numpy in float64, |x_j| ≤ max_weight for every j (NaN fails), then finite or not. The bounds
    # 0.1 and 1/3 are not float32 numbers: the entries one float32 step either side of them must be told apart.
    rng = np.random.default_rng(3)
    for bound in (0.1, 1.0 / 3.0, 2.0, 1e300):
        base = (rng.uniform(-1, 1, 1000) * min(bound, 1.0) * 0.5).astype(dtype)
        b = dtype(bound)
        near = [np.nextafter(b, dtype(np.inf)), b, np.nextafter(b, dtype(0))]
        for v in near + [-near[0], dtype(np.nan), dtype(np.inf), dtype(-np.inf)]:
            for k in (0, 517, 999):
                x = base.copy()
                x[k] = v
                x64 = x.astype(np.float64)
                want = 0 if np.all(np.abs(x64) <= bound) else (3 if np.all(np.isfinite(x64)) else 4)
                assert weight_check(x, bound) == want, (dtype, bound, v, k)
        assert weight_check(base, bound) == 0


@nb.njit
def _scalar_across(states, base, alpha, m):
    out = np.empty(m)
    for i in range(m):
        out[i] = sas_draw(states, base + i, alpha)
    return out


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 2.0])
def test_sas_across_is_one_sas_draw_per_stream(alpha):
    # Oracle: the scalar libm sampler, one sas_draw per stream base + i; the block transform is polynomial, so
    # equal to ~1e-13 relative (the CMS conditioning, not bit for bit), and every stream advanced exactly as by it.
    fast, slow = init_states(40, 5), init_states(40, 5)
    out, scratch = np.empty(30), np.empty(60)
    K.sas_across(fast, 7, alpha, out, scratch)
    np.testing.assert_allclose(out, _scalar_across(slow, 7, alpha, 30), rtol=1e-11, atol=1e-300)
    np.testing.assert_array_equal(fast, slow)
