"""A typed multigraph as arrays: one CSR holding both directions, plus a delta overlay.

An :class:`Adjacency` keeps, for each node ``u``, one contiguous row of
neighbours: first the targets of its out-edges, then the sources of its
in-edges (``rows[u, 0]``, ``rows[u, 1]`` and ``rows[u + 1, 0]`` bound the two
parts; each part is sorted by neighbour, then type), with the type code of
each edge in ``types``. A search that follows relations both ways reads one
row (one cache miss for the bounds, one run of neighbours), measured ~20%
faster on a 1M-node graph than separate out- and in-CSRs. It costs 8 bytes
per relation per direction plus 16 bytes per node (9.6 bytes per relation
per direction at 5 relations per node).

Edges added and removed since the snapshot was built live in a delta, per
direction, as sorted ``node << 32 | neighbour`` keys with their types:

- ``*_add_key``/``*_add_type``: added edges (never in the snapshot);
- ``*_rem_key``/``*_rem_type``: snapshot edges that no longer exist;
- ``touched``: a small hashed mask, ``touched[node & (len - 1)] != 0`` when the
  node may have delta edges, so that kernels skip the delta's binary searches
  for the (many) nodes that have none.

Node ids may exceed the snapshot's rows (nodes created after it): such a row
is empty in the snapshot and lives in the delta only.

Everything here is a pure function over arrays. The arrays of an
``Adjacency`` are never written after it is built, so a reader holding one
sees a consistent graph however many writers build newer ones (copy on write).

Over 500 lines: the construction, lookup and delta-merge functions of
:class:`Adjacency`, each a public function with its compiled helper, share the
array layout described above.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import jit
from .jit import njit  # numba itself loads at the first kernel call

__all__ = [
    "Adjacency",
    "OUT",
    "IN",
    "DELTA_MASK_MIN",
    "empty_adjacency",
    "from_edges",
    "NUMPY_BUILD_UP_TO",
    "row_edges",
    "row_arrays",
    "edge_lookup",
    "has_edges",
    "merge_delta",
    "touched_mask",
    "find_pairs",
    "merge_sorted",
    "sort_pairs",
    "sorted_unique",
    "merge_order",
    "incident_edges",
]

OUT, IN = 0, 1
"""Sides of a row: the out-edges (neighbour = target) and the in-edges (neighbour = source)."""

DELTA_MASK_MIN = 4096
"""Smallest ``touched`` mask (slots); it grows with the delta to stay sparse."""


class Adjacency(NamedTuple):
    """Both directions of a typed multigraph: a CSR snapshot and the delta since it.

    See the module docstring. Build one with :func:`from_edges`.
    """

    rows: np.ndarray  # int64[n + 1, 2]: start of the out part, start of the in part
    nbrs: np.ndarray  # int32[2m]
    types: np.ndarray  # int32[2m]
    out_add_key: np.ndarray  # int64, node << 32 | target, sorted by (key, type)
    out_add_type: np.ndarray  # int32
    out_rem_key: np.ndarray
    out_rem_type: np.ndarray
    in_add_key: np.ndarray  # int64, node << 32 | source
    in_add_type: np.ndarray
    in_rem_key: np.ndarray
    in_rem_type: np.ndarray
    touched: np.ndarray  # uint8[power of two]

    @property
    def n_rows(self) -> int:
        return int(self.rows.shape[0] - 1)

    @property
    def snapshot_edges(self) -> int:
        """Edges in the snapshot (each is stored twice, once per direction)."""
        return int(self.nbrs.shape[0] // 2)

    @property
    def delta(self) -> int:
        return int(self.out_add_key.shape[0] + self.out_rem_key.shape[0])

    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self))


# The eight delta arrays of an Adjacency, in field order (a fixed length, so a
# type checker can count them where they are passed with *).
_Delta = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _empty_delta() -> _Delta:
    k, t = np.empty(0, np.int64), np.empty(0, np.int32)
    return k, t, k, t, k, t, k, t


def empty_adjacency(n_rows: int = 0) -> Adjacency:
    """``n_rows`` empty rows, no delta."""
    return Adjacency(np.zeros((n_rows + 1, 2), np.int64), np.empty(0, np.int32), np.empty(0, np.int32),
                     *_empty_delta(), np.zeros(DELTA_MASK_MIN, np.uint8))  # fmt: skip


def from_edges(src, dst, types, n_nodes: int | None = None) -> Adjacency:
    """The adjacency of the edges ``src[i] -[types[i]]-> dst[i]`` (repeats kept once).

    A counting sort by node, then each row part sorted by (neighbour, type):
    O(m + n), measured ~5x faster than sorting packed keys at 5M edges. Up to
    :data:`NUMPY_BUILD_UP_TO` edges, while numba is not loaded, the same
    arrays are built in NumPy instead (no compiler wait).

    Examples
    --------
    >>> a = from_edges([0, 1, 1], [1, 2, 2], [0, 0, 0])
    >>> a.rows.tolist(), a.nbrs.tolist()
    ([[0, 1], [1, 2], [3, 3], [4, 4]], [1, 2, 0, 1])
    >>> row_edges(a, 1, OUT), row_edges(a, 1, IN)
    ([(2, 0)], [(0, 0)])
    """
    src = np.ascontiguousarray(src, np.int64)
    dst = np.ascontiguousarray(dst, np.int64)
    types = np.ascontiguousarray(types, np.int32)
    if not (src.shape == dst.shape == types.shape) or src.ndim != 1:
        raise ValueError("src, dst and types must be 1-D arrays of one length")
    top = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
    n_nodes = top if n_nodes is None else n_nodes
    if src.size and (min(src.min(), dst.min()) < 0 or top > n_nodes):
        raise ValueError("node ids must be in [0, n_nodes)")
    # Both builds pack (neighbour, type) into one int64 key: a negative code
    # would set the neighbour's bits (the kernel's hub sort, and the NumPy build).
    if types.size and types.min() < 0:
        raise ValueError("type codes must be in [0, 2**31)")
    if not src.size:  # a new store's graph: no kernel (nor numba's import) needed
        return empty_adjacency(n_nodes)
    if src.size <= NUMPY_BUILD_UP_TO and not jit.loaded():
        rows, nbrs, out_types = _build_numpy(src, dst, types, n_nodes)
    else:
        rows, nbrs, out_types = _build(src, dst, types, n_nodes)
    return Adjacency(rows, nbrs, out_types, *_empty_delta(), np.zeros(DELTA_MASK_MIN, np.uint8))


NUMPY_BUILD_UP_TO = 100_000
"""Edges up to which :func:`from_edges` builds in NumPy while numba is not
loaded. A server's first answer after a start that rebuilt a small graph
(no saved state: one is saved from 10k entities and relations up) waited
0.7-1.1 s for numba's import and cache load; in NumPy 5k edges take 1.5 ms
and 100k 54 ms, but the sort grows faster than the edges (0.68 s at 500k,
where the compiled build takes 0.03 s), so larger graphs wait for the compiler."""


def _build_numpy(src: np.ndarray, dst: np.ndarray, types: np.ndarray,
                 n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`_build` in NumPy: the same three arrays, without compiling anything.

    Every edge is two half-edges, (owner, side, neighbour, type); sorted by
    owner, then side (out before in), then the packed (neighbour, type) key
    the kernel sorts each part by, repeats dropped, they are the rows' parts
    laid end to end.
    """
    m = src.shape[0]
    major = np.concatenate((src * 2, dst * 2 + 1))  # owner, then side
    minor = (np.concatenate((dst, src)) << 32) | np.concatenate((types, types)).astype(np.int64)
    order = np.lexsort((minor, major))
    major, minor = major[order], minor[order]
    keep = np.ones(2 * m, np.bool_)
    keep[1:] = (major[1:] != major[:-1]) | (minor[1:] != minor[:-1])
    major, minor = major[keep], minor[keep]
    counts = np.bincount(major, minlength=2 * n_rows).reshape(n_rows, 2)
    rows = np.zeros((n_rows + 1, 2), np.int64)
    rows[1:, 0] = np.cumsum(counts.sum(axis=1))
    rows[:n_rows, 1] = rows[:n_rows, 0] + counts[:, 0]
    rows[n_rows, 1] = rows[n_rows, 0]
    return rows, (minor >> 32).astype(np.int32), (minor & 0xFFFFFFFF).astype(np.int32)


