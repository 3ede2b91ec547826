"""SGD chains on linear regression: ours (numba, parallel over chains) vs the original study's
per-chain numpy loop run in parallel over chains.

The peer is the loop of Gürbüzbalaban, Şimşekli & Zhu's synthetic experiments
(github.com/umutsimsekli/sgd_ht, ``synth_experiments.ipynb``, ``sgd_linreg``):
a fixed data set (n = 10 000 rows, d = 100), each step the batch is
``np.random.permutation(n)[:b]``, x₀ = 5·N(0, I), running average after
K/2 steps; chains were spread with joblib. joblib is not a dependency here,
so the peer runs in a ``concurrent.futures.ProcessPoolExecutor`` with as many
workers as numba has threads (fork context, pool started and warmed before timing).

Ours: :func:`simulations.kesten.chains.run_sgd` with ``mode="offline"``,
``sampling="step"`` (a uniformly random b-subset each step, the same law as
``permutation(n)[:b]``), ``init_scale=5``, ``average=True`` on the same data.
Same results: the two sets of chains use different random numbers, so they are
compared in law — two-sample KS on the first coordinate of the final iterate
and of the average (p-values printed), and the Hill tail index of ‖x_final − x̂‖.

    python bench/linear_sgd.py [--quick] [--json out.json]
"""
from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import best_time, emit, parse_args, row  # noqa: E402


def sgd_linreg(args):
    """The original per-chain loop (numpy), one chain; returns (x_final, x_mc)."""
    A, Y, n, d, K, eta, b, seed = args
    rs = np.random.RandomState(seed)
    burn_in = int(K * 0.5)
    x_cur = 5 * rs.randn(d)
    x_mc = np.zeros(d)
    for k in range(1, K):
        ix = rs.permutation(n)
        S_k = ix[0 : int(b)]
        A_k = A[S_k, :]
        y_k = Y[S_k]
        grad = np.dot(A_k.T, np.dot(A_k, x_cur)) - np.dot(A_k.T, y_k)
        grad = grad / b
        x_cur = x_cur - eta * grad
        if k >= burn_in:
            k_loc = (k - burn_in) * 1.0
            x_mc = (k_loc / (k_loc + 1)) * x_mc + 1 / (k_loc + 1) * x_cur
    return x_cur, x_mc


_DATA = {}


def _init_worker(A, Y):
    _DATA["A"], _DATA["Y"] = A, Y


def _chain(args):
    n, d, K, eta, b, seed = args
    return sgd_linreg((_DATA["A"], _DATA["Y"], n, d, K, eta, b, seed))


def main(argv=None) -> int:
    args = parse_args(__doc__, argv)
    n, d, b, eta = 10_000, 100, 5, 0.1
    n_chains, K = (64, 200) if args.quick else (1600, 1000)
    import numba  # noqa: PLC0415  (threads count only; no parallel region runs before the pool forks)

    workers = numba.config.NUMBA_NUM_THREADS
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    x0 = 3 * rng.standard_normal(d)
    Y = A @ x0 + 3 * rng.standard_normal(n)
    x_hat = np.linalg.lstsq(A, Y, rcond=None)[0]

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                               initializer=_init_worker, initargs=(A, Y))
    list(pool.map(abs, range(workers)))  # start the workers
    peer_out = {}

    def peer():
        res = list(pool.map(_chain, [(n, d, K, eta, b, 1000 + i) for i in range(n_chains)],
                            chunksize=max(1, n_chains // (8 * workers))))
        peer_out["x"] = np.array([r[0] for r in res])
        peer_out["avg"] = np.array([r[1] for r in res])

    t_peer = best_time(peer, repeat=1 if not args.quick else 2, warmup=0)
    pool.shutdown()

    from simulations.kesten.chains import run_sgd  # noqa: PLC0415
    from simulations.tail_index.estimators import hill  # noqa: PLC0415

    ours_out = {}

    def ours():
        # K − 1 updates, as in the peer's range(1, K); average from step K/2 on
        r = run_sgd(eta, b, d, mode="offline", data=(A, Y), sampling="step", n_chains=n_chains, steps=K - 1,
                    init_scale=5.0, average=True, burn_in=int(K * 0.5) - 1, seed=1)
        ours_out["r"] = r

    t_ours = best_time(ours, repeat=args.repeat or 3, warmup=1)
    r = ours_out["r"]
    from scipy.stats import ks_2samp  # noqa: PLC0415

    ok = r.ok
    p_final = ks_2samp(r.x[ok, 0] - x_hat[0], peer_out["x"][:, 0] - x_hat[0]).pvalue
    p_avg = ks_2samp(r.x_avg[ok, 0], peer_out["avg"][:, 0]).pvalue
    k = max(10, int(np.sqrt(n_chains)))
    a_ours = hill(np.linalg.norm(r.x[ok] - x_hat, axis=1), k=k)
    a_peer = hill(np.linalg.norm(peer_out["x"] - x_hat, axis=1), k=k)
    steps = n_chains * (K - 1)
    rows = [row(f"offline d={d} b={b} n={n}: {n_chains} chains x {K} steps", steps / t_ours, steps / t_peer, "chain-steps/s")]
    notes = {
        "peer": f"original per-chain numpy loop (sgd_ht synth_experiments.ipynb) in ProcessPoolExecutor({workers} workers, fork); joblib not installed",
        "ours": f"simulations.kesten.chains.run_sgd(mode='offline', sampling='step'), numba prange over chains, {workers} threads",
        "time_s": f"ours {t_ours:.3f}, peer {t_peer:.3f}",
        "same_law": f"KS p-values: final x[0] {p_final:.3f}, average x[0] {p_avg:.3f}; Hill(k={k}) alpha of |x - x_hat|: ours {a_ours:.2f}, peer {a_peer:.2f}",
        "diverged": f"ours {r.n_diverged}, peer {int(np.sum(~np.isfinite(peer_out['x']).all(axis=1)))}",
    }
    emit("linear_sgd", rows, args.json, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
