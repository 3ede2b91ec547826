"""OBD and WoodFisher/OBS pruning against closed forms, quadratic minimisation and per-example gradients."""
import numpy as np
import pytest

from simulations.nn import MLPSpec, Params, get_backend, init_params
from simulations.pruning.algorithms.compute import Compute
from simulations.pruning.algorithms.second_order import OBD, fisher_diagonal, obs_update, woodfisher_prune


def _spd(B, seed):
    g = np.random.default_rng(seed)
    A = g.standard_normal((B, B))
    return A @ A.T + 0.5 * np.eye(B)


def _quad(H, theta_star, theta):
    d = theta - theta_star
    return 0.5 * d @ H @ d


def _data(spec, n, seed):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, spec.sizes[0])), g.integers(0, spec.n_classes, n)


def _per_example_grads(spec, params, masks, X, y):
    """Per-example weight gradients (n, Σ out·in) from the training backend, one example at a time."""
    be = get_backend("cpu")
    flat = params.copy()
    for w, m in zip(flat.weights, masks):
        w[~m] = 0.0
    rows = []
    for i in range(X.shape[0]):
        _, g = be.gradient(spec, flat.flat, X[i:i + 1], y[i:i + 1])
        gp = Params.from_flat(spec, g)
        rows.append(np.concatenate([w.ravel() for w in gp.weights]))
    return np.array(rows)


# ---- OBD ------------------------------------------------------------------------------------------

def test_obd_saliency_is_the_loss_increase_of_a_diagonal_quadratic():
    # L(θ) = ½ (θ − θ*)ᵀ H (θ − θ*) with H diagonal, evaluated at its minimum θ = θ*: zeroing θ_q raises
    # L by exactly ½ H_qq θ_q² (direct evaluation of L is the oracle)
    g = np.random.default_rng(0)
    h = g.uniform(0.1, 3.0, 7)
    H = np.diag(h)
    theta = g.standard_normal(7)
    for q in range(7):
        t = theta.copy()
        t[q] = 0.0
        assert np.isclose(_quad(H, theta, t), 0.5 * h[q] * theta[q] ** 2, rtol=1e-12)


def test_fisher_diagonal_matches_per_example_backend_gradients():
    spec = MLPSpec((6, 5, 4, 3), dtype="float64")
    p = init_params(spec, seed=1)
    X, y = _data(spec, 17, 2)
    g = np.random.default_rng(3)
    masks = [g.random(s) < 0.7 for s in spec.weight_shapes]
    G = _per_example_grads(spec, p, masks, X, y)
    expect = (G ** 2).mean(axis=0)
    got = np.concatenate([f.ravel() for f in fisher_diagonal(p, X, y, masks)])
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-14)


def test_obd_scores_of_a_linear_squared_loss_model_are_the_hand_derived_fisher_saliency():
    # one bias-free linear layer, squared loss: g_{i,(o,k)} = r_io x_ik with r_i = W x_i − e_{y_i}, so
    # F_(o,k) = (1/n) Σ_i r_io² x_ik² and the OBD score is ½ F θ²
    spec = MLPSpec((5, 3), bias=False, loss="squared", dtype="float64")
    p = init_params(spec, seed=4)
    X, y = _data(spec, 23, 5)
    W = p.weights[0]
    R = X @ W.T - np.eye(3)[y]
    F = (R ** 2).T @ (X ** 2) / len(y)
    comp = Compute()
    s = OBD(compute=comp).scores(p, (X, y), None)
    np.testing.assert_allclose(s[0], 0.5 * F * W ** 2, rtol=1e-12)
    assert comp.parts["score"] == 23 * (15 + 3 * 0) * 3  # one forward + one backward pass, no biases


def test_obd_prune_removes_the_lowest_saliencies():
    spec = MLPSpec((6, 5, 4, 3), dtype="float64")
    p = init_params(spec, seed=6)
    X, y = _data(spec, 30, 7)
    G = _per_example_grads(spec, p, [np.ones(s, bool) for s in spec.weight_shapes], X, y)
    w = np.concatenate([v.ravel() for v in p.weights])
    sal = 0.5 * (G ** 2).mean(axis=0) * w ** 2
    n_rm = int(np.floor(0.4 * w.size))
    expect_removed = set(np.argsort(sal, kind="stable")[:n_rm])
    masks = OBD().prune(p, 0.4, data=(X, y))
    got_removed = set(np.flatnonzero(~np.concatenate([m.ravel() for m in masks])))
    assert got_removed == expect_removed


# ---- OBS updates ------------------------------------------------------------------------------

