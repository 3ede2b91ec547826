"""The sweep tool on the toy Kesten chain: estimated vs exact Lyapunov exponent, and divergence.

SGD on one-dimensional least squares is x_{k+1} = M_k x_k + Q_k with
M_k = 1 - (η/b) χ²_b (Gürbüzbalaban, Şimşekli & Zhu 2021); it has a stationary heavy-tailed
law when λ = E log|M| < 0 and diverges when λ > 0.  Left: λ̂ (mean over seeds, ± s.e.)
from the results store against η for several b, with the quadrature of λ as lines.
Right: the fraction of runs the sweep stored as ``diverged`` (|x| > 1e100 within the
run's steps, so runs with λ > 0 small are caught only when λ·steps > ln 1e100 ≈ 230).

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

    from simulations.experiments.toy import lyapunov_exponent
    from simulations.sweep.core import ResultsStore, expand_grid, plot_metric, run_sweep

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    etas = [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0] if quick else list(np.round(np.linspace(0.2, 5.0, 25), 3))
    batches = [1, 2, 4]
    steps, seeds = (2000, 3) if quick else (20_000, 10)
    configs = expand_grid("toy", {"eta": etas, "batch": batches}, base={"steps": steps, "eval_every": steps // 4})
    run_sweep("toy", configs, store, seeds=seeds, workers=0 if quick else None, progress=False)

    with ResultsStore(store, create=False) as st:
        rows = [r for r in st.rows("toy") if r["steps"] == steps and r["eta"] in etas and r["batch"] in batches]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    plot_metric(rows, "lyapunov_hat", "eta", "batch", ax=ax0, status=("done", "diverged"))
    grid = np.linspace(min(etas), max(etas), 60)
    for color, b in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], batches):
        ax0.plot(grid, [lyapunov_exponent(e, b) for e in grid], color=color, lw=1, alpha=0.7)
    ax0.axhline(0.0, color="k", lw=0.6, ls=":")
    ax0.set_ylabel(r"$\hat\lambda$ (points) vs $E\log|1-\frac{\eta}{b}\chi^2_b|$ (lines)")
    ax0.set_xlabel(r"step size $\eta$")
    for color, b in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], batches):
        fr = []
        for e in etas:
            sel = [r for r in rows if r["batch"] == b and r["eta"] == e]
            fr.append(np.mean([r["status"] == "diverged" for r in sel]) if sel else np.nan)
        ax1.plot(etas, fr, "o-", color=color, label=f"b={b}")
        lam = np.array([lyapunov_exponent(e, b) for e in grid])
        if (lam > 0).any():
            ax1.axvline(grid[np.argmax(lam > 0)], color=color, lw=0.8, ls="--")
    ax1.set_xlabel(r"step size $\eta$")
    ax1.set_ylabel("fraction of runs diverged")
    ax1.set_title(r"dashed: $\lambda=0$", fontsize="small")
    ax1.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, outdir, "fig_sweep_toy", dpi=110)
