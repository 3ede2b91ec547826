"""Write the LaTeX that ``paper/main.tex`` includes: formulas, numbers, tables and figures.

    python -m paper.make_tex [--outdir paper/generated] [--figures paper/figures]

Everything in ``generated/`` is computed, never typed:

* ``eq_*.tex`` — display formulas printed by :func:`sympy.latex` from ``theory/`` (h(2), h(4)
  and the α = 2 boundary of :mod:`theory.kesten`, the SαS moment and tail constant of
  :mod:`theory.stable`, the closed forms of G_p[F](κ) of :mod:`theory.compressibility`). Long
  sums are split over lines (``multline*``), so that no formula runs off the page. A formula
  that cannot be computed prints a boxed note saying why.
* ``values.tex`` — ``\\val{key}``: the numbers the text quotes, from the committed results
  stores (``paper/data/*.sqlite``, opened read-only) and from the figure runs
  (``figures/*_values.json``); a number whose source is missing prints a bold placeholder,
  and a number from a reduced run is marked with a dagger.
* ``table_*.tex`` — booktabs tables from the stores (pruning baselines, pruning trends,
  noise injection as compression).
* ``figure_<name>.tex`` (and all of them in ``figures.tex``) — the ``figure`` environment of
  each registry entry (``paper/figures.toml``), labelled ``fig:<name>``:
  the caption is the registry's LaTeX caption, followed by what the figure was drawn from;
  a figure drawn by a reduced run (its manifest says so) gets the caption prefix
  "Reduced run --- not for publication"; a figure not built yet prints a placeholder.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET_TEX = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: characters of sympy LaTeX per line of a split formula, and the longest formula kept on one line
LINE_CHARS = 110
ONE_LINE_CHARS = 140


def _box(msg: str) -> str:
    return "\\par\\noindent\\fbox{\\parbox{0.95\\linewidth}{\\small " + tex_escape(msg) + "}}\\par\n"


def tex_escape(text: str) -> str:
    """Escape plain text for LaTeX (not maths)."""
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "–": "--", "—": "---", "’": "'", "“": "``", "”": "''", "α": r"$\alpha$", "σ": r"$\sigma$",
            "η": r"$\eta$", "κ": r"$\kappa$", "×": r"$\times$", "≤": r"$\le$", "·": r"$\cdot$", "⁶": r"$^6$",
            "²": r"$^2$", "⁴": r"$^4$", "⁷": r"$^7$"}
    return "".join(repl.get(c, c) for c in text)


# ----------------------------------------------------------------------------- formulas


def split_display(lhs: str, expr, line_chars: int = LINE_CHARS) -> str:
    """``lhs = expr`` as a display; one longer than :data:`ONE_LINE_CHARS` characters of LaTeX, a
    fraction of a sum, becomes ``\\frac{1}{den}[t1 + t2 \\\\ + …]``.

    The terms of the numerator (``as_ordered_terms``) are packed into lines of at most
    ``line_chars`` characters of LaTeX, in a ``multline*`` environment.
    """
    import sympy as sp

    body = sp.latex(expr)
    if len(body) <= ONE_LINE_CHARS:
        return f"\\begin{{equation*}}\n{lhs} = {body}\n\\end{{equation*}}\n"
    num, den = sp.fraction(sp.together(expr))
    terms = num.as_ordered_terms() if isinstance(num, sp.Add) else [num]
    lines, cur = [], ""
    for i, t in enumerate(terms):
        s = sp.latex(t)
        piece = s if i == 0 else (f"- {sp.latex(-t)}" if s.startswith("-") else f"+ {s}")
        if cur and len(cur) + len(piece) > line_chars:
            lines.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    lines.append(cur)
    pre = f"\\frac{{1}}{{{sp.latex(den)}}}\\Bigl[" if den != 1 else ""
    post = "\\Bigr]" if den != 1 else ""
    return ("\\begin{multline*}\n" + f"{lhs} = {pre}" + " \\\\\n".join(lines) + f"{post}\n\\end{{multline*}}\n")


def _formulas() -> dict[str, callable]:
    def kesten(name):
        def f():
            from theory import kesten as K

            return {"h2": split_display("h(2)", K.h2_symbolic()), "h4": split_display("h(4)", K.h4_symbolic()),
                    "boundary": split_display(r"\eta_{\mathrm{var}}", K.variance_boundary_symbolic())}[name]
        return f

    def stable_moment():
        import sympy as sp

        from theory import stable as S

        return f"\\begin{{equation*}}\n\\mathbb{{E}}|X|^p = {sp.latex(S.abs_moment_expr())}, \\qquad -1 < p < \\alpha,\n\\end{{equation*}}\n"

    def stable_tail():
        import sympy as sp

        from theory import stable as S

        return (f"\\begin{{equation*}}\nC_\\alpha = {sp.latex(S.tail_constant_expr())}, \\qquad "
                f"P(|X| > x) \\sim {sp.latex(S.tail_asymptotic_expr())}\n\\end{{equation*}}\n")

    def closed_forms():
        from theory.compressibility import closed_form, closed_form_names

        names = {"pareto": "Pareto I", "lomax": "Lomax", "genpareto": "generalised Pareto", "laplace": "Laplace",
                 "gennorm": "generalised Gaussian", "normal": "normal", "student_t": "Student-$t_\\nu$"}
        rows = []
        for n in closed_form_names():
            lhs, rhs = closed_form(n).latex().split("=", 1)
            lhs = lhs.replace("G_p(\\kappa)", "G_p[F](\\kappa)")
            rows.append(f"\\text{{{names.get(n, n)}:}}\\quad & {lhs.strip()} = {rhs.strip()}")
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"

    return {"eq_h2": kesten("h2"), "eq_h4": kesten("h4"), "eq_boundary": kesten("boundary"),
            "eq_stable_moment": stable_moment, "eq_stable_tail": stable_tail, "eq_closed_forms": closed_forms}


def write_formulas(outdir: Path) -> list[Path]:
    out = []
    for name, fn in _formulas().items():
        try:
            text = fn()
        except Exception as exc:  # the paper still builds, and says what is missing
            text = _box(f"formula {name} could not be computed from theory/: {type(exc).__name__}: {exc}")
        p = outdir / f"{name}.tex"
        p.write_text(f"% generated by paper/make_tex.py from theory/ -- do not edit\n{text}")
        out.append(p)
    return out


# ----------------------------------------------------------------------------- stores


def _sci(v: float) -> str:
    """3e-4 as ``3\\cdot10^{-4}`` (LaTeX maths)."""
    m, e = f"{v:.0e}".split("e")
    return f"{m}\\cdot10^{{{int(e)}}}" if int(e) < -1 else f"{v:g}"


def _pm(ms, scale: float = 100.0, digits: int = 1) -> str:
    m, s = ms
    return f"${scale * m:.{digits}f} \\pm {scale * s:.{digits}f}$"


def store_values(pruning: Path, noise: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(values for the text, LaTeX tables) from the two committed results stores."""
    from paper.figstyle import latex_table
    from simulations.pruning.tables import BASELINE_LABELS, baselines_table, trend_summary
    from simulations.sweep import ResultsStore

    vals: dict[str, str] = {}
    tabs: dict[str, str] = {}
    with ResultsStore(pruning, create=False, readonly=True) as st:
        trends = trend_summary(st)
        base = baselines_table(st)
    rows = []
    for t in trends:
        key = "M" if t["dataset"] == "mnist" else "F"
        r = t["rho_alpha_eta_b"]
        vals[f"runs{key}"] = str(t["runs"])
        vals[f"rhoAlphaFirst{key}"] = f"{r[0]:+.2f}"
        vals[f"rhoAlphaLast{key}"] = f"{r[-1]:+.2f}"
        acc = t["acc_magnitude_layer_at"]
        vals[f"accEightLo{key}"] = f"{100 * min(acc):.1f}"
        vals[f"accEightHi{key}"] = f"{100 * max(acc):.1f}"
        for m in ("magnitude_layer", "magnitude_global", "node", "spectral"):
            vals[f"rhoAcc{m.title().replace('_', '')}{key}"] = f"{t[f'rho_acc_eta_b_{m}']:+.2f}"
        vals[f"rhoPrunable{key}"] = f"{t['rho_prunable_alpha']:+.2f}"

        def f(v):
            return "--" if v != v else f"${v:+.2f}$"

        rows.append([DATASET_TEX[t["dataset"]], str(t["runs"])] + [f(v) for v in r] +
                    [f(t[f"rho_acc_eta_b_{m}"]) for m in ("magnitude_layer", "magnitude_global", "node", "spectral")]
                    + [f(t["rho_prunable_alpha"])])
    L = len(trends[0]["rho_alpha_eta_b"])
    tabs["table_pruning_trends"] = latex_table(
        ["data", "runs"] + [f"$\\hat\\alpha_{l + 1}$" for l in range(L)] + ["mag.\\ (layer)", "mag.\\ (global)", "node",
                                                                            "spectral", "prunable"],
        rows, "lr" + "r" * (L + 5))
    sps = sorted({b["sparsity"] for b in base if b["method"] != "dense"})
    rows, groups = [], []
    for d in ("mnist", "fashion_mnist"):
        groups.append(len(rows))
        for m, label in BASELINE_LABELS.items():
            cells = {b["sparsity"]: b for b in base if b["dataset"] == d and b["method"] == m}
            if not cells:
                continue
            if m == "dense":
                dense = cells[0.0]
                vals[f"dense{'M' if d == 'mnist' else 'F'}"] = _pm((dense["mean"], dense["spread"]))
                continue
            rows.append([label] + [_pm((cells[s]["mean"], cells[s]["spread"])) if s in cells else "--" for s in sps])
            for s in sps:
                if s in cells:
                    vals[f"base{m.title().replace('_', '')}{'M' if d == 'mnist' else 'F'}{int(round(100 * s))}"] = \
                        _pm((cells[s]["mean"], cells[s]["spread"]))
    tabs["table_baselines"] = latex_table(["method"] + [f"{100 * s:g}\\,\\%" for s in sps], rows,
                                          "l" + "r" * len(sps), sections={g: DATASET_TEX[d] for g, d in
                                                                          zip(groups, ("mnist", "fashion_mnist"))})
    from simulations.noise_compression import comparison_table

    with ResultsStore(noise, create=False, readonly=True) as st:
        nrows = comparison_table(st)
    sp = nrows[0]["sparsities"]
    rows, groups = [], []
    for d in ("mnist", "fashion_mnist"):
        groups.append(len(rows))
        for r in (r for r in nrows if r["dataset"] == d):
            key = ("M" if d == "mnist" else "F") + ("SGD" if not r["sigma"] else
                                                    f"A{r['alpha']:g}S{r['sigma']:g}".replace(".", "").replace("-", "m"))
            vals[f"nc{key}Dense"] = _pm(r["dense_acc"])
            vals[f"nc{key}Prunable"] = f"{r['prunable_neurons_mean'][0]:.2f}"
            for s, v in zip(sp, r["oneshot_magnitude"]):
                vals[f"nc{key}Mag{int(round(100 * s))}"] = _pm(v)
            method = "plain SGD" if not r["sigma"] else f"noise $\\alpha={r['alpha']:g}$, $\\sigma={_sci(r['sigma'])}$"
            rows.append([method, _pm(r["dense_acc"]), f"{r['prunable_neurons_mean'][0]:.2f}"]
                        + [_pm(v) for v in r["oneshot_magnitude"]])
            for name, lab in (("imp_iteration", "IMP, weight rewinding"), ("imp_lr", "LR rewinding")):
                if r.get(name):
                    rows.append([lab, "", ""] + [_pm(v) for v in r[name]])
                    for s, v in zip(sp, r[name]):
                        vals[f"nc{'M' if d == 'mnist' else 'F'}{name.replace('_', '').title()}{int(round(100 * s))}"] = _pm(v)
    tabs["table_noise_compression"] = latex_table(
        ["training / method", "dense", "prunable"] + [f"{100 * s:g}\\,\\%" for s in sp], rows,
        "lrr" + "r" * len(sp), sections={g: DATASET_TEX[d] for g, d in zip(groups, ("mnist", "fashion_mnist"))})
    return vals, tabs


