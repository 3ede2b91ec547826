"""``train`` on ModelSpec networks (convolutional, BatchNorm): masks, momentum, noise, checkpoints, evaluation.

Oracles: the fused MLP backend (an independent implementation of the same step) for a ModelSpec
built from an MLP; hand-written full-batch SGD on ``conv_net.loss_and_grad`` (itself checked
against finite differences and torch) for convolutional networks; exact zeros and bit-equality
for masks, excluded noise layers and resumed runs.
"""
import numpy as np
import pytest

from simulations.nn import (
    SGD,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    Mask,
    MaxPool2d,
    MLPSpec,
    ModelSpec,
    NoiseConfig,
    Params,
    ReLU,
    StopRules,
    conv_net,
    evaluate,
    get_model,
    init_params,
    predict,
    train,
)
from simulations.nn.checkpoint import load_checkpoint

IMG = (2, 6, 6)


def _tiny(dtype="float64", bn=True) -> ModelSpec:
    layers = [Conv2d(4, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(5, 3, padding=1, bias=not bn)]
    layers += ([BatchNorm2d()] if bn else []) + [ReLU(), Flatten(), Dense(7), ReLU(), Dense(3)]
    return ModelSpec(IMG, tuple(layers), 3, dtype=dtype)


def _data(n=24, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *IMG)).astype(dtype)
    y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 1, 3:].sum(axis=(1, 2)) > 0)
    return X, y


def test_modelspec_of_an_mlp_trains_as_the_fused_mlp_kernel():
    # The MLP backend fuses forward, backward and update into BLAS calls; the ModelSpec path runs
    # conv_net layer by layer then separate update / noise / mask passes. Same semantics ⇒ equal in
    # float64 to rounding (1e-9 relative after 30 steps of momentum, weight decay, mask and noise).
    mlp = MLPSpec((36, 9, 7, 3), dtype="float64")
    X, y = _data(60)
    Xf = X[:, :1].reshape(60, 36)  # only the first channel: 36 inputs
    ms = ModelSpec.from_mlp(mlp, input_shape=(36,))
    rng = np.random.default_rng(3)
    mflat = (rng.random(mlp.n_params) > 0.3).astype(np.uint8)
    for noise in (None, NoiseConfig(alpha=1.7, sigma=0.01, kind="entry"), NoiseConfig(alpha=1.5, sigma=0.01,
                                                                                      kind="neuron", layers=[0, 2]),
                  NoiseConfig(alpha=1.8, sigma=0.01, kind="elliptical")):
        kw = dict(optimizer=SGD(lr=0.05, momentum=0.9, weight_decay=1e-3), batch_size=10,
                  stop=StopRules(max_steps=30), noise=noise, seed=4)
        a = train(mlp, (Xf, y), mask=Mask.from_flat(mlp, mflat), **kw)
        b = train(ms, (Xf, y), mask=Mask.from_flat(ms, mflat), **kw)
        assert a.status == b.status == "completed"
        scale = np.abs(a.params.flat).max()
        np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=1e-9 * scale)
        assert np.all(b.params.flat[mflat == 0] == 0)
        # plain SGD without a mask, neuron noise folded into the MLP's update GEMM
        kw.update(optimizer=SGD(lr=0.05))
        a, b = train(mlp, (Xf, y), **kw), train(ms, (Xf, y), **kw)
        np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=1e-9 * scale)


def _manual_sgd(spec, flat, buffers, X, y, steps, lr, mu=0.0, wd=0.0, mask=None):
    """Full-batch SGD written out with torch.optim.SGD's rule on conv_net.loss_and_grad."""
    w, b, v = flat.copy(), buffers.copy(), np.zeros_like(flat)
    m = np.ones_like(flat) if mask is None else mask.astype(flat.dtype)
    w *= m
    for _ in range(steps):
        _, g = conv_net.loss_and_grad(spec, w, b, X, y, train=True)
        g = g + wd * w
        v = mu * v + g if mu > 0 else g
        w = (w - lr * v) * m
        v = v * m
    return w, b


