"""The one argument list of the two-layer ensemble kernel, shared by the CPU and CUDA launches.

:class:`EnsembleArgs` names, in order, the positional parameters of
:func:`simulations.noise_injection.cpu.train_networks` after its (first, last) range (a test checks the names against the
kernel's signature). :func:`simulations.noise_injection.ensemble.train_ensemble` builds it
once from the validated inputs; the CPU launch unpacks it (``cpu.train_networks(first, last, *args)``) and
:func:`simulations.noise_injection.cuda_launch.run_train_ensemble` reads its fields by name.
Inputs are read-only except ``W``, ``A`` (trained in place) and the outputs ``hist_*``,
``status``, ``fail_step`` (filled in place).

Layout (internal to the kernels; the API speaks (out, in)): hidden weights of network k are
the (d, n_k) row-major block ``W[woff[k] : woff[k] + d·n_k]`` (column j = neuron j, so the
inner loops run over neurons and vectorise), output weights the (n_k, c) block
``A[aoff[k] : aoff[k] + n_k·c]``; the teacher's weights are ``TW`` (d, m) and ``TA`` (m, c).
"""
from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["EnsembleArgs"]


class EnsembleArgs(NamedTuple):
    """Positional arguments of the ensemble kernel (K networks; arrays float64 unless said)."""

    W: Any                # hidden weights, all networks, flat
    A: Any                # output weights, all networks, flat
    woff: Any             # (K,) int64 offsets into W
    aoff: Any             # (K,) int64 offsets into A
    widths: Any           # (K,) int64 widths n_k
    alphas: Any           # (K,) stability indices α_k
    sigmas: Any           # (K,) noise scales σ_k
    lrs: Any              # (K,) step sizes η_k of the hidden layer
    lrs_second: Any       # (K,) step sizes of the output layer
    states: Any           # (K, 2) uint64 xoroshiro128+ states, row k = network k
    d: int                # input dimension
    c: int                # output dimension
    noise_kind: int       # codes.NOISE_ENTRY | NOISE_NEURON | NOISE_ELLIPTICAL
    act: int              # codes.ACT_* of the student
    loss: int             # codes.LOSS_*
    train_second: bool    # train the output layer too
    noise_hidden: bool    # inject noise into the hidden weights
    noise_out: bool       # inject noise into the output weights
    X: Any                # (N, d) training inputs; N = 0: online teacher–student data
    Y: Any                # (N, c) training targets
    TW: Any               # (d, m) teacher hidden weights (online mode)
    TA: Any               # (m, c) teacher output weights
    teacher_act: int      # codes.ACT_* of the teacher
    label_noise: float    # standard deviation of the teacher's label noise
    Xe: Any               # (N_e, d) evaluation inputs (N_e = 0: none)
    Ye: Any               # (N_e, c) evaluation targets
    batch_size: int       # minibatch size b
    steps: int            # SGD steps
    eval_every: int       # evaluate every this many steps (and after the last)
    kappas: Any           # (Q,) kept fractions κ of the pruning error
    prune_eps: float      # squared-error level ε of the prunable fraction
    hist_loss: Any        # (K, E) outputs ...
    hist_eval_loss: Any   # (K, E)
    hist_eval_acc: Any    # (K, E)
    hist_prune: Any       # (K, E, Q)
    hist_prunable: Any    # (K, E)
    hist_norm_mean: Any   # (K, E)
    hist_norm_max: Any    # (K, E)
    status: Any           # (K,) int64 codes.STATUS_*
    fail_step: Any        # (K,) int64 step at which a network stopped (−1: never)