def figure_values(figdir: Path) -> dict[str, str]:
    """Values the figure runs wrote (``*_values.json``); a reduced run's values carry a dagger."""
    out = {}
    for p in sorted(Path(figdir).glob("*_values.json")) if Path(figdir).is_dir() else []:
        doc = json.loads(p.read_text())
        mark = "$^\\dagger$" if doc.get("reduced") else ""
        for k, v in doc["values"].items():
            v = str(v)
            out[k] = (f"${v}$" if re.fullmatch(r"[+\-]?\d+(\.\d+)?", v) else
                      f"${v}$" if re.fullmatch(r"\[[+\-]?\d+(\.\d+)?, [+\-]?\d+(\.\d+)?\]", v) else tex_escape(v)) + mark
    return out


def write_values(outdir: Path, figdir: Path, pruning: Path, noise: Path) -> list[Path]:
    lines = ["% generated by paper/make_tex.py from paper/data/ and the figure runs -- do not edit",
             "\\makeatletter",
             "\\newcommand{\\val}[1]{\\@ifundefined{tcval@#1}{\\textbf{[#1: run make figures]}}"
             "{\\csname tcval@#1\\endcsname}}"]
    paths = []
    try:
        vals, tabs = store_values(pruning, noise)
    except Exception as exc:
        vals, tabs = {}, {}
        lines.append(f"% results stores not read: {type(exc).__name__}: {exc}".replace("\n", " "))
        for name in ("table_pruning_trends", "table_baselines", "table_noise_compression"):
            tabs[name] = _box(f"table not generated: the results stores could not be read ({type(exc).__name__}: {exc})")
    for name, text in tabs.items():
        p = outdir / f"{name}.tex"
        p.write_text(f"% generated by paper/make_tex.py from paper/data/ -- do not edit\n{text}")
        paths.append(p)
    for k, v in sorted({**vals, **figure_values(figdir)}.items()):
        lines.append(f"\\expandafter\\def\\csname tcval@{k}\\endcsname{{{v}}}")
    lines.append("\\makeatother")
    p = outdir / "values.tex"
    p.write_text("\n".join(lines) + "\n")
    return [p, *paths]


