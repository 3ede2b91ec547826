"""Sweeps: typed experiment configurations, a durable SQLite results store, parallel execution.

An **experiment** is a function ``run(config, seed) -> dict`` registered under a name
together with a **configuration dataclass** that declares every parameter, its type,
default and valid range::

    from dataclasses import dataclass
    from simulations.sweep.core import experiment, param, Diverged

    @dataclass(frozen=True)
    class LinearTailConfig:
        eta: float = param(0.1, low=0.0, low_open=True, help="step size")
        batch: int = param(1, low=1, help="batch size b")
        loss: str = param("mse", choices=("mse", "hinge"))

    @experiment("linear_tail", config=LinearTailConfig)
    def run(config: LinearTailConfig, seed: int) -> dict:
        ...
        return {"status": "done",              # or "diverged"
                "metrics": {"alpha_hat": 1.7},  # JSON scalars / lists
                "history": [{"step": 100, "loss": 0.3}, ...]}

A run is identified by the **content hash** of ``(experiment name, experiment
version, full configuration with defaults filled in, seed)``: canonical JSON (sorted
keys, no whitespace, floats in shortest round-trip form) hashed with SHA-256.  The
hash is the primary key of the run in the store, so the same configuration and seed
is never computed twice, whichever sweep asks for it.

A **sweep** is a list of configurations (often a grid) times a list of seeds.  It is
written in Python (:func:`expand_grid`, :func:`run_sweep`) or in a YAML/TOML file
(:func:`load_sweep`, ``tailcomp sweep FILE --store PATH``)::

    experiment: toy
    seeds: 4                       # or a list: [0, 1, 2, 3]
    base: {steps: 200}             # fixed values (merged under every grid point)
    grid:                          # dict of lists -> Cartesian product (or a list of such dicts)
      eta: [0.05, 0.1, 0.2]
      alpha: [1.5, 2.0]

**Results store** (:class:`ResultsStore`): one SQLite file, one row per run with its
configuration (JSON), seed, status (``pending``/``running``/``done``/``diverged``/
``failed`` + error text), metrics (JSON), history (JSON list of per-evaluation
records), timings, the worker that ran it and the package versions it ran with.  The
database is in WAL mode; only the submitting process writes, and each finished run is
committed in its own transaction and fsynced (``synchronous=FULL`` for that commit), so
killing the sweep at any moment (SIGKILL included, even a power loss) loses nothing that
finished.  The change to ``running`` is committed without fsync (``synchronous=NORMAL``:
durable when the process is killed; after a power loss such a run is simply rerun).  Running the same sweep again
skips runs that are ``done`` or ``diverged``, and reruns those left ``pending`` or
``running`` (killed mid-way) and, unless ``retry_failed=False``, those that ``failed``.

**Execution**: a pool of local processes (``spawn`` start method, one thread each:
``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``
are set to 1 in the workers' environment before they import anything) by default;
``workers=0`` runs in the calling process (debugging); ``scheduler="tcp://HOST:PORT"``
(or a ``dask.distributed.Client`` / ``LocalCluster``) sends the runs to a Dask
cluster while the store stays on the submitting machine.  Workers must be able to
import the module that defines the experiment (``pip install -e .`` on the nodes).

**Where experiments live**: one module per topic in :mod:`simulations.experiments`
(``simulations/experiments/<topic>.py``).  Modules there are discovered
automatically (no list to edit): :func:`get_experiment` first imports
``simulations.experiments.<prefix>`` where ``<prefix>`` is the part of the name before
the first ``.`` or ``_`` and, if the name is still unknown, every module of the package.
Experiments defined elsewhere are found as long as their module has been imported
(the workers import the defining module by name).

Source of the design: OpenLTH (an experiment = hyperparameters in, deterministic
output out; the hash of the hyperparameters names the output), SQLite's WAL
documentation for the durability argument (https://www.sqlite.org/wal.html).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import numbers
import os
import re
import socket
import sqlite3
import sys
import time
import traceback
import types
import typing
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulations._core.validation import check_choice, check_int, check_real

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "Diverged",
    "SchemaError",
    "StoreLockedError",
    "Experiment",
    "experiment",
    "param",
    "get_experiment",
    "list_experiments",
    "make_config",
    "config_to_dict",
    "canonical_json",
    "run_hash",
    "RunSpec",
    "expand_grid",
    "Sweep",
    "load_sweep",
    "run_sweep",
    "SweepSummary",
    "ResultsStore",
    "plot_metric",
]

#: Version of the SQLite layout written by this module.  A store with a larger
#: version is refused (:class:`SchemaError`); smaller versions are migrated.
SCHEMA_VERSION = 1

#: Every status a run can have in the store.
STATUSES = ("pending", "running", "done", "diverged", "failed")
FINISHED = ("done", "diverged")

#: Environment variables set to "1" in every worker process (one thread per worker).
THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_MAX_SEED = 2**63 - 1
_MAX_ERROR_CHARS = 20_000


class Diverged(Exception):
    """Raise from an experiment to report divergence (NaN/overflow) as a status.

    The run is stored with status ``diverged``, the message as its error text and the
    given metrics/history (e.g. the step at which it diverged).  Returning
    ``{"status": "diverged", ...}`` is equivalent.
    """

    def __init__(self, message: str = "diverged", *, metrics: Mapping | None = None, history: Sequence | None = None):
        super().__init__(message)
        self.metrics = dict(metrics or {})
        self.history = list(history or [])


class SchemaError(RuntimeError):
    """The results store was written by a newer tailcomp, or is not a tailcomp store."""


class StoreLockedError(RuntimeError):
    """Another sweep is currently writing to the same results store."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``func(config, seed) -> dict`` with its config class.

    ``version`` is part of every run hash: bump it when the meaning of the results
    changes without a change of configuration (a bug fix), so old rows are not reused.
    """

    name: str
    config: type
    func: Callable[[Any, int], Mapping]
    version: int = 1
    description: str = ""

    @property
    def module(self) -> str:
        """Module that defines the function (imported by workers before they look the name up)."""
        return self.func.__module__


_REGISTRY: dict[str, Experiment] = {}
_DISCOVERED: set[str] = set()
_IMPORT_ERRORS: dict[str, str] = {}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def experiment(name: str, *, config: type, version: int = 1, description: str | None = None):
    """Decorator registering ``func(config, seed) -> dict`` as experiment ``name``.

    ``config`` must be a dataclass whose fields all have defaults (use :func:`param` to
    declare ranges and choices).  The function must be deterministic given
    ``(config, seed)`` and return a mapping ``{"status": "done"|"diverged",
    "metrics": {...}, "history": [...]}`` of JSON-serialisable values (numpy scalars
    and arrays are converted); ``status`` defaults to ``"done"`` and ``history`` to ``[]``.
    Raising :class:`Diverged` stores a diverged run; any other exception stores a
    ``failed`` run with the traceback, and the sweep goes on.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"experiment name must match {_NAME_RE.pattern}, got {name!r}")
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        raise TypeError(f"config must be a dataclass type, got {config!r}")
    version = check_int("version", version, 1)
    _field_specs(config)  # resolve annotations now: a bad config class fails at import

    def decorate(func):
        if not callable(func):
            raise TypeError(f"experiment {name!r}: expected a function, got {func!r}")
        old = _REGISTRY.get(name)
        if old is not None and (old.func.__module__, old.func.__qualname__) != (func.__module__, func.__qualname__):
            same_file = getattr(sys.modules.get(old.func.__module__), "__file__", None) == getattr(
                sys.modules.get(func.__module__), "__file__", 0
            )
            if not same_file or old.func.__qualname__ != func.__qualname__:
                raise ValueError(
                    f"experiment {name!r} is already registered by {old.func.__module__}.{old.func.__qualname__}"
                )
        desc = description if description is not None else (func.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = Experiment(name=name, config=config, func=func, version=version, description=desc)
        return func

    return decorate


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence | None = None,
    help: str = "",
):
    """A dataclass field with validation metadata (range ``[low, high]`` or ``choices``).

    Types come from the field annotation: ``int``, ``float``, ``bool``, ``str``,
    ``X | None``, ``tuple[int, ...]``/``list[float]`` (homogeneous sequences).  Ranges
    apply to numbers (and to every element of a numeric sequence).
    """
    meta = {
        "tailcomp": {
            "low": low,
            "high": high,
            "low_open": bool(low_open),
            "high_open": bool(high_open),
            "choices": tuple(choices) if choices is not None else None,
            "help": help,
        }
    }
    if isinstance(default, (list, dict, set)):
        frozen = json.loads(json.dumps(default))
        return field(default_factory=lambda: json.loads(json.dumps(frozen)), metadata=meta)
    return field(default=default, metadata=meta)


