"""Layer-wise sparsity allocation compared at equal global sparsity (experiment ``allocation.compare``).

Train an MLP (LeNet-300-100 by default) once per (data set, seed), then prune it with every rule
of :data:`simulations.pruning.allocation.RULES` — uniform, global magnitude, AlphaPruning (ESD
exponent), tail index of the entries, compressibility (fitted ``G_2`` curves) — at each global
sparsity; metrics: test accuracy after one-shot pruning and after a short fine-tune with the mask
fixed, the per-layer sparsities and relative errors of every rule, the per-layer metrics. The body
lives in :mod:`simulations.pruning.allocation_study` (imported on call).
"""
from __future__ import annotations

from dataclasses import dataclass

from simulations.sweep import experiment, param

DATASETS = ("mnist", "fashion_mnist", "synthetic")
#: the rules of :data:`simulations.pruning.allocation.RULES` (repeated here: importing this module stays cheap)
RULES = ("uniform", "global_magnitude", "alpha_pruning", "tail_index", "compressibility")
LAWS = ("empirical", "gennorm", "student_t")


@dataclass(frozen=True)
class AllocationConfig:
    dataset: str = param("mnist", choices=DATASETS, help="training data (synthetic = 10-class Gaussian mixture)")
    hidden: tuple[int, ...] = param((300, 100), low=1, help="hidden widths (LeNet-300-100)")
    bias: bool = param(True, help="biases in every layer (never pruned)")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    epochs: int = param(8, low=1, help="training epochs")
    batch_size: int = param(128, low=1)
    lr: float = param(0.05, low=0.0, low_open=True, help="SGD step size")
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    lr_milestones: tuple[float, ...] = param((0.5, 0.75), low=0.0, high=1.0, low_open=True, high_open=True,
                                             help="fractions of the steps where the step size is multiplied by 0.1")
    init: str = param("kaiming_uniform_torch", choices=("kaiming_uniform_torch", "kaiming_normal", "normal"))
    sparsities: tuple[float, ...] = param((0.8, 0.9, 0.95, 0.98), low=0.0, high=1.0, high_open=True,
                                          help="global sparsities (fraction of weights removed)")
    rules: tuple[str, ...] = param(RULES, help="subset of " + ", ".join(RULES))
    epsilon: float = param(0.2, low=0.0, high=1.0, high_open=True, help="band half-width ε of the band rules")
    law: str = param("gennorm", choices=LAWS, help="fitted law of the compressibility rule")
    finetune_steps: int = param(469, low=0, help="fine-tune steps with the mask fixed (0 = none)")
    finetune_lr: float = param(0.01, low=0.0, low_open=True, help="fine-tune step size (constant)")

    def __post_init__(self):
        if not self.rules:
            raise ValueError(f"rules must hold at least one of {list(RULES)}")
        for r in self.rules:
            if r not in RULES:
                raise ValueError(f"rules must hold values among {list(RULES)}, got {r!r}")


@experiment("allocation.compare", config=AllocationConfig)
def compare(config: AllocationConfig, seed: int) -> dict:
    """Train once; prune with every allocation rule at every sparsity; one-shot and fine-tuned accuracy."""
    from simulations.pruning.allocation_study import allocation_run

    return allocation_run(config, seed)