@pytest.mark.parametrize("mu,wd", [(0.0, 0.0), (0.9, 1e-3)])
def test_conv_training_equals_hand_written_full_batch_sgd(mu, wd):
    # batch = n: every step sees the whole set, so the shuffling order cannot matter (BatchNorm's batch
    # statistics are order-free too); the hand loop is independent of the runner and the update kernels.
    spec = _tiny()
    X, y = _data(16)
    p0 = init_params(spec, 5)
    mask = (np.random.default_rng(1).random(spec.n_params) > 0.25).astype(np.uint8)
    # BatchNorm's γ, β stay unmasked (Mask.from_layers does so); here the flat mask keeps them too
    for e in spec.param_layout():
        if e.kind == "batchnorm":
            mask[e.weight_offset:e.end] = 1
    r = train(spec, (X, y), params=p0, mask=Mask.from_flat(spec, mask), optimizer=SGD(lr=0.1, momentum=mu,
              weight_decay=wd), batch_size=16, stop=StopRules(max_steps=6), seed=0)
    w, b = _manual_sgd(spec, p0.flat, p0.buffers, X, y, 6, 0.1, mu, wd, mask)
    np.testing.assert_allclose(r.params.flat, w, rtol=0, atol=1e-12 * np.abs(w).max())
    np.testing.assert_allclose(r.params.buffers, b, rtol=1e-12, atol=1e-14)
    assert not np.any(r.params.buffers == p0.buffers)  # the running statistics moved
    assert np.all(r.params.flat[mask == 0] == 0)


def test_flattened_and_image_inputs_agree_and_evaluation_uses_the_running_statistics():
    spec = _tiny()
    X, y = _data(20)
    kw = dict(optimizer=SGD(lr=0.05, momentum=0.9), batch_size=5, stop=StopRules(max_steps=8), seed=2)
    a = train(spec, (X, y, X[:7], y[:7]), **kw)
    b = train(spec, (X.reshape(20, -1), y, X[:7].reshape(7, -1), y[:7]), **kw)
    assert a.params == b.params and a.history[-1]["test_loss"] == b.history[-1]["test_loss"]
    want = conv_net.evaluate(spec, a.params.flat, a.params.buffers, X[:7], y[:7])
    assert evaluate(a.params, X[:7], y[:7]) == pytest.approx(want, rel=1e-12)
    assert a.history[-1]["test_loss"] == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(predict(a.params, X), conv_net.predict(spec, a.params.flat, a.params.buffers, X),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"X_train must have shape \(n, \*spec.input_shape\)"):
        train(spec, (X[:, :1], y), **kw)


def _pruned_filter_mask(spec, layer, filters):
    masks = [np.ones(s, dtype=bool) for s in spec.weight_shapes]
    masks[layer][filters] = False
    masks[layer + 1][:, filters] = False
    biases = [None] * spec.n_layers
    if init_params(spec).biases[layer] is not None:
        biases[layer] = np.ones(spec.weight_shapes[layer][0], dtype=bool)
        biases[layer][filters] = False
    return Mask.from_layers(spec, masks, biases)


@pytest.mark.parametrize("kind", ["entry", "neuron", "elliptical"])
def test_pruned_filters_stay_zero_through_momentum_and_noise(kind):
    spec = _tiny("float32")
    X, y = _data(32, dtype=np.float32)
    mask = _pruned_filter_mask(spec, 0, [1, 3])
    r = train(spec, (X, y), mask=mask, optimizer=SGD(lr=0.05, momentum=0.9, weight_decay=1e-4), batch_size=8,
              noise=NoiseConfig(alpha=1.6, sigma=0.05, kind=kind, layers=[0, 1, 2]),
              stop=StopRules(max_epochs=3), seed=1)
    assert r.status == "completed"
    assert np.all(r.params.weights[0][[1, 3]] == 0) and np.all(r.params.biases[0][[1, 3]] == 0)
    assert np.all(r.params.weights[1][:, [1, 3]] == 0)
    assert np.all(r.params.flat[mask.flat == 0] == 0) and np.count_nonzero(r.params.flat[mask.flat == 1]) > 0.99 * \
        mask.flat.sum()
    assert np.all(r.state.velocity[mask.flat == 0] == 0)


