"""tailcomp numeric side: numba kernels, simulators, the neural core, pruning, sweeps.

Kernels live in ``*_kernels.py`` modules (plain ``@numba.njit`` functions);
the modules without that suffix hold the validated Python API.
"""
__version__ = "0.1.0"
