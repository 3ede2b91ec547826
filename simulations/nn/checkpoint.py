"""The resume state of a training run and its checkpoint files.

:class:`TrainState` holds everything :func:`simulations.nn.train.train` needs to continue a
run bit for bit: parameters θ, the momentum buffer v, the noise streams (xoroshiro128+ states),
the state of the shuffling generator (PCG64), the current epoch's permutation and position,
the averaging sum and count, the history. :func:`save_checkpoint` writes it as ``<path>.npz``
(arrays) + ``<path>.json`` (everything else, with the run's config); :func:`load_checkpoint`
reads it back. Writes go to temporaries that are then renamed, so an interrupted save leaves
the previous checkpoint intact.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulations.nn.model import MLPSpec, Params

__all__ = ["TrainState", "copy_state", "save_checkpoint", "load_checkpoint", "FORMAT"]

#: the format tag written into every checkpoint's .json
FORMAT = "tailcomp.nn.checkpoint/1"


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


def copy_state(s: TrainState) -> TrainState:
    """A deep copy of ``s`` (its status cleared), so that resuming never changes the original."""
    c = TrainState(params=s.params.copy(), velocity=s.velocity.copy(), noise_states=s.noise_states.copy(),
                   shuffle_state=json.loads(json.dumps(s.shuffle_state)), start_step=s.start_step, step=s.step,
                   epoch=s.epoch, pos=s.pos, perm=s.perm.copy(), avg_sum=s.avg_sum.copy(), avg_count=s.avg_count,
                   tail_left=s.tail_left, status=None, history=[dict(h) for h in s.history], elapsed=s.elapsed)
    c.avg_from = s.avg_from
    c.status_pending = s.status_pending
    return c



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
        "format": FORMAT,
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
    if meta.get("format") != FORMAT:
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
