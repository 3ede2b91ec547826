"""Pruning algorithms beyond one-shot magnitude and IMP, on the mask and flat-parameter machinery.

One base (:mod:`.base`) owns the flow — which entries compete, the target sparsity, the
scope — and each algorithm overrides only its scoring (the design of jaxpruner);
:mod:`.compute` counts what each method spends, in the same units for all.

* :mod:`.autodiff` — float64 reference gradients, per-example terms and exact Hessian-vector
  products (Pearlmutter's R-operator) of an MLP, for the scores below.
* :mod:`.at_init` — pruning at initialization: SNIP (Lee et al. 2019), GraSP (Wang et al.
  2020), SynFlow, iterative and data-free (Tanaka et al. 2020).
* :mod:`.second_order` — Optimal Brain Damage on the empirical-Fisher diagonal (LeCun et al.
  1990) and WoodFisher block OBS pruning (Hassibi & Stork 1993; Singh & Alistarh 2020).
* :mod:`.structured` — first-order Taylor neuron importance (Molchanov et al. 2017), neuron
  removal, N:M masks (Zhou et al. 2021).
* :mod:`.schedules`, :mod:`.distributions` — the cubic sparsity schedule (Zhu & Gupta 2017),
  RigL's cosine drop fraction, uniform / Erdős–Rényi / ERK layer densities (Mocanu et al.
  2018; Evci et al. 2020).
* :mod:`.sparse_train` — the driver for methods that change the mask while training;
  :mod:`.gradual` (gradual magnitude pruning) and :mod:`.dynamic` (SET, RigL) run on it;
  :mod:`.sparse_init` rescales an initialisation to each unit's fan-in under a mask (Evci et al. 2022).
* :mod:`.supermask` — masks learned over frozen weights (Zhou et al. 2019; Ramanujan et al.
  2020's edge-popup), signed-constant weights.
"""
from simulations.pruning.algorithms.at_init import SNIP, GraSP, SynFlow, synflow_prune, synflow_scores
from simulations.pruning.algorithms.base import ScoreBased, full_weight_masks, removal_counts
from simulations.pruning.algorithms.compute import Compute, forward_macs, layer_positions
from simulations.pruning.algorithms.distributions import layer_counts, layer_densities, random_masks
from simulations.pruning.algorithms.dynamic import rigl_train, set_train
from simulations.pruning.algorithms.gradual import gmp
from simulations.pruning.algorithms.schedules import drop_fraction_at, polynomial_sparsity, pruning_steps
from simulations.pruning.algorithms.second_order import OBD, woodfisher_prune
from simulations.pruning.algorithms.sparse_init import fan_in_scales, sparse_fan_in_init
from simulations.pruning.algorithms.sparse_train import MaskUpdate, SparseTrainResult, sparse_train
from simulations.pruning.algorithms.structured import nm_masks, prune_neurons, taylor_neuron_scores
from simulations.pruning.algorithms.supermask import SupermaskResult, supermask_train

__all__ = ["ScoreBased", "removal_counts", "full_weight_masks", "Compute", "forward_macs", "layer_positions",
           "SNIP", "GraSP", "SynFlow", "synflow_prune", "synflow_scores",
           "OBD", "woodfisher_prune", "taylor_neuron_scores", "prune_neurons", "nm_masks",
           "gmp", "polynomial_sparsity", "pruning_steps", "drop_fraction_at",
           "layer_densities", "layer_counts", "random_masks",
           "set_train", "rigl_train", "sparse_fan_in_init", "fan_in_scales", "sparse_train", "MaskUpdate", "SparseTrainResult",
           "supermask_train", "SupermaskResult"]
