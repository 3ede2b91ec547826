"""Data loading: IDX reader, MNIST / Fashion-MNIST files, corruption errors, synthetic sets, validation."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulations.nn import data as D
from simulations.nn.data import DataError


def _write_idx(path, arr: np.ndarray, magic_type=0x08, compress=True):
    hdr = struct.pack(">HBB", 0, magic_type, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    raw = hdr + arr.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


def test_read_idx_roundtrip_plain_and_gzip(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    np.testing.assert_array_equal(D.read_idx(_write_idx(tmp_path / "i.gz", imgs)), imgs)
    np.testing.assert_array_equal(D.read_idx(_write_idx(tmp_path / "l", labels, compress=False)), labels)
    sha = hashlib.sha256((tmp_path / "i.gz").read_bytes()).hexdigest()
    np.testing.assert_array_equal(D.read_idx(tmp_path / "i.gz", sha), imgs)


def test_read_idx_errors_name_the_file(tmp_path):
    imgs = np.zeros((5, 2, 2), dtype=np.uint8)
    p = _write_idx(tmp_path / "x.gz", imgs)
    with pytest.raises(DataError, match=r"x\.gz.*sha256"):
        D.read_idx(p, "0" * 64)
    bad_magic = _write_idx(tmp_path / "m.gz", imgs, magic_type=0x0D)
    with pytest.raises(DataError, match=r"m\.gz.*magic"):
        D.read_idx(bad_magic)
    # header says 5 items, payload shorter
    raw = struct.pack(">HBBIII", 0, 8, 3, 5, 2, 2) + bytes(12)
    (tmp_path / "s").write_bytes(raw)
    with pytest.raises(DataError, match=r"s.*size mismatch"):
        D.read_idx(tmp_path / "s")
    # truncated gzip stream
    b = p.read_bytes()
    (tmp_path / "t.gz").write_bytes(b[: len(b) // 2])
    with pytest.raises(DataError, match=r"t\.gz.*truncated"):
        D.read_idx(tmp_path / "t.gz")
    with pytest.raises(DataError, match="not found"):
        D.read_idx(tmp_path / "nope.gz")


@pytest.mark.data
def test_mnist_and_fashion_mnist_load(data_dir):
    for name, mean in (("mnist", 0.1307), ("fashion_mnist", 0.2860)):
        X, y = D.load_dataset(name, "test", root=data_dir, normalize="unit")
        assert X.shape == (10000, 784) and X.dtype == np.float32 and y.dtype == np.int32
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))
        # test-set pixel mean within 0.01 of the published training-set mean
        assert abs(X.mean() - mean) < 0.01
    ds = D.load_mnist(data_dir)
    assert ds.X_train.shape == (60000, 784) and ds.y_test.shape == (10000,)
    # standard normalisation: the training set has mean ≈ 0 and sd ≈ 1 (the constants are its moments)
    assert abs(float(ds.X_train.mean())) < 1e-3 and abs(float(ds.X_train.std()) - 1) < 1e-3
    # class counts of the MNIST test set (published: 980 zeros, 1135 ones)
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts[0] == 980 and counts[1] == 1135


@pytest.mark.data
def test_corrupted_copy_is_rejected(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("TAILCOMP_DATA", raising=False)
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "cache"))
    src = data_dir / "mnist"
    dst = tmp_path / "mnist"
    dst.mkdir()
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(src / f, dst / f)
    X, y = D.load_dataset("mnist", "test", root=tmp_path)
    assert X.shape == (10000, 784)
    # flip one byte: checksum failure naming the file
    p = dst / "t10k-labels-idx1-ubyte.gz"
    b = bytearray(p.read_bytes())
    b[100] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*sha256"):
        D.load_dataset("mnist", "test", root=tmp_path)
    # truncate the image file
    p = dst / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz"):
        D.load_dataset("mnist", "test", root=tmp_path)
    # missing file, no download
    with pytest.raises(DataError, match="not found"):
        D.load_dataset("mnist", "train", root=tmp_path)


def test_offline_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILCOMP_DATA", str(tmp_path))
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=str(tmp_path)):
        D.load_dataset("fashion_mnist", "test")


def test_synthetic_sets_are_deterministic_and_learnable():
    a = D.gaussian_mixture(500, 10, 4, n_test=100, seed=3)
    b = D.gaussian_mixture(500, 10, 4, n_test=100, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.shape == (500, 10) and a.X_test.shape == (100, 10) and a.n_classes == 4
    assert set(np.unique(a.y_train)) == {0, 1, 2, 3}
    t = D.teacher_dataset(400, (6, 16, 3), n_test=50, seed=1)
    assert t.X_train.shape == (400, 6) and t.y_train.max() <= 2
    # the teacher's labels are a deterministic function of x: same x ⇒ same label across calls
    t2 = D.teacher_dataset(400, (6, 16, 3), n_test=50, seed=1)
    np.testing.assert_array_equal(t.y_train, t2.y_train)
    p = D.shuffle_indices(100, seed=5)
    assert sorted(p.tolist()) == list(range(100))
    np.testing.assert_array_equal(p, D.shuffle_indices(100, seed=5))
    assert not np.array_equal(p, D.shuffle_indices(100, seed=6))


@given(name=st.text(max_size=12), split=st.sampled_from(["train", "test", "val", ""]))
def test_load_dataset_rejects_unknown_names(name, split):
    if name in D.DATASETS and split in ("train", "test"):
        return
    with pytest.raises(ValueError, match="name|split"):
        D.load_dataset(name, split, root="/nonexistent")


@given(n=st.integers(-5, 0) | st.floats(0.5, 3.5).filter(lambda x: not float(x).is_integer()))
def test_gaussian_mixture_rejects_bad_n(n):
    with pytest.raises((ValueError, TypeError), match="n"):
        D.gaussian_mixture(n)


@given(labels=st.lists(st.integers(-3, 12), min_size=1, max_size=20))
def test_check_labels_range(labels):
    y = np.array(labels)
    if y.min() < 0 or y.max() >= 10:
        with pytest.raises(ValueError, match="labels"):
            D.check_labels("labels", y, len(labels), 10)
    else:
        np.testing.assert_array_equal(D.check_labels("labels", y, len(labels), 10), y)
