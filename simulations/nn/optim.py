"""Optimiser configuration: SGD (momentum, weight decay), learning-rate schedules, noise injection.

One SGD step at step t (PyTorch's ``torch.optim.SGD`` with dampening 0, not Nesterov):

    g   = ∇L_B(θ_t) + λ θ_t                  (λ = weight_decay, all parameters)
    v   ← μ v + g                              (μ = momentum; v starts at 0, so v_1 = g_1 as in PyTorch)
    θ   ← θ − η_t v
    θ_W ← θ_W + σ η_t^{1/α} ξ                  (noise injection, chosen layers' weights only)
    θ   ← m ⊙ θ,  v ← m ⊙ v                    (mask, when one is given)

with η_t = lr · schedule(t). The noise follows Wan, Barsbey, Zaidi & Şimşekli
(ICML 2024, "Implicit compressibility of overparametrized neural networks
trained with heavy-tailed SGD"): after each SGD step the hidden-layer weights
receive σ·η^{1/α}·ξ, ξ symmetric α-stable with scale 1
(E e^{itξ} = e^{−|t|^α}; at α = 2, ξ ~ N(0, 2)); biases and (by default) the
output layer receive none. Three kinds of ξ for a layer W (out, in):

* ``"entry"``      — iid per weight: ξ_ij ~ SαS(1);
* ``"neuron"``     — one draw per neuron broadcast over its incoming weights: ξ_ij = ξ_i ~ SαS(1);
* ``"elliptical"`` — per neuron a sub-Gaussian SαS vector ξ_i· = R_i Z_i·, Z ~ N(0, I_in),
  R_i = √(2A_i), A_i ~ S1(α/2, 1, cos(πα/4)^{2/α}) (each coordinate SαS(1);
  Samorodnitsky & Taqqu 1994, Def. 2.5.1).

Random numbers are drawn in-kernel from xoroshiro128+ streams
(:mod:`simulations.stable.streams`), one stream per noised neuron (row), so the draws do
not depend on the number of threads and a CUDA kernel can reproduce them. A float32 network's
``"entry"`` noise is drawn in float32, one stream output per draw (:mod:`simulations.stable.f32`:
the same law, its far tail cut beyond probability ≈ 1.5·10⁻¹¹ per draw); float64 networks and
the other kinds draw in float64.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulations._core.noise import NOISE_KINDS, NoiseSpec
from simulations._core.validation import check_alpha, check_choice, check_int, check_real

__all__ = ["SGD", "NoiseConfig", "Schedule", "constant", "step_schedule", "NOISE_KINDS"]



@dataclass(frozen=True)
class Schedule:
    """Learning-rate multiplier as a function of the global step t (0-based).

    ``kind="constant"``: factor 1.
    ``kind="step"``: factor gamma^k, k = number of milestones ≤ t (milestones in
    ``unit`` "epoch" or "step"; epochs are converted with the run's steps per epoch).
    ``kind="linear_warmup"``: factor min(1, (t+1)/warmup) then as "step".
    Because the factor depends on t only, a run started with ``start_step=t0``
    replays the schedule from t0 (learning-rate rewinding).
    """

    kind: str = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    unit: str = "epoch"
    warmup: int = 0

    def __post_init__(self):
        check_choice("schedule kind", self.kind, ("constant", "step", "linear_warmup"))
        check_choice("schedule unit", self.unit, ("epoch", "step"))
        if isinstance(self.milestones, (str, bytes)) or (np.ndim(self.milestones) != 1 and
                                                         not isinstance(self.milestones, range)):
            raise TypeError(f"milestones must be a sequence of steps or epochs, got {self.milestones!r}")
        ms = tuple(check_int("milestones", m, 0) for m in self.milestones)
        if list(ms) != sorted(ms):
            raise ValueError(f"milestones must be increasing, got {ms}")
        object.__setattr__(self, "milestones", ms)
        check_real("gamma", self.gamma, 0.0, None, low_open=True)
        check_int("warmup", self.warmup, 0)

    def factors(self, start: int, n: int, steps_per_epoch: int) -> np.ndarray:
        """float64 array of the multipliers for steps start, ..., start+n−1."""
        t = np.arange(start, start + n, dtype=np.int64)
        f = np.ones(n, dtype=np.float64)
        if self.kind in ("step", "linear_warmup") and self.milestones:
            scale = steps_per_epoch if self.unit == "epoch" else 1
            ms = np.asarray(self.milestones, dtype=np.int64) * scale
            k = np.searchsorted(ms, t, side="right")
            f *= self.gamma ** k
        if self.kind == "linear_warmup" and self.warmup > 0:
            f *= np.minimum(1.0, (t + 1) / self.warmup)
        return f

    def to_dict(self) -> dict:
        return {"kind": self.kind, "milestones": list(self.milestones), "gamma": self.gamma,
                "unit": self.unit, "warmup": self.warmup}


def constant() -> Schedule:
    return Schedule("constant")


def step_schedule(milestones: Sequence[int], gamma: float = 0.1, unit: str = "epoch") -> Schedule:
    """Multiply the learning rate by ``gamma`` at each milestone (epochs or steps)."""
    return Schedule("step", milestones, gamma, unit)


@dataclass(frozen=True)
class SGD:
    """SGD hyper-parameters (see the module docstring for the update).

    lr > 0; momentum in [0, 1); weight_decay ≥ 0; schedule: :class:`Schedule`.
    """

    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: Schedule = field(default_factory=constant)

    def __post_init__(self):
        object.__setattr__(self, "lr", check_real("lr", self.lr, 0.0, None, low_open=True))
        object.__setattr__(self, "momentum", check_real("momentum", self.momentum, 0.0, 1.0, high_open=True))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, 0.0))
        if not isinstance(self.schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(self.schedule).__name__}")

    def lrs(self, start: int, n: int, steps_per_epoch: int) -> np.ndarray:
        """Learning rates η_t for steps start..start+n−1 (float64)."""
        return self.lr * self.schedule.factors(start, n, steps_per_epoch)

    def to_dict(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "schedule": self.schedule.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> SGD:
        return cls(d["lr"], d["momentum"], d["weight_decay"], Schedule(**{**d["schedule"],
                   "milestones": tuple(d["schedule"]["milestones"])}))


@dataclass(frozen=True)
class NoiseConfig:
    """Noise injected after every SGD step: θ_W ← θ_W + σ η_t^{1/α} ξ.

    alpha in (0, 2] (2 = Gaussian, ξ ~ N(0, 2)); sigma ≥ 0 (0 disables);
    kind in {"entry", "neuron", "elliptical"}; layers: indices (0-based) of the
    weight layers that receive noise, ``None`` = every hidden layer (all but the
    output layer). Biases never receive noise. Masked weights stay 0.
    """

    alpha: float = 2.0
    sigma: float = 0.0
    kind: str = "neuron"
    layers: tuple[int, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        object.__setattr__(self, "sigma", check_real("sigma", self.sigma, 0.0))
        object.__setattr__(self, "layers", self.spec.layers)  # kind and layers checked by NoiseSpec

    @property
    def spec(self) -> NoiseSpec:
        """The kind and layers as the shared :class:`simulations._core.noise.NoiseSpec`."""
        return NoiseSpec(self.kind, self.layers)

    def layer_list(self, n_layers: int) -> list[int]:
        """The weight layers that receive noise for a network with ``n_layers`` layers."""
        return self.spec.layer_list(n_layers)

    @property
    def active(self) -> bool:
        return self.sigma > 0.0

    def amplitude(self, lr: float) -> float:
        """σ η^{1/α}."""
        return self.sigma * lr ** (1.0 / self.alpha)

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "sigma": self.sigma, "kind": self.kind,
                "layers": None if self.layers is None else list(self.layers)}

    @classmethod
    def from_dict(cls, d: dict) -> NoiseConfig:
        return cls(d["alpha"], d["sigma"], d["kind"], None if d["layers"] is None else tuple(d["layers"]))
