"""Data sets: IDX reader, MNIST / Fashion-MNIST (download, sha256, cache, offline folder), synthetic sets.

File format (IDX; LeCun et al.): big-endian uint32 magic 0x00000803 (3-D uint8,
images) or 0x00000801 (1-D uint8, labels), one uint32 per dimension, then the
raw bytes; the distributed files are gzip-compressed.

Where files are looked for (first hit wins), for data set ``name`` in
{"mnist", "fashion_mnist"}:

1. ``root`` argument, then env ``TAILCOMP_DATA``: ``<dir>/<name>/<file>.gz`` (or ``<dir>/<file>.gz``);
2. the cache ``~/.cache/tailcomp/<name>/`` (env ``TAILCOMP_CACHE`` overrides);
3. with ``download=True``: fetched from the official mirror into the cache.

Every ``.gz`` file is checked against its published sha256 before use, then
its magic number, dimensions and size. Any failure raises :class:`DataError`
naming the file and what failed.

Normalisation (``normalize``): ``"standard"`` — x/255 then (x − 0.1307)/0.3081
for MNIST, (x − 0.2860)/0.3530 for Fashion-MNIST (the training-set mean and
standard deviation, as in the PyTorch examples); ``"unit"`` — x/255 ∈ [0, 1];
``None`` — raw 0..255 as floats.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import as_generator, check_array, check_choice, check_dtype, check_int, check_real

__all__ = [
    "DataError",
    "Dataset",
    "DATASETS",
    "read_idx",
    "load_dataset",
    "load_mnist",
    "load_fashion_mnist",
    "gaussian_mixture",
    "teacher_dataset",
    "shuffle_indices",
    "check_labels",
]

DATASETS = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")

#: mirrors tried in order; file names are the standard ones
URLS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: sha256 of the canonical .gz files (see /work/shared/data/README.md)
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: (mean, std) of the training pixels scaled to [0, 1]
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
N_ITEMS = {"train": 60000, "test": 10000}


class DataError(ValueError):
    """A data file is missing, corrupted or not what it claims to be (the message names the file)."""


@dataclass
class Dataset:
    """Train/test arrays: X (n, d) float, y (n,) int32 labels in [0, n_classes)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    n_classes: int
    name: str = "custom"

    @property
    def dim(self) -> int:
        return int(self.X_train.shape[1])


def check_labels(name: str, y: Any, n: int, n_classes: int) -> np.ndarray:
    """Labels as int32, shape (n,), every value in [0, n_classes)."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must be in [0, {n_classes - 1}] (class labels), got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


def read_idx(path: str | Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a uint8 array of its stated shape.

    Raises :class:`DataError` naming the file on: unreadable/truncated gzip,
    checksum mismatch (when ``expected_sha256`` is given), wrong magic number,
    or a payload whose size does not match the header.
    """
    raise NotImplementedError


def load_dataset(name: str, split: str = "train", *, root: str | Path | None = None, download: bool = False,
                 normalize: str | None = "standard", dtype: Any = np.float32, flatten: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of one split: X (n, 784) (or (n, 28, 28) unflattened) in ``dtype``, y (n,) int32."""
    raise NotImplementedError


def load_mnist(root: str | Path | None = None, *, download: bool = False, normalize: str | None = "standard",
               dtype: Any = np.float32) -> Dataset:
    """MNIST train (60000) and test (10000) sets, flattened to 784 features."""
    raise NotImplementedError


def load_fashion_mnist(root: str | Path | None = None, *, download: bool = False,
                       normalize: str | None = "standard", dtype: Any = np.float32) -> Dataset:
    """Fashion-MNIST train (60000) and test (10000) sets, flattened to 784 features."""
    raise NotImplementedError


def gaussian_mixture(n: int, dim: int = 20, n_classes: int = 3, *, separation: float = 3.0, n_test: int = 0,
                     dtype: Any = np.float32, seed: Any = 0) -> Dataset:
    """Gaussian mixture: class c ~ uniform, x = μ_c + N(0, I), μ_c ~ N(0, (separation²/dim) I)·√dim/‖·‖·separation/2.

    The class means lie on a sphere of radius ``separation``/2 around 0.
    """
    raise NotImplementedError


def teacher_dataset(n: int, sizes: tuple[int, ...] = (20, 32, 3), *, n_test: int = 0, dtype: Any = np.float32,
                    seed: Any = 0) -> Dataset:
    """Inputs x ~ N(0, I); labels = argmax of a random ReLU teacher MLP with ``sizes`` (kaiming normal)."""
    raise NotImplementedError


def shuffle_indices(n: int, seed: Any = 0) -> np.ndarray:
    """A permutation of 0..n−1 (int64), the same for the same seed in every process."""
    raise NotImplementedError
