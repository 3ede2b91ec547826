"""The result of :func:`simulations.noise_injection.ensemble.train_ensemble`: K trained networks and their histories."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulations._core.codes import STATUS_NAMES, STATUS_OK
from simulations._core.validation import check_array, check_choice, check_int
from simulations.noise_injection.data import _activation

__all__ = ["EnsembleResult", "LAYERS"]

LAYERS = (0, 1)  # weight layers of a two-layer network: 0 = hidden, 1 = output

_HISTORIES = ("loss", "eval_loss", "eval_accuracy", "prune_error", "prunable_fraction", "norm_mean", "norm_max")


@dataclass
class EnsembleResult:
    """Everything a :func:`~simulations.noise_injection.ensemble.train_ensemble` call produced.

    Per-network arrays have length K. ``status[k]`` is a code of
    :data:`simulations._core.codes.STATUS_NAMES`: ``"ok"``, or ``"nonfinite"`` (the network
    diverged: non-finite loss or weights at step ``fail_step[k]``; it was stopped there and its
    later history is NaN). History arrays have shape (K, E) (``prune_error``: (K, E, len(kappas))),
    one column per evaluation at ``steps_recorded``. Weights are read with :meth:`hidden` (n, d)
    and :meth:`second` (c, n), both (out, in); ``hidden_flat`` and ``second_flat`` are the
    kernel's flat buffers in its internal layout (:mod:`simulations.noise_injection.kernel_args`).
    """

    config: dict[str, np.ndarray]
    d: int
    c: int
    hidden_flat: np.ndarray
    second_flat: np.ndarray
    woff: np.ndarray
    aoff: np.ndarray
    steps_recorded: np.ndarray
    loss: np.ndarray
    eval_loss: np.ndarray | None
    eval_accuracy: np.ndarray | None
    prune_error: np.ndarray
    kappas: np.ndarray
    prunable_fraction: np.ndarray
    prune_eps: float
    norm_mean: np.ndarray
    norm_max: np.ndarray
    status: np.ndarray
    fail_step: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def K(self) -> int:
        return int(self.status.shape[0])

    @property
    def ok(self) -> np.ndarray:
        return self.status == STATUS_OK

    def status_names(self) -> list[str]:
        return [STATUS_NAMES[int(s)] for s in self.status]

    def layer(self, k: int, layer: int) -> np.ndarray:
        """Weights of network k, (out, in): layer 0 → hidden (n, d) (row j = neuron j), layer 1 → output (c, n)."""
        k = check_int("k", k, 0, self.K - 1)
        layer = check_int("layer", layer)
        if layer not in LAYERS:
            raise ValueError(f"layer must be 0 (hidden) or 1 (output) in a two-layer network, got {layer}")
        n = int(self.config["width"][k])
        # the kernels store the hidden block as (d, n) and the output block as (n, c): transpose to (out, in)
        if layer == 0:
            return self.hidden_flat[self.woff[k]: self.woff[k] + self.d * n].reshape(self.d, n).T.copy()
        return self.second_flat[self.aoff[k]: self.aoff[k] + n * self.c].reshape(n, self.c).T.copy()

    def hidden(self, k: int) -> np.ndarray:
        """Hidden weights (n, d) of network k."""
        return self.layer(k, 0)

    def second(self, k: int) -> np.ndarray:
        """Output weights (c, n) of network k."""
        return self.layer(k, 1)

    def neuron_norms(self, k: int) -> np.ndarray:
        """Euclidean norms ‖w_j‖ of the incoming weights of every hidden neuron of network k."""
        return np.linalg.norm(self.hidden(k), axis=1)

    def final(self, name: str) -> np.ndarray:
        """Last recorded value of a history array (``prune_error`` gives (K, len(kappas)))."""
        a = getattr(self, check_choice("name", name, _HISTORIES))
        if a is None:
            raise ValueError(f"{name} was not recorded (no eval_data given)")
        return a[:, -1]

    def predict(self, k: int, X: np.ndarray) -> np.ndarray:
        """Network k's outputs f(x) = (1/n) A φ(W x) on the rows of X (numpy; for checks and small sets)."""
        X = check_array("X", X, ndim=2)
        W, A = self.hidden(k), self.second(k)
        return _activation(self.settings["activation"], X @ W.T) @ A.T / W.shape[0]
