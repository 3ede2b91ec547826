r"""Goldie's tail constant of the one-dimensional Kesten recursion X_{k+1} = A_k X_k + B_k.

Result encoded (Kesten 1973, Acta Math. 131; Grincevičius 1975; Goldie 1991, "Implicit renewal
theory and tails of solutions of random equations", Ann. Appl. Probab. 1(1):126–166, the theorem
on R =ᵈ MR + Q commonly cited as his Thm 4.1 — the number was not checked against the paper; the
statement below is the one of Buraczewski, Damek & Mikosch 2016, *Stochastic Models with
Power-Law Tails*, §2.4). Let (A, B) be a random pair of reals, (A_k, B_k) iid copies, and X
independent of (A, B) with

    X =ᵈ A X + B.

Conditions (Kesten–Goldie): for some α > 0

* E|A|^α = 1 and E[|A|^α ln⁺|A|] < ∞;
* E|B|^α < ∞;
* the law of ln|A| given A ≠ 0 is non-arithmetic (not supported on a lattice hℤ);
* P(A x + B = x) < 1 for every x (X is not a constant).

Then E ln|A| < 0, the recursion has a unique stationary law and, with
m_α = E[|A|^α ln|A|] ∈ (0, ∞),

* if A ≥ 0 a.s.: P(X > x) ~ C₊ x^{−α} and P(X < −x) ~ C₋ x^{−α},
  C₊ = E[((AX + B)⁺)^α − ((AX)⁺)^α]/(α m_α),  C₋ = E[((AX + B)⁻)^α − ((AX)⁻)^α]/(α m_α);
* if P(A < 0) > 0: C₊ = C₋ = E[|AX + B|^α − |AX|^α]/(2α m_α);
* in both cases P(|X| > x) ~ C x^{−α} with C = C₊ + C₋ = E[|AX + B|^α − |AX|^α]/(α m_α) > 0.

The formula is *implicit*: the expectation E[|AX + B|^α − |AX|^α] is over X from the stationary
law itself (independent of (A, B)), which is not known in closed form in general; and the two
terms are separately infinite (E|X|^α = ∞), only their difference is integrable. So
:func:`goldie_constant` evaluates it by Monte Carlo, paired term by term, on samples of (A, B)
and *stationary* samples of X (:func:`stationary_samples` runs the recursion to get them), with
a delta-method standard error of the ratio. When α ≥ 2 the numerator's terms
≈ α|AX|^{α−1} B sgn(AX) have infinite variance (E|X|^{2α−2} = ∞), so its standard error is
unreliable there; the estimate is still consistent.

An explicit case (derived here; checked in ``tests/test_kesten_goldie.py``): A ~ Lomax(α + 1),
P(A > t) = (1 + t)^{−α−1}, and B = 1. Then E A^s = Γ(1 + s)Γ(α + 1 − s)/Γ(α + 1) (−1 < s < α + 1),
so E A^α = 1, and the stationary law is Pareto I(α): P(X > x) = x^{−α} for x ≥ 1, *exactly* —
the Mellin transforms agree, E(X − 1)^s = Γ(1 + s)Γ(α − s)/Γ(α) = E A^s · E X^s with
E X^s = α/(α − s). Hence C = C₊ = 1, C₋ = 0, m_α = ψ(α + 1) + γ (the harmonic number H_α),
E ln A = −m_α, and the numerator is E[X^α − (X − 1)^α] = α m_α (:func:`lomax_perpetuity_exact`).

SGD on one-dimensional least squares (:mod:`theory.kesten`, d = 1, x* = 0): A = 1 − (η/b) Σ_{i≤b} a_i²,
B = (η/b) Σ_i a_i y_i with a_i ~ N(0, σ²), y_i = s ε_i, ε_i ~ N(0, 1) (:func:`sgd_1d_sampler`).
There h(α) = E|A|^α = 1 at the tail index of :func:`theory.kesten.tail_index`, and
m_α = h'(α) = (d/ds) log h(s) at s = α. A takes negative values, so C₊ = C₋ = C/2.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from theory.validation import check_array, check_int, check_positive, check_real

__all__ = [
    "GoldieResult",
    "goldie_constant",
    "stationary_samples",
    "goldie_constant_mc",
    "lomax_perpetuity_sampler",
    "lomax_perpetuity_exact",
    "lomax_perpetuity_rvs",
    "sgd_1d_sampler",
    "GOLDIE_ALPHA_MIN",
    "GOLDIE_ALPHA_MAX",
    "GOLDIE_N_MAX",
    "GOLDIE_STEPS_MAX",
    "GOLDIE_WORK_MAX",
]

#: smallest α accepted: the Pareto draws U^{−1/α} (U ≥ 2⁻⁵³) stay below float64's largest value
GOLDIE_ALPHA_MIN = 0.06
#: largest α accepted (|x|^α of moderate samples stays far from float64's range)
GOLDIE_ALPHA_MAX = 50.0
#: most chains (samples) of one Monte Carlo call: 10⁸ float64 = 800 MB per array
GOLDIE_N_MAX = 10**8
#: most recursion steps of :func:`stationary_samples`
GOLDIE_STEPS_MAX = 10**5
#: most element updates n·steps of one :func:`stationary_samples` call (numpy: about a minute)
GOLDIE_WORK_MAX = 2 * 10**9

DrawAB = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class GoldieResult:
    """Monte Carlo estimate of Goldie's constants (:func:`goldie_constant`).

    ``c`` estimates lim x^α P(|X| > x), ``c_plus``/``c_minus`` the one-sided limits (each C/2 when
    some A < 0); ``se``, ``se_plus``, ``se_minus`` their delta-method standard errors.
    ``numerator`` = mean of |AX + B|^α − |AX|^α, ``denominator`` = α · mean of |A|^α ln|A| (both with
    their standard errors), ``moment`` = mean of |A|^α (≈ 1 under the conditions: a diagnostic) with
    ``moment_se``, ``mean_log_a`` = mean of ln|A| (< 0 under the conditions), ``a_nonnegative``
    whether every sample of A is ≥ 0 (the one-sided formulas are used only then), ``n`` the sample size.
    """

    alpha: float
    c: float
    se: float
    c_plus: float
    se_plus: float
    c_minus: float
    se_minus: float
    numerator: float
    numerator_se: float
    denominator: float
    denominator_se: float
    moment: float
    moment_se: float
    mean_log_a: float
    a_nonnegative: bool
    n: int


def _check_alpha(alpha: Any) -> float:
    return check_real("alpha", alpha, GOLDIE_ALPHA_MIN, GOLDIE_ALPHA_MAX)


def _rng(seed: Any) -> np.random.Generator:
    """A numpy Generator from None, a non-negative int, a SeedSequence or a Generator (used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence) or seed is None:
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"seed must be None, an int, a SeedSequence or a numpy Generator, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(int(seed))


