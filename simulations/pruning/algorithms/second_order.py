"""Second-order pruning: Optimal Brain Damage and WoodFisher / Optimal Brain Surgeon block pruning.

Around trained weights θ (gradient ≈ 0) the loss change of a perturbation δθ is, to second order,
``δL ≈ ½ δθᵀ H δθ``. Removing weight q means the constraint ``e_qᵀ(θ + δθ) = 0``.

**OBD** (LeCun, Denker & Solla, NIPS 1990, "Optimal brain damage", eq. 5–6): with H taken
diagonal and no compensation (δθ = −θ_q e_q), the saliency of weight q is

    s_q = ½ H_qq θ_q².

Here H is replaced by the diagonal of the empirical Fisher over N examples,
``F_qq = (1/N) Σ_i g_{i,q}²`` with ``g_i = ∇_θ ℓ_i`` the gradient of example i's own loss
(for a weight ``W_l[o, k]``: ``g_{i} = δ_{l,i,o} a_{l-1,i,k}``, so ``F_l = (δ_l²)ᵀ (a_{l-1}²) / N``,
one matrix product). :class:`OBD` is a :class:`~.base.ScoreBased` pruner on these scores.

**OBS** (Hassibi & Stork, NIPS 1992/1993, "Second order derivatives for network pruning:
Optimal Brain Surgeon", eq. 4–5): minimising ½δθᵀHδθ subject to ``e_qᵀ(θ+δθ) = 0`` gives

    δθ = −θ_q H⁻¹e_q / [H⁻¹]_qq,        ρ_q = θ_q² / (2 [H⁻¹]_qq)   (the loss increase),

and for a set Q of weights removed together (Lagrange multipliers for the |Q| constraints;
Singh & Alistarh, NeurIPS 2020, "WoodFisher", §4.1, "pruning multiple weights")

    δθ = −H⁻¹ E_Q (E_Qᵀ H⁻¹ E_Q)⁻¹ E_Qᵀ θ,

the minimiser of ½δθᵀHδθ with the entries Q of θ + δθ fixed at 0 (:func:`obs_update`).

**WoodFisher** (Singh & Alistarh 2020, §3–4): H ≈ the empirical Fisher ``F = (1/N) Σ_i g_i g_iᵀ
+ λI`` (damping λ), block-diagonal over blocks of ``block_size`` consecutive entries of each
layer's row-major flattened weights (a block never spans two layers; the last block of a layer
may be shorter). The paper inverts F with the Woodbury (Sherman–Morrison) recursion over the N
gradients; for blocks of at most 128 entries the direct inverse of each B×B block is the same
matrix at lower cost, and is what :func:`woodfisher_prune` computes (numpy, batched over blocks).
The variant implemented: weights are ranked by the single-weight statistic ρ_q against ONE
global threshold over the pruned layers (the paper's one-shot experiments), then each block's
surviving weights receive the *joint* multi-weight OBS update for the set Q of its pruned
entries (the newly and the previously pruned ones, so earlier zeros stay zero). Because F is
block-diagonal, the joint update over all of Q is exactly the sum of the per-block joint updates.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_int, check_real
from simulations.pruning.algorithms.base import ScoreBased, full_weight_masks, removal_counts
from simulations.pruning.algorithms.base import check_params as _check_params
from simulations.pruning.iterative import prune_step
from simulations.pruning.masks import check_layers, check_mask_list

__all__ = ["OBD", "fisher_diagonal", "obs_update", "woodfisher_prune", "BLOCK_SIZE_MAX", "N_EXAMPLES_DEFAULT"]

#: largest WoodFisher block (a direct B×B inverse per block)
BLOCK_SIZE_MAX = 128
#: default number of per-example gradients of the empirical Fisher in :func:`woodfisher_prune`
N_EXAMPLES_DEFAULT = 256
#: float64 entries of the per-example gradient matrix held at once (bounds the memory: 32 MB)
_SPAN_ENTRIES = 4_000_000




def _masks_for(params, masks):
    shapes = params.spec.weight_shapes
    return full_weight_masks(shapes) if masks is None else check_mask_list(masks, shapes=shapes)


def fisher_diagonal(params: Any, X: Any, y: Any, masks: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Diagonal of the empirical Fisher per weight matrix: ``F_qq = (1/N) Σ_i g_{i,q}²`` (float64, (out, in)).

    ``g_i`` is example i's gradient of its own loss with respect to the effective weights
    ``W ⊙ M`` (``masks``: None or one boolean array per layer); ``X`` (N, d_0), ``y`` (N,) labels.
    """
    from simulations.pruning.algorithms.autodiff import per_example_terms

    params = _check_params(params)
    acts, deltas = per_example_terms(params, X, y, masks)
    n = acts[0].shape[0]
    return [(d * d).T @ (a * a) / n for a, d in zip(acts, deltas)]


