"""graphmem.index.columns: Arrow <-> NumPy without pyarrow's pandas import
gives what pyarrow's own conversions give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.index.columns import arrow_int64, arrow_strings, float_numpy, int_numpy

_ints = st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=40)
_floats = st.lists(st.one_of(st.none(), st.floats(width=32, allow_nan=False)), max_size=40)


def _chunked(values: list, type_: pa.DataType, cut: int, skip: int) -> pa.ChunkedArray:
    """``values`` in two chunks, the first a slice (a non-zero offset into its buffers)."""
    cut = min(cut, len(values))
    head = pa.array([0] * skip + values[:cut], type_).slice(skip)
    return pa.chunked_array([head, pa.array(values[cut:], type_)], type_)


@settings(max_examples=150, deadline=None)
@given(values=_ints, cut=st.integers(0, 40), skip=st.integers(0, 9), fill=st.integers(-5, 5))
def test_int_numpy_reads_what_to_numpy_reads(values, cut, skip, fill):
    column = _chunked(values, pa.int64(), cut, skip)
    got = int_numpy(column, null=fill)
    assert got.dtype == np.int64 and got.flags.writeable
    assert got.tolist() == [fill if v is None else v for v in values]
    if None not in values:
        assert int_numpy(column).tolist() == column.to_numpy().tolist()


@settings(max_examples=150, deadline=None)
@given(values=_floats, cut=st.integers(0, 40), skip=st.integers(0, 9))
def test_float_numpy_reads_what_to_numpy_reads(values, cut, skip):
    column = _chunked(values, pa.float32(), cut, skip)
    got = float_numpy(column, null=-1.5)
    assert got.dtype == np.float32
    expected = np.array([-1.5 if v is None else v for v in values], np.float32)
    assert got.tobytes() == expected.tobytes()


def test_a_column_of_another_type_or_with_nulls_and_no_fill_goes_through_to_numpy():
    assert int_numpy(pa.array([1, None])).tolist()[0] == 1  # to_numpy's float NaN for the null
    assert float_numpy(pa.array([1, 2], pa.int8())).tolist() == [1, 2]


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8), max_size=30),
       large=st.booleans())
def test_arrow_strings_equal_pa_array(values, large):
    type_ = pa.large_string() if large else pa.string()
    built = arrow_strings(values, large=large)
    assert built.type == type_ and built.equals(pa.array(values, type_))
    built.validate(full=True)


def test_arrow_strings_refuse_a_lone_surrogate_as_pa_array_does():
    with pytest.raises(UnicodeEncodeError):
        pa.array(["ok", "\ud800"], pa.string())
    with pytest.raises(UnicodeEncodeError):
        arrow_strings(["ok", "\ud800"])


def test_arrow_int64_takes_any_integer_array():
    assert arrow_int64(np.array([3, 1], np.int32)).to_pylist() == [3, 1]
    with pytest.raises(ValueError, match="1-D"):
        arrow_int64(np.zeros((2, 2), np.int64))
