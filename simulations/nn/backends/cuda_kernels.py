"""CUDA kernels that glue the dense kernels into an MLP training step (flat parameter layout).

Layout and semantics are those of :mod:`simulations.nn.backends.base`: parameters θ, momentum v,
mask m (uint8) and the averaging sum live in flat (P,) arrays ``[W_1, b_1, W_2, b_2, ...]``
with W_l stored (out, in) row-major. One SGD step (PyTorch SGD; noise of Wan, Barsbey, Zaidi & Şimşekli 2024, ICML):

    g = ∇L_B(θ) + λθ;  v ← μv + g;  θ ← θ − η v  (θ ← θ − η g when μ = 0)
    θ_W ← θ_W + σ η^{1/α} ξ on the noised layers' weights;  θ ← m⊙θ, v ← m⊙v;  avg += θ.

Noise streams: one xoroshiro128+ stream per noised neuron (row of a noised W), in layer
order, drawn *sequentially along the row* exactly as the CPU backend does:
``entry`` ξ_ji = successive SαS(1) draws of stream j, one per *unmasked* entry in column order
(masked entries draw nothing; float32 θ: float32 draws of one stream output each); ``neuron`` one SαS(1) draw per row;
``elliptical`` R_j = √(2A_j) (first draws of stream j) times successive N(0, 1) draws.
One thread per row (the stream is sequential), so the draws equal the CPU draws.

Divergence (as the CPU backend; codes of :data:`simulations.nn.backends.base.DIVERGENCE_REASONS`):
the loss kernel adds every sample's loss to ``batch_loss[s]``; the update kernel of step s reads
it first, and when the batch loss is not finite (code 1) or its mean exceeds ``max_loss`` (> 0;
code 2) it sets ``ctrl[:2]`` = [code, s] and skips the update. With ``max_weight`` > 0,
:func:`weight_check_kernel` ends every step: some |θ_k| > max_weight sets code 3, a non-finite
θ_k code 4 (the larger code wins, as on the CPU). From then on every kernel of the chunk
returns at once, so θ stays as it was after the diverging step's check, the loss of that step
is still counted, and the host reads ``n_done = s + 1`` after the chunk without a per-step
synchronisation. Non-finite parameters are also detected once at the end of the chunk
(:func:`nonfinite_kernel`, ``ctrl[2]``), as on the CPU.

Two bodies, one semantics: the CPU chunk (:mod:`simulations.nn.backends.cpu_kernels`) folds the
update into BLAS GEMMs and checks divergence with a branch per step; here the update is one
thread per parameter and divergence a device flag, because the device cannot synchronise with
the host per step. The per-element arithmetic (:mod:`simulations.nn.backends.pointwise`) and
the codes (:mod:`simulations._core.codes`) are shared.
"""
from __future__ import annotations

import math

from numba import cuda

from simulations._core.codes import NOISE_ELLIPTICAL, NOISE_ENTRY, NOISE_NEURON
from simulations.nn.backends import pointwise
from simulations.stable.cuda import normal, sas32_draw, sas_draw, sub_gaussian_factor_draw

__all__ = [
    "row_loss_grad",
    "noise_amplitude",
    "gather_kernel",
    "loss_stats_kernel",
    "flat_update_kernel",
    "row_noise_kernel",
    "add_to_kernel",
    "weight_check_kernel",
    "nonfinite_kernel",
]

#: the device compilations of the very source of the CPU kernels' per-row loss and noise amplitude
row_loss_grad = cuda.jit(device=True, inline=True)(pointwise.row_loss_grad.py_func)
noise_amplitude = cuda.jit(device=True, inline=True)(pointwise.noise_amplitude.py_func)


@cuda.jit(device=True, inline=True)
def _stopped(ctrl, s):
    """A step before s diverged (the loss of step s itself is still computed and counted)."""
    return ctrl[0] != 0 and ctrl[1] < s


@cuda.jit(device=True, inline=True)
def _stopped_upd(ctrl, s):
    """Step s or an earlier one diverged: no more parameter updates."""
    return ctrl[0] != 0 and ctrl[1] <= s


@cuda.jit(device=True, inline=True)
def _flag(ctrl, s, code):
    ctrl[1] = s  # every thread that flags within step s writes the same s
    cuda.atomic.max(ctrl, 0, code)  # and, within one kernel, the same code or the larger one wins


@cuda.jit
def gather_kernel(X, y, idx, start, Xb, yb):
    """Xb[r, :] = X[idx[start + r], :], yb[r] = y[idx[start + r]] (2-D grid: rows × columns)."""
    r, c = cuda.grid(2)
    if r < Xb.shape[0]:
        k = idx[start + r]
        if c < Xb.shape[1]:
            Xb[r, c] = X[k, c]
        if c == 0:
            yb[r] = y[k]


@cuda.jit(device=True, inline=True)
def _record_loss(loss, correct, acc, batch_loss, s):
    cuda.atomic.add(acc, 0, loss)
    cuda.atomic.add(batch_loss, s, loss)
    if correct:
        cuda.atomic.add(acc, 1, 1.0)


