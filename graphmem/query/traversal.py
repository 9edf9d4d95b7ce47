"""Path queries by entity name (layer L3): the logic behind ``Memory.shortest_path`` and friends.

Each call validates its arguments, then takes one
:class:`~graphmem.index.derived.GraphSnapshot` (``state.snapshot()``: a
snapshot given is used as it is) and reads only it: names become ids
through its id map, a kernel of :mod:`graphmem.algorithms.paths` runs on its
relation view and the ids found are named from it. Every name a query
resolves (both ends of a path, every seed) is resolved in that one state,
whatever writers do meanwhile; no call retries or waits. Shortest-path
answers go through the path cache (:mod:`graphmem.algorithms.cache`)
attached to the relation index, answered only when the cache is at the
snapshot's graph version, so a reload of the derived state (after a user
Cypher write) drops the cache with it.

Rules shared by every call: an unknown entity name raises :class:`NotFound`; a
bad ``direction``, ``max_hops``/``hops`` or cap raises :class:`~graphmem.errors.InvalidInput`
(the checks: :mod:`graphmem.inputs`);
relation types that do not exist are not an error, they match no relation (a
filter of only unknown types finds only zero-hop answers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..algorithms import paths as kernels
from ..algorithms.cache import PathCache
from ..algorithms.csr import IN, OUT, row_arrays, row_edges
from ..algorithms.paths import IdPath, Reach
from ..errors import NotFound
from ..index.adjacency import EdgeIndex
from ..index.derived import GraphSnapshot, GraphState
from ..records import entity_key, split_key
from ..types import KHop, Neighbor, Neighbors, Path, Subgraph
from ..inputs import NeighborsRequest, hop_request, path_request
from ..validate import check_count, check_direction, check_positive_int, check_types_filter

if TYPE_CHECKING:
    from datetime import datetime

    from ..store.store import Store

__all__ = [
    "shortest_path",
    "all_shortest_paths",
    "k_hop",
    "neighbors",
    "neighbors_bounded",
    "neighbors_cypher",
    "neighbors_of",
    "subgraph",
    "reach",
    "to_path",
    "path_cache",
    "DEFAULT_PATH_LIMIT",
    "DEFAULT_MAX_ENTITIES",
    "DEFAULT_MAX_RELATIONS",
    "relation_type_mask",
]

DEFAULT_PATH_LIMIT = 100
DEFAULT_MAX_ENTITIES = 100
DEFAULT_MAX_RELATIONS = 500

_CACHE_NAME = "paths"


def path_cache(edges: EdgeIndex) -> PathCache:
    """The path cache of this relation index (created on first use)."""
    return edges.attach(_CACHE_NAME, lambda: PathCache(version=edges.view.version))


# -- argument checks ------------------------------------------------------------------


def _filter_key(types: Any) -> frozenset[str] | None:
    return _type_set(check_types_filter(types))


def _type_set(types: tuple[str, ...] | None) -> frozenset[str] | None:
    """A checked type filter as the path cache's key and the mask's input."""
    return None if types is None else frozenset(types)


def _mask(edges: EdgeIndex | GraphSnapshot, names: frozenset[str] | None) -> np.ndarray | None:
    """The kernels' type mask, from the snapshot the query runs on (every code
    of its view has its name, so the mask misses no type the view contains)."""
    if names is None:
        return None
    mask = np.zeros(max(len(edges.type_names), 1), np.uint8)
    for name in names:
        code = edges.code_of(name)
        if code is not None:
            mask[code] = 1
    return mask


def relation_type_mask(edges: EdgeIndex | GraphSnapshot, types: Any) -> np.ndarray | None:
    """The kernels' relation-type mask for a user's type filter (checked here),
    or ``None`` for no filter: what every query over ``edges`` passes as
    ``allowed``."""
    return _mask(edges, _filter_key(types))


# -- names and ids --------------------------------------------------------------------


def _id(state: GraphSnapshot, namespace: str, name: str, what: str) -> int:
    id_ = state.ids.id_of(entity_key(namespace, name))
    if id_ is None:
        raise NotFound(f"no entity named {name!r} ({what})")
    return id_


def _names(state: GraphSnapshot, namespace: str, ids: Iterable[int]) -> list[str]:
    """The names of ids found in a snapshot's view (``key_ever``: an entity deleted since keeps its name)."""
    skip = len(entity_key(namespace, ""))  # where names start in this namespace's keys
    key_ever = state.ids.key_ever
    return [key_ever(id_)[skip:] for id_ in ids]  # type: ignore[index]