def _discover(prefix: str | None = None) -> None:
    """Import modules of :mod:`simulations.experiments` (only ``prefix`` if given)."""
    import importlib
    import pkgutil

    import simulations.experiments as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        mod = info.name
        if mod.startswith("_") or mod in _DISCOVERED or (prefix is not None and mod != prefix):
            continue
        _DISCOVERED.add(mod)
        try:
            importlib.import_module(f"simulations.experiments.{mod}")
        except Exception as exc:  # one broken module must not hide the others' experiments
            _IMPORT_ERRORS[mod] = f"{type(exc).__name__}: {exc}"


def get_experiment(name: str) -> Experiment:
    """The experiment registered as ``name``, importing :mod:`simulations.experiments` modules as needed.

    Raises ``ValueError`` listing the known names (and any experiment module that failed
    to import) when ``name`` is unknown.
    """
    if isinstance(name, Experiment):
        return name
    if not isinstance(name, str):
        raise TypeError(f"experiment must be a name (str), got {type(name).__name__}")
    if name not in _REGISTRY:
        _discover(re.split(r"[._]", name, maxsplit=1)[0])
    if name not in _REGISTRY:
        _discover()
    if name not in _REGISTRY:
        msg = f"unknown experiment {name!r}; known experiments: {sorted(_REGISTRY)}"
        if _IMPORT_ERRORS:
            msg += f"; modules of simulations.experiments that failed to import: {_IMPORT_ERRORS}"
        raise ValueError(msg)
    return _REGISTRY[name]


def list_experiments() -> list[str]:
    """Names of all experiments (after importing every module of :mod:`simulations.experiments`)."""
    _discover()
    return sorted(_REGISTRY)


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    kind: str  # int | float | bool | str | seq | any
    optional: bool
    elem: str | None  # element kind for seq
    seq_type: type | None  # tuple or list
    seq_len: int | None  # fixed length for tuple[X, Y]
    low: float | None
    high: float | None
    low_open: bool
    high_open: bool
    choices: tuple | None
    required: bool


_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str"}
_SPEC_CACHE: dict[type, dict[str, _FieldSpec]] = {}


