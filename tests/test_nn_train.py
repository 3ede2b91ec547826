"""Training loop: updates against a reference SGD, masks, determinism, checkpoints, stopping rules, noise."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulations.nn import (
    SGD,
    Mask,
    MLPSpec,
    NoiseConfig,
    Params,
    StopRules,
    evaluate,
    gaussian_mixture,
    init_params,
    load_checkpoint,
    predict,
    save_checkpoint,
    step_schedule,
    train,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# an independent reference: full-batch SGD with momentum / weight decay / mask in plain numpy
# --------------------------------------------------------------------------------------------
def _ref_grad(spec, p: Params, X, y):
    acts = [X]
    a = X
    for l in range(spec.n_layers):
        z = a @ p.weights[l].T + (p.biases[l] if spec.bias else 0)
        a = np.maximum(z, 0) if l < spec.n_layers - 1 else z
        acts.append(a)
    n = X.shape[0]
    z = acts[-1]
    e = np.exp(z - z.max(1, keepdims=True))
    d = e / e.sum(1, keepdims=True)
    d[np.arange(n), y] -= 1
    d /= n
    gw, gb = [None] * spec.n_layers, [None] * spec.n_layers
    for l in range(spec.n_layers - 1, -1, -1):
        gw[l] = d.T @ acts[l]
        gb[l] = d.sum(0)
        if l:
            d = (d @ p.weights[l]) * (acts[l] > 0)
    return gw, gb


def _ref_train(spec, p0: Params, X, y, lrs, momentum, wd, mask=None):
    p = p0.copy()
    if mask is not None:
        mask.apply(p)
    vw = [np.zeros_like(w) for w in p.weights]
    vb = [np.zeros_like(b) for b in p.biases]
    for lr in lrs:
        gw, gb = _ref_grad(spec, p, X, y)
        for l in range(spec.n_layers):
            for par, g, v, m in ((p.weights[l], gw[l], vw[l], None if mask is None else mask.weights[l]),
                                 (p.biases[l], gb[l], vb[l], None if mask is None else mask.biases[l])):
                g = g + wd * par
                v *= momentum
                v += g
                par -= lr * (v if momentum > 0 else g)
                if m is not None:
                    par *= m
                    v *= m
    return p


@pytest.mark.parametrize("momentum,wd,masked", [(0.0, 0.0, False), (0.0, 1e-2, True), (0.9, 0.0, False),
                                                (0.9, 1e-2, True)])
def test_full_batch_sgd_matches_reference(momentum, wd, masked):
    spec = MLPSpec((6, 8, 7, 3), dtype="float64")
    d = gaussian_mixture(40, 6, 3, seed=1, dtype=np.float64)
    p0 = init_params(spec, 2)
    mask = None
    if masked:
        rng = np.random.default_rng(3)
        mask = Mask.from_layers(spec, [rng.random(w.shape) < 0.6 for w in p0.weights])
    sched = step_schedule([3], gamma=0.5, unit="step")
    opt = SGD(0.2, momentum, wd, sched)
    r = train(spec, (d.X_train, d.y_train), params=p0, mask=mask, optimizer=opt, batch_size=40,
              stop=StopRules(max_steps=6), seed=0)
    ref = _ref_train(spec, p0, d.X_train, d.y_train, opt.lrs(0, 6, 1), momentum, wd, mask)
    assert r.status == "completed" and r.steps == 6
    # full batch: the permutation only reorders a sum ⇒ equal up to float64 rounding
    np.testing.assert_allclose(r.params.flat, ref.flat, rtol=1e-9, atol=1e-12)
    if masked:
        assert np.all(r.params.flat[mask.flat == 0] == 0.0)
    # the input parameters are not modified
    assert np.array_equal(p0.flat, init_params(spec, 2).flat)


@pytest.mark.parametrize("kind", ["entry", "neuron", "elliptical"])
def test_mask_honoured_under_noise_momentum_and_weight_decay(kind):
    spec = MLPSpec((10, 16, 12, 4))
    d = gaussian_mixture(200, 10, 4, seed=0)
    p0 = init_params(spec, 0)
    rng = np.random.default_rng(1)
    mask = Mask.from_layers(spec, [rng.random(w.shape) < 0.5 for w in p0.weights])
    r = train(spec, d, params=p0, mask=mask, optimizer=SGD(0.05, 0.9, 1e-3), batch_size=20,
              noise=NoiseConfig(1.5, 0.5, kind, layers=(0, 1, 2)), stop=StopRules(max_epochs=3), seed=4)
    assert r.status == "completed"
    assert np.all(r.params.flat[mask.flat == 0] == 0.0)
    assert np.all(r.state.velocity[mask.flat == 0] == 0.0)
    assert np.count_nonzero(r.params.flat[mask.flat == 1]) == int(mask.flat.sum())
    # forward pass of the masked model equals the model with pruned weights removed by hand
    q = r.params.copy()
    q.flat[mask.flat == 0] = 0.0
    np.testing.assert_array_equal(predict(r.params, d.X_train[:5]), predict(q, d.X_train[:5]))


def _curve(seed, threads=1):
    spec = MLPSpec((8, 16, 3))
    d = gaussian_mixture(300, 8, 3, n_test=100, seed=5)
    r = train(spec, d, optimizer=SGD(0.1, 0.5), noise=NoiseConfig(1.2, 0.05, "entry"), batch_size=32,
              stop=StopRules(max_epochs=3), eval_every=4, seed=seed, threads=threads)
    assert r.threads == r.config["threads"] == threads
    return [(h["step"], h["train_loss"], h["test_loss"]) for h in r.history], r.params.flat


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_curve_in_two_processes(threads):
    # documented guarantee: bit-identical at equal thread count (in every process)
    c_here, p_here = _curve(123, threads)  # first in-process: compiles and fills numba's cache for the subprocesses
    code = (f"import json,sys; sys.path.insert(0, {str(REPO)!r}); from tests.test_nn_train import _curve; "
            f"c, p = _curve(123, {threads}); print(json.dumps([c, p.astype(float).tolist()]))")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
            for _ in range(2)]
    assert outs[0] == outs[1]
    c0, p0 = json.loads(outs[0])
    assert [list(x) for x in c_here] == [list(x) for x in c0]
    assert p_here.astype(float).tolist() == p0
    c_other, _ = _curve(124, threads)
    assert c_other != c_here


@pytest.mark.parametrize("noise", [None, NoiseConfig(1.5, 0.1, "neuron")])
def test_checkpoint_resume_is_bit_identical(tmp_path, noise):
    spec = MLPSpec((8, 16, 3))
    d = gaussian_mixture(250, 8, 3, n_test=50, seed=2)
    kw = dict(optimizer=SGD(0.1, 0.9, 1e-4, step_schedule([2], 0.5)), noise=noise, batch_size=32, averaging=5,
              seed=9)
    full = train(spec, d, stop=StopRules(max_epochs=4), **kw)
    # interrupt in the middle of epoch 2 (steps/epoch = 7), checkpoint to disk, resume
    part = train(spec, d, stop=StopRules(max_steps=11), checkpoint_path=tmp_path / "ck", **kw)
    assert part.steps == 11
    state, cfg = load_checkpoint(tmp_path / "ck")
    assert cfg["batch_size"] == 32 and state.step == 11 and state.pos == 4
    rest = train(spec, d, stop=StopRules(max_epochs=4), resume=tmp_path / "ck", **kw)
    assert rest.status == "completed" and rest.steps == full.steps
    np.testing.assert_array_equal(rest.params.flat, full.params.flat)
    np.testing.assert_array_equal(rest.averaged.flat, full.averaged.flat)
    np.testing.assert_array_equal(rest.state.velocity, full.state.velocity)
    # resuming from the in-memory state works too
    rest2 = train(spec, d, stop=StopRules(max_epochs=4), resume=part.state, **kw)
    np.testing.assert_array_equal(rest2.params.flat, full.params.flat)


def test_divergence_is_a_status_not_an_exception():
    spec = MLPSpec((8, 32, 3))
    d = gaussian_mixture(200, 8, 3, seed=0)
    r = train(spec, d, optimizer=SGD(1e4), batch_size=20, stop=StopRules(max_epochs=50), seed=0)
    assert r.status == "diverged"
    assert r.steps < 500
    r2 = train(spec, d, optimizer=SGD(0.5), batch_size=20, stop=StopRules(max_epochs=5, max_loss=1e-3), seed=0)
    assert r2.status == "diverged"


def _noisy(sigma=1e3, **stop):
    spec = MLPSpec((8, 16, 3))
    d = gaussian_mixture(100, 8, 3, seed=0)
    return train(spec, d, optimizer=SGD(0.1), noise=NoiseConfig(0.5, sigma, "entry"), batch_size=10,
                 stop=StopRules(max_epochs=20, **stop), seed=0)


def test_noise_blow_up_is_diverged_by_default():
    # α = 0.5 noise: jumps σ η^{1/α} ξ with P(|ξ| > x) ~ x^{-1/2}, so the weights reach ~1e9 in 200 steps
    from simulations.nn.train import MAX_LOSS_DEFAULT, MAX_WEIGHT_DEFAULT

    assert StopRules(max_steps=1).max_loss == MAX_LOSS_DEFAULT == 1e6
    assert StopRules(max_steps=1).max_weight == MAX_WEIGHT_DEFAULT == 1e6
    off = _noisy(max_loss=None, max_weight=None)
    assert off.status == "completed" and off.steps == 200
    assert np.abs(off.params.flat).max() > 1e6  # the unguarded run ends with absurd weights
    r = _noisy()
    assert r.status == "diverged" and r.steps < 200
    assert "max_loss = 1e+06" in r.reason and r.history[-1]["step"] == r.steps
    # the weight ceiling alone: the run stops after the first step that leaves some |θ_j| above it
    w = _noisy(sigma=1.0, max_loss=None, max_weight=1e3)
    assert w.status == "diverged" and "above max_weight = 1000" in w.reason
    assert np.abs(w.params.flat).max() > 1e3
    assert 1 < w.steps < 200
    # the step before it left every |θ_j| below the ceiling (checked at every step, not per chunk)
    before = train(MLPSpec((8, 16, 3)), gaussian_mixture(100, 8, 3, seed=0), optimizer=SGD(0.1),
                   noise=NoiseConfig(0.5, 1.0, "entry"), batch_size=10, seed=0,
                   stop=StopRules(max_steps=w.steps - 1, max_loss=None, max_weight=None))
    assert before.status == "completed" and np.abs(before.params.flat).max() <= 1e3
    # a normal run is unaffected: same result bit for bit with and without the guard
    spec = MLPSpec((8, 16, 3))
    d = gaussian_mixture(100, 8, 3, seed=0)
    a = train(spec, d, optimizer=SGD(0.1), batch_size=10, stop=StopRules(max_epochs=3), seed=0)
    b = train(spec, d, optimizer=SGD(0.1), batch_size=10, stop=StopRules(max_epochs=3, max_loss=None,
                                                                          max_weight=None), seed=0)
    assert a.status == b.status == "completed" and a.reason == "budget of 30 steps used up"
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    with pytest.raises(ValueError, match="max_weight"):
        StopRules(max_steps=1, max_weight=0.0)
    with pytest.raises(TypeError, match="max_weight"):
        StopRules(max_steps=1, max_weight="big")


def test_stopping_rules_and_averaging():
    spec = MLPSpec((8, 64, 3))
    d = gaussian_mixture(200, 8, 3, separation=8.0, seed=3)
    r = train(spec, d, optimizer=SGD(0.1), batch_size=20, stop=StopRules(max_epochs=50, target_train_acc=0.95),
              seed=0)
    assert r.status == "target_reached" and r.epochs < 50
    assert r.final["train_acc"] >= 0.95 and r.final["train_metric"] == "full"
    loss, acc = evaluate(r.params, d.X_train, d.y_train)
    assert acc == pytest.approx(r.final["train_acc"]) and loss == pytest.approx(r.final["train_loss"], rel=1e-5)
    r = train(spec, d, optimizer=SGD(0.1), batch_size=20, averaging=7,
              stop=StopRules(max_epochs=500, interpolation_loss=0.05), seed=0)
    assert r.status == "interpolated"
    assert r.history[-2]["train_acc"] == 1.0 and r.history[-2]["train_loss"] < 0.05
    assert r.state.avg_count == 7 and r.steps == r.history[-2]["step"] + 7
    # averaging over the last m steps of a budget = mean of the snapshots
    m = 3
    r = train(spec, d, optimizer=SGD(0.1), batch_size=20, averaging=m, stop=StopRules(max_steps=12),
              snapshot_at=range(9, 13), seed=1)
    mean = np.mean([r.snapshots[k].flat.astype(np.float64) for k in (10, 11, 12)], axis=0)
    np.testing.assert_allclose(r.averaged.flat, mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(r.snapshots[12].flat, r.params.flat)


def test_start_step_replays_the_schedule_and_callback_stops():
    spec = MLPSpec((8, 16, 3))
    d = gaussian_mixture(100, 8, 3, seed=3)
    opt = SGD(0.1, schedule=step_schedule([10], 0.1, unit="step"))
    r = train(spec, d, optimizer=opt, batch_size=10, start_step=8, stop=StopRules(max_steps=5), eval_every=1)
    assert [h["lr"] for h in r.history] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01])
    assert r.steps == 13
    seen = []
    r = train(spec, d, batch_size=10, stop=StopRules(max_epochs=5), callback=lambda e: seen.append(e["step"]) or
              e["step"] >= 20)
    assert r.status == "stopped" and r.steps == 20 and seen == [10, 20]


def _one_step_noise(kind, alpha, sigma, lr, sizes=(30, 400, 2), mask=None):
    """Noise increments of one step: (noisy run − noiseless run), float64, identical batches."""
    spec = MLPSpec(sizes, dtype="float64")
    d = gaussian_mixture(20, sizes[0], sizes[-1], seed=0, dtype=np.float64)
    p0 = init_params(spec, 0)
    kw = dict(params=p0, mask=mask, optimizer=SGD(lr), batch_size=20, stop=StopRules(max_steps=1), seed=1)
    a = train(spec, d, noise=NoiseConfig(alpha, sigma, kind), **kw)
    b = train(spec, d, **kw)
    return (a.params.flat - b.params.flat), spec


def test_noise_entry_increments_are_sas_with_scale_sigma_eta_1_over_alpha():
    lr, sigma = 0.01, 0.3
    for alpha, law in ((2.0, None), (1.0, stats.cauchy)):
        diff, spec = _one_step_noise("entry", alpha, sigma, lr)
        P = Params(spec, diff)
        x = P.weights[0].ravel() / (sigma * lr ** (1 / alpha))  # 12000 iid SαS(1) draws
        # output layer and biases get no noise
        assert np.all(P.weights[1] == 0) and np.all(P.biases[0] == 0) and np.all(P.biases[1] == 0)
        # α = 2: SαS(1) = N(0, 2); α = 1: standard Cauchy. KS at level 1e-3 (false alarm 0.1 %).
        cdf = stats.norm(scale=np.sqrt(2)).cdf if law is None else law.cdf
        assert stats.kstest(x, cdf).pvalue > 1e-3
    # the reference law is not accepted for the wrong scale: power check
    assert stats.kstest(x * 1.2, stats.cauchy.cdf).pvalue < 1e-3


def test_noise_neuron_is_constant_along_incoming_weights():
    lr, sigma, alpha = 0.02, 0.5, 1.5
    diff, spec = _one_step_noise("neuron", alpha, sigma, lr, sizes=(20, 2000, 2))
    W = Params(spec, diff).weights[0]
    np.testing.assert_allclose(W, W[:, :1] * np.ones((1, 20)), rtol=1e-9, atol=1e-12)
    xi = W[:, 0] / (sigma * lr ** (1 / alpha))  # 2000 iid SαS(1), α = 1.5: KS vs scipy's levy_stable
    assert stats.kstest(xi, stats.levy_stable(alpha, 0.0).cdf).pvalue > 1e-3
    assert len(np.unique(np.round(xi, 12))) == 2000


def test_noise_elliptical_rows_are_sub_gaussian():
    lr, sigma, alpha = 0.01, 0.2, 1.0
    diff, spec = _one_step_noise("elliptical", alpha, sigma, lr, sizes=(50, 600, 2))
    W = Params(spec, diff).weights[0] / (sigma * lr ** (1 / alpha))
    # each coordinate is SαS(1) (here Cauchy); within a row the vector is R·Z with one shared R:
    assert stats.kstest(W[:, 0], stats.cauchy.cdf).pvalue > 1e-3
    # W_ij / ‖W_i‖ is the direction of a Gaussian vector: its coordinates times √d are ≈ N(0, 1)
    u = (W / np.linalg.norm(W, axis=1, keepdims=True)).ravel() * np.sqrt(50)
    assert stats.kstest(u[:5000], stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=1000), "batch_size"),
        (dict(optimizer="sgd"), "optimizer"),
        (dict(eval_train="sometimes"), "eval_train"),
        (dict(averaging=-1), "averaging"),
        (dict(threads=0), "threads"),
        (dict(drop_last="no"), "drop_last"),
        (dict(drop_last=1), "drop_last"),
        (dict(progress=np.array([1])), "progress"),
        (dict(snapshot_at=3), "snapshot_at"),
        (dict(snapshot_at="3"), "snapshot_at"),
        (dict(resume=3), "resume"),
        (dict(checkpoint_path=3, checkpoint_every=1), "checkpoint_path"),
        (dict(eval_train=np.array(["full"])), "eval_train"),
        (dict(backend=np.array(["cpu"])), "backend"),
        (dict(batch_size=2**25), "batch_size"),
    ],
)
def test_train_rejects_bad_input(kw, match):
    spec = MLPSpec((4, 5, 3))
    d = gaussian_mixture(50, 4, 3, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        train(spec, d, **{"stop": StopRules(max_steps=1), "batch_size": 10, **kw})


def test_train_refuses_a_mask_view_written_with_non_binary_values():
    spec = MLPSpec((4, 5, 3))
    m = Mask.from_layers(spec, [np.ones((5, 4)), np.ones((3, 5))])
    m.weights[0][0, 0] = 7  # through a view, after the checks of the constructor
    with pytest.raises(ValueError, match="mask entries must be 0 or 1"):
        train(spec, gaussian_mixture(50, 4, 3, seed=0), mask=m, batch_size=10, stop=StopRules(max_steps=1))


def test_train_rejects_bad_data_and_config():
    spec = MLPSpec((4, 5, 3))
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="y_train"):
        train(spec, (X, np.full(10, 3)), stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="y_train"):
        train(spec, (X, np.full(10, -1)), stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="X_train"):
        train(spec, (np.zeros((10, 5)), np.zeros(10, int)), stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="X_train"):
        train(spec, (np.full((10, 4), np.nan), np.zeros(10, int)), stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="lr"):
        SGD(0.0)
    with pytest.raises(ValueError, match="alpha"):
        NoiseConfig(alpha=2.5)
    with pytest.raises(ValueError, match="sigma"):
        NoiseConfig(sigma=-1.0)
    with pytest.raises(ValueError, match="noise kind"):
        NoiseConfig(kind="row")
    with pytest.raises(TypeError, match="noise kind"):
        NoiseConfig(kind=np.array(["entry"]))
    with pytest.raises(TypeError, match="milestones"):
        step_schedule(5)
    with pytest.raises(ValueError, match="noise layers"):
        train(spec, (X, np.zeros(10, int)), noise=NoiseConfig(sigma=1.0, layers=(5,)), stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="max_epochs or max_steps"):
        StopRules()
    with pytest.raises(ValueError, match="activation"):
        MLPSpec((4, 3), activation="gelu")
    with pytest.raises(ValueError, match="sizes"):
        MLPSpec((4,))


def test_save_load_checkpoint_roundtrip(tmp_path):
    spec = MLPSpec((4, 5, 3))
    d = gaussian_mixture(50, 4, 3, seed=0)
    r = train(spec, d, optimizer=SGD(0.1, 0.9), batch_size=10, stop=StopRules(max_steps=3))
    save_checkpoint(tmp_path / "c.json", r.state, {"x": 1})
    s, cfg = load_checkpoint(tmp_path / "c")
    assert cfg == {"x": 1} and s.step == 3 and s.params == r.state.params
    np.testing.assert_array_equal(s.velocity, r.state.velocity)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing")


@pytest.mark.parametrize("drop_last", [True, False])
def test_minibatch_order_matches_reference(drop_last):
    """Minibatches follow one seeded permutation per epoch (the documented derivation of the seeds)."""
    from simulations._core import seeding

    spec = MLPSpec((5, 7, 3), dtype="float64")
    d = gaussian_mixture(45, 5, 3, seed=2, dtype=np.float64)
    p0 = init_params(spec, 1)
    B, epochs, lr, seed = 20, 2, 0.3, 17
    r = train(spec, (d.X_train, d.y_train), params=p0, optimizer=SGD(lr), batch_size=B, drop_last=drop_last,
              stop=StopRules(max_epochs=epochs), seed=seed)
    rng = seeding.generator(seed, "shuffle")
    p = p0.copy()
    steps = 0
    for _ in range(epochs):
        perm = rng.permutation(45)
        n_b = 45 // B if drop_last else -(-45 // B)
        for s in range(n_b):
            idx = perm[s * B:(s + 1) * B]
            gw, gb = _ref_grad(spec, p, d.X_train[idx], d.y_train[idx])
            for l in range(spec.n_layers):
                p.weights[l] -= lr * gw[l]
                p.biases[l] -= lr * gb[l]
            steps += 1
    assert r.steps == steps == (4 if drop_last else 6)
    np.testing.assert_allclose(r.params.flat, p.flat, rtol=1e-10, atol=1e-13)


def test_step_counts_are_bounded_by_steps_max():
    from simulations.nn.train import STEPS_MAX

    d = gaussian_mixture(20, 4, 3, seed=0)
    for bad in (STEPS_MAX + 1, 2**63):
        with pytest.raises(ValueError, match="start_step"):
            train(MLPSpec((4, 5, 3)), d, batch_size=5, stop=StopRules(max_steps=2), start_step=bad)
        with pytest.raises(ValueError, match="max_steps"):
            StopRules(max_steps=bad)
        with pytest.raises(ValueError, match="max_epochs"):
            StopRules(max_epochs=bad)
    r = train(MLPSpec((4, 5, 3)), d, batch_size=5, stop=StopRules(max_steps=2), start_step=STEPS_MAX)
    assert r.status == "completed" and r.steps == STEPS_MAX + 2


def test_resume_can_switch_the_noise_off():
    """A noisy run resumed with noise=None continues as plain SGD from the same data order.

    Oracle: the resumed step is θ − η ∇L(θ; batch) with the batch read from the state's permutation
    and the gradient from the float64 backend (momentum 0, so one step is fully determined).
    """
    from simulations.nn import get_backend

    spec = MLPSpec((6, 8, 5, 3), dtype="float64")
    data = gaussian_mixture(60, 6, 3, seed=2)
    noisy = NoiseConfig(1.5, 0.1, "entry")
    first = train(spec, data, optimizer=SGD(0.1), noise=noisy, batch_size=10, stop=StopRules(max_steps=5), seed=3)
    st = first.state
    rows = st.perm[st.pos * 10:(st.pos + 1) * 10]
    _, g = get_backend("cpu").gradient(spec, st.params.flat, data.X_train[rows], data.y_train[rows])
    quiet = train(spec, data, optimizer=SGD(0.1), noise=None, batch_size=10, stop=StopRules(max_steps=6), seed=3,
                  resume=st)
    np.testing.assert_allclose(quiet.params.flat, st.params.flat - 0.1 * g, rtol=0, atol=1e-13)
    assert quiet.state.noise_states.shape == (0, 2) and st.noise_states.shape[0] == 8 + 5
    loud = train(spec, data, optimizer=SGD(0.1), noise=noisy, batch_size=10, stop=StopRules(max_steps=6), seed=3,
                 resume=st)
    assert np.abs(loud.params.flat - quiet.params.flat).max() > 1e-3          # the noise would have moved it
    with pytest.raises(ValueError, match="noise streams"):
        train(spec, data, optimizer=SGD(0.1), noise=NoiseConfig(1.5, 0.1, "entry", layers=[0]), batch_size=10,
              stop=StopRules(max_steps=6), seed=3, resume=st)



def test_averaging_delay_averages_the_last_m_steps_of_a_longer_tail():
    # Barsbey et al.'s window: after the convergence rule fires, d + m more steps, the mean of the last m.
    # Oracle: the iterates themselves, as snapshots of a second (deterministic) run of the same training.
    from simulations.nn import SGD, MLPSpec, StopRules, gaussian_mixture, train

    data = gaussian_mixture(200, dim=5, n_classes=3, separation=6.0, seed=1)
    spec = MLPSpec((5, 16, 3))
    kw = dict(optimizer=SGD(lr=0.05), batch_size=20, eval_every=10, seed=2, averaging=3, averaging_delay=5,
              stop=StopRules(max_epochs=50, target_train_acc=0.9))
    first = train(spec, data, **kw)
    assert first.status == "target_reached"
    fired = first.steps - 8
    assert fired % 10 == 0  # the rule fires at an evaluation, then 5 + 3 steps run
    again = train(spec, data, snapshot_at=range(first.steps - 2, first.steps + 1), **kw)
    assert again.params == first.params
    want = np.mean([again.snapshots[k].flat.astype(np.float64) for k in range(first.steps - 2, first.steps + 1)], axis=0)
    np.testing.assert_allclose(first.averaged.flat, want, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="averaging_delay"):
        train(spec, data, averaging_delay=5, stop=StopRules(max_steps=2))


def test_evaluate_and_predict_in_chunks_against_numpy_and_compile_nothing_after_training():
    """2500 rows in chunks of 1024 (a partial last chunk): the logits, mean cross-entropy and accuracy equal a
    plain numpy forward pass; and after a training run, evaluation adds no compiled signature to any kernel of
    the dense CPU backend (it reuses the forward pass and loss the training compiled)."""
    from numba.core.registry import CPUDispatcher

    from simulations.nn.backends import cpu_dense

    spec = MLPSpec((6, 9, 4), dtype="float64")
    data = gaussian_mixture(64, dim=6, n_classes=4, n_test=2500, seed=3)
    res = train(spec, data, optimizer=SGD(lr=0.05), batch_size=16, stop=StopRules(max_steps=3), seed=1)
    kernels = {name: d for name, d in vars(cpu_dense).items() if isinstance(d, CPUDispatcher)}
    before = {name: list(d.signatures) for name, d in kernels.items()}
    loss, acc = evaluate(res.params, data.X_test, data.y_test)
    logits = predict(res.params, data.X_test)
    assert {name: list(d.signatures) for name, d in kernels.items()} == before
    p, a = res.params, data.X_test
    for l in range(spec.n_layers):
        a = a @ p.weights[l].T + p.biases[l]
        if l < spec.n_layers - 1:
            a = np.maximum(a, 0.0) if spec.activation == "relu" else np.tanh(a)
    np.testing.assert_allclose(logits, a, rtol=1e-12, atol=1e-12)
    z = a - a.max(axis=1, keepdims=True)
    ce = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), data.y_test]
    assert loss == pytest.approx(ce.mean(), rel=1e-12)
    assert acc == np.mean(a.argmax(axis=1) == data.y_test)


def test_no_kernel_calls_the_gemm_wrapper_with_literal_flags():
    """A bare True/False transpose flag is typed Literal[bool] in jitted code, so each combination compiled its
    own copy of cpu_dense.gemm (three per dtype in a training run); every call site passes np.bool_ flags."""
    import re
    from pathlib import Path

    import simulations.nn as nn_pkg

    root = Path(nn_pkg.__file__).parent
    calls = [(p.name, m.group(0)) for p in sorted(root.rglob("*.py")) for m in re.finditer(r"\bgemm\(([^,]*),", p.read_text())]
    assert len(calls) >= 10
    assert [c for c in calls if c[1].split("(", 1)[1].strip(" ,") in ("True", "False")] == []
