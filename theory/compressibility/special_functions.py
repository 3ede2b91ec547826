"""Special functions of the closed forms of G_p(κ)^p as sympy functions.

They print as the usual symbols (I_z(a, b), I^{-1}, P(a, z), Q^{-1}) and are lambdified to
``scipy.special`` (``betainc``, ``betaincinv``, ``gammainc``, ``gammainccinv``, and ``betaincc``
for the complement 1 − I_z(a, b) of the numeric twins) through :data:`NUMERIC_FUNCS`.

They are building blocks of :mod:`theory.compressibility.closed_forms`, not part of the public
API (importable, but not in ``__all__``). Their arguments must be real numbers or sympy
expressions (not strings, bools, complex numbers, containers or arrays): anything else is a
``TypeError`` naming the argument.
"""
from __future__ import annotations

import sympy as sp
from scipy import special

__all__ = ["NUMERIC_FUNCS"]


class _RealArgsFunction(sp.Function):
    """A sympy function whose arguments (named by ``_argnames``) are real numbers or sympy expressions."""

    _argnames: tuple[str, ...] = ()

    def __new__(cls, *args, **options):
        if len(args) != len(cls._argnames):
            raise TypeError(f"{cls.__name__} takes {len(cls._argnames)} arguments {cls._argnames}, got {len(args)}")
        for name, arg in zip(cls._argnames, args):
            try:
                e = sp.sympify(arg, strict=True)
            except (sp.SympifyError, TypeError, ValueError) as exc:
                raise TypeError(f"{cls.__name__} argument {name} must be a real number or a sympy expression, "
                                f"got {type(arg).__name__} {arg!r}") from exc
            if not isinstance(e, sp.Expr) or e.is_extended_real is False:
                raise TypeError(f"{cls.__name__} argument {name} must be a real number or a sympy expression, "
                                f"got {type(arg).__name__} {arg!r}")
        return super().__new__(cls, *args, **options)


class RegIncBeta(_RealArgsFunction):
    """Regularized incomplete beta I_z(a, b) = ∫_0^z y^{a−1}(1−y)^{b−1} dy / B(a, b)."""

    nargs = 3
    _argnames = ("a", "b", "z")

    @classmethod
    def eval(cls, a, b, z):
        if z == 0:
            return sp.S.Zero
        if z == 1:
            return sp.S.One
        if b == 1:
            return z**a
        if a == 1:
            return 1 - (1 - z) ** b

    def _latex(self, printer):
        a, b, z = (printer._print(t) for t in self.args)
        return rf"I_{{{z}}}\left({a}, {b}\right)"


class RegIncBetaC(_RealArgsFunction):
    """Complement 1 − I_z(a, b) (used by the numeric twins: no cancellation where I_z(a, b) ≈ 1)."""

    nargs = 3
    _argnames = ("a", "b", "z")

    def _latex(self, printer):
        a, b, z = (printer._print(t) for t in self.args)
        return rf"\left(1 - I_{{{z}}}\left({a}, {b}\right)\right)"


class InvRegIncBeta(_RealArgsFunction):
    """Inverse in z of I_z(a, b): I_{w}(a, b) = q ⇔ w = InvRegIncBeta(a, b, q)."""

    nargs = 3
    _argnames = ("a", "b", "q")

    @classmethod
    def eval(cls, a, b, q):
        if b == 1:
            return q ** (1 / a)
        if a == 1:
            return 1 - (1 - q) ** (1 / b)

    def _latex(self, printer):
        a, b, q = (printer._print(t) for t in self.args)
        return rf"I^{{-1}}_{{{q}}}\left({a}, {b}\right)"


class RegLowerGamma(_RealArgsFunction):
    """Regularized lower incomplete gamma P(a, z) = γ(a, z)/Γ(a)."""

    nargs = 2
    _argnames = ("a", "z")

    @classmethod
    def eval(cls, a, z):
        if z == 0:
            return sp.S.Zero

    def _latex(self, printer):
        a, z = (printer._print(t) for t in self.args)
        return rf"P\left({a}, {z}\right)"


class InvRegUpperGamma(_RealArgsFunction):
    """Inverse in z of Q(a, z) = Γ(a, z)/Γ(a): Q(a, w) = q ⇔ w = InvRegUpperGamma(a, q)."""

    nargs = 2
    _argnames = ("a", "q")

    @classmethod
    def eval(cls, a, q):
        if a == 1:
            return -sp.log(q)

    def _latex(self, printer):
        a, q = (printer._print(t) for t in self.args)
        return rf"Q^{{-1}}\left({a}, {q}\right)"


NUMERIC_FUNCS = {
    "RegIncBeta": special.betainc,
    "RegIncBetaC": special.betaincc,
    "InvRegIncBeta": special.betaincinv,
    "RegLowerGamma": special.gammainc,
    "InvRegUpperGamma": special.gammainccinv,
}
