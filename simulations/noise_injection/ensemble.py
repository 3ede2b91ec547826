"""Mean-field two-layer networks trained by SGD with injected heavy-tailed noise — many at once.

The model and algorithm of Wan, Barsbey, Zaidi & Şimşekli, "Implicit compressibility of
overparametrized neural networks trained with heavy-tailed SGD" (ICML 2024): a
one-hidden-layer network in the mean-field scaling

    f(x) = (1/n) Σ_{j=1}^n a_j φ(w_jᵀx),

trained by SGD on the hidden weights (second layer fixed, as in the paper, or trained if
asked), with α-stable noise σ·η^{1/α}·ξ added to the hidden weights after every step (output
layer untouched unless the noise's ``layers`` include 1). The gradient of each neuron is
multiplied by n (mean-field time scale: kη is the time t of the limiting α-stable
McKean–Vlasov SDE, see :mod:`theory.noise_injection`). The theorem asks for η ≤ n^{−α/2−1};
the simulations let you violate it on purpose (see ``theory.noise_injection.step_size_bound``).

Noise kinds (:mod:`simulations._core.noise`): ``"neuron"`` — one SαS(1) scalar per neuron,
added to all its incoming weights; ``"entry"`` — iid SαS(1) per weight; ``"elliptical"`` — a
sub-Gaussian SαS vector per neuron. SαS(1) is the standard symmetric stable law (S0 = S1 for
β = 0); at α = 2 it is N(0, 2). σ = 0 means no noise.

:func:`train_ensemble` trains K networks (any mix of widths, α, σ, η and replicate seeds) in
one parallel numba call (:mod:`simulations.noise_injection.cpu`) or one device launch
(:mod:`simulations.noise_injection.cuda_launch`); network k draws from its own xoroshiro128+
stream, so the results do not depend on the number of threads. Weights are (out, in): hidden
(n, d), output (c, n). Data: a finite data set (X, Y) sampled with replacement
(teacher–student samples from :func:`~simulations.noise_injection.data.teacher_student_data`,
or MNIST/Fashion-MNIST arrays), or online teacher–student data drawn in the kernel.

Seeding (:mod:`simulations._core.seeding`): replicate r of ``seed`` is ``replicate(seed, r)``;
its initial hidden and output weights come from its children ``("init", "hidden")`` and
``("init", "output")``, its kernel stream (minibatches and noise) from ``kernel_seed(·, "sgd")``.
Networks with the same replicate share initial neurons and streams (common random numbers
across widths).

Pruning metrics recorded at every evaluation: the relative Frobenius error of keeping the
⌈κn⌉ largest-norm neurons, and the fraction of neurons prunable at squared relative Frobenius
error ε = 0.1 (Wan et al.'s metric).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba as nb
import numpy as np

from simulations._core.codes import ACTIVATION_CODES, LOSS_CODES, NOISE_CODES, STATUS_NAMES
from simulations._core.noise import NOISE_KINDS, NoiseSpec, as_noise_spec
from simulations._core.seeding import generator, kernel_seed, replicate, seed_sequence
from simulations._core.validation import check_alpha, check_array, check_choice, check_int, check_positive, check_real
from simulations.noise_injection import cpu as _cpu
from simulations.noise_injection.data import Teacher
from simulations.noise_injection.kernel_args import EnsembleArgs, kernel_args
from simulations.noise_injection.metrics import record_evaluation, segment_ends, segments
from simulations.noise_injection.result import LAYERS, EnsembleResult
from simulations.stable.streams import init_states

__all__ = ["NOISE_KINDS", "ACTIVATIONS", "LOSSES", "STATUS_NAMES", "NETWORKS_MAX", "WEIGHTS_MAX", "HISTORY_MAX",
           "STEPS_MAX", "BATCH_SIZE_MAX", "REPLICATES_MAX", "grid", "init_weights", "stream_states", "train_ensemble"]

#: most networks K in one ensemble (and in one grid)
NETWORKS_MAX = 2**24
#: most weights Σ_k n_k (d + c) of one ensemble (16 GiB of float64)
WEIGHTS_MAX = 2**31
#: most history entries K × (evaluations) × (len(kappas) + 6) of one ensemble
HISTORY_MAX = 2**28
#: most SGD steps of one ensemble
STEPS_MAX = 10**9
#: largest minibatch (each network's batch buffers hold batch_size × (d + c + n) floats)
BATCH_SIZE_MAX = 2**24
#: replicate indices are in [0, REPLICATES_MAX) (the consumer index of :func:`simulations._core.seeding.replicate`)
REPLICATES_MAX = 2**32

ACTIVATIONS = tuple(ACTIVATION_CODES)
LOSSES = tuple(LOSS_CODES)


def grid(widths: Sequence[int], alphas: Sequence[float], sigmas: Sequence[float], n_seeds: int = 1,
         lr: float | None = None, lr_exponent: float | None = None) -> dict[str, np.ndarray]:
    """Per-network parameter arrays for the full grid widths × alphas × sigmas × seeds.

    Returns ``{"width", "alpha", "sigma", "replicate", "lr"}`` (length K each),
    replicate = seed index. ``lr`` gives one step size for all networks;
    ``lr_exponent=e`` instead sets η = lr·n^{−e} (e.g. e = α/2 + 1 for the
    theorem's condition, with lr = 1); it needs ``lr``, and every η must be a finite positive float.
    """
    widths = [check_int(f"widths[{i}]", w, 1) for i, w in enumerate(_grid_axis("widths", widths))]
    alphas = [check_alpha(a, f"alphas[{i}]") for i, a in enumerate(_grid_axis("alphas", alphas))]
    sigmas = [check_real(f"sigmas[{i}]", s, 0.0) for i, s in enumerate(_grid_axis("sigmas", sigmas))]
    n_seeds = check_int("n_seeds", n_seeds, 1, NETWORKS_MAX)
    if lr is not None:
        lr = check_positive("lr", lr)
    if lr_exponent is not None:
        lr_exponent = check_real("lr_exponent", lr_exponent)
        if lr is None:
            raise ValueError("lr_exponent needs lr (η = lr·n^(−lr_exponent)); give lr too")
    K = len(widths) * len(alphas) * len(sigmas) * n_seeds
    if K > NETWORKS_MAX:
        raise ValueError(f"the grid has {K} networks; at most NETWORKS_MAX = {NETWORKS_MAX} are allowed")
    W, Al, S, R = np.meshgrid(widths, alphas, sigmas, np.arange(n_seeds), indexing="ij")
    out = {
        "width": W.ravel().astype(np.int64),
        "alpha": Al.ravel().astype(np.float64),
        "sigma": S.ravel().astype(np.float64),
        "replicate": R.ravel().astype(np.int64),
    }
    if lr is not None:
        if lr_exponent is None:
            out["lr"] = np.full(out["width"].shape, lr)
        else:
            with np.errstate(over="ignore", under="ignore"):
                out["lr"] = lr * out["width"].astype(np.float64) ** (-lr_exponent)
            bad = ~(np.isfinite(out["lr"]) & (out["lr"] > 0))
            if np.any(bad):
                raise ValueError(f"lr_exponent={lr_exponent:g} with lr={lr:g} gives the step size "
                                 f"{out['lr'][bad][0]:g} at width {out['width'][bad][0]}, which is not a finite "
                                 "positive float: use a smaller |lr_exponent|")
    return out


def _grid_axis(name: str, v) -> np.ndarray:
    """A scalar or a non-empty 1-D sequence of one grid axis."""
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be a number or a 1-D sequence of numbers, got {v!r}")
    arr = np.atleast_1d(np.asarray(v, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got shape {np.shape(v)}")
    return arr


def _numbers(name: str, v) -> np.ndarray:
    """A real scalar or 1-D array of reals (ints or floats; no bools, strings, complex or objects)."""
    if isinstance(v, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or a 1-D array of real numbers, got {type(v).__name__}")
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or a 1-D array of real numbers, got {v!r}") from exc
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or a 1-D array of real numbers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    return arr


def _broadcast(name: str, v, K: int, dtype) -> np.ndarray:
    arr = _numbers(name, v).astype(dtype)
    if arr.ndim == 0:
        arr = np.full(K, arr.item(), dtype=dtype)
    if arr.shape != (K,):
        raise ValueError(f"{name} must be a scalar or have shape ({K},), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _check_weights(widths, d: int, c: int) -> None:
    if len(widths) > NETWORKS_MAX:
        raise ValueError(f"{len(widths)} networks; at most NETWORKS_MAX = {NETWORKS_MAX} are allowed")
    total = sum(int(n) for n in widths) * (d + c)
    if total > WEIGHTS_MAX:
        raise ValueError(f"widths of total {sum(int(n) for n in widths)} neurons with d={d}, c={c} give {total} "
                         f"weights; at most WEIGHTS_MAX = {WEIGHTS_MAX} are allowed")


def _replicates(name: str, replicates, K: int) -> np.ndarray:
    """Replicate indices: None (0..K−1), or an integer / K integers in [0, :data:`REPLICATES_MAX`)."""
    if replicates is None:
        return np.arange(K, dtype=np.int64)
    arr = _numbers(name, replicates)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= REPLICATES_MAX):
        raise ValueError(f"{name} must be integers in [0, 2**32), got values in [{arr.min()}, {arr.max()}]")
    return _broadcast(name, arr, K, np.int64)


def init_weights(widths: Sequence[int], d: int, c: int = 1, replicates: Sequence[int] | None = None, *, seed: Any = 0, init_scale: float = 1.0,
                 second_init: str = "sign", second_scale: float = 1.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial weights per network, (out, in): hidden (n, d) with entries N(0, init_scale²/d); output (c, n).

    ``second_init="sign"``: a_j = ±second_scale (Rademacher); ``"gaussian"``: N(0, second_scale²).
    Network k's numbers come from the children ``("init", "hidden")`` and ``("init", "output")`` of
    ``replicate(seed, replicate_k)``, drawn neuron by neuron, so networks with the same replicate
    share the first neurons' initial weights (common random numbers across widths).

    ``widths``: an integer or a sequence of integers ≥ 1; ``replicates``: None (0..K−1), an integer
    or K integers in [0, 2**32). Σ_k n_k (d + c) is at most :data:`WEIGHTS_MAX`.
    """
    d = check_int("d", d, 1, WEIGHTS_MAX)
    c = check_int("c", c, 1, WEIGHTS_MAX)
    if isinstance(widths, (str, bytes)):
        raise TypeError(f"widths must be an integer or a sequence of integers, got {widths!r}")
    widths = [check_int(f"widths[{i}]", w, 1) for i, w in enumerate(np.atleast_1d(np.asarray(widths, dtype=object)))]
    _check_weights(widths, d, c)
    reps = _replicates("replicates", replicates, len(widths))
    init_scale = check_real("init_scale", init_scale, 0.0)
    second_scale = check_positive("second_scale", second_scale)
    check_choice("second_init", second_init, ("sign", "gaussian"))
    seed = seed_sequence(seed)
    Ws, As = [], []
    for n, r in zip(widths, reps):
        rep = replicate(seed, r)
        W = generator(rep, "init", "hidden").standard_normal((n, d)) * (init_scale / math.sqrt(d))
        g = generator(rep, "init", "output")
        if second_init == "sign":
            A = np.where(g.random((n, c)) < 0.5, -1.0, 1.0) * second_scale
        else:
            A = g.standard_normal((n, c)) * second_scale
        Ws.append(W)
        As.append(np.ascontiguousarray(A.T))
    return Ws, As


def stream_states(seed: Any, replicates: Sequence[int]) -> np.ndarray:
    """The (K, 2) xoroshiro128+ kernel states: network k's row from ``kernel_seed(replicate(seed, r_k), "sgd")``.

    ``replicates``: an integer or a 1-D sequence of integers in [0, 2**32).
    """
    seed = seed_sequence(seed)
    raw = np.asarray(replicates)
    if raw.ndim > 1 or not (np.issubdtype(raw.dtype, np.integer) or raw.size == 0):
        raise TypeError(f"replicates must be an integer or a 1-D array of integers, got {raw.dtype} shape {raw.shape}")
    reps = raw.astype(np.int64).reshape(-1)
    if reps.size and (reps.min() < 0 or reps.max() >= 2**32):
        raise ValueError(f"replicates must be integers in [0, 2**32), got values in [{reps.min()}, {reps.max()}]")
    rows = {int(r): init_states(1, kernel_seed(replicate(seed, r), "sgd"))[0] for r in np.unique(reps)}
    return np.ascontiguousarray(np.array([rows[int(r)] for r in reps], dtype=np.uint64).reshape(-1, 2))


# --------------------------------------------------------------------------- training: validation
def _check_data(name: str, data, d: int | None = None, c: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, Y) of arrays, got {type(data).__name__}")
    X = check_array(f"{name} X", data[0], ndim=2, min_size=1 if d is None else 0)
    Y = check_array(f"{name} Y", data[1], ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"{name} X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    if d is not None and (X.shape[1] != d or Y.shape[1] != c):
        raise ValueError(f"{name} must be (X (N, {d}), Y (N, {c})), got {X.shape} and {Y.shape}")
    return X, Y


def _per_network(width, alpha, sigma, lr, lr_second, replicates) -> dict[str, np.ndarray]:
    """The per-network arrays, broadcast to the common length K and validated."""
    named = {"width": width, "alpha": alpha, "sigma": sigma, "lr": lr, "lr_second": lr_second, "replicate": replicates}
    K = max(_numbers(k, v).size for k, v in named.items() if v is not None)
    if K > NETWORKS_MAX:
        raise ValueError(f"{K} networks; at most NETWORKS_MAX = {NETWORKS_MAX} are allowed")
    widths = _broadcast("width", width, K, np.float64)
    if not np.all(np.isfinite(widths)) or np.any(widths > WEIGHTS_MAX):
        raise ValueError(f"width must be integers in [1, WEIGHTS_MAX = {WEIGHTS_MAX}]")
    if np.any(widths != np.round(widths)):
        raise TypeError("width must be integers")
    widths = widths.astype(np.int64)
    if widths.min() < 1:
        raise ValueError(f"width must be an integer in [1, inf), got {int(widths.min())}")
    alphas = _broadcast("alpha", alpha, K, np.float64)
    for a in alphas:
        check_alpha(a)
    sigmas = _broadcast("sigma", sigma, K, np.float64)
    for s in sigmas:
        check_real("sigma", s, 0.0)
    lrs = _broadcast("lr", lr, K, np.float64)
    for v in lrs:
        check_positive("lr", v)
    lrs_second = lrs.copy() if lr_second is None else _broadcast("lr_second", lr_second, K, np.float64)
    for v in lrs_second:
        check_positive("lr_second", v)
    return {"width": widths, "alpha": alphas, "sigma": sigmas, "lr": lrs, "lr_second": lrs_second,
            "replicate": _replicates("replicate", replicates, K)}


def _inputs(data, teacher, eval_data, loss: str) -> dict[str, Any]:
    """Training data (a set or an online teacher) and evaluation set, as the kernel reads them."""
    if (data is None) == (teacher is None):
        raise ValueError("give exactly one of data=(X, Y) and teacher=Teacher(...)")
    if data is not None:
        X, Y = _check_data("data", data)
        d, c = X.shape[1], Y.shape[1]
        out = {"TW": np.zeros((d, 1)), "TA": np.zeros((1, c)), "teacher_act": ACTIVATION_CODES["identity"],
               "label_noise": 0.0}
    else:
        if not isinstance(teacher, Teacher):
            raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
        d, c = teacher.d, teacher.c
        X, Y = np.zeros((0, d)), np.zeros((0, c))
        # the kernel reads the teacher as (d, m) and (m, c), like its students
        out = {"TW": np.ascontiguousarray(teacher.weights.T), "TA": np.ascontiguousarray(teacher.second.T),
               "teacher_act": ACTIVATION_CODES[teacher.activation], "label_noise": float(teacher.label_noise)}
    if loss == "cross_entropy" and c < 2:
        raise ValueError("loss='cross_entropy' needs c >= 2 outputs (one-hot Y)")
    Xe, Ye = (np.zeros((0, d)), np.zeros((0, c))) if eval_data is None else _check_data("eval_data", eval_data, d, c)
    return {**out, "X": X, "Y": Y, "Xe": Xe, "Ye": Ye, "d": d, "c": c}


def _check_init(init, widths: np.ndarray, d: int, c: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if not (isinstance(init, (tuple, list)) and len(init) == 2
            and all(isinstance(part, (tuple, list)) for part in init)):
        raise TypeError(f"init must be a pair (hidden list, output list) of per-network arrays, got "
                        f"{type(init).__name__}")
    Ws, As = init
    K = widths.size
    if len(Ws) != K or len(As) != K:
        raise ValueError(f"init must hold {K} hidden and {K} output arrays")
    Ws = [check_array("init hidden", w, ndim=2) for w in Ws]
    As = [check_array("init output", a, ndim=2) for a in As]
    for k in range(K):
        n = int(widths[k])
        if Ws[k].shape != (n, d) or As[k].shape != (c, n):
            raise ValueError(f"init[{k}] must have shapes ({n}, {d}) and ({c}, {n}) (out, in)")
    return Ws, As


# --------------------------------------------------------------------------- training: preparation
def _history(K: int, E: int, Q: int) -> dict[str, np.ndarray]:
    hist = {name: np.full((K, E), np.nan) for name in ("hist_loss", "hist_eval_loss", "hist_eval_acc",
                                                       "hist_prunable", "hist_norm_mean", "hist_norm_max")}
    hist["hist_prune"] = np.full((K, E, Q), np.nan)
    return hist


def _flat(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the kernel-layout blocks of all networks; offsets of each block."""
    off = np.zeros(len(blocks), dtype=np.int64)
    off[1:] = np.cumsum([b.size for b in blocks[:-1]])
    return np.concatenate([np.ascontiguousarray(b, dtype=np.float64).ravel() for b in blocks]), off


# --------------------------------------------------------------------------- training: launch
def _chunks(widths: np.ndarray, n_chunks: int) -> list[tuple[int, int]]:
    """Split networks 0..K−1 into ≤ n_chunks contiguous ranges of about equal work (∝ width)."""
    K = widths.shape[0]
    n_chunks = min(n_chunks, K)
    cum = np.cumsum(widths, dtype=np.float64)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_chunks) / n_chunks, side="right")
    edges = np.unique(np.concatenate(([0], cuts, [K])))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _launch(args: EnsembleArgs, backend: str, threads: int | None) -> None:
    if backend == "cuda":
        from simulations.noise_injection.cuda_launch import run_train_ensemble

        run_train_ensemble(args)
        return
    n = nb.get_num_threads() if threads is None else check_int("threads", threads, 1, nb.config.NUMBA_NUM_THREADS)
    noised = bool((args.noise_hidden or args.noise_out) and np.any(args.sigmas > 0.0))
    noised_alphas = args.alphas[args.sigmas > 0.0]
    # scalar SαS draws: output-layer noise, or per-neuron / per-entry hidden noise at α ∈ {1, 2} (the block
    # sampler's closed forms); the elliptical hidden noise draws its own radial factor and normals
    blocky = args.noise_hidden and args.noise_kind in (NOISE_CODES["neuron"], NOISE_CODES["entry"])
    scalar = bool(args.noise_out or (blocky and np.any((noised_alphas == 1.0) | (noised_alphas == 2.0))))
    kernel = _cpu.train_networks_for(args.noise_kind, noised, online=args.X.shape[0] == 0, scalar=scalar)
    fields = kernel_args(args)
    K = args.widths.shape[0]
    # networks are independent (own stream, own slices): ranges of them run on a thread pool with
    # the GIL released; 4 chunks per thread even out unequal widths. Between segments of eval_every
    # steps the host evaluates every network (numpy), so nothing of the evaluation is compiled.
    ranges = [(0, K)] if n == 1 or K == 1 else _chunks(args.widths, 4 * n)
    pool = ThreadPoolExecutor(max_workers=n) if len(ranges) > 1 else None
    try:
        for e, (t0, t1) in enumerate(segments(args.steps, args.eval_every)):
            args.run_loss[:] = 0.0
            args.run_count[:] = 0
            if pool is None:
                kernel(0, K, t0, t1, *fields)
            else:
                for f in [pool.submit(kernel, a, b, t0, t1, *fields) for a, b in ranges]:
                    f.result()
            record_evaluation(args, e, args.run_loss, args.run_count, t1 - 1)
    finally:
        if pool is not None:
            pool.shutdown()


def train_ensemble(
    width,
    alpha,
    sigma,
    lr,
    *,
    steps: int,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    teacher: Teacher | None = None,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    noise: NoiseSpec | str = "neuron",
    activation: str = "tanh",
    loss: str = "squared",
    batch_size: int = 32,
    train_second_layer: bool = False,
    lr_second=None,
    replicate: Sequence[int] | None = None,
    init_scale: float = 1.0,
    second_init: str = "sign",
    second_scale: float = 1.0,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    eval_every: int | None = None,
    kappas: Sequence[float] = (0.05, 0.1, 0.2, 0.5),
    prune_eps: float = 0.1,
    seed: Any = 0,
    threads: int | None = None,
    backend: str = "cpu",
) -> EnsembleResult:
    """Train K mean-field two-layer networks by noise-injected SGD in one parallel call.

    Parameters
    ----------
    width, alpha, sigma, lr : scalar or array of length K
        Per-network width n ≥ 1, stability index α ∈ (0, 2], noise scale σ ≥ 0 (0: plain SGD)
        and step size η > 0 (use :func:`grid` to build a grid). K is the longest of them.
    steps : int in [1, :data:`STEPS_MAX`]
        SGD steps (same for all networks).
    data : (X, Y), optional
        Training set, X (N, d), Y (N, c) (one-hot for ``loss="cross_entropy"``); minibatches of
        ``batch_size`` ∈ [1, :data:`BATCH_SIZE_MAX`] drawn uniformly with replacement in the kernel.
    teacher : Teacher, optional
        Online teacher–student data instead (fresh x ~ N(0, I_d) every sample). Give exactly one of
        ``data`` and ``teacher``.
    eval_data : (X, Y), optional
        Evaluation set for ``eval_loss``/``eval_accuracy`` (accuracy needs c ≥ 2).
    noise : NoiseSpec or kind name
        ``NoiseSpec(kind, layers)`` (:mod:`simulations._core.noise`), kind in {"entry", "neuron",
        "elliptical"}; layers ⊆ {0, 1}: 0 = hidden (the paper; ``None``, the default, means the
        hidden layer), 1 = output weights (iid SαS per entry). A name is ``NoiseSpec(name)``.
    activation : {"identity", "relu", "tanh", "softplus"};  loss : {"squared", "cross_entropy"}
    train_second_layer : bool
        Train the output weights too (step ``lr_second``, default ``lr``); the paper keeps them fixed.
    replicate : int array, optional
        Replicate index per network (default 0..K−1; it also sets K when longer than the others):
        selects the random stream and the initial weights; networks with equal replicate share
        initial neurons and noise streams.
    init : (hidden list, output list), optional
        Initial weights, (out, in): hidden (n_k, d) and output (c, n_k) per network; default
        :func:`init_weights`.
    eval_every : int, optional
        Evaluate every this many steps (default: only after the last step); the last step is always evaluated.
        Each evaluation is a return to the host (the metrics are numpy, :mod:`.metrics`): the kernel
        pays a call and a scratch allocation per network each time, so very small values (≲ 10 steps)
        slow training down.
    kappas : fractions kept for the pruning error; prune_eps : squared-error level of the prunable fraction.
    seed : None, int, SeedSequence or Generator.  threads : numba threads (default: numba's setting).
    backend : {"cpu", "cuda"}
        ``"cuda"`` runs the training loop on the GPU (:mod:`simulations.noise_injection.cuda_launch`, one
        block per network) with the same random streams, hence the same results to rounding.
    """
    # validation
    check_choice("backend", backend, ("cpu", "cuda"))
    steps = check_int("steps", steps, 1, STEPS_MAX)
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    noise = as_noise_spec(noise)
    noise_layers = noise.layer_list(len(LAYERS))
    act_code = ACTIVATION_CODES[check_choice("activation", activation, ACTIVATION_CODES)]
    loss_code = LOSS_CODES[check_choice("loss", loss, LOSS_CODES)]
    if not isinstance(train_second_layer, (bool, np.bool_)):
        raise TypeError(f"train_second_layer must be a bool, got {type(train_second_layer).__name__}")
    cfg = _per_network(width, alpha, sigma, lr, lr_second, replicate)
    widths, K = cfg["width"], cfg["width"].size
    kappas = check_array("kappas", np.atleast_1d(kappas), ndim=1, min_size=1)
    if np.any((kappas < 0) | (kappas > 1)):
        raise ValueError("kappas must be fractions in [0, 1]")
    prune_eps = check_real("prune_eps", prune_eps, 0.0, 1.0)
    eval_every = steps if eval_every is None else check_int("eval_every", eval_every, 1, STEPS_MAX)
    inputs = _inputs(data, teacher, eval_data, loss)
    d, c = inputs["d"], inputs["c"]
    _check_weights(widths, d, c)
    n_hist = K * (-(-steps // eval_every)) * (kappas.size + 6)
    if n_hist > HISTORY_MAX:
        raise ValueError(f"{K} networks evaluated every {eval_every} of {steps} steps keep {n_hist} history "
                         f"entries; at most HISTORY_MAX = {HISTORY_MAX}: raise eval_every")
    seed = seed_sequence(seed)
    if init is None:
        Ws, As = init_weights(widths, d, c, cfg["replicate"], seed=seed, init_scale=init_scale,
                              second_init=second_init, second_scale=second_scale)
    else:
        Ws, As = _check_init(init, widths, d, c)

    # preparation: the kernels store hidden blocks as (d, n) (neuron = column, the loops over neurons
    # vectorise) and output blocks as (n, c); the API's (out, in) arrays are transposed here, once
    Wf, woff = _flat([w.T for w in Ws])
    Af, aoff = _flat([a.T for a in As])
    X, Y, Xe, Ye = inputs["X"], inputs["Y"], inputs["Xe"], inputs["Ye"]
    recorded = segment_ends(steps, eval_every)
    hist = _history(K, recorded.size, kappas.size)
    status = np.zeros(K, dtype=np.int64)
    fail_step = np.full(K, -1, dtype=np.int64)
    args = EnsembleArgs(
        W=Wf, A=Af, woff=woff, aoff=aoff, widths=widths, alphas=cfg["alpha"], sigmas=cfg["sigma"], lrs=cfg["lr"],
        lrs_second=cfg["lr_second"], states=stream_states(seed, cfg["replicate"]),
        d=d, c=c, noise_kind=noise.code, act=act_code, loss=loss_code, train_second=bool(train_second_layer),
        noise_hidden=0 in noise_layers, noise_out=1 in noise_layers,
        X=X, Y=Y, TW=inputs["TW"], TA=inputs["TA"], teacher_act=inputs["teacher_act"],
        label_noise=inputs["label_noise"], Xe=Xe, Ye=Ye, batch_size=batch_size, steps=steps, eval_every=eval_every, kappas=kappas, prune_eps=prune_eps,
        status=status, fail_step=fail_step, run_loss=np.zeros(K), run_count=np.zeros(K, dtype=np.int64), **hist,
    )

    _launch(args, backend, threads)

    has_eval = Xe.shape[0] > 0
    return EnsembleResult(
        config=cfg, d=d, c=c, hidden_flat=Wf, second_flat=Af, woff=woff, aoff=aoff, steps_recorded=recorded,
        loss=hist["hist_loss"], eval_loss=hist["hist_eval_loss"] if has_eval else None,
        eval_accuracy=hist["hist_eval_acc"] if (has_eval and c > 1) else None,
        prune_error=hist["hist_prune"], kappas=kappas, prunable_fraction=hist["hist_prunable"], prune_eps=prune_eps,
        norm_mean=hist["hist_norm_mean"], norm_max=hist["hist_norm_max"], status=status, fail_step=fail_step,
        settings={"noise": noise, "activation": activation, "loss": loss, "batch_size": batch_size, "steps": steps,
                  "train_second_layer": bool(train_second_layer), "seed": seed.entropy},
    )