def row_edges(adj: Adjacency, node: int, side: int) -> list[tuple[int, int]]:
    """The current (neighbour, type) pairs of ``node`` on ``side`` (OUT or IN), sorted."""
    found: list[tuple[int, int]] = []
    if node < adj.n_rows:
        lo = int(adj.rows[node, side])
        hi = int(adj.rows[node, 1] if side == OUT else adj.rows[node + 1, 0])
        found = list(zip(adj.nbrs[lo:hi].tolist(), adj.types[lo:hi].tolist()))
    touched = adj.touched
    if not touched[node & (touched.size - 1)]:
        return found  # no delta edge (the mask is exact for a clear slot); the snapshot part is sorted
    add_key, add_type, rem_key, rem_type = (adj[3:7] if side == OUT else adj[7:11])
    base = node << 32
    lo, hi = np.searchsorted(rem_key, [base, base + (1 << 32)])
    gone = {(int(k) & 0xFFFFFFFF, int(t)) for k, t in zip(rem_key[lo:hi], rem_type[lo:hi])}
    lo, hi = np.searchsorted(add_key, [base, base + (1 << 32)])
    added = [(int(k) & 0xFFFFFFFF, int(t)) for k, t in zip(add_key[lo:hi], add_type[lo:hi])]
    return sorted([e for e in found if e not in gone] + added)


