"""The figure registry (paper/figures.toml) against paper/fig_*.py, notebooks/ and the figures drawn.

Every registered figure is drawn here — the simulation figures at the modules' "test" size
(stamped as reduced), the store figures from the committed results stores — and its
manifest (paper/figstyle.py) is checked: panel labels unique and in order, every term of
the registry's ``draws`` list shown by the figure and used by its caption, no caption
naming a known term its figure does not show, the reduced stamp present exactly when
reduced. Missing MNIST data for a reduced run is an error naming it.
"""
from __future__ import annotations

import ast
import json
import re
import string
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from paper import figstyle, make_figures, registry  # noqa: E402

FIGS = registry.load_registry()
BY_NAME = {f.name: f for f in FIGS}
MODULES = registry.modules(FIGS)
#: terms a caption might claim; each one a caption uses must be shown by its figure
EXTRA_TERMS = ["IMP", "fine-tuning", "characteristic function", "fractional moment", "rewinding"]
#: line styles are explained per figure, not a claim about content
STYLE_WORDS = {"dotted", "dashed", "shaded", "solid"}
SIMULATION_MODULES = ("fig_stable", "fig_compressibility", "fig_kesten", "fig_noise_injection")
STORE_MODULES = ("fig_pruning", "fig_noise_compression", "fig_predicted_error", "fig_gradient_noise", "fig_methods",
                 "fig_conv")


def _declared_figures(module: str):
    """The module-level FIGURES list, read without importing the module (None if absent)."""
    tree = ast.parse((REPO / "paper" / f"{module}.py").read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "FIGURES" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def norm(text: str) -> str:
    """Text of a caption (LaTeX) or a figure (mathtext) in one form: no $, braces or spacing commands."""
    for a, b in ((r"\alpha", "α"), (r"\kappa", "κ"), (r"\nu", "ν"), (r"\sigma", "σ"), (r"\eta", "η"), ("---", "—"),
                 ("--", "–"), ("~", " "), (r"\,", " "), (r"\%", "%")):
        text = text.replace(a, b)
    text = re.sub(r"[${}\\]", "", text)
    return re.sub(r"\s+", " ", text).lower()


def test_registry_is_well_formed(tmp_path):
    assert FIGS and len({f.name for f in FIGS}) == len(FIGS)
    bad = tmp_path / "bad.toml"
    for body, match in (('colour = "red"\n', "colour"), ('draws = "x"\n', "draws"), ("quick_test = 1\n", "quick_test")):
        bad.write_text('[[figure]]\nname = "a"\nmodule = "fig_a"\nnotebooks = ["01"]\n' + body)
        with pytest.raises(ValueError, match=match):
            registry.load_registry(bad)
    bad.write_text('[[figure]]\nname = "a"\nmodule = "fig_a"\nnotebooks = ["1"]\n')
    with pytest.raises(ValueError, match="notebooks"):
        registry.load_registry(bad)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_registered_module_exists_and_defines_make(module):
    path = REPO / "paper" / f"{module}.py"
    assert path.is_file(), f"{module}: registered in paper/figures.toml but paper/{module}.py does not exist"
    tree = ast.parse(path.read_text())
    make = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "make"]
    assert make and [a.arg for a in make[0].args.args] == ["outdir", "reduced"], f"{module}: make(outdir, reduced)"
    declared = _declared_figures(module)
    if declared is not None:
        assert sorted(declared) == sorted(MODULES[module]), f"{module}.FIGURES disagrees with the registry"


def test_every_figure_module_is_registered():
    unregistered = sorted(set(make_figures.figure_modules()) - set(MODULES))
    assert not unregistered, f"paper modules missing from paper/figures.toml: {unregistered}"


def test_notebooks_and_registry_agree():
    topics = {}
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        topics.setdefault(nb.name[:2], []).append(nb.name)
    promised = {n for f in FIGS for n in f.notebooks}
    missing_nb = sorted(promised - set(topics))
    assert not missing_nb, f"figures registered for notebook topics without a notebook: {missing_nb}"
    without_fig = sorted(set(topics) - promised)
    assert not without_fig, f"notebooks with no registered figure: {[topics[t] for t in without_fig]}"


