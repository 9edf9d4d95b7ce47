"""What the store holds, for completion and ``:schema``: tables, their
properties, entity and relation types with counts, the engine's functions,
and entity names by prefix.

All of it is read through the public Memory API (``stats()`` and read-only
Cypher the engine answers from its catalog). The statements are constants:
a user's prefix travels as a ``$parameter``, and the tables are graphmem's
fixed data model (``schema/001_core.cypher``), never user input.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError
from ..memory import Memory

__all__ = ["Catalog", "Column", "NODE_TABLES", "REL_TABLES"]

NODE_TABLES = ("Entity",)
REL_TABLES = ("Relation",)
INTERNAL_TABLES = ("Meta", "EntityVersion")

_SHOW_TABLES = "CALL show_tables() RETURN *"
# table_info takes a literal, not a $parameter (the binder refuses one), hence one constant per table.
_TABLE_INFO = {
    "Entity": "CALL table_info('Entity') RETURN *",
    "Relation": "CALL table_info('Relation') RETURN *",
    "Meta": "CALL table_info('Meta') RETURN *",
}
_FUNCTIONS = "CALL show_functions() RETURN DISTINCT name, type"
_NAMES_BY_PREFIX = """\
MATCH (e:Entity) WHERE lower(e.name) STARTS WITH $prefix
RETURN e.name AS name ORDER BY name LIMIT 50"""
_NAME_OF_TYPE = "MATCH (e:Entity {type: $type}) RETURN e.name ORDER BY e.id LIMIT 1"
# The commonest (source type, relation type, target type) among a sample of
# relations, so :schema's examples use this store's own types.
_COMMON_PATTERNS = """\
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WITH a.type AS source, r.type AS relation, b.type AS target LIMIT 20000
RETURN source, relation, target, count(*) AS n ORDER BY n DESC, source, relation, target LIMIT 3"""


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
            columns, rows = self._mem.cypher_table(_SHOW_TABLES)
            name, kind = columns.index("name"), columns.index("type")
            self._tables = {row[name]: row[kind] for row in rows}
        return self._tables

    def columns(self, table: str) -> list[Column]:
        """The properties of one of graphmem's tables ([] for a table it does not know)."""
        if table not in self._columns:
            query = _TABLE_INFO.get(table)
            if query is None:
                return []
            names, rows = self._mem.cypher_table(query)
            at = {n: i for i, n in enumerate(names)}
            pk = at.get("primary key")
            self._columns[table] = [
                Column(row[at["name"]], row[at["type"]], bool(row[pk]) if pk is not None else False) for row in rows
            ]
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
                _, rows = self._mem.cypher_table(_FUNCTIONS)
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
        return [row[0] for row in self._mem.cypher_table(_NAMES_BY_PREFIX, {"prefix": prefix.lower()})[1]]

    def common_patterns(self) -> list[tuple[str, str, str, int]]:
        return [(str(s), str(r), str(t), int(n)) for s, r, t, n in self._mem.cypher_table(_COMMON_PATTERNS)[1]]

    @property
    def composed_search(self) -> bool:
        """Whether this graphmem's search takes near= (composed search)."""
        return "near" in inspect.signature(self._mem.search).parameters

    def sample_name(self, entity_type: str) -> str | None:
        """The oldest entity of ``entity_type``, for examples."""
        rows = self._mem.cypher_table(_NAME_OF_TYPE, {"type": entity_type})[1]
        return rows[0][0] if rows else None
