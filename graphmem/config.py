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
    """Batches at least this large are written with ``COPY`` (fast per row,
    ~25 ms fixed cost); smaller ones with ``LOAD FROM`` + ``CREATE``."""
    relation_copy_threshold: int = 200
    """New relations in a batch at least this large are written with ``COPY``;
    fewer with one indexed ``CREATE`` per relation."""
    update_join_threshold: int = 16
    """Batches updating at least this many existing entities use one join
    over an Arrow table; fewer use one indexed statement per row."""
