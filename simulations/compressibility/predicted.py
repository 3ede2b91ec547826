r"""Theory-predicted magnitude-pruning error of weight layers, against the actual one-shot error.

For a layer w ∈ ℝⁿ (its entries, flattened) and a fraction κ of entries kept, the actual error of
one-shot magnitude pruning is the relative best k-term error (k = ⌈κn⌉, :func:`relative_error_at`)

    e(κ) = ‖w − H_k(w)‖_p / ‖w‖_p,   H_k keeps the k largest |w_i|.

If the entries were iid with law F and E|X|^p < ∞, e(κ) → G_p[F](κ) almost surely as n → ∞
(Gribonval, Cevher & Davies 2012, IEEE Trans. Inf. Theory 58(8), Prop. 1; see
:mod:`theory.compressibility`), with G_p[F](κ)^p = ∫₀^{1−κ} Q(u)^p du / ∫₀¹ Q(u)^p du, Q the
quantile function of |X|; if E|X|^p = ∞ the limit is 0. Two predictions per layer:

(a) **fitted law** F̂: G_p[F̂](κ) with F̂ fitted to the layer's entries, location fixed at 0 (magnitude
    pruning thresholds |w| around 0; G depends on F only through the law of |X| and not on the scale):

    * ``"normal"`` — N(0, s²), s the root mean square (MLE); no shape, so G is that of any normal law;
    * ``"gennorm"`` — generalized Gaussian, density ∝ exp(−|x/s|^β): maximum likelihood, profiled in
      closed form over s (ŝ^β = (β/n) Σ|w_i|^β) and maximised over β ∈ [:data:`BETA_MIN`, :data:`BETA_MAX`];
      G from the closed form ``gennorm`` (r = β);
    * ``"student_t"`` — s·t_ν: maximum likelihood over (ν, s), ν ∈ [:data:`NU_MIN`, :data:`NU_MAX`]
      (Nelder–Mead on (log ν, log s)); G from the closed form ``student_t`` (0 when ν ≤ p);
    * ``"sas"`` — symmetric α-stable: α from the layer's tail index (block-sum estimator on the
      median-centred entries, clipped at 2, :func:`simulations.tail_index.weight_tail_index`, as in
      Barsbey et al. 2021), scale by matching the median of |w| (quantile matching,
      ŝ = median|w| / Q_{|S_α|}(½)); G from :func:`theory.compressibility.g_stable`, which is 0 for
      every κ > 0 when α < 2 ≤ p (infinite p-th moment).

    The GCD limit is an n → ∞ statement. ``finite_n`` > 0 also gives the finite-n prediction: the
    mean (and sd) of e(κ) over ``finite_n`` vectors of the layer's n iid draws from F̂ — finite and
    decaying like n^{(1−p/α)/p} for SαS with α < p, where the limit is 0.

(b) **empirical law** F_n of the entries (``"empirical"``): G_p[F_n](κ) with the empirical quantile
    Q_n(u) = |w|_{(⌈nu⌉)} (ascending order statistics). With v_(1) ≤ … ≤ v_(n) the values |w_i|^p,
    m = n − ⌈κn⌉ and f = n(1 − κ) − m ∈ [0, 1),

        G_p[F_n](κ)^p = (Σ_{i≤m} v_(i) + f v_(m+1)) / Σ_i v_(i) = e(κ)^p + f v_(m+1)/Σ_i v_(i),

    so G_p[F_n] equals the actual error exactly when κn is an integer, and exceeds e^p by at most
    max_i v_i/Σ v_i (O(1/n) for iid entries with E|X|^p < ∞) otherwise. It is the consistency check of
    the table, not a prediction.

:func:`predicted_vs_actual` returns one row per (layer, law, κ); :func:`format_table` prints them;
the figure is :func:`simulations.compressibility.predicted_plots.predicted_figure`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, special

from simulations._core import seeding
from simulations._core.validation import check_array, check_choice, check_int, check_real, check_rows
from simulations.compressibility.api import kept_count, relative_error_at

__all__ = [
    "LAWS",
    "FIT_LAWS",
    "DEFAULT_KAPPAS",
    "BETA_MIN",
    "BETA_MAX",
    "NU_MIN",
    "NU_MAX",
    "ENTRIES_MAX",
    "FINITE_N_MAX",
    "ROW_KEYS",
    "fit_law",
    "law_g",
    "empirical_g",
    "actual_errors",
    "predicted_vs_actual",
    "format_table",
]

#: the fitted laws, and every law a row can name (the fitted ones and the empirical law)
FIT_LAWS = ("normal", "gennorm", "student_t", "sas")
LAWS = (*FIT_LAWS, "empirical")
#: fractions kept in the paper's table
DEFAULT_KAPPAS = (0.5, 0.2, 0.1, 0.05, 0.02)
#: range of the generalized Gaussian shape β searched by the MLE (β = 2: normal, 1: Laplace)
BETA_MIN, BETA_MAX = 0.05, 50.0
#: range of the Student-t degrees of freedom searched by the MLE (ν = NU_MAX is normal to ~1e-4)
NU_MIN, NU_MAX = 0.05, 1e4
#: most entries of all layers of one call (each is sorted and fitted: about a minute at the limit)
ENTRIES_MAX = 10**8
#: most replicates of the finite-n prediction
FINITE_N_MAX = 1000
#: keys of every row of :func:`predicted_vs_actual`
ROW_KEYS = ("layer", "n", "law", "fit", "params", "kappa", "p", "predicted", "actual", "diff", "predicted_n",
            "predicted_n_sd")
_KAPPAS_MAX = 1000


def _entries(name: str, w: Any) -> np.ndarray:
    """A layer's entries as a finite float64 vector of at least 2 entries, not all equal."""
    a = check_array(name, w, min_size=2, dtype=np.float64).ravel()
    if np.all(a == a[0]):
        raise ValueError(f"{name} must not be constant (all {a.size} entries equal {a[0]:g}): no law to fit")
    return a