def _endpoints(state: GraphState | GraphSnapshot, namespace: str, source: str,
               target: str) -> tuple[GraphSnapshot, int, int]:  # fmt: skip
    """The snapshot a path query runs on and its two ends' ids, resolved in it."""
    snap = state.snapshot()
    return snap, _id(snap, namespace, source, "source"), _id(snap, namespace, target, "target")


_DIRECTION_NAMES = ("in", "out")  # indexed by an ``along`` flag


def to_path(state: GraphState | GraphSnapshot, namespace: str, path: IdPath) -> Path:
    """The :class:`Path` of names of an id path found in the view of ``state``'s snapshot."""
    return _named_path(state.snapshot(), namespace, path.nodes.tolist(), path.codes.tolist(), path.along.tolist())


def _named_path(state: GraphSnapshot, namespace: str, nodes: list[int], codes: list[int], along: list[bool]) -> Path:
    """The :class:`Path` of names of an id path given as lists (see :func:`~graphmem.algorithms.paths.shortest_lists`),
    found in the view of the snapshot ``state``."""
    return Path(
        nodes=tuple(_names(state, namespace, nodes)),
        relations=tuple(map(state.type_names.__getitem__, codes)),
        directions=tuple(map(_DIRECTION_NAMES.__getitem__, along)),
    )


def _path_relations(nodes: list[int], codes: list[int], along: list[bool]) -> list[tuple[int, int, int]]:
    """The (source, type code, target) relations of an id path (what its cache entry depends on)."""
    return [(a, c, b) if fwd else (b, c, a) for a, c, b, fwd in zip(nodes, codes, nodes[1:], along)]


# -- shortest paths -------------------------------------------------------------------


def shortest_path(
    state: GraphState | GraphSnapshot,
    namespace: str,
    source: str,
    target: str,
    *,
    max_hops: int | None = None,
    types: Iterable[str] | str | None = None,
    direction: str = "both",
) -> Path | None:
    """A shortest path from ``source`` to ``target``, or ``None`` (see :meth:`Memory.shortest_path`)."""
    request = path_request(source, target, max_hops=max_hops, direction=direction, types=types)
    direction, hops, names = request.direction, request.max_hops, _type_set(request.types)

    snap, src, dst = _endpoints(state, namespace, source, target)
    if src == dst:
        return Path(nodes=(source,), relations=())
    view = snap.view
    cache = path_cache(snap.index)
    key = ("shortest", src, dst, direction, names, hops)
    hit, answer = cache.get(key, version=view.version)
    if hit:
        return answer  # type: ignore[no-any-return]
    found = kernels.shortest_lists(view.adj, src, dst, direction=direction,
                                   allowed=_mask(snap, names), max_hops=hops, n_nodes=view.nodes)
    if found is None:
        cache.put(key, None, version=view.version, types=names, relations=())
        return None
    answer = _named_path(snap, namespace, *found)
    cache.put(key, answer, version=view.version, types=names, relations=_path_relations(*found))
    return answer


