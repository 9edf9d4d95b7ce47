"""One write, one transaction: what :class:`graphmem.Memory`'s writes run after their checks.

Each function opens (or joins) a transaction, plans the write with
:mod:`graphmem.memory.writes` (one record at a time) or
:mod:`graphmem.memory.bulk` (a batch as columns), applies the namespace's
rules on the way (duplicate names, capacity and the eviction it triggers,
both in :mod:`graphmem.memory.upkeep`), flushes the pending access
statistics, and registers the bookkeeping that updates the derived state,
the entity cache and the vector index once the transaction commits. The
parts of the memory are given explicitly, as to every job of the facade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound, ReadOnlyStore
from ..records import entity_key
from ..validate import check_call_totals
from . import bulk, removal, upkeep
from .writes import (
    EntityInput,
    RelationInput,
    apply_entity_plan,
    apply_entity_vectors,
    apply_relation_plan,
    parse_entity_record,
    parse_relation_record,
    upsert_entities,
    upsert_relations,
)

if TYPE_CHECKING:
    from ..embed import Embedder
    from ..index.derived import Derived
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..records import EntityRow
    from ..store.store import Store
    from .parts import Shared

__all__ = [
    "end_relation",
    "entity_items",
    "merge",
    "relation_items",
    "remove_observations",
    "writable",
    "write_entities",
    "write_entity_batch",
    "write_relation_batch",
    "write_relations",
]


def writable(store: Store) -> None:
    """:class:`ReadOnlyStore` unless ``store`` is open for writing."""
    if store.read_only:
        raise ReadOnlyStore(f"this memory is open read-only ({store.path}); reopen it with read_only=False to write")


def flush_access(store: Store, derived: Derived, shared: Shared) -> None:
    """Inside a write transaction: the pending access statistics (:func:`upkeep.flush_access`)."""
    upkeep.flush_access(store, shared.access, stored=upkeep.loaded_size(derived))


def entity_items(records: Iterable[Any]) -> list[EntityInput]:
    """``add_entities``' records parsed one by one, the call's totals checked as they grow."""
    items = []
    observations = size = 0
    for i, record in enumerate(records):
        item = parse_entity_record(record, i)
        observations += len(item.observations or ())
        size += item.size
        check_call_totals(observations, size, i)
        items.append(item)
    return items


def relation_items(records: Iterable[Any]) -> list[RelationInput]:
    """``add_relations``' records parsed one by one, the call's total size checked as it grows."""
    items = []
    size = 0
    for i, record in enumerate(records):
        item = parse_relation_record(record, i)
        size += item.size
        check_call_totals(0, size, i)
        items.append(item)
    return items


def write_entities(store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, shared: Shared,
                   items: list[EntityInput], *, namespace: str,
                   embedder: Embedder | None) -> list[EntityInput]:  # fmt: skip
    """Write ``items`` in one transaction; returns them as written (another name
    where ``duplicates="merge"`` sent one to an existing entity).

    With a capacity, a batch adding more new entities than it refuses the
    write; one that grows the namespace past it evicts the least valuable
    others (by ``capacity_policy``), never one this write touches.
    """
    writable(store)
    with store.transaction() as tx:
        state = derived.get()
        if shared.duplicates != "allow":
            items = upkeep.deduplicate(state, items, namespace=namespace, refuse=shared.duplicates == "refuse")
        capacity = shared.capacity
        if capacity is not None:
            fresh = {i.name for i in items if entity_key(namespace, i.name) not in state.ids}
            if len(fresh) > capacity:
                raise InvalidInput(f"this batch adds {len(fresh)} entities, more than the capacity "
                                   f"({capacity}) of namespace {namespace!r}: nothing was written")
        plan = upsert_entities(
            store, state, cache, items,
            namespace=namespace, embedder=embedder, vector_dim=shared.vector_dim,
            config=store.config, now=shared.now(), defer_embedding=shared.backlog is not None,
        )  # fmt: skip
        if plan.new_dim is not None:
            store.execute("meta_set", {"key": "vector_dim", "value": str(plan.new_dim)})
        flush_access(store, derived, shared)  # after the checks above, and before eviction ranks by access

        if capacity is not None:
            grown = len(state.namespaces.members(namespace)) + len(plan.created) + len(plan.revived)
            if grown > capacity:
                upkeep.evict(store, state, tx, cache, vectors, shared.access, namespace=namespace, now=shared.now,
                             count=grown - capacity, policy=shared.capacity_policy, hard=False,
                             spare={row.key for row in plan.rows})  # fmt: skip

        def bookkeeping() -> None:
            apply_entity_plan(state, cache, plan)
            if plan.new_dim is not None:
                shared.vector_dim = plan.new_dim
            apply_entity_vectors(vectors.peek(), shared.backlog, plan)

        tx.after_commit(bookkeeping)
    return items


def write_entity_batch(store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, shared: Shared,
                       batch: bulk.EntityBatch, *, namespace: str, embedder: Embedder | None) -> bool:  # fmt: skip
    """The bulk path (:mod:`graphmem.memory.bulk`): whether it wrote ``batch``; when
    not, nothing was written and the caller takes the per-record path."""
    if shared.duplicates != "allow" or shared.capacity is not None:
        return False
    if embedder is not None and (batch.vectors is None or batch.has_vector is None or not batch.has_vector.all()
                                 or batch.vectors.shape[1] != embedder.dim):
        return False  # the embedder encodes what has no vector (writes.py), which names a wrong dimension
    writable(store)
    with store.transaction() as tx:
        state = derived.get()
        if state.normalized is not None:
            return False  # the duplicate index is kept per record (writes.py)
        now = shared.now()
        plan = bulk.write_entities(store, state, batch, namespace=namespace, config=store.config, now=now,
                                   vector_dim=shared.vector_dim)  # fmt: skip
        if plan is None:
            return False
        flush_access(store, derived, shared)

        def bookkeeping() -> None:
            if plan.new_dim is not None:
                shared.vector_dim = plan.new_dim
            bulk.apply_entities(state, cache, plan, text=(batch.name_list, batch.observations, batch.properties),
                                index=vectors.peek(), now=now, rows=bulk.written_rows(batch, plan, now))  # fmt: skip

        tx.after_commit(bookkeeping)
    return True


def remove_observations(store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, shared: Shared,
                        item: EntityInput, drop: frozenset[str], *, namespace: str,
                        embedder: Embedder | None) -> None:  # fmt: skip
    """Remove ``drop`` from the current entity ``item.name`` in one transaction
    (:class:`NotFound` if there is none); nothing to drop writes nothing."""
    writable(store)
    with store.transaction():
        if derived.get().ids.id_of(entity_key(namespace, item.name)) is None:
            raise NotFound(f"no entity named {item.name!r}")
        if drop:
            write_entities(store, derived, cache, vectors, shared, [replace(item, drop_observations=drop)],
                           namespace=namespace, embedder=embedder)  # fmt: skip


def write_relations(store: Store, derived: Derived, shared: Shared, items: list[RelationInput], *,
                    namespace: str) -> None:  # fmt: skip
    """Write ``items`` in one transaction (:class:`NotFound` for a missing end: nothing written)."""
    writable(store)
    with store.transaction() as tx:
        state = derived.get()
        plan = upsert_relations(store, state, items, namespace=namespace, config=store.config, now=shared.now())
        flush_access(store, derived, shared)  # after upsert_relations' NotFound check (see upkeep.flush_access)

        def bookkeeping() -> None:
            apply_relation_plan(state, plan)

        tx.after_commit(bookkeeping)


def write_relation_batch(store: Store, derived: Derived, shared: Shared, batch: bulk.RelationBatch, *,
                         namespace: str) -> bool:  # fmt: skip
    """The bulk path for relations; as :func:`write_entity_batch`."""
    if len(batch) < store.config.relation_copy_threshold:
        return False  # a few relations: one keyed statement each (writes.py) is cheaper than COPY
    writable(store)
    with store.transaction() as tx:
        state = derived.get()
        plan = bulk.write_relations(store, state, batch, namespace=namespace, config=store.config, now=shared.now())
        if plan is None:
            return False
        flush_access(store, derived, shared)

        def bookkeeping() -> None:
            bulk.apply_relations(state, plan, properties=batch.properties)

        tx.after_commit(bookkeeping)
    return True


def end_relation(store: Store, derived: Derived, shared: Shared, item: RelationInput, *, namespace: str,
                 expire: bool) -> bool:  # fmt: skip
    """Expire (``expire``) or delete the current relation ``item`` in one
    transaction; ``False`` if it was not current."""
    writable(store)
    with store.transaction() as tx:
        state = derived.get()
        source, target = entity_key(namespace, item.source), entity_key(namespace, item.target)
        s, d = state.ids.id_of(source), state.ids.id_of(target)
        code = state.edges.code_of(item.type)
        if s is None or d is None or code is None or not state.edges.contains(s, code, d):
            return False
        params = {"source": source, "type": item.type, "target": target}
        if expire:
            store.execute("relation_expire", {**params, "now": shared.now()})
        else:
            store.execute("relation_delete", params)

        def bookkeeping() -> None:
            state.remove_relations([(s, code, d)])

        tx.after_commit(bookkeeping)
    return True


def merge(store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, shared: Shared,
          row: Callable[[str], EntityRow | None], keep: str, other: str, *, namespace: str,
          embedder: Embedder | None) -> EntityRow:  # fmt: skip
    """Merge ``other`` into ``keep`` in one transaction (:func:`upkeep.merge_plan`
    says what is written), expire ``other``, and return ``keep``'s stored row.
    ``row`` reads an entity's stored row by key (through the entity cache)."""
    writable(store)
    with store.transaction() as tx:
        item, relations = upkeep.merge_plan(store, derived.get(), row, keep, other, namespace=namespace)
        write_entities(store, derived, cache, vectors, shared, [item], namespace=namespace, embedder=embedder)
        if relations:
            write_relations(store, derived, shared, relations, namespace=namespace)
        removal.retire(store, derived.get(), tx, cache, vectors, shared.access, [entity_key(namespace, other)],
                       hard=False, now=shared.now)  # fmt: skip
    merged = row(entity_key(namespace, keep))
    if merged is None:  # pragma: no cover - written above
        raise NotFound(keep)
    return merged
