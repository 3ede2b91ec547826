"""Structured pruning: whole hidden neurons (first-order Taylor or magnitude scores) and N:M masks.

**Neurons.** Removing hidden neuron j of hidden layer h (the output j of weight matrix ``W_h``,
0-based) zeroes row j of ``W_h``, ``b_h[j]`` and column j of ``W_{h+1}``; the network keeps its
shapes and computes what the smaller network with those rows/columns deleted computes
(:func:`neuron_masks`, a flat :class:`simulations.nn.Mask`).

First-order Taylor importance (Molchanov, Tyree, Karras, Aila & Kautz, ICLR 2017, "Pruning
convolutional neural networks for resource efficient inference", §2.2, eq. 8): setting an
activation ``a_j`` to 0 changes the cost by ``≈ |a_j ∂C/∂a_j|``; for a feature map of M
positions ``Θ(z_j) = |(1/M) Σ_m a_{m,j} ∂C/∂a_{m,j}|`` and, over a minibatch, the criterion is
computed per example and averaged. For a fully connected neuron M = 1, so

    Θ_j = (1/n) Σ_i |a_{i,j} ∂ℓ_i/∂a_{i,j}|,    ∂ℓ_i/∂a_{h,i} = δ_{h+1,i} W̃_{h+1}

(``ℓ_i`` example i's own loss, ``δ_{h+1,i} = ∂ℓ_i/∂z_{h+1}``; :func:`taylor_neuron_scores`).
Across layers the scores are rescaled by the layer-wise ℓ2 normalisation of §2.2,
``Θ̂_j = Θ_j / ‖Θ_h‖₂``, before being pooled. :func:`magnitude_neuron_scores` gives the ℓ2 norm
of each neuron's incoming weights (row norm of ``W_h``) for comparison.

:func:`prune_neurons` removes the lowest pooled scores one neuron at a time until the WEIGHT
sparsity over all layers (removed weights / all weights, counted on the actual mask, so a
weight already pruned is not counted twice) reaches at least the target: the overshoot is at
most the weights of the last neuron removed. Ties are broken by position (layer, then index);
the last surviving neuron of a layer is never removed (it is skipped, and the next candidate
taken); a target out of reach raises ``ValueError``.

**N:M** (Nvidia's 2:4 sparse tensor cores; Zhou, Ma, Zhu, Liu, Zhang, Yuan, Sun & Li, ICLR 2021,
"Learning N:M fine-grained structured sparse neural networks", §3): along each row of ``W_l``
(the input dimension), every group of M consecutive weights keeps the N of largest score
(``|θ|`` by default; ties: the lower index). When the input dimension is not a multiple of M,
the last, partial group of r < M weights keeps ``⌈N·r/M⌉`` of them (the same density, rounded
up; no padding) (:func:`nm_masks`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_bool, check_int
from simulations.pruning.algorithms.base import check_params
from simulations.pruning.masks import check_layers, check_mask_list, check_ratio, check_weights

__all__ = ["taylor_neuron_scores", "magnitude_neuron_scores", "neuron_masks", "prune_neurons", "nm_masks",
           "NM_GROUP_MAX"]

#: largest group length M of :func:`nm_masks`
NM_GROUP_MAX = 1 << 20


def _check_params(params: Any):
    params = check_params(params)
    if params.spec.n_layers < 2:
        raise ValueError(f"params must have at least one hidden layer (spec.sizes of length ≥ 3), got "
                         f"sizes {params.spec.sizes}")
    return params


def _check_mask(mask: Any, spec):
    from simulations.nn import Mask

    if mask is None:
        return None
    if not isinstance(mask, Mask) or mask.spec != spec:
        raise TypeError("mask must be None or a simulations.nn.Mask of params' spec")
    return mask


def taylor_neuron_scores(params: Any, X: Any, y: Any, mask: Any = None) -> list[np.ndarray]:
    """Molchanov et al.'s first-order Taylor score ``Θ_j = mean_i |a_ij ∂ℓ_i/∂a_ij|`` of every hidden neuron.

    ``params``: :class:`simulations.nn.Params` with at least one hidden layer; ``X`` (n, d_0),
    ``y`` (n,) labels; ``mask``: None or a :class:`simulations.nn.Mask` of the same spec (applied
    to a copy of ``params`` first, e.g. from :func:`neuron_masks`). Returns one float64 array
    (d_h,) per hidden layer h = 0..L−2 (unnormalised; :func:`prune_neurons` normalises).
    """
    from simulations.pruning.algorithms.autodiff import per_example_terms

    params = _check_params(params)
    mask = _check_mask(mask, params.spec)
    if mask is not None:
        params = mask.apply(params.copy())
    acts, deltas = per_example_terms(params, X, y)
    L = params.spec.n_layers
    out = []
    for h in range(L - 1):
        a = acts[h + 1]
        g = deltas[h + 1] @ np.asarray(params.weights[h + 1], dtype=np.float64)
        out.append(np.mean(np.abs(a * g), axis=0))
    return out


def magnitude_neuron_scores(params: Any) -> list[np.ndarray]:
    """ℓ2 norm of each hidden neuron's incoming weights, ``‖W_h[j, :]‖₂`` (float64, one array per hidden layer)."""
    params = _check_params(params)
    return [np.linalg.norm(np.asarray(w, dtype=np.float64), axis=1) for w in params.weights[:-1]]


