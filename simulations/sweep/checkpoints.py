"""Where a sweep run keeps its resumable training checkpoint: one file per (configuration, seed).

A long experiment body (a network trained for minutes or hours) can write a training
checkpoint while it runs, so that a sweep killed half-way resumes the run from its last
checkpoint instead of from step 0. The folder is the environment variable
``TAILCOMP_CHECKPOINTS``; unset, there are no checkpoints and an interrupted run starts over.

The file of a run is ``<folder>/<prefix>_<key>``, ``key`` the first 20 hex digits of the SHA-256
of the JSON of ``[config, seed]`` (sorted keys): a different configuration or seed never finds
another run's checkpoint. One writer per file, as for the results store.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

from simulations._core.validation import check_int

__all__ = ["CHECKPOINT_ENV", "run_checkpoint"]

#: the folder of the resumable training checkpoints of sweep runs (unset: no checkpoints)
CHECKPOINT_ENV = "TAILCOMP_CHECKPOINTS"


def run_checkpoint(prefix: str, config, seed: int) -> Path | None:
    """The checkpoint path of one run under ``$TAILCOMP_CHECKPOINTS``, or None when the variable is unset.

    prefix : a short name for the file (letters, digits, ``_``, ``-``, ``.``; 1-64 characters);
    config : the run's configuration, a dataclass instance (its fields, defaults included, are hashed);
    seed : the run's seed, an int ≥ 0.
    """
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", prefix):
        raise ValueError(f"prefix must be 1-64 letters, digits, '_', '-' or '.', got {prefix!r}")
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a configuration dataclass instance, got {type(config).__name__}")
    seed = check_int("seed", seed, 0)
    root = os.environ.get(CHECKPOINT_ENV)
    if not root:
        return None
    blob = json.dumps([dataclasses.asdict(config), seed], sort_keys=True)
    return Path(root) / f"{prefix}_{hashlib.sha256(blob.encode()).hexdigest()[:20]}"
