"""A whole sequential network: :class:`ModelSpec` (shapes, flat parameter layout, BatchNorm buffers) and its init.

Parameters live in ONE flat array ``[W_1, b_1, W_2, b_2, ...]`` in layer order (row-major
tensors), as for :class:`simulations.nn.model.MLPSpec`; BatchNorm contributes [γ, β] and a block
its convolutions and BatchNorms in the order conv1, bn1, conv2, bn2, shortcut conv, shortcut bn.
:meth:`ModelSpec.param_layout` gives every tensor's offset, so masks, noise and pruning act on the
flat array; BatchNorm running statistics are a separate buffer array
(:meth:`ModelSpec.buffer_layout`). The layers are those of :mod:`simulations.nn.layers`; tensors
are NCHW. Initialisation (:func:`init_model_params`) is described in its docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_choice, check_dtype, check_int
from simulations.nn.layers import (
    INITS,
    LAYER_TYPES,
    Dense,
    Flatten,
    ReLU,
    Softplus,
    Tanh,
    layer_from_dict,
)
from simulations.nn.model import LOSSES, PARAMS_MAX, MLPSpec

__all__ = ["ParamEntry", "BufferEntry", "ModelSpec", "init_model_params", "init_model_buffers", "param_views"]


@dataclass(frozen=True)
class ParamEntry:
    """One parameterised (sub)layer: W (conv, dense; γ for batchnorm) and b (β for batchnorm) or None."""

    name: str
    kind: str                          # "conv", "dense" or "batchnorm"
    layer: int                         # index in ModelSpec.layers
    weight_shape: tuple[int, ...]
    weight_offset: int
    bias_shape: tuple[int, ...] | None
    bias_offset: int | None

    @property
    def prunable(self) -> bool:
        """Conv and dense weights are the prunable tensors; BatchNorm's γ, β are not."""
        return self.kind in ("conv", "dense")

    @property
    def end(self) -> int:
        """One past the last entry of this layer in the flat array."""
        if self.bias_shape is None:
            return self.weight_offset + math.prod(self.weight_shape)
        return self.bias_offset + math.prod(self.bias_shape)


@dataclass(frozen=True)
class BufferEntry:
    """The running statistics of one BatchNorm: ``channels`` means at ``mean_offset``, variances at ``var_offset``."""

    name: str
    layer: int
    channels: int
    mean_offset: int
    var_offset: int


def _input_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"input_shape must be a tuple (C, H, W) or (d,) of ints, got {value!r}")
    if len(value) not in (1, 3):
        raise ValueError(f"input_shape must have 3 entries (C, H, W) or 1 (d,), got {tuple(value)}")
    return tuple(check_int(f"input_shape[{i}]", v, 1, 2**31) for i, v in enumerate(value))


