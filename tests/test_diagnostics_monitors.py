"""Training callbacks (simulations.diagnostics.monitors), their CLI flags and sweep experiment.

Oracle for what the monitors record during training: the same estimators applied afterwards to the
snapshots θ_k that train() stores at the measured steps (``snapshot_at``), which must agree exactly.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulations.diagnostics import GradientNoiseMonitor, TailIndexMonitor, combine, gradient_noise_tail_index
from simulations.nn import SGD, MLPSpec, StopRules, gaussian_mixture, init_params, train
from simulations.tail_index import weight_tail_index


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(400, dim=8, n_classes=3, separation=3.0, n_test=200, seed=0)


SPEC = MLPSpec((8, 16, 12, 3), bias=False)


def _train(data, callback, steps=60, eval_every=10, snaps=()):
    return train(SPEC, data, optimizer=SGD(0.1), batch_size=20, stop=StopRules(max_steps=steps),
                 eval_every=eval_every, callback=callback, snapshot_at=snaps, seed=1)


def test_gradient_noise_monitor_records_what_the_snapshots_give(data):
    mon = GradientNoiseMonitor(data, batch_size=20, every=20, at=(50,), n_eval=200, splits=("train", "test"), seed=4)
    res = _train(data, mon, snaps=(20, 40, 50, 60))
    measured = [h["step"] for h in res.history if "grad_noise" in h]
    assert measured == [20, 40, 50, 60]
    assert sorted({r["step"] for r in mon.records}) == measured
    for h in res.history:
        if "grad_noise" not in h:
            continue
        theta = res.snapshots[h["step"]]
        for split, (X, y) in {"train": (data.X_train, data.y_train), "test": (data.X_test, data.y_test)}.items():
            ref = gradient_noise_tail_index(theta, X, y, batch_size=20, n_eval=200, seed=mon.seed_sequence)
            got = h["grad_noise"][split]
            assert got["alpha"] == ref["alpha"] and got["alpha_layers"] == ref["alpha_layers"]
            rows = [r for r in mon.records if r["step"] == h["step"] and r["split"] == split]
            assert [r["layer"] for r in rows] == ["all", 0, 1, 2]
            assert [r["alpha"] for r in rows] == [ref["alpha"], *ref["alpha_layers"]]
    assert all(0.0 < r["alpha"] < 5.0 for r in mon.records)


def _or_nan(fn, W):
    try:
        return float(fn(W))
    except ValueError:
        return math.nan


def test_tail_index_monitor_records_what_the_snapshots_give():
    pytest.importorskip("simulations.spectra")
    from simulations.spectra import spectral_alpha

    wide = gaussian_mixture(400, dim=12, n_classes=3, separation=3.0, n_test=0, seed=0)
    spec = MLPSpec((12, 24, 16, 3), bias=False)
    mon = TailIndexMonitor(every=30)
    res = train(spec, wide, optimizer=SGD(0.1), batch_size=20, stop=StopRules(max_steps=60), eval_every=10,
                callback=mon, snapshot_at=(30, 60), seed=1)
    entries = [h for h in res.history if "tail_index" in h]
    assert [h["step"] for h in entries] == [30, 60]
    for h in entries:
        theta = res.snapshots[h["step"]]
        for mode in ("entries", "rows", "row_norms"):
            expected = [_or_nan(lambda W, mode=mode: weight_tail_index(W, mode=mode), W) for W in theta.weights]
            np.testing.assert_array_equal(h["tail_index"][mode], expected)
        expected = [_or_nan(spectral_alpha, W) for W in theta.weights]
        np.testing.assert_array_equal(h["tail_index"]["spectral"], expected)
        # defined where the estimators are: 3 rows are too few for "rows", 3 eigenvalues for the spectrum
        assert np.isfinite(h["tail_index"]["spectral"][:2]).all() and math.isnan(h["tail_index"]["spectral"][2])
        assert math.isnan(h["tail_index"]["rows"][2]) and math.isfinite(h["tail_index"]["entries"][2])
    assert len(mon.records) == 2 * 4 * 3
    assert {r["variant"] for r in mon.records} == {"entries", "rows", "row_norms", "spectral"}


def test_tail_index_monitor_without_spectral_and_undefined_layers(data):
    # the last layer has 3 rows: the multivariate "rows" estimate needs at least 4 samples -> NaN + reason
    mon = TailIndexMonitor(every=60, modes=("rows",), spectral=False)
    res = _train(data, mon)
    vals = res.history[-1]["tail_index"]["rows"]
    assert math.isfinite(vals[0]) and math.isfinite(vals[1]) and math.isnan(vals[2])
    assert len(mon.errors) == 1 and "layer 2" in mon.errors[0]


def test_combine_calls_all_and_propagates_stop(data):
    seen = []
    noise = GradientNoiseMonitor(data, batch_size=20, every=30, n_eval=100)
    res = _train(data, combine(noise, lambda e: seen.append(e["step"]), lambda e: e["step"] >= 40))
    assert res.status == "stopped" and seen == [10, 20, 30, 40]
    assert [r["step"] for r in noise.records if r["layer"] == "all"] == [30]


def test_callback_keys_land_in_history_without_overwriting(data):
    def cb(entry):
        entry["extra"] = entry["step"] * 2
        entry["step"] = -1  # an existing key: the history keeps train's value

    res = _train(data, cb, steps=20)
    assert [(h["step"], h["extra"]) for h in res.history] == [(10, 20), (20, 40)]
    assert all("params" not in h for h in res.history)


def test_monitor_arguments_are_checked(data):
    ok = dict(batch_size=20)
    bad = [
        (dict(every=0), ValueError, "every"),
        (dict(every=None), ValueError, "every"),
        (dict(at=[3, -1]), ValueError, "at"),
        (dict(at="5"), TypeError, "at"),
        (dict(splits=("val",)), ValueError, "splits"),
        (dict(splits="train"), TypeError, "splits"),
        (dict(n_eval=10), ValueError, "n_eval"),
        (dict(eps=-1.0), ValueError, "eps"),
        (dict(per_layer="yes"), TypeError, "per_layer"),
        (dict(cache_bytes=-5), ValueError, "cache_bytes"),
        (dict(seed=-2), ValueError, "seed"),
        (dict(batch_size=300, n_eval=None), ValueError, "batch_size"),
    ]
    for kw, exc, word in bad:
        with pytest.raises(exc, match=word):
            GradientNoiseMonitor(data, **{**ok, **kw})
    with pytest.raises(TypeError, match="data"):
        GradientNoiseMonitor(np.zeros((4, 4)), batch_size=2)
    no_test = (data.X_train, data.y_train)
    with pytest.raises(ValueError, match="test"):
        GradientNoiseMonitor(no_test, batch_size=20, splits=("test",))
    mon = GradientNoiseMonitor(data, batch_size=20)
    with pytest.raises(TypeError, match="entry"):
        mon([1, 2])
    with pytest.raises(ValueError, match="entry"):
        mon({"step": 100})
    with pytest.raises(ValueError, match="sizes"):
        mon.measure(init_params(MLPSpec((5, 4, 3)), 0))
    with pytest.raises(ValueError, match="modes"):
        TailIndexMonitor(modes=("spectrum",), spectral=False)
    with pytest.raises(ValueError, match="nothing"):
        TailIndexMonitor(modes=(), spectral=False)
    with pytest.raises(ValueError, match="clip"):
        TailIndexMonitor(clip=0.0, spectral=False)
    with pytest.raises(ValueError, match="callbacks"):
        combine()
    with pytest.raises(TypeError, match="callbacks"):
        combine(mon, 3)


def test_cli_records_the_diagnostics(tmp_path):
    from simulations.nn.cli import main

    out = tmp_path / "run.json"
    rc = main(["--dataset", "gaussian_mixture", "--sizes", "8,16,3", "--n-train", "400", "--n-test", "200",
               "--steps", "60", "--batch-size", "20", "--grad-noise-every", "20", "--grad-noise-n-eval", "100",
               "--grad-noise-splits", "train,test", "--tail-index-every", "30", "--no-spectral", "--no-progress",
               "--out", str(out)])
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["config"]["eval_every"] == 10  # gcd of the two periods
    steps = {m["step"]: m for m in rec["metrics"]}
    assert [s for s, m in steps.items() if "grad_noise" in m] == [20, 40, 60]
    assert [s for s, m in steps.items() if "tail_index" in m] == [30, 60]
    gn = rec["diagnostics"]["grad_noise"]
    assert gn["every"] == 20 and gn["n_eval"] == 100 and gn["splits"] == ["train", "test"]
    pooled = [r for r in gn["records"] if r["layer"] == "all"]
    assert [r["alpha"] for r in pooled if r["split"] == "test"] == \
        [steps[s]["grad_noise"]["test"]["alpha"] for s in (20, 40, 60)]
    assert rec["diagnostics"]["tail_index"]["spectral"] is False


@pytest.mark.parametrize("argv, word", [(["--grad-noise-every", "25", "--eval-every", "10"], "multiple"),
                                        (["--grad-noise-every", "0"], "grad-noise-every"),
                                        (["--grad-noise-every", "10", "--grad-noise-splits", "test"], "test"),
                                        (["--grad-noise-every", "10", "--grad-noise-n-eval", "-3"], "n-eval")])
def test_cli_rejects_bad_diagnostics_flags(argv, word, capsys):
    from simulations.nn.cli import main

    rc = main(["--dataset", "gaussian_mixture", "--sizes", "8,16,3", "--steps", "30", "--batch-size", "20",
               "--no-progress", *argv])
    assert rc == 2
    assert word in capsys.readouterr().err


def test_sweep_experiment_stores_the_estimates(tmp_path):
    from simulations.sweep import ResultsStore, run_sweep

    store = tmp_path / "gn.sqlite"
    summary = run_sweep("diagnostics.gradient_noise",
                        [dict(dataset="synthetic", width=16, depth=2, steps=40, every=20, n_eval=200, batch_size=20,
                              n_train=400, n_test=200)], seeds=[0], store=store, workers=0)
    assert summary.done == 1
    rows = ResultsStore(store, create=False, readonly=True).rows("diagnostics.gradient_noise")
    m = rows[0]
    assert m["steps_measured"] == [20, 40]
    assert len(m["alpha_train_layers"]) == 2 and len(m["alpha_test_steps"]) == 2
    assert m["alpha_train"] == m["alpha_train_steps"][-1]
    hist = ResultsStore(store, create=False, readonly=True).history_rows("diagnostics.gradient_noise")
    assert [h["step"] for h in hist] == [20, 40]
    assert hist[-1]["alpha_train"] == m["alpha_train"]
    assert {"alpha_train_l0", "alpha_test_l1"} <= set(hist[0])


def test_plots_draw_one_line_per_layer_and_the_pooled_estimate(data):
    import matplotlib

    matplotlib.use("Agg")
    from simulations.diagnostics import plots

    noise = GradientNoiseMonitor(data, batch_size=20, every=20, n_eval=100, splits=("train", "test"))
    tail = TailIndexMonitor(every=20, spectral=False)
    _train(data, combine(noise, tail))
    fig = plots.monitor_figure(noise.records, tail.records, variants=("entries", "row_norms"))
    axes = fig.axes
    assert len(axes) == 4  # train, test, entries, row norms
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert labels == ["layer 1", "layer 2", "layer 3", "all coordinates", "α = 2 (Gaussian)"]
    pooled = axes[0].get_lines()[3]
    assert list(pooled.get_xdata()) == [20, 40, 60]
    assert list(pooled.get_ydata()) == [r["alpha"] for r in noise.records if r["split"] == "train" and r["layer"] == "all"]
    assert [line.get_label() for line in axes[3].get_lines()] == ["layer 1", "layer 2", "layer 3"]
    rows = [dict(r, width=w, depth=2, seed=s) for w in (8, 16) for s in (0, 1) for r in noise.records]
    fig2, ax = matplotlib.pyplot.subplots()
    plots.plot_alpha_vs_width(ax, rows, "test")
    err = ax.containers[0]
    assert list(err.lines[0].get_xdata()) == [8, 16]
