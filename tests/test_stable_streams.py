"""Per-stream xoroshiro128+ (simulations.stable.streams) against a pure-Python reference.

The reference below is written from the published algorithm (Blackman & Vigna,
"Scrambled linear pseudorandom number generators", 2018: xoroshiro128+ with
rotations a=55, b=14, c=36, jump polynomial 0xbeac0467eba5facb/0xd86b048b86aa9922)
and splitmix64 seeding, with Python integers masked to 64 bits.
"""
from __future__ import annotations

import numba as nb
import numpy as np
import pytest
from scipy import stats

from simulations.stable import streams as rng

M64 = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def _next(s):
    s0, s1 = s
    result = (s0 + s1) & M64
    s1 ^= s0
    s[0] = _rotl(s0, 55) ^ s1 ^ ((s1 << 14) & M64)
    s[1] = _rotl(s1, 36)
    return result


def _jump(s):
    t0 = t1 = 0
    for jw in (0xBEAC0467EBA5FACB, 0xD86B048B86AA9922):
        for b in range(64):
            if jw >> b & 1:
                t0 ^= s[0]
                t1 ^= s[1]
            _next(s)
    s[0], s[1] = t0, t1


def _reference_states(n, seed):
    z = (seed + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    out = [[z, z]]
    for _ in range(1, n):
        s = list(out[-1])
        _jump(s)
        out.append(s)
    return out


@nb.njit
def _draw_uint(states, i, m):
    out = np.empty(m, dtype=np.uint64)
    for j in range(m):
        out[j] = rng.next_uint64(states, i)
    return out


@nb.njit
def _draw_uniform_open(states, i, m):
    out = np.empty(m)
    for j in range(m):
        out[j] = rng.uniform_open(states, i)
    return out


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**64 - 1])
def test_streams_match_reference(seed):
    states = rng.init_states(3, seed)
    ref = _reference_states(3, seed)
    for i in range(3):
        assert [int(states[i, 0]), int(states[i, 1])] == ref[i]
        got = _draw_uint(states, i, 20)
        s = list(ref[i])
        assert [int(g) for g in got] == [_next(s) for _ in range(20)]


def test_uniform_open_is_uniform_and_open():
    # KS against U(0,1) on 10^5 draws; p > 1e-3 fails by chance with probability 1e-3.
    u = _draw_uniform_open(rng.init_states(1, 7), 0, 100_000)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_streams_are_distinct():
    states = rng.init_states(4, 3)
    draws = [tuple(_draw_uint(states, i, 4)) for i in range(4)]
    assert len(set(draws)) == 4


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        rng.init_states(2, bad)


@pytest.mark.parametrize("k", [1, 3])
def test_subsequence_start_matches_reference_jumps(k):
    """Skipping k streams (binary powers of the jump) equals k jumps of the published polynomial."""
    ref = _reference_states(k + 2, 99)
    got = rng.init_states(2, 99, k)
    assert [[int(v) for v in row] for row in got] == ref[k:]


def test_huge_subsequence_start_is_fast_and_exact():
    """init_states(3, 0, 10**18) looped 10¹⁸ jumps. The period of xoroshiro128+ is 2^128 − 1, so
    T^(2^64·(2^64 − 1)) followed by one more jump is T^(2^128) = T: one step of the seed state."""
    s = rng.init_states(3, 0, 10**18)
    assert s.shape == (3, 2) and len({tuple(r) for r in s.tolist()}) == 3
    for seed in (7, 2**64 - 1):
        last = rng.init_states(2, seed, 2**64 - 1)
        first = [int(v) for v in rng.init_states(1, seed)[0]]
        _next(first)
        assert [int(v) for v in last[1]] == first


@pytest.mark.parametrize("kw,name", [(dict(subsequence_start=2**64), "subsequence_start"),
                                     (dict(subsequence_start=-1), "subsequence_start"),
                                     (dict(n_streams=rng.STREAMS_MAX + 1), "n_streams")])
def test_init_states_limits(kw, name):
    args = dict(n_streams=2, seed=1) | kw
    with pytest.raises(ValueError, match=name):
        rng.init_states(**args)
