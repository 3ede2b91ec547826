"""The figure registry (``paper/figures.toml``): what every notebook topic promises.

    python -m paper.registry                       # list the registry
    python -m paper.registry --check paper/figures # exit 1 listing figures missing there

Used by ``tests/test_paper_figures.py`` and ``paper/main.tex`` (through
``paper/make_tex.py``, which writes the figure environments).
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REGISTRY = HERE / "figures.toml"
EXTENSIONS = ("pdf", "png")
_KEYS = {"name", "module", "notebooks", "quick_test", "caption", "draws"}


@dataclass(frozen=True)
class Figure:
    name: str
    module: str
    notebooks: tuple[str, ...]
    quick_test: bool
    caption: str
    draws: tuple[str, ...] = ()

    def files(self, outdir: Path) -> list[Path]:
        return figure_files(outdir, self.name)


def figure_files(outdir: Path, name: str) -> list[Path]:
    """The files of figure ``name`` in ``outdir``: one per extension in :data:`EXTENSIONS`."""
    return [Path(outdir) / f"{name}.{ext}" for ext in EXTENSIONS]


def save_figure(fig, outdir: Path, name: str, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``outdir/name.{pdf,png}`` (creating outdir), close it, return the paths."""
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = figure_files(outdir, name)
    for pth in paths:
        fig.savefig(pth, dpi=dpi)
    plt.close(fig)
    return paths


def load_registry(path: Path = REGISTRY) -> list[Figure]:
    """Parse and check the registry (unknown keys, duplicates, malformed names ⇒ ValueError)."""
    doc = tomllib.loads(Path(path).read_text())
    unknown_top = set(doc) - {"figure"}
    if unknown_top:
        raise ValueError(f"{path}: unknown top-level key(s) {sorted(unknown_top)}; use [[figure]] tables")
    figs, seen = [], set()
    for i, d in enumerate(doc.get("figure", [])):
        where = f"{path}: figure #{i + 1} ({d.get('name', '?')})"
        bad = set(d) - _KEYS
        if bad:
            raise ValueError(f"{where}: unknown key(s) {sorted(bad)}; valid: {sorted(_KEYS)}")
        for key in ("name", "module", "notebooks"):
            if key not in d:
                raise ValueError(f"{where}: missing key {key!r}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", d["name"]):
            raise ValueError(f"{where}: name must be a file stem of letters, digits, _ and -")
        if not re.fullmatch(r"fig_[A-Za-z0-9_]+", d["module"]):
            raise ValueError(f"{where}: module must be a paper/fig_*.py module name, got {d['module']!r}")
        nbs = d["notebooks"]
        if isinstance(nbs, str):
            nbs = [nbs]
        if not nbs or not all(isinstance(n, str) and re.fullmatch(r"\d\d", n) for n in nbs):
            raise ValueError(f"{where}: notebooks must be a list of two-digit topic numbers like \"04\"")
        draws = d.get("draws", [])
        if not isinstance(draws, list) or not all(isinstance(t, str) and t.strip() for t in draws):
            raise ValueError(f"{where}: draws must be a list of non-empty strings (terms the figure shows)")
        if not isinstance(d.get("caption", ""), str):
            raise ValueError(f"{where}: caption must be a string (LaTeX)")
        if d["name"] in seen:
            raise ValueError(f"{where}: duplicate figure name {d['name']!r}")
        seen.add(d["name"])
        quick = d.get("quick_test", False)
        if not isinstance(quick, bool):
            raise ValueError(f"{where}: quick_test must be true or false, got {quick!r}")
        figs.append(Figure(d["name"], d["module"], tuple(nbs), quick, d.get("caption", ""), tuple(draws)))
    return figs


def modules(figs: list[Figure] | None = None) -> dict[str, list[str]]:
    """module -> figure names it must write."""
    out: dict[str, list[str]] = {}
    for f in figs if figs is not None else load_registry():
        out.setdefault(f.module, []).append(f.name)
    return out


def missing(outdir: Path, figs: list[Figure] | None = None, only_modules=None) -> list[Path]:
    """Registered figure files absent from ``outdir`` (optionally only those of some modules)."""
    figs = figs if figs is not None else load_registry()
    return [p for f in figs if only_modules is None or f.module in only_modules for p in f.files(outdir) if not p.is_file()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", type=Path, default=None, metavar="DIR", help="list registered figures missing in DIR")
    args = p.parse_args(argv)
    figs = load_registry()
    if args.check is None:
        for f in figs:
            print(f"{f.name:<28} {f.module + '.py':<26} notebooks {','.join(f.notebooks)}")
        return 0
    miss = missing(args.check, figs)
    for m in miss:
        print(f"missing: {m}")
    print(f"{len(figs) * len(EXTENSIONS) - len(miss)}/{len(figs) * len(EXTENSIONS)} registered figure files present in {args.check}")
    return 1 if miss else 0


if __name__ == "__main__":
    raise SystemExit(main())
