"""Sweep experiment ``diagnostics.gradient_noise``: the gradient-noise tail index during training.

Trains a bias-free ReLU FCN (``depth`` weight layers of ``width``; Şimşekli, Sagun &
Gürbüzbalaban, ICML 2019) by plain SGD and measures the tail index of the stochastic gradient
noise every ``every`` steps on the train and/or test set
(:class:`simulations.diagnostics.GradientNoiseMonitor`). The estimates are stored as fields of the
run's results: ``alpha_train``, ``alpha_test`` (pooled, last step), ``alpha_<split>_layers``,
``alpha_<split>_steps`` (aligned with ``steps_measured``), and one flat history record per measured
step (``alpha_train``, ``alpha_train_l0``, …), readable with ``ResultsStore.rows`` /
``history_rows`` and ``tailcomp report``. The body is
:func:`simulations.diagnostics.study.gradient_noise_run` (imported on call).
"""
from __future__ import annotations

from dataclasses import dataclass

from simulations.sweep import experiment, param

DATASETS = ("mnist", "fashion_mnist", "synthetic")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class GradientNoiseConfig:
    dataset: str = param("mnist", choices=DATASETS, help="training data (synthetic = 10-class Gaussian mixture)")
    width: int = param(128, low=1, high=65536, help="hidden width")
    depth: int = param(3, low=2, high=32, help="number of weight layers (the paper's 'depth')")
    lr: float = param(0.1, low=0.0, low_open=True, help="SGD step size η")
    lr_schedule: bool = param(False, help="halve η at 1/3 and 2/3 of the steps (the paper's schedule)")
    batch_size: int = param(100, low=1, help="batch size b (training and noise)")
    steps: int = param(1000, low=1, high=10**6, help="SGD steps")
    every: int = param(500, low=1, help="measure the noise every this many steps (and at the end)")
    n_eval: int = param(1000, low=0, help="rows per split for the noise (0 = the whole split, as the paper)")
    n_train: int = param(0, low=0, help="first n training examples (0 = all)")
    n_test: int = param(0, low=0, help="first n test examples (0 = all)")
    splits: tuple[str, ...] = param(SPLITS, help="evaluation sets of the noise: train, test")

    def __post_init__(self):
        if not self.splits or any(s not in SPLITS for s in self.splits):
            raise ValueError(f"splits must hold values among {list(SPLITS)}, got {list(self.splits)}")
        if self.every > self.steps:
            raise ValueError(f"every must be <= steps ({self.steps}), got {self.every}")
        if 0 < self.n_eval < 2 * self.batch_size:
            raise ValueError(f"n_eval must be 0 or >= 2·batch_size = {2 * self.batch_size}, got {self.n_eval}")


@experiment("diagnostics.gradient_noise", config=GradientNoiseConfig)
def gradient_noise(config: GradientNoiseConfig, seed: int) -> dict:
    """Bias-free ReLU FCN trained by SGD; gradient-noise tail index (train/test, pooled and per layer)."""
    from simulations.diagnostics.study import gradient_noise_run

    return gradient_noise_run(config, seed)
