"""The CPU backend for :class:`~simulations.nn.model_spec.ModelSpec` networks (convolutional or not).

:class:`ModelCPUBackend` is the ``cpu`` backend (:class:`simulations.nn.backends.cpu.CPUBackend`)
with its workspace, step chunk, evaluation and logits replaced by those below;
:func:`backend_for` gives it to :func:`simulations.nn.train.train` for a ModelSpec.

The per-step semantics are the MLP backend's (:mod:`simulations.nn.backends.base`): gather the
batch ``X[idx[s·B:(s+1)·B]]``; forward in training mode (BatchNorm on batch statistics, running
statistics updated in place, PyTorch's convention); loss and correct count, checked for divergence
before the update (a non-finite loss, or a mean loss above ``max_loss``: the update is skipped);
backward (:mod:`simulations.nn.conv_net`); then on the flat parameters

* plain SGD:  θ ← (1 − ηλ) θ − η g
* momentum:   v ← μ v + g;  v ← v + λθ;  θ ← θ − η v          (``torch.optim.SGD``)

then the injected noise σ η^{1/α} ξ on the weights of the noised layers, the rows of a conv kernel
(O, C, kh, kw) being its O filters, each of C·kh·kw entries (Wan, Barsbey, Zaidi & Şimşekli 2024,
ICML, noise per filter, per entry or elliptical), drawn by the same kernels and streams as the MLP's
(:mod:`simulations.nn.backends.cpu_noise`); then θ ← m ⊙ θ, v ← m ⊙ v; then the weight check and the
iterate average. A step runs layer by layer from Python (each layer one numba/BLAS call on
preallocated buffers), which for a convolutional network is a small part of the step's time.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulations._core.codes import NOISE_ELLIPTICAL, NOISE_ENTRY, NOISE_NEURON
from simulations.nn import conv_net
from simulations.nn.backends.base import Backend, StepConfig, StepsResult, check_workspace, chunk_batch
from simulations.nn.backends.cpu import CPUBackend
from simulations.nn.backends.cpu_dense import loss_delta
from simulations.nn.backends.cpu_noise import (
    all_finite,
    momentum_pass,
    noise_elliptical,
    noise_entry,
    noise_neuron,
    weight_check,
)
from simulations.nn.backends.pointwise import noise_amplitude
from simulations.nn.model import MLPSpec, check_spec

__all__ = ["ModelCPUBackend", "ModelWorkspace", "backend_for", "run_model_steps", "evaluate_model", "forward_model"]

_NOISE_FUNCS = {NOISE_NEURON: noise_neuron, NOISE_ELLIPTICAL: noise_elliptical}


@nb.njit(cache=True)
def _sgd_pass(w, g, m, has_mask, lr, wd):
    """θ ← ((1 − ηλ) θ − η g) ⊙ m."""
    a = 1.0 - lr * wd
    if has_mask:
        for j in range(w.shape[0]):
            w[j] = (a * w[j] - lr * g[j]) * m[j]
    else:
        for j in range(w.shape[0]):
            w[j] = a * w[j] - lr * g[j]


@nb.njit(cache=True)
def _velocity_pass(v, g, mu):
    """v ← μ v + g."""
    for j in range(v.shape[0]):
        v[j] = mu * v[j] + g[j]


@nb.njit(cache=True)
def _gather(X, y, idx, start, B, Xb, yb):
    """Xb[r] ← X[idx[start + r]], yb[r] ← y[idx[start + r]] for r < B (X and Xb flattened per row)."""
    for r in range(B):
        k = idx[start + r]
        for j in range(X.shape[1]):
            Xb[r, j] = X[k, j]
        yb[r] = y[k]


@nb.njit(cache=True)
def _accumulate(avg, x):
    for j in range(x.shape[0]):
        avg[j] += x[j]


class ModelWorkspace:
    """The buffers of a ModelSpec run: a training :class:`~simulations.nn.conv_net.Workspace` of B rows, an
    evaluation one of ``eval_batch_size`` rows, the label batch, the noise layout and the noise scratch."""

    def __init__(self, config: StepConfig, eval_batch_size: int = 1024):
        spec = config.spec
        self.config, self.spec = config, spec
        self.net = conv_net.Workspace(spec, config.batch_size, backward=True)
        self.eval = conv_net.Workspace(spec, eval_batch_size, backward=False)
        self.eval_rows = int(eval_batch_size)
        self.nbytes = self.net.nbytes + self.eval.nbytes
        self.yb = np.empty(config.batch_size, dtype=np.int32)
        self.Xb2 = self.net.X.reshape(config.batch_size, -1)
        self.codes = codes = config.codes
        self.empty_mask = np.zeros(0, dtype=np.uint8)
        self.empty_2d = np.zeros((0, 0), dtype=np.uint8)
        entries = [e for e in spec.param_layout() if e.prunable]
        # (offset, rows, row length, first stream) of every noised weight tensor
        self.noised = []
        base = 0
        for l in config.noise_layers:
            e = entries[l]
            rows = e.weight_shape[0]
            self.noised.append((e.weight_offset, rows, math.prod(e.weight_shape) // rows, base))
            base += rows
        din = max((d for _, _, d, _ in self.noised), default=0)
        if codes.noise_sigma > 0.0 and codes.noise_kind == NOISE_ENTRY:
            self.noise_scratch = np.empty((max(1, min(int(nb.config.NUMBA_NUM_THREADS), 64)), 3 * din))
        else:
            self.noise_scratch = np.empty((1, 0), dtype=np.float64)


def _noise(ws: ModelWorkspace, params, mask, states, lr) -> None:
    c = ws.codes
    amp = noise_amplitude(c.noise_sigma, lr, c.noise_alpha)
    for off, rows, din, base in ws.noised:
        W = params[off:off + rows * din].reshape(rows, din)
        M = mask[off:off + rows * din].reshape(rows, din) if c.has_mask else ws.empty_2d
        if c.noise_kind == NOISE_ENTRY:
            noise_entry(W, M, c.has_mask, states, base, c.noise_alpha, amp, ws.noise_scratch)
        else:
            _NOISE_FUNCS[c.noise_kind](W, M, c.has_mask, states, base, c.noise_alpha, amp)


def run_model_steps(ws: ModelWorkspace, config: StepConfig, bufs, X, y, idx, lrs, avg_flags) -> StepsResult:
    """``len(lrs)`` SGD steps of a ModelSpec network in place (the contract of
    :meth:`simulations.nn.backends.base.Backend.run_steps`; X is (n, *input_shape) or (n, prod(input_shape)))."""
    steps, B = chunk_batch(idx, lrs, config.batch_size)
    if steps == 0:
        return StepsResult(0, 0.0, 0, False)
    c, net = ws.codes, ws.net
    params, vel, states = bufs.params, bufs.velocity, bufs.noise_states
    mask = bufs.mask if c.has_mask else ws.empty_mask
    X2 = X.reshape(X.shape[0], -1)
    net.flat, net.buffers = params, bufs.buffers
    yb = ws.yb[:B]
    noised = c.noise_sigma > 0.0 and bool(ws.noised)
    use_mom = c.momentum > 0.0
    total, correct, done, code = 0.0, 0, 0, 0
    with np.errstate(all="ignore"):  # divergence is reported by code, never by a floating-point warning
        for s in range(steps):
            lr = float(lrs[s])
            _gather(X2, y, idx, s * B, B, ws.Xb2, ws.yb)
            logits = conv_net._forward(net, B, True)
            tl, tc = loss_delta(logits, yb, net.loss, logits[:0], 1.0)
            done += 1
            total += tl
            correct += tc
            if not math.isfinite(tl):
                code = 1
                break
            if c.max_loss > 0.0 and tl / B > c.max_loss:
                code = 2
                break
            conv_net._backward(net, B, True, logits, yb)
            g = net.grad
            if use_mom:
                _velocity_pass(vel, g, c.momentum)
                momentum_pass(params, vel, mask, c.has_mask, lr, c.weight_decay)
            else:
                _sgd_pass(params, g, mask, c.has_mask, lr, c.weight_decay)
            if noised:
                _noise(ws, params, mask, states, lr)
            if avg_flags[s] != 0:
                _accumulate(bufs.avg_sum, params)
            if c.max_weight > 0.0:
                code = int(weight_check(params, c.max_weight))
                if code != 0:
                    break
        if code == 0 and not all_finite(params):
            code = 4
    return StepsResult(done, float(total), int(correct), code != 0, code)


def _eval_chunks(ws: ModelWorkspace, params, buffers, X):
    ev = ws.eval
    ev.flat, ev.buffers = params, buffers
    n = X.shape[0]
    Xe = ev.X.reshape(ev.batch_size, -1)
    X2 = X.reshape(n, -1)
    for s in range(0, n, ws.eval_rows):
        m = min(ws.eval_rows, n - s)
        Xe[:m] = X2[s:s + m]
        yield s, m, conv_net._forward(ev, m, False)


def evaluate_model(ws: ModelWorkspace, params, buffers, X, y) -> tuple[float, int]:
    """(sum of per-sample losses, number correct) of the evaluation-mode network on (X, y)."""
    total, correct = 0.0, 0
    with np.errstate(all="ignore"):
        for s, m, z in _eval_chunks(ws, params, buffers, X):
            t, k = loss_delta(z, y[s:s + m], ws.net.loss, z[:0], 1.0)
            total, correct = total + t, correct + k
    return float(total), int(correct)


def forward_model(ws: ModelWorkspace, params, buffers, X) -> np.ndarray:
    """Evaluation-mode logits (n, K), a new host array."""
    out = np.empty((X.shape[0], ws.spec.n_classes), dtype=ws.spec.np_dtype)
    with np.errstate(all="ignore"):
        for s, m, z in _eval_chunks(ws, params, buffers, X):
            out[s:s + m] = z
    return out


class ModelCPUBackend(CPUBackend):
    """The ``cpu`` backend for ModelSpec networks (memory, threads and names as :class:`CPUBackend`)."""

    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> ModelWorkspace:
        return ModelWorkspace(config, check_workspace(config, eval_batch_size))

    def run_steps(self, ws, config, bufs, X, y, idx, lrs, avg_flags) -> StepsResult:
        return run_model_steps(ws, config, bufs, X, y, idx, lrs, avg_flags)

    def evaluate(self, ws, spec, params, X, y, buffers=None) -> tuple[float, int]:
        if X.shape[0] == 0:
            return 0.0, 0
        return evaluate_model(ws, params, buffers, X, y)

    def forward(self, ws, spec, params, X, buffers=None) -> np.ndarray:
        return forward_model(ws, params, buffers, X)

    def gradient(self, spec, params, X, y) -> tuple[float, np.ndarray]:
        # training mode (batch statistics), as a step differentiates; the running statistics are a throwaway copy
        loss, g = conv_net.loss_and_grad(spec, params, spec.init_buffers(), X, y, train=True)
        return loss, g.copy()


_MODEL_BACKENDS: dict[str, Backend] = {}


def backend_for(spec, be: Backend) -> Backend:
    """The backend that trains ``spec`` on ``be``: ``be`` itself for an MLPSpec; for a ModelSpec the
    :class:`ModelCPUBackend` when ``be`` is the CPU backend, :class:`simulations.nn.model_cuda.ModelCUDABackend`
    when it is the CUDA one (one instance per process each); any other backend is a NotImplementedError."""
    check_spec(spec)
    if not isinstance(be, Backend):
        raise TypeError(f"be must be a Backend (simulations.nn.get_backend), got {type(be).__name__}")
    if isinstance(spec, MLPSpec):
        return be
    if be.name not in ("cpu", "cuda"):
        raise NotImplementedError(f"backend {be.name!r} trains MLPSpec networks only; train a ModelSpec "
                                  "(convolutional) network with backend='cpu' or 'cuda'")
    if be.name not in _MODEL_BACKENDS:
        if be.name == "cpu":
            _MODEL_BACKENDS["cpu"] = ModelCPUBackend()
        else:
            from simulations.nn.model_cuda import ModelCUDABackend  # imports numba.cuda: only when asked

            _MODEL_BACKENDS["cuda"] = ModelCUDABackend()
    return _MODEL_BACKENDS[be.name]
