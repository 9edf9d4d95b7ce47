"""Path queries by entity name (layer L3): the logic behind ``Memory.shortest_path`` and friends.

Each call validates its arguments, takes the relation index's current
:class:`~graphmem.index.adjacency.EdgeView` once (a consistent graph, whatever
writers do meanwhile), then maps names to ids through the graph state's
:class:`~graphmem.index.ids.IdMap`, runs a kernel of
:mod:`graphmem.algorithms.paths` on the view and names the ids it found with
``IdMap.key_ever``. No call retries or waits: :class:`~graphmem.index.derived.GraphState`
orders each change so that a name found after the view was taken belongs to
an entity of that view (or of a later one, with no relation in the view), and
every id of the view keeps its name. Shortest-path answers go through the path cache
(:mod:`graphmem.algorithms.cache`) attached to the relation index, so a reload of
the derived state (after a user Cypher write) drops the cache with it.

Rules shared by every call: an unknown entity name raises :class:`NotFound`; a
bad ``direction``, ``max_hops``/``hops`` or cap raises :class:`InvalidInput`;
relation types that do not exist are not an error, they match no relation (a
filter of only unknown types finds only zero-hop answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from ..algorithms import paths as kernels
from ..algorithms.cache import PathCache
from ..algorithms.csr import IN, OUT, row_arrays, row_edges
from ..algorithms.paths import IdPath, Reach
from ..errors import InvalidInput, NotFound
from ..index.adjacency import EdgeIndex, EdgeView
from ..index.derived import DerivedState
from ..records import KEY_SEPARATOR, entity_key
from ..types import KHop, Neighbor, Path, Subgraph
from ..validate import check_direction, check_name, check_types_filter

__all__ = [
    "shortest_path",
    "all_shortest_paths",
    "k_hop",
    "neighbors",
    "neighbors_bounded",
    "subgraph",
    "reach",
    "to_path",
    "path_cache",
    "DEFAULT_PATH_LIMIT",
    "DEFAULT_MAX_ENTITIES",
    "DEFAULT_MAX_RELATIONS",
]

DEFAULT_PATH_LIMIT = 100
DEFAULT_MAX_ENTITIES = 100
DEFAULT_MAX_RELATIONS = 500

_CACHE_NAME = "paths"


def path_cache(edges: EdgeIndex) -> PathCache:
    """The path cache of this relation index (created on first use)."""
    return edges.attach(_CACHE_NAME, lambda: PathCache(version=edges.view.version))


# -- argument checks ------------------------------------------------------------------


def _check_hops(value: Any, what: str, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        accepted = "None or an int >= 0" if allow_none else "an int >= 0"
        raise InvalidInput(f"{what} must be {accepted}, not {value!r}")
    return int(value)


def _check_cap(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInput(f"{what} must be None or an int >= 1, not {value!r}")
    return int(value)


def _filter_key(types: Any) -> frozenset[str] | None:
    checked = check_types_filter(types)
    return None if checked is None else frozenset(checked)


def _mask(edges: EdgeIndex, names: frozenset[str] | None) -> np.ndarray | None:
    """The kernels' type mask. Built *after* the view is taken: every code in
    that view already has its name, so the mask misses no type it contains."""
    if names is None:
        return None
    mask = np.zeros(max(len(edges.type_names), 1), np.uint8)
    for name in names:
        code = edges.code_of(name)
        if code is not None:
            mask[code] = 1
    return mask


# -- names and ids --------------------------------------------------------------------


def _id(state: DerivedState, namespace: str, name: str, what: str) -> int:
    id_ = state.ids.id_of(entity_key(namespace, name))
    if id_ is None:
        raise NotFound(f"no entity named {name!r} ({what})")
    return id_


def _names(state: DerivedState, namespace: str, ids: Iterable[int]) -> list[str]:
    """The names of ids found in a view (``key_ever``: an entity deleted since keeps its name)."""
    skip = len(namespace) + len(KEY_SEPARATOR)
    key_ever = state.ids.key_ever
    return [key_ever(id_)[skip:] for id_ in ids]  # type: ignore[index]


def _endpoints(state: DerivedState, namespace: str, source: str, target: str) -> tuple[EdgeIndex, EdgeView, int, int]:
    """The relation index, the view a path query runs on, and its two ends' ids.
    The view is taken before the names are looked up (see the module docstring)."""
    edges = state.edges
    edges.maybe_compact()
    view = edges.view
    return edges, view, _id(state, namespace, source, "source"), _id(state, namespace, target, "target")


_DIRECTION_NAMES = ("in", "out")  # indexed by an ``along`` flag


def to_path(state: DerivedState, namespace: str, path: IdPath) -> Path:
    """The :class:`Path` of names of an id path found in a view of ``state``."""
    return _named_path(state, namespace, path.nodes.tolist(), path.codes.tolist(), path.along.tolist())


def _named_path(state: DerivedState, namespace: str, nodes: list[int], codes: list[int], along: list[bool]) -> Path:
    """The :class:`Path` of names of an id path given as lists (see :func:`~graphmem.algorithms.paths.shortest_lists`)."""
    return Path(
        nodes=tuple(_names(state, namespace, nodes)),
        relations=tuple(map(state.edges.type_names.__getitem__, codes)),
        directions=tuple(map(_DIRECTION_NAMES.__getitem__, along)),
    )


def _path_relations(nodes: list[int], codes: list[int], along: list[bool]) -> list[tuple[int, int, int]]:
    """The (source, type code, target) relations of an id path (what its cache entry depends on)."""
    return [(a, c, b) if fwd else (b, c, a) for a, c, b, fwd in zip(nodes, codes, nodes[1:], along)]


# -- shortest paths -------------------------------------------------------------------


def shortest_path(
    state: DerivedState,
    namespace: str,
    source: str,
    target: str,
    *,
    max_hops: int | None = None,
    types: Iterable[str] | str | None = None,
    direction: str = "both",
) -> Path | None:
    """A shortest path from ``source`` to ``target``, or ``None`` (see :meth:`Memory.shortest_path`)."""
    check_name(source, "source")
    check_name(target, "target")
    direction = check_direction(direction)
    hops = _check_hops(max_hops, "max_hops", allow_none=True)
    names = _filter_key(types)

    edges, view, src, dst = _endpoints(state, namespace, source, target)
    if src == dst:
        return Path(nodes=(source,), relations=())
    cache = path_cache(edges)
    key = ("shortest", src, dst, direction, names, hops)
    hit, answer = cache.get(key)
    if hit:
        return answer  # type: ignore[no-any-return]
    found = kernels.shortest_lists(view.adj, src, dst, direction=direction,
                                   allowed=_mask(edges, names), max_hops=hops, n_nodes=view.nodes)
    if found is None:
        cache.put(key, None, version=view.version, types=names, relations=())
        return None
    answer = _named_path(state, namespace, *found)
    cache.put(key, answer, version=view.version, types=names, relations=_path_relations(*found))
    return answer


def all_shortest_paths(
    state: DerivedState,
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
    check_name(source, "source")
    check_name(target, "target")
    direction = check_direction(direction)
    hops = _check_hops(max_hops, "max_hops", allow_none=True)
    names = _filter_key(types)
    cap = _check_cap(limit, "limit")
    if cap is None:
        raise InvalidInput("limit must be an int >= 1, not None")

    edges, view, src, dst = _endpoints(state, namespace, source, target)
    if src == dst:
        return [Path(nodes=(source,), relations=())]
    cache = path_cache(edges)
    key = ("all", src, dst, direction, names, hops, cap)
    hit, answer = cache.get(key)
    if hit:
        return list(answer)
    found = kernels.all_shortest_paths(view.adj, src, dst, direction=direction,
                                       allowed=_mask(edges, names), max_hops=hops, limit=cap, n_nodes=view.nodes)
    answer = tuple(sorted((to_path(state, namespace, p) for p in found.paths),
                          key=lambda p: (p.nodes, p.relations)))
    cache.put(key, answer, version=view.version, types=names, relations=map(tuple, found.relations.tolist()))
    return list(answer)


# -- neighbourhoods -------------------------------------------------------------------


def reach(
    state: DerivedState,
    seeds: Sequence[int] | np.ndarray,
    max_hops: int | None,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_nodes: int | None = None,
    view: EdgeView | None = None,
) -> Reach:
    """The ids within ``max_hops`` (``None``: any distance) of the seed ids, with
    distances and a shortest path to each (:meth:`Reach.path_to`), for composed
    queries that work on ids. Arguments are validated as in :func:`k_hop`."""
    direction = check_direction(direction)
    hops = _check_hops(max_hops, "max_hops", allow_none=True)
    names = _filter_key(types)
    cap = _check_cap(max_nodes, "max_nodes")
    edges = state.edges
    if view is None:
        edges.maybe_compact()
        view = edges.view
    return kernels.k_hop(view.adj, seeds, hops, direction=direction,  # type: ignore[arg-type]
                         allowed=_mask(edges, names), max_nodes=cap, n_nodes=view.nodes)


def _seed_ids(state: DerivedState, namespace: str, seeds: Any) -> list[int]:
    if isinstance(seeds, str):
        seeds = [seeds]
    if not isinstance(seeds, Iterable):
        raise InvalidInput(f"seeds must be a name or a list of names, not {type(seeds).__name__}")
    names = [check_name(s, "seed") for s in seeds]
    if not names:
        raise InvalidInput("give at least one seed entity")
    return [_id(state, namespace, n, "seed") for n in dict.fromkeys(names)]


def _ordered(state: DerivedState, namespace: str, found: Reach) -> MappingProxyType[str, int]:
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
    state: DerivedState,
    namespace: str,
    source: str,
    hops: int = 1,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_entities: int | None = None,
) -> KHop:
    """The entities within ``hops`` of ``source`` with their distances (see :meth:`Memory.k_hop`)."""
    check_name(source, "source")
    direction = check_direction(direction)
    depth = _check_hops(hops, "hops", allow_none=False)
    _filter_key(types)
    cap = _check_cap(max_entities, "max_entities")

    edges = state.edges
    edges.maybe_compact()
    view = edges.view  # before the names: see the module docstring
    src = _id(state, namespace, source, "source")
    found = reach(state, [src], depth, direction=direction, types=types, max_nodes=cap, view=view)
    return KHop(source, depth, _ordered(state, namespace, found), found.truncated)


def neighbors(state: DerivedState, id_: int, direction: str, types: Sequence[str] | None, *,
              view: EdgeView | None = None) -> list[Neighbor]:
    """The neighbours of entity ``id_`` in ``state``, sorted by (name, type, direction).

    One row of the adjacency (the snapshot's slice plus the delta overlay, so
    this process's writes are seen) and one name lookup per neighbour: ~10 us
    at degree 10 where Kuzu scanned every relation. ``view``: the relation
    view taken before ``id_`` was looked up (default: the current one).
    ``types`` (checked names, ``None``: all) become codes after the view is
    taken, so a type created meanwhile is not missed. Neighbours are named
    with ``key_ever``: one deleted since the view was taken is still in it.
    """
    edges = state.edges
    adj = (edges.view if view is None else view).adj
    type_names = edges.type_names
    codes = None
    if types is not None:
        codes = {code for code in map(edges.code_of, types) if code is not None}
        if not codes:
            return []
    key_ever = state.ids.key_ever
    rows = []
    for side, label in ((OUT, "out"), (IN, "in")):
        if direction != "both" and direction != label:
            continue
        for other, code in row_edges(adj, id_, side):
            if codes is not None and code not in codes:
                continue
            rows.append((key_ever(other).split(KEY_SEPARATOR, 1)[1], type_names[code], label))  # type: ignore[union-attr]
    rows.sort()
    return [Neighbor(n, t, d) for n, t, d in rows]  # type: ignore[arg-type]


def neighbors_bounded(state: DerivedState, id_: int, direction: str, types: Sequence[str] | None, *, limit: int,
                      view: EdgeView | None = None) -> tuple[list[Neighbor], int]:  # fmt: skip
    """At most ``limit`` neighbours of entity ``id_`` and how many there are, naming only those kept.

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
    edges = state.edges
    adj = (edges.view if view is None else view).adj
    type_names = edges.type_names
    codes = None
    if types is not None:
        codes = np.array(sorted({c for c in map(edges.code_of, types) if c is not None}), np.int32)
        if not codes.size:
            return [], 0
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
        return [], 0
    nbrs = np.concatenate([p[0] for p in parts])
    kinds = np.concatenate([p[1] for p in parts])
    sides = np.concatenate([p[2] for p in parts])
    order = np.lexsort((sides, kinds, nbrs))[:limit]
    key_ever = state.ids.key_ever
    rows = [
        (key_ever(other).split(KEY_SEPARATOR, 1)[1], type_names[code], ("out", "in")[side])  # type: ignore[union-attr]
        for other, code, side in zip(nbrs[order].tolist(), kinds[order].tolist(), sides[order].tolist())
    ]
    rows.sort()
    return [Neighbor(n, t, d) for n, t, d in rows], total  # type: ignore[arg-type]


def subgraph(
    state: DerivedState,
    namespace: str,
    seeds: str | Iterable[str],
    hops: int = 1,
    *,
    direction: str = "both",
    types: Iterable[str] | str | None = None,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_relations: int = DEFAULT_MAX_RELATIONS,
) -> Subgraph:
    """The entities within ``hops`` of the seeds and the relations among them (see :meth:`Memory.subgraph`)."""
    direction = check_direction(direction)
    depth = _check_hops(hops, "hops", allow_none=False)
    names = _filter_key(types)
    entity_cap = _check_cap(max_entities, "max_entities")
    relation_cap = _check_hops(max_relations, "max_relations", allow_none=True)

    edges = state.edges
    edges.maybe_compact()
    view = edges.view  # before the names: see the module docstring
    seed_ids = _seed_ids(state, namespace, seeds)
    found = reach(state, seed_ids, depth, direction=direction, types=types, max_nodes=entity_cap, view=view)
    rows, capped = kernels.induced_edges(view.adj, found.nodes, allowed=_mask(edges, names),
                                         max_edges=relation_cap, n_nodes=view.nodes)
    ids = rows[:, [0, 2]].ravel().tolist()
    name_list = _names(state, namespace, ids)
    type_names = edges.type_names
    relations = sorted(
        (name_list[2 * i], type_names[code], name_list[2 * i + 1]) for i, code in enumerate(rows[:, 1].tolist())
    )
    return Subgraph(_ordered(state, namespace, found), tuple(relations), found.truncated or capped)
