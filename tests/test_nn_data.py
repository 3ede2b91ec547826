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


# ---------------------------------------------------------------- small IDX sets in the official layout
def _small_split(folder, split="test", n_img=12, n_lab=None, labels=None, name="mnist"):
    """IDX files of one split: n_img random 28×28 images (magic 0x803) and labels (magic 0x801)."""
    rng = np.random.default_rng(0)
    d = folder / name
    d.mkdir(parents=True, exist_ok=True)
    fx, fy = D.FILES[split]
    imgs = rng.integers(0, 256, (n_img, 28, 28), dtype=np.uint8)
    if labels is None:
        labels = np.arange(n_img if n_lab is None else n_lab) % 10
    _write_idx(d / fx, imgs)
    _write_idx(d / fy, np.asarray(labels, dtype=np.uint8))
    return d / fx, d / fy, imgs


def test_small_idx_split_loads_without_checksum(tmp_path):
    px, py, imgs = _small_split(tmp_path)
    X, y = D.load_dataset("mnist", "test", root=tmp_path, normalize=None, checksum=False)
    np.testing.assert_array_equal(X.reshape(12, 28, 28), imgs)
    np.testing.assert_array_equal(y, np.arange(12) % 10)
    # the canonical check refuses the non-canonical file (checksum), naming it
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz.*sha256"):
        D.load_dataset("mnist", "test", root=tmp_path)


def test_label_value_out_of_range_is_refused_naming_the_file(tmp_path):
    _small_split(tmp_path, labels=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 3])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: labels must be in \[0, 9\], found 10"):
        D.load_dataset("mnist", "test", root=tmp_path, checksum=False)


def test_label_count_must_equal_image_count(tmp_path):
    _small_split(tmp_path, n_img=12, n_lab=11)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: 11 labels for 12 images"):
        D.load_dataset("mnist", "test", root=tmp_path, checksum=False)
    _small_split(tmp_path, split="train", n_img=10)  # load_mnist reads the train split first
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: 11 labels for 12 images"):
        D.load_mnist(tmp_path, checksum=False)


def test_swapped_or_wrong_shape_files_are_refused(tmp_path):
    d = tmp_path / "fashion_mnist"
    d.mkdir()
    fx, fy = D.FILES["train"]
    _write_idx(d / fx, np.zeros((3, 28, 27), np.uint8))
    _write_idx(d / fy, np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: expected images of shape \(n, 28, 28\)"):
        D.load_dataset("fashion_mnist", "train", root=tmp_path, checksum=False)
    _write_idx(d / fx, np.zeros((3, 28, 28), np.uint8))
    _write_idx(d / fy, np.zeros((3, 1), np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: expected a 1-D label file"):
        D.load_dataset("fashion_mnist", "train", root=tmp_path, checksum=False)


def test_idx_header_checks_name_the_file(tmp_path):
    # a 1-D header whose dimension overflows 64 bits when multiplied naively
    raw = struct.pack(">HBBIIII", 0, 8, 4, 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(4)
    (tmp_path / "big").write_bytes(raw)
    with pytest.raises(DataError, match=r"big: size mismatch"):
        D.read_idx(tmp_path / "big")
    (tmp_path / "short").write_bytes(struct.pack(">HBB", 0, 8, 3) + bytes(4))
    with pytest.raises(DataError, match=r"short: truncated header"):
        D.read_idx(tmp_path / "short")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=r"tiny: too short"):
        D.read_idx(tmp_path / "tiny")
    with pytest.raises(ValueError, match="expected_sha256"):
        D.read_idx(tmp_path / "tiny", "abc")
    with pytest.raises(TypeError, match="path"):
        D.read_idx(3)


def test_explicit_root_is_used_alone(tmp_path, monkeypatch):
    # a complete copy in TAILCOMP_DATA and in the cache must not be used when root is given
    full = tmp_path / "env"
    _small_split(full)
    monkeypatch.setenv("TAILCOMP_DATA", str(full))
    monkeypatch.setenv("TAILCOMP_CACHE", str(full))
    assert D.load_dataset("mnist", "test", checksum=False)[0].shape == (12, 784)  # found through the env
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=rf"root {missing} does not exist"):
        D.load_dataset("mnist", "test", root=missing, checksum=False)
    part = tmp_path / "part"
    px, py, _ = _small_split(part)
    py.unlink()
    with pytest.raises(DataError, match=rf"mnist/t10k-labels-idx1-ubyte\.gz not found in root {part}"):
        D.load_dataset("mnist", "test", root=part, checksum=False)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match=rf"root {f} is not a folder"):
        D.load_dataset("mnist", "test", root=f, checksum=False)
    with pytest.raises(TypeError, match="root"):
        D.load_dataset("mnist", "test", root=3)


def test_download_goes_into_the_explicit_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILCOMP_CACHE", str(tmp_path / "cache"))
    seen = []

    def fake(name, fname, dest):
        seen.append(dest)
        raise DataError(f"{name}/{fname} → {dest}: download failed: offline")

    monkeypatch.setattr(D, "_download", fake)
    root = tmp_path / "r"
    with pytest.raises(DataError, match="download failed"):
        D.load_dataset("mnist", "test", root=root, download=True)
    assert seen == [root / "mnist" / "t10k-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("kw, match", [(dict(download=1), "download"), (dict(flatten="yes"), "flatten"),
                                       (dict(checksum=0), "checksum"), (dict(normalize=np.array(["unit"])),
                                                                        "normalize")])
