"""CIFAR-10 / CIFAR-100 (Krizhevsky 2009, "Learning multiple layers of features from tiny images"):
the official python distribution, md5-verified, read straight from its ``.tar.gz``.

Format: ``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/{data_batch_1..5, test_batch,
batches.meta}``, ``cifar-100-python.tar.gz`` holds ``cifar-100-python/{train, test, meta}``. Each
batch is a pickled dict: ``b"data"`` a (n, 3072) uint8 array, one image a row — the 1024 red, then
green, then blue values, each plane row-major, i.e. channel-first (3, 32, 32) — and ``b"labels"``
(CIFAR-10, in [0, 10)) or ``b"fine_labels"`` (in [0, 100)) and ``b"coarse_labels"`` (in [0, 20)),
lists of ints. Published counts: 50000 training and 10000 test images (CIFAR-10: five batches of
10000).

Where files are looked for, for ``name`` in {"cifar10", "cifar100"}, exactly as for MNIST in
:mod:`simulations.nn.data`: an explicit ``root`` alone, else env ``TAILCOMP_DATA`` then the cache
``~/.cache/tailcomp`` (env ``TAILCOMP_CACHE``), then with ``download=True`` the official URL (into
``<root>/<name>/`` or the cache's ``<name>/``). In each folder d the first hit wins among
``d/<name>/<archive>``, ``d/<archive>``, ``d/<name>/<folder>/``, ``d/<folder>/`` (the archive, then
an already extracted folder such as ``cifar-10-batches-py/``).

Checksums (:data:`MD5`): the MD5 of each archive and of each member as listed in torchvision's
``torchvision/datasets/cifar.py`` (``CIFAR10.tgz_md5``, ``train_list``, ``test_list``, ``meta``;
the archive sums are also the ones published with the distribution). With ``checksum=True`` the
archive is verified before it is opened, and each member before it is unpickled; then every split
must hold the published count. Failures raise :class:`~simulations.nn.data.DataError` naming the
file (truncated archive, bad md5, missing member, wrong shape or key, bad label).

Security: unpickling can execute code. Members are unpickled only after their md5 matched, unless
``checksum=False`` — then an unverified file is unpickled; the unpickler admits only numpy's
array-reconstruction globals (anything else is refused), which blocks the known ways a crafted
pickle runs code, but use ``checksum=False`` only on files you trust.

Normalisation (``normalize``): ``"standard"`` — x/255, then per channel c (x − mean_c)/std_c with
the training-set pixel mean and standard deviation (:data:`NORMALIZATION`: CIFAR-10 mean (0.4914,
0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) — the pooled population std of all training pixels,
as in the PyTorch CIFAR examples and Stevens, Antiga & Viehmann 2020, "Deep Learning with PyTorch",
§7.1.4; the often copied (0.2023, 0.1994, 0.2010) average per-image stds instead; CIFAR-100 mean
(0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762)); ``"unit"`` — x/255 ∈ [0, 1]; ``None`` —
raw 0..255 as floats. Layout: (n, 3, 32, 32) (``layout="nchw"``) or (n, 32, 32, 3) (``"nhwc"``);
``flatten=True`` gives (n, 3072) in that order (the MLP training core needs ``flatten=True``).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from simulations._core.validation import check_bool, check_choice, check_dtype
from simulations.nn.data import DataError, Dataset, _as_path, _cache_dir

__all__ = ["CIFAR_DATASETS", "CIFAR10_CLASSES", "MD5", "NORMALIZATION", "load_cifar", "load_cifar10",
           "load_cifar100"]

CIFAR_DATASETS = ("cifar10", "cifar100")
SPLITS = ("train", "test")
URLS = {"cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"}
ARCHIVES = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz"}
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
MEMBERS = {"cifar10": {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
           "cifar100": {"train": ("train",), "test": ("test",)}}
#: md5 of the archives and members (torchvision/datasets/cifar.py)
MD5 = {
    "cifar10": {
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85",
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
}
#: per-channel (mean, std) of the training pixels scaled to [0, 1] (see the module docstring)
NORMALIZATION = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
                 "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))}
N_ITEMS = {"train": 50000, "test": 10000}
#: (label key, number of classes) per data set and label mode
LABELS = {("cifar10", "fine"): (b"labels", 10), ("cifar100", "fine"): (b"fine_labels", 100),
          ("cifar100", "coarse"): (b"coarse_labels", 20)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SHAPE = (3, 32, 32)


def _md5(f) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


_core = getattr(np, "_core", None) or np.core
#: the only globals a member's pickle may name: numpy array reconstruction (numpy 1 and 2 spellings)
_SAFE = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
for _mod in ("numpy.core", "numpy._core"):
    _SAFE[(f"{_mod}.multiarray", "_reconstruct")] = _core.multiarray._reconstruct
    _SAFE[(f"{_mod}.numeric", "_frombuffer")] = _core.numeric._frombuffer
_SAFE[("_codecs", "encode")] = __import__("codecs").encode  # bytes in protocol-2 pickles written by Python 3


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _SAFE[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch") from None


def _locate(name: str, root: Any, download: bool) -> Path:
    """The archive file or extracted folder of ``name`` (see the module docstring for the order)."""
    arch, folder = ARCHIVES[name], FOLDERS[name]

    def hit(d: Path):
        for cand in (d / name / arch, d / arch):
            if cand.is_file():
                return cand
        for cand in (d / name / folder, d / folder):
            if cand.is_dir():
                return cand
        return None

    if root is not None:  # an explicit root is used alone
        root = _as_path("root", root)
        found = hit(root)
        if found is not None:
            return found
        if root.exists() and not root.is_dir():
            raise DataError(f"root {root} is not a folder: cannot read or download {name}/{arch}")
        if not download:
            what = f"root {root} does not exist" if not root.exists() else \
                f"{name}/{arch} (or an extracted {folder}/) not found in root {root}"
            raise DataError(f"{what}; an explicit root is used alone (not TAILCOMP_DATA or the cache): put "
                            f"{name}/{arch} there, pass download=True to fetch it into it, or omit root")
        return _download(name, root / name / arch)
    dirs = ([Path(os.environ["TAILCOMP_DATA"])] if os.environ.get("TAILCOMP_DATA") else []) + [_cache_dir()]
    for d in dirs:
        found = hit(d)
        if found is not None:
            return found
    if not download:
        raise DataError(f"{name}/{arch}: not found (looked for {name}/{arch}, {arch}, {name}/{folder}/ and "
                        f"{folder}/ in {', '.join(map(str, dirs))}); pass root=, set TAILCOMP_DATA, or use "
                        "download=True")
    return _download(name, _cache_dir() / name / arch)


def _fetch(url: str, out) -> None:
    """Copy the body of ``url`` into the open binary file ``out`` (the one network access)."""
    with urllib.request.urlopen(url, timeout=120) as resp:
        shutil.copyfileobj(resp, out)


def _download(name: str, dest: Path) -> Path:
    """Fetch the archive of ``name`` into ``dest`` (md5-verified, written atomically)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    url, tmp = URLS[name], None
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out)
        with open(tmp, "rb") as f:
            got = _md5(f)
        if got != MD5[name][ARCHIVES[name]]:
            raise DataError(f"{url} → {dest}: md5 mismatch (expected {MD5[name][ARCHIVES[name]]}, got {got})")
        os.replace(tmp, dest)
        tmp = None
        return dest
    except OSError as exc:
        raise DataError(f"{name}/{ARCHIVES[name]} → {dest}: download from {url} failed: {exc}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _read_members(name: str, src: Path, members: tuple, checksum: bool) -> dict:
    """``{member: (where, bytes)}`` from the archive or folder ``src``, each md5-checked if ``checksum``."""
    out = {}
    if src.is_file():
        if checksum:
            with open(src, "rb") as f:
                got = _md5(f)
            if got != MD5[name][ARCHIVES[name]]:
                raise DataError(f"{src}: md5 checksum mismatch (expected {MD5[name][ARCHIVES[name]]}, got {got}); "
                                "the archive is corrupted or not the canonical one — delete it and download again")
        try:
            with tarfile.open(src, "r:gz") as tf:
                for m in members:
                    where = f"{src}[{FOLDERS[name]}/{m}]"
                    try:
                        info = tf.getmember(f"{FOLDERS[name]}/{m}")
                    except KeyError:
                        raise DataError(f"{src}: member {FOLDERS[name]}/{m} missing from the archive") from None
                    fm = tf.extractfile(info)
                    if fm is None:
                        raise DataError(f"{where}: not a regular file in the archive")
                    out[m] = (where, fm.read())
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{src}: cannot read the archive ({type(exc).__name__}: {exc}); it is truncated or "
                            "corrupted") from exc
    else:
        for m in members:
            p = src / m
            if not p.is_file():
                raise DataError(f"{p}: missing from the extracted folder {src}")
            out[m] = (str(p), p.read_bytes())
    if checksum:
        for m, (where, raw) in out.items():
            got = _md5(io.BytesIO(raw))
            if got != MD5[name][m]:
                raise DataError(f"{where}: md5 checksum mismatch (expected {MD5[name][m]}, got {got}); not unpickled")
    return out


