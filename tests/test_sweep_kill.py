"""A SIGKILLed sweep leaves no process behind: its pool workers and the resource tracker die with it.

Oracle: the kernel's process table.  The children of the sweep process (read from
/proc while it runs: its two pool workers and the multiprocessing resource tracker) must
all be gone within a few seconds after the sweep alone, not its process group, is killed
mid-run.  (That nothing finished is lost and nothing is computed twice on resume is
``test_sweep_runner.test_sigkill_mid_sweep_then_resume``.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _sweep_support import REPO, finished_ids

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

SLOW_SWEEP = """\
experiment: toy
seeds: 4
base: {steps: 100, eval_every: 100, sleep: 3.0}
grid:
  lr: [0.25, 0.5]
"""


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of ``pid`` from /proc, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], int(fields[19])


def _children(pid: int) -> dict[int, int]:
    """pid -> start time of every live process whose parent is ``pid``."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st is not None and st[0] == pid and st[1] != "Z":
                out[int(d)] = st[2]
    return out


def _alive(pid: int, start: int) -> bool:
    st = _stat(pid)
    return st is not None and st[2] == start and st[1] != "Z"


def test_sigkilled_sweep_leaves_no_worker_or_tracker(tmp_path):
    sweep_file = tmp_path / "slow.yaml"
    sweep_file.write_text(SLOW_SWEEP)
    db = tmp_path / "slow.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "simulations.cli", "sweep", str(sweep_file), "--store", str(db), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        while True:  # two workers and the resource tracker, and a run in flight
            children = _children(proc.pid)
            statuses = finished_ids(db) if db.exists() else {}
            if len(children) >= 3 and "running" in statuses.values():
                break
            assert proc.poll() is None, f"sweep exited early: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, f"the sweep did not start its pool within 60 s ({children})"
            time.sleep(0.05)
        time.sleep(0.5)  # the workers are inside a run (each sleeps 3 s)
        children.update(_children(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)  # the sweep only, not its process group
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_alive(p, s) for p, s in children.items()) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = {p for p, s in children.items() if _alive(p, s)}
        assert not survivors, f"processes of the killed sweep still alive 5 s later: {survivors} of {set(children)}"
    finally:
        for p, s in children.items():
            if _alive(p, s):
                os.kill(p, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()


def test_watchdog_alone_ends_an_orphaned_worker(tmp_path):
    """Without the Linux parent-death signal (other platforms) the watchdog thread still ends the worker."""
    child = (
        "import sys, time\n"
        "import simulations.sweep.worker as w\n"
        "w._parent_death_signal = lambda: False\n"
        "w.die_with_parent(int(sys.argv[1]))\n"
        "print('armed', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = (
        "import os, subprocess, sys, time\n"
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}, str(os.getpid())], stdout=subprocess.PIPE)\n"
        "assert c.stdout.readline().strip() == b'armed'\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            start_new_session=True)
    pid, start = 0, 0
    try:
        pid = int(proc.stdout.readline())
        start = _stat(pid)[2]
        assert _alive(pid, start)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while _alive(pid, start) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid, start), "the orphaned worker outlived its parent by 5 s"
    finally:
        if pid and _alive(pid, start):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