def test_single_weight_obs_update_is_the_closed_form_and_its_loss_increase_is_rho():
    B = 6
    H = _spd(B, 8)
    Hi = np.linalg.inv(H)
    theta = np.random.default_rng(9).standard_normal(B)
    for q in range(B):
        pruned = np.zeros(B, bool)
        pruned[q] = True
        d = obs_update(theta, Hi, pruned)
        np.testing.assert_allclose(d, -theta[q] * Hi[:, q] / Hi[q, q], rtol=1e-10, atol=1e-13)
        assert abs(theta[q] + d[q]) < 1e-12
        # loss increase of the quadratic around θ (its minimum) = θ_q² / (2 [H⁻¹]_qq)
        assert np.isclose(_quad(H, theta, theta + d), theta[q] ** 2 / (2 * Hi[q, q]), rtol=1e-10)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_multi_weight_obs_update_minimises_the_quadratic_with_the_pruned_entries_at_zero(seed):
    B = 9
    H = _spd(B, seed)
    g = np.random.default_rng(seed + 100)
    theta = g.standard_normal(B)
    pruned = g.random(B) < 0.45
    pruned[0] = True
    d = obs_update(theta, np.linalg.inv(H), pruned)
    # oracle: minimise ½ (θ' − θ)ᵀ H (θ' − θ) over θ' with θ'_Q = 0 as a least-squares problem
    # ‖C (θ' − θ)‖², C the Cholesky factor (H = CᵀC), unknowns θ'_R only
    C = np.linalg.cholesky(H).T
    R = ~pruned
    rhs = C @ theta  # C(θ' − θ) = C[:, R] θ'_R − Cθ
    sol, *_ = np.linalg.lstsq(C[:, R], rhs, rcond=None)
    expect = np.zeros(B)
    expect[R] = sol
    np.testing.assert_allclose(theta + d, expect, rtol=1e-9, atol=1e-11)
    # and it is no worse than any random feasible perturbation
    for _ in range(20):
        t = expect + 0.01 * g.standard_normal(B) * R
        assert _quad(H, theta, t) >= _quad(H, theta, theta + d) - 1e-12


def test_obs_update_edge_cases():
    H = _spd(4, 13)
    th = np.arange(1.0, 5.0)
    np.testing.assert_array_equal(obs_update(th, np.linalg.inv(H), np.zeros(4, bool)), 0.0)
    np.testing.assert_array_equal(obs_update(th, np.linalg.inv(H), np.ones(4, bool)), -th)


# ---- WoodFisher end to end ------------------------------------------------------------------

def _woodfisher_reference(spec, p, X, y, sparsity, B, lam, masks):
    """A separate implementation: Fisher from per-example backend gradients, block inverses, ρ, one global
    threshold, and each block's survivors re-solved by the constrained least squares F_RR δ_R = −F_RQ δ_Q."""
    G = _per_example_grads(spec, p, masks, X, y)
    theta = np.concatenate([np.where(m, w, 0.0).ravel() for w, m in zip(p.weights, masks)])
    alive = np.concatenate([m.ravel() for m in masks])
    blocks = []
    off = 0
    for o, i in spec.weight_shapes:
        n = o * i
        blocks += [(off + s, off + min(n, s + B)) for s in range(0, n, B)]
        off += n
    rho = np.zeros_like(theta)
    Fs = []
    for s, e in blocks:
        F = G[:, s:e].T @ G[:, s:e] / len(y) + lam * np.eye(e - s)
        Fs.append(F)
        rho[s:e] = theta[s:e] ** 2 / (2 * np.diag(np.linalg.inv(F)))
    n_rm = int(np.floor(sparsity * theta.size)) - int((~alive).sum())
    cand = np.flatnonzero(alive)
    order = cand[np.argsort(rho[cand], kind="stable")]
    keep = alive.copy()
    keep[order[:n_rm]] = False
    new = theta.copy()
    for (s, e), F in zip(blocks, Fs):
        Q = ~keep[s:e]
        if not Q.any():
            continue
        Rr = ~Q
        dQ = -theta[s:e][Q]
        dR = np.linalg.solve(F[np.ix_(Rr, Rr)], -F[np.ix_(Rr, Q)] @ dQ) if Rr.any() else np.zeros(0)
        blk = theta[s:e].copy()
        blk[Q] = 0.0
        blk[Rr] += dR
        new[s:e] = blk
    return new, keep


