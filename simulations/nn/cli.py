"""``tailcomp train``: train an MLP or a convolutional network from the command line; a JSON record of the run.

Examples::

    tailcomp train --dataset mnist --data-dir data --sizes 784,512,512,10 \\
        --lr 0.1 --batch-size 128 --epochs 10 --out runs/mnist.json
    tailcomp train --dataset mnist --model lenet5 --lr 0.05 --momentum 0.9 --epochs 10

``--model`` picks a network of :mod:`simulations.nn.models` (``lenet5``, ``vgg11``, ``vgg11_wide``,
``resnet20`` ...) on 1×28×28 inputs; ``--noise-layers`` then index its weight tensors (conv and dense,
in order) and a conv filter is one "neuron".

The record (``--out``) holds the config, one metrics entry per evaluation, the
status and why the run ended (``reason``), the CPU ``threads`` it ran with (results are
bit-identical at equal thread count), timings and library versions. Divergence guard:
``--max-loss`` / ``--max-weight`` (default 1e6 each, ``none`` disables; see
:class:`simulations.nn.train.StopRules`). Heavy-tail diagnostics during training
(:mod:`simulations.diagnostics`): ``--grad-noise-every N`` measures the gradient-noise tail
index every N steps (``--grad-noise-n-eval``, ``--grad-noise-splits``), ``--tail-index-every N``
the weight tail indices and spectral exponents; their values land in the metrics entries
(``grad_noise``, ``tail_index``) and their settings and tidy tables in ``diagnostics``. ``--checkpoint PATH`` saves a checkpoint
at the end (and every ``--checkpoint-every`` steps); ``--resume PATH`` continues
from one bit for bit. Exit status: 0 for a finished run (any status, including
"diverged", which is reported in the record), 2 for bad arguments.

``--sizes`` must start with the data's input dimension and end with its number of
classes (784 and 10 for MNIST / Fashion-MNIST; the synthetic sets are built from
``--sizes``). With neither ``--epochs`` nor ``--steps`` the budget is one epoch, said in
one line on stderr. Missing data files are reported with the command line's options
(``--data-dir``, ``--download``). Before the first run compiles the training kernels
(no numba cache entry yet), one line on stderr says so.
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

#: the kernel modules whose first compilation ``tailcomp train`` announces on stderr (MLP; --model)
KERNEL_MODULES = ("simulations.nn.backends.cpu_kernels",)
MODEL_KERNEL_MODULES = ("simulations.nn.backends.cpu_conv", "simulations.nn.backends.cpu_conv_gemm",
                        "simulations.nn.model_backend")


def _parser() -> argparse.ArgumentParser:
    from simulations._core.noise import NOISE_KINDS
    from simulations.cli import parser
    from simulations.nn.data import DATASETS
    from simulations.nn.layers import INITS as MODEL_INITS
    from simulations.nn.model import ACTIVATIONS, INITS, LOSSES

    p = parser("tailcomp train", "Train an MLP with the torch-free core and print its final metrics "
               "(--out: a JSON record of the run). Stop rules: --epochs / --steps (a budget; with neither, "
               "1 epoch, said on stderr), --target-train-acc, --interpolation-loss, and the divergence "
               "guard --max-loss / --max-weight.")
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="mnist", choices=[*DATASETS, "gaussian_mixture", "teacher"],
                   help="MNIST / Fashion-MNIST (IDX files) or a synthetic set sized by --sizes")
    d.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder with mnist/ and fashion_mnist/, used alone (default: $TAILCOMP_DATA, then the cache)")
    d.add_argument("--download", action="store_true", help="download missing files (sha256-verified)")
    d.add_argument("--normalize", default="standard", choices=["standard", "unit", "none"],
                   help="standard: (x/255 - mean)/std; unit: x/255")
    d.add_argument("--n-train", type=int, default=None, metavar="N",
                   help="use the first N training samples (synthetic: N samples; default: all, synthetic 1000)")
    d.add_argument("--n-test", type=int, default=None, metavar="N",
                   help="use the first N test samples (synthetic: N samples; default: all, synthetic 0)")
    from simulations.nn.models import model_names

    m = p.add_argument_group("model")
    m.add_argument("--model", default=None, choices=list(model_names()),
                   help="a convolutional network of simulations.nn.models (on MNIST / Fashion-MNIST, 1×28×28 inputs) "
                   "instead of the MLP of --sizes; --sizes, --no-bias and --activation do not apply to it")
    m.add_argument("--sizes", default="784,512,512,10",
                   help="comma-separated layer widths: the input dimension first (784 for MNIST), the number of "
                   "classes last (10 for MNIST)")
    m.add_argument("--no-bias", action="store_true", help="bias-free layers")
    m.add_argument("--activation", default=None, choices=list(ACTIVATIONS), help="hidden-layer activation (relu)")
    m.add_argument("--loss", default="cross_entropy", choices=list(LOSSES),
                   help="softmax cross-entropy or squared loss on one-hot targets")
    m.add_argument("--init", default=None, choices=list(dict.fromkeys((*INITS, *MODEL_INITS))),
                   help="weight initialisation (default: kaiming_uniform_torch for an MLP, the model's own for --model)")
    m.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="parameter dtype")
    o = p.add_argument_group("optimiser")
    o.add_argument("--lr", type=float, default=0.1, help="SGD step size")
    o.add_argument("--momentum", type=float, default=0.0, help="heavy-ball momentum")
    o.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay")
    o.add_argument("--milestones", default="", metavar="E1,E2,...",
                   help="comma-separated epochs where the lr is multiplied by --gamma (default: none)")
    o.add_argument("--gamma", type=float, default=0.1, help="lr factor at each milestone")
    o.add_argument("--batch-size", type=int, default=128, help="minibatch size")
    o.add_argument("--start-step", type=int, default=0, help="global step of the first update (schedule replay)")
    n = p.add_argument_group("noise injection")
    n.add_argument("--noise-sigma", type=float, default=0.0, help="σ (0 = no noise)")
    n.add_argument("--noise-alpha", type=float, default=2.0, help="α in (0, 2]")
    n.add_argument("--noise-kind", default="neuron", choices=list(NOISE_KINDS),
                   help="iid per weight, one scalar per neuron, or a sub-Gaussian vector per neuron")
    n.add_argument("--noise-layers", default=None, metavar="L1,L2,...",
                   help="comma-separated 0-based layers (default: all hidden)")
    s = p.add_argument_group("stopping (with neither --epochs nor --steps: 1 epoch, with a notice on stderr)")
    s.add_argument("--epochs", type=int, default=None, help="epoch budget (default: none)")
    s.add_argument("--steps", type=int, default=None, help="step budget (default: none)")
    s.add_argument("--target-train-acc", type=float, default=None, metavar="ACC",
                   help="stop once the training accuracy reaches ACC in (0, 1] (default: off)")
    s.add_argument("--interpolation-loss", type=float, default=None, metavar="LOSS",
                   help="stop once the training loss is below LOSS with 100%% accuracy (default: off)")
    s.add_argument("--max-loss", type=_ceiling, default="default", metavar="X|none",
                   help="diverged once a minibatch's mean loss exceeds X (default 1e6; none: off)")
    s.add_argument("--max-weight", type=_ceiling, default="default", metavar="X|none",
                   help="diverged once some |weight| exceeds X after a step (default 1e6; none: off)")
    s.add_argument("--averaging", type=int, default=0, metavar="M", help="average the last M iterates (0: off)")
    r = p.add_argument_group("run")
    r.add_argument("--seed", type=int, default=0, help="seed of initialisation, shuffling and noise")
    r.add_argument("--eval-every", type=int, default=None, metavar="STEPS",
                   help="steps between evaluations (default: an epoch)")
    r.add_argument("--eval-train", default="running", choices=["running", "full"],
                   help="training metrics: running means since the last evaluation, or a full pass")
    r.add_argument("--threads", type=int, default=None, help="CPU threads (default 1, env TAILCOMP_THREADS)")
    r.add_argument("--backend", default="cpu", choices=["cpu", "cuda"], help="compute backend")
    r.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the JSON record of the run here (default: no record)")
    r.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                   help="checkpoint path (writes the one file PATH.npz; default: no checkpoint)")
    r.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                   help="also checkpoint every STEPS steps (default: only at the end)")
    r.add_argument("--resume", type=Path, default=None, metavar="PATH",
                   help="continue from this checkpoint (default: a fresh run)")
    r.add_argument("--save-params", type=Path, default=None, metavar="FILE",
                   help="write the final parameters (.npy; default: not written)")
    r.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    g = p.add_argument_group("heavy-tail diagnostics during training (simulations.diagnostics; recorded in the "
                             "metrics of --out; --eval-every must divide their periods, default: their gcd)")
    g.add_argument("--grad-noise-every", type=int, default=None, metavar="N",
                   help="gradient-noise tail index (Şimşekli et al. 2019) every N steps (default: off)")
    g.add_argument("--grad-noise-n-eval", type=int, default=None, metavar="ROWS",
                   help="rows per split for the gradient noise (default 400; 0: the whole split)")
    g.add_argument("--grad-noise-splits", default="train", metavar="S1,S2",
                   help="comma-separated evaluation sets of the gradient noise: train, test (default: train)")
    g.add_argument("--tail-index-every", type=int, default=None, metavar="N",
                   help="weight tail index per layer (entries, rows, row norms) and spectral exponent every N steps "
                   "(default: off)")
    g.add_argument("--no-spectral", action="store_true", help="--tail-index-every without the spectral exponent")
    return p


def _monitors(args, ds):
    """(monitors, the one callback chaining them, eval_every): the diagnostics of the command line."""
    if args.grad_noise_every is None and args.tail_index_every is None:
        return None, None, args.eval_every
    import importlib
    import math

    # simulations.diagnostics builds on simulations.nn: imported by name at run time, so that the
    # training core has no static dependency on it (as simulations.cli imports its subcommands)
    periods = [(f, n) for f, n in (("--grad-noise-every", args.grad_noise_every),
                                   ("--tail-index-every", args.tail_index_every)) if n is not None]
    for flag, n in periods:
        if n < 1:
            raise ValueError(f"{flag} must be a positive number of steps, got {n}")
        if args.eval_every is not None and n % args.eval_every:
            raise ValueError(f"{flag} {n} must be a multiple of --eval-every {args.eval_every} (the monitors run "
                             "at evaluations)")
    diag = importlib.import_module("simulations.diagnostics")
    monitors = []
    if args.grad_noise_every is not None:
        if args.grad_noise_n_eval is not None and args.grad_noise_n_eval < 0:
            raise ValueError(f"--grad-noise-n-eval must be >= 0 (0: the whole split), got {args.grad_noise_n_eval}")
        n_eval = diag.N_EVAL_DEFAULT if args.grad_noise_n_eval is None else (args.grad_noise_n_eval or None)
        splits = tuple(s.strip() for s in args.grad_noise_splits.split(",") if s.strip())
        monitors.append(diag.GradientNoiseMonitor(ds, batch_size=args.batch_size, every=args.grad_noise_every,
                                                  n_eval=n_eval, splits=splits, seed=args.seed))
    if args.tail_index_every is not None:
        monitors.append(diag.TailIndexMonitor(every=args.tail_index_every, spectral=not args.no_spectral))
    eval_every = args.eval_every or math.gcd(*(n for _, n in periods))
    return monitors, diag.combine(*monitors), eval_every


def _monitor_record(monitors) -> dict:
    """The settings and tidy tables of the diagnostics monitors, for the run record."""
    out = {}
    for m in monitors or ():
        sched = {"every": m.schedule.every, "at": sorted(m.schedule.at)}
        if m.key == "grad_noise":
            out[m.key] = {**sched, "batch_size": m.batch_size, "n_eval": m.n_eval, "splits": list(m.splits),
                          "per_layer": m.per_layer, "eps": m.eps, "records": m.records}
        else:
            out[m.key] = {**sched, "modes": list(m.modes), "spectral": m.spectral, "clip": m.clip,
                          "records": m.records, "errors": m.errors}
    return out


#: (input dimension, classes) of the image data sets
IMAGE_SHAPES = {"mnist": (784, 10), "fashion_mnist": (784, 10)}


def _model_spec(args):
    """The ModelSpec of ``--model`` on the image data set (1×28×28 inputs, 10 classes)."""
    from simulations.nn.models import get_model

    if args.dataset not in IMAGE_SHAPES:
        raise ValueError(f"--model needs an image data set ({', '.join(IMAGE_SHAPES)}), got --dataset {args.dataset}")
    for flag, given in (("--no-bias", args.no_bias), ("--activation", args.activation is not None)):
        if given:
            raise ValueError(f"{flag} applies to the MLP of --sizes, not to --model {args.model}")
    options = {"input_shape": (1, 28, 28), "n_classes": IMAGE_SHAPES[args.dataset][1], "loss": args.loss,
               "dtype": args.dtype}
    if args.init is not None:
        options["init"] = args.init
    return get_model(args.model, **options)


def _check_sizes(sizes: tuple[int, ...], dataset: str, dim: int, n_classes: int, loss: str) -> None:
    """The first width must be the data's input dimension, the last its number of classes."""
    text = ",".join(map(str, sizes))
    if sizes and sizes[0] != dim:
        raise ValueError(f"--sizes must start with the input dimension of {dataset}, {dim}, got {text}")
    if len(sizes) > 1 and sizes[-1] != n_classes:
        raise ValueError(f"--sizes must end with the number of classes of {dataset}, {n_classes} (the {loss} loss "
                         f"needs one output per class), got {text}")


