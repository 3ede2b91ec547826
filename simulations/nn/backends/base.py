"""The backend contract: one interface every backend implements, and the data it is given.

:func:`simulations.nn.train.train` talks to a backend only through :class:`Backend`
(implementations: :class:`simulations.nn.backends.cpu.CPUBackend`, numba + BLAS, and
:class:`simulations.nn.backends.cuda.CUDABackend`, numba.cuda; pick one with
:func:`simulations.nn.backends.get_backend`). A backend owns *device arrays* (numpy arrays on
the CPU, ``numba.cuda`` device arrays on the GPU) and runs whole chunks of SGD steps
(:meth:`Backend.run_steps`) so that no Python runs per step.

Data held by a run on the device (:class:`RunBuffers`), all in the flat
parameter layout of :class:`simulations.nn.model.Params`:

* ``params``   (P,)  float32/float64 — θ
* ``velocity`` (P,)  same dtype — momentum buffer v (size 0 when momentum = 0)
* ``mask``     (P,)  uint8 — 1 kept / 0 pruned (size 0 when there is no mask)
* ``noise_states`` (S, 2) uint64 — xoroshiro128+ streams, one per noised neuron
  (rows of the noised layers, in layer order; S = 0 without noise)
* ``avg_sum``  (P,)  float64 — running sum of iterates for iterate averaging (size 0 if unused)
* ``buffers``  (R,)  spec dtype — BatchNorm running statistics of a ModelSpec (size 0 otherwise)

Semantics of one step (identical on every backend; see :mod:`simulations.nn.optim`):
gather the batch ``X[idx[s*B:(s+1)*B]]``; forward; loss and gradient (mean over
the batch); v ← μv + g + λθ; θ ← θ − η_s v (plain SGD when μ = 0: θ ← θ − η_s(g + λθ));
noise σ η_s^{1/α} ξ on the noised layers' weights; θ ← m⊙θ, v ← m⊙v;
if ``avg_flags[s]``: avg_sum += θ. Divergence stops the chunk (``diverged=True``, the step
counted as done, :attr:`StepsResult.reason` one of :data:`DIVERGENCE_REASONS`): a non-finite
batch loss, or a mean batch loss above ``max_loss`` (both checked before the step's update,
which is then skipped); with ``max_weight`` some |θ_j| above it (or non-finite) after the
step (one pass over θ per step); without it, a non-finite θ at the end of the chunk.

The integer codes the kernels take (activation, loss, noise kind) come from
:mod:`simulations._core.codes`, looked up once per run in :class:`KernelCodes`, which both
backends use.
"""
from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.codes import ACTIVATION_CODES, LOSS_CODES, NOISE_CODES, NOISE_NONE
from simulations._core.validation import check_int
from simulations.nn.model import MLPSpec
from simulations.nn.optim import NoiseConfig

__all__ = ["Backend", "KernelCodes", "RunBuffers", "StepConfig", "StepsResult", "DIVERGENCE_REASONS", "BATCH_SIZE_MAX",
           "WORKSPACE_BYTES_MAX", "workspace_bytes", "check_workspace", "chunk_batch"]

#: divergence codes of the kernels (CPU ``stats[2]``, CUDA ``ctrl[0]`` / ``ctrl[2]``) and what they mean
DIVERGENCE_REASONS = {
    1: "non-finite batch loss",
    2: "mean batch loss above max_loss",
    3: "a parameter above max_weight in absolute value",
    4: "non-finite parameters",
}

#: largest training or evaluation batch (rows of one workspace buffer) a backend accepts
BATCH_SIZE_MAX = 2**24
#: largest workspace (activations, deltas, batch, gradient) a backend allocates: 16 GiB
WORKSPACE_BYTES_MAX = 2**34


def workspace_bytes(spec: MLPSpec, batch_size: int, eval_batch_size: int) -> int:
    """Upper bound of a workspace's size in bytes: itemsize × ((B+1)(d_0 + 2Σ_l d_l + 2 max d) + E Σ_l d_l + P).

    B = training batch rows, E = evaluation chunk rows, d_l the layer widths, P the parameter count
    (the CPU and CUDA workspaces both stay below it). ``batch_size`` and ``eval_batch_size`` must be
    integers in [1, :data:`BATCH_SIZE_MAX`].
    """
    if not isinstance(spec, MLPSpec):
        raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    eval_batch_size = check_int("eval_batch_size", eval_batch_size, 1, BATCH_SIZE_MAX)
    widths = sum(spec.sizes[1:])
    rows = (batch_size + 1) * (spec.sizes[0] + 2 * widths + 2 * max(spec.sizes)) + eval_batch_size * widths
    return int(spec.np_dtype.itemsize) * (rows + spec.n_params)


