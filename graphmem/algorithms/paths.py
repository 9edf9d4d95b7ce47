"""Path kernels over a CSR adjacency: shortest paths, k-hop reach, subgraphs.

Plain functions over explicit arrays, in the manner of networkx: each public
function validates its arguments and calls a compiled (numba) helper that
loops. The graph is one :class:`~graphmem.algorithms.csr.Adjacency` (both
directions of every node in one row, plus a delta overlay that every kernel
reads, so the newest edges are always seen).

Search state lives in a :class:`Workspace` of arrays reused from query to
query (see there: starting a search costs O(1), not O(nodes)). One workspace
per thread (:func:`workspace` gives the calling thread's); the kernels
release the GIL, so searches on several threads run in parallel.

``direction`` follows relations forwards (``"out"``: source to target),
backwards (``"in"``) or either way (``"both"``). ``allowed`` is ``None`` (every
relation type) or a boolean mask over type codes; a code beyond the mask is
not allowed, so a filter built before a new type appeared excludes it.
``n_nodes`` (one more than the largest node id, if the caller knows it)
saves a scan of the delta to size the workspace; ``ws`` defaults to the
calling thread's workspace.

Over 500 lines: the public path functions (shortest, all shortest, k-hop,
induced subgraph) and their compiled loops share private building blocks (the
workspace, the walk of the delta overlay, the level push, the masks); split,
those blocks would have to become public across modules.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInput
from ..validate import check_count, check_direction, check_positive_int
from .csr import Adjacency, delta_of, is_touched, key_range, removed, segment
from .jit import intrinsic, njit  # numba itself loads at the first kernel call

__all__ = [
    "DIRECTIONS",
    "IdPath",
    "ShortestPaths",
    "Reach",
    "Workspace",
    "workspace",
    "bidirectional_bfs",
    "shortest_lists",
    "all_shortest_paths",
    "k_hop",
    "induced_edges",
]

DIRECTIONS = {"out": 0, "in": 1, "both": 2}

_NO_LIMIT = -1
_FULL = -2  # _expand's "capacity reached" signal
_INT32_MAX = int(np.iinfo(np.int32).max)


@dataclass(frozen=True, slots=True)
class IdPath:
    """A path as entity ids: ``nodes[i] -codes[i]- nodes[i+1]``.

    ``along[i]`` is true when the relation points from ``nodes[i]`` to
    ``nodes[i + 1]`` (false: it was followed backwards). ``len`` is the hop count.
    """

    nodes: np.ndarray
    codes: np.ndarray
    along: np.ndarray

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def relations(self) -> list[tuple[int, int, int]]:
        """The relations used, as (source, type code, target) triples."""
        n, c, a = self.nodes.tolist(), self.codes.tolist(), self.along.tolist()
        return [(n[i], c[i], n[i + 1]) if a[i] else (n[i + 1], c[i], n[i]) for i in range(len(c))]


@dataclass(frozen=True, slots=True)
class ShortestPaths:
    """Some or all of the shortest paths between two nodes.

    ``truncated``: more shortest paths exist than ``paths`` holds.
    ``relations``: every relation on any shortest path, as (source, code,
    target) rows, whether or not its path was listed (what the answer depends on).
    """

    paths: tuple[IdPath, ...]
    truncated: bool
    relations: np.ndarray


@dataclass(frozen=True, slots=True)
class Reach:
    """The entities within some hops of seeds, in breadth-first order.

    ``hops[i]`` is the distance of ``nodes[i]`` from the nearest seed;
    ``parents[i]`` is the index in ``nodes`` of the node it was reached from
    and ``codes[i]``/``along[i]`` the relation it was reached by (-1 for
    seeds), so :meth:`path_to` rebuilds a shortest path from a seed.
    ``truncated`` is true when a node cap stopped the search early.
    """

    nodes: np.ndarray
    hops: np.ndarray
    parents: np.ndarray
    codes: np.ndarray
    along: np.ndarray
    truncated: bool
    _order: np.ndarray = field(repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.nodes.shape[0])

    def position(self, node: int) -> int:
        """Index of ``node`` in :attr:`nodes`, or -1."""
        at = int(np.searchsorted(self.nodes[self._order], node))
        if at < len(self._order) and self.nodes[self._order[at]] == node:
            return int(self._order[at])
        return -1

    def positions(self, nodes: np.ndarray) -> np.ndarray:
        """Index of each of ``nodes`` in :attr:`nodes` (-1 where not reached), in one pass.

        Examples
        --------
        >>> from graphmem.algorithms.csr import from_edges
        >>> r = k_hop(from_edges([0, 1], [1, 2], [0, 0]), [1], 1)
        >>> r.nodes.tolist(), r.positions(np.array([2, 1, 7])).tolist()
        ([1, 2, 0], [1, 0, -1])
        """
        return _positions(self.nodes, self._order, np.ascontiguousarray(nodes, np.int64))

    def paths_to(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Shortest paths from a seed to each of ``nodes``, flattened.

        Returns ``(offsets, path_nodes, path_codes, path_along)``: the path to
        ``nodes[i]`` visits ``path_nodes[offsets[i]:offsets[i + 1]]`` from its
        seed on (an empty run: not reached), ``path_codes[p]`` is the type of
        the relation between ``path_nodes[p - 1]`` and ``path_nodes[p]`` (-1 at
        each seed), as in :attr:`codes`, and ``path_along[p]`` whether it
        points from ``path_nodes[p - 1]`` to ``path_nodes[p]``, as in
        :attr:`along`. One compiled pass: tracing ten hits one by one in
        Python cost more than the search that found them.

        Examples
        --------
        >>> from graphmem.algorithms.csr import from_edges
        >>> r = k_hop(from_edges([0, 1], [1, 2], [5, 6]), [0], 2)
        >>> offsets, nodes, codes, along = r.paths_to(np.array([2, 9, 0]))
        >>> offsets.tolist(), nodes.tolist(), codes.tolist(), along[1:3].tolist()
        ([0, 3, 3, 4], [0, 1, 2, 0], [-1, 5, 6, -1], [True, True])
        """
        at = self.positions(nodes)
        return _trace(self.parents, self.codes, self.along, self.nodes, at)

    def path_to(self, node: int) -> IdPath | None:
        """A shortest path from a seed to ``node`` (``None`` if not reached)."""
        at = self.position(node)
        if at < 0:
            return None
        nodes, codes, along = [node], [], []
        while self.parents[at] >= 0:
            codes.append(int(self.codes[at]))
            along.append(bool(self.along[at]))
            at = int(self.parents[at])
            nodes.append(int(self.nodes[at]))
        return IdPath(np.array(nodes[::-1], np.int64), np.array(codes[::-1], np.int32), np.array(along[::-1], bool))


