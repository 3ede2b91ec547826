"""Evaluation of two-layer networks (numba, CPU): forward pass, losses, neuron-norm and pruning metrics.

One body serves both backends: :func:`record` runs inside the CPU training kernel
(:mod:`simulations.noise_injection.cpu`) after every ``eval_every`` steps, and
:func:`record_all` runs it on the host for every network after each chunk of device steps
(:mod:`simulations.noise_injection.cuda_launch`).

Recorded per network and evaluation e: the mean minibatch loss since the last evaluation;
the loss and accuracy on an evaluation set (if given); the mean and largest neuron norm
‖w_j‖; the relative Frobenius error of magnitude pruning ‖W − W^{(k)}‖_F/‖W‖_F, where
W^{(k)} keeps the k = ⌈κn⌉ largest-norm neurons (= the ℓ2 norm of the n − k smallest
neuron norms over the ℓ2 norm of all of them); and the prunable fraction — the largest m/n
such that removing the m smallest-norm neurons leaves a squared relative Frobenius error
≤ ε (the metric of Wan, Barsbey, Zaidi & Şimşekli 2024, ICML, with ε = 0.1).

Memory layout (internal, see :mod:`simulations.noise_injection.cpu`): the hidden weights of a
network are a (d, n) view (column j = neuron j), its output weights an (n, c) view.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations._core.codes import ACT_RELU, ACT_TANH, STATUS_NONFINITE, STATUS_OK
from simulations.noise_injection.pointwise import (
    FASTMATH,
    activation,
    activation_derivative,
    kept_count,
    loss_residual,
    tanh_fast,
)

__all__ = ["forward", "record", "record_all"]


@nb.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def activate(z, h, dh, n, act):
    """h = φ(z), dh = φ'(z) on the first n entries; one loop per activation so that each vectorises."""
    if act == ACT_TANH:
        for j in range(n):
            hj = tanh_fast(z[j])
            h[j] = hj
            dh[j] = activation_derivative(hj, ACT_TANH)
    elif act == ACT_RELU:
        for j in range(n):
            hj = activation(z[j], ACT_RELU)
            h[j] = hj
            dh[j] = activation_derivative(hj, ACT_RELU)
    else:
        for j in range(n):
            hj = activation(z[j], act)
            h[j] = hj
            dh[j] = activation_derivative(hj, act)


@nb.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def forward(Wk, Ak, n, d, c, act, x, z, h, dh, f):
    """z = Wkᵀx (n), h = φ(z), dh = φ'(z), f = (1/n) Σ_j a_j h_j (c). Wk: (d, n), Ak: (n, c) views."""
    for j in range(n):
        z[j] = 0.0
    for i in range(d):
        xi = x[i]
        for j in range(n):
            z[j] += xi * Wk[i, j]
    activate(z, h, dh, n, act)
    inv_n = 1.0 / n
    for o in range(c):
        s = 0.0
        for j in range(n):
            s += h[j] * Ak[j, o]
        f[o] = s * inv_n


@nb.njit(cache=True)
def _argmax(v, c):
    best = 0
    for o in range(1, c):
        if v[o] > v[best]:
            best = o
    return best


