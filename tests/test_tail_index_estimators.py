"""simulations.tail_index.estimators: recovery of α, known biases, reference implementations, validation.

Tolerances:
* block-sum on SαS: sd(α̂) ≈ α² √(V (1 + 1/K₁)/(K₂ ln²K₁)), V = Var ln|X| (theory/REFERENCE.md §6);
  checked against 30 seeds while writing these tests (predicted 0.0076 / 0.018 / 0.024,
  observed 0.0068 / 0.020 / 0.026 for α = 0.8 / 1.5 / 1.8, n = 50 000, K₁ = 10).
  A single block size is tested at 4.5 sd (false alarm 7e-6); the median over block
  sizes lies between the smallest and largest per-K₁ estimate, so it is tested at
  4.5 × the largest per-K₁ sd (union bound over ≤ 8 sizes: < 6e-5).
* Hill on exact Pareto tails: k·(1/α̂) is Gamma(k, 1/α)-distributed (Rényi
  representation), so |1/α̂ − 1/α| < 4.5/(α√k) fails with probability < 1e-5.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.stable import api as stable
from simulations.tail_index import estimators as ti
from simulations.tail_index.study import estimator_bias_table, format_table, sample_law
from theory import stable as ts

Z = 4.5


def _sd_block(alpha: float, n: int, k1: int) -> float:
    v = ts.log_abs_var(alpha)
    return alpha**2 * math.sqrt(v * (1 + 1 / k1) / ((n // k1) * math.log(k1) ** 2))


@pytest.mark.parametrize("alpha", [0.8, 1.2, 1.5, 1.8])
def test_block_sum_recovers_alpha_on_sas(alpha):
    n = 50_000
    x = stable.rvs(alpha, 0.0, 2.5, size=n, seed=int(alpha * 10))
    assert abs(ti.block_sum(x, block_sizes=[10]) - alpha) < Z * _sd_block(alpha, n, 10)
    tol = Z * max(_sd_block(alpha, n, k) for k in ti.default_block_sizes(n))
    assert abs(ti.block_sum(x) - alpha) < tol
    assert abs(ti.block_sum(x, form="order") - alpha) < tol  # observed sd ≤ mean form's
    # centre="mean" is centre=None on the mean-centred sample (exactly: no zeros arise here)
    assert ti.block_sum(x, center="mean", block_sizes=[10]) == ti.block_sum(x - x.mean(), center=None, block_sizes=[10])


def test_block_sum_mean_centring_converges_only_for_alpha_above_one():
    """The sample mean's error is itself α-stable, of scale ∝ n^{1/α − 1}: small for α near 2, useless below 1.

    Tolerances from 200 seeds (n = 50 000, K₁ = 10) while writing this test: at α = 1.8 the largest
    |α̂ − α| was 0.066 against the bound's 4.5 sd + 0.01 = 0.118 (at α = 1.5 and 1.2 a fixed
    tolerance cannot hold: the mean's heavy-tailed error exceeded 4.5 sd + 0.01 in 2.5 % and 13 %
    of seeds). At α = 0.8 mean-centring biases α̂ upward: the mean |α̂ − α| over 10 seeds was
    ≥ 0.115 in all 40 disjoint groups of 400 seeds (overall mean 0.17), against a median-centred
    sd of 0.0076, so 0.08 separates the two by 10 sd of a working estimator.
    """
    n = 50_000
    x = stable.rvs(1.8, 0.0, 2.5, size=n, seed=18)
    assert abs(ti.block_sum(x, center="mean", block_sizes=[10]) - 1.8) < Z * _sd_block(1.8, n, 10) + 0.01
    errs = [abs(ti.block_sum(stable.rvs(0.8, 0.0, 2.5, size=n, seed=s), center="mean", block_sizes=[10]) - 0.8)
            for s in range(10)]
    assert np.mean(errs) > 0.08


def test_block_sum_gaussian_saturates_at_two_and_clip():
    x = np.random.default_rng(1).standard_normal(40_000)
    est = ti.block_sum(x, clip=None)
    assert abs(est - 2.0) < Z * max(_sd_block(2.0, 40_000, k) for k in ti.default_block_sizes(40_000))
    assert ti.block_sum(x, clip=1.7) == 1.7
    assert ti.block_sum(x, clip=2.0) <= 2.0


@pytest.mark.parametrize("alpha", [1.3, 1.9])
def test_block_sum_multivariate(alpha):
    """Sub-Gaussian SαS vectors and vectors of iid SαS coordinates are strictly stable: Y =ᵈ K₁^{1/α} X."""
    n = 20_000
    tol = Z * max(_sd_block(alpha, n, k) for k in ti.default_block_sizes(n)) + 0.02  # norms: V differs a little
    v = stable.sub_gaussian_rvs(alpha, 5, n, seed=3)
    assert abs(ti.block_sum(v) - alpha) < tol
    iid = stable.rvs(alpha, size=(n, 3), seed=4)
    assert abs(ti.block_sum(iid) - alpha) < tol


def test_block_sum_matches_reference_implementation():
    """The mean form without centring equals the papers' code (Şimşekli et al. 2019), written out here."""

    def reference(m, X):  # X: (N, d); numpy transcription of the published estimator
        N = len(X)
        n = N // m
        Y = X[: n * m].reshape(n, m, -1).sum(axis=1)
        eps = np.spacing(1)
        diff = (np.log(np.linalg.norm(Y, axis=1) + eps).mean() - np.log(np.linalg.norm(X[: n * m], axis=1) + eps).mean()) / math.log(m)
        return 1 / diff

    x = stable.rvs(1.4, size=(6000, 2), seed=8)
    for m in (4, 12, 77):
        assert ti.block_sum(x, block_sizes=[m], center=None) == pytest.approx(reference(m, x), rel=1e-9)
        assert ti.block_sum(x[:, 0], block_sizes=[m], center=None) == pytest.approx(reference(m, x[:, :1]), rel=1e-9)
    # median over block sizes
    ests = [reference(m, x) for m in (4, 12, 77)]
    assert ti.block_sum(x, block_sizes=[4, 12, 77], center=None) == pytest.approx(np.median(ests), rel=1e-9)


