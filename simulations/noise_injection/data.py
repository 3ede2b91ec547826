"""Data for the two-layer ensembles: teacher networks, teacher–student samples, one-hot labels.

A teacher is a two-layer network in the mean-field scaling, y = (1/m) Σ_l b_l φ(v_lᵀx)
(+ label noise), weights (out, in): hidden V (m, d), output B (c, m). Random teachers have
v_l iid N(0, scale²/d · I_d) (so vᵀx = O(scale) for x ~ N(0, I_d)) and b_l iid N(0, m · I_c)
(so that y has variance O(1) whatever m) — the teacher–student setting of the mean-field
analyses (Mei, Montanari & Nguyen 2018, PNAS) used by Wan, Barsbey, Zaidi & Şimşekli (2024, ICML).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulations._core.codes import ACTIVATION_CODES
from simulations._core.seeding import generator
from simulations._core.validation import check_array, check_choice, check_int, check_positive, check_real

__all__ = ["Teacher", "make_teacher", "teacher_student_data", "one_hot", "apply_activation", "ENTRIES_MAX"]

#: largest array these generators allocate (teacher weights, samples × features, one-hot matrix):
#: 2^25 entries (256 MiB in float64), checked before anything is drawn
ENTRIES_MAX = 2**25

_NUMPY_ACTIVATIONS = {
    "identity": lambda u: u,
    "relu": lambda u: np.maximum(u, 0.0),
    "tanh": np.tanh,
    "softplus": lambda u: np.logaddexp(0.0, u),
}


def apply_activation(name: str, z: np.ndarray) -> np.ndarray:
    """φ(z) in numpy for an activation name of :data:`simulations._core.codes.ACTIVATION_CODES`.

    ``z``: an array of finite real numbers (any shape); the result has its shape, float64 (or z's
    floating dtype).
    """
    return _activation(check_choice("name", name, ACTIVATION_CODES), check_array("z", z))


def _activation(name: str, z: np.ndarray) -> np.ndarray:
    """:func:`apply_activation` on checked arguments (values may be non-finite: a diverged network)."""
    return _NUMPY_ACTIVATIONS[name](z)


def _check_entries(what: str, pname: str, count: int) -> None:
    if count > ENTRIES_MAX:
        raise ValueError(f"{pname}: {what} has {count} entries; at most ENTRIES_MAX = {ENTRIES_MAX} are allowed")


@dataclass(frozen=True)
class Teacher:
    """A teacher network y = (1/m) Σ_l b_l φ(v_lᵀx) (+ label noise); weights (m, d), second (c, m)."""

    weights: np.ndarray
    second: np.ndarray
    activation: str = "tanh"
    label_noise: float = 0.0

    @property
    def d(self) -> int:
        return self.weights.shape[1]

    @property
    def c(self) -> int:
        return self.second.shape[0]

    @property
    def width(self) -> int:
        return self.weights.shape[0]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Noise-free outputs (N, c) on the rows of X (N, d)."""
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.d:
            raise ValueError(f"X must have {self.d} columns, got shape {X.shape}")
        return _activation(self.activation, X @ self.weights.T) @ self.second.T / self.width


def make_teacher(d: int, width: int = 4, c: int = 1, *, activation: str = "tanh", label_noise: float = 0.0,
                 scale: float = 1.0, seed: Any = 0) -> Teacher:
    """Random teacher: entries of v_l iid N(0, scale²/d), b_l iid N(0, m) (numbers from ``child(seed, "teacher")``).

    d, width, c ≥ 1 with width·(d + c) at most :data:`ENTRIES_MAX`.
    """
    d = check_int("d", d, 1, ENTRIES_MAX)
    width = check_int("width", width, 1, ENTRIES_MAX)
    c = check_int("c", c, 1, ENTRIES_MAX)
    _check_entries("the teacher width × (d + c)", "width", width * (d + c))
    check_choice("activation", activation, ACTIVATION_CODES)
    label_noise = check_real("label_noise", label_noise, 0.0)
    scale = check_positive("scale", scale)
    rng = generator(seed, "teacher")
    V = rng.normal(0.0, scale / math.sqrt(d), size=(width, d))
    B = rng.normal(0.0, 1.0, size=(c, width)) * width ** 0.5
    return Teacher(V, B, activation, label_noise)


def teacher_student_data(teacher: Teacher, n_samples: int, *, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) with x ~ N(0, I_d) and y = teacher(x) + label_noise·N(0, I_c).

    Inputs come from ``child(seed, "inputs")``, the label noise from ``child(seed, "label_noise")``.
    n_samples ≥ 1 with n_samples·max(d, width, c) at most :data:`ENTRIES_MAX`.
    """
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
    n_samples = check_int("n_samples", n_samples, 1, ENTRIES_MAX)
    _check_entries("the samples × max(d, width, c)", "n_samples",
                   n_samples * max(teacher.d, teacher.width, teacher.c))
    X = generator(seed, "inputs").standard_normal((n_samples, teacher.d))
    Y = teacher(X)
    if teacher.label_noise > 0:
        Y = Y + teacher.label_noise * generator(seed, "label_noise").standard_normal(Y.shape)
    return X, Y


def one_hot(labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Integer labels (N,) → float64 one-hot matrix (N, n_classes); N·n_classes at most :data:`ENTRIES_MAX`."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {lab.dtype} and shape {lab.shape}")
    if lab.size and lab.min() < 0:
        raise ValueError("labels must be non-negative")
    n_classes = int(lab.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, 1, ENTRIES_MAX)
    _check_entries("the one-hot matrix labels × n_classes", "n_classes", lab.size * n_classes)
    if lab.size and lab.max() >= n_classes:
        raise ValueError(f"labels must be < n_classes={n_classes}")
    out = np.zeros((lab.size, n_classes))
    out[np.arange(lab.size), lab] = 1.0
    return out
