"""The one argument list of the two-layer ensemble kernel, shared by the CPU and CUDA launches.

:class:`EnsembleArgs` holds every input and output of one ensemble run;
:func:`simulations.noise_injection.ensemble.train_ensemble` builds it once from the validated
inputs. :data:`KERNEL_FIELDS` names, in order, the positional parameters of
:func:`simulations.noise_injection.cpu.train_networks` after its (first, last, t0, t1) ranges (a test
checks the names against the kernel's signature): the CPU launch passes them
(``cpu.train_networks(first, last, t0, t1, *kernel_args(args))``),
:func:`simulations.noise_injection.cuda_launch.run_train_ensemble` reads the fields by name, and both
hand the evaluation fields to :func:`simulations.noise_injection.metrics.record_evaluation`.
Inputs are read-only except ``W``, ``A``, ``states`` (advanced in place), the scratch sums
``run_loss``, ``run_count`` and the outputs ``hist_*``, ``status``, ``fail_step`` (filled in place).

Layout (internal to the kernels; the API speaks (out, in)): hidden weights of network k are
the (d, n_k) row-major block ``W[woff[k] : woff[k] + d·n_k]`` (column j = neuron j, so the
inner loops run over neurons and vectorise), output weights the (n_k, c) block
``A[aoff[k] : aoff[k] + n_k·c]``; the teacher's weights are ``TW`` (d, m) and ``TA`` (m, c).
"""
from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["EnsembleArgs", "KERNEL_FIELDS", "kernel_args"]


class EnsembleArgs(NamedTuple):
    """Inputs and outputs of one ensemble run (K networks; arrays float64 unless said)."""

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
    run_loss: Any         # (K,) sum of the minibatch losses since the last evaluation (scratch)
    run_count: Any        # (K,) int64 number of those minibatches (scratch)


#: The fields the CPU training kernel takes after (first, last, t0, t1), in its order.
KERNEL_FIELDS = ("W", "A", "woff", "aoff", "widths", "alphas", "sigmas", "lrs", "lrs_second", "states",
                 "d", "c", "noise_kind", "act", "loss", "train_second", "noise_hidden", "noise_out",
                 "X", "Y", "TW", "TA", "teacher_act", "label_noise", "batch_size",
                 "run_loss", "run_count", "status", "fail_step")


def kernel_args(args: EnsembleArgs) -> tuple:
    """The values of :data:`KERNEL_FIELDS` of ``args``, in order."""
    return tuple(getattr(args, name) for name in KERNEL_FIELDS)
