"""Sweep files: a sweep (one experiment, its configurations, its seeds) read from YAML or TOML.

::

    experiment: toy
    seeds: 4                       # or a list: [0, 1, 2, 3]
    base: {steps: 200}             # fixed values (merged under every grid point)
    grid:                          # dict of lists -> Cartesian product (or a list of such dicts)
      lr: [0.05, 0.1, 0.2]
      batch_size: [1, 2]

To run only ``base`` (one configuration), omit ``grid`` (and ``runs``, a list of
mappings each merged over ``base``); an empty ``grid`` or ``runs`` is an error, not a
way to say "just base".  Every configuration is validated when the file is loaded,
before anything runs (``tailcomp sweep FILE --dry-run`` only loads and counts); an
error names the file (and the line, for YAML/TOML syntax and UTF-8 errors).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from simulations.sweep.plan import RunSpec, as_seeds, expand_grid, run_specs
from simulations.sweep.registry import get_experiment, make_config
from simulations.sweep.runner import SweepSummary, run_sweep
from simulations.sweep.store import ResultsStore, _file_path

__all__ = ["SWEEP_KEYS", "Sweep", "load_sweep"]

#: The keys a sweep file may have.
SWEEP_KEYS = ("experiment", "name", "description", "seeds", "base", "grid", "runs")


@dataclass
class Sweep:
    """A sweep: one experiment, its configs and its seeds (from Python or :func:`load_sweep`)."""

    experiment: str
    configs: list
    seeds: list[int]
    name: str = ""

    def runs(self) -> list[RunSpec]:
        """Every (config, seed) pair as a :class:`RunSpec`, configs outer, seeds inner."""
        return run_specs(self.experiment, self.configs, self.seeds)[1]

    def run(self, store: str | os.PathLike | ResultsStore, **kwargs) -> SweepSummary:
        """Shorthand for :func:`run_sweep` with this sweep's experiment, configs and seeds."""
        kwargs.setdefault("name", self.name)
        return run_sweep(self.experiment, self.configs, store, seeds=self.seeds, **kwargs)


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read sweep file {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: line {line}: not valid UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "a sweep file must be UTF-8"
        ) from None


def _read(path: Path) -> Mapping:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        text = _text(path)
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            context = getattr(exc, "context", None)
            what = f"{context}: {problem}" if context and problem else problem
            raise ValueError(f"{path}:{where} invalid YAML: {what}") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        text = _text(path)
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: invalid TOML: {exc}") from None
    raise ValueError(f"path must be a sweep file ending in .yaml, .yml or .toml, got {path.name!r}")


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read a sweep from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file and validate it.

    Keys: ``experiment`` (required), ``name``, ``description``, ``seeds`` (an int n ⇒
    0..n-1, or a list; default 1), ``base`` (mapping), ``grid`` (mapping of lists, or a
    list of them), ``runs`` (list of mappings, each merged over ``base``).  Without
    ``grid`` and ``runs`` the sweep is the single config ``base``; an empty ``grid``
    (``{}``, ``[]`` or a list holding ``{}``) or ``runs`` (``[]``) is an error.  Unknown
    keys, unreadable files, invalid UTF-8, YAML or TOML ⇒ ``ValueError`` naming the file
    (and the line); every config is validated here, before anything runs. ``path``: a str or
    os.PathLike naming a file (a missing file is a ``FileNotFoundError``).
    """
    path = _file_path("path", path, "a sweep file")
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {str(path)!r} not found")
    doc = _read(path)
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path}: a sweep file must be a mapping with keys {list(SWEEP_KEYS)}")
    unknown = [k for k in doc if k not in SWEEP_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown sweep key(s) {unknown}; valid keys: {list(SWEEP_KEYS)}")
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
            if not runs:
                raise ValueError("runs is empty; give at least one run, or omit 'grid' and 'runs' to run only 'base'")
            for i, r in enumerate(runs):
                if not isinstance(r, Mapping):
                    raise TypeError(f"runs[{i}] must be a mapping, got {r!r}")
                configs.append(make_config(exp, {**base, **r}))
        if "grid" not in doc and "runs" not in doc:
            configs.append(make_config(exp, base))
        seeds = as_seeds(doc.get("seeds", 1))
        name = doc.get("name", path.stem)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return Sweep(experiment=exp.name, configs=configs, seeds=seeds, name=name)
