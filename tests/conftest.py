"""Shared fixtures: the data directory, hypothesis profiles, quick mode for notebooks."""
from __future__ import annotations

import os

# The CUDA tests run on numba's simulator unless told otherwise (NUMBA_ENABLE_CUDASIM=0 on a GPU
# machine). The variable must be set before anything imports numba.cuda, so it is set here, first.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

# numba compiles on first call: no per-example deadline. CI profile keeps runs short.
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def data_root() -> Path | None:
    """The folder named by ``TAILCOMP_DATA`` if it holds ``mnist/`` or ``fashion_mnist/``, else None."""
    env = os.environ.get("TAILCOMP_DATA")
    if env and ((Path(env) / "mnist").is_dir() or (Path(env) / "fashion_mnist").is_dir()):
        return Path(env)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("MNIST/Fashion-MNIST files not found: set TAILCOMP_DATA to a folder with mnist/ and fashion_mnist/")
    return root
