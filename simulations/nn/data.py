"""Data sets: IDX reader, MNIST / Fashion-MNIST (download, sha256, cache, offline folder), synthetic sets.

File format (IDX; LeCun et al.): big-endian uint32 magic 0x00000803 (3-D uint8,
images) or 0x00000801 (1-D uint8, labels), one uint32 per dimension, then the
raw bytes; the distributed files are gzip-compressed.

Where files are looked for, for data set ``name`` in {"mnist", "fashion_mnist"}:

* an explicit ``root`` is used alone: ``<root>/<name>/<file>.gz`` or ``<root>/<file>.gz``; a
  missing ``root`` or file is a :class:`DataError` naming both (nothing else is searched), and
  ``download=True`` fetches a missing file into ``<root>/<name>/``;
* without ``root`` (first hit wins): env ``TAILCOMP_DATA`` (same two layouts), then the cache
  ``~/.cache/tailcomp/<name>/`` (env ``TAILCOMP_CACHE`` overrides), then with ``download=True``
  the official mirror, into the cache.

Every ``.gz`` file is checked against its published sha256 before use (``checksum=False``
skips that, for a re-compressed or partial copy), then its magic number, dimensions and
size; then the pair: images (n, 28, 28), labels (n,) — the same n, the published count
when ``checksum=True`` — and every label in [0, 10). Any failure raises :class:`DataError`
naming the file and what failed.

Normalisation (``normalize``): ``"standard"`` — x/255 then (x − 0.1307)/0.3081
for MNIST, (x − 0.2860)/0.3530 for Fashion-MNIST (the training-set mean and
standard deviation, as in the PyTorch examples); ``"unit"`` — x/255 ∈ [0, 1];
``None`` — raw 0..255 as floats.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.seeding import generator
from simulations._core.validation import check_bool, check_choice, check_dtype, check_int, check_real

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
    "ENTRIES_MAX",
    "SEPARATION_MAX",
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

#: sha256 of the canonical .gz files as published at the mirrors above (checked after every download)
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
#: classes of MNIST and Fashion-MNIST (labels 0..9)
N_CLASSES = 10
#: largest array a synthetic generator builds (samples × features, teacher parameters, a permutation):
#: 2^25 entries (256 MiB in float64), checked before anything is drawn
ENTRIES_MAX = 2**25
#: largest class separation of :func:`gaussian_mixture` (beyond it float32 features overflow long before
#: the classes become more separable than they already are)
SEPARATION_MAX = 1e12


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
    """Labels as int32, shape (n,), every value in [0, n_classes); n ≥ 0 and n_classes ≥ 1 integers."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the labels' name in messages), got {type(name).__name__}")
    n = check_int("n", n, 0)
    n_classes = check_int("n_classes", n_classes, 1)
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


