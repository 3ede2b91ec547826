"""Many independent SGD chains on linear regression (least squares), in parallel.

SGD with step η (``lr``) and batch size b (``batch_size``) on f(x) = (1/2) E(aᵀx − y)²:

    x_k = x_{k−1} − (η/b) Σ_{i∈Ω_k} a_i (a_iᵀx_{k−1} − y_i) = M_k x_{k−1} + q_k,
    M_k = I − (η/b) Σ a_i a_iᵀ,   q_k = (η/b) Σ a_i y_i,

the random linear recursion of Gürbüzbalaban, Şimşekli & Zhu (ICML 2021),
whose stationary law has power-law tails with the index α of
:func:`theory.kesten.tail_index` (online mode, Gaussian data). Two modes:

* ``"online"``: fresh a_i ~ N(0, σ² I_d) every step and
  y_i = a_iᵀx* + ``noise_sd``·ε_i, ε_i ~ N(0, 1) (the setting of the theory);
* ``"offline"``: a fixed data set (A, y) of n rows shared by all chains
  (given, or drawn from ``seed`` as A ~ N(0, σ²), y = A x* + noise_sd·ε);
  minibatches of b rows without replacement, reshuffled every epoch
  (``sampling="epoch"``), or a fresh random b-subset each step
  (``sampling="step"``, what the original study's code did).

Every chain has its own xoroshiro128+ stream (:mod:`simulations.stable.streams`): the
numbers do not depend on the number of numba threads. Data are generated
inside the kernel and M is never formed (O(b·d) per step).

Divergence (a non-finite iterate, or ‖x‖ > ``threshold``) stops the chain and
is reported per chain in ``status`` (see :data:`STATUS_NAMES`); the rows of a
diverged chain are NaN *and* flagged — use :meth:`SGDChains.final` to get the
finite ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulations._core import seeding
from simulations._core.codes import STATUS_NAMES, STATUS_OK
from simulations._core.validation import (
    check_array,
    check_bool,
    check_choice,
    check_int,
    check_positive,
    check_real,
)
from simulations.kesten import cpu as _k
from simulations.kesten.recursion import OfflineArgs, OnlineArgs
from simulations.stable.streams import STREAMS_MAX, init_states

__all__ = ["SGDChains", "run_sgd", "STATUS_NAMES", "MODES", "SAMPLINGS", "WORK_MAX", "ENTRIES_MAX",
           "BATCH_SIZE_MAX", "D_MAX", "STREAMS_MAX"]

MODES = ("online", "offline")
SAMPLINGS = ("epoch", "step")
#: most multiply-adds of one run, n_chains·steps·batch_size·d, each with its Gaussian draw online
#: (30–130 ns per unit on one core: about a minute at the limit; the paper's largest run is 2·10⁸,
#: the offline benchmark's 8·10⁸)
WORK_MAX = 10**9
#: largest batch size and dimension (those of the theory, :data:`theory.kesten.BATCH_SIZE_MAX`
#: and :data:`theory.kesten.D_MAX`)
BATCH_SIZE_MAX = 10**4
D_MAX = 10**4
#: most entries of one array a run allocates: the iterates n_chains·d, the generated data n·d,
#: the device's per-chain permutations n·n_chains (10⁹ float64: 8 GB)
ENTRIES_MAX = 10**9


def _check_size(what: str, value: int, limit: int, name: str) -> None:
    if value > limit:
        raise ValueError(f"{what} must be at most {name} = {limit}, got {value}")


@dataclass
class SGDChains:
    """Result of :func:`run_sgd`.

    Attributes
    ----------
    x : (n_chains, d) float64
        Final iterates; NaN rows for diverged chains (see ``status``).
    x_avg : (n_chains, d) float64 or None
        Running averages of the iterates after ``burn_in`` (when requested).
    status : (n_chains,) int8
        0 ok, 1 non-finite iterate, 2 ‖x‖ above ``threshold`` (:data:`STATUS_NAMES`, from
        :mod:`simulations._core.codes`).
    diverged_at : (n_chains,) int64
        1-based step at which divergence was detected, −1 if never.
    x_star : (d,) float64 or None
        The minimiser the chains fluctuate around: x* (online), the
        least-squares solution of (A, y) (offline, when n ≥ d), else None.
    data : (A, y) or None
        The offline data set.
    params : dict
        The (validated) parameters of the run, the kernel seed included.
    """

    x: np.ndarray
    x_avg: np.ndarray | None
    status: np.ndarray
    diverged_at: np.ndarray
    x_star_online: np.ndarray | None
    data: tuple[np.ndarray, np.ndarray] | None
    params: dict = field(default_factory=dict)

    @property
    def x_star(self) -> np.ndarray | None:
        """x* (online) or the least-squares solution of the data (offline, n ≥ d; computed on first use)."""
        if self.data is None:
            return self.x_star_online
        if "_lstsq" not in self.__dict__:
            A, y = self.data
            self.__dict__["_lstsq"] = np.linalg.lstsq(A, y, rcond=None)[0] if A.shape[0] >= A.shape[1] else None
        return self.__dict__["_lstsq"]

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the chains that did not diverge."""
        return self.status == STATUS_OK

    @property
    def n_diverged(self) -> int:
        return int(np.count_nonzero(~self.ok))

    def final(self, *, centered: bool = True, average: bool = False) -> np.ndarray:
        """Finite final iterates (or running averages) of the non-diverged chains, minus x* if ``centered``."""
        centered = check_bool("centered", centered)
        average = check_bool("average", average)
        src = self.x_avg if average else self.x
        if src is None:
            raise ValueError("average=True needs run_sgd(..., average=True)")
        out = src[self.ok]
        if centered and self.x_star is not None:
            out = out - self.x_star
        return out