def test_block_sum_order_form_reference():
    x = stable.rvs(1.2, size=1000, seed=2)
    k1, k2 = 8, 125
    y = np.abs(x.reshape(k2, k1).sum(axis=1))
    k = (k2 + 1) // 2
    ys = np.sort(y)[::-1][k - 1]
    xs = np.sort(np.abs(x))[::-1][k1 * k - 1]
    ref = math.log(k1) / (math.log(ys) - math.log(xs))
    assert ti.block_sum(x, block_sizes=[k1], form="order", center=None) == pytest.approx(ref, rel=1e-12)


def test_block_sum_needs_centring():
    """A location shift breaks strict stability; median-centring restores the estimate."""
    n = 20_000
    x = stable.rvs(1.5, 0.0, 1.0, 5.0, size=n, seed=6)
    tol = Z * max(_sd_block(1.5, n, k) for k in ti.default_block_sizes(n)) + 0.01
    assert abs(ti.block_sum(x) - 1.5) < tol
    assert ti.block_sum(x, center=None) < 1.2


def test_block_sum_biased_on_non_stable_power_laws():
    """Documented bias (theory/REFERENCE.md §6): t₃ (α = 3) reads below 2 (saturation); Pareto(0.8) reads high.

    Robust margins: t₃ estimates ≈ 1.65 ± 0.03 and Pareto(0.8) ≈ 0.88 ± 0.02 at these sizes
    (20 seeds), far from the thresholds.
    """
    for seed in range(3):
        assert ti.block_sum(sample_law("student_t", 3.0, 20_000, seed)) < 2.0
        assert ti.block_sum(sample_law("pareto", 0.8, 10_000, seed)) > 0.8 + 0.02
        # Hill is not fooled by Student-t's heavy tail: within 0.5 of 3 at n = 20 000 (its sd ≈ 0.2)
        assert abs(ti.hill(sample_law("student_t", 3.0, 20_000, seed)) - 3.0) < 0.75


