"""Best k-term errors: simulations.compressibility.api vs a plain numpy sort + cumsum reference.

Cases (float64, Student-t₃ entries, p = 2):
* ``relative_errors`` on one vector of n = 10^7 (``--quick``: 10^5): all n + 1 relative errors;
  peer ``np.sort(|x|^2)`` → ``np.cumsum`` → ``sqrt(c[::-1]/c[-1])``;
* ``relative_errors(axis=1)`` on a 100 × 10^5 stack (quick: 20 × 10^4); peer the same numpy
  pipeline along the axis;
* ``prunable_fraction`` at ε = 0.1, n = 10^7; peer sort + cumsum + searchsorted;
* ``relative_error_at`` (one κ = 0.1, partial sort + compensated sum), n = 10^7; peer the full
  numpy pipeline.
Unit: entries per second (higher is better). Numba compile excluded (warm-up call).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, emit, parse_args, row  # noqa: E402


def np_relative_errors(x, axis=-1):
    a = np.sort(np.abs(x) ** 2, axis=axis)
    c = np.cumsum(a, axis=axis)
    tot = np.take(c, [-1], axis=axis)
    zero = np.zeros_like(tot)
    c = np.concatenate([zero, c], axis=axis)
    return np.sqrt(np.flip(c, axis=axis) / tot)


def np_prunable(x, eps):
    a = np.sort(np.abs(x) ** 2)
    c = np.cumsum(a)
    return np.searchsorted(c, eps**2 * c[-1], side="right") / x.size


def np_ratio_at(x, kappa):
    a = np.sort(np.abs(x) ** 2)
    k = int(np.ceil(kappa * x.size))
    return np.sqrt(a[: x.size - k].sum() / a.sum())


def main(argv=None):
    args = parse_args(__doc__, argv)
    from simulations.compressibility import api as C

    n = 10**5 if args.quick else 10**7
    m, w = (20, 10**4) if args.quick else (100, 10**5)
    rep = args.repeat or (3 if args.quick else 3)
    rng = np.random.default_rng(0)
    x = rng.standard_t(3, size=n)
    X = rng.standard_t(3, size=(m, w))
    rows = []
    t_o = best_time(lambda: C.relative_errors(x), rep)
    t_p = best_time(lambda: np_relative_errors(x), rep)
    rows.append(row(f"relative_errors n={n:.0e}", n / t_o, n / t_p, "entries/s"))
    t_o = best_time(lambda: C.relative_errors(X, axis=1), rep)
    t_p = best_time(lambda: np_relative_errors(X, axis=1), rep)
    rows.append(row(f"relative_errors axis=1 {m}x{w:.0e}", m * w / t_o, m * w / t_p, "entries/s"))
    t_o = best_time(lambda: C.prunable_fraction(x, 0.1), rep)
    t_p = best_time(lambda: np_prunable(x, 0.1), rep)
    rows.append(row(f"prunable_fraction n={n:.0e}", n / t_o, n / t_p, "entries/s"))
    t_o = best_time(lambda: C.relative_error_at(x, 0.1), rep)
    t_p = best_time(lambda: np_ratio_at(x, 0.1), rep)
    rows.append(row(f"relative_error_at n={n:.0e}", n / t_o, n / t_p, "entries/s"))
    # agreement (not timed)
    err = float(np.max(np.abs(C.relative_errors(x) - np_relative_errors(x))))
    emit("compressibility", rows, args.json, notes={"max |ours - numpy| (relative_errors)": f"{err:.1e}"})


if __name__ == "__main__":
    main()
