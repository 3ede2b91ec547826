"""Figure and table: the tail index of stochastic gradient noise of MNIST MLPs against the width, with controls.

Şimşekli, Sagun & Gürbüzbalaban (2019, ICML, "A tail-index analysis of stochastic gradient noise in
deep neural networks", §4–5, Fig. 3–5) pool the P·M coordinates of the minibatch gradient noise
U_p = g_p − ḡ of a network into one scalar sample and estimate its tail index with the block-sum
estimator of Mohammadi, Mohammadpour & Ogata (2015, Cor. 2.4); they read α̂ well below 2 (the
Gaussian value) at every width. Here, as in notebooks/08_gradient_noise.ipynb (its full mode):
bias-free ReLU networks of depth 2 and 3 (weight layers) and widths 16–512 trained on MNIST by SGD
(learning rate 0.1 halved at 1/3 and 2/3 of 2000 steps, batch 100, cross-entropy), the pooled α̂
measured every 500 steps on the whole training set (P = 600) and the whole test set (P = 100);
3 seeds. (a, b) pooled α̂ at the last step against the width, mean ± sd over seeds
(:func:`simulations.diagnostics.plots.plot_alpha_vs_width`), train and test set, α = 2 dashed.
(c, d) controls (:func:`simulations.diagnostics.study.noise_controls`) on the stored noise of
separately trained networks of the same protocol (widths 16–256, whose sample fits in memory,
10 000 training rows, P = 100): the pooled α̂, the same values in a random order (no dependence
inside a block), a Gaussian sample with the same per-coordinate variances (the scale mixture
alone) and Hill's estimator on the pooled magnitudes; mean ± sd over 3 seeds.
Computation: :func:`simulations.diagnostics.study.width_study` and ``noise_controls``.
Writes ``table_gradient_noise.{md,tex}`` and values for the text.

Deviations from the paper's protocol (their ``run.py``): 2000 steps instead of 65 000; widths
16–512 and depths 2–3 instead of 4–1024 and 2–10; shuffled epochs (their loader does not shuffle);
exact zeros left out of the logarithms instead of ln(|x| + ε) (the controls report the ε form);
MNIST only, one loss.

Default: draws from :data:`DATA_FILE` (``paper/data/fig_gradient_noise.json``), the full-size results
(about 7 CPU-minutes on a shared core), which ``python -m paper.fig_gradient_noise --write-data``
recomputes. ``--reduced``: the notebook's quick mode at both depths (widths 16, 64, 256, 300 steps, 1000-row
evaluation subsets), recomputed and stamped.
"""
from __future__ import annotations

from pathlib import Path

from paper import figdata
from paper.figstyle import latex_table, table_stamp, write_values

FIGURES = ["fig_gradient_noise"]
SOURCE = "committed data file paper/data/fig_gradient_noise.json (gradient-noise width study), about 2 s"
#: the committed full-size results (``python -m paper.fig_gradient_noise --write-data`` rewrites them)
DATA_FILE = figdata.DATA / "fig_gradient_noise.json"
DATASETS = ("mnist",)
#: the training protocol of every run (the paper's, but for the number of steps)
TRAIN = {"lr": 0.1, "batch_size": 100, "lr_schedule": True}
SPLITS = ("train", "test")
#: the controls, in drawing order: record key -> legend label
CONTROLS = {"alpha": "pooled (all coordinates)", "alpha_shuffled": "shuffled (random order)",
            "alpha_gaussian": "Gaussian, same per-coordinate variances", "hill": "Hill on the pooled magnitudes"}
#: sizes: "full" (the data file; the notebook's full mode), "reduced" (``--reduced``; its quick mode, both depths), "test"
SIZES = {
    "full": {"widths": (16, 32, 64, 128, 256, 512), "depths": (2, 3), "seeds": (0, 1, 2), "steps": 2000,
             "every": 500, "n_eval": None, "n_train": 0, "n_test": 0, "control_widths": (16, 32, 64, 128, 256),
             "control_n_eval": 10000},
    "reduced": {"widths": (16, 64, 256), "depths": (2, 3), "seeds": (0, 1, 2), "steps": 300, "every": 150,
                "n_eval": 1000, "n_train": 0, "n_test": 0, "control_widths": (16, 64), "control_n_eval": 2000},
    "test": {"widths": (16, 32), "depths": (2, 3), "seeds": (0, 1), "steps": 40, "every": 20, "n_eval": 400,
             "n_train": 2000, "n_test": 1000, "control_widths": (16,), "control_n_eval": 400},
}