@pytest.mark.parametrize("fig", FIGS, ids=lambda f: f.name)
def test_caption_uses_every_drawn_term_and_is_latex(fig):
    assert fig.draws, f"{fig.name}: the registry lists no draws terms"
    cap = norm(fig.caption)
    missing = [t for t in fig.draws if norm(t) not in cap]
    assert not missing, f"{fig.name}: caption does not mention {missing}"
    assert not re.search(r"[αβσηκ]|h\(alpha\)", fig.caption), f"{fig.name}: caption maths must be LaTeX"


# ----------------------------------------------------------------------------- drawing every figure


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    """Every registered figure: simulation modules at their "test" size (stamped), store modules from the stores."""
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    out = tmp_path_factory.mktemp("figures")
    for module in SIMULATION_MODULES:
        mod = importlib.import_module(f"paper.{module}")
        data = mod.compute("test")
        if module == "fig_kesten":
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(10, 8.4))
            mod.draw(fig, data["panels"], data["ou"])
        elif module == "fig_stable":
            fig = mod.draw(*data)
        else:
            fig = mod.draw(data)
        figstyle.finish(fig, out, module, reduced=True)
    for module in STORE_MODULES:
        assert make_figures.main(["--only", module, "--outdir", str(out)]) == 0
    assert make_figures.main(["--reduced", "--only", "fig_sweep", "--outdir", str(out)]) == 0
    return out


def test_every_registered_figure_is_drawn(drawn):
    assert registry.missing(drawn, FIGS) == []
    assert all(p.stat().st_size > 1000 for p in drawn.iterdir() if p.suffix in (".pdf", ".png"))


@pytest.mark.parametrize("fig", FIGS, ids=lambda f: f.name)
def test_panel_labels_unique_and_in_order(drawn, fig):
    panels = figstyle.read_manifest(drawn, fig.name)["panels"]
    assert None not in panels, f"{fig.name}: a panel has no (a)/(b)/… label: {panels}"
    assert panels == list(string.ascii_lowercase[: len(panels)]), f"{fig.name}: panel labels {panels}"


@pytest.mark.parametrize("fig", FIGS, ids=lambda f: f.name)
def test_caption_claims_only_what_the_figure_draws(drawn, fig):
    shown = norm(" ".join(figstyle.read_manifest(drawn, fig.name)["texts"]))
    absent = [t for t in fig.draws if norm(t) not in shown]
    assert not absent, f"{fig.name}: the figure does not show {absent}"
    known = {t for f in FIGS for t in f.draws} | set(EXTRA_TERMS)
    cap = norm(fig.caption)
    claimed = [t for t in known - STYLE_WORDS if re.search(rf"(?<![\w–-]){re.escape(norm(t))}(?![\w–-])", cap)]
    unshown = [t for t in claimed if norm(t) not in shown]
    assert not unshown, f"{fig.name}: the caption names {unshown}, which the figure does not show"


def test_reduced_stamp_present_exactly_when_reduced(drawn):
    for f in FIGS:
        man = figstyle.read_manifest(drawn, f.name)
        stamped = figstyle.REDUCED_STAMP in man["texts"]
        assert man["reduced"] == (f.module not in STORE_MODULES), f.name
        assert stamped == man["reduced"], f"{f.name}: stamp {stamped}, reduced {man['reduced']}"


def test_store_figures_read_the_committed_stores_without_writing(drawn):
    data = REPO / "paper" / "data"
    assert not (drawn / "pruning_reduced.sqlite").exists() and not (drawn / "noise_compression_reduced.sqlite").exists()
    assert not (drawn / "comparison_reduced.sqlite").exists()
    assert {p.name for p in data.glob("*.sqlite")} >= {"pruning.sqlite", "noise_compression.sqlite", "comparison.sqlite",
                                                     "comparison_lenet5.sqlite", "noise_versus_lenet5.sqlite"}


