"""The CUDA backend for :class:`~simulations.nn.model_spec.ModelSpec` networks (convolutional or not).

:class:`ModelCUDABackend` is the ``cuda`` backend (:class:`simulations.nn.backends.cuda.CUDABackend`:
memory, device, names) with its workspace, step chunk, evaluation and logits replaced: a step
gathers the batch on the device (``gather_kernel``), runs the whole network forward and backward
with :func:`simulations.nn.cuda_conv_net.loss_and_grad` (training-mode BatchNorm, running
statistics updated in place), then applies the MLP backend's update, noise, averaging and weight
check kernels (:mod:`simulations.nn.backends.cuda_kernels`) to the flat parameters — so the step
is, operation by operation, the one of the CPU backend (:mod:`simulations.nn.model_backend`):
θ ← θ − η(g + λθ) or the momentum form, then σ η^{1/α} ξ on the noised layers' rows (a conv
filter is a row of C·kh·kw entries, stream j for the j-th noised row as on the CPU), then the mask.

Divergence: a non-finite loss (code 1) or a mean loss above ``max_loss`` (code 2) stops the
chunk before the update, as on the CPU; a finite loss with a non-finite gradient counts as
non-finite parameters (code 4), which the CPU reaches one step later. The loss and the correct
count are read back once per step, by the network pass's own check.
"""
from __future__ import annotations

import math

import numpy as np

from simulations.nn import cuda_conv_net as ccn
from simulations.nn.backends import cuda_kernels as mk
from simulations.nn.backends.base import StepConfig, StepsResult, check_workspace, chunk_batch
from simulations.nn.backends.cuda import CUDABackend

__all__ = ["ModelCUDABackend", "ModelCudaWorkspace"]


class ModelCudaWorkspace:
    """Device buffers of a ModelSpec run: the training and evaluation network workspaces, the batch, the noise rows."""

    def __init__(self, backend: CUDABackend, config: StepConfig, eval_batch_size: int = 1024):
        cuda = backend.cuda
        spec = config.spec
        self.config, self.spec, self.codes = config, spec, config.codes
        B, E = config.batch_size, check_workspace(config, eval_batch_size)
        self.B, self.E = B, E
        dt = spec.np_dtype
        d = int(np.prod(spec.input_shape))
        self.net = ccn.CudaConvWorkspace(spec, B, backward=True)
        self.eval = ccn.CudaConvWorkspace(spec, E, backward=False)
        self.Xb = cuda.device_array((B, d), dt)
        self.Xb4 = self.Xb.reshape((B,) + spec.input_shape)
        self.yb = cuda.device_array(B, np.int32)
        self.ctrl = cuda.device_array(3, np.int64)
        self.batch_loss = cuda.to_device(np.zeros(1))  # the loss checks run on the host: always finite here
        self.dummy = cuda.device_array(1, dt)
        self.dummy_u8 = cuda.device_array(1, np.uint8)
        self.dummy_f64 = cuda.device_array(1, np.float64)
        entries = [e for e in spec.param_layout() if e.prunable]
        rows_off, rows_len = [], []
        for l in config.noise_layers:
            e = entries[l]
            o = e.weight_shape[0]
            n_in = int(np.prod(e.weight_shape)) // o
            rows_off.append(e.weight_offset + n_in * np.arange(o, dtype=np.int64))
            rows_len.append(np.full(o, n_in, dtype=np.int64))
        if rows_off:
            self.row_off = cuda.to_device(np.concatenate(rows_off))
            self.row_len = cuda.to_device(np.concatenate(rows_len))
        else:
            self.row_off = self.row_len = None
        self.tpb1 = 64 if backend.simulator else 256
        self.tpb2 = (8, 8) if backend.simulator else (16, 16)


