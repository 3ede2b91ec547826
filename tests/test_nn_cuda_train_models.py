"""``train(ModelSpec, backend="cuda")`` against the CPU backend, on the CUDA simulator at tiny sizes.

Oracle: the CPU ModelSpec backend (conv_net + the CPU update and noise kernels), an independent
implementation of the same step; the device computes the network pass with its own kernels
(direct convolution, tree-reduced BatchNorm) and updates with the MLP CUDA kernels. float64:
both sides agree to rounding (1e-10 relative after a few steps; see test_nn_cuda_conv.py for the
per-layer bound). Noise streams are the same xoroshiro128+ streams, drawn by ``sas_draw`` on
the device and by the block sampler on the CPU (equal to ~1e-13 relative).
"""
from __future__ import annotations

import _cuda_setup  # noqa: F401  (sets NUMBA_ENABLE_CUDASIM before numba.cuda is imported)
import numpy as np
import pytest

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from simulations.nn import (  # noqa: E402
    SGD,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    Mask,
    MaxPool2d,
    ModelSpec,
    NoiseConfig,
    ReLU,
    StopRules,
    evaluate,
    predict,
    train,
)

IMG = (1, 6, 6)


def _spec():
    layers = (Conv2d(3, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 3, padding=1, bias=False), BatchNorm2d(),
              ReLU(), Flatten(), Dense(3))
    return ModelSpec(IMG, layers, 3, dtype="float64")


def _data(n=12):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, *IMG))
    y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 0, 3:].sum(axis=(1, 2)) > 0)
    return X, y


# (the noise-free step is the same code with the noise kernel skipped: covered by the divergence test's runs)
@pytest.mark.parametrize("noise", [NoiseConfig(alpha=1.6, sigma=0.05, kind="neuron"),
                                   NoiseConfig(alpha=1.8, sigma=0.05, kind="entry", layers=[1])])
def test_cuda_training_matches_the_cpu_backend(noise):
    spec = _spec()
    X, y = _data()
    mask = np.ones(spec.n_params, np.uint8)
    mask[np.random.default_rng(2).choice(27, 9, replace=False)] = 0  # part of the first conv kernel
    kw = dict(mask=Mask.from_flat(spec, mask), optimizer=SGD(lr=0.1, momentum=0.9, weight_decay=1e-3), batch_size=4,
              stop=StopRules(max_steps=4), noise=noise, seed=5, eval_every=4)
    cpu = train(spec, (X, y, X[:5], y[:5]), **kw)
    gpu = train(spec, (X, y, X[:5], y[:5]), backend="cuda", **kw)
    assert cpu.status == gpu.status == "completed"
    np.testing.assert_allclose(gpu.params.flat, cpu.params.flat, rtol=0, atol=1e-10 * np.abs(cpu.params.flat).max())
    np.testing.assert_allclose(gpu.params.buffers, cpu.params.buffers, rtol=1e-10, atol=1e-12)
    assert np.all(gpu.params.flat[mask == 0] == 0)
    for hc, hg in zip(cpu.history, gpu.history):
        assert hg["train_loss"] == pytest.approx(hc["train_loss"], rel=1e-10)
        assert hg["test_acc"] == hc["test_acc"] and hg["train_acc"] == hc["train_acc"]
    assert evaluate(gpu.params, X, y, backend="cuda") == pytest.approx(evaluate(cpu.params, X, y), rel=1e-10)
    np.testing.assert_allclose(predict(gpu.params, X, backend="cuda"), predict(cpu.params, X), rtol=1e-10,
                               atol=1e-12)


def test_cuda_divergence_is_reported_as_on_the_cpu():
    spec = _spec()
    X, y = _data()
    kw = dict(optimizer=SGD(lr=1e4), batch_size=4, stop=StopRules(max_steps=6, max_weight=1e3), seed=1)
    cpu = train(spec, (X, y), **kw)
    gpu = train(spec, (X, y), backend="cuda", **kw)
    assert cpu.status == gpu.status == "diverged"
    assert gpu.reason == cpu.reason and gpu.steps == cpu.steps
