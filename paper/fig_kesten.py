"""Figure: heavy tails of SGD on linear regression, and the stable OU check of the Lévy SDE solver.

(a) tail index α solving h(α) = 1 against η for several batch sizes b (d = 3), with Hill
estimates from simulated online SGD chains (±1 asymptotic sd), the h(2) = 1 boundary
(α = 2, dotted verticals at η = 2b/(σ²(b+d+1))) and the no-stationary-law regions
(ρ ≥ 0) shaded; (b) the same for several dimensions d (b = 2); (c) the EM chain of the
α-stable OU process at stationarity: empirical P(|X| > x) against the exact SαS law of
the chain and the continuous-time stationary law; (d) weak error of EM on E|X_T|^p
against the step h (Monte Carlo ± 2 se, and the exact EM error), slope 1.
Full size (20 000 chains × 500 steps, Hill with k = 500): the estimates agree with the
theory within ~10% for α ≤ 3; for α ≳ 4 the Hill estimator is biased low at this
k/n = 2.5% (the power law of a Kesten tail sets in far out), which the figure shows as is.
Plots only: the numbers come from :func:`simulations.kesten.study.alpha_vs_lr` and
:func:`simulations.sde.study.stable_ou_study` (the functions notebooks/03_kesten.ipynb calls).

Default: draws from :data:`DATA_FILE` (``paper/data/fig_kesten.json``), the full-size results
(about 15 minutes on 2 shared cores; the OU sample is kept as its thinned tail), which
``python -m paper.fig_kesten --write-data`` recomputes. ``--reduced``: 2000 chains × 200 steps,
recomputed and stamped.
"""
from __future__ import annotations

from pathlib import Path

from paper import figdata
from paper.figstyle import finish, panel

FIGURES = ["fig_kesten"]
SOURCE = "committed data file paper/data/fig_kesten.json (full-size simulation), about 2 s"
#: the committed full-size results (``python -m paper.fig_kesten --write-data`` rewrites them)
DATA_FILE = figdata.DATA / "fig_kesten.json"
#: sizes: "full" (the data file; about 20 CPU-minutes), "reduced" (``--reduced``), "test" (the test suite)
SIZES = {
    "full": (dict(n_lr=150, n_mc=8, n_chains=20000, steps=500),
             dict(n_paths=400_000, dts=(0.5, 0.25, 0.125, 0.0625, 0.03125), weak_paths=2_000_000)),
    "reduced": (dict(n_lr=40, n_mc=3, n_chains=2000, steps=200),
                dict(n_paths=20_000, dts=(0.5, 0.25, 0.125), weak_paths=50_000)),
    "test": (dict(n_lr=6, n_mc=2, n_chains=300, steps=60), dict(n_paths=3000, dts=(0.5, 0.25), weak_paths=5000)),
}
D_A, BS = 3, (1, 2, 5)
B_B, DS = 2, (1, 3, 10)
OU = dict(alpha=1.5, theta=1.0, sigma=1.0, h=0.5)


def panel_data(size: str, seed: int = 0) -> dict:
    """Theory curves and Monte-Carlo estimates for panels (a) and (b): :func:`simulations.kesten.study.alpha_vs_lr`."""
    from simulations.kesten.study import alpha_vs_lr

    rows = alpha_vs_lr([(b, D_A) for b in BS] + [(B_B, d) for d in DS], seed=seed, **SIZES[size][0])
    return {"a": rows[: len(BS)], "b": rows[len(BS):]}


def ou_data(size: str, seed: int = 1) -> dict:
    """The stable OU panels (c) and (d): :func:`simulations.sde.study.stable_ou_study`."""
    from simulations.sde.study import stable_ou_study

    return stable_ou_study(OU["alpha"], OU["theta"], OU["sigma"], OU["h"], steps=100, seed=seed, **SIZES[size][1])


def thin_tail(x, n_points: int = 400) -> dict:
    """The empirical P(|X| > x) of sample ``x`` at about ``n_points`` points, even in log P."""
    import numpy as np

    xs = np.sort(np.abs(np.asarray(x, dtype=float)))
    surv = 1.0 - np.arange(xs.size) / xs.size
    keep = np.unique(xs.size - np.geomspace(1, xs.size, n_points).astype(int))
    keep = keep[xs[keep] > 0.05]
    return {"x": xs[keep], "surv": surv[keep], "x_max": float(xs[-1]), "n": int(xs.size)}


def compute(size: str) -> dict:
    """Everything the figure draws, at size ``size`` (a key of :data:`SIZES`); the OU sample thinned to its tail."""
    ou = dict(ou_data(size))
    ou["tail"] = thin_tail(ou.pop("x"))
    return {"panels": panel_data(size), "ou": ou}


