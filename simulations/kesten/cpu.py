"""Numba kernels: many independent SGD chains on least squares, in parallel (no validation here).

Used by :mod:`simulations.kesten.chains`. One xoroshiro128+ stream per chain
(:mod:`simulations.stable.streams`), chains run in parallel with ``numba.prange``; a chain's
numbers depend only on its stream, never on the thread count. The chain itself (the SGD update
x ← x − (η/b) Σ_{i∈Ω} a_i (a_iᵀx − y_i) of Gürbüzbalaban, Şimşekli & Zhu, ICML 2021, the order
of the random draws, the divergence rule, the running average) is
:mod:`simulations.kesten.recursion`, compiled here with ``numba.njit`` and by
:mod:`simulations.kesten.cuda` for the device.

Arguments: the arrays, then the scalars of :class:`~simulations.kesten.recursion.OnlineArgs` /
:class:`~simulations.kesten.recursion.OfflineArgs` in that order. Per chain, ``status``
(:mod:`simulations._core.codes`: STATUS_OK, STATUS_NONFINITE, STATUS_THRESHOLD) and ``div_step``
(1-based step of divergence, −1 if none) are written; a diverged chain's row of ``x`` is NaN.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from simulations.kesten.recursion import compile_chains
from simulations.stable.streams import normal, normal_pair, uniform

__all__ = ["sgd_online", "sgd_offline"]

_online_chain, _offline_chain = compile_chains(nb.njit, normal_pair, normal, uniform)


# Two drivers, here and in simulations.kesten.cuda: the CPU runs the chains with prange over the
# rows of chain-major x (C, d) and allocates its scratch per chain; the device runs one thread per
# chain on chain-last arrays (d, C) with preallocated scratch. Both call the same chain bodies.
@nb.njit(cache=True, parallel=True)
def sgd_online(states, x, xavg, status, div_step, lr, batch_size, sigma, noise_sd, xstar, steps, burn_in, thresh2,
               want_avg, init_scale):
    """Online SGD (fresh a_i ~ N(0, σ²I), y_i = a_iᵀx* + noise_sd·ε_i each step), in place on x."""
    n_chains, d = x.shape
    for ch in nb.prange(n_chains):
        a = np.empty(d)
        g = np.empty(d)
        xa = xavg[ch] if want_avg else xavg[0]
        st, k = _online_chain(states, ch, x[ch], xa, a, g, lr, batch_size, sigma, noise_sd, xstar, steps, burn_in,
                              thresh2, want_avg, init_scale)
        status[ch] = st
        div_step[ch] = k


@nb.njit(cache=True, parallel=True)
def sgd_offline(states, A, y, x, xavg, status, div_step, lr, batch_size, steps, burn_in, thresh2, want_avg,
                init_scale, sampling):
    """Offline SGD on a fixed data set (A, y) shared by all chains, in place on x.

    ``sampling``: 0 = epochs of minibatches without replacement (reshuffle per epoch, drop-last),
    1 = a fresh uniformly random b-subset every step.
    """
    n_chains, d = x.shape
    n = A.shape[0]
    for ch in nb.prange(n_chains):
        g = np.empty(d)
        perm = np.arange(n)
        xa = xavg[ch] if want_avg else xavg[0]
        st, k = _offline_chain(states, ch, A, y, x[ch], xa, perm, g, lr, batch_size, steps, burn_in, thresh2,
                               want_avg, init_scale, sampling)
        status[ch] = st
        div_step[ch] = k
