"""SGD training throughput of the torch-free core vs PyTorch CPU (same thread count).

Rows (samples/s, higher is better; ratio = ours / PyTorch):

* ``<sizes> b<B> <t>t`` — plain SGD (lr 0.01), ReLU MLP, softmax cross-entropy, random
  MNIST-shaped data (x ~ N(0, 1) in R^784, 10 random labels), t = 1 and 2 threads. Ours is
  the public :func:`simulations.nn.train` call (wall clock of the whole call: setup, the
  shuffled minibatch gather and the final running-metric evaluation included); PyTorch is
  ``nn.Sequential(Linear, ReLU, ...)`` + ``CrossEntropyLoss`` + ``torch.optim.SGD`` on
  contiguous pre-shuffled slices (no DataLoader), ``torch.set_num_threads(t)``.
Notes (not rows, since the peer there is ours): noise injection overhead, 784-2048-10 b100,
1 thread (entry noise also 2 threads), ours with SαS (α = 1.5) noise injected into the hidden
layer after every step vs ours without noise at the same thread count. ``neuron``: one draw per neuron (2048 per step); ``entry``: one per weight
  (1.6 M per step), whose cost per draw is printed. The noise notes are measured in a child
  process that never imports PyTorch: PyTorch bundles a ``libgomp.so.1``, and in a process that
  loads it first numba's OpenMP pool runs on it with PyTorch's spin settings; started first, ours
  would give PyTorch its spin count. Each side keeps its own runtime this way.

Timings are best of ``repeat`` rounds, ours and the peer interleaved (the order alternating from
round to round), after one warm-up run (numba compile excluded), each after a short idle pause
(``COOLDOWN_S``) so that neither side starts while the other's spin-waiting worker threads still
hold a core. The noise notes also give the median over rounds of each round's paired overhead
(with-noise time / plain time of adjacent runs), which a slow spell of the machine that happens to
spare one side's best run does not move. Also printed: this machine's single-core float32 GEMM
peak (best ``np.dot`` of 2048² matrices) and the fraction of it each of our rows reaches (training FLOPs: 2·Σ d_in d_out forward, the same for weight gradients, and for input
gradients of every layer but the first).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _common import emit, interleaved_times, parse_args, row  # noqa: E402

from simulations.nn import (
    SGD,
    MLPSpec,
    NoiseConfig,
    StopRules,
    blas_threads,
    init_params,
    train,  # noqa: E402
)

SHAPES = [((784, 512, 512, 10), 128), ((784, 2048, 10), 100), ((784, 1024, 1024, 1024, 10), 256)]


def train_flops(sizes) -> float:
    pairs = list(zip(sizes[:-1], sizes[1:]))
    fwd = sum(2 * a * b for a, b in pairs)
    return fwd + fwd + sum(2 * a * b for a, b in pairs[1:])


def gemm_peak(repeat: int) -> float:
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    with blas_threads(1):
        np.dot(a, b, out=c)
        best = min(_timed(lambda: np.dot(a, b, out=c)) for _ in range(3 * repeat))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def make_data(sizes, n):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], n).astype(np.int32)


def ours_runner(sizes, B, steps, threads, noise=None):
    spec = MLPSpec(sizes)
    p0 = init_params(spec, 0)
    X, y = make_data(sizes, B * steps)

    def run():
        r = train(spec, (X, y), params=p0, optimizer=SGD(0.01), noise=noise, batch_size=B,
                  stop=StopRules(max_steps=steps), eval_every=steps, threads=threads, seed=0)
        assert r.status == "completed", r.status

    return run


def peer_runner(sizes, B, steps, threads):
    import torch

    torch.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    lossf = torch.nn.CrossEntropyLoss()
    X, y = make_data(sizes, B * steps)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def run():
        torch.set_num_threads(threads)
        for s in range(steps):
            xb, yb = Xt[s * B:(s + 1) * B], yt[s * B:(s + 1) * B]
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()

    return run


#: Seconds of idle before each timed run. Thread pools spin-wait after their last parallel
#: region: OpenBLAS workers for ~2^28 cycles (≈ 0.08 s), PyTorch's OpenMP workers for their
#: spin count. Without a pause, at 2 threads each side's run starts while the other's
#: workers still hold a core (we measured ours at 27.9 ms per step instead of 22.1 on the deep
#: shape). The pause gives both the same quiet start.
COOLDOWN_S = 0.3



def noise_notes(repeat: int, steps_scale: float) -> dict:
    """Noise-injection overhead notes (ours with vs without noise), 784-2048-10 b100."""
    notes = {}
    sizes, B = SHAPES[1]
    alpha = 1.5
    for kind, steps, thread_counts in (("neuron", int(60 * steps_scale) + 10, (1,)),
                                       ("entry", int(10 * steps_scale) + 4, (1, 2))):
        noise = NoiseConfig(alpha, 0.1, kind)
        for t in thread_counts:
            tn, tp = interleaved_times([ours_runner(sizes, B, steps, t, noise), ours_runner(sizes, B, steps, t)],
                                       repeat, COOLDOWN_S)
            t_noise, t_plain = min(tn), min(tp)
            key = f"noise {kind}, {t}t"
            notes[f"{key}: samples/s with / without noise"] = f"{steps * B / t_noise:.4g} / {steps * B / t_plain:.4g}"
            draws = steps * (2048 if kind == "neuron" else 784 * 2048)
            notes[f"{key}: overhead"] = f"{(t_noise / t_plain - 1) * 100:.1f} % of step time"
            # the same from each round's pair (adjacent runs): robust to a slow spell that spares one best-of
            paired = float(np.median([a / b for a, b in zip(tn, tp)]))
            notes[f"{key}: overhead, median of the {repeat} paired rounds"] = f"{(paired - 1) * 100:.1f} %"
            notes[f"{key}: cost per draw"] = f"{(t_noise - t_plain) / draws * 1e9:.1f} ns (alpha={alpha})"
    return notes


def _noise_notes_in_child(repeat: int, steps_scale: float) -> dict:
    here = str(Path(__file__).resolve().parent)
    code = (f"import json, sys; sys.path.insert(0, {here!r}); import mlp_cpu; "
            f"print(json.dumps(mlp_cpu.noise_notes({repeat}, {steps_scale!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv)
    repeat = args.repeat or (3 if args.quick else 7)
    flop_budget = 4e10 if args.quick else 1.2e11  # training FLOPs per timed run (~0.4 s / ~1.2 s at 100 GFLOP/s)
    steps_scale = 0.3 if args.quick else 1.0
    notes = _noise_notes_in_child(repeat, steps_scale)   # before PyTorch is imported here (module docstring)
    import torch

    rows = []
    peak = gemm_peak(repeat)
    fracs = []
    for threads in (1, 2):
        for sizes, B in SHAPES:
            steps = max(8, int(flop_budget / (train_flops(sizes) * B)))
            t_ours, t_peer = (min(t) for t in interleaved_times([ours_runner(sizes, B, steps, threads),
                                                                 peer_runner(sizes, B, steps, threads)],
                                                                repeat, COOLDOWN_S))
            name = "-".join(map(str, sizes)) + f" b{B} {threads}t"
            ours, peer = steps * B / t_ours, steps * B / t_peer
            rows.append(row(name, ours, peer, "samples/s"))
            fracs.append((name, ours * train_flops(sizes), peer * train_flops(sizes)))
    peak = max(peak, gemm_peak(repeat))  # best of the start and the end: the machine may be shared
    notes["single-core f32 GEMM peak (np.dot 2048^3, best of start/end)"] = f"{peak / 1e9:.1f} GFLOP/s"
    for name, fo, fp in fracs:
        notes[f"{name}: fraction of 1-core GEMM peak (ours / torch)"] = f"{fo / peak:.2f} / {fp / peak:.2f}"
    notes["threads"] = "ours: blas_threads(t) (OpenBLAS + numba); torch.set_num_threads(t)"
    notes["torch"] = torch.__version__
    notes["cpu load (1-min avg) at end"] = f"{os.getloadavg()[0]:.2f}"
    emit("mlp_cpu", rows, args.json, notes)


if __name__ == "__main__":
    main()
