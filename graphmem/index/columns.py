"""Columns between Arrow and NumPy without pyarrow's pandas detour.

pyarrow 26's ``Array.to_numpy`` and ``pa.array`` import pandas on first use
when it is installed (0.3-0.5 s), which a one-shot command (``graphmem
path``) or a server's first answer pays for nothing. A numeric column is
read from its data and validity buffers instead (:func:`int_numpy`,
:func:`float_numpy`), and NumPy integers and Python strings reach Arrow as
buffers (:func:`arrow_int64`, :func:`arrow_strings`). Anything else (nulls
with no value given for them, other types) goes through ``to_numpy`` as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

__all__ = ["int_numpy", "float_numpy", "arrow_int64", "arrow_strings"]


def int_numpy(column: pa.Array | pa.ChunkedArray, *, null: int | None = None) -> np.ndarray:
    """The values of an integer column (a copy, writeable); a null reads as
    ``null`` when it is given (else the column goes through ``to_numpy``).

    Examples
    --------
    >>> int_numpy(pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([3], pa.int32())])).tolist()
    [1, 2, 3]
    >>> int_numpy(pa.array([4, None, 6]), null=0).tolist()
    [4, 0, 6]
    """
    return _numbers(column, pa.types.is_integer(column.type), null)


def float_numpy(column: pa.Array | pa.ChunkedArray, *, null: float | None = None) -> np.ndarray:
    """:func:`int_numpy` for a floating-point column.

    Examples
    --------
    >>> float_numpy(pa.array([0.5, None], pa.float32()), null=1.0).tolist()
    [0.5, 1.0]
    """
    return _numbers(column, pa.types.is_floating(column.type), null)


def _numbers(column: pa.Array | pa.ChunkedArray, wanted_type: bool, null: float | None) -> np.ndarray:
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    nulls = any(c.null_count for c in chunks)
    if not wanted_type or (nulls and null is None):
        return np.array(column.to_numpy(zero_copy_only=False))
    # Arrow names float32 "float" and float64 "double"; its integer names are NumPy's.
    dtype = np.dtype(f"float{column.type.bit_width}" if pa.types.is_floating(column.type) else str(column.type))
    parts = []
    for c in chunks:
        if not len(c):
            continue
        validity, data = c.buffers()[:2]
        values = np.frombuffer(data, dtype, count=len(c), offset=c.offset * dtype.itemsize).copy()
        if c.null_count:
            bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
            values[~bits[c.offset : c.offset + len(c)].astype(np.bool_)] = null
        parts.append(values)
    return np.concatenate(parts) if parts else np.empty(0, dtype)

def arrow_int64(values: np.ndarray) -> pa.Array:
    """``values`` (1-D integers) as an Arrow int64 array over a NumPy buffer, no nulls.

    Examples
    --------
    >>> pa.array(["a", "b", "c"]).take(arrow_int64(np.array([2, 0]))).to_pylist()
    ['c', 'a']
    """
    data = np.ascontiguousarray(values, np.int64)
    if data.ndim != 1:
        raise ValueError("arrow_int64 takes a 1-D array")
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def arrow_strings(values: Sequence[str], *, large: bool = False) -> pa.Array:
    """``values`` as an Arrow string array (``large``: 64-bit offsets) built
    from its buffers; a ``str`` UTF-8 cannot encode (a lone surrogate) raises
    ``UnicodeEncodeError``, as ``pa.array`` does.

    Examples
    --------
    >>> arrow_strings(["ab", "", "é"]).to_pylist()
    ['ab', '', 'é']
    """
    encoded = [v.encode("utf-8") for v in values]
    n = len(encoded)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, n), out=offsets[1:])
    if not large:
        if offsets[-1] > np.iinfo(np.int32).max:
            raise pa.ArrowCapacityError(f"{offsets[-1]} bytes of strings exceed a string array's 2 GiB")
        offsets = offsets.astype(np.int32)
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))
