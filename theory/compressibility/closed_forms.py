"""Sympy-derived closed forms of G_p(κ)^p for seven families of laws.

Each family is derived the same way: write the density of |X|, substitute x = φ(y) so that
x^p f_{|X|}(x) |dx/dy| becomes a Beta kernel A y^{a−1}(1−y)^{b−1} or a Gamma kernel
A y^{a−1} e^{−y} (sympy reads a, b off the expanded logarithm), get P(|X| > t) from the same
computation at p = 0, solve it for the quantile t_κ, and form
G_p^p = 1 − E[|X|^p; |X| > t_κ]/E|X|^p (Gribonval, Cevher & Davies 2012, IEEE Trans. Inf.
Theory 58(8), Prop. 1). Families: Pareto I, Lomax, generalized Pareto, Laplace, generalized
Gaussian, normal, Student-t. :func:`derivation` returns the steps for display.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from scipy import stats

from theory.compressibility.common import KAPPA, P, check_kappa, check_p, scalar_or_array
from theory.compressibility.special_functions import (
    NUMERIC_FUNCS,
    InvRegIncBeta,
    InvRegUpperGamma,
    RegIncBeta,
    RegIncBetaC,
    RegLowerGamma,
)
from theory.validation import check_choice, check_real

__all__ = ["ClosedForm", "closed_form", "closed_form_names", "derivation"]


def _kernel_exponents(expr: sp.Expr, y: sp.Symbol, kind: str):
    """Write expr = A · y^{a−1} (1−y)^{b−1} (kind 'beta') or A · y^{a−1} e^{−y} (kind 'gamma').

    The exponents are read off the coefficients of log y, log(1−y) and y in the
    expanded logarithm; A must come out free of y (checked).
    """
    L = sp.expand(sp.expand_log(sp.log(sp.powsimp(sp.simplify(expr), force=True)), force=True))
    ly = sp.log(y)
    a1 = sp.simplify(L.coeff(ly))
    rest = sp.expand(L - a1 * ly)
    if kind == "beta":
        l1y = sp.log(1 - y)
        b1 = sp.simplify(rest.coeff(l1y))
        rest = sp.expand(rest - b1 * l1y)
        logA = sp.simplify(rest)
        if logA.has(y):
            raise RuntimeError(f"not a Beta kernel in {y}: {expr}")
        return sp.simplify(sp.exp(logA)), sp.simplify(a1 + 1), sp.simplify(b1 + 1)
    lin = sp.simplify(rest.coeff(y))
    if sp.simplify(lin + 1) != 0:
        raise RuntimeError(f"not a Gamma kernel in {y}: {expr}")
    logA = sp.simplify(rest + y)
    if logA.has(y):
        raise RuntimeError(f"not a Gamma kernel in {y}: {expr}")
    return sp.simplify(sp.exp(logA)), sp.simplify(a1 + 1)


@dataclass(frozen=True)
class _Eqn:
    """A displayed equation ``lhs = rhs`` with a LaTeX left-hand side."""

    lhs: str
    rhs: Any

    def latex(self) -> str:
        return f"{self.lhs} = {sp.latex(self.rhs)}"


def _latex(e) -> str:
    return e.latex() if isinstance(e, _Eqn) else sp.latex(e)


@dataclass
class ClosedForm:
    """A sympy-derived closed form of G_p(κ)^p for one family of laws.

    ``expr`` is G_p(κ)^p in the symbols ``KAPPA``, ``P`` and ``params``;
    ``condition`` the derived condition for E|X|^p < ∞ (when it fails,
    G_p = 0 on (0, 1]); ``steps`` the derivation as (text, sympy expression)
    pairs; ``scipy_law(**params)`` the matching frozen scipy law.
    """

    name: str
    params: tuple
    expr: sp.Expr
    condition: sp.Basic
    steps: list
    scipy_law: Callable[..., Any]
    domain: dict = field(default_factory=dict)
    _fn: Callable | None = None

    def latex(self) -> str:
        return r"G_p(\kappa)^p = " + sp.latex(self.expr)

    def _numeric(self):
        """The lambdified G_p^p, with 1 − I_z(a, b) evaluated as ``betaincc`` (no cancellation when
        G_p^p ≪ 1, i.e. large p: 1 − betainc lost everything below ~1e-16 and gave G_p = 0)."""
        if self._fn is None:
            expr = self.expr.subs({1 - f: RegIncBetaC(*f.args) for f in self.expr.atoms(RegIncBeta)})
            self._fn = sp.lambdify(
                (KAPPA, P) + tuple(self.params), expr, modules=[NUMERIC_FUNCS, "scipy", "numpy"]
            )
        return self._fn

    def check_params(self, **params) -> dict:
        names = {str(s) for s in self.params}
        if set(params) != names:
            raise TypeError(f"{self.name} takes parameters {sorted(names)}, got {sorted(params)}")
        out = {}
        for key, (lo, hi) in self.domain.items():
            v = check_real(key, params[key], lo, hi, low_open=True)
            out[key] = v
        return out

    def moment_finite(self, p: float, **params) -> bool:
        vals = self.check_params(**params)
        cond = self.condition.subs({P: p, **{s: vals[str(s)] for s in self.params}})
        return bool(cond)

    def __call__(self, kappa, p: float = 2.0, **params):
        """G_p(κ) (not its p-th power) for κ in [0, 1]; 0 on (0, 1] when E|X|^p = ∞."""
        p = check_p(p)
        vals = self.check_params(**params)
        k, scalar = check_kappa(kappa)
        if not self.moment_finite(p, **vals):
            return scalar_or_array(np.where(k == 0.0, 1.0, 0.0), scalar)
        out = np.empty_like(k)
        mid = (k > 0.0) & (k < 1.0)
        out[k == 0.0] = 1.0
        out[k == 1.0] = 0.0
        if np.any(mid):
            args = [vals[str(s)] for s in self.params]
            with np.errstate(all="ignore"):
                gp = np.asarray(self._numeric()(k[mid], p, *args), dtype=np.float64) * np.ones(int(mid.sum()))
            out[mid] = np.clip(gp, 0.0, 1.0) ** (1.0 / p)
        return scalar_or_array(out, scalar)

    def scipy(self, **params):
        return self.scipy_law(**self.check_params(**params))


def _finish(name, params, steps, f_abs, x, y, x_of_y, kind, scipy_law, domain, extra_steps=()):
    """Shared tail of a derivation: substitute x = φ(y), identify the kernel, form G_p^p."""
    p = P
    kappa = KAPPA
    t = sp.Symbol("t", positive=True)
    dx = sp.diff(x_of_y, y)
    steps.append((r"Density of $|X|$ on its support", _Eqn(r"f_{|X|}(x)", f_abs)))
    steps.append((r"Substitution", sp.Eq(x, x_of_y)))
    # p-th moment integrand in y, and its kernel
    # |dx/dy|: the Beta substitutions are decreasing in y (y → 0 ⇔ x → ∞), the Gamma ones increasing
    jac = -dx if kind == "beta" else dx
    integrand_p = sp.powsimp(sp.simplify(x_of_y**p * f_abs.subs(x, x_of_y) * jac), force=True)
    integrand_0 = sp.powsimp(sp.simplify(f_abs.subs(x, x_of_y) * jac), force=True)
    a_sym, b_sym, A_sym = sp.symbols("a b A")
    if kind == "beta":
        A, a, b = _kernel_exponents(integrand_p, y, "beta")
        A0, a0, b0 = _kernel_exponents(integrand_0, y, "beta")
        norm0 = sp.simplify(sp.gammasimp(A0 * sp.beta(a0, b0)))
        steps.append((r"$x^p f_{|X|}(x)\,|dx/dy|$ is a Beta kernel $A\,y^{a-1}(1-y)^{b-1}$ with",
                      sp.Tuple(sp.Eq(A_sym, A), sp.Eq(a_sym, a), sp.Eq(b_sym, b))))
        moment = sp.gammasimp(A * sp.beta(a, b))
        y_t = sp.simplify(sp.solve(sp.Eq(x_of_y, t), y)[0])
        steps.append((r"Threshold $t$ in the $y$ variable", _Eqn(r"y_t", y_t)))
        steps.append((r"$E|X|^p = A\,B(a, b)$ (finite iff $a > 0$ and $b > 0$)", _Eqn(r"\mathbb{E}|X|^p", moment)))
        condition = sp.And(sp.Gt(a, 0), sp.Gt(b, 0))
        # survival function of |X| (p = 0): A0 B(a0,b0) I_{y_t}(a0, b0), A0 B(a0, b0) must be 1
        if sp.simplify(norm0 - 1) != 0:
            raise RuntimeError(f"{name}: density does not integrate to 1 ({norm0})")
        # which end of (0,1) does x → ∞ map to?  the tail {x > t} is y ∈ (0, y_t) if φ decreasing
        decreasing = sp.simplify(sp.limit(x_of_y, y, 0, "+")) == sp.oo
        if not decreasing:
            raise RuntimeError(f"{name}: substitution must send y → 0 to x → ∞")
        sf = RegIncBeta(a0, b0, y_t)
        steps.append((r"$P(|X| > t) = I_{y_t}(a_0, b_0)$ with $p = 0$ exponents", _Eqn(r"P(|X| > t)", sf)))
        y_k = InvRegIncBeta(a0, b0, kappa)
        steps.append((r"Solve $P(|X| > t_\kappa) = \kappa$", _Eqn(r"y_{t_\kappa}", y_k)))
        tail_share = RegIncBeta(a, b, y_k)
    else:
        A, a = _kernel_exponents(integrand_p, y, "gamma")
        A0, a0 = _kernel_exponents(integrand_0, y, "gamma")
        norm0 = sp.simplify(sp.gammasimp(A0 * sp.gamma(a0)))
        steps.append((r"$x^p f_{|X|}(x)\,|dx/dy|$ is a Gamma kernel $A\,y^{a-1}e^{-y}$ with",
                      sp.Tuple(sp.Eq(A_sym, A), sp.Eq(a_sym, a))))
        moment = sp.gammasimp(A * sp.gamma(a))
        y_t = sp.simplify(sp.solve(sp.Eq(x_of_y, t), y)[0])
        steps.append((r"Threshold $t$ in the $y$ variable", _Eqn(r"y_t", y_t)))
        steps.append((r"$E|X|^p = A\,\Gamma(a)$ (finite iff $a > 0$)", _Eqn(r"\mathbb{E}|X|^p", moment)))
        condition = sp.Gt(a, 0)
        if sp.simplify(norm0 - 1) != 0:
            raise RuntimeError(f"{name}: density does not integrate to 1 ({norm0})")
        increasing = sp.simplify(sp.limit(x_of_y, y, sp.oo)) == sp.oo
        if not increasing:
            raise RuntimeError(f"{name}: substitution must send y → ∞ to x → ∞")
        sf = 1 - RegLowerGamma(a0, y_t)
        steps.append((r"$P(|X| > t) = Q(a_0, y_t) = 1 - P(a_0, y_t)$", _Eqn(r"P(|X| > t)", sf)))
        y_k = InvRegUpperGamma(a0, kappa)
        steps.append((r"Solve $P(|X| > t_\kappa) = \kappa$", _Eqn(r"y_{t_\kappa}", y_k)))
        tail_share = 1 - RegLowerGamma(a, y_k)
    g_pow = sp.simplify(1 - tail_share)
    steps.append((r"$G_p(\kappa)^p = 1 - E[|X|^p; |X| > t_\kappa]/E|X|^p$", _Eqn(r"G_p(\kappa)^p", g_pow)))
    for text, e in extra_steps:
        steps.append((text, e(g_pow)))
    return ClosedForm(name, tuple(params), g_pow, condition, steps, scipy_law, domain)


def _pareto() -> ClosedForm:
    alpha = sp.Symbol("alpha", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = alpha * x ** (-alpha - 1)
    steps = [(r"Pareto I law, $P(X > x) = x^{-\alpha}$ for $x \ge 1$", _Eqn(r"F(x)", 1 - x**-alpha))]
    return _finish(
        "pareto", (alpha,), steps, f, x, y, y ** (-1 / alpha), "beta",
        lambda alpha: stats.pareto(b=alpha), {"alpha": (0.0, None)},
    )


def _lomax() -> ClosedForm:
    c = sp.Symbol("c", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = c * (1 + x) ** (-c - 1)
    steps = [(r"Lomax (Pareto II) law, $P(X > x) = (1+x)^{-c}$", _Eqn(r"F(x)", 1 - (1 + x) ** -c))]
    return _finish(
        "lomax", (c,), steps, f, x, y, (1 - y) / y, "beta",
        lambda c: stats.lomax(c=c), {"c": (0.0, None)},
    )


def _genpareto() -> ClosedForm:
    xi = sp.Symbol("xi", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = (1 + xi * x) ** (-1 - 1 / xi)
    steps = [(r"Generalized Pareto law, shape $\xi > 0$: $P(X > x) = (1+\xi x)^{-1/\xi}$",
              _Eqn(r"F(x)", 1 - (1 + xi * x) ** (-1 / xi)))]
    return _finish(
        "genpareto", (xi,), steps, f, x, y, (1 - y) / (xi * y), "beta",
        lambda xi: stats.genpareto(c=xi), {"xi": (0.0, None)},
    )


def _student_t() -> ClosedForm:
    nu = sp.Symbol("nu", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = 2 * sp.gamma((nu + 1) / 2) / (sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2)) * (1 + x**2 / nu) ** (-(nu + 1) / 2)
    steps = [(r"Student-$t_\nu$ law (symmetric)", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "student_t", (nu,), steps, f, x, y, sp.sqrt(nu * (1 - y) / y), "beta",
        lambda nu: stats.t(df=nu), {"nu": (0.0, None)},
    )


def _gennorm() -> ClosedForm:
    r = sp.Symbol("r", positive=True)
    x, y = sp.symbols("x y", positive=True)
    f = r / sp.gamma(1 / r) * sp.exp(-(x**r))
    steps = [(r"Generalized Gaussian law, $f(x) \propto e^{-|x|^r}$", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "gennorm", (r,), steps, f, x, y, y ** (1 / r), "gamma",
        lambda r: stats.gennorm(beta=r), {"r": (0.0, None)},
    )


def _laplace() -> ClosedForm:
    x, y = sp.symbols("x y", positive=True)
    f = sp.exp(-x)
    steps = [(r"Laplace law, $f(x) = e^{-|x|}/2$", _Eqn(r"f(x)", f / 2))]

    def p1(g):
        g1 = sp.expand_func(g.subs(P, 1).replace(RegLowerGamma, lambda a, z: sp.lowergamma(a, z) / sp.gamma(a)))
        return _Eqn(r"G_1(\kappa)", sp.factor(sp.simplify(g1)))

    return _finish(
        "laplace", (), steps, f, x, y, y, "gamma", lambda: stats.laplace(), {},
        extra_steps=[(r"$p = 1$ (not compressible: $G_1 > 0$ for every $\kappa < 1$)", p1)],
    )


def _normal() -> ClosedForm:
    x, y = sp.symbols("x y", positive=True)
    f = sp.sqrt(2 / sp.pi) * sp.exp(-(x**2) / 2)
    steps = [(r"Standard normal law", _Eqn(r"f(x)", f / 2))]
    return _finish(
        "normal", (), steps, f, x, y, sp.sqrt(2 * y), "gamma", lambda: stats.norm(), {},
    )


_BUILDERS = {
    "pareto": _pareto,
    "lomax": _lomax,
    "genpareto": _genpareto,
    "laplace": _laplace,
    "gennorm": _gennorm,
    "normal": _normal,
    "student_t": _student_t,
}


def closed_form_names() -> tuple[str, ...]:
    return tuple(_BUILDERS)


def closed_form(name: str) -> ClosedForm:
    """The sympy-derived closed form of G_p(κ)^p for the family ``name`` (see :func:`closed_form_names`).

    Families and their scipy twins: ``pareto`` (α: scipy pareto(b=α)),
    ``lomax`` (c), ``genpareto`` (ξ > 0: scipy genpareto(c=ξ)), ``laplace``,
    ``gennorm`` (r: density ∝ exp(−|x|^r), scipy gennorm(beta=r)), ``normal``,
    ``student_t`` (ν). Calling the result, ``cf(kappa, p, **params)``, returns
    G_p(κ); ``cf.latex()`` the formula; ``cf.steps`` the derivation.
    """
    check_choice("name", name, tuple(_BUILDERS))
    return _closed_form(str(name))


@functools.cache
def _closed_form(name: str) -> ClosedForm:
    return _BUILDERS[name]()


def derivation(name: str) -> list[tuple[str, str]]:
    """The derivation of ``closed_form(name)`` as (text, LaTeX) pairs, for display in a notebook."""
    cf = closed_form(name)
    rows = [(text, _latex(e)) for text, e in cf.steps]
    rows.append((r"Moment condition $E|X|^p < \infty$", sp.latex(cf.condition)))
    return rows
