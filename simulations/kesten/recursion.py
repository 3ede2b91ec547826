"""One SGD chain on least squares, written once in plain Python and compiled for both targets.

SGD with step η (``lr``) and batch size b (``batch_size``) on f(x) = ½ E(aᵀx − y)² is the random
affine (Kesten) recursion of Gürbüzbalaban, Şimşekli & Zhu, "The Heavy-Tail Phenomenon in SGD"
(ICML 2021):

    x ← x − (η/b) Σ_{i∈Ω} a_i (a_iᵀx − y_i) = M x + q,   M = I − (η/b) Σ a_i a_iᵀ,

computed as b dot products and b axpy's (O(b·d) per step): M is never formed.

:func:`compile_chains` turns the bodies below into one chain's whole run for a target: the CPU
kernels (:mod:`simulations.kesten.cpu`) compile them with ``numba.njit`` and the streams of
:mod:`simulations.stable.streams`, the device kernels (:mod:`simulations.kesten.cuda`) with
``cuda.jit(device=True)`` and the device streams of :mod:`simulations.stable.cuda`. Every body
works on 1-D views of one chain (a row ``x[ch]`` on the CPU, a column ``xT[:, ch]`` of the
chain-last device arrays), so the update, the divergence rule, the running average and the order
of the random draws are one definition for both targets.

Order of the random draws on chain ch's xoroshiro128+ stream (the tests replay it):

* start: if ``init_scale > 0``, d standard normals in Box–Muller pairs
  (:func:`simulations.stable.streams.normal_pair`; the second of the last pair is dropped when d is odd);
* online, each step, each of the b rows: d normals in pairs as above (a_i = σ z), then, if
  ``noise_sd > 0``, one :func:`simulations.stable.streams.normal` for ε_i; y_i = a_iᵀx* + noise_sd·ε_i;
* offline, ``sampling = 0`` (epochs): at the start of every epoch a full Fisher–Yates shuffle of
  the chain's permutation (j = n−1, …, 1: m = ⌊u (j+1)⌋, swap perm[j], perm[m]); batches are
  consecutive blocks of b; the last n mod b rows of an epoch are skipped (drop-last);
* offline, ``sampling = 1`` (a fresh subset per step, as in the original study's
  ``np.random.permutation(n)[:b]``): a partial Fisher–Yates of b positions
  (j = 0, …, b−1: m = j + ⌊u (n−j)⌋, swap perm[j], perm[m]); rows perm[0:b].

A chain whose ‖x‖² passes ``thresh2`` (or turns non-finite) stops: its x (and, when averaging,
its running average) is set to NaN, and the body returns the status
(:data:`simulations._core.codes.STATUS_THRESHOLD` / ``STATUS_NONFINITE``) and the 1-based step.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from simulations._core.codes import STATUS_NONFINITE, STATUS_OK, STATUS_THRESHOLD

__all__ = ["OnlineArgs", "OfflineArgs", "compile_chains", "dot", "add_gradient", "sgd_update",
           "divergence_status", "running_average", "fill", "swap"]


# --------------------------------------------------------------------------- the kernels' scalar arguments
class OnlineArgs(NamedTuple):
    """The scalar arguments of the online kernels, in kernel order (after the arrays
    ``states, x, xavg, status, div_step``); :meth:`args` gives the typed tuple both targets take."""

    lr: float
    batch_size: int
    sigma: float
    noise_sd: float
    xstar: object  # (d,) float64
    steps: int
    burn_in: int
    thresh2: float
    want_avg: bool
    init_scale: float

    def args(self) -> tuple:
        return (float(self.lr), int(self.batch_size), float(self.sigma), float(self.noise_sd), self.xstar,
                int(self.steps), int(self.burn_in), float(self.thresh2), bool(self.want_avg), float(self.init_scale))


class OfflineArgs(NamedTuple):
    """The scalar arguments of the offline kernels, in kernel order (after the arrays
    ``states, A, y, x, xavg, status, div_step``); ``sampling`` 0 = epochs, 1 = a subset per step."""

    lr: float
    batch_size: int
    steps: int
    burn_in: int
    thresh2: float
    want_avg: bool
    init_scale: float
    sampling: int

    def args(self) -> tuple:
        return (float(self.lr), int(self.batch_size), int(self.steps), int(self.burn_in), float(self.thresh2),
                bool(self.want_avg), float(self.init_scale), int(self.sampling))


# --------------------------------------------------------------------------- arithmetic on one chain's vectors
def dot(u, v):
    """uᵀv."""
    s = 0.0
    for j in range(u.shape[0]):
        s += u[j] * v[j]
    return s


def add_gradient(g, a, x, y):
    """g ← g + (aᵀx − y) a: one row's least-squares gradient added to the batch sum."""
    r = -y
    for j in range(a.shape[0]):
        r += a[j] * x[j]
    for j in range(a.shape[0]):
        g[j] += a[j] * r


def sgd_update(x, g, c):
    """x ← x − c g (c = η/b, g the batch sum of gradients); returns ‖x‖²."""
    nrm2 = 0.0
    for j in range(x.shape[0]):
        v = x[j] - c * g[j]
        x[j] = v
        nrm2 += v * v
    return nrm2


