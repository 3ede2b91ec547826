"""Training an MLP by minibatch SGD: the public entry points :func:`train`, :func:`evaluate`, :func:`predict`.

One step at global step t (PyTorch's ``torch.optim.SGD``, see :mod:`simulations.nn.optim`):
g = ∇L_B(θ) + λθ, v ← μv + g, θ ← θ − η_t v; then the injected α-stable noise
θ_W ← θ_W + σ η_t^{1/α} ξ on the chosen layers (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML) and the
mask θ ← m ⊙ θ. :func:`train` checks its arguments and hands them to
:class:`simulations.nn.runner.Run`, which runs whole chunks of steps in one backend call (no
Python per step) and stops at evaluation points, snapshot steps and checkpoint steps. The resume
state (:class:`simulations.nn.checkpoint.TrainState`) continues a run bit for bit;
:func:`simulations.nn.checkpoint.save_checkpoint` / ``load_checkpoint`` write and read it.

Seeding (:mod:`simulations._core.seeding`): ``seed`` (int / SeedSequence / Generator) becomes one
``SeedSequence`` whose named children ``"init"``, ``"shuffle"`` and ``"noise"`` seed the initial
parameters (when ``params`` is not given), the PCG64 generator of the per-epoch permutations,
and the xoroshiro128+ noise streams (one per noised neuron, from ``kernel_seed``). Same seed ⇒
same loss curve in every process.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.threads import default_threads
from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_real
from simulations.nn.backends import get_backend
from simulations.nn.backends.base import BATCH_SIZE_MAX, Backend, StepConfig
from simulations.nn.checkpoint import TrainState, _checkpoint_file, load_checkpoint, save_checkpoint
from simulations.nn.model import Mask, MLPSpec, Params, check_spec
from simulations.nn.model_backend import backend_for
from simulations.nn.optim import SGD, NoiseConfig
from simulations.nn.runner import Run

__all__ = [
    "StopRules",
    "MAX_LOSS_DEFAULT",
    "MAX_WEIGHT_DEFAULT",
    "TrainState",
    "TrainResult",
    "STATUSES",
    "BATCH_SIZE_MAX",
    "STEPS_MAX",
    "train",
    "evaluate",
    "predict",
    "save_checkpoint",
    "load_checkpoint",
]

#: run outcomes: budget used up; target train accuracy reached; interpolation
#: (train loss < threshold and 100 % train accuracy); divergence (non-finite loss or weights,
#: mean batch loss > max_loss, |θ_j| > max_weight); stopped by the callback.
STATUSES = ("completed", "target_reached", "interpolated", "diverged", "stopped")

#: default divergence ceiling on the mean minibatch loss (cross-entropy starts near log K ≈ 2.3)
MAX_LOSS_DEFAULT = 1e6
#: default divergence ceiling on max_j |θ_j| after a step (initial weights are O(1/√fan_in))
MAX_WEIGHT_DEFAULT = 1e6
#: largest global step count: start_step, max_steps and max_epochs are at most 2^53 (step numbers
#: stay exact in float64 schedules and far from int64 overflow)
STEPS_MAX = 2**53


@dataclass(frozen=True)
class StopRules:
    """When a run ends (whichever comes first).

    max_epochs / max_steps: budget counted from the run's first step (at least one is required; each in
    [1, :data:`STEPS_MAX`]);
    target_train_acc in (0, 1]: stop once the training accuracy (full pass) reaches it;
    interpolation_loss > 0: stop once the full-pass training loss is below it with 100 % accuracy.
    Convergence rules are checked at evaluation points; with iterate averaging m > 0 the run
    then continues m more steps to collect the average.

    Divergence guard (status "diverged", checked at every step on every backend): a non-finite
    loss or parameter always; ``max_loss`` > 0 — a minibatch whose mean loss exceeds it (checked
    before that step's update, which is skipped); ``max_weight`` > 0 — some |θ_j| above it
    after a step (update, noise and mask applied). Defaults :data:`MAX_LOSS_DEFAULT` = 1e6 and
    :data:`MAX_WEIGHT_DEFAULT` = 1e6, far above any trained network (the loss at
    initialisation is O(log K), the weights O(1)) and far below the float32 overflow that
    heavy-tailed noise or a too-large step size reach otherwise; ``None`` disables a ceiling
    (non-finite values still count).
    """

    max_epochs: int | None = None
    max_steps: int | None = None
    target_train_acc: float | None = None
    interpolation_loss: float | None = None
    max_loss: float | None = MAX_LOSS_DEFAULT
    max_weight: float | None = MAX_WEIGHT_DEFAULT

    def __post_init__(self):
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("max_epochs or max_steps must be given (a run needs a budget)")
        if self.max_epochs is not None:
            object.__setattr__(self, "max_epochs", check_int("max_epochs", self.max_epochs, 1, STEPS_MAX))
        if self.max_steps is not None:
            object.__setattr__(self, "max_steps", check_int("max_steps", self.max_steps, 1, STEPS_MAX))
        if self.target_train_acc is not None:
            object.__setattr__(self, "target_train_acc",
                               check_real("target_train_acc", self.target_train_acc, 0.0, 1.0, low_open=True))
        if self.interpolation_loss is not None:
            object.__setattr__(self, "interpolation_loss",
                               check_real("interpolation_loss", self.interpolation_loss, 0.0, None, low_open=True))
        if self.max_loss is not None:
            object.__setattr__(self, "max_loss", check_real("max_loss", self.max_loss, 0.0, None, low_open=True))
        if self.max_weight is not None:
            object.__setattr__(self, "max_weight",
                               check_real("max_weight", self.max_weight, 0.0, None, low_open=True))

    def to_dict(self) -> dict:
        return dict(max_epochs=self.max_epochs, max_steps=self.max_steps, target_train_acc=self.target_train_acc,
                    interpolation_loss=self.interpolation_loss, max_loss=self.max_loss, max_weight=self.max_weight)


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    status: one of :data:`STATUSES`; params: final θ (a copy); averaged: mean of the
    averaged iterates (None without averaging); history: one dict per evaluation
    ``{step, epoch, lr, train_loss, train_acc, train_metric ("full"|"running"),
    test_loss, test_acc, time}``; snapshots: {global step: Params} for ``snapshot_at``;
    state: a :class:`TrainState` to resume from; steps: global step reached;
    epochs: completed epochs; timings: seconds (train, eval, total); config: the run's settings;
    reason: why the run ended, in words (for "diverged": which rule fired, the value and the
    step); threads: the CPU threads it ran with (results are bit-identical at equal thread count).
    """

    status: str
    params: Params
    averaged: Params | None
    history: list
    snapshots: dict
    state: TrainState
    steps: int
    epochs: int
    timings: dict
    config: dict
    reason: str = ""
    threads: int = 1

    @property
    def final(self) -> dict:
        """The last history entry (empty dict if none)."""
        return self.history[-1] if self.history else {}


def train(
    spec: Any,
    data: Any,
    *,
    params: Params | None = None,
    mask: Mask | None = None,
    optimizer: SGD | None = None,
    noise: NoiseConfig | None = None,
    batch_size: int = 128,
    stop: StopRules | None = None,
    averaging: int = 0,
    averaging_delay: int = 0,
    eval_every: int | None = None,
    eval_train: str = "running",
    seed: Any = 0,
    start_step: int = 0,
    snapshot_at: Sequence[int] = (),
    callback: Callable[[dict], bool | None] | None = None,
    threads: int | None = None,
    backend: str | Backend = "cpu",
    resume: TrainState | str | Path | None = None,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int | None = None,
    drop_last: bool = True,
    progress: bool = False,
) -> TrainResult:
    """Train a network by minibatch SGD; never raises on divergence (status "diverged", see :class:`StopRules`).

    ``spec`` is an :class:`MLPSpec` or a :class:`~simulations.nn.model_spec.ModelSpec` (convolutional
    networks, ``simulations.nn.get_model``; CPU backend). Everything below holds for both: masks, noise
    and pruning act on the flat parameters, the layers of ``noise.layers`` and of the masks being the
    network's weight tensors (conv and dense, in order; a conv filter is one noise "neuron"); the
    BatchNorm running statistics are updated in training mode, kept in ``params.buffers`` and used
    in evaluation.

    Determinism: the result is bit-identical across processes and machines of the same
    build at equal ``threads`` (and backend); different thread counts change the summation
    order of BLAS and of the parallel kernels, so results then agree only to rounding.
    ``threads`` is recorded in ``result.threads`` and ``result.config``.

    Parameters
    ----------
    spec : MLPSpec or ModelSpec
    data : Dataset or tuple (X_train, y_train[, X_test, y_test])
        X: (n, sizes[0]) real array (converted to spec.dtype) — for a ModelSpec (n, *input_shape) or the
        same flattened, (n, prod(input_shape)), e.g. MNIST as loaded; y: (n,) integer labels in [0, K).
    params : initial θ (default: ``init_params(spec, child(seed, "init"))``); not modified (copied).
    mask : pruning mask, applied to θ at the start and after every update.
    optimizer : :class:`SGD` (default lr 0.1, no momentum, no weight decay, constant rate).
    noise : :class:`NoiseConfig` or None (no noise).
    batch_size : 1 ≤ B ≤ min(n, :data:`BATCH_SIZE_MAX`).
    stop : :class:`StopRules` (default: one epoch).
    averaging : m ≥ 0; keep the mean of the last m iterates (the last m steps of the budget,
        or the m steps after a convergence rule fires) as ``result.averaged``.
    averaging_delay : d ≥ 0 (needs m > 0); when a convergence rule fires, run d + m more steps and
        average the last m of them (Barsbey et al. 2021's code: convergence first observed at
        step i, training to i + 10·1000, the mean of the last 1000 iterates: d = 9000, m = 1000).
        A budget-limited run still averages the budget's last m steps.
    eval_every : steps between evaluations (default: one epoch); history gets one entry each
        time and at the end.
    eval_train : "running" (mean minibatch loss/accuracy since the last evaluation, free) or
        "full" (a full pass over the training set). Stopping rules always use a full pass.
    seed : int / SeedSequence / Generator.
    start_step : global step t ∈ [0, :data:`STEPS_MAX`] of the first update (the schedule is replayed from t:
        learning-rate rewinding); snapshot steps are global.
    snapshot_at : global steps k at which a copy of θ_k (θ before step k's update, i.e. after k
        updates when start_step = 0) is stored in ``result.snapshots[k]`` (late rewinding).
    callback : called at every evaluation with the history entry plus ``params`` (a live view;
        copy it to keep it); returning True stops the run (status "stopped"). Keys it adds to the
        entry it receives (other than ``params``) are kept in that history entry (the monitors of
        :mod:`simulations.diagnostics` record their measurements this way).
    threads : CPU threads for this run (default :func:`default_threads`, i.e. 1).
    backend : "cpu", "cuda" or a :class:`Backend`.
    resume : a :class:`TrainState` or a checkpoint path to continue from; pass the same other
        arguments (mask included); ``params`` and ``start_step`` are then taken from the state.
        One change is allowed: ``noise=None`` switches the noise of a noisy run off from the
        resumed step on (its streams are dropped; data order, momentum and schedule continue).
    checkpoint_path, checkpoint_every : write a checkpoint every that many steps and at the end.
    drop_last : drop the last incomplete batch of each epoch (steps/epoch = n // B) when True;
        otherwise the last batch is smaller.
    progress : show a tqdm bar (loss, accuracy, steps/s).
    """
    t_start = time.perf_counter()
    check_spec(spec)
    optimizer = SGD() if optimizer is None else optimizer
    if not isinstance(optimizer, SGD):
        raise TypeError(f"optimizer must be an SGD, got {type(optimizer).__name__}")
    if noise is not None and not isinstance(noise, NoiseConfig):
        raise TypeError(f"noise must be a NoiseConfig or None, got {type(noise).__name__}")
    if noise is not None:
        noise.layer_list(spec.n_layers)  # validates the layer indices
    stop = StopRules(max_epochs=1) if stop is None else stop
    if not isinstance(stop, StopRules):
        raise TypeError(f"stop must be a StopRules, got {type(stop).__name__}")
    Xtr, ytr, Xte, yte = _as_data(data, spec)
    n = Xtr.shape[0]
    batch_size = check_int("batch_size", batch_size, 1, min(n, BATCH_SIZE_MAX))
    averaging = check_int("averaging", averaging, 0)
    averaging_delay = check_int("averaging_delay", averaging_delay, 0, STEPS_MAX)
    if averaging_delay and not averaging:
        raise ValueError(f"averaging_delay={averaging_delay} needs averaging > 0 (the iterates it delays)")
    if eval_every is not None:
        eval_every = check_int("eval_every", eval_every, 1)
    check_choice("eval_train", eval_train, ("running", "full"))
    start_step = check_int("start_step", start_step, 0, STEPS_MAX)
    if isinstance(snapshot_at, (str, bytes)) or np.ndim(snapshot_at) != 1 and not isinstance(snapshot_at, range):
        raise TypeError(f"snapshot_at must be a sequence of global steps, got {snapshot_at!r}")
    snaps = sorted({check_int("snapshot_at", k, 0) for k in snapshot_at})
    drop_last = check_bool("drop_last", drop_last)
    progress = check_bool("progress", progress)
    if resume is not None and not isinstance(resume, (TrainState, str, Path)):
        raise TypeError(f"resume must be a TrainState, a checkpoint path or None, got {type(resume).__name__}")
    if isinstance(resume, (str, Path)):
        _checkpoint_file("resume", resume)
    if checkpoint_path is not None:
        _checkpoint_file("checkpoint_path", checkpoint_path)
    if threads is None:
        threads = default_threads()
    threads = check_int("threads", threads, 1)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
        if checkpoint_path is None:
            raise ValueError("checkpoint_every needs checkpoint_path")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None")
    if params is not None and resume is None:
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {type(params).__name__}")
        if not spec.same_architecture(params.spec):
            raise ValueError(f"params must match the architecture of spec: {spec.describe()}")
    if mask is not None:
        if not isinstance(mask, Mask):
            raise TypeError(f"mask must be a Mask, got {type(mask).__name__}")
        if not spec.same_architecture(mask.spec):
            raise ValueError(f"mask must match the architecture of spec: {spec.describe()}")
        if mask.flat.size and mask.flat.max() > 1:  # views may have been written after construction
            raise ValueError(f"mask entries must be 0 or 1, found {int(mask.flat.max())}")
    be = backend_for(spec, get_backend(backend))
    config = {
        "spec": spec.to_dict(), "optimizer": optimizer.to_dict(), "noise": None if noise is None else noise.to_dict(),
        "batch_size": batch_size, "stop": stop.to_dict(), "averaging": averaging,
        "averaging_delay": averaging_delay, "eval_every": eval_every,
        "eval_train": eval_train, "seed": seed if isinstance(seed, (int, np.integer)) else repr(seed),
        "start_step": start_step, "threads": threads, "backend": be.name, "drop_last": drop_last,
        "masked": mask is not None, "n_train": n, "n_test": 0 if Xte is None else int(Xte.shape[0]),
        "steps_per_epoch": n // batch_size if drop_last else -(-n // batch_size),
    }
    run = Run(spec, be, (Xtr, ytr, Xte, yte), params=params, mask=mask, optimizer=optimizer, noise=noise,
              batch_size=batch_size, stop=stop, averaging=averaging,
              averaging_delay=averaging_delay, eval_every=eval_every, eval_train=eval_train,
              seed=seed, start_step=start_step, snapshot_at=snaps, callback=callback, resume=resume,
              checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every, drop_last=drop_last,
              progress=progress, config=config)
    # per-entry noise is drawn on every thread right after a GEMM: OpenBLAS's idle workers must not spin
    with be.threads(threads, quiet_blas=noise is not None and noise.kind == "entry"):
        run.loop()
    averaged, t_eval = run.finish()
    st = run.state
    total = time.perf_counter() - t_start
    return TrainResult(status=run.status, params=st.params.copy(), averaged=averaged, history=list(st.history),
                       snapshots=run.snapshots, state=st, steps=st.step, epochs=st.epoch,
                       timings={"train": st.elapsed, "eval": t_eval, "total": total,
                                "steps_per_s": (st.step - st.start_step) / max(st.elapsed, 1e-12)},
                       config=config, reason=run.reason, threads=threads)


def _input_dim(spec: Any) -> int:
    return spec.sizes[0] if isinstance(spec, MLPSpec) else int(np.prod(spec.input_shape))


def _as_rows(name: str, X: Any, spec: Any, min_size: int = 0) -> np.ndarray:
    """X as a C-contiguous (n, d_0) array of spec.dtype (a ModelSpec's images flattened per row)."""
    d = _input_dim(spec)
    if not isinstance(spec, MLPSpec):
        X = check_array(name, X, min_size=min_size)
        if X.ndim >= 2 and X.shape[1:] == spec.input_shape:
            X = X.reshape(X.shape[0], d)
        elif X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"{name} must have shape (n, *spec.input_shape) = (n, "
                             f"{', '.join(map(str, spec.input_shape))}) or (n, {d}), got {X.shape}")
    else:
        X = check_array(name, X, ndim=2, min_size=min_size)
        if X.shape[1] != d:
            raise ValueError(f"{name} must have {d} columns (spec.sizes[0]), got shape {X.shape}")
    return np.ascontiguousarray(X, dtype=spec.np_dtype)


