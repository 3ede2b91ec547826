"""Write the LaTeX that ``paper/main.tex`` includes: the theory section and the figures.

    python -m paper.make_tex [--outdir paper/generated]

* ``generated/theory_<module>.tex`` — for each of ``theory.stable``,
  ``theory.compressibility``, ``theory.kesten``, ``theory.noise_injection`` that imports,
  every symbolic result the module exposes, printed with :func:`sympy.latex`:

  1. if the module defines ``latex_equations() -> list[tuple[str, str]]`` (title, LaTeX
     body), that list is used as is (the preferred hook for module authors);
  2. otherwise every public function named ``*_expr`` or ``*_symbolic``, or annotated as
     returning sympy objects (``-> sp.Expr``, ``-> dict[str, sp.Basic]``), whose arguments
     all have defaults is called with the defaults, and so is ``closed_form(name)`` for
     each ``closed_form_names()``; results that are sympy objects, objects with a
     ``latex()`` method, or dicts of those are printed.

  A module that fails to import, or a function that raises or takes longer than
  ``--timeout`` seconds, is skipped with a LaTeX comment saying why: the theory modules
  evolve independently and the paper must build from whatever exists.
* ``generated/theory.tex`` — ``\\input`` of each file above.
* ``generated/figures.tex`` — one ``figure`` environment per entry of the figure registry
  (``paper/figures.toml``), each wrapped in ``\\IfFileExists`` so that a figure not yet
  produced by ``make figures`` prints a placeholder instead of breaking the build.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import re
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
THEORY_MODULES = ("stable", "compressibility", "kesten", "noise_injection")
TITLES = {
    "stable": r"$\alpha$-stable laws",
    "compressibility": "Compressible distributions",
    "kesten": "Heavy tails of SGD on linear regression (Kesten)",
    "noise_injection": "Noise-injected SGD on two-layer networks",
}


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return

    def handler(signum, frame):
        raise _Timeout(f"took longer than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_UNICODE = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "η": r"\eta",
    "θ": r"\theta", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi",
    "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "φ": r"\varphi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "Γ": r"\Gamma", "Σ": r"\Sigma", "Φ": r"\Phi", "Ω": r"\Omega", "≤": r"\le", "≥": r"\ge", "≈": r"\approx",
    "→": r"\to", "⇒": r"\Rightarrow", "∞": r"\infty", "∈": r"\in", "×": r"\times", "·": r"\cdot",
    "−": "-", "‖": r"\|", "≠": r"\neq", "∼": r"\sim", "√": r"\surd", "∫": r"\int", "∂": r"\partial",
}


def tex_escape(text: str) -> str:
    """Escape text (not maths) for LaTeX; Greek letters and common maths symbols become maths."""
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "–": "--", "—": "---", "’": "'", "“": "``", "”": "''"}
    out = []
    for c in text:
        if c in repl:
            out.append(repl[c])
        elif c in _UNICODE:
            out.append(f"\\ensuremath{{{_UNICODE[c]}}}")
        else:
            out.append(c)
    return "".join(out)


def _to_latex(obj) -> list[tuple[str, str]]:
    """(suffix, latex) pairs for a sympy object, an object with .latex(), or a dict of them."""
    import sympy as sp

    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            if k == "symbols":  # a table of the symbols used, not a result
                continue
            out += [(f"{k}{s}", body) for s, body in _to_latex(v)]
        return out
    if hasattr(obj, "latex") and callable(obj.latex):
        return [("", str(obj.latex()))]
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return [("", sp.latex(obj))]
    if isinstance(obj, tuple) and len(obj) == 2 and all(isinstance(o, sp.Basic) for o in obj):
        return [("", sp.latex(sp.Eq(obj[0], obj[1], evaluate=False)))]
    return []


def _defaults_only(fn) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in sig.parameters.values())


def collect(module_name: str, timeout: float = 30.0) -> tuple[list[tuple[str, str]], list[str], str]:
    """(equations as (title, latex)), notes about what was skipped, first docstring line) of one theory module."""
    notes: list[str] = []
    try:
        mod = importlib.import_module(f"theory.{module_name}")
    except Exception as exc:  # the module may not exist yet or be broken: say so, go on
        return [], [f"theory.{module_name} not included: {type(exc).__name__}: {exc}"], ""
    doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
    if hasattr(mod, "latex_equations"):
        try:
            with _time_limit(timeout):
                return [(str(a), str(b)) for a, b in mod.latex_equations()], notes, doc
        except Exception as exc:
            notes.append(f"latex_equations() failed: {type(exc).__name__}: {exc}")
    eqs: list[tuple[str, str]] = []
    public = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    for name in public:
        fn = getattr(mod, name, None)
        if not callable(fn) or isinstance(fn, type):
            continue
        ret = str(getattr(fn, "__annotations__", {}).get("return", ""))
        if not (re.search(r"(_expr|_symbolic)$", name) or re.search(r"\bsp\.|sympy", ret)):
            continue
        if getattr(fn, "__module__", mod.__name__) != mod.__name__ or not _defaults_only(fn):
            continue
        try:
            with _time_limit(timeout):
                got = _to_latex(fn())
        except Exception as exc:
            notes.append(f"{name}() skipped: {type(exc).__name__}: {exc}")
            continue
        eqs += [(f"{name}{suffix and ' — ' + suffix}", body) for suffix, body in got]
    if hasattr(mod, "closed_form_names") and hasattr(mod, "closed_form"):
        try:
            names = list(mod.closed_form_names())
        except Exception as exc:
            names = []
            notes.append(f"closed_form_names() failed: {type(exc).__name__}: {exc}")
        for cf_name in names:
            try:
                with _time_limit(timeout):
                    got = _to_latex(mod.closed_form(cf_name))
            except Exception as exc:
                notes.append(f"closed_form({cf_name!r}) skipped: {type(exc).__name__}: {exc}")
                continue
            eqs += [(f"closed form: {cf_name}", body) for _, body in got]
    return eqs, notes, doc


def _equation_block(title: str, body: str) -> str:
    body = body.strip()
    env = "align*" if r"\\" in body and "&" in body else "equation*"
    return f"\\paragraph{{{tex_escape(title)}}}\n\\begin{{{env}}}\n{body}\n\\end{{{env}}}\n"


def write_theory(outdir: Path, timeout: float = 30.0) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written, inputs = [], []
    for m in THEORY_MODULES:
        eqs, notes, doc = collect(m, timeout)
        lines = [f"% generated by paper/make_tex.py from theory.{m} -- do not edit",
                 f"\\subsection{{{TITLES.get(m, tex_escape(m))}}}\\label{{sec:theory-{m.replace('_', '-')}}}"]
        lines += [f"% skipped: {n}".replace("\n", " ") for n in notes]
        if doc:
            lines.append(f"\\noindent\\emph{{From \\texttt{{theory.{tex_escape(m)}}}:}} {tex_escape(doc)}\n")
        if not eqs:
            lines.append(f"\\noindent(\\texttt{{theory.{tex_escape(m)}}} exposes no symbolic results yet.)\n")
        lines += [_equation_block(t, b) for t, b in eqs]
        path = outdir / f"theory_{m}.tex"
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
        inputs.append(path.name)
        print(f"[make_tex] {path}: {len(eqs)} equations" + (f", {len(notes)} skipped" if notes else ""))
    main = outdir / "theory.tex"
    main.write_text("% generated by paper/make_tex.py -- do not edit\n"
                    + "".join(f"\\input{{generated/{n[:-4]}}}\n" for n in inputs))
    return [main, *written]


def write_figures(outdir: Path) -> Path:
    sys.path.insert(0, str(HERE.parent))
    from paper.registry import load_registry

    blocks = ["% generated by paper/make_tex.py from paper/figures.toml -- do not edit"]
    for f in load_registry():
        pdf = f"figures/{f.name}.pdf"
        caption = tex_escape(f.caption or f.name) + f" (notebook {', '.join(f.notebooks)}; \\texttt{{paper/{tex_escape(f.module)}.py}})"
        blocks.append(
            "\\begin{figure}[tbp]\n\\centering\n"
            f"\\IfFileExists{{{pdf}}}{{\\includegraphics[width=\\linewidth]{{{pdf}}}}}"
            f"{{\\fbox{{\\parbox{{0.8\\linewidth}}{{\\centering Figure \\texttt{{{tex_escape(f.name)}}} not built yet: run \\texttt{{make figures}}.}}}}}}\n"
            f"\\caption{{{caption}}}\\label{{fig:{f.name}}}\n\\end{{figure}}\n"
        )
    path = outdir / "figures.tex"
    path.write_text("\n".join(blocks))
    print(f"[make_tex] {path}: {len(blocks) - 1} figures")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outdir", type=Path, default=HERE / "generated")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds allowed per symbolic function")
    args = p.parse_args(argv)
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    write_theory(args.outdir, args.timeout)
    write_figures(args.outdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
