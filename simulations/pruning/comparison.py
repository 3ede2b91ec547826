"""Every pruning method against the others at equal settings: the runs of ``pruning.compare``.

One run trains and prunes one network (LeNet-300-100 by default: 784-300-100-10, ReLU, biases,
PyTorch's default initialisation) on MNIST or Fashion-MNIST with one method, at every target
weight sparsity of ``config.sparsities``, and records for each resulting network the test
accuracy, the weight sparsity reached, the compression ratio and the theoretical FLOPs speed-up
(ShrinkBench's definitions, :mod:`simulations.pruning.metrics`; biases counted dense), and the
compute spent to produce it — training steps and MACs (:mod:`simulations.pruning.algorithms.compute`:
a step on B examples costs 3·B·f(m), f(m) the forward MACs of the masked network).

The same data, augmentation (none), optimiser (SGD, momentum 0.9, batch 128), step-size
schedule (× 0.1 at 50 % and 75 % of a training's steps) and budget unit serve every method.
With T = ``epochs`` and F = ``finetune_epochs`` epochs of steps, the methods fall in four
families, each given T + F steps of training per network except IMP:

* ``dense`` — the reference: T + F steps, no pruning.
* after training (``magnitude`` (global), ``alpha_pruning`` and ``tail_index`` (the layer-wise
  allocations of :mod:`simulations.pruning.allocation`, then magnitude within each layer), ``obd``,
  ``woodfisher``, ``taylor`` (neurons), ``nm`` (N:M masks)): T dense steps, one-shot pruning by the method's score (its scoring passes
  counted), then F steps of fine-tuning at the constant step ``finetune_lr`` with the mask fixed.
  The accuracy right after pruning is kept too (``acc_oneshot``).
* at initialization (``snip``, ``grasp``, ``synflow``): prune θ₀, then T + F steps with the mask
  fixed.
* during training (``gmp``, ``set``, ``rigl``, ``supermask``): T + F steps with the mask changed
  by the method (RigL's dense gradients counted). ``set_sparse_init`` and ``rigl_sparse_init``
  are SET and RigL from θ₀ rescaled unit by unit to its fan-in under the initial mask
  (Evci et al. 2022's sparsity-aware initialisation, :mod:`.algorithms.sparse_init`).
* iterative (``imp_weight``, ``imp_lr``, ``imp_finetune``: IMP with weight rewinding to step k,
  learning-rate rewinding and fine-tuning, :func:`simulations.pruning.imp`): one round of T steps
  (T − k after the first) per sparsity, so the network at the j-th sparsity cost j + 1 trainings;
  the compute column says so. ``imp_lr_budget`` is learning-rate rewinding held to the budget of
  the others: T + F steps split evenly over the R + 1 trainings (rounds of ⌊(T + F)/(R + 1)⌋ steps,
  the whole schedule replayed each round).

Unstructured methods prune every layer with one global ranking, except GMP (the same sparsity
in every layer, Zhu & Gupta) and SET / RigL (Erdős–Rényi-kernel layer densities, Evci et al.),
each as its paper does. Seeding: the run's seed is split into named children (``"init"`` θ₀,
``"train"`` data order, ``"finetune"``, ``"score"`` the scoring examples, ``"method"`` the
method's own randomness); θ₀ is the same for every method at a seed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.seeding import child, generator
from simulations.pruning.algorithms.compute import Compute

__all__ = ["FAMILIES", "COMPARED", "CONV_METHODS", "compare_run", "family_of", "Setup", "setup_run", "after_points", "points_metrics"]

#: method → family (see the module docstring)
FAMILIES = {
    "dense": "dense",
    "magnitude": "after", "alpha_pruning": "after", "tail_index": "after", "obd": "after", "woodfisher": "after",
    "taylor": "after", "nm": "after",
    "snip": "init", "grasp": "init", "synflow": "init",
    "gmp": "during", "set": "during", "rigl": "during", "set_sparse_init": "during", "rigl_sparse_init": "during",
    "supermask": "during",
    "imp_weight": "imp", "imp_lr": "imp", "imp_finetune": "imp", "imp_lr_budget": "imp",
}
#: the methods compared, in table order
COMPARED = tuple(FAMILIES)
#: the methods that also run on a convolutional network (``config.model``, a network of
#: :mod:`simulations.nn.models`); the others score or train through the MLP-only reference autodiff, except
#: AlphaPruning, whose power-law fit of a layer's ESD needs ≥ 10 eigenvalues (LeNet-5's first convolution,
#: a 6 × 25 matrix, has 6)
CONV_METHODS = ("dense", "magnitude", "tail_index", "snip", "gmp", "set", "rigl", "set_sparse_init",
                "rigl_sparse_init", "imp_weight", "imp_lr", "imp_finetune", "imp_lr_budget")


def family_of(method: str) -> str:
    """The family of ``method`` (a name of :data:`FAMILIES`)."""
    from simulations._core.validation import check_choice

    return FAMILIES[check_choice("method", method, tuple(FAMILIES))]


@dataclass
class Setup:
    config: Any
    seed: Any
    data: Any
    spec: Any
    theta0: Any
    spe: int  # steps per epoch
    T: int
    F: int

    @property
    def shapes(self):
        return self.spec.weight_shapes

    @property
    def positions(self):
        """Per weight tensor, the positions one example applies it at (None for an MLP; see ``layer_positions``)."""
        from simulations.pruning.algorithms.compute import layer_positions

        return layer_positions(self.spec)

    @property
    def bias(self) -> bool:
        """Whether the weight layers have biases (counted dense in the MACs)."""
        from simulations.pruning.algorithms.compute import has_bias

        return has_bias(self.spec)

    def global_magnitude(self, params, target: float) -> list[np.ndarray]:
        """The masks of one-shot global magnitude pruning of ``params`` to weight sparsity ``target``."""
        if self.positions is not None:  # convolution kernels: the same global ranking over tensors of any rank
            from simulations.pruning.algorithms.base import Magnitude

            return Magnitude().prune(params, target, scope="global")
        from simulations.pruning.one_shot import prune

        return prune([np.array(w) for w in params.weights], "magnitude", ratio=target, scope="global").masks

    def macs_train(self, c: Compute, masks, steps: int) -> None:
        """Count ``steps`` training steps at batch ``config.batch_size`` with ``masks`` (None: dense) into ``c``."""
        c.train(self.shapes, masks, self.config.batch_size, steps, self.bias, positions=self.positions)

    def optimizer(self, steps: int):
        from simulations.nn import SGD
        from simulations.nn.optim import Schedule

        c = self.config
        ms = tuple(sorted({int(f * steps) for f in c.lr_milestones}))
        return SGD(lr=c.lr, momentum=c.momentum, schedule=Schedule("step", ms, 0.1, "step"))

    def train(self, params, mask, steps: int, optimizer=None, seed_name: str = "train", noise=None, resume=None):
        """``steps`` SGD steps (the whole budget of the run, counted from its start when resuming)."""
        from simulations.nn import StopRules, train

        return train(self.spec, self.data, params=None if resume is not None else params, mask=mask,
                     optimizer=optimizer if optimizer is not None else self.optimizer(steps),
                     batch_size=self.config.batch_size, stop=StopRules(max_steps=steps),
                     seed=child(self.seed, seed_name), threads=None, noise=noise, resume=resume)

    def score_batch(self):
        n = len(self.data.y_train)
        idx = generator(self.seed, "score").permutation(n)[: min(self.config.score_examples, n)]
        return self.data.X_train[idx], self.data.y_train[idx]

    def mask_of(self, masks):
        from simulations.nn import Mask

        return Mask.from_layers(self.spec, [np.asarray(m, dtype=bool) for m in masks])

    def point(self, params, masks, compute: Compute, status: str, **extra) -> dict:
        from simulations.nn import evaluate
        from simulations.pruning.metrics import compression_ratio, flops_speedup

        ws = [np.array(w) for w in params.weights]
        bs = [None if b is None else np.array(b) for b in params.biases] if self.bias else None
        ms = [np.asarray(m, dtype=bool) for m in masks]
        kept = sum(int(m.sum()) for m in ms)
        total = sum(m.size for m in ms)
        ok = status != "diverged" and params.is_finite()
        acc = float(evaluate(params, self.data.X_test, self.data.y_test)[1]) if ok else None
        if self.positions is None:
            compression, speedup = float(compression_ratio(ws, ms, bs)), float(flops_speedup(ws, ms, bs))
        else:  # ShrinkBench's counts with convolutions: MACs scale with the output positions; biases dense
            from simulations.pruning.algorithms.compute import forward_macs

            nb = sum(b.size for b in bs if b is not None)
            compression = (total + nb) / (kept + nb)
            speedup = forward_macs(self.shapes, None, self.bias, self.positions) / \
                forward_macs(self.shapes, ms, self.bias, self.positions)
        return dict(sparsity=1.0 - kept / total, acc=acc, compression=float(compression),
                    speedup=float(speedup), steps=int(compute.steps), macs=float(compute.macs),
                    status=status, **extra)


def setup_run(config, seed) -> Setup:
    from simulations.nn import MLPSpec, get_model, init_params
    from simulations.pruning.data import load_data

    model = getattr(config, "model", "")
    data = load_data(config.dataset, config.n_train, config.n_test)
    if model:
        if data.dim != 784:
            raise ValueError(f"model {model!r} takes 1×28×28 images; data set {config.dataset!r} has {data.dim} "
                             "features per example")
        spec = get_model(model, input_shape=(1, 28, 28), n_classes=data.n_classes)
    else:
        spec = MLPSpec((data.dim,) + tuple(config.hidden) + (data.n_classes,), bias=config.bias)
    spe = len(data.y_train) // config.batch_size
    if spe < 1:
        raise ValueError(f"batch_size must be at most the number of training examples ({len(data.y_train)}), "
                         f"got {config.batch_size}")
    T, F = config.epochs * spe, config.finetune_epochs * spe
    if config.rewind_step >= T:
        raise ValueError(f"rewind_step must be < the steps of a training ({T}), got {config.rewind_step}")
    return Setup(config, seed, data, spec, init_params(spec, child(seed, "init")), spe, T, F)


# --------------------------------------------------------------------------- families


def _dense(s: Setup) -> list[dict]:
    c = Compute()
    res = s.train(s.theta0, None, s.T + s.F)
    s.macs_train(c, None, s.T + s.F)
    return [s.point(res.params, [np.ones(sh, bool) for sh in s.shapes], c, res.status, target=0.0)]


def _after_masks(s: Setup, params, target, c: Compute):
    """Masks (and possibly updated parameters) of a post-training method at one target."""
    m = s.config.method
    X, y = s.score_batch()
    if m == "magnitude":
        return params, s.global_magnitude(params, target), None
    if m in ("alpha_pruning", "tail_index"):  # layer-wise allocation, then magnitude within each layer
        from simulations.pruning.allocation import prune_allocated

        # a convolution's kernel (O, C, kh, kw) enters as the (O, C·kh·kw) matrix of its units' weights
        flat = [np.array(w).reshape(w.shape[0], -1) for w in params.weights]
        masks = prune_allocated(flat, target, m).masks
        return params, [mk.reshape(sh) for mk, sh in zip(masks, s.shapes)], None
    from simulations.pruning.algorithms import second_order, structured

    if m == "obd":  # the methods count their own scoring passes (and WoodFisher its block inverses)
        return params, second_order.OBD(compute=c).prune(params, target, data=(X, y)), None
    if m == "woodfisher":
        new, masks = second_order.woodfisher_prune(params, X, y, target, compute=c)
        return new, masks, None
    if m == "taylor":
        c.passes(s.shapes, None, len(y), forward=1, backward=1)
        scores = structured.taylor_neuron_scores(params, X, y)
        mask = structured.prune_neurons(params, scores, target)
        return params, [np.asarray(w, dtype=bool) for w in mask.weights], mask
    if m == "nm":
        n, mm = (int(v) for v in target.split(":"))
        return params, structured.nm_masks([np.asarray(w) for w in params.weights], n=n, m=mm), None
    raise AssertionError(m)  # pragma: no cover - FAMILIES and this dispatch are kept in step by a test


def after_points(s: Setup, dense, dense_steps: int, masks_of, targets, finetune: bool = True) -> list[dict]:
    """Points of a method that prunes a trained network: for each target, ``masks_of(params, target,
    compute) -> (params, masks, Mask | None)``, the accuracy right after pruning, then (``finetune``)
    F steps at the constant rate ``finetune_lr`` with the mask fixed. ``dense``: the
    :class:`simulations.nn.TrainResult` of the ``dense_steps`` training steps it starts from."""
    cfg = s.config
    base = Compute()
    s.macs_train(base, None, dense_steps)
    ft_opt = _constant(cfg.finetune_lr, cfg.momentum)
    out = []
    for target in targets:
        c = Compute().merged(base)
        params, masks, mask = masks_of(dense.params, target, c)
        mask = mask if mask is not None else s.mask_of(masks)
        pruned = mask.apply(params.copy())
        one_shot = s.point(pruned, masks, c, dense.status)["acc"]
        if finetune and s.F:
            res = s.train(pruned, mask, s.F, optimizer=ft_opt, seed_name="finetune")
            s.macs_train(c, masks, s.F)
            final, status = res.params, res.status
        else:
            final, status = pruned, dense.status
        out.append(s.point(final, masks, c, status, target=target if isinstance(target, float) else
                           _nm_sparsity(target), acc_oneshot=one_shot, pattern=None if isinstance(target, float)
                           else target))
    return out


def _after(s: Setup) -> list[dict]:
    cfg = s.config
    targets = list(cfg.nm_patterns) if cfg.method == "nm" else list(cfg.sparsities)
    return after_points(s, s.train(s.theta0, None, s.T), s.T, lambda p, t, c: _after_masks(s, p, t, c), targets)


def _nm_sparsity(pattern: str) -> float:
    n, m = (int(v) for v in pattern.split(":"))
    return 1.0 - n / m


def _constant(lr: float, momentum: float):
    from simulations.nn import SGD

    return SGD(lr=lr, momentum=momentum)


def _init(s: Setup) -> list[dict]:
    from simulations.pruning.algorithms import at_init

    cfg = s.config
    out = []
    for target in cfg.sparsities:
        c = Compute()
        if cfg.method == "synflow":
            masks = at_init.synflow_prune(s.theta0, target, compute=c)
        else:
            X, y = s.score_batch()
            pruner = (at_init.SNIP if cfg.method == "snip" else at_init.GraSP)(compute=c)
            masks = pruner.prune(s.theta0, target, data=(X, y))
        mask = s.mask_of(masks)
        res = s.train(mask.apply(s.theta0.copy()), mask, s.T + s.F)
        s.macs_train(c, masks, s.T + s.F)
        out.append(s.point(res.params, masks, c, res.status, target=target))
    return out


def _during(s: Setup) -> list[dict]:
    from simulations.pruning.algorithms import dynamic, gradual, supermask

    cfg = s.config
    steps = s.T + s.F
    common = dict(steps=steps, batch_size=cfg.batch_size, seed=child(s.seed, "method"), params=s.theta0)
    out = []
    for target in cfg.sparsities:
        if cfg.method == "gmp":
            # Zhu & Gupta: prune from ~5 % of training to the end of the first learning-rate drop
            # (here: from 10 % of the steps to the first milestone), every update_every steps
            end = int(min(cfg.lr_milestones) * steps)
            r = gradual.gmp(s.spec, s.data, final_sparsity=target, start_step=int(0.1 * steps), end_step=end,
                            frequency=cfg.update_every, optimizer=s.optimizer(steps), **common)
        elif cfg.method in ("set", "rigl", "set_sparse_init", "rigl_sparse_init"):
            fn = dynamic.set_train if cfg.method.startswith("set") else dynamic.rigl_train
            r = fn(s.spec, s.data, sparsity=target, update_every=cfg.update_every, optimizer=s.optimizer(steps),
                   sparse_init=cfg.method.endswith("_sparse_init"), **common)
        else:
            # edge-popup (Ramanujan et al. 2020) over the signed Kaiming constant sign(θ₀)·√(2/fan_in), their
            # optimiser (SGD, step 0.1, momentum 0.9) on the scores; per-layer top-k, biases frozen at θ₀
            from simulations.nn import Params

            kn = s.spec.with_(init="kaiming_normal")
            r = supermask.supermask_train(kn, s.data, sparsity=target, steps=steps, batch_size=cfg.batch_size,
                                          lr=0.1, momentum=0.9, weight_init="signed_constant", sampling="topk",
                                          seed=child(s.seed, "method"), params=Params(kn, s.theta0.flat.copy()),
                                          compute=Compute())
        out.append(s.point(r.params, r.masks, r.compute, getattr(r, "status", "completed"), target=target))
    return out


def _imp(s: Setup) -> list[dict]:
    from simulations.pruning.iterative import imp

    cfg = s.config
    rewind = {"imp_weight": "iteration", "imp_lr": "lr", "imp_finetune": "finetune", "imp_lr_budget": "lr"}[cfg.method]
    if cfg.method == "imp_lr_budget":  # the T + F steps of every other method, split over the R + 1 trainings
        steps, k = (s.T + s.F) // (len(cfg.sparsities) + 1), 0
    else:
        steps, k = s.T, cfg.rewind_step
    res = imp(s.spec, s.data, steps=steps, optimizer=s.optimizer(steps), batch_size=cfg.batch_size,
              targets=tuple(cfg.sparsities), rewind=rewind, rewind_step=k,
              finetune_lr=cfg.finetune_lr, criterion="large_final", scope="global", params=s.theta0,
              seed=child(s.seed, "method"), keep_params=True)
    c = Compute()
    out = []
    for r in res.rounds:
        s.macs_train(c, r.masks, r.steps)
        if r.round == 0:
            continue
        out.append(s.point(r.params, r.masks, Compute().merged(c), r.status, target=cfg.sparsities[r.round - 1],
                           acc_oneshot=r.acc_pruned, rounds=r.round))
    return out


_FAMILY_RUN = {"dense": _dense, "after": _after, "init": _init, "during": _during, "imp": _imp}

#: per-point fields stored as lists aligned with the points
POINT_FIELDS = ("target", "sparsity", "acc", "compression", "speedup", "steps", "macs", "status")


def points_metrics(s: Setup, points: list[dict], family: str) -> dict:
    """The stored metrics of a run's points (lists aligned with the points) and its budget."""
    dense_macs = Compute()
    s.macs_train(dense_macs, None, s.T + s.F)
    metrics: dict[str, Any] = {k: [p.get(k) for p in points] for k in POINT_FIELDS}
    for k in ("acc_oneshot", "pattern", "rounds"):
        if any(k in p for p in points):
            metrics[k] = [p.get(k) for p in points]
    metrics.update(family=family, steps_per_epoch=s.spe, T=s.T, F=s.F, dense_budget_macs=dense_macs.macs,
                   relative_compute=[p["macs"] / dense_macs.macs for p in points],
                   relative_steps=[p["steps"] / (s.T + s.F) for p in points], n_params=int(s.spec.n_params))
    return metrics


def compare_run(config, seed) -> dict:
    """Body of ``pruning.compare``: the points of one method (see the module docstring)."""
    if getattr(config, "model", "") and config.method not in CONV_METHODS:
        raise ValueError(f"method {config.method!r} runs on MLPs only; with model={config.model!r} method must be "
                         f"one of {list(CONV_METHODS)}")
    s = setup_run(config, seed)
    points = _FAMILY_RUN[family_of(config.method)](s)
    failed = [p for p in points if p["status"] == "diverged" or p["acc"] is None]
    status = "diverged" if len(failed) == len(points) else "done"
    return {"status": status, "metrics": points_metrics(s, points, family_of(config.method)), "history": []}
