"""Seeded standard augmentation of image batches (n, C, H, W): random crop with zero padding and
random horizontal flip, the CIFAR recipe of He, Zhang, Ren & Sun 2016 ("Deep residual learning for
image recognition", CVPR, §4.2: "4 pixels are padded on each side, and a 32×32 crop is randomly
sampled from the padded image or its horizontal flip").

For image i with offset (a_i, b_i) ∈ {0, …, 2p}² and flip bit f_i, with P the image zero-padded by
p on each side of both spatial axes (P[c, y, x] = X[c, y − p, x − p] inside, 0 outside),

    out[c, y, x] = P[c, a_i + y, b_i + x]              (f_i = 0)
    out[c, y, x] = P[c, a_i + y, b_i + W − 1 − x]      (f_i = 1: the crop, mirrored left-right)

for 0 ≤ y < H, 0 ≤ x < W. Offsets are uniform on the (2p + 1)² positions and flips Bernoulli(1/2)
(:func:`crop_flip_params`, from the named children ``"crop"`` and ``"flip"`` of ``seed``, so that
``flip=False`` leaves the offsets unchanged); :func:`crop_flip` applies given offsets and flips
(vectorised gather, no padded copy); :func:`random_crop_flip` does both. :class:`Augmenter` gives
epoch e the child ``("augment", e)`` of its seed: the same (seed, epoch) gives the same
augmentation in every process (:mod:`simulations._core.seeding`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from simulations._core.seeding import child, generator, seed_sequence
from simulations._core.validation import check_bool, check_int

__all__ = ["Augmenter", "crop_flip", "crop_flip_params", "random_crop_flip", "PADDING_MAX", "IMAGES_MAX"]

#: largest padding of :func:`crop_flip_params` (a padding is also at most the image's height and width)
PADDING_MAX = 1024
#: most images of one call (the parameters are drawn at once)
IMAGES_MAX = 2**26


def _images(X: Any) -> np.ndarray:
    """X as a 4-D real array (n, C, H, W), its dtype kept; floats must be finite."""
    if isinstance(X, (str, bytes)):
        raise TypeError(f"X must be an array of images (n, C, H, W), got {type(X).__name__}")
    arr = np.asarray(X)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) \
            or np.iscomplexobj(arr):
        raise TypeError(f"X must be a real array of images (n, C, H, W), got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise ValueError(f"X must have shape (n, C, H, W) (ndim 4), got shape {arr.shape}")
    if arr.shape[2] < 1 or arr.shape[3] < 1:
        raise ValueError(f"X must have images of height and width at least 1, got shape {arr.shape}")
    if arr.shape[0] > IMAGES_MAX:
        raise ValueError(f"X must hold at most IMAGES_MAX = {IMAGES_MAX} images, got {arr.shape[0]}")
    if np.issubdtype(arr.dtype, np.floating) and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError("X must contain only finite values (found NaN or inf)")
    return arr


def crop_flip_params(n: int, seed: Any = 0, padding: int = 4, flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (n, 2) int64 uniform on {0, …, 2·padding}², flips (n,) bool, each True with probability
    1/2 — all False when ``flip=False``) for n images; 0 ≤ n ≤ :data:`IMAGES_MAX`, 0 ≤ padding ≤
    :data:`PADDING_MAX`. Offsets come from ``child(seed, "crop")``, flips from ``child(seed, "flip")``.
    """
    n = check_int("n", n, 0, IMAGES_MAX)
    padding = check_int("padding", padding, 0, PADDING_MAX)
    flip = check_bool("flip", flip)
    ss = seed_sequence(seed)
    offsets = generator(ss, "crop").integers(0, 2 * padding + 1, size=(n, 2), dtype=np.int64)
    flips = generator(ss, "flip").random(n) < 0.5 if flip else np.zeros(n, dtype=bool)
    return offsets, flips