def test_noise_acts_on_the_chosen_layers_only_and_per_filter():
    # one step: the update is the same with and without noise, the noise is added after it, so the
    # difference is exactly the noise: nonzero on the chosen layers, zero elsewhere (BatchNorm included).
    spec = _tiny()
    X, y = _data(16)
    kw = dict(optimizer=SGD(lr=0.1), batch_size=16, stop=StopRules(max_steps=1), seed=7)
    base = train(spec, (X, y), **kw).params
    noisy = train(spec, (X, y), noise=NoiseConfig(alpha=1.5, sigma=0.3, kind="neuron", layers=[1]), **kw).params
    diff = [nw - bw for nw, bw in zip(noisy.weights, base.weights)]
    assert np.all(diff[0] == 0) and np.all(diff[2] == 0) and np.all(diff[3] == 0)
    assert all(np.all(nb == bb) for nb, bb in zip(noisy.biases, base.biases) if nb is not None)
    d1 = diff[1].reshape(diff[1].shape[0], -1)  # one draw per filter, broadcast over its C·kh·kw weights
    assert np.all(np.abs(d1) > 0)
    np.testing.assert_allclose(d1, d1[:, :1] * np.ones_like(d1), rtol=1e-12)
    assert len(np.unique(np.round(d1[:, 0], 12))) == d1.shape[0]
    bn = [e for e in spec.param_layout() if e.kind == "batchnorm"][0]
    assert np.array_equal(noisy.flat[bn.weight_offset:bn.end], base.flat[bn.weight_offset:bn.end])
    # the default layers are every weight layer but the output layer
    dflt = train(spec, (X, y), noise=NoiseConfig(alpha=1.5, sigma=0.3, kind="entry"), **kw).params
    changed = [not np.array_equal(a, b) for a, b in zip(dflt.weights, base.weights)]
    assert changed == [True, True, True, False]


def test_checkpoint_resume_continues_a_batchnorm_run_bit_for_bit(tmp_path):
    spec = _tiny("float32")
    X, y = _data(40, dtype=np.float32)
    kw = dict(optimizer=SGD(lr=0.05, momentum=0.9), batch_size=8, noise=NoiseConfig(alpha=1.8, sigma=0.01),
              stop=StopRules(max_steps=13), seed=3)
    full = train(spec, (X, y), **kw)
    ck = tmp_path / "run"
    part = train(spec, (X, y), **{**kw, "stop": StopRules(max_steps=6)}, checkpoint_path=ck)
    state, config = load_checkpoint(ck)
    assert np.array_equal(state.params.buffers, part.params.buffers) and config["spec"] == spec.to_dict()
    rest = train(spec, (X, y), **kw, resume=ck)
    assert rest.params == full.params  # flat parameters and BatchNorm statistics, exactly
    assert np.array_equal(rest.state.velocity, full.state.velocity)


def test_divergence_is_reported_not_raised():
    spec = _tiny("float32", bn=False)
    X, y = _data(32, dtype=np.float32)
    r = train(spec, (X * 1e3, y), optimizer=SGD(lr=50.0), batch_size=8, stop=StopRules(max_epochs=5, max_loss=1e3),
              seed=0)
    assert r.status == "diverged" and ("max_loss" in r.reason or "max_weight" in r.reason or "non-finite" in r.reason)


def test_params_views_and_masks_of_a_model_spec():
    spec = get_model("lenet5")
    p = init_params(spec, 0)
    assert [w.shape for w in p.weights] == [(6, 1, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]
    assert np.shares_memory(p.weights[1], p.flat) and p.buffers.shape == (0,)
    p.weights[1][...] = 7.0
    assert (p.flat == 7.0).sum() == 16 * 6 * 25
    m = Mask.from_layers(spec, [np.abs(w) > 0.05 for w in p.weights])
    assert m.density() == pytest.approx(np.mean(np.concatenate([(np.abs(w) > 0.05).ravel() for w in p.weights])))
    q = m.apply(p.copy())
    assert np.all(q.flat[m.flat == 0] == 0)
    with pytest.raises(ValueError, match="architecture"):
        train(spec, (np.zeros((4, 784), np.float32), np.zeros(4, int)), params=init_params(get_model("lenet5",
              n_classes=5)), batch_size=4, stop=StopRules(max_steps=1))
    with pytest.raises(ValueError, match="buffers must be"):
        Params(get_model("resnet20"), init_params(get_model("resnet20")).flat, np.zeros(3, np.float32))