def controls(data, sz: dict) -> list[dict]:
    """The controls of :func:`~simulations.diagnostics.study.noise_controls` per depth × control width × seed.

    Each network is trained as in the notebook's control cell (``train`` with ``seed``, the same
    protocol as the width study) and its noise stored on ``control_n_eval`` training rows (``seed``).
    """
    from simulations.diagnostics.study import noise_controls
    from simulations.nn import SGD, MLPSpec, Schedule, StopRules, train

    steps, out = sz["steps"], []
    sched = Schedule("step", (steps // 3, 2 * steps // 3), 0.5, "step")
    for depth in sz["depths"]:
        for w in sz["control_widths"]:
            spec = MLPSpec((data.X_train.shape[1],) + (w,) * (depth - 1) + (int(data.n_classes),), bias=False)
            for s in sz["seeds"]:
                res = train(spec, data, optimizer=SGD(TRAIN["lr"], schedule=sched), batch_size=TRAIN["batch_size"],
                            stop=StopRules(max_steps=steps), seed=s)
                if res.status == "diverged":
                    raise RuntimeError(f"control network depth {depth}, width {w}, seed {s} diverged: {res.reason}")
                ctl = noise_controls(res.params, data.X_train, data.y_train, batch_size=TRAIN["batch_size"],
                                     n_eval=sz["control_n_eval"], seed=s)
                out.append({"depth": depth, "width": w, "seed": s, **{k: float(v) for k, v in ctl.items()},
                            "test_acc": float(res.final["test_acc"])})
    return out


def compute(size: str, seed: int = 0) -> dict:
    """The width study (every depth) and the controls at size ``size`` (a key of :data:`SIZES`);
    ``seed`` offsets the seeds of :data:`SIZES`."""
    import time

    from simulations.diagnostics.study import width_study
    from simulations.pruning.data import load_data

    sz = dict(SIZES[size])
    sz["seeds"] = tuple(s + seed for s in sz["seeds"])
    t0 = time.perf_counter()
    rows = []
    for depth in sz["depths"]:
        rows += width_study(sz["widths"], depth=depth, steps=sz["steps"], every=sz["every"], seeds=sz["seeds"],
                            dataset="mnist", n_train=sz["n_train"], n_test=sz["n_test"], lr=TRAIN["lr"],
                            batch_size=TRAIN["batch_size"], n_eval=sz["n_eval"], splits=SPLITS,
                            lr_schedule=TRAIN["lr_schedule"])
    bad = sorted({(r["depth"], r["width"], r["seed"]) for r in rows if r["status"] == "diverged"})
    if bad:
        raise RuntimeError(f"width-study runs diverged (depth, width, seed): {bad}")
    t1 = time.perf_counter()
    ctl = controls(load_data("mnist", sz["n_train"], sz["n_test"]), sz)
    return {"rows": rows, "controls": ctl, "size": size, "settings": {**sz, **TRAIN},
            "seconds": {"width_study": t1 - t0, "controls": time.perf_counter() - t1}}


def _summary(data: dict) -> list[dict]:
    """Per depth × width × split: pooled α̂ at the last step, mean and sd over seeds, and the test accuracy."""
    import numpy as np

    rows = [r for r in data["rows"] if r["layer"] == "all"]
    step = max(r["step"] for r in rows)
    out = []
    for depth in sorted({r["depth"] for r in rows}):
        for w in sorted({r["width"] for r in rows if r["depth"] == depth}):
            for split in SPLITS:
                rs = [r for r in rows if (r["depth"], r["width"], r["split"], r["step"]) == (depth, w, split, step)]
                a = np.array([r["alpha"] for r in rs])
                out.append({"depth": depth, "width": w, "split": split, "step": step, "alphas": a.tolist(),
                            "mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0,
                            "test_acc": float(np.mean([r["test_acc"] for r in rs]))})
    return out


def _control_summary(data: dict) -> list[dict]:
    """Per depth × width: mean and sd over seeds of each control."""
    import numpy as np

    ctl = data["controls"]
    out = []
    for depth in sorted({c["depth"] for c in ctl}):
        for w in sorted({c["width"] for c in ctl if c["depth"] == depth}):
            cs = [c for c in ctl if c["depth"] == depth and c["width"] == w]
            row = {"depth": depth, "width": w, "n": len(cs), "N": int(cs[0]["N"])}
            for k in (*CONTROLS, "alpha_eps"):
                v = np.array([c[k] for c in cs])
                row[k] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0)
            row["eps_diff"] = float(max(abs(c["alpha_eps"] - c["alpha"]) for c in cs))
            out.append(row)
    return out


def _dash_gaussian_line(ax) -> None:
    """Draw the α = 2 (Gaussian) reference of ``ax`` dashed and rebuild the legend."""
    for line in ax.get_lines():
        if line.get_label().startswith("α = 2"):
            line.set_linestyle("--")
    ax.legend(fontsize=7, loc="upper right")


def draw(data: dict):
    """(a, b) pooled α̂ against the width, train and test set; (c, d) the controls at depth 2 and 3."""
    import matplotlib.pyplot as plt

    from paper.figstyle import panel
    from simulations.diagnostics.plots import plot_alpha_vs_width

    st = data["settings"]
    ctl = _control_summary(data)
    depths = sorted({c["depth"] for c in ctl})
    fig, axes = plt.subplots(2, 2, figsize=(9.6, 7.4))
    what = "whole" if st["n_eval"] is None else f"{st['n_eval']} rows of the"
    for ax, split, lab in zip(axes[0], SPLITS, "ab"):
        plot_alpha_vs_width(ax, data["rows"], split)
        _dash_gaussian_line(ax)
        ax.set_ylim(1.0, 2.1)
        ax.set_ylabel(r"block-sum tail index $\hat\alpha$ (all coordinates)")
        panel(ax, lab, f"MNIST gradient noise, {what} {split} set, step {st['steps']}", fontsize=8.5)
    ymax = max(c["hill"][0] + c["hill"][1] for c in ctl)
    colors = {"alpha": "k", "alpha_shuffled": "C2", "alpha_gaussian": "C4", "hill": "C3"}
    for ax, depth, lab in zip(axes[1], depths, "cd"):
        cs = [c for c in ctl if c["depth"] == depth]
        widths = [c["width"] for c in cs]
        for k, label in CONTROLS.items():
            ax.errorbar(widths, [c[k][0] for c in cs], yerr=[c[k][1] for c in cs], fmt="o-", ms=4, capsize=3,
                        color=colors[k], label=label)
        ax.axhline(2.0, color="0.5", ls="--", lw=1, label="α = 2 (Gaussian)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths)
        ax.set_xticklabels([str(w) for w in widths])
        ax.set_ylim(1.0, max(4.0, ymax + 0.2))
        ax.set_xlabel("width")
        ax.set_ylabel(r"tail index $\hat\alpha$ of the stored noise")
        rows = f"{st['control_n_eval']:,}".replace(",", " ")
        panel(ax, lab, f"controls, depth {depth}: {rows} train set rows, step {st['steps']}",
              fontsize=8.5)
    for ax in axes[0]:
        ax.set_xticks(sorted({r["width"] for r in data["rows"]}))
        ax.set_xticklabels([str(w) for w in sorted({r["width"] for r in data["rows"]})])
    handles, labels = axes[1, 0].get_legend_handles_labels()
    order = [i for i, t in enumerate(labels) if not t.startswith("α = 2")] + [i for i, t in enumerate(labels)
                                                                               if t.startswith("α = 2")]
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def tables(data: dict, outdir: Path, reduced: bool) -> list[Path]:
    """``table_gradient_noise.{md,tex}`` (pooled α̂ per depth, width and split; the controls) and the values."""
    import numpy as np

    summ, ctl, st = _summary(data), _control_summary(data), data["settings"]
    md = [table_stamp(reduced) + f"Pooled gradient-noise tail index at step {summ[0]['step']} (mean ± sd over "
          f"{len(st['seeds'])} seeds)\n", "| depth | width | α̂ train | α̂ test | test accuracy |",
          "|---:|---:|---|---|---:|"]
    body = []
    for depth, w in dict.fromkeys((s["depth"], s["width"]) for s in summ):
        tr, te = (next(s for s in summ if (s["depth"], s["width"], s["split"]) == (depth, w, sp)) for sp in SPLITS)
        md.append(f"| {depth} | {w} | {tr['mean']:.3f} ± {tr['sd']:.3f} | {te['mean']:.3f} ± {te['sd']:.3f} | "
                  f"{100 * tr['test_acc']:.2f} % |")
        body.append([str(depth), str(w), f"${tr['mean']:.3f}\\pm{tr['sd']:.3f}$", f"${te['mean']:.3f}\\pm{te['sd']:.3f}$",
                     f"{100 * tr['test_acc']:.1f}"])
    md += ["", f"Controls on the stored noise ({st['control_n_eval']} training rows; mean ± sd over seeds)", "",
           "| depth | width | N | pooled | shuffled | Gaussian | ln(abs + ε) | Hill |", "|---:|---:|---:|---|---|---|---|---|"]
    for c in ctl:
        md.append(f"| {c['depth']} | {c['width']} | {c['N']} | " + " | ".join(
            f"{c[k][0]:.3f} ± {c[k][1]:.3f}" for k in ("alpha", "alpha_shuffled", "alpha_gaussian", "alpha_eps", "hill"))
            + " |")
    (outdir / "table_gradient_noise.md").write_text("\n".join(md) + "\n")
    ctl_tex = [[str(c["depth"]), str(c["width"]), *[f"${c[k][0]:.2f}\\pm{c[k][1]:.2f}$" for k in CONTROLS]]
               for c in ctl]
    header = ["depth", "width", "$\\hat\\alpha$ train", "$\\hat\\alpha$ test", "test acc.\\ (\\%)"]
    tex = latex_table(header, body, "rrllr", reduced)
    tex += "\n\\medskip\n\n" + latex_table(["depth", "width", "pooled", "shuffled", "Gaussian", "Hill"], ctl_tex,
                                           "rrllll", reduced)
    (outdir / "table_gradient_noise.tex").write_text(tex)

    def rng(v):
        return f"{min(v):.2f}", f"{max(v):.2f}"

    vals = {"gnSteps": str(st["steps"]), "gnSeeds": str(len(st["seeds"])), "gnWidthMin": str(min(st["widths"])),
            "gnWidthMax": str(max(st["widths"])), "gnCtlRows": str(st["control_n_eval"]),
            "gnCtlWidthMax": str(max(st["control_widths"]))}
    for split in SPLITS:
        key = split.capitalize()
        vals[f"gn{key}Lo"], vals[f"gn{key}Hi"] = rng([s["mean"] for s in summ if s["split"] == split])
        for depth in sorted({s["depth"] for s in summ}):
            ss = sorted((s for s in summ if s["depth"] == depth and s["split"] == split), key=lambda s: s["width"])
            d = {2: "Two", 3: "Three"}.get(depth, str(depth))
            vals[f"gn{key}D{d}Narrow"], vals[f"gn{key}D{d}Wide"] = f"{ss[0]['mean']:.2f}", f"{ss[-1]['mean']:.2f}"
    vals["gnSdMax"] = f"{max(s['sd'] for s in summ):.3f}"
    vals["gnSingleMax"] = f"{max(max(s['alphas']) for s in summ):.2f}"
    vals["gnAccLo"], vals["gnAccHi"] = (f"{100 * v:.1f}" for v in (min(s["test_acc"] for s in summ),
                                                                   max(s["test_acc"] for s in summ)))
    for k, name in (("alpha", "Pooled"), ("alpha_shuffled", "Shuffled"), ("alpha_gaussian", "Gauss"), ("hill", "Hill")):
        vals[f"gnCtl{name}Lo"], vals[f"gnCtl{name}Hi"] = rng([c[k][0] for c in ctl])
    vals["gnCtlGapMin"] = f"{min(c['alpha_shuffled'][0] - c['alpha'][0] for c in ctl):.2f}"
    vals["gnCtlExcessLo"], vals["gnCtlExcessHi"] = rng([c["alpha_gaussian"][0] - c["alpha_shuffled"][0] for c in ctl])
    vals["gnCtlEpsDiff"] = f"{max(c['eps_diff'] for c in ctl):.1g}"
    vals["gnCtlZeroMax"] = f"{float(np.max([c['zero_fraction'] for c in data['controls']])):.1g}"
    return [outdir / "table_gradient_noise.md", outdir / "table_gradient_noise.tex",
            write_values(outdir, "fig_gradient_noise", vals, reduced)]


def make(outdir: Path, reduced: bool) -> list[Path]:
    return figdata.make_from_data(outdir, reduced, "fig_gradient_noise", DATA_FILE, compute, draw, tables, DATASETS)


def main(argv=None) -> int:
    return figdata.write_data_main(argv, "fig_gradient_noise", DATA_FILE, compute, SIZES["full"])


if __name__ == "__main__":
    raise SystemExit(main())