def test_reduced_tables_are_stamped(tmp_path):
    from paper import fig_noise_injection, fig_stable

    curves, rows = fig_stable.compute("test")
    md, tex = fig_stable.tables(rows, reduced=True)
    assert md.startswith(f"**{figstyle.REDUCED_STAMP}**") and "not for publication" in tex
    md, tex = fig_stable.tables(rows, reduced=False)
    assert "not for publication" not in md + tex and "\\toprule" in tex
    paths = fig_noise_injection.tables(fig_noise_injection.compute("test")["width"], tmp_path, reduced=True)
    assert all("not for publication" in p.read_text() or p.suffix == ".json" for p in paths)
    assert json.loads(paths[-1].read_text())["reduced"] is True


def test_finish_rejects_a_non_bool_reduced(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with pytest.raises(TypeError, match="reduced"):
        figstyle.finish(fig, tmp_path, "x", reduced=1)
    plt.close(fig)


@pytest.mark.parametrize("module", ["fig_pruning", "fig_noise_compression", "fig_gradient_noise"])
def test_reduced_run_without_mnist_is_an_error_naming_it(module, tmp_path, monkeypatch):
    import importlib

    from simulations.pruning import data as pdata

    monkeypatch.setenv("TAILCOMP_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.setattr(pdata, "_CACHE", {})
    mod = importlib.import_module(f"paper.{module}")
    with pytest.raises(figstyle.MissingDataError, match="mnist.*TAILCOMP_DATA"):
        mod.make(tmp_path / "out", True)
    assert not list((tmp_path / "out").glob("*.sqlite")), "nothing may be trained on substitute data"


def test_default_figures_need_their_committed_data(tmp_path, monkeypatch):
    from paper import fig_kesten, fig_pruning

    monkeypatch.setattr(fig_kesten, "DATA_FILE", tmp_path / "fig_kesten.json")
    with pytest.raises(FileNotFoundError, match="--write-data"):
        fig_kesten.make(tmp_path, False)
    monkeypatch.setenv("TAILCOMP_PRUNING_STORE", str(tmp_path / "none.sqlite"))
    with pytest.raises(FileNotFoundError, match="none.sqlite"):
        fig_pruning.make(tmp_path, False)


def test_figure_data_round_trip(tmp_path):
    import numpy as np

    from paper import figdata
    from simulations.noise_injection.study import fit_width_slope

    fit = fit_width_slope(np.array([10.0, 20, 40, 10, 20, 40]), np.array([1.0, 0.8, 0.6, 1.1, 0.7, 0.65]))
    data = {"a": np.arange(3.0), "fit": fit, "t": (1, 2), "nan": float("nan")}
    back = figdata.load(figdata.save(tmp_path / "x.json", data, about="test"))
    assert np.array_equal(back["a"], data["a"]) and back["a"].dtype == np.float64
    assert back["fit"].slope == fit.slope and list(back["fit"].ci) == list(fit.ci)
    assert back["t"] == [1, 2] and np.isnan(back["nan"])
    with pytest.raises(TypeError, match="cannot store"):
        figdata.save(tmp_path / "y.json", {"x": object()}, about="test")


def test_read_store_names_the_missing_store_and_data_sets(tmp_path):
    from paper.figdata import read_store

    with pytest.raises(FileNotFoundError, match="nope.sqlite.*run make-it"):
        read_store(tmp_path / "nope.sqlite", lambda p: [], experiment="x", command="make-it")
    store = tmp_path / "s.sqlite"
    store.write_bytes(b"")
    rows = [{"dataset": "mnist"}]
    assert read_store(store, lambda p: rows, experiment="x", command="c", datasets=["mnist"]) == rows
    with pytest.raises(ValueError, match=r"no finished x runs for \['fashion_mnist'\]"):
        read_store(store, lambda p: rows, experiment="x", command="c", datasets=["mnist", "fashion_mnist"])
    with pytest.raises(ValueError, match="no finished x runs"):
        read_store(store, lambda p: [], experiment="x", command="c")