@cuda.jit
def loss_stats_kernel(Z, y, dZ, grad_scale, loss, acc, batch_loss, ctrl, s):
    """Loss of code ``loss`` per sample, one thread per sample i (rows of Z beyond ``y.shape[0]`` ignored).

    Cross-entropy −log softmax(Z[i])[y_i] or squared ½‖Z[i] − e_{y_i}‖² (:func:`row_loss_grad`);
    dZ[i] = grad_scale · ∂loss/∂Z[i]; acc[0] += the loss, acc[1] += 1[argmax Z[i] = y_i],
    batch_loss[s] += the loss (atomics, float64). ``dZ`` may be a 0-row array (evaluation: no gradient).
    """
    i = cuda.grid(1)
    if i < y.shape[0]:
        if _stopped(ctrl, s):
            return
        value, correct = row_loss_grad(Z, i, y[i], loss, dZ, grad_scale)
        _record_loss(value, correct, acc, batch_loss, s)


# Two bodies of one step: here one thread per parameter on the flat vector, with the gradient in its
# own buffer and divergence a device flag; the CPU chunk (cpu_kernels.train_steps_for) folds the
# update into BLAS GEMMs instead. Same semantics, codes and pointwise arithmetic.
@cuda.jit
def flat_update_kernel(theta, grad, vel, mask, avg, lr, momentum, weight_decay, has_mask, use_momentum, do_avg,
                       batch_loss, inv_b, max_loss, ctrl, s):
    """One thread per parameter k: first the divergence test of step s on ``batch_loss[s]`` (see the
    module docstring), then g = grad + λθ; v ← μv + g; θ ← θ − η v (or − η g); θ, v ← m⊙θ, m⊙v;
    avg += θ when ``do_avg`` (the caller sets it only when no noise follows in this step)."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        if _stopped(ctrl, s):
            return
        bl = batch_loss[s]
        if not math.isfinite(bl):
            _flag(ctrl, s, 1)
            return
        if max_loss > 0.0 and bl * inv_b > max_loss:
            _flag(ctrl, s, 2)
            return
        w = theta[k]
        g = grad[k] + weight_decay * w
        if use_momentum:
            v = momentum * vel[k] + g
            if has_mask:
                vel[k] = v * mask[k]
            else:
                vel[k] = v
            g = v
        w = w - lr * g
        if has_mask:
            w = w * mask[k]
        theta[k] = w
        if do_avg:
            avg[k] += w


@cuda.jit
def row_noise_kernel(theta, mask, states, row_off, row_len, sigma, lr, alpha, kind, has_mask, single, ctrl, s):
    """θ[row_off[j] + i] += amp · ξ_ji for i < row_len[j], amp = σ η^{1/α} (:func:`noise_amplitude`),
    one thread per noised row j = stream j; then × mask. ξ as in the module docstring: ``entry`` draws only for unmasked entries (as the
    CPU backend), in float32 from one stream output per draw when ``single`` (float32 θ, as the CPU's
    float32 path: :func:`simulations.stable.f32.sas32_draw`); ``neuron``/``elliptical`` make all their
    draws, masked or not."""
    j = cuda.grid(1)
    if j < row_off.shape[0]:
        if _stopped_upd(ctrl, s):
            return
        base = row_off[j]
        n = row_len[j]
        amp = noise_amplitude(sigma, lr, alpha)
        if kind == NOISE_NEURON:
            xi = amp * sas_draw(states, j, alpha)
        elif kind == NOISE_ELLIPTICAL:
            xi = amp * sub_gaussian_factor_draw(states, j, alpha)
        else:
            xi = amp
        for i in range(n):
            if kind == NOISE_ENTRY:
                if has_mask and mask[base + i] == 0:
                    theta[base + i] = 0.0
                    continue
                d = xi * (sas32_draw(states, j, alpha) if single else sas_draw(states, j, alpha))
            elif kind == NOISE_ELLIPTICAL:
                d = xi * normal(states, j)
            else:
                d = xi
            w = theta[base + i] + d
            if has_mask:
                w = w * mask[base + i]
            theta[base + i] = w


@cuda.jit
def add_to_kernel(dst, src, ctrl, s):
    """dst += src (float64 += θ: iterate averaging after the noise of step s)."""
    k = cuda.grid(1)
    if k < dst.shape[0]:
        if _stopped_upd(ctrl, s):
            return
        dst[k] += src[k]


@cuda.jit
def weight_check_kernel(theta, max_weight, ctrl, s):
    """End of step s: flag code 3 when |θ_k| > max_weight, code 4 when θ_k is NaN or ±inf."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        if _stopped_upd(ctrl, s):
            return
        w = theta[k]
        if not (abs(w) <= max_weight):
            _flag(ctrl, s, 3 if math.isfinite(w) else 4)


@cuda.jit
def nonfinite_kernel(theta, ctrl):
    """ctrl[2] = 1 if some θ_k is NaN or ±inf (end-of-chunk check)."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        if not math.isfinite(theta[k]):
            ctrl[2] = 1
