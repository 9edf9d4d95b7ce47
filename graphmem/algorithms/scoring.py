"""Exact cosine scoring over int8 vectors: the brute-force half of search.

The store keeps each embedding as int8 with a per-vector scale; cosine
similarity ignores the scale, so a row's score is ``dot(int8_row, q) /
norm(int8_row)`` for a unit query ``q``. Rows are addressed by entity id, so
an allowed set (a bitmap of ids) is scored without gathering a copy.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput
from .jit import njit  # numba itself loads at the first kernel call

__all__ = ["exact_top_k", "cosine_rows"]


@njit(cache=True, fastmath=True, nogil=True)
def _scores(matrix: np.ndarray, inv_norms: np.ndarray, ids: np.ndarray, query: np.ndarray, out: np.ndarray) -> None:
    dim = query.shape[0]
    for j in range(ids.shape[0]):
        row = ids[j]
        acc = np.float32(0.0)
        for d in range(dim):
            acc += np.float32(matrix[row, d]) * query[d]
        out[j] = acc * inv_norms[row]


_SMALL_K = 32
"""Up to this ``k``, the top list is kept sorted while the scores are read
(O(n k), one compiled call); above, NumPy partitions then sorts."""


@njit(cache=True, nogil=True)
def _small_top(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (highest score, then smallest id) of ``ids``, best first:
    an insertion into a sorted list of ``k``. For a search's few hundred
    candidates this replaces four NumPy calls (partition, sort, two gathers),
    each with its own per-call cost, with one compiled call."""
    keep = min(k, ids.shape[0])
    top_ids = np.empty(keep, np.int64)
    top_scores = np.empty(keep, np.float32)
    filled = 0
    for j in range(ids.shape[0]):
        s, i = scores[j], ids[j]
        if filled == keep:
            last_s, last_i = top_scores[keep - 1], top_ids[keep - 1]
            if s < last_s or (s == last_s and i > last_i):
                continue
            at = keep - 1
        else:
            at = filled
            filled += 1
        while at > 0 and (top_scores[at - 1] < s or (top_scores[at - 1] == s and top_ids[at - 1] > i)):
            top_scores[at] = top_scores[at - 1]
            top_ids[at] = top_ids[at - 1]
            at -= 1
        top_scores[at] = s
        top_ids[at] = i
    return top_ids, top_scores


def cosine_rows(matrix: np.ndarray, inv_norms: np.ndarray, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of ``query`` with the rows ``ids`` (0 for all-zero rows).

    Examples
    --------
    >>> m = np.array([[127, 0], [0, 0]], dtype=np.int8)
    >>> cosine_rows(m, np.array([1 / 127, 0], np.float32), np.array([0, 1]), np.array([1, 0], np.float32)).tolist()
    [1.0, 0.0]
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= matrix.shape[0]):
        raise InvalidInput("ids out of the matrix's range")
    out = np.empty(ids.shape[0], np.float32)
    _scores(matrix, inv_norms, ids, np.ascontiguousarray(query, np.float32), out)
    return out


def exact_top_k(
    matrix: np.ndarray, inv_norms: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` ids among ``ids`` most cosine-similar to ``query``, best first.

    Parameters
    ----------
    matrix : int8 array (capacity, dim), one row per entity id
    inv_norms : float32 array (capacity,), ``1 / norm(row)`` (0 for empty rows)
    ids : int64 array of the candidate ids
    query : float32 unit vector (dim,)
    k : how many to return (fewer if there are fewer candidates)

    Ties are broken by the smaller id, so results are deterministic.

    Examples
    --------
    >>> m = np.array([[127, 0], [0, 127], [90, 90]], dtype=np.int8)
    >>> inv = (1 / np.linalg.norm(m.astype(np.float32), axis=1)).astype(np.float32)
    >>> ids, scores = exact_top_k(m, inv, np.array([0, 1, 2]), np.array([1, 0], np.float32), 2)
    >>> ids.tolist(), [round(float(s), 3) for s in scores]
    ([0, 2], [1.0, 0.707])
    """
    if matrix.ndim != 2 or matrix.dtype != np.int8:
        raise InvalidInput("matrix must be a 2-D int8 array")
    if query.shape != (matrix.shape[1],):
        raise InvalidInput(f"query has shape {query.shape}; expected ({matrix.shape[1]},)")
    if k < 1:
        raise InvalidInput(f"k must be >= 1, not {k}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= matrix.shape[0]):
        raise InvalidInput("ids out of the matrix's range")
    scores = np.empty(ids.shape[0], np.float32)
    _scores(matrix, inv_norms, ids, np.ascontiguousarray(query, np.float32), scores)
    if k <= _SMALL_K:
        return _small_top(ids, scores, k)
    if ids.size > k:
        # The k-th best score, then everything above it and the smallest ids
        # of those equal to it: a plain partition would break a tie at the
        # k-th place arbitrarily, not by the smaller id.
        kth = np.partition(scores, ids.size - k)[ids.size - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)
        tied = tied[np.argsort(ids[tied], kind="stable")[: k - above.size]]
        top = np.concatenate([above, tied])
        ids, scores = ids[top], scores[top]
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]
