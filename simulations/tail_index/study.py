"""Monte-Carlo studies shared by notebooks/01_stable_laws.ipynb and paper/fig_stable.py.

* :func:`tail_curves` — empirical two-sided tails P(|X| > x) of SαS samples next
  to the asymptote C_α x^{−α} (:func:`theory.stable.tail_asymptotic`).
* :func:`estimator_bias_table` — bias, sd and RMSE of the tail-index estimators of
  :mod:`simulations.tail_index.estimators` on SαS, symmetric Pareto and Student-t samples.
* :func:`format_table` — the table as Markdown.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from simulations._core.validation import as_generator, check_alpha, check_int, check_positive
from simulations.stable import api as stable
from simulations.tail_index import estimators as tail_index
from theory import stable as theory_stable

__all__ = [
    "tail_curves",
    "sample_law",
    "estimator_bias_table",
    "format_table",
    "plot_tails",
    "plot_estimator_bias",
    "stable_figure",
    "ESTIMATORS",
    "DEFAULT_LAWS",
]

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


def sample_law(law: str, param: float, n: int, seed: Any = None) -> np.ndarray:
    """n iid draws of a symmetric law whose tail index is ``param``.

    * ``"stable"``: SαS(1), α = param (via :func:`simulations.stable.api.rvs`);
    * ``"pareto"``: S·P with P Pareto I (P(P > x) = x^{−α}, x ≥ 1) and S a random sign;
    * ``"student_t"``: Student-t with ν = param degrees of freedom (P(|X| > x) ~ c x^{−ν}).
    """
    n = check_int("n", n, 1)
    rng = as_generator(seed)
    if law == "stable":
        return stable.rvs(check_alpha(param, "param"), size=n, seed=rng)
    param = check_positive("param", param)
    if law == "pareto":
        u = 1.0 - rng.random(n)  # (0, 1]
        return np.where(rng.random(n) < 0.5, -1.0, 1.0) * u ** (-1.0 / param)
    if law == "student_t":
        return rng.standard_t(param, n)
    raise ValueError(f"law must be one of ['pareto', 'stable', 'student_t'], got {law!r}")


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
    n = check_int("n", n, 100)
    n_points = check_int("n_points", n_points, 2)
    rng = as_generator(seed)
    out = []
    for a in alphas:
        a = check_alpha(a, "alphas")
        x = np.sort(np.abs(stable.rvs(a, size=n, seed=rng)))
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
    Samples are shared across estimators (same data for each row of one law).
    """
    n = check_int("n", n, 16)
    reps = check_int("reps", reps, 2)
    est = ESTIMATORS if estimators is None else estimators
    ss = np.random.SeedSequence(as_generator(seed).integers(0, 2**63 - 1))
    children = ss.spawn(len(laws))
    rows = []
    for (law, par), child in zip(laws, children):
        vals = {name: np.empty(reps) for name in est}
        for r, sub in enumerate(child.spawn(reps)):
            xs = sample_law(law, par, n, np.random.default_rng(sub))
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


def format_table(rows: list[dict]) -> str:
    """Markdown table of :func:`estimator_bias_table` rows (one line per law, bias/RMSE per estimator)."""
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
            r = by[(law, a, e)]
            extra = f" ({r['n_inf']} inf)" if r["n_inf"] else ""
            cells.append(f"{r['bias']:+.3f} / {r['rmse']:.3f}{extra}")
        lines.append(f"| {law} | {a:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plotting (shared by notebook and paper)
def plot_tails(ax, curves: list[dict]) -> None:
    """Log-log empirical P(|X| > x) (solid) against C_α x^{−α} (dashed; exact Gaussian tail at α = 2)."""
    import matplotlib.pyplot as plt

    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(curves)))
    for c, col in zip(curves, colors):
        a = c["alpha"]
        ax.loglog(c["x"], c["empirical"], "-", color=col, lw=1.8, label=f"α = {a:g}")
        lab = r"$C_\alpha x^{-\alpha}$" if a < 2 else "N(0, 2) tail"
        ax.loglog(c["x"], c["theory"], "--", color=col, lw=1.0, alpha=0.9, label=None if a < 2 else lab)
    ax.plot([], [], "k--", lw=1.0, label=r"$C_\alpha x^{-\alpha}$ (dashed)")
    ymin = min(float(np.min(c["empirical"][c["empirical"] > 0])) for c in curves)
    ax.set_ylim(ymin / 2, 1.0)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$P(|X| > x)$")
    ax.set_title("SαS(1) tails")
    ax.legend(fontsize=7, loc="lower left")


