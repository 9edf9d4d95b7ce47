"""The path cache: answers of path queries, dropped exactly when the graph makes them wrong.

An LRU (an ``OrderedDict``: its C methods cost a fraction of a
cachetools ``LRUCache``'s Python ones, and every uncached query stores an
answer) of answers keyed by the query (kind, source id, target
id, direction, type filter, max_hops, ...). It listens to the relation index
(:meth:`graphmem.index.adjacency.EdgeIndex.attach`) and applies this rule:

**Adding** a relation of type T can shorten the path between *any* two
entities, connect two that were not connected, or add another shortest path,
whichever entities it touches: so invalidating the entries that mention its
endpoints (as some peers do) is wrong. An add drops every entry whose query
could use a T relation, i.e. with no type filter or a filter naming T; the
direction does not narrow it (every direction can use any relation, forwards
or backwards). Entries whose filter excludes T cannot see the new relation
and stay. "No path" answers are dropped too: the add may connect them.

**Removing** a relation never shortens a path or creates one. A cached answer
that does not use the removed relation is still a set of existing paths and
nothing shorter has appeared, so it stays exact; only entries that use it are
dropped. Each entry records the relations its answer uses (for all shortest
paths: every relation of the shortest-path DAG, so the answer's count is
exact too), and an inverted index maps each relation (source, type code,
target) to the keys of the entries that use it: a removal drops exactly
those, in O(1) per removed relation. "No path" answers use no relation and
survive removals. Deleting an entity removes its relations first, so the
same rule covers it. (An index from entity id to a pyroaring bitmap of entry
slots, intersected for a relation's two ends and then checked, is as exact;
it was measured ~3x slower to maintain per cached answer, which is on the
uncached query's path, for no gain in selectivity.)

**Races**: the index calls :meth:`PathCache.edges_changed` (with the new graph
version) before publishing the new graph to readers, and :meth:`put` stores
an answer only if it was computed on the graph version the cache is at. An
answer computed on an older graph while a write landed is thus never
stored, and every stored answer is as new as any graph a reader can see.

Examples
--------
>>> import numpy as np
>>> cache = PathCache(maxsize=10, version=0)
>>> cache.put(("p", 1, 3), "1-2-3", version=0, types=None, relations=[(1, 0, 2), (2, 0, 3)])
True
>>> cache.put(("p", 1, 9), None, version=0, types=None, relations=[])
True
>>> cache.edges_changed(np.empty((0, 3), np.int64), np.array([[2, 0, 3]]), 1, ["KNOWS"])  # 2 -KNOWS-> 3 deleted
>>> cache.get(("p", 1, 3)), cache.get(("p", 1, 9))
((False, None), (True, None))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..validate import check_positive_int

__all__ = ["PathCache", "DEFAULT_MAXSIZE"]

DEFAULT_MAXSIZE = 20_000
"""Entries kept (least recently used go first); a shortest-path entry holds a
few hundred bytes, so ~10 MB when full."""

Triple = tuple[int, int, int]


class _Entry(NamedTuple):
    """A cached answer with what invalidates it (a tuple: built on every uncached query)."""

    value: Any
    types: frozenset[str] | None
    relations: tuple[Triple, ...]


class PathCache:
    """Answers of path queries with exact invalidation (see the module docstring).

    Thread-safe: one lock guards the LRU and its indexes; every operation is
    short (no search runs under it).
    """

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE, *, version: int = 0) -> None:
        check_positive_int(maxsize, "maxsize")
        self._lru: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._version = version
        self._by_filter: dict[frozenset[str] | None, set[Hashable]] = {}
        self._by_relation: dict[Triple, set[Hashable]] = {}
        self.hits = 0
        self.misses = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def version(self) -> int:
        return self._version

    def get(self, key: Hashable, *, version: int | None = None) -> tuple[bool, Any]:
        """``(True, answer)`` if cached, else ``(False, None)``; with ``version``, only
        an answer for that graph version (a reader on an older snapshot computes its own)."""
        with self._lock:
            entry = self._lru.get(key)
            if entry is None or (version is not None and version != self._version):
                self.misses += 1
                return False, None
            self._lru.move_to_end(key)
            self.hits += 1
            return True, entry.value

    def put(self, key: Hashable, value: Any, *, version: int, types: frozenset[str] | None,
            relations: Iterable[Triple]) -> bool:
        """Store ``value`` computed on graph ``version``; ``types`` is the query's
        type filter (``None``: all types) and ``relations`` the (source, code,
        target) relations the answer relies on. Returns whether it was stored."""
        rels = tuple(relations)  # a path never repeats a relation; the DAG's come unique
        with self._lock:
            if version != self._version:
                return False  # computed on a graph that has changed since
            lru = self._lru
            if key in lru:
                self._remove(key)
            lru[key] = _Entry(value, types, rels)
            if len(lru) > self._maxsize:
                self._unindex(*lru.popitem(last=False))  # the least recently used
            self._by_filter.setdefault(types, set()).add(key)
            by_relation = self._by_relation
            for rel in rels:
                users = by_relation.get(rel)
                if users is None:
                    by_relation[rel] = {key}
                else:
                    users.add(key)
            return True

    def edges_changed(self, added: np.ndarray, removed: np.ndarray, version: int, type_names: Sequence[str]) -> None:
        """Apply the invalidation rule for a change, and move to graph ``version``."""
        with self._lock:
            self._version = version
            if len(added):
                names = {type_names[c] for c in np.unique(added[:, 1]).tolist()}
                for types in list(self._by_filter):
                    if types is None or not types.isdisjoint(names):
                        for key in list(self._by_filter.get(types, ())):
                            self._remove(key)
            if len(removed) and self._by_relation:
                for rel in removed.tolist():
                    for key in list(self._by_relation.get(tuple(rel), ())):
                        self._remove(key)

    def _remove(self, key: Hashable) -> None:
        entry = self._lru.pop(key)
        self._unindex(key, entry)

    def _unindex(self, key: Hashable, entry: _Entry) -> None:
        self.dropped += 1
        keys = self._by_filter.get(entry.types)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_filter[entry.types]
        for rel in entry.relations:
            users = self._by_relation.get(rel)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_relation[rel]

    def clear(self) -> None:
        with self._lock:
            for key in list(self._lru):
                self._remove(key)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._lru), "hits": self.hits, "misses": self.misses, "dropped": self.dropped}
