"""Sparsity schedules and per-layer density distributions.

Oracles: values of Zhu & Gupta's eq. 1 and Evci et al.'s eq. 1 worked out by hand; the
Erdős–Rényi(-kernel) densities solved by hand for fixed shapes (the ε of the budget equation,
the dense layer the rescaling forces); exact counts of random masks.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations.pruning.algorithms.distributions import layer_counts, layer_densities, random_masks
from simulations.pruning.algorithms.schedules import drop_fraction_at, polynomial_sparsity, pruning_steps

LENET = [(300, 784), (100, 300), (10, 100)]


# ---- Zhu & Gupta's polynomial schedule ------------------------------------------------------------------
@pytest.mark.parametrize("t, want", [(0, 0.0), (9, 0.0), (10, 0.0), (20, 0.8 * (1 - 0.75 ** 3)),
                                     (30, 0.8 * (1 - 0.5 ** 3)), (40, 0.8 * (1 - 0.25 ** 3)), (50, 0.8), (99, 0.8)])
def test_cubic_schedule_by_hand(t, want):
    # s_i = 0, s_f = 0.8, t0 = 10, t_end = 50: (t − t0)/(t_end − t0) = 0, 1/4, 1/2, 3/4, 1
    got = polynomial_sparsity(t, final_sparsity=0.8, start_step=10, end_step=50)
    assert got == pytest.approx(want, abs=1e-15)


def test_schedule_initial_sparsity_and_power():
    # linear from 0.5 to 0.9 over [0, 100]: at 25 → 0.6; cubic at 50 → 0.9 − 0.4/8 = 0.85
    assert polynomial_sparsity(25, final_sparsity=0.9, initial_sparsity=0.5, end_step=100, power=1) == \
        pytest.approx(0.6, abs=1e-15)
    assert polynomial_sparsity(50, final_sparsity=0.9, initial_sparsity=0.5, end_step=100) == \
        pytest.approx(0.85, abs=1e-15)
    assert polynomial_sparsity(3, final_sparsity=0.9, initial_sparsity=0.5, start_step=5, end_step=100) == 0.5
    # one-shot: t0 = t_end
    assert polynomial_sparsity(7, final_sparsity=0.6, start_step=7, end_step=7) == 0.6


def test_schedule_is_non_decreasing():
    s = [polynomial_sparsity(t, final_sparsity=0.95, initial_sparsity=0.1, start_step=3, end_step=77)
         for t in range(100)]
    assert all(b >= a for a, b in zip(s, s[1:]))


def test_pruning_steps():
    assert pruning_steps(10, 50, 10) == [10, 20, 30, 40, 50]
    assert pruning_steps(0, 25, 10) == [0, 10, 20, 25]
    assert pruning_steps(5, 5, 3) == [5]


# ---- RigL's cosine drop fraction ----------------------------------------------------------------------
@pytest.mark.parametrize("t, want", [(0, 0.3), (250, 0.15 * (1 + math.sqrt(0.5))), (500, 0.15), (1000 / 3, 0.225),
                                     (1000, 0.0), (1500, 0.0)])
def test_cosine_drop_fraction_by_hand(t, want):
    # α/2 (1 + cos(π t / T_end)), α = 0.3, T_end = 1000: cos(π/4) = √½, cos(π/2) = 0, cos(π/3) = ½
    if not float(t).is_integer():
        t, want, end = 1, 0.225, 3  # cos(π/3) at t = 1, T_end = 3
    else:
        end = 1000
    assert drop_fraction_at(int(t), drop_fraction=0.3, end_step=end) == pytest.approx(want, abs=1e-15)


def test_constant_drop_fraction():
    assert drop_fraction_at(10, drop_fraction=0.3, end_step=100, anneal="constant") == 0.3
    assert drop_fraction_at(101, drop_fraction=0.3, end_step=100, anneal="constant") == 0.0


# ---- per-layer densities --------------------------------------------------------------------------------
def _mean_density(shapes, d):
    n = [math.prod(s) for s in shapes]
    return sum(a * b for a, b in zip(d, n)) / sum(n)


def test_erk_lenet_by_hand():
    # D = 0.1, N = 266200. Raw densities (out + in)/(out·in). First pass: ε = 26620 / Σ(out + in) =
    # 26620 / 1594; the last layer gets ε·110/1000 = 1.84 > 1, so it is dense. Second pass:
    # ε = (26620 − 1000) / (1084 + 400), d_0 = ε·1084/235200, d_1 = ε·400/30000.
    eps = (26620 - 1000) / (1084 + 400)
    want = [eps * 1084 / 235200, eps * 400 / 30000, 1.0]
    got = layer_densities(LENET, 0.1, method="erk")
    assert got == pytest.approx(want, rel=1e-12)
    assert _mean_density(LENET, got) == pytest.approx(0.1, rel=1e-13)
    assert layer_densities(LENET, 0.1, method="er") == pytest.approx(want, rel=1e-12)  # same for dense layers


def test_erk_conv_shapes_by_hand():
    shapes = [(16, 3, 3, 3), (32, 16, 3, 3), (10, 512)]
    n = [16 * 27, 32 * 16 * 9, 5120]
    # ERK raw: (16+3+3+3)/432, (32+16+3+3)/4608, (10+512)/5120; D = 0.3: nothing exceeds 1?
    raw = [25 / 432, 54 / 4608, 522 / 5120]
    eps = 0.3 * sum(n) / sum(r * k for r, k in zip(raw, n))  # = 0.3·10160 / (25 + 54 + 522)
    assert eps == pytest.approx(3048 / 601, rel=1e-14)
    want = [r * eps for r in raw]
    assert max(want) < 1
    got = layer_densities(shapes, 0.3, method="erk")
    assert got == pytest.approx(want, rel=1e-12)
    assert _mean_density(shapes, got) == pytest.approx(0.3, rel=1e-13)
    # ER ignores the kernel: (out + in)/(out·in) for the first two dimensions
    raw_er = [19 / 48, 48 / 512, 522 / 5120]
    eps_er = 0.3 * sum(n) / sum(r * k for r, k in zip(raw_er, n))
    got_er = layer_densities(shapes, 0.3, method="er")
    want_er = [min(1.0, r * eps_er) for r in raw_er]
    if max(r * eps_er for r in raw_er) > 1:  # first layer: 19/48·ε_er > 1 → dense, re-solve
        eps_er = (0.3 * sum(n) - n[0]) / (raw_er[1] * n[1] + raw_er[2] * n[2])
        want_er = [1.0, raw_er[1] * eps_er, raw_er[2] * eps_er]
    assert got_er == pytest.approx(want_er, rel=1e-12)
    assert _mean_density(shapes, got_er) == pytest.approx(0.3, rel=1e-13)


def test_dense_layers_count_in_budget():
    # first layer dense at D = 0.95: ε = (0.95·266200 − 235200)/(400 + 110)
    got = layer_densities(LENET, 0.95, method="erk", dense_layers=[0])
    assert got[0] == 1.0
    eps = (0.95 * 266200 - 235200) / (400 + 110)
    want = [1.0, min(1.0, eps * 400 / 30000), min(1.0, eps * 110 / 1000)]
    assert want[2] == 1.0  # the last layer is forced dense too: re-solve over layer 1 alone
    want[1] = (0.95 * 266200 - 235200 - 1000) / 30000
    assert got == pytest.approx(want, rel=1e-12)
    assert _mean_density(LENET, got) == pytest.approx(0.95, rel=1e-13)
    uni = layer_densities(LENET, 0.5, method="uniform", dense_layers=[-1])
    assert uni[2] == 1.0 and uni[0] == uni[1] == pytest.approx((0.5 * 266200 - 1000) / 265200, rel=1e-13)
    assert layer_densities(LENET, 0.5, method="uniform") == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("d", [0.001, 0.02, 0.1, 0.5, 0.9, 0.999, 1.0])
@pytest.mark.parametrize("method", ["uniform", "er", "erk"])
def test_global_density_exact(d, method):
    shapes = [(64, 3, 3, 3), (128, 64, 3, 3), (10, 128), (7, 5)]
    got = layer_densities(shapes, d, method=method)
    assert all(0 < x <= 1 for x in got)
    assert _mean_density(shapes, got) == pytest.approx(d, rel=1e-12)
    counts = layer_counts(shapes, got)
    n = [math.prod(s) for s in shapes]
    assert sum(counts) == round(d * sum(n))
    assert all(0 <= c <= k for c, k in zip(counts, n))
    assert all(abs(c - x * k) < 1 for c, x, k in zip(counts, got, n))


def test_random_masks_exact_counts_and_seeded():
    d = layer_densities(LENET, 0.1)
    a = random_masks(LENET, d, seed=3)
    b = random_masks(LENET, d, seed=3)
    c = random_masks(LENET, d, seed=4)
    assert [int(m.sum()) for m in a] == layer_counts(LENET, d)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[2].all()


# ---- validation -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: polynomial_sparsity(-1, final_sparsity=0.5, end_step=3), "step"),
    (lambda: polynomial_sparsity(1, final_sparsity=1.0, end_step=3), "final_sparsity"),
    (lambda: polynomial_sparsity(1, final_sparsity=0.5, initial_sparsity=0.6, end_step=3), "initial_sparsity"),
    (lambda: polynomial_sparsity(1, final_sparsity=0.5, start_step=4, end_step=3), "end_step"),
    (lambda: polynomial_sparsity(1, final_sparsity=0.5, end_step=3, power=0), "power"),
    (lambda: pruning_steps(0, 10, 0), "frequency"),
    (lambda: pruning_steps(0, 10**9, 1), "frequency"),
    (lambda: drop_fraction_at(1, drop_fraction=1.5, end_step=3), "drop_fraction"),
    (lambda: drop_fraction_at(1, end_step=0), "end_step"),
    (lambda: drop_fraction_at(1, end_step=3, anneal="linear"), "anneal"),
    (lambda: layer_densities(LENET, 0.0), "density"),
    (lambda: layer_densities(LENET, 0.5, method="random"), "method"),
    (lambda: layer_densities(LENET, 0.5, dense_layers=[3]), "dense_layers"),
    (lambda: layer_densities(LENET, 0.5, dense_layers=[0]), "dense_layers"),
    (lambda: layer_densities([(3,)], 0.5), "shapes"),
    (lambda: layer_densities([(3, 0)], 0.5), "shapes"),
    (lambda: layer_densities("abc", 0.5), "shapes"),
    (lambda: layer_counts(LENET, [0.5, 0.5]), "densities"),
    (lambda: layer_counts(LENET, [0.5, 0.5, 1.5]), "densities"),
])
def test_validation_names_parameter(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()