def _kind_of(tp, where: str) -> tuple[str, bool, str | None, type | None, int | None, tuple | None]:
    """(kind, optional, elem kind, seq type, seq length, literal choices) of an annotation."""
    optional = False
    origin = typing.get_origin(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) != 1:
            raise TypeError(f"{where}: unsupported union annotation {tp!r} (use X or X | None)")
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin is typing.Literal:
        lits = typing.get_args(tp)
        kinds = {_SIMPLE.get(type(v), "any") for v in lits}
        return (kinds.pop() if len(kinds) == 1 else "any"), optional, None, None, None, tuple(lits)
    if tp in _SIMPLE:
        return _SIMPLE[tp], optional, None, None, None, None
    if origin in (tuple, list) or tp in (tuple, list):
        seq_type = origin or tp
        args = typing.get_args(tp)
        seq_len = None
        if seq_type is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(set(args)) != 1:
                raise TypeError(f"{where}: heterogeneous tuple annotations are not supported ({tp!r})")
            seq_len = len(args)
        elem_tp = args[0] if args else Any
        elem = _SIMPLE.get(elem_tp, "any")
        return "seq", optional, elem, seq_type, seq_len, None
    if tp is Any:
        return "any", optional, None, None, None, None
    raise TypeError(f"{where}: unsupported annotation {tp!r} (use int, float, bool, str, tuple/list of them, Literal, X | None)")


def _field_specs(cls: type) -> dict[str, _FieldSpec]:
    if cls in _SPEC_CACHE:
        return _SPEC_CACHE[cls]
    hints = typing.get_type_hints(cls)
    specs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kind, optional, elem, seq_type, seq_len, lit = _kind_of(hints.get(f.name, Any), f"{cls.__name__}.{f.name}")
        m = dict(f.metadata.get("tailcomp", {}))
        choices = m.get("choices") or lit
        specs[f.name] = _FieldSpec(
            name=f.name,
            kind=kind,
            optional=optional,
            elem=elem,
            seq_type=seq_type,
            seq_len=seq_len,
            low=m.get("low"),
            high=m.get("high"),
            low_open=m.get("low_open", False),
            high_open=m.get("high_open", False),
            choices=tuple(choices) if choices is not None else None,
            required=f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
    _SPEC_CACHE[cls] = specs
    return specs


def _check_scalar(name: str, kind: str, value: Any, spec: _FieldSpec) -> Any:
    if kind == "bool":
        if not isinstance(value, bool) and type(value).__name__ != "bool_":
            raise TypeError(f"{name} must be a bool (true/false), got {value!r}")
        return bool(value)
    if kind == "int":
        return check_int(name, value, None if spec.low is None else math.ceil(spec.low + (1e-12 if spec.low_open else 0)),
                         None if spec.high is None else math.floor(spec.high - (1e-12 if spec.high_open else 0)))
    if kind == "float":
        return check_real(name, value, spec.low, spec.high, low_open=spec.low_open, high_open=spec.high_open)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r}")
        return value
    return _jsonable(value)


def _check_field(spec: _FieldSpec, value: Any) -> Any:
    name = spec.name
    if value is None:
        if spec.optional:
            return None
        raise TypeError(f"{name} must not be None")
    if spec.kind == "seq":
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, tuple, list)) and not hasattr(value, "tolist"):
            raise TypeError(f"{name} must be a list, got {value!r}")
        items = list(value.tolist() if hasattr(value, "tolist") else value)
        if spec.seq_len is not None and len(items) != spec.seq_len:
            raise ValueError(f"{name} must have {spec.seq_len} entries, got {len(items)}")
        out = [_check_scalar(f"{name}[{i}]", spec.elem or "any", v, spec) for i, v in enumerate(items)]
        value = spec.seq_type(out)
    else:
        value = _check_scalar(name, spec.kind, value, spec)
    if spec.choices is not None:
        check_choice(name, value, spec.choices)
    return value


