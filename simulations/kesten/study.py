"""The Kesten study: the tail index of SGD on linear regression, theory against simulated chains.

Gürbüzbalaban, Şimşekli & Zhu, "The Heavy-Tail Phenomenon in SGD" (ICML 2021): online SGD on
least squares with Gaussian data a_i ~ N(0, σ²I_d) has a stationary law with power-law tails of
index α solving h(α) = 1, h(s) = E‖M e₁‖^s, M = I − (η/b) Σ_{i∈Ω} a_i a_iᵀ
(:func:`theory.kesten.tail_index`), and no stationary law where ρ = E log‖M e₁‖ ≥ 0.

* :func:`tail_index_mc` — Monte-Carlo α̂(η): the Hill estimator (Hill 1975) on ‖x_K − x*‖ of many
  online chains (:func:`simulations.kesten.chains.run_sgd`);
* :func:`alpha_vs_lr` — for each (b, d): the theory curve α(η) on a grid up past the divergence
  step size, the Monte-Carlo estimates inside the stationary range, and the two boundaries
  (α = 2 at η = 2b/(σ²(b+d+1)); ρ = 0). ``paper/fig_kesten.py`` and notebook 03 plot it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.validation import check_array, check_int, check_real
from simulations.kesten.chains import BATCH_SIZE_MAX, D_MAX, STREAMS_MAX, WORK_MAX, run_sgd

__all__ = ["tail_index_mc", "alpha_vs_lr", "N_LR_MAX", "STUDY_WORK_MAX"]

#: most multiply-adds of one study call, summed over its runs (the paper's figure needs 5·10⁹)
STUDY_WORK_MAX = 10**11
#: most theory points of one curve in :func:`alpha_vs_lr` (each a root search by quadrature)
N_LR_MAX = 10**4


def _check_total_work(total: int, what: str) -> None:
    if total > STUDY_WORK_MAX:
        raise ValueError(f"the total work {what} must be at most STUDY_WORK_MAX = {STUDY_WORK_MAX}, got {total}")


def _check_run_work(n_chains: int, steps: int, batch_size: int, d: int) -> None:
    """One run's work, as :func:`simulations.kesten.chains.run_sgd` bounds it, before the study starts."""
    work = n_chains * steps * batch_size * d
    if work > WORK_MAX:
        raise ValueError(f"the work of one run n_chains * steps * batch_size * d must be at most "
                         f"WORK_MAX = {WORK_MAX}, got {work} (batch_size={batch_size}, d={d})")


