"""Plans the calls of every callable and runs them in a pool of bounded worker processes.

A few long-lived workers (``forkserver`` context, the project's modules preloaded, so that a
replacement starts in well under a second) each take one callable at a time: they first run its
valid base call under a generous budget (numba compiles, caches warm up) and then its fuzz calls
under the per-call time bound. A worker that runs past the bound is killed and replaced ("hang");
one that dies is replaced ("crash"); the replacement re-runs the base call before continuing.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from tests._fuzz import discover as disc
from tests._fuzz import strategies as strat
from tests._fuzz.oracle import FAILURES, OUTCOMES
from tests._fuzz.worker import THREAD_ENV


@dataclass(frozen=True)
class Profile:
    name: str
    type_calls: int          # type-wrong calls per callable
    extreme_calls: int       # in-type extreme calls per callable
    timeout: float           # seconds per call
    warm_timeout: float      # seconds for the base call (numba compilation, first imports)
    workers: int
    arbitrary: bool          # also draw arbitrary ints/floats with hypothesis


PROFILES = {
    "quick": Profile("quick", 3, 3, 10.0, 180.0, 2, False),
    # 60 s: the API's stated work limits (WORK_MAX of kesten and sde) admit calls of up to about a
    # minute of one core, which are bounded, not hangs
    "long": Profile("long", 100, 100, 60.0, 180.0, 2, True),
}


@dataclass
class Job:
    plan: strat.Plan
    calls: list[strat.Call]
    results: list[dict] = field(default_factory=list)
    base: dict | None = None


def call_message(call: strat.Call, plan: strat.Plan) -> dict:
    return {"target": call.target, "args": list(call.args), "param": call.param, "cls": call.cls,
            "params": [p.name for p in plan.params], "positional": call.target in strat.POSITIONAL,
            "finite": call.target not in strat.DOCUMENTED_NONFINITE}


def build_jobs(profile: Profile, targets=None, only: set[str] | None = None) -> tuple[list[Job], dict[str, str]]:
    targets = disc.discover() if targets is None else targets
    jobs, skipped = [], {}
    for t in targets:
        if only is not None and t.name not in only:
            continue
        plan = strat.make_plan(t)
        if plan.skip:
            skipped[t.name] = plan.skip
            continue
        calls = (strat.draw_calls(plan, "type", profile.type_calls)
                 + strat.draw_calls(plan, "extreme", profile.extreme_calls, arbitrary=profile.arbitrary))
        jobs.append(Job(plan, calls))
    return jobs, skipped


class _Slot:
    def __init__(self, ctx, scratch: str):
        self.ctx, self.scratch = ctx, scratch
        self.job: Job | None = None
        self.queue: list[tuple[strat.Call, bool]] = []   # (call, is_warmup)
        self.deadline = 0.0
        self.current: tuple[strat.Call, bool] | None = None
        self.start()

    def start(self):
        from tests._fuzz import worker
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker.main, args=(child, self.scratch), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def kill(self):
        try:
            self.proc.kill()
            self.proc.join(5)
        except Exception:  # noqa: BLE001
            pass
        self.conn.close()

    def restart(self):
        self.kill()
        self.start()

    def send_next(self, profile: Profile) -> bool:
        if not self.queue:
            return False
        self.current = self.queue.pop(0)
        call, warm = self.current
        self.deadline = time.monotonic() + (profile.warm_timeout if warm else profile.timeout)
        self.conn.send(call_message(call, self.job.plan))
        return True


def _context():
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tests._fuzz.preload"])
    return ctx


def run_jobs(jobs: list[Job], profile: Profile, log=print) -> None:
    """Run every job's base call and fuzz calls; fills ``job.base`` and ``job.results``."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    scratch_root = tempfile.mkdtemp(prefix="tailcomp_fuzz_")
    try:
        ctx = _context()
        slots = [_Slot(ctx, os.path.join(scratch_root, f"w{i}")) for i in range(profile.workers)]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    pending = list(jobs)
    done = 0
    t_start = time.monotonic()

    def assign(slot: _Slot) -> None:
        nonlocal done
        while pending:
            job = pending.pop(0)
            slot.job = job
            slot.queue = [(strat.base_call(job.plan), True)] + [(c, False) for c in job.calls]
            if slot.send_next(profile):
                return
        slot.job = None

    def finish_current(slot: _Slot, res: dict) -> None:
        nonlocal done
        call, warm = slot.current
        job = slot.job
        if call.cls == "base":
            if job.base is None:
                job.base = res
            if res["outcome"] != "ok":
                if job.base is res:       # the callable cannot be fuzzed: drop its calls
                    slot.queue = []
                else:                     # a re-warm after a replacement failed: continue anyway
                    pass
        else:
            job.results.append({"call": str(call), "param": call.param, "cls": call.cls, **res})
        slot.current = None
        if not slot.send_next(profile):
            done += 1
            if done % 25 == 0:
                log(f"  {done}/{len(jobs)} callables ({time.monotonic() - t_start:.0f} s)")
            assign(slot)

    for s in slots:
        assign(s)
    try:
        while any(s.job is not None for s in slots):
            busy = [s for s in slots if s.job is not None]
            now = time.monotonic()
            timeout = max(0.0, min(s.deadline for s in busy) - now)
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=timeout)
            for s in busy:
                if s.conn in ready:
                    try:
                        res = s.conn.recv()
                    except (EOFError, OSError):
                        res = None
                    if res is not None:
                        finish_current(s, res)
                        continue
                if s.proc.sentinel in ready or (s.conn in ready) or time.monotonic() > s.deadline:
                    hung = s.proc.is_alive() and time.monotonic() > s.deadline
                    code = s.proc.exitcode
                    call, warm = s.current
                    s.restart()
                    if hung:
                        res = {"outcome": "hang", "message": f"no result within {profile.warm_timeout if warm else profile.timeout:g} s"}
                    else:
                        why = "killed at the memory limit" if code in (-9,) else f"exit code {code}"
                        res = {"outcome": "crash", "message": f"worker process died ({why})"}
                    if call.cls == "base":
                        res = {"outcome": "base_error", "message": res["message"]}
                        finish_current(s, res)
                    else:
                        s.queue.insert(0, (strat.base_call(s.job.plan), True)) if s.queue else None
                        finish_current(s, res)
    finally:
        for s in slots:
            try:
                s.conn.send(None)
            except Exception:  # noqa: BLE001
                pass
            s.proc.join(2)
            if s.proc.is_alive():
                s.kill()


