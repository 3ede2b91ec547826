"""simulations.kesten.chains: SGD chains vs a straightforward per-chain numpy reference on the same
random inputs (the kernel's documented draw order replayed from the same streams),
thread-count independence, divergence flags, validation, offline vs online statistics."""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given
from hypothesis import strategies as hs

from simulations._core import seeding
from simulations.kesten.chains import run_sgd
from simulations.stable import streams as R
from simulations.stable.streams import normal_pair


def _normals(states, ch, d):
    out = []
    while len(out) < d:
        z1, z2 = normal_pair(states, ch)
        out += [z1, z2]
    return np.array(out[:d])


def _states_for(seed, n_chains, offline_data_shape=None, sigma=1.0):
    """Reproduce run_sgd's seeding: seed → child "data" (offline data), child "chains" → streams."""
    ss = seeding.seed_sequence(seed)
    data = None
    if offline_data_shape is not None:
        n, d, xs, noise_sd = offline_data_shape
        g = seeding.generator(ss, "data")
        A = sigma * g.standard_normal((n, d))
        y = A @ xs + noise_sd * g.standard_normal(n)
        data = (A, y)
    return R.init_states(n_chains, seeding.kernel_seed(ss, "chains")), data


def _reference_online(eta, b, d, sigma, n_chains, n_steps, noise_sd, xstar, init_scale, burn_in, seed):
    states, _ = _states_for(seed, n_chains)
    X = np.zeros((n_chains, d))
    AVG = np.zeros((n_chains, d))
    for ch in range(n_chains):
        x = np.zeros(d)
        if init_scale > 0:
            x = x + init_scale * _normals(states, ch, d)
        iterates = []
        for k in range(n_steps):
            Ab = np.empty((b, d))
            yb = np.empty(b)
            for i in range(b):
                Ab[i] = sigma * _normals(states, ch, d)
                eps = R.normal(states, ch) if noise_sd > 0 else 0.0
                yb[i] = Ab[i] @ xstar + noise_sd * eps
            x = x - (eta / b) * Ab.T @ (Ab @ x - yb)
            if k >= burn_in:
                iterates.append(x)
        X[ch] = x
        AVG[ch] = np.mean(iterates, axis=0)
    return X, AVG


def _reference_offline(eta, b, A, y, n_chains, n_steps, sampling, states, burn_in):
    n, d = A.shape
    X = np.zeros((n_chains, d))
    AVG = np.zeros((n_chains, d))
    for ch in range(n_chains):
        x = np.zeros(d)
        perm = np.arange(n)
        pos = n
        iterates = []
        for k in range(n_steps):
            if sampling == "epoch":
                if pos + b > n:
                    for j in range(n - 1, 0, -1):
                        m = int(R.uniform(states, ch) * (j + 1))
                        perm[j], perm[m] = perm[m], perm[j]
                    pos = 0
                rows = perm[pos : pos + b].copy()
                pos += b
            else:
                for j in range(b):
                    m = j + int(R.uniform(states, ch) * (n - j))
                    perm[j], perm[m] = perm[m], perm[j]
                rows = perm[:b].copy()
            Ab, yb = A[rows], y[rows]
            x = x - (eta / b) * Ab.T @ (Ab @ x - yb)
            if k >= burn_in:
                iterates.append(x)
        X[ch] = x
        AVG[ch] = np.mean(iterates, axis=0)
    return X, AVG


@pytest.mark.parametrize("d,b,noise_sd,init_scale", [(3, 2, 1.0, 0.5), (4, 1, 0.0, 1.0), (1, 3, 0.7, 0.0)])
def test_online_matches_numpy_reference(d, b, noise_sd, init_scale):
    eta, sigma, n_chains, n_steps, burn_in, seed = 0.3, 1.3, 3, 25, 10, 11
    xstar = np.linspace(-1, 1, d)
    res = run_sgd(eta, b, d, sigma, n_chains=n_chains, steps=n_steps, noise_sd=noise_sd, x_star=xstar,
                  init_scale=init_scale, average=True, burn_in=burn_in, seed=seed)
    X, AVG = _reference_online(eta, b, d, sigma, n_chains, n_steps, noise_sd, xstar, init_scale, burn_in, seed)
    np.testing.assert_allclose(res.x, X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.x_avg, AVG, rtol=1e-12, atol=1e-12)
    assert np.all(res.status == 0) and np.all(res.diverged_at == -1)


@pytest.mark.parametrize("sampling,n,b", [("epoch", 7, 3), ("step", 9, 4), ("epoch", 5, 5)])
def test_offline_matches_numpy_reference(sampling, n, b):
    eta, d, n_chains, n_steps, burn_in, seed = 0.2, 3, 3, 20, 5, 5
    res = run_sgd(eta, b, d, mode="offline", n=n, sampling=sampling, n_chains=n_chains, steps=n_steps,
                  average=True, burn_in=burn_in, seed=seed)
    states, (A, y) = _states_for(seed, n_chains, (n, d, np.zeros(d), 1.0))
    np.testing.assert_array_equal(res.data[0], A)
    X, AVG = _reference_offline(eta, b, A, y, n_chains, n_steps, sampling, states, burn_in)
    np.testing.assert_allclose(res.x, X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.x_avg, AVG, rtol=1e-12, atol=1e-12)


