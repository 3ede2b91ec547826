"""tailcomp's numeric side: simulators, estimators, the neural core, pruning and sweeps.

One subpackage per concept, each holding its validated API, its CPU kernels (``cpu.py``:
plain ``numba.njit`` functions on arrays), its CUDA kernels (``cuda.py``) and its study code
(``study.py``) side by side; the same word names the concept's theory module in ``theory/``,
its tests (``tests/test_<concept>_*.py``), its figure (``paper/fig_<concept>.py``) and its
notebook.  ``_core`` holds what every concept shares: argument validation, the one table of
kernel codes, the seeding recipe, thread control and CUDA detection.  The README's layout
table maps each concept to its files; ``theory/REFERENCE.md`` states the mathematics.
"""
__version__ = "0.1.0"

import os as _os

from simulations._core import jit_cache as _jit_cache

# Before any kernel module is imported: a kernel's numba cache entry then depends on every kernel
# source of the package, not only on its own file (see simulations._core.jit_cache).
_jit_cache.install(_os.path.dirname(_os.path.abspath(__file__)))
