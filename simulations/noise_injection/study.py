"""Studies of noise-injected two-layer ensembles: the width trend of the pruning error, σ and step size.

The checks behind notebook 05 and ``paper/fig_noise_injection.py``. Wan, Barsbey, Zaidi &
Şimşekli (ICML 2024) prove (existence only) that for κ, ε and t there is N such that networks
of width n ≥ N trained for ⌊t/η⌋ steps at η ≤ n^{−α/2−1}, with α-stable noise injected, are
within relative Frobenius error ε of their ⌈κn⌉-largest-neuron pruning. The checkable statement
is a *trend*: regress log(pruning error) on log(width) (:func:`fit_width_slope`); the slope is
negative for α < 2 (the iid-neuron picture predicts 1/2 − 1/α,
:func:`theory.noise_injection.predicted_error_exponent`) and flat for Gaussian noise or none.

* :func:`width_study` — pruning error vs width for several (α, σ), all networks in one call.
* :func:`sigma_study` — pruning error, prunable fraction and loss vs σ at one width.
* :func:`step_size_study` — the theorem's step η = n^{−α/2−1} vs a fixed step at the same horizon t.

Data: teacher–student samples (d inputs, a tanh teacher of ``teacher_width`` neurons,
``n_train`` samples) from ``seed``'s children ``"teacher"``, ``"inputs"``; the networks from
its replicate children (:mod:`simulations.noise_injection.ensemble`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.codes import STATUS_OK
from simulations._core.noise import NoiseSpec, as_noise_spec
from simulations._core.validation import check_alpha, check_array, check_int, check_positive, check_real
from simulations.noise_injection.data import make_teacher, teacher_student_data
from simulations.noise_injection.ensemble import NETWORKS_MAX, grid, train_ensemble
from simulations.tail_index.estimators import hill
from theory.noise_injection import step_size_bound

__all__ = ["WidthSlope", "fit_width_slope", "width_study", "sigma_study", "step_size_study", "LEVEL_MIN"]

#: smallest significance level of :func:`fit_width_slope`'s confidence interval
LEVEL_MIN = 1e-10


@dataclass(frozen=True)
class WidthSlope:
    """OLS fit log(error) = a + slope·log(n) over all (width, replicate) points.

    ``ci``: two-sided (1 − level) confidence interval of the slope; ``p_decreasing``:
    one-sided p-value of H0 slope ≥ 0 against slope < 0 (Student t, n_points − 2 dof).
    """

    slope: float
    intercept: float
    stderr: float
    ci: tuple[float, float]
    p_decreasing: float
    n_points: int
    level: float

    @property
    def decreasing(self) -> bool:
        """Slope significantly negative at ``level`` (one-sided t-test)."""
        return self.p_decreasing < self.level


def fit_width_slope(widths, errors, level: float = 0.01) -> WidthSlope:
    """Slope of log(error) against log(width) with a t confidence interval and one-sided test.

    ``widths`` and ``errors`` are flat arrays of the same length (one point per network; the
    seeds give the replication). Non-positive or non-finite errors are rejected. The interval is
    slope ± t_{dof}^{-1}(1 − level/2)·stderr with ``level`` in [:data:`LEVEL_MIN`, 1) (a smaller level
    asks for a quantile beyond 10^9 standard errors at dof = 1).
    """
    from scipy import stats

    w = check_array("widths", widths, ndim=1, min_size=3)
    e = check_array("errors", errors, ndim=1, min_size=3)
    if w.shape != e.shape:
        raise ValueError(f"widths and errors must have the same shape, got {w.shape} and {e.shape}")
    if np.any(w < 1) or np.any(e <= 0):
        raise ValueError("widths must be >= 1 and errors > 0")
    level = check_real("level", level, LEVEL_MIN, 1.0, high_open=True)
    if np.unique(w).size < 2:
        raise ValueError("widths must contain at least two distinct values")
    xs, ys = np.log(w), np.log(e)
    res = stats.linregress(xs, ys)
    dof = xs.size - 2
    tq = stats.t.isf(level / 2, dof)  # = ppf(1 − level/2), accurate for a small level
    p_dec = stats.t.cdf(res.slope / res.stderr, dof) if res.stderr > 0 else float(res.slope < 0)
    return WidthSlope(float(res.slope), float(res.intercept), float(res.stderr),
                      (float(res.slope - tq * res.stderr), float(res.slope + tq * res.stderr)),
                      float(p_dec), int(xs.size), level)


# --------------------------------------------------------------------------- studies
def _values(name: str, seq: Any) -> list:
    """A non-empty 1-D list of values (a list, tuple or 1-D array; a scalar or a string is refused)."""
    if isinstance(seq, (str, bytes)) or np.ndim(seq) != 1 or len(seq) == 0:
        raise (TypeError if isinstance(seq, (str, bytes)) or np.ndim(seq) == 0 else ValueError)(
            f"{name} must be a non-empty 1-D sequence, got {seq!r}")
    return list(seq)


def _cases(cases: Any) -> list[tuple[float, float]]:
    if isinstance(cases, (str, bytes)) or not isinstance(cases, (list, tuple)) or not cases:
        raise TypeError(f"cases must be a non-empty list of (alpha, sigma) pairs, got {cases!r}")
    out = []
    for i, c in enumerate(cases):
        if isinstance(c, (str, bytes)) or np.ndim(c) != 1 or len(c) != 2:
            raise ValueError(f"cases[{i}] must be an (alpha, sigma) pair, got {c!r}")
        out.append((check_alpha(c[0], f"cases[{i}] alpha"), check_real(f"cases[{i}] sigma", c[1], 0.0)))
    return out


def _teacher_set(d: int, teacher_width: int, n_train: int, seed: Any):
    return teacher_student_data(make_teacher(d, teacher_width, seed=seed), n_train, seed=seed)


def width_study(widths, cases, *, n_seeds: int, steps: int, lr: float, d: int = 5, teacher_width: int = 4,
                n_train: int = 1000, batch_size: int = 8, kappa: float = 0.1, noise: NoiseSpec | str = "neuron",
                level: float = 0.01, seed: Any = 0, threads: int | None = None) -> dict:
    """Pruning error vs width for several (α, σ) cases, all networks in one ensemble call.

    ``cases``: list of (α, σ) pairs (σ = 0: plain SGD). Teacher–student data (d inputs, a
    ``teacher_width`` tanh teacher, ``n_train`` samples), "neuron" noise by default.
    Returns a dict with ``widths``, ``cases``, ``errors`` (cases × widths × seeds: relative
    Frobenius error after keeping ⌈κn⌉ largest neurons), ``prunable`` (same shape: fraction
    prunable at squared error 0.1), ``slopes`` (a :class:`WidthSlope` per case at ``level``),
    ``hill`` (cases × seeds: Hill tail index of the neuron norms at the largest width),
    ``status`` (cases × widths × seeds) and ``t`` = steps·lr.
    """
    widths = [check_int("width", w, 1) for w in _values("widths", widths)]
    cases = _cases(cases)
    n_seeds = check_int("n_seeds", n_seeds, 1, NETWORKS_MAX)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    C, Wn = len(cases), len(widths)
    A, S = np.array([c[0] for c in cases]), np.array([c[1] for c in cases])
    ci, wi, si = np.meshgrid(np.arange(C), np.arange(Wn), np.arange(n_seeds), indexing="ij")
    ci, wi, si = ci.ravel(), wi.ravel(), si.ravel()
    w_arr = np.asarray(widths)[wi]
    res = train_ensemble(w_arr, A[ci], S[ci], lr, replicate=si, steps=steps, data=(X, Y), noise=noise,
                         batch_size=batch_size, kappas=(kappa,), seed=seed, threads=threads)
    shape = (C, Wn, n_seeds)
    errors = res.prune_error[:, -1, 0].reshape(shape)
    prunable = res.prunable_fraction[:, -1].reshape(shape)
    status = res.status.reshape(shape)
    slopes = []
    for c in range(C):
        ok = status[c].ravel() == STATUS_OK
        slopes.append(fit_width_slope(np.repeat(widths, n_seeds)[ok], errors[c].ravel()[ok], level=level))
    big = np.flatnonzero(wi == Wn - 1)
    hills = np.full((C, n_seeds), np.nan)
    for k in big:
        if res.status[k] == STATUS_OK:
            hills[ci[k], si[k]] = hill(res.neuron_norms(k))
    return {"widths": np.asarray(widths), "cases": cases, "errors": errors, "prunable": prunable, "slopes": slopes,
            "hill": hills, "status": status, "t": steps * lr, "kappa": kappa, "d": d, "noise": as_noise_spec(noise).kind}


def sigma_study(sigmas, alphas, *, width: int, n_seeds: int, steps: int, lr: float, d: int = 5,
                teacher_width: int = 4, n_train: int = 1000, batch_size: int = 8, kappa: float = 0.1,
                noise: NoiseSpec | str = "neuron", seed: Any = 0, threads: int | None = None) -> dict:
    """Pruning error, prunable fraction and final training loss vs σ at one width, for each α.

    Returns ``errors``, ``prunable``, ``loss`` of shape (alphas × sigmas × seeds) and ``status``.
    """
    sigmas = [check_real("sigma", s, 0.0) for s in _values("sigmas", sigmas)]
    alphas = [check_alpha(a) for a in _values("alphas", alphas)]
    width = check_int("width", width, 1)
    n_seeds = check_int("n_seeds", n_seeds, 1, NETWORKS_MAX)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    g = grid([width], alphas, sigmas, n_seeds, lr=lr)
    res = train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], replicate=g["replicate"], steps=steps,
                         data=(X, Y), eval_data=(X, Y), noise=noise, batch_size=batch_size, kappas=(kappa,),
                         seed=seed, threads=threads)
    shape = (len(alphas), len(sigmas), n_seeds)
    return {"sigmas": np.asarray(sigmas), "alphas": np.asarray(alphas), "width": width,
            "errors": res.prune_error[:, -1, 0].reshape(shape), "prunable": res.prunable_fraction[:, -1].reshape(shape),
            "loss": res.eval_loss[:, -1].reshape(shape), "status": res.status.reshape(shape), "kappa": kappa}


def step_size_study(widths, alpha: float, *, t: float, sigma: float = 1.0, lr_fixed: float | None = None,
                    n_seeds: int = 4, d: int = 5, teacher_width: int = 4, n_train: int = 1000, batch_size: int = 8,
                    kappa: float = 0.1, noise: NoiseSpec | str = "neuron", seed: Any = 0, max_steps: int = 200_000,
                    threads: int | None = None) -> dict:
    """Same time horizon t with the theorem's step η = n^{−α/2−1} vs a fixed step ``lr_fixed``.

    For each width, the theorem run takes ⌈t/η⌉ steps (refused above ``max_steps``); the fixed
    run takes ⌈t/lr_fixed⌉ steps (default lr_fixed = t/50). Returns ``errors`` of shape
    (2 × widths × seeds) (row 0: theorem step, row 1: fixed step), the steps used and the
    step sizes.
    """
    widths = [check_int("width", w, 1) for w in _values("widths", widths)]
    alpha = check_alpha(alpha)
    t = check_positive("t", t)
    n_seeds = check_int("n_seeds", n_seeds, 1, NETWORKS_MAX)
    max_steps = check_int("max_steps", max_steps, 1)
    lr_fixed = t / 50 if lr_fixed is None else check_positive("lr_fixed", lr_fixed)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    errors = np.full((2, len(widths), n_seeds), np.nan)
    steps_used = np.zeros((2, len(widths)), dtype=np.int64)
    lrs = np.zeros((2, len(widths)))
    for wi_, n in enumerate(widths):
        for row_, lr in enumerate((float(step_size_bound(n, alpha)), lr_fixed)):
            steps = int(math.ceil(t / lr - 1e-9))
            if steps > max_steps:
                raise ValueError(f"width {n} needs {steps} steps at the theorem's step size; raise max_steps")
            res = train_ensemble(np.full(n_seeds, n), alpha, sigma, t / steps, replicate=np.arange(n_seeds),
                                 steps=steps, data=(X, Y), noise=noise, batch_size=batch_size, kappas=(kappa,),
                                 seed=seed, threads=threads)
            errors[row_, wi_] = np.where(res.ok, res.prune_error[:, -1, 0], np.nan)
            steps_used[row_, wi_] = steps
            lrs[row_, wi_] = t / steps
    return {"widths": np.asarray(widths), "alpha": alpha, "t": t, "errors": errors, "steps": steps_used, "lr": lrs,
            "labels": ("η = n^(−α/2−1) (theorem)", f"η = {lr_fixed:g} (fixed)")}
