"""Mean-field two-layer networks trained by SGD with injected heavy-tailed noise — many at once.

The model and algorithm of Wan, Barsbey, Zaidi & Şimşekli, "Implicit
compressibility of overparametrized neural networks trained with heavy-tailed
SGD" (ICML 2024): a one-hidden-layer network in the mean-field scaling

    f(x) = (1/n) Σ_{j=1}^n a_j φ(w_jᵀx),

trained by SGD on the hidden weights (second layer fixed, as in the paper, or
trained if asked), with α-stable noise σ·η^{1/α}·ξ added to the hidden weights
after every step (output layer untouched unless ``noise_layers`` includes 1).
The gradient of each neuron is multiplied by n (mean-field time scale: kη is
the time t of the limiting α-stable McKean–Vlasov SDE, see
:mod:`theory.noise_injection`). The theorem asks for η ≤ n^{−α/2−1}; the
simulations let you violate it on purpose (see ``theory.noise_injection.step_size_bound``).

Noise types (THEORY.md §7): ``"neuron"`` — one SαS(1) scalar per neuron,
added to all its incoming weights; ``"entry"`` — iid SαS(1) per weight;
``"elliptical"`` — a sub-Gaussian SαS vector per neuron. SαS(1) is the standard
symmetric stable law (S0 = S1 for β = 0); at α = 2 it is N(0, 2). σ = 0 means no noise.

:func:`train_ensemble` trains K networks (any mix of widths, α, σ, η and
replicate seeds) in one parallel numba call (:mod:`simulations.noise_injection.cpu`);
network k draws from its own xoroshiro128+ stream, so the results do not depend
on the number of threads. Data: a finite data set (X, Y) sampled with
replacement (teacher–student samples from :func:`teacher_student_data`, or
MNIST/Fashion-MNIST arrays), or online teacher–student data drawn in the kernel.

Pruning metrics recorded at every evaluation: the relative Frobenius error of
keeping the ⌈κn⌉ largest-norm neurons, and the fraction of neurons prunable at
squared relative Frobenius error ε = 0.1 (Wan et al.'s metric).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np

from simulations._core.validation import (
    as_generator,
    check_alpha,
    check_array,
    check_choice,
    check_int,
    check_positive,
    check_real,
    seed_from,
)
from simulations.noise_injection import cpu as _k
from simulations.stable.streams import init_states

__all__ = [
    "NOISE_TYPES",
    "ACTIVATIONS",
    "LOSSES",
    "STATUS_NAMES",
    "Teacher",
    "make_teacher",
    "teacher_student_data",
    "one_hot",
    "grid",
    "init_weights",
    "train_ensemble",
    "EnsembleResult",
    "fit_width_slope",
    "WidthSlope",
    "width_study",
    "sigma_study",
    "step_size_study",
]

NOISE_TYPES = {"neuron": _k.NOISE_NEURON, "entry": _k.NOISE_ENTRY, "elliptical": _k.NOISE_ELLIPTICAL}
ACTIVATIONS = {"tanh": _k.ACT_TANH, "relu": _k.ACT_RELU, "linear": _k.ACT_LINEAR}
LOSSES = {"squared": _k.LOSS_SQUARED, "cross_entropy": _k.LOSS_XENT}
STATUS_NAMES = {_k.STATUS_OK: "ok", _k.STATUS_DIVERGED: "diverged"}
LAYERS = (0, 1)


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Teacher:
    """A teacher network y = (1/m) Σ_l b_l φ(v_lᵀx) (+ label noise), weights (d, m) and (m, c)."""

    weights: np.ndarray
    second: np.ndarray
    activation: str = "tanh"
    label_noise: float = 0.0

    @property
    def d(self) -> int:
        return self.weights.shape[0]

    @property
    def c(self) -> int:
        return self.second.shape[1]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.d:
            raise ValueError(f"X must have {self.d} columns, got shape {X.shape}")
        z = X @ self.weights
        h = {"tanh": np.tanh, "relu": lambda u: np.maximum(u, 0.0), "linear": lambda u: u}[self.activation](z)
        return h @ self.second / self.weights.shape[1]


def make_teacher(d: int, width: int = 4, c: int = 1, *, activation: str = "tanh", label_noise: float = 0.0,
                 scale: float = 1.0, seed: Any = 0) -> Teacher:
    """Random teacher: entries of v_l iid N(0, scale²/d) (so vᵀx = O(scale) for x ~ N(0, I_d)),
    b_l iid N(0, m) (so that y = (1/m) Σ_l b_l φ(v_lᵀx) has variance O(1) whatever m).
    """
    d = check_int("d", d, 1)
    width = check_int("width", width, 1)
    c = check_int("c", c, 1)
    check_choice("activation", activation, ACTIVATIONS)
    label_noise = check_real("label_noise", label_noise, 0.0)
    scale = check_positive("scale", scale)
    rng = as_generator(seed)
    W = rng.normal(0.0, scale / math.sqrt(d), size=(d, width))
    B = rng.normal(0.0, 1.0, size=(width, c)) * width ** 0.5
    return Teacher(W, B, activation, label_noise)


def teacher_student_data(teacher: Teacher, n_samples: int, *, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) with x ~ N(0, I_d) and y = teacher(x) + label_noise·N(0, I_c)."""
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
    n_samples = check_int("n_samples", n_samples, 1)
    rng = as_generator(seed)
    X = rng.standard_normal((n_samples, teacher.d))
    Y = teacher(X)
    if teacher.label_noise > 0:
        Y = Y + teacher.label_noise * rng.standard_normal(Y.shape)
    return X, Y


