"""Filter (channel) pruning of sequential convolutional networks, and the prunable fraction of filters.

A *prunable layer* is a conv or dense entry of ``spec.param_layout()`` (its
:attr:`~simulations.nn.model_spec.ParamEntry.prunable`), numbered ``0 … L−1`` in flat order; its
*channels* are its output channels (conv, W of shape (O, C, kh, kw)) or neurons (dense, W of
shape (out, in)). Removing channel k of layer l takes away everything through which it acts:
its filter W_l[k] and bias b_l[k], the γ_k and β_k of every BatchNorm2d between layer l and the
next prunable layer (so the normalised channel is exactly 0 in training and evaluation mode),
and the input channel k of the next prunable layer — W[:, k] for a convolution, the H·W columns
k·H·W … (k+1)·H·W − 1 for a dense layer after a Flatten of a (C, H, W) map (row-major), column k
after a GlobalAvgPool or a dense layer. The next layer then never sees the channel, whatever
the activations and pools in between do with it, so the masked network and the physically
smaller one (:func:`remove_filters`) compute the same logits. The last prunable layer gives the
logits: its neurons are never removed.

* :func:`filter_scores` — the ℓ1 or ℓ2 norm of every filter (row) of every prunable layer.
* :func:`prune_filters` — per chosen layer, remove the ⌊s·n_l⌋ filters of smallest score:
  Li, Kadav, Durdanovic, Samet & Graf 2017 (ICLR, "Pruning filters for efficient ConvNets",
  §3.1) rank the filters of a layer by the ℓ1 norm Σ|W_l[k]| and prune the smallest.
* :func:`filter_mask` — the flat 0/1 mask (``spec.n_params`` entries) of a choice of channels.
* :func:`remove_filters` — the smaller network itself (a new ModelSpec and its parameters).
* :func:`prunable_filter_fraction` — the compressibility measure of Wan, Barsbey, Zaidi &
  Şimşekli 2024 (ICML): per layer, the largest fraction of smallest-norm filters whose removal
  leaves ‖W − W_pruned‖²_F / ‖W‖²_F ≤ ε (computed by
  :func:`simulations.compressibility.api.prunable_fraction`, the entry-wise measure, applied to
  the squared filter norms with p = 1).

Residual networks (:class:`~simulations.nn.layers.BasicBlock`) tie channels through their
shortcuts: a channel of a block's output is the sum of its second BatchNorm's and its shortcut's
(the block's input, or its projection), and the next block adds it again. Those channels —
the outputs of every block's second convolution and projection, and of a sequential layer
that feeds a block — are *tied*: they can be removed only all along the chain of blocks, so
they are kept whole here. What is free is each block's inner width, as in Li et al. 2017
(their ResNets prune the first layer of each residual block): removing channel k of a
block's first convolution takes away its filter, the γ_k and β_k of the block's first
BatchNorm and input channel k of its second convolution (the inner channel is then exactly 0
before and after the ReLU, in training and evaluation mode). :func:`filter_mask` and
:func:`prune_filters` accept residual networks on those terms (``keep`` all True for a tied
layer, else a ValueError naming it; by default :func:`prune_filters` prunes the free layers), and
:func:`remove_filters` gives each block the narrower inner width (``BasicBlock.mid_channels``);
:func:`filter_scores` and :func:`prunable_filter_fraction`, which only read weights, score
every convolution.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np

from simulations._core.validation import check_array, check_choice
from simulations.nn import layers as L
from simulations.nn.model import MLPSpec
from simulations.nn.model_spec import BufferEntry, ModelSpec, ParamEntry
from simulations.pruning.masks import check_eps, check_layers, check_ratio
from simulations.pruning.one_shot import _n_of

__all__ = ["NORMS", "PrunedNetwork", "FilterFraction", "filter_scores", "filter_mask", "prune_filters",
           "remove_filters", "prunable_filter_fraction"]

#: the filter norms :func:`filter_scores` computes
NORMS = (1, 2)


class PrunedNetwork(NamedTuple):
    """The network of :func:`remove_filters`: its spec, flat parameters and BatchNorm buffers."""

    spec: ModelSpec
    flat: np.ndarray
    buffers: np.ndarray


class FilterFraction(NamedTuple):
    """:func:`prunable_filter_fraction`: ``per_layer`` {prunable layer index: fraction of its filters},
    ``overall`` (removable filters / filters, over the chosen layers) and ``params`` (weights in
    removable filters / weights, over the chosen layers)."""

    per_layer: dict
    overall: float
    params: float


@dataclasses.dataclass(frozen=True)
class _Unit:
    """A prunable layer, the BatchNorms (and their buffers) after it, and the prunable layer it feeds;
    ``tied``: why its channels must be kept whole (None when they can be removed)."""

    entry: ParamEntry
    bns: tuple[ParamEntry, ...]
    buffers: tuple[BufferEntry, ...]
    next: ParamEntry | None
    tied: str | None = None

    @property
    def channels(self) -> int:
        return self.entry.weight_shape[0]


def _check_spec(spec: Any) -> ModelSpec:
    if isinstance(spec, MLPSpec):
        return ModelSpec.from_mlp(spec)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec (or an MLPSpec), got {type(spec).__name__}")
    return spec


def _check_flat(spec: ModelSpec, flat: Any) -> np.ndarray:
    flat = check_array("flat", flat, ndim=1)
    if flat.shape[0] != spec.n_params:
        raise ValueError(f"flat must have spec.n_params = {spec.n_params} entries, got {flat.shape[0]}")
    return flat


def _entries(spec: ModelSpec) -> list[ParamEntry]:
    return [e for e in spec.param_layout() if e.prunable]


def _units(spec: ModelSpec) -> list[_Unit]:
    """The channel graph: one unit per prunable layer, in layout order (module docstring)."""
    by_layer: dict[int, list[ParamEntry]] = {}
    for e in spec.param_layout():
        by_layer.setdefault(e.layer, []).append(e)
    bufs = {b.name: b for b in spec.buffer_layout()}
    units = []
    for e in _entries(spec):
        if isinstance(spec.layers[e.layer], L.BasicBlock):
            block = {f.name[len(f"layers.{e.layer}"):]: f for f in by_layer[e.layer]}
            part = e.name[len(f"layers.{e.layer}"):]
            if part == ".conv1":     # the block's inner channels: free
                bn = block[".bn1"]
                units.append(_Unit(e, (bn,), (bufs[bn.name],), block[".conv2"]))
            else:
                bn = block[".bn2" if part == ".conv2" else ".shortcut.bn"]
                units.append(_Unit(e, (bn,), (bufs[bn.name],), None,
                                   f"the output channels of {e.name} are tied to the residual block's shortcut"))
            continue
        bns, bb, nxt, tied = [], [], None, None
        for j in range(e.layer + 1, len(spec.layers)):
            if isinstance(spec.layers[j], L.BasicBlock):
                tied = (f"the output channels of {e.name} feed the residual block spec.layers[{j}] (its first "
                        f"convolution and its shortcut)")
                break
            for f in by_layer.get(j, ()):
                if f.kind == "batchnorm":
                    bns.append(f)
                    bb.append(bufs[f.name])
                else:
                    nxt = f
            if nxt is not None:
                break
        units.append(_Unit(e, tuple(bns), tuple(bb), nxt, tied))
    return units


def _check_keep(keep: Any, units: list[_Unit]) -> list[np.ndarray]:
    n = len(units)
    if isinstance(keep, np.ndarray) or not isinstance(keep, (list, tuple)):
        raise TypeError(f"keep must be a list of {n} boolean arrays (one per prunable layer), got "
                        f"{type(keep).__name__}")
    if len(keep) != n:
        raise ValueError(f"keep must hold one boolean array per prunable layer ({n}), got {len(keep)}")
    out = []
    for l, (k, u) in enumerate(zip(keep, units)):
        a = np.asarray(k)
        if a.dtype != np.bool_:
            raise TypeError(f"keep[{l}] must be a boolean array, got dtype {a.dtype}")
        if a.shape != (u.channels,):
            raise ValueError(f"keep[{l}] must have shape ({u.channels},) (the output channels of {u.entry.name}), "
                             f"got {a.shape}")
        if not a.any():
            raise ValueError(f"keep[{l}] must keep at least one channel of {u.entry.name}, got none")
        if u.tied is not None and not a.all():
            raise ValueError(f"keep[{l}] must be all True: {u.tied}")
        out.append(a.copy())
    if not out[-1].all():
        raise ValueError(f"keep[{n - 1}] must be all True: the output layer's neurons ({units[-1].entry.name}) "
                         f"are the logits and cannot be removed")
    return out


def _scaled_rows(flat: np.ndarray, e: ParamEntry) -> tuple[np.ndarray, int]:
    """(W · 2^−s as float64 rows (O, −1), s): max|W| scaled into [1/2, 1), an exact scaling (s = 0 for W = 0)."""
    w = np.asarray(flat[e.weight_offset:e.weight_offset + math.prod(e.weight_shape)], dtype=np.float64)
    m = float(np.max(np.abs(w)))
    s = math.frexp(m)[1] if m > 0.0 else 0
    return np.ldexp(w, -s).reshape(e.weight_shape[0], -1), s


def filter_scores(spec: Any, flat: Any, norm: int = 2) -> list[np.ndarray]:
    """‖W_l[k]‖_p for every filter k of every prunable layer l (p = ``norm``), float64 arrays in layout order.

    spec : ModelSpec (an MLPSpec is converted); flat : its flat parameters (``spec.n_params`` finite
    entries); norm : 1 or 2 (:data:`NORMS`). The score of filter k is the ℓ_p norm of its weights
    W_l[k] (all C·kh·kw, or ``in``, entries; the bias is not included), as Li et al. 2017 (ICLR)
    rank filters by Σ|W_l[k]| (p = 1). Residual blocks' convolutions are scored too.
    """
    spec = _check_spec(spec)
    flat = _check_flat(spec, flat)
    norm = check_choice("norm", norm, NORMS)
    out = []
    for e in _entries(spec):
        rows, s = _scaled_rows(flat, e)
        out.append(np.ldexp(np.linalg.norm(rows, ord=norm, axis=1), s))
    return out


def filter_mask(spec: Any, keep: Any) -> np.ndarray:
    """The flat uint8 mask (``spec.n_params`` entries, 1 = kept) that removes the channels ``keep`` drops.

    keep : a list of one boolean array per prunable layer (shape (channels,), True = kept); every
    layer keeps at least one channel, and the output layer keeps all of its neurons (else a
    ValueError naming ``keep[l]``), and so does every tied layer of a residual network (module
    docstring). A removed channel k of layer l zeroes W_l[k], b_l[k], γ_k and β_k of the
    BatchNorms that follow, and input channel k of the next prunable layer (see the module
    docstring; in a residual block, its second convolution).
    """
    spec = _check_spec(spec)
    units = _units(spec)
    keep = _check_keep(keep, units)
    mask = np.ones(spec.n_params, dtype=np.uint8)
    for u, k in zip(units, keep):
        drop = np.flatnonzero(~k)
        if drop.size == 0:
            continue
        e = u.entry
        mask[e.weight_offset:e.weight_offset + math.prod(e.weight_shape)].reshape(u.channels, -1)[drop] = 0
        if e.bias_offset is not None:
            mask[e.bias_offset + drop] = 0
        for b in u.bns:
            mask[b.weight_offset + drop] = 0
            mask[b.bias_offset + drop] = 0
        n = u.next
        mask[n.weight_offset:n.weight_offset + math.prod(n.weight_shape)].reshape(
            n.weight_shape[0], u.channels, -1)[:, drop] = 0
    return mask


def prune_filters(spec: Any, flat: Any, sparsity: float, layers: Any = None,
                  scores: Any = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Remove the fraction ``sparsity`` of lowest-score filters in each chosen layer: (keep, mask).

    sparsity : in [0, 1). Layer l (n_l channels) loses m_l = ⌊sparsity · n_l⌋ channels (a product
        within 1e-9 of an integer counts as that integer, so 0.3 · 10 removes 3), at most n_l − 1.
    layers : prunable layer indices (0 … L−1, negatives count from the end) or None (default:
        every prunable layer but the output layer L−1, which may not be listed, and but the tied
        layers of a residual network, which may not be listed either: there the default is the
        first convolution of every block).
    scores : None (default: the ℓ1 filter norms of Li et al. 2017, ``filter_scores(spec, flat, 1)``)
        or one finite 1-D array per prunable layer, of the layer's channel count (e.g. from
        :func:`filter_scores`); a smaller score is removed first.

    Ties: among equal scores, the lower channel index is removed first (a stable sort). Returns
    ``keep`` (one boolean array per prunable layer) and ``filter_mask(spec, keep)``.
    """
    spec = _check_spec(spec)
    flat = _check_flat(spec, flat)
    units = _units(spec)
    sparsity = check_ratio(sparsity, "sparsity")
    n = len(units)
    chosen = ([l for l in range(n - 1) if units[l].tied is None] if layers is None
              else check_layers("layers", layers, n))
    if n - 1 in chosen:
        raise ValueError(f"layers must not hold the output layer ({n - 1}, or -1): its neurons are the logits")
    for l in chosen:
        if units[l].tied is not None:
            raise ValueError(f"layers must not hold layer {l}: {units[l].tied}")
    if scores is None:
        scores = filter_scores(spec, flat, norm=1)
    elif isinstance(scores, np.ndarray) or not isinstance(scores, (list, tuple)):
        raise TypeError(f"scores must be None or a list of {n} 1-D arrays (one per prunable layer), got "
                        f"{type(scores).__name__}")
    elif len(scores) != n:
        raise ValueError(f"scores must hold one array per prunable layer ({n}), got {len(scores)}")
    keep = [np.ones(u.channels, dtype=bool) for u in units]
    for l in chosen:
        s = check_array(f"scores[{l}]", scores[l], ndim=1)
        c = units[l].channels
        if s.shape[0] != c:
            raise ValueError(f"scores[{l}] must have {c} entries (the channels of {units[l].entry.name}), "
                             f"got {s.shape[0]}")
        m = min(_n_of(sparsity, c), c - 1)
        keep[l][np.argsort(s, kind="stable")[:m]] = False
    return keep, filter_mask(spec, keep)


