"""Special functions of the closed forms of G_p(κ)^p as sympy functions.

They print as the usual symbols (I_z(a, b), I^{-1}, P(a, z), Q^{-1}) and are lambdified to
``scipy.special`` (``betainc``, ``betaincinv``, ``gammainc``, ``gammainccinv``) through
:data:`NUMERIC_FUNCS`.
"""
from __future__ import annotations

import sympy as sp
from scipy import special

__all__ = ["RegIncBeta", "InvRegIncBeta", "RegLowerGamma", "InvRegUpperGamma", "NUMERIC_FUNCS"]


class RegIncBeta(sp.Function):
    """Regularized incomplete beta I_z(a, b) = ∫_0^z y^{a−1}(1−y)^{b−1} dy / B(a, b)."""

    nargs = 3

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


class InvRegIncBeta(sp.Function):
    """Inverse in z of I_z(a, b): I_{w}(a, b) = q ⇔ w = InvRegIncBeta(a, b, q)."""

    nargs = 3

    @classmethod
    def eval(cls, a, b, q):
        if b == 1:
            return q ** (1 / a)
        if a == 1:
            return 1 - (1 - q) ** (1 / b)

    def _latex(self, printer):
        a, b, q = (printer._print(t) for t in self.args)
        return rf"I^{{-1}}_{{{q}}}\left({a}, {b}\right)"


class RegLowerGamma(sp.Function):
    """Regularized lower incomplete gamma P(a, z) = γ(a, z)/Γ(a)."""

    nargs = 2

    @classmethod
    def eval(cls, a, z):
        if z == 0:
            return sp.S.Zero

    def _latex(self, printer):
        a, z = (printer._print(t) for t in self.args)
        return rf"P\left({a}, {z}\right)"


class InvRegUpperGamma(sp.Function):
    """Inverse in z of Q(a, z) = Γ(a, z)/Γ(a): Q(a, w) = q ⇔ w = InvRegUpperGamma(a, q)."""

    nargs = 2

    @classmethod
    def eval(cls, a, q):
        if a == 1:
            return -sp.log(q)

    def _latex(self, printer):
        a, q = (printer._print(t) for t in self.args)
        return rf"Q^{{-1}}\left({a}, {q}\right)"


NUMERIC_FUNCS = {
    "RegIncBeta": special.betainc,
    "InvRegIncBeta": special.betaincinv,
    "RegLowerGamma": special.gammainc,
    "InvRegUpperGamma": special.gammainccinv,
}
