"""Imported once by the forkserver so that workers start with the project's modules loaded.

Every import is guarded: a module broken at the moment of the run must not kill the server (its
callables then fail to resolve in the worker and are reported, not hidden).
"""
from __future__ import annotations

import importlib

from tests._fuzz import discover, values, worker  # noqa: F401

try:
    _names, _ = discover.public_modules()
except Exception:  # noqa: BLE001
    _names = []
for _name in _names:
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001, S110
        pass