def chunk_batch(idx, lrs, batch_size: int) -> tuple[int, int]:
    """(steps, B) of a :meth:`Backend.run_steps` chunk: ``len(lrs)`` steps of B = len(idx) // steps rows each.

    A ValueError unless idx holds exactly steps × B indices with 1 ≤ B ≤ ``batch_size`` (B = 0 when steps = 0).
    """
    steps = int(lrs.shape[0])
    if steps == 0:
        return 0, 0
    B = int(idx.shape[0]) // steps
    if B < 1 or B > batch_size or B * steps != idx.shape[0]:
        raise ValueError(f"idx must hold len(lrs) × B indices with 1 ≤ B ≤ {batch_size}, "
                         f"got {idx.shape[0]} for {steps} steps")
    return steps, B


def check_workspace(config: StepConfig, eval_batch_size: int) -> int:
    """Check a workspace request before anything is allocated; returns ``eval_batch_size`` as an int.

    ``config.batch_size`` and ``eval_batch_size`` must be in [1, :data:`BATCH_SIZE_MAX`] and the
    workspace (:func:`workspace_bytes`) at most :data:`WORKSPACE_BYTES_MAX` bytes.
    """
    if not isinstance(config, StepConfig):
        raise TypeError(f"config must be a StepConfig, got {type(config).__name__}")
    B = check_int("batch_size", config.batch_size, 1, BATCH_SIZE_MAX)
    E = check_int("eval_batch_size", eval_batch_size, 1, BATCH_SIZE_MAX)
    if not isinstance(config.spec, MLPSpec):
        return E  # a ModelSpec workspace checks its own size (simulations.nn.conv_net.Workspace)
    need = workspace_bytes(config.spec, B, E)
    if need > WORKSPACE_BYTES_MAX:
        raise ValueError(f"batch_size={B} and eval_batch_size={E} need a workspace of {need} bytes for sizes "
                         f"{config.spec.sizes}; at most WORKSPACE_BYTES_MAX = {WORKSPACE_BYTES_MAX} bytes are "
                         "allocated: use smaller batches")
    return E


@dataclass(frozen=True)
class StepConfig:
    """What stays fixed during a run (compiled into the workspace).

    spec (an MLPSpec, or a ModelSpec on the CPU backend), batch_size B ≥ 1, momentum μ, weight_decay λ,
    noise (None = off; its layers index ``spec``'s weight layers, the rows of a conv layer are its filters),
    has_mask, averaging (True when avg_sum is kept), max_loss and max_weight (divergence
    thresholds on the mean batch loss and on max |θ_j|; None = off).
    """

    spec: MLPSpec
    batch_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    noise: NoiseConfig | None = None
    has_mask: bool = False
    averaging: bool = False
    max_loss: float | None = None  # a mean batch loss above it counts as divergence (None: off)
    max_weight: float | None = None  # a parameter |θ_j| above it after a step counts as divergence (None: off)

    @property
    def noise_layers(self) -> list[int]:
        if self.noise is None or not self.noise.active:
            return []
        return self.noise.layer_list(self.spec.n_layers)

    @property
    def n_noise_streams(self) -> int:
        """One stream per noised neuron (row)."""
        return sum(self.spec.weight_shapes[l][0] for l in self.noise_layers)

    @property
    def codes(self) -> KernelCodes:
        return KernelCodes.of(self)


@dataclass(frozen=True)
class KernelCodes:
    """The scalar kernel arguments of a run, built once from a :class:`StepConfig`.

    act / loss / noise_kind: codes of :mod:`simulations._core.codes` (noise_kind is
    ``NOISE_NONE`` and noise_sigma 0 when no layer is noised); has_bias; noise_alpha α;
    noise_sigma σ; momentum μ; weight_decay λ; has_mask; max_loss and max_weight (0 = off).
    """

    act: int
    loss: int
    has_bias: bool
    noise_kind: int
    noise_alpha: float
    noise_sigma: float
    momentum: float
    weight_decay: float
    has_mask: bool
    max_loss: float
    max_weight: float = 0.0

    @classmethod
    def of(cls, config: StepConfig) -> KernelCodes:
        spec, nz = config.spec, config.noise
        on = nz is not None and bool(config.noise_layers)
        # a ModelSpec has no network-wide activation or bias flag: its layers carry them
        return cls(act=ACTIVATION_CODES[getattr(spec, "activation", "identity")], loss=LOSS_CODES[spec.loss],
                   has_bias=bool(getattr(spec, "bias", False)),
                   noise_kind=NOISE_CODES[nz.kind] if on else NOISE_NONE,
                   noise_alpha=float(nz.alpha) if nz is not None else 2.0,
                   noise_sigma=float(nz.sigma) if on else 0.0,
                   momentum=float(config.momentum), weight_decay=float(config.weight_decay),
                   has_mask=bool(config.has_mask), max_loss=float(config.max_loss or 0.0),
                   max_weight=float(config.max_weight or 0.0))


