"""Linear-regression SGD chains on the GPU: drop-in device versions of
:func:`simulations.kesten.cpu.sgd_online` and :func:`~simulations.kesten.cpu.sgd_offline`.

Same arguments (host arrays updated in place, then the scalars of
:class:`~simulations.kesten.recursion.OnlineArgs` / ``OfflineArgs``), same chain bodies
(:mod:`simulations.kesten.recursion`), one CUDA thread per chain (:mod:`simulations.kesten.cuda`):
with the same seed a chain follows the same trajectory up to floating-point rounding (the device
fuses a·b + c into FMAs; chains in the heavy-tailed regime amplify the last-bit differences, so
compare distributions there, not single iterates). :func:`simulations.kesten.chains.run_sgd`
calls these with ``backend="cuda"``.
"""
from __future__ import annotations

import numpy as np

from simulations._core.device import require_cuda, simulator_enabled

__all__ = ["sgd_online", "sgd_offline"]


def _tpb() -> int:
    return 32 if simulator_enabled() else 128


def _to_dev(cuda, states, x, xavg, status, div_step):
    C = x.shape[0]
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


def sgd_online(states, x, xavg, status, div_step, *args):
    """Device :func:`simulations.kesten.cpu.sgd_online` (same arguments, in place)."""
    cuda = require_cuda()
    from simulations.kesten import cuda as gk

    C, d = x.shape
    lr, batch_size, sigma, noise_sd, xstar, *rest = args
    dev = _to_dev(cuda, states, x, xavg, status, div_step)
    aT = cuda.device_array((d, C), np.float64)
    gT = cuda.device_array((d, C), np.float64)
    t = _tpb()
    gk.sgd_online_kernel[(C + t - 1) // t, t](*dev, lr, batch_size, sigma, noise_sd,
                                               cuda.to_device(np.ascontiguousarray(xstar)), *rest, aT, gT)
    _back(dev, states, x, xavg, status, div_step)


def sgd_offline(states, A, y, x, xavg, status, div_step, *args):
    """Device :func:`simulations.kesten.cpu.sgd_offline` (same arguments, in place)."""
    cuda = require_cuda()
    from simulations.kesten import cuda as gk

    C, d = x.shape
    n = A.shape[0]
    st, xT, xavgT, stt, dv = dev = _to_dev(cuda, states, x, xavg, status, div_step)
    permT = cuda.to_device(np.ascontiguousarray(np.broadcast_to(np.arange(n, dtype=np.int64)[:, None], (n, C))))
    gT = cuda.device_array((d, C), np.float64)
    t = _tpb()
    gk.sgd_offline_kernel[(C + t - 1) // t, t](st, cuda.to_device(np.ascontiguousarray(A)),
                                                cuda.to_device(np.ascontiguousarray(y)), xT, xavgT, stt, dv, *args,
                                                permT, gT)
    _back(dev, states, x, xavg, status, div_step)
