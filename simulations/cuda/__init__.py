"""GPU (numba.cuda) kernels and helpers for tailcomp.

Modules
-------
:mod:`.device`           availability check, host/device array validation (no kernels).
:mod:`.rng_kernels`      xoroshiro128+ streams and α-stable (CMS) draws as device functions.
:mod:`.dense_kernels`    tiled GEMM with fused bias + activation, softmax cross-entropy,
                         fused SGD/momentum + mask + α-stable noise update.
:mod:`.ensemble_kernels` one block per chain/network: linear-regression SGD and two-layer ensembles.

Importing this package does not import ``numba.cuda``; the submodules do. Set
``NUMBA_ENABLE_CUDASIM=1`` before the first import of ``numba.cuda`` to run every kernel on
the CPU simulator (slow: tiny sizes only).
"""
