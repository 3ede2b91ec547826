"""The one seeding recipe: seed → ``SeedSequence`` → one named child per consumer.

Every public function takes ``seed`` (``None``, a non-negative int, a
``numpy.random.SeedSequence`` or a ``numpy.random.Generator``).  It is turned into a
``SeedSequence`` once (:func:`seed_sequence`); each consumer that must be independent of
the others (weight initialisation, data shuffling, injected noise, random pruning, a
replicate of an ensemble) takes its own child, keyed by a *name* (:func:`child`), so that
adding a consumer never changes the numbers of another.  Kernels get 63-bit integer
stream seeds drawn from a child (:func:`kernel_seed`), which
:func:`simulations.stable.streams.init_states` expands into one xoroshiro128+ stream per
chain.  Same seed ⇒ same numbers, in every process (SeedSequence hashing is
platform-independent).
"""
from __future__ import annotations

import numbers
import zlib
from typing import Any

import numpy as np

__all__ = ["seed_sequence", "child", "generator", "kernel_seed", "replicate"]

_MAX_SEED = 2**63 - 1


def seed_sequence(seed: Any = None) -> np.random.SeedSequence:
    """Turn ``seed`` into a ``SeedSequence``.

    A ``Generator`` is consumed: one 63-bit integer is drawn from it (so a shared
    generator gives different sequences to successive callers, as it should).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, _MAX_SEED)))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError("seed must be None, an int, a SeedSequence or a numpy Generator, got bool")
    if isinstance(seed, (numbers.Integral, np.integer)):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"seed must be None, an int, a SeedSequence or a numpy Generator, got {type(seed).__name__}")


def _key(name: str | int) -> int:
    if isinstance(name, (bool, np.bool_)) or not isinstance(name, (str, numbers.Integral, np.integer)):
        raise TypeError(f"consumer name must be a str or a non-negative int, got {type(name).__name__}")
    if isinstance(name, str):
        return zlib.crc32(name.encode()) | (1 << 32)  # disjoint from integer keys (< 2**32)
    if not 0 <= int(name) < 2**32:
        raise ValueError(f"consumer index must be in [0, 2**32), got {name}")
    return int(name)


def child(seed: Any, *names: str | int) -> np.random.SeedSequence:
    """The child of ``seed`` for the consumer path ``names`` (e.g. ``child(seed, "shuffle")``).

    Children with different names are independent streams (their spawn keys differ);
    the same ``(seed, names)`` always gives the same child.
    """
    ss = seed_sequence(seed)
    key = tuple(ss.spawn_key) + tuple(_key(n) for n in names)
    return np.random.SeedSequence(ss.entropy, spawn_key=key, pool_size=ss.pool_size)


def replicate(seed: Any, r: int) -> np.random.SeedSequence:
    """The child of ``seed`` for replicate ``r`` of an ensemble or a sweep."""
    return child(seed, "replicate", int(r))


def generator(seed: Any, *names: str | int) -> np.random.Generator:
    """A PCG64 ``Generator`` on ``child(seed, *names)`` (on ``seed`` itself when no names)."""
    if not names and isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(child(seed, *names) if names else seed_sequence(seed))


def kernel_seed(seed: Any, *names: str | int) -> int:
    """A 63-bit integer stream seed for a numba kernel, from ``child(seed, *names)``."""
    ss = child(seed, *names) if names else seed_sequence(seed)
    hi, lo = (int(v) for v in ss.generate_state(2, np.uint32))
    return ((hi << 32) | lo) & _MAX_SEED