class OBD(ScoreBased):
    """Optimal Brain Damage scores ``½ F_qq θ_q²`` (empirical-Fisher diagonal; LeCun et al. 1990).

    ``scope``: default ranking scope of :meth:`prune`; ``compute``: None or a
    :class:`~.compute.Compute` that every :meth:`scores` call fills with one forward and one
    backward pass over the scoring data.
    """

    name = "obd"
    needs_data = True

    def __init__(self, scope: str = "global", compute: Any = None):
        super().__init__(scope)
        from simulations.pruning.algorithms.compute import Compute

        if compute is not None and not isinstance(compute, Compute):
            raise TypeError(f"compute must be None or a Compute, got {type(compute).__name__}")
        self.compute = compute

    def scores(self, params, data, masks):
        params = _check_params(params)
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise TypeError("data must be a pair (X, y)")
        masks = _masks_for(params, masks)
        X, y = data
        F = fisher_diagonal(params, X, y, masks)
        if self.compute is not None:
            self.compute.passes(params.spec.weight_shapes, masks, len(y), forward=1, backward=1,
                                bias=params.spec.bias, part="score")
        return [0.5 * f * np.asarray(w, dtype=np.float64) ** 2 for f, w in zip(F, params.weights)]


def obs_update(theta: Any, inverse: Any, pruned: Any) -> np.ndarray:
    """Joint OBS update ``δθ = −H⁻¹E_Q (E_Qᵀ H⁻¹ E_Q)⁻¹ E_Qᵀ θ`` of one block (Hassibi & Stork 1993).

    ``theta``: (B,) finite weights; ``inverse``: (B, B) the inverse Hessian (symmetric positive
    definite); ``pruned``: (B,) booleans, the set Q. Returns δθ (float64, (B,)); θ + δθ is 0 on
    Q (up to rounding) and minimises ½δθᵀHδθ among such perturbations. Q empty ⇒ δθ = 0.
    """
    th = check_array("theta", theta, ndim=1).astype(np.float64, copy=False)
    Hi = check_array("inverse", inverse, ndim=2).astype(np.float64, copy=False)
    B = th.shape[0]
    if Hi.shape != (B, B):
        raise ValueError(f"inverse must have shape ({B}, {B}) (theta has {B} entries), got {Hi.shape}")
    q = np.asarray(check_mask_list([np.asarray(pruned)], "pruned")[0])
    if q.shape != (B,):
        raise ValueError(f"pruned must have shape ({B},), got {q.shape}")
    return _obs_delta(th, Hi, np.flatnonzero(q))


def _obs_delta(th: np.ndarray, Hi: np.ndarray, q: np.ndarray) -> np.ndarray:
    if q.size == 0:
        return np.zeros_like(th)
    if q.size == th.size:
        return -th
    lam = np.linalg.solve(Hi[np.ix_(q, q)], th[q])
    return -Hi[:, q] @ lam


def _layer_blocks(n: int, B: int):
    """(start, stop) of the blocks of a flattened layer of n entries."""
    return [(s, min(n, s + B)) for s in range(0, n, B)]


