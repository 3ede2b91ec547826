"""Pruning and lottery tickets on the torch-free neural core.

* :mod:`.masks` — mask lists over weight matrices ``(out, in)``: validation, application, counts.
* :mod:`.one_shot` — magnitude (per layer / global, optionally median-centred), random,
  node (neuron) and spectral (truncated SVD) pruning, at a fixed ratio or a fixed relative L2 error.
* :mod:`.iterative` — iterative magnitude pruning (IMP) with weight rewinding, learning-rate
  rewinding or fine-tuning; random re-initialisation / re-shuffle controls; Zhou et al. mask scores.
* :mod:`.metrics` — ShrinkBench-style counts: remaining parameters, compression ratio, FLOPs speedup,
  accuracy-vs-compression aggregation.
* :mod:`.reproduction` — the Barsbey et al. (2021) reproduction and the baselines table: experiment
  bodies (``pruning.heavy_tail``, ``pruning.baselines``), sweep definitions, store readers, plots.

Quick example::

    from simulations.pruning import prune
    res = prune(weights, "magnitude", ratio=0.9, scope="global")   # weights: list of (out, in) arrays
    res.masks, res.weights, res.compression_ratio                   # ≈ 10×
    prune(weights, "spectral", eps=0.1).ranks                      # smallest ranks within 10 % error
"""
from simulations.pruning.masks import apply_masks, check_layers, combine_masks, full_masks, mask_counts, sparsity
from simulations.pruning.metrics import (
    accuracy,
    aggregate,
    compression_ratio,
    count_parameters,
    dense_flops,
    flops_speedup,
    ratios_for_compression,
    sparse_flops,
    summary,
)
from simulations.pruning.one_shot import (
    METHODS,
    PruneResult,
    magnitude_prune,
    node_prune,
    prune,
    random_prune,
    spectral_prune,
)

__all__ = [
    "METHODS",
    "PruneResult",
    "prune",
    "magnitude_prune",
    "random_prune",
    "node_prune",
    "spectral_prune",
    "apply_masks",
    "check_layers",
    "combine_masks",
    "full_masks",
    "mask_counts",
    "sparsity",
    "accuracy",
    "aggregate",
    "compression_ratio",
    "count_parameters",
    "dense_flops",
    "flops_speedup",
    "ratios_for_compression",
    "sparse_flops",
    "summary",
]


def __getattr__(name):  # the iterative part needs the neural core: import it on first use
    if name in ("iterative", "reproduction"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
