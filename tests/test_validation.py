"""The shared input checks of theory.validation: valid values pass unchanged, bad ones (and bad
arguments of the checks themselves) raise TypeError/ValueError naming the parameter."""
from __future__ import annotations

import numpy as np
import pytest

from theory import validation as v


def test_valid_values_pass():
    assert v.check_real("x", 1, 0, 1) == 1.0
    assert v.check_real("x", np.float32(0.5), 0.0, 1.0, low_open=True, high_open=np.bool_(True)) == 0.5
    assert v.check_int("n", 3.0, 1, 10) == 3
    assert v.check_int("n", np.int64(5), np.int64(1), 10.0) == 5
    assert v.check_probability("q", 1.0) == 1.0
    assert v.check_array("x", [1, 2], ndim=(1, 2), min_size=np.int64(2), finite=True).dtype == np.float64
    assert v.check_array("x", [1, 2], ndim=np.int64(1), dtype="int64").dtype == np.int64
    assert v.check_dtype("float32") == np.float32
    assert v.check_dtype(np.int32, allowed=[np.int32]) == np.int32
    assert v.check_choice("mode", "a", {"a": 1, "b": 2}.keys()) == "a"
    assert v.check_choice("k", 2, range(4)) == 2


@pytest.mark.parametrize("flag", [1, 0, 1.0, None, "yes", np.array([True])])
def test_interval_flags_must_be_bools(flag):
    """low_open=1 (and the other flags) used to be read by truthiness."""
    with pytest.raises(TypeError, match="low_open"):
        v.check_real("x", 1.0, low_open=flag)
    with pytest.raises(TypeError, match="high_open"):
        v.check_real("x", 1.0, high_open=flag)
    with pytest.raises(TypeError, match="open_low"):
        v.check_probability("q", 0.5, open_low=flag)
    with pytest.raises(TypeError, match="open_high"):
        v.check_probability("q", 0.5, open_high=flag)
    with pytest.raises(TypeError, match="finite"):
        v.check_array("x", [1.0], finite=flag)


@pytest.mark.parametrize("bound", ["a", 1j, [1.0], np.array([1.0, 2.0]), object(), True])
def test_real_bounds_must_be_numbers(bound):
    """low='a' raised "Unknown format code 'g'", low=True was read as 1."""
    with pytest.raises(TypeError, match="low"):
        v.check_real("x", 1.0, low=bound)
    with pytest.raises(TypeError, match="high"):
        v.check_real("x", 1.0, high=bound)
    with pytest.raises(ValueError, match="low"):
        v.check_real("x", 1.0, low=float("nan"))


@pytest.mark.parametrize("bound", ["a", 1.5, [1], np.array([1, 2]), True, None.__class__])
def test_int_bounds_must_be_integers(bound):
    """check_int(high='a') raised a bare comparison TypeError; high=1.5 and high=True were accepted."""
    with pytest.raises(TypeError, match="high"):
        v.check_int("n", 1, high=bound)
    with pytest.raises(TypeError, match="low"):
        v.check_int("n", 1, low=bound)


@pytest.mark.parametrize("kw, pname", [
    ({"min_size": "a"}, "min_size"), ({"min_size": None}, "min_size"), ({"min_size": 1.5}, "min_size"),
    ({"min_size": True}, "min_size"), ({"min_size": [1]}, "min_size"), ({"ndim": object()}, "ndim"),
    ({"ndim": (1, "a")}, "ndim"), ({"ndim": True}, "ndim"), ({"dtype": object()}, "dtype"), ({"dtype": 3}, "dtype"),
    ({"dtype": "bogus"}, "dtype"), ({"dtype": [np.float32]}, "dtype"), ({"dtype": str}, "dtype"),
])
def test_check_array_arguments(kw, pname):
    with pytest.raises(TypeError, match=pname):
        v.check_array("x", [1.0, 2.0], **kw)
    with pytest.raises(ValueError, match="min_size"):
        v.check_array("x", [1.0], min_size=-1)


@pytest.mark.parametrize("choices", [None, object(), "abc", b"ab", (), np.array(["a", "b"])])
def test_choices_must_be_a_collection(choices):
    """choices='abc' accepted 'a' (a string iterated by characters); choices=None raised "not iterable"."""
    with pytest.raises(TypeError, match="choices"):
        v.check_choice("mode", "a", choices)


@pytest.mark.parametrize("allowed", [None, object(), "abc", (), ("float64", "bogus"), np.array([1.0])])
def test_allowed_dtypes_must_be_a_collection_of_dtypes(allowed):
    """check_dtype(allowed='abc') read 'a', 'b', 'c' as dtypes; allowed=None raised "not iterable"."""
    with pytest.raises(TypeError, match="allowed"):
        v.check_dtype(np.float64, allowed=allowed)


def test_check_rows_names_the_argument_and_the_missing_keys():
    from theory.validation import check_rows

    rows = [{"a": 1, "b": 2}]
    assert check_rows("rows", tuple(rows), ("a", "b"), "demo") == rows
    with pytest.raises(TypeError, match=r"^rows must be a list of demo rows"):
        check_rows("rows", "abc", ("a",), "demo")
    with pytest.raises(TypeError, match=r"^rows\[1\] must be a dict"):
        check_rows("rows", [{"a": 1}, 3], ("a",), "demo")
    with pytest.raises(TypeError, match="^keys"):
        check_rows("rows", rows, None, "demo")
    with pytest.raises(ValueError, match=r"^rows\[0\] lacks the keys \['b'\] of a row of demo"):
        check_rows("rows", [{"a": 1}], ("a", "b"), "demo")