def make_config(experiment: str | Experiment, values: Mapping | None = None, **overrides):
    """Validated config instance for ``experiment`` from a mapping (plus keyword overrides).

    Unknown keys ⇒ ``ValueError`` naming the key (with the valid keys); a wrong type ⇒
    ``TypeError`` naming the key; a value out of range ⇒ ``ValueError`` naming the key
    and its range.  Floats accept integers (``1`` and ``1.0`` give the same hash).
    A config instance of the right class is returned re-validated.
    """
    exp = get_experiment(experiment)
    cls = exp.config
    if values is None:
        values = {}
    elif isinstance(values, cls):
        values = {f.name: getattr(values, f.name) for f in dataclasses.fields(cls) if f.init}
    elif dataclasses.is_dataclass(values) and not isinstance(values, type):
        raise TypeError(f"config for experiment {exp.name!r} must be a {cls.__name__} or a mapping, got {type(values).__name__}")
    elif not isinstance(values, Mapping):
        raise TypeError(f"config for experiment {exp.name!r} must be a mapping, got {type(values).__name__}")
    values = {**values, **overrides}
    specs = _field_specs(cls)
    for key in values:
        if not isinstance(key, str):
            raise TypeError(f"{exp.name}: configuration keys must be strings, got {key!r}")
        if key not in specs:
            import difflib

            close = difflib.get_close_matches(key, list(specs), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{exp.name}: unknown configuration key {key!r}{hint}; valid keys: {sorted(specs)}")
    missing = [k for k, s in specs.items() if s.required and k not in values]
    if missing:
        raise ValueError(f"{exp.name}: missing required configuration key(s) {missing}")
    checked = {}
    for key, val in values.items():
        try:
            checked[key] = _check_field(specs[key], val)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{exp.name}: configuration key {key!r}: {exc}") from None
    try:
        return cls(**checked)
    except (TypeError, ValueError) as exc:  # __post_init__ cross-field checks
        raise type(exc)(f"{exp.name}: {exc}") from None


def _jsonable(obj: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays, tuples, paths, dataclasses."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return _jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)) or (isinstance(obj, Iterable) and not isinstance(obj, bytes)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"value of type {type(obj).__name__} is not JSON-serialisable: {obj!r}")


def config_to_dict(config) -> dict:
    """The configuration as a plain dict of JSON values (tuples become lists)."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    return _jsonable(config)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, ASCII, shortest round-trip floats, no NaN."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def run_hash(experiment: str | Experiment, config, seed: int) -> str:
    """SHA-256 hex digest naming the run ``(experiment name, version, config, seed)``."""
    exp = get_experiment(experiment)
    seed = check_int("seed", seed, 0, _MAX_SEED)
    cfg = make_config(exp, config)
    doc = {"experiment": exp.name, "version": exp.version, "config": config_to_dict(cfg), "seed": seed}
    return hashlib.sha256(canonical_json(doc).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: experiment name, validated config, seed and its hash ``run_id``."""

    experiment: str
    config: Any
    seed: int
    run_id: str


def expand_grid(experiment: str | Experiment, grid: Mapping | Sequence[Mapping], base: Mapping | None = None) -> list:
    """Configs for the Cartesian product of ``grid`` (dict of lists), each merged over ``base``.

    ``grid`` may also be a list of such dicts (the union of their products, in order).
    Each grid value must be a list of values (a tuple-typed field takes a list of
    lists); ``base`` holds single values.  Every config is validated before any is
    returned; duplicates are dropped, first occurrence kept.
    """
    exp = get_experiment(experiment)
    if base is None:
        base = {}
    if not isinstance(base, Mapping):
        raise TypeError(f"base must be a mapping of configuration values, got {type(base).__name__}")
    grids = [grid] if isinstance(grid, Mapping) else grid
    if isinstance(grids, (str, bytes)) or not isinstance(grids, Sequence):
        raise TypeError(f"grid must be a mapping of lists or a list of such mappings, got {type(grid).__name__}")
    out, seen = [], set()
    for g in grids:
        if not isinstance(g, Mapping):
            raise TypeError(f"grid must be a mapping of lists or a list of such mappings, got an element {g!r}")
        keys = list(g)
        for k in keys:
            v = g[k]
            if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, (Sequence, tuple, list)):
                raise TypeError(f"{exp.name}: grid values must be lists; grid key {k!r} has {v!r}")
            if len(v) == 0:
                raise ValueError(f"{exp.name}: grid key {k!r} has an empty list of values")
        for combo in itertools.product(*(g[k] for k in keys)):
            cfg = make_config(exp, {**base, **dict(zip(keys, combo))})
            key = canonical_json(cfg)
            if key not in seen:
                seen.add(key)
                out.append(cfg)
    return out


def _as_seeds(seeds) -> list[int]:
    if isinstance(seeds, (numbers.Integral,)) and not isinstance(seeds, bool):
        n = check_int("seeds", seeds, 1)
        return list(range(n))
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a positive int n (seeds 0..n-1) or a list of ints, got {seeds!r}")
    out = [check_int(f"seeds[{i}]", s, 0, _MAX_SEED) for i, s in enumerate(seeds)]
    if not out:
        raise ValueError("seeds must not be empty")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def _specs(experiment, configs, seeds) -> tuple[Experiment, list[RunSpec]]:
    exp = get_experiment(experiment)
    seeds = _as_seeds(seeds)
    if isinstance(configs, Mapping) or (dataclasses.is_dataclass(configs) and not isinstance(configs, type)):
        configs = [configs]
    cfgs = [make_config(exp, c) for c in configs]
    specs, seen = [], set()
    for cfg in cfgs:
        for s in seeds:
            rid = run_hash(exp, cfg, s)
            if rid not in seen:
                seen.add(rid)
                specs.append(RunSpec(exp.name, cfg, s, rid))
    return exp, specs


@dataclass
class Sweep:
    """A sweep: one experiment, its configs and its seeds (from Python or :func:`load_sweep`)."""

    experiment: str
    configs: list
    seeds: list[int]
    name: str = ""

    def runs(self) -> list[RunSpec]:
        """Every (config, seed) pair as a :class:`RunSpec`, configs outer, seeds inner."""
        return _specs(self.experiment, self.configs, self.seeds)[1]

    def run(self, store: str | os.PathLike | ResultsStore, **kwargs) -> SweepSummary:
        """Shorthand for :func:`run_sweep` with this sweep's experiment, configs and seeds."""
        kwargs.setdefault("name", self.name)
        return run_sweep(self.experiment, self.configs, store, seeds=self.seeds, **kwargs)


_SWEEP_KEYS = ("experiment", "name", "description", "seeds", "base", "grid", "runs")


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file and validate it.

    Keys: ``experiment`` (required), ``name``, ``description``, ``seeds`` (an int n ⇒
    0..n-1, or a list; default 1), ``base`` (mapping), ``grid`` (mapping of lists, or a
    list of them), ``runs`` (list of mappings, each merged over ``base``).  Without
    ``grid`` and ``runs`` the sweep is the single config ``base``.  Unknown keys ⇒
    ``ValueError``; every config is validated here, before anything runs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {str(path)!r} not found")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        doc = yaml.safe_load(path.read_text())
    elif suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        doc = tomllib.loads(path.read_text())
    else:
        raise ValueError(f"sweep file must end in .yaml, .yml or .toml, got {path.name!r}")
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path}: a sweep file must be a mapping with keys {list(_SWEEP_KEYS)}")
    unknown = [k for k in doc if k not in _SWEEP_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown sweep key(s) {unknown}; valid keys: {list(_SWEEP_KEYS)}")
    if "experiment" not in doc:
        raise ValueError(f"{path}: missing required key 'experiment'")
    try:
        exp = get_experiment(doc["experiment"])
        base = doc.get("base") or {}
        configs = []
        if "grid" in doc:
            configs += expand_grid(exp, doc["grid"], base)
        if "runs" in doc:
            runs = doc["runs"]
            if not isinstance(runs, list):
                raise TypeError(f"runs must be a list of mappings, got {type(runs).__name__}")
            for i, r in enumerate(runs):
                if not isinstance(r, Mapping):
                    raise TypeError(f"runs[{i}] must be a mapping, got {r!r}")
                configs.append(make_config(exp, {**base, **r}))
        if "grid" not in doc and "runs" not in doc:
            configs.append(make_config(exp, base))
        seeds = _as_seeds(doc.get("seeds", 1))
        name = doc.get("name", path.stem)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return Sweep(experiment=exp.name, configs=configs, seeds=seeds, name=name)


# --------------------------------------------------------------------------- worker side

_VERSIONS: dict | None = None


def _package_versions() -> dict:
    """Versions of Python and of the packages a run depends on (read once per process)."""
    global _VERSIONS
    if _VERSIONS is None:
        import platform
        from importlib import metadata

        v = {"python": platform.python_version(), "platform": platform.platform()}
        for pkg in ("tailcomp", "numpy", "scipy", "numba", "sympy"):
            try:
                v[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                pass
        _VERSIONS = v
    return dict(_VERSIONS)


def _worker_init() -> None:
    """Pool initializer: one thread per worker (the env vars were already set at spawn)."""
    for var in THREAD_ENV:
        os.environ[var] = "1"
    _one_thread()


def _one_thread() -> None:
    if "numba" in sys.modules:
        try:
            sys.modules["numba"].set_num_threads(1)
        except Exception:
            pass


def _finite_check(metrics: Mapping) -> str | None:
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v):
            return k
    return None


def _execute(name: str, module: str, config: dict, seed: int) -> dict:
    """Run one experiment in a worker; never raises for errors of the run itself.

    Returns ``{"status", "error", "metrics", "history", "started_at", "finished_at",
    "wall_time", "cpu_time", "worker", "versions"}`` with metrics/history as JSON text.
    """
    import importlib

    _one_thread()
    t_start, c_start = time.time(), time.process_time()
    p_start = time.perf_counter()
    out = {"error": None, "metrics": "{}", "history": "[]"}
    try:
        if module and module not in sys.modules and module not in ("__main__", "__mp_main__"):
            importlib.import_module(module)
        exp = get_experiment(name)
        cfg = make_config(exp, config)
        try:
            res = exp.func(cfg, seed)
        except Diverged as d:
            res = {"status": "diverged", "error": str(d), "metrics": d.metrics, "history": d.history}
        if not isinstance(res, Mapping):
            raise TypeError(f"experiment {name!r} returned {type(res).__name__}, expected a mapping with 'metrics'")
        extra = [k for k in res if k not in ("status", "metrics", "history", "error")]
        if extra:
            raise ValueError(f"experiment {name!r} returned unknown key(s) {extra}; allowed: status, metrics, history, error")
        status = res.get("status", "done")
        if status not in FINISHED:
            raise ValueError(f"experiment {name!r} returned status {status!r}; allowed: 'done', 'diverged'")
        metrics = _jsonable(res.get("metrics", {}))
        if not isinstance(metrics, dict):
            raise TypeError(f"experiment {name!r}: metrics must be a mapping, got {type(metrics).__name__}")
        history = _jsonable(res.get("history", []))
        if not isinstance(history, list):
            raise TypeError(f"experiment {name!r}: history must be a list, got {type(history).__name__}")
        error = res.get("error")
        bad = _finite_check(metrics)
        if status == "done" and bad is not None:
            status, error = "diverged", f"metric {bad!r} is not finite ({metrics[bad]}); stored as diverged"
        out.update(
            status=status,
            error=None if error is None else str(error),
            metrics=json.dumps(metrics, sort_keys=True),
            history=json.dumps(history, sort_keys=True),
        )
    except Exception:
        out.update(status="failed", error=traceback.format_exc()[-_MAX_ERROR_CHARS:])
    out.update(
        started_at=t_start,
        finished_at=time.time(),
        wall_time=time.perf_counter() - p_start,
        cpu_time=time.process_time() - c_start,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        versions=json.dumps(_package_versions(), sort_keys=True),
    )
    return out


# --------------------------------------------------------------------------- execution


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did: counts per outcome and the run ids of the sweep."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    diverged: int = 0
    failed: int = 0
    run_ids: list[str] = field(default_factory=list)
    wall_time: float = 0.0


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class _ThreadEnv:
    """Set THREAD_ENV to 1 in os.environ while worker processes are spawned; restore after."""

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in THREAD_ENV}
        for k in THREAD_ENV:
            os.environ[k] = "1"
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _LocalBackend:
    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self._env = _ThreadEnv().__enter__()
        self._make = lambda: ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
        )
        self.pool = self._make()
        self.max_inflight = 2 * workers

    def submit(self, spec: RunSpec, module: str):
        fut = self.pool.submit(_execute, spec.experiment, module, config_to_dict(spec.config), spec.seed)
        fut.tailcomp_pool = self.pool
        return fut

    def wait_any(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(futures, return_when=FIRST_COMPLETED)[0]

    def result(self, fut):
        return fut.result()

    def broken(self, exc: BaseException, fut) -> bool:
        """True (once per dead pool, which is then replaced) if ``exc`` says the pool died."""
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool) and getattr(fut, "tailcomp_pool", None) is self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._make()
            return True
        return False

    def close(self):
        try:
            self.pool.shutdown(wait=True, cancel_futures=True)
        finally:
            self._env.__exit__(None, None, None)