def _check_kappas(kappas: Any) -> np.ndarray:
    if isinstance(kappas, (str, bytes)):
        raise TypeError(f"kappas must be a sequence of fractions in [0, 1], got {type(kappas).__name__}")
    k = check_array("kappas", kappas, ndim=(0, 1), dtype=np.float64).reshape(-1)
    if not 1 <= k.size <= _KAPPAS_MAX:
        raise ValueError(f"kappas must hold 1 to {_KAPPAS_MAX} fractions, got {k.size}")
    if np.any((k < 0.0) | (k > 1.0)):
        raise ValueError(f"kappas must be in [0, 1], got {float(k[(k < 0.0) | (k > 1.0)][0]):g}")
    return k


def _check_p(p: Any) -> float:
    return check_real("p", p, 0.0, 16.0, low_open=True)


# ----------------------------------------------------------------------------------------- fits
def _fit_gennorm(w: np.ndarray) -> dict:
    """Profile MLE of (β, s) for density β/(2sΓ(1/β)) exp(−|x/s|^β), location 0."""
    n = w.size
    logw = np.log(np.abs(w[w != 0.0]))
    nz = logw.size

    def log_scale(beta: float) -> float:  # log ŝ, ŝ^β = (β/n) Σ|w|^β, in log space
        return (math.log(beta) + special.logsumexp(beta * logw) - math.log(n)) / beta

    def negll(lb: float) -> float:
        beta = math.exp(lb)
        return -n * (math.log(beta) - math.log(2.0) - log_scale(beta) - special.gammaln(1.0 / beta) - 1.0 / beta)

    if nz == 0:
        raise ValueError("weights: a layer is all zeros: no law to fit")
    res = optimize.minimize_scalar(negll, bounds=(math.log(BETA_MIN), math.log(BETA_MAX)), method="bounded",
                                   options={"xatol": 1e-10})
    beta = float(math.exp(res.x))
    return {"beta": beta, "scale": float(math.exp(log_scale(beta)))}


def _t_negll(theta: np.ndarray, z2: np.ndarray) -> float:
    """−log-likelihood of s·t_ν at the squared entries z2 (θ = (log ν, log s))."""
    nu, ls = math.exp(theta[0]), theta[1]
    n = z2.size
    ll = n * (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi) - ls)
    return float(-(ll - (nu + 1) / 2 * np.sum(np.log1p(z2 * math.exp(-2.0 * ls) / nu))))