def all_shortest_paths(
    state: GraphState | GraphSnapshot,
    namespace: str,
    source: str,
    target: str,
    *,
    max_hops: int | None = None,
    types: Iterable[str] | str | None = None,
    direction: str = "both",
    limit: int = DEFAULT_PATH_LIMIT,
) -> list[Path]:
    """Up to ``limit`` shortest paths (see :meth:`Memory.all_shortest_paths`)."""
    request = path_request(source, target, max_hops=max_hops, direction=direction, types=types, limit=limit)
    direction, hops, names, cap = request.direction, request.max_hops, _type_set(request.types), request.limit

    snap, src, dst = _endpoints(state, namespace, source, target)
    if src == dst:
        return [Path(nodes=(source,), relations=())]
    view = snap.view
    cache = path_cache(snap.index)
    key = ("all", src, dst, direction, names, hops, cap)
    hit, answer = cache.get(key, version=view.version)
    if hit:
        return list(answer)
    found = kernels.all_shortest_paths(view.adj, src, dst, direction=direction,
                                       allowed=_mask(snap, names), max_hops=hops, limit=cap, n_nodes=view.nodes)
    answer = tuple(sorted((to_path(snap, namespace, p) for p in found.paths),
                          key=lambda p: (p.nodes, p.relations)))
    cache.put(key, answer, version=view.version, types=names, relations=map(tuple, found.relations.tolist()))
    return list(answer)


# -- neighbourhoods -------------------------------------------------------------------


def reach(
    state: GraphState | GraphSnapshot,
    seeds: Sequence[int] | np.ndarray,
    max_hops: int | None,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_nodes: int | None = None,
) -> Reach:
    """The ids within ``max_hops`` (``None``: any distance) of the seed ids, with
    distances and a shortest path to each (:meth:`Reach.path_to`), for composed
    queries that work on ids: give the snapshot the seeds were resolved in.
    Arguments are validated as in :func:`k_hop`."""
    direction = check_direction(direction)
    hops = check_count(max_hops, "max_hops", allow_none=True)
    names = _filter_key(types)
    cap = check_positive_int(max_nodes, "max_nodes", allow_none=True)
    return _reach(state.snapshot(), seeds, hops, direction, names, cap)


def _reach(snap: GraphSnapshot, seeds: Sequence[int] | np.ndarray, hops: int | None, direction: str,
           names: frozenset[str] | None, cap: int | None) -> Reach:
    view = snap.view
    return kernels.k_hop(view.adj, seeds, hops, direction=direction,
                         allowed=_mask(snap, names), max_nodes=cap, n_nodes=view.nodes)


def _seed_ids(state: GraphSnapshot, namespace: str, names: tuple[str, ...]) -> list[int]:
    """The ids of checked seed names (:func:`~graphmem.inputs.hop_request`)."""
    return [_id(state, namespace, n, "seed") for n in names]


def _ordered(state: GraphSnapshot, namespace: str, found: Reach) -> MappingProxyType[str, int]:
    """Name -> hops, by distance then name. Breadth-first order already groups
    the distances, so only each level's names are sorted (plain string sorts)."""
    names = _names(state, namespace, found.nodes.tolist())
    hops = found.hops
    ends = np.flatnonzero(np.diff(hops)) + 1 if len(hops) else hops
    out: dict[str, int] = {}
    start = 0
    for end in [*ends.tolist(), len(names)]:
        if end > start:
            level = int(hops[start])
            out.update(dict.fromkeys(sorted(names[start:end]), level))
        start = end
    return MappingProxyType(out)


def k_hop(
    state: GraphState | GraphSnapshot,
    namespace: str,
    source: str,
    hops: int = 1,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_entities: int | None = None,
) -> KHop:
    """The entities within ``hops`` of ``source`` with their distances (see :meth:`Memory.k_hop`)."""
    request = hop_request(source, hops, direction=direction, types=types, max_entities=max_entities, source=True)
    snap = state.snapshot()
    src = _id(snap, namespace, request.seeds[0], "source")
    found = _reach(snap, [src], request.hops, request.direction, _type_set(request.types), request.max_entities)
    return KHop(request.seeds[0], request.hops, _ordered(snap, namespace, found), found.truncated)


def _name_start(snap: GraphSnapshot, id_: int) -> int:
    """Where the name starts in the keys of ``id_``'s namespace: a relation never joins
    two namespaces (the writes and the Cypher guard refuse it), so a neighbour's key
    is its name after the same namespace prefix."""
    key = snap.ids.key_ever(id_)
    if key is None:  # pragma: no cover - the caller looked id_ up in this snapshot
        raise NotFound(f"no entity with id {id_}")
    return len(entity_key(split_key(key)[0], ""))


