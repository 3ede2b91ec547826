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
