"""A cache of hot entity rows that no write can leave stale.

Writers update or evict entries after their commit, under the store's writer
lock, and bump a generation number. A reader that fetched a row from the store
caches it only if no write committed while it was fetching, so a slow reader
never puts back a row that a concurrent write had already replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from cachetools import LRUCache

from ..records import EntityRow

__all__ = ["EntityCache"]


class EntityCache:
    """LRU cache of :class:`EntityRow` by key (rows are treated as immutable).

    Examples
    --------
    >>> c = EntityCache(maxsize=2)
    >>> g = c.generation
    >>> c.put_if_current("k", None, g)
    >>> c.lookup("k")
    (True, None)
    """

    def __init__(self, maxsize: int) -> None:
        self._rows: LRUCache[str, EntityRow | None] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def lookup(self, key: str) -> tuple[bool, EntityRow | None]:
        """``(True, row)`` on a hit (``row`` is ``None`` for a known-missing key)."""
        with self._lock:
            try:
                row = self._rows[key]
            except KeyError:
                self.misses += 1
                return False, None
            self.hits += 1
            return True, row

    def put_if_current(self, key: str, row: EntityRow | None, generation: int) -> None:
        """Cache a row read from the store, unless a write committed since ``generation``."""
        with self._lock:
            if generation == self.generation:
                self._rows[key] = row

    def written(self, rows: Iterable[EntityRow] = (), deleted: Iterable[str] = (), dropped: Iterable[str] = ()) -> None:
        """After a commit: the new rows, the deleted keys and the keys whose row
        changed in a way only the store knows (read again on next use)."""
        with self._lock:
            self.generation += 1
            for row in rows:
                self._rows[row.key] = row
            for key in deleted:
                self._rows[key] = None
            for key in dropped:
                self._rows.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
