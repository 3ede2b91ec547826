"""What every paper figure shares: panel titles, the reduced-run stamp, data checks, the manifest.

* :func:`panel` titles a panel ``(a) …``: labels are the figure's panels in reading order.
* :func:`finish` stamps a reduced run (:data:`REDUCED_STAMP`, a large diagonal text on the
  figure), writes ``<name>.pdf``/``<name>.png`` and a manifest ``<name>.json`` listing the
  panel labels, every text drawn (titles, axis and tick labels, legend entries, annotations)
  and whether the run was reduced. The manifest is what the tests check captions against and
  what ``paper/make_tex.py`` reads to mark a reduced figure in its caption.
* :func:`require_datasets` turns missing MNIST / Fashion-MNIST files into a
  :class:`MissingDataError` naming what is missing and where it was looked for: a figure
  that trains on image data never falls back to another data set.
* :func:`table_stamp` is the line a reduced run writes at the top of each table.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from paper.registry import save_figure

#: the text stamped on every figure and table drawn by a reduced run
REDUCED_STAMP = "reduced run — not for publication"
#: a panel title starts with its label: "(a) ...", "(b) ...", ...
PANEL_RE = re.compile(r"^\(([a-z])\)\s")


class MissingDataError(RuntimeError):
    """A figure needs data files that are not there (named in the message)."""


def panel(ax, label: str, title: str, *, capitalize: bool = True, **kw) -> None:
    """Title ``ax`` as panel ``label``: ``"(label) Title"`` (first letter capitalised unless
    ``capitalize=False``, for titles such as "iid entries"), left-aligned."""
    if not re.fullmatch(r"[a-z]", label):
        raise ValueError(f"label must be one lowercase letter, got {label!r}")
    kw.setdefault("fontsize", 9)
    ax.set_title("", loc="center")
    ax.set_title("", loc="right")
    if capitalize:
        title = title[:1].upper() + title[1:]
    ax.set_title(f"({label}) {title}", loc="left", **kw)


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def panel_labels(fig) -> list[str | None]:
    """The label of every panel axes of ``fig`` in creation order (None: a panel without label).

    Colour-bar axes and twin axes (same position as an earlier axes) are not panels.
    """
    out, seen = [], []
    for ax in fig.axes:
        if _is_colorbar(ax):
            continue
        pos = tuple(round(v, 4) for v in ax.get_position().bounds)
        if pos in seen:
            continue
        seen.append(pos)
        title = " ".join(t for t in (ax.get_title("left"), ax.get_title("center"), ax.get_title("right")) if t)
        m = PANEL_RE.match(title)
        out.append(m.group(1) if m else None)
    return out


def figure_texts(fig) -> list[str]:
    """Every non-empty text of ``fig`` (call after drawing: tick labels exist only then)."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


def stamp(fig) -> None:
    """Write :data:`REDUCED_STAMP` across ``fig`` (large, red, translucent, diagonal)."""
    fig.text(0.5, 0.5, REDUCED_STAMP, rotation=20, fontsize=30, color="red", alpha=0.35,
             ha="center", va="center", zorder=1000)


def manifest_path(outdir: Path, name: str) -> Path:
    return Path(outdir) / f"{name}.json"


def finish(fig, outdir: Path, name: str, reduced: bool, dpi: int = 150) -> list[Path]:
    """Stamp (if ``reduced``), save ``outdir/name.{pdf,png}`` and its manifest; return the figure files."""
    if not isinstance(reduced, bool):
        raise TypeError(f"reduced must be a bool, got {reduced!r}")
    if reduced:
        stamp(fig)
    fig.canvas.draw()
    info = {"name": name, "reduced": reduced, "panels": panel_labels(fig), "texts": figure_texts(fig)}
    paths = save_figure(fig, outdir, name, dpi=dpi)
    manifest_path(outdir, name).write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    return paths


def read_manifest(outdir: Path, name: str) -> dict | None:
    """The manifest :func:`finish` wrote for figure ``name`` in ``outdir`` (None if absent)."""
    p = manifest_path(outdir, name)
    return json.loads(p.read_text()) if p.is_file() else None


def table_stamp(reduced: bool) -> str:
    """The first line of a table file: the stamp for a reduced run, else empty."""
    return f"**{REDUCED_STAMP}**\n\n" if reduced else ""


def require_datasets(names, figure: str) -> None:
    """Raise :class:`MissingDataError` unless every data set in ``names`` loads (MNIST, Fashion-MNIST)."""
    from simulations.nn.data import DataError
    from simulations.pruning.data import load_data

    for name in names:
        try:
            load_data(name, 10, 10)
        except DataError as exc:
            raise MissingDataError(
                f"{figure} trains on {name} and its files were not found: {exc}. Set TAILCOMP_DATA to a folder "
                f"holding mnist/ and fashion_mnist/ with the standard .gz IDX files (or download them with "
                f"simulations.nn.load_mnist(download=True)); the figure is not drawn from other data."
            ) from exc


def latex_table(header: list[str], rows: list[list[str]], align: str, reduced: bool = False,
                groups: list[int] | None = None, sections: dict[int, str] | None = None) -> str:
    """A booktabs ``tabular`` (cells are LaTeX); a reduced run adds the stamp as its first row.

    ``groups``: row indices before which a ``\\midrule`` separates groups; ``sections``: row
    index -> a title row (italic, spanning the table) put before that row, e.g. the data set.
    """
    if len(align) != len(header) or any(len(r) != len(header) for r in rows):
        raise ValueError("align, header and every row must have the same number of columns")
    out = [f"\\begin{{tabular}}{{{align}}}", "\\toprule"]
    if reduced:
        out.append(f"\\multicolumn{{{len(header)}}}{{l}}{{\\textcolor{{red}}{{\\textbf{{reduced run --- not for "
                   f"publication}}}}}}\\\\")
    out += [" & ".join(header) + " \\\\", "\\midrule"]
    for i, r in enumerate(rows):
        if (groups and i in groups or sections and i in sections) and i > 0:
            out.append("\\midrule")
        if sections and i in sections:
            out.append(f"\\multicolumn{{{len(header)}}}{{l}}{{\\emph{{{sections[i]}}}}}\\\\")
        out.append(" & ".join(r) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(out) + "\n"


def write_values(outdir: Path, name: str, values: dict[str, str], reduced: bool) -> Path:
    """Numbers a figure run produced, for the paper's text (``<name>_values.json``; keys [a-zA-Z0-9])."""
    bad = [k for k in values if not re.fullmatch(r"[A-Za-z0-9]+", k)]
    if bad:
        raise ValueError(f"value keys must be letters and digits, got {bad}")
    p = Path(outdir) / f"{name}_values.json"
    p.write_text(json.dumps({"reduced": reduced, "values": values}, ensure_ascii=False, indent=1) + "\n")
    return p