def one_hot(labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Integer labels (N,) → float64 one-hot matrix (N, n_classes)."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {lab.dtype} and shape {lab.shape}")
    if lab.size and lab.min() < 0:
        raise ValueError("labels must be non-negative")
    n_classes = int(lab.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, 1)
    if lab.size and lab.max() >= n_classes:
        raise ValueError(f"labels must be < n_classes={n_classes}")
    out = np.zeros((lab.size, n_classes))
    out[np.arange(lab.size), lab] = 1.0
    return out


# --------------------------------------------------------------------------- configuration
def grid(widths: Sequence[int], alphas: Sequence[float], sigmas: Sequence[float], n_seeds: int = 1,
         lr: float | None = None, lr_exponent: float | None = None) -> dict[str, np.ndarray]:
    """Per-network parameter arrays for the full grid widths × alphas × sigmas × seeds.

    Returns ``{"width", "alpha", "sigma", "replicate", "lr"}`` (length K each),
    replicate = seed index. ``lr`` gives one step size for all networks;
    ``lr_exponent=e`` instead sets η = lr·n^{−e} (e.g. e = α/2 + 1 for the
    theorem's condition, with lr = 1).
    """
    widths = [check_int("width", w, 1) for w in np.atleast_1d(widths)]
    alphas = [check_alpha(a) for a in np.atleast_1d(alphas)]
    sigmas = [check_real("sigma", s, 0.0) for s in np.atleast_1d(sigmas)]
    n_seeds = check_int("n_seeds", n_seeds, 1)
    W, Al, S, R = np.meshgrid(widths, alphas, sigmas, np.arange(n_seeds), indexing="ij")
    out = {
        "width": W.ravel().astype(np.int64),
        "alpha": Al.ravel().astype(np.float64),
        "sigma": S.ravel().astype(np.float64),
        "replicate": R.ravel().astype(np.int64),
    }
    if lr is not None:
        lr = check_positive("lr", lr)
        if lr_exponent is None:
            out["lr"] = np.full(out["width"].shape, lr)
        else:
            e = check_real("lr_exponent", lr_exponent)
            out["lr"] = lr * out["width"].astype(np.float64) ** (-e)
    return out


