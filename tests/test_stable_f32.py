"""simulations.stable.f32: float32 SαS draws of one stream output each, against independent oracles.

Oracles: the bit map written out here with Python integers and fractions; scipy's levy_stable CDF
(KS); the Chambers–Mallows–Stuck formula evaluated in float64 with numpy from the same (U, U2)
(accuracy of the float32 transform, tails included); the stream's own next_uint64 (stream use).
"""
from fractions import Fraction

import numba as nb
import numpy as np
import pytest
from scipy import stats

from simulations.stable import f32
from simulations.stable.streams import init_states, next_uint64


def _folder(fold):
    """A jitted map of an array of 64-bit outputs to their (us, u2) pairs by ``fold``."""
    @nb.njit
    def run(xs):
        us = np.empty(xs.shape[0], np.float32)
        u2 = np.empty(xs.shape[0], np.float32)
        for j in range(xs.shape[0]):
            us[j], u2[j] = fold(xs[j])
        return us, u2
    return run


_fold_many = _folder(f32.fold_bits)
_fold_lanes_many = _folder(f32.fold_bits_lanes)


@nb.njit
def _scalar(alpha, us, u2):
    out = np.empty(us.shape[0], np.float32)
    a = np.float32(alpha)
    for j in range(us.shape[0]):
        out[j] = f32.sas32_uu(a, us[j], u2[j])
    return out


@nb.njit
def _rows(states, alpha, n, m):
    out = np.empty((n, m), np.float32)
    raw = np.empty(m, np.uint64)
    us = np.empty(m, np.float32)
    u2 = np.empty(m, np.float32)
    for i in range(n):
        f32.sas32_fill(states, i, alpha, out[i], raw, us, u2)
    return out


@nb.njit
def _rows_scalar(states, alpha, n, m):
    out = np.empty((n, m), np.float32)
    for i in range(n):
        for j in range(m):
            out[i, j] = f32.sas32_draw(states, i, alpha)
    return out


@nb.njit
def _outputs(states, n, m):
    out = np.empty((n, m), np.uint64)
    for i in range(n):
        for j in range(m):
            out[i, j] = next_uint64(states, i)
    return out


def _cms64(alpha, u, u2):
    """SαS(1) from U, U2 in float64 (Chambers, Mallows & Stuck 1976; W = −ln U2), written out with numpy."""
    v = np.pi * (u - 0.5)
    w = -np.log(u2)
    if alpha == 1.0:
        return np.tan(v)
    if alpha == 2.0:
        return 2.0 * np.sin(v) * np.sqrt(w)
    return np.sin(alpha * v) / np.cos(v) ** (1 / alpha) * (np.cos((1 - alpha) * v) / w) ** ((1 - alpha) / alpha)


EDGE = [0, 1, 2**27 - 1, 2**27, 2**63 - 1, 2**63, 2**63 + 2**27, 2**64 - 1, 0x0123456789ABCDEF, 0xFEDCBA9876543210,
        (2**23 - 1) << 4, 2**36 << 27, (2**36 - 1) << 27]


def test_bit_map_against_exact_integer_arithmetic():
    xs = np.array(EDGE + list(np.random.default_rng(0).integers(0, 2**63, 500, dtype=np.uint64) * 2 + 1),
                  dtype=np.uint64)
    us, u2 = _fold_many(xs)
    for x, a, b in zip(xs.tolist(), us.tolist(), u2.tolist()):
        k, j = x >> 27, (x >> 4) & (2**23 - 1)
        U = Fraction(2 * k + 1, 2**38)                       # (k + ½) 2⁻³⁷
        um = min(U, 1 - U)
        # u_m is rounded to float32 (24 bits): relative error ≤ 2⁻²⁴; its sign is that of V = π(U − ½)
        assert abs(Fraction(abs(a)) - um) <= um * Fraction(1, 2**24) and 0 < abs(a) <= 0.5
        assert (a > 0) == (U > Fraction(1, 2))
        assert Fraction(b) == Fraction(2 * j + 1, 2**24)      # (j + ½) 2⁻²³, exact
    assert 0 < u2.min() and u2.max() < 1
    # the block's vector-friendly form of the map (magic-number conversions, a mask for the fold) is the
    # same map bit for bit, here and on a million random outputs
    for ys in (xs, np.random.default_rng(1).integers(0, 2**64 - 1, 10**6, dtype=np.uint64, endpoint=True)):
        ref, lanes = _fold_many(ys), _fold_lanes_many(ys)
        for r, l in zip(ref, lanes):
            np.testing.assert_array_equal(r.view(np.uint32), l.view(np.uint32))


