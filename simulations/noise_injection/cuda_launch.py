"""Two-layer noise-injected ensembles on the GPU: the device launch of
:func:`simulations.noise_injection.ensemble.train_ensemble` (``backend="cuda"``).

:func:`run_train_ensemble` takes the :class:`~simulations.noise_injection.kernel_args.EnsembleArgs`
that the API builds for the CPU kernel (the arrays prepared after validating its inputs) and
fills the same outputs in place, with the same semantics: same model and update, same random numbers
(network k's stream replayed in parallel by jump-ahead, see
:mod:`simulations.noise_injection.cuda`), same evaluation metrics (computed on the host by
:func:`simulations.noise_injection.metrics.record_evaluation` after each chunk of ``eval_every``
steps, as for the CPU). Results equal the CPU results up to
floating-point rounding: the device contracts a·b + c into fused multiply-adds and reduces
f = (1/n) Σ_j a_j h_j as a tree, so trajectories agree to ~1e-12 relative per step
(chaotic or heavy-tailed runs drift apart slowly, like any two float implementations).
"""
from __future__ import annotations

import numpy as np

from simulations._core.codes import NOISE_ENTRY, NOISE_NEURON
from simulations._core.device import require_cuda, simulator_enabled
from simulations.noise_injection.kernel_args import EnsembleArgs
from simulations.noise_injection.metrics import record_evaluation, segments
from simulations.stable import jumps as jk

__all__ = ["run_train_ensemble", "stream_layout"]


def stream_layout(width: int, d: int, c: int, batch_size: int, noise_kind: int, sigma: float, noise_hidden: bool,
                  noise_out: bool, teacher: bool, label_noise: float) -> dict:
    """Outputs of network k's xoroshiro128+ stream consumed per step, by part (CPU draw order).

    A uniform is one output; an SαS, stable or normal draw is two (CMS: U and −log U;
    Box–Muller: two uniforms). Returns S (minibatch), Hh (hidden noise), Ho (output noise),
    T = S + Hh + Ho and the per-neuron span ``hid_span`` of the hidden noise of one neuron.
    """
    n = int(width)
    S = batch_size * (2 * d + (2 * c if label_noise > 0.0 else 0)) if teacher else batch_size
    on = sigma > 0.0
    if on and noise_hidden:
        if noise_kind == NOISE_NEURON:
            Hh, span = 2 * n, 2
        elif noise_kind == NOISE_ENTRY:  # (i, j) row-major
            Hh, span = 2 * d * n, 2
        else:  # elliptical: factor + d normals per neuron
            Hh, span = n * (2 + 2 * d), 2 + 2 * d
    else:
        Hh, span = 0, 0
    Ho = 2 * n * c if (on and noise_out) else 0
    return {"S": S, "Hh": Hh, "Ho": Ho, "T": S + Hh + Ho, "hid_span": span}


def _prepare_streams(states, widths, d, c, batch_size, noise_kind, sigmas, noise_hidden, noise_out, teacher,
                     label_noise):
    """Per network the jump matrices, and the starting states of the hidden-noise stream copies (one
    per neuron, or one per input row for entry noise) and of the output-noise copies (one per neuron)."""
    K = widths.shape[0]
    ntot = int(widths.sum())
    jumps = np.zeros((K, 4, 128, 2), dtype=np.uint64)
    entry = noise_kind == NOISE_ENTRY
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
        lay = stream_layout(n, d, c, batch_size, noise_kind, float(sigmas[k]), noise_hidden, noise_out, teacher,
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
    jk.chain(st[0, 0], st[0, 1], M, dest, start, n)


def run_train_ensemble(args: EnsembleArgs, *, threads_per_block: int | None = None) -> None:
    """Device version of :func:`simulations.noise_injection.cpu.train_networks` (same arguments, same
    outputs filled in place; ``W``, ``A``, ``states`` are host arrays, W and A are updated in place).

    Raises :class:`simulations._core.device.CudaUnavailableError` without a device (or simulator).
    """
    cuda = require_cuda()
    from simulations.noise_injection import cuda as gk

    a = args
    if threads_per_block is None:  # one thread per neuron up to 128 (the simulator runs whole warps)
        threads_per_block = 32 if simulator_enabled() else min(128, max(32, 1 << (int(a.widths.max()) - 1).bit_length()))
    NT = int(threads_per_block)
    if NT < 1 or NT & (NT - 1) or NT > 1024:
        raise ValueError(f"threads_per_block must be a power of two in [1, 1024], got {NT}")

    K, d, c, b = int(a.widths.shape[0]), a.d, a.c, a.batch_size
    teacher = a.X.shape[0] == 0
    jumps, hid, out = _prepare_streams(a.states, a.widths, d, c, b, a.noise_kind, a.sigmas, a.noise_hidden,
                                       a.noise_out, teacher, a.label_noise)
    noff = np.zeros(K, dtype=np.int64)
    noff[1:] = np.cumsum(a.widths[:-1])
    ntot = int(a.widths.sum())
    host = dict(W=a.W, A=a.A, woff=a.woff, aoff=a.aoff, noff=noff, widths=a.widths, sigmas=a.sigmas, alphas=a.alphas,
                lrs=a.lrs, lrs_second=a.lrs_second, main_states=a.states.copy(), hid_states=hid, out_states=out,
                jumps=jumps, X=a.X, Y=a.Y, TW=a.TW, TA=a.TA)
    dev = {name: cuda.to_device(np.ascontiguousarray(v)) for name, v in host.items()}
    dev.update(
        d=d, c=c, noise_kind=a.noise_kind, act=a.act, loss=a.loss, train_second=bool(a.train_second),
        noise_hidden=bool(a.noise_hidden), noise_out=bool(a.noise_out), teacher_act=a.teacher_act,
        label_noise=float(a.label_noise), batch_size=b,
        idxs=cuda.device_array((K, b), np.int64),
        Xs=cuda.device_array((K, b, d) if teacher else (1, 1, 1), np.float64),
        Ys=cuda.device_array((K, b, c) if teacher else (1, 1, 1), np.float64),
        Zs=cuda.device_array(ntot * b, np.float64),
        Hs=cuda.device_array(ntot * b, np.float64),
        Fs=cuda.device_array((K, b, c), np.float64),
        Ls=cuda.device_array((K, b), np.float64),
    )
    a.status[:] = 0
    a.fail_step[:] = -1
    dev["status"] = cuda.to_device(a.status)
    dev["fail_step"] = cuda.to_device(a.fail_step)
    for e, (t0, t1) in enumerate(segments(a.steps, a.eval_every)):
        dev.update(t0=t0, t1=t1, run_loss=cuda.to_device(np.zeros(K)),
                   run_count=cuda.to_device(np.zeros(K, dtype=np.int64)))
        gk.two_layer_steps_kernel[K, NT](*(dev[name] for name in gk.STEP_KERNEL_ARGS))
        dev["W"].copy_to_host(a.W)
        dev["A"].copy_to_host(a.A)
        dev["status"].copy_to_host(a.status)
        dev["fail_step"].copy_to_host(a.fail_step)
        record_evaluation(a, e, dev["run_loss"].copy_to_host(), dev["run_count"].copy_to_host(), t1 - 1)
        dev["status"].copy_to_device(a.status)
        dev["fail_step"].copy_to_device(a.fail_step)
