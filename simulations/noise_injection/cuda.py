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

import inspect
import math

import numpy as np
from numba import cuda, float64

from simulations._core.codes import ACT_TANH, NOISE_ENTRY, NOISE_NEURON, STATUS_NONFINITE, STATUS_OK
from simulations.noise_injection import pointwise as _pw
from simulations.stable.cuda import jump_apply, normal, sas_draw, sub_gaussian_factor_draw, uniform

__all__ = ["two_layer_steps_kernel", "STEP_KERNEL_ARGS", "RED_SIZE"]

RED_SIZE = 1024  # float64 entries of the shared reduction buffer (8 KiB: many blocks per SM)

# The arithmetic of the CPU kernel, compiled from the very same source for the device.
_device = cuda.jit(device=True, inline=True)
tanh_fast = _device(_pw.tanh_fast.py_func)
activation = _device(_pw.activation.py_func)
activation_derivative = _device(_pw.activation_derivative.py_func)
loss_residual = _device(_pw.loss_residual.py_func)
noise_amplitude = _device(_pw.noise_amplitude.py_func)


@_device
def _phi(z, act):
    """φ(z) as the CPU kernel's hot loop computes it (tanh by :func:`tanh_fast`)."""
    return tanh_fast(z) if act == ACT_TANH else activation(z, act)


# Second body of the training step (the first: simulations.noise_injection.cpu._train_network).
# The parallel layout forces it: here the threads of a block split one network's neurons (a
# shared-memory reduction for f, one stream copy per neuron), there one thread runs a whole network
# with loops over neurons that vectorise. The per-element arithmetic (activation, derivative, loss,
# noise amplitude) is the same source on both (simulations.noise_injection.pointwise) and the
# evaluation metrics are computed on the host, as for the CPU (metrics.record_evaluation).
def _two_layer_steps(
    W, A, woff, aoff, noff, widths, sigmas, alphas, lrs, lrs_second,
    main_states, hid_states, out_states, jumps,
    d, c, noise_kind, act, loss, train_second, noise_hidden, noise_out,
    X, Y, TW, TA, teacher_act, label_noise,
    batch_size, t0, t1,
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
    if k >= widths.shape[0] or status[k] != STATUS_OK:
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
    lr_a = lrs_second[k]
    nscale = noise_amplitude(sigmas[k], lr, alpha)
    n_data = X.shape[0]
    m_t = TW.shape[1]
    inv_b = 1.0 / batch_size
    inv_n = 1.0 / n
    P = batch_size * c  # number of (sample, output) pairs
    chunk = RED_SIZE // NT  # pairs reduced at once
    cuda.syncthreads()
    for t in range(t0, t1):
        # ---- 1. minibatch (thread 0, sequential on the network's stream, as on the CPU)
        if tid == 0:
            for s in range(batch_size):
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
                        hl = activation(tz, teacher_act)
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
            for s in range(batch_size):
                z = 0.0
                if n_data > 0:
                    ix = idxs[k, s]
                    for i in range(d):
                        z += X[ix, i] * W[wo + i * n + j]
                else:
                    for i in range(d):
                        z += Xs[k, s, i] * W[wo + i * n + j]
                Zs[(no + j) * batch_size + s] = z
                Hs[(no + j) * batch_size + s] = _phi(z, act)
        # ---- 3. f_s = (1/n) Σ_j a_j h_sj: shared-memory tree reduction over threads, `chunk` pairs at a time
        for p0 in range(0, P, chunk):
            pc = min(chunk, P - p0)
            for pp in range(pc):
                p = p0 + pp
                s = p // c
                o = p % c
                part = 0.0
                for j in range(tid, n, NT):
                    part += Hs[(no + j) * batch_size + s] * A[ao + j * c + o]
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
        for s in range(tid, batch_size, NT):
            if n_data > 0:
                val = loss_residual(Fs[k, s, :], Y[idxs[k, s], :], Fs[k, s, :], loss)
            else:
                val = loss_residual(Fs[k, s, :], Ys[k, s, :], Fs[k, s, :], loss)
            Ls[k, s] = val
        cuda.syncthreads()
        if tid == 0:
            bl = 0.0
            for s in range(batch_size):
                bl += Ls[k, s]
            bl *= inv_b
            flag[0] = 0
            if not math.isfinite(bl):
                status[k] = STATUS_NONFINITE
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
            base = (no + j) * batch_size
            for s in range(batch_size):
                g = 0.0
                for o in range(c):
                    g += Fs[k, s, o] * A[ao + j * c + o]
                Zs[base + s] = g * activation_derivative(Hs[base + s], act)
            for i in range(d):
                acc = 0.0
                if n_data > 0:
                    for s in range(batch_size):
                        acc += X[idxs[k, s], i] * Zs[base + s]
                else:
                    for s in range(batch_size):
                        acc += Xs[k, s, i] * Zs[base + s]
                W[wo + i * n + j] -= step * acc
            if train_second:
                for o in range(c):
                    acc = 0.0
                    for s in range(batch_size):
                        acc += Fs[k, s, o] * Hs[base + s]
                    A[ao + j * c + o] -= step_a * acc
            if nscale > 0.0:
                if noise_hidden:
                    if noise_kind == NOISE_NEURON:
                        v = nscale * sas_draw(hid_states, no + j, alpha)
                        for i in range(d):
                            W[wo + i * n + j] += v
                        jump_apply(Jm[1], hid_states, no + j)
                    elif noise_kind != NOISE_ENTRY:
                        rr = nscale * sub_gaussian_factor_draw(hid_states, no + j, alpha)
                        for i in range(d):
                            W[wo + i * n + j] += rr * normal(hid_states, no + j)
                        jump_apply(Jm[1], hid_states, no + j)
                if noise_out:
                    for o in range(c):
                        A[ao + j * c + o] += nscale * sas_draw(out_states, no + j, alpha)
                    jump_apply(Jm[3], out_states, no + j)
        if nscale > 0.0 and noise_hidden and noise_kind == NOISE_ENTRY:
            # iid noise per weight: the CPU draws it row by row ((i, j) row-major), so row i's n draws
            # are consecutive on the stream: thread i draws them from its own copy positioned at
            # S + 2·i·n (hid_states row k·d + i), after every thread has updated its neurons
            cuda.syncthreads()
            for i in range(tid, d, NT):
                for j in range(n):
                    W[wo + i * n + j] += nscale * sas_draw(hid_states, k * d + i, alpha)
                jump_apply(Jm[1], hid_states, k * d + i)
        cuda.syncthreads()


two_layer_steps_kernel = cuda.jit(_two_layer_steps)

#: Parameter names of :data:`two_layer_steps_kernel`, in order: the launcher builds the call from them.
STEP_KERNEL_ARGS = tuple(inspect.signature(_two_layer_steps).parameters)
