"""``tailcomp train``: train an MLP from the command line and write a JSON record of the run.

Example::

    tailcomp train --dataset mnist --data-dir data --sizes 784,512,512,10 \\
        --lr 0.1 --batch-size 128 --epochs 10 --out runs/mnist.json

The record (``--out``) holds the config, one metrics entry per evaluation, the
status and why the run ended (``reason``), the CPU ``threads`` it ran with (results are
bit-identical at equal thread count), timings and library versions. Divergence guard:
``--max-loss`` / ``--max-weight`` (default 1e6 each, ``none`` disables; see
:class:`simulations.nn.train.StopRules`). ``--checkpoint PATH`` saves a checkpoint
at the end (and every ``--checkpoint-every`` steps); ``--resume PATH`` continues
from one bit for bit. Exit status: 0 for a finished run (any status, including
"diverged", which is reported in the record), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tailcomp train", description="Train an MLP with the torch-free core.")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist", "gaussian_mixture", "teacher"])
    d.add_argument("--data-dir", default=None, help="folder with mnist/ and fashion_mnist/ (default: TAILCOMP_DATA, cache)")
    d.add_argument("--download", action="store_true", help="download missing files (sha256-verified)")
    d.add_argument("--normalize", default="standard", choices=["standard", "unit", "none"])
    d.add_argument("--n-train", type=int, default=None, help="use the first N training samples (synthetic: N samples)")
    d.add_argument("--n-test", type=int, default=None, help="use the first N test samples (synthetic: N samples)")
    m = p.add_argument_group("model")
    m.add_argument("--sizes", default="784,512,512,10", help="comma-separated layer widths, input first")
    m.add_argument("--no-bias", action="store_true", help="bias-free layers")
    m.add_argument("--activation", default="relu", choices=["relu", "tanh", "softplus", "identity"])
    m.add_argument("--loss", default="cross_entropy", choices=["cross_entropy", "squared"])
    m.add_argument("--init", default="kaiming_uniform_torch")
    m.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    o = p.add_argument_group("optimiser")
    o.add_argument("--lr", type=float, default=0.1)
    o.add_argument("--momentum", type=float, default=0.0)
    o.add_argument("--weight-decay", type=float, default=0.0)
    o.add_argument("--milestones", default="", help="comma-separated epochs where the lr is multiplied by --gamma")
    o.add_argument("--gamma", type=float, default=0.1)
    o.add_argument("--batch-size", type=int, default=128)
    o.add_argument("--start-step", type=int, default=0, help="global step of the first update (schedule replay)")
    n = p.add_argument_group("noise injection")
    n.add_argument("--noise-sigma", type=float, default=0.0, help="σ (0 = no noise)")
    n.add_argument("--noise-alpha", type=float, default=2.0, help="α in (0, 2]")
    n.add_argument("--noise-kind", default="neuron", choices=["entry", "neuron", "elliptical"])
    n.add_argument("--noise-layers", default=None, help="comma-separated 0-based layers (default: all hidden)")
    s = p.add_argument_group("stopping")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--steps", type=int, default=None)
    s.add_argument("--target-train-acc", type=float, default=None)
    s.add_argument("--interpolation-loss", type=float, default=None)
    s.add_argument("--max-loss", type=_ceiling, default="default", metavar="X|none",
                   help="diverged once a minibatch's mean loss exceeds X (default 1e6; none: off)")
    s.add_argument("--max-weight", type=_ceiling, default="default", metavar="X|none",
                   help="diverged once some |weight| exceeds X after a step (default 1e6; none: off)")
    s.add_argument("--averaging", type=int, default=0, help="average the last m iterates")
    r = p.add_argument_group("run")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: an epoch)")
    r.add_argument("--eval-train", default="running", choices=["running", "full"])
    r.add_argument("--threads", type=int, default=None, help="CPU threads (default 1, env TAILCOMP_THREADS)")
    r.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    r.add_argument("--out", type=Path, default=None, help="write the JSON record of the run here")
    r.add_argument("--checkpoint", type=Path, default=None, help="checkpoint path (writes the one file PATH.npz)")
    r.add_argument("--checkpoint-every", type=int, default=None)
    r.add_argument("--resume", type=Path, default=None, help="continue from this checkpoint")
    r.add_argument("--save-params", type=Path, default=None, help="write the final parameters (.npy)")
    r.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p


def _ceiling(text: str):
    """A divergence ceiling: a number, or "none" (off); "default" keeps StopRules' default."""
    t = text.strip().lower()
    if t in ("none", "default"):
        return t
    try:
        return float(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a number or 'none', got {text!r}") from exc


def _ints(text: str | None, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"{name} must be comma-separated integers, got {text!r}") from exc


def _versions() -> dict:
    import numba
    import scipy

    import simulations

    return {"tailcomp": simulations.__version__, "numpy": np.__version__, "numba": numba.__version__,
            "scipy": scipy.__version__, "python": platform.python_version(), "platform": platform.platform()}


def _jsonable(o):
    """``o`` with non-finite floats as ``None`` (JSON ``null``) and numpy scalars / arrays as Python values."""
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if o is None or isinstance(o, str):
        return o
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"the run record holds a {type(o).__name__}, which has no JSON form")


