"""Forgetting and deduplication (issue 8): access statistics, eviction order, name normalisation.

Access statistics
-----------------
Every read that returns an entity (``get_entity``, search hits, ``recall``)
counts as an access. Counting must not turn reads into writes: accesses are
gathered in an :class:`AccessLog` in memory and flushed to the ``Entity``
table (``access_count``, ``last_access``) in one statement by the next write
transaction, by ``flush()`` and at ``close()``. A process that dies before a
flush loses the counts since the last one (they are statistics, not facts); a
read-only memory keeps them in memory only.

Eviction order
--------------
``forget(max_entities=N, policy=...)`` keeps the ``N`` most valuable current
entities of a namespace. An entity's *recency* is its last access or its last
write, whichever is later. Least valuable first:

- ``"lru"``: oldest recency;
- ``"lfu"``: fewest accesses, then oldest recency;
- ``"importance"``: lowest caller-given importance (unset ranks lowest), then
  oldest recency.

Ties go to the older entity (smaller id), so the order is deterministic.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InvalidInput
from .index.columns import arrow_int64, arrow_strings

__all__ = ["AccessLog", "POLICIES", "check_policy", "eviction_order", "from_micros", "normalize_name", "DUPLICATE_MODES"]

POLICIES = ("lru", "lfu", "importance")
DUPLICATE_MODES = ("allow", "merge", "refuse")

_SPACES = re.compile(r"[\s_\-.]+")


def check_policy(policy: Any) -> str:
    if policy not in POLICIES:
        raise InvalidInput(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    return str(policy)


def normalize_name(name: str) -> str:
    """The form two names share when they are duplicates of each other.

    Unicode compatibility form, case folded, with runs of spaces, ``_``,
    ``-`` and ``.`` made one space and the ends trimmed. Other characters
    stay: ``"C++"`` and ``"C"`` differ.

    Examples
    --------
    >>> normalize_name("  Alice_Smith ") == normalize_name("alice-smith") == normalize_name("ALICE  SMITH")
    True
    >>> normalize_name("C++") == normalize_name("C")
    False
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


_EPOCH = datetime(1970, 1, 1)
_FOLD_AT = 1 << 16
"""Reads gathered before :class:`AccessLog` folds them into its counts (bounds
its memory, ~8 MB, in a read-only memory that never flushes)."""


