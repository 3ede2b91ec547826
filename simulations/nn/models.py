"""The convolutional networks of the heavy-tail and pruning literature, as :class:`~simulations.nn.layers.ModelSpec`.

``get_model(name, **options)`` builds one of :data:`MODELS`. Common options: ``input_shape``
(C, H, W), ``n_classes`` (10), ``loss``, ``init``, ``dtype`` (as in ModelSpec).

* ``"lenet5"`` — LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) in its common modern form on
  28×28 MNIST: conv5×5 6 (padding 2, so the first map is 28×28 as the paper's 32×32 input without
  padding) – ReLU – maxpool 2 – conv5×5 16 – ReLU – maxpool 2 – dense 120 – ReLU – 84 – ReLU – 10,
  all with biases: 61,706 parameters. It departs from the paper in ReLU for the scaled tanh, max
  pooling for the trainable subsampling, full C3 connectivity and a linear output for the RBF units.
* ``"vgg11"`` — the VGG-11 of Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli 2021 (NeurIPS;
  their ``vgg.py``): 3×3 convolutions with padding 1, no biases, no BatchNorm, 2×2 max pools, one
  bias-free 512 → n_classes dense classifier. ``cfg="A"`` (Simonyan & Zisserman 2015's A:
  64 M 128 M 256 256 M 512 512 M 512 512 M) for 32×32 inputs (CIFAR-10, 3 channels): 32 → 1 after
  five pools. At 28×28 (MNIST, 1 channel) five pools would reach 0 (28 → 14 → 7 → 3 → 1 → 0), so
  their MNIST network ``vgg11_bw`` uses ``cfg="F"`` — A without the first pool
  (64 128 M 256 256 M 512 512 M 512 512 M): 28 → 14 → 7 → 3 → 1 (floor pooling drops the last
  row and column at 7). ``cfg=None`` (default) picks A at 32×32 and F at 28×28.
  ``init="kaiming_normal_fan_out"`` by default: their code draws conv weights N(0, 2/(k²·O)) and
  keeps PyTorch's default for the classifier.
* ``"vgg11_wide"`` — Wan, Barsbey, Zaidi & Şimşekli 2024 (ICML; ``vgg11_wide`` in their ``vgg.py``):
  channels doubled (128 M 256 M 512 512 M 1024 1024 M 1024 1024 M), bias-free, then
  ``AdaptiveAvgPool2d(1)`` (:class:`GlobalAvgPool`; at 32×32 the map is already 1×1) and one
  bias-free 1024 → n_classes dense layer (``head="linear"``, the network their README names for
  the CIFAR-10 experiments). ``head="mlp"`` gives their wide MNIST variant's classifier
  (``vgg11_bw_wide_adapt``): 1024 → 1024 → 1024 → n_classes with ReLUs, bias-free. At 28×28 the
  "F" channel plan (128 256 M ...) is used, as in that variant.
* ``"resnet20"``, ``"resnet32"``, ``"resnet44"``, ``"resnet56"`` — the CIFAR ResNets of He, Zhang,
  Ren & Sun 2016 (CVPR, §4.2), depth 6n + 2: conv3×3 16 – BN – ReLU, then three stages of n
  :class:`BasicBlock` with 16, 32, 64 channels (the first block of stages 2 and 3 with stride 2),
  global average pooling and a dense n_classes layer with bias; convolutions bias-free.
  ``shortcut="A"`` (default, the paper's CIFAR choice) or ``"B"``; ResNet-20 has 269,722
  parameters with A (the paper's 0.27M). ``init="kaiming_normal"`` by default (He et al. 2015,
  which the paper uses).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulations._core.validation import check_choice
from simulations.nn.layers import (
    BasicBlock,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool2d,
    ReLU,
)
from simulations.nn.model_spec import ModelSpec

__all__ = ["MODELS", "VGG_CFGS", "get_model", "model_names"]

#: VGG channel plans ("M" = 2×2 max pool): Simonyan & Zisserman's A, its MNIST form F, and their doubled forms
VGG_CFGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "F": (64, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "Awide": (128, "M", 256, "M", 512, 512, "M", 1024, 1024, "M", 1024, 1024, "M"),
    "Fwide": (128, 256, "M", 512, 512, "M", 1024, 1024, "M", 1024, 1024, "M"),
}


def _spec(input_shape, layers, n_classes, common: dict) -> ModelSpec:
    return ModelSpec(input_shape, tuple(layers), n_classes, **common)


def _features(cfg) -> list:
    out: list = []
    for v in cfg:
        out += [MaxPool2d(2)] if v == "M" else [Conv2d(v, 3, padding=1, bias=False), ReLU()]
    return out


def _check_image(input_shape) -> tuple:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W) for a convolutional network, got {input_shape!r}")
    return tuple(input_shape)


def _lenet5(input_shape=(1, 28, 28), n_classes=10, **common) -> ModelSpec:
    layers = [Conv2d(6, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(16, 5), ReLU(), MaxPool2d(2), Flatten(),
              Dense(120), ReLU(), Dense(84), ReLU(), Dense(n_classes)]
    return _spec(_check_image(input_shape), layers, n_classes, common)


def _vgg_cfg(cfg, input_shape, wide: bool) -> str:
    if cfg is None:
        h = input_shape[1]
        if h not in (28, 32):
            raise ValueError(f"cfg=None picks the channel plan from the input size (32 → A, 28 → F); "
                             f"input_shape {input_shape} has neither: pass cfg")
        cfg = "A" if h == 32 else "F"
    check_choice("cfg", cfg, ("A", "F"))
    return cfg + ("wide" if wide else "")


def _vgg11(input_shape=(3, 32, 32), n_classes=10, cfg=None, init="kaiming_normal_fan_out", **common) -> ModelSpec:
    input_shape = _check_image(input_shape)
    plan = VGG_CFGS[_vgg_cfg(cfg, input_shape, wide=False)]
    spec = _spec(input_shape, _features(plan) + [Flatten(), Dense(n_classes, bias=False)], n_classes,
                 {**common, "init": init})
    if spec.shapes()[-2] != (512,):
        raise ValueError(f"input_shape {input_shape} leaves features of shape {spec.shapes()[-3]}; the VGG-11 "
                         f"classifier takes 512 features (a 1×1 map)")
    return spec


def _vgg11_wide(input_shape=(3, 32, 32), n_classes=10, cfg=None, head="linear", init="kaiming_normal_fan_out",
                **common) -> ModelSpec:
    input_shape = _check_image(input_shape)
    plan = VGG_CFGS[_vgg_cfg(cfg, input_shape, wide=True)]
    check_choice("head", head, ("linear", "mlp"))
    top = [Dense(n_classes, bias=False)] if head == "linear" else [
        Dense(1024, bias=False), ReLU(), Dense(1024, bias=False), ReLU(), Dense(n_classes, bias=False)]
    return _spec(input_shape, _features(plan) + [GlobalAvgPool()] + top, n_classes, {**common, "init": init})


def _resnet(n: int) -> Callable[..., ModelSpec]:
    def build(input_shape=(3, 32, 32), n_classes=10, shortcut="A", init="kaiming_normal", **common) -> ModelSpec:
        check_choice("shortcut", shortcut, ("A", "B"))
        layers: list = [Conv2d(16, 3, padding=1, bias=False), BatchNorm2d(), ReLU()]
        for stage, width in enumerate((16, 32, 64)):
            for b in range(n):
                layers.append(BasicBlock(width, stride=2 if (stage > 0 and b == 0) else 1, shortcut=shortcut))
        layers += [GlobalAvgPool(), Dense(n_classes)]
        return _spec(_check_image(input_shape), layers, n_classes, {**common, "init": init})
    build.__name__ = f"_resnet{6 * n + 2}"
    return build


#: name → builder(**options) → ModelSpec
MODELS: dict[str, Callable[..., ModelSpec]] = {
    "lenet5": _lenet5,
    "vgg11": _vgg11,
    "vgg11_wide": _vgg11_wide,
    "resnet20": _resnet(3),
    "resnet32": _resnet(5),
    "resnet44": _resnet(7),
    "resnet56": _resnet(9),
}

_OPTIONS = {
    "lenet5": ("input_shape", "n_classes", "loss", "init", "dtype"),
    "vgg11": ("input_shape", "n_classes", "cfg", "loss", "init", "dtype"),
    "vgg11_wide": ("input_shape", "n_classes", "cfg", "head", "loss", "init", "dtype"),
}


def model_names() -> tuple[str, ...]:
    """The names :func:`get_model` accepts."""
    return tuple(MODELS)


def get_model(name: str, **options: Any) -> ModelSpec:
    """The ModelSpec of network ``name`` (one of :data:`MODELS`; options in the module docstring).

    Unknown options are a TypeError naming them and the valid ones.
    """
    check_choice("name", name, tuple(MODELS))
    valid = _OPTIONS.get(name, ("input_shape", "n_classes", "shortcut", "loss", "init", "dtype"))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"options {unknown} are not options of {name!r}; valid options are {list(valid)}")
    return MODELS[name](**options)
