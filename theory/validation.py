"""Input validation shared by the public API of :mod:`theory` and :mod:`simulations`.

Every public function validates its inputs with these helpers so that a bad
value raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a
message that names the parameter and its valid range, e.g.::

    ValueError: alpha must be in (0, 2], got 2.5

Kernels (the ``cpu.py``, ``cuda.py`` and ``*_kernels.py`` modules of :mod:`simulations`) never
validate: they trust their callers. Seeding (seed → SeedSequence → named children → kernel
stream seeds, and the checks of ``seed``) is :mod:`simulations._core.seeding`.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import numpy as np

__all__ = [
    "check_real",
    "check_int",
    "check_alpha",
    "check_beta",
    "check_positive",
    "check_probability",
    "check_array",
    "check_dtype",
    "check_choice",
    "check_bool",
    "check_rows",
]


def _bound(name: str, which: str, bound: Any, integer: bool = False):
    """A bound of an interval (``low``/``high``): None (unbounded) or a real number, not NaN.

    ``integer=True`` requires an integer (an integer-valued float is accepted, as for values).
    """
    if bound is None:
        return None
    if isinstance(bound, np.ndarray) and bound.ndim == 0:
        bound = bound.item()
    if isinstance(bound, (bool, np.bool_)) or not isinstance(bound, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{which} (the bound checked for {name}) must be a real number or None, "
                        f"got {type(bound).__name__} {bound!r}")
    if math.isnan(bound):
        raise ValueError(f"{which} (the bound checked for {name}) must not be NaN")
    if integer:
        if isinstance(bound, (float, np.floating)):
            if not float(bound).is_integer():
                raise TypeError(f"{which} (the bound checked for {name}) must be an integer or None, got {bound!r}")
            bound = int(bound)
        return int(bound)
    return bound


def _fmt_interval(low, high, low_open, high_open) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``float(value)`` after checking it is a finite real number in the interval.

    ``low_open``/``high_open`` (bools) make the corresponding end point excluded; ``low``/``high``
    are real numbers or None (unbounded).
    """
    low = _bound(name, "low", low)
    high = _bound(name, "high", high)
    low_open = check_bool("low_open", low_open)
    high_open = check_bool("high_open", high_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    rng = _fmt_interval(low, high, low_open, high_open)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite and in {rng}, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be in {rng}, got {v:g}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be in {rng}, got {v:g}")
    return v


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``int(value)`` after checking it is an integer in ``[low, high]`` (bounds: integers or None)."""
    low = _bound(name, "low", low, integer=True)
    high = _bound(name, "high", high, integer=True)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {v}")
    return v


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """Stability index: a finite real in (0, 2]."""
    return check_real(name, alpha, 0.0, 2.0, low_open=True)


def check_beta(beta: Any, name: str = "beta") -> float:
    """Skewness: a finite real in [-1, 1]."""
    return check_real(name, beta, -1.0, 1.0)


def check_positive(name: str, value: Any) -> float:
    """A finite real > 0 (scales, step sizes, variances)."""
    return check_real(name, value, 0.0, None, low_open=True)


def check_probability(name: str, value: Any, *, open_low: bool = False, open_high: bool = False) -> float:
    """A fraction in [0, 1] (ends optionally excluded by the bools ``open_low``/``open_high``)."""
    open_low = check_bool("open_low", open_low)
    open_high = check_bool("open_high", open_high)
    return check_real(name, value, 0.0, 1.0, low_open=open_low, high_open=open_high)


def check_array(
    name: str,
    x: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    min_size: int = 0,
    finite: bool = True,
    dtype=None,
) -> np.ndarray:
    """Convert to an ndarray and check dimensions, size and finiteness.

    ``dtype=None`` keeps a floating dtype and converts anything else to float64. ``ndim`` is None,
    an int or a tuple of ints; ``min_size`` an int >= 0; ``finite`` a bool.
    """
    if ndim is not None:
        if isinstance(ndim, (bool, np.bool_)) or not isinstance(ndim, (int, np.integer, tuple)) or (
                isinstance(ndim, tuple) and not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                                    for d in ndim)):
            raise TypeError(f"ndim (for {name}) must be None, an int or a tuple of ints, got {ndim!r}")
        ndim = int(ndim) if isinstance(ndim, np.integer) else ndim
    min_size = check_int("min_size", min_size, 0)
    finite = check_bool("finite", finite)
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"dtype (for {name}) must be None or a numpy dtype, got {dtype!r}") from exc
        if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
            raise TypeError(f"dtype (for {name}) must be a numeric numpy dtype, got {dtype}")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entries, got {arr.size}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr


def check_dtype(dtype: Any, allowed=(np.float32, np.float64), name: str = "dtype") -> np.dtype:
    """A numpy dtype among ``allowed`` (float32/float64 by default)."""
    if isinstance(allowed, (str, bytes, np.ndarray)) or not isinstance(allowed, Collection) or not allowed:
        raise TypeError(f"allowed (the dtypes accepted for {name}) must be a non-empty tuple of dtypes, got {allowed!r}")
    try:
        allowed = [np.dtype(a) for a in allowed]
    except TypeError as exc:
        raise TypeError(f"allowed (the dtypes accepted for {name}) must hold numpy dtypes, got {allowed!r}") from exc
    if dtype is None:   # numpy reads None as float64: refuse it rather than pick a default silently
        raise TypeError(f"{name} must be one of {[np.dtype(a).name for a in allowed]}, got None")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be one of {[np.dtype(a).name for a in allowed]}, got {dtype!r}") from exc
    if dt not in [np.dtype(a) for a in allowed]:
        raise ValueError(f"{name} must be one of {[np.dtype(a).name for a in allowed]}, got {dt.name}")
    return dt


def check_choice(name: str, value: Any, choices) -> Any:
    """One of a fixed set of options (strings compared exactly).

    When every option is a string, ``value`` must be a ``str`` (a one-element numpy array of
    strings, say, is a ``TypeError`` rather than being compared element-wise).
    """
    if isinstance(choices, (str, bytes, np.ndarray)) or not isinstance(choices, Collection) or not choices:
        raise TypeError(f"choices (the options for {name}) must be a non-empty tuple of options, got {choices!r}")
    choices = tuple(choices)
    listed = sorted(map(str, choices))
    if all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed} (a string), got {type(value).__name__} {value!r}")
    if isinstance(value, np.ndarray) or (
            isinstance(value, (bool, np.bool_)) and not any(isinstance(c, (bool, np.bool_)) for c in choices)):
        raise TypeError(f"{name} must be one of {listed}, got {type(value).__name__} {value!r}")
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """A flag: ``True`` or ``False`` (a Python or numpy bool; no truthiness of other objects)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_rows(name: str, rows: Any, keys, what: str) -> list:
    """A list (or tuple) of dicts each holding ``keys``: the rows of a table ``what`` produced.

    ``TypeError`` names ``name`` (or ``name[i]``) for a non-list or a non-dict row, ``ValueError``
    lists the missing keys of the first incomplete row.
    """
    from collections.abc import Mapping

    if isinstance(keys, (str, bytes)) or not isinstance(keys, (tuple, list, frozenset, set)):
        raise TypeError(f"keys must be a tuple of the required row keys, got {type(keys).__name__}")
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"{name} must be a list of {what} rows (dicts), got {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise TypeError(f"{name}[{i}] must be a dict (a row of {what}), got {type(r).__name__}")
        missing = [k for k in keys if k not in r]
        if missing:
            raise ValueError(f"{name}[{i}] lacks the keys {missing} of a row of {what}")
    return list(rows)
