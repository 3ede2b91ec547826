"""``tailcomp sweep`` and ``tailcomp report``: command-line front ends of :mod:`simulations.sweep`.

    tailcomp sweep FILE.yaml --store results/demo.db [--workers N] [--scheduler tcp://HOST:PORT]
                   [--no-retry-failed] [--no-progress] [--dry-run]
    tailcomp report --store results/demo.db [--experiment NAME] [--status done]
                    [--format table|csv|json] [--output FILE]
                    [--plot METRIC --x PARAM [--hue PARAM] --out FIG.pdf]
"""
from __future__ import annotations


def sweep_main(argv: list[str] | None = None) -> int:
    """Validate the sweep file (nothing runs on error), then run it into the store. Exit 0 iff no run failed."""
    raise NotImplementedError


def report_main(argv: list[str] | None = None) -> int:
    """Print the store as a table/CSV/JSON (one row per run) or draw METRIC against PARAM."""
    raise NotImplementedError


if __name__ == "__main__":  # python -m simulations.sweep_cli sweep|report ...
    import sys

    cmd, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    raise SystemExit({"sweep": sweep_main, "report": report_main}.get(cmd, lambda a: print(__doc__) or 2)(rest))
