"""Train a convolutional network, then measure how compressible it is: the experiment ``pruning.conv``.

One run (:func:`conv_run`) trains a network of :mod:`simulations.nn.models` (``model``, on
1×28×28 MNIST / Fashion-MNIST) by SGD with momentum, weight decay and a step schedule, optionally
with injected α-stable noise on chosen layers (Wan, Barsbey, Zaidi & Şimşekli 2024, ICML: per
filter, per entry or elliptical; they exclude the first convolution and the classifier), then
measures the trained network without retraining:

* test accuracy after one-shot global magnitude pruning at each of ``sparsities`` (all weight
  tensors ranked together, biases and BatchNorm kept; Han, Pool, Tran & Dally 2015);
* test accuracy after removing the fraction ``filter_fractions`` of the smallest-ℓ1 filters of
  every layer but the classifier (Li, Kadav, Durdanovic, Samet & Graf 2017, ICLR), each filter
  with its next-layer input channel (:mod:`simulations.pruning.filters`);
* Wan et al.'s prunable-filter fraction at squared relative Frobenius error ``prunable_eps``;
* the tail index α̂ of every weight tensor as Barsbey, Sefidgaran, Erdogdu, Richard & Şimşekli
  2021 (NeurIPS) measure it, median-centred and capped at 2: ``alpha_rows``, the multivariate
  block-sum estimator over rows, conv kernels as (O·C, kh·kw) samples (``mode="rows"``,
  ``conv_samples="kernels"`` of :func:`simulations.tail_index.estimators.weight_tail_index`), dense
  layers as their (out, in) rows; ``alpha_entries``, the univariate one over all entries.

Resumability: with the environment variable ``TAILCOMP_CHECKPOINTS`` set to a folder, the
training writes a checkpoint there every ``checkpoint_every`` steps (file named by the run's
config and seed) and a rerun continues from it bit for bit, so an interrupted sweep loses at
most that many steps; without it, an interrupted run starts over.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from simulations._core.seeding import child
from simulations.sweep.checkpoints import run_checkpoint

__all__ = ["conv_run", "checkpoint_for"]

def checkpoint_for(config, seed: int) -> Path | None:
    """The checkpoint path of one run under ``$TAILCOMP_CHECKPOINTS`` (None when the variable is unset).

    ``config``: a ``pruning.conv`` configuration (:class:`simulations.experiments.pruning.ConvConfig`);
    ``seed``: an int ≥ 0. The file is :func:`simulations.sweep.checkpoints.run_checkpoint`'s, prefixed
    ``conv_<model>``.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type) or not hasattr(config, "model"):
        raise TypeError(f"config must be a pruning.conv configuration (ConvConfig), got {type(config).__name__}")
    return run_checkpoint(f"conv_{config.model}", config, seed)


def _spec(config):
    from simulations.nn import get_model

    return get_model(config.model, input_shape=(1, 28, 28), n_classes=10)


def _accuracy(params, data) -> float:
    from simulations.nn import evaluate

    return float(evaluate(params, data.X_test, data.y_test, batch_size=512)[1])


def conv_run(config, seed: int) -> dict:
    """Body of ``pruning.conv`` (see the module docstring): ``{"status", "metrics", "history"}``."""
    from simulations.nn import SGD, Mask, NoiseConfig, StopRules, init_params, step_schedule, train
    from simulations.pruning.algorithms.base import Magnitude
    from simulations.pruning.data import load_data
    from simulations.pruning.filters import prunable_filter_fraction, prune_filters
    from simulations.sweep import Diverged
    from simulations.tail_index.estimators import weight_tail_index

    data = load_data(config.dataset, config.n_train, config.n_test)
    spec = _spec(config)
    noise = None
    if config.noise_sigma > 0:
        noise = NoiseConfig(config.noise_alpha, config.noise_sigma, config.noise_kind,
                            list(config.noise_layers) if config.noise_layers else None)
    opt = SGD(config.lr, config.momentum, config.weight_decay,
              step_schedule(list(config.milestones), config.gamma, "epoch"))
    ck = checkpoint_for(config, seed)
    resume = ck if ck is not None and ck.with_name(ck.name + ".npz").exists() else None
    if ck is not None:
        ck.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = train(spec, data, params=init_params(spec, child(seed, "init")), optimizer=opt, noise=noise,
                batch_size=config.batch_size, stop=StopRules(max_epochs=config.epochs), seed=child(seed, "train"),
                resume=resume, checkpoint_path=ck, checkpoint_every=config.checkpoint_every if ck else None)
    if res.status == "diverged":
        raise Diverged(res.reason)
    p = res.params
    L = spec.n_layers
    metrics = {"test_acc": res.final["test_acc"], "test_loss": res.final["test_loss"],
               "train_loss": res.final["train_loss"], "train_acc": res.final["train_acc"],
               "steps": res.steps, "epochs": res.epochs, "train_seconds": res.timings["train"],
               "wall_seconds": time.perf_counter() - t0, "n_params": int(spec.n_params),
               "weight_shapes": [list(s) for s in spec.weight_shapes], "resumed": resume is not None}
    mag = []
    for s in config.sparsities:
        masks = Magnitude().prune(p, s, scope="global")
        mag.append(_accuracy(Mask.from_layers(spec, masks).apply(p.copy()), data))
    metrics["sparsities"], metrics["acc_magnitude"] = list(config.sparsities), mag
    filt = []
    for f in config.filter_fractions:
        _, mask = prune_filters(spec, p.flat, f, layers=list(range(L - 1)))
        filt.append(_accuracy(Mask.from_flat(spec, mask).apply(p.copy()), data))
    metrics["filter_fractions"], metrics["acc_filters"] = list(config.filter_fractions), filt
    frac = prunable_filter_fraction(spec, p.flat, config.prunable_eps)
    metrics["prunable_filters"] = {str(k): float(v) for k, v in frac.per_layer.items()}
    metrics["prunable_filters_overall"] = float(frac.overall)
    def alpha(w, **kw):
        try:  # the estimator refuses layers where it is undefined (a constant or all-zero tensor)
            return float(weight_tail_index(w, **kw))
        except ValueError:
            return None

    metrics["alpha_rows"] = [alpha(w, mode="rows", conv_samples="kernels" if w.ndim == 4 else "filters")
                             for w in p.weights]
    metrics["alpha_entries"] = [alpha(w, mode="entries") for w in p.weights]
    history = [{k: h[k] for k in ("step", "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "time")}
               for h in res.history]
    return {"status": "done", "metrics": metrics, "history": history}
