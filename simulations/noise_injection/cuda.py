"""CUDA kernel for ensembles of mean-field two-layer networks (one block per network).

Same model, update, noise and *random-number order* as :mod:`simulations.noise_injection.cpu`
(read its docstring for the maths): f(x) = (1/n) Σ_j a_j φ(w_jᵀx), SGD on the hidden weights
with the gradient scaled by n, optional training of the output weights, then α-stable noise
σ η^{1/α} ξ on the hidden (and optionally output) weights.

Parallel layout: block k trains network k; its threads split the neurons (j = tid, tid + NT, ...).
Each step: thread 0 draws the minibatch from the network's stream (or the online teacher
samples); every thread computes z_sj = w_jᵀx_s, h_sj = φ(z_sj) for its neurons; the outputs
f_s = (1/n) Σ_j a_j h_sj are reduced in shared memory; per sample the loss and the residual
r_s = ∂ℓ/∂f; then each thread updates its own neurons, w_ij −= η (1/b) Σ_s x_si r_sᵀa_j φ'(z_sj)
(and a_j), and adds the noise.

Random numbers: the CPU kernel draws everything of network k *sequentially* from stream k. Here
every neuron j has its own copy of that stream positioned (by GF(2) jump-ahead,
:mod:`simulations.stable.jumps`) at the offset of its first noise draw of the step, and
skips to the next step's offset with one matrix jump, so the device draws exactly the CPU
numbers in parallel. Per step, with S the minibatch draws, the stream of network k holds
[S minibatch | hidden noise | output noise] (see :func:`simulations.noise_injection.cuda_launch.stream_layout`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64

from simulations.stable.cuda import jump_apply, normal, sas_draw, sub_gaussian_factor_draw, uniform

__all__ = ["two_layer_steps_kernel", "RED_SIZE"]

RED_SIZE = 1024  # float64 entries of the shared reduction buffer (8 KiB: many blocks per SM)

ACT_TANH = 0
ACT_RELU = 1
LOSS_SQUARED = 0
NOISE_NEURON = 0
NOISE_ENTRY = 1


@cuda.jit(device=True, inline=True)
def _act(code, z):
    if code == ACT_TANH:
        return math.tanh(z)
    if code == ACT_RELU:
        return z if z > 0.0 else 0.0
    return z


@cuda.jit(device=True, inline=True)
def _dact(code, z, h):
    if code == ACT_TANH:
        return 1.0 - h * h
    if code == ACT_RELU:
        return 1.0 if z > 0.0 else 0.0
    return 1.0


@cuda.jit
def two_layer_steps_kernel(
    W, A, woff, aoff, noff, widths, sigmas, alphas, lrs, lrs_a,
    main_states, hid_states, out_states, jumps,
    d, c, noise_type, act, loss, train_a, noise_hidden, noise_out,
    X, Y, TW, TA, t_act, label_noise,
    batch, t0, t1,
    idxs, Xs, Ys, Zs, Hs, Fs, Ls,
    run_loss, run_count, status, fail_step,
):
    """Steps t0..t1−1 for every network with status 0 (block k = network k).

    Scratch: Zs, Hs (Σn·b) float64 at (noff[k] + j)·b + s; Fs (K, b, c); Ls (K, b);
    idxs (K, b) int64; Xs (K, b, d), Ys (K, b, c) in online-teacher mode only.
    jumps (K, 4, 128, 2): [main after the minibatch, hidden stream after its draws (per neuron;
    per input row for entry noise), unused, output stream after its draws]. hid_states holds one
    state per neuron (row noff[k] + j), or per input row (row k·d + i) for entry noise.
    """
    k = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    NT = cuda.blockDim.x
    red = cuda.shared.array(RED_SIZE, float64)
    Jm = cuda.shared.array((4, 128, 2), np.uint64)
    flag = cuda.shared.array(1, np.int64)
    if k >= widths.shape[0] or status[k] != 0:
        return
    for q in range(tid, 4 * 128 * 2, NT):
        a = q // 256
        b = (q // 2) % 128
        e = q % 2
        Jm[a, b, e] = jumps[k, a, b, e]
    n = widths[k]
    wo = woff[k]
    ao = aoff[k]
    no = noff[k]
    alpha = alphas[k]
    lr = lrs[k]
    lr_a = lrs_a[k]
    nscale = sigmas[k] * lr ** (1.0 / alpha) if sigmas[k] > 0.0 else 0.0
    n_data = X.shape[0]
    m_t = TW.shape[1]
    inv_b = 1.0 / batch
    inv_n = 1.0 / n
    P = batch * c  # number of (sample, output) pairs
    chunk = RED_SIZE // NT  # pairs reduced at once
    cuda.syncthreads()
    for t in range(t0, t1):
        # ---- 1. minibatch (thread 0, sequential on the network's stream, as on the CPU)
        if tid == 0:
            for s in range(batch):
                if n_data > 0:
                    ix = int(uniform(main_states, k) * n_data)
                    if ix >= n_data:
                        ix = n_data - 1
                    idxs[k, s] = ix
                else:
                    for i in range(d):
                        Xs[k, s, i] = normal(main_states, k)
                    for o in range(c):
                        Ys[k, s, o] = 0.0
                    for l in range(m_t):
                        tz = 0.0
                        for i in range(d):
                            tz += Xs[k, s, i] * TW[i, l]
                        hl = _act(t_act, tz)
                        for o in range(c):
                            Ys[k, s, o] += TA[l, o] * hl
                    for o in range(c):
                        Ys[k, s, o] /= m_t
                    if label_noise > 0.0:
                        for o in range(c):
                            Ys[k, s, o] += label_noise * normal(main_states, k)
            jump_apply(Jm[0], main_states, k)
        cuda.syncthreads()
        # ---- 2. hidden pre-activations and activations of my neurons
        for j in range(tid, n, NT):
            for s in range(batch):
                z = 0.0
                if n_data > 0:
                    ix = idxs[k, s]
                    for i in range(d):
                        z += X[ix, i] * W[wo + i * n + j]
                else:
                    for i in range(d):
                        z += Xs[k, s, i] * W[wo + i * n + j]
                Zs[(no + j) * batch + s] = z
                Hs[(no + j) * batch + s] = _act(act, z)
        # ---- 3. f_s = (1/n) Σ_j a_j h_sj: shared-memory tree reduction over threads, `chunk` pairs at a time
        for p0 in range(0, P, chunk):
            pc = min(chunk, P - p0)
            for pp in range(pc):
                p = p0 + pp
                s = p // c
                o = p % c
                part = 0.0
                for j in range(tid, n, NT):
                    part += Hs[(no + j) * batch + s] * A[ao + j * c + o]
                red[pp * NT + tid] = part
            cuda.syncthreads()
            st = NT // 2
            while st > 0:
                if tid < st:
                    for pp in range(pc):
                        red[pp * NT + tid] += red[pp * NT + tid + st]
                cuda.syncthreads()
                st //= 2
            for pp in range(tid, pc, NT):
                p = p0 + pp
                Fs[k, p // c, p % c] = red[pp * NT] * inv_n
            cuda.syncthreads()
        # ---- 4. per-sample loss and residual r = ∂ℓ/∂f (overwrites Fs)
        for s in range(tid, batch, NT):
            val = 0.0
            if loss == LOSS_SQUARED:
                for o in range(c):
                    yo = Y[idxs[k, s], o] if n_data > 0 else Ys[k, s, o]
                    r = Fs[k, s, o] - yo
                    Fs[k, s, o] = r
                    val += 0.5 * r * r
            else:
                m = Fs[k, s, 0]
                for o in range(1, c):
                    if Fs[k, s, o] > m:
                        m = Fs[k, s, o]
                tot = 0.0
                for o in range(c):
                    tot += math.exp(Fs[k, s, o] - m)
                lse = m + math.log(tot)
                for o in range(c):
                    yo = Y[idxs[k, s], o] if n_data > 0 else Ys[k, s, o]
                    fo = Fs[k, s, o]
                    val -= yo * (fo - lse)
                    Fs[k, s, o] = math.exp(fo - m) / tot - yo
            Ls[k, s] = val
        cuda.syncthreads()
        if tid == 0:
            bl = 0.0
            for s in range(batch):
                bl += Ls[k, s]
            bl *= inv_b
            flag[0] = 0
            if not math.isfinite(bl):
                status[k] = 1
                fail_step[k] = t
                flag[0] = 1
            else:
                run_loss[k] += bl
                run_count[k] += 1
        cuda.syncthreads()
        if flag[0] != 0:
            return
        # ---- 5. update my neurons (gradient from the old weights), then 6. their noise
        step = lr * inv_b
        step_a = lr_a * inv_b
        for j in range(tid, n, NT):
            base = (no + j) * batch
            for s in range(batch):
                g = 0.0
                for o in range(c):
                    g += Fs[k, s, o] * A[ao + j * c + o]
                Zs[base + s] = g * _dact(act, Zs[base + s], Hs[base + s])
            for i in range(d):
                acc = 0.0
                if n_data > 0:
                    for s in range(batch):
                        acc += X[idxs[k, s], i] * Zs[base + s]
                else:
                    for s in range(batch):
                        acc += Xs[k, s, i] * Zs[base + s]
                W[wo + i * n + j] -= step * acc
            if train_a:
                for o in range(c):
                    acc = 0.0
                    for s in range(batch):
                        acc += Fs[k, s, o] * Hs[base + s]
                    A[ao + j * c + o] -= step_a * acc
            if nscale > 0.0:
                if noise_hidden:
                    if noise_type == NOISE_NEURON:
                        v = nscale * sas_draw(hid_states, no + j, alpha)
                        for i in range(d):
                            W[wo + i * n + j] += v
                        jump_apply(Jm[1], hid_states, no + j)
                    elif noise_type != NOISE_ENTRY:
                        rr = nscale * sub_gaussian_factor_draw(hid_states, no + j, alpha)
                        for i in range(d):
                            W[wo + i * n + j] += rr * normal(hid_states, no + j)
                        jump_apply(Jm[1], hid_states, no + j)
                if noise_out:
                    for o in range(c):
                        A[ao + j * c + o] += nscale * sas_draw(out_states, no + j, alpha)
                    jump_apply(Jm[3], out_states, no + j)
        if nscale > 0.0 and noise_hidden and noise_type == NOISE_ENTRY:
            # iid noise per weight: the CPU draws it row by row ((i, j) row-major), so row i's n draws
            # are consecutive on the stream: thread i draws them from its own copy positioned at
            # S + 2·i·n (hid_states row k·d + i), after every thread has updated its neurons
            cuda.syncthreads()
            for i in range(tid, d, NT):
                for j in range(n):
                    W[wo + i * n + j] += nscale * sas_draw(hid_states, k * d + i, alpha)
                jump_apply(Jm[1], hid_states, k * d + i)
        cuda.syncthreads()


import numba as nb  # noqa: E402

from simulations.noise_injection.cpu import _record  # noqa: E402


@nb.njit(cache=True)
def record_all(W, A, woff, aoff, widths, d, c, act, loss, Xe, Ye, kappas, prune_eps, e, run_loss, run_count,
               status, fail_step, t_last, hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable,
               hist_norm_mean, hist_norm_max):
    """Host side of an evaluation: the CPU kernel's ``_record`` for every running network
    (same metrics, same code); a network with non-finite weights gets status 1 at ``t_last``."""
    nmax = widths.max()
    buf = np.empty(nmax)
    z = np.empty(nmax)
    h = np.empty(nmax)
    dh = np.empty(nmax)
    f = np.empty(c)
    r = np.empty(c)
    for k in range(widths.shape[0]):
        if status[k] != 0:
            continue
        n = widths[k]
        Wk = W[woff[k]: woff[k] + d * n].reshape((d, n))
        Ak = A[aoff[k]: aoff[k] + n * c].reshape((n, c))
        rl = run_loss[k] / max(run_count[k], 1)
        ok = _record(Wk, Ak, n, d, c, act, loss, Xe, Ye, kappas, prune_eps, buf, z, h, dh, f, r, k, e, rl,
                     hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean,
                     hist_norm_max)
        if not ok:
            status[k] = 1
            fail_step[k] = t_last