class Workspace:
    """Scratch arrays for the searches of one thread.

    A search stamps each node it reaches with ``base + its position in the
    search's queue``, where ``base`` is above every value an earlier search
    wrote: "reached in this search" is ``mark >= base``, so starting a search
    costs O(1), not O(nodes). ``marks[v, 0]`` is the forward search's mark,
    ``marks[v, 1]`` the backward one's, side by side, so a discovery that
    checks whether the other search got there first touches one cache line,
    not two (a BFS on a graph larger than the CPU cache pays per line it
    touches). Next to each queue, ``p_f``/``p_b`` hold the queue position of
    each entry's parent and ``e_f`` the relation (``code * 2 + along``, k-hop
    only): written in order, they cost no extra cache misses, and a path is
    traced by following positions, never by scanning a hub's row. Distances
    come from the level boundaries in the queue. 28 bytes per entity: ~28 MB
    per searching thread at 1M entities.
    """

    __slots__ = ("size", "stamp", "buf", "marks", "q_f", "q_b", "p_f", "p_b", "e_f")
    # The views _allocate sets by name, in one loop over the slots.
    q_f: np.ndarray
    q_b: np.ndarray
    p_f: np.ndarray
    p_b: np.ndarray
    e_f: np.ndarray

    def __init__(self) -> None:
        self._allocate(0)

    def _allocate(self, size: int) -> None:
        # One buffer, the arrays views of it: the shortest-path kernel takes
        # the buffer as one argument (numba's dispatch costs ~0.3 us per
        # array argument on every call, a tenth of a short search).
        self.buf = np.zeros(7 * size, np.int32)
        self.marks = self.buf[: 2 * size].reshape(size, 2)
        for i, name in enumerate(self.__slots__[4:]):
            setattr(self, name, self.buf[(2 + i) * size : (3 + i) * size])
        self.size = size
        self.stamp = 0

    def reserve(self, nodes: int) -> None:
        """Make room for node ids below ``nodes`` (grows by 25% to amortise)."""
        if nodes > self.size:
            self._allocate(max(nodes, self.size + self.size // 4 + 1024))

    def begin(self) -> int:
        """The base of a new search: above every mark written so far, with
        room for a queue of every node below the int32 limit."""
        if self.stamp + self.size + 2 >= _INT32_MAX:
            # Out of stamps (after ~2**31 / nodes reached, ~1M searches at 1M
            # entities when each reaches a few thousand): clear and restart.
            self.marks[:] = 0
            self.stamp = 0
        return self.stamp + 1

    def finish(self, base: int, used: int) -> None:
        """Record that the search from ``base`` wrote marks below ``base + used``."""
        self.stamp = max(self.stamp, base + used)


_local = threading.local()


def workspace() -> Workspace:
    """The calling thread's workspace (created on first use)."""
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = Workspace()
    return ws


# -- validation -----------------------------------------------------------------------


def _check(adj: Adjacency, direction: str, allowed: np.ndarray | None,
           max_hops: int | None, nodes: Sequence[int]) -> tuple[int, bool, np.ndarray, int]:
    check_direction(direction)
    check_count(max_hops, "max_hops", allow_none=True)
    for node in nodes:
        if node < 0:
            raise InvalidInput(f"node ids must be >= 0, not {node}")
    if not isinstance(adj, Adjacency):
        raise TypeError(f"adj must be an Adjacency, not {type(adj).__name__}")
    mask = _ALL if allowed is None else np.ascontiguousarray(allowed, np.uint8)
    return DIRECTIONS[direction], allowed is not None, mask, _NO_LIMIT if max_hops is None else int(max_hops)


_ALL = np.ones(1, np.uint8)  # placeholder mask when every type is allowed (never read)


def _prepare(ws: Workspace | None, adj: Adjacency, nodes: Sequence[int], n_nodes: int | None) -> Workspace:
    """The workspace, with room for every node id the search can meet (the
    kernels do not bounds-check: this is what keeps them in bounds)."""
    ws = workspace() if ws is None else ws
    rows = adj.rows.shape[0] - 1
    if n_nodes is None:
        n_nodes = max(rows, _delta_nodes(adj))
    elif n_nodes < rows:
        raise InvalidInput(f"n_nodes={n_nodes} is below the adjacency's {rows} rows")
    need = max(n_nodes, max(nodes) + 1) if len(nodes) else n_nodes
    if need > ws.size:  # the usual case is a no-op: skip the call
        ws.reserve(need)
    return ws


def _delta_nodes(adj: Adjacency) -> int:
    """One more than the highest node id in the delta (either end of a key)."""
    top = 0
    for keys in (adj.out_add_key, adj.out_rem_key):
        if keys.size:
            top = max(top, int(keys[-1] >> 32) + 1, int((keys & 0xFFFFFFFF).max()) + 1)
    return top


# -- public functions -----------------------------------------------------------------


def bidirectional_bfs(
    adj: Adjacency,
    src: int,
    dst: int,
    *,
    direction: str = "both",
    allowed: np.ndarray | None = None,
    max_hops: int | None = None,
    n_nodes: int | None = None,
    ws: Workspace | None = None,
) -> IdPath | None:
    """A shortest path from ``src`` to ``dst``, or ``None``.

    Breadth-first from both ends, one whole level at a time, growing the
    frontier that would scan fewer edges; the first node reached from both
    sides closes a shortest path (no path shorter than the two depths plus one
    exists when the frontiers have not met). ``max_hops`` bounds the length.

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1, 3], [1, 2, 2], [0, 1, 0])
    >>> p = bidirectional_bfs(adj, 0, 3)
    >>> p.nodes.tolist(), p.codes.tolist(), p.along.tolist()
    ([0, 1, 2, 3], [0, 1, 0], [True, True, False])
    >>> bidirectional_bfs(adj, 0, 3, direction="out") is None
    True
    >>> bidirectional_bfs(adj, 0, 3, max_hops=2) is None
    True
    """
    dirc, use_filter, mask, limit = _check(adj, direction, allowed, max_hops, (src, dst))
    if src == dst:
        return IdPath(np.array([src], np.int64), np.empty(0, np.int32), np.empty(0, bool))
    out = _search_shortest(adj, src, dst, dirc, use_filter, mask, limit, n_nodes, ws)
    hops = int(out[1])
    if hops < 0:
        return None
    return IdPath(out[2 : hops + 3], out[hops + 3 : 2 * hops + 3].astype(np.int32),
                  out[2 * hops + 3 :].astype(np.bool_))  # fmt: skip


def shortest_lists(
    adj: Adjacency,
    src: int,
    dst: int,
    *,
    direction: str = "both",
    allowed: np.ndarray | None = None,
    max_hops: int | None = None,
    n_nodes: int | None = None,
    ws: Workspace | None = None,
) -> tuple[list[int], list[int], list[bool]] | None:
    """:func:`bidirectional_bfs`'s path as plain lists ``(nodes, codes, along)``, or ``None``.

    The same search and the same path, for a caller that turns the ids into
    names at once: one ``tolist`` of the kernel's packed answer, where an
    :class:`IdPath` costs five array objects and three more conversions
    (together ~3 us of a ~40 us query, and more when the interleaved work
    of other code has evicted the interpreter's objects from the CPU caches).

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1, 3], [1, 2, 2], [0, 1, 0])
    >>> shortest_lists(adj, 0, 3)
    ([0, 1, 2, 3], [0, 1, 0], [True, True, False])
    >>> shortest_lists(adj, 0, 3, direction="out") is None
    True
    """
    dirc, use_filter, mask, limit = _check(adj, direction, allowed, max_hops, (src, dst))
    if src == dst:
        return [src], [], []
    values = _search_shortest(adj, src, dst, dirc, use_filter, mask, limit, n_nodes, ws).tolist()
    hops = values[1]
    if hops < 0:
        return None
    return values[2 : hops + 3], values[hops + 3 : 2 * hops + 3], [a == 1 for a in values[2 * hops + 3 :]]


def _search_shortest(adj: Adjacency, src: int, dst: int, dirc: int, use_filter: bool, mask: np.ndarray,
                     limit: int, n_nodes: int | None, ws: Workspace | None) -> np.ndarray:
    """Run :func:`_shortest` on checked arguments in a prepared workspace (its packed answer)."""
    ws = _prepare(ws, adj, (src, dst), n_nodes)
    base = ws.begin()
    used = ws.size
    try:
        # A plain tuple of the arrays, not the Adjacency: numba resolves a
        # named tuple's type on every call (~3 us more than a tuple's).
        out = _shortest(tuple(adj), src, dst, dirc, use_filter, mask, limit, base, ws.buf)
        used = int(out[0])
    finally:
        ws.finish(base, used)
    return out


def all_shortest_paths(
    adj: Adjacency,
    src: int,
    dst: int,
    *,
    direction: str = "both",
    allowed: np.ndarray | None = None,
    max_hops: int | None = None,
    limit: int = 100,
    n_nodes: int | None = None,
    ws: Workspace | None = None,
) -> ShortestPaths:
    """Up to ``limit`` distinct shortest paths from ``src`` to ``dst``.

    Paths are distinct as (nodes, type codes) sequences: two relations of one
    type between the same two entities, one each way, make one path when
    ``direction="both"``. The compiled part finds the shortest-path DAG
    (bidirectional BFS finishing the meeting level, then a walk from the
    meeting nodes one level at a time to each end); the paths are then
    enumerated from it depth-first, in order of (node id, type code), and stop
    at ``limit``.

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 0, 1, 2, 0], [1, 2, 3, 3, 1], [0, 0, 0, 0, 1])
    >>> found = all_shortest_paths(adj, 0, 3)
    >>> sorted((p.nodes.tolist(), p.codes.tolist()) for p in found.paths), found.truncated
    ([([0, 1, 3], [0, 0]), ([0, 1, 3], [1, 0]), ([0, 2, 3], [0, 0])], False)
    >>> all_shortest_paths(adj, 0, 3, limit=2).truncated
    True
    """
    dirc, use_filter, mask, hop_limit = _check(adj, direction, allowed, max_hops, (src, dst))
    check_positive_int(limit, "limit")
    if src == dst:
        zero = IdPath(np.array([src], np.int64), np.empty(0, np.int32), np.empty(0, bool))
        return ShortestPaths((zero,), False, np.empty((0, 3), np.int64))
    ws = _prepare(ws, adj, (src, dst), n_nodes)
    base = ws.begin()
    used = ws.size
    try:
        length, edges, used = _all_shortest(adj, src, dst, dirc, use_filter, mask, hop_limit, base,
                                            ws.marks, ws.q_f, ws.q_b, ws.p_f, ws.p_b)  # fmt: skip
    finally:
        ws.finish(base, used)
    if length < 0:
        return ShortestPaths((), False, np.empty((0, 3), np.int64))
    paths, truncated = _enumerate(edges, src, dst, length, limit)
    # DAG rows are (from, to, code, along) in path order; as relations: (source, code, target).
    fwd = edges[:, 3] == 1
    relations = np.where(fwd[:, None], edges[:, [0, 2, 1]], edges[:, [1, 2, 0]])
    return ShortestPaths(tuple(paths), truncated, np.unique(relations, axis=0) if len(relations) else relations)


def _enumerate(edges: np.ndarray, src: int, dst: int, length: int, limit: int) -> tuple[list[IdPath], bool]:
    """Depth-first enumeration of the DAG's src-to-dst paths (each has ``length`` hops)."""
    succ: dict[int, list[tuple[int, int]]] = {}
    along_of: dict[tuple[int, int, int], bool] = {}
    for a, b, code, along in sorted(set(map(tuple, edges.tolist()))):
        key = (a, b, code)
        if key not in along_of:
            succ.setdefault(a, []).append((b, code))
            along_of[key] = bool(along)
        elif along:
            along_of[key] = True  # both orientations exist: report the forward one
    found: list[IdPath] = []
    nodes, codes = [src], list[int]()
    stack = [iter(succ.get(src, ()))]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            nodes.pop()
            if codes:
                codes.pop()
            continue
        nodes.append(step[0])
        codes.append(step[1])
        if step[0] == dst and len(codes) == length:
            if len(found) == limit:
                return found, True
            along = [along_of[(nodes[i], nodes[i + 1], codes[i])] for i in range(length)]
            found.append(IdPath(np.array(nodes, np.int64), np.array(codes, np.int32), np.array(along, bool)))
            nodes.pop()
            codes.pop()
            continue
        stack.append(iter(succ.get(step[0], ())))
    return found, False


def k_hop(
    adj: Adjacency,
    seeds: Sequence[int] | np.ndarray,
    hops: int | None,
    *,
    direction: str = "both",
    allowed: np.ndarray | None = None,
    max_nodes: int | None = None,
    n_nodes: int | None = None,
    ws: Workspace | None = None,
) -> Reach:
    """The nodes within ``hops`` (``None``: any distance) of any seed, with
    their distances, breadth-first.

    Seeds come first (distance 0). ``max_nodes`` caps the result (nearest
    first) and sets ``truncated`` when it cut something off.

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1, 2], [1, 2, 3], [0, 0, 0])
    >>> r = k_hop(adj, [1], 1)
    >>> sorted(zip(r.nodes.tolist(), r.hops.tolist()))
    [(0, 1), (1, 0), (2, 1)]
    >>> k_hop(adj, [0], 3, direction="out").path_to(3).nodes.tolist()
    [0, 1, 2, 3]
    """
    seed_arr = np.asarray(seeds, np.int64)
    if seed_arr.ndim != 1:
        seed_arr = seed_arr.reshape(-1)
    if seed_arr.shape[0] > 1:
        seed_arr = np.unique(seed_arr)
    dirc, use_filter, mask, limit = _check(adj, direction, allowed, hops, seed_arr.tolist())
    check_positive_int(max_nodes, "max_nodes", allow_none=True)
    ws = _prepare(ws, adj, seed_arr.tolist(), n_nodes)
    cap = ws.size if max_nodes is None else min(int(max_nodes), ws.size)
    base = ws.begin()
    used = ws.size
    try:
        # The arrays as a plain tuple and the workspace as its one buffer, as
        # for the shortest path: numba types a named tuple anew on every call.
        count, truncated, wide, narrow, along = _reach_packed(tuple(adj), seed_arr, dirc, use_filter, mask, limit,
                                                              cap, base, ws.buf)  # fmt: skip
        used = count
    finally:
        ws.finish(base, used)
    return Reach(nodes=wide[:count], hops=narrow[:count], parents=wide[count : 2 * count], codes=narrow[count:],
                 along=along, truncated=bool(truncated), _order=wide[2 * count :])  # fmt: skip


@njit(cache=True, nogil=True)
def _reach_packed(arrays, seeds, dirc, use_filter, allowed, max_hops, cap, base, buf):
    """:func:`_reach` in the workspace buffer ``buf``, then :func:`_reach_arrays`
    in the same call. Returns (count, truncated, the int64 arrays nodes,
    parents and order end to end, the int32 arrays hops and codes end to
    end, along): three arrays to hand back to Python, not seven (each costs
    numba ~1 us to box), and one dispatch, not two."""
    n = buf.shape[0] // 7
    marks = buf[: 2 * n].reshape((n, 2))
    queue = buf[2 * n : 3 * n]
    pq = buf[4 * n : 5 * n]
    eq = buf[6 * n : 7 * n]
    count, truncated, levels = _reach(arrays, seeds, dirc, use_filter, allowed, max_hops, cap, base, marks, queue,
                                      pq, eq)  # fmt: skip
    # One compiled pass copies the queue out of the (reused) workspace: with
    # numpy's seven array operations this cost more than the BFS itself on a
    # neighbourhood of a hundred nodes.
    nodes, hops, parents, codes, along, order = _reach_arrays(queue, pq, eq, levels, count)
    wide = np.empty(3 * count, np.int64)
    wide[:count] = nodes
    wide[count : 2 * count] = parents
    wide[2 * count :] = order
    narrow = np.empty(2 * count, np.int32)
    narrow[:count] = hops
    narrow[count:] = codes
    return count, truncated, wide, narrow, along


@njit(cache=True, nogil=True)
def _positions(nodes, order, wanted):
    found = np.full(wanted.shape[0], -1, np.int64)
    n = order.shape[0]
    for i in range(wanted.shape[0]):
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            if nodes[order[mid]] < wanted[i]:
                lo = mid + 1
            else:
                hi = mid
        if lo < n and nodes[order[lo]] == wanted[i]:
            found[i] = order[lo]
    return found


@njit(cache=True, nogil=True)
def _trace(parents, codes, along, nodes, at):
    k = at.shape[0]
    offsets = np.zeros(k + 1, np.int64)
    for i in range(k):
        length = 0
        j = at[i]
        while j >= 0:
            length += 1
            j = parents[j]
        offsets[i + 1] = offsets[i] + length
    out_nodes = np.empty(offsets[k], np.int64)
    out_codes = np.empty(offsets[k], np.int32)
    out_along = np.empty(offsets[k], np.bool_)
    for i in range(k):
        j = at[i]
        pos = offsets[i + 1] - 1
        while j >= 0:
            out_nodes[pos] = nodes[j]
            out_codes[pos] = codes[j]
            out_along[pos] = along[j]
            pos -= 1
            j = parents[j]
    return offsets, out_nodes, out_codes, out_along


@njit(cache=True, nogil=True)
def _reach_arrays(queue, pq, eq, levels, count):
    """:class:`Reach`'s arrays from the first ``count`` queue entries of a
    :func:`_reach` (level starts ``levels``)."""
    nodes = np.empty(count, np.int64)
    hops = np.empty(count, np.int32)
    parents = np.empty(count, np.int64)
    codes = np.empty(count, np.int32)
    along = np.empty(count, np.bool_)
    level = 0
    for i in range(count):
        while level + 1 < levels.shape[0] and levels[level + 1] <= i:
            level += 1
        nodes[i] = queue[i]
        hops[i] = level
        parents[i] = pq[i]
        if pq[i] < 0:
            codes[i] = -1
            along[i] = False
        else:
            codes[i] = eq[i] >> 1
            along[i] = (eq[i] & 1) == 1
    return nodes, hops, parents, codes, along, np.argsort(nodes, kind="mergesort")


def induced_edges(
    adj: Adjacency,
    nodes: Sequence[int] | np.ndarray,
    *,
    allowed: np.ndarray | None = None,
    max_edges: int | None = None,
    n_nodes: int | None = None,
    ws: Workspace | None = None,
) -> tuple[np.ndarray, bool]:
    """The edges between ``nodes`` as a (k, 3) array of (source, code, target), and whether capped.

    Ordered by the position of the source in ``nodes`` (repeats ignored), then
    target and type; ``max_edges`` keeps the first edges in that order, so
    listing nodes nearest first keeps the nearest edges.

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1, 2], [1, 2, 3], [0, 0, 0])
    >>> edges, capped = induced_edges(adj, [0, 1, 2])
    >>> edges.tolist(), capped
    ([[0, 0, 1], [1, 0, 2]], False)
    """
    node_arr = np.asarray(nodes, np.int64).ravel()
    _, first = np.unique(node_arr, return_index=True)
    node_arr = node_arr[np.sort(first)]
    if node_arr.size and node_arr.min() < 0:
        raise InvalidInput("node ids must be >= 0")
    check_count(max_edges, "max_edges", allow_none=True)
    mask = _ALL if allowed is None else np.ascontiguousarray(allowed, np.uint8)
    ws = _prepare(ws, adj, node_arr.tolist(), n_nodes)
    cap = -1 if max_edges is None else int(max_edges)
    base = ws.begin()
    try:
        edges, truncated = _induced(adj, node_arr, allowed is not None, mask, cap, base, ws.marks)
    finally:
        ws.finish(base, 1)
    return edges, bool(truncated)


# -- compiled helpers -----------------------------------------------------------------


def _no_prefetch(arr: np.ndarray, idx: int) -> None:
    """:func:`_prefetch` run as Python (:func:`graphmem.algorithms.jit.python_form`):
    a hint only, which Python has no way to give."""


@intrinsic(python=_no_prefetch)
def _prefetch(typingctx, arr, idx):
    """Ask the CPU to start loading ``arr[idx]`` (1-D) into its caches: LLVM's
    ``prefetch`` (read, high locality), a hint that never faults or changes a
    result. numba has no such function."""
    # Run by numba while it types a kernel: numba is loaded by then.
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils

    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        arr_type, idx_type = signature.args
        array, index = args
        index = context.cast(builder, index, idx_type, types.intp)
        data = context.make_array(arr_type)(context, builder, array)
        ptr = cgutils.get_item_pointer(context, builder, arr_type, data, [index], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


_AHEAD_ROW = 4
_AHEAD_MARKS = 2


@njit(cache=True, nogil=True, inline="always")
def _prefetch_ahead(rows, nbrs, flat_marks, queue, i, hi):
    """While node ``queue[i]`` is expanded, start loading what the next ones
    need: the neighbour list of the node 4 places ahead, and the marks of the
    neighbours of the node 2 places ahead (its list arrived meanwhile). A BFS
    on a graph larger than the cache waits on memory for every neighbour;
    overlapping those waits was measured ~1.8x faster on 1M nodes / 5M edges."""
    n_rows = rows.shape[0] - 1
    if i + _AHEAD_ROW < hi:
        w = queue[i + _AHEAD_ROW]
        if w < n_rows:
            _prefetch(nbrs, rows[w, 0])  # type: ignore[call-arg]  # an intrinsic: numba supplies typingctx
    if i + _AHEAD_MARKS < hi:
        w = queue[i + _AHEAD_MARKS]
        if w < n_rows:
            for e in range(rows[w, 0], rows[w + 1, 0]):
                _prefetch(flat_marks, 2 * nbrs[e])  # type: ignore[call-arg]  # an intrinsic: numba supplies typingctx


@njit(cache=True, nogil=True, inline="always")
def _allowed(use_filter, allowed, t):
    return not use_filter or (t < allowed.shape[0] and allowed[t] != 0)


@njit(cache=True, nogil=True, inline="always")
def _expand(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask, u, upos, use_out, use_in,
            use_filter, allowed, marks, own, base, queue, pq, eq, tail, cap, obase, record, stop):
    """Discover the neighbours of ``u`` (at queue position ``upos``): its
    out-relations if ``use_out``, its in-relations if ``use_in``, snapshot
    minus removed plus added; those not yet reached by search ``own`` (a
    column of ``marks``) are marked ``base + position`` and queued with their
    parent's position (with ``record``, also ``code * 2 + along``). Returns
    (new tail, the first of them the other search reached (``marks[v, 1 -
    own] >= obase``) or -1; _FULL once the queue holds ``cap``, if ``cap >=
    0``). With ``stop`` it returns at that first meeting (the rest of a hub's
    row can be thousands of edges).

    The arrays come one by one, not as the Adjacency tuple: numba
    reference-counts an array taken from a tuple at each access, which in
    this loop cost ~15% of a search. A node without delta edges (nearly all)
    is one loop over one contiguous run of its row: splitting the row in two
    loops was measured ~17% slower."""
    meet = -1
    oth = 1 - own
    if tmask[u & (tmask.shape[0] - 1)] == 0:
        if u < rows.shape[0] - 1:
            mid = rows[u, 1]
            lo = rows[u, 0] if use_out else mid
            hi = rows[u + 1, 0] if use_in else mid
            for e in range(lo, hi):
                v = nbrs[e]
                if marks[v, own] >= base:
                    continue  # already reached: the common case, decided on one read
                t = 0
                if use_filter or record:
                    t = types[e]
                    if not _allowed(use_filter, allowed, t):
                        continue
                if cap >= 0 and tail >= cap:
                    return tail, _FULL
                marks[v, own] = base + tail
                queue[tail] = v
                pq[tail] = upos
                if record:
                    # Forwards an out-relation points along the path; backwards an in-relation does.
                    eq[tail] = t * 2 + ((e < mid) == (own == 0))
                tail += 1
                if meet == -1 and marks[v, oth] >= obase:
                    meet = v
                    if stop:
                        return tail, meet
        return tail, meet
    # Delta edges: out of line, so the hot loop above stays small (inlining
    # this path too was measured ~15% slower on every search: register pressure).
    return _expand_delta(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, u, upos, use_out, use_in,
                         use_filter, allowed, marks, own, base, queue, pq, eq, tail, cap, obase, record, stop)


@njit(cache=True, nogil=True)
def _expand_delta(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, u, upos, use_out, use_in,
                  use_filter, allowed, marks, own, base, queue, pq, eq, tail, cap, obase, record, stop):
    """:func:`_expand` for a node that may have delta edges: each side of its
    row with the removals walked alongside, then its added edges."""
    meet = -1
    oth = 1 - own
    for side in range(2):
        if (side == 0 and not use_out) or (side == 1 and not use_in):
            continue
        add_key, add_type, rem_key, rem_type = (oak, oat, ork, ort) if side == 0 else (iak, iat, irk, irt)
        along = 1 if (side == 0) == (own == 0) else 0
        lo, hi = 0, 0
        if u < rows.shape[0] - 1:
            lo = rows[u, side]
            hi = rows[u, 1] if side == 0 else rows[u + 1, 0]
        r, r_end = 0, 0
        if rem_key.shape[0] > 0:
            r, r_end = key_range(rem_key, u)
        base_key = np.int64(u) << 32
        for e in range(lo, hi):
            v = nbrs[e]
            if marks[v, own] >= base:
                continue
            t = types[e]
            if not _allowed(use_filter, allowed, t):
                continue
            if r < r_end:
                # Row and removals are both sorted by (neighbour, type): walk them together.
                r, gone = removed(rem_key, rem_type, r, r_end, base_key | np.int64(v), t)
                if gone:
                    continue
            if cap >= 0 and tail >= cap:
                return tail, _FULL
            marks[v, own] = base + tail
            queue[tail] = v
            pq[tail] = upos
            if record:
                eq[tail] = t * 2 + along
            tail += 1
            if meet == -1 and marks[v, oth] >= obase:
                meet = v
                if stop:
                    return tail, meet
        if add_key.shape[0] > 0:
            a, a_end = key_range(add_key, u)
            for e in range(a, a_end):
                v = np.int32(add_key[e] & 0xFFFFFFFF)
                t = add_type[e]
                if marks[v, own] >= base or not _allowed(use_filter, allowed, t):
                    continue
                if cap >= 0 and tail >= cap:
                    return tail, _FULL
                marks[v, own] = base + tail
                queue[tail] = v
                pq[tail] = upos
                if record:
                    eq[tail] = t * 2 + along
                tail += 1
                if meet == -1 and marks[v, oth] >= obase:
                    meet = int(v)  # an int like the -1 it replaces (v is np.int32 here)
                    if stop:
                        return tail, meet
    return tail, meet


@njit(cache=True, nogil=True, inline="always")
def _work(rows, use_out, use_in, queue, lo, hi, limit):
    """Snapshot edges (plus nodes) a frontier would scan; stops once past
    ``limit`` if ``limit >= 0`` (the answer is then only "more than limit")."""
    total = hi - lo
    n_rows = rows.shape[0] - 1
    for i in range(lo, hi):
        u = queue[i]
        if u < n_rows:
            if use_out and use_in:
                total += rows[u + 1, 0] - rows[u, 0]
            elif use_out:
                total += rows[u, 1] - rows[u, 0]
            else:
                total += rows[u + 1, 0] - rows[u, 1]
        if 0 <= limit < total:
            break
    return total


@njit(cache=True, nogil=True, inline="always")
def _level_push(levels, depth, tail):
    """levels[depth + 2] = tail (the end of level depth + 1), growing ``levels``."""
    if depth + 2 >= levels.shape[0]:
        bigger = np.empty(2 * levels.shape[0], np.int64)
        bigger[: levels.shape[0]] = levels
        levels = bigger
    levels[depth + 2] = tail
    return levels


@njit(cache=True, nogil=True)
def _bidir(adj, src, dst, dirc, use_filter, allowed, max_hops, collect, base, marks, q_f, q_b, p_f, p_b):
    """Bidirectional level-synchronous BFS.

    Returns (length or -1, meeting node, side that found it (0 forward, 1
    backward), [lo, hi) of the meeting level in that side's queue, queue
    entries used, level starts of the forward and of the backward queue
    (``lv[k]`` is where level k starts), and the depth of each search (its
    deepest complete level; the meeting level is one deeper on the side that
    found it). With ``collect`` the meeting level is finished, so every
    meeting node is in it.
    """
    rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask = adj
    flat_marks = marks.reshape(-1)  # a view: marks[v, side] is flat_marks[2 * v + side]
    cap = -1  # queues hold every node: no cap check in the loop
    marks[src, 0] = base
    q_f[0] = src
    p_f[0] = -1
    marks[dst, 1] = base
    q_b[0] = dst
    p_b[0] = -1
    lv_f = np.zeros(16, np.int64)
    lv_b = np.zeros(16, np.int64)
    lv_f[1] = 1
    lv_b[1] = 1
    f_lo, f_hi, b_lo, b_hi = 0, 1, 0, 1
    depth_f, depth_b = 0, 0
    fwd_out = dirc != 1  # the forward search follows out-edges
    fwd_in = dirc != 0
    while f_lo < f_hi and b_lo < b_hi:
        if max_hops >= 0 and depth_f + depth_b >= max_hops:
            break
        meet = -1
        # Grow the side that would scan fewer edges, not the one with fewer
        # nodes (on a power-law graph one hub makes a one-node frontier the
        # costly one). The larger frontier's row bounds are read only until
        # its sum passes the smaller's: reading them all was measured to cost
        # ~25% of a search on a random graph, where it is rarely chosen.
        if f_hi - f_lo <= b_hi - b_lo:
            small = _work(rows, fwd_out, fwd_in, q_f, f_lo, f_hi, -1)
            forward = small <= _work(rows, fwd_in, fwd_out, q_b, b_lo, b_hi, small)
        else:
            small = _work(rows, fwd_in, fwd_out, q_b, b_lo, b_hi, -1)
            forward = _work(rows, fwd_out, fwd_in, q_f, f_lo, f_hi, small) < small
        if forward:
            tail = f_hi
            for i in range(f_lo, f_hi):
                _prefetch_ahead(rows, nbrs, flat_marks, q_f, i, f_hi)
                tail, m = _expand(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask, q_f[i], i,
                                  fwd_out, fwd_in, use_filter, allowed, marks, 0, base, q_f, p_f, p_f, tail, cap,
                                  base, False, not collect)
                if m >= 0 and meet < 0:
                    meet = m
                    if not collect:
                        break
            lv_f = _level_push(lv_f, depth_f, tail)
            if meet >= 0:
                return depth_f + 1 + depth_b, meet, 0, f_hi, tail, max(tail, b_hi), lv_f, lv_b, depth_f, depth_b
            f_lo, f_hi = f_hi, tail
            depth_f += 1
        else:
            tail = b_hi
            for i in range(b_lo, b_hi):
                _prefetch_ahead(rows, nbrs, flat_marks, q_b, i, b_hi)
                # Backwards the search follows in-relations where forwards it follows out-relations.
                tail, m = _expand(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask, q_b[i], i,
                                  fwd_in, fwd_out, use_filter, allowed, marks, 1, base, q_b, p_b, p_b, tail, cap,
                                  base, False, not collect)
                if m >= 0 and meet < 0:
                    meet = m
                    if not collect:
                        break
            lv_b = _level_push(lv_b, depth_b, tail)
            if meet >= 0:
                return depth_f + depth_b + 1, meet, 1, b_hi, tail, max(tail, f_hi), lv_f, lv_b, depth_f, depth_b
            b_lo, b_hi = b_hi, tail
            depth_b += 1
    return -1, -1, 0, 0, 0, max(f_hi, b_hi), lv_f, lv_b, depth_f, depth_b


@njit(cache=True, nogil=True)
def _edge_type(adj, u, v, side, use_filter, allowed):
    """The type of a current edge from ``u`` to neighbour ``v`` on ``u``'s
    ``side`` that the filter allows, or -1 (a binary search in u's row part:
    cheap even when u is a hub)."""
    add_key, add_type, rem_key, rem_type = delta_of(adj, side)
    touched = is_touched(adj, u)
    key = (np.int64(u) << 32) | np.int64(v)
    lo, hi = segment(adj, u, side)
    e = lo + np.searchsorted(adj.nbrs[lo:hi], v)
    while e < hi and adj.nbrs[e] == v:
        t = adj.types[e]
        if _allowed(use_filter, allowed, t):
            gone = False
            if touched and rem_key.shape[0] > 0:
                r = np.searchsorted(rem_key, key)
                while r < rem_key.shape[0] and rem_key[r] == key:
                    if rem_type[r] == t:
                        gone = True
                    r += 1
            if not gone:
                return t
        e += 1
    if touched and add_key.shape[0] > 0:
        a = np.searchsorted(add_key, key)
        while a < add_key.shape[0] and add_key[a] == key:
            if _allowed(use_filter, allowed, add_type[a]):
                return add_type[a]
            a += 1
    return -1


@njit(cache=True, nogil=True, inline="always")
def _hop(adj, u, v, forward, fwd_out, fwd_in, use_filter, allowed):
    """(type, along) of the relation the search followed from u to v.
    Forwards: u's out-edge (u -> v, along the path u, v) or u's in-edge. Backwards
    (u nearer the target, path v, u): u's in-edge (v -> u, along) or u's out-edge."""
    t = -1
    along = 0
    first = 0 if forward else 1
    if fwd_out:
        t = _edge_type(adj, u, v, first, use_filter, allowed)
        along = 1
    if t < 0 and fwd_in:
        t = _edge_type(adj, u, v, 1 - first, use_filter, allowed)
        along = 0
    return t, along


@njit(cache=True, nogil=True)
def _shortest(arrays, src, dst, dirc, use_filter, allowed, max_hops, base, buf):
    """Search, then trace the path through the meeting node along the parent
    positions to each end. ``arrays``: the Adjacency's arrays as a plain
    tuple; ``buf``: a :class:`Workspace`'s buffer. Returns one int64 array
    (one object for numba to hand back, not four): queue entries used, the
    hop count k (-1: no path), then the k + 1 nodes, the k type codes and the
    k ``along`` flags."""
    adj = Adjacency(*arrays)
    n = buf.shape[0] // 7
    marks = buf[: 2 * n].reshape((n, 2))
    q_f = buf[2 * n : 3 * n]
    q_b = buf[3 * n : 4 * n]
    p_f = buf[4 * n : 5 * n]
    p_b = buf[5 * n : 6 * n]
    length, meet, _, _, _, used, _, _, _, _ = _bidir(adj, src, dst, dirc, use_filter, allowed, max_hops, False,
                                                     base, marks, q_f, q_b, p_f, p_b)
    if length < 0:
        out = np.empty(2, np.int64)
        out[0] = used
        out[1] = -1
        return out
    fwd_out = dirc != 1
    fwd_in = dirc != 0
    out = np.zeros(3 * length + 3, np.int64)
    out[0] = used
    out[1] = length
    nodes = out[2 : length + 3]
    codes = out[length + 3 : 2 * length + 3]
    along = out[2 * length + 3 :]
    # From the meeting node back to the source: count the hops first.
    hops_f = 0
    at = marks[meet, 0] - base
    while p_f[at] >= 0:
        at = p_f[at]
        hops_f += 1
    at = marks[meet, 0] - base
    k = hops_f
    nodes[k] = meet
    while k > 0:
        parent = p_f[at]
        u, v = q_f[parent], q_f[at]
        codes[k - 1], along[k - 1] = _hop(adj, u, v, True, fwd_out, fwd_in, use_filter, allowed)
        nodes[k - 1] = u
        at = parent
        k -= 1
    # From the meeting node on to the target.
    at = marks[meet, 1] - base
    k = hops_f
    while p_b[at] >= 0:
        parent = p_b[at]
        u, v = q_b[parent], q_b[at]  # u is nearer the target: the path goes v, u
        codes[k], along[k] = _hop(adj, u, v, False, fwd_out, fwd_in, use_filter, allowed)
        nodes[k + 1] = u
        at = parent
        k += 1
    return out


@njit(cache=True, nogil=True)
def _push(buf, n, a, b, c, d):
    if n == buf.shape[0]:
        bigger = np.empty((2 * n, 4), np.int64)
        bigger[:n] = buf
        buf = bigger
    buf[n, 0] = a
    buf[n, 1] = b
    buf[n, 2] = c
    buf[n, 3] = d
    return buf


@njit(cache=True, nogil=True)
def _dag_step(adj, x, side, toward, use_filter, allowed, marks, col, lo_pos, hi_pos, along, buf, n, nxt, n_next):
    """Neighbours y of x on ``side`` whose position in search ``col``'s queue
    is in [lo_pos, hi_pos) (the level one nearer its root): the DAG edges x-y
    (emitted in path order), with y appended to ``nxt``."""
    add_key, add_type, rem_key, rem_type = delta_of(adj, side)
    touched = is_touched(adj, x)
    lo, hi = segment(adj, x, side)
    r, r_end = 0, 0
    if touched and rem_key.shape[0] > 0:
        r, r_end = key_range(rem_key, x)
    base_key = np.int64(x) << 32
    for e in range(lo, hi):
        y = adj.nbrs[e]
        t = adj.types[e]
        if marks[y, col] < lo_pos or marks[y, col] >= hi_pos or not _allowed(use_filter, allowed, t):
            continue
        if r < r_end:
            r, gone = removed(rem_key, rem_type, r, r_end, base_key | np.int64(y), t)
            if gone:
                continue
        buf = _push(buf, n, y if toward == 0 else x, x if toward == 0 else y, t, along)
        n += 1
        nxt = _append(nxt, n_next, y)
        n_next += 1
    if touched and add_key.shape[0] > 0:
        a, a_end = key_range(add_key, x)
        for e in range(a, a_end):
            y = np.int32(add_key[e] & 0xFFFFFFFF)
            t = add_type[e]
            if marks[y, col] < lo_pos or marks[y, col] >= hi_pos or not _allowed(use_filter, allowed, t):
                continue
            buf = _push(buf, n, y if toward == 0 else x, x if toward == 0 else y, t, along)
            n += 1
            nxt = _append(nxt, n_next, y)
            n_next += 1
    return buf, n, nxt, n_next


@njit(cache=True, nogil=True, inline="always")
def _append(arr, n, value):
    if n == arr.shape[0]:
        bigger = np.empty(2 * n, arr.dtype)
        bigger[:n] = arr
        arr = bigger
    arr[n] = value
    return arr


@njit(cache=True, nogil=True)
def _all_shortest(adj, src, dst, dirc, use_filter, allowed, max_hops, base, marks, q_f, q_b, p_f, p_b):
    """The edges (from, to, code, along) of every shortest path: a BFS that
    finishes its meeting level, then a walk from the meeting nodes one level
    at a time back to the source and on to the target (a node's level is
    where its queue position falls among the level starts). Returns (length
    or -1, edges, queue entries used)."""
    buf = np.empty((64, 4), np.int64)
    length, _, side, lo, hi, used, lv_f, lv_b, depth_f, depth_b = _bidir(
        adj, src, dst, dirc, use_filter, allowed, max_hops, True, base, marks, q_f, q_b, p_f, p_b)
    if length < 0:
        return length, buf[:0], used
    level = q_f[lo:hi] if side == 0 else q_b[lo:hi]
    meets = np.empty(level.shape[0], np.int32)
    n_meets = 0
    for v in level:
        if marks[v, 1 - side] >= base:
            meets[n_meets] = v
            n_meets += 1
    n = 0
    fwd_out = dirc != 1
    fwd_in = dirc != 0
    for toward in range(2):  # 0: back to the source, 1: on to the target
        col = toward
        lvc = lv_f if col == 0 else lv_b
        cur = meets[:n_meets].copy()
        # Every meeting node sits on one level of each search: one below the
        # deepest complete level on the side that found them, that level on
        # the other (see bidirectional_bfs).
        if col == 0:
            d = depth_f + 1 if side == 0 else depth_f
        else:
            d = depth_b + 1 if side == 1 else depth_b
        while d > 0:
            lo_pos, hi_pos = base + lvc[d - 1], base + lvc[d]
            nxt = np.empty(16, np.int32)
            n_next = 0
            for x in cur:
                # Forwards, x was reached from y by y's out-edge (y -> x: x's in-side, along) or
                # y's in-edge (x -> y: x's out-side, against); backwards, by y's in-edge (x -> y:
                # x's out-side, along) or y's out-edge (y -> x: x's in-side, against).
                if fwd_out:
                    buf, n, nxt, n_next = _dag_step(adj, x, 1 - toward, toward, use_filter, allowed, marks, col,
                                                    lo_pos, hi_pos, 1, buf, n, nxt, n_next)
                if fwd_in:
                    buf, n, nxt, n_next = _dag_step(adj, x, toward, toward, use_filter, allowed, marks, col,
                                                    lo_pos, hi_pos, 0, buf, n, nxt, n_next)
            cur = np.unique(nxt[:n_next])
            d -= 1
    return length, buf[:n].copy(), used


@njit(cache=True, nogil=True)
def _reach(adj, seeds, dirc, use_filter, allowed, max_hops, cap, base, marks, queue, pq, eq):
    """Multi-seed BFS (column 0 of ``marks``) recording parents; returns
    (count, truncated, level starts: ``levels[k]`` is where level k starts in
    the queue)."""
    rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask = adj
    flat_marks = marks.reshape(-1)
    levels = np.zeros(16, np.int64)
    tail = 0
    never = np.iinfo(np.int32).max  # no other search to meet
    for s in seeds:
        if tail >= cap:
            levels[1] = tail
            return tail, True, levels[:2].copy()
        marks[s, 0] = base + tail
        queue[tail] = s
        pq[tail] = -1
        eq[tail] = 0
        tail += 1
    levels[1] = tail
    lo, hi, depth = 0, tail, 0
    fwd_out = dirc != 1
    fwd_in = dirc != 0
    while lo < hi and (max_hops < 0 or depth < max_hops):
        for i in range(lo, hi):
            _prefetch_ahead(rows, nbrs, flat_marks, queue, i, hi)
            tail, m = _expand(rows, nbrs, types, oak, oat, ork, ort, iak, iat, irk, irt, tmask, queue[i], i,
                              fwd_out, fwd_in, use_filter, allowed, marks, 0, base, queue, pq, eq, tail, cap,
                              never, True, False)
            if m == _FULL:
                levels = _level_push(levels, depth, tail)
                return tail, True, levels[: depth + 3].copy()
        levels = _level_push(levels, depth, tail)
        lo, hi = hi, tail
        depth += 1
    return tail, False, levels[: depth + 2].copy()


@njit(cache=True, nogil=True)
def _induced(adj, nodes, use_filter, allowed, cap, base, marks):
    for u in nodes:
        marks[u, 0] = base
    buf = np.empty((64, 4), np.int64)
    n = 0
    touched_any = adj.out_add_key.shape[0] > 0 or adj.out_rem_key.shape[0] > 0
    for u in nodes:
        start = n
        lo, hi = segment(adj, u, 0)
        touched = touched_any and is_touched(adj, u)
        r, r_end = 0, 0
        if touched and adj.out_rem_key.shape[0] > 0:
            r, r_end = key_range(adj.out_rem_key, u)
        base_key = np.int64(u) << 32
        for e in range(lo, hi):
            v = adj.nbrs[e]
            t = adj.types[e]
            if marks[v, 0] != base or not _allowed(use_filter, allowed, t):
                continue
            if r < r_end:
                r, gone = removed(adj.out_rem_key, adj.out_rem_type, r, r_end, base_key | np.int64(v), t)
                if gone:
                    continue
            buf = _push(buf, n, u, t, v, 0)
            n += 1
        if touched and adj.out_add_key.shape[0] > 0:
            a, a_end = key_range(adj.out_add_key, u)
            for e in range(a, a_end):
                v = np.int32(adj.out_add_key[e] & 0xFFFFFFFF)
                t = adj.out_add_type[e]
                if marks[v, 0] != base or not _allowed(use_filter, allowed, t):
                    continue
                buf = _push(buf, n, u, t, v, 0)
                n += 1
            if n - start > 1:
                # Snapshot and delta edges of one row interleave: order them by (target, type).
                row = buf[start:n]
                order = np.argsort(row[:, 2] * 4294967296 + row[:, 1])
                buf[start:n] = row[order]
        if cap >= 0 and n > cap:
            return buf[:cap, :3].copy(), True
    return buf[:n, :3].copy(), False
