"""Sweeps: typed experiment configurations, a durable SQLite results store, parallel execution.

An **experiment** is a function ``run(config, seed) -> dict`` registered under a name
together with a **configuration dataclass** that declares every parameter, its type,
default and valid range::

    from dataclasses import dataclass
    from simulations.sweep import experiment, param, Diverged

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
database is in WAL mode with ``synchronous=FULL``; only the submitting process writes,
and each finished run is committed in its own transaction, so killing the sweep at any
moment (SIGKILL included) loses nothing that finished.  Running the same sweep again
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

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

#: Environment variables set to "1" in every worker process (one thread per worker).
THREAD_ENV = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
    raise NotImplementedError


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
    raise NotImplementedError


def get_experiment(name: str) -> Experiment:
    """The experiment registered as ``name``, importing :mod:`simulations.experiments` modules as needed.

    Raises ``ValueError`` listing the known names (and any experiment module that failed
    to import) when ``name`` is unknown.
    """
    raise NotImplementedError


def list_experiments() -> list[str]:
    """Names of all experiments (after importing every module of :mod:`simulations.experiments`)."""
    raise NotImplementedError


# --------------------------------------------------------------------------- configs


def make_config(experiment: str | Experiment, values: Mapping | None = None, **overrides):
    """Validated config instance for ``experiment`` from a mapping (plus keyword overrides).

    Unknown keys ⇒ ``ValueError`` naming the key (with the valid keys); a wrong type ⇒
    ``TypeError`` naming the key; a value out of range ⇒ ``ValueError`` naming the key
    and its range.  Floats accept integers (``1`` and ``1.0`` give the same hash).
    A config instance of the right class is returned re-validated.
    """
    raise NotImplementedError


def config_to_dict(config) -> dict:
    """The configuration as a plain dict of JSON values (tuples become lists)."""
    raise NotImplementedError


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, ASCII, shortest round-trip floats, no NaN."""
    raise NotImplementedError


def run_hash(experiment: str | Experiment, config, seed: int) -> str:
    """SHA-256 hex digest naming the run ``(experiment name, version, config, seed)``."""
    raise NotImplementedError


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
    raise NotImplementedError


@dataclass
class Sweep:
    """A sweep: one experiment, its configs and its seeds (from Python or :func:`load_sweep`)."""

    experiment: str
    configs: list
    seeds: list[int]
    name: str = ""

    def runs(self) -> list[RunSpec]:
        """Every (config, seed) pair as a :class:`RunSpec`, configs outer, seeds inner."""
        raise NotImplementedError

    def run(self, store: str | os.PathLike | ResultsStore, **kwargs) -> SweepSummary:
        """Shorthand for :func:`run_sweep` with this sweep's experiment, configs and seeds."""
        raise NotImplementedError


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file and validate it.

    Keys: ``experiment`` (required), ``name``, ``seeds`` (an int n ⇒ 0..n-1, or a list),
    ``base`` (mapping), ``grid`` (mapping of lists, or a list of them), ``runs`` (list
    of mappings, each merged over ``base``).  Unknown keys ⇒ ``ValueError``.
    """
    raise NotImplementedError


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
) -> SweepSummary:
    """Run every (config, seed) pair not already finished in ``store``.

    ``configs``: config instances or mappings (validated, all of them, before the store
    is touched).  ``seeds``: an int n (seeds 0..n-1) or a list.  ``workers``: number of
    local processes (default: the CPUs available; ``0`` runs in this process).
    ``scheduler``: a Dask scheduler address ``"tcp://HOST:PORT"``, a
    ``dask.distributed.Client`` or a cluster object (``LocalCluster``); ``workers`` is
    then ignored.  ``progress``: a tqdm bar over the whole sweep.  Runs already
    ``done``/``diverged`` are skipped; ``failed`` ones rerun when ``retry_failed``.
    Only this process writes to the store; one sweep at a time may write to a store
    (:class:`StoreLockedError` otherwise).
    """
    raise NotImplementedError


# --------------------------------------------------------------------------- store


class ResultsStore:
    """The SQLite results store (one file; created on first use unless ``create=False``).

    Read API: :meth:`rows` (tidy dicts: ``run_id, experiment, seed, status, error,
    wall_time`` + one column per config key + one per metric; a metric whose name
    collides with a config key or a standard column is prefixed ``metric.``),
    :meth:`to_pandas` (same as a DataFrame; pandas optional), :meth:`history_rows`
    (one row per history record), :meth:`get` (one run, all columns, JSON decoded),
    :meth:`counts` (runs per status).  Opening a store written by a newer schema
    version raises :class:`SchemaError`.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        raise NotImplementedError

    def rows(self, experiment: str | None = None, status: str | Sequence[str] | None = None) -> list[dict]:
        """Tidy rows, one per run, ordered by creation."""
        raise NotImplementedError

    def to_pandas(self, experiment: str | None = None, status: str | Sequence[str] | None = None):
        """:meth:`rows` as a ``pandas.DataFrame`` (ImportError with a hint if pandas is missing)."""
        raise NotImplementedError

    def history_rows(self, experiment: str | None = None, status: str | Sequence[str] | None = ("done", "diverged")) -> list[dict]:
        """One row per history record: ``run_id, seed`` + config columns + the record's keys."""
        raise NotImplementedError

    def get(self, run_id: str) -> dict | None:
        """One run with every stored column (config/metrics/history/versions decoded), or None."""
        raise NotImplementedError

    def counts(self, experiment: str | None = None) -> dict[str, int]:
        """Number of runs per status."""
        raise NotImplementedError

    def experiments(self) -> list[str]:
        """Names of the experiments present in the store."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def plot_metric(rows, metric: str, x: str, hue: str | None = None, *, ax=None, logx: bool = False, logy: bool = False):
    """Mean ± standard error over seeds of ``metric`` against config key ``x``, one line per ``hue`` value.

    ``rows``: a :class:`ResultsStore`, a list of :meth:`ResultsStore.rows` dicts or a
    DataFrame.  Only ``done`` runs are drawn.  Returns the matplotlib Axes.
    """
    raise NotImplementedError
