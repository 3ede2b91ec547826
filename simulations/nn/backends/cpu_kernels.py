"""numba kernel of the CPU backend: the training chunk (fused forward / backward / SGD update / noise).

The chunk (``train_steps_kernel``, two compiled variants per noise kind, plain SGD or with momentum
and masks: :func:`train_steps_for`)
runs ``len(lrs)`` SGD steps in place with no Python per step. One
step (PyTorch's ``torch.optim.SGD``, see :mod:`simulations.nn.optim`): gather the batch;
forward and loss (:mod:`simulations.nn.backends.cpu_dense`); per layer, from the output down,
propagate δ with W_l *before* its update, then update W_l with the update folded into the
weight-gradient GEMM ``C ← α op(A) op(B) + β C``:

* plain SGD:  W ← (1 − ηλ) W − η δᵀA          (one GEMM, β = 1 − ηλ, α = −η; no gradient buffer)
* momentum:   V ← μ V + δᵀA (GEMM, β = μ);  V ← V + λW;  W ← W − η V   (one fused pass)

where δ = ∂L/∂Z of the layer (already divided by the batch size) and A the layer input; then
noise σ η^{1/α} ξ on the noised layers (:mod:`simulations.nn.backends.cpu_noise`) and the mask.
Training buffers have one spare row (B + 1): per-neuron noise c ξ_i (no mask, no momentum) is
folded into the update GEMM as a rank-one term, W ← βW − η [D; −cξ/η]ᵀ [A; 1], so it costs no
extra pass over W.

The CUDA backend (:mod:`simulations.nn.backends.cuda`) computes the same step with a separate
gradient buffer and one kernel per pass: the fold of the update into BLAS is CPU-only, so the
two step bodies differ (the per-element arithmetic and the codes are shared).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations._core.codes import NOISE_ELLIPTICAL, NOISE_ENTRY, NOISE_NEURON, NOISE_NONE
from simulations.nn.backends.cpu_dense import act_grad, act_grad_colsum, forward_into, gemm, loss_delta
from simulations.nn.backends.cpu_noise import (
    all_finite,
    apply_mask,
    momentum_pass,
    noise_elliptical,
    noise_entry,
    noise_neuron,
    sas_across,
    weight_check,
)
from simulations.nn.backends.pointwise import noise_amplitude

__all__ = ["train_steps_for", "TRAIN_STEPS"]


# Two bodies of one step: this CPU chunk folds the update into BLAS GEMMs on host memory; the CUDA
# backend (cuda.py + cuda_kernels.flat_update_kernel) runs one thread per parameter on a separate
# gradient buffer with a device-side divergence flag. Same semantics, codes and pointwise arithmetic.
def _make_train_steps(variant: int, general: bool):
    """The training chunk compiled for one noise variant (a ``NOISE_*`` code of :mod:`simulations._core.codes`),
    general (momentum and masks as the arguments say) or plain (neither).

    Both are closure constants, so numba prunes the other branches before typing: a run compiles
    only the noise code it uses, and a plain run neither the momentum pass nor the mask code
    (about a fifth less compile time); each variant has its own entry in numba's on-disk cache
    (the closure values are part of the cache key). Two variants per noise kind, not one per
    combination of momentum and mask, keep a session that uses several of them from compiling
    each combination.
    """
    NOISED = variant != NOISE_NONE
    IS_NEURON = variant == NOISE_NEURON
    IS_ENTRY = variant == NOISE_ENTRY
    GENERAL = general

    @nb.njit(cache=True)
    def train_steps_kernel(sizes, offsets, aoff, act, loss, has_bias,
                           params, velocity, mask, noise_states, avg_sum,
                           X, y, idx, lrs, avg_flags, B,
                           momentum, wd, has_mask, noise_alpha, noise_sigma, noise_layer, stream_base,
                           noise_scratch, Xb, yb, acts, d0, d1, gb, gbn, max_loss, max_weight, stats):
        """Run len(lrs) SGD steps of batch size B (≤ rows of Xb) in place.

        Returns the number of steps done; stats = [loss_sum, correct, divergence code]: 0 none,
        1 non-finite batch loss, 2 mean batch loss > max_loss (both before the step's update, which
        is skipped), 3 some |θ_j| > max_weight after the step's update, 4 non-finite θ (after a
        step with the weight check, else at the end of the chunk); codes of
        :data:`simulations.nn.backends.base.DIVERGENCE_REASONS`.

        The noise kind and whether momentum or a mask may be used are this variant's closure
        constants: a plain variant must get ``momentum`` = 0 and ``has_mask`` False.
        ``noise_layer[l]`` ≠ 0 marks noised layers, ``stream_base[l]`` their first stream;
        noise_sigma = 0 disables noise. ``noise_scratch``: float64 block-sampler scratch, (T, 3·max din) for
        per-entry noise (see :func:`simulations.nn.backends.cpu_noise.noise_entry`), (1, 3·max dout) for
        per-neuron noise (the folded draws, :func:`simulations.nn.backends.cpu_noise.sas_across`). ``max_loss`` ≤ 0 disables the loss threshold,
        ``max_weight`` ≤ 0 the per-step weight check (one pass over θ after every step).
        """
        L = sizes.shape[0] - 1
        K = sizes[L]
        steps = lrs.shape[0]
        total = 0.0
        correct = 0
        inv_b = 1.0 / B
        stats[2] = 0.0
        done = 0
        Xbv = Xb[:B]
        ybv = yb[:B]
        # per-neuron noise without mask or momentum is folded into the update GEMM (buffers have B+1 rows)
        use_mom = momentum > 0.0
        fold_neuron_noise = IS_NEURON and noise_sigma > 0.0 and not has_mask and not use_mom
        for s in range(steps):
            lr = lrs[s]
            # gather the batch
            for r in range(B):
                k = idx[s * B + r]
                for j in range(X.shape[1]):  # a loop, not Xb[r, :] = X[k, :]: no shape-error path to compile
                    Xb[r, j] = X[k, j]
                yb[r] = y[k]
            forward_into(sizes, offsets, aoff, act, has_bias, params, Xbv, acts, B)
            Z = acts[aoff[L - 1]:aoff[L - 1] + B * K].reshape((B, K))
            D = d0[:B * K].reshape((B, K))
            tl, tc = loss_delta(Z, ybv, loss, D, inv_b)
            done += 1
            total += tl
            correct += tc
            if not math.isfinite(tl):
                stats[2] = 1.0
                break
            if max_loss > 0.0 and tl * inv_b > max_loss:
                stats[2] = 2.0
                break
            cur = d0
            nxt = d1
            for l in range(L - 1, -1, -1):
                din = sizes[l]
                dout = sizes[l + 1]
                o0 = offsets[l, 0]
                o1 = offsets[l, 1]
                o2 = offsets[l, 2]
                W = params[o0:o1].reshape((dout, din))
                D = cur[:B * dout].reshape((B, dout))
                if l == 0:
                    A = Xbv
                else:
                    A = acts[aoff[l - 1]:aoff[l - 1] + B * din].reshape((B, din))
                # bias gradient of this layer: column sums of D (computed by the previous pass,
                # except at the output layer)
                if has_bias:
                    if l == L - 1:
                        for j in range(dout):
                            gb[j] = 0.0
                        for r in range(B):
                            for j in range(dout):
                                gb[j] += D[r, j]
                    else:
                        for j in range(dout):
                            gb[j] = gbn[j]
                # propagate first: needs W before its update; the same pass sums the next bias gradient
                if l > 0:
                    Dn = nxt[:B * din].reshape((B, din))
                    gemm(np.bool_(False), np.bool_(False), 1.0, D, W, 0.0, Dn)
                    if has_bias:
                        act_grad_colsum(Dn, A, act, gbn)
                    else:
                        act_grad(Dn, A, act)
                if GENERAL and use_mom:  # GENERAL, a closure constant, prunes this branch in the plain variants
                    V = velocity[o0:o1].reshape((dout, din))
                    gemm(np.bool_(True), np.bool_(False), 1.0, D, A, momentum, V)
                    if has_bias:
                        vb = velocity[o1:o2]
                        for j in range(dout):
                            vb[j] = momentum * vb[j] + gb[j]
                    momentum_pass(params[o0:o2], velocity[o0:o2], mask[o0:o2] if has_mask else mask, has_mask,
                                   lr, wd)
                elif IS_NEURON and fold_neuron_noise and noise_layer[l] != 0:
                    # rank-one fold of per-neuron noise into the update GEMM: with an extra row
                    # A[B, :] = 1 and D[B, i] = −c ξ_i / η, W ← β W − η [D; ·]ᵀ[A; 1] adds c ξ_i to row i
                    amp = noise_amplitude(noise_sigma, lr, noise_alpha)
                    Df = cur[:(B + 1) * dout].reshape((B + 1, dout))
                    if l == 0:
                        Af = Xb[:B + 1]
                    else:
                        Af = acts[aoff[l - 1]:aoff[l - 1] + (B + 1) * din].reshape((B + 1, din))
                    for j in range(din):
                        Af[B, j] = 1.0
                    scr = noise_scratch[0]
                    xi = scr[2 * dout:3 * dout]
                    sas_across(noise_states, stream_base[l], noise_alpha, xi, scr)
                    for i in range(dout):
                        Df[B, i] = -amp * xi[i] / lr
                    gemm(np.bool_(True), np.bool_(False), -lr, Df, Af, 1.0 - lr * wd, W)
                    if has_bias:
                        b = params[o1:o2]
                        for j in range(dout):
                            b[j] = (1.0 - lr * wd) * b[j] - lr * gb[j]
                else:
                    gemm(np.bool_(True), np.bool_(False), -lr, D, A, 1.0 - lr * wd, W)
                    if has_bias:
                        b = params[o1:o2]
                        for j in range(dout):
                            b[j] = (1.0 - lr * wd) * b[j] - lr * gb[j]
                        if GENERAL and has_mask:
                            apply_mask(b, mask[o1:o2])
                    if GENERAL and has_mask:
                        if not (noise_sigma > 0.0 and noise_layer[l] != 0):
                            apply_mask(params[o0:o1], mask[o0:o1])
                if NOISED and noise_sigma > 0.0 and noise_layer[l] != 0 and not (fold_neuron_noise and not use_mom):
                    amp = noise_amplitude(noise_sigma, lr, noise_alpha)
                    Mw = mask[o0:o1].reshape((dout, din)) if has_mask else mask[:0].reshape((0, 0))
                    if IS_NEURON:
                        noise_neuron(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp)
                    elif IS_ENTRY:
                        noise_entry(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp, noise_scratch)
                    else:
                        noise_elliptical(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp)
                tmp = cur
                cur = nxt
                nxt = tmp
            if avg_flags[s] != 0:
                for j in range(params.shape[0]):
                    avg_sum[j] += params[j]
            if max_weight > 0.0:
                code = weight_check(params, max_weight)
                if code != 0:
                    stats[2] = code
                    break
        if stats[2] == 0.0 and not all_finite(params):
            stats[2] = 4.0
        stats[0] = total
        stats[1] = correct
        return done

    return train_steps_kernel


#: Kernel variants by (noise kind, general) (``NOISE_NONE`` also for σ = 0; general: momentum or a mask).
TRAIN_STEPS = {(v, general): _make_train_steps(v, general)
               for v in (NOISE_NONE, NOISE_NEURON, NOISE_ENTRY, NOISE_ELLIPTICAL) for general in (False, True)}


def train_steps_for(noise_kind: int, noise_sigma: float, momentum: float = 0.0, has_mask: bool = False):
    """The compiled chunk for a run with this noise kind and σ (σ = 0: the noise-free variant); the general
    variant when it uses momentum (> 0) or a mask, else the plain one."""
    return TRAIN_STEPS[int(noise_kind) if noise_sigma > 0.0 else NOISE_NONE, bool(momentum > 0.0 or has_mask)]
