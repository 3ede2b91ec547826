"""Typed configurations, run hashes, grids and the experiment registry (simulations.sweep.config, .plan, .registry).

Oracles: the run hash against a SHA-256 of JSON built independently in the test;
validation against the ranges written in the toy configuration.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations import sweep as sw
from simulations.sweep import config as sweep_config
from simulations.sweep import plan as sweep_plan
from simulations.sweep import report as sweep_report


def test_run_hash_is_sha256_of_canonical_json():
    cfg = sw.make_config("toy", lr=1, batch_size=4)
    doc = {"experiment": "toy", "version": 1, "seed": 7,
           "config": {"batch_size": 4, "eval_every": 100, "fail": False, "lr": 1.0, "sleep": 0.0, "steps": 1000, "x0": 0.0}}
    expected = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sw.run_hash("toy", cfg, 7) == expected
    assert sw.run_hash("toy", {"batch_size": 4, "lr": 1.0}, 7) == expected  # int/float and key order do not matter
    assert sw.run_hash("toy", cfg, 8) != expected
    assert sw.run_hash("toy", sw.make_config("toy", lr=1.0000001, batch_size=4), 7) != expected


def test_run_hash_holds_threads_only_when_not_one():
    # one-thread runs (every sweep worker) keep the hash of the document without "threads"
    cfg = sw.make_config("toy", lr=1, batch_size=4)
    doc = {"experiment": "toy", "version": 1, "seed": 7,
           "config": {"batch_size": 4, "eval_every": 100, "fail": False, "lr": 1.0, "sleep": 0.0, "steps": 1000, "x0": 0.0}}
    plain = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sw.run_hash("toy", cfg, 7, threads=1) == sw.run_hash("toy", cfg, 7) == plain
    two = hashlib.sha256(json.dumps({**doc, "threads": 2}, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sw.run_hash("toy", cfg, 7, threads=2) == two != plain
    with pytest.raises(ValueError, match="threads"):
        sw.run_hash("toy", cfg, 7, threads=0)
    with pytest.raises(TypeError, match="threads"):
        sw.run_hash("toy", cfg, 7, threads=True)


def test_expand_grid_product_union_and_dedup():
    cfgs = sw.expand_grid("toy", [{"lr": [0.1, 0.2], "batch_size": [1, 2, 3]}, {"lr": [0.1], "batch_size": [1]}],
                          base={"steps": 50, "eval_every": 10})
    assert len(cfgs) == 6  # the second grid repeats a point of the first
    assert {(c.lr, c.batch_size) for c in cfgs} == {(e, b) for e in (0.1, 0.2) for b in (1, 2, 3)}
    assert all(c.steps == 50 for c in cfgs)


def test_yaml_and_toml_give_the_same_runs(tmp_path):
    (tmp_path / "a.yaml").write_text("experiment: toy\nseeds: [1, 2]\nbase: {steps: 50, eval_every: 10}\ngrid: {lr: [0.1, 0.3]}\n")
    (tmp_path / "a.toml").write_text('experiment = "toy"\nseeds = [1, 2]\n[base]\nsteps = 50\neval_every = 10\n[grid]\nlr = [0.1, 0.3]\n')
    ids = [[r.run_id for r in sw.load_sweep(tmp_path / f).runs()] for f in ("a.yaml", "a.toml")]
    assert ids[0] == ids[1] and len(set(ids[0])) == 4


@pytest.mark.parametrize(
    "values, exc, words",
    [
        ({"lrr": 0.1}, ValueError, ["lrr", "did you mean 'lr'"]),
        ({"lr": "big"}, TypeError, ["'lr'"]),
        ({"batch_size": 1.5}, TypeError, ["'batch_size'"]),
        ({"fail": "yes"}, TypeError, ["fail"]),
        ({"lr": -1.0}, ValueError, ["'lr'", "(0, 10]"]),
        ({"lr": float("nan")}, ValueError, ["'lr'"]),
        ({"batch_size": 0}, ValueError, ["'batch_size'", "[1, 10000]"]),
        ({"steps": 10, "eval_every": 20}, ValueError, ["eval_every"]),  # cross-field check
    ],
)
def test_bad_config_names_the_key(values, exc, words):
    with pytest.raises(exc) as info:
        sw.make_config("toy", values)
    for w in words:
        assert w in str(info.value)


@given(lr=st.floats(allow_nan=True, allow_infinity=True), batch_size=st.integers(-5, 20_000))
def test_config_validation_property(lr, batch_size):
    ok = math.isfinite(lr) and 0 < lr <= 10 and 1 <= batch_size <= 10_000
    if ok:
        cfg = sw.make_config("toy", lr=lr, batch_size=batch_size)
        assert (cfg.lr, cfg.batch_size) == (lr, batch_size)
    else:
        with pytest.raises(ValueError, match="'lr'|'batch_size'"):
            sw.make_config("toy", lr=lr, batch_size=batch_size)


@settings(max_examples=25)
@given(value=st.one_of(st.text(max_size=3), st.lists(st.integers(), max_size=2), st.none(), st.booleans()))
def test_config_wrong_types_property(value):
    with pytest.raises(TypeError, match="'lr'"):
        sw.make_config("toy", lr=value)


def test_experiment_registry():
    assert "toy" in sw.list_experiments()
    assert sw.get_experiment("toy").config.__name__ == "ToyConfig"
    with pytest.raises(ValueError, match="unknown experiment"):
        sw.get_experiment("nonexistent_experiment")
    with pytest.raises(ValueError, match="already registered"):
        sw.experiment("toy", config=sw.get_experiment("toy").config)(lambda c, s: {})
    with pytest.raises(TypeError, match="dataclass"):
        sw.experiment("x_bad", config=dict)
    assert dataclasses.is_dataclass(sw.make_config("toy"))


def _toy_cls():
    return sw.get_experiment("toy").config


@pytest.mark.parametrize("call, err, match", [
    (lambda: sweep_config.validate_config("abc"), TypeError, "cls"),
    (lambda: sweep_config.validate_config(None), TypeError, "cls"),
    (lambda: sweep_config.validate_config(_toy_cls()()), TypeError, "cls"),  # an instance, not the class
    (lambda: sweep_config.validate_config(_toy_cls(), "abc"), TypeError, "values"),
    (lambda: sweep_config.validate_config(_toy_cls(), 3), TypeError, "values"),
    (lambda: sweep_config.validate_config(_toy_cls(), {}, "abc"), TypeError, "overrides"),
    (lambda: sweep_config.validate_config(_toy_cls(), {}, [("lr", 1.0)]), TypeError, "overrides"),
    (lambda: sw.field_specs("abc"), TypeError, "cls"),
    (lambda: sw.field_specs(3), TypeError, "cls"),
    (lambda: sw.make_config("toy", "abc"), TypeError, "values"),
    (lambda: sweep_config.jsonable(object()), TypeError, "obj"),
    (lambda: sw.canonical_json(object()), TypeError, "obj"),
    (lambda: sw.canonical_json({"x": float("nan")}), ValueError, "obj"),
    (lambda: sw.run_hash("toy", None, 0), TypeError, "config"),
    (lambda: sweep_plan.run_specs("toy", "abc", [0, 1]), TypeError, "configs"),
    (lambda: sweep_plan.run_specs("toy", 3, [0, 1]), TypeError, "configs"),
    (lambda: sweep_plan.run_specs("toy", None, [0, 1]), TypeError, "configs"),
    (lambda: sweep_plan.run_specs("toy", ["abc"], [0, 1]), TypeError, "configs"),
    (lambda: sweep_plan.run_specs("toy", [{}], 2**63), ValueError, "seeds"),
    (lambda: sweep_plan.as_seeds(2**128), ValueError, "seeds"),
    (lambda: sweep_plan.as_seeds(2**63), ValueError, "seeds"),
    (lambda: sw.get_experiment(""), ValueError, "name"),
    (lambda: sw.get_experiment("TOY"), ValueError, "name"),
    (lambda: sw.get_experiment(3), TypeError, "name"),
])
def test_sweep_api_names_the_bad_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_as_seeds_is_bounded_and_exact():
    from simulations.sweep.plan import SEEDS_MAX

    assert sweep_plan.as_seeds(3) == [0, 1, 2] and sweep_plan.as_seeds([5, 2]) == [5, 2]
    assert len(sweep_plan.as_seeds(SEEDS_MAX)) == SEEDS_MAX
    with pytest.raises(ValueError, match="SEEDS_MAX|seeds must be an integer in"):
        sweep_plan.as_seeds(SEEDS_MAX + 1)
    with pytest.raises(ValueError, match="SEEDS_MAX"):
        sweep_plan.as_seeds(range(SEEDS_MAX + 1))


def test_make_executor_checks_workers_and_runs():
    from simulations.sweep.executors import WORKERS_MAX, InlineExecutor, make_executor

    assert isinstance(make_executor(workers=0), InlineExecutor)
    for bad in ("a", 1.5, True, [1], np.array([1, 2])):
        with pytest.raises(TypeError, match="workers"):
            make_executor(workers=bad)
    for bad in (-1, -(2**63), WORKERS_MAX + 1):
        with pytest.raises(ValueError, match="workers"):
            make_executor(workers=bad)
    for bad, err in (("a", TypeError), (1.5, TypeError), (None, TypeError), (True, TypeError), (0, ValueError)):
        with pytest.raises(err, match="runs"):
            make_executor(workers=0, runs=bad)


@pytest.mark.parametrize("call, err, match", [
    (lambda: sw.format_table(None), TypeError, "rows"),
    (lambda: sw.format_table("abc"), TypeError, "rows"),
    (lambda: sw.format_table(3), TypeError, "rows"),
    (lambda: sw.format_table(["abc"]), TypeError, "rows"),
    (lambda: sweep_report.rows_to_csv("abc"), TypeError, "rows"),
    (lambda: sweep_report.rows_to_csv(None), TypeError, "rows"),
    (lambda: sweep_report.rows_to_json("abc"), TypeError, "rows"),
    (lambda: sweep_report.rows_to_json(None), TypeError, "rows"),
    (lambda: sweep_report.rows_to_json([{"x": object()}]), TypeError, "rows"),
    (lambda: sweep_report.store_report("abc", []), TypeError, "store"),
    (lambda: sweep_report.store_report(None, []), TypeError, "store"),
    (lambda: sw.plot_metric("abc", "m", "lr"), TypeError, "rows"),
    (lambda: sw.plot_metric(None, "m", "lr"), TypeError, "rows"),
    (lambda: sw.plot_metric([{"lr": 1.0, "m": 1.0}], "m", "lr", status=None), TypeError, "status"),
    (lambda: sw.plot_metric([{"lr": 1.0, "m": 1.0}], "m", "lr", status=3), TypeError, "status"),
    (lambda: sw.plot_metric([{"lr": 1.0, "m": 1.0}], "m", "lr", ax="abc"), TypeError, r"\bax\b"),
])
def test_report_functions_check_their_rows(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_store_report_checks_the_experiment(tmp_path):
    db = tmp_path / "s.db"
    sw.run_sweep("toy", [{"steps": 20, "eval_every": 10}], db, workers=0, progress=False)
    with sw.ResultsStore(db) as st:
        rows = st.rows()
        text = sweep_report.store_report(st, rows, "toy")
        assert text.startswith("== toy: done 1")
        assert sweep_report.store_report(st, [{k: v for k, v in r.items() if k != "experiment"} for r in rows]).count("\n") == 1
        for bad, err in (("bogus", ValueError), ("TOY", ValueError), (3, TypeError), (["toy"], TypeError)):
            with pytest.raises(err, match="experiment"):
                sweep_report.store_report(st, rows, bad)
        with pytest.raises(TypeError, match="rows"):
            sweep_report.store_report(st, "abc")


def test_toy_lyapunov_functions_check_their_arguments():
    from simulations.sweep.study import LR_MAX, lyapunov_exponent, lyapunov_table
    from theory.kesten import rho

    assert lyapunov_exponent(0.5, 2) == rho(0.5, 2, 1)
    assert np.isfinite(lyapunov_exponent(LR_MAX, 2))
    for bad in (1e300, float("inf"), 0.0, -1.0):
        with pytest.raises(ValueError, match="lr"):
            lyapunov_exponent(bad, 2)
    for bad in ("abc", None, object(), [{}]):
        with pytest.raises(TypeError, match="sweep"):
            lyapunov_table(bad)
