"""Discovery of the public callables of :mod:`theory` and :mod:`simulations`.

Every non-underscore module of the two packages is imported, except the kernel modules: the
modules named in the kernel contract of ``pyproject.toml`` (``[[tool.importlinter.contracts]]``
whose ``source_modules`` are the kernels), the module names that are kernels wherever they sit
(``cpu``, ``cuda``, ``cuda_launch``, ``*_kernels``, ``cpu_dense``, ... ) and anything under
``_core``. Each imported module's ``__all__`` is read; functions and classes defined inside the
project are kept, deduplicated by object identity, and named canonically by the module that
defines them (``obj.__module__ + "." + obj.__qualname__``), with every public name that exports
them recorded too.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("theory", "simulations")

# Kernel module names wherever they sit (plain functions on arrays; never validate by design).
KERNEL_NAMES = frozenset({
    "cpu", "cuda", "cuda_launch", "cpu_kernels", "cuda_kernels", "cpu_dense", "cuda_dense", "cpu_noise",
    "recursion", "pointwise",
})


def kernel_modules(pyproject: Path = REPO / "pyproject.toml") -> frozenset[str]:
    """The kernel modules listed in the import-linter contract "kernel modules ... import no API module"."""
    data = tomllib.loads(pyproject.read_text())
    out: set[str] = set()
    for contract in data.get("tool", {}).get("importlinter", {}).get("contracts", []):
        if "kernel" in contract.get("name", "").lower() and contract.get("type") == "forbidden":
            out.update(contract.get("source_modules", ()))
    return frozenset(out)


def is_kernel(modname: str, listed: frozenset[str]) -> bool:
    parts = modname.split(".")
    return modname in listed or parts[-1] in KERNEL_NAMES or "_core" in parts


@dataclass
class Target:
    """One public callable: canonical name, the object, and every public name exporting it."""

    name: str
    obj: object
    exported_as: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        return self.obj.__module__

    @property
    def short(self) -> str:
        return self.obj.__qualname__


def public_modules() -> tuple[list[str], dict[str, str]]:
    """Importable non-kernel public module names, and modules skipped with the reason."""
    listed = kernel_modules()
    names, skipped = [], {}
    for pkgname in PACKAGES:
        pkg = importlib.import_module(pkgname)
        names.append(pkgname)
        for info in pkgutil.walk_packages(pkg.__path__, pkgname + ".", onerror=lambda name: None):
            parts = info.name.split(".")
            if any(p.startswith("_") for p in parts):
                skipped[info.name] = "private module"
            elif is_kernel(info.name, listed):
                skipped[info.name] = "kernel module"
            else:
                names.append(info.name)
    return names, skipped


def in_project(obj) -> bool:
    mod = getattr(obj, "__module__", None) or ""
    return mod.split(".")[0] in PACKAGES


IMPORT_ERRORS: dict[str, str] = {}


def discover() -> list[Target]:
    """Every public function and class of the two packages, deduplicated, sorted by canonical name.

    A module that fails to import is left out and recorded in :data:`IMPORT_ERRORS`.
    """
    names, _ = public_modules()
    by_id: dict[int, Target] = {}
    IMPORT_ERRORS.clear()
    for modname in names:
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001  (a broken module must not hide the others)
            IMPORT_ERRORS[modname] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or not in_project(obj):
                continue
            t = by_id.get(id(obj))
            if t is None:
                t = by_id[id(obj)] = Target(f"{obj.__module__}.{obj.__qualname__}", obj)
            t.exported_as.append(f"{modname}.{attr}")
    return sorted(by_id.values(), key=lambda t: t.name)


def resolve(name: str):
    """The object named canonically by ``module.qualname`` (used by the worker processes)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(name)
