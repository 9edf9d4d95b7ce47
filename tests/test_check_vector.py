"""check_vector: the query's check and unit normalisation (graphmem.validate)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graphmem.errors import InvalidInput
from graphmem.validate import check_vector

_finite = st.floats(-2.0**60, 2.0**60, allow_nan=False, width=32)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 64), elements=_finite))
def test_the_unit_vector_is_the_float32_quotient_by_the_float32_norm(v):
    """The same bits as dividing by np.float32 of the norm (what it returned
    before it divided by the Python float), for every finite non-zero vector."""
    squared = float(v.dot(v))
    norm = math.sqrt(squared)
    if norm == 0.0 or not math.isfinite(norm):
        with pytest.raises(InvalidInput, match="zero vector"):
            check_vector(v, None)
        return
    got = check_vector(v, len(v))
    want = v / np.float32(norm)
    assert got.dtype == np.float32 and got.shape == v.shape
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("bad, message", [
    ([], "must be a non-empty 1-D vector, got shape (0,)"),
    ([[1.0, 2.0]], "must be a non-empty 1-D vector, got shape (1, 2)"),
    ([1.0, float("nan")], "contains NaN or infinity"),
    ([0.0, 0.0], "is the zero vector"),
    ([1.0, 2.0, 3.0], "has dimension 3; this store's vectors have dimension 2"),
    (["a", "b"], "must be a sequence of numbers"),
])  # fmt: skip
def test_bad_vectors_raise_their_message(bad, message):
    with pytest.raises(InvalidInput) as err:
        check_vector(bad, 2, "query vector")
    assert str(err.value).startswith("query vector") and message in str(err.value)