def _check_entries(pname: str, rows: int, cname: str, cols: int) -> None:
    """Refuse an array of ``rows`` × ``cols`` entries above :data:`ENTRIES_MAX` (before allocating)."""
    if rows * cols > ENTRIES_MAX:
        raise ValueError(f"{pname}={rows} rows of {cname}={cols} features give {rows * cols} entries; at most "
                         f"ENTRIES_MAX = {ENTRIES_MAX} are allowed")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_idx(path: str | Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a uint8 array of its stated shape.

    Raises :class:`DataError` naming the file on: a missing or unreadable file, unreadable/truncated
    gzip, checksum mismatch (when ``expected_sha256`` is given), wrong magic number, or a payload
    whose size does not match the header.
    """
    path = _as_path("path", path)
    if expected_sha256 is not None:
        if not isinstance(expected_sha256, str):
            raise TypeError(f"expected_sha256 must be a hex string or None, got {type(expected_sha256).__name__}")
        if len(expected_sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in expected_sha256):
            raise ValueError(f"expected_sha256 must be 64 hexadecimal digits, got {expected_sha256!r}")
        expected_sha256 = expected_sha256.lower()
    try:
        found = path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise DataError(f"path {path}: cannot be read ({exc.strerror or exc})") from exc
    if not found:
        raise DataError(f"path {path}: file not found")
    if expected_sha256 is not None:
        got = _sha256(path)
        if got != expected_sha256:
            raise DataError(f"{path}: sha256 checksum mismatch (expected {expected_sha256}, got {got}); "
                            "the file is corrupted or not the canonical one — delete it and download again")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot decompress ({type(exc).__name__}: {exc}); the file is truncated or "
                        "corrupted") from exc
    if len(raw) < 4:
        raise DataError(f"path {path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 2, 3, 4):
        raise DataError(f"path {path}: bad magic number 0x{int.from_bytes(raw[:4], 'big'):08x} "
                        "(expected 0x00000801 labels or 0x00000803 images, unsigned bytes)")
    hdr = 4 + 4 * ndim
    if len(raw) < hdr:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, need {hdr})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:hdr])
    size = math.prod(dims)  # exact (Python ints: no overflow)
    if len(raw) - hdr != size:
        raise DataError(f"{path}: size mismatch: header says {dims} = {size} bytes of data, file has "
                        f"{len(raw) - hdr}")
    return np.frombuffer(raw, dtype=np.uint8, offset=hdr).reshape(dims).copy()


def _cache_dir() -> Path:
    env = os.environ.get("TAILCOMP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tailcomp"


def _as_path(name: str, value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    return Path(value)


def _find_file(name: str, fname: str, root: str | Path | None, download: bool) -> Path:
    if root is not None:  # an explicit root is used alone
        root = _as_path("root", root)
        cands = (root / name / fname, root / fname)
        for cand in cands:
            if cand.is_file():
                return cand
        if not download:
            what = f"root {root} does not exist" if not root.exists() else f"root {root} is not a folder" \
                if not root.is_dir() else f"{name}/{fname} not found in root {root} (looked for {cands[0]} and " \
                f"{cands[1]})"
            raise DataError(f"{what}; an explicit root is used alone (not TAILCOMP_DATA or the cache): put "
                            f"{name}/{fname} there, pass download=True to fetch it into it, or omit root")
        if root.exists() and not root.is_dir():
            raise DataError(f"root {root} is not a folder: cannot download {name}/{fname} into it")
        return _download(name, fname, root / name / fname)
    tried = []
    dirs = []
    env = os.environ.get("TAILCOMP_DATA")
    if env:
        dirs.append(Path(env))
    dirs.append(_cache_dir())
    for d in dirs:
        for cand in (d / name / fname, d / fname):
            tried.append(str(cand))
            if cand.is_file():
                return cand
    if not download:
        raise DataError(f"{name}/{fname}: not found (looked in {', '.join(tried)}); pass root=, set TAILCOMP_DATA, "
                        "or use download=True")
    return _download(name, fname, _cache_dir() / name / fname)


def _download(name: str, fname: str, dest: Path) -> Path:
    """Fetch ``fname`` of data set ``name`` from its mirrors into ``dest`` (sha256-verified, atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for base in URLS[name]:
        url = base + fname
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                shutil.copyfileobj(resp, out)
            got = _sha256(Path(tmp))
            if got != SHA256[name][fname]:
                os.unlink(tmp)
                errors.append(f"{url}: sha256 mismatch ({got})")
                continue
            os.replace(tmp, dest)
            return dest
        except OSError as exc:
            errors.append(f"{url}: {exc}")
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
    raise DataError(f"{name}/{fname} → {dest}: download failed: " + "; ".join(errors))


def _check_pair(px: Path, imgs: np.ndarray, py: Path, labels: np.ndarray, n_expected: int | None) -> None:
    """Images (n, 28, 28) and labels (n,) in [0, N_CLASSES): the structure of one split."""
    if imgs.ndim != 3 or imgs.shape[1:] != (28, 28):
        raise DataError(f"{px}: expected images of shape (n, 28, 28) (IDX magic 0x00000803), got {imgs.shape}")
    if labels.ndim != 1:
        raise DataError(f"{py}: expected a 1-D label file (IDX magic 0x00000801), got shape {labels.shape}")
    if labels.shape[0] != imgs.shape[0]:
        raise DataError(f"{py}: {labels.shape[0]} labels for {imgs.shape[0]} images in {px}; the counts must be "
                        "equal")
    if n_expected is not None and imgs.shape[0] != n_expected:
        raise DataError(f"{px}: expected {n_expected} images (the published count), got {imgs.shape[0]}")
    if labels.size and int(labels.max()) >= N_CLASSES:
        raise DataError(f"{py}: labels must be in [0, {N_CLASSES - 1}], found {int(labels.max())}")


def load_dataset(name: str, split: str = "train", *, root: str | Path | None = None, download: bool = False,
                 normalize: str | None = "standard", dtype: Any = np.float32, flatten: bool = True,
                 checksum: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of one split: X (n, 784) (or (n, 28, 28) unflattened) in ``dtype``, y (n,) int32 in [0, 10).

    ``root``: the one folder to read (see the module docstring; default: ``TAILCOMP_DATA``, then
    the cache). Files are sha256-verified (``checksum=False`` skips it and the published item
    count: n is then the files' own count), then checked for magic number, dimensions, equal
    image and label counts and label values; failures raise :class:`DataError` naming the file.
    """
    check_choice("name", name, DATASETS)
    check_choice("split", split, SPLITS)
    if normalize is not None:
        check_choice("normalize", normalize, ("standard", "unit"))
    dt = check_dtype(dtype)
    download = check_bool("download", download)
    flatten = check_bool("flatten", flatten)
    checksum = check_bool("checksum", checksum)
    fx, fy = FILES[split]
    px = _find_file(name, fx, root, download)
    py = _find_file(name, fy, root, download)
    imgs = read_idx(px, SHA256[name][fx] if checksum else None)
    labels = read_idx(py, SHA256[name][fy] if checksum else None)
    _check_pair(px, imgs, py, labels, N_ITEMS[split] if checksum else None)
    n = imgs.shape[0]
    X = imgs.astype(dt)
    if normalize is not None:
        X /= dt.type(255.0)
        if normalize == "standard":
            mu, sd = NORMALIZATION[name]
            X -= dt.type(mu)
            X /= dt.type(sd)
    if flatten:
        X = X.reshape(n, 28 * 28)
    return np.ascontiguousarray(X), labels.astype(np.int32)


def _load_both(name, root, download, normalize, dtype, checksum=True) -> Dataset:
    Xtr, ytr = load_dataset(name, "train", root=root, download=download, normalize=normalize, dtype=dtype,
                            checksum=checksum)
    Xte, yte = load_dataset(name, "test", root=root, download=download, normalize=normalize, dtype=dtype,
                            checksum=checksum)
    return Dataset(Xtr, ytr, Xte, yte, N_CLASSES, name)


def load_mnist(root: str | Path | None = None, *, download: bool = False, normalize: str | None = "standard",
               dtype: Any = np.float32, checksum: bool = True) -> Dataset:
    """MNIST train (60000) and test (10000) sets, flattened to 784 features (see :func:`load_dataset`)."""
    return _load_both("mnist", root, download, normalize, dtype, checksum)


def load_fashion_mnist(root: str | Path | None = None, *, download: bool = False,
                       normalize: str | None = "standard", dtype: Any = np.float32, checksum: bool = True) -> Dataset:
    """Fashion-MNIST train (60000) and test (10000) sets, flattened to 784 features (see :func:`load_dataset`)."""
    return _load_both("fashion_mnist", root, download, normalize, dtype, checksum)


def dataset_parts(data: Any) -> tuple:
    """``(X_train, y_train, X_test, y_test)`` of a :class:`Dataset` or a tuple ``(X_train, y_train[, X_test, y_test])``
    (the test pair ``None, None`` when absent); the arrays are not checked here."""
    if isinstance(data, Dataset):
        return data.X_train, data.y_train, data.X_test, data.y_test
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return tuple(data) + ((None, None) if len(data) == 2 else ())
    raise TypeError("data must be a Dataset or a tuple (X_train, y_train[, X_test, y_test])")


def gaussian_mixture(n: int, dim: int = 20, n_classes: int = 3, *, separation: float = 3.0, n_test: int = 0,
                     dtype: Any = np.float32, seed: Any = 0) -> Dataset:
    """Gaussian mixture: label c uniform on {0..K−1}, x = μ_c + N(0, I_dim).

    The class means μ_c are drawn uniformly on the sphere of radius ``separation``/2,
    so that two means are about ``separation``/√2 apart. Train and test sets are
    independent draws of the same mixture.

    Limits: 0 ≤ separation ≤ :data:`SEPARATION_MAX`; n·dim, n_test·dim and n_classes·dim at most
    :data:`ENTRIES_MAX` (checked before anything is drawn).
    """
    n = check_int("n", n, 1, ENTRIES_MAX)
    dim = check_int("dim", dim, 1, ENTRIES_MAX)
    n_classes = check_int("n_classes", n_classes, 2, ENTRIES_MAX)
    separation = check_real("separation", separation, 0.0, SEPARATION_MAX)
    n_test = check_int("n_test", n_test, 0, ENTRIES_MAX)
    dt = check_dtype(dtype)
    for pname, rows in (("n", n), ("n_test", n_test), ("n_classes", n_classes)):
        _check_entries(pname, rows, "dim", dim)
    rng = generator(seed)
    mu = rng.standard_normal((n_classes, dim))
    mu *= (separation / 2.0) / np.linalg.norm(mu, axis=1, keepdims=True)

    def draw(m):
        y = rng.integers(0, n_classes, size=m)
        X = mu[y] + rng.standard_normal((m, dim))
        return np.ascontiguousarray(X, dtype=dt), y.astype(np.int32)

    Xtr, ytr = draw(n)
    Xte, yte = draw(n_test) if n_test else (None, None)
    return Dataset(Xtr, ytr, Xte, yte, n_classes, "gaussian_mixture")


def teacher_dataset(n: int, sizes: tuple[int, ...] = (20, 32, 3), *, n_test: int = 0, dtype: Any = np.float32,
                    seed: Any = 0) -> Dataset:
    """Inputs x ~ N(0, I); labels = argmax of a random ReLU teacher MLP with ``sizes`` (kaiming normal, no bias).

    ``sizes``: a tuple or list of ≥ 2 layer widths, the last (classes) ≥ 2. Limits: the teacher's
    parameter count, n·max(sizes) and n_test·max(sizes) at most :data:`ENTRIES_MAX`.
    """
    from simulations.nn.model import MLPSpec, init_params

    n = check_int("n", n, 1, ENTRIES_MAX)
    n_test = check_int("n_test", n_test, 0, ENTRIES_MAX)
    dt = check_dtype(dtype)
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(f"sizes must be a tuple or list of layer widths, got {type(sizes).__name__}")
    spec = MLPSpec(tuple(sizes), bias=False, init="kaiming_normal", dtype="float64")
    if spec.sizes[-1] < 2:
        raise ValueError(f"sizes[-1] (number of classes) must be at least 2, got {spec.sizes[-1]}")
    if spec.n_params > ENTRIES_MAX:
        raise ValueError(f"sizes {spec.sizes} give a teacher of {spec.n_params} weights; at most "
                         f"ENTRIES_MAX = {ENTRIES_MAX} are allowed")
    for pname, rows in (("n", n), ("n_test", n_test)):
        _check_entries(pname, rows, "max(sizes)", max(spec.sizes))
    rng = generator(seed)
    teacher = init_params(spec, rng)

    def draw(m):
        X = rng.standard_normal((m, spec.sizes[0]))
        a = X
        for l, W in enumerate(teacher.weights):
            a = a @ W.T
            if l < spec.n_layers - 1:
                a = np.maximum(a, 0.0)
        return np.ascontiguousarray(X, dtype=dt), np.argmax(a, axis=1).astype(np.int32)

    Xtr, ytr = draw(n)
    Xte, yte = draw(n_test) if n_test else (None, None)
    return Dataset(Xtr, ytr, Xte, yte, spec.sizes[-1], "teacher")


def shuffle_indices(n: int, seed: Any = 0) -> np.ndarray:
    """A permutation of 0..n−1 (int64), the same for the same seed in every process (PCG64).

    0 ≤ n ≤ :data:`ENTRIES_MAX`.
    """
    n = check_int("n", n, 0, ENTRIES_MAX)
    return generator(seed).permutation(n).astype(np.int64)
