"""Fully connected networks: the architecture spec, flat parameters with per-layer views, masks.

Network (L layers, sizes d_0, ..., d_L): for l = 1..L

    z_l = a_{l-1} W_lᵀ + b_l,      a_l = φ(z_l)  (l < L),     logits = z_L,

with a_0 = x (a batch of rows), W_l of shape (d_l, d_{l-1}) — PyTorch's
``nn.Linear`` convention (out, in) — and b_l of shape (d_l,) (absent when
``bias=False``, as in the bias-free MLPs of the heavy-tail papers).

Parameters live in ONE flat array, ordered ``[W_1, b_1, W_2, b_2, ...]``
(row-major weights); :class:`Params` exposes per-layer *views* into it, so a
mask, a noise kernel or a pruning routine can act on the flat array or on one
layer and both stay in sync. :class:`Mask` has the same layout (dtype uint8,
1 = kept, 0 = pruned).

Initialisations (all biases as PyTorch's ``nn.Linear`` unless stated):

* ``"kaiming_uniform_torch"`` — PyTorch's ``nn.Linear.reset_parameters``:
  W ~ U(−1/√fan_in, 1/√fan_in) (``kaiming_uniform_`` with a = √5), b ~ U(−1/√fan_in, 1/√fan_in).
* ``"kaiming_normal"`` — He et al. 2015: W ~ N(0, 2/fan_in), b = 0.
* ``"kaiming_uniform"`` — He uniform: W ~ U(−√(6/fan_in), √(6/fan_in)), b = 0.
* ``"xavier"`` — Glorot & Bengio 2010 (uniform): W ~ U(−√(6/(fan_in+fan_out)), +), b = 0.
* ``"xavier_normal"`` — W ~ N(0, 2/(fan_in+fan_out)), b = 0.
* ``"normal"`` — W ~ N(0, 1/fan_in) (mean-field / LeCun normal), b = 0.

Random numbers come from ``numpy.random.default_rng(seed)`` drawn in float64
layer by layer (weights then bias), then rounded to the parameter dtype, so a
seed gives the same network in every process and in both precisions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_array, check_bool, check_choice, check_dtype, check_int

__all__ = [
    "PARAMS_MAX",
    "ACTIVATIONS",
    "LOSSES",
    "INITS",
    "MLPSpec",
    "Params",
    "Mask",
    "init_params",
    "ones_mask",
    "check_spec",
]

#: hidden-layer activations: ReLU; tanh; softplus log(1+e^z) (smooth, for theory work); identity (linear net)
ACTIVATIONS = ("relu", "tanh", "softplus", "identity")
#: losses on integer class labels: mean softmax cross-entropy; squared loss ½‖z − onehot(y)‖² averaged over the batch
LOSSES = ("cross_entropy", "squared")
INITS = ("kaiming_uniform_torch", "kaiming_normal", "kaiming_uniform", "xavier", "xavier_normal", "normal")
#: largest number of parameters (weights and biases) a spec may have: 2^31 (8 GiB in float32)
PARAMS_MAX = 2**31


@dataclass(frozen=True)
class MLPSpec:
    """Architecture of a fully connected network.

    Parameters
    ----------
    sizes : sequence of int ≥ 1, length ≥ 2
        Layer widths (d_0 = input dimension, ..., d_L = number of classes).
    bias : bool
        Whether every layer has a bias vector.
    activation : {"relu", "tanh", "softplus", "identity"}
        Hidden-layer nonlinearity φ (the output layer is linear).
    loss : {"cross_entropy", "squared"}
        ``cross_entropy``: (1/B) Σ_i −log softmax(z_i)[y_i];
        ``squared``: (1/B) Σ_i ½ ‖z_i − e_{y_i}‖² (one-hot targets).
    init : one of :data:`INITS`
        Weight initialisation (see the module docstring); the default matches PyTorch.
    dtype : "float32" (default, training) or "float64" (gradient checks)

    The total parameter count Σ_l d_l (d_{l−1} + bias) must be at most :data:`PARAMS_MAX`.
    """

    sizes: tuple[int, ...]
    bias: bool = True
    activation: str = "relu"
    loss: str = "cross_entropy"
    init: str = "kaiming_uniform_torch"
    dtype: str = "float32"

    def __post_init__(self):
        if isinstance(self.sizes, (str, bytes)):
            raise TypeError(f"sizes must be a sequence of ints, got {self.sizes!r}")
        try:
            sizes = tuple(self.sizes)
        except TypeError as exc:
            raise TypeError(f"sizes must be a sequence of ints, got {self.sizes!r}") from exc
        if len(sizes) < 2:
            raise ValueError(f"sizes must have at least 2 entries (input and output), got {sizes}")
        sizes = tuple(check_int(f"sizes[{i}]", s, 1) for i, s in enumerate(sizes))
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "bias", check_bool("bias", self.bias))
        n = sum(sizes[l + 1] * (sizes[l] + int(self.bias)) for l in range(len(sizes) - 1))
        if n > PARAMS_MAX:
            raise ValueError(f"sizes {sizes} give {n} parameters; at most PARAMS_MAX = {PARAMS_MAX} are allowed")
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("init", self.init, INITS)
        if self.dtype is None:  # np.dtype(None) would silently mean float64
            raise TypeError("dtype must be 'float32' or 'float64', got None")
        object.__setattr__(self, "dtype", check_dtype(self.dtype).name)

    # ---- layout -------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """Number of weight layers L."""
        return len(self.sizes) - 1

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def weight_shapes(self) -> list[tuple[int, int]]:
        """[(d_1, d_0), (d_2, d_1), ...] — (out, in) per layer."""
        return [(self.sizes[l + 1], self.sizes[l]) for l in range(self.n_layers)]

    @property
    def offsets(self) -> np.ndarray:
        """int64 array (L, 3): start of W_l, start of b_l, end of layer l in the flat array."""
        out = np.zeros((self.n_layers, 3), dtype=np.int64)
        pos = 0
        for l, (o, i) in enumerate(self.weight_shapes):
            out[l, 0] = pos
            pos += o * i
            out[l, 1] = pos
            if self.bias:
                pos += o
            out[l, 2] = pos
        return out

    @property
    def n_params(self) -> int:
        return int(self.offsets[-1, 2])

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def layer_views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """(weights, biases): views W_l (out, in) and b_l (out,) (None without biases) into ``flat``."""
        off = self.offsets
        return ([flat[off[l, 0]:off[l, 1]].reshape(shape) for l, shape in enumerate(self.weight_shapes)],
                [flat[off[l, 1]:off[l, 2]] if self.bias else None for l in range(self.n_layers)])

    def same_architecture(self, other: Any) -> bool:
        """Whether ``other`` is an MLPSpec with the same sizes and bias (so parameters fit both)."""
        return isinstance(other, MLPSpec) and other.sizes == self.sizes and other.bias == self.bias

    def describe(self) -> str:
        return f"sizes {self.sizes} (bias={self.bias})"

    def with_(self, **changes) -> MLPSpec:
        """A copy with some fields changed (e.g. ``spec.with_(dtype="float64")``)."""
        d = self.to_dict()
        d.update(changes)
        return MLPSpec(**d)

    def to_dict(self) -> dict:
        return {"sizes": list(self.sizes), "bias": self.bias, "activation": self.activation,
                "loss": self.loss, "init": self.init, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d: dict) -> MLPSpec:
        return cls(**{**d, "sizes": tuple(d["sizes"])})


def _is_model_spec(spec: Any) -> bool:
    """A :class:`~simulations.nn.model_spec.ModelSpec` (recognised by its interface: that module imports this one)."""
    return not isinstance(spec, MLPSpec) and all(hasattr(spec, a) for a in ("param_layout", "layer_views",
                                                                            "init_flat", "init_buffers"))


def check_spec(spec: Any, name: str = "spec") -> Any:
    """``spec`` if it is an :class:`MLPSpec` or a :class:`~simulations.nn.model_spec.ModelSpec`, else a TypeError."""
    if not isinstance(spec, MLPSpec) and not _is_model_spec(spec):
        raise TypeError(f"{name} must be an MLPSpec or a ModelSpec, got {type(spec).__name__}")
    return spec


class _Layered:
    """A flat array with per-layer views ``weights[l]`` and ``biases[l]`` (or None).

    For an :class:`MLPSpec` layer l is the l-th dense layer, W of shape (out, in); for a
    :class:`~simulations.nn.model_spec.ModelSpec` it is the l-th *prunable* tensor (conv (O, C, kh, kw)
    or dense (out, in), in flat order); BatchNorm's γ and β sit in ``flat`` between them but in no view.
    """

    def __init__(self, spec: Any, flat: np.ndarray):
        check_spec(spec)
        if not isinstance(flat, np.ndarray) or flat.ndim != 1:
            raise ValueError(f"flat must be a 1-D array, got {getattr(flat, 'shape', type(flat))}")
        if flat.shape[0] != spec.n_params:
            raise ValueError(f"flat must have {spec.n_params} entries for {spec.describe()}, got {flat.shape[0]}")
        if not flat.flags.c_contiguous:
            raise ValueError("flat must be C-contiguous")
        self.spec = spec
        self.flat = flat
        self.weights, self.biases = spec.layer_views(flat)

    def __len__(self) -> int:
        return self.spec.n_layers

    def copy(self):
        """Deep copy (a snapshot: later training does not change it)."""
        return type(self)(self.spec, self.flat.copy())

    def __eq__(self, other):  # exact equality, for tests
        return type(self) is type(other) and self.spec == other.spec and np.array_equal(self.flat, other.flat)

    __hash__ = None


class Params(_Layered):
    """Network parameters: ``flat`` (float32/float64, length ``spec.n_params``) and views.

    ``params.weights[l]`` is W_{l+1} with shape (out, in); ``params.biases[l]`` is b_{l+1}
    (None when ``spec.bias`` is False). Writing into a view writes the flat array.
    For a :class:`~simulations.nn.model_spec.ModelSpec` the views are its prunable tensors (see
    :class:`_Layered`) and ``buffers`` holds the BatchNorm running statistics
    (``spec.buffer_layout()``; default mean 0, variance 1; an empty array without BatchNorm or for an
    MLP). Training updates ``buffers`` as PyTorch's training mode does; evaluation uses them.

    Construct with :func:`init_params`, :meth:`zeros`, :meth:`from_flat` or
    :meth:`from_layers`; :meth:`copy` makes a snapshot (for rewinding).
    """

    def __init__(self, spec: Any, flat: np.ndarray, buffers: np.ndarray | None = None):
        check_spec(spec)
        if not isinstance(flat, np.ndarray) or flat.dtype != spec.np_dtype:
            raise ValueError(f"flat must be an array of dtype {spec.dtype} (spec.dtype), got "
                             f"{getattr(flat, 'dtype', type(flat).__name__)}")
        super().__init__(spec, flat)
        n_buf = getattr(spec, "n_buffers", 0)
        if buffers is None:
            buffers = spec.init_buffers() if n_buf else np.zeros(0, dtype=spec.np_dtype)
        if not isinstance(buffers, np.ndarray) or buffers.dtype != spec.np_dtype or buffers.shape != (n_buf,) \
                or not buffers.flags.c_contiguous:
            raise ValueError(f"buffers must be a C-contiguous {spec.dtype} array of spec.n_buffers = {n_buf} "
                             f"entries, got {getattr(buffers, 'dtype', type(buffers).__name__)} "
                             f"{getattr(buffers, 'shape', '')}")
        self.buffers = buffers

    def copy(self) -> Params:
        """Deep copy (a snapshot: later training does not change it), BatchNorm statistics included."""
        return Params(self.spec, self.flat.copy(), self.buffers.copy())

    def __eq__(self, other):  # exact equality, for tests
        return super().__eq__(other) and np.array_equal(self.buffers, other.buffers)

    __hash__ = None

    @classmethod
    def zeros(cls, spec: Any) -> Params:
        check_spec(spec)
        return cls(spec, np.zeros(spec.n_params, dtype=spec.np_dtype))

    @classmethod
    def from_flat(cls, spec: Any, flat: Any, copy: bool = True) -> Params:
        """Wrap (or copy) a flat vector, converting it to ``spec.dtype`` (BatchNorm statistics: their defaults)."""
        check_spec(spec)
        copy = check_bool("copy", copy)
        arr = check_array("flat", flat, ndim=1, finite=False)
        arr = np.ascontiguousarray(arr, dtype=spec.np_dtype)
        if copy:
            arr = arr.copy()
        return cls(spec, arr)

    @classmethod
    def from_layers(cls, spec: MLPSpec, weights: Sequence[Any], biases: Sequence[Any] | None = None) -> Params:
        """Build from per-layer arrays (weights (out, in); biases (out,) or None).

        ``weights`` (and ``biases``) must be a list or tuple of exactly ``spec.n_layers`` real
        arrays of the layer's shape; values may be non-finite (a diverged network).
        """
        if not isinstance(spec, MLPSpec):
            raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
        p = cls.zeros(spec)
        _check_layer_list("weights", weights)
        if len(weights) != spec.n_layers:
            raise ValueError(f"weights must have {spec.n_layers} arrays, got {len(weights)}")
        for l, w in enumerate(weights):
            w = check_array(f"weights[{l}]", w, ndim=2, finite=False)
            if w.shape != p.weights[l].shape:
                raise ValueError(f"weights[{l}] must have shape {p.weights[l].shape}, got {w.shape}")
            p.weights[l][...] = w
        if biases is not None:
            if not spec.bias:
                raise ValueError("biases must be None when spec.bias is False")
            _check_layer_list("biases", biases)
            if len(biases) != spec.n_layers:
                raise ValueError(f"biases must have {spec.n_layers} arrays, got {len(biases)}")
            for l, b in enumerate(biases):
                b = check_array(f"biases[{l}]", b, ndim=1, finite=False)
                if b.shape != p.biases[l].shape:
                    raise ValueError(f"biases[{l}] must have shape {p.biases[l].shape}, got {b.shape}")
                p.biases[l][...] = b
        return p

    def astype(self, dtype) -> Params:
        """A copy in another precision (the spec's dtype changes accordingly)."""
        dt = check_dtype(dtype)
        spec = self.spec.with_(dtype=dt.name)
        return Params(spec, self.flat.astype(dt), self.buffers.astype(dt))

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.flat).all())


