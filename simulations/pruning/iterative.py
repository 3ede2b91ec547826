"""Iterative magnitude pruning (IMP) and its retraining variants, on :mod:`simulations.nn`.

One IMP run (Frankle & Carbin, ICLR 2019, "The lottery ticket hypothesis";
Frankle, Dziugaite, Roy & Carbin, ICML 2020, "Linear mode connectivity and the
lottery ticket hypothesis"; Renda, Frankle & Carbin, ICLR 2020, "Comparing
rewinding and fine-tuning in neural network pruning"):

1. θ₀ = initial parameters; train ``T`` steps from θ₀ → θ_T (round 0, dense),
   keeping θ_k (the weights after ``k`` updates) when ``rewind="iteration"``.
2. Each round r = 1..R: score the surviving weights of the pruned layers
   (criterion below), remove the lowest-scoring ones so that the cumulative
   sparsity reaches ``targets[r−1]`` (or a fraction ``prune_fraction`` of the
   *remaining* weights), then restart training from
     * ``"init"``       — θ₀ ⊙ m, the full budget ``T`` from step 0 (lottery ticket);
     * ``"iteration"``  — θ_k ⊙ m, ``T − k`` steps with the learning-rate schedule
       replayed from step k (weight rewinding / late resetting);
     * ``"lr"``         — θ_final ⊙ m (the last round's weights), ``T − k`` steps
       with the schedule replayed from step k (learning-rate rewinding);
     * ``"finetune"``   — θ_final ⊙ m, ``T − k`` steps at the constant rate
       ``finetune_lr`` (default: the schedule's rate at step T−1).
   With ``rewind_step=k=0`` the "lr" and "finetune" budgets are a full ``T``.
3. Controls (Frankle & Carbin §2; Zhou, Lan, Liu & Yosinski, NeurIPS 2019,
   "Deconstructing lottery tickets"): ``control="reinit"`` restarts from a
   fresh random initialisation ⊙ m (a new seed per round) instead of the rewound
   weights; ``control="reshuffle"`` permutes, within each layer, the restart
   values among that layer's kept positions.

Mask criteria (Zhou et al. 2019, §3), with w_f the weights at the end of the
round's training and w_i the weights at initialisation θ₀:
``"large_final"`` |w_f|; ``"magnitude_increase"`` |w_f| − |w_i|;
``"movement"`` |w_f − w_i|; ``"random"`` uniform scores. The lowest scores are
pruned; already pruned weights are never revived.

Scope: ``"global"`` ranks all pruned layers together (Frankle & Carbin's
conv nets, Renda et al.), ``"layer"`` prunes the same fraction per layer
(their LeNet). ``skip_layers`` stay dense. Biases are never pruned.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulations._core.seeding import child, generator, seed_sequence
from simulations._core.validation import check_array, check_bool, check_choice, check_int, check_positive, check_real
from simulations.pruning.masks import check_layers, check_mask_list, check_ratio

__all__ = ["IMPRound", "IMPResult", "imp", "CRITERIA", "REWINDS", "CONTROLS", "ROUNDS_MAX", "mask_scores",
           "prune_step"]

CRITERIA = ("large_final", "magnitude_increase", "movement", "random")
REWINDS = ("init", "iteration", "lr", "finetune")
CONTROLS = (None, "reinit", "reshuffle")
#: largest number of pruning rounds of :func:`imp` (``rounds``, or the length of ``targets``): each
#: round is a full training run, and 100 rounds at the default prune_fraction 0.2 already reach
#: sparsity 1 − 0.8^100 ≈ 1 − 2·10^-10
ROUNDS_MAX = 100


@dataclass
class IMPRound:
    """One IMP round: sparsity reached, accuracies, the restart parameters and the trained ones."""

    round: int
    sparsity: float  # fraction of pruned weights over all layers (skipped layers included)
    remaining: int
    total: int
    acc_pruned: float | None  # test accuracy right after pruning, before retraining (None in round 0)
    test_acc: float  # after (re)training
    train_acc: float
    status: str
    steps: int  # training steps of this round
    start_params: Any = None  # Params the round's training started from (after masking)
    params: Any = None  # Params at the end of the round
    masks: list = field(default_factory=list)  # bool weight masks (out, in) per layer


@dataclass
class IMPResult:
    """All rounds of an IMP run plus the rewind points (θ₀ and θ_k)."""

    rounds: list[IMPRound]
    init: Any  # θ₀
    rewind_point: Any  # θ_k (None unless rewind="iteration")
    config: dict

    def table(self) -> list[dict]:
        return [
            {k: getattr(r, k) for k in ("round", "sparsity", "remaining", "total", "acc_pruned", "test_acc",
                                        "train_acc", "status", "steps")}
            for r in self.rounds
        ]


def _array_list(name: str, arrays: Any) -> list:
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name} must be a list of arrays (one per layer), got {type(arrays).__name__}")
    if len(arrays) == 0:
        raise ValueError(f"{name} must hold at least one array, got an empty list")
    return list(arrays)


def mask_scores(final: Sequence[np.ndarray], initial: Sequence[np.ndarray], criterion: str, seed: Any = None
                ) -> list[np.ndarray]:
    """Per-layer scores (float64) of Zhou et al.'s mask criteria; larger = kept (``seed``: "random" only).

    ``final`` and ``initial`` are lists of the same length of finite real arrays, ``final[i]`` and
    ``initial[i]`` of the same shape; ``criterion`` is one of :data:`CRITERIA`.
    """
    check_choice("criterion", criterion, CRITERIA)
    final = _array_list("final", final)
    initial = _array_list("initial", initial)
    if len(final) != len(initial):
        raise ValueError(f"initial must hold as many layers as final ({len(final)}), got {len(initial)}")
    pairs = []
    for i, (wf, wi) in enumerate(zip(final, initial)):
        wf = check_array(f"final[{i}]", wf).astype(np.float64, copy=False)
        wi = check_array(f"initial[{i}]", wi).astype(np.float64, copy=False)
        if wf.shape != wi.shape:
            raise ValueError(f"initial[{i}] must have the shape of final[{i}] {wf.shape}, got {wi.shape}")
        pairs.append((wf, wi))
    rng = generator(seed)
    out = []
    for wf, wi in pairs:
        if criterion == "large_final":
            s = np.abs(wf)
        elif criterion == "magnitude_increase":
            s = np.abs(wf) - np.abs(wi)
        elif criterion == "movement":
            s = np.abs(wf - wi)
        else:
            s = rng.random(wf.shape)
        out.append(s)
    return out


def prune_step(scores: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_remove: Sequence[int] | int,
               scope: str, layers: Sequence[int]) -> list[np.ndarray]:
    """Remove the ``n_remove`` lowest-scoring *surviving* entries (per layer, or pooled when global).

    ``scores`` and ``masks``: lists of the same length L, ``scores[i]`` a finite real array of
    the shape of ``masks[i]`` (boolean or 0/1, True = kept). ``layers``: distinct layer indices
    in [−L, L−1] (the layers that are pruned). ``scope``: ``"layer"`` or ``"global"``.
    ``n_remove``: one count per entry of ``layers`` (``scope="layer"``), each in [0, surviving
    entries of that layer], or one total in [0, surviving entries of ``layers``] (``"global"``).
    Ties are broken by position (stable sort). Returns new masks.
    """
    check_choice("scope", scope, ("global", "layer"))
    scores = _array_list("scores", scores)
    masks = check_mask_list(masks)
    L = len(masks)
    if len(scores) != L:
        raise ValueError(f"scores must hold one array per mask ({L}), got {len(scores)}")
    if isinstance(layers, (str, bytes)) or np.ndim(layers) != 1:
        raise TypeError(f"layers must be a list of layer indices, got {layers!r}")
    layers = [check_int("layers", v, -L, L - 1) % L for v in layers]
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers must hold distinct layer indices, got {layers}")
    sc = {}
    for li in layers:
        a = check_array(f"scores[{li}]", scores[li])
        if a.shape != masks[li].shape:
            raise ValueError(f"scores[{li}] must have the shape of masks[{li}] {masks[li].shape}, got {a.shape}")
        sc[li] = a
    alive = {li: int(np.count_nonzero(masks[li])) for li in layers}
    if scope == "layer":
        if isinstance(n_remove, (str, bytes)) or np.ndim(n_remove) != 1 or len(n_remove) != len(layers):
            raise ValueError(f"n_remove must hold one count per entry of layers ({len(layers)}) with "
                             f"scope='layer', got {n_remove!r}")
        n_remove = [check_int(f"n_remove[{j}]", n, 0, alive[li]) for j, (li, n) in enumerate(zip(layers, n_remove))]
    else:
        n_remove = check_int("n_remove", n_remove, 0, sum(alive.values()))
    scores = sc
    new = [m.copy() for m in masks]
    if scope == "layer":
        for li, n in zip(layers, n_remove):
            s = np.where(new[li], scores[li], np.inf).ravel()
            order = np.argsort(s, kind="stable")[: int(n)]
            new[li].ravel()[order] = False
    else:
        s = np.concatenate([np.where(new[li], scores[li], np.inf).ravel() for li in layers])
        order = np.argsort(s, kind="stable")[: int(n_remove)]
        flat = np.concatenate([new[li].ravel() for li in layers])
        flat[order] = False
        off = 0
        for li in layers:
            n = new[li].size
            new[li] = flat[off : off + n].reshape(new[li].shape).copy()
            off += n
    return new


def _targets(targets, prune_fraction, rounds):
    if targets is not None:
        if len(targets) > ROUNDS_MAX:
            raise ValueError(f"targets must hold at most ROUNDS_MAX = {ROUNDS_MAX} sparsities (one per round), "
                             f"got {len(targets)}")
        ts = [check_ratio(t, "targets") for t in targets]
        if not ts or any(b <= a for a, b in zip(ts, ts[1:])) or ts[0] <= 0:
            raise ValueError(f"targets must be increasing sparsities in (0, 1), got {list(targets)}")
        return ts
    p = check_real("prune_fraction", prune_fraction, 0.0, 1.0, low_open=True, high_open=True)
    r = check_int("rounds", rounds, 1, ROUNDS_MAX)
    return [1.0 - (1.0 - p) ** (i + 1) for i in range(r)]


def imp(
    spec,
    data,
    *,
    steps: int,
    optimizer=None,
    batch_size: int = 64,
    targets: Sequence[float] | None = None,
    prune_fraction: float = 0.2,
    rounds: int = 3,
    rewind: str = "iteration",
    rewind_step: int = 0,
    finetune_lr: float | None = None,
    criterion: str = "large_final",
    scope: str = "global",
    skip_layers=None,
    control: str | None = None,
    params=None,
    seed: Any = 0,
    eval_every: int | None = None,
    keep_params: bool = True,
    backend: str = "cpu",
    threads: int | None = None,
    noise=None,
    train_seed: int | None = None,
) -> IMPResult:
    """Iterative magnitude pruning with rewinding / fine-tuning (see the module docstring).

    Parameters
    ----------
    spec, data : an :class:`simulations.nn.MLPSpec` or :class:`simulations.nn.ModelSpec` (its weight
        tensors, conv kernels included, are the layers) and a data set for :func:`simulations.nn.train`:
        a :class:`simulations.nn.Dataset` or a tuple ``(X_train, y_train, X_test, y_test)``, with a
        non-empty test split (accuracies are test accuracies; a pair ``(X_train, y_train)`` is a
        ``ValueError``).
    steps : T, the training budget (SGD steps) of the dense round; later rounds train
        ``T`` (``rewind="init"``) or ``T − rewind_step`` steps.
    targets : cumulative weight sparsities after each round (over the pruned layers), e.g.
        ``(0.8, 0.9, 0.95, 0.98)``; otherwise ``rounds`` rounds each removing ``prune_fraction``
        of the remaining weights. At most ROUNDS_MAX = 100 rounds either way.
    rewind : one of :data:`REWINDS`; ``rewind_step`` = k for "iteration", "lr" and "finetune".
    criterion : one of :data:`CRITERIA` (Zhou et al. 2019).
    control : None, "reinit" or "reshuffle".
    seed : int / SeedSequence / Generator, split by :func:`simulations._core.seeding.child` into
        named children: ``"init"`` (θ₀), ``"train"`` (the rounds' training), ``("scores", r)``
        (``criterion="random"``), ``("reinit", r)`` and ``("reshuffle", r)`` (the controls).
    params : θ₀ (default: ``init_params(spec, child(seed, "init"))``).
    keep_params : store each round's start and final parameters (needed for the exactness tests;
        turn off to save memory).
    train_seed : seed of every round's :func:`simulations.nn.train` call (data order, noise); by
        default ``child(seed, "train")``. Every round uses the same one, so the dense round's θ_k is
        exactly ``train(spec, data, params=θ₀, seed=train_seed, ...).snapshots[k]``.
    """
    from simulations.nn import SGD, Dataset, Mask, Params, StopRules, evaluate, init_params, train
    from simulations.nn.model import check_spec
    from simulations.nn.optim import Schedule

    check_spec(spec)
    if isinstance(data, Dataset):
        parts = (data.X_train, data.y_train, data.X_test, data.y_test)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 4):
        if len(data) == 2:
            raise ValueError("data must include a test split, (X_train, y_train, X_test, y_test) or a Dataset: "
                             "IMP reports test accuracies")
        parts = tuple(data)
    else:
        raise TypeError(f"data must be a Dataset or a tuple (X_train, y_train, X_test, y_test), "
                        f"got {type(data).__name__}")
    if parts[2] is None or parts[3] is None or np.shape(parts[2])[:1] == (0,):
        raise ValueError("data must include a non-empty test split (X_test, y_test): IMP reports test accuracies")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be a Params or None, got {type(params).__name__}")
    keep_params = check_bool("keep_params", keep_params)
    if finetune_lr is not None:
        finetune_lr = check_positive("finetune_lr", finetune_lr)
    if targets is not None and (isinstance(targets, (str, bytes)) or np.ndim(targets) != 1):
        raise TypeError(f"targets must be a sequence of sparsities in (0, 1) or None, got {targets!r}")
    T = check_int("steps", steps, 1)
    check_choice("rewind", rewind, REWINDS)
    check_choice("criterion", criterion, CRITERIA)
    check_choice("scope", scope, ("global", "layer"))
    check_choice("control", control, CONTROLS)
    k = check_int("rewind_step", rewind_step, 0, T - 1)
    if rewind == "init" and k != 0:
        raise ValueError(f"rewind_step must be 0 with rewind='init' (use rewind='iteration'), got {k}")
    ts = _targets(targets, prune_fraction, rounds)
    optimizer = optimizer if optimizer is not None else SGD(lr=0.1)
    ss = seed_sequence(seed)  # once: a Generator seed is consumed here, not by every child below
    L = spec.n_layers
    layers = [i for i in range(L) if i not in set(check_layers("skip_layers", skip_layers, L))]
    if not layers:
        raise ValueError("skip_layers must leave at least one layer to prune")
    n_pruned_total = sum(math.prod(spec.weight_shapes[i]) for i in layers)
    n_all = sum(math.prod(s) for s in spec.weight_shapes)
    round_seed = child(ss, "train") if train_seed is None else check_int("train_seed", train_seed, 0)

    theta0 = params.copy() if params is not None else init_params(spec, child(ss, "init"))
    X_test, y_test = parts[2], parts[3]
    data = parts  # train() validates the arrays

    def run(start, mask, budget, start_step, opt):
        out = train(spec, data, params=start, mask=mask, optimizer=opt, batch_size=batch_size,
                     stop=StopRules(max_steps=budget), seed=round_seed, start_step=start_step,
                     snapshot_at=(k,) if (rewind == "iteration" and start_step == 0 and k > 0) else (),
                     eval_every=eval_every, backend=backend, threads=threads, noise=noise)
        out.round_steps = out.steps - start_step  # TrainResult.steps is the global step reached
        return out

    def acc_of(p):
        return float(evaluate(p, X_test, y_test, backend=backend, threads=threads)[1])

    def counts(masks):
        rem = sum(int(m.sum()) for m in masks)
        return rem, 1.0 - rem / n_all

    # ---- round 0: dense
    masks = [np.ones(s, dtype=bool) for s in spec.weight_shapes]
    res = run(theta0, None, T, 0, optimizer)
    theta_k = None
    if rewind == "iteration":
        theta_k = theta0.copy() if k == 0 else res.snapshots[k].copy()
    rem, sp = counts(masks)
    rounds_out = [IMPRound(0, sp, rem, n_all, None, acc_of(res.params), float(res.final.get("train_acc", float("nan"))),
                           res.status, res.round_steps, theta0.copy() if keep_params else None,
                           res.params.copy() if keep_params else None, [m.copy() for m in masks])]
    final = res.params
    if finetune_lr is None:  # X_train and batch_size were validated by the dense round's train()
        finetune_lr = float(optimizer.lrs(T - 1, 1, max(1, int(np.shape(parts[0])[0]) // batch_size))[0])
    ft_opt = SGD(lr=finetune_lr, momentum=optimizer.momentum, weight_decay=optimizer.weight_decay, schedule=Schedule())

    for r, target in enumerate(ts, start=1):
        scores = mask_scores([final.weights[i] for i in range(L)], [theta0.weights[i] for i in range(L)],
                             criterion, seed=child(ss, "scores", r))
        alive = sum(int(masks[i].sum()) for i in layers)
        want_alive = n_pruned_total - int(math.floor(target * n_pruned_total + 1e-9))
        if scope == "global":
            n_remove = max(0, alive - want_alive)
        else:
            n_remove = []
            for i in layers:
                n = masks[i].size
                n_remove.append(max(0, int(masks[i].sum()) - (n - int(math.floor(target * n + 1e-9)))))
        masks = prune_step(scores, masks, n_remove, scope, layers)
        mask = Mask.from_layers(spec, masks)
        pruned_now = mask.apply(final.copy())
        acc_pruned = acc_of(pruned_now)

        if control == "reinit":
            start = init_params(spec, child(ss, "reinit", r))
        elif rewind == "init":
            start = theta0.copy()
        elif rewind == "iteration":
            start = theta_k.copy()
        else:
            start = final.copy()
        if control == "reshuffle":
            g = generator(ss, "reshuffle", r)
            for i in layers:
                w = start.weights[i]
                idx = np.flatnonzero(masks[i].ravel())
                w.ravel()[idx] = w.ravel()[idx][g.permutation(idx.size)]
        mask.apply(start)
        if rewind == "init":
            res = run(start, mask, T, 0, optimizer)
        elif rewind in ("iteration", "lr"):
            res = run(start, mask, T - k, k, optimizer)
        else:
            res = run(start, mask, T - k, 0, ft_opt)
        final = res.params
        rem, sp = counts(masks)
        rounds_out.append(IMPRound(r, sp, rem, n_all, acc_pruned, acc_of(final),
                                   float(res.final.get("train_acc", float("nan"))), res.status, res.round_steps,
                                   start.copy() if keep_params else None, final.copy() if keep_params else None,
                                   [m.copy() for m in masks]))
    cfg = dict(steps=T, batch_size=batch_size, targets=ts, rewind=rewind, rewind_step=k, finetune_lr=finetune_lr,
               criterion=criterion, scope=scope, skip_layers=sorted(set(range(L)) - set(layers)), control=control,
               optimizer=optimizer.to_dict())
    return IMPResult(rounds_out, theta0, theta_k, cfg)