class _InlineBackend:
    """workers=0: run in the calling process (debugging, notebooks)."""

    max_inflight = 1

    def submit(self, spec, module):
        from concurrent.futures import Future

        f = Future()
        f.set_result(_execute(spec.experiment, module, config_to_dict(spec.config), spec.seed))
        return f

    def wait_any(self, futures):
        return set(futures)

    def result(self, fut):
        return fut.result()

    def broken(self, exc, fut):
        return False

    def close(self):
        pass


class _DaskBackend:
    def __init__(self, scheduler):
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("scheduler= needs dask.distributed: pip install 'tailcomp[cluster]'") from exc
        self._own = False
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        elif isinstance(scheduler, str):
            if not re.match(r"^(tcp|tls|inproc|ucx|ws|wss)://", scheduler):
                raise ValueError(f"scheduler must be an address like 'tcp://HOST:PORT', got {scheduler!r}")
            self.client = distributed.Client(scheduler)
            self._own = True
        elif hasattr(scheduler, "scheduler_address"):
            self.client = distributed.Client(scheduler)
            self._own = True
        else:
            raise TypeError(
                f"scheduler must be an address 'tcp://HOST:PORT', a dask.distributed.Client or a cluster, got {type(scheduler).__name__}"
            )
        self._wait = distributed.wait
        nthreads = sum(self.client.nthreads().values()) or 1
        self.max_inflight = max(4, 2 * nthreads)

    def submit(self, spec, module):
        return self.client.submit(
            _execute, spec.experiment, module, config_to_dict(spec.config), spec.seed, pure=False
        )

    def wait_any(self, futures):
        return self._wait(list(futures), return_when="FIRST_COMPLETED").done

    def result(self, fut):
        return fut.result()

    def broken(self, exc, fut):
        return False

    def close(self):
        if self._own:
            self.client.close()


