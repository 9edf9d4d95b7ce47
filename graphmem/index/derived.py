"""The derived structures of one store, loaded together, lazily, and dropped together.

Everything here can be rebuilt from the store: the key/id map, the entity-type
and relation-type bitmaps and the relation arrays. They load on first use (a
reopened store answers lookups at once) under the store's writer lock, so no
commit can land between the scan and the install; writes keep them exact; a
write through user Cypher drops them all and the next use reloads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import CorruptStore
from ..records import micros
from ..store.store import Store
from .adjacency import MAX_ID, EdgeIndex
from .bitmaps import LabelBitmaps
from .ids import IdMap

__all__ = ["Derived", "DerivedState", "Bounds", "NEVER_BEFORE", "NEVER_AFTER"]

NEVER_BEFORE = -(1 << 62)
NEVER_AFTER = 1 << 62
"""An open end of a validity interval, in µs (far beyond any datetime)."""

Triple = tuple[int, int, int]


@dataclass(slots=True)
class Bounds:
    """The validity intervals (µs, half-open) of current facts that have one.

    Most facts are unbounded and not listed: the time views cost O(this),
    ~100 bytes per bounded fact, nothing per unbounded one.
    """

    entities: dict[int, tuple[int, int]] = field(default_factory=dict)
    relations: dict[Triple, tuple[int, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.entities and not self.relations

    def set_entity(self, id_: int, valid_from: datetime | None, valid_to: datetime | None) -> None:
        if valid_from is None and valid_to is None:
            self.entities.pop(id_, None)
        else:
            self.entities[id_] = (_us(valid_from, NEVER_BEFORE), _us(valid_to, NEVER_AFTER))

    def set_relation(self, triple: Triple, valid_from: datetime | None, valid_to: datetime | None) -> None:
        if valid_from is None and valid_to is None:
            self.relations.pop(triple, None)
        else:
            self.relations[triple] = (_us(valid_from, NEVER_BEFORE), _us(valid_to, NEVER_AFTER))

    def next_boundary(self, at: int) -> int:
        """The first validity start or end after ``at``: until then, what is valid stays the same."""
        ends = [t for pair in (*self.entities.values(), *self.relations.values()) for t in pair if t > at]
        return min(ends, default=NEVER_AFTER)


def _us(value: datetime | None, missing: int) -> int:
    return missing if value is None else micros(value)


@dataclass(slots=True)
class DerivedState:
    """The current graph in memory. ``expired`` maps the keys of expired
    entities (history, outside the id map) to their ids, so that writing the
    name again revives the row; ``generation`` counts the writes applied."""

    ids: IdMap
    entity_types: LabelBitmaps
    relation_types: LabelBitmaps
    edges: EdgeIndex
    namespaces: LabelBitmaps = field(default_factory=LabelBitmaps)
    expired: dict[str, int] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=Bounds)
    generation: int = 0
    normalized: dict[tuple[str, str], str] | None = None
    """(namespace, normalised name) -> key, built on first use by duplicate detection."""

    def nbytes(self) -> dict[str, int]:
        return {
            "entity_type_bitmaps": self.entity_types.nbytes(),
            "relation_type_bitmaps": self.relation_types.nbytes(),
            "namespace_bitmaps": self.namespaces.nbytes(),
            "relation_arrays": self.edges.nbytes(),
            "validity_bounds": 100 * (len(self.bounds.entities) + len(self.bounds.relations)),
        }


class Derived:
    """Holder that loads :class:`DerivedState` on demand."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._state: DerivedState | None = None
        self._lock = threading.Lock()
        self.loads = 0

    @property
    def loaded(self) -> bool:
        return self._state is not None

    def get(self) -> DerivedState:
        state = self._state
        if state is not None:
            return state
        with self._store.exclusive(), self._lock:
            if self._state is None:
                self._state = self._load()
                self.loads += 1
            return self._state

    def reset(self) -> None:
        with self._lock:
            self._state = None

    def _load(self) -> DerivedState:
        meta = dict(self._store.execute("meta_all"))
        entities = self._store.execute_arrow("entity_ids")
        keys = entities.column("key").to_pylist()
        ids = entities.column("id").to_numpy(zero_copy_only=False)
        if len(ids) and (ids.min() < 0 or ids.max() > MAX_ID):
            raise CorruptStore("entity ids out of range; the store was not written by graphmem")
        id_map = IdMap.from_arrays(keys, ids, floor=int(meta.get("id_floor", "0")))
        relations = self._store.execute_arrow("relation_ids")
        src = relations.column("source").to_numpy(zero_copy_only=False).astype(np.int64)
        dst = relations.column("target").to_numpy(zero_copy_only=False).astype(np.int64)
        edges = EdgeIndex.from_arrays(src, dst, relations.column("type"))
        relation_types = LabelBitmaps()  # from the index's codes: np.unique over 10M type strings took ~20 s at 5M
        for name, members in edges.type_members().items():
            relation_types.add(name, members)
        bounds = Bounds()
        for row in self._store.execute("entity_bounds"):
            bounds.set_entity(int(row[0]), row[1], row[2])
        bounded = _bounded(relations)
        if len(bounded):
            for s, d, t, start, end in zip(*(bounded.column(c).to_pylist() for c in
                                              ("source", "target", "type", "valid_from", "valid_to"))):
                bounds.set_relation((int(s), edges.code_for(t), int(d)), start, end)
        return DerivedState(
            ids=id_map,
            entity_types=LabelBitmaps.from_arrow(entities.column("type"), ids),
            relation_types=relation_types,
            edges=edges,
            namespaces=LabelBitmaps.from_arrow(entities.column("namespace"), ids),
            expired={key: int(id_) for key, id_ in self._store.execute("entity_expired_ids")},
            bounds=bounds,
        )


def _bounded(relations: pa.Table) -> pa.Table:
    """The relations with a validity bound (usually few)."""
    mask = pc.or_(pc.is_valid(relations.column("valid_from")), pc.is_valid(relations.column("valid_to")))
    return relations.filter(mask)
