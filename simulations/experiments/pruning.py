"""Pruning experiments: heavy tails ⇒ compressibility (Barsbey et al. 2021) and pruning baselines.

* ``pruning.heavy_tail`` — train a bias-free ReLU FCN (``depth`` weight layers of width
  ``width``) by SGD at (η, b) to near interpolation; metrics: per-layer tail index α̂,
  prunable fractions at relative error ``eps``, test accuracy after one-shot pruning at the
  compression ratios ``compressions`` by the ``methods`` of
  :data:`simulations.pruning.study.CURVE_METHODS` (magnitude with a per-layer or a global
  threshold, node, spectral, random).
* ``pruning.barsbey_protocol`` — the same body at Barsbey et al.'s own protocol (:class:`ProtocolConfig`;
  sweeps in :mod:`simulations.pruning.barsbey_protocol`).
* ``pruning.compare`` — one pruning method of :data:`COMPARED` at every sparsity, with the
  compute it spent (:mod:`simulations.pruning.comparison`); ``pruning.compare_conv`` the same on a
  convolutional network (``model``, LeNet-5 by default) for the methods of :data:`CONV_METHODS`.
* ``pruning.conv`` — train a convolutional network of :mod:`simulations.nn.models` (``model``,
  itself a sweep parameter) on MNIST / Fashion-MNIST, optionally with injected α-stable noise, then
  one-shot global magnitude and filter pruning, the prunable-filter fraction and the per-layer tail
  indices (:mod:`simulations.pruning.conv_study`; resumable through ``$TAILCOMP_CHECKPOINTS``).
* ``pruning.baselines`` — dense training of an MLP (LeNet-300-100 by default), one-shot
  global / layerwise magnitude and random pruning (no retraining), and IMP with weight
  rewinding (``"iteration"``) and learning-rate rewinding (``"lr"``) at ``sparsities``.

The bodies live in :mod:`simulations.pruning.study` (imported on call, so that
importing this module stays cheap).
"""
from __future__ import annotations

from dataclasses import dataclass

from simulations._core.noise import NOISE_KINDS
from simulations.nn.models import model_names
from simulations.pruning.comparison import COMPARED, CONV_METHODS
from simulations.pruning.study import CURVE_METHODS
from simulations.sweep import experiment, param

DATASETS = ("mnist", "fashion_mnist", "synthetic")
METHODS = CURVE_METHODS
REWINDS = ("init", "iteration", "lr", "finetune")


def _check_subset(name, values, allowed):
    if not values:
        raise ValueError(f"{name} must hold at least one of {list(allowed)}")
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name} must hold values among {list(allowed)}, got {v!r}")


@dataclass(frozen=True)
class HeavyTailConfig:
    dataset: str = param("mnist", choices=DATASETS, help="training data (synthetic = 10-class Gaussian mixture)")
    width: int = param(512, low=1, high=65536, help="hidden width")
    depth: int = param(4, low=2, high=16, help="number of weight layers (Barsbey et al.'s 'depth')")
    lr: float = param(0.1, low=0.0, low_open=True, help="constant SGD step size η")
    batch_size: int = param(100, low=1, help="batch size b")
    n_train: int = param(5000, low=0, help="first n training examples (0 = all)")
    n_test: int = param(2000, low=0, help="first n test examples (0 = all)")
    max_epochs: int = param(30, low=1, help="epoch budget")
    interpolation_loss: float = param(1e-3, low=0.0, low_open=True, help="stop when train loss < this at 100 % accuracy")
    averaging: int = param(0, low=0, help="average the last m iterates (0 = last iterate)")
    init: str = param("kaiming_uniform_torch", choices=("kaiming_uniform_torch", "kaiming_normal", "normal"))
    compressions: tuple[float, ...] = param((2.0, 4.0, 8.0, 16.0, 32.0), low=1.0, help="target compression ratios")
    methods: tuple[str, ...] = param(METHODS, help="subset of " + ", ".join(METHODS))
    center: bool = param(True, help="median-centre magnitude/spectral pruning (Barsbey et al.)")
    eps: float = param(0.1, low=0.0, high=1.0, low_open=True, high_open=True, help="relative error for prunable fractions")

    def __post_init__(self):
        _check_subset("methods", self.methods, METHODS)


@experiment("pruning.heavy_tail", config=HeavyTailConfig)
def heavy_tail(config: HeavyTailConfig, seed: int) -> dict:
    """Bias-free FCN at (η, b): tail index per layer and accuracy after one-shot pruning."""
    from simulations.pruning.study import heavy_tail_run

    return heavy_tail_run(config, seed)


