"""The pruning experiments end to end (tiny, synthetic data) and the readers of the results store."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from simulations.pruning import apply_masks, check_layers, magnitude_prune
from simulations.pruning import tables as rep
from simulations.sweep import ResultsStore, run_sweep


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("prune") / "s.sqlite"
    ht = [dict(dataset="synthetic", width=16, depth=3, lr=lr, batch_size=b, n_train=300, n_test=200, max_epochs=2)
          for lr, b in ((0.05, 50), (0.2, 50), (0.1, 100))]
    run_sweep("pruning.heavy_tail", ht, path, seeds=[0], workers=0, progress=False)
    run_sweep("pruning.heavy_tail", ht[:1], path, seeds=[1, 2], workers=0, progress=False)
    bl = [dict(dataset="synthetic", hidden=[16, 8], n_train=300, n_test=200, steps=20, batch_size=50, rewind_step=3)]
    run_sweep("pruning.baselines", bl, path, seeds=[0, 1], workers=0, progress=False)
    return path


def test_heavy_tail_rows(store):
    with ResultsStore(store, create=False) as st:
        assert st.counts().get("done", 0) == 7, st.rows()
    rows = rep.heavy_tail_rows(store)
    assert len(rows) == 5
    r = rows[0]
    assert len(r["alpha"]) == 3 and len(r["prunable_mag"]) == 3
    assert r["prunable_node"][-1] is None  # the output layer is not node-pruned
    for m in ("magnitude_layer", "magnitude_global", "node", "spectral", "random"):
        assert len(r[f"acc_{m}"]) == 5
    np.testing.assert_allclose(r["comp_magnitude_layer"], [2, 4, 8, 16, 32], rtol=0.05)
    assert all(0.0 <= a <= 1.0 for a in r["acc_magnitude_layer"])


def test_trend_summary_matches_scipy(store):
    rows = [r for r in rep.heavy_tail_rows(store) if r["seed"] == 0]
    t = rep.trend_summary(store)[0]
    eb = [r["eta_over_b"] for r in rows]
    acc = [r["acc_magnitude_layer"][2] for r in rows]
    ref = spearmanr(eb, acc).statistic
    if np.isfinite(ref):
        assert t["rho_acc_eta_b_magnitude_layer"] == pytest.approx(ref)
    assert t["runs"] == 3


def test_curves_and_baselines_table(store):
    curves = rep.curve_table(store, "magnitude_layer")
    assert {c["n"] for c in curves} == {3} and len(curves) == 5
    tab = rep.baselines_table(store)
    methods = {t["method"] for t in tab}
    assert {"dense", "oneshot_magnitude_global", "oneshot_magnitude_layer", "oneshot_random", "imp_iteration",
            "imp_lr"} <= methods
    assert all(t["n"] == 2 for t in tab)
    md = rep.format_baselines_table(tab)
    assert "IMP, LR rewinding" in md and "98 %" in md


def test_apply_masks_and_check_layers():
    w = [np.arange(6, dtype=np.float32).reshape(2, 3) + 1]
    m = [np.array([[True, False, True], [False, True, False]])]
    np.testing.assert_array_equal(apply_masks(w, m)[0], [[1, 0, 3], [0, 5, 0]])
    np.testing.assert_array_equal(apply_masks(w, m, fill=[9.0])[0], [[1, 9, 3], [9, 5, 9]])
    assert check_layers("skip_layers", [-1, 0, 0], 3) == [0, 2]
    with pytest.raises(ValueError, match="layers"):
        check_layers("layers", [3], 3)
    res = magnitude_prune(w, ratio=0.5)
    np.testing.assert_array_equal(apply_masks(w, res.masks)[0], res.weights[0])


def test_longest_run_selection_leaves_out_diverged():
    base = dict(experiment="pruning.heavy_tail", width=8, depth=3, batch_size=50, n_train=10, n_test=10,
                init="x", interpolation_loss=1e-3, averaging=0, seed=0)
    rows = [
        dict(base, dataset="a", lr=0.1, eta_over_b=0.002, max_epochs=10, status="done", tag="short"),
        dict(base, dataset="a", lr=0.1, eta_over_b=0.002, max_epochs=20, status="done", tag="long"),
        dict(base, dataset="a", lr=0.3, eta_over_b=0.006, max_epochs=10, status="done", tag="short-ok"),
        dict(base, dataset="a", lr=0.3, eta_over_b=0.006, max_epochs=20, status="diverged", tag="long-div"),
    ]
    assert [r["tag"] for r in rep.heavy_tail_rows(rows)] == ["long"]
    assert [r["tag"] for r in rep.heavy_tail_rows(rows, include_diverged=True)] == ["long", "long-div"]
    assert [r["tag"] for r in rep.heavy_tail_rows(rows, max_epochs=10)] == ["short", "short-ok"]
    assert [r["tag"] for r in rep.heavy_tail_rows(rows, max_epochs={"a": 20})] == ["long"]


def test_legacy_method_names_are_read():
    """Stores written when the magnitude methods were "magnitude" (per layer) and "global" read the same."""
    old = dict(experiment="pruning.heavy_tail", dataset="a", width=8, depth=3, lr=0.1, batch_size=50, n_train=10,
               n_test=10, init="x", interpolation_loss=1e-3, averaging=0, seed=0, max_epochs=10, status="done",
               eta_over_b=0.002, methods=["magnitude", "global", "node"], ratios=[0.5, 0.75],
               acc_magnitude=[0.9, 0.8], comp_magnitude=[2.0, 4.0], acc_global=[0.85, 0.7], comp_global=[2.0, 4.0])
    (r,) = rep.heavy_tail_rows([old])
    assert r["methods"] == ["magnitude_layer", "magnitude_global", "node"]
    assert r["acc_magnitude_layer"] == [0.9, 0.8] and r["comp_magnitude_global"] == [2.0, 4.0]
    assert "acc_global" not in r and "acc_magnitude" not in r
    new = rep.upgrade_row(r)
    assert new == r
    bl = rep.upgrade_row({"oneshot_global": [0.5], "oneshot_layer": [0.4], "oneshot_random": [0.1]})
    assert bl == {"oneshot_magnitude_global": [0.5], "oneshot_magnitude_layer": [0.4], "oneshot_random": [0.1]}


def test_curve_methods_are_the_config_choices():
    from simulations.experiments.pruning import HeavyTailConfig
    from simulations.pruning.study import CURVE_METHODS
    from simulations.sweep import make_config

    assert tuple(HeavyTailConfig().methods) == CURVE_METHODS
    with pytest.raises(ValueError, match="methods"):
        make_config("pruning.heavy_tail", methods=("global",))


def _ht_row(**kw):
    base = dict(experiment="pruning.heavy_tail", dataset="a", width=8, depth=3, lr=0.1, batch_size=50, n_train=10,
                n_test=10, init="x", interpolation_loss=1e-3, averaging=0, seed=0, max_epochs=10, status="done",
                eta_over_b=0.002, ratios=[0.5, 0.75], acc_magnitude_layer=[0.9, 0.8],
                comp_magnitude_layer=[2.0, 4.0])
    base.update(kw)
    return base


@pytest.mark.parametrize("fn, exc, param", [
    (lambda: rep.heavy_tail_rows([_ht_row()], include_diverged=1), TypeError, "include_diverged"),
    (lambda: rep.heavy_tail_rows([_ht_row()], max_epochs=0), ValueError, "max_epochs"),
    (lambda: rep.heavy_tail_rows([_ht_row()], max_epochs="10"), TypeError, "max_epochs"),
    (lambda: rep.heavy_tail_rows([_ht_row()], max_epochs={"a": -1}), ValueError, "max_epochs"),
    (lambda: rep.trend_summary([_ht_row()], ratio_index=2), ValueError, "ratio_index"),  # only 2 ratios
    (lambda: rep.trend_summary([_ht_row()], ratio_index=-1), ValueError, "ratio_index"),
    (lambda: rep.curve_table([_ht_row()], method="magnitude_layr"), ValueError, "method"),
    (lambda: rep.curve_table([_ht_row()], method=np.array(["node"])), TypeError, "method"),
])
def test_reader_validation(fn, exc, param):
    with pytest.raises(exc, match=param):
        fn()


@pytest.mark.parametrize("kw, exc, param", [
    (dict(quick=1), TypeError, "quick"),
    (dict(quick=True, progress="no"), TypeError, "progress"),
    (dict(quick=True, workers=-1), ValueError, "workers"),
    (dict(quick=True, datasets="mnist"), TypeError, "datasets"),
    (dict(quick=True, datasets=["mnst"]), ValueError, "datasets"),
])
def test_run_reproduction_validation(tmp_path, kw, exc, param):
    from simulations.pruning import run_reproduction

    with pytest.raises(exc, match=param):
        run_reproduction(tmp_path / "s.sqlite", **kw)
    assert not (tmp_path / "s.sqlite").exists()  # rejected before anything is written


class _NoRows:
    rows = None   # an attribute named rows that is no reader


@pytest.mark.parametrize("reader", [rep.heavy_tail_rows, rep.trend_summary, rep.curve_table, rep.baselines_table])
@pytest.mark.parametrize("bad, exc", [(3, TypeError), (None, TypeError), (object(), TypeError), (_NoRows(), TypeError),
                                      (["abc"], TypeError), ([{"experiment": "pruning.heavy_tail"}], None)])
def test_readers_name_store_or_rows(reader, bad, exc):
    if exc is None:  # a row of the experiment without its keys
        if reader is rep.baselines_table:
            bad = [{"experiment": "pruning.baselines"}]
        exc = ValueError
    with pytest.raises(exc, match=r"store_or_rows"):
        reader(bad)


@pytest.mark.parametrize("bad", ["abc", 3, None, object(), [1, 2]])
def test_upgrade_row_needs_a_dict(bad):
    with pytest.raises(TypeError, match="row"):
        rep.upgrade_row(bad)


@pytest.mark.parametrize("bad, exc, param", [
    ("abc", TypeError, "table"), (3, TypeError, "table"), (None, TypeError, "table"), (object(), TypeError, "table"),
    (["x"], TypeError, r"table\[0\]"), ([{"dataset": "a", "method": "dense"}], ValueError, r"table\[0\]"),
])
def test_format_baselines_table_validation(bad, exc, param):
    with pytest.raises(exc, match=param):
        rep.format_baselines_table(bad)


def test_readers_accept_empty_rows_and_int_epochs():
    assert rep.heavy_tail_rows([], max_epochs=3) == []
    assert rep.trend_summary([], max_epochs=3) == []
    assert rep.baselines_table(()) == []
    assert rep.format_baselines_table([]).startswith("| data set | method |")


@pytest.mark.parametrize("kw, exc, param", [
    (dict(quick=1), TypeError, "quick"), (dict(quick=0), TypeError, "quick"), (dict(quick="yes"), TypeError, "quick"),
    (dict(quick=None), TypeError, "quick"), (dict(quick=np.array([True])), TypeError, "quick"),
    (dict(quick=True, datasets="abc"), TypeError, "datasets"), (dict(quick=True, datasets=3), TypeError, "datasets"),
    (dict(quick=True, datasets=object()), TypeError, "datasets"), (dict(quick=True, datasets=[]), TypeError, "datasets"),
    (dict(quick=True, datasets=["mnst"]), ValueError, "datasets"),
])
def test_reproduction_sweeps_validation(kw, exc, param):
    from simulations.pruning.study import reproduction_sweeps

    with pytest.raises(exc, match=param):
        reproduction_sweeps(**kw)


def test_reproduction_sweeps_quick_synthetic():
    from simulations.pruning.study import reproduction_sweeps

    (ht, cfgs, seeds), (bl, bcfgs, _) = reproduction_sweeps(True, ["synthetic"])
    assert ht == "pruning.heavy_tail" and bl == "pruning.baselines" and seeds == [0]
    assert {c["dataset"] for c in cfgs} == {"synthetic"} and len(cfgs) == 3 and len(bcfgs) == 1


@pytest.mark.parametrize("bad, exc, param", [
    (3, TypeError, "weights"), (None, TypeError, "weights"), ([np.ones(4)], ValueError, r"weights\[0\]"),
])
def test_layer_statistics_validation(bad, exc, param):
    from simulations.pruning.study import layer_statistics

    with pytest.raises(exc, match=param):
        layer_statistics(bad)
    with pytest.raises(ValueError, match="eps"):
        layer_statistics([np.ones((3, 4))], eps=1.5)


def test_layer_statistics_constant_layers_have_no_tail_index():
    """α̂ is undefined for a constant layer: None (documented), while the prunable fractions stay defined."""
    from simulations.pruning.study import layer_statistics

    rng = np.random.default_rng(0)
    out = layer_statistics([np.zeros((6, 4)), rng.standard_t(3.0, size=(3, 6))])
    assert out["alpha"][0] is None and out["alpha_hill"][0] is None
    assert out["alpha"][1] is not None and 0 < out["alpha"][1] <= 2
    assert out["prunable_mag"][0] == 1.0  # a zero layer (after centring) is fully prunable
    assert out["prunable_node"][1] is None  # the output layer
    big = layer_statistics([np.full((3, 4), 1e200)])
    assert big["alpha"] == [None] and big["prunable_mag"] == [1.0]