def row_arrays(adj: Adjacency, node: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_edges` as two arrays (neighbours, types), sorted by (neighbour, type).

    The same edges without a Python tuple per edge: a hub's row (tens of
    thousands of edges at 1M entities) is sliced, filtered and counted in
    NumPy, so a caller that keeps only a few of them pays O(degree) in C, not
    in Python.

    Examples
    --------
    >>> a = from_edges([0, 0, 2], [1, 2, 0], [1, 0, 0])
    >>> [x.tolist() for x in row_arrays(a, 0, OUT)], [x.tolist() for x in row_arrays(a, 0, IN)]
    ([[1, 2], [1, 0]], [[2], [0]])
    """
    if node < adj.n_rows:
        lo = int(adj.rows[node, side])
        hi = int(adj.rows[node, 1] if side == OUT else adj.rows[node + 1, 0])
        nbrs, types = adj.nbrs[lo:hi].astype(np.int64), adj.types[lo:hi]
    else:
        nbrs, types = np.empty(0, np.int64), np.empty(0, np.int32)
    touched = adj.touched
    if not touched[node & (touched.size - 1)]:
        return nbrs, types  # no delta edge (the mask is exact for a clear slot); the snapshot part is sorted
    add_key, add_type, rem_key, rem_type = (adj[3:7] if side == OUT else adj[7:11])
    base = node << 32
    lo, hi = np.searchsorted(rem_key, [base, base + (1 << 32)])
    if hi > lo:
        # An edge is (neighbour, type): pack both into one int64 to test membership in one pass.
        packed = nbrs << 32 | types.astype(np.int64)
        gone = (rem_key[lo:hi] & 0xFFFFFFFF) << 32 | rem_type[lo:hi].astype(np.int64)
        keep = ~np.isin(packed, gone)
        nbrs, types = nbrs[keep], types[keep]
    lo, hi = np.searchsorted(add_key, [base, base + (1 << 32)])
    if hi > lo:
        nbrs = np.concatenate([nbrs, add_key[lo:hi] & 0xFFFFFFFF])
        types = np.concatenate([types, add_type[lo:hi].astype(np.int32)])
        order = np.lexsort((types, nbrs))
        nbrs, types = nbrs[order], types[order]
    return nbrs, types


def touched_mask(adj_keys: list[np.ndarray], size_hint: int, min_size: int = 0) -> np.ndarray:
    """The ``touched`` mask of the nodes in the given delta key arrays.

    Sized to a power of two of at least ``8 * size_hint`` slots so that few
    untouched nodes collide with a touched one, and at least ``min_size``:
    a mask of at least as many slots as there are nodes is exact (no node
    shares a slot), which suits a delta that stays (a time view's removals).
    """
    size = DELTA_MASK_MIN
    while size < max(8 * size_hint, min_size):
        size *= 2
    mask = np.zeros(size, np.uint8)
    for keys in adj_keys:
        if keys.size:
            mask[(keys >> 32) & (size - 1)] = 1
    return mask


def edge_lookup(adj: Adjacency, src: np.ndarray, dst: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Where each edge ``src[i] -[codes[i]]-> dst[i]`` is.

    0: absent; 1: in the snapshot; 2: in the added delta; 3: in the snapshot
    but removed. Present means 1 or 2.
    """
    src = np.ascontiguousarray(src, np.int64)
    dst = np.ascontiguousarray(dst, np.int64)
    codes = np.ascontiguousarray(codes, np.int32)
    where = np.empty(src.shape[0], np.int8)
    if src.shape[0]:
        _edge_lookup(adj, src, dst, codes, where)
    return where


def has_edges(adj: Adjacency, src, dst, codes) -> np.ndarray:
    """Whether each edge ``src[i] -[codes[i]]-> dst[i]`` currently exists.

    Examples
    --------
    >>> a = from_edges([0, 1], [1, 2], [0, 0])
    >>> has_edges(a, [0, 0, 1], [1, 2, 2], [0, 0, 1]).tolist()
    [True, False, False]
    """
    where = edge_lookup(adj, np.asarray(src), np.asarray(dst), np.asarray(codes))
    return (where == 1) | (where == 2)


def merge_delta(adj: Adjacency, n_rows: int) -> Adjacency:
    """A new snapshot with ``adj``'s delta folded in and ``n_rows`` rows (no delta).

    One sequential pass over the old snapshot, O(m + n + delta).

    Examples
    --------
    >>> a = from_edges([0, 1], [1, 2], [0, 0])
    >>> d = a._replace(out_add_key=np.array([2 << 32 | 0]), out_add_type=np.array([5], np.int32),
    ...                in_add_key=np.array([0 << 32 | 2]), in_add_type=np.array([5], np.int32),
    ...                out_rem_key=np.array([0 << 32 | 1]), out_rem_type=np.array([0], np.int32),
    ...                in_rem_key=np.array([1 << 32 | 0]), in_rem_type=np.array([0], np.int32))
    >>> m = merge_delta(d, 3)
    >>> [row_edges(m, u, OUT) for u in range(3)], m.snapshot_edges
    ([[], [(2, 0)], [(0, 5)]], 2)
    """
    if n_rows < adj.n_rows:
        raise ValueError("a snapshot never loses rows")
    rows, nbrs, types = _merge(adj, n_rows)
    return Adjacency(rows, nbrs, types, *_empty_delta(), np.zeros(DELTA_MASK_MIN, np.uint8))


def find_pairs(keys: np.ndarray, types: np.ndarray, qkeys: np.ndarray, qtypes: np.ndarray) -> np.ndarray:
    """Index of each (qkeys[i], qtypes[i]) in arrays sorted by (key, type), or -1.

    Examples
    --------
    >>> find_pairs(np.array([1, 1, 4]), np.array([0, 2, 0], np.int32), np.array([1, 4, 4]), np.array([2, 0, 1])).tolist()
    [1, 2, -1]
    """
    qkeys = np.ascontiguousarray(qkeys, np.int64)
    qtypes = np.ascontiguousarray(qtypes, np.int32)
    out = np.empty(qkeys.shape[0], np.int64)
    if qkeys.shape[0]:
        _find_pairs(keys, types, qkeys, qtypes, out)
    return out


def sort_pairs(keys: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys``/``types`` sorted by (key, type), duplicates dropped."""
    keys = np.asarray(keys, np.int64)
    types = np.asarray(types, np.int32)
    order = np.lexsort((types, keys))
    keys, types = keys[order], types[order]
    if keys.size > 1:
        keep = np.ones(keys.size, bool)
        keep[1:] = (keys[1:] != keys[:-1]) | (types[1:] != types[:-1])
        keys, types = keys[keep], types[keep]
    return keys, types


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted (what ``np.unique`` returns).

    A sort, then a mask of each value that differs from the one before it:
    NumPy 2.4's ``np.unique`` took 10.7 s over 10M int64 keys (it hashes
    before it sorts), this 0.23 s.

    Examples
    --------
    >>> sorted_unique(np.array([3, 1, 3, 2, 1])).tolist()
    [1, 2, 3]
    """
    out = np.sort(np.asarray(keys).ravel())
    if out.size > 1:
        keep = np.empty(out.size, bool)
        keep[0] = True
        np.not_equal(out[1:], out[:-1], out=keep[1:])
        out = out[keep]
    return out


def merge_sorted(k1: np.ndarray, t1: np.ndarray, k2: np.ndarray, t2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge two runs sorted by (key, type) into new arrays, O(n1 + n2).

    Examples
    --------
    >>> k, t = merge_sorted(np.array([1, 5]), np.array([0, 0], np.int32), np.array([1, 3]), np.array([1, 0], np.int32))
    >>> k.tolist(), t.tolist()
    ([1, 1, 3, 5], [0, 1, 0, 0])
    """
    return _merge_sorted(
        np.ascontiguousarray(k1, np.int64), np.ascontiguousarray(t1, np.int32),
        np.ascontiguousarray(k2, np.int64), np.ascontiguousarray(t2, np.int32),
    )  # fmt: skip


def merge_order(k1: np.ndarray, t1: np.ndarray, k2: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Where each row of two runs sorted by (key, type) goes in their merge:
    indices into the concatenation of the runs, O(n1 + n2) (ties: the first run first).

    Examples
    --------
    >>> merge_order(np.array([1, 5]), np.array([0, 0], np.int32), np.array([1, 3]), np.array([1, 0], np.int32)).tolist()
    [0, 2, 3, 1]
    """
    return _merge_order(
        np.ascontiguousarray(k1, np.int64), np.ascontiguousarray(t1, np.int32),
        np.ascontiguousarray(k2, np.int64), np.ascontiguousarray(t2, np.int32),
    )  # fmt: skip


def incident_edges(adj: Adjacency, nodes: np.ndarray) -> np.ndarray:
    """Every current edge with an end in ``nodes``, as (source, type, target)
    rows (an edge between two of them appears twice).

    Examples
    --------
    >>> a = from_edges([0, 1, 2], [1, 2, 0], [0, 0, 1])
    >>> incident_edges(a, np.array([1])).tolist()
    [[1, 0, 2], [0, 0, 1]]
    """
    nodes = np.ascontiguousarray(nodes, np.int64)
    if nodes.shape[0] == 0:
        return np.empty((0, 3), np.int64)
    if not jit.loaded():
        # The first answers of a process (an MCP server's first search_nodes)
        # would otherwise wait for numba's import and cache load (0.4-1 s of CPU).
        return _incident_numpy(adj, nodes)
    return _incident(adj, nodes)


def _incident_numpy(adj: Adjacency, nodes: np.ndarray) -> np.ndarray:
    """:func:`_incident` in NumPy: the same rows in the same order (per node in
    ``nodes`` order: its kept snapshot out-edges, added out-edges, kept
    snapshot in-edges, added in-edges), without compiling anything."""
    n_rows = adj.rows.shape[0] - 1
    inside = nodes < n_rows
    at = np.where(inside, nodes, 0)
    position = np.arange(nodes.shape[0], dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray]] = []  # (group, rows): group orders node, side, part
    for side in (OUT, IN):
        if side == OUT:
            add_key, add_type, rem_key, rem_type = adj.out_add_key, adj.out_add_type, adj.out_rem_key, adj.out_rem_type
            lo, hi = adj.rows[at, 0], adj.rows[at, 1]
        else:
            add_key, add_type, rem_key, rem_type = adj.in_add_key, adj.in_add_type, adj.in_rem_key, adj.in_rem_type
            lo, hi = adj.rows[at, 1], adj.rows[np.where(inside, at + 1, 0), 0]
        lo, hi = np.where(inside, lo, 0), np.where(inside, hi, 0)
        owner, where = _spans(lo, hi)
        u = nodes[owner]
        v = adj.nbrs[where].astype(np.int64)
        t = adj.types[where].astype(np.int64)
        if rem_key.shape[0] and where.shape[0]:
            keep = ~_pairs_in(rem_key, rem_type, (u << 32) | v, t)
            owner, u, v, t = owner[keep], u[keep], v[keep], t[keep]
        parts.append((position[owner] * 4 + 2 * side, _oriented(u, t, v, side)))
        if add_key.shape[0]:
            a = np.searchsorted(add_key, nodes << 32)
            a_end = np.searchsorted(add_key, (nodes + 1) << 32)
            owner, where = _spans(a, a_end)
            v = add_key[where] & 0xFFFFFFFF
            t = add_type[where].astype(np.int64)
            parts.append((position[owner] * 4 + 2 * side + 1, _oriented(nodes[owner], t, v, side)))
    group = np.concatenate([g for g, _ in parts])
    rows = np.concatenate([r for _, r in parts])
    return rows[np.argsort(group, kind="stable")]


def _spans(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the ranges ``[lo[i], hi[i])`` laid end to end: each position's range ``i``, and the position."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    where = np.arange(owner.shape[0], dtype=np.int64) - starts[owner] + lo[owner]
    return owner, where


def _pairs_in(keys: np.ndarray, types: np.ndarray, qkeys: np.ndarray, qtypes: np.ndarray) -> np.ndarray:
    """Whether each (qkey, qtype) is a pair of ``keys``/``types`` (sorted by key; removals are few)."""
    left = np.searchsorted(keys, qkeys, "left")
    right = np.searchsorted(keys, qkeys, "right")
    found = np.zeros(qkeys.shape[0], bool)
    for k in np.flatnonzero(right > left).tolist():
        found[k] = bool((types[left[k]:right[k]] == qtypes[k]).any())
    return found


def _oriented(u: np.ndarray, t: np.ndarray, v: np.ndarray, side: int) -> np.ndarray:
    """Rows (source, type, target) of edges of ``u`` to ``v`` on ``side``."""
    return np.stack([u, t, v] if side == OUT else [v, t, u], axis=1).astype(np.int64, copy=False).reshape(-1, 3)


# -- compiled helpers (also used by the path kernels) -----------------------------------


@njit(cache=True, nogil=True, inline="always")
def segment(adj, u, side):
    """[lo, hi) of node ``u``'s snapshot neighbours on ``side`` ((0, 0) past the snapshot)."""
    if u >= adj.rows.shape[0] - 1:
        return 0, 0
    if side == 0:
        return adj.rows[u, 0], adj.rows[u, 1]
    return adj.rows[u, 1], adj.rows[u + 1, 0]


@njit(cache=True, nogil=True, inline="always")
def delta_of(adj, side):
    """(add keys, add types, removed keys, removed types) of ``side``."""
    if side == 0:
        return adj.out_add_key, adj.out_add_type, adj.out_rem_key, adj.out_rem_type
    return adj.in_add_key, adj.in_add_type, adj.in_rem_key, adj.in_rem_type


@njit(cache=True, nogil=True, inline="always")
def is_touched(adj, u):
    return adj.touched[u & (adj.touched.shape[0] - 1)] != 0


@njit(cache=True, nogil=True)
def key_range(keys, node):
    """[lo, hi) of the keys of ``node`` in a sorted array of ``node << 32 | x`` keys."""
    base = np.int64(node) << 32
    return np.searchsorted(keys, base), np.searchsorted(keys, base + (np.int64(1) << 32))


@njit(cache=True, nogil=True, inline="always")
def removed(rem_key, rem_type, r, r_end, key, t):
    """Walk the removals [r, r_end) (sorted like the row) up to (key, t): (new r, whether it is removed)."""
    while r < r_end and (rem_key[r] < key or (rem_key[r] == key and rem_type[r] < t)):
        r += 1
    return r, r < r_end and rem_key[r] == key and rem_type[r] == t


@njit(cache=True, nogil=True)
def _build(src, dst, types, n_rows):
    m = src.shape[0]
    rows = np.zeros((n_rows + 1, 2), np.int64)
    out_deg = np.zeros(n_rows, np.int64)
    in_deg = np.zeros(n_rows, np.int64)
    for i in range(m):
        out_deg[src[i]] += 1
        in_deg[dst[i]] += 1
    start = 0
    for u in range(n_rows):
        rows[u, 0] = start
        rows[u, 1] = start + out_deg[u]
        start += out_deg[u] + in_deg[u]
    rows[n_rows, 0] = start
    rows[n_rows, 1] = start
    fill_out = rows[:n_rows, 0].copy()
    fill_in = rows[:n_rows, 1].copy()
    nbrs = np.empty(2 * m, np.int32)
    out_types = np.empty(2 * m, np.int32)
    for i in range(m):
        at = fill_out[src[i]]
        nbrs[at] = dst[i]
        out_types[at] = types[i]
        fill_out[src[i]] = at + 1
        at = fill_in[dst[i]]
        nbrs[at] = src[i]
        out_types[at] = types[i]
        fill_in[dst[i]] = at + 1
    repeats = False
    for u in range(n_rows):
        for side in range(2):
            lo = rows[u, side]
            hi = rows[u, 1] if side == 0 else rows[u + 1, 0]
            _sort_part(nbrs, out_types, lo, hi)
            for e in range(lo + 1, hi):
                if nbrs[e] == nbrs[e - 1] and out_types[e] == out_types[e - 1]:
                    repeats = True
    if repeats:
        # The store keeps one relation per (source, type, target), but a user
        # Cypher write can create a second one; the graph holds each once.
        return _dedupe(rows, nbrs, out_types)
    return rows, nbrs, out_types


@njit(cache=True, nogil=True)
def _dedupe(rows, nbrs, types):
    n_rows = rows.shape[0] - 1
    new_rows = np.zeros_like(rows)
    out = 0
    for u in range(n_rows):
        for side in range(2):
            new_rows[u, side] = out
            lo = rows[u, side]
            hi = rows[u, 1] if side == 0 else rows[u + 1, 0]
            for e in range(lo, hi):
                if e > lo and nbrs[e] == nbrs[e - 1] and types[e] == types[e - 1]:
                    continue
                nbrs[out] = nbrs[e]
                types[out] = types[e]
                out += 1
    new_rows[n_rows, 0] = out
    new_rows[n_rows, 1] = out
    return new_rows, nbrs[:out].copy(), types[:out].copy()


@njit(cache=True, nogil=True)
def _sort_part(nbrs, types, lo, hi):
    """Sort one row part by (neighbour, type): insertion sort for the usual
    short, nearly sorted parts, a sort of packed keys for long ones (hubs)."""
    n = hi - lo
    if n < 2:
        return
    if n <= 32:
        for i in range(lo + 1, hi):
            v = nbrs[i]
            t = types[i]
            j = i - 1
            while j >= lo and (nbrs[j] > v or (nbrs[j] == v and types[j] > t)):
                nbrs[j + 1] = nbrs[j]
                types[j + 1] = types[j]
                j -= 1
            nbrs[j + 1] = v
            types[j + 1] = t
        return
    keys = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = (np.int64(nbrs[lo + i]) << 32) | np.int64(types[lo + i])
    keys.sort()
    for i in range(n):
        nbrs[lo + i] = np.int32(keys[i] >> 32)
        types[lo + i] = np.int32(keys[i] & 0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _find_pair(keys, types, key, t):
    """Index of (key, t) in arrays sorted by (key, type), or -1."""
    i = np.searchsorted(keys, key)
    while i < keys.shape[0] and keys[i] == key:
        if types[i] == t:
            return i
        i += 1
    return -1


@njit(cache=True, nogil=True)
def _find_pairs(keys, types, qkeys, qtypes, out):
    for i in range(qkeys.shape[0]):
        out[i] = _find_pair(keys, types, qkeys[i], qtypes[i])


@njit(cache=True, nogil=True)
def _edge_lookup(adj, src, dst, codes, where):
    for i in range(src.shape[0]):
        key = (np.int64(src[i]) << 32) | np.int64(dst[i])
        if adj.out_add_key.shape[0] and _find_pair(adj.out_add_key, adj.out_add_type, key, codes[i]) >= 0:
            where[i] = 2
            continue
        where[i] = 0
        lo, hi = segment(adj, src[i], 0)
        e = lo + np.searchsorted(adj.nbrs[lo:hi], dst[i])
        while e < hi and adj.nbrs[e] == dst[i]:
            if adj.types[e] == codes[i]:
                where[i] = 1
                if adj.out_rem_key.shape[0] > 0 and _find_pair(adj.out_rem_key, adj.out_rem_type, key, codes[i]) >= 0:
                    where[i] = 3
                break
            e += 1


@njit(cache=True, nogil=True, inline="always")
def _merge_part(nbrs, types, lo, hi, add_key, add_type, a, rem_key, rem_type, d, node, new_nbrs, new_types, out):
    """Write one row part: the old part minus removals plus additions, in
    (neighbour, type) order. Returns the new cursors (a, d, out)."""
    base = np.int64(node) << 32
    end = base + (np.int64(1) << 32)
    for e in range(lo, hi):
        v = nbrs[e]
        t = types[e]
        key = base | np.int64(v)
        if d < rem_key.shape[0] and rem_key[d] < end:
            d, gone = removed(rem_key, rem_type, d, rem_key.shape[0], key, t)
            if gone:
                d += 1
                continue
        while a < add_key.shape[0] and add_key[a] < end and (add_key[a] < key or (add_key[a] == key
                                                                                  and add_type[a] < t)):
            new_nbrs[out] = np.int32(add_key[a] & 0xFFFFFFFF)
            new_types[out] = add_type[a]
            out += 1
            a += 1
        new_nbrs[out] = v
        new_types[out] = t
        out += 1
    while a < add_key.shape[0] and add_key[a] < end:
        new_nbrs[out] = np.int32(add_key[a] & 0xFFFFFFFF)
        new_types[out] = add_type[a]
        out += 1
        a += 1
    return a, d, out


@njit(cache=True, nogil=True)
def _merge(adj, n_rows):
    """One sequential pass: every new row part is the old one minus the
    removed edges, merged with the added ones (all sorted by neighbour, type).
    (Arrays are unpacked once: numba reference-counts an array taken from a
    tuple at each access, which made this pass ~4x slower.)"""
    rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, _ = adj
    old_rows = rows.shape[0] - 1
    total = nbrs.shape[0] + 2 * (oak.shape[0] - ork.shape[0])
    new_rows = np.zeros((n_rows + 1, 2), np.int64)
    new_nbrs = np.empty(total, np.int32)
    new_types = np.empty(total, np.int32)
    a_out, d_out, a_in, d_in = 0, 0, 0, 0
    out = 0
    for u in range(n_rows):
        lo, mid, hi = 0, 0, 0
        if u < old_rows:
            lo, mid, hi = rows[u, 0], rows[u, 1], rows[u + 1, 0]
        new_rows[u, 0] = out
        a_out, d_out, out = _merge_part(nbrs, types, lo, mid, oak, oat, a_out, ork, ort, d_out, u,
                                        new_nbrs, new_types, out)
        new_rows[u, 1] = out
        a_in, d_in, out = _merge_part(nbrs, types, mid, hi, iak, iat, a_in, irk, irt, d_in, u,
                                      new_nbrs, new_types, out)
    new_rows[n_rows, 0] = out
    new_rows[n_rows, 1] = out
    return new_rows, new_nbrs[:out], new_types[:out]


@njit(cache=True, nogil=True)
def _merge_sorted(k1, t1, k2, t2):
    n1 = k1.shape[0]
    n2 = k2.shape[0]
    keys = np.empty(n1 + n2, np.int64)
    types = np.empty(n1 + n2, np.int32)
    i = 0
    j = 0
    for o in range(n1 + n2):
        if j >= n2 or (i < n1 and (k1[i] < k2[j] or (k1[i] == k2[j] and t1[i] <= t2[j]))):
            keys[o] = k1[i]
            types[o] = t1[i]
            i += 1
        else:
            keys[o] = k2[j]
            types[o] = t2[j]
            j += 1
    return keys, types


@njit(cache=True, nogil=True)
def _merge_order(k1, t1, k2, t2):
    n1 = k1.shape[0]
    n2 = k2.shape[0]
    order = np.empty(n1 + n2, np.int64)
    i = 0
    j = 0
    for o in range(n1 + n2):
        if j >= n2 or (i < n1 and (k1[i] < k2[j] or (k1[i] == k2[j] and t1[i] <= t2[j]))):
            order[o] = i
            i += 1
        else:
            order[o] = n1 + j
            j += 1
    return order


@njit(cache=True, nogil=True)
def _incident(adj, nodes):
    """Rows (source, type, target) of the current edges of ``nodes``: per node
    its out-edges, then its in-edges, snapshot minus removals plus additions."""
    n = 0
    out = np.empty((64, 3), np.int64)
    for u in nodes:
        for side in range(2):
            add_key, add_type, rem_key, rem_type = delta_of(adj, side)
            lo, hi = segment(adj, u, side)
            r, r_end = 0, 0
            if rem_key.shape[0] > 0:
                r, r_end = key_range(rem_key, u)
            a, a_end = 0, 0
            if add_key.shape[0] > 0:
                a, a_end = key_range(add_key, u)
            if n + (hi - lo) + (a_end - a) > out.shape[0]:
                bigger = np.empty((2 * (n + (hi - lo) + (a_end - a)), 3), np.int64)
                bigger[:n] = out[:n]
                out = bigger
            base_key = np.int64(u) << 32
            for e in range(lo, hi):
                v = adj.nbrs[e]
                t = adj.types[e]
                if r < r_end:
                    r, gone = removed(rem_key, rem_type, r, r_end, base_key | np.int64(v), t)
                    if gone:
                        continue
                out[n, 0] = u if side == 0 else v
                out[n, 1] = t
                out[n, 2] = v if side == 0 else u
                n += 1
            for e in range(a, a_end):
                v = add_key[e] & 0xFFFFFFFF
                out[n, 0] = u if side == 0 else v
                out[n, 1] = add_type[e]
                out[n, 2] = v if side == 0 else u
                n += 1
    return out[:n].copy()
