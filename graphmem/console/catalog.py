"""What the store holds, for completion and ``:schema``: tables, their
properties, entity and relation types with counts, the engine's functions,
and entity names by prefix.

The counts come from the public Memory API (``stats()``); the rest from the
named statements ``queries/catalog_*.cypher`` (read-only, mostly answered from
the engine's own catalog), run through the store's one query entry point like
every other statement graphmem runs, so they are reviewed and tested with the
rest. A user's prefix travels as a ``$parameter``; the tables are graphmem's
fixed data model (``schema/001_core.cypher``), never user input.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import QueryError
from ..memory import Memory

if TYPE_CHECKING:
    from ..store.store import Store

__all__ = ["Catalog", "Column", "NODE_TABLES", "REL_TABLES"]

NODE_TABLES = ("Entity",)
REL_TABLES = ("Relation",)
INTERNAL_TABLES = ("Meta", "EntityVersion")

# The named statement that lists each table's properties (table_info takes a
# literal table name, so there is one statement per table).
_COLUMNS = {
    "Entity": "catalog_entity_columns",
    "Relation": "catalog_relation_columns",
    "Meta": "catalog_meta_columns",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    primary_key: bool


class Catalog:
    """Lazily read, cached; :meth:`invalidate` after a statement that may have written."""

    def __init__(self, mem: Memory) -> None:
        self._mem = mem
        self._stats: dict[str, Any] | None = None
        self._tables: dict[str, str] | None = None
        self._columns: dict[str, list[Column]] = {}
        self._functions: dict[str, str] | None = None

    def invalidate(self) -> None:
        self._stats = None

    def _execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        """Rows of the named statement ``queries/<name>.cypher``. The console
        opens only embedded stores, whose Memory holds the store; the public API
        has no call for the engine's catalog, so it is reached here (read-only
        statements, nothing is written)."""
        store: Store = self._mem._store
        return store.execute(name, params)

    @property
    def stats(self) -> dict[str, Any]:
        if self._stats is None:
            self._stats = self._mem.stats()
        return self._stats

    @property
    def entity_types(self) -> dict[str, int]:
        return dict(self.stats["entity_types"])

    @property
    def relation_types(self) -> dict[str, int]:
        return dict(self.stats["relation_types"])

    @property
    def tables(self) -> dict[str, str]:
        """Table name -> "NODE" or "REL"."""
        if self._tables is None:
            self._tables = {str(name): str(kind) for name, kind in self._execute("catalog_tables")}
        return self._tables

    def columns(self, table: str) -> list[Column]:
        """The properties of one of graphmem's tables ([] for a table it does not know)."""
        if table not in self._columns:
            query = _COLUMNS.get(table)
            if query is None:
                return []
            self._columns[table] = [Column(str(name), str(kind), bool(key)) for name, kind, key in self._execute(query)]
        return self._columns[table]

    def properties(self, tables: tuple[str, ...] = NODE_TABLES + REL_TABLES) -> list[str]:
        seen: dict[str, None] = {}
        for table in tables:
            for column in self.columns(table):
                seen[column.name] = None
        return list(seen)

    @property
    def functions(self) -> dict[str, str]:
        """Function name (lower case) -> its kind, from the engine's own list."""
        if self._functions is None:
            try:
                rows = self._execute("catalog_functions")
            except QueryError:  # an engine without show_functions: complete keywords only
                rows = []
            self._functions = {}
            for name, kind in rows:
                kind = str(kind).lower()
                if "scalar" in kind or "aggregate" in kind or "rewrite" in kind:
                    self._functions.setdefault(str(name).lower(), "aggregate" if "aggregate" in kind else "function")
        return self._functions

    def entity_names(self, prefix: str) -> list[str]:
        """Up to 50 entity names starting with ``prefix`` (case-insensitive), sorted."""
        return [row[0] for row in self._execute("catalog_names_by_prefix", {"prefix": prefix.lower()})]

    def common_patterns(self) -> list[tuple[str, str, str, int]]:
        return [(str(s), str(r), str(t), int(n)) for s, r, t, n in self._execute("catalog_common_patterns")]

    @property
    def composed_search(self) -> bool:
        """Whether this graphmem's search takes near= (composed search)."""
        return "near" in inspect.signature(self._mem.search).parameters

    def sample_name(self, entity_type: str) -> str | None:
        """The oldest entity of ``entity_type``, for examples."""
        rows = self._execute("catalog_name_of_type", {"type": entity_type})
        return rows[0][0] if rows else None
