"""Device two-layer ensembles vs the CPU kernel (CUDA simulator, tiny sizes).

Oracle: the CPU ensemble kernel on the same inputs (same seeds ⇒ same random numbers ⇒ equal
trajectories up to float rounding, 1e-12 here).
"""
from __future__ import annotations

import _cuda_setup  # noqa: F401
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations import noise_injection as tl  # noqa: E402
from simulations._core.device import CudaUnavailableError  # noqa: E402
from simulations._core.noise import NoiseSpec  # noqa: E402
from simulations.noise_injection import cuda_launch as tlc  # noqa: E402
from simulations.noise_injection.kernel_args import EnsembleArgs  # noqa: E402

X = np.random.default_rng(0).standard_normal((20, 3))
Y2 = np.eye(2)[(X[:, 0] > 0).astype(int)]


@pytest.mark.parametrize(
    "kw",
    [
        # neuron noise on both layers, trained output layer, squared loss, mixed widths/σ (σ = 0 draws nothing)
        dict(width=[5, 7], alpha=[1.5, 1.8], sigma=[0.1, 0.0], noise=NoiseSpec("neuron", (0, 1)),
             train_second_layer=True, data=(X, np.tanh(X[:, :1]))),
        # entry noise, ReLU, cross-entropy, 2 outputs, evaluation set
        dict(width=[4, 6, 3], alpha=1.3, sigma=0.3, noise="entry", activation="relu", loss="cross_entropy",
             data=(X, Y2), eval_data=(X[:8], Y2[:8])),
        # elliptical noise, online teacher with label noise (the minibatch uses many draws)
        dict(width=[4, 6], alpha=1.7, sigma=0.2, noise="elliptical",
             teacher=tl.make_teacher(3, 2, c=2, label_noise=0.1, seed=1)),
    ],
)
def test_two_layer_device_equals_cpu(kw):
    kw = dict(kw, lr=0.05, steps=4, batch_size=3, eval_every=2, seed=3)
    g = tl.train_ensemble(**kw, backend="cuda")
    c = tl.train_ensemble(**kw)
    assert np.array_equal(g.status, c.status)
    # same random numbers, same operations; the differences are float rounding only (FMA contraction,
    # reduction order, the CPU kernel's fast-math tanh, ~1e-15 per operation), 1e-9 leaves ample room
    # while any wrong draw, index or update would show as an O(1e-2) difference
    np.testing.assert_allclose(g.hidden_flat, c.hidden_flat, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(g.second_flat, c.second_flat, rtol=1e-9, atol=1e-11)
    for name in ("loss", "prune_error", "prunable_fraction", "norm_mean", "norm_max", "eval_loss"):
        a, b = getattr(g, name), getattr(c, name)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=name)


def test_two_layer_divergence_status_equals_cpu():
    kw = dict(width=[3, 4], alpha=1.5, sigma=0.1, lr=[0.05, 1e8], steps=24, batch_size=2, data=(X, X[:, :1] ** 3),
              activation="identity", eval_every=8, seed=0)
    g = tl.train_ensemble(**kw, backend="cuda")
    c = tl.train_ensemble(**kw)
    assert list(g.status_names()) == list(c.status_names()) == ["ok", "nonfinite"]
    assert np.array_equal(g.fail_step, c.fail_step)


def test_no_device_error(monkeypatch):
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    with pytest.raises(CudaUnavailableError, match="backend='cuda' needs an NVIDIA GPU"):
        tl.train_ensemble(width=3, alpha=1.5, sigma=0.1, lr=0.1, steps=1, data=(X, X[:, :1]), backend="cuda")


@given(nt=st.integers(-4, 2000))
def test_threads_per_block_validation(nt):
    args = [None] * len(EnsembleArgs._fields)
    args[EnsembleArgs._fields.index("states")] = np.zeros((1, 2), np.uint64)
    if nt >= 1 and nt & (nt - 1) == 0 and nt <= 1024:
        return
    with pytest.raises(ValueError, match="threads_per_block must be a power of two"):
        tlc.run_train_ensemble(EnsembleArgs(*args), threads_per_block=nt)


