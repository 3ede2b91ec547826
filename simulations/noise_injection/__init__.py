"""Noise injection: mean-field two-layer networks trained by SGD with injected α-stable noise, many at once.

Wan, Barsbey, Zaidi & Şimşekli, "Implicit compressibility of overparametrized neural networks
trained with heavy-tailed SGD" (ICML 2024) train f(x) = (1/n) Σ_{j=1}^n a_j φ(w_jᵀx) by SGD on
the hidden weights (gradient scaled by n, the mean-field time scale) and add σ η^{1/α} ξ after
every step, ξ symmetric α-stable (one scalar per neuron, iid per weight, or a sub-Gaussian
vector per neuron). As n → ∞ the neurons become iid copies of an α-stable McKean–Vlasov SDE
(propagation of chaos at rate O(n^{−1/2})); with η ≤ n^{−α/2−1}, for every kept fraction κ the
network pruned to its ⌈κn⌉ largest-norm neurons is within any relative Frobenius error ε for n
large enough — heavy-tailed neuron norms are compressible (Gribonval, Cevher & Davies 2012,
IEEE Trans. Inf. Theory). The symbolic side is :mod:`theory.noise_injection`.

Modules:

- :mod:`.ensemble` — the validated API: :func:`train_ensemble` (K networks, any mix of widths,
  α, σ, η and replicates, in one parallel call, ``backend="cpu" | "cuda"``), :func:`grid`,
  :func:`init_weights`; weights are (out, in): hidden (n, d), output (c, n).
- :mod:`.result` — :class:`EnsembleResult`; :mod:`.data` — :class:`Teacher`, :func:`make_teacher`,
  :func:`teacher_student_data`, :func:`one_hot`.
- :mod:`.study` — :func:`fit_width_slope`, :func:`width_study`, :func:`sigma_study`,
  :func:`step_size_study` (notebook 05, ``paper/fig_noise_injection.py``).
- Kernels: :mod:`.pointwise` (arithmetic written once, compiled for the CPU and the device),
  :mod:`.cpu` (the numba training kernel), :mod:`.cuda` and :mod:`.cuda_launch` (the device
  kernel, one block per network, and its launch), :mod:`.kernel_args` (the one argument list of
  both launches), :mod:`.metrics` (the evaluation between segments of steps, numpy on the host,
  shared by both launches).

The noise vocabulary (kinds ``"entry" | "neuron" | "elliptical"``, ``layers``) is
:mod:`simulations._core.noise`, shared with the neural core.
"""
from simulations._core.noise import NoiseSpec
from simulations.noise_injection.data import Teacher, make_teacher, one_hot, teacher_student_data
from simulations.noise_injection.ensemble import grid, init_weights, stream_states, train_ensemble
from simulations.noise_injection.result import EnsembleResult
from simulations.noise_injection.study import WidthSlope, fit_width_slope, sigma_study, step_size_study, width_study

__all__ = [
    "NoiseSpec",
    "Teacher",
    "make_teacher",
    "teacher_student_data",
    "one_hot",
    "grid",
    "init_weights",
    "stream_states",
    "train_ensemble",
    "EnsembleResult",
    "WidthSlope",
    "fit_width_slope",
    "width_study",
    "sigma_study",
    "step_size_study",
]