@pytest.mark.parametrize("B", [4, 7, 30])
def test_woodfisher_matches_a_separate_reference(B):
    spec = MLPSpec((6, 5, 4, 3), dtype="float64")
    p = init_params(spec, seed=14)
    X, y = _data(spec, 40, 15)
    g = np.random.default_rng(16)
    masks = [g.random(s) < 0.8 for s in spec.weight_shapes]
    comp = Compute()
    q, m = woodfisher_prune(p, X, y, 0.55, block_size=B, damping=1e-3, n_examples=40, masks=masks, compute=comp)
    new, keep = _woodfisher_reference(spec, p, X, y, 0.55, B, 1e-3, masks)
    np.testing.assert_array_equal(np.concatenate([v.ravel() for v in m]), keep)
    np.testing.assert_allclose(np.concatenate([w.ravel() for w in q.weights]), new, rtol=1e-8, atol=1e-11)
    for w, mm in zip(q.weights, m):
        assert np.all(w[~mm] == 0.0)
    np.testing.assert_array_equal(np.concatenate([b for b in q.biases]), np.concatenate([b for b in p.biases]))
    assert comp.parts["score"] > 0 and comp.parts["fisher"] > 0


def test_woodfisher_on_a_linear_model_beats_plain_magnitude_on_the_quadratic():
    # squared loss of a bias-free linear layer is exactly quadratic in W; with the Fisher of many examples close
    # to its Hessian near the minimum (residual noise of variance σ² gives F ≈ σ² H), the OBS update must lose less
    # loss than pruning the same mask without the update
    spec = MLPSpec((8, 3), bias=False, loss="squared", dtype="float64")
    g = np.random.default_rng(17)
    n = 4000
    X = g.standard_normal((n, 8)) @ np.linalg.cholesky(0.5 * np.eye(8) + 0.5).T  # correlated inputs
    y = g.integers(0, 3, n)
    Y = np.eye(3)[y]
    W_opt = np.linalg.lstsq(X, Y, rcond=None)[0].T
    p = Params.from_layers(spec, [W_opt])
    q, m = woodfisher_prune(p, X, y, 0.5, block_size=8, damping=1e-6, n_examples=n)

    def loss(W):
        return 0.5 * np.mean(np.sum((X @ W.T - Y) ** 2, axis=1))
    assert loss(q.weights[0]) < loss(np.where(m[0], W_opt, 0.0))
    assert np.isclose(1 - m[0].mean(), 12 / 24)


def test_woodfisher_float32_and_layers():
    spec = MLPSpec((6, 5, 4, 3))
    p = init_params(spec, seed=18)
    X, y = _data(spec, 20, 19)
    q, m = woodfisher_prune(p, X.astype(np.float32), y, 0.5, block_size=8, layers=[0])
    assert q.flat.dtype == np.float32
    assert m[0].sum() == 30 - 15 and m[1].all() and m[2].all()
    np.testing.assert_array_equal(q.weights[1], p.weights[1])


@pytest.mark.parametrize("kw, exc, word", [
    (dict(sparsity=1.0), ValueError, "sparsity"),
    (dict(sparsity=-0.1), ValueError, "sparsity"),
    (dict(block_size=0), ValueError, "block_size"),
    (dict(block_size=129), ValueError, "block_size"),
    (dict(damping=0.0), ValueError, "damping"),
    (dict(damping=float("nan")), ValueError, "damping"),
    (dict(n_examples=0), ValueError, "n_examples"),
    (dict(layers=[5]), ValueError, "layers"),
    (dict(layers=[]), ValueError, "layers"),
    (dict(masks=[np.ones((5, 6), bool)]), ValueError, "masks"),
    (dict(compute="x"), TypeError, "compute"),
    (dict(block_size=2.5), TypeError, "block_size"),
])
def test_woodfisher_validation(kw, exc, word):
    spec = MLPSpec((6, 5, 4, 3))
    p = init_params(spec, seed=0)
    X, y = _data(spec, 10, 0)
    args = dict(sparsity=0.5)
    args.update(kw)
    s = args.pop("sparsity")
    with pytest.raises(exc, match=word):
        woodfisher_prune(p, X, y, s, **args)


def test_validation_of_the_other_entry_points():
    spec = MLPSpec((6, 5, 4, 3))
    p = init_params(spec, seed=0)
    X, y = _data(spec, 10, 0)
    with pytest.raises(TypeError, match="params"):
        woodfisher_prune(p.flat, X, y, 0.5)
    with pytest.raises(ValueError, match="X"):
        woodfisher_prune(p, X[:, :4], y, 0.5)
    with pytest.raises(ValueError, match="y"):
        woodfisher_prune(p, X, y[:5], 0.5)
    with pytest.raises(TypeError, match="compute"):
        OBD(compute=3)
    with pytest.raises(ValueError, match="data"):
        OBD().prune(p, 0.5)
    with pytest.raises(ValueError, match="inverse"):
        obs_update(np.ones(3), np.eye(4), np.ones(3, bool))
    with pytest.raises(ValueError, match="pruned"):
        obs_update(np.ones(3), np.eye(3), np.ones(4, bool))
    with pytest.raises(ValueError, match="pruned"):
        obs_update(np.ones(3), np.eye(3), np.array([0, 2, 1]))