def draw(fig, pdata: dict, odata: dict) -> None:
    import numpy as np
    import scipy.stats as st

    axes = fig.subplots(2, 2).ravel()
    colors = ["C0", "C1", "C2"]
    for ax, key, lab in ((axes[0], "a", "b"), (axes[1], "b", "d")):
        xmax = max(r["curve"]["lr"][-1] for r in pdata[key])
        for c, r in zip(colors, pdata[key]):
            val = r["batch_size" if lab == "b" else "d"]
            cv = r["curve"]
            ax.plot(cv["lr"], cv["alpha"], color=c, label=f"{lab} = {val}")
            mc = r["mc"]
            ax.errorbar(mc["lr"], mc["alpha_hat"], yerr=mc["sd"], fmt="o", color=c, ms=4, capsize=2)
            ax.axvline(r["lr_var"], color=c, ls=":", lw=1)
            ax.axvspan(r["lr_div"], xmax, color=c, alpha=0.07, lw=0)
        ax.axhline(2.0, color="k", lw=0.8, ls="--")
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles, _ = ax.get_legend_handles_labels()
        handles = handles + [Line2D([], [], color="0.3", label=r"lines: $h(\alpha) = 1$"),
                             Line2D([], [], color="0.3", ls="", marker="o", ms=4, label="dots: Hill on SGD chains (±1 sd)"),
                             Line2D([], [], color="0.3", ls=":", label=r"dotted: $h(2) = 1$ ($\alpha = 2$)"),
                             Patch(color="0.3", alpha=0.15, label=r"shaded: $\rho \geq 0$, no stationary law")]
        ax.set_xlim(0, xmax)
        ax.set_ylim(0, 8)
        ax.set_xlabel("step size η")
        ax.set_ylabel("tail index α")
        fixed = f"d = {D_A}" if key == "a" else f"b = {B_B}"
        panel(ax, key, f"tail index vs step size, {fixed}, σ = 1")
        ax.legend(handles=handles, fontsize=7, loc="upper right")
    # (c) stationary law of the EM chain
    ax = axes[2]
    a = OU["alpha"]
    tail = odata["tail"]
    ax.loglog(tail["x"], tail["surv"], ".", ms=3, color="k", label=f"EM chain, h = {OU['h']}")
    grid = np.geomspace(0.05, tail["x_max"], 200)
    from scipy.special import gamma as G

    c_alpha = 2.0 / np.pi * G(a) * np.sin(np.pi * a / 2)  # P(|X| > x) ~ C_α σ^α x^{−α}
    for sc, lab, c in ((odata["scale_em"], "exact SαS law of the EM chain", "C3"),
                       (odata["scale_ct"], "continuous-time stationary law", "C0")):
        cut = 30.0 * sc  # scipy's sf loses accuracy deep in the tail: asymptotic form beyond
        sf = np.where(grid < cut, 2 * st.levy_stable(a, 0.0, scale=sc).sf(np.minimum(grid, cut)),
                      c_alpha * sc**a * grid ** (-a))
        ax.loglog(grid, sf, color=c, lw=1, label=lab)
    ax.set_xlabel("x")
    ax.set_ylabel("P(|X| > x)")
    panel(ax, "c", f"stable OU (α = {a}, θ = 1): stationary law of EM")
    ax.legend(fontsize=7)
    # (d) weak error
    ax = axes[3]
    w = odata["weak"]
    ax.errorbar(w["dt"], w["error_mc"], yerr=2 * w["se"], fmt="o", color="k", capsize=2,
                label=f"Monte Carlo (order {w['order_mc']:.2f})")
    ax.loglog(w["dt"], w["error_em"], "-", color="C3", label=f"exact EM error (order {w['order_em']:.2f})")
    ax.loglog(w["dt"], w["error_em"][0] * (w["dt"] / w["dt"][0]), ":", color="gray", label="slope 1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(w["dt"])
    ax.set_xticklabels([f"{v:g}" for v in w["dt"]])
    ax.set_xlabel("step h")
    ax.set_ylabel(rf"$|\mathbb{{E}}|X_T|^p - \mathrm{{exact}}|$, $p = {w['p']:.3g}$")
    panel(ax, "d", "weak error of Euler–Maruyama, T = 1")
    ax.legend(fontsize=7)
    fig.tight_layout()


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = compute("reduced") if reduced else figdata.load(DATA_FILE)
    fig = plt.figure(figsize=(10, 8.4))
    draw(fig, data["panels"], data["ou"])
    return finish(fig, Path(outdir), "fig_kesten", reduced)


def main(argv=None) -> int:
    return figdata.write_data_main(argv, "fig_kesten", DATA_FILE, compute, SIZES["full"])


if __name__ == "__main__":
    raise SystemExit(main())
