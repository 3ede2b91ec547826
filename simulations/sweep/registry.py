"""The experiment registry: the :func:`experiment` decorator, lookup by name, discovery.

An experiment is a deterministic function ``run(config, seed) -> dict`` registered under
a name with its configuration dataclass (:mod:`simulations.sweep.config`).  It returns
``{"status": "done"|"diverged", "metrics": {...}, "history": [...]}``, or raises
:class:`Diverged`.  This module is the only part of the sweep tool that experiment
modules need.

Discovery: experiment modules live in the packages named in :data:`EXPERIMENT_PACKAGES`
(``simulations.experiments``, one module per topic).  :func:`get_experiment` imports them
*by name* with :mod:`importlib` (first ``<package>.<prefix>``, where ``<prefix>`` is the
part of the experiment name before the first ``.`` or ``_``, then every module of the
package), so that the sweep tool never imports the experiments statically and the
experiments can import this module without an import cycle.  Experiments defined
elsewhere are found as long as their module has been imported (workers import the
defining module by name before they look the experiment up).
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulations._core.validation import check_int
from simulations.sweep.config import field_specs, validate_config

__all__ = [
    "STATUSES",
    "FINISHED",
    "EXPERIMENT_PACKAGES",
    "Diverged",
    "Experiment",
    "experiment",
    "get_experiment",
    "list_experiments",
    "import_errors",
    "make_config",
]

#: Every status a run can have in the store.
STATUSES = ("pending", "running", "done", "diverged", "failed")
#: The statuses an experiment can return (a run with one of them is never rerun).
FINISHED = ("done", "diverged")

#: Packages whose modules are imported (by name) to find experiments.
EXPERIMENT_PACKAGES: list[str] = ["simulations.experiments"]


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

    ``config`` must be a dataclass whose fields all have defaults (use
    :func:`simulations.sweep.config.param` to declare ranges and choices).  The function
    must be deterministic given ``(config, seed)`` and return a mapping ``{"status":
    "done"|"diverged", "metrics": {...}, "history": [...]}`` of JSON-serialisable values
    (numpy scalars and arrays are converted); ``status`` defaults to ``"done"`` and
    ``history`` to ``[]``.  Raising :class:`Diverged` stores a diverged run; any other
    exception stores a ``failed`` run with the traceback, and the sweep goes on.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"experiment name must match {_NAME_RE.pattern}, got {name!r}")
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        raise TypeError(f"config must be a dataclass type, got {config!r}")
    version = check_int("version", version, 1)
    field_specs(config)  # resolve annotations now: a bad config class fails at import

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


def _discover(prefix: str | None = None) -> None:
    """Import the modules of every package in :data:`EXPERIMENT_PACKAGES` (only ``prefix`` if given)."""
    for package in EXPERIMENT_PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except Exception as exc:
            _IMPORT_ERRORS[package] = f"{type(exc).__name__}: {exc}"
            continue
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = f"{package}.{info.name}"
            if info.name.startswith("_") or mod in _DISCOVERED or (prefix is not None and info.name != prefix):
                continue
            _DISCOVERED.add(mod)
            try:
                importlib.import_module(mod)
            except Exception as exc:  # one broken module must not hide the others' experiments
                _IMPORT_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"


def get_experiment(name: str | Experiment) -> Experiment:
    """The experiment registered as ``name``, importing experiment modules as needed.

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
        msg = f"unknown experiment name {name!r}; known experiments: {sorted(_REGISTRY)}"
        if _IMPORT_ERRORS:
            msg += f"; experiment modules that failed to import: {_IMPORT_ERRORS}"
        raise ValueError(msg)
    return _REGISTRY[name]


def list_experiments() -> list[str]:
    """Names of all experiments (after importing every experiment module)."""
    _discover()
    return sorted(_REGISTRY)


def import_errors() -> dict[str, str]:
    """Experiment modules that failed to import during discovery: module name -> error text."""
    return dict(_IMPORT_ERRORS)


def make_config(experiment: str | Experiment, values: Mapping | None = None, **overrides):
    """Validated config instance for ``experiment`` from a mapping (plus keyword overrides).

    Unknown keys ⇒ ``ValueError`` naming the key (with the valid keys); a wrong type ⇒
    ``TypeError`` naming the key; a value out of range ⇒ ``ValueError`` naming the key
    and its range.  Floats accept integers (``1`` and ``1.0`` give the same hash).
    A config instance of the right class is returned re-validated.
    """
    exp = get_experiment(experiment)
    return validate_config(exp.config, values, overrides, label=exp.name)
