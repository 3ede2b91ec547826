"""Per-layer densities for a global density: uniform, Erdős–Rényi, Erdős–Rényi-kernel.

Given weight shapes with ``N_l`` entries and a global density ``D`` (fraction of weights
kept), each rule returns densities ``d_l`` with ``Σ_l d_l N_l = D · Σ_l N_l`` (exactly, up to
floating-point rounding):

* ``"uniform"`` — ``d_l = D`` (the non-dense layers share what the dense ones leave);
* ``"er"`` — Erdős–Rényi (Mocanu, Mocanu, Stone, Nguyen, Gibescu & Liotta, Nat. Commun. 2018,
  "Scalable training of artificial neural networks with adaptive sparse connectivity..."):
  ``d_l = ε (n_out + n_in)/(n_out · n_in)``;
* ``"erk"`` — Erdős–Rényi-kernel (Evci, Gale, Menick, Castro & Elsen, ICML 2020, §3): for a
  convolution ``(n_out, n_in, h, w)`` ``d_l = ε (n_out + n_in + h + w)/(n_out n_in h w)`` (the
  sum of the dimensions over their product, raised to ``power``, the authors'
  ``erk_power_scale``); for a dense ``(out, in)`` layer the same as ``"er"``.

``ε`` solves the budget. A layer whose ``ε``-scaled density would exceed 1 is made dense and
``ε`` is solved again over the rest, layers with the largest raw density first, as in the
authors' code (``rigl/sparse_utils.py``, ``get_sparsities_erdos_renyi``). ``dense_layers``
(e.g. ``[0]`` for the first layer) start in that dense set. Unlike the authors' code, which
counts ``⌊s·N_l⌋`` zeros per layer, the budget here is the real number ``D·N``, so the
parameter-weighted mean density is ``D`` exactly; :func:`layer_counts` rounds the densities to
kept counts whose total is ``round(D·N)``, and :func:`random_masks` draws masks with those counts.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simulations._core.seeding import generator, seed_sequence
from simulations._core.validation import check_choice, check_int, check_real
from simulations.pruning.masks import check_layers

__all__ = ["layer_densities", "layer_counts", "random_masks", "DISTRIBUTIONS", "SHAPE_ENTRIES_MAX"]

#: the rules of :func:`layer_densities`
DISTRIBUTIONS = ("uniform", "er", "erk")
#: largest number of entries of one weight shape (the training core's ``PARAMS_MAX`` = 2^31)
SHAPE_ENTRIES_MAX = 2**31


def _shapes(shapes) -> list[tuple[int, ...]]:
    if isinstance(shapes, (str, bytes, np.ndarray)) or not isinstance(shapes, (list, tuple)):
        raise TypeError(f"shapes must be a list of weight shapes (tuples of ints), got {type(shapes).__name__}")
    if not shapes:
        raise ValueError("shapes must hold at least one weight shape, got an empty list")
    out = []
    for i, sh in enumerate(shapes):
        if not isinstance(sh, (list, tuple)):
            raise TypeError(f"shapes[{i}] must be a weight shape (a tuple of ints), got {type(sh).__name__}")
        if len(sh) not in (2, 4):
            raise ValueError(f"shapes[{i}] must be (out, in) or (out, in, kh, kw), got {tuple(sh)}")
        sh = tuple(check_int(f"shapes[{i}]", d, 1, SHAPE_ENTRIES_MAX) for d in sh)
        if math.prod(sh) > SHAPE_ENTRIES_MAX:
            raise ValueError(f"shapes[{i}] must have at most 2^31 entries, got {sh}")
        out.append(sh)
    return out


def layer_densities(shapes: Sequence[tuple[int, ...]], density: float, *, method: str = "erk",
                    dense_layers=None, power: float = 1.0) -> list[float]:
    """Per-layer densities ``d_l`` with parameter-weighted mean ``density`` (module docstring).

    ``shapes``: ``(out, in)`` or ``(out, in, kh, kw)`` weight shapes; ``density`` = D in (0, 1];
    ``method``: one of :data:`DISTRIBUTIONS`; ``dense_layers``: None or layer indices kept dense
    (they count towards the budget, so they must hold at most ``D·N`` weights); ``power`` in
    (0, 10]: exponent of the ERK raw density (1 in the paper; ``"erk"`` only).
    """
    shapes = _shapes(shapes)
    D = check_real("density", density, 0.0, 1.0, low_open=True)
    check_choice("method", method, DISTRIBUTIONS)
    p = check_real("power", power, 0.0, 10.0, low_open=True)
    L = len(shapes)
    dense = set(check_layers("dense_layers", dense_layers, L))
    sizes = [math.prod(s) for s in shapes]
    total = float(sum(sizes))
    if D == 1.0:
        return [1.0] * L
    if method == "uniform":
        raw = [1.0] * L
    elif method == "er":
        raw = [(s[0] + s[1]) / (s[0] * s[1]) for s in shapes]
    else:
        raw = [(sum(s) / math.prod(s)) ** p for s in shapes]
    while True:
        rest = [i for i in range(L) if i not in dense]
        n_dense = sum(sizes[i] for i in dense)
        rhs = D * total - n_dense
        if rhs < 0:
            raise ValueError(f"dense_layers {sorted(dense)} hold {n_dense} weights, more than density·N = "
                             f"{D * total:g}: name fewer dense layers or raise the density")
        if not rest:
            # every layer dense: only possible when the budget is all weights (D = 1, handled above)
            raise ValueError(f"dense_layers must leave a layer to sparsify at density {D:g}, got {sorted(dense)}")
        eps = rhs / sum(raw[i] * sizes[i] for i in rest)
        top = max(raw[i] for i in rest)
        if top * eps > 1.0:
            dense |= {i for i in rest if raw[i] == top}
            continue
        return [1.0 if i in dense else raw[i] * eps for i in range(L)]


def layer_counts(shapes: Sequence[tuple[int, ...]], densities: Sequence[float]) -> list[int]:
    """Kept counts ``k_l`` per layer: ``⌊d_l N_l⌋`` plus one for the largest remainders.

    The total is ``round(Σ_l d_l N_l)`` (ties of the remainders go to the earlier layer);
    ``densities``: one value in [0, 1] per shape.
    """
    shapes = _shapes(shapes)
    if isinstance(densities, (str, bytes)) or np.ndim(densities) != 1 or len(densities) != len(shapes):
        raise ValueError(f"densities must hold one density per shape ({len(shapes)}), got {densities!r}")
    ds = [check_real(f"densities[{i}]", d, 0.0, 1.0) for i, d in enumerate(densities)]
    sizes = [math.prod(s) for s in shapes]
    exact = [d * n for d, n in zip(ds, sizes)]
    base = [min(n, int(math.floor(e))) for e, n in zip(exact, sizes)]
    want = min(sum(sizes), int(round(sum(exact))))
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order:
        if sum(base) >= want:
            break
        if base[i] < sizes[i]:
            base[i] += 1
    return base


def random_masks(shapes: Sequence[tuple[int, ...]], densities: Sequence[float], seed=0) -> list[np.ndarray]:
    """Boolean masks with exactly :func:`layer_counts` kept entries per layer, uniformly placed.

    ``seed``: int / SeedSequence / Generator (:mod:`simulations._core.seeding`); layer ``l``
    uses the child ``("mask", l)``.
    """
    counts = layer_counts(shapes, densities)
    shapes = _shapes(shapes)
    ss = seed_sequence(seed)
    out = []
    for i, (sh, k) in enumerate(zip(shapes, counts)):
        n = math.prod(sh)
        m = np.zeros(n, dtype=bool)
        if k == n:
            m[:] = True
        else:
            m[generator(ss, "mask", i).choice(n, size=k, replace=False)] = True
        out.append(m.reshape(sh))
    return out
