"""Experiments runnable by :mod:`simulations.sweep` (``tailcomp sweep``): definitions only.

One module per topic, each registering its experiments on import with the
:func:`simulations.sweep.experiment` decorator::

    # simulations/experiments/pruning.py
    from dataclasses import dataclass
    from simulations.sweep import experiment, param

    @dataclass(frozen=True)
    class IMPConfig:
        dataset: str = param("mnist", choices=("mnist", "fashion_mnist"))
        sparsity: float = param(0.9, low=0.0, high=1.0, high_open=True)

    @experiment("pruning.imp", config=IMPConfig)
    def imp(config: IMPConfig, seed: int) -> dict:
        ...
        return {"status": "done", "metrics": {...}, "history": [...]}

Nothing needs to be listed anywhere: :func:`simulations.sweep.get_experiment` imports
``simulations.experiments.<prefix>`` *by name* for an experiment ``<prefix>.<rest>`` or
``<prefix>_<rest>`` and, if the name is still unknown, every module of this package
(``pkgutil.iter_modules``); the sweep tool never imports this package statically, so
these modules may import :mod:`simulations.sweep` without an import cycle.  Name
experiments ``<module>.<what>`` so the first, cheap lookup finds them.  Keep module-level
imports light (import heavy code inside the experiment function): every worker imports
the module.  The study code an experiment calls lives with its concept
(``simulations/<concept>/study.py``).

Built in: :mod:`simulations.experiments.toy` (experiment ``toy``), a cheap
deterministic experiment for tests and documentation.
"""
