"""Training-step throughput of the torch-free convolutional network code vs PyTorch CPU (same thread count).

Rows (samples/s, higher is better; ratio = ours / PyTorch), t = 1 and 2 threads:

* ``lenet5 b128 <t>t`` — LeNet-5 (``get_model("lenet5")``, 1×28×28);
* ``vgg11-mnist b64 <t>t`` — Barsbey et al.'s bias-free VGG-11 for 28×28 MNIST (cfg F, 1 channel).

One step = :func:`simulations.nn.conv_net.loss_and_grad` (forward, mean cross-entropy, backward into a
preallocated workspace) plus the plain SGD update ``θ ← θ − η g`` on the flat parameters; PyTorch's is
``nn.Sequential`` of the same layers + ``CrossEntropyLoss`` + ``torch.optim.SGD`` step on the same
random MNIST-shaped batch (x ~ N(0, 1), 10 random labels). This is the core of a
:func:`simulations.nn.train` step on a ModelSpec, without the batch gather and the divergence
checks. Best of
``repeat`` (ours and PyTorch interleaved) after one warm-up step (numba compile excluded). Also
printed: this machine's single-core float32 GEMM peak and the fraction of it each side reaches
(training FLOPs = 3 × the forward multiply-adds × 2).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _common import emit, parse_args, row  # noqa: E402

from simulations.nn import (  # noqa: E402
    blas_threads,
    conv_net,  # noqa: E402
    get_model,
    init_model_params,
)

CASES = [("lenet5", {}, 128), ("vgg11-mnist", {"input_shape": (1, 28, 28)}, 64)]


def forward_macs(spec) -> int:
    """Multiply-adds of one forward pass of one example: Σ over conv / dense weights of (outputs × fan-in)."""
    shapes = spec.shapes()                         # activation shape after each layer
    total = 0
    for e in spec.param_layout():
        if e.kind in ("conv", "dense"):
            fan_in = int(np.prod(e.weight_shape[1:]))
            total += int(np.prod(shapes[e.layer])) * fan_in
    return total


def torch_model(spec):
    """``nn.Sequential`` of the same layers (the benched models use Conv2d, MaxPool2d, ReLU, Flatten, Dense)."""
    import torch.nn as tnn

    mods, shape = [], tuple(spec.input_shape)
    for layer, out in zip(spec.layers, spec.shapes()):
        kind = type(layer).__name__
        if kind == "Conv2d":
            mods.append(tnn.Conv2d(shape[0], layer.out_channels, layer.kernel, stride=layer.stride,
                                   padding=layer.padding, bias=layer.bias))
        elif kind == "MaxPool2d":
            mods.append(tnn.MaxPool2d(layer.kernel, layer.stride))
        elif kind == "ReLU":
            mods.append(tnn.ReLU())
        elif kind == "Flatten":
            mods.append(tnn.Flatten())
        elif kind == "Dense":
            mods.append(tnn.Linear(int(np.prod(shape)), layer.out_features, bias=layer.bias))
        else:  # pragma: no cover - the benched models use only these
            raise ValueError(f"no torch counterpart written for {kind}")
        shape = tuple(out)
    return tnn.Sequential(*mods)


def gemm_peak(repeat: int) -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    with blas_threads(1):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(repeat))
    return 2 * 2048**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    repeat = args.repeat or (2 if args.quick else 5)
    import torch

    rows, notes, fracs = [], {}, []
    peak = gemm_peak(repeat)
    for name, opts, B in CASES:
        if args.quick:
            B = 16
        spec = get_model("lenet5" if name == "lenet5" else "vgg11", **opts)
        g = np.random.default_rng(1)
        X = g.standard_normal((B,) + spec.input_shape).astype(np.float32)
        y = g.integers(0, 10, B).astype(np.int64)
        flat = init_model_params(spec, 0)
        ws = conv_net.Workspace(spec, B)
        model = torch_model(spec)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def ours_step():
            _, grad = conv_net.loss_and_grad(spec, flat, None, X, y, ws)
            np.subtract(flat, 0.01 * grad, out=flat)

        def peer_step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt), yt).backward()
            opt.step()

        steps = 2 if args.quick else (10 if name == "lenet5" else 3)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with blas_threads(threads):
                ours_step(), peer_step()                     # warm-up: compile, allocator
                t_ours = t_peer = float("inf")
                for _ in range(repeat):                       # interleaved, best of repeat
                    t_ours = min(t_ours, _timed(lambda: [ours_step() for _ in range(steps)]))
                    t_peer = min(t_peer, _timed(lambda: [peer_step() for _ in range(steps)]))
            case = f"{name} b{B} {threads}t"
            rows.append(row(case, steps * B / t_ours, steps * B / t_peer, "samples/s"))
            flops = 6 * forward_macs(spec)
            fracs.append((case, steps * B / t_ours * flops, steps * B / t_peer * flops))
    notes["single-core f32 GEMM peak (np.dot 2048^3)"] = f"{peak / 1e9:.1f} GFLOP/s"
    for case, fo, fp in fracs:
        notes[f"{case}: fraction of 1-core GEMM peak (ours / torch)"] = f"{fo / peak:.2f} / {fp / peak:.2f}"
    notes["threads"] = ("ours: blas_threads(t) (each convolution runs t sample ranges at once on a single-threaded "
                        "OpenBLAS, simulations.nn.conv_parallel: LeNet-5's narrow layers and VGG-11, whose 3x3 "
                        "layers run by Winograd); torch.set_num_threads(t)")
    notes["flops"] = ("the peak fractions count a direct convolution's multiply-adds: Winograd layers do fewer, "
                      "so a fraction can pass 1")
    notes["torch"] = torch.__version__
    notes["cpu load (1-min avg) at end"] = f"{os.getloadavg()[0]:.2f}"
    emit("conv_cpu", rows, args.json, notes)


if __name__ == "__main__":
    main()