def _parse(where: str, raw: bytes, key: bytes, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3072) uint8, labels (n,) int32) of one pickled batch, with its structure checked."""
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001  (an unpickler may raise anything on a corrupted stream)
        raise DataError(f"{where}: cannot unpickle ({type(exc).__name__}: {exc}); the file is corrupted") from exc
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a pickled dict, got {type(d).__name__}")
    for k in (b"data", key):
        if k not in d:
            raise DataError(f"{where}: key {k!r} missing (keys: {sorted(map(repr, d))})")
    data = d[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: b'data' must be a uint8 array of shape (n, 3072), got {what}")
    try:
        labels = np.asarray(d[key])
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{where}: {key!r} is not a list of labels ({exc})") from exc
    if labels.shape != (data.shape[0],) or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise DataError(f"{where}: {key!r} must be {data.shape[0]} integer labels (one per image), got "
                        f"{labels.dtype} of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"{where}: {key!r} must be in [0, {n_classes - 1}], found values in "
                        f"[{int(labels.min())}, {int(labels.max())}]")
    return data, labels.astype(np.int32)


def load_cifar(name: str, split: str = "train", *, root: str | os.PathLike | None = None, download: bool = False,
               normalize: str | None = "standard", dtype: Any = np.float32, layout: str = "nchw",
               flatten: bool = False, checksum: bool = True, label_mode: str = "fine") -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of one split: X (n, 3, 32, 32) (``layout="nhwc"``: (n, 32, 32, 3); ``flatten=True``:
    (n, 3072)) in ``dtype``, y (n,) int32 — CIFAR-10 labels in [0, 10), CIFAR-100 fine in [0, 100) or
    (``label_mode="coarse"``, CIFAR-100 only) coarse in [0, 20). See the module docstring for where
    files are looked for, the checks, the normalisation and the risk of ``checksum=False``.
    """
    check_choice("name", name, CIFAR_DATASETS)
    check_choice("split", split, SPLITS)
    if normalize is not None:
        check_choice("normalize", normalize, ("standard", "unit"))
    dt = check_dtype(dtype)
    check_choice("layout", layout, ("nchw", "nhwc"))
    check_choice("label_mode", label_mode, ("fine", "coarse"))
    if (name, label_mode) not in LABELS:
        raise ValueError(f"label_mode must be 'fine' for {name} (coarse labels exist only for cifar100), "
                         f"got {label_mode!r}")
    download, flatten, checksum = (check_bool(k, v) for k, v in
                                   (("download", download), ("flatten", flatten), ("checksum", checksum)))
    key, n_classes = LABELS[(name, label_mode)]
    src = _locate(name, root, download)
    parts = [_parse(where, raw, key, n_classes)
             for where, raw in _read_members(name, src, MEMBERS[name][split], checksum).values()]
    imgs = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if checksum and imgs.shape[0] != N_ITEMS[split]:
        raise DataError(f"{src}: expected {N_ITEMS[split]} {split} images (the published count), got {imgs.shape[0]}")
    n = imgs.shape[0]
    X = imgs.reshape((n,) + IMAGE_SHAPE).astype(dt)
    if normalize is not None:
        X /= dt.type(255.0)
        if normalize == "standard":
            mean, std = (np.asarray(v, dtype=dt).reshape(1, 3, 1, 1) for v in NORMALIZATION[name])
            X -= mean
            X /= std
    if layout == "nhwc":
        X = X.transpose(0, 2, 3, 1)
    if flatten:
        X = X.reshape(n, 3072)
    return np.ascontiguousarray(X), labels