@pytest.mark.parametrize("alpha", [0.6, 1.0, 1.3, 1.75, 1.99, 2.0])
def test_transform_agrees_with_float64_cms_in_body_and_tails(alpha):
    # (U, U2) over the body and down to the extreme folded values (u_m = 2⁻³⁸ … , U2 near 0 and 1)
    rng = np.random.default_rng(int(alpha * 100))
    xs = np.concatenate([rng.integers(0, 2**64 - 1, 20000, dtype=np.uint64, endpoint=True),
                         np.array(EDGE, dtype=np.uint64)])
    us, u2 = _fold_many(xs)
    u64 = np.where(us > 0, 1.0 - np.abs(us.astype(np.float64)), np.abs(us.astype(np.float64)))
    # the oracle on the same (float32-rounded) inputs; 1 − u_m rounds in float64 only for u_m < 2⁻⁵³
    ref = _cms64(alpha, u64, u2.astype(np.float64))
    blk = np.empty_like(us)
    f32.sas32_block(alpha, us, u2, blk, np.empty_like(us), np.empty_like(us))
    sca = _scalar(alpha, us, u2)
    assert np.all(np.isfinite(blk)) and np.all(np.isfinite(sca))
    # float32 transform: a few ulp (2⁻²³ ≈ 1.2e-7) per elementary function, ~10 of them, and the
    # conditioning of sin(αV) near αV = π (α → 2, far tail): 2e-5 relative, with an absolute floor
    # for draws near 0 (sin(α|V|) of |V| ≈ 0 is computed to absolute, not relative, accuracy)
    tol = 2e-5 * np.abs(ref) + 1e-6
    assert np.all(np.abs(blk - ref) <= tol), np.max(np.abs(blk - ref) / (np.abs(ref) + 1e-6))
    assert np.all(np.abs(sca - ref) <= tol), np.max(np.abs(sca - ref) / (np.abs(ref) + 1e-6))
    # the far tail is reached: the most extreme inputs give |X| ≈ (π 2⁻³⁸)^(−1/α) at α < 2
    if alpha < 2.0:
        assert np.max(np.abs(blk)) > 0.5 * (np.pi * 2.0**-38) ** (-1 / alpha)


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5, 1.75, 2.0])
def test_draws_follow_the_stable_law(alpha):
    # KS against scipy's SαS(1) CDF (S0 = S1 at β = 0; N(0, 2) at α = 2) on 20,000 draws from 40 streams.
    # Fixed seed: deterministic; for the right law p < 1e-3 has probability 1e-3. Power: the float64
    # path's factor-of-scale mistakes (e.g. σ 2^(1/α) instead of σ) give D ≈ 0.05-0.1, p < 1e-20 here.
    x = _rows(init_states(40, 21), alpha, 40, 500).ravel().astype(np.float64)
    cdf = stats.norm(scale=np.sqrt(2.0)).cdf if alpha == 2.0 else stats.levy_stable(alpha, 0.0).cdf
    assert stats.kstest(x, cdf).pvalue > 1e-3
    assert stats.kstest(x * 1.1, cdf).pvalue < 1e-3                       # a 10 % scale error is seen


def test_each_draw_takes_one_stream_output_and_block_equals_scalar_draws():
    st = init_states(7, 3)
    outs = _outputs(st.copy(), 7, 33)
    a, b = st.copy(), st.copy()
    blk = _rows(a, 1.6, 7, 33)
    sca = _rows_scalar(b, 1.6, 7, 33)
    after = st.copy()
    _outputs(after, 7, 33)
    assert np.array_equal(a, after) and np.array_equal(b, after)      # 33 outputs per stream, no more
    us, u2 = _fold_many(outs.ravel())
    np.testing.assert_array_equal(sca.ravel(), _scalar(1.6, us, u2))  # draw j of row i is output j of stream i
    np.testing.assert_allclose(blk, sca, rtol=2e-6, atol=1e-7)        # polynomial vs libm float32


def test_stream_rvs_float32_is_the_float32_kernel_path_scaled():
    from simulations.stable import stream_rvs, stream_states

    x = stream_rvs(1.7, 0.0, 5, 64, scale=0.3, loc=-2.0, dtype=np.float32, seed=9)
    assert x.dtype == np.float32 and x.shape == (5, 64)
    ref = _rows_scalar(stream_states(5, 9), 1.7, 5, 64)
    np.testing.assert_allclose(x, np.float32(0.3) * ref + np.float32(-2.0), rtol=3e-6, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        stream_rvs(1.7, 0.5, 2, 2, dtype=np.float32)