def _fit_student_t(w: np.ndarray) -> dict:
    """MLE of (ν, s) for s·t_ν (location 0), Nelder–Mead on (log ν, log s) from ν = 4, s = 1.2·median|w|."""
    med = float(np.median(np.abs(w)))
    unit = med if med > 0.0 else float(np.sqrt(np.mean(w * w)))
    z2 = (w / unit) ** 2
    lo, hi = math.log(NU_MIN), math.log(NU_MAX)

    def f(theta):
        return _t_negll(np.array([min(max(theta[0], lo), hi), theta[1]]), z2)

    best = None
    for nu0 in (1.5, 4.0, 30.0):
        res = optimize.minimize(f, x0=np.array([math.log(nu0), math.log(1.2)]), method="Nelder-Mead",
                                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
        if best is None or res.fun < best.fun:
            best = res
    nu = float(math.exp(min(max(best.x[0], lo), hi)))
    return {"nu": nu, "scale": float(unit * math.exp(best.x[1]))}


def _fit_sas(w: np.ndarray) -> dict:
    """α from the block-sum tail index (median-centred, clipped at 2); scale by matching median|w|."""
    from simulations.stable.api import ALPHA_MIN
    from simulations.tail_index import weight_tail_index

    try:
        a = weight_tail_index(w.reshape(1, -1), mode="entries", estimator="block_sum", center=True, clip=2.0)
    except ValueError as exc:
        raise ValueError(f"weights: the tail index of a layer is undefined ({exc})") from exc
    if not (math.isfinite(a) and a > 0.0):
        raise ValueError(f"weights: the tail index of a layer is {a}, not a stable index in (0, 2]")
    alpha = float(min(max(a, ALPHA_MIN), 2.0))
    from scipy import stats

    # median of |S_α(1)| (β = 0: S0 = S1); α = 2 is N(0, 2)
    q = math.sqrt(2.0) * float(stats.norm.ppf(0.75)) if alpha == 2.0 else float(stats.levy_stable.ppf(0.75, alpha, 0.0))
    return {"alpha": alpha, "alpha_estimate": float(a), "scale": float(np.median(np.abs(w)) / q)}


_FIT_METHOD = {"normal": "MLE", "gennorm": "MLE (profile over s)", "student_t": "MLE (Nelder-Mead)",
               "sas": "block-sum tail index + median matching"}


def fit_law(x: Any, law: str) -> dict:
    """Fit ``law`` (one of :data:`FIT_LAWS`) to the entries of ``x`` (flattened), location fixed at 0.

    Returns ``{"law", "fit", "params"}``: ``params`` are ``scale`` (normal), ``beta, scale``
    (gennorm), ``nu, scale`` (student_t), ``alpha, alpha_estimate, scale`` (sas); ``fit`` names the
    method (see the module docstring). ``x`` needs at least 2 finite entries, not all equal.
    """
    law = check_choice("law", law, FIT_LAWS)
    a = _entries("x", x)
    unit = float(np.max(np.abs(a)))
    z = a / unit  # fits in units of max|w| (no overflow); scales are converted back
    if law == "normal":
        params = {"scale": float(np.sqrt(np.mean(z * z)))}
    elif law == "gennorm":
        params = _fit_gennorm(z)
    elif law == "student_t":
        params = _fit_student_t(z)
    else:
        params = _fit_sas(z)
    params["scale"] *= unit
    return {"law": law, "fit": _FIT_METHOD[law], "params": params}


# ----------------------------------------------------------------------------------------- predictions
def law_g(fit: dict, kappas: Any, p: float = 2.0) -> np.ndarray:
    """G_p[F̂](κ) of a fitted law (a :func:`fit_law` result) at each κ in ``kappas`` (GCD limit)."""
    from theory import compressibility as theory_compressibility  # sympy: imported when first needed

    if not isinstance(fit, dict) or "law" not in fit or "params" not in fit:
        raise TypeError(f"fit must be a dict returned by fit_law, got {type(fit).__name__}")
    law = check_choice("fit['law']", fit["law"], FIT_LAWS)
    k = _check_kappas(kappas)
    p = _check_p(p)
    prm = fit["params"]
    if law == "normal":
        return np.asarray(theory_compressibility.closed_form("normal")(k, p), dtype=float)
    if law == "gennorm":
        return np.asarray(theory_compressibility.closed_form("gennorm")(k, p, r=prm["beta"]), dtype=float)
    if law == "student_t":
        return np.asarray(theory_compressibility.closed_form("student_t")(k, p, nu=prm["nu"]), dtype=float)
    return np.asarray(theory_compressibility.g_stable(prm["alpha"], k, p), dtype=float)


def _draw_fitted(fit: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """n iid draws of the fitted law (unit scale: G and e(κ) do not depend on it)."""
    prm = fit["params"]
    if fit["law"] == "normal":
        return rng.standard_normal(n)
    if fit["law"] == "gennorm":
        from scipy import stats

        return stats.gennorm.rvs(prm["beta"], size=n, random_state=rng)
    if fit["law"] == "student_t":
        return rng.standard_t(prm["nu"], n)
    from simulations.stable import api as stable

    return stable.rvs(prm["alpha"], 0.0, size=n, seed=rng)


def empirical_g(x: Any, kappas: Any, p: float = 2.0) -> np.ndarray:
    """G_p[F_n](κ) of the empirical law of the entries of ``x``: (Σ_{i≤m} v_(i) + f v_(m+1)) / Σ v_(i).

    v = |w|^p sorted ascending, m = n − ⌈κn⌉ (:func:`kept_count`), f = n(1 − κ) − m clipped to [0, 1)
    (module docstring). Powers are taken of |x|/max|x| (scale-free, no overflow).
    """
    a = check_array("x", x, min_size=1, dtype=np.float64).ravel()
    k = _check_kappas(kappas)
    p = _check_p(p)
    n = a.size
    mx = float(np.max(np.abs(a)))
    if mx == 0.0:
        return np.zeros_like(k)
    v = np.sort((np.abs(a) / mx) ** p)
    c = np.concatenate([[0.0], np.cumsum(v)])
    out = np.empty_like(k)
    for j, kk in enumerate(k):
        m = n - kept_count(float(kk), n)
        f = min(max(n * (1.0 - kk) - m, 0.0), 1.0 - 1e-16) if m < n else 0.0
        out[j] = min(1.0, ((c[m] + f * v[m]) / c[n]) ** (1.0 / p)) if m < n else 1.0
    return out


def actual_errors(x: Any, kappas: Any, p: float = 2.0) -> np.ndarray:
    """The one-shot magnitude-pruning error ‖x − H_{⌈κn⌉}(x)‖_p/‖x‖_p at each κ (:func:`relative_error_at`)."""
    a = check_array("x", x, min_size=1, dtype=np.float64).ravel()
    k = _check_kappas(kappas)
    p = _check_p(p)
    return np.array([relative_error_at(a, float(kk), p) for kk in k])


def _check_weights(weights: Any, names: Any) -> tuple[list[np.ndarray], list[str]]:
    if isinstance(weights, np.ndarray):
        weights = [weights]
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list of arrays (one per layer), got {type(weights).__name__}")
    if not weights:
        raise ValueError("weights must hold at least one layer, got an empty list")
    ws = [_entries(f"weights[{i}]", w) for i, w in enumerate(weights)]
    total = sum(w.size for w in ws)
    if total > ENTRIES_MAX:
        raise ValueError(f"weights must hold at most ENTRIES_MAX = {ENTRIES_MAX} entries in all, got {total}")
    if names is None:
        names = [f"layer {i + 1}" for i in range(len(ws))]
    elif isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)) or \
            not all(isinstance(s, str) for s in names):
        raise TypeError("names must be None or a list of strings (one per layer)")
    elif len(names) != len(ws):
        raise ValueError(f"names must have one entry per layer ({len(ws)}), got {len(names)}")
    return ws, list(names)


