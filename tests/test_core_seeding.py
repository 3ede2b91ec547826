"""The one seeding recipe (simulations._core.seeding) and the one table of kernel codes.

Oracles: numpy's own ``default_rng(int)`` stream (an int seed must give exactly numpy's stream),
and statistical independence of children (sample correlation of 10^5 uniforms: sd 1/√n ≈ 0.003,
bound 0.02 ≈ 6 sd, false-alarm rate < 1e-8).
"""
from __future__ import annotations

import numpy as np
import pytest

from simulations._core import codes
from simulations._core.seeding import child, generator, kernel_seed, replicate, seed_sequence


def test_int_seed_is_numpys_stream():
    np.testing.assert_array_equal(generator(7).random(5), np.random.default_rng(7).random(5))


def test_same_seed_same_child_and_names_are_independent():
    a1, a2 = generator(3, "shuffle").random(10**5), generator(3, "shuffle").random(10**5)
    np.testing.assert_array_equal(a1, a2)
    b = generator(3, "init").random(10**5)
    assert abs(np.corrcoef(a1, b)[0, 1]) < 0.02
    assert not np.array_equal(a1[:10], b[:10])
    # a child depends on its own name only, not on which other consumers exist or their order
    assert child(3, "shuffle").spawn_key == child(seed_sequence(3), "shuffle").spawn_key
    assert child(3, "a", 1).spawn_key != child(3, "a", 2).spawn_key


def test_replicates_and_kernel_seeds():
    rs = [generator(replicate(5, r)).random() for r in range(4)]
    assert len(set(rs)) == 4
    ks = {kernel_seed(5, "streams"), kernel_seed(5, "noise"), kernel_seed(6, "streams")}
    assert len(ks) == 3 and all(0 <= k < 2**63 for k in ks)
    assert kernel_seed(5, "streams") == kernel_seed(5, "streams")


def test_a_shared_generator_gives_successive_callers_different_sequences():
    g = np.random.default_rng(0)
    assert seed_sequence(g).entropy != seed_sequence(g).entropy


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (True, TypeError), (1.5, TypeError), ("0", TypeError)])
def test_bad_seed_names_the_parameter(bad, exc):
    with pytest.raises(exc, match="seed"):
        seed_sequence(bad)


def test_code_table_covers_the_api_vocabulary():
    from simulations._core.noise import NOISE_KINDS
    from simulations.nn import ACTIVATIONS, LOSSES

    assert set(codes.ACTIVATION_CODES) == set(ACTIVATIONS)
    assert set(codes.LOSS_CODES) == set(LOSSES)
    assert set(NOISE_KINDS) <= set(codes.NOISE_CODES)
    for table in (codes.ACTIVATION_CODES, codes.LOSS_CODES, codes.NOISE_CODES, codes.STATUS_NAMES):
        values = list(table.values() if table is not codes.STATUS_NAMES else table.keys())
        assert len(set(values)) == len(values)  # one meaning per code
