"""Pruning: removing weights, neurons or singular values of a trained network, and what it costs.

A network is a list of weight matrices ``W_l`` of shape ``(out_l, in_l)`` (``y = W x``);
pruning keeps a mask ``M_l`` (``True`` = kept) and uses ``W_l ⊙ M_l`` (or sets the pruned
entries to a per-layer constant ``c_l``, the median, for centred pruning). Every one-shot
method works at a fixed *ratio* (``⌊ratio·n⌋`` units removed) or at a fixed relative L2
error ``‖x − x̂‖₂ / ‖x‖₂ ≤ ε`` (the largest removable set, in the method's order). A
method's *scope* says what is ranked together: ``"layer"`` (each layer at the same ratio
or error) or ``"global"`` (one threshold over the pooled layers).

* :mod:`.masks` — mask lists: validation, application, counts.
* :mod:`.one_shot` — magnitude (per layer / global, optionally median-centred), random,
  node (neuron) and spectral (truncated SVD) pruning (Barsbey, Sefidgaran, Erdogdu, Richard
  & Şimşekli, NeurIPS 2021; Wan, Barsbey, Zaidi & Şimşekli, ICML 2024).
* :mod:`.iterative` — iterative magnitude pruning (IMP) with weight rewinding, learning-rate
  rewinding or fine-tuning (Frankle & Carbin, ICLR 2019; Frankle, Dziugaite, Roy & Carbin,
  ICML 2020; Renda, Frankle & Carbin, ICLR 2020); random re-initialisation / re-shuffle
  controls and the mask criteria of Zhou, Lan, Liu & Yosinski (NeurIPS 2019).
* :mod:`.metrics` — ShrinkBench-style counts (Blalock, Gonzalez Ortiz, Frankle & Guttag,
  MLSys 2020): remaining parameters, compression ratio ``total / remaining``, FLOPs
  speedup, accuracy-vs-compression aggregation.
* :mod:`.filters` — structured pruning of convolutional networks (:class:`simulations.nn.ModelSpec`):
  filter norms (Li, Kadav, Durdanovic, Samet & Graf, ICLR 2017), the mask that removes a filter with
  its BatchNorm entries and the next layer's input channel, the physically smaller network, and the
  prunable-filter fraction at a squared relative Frobenius error (Wan et al. 2024).
* :mod:`.allocation` — layer-wise sparsity allocation at a fixed global sparsity: uniform,
  global magnitude, AlphaPruning (Lu et al., NeurIPS 2024), tail-index bands and the
  compressibility optimum (Gribonval, Cevher & Davies 2012); :mod:`.allocation_study` compares
  them on LeNet-300-100 (experiment ``allocation.compare``).
* :mod:`.study` — the heavy tails ⇒ compressibility study of Barsbey et al. (2021, §5)
  and the baselines table: experiment bodies (``pruning.heavy_tail``,
  ``pruning.baselines``) and sweep definitions; :mod:`.tables` reads its results store,
  :mod:`.plots` draws it, :mod:`.data` loads the MNIST / Fashion-MNIST subsets.

Quick example::

    from simulations import pruning
    res = pruning.prune(weights, "magnitude", ratio=0.9, scope="global")  # weights: list of (out, in)
    res.masks, res.weights, res.compression_ratio                          # ≈ 10×
    pruning.prune(weights, "spectral", eps=0.1).ranks                     # smallest ranks within 10 %
    pruning.imp(spec, data, steps=1500, targets=(0.8, 0.9), rewind="lr", rewind_step=100)
"""
from simulations.pruning.allocation import RULES as ALLOCATION_RULES
from simulations.pruning.allocation import allocate, greedy_allocation, predicted_error_curves, prune_allocated
from simulations.pruning.filters import (
    FilterFraction,
    PrunedNetwork,
    filter_mask,
    filter_scores,
    prunable_filter_fraction,
    prune_filters,
    remove_filters,
)
from simulations.pruning.iterative import CONTROLS, CRITERIA, REWINDS, IMPResult, IMPRound, imp, mask_scores, prune_step
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
from simulations.pruning.study import CURVE_METHODS, run_reproduction
from simulations.pruning.tables import (
    baselines_table,
    curve_table,
    format_baselines_table,
    heavy_tail_rows,
    trend_summary,
)

__all__ = [
    "filter_scores",
    "filter_mask",
    "prune_filters",
    "remove_filters",
    "prunable_filter_fraction",
    "FilterFraction",
    "PrunedNetwork",
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
    "imp",
    "IMPRound",
    "IMPResult",
    "CRITERIA",
    "REWINDS",
    "CONTROLS",
    "mask_scores",
    "prune_step",
    "CURVE_METHODS",
    "run_reproduction",
    "heavy_tail_rows",
    "trend_summary",
    "curve_table",
    "baselines_table",
    "format_baselines_table",
    "ALLOCATION_RULES",
    "allocate",
    "prune_allocated",
    "greedy_allocation",
    "predicted_error_curves",
]
