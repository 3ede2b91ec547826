"""Figure: compressibility by heavy-tailed noise injection in mean-field two-layer networks.

(a) relative Frobenius error after keeping the 10% largest-norm neurons vs width, per
(α, σ), median over seeds with a 10–90% band, fitted slope with 99% CI in the legend;
(b) Hill tail index of the neuron norms (largest width) vs the injected α;
(c) pruning error and training loss vs σ (width fixed); (d) the theorem's step size
η = n^{−α/2−1} vs a fixed step at the same time horizon t. Computations:
:func:`simulations.noise_injection.study.width_study`, ``sigma_study``, ``step_size_study``.
Writes the width-slope table ``table_noise_injection.{md,tex}`` and its values for the text.

Default: draws from :data:`DATA_FILE` (``paper/data/fig_noise_injection.json``), the full-size
results (widths 10² … 10⁴, 16 seeds; about 8 CPU-minutes), which
``python -m paper.fig_noise_injection --write-data`` recomputes. ``--reduced``: widths up to
10³, 4 seeds, recomputed and stamped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper import figdata
from paper.figstyle import finish, panel, write_values

CASES = [(1.5, 1.0), (1.75, 1.0), (1.9, 1.0), (2.0, 1.0), (2.0, 0.0)]


#: sizes: "full" (the committed data file), "reduced" (``--reduced``), "test" (the test suite)
SIZES = {
    "full": {"widths": [100, 316, 1000, 3162, 10000], "n_seeds": 16, "sigma_width": 3162, "sigma_seeds": 8,
             "step_widths": [16, 32, 64, 128]},
    "reduced": {"widths": [100, 316, 1000], "n_seeds": 4, "sigma_width": 1000, "sigma_seeds": 3,
                "step_widths": [16, 32, 64]},
    "test": {"widths": [30, 60, 120], "n_seeds": 3, "sigma_width": 60, "sigma_seeds": 2, "step_widths": [8, 16]},
}
#: the committed full-size results (``python -m paper.fig_noise_injection --write-data`` rewrites them)
DATA_FILE = figdata.DATA / "fig_noise_injection.json"


def compute(size: str, seed: int = 0) -> dict:
    from simulations.noise_injection import study

    sz = SIZES[size]
    ws = study.width_study(sz["widths"], CASES, n_seeds=sz["n_seeds"], steps=20, lr=0.25, seed=seed)
    ss = study.sigma_study([0.0, 0.03, 0.1, 0.3, 1.0, 3.0], [1.5, 1.75, 2.0], width=sz["sigma_width"],
                        n_seeds=sz["sigma_seeds"], steps=20, lr=0.25, seed=seed)
    st = study.step_size_study(sz["step_widths"], 1.5, t=1.0, n_seeds=sz["n_seeds"], seed=seed)
    return {"width": ws, "sigma": ss, "step": st}


def _label(a, s):
    return "no noise" if s == 0 else (f"Gaussian (α=2), σ={s:g}" if a == 2 else f"α={a:g}, σ={s:g}")


FIGURES = ["fig_noise_injection"]
SOURCE = "committed data file paper/data/fig_noise_injection.json (full-size simulation), about 2 s"


def make(outdir: Path, reduced: bool) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")

    data = compute("reduced") if reduced else figdata.load(DATA_FILE)
    fig = draw(data)
    outdir = Path(outdir)
    paths = finish(fig, outdir, "fig_noise_injection", reduced, dpi=130)
    return paths + tables(data["width"], outdir, reduced)


def draw(data: dict):
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from theory.noise_injection import gaussian_noise_limit, predicted_error_exponent

    ws, ss, st = data["width"], data["sigma"], data["step"]
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.6))
    ax = axes[0, 0]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(ws["cases"])))
    for c, ((a, s), slope) in enumerate(zip(ws["cases"], ws["slopes"])):
        e = ws["errors"][c]
        med = np.nanmedian(e, axis=1)
        lo, hi = np.nanquantile(e, [0.1, 0.9], axis=1)
        ax.fill_between(ws["widths"], lo, hi, color=colors[c], alpha=0.2)
        pred = predicted_error_exponent(a) if s > 0 else 0.0
        ax.plot(ws["widths"], med, "o-", color=colors[c],
                label=f"{_label(a, s)}: slope {slope.slope:+.3f} [{slope.ci[0]:+.3f}, {slope.ci[1]:+.3f}] (iid: {pred:+.2f})")
    g = gaussian_noise_limit(ws["kappa"], ws["d"], init_var=1.0 / ws["d"], sigma=1.0, t=ws["t"], noise=ws["noise"])
    ax.axhline(g, color="k", ls=":", lw=1, label=f"α=2 drift-free Gaussian limit G₂(κ) = {g:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel=f"rel. Frobenius error, keep {ws['kappa']:.0%}")
    panel(ax, "a", "pruning error vs width (median, 10–90% band)")
    ax.set_xticks(ws["widths"], [f"{w:g}" for w in ws["widths"]])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7, loc="lower left", framealpha=0.8, title="slope of log error vs log n [99% CI]",
              title_fontsize=7)

    ax = axes[0, 1]
    noisy = [(c, a) for c, (a, s) in enumerate(ws["cases"]) if s > 0]
    al = np.array([a for _, a in noisy])
    h = np.array([ws["hill"][c] for c, _ in noisy])
    ax.boxplot(list(h), positions=al, widths=0.04, manage_ticks=False)
    ax.plot([1.4, 2.05], [1.4, 2.05], "k--", lw=1, label="α̂ = α")
    ax.set(xlabel="injected α", ylabel="Hill α̂ of neuron norms", xlim=(1.4, 2.1))
    panel(ax, "b", f"tail index of neuron norms (n = {ws['widths'][-1]})")
    ax.set_yscale("log")
    ax.text(0.02, 0.97, "Hill (k = ⌈√n⌉) is biased upward on stable laws near α = 2", transform=ax.transAxes,
            fontsize=8, va="top")
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1, 0]
    ax2 = ax.twinx()
    sig = ss["sigmas"]
    xs = np.where(sig == 0, sig[1] / 3 if sig.size > 1 else 1e-3, sig)
    for i, a in enumerate(ss["alphas"]):
        ax.plot(xs, np.median(ss["errors"][i], axis=1), "o-", label=f"error, α={a:g}")
        ax2.plot(xs, np.median(ss["loss"][i], axis=1), "s--", alpha=0.6, label=f"loss, α={a:g}")
    ax.set(xscale="log", xlabel="σ (leftmost point: σ = 0)", ylabel="pruning error (keep 10%)")
    panel(ax, "c", f"effect of σ (n = {ss['width']})")
    ax2.set_ylabel("training MSE")
    ax2.set_yscale("log")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center left")

    ax = axes[1, 1]
    for row, lab in enumerate(st["labels"]):
        e = st["errors"][row]
        ax.errorbar(st["widths"] * (1 + 0.03 * row), np.nanmedian(e, axis=1),
                    yerr=np.abs(np.nanquantile(e, [0.1, 0.9], axis=1) - np.nanmedian(e, axis=1)),
                    fmt="o-", capsize=3, label=f"{lab}, steps {st['steps'][row][0]}…{st['steps'][row][-1]}")
    ax.set_xscale("log")
    ax.set_xticks(st["widths"], [str(w) for w in st["widths"]])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(xlabel="width n", ylabel="pruning error (keep 10%)")
    panel(ax, "d", f"step-size condition, α = {st['alpha']:g}, t = {st['t']:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _key(a: float, s: float) -> str:
    return "none" if s == 0 else "A" + f"{a:g}".replace(".", "")


def tables(ws: dict, outdir: Path, reduced: bool) -> list[Path]:
    """The width-slope table (markdown, LaTeX) and its values for the text."""
    from paper.figstyle import latex_table, table_stamp

    md = [table_stamp(reduced) + "| noise | slope | 99 % CI |", "|---|---|---|"]
    rows, vals = [], {}
    for (a, s), fit in zip(ws["cases"], ws["slopes"]):
        lab = "no noise" if s == 0 else (f"Gaussian, σ = {s:g}" if a == 2 else f"α = {a:g}, σ = {s:g}")
        tex = "no noise" if s == 0 else (f"Gaussian ($\\alpha = 2$), $\\sigma = {s:g}$" if a == 2
                                         else f"$\\alpha = {a:g}$, $\\sigma = {s:g}$")
        md.append(f"| {lab} | {fit.slope:+.3f} | [{fit.ci[0]:+.3f}, {fit.ci[1]:+.3f}] |")
        rows.append([tex, f"${fit.slope:+.3f}$", f"$[{fit.ci[0]:+.3f}, {fit.ci[1]:+.3f}]$"])
        k = _key(a, s)
        vals[f"slope{k}"] = f"{fit.slope:+.3f}"
        vals[f"ci{k}"] = f"[{fit.ci[0]:+.3f}, {fit.ci[1]:+.3f}]"
    vals["widthMin"] = f"{min(ws['widths']):g}"
    vals["widthMax"] = f"{max(ws['widths']):g}"
    vals["seeds"] = str(np.shape(ws["errors"])[2])
    (outdir / "table_noise_injection.md").write_text("\n".join(md) + "\n")
    (outdir / "table_noise_injection.tex").write_text(
        latex_table(["noise", "slope", "99\\,\\% CI"], rows, "lrr", reduced))
    return [outdir / "table_noise_injection.md", outdir / "table_noise_injection.tex",
            write_values(outdir, "fig_noise_injection", vals, reduced)]


def main(argv=None) -> int:
    return figdata.write_data_main(argv, "fig_noise_injection", DATA_FILE, compute, SIZES["full"])


if __name__ == "__main__":
    raise SystemExit(main())
