"""Checkpoints of the neural core: atomic saves under faults and kills, verified loads, strict JSON records."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, gaussian_mixture, train
from simulations.nn import checkpoint as C
from simulations.nn.checkpoint import CheckpointError, CheckpointNotFoundError, load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
SPEC = MLPSpec((6, 8, 3))
EVERY = 5  # checkpoint every EVERY steps
BUDGET = 40


def _data():
    return gaussian_mixture(60, 6, 3, seed=1)  # 6 steps per epoch at batch_size 10


def _kw():
    return dict(optimizer=SGD(0.1, 0.9), noise=NoiseConfig(1.5, 0.1, "neuron"), batch_size=10, averaging=3, seed=4)


@pytest.fixture(scope="module")
def full():
    """The uninterrupted run."""
    return train(SPEC, _data(), stop=StopRules(max_steps=BUDGET), **_kw())


def _tmp_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def _assert_resume_is_exact(ck: Path, full) -> None:
    rest = train(SPEC, _data(), stop=StopRules(max_steps=BUDGET), resume=ck, checkpoint_path=ck, **_kw())
    assert rest.status == "completed" and rest.steps == full.steps
    np.testing.assert_array_equal(rest.params.flat, full.params.flat)
    np.testing.assert_array_equal(rest.averaged.flat, full.averaged.flat)
    np.testing.assert_array_equal(rest.state.velocity, full.state.velocity)
    np.testing.assert_array_equal(rest.state.noise_states, full.state.noise_states)


# ---- (a) fault injection: a save that fails at each of its write points ---------------------------------
class _Fault:
    """Make one write point of the ``nth`` save raise; ``point`` in savez, open, write, fsync, replace, fsync_dir."""

    def __init__(self, monkeypatch, point: str, nth: int):
        self.point, self.nth, self.saves, self.tmp_fds, self.dir_fds = point, nth, 0, set(), set()
        real = {k: getattr(os, k) for k in ("open", "write", "fsync", "replace", "close")}
        real_savez = np.savez

        def savez(*a, **k):
            self.saves += 1
            self._maybe("savez")
            return real_savez(*a, **k)

        def open_(path, flags, *a, **k):
            if str(path).endswith(".tmp"):
                self._maybe("open")
            fd = real["open"](path, flags, *a, **k)
            (self.tmp_fds if str(path).endswith(".tmp") else self.dir_fds).add(fd)
            return fd

        def write(fd, data):
            if fd in self.tmp_fds and self._hit("write"):
                real["write"](fd, bytes(data)[:len(data) // 2])  # a partial write, then the failure
                raise OSError(28, "No space left on device (injected)")
            return real["write"](fd, data)

        def fsync(fd):
            if fd in self.tmp_fds:
                self._maybe("fsync")
            elif fd in self.dir_fds:
                self._maybe("fsync_dir")
            return real["fsync"](fd)

        def close(fd):
            self.tmp_fds.discard(fd)  # the number may be reused
            self.dir_fds.discard(fd)
            return real["close"](fd)

        def replace(src, dst):
            self._maybe("replace")
            return real["replace"](src, dst)

        monkeypatch.setattr(np, "savez", savez)
        for name, fn in (("open", open_), ("write", write), ("fsync", fsync), ("replace", replace),
                         ("close", close)):
            monkeypatch.setattr(os, name, fn)

    def _hit(self, point: str) -> bool:
        return point == self.point and self.saves == self.nth

    def _maybe(self, point: str) -> None:
        if self._hit(point):
            raise OSError(5, f"injected failure at {point}")


@pytest.mark.parametrize("point", ["savez", "open", "write", "fsync", "replace", "fsync_dir"])
@pytest.mark.parametrize("nth", [1, 3])
def test_failed_save_leaves_a_resumable_checkpoint_or_a_clear_refusal(tmp_path, monkeypatch, full, point, nth):
    ck = tmp_path / "run"
    with monkeypatch.context() as m:
        _Fault(m, point, nth)
        with pytest.raises(OSError, match="injected"):  # a failed save is an error, never silent
            train(SPEC, _data(), stop=StopRules(max_steps=BUDGET), checkpoint_path=ck, checkpoint_every=EVERY,
                  **_kw())
    assert _tmp_files(tmp_path) == []
    committed = point == "fsync_dir"  # the directory fsync comes after the commit
    if nth == 1 and not committed:
        with pytest.raises(CheckpointNotFoundError, match=str(tmp_path / "run.npz")):
            load_checkpoint(ck)
        return
    state, _ = load_checkpoint(ck)
    assert state.step == EVERY * (nth if committed else nth - 1)
    _assert_resume_is_exact(ck, full)
    assert _tmp_files(tmp_path) == []


_CHILD = """
import sys
from simulations.nn import SGD, MLPSpec, NoiseConfig, StopRules, gaussian_mixture, train
train(MLPSpec((6, 8, 3)), gaussian_mixture(60, 6, 3, seed=1), optimizer=SGD(0.1, 0.9),
      noise=NoiseConfig(1.5, 0.1, "neuron"), batch_size=10, averaging=3, seed=4,
      stop=StopRules(max_steps=int(sys.argv[2])), checkpoint_path=sys.argv[1], checkpoint_every=1)