def _as_data(data: Any, spec: Any):
    from simulations.nn.data import check_labels, dataset_parts

    parts = dataset_parts(data)
    out = []
    for k, (X, y) in enumerate([(parts[0], parts[1]), (parts[2], parts[3])]):
        nm = "train" if k == 0 else "test"
        if X is None:
            if k == 0:
                raise ValueError("X_train must be given")
            out += [None, None]
            continue
        X = _as_rows(f"X_{nm}", X, spec, min_size=1 if k == 0 else 0)
        if y is None:
            raise ValueError(f"y_{nm} must be given with X_{nm}")
        y = check_labels(f"y_{nm}", y, X.shape[0], spec.n_classes)
        out += [X, y]
    return tuple(out)


def _eval_setup(params: Params, X, batch_size, backend, threads):
    if not isinstance(params, Params):
        raise TypeError(f"params must be a Params, got {type(params).__name__}")
    spec = params.spec
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    threads = default_threads() if threads is None else check_int("threads", threads, 1)
    be = backend_for(spec, get_backend(backend))
    X = _as_rows("X", X, spec)
    # the evaluation buffers hold one chunk: never more rows than X has
    ws = be.workspace(StepConfig(spec, 1), eval_batch_size=max(1, min(batch_size, X.shape[0])))
    return spec, be, X, ws, threads