def neighbors(state: GraphState | GraphSnapshot, id_: int, direction: str,
              types: Sequence[str] | None) -> Neighbors:  # fmt: skip
    """The neighbours of entity ``id_`` in ``state``'s snapshot (give the one
    ``id_`` was looked up in), sorted by (name, type, direction).

    One row of the adjacency (the CSR's slice plus the delta overlay, so
    this process's writes are seen) and one name lookup per neighbour: ~10 us
    at degree 10 where Kuzu scanned every relation. ``types`` (checked
    names, ``None``: all) become the snapshot's codes. Neighbours are named
    with ``key_ever``: one deleted since the snapshot was taken is still in it.
    """
    snap = state.snapshot()
    adj = snap.view.adj
    type_names = snap.type_names
    codes = None
    if types is not None:
        codes = {code for code in map(snap.code_of, types) if code is not None}
        if not codes:
            return Neighbors()
    key_ever = snap.ids.key_ever
    skip = _name_start(snap, id_)
    rows = []
    for side, label in ((OUT, "out"), (IN, "in")):
        if direction != "both" and direction != label:
            continue
        for other, code in row_edges(adj, id_, side):
            if codes is not None and code not in codes:
                continue
            rows.append((key_ever(other)[skip:], type_names[code], label))  # type: ignore[index]
    rows.sort()
    return Neighbors([Neighbor(n, t, d) for n, t, d in rows])  # type: ignore[arg-type]


def neighbors_of(state: GraphSnapshot, namespace: str, request: NeighborsRequest, *, at_now: bool) -> Neighbors:
    """``neighbors``' answer for ``request`` in ``state`` (the snapshot the read
    took): :func:`neighbors`, or :func:`neighbors_bounded` with a limit.
    :class:`NotFound` if the name is not an entity there (``at_now`` says
    whether the read is at now, for the message)."""
    id_ = state.ids.id_of(entity_key(namespace, request.name))
    if id_ is None:
        # An entity whose validity does not cover the time read is not there.
        name = request.name
        raise NotFound(f"no entity named {name!r}" if at_now else f"no entity named {name!r} at that time")
    if request.limit is None:
        return neighbors(state, id_, request.direction, request.types)
    return neighbors_bounded(state, id_, request.direction, request.types, limit=request.limit)


_NEIGHBORS = {"out": "neighbors_out", "in": "neighbors_in", "both": "neighbors_both"}
_NEIGHBORS_TYPED = {"out": "neighbors_out_typed", "in": "neighbors_in_typed", "both": "neighbors_both_typed"}


def neighbors_cypher(store: Store, graph: Callable[[], GraphSnapshot], namespace: str, request: NeighborsRequest,
                     now: datetime) -> list[Neighbor]:  # fmt: skip
    """``neighbors`` at now through the store's Cypher (the former implementation).

    Kept as the oracle of the differential tests and the Cypher peer of the
    benchmarks: the in-memory answer must equal it on every graph. ``graph``
    gives the snapshot at now, read only to tell an unknown name from one
    without neighbours.
    """
    key, type_filter = entity_key(namespace, request.name), request.types
    if type_filter is not None and not type_filter:
        return []
    if type_filter is None:
        rows = store.execute(_NEIGHBORS[request.direction], {"key": key, "now": now})
    else:
        rows = store.execute(_NEIGHBORS_TYPED[request.direction], {"key": key, "types": list(type_filter), "now": now})
    if not rows and key not in graph().ids:
        raise NotFound(f"no entity named {request.name!r}")
    return [Neighbor(n, t, d) for n, t, d in sorted(rows)]


