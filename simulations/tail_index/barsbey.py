"""The per-layer tail index of Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli 2021 (NeurIPS), as their code computes it.

For one weight tensor W (read from the authors' ``alpha_estimation``):

1. a = W as a matrix: a conv kernel (O, C, kh, kw) becomes (O·C, kh·kw); the network's last layer
   is transposed (rows = its inputs, the hidden units); a dense layer stays (out, in);
2. columns median-centred: a ← a − median(a, axis=0);
3. three estimates, each the median over ``permutations`` (5) random orders of its samples of the
   block-sum estimator of Mohammadi, Mohammadpour & Ogata 2015 (Cor. 2.4, mean log-norms with an
   ε = 2.2·10⁻¹⁶ guard), itself the median over block sizes and capped at 2:

   * ``rows`` — the multivariate one on the rows of a (samples in R^{columns});
   * ``entries`` — the scalar one on a.flatten() − median(a);
   * ``norms`` — the scalar one on the row norms ‖a_i‖ minus their median.

Block sizes for N samples (:func:`block_sizes`): each of 2, 5, 10, 20, 50, 100, 500, 1000 that is
at most N/2, replaced by the largest divisor of N not above it, plus the largest divisor of N not
above √N; for each size K₁ the N samples form N/K₁ blocks of K₁ consecutive samples (no sample is
dropped). α̂(K₁) = log K₁ / (mean log ‖block sum‖ − mean log ‖sample‖).

This differs from :func:`simulations.tail_index.estimators.block_sum` in the block-size grid, the ε
guard (``block_sum`` leaves exact zeros out) and the permutations; use this module to follow the
paper's protocol and ``block_sum`` elsewhere.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_array, check_bool, check_int

__all__ = ["CANDIDATES", "block_sizes", "block_alpha", "layer_alphas"]

#: the block sizes the authors try (each replaced by the largest divisor of N below it)
CANDIDATES = (2, 5, 10, 20, 50, 100, 500, 1000)
_EPS = float(np.spacing(1.0))
#: the cap of every estimate (the estimator saturates at 2, the Gaussian case)
CAP = 2.0


def _largest_divisor_at_most(n: int, m: int) -> int:
    m = max(1, min(m, n))
    while n % m:
        m -= 1
    return m


def block_sizes(n: int) -> list[int]:
    """The block sizes for n ≥ 4 samples (module docstring): sorted, each ≥ 2 and dividing n."""
    n = check_int("n", n, 4, 10**12)
    if n == 10:
        cands = {2, 5}
    else:
        cands = {_largest_divisor_at_most(n, c) for c in CANDIDATES if c <= n / 2}
    m = _largest_divisor_at_most(n, math.isqrt(n))
    if m > 1:
        cands.add(m)
    cands.discard(1)
    if not cands:
        raise ValueError(f"n = {n} samples have no divisor in [2, n/2]: the block-sum estimator needs one")
    return sorted(cands)


def block_alpha(x: Any) -> float:
    """min(median over :func:`block_sizes` of α̂(K₁), 2) of samples x: (N,) scalars or (N, d) rows, in their order."""
    a = check_array("x", x, ndim=(1, 2), dtype=np.float64)
    if a.shape[0] < 4 or a.size == 0:
        raise ValueError(f"x must hold at least 4 samples (rows), got shape {a.shape}")
    n = a.shape[0]
    norm = np.abs(a) if a.ndim == 1 else np.linalg.norm(a, axis=1)
    x_log = float(np.mean(np.log(norm + _EPS)))
    out = []
    for k1 in block_sizes(n):
        y = a.reshape((n // k1, k1) + a.shape[1:]).sum(axis=1)
        ny = np.abs(y) if y.ndim == 1 else np.linalg.norm(y, axis=1)
        diff = (float(np.mean(np.log(ny + _EPS))) - x_log) / math.log(k1)
        out.append(1.0 / diff if diff > 0 else math.inf)
    return float(min(np.median(out), CAP))


def _matrix(W: np.ndarray, last: bool) -> np.ndarray:
    if W.ndim == 4:
        return W.reshape(W.shape[0] * W.shape[1], W.shape[2] * W.shape[3])
    if W.ndim != 2:
        raise ValueError(f"W must be a dense (out, in) or conv (O, C, kh, kw) weight tensor, got shape {W.shape}")
    return W.T if last else W


def layer_alphas(W: Any, last: bool = False, permutations: int = 5, seed: Any = 0) -> dict[str, float]:
    """{"rows", "entries", "norms"}: the three estimates of the module docstring for one weight tensor.

    W : (out, in) or (O, C, kh, kw) real array; last : whether W is the network's last layer (transposed);
    permutations : ≥ 1 random orders (median over them; 5 in the paper); seed : their generator's seed.
    """
    a = np.array(_matrix(check_array("W", W, dtype=np.float64), check_bool("last", last)), dtype=np.float64)
    permutations = check_int("permutations", permutations, 1, 1000)
    if a.shape[0] < 4:
        raise ValueError(f"W must give at least 4 rows ({'columns' if last else 'rows'} of the layer), "
                         f"got {a.shape[0]}")
    rng = generator(seed)
    a = a - np.median(a, axis=0)
    entries = a.ravel() - np.median(a)
    norms = np.linalg.norm(a, axis=1)
    norms = norms - np.median(norms)
    out = {}
    for name, samples in (("rows", a), ("entries", entries), ("norms", norms)):
        vals = [block_alpha(samples[rng.permutation(samples.shape[0])]) for _ in range(permutations)]
        out[name] = float(np.median(vals))
    return out