#: the library's Python spelling in data-error messages -> the command line's
_DATA_WORDING = (
    ("pass download=True to fetch it into it, or omit root", "add --download to fetch it into it, or omit --data-dir"),
    ("pass root=, set TAILCOMP_DATA, or use download=True", "pass --data-dir DIR, set TAILCOMP_DATA, or add --download"),
    ("an explicit root is used alone", "an explicit --data-dir is used alone"),
    (" in root ", " in --data-dir "),
    ("download=True", "--download"),
    ("root=", "--data-dir"),
)


def data_message(text: str) -> str:
    """A data-loading error message reworded for the command line (``--data-dir`` / ``--download``)."""
    if text.startswith("root "):  # "root X does not exist", "root X is not a folder..."
        text = "--data-dir " + text[len("root "):]
    for old, new in _DATA_WORDING:
        text = text.replace(old, new)
    return text


def _stop_notice(args) -> str | None:
    """The budget used when no --epochs / --steps is given (said on stderr), or None."""
    if args.epochs is not None or args.steps is not None:
        return None
    args.epochs = 1
    if args.target_train_acc is None and args.interpolation_loss is None:
        return "no stop rule given: training 1 epoch (--epochs 1)"
    return "no budget given (--epochs / --steps): training at most 1 epoch (--epochs 1)"


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
    from simulations.cli import compile_notice
    from simulations.nn import data as D
    from simulations.nn.model import MLPSpec
    from simulations.nn.optim import SGD, NoiseConfig, Schedule
    from simulations.nn.train import StopRules, train

    try:
        if args.model is not None:
            spec = _model_spec(args)
        else:
            sizes = _ints(args.sizes, "sizes")
            if args.dataset in IMAGE_SHAPES:
                _check_sizes(sizes, args.dataset, *IMAGE_SHAPES[args.dataset], args.loss)
            spec = MLPSpec(sizes, bias=not args.no_bias, activation=args.activation or "relu", loss=args.loss,
                           init=args.init or "kaiming_uniform_torch", dtype=args.dtype)
        ms = _ints(args.milestones, "milestones")
        sched = Schedule("step", ms, args.gamma, "epoch") if ms else Schedule()
        opt = SGD(args.lr, args.momentum, args.weight_decay, sched)
        noise = None
        if args.noise_sigma > 0:
            noise = NoiseConfig(args.noise_alpha, args.noise_sigma, args.noise_kind, _ints(args.noise_layers, "noise-layers"))
        notice = _stop_notice(args)
        ceilings = {k: (None if v == "none" else v) for k, v in (("max_loss", args.max_loss),
                                                                  ("max_weight", args.max_weight)) if v != "default"}
        stop = StopRules(args.epochs, args.steps, args.target_train_acc, args.interpolation_loss, **ceilings)
        norm = None if args.normalize == "none" else args.normalize
        if args.dataset in IMAGE_SHAPES:
            ds = D._load_both(args.dataset, args.data_dir, args.download, norm, spec.np_dtype)
            if args.n_train is not None:
                ds.X_train, ds.y_train = ds.X_train[:args.n_train], ds.y_train[:args.n_train]
            if args.n_test is not None:
                ds.X_test, ds.y_test = ds.X_test[:args.n_test], ds.y_test[:args.n_test]
            if args.model is None:
                _check_sizes(spec.sizes, args.dataset, ds.dim, ds.n_classes, args.loss)
        elif args.dataset == "gaussian_mixture":
            ds = D.gaussian_mixture(args.n_train or 1000, spec.sizes[0], spec.sizes[-1], n_test=args.n_test or 0,
                                    dtype=spec.np_dtype, seed=args.seed)
        else:
            ds = D.teacher_dataset(args.n_train or 1000, (spec.sizes[0], 32, spec.sizes[-1]), n_test=args.n_test or 0,
                                   dtype=spec.np_dtype, seed=args.seed)
    except D.DataError as exc:
        print(f"tailcomp train: {data_message(str(exc))}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"tailcomp train: {exc}", file=sys.stderr)
        return 2
    try:
        monitors, callback, eval_every = _monitors(args, ds)
    except (ValueError, TypeError, ImportError) as exc:
        print(f"tailcomp train: {exc}", file=sys.stderr)
        return 2
    if notice:
        print(f"tailcomp train: {notice}", file=sys.stderr)
    compile_notice(KERNEL_MODULES if args.model is None else MODEL_KERNEL_MODULES)
    t0 = time.time()
    try:
        res = train(spec, ds, optimizer=opt, noise=noise, batch_size=args.batch_size, stop=stop,
                    averaging=args.averaging, eval_every=eval_every, eval_train=args.eval_train, seed=args.seed,
                    start_step=args.start_step, threads=args.threads, backend=args.backend, resume=args.resume,
                    checkpoint_path=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    progress=not args.no_progress, callback=callback)
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
    if monitors:
        record["diagnostics"] = _monitor_record(monitors)
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