@pytest.mark.parametrize("alpha", [0.8, 1.5, 3.0])
def test_hill_exact_on_pareto(alpha):
    n, k = 20_000, 2_000
    x = sample_law("pareto", alpha, n, seed=int(alpha * 7))
    est = ti.hill(x, k=k)
    assert abs(1 / est - 1 / alpha) < Z / (alpha * math.sqrt(k))


def test_hill_and_pickands_match_sort_references():
    x = stable.rvs(1.1, size=999, seed=12) * 3
    a = np.sort(np.abs(x))[::-1]
    for k in (1, 5, 31, 998):
        ref = 1 / (np.mean(np.log(a[:k])) - np.log(a[k]))
        assert ti.hill(x, k=k) == pytest.approx(ref, rel=1e-12)
    assert ti.hill(x) == ti.hill(x, k=math.ceil(math.sqrt(999)))
    for k in (1, 7, 60, 249):
        g = math.log((a[k - 1] - a[2 * k - 1]) / (a[2 * k - 1] - a[4 * k - 1])) / math.log(2)
        assert ti.pickands(x, k=k) == pytest.approx(1 / g if g > 0 else math.inf, rel=1e-12)


def test_pickands_recovers_pareto():
    """Pickands on exact Pareto(α): asymptotic sd of γ̂ is γ√(2^{2γ+1}+1)/(2(2^γ−1) ln 2 √k) (Dekkers & de Haan 1989)."""
    alpha, n, k = 1.5, 200_000, 5_000
    g = 1 / alpha
    sd_g = g * math.sqrt(2 ** (2 * g + 1) + 1) / (2 * (2**g - 1) * math.log(2) * math.sqrt(k))
    est = ti.pickands(sample_law("pareto", alpha, n, seed=5), k=k)
    assert abs(1 / est - g) < Z * sd_g


def test_degenerate_tails_give_inf():
    assert ti.hill(np.ones(10), k=3) == math.inf
    assert ti.pickands(np.ones(16)) == math.inf


def test_weight_tail_index_modes():
    rng = np.random.default_rng(0)
    W = stable.rvs(1.4, size=(400, 250), seed=rng)
    assert ti.weight_tail_index(W) == ti.block_sum(W.ravel(), center="median", clip=2.0)
    assert abs(ti.weight_tail_index(W) - 1.4) < 0.05
    rows = ti.weight_tail_index(W, mode="rows")
    assert rows == min(2.0, ti.block_sum(W, center="median"))
    assert abs(rows - 1.4) < 0.3  # only 400 vector samples
    assert ti.weight_tail_index(W, mode="row_norms", center=False) == min(
        2.0, ti.block_sum(np.linalg.norm(W, axis=1), center=None)
    )
    assert ti.weight_tail_index(W, estimator="hill", clip=None) == ti.hill(W.ravel() - np.median(W))
    assert ti.weight_tail_index(W, estimator="pickands", center=False, clip=None, k=100) == ti.pickands(W, k=100)
    G = rng.standard_normal((300, 300))
    assert ti.weight_tail_index(G) <= 2.0
    assert ti.weight_tail_index(W.reshape(400, 50, 5)) == ti.weight_tail_index(W)
    assert ti.weight_tail_index(W, block_sizes=[10], form="order") == min(
        2.0, ti.block_sum(W.ravel(), block_sizes=[10], form="order")
    )


