"""The ``cuda`` backend of the neural core: numba.cuda kernels, data and parameters resident on the GPU.

Selected with ``train(..., backend="cuda")`` (or :func:`simulations.nn.backends.get_backend`).
It implements :class:`simulations.nn.backends.base.Backend` with the same step semantics as the
CPU backend (see :mod:`simulations.nn.backends.cuda_kernels` for the update and the noise streams):

* forward: per layer one tiled GEMM Z = A Wᵀ with the bias and the activation fused into its
  epilogue (:mod:`simulations.nn.backends.cuda_dense`);
* loss: softmax cross-entropy (or squared loss) with its gradient, loss sum and accuracy
  accumulated on the device;
* backward: dW = dZᵀ A with the bias gradient db = Σ_batch dZ fused, and
  dZ_prev = (dZ W) ⊙ φ'(Z_prev) with the derivative read from the stored activations (two GEMMs
  per layer);
* update: one fused kernel over the flat parameter vector (weight decay, momentum, step,
  mask, divergence check, iterate averaging) and one kernel for the α-stable noise with the
  xoroshiro128+ streams of the CPU backend (same seeds ⇒ same draws).

Nothing is allocated per step; per step the host only launches kernels (no synchronisation;
divergence is flagged on the device and read once per chunk).

Construction raises :class:`simulations._core.device.CudaUnavailableError` (a ``RuntimeError``)
when there is no CUDA device and the simulator (``NUMBA_ENABLE_CUDASIM=1``) is not enabled.
"""
from __future__ import annotations

import numpy as np

from simulations._core.codes import ACT_IDENTITY
from simulations._core.device import (
    check_device_array,
    device_name,
    is_device_array,
    require_cuda,
    simulator_enabled,
)
from simulations._core.validation import check_array
from simulations.nn.backends import cuda_dense as dk
from simulations.nn.backends import cuda_kernels as mk
from simulations.nn.backends.base import Backend, RunBuffers, StepConfig, StepsResult, check_workspace
from simulations.nn.model import MLPSpec, Params

__all__ = ["CUDABackend", "CudaWorkspace"]


class CudaWorkspace:
    """Device buffers of one run: batch, activations, deltas, gradient, noise row table, counters."""

    def __init__(self, backend: CUDABackend, config: StepConfig, eval_batch_size: int = 1024):
        cuda = backend.cuda
        spec = config.spec
        self.config = config
        self.codes = config.codes
        self.spec = spec
        self.dtype = spec.np_dtype
        E = check_workspace(config, eval_batch_size)
        B = config.batch_size
        self.B, self.E = B, E
        sz = spec.sizes
        L = spec.n_layers
        dt = self.dtype
        self.Xb = cuda.device_array((B, sz[0]), dt)
        self.yb = cuda.device_array(B, np.int32)
        self.H = [cuda.device_array((B, sz[l + 1]), dt) for l in range(L)]  # activations a_1..a_L (a_L = logits)
        self.D = [cuda.device_array((B, sz[l + 1]), dt) for l in range(L)]  # deltas dL/dz_l
        self.HE = [cuda.device_array((E, sz[l + 1]), dt) for l in range(L)]
        self.grad = cuda.device_array(spec.n_params, dt)
        self.acc = cuda.device_array(2, np.float64)
        self.ctrl = cuda.device_array(3, np.int64)  # [divergence code, step, non-finite parameters]
        self.eval_bl = cuda.device_array(1, np.float64)
        self.no_rows = cuda.device_array((0, sz[-1]), dt)
        self.dummy = cuda.device_array(1, dt)
        self.dummy2 = cuda.device_array((1, 1), dt)
        self.dummy_u8 = cuda.device_array(1, np.uint8)
        self.dummy_f64 = cuda.device_array(1, np.float64)
        self.dummy_states = cuda.device_array((1, 2), np.uint64)
        off = spec.offsets
        rows_off, rows_len = [], []
        for l in config.noise_layers:
            o, i = spec.weight_shapes[l]
            rows_off.append(off[l, 0] + i * np.arange(o, dtype=np.int64))
            rows_len.append(np.full(o, i, dtype=np.int64))
        if rows_off:
            self.row_off = cuda.to_device(np.concatenate(rows_off))
            self.row_len = cuda.to_device(np.concatenate(rows_len))
        else:
            self.row_off = self.row_len = None
        self._views_key = None
        self._views = None
        big = 64 if backend.simulator else 256
        self.tpb1 = big
        self.tpb2 = (8, 8) if backend.simulator else (16, 16)

    # per-parameter-array views (W_l (out, in), b_l) of a flat device vector, cached per array
    def views(self, flat):
        if flat is not self._views_key:  # keeps a reference: identity cannot be recycled
            off = self.spec.offsets
            Ws, bs = [], []
            for l, shape in enumerate(self.spec.weight_shapes):
                Ws.append(flat[int(off[l, 0]):int(off[l, 1])].reshape(shape))
                bs.append(flat[int(off[l, 1]):int(off[l, 2])] if self.spec.bias else None)
            self._views_key, self._views = flat, (Ws, bs)
        return self._views


