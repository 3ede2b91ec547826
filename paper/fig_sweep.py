"""The sweep tool on the toy Kesten chain: estimated vs exact Lyapunov exponent, and divergence.

SGD on one-dimensional least squares is x_{k+1} = M_k x_k + Q_k with
M_k = 1 - (η/b) χ²_b (Gürbüzbalaban, Şimşekli & Zhu 2021, ICML); it has a stationary
heavy-tailed law when λ = E log|M| < 0 and diverges when λ > 0.  Left: λ̂ (mean over
seeds, ± s.e.) from the results store against η for several b, with the exact λ
(:func:`theory.kesten.rho`, d = 1) as lines.  Right: the fraction of runs the sweep stored
as ``diverged`` (|x| > 1e100 within the run's steps, so runs with λ > 0 small are caught
only when λ·steps > ln 1e100 ≈ 230).  The runs come from
:func:`simulations.sweep.study.toy_sweep`.

Quick mode runs a small sweep into a temporary store (about a second); full mode runs (or
resumes) the paper-size sweep into ``paper/data/toy.db`` (``$TAILCOMP_TOY_STORE``) and reads it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from paper.registry import save_figure

#: Figure files (stems) this module writes into outdir, as .pdf and .png.
FIGURES = ["fig_sweep_toy"]


def make(outdir: Path, quick: bool) -> list[Path]:
    if quick:
        with tempfile.TemporaryDirectory(prefix="tailcomp-fig-sweep-") as tmp:
            return _make(Path(outdir), quick, Path(tmp) / "sweep_quick.db")
    store = Path(os.environ.get("TAILCOMP_TOY_STORE", Path(__file__).resolve().parent / "data" / "toy.db"))
    return _make(Path(outdir), quick, store)


def _make(outdir: Path, quick: bool, store: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simulations.sweep import plot_metric
    from simulations.sweep.study import lyapunov_exponent, lyapunov_table, toy_sweep

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sweep = toy_sweep(store, quick=quick, workers=0 if quick else None)
    table = lyapunov_table(sweep)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    plot_metric(sweep.rows, "lyapunov_hat", "lr", "batch_size", ax=ax0, status=("done", "diverged"))
    grid = np.linspace(min(sweep.lrs), max(sweep.lrs), 60)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, b in zip(colors, sweep.batch_sizes):
        lam = np.array([lyapunov_exponent(e, b) for e in grid])
        ax0.plot(grid, lam, color=color, lw=1, alpha=0.7)
        ax1.plot(sweep.lrs, [t["diverged_fraction"] for t in table if t["batch_size"] == b], "o-", color=color,
                 label=f"b={b}")
        if (lam > 0).any():
            ax1.axvline(grid[np.argmax(lam > 0)], color=color, lw=0.8, ls="--")
    ax0.axhline(0.0, color="k", lw=0.6, ls=":")
    ax0.set_ylabel(r"$\hat\lambda$ (points) vs $E\log|1-\frac{\eta}{b}\chi^2_b|$ (lines)")
    ax0.set_xlabel(r"step size $\eta$")
    ax1.set_xlabel(r"step size $\eta$")
    ax1.set_ylabel("fraction of runs diverged")
    ax1.set_title(r"dashed: $\lambda=0$", fontsize="small")
    ax1.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, outdir, "fig_sweep_toy", dpi=110)
