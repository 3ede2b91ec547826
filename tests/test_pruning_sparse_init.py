"""Sparsity-aware initialisation (Evci et al. 2022): unit-wise rescaling to the masked fan-in.

Oracles: the scales written out with Python loops over units; the law of the rescaled weights
(PyTorch's default U(±1/√n) must become U(±1/√n_i) on unit i's active entries: a KS test of
w·√n_i against U(−1, 1) from scipy); SET / RigL started with ``sparse_init`` and an
almost-zero step must end where the rescaled masked θ₀ starts.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulations.nn import SGD, MLPSpec, gaussian_mixture, get_model, init_params
from simulations.pruning.algorithms.dynamic import rigl_train, set_train
from simulations.pruning.algorithms.sparse_init import fan_in_scales, sparse_fan_in_init


def _loop_scales(mask):
    out = []
    for unit in mask:
        n, k = unit.size, int(np.count_nonzero(unit))
        out.append(math.sqrt(n / k) if k else 1.0)
    return np.array(out)


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 2, 2), (1, 9)])
def test_scales_against_loops(shape):
    rng = np.random.default_rng(sum(shape))
    mask = rng.random(shape) < 0.3
    mask[0] = False                                   # a unit with no active input keeps scale 1
    np.testing.assert_allclose(fan_in_scales(mask), _loop_scales(mask), rtol=1e-15)


def test_rescaled_weights_biases_and_copy():
    spec = get_model("lenet5", input_shape=(1, 28, 28), n_classes=10, dtype="float64")
    p = init_params(spec, 0)
    before = p.flat.copy()
    rng = np.random.default_rng(1)
    masks = [rng.random(w.shape) < 0.1 for w in p.weights]
    q = sparse_fan_in_init(p, masks)
    np.testing.assert_array_equal(p.flat, before)                    # the input is not changed
    for w0, w1, m in zip(p.weights, q.weights, masks):
        s = _loop_scales(m.reshape(m.shape[0], -1)).reshape((-1,) + (1,) * (m.ndim - 1))
        np.testing.assert_allclose(w1, w0 * m * s, rtol=1e-15)
        assert not np.any(w1[~m])
    for b0, b1 in zip(p.biases, q.biases):
        np.testing.assert_array_equal(b0, b1)


def test_law_becomes_uniform_at_the_units_fan_in():
    # LeNet-5's default init is U(±1/√n) per layer; after the rescaling the active weights of unit i
    # are U(±1/√n_i), so w·√n_i pooled over every unit of every layer is U(−1, 1). ~6,000 active
    # entries at density 0.1: a KS test at level 1e-3 (fixed seed); without the rescaling the pooled
    # values are U(±√(n_i/n)) ≈ U(±0.3) and the statistic is ≈ 0.33 (seeds 0-7), far past the critical ≈ 0.025.
    spec = get_model("lenet5", input_shape=(1, 28, 28), n_classes=10, dtype="float64")
    p = init_params(spec, 2)
    rng = np.random.default_rng(3)
    masks = [rng.random(w.shape) < 0.1 for w in p.weights]
    q = sparse_fan_in_init(p, masks)
    pooled = []
    for w, m in zip(q.weights, masks):
        k = m.reshape(m.shape[0], -1).sum(axis=1)
        z = w.reshape(w.shape[0], -1) * np.sqrt(k)[:, None]
        pooled.append(z[m.reshape(m.shape[0], -1)])
    pooled = np.concatenate(pooled)
    assert pooled.size > 5000
    assert stats.kstest(pooled, stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_errors_name_the_parameter():
    p = init_params(MLPSpec((4, 3, 2)), 0)
    with pytest.raises(TypeError, match="params"):
        sparse_fan_in_init(p.flat, [np.ones((3, 4), bool), np.ones((2, 3), bool)])
    with pytest.raises(ValueError, match="masks"):
        sparse_fan_in_init(p, [np.ones((3, 4), bool)])
    with pytest.raises(ValueError, match="mask"):
        fan_in_scales(np.ones(3, bool))
    with pytest.raises(TypeError, match="sparse_init"):
        set_train(MLPSpec((4, 3, 2)), gaussian_mixture(20, dim=4, n_classes=2, seed=0), steps=2, sparse_init="yes")


@pytest.mark.parametrize("fn", [set_train, rigl_train])
def test_dynamic_training_starts_from_the_rescaled_init(fn):
    # a step of 1e-12 with no momentum and no mask update (update_every > steps): the trained weights
    # are the starting ones to ~1e-12, i.e. the masked θ₀ rescaled by √(n/n_i) unit by unit
    spec = MLPSpec((6, 12, 10, 3), dtype="float64")
    data = gaussian_mixture(60, dim=6, n_classes=3, n_test=20, seed=1)
    theta0 = init_params(spec, 3)
    kw = dict(sparsity=0.8, steps=3, update_every=10, optimizer=SGD(lr=1e-12, momentum=0.0), batch_size=20,
              seed=4, params=theta0)
    plain, scaled = fn(spec, data, **kw), fn(spec, data, sparse_init=True, **kw)
    assert scaled.config["sparse_init"] is True and plain.config["sparse_init"] is False
    for w0, wp, ws, m in zip(theta0.weights, plain.params.weights, scaled.params.weights, plain.masks):
        s = _loop_scales(m)[:, None]
        np.testing.assert_allclose(wp, w0 * m, atol=1e-9)
        np.testing.assert_allclose(ws, w0 * m * s, atol=1e-9)
    for mp, ms in zip(plain.masks, scaled.masks):
        np.testing.assert_array_equal(mp, ms)
