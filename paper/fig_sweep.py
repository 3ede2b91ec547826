"""The sweep tool on the toy Kesten chain: estimated vs exact Lyapunov exponent, and divergence.

SGD on one-dimensional least squares is x_{k+1} = M_k x_k + Q_k with
M_k = 1 - (η/b) χ²_b (Gürbüzbalaban, Şimşekli & Zhu 2021, ICML); it has a stationary
heavy-tailed law when λ = E log|M| < 0 and diverges when λ > 0.  Left: λ̂ (mean over
seeds, ± s.e.) from the results store against η for several b, with the exact λ
(:func:`theory.kesten.rho`, d = 1) as lines.  Right: the fraction of runs the sweep stored
as ``diverged`` (|x| > 1e100 within the run's steps, so runs with λ > 0 small are caught
only when λ·steps > ln 1e100 ≈ 230).  The runs come from
:func:`simulations.sweep.study.toy_sweep`.

The default runs the full toy sweep (25 step sizes × 3 batch sizes × 10 seeds of 20 000 steps,
about 20 s on 2 cores) into a temporary store (``$TAILCOMP_TOY_STORE`` keeps it); ``--reduced``
runs 8 step sizes × 3 seeds of 2 000 steps (about a second) and stamps the figure.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from paper.figstyle import finish, panel

#: Figure files (stems) this module writes into outdir, as .pdf and .png.
FIGURES = ["fig_sweep_toy"]
SOURCE = "simulation at full size (750 toy SGD runs of 20 000 steps, 2 worker processes), about 20 s"


def make(outdir: Path, reduced: bool) -> list[Path]:
    env = os.environ.get("TAILCOMP_TOY_STORE")
    if env and not reduced:
        return _make(Path(outdir), reduced, Path(env))
    with tempfile.TemporaryDirectory(prefix="tailcomp-fig-sweep-") as tmp:
        return _make(Path(outdir), reduced, Path(tmp) / "toy.db")


def _make(outdir: Path, reduced: bool, store: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simulations.sweep import plot_metric
    from simulations.sweep.study import lyapunov_exponent, lyapunov_table, toy_sweep

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sweep = toy_sweep(store, quick=reduced, workers=0 if reduced else None)
    table = lyapunov_table(sweep)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    plot_metric(sweep.rows, "lyapunov_hat", "lr", "batch_size", ax=ax0, status=("done", "diverged"))
    grid = np.linspace(min(sweep.lrs), max(sweep.lrs), 60)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, b in zip(colors, sweep.batch_sizes):
        lam = np.array([lyapunov_exponent(e, b) for e in grid])
        ax0.plot(grid, lam, color=color, lw=1, alpha=0.7)
        ax1.plot(sweep.lrs, [t["diverged_fraction"] for t in table if t["batch_size"] == b], "o-", color=color,
                 label=f"b = {b}")
        if (lam > 0).any():
            ax1.axvline(grid[np.argmax(lam > 0)], color=color, lw=0.8, ls="--")
    ax0.axhline(0.0, color="k", lw=0.6, ls=":")
    handles, labels = ax0.get_legend_handles_labels()
    ax0.legend(handles, [lab.replace("batch_size=", "b = ") for lab in labels], fontsize="small")
    ax0.set_ylabel(r"$\hat\lambda$ (points) vs $E\log|1-\frac{\eta}{b}\chi^2_b|$ (lines)")
    ax0.set_xlabel(r"step size $\eta$")
    ax1.set_xlabel(r"step size $\eta$")
    ax1.set_ylabel("fraction of runs diverged")
    panel(ax0, "a", r"Lyapunov exponent: estimate (points) vs exact (lines)")
    panel(ax1, "b", r"divergence (dashed: exact $\lambda = 0$)")
    ax1.legend(fontsize="small")
    fig.tight_layout()
    return finish(fig, outdir, "fig_sweep_toy", reduced, dpi=150)