def predicted_vs_actual(weights: Any, kappas: Any = DEFAULT_KAPPAS, laws: Any = ("gennorm", "student_t", "sas",
                        "empirical"), p: float = 2.0, *, names: Any = None, finite_n: int = 0,
                        seed: Any = 0) -> list[dict]:
    """Predicted against actual one-shot magnitude-pruning error, per layer, law and fraction kept κ.

    Parameters
    ----------
    weights : list of arrays (one per layer; each flattened), at least 2 entries each, not constant;
        at most :data:`ENTRIES_MAX` entries in all.
    kappas : sequence of fractions kept in [0, 1] (at most 1000).
    laws : sequence of names in :data:`LAWS` (fitted laws and ``"empirical"``).
    p : float in (0, 16]: the ℓ_p error (2: the relative ℓ₂/Frobenius error).
    names : optional list of layer names (default "layer 1", ...).
    finite_n : int in [0, FINITE_N_MAX]: replicates of the finite-n prediction (0: none).
    seed : seed of the finite-n draws (layer i, law L from ``child(seed, i, L)``).

    Returns
    -------
    list of dicts with keys :data:`ROW_KEYS`: ``predicted`` = G_p[F̂](κ) (or G_p[F_n](κ)),
    ``actual`` = e(κ), ``diff`` = predicted − actual, ``params`` the fitted parameters ({} for the
    empirical law), ``predicted_n``/``predicted_n_sd`` the finite-n mean and sd (None when
    ``finite_n`` = 0 or for the empirical law).
    """
    ws, names = _check_weights(weights, names)
    k = _check_kappas(kappas)
    if isinstance(laws, str) or not isinstance(laws, (list, tuple)) or not laws:
        raise TypeError(f"laws must be a non-empty sequence of names in {list(LAWS)}, got {laws!r}")
    laws = [check_choice("laws", law, LAWS) for law in laws]
    p = _check_p(p)
    finite_n = check_int("finite_n", finite_n, 0, FINITE_N_MAX)
    ss = seeding.seed_sequence(seed)
    if finite_n and sum(w.size for w in ws) * finite_n * len(laws) > 20 * ENTRIES_MAX:
        raise ValueError(f"finite_n: the draws (entries * finite_n * len(laws)) must be at most {20 * ENTRIES_MAX}")
    rows = []
    for i, (w, nm) in enumerate(zip(ws, names)):
        actual = actual_errors(w, k, p)
        for law in laws:
            if law == "empirical":
                pred, fit, pn, psd = empirical_g(w, k, p), {"fit": "empirical quantile", "params": {}}, None, None
            else:
                fit = fit_law(w, law)
                pred = law_g(fit, k, p)
                pn = psd = None
                if finite_n:
                    rng = seeding.generator(seeding.child(ss, i, law))
                    sims = np.array([[relative_error_at(x, float(kk), p) for kk in k]
                                     for x in (_draw_fitted(fit, w.size, rng) for _ in range(finite_n))])
                    pn, psd = sims.mean(axis=0), (sims.std(axis=0, ddof=1) if finite_n > 1 else np.zeros(k.size))
            for j, kk in enumerate(k):
                rows.append({"layer": nm, "n": int(w.size), "law": law, "fit": fit["fit"], "params": dict(fit["params"]),
                             "kappa": float(kk), "p": p, "predicted": float(pred[j]), "actual": float(actual[j]),
                             "diff": float(pred[j] - actual[j]),
                             "predicted_n": None if pn is None else float(pn[j]),
                             "predicted_n_sd": None if psd is None else float(psd[j])})
    return rows


