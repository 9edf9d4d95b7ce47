"""The derived structures of one store, loaded together, lazily, and dropped together.

Everything here can be rebuilt from the store: the key/id map, the entity-type
and relation-type bitmaps and the relation arrays. They load on first use (a
reopened store answers lookups at once) under the store's writer lock, so no
commit can land between the scan and the install; writes keep them exact; a
write through user Cypher drops them all and the next use reloads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptStore
from ..store.store import Store
from .adjacency import MAX_ID, EdgeIndex
from .bitmaps import LabelBitmaps
from .ids import IdMap

__all__ = ["Derived", "DerivedState"]


@dataclass(slots=True)
class DerivedState:
    ids: IdMap
    entity_types: LabelBitmaps
    relation_types: LabelBitmaps
    edges: EdgeIndex

    def nbytes(self) -> dict[str, int]:
        return {
            "entity_type_bitmaps": self.entity_types.nbytes(),
            "relation_type_bitmaps": self.relation_types.nbytes(),
            "relation_arrays": self.edges.nbytes(),
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
        types = entities.column("type").to_numpy(zero_copy_only=False)
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
        return DerivedState(
            ids=id_map,
            entity_types=LabelBitmaps.from_arrays(types, ids),
            relation_types=relation_types,
            edges=edges,
        )
