"""Sweep experiments of noise injection as a compression method: ``noise_compression.mlp`` and ``.versus``.

``noise_compression.versus`` runs noise-injected SGD (and its variants) in the setting and
budget of the method comparison ``pruning.compare`` (its configuration extends that one with
α, σ, the noise kind and the annealing point); the body is
:mod:`simulations.noise_compression.versus`; ``noise_compression.versus_conv`` is the same on a
convolutional network (``model``, LeNet-5 by default). ``noise_compression.mlp``, below:

Trains a bias-free ReLU MLP with α-stable noise σ η^{1/α} ξ injected into the hidden
weights after every SGD step (Wan, Barsbey, Zaidi & Şimşekli, ICML 2024; σ = 0 is plain
SGD), then measures the prunable-neuron fraction and the accuracy after one-shot
magnitude / node pruning (and, with ``imp``, IMP and LR rewinding at the same total
steps). The body, the sweep definitions and the table are in
:mod:`simulations.noise_compression.study` (imported on call, so that importing this
module stays cheap).
"""
from __future__ import annotations

from dataclasses import dataclass

from simulations.experiments.pruning import CompareConfig
from simulations.nn.models import model_names
from simulations.noise_compression.study import EXPERIMENT
from simulations.noise_compression.versus import NOISE_METHODS, VERSUS, VERSUS_CONV
from simulations.noise_compression.wan_protocol import WAN_EXPERIMENT
from simulations.sweep import experiment, param

DATASETS = ("mnist", "fashion_mnist", "synthetic")
NOISE_KINDS = ("neuron", "entry", "elliptical")


@dataclass(frozen=True)
class NoiseMLPConfig:
    dataset: str = param("mnist", choices=DATASETS)
    hidden: tuple[int, ...] = param((300, 100), low=1, help="hidden widths: depth 2-4 means 1-3 hidden layers")
    n_train: int = param(5000, low=0, help="first n training examples (0 = all)")
    n_test: int = param(2000, low=0, help="first n test examples (0 = all)")
    steps: int = param(1500, low=1, help="total SGD steps (every method gets this budget)")
    batch_size: int = param(50, low=1)
    lr: float = param(0.05, low=0.0, low_open=True, help="constant SGD step size η")
    alpha: float = param(1.75, low=0.0, high=2.0, low_open=True, help="stability index of the injected noise")
    sigma: float = param(0.0, low=0.0, help="noise scale σ (0 = plain SGD)")
    noise: str = param("neuron", choices=NOISE_KINDS,
                       help="noise kind: one SαS draw per weight (entry), per neuron (neuron), "
                            "or a sub-Gaussian SαS vector per neuron (elliptical)")
    sparsities: tuple[float, ...] = param((0.8, 0.9, 0.95, 0.98), low=0.0, high=1.0, low_open=True, high_open=True)
    eps2: float = param(0.1, low=0.0, high=1.0, low_open=True, high_open=True,
                        help="squared relative Frobenius error for the prunable-neuron fraction")
    imp: bool = param(False, help="also run IMP (weight rewinding) and LR rewinding at the same total steps")
    rewind_step: int = param(50, low=0, help="k for weight / learning-rate rewinding")

    def __post_init__(self):
        if not 1 <= len(self.hidden) <= 3:
            raise ValueError(f"hidden must have 1 to 3 layers (depth 2-4), got {len(self.hidden)}")
        sp = tuple(self.sparsities)
        if not sp or any(b <= a for a, b in zip(sp, sp[1:])):
            raise ValueError(f"sparsities must be a non-empty increasing list of fractions, got {list(sp)}")


@experiment(EXPERIMENT, config=NoiseMLPConfig)
def mlp(config: NoiseMLPConfig, seed: int) -> dict:
    """Noise-injected (or plain) SGD on an MLP, then one-shot node / magnitude pruning (and IMP / LRR)."""
    from simulations.noise_compression.study import run_mlp

    return run_mlp(config, seed)


@dataclass(frozen=True)
class NoiseVersusConfig(CompareConfig):
    method: str = param("noise", choices=NOISE_METHODS, help="noise-injected variant (or the plain control)")
    alpha: float = param(1.75, low=0.0, high=2.0, low_open=True, help="stability index α of the injected noise")
    sigma: float = param(1e-3, low=0.0, low_open=True, high=1e3, help="noise scale σ")
    noise_kind: str = param("entry", choices=NOISE_KINDS, help="one draw per weight (entry), per neuron, elliptical")
    anneal_fraction: float = param(0.75, low=0.0, high=1.0, low_open=True, high_open=True,
                                   help="noise_anneal: the noise stops after this fraction of the noisy steps")


@experiment(VERSUS, config=NoiseVersusConfig)
def versus(config: NoiseVersusConfig, seed: int) -> dict:
    """Noise-injected SGD, then one-shot global magnitude pruning (± fine-tuning), in the comparison's setting."""
    from simulations.noise_compression.versus import versus_run

    return versus_run(config, seed)


@dataclass(frozen=True)
class NoiseVersusConvConfig(NoiseVersusConfig):
    model: str = param("lenet5", choices=model_names(),
                       help="network of simulations.nn.models (1×28×28 inputs); hidden and bias are not used")


@experiment(VERSUS_CONV, config=NoiseVersusConvConfig)
def versus_conv(config: NoiseVersusConvConfig, seed: int) -> dict:
    """``noise_compression.versus`` on a convolutional network (LeNet-5 by default)."""
    from simulations.noise_compression.versus import versus_run

    return versus_run(config, seed)



@dataclass(frozen=True)
class WanProtocolConfig(NoiseMLPConfig):
    """``noise_compression.mlp`` at Wan et al. 2024's protocol (their code's README example): one hidden layer,
    full data, lr 0.01, batch 5000, σ = 0.003, α = 1.75, trained until 95 % training accuracy (a full pass
    every ``eval_every`` steps), ``steps`` only a cap; then neurons pruned by norm to squared relative
    Frobenius error ``eps2`` = 0.1 (output layer excluded)."""

    hidden: tuple[int, ...] = param((2000,), low=1, help="hidden width(s); the protocol has one hidden layer")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    steps: int = param(30000, low=1, help="step cap (the run stops at target_train_acc)")
    batch_size: int = param(5000, low=1)
    lr: float = param(0.01, low=0.0, low_open=True, help="constant SGD step size η")
    sigma: float = param(0.003, low=0.0, help="noise scale σ (0 = plain SGD)")
    target_train_acc: float = param(0.95, low=0.0, high=1.0, low_open=True, help="stop at this training accuracy")
    eval_every: int = param(24, low=1, help="steps between full-pass training-accuracy checks")


@experiment(WAN_EXPERIMENT, config=WanProtocolConfig)
def wan_protocol(config: WanProtocolConfig, seed: int) -> dict:
    """Noise-injected SGD to 95 % training accuracy, then the prunable-neuron fraction and pruned accuracies."""
    from simulations.noise_compression.wan_protocol import run_wan

    return run_wan(config, seed)