def divergence_status(nrm2, thresh2):
    """STATUS_OK while ‖x‖² ≤ threshold²; else STATUS_THRESHOLD (finite) or STATUS_NONFINITE (NaN/inf)."""
    if nrm2 <= thresh2:
        return STATUS_OK
    return STATUS_THRESHOLD if math.isfinite(nrm2) else STATUS_NONFINITE


def running_average(xavg, x, navg):
    """Fold x into the running mean ``xavg`` of ``navg`` iterates; returns navg + 1."""
    navg += 1
    w = 1.0 / navg
    for j in range(x.shape[0]):
        xavg[j] += w * (x[j] - xavg[j])
    return navg


def fill(v, value):
    """v[:] = value."""
    for j in range(v.shape[0]):
        v[j] = value


def swap(perm, i, j):
    """Exchange perm[i] and perm[j]."""
    t = perm[i]
    perm[i] = perm[j]
    perm[j] = t


# --------------------------------------------------------------------------- whole chains, per target
def compile_chains(jit, normal_pair, normal, uniform):
    """``(online_chain, offline_chain)`` compiled with ``jit`` on the target's stream draws.

    ``jit`` is ``numba.njit`` or ``cuda.jit(device=True, inline=True)``; ``normal_pair``, ``normal``
    and ``uniform`` are that target's draws ``f(states, i)`` (same numbers on both targets).
    ``online_chain(states, ch, x, xavg, a, g, *OnlineArgs)`` and
    ``offline_chain(states, ch, A, y, x, xavg, perm, g, *OfflineArgs)`` run chain ``ch`` on its
    1-D views (``a``, ``g`` scratch of length d, ``perm`` holding 0..n−1) and return
    ``(status, step)``: the status code and the 1-based step of divergence (−1 if none).
    """
    dot_, add_gradient_, sgd_update_ = jit(dot), jit(add_gradient), jit(sgd_update)
    divergence_status_, running_average_, fill_, swap_ = (jit(divergence_status), jit(running_average), jit(fill),
                                                           jit(swap))

    def add_normals(states, ch, v, scale):
        """v ← v + scale·z, z ~ N(0, I) drawn in Box–Muller pairs (the second of the last pair dropped for odd d)."""
        d = v.shape[0]
        for j in range(0, d, 2):
            z1, z2 = normal_pair(states, ch)
            v[j] += scale * z1
            if j + 1 < d:
                v[j + 1] += scale * z2

    add_normals_ = jit(add_normals)

    def start(states, ch, x, init_scale):
        if init_scale > 0.0:
            add_normals_(states, ch, x, init_scale)

    start_ = jit(start)

    def finish(x, xavg, g, c, thresh2, want_avg, burn_in, k, navg):
        """The step's update and divergence check, then the running average: (status, navg)."""
        st = divergence_status_(sgd_update_(x, g, c), thresh2)
        if st != STATUS_OK:
            fill_(x, math.nan)
            if want_avg:
                fill_(xavg, math.nan)
        elif want_avg and k >= burn_in:
            navg = running_average_(xavg, x, navg)
        return st, navg

    finish_ = jit(finish)

    def online_chain(states, ch, x, xavg, a, g, lr, batch_size, sigma, noise_sd, xstar, steps, burn_in, thresh2,
                     want_avg, init_scale):
        """Online SGD: fresh a_i ~ N(0, σ²I), y_i = a_iᵀx* + noise_sd·ε_i every step."""
        c = lr / batch_size
        start_(states, ch, x, init_scale)
        navg = 0
        for k in range(steps):
            fill_(g, 0.0)
            for _i in range(batch_size):
                fill_(a, 0.0)
                add_normals_(states, ch, a, sigma)
                y = dot_(a, xstar)
                if noise_sd > 0.0:
                    y += noise_sd * normal(states, ch)
                add_gradient_(g, a, x, y)
            st, navg = finish_(x, xavg, g, c, thresh2, want_avg, burn_in, k, navg)
            if st != STATUS_OK:
                return st, k + 1
        return STATUS_OK, -1

    def offline_chain(states, ch, A, y, x, xavg, perm, g, lr, batch_size, steps, burn_in, thresh2, want_avg,
                      init_scale, sampling):
        """Offline SGD on the shared data set (A, y): epochs (``sampling`` 0) or a fresh b-subset per step (1)."""
        n = A.shape[0]
        c = lr / batch_size
        start_(states, ch, x, init_scale)
        pos = n  # forces a shuffle before the first epoch
        navg = 0
        for k in range(steps):
            if sampling == 0:
                if pos + batch_size > n:
                    for j in range(n - 1, 0, -1):
                        swap_(perm, j, int(uniform(states, ch) * (j + 1)))
                    pos = 0
                first = pos
                pos += batch_size
            else:
                for j in range(batch_size):
                    swap_(perm, j, j + int(uniform(states, ch) * (n - j)))
                first = 0
            fill_(g, 0.0)
            for i in range(first, first + batch_size):
                row = perm[i]
                add_gradient_(g, A[row], x, y[row])
            st, navg = finish_(x, xavg, g, c, thresh2, want_avg, burn_in, k, navg)
            if st != STATUS_OK:
                return st, k + 1
        return STATUS_OK, -1

    return jit(online_chain), jit(offline_chain)
