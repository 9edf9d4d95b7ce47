"""Integer columns between Arrow and NumPy without pyarrow's pandas detour.

pyarrow 26's ``Array.to_numpy`` and ``pa.array`` import pandas on first use
when it is installed (0.3-0.5 s), which a one-shot command (``graphmem
path``) or a server's first answer pays for nothing: an integer column with
no nulls is read from its data buffers instead, and NumPy integers reach
Arrow as a buffer (:func:`arrow_int64`). Anything else (nulls, other types)
goes through ``to_numpy`` as before.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["int_numpy", "arrow_int64"]


def int_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of an integer column (a copy, writeable), nulls not allowed.

    Examples
    --------
    >>> int_numpy(pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([3], pa.int32())])).tolist()
    [1, 2, 3]
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if not pa.types.is_integer(column.type) or any(c.null_count for c in chunks):
        return np.array(column.to_numpy(zero_copy_only=False))
    dtype = np.dtype(str(column.type))
    parts = [np.frombuffer(c.buffers()[1], dtype, count=len(c), offset=c.offset * dtype.itemsize)
             for c in chunks if len(c)]  # fmt: skip
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
