"""The resume state of a training run and its checkpoint file.

:class:`TrainState` holds everything :func:`simulations.nn.train.train` needs to continue a
run bit for bit: parameters θ, the momentum buffer v, the noise streams (xoroshiro128+ states),
the state of the shuffling generator (PCG64), the current epoch's permutation and position,
the averaging sum and count, the history.

One checkpoint is one file, ``<path>.npz`` (a ``.npz`` or ``.json`` suffix of ``path`` is
replaced): the arrays ``params``, ``velocity``, ``noise_states``, ``perm``, ``avg_sum``, ``buffers`` (BatchNorm running statistics), the JSON
metadata (spec, counters, RNG state, history, the run's config, format name and version) as the
byte array ``meta``, and ``sha256``, the SHA-256 of all of them (names, dtypes, shapes, bytes).

:func:`save_checkpoint` checks the state, writes the file to ``<file>.tmp`` in the same folder,
fsyncs it and commits it with one :func:`os.replace` (then fsyncs the folder): a crash at any
point leaves either the previous checkpoint or the new one, never a mix. A failed save removes
its temporary; a killed process leaves at most that one ``.tmp`` file, which the next save of the
same path overwrites. One writer per path.

:func:`load_checkpoint` verifies everything before it returns: the file is readable, a valid zip
holding exactly the expected arrays, the checksum matches, format and version are this reader's,
shapes and dtypes agree with the spec, ``perm`` is a permutation of ``range(n)``, the RNG states
are well formed and the counters consistent. Every failure is a :class:`CheckpointError` (a
``ValueError``; a missing file is also a ``FileNotFoundError``) whose message names the file and
what failed. Format version 2 is read; the version-1 pair ``<path>.npz`` + ``<path>.json`` is not
(it is refused with a clear error; save the run again).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulations.nn.model import MLPSpec, Params

__all__ = ["TrainState", "copy_state", "save_checkpoint", "load_checkpoint", "checkpoint_file", "CheckpointError",
           "CheckpointNotFoundError", "FORMAT", "VERSION", "NAME_MAX"]

#: the format name and version written into every checkpoint's metadata
FORMAT = "tailcomp.nn.checkpoint"
VERSION = 2
#: longest component (file or folder name) of a checkpoint path, in bytes: the common file-system limit
NAME_MAX = 255

_ARRAYS = ("params", "velocity", "noise_states", "perm", "avg_sum")
_KEYS = frozenset(_ARRAYS + ("meta", "sha256"))
#: arrays a checkpoint may hold in addition: the BatchNorm running statistics of a ModelSpec network
#: (absent from checkpoints of fully connected networks written before they existed: read as empty)
_OPTIONAL = frozenset(("buffers",))
_INT_FIELDS = {"start_step": 0, "step": 0, "epoch": 0, "pos": 0, "avg_count": 0, "tail_left": -1}
_META = frozenset(("format", "version", "spec", "shuffle_state", "avg_from", "status", "status_pending", "history",
                   "elapsed", "config")) | frozenset(_INT_FIELDS)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be written or read back; the message names the file."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""


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


def checkpoint_file(path: str | Path) -> Path:
    """The file of the checkpoint ``path``: ``<path>.npz`` (a ``.npz`` / ``.json`` suffix is replaced).

    ``path``: a str or ``os.PathLike`` naming a file (not ``""``, ``"."`` or a folder ending in ``..``),
    each component at most :data:`NAME_MAX` bytes once ``.npz`` is appended.
    """
    return _checkpoint_file("path", path)


def _checkpoint_file(pname: str, path: Any) -> Path:
    """:func:`checkpoint_file` with the parameter name ``pname`` in its error messages."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{pname} must be a path (str or os.PathLike), got {type(path).__name__}")
    p = Path(path)
    if p.name in ("", ".", ".."):
        raise ValueError(f"{pname} must name a checkpoint file, got {str(path)!r}")
    base = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    f = base.with_name(base.name + ".npz")
    for part in f.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ValueError(f"{pname} has a component of {len(os.fsencode(part))} bytes (with .npz); at most "
                             f"NAME_MAX = {NAME_MAX} bytes are allowed by the file systems: {str(path)[:80]!r}...")
    return f


# ---- writing --------------------------------------------------------------------------------------------
def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _digest(arrays: dict) -> np.ndarray:
    """SHA-256 of every array but ``sha256`` (name, dtype, shape and bytes), as 32 uint8."""
    h = hashlib.sha256(f"{FORMAT}/{VERSION}\n".encode())
    for k in sorted(k for k in arrays if k != "sha256"):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def _pack(arrays: dict, meta: dict) -> bytes:
    """The bytes of one checkpoint file: ``arrays`` + ``meta`` (JSON bytes) + their SHA-256."""
    out = dict(arrays)
    out["meta"] = np.frombuffer(json.dumps(meta, default=_json_default).encode(), dtype=np.uint8)
    out["sha256"] = _digest(out)
    buf = io.BytesIO()
    np.savez(buf, **out)
    return buf.getvalue()


