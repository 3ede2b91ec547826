"""numba kernels of the CPU backend: fused forward / backward / SGD update / noise injection.

Plain ``@njit`` functions on flat arrays, no validation (the checked API is
:mod:`simulations.nn.train`). Matrix products call BLAS ``sgemm``/``dgemm``
(scipy's bundled OpenBLAS, through numba's ``numba_xxgemm`` helper) with the
full ``C ← α op(A) op(B) + β C`` form, so that the SGD update is folded into
the weight-gradient product:

* plain SGD:            W ← (1 − ηλ) W − η δᵀA          (one GEMM, β = 1 − ηλ, α = −η; no gradient buffer)
* momentum:             V ← μ V + δᵀA (GEMM, β = μ);  V ← V + λW;  W ← W − η V   (one fused pass)

where δ = ∂L/∂Z of the layer (already divided by the batch size) and A the
layer input. Backpropagation (Rumelhart, Hinton & Williams 1986):
δ_{l−1} = (δ_l W_l) ⊙ φ'(A_{l−1}), computed with W_l *before* W_l is updated.
φ' is recovered from the activation itself: ReLU 1[a>0]; tanh 1 − a²;
softplus 1 − e^{−a} (= sigmoid(z)); identity 1.

Losses per sample (z = logits, y = label): cross-entropy lse(z) − z_y with
∂/∂z = softmax(z) − e_y; squared ½‖z − e_y‖² with ∂/∂z = z − e_y.

Layout: activations of layer l (1..L) live in ``acts[aoff[l-1] : aoff[l-1] + nb·d_l]``
viewed as (nb, d_l); parameters as in :class:`simulations.nn.model.Params`. Training
buffers have one spare row (B + 1): per-neuron noise c ξ_i (no mask, no momentum) is folded
into the update GEMM as a rank-one term, W ← βW − η [D; −cξ/η]ᵀ [A; 1], so it costs no
extra pass over W.
"""
from __future__ import annotations

import math

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import check_blas_return, ensure_blas, get_blas_kind

from simulations.stable.cpu import plog, sas_draw, sas_fill, sin_half, sub_gaussian_factor_draw
from simulations.stable.streams import normal, uniform_open

ensure_blas()

ACT_RELU, ACT_TANH, ACT_SOFTPLUS, ACT_IDENTITY = 0, 1, 2, 3
LOSS_CE, LOSS_SQ = 0, 1
NOISE_ENTRY, NOISE_NEURON, NOISE_ELLIPTICAL = 0, 1, 2

_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast math without nnan/ninf: NaN checks stay valid


