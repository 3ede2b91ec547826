"""Linear-regression SGD chains on the GPU: drop-in device versions of
:func:`simulations.kesten.cpu.sgd_online` and :func:`~simulations.kesten.cpu.sgd_offline`.

Same arguments (host arrays, updated in place), same update, divergence rule and random-number
order as the CPU kernels (see :mod:`simulations.kesten.cuda`), one CUDA thread per chain:
with the same seed a chain follows the same trajectory up to floating-point rounding (the
device fuses a·b + c into FMAs; chains in the heavy-tailed regime amplify the last-bit
differences, so compare distributions there, not single iterates).

``run_sgd`` here is :func:`simulations.kesten.chains.run_sgd` with the kernels swapped for these (until
``linear.run_sgd`` takes ``backend="cuda"`` itself: a one-line dispatch to these functions).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.device import require_cuda, simulator_enabled

__all__ = ["sgd_online", "sgd_offline", "run_sgd"]


def _tpb() -> int:
    return 32 if simulator_enabled() else 128


def _to_dev(cuda, states, x, xavg, status, div_step):
    C, d = x.shape
    xavgT = np.ascontiguousarray(xavg.T) if xavg.shape[0] == C else np.zeros((1, 1))
    return (cuda.to_device(states), cuda.to_device(np.ascontiguousarray(x.T)), cuda.to_device(xavgT),
            cuda.to_device(status), cuda.to_device(div_step))


def _back(dev, states, x, xavg, status, div_step):
    st, xT, xavgT, stt, dv = dev
    st.copy_to_host(states)
    x[...] = xT.copy_to_host().T
    if xavg.shape[0] == x.shape[0]:
        xavg[...] = xavgT.copy_to_host().T
    stt.copy_to_host(status)
    dv.copy_to_host(div_step)


def sgd_online(states, x, xavg, status, div_step, eta, b, sigma, noise_sd, xstar, n_steps, burn_in, thresh2,
               want_avg, init_scale):
    """Device :func:`simulations.kesten.cpu.sgd_online` (same arguments, in place)."""
    cuda = require_cuda()
    from simulations.kesten import cuda as gk

    C, d = x.shape
    dev = _to_dev(cuda, states, x, xavg, status, div_step)
    aT = cuda.device_array((d, C), np.float64)
    gT = cuda.device_array((d, C), np.float64)
    t = _tpb()
    gk.sgd_online_kernel[(C + t - 1) // t, t](dev[0], dev[1], dev[2], dev[3], dev[4], float(eta), int(b), float(sigma),
                                               float(noise_sd), cuda.to_device(np.ascontiguousarray(xstar)),
                                               int(n_steps), int(burn_in), float(thresh2), bool(want_avg),
                                               float(init_scale), aT, gT)
    _back(dev, states, x, xavg, status, div_step)


def sgd_offline(states, A, y, x, xavg, status, div_step, eta, b, n_steps, burn_in, thresh2, want_avg, init_scale,
                sampling):
    """Device :func:`simulations.kesten.cpu.sgd_offline` (same arguments, in place)."""
    cuda = require_cuda()
    from simulations.kesten import cuda as gk

    C, d = x.shape
    n = A.shape[0]
    dev = _to_dev(cuda, states, x, xavg, status, div_step)
    permT = cuda.to_device(np.ascontiguousarray(np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], (n, C))))
    gT = cuda.device_array((d, C), np.float64)
    t = _tpb()
    gk.sgd_offline_kernel[(C + t - 1) // t, t](dev[0], cuda.to_device(np.ascontiguousarray(A)),
                                                cuda.to_device(np.ascontiguousarray(y)), dev[1], dev[2], dev[3],
                                                dev[4], float(eta), int(b), int(n_steps), int(burn_in),
                                                float(thresh2), bool(want_avg), float(init_scale), int(sampling),
                                                permT, gT)
    _back(dev, states, x, xavg, status, div_step)


def run_sgd(*args: Any, **kwargs: Any):
    """:func:`simulations.kesten.chains.run_sgd` with ``backend="cuda"`` (same signature and result)."""
    from simulations.kesten import chains as lin

    require_cuda()
    kwargs["backend"] = "cuda"
    return lin.run_sgd(*args, **kwargs)
