"""The ``cpu`` backend of the neural core: numba kernels around BLAS, every buffer allocated once per run.

:class:`CPUBackend` implements :class:`simulations.nn.backends.base.Backend` on numpy arrays
(device arrays are host arrays: no copies). A run's buffers (batch, activations, deltas,
bias-gradient scratch) live in a :class:`Workspace`; a chunk of steps is one call of
:func:`simulations.nn.backends.cpu_kernels.train_steps_for` (the training chunk); evaluation and logits loop
over chunks here, calling the forward pass and loss of :mod:`simulations.nn.backends.cpu_dense`. Threads: BLAS and numba run with the count of
:meth:`CPUBackend.threads` (:func:`simulations._core.threads.blas_threads`; default 1).
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np

from simulations._core.codes import NOISE_ENTRY, NOISE_NEURON
from simulations._core.threads import blas_threads
from simulations.nn.backends import cpu_dense as dense
from simulations.nn.backends.base import Backend, StepConfig, StepsResult, check_workspace, chunk_batch
from simulations.nn.backends.cpu_kernels import train_steps_for

__all__ = ["CPUBackend", "Workspace"]


def _aoff(sizes: np.ndarray, rows: int) -> np.ndarray:
    """Start of each layer's activation block (rows × d_l) in the flat activation buffer."""
    widths = sizes[1:].astype(np.int64) * rows
    return np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)


class _Layout:
    def __init__(self, spec, rows: int):
        self.spec = spec
        self.sizes = np.asarray(spec.sizes, dtype=np.int64)
        self.offsets = spec.offsets
        self.rows = int(rows)
        self.aoff = _aoff(self.sizes, self.rows)
        dt = spec.np_dtype
        self.acts = np.empty(int(self.aoff[-1]), dtype=dt)
        wmax = int(self.sizes.max())
        self.d0 = np.empty(self.rows * wmax, dtype=dt)
        self.d1 = np.empty(self.rows * wmax, dtype=dt)
        codes = StepConfig(spec, 1).codes
        self.act = codes.act
        self.loss = codes.loss
        self.has_bias = codes.has_bias


def _logit_chunks(lay: _Layout, params: np.ndarray, X: np.ndarray):
    """``(start, logits)`` of every chunk of ``lay.rows`` rows of X (logits: a view of the activation buffer).

    A loop here, not a compiled one: it calls the forward pass and the loss that training has compiled for
    the same types already, so evaluation compiles nothing more on a cold start (a compiled evaluation
    loop cost ≈ 0.5 s of numba typing of its own)."""
    L = lay.sizes.shape[0] - 1
    K = int(lay.sizes[L])
    off = int(lay.aoff[L - 1])
    for start in range(0, X.shape[0], lay.rows):
        m = min(lay.rows, X.shape[0] - start)
        dense.forward_into(lay.sizes, lay.offsets, lay.aoff, lay.act, lay.has_bias, params, X[start:start + m],
                           lay.acts, m)
        yield start, lay.acts[off:off + m * K].reshape((m, K))


class Workspace:
    """Per-run buffers: batch, activations (train and eval), deltas, bias-gradient scratch."""

    def __init__(self, config, eval_batch_size: int = 1024):
        eval_batch_size = check_workspace(config, eval_batch_size)
        spec = config.spec
        self.config = config
        self.spec = spec
        dt = spec.np_dtype
        B = config.batch_size
        self.train = _Layout(spec, B + 1)  # spare row for the rank-one noise fold
        self.eval = _Layout(spec, eval_batch_size)
        self.eval.d0 = self.eval.d1 = np.empty(0, dtype=dt)
        self.Xb = np.empty((B + 1, spec.sizes[0]), dtype=dt)
        self.yb = np.empty(B, dtype=np.int32)
        self.gb = np.empty(int(max(spec.sizes)), dtype=dt)
        self.gbn = np.empty(int(max(spec.sizes)), dtype=dt)
        self.stats = np.zeros(3, dtype=np.float64)
        L = spec.n_layers
        self.noise_layer = np.zeros(L, dtype=np.uint8)
        self.stream_base = np.zeros(L, dtype=np.int64)
        base = 0
        for l in config.noise_layers:
            self.noise_layer[l] = 1
            self.stream_base[l] = base
            base += spec.sizes[l + 1]
        self.codes = codes = config.codes
        self.empty_mask = np.zeros(0, dtype=np.uint8)
        # block-sampler scratch: per-entry noise, one row of 3 × (widest noised fan-in) per possible thread;
        # per-neuron noise, one row of 3 × (widest noised fan-out) (the draws folded into the update GEMM)
        if codes.noise_sigma > 0.0 and codes.noise_kind == NOISE_ENTRY:
            din = max(int(spec.sizes[l]) for l in config.noise_layers)
            self.noise_scratch = np.empty((max(1, min(int(numba.config.NUMBA_NUM_THREADS), 64)), 3 * din))
        elif codes.noise_sigma > 0.0 and codes.noise_kind == NOISE_NEURON:
            self.noise_scratch = np.empty((1, 3 * max(int(spec.sizes[l + 1]) for l in config.noise_layers)))
        else:
            self.noise_scratch = np.empty((1, 0), dtype=np.float64)


