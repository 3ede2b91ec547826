"""Tail indices: estimating α in P(|X| > x) ≈ c x^{−α} from samples.

Heavy-tailed SGD is judged by the tail index of its iterates or weights (Şimşekli, Sagun &
Gürbüzbalaban 2019, ICML; Barsbey et al. 2021, NeurIPS). Estimators
(:mod:`~simulations.tail_index.estimators`):

* :func:`block_sum` — Mohammadi, Mohammadpour & Ogata (2015, Metrika 78): for strictly
  α-stable X, a sum of K₁ iid copies is K₁^{1/α} X, so
  1/α̂ = [mean ln‖block sums‖ − mean ln‖X‖] / ln K₁ (consistent for stable laws, biased on
  other power laws);
* :func:`hill` — Hill (1975, Ann. Statist. 3): 1/α̂ = (1/k) Σ_{i≤k} ln|X|_(i) − ln|X|_(k+1);
* :func:`pickands` — Pickands (1975, Ann. Statist. 3), from the k-th, 2k-th and 4k-th largest;
* :func:`weight_tail_index` — the above applied to a layer's weight matrix (out, in), the ways
  the papers do.

The Monte-Carlo comparison of the estimators (bias, RMSE on SαS, Pareto and Student-t samples)
and the empirical tails of SαS laws are in :mod:`simulations.tail_index.study`, their plots in
:mod:`simulations.tail_index.plots`.

Example::

    from simulations import tail_index
    alpha_hat = tail_index.hill(x)
"""
from simulations.tail_index.estimators import N_MAX, block_sum, default_block_sizes, hill, pickands, weight_tail_index

__all__ = ["hill", "pickands", "block_sum", "weight_tail_index", "default_block_sizes", "N_MAX"]