@nb.njit(cache=True)
def _heapsort(a, n):
    """Sort a[:n] ascending in place (heapsort; compiles in a fraction of the time of ``ndarray.sort``).

    One function with the sift-down written once inline: phase 1 builds the max-heap (roots
    n//2 − 1 … 0 over the whole array), phase 2 swaps the maximum to the end and restores the heap on
    the shrinking prefix."""
    for it in range(n // 2 + n - 1):
        if it < n // 2:
            root = n // 2 - 1 - it
            end = n
        else:
            end = n - 1 - (it - n // 2)
            t = a[0]
            a[0] = a[end]
            a[end] = t
            root = 0
        while True:
            child = 2 * root + 1
            if child >= end:
                break
            if child + 1 < end and a[child] < a[child + 1]:
                child += 1
            if a[root] >= a[child]:
                break
            t = a[root]
            a[root] = a[child]
            a[child] = t
            root = child


@nb.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def record(Wk, Ak, n, d, c, act, loss, Xe, Ye, kappas, prune_eps, buf, z, h, dh, f, r, out_k, e, run_loss,
           hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean, hist_norm_max):
    """Write evaluation ``e`` of one network; return False if its weights are not finite."""
    hist_loss[out_k, e] = run_loss
    # squared neuron norms
    for j in range(n):
        buf[j] = 0.0
    for i in range(d):
        for j in range(n):
            w = Wk[i, j]
            buf[j] += w * w
    total = 0.0
    mean_norm = 0.0
    max_norm = 0.0
    for j in range(n):
        total += buf[j]
        nj = math.sqrt(buf[j])
        mean_norm += nj
        if nj > max_norm:
            max_norm = nj
    if not math.isfinite(total):
        return False
    hist_norm_mean[out_k, e] = mean_norm / n
    hist_norm_max[out_k, e] = max_norm
    _heapsort(buf, n)
    # cumulative sums from the smallest: buf[m] becomes Σ_{i<m} s_(i) (shifted in place)
    acc = 0.0
    for j in range(n):
        v = buf[j]
        buf[j] = acc
        acc += v
    # acc == total (up to rounding); use acc for consistency
    for q in range(kappas.shape[0]):
        drop = n - kept_count(kappas[q], n)
        if acc > 0.0:
            dropped = buf[drop] if drop < n else acc
            hist_prune[out_k, e, q] = math.sqrt(max(dropped, 0.0) / acc)
        else:
            hist_prune[out_k, e, q] = 0.0
    # largest m in [0, n] with Σ_{i<m} s_(i) <= ε Σ_i s_(i)  (buf[m] = Σ_{i<m}, non-decreasing)
    thr = prune_eps * acc
    if acc <= thr:
        m = n
    else:
        m = 0
        for j in range(n):
            if buf[j] <= thr:
                m = j
            else:
                break
    hist_prunable[out_k, e] = m / n
    # evaluation set
    ne = Xe.shape[0]
    if ne > 0:
        tot = 0.0
        hits = 0
        for s in range(ne):
            forward(Wk, Ak, n, d, c, act, Xe[s], z, h, dh, f)
            tot += loss_residual(f, Ye[s], r, loss)
            if c > 1 and _argmax(f, c) == _argmax(Ye[s], c):
                hits += 1
        hist_eval_loss[out_k, e] = tot / ne
        hist_eval_acc[out_k, e] = hits / ne
    return True


@nb.njit(cache=True)
def record_all(W, A, woff, aoff, widths, d, c, act, loss, Xe, Ye, kappas, prune_eps, e, run_loss, run_count,
               status, fail_step, t_last, hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable,
               hist_norm_mean, hist_norm_max):
    """Host side of an evaluation after a chunk of device steps: :func:`record` for every running
    network; a network with non-finite weights gets ``STATUS_NONFINITE`` at step ``t_last``."""
    nmax = widths.max()
    buf = np.empty(nmax)
    z = np.empty(nmax)
    h = np.empty(nmax)
    dh = np.empty(nmax)
    f = np.empty(c)
    r = np.empty(c)
    for k in range(widths.shape[0]):
        if status[k] != STATUS_OK:
            continue
        n = widths[k]
        Wk = W[woff[k]: woff[k] + d * n].reshape((d, n))
        Ak = A[aoff[k]: aoff[k] + n * c].reshape((n, c))
        rl = run_loss[k] / max(run_count[k], 1)
        ok = record(Wk, Ak, n, d, c, act, loss, Xe, Ye, kappas, prune_eps, buf, z, h, dh, f, r, k, e, rl,
                    hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean,
                    hist_norm_max)
        if not ok:
            status[k] = STATUS_NONFINITE
            fail_step[k] = t_last
