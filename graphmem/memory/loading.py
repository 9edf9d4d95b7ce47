"""What a bulk import reaches beyond the public API, for an embedded memory.

``graphmem import`` (:mod:`graphmem.interchange.transfer`) checks a whole file
column by column before it writes anything, then sends the checked columns
(:class:`~graphmem.memory.bulk.EntityBatch`, :class:`~graphmem.memory.bulk.RelationBatch`)
straight to the store, and checks the file against the store in one read
for many names. Those entry points are not public methods of
:class:`~graphmem.Memory`: their arguments are the bulk path's internal
column batches, which no user builds and a cluster backend (which writes
records) has no use for, so they stay out of :class:`graphmem.api.MemoryAPI`.
This module is their one door: the memory package owns the facade's private
members, and the interchange layer calls these functions instead of
reaching for them by name. For any other backend :func:`embedded` is false
and the importer uses the public API alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeGuard

from .facade import Memory

if TYPE_CHECKING:
    from .bulk import EntityBatch, RelationBatch

__all__ = ["embedded", "held_observations", "stored", "write_entity_batch", "write_relation_batch"]


def embedded(mem: object) -> TypeGuard[Memory]:
    """Whether ``mem`` is an embedded :class:`~graphmem.Memory` (the other functions take one).

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     embedded(mem), embedded(object())
    (True, False)
    """
    return isinstance(mem, Memory)


def write_entity_batch(mem: Memory, batch: EntityBatch) -> bool:
    """Write the checked ``batch`` through the bulk path (one transaction, ``COPY``)
    if it can take it; ``False``: nothing was written, write ``batch.records()``
    with :meth:`Memory.add_entities` (an update, an embedder, duplicates or a
    capacity need the per-record path)."""
    return mem._write_entity_batch(batch)


def write_relation_batch(mem: Memory, batch: RelationBatch) -> bool:
    """:func:`write_entity_batch` for relations (``False``: use :meth:`Memory.add_relations`)."""
    return mem._write_relation_batch(batch)


def held_observations(mem: Memory, names: list[str], *, texts: bool = False) -> dict[str, Any]:
    """For each of ``names`` that is a current entity, how many observations it holds
    (or, with ``texts``, the observations), in one statement for all the names."""
    return mem._held_observations(names, texts=texts)


def stored(mem: Memory, names: list[str]) -> list[bool]:
    """Whether :meth:`Memory.get_entity` finds each of ``names``, in one pass over the id map."""
    return mem._stored(names)
