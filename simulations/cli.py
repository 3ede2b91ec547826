"""The ``tailcomp`` command: ``tailcomp <subcommand> [options]``.

Subcommands are looked up in :data:`COMMANDS` and imported lazily, so that
``tailcomp --help`` is fast and a subcommand's heavy imports cost only when used.
Each target is a function ``main(argv: list[str]) -> int``.

Shared by every subcommand: :class:`HelpFormatter` (each option's help shows its default),
:func:`parser` (no abbreviated options: ``--epoch`` is an error, not ``--epochs``) and
:func:`compile_notice` (one line on stderr before the first, uncached compilation of the
numba kernels a command is about to run).

``tailcomp figures`` runs ``paper/make_figures.py`` of the repository checkout that holds the
working directory (``paper/`` is not part of the installed package); its ``--help`` works
anywhere (:func:`figures_parser`).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

#: name -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "figures": ("paper.make_figures", "main", "regenerate the paper figures (run from the repository root)"),
    "train": ("simulations.nn.cli", "main", "train an MLP with the torch-free core"),
    "sweep": ("simulations.sweep.cli", "sweep_main", "run a grid of experiments into the SQLite results store"),
    "report": ("simulations.sweep.cli", "report_main", "read the results store as rows and plots"),
    "warmup": ("simulations.warmup", "main", "compile the main numba kernels once (after install or upgrade)"),
}

#: the line printed on stderr before kernels are compiled (no cache entry yet)
COMPILE_NOTICE = "compiling kernels (first run, ~5 s; `tailcomp warmup` compiles them all once)…"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` lists every option's default, except flags and options whose help text states it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text.lower() or action.nargs == 0 or action.default is argparse.SUPPRESS
                or not action.option_strings and (action.default is None
                                                  or action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return text + " (default: %(default)s)"


class RawHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """:class:`HelpFormatter` keeping the description's line breaks."""


def parser(prog: str, description: str, raw: bool = False) -> argparse.ArgumentParser:
    """An argument parser with defaults in ``--help`` and no abbreviated options."""
    return argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False,
                                   formatter_class=RawHelpFormatter if raw else HelpFormatter)


FIGURES_DESCRIPTION = (
    "Draw every paper figure and table into paper/figures/ (from the committed results stores in paper/data/ "
    "and full-size simulations; --reduced recomputes everything at small sizes, stamped 'reduced run - not for "
    "publication'). Run it from the root of a tailcomp repository checkout (the folder holding paper/): "
    "paper/ is not part of the installed package. Exit status 1 if a figure failed."
)


def figures_parser(outdir: Path | str = Path("paper") / "figures", modules: list[str] | None = None,
                   prog: str = "tailcomp figures", description: str = FIGURES_DESCRIPTION) -> argparse.ArgumentParser:
    """The options of ``tailcomp figures`` / ``python -m paper.make_figures`` (``modules``: the fig_* choices)."""
    p = parser(prog, description, raw=description != FIGURES_DESCRIPTION)
    p.add_argument("--reduced", action="store_true",
                   help="recompute at small sizes; every output is stamped 'reduced run — not for publication'")
    p.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # former name of --reduced
    p.add_argument("--full", action="store_true", help=argparse.SUPPRESS)   # former name of the default
    p.add_argument("--only", action="append", default=None, choices=modules, metavar="MODULE",
                   help="run only this fig_* module (repeatable; default: all"
                   + (f"; one of {', '.join(modules)})" if modules else ")"))
    p.add_argument("--outdir", type=Path, default=Path(outdir), help="folder of the figures and tables")
    return p


def repository_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding paper/make_figures.py."""
    here = Path.cwd() if start is None else Path(start)
    for d in (here, *here.parents):
        if (d / "paper" / "make_figures.py").is_file():
            return d
    return None


def _figures(rest: list[str]) -> int:
    root = repository_root()
    if root is None:
        if any(a in ("-h", "--help") for a in rest):
            figures_parser().parse_args(["--help"])  # prints the help, exits 0
        print("tailcomp figures: error: not inside a tailcomp repository checkout (no paper/make_figures.py here or "
              "above); run it from the repository root", file=sys.stderr)
        return 2
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return int(importlib.import_module("paper.make_figures").main(rest, prog="tailcomp figures") or 0)


def _usage() -> str:
    lines = ["usage: tailcomp <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "tailcomp <command> --help lists a command's options and their defaults."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"tailcomp: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if name == "figures":
        return _figures(rest)
    module, func, _ = COMMANDS[name]
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


# ---- the compilation notice

def _module_file(module: str) -> Path | None:
    """The source file of ``module`` (a dotted name under an importable top-level package), without importing it."""
    top, *parts = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent.joinpath(*parts).with_suffix(".py")


def _cache_dirs(source: Path) -> list[Path]:
    """Where numba keeps the cache index of the functions of ``source`` (numba's locator rules).

    With ``NUMBA_CACHE_DIR`` set: ``<dir>/<parent folder>_<sha1 of the folder path>``; otherwise the
    source's ``__pycache__``, or, when that is not writable, the same sub-folder of the user cache.
    """
    folder = os.path.dirname(os.path.abspath(source))
    sub = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return [Path(env) / sub]
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    return [Path(folder) / "__pycache__", user / sub]


def _kernel_files(module: str) -> list[Path]:
    """The kernel sources of the package-wide cache stamp (:mod:`simulations._core.jit_cache`) of
    ``module``'s top-level package; none when that package has no stamp."""
    from simulations._core import jit_cache

    top = _module_file(module.split(".")[0] + ".__init__")
    if top is None or os.path.realpath(top.parent) not in jit_cache.installed_roots():
        return []
    return [Path(p) for p in jit_cache.kernel_files(top.parent)]


def kernels_cached(module: str) -> bool:
    """Whether numba's on-disk cache holds an index, newer than the source, for functions of ``module``.

    A heuristic (it does not check every function or the index's contents): an index file
    ``<module stem>.<function>-<line>.py<major><minor>.nbi`` at least as new as the source file and
    every other kernel module of the package.
    """
    source = _module_file(module)
    if source is None or not source.is_file():
        return True  # nothing to compile that we can see
    # an edit of any kernel module of the package invalidates every entry (simulations._core.jit_cache)
    stamp = max([source.stat().st_mtime] + [p.stat().st_mtime for p in _kernel_files(module)])
    pattern = f"{source.stem}.*.py{sys.version_info.major}{sys.version_info.minor}.nbi"
    for d in _cache_dirs(source):
        try:
            if any(f.stat().st_mtime >= stamp for f in d.glob(pattern)):
                return True
        except OSError:
            continue
    return False


def compile_notice(modules, file=None) -> bool:
    """Print :data:`COMPILE_NOTICE` on stderr when some kernel module of ``modules`` has no cache entry yet."""
    if any(not kernels_cached(m) for m in modules):
        print(COMPILE_NOTICE, file=sys.stderr if file is None else file, flush=True)
        return True
    return False


if __name__ == "__main__":
    raise SystemExit(main())
