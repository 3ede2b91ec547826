"""numba's on-disk cache, made safe across modules: a kernel's cache entry depends on every kernel source.

numba keys a cached function on the content of *its own* source file. A kernel that calls a jitted
helper from another module (the samplers of :mod:`simulations.stable.cpu` inside the training
chunks, say) has the helper's machine code compiled into its own cache entry, so editing only the
helper's module leaves the caller's entry valid and a stale helper keeps running. :func:`install`
puts cache locators in front of numba's own that, for functions defined under the given package
roots, add one hash of all the roots' kernel sources (every ``.py`` file that imports numba) to
numba's per-file stamp. Any edit of any kernel module then invalidates every entry of the package
(a full recompile, the price of being right); functions elsewhere keep numba's behaviour.

The cache directory is numba's (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the source, else
the user cache), so nothing moves. :func:`install` runs when :mod:`simulations` is imported,
before any kernel module is, because numba picks a function's locator when it is decorated.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from numba.core import caching

__all__ = ["install", "installed_roots", "kernel_files"]

_ROOTS: list[str] = []
#: a line that imports numba (not the words in a string or comment)
_IMPORTS_NUMBA = re.compile(r"^\s*(?:import|from)\s+numba\b", re.M)


def installed_roots() -> tuple[str, ...]:
    """The package folders whose functions get the package-wide stamp."""
    return tuple(_ROOTS)


@functools.cache
def _kernel_sources(root: str) -> tuple[str, ...]:
    """The ``.py`` files under ``root`` with a line importing numba (sorted): the sources a kernel may inline."""
    out = []
    for path in sorted(Path(root).rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _IMPORTS_NUMBA.search(text):
            out.append(str(path))
    return tuple(out)


@functools.cache
def _kernel_sources_hash(root: str) -> str:
    """SHA-256 over the relative paths and contents of :func:`_kernel_sources` (read once per process)."""
    h = hashlib.sha256()
    for path in _kernel_sources(root):
        h.update(os.path.relpath(path, root).encode())
        h.update(b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()


def kernel_files(root: str | os.PathLike) -> tuple[str, ...]:
    """The kernel sources of an installed root (see :func:`installed_roots`): its ``.py`` files with a
    line importing numba, whose contents make the stamp."""
    real = os.path.realpath(os.fspath(root))
    if real not in _ROOTS:
        raise ValueError(f"root: {root!r} is not an installed root; installed: {installed_roots()}")
    return _kernel_sources(real)


def _root_of(py_file: str) -> str | None:
    real = os.path.realpath(py_file)
    for root in _ROOTS:
        if real.startswith(root + os.sep):
            return root
    return None


class _PackageStamp:
    """Mixin: numba's per-file stamp plus the hash of every kernel source of the function's package."""

    def get_source_stamp(self):
        return super().get_source_stamp(), _kernel_sources_hash(_root_of(self._py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if _root_of(py_file) is None:
            return None
        return super().from_function(py_func, py_file)


class PackageUserProvidedCacheLocator(_PackageStamp, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR`` set: numba's folder there, with the package-wide stamp."""


class PackageInTreeCacheLocator(_PackageStamp, caching.InTreeCacheLocator):
    """The source's ``__pycache__`` when writable, with the package-wide stamp."""


class PackageUserWideCacheLocator(_PackageStamp, caching.UserWideCacheLocator):
    """The user-wide numba cache, with the package-wide stamp."""


_LOCATORS = (PackageUserProvidedCacheLocator, PackageInTreeCacheLocator, PackageUserWideCacheLocator)


def install(root: str | os.PathLike) -> None:
    """Give the functions defined under ``root`` (a package folder) the package-wide cache stamp.

    Idempotent; affects only functions decorated afterwards (numba picks the locator then).
    """
    real = os.path.realpath(os.fspath(root))
    if not os.path.isdir(real):
        raise ValueError(f"root: {root!r} is not a directory")
    if real not in _ROOTS:
        _ROOTS.append(real)
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # CacheImpl in recent numba, _CacheImpl before
    classes = impl._locator_classes
    for cls in reversed(_LOCATORS):
        if cls not in classes:
            classes.insert(0, cls)