class CUDABackend(Backend):
    """numba.cuda implementation of :class:`~simulations.nn.backends.base.Backend` (see the module docstring)."""

    name = "cuda"

    def __init__(self):
        self.cuda = require_cuda()
        self.simulator = simulator_enabled()
        self.device = device_name()

    # --- memory ------------------------------------------------------------------------
    def to_device(self, arr):
        if is_device_array(arr):
            return arr
        return self.cuda.to_device(np.ascontiguousarray(arr))

    def host_view(self, arr) -> np.ndarray:
        return self.to_host(arr)

    def to_host(self, arr) -> np.ndarray:
        if is_device_array(arr):
            return (arr if hasattr(arr, "copy_to_host") else self.cuda.as_cuda_array(arr)).copy_to_host()
        return np.array(arr, copy=True)

    def empty(self, shape, dtype):
        return self.cuda.device_array(shape, np.dtype(dtype))

    # --- compute -----------------------------------------------------------------------
    def workspace(self, config: StepConfig, eval_batch_size: int = 1024) -> CudaWorkspace:
        if not isinstance(config, StepConfig):
            raise TypeError(f"config must be a StepConfig, got {type(config).__name__}")
        return CudaWorkspace(self, config, eval_batch_size)

    def _check_data(self, spec: MLPSpec, X, y, n_min: int = 1):
        X = check_device_array("X", X, spec.np_dtype, ndim=2)
        if X.shape[1] != spec.sizes[0]:
            raise ValueError(f"X must have {spec.sizes[0]} columns (spec.sizes[0]), got {X.shape[1]}")
        if not is_device_array(y):
            raise TypeError(f"y must be a CUDA device array (copy it with backend.to_device), got {type(y).__name__}")
        yd = y if hasattr(y, "copy_to_host") else self.cuda.as_cuda_array(y)
        if np.dtype(yd.dtype) not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise TypeError(f"y must be an int32 or int64 device array, got dtype {np.dtype(yd.dtype).name}")
        if yd.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {tuple(yd.shape)}")
        if X.shape[0] < n_min:
            raise ValueError(f"X must have at least {n_min} rows, got {X.shape[0]}")
        return X, yd

    def _forward(self, ws: CudaWorkspace, theta, A, Hs):
        spec = ws.spec
        Ws, bs = ws.views(theta)
        gemm = dk.gemm_kernel(ws.dtype)
        act = ws.codes.act
        n = A.shape[0]
        for l in range(spec.n_layers):
            out = Hs[l] if Hs[l].shape[0] == n else Hs[l][:n]
            grid, block = dk.gemm_grid(n, out.shape[1])
            has_b = bs[l] is not None
            gemm[grid, block](A, Ws[l], out, bs[l] if has_b else ws.dummy, ws.dummy2, 0, 1, int(has_b),
                              act if l < spec.n_layers - 1 else ACT_IDENTITY, 0, ACT_IDENTITY, 0)
            A = out
        return A

    def _loss(self, ws, Z, y, dZ, grad_scale, batch_loss, s):
        n = y.shape[0]
        mk.loss_stats_kernel[(n + ws.tpb1 - 1) // ws.tpb1, ws.tpb1](Z, y, dZ, grad_scale, ws.codes.loss, ws.acc,
                                                                    batch_loss, ws.ctrl, s)

    def _backward(self, ws: CudaWorkspace, theta, A0, n):
        """Deltas already in ws.D[L-1]; writes the flat gradient ws.grad (W and b parts)."""
        spec = ws.spec
        Ws, _ = ws.views(theta)
        gWs, gbs = self._grad_views(ws)
        gemm = dk.gemm_kernel(ws.dtype)
        act = ws.codes.act
        for l in range(spec.n_layers - 1, -1, -1):
            D = ws.D[l] if ws.D[l].shape[0] == n else ws.D[l][:n]
            Aprev = A0 if l == 0 else (ws.H[l - 1] if ws.H[l - 1].shape[0] == n else ws.H[l - 1][:n])
            o, i = spec.weight_shapes[l]
            has_b = gbs[l] is not None
            # dW = dZᵀ A_prev, with db = Σ_batch dZ (row sums of dZᵀ) fused
            grid, block = dk.gemm_grid(o, i)
            gemm[grid, block](D, Aprev, gWs[l], gbs[l] if has_b else ws.dummy, ws.dummy2, 1, 0, 0, ACT_IDENTITY, 0,
                              ACT_IDENTITY, int(has_b))
            if l > 0:
                # dZ_prev = (dZ W) ⊙ φ'(Z_prev), the derivative read from A_prev = φ(Z_prev)
                Dp = ws.D[l - 1] if ws.D[l - 1].shape[0] == n else ws.D[l - 1][:n]
                grid, block = dk.gemm_grid(n, i)
                gemm[grid, block](D, Ws[l], Dp, ws.dummy, Aprev, 0, 0, 0, ACT_IDENTITY, 0, act, 0)

    def _grad_views(self, ws):
        if getattr(ws, "_gviews", None) is None:
            off = ws.spec.offsets
            g = ws.grad
            ws._gviews = (
                [g[int(off[l, 0]):int(off[l, 1])].reshape(sh) for l, sh in enumerate(ws.spec.weight_shapes)],
                [g[int(off[l, 1]):int(off[l, 2])] if ws.spec.bias else None for l in range(ws.spec.n_layers)],
            )
        return ws._gviews

    def run_steps(self, ws: CudaWorkspace, config: StepConfig, bufs: RunBuffers, X, y, idx, lrs, avg_flags
                  ) -> StepsResult:
        cuda = self.cuda
        spec = config.spec
        if not isinstance(ws, CudaWorkspace):
            raise TypeError(f"ws must be a CudaWorkspace from CUDABackend.workspace, got {type(ws).__name__}")
        X, y = self._check_data(spec, X, y)
        P = spec.n_params
        theta = check_device_array("params", bufs.params, spec.np_dtype, shape=(P,))
        use_mom = config.momentum > 0.0
        vel = check_device_array("velocity", bufs.velocity, spec.np_dtype, shape=(P,)) if use_mom else ws.dummy
        mask = check_device_array("mask", bufs.mask, np.uint8, shape=(P,)) if config.has_mask else ws.dummy_u8
        avg = check_device_array("avg_sum", bufs.avg_sum, np.float64, shape=(P,)) if config.averaging else ws.dummy_f64
        noise_on = ws.row_off is not None
        if noise_on:
            states = check_device_array("noise_states", bufs.noise_states, np.uint64,
                                        shape=(config.n_noise_streams, 2))
        lrs = check_array("lrs", lrs, ndim=1, dtype=np.float64)
        steps = lrs.shape[0]
        avg_flags = np.asarray(avg_flags, dtype=np.uint8).reshape(-1)
        if avg_flags.shape[0] != steps:
            raise ValueError(f"avg_flags must have length {steps} (len(lrs)), got {avg_flags.shape[0]}")
        B = ws.B
        if is_device_array(idx):
            idx_d = check_device_array("idx", idx, np.int64, ndim=1)
        else:
            idx_h = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
            if idx_h.size and (idx_h.min() < 0 or idx_h.max() >= X.shape[0]):
                raise ValueError(f"idx must contain row indices in [0, {X.shape[0] - 1}]")
            idx_d = cuda.to_device(idx_h)
        if idx_d.shape[0] < steps * B:
            raise ValueError(f"idx must have at least len(lrs)*batch_size = {steps * B} entries, got {idx_d.shape[0]}")
        ws.acc.copy_to_device(np.zeros(2))
        ws.ctrl.copy_to_device(np.zeros(3, dtype=np.int64))
        batch_loss = cuda.to_device(np.zeros(max(steps, 1)))  # once per chunk
        gemm_dt = ws.dtype.type
        grad_scale = gemm_dt(1.0 / B)
        t2 = ws.tpb2
        gather_grid = ((B + t2[0] - 1) // t2[0], (spec.sizes[0] + t2[1] - 1) // t2[1])
        nb = (P + ws.tpb1 - 1) // ws.tpb1
        c = ws.codes
        if noise_on:
            n_rows = ws.row_off.shape[0]
            nr = (n_rows + ws.tpb1 - 1) // ws.tpb1
        mu, wd, hm, max_loss, max_weight = c.momentum, c.weight_decay, int(c.has_mask), c.max_loss, c.max_weight
        for s in range(steps):
            lr = float(lrs[s])
            do_avg = bool(config.averaging and avg_flags[s])
            mk.gather_kernel[gather_grid, t2](X, y, idx_d, s * B, ws.Xb, ws.yb)
            Z = self._forward(ws, theta, ws.Xb, ws.H)
            self._loss(ws, Z, ws.yb, ws.D[-1], grad_scale, batch_loss, s)
            self._backward(ws, theta, ws.Xb, B)
            mk.flat_update_kernel[nb, ws.tpb1](theta, ws.grad, vel, mask, avg, lr, mu, wd, hm, int(use_mom),
                                               int(do_avg and not noise_on), batch_loss, 1.0 / B, max_loss,
                                               ws.ctrl, s)
            if noise_on:
                mk.row_noise_kernel[nr, ws.tpb1](theta, mask, states, ws.row_off, ws.row_len, c.noise_sigma, lr,
                                                 c.noise_alpha, c.noise_kind, hm, int(theta.dtype == np.float32),
                                                 ws.ctrl, s)
                if do_avg:
                    mk.add_to_kernel[nb, ws.tpb1](avg, theta, ws.ctrl, s)
            if max_weight > 0.0:
                mk.weight_check_kernel[nb, ws.tpb1](theta, max_weight, ws.ctrl, s)
        if steps:
            mk.nonfinite_kernel[nb, ws.tpb1](theta, ws.ctrl)
        acc = ws.acc.copy_to_host()
        ctrl = ws.ctrl.copy_to_host()
        diverged = bool(ctrl[0] or ctrl[2])
        n_done = int(ctrl[1]) + 1 if ctrl[0] else steps
        reason = int(ctrl[0]) if ctrl[0] else (4 if ctrl[2] else 0)
        return StepsResult(n_done=n_done, loss_sum=float(acc[0]), correct=int(round(acc[1])), diverged=diverged,
                           reason=reason)

    def _params_device(self, spec: MLPSpec, params):
        if isinstance(params, Params):
            if params.spec != spec:
                raise ValueError("params.spec does not match spec")
            return self.cuda.to_device(params.flat)
        if is_device_array(params):
            return check_device_array("params", params, spec.np_dtype, shape=(spec.n_params,))
        arr = check_array("params", params, ndim=1, dtype=spec.np_dtype)
        if arr.shape[0] != spec.n_params:
            raise ValueError(f"params must have {spec.n_params} entries, got {arr.shape[0]}")
        return self.cuda.to_device(np.ascontiguousarray(arr))

    def evaluate(self, ws: CudaWorkspace, spec: MLPSpec, params, X, y, buffers=None) -> tuple[float, int]:
        theta = self._params_device(spec, params)
        X, y = self._check_data(spec, X, y, n_min=0)
        ws.acc.copy_to_device(np.zeros(2))
        ws.ctrl.copy_to_device(np.zeros(3, dtype=np.int64))
        for a in range(0, X.shape[0], ws.E):
            b = min(a + ws.E, X.shape[0])
            Z = self._forward(ws, theta, X[a:b], ws.HE)
            self._loss(ws, Z, y[a:b], ws.no_rows, 0.0, ws.eval_bl, 0)
        acc = ws.acc.copy_to_host()
        return float(acc[0]), int(round(acc[1]))

    def forward(self, ws: CudaWorkspace, spec: MLPSpec, params, X, buffers=None) -> np.ndarray:
        theta = self._params_device(spec, params)
        X = check_device_array("X", self.to_device(X) if not is_device_array(X) else X, spec.np_dtype, ndim=2)
        out = np.empty((X.shape[0], spec.n_classes), dtype=spec.np_dtype)
        for a in range(0, X.shape[0], ws.E):
            b = min(a + ws.E, X.shape[0])
            out[a:b] = self._forward(ws, theta, X[a:b], ws.HE).copy_to_host()
        return out

    def gradient(self, spec: MLPSpec, params, X, y) -> tuple[float, np.ndarray]:
        """(mean loss, flat gradient) on one batch; host or device arrays in, host arrays out."""
        if not isinstance(spec, MLPSpec):
            raise TypeError(f"spec must be an MLPSpec, got {type(spec).__name__}")
        Xh = X if is_device_array(X) else check_array("X", X, ndim=2, dtype=spec.np_dtype)
        yh = y if is_device_array(y) else np.ascontiguousarray(check_array("y", y, ndim=1, dtype=np.int64), np.int32)
        Xd, yd = self._check_data(spec, self.to_device(Xh), self.to_device(yh))
        n = Xd.shape[0]
        ws = self.workspace(StepConfig(spec, n), eval_batch_size=1)
        theta = self._params_device(spec, params)
        ws.acc.copy_to_device(np.zeros(2))
        ws.ctrl.copy_to_device(np.zeros(3, dtype=np.int64))
        Z = self._forward(ws, theta, Xd, ws.H)
        self._loss(ws, Z, yd, ws.D[-1], spec.np_dtype.type(1.0 / n), ws.eval_bl, 0)
        self._backward(ws, theta, Xd, n)
        return float(ws.acc.copy_to_host()[0]) / n, ws.grad.copy_to_host()

    def __repr__(self) -> str:
        return f"CUDABackend(device={self.device!r})"
