"""The compute a pruning method spends, counted the same way for every method.

Unit: multiply–accumulates (MACs), the unit of
:func:`simulations.pruning.metrics.sparse_flops` (ShrinkBench's "FLOPs"; Blalock et al. 2020).
With ``f(m)`` = MACs of one forward pass of one example through the network with weight masks
``m`` (kept weights, plus the biases),

* a forward pass over ``n`` examples costs ``n·f(m)``;
* a backward pass (gradients with respect to activations and weights) costs ``2·n·f(m)``, so
  a training step on a batch of ``B`` costs ``3·B·f(m)`` — the convention of Evci, Gale,
  Menick, Castro & Elsen (ICML 2020, "Rigging the lottery", App. H), who count a sparse
  step as ``3·f_S`` and RigL's dense-gradient step as ``2·f_S + f_D``;
* a Hessian-vector product (Pearlmutter's R-operator: one more forward and backward pass)
  costs ``2·3·n·f(m)``.

Pruning with dense masks on dense hardware costs what a dense network costs; the counts
here are the theoretical compute of the sparse network, as in the papers compared.
:class:`Compute` accumulates steps, examples seen and MACs along a method's run.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulations._core.validation import check_bool, check_int, check_real

__all__ = ["Compute", "forward_macs", "layer_positions", "has_bias"]


def layer_positions(spec) -> list[int] | None:
    """How many times one example applies each prunable weight tensor of ``spec``: None for an
    :class:`simulations.nn.MLPSpec` (every layer once); for a :class:`simulations.nn.ModelSpec`, the output
    positions ``H_out·W_out`` of each convolution (its output map, read from ``spec.shapes()`` of the layer that
    holds it: in a residual block every convolution, the shortcut's included, outputs the block's map) and 1
    for each dense layer."""
    from simulations.nn.model import MLPSpec
    from simulations.nn.model_spec import ModelSpec

    if isinstance(spec, MLPSpec):
        return None
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be an MLPSpec or a ModelSpec, got {type(spec).__name__}")
    shapes = spec.shapes()
    out = []
    for e in spec.param_layout():
        if e.prunable:
            out.append(int(np.prod(shapes[e.layer][1:])) if e.kind == "conv" else 1)
    return out


def has_bias(spec) -> bool:
    """Whether the prunable layers of ``spec`` carry biases (counted dense in the MACs): ``spec.bias`` for an
    :class:`simulations.nn.MLPSpec`; for a :class:`simulations.nn.ModelSpec`, True when every conv and dense
    layer has one."""
    from simulations.nn.model import MLPSpec

    if isinstance(spec, MLPSpec):
        return bool(spec.bias)
    layer_positions(spec)  # validates spec
    return all(e.bias_shape is not None for e in spec.param_layout() if e.prunable)


def forward_macs(shapes: Sequence[tuple[int, ...]], masks: Sequence[np.ndarray] | None = None,
                 bias: bool = True, positions: Sequence[int] | None = None) -> int:
    """MACs of one forward pass of one example: ``Σ_l P_l·(nnz(M_l) + o_l)``, ``o_l`` the layer's outputs
    per position when it has a bias.

    ``shapes``: the weight shapes, dense ``(out, in)`` or convolution ``(O, C, kh, kw)``; ``masks``: None
    (dense) or one boolean mask per layer; ``positions``: None (every ``P_l`` = 1, an MLP) or the number of
    positions ``P_l`` ≥ 1 at which layer l is applied (a convolution's output map ``H_out·W_out``, see
    :func:`layer_positions`). A convolution then costs ``H_out·W_out·nnz`` MACs, the count of
    ShrinkBench (Blalock et al. 2020) for a masked convolution.
    """
    from simulations.pruning.masks import _check_shapes, check_mask_list

    shapes = _check_shapes(shapes)
    bias = check_bool("bias", bias)
    if positions is None:
        positions = [1] * len(shapes)
    else:
        if isinstance(positions, (str, bytes)) or not isinstance(positions, (list, tuple)):
            raise TypeError(f"positions must be None or a list of ints ≥ 1, one per layer, got {positions!r}")
        if len(positions) != len(shapes):
            raise ValueError(f"positions must hold one count per layer ({len(shapes)}), got {len(positions)}")
        positions = [check_int(f"positions[{i}]", p, 1) for i, p in enumerate(positions)]
    if masks is not None:
        if isinstance(masks, np.ndarray) or not isinstance(masks, (list, tuple)):
            raise TypeError(f"masks must be None or a list of boolean masks, got {type(masks).__name__}")
        if len(masks) != len(shapes):
            raise ValueError(f"masks must hold one mask per layer ({len(shapes)}), got {len(masks)}")
        masks = check_mask_list(masks, shapes=shapes)
    total = 0
    for i, sh in enumerate(shapes):
        kept = int(np.prod(sh)) if masks is None else int(np.count_nonzero(masks[i]))
        total += positions[i] * (kept + (sh[0] if bias else 0))
    return int(total)


@dataclass
class Compute:
    """Running totals of a method's compute: training ``steps``, ``examples`` seen, ``macs``.

    ``parts`` breaks ``macs`` down by phase (``"train"``, ``"score"``, ``"dense_grad"``, …).
    """

    steps: int = 0
    examples: int = 0
    macs: float = 0.0
    parts: dict = field(default_factory=dict)

    def __post_init__(self):
        self.steps = check_int("steps", self.steps, 0)
        self.examples = check_int("examples", self.examples, 0)
        self.macs = check_real("macs", self.macs, 0.0)
        if not isinstance(self.parts, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                for k, v in self.parts.items()):
            raise TypeError(f"parts must be a dict of phase name -> non-negative MACs, got {self.parts!r}")

    def add(self, part: str, macs: float) -> None:
        """Add ``macs`` to the total and to phase ``part`` (arithmetic no pass formula covers)."""
        macs = check_real("macs", macs, 0.0)
        if not isinstance(part, str):
            raise TypeError(f"part must be a str, got {type(part).__name__}")
        self.macs += float(macs)
        self.parts[part] = self.parts.get(part, 0.0) + float(macs)

    def train(self, shapes, masks, batch_size: int, steps: int, bias: bool = True, part: str = "train",
              positions: Sequence[int] | None = None) -> None:
        """``steps`` SGD steps on batches of ``batch_size`` with ``masks`` fixed: ``3·B·f(m)`` each
        (``positions`` as for :func:`forward_macs`)."""
        b = check_int("batch_size", batch_size, 1)
        k = check_int("steps", steps, 0)
        self.steps += k
        self.examples += b * k
        self.add(part, 3.0 * b * k * forward_macs(shapes, masks, bias, positions))

    def passes(self, shapes, masks, n_examples: int, forward: int = 1, backward: int = 0, hvp: int = 0,
               bias: bool = True, part: str = "score", positions: Sequence[int] | None = None) -> None:
        """Scoring passes over ``n_examples``: ``forward`` forward, ``backward`` backward, ``hvp`` H·v products
        (``positions`` as for :func:`forward_macs`)."""
        n = check_int("n_examples", n_examples, 0)
        f = check_int("forward", forward, 0)
        bw = check_int("backward", backward, 0)
        h = check_int("hvp", hvp, 0)
        self.add(part, n * forward_macs(shapes, masks, bias, positions) * (f + 2 * bw + 6 * h))

    def merged(self, other: Compute) -> Compute:
        """The sum of two counts (a method made of phases, e.g. dense training then fine-tuning)."""
        parts = dict(self.parts)
        for k, v in other.parts.items():
            parts[k] = parts.get(k, 0.0) + v
        return Compute(self.steps + other.steps, self.examples + other.examples, self.macs + other.macs, parts)

    def to_dict(self) -> dict:
        return {"steps": self.steps, "examples": self.examples, "macs": self.macs, "parts": dict(self.parts)}
