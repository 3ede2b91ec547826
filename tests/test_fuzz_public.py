"""Fuzz test of every public callable of ``theory`` and ``simulations`` (quick profile).

The harness lives in :mod:`tests._fuzz` (``python -m tests._fuzz --profile long --report r.json``
runs the long profile; ``make fuzz`` too). Here: discovery finds the packages' ``__all__``, the
oracle classifies tiny fake functions correctly (so the harness itself can fail), and the quick
profile finds no failure outside ``tests/_fuzz/known_failures.py`` while every listed entry
still fails.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._fuzz import discover as disc  # noqa: E402
from tests._fuzz import fakes, oracle, runner  # noqa: E402
from tests._fuzz import strategies as strat  # noqa: E402
from tests._fuzz.known_failures import KNOWN_FAILURES  # noqa: E402


# ------------------------------------------------------------------------------------ discovery
def test_discovery_finds_every_public_name():
    targets = disc.discover()
    assert len(targets) > 100
    names = {t.name for t in targets}
    exported = {e for t in targets for e in t.exported_as}
    for must in ("simulations.stable.api.rvs", "theory.kesten.numeric.tail_index",
                 "simulations.tail_index.estimators.hill", "simulations.nn.train.train"):
        assert must in names
    assert "simulations.stable.rvs" in exported and "theory.kesten.tail_index" in exported
    # every project function/class in the __all__ of a public, importable, non-kernel module is found
    modules, skipped = disc.public_modules()
    assert "simulations.stable.cpu" in skipped and "simulations.nn.backends.cuda_kernels" in skipped
    assert all("_core" not in m.split(".") for m in modules)
    for m in modules:
        if m in disc.IMPORT_ERRORS:
            continue
        mod = importlib.import_module(m)
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and disc.in_project(obj):
                assert f"{m}.{attr}" in exported


def test_kernel_modules_come_from_the_import_contract():
    listed = disc.kernel_modules()
    assert "simulations.stable.streams" in listed and "simulations.kesten.recursion" in listed


def test_every_skip_and_custom_entry_names_a_discovered_callable():
    names = {t.name for t in disc.discover()}
    for name, why in strat.SKIP.items():
        assert why.strip()
        assert name in names, f"SKIP names {name}, which is not a public callable (renamed or removed?)"
    for name in strat.CUSTOM:
        assert name in names, f"CUSTOM names {name}, which is not a public callable (renamed or removed?)"


# ------------------------------------------------------------------------------------ oracle
def test_oracle_classifies_exceptions_and_results():
    ps = ["x", "flag"]
    assert oracle.classify("type", "x", ps, ValueError("x must be in [0, 1], got 'a'"))["outcome"] == "ok"
    assert oracle.classify("type", "x", ps, TypeError("must be a number"))["outcome"] == "unnamed_error"
    assert oracle.classify("type", "x", ps, TypeError("flag must be bool"))["outcome"] == "unnamed_error"
    assert oracle.classify("extreme", "x", ps, ValueError("flag must be bool"))["outcome"] == "ok_other"
    assert oracle.classify("extreme", "x", ps, ZeroDivisionError("x"))["outcome"] == "crash"
    assert oracle.classify("extreme", "x", ps, np.linalg.LinAlgError("x singular"))["outcome"] == "crash"
    assert oracle.classify("type", "x", ps, None, 1.0)["outcome"] == "silently_accepted"
    assert oracle.classify("extreme", "x", ps, None, (1.0, [np.ones(2), {"a": np.inf}]))["outcome"] == "nonfinite"
    assert oracle.classify("extreme", "x", ps, None, {"status": "diverged", "x": np.nan})["outcome"] == "ok"
    assert oracle.classify("extreme", "x", ps, None, {"status": "completed", "x": np.nan})["outcome"] == "nonfinite"
    assert oracle.classify("extreme", "x", ps, None, np.inf, finite=False)["outcome"] == "ok"
    assert not oracle.names("index out of range", "x") and oracle.names("x must be > 0", "x")


def _fake_job(fn, calls: list[tuple[str, str, str]]) -> runner.Job:
    target = disc.Target(f"{fn.__module__}.{fn.__qualname__}", fn)
    plan = strat.make_plan(target)
    return runner.Job(plan, [strat._call(plan, p, v, c) for p, v, c in calls])


def test_oracle_on_fake_functions_in_workers():
    """The whole pipeline (workers, time bound, classification) on functions with known faults."""
    jobs = [
        _fake_job(fakes.accepts_flag_by_truthiness, [("flag", "1", "type"), ("flag", "'yes'", "type")]),
        _fake_job(fakes.divides_by_zero, [("x", "0.0", "extreme"), ("x", "'a'", "type")]),
        _fake_job(fakes.sleeps, [("x", "2.0", "extreme")]),
        _fake_job(fakes.validates, [("x", "'a'", "type"), ("x", "1e300", "extreme"), ("x", "float('nan')", "extreme"),
                                    ("x", "0.0", "extreme")]),
        _fake_job(fakes.returns_nan, [("x", "2.0", "extreme")]),
    ]
    prof = runner.Profile("selftest", 0, 0, timeout=3.0, warm_timeout=60.0, workers=2, arbitrary=False)
    runner.run_jobs(jobs, prof, log=lambda m: None)
    got = {(j.plan.short, r["call"]): r["outcome"] for j in jobs for r in j.results}
    assert all(j.base["outcome"] == "ok" for j in jobs)
    assert got == {
        ("accepts_flag_by_truthiness", "accepts_flag_by_truthiness(flag=1)"): "silently_accepted",
        ("accepts_flag_by_truthiness", "accepts_flag_by_truthiness(flag='yes')"): "silently_accepted",
        ("divides_by_zero", "divides_by_zero(x=0.0)"): "crash",
        ("divides_by_zero", "divides_by_zero(x='a')"): "crash",
        ("sleeps", "sleeps(x=2.0)"): "hang",
        ("validates", "validates(x='a')"): "ok",
        ("validates", "validates(x=1e300)"): "ok",
        ("validates", "validates(x=float('nan'))"): "ok",
        ("validates", "validates(x=0.0)"): "ok",
        ("returns_nan", "returns_nan(x=2.0)"): "nonfinite",
    }


def test_calls_are_deterministic_and_distinct():
    t = next(t for t in disc.discover() if t.name == "simulations.stable.api.rvs")
    plan = strat.make_plan(t)
    a = [str(c) for c in strat.draw_calls(plan, "extreme", 6)]
    b = [str(c) for c in strat.draw_calls(plan, "extreme", 6)]
    assert a == b and len(set(a)) == len(a) == 6


# ------------------------------------------------------------------------------------ quick profile
@pytest.fixture(scope="module")
def quick_report():
    rep = runner.fuzz("quick", log=lambda m: None)
    print(runner.summary_text(rep))
    return rep


def test_quick_profile_has_no_unknown_failure(quick_report):
    assert quick_report["callables"] > 100
    unknown = [f for f in quick_report["failures"] if f["callable"] not in KNOWN_FAILURES]
    lines = [f"{f['outcome']}: {f['call']} -> {f['message'][:200]}" for f in unknown]
    assert not unknown, "fuzz failures outside tests/_fuzz/known_failures.py:\n" + "\n".join(lines)
    assert not quick_report["harness_errors"], quick_report["harness_errors"][:5]


def test_known_failures_still_fail(quick_report):
    failing = set(quick_report["failing_callables"])
    fixed = sorted(set(KNOWN_FAILURES) - failing)
    assert not fixed, f"these callables no longer fail: remove them from tests/_fuzz/known_failures.py: {fixed}"