class CPUBackend(Backend):
    """numba kernels around BLAS sgemm/dgemm (scipy's OpenBLAS), all buffers preallocated."""

    name = "cpu"

    def to_device(self, arr: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(arr)

    def to_host(self, arr: Any) -> np.ndarray:
        return np.array(arr, copy=True)

    def host_view(self, arr: Any) -> np.ndarray:
        return arr

    def threads(self, n: int, quiet_blas: bool = False):
        return blas_threads(n, quiet=quiet_blas)

    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> Workspace:
        return Workspace(config, eval_batch_size)

    def run_steps(self, ws: Workspace, config, bufs, X, y, idx, lrs, avg_flags) -> StepsResult:
        lay = ws.train
        c = ws.codes
        steps, B = chunk_batch(idx, lrs, config.batch_size)
        if steps == 0:
            return StepsResult(0, 0.0, 0, False)
        mask = bufs.mask if c.has_mask else ws.empty_mask
        done = train_steps_for(c.noise_kind, c.noise_sigma, c.momentum, c.has_mask)(
            lay.sizes, lay.offsets, lay.aoff, c.act, c.loss, c.has_bias,
            bufs.params, bufs.velocity, mask, bufs.noise_states, bufs.avg_sum,
            X, y, idx, np.ascontiguousarray(lrs, dtype=np.float64), np.ascontiguousarray(avg_flags, dtype=np.uint8),
            B, c.momentum, c.weight_decay, c.has_mask,
            c.noise_alpha, c.noise_sigma, ws.noise_layer, ws.stream_base, ws.noise_scratch,
            ws.Xb, ws.yb, lay.acts, lay.d0, lay.d1, ws.gb, ws.gbn, c.max_loss, c.max_weight, ws.stats)
        code = int(ws.stats[2])
        return StepsResult(int(done), float(ws.stats[0]), int(ws.stats[1]), code != 0, code)

    def evaluate(self, ws: Workspace, spec, params, X, y, buffers=None) -> tuple[float, int]:
        lay = ws.eval
        if X.shape[0] == 0:
            return 0.0, 0
        total, correct = 0.0, 0
        for start, logits in _logit_chunks(lay, params, X):
            t, c = dense.loss_delta(logits, y[start:start + logits.shape[0]], lay.loss, logits[:0], 1.0)
            total += t
            correct += c
        return float(total), int(correct)

    def forward(self, ws: Workspace, spec, params, X, buffers=None) -> np.ndarray:
        out = np.empty((X.shape[0], spec.sizes[-1]), dtype=spec.np_dtype)
        for start, logits in _logit_chunks(ws.eval, params, X):
            out[start:start + logits.shape[0]] = logits
        return out

    def gradient(self, spec, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        n = X.shape[0]
        lay = _Layout(spec, n)
        grad = np.zeros(spec.n_params, dtype=spec.np_dtype)
        X = np.ascontiguousarray(X, dtype=spec.np_dtype)
        y = np.ascontiguousarray(y, dtype=np.int32)
        loss = dense.loss_grad_kernel(lay.sizes, lay.offsets, lay.aoff, lay.act, lay.loss, lay.has_bias,
                                      np.ascontiguousarray(params, dtype=spec.np_dtype), X, y, lay.acts, lay.d0,
                                      lay.d1, grad)
        return float(loss), grad
