"""The training run behind :func:`simulations.nn.train.train`: setup, resume, the step loop, finish.

A :class:`Run` is made from checked arguments (``train`` validates them). It builds or resumes
the :class:`~simulations.nn.checkpoint.TrainState`, puts the buffers on the backend, then runs
*chunks* of steps, each one backend call (:meth:`simulations.nn.backends.base.Backend.run_steps`).
A chunk ends at the first of: the budget, the end of the epoch, an evaluation point, a snapshot
step, a checkpoint step, the end of a post-convergence averaging tail (and, with a progress bar,
a twentieth of an epoch). Between chunks the host shuffles (one permutation per epoch),
evaluates, applies the stopping rules and writes checkpoints.

Seeding (:mod:`simulations._core.seeding`): ``seed`` → one ``SeedSequence`` → the named children
``"init"`` (initial parameters, when ``params`` is not given), ``"shuffle"`` (the PCG64 generator
of the per-epoch permutations) and ``"noise"`` (one 63-bit kernel seed expanded by
:func:`simulations.stable.streams.init_states` into one xoroshiro128+ stream per noised neuron).
Same seed ⇒ same loss curve, in every process.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from simulations._core import seeding
from simulations.nn.backends.base import Backend, RunBuffers, StepConfig
from simulations.nn.checkpoint import (
    CheckpointError,
    TrainState,
    checkpoint_file,
    copy_state,
    load_checkpoint,
    save_checkpoint,
)
from simulations.nn.model import Params, init_params
from simulations.stable.streams import init_states

__all__ = ["Run"]


class Run:
    """One training run; :meth:`loop` then :meth:`finish` (see the module docstring)."""

    def __init__(self, spec, be: Backend, data, *, params, mask, optimizer, noise, batch_size, stop, averaging,
                 averaging_delay=0, eval_every, eval_train, seed, start_step, snapshot_at, callback, resume, checkpoint_path,
                 checkpoint_every, drop_last, progress, config: dict):
        self.spec, self.be, self.optimizer, self.stop = spec, be, optimizer, stop
        self.Xtr, self.ytr, Xte, yte = data
        self.n = n = self.Xtr.shape[0]
        self.batch_size, self.averaging, self.eval_train = batch_size, averaging, eval_train
        self.averaging_delay = averaging_delay
        self.callback, self.drop_last = callback, drop_last
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        self.config = config
        self.spe = spe = n // batch_size if drop_last else -(-n // batch_size)
        self.last_b = batch_size if drop_last or n % batch_size == 0 else n % batch_size
        self.budget = min(x for x in (stop.max_steps, None if stop.max_epochs is None else stop.max_epochs * spe)
                          if x is not None)
        self.eval_every = spe if eval_every is None else eval_every
        config["eval_every"] = self.eval_every
        self.converge_rules = stop.target_train_acc is not None or stop.interpolation_loss is not None
        self.cfg = StepConfig(spec, batch_size, optimizer.momentum, optimizer.weight_decay, noise, mask is not None,
                              averaging > 0, stop.max_loss, stop.max_weight)
        ss = seeding.seed_sequence(seed)
        if resume is not None:
            self.state = self._resumed(resume)
        else:
            self.state = self._fresh(ss, params, mask, start_step)
        self._window()
        self.snaps = [k for k in snapshot_at if k >= self.state.step]
        self.snapshots: dict[int, Params] = {}
        st = self.state
        # evaluation chunks of at most 1024 rows, and never more rows than a data set has
        self.ws = be.workspace(self.cfg, eval_batch_size=max(1, min(1024, max(n, 0 if Xte is None else Xte.shape[0]))))
        self.bufs = RunBuffers(
            params=be.to_device(st.params.flat),  # the state owns this array (copied on entry)
            velocity=be.to_device(st.velocity),
            mask=be.to_device(mask.flat) if mask is not None else be.to_device(np.zeros(0, np.uint8)),
            noise_states=be.to_device(st.noise_states),
            avg_sum=be.to_device(st.avg_sum),
            buffers=be.to_device(st.params.buffers),  # BatchNorm running statistics (shared with the state on the CPU)
        )
        self.Xd, self.yd = be.to_device(self.Xtr), be.to_device(self.ytr)
        self.Xted = None if Xte is None else be.to_device(Xte)
        self.yted = None if yte is None else be.to_device(yte)
        self.run_loss, self.run_correct, self.run_seen = 0.0, 0, 0
        self.t_eval = 0.0
        self.status: str | None = None
        self.reason = ""
        st.status = None
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.budget, initial=min(st.step - st.start_step, self.budget), unit="step",
                            dynamic_ncols=True)

    # ---- setup --------------------------------------------------------------------------------------
    def _fresh(self, ss, params, mask, start_step) -> TrainState:
        spec, n = self.spec, self.n
        if params is None:
            p0 = init_params(spec, seeding.child(ss, "init"))
        else:
            p0 = Params(spec, params.flat.astype(spec.np_dtype, copy=True), params.buffers.astype(spec.np_dtype))
        if mask is not None:
            mask.apply(p0)
        self.shuffle_rng = seeding.generator(ss, "shuffle")
        perm = self.shuffle_rng.permutation(n).astype(np.int64)
        return TrainState(
            params=p0,
            velocity=np.zeros(spec.n_params if self.optimizer.momentum > 0 else 0, dtype=spec.np_dtype),
            noise_states=init_states(self.cfg.n_noise_streams, seeding.kernel_seed(ss, "noise")),
            shuffle_state=self.shuffle_rng.bit_generator.state,
            start_step=start_step, step=start_step, epoch=0, pos=0, perm=perm,
            avg_sum=np.zeros(spec.n_params if self.averaging > 0 else 0, dtype=np.float64), avg_count=0,
            tail_left=-1, status=None, history=[], elapsed=0.0,
        )

    def _resumed(self, resume: TrainState | str | Path) -> TrainState:
        spec = self.spec
        if isinstance(resume, (str, Path)):
            where = f"resume checkpoint {checkpoint_file(resume)}"
            try:
                state = load_checkpoint(resume)[0]
            except CheckpointError as exc:  # the message names the argument the file came from
                raise type(exc)(f"resume: {exc}") from exc
        else:
            where, state = "resume state", copy_state(resume)
        if not spec.same_architecture(state.params.spec) or state.params.flat.shape[0] != spec.n_params:
            raise ValueError(f"{where} was made for {state.params.spec.describe()}, spec has {spec.describe()}")
        if state.params.spec != spec:
            state.params = Params(spec, state.params.flat.astype(spec.np_dtype),
                                  state.params.buffers.astype(spec.np_dtype))
        if state.perm.shape[0] != self.n:
            raise ValueError(f"{where} was made for {state.perm.shape[0]} training samples, data has {self.n}")
        if state.pos > self.spe:
            raise ValueError(f"{where} is at step {state.pos} of an epoch, which has {self.spe} steps at "
                             f"batch_size={self.batch_size}")
        if (self.optimizer.momentum > 0) != (state.velocity.shape[0] > 0):
            raise ValueError(f"{where} was made with momentum {'> 0' if state.velocity.shape[0] else '= 0'}, "
                             f"the optimizer has momentum={self.optimizer.momentum}")
        if state.noise_states.shape[0] and self.cfg.n_noise_streams == 0:
            state.noise_states = state.noise_states[:0].copy()  # the noise is switched off from here on
        elif state.noise_states.shape[0] != self.cfg.n_noise_streams:
            raise ValueError(f"{where} holds {state.noise_states.shape[0]} noise streams, the noise settings "
                             f"need {self.cfg.n_noise_streams}")
        if (self.averaging > 0) != (state.avg_sum.shape[0] > 0):
            raise ValueError(f"{where} was made with averaging {'> 0' if state.avg_sum.shape[0] else '= 0'}, "
                             f"the run has averaging={self.averaging}")
        self.shuffle_rng = np.random.default_rng()
        self.shuffle_rng.bit_generator.state = state.shuffle_state
        return state

    def _window(self) -> None:
        """The budget of a resumed averaging tail, and the averaging window of this budget."""
        st = self.state
        if st.tail_left > 0:  # resumed inside a post-convergence averaging tail: finish it
            self.budget = max(self.budget, st.step - st.start_step + st.tail_left)
        if self.averaging > 0 and st.tail_left < 0:
            # the window is the last m steps of *this* budget: iterates summed for another window are dropped
            avg_from = st.start_step + self.budget - self.averaging
            if st.avg_count > 0 and st.avg_from not in (None, avg_from):
                st.avg_sum[...] = 0.0
                st.avg_count = 0
            st.avg_from = avg_from

    # ---- the loop -----------------------------------------------------------------------------------
    def host_params(self) -> Params:
        return Params(self.spec, self.be.to_host(self.bufs.params), self.be.to_host(self.bufs.buffers))

    def evaluate(self, force_full: bool) -> dict:
        """Append one history entry (train metrics running or full, test metrics) and reset the running sums."""
        be, st, spe, n = self.be, self.state, self.spe, self.n
        t0 = time.perf_counter()
        p_dev = self.bufs.params
        lr_now = float(self.optimizer.lrs(max(st.step - 1, 0), 1, spe)[0])
        entry = {"step": st.step, "epoch": st.epoch + st.pos / spe, "lr": lr_now}
        if self.eval_train == "full" or force_full or self.run_seen == 0:
            ls, c = be.evaluate(self.ws, self.spec, p_dev, self.Xd, self.yd, self.bufs.buffers)
            entry.update(train_loss=ls / n, train_acc=c / n, train_metric="full")
        else:
            entry.update(train_loss=self.run_loss / self.run_seen, train_acc=self.run_correct / self.run_seen,
                         train_metric="running")
        if self.Xted is not None and self.Xted.shape[0] > 0:
            ls, c = be.evaluate(self.ws, self.spec, p_dev, self.Xted, self.yted, self.bufs.buffers)
            entry.update(test_loss=ls / self.Xted.shape[0], test_acc=c / self.Xted.shape[0])
        else:
            entry.update(test_loss=None, test_acc=None)
        entry["time"] = st.elapsed
        self.run_loss, self.run_correct, self.run_seen = 0.0, 0, 0
        self.t_eval += time.perf_counter() - t0
        st.history.append(entry)
        return entry

    def _chunk(self, done_run: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(idx, lrs, avg_flags, B) of the next chunk of steps."""
        st, spe, bs = self.state, self.spe, self.batch_size
        nxt = min(self.budget - done_run, spe - st.pos, self.eval_every - (done_run % self.eval_every))
        if st.tail_left > 0:
            nxt = min(nxt, st.tail_left)
        for k in self.snaps:
            if k > st.step:
                nxt = min(nxt, k - st.step)
                break
        if self.checkpoint_every is not None:
            nxt = min(nxt, self.checkpoint_every - (done_run % self.checkpoint_every))
        if self.bar is not None:
            nxt = min(nxt, max(1, spe // 20))
        B = bs
        if not self.drop_last and st.pos + nxt == spe and self.last_b != bs:
            if nxt > 1:  # full batches first, the partial one alone
                nxt -= 1
            else:
                B = self.last_b
        start = st.pos * bs
        idx = st.perm[start:start + nxt * B] if B == bs else st.perm[start:start + B]
        lrs = self.optimizer.lrs(st.step, nxt, spe)
        if st.tail_left > 0:  # the tail's last `averaging` steps are averaged (after averaging_delay others)
            flags = ((st.tail_left - np.arange(nxt)) <= self.averaging).astype(np.uint8)
        elif self.averaging > 0:
            r = np.arange(done_run, done_run + nxt)
            flags = (r >= self.budget - self.averaging).astype(np.uint8)
        else:
            flags = np.zeros(nxt, dtype=np.uint8)
        return idx, lrs, flags, B

    def _converged(self, entry: dict, done_run: int) -> bool:
        """Apply the convergence rules after an evaluation; True when the run ends now."""
        st, stop = self.state, self.stop
        hit = None
        if stop.interpolation_loss is not None and entry["train_acc"] >= 1.0 and \
                entry["train_loss"] < stop.interpolation_loss:
            hit = "interpolated"
        elif stop.target_train_acc is not None and entry["train_acc"] >= stop.target_train_acc:
            hit = "target_reached"
        if hit is None:
            return False
        self.reason = (f"full-pass training loss {entry['train_loss']:.3g} < interpolation_loss = "
                       f"{stop.interpolation_loss:g} at 100 % accuracy" if hit == "interpolated" else
                       f"full-pass training accuracy {entry['train_acc']:.4g} ≥ target_train_acc = "
                       f"{stop.target_train_acc:g}") + f" at step {st.step}"
        if self.averaging > 0:  # continue d + m more steps, averaging the last m
            st.tail_left = self.averaging + self.averaging_delay
            st.status_pending = hit
            self.budget = max(self.budget, done_run + st.tail_left)
            self.bufs.avg_sum[...] = 0
            st.avg_count = 0
            return False
        self.status = hit
        return True

    def _diverged(self, lrs, n_done: int, code: int) -> None:
        st = self.state
        self.status = "diverged"
        stop, last = self.stop, st.step - 1
        if code == 2:
            self.reason = f"mean minibatch loss above max_loss = {stop.max_loss:g} at step {last}"
        elif code == 3:
            big = float(np.max(np.abs(self.be.host_view(self.bufs.params))))
            self.reason = f"max |θ| = {big:.3g} above max_weight = {stop.max_weight:g} after step {last}"
        elif code == 1:
            self.reason = f"non-finite minibatch loss at step {last}"
        else:
            self.reason = f"non-finite parameters by step {last}"
        st.history.append({"step": st.step, "epoch": st.epoch + st.pos / self.spe,
                           "lr": float(lrs[max(n_done - 1, 0)]),
                           "train_loss": float("nan") if self.run_seen == 0 else self.run_loss / self.run_seen,
                           "train_acc": self.run_correct / max(self.run_seen, 1), "train_metric": "running",
                           "test_loss": None, "test_acc": None, "time": st.elapsed})

    def _after_chunk(self) -> bool:
        """Epoch end, snapshots, evaluation, callback, stopping rules, checkpoint; True when the run ends."""
        st = self.state
        if st.pos >= self.spe:
            st.epoch += 1
            st.pos = 0
            st.perm = self.shuffle_rng.permutation(self.n).astype(np.int64)
            st.shuffle_state = self.shuffle_rng.bit_generator.state
        if st.step in self.snaps:
            self.snapshots[st.step] = self.host_params()
        done_run = st.step - st.start_step
        if done_run % self.eval_every == 0 or done_run >= self.budget:
            entry = self.evaluate(self.converge_rules and st.tail_left < 0)
            if not np.isfinite(entry["train_loss"]):  # parameters are checked by run_steps
                self.status = "diverged"
                self.reason = f"non-finite training loss at the evaluation of step {st.step}"
                return True
            if self.callback is not None:
                info = dict(entry)
                p = self.bufs.params
                info["params"] = Params(self.spec, p, self.bufs.buffers) if isinstance(p, np.ndarray) \
                    else self.host_params()
                stop_now = self.callback(info)
                for k, v in info.items():  # what the callback recorded into its entry lands in the history
                    if k != "params" and k not in entry:
                        entry[k] = v
                if stop_now:
                    self.status = "stopped"
                    self.reason = f"the callback returned True at step {st.step}"
                    return True
            if st.tail_left < 0 and self.converge_rules and self._converged(entry, done_run):
                return True
        if self.checkpoint_every is not None and done_run % self.checkpoint_every == 0:
            self.sync()
            save_checkpoint(self.checkpoint_path, st, self.config)
        return False

    def loop(self) -> None:
        """Run chunks of steps until a stopping rule, the budget, divergence or the callback ends the run."""
        st, be = self.state, self.be
        if st.step in self.snaps:
            self.snapshots[st.step] = self.host_params()
        while self.status is None:
            done_run = st.step - st.start_step
            if st.tail_left == 0:
                self.status = st.status_pending
                self.reason = self.reason or f"{st.status_pending} (resumed), averaging tail finished"
                break
            if done_run >= self.budget:
                self.status = "completed"
                self.reason = f"budget of {self.budget} steps used up"
                break
            idx, lrs, flags, B = self._chunk(done_run)
            t0 = time.perf_counter()
            res = be.run_steps(self.ws, self.cfg, self.bufs, self.Xd, self.yd, idx, lrs, flags)
            st.elapsed += time.perf_counter() - t0
            st.step += res.n_done
            st.pos += res.n_done
            st.avg_count += int(flags[:res.n_done].sum())
            if st.tail_left > 0:
                st.tail_left -= res.n_done
            self.run_loss += res.loss_sum
            self.run_correct += res.correct
            self.run_seen += res.n_done * B
            if self.bar is not None:
                seen = max(self.run_seen, 1)
                self.bar.update(res.n_done)
                self.bar.set_postfix(loss=f"{self.run_loss / seen:.4g}", acc=f"{self.run_correct / seen:.4f}",
                                     steps_per_s=f"{(st.step - st.start_step) / max(st.elapsed, 1e-9):.1f}")
            if res.diverged:
                self._diverged(lrs, res.n_done, res.reason)
                break
            if self._after_chunk():
                break
        if not st.history or st.history[-1]["step"] != st.step:
            self.evaluate(self.converge_rules)

    # ---- finish -------------------------------------------------------------------------------------
    def sync(self) -> None:
        """Bring the device buffers into the state (on the CPU the state and the buffers share memory)."""
        st, be, bufs = self.state, self.be, self.bufs
        st.params = Params(self.spec, be.host_view(bufs.params), be.host_view(bufs.buffers))
        st.velocity = be.host_view(bufs.velocity)
        st.noise_states = be.host_view(bufs.noise_states)
        st.avg_sum = be.host_view(bufs.avg_sum)
        st.status = self.status

    def finish(self) -> tuple[Params | None, float]:
        """Close the bar, sync the state, write the final checkpoint; returns (averaged iterate, eval seconds)."""
        if self.bar is not None:
            self.bar.close()
        self.sync()
        st = self.state
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, st, self.config)
        averaged = None
        if self.averaging > 0 and st.avg_count > 0:
            averaged = Params(self.spec, (st.avg_sum / st.avg_count).astype(self.spec.np_dtype),
                              self.be.to_host(self.bufs.buffers))
        return averaged, self.t_eval
