"""α-stable random numbers: validated API over :mod:`simulations.stable.cpu`.

Parameterizations (Nolan 2020, *Univariate Stable Distributions*, §1.3;
Samorodnitsky & Taqqu 1994, Def. 1.1.6). X ~ S(α, β, σ, δ; k) has
characteristic function

* S1 (k=1), α ≠ 1: exp{−σ^α|t|^α [1 − iβ sgn(t) tan(πα/2)] + iδt};
  α = 1: exp{−σ|t| [1 + iβ (2/π) sgn(t) ln|t|] + iδt};
* S0 (k=0): the same law with δ₀ = δ₁ + βσ tan(πα/2) (α ≠ 1) or
  δ₀ = δ₁ + β(2/π)σ ln σ (α = 1). S0 is continuous in all four parameters
  and is the default here.

Scale 1 at α = 2 is N(0, 2), not N(0, 1). The symmetric case (β = 0) is the
same in S0 and S1.

Sampling is by Chambers, Mallows & Stuck (1976), exact for every
α ∈ (0, 2], β ∈ [−1, 1], α = 1 included. Draws are computed in float64 and
rounded to the requested dtype.

Range. A draw of a stable law with a small α is legitimately huge: P(|X| > x) ≈ x^{−α} for
SαS(1) as α → 0, so below α ≈ 0.05 a sizeable fraction of the draws exceeds float64's
1.8e308. The samplers therefore take α ≥ :data:`ALPHA_MIN` = 0.1, where
P(|X| > 1.8e308 / scale) ≤ (1.8e208)^{−0.1} ≈ 2e-21 per draw for scale ≤ :data:`SCALE_MAX` = 10¹⁰⁰
(and the symmetric CMS block, whose uniforms are multiples of 2^{−53}, cannot exceed e^{693}),
|loc| ≤ :data:`LOC_MAX` = 10³⁰⁰; the sub-Gaussian sampler, whose mixing variable has index α/2,
takes α ≥ :data:`SUB_GAUSSIAN_ALPHA_MIN` = 0.2. Within these ranges every draw is finite with
overwhelming probability.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.validation import (
    check_beta,
    check_choice,
    check_dtype,
    check_int,
    check_real,
)
from simulations.stable import cpu as _k
from simulations.stable import f32 as _f32
from simulations.stable.streams import STREAMS_MAX, init_states

__all__ = ["rvs", "sub_gaussian_rvs", "stream_rvs", "stream_states", "PARAMETERIZATIONS", "SIZE_MAX",
           "STREAMS_MAX", "ALPHA_MIN", "SUB_GAUSSIAN_ALPHA_MIN", "SCALE_MAX", "LOC_MAX"]

PARAMETERIZATIONS = ("S0", "S1")
#: most numbers one call returns (10⁹ float64: 8 GB); larger requests are rejected before any work
SIZE_MAX = 10**9
#: smallest α of :func:`rvs` and :func:`stream_rvs` (see the module docstring)
ALPHA_MIN = 0.1
#: smallest α of :func:`sub_gaussian_rvs`: its mixing variable is S(α/2, 1), so α/2 ≥ ALPHA_MIN
SUB_GAUSSIAN_ALPHA_MIN = 0.2
#: largest scale of the samplers
SCALE_MAX = 1e100
#: largest |loc| of the samplers
LOC_MAX = 1e300
#: draws per xoroshiro128+ stream in :func:`rvs` (block k of the output from stream k)
RVS_BLOCK = 1 << 14


def _alpha(alpha, low: float = ALPHA_MIN) -> float:
    return check_real("alpha", alpha, low, 2.0)


def _scale_loc(scale, loc) -> tuple[float, float]:
    return check_real("scale", scale, 0.0, SCALE_MAX, low_open=True), check_real("loc", loc, -LOC_MAX, LOC_MAX)


def _size_tuple(size, per_draw: int = 1) -> tuple[int, ...]:
    """``size`` (None, an int or a tuple of ints >= 0) as a tuple, with prod(size)·per_draw at most :data:`SIZE_MAX`."""
    if size is None:
        dims = ()
    else:
        if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
            size = (size,)
        if not isinstance(size, tuple):
            raise TypeError(f"size must be None, an int or a tuple of ints, got {type(size).__name__} {size!r}")
        dims = tuple(check_int("size", d, 0) for d in size)
    _check_total("size" if per_draw == 1 else "prod(size) * dim", math.prod(dims) * per_draw)
    return dims


def _check_total(what: str, total: int) -> None:
    if total > SIZE_MAX:
        raise ValueError(f"{what} asks for {total} numbers; at most SIZE_MAX = {SIZE_MAX} per call")


def _affine(alpha: float, beta: float, scale: float, loc: float, param: str) -> float:
    """Additive constant c with X = scale·X_std(S1) + c for the requested parameterization."""
    if param == "S1":
        return loc + float(_k.s1_shift(alpha, beta, scale))
    # S0: X = S1 law with δ1 = δ0 + (δ1 − δ0)
    return loc + float(_k.s1_shift(alpha, beta, scale)) + float(_k.s0_to_s1_shift(alpha, beta, scale))


def rvs(
    alpha: float,
    beta: float = 0.0,
    scale: float = 1.0,
    loc: float = 0.0,
    size: Any = None,
    *,
    param: str = "S0",
    dtype: Any = np.float64,
    seed: Any = None,
):
    """Draw α-stable variates S(α, β, σ=scale, δ=loc; param).

    Parameters
    ----------
    alpha : float in [ALPHA_MIN, 2] = [0.1, 2]
        Stability (tail) index (smaller α overflow float64: see the module docstring).
    beta : float in [-1, 1]
        Skewness.
    scale : float in (0, SCALE_MAX = 1e100]
        Scale σ.
    loc : float in [-LOC_MAX, LOC_MAX] = [-1e300, 1e300]
        Location δ in the chosen parameterization.
    size : None, int or tuple of ints >= 0
        Output shape; ``None`` returns a Python float. At most :data:`SIZE_MAX` = 10⁹ draws.
    param : {"S0", "S1"}
        Parameterization of (β, δ); identical for β = 0.
    dtype : float32 or float64
        Output dtype (computation is float64).
    seed : None, int, SeedSequence or numpy Generator
        Same seed ⇒ same draws, in every process (:func:`simulations._core.seeding.generator`).

    Notes
    -----
    Block ``k`` of :data:`RVS_BLOCK` = 2^14 consecutive draws (in C order) comes from xoroshiro128+
    stream ``k`` (the in-kernel path of :func:`stream_rvs`, two stream outputs per draw), the streams
    seeded by one 63-bit integer drawn from ``seeding.generator(seed)``: a Generator passed as ``seed``
    advances by one draw, and ``seed=SeedSequence(s)`` and ``seed=default_rng(SeedSequence(s))`` give
    the same draws.
    """
    alpha = _alpha(alpha)
    beta = check_beta(beta)
    scale, loc = _scale_loc(scale, loc)
    check_choice("param", param, PARAMETERIZATIONS)
    dt = check_dtype(dtype)
    shape = _size_tuple(size)
    rng = seeding.generator(seed)
    n = math.prod(shape)
    c = _affine(alpha, beta, scale, loc, param)
    out = np.empty(n, dtype=np.float64)
    full, rest = divmod(n, RVS_BLOCK)
    states = init_states(full + (rest > 0), int(rng.integers(0, 2**63)))
    if full:
        _k.fill_stable_streams(states[:full], alpha, beta, scale, c, out[: full * RVS_BLOCK].reshape(full, RVS_BLOCK))
    if rest:
        _k.fill_stable_streams(states[full:], alpha, beta, scale, c, out[full * RVS_BLOCK :].reshape(1, rest))
    if not shape:
        return float(out[0]) if dt == np.float64 else dt.type(out[0])
    with np.errstate(over="ignore"):
        return out.reshape(shape).astype(dt, copy=False)


def stream_states(n_streams: int, seed: Any = None) -> np.ndarray:
    """The ``(n_streams, 2)`` xoroshiro128+ states :func:`stream_rvs` draws from (n_streams ≤ :data:`STREAMS_MAX` = 10⁷).

    ``init_states(n_streams, kernel_seed(seed, "streams"))``: the one seeding recipe of
    :mod:`simulations._core.seeding` (seed → SeedSequence → the child named ``"streams"`` →
    a 63-bit stream seed), expanded into one stream per row by
    :func:`simulations.stable.streams.init_states`.
    """
    n_streams = check_int("n_streams", n_streams, 0, STREAMS_MAX)
    return init_states(n_streams, seeding.kernel_seed(seed, "streams"))


def stream_rvs(
    alpha: float,
    beta: float = 0.0,
    n_streams: int = 1,
    n_per_stream: int = 1,
    *,
    scale: float = 1.0,
    loc: float = 0.0,
    param: str = "S0",
    dtype: Any = np.float64,
    seed: Any = None,
) -> np.ndarray:
    """Draw a ``(n_streams, n_per_stream)`` array from per-chain streams, as kernels draw.

    Row ``i`` comes from xoroshiro128+ stream ``i`` of :func:`stream_states` ``(n_streams, seed)``
    (:mod:`simulations.stable.streams`), the same values a simulator kernel drawing noise for chain
    ``i`` with :func:`simulations.stable.cpu.stable_s1_draw` gets (float64; computed by the vectorised blocks); useful to test and benchmark that path. ``seed``: None, a non-negative int, a
    SeedSequence or a numpy Generator. ``n_streams·n_per_stream`` is at most :data:`SIZE_MAX` = 10⁹ and
    ``n_streams`` at most :data:`STREAMS_MAX` = 10⁷; α, scale and loc have the ranges of :func:`rvs`.
    ``dtype``: float64 (two stream outputs per draw), or float32 for symmetric laws (β = 0 only):
    the float32 path of the float32 training kernels, one output per draw, computed in float32
    (:mod:`simulations.stable.f32`; the far tail is cut beyond probability ≈ 1.5·10⁻¹¹ per draw).
    """
    alpha = _alpha(alpha)
    beta = check_beta(beta)
    scale, loc = _scale_loc(scale, loc)
    check_choice("param", param, PARAMETERIZATIONS)
    dt = check_dtype(dtype)
    if dt == np.float32 and beta != 0.0:
        raise ValueError(f"dtype=float32 draws symmetric laws only (beta = 0), got beta={beta!r}")
    n_streams = check_int("n_streams", n_streams, 0, STREAMS_MAX)
    n_per_stream = check_int("n_per_stream", n_per_stream, 0)
    _check_total("n_streams * n_per_stream", n_streams * n_per_stream)
    states = stream_states(n_streams, seed)
    if dt == np.float32:
        out32 = np.empty((n_streams, n_per_stream), dtype=np.float32)
        _f32.fill_sas32_streams(states, alpha, scale, loc, out32)
        return out32
    out = np.empty((n_streams, n_per_stream), dtype=np.float64)
    _k.fill_stable_streams(states, alpha, beta, scale, _affine(alpha, beta, scale, loc, param), out)
    return out


def sub_gaussian_rvs(
    alpha: float,
    dim: int,
    size: Any = None,
    *,
    scale: float = 1.0,
    dtype: Any = np.float64,
    seed: Any = None,
) -> np.ndarray:
    """Sub-Gaussian (elliptical) symmetric α-stable vectors in R^dim.

    X = scale · √A · G with G ~ N(0, 2 I_dim) and A ~ S1(α/2, β=1,
    σ_A = cos(πα/4)^{2/α}, 0) independent (Samorodnitsky & Taqqu 1994,
    Def. 2.5.1 and Prop. 2.5.2). Convention: **each coordinate is SαS with
    scale ``scale``** (E e^{i t X_j} = exp(−scale^α |t|^α)), and
    E e^{i⟨u, X⟩} = exp(−scale^α ‖u‖₂^α): the law is rotation invariant.
    Papers that take G ~ N(0, I) get coordinates of scale 2^{−1/2}·scale.
    At α = 2, A ≡ 1 and X ~ N(0, 2 scale² I).

    Returns an array of shape ``size + (dim,)``; prod(size)·dim is at most :data:`SIZE_MAX` = 10⁹.
    ``alpha`` in [:data:`SUB_GAUSSIAN_ALPHA_MIN`, 2] = [0.2, 2] (A has index α/2, which must be at least
    :data:`ALPHA_MIN`), ``scale`` in (0, :data:`SCALE_MAX`].
    """
    alpha = _alpha(alpha, SUB_GAUSSIAN_ALPHA_MIN)
    dim = check_int("dim", dim, 1)
    scale = _scale_loc(scale, 0.0)[0]
    dt = check_dtype(dtype)
    shape = _size_tuple(size, dim)
    ss = seeding.seed_sequence(seed)
    n = math.prod(shape)
    # G and A are independent consumers: each its own child of the seed
    g = seeding.generator(ss, "gaussian").standard_normal((n, dim)) * math.sqrt(2.0)
    if alpha < 2.0:
        a_scale = math.cos(math.pi * alpha / 4.0) ** (2.0 / alpha)
        a = rvs(alpha / 2.0, 1.0, a_scale, 0.0, size=n, param="S1", seed=seeding.child(ss, "mixing"))
        g *= np.sqrt(a)[:, None]
    g *= scale
    return g.reshape(shape + (dim,)).astype(dt, copy=False)