def _block_inverses(acts_l, deltas_l, n_in, start, stop, B, damping):
    """Inverses of ``(1/N) G_bᵀ G_b + λI`` for the blocks of entries [start, stop) (stop − start a multiple of B,
    or one partial block), with ``G`` the per-example gradients of those entries."""
    N = acts_l.shape[0]
    idx = np.arange(start, stop)
    G = deltas_l[:, idx // n_in] * acts_l[:, idx % n_in]  # (N, span)
    nb = (stop - start) // B if (stop - start) % B == 0 else 1
    b = (stop - start) // nb
    Gb = G.reshape(N, nb, b).transpose(1, 2, 0)  # (nb, b, N)
    F = np.matmul(Gb, Gb.transpose(0, 2, 1)) / N
    F[:, np.arange(b), np.arange(b)] += damping
    return np.linalg.inv(F), b


def _spans(n: int, B: int, N: int):
    """Chunks [start, stop) of a layer of n entries: whole blocks, at most ~_SPAN_ENTRIES/N entries, then the tail."""
    per = max(1, _SPAN_ENTRIES // max(1, N * B))
    full = (n // B) * B
    out = [(s, min(full, s + per * B)) for s in range(0, full, per * B)]
    if full < n:
        out.append((full, n))
    return out


def woodfisher_prune(params: Any, X: Any, y: Any, sparsity: float, *, block_size: int = 64,
                     damping: float = 1e-4, n_examples: int = N_EXAMPLES_DEFAULT, layers: Any = None,
                     masks: Sequence[np.ndarray] | None = None, compute: Any = None) -> tuple[Any, list[np.ndarray]]:
    """One-shot WoodFisher/OBS pruning to ``sparsity``; returns ``(new Params, masks)``.

    ``params``: trained :class:`simulations.nn.Params` (float32 or float64; copied, never
    modified); ``X`` (n, d_0), ``y`` (n,): the first ``min(n, n_examples)`` rows give the
    per-example gradients of the empirical Fisher (pass a shuffled sample); ``sparsity`` in [0, 1):
    target fraction of pruned weights over ``layers`` (None = all), cumulative, counted as in
    :func:`~.base.removal_counts` (``⌊s·n⌋`` of the n weights); ``block_size`` in
    [1, :data:`BLOCK_SIZE_MAX`]; ``damping`` λ > 0 (added to the Fisher's diagonal; at most 1e6);
    ``n_examples`` ≥ 1; ``masks``: the current boolean weight masks (pruned entries are never
    revived and stay 0); ``compute``: None or a :class:`~.compute.Compute` to fill (one forward
    and backward pass over the examples, plus the Fisher and inverse arithmetic as part
    ``"fisher"``).

    Steps (module docstring): per-example gradients; per block F_b = G_bᵀG_b/N + λI and F_b⁻¹;
    ρ_q = θ_q²/(2[F⁻¹]_qq) for the surviving weights; the lowest ρ over all pruned layers removed
    (ties by position); each block's survivors updated by the joint OBS step for its pruned set.
    Biases are not pruned nor updated. The returned params have every masked weight exactly 0.
    """
    from simulations.pruning.algorithms.autodiff import per_example_terms
    from simulations.pruning.algorithms.compute import Compute

    params = _check_params(params)
    spec = params.spec
    shapes = spec.weight_shapes
    L = len(shapes)
    masks = _masks_for(params, masks)
    layers = list(range(L)) if layers is None else check_layers("layers", layers, L)
    if not layers:
        raise ValueError("layers must name at least one layer to prune")
    B = check_int("block_size", block_size, 1, BLOCK_SIZE_MAX)
    lam = check_real("damping", damping, 0.0, 1e6, low_open=True)
    n_ex = check_int("n_examples", n_examples, 1)
    if compute is not None and not isinstance(compute, Compute):
        raise TypeError(f"compute must be None or a Compute, got {type(compute).__name__}")
    X = check_array("X", X, ndim=2, min_size=1)
    n_total = removal_counts(masks, sparsity, layers, "global")
    N = min(n_ex, X.shape[0])
    if np.ndim(y) != 1 or len(y) != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) (one label per row of X), got {np.shape(y)}")
    acts, deltas = per_example_terms(params, X[:N], np.asarray(y)[:N], masks)

    theta = [np.where(m, np.asarray(w, dtype=np.float64), 0.0).ravel() for w, m in zip(params.weights, masks)]
    # pass 1: the pruning statistic of every weight of the pruned layers
    rho = [np.zeros(s, dtype=np.float64) for s in shapes]
    fisher_macs = 0.0
    for l in layers:
        n_l = theta[l].size
        diag = np.empty(n_l)
        for start, stop in _spans(n_l, B, N):
            inv, b = _block_inverses(acts[l], deltas[l], shapes[l][1], start, stop, B, lam)
            diag[start:stop] = np.diagonal(inv, axis1=1, axis2=2).ravel()
            fisher_macs += (stop - start) * (N * b + b * b)
        rho[l] = (theta[l] ** 2 / (2.0 * diag)).reshape(shapes[l])
    new_masks = prune_step(rho, masks, n_total, "global", layers)
    # pass 2: joint OBS update of each block with pruned entries (recomputing its inverse)
    for l in layers:
        th = theta[l]
        gone = ~new_masks[l].ravel()
        for start, stop in _spans(th.size, B, N):
            if not gone[start:stop].any():
                continue
            inv, b = _block_inverses(acts[l], deltas[l], shapes[l][1], start, stop, B, lam)
            fisher_macs += (stop - start) * (N * b + b * b)
            for k in range(inv.shape[0]):
                s0 = start + k * b
                q = np.flatnonzero(gone[s0:s0 + b])
                if q.size:
                    th[s0:s0 + b] += _obs_delta(th[s0:s0 + b], inv[k], q)
        th[gone] = 0.0
    out = params.copy()
    for l in range(L):
        out.weights[l][...] = np.where(new_masks[l], theta[l].reshape(shapes[l]), 0.0)
    if compute is not None:
        compute.passes(shapes, masks, N, forward=1, backward=1, bias=spec.bias, part="score")
        compute.add("fisher", fisher_macs)
    return out, new_masks
