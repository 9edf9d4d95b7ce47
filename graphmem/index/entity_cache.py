"""A cache of hot entity rows that no write can leave stale.

Writers update or evict entries after their commit, under the store's writer
lock, and bump a generation number. A reader that fetched a row from the store
caches it only if no write committed while it was fetching, so a slow reader
never puts back a row that a concurrent write had already replaced.

Beside full rows it keeps :class:`~graphmem.records.BriefRow` s, the part of
a row ``recall`` reads (a cheaper store read); every write that evicts or
replaces a key's row drops its brief too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from cachetools import LRUCache

from ..records import BriefRow, EntityRow

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
        self._briefs: LRUCache[str, BriefRow] = LRUCache(maxsize=maxsize)
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

    def lookup_brief(self, key: str) -> EntityRow | BriefRow | None:
        """The full row of ``key`` if cached, else its brief row, else ``None`` (a miss).

        Examples
        --------
        >>> c = EntityCache(maxsize=2)
        >>> c.put_brief_if_current(BriefRow("k", 1, "n", "T", None, ()), c.generation)
        >>> c.lookup_brief("k").name, c.lookup_brief("j")
        ('n', None)
        >>> c.written(dropped=["k"]); c.lookup_brief("k") is None
        True
        """
        with self._lock:
            row: EntityRow | BriefRow | None = self._rows.get(key)
            if row is None:
                row = self._briefs.get(key)
            if row is None:
                self.misses += 1
            else:
                self.hits += 1
            return row

    def put_brief_if_current(self, brief: BriefRow, generation: int) -> None:
        """Cache a brief row read from the store, unless a write committed since ``generation``."""
        with self._lock:
            if generation == self.generation:
                self._briefs[brief.key] = brief

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
            briefs = self._briefs
            for row in rows:
                self._rows[row.key] = row
                briefs.pop(row.key, None)
            for key in deleted:
                self._rows[key] = None
                briefs.pop(key, None)
            for key in dropped:
                self._rows.pop(key, None)
                briefs.pop(key, None)

    def forget(self, keys: list[str]) -> None:
        """After a commit that created ``keys``: drop what the cache holds of them
        (a name looked up before it existed is cached as missing). One set
        intersection with the cache, which is small, instead of a loop over ``keys``."""
        wanted = set(keys)
        with self._lock:
            self.generation += 1
            for key in set(self._rows) & wanted:
                del self._rows[key]
            for key in set(self._briefs) & wanted:
                del self._briefs[key]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._rows.clear()
            self._briefs.clear()

    def __len__(self) -> int:
        return len(self._rows)
