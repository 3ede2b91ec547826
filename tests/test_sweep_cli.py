"""``tailcomp sweep`` and ``tailcomp report`` (simulations.sweep.cli): a bad sweep file runs nothing and exits 2;
failed runs are listed with their error; diverged runs are marked in plots and shown in tables; list-valued
metrics are summarised in tables; one ``--out`` option."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from simulations import sweep as sw
from simulations.sweep.cli import report_main, sweep_main


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


# ---- failed runs, diverged runs, list-valued metrics, --out

def _sweep(tmp_path, name, text, capsys):
    (tmp_path / f"{name}.yaml").write_text(text)
    db = tmp_path / f"{name}.db"
    code = sweep_main([str(tmp_path / f"{name}.yaml"), "--store", str(db), "--workers", "0", "--no-progress"])
    return code, db, capsys.readouterr()


def test_failed_runs_are_listed_with_their_error(tmp_path, capsys):
    code, db, cap = _sweep(tmp_path, "f", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n"
                           "grid: {fail: [false, true], lr: [0.5, 0.7]}\nseeds: [0, 1]\n", capsys)
    assert code == 1 and "4 failed" in cap.out
    with sw.ResultsStore(db, readonly=True) as st:
        failed = st.rows(status="failed")
    assert len(failed) == 4 and all("Traceback" in r["error"] for r in failed)  # the store keeps the traceback
    err = cap.err
    for r in failed:
        line = next(ln for ln in err.splitlines() if r["run_id"][:10] in ln)
        assert f"seed={r['seed']}" in line and "fail=True" in line
        assert (f"lr={r['lr']!r}" in line) is (r["lr"] != 0.5)  # only the values that differ from the defaults
        assert line.endswith("RuntimeError: toy experiment asked to fail (fail=True)")
    assert "Traceback" not in err  # one line per run, not the traceback
    assert "error" in err and f"--store {db}" in err and "--status failed --format json" in err
    code, _, cap = _sweep(tmp_path, "ok", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n", capsys)
    assert code == 0 and "failed run" not in cap.err


_DIVERGING = "experiment: toy\nbase: {steps: 3000}\ngrid: {lr: [0.5, 3.0]}\nseeds: [0, 1, 2]\n"


def test_report_plot_marks_diverged_runs(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    code, db, _ = _sweep(tmp_path, "d", _DIVERGING, capsys)
    assert code == 0
    with sw.ResultsStore(db, readonly=True) as st:
        rows = st.rows()
    assert {r["lr"]: r["status"] for r in rows} == {0.5: "done", 3.0: "diverged"}
    ax = sw.plot_metric(rows, "lyapunov_hat", "lr")
    marks = [ln for ln in ax.lines if ln.get_marker() == "x"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [3.0, 3.0, 3.0]
    assert list(marks[0].get_ydata()) == [1.0, 1.0, 1.0]  # the top edge, in axes coordinates
    assert any("diverged (3 runs" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(ax.figure)
    ax = sw.plot_metric(rows, "lyapunov_hat", "lr", diverged=False)
    assert not [ln for ln in ax.lines if ln.get_marker() == "x"]
    plt.close(ax.figure)
    only = [r for r in rows if r["status"] == "diverged"]
    ax = sw.plot_metric(only, "lyapunov_hat", "lr")  # nothing finished: the marks alone, not an error
    assert [ln for ln in ax.lines if ln.get_marker() == "x"]
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="diverged"):
        sw.plot_metric(rows, "lyapunov_hat", "lr", diverged=1)
    out = tmp_path / "d.png"
    assert report_main(["--store", str(db), "--plot", "lyapunov_hat", "--x", "lr", "--out", str(out)]) == 0
    assert "3 diverged runs" in capsys.readouterr().out and out.stat().st_size > 1000
    assert report_main(["--store", str(db)]) == 0
    table = capsys.readouterr().out
    assert "diverged 3" in table.splitlines()[0]
    assert sum(len(ln.split()) > 2 and ln.split()[2] == "diverged" for ln in table.splitlines()) == 3


@dataclass(frozen=True)
class _CurveConfig:
    n: int = sw.param(3, low=0, high=100)


@sw.experiment("testing_curves", config=_CurveConfig)
def _curves(config, seed):
    return {"metrics": {"curve": [0.5 * k + seed for k in range(config.n)], "info": {"a": 1, "b": 2}, "final": 1.5},
            "history": []}


def test_report_table_summarises_lists_and_expands_on_request(tmp_path, capsys):
    sw.run_sweep("testing_curves", [{"n": 40}, {"n": 0}], tmp_path / "c.db", seeds=[0, 1], workers=0,
                 progress=False)
    db = str(tmp_path / "c.db")
    assert report_main(["--store", db]) == 0
    out = capsys.readouterr().out
    assert "[40 values] last=19.5" in out and "[40 values] last=20.5" in out and "[]" in out
    assert "{2 keys}" in out and "0.5, 1.0" not in out
    assert max(len(ln) for ln in out.splitlines()) < 200
    assert report_main(["--store", db, "--expand-lists"]) == 0
    out = capsys.readouterr().out
    assert "[0.0, 0.5, 1.0" in out and '{"a": 1, "b": 2}' in out
    assert "[40 values]" in sw.format_table([{"run_id": "x", "v": list(range(40))}])
    assert "[0, 1, 2" in sw.format_table([{"run_id": "x", "v": list(range(40))}], expand=True)
    with pytest.raises(TypeError, match="expand"):
        sw.format_table([], expand="yes")
    # summaries of different lists are not taken as one constant column
    text = sw.format_table([{"run_id": "a", "v": [1, 2]}, {"run_id": "b", "v": [5, 2]}])
    assert "fixed" not in text and text.count("[2 values] last=2") == 2


def test_report_writes_rows_with_out_and_refuses_output(tmp_path, capsys):
    code, db, _ = _sweep(tmp_path, "o", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n", capsys)
    out = tmp_path / "sub" / "rows.csv"
    assert report_main(["--store", str(db), "--format", "csv", "--out", str(out)]) == 0
    assert out.read_text().startswith("run_id,") and capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as info:
        report_main(["--store", str(db), "--format", "csv", "--output", str(out)])
    assert info.value.code == 2
    assert "--output was removed: use --out FILE" in capsys.readouterr().err


def test_compile_notice_only_for_experiments_with_kernels(tmp_path, monkeypatch, capsys):
    from simulations import cli
    from simulations.sweep import cli as sweep_cli

    for name in ("pruning.heavy_tail", "pruning.baselines", "noise_compression.mlp"):
        assert sweep_cli._KERNELS[sw.get_experiment(name).module] == ("simulations.nn.backends.cpu_kernels",)
    asked = []
    monkeypatch.setattr(cli, "kernels_cached", lambda module: asked.append(module) or False)
    code, _, cap = _sweep(tmp_path, "n", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n", capsys)
    assert code == 0 and asked == [] and cli.COMPILE_NOTICE not in cap.err  # the toy experiment compiles nothing
    monkeypatch.setitem(sweep_cli._KERNELS, sw.get_experiment("toy").module, ("simulations.nn.backends.cpu_kernels",))
    code, _, cap = _sweep(tmp_path, "m", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n", capsys)
    assert code == 0 and cli.COMPILE_NOTICE in cap.err
    code, _, cap = _sweep(tmp_path, "m", "experiment: toy\nbase: {steps: 20, eval_every: 10}\n", capsys)
    assert code == 0 and cli.COMPILE_NOTICE not in cap.err  # nothing left to run


def test_study_main_runs_then_reports_or_only_reports(tmp_path, capsys):
    from simulations.sweep.cli import study_main

    calls = []

    def run(store, quick, *, workers, datasets, progress, methods):
        calls.append((store, quick, workers, datasets, progress, methods))

    kw = dict(description="d", store=tmp_path / "s.sqlite", run=run, report=lambda st: f"table of {st}",
              lists=("methods",))
    study_main(["--quick", "--workers", "2", "--datasets", "mnist", "--methods", "a", "b"], **kw)
    assert calls == [(str(tmp_path / "s.sqlite"), True, 2, ["mnist"], True, ["a", "b"])]
    assert capsys.readouterr().out.strip() == f"table of {tmp_path / 's.sqlite'}"
    study_main(["--table-only", "--store", "x.sqlite"], **kw)
    assert len(calls) == 1 and capsys.readouterr().out.strip() == "table of x.sqlite"


def test_study_main_passes_a_scalar_option_and_checks_its_choices(tmp_path, capsys):
    from simulations.sweep.cli import study_main

    calls = []

    def run(store, quick, *, workers, datasets, progress, model):
        calls.append(model)

    kw = dict(description="d", store=tmp_path / "s.sqlite", run=run, report=lambda st: "t",
              options={"model": (("lenet5", "vgg11"), "a network")})
    study_main(["--model", "vgg11"], **kw)
    study_main([], **kw)
    assert calls == ["vgg11", None]
    with pytest.raises(SystemExit):
        study_main(["--model", "lenet6"], **kw)
    assert "invalid choice" in capsys.readouterr().err



def test_study_main_default_store_can_follow_the_options(tmp_path):
    from simulations.pruning.comparison_study import default_store
    from simulations.sweep.cli import study_main

    stores = []
    kw = dict(description="d", store=lambda o: default_store("cmp", o["model"]),
              run=lambda store, quick, **k: stores.append(store), report=lambda st: "t",
              options={"model": (("lenet5",), "a network")})
    study_main([], **kw)
    study_main(["--model", "lenet5"], **kw)
    study_main(["--model", "lenet5", "--store", "mine.sqlite"], **kw)
    assert stores == [str(Path("paper") / "data" / "cmp.sqlite"), str(Path("paper") / "data" / "cmp_lenet5.sqlite"),
                      "mine.sqlite"]
