"""GPU backend (numba.cuda) vs PyTorch CUDA, measured in the same run on the same device.

Rows (higher is better, ratio = ours / PyTorch):

* ``gemm MxKxN``: our tiled shared-memory GEMM kernel (float32, 64×64 tiles, 4×4 per thread)
  vs cuBLAS through ``torch.matmul`` (TF32 disabled, so both do true float32 FMA work);
  unit GFLOP/s, the ratio is our fraction of cuBLAS throughput.
* ``mlp <sizes> b<B>``: SGD training steps of the neural-core MLP shapes (the paper's
  784-512-512-10 b128, 784-2048-10 b100, 784-1024-1024-1024-10 b256), ReLU, softmax
  cross-entropy, lr 0.1, momentum 0.9, float32, data resident on the device (60 000 random
  MNIST-shaped samples, same minibatch indices for both). Ours: ``simulations.nn`` CUDA backend
  (``run_steps``); peer: ``torch.nn`` Linear/ReLU + ``CrossEntropyLoss`` + ``torch.optim.SGD``.
  One row also injects α-stable noise (α = 1.5, per-entry) into the hidden layers, the peer
  drawing it by Chambers–Mallows–Stuck on torch tensors. Unit: steps/s.
* ``two-layer K=1024 ...``: K = 1024 mean-field two-layer networks (width 64, d = 20, b = 32,
  tanh, squared loss, α = 1.5, σ = 0.1 noise per neuron or per entry, float64), ours
  (:mod:`simulations.noise_injection.cuda_launch`, one block per network, whole run in one kernel per
  evaluation chunk) vs the same algorithm batched over networks with ``torch.bmm`` on the GPU.
  Unit: network-steps/s (steps × K / s). Target: ratio ≥ 2.

A correctness line per group checks ours against PyTorch on the same inputs (max relative
difference of the parameters after a few noise-free steps from the same initialisation).

Needs an NVIDIA GPU, numba-cuda and a CUDA build of PyTorch. Without them it prints why and exits
0 (``--require-gpu``: exit 2), so ``make bench`` still runs on CPU-only machines.
One command on a GPU machine:  ``python bench/gpu.py --json bench/out/gpu.json``.
Numba compilation and torch/cuBLAS warm-up are excluded (one untimed call first).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, row  # noqa: E402

MLP_SHAPES = [((784, 512, 512, 10), 128), ((784, 2048, 10), 100), ((784, 1024, 1024, 1024, 10), 256)]
GEMM_SHAPES = [(4096, 4096, 4096), (2048, 2048, 2048), (256, 784, 1024), (128, 512, 512)]


def _skip(reason: str, args) -> None:
    msg = f"bench/gpu.py: SKIPPED, nothing measured: {reason}"
    print(msg)
    if args.json is not None:
        import json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"bench": "gpu", "rows": [], "skipped": reason}, indent=2))
    sys.exit(2 if args.require_gpu else 0)


def _parse(argv):
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    p.add_argument("--json", type=Path, default=None, help="write the rows as JSON to this path")
    p.add_argument("--repeat", type=int, default=None, help="timed repetitions (best is kept)")
    p.add_argument("--require-gpu", action="store_true", help="exit with status 2 when no GPU is usable")
    p.add_argument("--simulator-smoke", action="store_true",
                   help="developer check of this script on the CUDA simulator with tiny sizes (numbers meaningless)")
    return p.parse_args(argv)


def _timeit(fn, sync, repeat):
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_cms_sas(alpha, shape, gen, dtype, device):
    import torch

    v = (torch.rand(shape, generator=gen, dtype=dtype, device=device) - 0.5) * math.pi
    w = -torch.log1p(-torch.rand(shape, generator=gen, dtype=dtype, device=device))
    av = alpha * v
    return torch.sin(av) / torch.cos(v) ** (1.0 / alpha) * (torch.cos(v - av) / w) ** ((1.0 - alpha) / alpha)


# ----------------------------------------------------------------------------------- GEMM
def bench_gemm(shapes, repeat, dev, sync, rows, notes):
    import torch
    from numba import cuda

    from simulations._core.codes import ACT_IDENTITY
    from simulations.nn.backends import cuda_dense as dk

    worst = 0.0
    for M, K, N in shapes:
        g = torch.Generator(device=dev).manual_seed(0)
        a = torch.randn(M, K, device=dev, generator=g)
        b = torch.randn(K, N, device=dev, generator=g)
        c = torch.empty(M, N, device=dev)
        ad, bd, cd = (cuda.as_cuda_array(t) if dev == "cuda" else cuda.to_device(t.numpy()) for t in (a, b, c))
        dummy = cuda.device_array(1, np.float32)
        dummy2 = cuda.device_array((1, 1), np.float32)
        grid, block = dk.gemm_grid(M, N)
        kern = dk.gemm_kernel(np.float32)

        def ours():
            kern[grid, block](ad, bd, cd, dummy, dummy2, 0, 0, 0, ACT_IDENTITY, 0, ACT_IDENTITY, 0)

        def peer():
            torch.matmul(a, b, out=c)

        t_o = _timeit(ours, sync, repeat)
        t_p = _timeit(peer, sync, repeat)
        flops = 2.0 * M * N * K
        rows.append(row(f"gemm {M}x{K}x{N} fp32 (fraction of cuBLAS)", flops / t_o / 1e9, flops / t_p / 1e9,
                        "GFLOP/s"))
        ours()
        sync()
        ref = (a.double() @ b.double()).cpu().numpy()
        got = cd.copy_to_host()
        worst = max(worst, float(np.max(np.abs(got - ref)) / np.max(np.abs(ref))))
    notes["gemm check"] = f"max |ours - fp64| / max|C| = {worst:.2e} (fp32 rounding ~1e-6)"


# ----------------------------------------------------------------------------------- MLP
def bench_mlp(shapes, steps, repeat, dev, sync, rows, notes):
    import torch

    from simulations.nn import MLPSpec, NoiseConfig, get_backend, init_params
    from simulations.nn.backends import RunBuffers, StepConfig
    from simulations.stable.streams import init_states

    be = get_backend("cuda")
    N = 60000 if dev == "cuda" else 64
    rng = np.random.default_rng(0)
    Xh = rng.standard_normal((N, shapes[0][0][0])).astype(np.float32)
    yh = rng.integers(0, shapes[0][0][-1], N).astype(np.int32)
    Xd, yd = be.to_device(Xh), be.to_device(yh)
    Xt = torch.from_numpy(Xh).to(dev)
    yt = torch.from_numpy(yh.astype(np.int64)).to(dev)
    lr, mu = 0.1, 0.9
    checks = []
    for sizes, B in shapes:
        for noisy in ((False, True) if sizes == shapes[0][0] else (False,)):
            spec = MLPSpec(sizes)
            noise = NoiseConfig(alpha=1.5, sigma=0.05, kind="entry") if noisy else None
            cfg = StepConfig(spec, B, momentum=mu, noise=noise)
            p0 = init_params(spec, seed=1)
            idx = rng.integers(0, N, steps * B).astype(np.int64)
            idx_d = be.to_device(idx)
            idx_t = torch.from_numpy(idx).to(dev)
            lrs = np.full(steps, lr)
            flags = np.zeros(steps, np.uint8)
            ws = be.workspace(cfg)
            bufs = RunBuffers(be.to_device(p0.flat.copy()), be.to_device(np.zeros(spec.n_params, np.float32)),
                              be.empty(0, np.uint8),
                              be.to_device(init_states(cfg.n_noise_streams, 5)) if noisy else be.empty((0, 2), np.uint64),
                              be.empty(0, np.float64))

            def ours():
                return be.run_steps(ws, cfg, bufs, Xd, yd, idx_d, lrs, flags)

            layers = []
            for l, (o, i) in enumerate(spec.weight_shapes):
                lin = torch.nn.Linear(i, o).to(dev)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(p0.weights[l]))
                    lin.bias.copy_(torch.from_numpy(p0.biases[l]))
                layers += [lin, torch.nn.ReLU()] if l < spec.n_layers - 1 else [lin]
            net = torch.nn.Sequential(*layers)
            opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=mu)
            lossf = torch.nn.CrossEntropyLoss()
            gen = torch.Generator(device=dev).manual_seed(5)
            hidden = [m for m in layers if isinstance(m, torch.nn.Linear)][:-1]
            amp = noise.amplitude(lr) if noisy else 0.0

            def peer(count=steps):
                for s in range(count):
                    bi = idx_t[s * B:(s + 1) * B]
                    opt.zero_grad(set_to_none=True)
                    loss = lossf(net(Xt[bi]), yt[bi])
                    loss.backward()
                    opt.step()
                    if noisy:
                        with torch.no_grad():
                            for m in hidden:
                                m.weight.add_(torch_cms_sas(1.5, m.weight.shape, gen, m.weight.dtype, dev), alpha=amp)

            t_o = _timeit(ours, sync, repeat)
            t_p = _timeit(peer, sync, repeat)
            name = "-".join(map(str, sizes)) + f" b{B}" + (" +entry noise a=1.5" if noisy else "")
            rows.append(row(f"mlp {name}", steps / t_o, steps / t_p, "steps/s"))
            if not noisy:  # same init, same batches, 3 steps, no noise: parameters must agree to fp32 rounding
                bufs.params.copy_to_device(p0.flat)
                bufs.velocity.copy_to_device(np.zeros(spec.n_params, np.float32))
                nc = min(3, steps)
                be.run_steps(ws, cfg, bufs, Xd, yd, idx_d, lrs[:nc], flags[:nc])
                net2 = [m for m in layers if isinstance(m, torch.nn.Linear)]
                with torch.no_grad():
                    for l, m in enumerate(net2):
                        m.weight.copy_(torch.from_numpy(p0.weights[l]))
                        m.bias.copy_(torch.from_numpy(p0.biases[l]))
                opt.state.clear()
                peer(nc)
                sync()
                th = torch.cat([t for m in net2 for t in (m.weight.detach().reshape(-1), m.bias.detach())]).cpu().numpy()
                ours_p = be.to_host(bufs.params)
                checks.append(f"{name}: {np.max(np.abs(ours_p - th)) / np.max(np.abs(th)):.1e}")
    notes["mlp check (max rel. param diff vs torch after 3 steps)"] = ", ".join(checks)


# ----------------------------------------------------------------------------- two-layer
def torch_two_layer(W0, A, X, Y, *, steps, batch, lr, alpha, sigma, noise, seed, dev):
    import torch

    gen = torch.Generator(device=dev).manual_seed(seed)
    W = W0.clone()
    K, d, n = W.shape
    N = X.shape[0]
    At = A.transpose(1, 2)
    scale = sigma * lr ** (1.0 / alpha)
    with torch.no_grad():
        for _ in range(steps):
            idx = torch.randint(N, (K, batch), generator=gen, device=dev)
            xb = X[idx]
            yb = Y[idx]
            Z = torch.bmm(xb, W)
            H = torch.tanh(Z)
            F = torch.bmm(H, A).div_(n)
            R = F.sub_(yb)
            G = (R * At).mul_(1.0 - H * H)
            gW = torch.bmm(xb.transpose(1, 2), G)
            W.sub_(gW, alpha=lr / batch)
            if sigma > 0:
                shape = (K, 1, n) if noise == "neuron" else (K, d, n)
                W.add_(torch_cms_sas(alpha, shape, gen, W.dtype, dev), alpha=scale)
    return W


def bench_two_layer(K, steps, repeat, dev, sync, rows, notes):
    import torch

    from simulations import noise_injection as tl

    n, d, b = 64, 20, 32
    alpha, sigma, lr = 1.5, 0.1, 0.05
    teacher = tl.make_teacher(d, 8, seed=0)
    X, Y = tl.teacher_student_data(teacher, 4096, seed=1)
    Ws, As = tl.init_weights([n] * K, d, 1, np.arange(K), seed=2)
    W0 = torch.from_numpy(np.stack(Ws).transpose(0, 2, 1).copy()).to(dev)  # (out, in) → (K, d, n)
    A = torch.from_numpy(np.stack(As).transpose(0, 2, 1).copy()).to(dev)  # (K, n, 1)
    Xt, Yt = torch.from_numpy(X).to(dev), torch.from_numpy(Y).to(dev)
    checks = []
    for noise in ("neuron", "entry"):
        kw = dict(replicate=np.arange(K), data=(X, Y), noise=noise, batch_size=b, init=(Ws, As), seed=3)

        def ours():
            return tl.train_ensemble(n, alpha, sigma, lr, steps=steps, backend="cuda", **kw)

        def peer():
            return torch_two_layer(W0, A, Xt, Yt, steps=steps, batch=b, lr=lr, alpha=alpha, sigma=sigma, noise=noise,
                                   seed=3, dev=dev)

        t_o = _timeit(ours, sync, repeat)
        t_p = _timeit(peer, sync, repeat)
        rows.append(row(f"two-layer K={K} n={n} d={d} b={b} {noise} noise fp64", steps * K / t_o, steps * K / t_p,
                        "net-steps/s"))
        # correctness: ours equals the CPU kernel on a few networks (same streams)
        few = dict(kw, replicate=np.arange(4), init=(Ws[:4], As[:4]))
        g = tl.train_ensemble(n, alpha, sigma, lr, steps=20, backend="cuda", **few)
        c = tl.train_ensemble(n, alpha, sigma, lr, steps=20, **few)
        checks.append(f"{noise}: {np.max(np.abs(g.hidden_flat - c.hidden_flat)) / np.max(np.abs(c.hidden_flat)):.1e}")
    notes["two-layer check (max rel. diff vs CPU kernel, 20 steps, 4 nets)"] = ", ".join(checks)


def main(argv=None):
    args = _parse(argv)
    if args.simulator_smoke:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        import warnings

        warnings.filterwarnings("ignore", message="overflow encountered in scalar", category=RuntimeWarning)
    try:
        from simulations._core.device import cuda_available, device_name, simulator_enabled
    except ImportError as exc:
        _skip(f"simulations.cuda cannot be imported ({exc})", args)
    if not cuda_available():
        _skip("no CUDA GPU (numba.cuda.is_available() is False; install numba-cuda[cu12|cu13] on a GPU machine)", args)
    if simulator_enabled() and not args.simulator_smoke:
        _skip("NUMBA_ENABLE_CUDASIM=1: the CUDA simulator cannot be benchmarked; unset it on a GPU machine", args)
    try:
        import torch
    except ImportError:
        _skip("PyTorch is not installed (pip install -e '.[bench]' with a CUDA build of torch)", args)
    smoke = args.simulator_smoke
    if not smoke and not torch.cuda.is_available():
        _skip(f"torch {torch.__version__} has no CUDA device (a CPU-only build?); the peer must run on the GPU", args)
    dev = "cpu" if smoke else "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False  # cuBLAS does true fp32 work, like our kernel
    torch.backends.cudnn.allow_tf32 = False
    from numba import cuda

    def sync():
        cuda.synchronize()
        if dev == "cuda":
            torch.cuda.synchronize()

    quick = args.quick or smoke
    repeat = args.repeat or (1 if smoke else (2 if quick else 5))
    rows: list[dict] = []
    notes = {"device": device_name()}
    if dev == "cuda":
        import numba

        notes.update({"torch": torch.__version__, "torch cuda": str(torch.version.cuda), "numba": numba.__version__,
                      "torch device": torch.cuda.get_device_name(0)})
        try:
            import numba_cuda

            notes["numba-cuda"] = getattr(numba_cuda, "__version__", "?")
            notes["driver"] = str(cuda.cudadrv.driver.driver.get_version())
        except Exception as exc:  # version strings only: never lose the measurements over them
            notes["versions"] = f"partly unavailable ({exc})"
    gemm_shapes = [(16, 24, 20)] if smoke else (GEMM_SHAPES[2:] if quick else GEMM_SHAPES)
    bench_gemm(gemm_shapes, repeat, dev, sync, rows, notes)
    mlp = [((20, 8, 3), 4)] if smoke else MLP_SHAPES
    bench_mlp(mlp, 2 if smoke else (50 if quick else 500), repeat, dev, sync, rows, notes)
    bench_two_layer(4 if smoke else 1024, 2 if smoke else (100 if quick else 1000), repeat, dev, sync, rows, notes)
    emit("gpu", rows, args.json, notes)


if __name__ == "__main__":
    main()
