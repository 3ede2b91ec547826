"""Whether numba compiles for 512-bit vectors (AVX-512F), for kernels whose best loop shape depends on it.

With 512-bit registers (32 of them) a long vectorised loop body keeps its temporaries in registers; with
AVX2 (16 registers of 256 bits) the same body spills, and splitting it into passes over a block held in
L1 is faster (measured for the α-stable transform: 9.1 → 7.4 ns per draw under AVX2 code, 4.8 → 5.4 under
AVX-512, so each target keeps its own shape). numba's target follows ``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` when they are set, the host CPU otherwise; this module reads the same settings.
"""
from __future__ import annotations

__all__ = ["wide_vectors", "AVX512_CPUS"]

#: LLVM CPU names (prefixes) whose default features include AVX-512F
AVX512_CPUS = ("skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake", "tigerlake",
               "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids", "diamondrapids",
               "knl", "knm", "znver4", "znver5", "x86-64-v4")


def wide_vectors(cpu_name: str | None = None, cpu_features: str | None = None) -> bool:
    """True when numba's target has AVX-512F.

    ``cpu_name`` / ``cpu_features`` default to numba's ``config.CPU_NAME`` / ``config.CPU_FEATURES``
    (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``). As in numba's code generator, features that are not
    given are the host's (so ``NUMBA_CPU_NAME=haswell`` alone keeps the host's AVX-512; an empty
    ``NUMBA_CPU_FEATURES=`` gives the named CPU's defaults). An explicit ``+avx512f`` / ``-avx512f``
    decides; otherwise the CPU name does (:data:`AVX512_CPUS`).
    """
    import llvmlite.binding as ll
    from numba.core import config

    name = config.CPU_NAME if cpu_name is None else cpu_name
    feats = config.CPU_FEATURES if cpu_features is None else cpu_features
    if feats is None:
        feats = ll.get_host_cpu_features().flatten()
    state = None
    for f in feats.split(","):
        f = f.strip()
        if f in ("+avx512f", "-avx512f"):
            state = f[0] == "+"
    if state is not None:
        return state
    if name is None or name == "host":
        name = ll.get_host_cpu_name()
    return name.startswith(AVX512_CPUS)
