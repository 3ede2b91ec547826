"""The ``tailcomp train`` run record is strict JSON: NaN and ±inf are written as ``null``.

Oracle: ``json.loads`` with a ``parse_constant`` that refuses the non-standard constants.
"""
from __future__ import annotations

import json

import numpy as np
import pytest


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_cli_record_writes_null_for_nan(tmp_path):
    from simulations.nn.cli import main

    out = tmp_path / "rec.json"
    argv = ["--dataset", "gaussian_mixture", "--sizes", "6,16,3", "--n-train", "100", "--batch-size", "20",
            "--lr", "1e4", "--epochs", "50", "--seed", "0", "--no-progress", "--out", str(out),
            "--max-loss", "none", "--max-weight", "none"]  # no ceilings: the run goes on to a NaN loss
    assert main(argv) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "non-finite" in rec["reason"]
    assert rec["metrics"][-1]["train_loss"] is None  # the diverged loss is not a number
    assert not list(tmp_path.glob("*.tmp"))


def _noisy_argv(out, *extra):
    # α = 0.5 noise with σ = 1000: the weights jump by up to ~1e9 within a few steps
    return ["--dataset", "gaussian_mixture", "--sizes", "8,16,3", "--n-train", "100", "--batch-size", "10",
            "--lr", "0.1", "--epochs", "20", "--noise-sigma", "1000", "--noise-alpha", "0.5", "--noise-kind", "entry",
            "--no-progress", "--out", str(out), *extra]


def test_cli_divergence_guard_flags_and_record(tmp_path):
    from simulations.nn.cli import main

    out = tmp_path / "r.json"
    assert main(_noisy_argv(out)) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "max_loss = 1e+06" in rec["reason"]
    assert rec["threads"] == 1 and rec["config"]["threads"] == 1
    assert rec["config"]["stop"]["max_loss"] == 1e6 and rec["config"]["stop"]["max_weight"] == 1e6
    assert main(_noisy_argv(out, "--max-loss", "none", "--max-weight", "1e3")) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged" and "above max_weight = 1000" in rec["reason"]
    assert main(_noisy_argv(out, "--max-loss", "none", "--max-weight", "none")) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "completed" and rec["steps"] == 200
    assert rec["config"]["stop"]["max_loss"] is None and rec["config"]["stop"]["max_weight"] is None


@pytest.mark.parametrize("flag, value", [("--max-loss", "big"), ("--max-weight", "-1"), ("--max-loss", "0")])
def test_cli_rejects_bad_ceilings(tmp_path, flag, value, capsys):
    from simulations.nn.cli import main

    try:
        code = main(_noisy_argv(tmp_path / "r.json", flag, value))
    except SystemExit as exc:  # argparse refuses what is not a number
        code = exc.code
    assert code == 2
    assert flag.lstrip("-").replace("-", "_") in capsys.readouterr().err.replace("-", "_")


def test_write_record_converts_non_finite_and_numpy_values(tmp_path):
    from simulations.nn.cli import write_record

    p = tmp_path / "sub" / "r.json"
    write_record(p, {"a": float("nan"), "b": np.float32(np.inf), "c": [np.int64(3), -float("inf"), 1.5],
                     "d": {"e": np.array([1.0, np.nan])}, "f": np.bool_(True), "g": None})
    assert _strict(p.read_text()) == {"a": None, "b": None, "c": [3, None, 1.5], "d": {"e": [1.0, None]},
                                      "f": True, "g": None}
    with pytest.raises(TypeError, match="set"):
        write_record(p, {"x": {1, 2}})
