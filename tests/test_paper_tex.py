"""paper/make_tex.py and paper/main.tex: formulas from theory/, numbers and tables from the stores, the build.

The compile test runs latexmk on a copy of the paper (with the generated files, the
simulation tables at the test size, no figure files) and reads the log: no LaTeX error, no
undefined reference or citation, no overfull box wider than 20 pt. It is skipped, with the
reason, where latexmk is not installed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from paper import make_tex, registry  # noqa: E402

PAPER = REPO / "paper"
MAIN = (PAPER / "main.tex").read_text()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    assert make_tex.main(["--outdir", str(out), "--figures", str(out / "no-figures")]) == 0
    return out


def _balanced(text: str) -> bool:
    begins = re.findall(r"\\begin\{([a-z*]+)\}", text)
    ends = re.findall(r"\\end\{([a-z*]+)\}", text)
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0 and sorted(begins) == sorted(ends)


def test_formulas_are_sympy_latex_of_theory(generated):
    sp = pytest.importorskip("sympy")
    from theory import kesten, stable

    assert sp.latex(stable.abs_moment_expr()) in (generated / "eq_stable_moment.tex").read_text()
    assert sp.latex(stable.tail_constant_expr()) in (generated / "eq_stable_tail.tex").read_text()
    assert sp.latex(kesten.h2_symbolic()) in (generated / "eq_h2.tex").read_text()
    for name in ("eq_h2", "eq_h4", "eq_boundary", "eq_stable_moment", "eq_stable_tail", "eq_closed_forms"):
        text = (generated / f"{name}.tex").read_text()
        assert _balanced(text) and "fbox" not in text, name


def test_long_formula_is_split_into_lines_that_sum_to_the_expression(generated):
    sp = pytest.importorskip("sympy")
    from theory import kesten

    text = (generated / "eq_h4.tex").read_text()
    assert "\\begin{multline*}" in text
    body = text.split("\\begin{multline*}")[1].split("\\end{multline*}")[0]
    lines = body.strip().split("\\\\")
    assert len(lines) >= 3 and all(len(line) <= make_tex.LINE_CHARS + 40 for line in lines)
    # independent check: the numerator's terms, printed, each appear once in the display
    num, den = sp.fraction(sp.together(kesten.h4_symbolic()))
    for t in num.as_ordered_terms():
        assert sp.latex(t).lstrip("-") in body
    assert f"\\frac{{1}}{{{sp.latex(den)}}}" in body


def test_split_display_keeps_short_formulas_on_one_line():
    sp = pytest.importorskip("sympy")
    x = sp.Symbol("x")
    assert "equation*" in make_tex.split_display("f", x**2 + 1)
    long = sum(sp.Symbol(f"a_{{{i}}}") * x**i for i in range(40)) / 7
    out = make_tex.split_display("g", long, line_chars=60)
    assert "\\frac{1}{7}" in out
    assert "multline*" in out and out.count("\\\\") >= 3


def test_tables_and_values_come_from_the_stores(generated):
    from simulations.pruning.tables import baselines_table
    from simulations.sweep import ResultsStore

    values = (generated / "values.tex").read_text()
    with ResultsStore(PAPER / "data" / "pruning.sqlite", create=False, readonly=True) as st:
        base = baselines_table(st)
    dense = next(b for b in base if b["dataset"] == "mnist" and b["method"] == "dense")
    assert f"{{${100 * dense['mean']:.1f} \\pm {100 * dense['spread']:.1f}$}}" in values
    imp = next(b for b in base if b["dataset"] == "mnist" and b["method"] == "imp_iteration" and b["sparsity"] == 0.98)
    cell = f"${100 * imp['mean']:.1f} \\pm {100 * imp['spread']:.1f}$"
    assert cell in (generated / "table_baselines.tex").read_text()
    for name in ("table_baselines", "table_pruning_trends", "table_noise_compression"):
        text = (generated / f"{name}.tex").read_text()
        assert "\\toprule" in text and "\\bottomrule" in text and _balanced(text), name


def test_every_value_the_text_quotes_has_a_source(generated, tmp_path):
    defined = set(re.findall(r"tcval@(\w+)\\endcsname", (generated / "values.tex").read_text()))
    quoted = set(re.findall(r"\\val\{(\w+)\}", MAIN))
    # the rest are written by the figure runs (paper/fig_stable.py, fig_noise_injection.py, fig_predicted_error.py,
    # fig_gradient_noise.py, fig_methods.py)
    from_figures = {"nEst", "repsEst", "bsRmseMax", "hillBiasEighteen", "bsBiasTThree", "hillBiasTThree",
                    "widthMin", "widthMax", "seeds"} | {f"{p}{k}" for p in ("slope", "ci")
                                                        for k in ("A15", "A175", "A19", "A2", "none")}
    from_figures |= {"testaccmnist", "testaccfashionmnist", "maxdiffmnistgennorm", "maxdifffashionmnistgennorm",
                     "maxdiffmniststudentt", "maxdiffmnistsas"}
    from_figures |= {"gnWidthMin", "gnWidthMax", "gnSteps", "gnSeeds", "gnAccLo", "gnAccHi", "gnTrainLo", "gnTrainHi",
                     "gnTestLo", "gnTestHi", "gnSdMax", "gnTrainDThreeNarrow", "gnTrainDThreeWide", "gnTrainDTwoWide",
                     "gnCtlWidthMax", "gnCtlRows", "gnCtlShuffledLo", "gnCtlShuffledHi", "gnCtlPooledLo",
                     "gnCtlPooledHi", "gnCtlGapMin", "gnCtlGaussLo", "gnCtlGaussHi", "gnCtlHillLo", "gnCtlHillHi",
                     "gnCtlEpsDiff", "gnTrainDTwoNarrow", "gnCtlExcessLo", "gnCtlExcessHi"}
    # fig_methods and fig_conv write their values from the committed stores: write them here and read the keys back
    import json

    from paper import fig_methods

    tab = fig_methods.read_table(fig_methods.STORE)
    fig_methods.write_table(tab, tmp_path, reduced=False)
    fig_methods.write_noise_table(fig_methods.read_noise_table(fig_methods.NOISE_STORE), tab, tmp_path, reduced=False)
    fig_methods.write_conv_table(fig_methods.read_table(fig_methods.CONV_STORE, conv=True),
                                 fig_methods.read_noise_table(fig_methods.CONV_NOISE_STORE, conv=True), tmp_path,
                                 reduced=False)
    from paper import fig_conv

    fig_conv.write_table(fig_conv.read_table(fig_conv.STORE), tmp_path, reduced=False)
    for name in ("fig_methods", "fig_methods_noise", "fig_methods_lenet5", "fig_conv"):
        from_figures |= set(json.loads((tmp_path / f"{name}_values.json").read_text())["values"])
    assert quoted - defined <= from_figures, sorted(quoted - defined - from_figures)


def test_figure_environments_follow_the_registry(generated, tmp_path):
    names = [f.name for f in registry.load_registry()]
    text = (generated / "figures.tex").read_text()
    assert re.findall(r"\\label\{fig:([^}]+)\}", text) == names and _balanced(text)
    for f in registry.load_registry():
        block = (generated / f"figure_{f.name}.tex").read_text()
        assert f.caption in block and f"\\IfFileExists{{figures/{f.name}.pdf}}" in block
        assert "not for publication" not in block
        assert f"\\fig{{{f.name}}}" in MAIN, f"main.tex does not place figure {f.name}"
        assert f"\\ref{{fig:{f.name}}}" in MAIN, f"main.tex never refers to figure {f.name}"
    # a figure drawn by a reduced run is marked in its caption
    import json

    figdir = tmp_path / "figures"
    figdir.mkdir()
    (figdir / "fig_stable.json").write_text(json.dumps({"name": "fig_stable", "reduced": True, "panels": [], "texts": []}))
    make_tex.write_figures(tmp_path, figdir)
    assert "Reduced run --- not for publication" in (tmp_path / "figure_fig_stable.tex").read_text()
    assert "not for publication" not in (tmp_path / "figure_fig_kesten.tex").read_text()


def test_every_bibliography_entry_is_cited_and_every_citation_exists():
    bib = (PAPER / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    tex = MAIN + "".join(f.caption for f in registry.load_registry())
    cited = {k.strip() for group in re.findall(r"\\cite[tp]?\*?(?:\[[^]]*\])?\{([^}]+)\}", tex)
             for k in group.split(",")}
    cited |= {k.strip() for group in re.findall(r"\\citealp\{([^}]+)\}", tex) for k in group.split(",")}
    assert cited <= keys, sorted(cited - keys)
    assert keys <= cited, f"uncited entries: {sorted(keys - cited)}"
    md = (PAPER / "bibliography.md").read_text()
    assert all(f"`{k}`" in md for k in keys), sorted(k for k in keys if f"`{k}`" not in md)


def test_theorems_are_written_by_hand_with_sources():
    envs = re.findall(r"\\begin\{(theorem|proposition|lemma|corollary)\}\[([^\]]*)\]", MAIN)
    assert len(envs) >= 8
    assert all("cite" in name or "derived" in name for _, name in envs), envs
    assert not re.search(r"_expr|_symbolic|closed form:", MAIN)


def test_tex_escape():
    assert make_tex.tex_escape("a_b 50%") == r"a\_b 50\%"
    assert make_tex.tex_escape("α ≤ 2") == r"$\alpha$ $\le$ 2"


# ----------------------------------------------------------------------------- the build


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed: the PDF build is not tested")
def test_paper_compiles_without_undefined_references_or_overfull_boxes(tmp_path, generated):
    from paper import fig_gradient_noise, fig_noise_injection, fig_predicted_error, fig_stable, figdata

    work = tmp_path / "paper"
    work.mkdir()
    for name in ("main.tex", "references.bib"):
        shutil.copy(PAPER / name, work / name)
    shutil.copytree(generated, work / "generated")
    figs = work / "figures"
    figs.mkdir()
    _, rows = fig_stable.compute("test")
    (figs / "table_stable.tex").write_text(fig_stable.tables(rows, reduced=True)[1])
    fig_noise_injection.tables(fig_noise_injection.compute("test")["width"], figs, reduced=True)
    fig_predicted_error.tables(figdata.load(fig_predicted_error.DATA_FILE), figs, reduced=False)  # committed data
    fig_gradient_noise.tables(figdata.load(fig_gradient_noise.DATA_FILE), figs, reduced=False)  # committed data
    from paper import fig_methods

    tab = fig_methods.read_table(fig_methods.STORE)                                       # committed stores
    fig_methods.write_table(tab, figs, reduced=False)
    fig_methods.write_noise_table(fig_methods.read_noise_table(fig_methods.NOISE_STORE), tab, figs, reduced=False)
    fig_methods.write_conv_table(fig_methods.read_table(fig_methods.CONV_STORE, conv=True),
                                 fig_methods.read_noise_table(fig_methods.CONV_NOISE_STORE, conv=True), figs,
                                 reduced=False)
    make_tex.main(["--outdir", str(work / "generated"), "--figures", str(figs)])
    proc = subprocess.run(["latexmk", "-pdf", "-bibtex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
                          cwd=work, capture_output=True, text=True, timeout=300)
    log = (work / "main.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert not re.search(r"undefined (references|citations)|Reference `[^']*' on page \d+ undefined|"
                         r"Citation `[^']*' on page \d+ undefined", log), \
        re.findall(r"(?:Reference|Citation) `[^']*'", log)
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(w <= 20.0 for w in widths), f"overfull boxes (pt): {widths}"
    assert (work / "main.pdf").stat().st_size > 10_000