def _check_buffers(spec: ModelSpec, buffers: Any) -> np.ndarray:
    if buffers is None:
        if spec.n_buffers:
            raise ValueError(f"buffers must be the {spec.n_buffers} BatchNorm running statistics of spec, got None")
        return np.zeros(0, dtype=spec.np_dtype)
    buffers = check_array("buffers", buffers, ndim=1)
    if buffers.shape[0] != spec.n_buffers:
        raise ValueError(f"buffers must have spec.n_buffers = {spec.n_buffers} entries, got {buffers.shape[0]}")
    return buffers


def remove_filters(spec: Any, flat: Any, buffers: Any, keep: Any) -> PrunedNetwork:
    """The physically smaller network without the channels ``keep`` drops: (spec, flat, buffers).

    spec, flat : the network (``flat`` finite, ``spec.n_params`` entries); buffers : its BatchNorm
    running statistics (``spec.n_buffers`` entries; None when there is no BatchNorm); keep : as
    :func:`filter_mask`. Each conv (dense) layer gets ``out_channels`` (``out_features``) = its kept
    count; its weights keep the rows of its kept channels and the columns of the kept channels of
    the layer before; BatchNorm γ, β, running mean and variance keep the kept channels. The new
    network's logits (same shape: the output layer is whole) equal those of the masked network
    ``flat * filter_mask(spec, keep)`` in evaluation and in training mode; its arrays have
    ``spec.dtype``. A residual block keeps its output width and gets ``mid_channels`` = the kept
    count of its first convolution's filters.
    """
    spec = _check_spec(spec)
    flat = _check_flat(spec, flat)
    buffers = _check_buffers(spec, buffers)
    units = _units(spec)
    keep = _check_keep(keep, units)
    layers = list(spec.layers)
    for u, k in zip(units, keep):
        lay = layers[u.entry.layer]
        if isinstance(lay, L.BasicBlock):      # only its inner width can change (tied channels are all kept)
            if u.entry.name.endswith(".conv1"):
                layers[u.entry.layer] = dataclasses.replace(lay, mid_channels=int(k.sum()))
            continue
        field = "out_channels" if isinstance(lay, L.Conv2d) else "out_features"
        layers[u.entry.layer] = dataclasses.replace(lay, **{field: int(k.sum())})
    new = spec.with_(layers=tuple(layers))
    dt = new.np_dtype
    out = np.empty(new.n_params, dtype=dt)
    out_buf = np.empty(new.n_buffers, dtype=dt)
    old = {e.name: e for e in spec.param_layout()}
    old_buf = {b.name: b for b in spec.buffer_layout()}
    kept_out = {u.entry.name: k for u, k in zip(units, keep)}   # prunable layer → its kept channels
    kept_in: dict[str, np.ndarray] = {}     # prunable layer → the kept channels of the layer feeding it
    kept_bn: dict[str, np.ndarray] = {}     # BatchNorm → the kept channels of the layer before it
    for u, k in zip(units, keep):
        if u.next is not None:
            kept_in[u.next.name] = k
        for b in u.bns:
            kept_bn[b.name] = k
    for e in new.param_layout():
        o = old[e.name]
        w = flat[o.weight_offset:o.weight_offset + math.prod(o.weight_shape)]
        b = None if o.bias_offset is None else flat[o.bias_offset:o.end]
        if e.kind == "batchnorm":
            k = kept_bn.get(e.name)
            if k is not None:
                w, b = w[k], b[k]
        else:
            rows = kept_out[e.name]
            w = w.reshape(o.weight_shape[0], -1)[rows]
            if e.name in kept_in:
                kin = kept_in[e.name]
                w = w.reshape(w.shape[0], kin.size, -1)[:, kin]
            b = None if b is None else b[rows]
        out[e.weight_offset:e.weight_offset + math.prod(e.weight_shape)] = w.ravel()
        if b is not None:
            out[e.bias_offset:e.end] = b
    for nb in new.buffer_layout():
        ob = old_buf[nb.name]
        k = kept_bn.get(nb.name, np.ones(ob.channels, dtype=bool))
        out_buf[nb.mean_offset:nb.mean_offset + nb.channels] = buffers[ob.mean_offset:ob.mean_offset + ob.channels][k]
        out_buf[nb.var_offset:nb.var_offset + nb.channels] = buffers[ob.var_offset:ob.var_offset + ob.channels][k]
    return PrunedNetwork(new, out, out_buf)


