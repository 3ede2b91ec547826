"""Neuron pruning (Taylor / magnitude scores) and N:M masks against finite differences, brute force and
the smaller network built by deleting rows and columns."""
import itertools
import math

import numpy as np
import pytest

from simulations.nn import MLPSpec, Params, init_params, predict
from simulations.pruning.algorithms.structured import (
    magnitude_neuron_scores,
    neuron_masks,
    nm_masks,
    prune_neurons,
    taylor_neuron_scores,
)


def _data(spec, n, seed):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, spec.sizes[0])), g.integers(0, spec.n_classes, n)


# ---- N:M ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(2, 4), (1, 4), (3, 8), (1, 2)])
def test_nm_masks_keep_exactly_n_of_each_group_and_the_largest_by_brute_force(n, m):
    g = np.random.default_rng(n * 10 + m)
    ws = [g.standard_normal((5, 16)), g.standard_normal((3, 5))]
    masks = nm_masks(ws, n=n, m=m, layers=[0])
    assert masks[1].all()
    M = masks[0]
    for r in range(5):
        for gi in range(16 // m):
            grp = np.abs(ws[0][r, gi * m:(gi + 1) * m])
            kept = M[r, gi * m:(gi + 1) * m]
            assert kept.sum() == n
            best = max(itertools.combinations(range(m), n), key=lambda c: grp[list(c)].sum())
            assert set(np.flatnonzero(kept)) == set(best)


@pytest.mark.parametrize("d, n, m, tail_keep", [(10, 2, 4, 1), (7, 2, 4, 2), (3, 2, 4, 2), (9, 1, 4, 1)])
def test_nm_partial_last_group_keeps_the_rounded_up_share(d, n, m, tail_keep):
    g = np.random.default_rng(d)
    w = g.standard_normal((4, d))
    M = nm_masks([w], n=n, m=m)[0]
    r = d % m
    assert tail_keep == math.ceil(n * r / m)
    tail = M[:, d - r:]
    assert np.all(tail.sum(axis=1) == tail_keep)
    for row in range(4):
        order = np.argsort(-np.abs(w[row, d - r:]))
        assert set(np.flatnonzero(tail[row])) == set(order[:tail_keep])


def test_nm_custom_scores_ties_and_params():
    w = np.ones((2, 4))
    M = nm_masks([w], 2, 4)[0]  # all tied: the lower indices
    np.testing.assert_array_equal(M, [[1, 1, 0, 0], [1, 1, 0, 0]])
    s = np.array([[0.0, 1.0, 2.0, 3.0], [3.0, 0.0, 0.0, 1.0]])
    M = nm_masks([w], 2, 4, scores=[s])[0]
    np.testing.assert_array_equal(M, [[0, 0, 1, 1], [1, 0, 0, 1]])
    p = init_params(MLPSpec((8, 4, 3)), 0)
    M = nm_masks(p)
    assert M[0].sum() == 16 and M[1].sum() == 2 * 3


@pytest.mark.parametrize("kw, exc, word", [
    (dict(n=0), ValueError, "n"), (dict(n=5), ValueError, "n"), (dict(m=0), ValueError, "m"),
    (dict(layers=[3]), ValueError, "layers"), (dict(scores=[np.ones((2, 2))]), ValueError, "scores"),
    (dict(scores=np.ones((2, 4))), TypeError, "scores"), (dict(n=1.5), TypeError, "n"),
])
def test_nm_validation(kw, exc, word):
    with pytest.raises(exc, match=word):
        nm_masks([np.ones((2, 4))], **kw)


# ---- Taylor scores --------------------------------------------------------------------------------

def _numpy_forward_losses(W, b, act, X, y, h=None, j=None, eps=0.0):
    """Per-example cross-entropy losses of a hand-written forward; eps added to hidden activation (h, j)."""
    phi = {"tanh": np.tanh, "softplus": lambda z: np.log1p(np.exp(z))}[act]
    a = X
    for l in range(len(W)):
        z = a @ W[l].T + b[l]
        if l < len(W) - 1:
            a = phi(z)
            if l == h:
                a = a.copy()
                a[:, j] += eps
        else:
            zmax = z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
            return lse - z[np.arange(len(y)), y], None
    raise AssertionError


def _numpy_hidden(W, b, act, X, h):
    phi = {"tanh": np.tanh, "softplus": lambda z: np.log1p(np.exp(z))}[act]
    a = X
    for l in range(h + 1):
        a = phi(a @ W[l].T + b[l])
    return a


@pytest.mark.parametrize("act", ["tanh", "softplus"])
def test_taylor_scores_match_finite_differences_of_a_numpy_forward(act):
    spec = MLPSpec((6, 5, 4, 3), activation=act, dtype="float64")
    p = init_params(spec, seed=1)
    X, y = _data(spec, 9, 2)
    W = [np.array(w) for w in p.weights]
    b = [np.array(v) for v in p.biases]
    got = taylor_neuron_scores(p, X, y)
    eps = 1e-6
    for h in range(2):
        a = _numpy_hidden(W, b, act, X, h)
        for j in range(spec.sizes[h + 1]):
            lp, _ = _numpy_forward_losses(W, b, act, X, y, h, j, eps)
            lm, _ = _numpy_forward_losses(W, b, act, X, y, h, j, -eps)
            g = (lp - lm) / (2 * eps)  # ∂ℓ_i/∂a_ij, per example
            assert np.isclose(got[h][j], np.mean(np.abs(a[:, j] * g)), rtol=1e-6, atol=1e-10)


def test_magnitude_scores_are_row_norms():
    p = init_params(MLPSpec((6, 5, 4, 3)), 3)
    s = magnitude_neuron_scores(p)
    assert len(s) == 2
    for h in range(2):
        np.testing.assert_allclose(s[h], [math.sqrt(sum(float(v) ** 2 for v in row)) for row in p.weights[h]],
                                   rtol=1e-6)


# ---- neuron masks and pruning -------------------------------------------------------------------

@pytest.mark.parametrize("act", ["relu", "softplus"])
def test_removing_neurons_equals_the_smaller_network(act):
    # softplus(0) = log 2 ≠ 0: a removed neuron still fires, only its zeroed outgoing column silences it
    spec = MLPSpec((6, 5, 4, 3), activation=act, dtype="float64")
    p = init_params(spec, seed=4)
    keep = [np.array([1, 0, 1, 1, 0], bool), np.array([0, 1, 1, 0], bool)]
    mask = neuron_masks(spec, keep)
    q = mask.apply(p.copy())
    X, _ = _data(spec, 11, 5)
    small_spec = MLPSpec((6, 3, 2, 3), activation=act, dtype="float64")
    W0, W1, W2 = (np.array(w) for w in p.weights)
    b0, b1, b2 = (np.array(v) for v in p.biases)
    k0, k1 = keep
    small = Params.from_layers(small_spec, [W0[k0], W1[k1][:, k0], W2[:, k1]], [b0[k0], b1[k1], b2])
    out = predict(q, X)
    assert out.shape == (11, 3)
    np.testing.assert_allclose(out, predict(small, X), rtol=1e-12, atol=1e-12)
    # the removed neurons' rows, biases and outgoing columns are zero in the mask
    assert not mask.weights[0][~k0].any() and not mask.biases[0][~k0].any() and not mask.weights[1][:, ~k0].any()


def _kept_weights(mask):
    return sum(int(np.asarray(w).sum()) for w in mask.weights)


@pytest.mark.parametrize("sparsity", [0.1, 0.35, 0.6])
def test_prune_neurons_reaches_the_target_removing_the_lowest_normalised_scores(sparsity):
    spec = MLPSpec((6, 8, 7, 3), dtype="float64")
    p = init_params(spec, seed=6)
    g = np.random.default_rng(7)
    scores = [g.random(8) * 5.0, g.random(7)]  # different scales: the normalisation matters
    mask = prune_neurons(p, scores, sparsity)
    total = 6 * 8 + 8 * 7 + 7 * 3
    kept = _kept_weights(mask)
    assert 1 - kept / total >= sparsity - 1e-12
    # independent recount: removed neurons are the prefix of the pooled normalised order
    norm = [s / np.linalg.norm(s) for s in scores]
    pooled = sorted([(norm[h][j], h, j) for h in range(2) for j in range(len(norm[h]))])
    removed = [(h, j) for h in range(2) for j in range(spec.sizes[h + 1]) if not np.asarray(mask.weights[h][j]).any()]
    k = len(removed)
    assert set(removed) == {(h, j) for _, h, j in pooled[:k]}
    # kept count by the layer widths, and overshoot by one neuron only: without the last one the target is missed
    widths = [6, 8 - sum(1 for h, _ in removed if h == 0), 7 - sum(1 for h, _ in removed if h == 1), 3]
    assert kept == sum(widths[i] * widths[i + 1] for i in range(3))
    _, h_last, _ = pooled[k - 1]
    w2 = list(widths)
    w2[h_last + 1] += 1
    assert 1 - sum(w2[i] * w2[i + 1] for i in range(3)) / total < sparsity


def test_prune_neurons_never_removes_the_last_neuron_and_refuses_unreachable_targets():
    spec = MLPSpec((6, 4, 4, 3), dtype="float64")
    p = init_params(spec, seed=8)
    scores = [np.array([0.1, 0.2, 0.3, 0.4]), np.array([5.0, 6.0, 7.0, 8.0])]
    # with layer 1 frozen the most is 3 of layer 0's neurons: (6+4)*3 of 6*4+4*4+4*3 = 52 weights
    mask = prune_neurons(p, scores, 30 / 52, layers=[0])
    assert np.asarray(mask.weights[0]).any(axis=1).sum() == 1
    with pytest.raises(ValueError, match="sparsity"):
        prune_neurons(p, scores, 31 / 52, layers=[0])


def test_prune_neurons_with_taylor_scores_and_a_previous_mask():
    spec = MLPSpec((6, 8, 7, 3))
    p = init_params(spec, seed=9)
    X, y = _data(spec, 20, 10)
    m1 = prune_neurons(p, taylor_neuron_scores(p, X, y), 0.2)
    s2 = taylor_neuron_scores(p, X, y, mask=m1)
    m2 = prune_neurons(p, s2, 0.4, mask=m1)
    W1 = [np.asarray(w, bool) for w in m1.weights]
    W2 = [np.asarray(w, bool) for w in m2.weights]
    assert all(np.all(b <= a) for a, b in zip(W1, W2))  # removed neurons stay removed
    assert 1 - _kept_weights(m2) / sum(w.size for w in W2) >= 0.4


def test_structured_validation():
    spec = MLPSpec((6, 5, 4, 3))
    p = init_params(spec, 0)
    with pytest.raises(TypeError, match="params"):
        prune_neurons(p.flat, [np.ones(5), np.ones(4)], 0.2)
    with pytest.raises(ValueError, match="scores"):
        prune_neurons(p, [np.ones(5)], 0.2)
    with pytest.raises(ValueError, match="scores"):
        prune_neurons(p, [np.ones(4), np.ones(4)], 0.2)
    with pytest.raises(ValueError, match="sparsity"):
        prune_neurons(p, [np.ones(5), np.ones(4)], 1.0)
    with pytest.raises(ValueError, match="layers"):
        prune_neurons(p, [np.ones(5), np.ones(4)], 0.2, layers=[2])
    with pytest.raises(TypeError, match="normalise"):
        prune_neurons(p, [np.ones(5), np.ones(4)], 0.2, normalise=1)
    with pytest.raises(TypeError, match="mask"):
        prune_neurons(p, [np.ones(5), np.ones(4)], 0.2, mask=[np.ones((5, 6))])
    with pytest.raises(ValueError, match="keep"):
        neuron_masks(spec, [np.ones(5, bool)])
    with pytest.raises(ValueError, match="hidden"):
        magnitude_neuron_scores(init_params(MLPSpec((4, 3)), 0))
    with pytest.raises(TypeError, match="spec"):
        neuron_masks("spec", [np.ones(5, bool), np.ones(4, bool)])