def from_micros(micros: int) -> datetime:
    """The naive UTC timestamp the engine stores, from microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


class AccessLog:
    """Accesses since the last flush: per key, a count and the last access (UTC microseconds).

    A read only appends its key and the time (:func:`time.time_ns`) to two
    lists, without the lock: ``list.append`` is atomic, and a read adds its
    key before its time, so the first ``len(times)`` keys always have their
    time. Building a ``datetime``, or a locked dict update, per read cost 5-8%
    of a cached ``get_entity`` (issue 8 allows 5%). The lists are folded into
    the counts (under the lock, with C-level ``Counter.update`` and
    ``dict.update``) when they reach :data:`_FOLD_AT` entries and before any
    other method reads the counts. Two threads that read at the same moment
    may have their times swapped (they differ by the time between two
    appends); counts are exact.

    Examples
    --------
    >>> log = AccessLog()
    >>> log.record_one("k"); log.record(["k", "j"])
    >>> log.pending("k")[0], log.pending("j")[0], len(log)
    (2, 1, 2)
    >>> sorted((k, c) for k, (c, _) in log.drain().items()), len(log)
    ([('j', 1), ('k', 2)], 0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[str] = []
        self._times: list[int] = []
        self._counts: Counter[str] = Counter()
        self._last: dict[str, int] = {}  # ns

    def record_one(self, key: str) -> None:
        """One access of ``key`` (the hot path of ``get_entity``)."""
        self._keys.append(key)
        times = self._times
        times.append(time.time_ns())
        if len(times) >= _FOLD_AT:
            self._fold()

    def record(self, keys: Iterable[str]) -> None:
        """One access of each of ``keys``."""
        keys = list(keys)
        if not keys:
            return
        self._keys.extend(keys)
        self._times.extend([time.time_ns()] * len(keys))
        if len(self._times) >= _FOLD_AT:
            self._fold()

    def _fold(self) -> None:
        with self._lock:
            self._fold_locked()

    def _fold_locked(self) -> None:
        # Appends of other threads may land meanwhile: they stay after position n.
        n = len(self._times)
        if not n:
            return
        keys, times = self._keys[:n], self._times[:n]
        del self._keys[:n], self._times[:n]
        self._counts.update(keys)
        self._last.update(zip(keys, times))

    def drain(self) -> dict[str, list[Any]]:
        """Take every pending access (the caller writes them, or :meth:`restore` s them)."""
        with self._lock:
            self._fold_locked()
            counts, last = self._counts, self._last
            self._counts, self._last = Counter(), {}
        return {key: [count, last[key] // 1000] for key, count in counts.items()}

    def restore(self, drained: dict[str, list[Any]]) -> None:
        """Put back accesses whose flush failed."""
        with self._lock:
            self._fold_locked()
            for key, (count, last) in drained.items():
                self._counts[key] += count
                self._last[key] = max(self._last.get(key, 0), last * 1000)

    def pending(self, key: str) -> tuple[int, datetime | None]:
        with self._lock:
            self._fold_locked()
            count = self._counts.get(key, 0)
            return (0, None) if not count else (int(count), from_micros(self._last[key] // 1000))

    def discard(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._fold_locked()
            for key in keys:
                self._counts.pop(key, None)
                self._last.pop(key, None)

    def __len__(self) -> int:
        """How many keys have accesses pending."""
        with self._lock:
            self._fold_locked()
            return len(self._counts)

    @staticmethod
    def rows(drained: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The lists ``access_flush_rows`` reads, each led by a typed placeholder.

        Examples
        --------
        >>> rows = AccessLog.rows({"k": [3, 1_000_000]})
        >>> rows["key"][1:], rows["hits"][1:], rows["last"][1:]
        (['k'], [3], [datetime.datetime(1970, 1, 1, 0, 0, 1)])
        """
        rows: dict[str, list[Any]] = {"key": [""], "hits": [0], "last": [_EPOCH]}
        for key, (hits, last) in drained.items():
            rows["key"].append(key)
            rows["hits"].append(int(hits))
            rows["last"].append(from_micros(last))
        return rows

    @staticmethod
    def table(drained: dict[str, list[Any]]) -> pa.Table:
        """The rows ``access_flush`` reads."""
        keys = list(drained)
        # From buffers, not pa.array (it imports pandas where installed: 0.3 s
        # of a one-shot command's close, which flushes these).
        return pa.table({
            "key": arrow_strings(keys),
            "hits": arrow_int64(np.array([drained[k][0] for k in keys], np.int64)),
            "last": arrow_int64(np.array([drained[k][1] for k in keys], np.int64)).cast(pa.timestamp("us")),
        })  # fmt: skip


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(pc.cast(column, pa.timestamp("us")).cast(pa.int64()), -(1 << 62))
    return np.asarray(filled.to_numpy(zero_copy_only=False), np.int64)


def eviction_order(table: pa.Table, policy: str) -> np.ndarray:
    """Row positions of ``lifecycle_candidates`` rows, least valuable first (see the module docstring).

    Examples
    --------
    >>> t = pa.table({"id": [0, 1, 2], "access_count": [5, None, 1],
    ...               "last_access": pa.array([None, None, None], pa.timestamp("us")),
    ...               "updated_at": pa.array([3, 1, 2], pa.timestamp("us")),
    ...               "importance": pa.array([None, 2.0, 1.0], pa.float64())})
    >>> eviction_order(t, "lru").tolist(), eviction_order(t, "lfu").tolist(), eviction_order(t, "importance").tolist()
    ([1, 2, 0], [1, 2, 0], [0, 2, 1])
    """
    ids = table.column("id").to_numpy(zero_copy_only=False).astype(np.int64)
    recency = np.maximum(_micros(table.column("last_access")), _micros(table.column("updated_at")))
    if policy == "lru":
        return np.lexsort((ids, recency))
    if policy == "lfu":
        counts = pc.fill_null(table.column("access_count"), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.lexsort((ids, recency, counts))
    importance = pc.fill_null(table.column("importance"), -np.inf).to_numpy(zero_copy_only=False)
    return np.lexsort((ids, recency, importance.astype(np.float64)))
