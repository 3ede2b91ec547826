"""Layer specifications of sequential convolutional networks (frozen, hashable, JSON-serialisable).

Tensor layout: activations are NCHW (a batch of (C, H, W) images, row-major, as PyTorch); a
convolution weight has shape (O, C, kh, kw), a dense weight (out, in) (``nn.Linear``), so a spec
describes exactly the parameters of the equivalent PyTorch module, in the same order.

A convolution with kernel (kh, kw), stride (sh, sw) and zero padding (ph, pw) maps (C, H, W) to
(O, ⌊(H + 2ph − kh)/sh⌋ + 1, ⌊(W + 2pw − kw)/sw⌋ + 1); pooling (no padding, floor mode, stride =
kernel by default) to (C, ⌊(H − k)/s⌋ + 1, ...); :class:`GlobalAvgPool` averages each channel to
(C,); :class:`Flatten` gives (C·H·W,) in C order; :class:`Dense` needs a flat input.

:class:`BatchNorm2d` (Ioffe & Szegedy 2015) has parameters γ (the PyTorch ``weight``) and β
(``bias``), one per channel, in the flat parameter array; its running mean and variance are
*state*, kept in a separate flat float array ("buffers", :meth:`ModelSpec.buffer_layout`,
``[mean_1, var_1, mean_2, var_2, ...]`` per BatchNorm in layer order, initialised to 0 and 1 by
:func:`init_model_buffers`), since they are not trained, pruned or perturbed by noise.

:class:`BasicBlock` is the ResNet basic block of He, Zhang, Ren & Sun 2016 (CVPR, §3.3, §4.2):
y = ReLU(BN(conv3×3(ReLU(BN(conv3×3_s(x))))) + shortcut(x)), convolutions without bias. The
shortcut is the identity when shape is kept; otherwise ``shortcut="A"`` (default) is option A,
the parameter-free shortcut the paper uses for CIFAR-10 ("in all cases we use identity
shortcuts", §4.2): x[:, ::s, ::s] placed in output channels (O − C)//2 ... (O − C)//2 + C − 1 with
zeros elsewhere (the common PyTorch port pads (O − C)/2 zero channels on each side); option A keeps
ResNet-20 at the paper's 0.27M parameters. ``shortcut="B"`` is the 1×1 strided projection + BN.
``mid_channels`` (default: ``out_channels``) is the width of the block's inner activation — the first
convolution's filters and the second's input channels — which filter pruning of the block's first
convolution narrows (:func:`simulations.pruning.filters.remove_filters`).

A whole network is a :class:`simulations.nn.model_spec.ModelSpec` of these layers (flat
parameter layout, initialisation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulations._core.validation import check_bool, check_choice, check_int, check_real
from simulations.nn.model import INITS as MLP_INITS

__all__ = [
    "INITS", "LAYER_TYPES", "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten", "Dense", "ReLU",
    "Tanh", "Softplus", "BatchNorm2d", "BasicBlock", "SHORTCUTS", "layer_from_dict",
]

#: the MLP initialisations plus "kaiming_normal_fan_out" (He et al. 2015, fan-out mode, for convolutions)
INITS = MLP_INITS + ("kaiming_normal_fan_out",)


def _pair(name: str, value: Any, low: int) -> tuple[int, int]:
    """An int or a pair of ints ≥ ``low`` → (a, b)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {tuple(value)}")
        return (check_int(f"{name}[0]", value[0], low, 2**31), check_int(f"{name}[1]", value[1], low, 2**31))
    v = check_int(name, value, low, 2**31)
    return (v, v)


def _need(where: str, shape: tuple, ndim: int, what: str) -> None:
    if len(shape) != ndim:
        raise ValueError(f"{where} needs {what} input, got shape {shape}")


