"""Wan et al.'s protocol (``noise_compression.wan_protocol``): the sweep's settings and order, the stopping
rule, the prunable fraction and pruned accuracies against an independent numpy computation, the table."""
from __future__ import annotations

import contextlib
import math
import sqlite3

import numpy as np
import pytest

from simulations._core.seeding import child
from simulations.noise_compression import wan_protocol as wp
from simulations.sweep import ResultsStore, make_config, run_sweep

TINY = dict(dataset="synthetic", hidden=(24,), n_train=300, n_test=150, batch_size=60, lr=0.05, eval_every=5)


def test_sweep_is_seed_major_with_the_five_noise_settings():
    sweeps = wp.wan_sweeps(widths=[2000, 5000], seeds=[1, 2, 3])
    assert [s for _, _, (s,) in sweeps] == [1, 2, 3]                  # one seed per entry, in order
    for name, cfgs, _ in sweeps:
        assert name == wp.WAN_EXPERIMENT and len(cfgs) == 2 * 5
        got = {(c["hidden"][0], c["noise"], c["alpha"], c["sigma"]) for c in cfgs}
        r = 0.003 / math.sqrt(2.0)  # their Gaussian and type-3 draws have scale 1/√2 (see the law test below)
        want = {(w, kind, a, s) for w in (2000, 5000)
                for kind, a, s in [("neuron", 1.75, 0.003), ("entry", 1.75, 0.003), ("elliptical", 1.75, r),
                                   ("neuron", 2.0, r), ("neuron", 1.75, 0.0)]}
        assert got == want
    cfg = make_config(wp.WAN_EXPERIMENT, **sweeps[0][1][0])
    # the protocol's defaults (their code's README example)
    assert (cfg.lr, cfg.batch_size, cfg.target_train_acc, cfg.eps2, cfg.n_train) == (0.01, 5000, 0.95, 0.1, 0)


def test_sweep_can_run_a_subset_of_the_settings_in_order():
    sweeps = wp.wan_sweeps(widths=[2000], seeds=[1], noise=["gaussian", "type2"])
    [(_, cfgs, _)] = sweeps
    assert [(c["noise"], c["alpha"]) for c in cfgs] == [("entry", 1.75), ("neuron", 2.0)]   # SETTING_KEYS order


@pytest.mark.parametrize("bad,match", [(dict(widths=[0]), "widths"), (dict(seeds=[-1]), "seeds"),
                                       (dict(noise=["type4"]), "noise"), (dict(noise="type1"), "noise"),
                                       (dict(dataset="cifar10"), "dataset"), (dict(widths=2000), "widths"),
                                       (dict(backend="cuda"), "backend")])
