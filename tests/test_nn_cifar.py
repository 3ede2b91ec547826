"""CIFAR loaders on small synthetic files in the official format (pickled dicts in a tar.gz with the
official member names): round trip, layout, normalisation, checksums, corruption, search order,
download (fetch monkeypatched), and the real files when TAILCOMP_DATA holds them."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from simulations.nn import cifar as C
from simulations.nn.data import DataError

# the published per-channel training-set moments (PyTorch CIFAR examples), copied here independently
MEAN10, STD10 = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
MEAN100, STD100 = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
TRAIN10 = [f"data_batch_{i}" for i in range(1, 6)]


def _batch(rng, n, fine=10, coarse=None):
    d = {b"batch_label": b"synthetic", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
         b"filenames": [b"img%d.png" % i for i in range(n)]}
    if coarse is None:
        d[b"labels"] = rng.integers(0, fine, n).tolist()
    else:
        d[b"fine_labels"] = rng.integers(0, fine, n).tolist()
        d[b"coarse_labels"] = rng.integers(0, coarse, n).tolist()
    return d


def _write_tar(path: Path, folder: str, members: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    return path


def _cifar10(d: Path, n=3, seed=0, extracted=False, **override):
    """A small CIFAR-10 distribution under d (archive, or extracted folder); returns its batches and members."""
    rng = np.random.default_rng(seed)
    batches = {m: _batch(rng, n) for m in TRAIN10 + ["test_batch"]}
    members = {m: pickle.dumps(b, protocol=2) for m, b in batches.items()}
    members["batches.meta"] = pickle.dumps({b"label_names": [b"x"] * 10}, protocol=2)
    members.update(override)
    if extracted:
        (d / "cifar-10-batches-py").mkdir(parents=True)
        for m, raw in members.items():
            (d / "cifar-10-batches-py" / m).write_bytes(raw)
    else:
        _write_tar(d / "cifar-10-python.tar.gz", "cifar-10-batches-py", members)
    return batches, members


def _raw(batches, names):
    return (np.concatenate([batches[m][b"data"] for m in names]),
            np.concatenate([batches[m][b"labels"] for m in names]))


def test_cifar10_round_trip_and_layouts(tmp_path):
    batches, _ = _cifar10(tmp_path, n=3)
    ds = C.load_cifar10(tmp_path, normalize=None, checksum=False, dtype=np.float64)
    raw, y = _raw(batches, TRAIN10)
    assert ds.X_train.shape == (15, 3, 32, 32) and ds.X_train.dtype == np.float64 and ds.n_classes == 10
    assert ds.name == "cifar10" and ds.X_test.shape == (3, 3, 32, 32) and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(ds.y_train, y)
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][b"labels"])
    # the official layout: row = 1024 red, 1024 green, 1024 blue values, each plane row-major
    for i, c, r, col in [(0, 0, 0, 0), (4, 1, 5, 31), (14, 2, 31, 7), (7, 2, 17, 3)]:
        v = raw[i, c * 1024 + r * 32 + col]
        assert ds.X_train[i, c, r, col] == v
        Xh, _ = C.load_cifar("cifar10", root=tmp_path, normalize=None, checksum=False, layout="nhwc")
        assert Xh.shape == (15, 32, 32, 3) and Xh[i, r, col, c] == v
    Xf, _ = C.load_cifar("cifar10", "test", root=tmp_path, normalize=None, checksum=False, flatten=True)
    assert Xf.shape == (3, 3072) and Xf.dtype == np.float32
    np.testing.assert_array_equal(Xf, batches["test_batch"][b"data"])


def test_normalisations_per_channel(tmp_path):
    batches, _ = _cifar10(tmp_path, n=2)
    raw = batches["test_batch"][b"data"].astype(np.float64).reshape(2, 3, 1024)
    Xu, _ = C.load_cifar("cifar10", "test", root=tmp_path, normalize="unit", checksum=False, dtype=np.float64)
    np.testing.assert_allclose(Xu.reshape(2, 3, 1024), raw / 255, rtol=0, atol=1e-15)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        Xs, _ = C.load_cifar("cifar10", "test", root=tmp_path, checksum=False, dtype=dtype)
        assert Xs.dtype == dtype
        for c in range(3):
            np.testing.assert_allclose(Xs.reshape(2, 3, 1024)[:, c], (raw[:, c] / 255 - MEAN10[c]) / STD10[c],
                                       rtol=0, atol=tol)


def _cifar100(d: Path, n=4, seed=1):
    rng = np.random.default_rng(seed)
    batches = {m: _batch(rng, n, 100, 20) for m in ("train", "test")}
    members = {m: pickle.dumps(b, protocol=2) for m, b in batches.items()}
    members["meta"] = pickle.dumps({b"fine_label_names": [b"x"] * 100}, protocol=2)
    _write_tar(d / "cifar100" / "cifar-100-python.tar.gz", "cifar-100-python", members)
    return batches


def test_cifar100_fine_and_coarse(tmp_path):
    b = _cifar100(tmp_path)
    fine = C.load_cifar100(tmp_path, checksum=False, dtype=np.float64)
    coarse = C.load_cifar100(tmp_path, checksum=False, label_mode="coarse", normalize="unit")
    assert fine.n_classes == 100 and coarse.n_classes == 20 and fine.name == "cifar100"
    np.testing.assert_array_equal(fine.y_train, b["train"][b"fine_labels"])
    np.testing.assert_array_equal(coarse.y_test, b["test"][b"coarse_labels"])
    raw = b["train"][b"data"].astype(np.float64).reshape(4, 3, 1024)
    for c in range(3):
        np.testing.assert_allclose(fine.X_train.reshape(4, 3, 1024)[:, c], (raw[:, c] / 255 - MEAN100[c]) / STD100[c],
                                   rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="label_mode"):
        C.load_cifar("cifar10", root=tmp_path, label_mode="coarse", checksum=False)


def test_extracted_folder_and_numpy1_pickles(tmp_path):
    rng = np.random.default_rng(5)
    b = _batch(rng, 2)
    # a pickle naming numpy 1's module path (as the distributed files, written by numpy 1, do)
    old = pickle.dumps(b, protocol=2).replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    _cifar10(tmp_path, n=2, extracted=True, test_batch=old)
    X, y = C.load_cifar("cifar10", "test", root=tmp_path, normalize=None, checksum=False, flatten=True)
    np.testing.assert_array_equal(X, b[b"data"])
    np.testing.assert_array_equal(y, b[b"labels"])
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"data_batch_3.*missing"):
        C.load_cifar("cifar10", root=tmp_path, checksum=False)


def test_checksums_match_and_mismatch(tmp_path, monkeypatch):
    _, members = _cifar10(tmp_path, n=2)
    arch = tmp_path / "cifar-10-python.tar.gz"
    table = {m: hashlib.md5(raw).hexdigest() for m, raw in members.items()}
    table["cifar-10-python.tar.gz"] = hashlib.md5(arch.read_bytes()).hexdigest()
    monkeypatch.setitem(C.MD5, "cifar10", table)
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz.*published count"):
        C.load_cifar("cifar10", root=tmp_path)  # 10 training images, not 50000
    monkeypatch.setattr(C, "N_ITEMS", {"train": 10, "test": 2})
    assert C.load_cifar10(tmp_path).X_train.shape == (10, 3, 32, 32)
    monkeypatch.setitem(C.MD5, "cifar10", dict(table, **{"cifar-10-python.tar.gz": "0" * 32}))
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz.*md5 checksum mismatch"):
        C.load_cifar10(tmp_path)
    monkeypatch.setitem(C.MD5, "cifar10", dict(table, data_batch_4="0" * 32))
    with pytest.raises(DataError, match=r"data_batch_4.*md5 checksum mismatch"):
        C.load_cifar10(tmp_path)
    # with the published table, the synthetic archive is rejected before anything is unpickled
    monkeypatch.undo()
    with pytest.raises(DataError, match="md5 checksum mismatch"):
        C.load_cifar10(tmp_path)


def test_truncated_archive_and_corrupted_members(tmp_path):
    _cifar10(tmp_path / "a", n=2)
    raw = (tmp_path / "a" / "cifar-10-python.tar.gz").read_bytes()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cifar-10-python.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"t/cifar-10-python\.tar\.gz.*truncated"):
        C.load_cifar("cifar10", root=tmp_path / "t", checksum=False)
    rng = np.random.default_rng(0)
    bad_shape = {**_batch(rng, 2), b"data": np.zeros((2, 3071), np.uint8)}
    bad_label = {**_batch(rng, 2), b"labels": [3, 10]}
    short = {**_batch(rng, 2), b"labels": [3]}
    no_key = {b"data": np.zeros((2, 3072), np.uint8)}
    cases = [(b"\x80\x02garbage", "cannot unpickle"), (pickle.dumps(bad_shape), r"shape \(n, 3072\)"),
             (pickle.dumps(bad_label), r"\[0, 9\]"), (pickle.dumps(short), "one per image"),
             (pickle.dumps(no_key), "labels.*missing"), (pickle.dumps([1, 2]), "dict")]
    for i, (member, msg) in enumerate(cases):
        _cifar10(tmp_path / str(i), n=2, test_batch=member)
        with pytest.raises(DataError, match=rf"cifar-10-batches-py/test_batch.*{msg}"):
            C.load_cifar("cifar10", "test", root=tmp_path / str(i), checksum=False)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def test_a_pickle_naming_other_globals_is_refused(tmp_path):
    target = tmp_path / "created_by_pickle"
    evil = {**_batch(np.random.default_rng(0), 2), b"batch_label": _Evil(str(target))}
    _cifar10(tmp_path, n=2, test_batch=pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match=r"test_batch.*os.*not allowed"):
        C.load_cifar("cifar10", "test", root=tmp_path, checksum=False)
    assert not target.exists()


def test_search_order_root_env_cache(tmp_path, monkeypatch):
    env, cache, other = tmp_path / "env", tmp_path / "cache", tmp_path / "other"
    b_env, _ = _cifar10(env / "cifar10", n=2, seed=1)
    b_cache, _ = _cifar10(cache / "cifar10", n=2, seed=2)
    other.mkdir()
    monkeypatch.setenv("TAILCOMP_DATA", str(env))
    monkeypatch.setenv("TAILCOMP_CACHE", str(cache))
    lab = lambda **kw: C.load_cifar("cifar10", "test", checksum=False, **kw)[1]  # noqa: E731
    np.testing.assert_array_equal(lab(), b_env["test_batch"][b"labels"])  # env before cache
    monkeypatch.delenv("TAILCOMP_DATA")
    np.testing.assert_array_equal(lab(), b_cache["test_batch"][b"labels"])
    np.testing.assert_array_equal(lab(root=env), b_env["test_batch"][b"labels"])
    with pytest.raises(DataError, match=r"not found in root .*other.*used alone"):
        lab(root=other)  # an explicit root is used alone, even though the cache has the files
    with pytest.raises(DataError, match="root .* does not exist"):
        lab(root=tmp_path / "nope")
    shutil.rmtree(cache)
    with pytest.raises(DataError, match=r"cifar10/cifar-10-python\.tar\.gz: not found.*download=True"):
        lab()


def test_download_uses_fetch_and_verifies_md5(tmp_path, monkeypatch):
    _cifar10(tmp_path / "src", n=2)
    src = tmp_path / "src" / "cifar-10-python.tar.gz"
    calls = []

    def fake_fetch(url, out):
        calls.append(url)
        out.write(src.read_bytes())

    monkeypatch.setattr(C, "_fetch", fake_fetch)
    monkeypatch.delenv("TAILCOMP_DATA", raising=False)
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(C.MD5, "cifar10", dict(C.MD5["cifar10"], **{"cifar-10-python.tar.gz": "0" * 32}))
    with pytest.raises(DataError, match="md5 mismatch"):
        C.load_cifar("cifar10", download=True, checksum=False)
    assert not any((tmp_path / "cache" / "cifar10").iterdir())  # nothing left behind
    monkeypatch.setitem(C.MD5, "cifar10", dict(C.MD5["cifar10"],
                                                **{"cifar-10-python.tar.gz": hashlib.md5(src.read_bytes()).hexdigest()}))
    X, _ = C.load_cifar("cifar10", "test", download=True, checksum=False)
    assert X.shape == (2, 3, 32, 32) and (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").is_file()
    C.load_cifar("cifar10", "test", root=tmp_path / "r", download=True, checksum=False)
    assert (tmp_path / "r" / "cifar10" / "cifar-10-python.tar.gz").is_file()
    assert calls == [C.URLS["cifar10"]] * 3  # the second cache load found the file


def test_argument_errors_name_the_parameter(tmp_path):
    for kw, exc, name in [({"name": "cifar11"}, ValueError, "name"), ({"split": "val"}, ValueError, "split"),
                          ({"layout": "chw"}, ValueError, "layout"), ({"dtype": np.int32}, ValueError, "dtype"),
                          ({"normalize": "z"}, ValueError, "normalize"), ({"flatten": 1}, TypeError, "flatten"),
                          ({"checksum": "no"}, TypeError, "checksum"), ({"root": 3}, TypeError, "root"),
                          ({"label_mode": "both"}, ValueError, "label_mode")]:
        args = {"name": "cifar10", "root": tmp_path, **kw}
        with pytest.raises(exc, match=name):
            C.load_cifar(args.pop("name"), **args)


def _real_root():
    env = os.environ.get("TAILCOMP_DATA")
    if env and ((Path(env) / "cifar10" / "cifar-10-python.tar.gz").is_file()
                or (Path(env) / "cifar10" / "cifar-10-batches-py").is_dir()):
        return Path(env)
    return None


@pytest.mark.skipif(_real_root() is None, reason="CIFAR-10 files not found: put cifar10/cifar-10-python.tar.gz "
                    "under TAILCOMP_DATA")
def test_real_cifar10_counts_and_moments():
    ds = C.load_cifar10(_real_root(), dtype=np.float64)
    assert ds.X_train.shape == (50000, 3, 32, 32) and ds.X_test.shape == (10000, 3, 32, 32)
    assert (np.bincount(ds.y_train, minlength=10) == 5000).all()  # published: 5000 per class
    # standard normalisation with the published constants: each channel has mean ≈ 0 and sd ≈ 1
    np.testing.assert_allclose(ds.X_train.mean(axis=(0, 2, 3)), 0, atol=2e-3)
    np.testing.assert_allclose(ds.X_train.std(axis=(0, 2, 3)), 1, atol=2e-3)