def test_load_dataset_flags_and_options_are_checked(tmp_path, kw, match):
    with pytest.raises(TypeError, match=match):
        D.load_dataset("mnist", "test", root=tmp_path, **kw)


@pytest.mark.parametrize("call, err, match", [
    (lambda: D.check_labels("y", np.arange(20) % 3, 20, "a"), TypeError, "n_classes"),
    (lambda: D.check_labels("y", np.arange(20) % 3, 20, None), TypeError, "n_classes"),
    (lambda: D.check_labels("y", np.arange(20) % 3, 20, True), TypeError, "n_classes"),
    (lambda: D.check_labels("y", np.arange(20) % 3, 1.5, 3), TypeError, r"\bn\b"),
    (lambda: D.check_labels("y", np.arange(20) % 3, np.array([1, 2]), 3), TypeError, r"\bn\b"),
    (lambda: D.check_labels("y", np.arange(20) % 3, 20, 0), ValueError, "n_classes"),
])
def test_check_labels_checks_its_sizes(call, err, match):
    with pytest.raises(err, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: D.gaussian_mixture(D.ENTRIES_MAX + 1, 4), r"\bn\b.*ENTRIES_MAX|\bn must"),
    (lambda: D.gaussian_mixture(2**63, 4), r"\bn must"),
    (lambda: D.gaussian_mixture(20, 2**31), "dim"),
    (lambda: D.gaussian_mixture(2**20, 2**6), "ENTRIES_MAX"),
    (lambda: D.gaussian_mixture(20, 4, n_test=41785944), "n_test"),
    (lambda: D.gaussian_mixture(20, 4, n_test=2**23 + 1), "n_test.*ENTRIES_MAX"),
    (lambda: D.gaussian_mixture(20, 4, n_classes=2**31), "n_classes"),
    (lambda: D.gaussian_mixture(20, 4, separation=1e300), "separation"),
    (lambda: D.teacher_dataset(2**31, (4, 5, 3)), r"\bn must"),
    (lambda: D.teacher_dataset(20, (4, 5, 3), n_test=31325057), "n_test"),
    (lambda: D.teacher_dataset(20, (4, 2**13, 2**13)), "ENTRIES_MAX"),
    (lambda: D.shuffle_indices(78287626), r"\bn must"),
    (lambda: D.shuffle_indices(2**63), r"\bn must"),
])
def test_synthetic_sets_bound_their_size_before_drawing(call, match):
    """Sizes beyond ENTRIES_MAX entries (or an unrepresentable separation) are refused before any allocation."""
    with pytest.raises(ValueError, match=match):
        call()


def test_synthetic_sets_at_the_size_limits_are_finite():
    ds = D.gaussian_mixture(20, 4, separation=D.SEPARATION_MAX)
    assert np.all(np.isfinite(ds.X_train))
    # the class means sit at radius separation/2: the features are of that size, not overflowed
    assert np.allclose(np.linalg.norm(ds.X_train.astype(np.float64), axis=1), D.SEPARATION_MAX / 2, rtol=1e-5)
    p = D.shuffle_indices(1000, seed=1)
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))


@pytest.mark.parametrize("sizes", [None, 3, "abc", {"a": 1}])
def test_teacher_dataset_sizes_must_be_a_sequence(sizes):
    with pytest.raises(TypeError, match="sizes"):
        D.teacher_dataset(20, sizes)


def test_read_idx_names_its_path_argument(tmp_path):
    """Missing files, folders and over-long names are a DataError naming ``path`` (not an OSError)."""
    for p in ("", ".", tmp_path, tmp_path / "nope.gz"):
        with pytest.raises(DataError, match="path .*file not found"):
            D.read_idx(p)
    with pytest.raises(DataError, match="path .*cannot be read"):
        D.read_idx(tmp_path / ("a" * 300))
    (tmp_path / "junk").write_bytes(b"SQLite format 3\x00")
    with pytest.raises(DataError, match=r"path .*junk: bad magic number"):
        D.read_idx(tmp_path / "junk")