@intrinsic
def _gemm_cm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major BLAS xGEMM: C ← alpha op(A) op(B) + beta C (transa/transb: 0 = 'n', else 't')."""
    dtype = c.dtype
    sig = types.void(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, sig, args):
        ll_char = ir.IntType(8)
        ll_void_p = ll_char.as_pointer()
        intp_t = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [ll_char, ll_char, ll_char, intp_t, intp_t, intp_t,
                                                ll_void_p, ll_void_p, intp_t, ll_void_p, intp_t, ll_void_p,
                                                ll_void_p, intp_t])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        (ta, tb, mm, nn, kk, al, aa, la, bb, lb, be, cc, lc) = args
        st = sig.args

        def as_trans(v, ty):
            iv = context.cast(builder, v, ty, types.intp)
            isz = builder.icmp_signed("!=", iv, ir.Constant(intp_t, 0))
            return builder.select(isz, ir.Constant(ll_char, ord("t")), ir.Constant(ll_char, ord("n")))

        def as_intp(v, ty):
            return context.cast(builder, v, ty, types.intp)

        def data(v, ty):
            return builder.bitcast(context.make_array(ty)(context, builder, v).data, ll_void_p)

        alpha_slot = cgutils.alloca_once_value(builder, context.cast(builder, al, st[5], dtype))
        beta_slot = cgutils.alloca_once_value(builder, context.cast(builder, be, st[10], dtype))
        kind = ir.Constant(ll_char, ord(get_blas_kind(dtype)))
        res = builder.call(fn, (kind, as_trans(ta, st[0]), as_trans(tb, st[1]), as_intp(mm, st[2]),
                                as_intp(nn, st[3]), as_intp(kk, st[4]), builder.bitcast(alpha_slot, ll_void_p),
                                data(aa, st[6]), as_intp(la, st[7]), data(bb, st[8]), as_intp(lb, st[9]),
                                builder.bitcast(beta_slot, ll_void_p), data(cc, st[11]), as_intp(lc, st[12])))
        check_blas_return(context, builder, res)
        return context.get_dummy_value()

    return sig, codegen


@nb.njit(inline="always", cache=True)
def gemm(ta, tb, alpha, A, B, beta, C):
    """Row-major C (M, N) ← alpha op(A) op(B) + beta C for C-contiguous 2-D A, B, C.

    op(X) = Xᵀ when the flag is true. Row-major C is column-major Cᵀ = op(B)ᵀ op(A)ᵀ,
    so BLAS gets B's memory first (transposed iff ``tb``) and A's second.
    """
    M = C.shape[0]
    N = C.shape[1]
    K = A.shape[0] if ta else A.shape[1]
    if M == 0 or N == 0:
        return
    _gemm_cm(tb, ta, N, M, K, alpha, B, B.shape[1], A, A.shape[1], beta, C, C.shape[1])


# ------------------------------------------------------------------------------------------
# small fused passes
# ------------------------------------------------------------------------------------------
@nb.njit(inline="always", cache=True, fastmath=_FM)
def _bias_act(Z, b, has_bias, act):
    """Z ← φ(Z + b) in place (rows of Z)."""
    n, d = Z.shape
    for r in range(n):
        z = Z[r]
        if has_bias:
            if act == ACT_RELU:
                for j in range(d):
                    v = z[j] + b[j]
                    z[j] = v if v > 0 else 0.0
            elif act == ACT_TANH:
                for j in range(d):
                    z[j] = math.tanh(z[j] + b[j])
            elif act == ACT_SOFTPLUS:
                for j in range(d):
                    v = z[j] + b[j]
                    z[j] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))
            else:
                for j in range(d):
                    z[j] = z[j] + b[j]
        else:
            if act == ACT_RELU:
                for j in range(d):
                    v = z[j]
                    z[j] = v if v > 0 else 0.0
            elif act == ACT_TANH:
                for j in range(d):
                    z[j] = math.tanh(z[j])
            elif act == ACT_SOFTPLUS:
                for j in range(d):
                    v = z[j]
                    z[j] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@nb.njit(inline="always", cache=True, fastmath=_FM)
def _act_grad_colsum(D, A, act, gb):
    """D ← D ⊙ φ'(A) and gb ← column sums of the result (the next layer's bias gradient)."""
    n, d = D.shape
    for j in range(d):
        gb[j] = 0.0
    for r in range(n):
        dr = D[r]
        ar = A[r]
        if act == ACT_RELU:
            for j in range(d):
                v = dr[j] if ar[j] > 0 else 0.0
                dr[j] = v
                gb[j] += v
        elif act == ACT_TANH:
            for j in range(d):
                v = dr[j] * (1.0 - ar[j] * ar[j])
                dr[j] = v
                gb[j] += v
        elif act == ACT_SOFTPLUS:
            for j in range(d):
                v = dr[j] * (-math.expm1(-ar[j]))
                dr[j] = v
                gb[j] += v
        else:
            for j in range(d):
                gb[j] += dr[j]


@nb.njit(inline="always", cache=True, fastmath=_FM)
def _act_grad(D, A, act):
    """D ← D ⊙ φ'(A), φ' expressed through the activation a = φ(z)."""
    n, d = D.shape
    for r in range(n):
        dr = D[r]
        ar = A[r]
        if act == ACT_RELU:
            for j in range(d):
                if ar[j] <= 0:
                    dr[j] = 0.0
        elif act == ACT_TANH:
            for j in range(d):
                dr[j] = dr[j] * (1.0 - ar[j] * ar[j])
        elif act == ACT_SOFTPLUS:
            for j in range(d):
                dr[j] = dr[j] * (-math.expm1(-ar[j]))


@nb.njit(inline="always", cache=True)
def _row_loss(z, t, loss):
    """Loss of one row of logits z with label t, 1[argmax z = t], and log Σ_k e^{z_k} (cross-entropy only)."""
    K = z.shape[0]
    best = 0
    zmax = z[0]
    for k in range(1, K):
        if z[k] > zmax:
            zmax = z[k]
            best = k
    correct = 1 if best == t else 0
    if loss == LOSS_CE:
        s = 0.0
        for k in range(K):
            s += math.exp(float(z[k]) - zmax)
        lse = zmax + math.log(s)
        return lse - z[t], correct, lse
    acc = 0.0
    for k in range(K):
        e = float(z[k]) - (1.0 if k == t else 0.0)
        acc += e * e
    return 0.5 * acc, correct, 0.0


@nb.njit(inline="always", cache=True)
def _loss_delta(Z, y, loss, D, inv_b):
    """Per-batch loss sum and correct count; D ← ∂(mean loss)/∂Z (D may alias nothing)."""
    n, K = Z.shape
    total = 0.0
    correct = 0
    for r in range(n):
        z = Z[r]
        t = y[r]
        row, ok, lse = _row_loss(z, t, loss)
        total += row
        correct += ok
        if loss == LOSS_CE:
            for k in range(K):
                p = math.exp(float(z[k]) - lse)
                D[r, k] = (p - (1.0 if k == t else 0.0)) * inv_b
        else:
            for k in range(K):
                D[r, k] = (float(z[k]) - (1.0 if k == t else 0.0)) * inv_b
    return total, correct


@nb.njit(inline="always", cache=True)
def _loss_only(Z, y, loss):
    total = 0.0
    correct = 0
    for r in range(Z.shape[0]):
        row, ok, _ = _row_loss(Z[r], y[r], loss)
        total += row
        correct += ok
    return total, correct


@nb.njit(cache=True)
def forward_into(sizes, offsets, aoff, act, has_bias, params, Xb, acts, n):
    """Forward pass of the first n rows of Xb; returns nothing (activations in ``acts``)."""
    L = sizes.shape[0] - 1
    for l in range(L):
        din = sizes[l]
        dout = sizes[l + 1]
        W = params[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        b = params[offsets[l, 1]:offsets[l, 2]]
        if l == 0:
            A = Xb[:n]
        else:
            A = acts[aoff[l - 1]:aoff[l - 1] + n * din].reshape((n, din))
        Z = acts[aoff[l]:aoff[l] + n * dout].reshape((n, dout))
        gemm(False, True, 1.0, A, W, 0.0, Z)
        _bias_act(Z, b, has_bias, act if l < L - 1 else ACT_IDENTITY)


@nb.njit(cache=True)
def evaluate_kernel(sizes, offsets, aoff, act, loss, has_bias, params, X, y, acts, chunk):
    """(sum of losses, correct) over all rows of X, ``chunk`` rows at a time."""
    L = sizes.shape[0] - 1
    n = X.shape[0]
    K = sizes[L]
    total = 0.0
    correct = 0
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        forward_into(sizes, offsets, aoff, act, has_bias, params, X[s:s + m], acts, m)
        Z = acts[aoff[L - 1]:aoff[L - 1] + m * K].reshape((m, K))
        t, c = _loss_only(Z, y[s:s + m], loss)
        total += t
        correct += c
    return total, correct


@nb.njit(cache=True)
def logits_kernel(sizes, offsets, aoff, act, has_bias, params, X, acts, chunk, out):
    L = sizes.shape[0] - 1
    n = X.shape[0]
    K = sizes[L]
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        forward_into(sizes, offsets, aoff, act, has_bias, params, X[s:s + m], acts, m)
        out[s:s + m] = acts[aoff[L - 1]:aoff[L - 1] + m * K].reshape((m, K))


@nb.njit(cache=True)
def loss_grad_kernel(sizes, offsets, aoff, act, loss, has_bias, params, X, y, acts, d0, d1, grad):
    """Mean loss over the rows of X and its gradient (flat, layout of params) — for checks."""
    L = sizes.shape[0] - 1
    n = X.shape[0]
    K = sizes[L]
    forward_into(sizes, offsets, aoff, act, has_bias, params, X, acts, n)
    Z = acts[aoff[L - 1]:aoff[L - 1] + n * K].reshape((n, K))
    D = d0[:n * K].reshape((n, K))
    total, _ = _loss_delta(Z, y, loss, D, 1.0 / n)
    cur = d0
    nxt = d1
    for l in range(L - 1, -1, -1):
        din = sizes[l]
        dout = sizes[l + 1]
        W = params[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        D = cur[:n * dout].reshape((n, dout))
        if l == 0:
            A = X
        else:
            A = acts[aoff[l - 1]:aoff[l - 1] + n * din].reshape((n, din))
        gW = grad[offsets[l, 0]:offsets[l, 1]].reshape((dout, din))
        gemm(True, False, 1.0, D, A, 0.0, gW)
        if has_bias:
            gb = grad[offsets[l, 1]:offsets[l, 2]]
            gb[:] = 0.0
            for r in range(n):
                for j in range(dout):
                    gb[j] += D[r, j]
        if l > 0:
            Dn = nxt[:n * din].reshape((n, din))
            gemm(False, False, 1.0, D, W, 0.0, Dn)
            _act_grad(Dn, A, act)
            tmp = cur
            cur = nxt
            nxt = tmp
    return total / n


# ------------------------------------------------------------------------------------------
# noise injection and masking (per layer, after its update)
# ------------------------------------------------------------------------------------------
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
def _sas_row(states, s, alpha, out, scratch):
    """out[:] = len(out) SαS(1) draws from stream s, the stream used exactly as by len(out) ``sas_draw`` calls
    (two uniforms per draw, U then U2 of W = −ln U2).

    Vectorised, libm-free block samplers (Chambers, Mallows & Stuck 1976 from the same (U, U2) pairs;
    values equal ``sas_draw``'s to ~1e-13 relative, not bit for bit): α ∉ {1, 2}
    :func:`simulations.stable.cpu.sas_fill`; α ∈ {1, 2} :func:`_sas12_block`.
    ``scratch``: float64, at least 2·len(out).
    """
    m = out.shape[0]
    if alpha != 1.0 and alpha != 2.0:
        sas_fill(states, s, alpha, out, scratch[:2 * m])
    else:
        for j in range(m):
            scratch[j] = uniform_open(states, s)
            scratch[m + j] = uniform_open(states, s)
        _sas12_block(alpha, scratch[:m], scratch[m:2 * m], out)


@nb.njit(cache=True, parallel=True, fastmath=_FM)
def _noise_entry(W, M, has_mask, states, base, alpha, amp, scratch):
    """W_ij ← (W_ij + amp ξ_ij) m_ij, ξ_ij iid SαS(1); row i uses stream base + i.

    Row i draws one value per unmasked entry, in column order (masked entries draw nothing and are
    set to 0), as a block (:func:`_sas_row`), then scatters it. ``scratch`` (float64, T × 3·din,
    T ≥ 1) is preallocated per run: the rows are split into min(T, dout) contiguous chunks run in
    parallel (T = the most threads numba may use), chunk t working in scratch[t]. The draws of a row
    depend only on its stream, not on the split or the thread count.
    """
    dout, din = W.shape
    nt = min(scratch.shape[0], dout)
    for t in nb.prange(nt):
        buf = scratch[t, :din]
        work = scratch[t, din:3 * din]
        for i in range(t * dout // nt, (t + 1) * dout // nt):
            s = base + i
            if has_mask:
                m = M[i]
                n = 0
                for j in range(din):
                    n += m[j] != 0
                _sas_row(states, s, alpha, buf[:n], work)
                # scatter, branch-free (selects): the k-th unmasked entry gets buf[k]; k ≤ n < din
                # whenever an entry is masked, so buf[k] is always in bounds (and then discarded)
                w = W[i]
                k = 0
                for j in range(din):
                    keep = m[j] != 0
                    w[j] = w[j] + amp * buf[k] if keep else 0.0
                    k += keep
            else:
                _sas_row(states, s, alpha, buf, work)
                for j in range(din):
                    W[i, j] += amp * buf[j]


@nb.njit(cache=True, parallel=True, fastmath=_FM)
def _noise_elliptical(W, M, has_mask, states, base, alpha, amp):
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


@nb.njit(inline="always", cache=True, fastmath=_FM)
def _noise_neuron(W, M, has_mask, states, base, alpha, amp):
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


@nb.njit(inline="always", cache=True, fastmath=_FM)
def _apply_mask(x, m):
    for j in range(x.shape[0]):
        x[j] = x[j] * m[j]


@nb.njit(inline="always", cache=True, fastmath=_FM)
def _momentum_pass(w, v, m, has_mask, lr, wd):
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


@nb.njit(cache=True)
def _all_finite(x):
    for j in range(x.shape[0]):
        if not math.isfinite(x[j]):
            return False
    return True


# ------------------------------------------------------------------------------------------
# the training chunk
# ------------------------------------------------------------------------------------------
@nb.njit(cache=True)
def train_steps_kernel(sizes, offsets, aoff, act, loss, has_bias,
                       params, velocity, mask, noise_states, avg_sum,
                       X, y, idx, lrs, avg_flags, B,
                       momentum, wd, has_mask, noise_kind, noise_alpha, noise_sigma, noise_layer, stream_base,
                       noise_scratch, Xb, yb, acts, d0, d1, gb, gbn, max_loss, stats):
    """Run len(lrs) SGD steps of batch size B (≤ rows of Xb) in place.

    Returns the number of steps done; stats = [loss_sum, correct, diverged].

    ``noise_layer[l]`` ≠ 0 marks noised layers, ``stream_base[l]`` their first stream;
    noise_sigma = 0 disables noise. ``noise_scratch``: float64 (T, 3·max din) block-sampler scratch for
    per-entry noise (see :func:`_noise_entry`). ``max_loss`` ≤ 0 disables the loss threshold.
    """
    L = sizes.shape[0] - 1
    K = sizes[L]
    n_steps = lrs.shape[0]
    use_mom = momentum > 0.0
    total = 0.0
    correct = 0
    inv_b = 1.0 / B
    stats[2] = 0.0
    done = 0
    Xbv = Xb[:B]
    ybv = yb[:B]
    # per-neuron noise without mask or momentum is folded into the update GEMM (buffers have B+1 rows)
    fold_neuron_noise = noise_sigma > 0.0 and noise_kind == NOISE_NEURON and not has_mask and not use_mom
    for s in range(n_steps):
        lr = lrs[s]
        # gather the batch
        for r in range(B):
            k = idx[s * B + r]
            Xb[r, :] = X[k, :]
            yb[r] = y[k]
        forward_into(sizes, offsets, aoff, act, has_bias, params, Xbv, acts, B)
        Z = acts[aoff[L - 1]:aoff[L - 1] + B * K].reshape((B, K))
        D = d0[:B * K].reshape((B, K))
        tl, tc = _loss_delta(Z, ybv, loss, D, inv_b)
        done += 1
        total += tl
        correct += tc
        if not math.isfinite(tl) or (max_loss > 0.0 and tl * inv_b > max_loss):
            stats[2] = 1.0
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
                gemm(False, False, 1.0, D, W, 0.0, Dn)
                if has_bias:
                    _act_grad_colsum(Dn, A, act, gbn)
                else:
                    _act_grad(Dn, A, act)
            if use_mom:
                V = velocity[o0:o1].reshape((dout, din))
                gemm(True, False, 1.0, D, A, momentum, V)
                if has_bias:
                    vb = velocity[o1:o2]
                    for j in range(dout):
                        vb[j] = momentum * vb[j] + gb[j]
                _momentum_pass(params[o0:o2], velocity[o0:o2], mask[o0:o2] if has_mask else mask, has_mask,
                               lr, wd)
            elif fold_neuron_noise and noise_layer[l] != 0:
                # rank-one fold of per-neuron noise into the update GEMM: with an extra row
                # A[B, :] = 1 and D[B, i] = −c ξ_i / η, W ← β W − η [D; ·]ᵀ[A; 1] adds c ξ_i to row i
                amp = noise_sigma * lr ** (1.0 / noise_alpha)
                Df = cur[:(B + 1) * dout].reshape((B + 1, dout))
                if l == 0:
                    Af = Xb[:B + 1]
                else:
                    Af = acts[aoff[l - 1]:aoff[l - 1] + (B + 1) * din].reshape((B + 1, din))
                for j in range(din):
                    Af[B, j] = 1.0
                base = stream_base[l]
                for i in range(dout):
                    Df[B, i] = -amp * sas_draw(noise_states, base + i, noise_alpha) / lr
                gemm(True, False, -lr, Df, Af, 1.0 - lr * wd, W)
                if has_bias:
                    b = params[o1:o2]
                    for j in range(dout):
                        b[j] = (1.0 - lr * wd) * b[j] - lr * gb[j]
            else:
                gemm(True, False, -lr, D, A, 1.0 - lr * wd, W)
                if has_bias:
                    b = params[o1:o2]
                    for j in range(dout):
                        b[j] = (1.0 - lr * wd) * b[j] - lr * gb[j]
                    if has_mask:
                        _apply_mask(b, mask[o1:o2])
                if has_mask and not (noise_sigma > 0.0 and noise_layer[l] != 0):
                    _apply_mask(params[o0:o1], mask[o0:o1])
            if noise_sigma > 0.0 and noise_layer[l] != 0 and not (fold_neuron_noise and not use_mom):
                amp = noise_sigma * lr ** (1.0 / noise_alpha)
                Mw = mask[o0:o1].reshape((dout, din)) if has_mask else mask[:0].reshape((0, 0))
                if noise_kind == NOISE_NEURON:
                    _noise_neuron(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp)
                elif noise_kind == NOISE_ENTRY:
                    _noise_entry(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp, noise_scratch)
                else:
                    _noise_elliptical(W, Mw, has_mask, noise_states, stream_base[l], noise_alpha, amp)
            tmp = cur
            cur = nxt
            nxt = tmp
        if avg_flags[s] != 0:
            for j in range(params.shape[0]):
                avg_sum[j] += params[j]
    if stats[2] == 0.0 and not _all_finite(params):
        stats[2] = 1.0
    stats[0] = total
    stats[1] = correct
    return done
