"""The method comparison: what each run counts, checked by recomputing it another way.

Oracles: a dense network retrained here with :func:`simulations.nn.train` at the same seeds
(the comparison's dense phase must be exactly it), one-shot magnitude pruning from
:mod:`simulations.pruning.one_shot`, MACs counted by hand from the layer sizes, means and
sample standard deviations from numpy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulations._core.seeding import child
from simulations.experiments.pruning import CompareConfig
from simulations.pruning import comparison as cmp
from simulations.pruning import comparison_study as cs
from simulations.pruning.comparison import COMPARED

TINY = dict(dataset="synthetic", hidden=(12, 8), n_train=200, n_test=100, epochs=2, finetune_epochs=1,
            batch_size=40, sparsities=(0.5, 0.8, 0.9), nm_patterns=("2:4", "1:5", "1:10"), score_examples=64,
            rewind_step=2, update_every=3)
SIZES = (64, 12, 8, 10)
DENSE_MACS = 64 * 12 + 12 * 8 + 8 * 10 + 12 + 8 + 10            # one example, weights + biases
SPE = 200 // 40


def _run(method, seed=0, **kw):
    return cmp.compare_run(CompareConfig(method=method, **{**TINY, **kw}), seed)


def test_every_compared_method_has_a_family():
    assert set(cmp.FAMILIES) == set(COMPARED)
    assert set(cs.METHOD_LABELS) == set(COMPARED)
    with pytest.raises(ValueError, match="method"):
        cmp.family_of("obs")


def test_dense_run_counts_its_budget():
    out = _run("dense")
    m = out["metrics"]
    steps = (2 + 1) * SPE
    assert out["status"] == "done" and m["steps"] == [steps] and m["T"] == 2 * SPE and m["F"] == SPE
    assert m["macs"] == [3 * 40 * steps * DENSE_MACS] and m["relative_compute"] == [1.0]
    assert m["sparsity"] == [0.0] and m["compression"] == [1.0] and m["speedup"] == [1.0]


def test_magnitude_run_is_dense_training_then_one_shot_then_finetune():
    from simulations.nn import SGD, Mask, MLPSpec, StopRules, evaluate, init_params, train
    from simulations.nn.optim import Schedule
    from simulations.pruning.data import load_data
    from simulations.pruning.one_shot import prune

    out = _run("magnitude", seed=3)["metrics"]
    data = load_data("synthetic", 200, 100)
    spec = MLPSpec(SIZES, bias=True)
    T = 2 * SPE
    opt = SGD(lr=0.05, momentum=0.9, schedule=Schedule("step", (int(0.5 * T), int(0.75 * T)), 0.1, "step"))
    dense = train(spec, data, params=init_params(spec, child(3, "init")), optimizer=opt, batch_size=40,
                  stop=StopRules(max_steps=T), seed=child(3, "train"), threads=None).params
    n_w = 64 * 12 + 12 * 8 + 8 * 10
    for j, s in enumerate(TINY["sparsities"]):
        masks = prune([np.array(w) for w in dense.weights], "magnitude", ratio=s, scope="global").masks
        pruned = Mask.from_layers(spec, masks).apply(dense.copy())
        assert out["acc_oneshot"][j] == pytest.approx(float(evaluate(pruned, data.X_test, data.y_test)[1]), abs=0)
        kept = n_w - math.floor(s * n_w)
        assert out["sparsity"][j] == pytest.approx(1 - kept / n_w, abs=1e-12)
        assert out["compression"][j] == pytest.approx((n_w + 30) / (kept + 30), rel=1e-12)
        ft = train(spec, data, params=pruned, mask=Mask.from_layers(spec, masks),
                   optimizer=SGD(lr=0.01, momentum=0.9), batch_size=40, stop=StopRules(max_steps=SPE),
                   seed=child(3, "finetune"), threads=None)
        assert out["acc"][j] == float(evaluate(ft.params, data.X_test, data.y_test)[1])
        assert out["steps"][j] == T + SPE
        assert out["macs"][j] == 3 * 40 * T * DENSE_MACS + 3 * 40 * SPE * (kept + 30)


def test_imp_compute_accumulates_over_rounds():
    m = _run("imp_lr")["metrics"]
    T, k = 2 * SPE, 2
    n_w = 64 * 12 + 12 * 8 + 8 * 10
    macs, steps = 3 * 40 * T * DENSE_MACS, T
    for j, s in enumerate(TINY["sparsities"]):
        kept = n_w - math.floor(s * n_w + 1e-9)
        macs += 3 * 40 * (T - k) * (kept + 30)
        steps += T - k
        assert m["steps"][j] == steps and m["macs"][j] == macs and m["rounds"][j] == j + 1
        assert m["sparsity"][j] == pytest.approx(1 - kept / n_w, abs=1e-12)
    assert m["relative_steps"][-1] == pytest.approx(steps / (3 * SPE))


def test_table_means_and_sds_and_format():
    rows = []
    accs = {0: [0.9, 0.8], 1: [0.7, 0.6], 2: [0.8, 0.5]}
    for seed, a in accs.items():
        rows.append(dict(dataset="mnist", method="snip", hidden=[3], epochs=1, finetune_epochs=1, n_train=0,
                         target=[0.5, 0.9], acc=a, sparsity=[0.5, 0.9], compression=[2.0, 10.0],
                         speedup=[1.9, 9.0], relative_compute=[0.6, 0.5], relative_steps=[1.0, 1.0], seed=seed))
    rows.append(dict(rows[0], method="dense", target=[0.0], acc=[0.95], sparsity=[0.0], compression=[1.0],
                     speedup=[1.0], relative_compute=[1.0], relative_steps=[1.0]))
    tab = cs.comparison_table(rows)
    snip = next(r for r in tab if r["method"] == "snip")
    a = np.array(list(accs.values()))
    assert snip["acc"] == pytest.approx(a.mean(0).tolist()) and snip["acc_sd"] == pytest.approx(a.std(0, ddof=1).tolist())
    assert snip["n_seeds"] == 3 and tab[0]["method"] == "dense"
    text = cs.format_comparison_table(tab)
    assert "| 80.0 ± 10.0 | 63.3 ± 15.3 |" in text and "10.0× / 9.0×" in text and "0.50–0.60" in text
    with pytest.raises(ValueError, match="lacks"):
        cs.comparison_table([{"dataset": "mnist"}])


def test_quick_sweep_lists_every_method():
    (name, cfgs, seeds), = cs.comparison_sweeps(True, ["synthetic"])
    assert name == "pruning.compare" and seeds == [0] and {c["method"] for c in cfgs} == set(COMPARED)
    (_, cfgs, seeds), = cs.comparison_sweeps(False, ["mnist", "fashion_mnist"], ["rigl"])
    assert seeds == [0, 1, 2] and [c["dataset"] for c in cfgs] == ["mnist", "fashion_mnist"]
    with pytest.raises(ValueError, match="methods"):
        cs.comparison_sweeps(True, ["synthetic"], ["obs"])


N_W = 64 * 12 + 12 * 8 + 8 * 10                                   # weights of the tiny net (biases: 30)


@pytest.mark.parametrize("method", [m for m in COMPARED if m not in ("dense", "taylor", "nm")])
def test_every_unstructured_method_reaches_its_target(method):
    # AlphaPruning fits each layer's spectrum, which needs ≥ 10 eigenvalues: wider hidden layers for it
    hidden = (16, 12) if method == "alpha_pruning" else TINY["hidden"]
    sizes = (64,) + hidden + (10,)
    n_w = sum(a * b for a, b in zip(sizes, sizes[1:]))
    m = _run(method, hidden=hidden)["metrics"]
    for s, got in zip(TINY["sparsities"], m["sparsity"]):
        # global ranking: ⌊s·n⌋ removed in all; per-layer rules (GMP, top-k, allocations) round per
        # layer; ERK/ER densities round to whole weights per layer (at most one weight per layer off)
        assert abs(got - s) <= 3 / n_w, (method, s, got)
    assert all(a is not None and 0.0 <= a <= 1.0 for a in m["acc"])
    assert m["relative_steps"] == [pytest.approx(1.0)] * 3 if cmp.family_of(method) != "imp" else True


def test_structured_methods_reach_at_least_their_target():
    t = _run("taylor")["metrics"]
    assert all(got >= s for s, got in zip(TINY["sparsities"], t["sparsity"]))
    nm = _run("nm")["metrics"]
    # 2:4, 1:5, 1:10 on rows of 64, 12 and 8 inputs (a partial last group keeps ⌈N·r/M⌉ of its r)
    kept = [sum(o * (n_in // mm * n + math.ceil(n * (n_in % mm) / mm)) for o, n_in in ((12, 64), (8, 12), (10, 8)))
            for n, mm in ((2, 4), (1, 5), (1, 10))]
    assert nm["sparsity"] == pytest.approx([1 - k / N_W for k in kept], abs=1e-12)
    assert nm["pattern"] == list(TINY["nm_patterns"]) and nm["target"] == pytest.approx([0.5, 0.8, 0.9])


def test_snip_and_rigl_compute_by_hand():
    T, F = 2 * SPE, SPE
    m = _run("snip")["metrics"]
    for j, s in enumerate(TINY["sparsities"]):
        kept = N_W - math.floor(s * N_W)
        score = 64 * DENSE_MACS * 3                                # one forward + one backward of 64 examples
        assert m["macs"][j] == score + 3 * 40 * (T + F) * (kept + 30) and m["steps"][j] == T + F
    r = _run("rigl")["metrics"]
    kept = [N_W - round(s * N_W) for s in TINY["sparsities"]]
    # training at the fixed density plus B·(2 f_S + f_D) at each update ΔT, 2ΔT, … < T_end = ⌊0.75(T+F)⌋
    n_updates = len(range(3, int(0.75 * (T + F)), 3))
    for j, k in enumerate(kept):
        train = 3 * 40 * (T + F) * (k + 30)
        assert r["macs"][j] == train + n_updates * 40 * (2 * (k + 30) + DENSE_MACS) and r["steps"][j] == T + F


def test_imp_at_equal_steps_spends_the_budget_of_the_others():
    m = _run("imp_lr_budget")["metrics"]
    per_round = (3 * SPE) // (len(TINY["sparsities"]) + 1)           # T + F = 15 steps over 4 trainings
    assert m["steps"] == [per_round * (j + 2) for j in range(3)] and m["steps"][-1] <= 3 * SPE
    assert m["rounds"] == [1, 2, 3]