def _broadcast(name: str, v, K: int, dtype) -> np.ndarray:
    arr = np.asarray(v, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(K, arr.item(), dtype=dtype)
    if arr.shape != (K,):
        raise ValueError(f"{name} must be a scalar or have shape ({K},), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _replicate_seed(seed: Any) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return int(seed)
    return seed_from(as_generator(seed))


def init_weights(widths, d: int, c: int = 1, replicates=None, *, seed: Any = 0, init_scale: float = 1.0,
                 second_init: str = "sign", second_scale: float = 1.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial weights per network: hidden (d, n) with entries N(0, init_scale²/d); output (n, c).

    ``second_init="sign"``: a_j = ±second_scale (Rademacher); ``"gaussian"``: N(0, second_scale²).
    Network k's numbers come from ``SeedSequence(seed, spawn_key=(replicate_k,))``, so networks with
    the same replicate share the first neurons' initial weights (common random numbers across widths).
    """
    d = check_int("d", d, 1)
    c = check_int("c", c, 1)
    widths = np.atleast_1d(np.asarray(widths))
    for w in widths:
        check_int("width", w, 1)
    K = widths.size
    replicates = np.arange(K) if replicates is None else _broadcast("replicate", replicates, K, np.int64)
    init_scale = check_real("init_scale", init_scale, 0.0)
    second_scale = check_positive("second_scale", second_scale)
    check_choice("second_init", second_init, ("sign", "gaussian"))
    base = _replicate_seed(seed)
    Ws, As = [], []
    for n, r in zip(widths, replicates):
        n = int(n)
        g = np.random.default_rng(np.random.SeedSequence(base, spawn_key=(int(r),)))
        # draw neuron by neuron so that neuron j's weights do not depend on n
        W = g.standard_normal((n, d)).T * (init_scale / math.sqrt(d))
        if second_init == "sign":
            A = np.where(g.random((n, c)) < 0.5, -1.0, 1.0) * second_scale
        else:
            A = g.standard_normal((n, c)) * second_scale
        Ws.append(np.ascontiguousarray(W))
        As.append(np.ascontiguousarray(A))
    return Ws, As


# --------------------------------------------------------------------------- result
@dataclass
class EnsembleResult:
    """Everything a :func:`train_ensemble` call produced. Per-network arrays have length K.

    ``status[k]`` is 0 ("ok") or 1 ("diverged": non-finite loss or weights at step
    ``fail_step[k]``; the network was stopped there and its later history is NaN).
    History arrays have shape (K, E) (``prune_error``: (K, E, len(kappas))), one
    column per evaluation at ``steps_recorded``.
    """

    config: dict[str, np.ndarray]
    d: int
    c: int
    hidden_flat: np.ndarray
    second_flat: np.ndarray
    woff: np.ndarray
    aoff: np.ndarray
    steps_recorded: np.ndarray
    loss: np.ndarray
    eval_loss: np.ndarray | None
    eval_accuracy: np.ndarray | None
    prune_error: np.ndarray
    kappas: np.ndarray
    prunable_fraction: np.ndarray
    prune_eps: float
    norm_mean: np.ndarray
    norm_max: np.ndarray
    status: np.ndarray
    fail_step: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def K(self) -> int:
        return int(self.status.shape[0])

    @property
    def ok(self) -> np.ndarray:
        return self.status == _k.STATUS_OK

    def status_names(self) -> list[str]:
        return [STATUS_NAMES[int(s)] for s in self.status]

    def _check_k(self, k) -> int:
        return check_int("k", k, 0, self.K - 1)

    def layer(self, k: int, layer: int) -> np.ndarray:
        """Weights of network k: layer 0 → hidden (n, d) (row j = neuron j), layer 1 → output (n, c)."""
        k = self._check_k(k)
        layer = check_int("layer", layer)
        if layer not in LAYERS:
            raise ValueError(f"layer must be 0 (hidden) or 1 (output) in a two-layer network, got {layer}")
        n = int(self.config["width"][k])
        if layer == 0:
            return self.hidden_flat[self.woff[k]: self.woff[k] + self.d * n].reshape(self.d, n).T.copy()
        return self.second_flat[self.aoff[k]: self.aoff[k] + n * self.c].reshape(n, self.c).copy()

    def hidden(self, k: int) -> np.ndarray:
        return self.layer(k, 0)

    def second(self, k: int) -> np.ndarray:
        return self.layer(k, 1)

    def neuron_norms(self, k: int) -> np.ndarray:
        """Euclidean norms ‖w_j‖ of the incoming weights of every hidden neuron of network k."""
        return np.linalg.norm(self.hidden(k), axis=1)

    def final(self, name: str) -> np.ndarray:
        """Last recorded value of a history array (``prune_error`` gives (K, len(kappas)))."""
        arr = check_choice("name", name, ("loss", "eval_loss", "eval_accuracy", "prune_error",
                                           "prunable_fraction", "norm_mean", "norm_max"))
        a = getattr(self, arr)
        if a is None:
            raise ValueError(f"{name} was not recorded (no eval_data given)")
        return a[:, -1]

    def predict(self, k: int, X: np.ndarray) -> np.ndarray:
        """Network k's outputs f(x) on rows of X (numpy; for checks and small sets)."""
        X = check_array("X", X, ndim=2)
        W, A = self.hidden(k), self.second(k)
        act = self.settings["activation"]
        z = X @ W.T
        h = {"tanh": np.tanh, "relu": lambda u: np.maximum(u, 0.0), "linear": lambda u: u}[act](z)
        return h @ A / W.shape[0]


# --------------------------------------------------------------------------- training
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
    noise: str = "neuron",
    noise_layers: Sequence[int] = (0,),
    activation: str = "tanh",
    loss: str = "squared",
    batch_size: int = 32,
    train_second_layer: bool = False,
    lr_second=None,
    replicate=None,
    init_scale: float = 1.0,
    second_init: str = "sign",
    second_scale: float = 1.0,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    eval_every: int | None = None,
    kappas: Sequence[float] = (0.05, 0.1, 0.2, 0.5),
    prune_eps: float = 0.1,
    seed: Any = 0,
    num_threads: int | None = None,
    backend: str = "cpu",
) -> EnsembleResult:
    """Train K mean-field two-layer networks by noise-injected SGD in one parallel call.

    Parameters
    ----------
    width, alpha, sigma, lr : scalar or array of length K
        Per-network width n ≥ 1, stability index α ∈ (0, 2], noise scale σ ≥ 0 (0: plain SGD)
        and step size η > 0 (use :func:`grid` to build a grid). K is the longest of them.
    steps : int ≥ 1
        SGD steps (same for all networks).
    data : (X, Y), optional
        Training set, X (N, d), Y (N, c) (one-hot for ``loss="cross_entropy"``); minibatches of
        ``batch_size`` drawn uniformly with replacement in the kernel.
    teacher : Teacher, optional
        Online teacher–student data instead (fresh x ~ N(0, I_d) every sample). Give exactly one of
        ``data`` and ``teacher``.
    eval_data : (X, Y), optional
        Evaluation set for ``eval_loss``/``eval_accuracy`` (accuracy needs c ≥ 2).
    noise : {"neuron", "entry", "elliptical"}
    noise_layers : subset of {0, 1}
        Layers that receive the noise: 0 = hidden (the paper), 1 = output weights (iid SαS per entry).
    activation : {"tanh", "relu", "linear"};  loss : {"squared", "cross_entropy"}
    train_second_layer : bool
        Train the output weights too (step ``lr_second``, default ``lr``); the paper keeps them fixed.
    replicate : int array, optional
        Replicate index per network (default 0..K−1; it also sets K when longer than the others): selects the random stream and the initial
        weights; networks with equal replicate share initial neurons and noise streams.
    init : (hidden list, output list), optional
        Initial weights, hidden (d, n_k) and output (n_k, c) per network; default :func:`init_weights`.
    eval_every : int, optional
        Evaluate every this many steps (default: only after the last step); the last step is always evaluated.
    kappas : fractions kept for the pruning error; prune_eps : squared-error level of the prunable fraction.
    seed : int, SeedSequence or Generator.  num_threads : numba threads (default: numba's setting).
    backend : {"cpu", "cuda"}
        ``"cuda"`` runs the training loop on the GPU (:mod:`simulations.noise_injection.cuda_launch`, one
        block per network) with the same random streams, hence the same results to rounding.
    """
    check_choice("backend", backend, ("cpu", "cuda"))
    steps = check_int("steps", steps, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    noise_code = NOISE_TYPES[check_choice("noise", noise, NOISE_TYPES)]
    act_code = ACTIVATIONS[check_choice("activation", activation, ACTIVATIONS)]
    loss_code = LOSSES[check_choice("loss", loss, LOSSES)]
    if isinstance(noise_layers, (int, np.integer)):
        noise_layers = (noise_layers,)
    noise_layers = tuple(check_int("noise_layers", L) for L in noise_layers)
    for L in noise_layers:
        if L not in LAYERS:
            raise ValueError(f"noise_layers must contain only 0 (hidden) or 1 (output), got layer {L}")
    if not isinstance(train_second_layer, (bool, np.bool_)):
        raise TypeError(f"train_second_layer must be a bool, got {type(train_second_layer).__name__}")

    sizes = [np.size(v) for v in (width, alpha, sigma, lr)]
    if replicate is not None:
        sizes.append(np.size(replicate))
    if lr_second is not None:
        sizes.append(np.size(lr_second))
    K = max(sizes)
    widths = _broadcast("width", width, K, np.float64)
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
    lrs_a = lrs.copy() if lr_second is None else _broadcast("lr_second", lr_second, K, np.float64)
    for v in lrs_a:
        check_positive("lr_second", v)
    replicates = np.arange(K, dtype=np.int64) if replicate is None else _broadcast("replicate", replicate, K, np.int64)
    if replicates.min() < 0:
        raise ValueError("replicate must be non-negative integers")
    kappas = check_array("kappas", np.atleast_1d(kappas), ndim=1, min_size=1)
    if np.any((kappas < 0) | (kappas > 1)):
        raise ValueError("kappas must be fractions in [0, 1]")
    prune_eps = check_real("prune_eps", prune_eps, 0.0, 1.0)
    eval_every = steps if eval_every is None else check_int("eval_every", eval_every, 1)

    if (data is None) == (teacher is None):
        raise ValueError("give exactly one of data=(X, Y) and teacher=Teacher(...)")
    if data is not None:
        X = check_array("data X", data[0], ndim=2, min_size=1)
        Y = check_array("data Y", data[1], ndim=(1, 2))
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"data X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
        d, c = X.shape[1], Y.shape[1]
        TW = np.zeros((d, 1))
        TA = np.zeros((1, c))
        t_act, label_noise = 0, 0.0
    else:
        if not isinstance(teacher, Teacher):
            raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
        d, c = teacher.d, teacher.c
        X = np.zeros((0, d))
        Y = np.zeros((0, c))
        TW = np.ascontiguousarray(teacher.weights, dtype=np.float64)
        TA = np.ascontiguousarray(teacher.second, dtype=np.float64)
        t_act, label_noise = ACTIVATIONS[teacher.activation], float(teacher.label_noise)
    if loss == "cross_entropy" and c < 2:
        raise ValueError("loss='cross_entropy' needs c >= 2 outputs (one-hot Y)")
    if eval_data is not None:
        Xe = check_array("eval_data X", eval_data[0], ndim=2)
        Ye = check_array("eval_data Y", eval_data[1], ndim=(1, 2))
        if Ye.ndim == 1:
            Ye = Ye[:, None]
        if Xe.shape[1] != d or Ye.shape[1] != c or Xe.shape[0] != Ye.shape[0]:
            raise ValueError(f"eval_data must be (X (N, {d}), Y (N, {c})), got {Xe.shape} and {Ye.shape}")
    else:
        Xe, Ye = np.zeros((0, d)), np.zeros((0, c))

    if init is None:
        Ws, As = init_weights(widths, d, c, replicates, seed=seed, init_scale=init_scale,
                              second_init=second_init, second_scale=second_scale)
    else:
        Ws, As = init
        if len(Ws) != K or len(As) != K:
            raise ValueError(f"init must hold {K} hidden and {K} output arrays")
        Ws = [check_array("init hidden", w, ndim=2) for w in Ws]
        As = [check_array("init output", a, ndim=2) for a in As]
        for kk in range(K):
            if Ws[kk].shape != (d, widths[kk]) or As[kk].shape != (widths[kk], c):
                raise ValueError(f"init[{kk}] must have shapes ({d}, {widths[kk]}) and ({widths[kk]}, {c})")
    woff = np.zeros(K, dtype=np.int64)
    aoff = np.zeros(K, dtype=np.int64)
    woff[1:] = np.cumsum(widths[:-1] * d)
    aoff[1:] = np.cumsum(widths[:-1] * c)
    Wf = np.concatenate([np.ascontiguousarray(w, dtype=np.float64).ravel() for w in Ws])
    Af = np.concatenate([np.ascontiguousarray(a, dtype=np.float64).ravel() for a in As])

    base = _replicate_seed(seed)
    all_states = init_states(int(replicates.max()) + 1, base % 2**64)
    states = np.ascontiguousarray(all_states[replicates])

    E = -(-steps // eval_every)
    if steps % eval_every == 0:
        recorded = np.arange(1, E + 1) * eval_every
    else:
        recorded = np.append(np.arange(1, E) * eval_every, steps)
    nan = np.nan
    hist_loss = np.full((K, E), nan)
    hist_eval_loss = np.full((K, E), nan)
    hist_eval_acc = np.full((K, E), nan)
    hist_prune = np.full((K, E, kappas.size), nan)
    hist_prunable = np.full((K, E), nan)
    hist_norm_mean = np.full((K, E), nan)
    hist_norm_max = np.full((K, E), nan)
    status = np.zeros(K, dtype=np.int64)
    fail_step = np.full(K, -1, dtype=np.int64)

    old_threads = nb.get_num_threads()
    if num_threads is not None:
        nb.set_num_threads(check_int("num_threads", num_threads, 1, nb.config.NUMBA_NUM_THREADS))
    if backend == "cuda":
        from simulations.noise_injection.cuda_launch import run_train_ensemble as kernel
    else:
        kernel = _k.train_ensemble
    try:
        kernel(
            Wf, Af, woff, aoff, widths, alphas, sigmas, lrs, lrs_a, states,
            d, c, noise_code, act_code, loss_code, bool(train_second_layer), 0 in noise_layers, 1 in noise_layers,
            X, Y, TW, TA, t_act, label_noise,
            Xe, Ye, batch_size, steps, eval_every, kappas, prune_eps,
            hist_loss, hist_eval_loss, hist_eval_acc, hist_prune, hist_prunable, hist_norm_mean, hist_norm_max,
            status, fail_step,
        )
    finally:
        nb.set_num_threads(old_threads)
    has_eval = Xe.shape[0] > 0
    return EnsembleResult(
        config={"width": widths, "alpha": alphas, "sigma": sigmas, "lr": lrs, "lr_second": lrs_a,
                "replicate": replicates},
        d=d, c=c, hidden_flat=Wf, second_flat=Af, woff=woff, aoff=aoff, steps_recorded=recorded,
        loss=hist_loss, eval_loss=hist_eval_loss if has_eval else None,
        eval_accuracy=hist_eval_acc if (has_eval and c > 1) else None,
        prune_error=hist_prune, kappas=kappas, prunable_fraction=hist_prunable, prune_eps=prune_eps,
        norm_mean=hist_norm_mean, norm_max=hist_norm_max, status=status, fail_step=fail_step,
        settings={"noise": noise, "noise_layers": noise_layers, "activation": activation, "loss": loss,
                  "batch_size": batch_size, "steps": steps, "train_second_layer": bool(train_second_layer),
                  "seed": base},
    )


# --------------------------------------------------------------------------- analysis
@dataclass(frozen=True)
class WidthSlope:
    """OLS fit log(error) = a + slope·log(n) over all (width, replicate) points.

    ``ci``: two-sided (1 − level) confidence interval of the slope; ``p_decreasing``:
    one-sided p-value of H0 slope ≥ 0 against slope < 0 (Student t, n_points − 2 dof).
    """

    slope: float
    intercept: float
    stderr: float
    ci: tuple[float, float]
    p_decreasing: float
    n_points: int
    level: float

    @property
    def decreasing(self) -> bool:
        """Slope significantly negative at ``level`` (one-sided t-test)."""
        return self.p_decreasing < self.level


def fit_width_slope(widths, errors, level: float = 0.01) -> WidthSlope:
    """Slope of log(error) against log(width) with a t confidence interval and one-sided test.

    ``widths`` and ``errors`` are flat arrays of the same length (one point per network; the
    seeds give the replication). Non-positive or non-finite errors are rejected.
    """
    from scipy import stats

    w = check_array("widths", widths, ndim=1, min_size=3)
    e = check_array("errors", errors, ndim=1, min_size=3)
    if w.shape != e.shape:
        raise ValueError(f"widths and errors must have the same shape, got {w.shape} and {e.shape}")
    if np.any(w < 1) or np.any(e <= 0):
        raise ValueError("widths must be >= 1 and errors > 0")
    level = check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    if np.unique(w).size < 2:
        raise ValueError("widths must contain at least two distinct values")
    xs, ys = np.log(w), np.log(e)
    res = stats.linregress(xs, ys)
    dof = xs.size - 2
    tq = stats.t.ppf(1 - level / 2, dof)
    p_dec = stats.t.cdf(res.slope / res.stderr, dof) if res.stderr > 0 else float(res.slope < 0)
    return WidthSlope(float(res.slope), float(res.intercept), float(res.stderr),
                      (float(res.slope - tq * res.stderr), float(res.slope + tq * res.stderr)),
                      float(p_dec), int(xs.size), level)


# --------------------------------------------------------------------------- studies (notebook 05 + paper figure)
def _teacher_set(d: int, teacher_width: int, n_train: int, seed: int):
    teacher = make_teacher(d, teacher_width, seed=seed)
    return teacher_student_data(teacher, n_train, seed=seed + 1)


def width_study(widths, cases, *, n_seeds: int, steps: int, lr: float, d: int = 5, teacher_width: int = 4,
                n_train: int = 1000, batch_size: int = 8, kappa: float = 0.1, noise: str = "neuron",
                level: float = 0.01, seed: int = 0, num_threads: int | None = None) -> dict:
    """Pruning error vs width for several (α, σ) cases, all networks in one ensemble call.

    ``cases``: list of (α, σ) pairs (σ = 0: plain SGD). Teacher–student data (d inputs, a
    ``teacher_width`` tanh teacher, ``n_train`` samples), "neuron" noise by default.
    Returns a dict with ``widths``, ``cases``, ``errors`` (cases × widths × seeds: relative
    Frobenius error after keeping ⌈κn⌉ largest neurons), ``prunable`` (same shape: fraction
    prunable at squared error 0.1), ``slopes`` (a :class:`WidthSlope` per case at ``level``),
    ``hill`` (cases × seeds: Hill tail index of the neuron norms at the largest width),
    ``status`` (cases × widths × seeds) and ``t`` = steps·lr.
    """
    from simulations.tail_index.estimators import hill

    widths = [check_int("width", w, 1) for w in widths]
    cases = [(check_alpha(a), check_real("sigma", s, 0.0)) for a, s in cases]
    n_seeds = check_int("n_seeds", n_seeds, 1)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    C, Wn = len(cases), len(widths)
    A, S = np.array([c[0] for c in cases]), np.array([c[1] for c in cases])
    ci, wi, si = np.meshgrid(np.arange(C), np.arange(Wn), np.arange(n_seeds), indexing="ij")
    ci, wi, si = ci.ravel(), wi.ravel(), si.ravel()
    w_arr = np.asarray(widths)[wi]
    res = train_ensemble(w_arr, A[ci], S[ci], lr, replicate=si, steps=steps, data=(X, Y), noise=noise,
                         batch_size=batch_size, kappas=(kappa,), seed=seed, num_threads=num_threads)
    shape = (C, Wn, n_seeds)
    errors = res.prune_error[:, -1, 0].reshape(shape)
    prunable = res.prunable_fraction[:, -1].reshape(shape)
    status = res.status.reshape(shape)
    slopes = []
    for c in range(C):
        ok = status[c].ravel() == 0
        slopes.append(fit_width_slope(np.repeat(widths, n_seeds)[ok], errors[c].ravel()[ok], level=level))
    big = np.flatnonzero(wi == Wn - 1)
    hills = np.full((C, n_seeds), np.nan)
    for k in big:
        if res.status[k] == 0:
            hills[ci[k], si[k]] = hill(res.neuron_norms(k))
    return {"widths": np.asarray(widths), "cases": cases, "errors": errors, "prunable": prunable, "slopes": slopes,
            "hill": hills, "status": status, "t": steps * lr, "kappa": kappa, "d": d, "noise": noise}


def sigma_study(sigmas, alphas, *, width: int, n_seeds: int, steps: int, lr: float, d: int = 5,
                teacher_width: int = 4, n_train: int = 1000, batch_size: int = 8, kappa: float = 0.1,
                noise: str = "neuron", seed: int = 0, num_threads: int | None = None) -> dict:
    """Pruning error, prunable fraction and final training loss vs σ at one width, for each α.

    Returns ``errors``, ``prunable``, ``loss`` of shape (alphas × sigmas × seeds) and ``status``.
    """
    sigmas = [check_real("sigma", s, 0.0) for s in sigmas]
    alphas = [check_alpha(a) for a in alphas]
    width = check_int("width", width, 1)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    g = grid([width], alphas, sigmas, n_seeds, lr=lr)
    res = train_ensemble(g["width"], g["alpha"], g["sigma"], g["lr"], replicate=g["replicate"], steps=steps,
                         data=(X, Y), eval_data=(X, Y), noise=noise, batch_size=batch_size, kappas=(kappa,),
                         seed=seed, num_threads=num_threads)
    shape = (len(alphas), len(sigmas), n_seeds)
    return {"sigmas": np.asarray(sigmas), "alphas": np.asarray(alphas), "width": width,
            "errors": res.prune_error[:, -1, 0].reshape(shape), "prunable": res.prunable_fraction[:, -1].reshape(shape),
            "loss": res.eval_loss[:, -1].reshape(shape), "status": res.status.reshape(shape), "kappa": kappa}


def step_size_study(widths, alpha: float, *, t: float, sigma: float = 1.0, lr_fixed: float | None = None,
                    n_seeds: int = 4, d: int = 5, teacher_width: int = 4, n_train: int = 1000, batch_size: int = 8,
                    kappa: float = 0.1, noise: str = "neuron", seed: int = 0, max_steps: int = 200_000,
                    num_threads: int | None = None) -> dict:
    """Same time horizon t with the theorem's step η = n^{−α/2−1} vs a fixed step ``lr_fixed``.

    For each width, the theorem run takes ⌈t/η⌉ steps (refused above ``max_steps``); the fixed
    run takes ⌈t/lr_fixed⌉ steps (default lr_fixed = t/50). Returns ``errors`` of shape
    (2 × widths × seeds) (row 0: theorem step, row 1: fixed step), the steps used and the
    step sizes.
    """
    from theory.noise_injection import step_size_bound

    widths = [check_int("width", w, 1) for w in widths]
    alpha = check_alpha(alpha)
    t = check_positive("t", t)
    lr_fixed = t / 50 if lr_fixed is None else check_positive("lr_fixed", lr_fixed)
    X, Y = _teacher_set(d, teacher_width, n_train, seed)
    errors = np.full((2, len(widths), n_seeds), np.nan)
    steps_used = np.zeros((2, len(widths)), dtype=np.int64)
    lrs = np.zeros((2, len(widths)))
    for wi_, n in enumerate(widths):
        for row_, lr in enumerate((float(step_size_bound(n, alpha)), lr_fixed)):
            steps = int(math.ceil(t / lr - 1e-9))
            if steps > max_steps:
                raise ValueError(f"width {n} needs {steps} steps at the theorem's step size; raise max_steps")
            res = train_ensemble(np.full(n_seeds, n), alpha, sigma, t / steps, replicate=np.arange(n_seeds),
                                 steps=steps, data=(X, Y), noise=noise, batch_size=batch_size, kappas=(kappa,),
                                 seed=seed, num_threads=num_threads)
            errors[row_, wi_] = np.where(res.ok, res.prune_error[:, -1, 0], np.nan)
            steps_used[row_, wi_] = steps
            lrs[row_, wi_] = t / steps
    return {"widths": np.asarray(widths), "alpha": alpha, "t": t, "errors": errors, "steps": steps_used, "lr": lrs,
            "labels": ("η = n^(−α/2−1) (theorem)", f"η = {lr_fixed:g} (fixed)")}
