"""The shared flow of every score-based pruning algorithm: score, then drop the lowest survivors.

Following jaxpruner's design (one base owns the flow, each algorithm overrides only its
scoring), an algorithm here is a subclass of :class:`ScoreBased` that implements
:meth:`ScoreBased.scores` — one array per weight matrix, of that matrix's shape, larger =
more important. :meth:`ScoreBased.prune` then turns scores into masks the same way for every
method:

* only the surviving entries of ``masks`` compete (a pruned weight is never revived);
* ``layers`` (default: every layer) are pruned, the others stay as they are;
* the target is a weight *sparsity* ``s`` over the pruned layers — ``⌊s·n⌋`` of their ``n``
  weights removed in all (cumulative, counting the entries already pruned);
* ``scope="global"`` ranks the pooled scores of the pruned layers against one threshold;
  ``scope="layer"`` removes ``⌊s·n_l⌋`` in every layer; ``densities`` (one target density
  ``d_l`` per pruned layer, e.g. Erdős–Rényi-kernel densities) keeps ``round(d_l·n_l)`` of
  layer ``l``.

Ties are broken by position (stable sort), so a run is deterministic. Biases are never pruned.
Masks are lists of boolean arrays ``(out, in)``, ``True`` = kept, as everywhere in
:mod:`simulations.pruning`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_choice, check_int
from simulations.pruning.iterative import prune_step
from simulations.pruning.masks import _check_shapes, check_layers, check_mask_list, check_ratio

__all__ = ["ScoreBased", "Magnitude", "removal_counts", "full_weight_masks", "check_params"]


def check_params(params: Any, name: str = "params"):
    """``params`` itself when it is a :class:`simulations.nn.Params` (TypeError naming ``name`` otherwise)."""
    from simulations.nn import Params

    if not isinstance(params, Params):
        raise TypeError(f"{name} must be a simulations.nn.Params, got {type(params).__name__}")
    return params


def full_weight_masks(shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """All-kept boolean masks of the given ``(out, in)`` shapes (a list of tuples of ints ≥ 0)."""
    return [np.ones(s, dtype=bool) for s in _check_shapes(shapes)]


def removal_counts(masks: Sequence[np.ndarray], sparsity: float, layers: Sequence[int], scope: str,
                   densities: Sequence[float] | None = None) -> int | list[int]:
    """How many surviving entries :func:`simulations.pruning.iterative.prune_step` must remove.

    ``masks``: boolean masks (True = kept); ``sparsity`` in [0, 1): the target fraction of pruned
    weights over ``layers``; ``scope``: ``"global"`` (one total) or ``"layer"`` (one count per
    entry of ``layers``). ``densities``: None, or one target density in [0, 1] per entry of
    ``layers`` (then ``scope`` must be ``"layer"`` and ``sparsity`` is not used). A layer already
    sparser than its target loses nothing more (never a negative count).
    """
    masks = check_mask_list(masks)
    check_choice("scope", scope, ("global", "layer"))
    L = len(masks)
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple, range)):
        raise TypeError(f"layers must be a list of layer indices, got {layers!r}")
    layers = [check_int("layers", v, -L, L - 1) % L for v in layers]
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers must hold distinct layer indices, got {layers}")
    if densities is not None:
        if scope != "layer":
            raise ValueError(f"densities need scope='layer', got scope={scope!r}")
        if isinstance(densities, (str, bytes)) or np.ndim(densities) != 1 or len(densities) != len(layers):
            raise ValueError(f"densities must hold one density per pruned layer ({len(layers)}), got {densities!r}")
        out = []
        for li, d in zip(layers, densities):
            d = float(d)
            if not 0.0 <= d <= 1.0:
                raise ValueError(f"densities must lie in [0, 1], got {d}")
            keep = int(round(d * masks[li].size))
            out.append(max(0, int(masks[li].sum()) - keep))
        return out
    s = check_ratio(sparsity, "sparsity")
    if scope == "global":
        n = sum(masks[li].size for li in layers)
        keep = n - int(math.floor(s * n + 1e-9))
        return max(0, sum(int(masks[li].sum()) for li in layers) - keep)
    return [max(0, int(masks[li].sum()) - (masks[li].size - int(math.floor(s * masks[li].size + 1e-9))))
            for li in layers]


class ScoreBased:
    """Base of the score-based pruners: subclasses implement :meth:`scores` only.

    ``scope`` (``"global"`` or ``"layer"``) is the default ranking scope of :meth:`prune`.
    """

    #: registry name of the algorithm
    name = "score_based"
    #: whether :meth:`scores` needs data (``data=(X, y)``); SynFlow and magnitude do not
    needs_data = True

    def __init__(self, scope: str = "global"):
        self.scope = check_choice("scope", scope, ("global", "layer"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scope={self.scope!r})"

    def scores(self, params, data: tuple | None, masks: list[np.ndarray]) -> list[np.ndarray]:
        """One score array per weight matrix (its shape), larger = kept. Overridden by each algorithm.

        ``params``: a :class:`simulations.nn.Params`; ``data``: ``(X, y)`` (a minibatch or more) or
        None for data-free scores; ``masks``: the current boolean weight masks (pruned entries are
        zero in ``params`` already).
        """
        raise NotImplementedError

    def prune(self, params, sparsity: float = 0.5, *, data: tuple | None = None, masks=None,
              layers=None, scope: str | None = None, densities: Sequence[float] | None = None
              ) -> list[np.ndarray]:
        """New masks: the lowest-scoring survivors removed to reach ``sparsity`` over ``layers``.

        ``params``: :class:`simulations.nn.Params`; ``sparsity`` in [0, 1); ``masks``: None (all
        kept) or one boolean array per weight matrix; ``layers``: None (all) or layer indices;
        ``scope``: None (this pruner's) or ``"global"``/``"layer"``; ``densities``: per-layer
        target densities (see :func:`removal_counts`).
        """
        params = check_params(params)
        shapes = params.spec.weight_shapes
        masks = full_weight_masks(shapes) if masks is None else check_mask_list(masks, shapes=shapes)
        L = len(shapes)
        layers = list(range(L)) if layers is None else check_layers("layers", layers, L)
        if not layers:
            raise ValueError("layers must name at least one layer to prune")
        scope = self.scope if scope is None else check_choice("scope", scope, ("global", "layer"))
        if densities is not None:
            scope = "layer"
        if self.needs_data and data is None:
            raise ValueError(f"{type(self).__name__} scores need data=(X, y), got None")
        n_remove = removal_counts(masks, sparsity, layers, scope, densities)
        scores = self.scores(params, data, masks)
        if len(scores) != L:
            raise RuntimeError(f"{type(self).__name__}.scores returned {len(scores)} arrays for {L} layers")
        return prune_step([np.asarray(s, dtype=np.float64) for s in scores], masks, n_remove, scope, layers)


class Magnitude(ScoreBased):
    """Magnitude pruning (Han, Pool, Tran & Dally 2015, NeurIPS): the score of a weight is |θ|.

    Data-free; with the default ``scope="global"`` one threshold over the pooled layers. Works on
    any :class:`simulations.nn.Params`, convolutional kernels included (scores have the weights' shapes).
    """

    needs_data = False

    def scores(self, params, data, masks):
        return [np.abs(np.asarray(w, dtype=np.float64)) for w in params.weights]
