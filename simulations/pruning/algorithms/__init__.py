"""Pruning algorithms beyond one-shot magnitude and IMP, on the mask and flat-parameter machinery.

One base (:mod:`.base`) owns the flow — which entries compete, the target sparsity, the
scope — and each algorithm overrides only its scoring (the design of jaxpruner);
:mod:`.compute` counts what each method spends, in the same units for all.
"""
from simulations.pruning.algorithms.at_init import SNIP, GraSP, SynFlow, synflow_prune, synflow_scores
from simulations.pruning.algorithms.base import ScoreBased, full_weight_masks, removal_counts
from simulations.pruning.algorithms.compute import Compute, forward_macs

__all__ = ["ScoreBased", "removal_counts", "full_weight_masks", "Compute", "forward_macs",
           "SNIP", "GraSP", "SynFlow", "synflow_prune", "synflow_scores"]