def _to_raw(state: TrainState, config: dict | None) -> tuple[dict, dict]:
    arrays = {"params": state.params.flat, "velocity": state.velocity, "noise_states": state.noise_states,
              "perm": state.perm, "avg_sum": state.avg_sum, "buffers": state.params.buffers}
    meta = {"format": FORMAT, "version": VERSION, "spec": state.params.spec.to_dict(),
            "shuffle_state": state.shuffle_state, "avg_from": state.avg_from, "status": state.status,
            "status_pending": state.status_pending, "history": state.history, "elapsed": state.elapsed,
            "config": {} if config is None else config}
    for k in _INT_FIELDS:
        meta[k] = getattr(state, k)
    # what is checked is exactly what is written (JSON round trip: numpy scalars → Python numbers)
    return {k: np.asarray(v) for k, v in arrays.items()}, json.loads(json.dumps(meta, default=_json_default))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; filesystems that cannot fsync a folder are accepted."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


def save_checkpoint(path: str | Path, state: TrainState, config: dict | None = None) -> Path:
    """Write ``state`` (and the run's ``config``) as the one file ``<path>.npz``; returns its path.

    The state is checked as :func:`load_checkpoint` would check it (a state that could not be read
    back raises :class:`CheckpointError` and writes nothing). The file is written to ``<file>.tmp``,
    fsynced and committed by one ``os.replace``; on any failure the temporary is removed and the
    previous checkpoint, if any, is left as it was.
    """
    final = checkpoint_file(path)
    arrays, meta = _to_raw(state, config)
    _verify(final, arrays, meta)
    blob = _pack(arrays, meta)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    committed = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        committed = True
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_dir(final.parent)
    return final


