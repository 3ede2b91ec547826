"""Sweeps: typed experiment configurations, a durable SQLite results store, parallel execution.

An **experiment** is a deterministic function ``run(config, seed) -> dict`` registered
under a name together with a **configuration dataclass** that declares every parameter,
its type, default and valid range::

    from dataclasses import dataclass
    from simulations.sweep import Diverged, experiment, param

    @dataclass(frozen=True)
    class LinearTailConfig:
        lr: float = param(0.1, low=0.0, low_open=True, help="step size η")
        batch_size: int = param(1, low=1, help="batch size b")
        loss: str = param("mse", choices=("mse", "hinge"))

    @experiment("linear_tail", config=LinearTailConfig)
    def run(config: LinearTailConfig, seed: int) -> dict:
        ...
        return {"status": "done",              # or "diverged"
                "metrics": {"alpha_hat": 1.7},  # JSON scalars / lists
                "history": [{"step": 100, "loss": 0.3}, ...]}

A run is identified by the **content hash** of ``(experiment name, experiment version,
full configuration with defaults filled in, seed)``: the SHA-256 of canonical JSON
(sorted keys, no whitespace, floats in shortest round-trip form).  The hash is the
primary key of the run in the store, so the same configuration and seed is never
computed twice, whichever sweep asks for it.  A **sweep** is a list of configurations
(often a grid, :func:`expand_grid`) times a list of seeds, run by :func:`run_sweep` or
read from a YAML/TOML file (:func:`load_sweep`, ``tailcomp sweep FILE --store PATH``).

The **results store** (:class:`ResultsStore`) is one SQLite file in WAL mode, one row per
run; only the submitting process writes (:meth:`ResultsStore.writer`), each finished run
committed and fsynced in its own transaction, so a sweep killed at any moment (SIGKILL,
power loss) loses nothing that finished and, run again, skips what is ``done`` or
``diverged`` and reruns the rest.  Runs execute on a pool of local ``spawn``-ed
one-thread processes (:class:`LocalExecutor`), in the calling process (``workers=0``)
or on a Dask cluster (``scheduler="tcp://HOST:PORT"``, :class:`DaskExecutor`).

Modules, one responsibility each: :mod:`~simulations.sweep.config` (``param``, field
specs, validation, canonical JSON), :mod:`~simulations.sweep.registry` (the
``experiment`` decorator, lookup, discovery of :mod:`simulations.experiments` modules by
name), :mod:`~simulations.sweep.plan` (grids, seeds, run hashes),
:mod:`~simulations.sweep.worker` (one run), :mod:`~simulations.sweep.executors`,
:mod:`~simulations.sweep.runner` (``run_sweep``), :mod:`~simulations.sweep.sweep_file`,
:mod:`~simulations.sweep.store` and :mod:`~simulations.sweep.writer` (the store's
readers and its one writer), :mod:`~simulations.sweep.store_errors` (:class:`StoreError`:
every failure of the store as one line naming it), :mod:`~simulations.sweep.report` (tables, CSV, plots),
:mod:`~simulations.sweep.cli` (``tailcomp sweep``/``tailcomp report``).

Sources: OpenLTH (J. Frankle, https://github.com/facebookresearch/open_lth: an
experiment is hyperparameters in, deterministic output out, and the hash of the
hyperparameters names the output); SQLite, "Write-Ahead Logging"
(https://www.sqlite.org/wal.html) for the durability argument.
"""
from simulations.sweep.config import FieldSpec, canonical_json, config_to_dict, field_specs, param
from simulations.sweep.executors import DaskExecutor, Executor, InlineExecutor, LocalExecutor
from simulations.sweep.plan import RunSpec, expand_grid, run_hash
from simulations.sweep.registry import (
    FINISHED,
    STATUSES,
    Diverged,
    Experiment,
    experiment,
    get_experiment,
    import_errors,
    list_experiments,
    make_config,
)
from simulations.sweep.report import format_table, plot_metric
from simulations.sweep.runner import SweepSummary, run_sweep
from simulations.sweep.store import SCHEMA_VERSION, ResultsStore, SchemaError
from simulations.sweep.store_errors import StoreError
from simulations.sweep.sweep_file import Sweep, load_sweep
from simulations.sweep.worker import THREAD_ENV
from simulations.sweep.writer import StoreLockedError, StoreWriter

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "FINISHED",
    "THREAD_ENV",
    "Diverged",
    "StoreError",
    "SchemaError",
    "StoreLockedError",
    "Experiment",
    "experiment",
    "param",
    "FieldSpec",
    "field_specs",
    "get_experiment",
    "list_experiments",
    "import_errors",
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
    "StoreWriter",
    "Executor",
    "LocalExecutor",
    "InlineExecutor",
    "DaskExecutor",
    "format_table",
    "plot_metric",
]
