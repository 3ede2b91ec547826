"""Planning a sweep: grid expansion, seeds, and the content hash that names each run.

A run is identified by the SHA-256 of the canonical JSON
(:func:`simulations.sweep.config.canonical_json`) of ``{"experiment": name, "version":
experiment version, "config": full configuration with defaults filled in, "seed": seed}``.
The hash is the primary key of the run in the results store, so the same configuration
and seed is never computed twice, whichever sweep asks for it.

Thread count: a run is bit-identical across processes at equal thread count, and a different
count may change its last bits (summation order of BLAS and of the parallel kernels). Sweep
workers run every run with one thread (:mod:`simulations.sweep.worker`), and the document holds
``"threads"`` only when it is not 1, so every one-thread run keeps the hash it had before the
thread count was part of the document (stores written earlier stay valid).  (Naming an output by the
hash of its hyperparameters follows OpenLTH, the lottery-ticket experiment framework of
J. Frankle, https://github.com/facebookresearch/open_lth.)
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulations._core.validation import check_int
from simulations.sweep.config import canonical_json, config_to_dict
from simulations.sweep.registry import Experiment, get_experiment, make_config

__all__ = ["MAX_SEED", "SEEDS_MAX", "run_hash", "RunSpec", "expand_grid", "as_seeds", "run_specs"]

#: Largest seed a run may have (seeds are stored as SQLite INTEGER, 64-bit signed).
MAX_SEED = 2**63 - 1
#: Most seeds of one sweep (an int n means the n seeds 0..n-1).
SEEDS_MAX = 10**5


def run_hash(experiment: str | Experiment, config, seed: int, *, threads: int = 1) -> str:
    """SHA-256 hex digest naming the run ``(experiment name, version, config, seed[, threads])``.

    ``threads`` (≥ 1, default 1 — what sweep workers use) enters the hashed document only when
    it differs from 1 (see the module docstring). ``config``: a mapping of configuration values or
    a config instance of the experiment.
    """
    exp = get_experiment(experiment)
    if config is None:
        raise TypeError("config must be a mapping of configuration values or a config instance, got None")
    seed = check_int("seed", seed, 0, MAX_SEED)
    threads = check_int("threads", threads, 1)
    cfg = make_config(exp, config)
    doc = {"experiment": exp.name, "version": exp.version, "config": config_to_dict(cfg), "seed": seed}
    if threads != 1:
        doc["threads"] = threads
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
    Each grid value must be a non-empty list of values (a tuple-typed field takes a
    list of lists), and a grid must have at least one key (an empty grid is a
    ``ValueError``: the base configuration alone is ``[make_config(exp, base)]``);
    ``base`` holds single values.  Every config is validated before any is
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
    if not grids:
        raise ValueError("grid is empty (an empty list); give at least one key with a list of values, "
                         "or omit the grid to run only the base configuration")
    out, seen = [], set()
    for i, g in enumerate(grids):
        if not isinstance(g, Mapping):
            raise TypeError(f"grid must be a mapping of lists or a list of such mappings, got an element {g!r}")
        if not g:
            where = "grid" if isinstance(grid, Mapping) else f"grid[{i}]"
            raise ValueError(f"{where} is empty (no keys); give at least one key with a list of values, "
                             "or omit the grid to run only the base configuration")
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


def as_seeds(seeds) -> list[int]:
    """``seeds`` as a list of distinct non-negative ints: an int n ∈ [1, :data:`SEEDS_MAX`] means ``0..n-1``."""
    if isinstance(seeds, (numbers.Integral,)) and not isinstance(seeds, bool):
        n = check_int("seeds", seeds, 1, SEEDS_MAX)
        return list(range(n))
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a positive int n (seeds 0..n-1) or a list of ints, got {seeds!r}")
    out = [check_int(f"seeds[{i}]", s, 0, MAX_SEED) for i, s in enumerate(seeds)]
    if not out:
        raise ValueError("seeds must not be empty")
    if len(out) > SEEDS_MAX:
        raise ValueError(f"seeds has {len(out)} entries; at most SEEDS_MAX = {SEEDS_MAX} are allowed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def run_specs(experiment, configs, seeds) -> tuple[Experiment, list[RunSpec]]:
    """The experiment and one :class:`RunSpec` per distinct (config, seed), configs outer, seeds inner.

    ``configs``: one config (a mapping or a config instance) or a list/tuple of them.
    """
    exp = get_experiment(experiment)
    seeds = as_seeds(seeds)
    if isinstance(configs, Mapping) or (dataclasses.is_dataclass(configs) and not isinstance(configs, type)):
        configs = [configs]
    if not isinstance(configs, (list, tuple)):
        raise TypeError(f"configs must be a config (mapping or instance) or a list of them, got "
                        f"{type(configs).__name__}")
    cfgs = []
    for i, c in enumerate(configs):
        if not (isinstance(c, Mapping) or (dataclasses.is_dataclass(c) and not isinstance(c, type))):
            raise TypeError(f"configs[{i}] must be a mapping of configuration values or a config instance, got "
                            f"{type(c).__name__}")
        cfgs.append(make_config(exp, c))
    specs, seen = [], set()
    for cfg in cfgs:
        for s in seeds:
            rid = run_hash(exp, cfg, s)
            if rid not in seen:
                seen.add(rid)
                specs.append(RunSpec(exp.name, cfg, s, rid))
    return exp, specs
