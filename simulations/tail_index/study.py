"""Monte-Carlo studies of α-stable tails and tail-index estimators (notebook 01 and the paper figure).

* :func:`tail_curves` — empirical two-sided tails P(|X| > x) of SαS samples next
  to the asymptote C_α x^{−α}, C_α = (2/π) Γ(α) sin(πα/2) (Samorodnitsky & Taqqu 1994,
  Property 1.2.15; :func:`theory.stable.tail_asymptotic`).
* :func:`estimator_bias_table` — bias, sd and RMSE of the tail-index estimators of
  :mod:`simulations.tail_index.estimators` on SαS, symmetric Pareto and Student-t samples.
* :func:`format_table` — the table as Markdown.

The plots of these results are in :mod:`simulations.tail_index.plots`; notebooks/01_stable_laws.ipynb
and paper/fig_stable.py call the same functions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from simulations._core import seeding
from simulations._core.validation import check_choice, check_int, check_positive, check_real, check_rows
from simulations.stable import api as stable
from simulations.tail_index import estimators as tail_index
from theory import stable as theory_stable

__all__ = [
    "tail_curves",
    "sample_law",
    "estimator_bias_table",
    "format_table",
    "ESTIMATORS",
    "DEFAULT_LAWS",
    "N_MAX",
]

#: largest sample size n of one law in these studies (10⁸ float64: 800 MB, seconds to draw)
N_MAX = 10**8

#: name -> callable(x) -> α̂ (block-sum estimators unclipped, so their bias is visible)
ESTIMATORS = {
    "block_sum(mean)": lambda x: tail_index.block_sum(x, form="mean"),
    "block_sum(order)": lambda x: tail_index.block_sum(x, form="order"),
    "hill": tail_index.hill,
    "pickands": tail_index.pickands,
}

#: (law, parameter) pairs of the default table; the tail index of each is the parameter
DEFAULT_LAWS = (
    ("stable", 0.8),
    ("stable", 1.2),
    ("stable", 1.5),
    ("stable", 1.8),
    ("stable", 2.0),
    ("pareto", 0.8),
    ("pareto", 1.5),
    ("student_t", 1.5),
    ("student_t", 3.0),
)


_LAWS = ("stable", "pareto", "student_t")


def sample_law(law: str, param: float, n: int, seed: Any = None) -> np.ndarray:
    """n iid draws of a symmetric law whose tail index is ``param``.

    * ``"stable"``: SαS(1), α = param (via :func:`simulations.stable.api.rvs`);
    * ``"pareto"``: S·P with P Pareto I (P(P > x) = x^{−α}, x ≥ 1) and S a random sign;
    * ``"student_t"``: Student-t with ν = param degrees of freedom (P(|X| > x) ~ c x^{−ν}).

    ``n`` in [1, :data:`N_MAX` = 10⁸]; ``param`` > 0, and in [ALPHA_MIN, 2] = [0.1, 2] for
    ``"stable"`` (:data:`simulations.stable.api.ALPHA_MIN`: smaller α overflow float64).
    """
    check_choice("law", law, _LAWS)
    n = check_int("n", n, 1, N_MAX)
    rng = seeding.generator(seed)
    if law == "stable":
        return stable.rvs(check_real("param", param, stable.ALPHA_MIN, 2.0), size=n, seed=rng)
    param = check_positive("param", param)
    if law == "pareto":
        u = 1.0 - rng.random(n)  # (0, 1]
        return np.where(rng.random(n) < 0.5, -1.0, 1.0) * u ** (-1.0 / param)
    return rng.standard_t(param, n)  # law == "student_t"


def tail_curves(
    alphas: Sequence[float] = (0.8, 1.2, 1.5, 1.8, 2.0),
    n: int = 10**6,
    n_points: int = 60,
    seed: Any = 0,
) -> list[dict]:
    """Empirical P(|X| > x) of n SαS(1) draws per α, on a log grid, with the theory.

    Returns one dict per α with ``alpha``, ``x`` (grid from the median of |X| to
    the 10/n upper quantile), ``empirical`` (fraction of |X| > x), ``theory``
    (C_α x^{−α} for α < 2; the exact Gaussian tail erfc(x/2) of N(0, 2) at α = 2)
    and ``c_alpha``.
    """
    n = check_int("n", n, 100, N_MAX)
    n_points = check_int("n_points", n_points, 2, stable.SIZE_MAX)
    alphas = [check_real("alphas", a, stable.ALPHA_MIN, 2.0) for a in alphas]
    ss = seeding.seed_sequence(seed)
    out = []
    for i, a in enumerate(alphas):  # one child of the seed per α
        x = np.sort(np.abs(stable.rvs(a, size=n, seed=seeding.child(ss, "alpha", i))))
        lo, hi = x[n // 2], x[max(0, n - 10)]
        grid = np.geomspace(max(lo, 1e-12), hi, n_points)
        emp = 1.0 - np.searchsorted(x, grid, side="right") / n
        if a < 2.0:
            th = theory_stable.tail_asymptotic(grid, a)
        else:
            th = special.erfc(grid / 2.0)
        out.append({"alpha": a, "x": grid, "empirical": emp, "theory": th, "c_alpha": theory_stable.tail_constant(a)})
    return out


def estimator_bias_table(
    laws: Sequence[tuple[str, float]] = DEFAULT_LAWS,
    n: int = 10_000,
    reps: int = 200,
    estimators: dict | None = None,
    seed: Any = 0,
) -> list[dict]:
    """Bias, sd and RMSE of tail-index estimators over ``reps`` samples of size ``n`` per law.

    Returns rows ``{"law", "alpha", "estimator", "n", "reps", "mean", "bias", "sd",
    "rmse", "median", "q25", "q75", "n_inf"}``; median and quartiles include infinite
    estimates (robust summaries for Pickands' heavy-tailed estimates); infinite estimates (Hill/Pickands on light tails) are
    counted in ``n_inf`` and left out of mean/sd/rmse (NaN if all are infinite).
    Samples are shared across estimators (same data for each row of one law); replicate r of
    law j draws from ``replicate(child(seed, "law", j), r)`` (:mod:`simulations._core.seeding`).
    """
    n = check_int("n", n, 16, N_MAX)
    reps = check_int("reps", reps, 2)
    est = ESTIMATORS if estimators is None else estimators
    ss = seeding.seed_sequence(seed)
    rows = []
    for j, (law, par) in enumerate(laws):
        law_ss = seeding.child(ss, "law", j)
        vals = {name: np.empty(reps) for name in est}
        for r in range(reps):
            xs = sample_law(law, par, n, seeding.replicate(law_ss, r))
            for name, fn in est.items():
                vals[name][r] = fn(xs)
        for name, v in vals.items():
            fin = v[np.isfinite(v)]
            mean = float(fin.mean()) if fin.size else math.nan
            rows.append(
                {
                    "law": law,
                    "alpha": float(par),
                    "estimator": name,
                    "n": n,
                    "reps": reps,
                    "mean": mean,
                    "bias": mean - par,
                    "sd": float(fin.std(ddof=1)) if fin.size > 1 else math.nan,
                    "rmse": float(np.sqrt(np.mean((fin - par) ** 2))) if fin.size else math.nan,
                    "median": float(np.median(v)),
                    "q25": float(np.quantile(v, 0.25, method="nearest")),
                    "q75": float(np.quantile(v, 0.75, method="nearest")),
                    "n_inf": int(v.size - fin.size),
                }
            )
    return rows


_ROW_KEYS = ("law", "alpha", "estimator", "n", "reps", "bias", "rmse", "n_inf")


def format_table(rows: list[dict]) -> str:
    """Markdown table of :func:`estimator_bias_table` rows (one line per law, bias/RMSE per estimator).

    ``rows``: a non-empty list (or tuple) of such dicts, each with at least the keys law, alpha,
    estimator, n, reps, bias, rmse, n_inf, and one row per (law, alpha, estimator) of the table.
    """
    rows = check_rows("rows", rows, _ROW_KEYS, "estimator_bias_table")
    if not rows:
        raise ValueError("rows must contain at least one estimator_bias_table row, got none")
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    laws = list(dict.fromkeys((r["law"], r["alpha"]) for r in rows))
    by = {(r["law"], r["alpha"], r["estimator"]): r for r in rows}
    n, reps = rows[0]["n"], rows[0]["reps"]
    head = "| law | α | " + " | ".join(f"{e} bias / RMSE" for e in names) + " |"
    sep = "|---|---|" + "---|" * len(names)
    lines = [f"n = {n} samples, {reps} replications (bias = mean(α̂) − α)", "", head, sep]
    for law, a in laws:
        cells = []
        for e in names:
            r = by.get((law, a, e))
            if r is None:
                raise ValueError(f"rows has no row for law={law!r}, alpha={a!r}, estimator={e!r}: "
                                 "each (law, alpha) needs a row per estimator")
            extra = f" ({r['n_inf']} inf)" if r["n_inf"] else ""
            cells.append(f"{r['bias']:+.3f} / {r['rmse']:.3f}{extra}")
        lines.append(f"| {law} | {a:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