"""


def test_sigkill_during_saves_leaves_an_exact_checkpoint(tmp_path):
    budget = 4000
    full = train(SPEC, _data(), stop=StopRules(max_steps=budget), **_kw())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for seed in (0, 1, 2):
        folder = tmp_path / f"kill{seed}"
        folder.mkdir()
        ck = folder / "run"
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(ck), str(budget)], env=env, cwd=REPO,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while not (folder / "run.npz").exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child wrote no checkpoint"
            time.sleep(0.005)
        time.sleep(np.random.default_rng(seed).uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
        assert len(_tmp_files(folder)) <= 1
        # a committed checkpoint exists (we waited for it) and every commit is one rename: it must load
        state, _ = load_checkpoint(ck)
        assert 0 < state.step <= budget
        rest = train(SPEC, _data(), stop=StopRules(max_steps=budget), resume=ck, checkpoint_path=ck, **_kw())
        np.testing.assert_array_equal(rest.params.flat, full.params.flat)
        np.testing.assert_array_equal(rest.averaged.flat, full.averaged.flat)
        assert _tmp_files(folder) == []  # the next save of the path replaced the stale temporary


# ---- (b) corrupted checkpoints: one clear error naming the file ------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    r = train(SPEC, _data(), stop=StopRules(max_steps=8), checkpoint_path=folder / "good", **_kw())
    f = folder / "good.npz"
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    return r, f, f.read_bytes(), arrays


def _raw(arrays):
    meta = json.loads(arrays["meta"].tobytes())
    return {k: v for k, v in arrays.items() if k in C._ARRAYS}, meta


def _write(path: Path, arrays: dict) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def _expect(path: Path, match: str):
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_good_checkpoint_loads_exactly(saved):
    r, f, _, _ = saved
    state, cfg = load_checkpoint(f)
    assert state.params == r.state.params and state.step == 8 and cfg["batch_size"] == 10
    np.testing.assert_array_equal(state.perm, r.state.perm)
    assert state.shuffle_state == r.state.shuffle_state


@pytest.mark.parametrize("cut", [0, 1, 100, -1, -22, "half"])
def test_truncated_file(saved, tmp_path, cut):
    data = saved[2]
    n = len(data) // 2 if cut == "half" else cut % len(data)
    p = tmp_path / "t.npz"
    p.write_bytes(data[:n])
    _expect(p, "not a valid .npz|damaged")


def test_flipped_bytes_never_load_wrong_data(saved, tmp_path):
    r, _, data, _ = saved
    p = tmp_path / "f.npz"
    errors = 0
    for pos in np.random.default_rng(0).choice(len(data), size=300, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        p.write_bytes(bytes(bad))
        try:
            state, _ = load_checkpoint(p)
        except CheckpointError as exc:
            assert str(p) in str(exc)
            errors += 1
            continue
        # a flip in zip bookkeeping that no reader uses: the content must be the original
        assert state.params == r.state.params and state.step == 8
        np.testing.assert_array_equal(state.perm, r.state.perm)
    assert errors > 250


def test_flipped_payload_byte_is_a_checksum_error(saved, tmp_path):
    arrays = dict(saved[3])
    arrays["params"] = arrays["params"].copy()
    arrays["params"][3] = np.nextafter(arrays["params"][3], np.float32(np.inf))  # zip CRCs are recomputed
    _expect(_write(tmp_path / "c.npz", arrays), "checksum mismatch")


def test_not_a_zip(saved, tmp_path):
    _expect(_write_bytes(tmp_path / "a.npz", b""), "not a valid .npz")
    _expect(_write_bytes(tmp_path / "b.npz", b"hello, not a checkpoint"), "not a valid .npz")
    np.save(tmp_path / "c.npy", np.arange(5))
    os.replace(tmp_path / "c.npy", tmp_path / "c.npz")
    _expect(tmp_path / "c.npz", "not a valid .npz")
    (tmp_path / "d.npz").mkdir()
    _expect(tmp_path / "d.npz", "not a regular file")


def _write_bytes(p: Path, b: bytes) -> Path:
    p.write_bytes(b)
    return p


def test_missing_file_is_a_checkpoint_error_and_file_not_found(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match=str(tmp_path / "nope.npz")) as info:
        load_checkpoint(tmp_path / "nope")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("key", ["params", "perm", "meta", "sha256", "noise_states"])
def test_missing_key(saved, tmp_path, key):
    arrays = {k: v for k, v in saved[3].items() if k != key}
    _expect(_write(tmp_path / "m.npz", arrays), rf"missing arrays \['{key}'\]")


def test_extra_key(saved, tmp_path):
    _expect(_write(tmp_path / "e.npz", {**saved[3], "junk": np.zeros(1)}), r"unexpected arrays \['junk'\]")


def test_two_file_version_1_checkpoint_is_refused(saved, tmp_path):
    arrays, meta = _raw(saved[3])
    p = _write(tmp_path / "old.npz", arrays)
    (tmp_path / "old.json").write_text(json.dumps({**meta, "format": "tailcomp.nn.checkpoint/1"}))
    _expect(p, "version-1")


def _repacked(tmp_path, saved, name="r.npz", meta_changes=None, **changes) -> Path:
    """A checkpoint with changed content and a *valid* checksum: only the structural checks can catch it."""
    arrays, meta = _raw(saved[3])
    arrays.update(changes)
    meta.update(meta_changes or {})
    p = tmp_path / name
    p.write_bytes(C._pack(arrays, meta))
    return p


@pytest.mark.parametrize("changes, match", [
    (dict(params=np.zeros(10, np.float32)), "params must have shape"),
    (dict(params=np.zeros(SPEC.n_params, np.float64)), "params must have dtype float32"),
    (dict(velocity=np.zeros(3, np.float32)), "velocity must have shape"),
    (dict(avg_sum=np.zeros(SPEC.n_params, np.float32)), "avg_sum must have dtype float64"),
    (dict(noise_states=np.ones((8, 3), np.uint64)), "noise_states must be a uint64 array of shape"),
    (dict(noise_states=np.zeros((8, 2), np.uint64)), "all-zero xoroshiro128"),
    (dict(perm=np.zeros(60, np.int64)), r"perm is not a permutation of range\(60\)"),
    (dict(perm=np.arange(1, 61, dtype=np.int64)), r"perm is not a permutation"),
    (dict(perm=np.arange(60, dtype=np.int32)), "perm must be a non-empty 1-d int64"),
    (dict(perm=np.zeros(0, np.int64)), "perm must be a non-empty"),
])
def test_wrong_arrays_with_valid_checksum(saved, tmp_path, changes, match):
    _expect(_repacked(tmp_path, saved, **changes), match)


@pytest.mark.parametrize("meta_changes, match", [
    ({"version": 1}, "format version 1"),
    ({"version": 3}, "format version 3"),
    ({"format": "something else"}, "not a tailcomp checkpoint"),
    ({"spec": {"sizes": [6, 8, 4]}}, "params must have shape"),
    ({"spec": {"sizes": [6]}}, "invalid spec"),
    ({"step": -1}, "step must be an integer >= 0"),
    ({"step": 2, "start_step": 5}, "before start_step"),
    ({"tail_left": -2}, "tail_left must be an integer >= -1"),
    ({"pos": 1000}, "pos 1000 exceeds"),
    ({"elapsed": "soon"}, "elapsed must be a finite number"),
    ({"history": {"a": 1}}, "history must be a list"),
    ({"config": []}, "config must be an object"),
    ({"status": 3}, "status must be a string or null"),
    ({"shuffle_state": {"bit_generator": "MT19937"}}, "not a PCG64"),
    ({"shuffle_state": {"bit_generator": "PCG64", "state": {"state": 1, "inc": 2}, "has_uint32": 0,
                        "uinteger": 0}}, "odd inc"),
    ({"shuffle_state": {"bit_generator": "PCG64", "state": {"state": 1, "inc": 3}, "has_uint32": 7,
                        "uinteger": 0}}, "has_uint32"),
])
def test_wrong_metadata_with_valid_checksum(saved, tmp_path, meta_changes, match):
    if "spec" in meta_changes:
        meta_changes = {"spec": {**SPEC.to_dict(), **meta_changes["spec"]}}
    _expect(_repacked(tmp_path, saved, meta_changes=meta_changes), match)


def test_missing_metadata_field(saved, tmp_path):
    arrays, meta = _raw(saved[3])
    del meta["shuffle_state"]
    p = tmp_path / "nm.npz"
    p.write_bytes(C._pack(arrays, meta))
    _expect(p, r"metadata lacks \['shuffle_state'\]")


def test_save_refuses_a_state_that_would_not_load(saved, tmp_path):
    r = saved[0]
    state = C.copy_state(r.state)
    state.perm = np.zeros_like(state.perm)  # one sample, over and over
    with pytest.raises(CheckpointError, match="perm is not a permutation"):
        save_checkpoint(tmp_path / "z", state)
    assert list(tmp_path.iterdir()) == []


def test_resume_with_other_settings_names_the_checkpoint(saved):
    f = saved[1]
    kw = _kw()
    for changes, match in ((dict(averaging=0), "averaging"), (dict(optimizer=SGD(0.1)), "momentum"),
                           (dict(noise=NoiseConfig(1.5, 0.1, "neuron", layers=[0, 1])), "noise streams"),
                           (dict(batch_size=60), "steps at batch_size")):
        with pytest.raises(ValueError, match=match) as info:
            train(SPEC, _data(), stop=StopRules(max_steps=12), resume=f, **{**kw, **changes})
        assert str(f) in str(info.value)
    with pytest.raises(ValueError, match="sizes"):
        train(MLPSpec((6, 9, 3)), _data(), stop=StopRules(max_steps=12), resume=f, **kw)


def test_cli_resume_from_a_damaged_checkpoint_exits_2_naming_the_file(saved, tmp_path, capsys):
    from simulations.nn.cli import main

    p = tmp_path / "bad.npz"
    p.write_bytes(saved[2][: len(saved[2]) // 2])
    argv = ["--dataset", "gaussian_mixture", "--sizes", "6,8,3", "--n-train", "60", "--batch-size", "10",
            "--steps", "12", "--no-progress", "--resume", str(p)]
    assert main(argv) == 2
    assert str(p) in capsys.readouterr().err


def test_resume_with_averaging_from_a_checkpoint_without_it_is_refused(tmp_path):
    # the averaging kernel would add into an empty avg_sum buffer
    kw = {**_kw(), "averaging": 0}
    train(SPEC, _data(), stop=StopRules(max_steps=8), checkpoint_path=tmp_path / "na", **kw)
    with pytest.raises(ValueError, match="averaging = 0, the run has averaging=3") as info:
        train(SPEC, _data(), stop=StopRules(max_steps=12), resume=tmp_path / "na", **_kw())
    assert str(tmp_path / "na.npz") in str(info.value)


def test_checkpoint_file_checks_its_path(tmp_path):
    assert C.checkpoint_file(tmp_path / "run.json") == tmp_path / "run.npz"
    assert C.checkpoint_file("a/b") == Path("a/b.npz")
    for bad in (3, None, [1], object()):
        with pytest.raises(TypeError, match="path"):
            C.checkpoint_file(bad)
    for bad in ("", ".", "a/..", "a" * 300):
        with pytest.raises(ValueError, match="path"):
            C.checkpoint_file(bad)
    assert C.checkpoint_file("a" * (C.NAME_MAX - 4)).name == "a" * (C.NAME_MAX - 4) + ".npz"


def test_train_names_resume_and_checkpoint_path_in_its_errors(tmp_path):
    d = gaussian_mixture(20, 4, 3, seed=0)
    kw = dict(batch_size=5, stop=StopRules(max_steps=2))
    with pytest.raises(CheckpointNotFoundError, match="resume"):
        train(MLPSpec((4, 5, 3)), d, resume=str(tmp_path / "missing"), **kw)
    for bad in ("", ".", "a" * 300):
        with pytest.raises(ValueError, match="checkpoint_path"):
            train(MLPSpec((4, 5, 3)), d, checkpoint_path=bad, **kw)
        with pytest.raises(ValueError, match="resume"):
            train(MLPSpec((4, 5, 3)), d, resume=bad, **kw)
    assert not list(tmp_path.iterdir())  # nothing was written
