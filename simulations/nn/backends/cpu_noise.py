"""numba kernels of the CPU backend, update part: α-stable noise injection, momentum pass, mask.

After the SGD step of a noised layer W (out, in) the training chunk
(:mod:`simulations.nn.backends.cpu_kernels`) adds σ η^{1/α} ξ (Wan, Barsbey, Zaidi & Şimşekli
2024, ICML), ξ symmetric α-stable with scale 1, drawn from one xoroshiro128+ stream per row
(neuron) i = stream ``base + i`` (:mod:`simulations.stable.streams`), then applies the mask:

* ``entry`` (:func:`noise_entry`) ξ_ij iid SαS(1), drawn along the row in column order, one
  draw per *unmasked* entry (masked entries draw nothing); float64 weights take two stream
  outputs per draw, float32 weights one, the draw computed in float32
  (:mod:`simulations.stable.f32`);
* ``neuron`` (:func:`noise_neuron`) one SαS(1) draw ξ_i per row, broadcast over its weights;
* ``elliptical`` (:func:`noise_elliptical`) ξ_i· = R_i Z_i·, R_i = √(2A_i) the sub-Gaussian
  factor (Samorodnitsky & Taqqu 1994, Def. 2.5.1), Z ~ N(0, I), every entry drawn.

SαS draws use the Chambers, Mallows & Stuck (1976, JASA) transform of
:mod:`simulations.stable.cpu`. The CUDA kernel (:mod:`simulations.nn.backends.cuda_kernels`)
draws the same streams in the same order, one thread per row.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations.nn.backends.cpu_dense import FASTMATH as _FM
from simulations.stable.cpu import cms_sym_block, plog, sas_draw, sin_half, sub_gaussian_factor_draw
from simulations.stable.f32 import sas32_fill
from simulations.stable.streams import normal, uniform_open

__all__ = ["noise_entry", "noise_neuron", "sas_across", "noise_elliptical", "apply_mask", "momentum_pass", "all_finite"]


@nb.njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _sas12_block(alpha, u, u2, out):
    """out[j] = SαS(1) for α ∈ {1, 2} from (u[j], u2[j]), V = π(U − ½), W = −ln U2 (the CMS special cases):
    α = 1: tan V (standard Cauchy), cos V = sin(π min(U, 1 − U)) (full relative accuracy in the tails);
    α = 2: 2 sin V √W (N(0, 2)). Vectorised, libm-free (polynomial sin/log of :mod:`simulations.stable.cpu`)."""
    if alpha == 1.0:
        for j in range(out.shape[0]):
            uj = u[j]
            out[j] = sin_half(math.pi * (uj - 0.5)) / sin_half(math.pi * min(uj, 1.0 - uj))
    else:
        for j in range(out.shape[0]):
            out[j] = 2.0 * sin_half(math.pi * (u[j] - 0.5)) * math.sqrt(-plog(u2[j]))


@nb.njit(inline="always", cache=True)
def _sas_pairs(alpha, u, u2, out):
    """out[j] = SαS(1) from (u[j], u2[j]) (V = π(U − ½), W = −ln U2), vectorised and libm-free:
    :func:`simulations.stable.cpu.cms_sym_block` for α ∉ {1, 2}, :func:`_sas12_block` for α ∈ {1, 2}
    (values equal ``sas_draw``'s from the same uniforms to ~1e-13 relative, not bit for bit)."""
    if alpha != 1.0 and alpha != 2.0:
        cms_sym_block(alpha, u, u2, out)
    else:
        _sas12_block(alpha, u, u2, out)


@nb.njit(cache=True)
def _sas_row(states, s, alpha, out, scratch):
    """out[:] = len(out) SαS(1) draws from stream s, the stream used exactly as by len(out) ``sas_draw`` calls
    (two uniforms per draw, U then U2 of W = −ln U2), the transform as a block (:func:`_sas_pairs`).
    ``scratch``: float64, at least 2·len(out).
    """
    m = out.shape[0]
    for j in range(m):
        scratch[j] = uniform_open(states, s)
        scratch[m + j] = uniform_open(states, s)
    _sas_pairs(alpha, scratch[:m], scratch[m:2 * m], out)


@nb.njit(cache=True)
def sas_across(states, base, alpha, out, scratch):
    """out[i] = one SαS(1) draw from stream base + i (i < len(out)), each stream used as by one ``sas_draw``
    call (U, then U2), the transform as a block (:func:`_sas_pairs`); the per-neuron draws of a step.
    ``scratch``: float64, at least 2·len(out), disjoint from ``out``.
    """
    m = out.shape[0]
    for i in range(m):
        scratch[i] = uniform_open(states, base + i)
        scratch[m + i] = uniform_open(states, base + i)
    _sas_pairs(alpha, scratch[:m], scratch[m:2 * m], out)


@nb.njit(inline="always", cache=True)
def _add_row(w, m, has_mask, amp, vals):
    """w_j ← (w_j + amp·vals_k) m_j, vals_k the k-th unmasked entry's draw (all entries without a mask).

    Branch-free scatter (selects): k ≤ n < len(w) whenever an entry is masked, so vals[k] is always in
    bounds of a row-length buffer (and then discarded)."""
    if has_mask:
        k = 0
        for j in range(w.shape[0]):
            keep = m[j] != 0
            w[j] = w[j] + amp * vals[k] if keep else 0.0
            k += keep
    else:
        for j in range(w.shape[0]):
            w[j] += amp * vals[j]


@nb.njit(cache=True, parallel=True, fastmath=_FM)
def noise_entry(W, M, has_mask, states, base, alpha, amp, scratch):
    """W_ij ← (W_ij + amp ξ_ij) m_ij, ξ_ij iid SαS(1); row i uses stream base + i.

    Row i draws one value per unmasked entry, in column order (masked entries draw nothing and are
    set to 0), as a block, then scatters it. float64 W: two stream outputs per draw
    (:func:`_sas_row`, the stream use of ``sas_draw``); float32 W: one output per draw, computed in
    float32 (:func:`simulations.stable.f32.sas32_fill`). ``scratch`` (float64, T × 3·din, T ≥ 1) is
    preallocated per run: the rows are split into min(T, dout) contiguous chunks run in parallel
    (T = the most threads numba may use), chunk t working in scratch[t]. The draws of a row depend
    only on its stream, not on the split or the thread count.
    """
    dout, din = W.shape
    nt = min(scratch.shape[0], dout)
    single = W.itemsize == 4
    m_none = M.reshape(M.size)[:0]                # the row mask passed when there is none (no per-row view)
    for t in nb.prange(nt):
        buf = scratch[t, :din]
        work = scratch[t, din:3 * din]
        s32 = scratch[t].view(np.float32)         # 6·din float32: the float32 path's draws, (U, U2) pairs ...
        o32 = s32[:din]
        raw = scratch[t, 2 * din:].view(np.uint64)   # ... and stream outputs (float32 slots 4·din to 6·din)
        for i in range(t * dout // nt, (t + 1) * dout // nt):
            s = base + i
            n = din
            if has_mask:
                n = 0
                for j in range(din):
                    n += M[i, j] != 0
            mrow = M[i] if has_mask else m_none
            if single:
                sas32_fill(states, s, alpha, o32[:n], raw, s32[din:2 * din], s32[2 * din:3 * din])
                _add_row(W[i], mrow, has_mask, amp, o32)
            else:
                _sas_row(states, s, alpha, buf[:n], work)
                _add_row(W[i], mrow, has_mask, amp, buf)


@nb.njit(cache=True, parallel=True, fastmath=_FM)
def noise_elliptical(W, M, has_mask, states, base, alpha, amp):
    """W_i· ← (W_i· + amp R_i Z_i·) ⊙ m_i·, R_i = √(2A_i) sub-Gaussian factor, Z ~ N(0, I)."""
    dout, din = W.shape
    for i in nb.prange(dout):
        s = base + i
        c = amp * sub_gaussian_factor_draw(states, s, alpha)
        if has_mask:
            for j in range(din):
                z = normal(states, s)
                W[i, j] = (W[i, j] + c * z) * M[i, j]
        else:
            for j in range(din):
                W[i, j] += c * normal(states, s)


@nb.njit(cache=True, fastmath=_FM)
def noise_neuron(W, M, has_mask, states, base, alpha, amp):
    """W_i· ← (W_i· + amp ξ_i) ⊙ m_i·, one SαS(1) draw ξ_i per neuron (row)."""
    dout, din = W.shape
    for i in range(dout):
        c = amp * sas_draw(states, base + i, alpha)
        w = W[i]
        if has_mask:
            m = M[i]
            for j in range(din):
                w[j] = (w[j] + c) * m[j]
        else:
            for j in range(din):
                w[j] += c


@nb.njit(cache=True, fastmath=_FM)
def apply_mask(x, m):
    for j in range(x.shape[0]):
        x[j] = x[j] * m[j]


@nb.njit(cache=True, fastmath=_FM)
def momentum_pass(w, v, m, has_mask, lr, wd):
    """v ← v + λw; w ← w − ηv; (w, v) ← m ⊙ (w, v)."""
    n = w.shape[0]
    if has_mask:
        for j in range(n):
            vj = (v[j] + wd * w[j]) * m[j]
            v[j] = vj
            w[j] = (w[j] - lr * vj) * m[j]
    else:
        for j in range(n):
            vj = v[j] + wd * w[j]
            v[j] = vj
            w[j] = w[j] - lr * vj


@nb.njit(cache=True, inline="always")
def all_finite(x):
    for j in range(x.shape[0]):
        if not math.isfinite(x[j]):
            return False
    return True


@nb.njit(cache=True, inline="always")
def weight_check(x, max_weight):
    """0 when every |x_j| ≤ max_weight; else DIV_NONFINITE_PARAMS (4) if some x_j is NaN/±inf, DIV_MAX_WEIGHT (3) if not.

    The common case (every weight within the bound) is one counting pass with no early exit, which
    vectorises (an early-exit loop does not: 0.9 against 0.1-0.2 ms on 1.6 M weights), in x's own
    precision: the bound is max_weight rounded down to x's dtype, so |x_j| ≤ bound ⇔ |x_j| ≤ max_weight
    exactly (and NaN fails both). The cause is looked up only when some entry is over.
    """
    t = x.dtype.type(max_weight)
    if t > max_weight:
        t = np.nextafter(t, x.dtype.type(0.0))
    over = 0
    for j in range(x.shape[0]):
        over += 0 if abs(x[j]) <= t else 1
    if over == 0:
        return 0
    return 3 if all_finite(x) else 4