def test_offline_explicit_data_and_epoch_covers_rows():
    """With b = n every step uses all rows: SGD = full-batch GD, checked in closed form."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 2))
    y = rng.standard_normal(6)
    res = run_sgd(0.1, 6, 2, mode="offline", data=(A, y), n_chains=2, steps=30, seed=1)
    x = np.zeros(2)
    for _ in range(30):
        x = x - 0.1 / 6 * A.T @ (A @ x - y)
    np.testing.assert_allclose(res.x, np.tile(x, (2, 1)), rtol=1e-12)
    np.testing.assert_allclose(res.x_star, np.linalg.lstsq(A, y, rcond=None)[0])


def test_same_seed_same_numbers_any_thread_count():
    kw = dict(n_chains=64, steps=50, seed=123)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = run_sgd(0.5, 2, 3, **kw).x
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        b = run_sgd(0.5, 2, 3, **kw).x
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run_sgd(0.5, 2, 3, n_chains=64, steps=50, seed=124).x)


def test_divergence_is_flagged_not_silent():
    from theory.kesten import lr_critical_divergence

    b, d = 2, 3
    eta = 1.5 * lr_critical_divergence(b, d)  # ρ > 0: every chain eventually blows up
    res = run_sgd(eta, b, d, n_chains=200, steps=3000, threshold=1e12, seed=3)
    assert res.n_diverged > 150
    bad = ~res.ok
    assert np.all(np.isnan(res.x[bad])) and np.all(res.diverged_at[bad] > 0)
    assert np.all(np.isfinite(res.final()))
    # default threshold: overflow to inf/nan is reported as non-finite or threshold
    res2 = run_sgd(50.0, 1, 2, n_chains=50, steps=2000, seed=4)
    assert np.all(res2.status > 0)


def test_offline_large_n_close_to_online_in_law():
    """Offline SGD with n ≫ steps·b sees fresh rows (epoch mode): same law as online.

    Two-sample KS on the first coordinate of 2000 chains each; fixed seeds,
    threshold p > 1e-3 (0.1% false-alarm rate under H0).
    """
    kw = dict(n_chains=2000, steps=40, seed=9)
    on = run_sgd(0.5, 2, 2, **kw).final()[:, 0]
    off = run_sgd(0.5, 2, 2, mode="offline", n=20_000, **kw)
    # centre at the data-generating x* = 0 (not the least-squares fit) to compare with online
    assert st.ks_2samp(on, off.x[:, 0]).pvalue > 1e-3


# ----------------------------------------------------------------------------- validation
@given(eta=hs.sampled_from([0.0, -0.1, math.nan, math.inf]))
def test_bad_eta(eta):
    with pytest.raises(ValueError, match="lr"):
        run_sgd(eta, 1, 2, n_chains=1, steps=1)


@given(b=hs.integers(-3, 0), d=hs.integers(-3, 0), sigma=hs.sampled_from([0.0, -1.0, math.nan]))
def test_bad_b_d_sigma(b, d, sigma):
    with pytest.raises(ValueError, match="batch_size must"):
        run_sgd(0.1, b, 2, n_chains=1, steps=1)
    with pytest.raises(ValueError, match="d must"):
        run_sgd(0.1, 1, d, n_chains=1, steps=1)
    with pytest.raises(ValueError, match="sigma"):
        run_sgd(0.1, 1, 2, sigma, n_chains=1, steps=1)


@given(n=hs.integers(1, 20), extra=hs.integers(1, 5))
def test_offline_b_larger_than_n(n, extra):
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, n\]"):
        run_sgd(0.1, n + extra, 2, mode="offline", n=n, n_chains=1, steps=1)


def test_other_validation():
    with pytest.raises(ValueError, match="mode"):
        run_sgd(0.1, 1, 2, mode="batch")
    with pytest.raises(ValueError, match="offline mode needs n"):
        run_sgd(0.1, 1, 2, mode="offline")
    with pytest.raises(ValueError, match="only"):
        run_sgd(0.1, 1, 2, n=10)
    with pytest.raises(ValueError, match="x0"):
        run_sgd(0.1, 1, 2, x0=np.zeros(3), n_chains=2, steps=1)
    with pytest.raises(ValueError, match="finite"):
        run_sgd(0.1, 1, 2, mode="offline", data=(np.full((3, 2), np.nan), np.zeros(3)))
    with pytest.raises(ValueError, match="columns"):
        run_sgd(0.1, 1, 2, mode="offline", data=(np.zeros((3, 4)), np.zeros(3)))
    with pytest.raises(ValueError, match="burn_in"):
        run_sgd(0.1, 1, 2, steps=5, burn_in=5)


def test_tail_index_mc_reports_diverged_settings_as_nan():
    from simulations.kesten.study import tail_index_mc

    out = tail_index_mc([0.5, 40.0], 2, 2, n_chains=400, steps=300, k=20, seed=0)  # 20^300 overflows
    assert np.isfinite(out["alpha_hat"][0]) and out["n_ok"][0] == 400
    assert np.isnan(out["alpha_hat"][1]) and out["n_ok"][1] < 40
    with pytest.raises(ValueError, match="n_chains"):
        tail_index_mc([0.5], 2, 2, n_chains=5)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        run_sgd(0.1, 1, 2, n_chains=2, steps=2, seed=0, backend="tpu")


@pytest.mark.parametrize("kw,name", [
    (dict(batch_size=10**4, steps=10**6), "batch_size"),
    (dict(d=10**4, steps=10**6), "d"),
    (dict(steps=10**15), "steps"),
    (dict(n_chains=10**6, steps=10**4), "n_chains"),
    (dict(n_chains=10**7, d=10**3, steps=1), "n_chains"),  # the iterates n_chains·d are bounded by the work
])
def test_run_sgd_work_limit(kw, name):
    args = dict(lr=0.1, batch_size=2, d=3, n_chains=2, steps=2) | kw
    with pytest.raises(ValueError, match=rf"{name}.* must be at most WORK_MAX = 1000000000"):
        run_sgd(**args)


@pytest.mark.parametrize("kw,match", [
    (dict(batch_size=2**31), r"batch_size must be an integer in \[1, 10000\]"),  # ran 2³¹ rows per step before
    (dict(batch_size=98424, d=5, n_chains=20, steps=20), r"batch_size must be an integer in \[1, 10000\]"),
    (dict(d=10**9), r"d must be an integer in \[1, 10000\]"),
    (dict(n_chains=10**12), r"n_chains must be an integer in \[1, 10000000\]"),
])
def test_run_sgd_size_limits(kw, match):
    """Each of these ran for minutes (or asked for gigabytes) before it was rejected."""
    args = dict(lr=0.1, batch_size=2, d=3, n_chains=2, steps=2) | kw
    with pytest.raises(ValueError, match=match):
        run_sgd(**args)


def test_run_sgd_memory_limits():
    from simulations.kesten.chains import ENTRIES_MAX

    with pytest.raises(ValueError, match=r"n \* d must be at most ENTRIES_MAX"):
        run_sgd(0.1, 1, 1000, mode="offline", n=ENTRIES_MAX, n_chains=1, steps=1)
    with pytest.raises(ValueError, match=r"n \* n_chains must be at most ENTRIES_MAX"):
        run_sgd(0.1, 1, 1, mode="offline", n=10**6, n_chains=10**4, steps=1, backend="cuda")


@pytest.mark.parametrize("flag", [1, "yes", np.array([True]), None])
def test_flags_must_be_bools(flag):
    with pytest.raises(TypeError, match="average must be True or False"):
        run_sgd(0.1, 1, 2, n_chains=2, steps=2, average=flag)
    res = run_sgd(0.1, 1, 2, n_chains=2, steps=2, seed=0)
    with pytest.raises(TypeError, match="centered must be True or False"):
        res.final(centered=flag)
    with pytest.raises(TypeError, match="average must be True or False"):
        res.final(average=flag)


def test_studies_check_their_arguments_before_work():
    from simulations.kesten.study import alpha_vs_lr, tail_index_mc

    with pytest.raises(ValueError, match="total work"):
        tail_index_mc(np.linspace(0.1, 0.5, 10**4), 2, 3, n_chains=10**4, steps=10**3)
    with pytest.raises(ValueError, match=r"work of one run .* WORK_MAX"):
        tail_index_mc([0.5], 2, 3, n_chains=10**5, steps=10**4)
    with pytest.raises(ValueError, match=r"work of one run .* WORK_MAX .*batch_size=2, d=10"):
        alpha_vs_lr([(1, 3), (2, 10)], n_lr=2, n_mc=1, n_chains=10**5, steps=1000)
    with pytest.raises(ValueError, match=r"n_chains must be an integer in \[20, 10000000\]"):
        tail_index_mc([0.5], 2, 3, n_chains=10**8, steps=1)
    with pytest.raises(ValueError, match="lrs must all be in"):
        tail_index_mc([0.5, -0.1], 2, 3, n_chains=20, steps=1)
    with pytest.raises(ValueError, match="steps"):
        tail_index_mc([0.5], 2, 3, n_chains=20, steps=0)
    with pytest.raises(ValueError, match="combos"):
        alpha_vs_lr([(2, 3, 4)])
    with pytest.raises(TypeError, match="combos"):
        alpha_vs_lr(5)
    with pytest.raises(ValueError, match="batch_size"):
        alpha_vs_lr([(0, 3)])
    with pytest.raises(ValueError, match="n_lr"):
        alpha_vs_lr([(2, 3)], n_lr=10**9)
    with pytest.raises(ValueError, match="total work"):
        alpha_vs_lr([(2, 3)], n_mc=10**6, n_chains=10**5, steps=10**3)
