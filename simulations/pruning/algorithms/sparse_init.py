"""Sparsity-aware initialisation: each unit's initial weights rescaled to its own fan-in under a mask.

A dense initialisation draws layer ``l``'s weights with a variance ``∝ 1/n_l``, ``n_l`` the dense
fan-in (``in`` of a dense layer, ``C·kh·kw`` of a convolution), so that pre-activations keep their
scale from layer to layer. Under a random mask, unit ``i`` of layer ``l`` (a row of a dense layer,
an output channel of a convolution) keeps only ``n_{l,i} = Σ_j M_{l,ij}`` of its ``n_l`` inputs,
and its pre-activation variance shrinks by ``n_{l,i}/n_l``; through several sparse layers the
shrinkage multiplies, and at high sparsity the logits barely depend on the input. Evci, Ioannou,
Keskin & Dauphin (AAAI 2022, "Gradient flow in sparse neural networks and how lottery tickets win";
their "sparse initialization") draw each unit's weights with the variance of the dense law at
the unit's own fan-in, ``Var W_{l,ij} = 2/n_{l,i}`` for He's normal law.

:func:`sparse_fan_in_init` does this for any dense law of scale ``∝ 1/√n_l`` by rescaling:
``W'_{l,ij} = M_{l,ij} W_{l,ij} √(n_l / n_{l,i})`` — so PyTorch's default ``U(±1/√n_l)`` becomes
``U(±1/√n_{l,i})`` on the active entries, and He's ``N(0, 2/n_l)`` becomes Evci et al.'s
``N(0, 2/n_{l,i})``. A unit with no active input (``n_{l,i} = 0``) has nothing to rescale (scale 1);
biases and buffers are not changed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations.nn.model import Params
from simulations.pruning.masks import check_mask_list

__all__ = ["sparse_fan_in_init", "fan_in_scales"]


def fan_in_scales(mask: Any) -> np.ndarray:
    """``√(n / n_i)`` per unit ``i`` (axis 0) of one layer's boolean ``mask`` (1.0 where ``n_i = 0``).

    ``mask``: a boolean (or 0/1) array of shape ``(out, in)`` or ``(out, C, kh, kw)``.
    """
    m = check_mask_list([mask], "mask")[0]
    if m.ndim < 2:
        raise ValueError(f"mask must have at least 2 axes (units × inputs), got shape {m.shape}")
    n = int(np.prod(m.shape[1:]))
    nnz = m.reshape(m.shape[0], -1).sum(axis=1)
    return np.where(nnz > 0, np.sqrt(n / np.maximum(nnz, 1)), 1.0)


def sparse_fan_in_init(params: Params, masks: Any) -> Params:
    """A copy of ``params`` with every layer's weights masked and rescaled unit by unit (module docstring).

    ``params``: a :class:`~simulations.nn.Params`; ``masks``: one boolean array per weight tensor,
    of the tensor's shape. Biases and buffers are copied unchanged.
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be a Params, got {type(params).__name__}")
    out = params.copy()
    ws = out.weights
    masks = check_mask_list(masks, "masks", shapes=[w.shape for w in ws])
    for w, m in zip(ws, masks):
        s = fan_in_scales(m).astype(w.dtype).reshape((-1,) + (1,) * (w.ndim - 1))
        w *= m
        w *= s
    return out