# ---- reading and verifying ------------------------------------------------------------------------------
def _read_arrays(f: Path) -> dict:
    if not f.exists():
        raise CheckpointNotFoundError(f"checkpoint file {f} not found")
    if not f.is_file():
        raise CheckpointError(f"checkpoint {f}: not a regular file")
    try:
        data = f.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"checkpoint {f}: cannot be read ({exc.strerror or exc})") from exc
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CheckpointError(f"checkpoint {f}: not a valid .npz (zip) file (truncated or not a checkpoint)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            names = set(z.files)
            missing = sorted(_KEYS - names)
            if missing:
                old = " (a version-1 checkpoint, which this version cannot read)" if "meta" in missing else ""
                raise CheckpointError(f"checkpoint {f}: missing arrays {missing}{old}")
            extra = sorted(names - _KEYS - _OPTIONAL)
            if extra:
                raise CheckpointError(f"checkpoint {f}: unexpected arrays {extra}")
            return {k: z[k] for k in sorted(names)}
    except CheckpointError:
        raise
    except Exception as exc:  # any failure to decode the zip members means a damaged file
        raise CheckpointError(f"checkpoint {f}: damaged .npz file ({type(exc).__name__}: {exc})") from exc


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_shuffle_state(err, s) -> None:
    if not isinstance(s, dict) or s.get("bit_generator") != "PCG64" or not isinstance(s.get("state"), dict):
        err("shuffle_state is not a PCG64 generator state")
    inner = s["state"]
    st, inc = inner.get("state"), inner.get("inc")
    if not (_int(st) and 0 <= st < 2**128 and _int(inc) and 0 < inc < 2**128 and inc % 2 == 1):
        err("shuffle_state.state must hold integers state in [0, 2**128) and odd inc in (0, 2**128)")
    if s.get("has_uint32") not in (0, 1) or not (_int(s.get("uinteger")) and 0 <= s["uinteger"] < 2**32):
        err("shuffle_state must hold has_uint32 in {0, 1} and uinteger in [0, 2**32)")
    try:
        np.random.PCG64().state = s
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        err(f"shuffle_state is rejected by PCG64 ({exc})")


def _check_array(err, arrays, name, dtype, shapes) -> np.ndarray:
    a = arrays[name]
    if a.dtype != np.dtype(dtype):
        err(f"{name} must have dtype {np.dtype(dtype)}, got {a.dtype}")
    if a.shape not in shapes:
        err(f"{name} must have shape {' or '.join(map(str, shapes))}, got {a.shape}")
    return a


def _spec_from_dict(d: Any) -> Any:
    """The MLPSpec or (a dict with ``layers``) ModelSpec written by ``spec.to_dict()``."""
    if isinstance(d, dict) and "layers" in d:
        from simulations.nn.model_spec import ModelSpec

        return ModelSpec.from_dict(d)
    return MLPSpec.from_dict(d)


def _verify(f: Path, arrays: dict, meta) -> Any:
    """Check arrays + metadata of a checkpoint; returns its spec or raises one CheckpointError."""
    def err(what: str):
        raise CheckpointError(f"checkpoint {f}: {what}")

    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        err(f"not a tailcomp checkpoint (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
    if meta.get("version") != VERSION:
        err(f"format version {meta.get('version')!r}; this reader reads version {VERSION} only")
    missing = sorted(_META - set(meta))
    if missing:
        err(f"metadata lacks {missing}")
    try:
        spec = _spec_from_dict(meta["spec"])
    except (TypeError, ValueError, KeyError) as exc:
        err(f"invalid spec ({exc})")
    P = spec.n_params
    _check_array(err, arrays, "params", spec.np_dtype, [(P,)])
    _check_array(err, arrays, "velocity", spec.np_dtype, [(P,), (0,)])
    _check_array(err, arrays, "avg_sum", np.float64, [(P,), (0,)])
    n_buf = getattr(spec, "n_buffers", 0)
    if "buffers" in arrays or n_buf:
        if "buffers" not in arrays:
            err("missing arrays ['buffers'] (the BatchNorm running statistics of the network)")
        _check_array(err, arrays, "buffers", spec.np_dtype, [(n_buf,)])
    ns = arrays["noise_states"]
    if ns.dtype != np.uint64 or ns.ndim != 2 or ns.shape[1] != 2:
        err(f"noise_states must be a uint64 array of shape (S, 2), got {ns.dtype} {ns.shape}")
    if ns.size and np.any((ns[:, 0] == 0) & (ns[:, 1] == 0)):
        err("noise_states has an all-zero xoroshiro128+ state (such a stream only yields zeros)")
    perm = arrays["perm"]
    if perm.dtype != np.int64 or perm.ndim != 1 or perm.size == 0:
        err(f"perm must be a non-empty 1-d int64 array, got {perm.dtype} {perm.shape}")
    if not np.array_equal(np.sort(perm), np.arange(perm.shape[0])):
        err(f"perm is not a permutation of range({perm.shape[0]})")
    for k, low in _INT_FIELDS.items():
        if not _int(meta[k]) or meta[k] < low:
            err(f"{k} must be an integer >= {low}, got {meta[k]!r}")
    if meta["step"] < meta["start_step"]:
        err(f"step {meta['step']} is before start_step {meta['start_step']}")
    if meta["pos"] > perm.shape[0]:
        err(f"pos {meta['pos']} exceeds the {perm.shape[0]} samples of an epoch")
    if meta["avg_from"] is not None and not _int(meta["avg_from"]):
        err(f"avg_from must be an integer or null, got {meta['avg_from']!r}")
    if meta["avg_count"] > 0 and arrays["avg_sum"].shape[0] == 0:
        err(f"avg_count is {meta['avg_count']} but avg_sum is empty")
    for k in ("status", "status_pending"):
        if meta[k] is not None and not isinstance(meta[k], str):
            err(f"{k} must be a string or null, got {meta[k]!r}")
    el = meta["elapsed"]
    if isinstance(el, bool) or not isinstance(el, (int, float)) or not math.isfinite(el) or el < 0:
        err(f"elapsed must be a finite number >= 0, got {el!r}")
    if not isinstance(meta["history"], list) or not all(isinstance(h, dict) for h in meta["history"]):
        err("history must be a list of objects")
    if not isinstance(meta["config"], dict):
        err("config must be an object")
    _check_shuffle_state(err, meta["shuffle_state"])
    return spec


def load_checkpoint(path: str | Path) -> tuple[TrainState, dict]:
    """Read and verify the checkpoint ``path`` written by :func:`save_checkpoint`: (state, config).

    Raises :class:`CheckpointError` (a ``ValueError``) naming the file and the failed check.
    """
    f = checkpoint_file(path)
    arrays = _read_arrays(f)
    sha = arrays["sha256"]
    if sha.dtype != np.uint8 or sha.shape != (32,):
        raise CheckpointError(f"checkpoint {f}: sha256 must be 32 bytes (uint8), got {sha.dtype} {sha.shape}")
    if not np.array_equal(sha, _digest(arrays)):
        raise CheckpointError(f"checkpoint {f}: SHA-256 checksum mismatch (the file is damaged)")
    mb = arrays["meta"]
    if mb.dtype != np.uint8 or mb.ndim != 1:
        raise CheckpointError(f"checkpoint {f}: meta must be a 1-d uint8 byte array, got {mb.dtype} {mb.shape}")
    try:
        meta = json.loads(mb.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {f}: metadata is not valid JSON ({exc})") from exc
    spec = _verify(f, arrays, meta)
    state = TrainState(
        params=Params(spec, np.ascontiguousarray(arrays["params"]),
                      np.ascontiguousarray(arrays["buffers"]) if "buffers" in arrays else None),
        velocity=np.ascontiguousarray(arrays["velocity"]),
        noise_states=np.ascontiguousarray(arrays["noise_states"]),
        shuffle_state=meta["shuffle_state"], start_step=meta["start_step"], step=meta["step"], epoch=meta["epoch"],
        pos=meta["pos"], perm=np.ascontiguousarray(arrays["perm"]), avg_sum=np.ascontiguousarray(arrays["avg_sum"]),
        avg_count=meta["avg_count"], tail_left=meta["tail_left"], status=meta["status"], history=meta["history"],
        elapsed=float(meta["elapsed"]), avg_from=meta["avg_from"], status_pending=meta["status_pending"],
    )
    return state, meta["config"]