def test_bias_table_small():
    rows = estimator_bias_table(laws=(("stable", 1.5), ("pareto", 1.5)), n=2000, reps=4, seed=1)
    assert len(rows) == 8
    assert {r["estimator"] for r in rows} == {"block_sum(mean)", "block_sum(order)", "hill", "pickands"}
    r = next(r for r in rows if r["law"] == "stable" and r["estimator"] == "block_sum(mean)")
    assert abs(r["bias"]) < 0.2 and r["rmse"] >= abs(r["bias"])
    assert rows == estimator_bias_table(laws=(("stable", 1.5), ("pareto", 1.5)), n=2000, reps=4, seed=1)
    assert "| stable | 1.5 |" in format_table(rows)


# ------------------------------------------------------------------ validation
finite_arrays = st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=3)


@given(finite_arrays)
def test_too_few_samples(xs):
    for fn, need in ((ti.hill, 2), (ti.pickands, 4), (ti.block_sum, 4)):
        if len(xs) < need:
            with pytest.raises(ValueError, match="x must have at least"):
                fn(np.array(xs, dtype=float))


@given(st.integers(max_value=0) | st.integers(min_value=20))
def test_bad_k(k):
    x = np.arange(1.0, 21.0)
    with pytest.raises(ValueError, match="k must"):
        ti.hill(x, k=k)
    with pytest.raises(ValueError, match="k must"):
        ti.pickands(x, k=k)  # valid k is [1, 5] here