def plot_estimator_bias(ax_stable, ax_other, rows: list[dict]) -> None:
    """Left: median α̂ with quartiles against α on SαS samples. Right: median bias with quartiles on Pareto / Student-t.

    Medians and quartiles rather than mean ± sd: Pickands' estimates are themselves heavy-tailed.
    """
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    markers = ["o", "s", "^", "v", "D"]
    st_laws = sorted({r["alpha"] for r in rows if r["law"] == "stable"})
    other = list(dict.fromkeys((r["law"], r["alpha"]) for r in rows if r["law"] != "stable"))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        rs = {(r["law"], r["alpha"]): r for r in rows if r["estimator"] == name}
        if st_laws:
            xs = np.array(st_laws) + (k - (len(names) - 1) / 2) * 0.025
            ys = np.array([rs[("stable", a)]["median"] for a in st_laws])
            with np.errstate(invalid="ignore"):
                lo = ys - np.array([rs[("stable", a)]["q25"] for a in st_laws])
                hi = np.array([rs[("stable", a)]["q75"] for a in st_laws]) - ys
            err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
            ax_stable.errorbar(xs, ys, yerr=err, fmt=markers[k % 5], ms=4, capsize=2, label=name)
        if other:
            pos = np.arange(len(other)) + (k - (len(names) - 1) / 2) * width
            med = np.array([rs[o]["median"] - o[1] for o in other])
            with np.errstate(invalid="ignore"):
                lo = med - np.array([rs[o]["q25"] - o[1] for o in other])
                hi = np.array([rs[o]["q75"] - o[1] for o in other]) - med
            err = np.nan_to_num(np.minimum([lo, hi], 10.0), nan=0.0)
            ax_other.bar(pos, np.minimum(med, 10.0), width, yerr=err, capsize=2, label=name)
    if st_laws:
        lim = [min(st_laws) - 0.2, max(st_laws) + 0.2]
        ax_stable.plot(lim, lim, "k:", lw=1)
        ax_stable.set_ylim(0.4, 2.8)
        ax_stable.set_xlabel("true α (SαS)")
        ax_stable.set_ylabel(r"$\hat\alpha$ (median, quartiles)")
        ax_stable.set_title(f"estimators on SαS, n = {rows[0]['n']}, {rows[0]['reps']} reps (off-scale: Hill/Pickands at α=2)", fontsize=9)
        ax_stable.legend(fontsize=7)
    if other:
        ax_other.axhline(0, color="k", lw=0.8)
        ax_other.set_xticks(np.arange(len(other)))
        ax_other.set_xticklabels([f"{'Pareto' if l == 'pareto' else 't'} {a:g}" for l, a in other])
        ax_other.set_ylabel(r"median $\hat\alpha - \alpha$ (quartiles)")
        ax_other.set_ylim(-2.0, 1.5)
        ax_other.set_title("non-stable power laws (Pareto I, Student-t)")
        ax_other.legend(fontsize=7, loc="lower left")


def stable_figure(curves: list[dict], rows: list[dict]):
    """The three-panel figure of notebooks/01_stable_laws.ipynb and paper/fig_stable.py."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    plot_tails(axes[0], curves)
    plot_estimator_bias(axes[1], axes[2], rows)
    fig.tight_layout()
    return fig
