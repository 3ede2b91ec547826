"""Many two-layer networks trained at once: simulations.noise_injection.ensemble vs PyTorch CPU (torch.bmm).

Workload: K = 256 mean-field two-layer networks, width 64, input dimension 20,
batch 32, squared loss, tanh, α-stable noise injected on the hidden weights after every
step (α = 1.5, σ = 0.1), 1000 SGD steps (``--quick``: 100), float64 for both.
Minibatches are drawn with replacement from a teacher–student set of 4096 samples.

Peer: the same algorithm vectorised over networks in PyTorch — forward and backward with
``torch.bmm`` on (K, b, d) × (K, d, n) batches, the hand-written gradient (no autograd: the
fastest formulation we found), stable noise by Chambers–Mallows–Stuck on torch tensors.
Both use the same number of threads (1 and 2). Unit: network-steps per second
(steps × networks / s). Numba compile and torch warm-up are excluded (one untimed call).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, emit, parse_args, row  # noqa: E402


def torch_cms_sas(alpha: float, shape, gen, dtype):
    """SαS(1) by Chambers–Mallows–Stuck (β = 0) on torch tensors."""
    import torch

    v = (torch.rand(shape, generator=gen, dtype=dtype) - 0.5) * math.pi
    w = -torch.log1p(-torch.rand(shape, generator=gen, dtype=dtype))  # Exp(1)
    if alpha == 2.0:
        return 2.0 * torch.sin(v) * torch.sqrt(w)
    av = alpha * v
    return torch.sin(av) / torch.cos(v) ** (1.0 / alpha) * (torch.cos(v - av) / w) ** ((1.0 - alpha) / alpha)


def torch_train(W0, A, X, Y, *, steps, batch, lr, alpha, sigma, noise, seed, threads):
    """Noise-injected mean-field SGD for K networks in PyTorch (W0: (K, d, n), A: (K, n, 1))."""
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    W = W0.clone()
    K, d, n = W.shape
    N = X.shape[0]
    At = A.transpose(1, 2)  # (K, 1, n)
    scale = sigma * lr ** (1.0 / alpha)
    with torch.no_grad():
        for _ in range(steps):
            idx = torch.randint(N, (K, batch), generator=gen)
            xb = X[idx]  # (K, b, d)
            yb = Y[idx]  # (K, b, 1)
            Z = torch.bmm(xb, W)  # (K, b, n)
            H = torch.tanh(Z)
            F = torch.bmm(H, A).div_(n)  # (K, b, 1)
            R = F.sub_(yb)
            G = (R * At).mul_(1.0 - H * H)  # n × ∂loss/∂z
            gW = torch.bmm(xb.transpose(1, 2), G)  # (K, d, n)
            W.sub_(gW, alpha=lr / batch)
            if sigma > 0:
                if noise == "neuron":
                    W.add_(torch_cms_sas(alpha, (K, 1, n), gen, W.dtype), alpha=scale)
                else:
                    W.add_(torch_cms_sas(alpha, (K, d, n), gen, W.dtype), alpha=scale)
    return W


def main(argv=None):
    args = parse_args(__doc__, argv)
    import torch

    from simulations import noise_injection as tl

    K, n, d, b = 256, 64, 20, 32
    steps = 100 if args.quick else 1000
    repeat = args.repeat or 2
    alpha, sigma, lr = 1.5, 0.1, 0.05
    teacher = tl.make_teacher(d, 8, seed=0)
    X, Y = tl.teacher_student_data(teacher, 4096, seed=1)
    Ws, As = tl.init_weights([n] * K, d, 1, np.arange(K), seed=2)
    # init_weights gives (out, in): hidden (n, d), output (1, n); the torch peer multiplies (K, d, n) and (K, n, 1)
    W0 = torch.from_numpy(np.ascontiguousarray(np.stack(Ws).transpose(0, 2, 1)))  # (K, d, n)
    A = torch.from_numpy(np.ascontiguousarray(np.stack(As).transpose(0, 2, 1)))  # (K, n, 1)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    rows = []
    check = {}
    for noise in ("neuron", "entry"):
        for threads in (1, 2):
            out = {}

            def ours(steps=steps):
                out["ours"] = tl.train_ensemble(n, alpha, sigma, lr, replicate=np.arange(K), steps=steps,
                                                data=(X, Y), noise=noise, batch_size=b, init=(Ws, As),
                                                threads=threads, seed=3)

            def peer(steps=steps):
                out["peer"] = torch_train(W0, A, Xt, Yt, steps=steps, batch=b, lr=lr, alpha=alpha, sigma=sigma,
                                          noise=noise, seed=3, threads=threads)

            ours(2)  # numba compile / torch warm-up, untimed
            peer(2)
            t_ours = best_time(ours, repeat=repeat, warmup=0)
            t_peer = best_time(peer, repeat=repeat, warmup=0)
            rate = steps * K
            rows.append(row(f"K={K} n={n} d={d} b={b} {noise} noise, {threads} thr", rate / t_ours, rate / t_peer,
                            "net-steps/s"))
            if threads == 1:
                # sanity: both actually train (final training loss on the data set, median over networks)
                r, Wt = out["ours"], out["peer"]
                f_t = torch.tanh(Xt @ Wt) @ A / n  # (K, N, 1)
                loss_t = 0.5 * ((f_t - Yt) ** 2).mean(dim=(1, 2)).median().item()
                loss_o = float(np.median([0.5 * np.mean((r.predict(k, X) - Y) ** 2) for k in range(K)]))
                check[noise] = f"median final loss ours {loss_o:.4g}, torch {loss_t:.4g}"
    notes = {"torch": torch.__version__, "steps": steps, "dtype": "float64", **check}
    emit("ensemble", rows, args.json, notes)


if __name__ == "__main__":
    main()