class ModelCUDABackend(CUDABackend):
    """The ``cuda`` backend for ModelSpec networks (see the module docstring)."""

    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> ModelCudaWorkspace:
        if not isinstance(config, StepConfig):
            raise TypeError(f"config must be a StepConfig, got {type(config).__name__}")
        return ModelCudaWorkspace(self, config, eval_batch_size)

    def run_steps(self, ws: ModelCudaWorkspace, config, bufs, X, y, idx, lrs, avg_flags) -> StepsResult:
        cuda = self.cuda
        steps, B = chunk_batch(idx, lrs, config.batch_size)
        if steps == 0:
            return StepsResult(0, 0.0, 0, False)
        c = ws.codes
        theta = bufs.params
        P = theta.shape[0]
        use_mom = c.momentum > 0.0
        vel = bufs.velocity if use_mom else ws.dummy
        mask = bufs.mask if c.has_mask else ws.dummy_u8
        avg = bufs.avg_sum if config.averaging else ws.dummy_f64
        buffers = bufs.buffers if bufs.buffers is not None and bufs.buffers.shape[0] else None
        noise_on = ws.row_off is not None and c.noise_sigma > 0.0
        idx_d = cuda.to_device(np.ascontiguousarray(idx, dtype=np.int64))
        ws.ctrl.copy_to_device(np.zeros(3, dtype=np.int64))
        t2 = ws.tpb2
        gather_grid = ((B + t2[0] - 1) // t2[0], (ws.Xb.shape[1] + t2[1] - 1) // t2[1])
        nb = (P + ws.tpb1 - 1) // ws.tpb1
        nr = 0 if ws.row_off is None else (ws.row_off.shape[0] + ws.tpb1 - 1) // ws.tpb1
        Xb4, yb = ws.Xb4[:B], ws.yb[:B]
        total, correct, done, code = 0.0, 0, 0, 0
        for s in range(steps):
            lr = float(lrs[s])
            do_avg = bool(config.averaging and avg_flags[s])
            mk.gather_kernel[gather_grid, t2](X, y, idx_d, s * B, ws.Xb[:B], ws.yb[:B])
            done += 1
            try:
                loss, grad = ccn.loss_and_grad(ws.net, theta, buffers, Xb4, yb, B, True)
            except ValueError:  # a non-finite loss or gradient (labels are checked by train)
                acc = ws.net.last_acc  # read back by loss_and_grad (no second copy)
                code = 4 if math.isfinite(acc[0]) else 1
                total += float(acc[0])
                break
            acc = ws.net.last_acc  # read back by loss_and_grad (no second copy)
            total += float(acc[0])
            correct += int(round(acc[1]))
            if c.max_loss > 0.0 and loss > c.max_loss:
                code = 2
                break
            mk.flat_update_kernel[nb, ws.tpb1](theta, grad, vel, mask, avg, lr, c.momentum, c.weight_decay,
                                               int(c.has_mask), int(use_mom), int(do_avg and not noise_on),
                                               ws.batch_loss, 1.0 / B, 0.0, ws.ctrl, 0)
            if noise_on:
                mk.row_noise_kernel[nr, ws.tpb1](theta, mask, bufs.noise_states, ws.row_off, ws.row_len,
                                                 c.noise_sigma, lr, c.noise_alpha, c.noise_kind, int(c.has_mask),
                                                 int(theta.dtype == np.float32), ws.ctrl, 0)
                if do_avg:
                    mk.add_to_kernel[nb, ws.tpb1](avg, theta, ws.ctrl, 0)
            if c.max_weight > 0.0:
                mk.weight_check_kernel[nb, ws.tpb1](theta, c.max_weight, ws.ctrl, 0)
                ctrl = ws.ctrl.copy_to_host()
                if ctrl[0]:
                    code = int(ctrl[0])
                    break
        if code == 0:
            mk.nonfinite_kernel[nb, ws.tpb1](theta, ws.ctrl)
            if ws.ctrl.copy_to_host()[2]:
                code = 4
        return StepsResult(done, total, correct, code != 0, code)

    def _rows(self, ws, X):
        return X.reshape((X.shape[0],) + ws.spec.input_shape)

    def evaluate(self, ws: ModelCudaWorkspace, spec, params, X, y, buffers=None) -> tuple[float, int]:
        n = X.shape[0]
        if n == 0:
            return 0.0, 0
        buffers = buffers if buffers is not None and buffers.shape[0] else None
        loss, acc = ccn.evaluate(ws.eval, self.to_device(params), buffers, self._rows(ws, X), y, n)
        return float(loss * n), int(round(acc * n))

    def forward(self, ws: ModelCudaWorkspace, spec, params, X, buffers=None) -> np.ndarray:
        n = X.shape[0]
        out = np.empty((n, spec.n_classes), dtype=spec.np_dtype)
        buffers = buffers if buffers is not None and buffers.shape[0] else None
        theta, Xr = self.to_device(params), self._rows(ws, X)
        for s in range(0, n, ws.E):
            m = min(ws.E, n - s)
            out[s:s + m] = ccn.forward(ws.eval, theta, buffers, Xr[s:s + m], m, False).copy_to_host()
        return out

    def gradient(self, spec, params, X, y) -> tuple[float, np.ndarray]:
        raise NotImplementedError("ModelCUDABackend.gradient: use simulations.nn.cuda_conv_net.loss_and_grad")
