"""The result of a one-shot pruning call: pruned weights, masks and the counts of what remains."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PruneResult"]


@dataclass
class PruneResult:
    """Outcome of a one-shot pruning call.

    Attributes
    ----------
    method : the method name (``"magnitude"``, ``"random"``, ``"node"``, ``"spectral"``).
    weights : the pruned (or low-rank reconstructed) weight matrices, input dtypes kept.
    masks : boolean masks, ``True`` = kept (``None`` for spectral pruning).
    remaining, total : stored parameters per layer after / before pruning.
    rel_error : per layer ``‖W − Ŵ‖_F / ‖W − c‖_F`` (``c`` the centring constant; 0 for a zero layer).
    pruned_layers : indices of the layers the method was applied to.
    fill : per layer constant that pruned entries were set to (0 unless median fill).
    ranks, factors : spectral only — kept rank and ``(U_k diag(s_k), V_kᵀ)`` per pruned layer.
    """

    method: str
    weights: list[np.ndarray]
    masks: list[np.ndarray] | None
    remaining: list[int]
    total: list[int]
    rel_error: list[float]
    pruned_layers: list[int]
    fill: list[float] = field(default_factory=list)
    ranks: list[int] | None = None
    factors: list[tuple[np.ndarray, np.ndarray] | None] | None = None

    @property
    def n_remaining(self) -> int:
        return int(sum(self.remaining))

    @property
    def n_total(self) -> int:
        return int(sum(self.total))

    @property
    def sparsity(self) -> float:
        """``1 − remaining/total`` over all layers (skipped layers included, biases not)."""
        return 1.0 - self.n_remaining / self.n_total

    @property
    def compression_ratio(self) -> float:
        """``total / remaining`` over all layers (``inf`` if nothing remains)."""
        return self.n_total / self.n_remaining if self.n_remaining else math.inf

    def layer_sparsity(self) -> list[float]:
        return [1.0 - r / t for r, t in zip(self.remaining, self.total)]