def crop_flip(X: Any, offsets: Any, flips: Any, padding: int = 4) -> np.ndarray:
    """The crops of X (n, C, H, W) at ``offsets`` (n, 2) (row, column offsets into the image padded by
    ``padding`` zeros, each in [0, 2·padding]), mirrored left-right where ``flips`` (n,) is True
    (see the module docstring); same shape and dtype as X. 0 ≤ padding ≤ min(H, W).
    """
    X = _images(X)
    n, _, H, W = X.shape
    padding = check_int("padding", padding, 0, min(H, W))
    off = np.asarray(offsets)
    if off.dtype == object or not (np.issubdtype(off.dtype, np.integer) or off.size == 0):
        raise TypeError(f"offsets must be an integer array of shape ({n}, 2), got dtype {off.dtype}")
    if off.shape != (n, 2):
        raise ValueError(f"offsets must have shape ({n}, 2) (one (row, column) offset per image), got {off.shape}")
    if off.size and (off.min() < 0 or off.max() > 2 * padding):
        raise ValueError(f"offsets must be in [0, {2 * padding}] (2·padding), got values in "
                         f"[{int(off.min())}, {int(off.max())}]")
    fl = np.asarray(flips)
    if fl.dtype != np.bool_:
        if fl.dtype == object or not np.issubdtype(fl.dtype, np.integer) or (fl.size and not np.isin(fl, (0, 1)).all()):
            raise TypeError(f"flips must be a bool array of shape ({n},) (or integers 0/1), got {fl.dtype} values")
        fl = fl.astype(bool)
    if fl.shape != (n,):
        raise ValueError(f"flips must have shape ({n},) (one flag per image), got {fl.shape}")
    off = off.astype(np.int64)
    cols = np.where(fl[:, None], np.arange(W - 1, -1, -1), np.arange(W))  # (n, W), mirrored where flipped
    r = off[:, 0:1] + np.arange(H) - padding                               # (n, H) source rows in X
    c = off[:, 1:2] + cols - padding                                       # (n, W) source columns in X
    inside = ((r >= 0) & (r < H))[:, None, :, None] & ((c >= 0) & (c < W))[:, None, None, :]
    gathered = X[np.arange(n)[:, None, None, None], np.arange(X.shape[1])[None, :, None, None],
                 np.clip(r, 0, H - 1)[:, None, :, None], np.clip(c, 0, W - 1)[:, None, None, :]]
    return np.where(inside, gathered, np.zeros((), dtype=X.dtype))


def random_crop_flip(X: Any, seed: Any = 0, padding: int = 4, flip: bool = True) -> np.ndarray:
    """X (n, C, H, W) randomly cropped (zero padding ``padding``, each image its own offset uniform on
    {0, …, 2·padding}²) and, if ``flip``, mirrored left-right with probability 1/2 per image; the
    parameters are :func:`crop_flip_params` ``(n, seed, padding, flip)``. Same shape and dtype as X."""
    X = _images(X)
    padding = check_int("padding", padding, 0, min(X.shape[2], X.shape[3]))
    offsets, flips = crop_flip_params(X.shape[0], seed, padding, flip)
    return crop_flip(X, offsets, flips, padding)


class Augmenter:
    """Per-epoch augmentation: epoch e uses ``child(seed, "augment", e)``, so the same (seed, e) gives
    the same crops and flips in every process. Image i of the array passed to :meth:`epoch` gets row i
    of :meth:`params` (augment the training set in a fixed order, then shuffle, for augmentations that
    do not depend on the batching). A ``Generator`` seed is consumed once, at construction.
    """

    def __init__(self, seed: Any = 0, *, padding: int = 4, flip: bool = True):
        self.seed = seed_sequence(seed)
        self.padding = check_int("padding", padding, 0, PADDING_MAX)
        self.flip = check_bool("flip", flip)

    def _child(self, epoch: int) -> np.random.SeedSequence:
        return child(self.seed, "augment", check_int("epoch", epoch, 0, 2**32 - 1))

    def params(self, epoch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, flips) of epoch ``epoch`` (0 ≤ epoch < 2^32) for n images (:func:`crop_flip_params`)."""
        return crop_flip_params(n, self._child(epoch), self.padding, self.flip)

    def epoch(self, epoch: int, X: Any) -> np.ndarray:
        """X (n, C, H, W) augmented for epoch ``epoch``: :func:`random_crop_flip` with the epoch's child seed."""
        return random_crop_flip(X, self._child(epoch), self.padding, self.flip)

    def __repr__(self) -> str:
        return f"Augmenter(entropy={self.seed.entropy}, padding={self.padding}, flip={self.flip})"
