"""Settings of an open store, with the limits graphmem enforces."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "StoreConfig", "MAX_NAME_LENGTH", "MAX_TYPE_LENGTH", "MAX_TEXT_LENGTH", "MAX_OBSERVATIONS",
    "MAX_OBSERVATIONS_PER_CALL", "MAX_PROPERTY_DEPTH", "MAX_PROPERTIES_BYTES", "MAX_RECORD_BYTES",
    "MAX_CALL_BYTES", "MAX_LINE_BYTES", "DEFAULT_NAMESPACE", "ENTITY_TYPE_KEY", "RELATION_TYPE_KEY",
]  # fmt: skip

MAX_NAME_LENGTH = 512
"""Longest entity name, in characters."""

MAX_TYPE_LENGTH = 64
"""Longest entity or relation type, in characters."""

MAX_TEXT_LENGTH = 1_000_000
"""Longest ``text`` or observation, in characters."""

# Input limits (issue 17.4). Each is checked before anything is written and
# refused with InvalidInput naming the limit. Measured before they existed: one
# import line of 12M observations took 12 GB and 72 s and then failed in the
# engine's buffer pool; properties nested 10,000 deep raised RecursionError.

MAX_OBSERVATIONS = 10_000
"""Most observations one entity holds (counted after a write appends its own)."""

MAX_OBSERVATIONS_PER_CALL = 100_000
"""Most observations one call writes, summed over its records."""

MAX_PROPERTY_DEPTH = 32
"""Deepest nesting of ``properties`` (the mapping itself is depth 1)."""

MAX_PROPERTIES_BYTES = 1 << 20
"""Largest ``properties`` of one entity or relation, as UTF-8 JSON (also after
a write merges its properties into the stored ones)."""

MAX_RECORD_BYTES = 16 << 20
"""Largest entity or relation record: name, type, text, observations and
properties, in UTF-8 bytes (also after a write appends to the stored entity)."""

MAX_CALL_BYTES = 256 << 20
"""Largest call (``add_entities`` / ``add_relations``), its records' bytes summed."""

MAX_LINE_BYTES = 32 << 20
"""Longest line ``graphmem import`` reads (2x a record's limit: room for JSON
escapes and a vector). A longer line is refused with its number, having read at
most this many bytes of it."""

DEFAULT_NAMESPACE = "default"