def _ratio_se(num: np.ndarray, den: np.ndarray, c: float) -> float:
    """Delta-method standard error of mean(num)/mean(den) for paired samples."""
    n = num.size
    if n < 2:
        return math.inf
    resid = num - c * den
    return float(np.std(resid, ddof=1) / math.sqrt(n) / abs(float(np.mean(den))))


def goldie_constant(alpha: Any, a: np.ndarray, b: np.ndarray, x: np.ndarray, m: float | None = None) -> GoldieResult:
    """Goldie's constants C, C₊, C₋ by Monte Carlo from paired samples (a_i, b_i, x_i).

    Parameters
    ----------
    alpha : float in [GOLDIE_ALPHA_MIN, GOLDIE_ALPHA_MAX] = [0.06, 50]
        The tail index: the root of E|A|^α = 1 (e.g. :func:`theory.kesten.tail_index`).
    a, b : 1-D arrays of the same length n ≥ 2
        iid copies of the pair (A, B) (a_i and b_i may be dependent, as in SGD).
    x : 1-D array of length n
        Samples of the **stationary** law of X, independent of (a, b) (e.g. the final states of
        independent chains, :func:`stationary_samples`); x_i is paired with (a_i, b_i). Samples from
        any other law give a wrong constant: the formula is implicit.
    m : float in [1e-300, 1e300], optional
        m_α = E[|A|^α ln|A|] when it is known (a closed form, or h'(α) by quadrature for SGD):
        the denominator is then α m exactly and only the numerator is estimated. By default it is
        estimated from ``a`` (whose terms |a|^α ln|a| have infinite variance when
        E|A|^{2α} ln²|A| = ∞, e.g. for heavy-tailed A: pass ``m`` then).

    Returns
    -------
    :class:`GoldieResult`, with C = mean(|a x + b|^α − |a x|^α) / (α · mean(|a|^α ln|a|)), and
    C₊, C₋ by the one-sided formulas when every a_i ≥ 0, else C₊ = C₋ = C/2 (see the module
    docstring). The standard errors are those of the CLT (delta method for the ratio): meaningful
    only when the terms have finite variance (α < 2 for the numerator, see the module docstring). Entries with a_i = 0 contribute |b_i|^α to the numerator and 0 (the limit of
    |a|^α ln|a|) to the denominator.

    Raises ``ValueError`` (naming ``a``) when the samples give α · mean(|a|^α ln|a|) ≤ 0 (then
    E|A|^α = 1 cannot hold: not a Kesten–Goldie case), and (naming ``x``) when a power overflows.
    """
    alpha = _check_alpha(alpha)
    a = check_array("a", a, ndim=1, min_size=2, dtype=np.float64)
    b = check_array("b", b, ndim=1, min_size=2, dtype=np.float64)
    x = check_array("x", x, ndim=1, min_size=2, dtype=np.float64)
    n = a.size
    if b.size != n or x.size != n:
        raise ValueError(f"a, b and x must have the same length, got {a.size}, {b.size} and {x.size}")
    if m is not None:
        m = check_real("m", m, 1e-300, 1e300)  # 1/(α m) stays a finite float64
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ax = a * x
        y = ax + b
        pos_y, pos_ax = np.maximum(y, 0.0) ** alpha, np.maximum(ax, 0.0) ** alpha
        neg_y, neg_ax = np.maximum(-y, 0.0) ** alpha, np.maximum(-ax, 0.0) ** alpha
        num_plus = pos_y - pos_ax
        num_minus = neg_y - neg_ax
        absa = np.abs(a)
        mom = absa**alpha
        loga = np.where(absa > 0.0, np.log(np.where(absa > 0.0, absa, 1.0)), 0.0)
        den = alpha * mom * loga
    if not np.any(absa > 0.0):
        raise ValueError("a must have a nonzero entry (A = 0 a.s. is not a Kesten-Goldie case)")
    if not (np.all(np.isfinite(num_plus)) and np.all(np.isfinite(num_minus))):
        raise ValueError(f"x: |a x + b|^alpha overflows float64 for some samples (alpha = {alpha:g}); "
                         "rescale x and b by a common factor c (C scales by c^alpha)")
    if m is None and not (np.all(np.isfinite(den)) and np.all(np.isfinite(mom))):
        raise ValueError(f"a: |a|^alpha ln|a| overflows float64 for some samples (alpha = {alpha:g})")
    num = num_plus + num_minus
    if m is not None:
        if not math.isfinite(alpha * m):
            raise ValueError(f"m: alpha * m overflows float64 (m = {m:g})")
        den = np.full(n, alpha * m)
    with np.errstate(over="ignore", invalid="ignore"):
        d_mean = float(np.mean(den))
        if not d_mean > 0.0:
            raise ValueError(f"a: the samples give alpha * E|A|^alpha ln|A| = {d_mean:.6g} <= 0, impossible when "
                             f"E|A|^alpha = 1 (mean |a|^alpha = {float(np.mean(mom)):.6g}): not a Kesten-Goldie case")
        c = float(np.mean(num)) / d_mean
        nonneg = bool(np.all(a >= 0.0))
        if nonneg:
            cp = float(np.mean(num_plus)) / d_mean
            cm = float(np.mean(num_minus)) / d_mean
            sep, sem = _ratio_se(num_plus, den, cp), _ratio_se(num_minus, den, cm)
        else:
            cp = cm = 0.5 * c
            sep = sem = 0.5 * _ratio_se(num, den, c)
        sd = lambda v: float(np.std(v, ddof=1) / math.sqrt(n))  # noqa: E731
        res = GoldieResult(alpha=alpha, c=c, se=_ratio_se(num, den, c), c_plus=cp, se_plus=sep, c_minus=cm,
                           se_minus=sem, numerator=float(np.mean(num)), numerator_se=sd(num), denominator=d_mean,
                           denominator_se=sd(den), moment=float(np.mean(mom)), moment_se=sd(mom),
                           mean_log_a=float(np.mean(loga[absa > 0.0])), a_nonnegative=nonneg, n=n)
    bad = [f for f, v in vars(res).items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise ValueError(f"x: the sums of the samples overflow float64 ({', '.join(bad)} not finite); "
                         "rescale a, b or x")
    return res


def _draw(draw_ab: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) from ``draw_ab(n, rng)``, checked: two finite real arrays of shape (n,) (a scalar is broadcast)."""
    try:
        a_, b_ = draw_ab(n, rng)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"draw_ab must map (n, rng) to a pair (a, b) of n reals each: {exc}") from exc
    out = []
    for nm, v in (("a", a_), ("b", b_)):
        v = np.asarray(v)
        if v.dtype == object or not np.issubdtype(v.dtype, np.number) or np.iscomplexobj(v):
            raise TypeError(f"draw_ab must return real arrays, got {nm} of dtype {v.dtype}")
        if v.ndim == 0:
            v = np.full(n, float(v))
        elif v.shape != (n,):
            raise ValueError(f"draw_ab must return two arrays of shape ({n},), got {nm} of shape {v.shape}")
        v = v.astype(np.float64, copy=False)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"draw_ab returned non-finite values in {nm}")
        out.append(v)
    return out[0], out[1]


def _check_draw_ab(draw_ab: Any) -> None:
    if not callable(draw_ab):
        raise TypeError(f"draw_ab must be a callable (n, rng) -> (a, b), got {type(draw_ab).__name__}")


def stationary_samples(draw_ab: DrawAB, n: int, steps: int = 200, x0: float = 0.0, seed: Any = 0) -> np.ndarray:
    """n samples of the stationary law: X_steps of n independent chains X_{k+1} = A_k X_k + B_k from X_0 = x0.

    ``draw_ab(n, rng)`` returns n iid copies (a, b) of (A, B) (arrays of shape (n,), a scalar b
    is broadcast); ``n`` in [2, GOLDIE_N_MAX], ``steps`` in [1, GOLDIE_STEPS_MAX], n·steps at most
    GOLDIE_WORK_MAX. X_k differs from a stationary X'_k coupled to it by
    A_k⋯A_1 (x0 − X'_0), of size about exp(k E ln|A|) (E ln|A| < 0 under the Kesten–Goldie
    conditions): ``steps`` must make this negligible. A chain that overflows raises ``ValueError``
    (E ln|A| ≥ 0: no stationary law).
    """
    _check_draw_ab(draw_ab)
    n = check_int("n", n, 2, GOLDIE_N_MAX)
    steps = check_int("steps", steps, 1, GOLDIE_STEPS_MAX)
    if n * steps > GOLDIE_WORK_MAX:
        raise ValueError(f"n * steps must be at most GOLDIE_WORK_MAX = {GOLDIE_WORK_MAX}, got {n * steps}")
    x0 = check_real("x0", x0)
    rng = _rng(seed)
    xs = np.full(n, x0)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            a_, b_ = _draw(draw_ab, n, rng)
            xs = a_ * xs + b_
    if not np.all(np.isfinite(xs)):
        raise ValueError(f"draw_ab: {int(np.sum(~np.isfinite(xs)))} of {n} chains overflowed in {steps} steps "
                         "(E ln|A| >= 0: no stationary law)")
    return xs


def goldie_constant_mc(alpha: Any, draw_ab: DrawAB, n: int = 100_000, steps: int = 200, x0: float = 0.0,
                       seed: Any = 0, m: float | None = None) -> GoldieResult:
    """Goldie's constants by Monte Carlo from a sampler of (A, B): :func:`stationary_samples` gives n
    stationary X, then n fresh pairs (A, B), independent of them, enter :func:`goldie_constant`.

    ``alpha`` must solve E|A|^α = 1 (it is not solved for here: e.g. :func:`theory.kesten.tail_index`
    for SGD, α itself for :func:`lomax_perpetuity_sampler`); the result's ``moment`` ≈ 1 checks it.
    ``m``: a known m_α = E[|A|^α ln|A|] (see :func:`goldie_constant`). Seeding: one Generator from
    ``seed`` draws the chains, then the fresh pairs.
    """
    alpha = _check_alpha(alpha)
    rng = _rng(seed)
    xs = stationary_samples(draw_ab, n, steps, x0, seed=rng)
    a_, b_ = _draw(draw_ab, xs.size, rng)
    return goldie_constant(alpha, a_, b_, xs, m=m)


# ----------------------------------------------------------------------------- the explicit Lomax case
def lomax_perpetuity_sampler(alpha: Any) -> DrawAB:
    """(A, B) = (Lomax(α + 1), 1): P(A > t) = (1 + t)^{−α−1}, whose stationary law is Pareto I(α) (module docstring).

    A = U^{−1/(α+1)} − 1 with U uniform on (0, 1].
    """
    alpha = _check_alpha(alpha)

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        u = 1.0 - rng.random(n)  # in (0, 1]
        return np.expm1(-np.log(u) / (alpha + 1.0)), np.ones(n)

    return draw


def lomax_perpetuity_rvs(alpha: Any, n: int, seed: Any = 0) -> np.ndarray:
    """n draws of the exact stationary law of :func:`lomax_perpetuity_sampler`: Pareto I(α), X = U^{−1/α} ≥ 1."""
    alpha = _check_alpha(alpha)
    n = check_int("n", n, 1, GOLDIE_N_MAX)
    u = 1.0 - _rng(seed).random(n)
    return np.exp(-np.log(u) / alpha)


def lomax_perpetuity_exact(alpha: Any) -> dict:
    """Closed forms of the Lomax perpetuity (derived; see the module docstring).

    Keys: ``c`` = ``c_plus`` = 1 and ``c_minus`` = 0 (P(X > x) = x^{−α} exactly for x ≥ 1),
    ``m`` = E[A^α ln A] = ψ(α + 1) + γ (the harmonic number H_α), ``denominator`` = α m,
    ``numerator`` = E[(AX + 1)^α − (AX)^α] = α m, ``mean_log_a`` = E ln A = −m.
    """
    alpha = _check_alpha(alpha)
    m = float(special.digamma(alpha + 1.0) + np.euler_gamma)
    return {"alpha": alpha, "c": 1.0, "c_plus": 1.0, "c_minus": 0.0, "m": m, "denominator": alpha * m,
            "numerator": alpha * m, "mean_log_a": -m}


# ----------------------------------------------------------------------------- one-dimensional SGD
def sgd_1d_sampler(lr: Any, batch_size: Any, sigma: Any = 1.0, noise_sd: Any = 1.0) -> DrawAB:
    """(A, B) of online SGD on 1-D least squares with x* = 0: A = 1 − (η/b)Σ a_i², B = (η/b)Σ a_i y_i.

    a_i ~ N(0, σ²), y_i = noise_sd·ε_i, ε_i ~ N(0, 1), i = 1..b (``lr`` = η, ``batch_size`` = b in
    [1, 10⁴]). E|A|^s is :func:`theory.kesten.h` at d = 1. ``noise_sd`` > 0 (B = 0 would make X = 0).
    """
    lr = check_positive("lr", lr)
    batch_size = check_int("batch_size", batch_size, 1, 10**4)
    sigma = check_positive("sigma", sigma)
    noise_sd = check_positive("noise_sd", noise_sd)
    c = lr / batch_size
    if not math.isfinite(c * sigma * sigma * batch_size * noise_sd):
        raise ValueError("lr * sigma**2 * noise_sd must be finite")

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        a_ = sigma * rng.standard_normal((n, batch_size))
        e_ = noise_sd * rng.standard_normal((n, batch_size))
        return 1.0 - c * np.sum(a_ * a_, axis=1), c * np.sum(a_ * e_, axis=1)

    return draw