def _fmt_params(law: str, prm: dict) -> str:
    if law == "gennorm":
        return f"β={prm['beta']:.3g}"
    if law == "student_t":
        return f"ν={prm['nu']:.3g}"
    if law == "sas":
        return f"α={prm['alpha']:.3g}"
    return ""


def format_table(rows: Sequence[dict]) -> str:
    """Markdown table of :func:`predicted_vs_actual` rows: one line per (layer, law), one column per κ,
    each cell "predicted / actual" (and the finite-n mean in brackets when present)."""
    rows = check_rows("rows", rows, ROW_KEYS, "predicted_vs_actual")
    if not rows:
        return "(no rows)\n"
    kappas = sorted({r["kappa"] for r in rows}, reverse=True)
    head = "| layer | n | law | fit |" + "".join(f" κ = {k:g} |" for k in kappas)
    lines = [head, "|" + "---|" * (4 + len(kappas))]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["layer"], r["law"]), {})[r["kappa"]] = r
    for (layer, law), by_k in groups.items():
        r0 = next(iter(by_k.values()))
        cells = []
        for kk in kappas:
            r = by_k.get(kk)
            if r is None:
                cells.append(" – |")
                continue
            extra = "" if r["predicted_n"] is None else f" [{r['predicted_n']:.3f}]"
            cells.append(f" {r['predicted']:.3f} / {r['actual']:.3f}{extra} |")
        lines.append(f"| {layer} | {r0['n']} | {law} | {_fmt_params(law, r0['params'])} |" + "".join(cells))
    return "\n".join(lines) + "\n"
