"""Noise injection as a compression method on MLPs: does it pay against pruning baselines?

Wan, Barsbey, Zaidi & Şimşekli (ICML 2024) prove that adding heavy-tailed noise
σ η^{1/α} ξ (ξ symmetric α-stable, one scalar per neuron) to the weights after every SGD
step makes a *two-layer* network's neurons compressible (that theorem and its ensembles are
:mod:`simulations.noise_injection`). This concept applies the method beyond the theorem,
to bias-free ReLU MLPs on MNIST and Fashion-MNIST (LeCun et al. 1998; Xiao, Rasul &
Vollgraf 2017), and compares, at the same total number of SGD steps:

* noise-injected SGD, then one-shot global magnitude pruning or node pruning;
* plain SGD (σ = 0) with the same one-shot pruning;
* iterative magnitude pruning with weight rewinding (Frankle, Dziugaite, Roy & Carbin,
  ICML 2020) and with learning-rate rewinding (Renda, Frankle & Carbin, ICLR 2020);

and reports the fraction of neurons prunable at squared relative Frobenius error 0.1
(Wan et al.'s metric). :mod:`.versus` (experiment ``noise_compression.versus``) puts the method
and its variants — noise annealed to zero, noise on one layer, no fine-tuning — into the setting
and budget of the method comparison ``pruning.compare`` (full data, LeNet-300-100 with biases),
against every baseline there (``python -m simulations.noise_compression.versus`` runs or resumes it). The runs go through the sweep machinery (experiment
``noise_compression.mlp``, :mod:`simulations.experiments.noise_compression`), so a rerun
reuses the finished runs of a results store.

Example::

    from simulations import noise_compression as nc
    from simulations.sweep import ResultsStore, run_sweep
    for sw in nc.default_sweeps(quick=True):
        run_sweep(nc.EXPERIMENT, sw["configs"], "nc.sqlite", seeds=sw["seeds"], workers=0)
    with ResultsStore("nc.sqlite") as st:
        print(nc.table_markdown(nc.comparison_table(st)))
"""
from simulations.noise_compression.study import EXPERIMENT, comparison_table, default_sweeps, run_mlp, table_markdown

__all__ = ["EXPERIMENT", "run_mlp", "default_sweeps", "comparison_table", "table_markdown"]
