"""Heavy-tail diagnostics measured during training of the MLP core (:mod:`simulations.nn`).

* Gradient-noise tail index (Şimşekli, Sagun & Gürbüzbalaban 2019, ICML, "A tail-index analysis of
  stochastic gradient noise in deep neural networks"): the noise g_p − ḡ of the minibatch gradients
  about the full-batch gradient of an evaluation set, all coordinates pooled into one scalar sample
  (or one layer's weights), and its tail index by Mohammadi, Mohammadpour & Ogata (2015, Metrika 78)
  Cor. 2.4 with m = the largest divisor of N not above √N — computed **streaming**, from running
  sums of ln|noise| and ln|block sums|, never storing the sample
  (:mod:`~simulations.diagnostics.streaming`, :mod:`~simulations.diagnostics.gradient_noise`).
* Training callbacks (:mod:`~simulations.diagnostics.monitors`): :class:`GradientNoiseMonitor`
  (train / test noise, pooled and per layer) and :class:`TailIndexMonitor` (weight tail index per
  layer — entries, rows, row norms — and the spectral exponent) at chosen steps, recorded into the
  run's history and into a tidy ``.records`` table; :func:`combine` chains callbacks.
* Plots of each index against the step (:mod:`~simulations.diagnostics.plots`), the width study of
  notebooks/08_gradient_noise.ipynb and the body of the sweep experiment
  ``diagnostics.gradient_noise`` (:mod:`~simulations.diagnostics.study`).

Example::

    from simulations.nn import MLPSpec, SGD, StopRules, load_mnist, train
    from simulations.diagnostics import GradientNoiseMonitor

    data = load_mnist()
    mon = GradientNoiseMonitor(data, batch_size=100, every=500, splits=("train", "test"))
    res = train(MLPSpec((784, 128, 128, 10), bias=False), data, optimizer=SGD(0.1), batch_size=100,
                stop=StopRules(max_steps=3000), eval_every=500, callback=mon)
    mon.records            # [{"step": 500, "split": "train", "layer": "all", "alpha": 1.2, ...}, ...]
    res.history[-1]["grad_noise"]["train"]["alpha"]
"""
from simulations.diagnostics.gradient_noise import (
    BATCHES_MAX,
    CACHE_BYTES_DEFAULT,
    CACHE_BYTES_MAX,
    N_EVAL_DEFAULT,
    gradient_noise_tail_index,
)
from simulations.diagnostics.monitors import SPLITS, WEIGHT_MODES, GradientNoiseMonitor, TailIndexMonitor, combine
from simulations.diagnostics.streaming import EPS_MAX, StreamingBlockSum, block_size

__all__ = [
    "gradient_noise_tail_index", "StreamingBlockSum", "block_size", "GradientNoiseMonitor", "TailIndexMonitor",
    "combine", "N_EVAL_DEFAULT", "CACHE_BYTES_DEFAULT", "CACHE_BYTES_MAX", "BATCHES_MAX", "EPS_MAX", "SPLITS",
    "WEIGHT_MODES",
]