def prunable_filter_fraction(spec: Any, flat: Any, eps: float = 0.1, layers: Any = None) -> FilterFraction:
    """Wan, Barsbey, Zaidi & Şimşekli 2024 (ICML)'s compressibility of a network's filters.

    Per chosen prunable layer l with filters (rows) w_1 … w_n: the largest m/n such that removing
    the m smallest-norm filters leaves ‖W − W_pruned‖²_F / ‖W‖²_F = Σ_{removed} ‖w_k‖² / Σ_k ‖w_k‖²
    ≤ ε (removing the smallest is optimal for a fixed m; a zero W is wholly removable). This is
    :func:`simulations.compressibility.api.prunable_fraction` of the squared row norms with
    p = 1, the filter version of the neuron measure the two-layer ensembles record
    (:mod:`simulations.noise_injection.metrics`).

    eps : in (0, 1) (default 0.1, Wan et al.'s value). layers : prunable layer indices or None
    (default: every prunable layer but the output layer; Wan et al.'s code also leaves out the
    first convolution: pass ``layers`` to do the same). Residual blocks' convolutions count as
    layers. Returns a :class:`FilterFraction`: per layer, and pooled over the chosen layers by
    filter count (``overall``) and by weight count (``params``).
    """
    from simulations.compressibility.api import prunable_fraction

    spec = _check_spec(spec)
    flat = _check_flat(spec, flat)
    eps = check_eps(eps)
    entries = _entries(spec)
    n = len(entries)
    chosen = list(range(n - 1)) if layers is None else check_layers("layers", layers, n)
    if not chosen:
        raise ValueError("layers must choose at least one prunable layer, got none (the default leaves out the "
                         "output layer: a network with one prunable layer needs layers=[0])")
    per, removed, total, removed_w, total_w = {}, 0, 0, 0, 0
    for l in chosen:
        rows, _ = _scaled_rows(flat, entries[l])
        frac = float(prunable_fraction(np.einsum("ij,ij->i", rows, rows), eps, p=1.0))
        c, size = rows.shape
        m = round(frac * c)
        per[l] = frac
        removed, total = removed + m, total + c
        removed_w, total_w = removed_w + m * size, total_w + c * size
    return FilterFraction(per, removed / total, removed_w / total_w)