def _check_keep(spec, keep: Any) -> list[np.ndarray]:
    H = spec.n_layers - 1
    shapes = [(spec.sizes[h + 1],) for h in range(H)]
    return check_mask_list(keep, "keep", shapes=shapes)


def neuron_masks(spec: Any, keep: Any):
    """A :class:`simulations.nn.Mask` that removes the hidden neurons with ``keep[h][j] == False``.

    ``spec``: :class:`simulations.nn.MLPSpec` with at least one hidden layer; ``keep``: one
    boolean (or 0/1) array (d_h,) per hidden layer h = 0..L−2. Removing neuron j of layer h zeroes
    row j of ``W_h``, ``b_h[j]`` and column j of ``W_{h+1}``.
    """
    from simulations.nn import Mask, MLPSpec

    if not isinstance(spec, MLPSpec):
        raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    if spec.n_layers < 2:
        raise ValueError(f"spec must have at least one hidden layer, got sizes {spec.sizes}")
    keep = _check_keep(spec, keep)
    W = [np.ones(s, dtype=bool) for s in spec.weight_shapes]
    b = [np.ones(s[0], dtype=bool) for s in spec.weight_shapes] if spec.bias else None
    for h, k in enumerate(keep):
        W[h][~k, :] = False
        W[h + 1][:, ~k] = False
        if b is not None:
            b[h][~k] = False
    return Mask.from_layers(spec, W, b)


def _check_scores(scores: Any, spec) -> list[np.ndarray]:
    H = spec.n_layers - 1
    if isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)):
        raise TypeError(f"scores must be a list of {H} arrays (one per hidden layer), got {type(scores).__name__}")
    if len(scores) != H:
        raise ValueError(f"scores must hold {H} arrays (one per hidden layer), got {len(scores)}")
    out = []
    for h, s in enumerate(scores):
        a = check_array(f"scores[{h}]", s, ndim=1).astype(np.float64, copy=False)
        if a.shape != (spec.sizes[h + 1],):
            raise ValueError(f"scores[{h}] must have shape ({spec.sizes[h + 1]},), got {a.shape}")
        out.append(a)
    return out