@dataclass(frozen=True)
class ProtocolConfig(HeavyTailConfig):
    """``pruning.heavy_tail`` at Barsbey et al.'s protocol (their code, ``run.py`` / ``main.py``): defaults changed
    to width 2048 on the full sets, convergence = training loss < 5·10⁻⁵ at 100 % accuracy checked every 200
    steps, at most 10⁶ steps, then 9000 + 1000 steps and the mean of the last 1000 iterates; and the fields below."""

    width: int = param(2048, low=1, high=65536, help="hidden width")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    max_epochs: int = param(1667, low=1, help="epoch budget (10⁶ steps at b = 100 on 60000 examples)")
    interpolation_loss: float = param(5e-5, low=0.0, low_open=True, help="stop when train loss < this at 100 % accuracy")
    averaging: int = param(1000, low=0, help="average the last m iterates (0 = last iterate)")
    averaging_delay: int = param(9000, low=0, help="after convergence, steps before the averaged ones")
    eval_every: int = param(200, low=0, help="steps between full-pass evaluations (convergence checks); 0 = one epoch")
    tail_protocol: str = param("barsbey", choices=("block_sum", "barsbey"),
                               help="also the per-layer α̂ of Barsbey et al.'s code (simulations.tail_index.barsbey)")
    backend: str = param("cpu", choices=("cpu", "cuda"), help="training backend")


@experiment("pruning.barsbey_protocol", config=ProtocolConfig)
def barsbey_protocol(config: ProtocolConfig, seed: int) -> dict:
    """``pruning.heavy_tail`` at the paper's protocol (full data, convergence, averaging window, their α̂)."""
    from simulations.pruning.study import heavy_tail_run

    return heavy_tail_run(config, seed)


@dataclass(frozen=True)
class BaselinesConfig:
    dataset: str = param("mnist", choices=DATASETS)
    hidden: tuple[int, ...] = param((300, 100), low=1, help="hidden widths (LeNet-300-100)")
    n_train: int = param(5000, low=0, help="first n training examples (0 = all)")
    n_test: int = param(2000, low=0, help="first n test examples (0 = all)")
    steps: int = param(1500, low=1, help="SGD steps of the dense round (T)")
    batch_size: int = param(50, low=1)
    lr: float = param(0.02, low=0.0, low_open=True)
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    lr_milestones: tuple[float, ...] = param((0.5, 0.75), low=0.0, high=1.0, low_open=True, high_open=True,
                                             help="fractions of T where the step size is multiplied by 0.1")
    rewind_step: int = param(100, low=0, help="k: weight rewinding to θ_k, LR rewinding replays the schedule from k")
    sparsities: tuple[float, ...] = param((0.8, 0.9, 0.95, 0.98), low=0.0, high=1.0, low_open=True, high_open=True)
    rewinds: tuple[str, ...] = param(("iteration", "lr"), help="subset of init, iteration, lr, finetune")
    scope: str = param("global", choices=("global", "layer"), help="IMP pruning scope")
    init: str = param("kaiming_uniform_torch", choices=("kaiming_uniform_torch", "kaiming_normal", "normal"))

    def __post_init__(self):
        _check_subset("rewinds", self.rewinds, REWINDS)
        if self.rewind_step >= self.steps:
            raise ValueError(f"rewind_step must be < steps ({self.steps}), got {self.rewind_step}")


@experiment("pruning.baselines", config=BaselinesConfig)
def baselines(config: BaselinesConfig, seed: int) -> dict:
    """One-shot magnitude / random and IMP (weight and LR rewinding) at fixed sparsities."""
    from simulations.pruning.study import baselines_run

    return baselines_run(config, seed)




