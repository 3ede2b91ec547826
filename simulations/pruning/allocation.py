r"""Layer-wise sparsity allocation: how much of each layer to prune at a given global sparsity.

A network is any list of 2-D weight matrices ``W_l`` with ``n_l`` entries (``N = Σ n_l``; the
shapes need not chain, so reshaped convolution kernels ``(out, in·k·k)`` fit too). A *rule*
turns a global sparsity ``s ∈ [0, 1)`` into per-layer pruned counts ``m_l`` with

    Σ_l m_l = M = ⌊s N⌋  exactly,   0 ≤ m_l ≤ n_l − 1  (every layer keeps ≥ 1 weight),

and per-layer sparsities ``s_l = m_l / n_l ∈ [0, 1)``; each layer is then magnitude-pruned at
its own ``m_l`` (:func:`prune_allocated`). Real-valued targets ``t_l`` with ``Σ t_l = M`` are
made integers by the largest-remainder rule (``⌊t_l⌋``, then +1 for the largest fractional
parts, ties to the earlier layer), so ``|m_l − t_l| < 1``.

Rules (:data:`RULES`):

* ``uniform`` — ``t_l = c n_l``, ``c = M/N ≈ s``.
* ``global_magnitude`` — one threshold over the pooled ``|w|``: the ``M`` smallest pooled
  magnitudes are removed (ties by layer order, then position: a stable sort, exactly as
  :func:`simulations.pruning.one_shot.magnitude_prune` with ``scope="global"``); the implied
  ``m_l`` are exposed. The one change: each layer's largest entry is never pooled, so no layer
  is emptied (this differs from plain global pruning only when it would empty a layer).
* ``alpha_pruning`` — AlphaPruning (Lu, Zhou, Liu, Wang, Mahoney & Yang, "AlphaPruning: using
  heavy-tailed self regularization theory for improved layer-wise pruning of large language
  models", NeurIPS 2024; code ``haiquanlu/AlphaPruning``, ``lib/prune.py::ww_sparsity`` and
  ``image_classifiers/prune_utils.py::prune_vit_ww``). With ``a_l`` the power-law exponent of
  the empirical spectral density (ESD) of ``W_lᵀW_l`` (heavy-tailed self-regularisation,
  Martin & Mahoney, JMLR 2021; their ``net_esd_estimator``, WeightWatcher's fit), the factors

      f_l = (1 − ε) + 2ε (a_l − a_min)/(a_max − a_min)   ∈ [1 − ε, 1 + ε]

  (``f_l = 1`` when every ``a_l`` is equal, where their code divides by zero) give
  ``s_l = c f_l`` with ``c = s N / Σ n_l f_l``: a *multiplicative* band ``[s(1−ε), s(1+ε)]``
  around ``s``, rescaled so the global sparsity is exact. Smaller ``a_l`` (heavier-tailed
  ESD, read by HT-SR as a better-trained layer) ⇒ pruned LESS. Their defaults: ε = 0.3 for
  LLMs (``main.py``, the README example; metric ``alpha_peak``) and ε = 0.2 for image
  classifiers (``image_classifiers/main.py``; metric ``alpha_mid``);
  :data:`EPSILON_DEFAULT` = 0.2 here. Their code does not bound ``s_l``: at large ``s`` the band
  passes 1 (s = 0.98, ε = 0.2 gives 1.18; the rescaling ``c`` can push it past 1 already at
  s = 0.8 when the largest layer has a small factor), so here ``s_l`` is capped at
  ``1 − 1/n_l`` and the uncapped layers' common factor ``c`` is raised until ``Σ m_l = M``
  (water-filling; the order of the ``s_l`` is kept). The ESD exponent is :func:`simulations.spectra.spectral_alpha`, or
  the per-layer values given as ``metrics``.
* ``tail_index`` — the same band, on the tail index ``α̂_l`` of the layer's *entries*
  (:func:`simulations.tail_index.estimators.weight_tail_index`: block-sum estimator,
  median-centred, clipped at 2, as in Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli,
  NeurIPS 2021), with the opposite sign and on the *kept* fraction: ``κ_l = c f_l``,
  ``f_l = (1 − ε) + 2ε (α̂_l − α̂_min)/(α̂_max − α̂_min)``, ``c`` such that ``Σ κ_l n_l = N − M``
  (``1/n_l ≤ κ_l ≤ 1``, water-filling): the heavier-tailed layer keeps less, i.e. is pruned
  MORE. Rationale (Gribonval, Cevher & Davies 2012, Prop. 1; Barsbey et al. 2021): the
  relative best-k-term error of a layer with iid entries tends to ``G_2[F](κ)``, which for
  power-law tails is increasing in α (Pareto: ``G_q^q = 1 − κ^{1−q/α}``) and tends to 0 when
  ``E|X|² = ∞`` (α < 2): a heavier tail loses a smaller share of the layer's norm at the same
  kept fraction, so it can give up more entries at equal relative error. The band is put on κ
  because ``G`` is a function of κ and behaves like a power of κ at small κ: a ±ε change of κ
  is a bounded change of the error at every sparsity, whereas a band ``s(1 ± ε)`` on the
  sparsity leaves [0, 1) as soon as ``s > 1/(1 + ε)`` (0.83 for ε = 0.2) and then empties the
  capped layers. (AlphaPruning's α is a *spectral* exponent read as layer quality; α̂ is a
  coordinate tail index read as compressibility: the two prescriptions point opposite ways.)
* ``compressibility`` — choose the kept fractions ``κ_l`` minimising the predicted total
  squared pruning error ``Σ_l ‖w_l‖² G_2[F_l](κ_l)²`` subject to ``Σ_l κ_l n_l = N − M``
  (:func:`predicted_error_curves`): ``F_l`` the empirical law of ``w_l`` (``law="empirical"``),
  or a symmetric law fitted to ``w_l`` by maximum likelihood with location 0 (``"gennorm"``:
  density ∝ exp(−|x/σ|^r); ``"student_t"``), ``G_2`` from the closed forms of
  :func:`theory.compressibility.closed_form`. Each cost ``c_l(m) = ‖w_l‖² G_2[F_l](1 − m/n_l)²``
  is convex in the pruned count ``m`` (its increments ``‖w_l‖² ∫_{m/n}^{(m+1)/n} Q_l(u)² du /
  ∫_0^1 Q_l²`` grow with ``m``, Q_l the quantile function of ``|X_l|``), so the greedy rule —
  repeatedly prune the entry with the smallest marginal cost — is optimal for this separable
  convex resource-allocation problem (Fox, "Discrete optimization via marginal analysis",
  Management Science 13(3), 1966; Ibaraki & Katoh, *Resource Allocation Problems*, 1988, ch. 4):
  :func:`greedy_allocation`. With the empirical law the increments are exactly the sorted
  ``w²`` of each layer, so the optimum IS global magnitude pruning (one threshold on ``|w|``);
  with a fitted law it is one threshold on the *fitted* laws: the marginal cost of layer l at
  pruned fraction u is ``‖w_l‖²/n_l · Q_l(u)²/E_l[Q_l²]``, so the optimum prunes in every layer
  the entries below one common ``t`` in units where the fitted law's second moment matches
  ``‖w_l‖²/n_l`` — smoothed quantiles instead of the raw ones, and a different answer wherever
  the layer's weights are not distributed like the fitted family.

Range: finite weights with ``|w| ≤ WEIGHT_ABS_MAX = 2^1020``; every cost is computed on the
weights scaled by a common power of two (exact; the allocation is scale-free).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulations._core.validation import check_array, check_choice, check_int, check_real
from simulations.pruning.one_shot import WEIGHT_ABS_MAX, magnitude_prune
from simulations.pruning.result import PruneResult

__all__ = [
    "RULES",
    "LAWS",
    "METRICS",
    "EPSILON_DEFAULT",
    "allocate",
    "prune_allocated",
    "layer_metrics",
    "band_factors",
    "predicted_error_curves",
    "greedy_allocation",
]

#: the allocation rules of :func:`allocate`
RULES = ("uniform", "global_magnitude", "alpha_pruning", "tail_index", "compressibility")
#: the laws of the ``compressibility`` rule (:func:`predicted_error_curves`)
LAWS = ("empirical", "gennorm", "student_t")
#: the per-layer metrics of :func:`layer_metrics`: ESD exponent (AlphaPruning), entries' tail index
METRICS = ("esd_alpha", "tail_index")
#: a Student-t fit with more degrees of freedom uses the normal law's G_2 (they differ by < 1e-5 relative;
#: the Student-t closed form loses digits beyond ν ≈ 1e8)
NU_NORMAL = 1e6
#: AlphaPruning's band half-width ε for image classifiers (their LLM default is 0.3)
EPSILON_DEFAULT = 0.2


# --------------------------------------------------------------------------- inputs


def _check_layers(weights: Any) -> list[np.ndarray]:
    """A non-empty list of finite 2-D float arrays with ≥ 1 entry and |w| ≤ WEIGHT_ABS_MAX (no chaining)."""
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list of 2-D arrays, got {type(weights).__name__}")
    if not weights:
        raise ValueError("weights must hold at least one weight matrix, got an empty list")
    out = []
    for i, w in enumerate(weights):
        a = check_array(f"weights[{i}]", w, ndim=2, min_size=1)
        m = float(np.max(np.abs(a)))
        if m > WEIGHT_ABS_MAX:
            raise ValueError(f"weights[{i}] must have entries with |w| ≤ 2**1020 (WEIGHT_ABS_MAX), got max |w| = {m:g}")
        out.append(a)
    return out


def _scaled(ws: list[np.ndarray]) -> list[np.ndarray]:
    """float64 flattened layers times one power of two bringing the largest |w| into [1/2, 1)."""
    top = max(float(np.max(np.abs(w))) for w in ws)
    e = math.frexp(top)[1] if top > 0.0 else 0
    return [np.ldexp(np.asarray(w, dtype=np.float64).ravel(), -e) for w in ws]


def _check_metrics(metrics: Any, n_layers: int) -> np.ndarray:
    m = check_array("metrics", metrics, ndim=1)
    if m.size != n_layers:
        raise ValueError(f"metrics must hold one value per layer ({n_layers}), got {m.size}")
    return m.astype(np.float64)


def _total(sparsity: Any, sizes: np.ndarray) -> int:
    """M = ⌊s N⌋ (as one_shot does it), checked to leave every layer ≥ 1 entry."""
    s = check_real("sparsity", sparsity, 0.0, 1.0, high_open=True)
    n = int(sizes.sum())
    m = min(n, int(math.floor(s * n + 1e-9)))
    if m > n - sizes.size:
        raise ValueError(f"sparsity must leave at least one weight per layer: at most {(n - sizes.size) / n:.6g} "
                         f"for these {sizes.size} layers of {n} weights, got {s:g}")
    return m


# --------------------------------------------------------------------------- the band rules


def band_factors(metrics: Sequence[float], epsilon: float = EPSILON_DEFAULT, prune_more: str = "large"
                 ) -> np.ndarray:
    """AlphaPruning's linear map of per-layer metrics into factors in ``[1 − ε, 1 + ε]``.

    ``prune_more="large"`` (AlphaPruning): ``f_l = (1 − ε) + 2ε (a_l − a_min)/(a_max − a_min)``,
    the largest metric gets ``1 + ε``; ``"small"``: the reverse map (the smallest metric gets
    ``1 + ε``). Equal metrics give ``f_l = 1``. ``metrics``: a non-empty 1-D sequence of finite
    reals; ``epsilon`` in [0, 1).
    """
    a = check_array("metrics", metrics, ndim=1, min_size=1).astype(np.float64)
    eps = check_real("epsilon", epsilon, 0.0, 1.0, high_open=True)
    check_choice("prune_more", prune_more, ("large", "small"))
    lo, hi = float(a.min()), float(a.max())
    if hi == lo:
        return np.ones(a.size)
    u = (a - lo) / (hi - lo) if math.isfinite(hi - lo) else (a / 2 - lo / 2) / (hi / 2 - lo / 2)
    u = np.clip(u, 0.0, 1.0)
    return (1.0 - eps) + 2.0 * eps * (u if prune_more == "large" else 1.0 - u)


def _box_fill(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> np.ndarray:
    """``t_l = clip(c w_l, lo_l, hi_l)`` with ``Σ t_l = total`` (w > 0, Σ lo ≤ total ≤ Σ hi): water-filling.

    ``g(c) = Σ clip(c w_l, lo_l, hi_l)`` is continuous, non-decreasing and linear between the
    breakpoints ``lo_l/w_l``, ``hi_l/w_l``: evaluated there, solved on the segment that holds ``total``.
    """
    bps = np.unique(np.concatenate([lo / w, hi / w]))
    vals = np.clip(np.outer(bps, w), lo, hi).sum(axis=1)
    j = int(np.searchsorted(vals, total, side="left"))
    if j == 0:
        c = bps[0]
    elif j >= bps.size:
        c = bps[-1]
    else:
        c = bps[j - 1] + (total - vals[j - 1]) * (bps[j] - bps[j - 1]) / (vals[j] - vals[j - 1])
    return np.clip(c * w, lo, hi)


def _round_counts(t: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """Integers m_l ∈ [0, cap_l] with Σ m_l = total, |m_l − t_l| < 1 (largest remainder)."""
    base = np.clip(np.floor(t + 1e-9), 0, caps).astype(np.int64)
    frac = t - base
    r = total - int(base.sum())
    order = np.argsort(-frac, kind="stable") if r > 0 else np.argsort(frac, kind="stable")
    for i in order:
        if r == 0:
            break
        if r > 0 and base[i] < caps[i]:
            base[i] += 1
            r -= 1
        elif r < 0 and base[i] > 0:
            base[i] -= 1
            r += 1
    return base


# --------------------------------------------------------------------------- the curve rules


def predicted_error_curves(weights: Sequence[np.ndarray], law: str = "empirical") -> list[np.ndarray]:
    """Per layer, the predicted squared pruning error ``c_l(m) = ‖w_l‖² G_2[F_l](1 − m/n_l)²``, m = 0…n_l.

    As a share of the network's squared norm ``Σ_l ‖w_l‖²`` (so ``c_l(0) = ‖w_l‖²/Σ‖w‖²`` and
    ``c_l(n_l) = 0``). ``law="empirical"``: ``G_2`` of the layer's own entries, i.e. the exact
    relative best-k-term error (:func:`simulations.compressibility.api.relative_errors`);
    ``"gennorm"`` / ``"student_t"``: the closed form of ``G_2`` (Gribonval, Cevher & Davies 2012,
    Prop. 1; :func:`theory.compressibility.closed_form`) of the law fitted by maximum likelihood
    with location 0 to the layer divided by its root mean square (:mod:`scipy.stats`
    ``gennorm.fit`` / ``t.fit``; ``G_2`` does not depend on the scale); a
    Student-t fit with ν ≤ 2 has ``E X² = ∞`` and predicts ``G_2 = 0`` for every κ > 0, one with
    ν > :data:`NU_NORMAL` = 10⁶ uses the normal law's ``G_2`` (its limit).
    ``weights``: a non-empty list of finite 2-D arrays (any shapes).
    """
    ws = _check_layers(weights)
    check_choice("law", law, LAWS)
    xs = _scaled(ws)
    sq = np.array([float(np.dot(x, x)) for x in xs])
    tot = float(sq.sum())
    out = []
    for x, q in zip(xs, sq):
        n = x.size
        share = q / tot if tot > 0.0 else 0.0
        if share == 0.0:
            out.append(np.zeros(n + 1))
            continue
        if law == "empirical":
            from simulations.compressibility.api import relative_errors

            g = np.asarray(relative_errors(x, p=2.0))[::-1]  # g[m] = error keeping n − m
        else:
            g = _fitted_g(x, law, (n - np.arange(n + 1)) / n)
        out.append(share * np.square(g))
    return out


def _fitted_g(x: np.ndarray, law: str, kappa: np.ndarray) -> np.ndarray:
    """G_2(κ) of the symmetric law of family ``law`` fitted to ``x`` (location 0)."""
    import scipy.stats as st

    from theory.compressibility import closed_form

    x = x / math.sqrt(float(np.mean(x * x)))  # the fit on the standardised layer (G_2 is scale-free)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if law == "gennorm":
            shape = {"r": float(st.gennorm.fit(x, floc=0.0)[0])}
        else:
            shape = {"nu": float(st.t.fit(x, floc=0.0)[0])}
        if law == "student_t" and shape["nu"] > NU_NORMAL:  # the closed form loses accuracy; t_ν → normal
            g = np.asarray(closed_form("normal")(kappa, 2.0), dtype=np.float64)
        else:
            g = np.asarray(closed_form(law)(kappa, 2.0, **shape), dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError(f"weights: the {law} fit {shape} gives a non-finite G_2; use law='empirical'")
    return g


def greedy_allocation(curves: Sequence[np.ndarray], n_prune: int) -> np.ndarray:
    """Counts ``m_l`` minimising ``Σ_l c_l(m_l)`` subject to ``Σ_l m_l = n_prune``, for convex curves.

    ``curves[l]`` is a 1-D array of finite costs ``c_l(0), …, c_l(K_l)`` (``m_l ≤ K_l``), convex in
    m (non-decreasing increments, up to a rounding tolerance of 1e-12 of the largest |c|); a curve
    that is not convex raises ``ValueError`` naming it. The greedy rule takes the ``n_prune``
    smallest increments of all curves (a stable sort: ties go to the earlier layer), optimal for a
    separable convex objective under one sum constraint (Fox 1966). ``n_prune`` in
    ``[0, Σ_l K_l]``.
    """
    if not isinstance(curves, (list, tuple)) or not curves:
        raise TypeError("curves must be a non-empty list of 1-D cost arrays")
    incs = []
    for i, c in enumerate(curves):
        c = check_array(f"curves[{i}]", c, ndim=1, min_size=1).astype(np.float64)
        d = np.diff(c)
        tol = 1e-12 * max(1.0, float(np.max(np.abs(c))))
        if d.size > 1 and np.any(np.diff(d) < -tol):
            raise ValueError(f"curves[{i}] must be convex in m (non-decreasing increments)")
        incs.append(np.maximum.accumulate(d) if d.size else d)
    n_prune = check_int("n_prune", n_prune, 0, sum(d.size for d in incs))
    return _greedy(incs, n_prune)


def _greedy(incs: list[np.ndarray], total: int) -> np.ndarray:
    """The ``total`` smallest pooled increments (stable), counted per layer (increments non-decreasing)."""
    pooled = np.concatenate(incs) if incs else np.zeros(0)
    owner = np.repeat(np.arange(len(incs)), [d.size for d in incs])
    chosen = np.argsort(pooled, kind="stable")[:total]
    return np.bincount(owner[chosen], minlength=len(incs)).astype(np.int64)


def _global_magnitude_counts(xs: list[np.ndarray], total: int) -> np.ndarray:
    """Pooled stable order of |w| (each layer's last-ranked largest entry withheld), first ``total`` removed."""
    mags = []
    for x in xs:
        a = np.abs(x)
        a[np.argsort(a, kind="stable")[-1]] = np.inf
        mags.append(a)
    pooled = np.concatenate(mags)
    owner = np.repeat(np.arange(len(xs)), [x.size for x in xs])
    chosen = np.argsort(pooled, kind="stable")[:total]
    return np.bincount(owner[chosen], minlength=len(xs)).astype(np.int64)


# --------------------------------------------------------------------------- metrics and the dispatcher


def layer_metrics(weights: Sequence[np.ndarray], metric: str = "tail_index") -> np.ndarray:
    """Per-layer metric of a rule: ``"esd_alpha"`` (AlphaPruning) or ``"tail_index"``.

    ``esd_alpha``: :func:`simulations.spectra.spectral_alpha` of each ``W_l`` (the power-law
    exponent of the ESD of ``W_lᵀW_l``). ``tail_index``: :func:`weight_tail_index` of each ``W_l``
    (block-sum estimator on the median-centred entries, clipped at 2; Barsbey et al. 2021).
    ``weights``: a non-empty list of finite 2-D arrays (any shapes).
    """
    ws = _check_layers(weights)
    check_choice("metric", metric, METRICS)
    if metric == "tail_index":
        from simulations.tail_index.estimators import weight_tail_index

        return np.array([weight_tail_index(np.asarray(w, dtype=np.float64)) for w in ws])
    try:
        from simulations.spectra import spectral_alpha
    except ImportError as exc:
        raise RuntimeError(f"the ESD exponent needs simulations.spectra.spectral_alpha, which cannot be imported "
                           f"({exc}); pass metrics= (one ESD alpha per layer) instead") from None
    return np.array([float(spectral_alpha(np.asarray(w, dtype=np.float64))) for w in ws])


def _counts(weights, sparsity, rule, metrics, epsilon, law) -> tuple[list[np.ndarray], np.ndarray]:
    ws = _check_layers(weights)
    check_choice("rule", rule, RULES)
    eps = check_real("epsilon", epsilon, 0.0, 1.0, high_open=True)
    check_choice("law", law, LAWS)
    if metrics is not None and rule not in ("alpha_pruning", "tail_index"):
        raise ValueError(f"metrics applies to the rules 'alpha_pruning' and 'tail_index' only, not rule={rule!r}")
    sizes = np.array([w.size for w in ws], dtype=np.int64)
    total = _total(sparsity, sizes)
    caps = sizes - 1
    if rule == "global_magnitude":
        return ws, _global_magnitude_counts(_scaled(ws), total)
    if rule == "compressibility":
        incs = [np.maximum.accumulate(np.diff(c))[:cap] for c, cap in zip(predicted_error_curves(ws, law), caps)]
        return ws, _greedy(incs, total)
    n = sizes.astype(np.float64)
    if rule == "uniform":
        t = _box_fill(n, np.zeros(n.size), n - 1.0, float(total))
    else:
        m = (_check_metrics(metrics, len(ws)) if metrics is not None
             else layer_metrics(ws, "esd_alpha" if rule == "alpha_pruning" else "tail_index"))
        f = band_factors(m, eps, "large")
        if rule == "alpha_pruning":  # band on the pruned fraction: s_l = c f_l
            t = _box_fill(f * n, np.zeros(n.size), n - 1.0, float(total))
        else:  # band on the kept fraction: κ_l = c f_l, the lighter tail (larger α̂) keeps more
            t = n - _box_fill(f * n, np.ones(n.size), n, float(n.sum() - total))
    return ws, _round_counts(t, total, caps)


def allocate(weights: Sequence[np.ndarray], sparsity: float, rule: str, *, metrics: Sequence[float] | None = None,
             epsilon: float = EPSILON_DEFAULT, law: str = "empirical") -> np.ndarray:
    """Per-layer sparsities ``s_l = m_l / n_l`` of rule ``rule`` at global sparsity ``sparsity``.

    ``Σ_l m_l = ⌊s N⌋`` exactly and ``0 ≤ m_l ≤ n_l − 1`` (see the module docstring for the rules).
    ``weights``: a non-empty list of finite 2-D arrays (any shapes); ``sparsity`` in [0, 1), at
    most ``(N − L)/N``; ``rule`` in :data:`RULES`; ``metrics``: for ``alpha_pruning`` /
    ``tail_index`` only, one precomputed value per layer (default: computed by
    :func:`layer_metrics`); ``epsilon`` in [0, 1): the band half-width; ``law`` in :data:`LAWS`:
    the law of the ``compressibility`` rule.
    """
    ws, m = _counts(weights, sparsity, rule, metrics, epsilon, law)
    return m / np.array([w.size for w in ws], dtype=np.float64)


def prune_allocated(weights: Sequence[np.ndarray], sparsity: float, rule: str, *,
                    metrics: Sequence[float] | None = None, epsilon: float = EPSILON_DEFAULT,
                    law: str = "empirical") -> PruneResult:
    """Magnitude pruning of each layer at the count :func:`allocate` gives it (arguments as there).

    Layer l loses its ``m_l`` smallest ``|w|`` (ties by position: a stable sort), through
    :func:`simulations.pruning.one_shot.magnitude_prune` on that layer alone; pruned entries
    become 0, dtypes are kept. ``method`` of the result is ``"magnitude[<rule>]"``; for
    ``global_magnitude`` the masks equal those of ``magnitude_prune(..., scope="global")``
    unless that would empty a layer.
    """
    ws, counts = _counts(weights, sparsity, rule, metrics, epsilon, law)
    parts = []
    for w, m in zip(ws, counts):
        res = magnitude_prune([w], ratio=int(m) / w.size)
        if w.size - res.remaining[0] != m:  # ⌊(m/n)·n + 1e-9⌋ = m for every n ≤ 2^53
            raise RuntimeError(f"magnitude_prune removed {w.size - res.remaining[0]} entries instead of {m}")
        parts.append(res)
    return PruneResult(method=f"magnitude[{rule}]", weights=[p.weights[0] for p in parts],
                       masks=[p.masks[0] for p in parts], remaining=[p.remaining[0] for p in parts],
                       total=[w.size for w in ws], rel_error=[p.rel_error[0] for p in parts],
                       pruned_layers=list(range(len(ws))), fill=[0.0] * len(ws))