@dataclass
class RunBuffers:
    """Device arrays of a run (see the module docstring)."""

    params: Any
    velocity: Any
    mask: Any
    noise_states: Any
    avg_sum: Any
    buffers: Any = None  # BatchNorm running statistics (ModelSpec); None or size 0 otherwise


@dataclass
class StepsResult:
    """Outcome of :meth:`Backend.run_steps`.

    n_done: steps completed (a diverging step counts as done); loss_sum and
    correct: sums over the samples of the completed steps' batches (loss before
    the update, as PyTorch reports it); diverged: a divergence rule fired (see the module
    docstring); reason: its code in :data:`DIVERGENCE_REASONS` (0 when not diverged).
    """

    n_done: int
    loss_sum: float
    correct: int
    diverged: bool
    reason: int = 0


class Backend(ABC):
    """Interface every backend implements (``cpu`` in :mod:`.cpu`, ``cuda`` in :mod:`.cuda`)."""

    name: str = "abstract"

    # --- memory ------------------------------------------------------------------------
    @abstractmethod
    def to_device(self, arr: np.ndarray) -> Any:
        """Copy a host array to the device (CPU: a C-contiguous array, no copy if already one)."""

    @abstractmethod
    def to_host(self, arr: Any) -> np.ndarray:
        """Copy a device array to a new host numpy array."""

    def host_view(self, arr: Any) -> np.ndarray:
        """A host array with the contents of ``arr``; may share memory with it (CPU) — read, don't keep."""
        return self.to_host(arr)

    def empty(self, shape, dtype) -> Any:
        """Uninitialised device array."""
        return self.to_device(np.empty(shape, dtype=dtype))

    # --- threads -----------------------------------------------------------------------
    def threads(self, n: int, quiet_blas: bool = False):
        """Context manager: run with ``n`` CPU threads (no-op where it does not apply); ``quiet_blas``:
        idle BLAS workers sleep rather than spin between calls (for kernels that need every core
        between GEMMs: per-entry noise)."""
        return contextlib.nullcontext()

    # --- compute -----------------------------------------------------------------------
    @abstractmethod
    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> Any:
        """Allocate every per-run buffer once (activations, deltas, gradients, batch).

        Evaluation and logits run in chunks of ``eval_batch_size`` rows. Both sizes are
        checked first (:func:`check_workspace`: at most :data:`BATCH_SIZE_MAX` rows and
        :data:`WORKSPACE_BYTES_MAX` bytes).
        """

    @abstractmethod
    def run_steps(self, ws: Any, config: StepConfig, bufs: RunBuffers, X: Any, y: Any, idx: Any,
                  lrs: np.ndarray, avg_flags: np.ndarray) -> StepsResult:
        """Run ``len(lrs)`` SGD steps; step s uses samples ``idx[s*B:(s+1)*B]`` and rate ``lrs[s]``.

        B = len(idx) // len(lrs) ≤ config.batch_size (a smaller B serves a last partial batch).

        X: (n, d_0) device array of the spec's dtype; y: (n,) int32 labels in [0, K);
        idx: int64 (len(lrs)*B,) indices into X (host or device); lrs: float64 (steps,);
        avg_flags: uint8 (steps,) — add θ to ``bufs.avg_sum`` after step s when 1.
        Updates ``bufs`` in place. Never raises on divergence (see :class:`StepsResult`).
        """

    @abstractmethod
    def evaluate(self, ws: Any, spec: MLPSpec, params: Any, X: Any, y: Any, buffers: Any = None) -> tuple[float, int]:
        """(sum of per-sample losses, number correct) of ``params`` on (X, y), in chunks.

        ``buffers``: the BatchNorm running statistics of a ModelSpec network (ignored for an MLP)."""

    @abstractmethod
    def forward(self, ws: Any, spec: MLPSpec, params: Any, X: Any, buffers: Any = None) -> np.ndarray:
        """Logits (n, K) as a host array (``buffers`` as in :meth:`evaluate`)."""

    def gradient(self, spec: MLPSpec, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, flat gradient) on one batch, host arrays in and out (for checks)."""
        raise NotImplementedError
