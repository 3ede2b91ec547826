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
            "--lr", "1e4", "--epochs", "50", "--seed", "0", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    rec = _strict(out.read_text())
    assert rec["status"] == "diverged"
    assert rec["metrics"][-1]["train_loss"] is None  # the diverged loss is not a number
    assert not list(tmp_path.glob("*.tmp"))


def test_write_record_converts_non_finite_and_numpy_values(tmp_path):
    from simulations.nn.cli import write_record

    p = tmp_path / "sub" / "r.json"
    write_record(p, {"a": float("nan"), "b": np.float32(np.inf), "c": [np.int64(3), -float("inf"), 1.5],
                     "d": {"e": np.array([1.0, np.nan])}, "f": np.bool_(True), "g": None})
    assert _strict(p.read_text()) == {"a": None, "b": None, "c": [3, None, 1.5], "d": {"e": [1.0, None]},
                                      "f": True, "g": None}
    with pytest.raises(TypeError, match="set"):
        write_record(p, {"x": {1, 2}})
