"""Two-layer noise-injected ensembles on the GPU: a drop-in device version of
:func:`simulations.noise_injection.cpu.train_ensemble`.

:func:`run_train_ensemble` takes exactly the arguments of the CPU kernel (the arrays that
:func:`simulations.noise_injection.ensemble.train_ensemble` prepares after validating its inputs) and fills the
same outputs in place, with the same semantics: same model and update, same random numbers
(network k's stream replayed in parallel by jump-ahead, see
:mod:`simulations.noise_injection.cuda`), same evaluation metrics (computed on the host by
the CPU code after each chunk of ``eval_every`` steps). Results equal the CPU results up to
floating-point rounding: the device contracts a·b + c into fused multiply-adds and reduces
f = (1/n) Σ_j a_j h_j as a tree, so trajectories agree to ~1e-12 relative per step
(chaotic or heavy-tailed runs drift apart slowly, like any two float implementations).

Use it through ``two_layer.train_ensemble(..., backend="cuda")`` once that option exists
(a one-line dispatch to :func:`run_train_ensemble`), or call :func:`train_ensemble` here, which
does exactly that without editing the CPU module.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.device import require_cuda, simulator_enabled

__all__ = ["run_train_ensemble", "stream_layout", "train_ensemble"]


def stream_layout(width: int, d: int, c: int, batch: int, noise_type: int, sigma: float, noise_hidden: bool,
                  noise_out: bool, teacher: bool, label_noise: float) -> dict:
    """Outputs of network k's xoroshiro128+ stream consumed per step, by part (CPU draw order).

    A uniform is one output; an SαS, stable or normal draw is two (CMS: U and −log U;
    Box–Muller: two uniforms). Returns S (minibatch), Hh (hidden noise), Ho (output noise),
    T = S + Hh + Ho and the per-neuron span ``hid_span`` of the hidden noise of one neuron.
    """
    n = int(width)
    S = batch * (2 * d + (2 * c if label_noise > 0.0 else 0)) if teacher else batch
    on = sigma > 0.0
    if on and noise_hidden:
        if noise_type == 0:  # neuron
            Hh, span = 2 * n, 2
        elif noise_type == 1:  # entry, (i, j) row-major
            Hh, span = 2 * d * n, 2
        else:  # elliptical: factor + d normals per neuron
            Hh, span = n * (2 + 2 * d), 2 + 2 * d
    else:
        Hh, span = 0, 0
    Ho = 2 * n * c if (on and noise_out) else 0
    return {"S": S, "Hh": Hh, "Ho": Ho, "T": S + Hh + Ho, "hid_span": span}


def _prepare_streams(states, widths, d, c, batch, noise_type, sigmas, noise_hidden, noise_out, teacher, label_noise):
    """Per network the jump matrices, and the starting states of the hidden-noise stream copies (one
    per neuron, or one per input row for entry noise) and of the output-noise copies (one per neuron)."""
    from simulations.stable import jumps as jk

    K = widths.shape[0]
    ntot = int(widths.sum())
    jumps = np.zeros((K, 4, 128, 2), dtype=np.uint64)
    entry = noise_type == 1
    hid = np.zeros((max(K * d if entry else ntot, 1), 2), dtype=np.uint64)
    out = np.zeros((max(ntot, 1), 2), dtype=np.uint64)
    cache: dict[int, np.ndarray] = {}

    def mat(m):
        m = int(m)
        if m not in cache:
            cache[m] = jk.power(m)
        return cache[m]

    no = 0
    for k in range(K):
        n = int(widths[k])
        lay = stream_layout(n, d, c, batch, noise_type, float(sigmas[k]), noise_hidden, noise_out, teacher,
                            label_noise)
        S, Hh, T = lay["S"], lay["Hh"], lay["T"]
        jumps[k, 0] = mat(T - S)
        if Hh:
            st = states[k:k + 1].copy()
            jk.advance(st, 0, S, jk.POWERS)
            if entry:  # one stream copy per input row i, at S + 2·i·n; n draws per step
                jumps[k, 1] = mat(T - 2 * n)
                _fill_chain(st, mat(2 * n), hid, k * d, d)
            else:  # one per neuron j, at S + j·span
                jumps[k, 1] = mat(T - lay["hid_span"])
                _fill_chain(st, mat(lay["hid_span"]), hid, no, n)
        if lay["Ho"]:
            jumps[k, 3] = mat(T - 2 * c)
            st = states[k:k + 1].copy()
            jk.advance(st, 0, S + Hh, jk.POWERS)
            _fill_chain(st, mat(2 * c), out, no, n)
        no += n
    return jumps, hid, out


def _fill_chain(st, M, dest, start, n):
    from simulations.stable.jumps import chain

    chain(st[0, 0], st[0, 1], M, dest, start, n)


def run_train_ensemble(
    W, A, woff, aoff, widths, alphas, sigmas, lrs, lrs_a, states,
    d, c, noise_type, act, loss, train_a, noise_hidden, noise_out,
    X, Y, TW, TA, t_act, label_noise,
    Xe, Ye, batch, steps, eval_every, kappas, prune_eps,
    hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean, hist_norm_max,
    status, fail_step,
    *, threads_per_block: int | None = None,
):
    """Device version of :func:`simulations.noise_injection.cpu.train_ensemble` (same arguments, same
    outputs filled in place; ``W``, ``A``, ``states`` are host arrays, W and A are updated in place).

    Raises :class:`simulations._core.device.CudaUnavailableError` without a device (or simulator).
    """
    cuda = require_cuda()
    from simulations.noise_injection import cuda as gk

    if threads_per_block is None:  # one thread per neuron up to 128 (the simulator runs whole warps)
        threads_per_block = 32 if simulator_enabled() else min(128, max(32, 1 << (int(widths.max()) - 1).bit_length()))
    NT = int(threads_per_block)
    if NT < 1 or NT & (NT - 1) or NT > 1024:
        raise ValueError(f"threads_per_block must be a power of two in [1, 1024], got {NT}")
    K = int(widths.shape[0])
    teacher = X.shape[0] == 0
    jumps, hid, out = _prepare_streams(states, widths, d, c, batch, noise_type, sigmas, noise_hidden, noise_out,
                                       teacher, label_noise)
    noff = np.zeros(K, dtype=np.int64)
    noff[1:] = np.cumsum(widths[:-1])
    ntot = int(widths.sum())
    dev = {name: cuda.to_device(np.ascontiguousarray(a)) for name, a in dict(
        W=W, A=A, woff=woff, aoff=aoff, noff=noff, widths=widths, sigmas=sigmas, alphas=alphas, lrs=lrs,
        lrs_a=lrs_a, main=states.copy(), hid=hid, out=out, jumps=jumps, X=X, Y=Y, TW=TW, TA=TA).items()}
    idxs = cuda.device_array((K, batch), np.int64)
    Xs = cuda.device_array((K, batch, d) if teacher else (1, 1, 1), np.float64)
    Ys = cuda.device_array((K, batch, c) if teacher else (1, 1, 1), np.float64)
    Zs = cuda.device_array(ntot * batch, np.float64)
    Hs = cuda.device_array(ntot * batch, np.float64)
    Fs = cuda.device_array((K, batch, c), np.float64)
    Ls = cuda.device_array((K, batch), np.float64)
    status[:] = 0
    fail_step[:] = -1
    st_d = cuda.to_device(status)
    fs_d = cuda.to_device(fail_step)
    e = 0
    for t0 in range(0, steps, eval_every):
        t1 = min(t0 + eval_every, steps)
        run_loss = cuda.to_device(np.zeros(K))
        run_count = cuda.to_device(np.zeros(K, dtype=np.int64))
        gk.two_layer_steps_kernel[K, NT](
            dev["W"], dev["A"], dev["woff"], dev["aoff"], dev["noff"], dev["widths"], dev["sigmas"], dev["alphas"],
            dev["lrs"], dev["lrs_a"], dev["main"], dev["hid"], dev["out"], dev["jumps"],
            d, c, noise_type, act, loss, bool(train_a), bool(noise_hidden), bool(noise_out),
            dev["X"], dev["Y"], dev["TW"], dev["TA"], t_act, float(label_noise),
            batch, t0, t1, idxs, Xs, Ys, Zs, Hs, Fs, Ls, run_loss, run_count, st_d, fs_d)
        dev["W"].copy_to_host(W)
        dev["A"].copy_to_host(A)
        st_d.copy_to_host(status)
        fs_d.copy_to_host(fail_step)
        gk.record_all(W, A, woff, aoff, widths, d, c, act, loss, Xe, Ye, kappas, prune_eps, e,
                      run_loss.copy_to_host(), run_count.copy_to_host(), status, fail_step, t1 - 1,
                      hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean,
                      hist_norm_max)
        st_d.copy_to_device(status)
        fs_d.copy_to_device(fail_step)
        e += 1


def train_ensemble(*args: Any, **kwargs: Any):
    """:func:`simulations.noise_injection.ensemble.train_ensemble` with ``backend="cuda"`` (same signature and result)."""
    from simulations.noise_injection import ensemble as tl

    require_cuda()
    kwargs.pop("num_threads", None)
    kwargs["backend"] = "cuda"
    return tl.train_ensemble(*args, **kwargs)
