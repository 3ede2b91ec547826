"""Noise-injected SGD against the baselines: the runs redone here from the training core's own calls.

Oracles: the dense phase of each variant rebuilt with :func:`simulations.nn.train` (noise config,
seeds, the resumed noise-free tail of the annealed variant), one-shot magnitude pruning from
:mod:`simulations.pruning.one_shot`, MACs counted by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations._core.seeding import child
from simulations.experiments.noise_compression import NoiseVersusConfig
from simulations.noise_compression import versus as vs

TINY = dict(dataset="synthetic", hidden=(12, 8), n_train=200, n_test=100, epochs=2, finetune_epochs=1,
            batch_size=40, sparsities=(0.5, 0.9), score_examples=64, sigma=0.05, alpha=1.5, rewind_step=2)
SPE = 5
DENSE_MACS = 64 * 12 + 12 * 8 + 8 * 10 + 30
N_W = 64 * 12 + 12 * 8 + 8 * 10


def _run(method, seed=0, **kw):
    return vs.versus_run(NoiseVersusConfig(method=method, **{**TINY, **kw}), seed)["metrics"]


def _dense(noise, steps, seed=0, anneal_at=None):
    from simulations.nn import SGD, MLPSpec, StopRules, init_params, train
    from simulations.nn.optim import Schedule
    from simulations.pruning.data import load_data

    data = load_data("synthetic", 200, 100)
    spec = MLPSpec((64, 12, 8, 10))
    opt = SGD(lr=0.05, momentum=0.9, schedule=Schedule("step", (int(0.5 * steps), int(0.75 * steps)), 0.1, "step"))
    kw = dict(optimizer=opt, batch_size=40, seed=child(seed, "train"), threads=None)
    theta0 = init_params(spec, child(seed, "init"))
    if anneal_at is None:
        return data, spec, train(spec, data, params=theta0, noise=noise, stop=StopRules(max_steps=steps), **kw)
    first = train(spec, data, params=theta0, noise=noise, stop=StopRules(max_steps=anneal_at), **kw)
    return data, spec, train(spec, data, resume=first.state, stop=StopRules(max_steps=steps), **kw)


def _oneshot(data, spec, params, s):
    from simulations.nn import Mask, evaluate
    from simulations.pruning.one_shot import prune

    masks = prune([np.array(w) for w in params.weights], "magnitude", ratio=s, scope="global").masks
    return float(evaluate(Mask.from_layers(spec, masks).apply(params.copy()), data.X_test, data.y_test)[1])


@pytest.mark.parametrize("method,layers,steps,anneal", [
    ("noise", None, 2 * SPE, None), ("noise_first_layer", [0], 2 * SPE, None),
    ("noise_no_ft", None, 3 * SPE, None), ("noise_anneal", None, 2 * SPE, int(0.75 * 2 * SPE)),
])
def test_each_variant_prunes_the_network_its_training_defines(method, layers, steps, anneal):
    from simulations.nn import NoiseConfig

    m = _run(method)
    data, spec, dense = _dense(NoiseConfig(1.5, 0.05, "entry", layers=layers), steps, anneal_at=anneal)
    for j, s in enumerate(TINY["sparsities"]):
        assert m["acc_oneshot"][j] == _oneshot(data, spec, dense.params, s)
    if method == "noise_no_ft":
        assert m["acc"] == m["acc_oneshot"] and m["steps"] == [steps, steps]
    else:
        assert m["steps"] == [steps + SPE] * 2


def test_the_noise_moves_the_weights_and_the_control_has_none():
    from simulations.nn import evaluate

    plain = _run("plain_no_ft")
    data, spec, dense = _dense(None, 3 * SPE)
    assert plain["dense_acc"] == float(evaluate(dense.params, data.X_test, data.y_test)[1])
    assert plain["acc"] == [_oneshot(data, spec, dense.params, s) for s in TINY["sparsities"]]
    noisy = vs.versus_run(NoiseVersusConfig(method="noise_no_ft", **TINY), 0)["metrics"]
    _, _, nd = _dense(__import__("simulations.nn", fromlist=["NoiseConfig"]).NoiseConfig(1.5, 0.05, "entry"), 3 * SPE)
    assert np.abs(nd.params.flat - dense.params.flat).max() > 1e-3
    assert noisy["dense_acc"] == float(evaluate(nd.params, data.X_test, data.y_test)[1])


def test_compute_equals_the_magnitude_baseline_by_hand():
    m = _run("noise")
    T, F = 2 * SPE, SPE
    for j, s in enumerate(TINY["sparsities"]):
        kept = N_W - int(np.floor(s * N_W))
        assert m["macs"][j] == 3 * 40 * T * DENSE_MACS + 3 * 40 * F * (kept + 30)
        assert m["relative_steps"][j] == 1.0


def test_sweep_and_table():
    (name, cfgs, seeds), = vs.versus_sweeps(False, ["synthetic"])
    assert name == vs.VERSUS and seeds == [0, 1, 2]
    assert len(cfgs) == 4 * len(vs.SIGMAS) + 1 and {c["sigma"] for c in cfgs if "sigma" in c} == set(vs.SIGMAS)
    rows = []
    for seed in (0, 1):
        for method, sigma in (("noise", 1e-3), ("noise", 3e-3), ("plain_no_ft", 1e-3)):
            rows.append(dict(experiment=vs.VERSUS, status="done", dataset="mnist", method=method, sigma=sigma,
                             alpha=1.75, seed=seed, target=[0.5], acc=[0.9 + 0.01 * seed], sparsity=[0.5],
                             compression=[2.0], speedup=[2.0], relative_compute=[0.9], relative_steps=[1.0]))
    tab = vs.versus_table(rows)
    assert [t["n_seeds"] for t in tab] == [2, 2, 2] and len({t["label"] for t in tab}) == 3
    assert any("σ = 0.003" in t["label"] for t in tab) and any("control" in t["label"] for t in tab)
    assert tab[0]["acc"] == pytest.approx([0.905])
