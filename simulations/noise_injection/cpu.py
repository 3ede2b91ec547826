"""Numba kernels: many mean-field two-layer networks trained by noise-injected SGD at once.

No validation here (see :mod:`simulations.noise_injection.ensemble`). One call trains ``K``
networks in parallel (``prange`` over networks); network ``k`` owns row ``k``
of the xoroshiro128+ ``states`` array, so its numbers do not depend on the
number of threads or on scheduling.

Model (mean-field scaling, Mei, Montanari & Nguyen 2018; Wan, Barsbey, Zaidi &
Şimşekli, ICML 2024): for network ``k`` of width ``n`` with hidden weights
``w_1..w_n ∈ R^d`` and output weights ``a_j ∈ R^c``,

    f(x) = (1/n) Σ_j a_j φ(w_jᵀx).

One step with minibatch B (|B| = b), step η, noise scale σ, stability α:

    w_j ← w_j − η · (1/b) Σ_{(x,y)∈B} ∂_f ℓ(f(x), y)ᵀ a_j φ'(w_jᵀx) x        (= −η n ∇_{w_j} L̂)
    a_j ← a_j − η_a · (1/b) Σ_{(x,y)∈B} ∂_f ℓ(f(x), y) φ(w_jᵀx)               (only if trained)
    w_j ← w_j + σ η^{1/α} ξ_j                                               (noise after the step)

The gradient is multiplied by ``n`` (the mean-field time scale), so that one
step moves every neuron by O(η) whatever the width and ``t = kη`` is the time
of the limiting McKean–Vlasov SDE. ξ_j ∈ R^d is, per ``noise_type``:

* 0 "neuron": ξ_j = S_j·(1,…,1), one SαS(1) scalar per neuron broadcast over its d weights;
* 1 "entry": ξ_{j,i} iid SαS(1);
* 2 "elliptical": ξ_j = R_j Z_j, R_j = √(2A_j), A_j ~ S_{α/2}(cos(πα/4)^{2/α}, 1, 0), Z_j ~ N(0, I_d)
  (a sub-Gaussian SαS vector whose coordinates are SαS(1)).

SαS(1) at α = 2 is N(0, 2) (S0/S1 convention of :mod:`simulations.stable.cpu`).

Memory layout. Hidden weights of network k live in ``W[woff[k] : woff[k] + d*n_k]``
as a (d, n_k) row-major block, entry (i, j) at ``woff[k] + i*n_k + j`` (column j
is neuron j, which makes the inner loops run over neurons and vectorise). Output
weights live in ``A[aoff[k] : aoff[k] + n_k*c]``, entry (j, o) at ``aoff[k] + j*c + o``.

Order of the random draws of network k (documented so that a reference
implementation can replay them; all from stream k):

1. per step, per sample s = 0..b−1: dataset mode — one ``uniform`` → index
   ``min(int(u·N), N−1)``; online-teacher mode — d ``normal`` draws for x, then
   (if ``label_noise > 0``) c ``normal`` draws for the label noise;
2. after the update, if σ > 0: "neuron": n ``sas_draw``; "entry": d·n ``sas_draw``
   in the order (i, j) row-major (for α ∉ {1, 2} the block is made by
   :func:`simulations.stable.cpu.sas_fill`, which uses the stream exactly as that many
   ``sas_draw`` calls and agrees with them to rounding); "elliptical": for each neuron j one
   ``sub_gaussian_factor_draw`` then d ``normal`` draws;
3. if noise is also injected in the output layer: n·c ``sas_draw`` in (j, o) order.

φ = tanh is evaluated by :func:`tanh_fast` (relative error ≲ 1e-15 against libm, vectorisable).

Evaluation every ``eval_every`` steps (and after the last step) records, per
network: the mean minibatch loss since the last evaluation; the loss and
accuracy on an evaluation set (if given); neuron-norm statistics; the relative
Frobenius error of neuron pruning ‖W − W^{(k)}‖_F/‖W‖_F where W^{(k)} keeps the
k = ⌈κn⌉ largest-norm neurons (= σ_k(‖w_·‖)_2/‖(‖w_·‖)‖_2 on the vector of
neuron norms); and the prunable fraction — the largest m/n such that removing
the m smallest-norm neurons leaves a squared relative Frobenius error ≤ ε
(the metric of Wan et al.: prune until the squared relative error reaches ε = 0.1).
A network whose minibatch loss or weights become non-finite is stopped and
flagged (status 1) with the step at which it happened.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations.stable.cpu import sas_draw, sas_fill, sub_gaussian_factor_draw
from simulations.stable.streams import normal, uniform

ACT_TANH = 0
ACT_RELU = 1
ACT_LINEAR = 2

LOSS_SQUARED = 0
LOSS_XENT = 1

NOISE_NEURON = 0
NOISE_ENTRY = 1
NOISE_ELLIPTICAL = 2

STATUS_OK = 0
STATUS_DIVERGED = 1

# Fast-math flags without nnan/ninf (divergence checks rely on isfinite), and numpy's error
# model (no ZeroDivisionError branch) so that the activation loops vectorise.
_FM = {"reassoc", "contract", "arcp", "nsz"}


@nb.njit(inline="always", cache=True, fastmath=_FM, error_model="numpy")
def tanh_fast(z):
    """tanh(z) in a branch-free, vectorisable form (max relative error ~1e-15 against libm).

    tanh|z| = −m/(2+m) with m = expm1(−2|z|), computed as expm1(s) for s = −2|z|/64 by its
    Taylor polynomial (degree 16, |s| ≤ 0.625 after clamping |z| ≤ 20) followed by six
    doublings expm1(2u) = m(2+m) — no cancellation near 0, no division by zero.
    """
    y = max(-2.0 * abs(z), -40.0)
    s = y * (1.0 / 64.0)
    p = 1.0 + s * (1.0 / 16.0)
    p = 1.0 + s * (1.0 / 15.0) * p
    p = 1.0 + s * (1.0 / 14.0) * p
    p = 1.0 + s * (1.0 / 13.0) * p
    p = 1.0 + s * (1.0 / 12.0) * p
    p = 1.0 + s * (1.0 / 11.0) * p
    p = 1.0 + s * (1.0 / 10.0) * p
    p = 1.0 + s * (1.0 / 9.0) * p
    p = 1.0 + s * (1.0 / 8.0) * p
    p = 1.0 + s * (1.0 / 7.0) * p
    p = 1.0 + s * (1.0 / 6.0) * p
    p = 1.0 + s * (1.0 / 5.0) * p
    p = 1.0 + s * (1.0 / 4.0) * p
    p = 1.0 + s * (1.0 / 3.0) * p
    p = 1.0 + s * 0.5 * p
    m = s * p
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    m = m * (2.0 + m)
    v = -m / (2.0 + m)
    return math.copysign(v, z)


@nb.njit(inline="always", cache=True, fastmath=_FM, error_model="numpy")
def _act(code, z):
    if code == ACT_TANH:
        return tanh_fast(z)
    if code == ACT_RELU:
        return z if z > 0.0 else 0.0
    return z


@nb.njit(inline="always", cache=True, fastmath=_FM, error_model="numpy")
def _forward(Wk, Ak, n, d, c, act, x, z, h, dh, f):
    """z = Wkᵀx (n), h = φ(z), dh = φ'(z), f = (1/n) Σ_j a_j h_j (c). Wk: (d, n), Ak: (n, c) views."""
    for j in range(n):
        z[j] = 0.0
    for i in range(d):
        xi = x[i]
        for j in range(n):
            z[j] += xi * Wk[i, j]
    if act == ACT_TANH:
        for j in range(n):
            hj = tanh_fast(z[j])
            h[j] = hj
            dh[j] = 1.0 - hj * hj
    elif act == ACT_RELU:
        for j in range(n):
            zj = z[j]
            h[j] = zj if zj > 0.0 else 0.0
            dh[j] = 1.0 if zj > 0.0 else 0.0
    else:
        for j in range(n):
            h[j] = z[j]
            dh[j] = 1.0
    inv_n = 1.0 / n
    for o in range(c):
        s = 0.0
        for j in range(n):
            s += h[j] * Ak[j, o]
        f[o] = s * inv_n


