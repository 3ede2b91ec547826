"""Euler–Maruyama for SDEs driven by symmetric α-stable Lévy noise, many paths in parallel.

    dX_t = f(X_t) dt + Σ dL_t,   X_{k+1} = X_k + h f(X_k) + Σ h^{1/α} S_k,

L an m-dimensional SαS Lévy process (independent coordinates, ``noise="entry"``, or isotropic
sub-Gaussian, ``noise="elliptical"``), S_k iid standard SαS vectors (self-similarity:
L_{t+h} − L_t =ᵈ h^{1/α} L_1); the scheme as used for SGD analyses in e.g. Wan, Barsbey, Zaidi &
Şimşekli (ICML 2024). The stable Ornstein–Uhlenbeck process (f(x) = −θx) has exact laws for the
solution and for its EM chain, which check the solver (Samorodnitsky & Taqqu 1994).

* :mod:`~simulations.sde.api` — :func:`euler_maruyama`, :class:`SDEPaths`, the stable OU laws, :func:`ou_weak_error`;
* :mod:`~simulations.sde.study` — :func:`stable_ou_study` (for ``paper/fig_kesten.py`` and notebook 03);
* :mod:`~simulations.sde.cpu` — the numba kernel and two example drifts.
"""
from simulations.sde import api as _api
from simulations.sde.api import *  # noqa: F403  (the API's public names, listed in its __all__)
from simulations.sde.study import stable_ou_study

__all__ = [*_api.__all__, "stable_ou_study"]
