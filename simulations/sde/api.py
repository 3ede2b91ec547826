"""Euler–Maruyama for SDEs driven by symmetric α-stable Lévy noise, many paths at once.

    dX_t = f(X_t) dt + Σ dL_t,   X_t ∈ R^dim,   L an m-dimensional α-stable Lévy process,

discretised with step h as X_{k+1} = X_k + h f(X_k) + Σ h^{1/α} S_k, S_k iid standard
SαS vectors: L_{t+h} − L_t =ᵈ h^{1/α} L_1 by self-similarity (e.g. Wan, Barsbey, Zaidi &
Şimşekli, ICML 2024, for the scheme in SGD analyses). L has independent SαS(1) coordinates (``noise="entry"``: one draw per
coordinate; at α = 2 each coordinate of L_1 is N(0, 2)) or is isotropic sub-Gaussian
(``noise="elliptical"``: L_1 = √A·G, each coordinate SαS(1); Samorodnitsky & Taqqu 1994, §2.5). Only symmetric
noise is supported (β = 0), so the α = 1 skewness correction never arises.

The drift is a ``@numba.njit`` function with signature ``drift(x, params, out)``:
``x`` and ``out`` are 1-D float64 arrays of length dim, ``params`` a 1-D
float64 array (pass anything the drift needs there). Example::

    import numba
    @numba.njit
    def ou(x, params, out):
        for j in range(x.shape[0]):
            out[j] = -params[0] * x[j]

    res = euler_maruyama(ou, x0=np.zeros(2), alpha=1.5, dt=1e-2, steps=500,
                         n_paths=10_000, params=[1.0], seed=0)

Each path draws from its own xoroshiro128+ stream, so results do not depend on
the thread count. A drift that returns a non-finite value at a finite state is
a user error and raises ``ValueError`` (``on_drift_error="raise"``) or is
reported per path with status STATUS_DRIFT (``"status"``); paths that blow up (non-finite
state or ‖X‖ > ``threshold``) are reported per path, never silently.

Stable Ornstein–Uhlenbeck checks (f(x) = −θx, scalar σ, one coordinate):

* exact transition: X_t | X_0 ~ SαS with location e^{−θt}X_0 and scale
  σ((1 − e^{−αθt})/(αθ))^{1/α} (:func:`stable_ou_transition`);
* continuous-time stationary law: scale σ(αθ)^{−1/α};
* the EM chain is itself linear: X_n = (1−θh)^n X_0 + σh^{1/α} Σ_{j<n} (1−θh)^j S_{n−1−j},
  so its law after n steps is exactly SαS with location (1−θh)^n X_0 and scale
  σ(h Σ_{j<n} |1−θh|^{αj})^{1/α} (:func:`em_ou_scale`), and its stationary law
  (|1 − θh| < 1) has scale σ[h/(1 − |1−θh|^α)]^{1/α}.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
from scipy.special import gammaln as _gammaln

from simulations._core import seeding
from simulations._core.codes import NOISE_CODES, STATUS_DRIFT, STATUS_NAMES, STATUS_OK
from simulations._core.validation import check_alpha, check_array, check_choice, check_int, check_positive, check_real
from simulations.sde import cpu as _k
from simulations.stable.streams import STREAMS_MAX, init_states

__all__ = [
    "SDEPaths",
    "euler_maruyama",
    "ou_drift",
    "double_well_drift",
    "NOISES",
    "DRIFT_PARAMS",
    "STEPS_MAX",
    "WORK_MAX",
    "STATE_MAX",
    "RECORD_MAX",
    "STATUS_NAMES",
    "STREAMS_MAX",
    "stable_ou_transition",
    "stable_ou_stationary_scale",
    "em_ou_scale",
    "em_ou_stationary_scale",
    "sas_abs_moment",
    "ou_weak_error",
]

NOISES = ("entry", "elliptical")
ou_drift = _k.ou_drift
double_well_drift = _k.double_well_drift
# the parameters each built-in drift reads (a numba kernel does not check bounds)
DRIFT_PARAMS = {ou_drift: ("theta", "mu"), double_well_drift: ("a", "c")}
STEPS_MAX = 10**9  # Euler steps of one call (10⁹ steps of one path take minutes)
#: steps·n_paths·dim·m, m the noise dimension (75–100 ns per unit on one core: about a minute at
#: the limit; the paper's weak-error study, the largest run here, is 6.4·10⁷ per step size)
WORK_MAX = 10**9
STATE_MAX = 10**8  # entries n_paths·dim of the state array (800 MB)
RECORD_MAX = 10**8  # entries of the recorded path array (800 MB)


def _check_run(steps: int, n_paths: int, dim: int, m: int) -> None:
    """Work and memory of ``steps`` EM steps of ``n_paths`` paths in R^dim with m-dim noise, up front."""
    if n_paths * dim > STATE_MAX:
        raise ValueError(f"the state size n_paths * dim must be at most STATE_MAX = {STATE_MAX}, got {n_paths * dim}")
    work = steps * n_paths * dim * m
    if work > WORK_MAX:
        raise ValueError(f"the work steps * n_paths * dim * m (m = sigma's columns) must be at most "
                         f"WORK_MAX = {WORK_MAX}, got {work}")


@dataclass
class SDEPaths:
    """Result of :func:`euler_maruyama`.

    ``x`` (n_paths, dim): states at the final time (NaN rows where ``status`` ≠ 0);
    ``times`` and ``path`` (n_records, n_paths, dim): recorded states when
    ``record_every > 0``; ``status`` (n_paths,) int8 (:data:`STATUS_NAMES`);
    ``failed_at`` 1-based step of failure (−1 if none).
    """

    x: np.ndarray
    status: np.ndarray
    failed_at: np.ndarray
    t: float
    times: np.ndarray | None = None
    path: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        return self.status == STATUS_OK

    @property
    def n_failed(self) -> int:
        return int(np.count_nonzero(self.status))


def _noise_matrix(sigma: Any, dim: int) -> np.ndarray:
    if np.ndim(sigma) == 0:
        s = check_positive("sigma", sigma)
        return s * np.eye(dim)
    arr = check_array("sigma", sigma, ndim=(1, 2)).astype(np.float64)
    if arr.ndim == 1:
        if arr.shape != (dim,):
            raise ValueError(f"sigma as a vector must have shape ({dim},), got {arr.shape}")
        if np.any(arr < 0):
            raise ValueError("sigma entries must be >= 0")
        return np.diag(arr)
    if arr.shape[0] != dim or arr.shape[1] < 1:
        raise ValueError(f"sigma as a matrix must have shape ({dim}, m) with m >= 1, got {arr.shape}")
    return np.ascontiguousarray(arr)


def euler_maruyama(
    drift: Any,
    x0: Any,
    *,
    alpha: float,
    dt: float,
    steps: int,
    n_paths: int | None = None,
    sigma: Any = 1.0,
    params: Any = (),
    noise: str = "entry",
    record_every: int = 0,
    threshold: float = 1e150,
    on_drift_error: str = "raise",
    seed: Any = None,
) -> SDEPaths:
    """Simulate ``n_paths`` EM paths of dX = f(X)dt + Σ dL_t up to time ``steps·dt``.

    Parameters
    ----------
    drift : numba ``@njit`` function ``drift(x, params, out)``
        Writes f(x) into ``out`` (see the module docstring).
    x0 : array (dim,) or (n_paths, dim)
        Initial states (finite).
    alpha : float in (0, 2]
        Stability index of the noise.
    dt : float > 0
        Step h.
    steps : int in [1, STEPS_MAX = 10⁹]
    n_paths : int in [1, STREAMS_MAX = 10⁷], optional
        Default: x0.shape[0] for a 2-D x0, else 1 (one random stream per path). Limits, checked
        before any work: n_paths·dim at most :data:`STATE_MAX` = 10⁸, steps·n_paths·dim·m (m the
        columns of Σ) at most :data:`WORK_MAX` = 10⁹, the recorded path
        (steps // record_every)·n_paths·dim at most :data:`RECORD_MAX` = 10⁸.
    sigma : float > 0, array (dim,) >= 0 or array (dim, m)
        Noise matrix Σ (scalar ⇒ σ I, vector ⇒ diag).
    params : 1-D array-like of floats
        Passed to the drift; the built-in drifts need exactly their parameters
        (:data:`DRIFT_PARAMS`: ``ou_drift`` θ, μ; ``double_well_drift`` a, c).
    noise : {"entry", "elliptical"}
        Independent SαS coordinates, or an isotropic sub-Gaussian (elliptical) vector.
    record_every : int >= 0
        Record the states every this many steps (0: only the final states).
    threshold : float > 0
        Paths with ‖X‖ above it are stopped and flagged.
    on_drift_error : {"raise", "status"}
        What a non-finite drift value does (ValueError, or status STATUS_DRIFT).
    seed : None, int, SeedSequence or Generator
        The paths' stream seed is the seed's child ``"paths"`` (:mod:`simulations._core.seeding`).
    """
    if not isinstance(drift, nb.core.registry.CPUDispatcher):
        raise TypeError("drift must be a numba @njit function drift(x, params, out)")
    alpha = check_alpha(alpha)
    dt = check_positive("dt", dt)
    steps = check_int("steps", steps, 1, STEPS_MAX)
    check_choice("noise", noise, NOISES)
    check_choice("on_drift_error", on_drift_error, ("raise", "status"))
    record_every = check_int("record_every", record_every, 0, steps)
    threshold = check_positive("threshold", threshold)
    x0a = check_array("x0", x0, ndim=(1, 2)).astype(np.float64)
    if n_paths is None:
        n_paths = x0a.shape[0] if x0a.ndim == 2 else 1
    n_paths = check_int("n_paths", n_paths, 1, STREAMS_MAX)
    dim = x0a.shape[-1]
    if dim < 1:
        raise ValueError("x0 must have at least one coordinate")
    if x0a.ndim == 2 and x0a.shape[0] != n_paths:
        raise ValueError(f"x0 must have shape ({dim},) or ({n_paths}, {dim}), got {x0a.shape}")
    # a scalar or vector sigma is the diagonal (dim, dim) matrix: check the work before building it
    _check_run(steps, n_paths, dim, np.shape(sigma)[1] if np.ndim(sigma) == 2 else dim)
    n_rec = steps // record_every if record_every > 0 else 0
    if n_rec * n_paths * dim > RECORD_MAX:
        raise ValueError(f"the recorded path (steps // record_every) * n_paths * dim must be at most "
                         f"RECORD_MAX = {RECORD_MAX}, got {n_rec * n_paths * dim}; raise record_every")
    sig = _noise_matrix(sigma, dim)
    prm = check_array("params", np.zeros(0) if np.size(params) == 0 else params, ndim=(0, 1))
    prm = np.ascontiguousarray(prm, dtype=np.float64).reshape(-1)
    names = DRIFT_PARAMS.get(drift)
    if names is not None and prm.size != len(names):
        raise ValueError(f"params must have length {len(names)} ({', '.join(names)}) for this drift, got {prm.size}")
    # the drift must return finite values of the right size at the initial states
    probe = np.full(dim, np.nan)
    rows = x0a if x0a.ndim == 2 else x0a[None, :]
    for r in rows[: min(len(rows), 16)]:
        try:
            drift(np.array(r), prm, probe)
        except Exception as exc:  # numba typing or indexing errors
            raise ValueError(f"drift(x, params, out) failed on x0 (dim={dim}): {exc}") from exc
        if not np.all(np.isfinite(probe)):
            raise ValueError(f"drift returned a non-finite value at the finite initial state x0={r}")
    x = np.empty((n_paths, dim))
    x[...] = x0a
    kseed = seeding.kernel_seed(seed, "paths")
    states = init_states(n_paths, kseed)
    status = np.zeros(n_paths, dtype=np.int8)
    failed = np.full(n_paths, -1, dtype=np.int64)
    rec = np.empty((n_rec, n_paths, dim)) if n_rec else np.empty((0, 1, 1))
    thr2 = threshold * threshold if threshold < 1e154 else np.inf
    _k.euler_maruyama(drift, prm, states, x, sig, alpha, NOISE_CODES[noise], dt, steps, thr2,
                      status, failed, record_every, rec)
    if on_drift_error == "raise" and np.any(status == STATUS_DRIFT):
        i = int(np.flatnonzero(status == STATUS_DRIFT)[0])
        raise ValueError(
            f"drift returned a non-finite value at a finite state (path {i}, step {int(failed[i])}); "
            "fix the drift or pass on_drift_error='status'"
        )
    return SDEPaths(
        x=x,
        status=status,
        failed_at=failed,
        t=steps * dt,
        times=(np.arange(1, n_rec + 1) * record_every * dt) if n_rec else None,
        path=rec if n_rec else None,
        params=dict(alpha=alpha, dt=dt, steps=steps, n_paths=n_paths, noise=noise, kernel_seed=kseed),
    )


# --------------------------------------------------------------------------- stable OU: exact laws
# The scales below are computed as logarithms and exponentiated once: a small α or an extreme θ,
# h or t makes the naive powers overflow (or divide 0 by 0) where the scale itself is representable.
_LOG_MAX = math.log(np.finfo(float).max)
_LOG_TINY = math.log(np.finfo(float).tiny)


def _exp_scale(log_scale: float, what: str, **args) -> float:
    """exp(log_scale), refused (ValueError naming the arguments) where it leaves float64's normal range."""
    if not _LOG_TINY <= log_scale <= _LOG_MAX:
        listed = ", ".join(f"{k}={v:g}" for k, v in args.items())
        raise ValueError(f"{what} = exp({log_scale:.6g}) is outside float64's range at {listed}")
    return math.exp(log_scale)


def _f(m: float) -> float:
    """f(m) = log((e^m − 1)/m), f(0) = 0, accurate for every real m (f(m) = m/2 + m²/24 + O(m⁴))."""
    if m == 0.0:
        return 0.0
    if abs(m) < 1e-5:
        return m * (0.5 + m / 24.0)
    if m > 0.0:
        return m + math.log(-math.expm1(-m)) - math.log(m)
    return math.log(math.expm1(m) / m)


def _f_over_alpha(m: float, m_over_alpha: float, alpha: float) -> float:
    """f(m)/α, given m/α separately: where |m| is small, f(m)/α = (m/α)(1/2 + m/24) (m may underflow)."""
    if abs(m) < 1e-5:
        return m_over_alpha * (0.5 + m / 24.0)
    return _f(m) / alpha


def _log_abs_one_minus(theta: float, h: float) -> float:
    """log|1 − θh| (−inf at θh = 1), by log1p where θh is small."""
    th = theta * h
    if th < 0.5:
        return math.log1p(-th)
    return -math.inf if th == 1.0 else math.log(abs(1.0 - th))


def stable_ou_transition(alpha, theta, sigma, t, x0=0.0) -> tuple[float, float]:
    """(location, scale) of X_t | X_0 = x0 for dX = −θX dt + σ dL (SαS):
    e^{−θt}x0 and σ((1 − e^{−αθt})/(αθ))^{1/α}.

    With x = αθt, (1 − e^{−x})/(αθ) = t·e^{f(−x)}, f(m) = log((e^m − 1)/m), so
    log scale = log σ + (log t)/α + f(−x)/α, f(−x)/α → −θt/2 as α → 0 (computed without forming
    a vanishing x). ``ValueError`` where the scale is outside float64's range (e.g. a tiny α with t ≠ 1).
    """
    alpha = check_alpha(alpha)
    theta = check_positive("theta", theta)
    sigma = check_positive("sigma", sigma)
    t = check_positive("t", t)
    x0 = check_real("x0", x0)
    lx = math.log(alpha) + math.log(theta) + math.log(t)  # log x
    fa = -lx / alpha if lx > 700.0 else _f_over_alpha(-math.exp(lx), -theta * t, alpha)
    scale = _exp_scale(math.log(sigma) + math.log(t) / alpha + fa, "the transition scale", alpha=alpha,
                       theta=theta, sigma=sigma, t=t)
    return math.exp(-theta * t) * x0, scale


def stable_ou_stationary_scale(alpha, theta, sigma=1.0) -> float:
    """Scale σ(αθ)^{−1/α} of the stationary SαS law of the stable OU process.

    ``ValueError`` where it is outside float64's range (a tiny α with αθ ≠ 1).
    """
    alpha = check_alpha(alpha)
    theta = check_positive("theta", theta)
    sigma = check_positive("sigma", sigma)
    log_scale = math.log(sigma) - (math.log(alpha) + math.log(theta)) / alpha
    return _exp_scale(log_scale, "the stationary scale", alpha=alpha, theta=theta, sigma=sigma)


def em_ou_scale(alpha, theta, sigma, h, n) -> float:
    """Scale of the EM chain after n steps: σ(h Σ_{j<n} |1−θh|^{αj})^{1/α} (its law is exactly SαS).

    With L = log|1−θh| and q = e^{αL}, Σ_{j<n} q^j = n·exp(f(nαL) − f(αL)), f(m) = log((e^m − 1)/m),
    evaluated in log space (no overflow of qⁿ, and the limit α → 0 kept); ``ValueError`` where the
    scale is outside float64's range (e.g. a tiny α with h·n ≠ 1, or θh ≫ 1 with a large n).
    """
    alpha = check_alpha(alpha)
    theta = check_positive("theta", theta)
    sigma = check_positive("sigma", sigma)
    h = check_positive("h", h)
    n = check_int("n", n, 1)
    L = _log_abs_one_minus(theta, h)
    if L == -math.inf:  # θh = 1: q = 0 and the sum is 1
        log_scale = math.log(sigma) + math.log(h) / alpha
    else:  # (log h + log n)/α first: it is 0 at h·n = 1, where the f terms carry the whole answer
        lq = alpha * L
        log_scale = (math.log(sigma) + (math.log(h) + math.log(n)) / alpha
                     + (_f_over_alpha(n * lq, n * L, alpha) - _f_over_alpha(lq, L, alpha)))
    return _exp_scale(log_scale, "the EM scale", alpha=alpha, theta=theta, sigma=sigma, h=h, n=n)


def em_ou_stationary_scale(alpha, theta, sigma, h) -> float:
    """Stationary scale σ[h/(1 − |1−θh|^α)]^{1/α} of the EM chain (needs 0 < θh < 2).

    With L = log|1−θh| < 0, 1 − e^{αL} = −αL·e^{f(αL)} (f as in :func:`em_ou_scale`): no
    cancellation for a tiny θh; ``ValueError`` where θh is not in (0, 2) in float64 or the scale
    is outside float64's range.
    """
    alpha = check_alpha(alpha)
    theta = check_positive("theta", theta)
    sigma = check_positive("sigma", sigma)
    h = check_positive("h", h)
    if not 0.0 < theta * h < 2.0:
        raise ValueError(f"theta*h must be in (0, 2) for a stationary EM chain, got {theta * h:g}")
    L = _log_abs_one_minus(theta, h)
    if L == -math.inf:  # θh = 1: q = 0, 1 − q = 1
        log_scale = math.log(sigma) + math.log(h) / alpha
    else:
        # log h − log(−L) = −log θ − log(−L/(θh)), −L/(θh) → 1 as θh → 0 (no cancellation of large logs)
        log_scale = (math.log(sigma) - (math.log(theta) + math.log(-L / (theta * h)) + math.log(alpha)) / alpha
                     - _f_over_alpha(alpha * L, L, alpha))
    return _exp_scale(log_scale, "the EM stationary scale", alpha=alpha, theta=theta, sigma=sigma, h=h)


def sas_abs_moment(alpha, p, scale=1.0) -> float:
    """E|X|^p for X ~ SαS(scale), −1 < p < α: scale^p 2^p Γ((1+p)/2)Γ(1−p/α)/(√π Γ(1−p/2)).

    Evaluated with log-gamma functions; ``ValueError`` where the moment is outside float64's range.
    """
    alpha = check_alpha(alpha)
    p = check_real("p", p, -1.0, alpha, low_open=True, high_open=True)
    scale = check_positive("scale", scale)
    log_m = (p * (math.log(scale) + math.log(2.0)) + _gammaln(0.5 * (1 + p)) + _gammaln(1 - p / alpha)
             - 0.5 * math.log(math.pi) - _gammaln(1 - 0.5 * p))
    return _exp_scale(log_m, "the moment E|X|^p", alpha=alpha, p=p, scale=scale)


def _weak_plan(alpha, theta, sigma, T, dts, n_paths, p):
    """The validated arguments of :func:`ou_weak_error` and its step counts T/h, before any work."""
    alpha = check_alpha(alpha)
    check_positive("theta", theta)
    check_positive("sigma", sigma)
    p = alpha / 4.0 if p is None else check_real("p", p, 0.0, alpha / 2.0, low_open=True, high_open=True)
    T = check_positive("T", T)
    dts = check_array("dts", dts, ndim=1, min_size=2)
    if np.any(dts <= 0):
        raise ValueError("dts must all be in (0, inf)")
    if np.unique(dts).size < 2:
        raise ValueError(f"dts must hold at least two distinct step sizes (the weak order is a slope), got {dts}")
    if T / float(np.min(dts)) > STEPS_MAX:
        raise ValueError(f"T / min(dts) (the Euler steps) must be at most {STEPS_MAX}, got {T / float(np.min(dts)):g}")
    n_paths = check_int("n_paths", n_paths, 2)
    steps = []
    for h in dts:
        n = int(round(T / h))
        if n < 1 or abs(n * h - T) > 1e-9 * T:
            raise ValueError(f"each dt in dts must divide T={T}, got {h}")
        steps.append(n)
    _check_run(sum(steps), n_paths, 1, 1)
    return alpha, p, T, dts, steps, n_paths


def ou_weak_error(alpha, theta=1.0, sigma=1.0, T=1.0, dts=(0.2, 0.1, 0.05, 0.025), *, n_paths=200_000,
                  p=None, seed=None) -> dict:
    """Weak error of EM for the stable OU process, measured on E|X_T|^p from X_0 = 0.

    For each h in ``dts`` runs ``n_paths`` EM paths to T and compares the Monte
    Carlo E|X_T|^p with the exact value from the transition law. Also returns
    the exact EM error (from :func:`em_ou_scale`), the MC standard error, and
    the least-squares slope of log(error) against log(h) (the empirical weak
    order; 1 expected). ``p`` defaults to α/4 (so that |X|^p has a finite variance).

    Every h in ``dts`` (at least two distinct values) must divide T into at most
    :data:`STEPS_MAX` steps, and the total work n_paths·Σ_h T/h is at most :data:`WORK_MAX` = 10¹⁰;
    ``n_paths`` >= 2. All of this is checked before any path is run.
    """
    alpha, p, T, dts, steps, n_paths = _weak_plan(alpha, theta, sigma, T, dts, n_paths, p)
    ss = seeding.seed_sequence(seed)
    _, s_exact = stable_ou_transition(alpha, theta, sigma, T, 0.0)
    m_exact = sas_abs_moment(alpha, p, s_exact)
    out = {"dt": [], "mc": [], "se": [], "em_exact": [], "error_mc": [], "error_em": []}
    for i, (h, n) in enumerate(zip(dts, steps)):
        res = euler_maruyama(ou_drift, np.zeros(1), alpha=alpha, dt=float(h), steps=n, n_paths=n_paths,
                             sigma=sigma, params=[theta, 0.0], seed=seeding.child(ss, "dt", i))
        v = np.abs(res.x[res.ok, 0]) ** p
        m_em = sas_abs_moment(alpha, p, em_ou_scale(alpha, theta, sigma, h, n))
        out["dt"].append(float(h))
        out["mc"].append(float(v.mean()))
        out["se"].append(float(v.std(ddof=1) / math.sqrt(v.size)))
        out["em_exact"].append(m_em)
        out["error_mc"].append(abs(float(v.mean()) - m_exact))
        out["error_em"].append(abs(m_em - m_exact))
    out = {k: np.asarray(v) for k, v in out.items()}
    out["exact"] = m_exact
    out["p"] = p
    lh = np.log(out["dt"])
    out["order_mc"] = float(np.polyfit(lh, np.log(out["error_mc"]), 1)[0])
    out["order_em"] = float(np.polyfit(lh, np.log(out["error_em"]), 1)[0])
    return out
