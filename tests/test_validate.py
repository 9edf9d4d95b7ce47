"""validate.py's number checks: what each accepts, and that every refusal is an
:class:`InvalidInput` naming the argument (never a ``TypeError``, an
``OverflowError`` or the ``ValueError`` of printing an int too long for ``repr``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphmem.errors import InvalidInput
from graphmem.validate import check_count, check_finite_number, check_int_range, check_number_range, check_positive_int

HUGE = 10**5000  # beyond any float, and past the 4,300 digits repr() prints
NOT_NUMBERS = [True, False, "3", b"3", None, [3], {"n": 3}, 3j, object()]


def _id(value: object) -> str | None:
    """pytest's id for a parameter (its own would print HUGE, which repr() refuses)."""
    if isinstance(value, int) and abs(value) > 10**100:
        return "huge" if value > 0 else "-huge"
    return None


# -- check_int_range ----------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 0o700, 0o777, np.int64(0o750), np.uint8(7)])
def test_int_range_takes_ints_in_range_as_plain_ints(value):
    got = check_int_range(value, "mode", 0, 0o777)
    assert got == value and type(got) is int


@pytest.mark.parametrize("value", [*NOT_NUMBERS, -1, 0o1000, 448.0, float("nan"), HUGE, -HUGE, np.float64(7)], ids=_id)
def test_int_range_refuses_the_rest_by_name(value):
    with pytest.raises(InvalidInput, match=r"^mode must be an int from 0 to 511, not "):
        check_int_range(value, "mode", 0, 0o777)


def test_int_range_says_what_is_expected_in_its_own_words():
    with pytest.raises(InvalidInput, match=r"^mode must be a permission mode such as 0o700, not True$"):
        check_int_range(True, "mode", 0, 0o777, expected="a permission mode such as 0o700")


@pytest.mark.parametrize("value", [HUGE, -HUGE], ids=_id)
def test_a_huge_int_is_named_by_its_size(value):
    for check in (lambda v: check_int_range(v, "n", 0, 9), lambda v: check_number_range(v, "n", 0, 9),
                  lambda v: check_finite_number(v, "n")):  # fmt: skip
        with pytest.raises(InvalidInput, match=r"^n must be .*, not an int of 1661\d bits$"):
            check(value)
    with pytest.raises(InvalidInput, match=r"^limit must be a positive int, not an int of 16610 bits$"):
        check_positive_int(-HUGE, "limit")
    with pytest.raises(InvalidInput, match=r"^hops must be an int >= 0, not an int of 16610 bits$"):
        check_count(-HUGE, "hops")


@given(st.integers() | st.floats(allow_nan=True) | st.booleans(), st.integers(-50, 50), st.integers(0, 50))
def test_int_range_is_exactly_an_int_not_a_bool_within_the_bounds(value, low, width):
    high = low + width
    wanted = type(value) is int and low <= value <= high
    try:
        got = check_int_range(value, "n", low, high)
    except InvalidInput:
        assert not wanted
    else:
        assert wanted and got == value


# -- check_number_range --------------------------------------------------------------


@pytest.mark.parametrize(("value", "low", "high"), [(0, 0, math.inf), (0.0, 0, 3600), (3600, 0, 3600), (2.5, 0, 3),
                                                    (10**300, 0, math.inf), (np.float64(1.5), 1, 2)])  # fmt: skip
def test_number_range_takes_finite_numbers_in_range_as_floats(value, low, high):
    got = check_number_range(value, "ttl", low, high)
    assert got == float(value) and type(got) is float


@pytest.mark.parametrize("value", [*NOT_NUMBERS, -1, -0.001, 3600.5, float("nan"), float("inf"), -float("inf"), HUGE], ids=_id)
def test_number_range_refuses_the_rest_by_name(value):
    if value is None:
        with pytest.raises(InvalidInput, match=r"^hold must be a number from 0 to 3600, not None$"):
            check_number_range(value, "hold", 0, 3600)
        return
    with pytest.raises(InvalidInput, match=r"^hold must be a number from 0 to 3600, not "):
        check_number_range(value, "hold", 0, 3600)
    with pytest.raises(InvalidInput, match=r"^hold must be a number from 0 to 3600 or None, not "):
        check_number_range(value, "hold", 0, 3600, allow_none=True)


def test_number_range_without_a_top_says_so_and_still_refuses_infinity():
    assert check_number_range(None, "ttl", 0, allow_none=True) is None
    with pytest.raises(InvalidInput, match=r"^ttl must be a number >= 0, not inf$"):
        check_number_range(float("inf"), "ttl", 0)
    with pytest.raises(InvalidInput, match=r"^ttl must be minutes, not -2$"):
        check_number_range(-2, "ttl", 0, expected="minutes")


@given(st.integers() | st.floats(allow_nan=True) | st.booleans() | st.none(),
       st.floats(-1e6, 1e6), st.floats(0, 1e6), st.booleans())  # fmt: skip
def test_number_range_is_exactly_a_finite_number_within_the_bounds(value, low, width, allow_none):
    high = low + width
    if value is None:
        wanted = allow_none
    else:
        try:
            as_float = float(value)
        except OverflowError:
            as_float = math.inf
        wanted = type(value) in (int, float) and math.isfinite(as_float) and low <= as_float <= high
    try:
        got = check_number_range(value, "n", low, high, allow_none=allow_none)
    except InvalidInput:
        assert not wanted
    else:
        assert wanted and got == (None if value is None else float(value))