def _load_both(name, root, label_mode, **kw) -> Dataset:
    Xtr, ytr = load_cifar(name, "train", root=root, label_mode=label_mode, **kw)
    Xte, yte = load_cifar(name, "test", root=root, label_mode=label_mode, **kw)
    return Dataset(Xtr, ytr, Xte, yte, LABELS[(name, label_mode)][1], name)


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = False, normalize: str | None = "standard",
                 dtype: Any = np.float32, layout: str = "nchw", flatten: bool = False,
                 checksum: bool = True) -> Dataset:
    """CIFAR-10 train (50000) and test (10000) sets, 10 classes (see :func:`load_cifar`)."""
    return _load_both("cifar10", root, "fine", download=download, normalize=normalize, dtype=dtype, layout=layout,
                      flatten=flatten, checksum=checksum)


def load_cifar100(root: str | os.PathLike | None = None, *, download: bool = False,
                  normalize: str | None = "standard", dtype: Any = np.float32, layout: str = "nchw",
                  flatten: bool = False, checksum: bool = True, label_mode: str = "fine") -> Dataset:
    """CIFAR-100 train (50000) and test (10000) sets, 100 fine or 20 coarse classes (see :func:`load_cifar`)."""
    return _load_both("cifar100", root, label_mode, download=download, normalize=normalize, dtype=dtype,
                      layout=layout, flatten=flatten, checksum=checksum)
