"""``tailcomp train``: train an MLP from the command line and write a JSON record of the run."""
from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tailcomp train`` (returns the exit status)."""
    raise NotImplementedError
