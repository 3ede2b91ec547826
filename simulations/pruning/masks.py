"""Masks over lists of weight matrices: validation, application, counting.

A *network* here is a list of dense weight matrices ``W_l`` of shape
``(out_l, in_l)`` (the convention of :mod:`simulations.nn`: ``y = W x``), and a
*mask* is a list of boolean arrays of the same shapes, ``True`` = kept. The
pruned network is ``W_l ⊙ M_l`` (or, for median-centred pruning, the pruned
entries are set to a per-layer constant ``c_l`` instead of 0:
``M_l ⊙ W_l + (1 − M_l) c_l``; see :func:`apply_masks`).

Layer indices follow Python: ``0 … L−1`` and ``−L … −1``. A layer index that
does not exist raises ``ValueError`` naming the parameter that held it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_choice, check_int, check_probability, check_real

__all__ = [
    "check_weights",
    "check_masks",
    "check_mask_list",
    "check_layers",
    "check_ratio",
    "check_eps",
    "apply_masks",
    "combine_masks",
    "full_masks",
    "mask_counts",
    "sparsity",
]


def check_weights(weights: Any, name: str = "weights") -> list[np.ndarray]:
    """A non-empty list of finite 2-D float arrays ``(out, in)``; consecutive shapes must chain.

    Returns the arrays (no copy when already floating). Raises ``TypeError`` for
    a non-sequence and ``ValueError`` for a wrong ``ndim``, NaN/inf, or
    ``W_{l+1}.shape[1] != W_l.shape[0]``.
    """
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list of 2-D arrays (out, in), got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError(f"{name} must hold at least one weight matrix, got an empty list")
    out = []
    for i, w in enumerate(weights):
        a = check_array(f"{name}[{i}]", w, ndim=2, min_size=1)
        out.append(a)
    for i in range(1, len(out)):
        if out[i].shape[1] != out[i - 1].shape[0]:
            raise ValueError(
                f"{name}[{i}] must have in_features = {out[i - 1].shape[0]} (= out_features of {name}[{i - 1}]), "
                f"got shape {out[i].shape}"
            )
    return out


def _bool_array(name: str, m: Any) -> np.ndarray:
    """One mask: a boolean array, or a real array of 0/1 values (converted to bool)."""
    if isinstance(m, (str, bytes)):
        raise TypeError(f"{name} must be an array of booleans (or 0/1), got {type(m).__name__}")
    m = np.asarray(m)
    if m.dtype == np.bool_:
        return m
    if m.dtype == object or not np.issubdtype(m.dtype, np.number) or np.iscomplexobj(m):
        raise TypeError(f"{name} must be an array of booleans (or 0/1), got dtype {m.dtype}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError(f"{name} must be boolean (or 0/1), got other values")
    return m.astype(bool)


def _check_shapes(shapes: Any) -> list[tuple[int, ...]]:
    """A list of array shapes (tuples of ints ≥ 0)."""
    if not isinstance(shapes, (list, tuple)):
        raise TypeError(f"shapes must be None or a list of array shapes (tuples of ints), got {type(shapes).__name__}")
    out = []
    for i, sh in enumerate(shapes):
        if not isinstance(sh, (list, tuple)):
            raise TypeError(f"shapes[{i}] must be an array shape (a tuple of ints), got {type(sh).__name__}")
        out.append(tuple(check_int(f"shapes[{i}]", d, 0) for d in sh))
    return out


def check_mask_list(masks: Any, name: str = "masks", shapes: Sequence[tuple] | None = None) -> list[np.ndarray]:
    """A non-empty list of masks (boolean or 0/1 arrays), with the given ``shapes`` when given.

    ``shapes``: None, or a list of array shapes (tuples of ints), one per mask.
    """
    if shapes is not None:
        shapes = _check_shapes(shapes)
    if not isinstance(masks, (list, tuple)):
        raise TypeError(f"{name} must be a list of boolean arrays, got {type(masks).__name__}")
    if len(masks) == 0:
        raise ValueError(f"{name} must hold at least one mask, got an empty list")
    if shapes is not None and len(masks) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} boolean arrays (one per layer), got {len(masks)}")
    out = []
    for i, m in enumerate(masks):
        m = _bool_array(f"{name}[{i}]", m)
        if shapes is not None and m.shape != tuple(shapes[i]):
            raise ValueError(f"{name}[{i}] must have shape {tuple(shapes[i])}, got {m.shape}")
        out.append(m)
    return out


def check_masks(masks: Sequence[np.ndarray] | None, weights: Sequence[np.ndarray], name: str = "masks"
                ) -> list[np.ndarray]:
    """A list of boolean (or 0/1) arrays with the shapes of ``weights`` (``None`` ⇒ all kept).

    ``weights`` is a network as accepted by :func:`check_weights`.
    """
    ws = check_weights(weights)
    if masks is None:
        return full_masks(ws)
    return check_mask_list(masks, name, [w.shape for w in ws])


def check_layers(name: str, layers: Iterable[int] | int | None, n_layers: int) -> list[int]:
    """Normalise a collection of layer indices (Python style, negatives allowed) to sorted ``0…L−1``.

    ``None`` ⇒ ``[]``. ``n_layers`` = L is an integer ≥ 1. An index outside ``[−L, L−1]`` ⇒
    ``ValueError`` naming ``name``.
    """
    n_layers = check_int("n_layers", n_layers, 1)
    if layers is None:
        return []
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    if not isinstance(layers, Iterable) or isinstance(layers, (str, bytes)):
        raise TypeError(f"{name} must be a collection of layer indices, got {type(layers).__name__}")
    out = set()
    for v in layers:
        i = check_int(name, v)
        if not -n_layers <= i < n_layers:
            raise ValueError(
                f"{name} must hold layer indices in [{-n_layers}, {n_layers - 1}] (the network has {n_layers} "
                f"weight matrices), got {i}"
            )
        out.add(i % n_layers)
    return sorted(out)


def check_ratio(ratio: Any, name: str = "ratio") -> float:
    """Pruning ratio (fraction of entries removed) in ``[0, 1)``."""
    return check_real(name, ratio, 0.0, 1.0, high_open=True)


def check_eps(eps: Any, name: str = "eps") -> float:
    """Relative L2 error budget in ``(0, 1)``."""
    return check_probability(name, eps, open_low=True, open_high=True)


def full_masks(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """All-``True`` masks (nothing pruned), one per weight matrix (a single 2-D array counts as one layer)."""
    return [np.ones(w.shape, dtype=bool) for w in check_weights(weights)]


def combine_masks(*mask_lists: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Element-wise AND of several mask lists (an entry survives only if every list keeps it)."""
    if not mask_lists:
        raise ValueError("mask_lists must hold at least one list of masks")
    first = check_mask_list(mask_lists[0], "mask_lists[0]")
    shapes = [m.shape for m in first]
    out = [m.copy() for m in first]
    for j, ml in enumerate(mask_lists[1:], start=1):
        for o, m in zip(out, check_mask_list(ml, f"mask_lists[{j}]", shapes)):
            o &= m
    return out


