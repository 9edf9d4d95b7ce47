"""Removing entities: the statements of a hard delete and of an expiry, and the
bookkeeping after the commit. One home for what :meth:`graphmem.Memory.delete_entities`,
:meth:`~graphmem.Memory.expire_entity` and the eviction of ``forget`` /
``capacity`` (:mod:`graphmem.memory.upkeep`) all do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..index.derived import DerivedState
    from ..index.vector_store import VectorStore
    from ..lifecycle import AccessLog
    from ..store.store import Store

__all__ = ["delete_in_store", "expire_in_store", "forget_entities", "incident_to"]


def incident_to(state: DerivedState, ids: Iterable[int]) -> set[tuple[int, int, int]]:
    """The current relations (source, code, target) with an end among ``ids``."""
    incident: set[tuple[int, int, int]] = set()
    for id_ in ids:
        incident |= state.edges.incident(id_)
    return incident


def delete_in_store(store: Store, state: DerivedState, keys: Sequence[str]) -> None:
    """In the open transaction: delete these entities for good, with their relations and
    history, and keep the id high-water mark (ids are never reused, across reopens too)."""
    store.execute("entity_relations_delete_out_batch", {"keys": list(keys)})
    store.execute("entity_relations_delete_in_batch", {"keys": list(keys)})
    store.execute("entity_delete_batch", {"keys": list(keys)})
    store.execute("entity_versions_delete_batch", {"keys": list(keys)})
    store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})


def expire_in_store(store: Store, keys: Sequence[str], now: datetime) -> None:
    """In the open transaction: retire these entities and their current relations at ``now``."""
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
