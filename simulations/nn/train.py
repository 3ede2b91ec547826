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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.validation import as_generator, check_array, check_choice, check_int, check_real
from simulations.nn.backends.base import Backend, RunBuffers, StepConfig, default_threads, get_backend
from simulations.nn.model import Mask, MLPSpec, Params, init_params
from simulations.nn.optim import SGD, NoiseConfig
from simulations.stable.streams import init_states

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
    avg_from: int | None = None  # first global step of the averaging window (None: not decided)
    status_pending: str | None = None  # convergence status to report once the averaging tail ends


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
    resume : a :class:`TrainState` or a checkpoint path to continue from; pass the same other
        arguments (mask included); ``params`` and ``start_step`` are then taken from the state.
    checkpoint_path, checkpoint_every : write a checkpoint every that many steps and at the end.
    drop_last : drop the last incomplete batch of each epoch (steps/epoch = n // B) when True;
        otherwise the last batch is smaller.
    progress : show a tqdm bar (loss, accuracy, steps/s).
    """
    t_start = time.perf_counter()
    if not isinstance(spec, MLPSpec):
        raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
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
    batch_size = check_int("batch_size", batch_size, 1, n)
    averaging = check_int("averaging", averaging, 0)
    if eval_every is not None:
        eval_every = check_int("eval_every", eval_every, 1)
    check_choice("eval_train", eval_train, ("running", "full"))
    start_step = check_int("start_step", start_step, 0)
    snaps = sorted({check_int("snapshot_at", k, 0) for k in snapshot_at})
    if threads is None:
        threads = default_threads()
    threads = check_int("threads", threads, 1)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every, 1)
        if checkpoint_path is None:
            raise ValueError("checkpoint_every needs checkpoint_path")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable or None")
    if mask is not None:
        if not isinstance(mask, Mask):
            raise TypeError(f"mask must be a Mask, got {type(mask).__name__}")
        if mask.spec.sizes != spec.sizes or mask.spec.bias != spec.bias:
            raise ValueError(f"mask must match the architecture {spec.sizes} (bias={spec.bias})")
    be = get_backend(backend)

    spe = n // batch_size if drop_last else -(-n // batch_size)
    last_b = batch_size if drop_last or n % batch_size == 0 else n % batch_size
    budget = min(x for x in (stop.max_steps, None if stop.max_epochs is None else stop.max_epochs * spe) if x is not None)
    if eval_every is None:
        eval_every = spe
    converge_rules = stop.target_train_acc is not None or stop.interpolation_loss is not None

    g = as_generator(seed)
    init_seed, shuffle_seed, noise_seed = (int(v) for v in g.integers(0, 2**63 - 1, size=3))
    cfg = StepConfig(spec, batch_size, optimizer.momentum, optimizer.weight_decay, noise, mask is not None,
                     averaging > 0, stop.max_loss)
    config = {
        "spec": spec.to_dict(), "optimizer": optimizer.to_dict(), "noise": None if noise is None else noise.to_dict(),
        "batch_size": batch_size, "stop": stop.to_dict(), "averaging": averaging, "eval_every": eval_every,
        "eval_train": eval_train, "seed": seed if isinstance(seed, (int, np.integer)) else repr(seed),
        "start_step": start_step, "threads": threads, "backend": be.name, "drop_last": drop_last,
        "masked": mask is not None, "n_train": n, "n_test": 0 if Xte is None else int(Xte.shape[0]),
        "steps_per_epoch": spe,
    }

    # ---- state -----------------------------------------------------------------------------
    if resume is not None:
        state = load_checkpoint(resume)[0] if isinstance(resume, (str, Path)) else _copy_state(resume)
        if state.params.spec.sizes != spec.sizes or state.params.flat.shape[0] != spec.n_params:
            raise ValueError("resume state does not match spec")
        if state.params.spec != spec:
            state.params = Params(spec, state.params.flat.astype(spec.np_dtype))
        if state.perm.shape[0] != n:
            raise ValueError(f"resume state was made for {state.perm.shape[0]} training samples, data has {n}")
        if (optimizer.momentum > 0) != (state.velocity.shape[0] > 0) or state.noise_states.shape[0] != cfg.n_noise_streams:
            raise ValueError("resume state does not match the optimizer/noise settings")
        shuffle_rng = np.random.default_rng()
        shuffle_rng.bit_generator.state = state.shuffle_state
    else:
        if params is None:
            p0 = init_params(spec, init_seed)
        else:
            if not isinstance(params, Params):
                raise TypeError(f"params must be a Params, got {type(params).__name__}")
            if params.spec.sizes != spec.sizes or params.spec.bias != spec.bias:
                raise ValueError(f"params must match the architecture {spec.sizes} (bias={spec.bias})")
            p0 = Params(spec, params.flat.astype(spec.np_dtype, copy=True))
        if mask is not None:
            mask.apply(p0)
        shuffle_rng = np.random.default_rng(shuffle_seed)
        perm = shuffle_rng.permutation(n).astype(np.int64)
        state = TrainState(
            params=p0,
            velocity=np.zeros(spec.n_params if optimizer.momentum > 0 else 0, dtype=spec.np_dtype),
            noise_states=init_states(cfg.n_noise_streams, noise_seed),
            shuffle_state=shuffle_rng.bit_generator.state,
            start_step=start_step, step=start_step, epoch=0, pos=0, perm=perm,
            avg_sum=np.zeros(spec.n_params if averaging > 0 else 0, dtype=np.float64), avg_count=0,
            tail_left=-1, status=None, history=[], elapsed=0.0,
        )
    start_step = state.start_step
    if state.tail_left > 0:  # resumed inside a post-convergence averaging tail: finish it
        budget = max(budget, state.step - start_step + state.tail_left)
    if averaging > 0 and state.tail_left < 0:
        # the window is the last m steps of *this* budget: iterates summed for another window are dropped
        avg_from = start_step + budget - averaging
        if state.avg_count > 0 and state.avg_from not in (None, avg_from):
            state.avg_sum[...] = 0.0
            state.avg_count = 0
        state.avg_from = avg_from
    snaps = [k for k in snaps if k >= state.step]
    snapshots: dict[int, Params] = {}

    ws = be.workspace(cfg)
    bufs = RunBuffers(
        params=be.to_device(state.params.flat),  # state owns this array (copied on entry)
        velocity=be.to_device(state.velocity),
        mask=be.to_device(mask.flat) if mask is not None else be.to_device(np.zeros(0, np.uint8)),
        noise_states=be.to_device(state.noise_states),
        avg_sum=be.to_device(state.avg_sum),
    )
    Xd, yd = be.to_device(Xtr), be.to_device(ytr)
    Xted = None if Xte is None else be.to_device(Xte)
    yted = None if yte is None else be.to_device(yte)

    run_loss = 0.0
    run_correct = 0
    run_seen = 0
    t_eval = 0.0
    status = None
    state.status = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget, initial=min(state.step - start_step, budget), unit="step", dynamic_ncols=True)

    def host_params() -> Params:
        return Params(spec, be.to_host(bufs.params))

    def do_eval(force_full: bool) -> dict:
        nonlocal run_loss, run_correct, run_seen, t_eval
        t0 = time.perf_counter()
        p_dev = bufs.params
        lr_now = float(optimizer.lrs(max(state.step - 1, 0), 1, spe)[0])
        entry = {"step": state.step, "epoch": state.epoch + state.pos / spe, "lr": lr_now}
        if eval_train == "full" or force_full or run_seen == 0:
            ls, c = be.evaluate(ws, spec, p_dev, Xd, yd)
            entry.update(train_loss=ls / n, train_acc=c / n, train_metric="full")
        else:
            entry.update(train_loss=run_loss / run_seen, train_acc=run_correct / run_seen, train_metric="running")
        if Xted is not None and Xted.shape[0] > 0:
            ls, c = be.evaluate(ws, spec, p_dev, Xted, yted)
            entry.update(test_loss=ls / Xted.shape[0], test_acc=c / Xted.shape[0])
        else:
            entry.update(test_loss=None, test_acc=None)
        entry["time"] = state.elapsed
        run_loss, run_correct, run_seen = 0.0, 0, 0
        t_eval += time.perf_counter() - t0
        state.history.append(entry)
        return entry

    with be.threads(threads):
        if state.step in snaps:
            snapshots[state.step] = host_params()
        while status is None:
            done_run = state.step - start_step
            if state.tail_left == 0:
                status = state.status_pending
                break
            if done_run >= budget:
                status = "completed"
                break
            in_epoch_left = spe - state.pos
            nxt = min(budget - done_run, in_epoch_left, eval_every - (done_run % eval_every))
            if state.tail_left > 0:
                nxt = min(nxt, state.tail_left)
            for k in snaps:
                if k > state.step:
                    nxt = min(nxt, k - state.step)
                    break
            if checkpoint_every is not None:
                nxt = min(nxt, checkpoint_every - (done_run % checkpoint_every))
            if bar is not None:
                nxt = min(nxt, max(1, spe // 20))
            B = batch_size
            if not drop_last and state.pos + nxt == spe and last_b != batch_size:
                if nxt > 1:  # full batches first, the partial one alone
                    nxt -= 1
                else:
                    B = last_b
            idx = state.perm[state.pos * batch_size: state.pos * batch_size + nxt * B] if B == batch_size else \
                state.perm[state.pos * batch_size: state.pos * batch_size + B]
            lrs = optimizer.lrs(state.step, nxt, spe)
            if state.tail_left > 0:
                flags = np.ones(nxt, dtype=np.uint8)
            elif averaging > 0:
                first = budget - averaging
                r = np.arange(done_run, done_run + nxt)
                flags = (r >= first).astype(np.uint8)
            else:
                flags = np.zeros(nxt, dtype=np.uint8)
            t0 = time.perf_counter()
            res = be.run_steps(ws, cfg, bufs, Xd, yd, idx, lrs, flags)
            state.elapsed += time.perf_counter() - t0
            state.step += res.n_done
            state.pos += res.n_done
            state.avg_count += int(flags[:res.n_done].sum())
            if state.tail_left > 0:
                state.tail_left -= res.n_done
            run_loss += res.loss_sum
            run_correct += res.correct
            run_seen += res.n_done * B
            if bar is not None:
                bar.update(res.n_done)
                bar.set_postfix(loss=f"{run_loss / max(run_seen, 1):.4g}", acc=f"{run_correct / max(run_seen, 1):.4f}",
                                steps_per_s=f"{(state.step - start_step) / max(state.elapsed, 1e-9):.1f}")
            if res.diverged:
                status = "diverged"
                entry = {"step": state.step, "epoch": state.epoch + state.pos / spe,
                         "lr": float(lrs[max(res.n_done - 1, 0)]),
                         "train_loss": float("nan") if run_seen == 0 else run_loss / run_seen,
                         "train_acc": run_correct / max(run_seen, 1), "train_metric": "running",
                         "test_loss": None, "test_acc": None, "time": state.elapsed}
                state.history.append(entry)
                break
            if state.pos >= spe:
                state.epoch += 1
                state.pos = 0
                state.perm = shuffle_rng.permutation(n).astype(np.int64)
                state.shuffle_state = shuffle_rng.bit_generator.state
            if state.step in snaps:
                snapshots[state.step] = host_params()
            done_run = state.step - start_step
            if done_run % eval_every == 0 or done_run >= budget:
                entry = do_eval(converge_rules and state.tail_left < 0)
                if not np.isfinite(entry["train_loss"]):  # parameters are checked by run_steps
                    status = "diverged"
                    break
                if callback is not None:
                    info = dict(entry)
                    info["params"] = Params(spec, bufs.params) if isinstance(bufs.params, np.ndarray) else host_params()
                    if callback(info):
                        status = "stopped"
                        break
                if state.tail_left < 0 and converge_rules:
                    hit = None
                    if stop.interpolation_loss is not None and entry["train_acc"] >= 1.0 and \
                            entry["train_loss"] < stop.interpolation_loss:
                        hit = "interpolated"
                    elif stop.target_train_acc is not None and entry["train_acc"] >= stop.target_train_acc:
                        hit = "target_reached"
                    if hit is not None:
                        if averaging > 0:
                            state.tail_left = averaging
                            state.status_pending = hit
                            budget = max(budget, done_run + averaging)
                            bufs.avg_sum[...] = 0
                            state.avg_count = 0
                        else:
                            status = hit
                            break
            if checkpoint_every is not None and done_run % checkpoint_every == 0:
                _sync_state(state, be, bufs, status)
                save_checkpoint(checkpoint_path, state, config)
        if not state.history or state.history[-1]["step"] != state.step:
            do_eval(converge_rules)
    if bar is not None:
        bar.close()
    state.status = status
    _sync_state(state, be, bufs, status)
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, state, config)
    averaged = None
    if averaging > 0 and state.avg_count > 0:
        averaged = Params(spec, (state.avg_sum / state.avg_count).astype(spec.np_dtype))
    total = time.perf_counter() - t_start
    return TrainResult(status=status, params=state.params.copy(), averaged=averaged, history=list(state.history),
                       snapshots=snapshots, state=state, steps=state.step, epochs=state.epoch,
                       timings={"train": state.elapsed, "eval": t_eval, "total": total,
                                "steps_per_s": (state.step - start_step) / max(state.elapsed, 1e-12)},
                       config=config)


def _sync_state(state: TrainState, be: Backend, bufs: RunBuffers, status) -> None:
    """Bring the device buffers into ``state`` (on the CPU the state and the buffers share memory)."""
    spec = state.params.spec
    state.params = Params(spec, be.host_view(bufs.params))
    state.velocity = be.host_view(bufs.velocity)
    state.noise_states = be.host_view(bufs.noise_states)
    state.avg_sum = be.host_view(bufs.avg_sum)
    state.status = status


def _copy_state(s: TrainState) -> TrainState:
    c = TrainState(params=s.params.copy(), velocity=s.velocity.copy(), noise_states=s.noise_states.copy(),
                   shuffle_state=json.loads(json.dumps(s.shuffle_state)), start_step=s.start_step, step=s.step,
                   epoch=s.epoch, pos=s.pos, perm=s.perm.copy(), avg_sum=s.avg_sum.copy(), avg_count=s.avg_count,
                   tail_left=s.tail_left, status=None, history=[dict(h) for h in s.history], elapsed=s.elapsed)
    c.avg_from = s.avg_from
    c.status_pending = s.status_pending
    return c


def _as_data(data: Any, spec: MLPSpec):
    from simulations.nn.data import Dataset, check_labels

    if isinstance(data, Dataset):
        parts = (data.X_train, data.y_train, data.X_test, data.y_test)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        parts = tuple(data) + ((None, None) if len(data) == 2 else ())
    else:
        raise TypeError("data must be a Dataset or a tuple (X_train, y_train[, X_test, y_test])")
    out = []
    for k, (X, y) in enumerate([(parts[0], parts[1]), (parts[2], parts[3])]):
        nm = "train" if k == 0 else "test"
        if X is None:
            if k == 0:
                raise ValueError("X_train must be given")
            out += [None, None]
            continue
        X = check_array(f"X_{nm}", X, ndim=2, min_size=1 if k == 0 else 0)
        if X.shape[1] != spec.sizes[0]:
            raise ValueError(f"X_{nm} must have {spec.sizes[0]} columns (spec.sizes[0]), got shape {X.shape}")
        if y is None:
            raise ValueError(f"y_{nm} must be given with X_{nm}")
        y = check_labels(f"y_{nm}", y, X.shape[0], spec.sizes[-1])
        out += [np.ascontiguousarray(X, dtype=spec.np_dtype), y]
    return tuple(out)


def _eval_setup(params: Params, X, batch_size, backend):
    if not isinstance(params, Params):
        raise TypeError(f"params must be a Params, got {type(params).__name__}")
    spec = params.spec
    batch_size = check_int("batch_size", batch_size, 1)
    be = get_backend(backend)
    X = check_array("X", X, ndim=2)
    if X.shape[1] != spec.sizes[0]:
        raise ValueError(f"X must have {spec.sizes[0]} columns (spec.sizes[0]), got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=spec.np_dtype)
    ws = be.workspace(StepConfig(spec, 1), eval_batch_size=batch_size)
    return spec, be, X, ws


def evaluate(params: Params, X: Any, y: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
             threads: int | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``params`` on (X, y), with the spec's loss."""
    from simulations.nn.data import check_labels

    spec, be, X, ws = _eval_setup(params, X, batch_size, backend)
    y = check_labels("y", y, X.shape[0], spec.sizes[-1])
    if X.shape[0] == 0:
        raise ValueError("X must have at least one row")
    with be.threads(threads or default_threads()):
        ls, c = be.evaluate(ws, spec, be.to_device(params.flat), be.to_device(X), be.to_device(y))
    return ls / X.shape[0], c / X.shape[0]


def predict(params: Params, X: Any, *, batch_size: int = 1024, backend: str | Backend = "cpu",
            threads: int | None = None) -> np.ndarray:
    """Logits (n, K) of ``params`` on X."""
    spec, be, X, ws = _eval_setup(params, X, batch_size, backend)
    with be.threads(threads or default_threads()):
        return be.forward(ws, spec, be.to_device(params.flat), be.to_device(X))


def _ckpt_paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    base = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def save_checkpoint(path: str | Path, state: TrainState, config: dict | None = None) -> Path:
    """Write ``<path>.npz`` (arrays) and ``<path>.json`` (spec, counters, RNG state, history, config).

    Files are written to temporaries and renamed, so an interrupted save leaves the old checkpoint.
    Returns the .json path.
    """
    npz, js = _ckpt_paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp_npz = npz.with_name(npz.name + ".tmp.npz")
    np.savez(tmp_npz, params=state.params.flat, velocity=state.velocity, noise_states=state.noise_states,
             perm=state.perm, avg_sum=state.avg_sum)
    meta = {
        "format": "tailcomp.nn.checkpoint/1",
        "spec": state.params.spec.to_dict(),
        "shuffle_state": state.shuffle_state,
        "start_step": state.start_step, "step": state.step, "epoch": state.epoch, "pos": state.pos,
        "avg_count": state.avg_count, "tail_left": state.tail_left, "avg_from": state.avg_from,
        "status_pending": state.status_pending,
        "status": state.status, "history": state.history, "elapsed": state.elapsed,
        "config": config or {},
    }
    tmp_js = js.with_name(js.name + ".tmp")
    tmp_js.write_text(json.dumps(meta, default=_json_default))
    tmp_npz.replace(npz)
    tmp_js.replace(js)
    return js


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_checkpoint(path: str | Path) -> tuple[TrainState, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: (state, config)."""
    npz, js = _ckpt_paths(path)
    for f in (npz, js):
        if not f.is_file():
            raise FileNotFoundError(f"checkpoint file {f} not found")
    meta = json.loads(js.read_text())
    if meta.get("format") != "tailcomp.nn.checkpoint/1":
        raise ValueError(f"{js} is not a tailcomp checkpoint (format {meta.get('format')!r})")
    spec = MLPSpec.from_dict(meta["spec"])
    with np.load(npz) as z:
        arrs = {k: z[k] for k in z.files}
    state = TrainState(
        params=Params(spec, np.ascontiguousarray(arrs["params"])), velocity=arrs["velocity"],
        noise_states=np.ascontiguousarray(arrs["noise_states"], dtype=np.uint64).reshape(-1, 2),
        shuffle_state=meta["shuffle_state"], start_step=meta["start_step"], step=meta["step"], epoch=meta["epoch"],
        pos=meta["pos"], perm=arrs["perm"].astype(np.int64), avg_sum=arrs["avg_sum"], avg_count=meta["avg_count"],
        tail_left=meta["tail_left"], status=meta["status"], history=meta["history"], elapsed=meta["elapsed"],
    )
    if meta.get("avg_from") is not None:
        state.avg_from = meta["avg_from"]
    if meta.get("status_pending"):
        state.status_pending = meta["status_pending"]
    return state, meta.get("config", {})
