"""``search``: every kind of it, from one entry point (:func:`search_hits`).

Without ``near=``, the plain search: the vector index's nearest ids, named from one
snapshot of the graph state, fetching more while the index knows ids the
snapshot does not (a write landed in between). Before the graph state is
loaded, :func:`search_unloaded` names the hits through the store instead.
With ``near=``, the anchors are looked up here (:func:`anchor_ids`) and the
ranking within hops of them is :func:`graphmem.query.retrieval.near_search`'s.
Also here: the ids a search may return (:func:`allowed_ids`, which ``recall``
uses too) and the query's vector (:func:`query_vector`).

The options are checked once, by :func:`search_request` (called by the
facade; the cluster backend uses :func:`graphmem.inputs.search_request`
itself); every other function takes them already checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from pyroaring import BitMap

from ..errors import InvalidInput, NotFound
from ..inputs import SearchRequest, search_request as parse_request
from ..records import entity_key, key_name, micros
from ..types import Hit
from ..validate import DIRECTIONS, RANKS, check_name, check_vector
from .retrieval import near_search

if TYPE_CHECKING:  # annotations only: importing this module loads no index, engine or model code
    from datetime import datetime

    from ..embed import Embedder
    from ..index.derived import Derived, GraphSnapshot
    from ..index.vector_store import VectorStore
    from ..index.vectors import VectorIndex
    from ..store.store import Store
    from ..temporal import TimeView, TimeViews

__all__ = ["UNLOADED_SEARCH_MAX", "allowed_ids", "anchor_ids", "plain_near", "query_vector", "search_hits",
           "search_loaded", "search_request", "search_unloaded"]  # fmt: skip

UNLOADED_SEARCH_MAX = 4096
"""A search before the graph is loaded fetches at most this many nearest
vectors looking for k of its namespace, then loads the graph instead."""


def query_vector(query: Any, embedder: Embedder | None, vector_dim: int | None, *,
                 opened: str = "opened") -> np.ndarray:  # fmt: skip
    """The vector of a search's ``query``: a text encoded by ``embedder``, or a
    vector checked against the store's dimension. ``opened`` names how the
    memory got its embedder (``"opened"``, ``"connected"``) in the error of one
    that has none."""
    if isinstance(query, str):
        if embedder is None:
            raise InvalidInput(f"this memory has no embedder ({opened} with embedder=None): search with a vector")
        if not query.strip():
            raise InvalidInput("the query text is empty")
        query = embedder.encode([query])[0]
    return check_vector(query, vector_dim, "query vector")


def plain_near(k: Any, types: Any, near: Any, max_hops: Any, direction: Any, relation_types: Any, rank: Any,
               decay: Any) -> tuple[str] | None:  # fmt: skip
    """The anchor names of the common near search, or ``None``: let
    :func:`~graphmem.inputs.search_request` parse the options (it raises for bad ones).

    The common near search: an int ``k`` >= 1, one anchor name, no type
    filters, and ``max_hops``, ``direction``, ``rank`` and a float ``decay``
    each already as ``search_request`` would return it (so the caller uses
    them as given). The name is checked here last, raising
    :class:`InvalidInput` exactly as ``search_request`` does, since every
    option it checks before the names passed. Its checks and the request it
    builds cost ~2.8 us of a ~50 us near search; these ~0.5 us.

    Examples
    --------
    >>> plain_near(10, None, "ada", 2, "both", None, "similarity", 0.5)
    ('ada',)
    >>> plain_near(10, None, ["ada"], 2, "both", None, "similarity", 0.5) is None
    True
    """
    if (type(k) is not int or k < 1 or types is not None or relation_types is not None or type(near) is not str
            or (max_hops is not None and (type(max_hops) is not int or max_hops < 0))
            or type(direction) is not str or direction not in _DIRECTION_SET or type(rank) is not str
            or rank not in _RANK_SET or type(decay) is not float or not 0.0 < decay <= 1.0):  # fmt: skip
        return None
    return (check_name(near, "near"),)


def search_request(k: Any, types: Any, near: Any, max_hops: Any, direction: Any, relation_types: Any, rank: Any,
                   decay: Any) -> SearchRequest:  # fmt: skip
    """``search``'s options checked once: the common near search's as given
    (:func:`plain_near`), any other through :func:`graphmem.inputs.search_request`.

    Examples
    --------
    >>> search_request(10, None, "ada", 2, "both", None, "similarity", 0.5).near
    ('ada',)
    """
    anchors = plain_near(k, types, near, max_hops, direction, relation_types, rank, decay)
    if anchors is not None:  # its other options are already as parsed
        # tuple.__new__: the NamedTuple's own constructor costs ~0.3 us more (of a ~50 us near search)
        return _new(SearchRequest, (k, None, anchors, max_hops, direction, None, rank, decay))
    return parse_request(k=k, types=types, near=near, max_hops=max_hops, direction=direction,
                         relation_types=relation_types, rank=rank, decay=decay)  # fmt: skip


def search_hits(store: Store, derived: Derived, vectors: VectorStore, views: TimeViews, request: SearchRequest,
                vector: np.ndarray, *, namespace: str, vector_dim: int | None, as_of: datetime | None,
                known_at: datetime | None, clock: Callable[[], datetime]) -> tuple[list[Hit], list[str]]:  # fmt: skip
    """The hits of ``search`` for ``request`` and the query's ``vector``, and their keys.

    One snapshot of the graph (at ``as_of`` / ``known_at``, through ``views``)
    serves the anchors, the neighbourhood, the type filter and the hits' names.
    ``clock`` tells now (graphmem's system clock).
    """
    # Naming hits through the store costs a scan of its ids per search (30-40 ms
    # at 1M): worth it only while loading the graph would cost more (a
    # catch-up or a rebuild); a clean saved state maps in tens of ms, once.
    if (request.near is None and request.types is None and as_of is None and known_at is None and not derived.loaded
            and not derived.saved.claims_clean):
        index = vectors.get(vector_dim)
        if index is None:
            return [], []
        unloaded = search_unloaded(store, index, namespace, vector, request.k, clock())
        if unloaded is not None:
            return unloaded
    state, view = views.graph(store, derived, as_of, known_at, clock)
    anchors = anchor_ids(state, namespace, request.near) if request.near is not None else None
    index = vectors.get(vector_dim)
    if index is None:
        return [], []
    allowed = allowed_ids(state, view, namespace, request.types)
    if allowed is not None and not allowed:
        return [], []
    if anchors is None:
        return search_loaded(state, index, vector, request.k, allowed)
    return near_search(state, index, namespace, vector, request.k, anchors=anchors, max_hops=request.max_hops,
                       direction=request.direction, relation_types=request.relation_types, allowed_types=allowed,
                       rank=request.rank, decay=request.decay)  # fmt: skip


_DIRECTION_SET = frozenset(DIRECTIONS)
_new = tuple.__new__
_RANK_SET = frozenset(RANKS)


def allowed_ids(state: GraphSnapshot, view: TimeView | None, namespace: str,
                type_filter: Iterable[str] | None) -> BitMap | None:  # fmt: skip
    """The ids a search may return: of ``type_filter``, in ``namespace``, visible
    in ``view`` (all as of the snapshot ``state``); ``None`` when every id may be."""
    allowed = None if type_filter is None else state.entity_types.union(type_filter)
    spaces = state.namespaces
    if len(spaces) > 1 or namespace not in spaces:  # else every id is ours: no filter
        mine = spaces.members(namespace)
        allowed = mine if allowed is None else allowed & mine
    if view is not None:
        allowed = view.admit(allowed, state.ids.next_id)
    return allowed


def anchor_ids(state: GraphSnapshot, namespace: str, names: tuple[str, ...]) -> list[int]:
    """The ids of ``near=``'s names (checked by :func:`~graphmem.inputs.search_request`);
    :class:`NotFound` for a name that is not an entity of ``namespace`` in ``state``."""
    ids = []
    for name in names:
        id_ = state.ids.id_of(entity_key(namespace, name))
        if id_ is None:
            raise NotFound(f"no entity named {name!r} (given in near=)")
        ids.append(id_)
    return ids


def search_loaded(state: GraphSnapshot, index: VectorIndex, vector: np.ndarray, k: int,
                  allowed: BitMap | None) -> tuple[list[Hit], list[str]]:  # fmt: skip
    """The ``k`` best hits among ``allowed`` and their keys, named from ``state``.

    The index may be newer than the snapshot (a concurrent write landed in
    between): ids the snapshot does not know are skipped, and the search
    fetches more until ``k`` known ones are found or the index runs out.
    """
    key_of = state.ids.key_of
    fetch = k
    while True:
        ids, scores = index.search(vector, fetch, allowed)
        hits = []
        keys = []
        for id_, score in zip(ids.tolist(), scores.tolist()):
            key = key_of(id_)
            if key is not None:
                keys.append(key)
                hits.append(Hit(name=key_name(key), score=float(score)))
        if len(hits) >= k or len(ids) < fetch:
            break
        fetch += 2 * (fetch - len(hits))
    return hits[:k], keys[:k]


def search_unloaded(store: Store, index: VectorIndex, namespace: str, vector: np.ndarray, k: int,
                    now: datetime) -> tuple[list[Hit], list[str]] | None:  # fmt: skip
    """A plain search (no type, anchor or time) while the graph is not loaded:
    the vector index answers, the store names the hits (one read of the
    fetched ids), so a search never waits for the whole graph to load. The
    hits and their keys; ``None`` (the caller loads the graph) when this
    namespace's hits valid at ``now`` are too rare among the nearest vectors to
    find by fetching more (:data:`UNLOADED_SEARCH_MAX`)."""
    at = micros(now)
    fetch = k
    while True:
        ids, scores = index.search(vector, fetch, None)
        rows = store.execute("search_hits", {"ids": ids.tolist()})
        found = {}
        for id_, key, space, start, end in rows:
            if space == namespace and (start is None or micros(start) <= at) and (end is None or at < micros(end)):
                found[int(id_)] = key
        hits, keys = [], []
        for id_, score in zip(ids.tolist(), scores.tolist()):
            key = found.get(id_)
            if key is not None:
                keys.append(key)
                hits.append(Hit(name=key_name(key), score=float(score)))
        if len(hits) >= k or len(ids) < fetch:
            break
        if fetch >= UNLOADED_SEARCH_MAX:
            return None
        fetch = min(UNLOADED_SEARCH_MAX, fetch + 2 * (fetch - len(hits)))
    return hits[:k], keys[:k]