def run_sgd(
    lr: float,
    batch_size: int,
    d: int,
    sigma: float = 1.0,
    *,
    n_chains: int = 1000,
    steps: int = 1000,
    mode: str = "online",
    n: int | None = None,
    data: tuple[Any, Any] | None = None,
    x_star: Any = None,
    noise_sd: float = 1.0,
    x0: Any = None,
    init_scale: float = 0.0,
    sampling: str = "epoch",
    average: bool = False,
    burn_in: int | None = None,
    threshold: float = 1e150,
    seed: Any = None,
    backend: str = "cpu",
) -> SGDChains:
    """Run ``n_chains`` independent SGD chains for ``steps`` steps.

    Parameters
    ----------
    lr : float > 0
        The step size η.
    batch_size : int in [1, BATCH_SIZE_MAX = 10⁴]
        The batch size b (offline: also b <= n). The work n_chains·steps·batch_size·d is at most
        :data:`WORK_MAX` = 10⁹, and n_chains·d (and, offline, n·d) at most :data:`ENTRIES_MAX` = 10⁹;
        larger runs are rejected before any work.
    d : int in [1, D_MAX = 10⁴]
        Dimension of x (offline with ``data``: must equal A.shape[1]).
    sigma : float > 0
        Standard deviation of the generated data a_i ~ N(0, σ² I_d).
    n_chains, steps : int >= 1
        Number of independent chains (at most :data:`STREAMS_MAX` = 10⁷, one random stream each)
        and of SGD steps.
    mode : {"online", "offline"}
        Fresh Gaussian data each step, or a fixed data set.
    n : int >= 1, offline only
        Number of rows to generate (ignored when ``data`` is given).
    data : (A, y), offline only
        Explicit data set: A (n, d) and y (n,) finite floats.
    x_star : array (d,), optional
        Ground-truth regressor used to generate y (default 0).
    noise_sd : float >= 0
        Label noise: y_i = a_iᵀx* + noise_sd·ε_i (0 makes x* a fixed point).
    x0 : array (d,) or (n_chains, d), optional
        Initial iterates (default 0).
    init_scale : float >= 0
        Adds init_scale·N(0, I_d) to x0, drawn from each chain's stream.
    sampling : {"epoch", "step"}, offline only
        Minibatches without replacement per epoch (drop-last), or a fresh
        random b-subset each step.
    average : bool
        Also return the running average of the iterates from step ``burn_in`` on.
    burn_in : int in [0, steps), optional
        Default steps // 2 (as in the original study).
    threshold : float > 0
        A chain with ‖x‖ > threshold is flagged as diverged and stopped.
    seed : None, int, SeedSequence or Generator
        Same seed ⇒ same numbers (for any number of threads): the seed's child ``"data"`` draws the
        offline data set, its child ``"chains"`` the chains' stream seed (:mod:`simulations._core.seeding`).
    backend : {"cpu", "cuda"}
        ``"cuda"`` runs the chains on the GPU (:mod:`simulations.kesten.cuda_launch`, one thread per
        chain) with the same random streams, hence the same results to rounding.

    Returns
    -------
    SGDChains

    Examples
    --------
    >>> from simulations.kesten.chains import run_sgd
    >>> from simulations.tail_index.estimators import hill
    >>> res = run_sgd(0.6, 2, 3, n_chains=4000, steps=300, seed=0)
    >>> alpha_hat = hill(np.linalg.norm(res.final(), axis=1), k=200)
    """
    lr = check_positive("lr", lr)
    batch_size = check_int("batch_size", batch_size, 1, BATCH_SIZE_MAX)
    d = check_int("d", d, 1, D_MAX)
    sigma = check_positive("sigma", sigma)
    n_chains = check_int("n_chains", n_chains, 1, STREAMS_MAX)
    steps = check_int("steps", steps, 1)
    _check_size("the work n_chains * steps * batch_size * d", n_chains * steps * batch_size * d, WORK_MAX,
                "WORK_MAX")
    _check_size("the iterates' size n_chains * d", n_chains * d, ENTRIES_MAX, "ENTRIES_MAX")
    check_choice("mode", mode, MODES)
    check_choice("sampling", sampling, SAMPLINGS)
    noise_sd = check_real("noise_sd", noise_sd, 0.0)
    init_scale = check_real("init_scale", init_scale, 0.0)
    threshold = check_positive("threshold", threshold)
    average = check_bool("average", average)
    check_choice("backend", backend, ("cpu", "cuda"))
    burn_in = steps // 2 if burn_in is None else check_int("burn_in", burn_in, 0, steps - 1)
    if x_star is None:
        xs = np.zeros(d)
    else:
        xs = check_array("x_star", x_star, ndim=1).astype(np.float64)
        if xs.shape != (d,):
            raise ValueError(f"x_star must have shape ({d},), got {xs.shape}")
    x = np.zeros((n_chains, d))
    if x0 is not None:
        x0a = check_array("x0", x0, ndim=(1, 2)).astype(np.float64)
        if x0a.shape not in ((d,), (n_chains, d)):
            raise ValueError(f"x0 must have shape ({d},) or ({n_chains}, {d}), got {x0a.shape}")
        x[...] = x0a
    ss = seeding.seed_sequence(seed)

    A = y = None
    if mode == "offline":
        if data is not None:
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("data must be a pair (A, y)")
            A = np.ascontiguousarray(check_array("data[0] (A)", data[0], ndim=2), dtype=np.float64)
            y = np.ascontiguousarray(check_array("data[1] (y)", data[1], ndim=1), dtype=np.float64)
            if A.shape[0] != y.shape[0]:
                raise ValueError(f"A and y must have the same number of rows, got {A.shape[0]} and {y.shape[0]}")
            if A.shape[1] != d:
                raise ValueError(f"A must have d={d} columns, got {A.shape[1]}")
            n_rows = A.shape[0]
            if n is not None and check_int("n", n, 1) != n_rows:
                raise ValueError(f"n={n} disagrees with data ({n_rows} rows)")
        else:
            if n is None:
                raise ValueError("offline mode needs n (number of rows) or data=(A, y)")
            n_rows = check_int("n", n, 1)
            _check_size("the data's size n * d", n_rows * d, ENTRIES_MAX, "ENTRIES_MAX")
            rng = seeding.generator(ss, "data")
            A = sigma * rng.standard_normal((n_rows, d))
            y = A @ xs + noise_sd * rng.standard_normal(n_rows)
        if batch_size > n_rows:
            raise ValueError(f"batch_size must be an integer in [1, n] = [1, {n_rows}] in offline mode, got {batch_size}")
        if backend == "cuda":
            _check_size("the device permutations' size n * n_chains", n_rows * n_chains, ENTRIES_MAX, "ENTRIES_MAX")
    elif data is not None or n is not None:
        raise ValueError("data and n are for mode='offline' only")

    if backend == "cuda":
        from simulations.kesten import cuda_launch as kern
    else:
        kern = _k
    kseed = seeding.kernel_seed(ss, "chains")
    states = init_states(n_chains, kseed)
    xavg = np.zeros((n_chains, d)) if average else np.zeros((1, 1))
    status = np.zeros(n_chains, dtype=np.int8)
    div = np.full(n_chains, -1, dtype=np.int64)
    thr2 = threshold * threshold if threshold < 1e154 else np.inf
    if mode == "online":
        args = OnlineArgs(lr, batch_size, sigma, noise_sd, xs, steps, burn_in, thr2, average, init_scale)
        kern.sgd_online(states, x, xavg, status, div, *args.args())
        center = xs
    else:
        args = OfflineArgs(lr, batch_size, steps, burn_in, thr2, average, init_scale, SAMPLINGS.index(sampling))
        kern.sgd_offline(states, A, y, x, xavg, status, div, *args.args())
        center = None
    params = dict(lr=lr, batch_size=batch_size, d=d, sigma=sigma, n_chains=n_chains, steps=steps, mode=mode,
                  noise_sd=noise_sd, init_scale=init_scale, sampling=sampling, burn_in=burn_in,
                  threshold=threshold, kernel_seed=kseed)
    return SGDChains(
        x=x,
        x_avg=xavg if average else None,
        status=status,
        diverged_at=div,
        x_star_online=center,
        data=(A, y) if mode == "offline" else None,
        params=params,
    )
