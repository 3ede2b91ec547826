"""Sample-parallel convolutions: with t > 1 threads, a network of narrow or Winograd convolutions splits each layer's batch into t ranges run at once.

A convolution's work (im2col, GEMMs, transposes, col2im, Winograd transforms) is independent
across samples except the weight and bias gradients, which are sums over samples. With ``t``
threads asked for (``train(..., threads=t)``, :func:`~simulations._core.threads.blas_threads`) on a
network whose convolutions all have fewer than :data:`SPLIT_OUT_MAX` filters (LeNet-5), or one of
whose convolutions runs by Winograd's F(2×2, 3×3) (:mod:`~simulations.nn.backends.cpu_winograd`:
VGG-11, ResNets), each convolution runs t contiguous sample ranges on t threads (the calling one
and t − 1 pool workers), the numba kernels releasing the GIL; the whole pass runs with OpenBLAS
single-threaded, so that none of its idle workers spins on a core the ranges need. Each range
sums its own weight and bias gradients and the ranges' sums are added at the end: the numbers
equal the serial ones up to the order of those sums. Other networks keep the t threads inside
OpenBLAS's GEMMs instead.

Measured on a 2-core machine, 2 threads against 1: LeNet-5 b128 with OpenBLAS threads inside its
small per-chunk GEMMs ran no faster than one thread (the copy kernels serial); split by samples
on a single-threaded OpenBLAS, 1.6× faster. VGG-11 b64 by im2col only: OpenBLAS threads 2.0×
faster than one thread, split by samples 1.6× (each range's GEMMs half as wide). With its 3×3
layers by Winograd (16 GEMMs of a few hundred to a thousand columns per chunk, too small for
OpenBLAS's threads to pay), split by samples: 430-580 ms a step against 570-600 ms with OpenBLAS
threads (best of 10 steps, four alternating pairs, split faster in each).
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence

import numpy as np

from simulations._core.validation import check_int

__all__ = ["split", "split_fits", "run", "Scratch", "SPLIT_OUT_MAX"]

#: a network splits its samples when every convolution has fewer filters than this
SPLIT_OUT_MAX = 64

_POOL: cf.ThreadPoolExecutor | None = None
_POOL_SIZE = 0


class Scratch:
    """One range's buffers: im2col chunk, GEMM output, ∂cols chunk, its own weight/bias gradient sums, and
    the Winograd input, product and weight-gradient scratch (:mod:`~simulations.nn.backends.cpu_winograd`)."""

    def __init__(self, cols: int, t: int, dw: int, db: int, wv: int, wm: int, wu: int, dt: np.dtype):
        self.cols, self.t, self.dcols = np.zeros(cols, dt), np.zeros(t, dt), np.zeros(cols, dt)
        self.dw, self.db = np.zeros(dw, dt), np.zeros(db)
        self.wv, self.wm, self.wu = np.zeros(wv, dt), np.zeros(wm, dt), np.zeros(wu, dt)


def split_fits(out_channels: int) -> bool:
    """Whether a convolution with ``out_channels`` ≥ 1 filters is narrow enough to split (< :data:`SPLIT_OUT_MAX`)."""
    return check_int("out_channels", out_channels, 1) < SPLIT_OUT_MAX


def split(n: int, threads: int) -> list[tuple[int, int]] | None:
    """Contiguous ranges [n0, n1) of n ≥ 1 samples, one per thread (threads ≥ 1; at most n ranges); None for one range."""
    n, threads = check_int("n", n, 1), check_int("threads", threads, 1)
    k = min(threads, n)
    if k < 2:
        return None
    edges = [n * i // k for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _pool(workers: int) -> cf.ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < workers:
        if _POOL is not None:
            _POOL.shutdown(wait=True)
        _POOL, _POOL_SIZE = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailcomp-conv"), workers
    return _POOL


def run(tasks: Sequence[Callable[[], object]]) -> None:
    """Run the tasks at once, the first on the calling thread; re-raise the first error.

    The caller has OpenBLAS single-threaded (:func:`~simulations.nn.conv_net._threads`), so that
    the tasks' GEMMs do not start BLAS threads of their own.
    """
    pool = _pool(len(tasks) - 1)
    futures = [pool.submit(t) for t in tasks[1:]]
    try:
        tasks[0]()
    finally:
        cf.wait(futures)
    for f in futures:
        f.result()