ENTITY_TYPE_KEY = "mcp_entity_type"
RELATION_TYPE_KEY = "mcp_relation_type"
"""The property keeping a type string as written when it is not an identifier
(``"works at"`` is stored as ``works_at``, see :func:`graphmem.validate.stored_type`):
the MCP tools and the JSONL ``mcp`` format write it; the text and relation
indexes show it."""

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """Engine and cache settings.

    The engine defaults (a buffer pool of ~80% of RAM and an 8 TB address-space
    reservation) suit a database server, not a library embedded in an agent, so
    graphmem always sets both explicitly.
    """

    buffer_pool_size: int | None = None
    """Bytes of the engine's page cache; ``None``: :meth:`pool_bytes` picks by engine."""
    max_db_size: int = 256 * GiB
    entity_cache_size: int = 10_000
    max_threads: int = 2
    copy_threshold: int = 20_000
    """New entities in a batch at least this large are written with ``COPY``
    (fast per row, ~25-75 ms fixed cost); smaller batches with ``LOAD FROM``
    an Arrow table + ``CREATE`` (~4 ms per 100 rows)."""
    relation_copy_threshold: int = 64
    """New relations in a batch at least this large are written with one
    statement (``relation_copy_from`` decides which); fewer with
    one indexed ``CREATE`` per relation (~0.8 ms each on kuzu 0.11.3): the
    batch statement's fixed cost (~20 ms at 100k entities) is worth it from
    here on. ``UNWIND`` + ``MATCH`` of both endpoints plans a cross product
    (seconds)."""
    relation_copy_from: int = 20_000
    """Batches of new relations at least this large are written with ``COPY``
    while they also hold a row per ``records.COPY_PER_STORED`` relations
    stored; others of at least ``relation_copy_threshold`` with one ``LOAD
    FROM`` and two key lookups per row, whose COMMIT does not checkpoint the
    database as a COPY's does (see :func:`graphmem.records.copies_relations`)."""
    update_join_threshold: int = 3
    """Existing entities read or updated in a batch use one join (over a list
    or an Arrow table) when there are at least this many *and* at least one
    per 1,000 stored entities; fewer use one prepared, indexed statement per
    row. On kuzu 0.11.3 the join scans the entities, the keyed read costs
    ~0.3-0.4 ms a row: full rows of k random entities (``entity_get`` per key
    / ``entity_get_many``, p50 ms) at 1k entities, 2 keys 0.64 / 0.77, 4 keys
    1.30 / 0.76, 16 keys 7.3 / 0.89; at 10k, 8 keys 2.46 / 2.83, 16 keys 4.89
    / 2.77; at 100k, 32 keys 13.5 / 38.5. (LadybugDB looks the list's keys
    up, so its reads join from two keys on: ``engine.LOOKS_UP_LIST_KEYS``.)"""

    def pool_bytes(self, engine: str) -> int:
        """The buffer pool the store opens with: ``buffer_pool_size`` if set, else
        a quarter of the machine's memory (at least 512 MiB, at most 8 GiB), on
        either engine.

        LadybugDB's checkpoint needs pool in proportion to the table it writes
        (measured, 0.22: ~1.5-2 KB per entity with a 384-d vector; with 512 MiB a
        store of ~350k such entities took no more batches). kuzu 0.11.3 loaded 1M
        in 512 MiB, its default here until updates showed otherwise: at 1M
        entities, 10 updated at random per call, the checkpoint that the changed
        rows call for (``store.CHANGED_ROW_POOL_BYTES``) itself failed with "buffer
        pool is full" within 250 calls at 512 MiB, and 400 calls took no
        checkpoint and closed cleanly with 6 GiB. The pool is address space until
        pages are used (an empty LadybugDB store: 58 MB resident with 512 MiB, 69
        MB with 6 GiB; a kuzu store of 1k entities 162 against 173 MB).

        Examples
        --------
        >>> 512 * MiB <= StoreConfig().pool_bytes("kuzu") == StoreConfig().pool_bytes("ladybug") <= 8 * GiB
        True
        >>> StoreConfig(buffer_pool_size=64 * MiB).pool_bytes("ladybug") == 64 * MiB
        True
        """
        if self.buffer_pool_size is not None:
            return self.buffer_pool_size
        try:
            memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # no sysconf: the floor
            memory = 0
        return min(max(memory // 4, 512 * MiB), 8 * GiB)

    def batch_relations(self, rows: int, stored: int) -> bool:
        """Whether ``rows`` new relations should be one batch statement rather than
        one keyed ``CREATE`` each: its endpoint lookups are a join that scans the
        entities (~0.2 µs each), so it pays from a few rows on a small store and
        from ``relation_copy_threshold`` at most. Measured on kuzu 0.11.3, 10
        relations: 4.2 against 8.1 ms of CPU at 1k entities, 24 against 10 at 100k.

        Examples
        --------
        >>> StoreConfig().batch_relations(10, 1_000), StoreConfig().batch_relations(10, 100_000)
        (True, False)
        >>> StoreConfig().batch_relations(64, 10_000_000)
        True
        """
        return rows >= min(self.relation_copy_threshold, max(4, stored // 5_000))

    def batch_updates(self, rows: int, stored: int) -> bool:
        """Whether ``rows`` updates of existing entities on kuzu, fewer than
        ``writes.UPDATE_ROWS_MAX``, should be one ``entity_update_rows`` rather
        than one keyed ``entity_update_versioned`` each: kuzu 0.11.3 finds the
        rows of the list statement by a hash join over a scan of the entities,
        ~4 ms plus ~0.11 µs per stored entity, where each keyed statement costs
        ~1 ms. Measured (``benchmarks/update_probe.py``, p50 wall, 2 shared
        cores at load 1.2-2.5): at 1k entities 2 rows 5.2 against 4.1 ms, 4
        rows 5.4 against 6.7; at 10k 4 rows 5.8 against 6.1, 10 rows 7.0
        against 11.4; at 100k 10 rows 17.5 against 10.2, 32 rows 22.5 against
        31.4 (they cross near 19).

        Examples
        --------
        >>> StoreConfig().batch_updates(2, 1_000), StoreConfig().batch_updates(3, 1_000)
        (False, True)
        >>> StoreConfig().batch_updates(10, 100_000), StoreConfig().batch_updates(20, 100_000)
        (False, True)
        """
        return rows >= max(3, stored // 5_000)

    def use_join(self, rows: int, stored: int) -> bool:
        """Whether ``rows`` keyed reads/updates should be one scan-join rather than per-row lookups."""
        return rows >= max(self.update_join_threshold, stored // 1_000)
