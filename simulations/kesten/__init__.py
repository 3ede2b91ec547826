"""SGD on linear regression: many independent chains of a random affine (Kesten) recursion.

SGD with step size η (``lr``) and batch size b (``batch_size``) on the least-squares loss
f(x) = ½ E(aᵀx − y)² with Gaussian data a_i ~ N(0, σ² I_d) is

    x_k = M_k x_{k−1} + q_k,   M_k = I − (η/b) Σ_{i∈Ω_k} a_i a_iᵀ,   q_k = (η/b) Σ_{i∈Ω_k} a_i y_i,

whose stationary law (when ρ = E log‖M e₁‖ < 0) has power-law tails of index α solving
h(α) = E‖M e₁‖^α = 1 (Gürbüzbalaban, Şimşekli & Zhu, "The Heavy-Tail Phenomenon in SGD", ICML 2021;
Kesten 1973, Goldie 1991): :mod:`theory.kesten` computes α, this package simulates the chains.

* :mod:`~simulations.kesten.chains` — :func:`run_sgd` (online or offline data, CPU or CUDA), :class:`SGDChains`;
* :mod:`~simulations.kesten.study` — :func:`tail_index_mc` (Hill estimates of α) and :func:`alpha_vs_lr`
  (theory against simulation, for ``paper/fig_kesten.py`` and notebook 03);
* kernels: :mod:`~simulations.kesten.recursion` (one chain, written once), :mod:`~simulations.kesten.cpu`
  (numba, prange over chains), :mod:`~simulations.kesten.cuda` and :mod:`~simulations.kesten.cuda_launch`
  (one CUDA thread per chain).
"""
from simulations.kesten.chains import MODES, SAMPLINGS, STATUS_NAMES, SGDChains, run_sgd
from simulations.kesten.study import alpha_vs_lr, tail_index_mc

__all__ = ["SGDChains", "run_sgd", "tail_index_mc", "alpha_vs_lr", "MODES", "SAMPLINGS", "STATUS_NAMES"]
