"""Layer spectra (simulations.spectra): ESDs of weight matrices and their power-law tails.

Oracles: the ``powerlaw`` package (Alstott et al. 2014) on the same data and candidates, the
closed-form MLE, known exponents of Pareto samples and of heavy-tailed random matrices
(1 + μ/2, Martin & Mahoney 2021), the Marchenko–Pastur law (edges and CDF, with Tracy–Widom
finite-size scales), and numpy's eigvalsh / matrix norms.
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from simulations import spectra
from simulations.spectra import (
    CANDIDATES_MAX,
    MIN_TAIL,
    LayerSpectrum,
    PowerLawFit,
    esd,
    layer_spectrum,
    network_spectra,
    network_summary,
    power_law_fit,
    spectral_alpha,
)


def pareto(rng, a: float, n: int, xm: float = 1.0) -> np.ndarray:
    """n draws with density ∝ x^{−a} on [xm, ∞) (inverse CDF: xm (1 − U)^{−1/(a−1)})."""
    return xm * (1.0 - rng.random(n)) ** (-1.0 / (a - 1.0))


def sym_pareto(rng, mu: float, shape) -> np.ndarray:
    """iid entries ±P with P(|w| > t) = t^{−μ}, t ≥ 1 (symmetric Pareto of tail index μ)."""
    return rng.choice([-1.0, 1.0], size=shape) * (1.0 - rng.random(shape)) ** (-1.0 / mu)


def pl_fit(x, **kw):
    """powerlaw.Fit, continuous, silenced (it prints progress and warns)."""
    powerlaw = pytest.importorskip("powerlaw", reason="the powerlaw package (test extra) is the oracle here")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return powerlaw.Fit(np.asarray(x), discrete=False, verbose=0, **kw)


def pl_fit_same_candidates(x):
    """powerlaw's scan over the candidates ours scans: every distinct value leaving >= MIN_TAIL points.

    powerlaw scans the distinct values v with lo <= v < hi minus the largest of them, so
    hi = x_(n−MIN_TAIL+2) (ascending, 0-based) ends the scan at x_(n−MIN_TAIL), a tail of MIN_TAIL
    points. parameter_ranges lifts powerlaw's default α < 3 (which marks steeper candidates invalid).
    """
    xs = np.sort(x)
    n = xs.size
    assert np.unique(xs).size == n   # continuous data: no ties, so the index arithmetic above holds
    return pl_fit(xs, xmin=(xs[0], xs[n - MIN_TAIL + 2]), parameter_ranges={"alpha": [1, None]})


def mixed_sample(rng, a: float, n_tail: int = 600, n_body: int = 200) -> np.ndarray:
    """A Pareto(a) tail above 1 with a uniform body on (0.2, 1): the x_min scan has work to do."""
    return np.concatenate([rng.uniform(0.2, 1.0, n_body), pareto(rng, a, n_tail)])


# ------------------------------------------------------------------------------------ 1. powerlaw
@pytest.mark.parametrize("a", [1.6, 2.5, 3.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_scan_matches_powerlaw_on_pareto_samples(a, seed):
    x = mixed_sample(np.random.default_rng(seed), a)
    assert x.size <= CANDIDATES_MAX + MIN_TAIL      # every candidate scanned: no thinning
    ours = power_law_fit(x)
    ref = pl_fit_same_candidates(x)
    # identical candidates and closed form: the same xmin exactly; α and D to rounding (1e-9 relative:
    # powerlaw refines α numerically outside (1.5, 3], starting from the closed form, its optimum)
    assert ours.xmin == ref.xmin
    assert ours.alpha == pytest.approx(ref.alpha, rel=1e-9)
    assert ours.ks_distance == pytest.approx(ref.D, rel=1e-9, abs=1e-12)
    assert ours.n_tail == int(np.sum(x >= ref.xmin)) and ours.n == x.size


@pytest.mark.parametrize("kind", ["cauchy", "student_t3", "gaussian"])
def test_scan_matches_powerlaw_on_esds(kind):
    rng = np.random.default_rng(7)
    W = {"cauchy": lambda: rng.standard_t(1.0, (500, 250)),
         "student_t3": lambda: rng.standard_t(3.0, (500, 250)),
         "gaussian": lambda: rng.standard_normal((500, 250))}[kind]()
    lam = esd(W)
    ours = power_law_fit(lam)
    ref = pl_fit_same_candidates(lam)
    assert ours.xmin == ref.xmin
    assert ours.alpha == pytest.approx(ref.alpha, rel=1e-9)
    assert ours.ks_distance == pytest.approx(ref.D, rel=1e-9, abs=1e-12)
    # and every candidate's (α, D) agrees, not only the winner's
    res = ref.xmin_fitting_results
    for c, a_ref, d_ref in list(zip(res["xmins"], res["alphas"], res["distances"]))[::20]:
        f = power_law_fit(lam, xmin=c)
        assert f.alpha == pytest.approx(a_ref, rel=1e-9) and f.ks_distance == pytest.approx(d_ref, abs=1e-12)


def test_thinned_scan_and_explicit_candidates_match_powerlaw():
    x = mixed_sample(np.random.default_rng(3), 2.2, n_tail=2500, n_body=500)
    ref = pl_fit_same_candidates(x)
    cands = ref.xmin_fitting_results["xmins"]
    assert cands.size > CANDIDATES_MAX
    full = power_law_fit(x, xmin_candidates=cands)            # the same candidates given explicitly
    assert full.xmin == ref.xmin and full.alpha == pytest.approx(ref.alpha, rel=1e-9)
    thin = power_law_fit(x)                                    # CANDIDATES_MAX of them, evenly in rank
    assert thin.xmin in set(cands.tolist())
    assert thin.ks_distance >= ref.D - 1e-12                   # a subset cannot do better than the full scan
    # the thinned choice is still a sound fit: α within 4 standard errors of the full scan's
    assert abs(thin.alpha - ref.alpha) < 4 * (ref.alpha - 1) / math.sqrt(ref.n_tail)


@pytest.mark.parametrize("a", [1.5, 2.5, 4.0])
def test_fixed_xmin_is_the_closed_form_and_powerlaw(a):
    x = pareto(np.random.default_rng(11), a, 500, xm=2.0)
    f = power_law_fit(x, xmin=2.0)
    closed = 1.0 + x.size / np.sum(np.log(x / 2.0))          # Clauset et al. 2009, eq. 3.1
    assert f.alpha == pytest.approx(closed, rel=1e-12) and f.n_tail == 500 and f.xmin == 2.0
    ref = pl_fit(x, xmin=2.0, parameter_ranges={"alpha": [1, None]})
    assert f.alpha == pytest.approx(ref.power_law.alpha, rel=1e-9)
    assert f.ks_distance == pytest.approx(ref.power_law.D, abs=1e-12)
    # the KS distance written out: max |i/n − F(x_(i))| over the sorted tail (empirical CDF left of each point)
    xs = np.sort(x)
    D = np.max(np.abs(np.arange(xs.size) / xs.size - (1 - (xs / 2.0) ** (1 - closed))))
    assert f.ks_distance == pytest.approx(D, abs=1e-13)
    assert f.standard_error == pytest.approx((closed - 1) / math.sqrt(500))


# ------------------------------------------------------------------------------------ 2. known exponents
@pytest.mark.parametrize("a", [1.5, 2.0, 3.0, 5.0])
def test_pareto_exponent_recovered(a):
    # Fixed xmin: 2 n (a − 1)/(α̂ − 1) ~ χ²_{2n} exactly; |α̂ − a| < 4 se is a 4σ band (two-sided
    # false-alarm 6e-5 in the normal limit, n = 2000). Scanned xmin: the tail above any cut-off of a
    # Pareto sample is Pareto with the same exponent, so the same band holds with n_tail.
    # Seeds 500-514 checked: all pass; the band is (a − 1)·0.09, so α̂ estimating a − 1 (the CCDF
    # exponent) or a + 1 fails.
    x = pareto(np.random.default_rng(int(10 * a)), a, 2000)
    f = power_law_fit(x, xmin=1.0)
    assert abs(f.alpha - a) < 4 * (a - 1) / math.sqrt(2000)
    s = power_law_fit(x)
    assert abs(s.alpha - a) < 4 * (s.alpha - 1) / math.sqrt(s.n_tail)
    assert s.n_tail >= 200      # on a pure power law the scan keeps a large tail


@pytest.mark.parametrize("law,mu", [("pareto", 0.5), ("pareto", 1.0), ("student_t", 1.0)])
def test_heavy_tailed_matrix_esd_exponent_is_one_plus_mu_over_two(law, mu):
    # iid entries with P(|w| > t) ~ t^{−μ}, μ ∈ (0, 2): ESD density ~ λ^{−(1 + μ/2)} (Martin & Mahoney
    # 2021, their table of heavy-tailed universality classes: the same exponent at finite N and in the
    # limit for 0 < μ < 2). At 1000 × 500, over 20 seeds the fit's mean bias was −0.02 (μ = 0.5),
    # −0.03 (μ = 1, Pareto), −0.02 (Cauchy) with sd 1.1–1.5 × the MLE's se (the xmin scan adds
    # variance). Tolerance 4 se + 0.05 (the bias allowance); α̂ = μ (the entries' own tail index) or
    # μ/2 (the CCDF exponent of the ESD) fail by far more. Towards μ = 2 the finite-size bias grows
    # (+0.09 at μ = 1.5, +0.35 at μ = 1.8 at this size), see the monotonicity test below.
    # Seeds 1000-1014 checked for all three cases: all pass.
    rng = np.random.default_rng(int(100 * mu) + len(law))
    W = sym_pareto(rng, mu, (1000, 500)) if law == "pareto" else rng.standard_t(mu, (1000, 500))
    s = layer_spectrum(W)
    target = 1.0 + mu / 2.0
    assert abs(s.alpha - target) < 4 * (s.alpha - 1) / math.sqrt(s.n_tail) + 0.05
    assert s.n_tail >= 20 and s.ks_distance < 0.08    # a real tail (median 180 of 500 over 20 seeds), well fit


def test_heavy_tailed_esd_exponent_increases_with_mu():
    # same seed, μ = 0.5 < 1 < 1.5: the fitted exponents keep the order (seeds 50-64 checked: all
    # pass). μ ≤ 1 stay below 2; μ = 1.5 (target 1.75) exceeds 2 on 3 seeds of 15 by finite-size bias.
    alphas = [spectral_alpha(sym_pareto(np.random.default_rng(5), mu, (1000, 500))) for mu in (0.5, 1.0, 1.5)]
    assert alphas[0] < alphas[1] < alphas[2] and alphas[1] < 2.0


# ------------------------------------------------------------------------------------ 3. Marchenko–Pastur
def _tw_scales(N: int, M: int):
    """Tracy–Widom scales of the largest / smallest eigenvalue of WᵀW/N, iid N(0, 1) entries.

    Johnstone (2001, Ann. Statist. 29): for an n × p Gaussian A, λ_max(AᵀA) ≈ (√n + √p)² +
    (√n + √p)(1/√n + 1/√p)^{1/3}·TW₁; the soft lower edge (n ≠ p) has scale
    |√n − √p|·|1/√p − 1/√n|^{1/3}. Divided by N for X = WᵀW/N (symmetric in N, M otherwise).
    """
    a, b = math.sqrt(N), math.sqrt(M)
    return (a + b) * (1 / a + 1 / b) ** (1 / 3) / N, abs(a - b) * abs(1 / min(a, b) - 1 / max(a, b)) ** (1 / 3) / N


def _mp_cdf(x, q: float):
    """CDF of the non-zero MP eigenvalues, density ∝ √((λ₊ − λ)(λ − λ₋))/λ on [λ₋, λ₊] (σ = 1), by quadrature."""
    lo, hi = (1 - math.sqrt(q)) ** 2, (1 + math.sqrt(q)) ** 2

    def f(t):
        return math.sqrt(max((hi - t) * (t - lo), 0.0)) / t

    Z = integrate.quad(f, lo, hi, limit=200)[0]
    assert Z == pytest.approx(2 * math.pi * min(q, 1.0), rel=1e-9)      # the closed-form normalisation
    return np.array([integrate.quad(f, lo, min(max(v, lo), hi), limit=200)[0] / Z for v in x])


@pytest.mark.parametrize("shape", [(1000, 500), (300, 784)])
def test_gaussian_esd_fills_the_marchenko_pastur_bulk(shape):
    N, M = shape
    q = M / N
    sigma = 0.7
    lam = esd(np.random.default_rng(21).normal(0.0, sigma, shape))
    assert lam.size == min(N, M) and np.all(np.diff(lam) >= 0)
    lo, hi = (1 - math.sqrt(q)) ** 2 * sigma**2, (1 + math.sqrt(q)) ** 2 * sigma**2
    s_hi, s_lo = (s * sigma**2 for s in _tw_scales(N, M))
    # edges: λ_max − λ₊ ≈ s_hi·TW₁ (TW₁: mean −1.21, sd 1.27). Window [−7, +5] scales: the TW₁ tails
    # there are below 1e-5 (left ~ exp(−|s|³/24), right ~ exp(−(2/3)s^{3/2})). Mirror for λ_min.
    # (s_hi ≈ 0.011, λ₊ ≈ 1.43 at 1000 × 500: dividing by M instead of N, or σ² by σ, fails.)
    # Seeds 700-714 checked for both shapes (edges and KS below): all pass.
    assert hi - 7 * s_hi < lam[-1] < hi + 5 * s_hi
    assert lo - 5 * s_lo < lam[0] < lo + 7 * s_lo
    # bulk shape: KS distance to the MP CDF. ESD eigenvalues are rigid (far less spread than iid
    # draws): measured 0.005-0.011 over 5 seeds at these sizes; 0.05 leaves a 5x margin, while the
    # iid 1e-3 critical value would be 1.95/√n ≈ 0.09-0.11. A 10 % error in the scale gives D ≈ 0.1.
    F = _mp_cdf(lam / sigma**2, q)
    n = lam.size
    D = max(np.max(np.arange(1, n + 1) / n - F), np.max(F - np.arange(n) / n))
    assert D < 0.05


def test_gaussian_esd_has_no_power_law_tail_unlike_heavy_tailed():
    # What the fit gives on MP spectra (1000 × 500, 40 seeds): α̂ from 4.5 to 23 (median 8.5), KS
    # distance 0.116-0.15; on the μ = 1 heavy-tailed matrix α̂ ≈ 1.5, D ≈ 0.04. WeightWatcher's "α > 8
    # means random" holds only for about half of the MP draws at this size; the honest separation
    # is α̂ > 4 together with a poor fit (D > 0.1). Seeds 0-14 checked for all the inequalities below.
    for seed in range(3):
        mp = layer_spectrum(np.random.default_rng(seed).standard_normal((1000, 500)))
        ht = layer_spectrum(sym_pareto(np.random.default_rng(seed), 1.0, (1000, 500)))
        assert mp.alpha > 4.0 and mp.ks_distance > 0.1
        assert ht.alpha < 2.0 and ht.ks_distance < 0.08
        assert mp.alpha > 2 * ht.alpha


# ------------------------------------------------------------------------------------ 4. norms, shapes
@pytest.mark.parametrize("shape", [(60, 40), (40, 60), (50, 50)])
def test_eigenvalues_norms_and_ranks_against_numpy(shape):
    rng = np.random.default_rng(4)
    W = rng.standard_t(2.5, shape)
    N, M = shape
    lam = esd(W)
    ref = np.linalg.eigvalsh(W.T @ W / N)                    # M eigenvalues of X itself
    assert lam.dtype == np.float64 and lam.size == min(N, M)
    np.testing.assert_allclose(lam, ref[-min(N, M):], rtol=1e-9, atol=1e-12 * ref[-1])
    if M > N:
        assert np.all(np.abs(ref[: M - N]) < 1e-10 * ref[-1])   # the structural zeros not listed
    s = layer_spectrum(W)
    two, fro = np.linalg.norm(W, 2), np.linalg.norm(W, "fro")
    assert s.spectral_norm == pytest.approx(two**2 / N, rel=1e-12)
    assert s.log_spectral_norm == pytest.approx(math.log10(two**2 / N), rel=1e-12)
    assert s.stable_rank == pytest.approx(fro**2 / two**2, rel=1e-10)
    assert s.log_norm == pytest.approx(math.log10(fro**2 / N), rel=1e-10)
    assert s.weighted_alpha == pytest.approx(s.alpha * math.log10(two**2 / N), rel=1e-12)
    assert s.log_alpha_norm == pytest.approx(math.log10(np.sum(ref[ref > 1e-10 * ref[-1]] ** s.alpha)), rel=1e-9)
    assert s.shape == shape and s.n_fit == min(N, M)
    f = power_law_fit(lam)
    assert (s.alpha, s.xmin, s.ks_distance, s.n_tail) == (f.alpha, f.xmin, f.ks_distance, f.n_tail)
    assert spectral_alpha(W) == s.alpha
    assert not s.eigenvalues.flags.writeable


def test_scale_invariance_and_scaled_svd():
    # α and the stable rank do not depend on the scale of W; λ scales by c². The SVD runs on
    # W / max|W|, so c = 1e±100 (λ ~ 1e±200, inside the accepted range) must change nothing but λ.
    W = np.random.default_rng(8).standard_t(1.5, (80, 40))
    base = layer_spectrum(W)
    for c in (1e-100, 1e-3, 1e3, 1e100):
        s = layer_spectrum(W * c)
        assert s.alpha == pytest.approx(base.alpha, rel=1e-9) and s.xmin == pytest.approx(base.xmin * c * c, rel=1e-9)
        assert s.stable_rank == pytest.approx(base.stable_rank, rel=1e-9)
        assert s.log_spectral_norm == pytest.approx(base.log_spectral_norm + 2 * math.log10(c), abs=1e-9)


def test_conv_kernel_reshape():
    W4 = np.random.default_rng(9).standard_t(2.0, (8, 3, 5, 5))
    W2 = W4.reshape(24, 25)                                   # (out·in, kh·kw), Barsbey et al. 2021
    np.testing.assert_allclose(esd(W4), np.linalg.eigvalsh(W2.T @ W2 / 24)[1:], rtol=1e-9, atol=1e-12)  # 1 structural 0
    s = layer_spectrum(W4)
    assert s.shape == (24, 25) and s.eigenvalues.size == 24
    assert s.alpha == layer_spectrum(W2).alpha


def test_rank_deficient_layer_fits_only_nonzero_eigenvalues():
    rng = np.random.default_rng(10)
    W = rng.standard_t(2.0, (100, 15)) @ rng.standard_normal((15, 60))    # rank 15 of 60
    s = layer_spectrum(W)
    assert s.eigenvalues.size == 60 and s.n_fit == 15
    assert np.all(s.eigenvalues[:45] < 1e-20 * s.spectral_norm)
    assert s.alpha == power_law_fit(s.eigenvalues[45:]).alpha


def test_network_spectra_and_summary():
    rng = np.random.default_rng(12)
    weights = [rng.standard_t(1.0, (300, 784)), rng.standard_normal((100, 300)), rng.standard_t(3.0, (10, 100))]
    out = network_spectra(weights)
    assert [s.shape for s in out] == [(300, 784), (100, 300), (10, 100)]
    assert all(isinstance(s, LayerSpectrum) for s in out)
    assert out[0].alpha == layer_spectrum(weights[0]).alpha
    summ = network_summary(out)
    assert summ.n_layers == 3
    assert summ.mean_alpha == pytest.approx(np.mean([s.alpha for s in out]))
    assert summ.mean_weighted_alpha == pytest.approx(np.mean([s.alpha * math.log10(s.spectral_norm) for s in out]))
    assert summ.mean_stable_rank == pytest.approx(np.mean([s.stable_rank for s in out]))


def test_plot_esd_draws_the_fit():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simulations.spectra.plots import plot_esd

    s = layer_spectrum(np.random.default_rng(13).standard_t(1.0, (400, 200)))
    fig, ax = plt.subplots()
    try:
        plot_esd(ax, s)
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert "lambda" in ax.get_xlabel() and ax.get_ylabel()
        lines = ax.get_lines()
        vline = [ln for ln in lines if np.all(np.asarray(ln.get_xdata()) == s.xmin)]
        assert vline, "xmin is marked"
        fit = [ln for ln in lines if ln.get_linestyle() == "-" and len(ln.get_xdata()) == 100][0]
        x, y = np.asarray(fit.get_xdata()), np.asarray(fit.get_ydata())
        slope = np.polyfit(np.log(x), np.log(y), 1)[0]
        assert slope == pytest.approx(-s.alpha, rel=1e-9)       # the fitted line has slope −α
        with pytest.raises(TypeError, match="spectrum"):
            plot_esd(ax, "abc")
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------ validation
GOOD = np.random.default_rng(0).standard_t(2.0, (30, 20))


@pytest.mark.parametrize("bad,exc,match", [
    (np.ones(20), ValueError, "W must have ndim"),
    (np.ones((2, 3, 4)), ValueError, "W must have ndim"),
    (np.ones((0, 5)), ValueError, "W must have at least one row"),
    (np.full((20, 20), np.nan), ValueError, "W must contain only finite"),
    (np.full((20, 20), np.inf), ValueError, "W must contain only finite"),
    ("abc", TypeError, "W"),
    (np.array([[1 + 2j, 3j]]), TypeError, "W"),
    (GOOD * 1e200, ValueError, "W's largest eigenvalue"),
    (GOOD * 1e-200, ValueError, "W's largest eigenvalue"),
])
def test_esd_and_layer_spectrum_refuse_bad_W(bad, exc, match):
    for f in (esd, layer_spectrum, spectral_alpha):
        with pytest.raises(exc, match=match):
            f(bad)


def test_layer_spectrum_refuses_too_few_eigenvalues():
    assert np.all(esd(np.zeros((5, 4))) == 0.0)
    for W in (np.ones((5, 40)), np.zeros((20, 20)), np.ones((20, 20)),
              np.random.default_rng(1).standard_normal((20, 3)) @ np.ones((3, 20))):
        with pytest.raises(ValueError, match="W must have at least MIN_EIGENVALUES"):
            layer_spectrum(W)


def test_power_law_fit_refuses_bad_arguments():
    x = pareto(np.random.default_rng(2), 2.5, 100)
    for bad, match in [(np.ones(5), "x must have at least MIN_TAIL"), (np.r_[x, 0.0], "x must hold only values > 0"),
                       (np.r_[x, -1.0], "x must hold only values > 0"), (np.r_[x, np.nan], "x must contain only"),
                       (np.ones(50), "x must have a non-constant upper tail"), (x.reshape(10, 10), "x must have ndim"),
                       (np.zeros(0), "x must have at least")]:
        with pytest.raises(ValueError, match=match):
            power_law_fit(bad)
    with pytest.raises(TypeError, match="x"):
        power_law_fit("abc")
    for bad, exc, match in [(0.0, ValueError, "xmin must be in"), (-1.0, ValueError, "xmin must be in"),
                            (np.inf, ValueError, "xmin must be finite"), ("a", TypeError, "xmin"),
                            (1e6 * x.max(), ValueError, r"xmin=.* leaves 0 values")]:
        with pytest.raises(exc, match=match):
            power_law_fit(x, xmin=bad)
    with pytest.raises(ValueError, match="xmin and xmin_candidates are exclusive"):
        power_law_fit(x, xmin=1.0, xmin_candidates=[1.0])
    for bad, exc, match in [([x.max() * 2], ValueError, "xmin_candidates: none leaves"), ([-1.0], ValueError,
                            "xmin_candidates must hold only values > 0"), ([], ValueError, "xmin_candidates must have at least"),
                            ("abc", TypeError, "xmin_candidates"), ([np.nan], ValueError, "xmin_candidates must contain")]:
        with pytest.raises(exc, match=match):
            power_law_fit(x, xmin_candidates=bad)
    # a tail of exactly MIN_TAIL points is accepted, one fewer is not
    xs = np.sort(x)
    assert power_law_fit(x, xmin=xs[-MIN_TAIL]).n_tail == MIN_TAIL
    with pytest.raises(ValueError, match="xmin=.* leaves 9 values"):
        power_law_fit(x, xmin=xs[-MIN_TAIL + 1])


def test_tiny_and_huge_cut_offs_are_computed_in_log_space():
    x = pareto(np.random.default_rng(3), 2.0, 200)
    f = power_law_fit(x, xmin=5e-324)        # x / xmin would overflow; ln x − ln xmin does not
    assert math.isfinite(f.alpha) and f.alpha == pytest.approx(1 + 200 / np.sum(np.log(x) - math.log(5e-324)))
    g = power_law_fit(x * 1e300)
    assert g.alpha == pytest.approx(power_law_fit(x).alpha, rel=1e-9)


def test_network_functions_refuse_bad_arguments():
    with pytest.raises(TypeError, match="weights"):
        network_spectra("abc")
    with pytest.raises(TypeError, match="weights"):
        network_spectra(GOOD)
    with pytest.raises(ValueError, match="weights must hold at least one"):
        network_spectra([])
    with pytest.raises(ValueError, match=r"weights\[1\] must have at least MIN_EIGENVALUES"):
        network_spectra([GOOD, np.ones((3, 4))])
    with pytest.raises(ValueError, match=r"weights\[0\] must contain only finite"):
        network_spectra([np.full((20, 20), np.nan)])
    with pytest.raises(TypeError, match="spectra"):
        network_summary("abc")
    with pytest.raises(TypeError, match=r"spectra\[0\]"):
        network_summary([1.0])
    with pytest.raises(ValueError, match="spectra must hold at least one"):
        network_summary([])
    with pytest.raises(TypeError, match="spectra"):
        network_summary(layer_spectrum(GOOD))


def test_records_are_frozen_and_public():
    f = power_law_fit(pareto(np.random.default_rng(4), 2.0, 100))
    assert isinstance(f, PowerLawFit)
    with pytest.raises(AttributeError):
        f.alpha = 3.0
    assert set(spectra.__all__) >= {"esd", "power_law_fit", "PowerLawFit", "layer_spectrum", "LayerSpectrum",
                                    "spectral_alpha", "network_spectra", "network_summary", "NetworkSummary"}
