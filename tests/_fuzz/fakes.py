"""Tiny fake callables on which the harness checks its own oracle (see tests/test_fuzz_public.py)."""
from __future__ import annotations

import time

from theory.validation import check_real


def accepts_flag_by_truthiness(x: float = 1.0, flag: bool = False) -> float:
    """Wrong: ``flag`` is used by truthiness, so ``flag=1`` or ``"yes"`` is silently accepted."""
    return -x if flag else x


def divides_by_zero(x: float = 1.0) -> float:
    """Wrong: a ZeroDivisionError for x = 0 and for type-wrong values a bare TypeError."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0:
        return 1.0 / x
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        raise ZeroDivisionError("boom")
    return 1.0 / x


def sleeps(x: float = 1.0) -> float:
    """Wrong: never returns in time for any x other than the default."""
    if x != 1.0:
        time.sleep(3600)
    return x


def validates(x: float = 1.0) -> float:
    """Right: ``ValueError("x must be ...")`` for every bad x, a finite result otherwise."""
    return 2.0 * check_real("x", x, -10.0, 10.0)


def returns_nan(x: float = 1.0) -> float:
    """Wrong: NaN for any x other than the default, with no status explaining it."""
    check_real("x", x)
    return 1.0 if x == 1.0 else float("nan")
