"""``python -m tests._fuzz [--profile quick|long] [--report PATH.json] [--only NAME ...]``."""
from __future__ import annotations

import argparse
import json
import sys

from tests._fuzz.runner import PROFILES, fuzz, summary_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests._fuzz", description=__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("--summary", help="also write the text summary here")
    ap.add_argument("--only", nargs="*", help="canonical names of the callables to fuzz (default: all)")
    a = ap.parse_args(argv)
    rep = fuzz(a.profile, set(a.only) if a.only else None, log=lambda m: print(m, flush=True))
    text = summary_text(rep)
    print(text)
    if a.report:
        with open(a.report, "w") as fh:
            json.dump(rep, fh, indent=1)
    if a.summary:
        with open(a.summary, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
