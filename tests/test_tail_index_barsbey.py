"""Barsbey et al.'s per-layer tail index: against a loop reference of their code, and on α-stable samples.

Oracles: ``_reference_alpha`` below, written from the authors' ``est_alpha_one`` / ``est_alpha`` /
``find_m`` (loops, not the module's vectorised code); iid symmetric α-stable samples from
scipy.stats.levy_stable, whose tail index is known; Gaussian samples (α = 2: the cap).
"""
import math

import numpy as np
import pytest
from scipy import stats

from simulations._core.seeding import generator
from simulations.tail_index.barsbey import block_alpha, block_sizes, layer_alphas


def _find_m(n, m=0):
    if m == 0:
        m = int(np.sqrt(n))
    while n % m != 0:
        m -= 1
    return m


def _reference_alpha(x):
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    m = _find_m(n)
    if n != 10:
        cands = [c if n % c == 0 else _find_m(n, c) for c in [2, 5, 10, 20, 50, 100, 500, 1000] if c <= n / 2]
    else:
        cands = [2, 5]
    cands = sorted(set(cands))
    if m not in cands and m > 1:
        cands.append(m)
    eps = np.spacing(1)
    vals = []
    for k in cands:
        blocks = n // k
        ysum = []
        for b in range(blocks):
            s = x[b * k:(b + 1) * k].sum(axis=0)
            ysum.append(math.log(np.linalg.norm(np.atleast_1d(s)) + eps))
        xs = [math.log(np.linalg.norm(np.atleast_1d(r)) + eps) for r in x]
        vals.append(1.0 / ((np.mean(ysum) - np.mean(xs)) / math.log(k)))
    return min(float(np.median(vals)), 2.0)


@pytest.mark.parametrize("n", [10, 360, 1000, 2048, 60000])
def test_block_sizes_and_estimate_match_the_reference(n):
    rng = np.random.default_rng(n)
    x = stats.levy_stable.rvs(1.4, 0.0, size=n, random_state=rng)
    assert all(n % k == 0 and k >= 2 for k in block_sizes(n))
    assert block_alpha(x) == pytest.approx(_reference_alpha(x), rel=1e-10)
    rows = rng.standard_normal((n, 3)) * np.exp(rng.standard_normal((n, 1)))
    assert block_alpha(rows) == pytest.approx(_reference_alpha(rows), rel=1e-10)


def test_prime_sample_count_has_no_block_size():
    # the authors' code fails too (its divisor search reaches 1 and an assertion stops it)
    with pytest.raises(ValueError, match="divisor"):
        block_alpha(np.arange(97.0))


@pytest.mark.parametrize("alpha", [1.2, 1.6])
def test_stable_weights_give_their_tail_index(alpha):
    # 512 × 512 iid SαS weights: over 20 other seeds the entries estimate spread was < 0.05 around α at
    # these sizes; 0.15 leaves ~3 of those spreads (false alarm ≪ 1 %). Row norms of iid rows are not
    # stable, so only their range is checked.
    W = stats.levy_stable.rvs(alpha, 0.0, size=(512, 512), random_state=np.random.default_rng(7))
    out = layer_alphas(W, seed=1)
    assert abs(out["entries"] - alpha) < 0.15
    assert abs(out["rows"] - alpha) < 0.25 and 0 < out["norms"] <= 2.0
    g = layer_alphas(np.random.default_rng(3).standard_normal((512, 256)), seed=1)
    assert g["entries"] == pytest.approx(2.0, abs=0.05) and g["rows"] == pytest.approx(2.0, abs=0.05)


def test_layer_preprocessing_follows_their_code():
    # conv kernels as (O·C, kh·kw), the last layer transposed, columns median-centred, one permutation
    rng = np.random.default_rng(0)
    K = rng.standard_normal((8, 4, 3, 3))
    a = K.reshape(32, 9)
    a = a - np.median(a, axis=0)
    perm = generator(5).permutation(32)
    got = layer_alphas(K, permutations=1, seed=5)
    assert got["rows"] == pytest.approx(_reference_alpha(a[perm]), rel=1e-10)
    W = rng.standard_normal((10, 40))
    b = W.T - np.median(W.T, axis=0)
    r = generator(9)
    p1 = r.permutation(40)
    e = b.ravel() - np.median(b)
    p2 = r.permutation(e.size)
    got = layer_alphas(W, last=True, permutations=1, seed=9)
    assert got["rows"] == pytest.approx(_reference_alpha(b[p1]), rel=1e-10)
    assert got["entries"] == pytest.approx(_reference_alpha(e[p2]), rel=1e-10)
    with pytest.raises(ValueError, match="rows"):
        layer_alphas(np.ones((3, 5)))
