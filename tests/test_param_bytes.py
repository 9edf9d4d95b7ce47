"""``space.param_bytes`` (the WAL-room estimate of a statement's parameters)
counts strings and 8-byte scalars inline; it must size every value as the
plain recursive definition does, nested lists of structs included."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.store.space import param_bytes


def _spec(value: Any) -> int:
    if value is None or isinstance(value, (bool, int, float, datetime, date, timedelta)):
        return 8
    if isinstance(value, str):
        return len(value) * 4 if len(value) > 4096 else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(_spec(k) + _spec(v) for k, v in value.items()) + 8
    if isinstance(value, (list, tuple)):
        return sum(_spec(v) for v in value) + 8
    return 64


class _Odd:
    """A value of no known kind (sized 64)."""


class _Text(str):
    """A str subclass: not the exact type the inline count looks for."""


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(), st.binary(max_size=8),
    st.datetimes(), st.dates(), st.timedeltas(), st.text(max_size=5).map(_Text), st.just(_Odd()),
    st.text(min_size=4097, max_size=4100),
)  # fmt: skip
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=4)),
                       max_leaves=30)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(value=_values)
def test_param_bytes_sizes_as_the_recursive_definition(value):
    assert param_bytes({"p": value}) == _spec({"p": value})
