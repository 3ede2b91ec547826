"""Layer-wise sparsity allocation: hand-computed answers, independent counting, brute-force optima.

Oracles: allocations worked out by hand from AlphaPruning's formula (Lu et al. 2024, code
``haiquanlu/AlphaPruning``: ``f = (a − a_min)/(a_max − a_min)·2ε + 1 − ε``, ``s_l = f_l·sN/Σ n f``);
pooled-threshold counting written here with ``np.sort``; exhaustive enumeration of every
allocation of a few tiny layers, with the predicted errors integrated here by ``scipy.integrate``;
``magnitude_prune(scope="global")`` for the masks of global magnitude pruning.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st

from simulations.pruning import allocation as al
from simulations.pruning.one_shot import magnitude_prune


def _layers(seed=0, shapes=((30, 20), (10, 30), (4, 10)), df=3.0):
    g = np.random.default_rng(seed)
    return [g.standard_t(df, sh) * (0.5 + i) for i, sh in enumerate(shapes)]


def _counts(ws, s, rule, **kw):
    return np.rint(al.allocate(ws, s, rule, **kw) * np.array([w.size for w in ws])).astype(int)


@pytest.mark.parametrize("rule", al.RULES)
@pytest.mark.parametrize("s", [0.0, 0.3, 0.8, 0.9, 0.95, 0.98])
def test_exact_global_sparsity_and_bounds(rule, s):
    ws = _layers(1, shapes=((40, 25), (12, 40), (7, 12), (3, 7)))   # shapes chain; sizes 1000, 480, 84, 21
    n = np.array([w.size for w in ws])
    kw = {"metrics": [3.1, 2.2, 4.0, 1.7]} if rule in ("alpha_pruning", "tail_index") else {}
    sl = al.allocate(ws, s, rule, **kw)
    m = sl * n
    assert np.allclose(m, np.rint(m), atol=1e-9)       # s_l = m_l / n_l with integer m_l
    m = np.rint(m).astype(int)
    assert m.sum() == math.floor(s * n.sum() + 1e-9)
    assert np.all(m >= 0) and np.all(m <= n - 1)
    assert np.all((sl >= 0) & (sl < 1))


def test_uniform_within_one_entry_of_s():
    ws = _layers(2, shapes=((7, 3), (11, 7), (5, 11)))
    n = np.array([w.size for w in ws])
    for s in (0.1, 0.37, 0.5, 0.9):
        m = _counts(ws, s, "uniform")
        assert np.all(np.abs(m - s * n) < 1.0)


def test_alpha_pruning_hand_case():
    # sizes 100, 200, 100; alphas 1, 2, 3; ε = 0.2 ⇒ f = 0.8, 1.0, 1.2, Σ n f = 400 = N ⇒ c = s ⇒ s_l = s f_l
    ws = [np.random.default_rng(0).standard_normal(sh) for sh in ((10, 10), (20, 10), (10, 10))]
    assert list(_counts(ws, 0.5, "alpha_pruning", metrics=[1.0, 2.0, 3.0], epsilon=0.2)) == [40, 100, 60]
    # ε = 0.3, s = 0.6: s_l = 0.6·(0.7, 1.0, 1.3) = 0.42, 0.6, 0.78
    assert list(_counts(ws, 0.6, "alpha_pruning", metrics=[1.0, 2.0, 3.0], epsilon=0.3)) == [42, 120, 78]
    # only the order of the metrics and their affine position matter: a → 10 a + 7 gives the same
    assert list(_counts(ws, 0.5, "alpha_pruning", metrics=[17.0, 27.0, 37.0])) == [40, 100, 60]


def test_alpha_pruning_cap_and_water_filling():
    # two layers of 100, f = 0.8, 1.2, s = 0.9 ⇒ uncapped 0.72, 1.08: the second is capped at 99 of 100,
    # the first takes the rest of M = 180: 81
    ws = [np.ones((10, 10)) + np.arange(100).reshape(10, 10), np.ones((10, 10))]
    assert list(_counts(ws, 0.9, "alpha_pruning", metrics=[0.0, 1.0])) == [81, 99]


def test_band_limits_and_ratio():
    f = al.band_factors([2.0, 5.0, 3.5, 4.0], epsilon=0.25)
    assert f.min() == pytest.approx(0.75) and f.max() == pytest.approx(1.25)
    assert list(f) == pytest.approx([0.75, 1.25, 1.0, 1.0 + 0.25 * (2 * 2 / 3 - 1)])
    assert list(al.band_factors([2.0, 5.0], 0.25, "small")) == pytest.approx([1.25, 0.75])
    assert list(al.band_factors([3.0, 3.0, 3.0], 0.4)) == [1.0, 1.0, 1.0]
    # equal sizes, no cap: the most and least pruned layers are in the ratio (1 + ε)/(1 − ε)
    ws = [np.random.default_rng(i).standard_normal((50, 40)) for i in range(4)]
    sl = al.allocate(ws, 0.5, "alpha_pruning", metrics=[2.0, 5.0, 3.5, 4.0], epsilon=0.25)
    assert sl.max() / sl.min() == pytest.approx(1.25 / 0.75, abs=2 / 2000 / 0.375)


@pytest.mark.parametrize("seed", range(5))
def test_monotonicity_in_the_metric(seed):
    g = np.random.default_rng(seed)
    ws = [g.standard_normal((40, 50)) for _ in range(6)]  # equal sizes: s_l order = count order
    a = g.uniform(1.5, 6.0, 6)
    order = np.argsort(a)
    for s in (0.5, 0.8, 0.95):
        m_alpha = _counts(ws, s, "alpha_pruning", metrics=a)
        m_tail = _counts(ws, s, "tail_index", metrics=a)
        # smaller ESD alpha ⇒ pruned less; smaller tail index ⇒ pruned more (±1 entry of rounding)
        assert np.all(np.diff(m_alpha[order]) >= -1)
        assert np.all(np.diff(m_tail[order]) <= 1)
        assert m_alpha[order[0]] < m_alpha[order[-1]] and m_tail[order[0]] > m_tail[order[-1]]


def test_tail_index_hand_case():
    # band on the kept fraction: α̂ = 1, 2, ε = 0.2 ⇒ κ factors 0.8, 1.2; s = 0.5 ⇒ keep 100 = c(80 + 120),
    # c = 0.5, kept 40 and 60, pruned 60 and 40
    ws = [np.random.default_rng(0).standard_normal((10, 10)), np.random.default_rng(1).standard_normal((10, 10))]
    assert list(_counts(ws, 0.5, "tail_index", metrics=[1.0, 2.0])) == [60, 40]
    # s = 0.98: keep 4 = c·2 ⇒ kept 1.6, 2.4 ⇒ pruned targets 98.4, 97.6 ⇒ largest remainder 98, 98
    assert sorted(_counts(ws, 0.98, "tail_index", metrics=[1.0, 2.0])) == [98, 98]


def _pooled_counts(ws, s):
    """Independent oracle: the M smallest pooled |w| (no ties in continuous data), counted per layer."""
    n = sum(w.size for w in ws)
    M = math.floor(s * n + 1e-9)
    pooled = np.sort(np.concatenate([np.abs(w).ravel() for w in ws]))
    if M == 0:
        return [0] * len(ws)
    t = pooled[M - 1]
    return [int(np.count_nonzero(np.abs(w) <= t)) for w in ws]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("s", [0.2, 0.8, 0.9, 0.95, 0.98])
def test_global_magnitude_is_pooled_threshold(seed, s):
    ws = _layers(seed, shapes=((60, 50), (20, 60), (10, 20)))
    assert list(_counts(ws, s, "global_magnitude")) == _pooled_counts(ws, s)
    res = al.prune_allocated(ws, s, "global_magnitude")
    ref = magnitude_prune(ws, ratio=s, scope="global")
    assert all(np.array_equal(a, b) for a, b in zip(res.masks, ref.masks))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("s", [0.5, 0.8, 0.9, 0.95, 0.98])
def test_compressibility_empirical_reproduces_global_magnitude(seed, s):
    ws = _layers(seed + 10, shapes=((60, 50), (20, 60), (10, 20)))
    assert list(_counts(ws, s, "compressibility", law="empirical")) == _pooled_counts(ws, s)


def test_global_magnitude_never_empties_a_layer():
    ws = [np.full((3, 3), 1e-6) + np.arange(9).reshape(3, 3) * 1e-9, np.arange(1.0, 101.0).reshape(10, 10)]
    m = _counts(ws, 0.5, "global_magnitude")    # plain global pruning would remove all 9 small entries
    assert list(m) == [8, 46]


def _g2_squared_quad(dist, kappa):
    """G_2(κ)² = E[X² 1{|X| ≤ t_κ}] / E X², P(|X| > t_κ) = κ, by quadrature (symmetric law)."""
    if kappa == 0.0:
        return 1.0
    if kappa == 1.0:
        return 0.0
    t = dist.isf(kappa / 2)
    num = si.quad(lambda x: x * x * dist.pdf(x), 0.0, t, limit=200)[0]
    den = si.quad(lambda x: x * x * dist.pdf(x), 0.0, np.inf, limit=200)[0]
    return num / den


def _brute_force(costs, caps, M):
    best, arg = math.inf, None
    for m in itertools.product(*[range(c + 1) for c in caps]):
        if sum(m) == M:
            v = sum(c[k] for c, k in zip(costs, m))
            if v < best - 1e-15:
                best, arg = v, m
    return best, arg


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("law", ["empirical", "gennorm", "student_t"])
@pytest.mark.parametrize("seed", range(3))
def test_compressibility_optimum_matches_brute_force(law, seed):
    g = np.random.default_rng(seed)
    ws = [g.standard_t(4.0, (2, 3)) * 0.3, g.standard_t(4.0, (3, 2)) * 1.0, g.standard_t(4.0, (1, 7)) * 2.0]
    n = [w.size for w in ws]
    sq = np.array([float(np.sum(w * w)) for w in ws])
    costs = []
    for w, q in zip(ws, sq):
        x = w.ravel()
        if law == "empirical":
            s2 = np.sort(x * x)
            c = [float(s2[:m].sum()) for m in range(x.size + 1)]
        else:
            fam = st.gennorm if law == "gennorm" else st.t
            shape = fam.fit(x / np.sqrt(np.mean(x * x)), floc=0.0)[0]   # fitted to the standardised layer
            dist = fam(shape)   # G_2 is scale-free
            if law == "student_t" and shape <= 2.0:   # E X² = ∞: G_2(κ) = 0 for κ > 0 (GCD 2012)
                c = [0.0] * x.size + [q]
            else:
                c = [q * _g2_squared_quad(dist, (x.size - m) / x.size) for m in range(x.size + 1)]
        costs.append(np.array(c) / sq.sum())
    # the code's curves equal the independent ones
    for mine, ref in zip(al.predicted_error_curves(ws, law), costs):
        assert mine == pytest.approx(ref, rel=1e-5, abs=1e-12)   # ν > 1e6: the normal limit, 1e-6 away
    N = sum(n)
    for s in (0.2, 0.5, 0.75):
        M = math.floor(s * N + 1e-9)
        best, _ = _brute_force(costs, [k - 1 for k in n], M)
        m = _counts(ws, s, "compressibility", law=law)
        assert sum(c[k] for c, k in zip(costs, m)) == pytest.approx(best, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_greedy_allocation_random_convex_curves(seed):
    g = np.random.default_rng(seed)
    curves = [np.concatenate([[0.0], np.cumsum(np.sort(g.exponential(1.0, k)))]) for k in (4, 5, 3)]
    for M in range(0, 13):
        best, _ = _brute_force(curves, [c.size - 1 for c in curves], M)
        m = al.greedy_allocation(curves, M)
        assert m.sum() == M
        assert sum(c[k] for c, k in zip(curves, m)) == pytest.approx(best, rel=1e-12, abs=1e-15)


def test_layers_need_not_chain_and_prune_allocated_counts():
    ws = [np.random.default_rng(0).standard_normal((16, 27)), np.random.default_rng(1).standard_normal((32, 144)),
          np.random.default_rng(2).standard_normal((10, 50))]   # conv-like (out, in·k·k): shapes do not chain
    for rule in ("uniform", "global_magnitude", "compressibility", "tail_index"):
        res = al.prune_allocated(ws, 0.9, rule)
        m = np.array([w.size - r for w, r in zip(ws, res.remaining)])
        assert m.sum() == math.floor(0.9 * sum(w.size for w in ws) + 1e-9)
        for w, mask, k in zip(ws, res.masks, m):
            # the removed entries are the k smallest |w| of the layer
            assert np.array_equal(np.sort(np.abs(w[~mask])), np.sort(np.abs(w).ravel())[:k])
        assert res.method == f"magnitude[{rule}]"


def test_layer_metrics_tail_index_is_weight_tail_index():
    from simulations.tail_index.estimators import weight_tail_index

    ws = _layers(4, shapes=((40, 30), (20, 40)))
    assert list(al.layer_metrics(ws, "tail_index")) == [weight_tail_index(w) for w in ws]
    a = al.allocate(ws, 0.7, "tail_index")
    assert np.array_equal(a, al.allocate(ws, 0.7, "tail_index", metrics=[weight_tail_index(w) for w in ws]))


def test_alpha_pruning_default_metric_is_spectral_alpha():
    spectra = pytest.importorskip("simulations.spectra", reason="simulations.spectra (ESD exponent) not present")
    ws = _layers(5, shapes=((60, 50), (30, 60), (20, 30)))
    alphas = [spectra.spectral_alpha(w) for w in ws]
    assert list(al.layer_metrics(ws, "esd_alpha")) == alphas
    assert np.array_equal(al.allocate(ws, 0.8, "alpha_pruning"), al.allocate(ws, 0.8, "alpha_pruning", metrics=alphas))


@pytest.mark.parametrize("call, exc, match", [
    (lambda ws: al.allocate(ws, 1.0, "uniform"), ValueError, "sparsity"),
    (lambda ws: al.allocate(ws, -0.1, "uniform"), ValueError, "sparsity"),
    (lambda ws: al.allocate(ws, 0.999, "uniform"), ValueError, "sparsity must leave at least one weight"),
    (lambda ws: al.allocate(ws, 0.5, "bogus"), ValueError, "rule"),
    (lambda ws: al.allocate(ws, 0.5, "alpha_pruning", metrics=[1.0]), ValueError, "metrics"),
    (lambda ws: al.allocate(ws, 0.5, "alpha_pruning", metrics=[1.0, np.nan]), ValueError, "metrics"),
    (lambda ws: al.allocate(ws, 0.5, "uniform", metrics=[1.0, 2.0]), ValueError, "metrics"),
    (lambda ws: al.allocate(ws, 0.5, "tail_index", epsilon=1.0), ValueError, "epsilon"),
    (lambda ws: al.allocate(ws, 0.5, "compressibility", law="cauchy"), ValueError, "law"),
    (lambda ws: al.allocate([np.ones(4)], 0.5, "uniform"), ValueError, r"weights\[0\]"),
    (lambda ws: al.allocate([], 0.5, "uniform"), ValueError, "weights"),
    (lambda ws: al.allocate("w", 0.5, "uniform"), TypeError, "weights"),
    (lambda ws: al.allocate([ws[0], np.full((2, 2), np.inf)], 0.5, "uniform"), ValueError, r"weights\[1\]"),
    (lambda ws: al.greedy_allocation([np.array([0.0, 2.0, 3.0])], 1), ValueError, "convex"),
    (lambda ws: al.greedy_allocation([np.array([0.0, 1.0])], 2), ValueError, "n_prune"),
    (lambda ws: al.band_factors([1.0, 2.0], 0.2, "middle"), ValueError, "prune_more"),
    (lambda ws: al.layer_metrics(ws, "rank"), ValueError, "metric"),
])
def test_validation_messages(call, exc, match):
    ws = [np.random.default_rng(0).standard_normal((3, 4)), np.random.default_rng(1).standard_normal((2, 3))]
    with pytest.raises(exc, match=match):
        call(ws)


# --------------------------------------------------------------------------- the comparison study


def _row(dataset, seed, acc, ft, dense):
    r = {"experiment": "allocation.compare", "status": "done", "dataset": dataset, "seed": seed,
         "sparsities": [0.8, 0.9], "rules": ["uniform", "global_magnitude"], "dense_acc": dense,
         "epsilon": 0.2, "law": "gennorm", "finetune_steps": 5}
    r.update({"acc_uniform": acc[0], "acc_global_magnitude": acc[1], "ft_uniform": ft[0], "ft_global_magnitude": ft[1]})
    return r


def test_allocation_table_mean_and_sample_sd():
    from simulations.pruning.allocation_study import allocation_table, format_allocation_table

    rows = [_row("mnist", 0, ([0.9, 0.8], [0.95, 0.9]), ([0.97, 0.96], [0.98, 0.97]), 0.98),
            _row("mnist", 1, ([0.7, 0.6], [0.93, 0.9]), ([0.95, 0.94], [0.98, 0.95]), 0.96),
            _row("fashion_mnist", 0, ([0.5, 0.4], [0.6, 0.5]), ([0.8, 0.7], [0.85, 0.8]), 0.88)]
    tab = allocation_table(rows)
    by = {(t["dataset"], t["rule"]): t for t in tab}
    u = by[("mnist", "uniform")]
    assert u["mean"] == pytest.approx([0.8, 0.7]) and u["sd"] == pytest.approx([math.sqrt(0.02)] * 2)
    assert u["n_seeds"] == 2 and by[("mnist", "dense")]["mean"] == pytest.approx([0.97])
    assert math.isnan(by[("fashion_mnist", "uniform")]["sd"][0])       # one seed: no sd
    assert [t["dataset"] for t in tab][:3] == ["mnist"] * 3            # MNIST first, dense first
    md = format_allocation_table(tab)
    assert "| MNIST | uniform (every layer at s) | 80.0 ± 14.1 | 70.0 ± 14.1 |" in md
    assert "| Fashion | global magnitude | 60.0 | 50.0 |" in md
    assert "| data | rule | 80 % | 90 % |" in md
    ft = allocation_table(rows, finetuned=True)
    assert {(t["dataset"], t["rule"]): t for t in ft}[("mnist", "global_magnitude")]["mean"] == pytest.approx([0.98, 0.96])
    with pytest.raises(ValueError, match="store_or_rows"):
        allocation_table([{"dataset": "mnist"}])
    with pytest.raises(TypeError, match="table"):
        format_allocation_table("x")


def test_quick_study_runs_resumes_and_allocates_exactly(tmp_path):
    pytest.importorskip("simulations.spectra", reason="simulations.spectra (ESD exponent) not present")
    from simulations.pruning.allocation_study import allocation_table, run_allocation
    from simulations.sweep import ResultsStore

    store = tmp_path / "alloc.sqlite"
    run_allocation(store, quick=True, datasets=["synthetic"])
    with ResultsStore(store, create=False) as st:
        rows = st.rows("allocation.compare")
    assert [r["status"] for r in rows] == ["done"]
    r = rows[0]
    n = np.array(r["layer_sizes"])
    for rule in al.RULES:
        assert len(r[f"acc_{rule}"]) == len(r["sparsities"]) == len(r[f"ft_{rule}"])
        for s, sl in zip(r["sparsities"], r[f"layer_sparsity_{rule}"]):
            assert int(round(float(np.dot(sl, n)))) == math.floor(s * n.sum() + 1e-9)
    run_allocation(store, quick=True, datasets=["synthetic"])   # resumes: nothing new to run
    with ResultsStore(store, create=False) as st:
        again = st.rows("allocation.compare")
    assert [x["run_id"] for x in again] == [r["run_id"]] and again[0]["wall_time"] == r["wall_time"]
    assert {t["rule"] for t in allocation_table(store)} == {"dense", *al.RULES}


def test_experiment_config_lists_the_rules_and_laws():
    from simulations.experiments import allocation as ex
    from simulations.sweep import make_config

    assert ex.RULES == al.RULES and ex.LAWS == al.LAWS
    assert make_config("allocation.compare", {}).rules == al.RULES
    with pytest.raises(ValueError, match="rules"):
        make_config("allocation.compare", {"rules": ["uniform", "bogus"]})
