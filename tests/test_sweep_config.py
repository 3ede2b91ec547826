"""Typed configurations, run hashes, grids and the experiment registry (simulations.sweep.config, .plan, .registry).

Oracles: the run hash against a SHA-256 of JSON built independently in the test;
validation against the ranges written in the toy configuration.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulations import sweep as sw


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