@dataclass(frozen=True)
class CompareConfig:
    dataset: str = param("mnist", choices=DATASETS)
    method: str = param("magnitude", choices=COMPARED, help="pruning method (one per run)")
    hidden: tuple[int, ...] = param((300, 100), low=1, help="hidden widths (LeNet-300-100)")
    bias: bool = param(True, help="biases in every layer (never pruned by the unstructured methods)")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    epochs: int = param(4, low=1, help="T: epochs of a dense training (and of each IMP round)")
    finetune_epochs: int = param(1, low=0, help="F: epochs of fine-tuning after a one-shot pruning")
    batch_size: int = param(128, low=1)
    lr: float = param(0.05, low=0.0, low_open=True, help="SGD step size (× 0.1 at each milestone)")
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    lr_milestones: tuple[float, ...] = param((0.5, 0.75), low=0.0, high=1.0, low_open=True, high_open=True,
                                             help="fractions of a training's steps where the step size × 0.1")
    finetune_lr: float = param(0.01, low=0.0, low_open=True, help="constant step size of the fine-tune")
    sparsities: tuple[float, ...] = param((0.5, 0.8, 0.9, 0.95, 0.98), low=0.0, high=1.0, low_open=True,
                                          high_open=True, help="weight sparsities (increasing)")
    nm_patterns: tuple[str, ...] = param(("2:4", "1:5", "1:10", "1:20", "1:50"),
                                         help="N:M patterns of method nm (2:4 = 50 %, 1:M = 1 − 1/M)")
    score_examples: int = param(1280, low=1, help="training examples the data-dependent scores see")
    rewind_step: int = param(100, low=0, help="IMP: rewind to / replay the schedule from step k")
    update_every: int = param(100, low=1, help="SET / RigL / GMP: steps between mask updates")

    def __post_init__(self):
        if any(b <= a for a, b in zip(self.sparsities, self.sparsities[1:])):
            raise ValueError(f"sparsities must be increasing, got {list(self.sparsities)}")
        for p in self.nm_patterns:
            parts = p.split(":")
            if len(parts) != 2 or not all(s.isdigit() for s in parts) or not 0 < int(parts[0]) < int(parts[1]):
                raise ValueError(f"nm_patterns must hold 'N:M' strings with 0 < N < M, got {p!r}")


@experiment("pruning.compare", config=CompareConfig)
def compare(config: CompareConfig, seed: int) -> dict:
    """One pruning method at every sparsity, with the steps and MACs it spent (accuracy vs compression)."""
    from simulations.pruning.comparison import compare_run

    return compare_run(config, seed)


@dataclass(frozen=True)
class ConvCompareConfig(CompareConfig):
    method: str = param("magnitude", choices=CONV_METHODS, help="pruning method (one per run)")
    model: str = param("lenet5", choices=model_names(),
                       help="network of simulations.nn.models (1×28×28 inputs); hidden and bias are not used")


@experiment("pruning.compare_conv", config=ConvCompareConfig)
def compare_conv(config: ConvCompareConfig, seed: int) -> dict:
    """``pruning.compare`` on a convolutional network (LeNet-5 by default): the methods of ``CONV_METHODS``."""
    from simulations.pruning.comparison import compare_run

    return compare_run(config, seed)


@dataclass(frozen=True)
class ConvConfig:
    dataset: str = param("mnist", choices=("mnist", "fashion_mnist"))
    model: str = param("lenet5", choices=model_names(), help="network of simulations.nn.models (1×28×28 inputs)")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    epochs: int = param(12, low=1)
    batch_size: int = param(128, low=1)
    lr: float = param(0.05, low=0.0, low_open=True, help="SGD step size")
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    weight_decay: float = param(5e-4, low=0.0)
    milestones: tuple[int, ...] = param((8, 11), low=1, help="epochs at which the step size is multiplied by gamma")
    gamma: float = param(0.1, low=0.0, high=1.0, low_open=True)
    noise_sigma: float = param(0.0, low=0.0, help="σ of the injected noise σ η^(1/α) ξ (0 = none)")
    noise_alpha: float = param(1.75, low=0.0, high=2.0, low_open=True)
    noise_kind: str = param("neuron", choices=NOISE_KINDS, help="per filter (neuron), per entry or elliptical")
    noise_layers: tuple[int, ...] = param((), low=0, help="noised weight tensors (empty: all but the classifier)")
    sparsities: tuple[float, ...] = param((0.5, 0.8, 0.9, 0.95, 0.98), low=0.0, high=1.0, high_open=True,
                                          help="weight sparsities of one-shot global magnitude pruning")
    filter_fractions: tuple[float, ...] = param((0.1, 0.25, 0.5), low=0.0, high=1.0, high_open=True,
                                                help="fractions of the filters removed per layer (ℓ1, one-shot)")
    prunable_eps: float = param(0.1, low=0.0, high=1.0, low_open=True, high_open=True,
                                help="squared relative Frobenius error of the prunable-filter fraction")
    checkpoint_every: int = param(500, low=1, help="steps between checkpoints when $TAILCOMP_CHECKPOINTS is set")


@experiment("pruning.conv", config=ConvConfig)
def conv(config: ConvConfig, seed: int) -> dict:
    """A convolutional network trained (with or without noise), then pruned one-shot and measured."""
    from simulations.pruning.conv_study import conv_run

    return conv_run(config, seed)
