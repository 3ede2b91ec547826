"""Training loop: SGD (+momentum, weight decay, schedule), noise injection, masks, averaging, stopping rules.

:func:`train` runs whole chunks of steps in one backend call (no Python per
step) and stops at evaluation points, snapshot steps and checkpoint steps.
The training state (:class:`TrainState`) holds everything needed to continue
bit for bit: parameters, momentum buffer, noise streams, the shuffling
generator, the current epoch's permutation and position, the averaging sum
and the history. :func:`save_checkpoint` / :func:`load_checkpoint` write it as
``.npz`` (arrays) + ``.json`` (everything else).

Randomness from ``seed`` (int / SeedSequence / Generator): a
``SeedSequence`` spawns three children — initial parameters (when ``params``
is not given), data shuffling (PCG64, one permutation per epoch) and the
noise streams (xoroshiro128+, one per noised neuron) — so the same seed gives
the same loss curve in every process.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..validation import as_generator, check_array, check_choice, check_int, check_real
from .backend import Backend, RunBuffers, StepConfig, default_threads, get_backend
from .model import Mask, MLPSpec, Params, init_params
from .optim import SGD, NoiseConfig

__all__ = [
    "StopRules",
    "TrainState",
    "TrainResult",
    "STATUSES",
    "train",
    "evaluate",
    "predict",
    "save_checkpoint",
    "load_checkpoint",
]

#: run outcomes: budget used up; target train accuracy reached; interpolation
#: (train loss < threshold and 100 % train accuracy); non-finite loss/weights (or loss > max_loss);
#: stopped by the callback.
STATUSES = ("completed", "target_reached", "interpolated", "diverged", "stopped")


@dataclass(frozen=True)
class StopRules:
    """When a run ends (whichever comes first).

    max_epochs / max_steps: budget counted from the run's first step (at least one is required);
    target_train_acc in (0, 1]: stop once the training accuracy (full pass) reaches it;
    interpolation_loss > 0: stop once the full-pass training loss is below it with 100 % accuracy;
    max_loss: a loss above it counts as divergence (non-finite loss or weights always does).
    Convergence rules are checked at evaluation points; with iterate averaging m > 0 the run
    then continues m more steps to collect the average.
    """

    max_epochs: int | None = None
    max_steps: int | None = None
    target_train_acc: float | None = None
    interpolation_loss: float | None = None
    max_loss: float | None = None

    def __post_init__(self):
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("max_epochs or max_steps must be given (a run needs a budget)")
        if self.max_epochs is not None:
            object.__setattr__(self, "max_epochs", check_int("max_epochs", self.max_epochs, 1))
        if self.max_steps is not None:
            object.__setattr__(self, "max_steps", check_int("max_steps", self.max_steps, 1))
        if self.target_train_acc is not None:
            object.__setattr__(self, "target_train_acc",
                               check_real("target_train_acc", self.target_train_acc, 0.0, 1.0, low_open=True))
        if self.interpolation_loss is not None:
            object.__setattr__(self, "interpolation_loss",
                               check_real("interpolation_loss", self.interpolation_loss, 0.0, None, low_open=True))
        if self.max_loss is not None:
            object.__setattr__(self, "max_loss", check_real("max_loss", self.max_loss, 0.0, None, low_open=True))

    def to_dict(self) -> dict:
        return dict(max_epochs=self.max_epochs, max_steps=self.max_steps, target_train_acc=self.target_train_acc,
                    interpolation_loss=self.interpolation_loss, max_loss=self.max_loss)


@dataclass
class TrainState:
    """Everything needed to resume a run exactly (host arrays)."""

    params: Params
    velocity: np.ndarray  # (P,) or (0,)
    noise_states: np.ndarray  # (S, 2) uint64
    shuffle_state: dict  # numpy bit_generator.state of the shuffling generator
    start_step: int  # global step t at which this run began (schedule offset)
    step: int  # global step t of the next update
    epoch: int  # completed epochs of this run
    pos: int  # steps already done in the current epoch
    perm: np.ndarray  # current epoch's permutation (int64)
    avg_sum: np.ndarray  # (P,) float64 or (0,)
    avg_count: int
    tail_left: int  # steps left of the post-convergence averaging tail (-1 = not in it)
    status: str | None
    history: list = field(default_factory=list)
    elapsed: float = 0.0  # training seconds so far (excluding evaluation)


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    status: one of :data:`STATUSES`; params: final θ (a copy); averaged: mean of the
    averaged iterates (None without averaging); history: one dict per evaluation
    ``{step, epoch, lr, train_loss, train_acc, train_metric ("full"|"running"),
    test_loss, test_acc, time}``; snapshots: {global step: Params} for ``snapshot_at``;
    state: a :class:`TrainState` to resume from; steps: global step reached;
    epochs: completed epochs; timings: seconds (train, eval, total); config: the run's settings.
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

    @property
    def final(self) -> dict:
        """The last history entry (empty dict if none)."""
        return self.history[-1] if self.history else {}


def train(
    spec: MLPSpec,
    data: Any,
    *,
    params: Params | None = None,
    mask: Mask | None = None,
    optimizer: SGD | None = None,
    noise: NoiseConfig | None = None,
    batch_size: int = 128,
    stop: StopRules | None = None,
    averaging: int = 0,
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
    """Train an MLP by minibatch SGD; never raises on divergence (status "diverged").

    Parameters
    ----------
    spec : MLPSpec
    data : Dataset or tuple (X_train, y_train[, X_test, y_test])
        X: (n, sizes[0]) real array (converted to spec.dtype); y: (n,) integer labels in [0, K).
    params : initial θ (default: ``init_params(spec, seed-child 0)``); not modified (copied).
    mask : pruning mask, applied to θ at the start and after every update.
    optimizer : :class:`SGD` (default lr 0.1, no momentum, no weight decay, constant rate).
    noise : :class:`NoiseConfig` or None (no noise).
    batch_size : 1 ≤ B ≤ n.
    stop : :class:`StopRules` (default: one epoch).
    averaging : m ≥ 0; keep the mean of the last m iterates (the last m steps of the budget,
        or the m steps after a convergence rule fires) as ``result.averaged``.
    eval_every : steps between evaluations (default: one epoch); history gets one entry each
        time and at the end.
    eval_train : "running" (mean minibatch loss/accuracy since the last evaluation, free) or
        "full" (a full pass over the training set). Stopping rules always use a full pass.
    seed : int / SeedSequence / Generator.
    start_step : global step t of the first update (the schedule is replayed from t:
        learning-rate rewinding); snapshot steps are global.
    snapshot_at : global steps k at which a copy of θ_k (θ before step k's update, i.e. after k
        updates when start_step = 0) is stored in ``result.snapshots[k]`` (late rewinding).
    callback : called at every evaluation with the history entry plus ``params`` (a live view;
        copy it to keep it); returning True stops the run (status "stopped").
    threads : CPU threads for this run (default :func:`default_threads`, i.e. 1).
    backend : "cpu", "cuda" or a :class:`Backend`.
    resume : a :class:`TrainState` or a checkpoint path to continue from (same other arguments).
    checkpoint_path, checkpoint_every : write a checkpoint every that many steps and at the end.
    drop_last : drop the last incomplete batch of each epoch (steps/epoch = n // B) when True;
        otherwise the last batch is smaller.
    progress : show a tqdm bar (loss, accuracy, steps/s).
    """
    raise NotImplementedError


def evaluate(params: Params, X: Any, y: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
             threads: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``params`` on (X, y), with the spec's loss."""
    raise NotImplementedError


def predict(params: Params, X: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
            threads: int | None = None) -> np.ndarray:
    """Logits (n, K) of ``params`` on X."""
    raise NotImplementedError


def save_checkpoint(path: str | Path, state: TrainState, config: dict | None = None) -> Path:
    """Write ``<path>.npz`` (arrays) and ``<path>.json`` (spec, counters, RNG state, history, config)."""
    raise NotImplementedError


def load_checkpoint(path: str | Path) -> tuple[TrainState, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: (state, config)."""
    raise NotImplementedError
