"""Typed experiment configurations: :func:`param` fields, their specs, validation, canonical JSON.

An experiment's configuration is a frozen dataclass whose fields all have defaults; the
annotation gives the type (``int``, ``float``, ``bool``, ``str``, ``X | None``,
``Literal[...]``, ``tuple[X, ...]``/``list[X]``) and :func:`param` adds a range
``[low, high]`` (either end open) or a set of ``choices``.  :func:`validate_config`
checks a mapping of values against the class and builds the instance; the message of
every error names the key.  :func:`canonical_json` is the byte-exact text the run hash
is computed from (sorted keys, no whitespace, ASCII, shortest round-trip floats).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulations._core.validation import check_bool, check_choice, check_int, check_real

__all__ = ["FieldSpec", "param", "field_specs", "validate_config", "jsonable", "config_to_dict", "canonical_json"]


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
    low_open = check_bool("low_open", low_open)
    high_open = check_bool("high_open", high_open)
    if not isinstance(help, str):
        raise TypeError(f"help must be a str, got {type(help).__name__}")
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


@dataclass(frozen=True)
class FieldSpec:
    """What a configuration field accepts: its kind, range, choices, default and help text."""

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
    default: Any = None  # the default value (a fresh copy for list/dict defaults); None when required
    help: str = ""

    @property
    def type_name(self) -> str:
        """``int``, ``float``, ``tuple[int]``, ... with ``| None`` when None is accepted."""
        kind = f"{self.seq_type.__name__}[{self.elem}]" if self.kind == "seq" else self.kind
        return kind + (" | None" if self.optional else "")

    @property
    def range_text(self) -> str:
        """`` one of [...]``, `` in [low, high)`` or the empty string."""
        if self.choices is not None:
            return f" one of {list(self.choices)}"
        if self.low is None and self.high is None:
            return ""
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f" in {left}{lo}, {hi}{right}"


_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str"}
_SPEC_CACHE: dict[type, dict[str, FieldSpec]] = {}


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


def field_specs(cls: type) -> dict[str, FieldSpec]:
    """The :class:`FieldSpec` of every ``init`` field of the config dataclass ``cls``, in order.

    Raises ``TypeError`` for an annotation this module cannot validate, or when ``cls`` is not a
    dataclass type.
    """
    _check_config_class(cls)
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
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        specs[f.name] = FieldSpec(
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
            required=required,
            default=default,
            help=m.get("help", ""),
        )
    _SPEC_CACHE[cls] = specs
    return specs


def _check_config_class(cls: Any) -> None:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"cls must be a config dataclass (a class), got {type(cls).__name__} {cls!r}")


def _check_scalar(name: str, kind: str, value: Any, spec: FieldSpec) -> Any:
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
    return jsonable(value)


def _check_field(spec: FieldSpec, value: Any) -> Any:
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


def validate_config(cls: type, values: Mapping | None = None, overrides: Mapping | None = None, *, label: str = ""):
    """Validated instance of the config dataclass ``cls`` from a mapping (or an instance of ``cls``).

    ``overrides`` are merged over ``values``.
    Unknown keys ⇒ ``ValueError`` naming the key (with the valid keys); a wrong type ⇒
    ``TypeError`` naming the key; a value out of range ⇒ ``ValueError`` naming the key
    and its range; ``__post_init__`` cross-field checks run last.  ``label`` (the
    experiment name) prefixes every message. ``values`` must be None, a mapping or an instance
    of ``cls``; ``overrides`` None or a mapping.
    """
    _check_config_class(cls)
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    label = label or cls.__name__
    if values is None:
        values = {}
    elif isinstance(values, cls):
        values = {f.name: getattr(values, f.name) for f in dataclasses.fields(cls) if f.init}
    elif dataclasses.is_dataclass(values) and not isinstance(values, type):
        raise TypeError(f"values (the config for experiment {label!r}) must be a {cls.__name__} or a mapping, "
                        f"got {type(values).__name__}")
    elif not isinstance(values, Mapping):
        raise TypeError(f"values (the config for experiment {label!r}) must be a mapping, got {type(values).__name__}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping of configuration values or None, got {type(overrides).__name__}")
    values = {**values, **(overrides or {})}
    specs = field_specs(cls)
    for key in values:
        if not isinstance(key, str):
            raise TypeError(f"{label}: configuration keys must be strings, got {key!r}")
        if key not in specs:
            close = difflib.get_close_matches(key, list(specs), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{label}: unknown configuration key {key!r}{hint}; valid keys: {sorted(specs)}")
    missing = [k for k, s in specs.items() if s.required and k not in values]
    if missing:
        raise ValueError(f"{label}: missing required configuration key(s) {missing}")
    checked = {}
    for key, val in values.items():
        try:
            checked[key] = _check_field(specs[key], val)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{label}: configuration key {key!r}: {exc}") from None
    try:
        return cls(**checked)
    except (TypeError, ValueError) as exc:  # __post_init__ cross-field checks
        raise type(exc)(f"{label}: {exc}") from None


def jsonable(obj: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays, tuples, paths, dataclasses."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)) or (isinstance(obj, Iterable) and not isinstance(obj, bytes)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"obj holds a value of type {type(obj).__name__}, which is not JSON-serialisable: {obj!r}")


def config_to_dict(config) -> dict:
    """The configuration as a plain dict of JSON values (tuples become lists)."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    return jsonable(config)


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, ASCII, shortest round-trip floats, no NaN.

    ``obj`` must hold JSON values only (see :func:`jsonable`); a NaN or infinity is a ``ValueError``.
    """
    try:
        return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except ValueError as exc:  # json's own message names no argument
        raise ValueError(f"obj must hold finite numbers only (canonical JSON has no NaN or infinity): {exc}") from None
