"""α-stable sampling speed: simulations.stable.api vs scipy.stats.levy_stable.rvs vs numpy standard_normal.

    python bench/stable_rvs.py [--quick] [--json PATH] [--repeat R]

One thread (NUMBA_NUM_THREADS=1 is set before numba is imported), float64,
10^6 draws per call (10^5 with --quick), α ∈ {1.2, 1.5, 1.8} with β = 0 and one
skewed case (α = 1.5, β = 0.5). Two paths of ours:

* ``rvs``: blocks of 2^14 draws, block k from xoroshiro128+ stream k (the streams seeded from the
  seed's numpy Generator), two rows' uniforms per loop, then the vectorised CMS blocks;
* ``stream_rvs``: 64 streams × n/64 draws, the values of the in-kernel path (``stable_s1_draw``
  per stream) computed by the same block path as ``rvs``;
* ``stream_rvs f32`` (β = 0 only): the float32 path of the float32 training kernels
  (``stream_rvs(..., dtype=np.float32)``: one stream output per draw, the transform in float32
  lanes); its numpy peer is ``standard_normal(dtype=np.float32)``.

Rows (unit draws/s, higher is better, ratio = ours/peer):
``<path> a=.. b=.. vs scipy`` (target: ratio ≥ 5) and
``<path> a=.. b=.. vs numpy normal`` (the physical limit; goal: ratio ≥ 0.5,
i.e. within 2× of ``Generator.standard_normal``). The notes give ns per draw and
whether numba uses Intel SVML. Timings are wall-clock best-of-R (:func:`_common.best_time`, like
every bench), numba compile time excluded (warm-up call); run on an idle machine.
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, emit, parse_args, row  # noqa: E402

CASES = [(1.2, 0.0), (1.5, 0.0), (1.8, 0.0), (1.5, 0.5)]


N_STREAMS = 64


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], argv)
    import numba
    from scipy import stats

    from simulations.stable import api as stable

    n = 10**5 if args.quick else 10**6
    # best-of-many: on a shared machine the minimum is the least-disturbed run
    repeat = args.repeat or (5 if args.quick else 9)
    rng = np.random.default_rng(0)
    levy = stats.levy_stable
    cls = type(levy)
    saved_param = cls.__dict__.get("parameterization", "S1")
    cls.parameterization = "S0"  # same law as ours (β = 0.5 case); restored below
    try:
        t_norm = best_time(lambda: rng.standard_normal(n), repeat)
        t_norm32 = best_time(lambda: rng.standard_normal(n, dtype=np.float32), repeat)
        rows, ns = [], {"numpy standard_normal": 1e9 * t_norm / n, "numpy standard_normal f32": 1e9 * t_norm32 / n}
        for a, b in CASES:
            t_ours = best_time(lambda: stable.rvs(a, b, size=n, seed=1), repeat)
            t_stream = best_time(lambda: stable.stream_rvs(a, b, N_STREAMS, n // N_STREAMS, seed=1), repeat)
            t_scipy = best_time(lambda: levy.rvs(a, b, size=n, random_state=rng), repeat)
            tag = f"a={a} b={b}"
            n_stream = N_STREAMS * (n // N_STREAMS)
            for path, t in (("rvs", t_ours), ("stream_rvs", t_stream)):
                m = n if path == "rvs" else n_stream
                rows.append(row(f"{path} {tag} vs scipy", m / t, n / t_scipy, "draws/s"))
                rows.append(row(f"{path} {tag} vs numpy normal", m / t, n / t_norm, "draws/s"))
                ns[f"{path} {tag}"] = 1e9 * t / m
            ns[f"scipy {tag}"] = 1e9 * t_scipy / n
            if b == 0.0:
                t32 = best_time(lambda: stable.stream_rvs(a, b, N_STREAMS, n // N_STREAMS, dtype=np.float32,
                                                          seed=1), repeat)
                rows.append(row(f"stream_rvs f32 {tag} vs scipy", n_stream / t32, n / t_scipy, "draws/s"))
                rows.append(row(f"stream_rvs f32 {tag} vs numpy f32 normal", n_stream / t32, n / t_norm32, "draws/s"))
                ns[f"stream_rvs f32 {tag}"] = 1e9 * t32 / n_stream
    finally:
        cls.parameterization = saved_param
    try:
        import llvmlite.binding as llb

        svml_patched = bool(getattr(llb.targets, "has_svml", lambda: False)())
    except Exception:  # pragma: no cover
        svml_patched = False
    notes = {
        "n": n,
        "ns_per_draw": {k: round(v, 2) for k, v in ns.items()},
        "numba_using_svml": bool(getattr(numba.config, "USING_SVML", False)),
        "llvmlite_svml_patched": svml_patched,
        "clock": "wall (perf_counter), best of R",
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    return emit("stable_rvs", rows, args.json, notes)


if __name__ == "__main__":
    main()