def fuzz(profile: str | Profile = "quick", only: set[str] | None = None, log=print) -> dict:
    """Discover, plan, run; the report as a dict (see :func:`make_report`)."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    t0 = time.monotonic()
    targets = disc.discover()
    log(f"fuzz[{prof.name}]: discovered {len(targets)} public callables")
    jobs, skipped = build_jobs(prof, targets, only)
    log(f"fuzz[{prof.name}]: {len(jobs)} fuzzed, {len(skipped)} skipped, "
        f"{sum(len(j.calls) for j in jobs)} distinct calls ({time.monotonic() - t0:.1f} s planning)")
    run_jobs(jobs, prof, log)
    rep = make_report(prof, targets, jobs, skipped)
    rep["wall_s"] = round(time.monotonic() - t0, 1)
    return rep


def make_report(prof: Profile, targets, jobs: list[Job], skipped: dict[str, str]) -> dict:
    counts: Counter = Counter()
    by_cls: dict[str, Counter] = defaultdict(Counter)
    failures, base_errors, harness = [], {}, []
    for j in jobs:
        if j.base is not None and j.base["outcome"] != "ok":
            base_errors[j.plan.target] = j.base["message"]
            counts["base_error"] += 1
        for r in j.results:
            counts[r["outcome"]] += 1
            by_cls[r["cls"]][r["outcome"]] += 1
            if r["outcome"] in FAILURES:
                failures.append({"callable": j.plan.target, "call": r["call"], "param": r["param"],
                                 "class": r["cls"], "outcome": r["outcome"], "message": r["message"]})
            elif r["outcome"] == "harness_error":
                harness.append({"callable": j.plan.target, "call": r["call"], "message": r["message"]})
    return {
        "profile": prof.name,
        "settings": {k: getattr(prof, k) for k in ("type_calls", "extreme_calls", "timeout", "workers", "arbitrary")},
        "callables": len(targets),
        "fuzzed": len(jobs) - len(base_errors),
        "skipped": skipped,
        "import_errors": dict(disc.IMPORT_ERRORS),
        "base_errors": base_errors,
        "calls": sum(len(j.results) for j in jobs),
        "counts": {k: counts.get(k, 0) for k in (*OUTCOMES, "harness_error")},
        "counts_by_class": {c: dict(v) for c, v in by_cls.items()},
        "failing_callables": sorted({f["callable"] for f in failures}),
        "failures": failures,
        "harness_errors": harness,
    }


def summary_text(rep: dict, per_callable: int = 3) -> str:
    """A grouped human-readable summary: counts, then failures by module and callable."""
    lines = [f"fuzz profile {rep['profile']}: {rep['callables']} callables discovered, {rep['fuzzed']} fuzzed, "
             f"{len(rep['skipped'])} skipped, {len(rep['base_errors'])} with a failing base call; "
             f"{rep['calls']} distinct calls",
             "outcomes: " + ", ".join(f"{k}={v}" for k, v in rep["counts"].items() if v)]
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for f in rep["failures"]:
        mod, _, name = f["callable"].rpartition(".")
        groups[mod][name].append(f)
    for mod in sorted(groups):
        lines.append(f"\n{mod}")
        for name in sorted(groups[mod]):
            fs = groups[mod][name]
            kinds = Counter(f["outcome"] for f in fs)
            lines.append(f"  {name}: " + ", ".join(f"{k} x{v}" for k, v in kinds.items()))
            shown = {}
            for f in fs:
                shown.setdefault(f["outcome"], []).append(f)
            for outcome, lst in shown.items():
                for f in lst[:per_callable]:
                    lines.append(f"    {outcome:17s} {f['call'][:160]}  ->  {f['message'][:140]}")
    if rep.get("import_errors"):
        lines.append("\nmodules that failed to import (not fuzzed):")
        for k, v in sorted(rep["import_errors"].items()):
            lines.append(f"  {k}: {v[:160]}")
    if rep["base_errors"]:
        lines.append("\nnot fuzzed (the valid base call failed):")
        for k, v in sorted(rep["base_errors"].items()):
            lines.append(f"  {k}: {v[:160]}")
    if rep.get("harness_errors"):
        lines.append(f"\nharness errors: {len(rep['harness_errors'])}")
        for h in rep["harness_errors"][:10]:
            lines.append(f"  {h['call'][:160]}: {h['message'][:120]}")
    return "\n".join(lines)