class Mask(_Layered):
    """Pruning mask with the layout of :class:`Params` (uint8: 1 kept, 0 pruned).

    Training keeps ``params.flat * mask.flat == params.flat`` exactly: masked
    entries are zeroed at the start and after every update (SGD, momentum,
    weight decay, noise), so they are 0 in every forward pass. Biases are
    normally all 1 (unpruned) but may be masked too.
    """

    def __init__(self, spec: Any, flat: np.ndarray):
        if not isinstance(flat, np.ndarray) or flat.dtype != np.uint8:
            raise ValueError(f"mask flat must be a uint8 array, got {getattr(flat, 'dtype', type(flat).__name__)}")
        super().__init__(spec, flat)
        if flat.size and flat.max() > 1:
            raise ValueError(f"mask entries must be 0 or 1, found {int(flat.max())}")

    @classmethod
    def from_flat(cls, spec: Any, flat: Any) -> Mask:
        """From any 0/1 (or bool) vector of length ``spec.n_params``."""
        check_spec(spec)
        arr = _mask_array("mask", flat, (spec.n_params,))
        return cls(spec, arr)

    @classmethod
    def from_layers(cls, spec: Any, weights: Sequence[Any], biases: Sequence[Any] | None = None) -> Mask:
        """From per-layer 0/1 (or bool) weight masks (out, in); bias masks default to all ones.

        ``weights``: a list or tuple of ``spec.n_layers`` masks of the layers' shapes (for a ModelSpec its
        prunable tensors, conv masks (O, C, kh, kw)); ``biases``: None, or a list/tuple of ``spec.n_layers``
        entries, each None (all ones) or a 0/1 mask of shape (out,) (only for layers with a bias). Any
        other value is an error. BatchNorm γ, β stay unmasked.
        """
        check_spec(spec)
        m = ones_mask(spec)
        _check_layer_list("weights", weights)
        if len(weights) != spec.n_layers:
            raise ValueError(f"weights must have {spec.n_layers} masks, got {len(weights)}")
        for l, w in enumerate(weights):
            m.weights[l][...] = _mask_array(f"mask weights[{l}]", w, m.weights[l].shape)
        if biases is not None:
            if all(b is None for b in m.biases):
                raise ValueError("biases must be None when the network has no biases")
            _check_layer_list("biases", biases)
            if len(biases) != spec.n_layers:
                raise ValueError(f"biases must have {spec.n_layers} masks (or None entries), got {len(biases)}")
            for l, b in enumerate(biases):
                if b is not None:
                    if m.biases[l] is None:
                        raise ValueError(f"biases[{l}] must be None: layer {l} has no bias")
                    m.biases[l][...] = _mask_array(f"mask biases[{l}]", b, m.biases[l].shape)
        return m

    def apply(self, params: Params) -> Params:
        """Zero the pruned entries of ``params`` in place and return it."""
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {type(params).__name__}")
        if not self.spec.same_architecture(params.spec):
            raise ValueError("mask and params have different architectures")
        params.flat *= self.flat
        return params

    def density(self, weights_only: bool = True) -> float:
        """Fraction of kept entries (weights only by default)."""
        if check_bool("weights_only", weights_only):
            kept = sum(int(w.sum()) for w in self.weights)
            return kept / sum(w.size for w in self.weights)
        return float(self.flat.mean())