@dataclass(frozen=True)
class ModelSpec:
    """A sequential network: input shape, layers, number of classes, loss, initialisation, dtype.

    Parameters
    ----------
    input_shape : (C, H, W) or (d,), ints ≥ 1
    layers : tuple of layer specs (:class:`Conv2d`, :class:`Dense`, ...; see :data:`LAYER_TYPES`), ≥ 1
        The output of the last layer must be the logits, of shape (n_classes,).
    n_classes : int ≥ 1
    loss : one of :data:`simulations.nn.model.LOSSES`
    init : one of :data:`INITS` (see :func:`init_model_params`)
    dtype : "float32" or "float64"

    Shapes are propagated at construction: a layer that cannot take its input (a kernel larger than
    the padded input, a dense layer on an image, ...) is a ValueError naming ``layers[i]``. The
    parameter count must be at most :data:`simulations.nn.model.PARAMS_MAX`.
    """

    input_shape: tuple[int, ...]
    layers: tuple
    n_classes: int
    loss: str = "cross_entropy"
    init: str = "kaiming_uniform_torch"
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "input_shape", _input_shape(self.input_shape))
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, (tuple, list)):
            raise TypeError(f"layers must be a tuple of layer specs, got {type(self.layers).__name__}")
        if not self.layers:
            raise ValueError("layers must hold at least one layer, got none")
        for i, lay in enumerate(self.layers):
            if not isinstance(lay, LAYER_TYPES):
                raise TypeError(f"layers[{i}] must be a layer spec ({', '.join(t.__name__ for t in LAYER_TYPES)}), "
                                f"got {type(lay).__name__}")
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "n_classes", check_int("n_classes", self.n_classes, 1, 2**31))
        check_choice("loss", self.loss, LOSSES)
        check_choice("init", self.init, INITS)
        if self.dtype is None:
            raise TypeError("dtype must be 'float32' or 'float64', got None")
        object.__setattr__(self, "dtype", check_dtype(self.dtype).name)
        shapes, params, buffers = [], [], []
        shape, pos, bpos = self.input_shape, 0, 0
        for i, lay in enumerate(self.layers):
            where = f"layers[{i}] ({type(lay).__name__})"
            for suffix, kind, w, b in lay.param_shapes(shape, where):
                name = f"layers.{i}{suffix}"
                wo = pos
                pos += math.prod(w)
                bo = None
                if b is not None:
                    bo = pos
                    pos += math.prod(b)
                params.append(ParamEntry(name, kind, i, w, wo, b, bo))
                if kind == "batchnorm":
                    buffers.append(BufferEntry(name, i, w[0], bpos, bpos + w[0]))
                    bpos += 2 * w[0]
            shape = lay.out_shape(shape, where)
            shapes.append(shape)
        if shape != (self.n_classes,):
            raise ValueError(f"the last layer, layers[{len(self.layers) - 1}], outputs shape {shape}; it must be "
                             f"(n_classes,) = ({self.n_classes},)")
        if pos > PARAMS_MAX:
            raise ValueError(f"layers give {pos} parameters; at most PARAMS_MAX = {PARAMS_MAX} are allowed")
        object.__setattr__(self, "_shapes", tuple(shapes))
        object.__setattr__(self, "_layout", tuple(params))
        object.__setattr__(self, "_buffers", tuple(buffers))
        object.__setattr__(self, "_n_params", pos)
        object.__setattr__(self, "_n_buffers", bpos)

    # ---- shapes and layout ----------------------------------------------------------------
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The activation shape (one example, no batch axis) after every layer."""
        return self._shapes

    def param_layout(self) -> tuple[ParamEntry, ...]:
        """Every parameterised (sub)layer in flat order, with shapes and offsets of W and b (γ and β)."""
        return self._layout

    def buffer_layout(self) -> tuple[BufferEntry, ...]:
        """The BatchNorm running statistics in the buffer array, in layer order."""
        return self._buffers

    @property
    def n_params(self) -> int:
        return self._n_params

    @property
    def n_buffers(self) -> int:
        """Length of the buffer array (2 × the channels of every BatchNorm)."""
        return self._n_buffers

    @property
    def weight_shapes(self) -> list[tuple[int, ...]]:
        """The prunable weight tensors in flat order: conv (O, C, kh, kw), dense (out, in)."""
        return [e.weight_shape for e in self._layout if e.prunable]

    @property
    def n_layers(self) -> int:
        """Number of prunable weight tensors (conv and dense): the layers masks, noise and pruning index."""
        return len(self.weight_shapes)

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def layer_views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """(weights, biases): views of the prunable tensors (conv (O, C, kh, kw), dense (out, in)) and their
        biases (None where a layer has none), in flat order; the :class:`simulations.nn.model.Params` views."""
        ws, bs = [], []
        for e in self._layout:
            if e.prunable:
                ws.append(flat[e.weight_offset:e.weight_offset + math.prod(e.weight_shape)].reshape(e.weight_shape))
                bs.append(None if e.bias_shape is None else flat[e.bias_offset:e.end])
        return ws, bs

    def same_architecture(self, other: Any) -> bool:
        """Whether ``other`` is a ModelSpec with the same input shape, layers and classes (any loss, init, dtype)."""
        return isinstance(other, ModelSpec) and (other.input_shape, other.layers, other.n_classes) == \
            (self.input_shape, self.layers, self.n_classes)

    def init_flat(self, seed: Any = 0) -> np.ndarray:
        """:func:`init_model_params` of this spec (what :func:`simulations.nn.model.init_params` calls)."""
        return init_model_params(self, seed)

    def init_buffers(self) -> np.ndarray:
        """:func:`init_model_buffers` of this spec (the default ``buffers`` of its :class:`~simulations.nn.model.Params`)."""
        return init_model_buffers(self)

    def describe(self) -> str:
        return f"a network of {len(self.layers)} layers on inputs {self.input_shape} ({self.n_params} parameters)"

    # ---- construction -----------------------------------------------------------------------
    def with_(self, **changes) -> ModelSpec:
        """A copy with some fields changed (e.g. ``spec.with_(dtype="float64")``)."""
        fields = {"input_shape": self.input_shape, "layers": self.layers, "n_classes": self.n_classes,
                  "loss": self.loss, "init": self.init, "dtype": self.dtype}
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise TypeError(f"with_ got unknown fields {unknown}; valid fields are {sorted(fields)}")
        return ModelSpec(**{**fields, **changes})

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (lists and plain scalars); :meth:`from_dict` inverts it."""
        return {"input_shape": list(self.input_shape), "layers": [lay.to_dict() for lay in self.layers],
                "n_classes": self.n_classes, "loss": self.loss, "init": self.init, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict (from ModelSpec.to_dict), got {type(d).__name__}")
        missing = sorted({"input_shape", "layers", "n_classes"} - set(d))
        if missing:
            raise ValueError(f"d is missing the keys {missing}")
        if not isinstance(d["layers"], (list, tuple)):
            raise TypeError(f"d['layers'] must be a list of layer dicts, got {type(d['layers']).__name__}")
        layers = tuple(layer_from_dict(x, f"d['layers'][{i}]") for i, x in enumerate(d["layers"]))
        inp = d["input_shape"]
        return cls(**{**d, "input_shape": tuple(inp) if isinstance(inp, list) else inp, "layers": layers})

    @classmethod
    def from_mlp(cls, mlp: MLPSpec, input_shape: Any = None) -> ModelSpec:
        """The ModelSpec of a fully connected network: Flatten, then Dense / activation layers.

        ``input_shape`` (default (d_0,)) may be an image shape whose size is d_0, e.g. (1, 28, 28).
        The flat layout (offsets, n_params) and, for the same seed, the initial parameters are those
        of :class:`simulations.nn.model.MLPSpec` / :func:`simulations.nn.model.init_params`.
        """
        if not isinstance(mlp, MLPSpec):
            raise TypeError(f"mlp must be an MLPSpec, got {type(mlp).__name__}")
        shape = (mlp.sizes[0],) if input_shape is None else _input_shape(input_shape)
        if math.prod(shape) != mlp.sizes[0]:
            raise ValueError(f"input_shape {shape} has {math.prod(shape)} entries; the MLP's input has "
                             f"sizes[0] = {mlp.sizes[0]}")
        act = {"relu": ReLU(), "tanh": Tanh(), "softplus": Softplus(), "identity": None}[mlp.activation]
        layers: list = [Flatten()]
        for l in range(mlp.n_layers):
            layers.append(Dense(mlp.sizes[l + 1], bias=mlp.bias))
            if l < mlp.n_layers - 1 and act is not None:
                layers.append(act)
        return cls(shape, tuple(layers), mlp.n_classes, loss=mlp.loss, init=mlp.init, dtype=mlp.dtype)


def _as_model_spec(spec: Any) -> ModelSpec:
    if isinstance(spec, MLPSpec):
        return ModelSpec.from_mlp(spec)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec (or an MLPSpec), got {type(spec).__name__}")
    return spec


def init_model_params(spec: ModelSpec, seed: Any = 0) -> np.ndarray:
    """Random initial flat parameters (dtype ``spec.dtype``, length ``spec.n_params``).

    With fan_in = C·kh·kw (conv) or in (dense) and fan_out = O·kh·kw (conv) or out (dense), W by
    ``spec.init`` as in :mod:`simulations.nn.model` — ``"kaiming_uniform_torch"`` (default) is
    PyTorch's ``reset_parameters`` of Conv2d and Linear: ``kaiming_uniform_`` with a = √5, i.e.
    W ~ U(±1/√fan_in), and b ~ U(±1/√fan_in); the other MLP initialisations set b = 0.
    ``"kaiming_normal_fan_out"`` (the VGG code of Barsbey et al. 2021 and Wan et al. 2024; He et al.
    2015 fan-out mode): conv W ~ N(0, 2/fan_out), b = 0; dense layers keep PyTorch's default.
    BatchNorm: γ = 1, β = 0 (PyTorch's default; no random numbers drawn).

    Numbers come from ``simulations._core.seeding.generator(seed)``, drawn in float64 tensor by
    tensor in flat order (W then b), then rounded to the dtype — so an MLP converted by
    :meth:`ModelSpec.from_mlp` gets exactly the parameters of ``init_params(mlp, seed)``.
    ``spec`` may also be an MLPSpec (converted with :meth:`ModelSpec.from_mlp`).
    """
    spec = _as_model_spec(spec)
    rng = generator(seed)
    flat = np.zeros(spec.n_params, dtype=spec.np_dtype)
    for e in spec.param_layout():
        nw = math.prod(e.weight_shape)
        if e.kind == "batchnorm":
            flat[e.weight_offset:e.weight_offset + nw] = 1.0
            continue                                     # β = 0
        fan_in = math.prod(e.weight_shape[1:])
        fan_out = e.weight_shape[0] * math.prod(e.weight_shape[2:])
        init = spec.init
        if init == "kaiming_normal_fan_out" and e.kind == "dense":
            init = "kaiming_uniform_torch"
        bias_bound = 0.0
        if init == "kaiming_uniform_torch":
            bound = 1.0 / math.sqrt(fan_in)
            w = rng.uniform(-bound, bound, size=nw)
            bias_bound = bound
        elif init == "kaiming_normal_fan_out":
            w = rng.standard_normal(nw) * math.sqrt(2.0 / fan_out)
        elif init == "kaiming_normal":
            w = rng.standard_normal(nw) * math.sqrt(2.0 / fan_in)
        elif init == "kaiming_uniform":
            bound = math.sqrt(6.0 / fan_in)
            w = rng.uniform(-bound, bound, size=nw)
        elif init == "xavier":
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-bound, bound, size=nw)
        elif init == "xavier_normal":
            w = rng.standard_normal(nw) * math.sqrt(2.0 / (fan_in + fan_out))
        else:  # "normal"
            w = rng.standard_normal(nw) / math.sqrt(fan_in)
        flat[e.weight_offset:e.weight_offset + nw] = w
        if e.bias_shape is not None and bias_bound > 0.0:
            flat[e.bias_offset:e.end] = rng.uniform(-bias_bound, bias_bound, size=e.bias_shape[0])
    return flat


