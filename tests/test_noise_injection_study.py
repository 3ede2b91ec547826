"""Checks of simulations.noise_injection.study: the width trend of the pruning error (a regression test
over seeds with a stated criterion) and the slope fit it rests on."""
from __future__ import annotations

import numpy as np
import pytest

from simulations import noise_injection as tl


# ----------------------------------------------------------------------------- width trend
def test_width_trend_heavy_tailed_vs_gaussian():
    """Criterion (stated in advance): regress log(pruning error at κ = 0.1) on log(width).
    α = 1.5, "neuron" noise: widths {10², 10^2.5, …, 10⁴} × 16 seeds (80 points); the slope must be
    negative by a one-sided t-test at level 1% (the iid-neuron picture predicts slope → 1/2 − 1/α
    ≈ −0.17). Power at these sizes, measured over 6 base seeds: 5 of 6 reject at 1% (the error
    is dominated by the few largest neurons, so log-errors scatter by ~0.6).
    α = 2 (Gaussian noise) and σ = 0 (no noise): widths {10², …, 10^3.5} × 4 seeds; flat — the 99%
    CI of the slope must lie inside (−0.03, 0.03), an equivalence margin far from the α = 1.5
    slope. (The limit G_2(κ) > 0 is approached with an O(1/n) finite-width bias that 16 seeds
    can resolve, so "the CI contains 0" would be the wrong test.)"""
    teacher = tl.make_teacher(5, 4, seed=1)
    X, Y = tl.teacher_student_data(teacher, 1000, seed=2)
    for alpha, sigma, widths, n_seeds in [(1.5, 1.0, [100, 316, 1000, 3162, 10000], 16),
                                          (2.0, 1.0, [100, 316, 1000, 3162], 4),
                                          (2.0, 0.0, [100, 316, 1000, 3162], 4)]:
        g = tl.grid(widths, [alpha], [sigma], n_seeds=n_seeds, lr=0.25)
        r = tl.train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], replicate=g["replicate"], steps=20,
                              data=(X, Y), noise="neuron", batch_size=8, kappas=(0.1,), seed=2024)
        assert np.all(r.ok)
        fit = tl.fit_width_slope(g["width"], r.prune_error[:, -1, 0], level=0.01)
        if alpha < 2:
            assert fit.decreasing, fit
        else:
            assert -0.03 < fit.ci[0] and fit.ci[1] < 0.03, fit


def test_fit_width_slope_recovers_a_power_law():
    rng = np.random.default_rng(3)
    w = np.repeat([100.0, 1000.0, 10000.0], 20)
    e = 2.0 * w ** -0.3 * np.exp(0.05 * rng.standard_normal(w.size))
    fit = tl.fit_width_slope(w, e)
    assert fit.ci[0] < -0.3 < fit.ci[1] and fit.decreasing
    flat = tl.fit_width_slope(w, np.exp(0.05 * rng.standard_normal(w.size)))
    assert not flat.decreasing or flat.p_decreasing > 1e-3


@pytest.mark.parametrize("call, err, match", [
    (lambda: tl.width_study([4, 8, 16], "x", n_seeds=1, steps=2, lr=0.1), TypeError, "cases"),
    (lambda: tl.width_study([4, 8, 16], [(1.5,)], n_seeds=1, steps=2, lr=0.1), ValueError, r"cases\[0\]"),
    (lambda: tl.width_study([4, 8, 16], [(2.5, 0.1)], n_seeds=1, steps=2, lr=0.1), ValueError, r"cases\[0\] alpha"),
    (lambda: tl.width_study(8, [(1.5, 0.1)], n_seeds=1, steps=2, lr=0.1), TypeError, "widths"),
    (lambda: tl.sigma_study([], [1.5], width=4, n_seeds=1, steps=2, lr=0.1), ValueError, "sigmas"),
    (lambda: tl.sigma_study([0.1], [1.5], width=4, n_seeds=0, steps=2, lr=0.1), ValueError, "n_seeds"),
    (lambda: tl.step_size_study([4], 1.5, t=1.0, n_seeds=10**12), ValueError, "n_seeds"),
    (lambda: tl.step_size_study([4], 1.5, t=1.0, max_steps=0), ValueError, "max_steps"),
])
def test_studies_refuse_bad_input_naming_it(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_fit_width_slope_level_bounds_and_small_levels_stay_finite():
    from scipy import stats

    from simulations.noise_injection.study import LEVEL_MIN

    w, e = (4, 8, 16, 32), (0.4, 0.3, 0.2, 0.1)
    for bad in (5e-324, 1e-300, LEVEL_MIN / 2, 0.0, 1.0):
        with pytest.raises(ValueError, match="level"):
            tl.fit_width_slope(w, e, level=bad)
    fit = tl.fit_width_slope(w, e, level=LEVEL_MIN)
    ref = stats.linregress(np.log(w), np.log(e))
    half = stats.t.isf(LEVEL_MIN / 2, 2) * ref.stderr  # the quantile written out, dof = n - 2
    assert np.all(np.isfinite(fit.ci))
    np.testing.assert_allclose(fit.ci, (ref.slope - half, ref.slope + half), rtol=1e-12)