def tail_index_mc(
    lrs: Any,
    batch_size: int,
    d: int,
    sigma: float = 1.0,
    *,
    n_chains: int = 5000,
    steps: int = 400,
    k: int | None = None,
    noise_sd: float = 1.0,
    seed: Any = None,
) -> dict[str, np.ndarray]:
    """Monte-Carlo tail index of online SGD's stationary law for each step size η in ``lrs``.

    Runs ``n_chains`` online chains per η (:func:`simulations.kesten.chains.run_sgd`, on the seed's
    child ``("lr", i)`` for the i-th step size), and applies the Hill estimator
    (:func:`simulations.tail_index.estimators.hill`) to the norms ‖x_K − x*‖ of the non-diverged
    chains with k upper order statistics (default max(50, n_chains // 40)). The Hill estimator is
    used rather than the block-sum estimator because the latter saturates at 2 (its blocks of
    sums reach the Gaussian domain once α ≥ 2). Returns arrays ``lr, alpha_hat, sd`` (asymptotic
    sd α̂/√k), ``n_ok``; ``alpha_hat`` is nan where fewer than 2k chains stayed finite (the
    ``n_ok`` column says so). The total work len(lrs)·n_chains·steps·batch_size·d is at most
    :data:`STUDY_WORK_MAX` = 10¹¹ (and each run at most :data:`simulations.kesten.chains.WORK_MAX`).
    """
    from simulations.tail_index.estimators import hill

    lrs = check_array("lrs", lrs, ndim=1, min_size=1)
    if np.any(lrs <= 0):
        raise ValueError("lrs must all be in (0, inf)")
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    d = check_int("d", d, 1, D_MAX)
    n_chains = check_int("n_chains", n_chains, 20, STREAMS_MAX)
    steps = check_int("steps", steps, 1)
    _check_run_work(n_chains, steps, batch_size, d)
    _check_total_work(lrs.size * n_chains * steps * batch_size * d, "len(lrs) * n_chains * steps * batch_size * d")
    k = max(50, n_chains // 40) if k is None else check_int("k", k, 1, n_chains - 1)
    ss = seeding.seed_sequence(seed)
    a = np.full(lrs.shape, np.nan)
    n_ok = np.zeros(lrs.shape, dtype=np.int64)
    for i, lr in enumerate(lrs):
        res = run_sgd(float(lr), batch_size, d, sigma, n_chains=n_chains, steps=steps, noise_sd=noise_sd,
                      seed=seeding.child(ss, "lr", i))
        fin = res.final()
        n_ok[i] = fin.shape[0]
        if n_ok[i] >= 2 * k:
            a[i] = hill(np.linalg.norm(fin, axis=1), k=k)
    return {"lr": lrs, "alpha_hat": a, "sd": a / np.sqrt(k), "n_ok": n_ok}


def alpha_vs_lr(
    combos: Any,
    *,
    n_lr: int = 150,
    n_mc: int = 8,
    n_chains: int = 20000,
    steps: int = 500,
    s_max: float = 60.0,
    seed: Any = None,
) -> list[dict]:
    """Theory and Monte Carlo of α(η) for each (batch_size, d) in ``combos`` (σ = 1).

    For each pair: η_c = the divergence step size (ρ(η_c) = 0); the theory curve
    (:func:`theory.kesten.tail_index_curve`) on ``n_lr`` step sizes in [0.02, 1.25]·η_c; the Hill
    estimates (:func:`tail_index_mc`) at ``n_mc`` step sizes in [0.45, 0.85]·η_c, on the seed's
    child ``("combo", j)``; the variance boundary η_var (α = 2). Returns one dict per pair with
    keys ``batch_size, d, curve, mc, lr_var, lr_div``.

    ``combos``: a sequence of pairs of ints (batch_size in [1, theory.kesten.BATCH_SIZE_MAX],
    d in [1, theory.kesten.D_MAX]); ``n_lr`` in [2, :data:`N_LR_MAX` = 10⁴]; ``n_mc`` >= 1; the total
    Monte-Carlo work Σ n_mc·n_chains·steps·batch_size·d is at most
    :data:`STUDY_WORK_MAX` = 10¹¹ (and each run at most :data:`simulations.kesten.chains.WORK_MAX`).
    """
    from theory import kesten as K

    if isinstance(combos, (str, bytes)) or not hasattr(combos, "__iter__"):
        raise TypeError(f"combos must be a sequence of (batch_size, d) pairs, got {type(combos).__name__}")
    pairs = []
    for c in combos:
        if isinstance(c, (str, bytes)) or not hasattr(c, "__len__") or len(c) != 2:
            raise ValueError(f"combos must be a sequence of (batch_size, d) pairs, got the entry {c!r}")
        pairs.append((check_int("batch_size", c[0], 1, K.BATCH_SIZE_MAX), check_int("d", c[1], 1, K.D_MAX)))
    if not pairs:
        raise ValueError("combos must contain at least one (batch_size, d) pair")
    n_lr = check_int("n_lr", n_lr, 2, N_LR_MAX)
    n_mc = check_int("n_mc", n_mc, 1)
    n_chains = check_int("n_chains", n_chains, 20, STREAMS_MAX)
    steps = check_int("steps", steps, 1)
    s_max = check_real("s_max", s_max, 1.0, K.S_MAX)
    for b, d in pairs:
        _check_run_work(n_chains, steps, b, d)
    _check_total_work(sum(n_mc * n_chains * steps * b * d for b, d in pairs),
                      "sum of n_mc * n_chains * steps * batch_size * d over combos")
    ss = seeding.seed_sequence(seed)
    rows = []
    for j, (batch_size, d) in enumerate(pairs):
        lr_div = K.lr_critical_divergence(batch_size, d)
        curve = K.tail_index_curve(np.linspace(0.02 * lr_div, 1.25 * lr_div, n_lr), batch_size, d, s_max=s_max)
        mc = tail_index_mc(np.linspace(0.45, 0.85, n_mc) * lr_div, batch_size, d, n_chains=n_chains, steps=steps,
                           seed=seeding.child(ss, "combo", j))
        rows.append(dict(batch_size=batch_size, d=d, curve=curve, mc=mc,
                         lr_var=K.lr_critical_variance(batch_size, d), lr_div=lr_div))
    return rows