@given(st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_input(v):
    x = np.arange(1.0, 41.0)
    x[7] = v
    for fn in (ti.hill, ti.pickands, ti.block_sum):
        with pytest.raises(ValueError, match="finite"):
            fn(x)
    with pytest.raises(ValueError, match="finite"):
        ti.weight_tail_index(x.reshape(8, 5))


@given(st.integers(max_value=1) | st.integers(min_value=21))
def test_bad_block_sizes(b):
    with pytest.raises(ValueError, match="block_sizes"):
        ti.block_sum(np.arange(1.0, 41.0), block_sizes=[b])


def test_bad_options():
    x = stable.rvs(1.5, size=100, seed=0)
    with pytest.raises(ValueError, match="form"):
        ti.block_sum(x, form="median")
    with pytest.raises(ValueError, match="center"):
        ti.block_sum(x, center="mode")
    with pytest.raises(ValueError, match="clip"):
        ti.block_sum(x, clip=0.0)
    with pytest.raises(ValueError, match="ndim"):
        ti.block_sum(x.reshape(2, 5, 10))
    with pytest.raises(ValueError, match="block_sizes"):
        ti.block_sum(x, block_sizes=[])
    with pytest.raises(ValueError, match="constant"):
        ti.block_sum(np.full(50, 3.0))
    with pytest.raises(ValueError, match="non-zero"):
        ti.hill(np.r_[np.zeros(20), 1.0, 2.0], k=3)
    with pytest.raises(TypeError, match="x must"):
        ti.hill("abc")
    W = x.reshape(10, 10)
    with pytest.raises(ValueError, match="mode"):
        ti.weight_tail_index(W, mode="cols")
    with pytest.raises(ValueError, match="estimator"):
        ti.weight_tail_index(W, estimator="ml")
    with pytest.raises(ValueError, match="estimator"):
        ti.weight_tail_index(W, mode="rows", estimator="hill")
    with pytest.raises(ValueError, match="W must"):
        ti.weight_tail_index(x)
    with pytest.raises(TypeError, match="center"):
        ti.weight_tail_index(W, center="median")
    with pytest.raises(ValueError, match="clip"):
        ti.weight_tail_index(W, clip=-1.0)


@given(st.integers(max_value=0))
def test_study_validation(n):
    with pytest.raises(ValueError, match="n must"):
        sample_law("stable", 1.5, n, seed=0)
    with pytest.raises(ValueError, match="reps must"):
        estimator_bias_table(laws=(("stable", 1.5),), n=100, reps=1 + n)
    with pytest.raises(ValueError, match="law must"):
        sample_law("cauchy", 1.0, 10, seed=0)
    with pytest.raises(ValueError, match="param"):
        sample_law("stable", 2.5, 10, seed=0)
    with pytest.raises(ValueError, match="param"):
        sample_law("pareto", -1.0, 10, seed=0)


def test_default_block_sizes_limit():
    """default_block_sizes(2**64 + 1) searched 2³² candidate divisors."""
    with pytest.raises(ValueError, match=r"n must be an integer in \[4, 1000000000000\]"):
        ti.default_block_sizes(2**64 + 1)
    with pytest.raises(ValueError, match="n must"):
        ti.default_block_sizes(ti.N_MAX + 1)
    n = 2**38  # divisors 2, 4, ..., 2^19 of n in [2, √n]: 19 of them, at most 8 kept, spread geometrically
    sizes = ti.default_block_sizes(n)
    assert 3 <= len(sizes) <= 8 and sizes == sorted(set(sizes))
    assert all(n % k == 0 and 2 <= k <= 2**19 for k in sizes)
    assert sizes[0] == 2 and sizes[-1] == 2**19


@pytest.mark.parametrize("center", [1, 0, "yes", np.array([True])])
def test_weight_tail_index_center_must_be_a_bool(center):
    W = np.random.default_rng(0).standard_normal((10, 10))
    with pytest.raises(TypeError, match="center must be True or False"):
        ti.weight_tail_index(W, center=center)


def test_sample_law_options_are_checked():
    """np.array(['stable']) == 'stable' is an array, whose truth value picked the stable branch."""
    with pytest.raises(TypeError, match="law"):
        sample_law(np.array(["stable"]), 1.5, 10, seed=0)
    with pytest.raises(ValueError, match="n must"):
        sample_law("pareto", 1.5, 10**12, seed=0)


# ---------------------------------------------------------------- study inputs
def test_format_table_checks_its_rows():
    from simulations.tail_index.study import estimator_bias_table, format_table

    with pytest.raises(ValueError, match="rows must contain at least one"):
        format_table([])  # IndexError before
    with pytest.raises(TypeError, match="rows must be a list"):
        format_table({"law": "stable"})
    with pytest.raises(TypeError, match=r"rows\[0\] must be a dict"):
        format_table([3])
    with pytest.raises(ValueError, match=r"rows\[0\] lacks the keys \['bias'"):
        format_table([{"law": "stable", "alpha": 1.5, "estimator": "hill", "n": 10, "reps": 2}])
    rows = estimator_bias_table(laws=(("pareto", 1.5),), n=64, reps=2,
                                estimators={"hill": ti.hill, "pickands": ti.pickands}, seed=0)
    text = format_table(rows)
    assert text.splitlines()[0] == "n = 64 samples, 2 replications (bias = mean(α̂) − α)"
    assert text.count("| pareto | 1.5 |") == 1
    with pytest.raises(ValueError, match="rows has no row for law='stable', alpha=1.5, estimator='pickands'"):
        format_table(rows + [dict(rows[0], law="stable")])  # the stable law has no pickands row: KeyError before


@pytest.mark.parametrize("kw,exc,match", [
    (dict(law="stable", param=1e-300, n=50), ValueError, r"param must be in \[0\.1, 2\]"),  # ±inf draws before
    (dict(law="stable", param=0.0003, n=50), ValueError, r"param must be in \[0\.1, 2\]"),
    (dict(law="stable", param=1.5, n=134217727), ValueError, r"n must be an integer in \[1, 100000000\]"),
    (dict(law="pareto", param=-1.0, n=5), ValueError, "param"),
])
def test_sample_law_limits(kw, exc, match):
    from simulations.tail_index.study import sample_law

    with pytest.raises(exc, match=match):
        sample_law(**kw)


def test_weight_tail_index_names_W_for_degenerate_weights():
    with pytest.raises(ValueError, match="W must not be constant"):
        ti.weight_tail_index(np.ones((2, 2, 2)))  # 'x must not be constant' named the estimator's argument
    with pytest.raises(ValueError, match="W must have at least one entry"):
        ti.weight_tail_index(np.ones((0, 3)))
    with pytest.raises(ValueError, match="W must not be constant"):
        ti.weight_tail_index(np.ones((4, 4)), estimator="hill")  # centred: all zeros
    assert ti.weight_tail_index(np.ones((4, 4)), estimator="hill", center=False) == 2.0  # inf (no tail), clipped


def test_tails_legend_describes_the_coloured_lines():
    """The asymptotes are dashed in each α's own colour; the legend's proxies say so in grey, not black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    from simulations.tail_index import plots, study

    fig, ax = plt.subplots()
    plots.plot_tails(ax, study.tail_curves((1.5, 2.0), n=2000, seed=0))
    leg = {t.get_text(): h for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    dashed = [h for lab, h in leg.items() if "dashed" in lab]
    assert len(dashed) == 1 and dashed[0].get_linestyle() == "--"
    assert to_rgba(dashed[0].get_color()) != to_rgba("k")
    assert any("solid" in lab for lab in leg) and {"α = 1.5", "α = 2"} <= set(leg)
    plt.close(fig)


def test_weight_tail_index_conv_kernels_reshape_matches_hand_built_samples():
    rng = np.random.default_rng(41)
    W = rng.standard_t(1.5, size=(6, 4, 3, 3))
    kernels = np.array([[W[o, c, i, j] for i in range(3) for j in range(3)] for o in range(6) for c in range(4)])
    filters = np.array([[W[o, c, i, j] for c in range(4) for i in range(3) for j in range(3)] for o in range(6)])
    assert kernels.shape == (24, 9) and filters.shape == (6, 36)
    got = ti.weight_tail_index(W, mode="rows", conv_samples="kernels", clip=None)
    assert got == ti.block_sum(kernels, center="median", clip=None)
    norms = np.sqrt((kernels**2).sum(axis=1))
    got = ti.weight_tail_index(W, mode="row_norms", estimator="hill", conv_samples="kernels", clip=None, k=6)
    assert got == pytest.approx(ti.hill(norms - np.median(norms), k=6), rel=1e-12)
    # the default is unchanged: one row per output filter
    assert ti.weight_tail_index(W, mode="rows", clip=None) == ti.block_sum(filters, center="median", clip=None)
    assert ti.weight_tail_index(W, mode="rows", conv_samples="filters") == ti.weight_tail_index(W, mode="rows")
    # the same entries in the same order: "entries" does not depend on the layout
    assert ti.weight_tail_index(W, conv_samples="kernels") == ti.weight_tail_index(W)


@pytest.mark.parametrize("alpha", [1.2, 1.7])
def test_weight_tail_index_conv_kernels_recovers_a_stable_alpha(alpha):
    from scipy.stats import levy_stable

    # iid SαS kernel entries: each 3×3 slice is a vector with iid strictly stable coordinates, so a
    # block sum of K₁ slices is K₁^{1/α} times one in law and the multivariate block-sum estimate is
    # consistent. Over 100 seeds at this size (2048 slices in R^9) its sd was 0.030–0.032 and the
    # largest error 0.08: the tolerance 0.15 is ~5 sd.
    W = levy_stable.rvs(alpha, 0.0, size=(64, 32, 3, 3), random_state=np.random.default_rng(42))
    est = ti.weight_tail_index(W, mode="rows", conv_samples="kernels", clip=None)
    assert abs(est - alpha) < 0.15


def test_weight_tail_index_conv_samples_is_checked():
    W = np.random.default_rng(43).standard_normal((4, 3, 3, 3))
    with pytest.raises(ValueError, match="conv_samples"):
        ti.weight_tail_index(W, conv_samples="kernel")
    with pytest.raises(TypeError, match="conv_samples"):
        ti.weight_tail_index(W, conv_samples=1)
    with pytest.raises(ValueError, match="conv_samples"):
        ti.weight_tail_index(W.reshape(4, 3, 9), mode="rows", conv_samples="kernels")