def _check_layer_list(name: str, seq: Any) -> None:
    if not isinstance(seq, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of per-layer arrays, got {type(seq).__name__}")


def _mask_array(name: str, x: Any, shape: tuple) -> np.ndarray:
    """A 0/1 mask as a C-contiguous uint8 array of ``shape`` (bool, or integers/floats equal to 0 or 1)."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of 0/1 (or bool), got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype != np.bool_ and not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be an array of 0/1 (or bool), got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if arr.dtype != np.bool_ and arr.size and not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)].ravel()[0]
        raise ValueError(f"{name} entries must be 0 or 1 (or bool), found {bad!r}")
    return np.ascontiguousarray(arr, dtype=np.uint8).copy()


def ones_mask(spec: Any) -> Mask:
    """The all-ones (nothing pruned) mask."""
    check_spec(spec)
    return Mask(spec, np.ones(spec.n_params, dtype=np.uint8))


def init_params(spec: Any, seed: Any = 0) -> Params:
    """Random initial parameters for ``spec`` (see the module docstring for each ``spec.init``).

    ``seed``: int, SeedSequence or Generator (``numpy.random.default_rng``). A
    :class:`~simulations.nn.model_spec.ModelSpec` is initialised by
    :func:`~simulations.nn.model_spec.init_model_params` (its BatchNorm statistics at mean 0, variance 1).
    """
    check_spec(spec)
    if _is_model_spec(spec):
        return Params(spec, spec.init_flat(seed))
    rng = generator(seed)
    p = Params.zeros(spec)
    for l, (fan_out, fan_in) in enumerate(spec.weight_shapes):
        shape = (fan_out, fan_in)
        bias_bound = 0.0
        if spec.init == "kaiming_uniform_torch":
            bound = 1.0 / math.sqrt(fan_in)
            w = rng.uniform(-bound, bound, size=shape)
            bias_bound = bound
        elif spec.init == "kaiming_normal":
            w = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
        elif spec.init == "kaiming_uniform":
            bound = math.sqrt(6.0 / fan_in)
            w = rng.uniform(-bound, bound, size=shape)
        elif spec.init == "xavier":
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-bound, bound, size=shape)
        elif spec.init == "xavier_normal":
            w = rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))
        else:  # "normal"
            w = rng.standard_normal(shape) / math.sqrt(fan_in)
        p.weights[l][...] = w
        if spec.bias:
            if bias_bound > 0.0:
                p.biases[l][...] = rng.uniform(-bias_bound, bias_bound, size=fan_out)
            else:
                p.biases[l][...] = 0.0
    return p
