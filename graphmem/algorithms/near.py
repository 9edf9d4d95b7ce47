"""The near search in one compiled call: ball, exact scores, top k, paths.

``search(q, near=anchors, max_hops=h)`` used to be five steps with Python
between them (a k-hop reach handing back seven arrays, a bitmap of the ball,
its intersection with the vector index's labels, an exact top k, a path
trace), and that Python cost more than the work. :func:`near_top_k` does it
all in one call over the workspace of :mod:`graphmem.algorithms.paths`:

1. the same multi-seed breadth-first search as :func:`~graphmem.algorithms.paths.k_hop`
   (its compiled ``_reach``, so the same parents and hence the same paths);
2. the candidates: the nodes of the ball that hold a vector (``live``);
3. their exact cosine scores and the top ``k``, by the very compiled helpers
   :func:`~graphmem.algorithms.scoring.exact_top_k` uses (``_scores`` then
   ``_small_top``), so the scores are the same bits and ties at the k-th
   place go to the smaller id;
4. a shortest path from the nearest seed to each hit, traced through the
   queue's parent positions (a hit's position is its workspace mark minus the
   search's base: no lookup);
5. the name of each place on those paths, read from the saved keys
   (:meth:`graphmem.index.ids.IdMap.saved_arrays`) when they hold them all:
   one UTF-8 buffer for the caller to decode and split into the paths' names
   as they are, where naming ~15 ids one by one in Python cost more than the
   search, and mapping the ~30 places to their names ~1 us more.

A ball with more than ``exact_limit`` candidates is not scored (the vector
index answers such a set through HNSW): the call then hands back the
:class:`~graphmem.algorithms.paths.Reach` of the ball instead, so the caller
does not search twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .csr import Adjacency
from .jit import njit  # numba itself loads at the first kernel call
from .paths import _ALL, _INT32_MAX, DIRECTIONS, Reach, _prefetch, _prepare, _reach, _reach_arrays, workspace
from .scoring import _SMALL_K, _scores, _small_top

__all__ = ["NearTop", "PackedAdjacency", "near_top_k", "pack_adjacency", "MAX_K"]

MAX_K = _SMALL_K
"""The largest ``k`` :func:`near_top_k` ranks (the one-pass sorted top list);
above it, the caller takes the ball and ranks through the vector index."""


class NearTop(NamedTuple):
    """The answer of :func:`near_top_k`, as Python lists (what the caller names
    and wraps; the compiled call builds them as lists, where an array would
    cost a NumPy object to box and a ``tolist``).

    Hit ``i`` scored ``scores[i]`` (best first); its path from its nearest
    seed visits ``ids[path[p]]`` for ``p`` in ``offsets[i]:offsets[i + 1]``
    (seed first), reaching each over a relation of type ``codes[p]`` (-1 at
    the seed) that points from the node before to it when ``along[p]`` is 1;
    the hit is the path's last node and its hop count the path's length
    minus one. ``ids``: each node of the paths once; ``names[p]`` is the name
    of the node at place ``p`` of the paths, ``ids[path[p]]`` (its key
    without ``prefix``), or ``names`` is ``None`` when the keys given did not
    hold them all. ``candidates``: how many entities of the ball held a vector.
    """

    candidates: int
    scores: list[float]
    offsets: list[int]
    path: list[int]
    codes: list[int]
    along: list[int]
    ids: list[int]
    names: list[str] | None


_new_tuple = tuple.__new__
_NO_KEYS = (np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.uint8))
_NO_SEEDS = np.zeros(0, np.int64)
_SPLIT = 0x1F
"""The byte the names are joined with: the key separator, a control character
no name holds (:func:`graphmem.validate.check_name`); a key that holds it anyway
sends the naming back to the caller."""

_HEAD = 18 * 8  # the packed delta's header: where each of its nine arrays starts and ends (int64 each)


class PackedAdjacency(NamedTuple):
    """An :class:`~graphmem.algorithms.csr.Adjacency` as :func:`near_top_k`'s
    kernel takes it: the snapshot's three arrays as they are and the delta's
    nine (with ``touched``) copied end to end into one byte buffer.

    numba's dispatch unboxes every array argument on every call (~0.1 us each,
    a MemInfo allocated and freed per array): 4 arrays instead of 12. The
    delta is small (it is merged into the snapshot as it grows), so packing it
    once per view (:func:`pack_adjacency`) costs little; the snapshot's
    arrays, the large ones, are not copied.
    """

    rows: np.ndarray
    nbrs: np.ndarray
    types: np.ndarray
    delta: np.ndarray  # uint8: header (_HEAD bytes), then each delta array, each starting 8-byte aligned


def pack_adjacency(adj: Adjacency) -> PackedAdjacency:
    """``adj`` packed for :func:`near_top_k` (keep it as long as ``adj``: it copies the delta).

    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1], [1, 2], [0, 0])._replace(out_add_key=np.array([2 << 32], np.int64),
    ...                                                 out_add_type=np.array([1], np.int32))  # 2 -> 0, type 1
    >>> packed = pack_adjacency(adj)
    >>> packed.rows is adj.rows, packed.delta[:32].view(np.int64).tolist(), packed.delta.size % 8
    (True, [144, 152, 152, 156], 0)
    >>> [np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(_unpack(*packed), adj)] == [True] * 12
    True
    """
    parts = [np.ascontiguousarray(a) for a in adj[3:]]
    bounds = []
    at = _HEAD
    for part in parts:
        bounds += [at, at + part.nbytes]
        at += (part.nbytes + 7) // 8 * 8
    delta = np.zeros(at, np.uint8)
    delta[:_HEAD].view(np.int64)[:] = bounds
    for start, part in zip(bounds[::2], parts):
        delta[start : start + part.nbytes] = part.view(np.uint8)
    return _new_tuple(PackedAdjacency, (adj.rows, adj.nbrs, adj.types, delta))


@njit(cache=True, nogil=True)
def _unpack(rows, nbrs, types, delta):
    """The Adjacency tuple (as ``_reach`` takes it) of a packed one: views, no copy."""
    at = delta[:_HEAD].view(np.int64)
    return (rows, nbrs, types,
            delta[at[0] : at[1]].view(np.int64), delta[at[2] : at[3]].view(np.int32),
            delta[at[4] : at[5]].view(np.int64), delta[at[6] : at[7]].view(np.int32),
            delta[at[8] : at[9]].view(np.int64), delta[at[10] : at[11]].view(np.int32),
            delta[at[12] : at[13]].view(np.int64), delta[at[14] : at[15]].view(np.int32),
            delta[at[16] : at[17]])  # fmt: skip


def near_top_k(
    adj: Adjacency,
    seeds: Sequence[int],
    hops: int | None,
    rows: np.ndarray,
    inv_norms: np.ndarray,
    live: np.ndarray,
    query: np.ndarray,
    k: int,
    *,
    direction: str = "both",
    allowed: np.ndarray | None = None,
    exact_limit: int,
    n_nodes: int | None = None,
    keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    prefix: np.ndarray | None = None,
    packed: PackedAdjacency | None = None,
) -> NearTop | Reach:
    """The ``k`` entities within ``hops`` of ``seeds`` most cosine-similar to ``query``.

    Parameters
    ----------
    adj : the relations (:class:`~graphmem.algorithms.csr.Adjacency`)
    seeds : node ids (duplicates allowed)
    hops : the radius (``None``: any distance)
    rows, inv_norms : the int8 vectors by id and ``1 / norm`` of each (0 for an all-zero row),
        as :func:`~graphmem.algorithms.scoring.exact_top_k` takes them
    live : uint8 by id, 1 where the id holds a vector (only those are candidates;
        ids at or beyond its length hold none)
    query : float32 unit vector
    k : 1 to :data:`MAX_K`
    direction, allowed : as :func:`~graphmem.algorithms.paths.k_hop` (``allowed``: relation type mask)
    exact_limit : the most candidates scored here
    n_nodes : one more than the largest node id, if known (see :mod:`~graphmem.algorithms.paths`)
    keys : ``(ids, offsets, blob)``: the key of ``ids[i]`` (ascending) is
        ``blob[offsets[i]:offsets[i + 1]]``, UTF-8; ``None``: no names
    prefix : uint8, what every key named starts with and its name does not (a namespace)
    packed : ``pack_adjacency(adj)``, if the caller keeps it (else it is packed here)

    Returns
    -------
    :class:`NearTop`, or the ball's :class:`~graphmem.algorithms.paths.Reach`
    when it holds more than ``exact_limit`` candidates (nothing scored).

    The hits and their scores are those of ``exact_top_k`` over the ball's
    candidates, and each path is the one ``k_hop(...).paths_to`` traces.
    Arguments are the caller's to check (the public entry points validate
    once): ``k`` must be in range and ``rows``, ``inv_norms``, ``live`` of one
    length.

    Examples
    --------
    >>> from graphmem.algorithms.csr import from_edges
    >>> adj = from_edges([0, 1, 2], [1, 2, 3], [0, 0, 0])
    >>> rows = np.array([[127, 0], [0, 127], [90, 90], [127, 0]], np.int8)
    >>> inv = (1 / np.linalg.norm(rows.astype(np.float32), axis=1)).astype(np.float32)
    >>> live = np.array([1, 1, 1, 1], np.uint8)
    >>> keys = (np.arange(4), np.array([0, 3, 6, 9, 12]), np.frombuffer(b"x:ax:bx:cx:d", np.uint8))
    >>> top = near_top_k(adj, [1], 1, rows, inv, live, np.array([1, 0], np.float32), 2, exact_limit=100,
    ...                  keys=keys, prefix=np.frombuffer(b"x:", np.uint8))
    >>> [round(s, 3) for s in top.scores], top.names[top.offsets[1]:top.offsets[2]]
    ([1.0, 0.707], ['b', 'c'])
    """
    if packed is None:
        packed = pack_adjacency(adj)
    # One seed (the usual case) goes as a number: an array of it costs ~0.4 us to make.
    if len(seeds) == 1 and seeds[0] >= 0:
        seed, seed_arr = seeds[0], _NO_SEEDS
    else:
        seed, seed_arr = -1, np.asarray(seeds, np.int64)
    mask = _ALL if allowed is None else allowed
    key_ids, key_offsets, key_blob = _NO_KEYS if keys is None else keys
    # The workspace's _prepare, begin and finish written out (~1 us of method
    # calls) when they would do nothing but check: one seed within the
    # workspace, n_nodes given and in range, stamps left before the int32 limit.
    ws = workspace()
    size = ws.size
    if (seed < 0 or n_nodes is None or seed >= size or n_nodes > size or ws.stamp + size + 2 >= _INT32_MAX
            or n_nodes < packed.rows.shape[0] - 1):  # fmt: skip
        ws = _prepare(ws, adj, seeds, n_nodes)
        base = ws.begin()
        size = ws.size
    else:
        base = ws.stamp + 1
    used = size
    try:
        scored, count, ints, scores, text, wide = _near(
            *packed, seed, seed_arr, DIRECTIONS[direction], allowed is not None, mask, -1 if hops is None else hops,
            size, base, ws.buf, rows, inv_norms, live, query, k, exact_limit, key_ids, key_offsets, key_blob,
            _NO_KEYS[2] if prefix is None else prefix)  # fmt: skip
        used = count
    finally:
        ws.stamp = max(ws.stamp, base + used)  # ws.finish
    if wide is None:
        m = len(scores)
        p = ints[m]
        path_at = m + 1
        codes_at = path_at + p
        along_at = codes_at + p
        ids_at = along_at + p
        names = None if text is None else text.tobytes().decode().split("\x1f") if p else []
        # tuple.__new__ straight: the named tuple's own __new__ is Python code (~0.3 us).
        return _new_tuple(NearTop, (scored, scores, ints[:path_at], ints[path_at:codes_at], ints[codes_at:along_at],
                                    ints[along_at:ids_at], ints[ids_at:], names))  # fmt: skip
    c = count
    return Reach(nodes=wide[:c], parents=wide[c : 2 * c], _order=wide[2 * c : 3 * c],
                 hops=wide[3 * c : 4 * c].astype(np.int32), codes=wide[4 * c : 5 * c].astype(np.int32),
                 along=wide[5 * c :].astype(np.bool_), truncated=False)  # fmt: skip


@njit(cache=True, nogil=True)
def _near(rows_, nbrs, types, delta, seed, seeds, dirc, use_filter, allowed, max_hops, cap, base, buf, rows, inv_norms,
          live, query, k, exact_limit, key_ids, key_offsets, key_blob, prefix):  # fmt: skip
    """Returns (candidates or -1, count, ints, scores, names or None, wide or
    None): for a scored answer the lists ``ints`` (offsets, path, codes, along
    and ids end to end, see :class:`NearTop`) and ``scores`` (lists: numba
    boxes a list it made straight into Python objects, where an array costs a
    NumPy object and its ``tolist``); for -1 (too many candidates) ``wide``
    holds the ball's nodes, parents, order, hops, codes and along flags,
    ``count`` each. ``seed`` is the one seed, or -1 and ``seeds`` them all."""
    arrays = _unpack(rows_, nbrs, types, delta)
    n = buf.shape[0] // 7
    marks = buf[: 2 * n].reshape((n, 2))
    queue = buf[2 * n : 3 * n]
    pq = buf[4 * n : 5 * n]
    eq = buf[6 * n : 7 * n]
    if seed >= 0:
        seeds = np.full(1, seed, np.int64)
    elif seeds.shape[0] > 1:
        seeds = np.unique(seeds)  # as k_hop: sorted, so the search (and its paths) do not depend on the order given
    count, truncated, levels = _reach(arrays, seeds, dirc, use_filter, allowed, max_hops, cap, base, marks, queue,
                                      pq, eq)  # fmt: skip
    n_live = live.shape[0]
    candidates = np.empty(count, np.int64)
    m = 0
    flat = rows.reshape(-1)
    dim = rows.shape[1]
    for i in range(count):
        v = queue[i]
        if v < n_live and live[v] != 0:
            candidates[m] = v
            m += 1
            # Start loading every row now, so the scoring below finds them in
            # flight: they are scattered over the matrix, and read one after
            # another each would wait on memory on its own.
            at = v * dim
            for line in range(0, dim, 64):
                _prefetch(flat, at + line)  # type: ignore[call-arg]  # an intrinsic: numba supplies typingctx
    if m > exact_limit:
        nodes, hops, parents, codes, along, order = _reach_arrays(queue, pq, eq, levels, count)
        wide = np.empty(6 * count, np.int64)
        wide[:count] = nodes
        wide[count : 2 * count] = parents
        wide[2 * count : 3 * count] = order
        wide[3 * count : 4 * count] = hops
        wide[4 * count : 5 * count] = codes
        for i in range(count):
            wide[5 * count + i] = 1 if along[i] else 0
        return -1, count, [0][:0], [0.0][:0], None, wide
    candidates = candidates[:m]
    scores = np.empty(m, np.float32)
    _scores(rows, inv_norms, candidates, query, scores)
    top_ids, top_scores = _small_top(candidates, scores, k)
    hits = top_ids.shape[0]
    # A hit's queue position is its mark minus the search's base; its path
    # follows the parents' queue positions back to a seed (-1).
    length = 0
    for h in range(hits):
        j = marks[top_ids[h], 0] - base
        while j >= 0:
            length += 1
            j = pq[j]
    slot = np.full(count, -1, np.int64)  # by queue position: the node's index in ids
    out = np.empty(hits + 1 + 4 * length, np.int64)
    path = out[hits + 1 : hits + 1 + length]
    codes = out[hits + 1 + length : hits + 1 + 2 * length]
    along = out[hits + 1 + 2 * length : hits + 1 + 3 * length]
    ids = out[hits + 1 + 3 * length :]
    distinct = 0
    out[0] = 0
    end = 0
    for h in range(hits):
        j = marks[top_ids[h], 0] - base
        steps = 0
        while j >= 0:
            steps += 1
            j = pq[j]
        end += steps
        out[h + 1] = end
        j = marks[top_ids[h], 0] - base
        p = end - 1
        while j >= 0:
            if slot[j] < 0:
                slot[j] = distinct
                ids[distinct] = queue[j]
                distinct += 1
            path[p] = slot[j]
            if pq[j] < 0:
                codes[p] = -1
                along[p] = 0
            else:
                codes[p] = eq[j] >> 1
                along[p] = eq[j] & 1
            p -= 1
            j = pq[j]
    size = hits + 1 + 3 * length + distinct
    ints = [0] * size
    for i in range(size):
        ints[i] = out[i]
    top = [0.0] * hits
    for h in range(hits):
        top[h] = float(top_scores[h])  # a float32 widened: the very value ``tolist`` gives
    return m, count, ints, top, _names(ids[:distinct], path, key_ids, key_offsets, key_blob, prefix), None


@njit(cache=True, nogil=True)
def _names(ids, places, key_ids, key_offsets, key_blob, prefix):
    """The name of ``ids[j]`` (its key without ``prefix``) for each ``j`` of
    ``places``, joined by ``_SPLIT``, or ``None`` if one of ``ids`` is not in
    the keys, does not start with ``prefix`` or holds the joining byte (each
    of ``ids`` is looked up once)."""
    n_keys = key_ids.shape[0]
    if n_keys == 0:
        return None
    first = key_ids[0]
    dense = key_ids[n_keys - 1] - first == n_keys - 1
    plen = prefix.shape[0]
    at = np.empty(ids.shape[0], np.int64)
    for d in range(ids.shape[0]):
        v = ids[d]
        if dense:
            r = v - first
            if r < 0 or r >= n_keys:
                return None
        else:
            r = np.searchsorted(key_ids, v)
            if r >= n_keys or key_ids[r] != v:
                return None
        lo, hi = key_offsets[r], key_offsets[r + 1]
        if hi - lo < plen:
            return None
        for b in range(plen):
            if key_blob[lo + b] != prefix[b]:
                return None
        for b in range(lo + plen, hi):
            if key_blob[b] == _SPLIT:
                return None
        at[d] = r
    total = 0
    for p in range(places.shape[0]):
        r = at[places[p]]
        total += key_offsets[r + 1] - key_offsets[r] - plen + 1
    text = np.empty(max(total - 1, 0), np.uint8)
    w = 0
    for p in range(places.shape[0]):
        if p > 0:
            text[w] = _SPLIT
            w += 1
        r = at[places[p]]
        for b in range(key_offsets[r] + plen, key_offsets[r + 1]):
            text[w] = key_blob[b]
            w += 1
    return text
