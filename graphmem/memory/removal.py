"""Removing entities: the statements of a hard delete and of an expiry, and the
bookkeeping after the commit. One home for what :meth:`graphmem.Memory.delete_entity`,
:meth:`~graphmem.Memory.delete_entities`, :meth:`~graphmem.Memory.expire_entity` and
the eviction of ``forget`` / ``capacity`` (:mod:`graphmem.memory.upkeep`) all do:
each calls :func:`retire`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from ..store.engine import LOOKS_UP_LIST_KEYS

if TYPE_CHECKING:
    from ..index.derived import DerivedState
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..lifecycle import AccessLog
    from ..store.store import Store, Transaction

__all__ = ["delete_in_store", "delete_plan", "expire_in_store", "forget_entities", "incident_to", "keyed", "raises_floor",
           "retire"]


def retire(store: Store, state: DerivedState, tx: Transaction, cache: EntityCache, vectors: VectorStore,
           access: AccessLog, keys: Sequence[str], *, hard: bool, now: Callable[[], datetime]) -> list[str]:  # fmt: skip
    """In the open transaction ``tx``: delete for good (``hard``) or expire these
    entities with their relations, and drop them from the derived state, the
    access statistics, the vector index and the entity cache once it commits.

    Returns the keys there were, each once: with ``hard``, those of current or
    expired entities (a delete takes the history too); without, those of current
    ones (expiring an expired entity changes nothing). ``now`` (the store's write
    clock) is read only to stamp an expiry.
    """
    ids = {key: state.ids.id_of(key) for key in dict.fromkeys(keys)}
    current = {key: id_ for key, id_ in ids.items() if id_ is not None}
    present = [key for key, id_ in ids.items() if id_ is not None or key in state.expired] if hard else list(current)
    if not present:
        return []
    incident = incident_to(state, current.values())
    if hard:
        delete_in_store(store, state, present)
    else:
        expire_in_store(store, state, present, now(), incident)

    def bookkeeping() -> None:
        forget_entities(state, access, vectors, current, incident, expire=not hard, dropped=present if hard else ())
        if hard:
            cache.written(deleted=present)  # known absent: a read answers None without the store
        else:
            cache.written(dropped=present)  # the row stays, now expired: read again on next use

    tx.after_commit(bookkeeping)
    return present


def incident_to(state: DerivedState, ids: Iterable[int]) -> set[tuple[int, int, int]]:
    """The current relations (source, code, target) with an end among ``ids``."""
    incident: set[tuple[int, int, int]] = set()
    for id_ in ids:
        incident |= state.edges.incident(id_)
    return incident


# A few keys go through the statements keyed by one entity, once per key: a
# batch statement's UNWIND of keys is planned as a join that scans every entity
# (kuzu 0.11.3 uses the primary-key index only for a key given as a parameter;
# see graphmem.query.retrieval.read_briefs). Measured on kuzu 0.11.3 at 100k
# entities: the three batch statements of a hard delete 150 ms for 10 keys
# (~0.5 us per stored entity each), a keyed statement ~0.3-0.5 ms; so keyed
# pays while keys * KEYED_PER_KEY < stored entities.
KEYED_PER_KEY = 700

# A hard delete chooses between the keyed statements and the id-bounded batch
# forms (queries/*_range.cypher: "WHERE e.id >= $lo AND e.id <= $hi AND e.key IN
# $keys", lo/hi the least and greatest id of the keys) by what each costs, from
# these figures: CPU of the statements of delete_in_store, rolled back, p50 of
# 21, 10 keys, stores of 10k/100k/1M entities with 2 relations and 0.2
# versions each (one COPY), the newest 10 entities ("clustered", as an MCP
# client deletes what it just made) or 10 random ones ("scattered"):
#
#   kuzu 0.11.3, the four statements      10k          100k          1M
#                                     clust  scat   clust  scat   clust  scat
#   UNWIND $keys ... {key: k} (before)  11.6  13.0    96.8  90.2   1155  1292
#   WHERE e.key IN $keys                 8.8   9.7    56.5  59.4    430   432
#   id bounds as parameters, IN          4.4   8.9    17.2  57.5    147   429
#   id bounds as literals, IN            6.6  16.9    19.6  56.0     22   429
#   keyed, one statement per key        16.6  22.7    16.9  28.0     22    24
#
# kuzu compares the id column far more cheaply than it matches a key in the
# list (0.14 against ~0.4 us per entity), and skips the scan's chunks outside
# literal bounds (not parameters), in chunks of about 131k entities (one at
# 100k: literals pay only their planning, ~0.5 ms a statement). On ladybug
# 0.22 (versions only: DETACH DELETE removes the relations there and the nodes
# are looked up by key) the versions statement of clustered keys is 0.74 /
# 4.25 ms at 10k / 100k with the bounds as parameters, 0.45 / 0.68 with
# literals on a bare store (it skips at a finer grain), against 1.26 keyed and
# 2.9 / 28 with UNWIND; 1.6 / 13 when scattered (~0.15 us per entity within
# the bounds). In graphmem's own store ladybug plans a literal statement far
# more slowly: benchmarks.mcp_write_probe at 10k, delete_entities forced each
# way, 3.75 ms of CPU a call with parameters, 6.0 with literals, 4.3 keyed,
# 3.8 before (UNWIND); kuzu 11.8 with either, 26.6 keyed (the model's choice,
# parameters there, took the call from 17.0 to 8.1).
#
# The model, in microseconds of CPU: DELETE_KEYED_PER_KEY, the keyed
# statements of one key on kuzu (1.7-2.8 ms measured); per engine, what one key
# keyed costs as a share of it, the batch forms' fixed cost, their planning
# when the bounds are literals, per entity compared by id only, per entity
# within the bounds, and the grain in which literal bounds skip entities (0:
# exactly). Keyed pays while keys * its cost < the cheaper batch form's.
DELETE_KEYED_PER_KEY = 2_000
_DELETE_BATCH = {
    "kuzu": (1.0, 3_000.0, 2_000.0, 0.14, 0.4, 131_072),
    "ladybug": (0.075, 450.0, 2_500.0, 0.04, 0.15, 0),
}


def delete_plan(engine: str, keys: int, stored: int, span: int) -> tuple[bool, bool]:
    """How a hard delete of ``keys`` entities from a store of ``stored``, their
    ids within ``span`` consecutive ids, costs least: whether through the keyed
    statements, and if not, whether with literal id bounds (else as parameters).

    Examples
    --------
    >>> delete_plan("kuzu", 10, 10_000, 10), delete_plan("kuzu", 1, 10_000, 1)
    ((False, False), (True, False))
    >>> delete_plan("kuzu", 10, 100_000, 90_000), delete_plan("kuzu", 50, 1_000_000, 50)
    ((True, False), (False, True))
    >>> delete_plan("ladybug", 10, 10_000, 10), delete_plan("ladybug", 10, 10_000, 9_000)
    ((False, False), (True, False))
    >>> delete_plan("ladybug", 100, 1_000_000, 100)
    (False, True)
    """
    share, fixed, planning, compared, within, grain = _DELETE_BATCH.get(engine, _DELETE_BATCH["kuzu"])
    inside = min(span, stored)
    as_parameters = fixed + compared * stored + within * inside
    as_literals = fixed + planning + compared * min(stored, inside + grain) + within * inside
    literal = as_literals < as_parameters
    return keys * share * DELETE_KEYED_PER_KEY < min(as_parameters, as_literals), literal


# The bounded forms test "e.key IN $keys" on every entity within the bounds,
# at a cost that grows with the list; the UNWIND forms (*_batch.cypher) join
# the keys, scanning the entities once. Measured on kuzu 0.11.3, 100k
# entities, keys drawn at random, the bounds spanning every id, CPU of the
# match alone (p50 of 5): 10 keys IN 17 ms / UNWIND 13; 32 keys 44 / 15; 100
# keys 122 / 12; 1,000 keys 970 / 13; 10,000 keys 9,140 / 42. A hard forget of
# half of 100k entities (50k keys in one delete) went from 14.5 s to 60 s
# with the bounded forms. So the bounded forms (delete_plan) take at most
# this many keys, the joined ones the rest, with the keyed rule of before
# (JOINED_KEYED_PER_KEY: what one key costs keyed, in stored entities scanned
# by a join).
BOUNDED_KEYS_MAX = 16
JOINED_KEYED_PER_KEY = 3_000


# What the engines' planners and DETACH DELETE do, measured (kuzu 0.11.3,
# ladybug 0.22):
# - ladybug plans "UNWIND $keys AS k MATCH (e:Entity {key: k})" with nothing
#   matched beyond e as a primary-key lookup per key (0.36 ms for 10 keys at
#   100k entities), so a delete or expiry of the nodes alone is one statement
#   for any number of keys; kuzu plans it as a join that scans every entity
#   (engine.LOOKS_UP_LIST_KEYS). Both scan for a pattern that goes on from e
#   (relations, versions).
# - kuzu's DETACH DELETE leaves some of the node's relations that COPY loaded
#   in the relation table (issue 17.3), in both directions: in random graphs of
#   300 entities (tests/test_lifecycle._history) the rows left behind had the
#   deleted node as their source, but in one of 30,000 entities and 60,000
#   relations (one COPY), 3,000 deleted in calls of 5 to 40 keys, 37 incoming
#   rows were left when only the outgoing ones went first. So kuzu deletes
#   both directions before the node. ladybug's DETACH DELETE removes both
#   (0 of 60 small graphs, 0 in the large one).
_DETACH_LEAVES_RELATIONS = frozenset({"kuzu"})


def keyed(keys: Sequence[str], stored: int, per_key: int | None = None) -> bool:
    """Whether ``keys`` should go through the one-key statements, once per key,
    rather than the batch forms, on a store of ``stored`` entities
    (``per_key``: what one key costs keyed, in stored entities scanned;
    :data:`KEYED_PER_KEY` if not given).

    Examples
    --------
    >>> keyed(["a"], 10), keyed(["a"] * 10, 1_000), keyed(["a"] * 10, 100_000)
    (True, False, True)
    """
    return len(keys) == 1 or len(keys) * (KEYED_PER_KEY if per_key is None else per_key) < stored


def delete_in_store(store: Store, state: DerivedState, keys: Sequence[str]) -> None:
    """In the open transaction: delete these entities for good, with their relations and
    history, and keep the id high-water mark (ids are never reused, across reopens too).

    Each key goes through the statements keyed by one entity, or all through
    the batch forms bounded by the least and greatest of their ids, whichever
    :func:`delete_plan` finds cheaper: keyed costs per key, a batch form
    what it scans, which literal id bounds narrow to the entities near the
    keys' ids (MCP clients mostly delete what they made last: ids close
    together). More than :data:`BOUNDED_KEYS_MAX` keys go keyed or through
    the forms that join the keys (:func:`keyed` with
    :data:`JOINED_KEYED_PER_KEY`). Each entity's history goes first, found through its
    ``VersionOf`` links (``DETACH`` would cut the links and leave the
    versions); then, on kuzu, its relations in both directions
    (:data:`_DETACH_LEAVES_RELATIONS`); then the node with ``DETACH
    DELETE``, which takes the rest of its relations.
    """
    engine = store.engine_name
    batch = list(keys)
    joined = len(batch) > BOUNDED_KEYS_MAX
    if joined:
        # Many keys: the list's IN costs per key on every row it tests, the
        # UNWIND join does not (see BOUNDED_KEYS_MAX).
        few, literal, lo, hi = keyed(batch, len(state.ids), JOINED_KEYED_PER_KEY), False, 0, _MAX_ID
    else:
        ids = [id_ for id_ in map(lambda key: _id_of(state, key), batch) if id_ is not None]
        # A key without an id is not expected (retire passes current or expired keys); then the bounds narrow nothing.
        lo, hi = (min(ids), max(ids)) if len(ids) == len(batch) else (0, _MAX_ID)
        few, literal = delete_plan(engine, len(batch), len(state.ids), hi - lo + 1)

    if few:
        for key in batch:
            store.execute("entity_versions_delete", {"key": key})
    elif joined:
        store.execute("entity_versions_delete_batch", {"keys": batch})
    else:
        store.execute_bounded("entity_versions_delete_range", {"keys": batch}, lo=lo, hi=hi, literal=literal)
    if engine in _DETACH_LEAVES_RELATIONS:
        if few:
            for key in batch:
                store.execute("entity_relations_delete_out", {"key": key})
                store.execute("entity_relations_delete_in", {"key": key})
        elif joined:
            store.execute("entity_relations_delete_out_batch", {"keys": batch})
            store.execute("entity_relations_delete_in_batch", {"keys": batch})
        else:
            store.execute_bounded("entity_relations_delete_out_range", {"keys": batch}, lo=lo, hi=hi, literal=literal)
            store.execute_bounded("entity_relations_delete_in_range", {"keys": batch}, lo=lo, hi=hi, literal=literal)
    if engine in LOOKS_UP_LIST_KEYS or (joined and not few):
        store.execute("entity_delete_batch", {"keys": batch})
    elif few:
        for key in batch:
            store.execute("entity_delete", {"key": key})
    else:
        store.execute_bounded("entity_delete_range", {"keys": batch}, lo=lo, hi=hi, literal=literal)
    if raises_floor(state, keys):
        store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})


# The greatest id bound, for keys whose ids the state does not know (the bounds then narrow nothing).
_MAX_ID = (1 << 63) - 1


def _id_of(state: DerivedState, key: str) -> int | None:
    """The id of a current or expired entity, or None."""
    id_ = state.ids.id_of(key)
    return state.expired.get(key) if id_ is None else id_


# How far raises_floor looks down from the next id for a current entity that
# outlives a delete: past it, it answers True (a write that is never wrong).
_FLOOR_PROBES = 64


def raises_floor(state: DerivedState, keys: Iterable[str]) -> bool:
    """Whether deleting ``keys`` (current or expired entities) must record the id
    high-water mark ``id_floor`` so that a reopen never hands out their ids again.

    A reopen starts new ids past ``id_floor`` and past every id the store
    still holds (:meth:`~graphmem.index.derived.Derived` rebuilds so), so
    the mark must move only when the delete takes the highest id there is:
    if an entity with a higher id outlives it, that entity keeps the ids
    below it from coming back, and a later delete of that one records the
    mark. Looks down from the next id for such an entity
    (:data:`_FLOOR_PROBES` ids at most; ids are dense, so the newest are
    usually found at once) and answers ``True`` when it finds none.

    Examples
    --------
    >>> from graphmem.index.adjacency import EdgeIndex
    >>> from graphmem.index.bitmaps import LabelBitmaps
    >>> from graphmem.index.derived import GraphState
    >>> from graphmem.index.ids import IdMap
    >>> s = GraphState(ids=IdMap.from_arrays(["a", "b", "c"], [0, 1, 2], floor=0),
    ...                entity_types=LabelBitmaps(), relation_types=LabelBitmaps(), edges=EdgeIndex())
    >>> raises_floor(s, ["a"]), raises_floor(s, ["c"]), raises_floor(s, ["b", "c"])
    (False, True, True)
    """
    ids = state.ids
    gone = {id_ for id_ in map(lambda key: _id_of(state, key), keys) if id_ is not None}
    if not gone:
        return False
    top = max(gone)
    for id_ in range(ids.next_id - 1, max(top, ids.next_id - 1 - _FLOOR_PROBES), -1):
        if id_ not in gone and ids.key_of(id_) is not None:
            return False
    return True


def expire_in_store(store: Store, state: DerivedState, keys: Sequence[str], now: datetime,
                    incident: set[tuple[int, int, int]]) -> None:  # fmt: skip
    """In the open transaction: retire these current entities and their current relations
    ``incident`` to them (the graph state's, :func:`incident_to`) at ``now``.

    A few keys go through the statements keyed by one entity, as in
    :func:`delete_in_store`, and only for the directions in which the graph
    state holds a current relation of the entity (an expiry touches current
    relations only, and the state holds exactly the store's). The entities
    themselves go in one statement on an engine that looks the keys up
    (:data:`LOOKS_UP_LIST_KEYS`).
    """
    batch = list(keys)
    if keyed(keys, len(state.ids)):
        sources = {source for source, _, _ in incident}
        targets = {target for _, _, target in incident}
        for key in keys:
            id_ = state.ids.id_of(key)
            if id_ in sources:
                store.execute("relation_expire_outgoing", {"key": key, "now": now})
            if id_ in targets:
                store.execute("relation_expire_incoming", {"key": key, "now": now})
        if store.engine_name not in LOOKS_UP_LIST_KEYS:
            for key in keys:
                store.execute("entity_expire", {"key": key, "now": now})
            return
    elif incident:
        store.execute("relation_expire_outgoing_batch", {"keys": batch, "now": now})
        store.execute("relation_expire_incoming_batch", {"keys": batch, "now": now})
    store.execute("entity_expire_batch", {"keys": batch, "now": now})


def forget_entities(state: DerivedState, access: AccessLog, vectors: VectorStore, ids: dict[str, int],
                    incident: set[tuple[int, int, int]], *, expire: bool, dropped: Iterable[str] = ()) -> None:  # fmt: skip
    """After the commit: drop deleted or expired entities (key -> id) and the relations
    ``incident`` to them from the graph state (:meth:`GraphState.remove_entities`), the
    access statistics and the vector index (when loaded)."""
    state.remove_entities(ids, incident, expire=expire, dropped=dropped)
    access.discard(ids)
    index = vectors.peek()
    if index is not None and ids:
        index.remove(np.array(list(ids.values()), np.int64))