def _git_commit() -> str | None:
    import subprocess

    try:
        r = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5,
        )
        return r.stdout.strip() or None if r.returncode == 0 else None
    except Exception:
        return None


def run_sweep(
    experiment: str | Experiment,
    configs: Iterable,
    store: str | os.PathLike | ResultsStore,
    *,
    seeds: int | Sequence[int] = (0,),
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
    retry_failed: bool = True,
    name: str = "",
) -> SweepSummary:
    """Run every (config, seed) pair not already finished in ``store``.

    ``configs``: config instances or mappings (validated, all of them, before the store
    is touched).  ``seeds``: an int n (seeds 0..n-1) or a list.  ``workers``: number of
    local processes (default: the CPUs available; ``0`` runs in this process).
    ``scheduler``: a Dask scheduler address ``"tcp://HOST:PORT"``, a
    ``dask.distributed.Client`` or a cluster object (``LocalCluster``); ``workers`` is
    then ignored.  ``progress``: a tqdm bar over the whole sweep.  Runs already
    ``done``/``diverged`` are skipped; ``failed`` ones rerun when ``retry_failed``.
    ``name``: a label stored with the runs this sweep creates.
    Only this process writes to the store; one sweep at a time may write to a store
    (:class:`StoreLockedError` otherwise).  Local workers are started with ``spawn``:
    a script calling ``run_sweep`` must do so under ``if __name__ == "__main__":``.
    """
    t0 = time.perf_counter()
    exp, specs = _specs(experiment, configs, seeds)
    if workers is not None:
        workers = check_int("workers", workers, 0, 4096)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    own_store = not isinstance(store, ResultsStore)
    st = ResultsStore(store) if own_store else store
    summary = SweepSummary(total=len(specs), run_ids=[s.run_id for s in specs])
    backend = None
    try:
        st._lock()
        status = st._register(specs, name=name, git=_git_commit())
        rerun = ("pending", "running") + (("failed",) if retry_failed else ())
        todo = deque(s for s in specs if status[s.run_id] in rerun)
        summary.skipped = len(specs) - len(todo)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), initial=summary.skipped, desc=f"sweep {exp.name}", unit="run",
                   disable=not progress, dynamic_ncols=True)
        try:
            if todo:
                if scheduler is not None:
                    backend = _DaskBackend(scheduler)
                else:
                    n = _available_cpus() if workers is None else workers
                    backend = _InlineBackend() if n == 0 else _LocalBackend(min(n, len(todo)))
            inflight: dict = {}
            breaks = 0  # consecutive worker-pool failures without a single result
            while todo or inflight:
                while todo and len(inflight) < backend.max_inflight:
                    spec = todo.popleft()
                    st._mark_running(spec.run_id)
                    inflight[backend.submit(spec, exp.module)] = spec
                for fut in backend.wait_any(list(inflight)):
                    spec = inflight.pop(fut)
                    try:
                        out = backend.result(fut)
                        breaks = 0
                    except Exception as exc:  # the worker died, the result could not be transferred, ...
                        err = f"{type(exc).__name__}: {exc}"
                        out = {"status": "failed", "error": err, "metrics": "{}", "history": "[]",
                               "finished_at": time.time()}
                        if backend.broken(exc, fut):
                            out["error"] = "the worker process died while running this or a concurrent run: " + err
                            breaks += 1
                            if breaks > 3:
                                st._record(spec.run_id, out)
                                raise RuntimeError(
                                    "the local worker pool keeps dying; if you call run_sweep from a script, put the "
                                    "call under `if __name__ == '__main__':` (workers are started with 'spawn'). "
                                    f"Last error: {err}"
                                ) from exc
                    st._record(spec.run_id, out)
                    setattr(summary, out["status"], getattr(summary, out["status"]) + 1)
                    bar.update(1)
                    bar.set_postfix(done=summary.done, diverged=summary.diverged, failed=summary.failed, refresh=False)
        finally:
            bar.close()
    finally:
        if backend is not None:
            backend.close()
        st._unlock()
        if own_store:
            st.close()
    summary.wall_time = time.perf_counter() - t0
    return summary