@nb.njit(inline="always", cache=True)
def _loss_residual(loss, f, y, r, c):
    """Loss ℓ(f, y) and r = ∂ℓ/∂f. squared: ½‖f−y‖²; cross-entropy: y one-hot, softmax(f)."""
    if loss == LOSS_SQUARED:
        val = 0.0
        for o in range(c):
            r[o] = f[o] - y[o]
            val += 0.5 * r[o] * r[o]
        return val
    m = f[0]
    for o in range(1, c):
        if f[o] > m:
            m = f[o]
    s = 0.0
    for o in range(c):
        r[o] = math.exp(f[o] - m)
        s += r[o]
    lse = m + math.log(s)
    val = 0.0
    for o in range(c):
        r[o] = r[o] / s - y[o]
        val -= y[o] * (f[o] - lse)
    return val


@nb.njit(inline="always", cache=True)
def _argmax(v, c):
    best = 0
    for o in range(1, c):
        if v[o] > v[best]:
            best = o
    return best


@nb.njit(inline="always", cache=True)
def _kept_count(kappa, n):
    """k = ⌈κn⌉, κn within a few ulps of an integer rounded to it (as simulations.compressibility.api.kept_count)."""
    v = kappa * n
    r = math.floor(v + 0.5)
    if abs(v - r) <= 8.0 * 2.220446049250313e-16 * max(1.0, abs(v)):
        k = int(r)
    else:
        k = int(math.ceil(v))
    return min(max(k, 0), n)


