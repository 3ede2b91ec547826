"""``tailcomp sweep`` (simulations.sweep.cli): a bad sweep file runs nothing and exits 2."""
from __future__ import annotations

import pytest

from simulations import sweep as sw
from simulations.sweep.cli import sweep_main


def test_bad_sweep_file_runs_nothing(tmp_path, capsys):
    db = tmp_path / "never.db"
    cases = {
        "unknown_key.yaml": "experiment: toy\ngrid: {lr: [0.1, 0.2], batchsize: [1]}\n",
        "range.yaml": "experiment: toy\ngrid: {lr: [0.1, 20.0]}\n",  # the second point is bad
        "type.yaml": "experiment: toy\nbase: {steps: many}\n",
        "toplevel.yaml": "experiment: toy\ngrids: {eta: [0.1]}\n",
        "experiment.yaml": "experiment: no_such_experiment\n",
        "scalar_grid.yaml": "experiment: toy\ngrid: {lr: 0.1}\n",
    }
    expect = {"unknown_key.yaml": "batchsize", "range.yaml": "lr", "type.yaml": "steps", "toplevel.yaml": "grids",
              "experiment.yaml": "no_such_experiment", "scalar_grid.yaml": "lr"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert sweep_main([str(tmp_path / name), "--store", str(db), "--no-progress"]) == 2
        assert expect[name] in capsys.readouterr().err
        assert not db.exists()
    with pytest.raises(ValueError, match="seeds"):
        sw.run_sweep("toy", [{}], db, seeds=[1, 1], progress=False)
    with pytest.raises(ValueError, match="lr"):
        sw.run_sweep("toy", [{"lr": 0.1}, {"lr": 0.0}], db, progress=False)
    assert not db.exists()