def test_sweep_rejects_bad_arguments(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        wp.wan_sweeps(**bad)


def _trained(cfg, seed):
    """The run's network, trained again with the body's arguments (the pruning oracle below needs its weights)."""
    from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, train
    from simulations.pruning.data import load_data

    data = load_data(cfg.dataset, cfg.n_train, cfg.n_test)
    spec = MLPSpec((data.X_train.shape[1],) + tuple(cfg.hidden) + (data.n_classes,), bias=False, activation="relu")
    noise = NoiseConfig(alpha=cfg.alpha, sigma=cfg.sigma, kind=cfg.noise) if cfg.sigma > 0 else None
    res = train(spec, data, optimizer=SGD(lr=cfg.lr), noise=noise, batch_size=cfg.batch_size,
                stop=StopRules(max_steps=cfg.steps, target_train_acc=cfg.target_train_acc),
                eval_every=cfg.eval_every, seed=child(seed, "train"))
    return data, [np.array(w, dtype=np.float64) for w in res.params.weights]


def _acc(ws, X, y):
    h = np.maximum(X @ ws[0].T, 0)
    return float(np.mean(np.argmax(h @ ws[1].T, axis=1) == y))


@pytest.mark.parametrize("noise,alpha,sigma", [("neuron", 1.75, 0.003), ("entry", 1.75, 0.003),
                                               ("elliptical", 1.75, 0.003), ("neuron", 2.0, 0.003),
                                               ("neuron", 1.75, 0.0)])
def test_run_metrics_match_an_independent_pruning_and_forward_pass(noise, alpha, sigma):
    cfg = make_config(wp.WAN_EXPERIMENT, **TINY, steps=400, target_train_acc=0.8, noise=noise, alpha=alpha,
                      sigma=sigma)
    out = wp.run_wan(cfg, 3)
    m = out["metrics"]
    assert out["status"] == "done"
    data, ws = _trained(cfg, 3)
    acc = _acc(ws, data.X_train.astype(np.float64), data.y_train)
    assert abs(m["train_acc"] - acc) < 1e-9
    # stopping rule: at the first full-pass check (every eval_every steps) with accuracy ≥ target, else the cap
    assert m["reached"] == (acc >= 0.8)
    assert (m["steps"] % cfg.eval_every == 0) if m["reached"] else m["steps"] == cfg.steps
    # prunable neurons: the most smallest-norm rows with Σ removed ‖w_i‖² ≤ 0.1 Σ ‖w_i‖² (written out)
    sq = np.sort(np.sum(ws[0] ** 2, axis=1))
    k = int(np.searchsorted(np.cumsum(sq), 0.1 * sq.sum(), side="right"))
    assert m["prunable"] == [k / ws[0].shape[0]] and 0 < k < ws[0].shape[0]
    keep = np.argsort(np.sum(ws[0] ** 2, axis=1), kind="stable")[k:]
    pw = [np.zeros_like(ws[0]), np.zeros_like(ws[1])]
    pw[0][keep], pw[1][:, keep] = ws[0][keep], ws[1][:, keep]
    assert abs(m["pruned_train_acc"] - _acc(pw, data.X_train.astype(np.float64), data.y_train)) < 1e-9
    assert abs(m["pruned_test_acc"] - _acc(pw, data.X_test.astype(np.float64), data.y_test)) < 1e-9
    assert math.isclose(m["prunable_mean"], m["prunable"][0])


def test_table_aggregates_the_store(tmp_path):
    store = tmp_path / "wan.sqlite"
    cfgs = [dict(TINY, steps=60, target_train_acc=0.99, noise="neuron", alpha=1.75, sigma=s) for s in (0.003, 0.0)]
    run_sweep(wp.WAN_EXPERIMENT, cfgs, store, seeds=[1, 2])
    with contextlib.closing(sqlite3.connect(store)) as con:   # as committed stores are (no -wal beside them)
        con.execute("PRAGMA journal_mode=DELETE")
    before = store.read_bytes()
    rows = wp.wan_table(store)
    assert store.read_bytes() == before             # reading the table leaves a committed store untouched
    assert [r["noise"] for r in rows] == ["type 1 (per neuron)", "no noise"]
    st = ResultsStore(store)
    for r, sigma in zip(rows, (0.003, 0.0)):
        runs = [st.get(x["run_id"]) for x in st.rows(experiment=wp.WAN_EXPERIMENT)]
        ms = [x["metrics"] for x in runs if x["config"]["sigma"] == sigma]
        assert r["seeds"] == [1, 2] and r["reached"] == sum(x["reached"] for x in ms)
        v = np.array([x["prunable_mean"] for x in ms])
        assert r["prunable_mean"] == pytest.approx((v.mean(), v.std(ddof=1)))
        assert r["steps"][0] == 60                      # 0.99 is out of reach: every run hits the cap


def _one_step_noise(kind, alpha, sigma, rows, seed=3):
    """The noise the training adds in one step: the step with noise minus the same step without (float64)."""
    from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, gaussian_mixture, init_params, train

    data = gaussian_mixture(64, dim=16, n_classes=3, seed=0, dtype=np.float64)
    spec = MLPSpec((16, rows, 3), bias=False, activation="relu", dtype="float64")
    kw = dict(params=init_params(spec, 0), optimizer=SGD(lr=0.01), batch_size=64, stop=StopRules(max_steps=1),
              seed=seed)
    base = train(spec, data, **kw).params.weights[0]
    noisy = train(spec, data, noise=NoiseConfig(alpha=alpha, sigma=sigma, kind=kind), **kw).params.weights[0]
    return (noisy - base) / 0.01 ** (1.0 / alpha)  # σ ξ


def test_gaussian_and_elliptical_settings_draw_the_law_of_the_authors_code():
    # Their code (main.py of mbarsbey/implicit-compressibility, CUDA path): the Gaussian control adds
    # σ η^{1/2} N(0, 1) per neuron, type 3 adds σ η^{1/α} √A·Z per neuron row, Z ~ N(0, I),
    # A ~ levy_stable(α/2, β=1, scale=cos(πα/4)^{2/α}). Oracle: those formulas drawn with numpy/scipy
    # here. KS tests at 2000 rows: the p-value bound 1e-3 is a false-alarm rate of 1e-3 per check for
    # the right law; a √2 error in the scale (tailcomp's N(0, 2) convention taken at face value)
    # gives D ≈ 0.16 for the normal, p ≈ 1e-40, far below it.
    from scipy import stats

    (_, _, _, s_ell), (_, _, _, s_gauss) = wp.NOISE_SETTINGS[2], wp.NOISE_SETTINGS[3]
    g = _one_step_noise("neuron", 2.0, s_gauss, 2000)
    assert np.allclose(g, g[:, :1])                               # one draw per neuron
    assert stats.kstest(g[:, 0], stats.norm(scale=wp.SIGMA).cdf).pvalue > 1e-3
    assert stats.kstest(g[:, 0], stats.norm(scale=s_gauss).cdf).pvalue < 1e-6    # the check can fail
    a = 1.75
    e = _one_step_noise("elliptical", a, s_ell, 2000)
    rng = np.random.default_rng(11)
    A = stats.levy_stable.rvs(a / 2, 1.0, scale=math.cos(math.pi * a / 4) ** (2 / a), size=2000, random_state=rng)
    theirs = wp.SIGMA * np.sqrt(A)[:, None] * rng.standard_normal((2000, 16))
    # the row norms carry the shared radial factor (the entries of a row are dependent); the entries' marginal
    assert stats.ks_2samp(np.linalg.norm(e, axis=1), np.linalg.norm(theirs, axis=1)).pvalue > 1e-3
    assert stats.ks_2samp(e[:, 0], theirs[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(np.linalg.norm(e, axis=1), np.sqrt(2) * np.linalg.norm(theirs, axis=1)).pvalue < 1e-6


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_same_result(tmp_path, monkeypatch):
    from simulations import nn
    from simulations.sweep.checkpoints import CHECKPOINT_ENV

    monkeypatch.setattr(wp, "CHECKPOINT_EVERY", 10)
    cfg = make_config(wp.WAN_EXPERIMENT, **dict(TINY, steps=40, target_train_acc=0.99, noise="entry",
                                                alpha=1.75, sigma=0.003))
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    whole = wp.run_wan(cfg, 2)                                     # no checkpoints: one uninterrupted run
    assert whole["metrics"]["resumed_at_step"] == 0 and whole["metrics"]["steps"] == 40
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path))
    real_train = nn.train

    def stopped_at_25(*args, **kw):                                # a kill between the step-20 and step-30 saves
        def cb(h):
            if h["step"] >= 25:
                raise KeyboardInterrupt
        return real_train(*args, callback=cb, **kw)

    monkeypatch.setattr(nn, "train", stopped_at_25)
    with pytest.raises(KeyboardInterrupt):
        wp.run_wan(cfg, 2)
    monkeypatch.setattr(nn, "train", real_train)
    [ck] = list(tmp_path.glob("wan_*.npz"))
    again = wp.run_wan(cfg, 2)
    assert again["metrics"]["resumed_at_step"] == 20
    drop = ("segment_seconds", "train_seconds", "resumed_at_step")
    assert {k: v for k, v in again["metrics"].items() if k not in drop} == \
        {k: v for k, v in whole["metrics"].items() if k not in drop}
    def after_20(r):
        return [{k: v for k, v in h.items() if k != "time"} for h in r["history"] if h["step"] > 20]

    assert after_20(again) == after_20(whole) and len(after_20(whole)) == 4
    assert [h["step"] for h in again["history"]] == [h["step"] for h in whole["history"]]
