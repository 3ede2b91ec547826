"""The data sets of the pruning studies: MNIST / Fashion-MNIST subsets, or a synthetic mixture.

A thin layer over :mod:`simulations.nn.data`, which finds, verifies and reads the
files (``root`` argument, then env ``TAILCOMP_DATA``, then the download cache): this
module only keeps the decoded arrays once per process, takes the first
``n_train`` / ``n_test`` examples, and says which data sets are present.
"""
from __future__ import annotations

import numpy as np

__all__ = ["load_data", "available_datasets", "SYNTHETIC"]

#: name of the synthetic stand-in: a 10-class Gaussian mixture in 64 dimensions
SYNTHETIC = "synthetic"

_CACHE: dict = {}


def _splits(dataset: str):
    """(train, test) arrays of an image data set, decoded once per process (~1 s for 60000 images)."""
    from simulations.nn import load_dataset

    if dataset not in _CACHE:
        _CACHE[dataset] = (load_dataset(dataset, "train"), load_dataset(dataset, "test"))
    return _CACHE[dataset]


def available_datasets() -> list[str]:
    """The image data sets (``"mnist"``, ``"fashion_mnist"``) whose files :mod:`simulations.nn.data` finds."""
    from simulations.nn.data import DATASETS, DataError

    out = []
    for name in DATASETS:
        try:
            _splits(name)
        except DataError:
            continue
        out.append(name)
    return out


def load_data(dataset: str, n_train: int = 0, n_test: int = 0):
    """A :class:`simulations.nn.Dataset`: the first ``n_train``/``n_test`` examples (0 = all).

    ``dataset="synthetic"``: a 10-class Gaussian mixture in 64 dimensions
    (:func:`simulations.nn.gaussian_mixture`, separation 4, fixed seed), for quick runs
    without the data files. The subset never depends on a run's seed (the seed drives
    initialisation, shuffling and random pruning only).
    """
    from simulations.nn import Dataset, gaussian_mixture

    if dataset == SYNTHETIC:
        return gaussian_mixture(n_train or 2000, dim=64, n_classes=10, separation=4.0, n_test=n_test or 1000,
                                seed=12345)
    (Xtr, ytr), (Xte, yte) = _splits(dataset)
    if n_train:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    if n_test:
        Xte, yte = Xte[:n_test], yte[:n_test]
    return Dataset(np.ascontiguousarray(Xtr), np.ascontiguousarray(ytr), np.ascontiguousarray(Xte),
                   np.ascontiguousarray(yte), 10, dataset)