# --------------------------------------------------------------------------- store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    experiment_version INTEGER NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),
    error TEXT,
    metrics TEXT,
    history TEXT,
    created_at REAL NOT NULL,
    submitted_at REAL,
    started_at REAL,
    finished_at REAL,
    wall_time REAL,
    cpu_time REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    versions TEXT,
    sweep TEXT,
    git TEXT
);
CREATE INDEX IF NOT EXISTS runs_experiment_status ON runs (experiment, status);
"""

_STD_COLUMNS = ("run_id", "experiment", "seed", "status", "error", "wall_time")


class ResultsStore:
    """The SQLite results store (one file; created on first use unless ``create=False``).

    Read API: :meth:`rows` (tidy dicts: ``run_id, experiment, seed, status, error,
    wall_time`` + one column per config key + one per metric; a config key that
    collides with a standard column is prefixed ``config.``, a metric that collides
    with either is prefixed ``metric.``), :meth:`to_pandas` (same as a DataFrame;
    pandas optional), :meth:`history_rows` (one row per history record), :meth:`get`
    (one run, all columns, JSON decoded), :meth:`counts` (runs per status).  Opening a
    store written by a newer schema version raises :class:`SchemaError`; a file that
    is not a tailcomp store also raises :class:`SchemaError` and is left untouched.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if not isinstance(create, bool):
            raise TypeError(f"create must be a bool, got {create!r}")
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"no results store at {str(self.path)!r}")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lockf = None
        self.con = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            self._open(create)
        except BaseException:
            self.con.close()
            raise

    # ---- schema
    def _open(self, create: bool) -> None:
        con = self.con
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SchemaError(f"{self.path} is not a tailcomp results store (not an SQLite database: {exc})") from None
        if "schema_version" in tables:
            self._check_version()
        elif tables:
            raise SchemaError(
                f"{self.path} is an SQLite database but not a tailcomp results store (tables {sorted(tables)}); left untouched"
            )
        elif not create:
            raise SchemaError(f"{self.path} is empty: not a tailcomp results store")
        con.execute("PRAGMA journal_mode=WAL")
        # NORMAL: in WAL mode a commit survives the process being killed (SIGKILL) without an
        # fsync; _record switches to FULL so that a *finished* run also survives a power loss.
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA busy_timeout=60000")
        if "schema_version" not in tables:
            con.execute("BEGIN IMMEDIATE")
            try:
                if not con.execute("SELECT name FROM sqlite_master WHERE name='schema_version'").fetchall():
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        con.execute(stmt)
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._check_version()

    def _check_version(self) -> None:
        row = self.con.execute("SELECT MAX(version) FROM schema_version").fetchone()
        v = row[0] if row else None
        if v is None:
            raise SchemaError(f"{self.path}: schema_version table is empty; not a valid tailcomp results store")
        if v > SCHEMA_VERSION:
            raise SchemaError(
                f"results store {self.path} was written by a newer tailcomp (schema version {v}); "
                f"this tailcomp reads schema versions up to {SCHEMA_VERSION}: upgrade tailcomp to read it. "
                "The store was not modified."
            )
        # v < SCHEMA_VERSION: migrations go here when the schema changes.

    # ---- writer side (used by run_sweep; one writer process at a time)
    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        lock_path = f"{self.path}.lock"
        # The lock file is removed on release (_unlock). Another process may still hold
        # the removed file open, so after taking the flock we check that the path still
        # names the file we locked; if not, we retry on the new file.
        for _ in range(100):
            f = open(lock_path, "a+")
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip()
                f.close()
                raise StoreLockedError(
                    f"results store {self.path} is being written by another sweep ({holder or 'unknown process'}); "
                    "wait for it to finish or use another --store"
                ) from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            f.close()
        else:  # pragma: no cover - would need 100 lost races in a row
            raise StoreLockedError(f"results store {self.path}: could not take the writer lock {lock_path}")
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._lockf = f

    def _unlock(self) -> None:
        if self._lockf is not None:
            # remove the file while still holding the flock (see _lock), then release it by closing
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}.lock")
            self._lockf.close()  # closing releases the flock (so does the process dying)
            self._lockf = None

    def _register(self, specs: Sequence[RunSpec], *, name: str = "", git: str | None = None) -> dict[str, str]:
        """Insert missing runs as pending (one transaction); return run_id -> status."""
        now = time.time()
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(
                "INSERT OR IGNORE INTO runs (run_id, experiment, experiment_version, config, seed, status, created_at, sweep, git)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                [
                    (s.run_id, s.experiment, get_experiment(s.experiment).version, canonical_json(s.config), s.seed, now, name, git)
                    for s in specs
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        status = {}
        ids = [s.run_id for s in specs]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT run_id, status FROM runs WHERE run_id IN ({','.join('?' * len(chunk))})"
            status.update(dict(con.execute(q, chunk).fetchall()))
        return status

    def _mark_running(self, run_id: str) -> None:
        self.con.execute(
            "UPDATE runs SET status='running', submitted_at=?, attempts=attempts+1, error=NULL WHERE run_id=?",
            (time.time(), run_id),
        )

    def _record(self, run_id: str, out: Mapping) -> None:
        """Store a finished run (one transaction, committed and fsynced before returning)."""
        self.con.execute("PRAGMA synchronous=FULL")
        try:
            self._record_update(run_id, out)
        finally:
            self.con.execute("PRAGMA synchronous=NORMAL")

    def _record_update(self, run_id: str, out: Mapping) -> None:
        self.con.execute(
            "UPDATE runs SET status=?, error=?, metrics=?, history=?, started_at=?, finished_at=?, wall_time=?,"
            " cpu_time=?, worker=?, versions=? WHERE run_id=?",
            (
                out["status"], out.get("error"), out.get("metrics"), out.get("history"), out.get("started_at"),
                out.get("finished_at"), out.get("wall_time"), out.get("cpu_time"), out.get("worker"),
                out.get("versions"), run_id,
            ),
        )

    # ---- reader side
    def _select(self, columns: str, experiment, status) -> list[sqlite3.Row]:
        where, args = [], []
        if experiment is not None:
            where.append("experiment = ?")
            args.append(experiment)
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            for s in sts:
                check_choice("status", s, STATUSES)
            where.append(f"status IN ({','.join('?' * len(sts))})")
            args += sts
        q = f"SELECT {columns} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid"
        cur = self.con.execute(q, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    @staticmethod
    def _flat(base: dict, config: dict, extra: dict, prefix: str) -> dict:
        row = dict(base)
        for k, v in config.items():
            row[f"config.{k}" if k in row else k] = v
        for k, v in extra.items():
            row[f"{prefix}.{k}" if k in row else k] = v
        return row

    def rows(self, experiment: str | None = None, status: str | Sequence[str] | None = None) -> list[dict]:
        """Tidy rows, one per run, in the order the runs were first registered."""
        out = []
        for r in self._select("run_id, experiment, seed, status, error, wall_time, config, metrics", experiment, status):
            base = {k: r[k] for k in _STD_COLUMNS}
            out.append(self._flat(base, json.loads(r["config"]), json.loads(r["metrics"] or "{}"), "metric"))
        return out

    def to_pandas(self, experiment: str | None = None, status: str | Sequence[str] | None = None):
        """:meth:`rows` as a ``pandas.DataFrame`` (ImportError with a hint if pandas is missing)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'tailcomp[cluster]' (or pandas)") from exc
        return pd.DataFrame(self.rows(experiment, status))

    def history_rows(
        self, experiment: str | None = None, status: str | Sequence[str] | None = ("done", "diverged")
    ) -> list[dict]:
        """One row per history record: ``run_id, experiment, seed, status`` + config columns + the record's keys."""
        out = []
        for r in self._select("run_id, experiment, seed, status, config, history", experiment, status):
            base = {k: r[k] for k in ("run_id", "experiment", "seed", "status")}
            cfg = json.loads(r["config"])
            for rec in json.loads(r["history"] or "[]"):
                out.append(self._flat(base, cfg, rec if isinstance(rec, dict) else {"value": rec}, "history"))
        return out

    def get(self, run_id: str) -> dict | None:
        """One run with every stored column (config/metrics/history/versions decoded), or None."""
        cur = self.con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        r = cur.fetchone()
        if r is None:
            return None
        d = dict(zip([c[0] for c in cur.description], r))
        for k in ("config", "metrics", "history", "versions"):
            if d.get(k) is not None:
                d[k] = json.loads(d[k])
        return d

    def counts(self, experiment: str | None = None) -> dict[str, int]:
        """Number of runs per status (every status present as a key)."""
        q = "SELECT status, COUNT(*) FROM runs" + (" WHERE experiment = ?" if experiment else "") + " GROUP BY status"
        got = dict(self.con.execute(q, (experiment,) if experiment else ()).fetchall())
        return {s: int(got.get(s, 0)) for s in STATUSES}

    def experiments(self) -> list[str]:
        """Names of the experiments present in the store."""
        return [r[0] for r in self.con.execute("SELECT DISTINCT experiment FROM runs ORDER BY experiment")]

    def close(self) -> None:
        self._unlock()
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"


def plot_metric(
    rows,
    metric: str,
    x: str,
    hue: str | None = None,
    *,
    ax=None,
    logx: bool = False,
    logy: bool = False,
    status: str | Sequence[str] = ("done",),
):
    """Mean ± standard error over seeds of ``metric`` against config key ``x``, one line per ``hue`` value.

    ``rows``: a :class:`ResultsStore`, a list of :meth:`ResultsStore.rows` dicts or a
    DataFrame.  Only runs whose status is in ``status`` (default: ``done``) are drawn;
    runs lacking the metric are skipped.
    Points with a single seed have no error bar.  Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    statuses = (status,) if isinstance(status, str) else tuple(status)
    for s_ in statuses:
        check_choice("status", s_, STATUSES)
    if isinstance(rows, ResultsStore):
        rows = rows.rows()
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        rows = rows.to_dict("records")
    rows = [r for r in rows if r.get("status", "done") in statuses]
    if not rows:
        raise ValueError(f"no runs with status in {list(statuses)} to plot")
    for key, what in ((metric, "metric"), (x, "x"), (hue, "hue")):
        if key is not None and not any(key in r for r in rows):
            raise ValueError(f"{what} {key!r} is not a column of the results; columns: {sorted(set().union(*rows))}")
    groups: dict = {}
    for r in rows:
        if metric not in r or r[metric] is None:
            continue
        h = _hashable(r.get(hue)) if hue else None
        groups.setdefault(h, {}).setdefault(_hashable(r[x]), []).append(float(r[metric]))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for h in sorted(groups, key=_sort_key):
        pts = sorted(groups[h].items(), key=lambda kv: _sort_key(kv[0]))
        xs = [p[0] for p in pts]
        means = np.array([np.mean(v) for _, v in pts])
        sems = np.array([np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0 for _, v in pts])
        label = f"{hue}={h}" if hue else None
        ax.errorbar(xs, means, yerr=sems, marker="o", capsize=3, label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if hue:
        ax.legend(fontsize="small")
    return ax


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
