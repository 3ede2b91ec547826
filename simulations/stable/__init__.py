r"""α-stable laws: sampling on the CPU, in kernels, and on the device.

X ~ S(α, β, σ, δ; k) is α-stable with stability (tail) index α ∈ (0, 2], skewness β ∈ [−1, 1],
scale σ > 0 and location δ when its characteristic function is (Nolan 2020, *Univariate Stable
Distributions*, §1.3; Samorodnitsky & Taqqu 1994, *Stable Non-Gaussian Random Processes*,
Def. 1.1.6)

* S1, α ≠ 1: E e^{itX} = exp{−σ^α|t|^α [1 − iβ sgn(t) tan(πα/2)] + iδt};
  α = 1: exp{−σ|t| [1 + iβ (2/π) sgn(t) ln|t|] + iδt};
* S0: the same law with δ₀ = δ₁ + βσ tan(πα/2) (α ≠ 1) or δ₀ = δ₁ + β(2/π)σ ln σ (α = 1),
  continuous in all four parameters (the default here).

β = 0 gives the symmetric laws SαS(σ), the same in S0 and S1; SαS at α = 2 is N(0, 2σ²). The
tails are Pareto-like, P(|X| > x) ~ C_α σ^α x^{−α} with C_α = (2/π) Γ(α) sin(πα/2)
(Samorodnitsky & Taqqu 1994, Property 1.2.15), so E|X|^p < ∞ iff p < α (α < 2). Draws are by
Chambers, Mallows & Stuck (1976, JASA 71), exact for every (α, β), with Weron's (1996, Stat.
Probab. Lett. 28) form at α = 1. The closed forms (moments, tail constants, characteristic
functions) are in :mod:`theory.stable`.

Modules:

* :mod:`~simulations.stable.api` — the validated API: :func:`rvs`, :func:`sub_gaussian_rvs`
  (elliptical SαS vectors), :func:`stream_rvs` / :func:`stream_states` (the in-kernel path); they
  sample α ≥ ALPHA_MIN = 0.1 (sub-Gaussian: α ≥ 0.2), where draws stay within float64 (a smaller α
  puts a sizeable fraction of its draws beyond 1.8e308);
* :mod:`~simulations.stable.streams` — one xoroshiro128+ stream per chain for CPU kernels;
* :mod:`~simulations.stable.cpu` — the CMS transform as ``@njit`` scalars and vectorised blocks;
* :mod:`~simulations.stable.f32` — symmetric draws in float32, one stream output each, for the
  float32 training kernels (``stream_rvs(..., dtype=np.float32)``);
* :mod:`~simulations.stable.cuda` — the same streams and draws as CUDA device functions,
  compiled from the CPU source;
* :mod:`~simulations.stable.jumps` — jump-ahead of a stream by any number of draws (GF(2)
  matrices), for the device launchers.

Example::

    from simulations import stable
    x = stable.rvs(1.5, size=1000, seed=0)        # SαS(1), α = 1.5
"""
from simulations.stable.api import (
    ALPHA_MIN,
    LOC_MAX,
    PARAMETERIZATIONS,
    SCALE_MAX,
    SIZE_MAX,
    STREAMS_MAX,
    SUB_GAUSSIAN_ALPHA_MIN,
    rvs,
    stream_rvs,
    stream_states,
    sub_gaussian_rvs,
)
from simulations.stable.streams import init_states

__all__ = ["rvs", "sub_gaussian_rvs", "stream_rvs", "stream_states", "init_states", "PARAMETERIZATIONS", "SIZE_MAX",
           "STREAMS_MAX", "ALPHA_MIN", "SUB_GAUSSIAN_ALPHA_MIN", "SCALE_MAX", "LOC_MAX"]