def write_record(path: Path, record: dict) -> None:
    """Write ``record`` as strict JSON (NaN and ±inf become ``null``) to ``path``, atomically."""
    text = json.dumps(_jsonable(record), indent=1, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tailcomp train`` (returns the exit status)."""
    args = _parser().parse_args(argv)
    from simulations.nn import data as D
    from simulations.nn.model import MLPSpec
    from simulations.nn.optim import SGD, NoiseConfig, Schedule
    from simulations.nn.train import StopRules, train

    try:
        sizes = _ints(args.sizes, "sizes")
        spec = MLPSpec(sizes, bias=not args.no_bias, activation=args.activation, loss=args.loss, init=args.init,
                       dtype=args.dtype)
        ms = _ints(args.milestones, "milestones")
        sched = Schedule("step", ms, args.gamma, "epoch") if ms else Schedule()
        opt = SGD(args.lr, args.momentum, args.weight_decay, sched)
        noise = None
        if args.noise_sigma > 0:
            noise = NoiseConfig(args.noise_alpha, args.noise_sigma, args.noise_kind, _ints(args.noise_layers, "noise-layers"))
        if args.epochs is None and args.steps is None:
            args.epochs = 1
        ceilings = {k: (None if v == "none" else v) for k, v in (("max_loss", args.max_loss),
                                                                  ("max_weight", args.max_weight)) if v != "default"}
        stop = StopRules(args.epochs, args.steps, args.target_train_acc, args.interpolation_loss, **ceilings)
        norm = None if args.normalize == "none" else args.normalize
        if args.dataset in ("mnist", "fashion_mnist"):
            ds = D._load_both(args.dataset, args.data_dir, args.download, norm, spec.np_dtype)
            if args.n_train is not None:
                ds.X_train, ds.y_train = ds.X_train[:args.n_train], ds.y_train[:args.n_train]
            if args.n_test is not None:
                ds.X_test, ds.y_test = ds.X_test[:args.n_test], ds.y_test[:args.n_test]
        elif args.dataset == "gaussian_mixture":
            ds = D.gaussian_mixture(args.n_train or 1000, spec.sizes[0], spec.sizes[-1], n_test=args.n_test or 0,
                                    dtype=spec.np_dtype, seed=args.seed)
        else:
            ds = D.teacher_dataset(args.n_train or 1000, (spec.sizes[0], 32, spec.sizes[-1]), n_test=args.n_test or 0,
                                   dtype=spec.np_dtype, seed=args.seed)
    except (ValueError, TypeError) as exc:
        print(f"tailcomp train: {exc}", file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        res = train(spec, ds, optimizer=opt, noise=noise, batch_size=args.batch_size, stop=stop,
                    averaging=args.averaging, eval_every=args.eval_every, eval_train=args.eval_train, seed=args.seed,
                    start_step=args.start_step, threads=args.threads, backend=args.backend, resume=args.resume,
                    checkpoint_path=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    progress=not args.no_progress)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"tailcomp train: {exc}", file=sys.stderr)
        return 2
    record = {
        "command": "tailcomp train",
        "argv": list(sys.argv[1:] if argv is None else argv),
        "config": {**res.config, "dataset": ds.name},
        "status": res.status,
        "reason": res.reason,
        "threads": res.threads,
        "steps": res.steps,
        "epochs": res.epochs,
        "metrics": res.history,
        "final": res.final,
        "timings": {**res.timings, "wall": time.time() - t0},
        "versions": _versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
    }
    f = res.final
    msg = f"status={res.status} ({res.reason}) steps={res.steps} train_loss={f.get('train_loss')} train_acc={f.get('train_acc')}"
    if f.get("test_acc") is not None:
        msg += f" test_loss={f['test_loss']:.4f} test_acc={f['test_acc']:.4f}"
    print(msg + f" time={res.timings['total']:.1f}s")
    if args.out is not None:
        write_record(args.out, record)
    if args.save_params is not None:
        np.save(args.save_params, res.params.flat)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