def _window(where: str, shape, kernel, stride, padding) -> tuple[int, int]:
    """Output (H', W') of a sliding window, or a ValueError naming the layer."""
    out = []
    for axis, n, k, s, p in zip(("height", "width"), shape[1:], kernel, stride, padding):
        if n + 2 * p < k:
            raise ValueError(f"{where}: kernel {k} is larger than the input {axis} {n} (padding {p})")
        out.append((n + 2 * p - k) // s + 1)
    return tuple(out)


class _Layer:
    """Shape propagation, parameter shapes and the dict form shared by all layer specs."""

    def out_shape(self, shape: tuple, where: str) -> tuple:
        return shape

    def param_shapes(self, shape: tuple, where: str) -> list:
        """[(name suffix, kind, W shape, b shape or None), ...] for input ``shape``."""
        return []

    def to_dict(self) -> dict:
        d = {"type": type(self).__name__}
        for k, v in self.__dict__.items():
            d[k] = list(v) if isinstance(v, tuple) else v
        return d


@dataclass(frozen=True)
class Conv2d(_Layer):
    """2-D convolution (cross-correlation, as ``torch.nn.Conv2d``): W (O, C, kh, kw), b (O,)."""

    out_channels: int
    kernel: Any
    stride: Any = 1
    padding: Any = 0
    bias: bool = True

    def __post_init__(self):
        object.__setattr__(self, "out_channels", check_int("out_channels", self.out_channels, 1, 2**31))
        object.__setattr__(self, "kernel", _pair("kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _pair("stride", self.stride, 1))
        object.__setattr__(self, "padding", _pair("padding", self.padding, 0))
        object.__setattr__(self, "bias", check_bool("bias", self.bias))

    def out_shape(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        return (self.out_channels, *_window(where, shape, self.kernel, self.stride, self.padding))

    def param_shapes(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        w = (self.out_channels, shape[0], *self.kernel)
        return [("", "conv", w, (self.out_channels,) if self.bias else None)]


@dataclass(frozen=True)
class _Pool(_Layer):
    kernel: Any
    stride: Any = None

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair("kernel", self.kernel, 1))
        stride = self.kernel if self.stride is None else _pair("stride", self.stride, 1)
        object.__setattr__(self, "stride", stride)

    def out_shape(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        return (shape[0], *_window(where, shape, self.kernel, self.stride, (0, 0)))


class MaxPool2d(_Pool):
    """Max pooling, no padding, floor mode; ``stride`` defaults to ``kernel`` (``torch.nn.MaxPool2d``)."""


class AvgPool2d(_Pool):
    """Average pooling, no padding, floor mode; ``stride`` defaults to ``kernel`` (``torch.nn.AvgPool2d``)."""


@dataclass(frozen=True)
class GlobalAvgPool(_Layer):
    """Mean over H and W of each channel: (C, H, W) → (C,) (``AdaptiveAvgPool2d(1)`` followed by a flatten)."""

    def out_shape(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        return (shape[0],)


@dataclass(frozen=True)
class Flatten(_Layer):
    """(C, H, W) → (C·H·W,) in C (row-major) order; a flat input passes unchanged."""

    def out_shape(self, shape, where):
        return (math.prod(shape),)


@dataclass(frozen=True)
class Dense(_Layer):
    """Fully connected z = a Wᵀ + b, W (out, in), b (out,) (``torch.nn.Linear``); needs a flat input."""

    out_features: int
    bias: bool = True

    def __post_init__(self):
        object.__setattr__(self, "out_features", check_int("out_features", self.out_features, 1, 2**31))
        object.__setattr__(self, "bias", check_bool("bias", self.bias))

    def out_shape(self, shape, where):
        _need(where, shape, 1, "a flat (put a Flatten or GlobalAvgPool before it)")
        return (self.out_features,)

    def param_shapes(self, shape, where):
        _need(where, shape, 1, "a flat (put a Flatten or GlobalAvgPool before it)")
        return [("", "dense", (self.out_features, shape[0]), (self.out_features,) if self.bias else None)]


@dataclass(frozen=True)
class ReLU(_Layer):
    """max(z, 0), elementwise."""


@dataclass(frozen=True)
class Tanh(_Layer):
    """tanh(z), elementwise."""


@dataclass(frozen=True)
class Softplus(_Layer):
    """log(1 + eᶻ), elementwise."""


@dataclass(frozen=True)
class BatchNorm2d(_Layer):
    """Batch normalisation per channel (Ioffe & Szegedy 2015): γ (x − μ)/√(σ² + eps) + β.

    Training uses the batch statistics over (N, H, W) and updates the running ones as
    r ← (1 − momentum) r + momentum · batch statistic (PyTorch's convention; the running variance
    uses the unbiased batch variance); evaluation uses the running ones.
    """

    eps: float = 1e-5
    momentum: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "eps", check_real("eps", self.eps, 0.0, 1.0, low_open=True))
        object.__setattr__(self, "momentum", check_real("momentum", self.momentum, 0.0, 1.0))

    def out_shape(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        return shape

    def param_shapes(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        return [("", "batchnorm", (shape[0],), (shape[0],))]


#: the ResNet shortcut options: "A" zero-padding identity (He et al. 2016, CIFAR), "B" 1×1 projection + BN
SHORTCUTS = ("A", "B")


@dataclass(frozen=True)
class BasicBlock(_Layer):
    """ResNet basic block (see the module docstring): conv3×3(stride)-BN-ReLU-conv3×3-BN, + shortcut, ReLU.

    The shortcut is the identity when ``stride == 1`` and the channels are kept; otherwise option
    ``shortcut`` ("A": zero-padding, needs out_channels − in_channels even and ≥ 0; "B": projection).
    """

    out_channels: int
    stride: int = 1
    shortcut: str = "A"
    mid_channels: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "out_channels", check_int("out_channels", self.out_channels, 1, 2**31))
        object.__setattr__(self, "stride", check_int("stride", self.stride, 1, 2**31))
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        if self.mid_channels is not None:
            object.__setattr__(self, "mid_channels", check_int("mid_channels", self.mid_channels, 1, 2**31))

    @property
    def width(self) -> int:
        """The inner width: ``mid_channels``, or ``out_channels`` when it is None."""
        return self.out_channels if self.mid_channels is None else self.mid_channels

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.mid_channels is None:      # the dict (and a spec's hash) of a plain block is unchanged
            del d["mid_channels"]
        return d

    def projects(self, in_channels: int) -> bool:
        """Whether the shortcut changes the shape (then it is option A or B, not the identity)."""
        return self.stride != 1 or in_channels != self.out_channels

    def out_shape(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        if self.shortcut == "A" and self.projects(shape[0]) and (
                self.out_channels < shape[0] or (self.out_channels - shape[0]) % 2):
            raise ValueError(f"{where}: shortcut 'A' pads channels symmetrically; it needs out_channels − "
                             f"in_channels even and ≥ 0, got {shape[0]} → {self.out_channels}")
        h, w = _window(where, shape, (3, 3), (self.stride, self.stride), (1, 1))
        return (self.out_channels, h, w)

    def param_shapes(self, shape, where):
        _need(where, shape, 3, "a (C, H, W)")
        o, c, m = self.out_channels, shape[0], self.width
        out = [(".conv1", "conv", (m, c, 3, 3), None), (".bn1", "batchnorm", (m,), (m,)),
               (".conv2", "conv", (o, m, 3, 3), None), (".bn2", "batchnorm", (o,), (o,))]
        if self.shortcut == "B" and self.projects(c):
            out += [(".shortcut.conv", "conv", (o, c, 1, 1), None), (".shortcut.bn", "batchnorm", (o,), (o,))]
        return out


#: every layer spec type, by the ``"type"`` of its dict form
LAYER_TYPES = (Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool, Flatten, Dense, ReLU, Tanh, Softplus, BatchNorm2d,
               BasicBlock)
_BY_NAME = {t.__name__: t for t in LAYER_TYPES}


def layer_from_dict(d: dict, name: str = "d") -> _Layer:
    """The layer spec of a dict written by its ``to_dict()`` (``{"type": "Conv2d", ...}``)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not isinstance(d, dict):
        raise TypeError(f"{name} must be a layer dict with a 'type' key, got {type(d).__name__}")
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in _BY_NAME:
        raise ValueError(f"{name}['type'] must be one of {sorted(_BY_NAME)}, got {kind!r}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k != "type"}
    try:
        return _BY_NAME[kind](**kw)
    except TypeError as exc:
        if "unexpected keyword" in str(exc) or "missing" in str(exc):
            raise TypeError(f"{name}: bad fields for {kind}: {exc}") from exc
        raise
