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

__all__ = ["delete_in_store", "expire_in_store", "forget_entities", "incident_to", "keyed", "retire"]


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
        expire_in_store(store, state, present, now())

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


def keyed(keys: Sequence[str], stored: int) -> bool:
    """Whether ``keys`` should go through the one-key statements, once per key,
    rather than the batch forms, on a store of ``stored`` entities.

    Examples
    --------
    >>> keyed(["a"], 10), keyed(["a"] * 10, 1_000), keyed(["a"] * 10, 100_000)
    (True, False, True)
    """
    return len(keys) == 1 or len(keys) * KEYED_PER_KEY < stored


def delete_in_store(store: Store, state: DerivedState, keys: Sequence[str]) -> None:
    """In the open transaction: delete these entities for good, with their relations and
    history, and keep the id high-water mark (ids are never reused, across reopens too).

    A few keys (:func:`keyed`) go through the statements keyed by one entity, so
    the cost does not grow with the store; many through the batch forms, one
    scan each. Each entity's history goes first, found through its
    ``VersionOf`` links (the engine refuses to delete a node that has
    relations, and ``DETACH`` would cut the links and leave the versions).
    """
    if keyed(keys, len(state.ids)):
        for key in keys:
            store.execute("entity_versions_delete", {"key": key})
            store.execute("entity_relations_delete_out", {"key": key})
            store.execute("entity_relations_delete_in", {"key": key})
            store.execute("entity_delete", {"key": key})
    else:
        store.execute("entity_versions_delete_batch", {"keys": list(keys)})
        store.execute("entity_relations_delete_out_batch", {"keys": list(keys)})
        store.execute("entity_relations_delete_in_batch", {"keys": list(keys)})
        store.execute("entity_delete_batch", {"keys": list(keys)})
    store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})


def expire_in_store(store: Store, state: DerivedState, keys: Sequence[str], now: datetime) -> None:
    """In the open transaction: retire these entities and their current relations at ``now``
    (a few keys through the statements keyed by one entity, as in :func:`delete_in_store`)."""
    if keyed(keys, len(state.ids)):
        for key in keys:
            store.execute("relation_expire_outgoing", {"key": key, "now": now})
            store.execute("relation_expire_incoming", {"key": key, "now": now})
            store.execute("entity_expire", {"key": key, "now": now})
        return
    store.execute("relation_expire_outgoing_batch", {"keys": list(keys), "now": now})
    store.execute("relation_expire_incoming_batch", {"keys": list(keys), "now": now})
    store.execute("entity_expire_batch", {"keys": list(keys), "now": now})


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
