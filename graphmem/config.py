"""Settings of an open store, with the limits graphmem enforces."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StoreConfig", "MAX_NAME_LENGTH", "MAX_TYPE_LENGTH", "MAX_TEXT_LENGTH", "DEFAULT_NAMESPACE"]

MAX_NAME_LENGTH = 512
"""Longest entity name, in characters."""

MAX_TYPE_LENGTH = 64
"""Longest entity or relation type, in characters."""

MAX_TEXT_LENGTH = 1_000_000
"""Longest ``text`` or observation, in characters."""

DEFAULT_NAMESPACE = "default"

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """Engine and cache settings.

    The engine defaults (a buffer pool of ~80% of RAM and an 8 TB address-space
    reservation) suit a database server, not a library embedded in an agent, so
    graphmem always sets both explicitly.
    """

    buffer_pool_size: int = 512 * MiB
    max_db_size: int = 256 * GiB
    entity_cache_size: int = 10_000
    max_threads: int = 2
    copy_threshold: int = 20_000
    """New entities in a batch at least this large are written with ``COPY``
    (fast per row, ~25-75 ms fixed cost); smaller batches with ``LOAD FROM``
    an Arrow table + ``CREATE`` (~4 ms per 100 rows)."""
    relation_copy_threshold: int = 64
    """New relations in a batch at least this large are written with one
    ``COPY`` (it resolves endpoints through the primary-key index); fewer with
    one indexed ``CREATE`` per relation (~0.8 ms each on kuzu 0.11.3). Measured
    alternatives were worse: ``LOAD FROM`` + ``MATCH`` on keys plans a scan of
    every entity (~22 ms per call at 100k entities), ``UNWIND`` + ``MATCH`` a
    cross product (seconds)."""
    update_join_threshold: int = 16
    """Existing entities read or updated in a batch use one join over an Arrow
    table when there are at least this many *and* at least one per 1,000
    stored entities (the join scans the table, ~0.3 µs per stored entity:
    ~30 ms at 100k); fewer use one prepared, indexed statement per row
    (~0.2 ms each, kuzu 0.11.3)."""

    def use_join(self, rows: int, stored: int) -> bool:
        """Whether ``rows`` keyed reads/updates should be one scan-join rather than per-row lookups."""
        return rows >= max(self.update_join_threshold, stored // 1_000)
