"""Device linear-regression SGD chains vs the CPU chains (CUDA simulator, tiny sizes).

Oracle: :func:`simulations.kesten.chains.run_sgd` on the CPU with the same seed (same streams).
"""
from __future__ import annotations

import _cuda_setup  # noqa: F401
import numpy as np
import pytest

SIM = _cuda_setup.require()
pytestmark = _cuda_setup.PYTESTMARK

from numba import cuda  # noqa: E402

from simulations._core.device import CudaUnavailableError  # noqa: E402
from simulations.kesten import chains as lin  # noqa: E402


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=0.3, batch_size=2, d=3, n_chains=6, steps=5, init_scale=0.5, average=True, burn_in=1,
             x_star=[1.0, 2, 3]),
        dict(lr=0.3, batch_size=3, d=2, n_chains=5, steps=7, mode="offline", n=8, average=True),  # epochs, reshuffles
        dict(lr=0.3, batch_size=3, d=2, n_chains=5, steps=7, mode="offline", n=8, sampling="step"),
        dict(lr=5.0, batch_size=1, d=2, n_chains=4, steps=30, threshold=1e6),  # every chain diverges
    ],
)
def test_linear_chains_device_equal_cpu(kw):
    g = lin.run_sgd(**kw, seed=4, backend="cuda")
    c = lin.run_sgd(**kw, seed=4)
    assert np.array_equal(g.status, c.status) and np.array_equal(g.diverged_at, c.diverged_at)
    # same draws and operations: float rounding only (FMA contraction on a GPU)
    np.testing.assert_allclose(g.x, c.x, rtol=1e-10, atol=1e-12, equal_nan=True)
    if c.x_avg is not None:
        np.testing.assert_allclose(g.x_avg, c.x_avg, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_linear_no_device_error(monkeypatch):
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    with pytest.raises(CudaUnavailableError, match="no CUDA device"):
        lin.run_sgd(0.1, 1, 2, n_chains=2, steps=1, backend="cuda")
