"""Plots of the diagnostics against the training step, one line per layer (:mod:`simulations.diagnostics.monitors`).

Each function draws on a given matplotlib ``ax`` from a monitor's tidy ``records``;
:func:`monitor_figure` makes the panels of both monitors. matplotlib is imported only when drawing.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_gradient_noise", "plot_tail_index", "plot_alpha_vs_width", "monitor_figure"]


def _layer_colors(n: int):
    import matplotlib.pyplot as plt

    return plt.cm.viridis(np.linspace(0.0, 0.85, max(n, 1)))


def _lines(ax, records: list[dict], value: str = "alpha") -> None:
    layers = sorted({r["layer"] for r in records if r["layer"] != "all"})
    for col, l in zip(_layer_colors(len(layers)), layers):
        rs = sorted((r for r in records if r["layer"] == l), key=lambda r: r["step"])
        ax.plot([r["step"] for r in rs], [r[value] for r in rs], "o-", ms=3, lw=1.2, color=col, label=f"layer {l + 1}",
                zorder=2)
    pooled = sorted((r for r in records if r["layer"] == "all"), key=lambda r: r["step"])
    if pooled:
        ax.plot([r["step"] for r in pooled], [r[value] for r in pooled], "s--", ms=4, lw=2.0, color="k",
                label="all coordinates", zorder=1)  # under the layers' lines, which it may cover otherwise
    ax.set_xlabel("step")


def plot_gradient_noise(ax, records: list[dict], split: str = "train") -> None:
    """Gradient-noise α̂ against the step: per layer (colours) and pooled (black), one split."""
    rs = [r for r in records if r["split"] == split]
    _lines(ax, rs)
    ax.axhline(2.0, color="0.5", ls=":", lw=1, label="α = 2 (Gaussian)")
    ax.set_ylabel(r"$\hat\alpha$ of the gradient noise")
    ax.set_title(f"gradient noise, {split} set", fontsize=9)
    ax.legend(fontsize=7)


def plot_tail_index(ax, records: list[dict], variant: str = "entries") -> None:
    """Weight tail index (or spectral exponent, ``variant="spectral"``) per layer against the step."""
    rs = [r for r in records if r["variant"] == variant]
    _lines(ax, rs)
    ax.set_ylabel(r"$\hat\alpha$ (spectral exponent)" if variant == "spectral" else r"$\hat\alpha$ of the weights")
    ax.set_title(f"weights: {variant.replace('_', ' ')}", fontsize=9)
    ax.legend(fontsize=7)


def plot_alpha_vs_width(ax, rows: list[dict], split: str = "train", step: int | None = None) -> None:
    """Pooled gradient-noise α̂ against the width (log axis), mean ± sd over seeds, from
    :func:`simulations.diagnostics.study.width_study` rows (at ``step``, default the last measured)."""
    rs = [r for r in rows if r["split"] == split and r["layer"] == "all"]
    step = max(r["step"] for r in rs) if step is None else step
    for depth in sorted({r["depth"] for r in rs}):
        widths = sorted({r["width"] for r in rs if r["depth"] == depth})
        vals = [[r["alpha"] for r in rs if r["depth"] == depth and r["width"] == w and r["step"] == step]
                for w in widths]
        mean = [float(np.mean(v)) for v in vals]
        sd = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in vals]
        ax.errorbar(widths, mean, yerr=sd, fmt="o-", capsize=3, label=f"depth {depth}")
    ax.axhline(2.0, color="0.5", ls=":", lw=1, label="α = 2 (Gaussian)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width")
    ax.set_ylabel(r"$\hat\alpha$ (all coordinates)")
    ax.set_title(f"gradient noise at step {step}, {split} set", fontsize=9)
    ax.legend(fontsize=7)


def monitor_figure(noise_records: list[dict] | None = None, tail_records: list[dict] | None = None,
                   variants: tuple[str, ...] = ("entries", "spectral")):
    """One row of panels: gradient noise per split present, then the weight variants present."""
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(r["split"] for r in noise_records or ()))
    present = {r["variant"] for r in tail_records or ()}
    vs = [v for v in variants if v in present]
    n = len(splits) + len(vs)
    fig, axes = plt.subplots(1, max(n, 1), figsize=(4.2 * max(n, 1), 3.4), squeeze=False)
    for ax, s in zip(axes[0], splits):
        plot_gradient_noise(ax, noise_records, s)
    for ax, v in zip(axes[0][len(splits):], vs):
        plot_tail_index(ax, tail_records, v)
    fig.tight_layout()
    return fig
