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

if TYPE_CHECKING:
    from ..index.derived import DerivedState
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..lifecycle import AccessLog
    from ..store.store import Store, Transaction

__all__ = ["delete_in_store", "expire_in_store", "forget_entities", "incident_to", "keyed", "raises_floor", "retire"]


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

# The same rule for a hard delete (its own figure). Measured on kuzu 0.11.3
# (CPU of the statements of delete_in_store, rolled back, p50) while it sent
# three statements per key (no incoming delete): keyed 1.4 ms for one key, 16
# for ten at 10k entities, 30 for ten at 100k; the three batch statements
# 6.6-7.6 ms for 1-30 keys at 10k, 48-50 at 100k (~0.46 us per stored entity).
# With the incoming delete back, both sides grow by about a third (ten keys at
# 10k: the four batch statements 16 ms in benchmarks.mcp_write_probe; the two
# keyed relation deletes of ten keys 20 ms against 9.7 for their batch forms),
# so the crossover stands. Keyed pays while keys * DELETE_KEYED_PER_KEY < stored.
DELETE_KEYED_PER_KEY = 3_000

# What the engines' planners and DETACH DELETE do, measured (kuzu 0.11.3,
# ladybug 0.22):
# - ladybug plans "UNWIND $keys AS k MATCH (e:Entity {key: k})" with nothing
#   matched beyond e as a primary-key lookup per key (0.36 ms for 10 keys at
#   100k entities), so a delete or expiry of the nodes alone is one statement
#   for any number of keys; kuzu plans it as a join that scans every entity.
#   Both scan for a pattern that goes on from e (relations, versions).
_LOOKS_UP_KEYS = frozenset({"ladybug"})
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

    A few keys (:func:`keyed` with :data:`DELETE_KEYED_PER_KEY`) go through the
    statements keyed by one entity, so the cost does not grow with the store;
    many through the batch forms, one scan each. Each entity's history goes
    first, found through its ``VersionOf`` links (``DETACH`` would cut the
    links and leave the versions); then, on kuzu, its relations in both
    directions (:data:`_DETACH_LEAVES_RELATIONS`); then the node with ``DETACH
    DELETE``, which takes the rest of its relations.
    """
    engine = store.engine_name
    batch = list(keys)
    few = keyed(keys, len(state.ids), DELETE_KEYED_PER_KEY)
    if few:
        for key in keys:
            store.execute("entity_versions_delete", {"key": key})
    else:
        store.execute("entity_versions_delete_batch", {"keys": batch})
    if engine in _DETACH_LEAVES_RELATIONS:
        if few:
            for key in keys:
                store.execute("entity_relations_delete_out", {"key": key})
                store.execute("entity_relations_delete_in", {"key": key})
        else:
            store.execute("entity_relations_delete_out_batch", {"keys": batch})
            store.execute("entity_relations_delete_in_batch", {"keys": batch})
    if few and engine not in _LOOKS_UP_KEYS:
        for key in keys:
            store.execute("entity_delete", {"key": key})
    else:
        store.execute("entity_delete_batch", {"keys": batch})
    if raises_floor(state, keys):
        store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})


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
    gone: set[int] = set()
    for key in keys:
        id_ = ids.id_of(key)
        if id_ is None:
            id_ = state.expired.get(key)
        if id_ is not None:
            gone.add(id_)
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
    (:data:`_LOOKS_UP_KEYS`).
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
        if store.engine_name not in _LOOKS_UP_KEYS:
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