def evaluate(params: Params, X: Any, y: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
             threads: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``params`` on (X, y), with the spec's loss.

    X: (n, sizes[0]) with n ≥ 1 (a ModelSpec: (n, *input_shape) or flattened); y: (n,) labels in [0, K).
    The pass runs in chunks of
    min(batch_size, n) rows, 1 ≤ batch_size ≤ :data:`BATCH_SIZE_MAX`; threads ≥ 1 (default
    :func:`default_threads`).
    """
    from simulations.nn.data import check_labels

    spec, be, X, ws, threads = _eval_setup(params, X, batch_size, backend, threads)
    y = check_labels("y", y, X.shape[0], spec.n_classes)
    if X.shape[0] == 0:
        raise ValueError("X must have at least one row")
    with be.threads(threads):
        ls, c = be.evaluate(ws, spec, be.to_device(params.flat), be.to_device(X), be.to_device(y),
                            be.to_device(params.buffers))
    return ls / X.shape[0], c / X.shape[0]


def predict(params: Params, X: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
            threads: int | None = None) -> np.ndarray:
    """Logits (n, K) of ``params`` on X (n ≥ 0 rows), computed in chunks of min(batch_size, n) rows.

    1 ≤ batch_size ≤ :data:`BATCH_SIZE_MAX`; threads ≥ 1 (default :func:`default_threads`).
    """
    spec, be, X, ws, threads = _eval_setup(params, X, batch_size, backend, threads)
    with be.threads(threads):
        return be.forward(ws, spec, be.to_device(params.flat), be.to_device(X), be.to_device(params.buffers))