# ----------------------------------------------------------------------------- figures


def write_figures(outdir: Path, figdir: Path) -> Path:
    from paper import make_figures
    from paper.figstyle import read_manifest
    from paper.registry import load_registry

    blocks = ["% generated by paper/make_tex.py from paper/figures.toml -- do not edit"]
    rel = Path("figures")
    for f in load_registry():
        pdf = (rel / f"{f.name}.pdf").as_posix()
        man = read_manifest(figdir, f.name)
        import importlib

        if str(HERE.parent) not in sys.path:
            sys.path.insert(0, str(HERE.parent))
        source = getattr(importlib.import_module(f"paper.{f.module}"), "SOURCE", "") if f.module in \
            make_figures.figure_modules() else ""
        source = re.sub(r",?\s*about [^,;]*$", "", source)
        prefix = "\\textcolor{red}{\\textbf{Reduced run --- not for publication.}} " if man and man["reduced"] else ""
        drawn = "recomputed at reduced size" if man and man["reduced"] else source
        caption = f"{prefix}{f.caption} Drawn from: {tex_escape(drawn)} (\\texttt{{paper/{tex_escape(f.module)}.py}})."
        block = (
            "\\begin{figure}[tbp]\n\\centering\n"
            f"\\IfFileExists{{{pdf}}}{{\\includegraphics[width=\\linewidth]{{{pdf}}}}}"
            f"{{\\fbox{{\\parbox{{0.8\\linewidth}}{{\\centering Figure \\texttt{{{tex_escape(f.name)}}} not built yet: "
            f"run \\texttt{{make figures}}.}}}}}}\n"
            f"\\caption{{{caption}}}\\label{{fig:{f.name}}}\n\\end{{figure}}\n")
        (outdir / f"figure_{f.name}.tex").write_text(f"% generated by paper/make_tex.py -- do not edit\n{block}")
        blocks.append(block)
    path = outdir / "figures.tex"
    path.write_text("\n".join(blocks))
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outdir", type=Path, default=HERE / "generated")
    p.add_argument("--figures", type=Path, default=HERE / "figures", help="where make_figures wrote the figures")
    args = p.parse_args(argv)
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    from paper.fig_noise_compression import STORE as NOISE_STORE
    from paper.fig_pruning import STORE as PRUNING_STORE

    args.outdir.mkdir(parents=True, exist_ok=True)
    written = write_formulas(args.outdir)
    written += write_values(args.outdir, args.figures, PRUNING_STORE, NOISE_STORE)
    written.append(write_figures(args.outdir, args.figures))
    for w in written:
        print(f"[make_tex] wrote {w}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
