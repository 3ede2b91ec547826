"""numba's on-disk cache with the package-wide stamp (simulations._core.jit_cache).

The hazard: a cached kernel that calls a jitted helper from another module keeps the helper's old
machine code after the helper's module is edited, because numba checks only the kernel's own file.
Each test runs fresh interpreters on a two-module package in a temporary folder: compile and cache,
edit the helper, run again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from simulations._core import jit_cache

HELPER = "import numba\n\n@numba.njit(cache=True)\ndef h(x):\n    return x + {inc}\n"
CALLER = ("import numba\nfrom helper import h\n\n@numba.njit(cache=True)\ndef f(x):\n    return 2 * h(x)\n")


def _run(pkg, cache, install: bool) -> int:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(pkg)!r})
        if {install!r}:
            from simulations._core import jit_cache
            jit_cache.install({str(pkg)!r})
        import caller
        print(caller.f(1))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "helper.py").write_text(HELPER.format(inc=1))
    (pkg / "caller.py").write_text(CALLER)
    return pkg


def test_editing_a_helper_module_invalidates_its_callers(tmp_path):
    pkg, cache = _package(tmp_path), tmp_path / "cache"
    assert _run(pkg, cache, install=True) == 4  # 2·(1 + 1), compiled and cached
    assert _run(pkg, cache, install=True) == 4  # from the cache
    assert any(cache.rglob("caller.f-*.nbi"))
    (pkg / "helper.py").write_text(HELPER.format(inc=10))
    assert _run(pkg, cache, install=True) == 22  # 2·(1 + 10): the caller was recompiled


def test_control_numba_alone_keeps_the_stale_helper(tmp_path):
    # the hazard the stamp removes; if this fails, numba now tracks dependencies itself
    pkg, cache = _package(tmp_path), tmp_path / "cache"
    assert _run(pkg, cache, install=False) == 4
    (pkg / "helper.py").write_text(HELPER.format(inc=10))
    assert _run(pkg, cache, install=False) == 4


def test_the_package_is_installed_and_the_stamp_covers_kernel_modules_only():
    import simulations

    root = os.path.realpath(os.path.dirname(simulations.__file__))
    assert root in jit_cache.installed_roots()
    names = {os.path.relpath(p, root) for p in jit_cache.kernel_files(root)}
    assert os.path.join("stable", "cpu.py") in names and os.path.join("nn", "backends", "cpu_kernels.py") in names
    assert os.path.join("sweep", "store.py") not in names  # no numba there
    assert os.path.join("cli.py") not in names  # mentions numba only in strings
    assert len(jit_cache._kernel_sources_hash(root)) == 64


def test_install_refuses_a_missing_folder_and_kernel_files_an_unknown_root(tmp_path):
    with pytest.raises(ValueError, match="root"):
        jit_cache.install(tmp_path / "missing")
    with pytest.raises(ValueError, match="root.*not an installed root"):
        jit_cache.kernel_files(tmp_path)