def neighbors_bounded(state: GraphState | GraphSnapshot, id_: int, direction: str, types: Sequence[str] | None, *,
                      limit: int) -> Neighbors:  # fmt: skip
    """At most ``limit`` neighbours of entity ``id_`` in ``state``'s snapshot (give
    the one ``id_`` was looked up in), with how many there are (``total``), naming only those kept.

    :func:`neighbors` names every neighbour and sorts them by name: a hub of
    24k relations (the largest of the 1M-entity benchmark graph) costs a
    Python tuple, a key lookup and a string split per relation before any cut.
    Here the row is read as arrays (:func:`~graphmem.algorithms.csr.row_arrays`),
    filtered and counted in NumPy, and only the kept ``limit`` are named, so
    the Python work is O(limit) whatever the degree. Which ones are kept is
    the relation index's order, not the names': the smallest
    (neighbour id, relation type, direction), i.e. the oldest entities first,
    a stable choice (a larger ``limit`` keeps a superset). The kept ones come
    back sorted as :func:`neighbors` sorts, and the count is what
    ``len(neighbors(...))`` would be (one row per relation).
    """
    snap = state.snapshot()
    adj = snap.view.adj
    type_names = snap.type_names
    codes = None
    if types is not None:
        codes = np.array(sorted({c for c in map(snap.code_of, types) if c is not None}), np.int32)
        if not codes.size:
            return Neighbors()
    total = 0
    parts = []
    for side, label in ((OUT, 0), (IN, 1)):
        if direction != "both" and direction != ("out", "in")[label]:
            continue
        nbrs, kinds = row_arrays(adj, id_, side)
        if codes is not None:
            keep = np.isin(kinds, codes)
            nbrs, kinds = nbrs[keep], kinds[keep]
        total += int(nbrs.size)
        # Each side is sorted by (neighbour, type): its first `limit` hold every kept row of that side.
        parts.append((nbrs[:limit], kinds[:limit], np.full(min(limit, nbrs.size), label, np.int8)))
    if not parts:
        return Neighbors()
    nbrs = np.concatenate([p[0] for p in parts])
    kinds = np.concatenate([p[1] for p in parts])
    sides = np.concatenate([p[2] for p in parts])
    order = np.lexsort((sides, kinds, nbrs))[:limit]
    key_ever = snap.ids.key_ever
    skip = _name_start(snap, id_)
    rows = [
        (key_ever(other)[skip:], type_names[code], ("out", "in")[side])  # type: ignore[index]
        for other, code, side in zip(nbrs[order].tolist(), kinds[order].tolist(), sides[order].tolist())
    ]
    rows.sort()
    return Neighbors([Neighbor(n, t, d) for n, t, d in rows], total=total)  # type: ignore[arg-type]


def subgraph(
    state: GraphState | GraphSnapshot,
    namespace: str,
    seeds: str | Iterable[str],
    hops: int = 1,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_entities: int | None = DEFAULT_MAX_ENTITIES,
    max_relations: int | None = DEFAULT_MAX_RELATIONS,
) -> Subgraph:
    """The entities within ``hops`` of the seeds and the relations among them (see :meth:`Memory.subgraph`)."""
    request = hop_request(seeds, hops, direction=direction, types=types, max_entities=max_entities,
                          max_relations=max_relations)  # fmt: skip
    names, relation_cap = _type_set(request.types), request.max_relations

    snap = state.snapshot()
    view = snap.view
    seed_ids = _seed_ids(snap, namespace, request.seeds)
    found = _reach(snap, seed_ids, request.hops, request.direction, names, request.max_entities)
    rows, capped = kernels.induced_edges(view.adj, found.nodes, allowed=_mask(snap, names),
                                         max_edges=relation_cap, n_nodes=view.nodes)
    ids = rows[:, [0, 2]].ravel().tolist()
    name_list = _names(snap, namespace, ids)
    type_names = snap.type_names
    relations = sorted(
        (name_list[2 * i], type_names[code], name_list[2 * i + 1]) for i, code in enumerate(rows[:, 1].tolist())
    )
    return Subgraph(_ordered(snap, namespace, found), tuple(relations), found.truncated or capped)
