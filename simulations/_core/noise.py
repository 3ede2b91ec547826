"""The injected-noise vocabulary shared by every API: noise *kinds* and the *layers* that receive it.

After each SGD step of size η the chosen weight layers receive σ η^{1/α} ξ, ξ symmetric
α-stable with scale 1 (E e^{itξ} = e^{−|t|^α}; at α = 2, ξ ~ N(0, 2)); Wan, Barsbey, Zaidi &
Şimşekli, "Implicit compressibility of overparametrized neural networks trained with
heavy-tailed SGD" (ICML 2024). The three kinds of ξ for a layer W of shape (out, in):

* ``"entry"``      — iid per weight: ξ_ij ~ SαS(1);
* ``"neuron"``     — one draw per neuron broadcast over its incoming weights: ξ_ij = ξ_i ~ SαS(1);
* ``"elliptical"`` — per neuron a sub-Gaussian SαS vector ξ_i· = R_i Z_i·, Z ~ N(0, I_in),
  R_i = √(2A_i), A_i ~ S1(α/2, 1, cos(πα/4)^{2/α}) (each coordinate SαS(1); Samorodnitsky &
  Taqqu 1994, Def. 2.5.1).

:class:`NoiseSpec` holds the kind and the layers (0-based weight-layer indices; ``None`` =
every layer but the output layer, i.e. the hidden layers), validated once here (the neural core's
:class:`simulations.nn.optim.NoiseConfig` checks its fields of the same names through it); the law's
parameters α and σ are given apart (the two-layer ensembles take them per network). The
kernels receive the kind as :data:`simulations._core.codes.NOISE_CODES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.codes import NOISE_CODES
from simulations._core.validation import check_choice, check_int

__all__ = ["NOISE_KINDS", "NoiseSpec", "as_noise_spec"]

NOISE_KINDS = ("entry", "neuron", "elliptical")


@dataclass(frozen=True)
class NoiseSpec:
    """Which α-stable noise is injected (``kind``) and into which weight layers (``layers``)."""

    kind: str = "neuron"
    layers: tuple[int, ...] | None = None

    def __post_init__(self):
        check_choice("noise kind", self.kind, NOISE_KINDS)
        if self.layers is not None:
            if isinstance(self.layers, (int, np.integer)):
                raise TypeError("noise layers must be a sequence of layer indices or None")
            object.__setattr__(self, "layers", tuple(check_int("noise layers", i, 0) for i in self.layers))

    @property
    def code(self) -> int:
        """The kernel code of the kind (:data:`simulations._core.codes.NOISE_CODES`)."""
        return NOISE_CODES[self.kind]

    def layer_list(self, n_layers: int) -> list[int]:
        """The weight layers that receive noise in a network of ``n_layers`` weight layers."""
        if self.layers is None:
            return list(range(n_layers - 1))
        for i in self.layers:
            if i >= n_layers:
                raise ValueError(f"noise layers must be in [0, {n_layers - 1}], got {i}")
        return sorted(set(self.layers))


def as_noise_spec(noise: Any) -> NoiseSpec:
    """A :class:`NoiseSpec` from a spec or a kind name (``"neuron"`` = ``NoiseSpec("neuron")``)."""
    if isinstance(noise, NoiseSpec):
        return noise
    if isinstance(noise, str):
        return NoiseSpec(noise)
    raise TypeError(f"noise must be a NoiseSpec or a kind name in {NOISE_KINDS}, got {type(noise).__name__}")