def apply_masks(
    weights: Sequence[np.ndarray], masks: Sequence[np.ndarray], fill: Sequence[float] | float | None = None
) -> list[np.ndarray]:
    """Return new arrays ``M ⊙ W + (1 − M) c`` (``c = 0`` unless ``fill`` gives one value per layer).

    ``weights`` as for :func:`check_weights`; ``masks`` a list of boolean (or 0/1) arrays of
    their shapes (required). The dtype of each weight matrix is kept. ``fill`` = one constant
    for every layer or per-layer constants for median-centred pruning (Barsbey et al. 2021 set
    pruned entries to the layer median).
    """
    ws = check_weights(weights)
    if masks is None:
        raise TypeError("masks must be a list of boolean arrays (one per layer), got None")
    ms = check_masks(masks, ws)
    if fill is None:
        fills = [0.0] * len(ws)
    elif np.ndim(fill) == 0:
        fills = [check_real("fill", fill)] * len(ws)
    else:
        fills = [check_real(f"fill[{i}]", f) for i, f in enumerate(fill)]
        if len(fills) != len(ws):
            raise ValueError(f"fill must hold {len(ws)} values (one per layer), got {len(fills)}")
    out = []
    for w, m, c in zip(ws, ms, fills):
        o = np.where(m, w, np.asarray(c, dtype=w.dtype)).astype(w.dtype, copy=False)
        out.append(o)
    return out


def mask_counts(masks: Sequence[np.ndarray]) -> tuple[list[int], list[int]]:
    """``(kept, total)`` entry counts per layer."""
    masks = check_mask_list(masks)
    kept = [int(np.count_nonzero(m)) for m in masks]
    total = [int(np.size(m)) for m in masks]
    return kept, total


def sparsity(masks: Sequence[np.ndarray], layers: Iterable[int] | None = None) -> float:
    """Fraction of pruned entries over the given layers (all by default)."""
    masks = check_mask_list(masks)
    idx = range(len(masks)) if layers is None else check_layers("layers", layers, len(masks))
    kept = sum(int(np.count_nonzero(masks[i])) for i in idx)
    total = sum(int(np.size(masks[i])) for i in idx)
    return 1.0 - kept / total if total else 0.0


def _choice(name, value, choices):  # re-export for the sibling modules
    return check_choice(name, value, choices)
