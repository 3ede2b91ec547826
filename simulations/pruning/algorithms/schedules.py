"""Schedules of sparse training: the gradual-pruning sparsity and the dynamic drop fraction.

**Polynomial sparsity** (Zhu & Gupta, "To prune, or not to prune: exploring the efficacy of
pruning for model compression", ICLR workshop 2018 / arXiv 2017, eq. 1). Pruning starts at step
``t₀`` at sparsity ``s_i`` and reaches ``s_f`` at ``t_end = t₀ + nΔt``:

    s_t = s_f + (s_i − s_f) (1 − (t − t₀)/(t_end − t₀))^p     for t₀ ≤ t ≤ t_end,

``s_t = s_i`` before ``t₀`` and ``s_f`` after ``t_end``. ``p = 3`` is their cubic schedule
(prune fast while the network is redundant, slowly near the target); ``p = 1`` is linear.
The mask is updated at ``t ∈ {t₀, t₀ + Δt, …, t₀ + nΔt}`` (:func:`pruning_steps`).

**Cosine drop fraction** (Evci, Gale, Menick, Castro & Elsen, "Rigging the lottery: making all
tickets winners", ICML 2020, eq. 1): the fraction of active connections a dynamic sparse
method drops (and regrows) at an update at step ``t``,

    f(t) = α/2 · (1 + cos(π t / T_end))     for t ≤ T_end,   0 after,

which is TensorFlow's ``cosine_decay`` used by the authors' code (``drop_fraction_anneal =
"cosine"`` in ``rigl/sparse_optimizers.py``). ``anneal="constant"`` gives ``f(t) = α`` for
``t ≤ T_end`` (SET, Mocanu et al. 2018).
"""
from __future__ import annotations

import math

from simulations._core.validation import check_choice, check_int, check_real

__all__ = ["polynomial_sparsity", "pruning_steps", "drop_fraction_at", "ANNEALS", "STEP_MAX"]

#: drop-fraction annealing rules of :func:`drop_fraction_at`
ANNEALS = ("cosine", "constant")
#: largest step number accepted (the training core's ``STEPS_MAX`` = 2^53)
STEP_MAX = 2**53


def polynomial_sparsity(step: int, *, final_sparsity: float, end_step: int, initial_sparsity: float = 0.0,
                        start_step: int = 0, power: float = 3.0) -> float:
    """Zhu & Gupta's sparsity ``s_t`` at ``step`` (see the module docstring; ``power=3`` is cubic).

    ``step``, ``start_step`` = t₀ and ``end_step`` = t_end are integers in [0, 2^53] with
    ``end_step ≥ start_step`` (equal: one-shot pruning to ``s_f`` at t₀);
    ``initial_sparsity`` ≤ ``final_sparsity``, both in [0, 1); ``power`` in (0, 100].
    """
    t = check_int("step", step, 0, STEP_MAX)
    t0 = check_int("start_step", start_step, 0, STEP_MAX)
    t1 = check_int("end_step", end_step, t0, STEP_MAX)
    sf = check_real("final_sparsity", final_sparsity, 0.0, 1.0, high_open=True)
    si = check_real("initial_sparsity", initial_sparsity, 0.0, sf)
    p = check_real("power", power, 0.0, 100.0, low_open=True)
    if t < t0:
        return si
    if t >= t1:
        return sf
    # clamped: s_f + (s_i − s_f)·1 can round below s_i at t = t₀
    return min(sf, max(si, sf + (si - sf) * (1.0 - (t - t0) / (t1 - t0)) ** p))


def pruning_steps(start_step: int, end_step: int, frequency: int) -> list[int]:
    """The mask-update steps ``t₀, t₀ + Δt, …`` up to ``end_step`` (which is always included).

    ``start_step`` = t₀ and ``end_step`` integers in [0, 2^53], ``end_step ≥ start_step``;
    ``frequency`` = Δt ≥ 1 with at most 10^6 steps listed. Zhu & Gupta take
    ``end_step = t₀ + nΔt``; otherwise the last interval is shorter.
    """
    t0 = check_int("start_step", start_step, 0, STEP_MAX)
    t1 = check_int("end_step", end_step, t0, STEP_MAX)
    dt = check_int("frequency", frequency, 1, STEP_MAX)
    if (t1 - t0) // dt > 10**6:
        raise ValueError(f"frequency must leave at most 10^6 pruning steps in [{t0}, {t1}], got {dt}")
    out = list(range(t0, t1 + 1, dt))
    if out[-1] != t1:
        out.append(t1)
    return out


def drop_fraction_at(step: int, *, drop_fraction: float = 0.3, end_step: int, anneal: str = "cosine") -> float:
    """The fraction of active weights a dynamic sparse update at ``step`` drops (Evci et al. eq. 1).

    ``drop_fraction`` = α in [0, 1]; ``end_step`` = T_end ≥ 1; ``anneal`` one of :data:`ANNEALS`;
    ``step`` in [0, 2^53]. Zero after ``T_end``.
    """
    t = check_int("step", step, 0, STEP_MAX)
    a = check_real("drop_fraction", drop_fraction, 0.0, 1.0)
    t_end = check_int("end_step", end_step, 1, STEP_MAX)
    check_choice("anneal", anneal, ANNEALS)
    if t > t_end:
        return 0.0
    if anneal == "constant":
        return a
    return 0.5 * a * (1.0 + math.cos(math.pi * t / t_end))