def prune_neurons(params: Any, scores: Any, sparsity: float, layers: Any = None, normalise: bool = True,
                  mask: Any = None):
    """Remove the lowest-scoring hidden neurons until the weight sparsity reaches ``sparsity``; a :class:`Mask`.

    ``params``: :class:`simulations.nn.Params` (at least one hidden layer); ``scores``: one finite
    array (d_h,) per hidden layer h = 0..L−2, larger = kept (:func:`taylor_neuron_scores`,
    :func:`magnitude_neuron_scores`); ``sparsity`` in [0, 1): target fraction of removed weights
    over ALL weight matrices; ``layers``: None (every hidden layer) or hidden-layer indices in
    [−(L−1), L−2] whose neurons may be removed; ``normalise``: divide each layer's scores by their
    ℓ2 norm (Molchanov et al. §2.2) before pooling; ``mask``: None or a previous neuron
    :class:`simulations.nn.Mask` of the same spec (its removed neurons stay removed; its zeros count).
    Ties, overshoot, the last neuron of a layer and an unreachable target: see the module docstring.
    """
    params = _check_params(params)
    spec = params.spec
    H = spec.n_layers - 1
    sc = _check_scores(scores, spec)
    s = check_ratio(sparsity, "sparsity")
    hidden = list(range(H)) if layers is None else check_layers("layers", layers, H)
    if not hidden:
        raise ValueError("layers must name at least one hidden layer")
    normalise = check_bool("normalise", normalise)
    mask = _check_mask(mask, spec)
    W = [np.ones(sh, dtype=bool) for sh in spec.weight_shapes] if mask is None else \
        [np.asarray(w, dtype=bool).copy() for w in mask.weights]
    keep = [W[h].any(axis=1) for h in range(H)]
    total = sum(w.size for w in W)
    removed = total - sum(int(w.sum()) for w in W)
    target = s * total - 1e-9 * total
    alive = [int(k.sum()) for k in keep]
    cand_s, cand_l, cand_j = [], [], []
    for h in hidden:
        v = sc[h]
        if normalise:
            nrm = float(np.linalg.norm(v[keep[h]]))
            v = v / nrm if nrm > 0 else v
        j = np.flatnonzero(keep[h])
        cand_s.append(v[j])
        cand_l.append(np.full(j.size, h))
        cand_j.append(j)
    cs, cl, cj = (np.concatenate(c) for c in (cand_s, cand_l, cand_j))
    order = np.lexsort((cj, cl, cs))  # by score, then layer, then index
    for t in order:
        if removed >= target:
            break
        h, j = int(cl[t]), int(cj[t])
        if alive[h] <= 1:
            continue
        removed += int(W[h][j].sum()) + int(W[h + 1][:, j].sum())
        W[h][j] = False
        W[h + 1][:, j] = False
        keep[h][j] = False
        alive[h] -= 1
    if removed < target:
        raise ValueError(f"sparsity {s:g} is out of reach by removing neurons of layers {hidden}: at most "
                         f"{removed / total:.6g} (one neuron left per layer)")
    from simulations.nn import Mask

    b = None
    if spec.bias:
        b = [np.ones(sh[0], dtype=bool) for sh in spec.weight_shapes]
        if mask is not None:
            b = [np.asarray(x, dtype=bool).copy() for x in mask.biases]
        for h in range(H):
            b[h] &= keep[h]
    return Mask.from_layers(spec, W, b)


def nm_masks(weights: Any, n: int = 2, m: int = 4, scores: Sequence[np.ndarray] | None = None,
             layers: Any = None) -> list[np.ndarray]:
    """N:M masks: in every group of ``m`` consecutive input weights of each row, the ``n`` largest scores kept.

    ``weights``: a list of weight matrices (out, in) (or a :class:`simulations.nn.Params`);
    ``n`` in [1, m]; ``m`` in [1, :data:`NM_GROUP_MAX`]; ``scores``: None (``|θ|``) or one finite
    array per matrix of its shape; ``layers``: None (all) or the layer indices to constrain
    (the others get all-True masks). The last partial group of r < m entries keeps ``⌈n·r/m⌉``.
    Ties: the lower index is kept. Returns boolean masks (out, in).
    """
    from simulations.nn import Params

    if isinstance(weights, Params):
        weights = [np.asarray(w) for w in weights.weights]
    ws = check_weights(weights)
    m = check_int("m", m, 1, NM_GROUP_MAX)
    n = check_int("n", n, 1, m)
    L = len(ws)
    chosen = list(range(L)) if layers is None else check_layers("layers", layers, L)
    if scores is None:
        sc = [np.abs(w.astype(np.float64)) for w in ws]
    else:
        if isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)):
            raise TypeError(f"scores must be None or a list of {L} arrays, got {type(scores).__name__}")
        if len(scores) != L:
            raise ValueError(f"scores must hold {L} arrays (one per weight matrix), got {len(scores)}")
        sc = []
        for i, (s, w) in enumerate(zip(scores, ws)):
            a = check_array(f"scores[{i}]", s, ndim=2).astype(np.float64, copy=False)
            if a.shape != w.shape:
                raise ValueError(f"scores[{i}] must have shape {w.shape}, got {a.shape}")
            sc.append(a)
    out = [np.ones(w.shape, dtype=bool) for w in ws]
    for li in chosen:
        s = sc[li]
        o, d = s.shape
        G = d // m
        if G:
            out[li][:, :G * m] = _top_in_groups(s[:, :G * m].reshape(o, G, m), n).reshape(o, G * m)
        r = d - G * m
        if r:
            k = math.ceil(n * r / m)
            out[li][:, G * m:] = _top_in_groups(s[:, G * m:].reshape(o, 1, r), k).reshape(o, r)
    return out


def _top_in_groups(s: np.ndarray, k: int) -> np.ndarray:
    """Boolean (o, G, g): the k largest of each group along the last axis (stable: lower index first)."""
    order = np.argsort(-s, axis=2, kind="stable")
    keep = np.zeros(s.shape, dtype=bool)
    np.put_along_axis(keep, order[:, :, :k], True, axis=2)
    return keep
