"""paper/make_tex.py: the LaTeX that main.tex includes, generated from theory/ and the figure registry."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from paper import make_tex, registry  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    assert make_tex.main(["--outdir", str(out)]) == 0
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


def test_theory_section_inputs_every_module(generated):
    main = (generated / "theory.tex").read_text()
    inputs = re.findall(r"\\input\{generated/([^}]+)\}", main)
    assert inputs == [f"theory_{m}" for m in make_tex.THEORY_MODULES]
    for name in inputs:
        text = (generated / f"{name}.tex").read_text()
        assert _balanced(text), name


def test_theory_equations_are_sympy_latex_of_the_modules(generated):
    sp = pytest.importorskip("sympy")
    stable = pytest.importorskip("theory.stable")
    text = (generated / "theory_stable.tex").read_text()
    # independent of make_tex's collection logic: the printed form of two known results
    assert sp.latex(stable.abs_moment_expr()) in text
    assert sp.latex(stable.tail_constant_expr()) in text


def test_missing_or_broken_theory_module_is_skipped_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tex, "THEORY_MODULES", ("does_not_exist",))
    paths = make_tex.write_theory(tmp_path)
    text = (tmp_path / "theory_does_not_exist.tex").read_text()
    assert "% skipped: theory.does_not_exist not included" in text and _balanced(text)
    assert paths[0].read_text().count("\\input") == 1


def test_figures_tex_lists_every_registered_figure_guarded(generated):
    text = (generated / "figures.tex").read_text()
    names = [f.name for f in registry.load_registry()]
    assert re.findall(r"\\label\{fig:([^}]+)\}", text) == names
    for n in names:
        assert f"\\IfFileExists{{figures/{n}.pdf}}" in text
    assert _balanced(text)


def test_main_tex_uses_the_generated_files_and_the_bibliography():
    tex = (REPO / "paper" / "main.tex").read_text()
    assert "\\generated{theory}" in tex and "\\generated{figures}" in tex
    bib = (REPO / "paper" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    cited = {k.strip() for group in re.findall(r"\\cite[tp]?\{([^}]+)\}", tex) for k in group.split(",")}
    assert cited and cited <= keys, sorted(cited - keys)


@pytest.mark.parametrize("raw, expected", [("a_b", r"a\_b"), ("50%", r"50\%"), ("α ≤ 2", r"\ensuremath{\alpha} \ensuremath{\le} 2")])
def test_tex_escape(raw, expected):
    assert make_tex.tex_escape(raw) == expected
