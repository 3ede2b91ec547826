"""Numba kernel: many mean-field two-layer networks trained by noise-injected SGD at once.

No validation here (see :mod:`simulations.noise_injection.ensemble`). One call runs the steps
``t0 .. t1 − 1`` of the networks ``first .. last − 1`` with the GIL released; the API runs chunks
of networks on a thread pool, one segment of ``eval_every`` steps at a time, and evaluates them on
the host in between (:mod:`simulations.noise_injection.metrics`). Network ``k`` owns row ``k`` of
the xoroshiro128+ ``states`` array, so its numbers do not depend on the number of threads, on
scheduling or on the segments. The arguments after (first, last, t0, t1) are the
:data:`~simulations.noise_injection.kernel_args.KERNEL_FIELDS` of
:class:`~simulations.noise_injection.kernel_args.EnsembleArgs`, in that order.

Model (mean-field scaling, Mei, Montanari & Nguyen 2018, PNAS; Wan, Barsbey, Zaidi &
Şimşekli 2024, ICML): for network ``k`` of width ``n`` with hidden weights
``w_1..w_n ∈ R^d`` and output weights ``a_j ∈ R^c``,

    f(x) = (1/n) Σ_j a_j φ(w_jᵀx).

One step with minibatch B (|B| = b), step η, noise scale σ, stability α:

    w_j ← w_j − η · (1/b) Σ_{(x,y)∈B} ∂_f ℓ(f(x), y)ᵀ a_j φ'(w_jᵀx) x        (= −η n ∇_{w_j} L̂)
    a_j ← a_j − η_a · (1/b) Σ_{(x,y)∈B} ∂_f ℓ(f(x), y) φ(w_jᵀx)               (only if trained)
    w_j ← w_j + σ η^{1/α} ξ_j                                               (noise after the step)

The gradient is multiplied by ``n`` (the mean-field time scale), so that one
step moves every neuron by O(η) whatever the width and ``t = kη`` is the time
of the limiting McKean–Vlasov SDE. ξ_j ∈ R^d is, per noise kind (codes of
:mod:`simulations._core.codes`):

* ``NOISE_NEURON``: ξ_j = S_j·(1,…,1), one SαS(1) scalar per neuron broadcast over its d weights;
* ``NOISE_ENTRY``: ξ_{j,i} iid SαS(1);
* ``NOISE_ELLIPTICAL``: ξ_j = R_j Z_j, R_j = √(2A_j), A_j ~ S_{α/2}(cos(πα/4)^{2/α}, 1, 0),
  Z_j ~ N(0, I_d) (a sub-Gaussian SαS vector whose coordinates are SαS(1); Samorodnitsky &
  Taqqu 1994, Def. 2.5.1).

SαS(1) at α = 2 is N(0, 2) (S0/S1 convention of :mod:`simulations.stable.cpu`).

Memory layout. Hidden weights of network k live in ``W[woff[k] : woff[k] + d*n_k]``
as a (d, n_k) row-major block, entry (i, j) at ``woff[k] + i*n_k + j`` (column j
is neuron j, which makes the inner loops run over neurons and vectorise; the API
transposes to (out, in) = (n_k, d) at its boundary). Output weights live in
``A[aoff[k] : aoff[k] + n_k*c]``, entry (j, o) at ``aoff[k] + j*c + o``.

Order of the random draws of network k (documented so that a reference
implementation can replay them; all from stream k):

1. per step, per sample s = 0..b−1: dataset mode — one ``uniform`` → index
   ``min(int(u·N), N−1)``; online-teacher mode — d ``normal`` draws for x, then
   (if ``label_noise > 0``) c ``normal`` draws for the label noise;
2. after the update, if σ > 0: neuron noise: n ``sas_draw``; entry noise: d·n ``sas_draw``
   in the order (i, j) row-major (for α ∉ {1, 2} the block is made by
   :func:`simulations.stable.cpu.sas_fill`, which uses the stream exactly as that many
   ``sas_draw`` calls and agrees with them to rounding); elliptical noise: for each neuron j one
   ``sub_gaussian_factor_draw`` then d ``normal`` draws;
3. if noise is also injected in the output layer: n·c ``sas_draw`` in (j, o) order.

φ = tanh is evaluated by :func:`simulations.noise_injection.pointwise.tanh_fast` (relative
error ≲ 1e-15 against libm, vectorisable). A network whose minibatch loss becomes non-finite
is stopped here, one whose weights are non-finite at an evaluation is stopped by
:mod:`simulations.noise_injection.metrics`; both flag it ``STATUS_NONFINITE`` with the step at which
it happened.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations._core.codes import (
    ACT_RELU,
    ACT_TANH,
    NOISE_ELLIPTICAL,
    NOISE_ENTRY,
    NOISE_NEURON,
    NOISE_NONE,
    STATUS_NONFINITE,
    STATUS_OK,
)
from simulations.noise_injection.pointwise import (
    FASTMATH,
    activation,
    activation_derivative,
    loss_residual,
    noise_amplitude,
    tanh_fast,
)
from simulations.stable.cpu import sas_draw, sas_fill, sub_gaussian_factor_draw
from simulations.stable.streams import normal, uniform

__all__ = ["train_networks_for", "TRAIN_NETWORKS"]


# Called, not inlined: the scalar sampler and the loss are ``inline="always"`` (for the vectorised block
# samplers), and inlining them at each call site of the large kernel below adds to its typing and
# lowering time; as calls they are compiled once. ``normal`` stays inlined: the online data draws
# d of them per sample (5 % slower as a call).
@nb.njit(cache=True)
def _sas(states, k, alpha):
    return sas_draw(states, k, alpha)


@nb.njit(cache=True)
def _loss(f, y, r, loss):
    return loss_residual(f, y, r, loss)


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


# First body of the training step; the second is simulations.noise_injection.cuda._two_layer_steps.
# The parallel layout forces two: here one thread runs a whole network with loops over its neurons
# that vectorise, there the threads of a block split one network's neurons (shared-memory reduction,
# one stream copy per neuron). The per-element arithmetic is one source for both
# (simulations.noise_injection.pointwise), and so is the evaluation (numpy, simulations.noise_injection.metrics).
def _make_train_networks(noise: int, online: bool, scalar: bool):
    """:func:`train_networks` compiled for one noise kind (``NOISE_NONE`` when no network is
    noised), one data mode (online teacher or data set) and whether scalar SαS draws are needed
    (``scalar``: per-neuron or per-entry hidden noise at α ∈ {1, 2} in some network, or output-layer
    noise; the elliptical hidden noise never needs it; otherwise every
    draw comes from the block sampler and the scalar one is not compiled): closure constants, so
    numba prunes the other branches before typing and a call compiles only what it uses; each
    variant has its own entry in numba's on-disk cache (the closure values are part of the key)."""
    NOISED = noise != NOISE_NONE
    IS_NEURON = noise == NOISE_NEURON
    IS_ENTRY = noise == NOISE_ENTRY
    ONLINE = online
    SCALAR = scalar

    @nb.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
    def train_networks(
        first, last, t0, t1,
        W, A, woff, aoff, widths, alphas, sigmas, lrs, lrs_second, states,
        d, c, noise_kind, act, loss, train_second, noise_hidden, noise_out,
        X, Y, TW, TA, teacher_act, label_noise, batch_size,
        run_loss, run_count, status, fail_step,
    ):
        """Run steps ``t0 .. t1 − 1`` of networks ``first .. last − 1`` in place (W, A, states).

        The arguments after (first, last, t0, t1) are the :data:`KERNEL_FIELDS` of :class:`EnsembleArgs`,
        in order. A network whose ``status`` is not ``STATUS_OK`` is skipped; one whose minibatch loss
        becomes non-finite gets ``STATUS_NONFINITE`` and its step in ``fail_step``. ``run_loss[k]`` and
        ``run_count[k]`` accumulate the minibatch losses of network k and their number (the caller resets
        them at each evaluation, :mod:`simulations.noise_injection.metrics`). Networks are independent
        (own stream, own slices of every array), so disjoint ranges may run on concurrent threads (the GIL
        is released) with results independent of the split, and consecutive step ranges continue one run.

        Data set mode (``X.shape[0] > 0``): minibatches drawn uniformly with replacement from (X, Y).
        Online mode (``X.shape[0] == 0``): teacher–student data, x ~ N(0, I_d),
        y = (1/m) Σ_l TA[l] φ_t(TW[:, l]ᵀx) + label_noise · N(0, I_c).
        """
        n_data = X.shape[0]
        m_t = TW.shape[1]
        for k in range(first, last):
            if status[k] != STATUS_OK:
                continue
            n = widths[k]
            wo = woff[k]
            ao = aoff[k]
            Wk = W[wo: wo + d * n].reshape((d, n))  # views: neuron j is column j
            Ak = A[ao: ao + n * c].reshape((n, c))
            alpha = alphas[k]
            lr = lrs[k]
            lr_a = lrs_second[k]
            nscale = noise_amplitude(sigmas[k], lr, alpha)
            # scratch, allocated once per network (not per step)
            Xb = np.empty((batch_size, d))
            Yb = np.empty((batch_size, c))
            Z = np.empty((batch_size, n))
            GA = np.zeros((n, c))
            h = np.empty(n)
            dh = np.empty(n)
            f = np.empty(c)
            r = np.empty(c)
            tz = np.empty(m_t)
            # noise buffers: one block of SαS draws per step, made by the vectorised libm-free sampler
            # (same stream use as the same number of sas_draw calls; α ∈ {1, 2} use sas_draw)
            n_noise = d * n if IS_ENTRY else n
            noise_buf = np.empty(n_noise)
            xi_scratch = np.empty(2 * n_noise)
            fill = alpha != 1.0 and alpha != 2.0
            inv_b = 1.0 / batch_size
            d4 = d - d % 4
            b4 = batch_size - batch_size % 4
            for t in range(t0, t1):
                # 1. minibatch (draw order: sample by sample)
                for s in range(batch_size):
                    if ONLINE:  # a closure constant: numba prunes the other branch (a `not` would not be pruned)
                        for i in range(d):
                            Xb[s, i] = normal(states, k)
                        for l in range(m_t):
                            tz[l] = 0.0
                        for i in range(d):
                            xi = Xb[s, i]
                            for l in range(m_t):
                                tz[l] += xi * TW[i, l]
                        for o in range(c):
                            Yb[s, o] = 0.0
                        for l in range(m_t):
                            hl = activation(tz[l], teacher_act)
                            for o in range(c):
                                Yb[s, o] += TA[l, o] * hl
                        for o in range(c):
                            Yb[s, o] /= m_t
                        if label_noise > 0.0:
                            for o in range(c):
                                Yb[s, o] += label_noise * normal(states, k)
                    else:
                        idx = int(uniform(states, k) * n_data)
                        if idx >= n_data:
                            idx = n_data - 1
                        for i in range(d):
                            Xb[s, i] = X[idx, i]
                        for o in range(c):
                            Yb[s, o] = Y[idx, o]
                # 2. pre-activations Z = Xb Wk (inputs blocked by 4: one load/store of Z per 4 FMAs)
                for s in range(batch_size):
                    for j in range(n):
                        Z[s, j] = 0.0
                    for i in range(0, d4, 4):
                        x0 = Xb[s, i]
                        x1 = Xb[s, i + 1]
                        x2 = Xb[s, i + 2]
                        x3 = Xb[s, i + 3]
                        for j in range(n):
                            Z[s, j] += x0 * Wk[i, j] + x1 * Wk[i + 1, j] + x2 * Wk[i + 2, j] + x3 * Wk[i + 3, j]
                    for i in range(d4, d):
                        xi = Xb[s, i]
                        for j in range(n):
                            Z[s, j] += xi * Wk[i, j]
                # 3. activations, outputs, loss, and Z[s] ← g_s = (Σ_o r_o a_jo) φ'(z_j) (n × ∂ℓ/∂z)
                if train_second:
                    GA[:, :] = 0.0
                bl = 0.0
                inv_n = 1.0 / n
                for s in range(batch_size):
                    activate(Z[s], h, dh, n, act)
                    for o in range(c):
                        acc = 0.0
                        for j in range(n):
                            acc += h[j] * Ak[j, o]
                        f[o] = acc * inv_n
                    bl += _loss(f, Yb[s], r, loss)
                    if c == 1:
                        r0 = r[0]
                        for j in range(n):
                            Z[s, j] = r0 * Ak[j, 0] * dh[j]
                    else:
                        for j in range(n):
                            acc = 0.0
                            for o in range(c):
                                acc += r[o] * Ak[j, o]
                            Z[s, j] = acc * dh[j]
                    if train_second:
                        for j in range(n):
                            hj = h[j]
                            for o in range(c):
                                GA[j, o] += r[o] * hj
                bl *= inv_b
                if not math.isfinite(bl):
                    status[k] = STATUS_NONFINITE
                    fail_step[k] = t
                    break
                run_loss[k] += bl
                run_count[k] += 1
                # 4. W ← W − (η/b) Xbᵀ G (samples blocked by 4); nothing reads W in between
                step = lr * inv_b
                for i in range(d):
                    for s0 in range(0, b4, 4):
                        x0 = step * Xb[s0, i]
                        x1 = step * Xb[s0 + 1, i]
                        x2 = step * Xb[s0 + 2, i]
                        x3 = step * Xb[s0 + 3, i]
                        for j in range(n):
                            Wk[i, j] -= x0 * Z[s0, j] + x1 * Z[s0 + 1, j] + x2 * Z[s0 + 2, j] + x3 * Z[s0 + 3, j]
                    for s in range(b4, batch_size):
                        xs = step * Xb[s, i]
                        for j in range(n):
                            Wk[i, j] -= xs * Z[s, j]
                if train_second:
                    step_a = lr_a * inv_b
                    for j in range(n):
                        for o in range(c):
                            Ak[j, o] -= step_a * GA[j, o]
                if NOISED and nscale > 0.0:
                    if noise_hidden:
                        if IS_NEURON or IS_ENTRY:
                            if SCALAR:  # closure constant: without it only the block sampler is compiled
                                if fill:
                                    sas_fill(states, k, alpha, noise_buf, xi_scratch)
                                else:
                                    for q in range(n_noise):
                                        noise_buf[q] = _sas(states, k, alpha)
                            else:
                                sas_fill(states, k, alpha, noise_buf, xi_scratch)
                            if IS_NEURON:
                                for i in range(d):
                                    for j in range(n):
                                        Wk[i, j] += nscale * noise_buf[j]
                            else:
                                for i in range(d):
                                    for j in range(n):
                                        Wk[i, j] += nscale * noise_buf[i * n + j]
                        else:
                            for j in range(n):
                                rr = nscale * sub_gaussian_factor_draw(states, k, alpha)
                                for i in range(d):
                                    Wk[i, j] += rr * normal(states, k)
                    if SCALAR:
                        if noise_out:
                            for j in range(n):
                                for o in range(c):
                                    Ak[j, o] += nscale * _sas(states, k, alpha)

    return train_networks


#: The variants, by (noise kind, online, scalar draws): ``NOISE_NONE`` (without scalar draws) when no
#: network gets noise.
TRAIN_NETWORKS = {(noise, online, scalar): _make_train_networks(noise, online, scalar)
                  for noise in (NOISE_NONE, NOISE_NEURON, NOISE_ENTRY, NOISE_ELLIPTICAL) for online in (False, True)
                  for scalar in ((False,) if noise == NOISE_NONE else (False, True))}


def train_networks_for(noise_kind: int, noised: bool, online: bool, scalar: bool = True):
    """The compiled :func:`train_networks` for this noise kind (``noised`` False: no network is
    noised, σ = 0 or no noised layer), data mode and need of scalar SαS draws (``scalar`` False only
    when the output layer is not noised and no network has per-neuron or per-entry hidden noise at α ∈ {1, 2})."""
    noised = bool(noised)
    return TRAIN_NETWORKS[(int(noise_kind) if noised else NOISE_NONE, bool(online), bool(scalar) and noised)]
