"""The ``pruning.conv`` experiment: a LeNet-5 trained on MNIST rows, then pruned and measured.

Oracles: a global magnitude mask rebuilt here from a pooled sort of |θ| (independent of the
pruning package), the prunable-filter fraction of the first layer recomputed by hand from its
sorted squared filter norms, and the resumed run equal to the first to the last digit.
"""
import numpy as np
import pytest

from simulations.experiments.pruning import ConvConfig
from simulations.pruning import conv_study
from simulations.sweep.checkpoints import CHECKPOINT_ENV


@pytest.fixture(scope="module")
def mnist():
    from simulations.nn import data as D

    try:
        D.load_mnist()
    except D.DataError as exc:
        pytest.skip(f"MNIST files not found ({exc})")


def _config(**kw):
    return ConvConfig(**{**dict(n_train=512, n_test=256, epochs=1, batch_size=64, milestones=(1,),
                                sparsities=(0.5, 0.9), filter_fractions=(0.25,)), **kw})


def test_conv_run_metrics_against_independent_recomputation(mnist, tmp_path, monkeypatch):
    from simulations._core.seeding import child
    from simulations.nn import SGD, StopRules, evaluate, get_model, init_params, step_schedule, train
    from simulations.pruning.data import load_data

    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path))
    cfg = _config(n_train=1024, batch_size=32, epochs=2, milestones=(2,), sparsities=(0.8, 0.95))
    out = conv_study.conv_run(cfg, 3)
    m = out["metrics"]
    assert out["status"] == "done" and m["steps"] == 64 and not m["resumed"]
    # the same training written out with the public API
    data = load_data("mnist", 1024, 256)
    spec = get_model("lenet5")
    res = train(spec, data, params=init_params(spec, child(3, "init")), seed=child(3, "train"), batch_size=32,
                optimizer=SGD(0.05, 0.9, 5e-4, step_schedule([2], 0.1)), stop=StopRules(max_epochs=2))
    assert res.final["test_acc"] > 0.5  # a trained network, so that different masks give different accuracies
    assert m["test_acc"] == res.final["test_acc"]
    w = np.concatenate([np.abs(x).ravel() for x in res.params.weights])
    for s, acc in zip(cfg.sparsities, m["acc_magnitude"]):
        k = int(np.floor(s * w.size))
        keep = np.ones(w.size, bool)
        keep[np.argsort(w, kind="stable")[:k]] = False
        p = res.params.copy()
        pos = 0
        for x in p.weights:
            x[...] *= keep[pos:pos + x.size].reshape(x.shape)
            pos += x.size
        assert acc == pytest.approx(evaluate(p, data.X_test, data.y_test)[1], abs=1e-12)
    # the check can tell global from per-layer pruning: per-layer masks give another accuracy at 95 %
    q = res.params.copy()
    for x in q.weights:
        a = np.abs(x).ravel()
        drop = np.argsort(a, kind="stable")[:int(np.floor(0.95 * a.size))]
        x.ravel()[drop] = 0
    assert evaluate(q, data.X_test, data.y_test)[1] != m["acc_magnitude"][1]
    assert len(m["acc_filters"]) == 1 and 0 <= m["acc_filters"][0] <= 1
    # Wan et al.'s fraction for the first conv: remove filters by increasing norm while the removed
    # squared norm stays ≤ 0.1 of the total
    sq = np.sort((res.params.weights[0].reshape(6, -1).astype(np.float64) ** 2).sum(axis=1))
    n_ok = int(np.sum(np.cumsum(sq) <= 0.1 * sq.sum()))
    assert m["prunable_filters"]["0"] == pytest.approx(n_ok / 6)
    assert all(a is None or 0 < a <= 2 for a in m["alpha_rows"] + m["alpha_entries"])
    # a rerun finds the checkpoint and continues from it: the same network, nothing retrained
    again = conv_study.conv_run(cfg, 3)["metrics"]
    assert again["resumed"] and again["test_acc"] == m["test_acc"] and again["acc_magnitude"] == m["acc_magnitude"]


def test_checkpoint_names_follow_config_and_seed(monkeypatch, tmp_path):
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    assert conv_study.checkpoint_for(_config(), 0) is None
    monkeypatch.setenv(CHECKPOINT_ENV, str(tmp_path))
    a, b, c = (conv_study.checkpoint_for(_config(), 0), conv_study.checkpoint_for(_config(), 1),
               conv_study.checkpoint_for(_config(lr=0.01), 0))
    assert len({a, b, c}) == 3 and a.parent == tmp_path and a == conv_study.checkpoint_for(_config(), 0)


def test_imp_with_weight_rewinding_on_lenet5(mnist):
    # Frankle et al. 2020's rewinding on a convolutional network: every round restarts from θ_k of the
    # dense run (masked), the sparsity targets are met exactly (global ⌊s·n⌋ over the weight tensors),
    # pruned weights stay exactly zero, and round 1's mask is the top-|θ| set of the dense network.
    from simulations._core.seeding import child
    from simulations.nn import SGD, StopRules, get_model, init_params, train
    from simulations.pruning import imp
    from simulations.pruning.data import load_data

    data = load_data("mnist", 512, 256)
    spec = get_model("lenet5")
    r = imp(spec, data, steps=16, optimizer=SGD(0.05, 0.9), batch_size=64, targets=(0.5, 0.8), rewind="iteration",
            rewind_step=4, seed=2)
    n = sum(int(np.prod(s)) for s in spec.weight_shapes)
    assert r.init == init_params(spec, child(2, "init"))
    dense = train(spec, data, params=r.init, optimizer=SGD(0.05, 0.9), batch_size=64, stop=StopRules(max_steps=16),
                  seed=child(2, "train"), snapshot_at=(4,))
    assert r.rounds[0].params == dense.params
    w = np.concatenate([np.abs(x).ravel() for x in dense.params.weights])
    keep = np.ones(n, bool)
    keep[np.argsort(w, kind="stable")[:n // 2]] = False
    assert np.array_equal(np.concatenate([m.ravel() for m in r.rounds[1].masks]), keep)
    for ro, s in zip(r.rounds[1:], (0.5, 0.8)):
        assert ro.remaining == n - int(np.floor(s * n))
        flat_mask = np.concatenate([m.ravel() for m in ro.masks])
        final = np.concatenate([x.ravel() for x in ro.params.weights])
        start = np.concatenate([x.ravel() for x in ro.start_params.weights])
        theta_k = np.concatenate([x.ravel() for x in dense.snapshots[4].weights])
        assert np.all(final[~flat_mask] == 0) and np.array_equal(start, theta_k * flat_mask)
        assert ro.steps == 12