@nb.njit(cache=True, fastmath=_FM, error_model="numpy")
def _record(Wk, Ak, n, d, c, act, loss, Xe, Ye, kappas, prune_eps, buf, z, h, dh, f, r, out_k, e, run_loss,
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
    buf[:n].sort()
    # cumulative sums from the smallest: buf[m] becomes Σ_{i<m} s_(i) (shifted in place)
    acc = 0.0
    for j in range(n):
        v = buf[j]
        buf[j] = acc
        acc += v
    # acc == total (up to rounding); use acc for consistency
    for q in range(kappas.shape[0]):
        keep = _kept_count(kappas[q], n)
        drop = n - keep
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
            _forward(Wk, Ak, n, d, c, act, Xe[s], z, h, dh, f)
            tot += _loss_residual(loss, f, Ye[s], r, c)
            if c > 1 and _argmax(f, c) == _argmax(Ye[s], c):
                hits += 1
        hist_eval_loss[out_k, e] = tot / ne
        hist_eval_acc[out_k, e] = hits / ne
    return True


@nb.njit(parallel=True, cache=True, fastmath=_FM, error_model="numpy")
def train_ensemble(
    W, A, woff, aoff, widths, alphas, sigmas, lrs, lrs_a, states,
    d, c, noise_type, act, loss, train_a, noise_hidden, noise_out,
    X, Y, TW, TA, t_act, label_noise,
    Xe, Ye, batch, steps, eval_every, kappas, prune_eps,
    hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean, hist_norm_max,
    status, fail_step,
):
    """Train all K networks in place (W, A) for ``steps`` steps; fill the history arrays.

    ``X.shape[0] > 0``: minibatches drawn uniformly with replacement from (X, Y).
    ``X.shape[0] == 0``: online teacher–student data, x ~ N(0, I_d),
    y = (1/m) Σ_l TA[l] φ_t(TW[:, l]ᵀx) + label_noise · N(0, I_c).
    """
    K = widths.shape[0]
    n_data = X.shape[0]
    m_t = TW.shape[1]
    for k in nb.prange(K):
        n = widths[k]
        wo = woff[k]
        ao = aoff[k]
        Wk = W[wo: wo + d * n].reshape((d, n))  # views: neuron j is column j
        Ak = A[ao: ao + n * c].reshape((n, c))
        alpha = alphas[k]
        lr = lrs[k]
        lr_a = lrs_a[k]
        nscale = sigmas[k] * lr ** (1.0 / alpha) if sigmas[k] > 0.0 else 0.0
        # scratch, allocated once per network (not per step)
        Xb = np.empty((batch, d))
        Yb = np.empty((batch, c))
        Z = np.empty((batch, n))
        GA = np.zeros((n, c))
        z = np.empty(n)
        h = np.empty(n)
        dh = np.empty(n)
        buf = np.empty(n)
        f = np.empty(c)
        r = np.empty(c)
        tz = np.empty(m_t)
        # noise buffers: one block of SαS draws per step, made by the vectorised libm-free sampler
        # (same stream use as the same number of sas_draw calls; α ∈ {1, 2} use sas_draw)
        n_noise = d * n if noise_type == NOISE_ENTRY else n
        noise_buf = np.empty(n_noise)
        xi_scratch = np.empty(2 * n_noise)
        fill = alpha != 1.0 and alpha != 2.0
        run_loss = 0.0
        run_count = 0
        e = 0
        inv_b = 1.0 / batch
        d4 = d - d % 4
        b4 = batch - batch % 4
        status[k] = STATUS_OK
        fail_step[k] = -1
        for t in range(steps):
            # 1. minibatch (draw order: sample by sample)
            for s in range(batch):
                if n_data > 0:
                    idx = int(uniform(states, k) * n_data)
                    if idx >= n_data:
                        idx = n_data - 1
                    for i in range(d):
                        Xb[s, i] = X[idx, i]
                    for o in range(c):
                        Yb[s, o] = Y[idx, o]
                else:
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
                        hl = _act(t_act, tz[l])
                        for o in range(c):
                            Yb[s, o] += TA[l, o] * hl
                    for o in range(c):
                        Yb[s, o] /= m_t
                    if label_noise > 0.0:
                        for o in range(c):
                            Yb[s, o] += label_noise * normal(states, k)
            # 2. pre-activations Z = Xb Wk (inputs blocked by 4: one load/store of Z per 4 FMAs)
            for s in range(batch):
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
            if train_a:
                GA[:, :] = 0.0
            bl = 0.0
            inv_n = 1.0 / n
            for s in range(batch):
                if act == ACT_TANH:
                    for j in range(n):
                        hj = tanh_fast(Z[s, j])
                        h[j] = hj
                        dh[j] = 1.0 - hj * hj
                elif act == ACT_RELU:
                    for j in range(n):
                        zj = Z[s, j]
                        h[j] = zj if zj > 0.0 else 0.0
                        dh[j] = 1.0 if zj > 0.0 else 0.0
                else:
                    for j in range(n):
                        h[j] = Z[s, j]
                        dh[j] = 1.0
                for o in range(c):
                    acc = 0.0
                    for j in range(n):
                        acc += h[j] * Ak[j, o]
                    f[o] = acc * inv_n
                bl += _loss_residual(loss, f, Yb[s], r, c)
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
                if train_a:
                    for j in range(n):
                        hj = h[j]
                        for o in range(c):
                            GA[j, o] += r[o] * hj
            bl *= inv_b
            if not math.isfinite(bl):
                status[k] = STATUS_DIVERGED
                fail_step[k] = t
                break
            run_loss += bl
            run_count += 1
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
                for s in range(b4, batch):
                    xs = step * Xb[s, i]
                    for j in range(n):
                        Wk[i, j] -= xs * Z[s, j]
            if train_a:
                step_a = lr_a * inv_b
                for j in range(n):
                    for o in range(c):
                        Ak[j, o] -= step_a * GA[j, o]
            if nscale > 0.0:
                if noise_hidden:
                    if noise_type == NOISE_NEURON or noise_type == NOISE_ENTRY:
                        if fill:
                            sas_fill(states, k, alpha, noise_buf, xi_scratch)
                        else:
                            for q in range(n_noise):
                                noise_buf[q] = sas_draw(states, k, alpha)
                        if noise_type == NOISE_NEURON:
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
                if noise_out:
                    for j in range(n):
                        for o in range(c):
                            Ak[j, o] += nscale * sas_draw(states, k, alpha)
            if (t + 1) % eval_every == 0 or t == steps - 1:
                ok = _record(Wk, Ak, n, d, c, act, loss, Xe, Ye, kappas, prune_eps, buf, z, h, dh, f, r, k, e,
                             run_loss / max(run_count, 1), hist_loss, hist_eval_loss, hist_eval_acc, hist_prune,
                             hist_prunable, hist_norm_mean, hist_norm_max)
                run_loss = 0.0
                run_count = 0
                e += 1
                if not ok:
                    status[k] = STATUS_DIVERGED
                    fail_step[k] = t
                    break