def init_model_buffers(spec: ModelSpec) -> np.ndarray:
    """The initial BatchNorm running statistics (mean 0, variance 1), length ``spec.n_buffers``."""
    spec = _as_model_spec(spec)
    buf = np.zeros(spec.n_buffers, dtype=spec.np_dtype)
    for e in spec.buffer_layout():
        buf[e.var_offset:e.var_offset + e.channels] = 1.0
    return buf


def param_views(spec: ModelSpec, flat: Any) -> list[tuple[ParamEntry, np.ndarray, np.ndarray | None]]:
    """(entry, W view, b view or None) for every entry of ``spec.param_layout()``; views write through.

    ``flat`` must be a C-contiguous 1-D float32/float64 array of length ``spec.n_params``.
    """
    spec = _as_model_spec(spec)
    if not isinstance(flat, np.ndarray) or flat.ndim != 1 or flat.dtype not in (np.float32, np.float64):
        raise TypeError(f"flat must be a 1-D float32/float64 numpy array, got {getattr(flat, 'shape', type(flat))}")
    if flat.shape[0] != spec.n_params or not flat.flags.c_contiguous:
        raise ValueError(f"flat must be C-contiguous with spec.n_params = {spec.n_params} entries, got {flat.shape[0]}")
    out = []
    for e in spec.param_layout():
        w = flat[e.weight_offset:e.weight_offset + math.prod(e.weight_shape)].reshape(e.weight_shape)
        b = None if e.bias_shape is None else flat[e.bias_offset:e.end]
        out.append((e, w, b))
    return out

