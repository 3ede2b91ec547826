"""The ``tailcomp`` command: ``tailcomp <subcommand> [options]``.

Subcommands are looked up in :data:`COMMANDS` and imported lazily, so that
``tailcomp --help`` is fast and a subcommand's heavy imports cost only when used.
Each target is a function ``main(argv: list[str]) -> int``.
"""
from __future__ import annotations

import importlib
import sys

#: name -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "figures": ("paper.make_figures", "main", "regenerate the paper figures (run from the repository root)"),
    "train": ("simulations.nn.cli", "main", "train an MLP with the torch-free core"),
    "sweep": ("simulations.sweep.cli", "sweep_main", "run a grid of experiments into the SQLite results store"),
    "report": ("simulations.sweep.cli", "report_main", "read the results store as rows and plots"),
}


def _usage() -> str:
    lines = ["usage: tailcomp <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
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
    module, func, _ = COMMANDS[name]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        if module.startswith("paper"):
            print("tailcomp figures: run it from the tailcomp repository root (paper/ is not installed)", file=sys.stderr)
            return 2
        raise
    return int(getattr(mod, func)(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
