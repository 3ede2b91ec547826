"""One-shot pruning of a list of weight matrices: magnitude, random, node, spectral.

Every method works either at a **fixed pruning ratio** (``ratio`` ∈ [0, 1): the
fraction of the candidate units removed, ``⌊ratio·n⌋`` of them) or at a **fixed
relative L2 error** (``eps`` ∈ (0, 1): the *largest* set of candidate units, taken
in the method's order, whose removal keeps ``‖x − x̂‖₂ / ‖x‖₂ ≤ ε``). Exactly
one of the two is given. A unit is an entry (magnitude, random), a neuron
(node) or a singular value (spectral).

Conventions (Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli, *Heavy tails in
SGD and compressibility of overparametrized neural networks*, NeurIPS 2021,
and their public code ``mbarsbey/sgd_comp_gen``):

* **magnitude** — score ``|w − c_l|`` with ``c_l = 0`` or, when ``center=True``,
  the median of layer ``l``'s entries; the pruned entries are set to ``c_l``
  (``fill="median"``, one stored scalar per layer, as in their code) or to 0
  (``fill="zero"``). ``scope="layer"`` prunes each layer at the same ratio (or
  error); ``scope="global"`` pools the (centred) entries of all pruned layers
  and uses one threshold (one error budget relative to the pooled norm).
  The fixed-error count uses :func:`simulations.compressibility.api.relative_errors`:
  removing the ``m`` smallest of ``n`` entries leaves the error ``σ̄_{n−m}``, so
  ``m = n − min{k : σ̄_k ≤ ε}`` (best ``k``-term error, Gribonval et al. 2012).
* **random** — a uniformly random removal order (per layer, or pooled for
  ``scope="global"``); at fixed error, the longest prefix of that order with
  relative error ≤ ε.
* **node** — neurons of hidden layer ``l`` (rows of ``W_l``) ranked by the L2
  norm of their incoming weights (``score="incoming"``, as in Wan et al. 2023)
  or of their outgoing weights, the columns of ``W_{l+1}``
  (``score="outgoing"``, the convention of Barsbey et al.'s FCN code). Only
  hidden layers ``0 … L−2`` can be node-pruned (the rows of the last matrix are
  the outputs). With ``prune_outgoing=True`` (default) a removed neuron's
  outgoing column in ``W_{l+1}`` is masked too: in a bias-free ReLU network the
  neuron outputs ``relu(0) = 0`` once its row is zero, so this changes no
  output and only makes the parameter count honest. The fixed-error budget is
  measured on the matrix that defines the score (rows of ``W_l`` or columns of
  ``W_{l+1}``).
* **spectral** — truncated SVD of ``W_l − c_l`` (``c_l`` = per-column medians
  when ``center=True``, as in their code, else 0); ``ratio`` is the fraction of
  the ``r = min(out, in)`` singular values dropped, keeping
  ``k = r − ⌊ratio·r⌋``; at fixed error ``k = min{k : σ̄_k(s) ≤ ε}`` (Eckart–Young:
  this is the smallest rank within ε in Frobenius norm). A rank-``k`` layer is
  counted as ``k·(out + in)`` parameters (the factors ``U_k diag(s_k)`` and
  ``V_kᵀ``; the median vector is not counted), even where that exceeds
  ``out·in``.

Layers listed in ``skip_layers`` are left dense and counted in full.

Range: the weights must be finite with ``|w| ≤ WEIGHT_ABS_MAX = 2^1020`` (≈ 1.1e307), so that
centring (``w − c``) cannot overflow. Every relative error is computed on the vector scaled by
a power of two that brings its largest magnitude into [1/2, 1) (exact, and scale-free), so sums
of squares neither overflow (weights of 1e200) nor underflow (weights of 1e-200).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_array, check_bool, check_choice
from simulations.pruning.masks import check_eps, check_layers, check_ratio, check_weights, full_masks
from simulations.pruning.result import PruneResult

__all__ = [
    "PruneResult",
    "METHODS",
    "prune",
    "magnitude_prune",
    "random_prune",
    "node_prune",
    "spectral_prune",
    "removal_count",
    "WEIGHT_ABS_MAX",
]

METHODS = ("magnitude", "random", "node", "spectral")
#: largest weight magnitude accepted by the one-shot methods (centring w − c cannot overflow)
WEIGHT_ABS_MAX = 2.0**1020


# ---------------------------------------------------------------------------
# helpers


def _ratio_or_eps(ratio, eps) -> tuple[float | None, float | None]:
    if (ratio is None) == (eps is None):
        raise ValueError("give exactly one of ratio (fraction removed, in [0, 1)) or eps (relative error, in (0, 1))")
    return (check_ratio(ratio) if ratio is not None else None), (check_eps(eps) if eps is not None else None)


def _weights(weights: Any) -> list[np.ndarray]:
    """:func:`check_weights` plus the magnitude bound WEIGHT_ABS_MAX."""
    ws = check_weights(weights)
    for i, w in enumerate(ws):
        m = float(np.max(np.abs(w)))
        if m > WEIGHT_ABS_MAX:
            raise ValueError(f"weights[{i}] must have entries with |w| ≤ 2**1020 (WEIGHT_ABS_MAX), got max |w| = {m:g}")
    return ws


def _unit(x: np.ndarray) -> np.ndarray:
    """float64 ``x · 2^−e`` with max|x| scaled into [1/2, 1) (an exact power-of-two scaling; x if x = 0)."""
    x = np.asarray(x, dtype=np.float64)
    m = float(np.max(np.abs(x))) if x.size else 0.0
    if m == 0.0:
        return x
    return np.ldexp(x, -math.frexp(m)[1])


def _rel_removed(x: np.ndarray, removed: np.ndarray) -> float:
    """``‖x[removed]‖₂ / ‖x‖₂`` (0 for x = 0), on x scaled by a power of two: no over- or underflow."""
    u = _unit(np.ravel(x))
    den = float(np.dot(u, u))
    if den == 0.0:
        return 0.0
    r = u[np.ravel(removed)]
    return math.sqrt(float(np.dot(r, r)) / den)


def _relative_errors(x: np.ndarray) -> np.ndarray:
    """σ̄_k(x)_2 for k = 0..n via :mod:`simulations.compressibility.api` (0 for an all-zero x)."""
    from simulations.compressibility.api import relative_errors

    x = np.asarray(x, dtype=np.float64).ravel()
    if not np.any(x):
        return np.zeros(x.size + 1)
    return np.asarray(relative_errors(x, p=2.0), dtype=np.float64)


def removal_count(values_in_order: np.ndarray, eps: float) -> int:
    """Largest ``m`` with ``‖v[:m]‖₂ ≤ ε ‖v‖₂`` for values listed in removal order.

    ``values_in_order``: an array of finite reals (flattened), ``eps`` in (0, 1). An all-zero
    ``v`` is removable entirely (m = its size). Used for orders that are not by magnitude
    (random); the magnitude order uses :func:`simulations.compressibility.api.relative_errors`
    instead.
    """
    values = check_array("values_in_order", values_in_order)
    eps = check_eps(eps)
    v = _unit(values.ravel())  # scale-free; no overflow in v²
    sq = v * v
    total = float(sq.sum())
    if total == 0.0:
        return v.size
    cum = np.cumsum(sq)
    # error after removing m entries: sqrt(cum[m-1] / total)
    return int(np.searchsorted(cum / total, eps * eps, side="right"))


def _magnitude_count(values: np.ndarray, eps: float) -> int:
    """Number of smallest-|v| entries removable within relative L2 error ε (maximal)."""
    r = _relative_errors(values)  # r[k] = error keeping the k largest
    n = r.size - 1
    k_min = int(np.argmax(r <= eps))  # r is non-increasing and r[n] = 0 ≤ ε
    return n - k_min


def _n_of(ratio: float, n: int) -> int:
    # ⌊ratio·n⌋ with a guard against 0.3*10 = 2.9999999999999996
    return min(n, int(math.floor(ratio * n + 1e-9)))


def _pruned_set(n_layers: int, skip_layers, allowed: Sequence[int] | None = None) -> list[int]:
    skip = set(check_layers("skip_layers", skip_layers, n_layers))
    base = range(n_layers) if allowed is None else allowed
    return [i for i in base if i not in skip]


def _remove_in_order(masks, ws, xs, layers, scope, order_of, count_of) -> None:
    """Entry pruning per layer (``scope="layer"``) or over the pooled layers (``"global"``).

    For each group (one layer, or all of ``layers`` pooled), ``x`` = the concatenated
    vectors ``xs[i]``, ``order = order_of(x)`` the removal order and ``count_of(x, order)``
    the number removed; ``masks`` is updated in place.
    """
    for group in ([[i] for i in layers] if scope == "layer" else [layers] if layers else []):
        x = np.concatenate([xs[i] for i in group])
        order = order_of(x)
        flat = np.ones(x.size, dtype=bool)
        flat[order[: count_of(x, order)]] = False
        off = 0
        for i in group:
            n = xs[i].size
            masks[i] = flat[off : off + n].reshape(ws[i].shape).copy()
            off += n


# ---------------------------------------------------------------------------
# magnitude


def _masked_result(method: str, ws: list[np.ndarray], masks: list[np.ndarray], layers: list[int],
                   fills: list[float] | None = None, xs: dict | None = None) -> PruneResult:
    """PruneResult of a mask-based method: pruned entries of layer ``i`` set to ``fills[i]`` (default 0).

    ``rel_error[i]`` is measured on ``xs[i]`` (the centred entries; default the weights
    themselves): ``‖x_pruned‖₂ / ‖x‖₂``, 0 for a layer not in ``xs``.
    """
    fills = [0.0] * len(ws) if fills is None else fills
    xs = {i: w.astype(np.float64).ravel() for i, w in enumerate(ws)} if xs is None else xs
    out_w = [np.where(m, w, np.asarray(f, dtype=w.dtype)).astype(w.dtype, copy=False)
             for w, m, f in zip(ws, masks, fills)]
    rel = [_rel_removed(xs[i], ~m.ravel()) if i in xs else 0.0 for i, m in enumerate(masks)]
    return PruneResult(method=method, weights=out_w, masks=masks, remaining=[int(np.count_nonzero(m)) for m in masks],
                       total=[w.size for w in ws], rel_error=rel, pruned_layers=layers, fill=fills)


def magnitude_prune(
    weights: Sequence[np.ndarray],
    *,
    ratio: float | None = None,
    eps: float | None = None,
    scope: str = "layer",
    center: bool = False,
    fill: str | None = None,
    skip_layers=None,
) -> PruneResult:
    """Magnitude pruning per layer (``scope="layer"``) or with one global threshold (``"global"``).

    Removes the entries with the smallest ``|w − c_l|`` (``c_l`` = layer median
    if ``center`` else 0). ``fill`` ∈ {``"zero"``, ``"median"``} sets what the
    pruned entries become (default: ``"median"`` if ``center`` else ``"zero"``).
    Ties are broken by position (stable sort), so the result is deterministic.
    """
    ws = _weights(weights)
    ratio, eps = _ratio_or_eps(ratio, eps)
    check_choice("scope", scope, ("layer", "global"))
    center = check_bool("center", center)
    if fill is None:
        fill = "median" if center else "zero"
    check_choice("fill", fill, ("zero", "median"))
    if fill == "median" and not center:
        raise ValueError("fill='median' requires center=True")
    layers = _pruned_set(len(ws), skip_layers)
    meds = [float(np.median(w)) if (center and i in layers) else 0.0 for i, w in enumerate(ws)]
    xs = {i: (ws[i].astype(np.float64) - meds[i]).ravel() for i in layers}
    masks = full_masks(ws)
    _remove_in_order(masks, ws, xs, layers, scope, lambda x: np.argsort(np.abs(x), kind="stable"),
                     lambda x, order: _n_of(ratio, x.size) if ratio is not None else _magnitude_count(x, eps))

    fills = [meds[i] if fill == "median" else 0.0 for i in range(len(ws))]
    return _masked_result("magnitude", ws, masks, layers, fills, xs)


# ---------------------------------------------------------------------------
# random


def random_prune(
    weights: Sequence[np.ndarray],
    *,
    ratio: float | None = None,
    eps: float | None = None,
    scope: str = "layer",
    skip_layers=None,
    seed: Any = None,
) -> PruneResult:
    """Random pruning: a uniformly random removal order per layer (or pooled, ``scope="global"``).

    At fixed ratio, ``⌊ratio·n⌋`` entries chosen uniformly without replacement
    (per layer, or from the pooled entries). At fixed error ``eps``, the longest
    prefix of the random order whose removal keeps the relative L2 error ≤ ε.
    """
    ws = _weights(weights)
    ratio, eps = _ratio_or_eps(ratio, eps)
    check_choice("scope", scope, ("layer", "global"))
    rng = generator(seed)
    layers = _pruned_set(len(ws), skip_layers)
    masks = full_masks(ws)
    xs = {i: ws[i].astype(np.float64).ravel() for i in layers}
    _remove_in_order(masks, ws, xs, layers, scope, lambda x: rng.permutation(x.size),
                     lambda x, order: _n_of(ratio, x.size) if ratio is not None else removal_count(x[order], eps))
    return _masked_result("random", ws, masks, layers)


# ---------------------------------------------------------------------------
# node (neuron) pruning


def node_prune(
    weights: Sequence[np.ndarray],
    *,
    ratio: float | None = None,
    eps: float | None = None,
    score: str = "incoming",
    prune_outgoing: bool = True,
    skip_layers=None,
) -> PruneResult:
    """Neuron pruning of the hidden layers ``0 … L−2`` by the L2 norm of their weights.

    ``ratio`` = fraction of each pruned hidden layer's neurons removed (the
    smallest-norm ones). ``eps`` = per layer, the largest number of smallest-norm
    neurons whose weights (rows of ``W_l`` for ``score="incoming"``, columns of
    ``W_{l+1}`` for ``"outgoing"``) have relative Frobenius norm ≤ ε. Layer
    ``L−1`` (the output layer) is never node-pruned; listing it in
    ``skip_layers`` is allowed and changes nothing.
    """
    ws = _weights(weights)
    ratio, eps = _ratio_or_eps(ratio, eps)
    check_choice("score", score, ("incoming", "outgoing"))
    prune_outgoing = check_bool("prune_outgoing", prune_outgoing)
    L = len(ws)
    layers = _pruned_set(L, skip_layers, allowed=range(L - 1))
    masks = full_masks(ws)
    for i in layers:
        if score == "incoming":
            norms = np.linalg.norm(_unit(ws[i]), axis=1)  # scaled by a power of two: same order, no overflow
        else:
            norms = np.linalg.norm(_unit(ws[i + 1]), axis=0)
        n = norms.size
        m = _n_of(ratio, n) if ratio is not None else _magnitude_count(norms, eps)
        drop = np.argsort(norms, kind="stable")[:m]
        masks[i][drop, :] = False
        if prune_outgoing:
            masks[i + 1][:, drop] = False
    return _masked_result("node", ws, masks, layers)


# ---------------------------------------------------------------------------
# spectral (singular-value) pruning


def spectral_prune(
    weights: Sequence[np.ndarray],
    *,
    ratio: float | None = None,
    eps: float | None = None,
    center: bool = False,
    skip_layers=None,
) -> PruneResult:
    """Truncated-SVD pruning: keep the top-``k`` singular triplets of ``W_l − c_l`` per layer.

    ``Ŵ_l = U_k diag(s_k) V_kᵀ + c_l`` with ``c_l`` the per-column medians
    (``center=True``) or 0. Counted as ``k·(out + in)`` parameters.
    """
    ws = _weights(weights)
    ratio, eps = _ratio_or_eps(ratio, eps)
    center = check_bool("center", center)
    layers = _pruned_set(len(ws), skip_layers)
    out_w, remaining, ranks, factors, rel = [], [], [], [], []
    for i, w in enumerate(ws):
        rows, cols = w.shape
        r = min(rows, cols)
        if i not in layers:
            out_w.append(w.copy())
            remaining.append(w.size)
            ranks.append(r)
            factors.append(None)
            rel.append(0.0)
            continue
        x = w.astype(np.float64)
        c = np.median(x, axis=0, keepdims=True) if center else np.zeros((1, cols))
        u, s, vh = np.linalg.svd(x - c, full_matrices=False)
        if ratio is not None:
            k = r - _n_of(ratio, r)
        else:
            re = _relative_errors(s)
            k = int(np.argmax(re <= eps))
        a = u[:, :k] * s[:k]
        b = vh[:k]
        out_w.append((a @ b + c).astype(w.dtype))
        remaining.append(k * (rows + cols))
        ranks.append(k)
        factors.append((a.astype(w.dtype), b.astype(w.dtype)))
        rel.append(_rel_removed(s, np.arange(s.size) >= k))
    return PruneResult(
        method="spectral",
        weights=out_w,
        masks=None,
        remaining=remaining,
        total=[w.size for w in ws],
        rel_error=rel,
        pruned_layers=layers,
        fill=[0.0] * len(ws),
        ranks=ranks,
        factors=factors,
    )


# ---------------------------------------------------------------------------
# dispatcher

_FUNCS = {"magnitude": magnitude_prune, "random": random_prune, "node": node_prune, "spectral": spectral_prune}


def prune(weights: Sequence[np.ndarray], method: str, **options) -> PruneResult:
    """Dispatch to ``<method>_prune(weights, **options)``; ``method`` ∈ :data:`METHODS`.

    Example::

        res = prune(ws, "magnitude", ratio=0.9, scope="global")
        res.compression_ratio   # ≈ 10
    """
    check_choice("method", method, METHODS)
    return _FUNCS[method](weights, **options)
