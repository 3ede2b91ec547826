"""The streaming block-sum estimator (simulations.diagnostics.streaming).

Oracles: brute-force divisor search for the block size; a direct numpy evaluation of Mohammadi et al.'s
Cor. 2.4 on the stored sample (written here, the paper's code's formula) and the repository's
non-streaming ``simulations.tail_index.block_sum`` for streaming == non-streaming; scipy's SαS sampler
with a delta-method tolerance for the recovery of α.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulations.diagnostics import EPS_MAX, StreamingBlockSum, block_size
from simulations.tail_index import N_MAX, block_sum


def brute_block_size(n: int) -> int:
    return max(d for d in range(1, n + 1) if n % d == 0 and d * d <= n)


def direct_alpha(x: np.ndarray, m: int, eps: float = 0.0) -> float:
    """Cor. 2.4 on the stored sample: complete blocks of m consecutive samples; zeros out of both means (eps = 0)."""
    k = x.size // m
    x = np.asarray(x[: k * m], dtype=np.float64)
    y = np.abs(x.reshape(k, m).sum(axis=1))
    ax = np.abs(x)
    if eps > 0:
        lx, ly = np.log(ax + eps), np.log(y + eps)
    else:
        lx, ly = np.log(ax[ax > 0]), np.log(y[y > 0])
    return 1.0 / ((ly.mean() - lx.mean()) / math.log(m))


def test_block_size_is_the_largest_divisor_not_above_sqrt_brute_force():
    for n in range(1, 3001):
        assert block_size(n) == brute_block_size(n), n


@pytest.mark.parametrize("n, m", [(10**12, 10**6), (999_983 * 2, 2), (999_983**2, 999_983), (2**38, 2**19),
                                  (3 * 7 * 11 * 13 * 17 * 19 * 23, None), (2 * 3 * 5 * 7 * 11 * 13 * 17 * 19, None)])
def test_block_size_large(n, m):
    expected = m if m is not None else max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    assert block_size(n) == expected


def test_block_size_rejects_out_of_range():
    for bad in (0, -3, N_MAX + 1):
        with pytest.raises(ValueError, match="n"):
            block_size(bad)
    with pytest.raises(TypeError, match="n"):
        block_size(2.5)


def _sample(n, seed, zeros=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(1.5, n)
    if zeros:
        x[rng.choice(n, zeros, replace=False)] = 0.0
        x[10:10 + 7] = 0.0  # a run of zeros: some blocks of small m sum to exactly 0
    return x


@pytest.mark.parametrize("n, m, zeros, seed", [(6000, 60, 0, 0), (6000, 77, 0, 1), (5003, 70, 300, 2),
                                              (4096, 2, 50, 3), (1000, 999, 0, 4), (7919, 88, 0, 5)])
def test_streaming_equals_stored_sample_estimators(n, m, zeros, seed):
    x = _sample(n, seed, zeros)
    rng = np.random.default_rng(100 + seed)
    acc = StreamingBlockSum(m)
    i = 0
    while i < n:  # pieces of random lengths: empty, shorter than a block, spanning several blocks
        k = int(rng.choice([0, 1, 3, m - 1, m, m + 1, 5 * m + 2]))
        acc.update(x[i:i + k])
        i += k
    assert acc.n == n and acc.n_blocks == n // m and acc.pending == n % m
    ref = direct_alpha(x, m)
    assert acc.alpha == pytest.approx(ref, rel=1e-12)
    if m <= n // 2:  # block_sum's range of block sizes
        assert acc.alpha == pytest.approx(block_sum(x, block_sizes=[m], center=None), rel=1e-12)


def test_streaming_eps_form_is_the_papers_formula():
    x = _sample(4000, 7, zeros=200)
    eps = float(np.spacing(1))
    acc = StreamingBlockSum(50, eps=eps)
    for piece in np.array_split(x, 13):
        acc.update(piece)
    assert acc.alpha == pytest.approx(direct_alpha(x, 50, eps), rel=1e-12)
    # the zeros enter as ln(eps) = -36: the estimate differs from the zero-excluding one
    assert abs(acc.alpha - direct_alpha(x, 50)) > 0.05


def test_streaming_float32_pieces_agree_to_float32_rounding():
    x = _sample(50_000, 8).astype(np.float32)
    acc = StreamingBlockSum(200)
    for piece in np.array_split(x, 9):
        acc.update(piece)
    assert acc.alpha == pytest.approx(direct_alpha(x.astype(np.float64), 200), rel=1e-5)


def test_undefined_and_infinite_estimates():
    acc = StreamingBlockSum(4)
    assert math.isnan(acc.alpha)  # nothing yet
    acc.update(np.zeros(12))
    assert math.isnan(acc.alpha)  # only zeros
    alt = StreamingBlockSum(2)
    alt.update(np.array([1.0, -1.0, 2.0, -2.0]))  # block sums 0, 0: no non-zero block
    assert math.isnan(alt.alpha)
    flat = StreamingBlockSum(2)
    flat.update(np.array([1.0, -0.5, 1.0, -0.5]))  # |block sums| 0.5 < |terms|: no detectable tail
    assert flat.alpha == math.inf


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="m"):
        StreamingBlockSum(1)
    with pytest.raises(ValueError, match="eps"):
        StreamingBlockSum(4, eps=-1e-3)
    with pytest.raises(ValueError, match="eps"):
        StreamingBlockSum(4, eps=EPS_MAX * 2)
    acc = StreamingBlockSum(4)
    with pytest.raises(ValueError, match="x"):
        acc.update(np.ones((3, 3)))
    with pytest.raises(ValueError, match="x"):
        acc.update(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="x"):
        acc.update("abc")


def _delta_sd(alpha: float, m: int, k: int) -> float:
    """sd of the mean-form α̂ on iid SαS samples by the delta method (simulations.tail_index docstring):
    α² √(V (1 + 1/m) / (K ln² m)), V = Var ln|X| = (π²/6)(1/α² + 1/2)."""
    v = (math.pi**2 / 6) * (1 / alpha**2 + 0.5)
    return alpha**2 * math.sqrt(v * (1 + 1 / m) / (k * math.log(m) ** 2))


@pytest.mark.parametrize("alpha", [1.1, 1.5, 1.8, 2.0])
def test_recovers_alpha_of_symmetric_stable_samples(alpha):
    # N = 2^18 iid SαS(1) draws from scipy, streamed in pieces of 1000 with m = block_size(N) = 512.
    # Tolerance 5 sd of the delta-method spread (sd ≈ 0.014 at α = 1.1, 0.027 at α = 1.8): a false
    # alarm has probability ≈ 6e-7 per case; the estimator is unbiased in 1/α for strictly stable
    # laws (Y = m^{1/α} X in law), so only the O(sd²) bias of 1/·, far inside the tolerance, is left.
    # Power: an estimator off by 0.15 fails every case. Checked on seeds 1-5 too: all within 3 sd.
    n = 2**18
    m = block_size(n)
    x = stats.levy_stable.rvs(alpha, 0.0, size=n, random_state=np.random.default_rng(0)) if alpha < 2 else \
        np.random.default_rng(0).standard_normal(n) * math.sqrt(2)
    acc = StreamingBlockSum(m)
    for piece in np.array_split(x, n // 1000):
        acc.update(piece)
    tol = 5 * _delta_sd(alpha, m, n // m)
    assert abs(acc.alpha - alpha) < tol, (acc.alpha, alpha, tol)
