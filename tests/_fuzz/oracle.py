"""The oracle: the outcome class of one call from what it raised or returned.

=================== ================================================================================
outcome             meaning
=================== ================================================================================
ok                  TypeError/ValueError naming the perturbed parameter, or (extreme values and the
                    valid base call) a normal return whose numbers are all finite
ok_other            (extreme values) TypeError/ValueError naming another parameter of the call, or
                    FileNotFoundError/IsADirectoryError/NotADirectoryError (a path that is no file)
silently_accepted   a type-wrong value returned normally                                   (failure)
unnamed_error       TypeError/ValueError naming no parameter (type-wrong: not the perturbed one)
                                                                                           (failure)
nonfinite           a normal return holding NaN/inf with no status field explaining it     (failure)
crash               any other exception (MemoryError, ZeroDivisionError, IndexError, OverflowError,
                    KeyError, numba errors, sqlite3 errors, ...) or the worker process died (failure)
hang                the call ran past its time bound                                        (failure)
base_error          the valid base call of a callable did not return: the callable is not fuzzed
=================== ================================================================================

Finiteness is checked recursively through tuples, lists, dicts, dataclasses and the attributes of
project objects; a container with a ``status`` field (``"diverged"``, per-chain status codes, ...)
documents its own non-finite values, unless the status reads as a normal completion.
"""
from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

FAILURES = ("crash", "hang", "silently_accepted", "unnamed_error", "nonfinite")
OUTCOMES = ("ok", "ok_other", *FAILURES, "base_error")
NORMAL_STATUS = frozenset({"completed", "done", "ok", "converged", "target_reached", "interpolated", "stable"})


def names(message: str, pname: str) -> bool:
    """Whether ``message`` names the parameter ``pname`` as a word (``x`` in ``"x must be ..."``)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(pname)}(?![A-Za-z0-9_])", message) is not None


def _status_excuses(status) -> bool:
    if isinstance(status, str):
        return status not in NORMAL_STATUS
    return status is not None


def nonfinite_path(obj, depth: int = 0, seen: set | None = None) -> str | None:
    """Where a NaN or infinity sits inside ``obj`` (``"[0].x"``), or None when every number is finite."""
    seen = set() if seen is None else seen
    if depth > 8 or id(obj) in seen:
        return None
    if isinstance(obj, (bool, np.bool_, int, np.integer, str, bytes)) or obj is None:
        return None
    if isinstance(obj, (float, np.floating)):
        return None if math.isfinite(obj) else f"={obj}"
    if isinstance(obj, (complex, np.complexfloating)):
        return None if np.isfinite(obj) else f"={obj}"
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc" and obj.size and not np.all(np.isfinite(obj)):
            return f" (array {obj.shape}, {int(np.sum(~np.isfinite(obj)))} non-finite)"
        if obj.dtype == object:
            for i, v in enumerate(obj.flat[:1000]):
                r = nonfinite_path(v, depth + 1, seen)
                if r is not None:
                    return f"[{i}]{r}"
        return None
    seen.add(id(obj))
    if isinstance(obj, dict):
        if "status" in obj and _status_excuses(obj["status"]):
            return None
        for k, v in list(obj.items())[:1000]:
            r = nonfinite_path(v, depth + 1, seen)
            if r is not None:
                return f"[{k!r}]{r}"
        return None
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:1000]):
            r = nonfinite_path(v, depth + 1, seen)
            if r is not None:
                return f"[{i}]{r}"
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    elif type(obj).__module__.split(".")[0] in ("theory", "simulations") and hasattr(obj, "__dict__"):
        fields = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    else:
        return None
    if _status_excuses(fields.get("status")) or fields.get("diverged") is True:
        return None
    for k, v in fields.items():
        r = nonfinite_path(v, depth + 1, seen)
        if r is not None:
            return f".{k}{r}"
    return None


def classify(cls: str, param: str, params: list[str], exc: BaseException | None, result=None, *,
             finite: bool = True) -> dict:
    """Outcome of one call: ``cls`` is "base", "type" or "extreme"; ``param`` the perturbed parameter.

    ``finite=False`` (a documented non-finite result) turns the finiteness check off.
    """
    if exc is None:
        if cls == "type":
            return {"outcome": "silently_accepted", "message": f"returned {type(result).__name__}"}
        where = nonfinite_path(result) if finite else None
        if where is not None:
            return {"outcome": "nonfinite", "message": f"result{where}"}
        return {"outcome": "ok", "message": ""}
    msg = f"{type(exc).__name__}: {exc}"[:400]
    if cls == "base":
        return {"outcome": "base_error", "message": msg}
    if type(exc) in (TypeError, ValueError) or (isinstance(exc, (TypeError, ValueError))
                                                 and type(exc).__module__.split(".")[0] in ("theory", "simulations")):
        text = str(exc)
        named = [p for p in params if names(text, p)]
        if param in named:
            return {"outcome": "ok", "message": msg, "named": named}
        if cls == "extreme" and named:
            return {"outcome": "ok_other", "message": msg, "named": named}
        return {"outcome": "unnamed_error", "message": msg, "named": named}
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return {"outcome": "ok_other", "message": msg}   # the conventional error for a missing file
    return {"outcome": "crash", "message": msg}
