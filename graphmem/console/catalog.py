"""What the store holds, for completion and ``:schema``: tables, their
properties, entity and relation types with counts, the engine's functions,
and entity names by prefix.

Everything comes from the public Memory API: the counts from ``stats()``, the
tables, properties and functions from ``schema()`` (the engine's own catalog),
how types connect from ``type_summary()`` and names from ``find_names()``.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..memory import Memory
from ..types import Column, Schema

__all__ = ["Catalog", "Column", "NODE_TABLES", "REL_TABLES"]

NODE_TABLES = ("Entity",)
REL_TABLES = ("Relation",)
INTERNAL_TABLES = ("Meta", "EntityVersion", "VersionOf")

_NAMES_SHOWN = 50
"""Entity names offered for one completion."""


class Catalog:
    """Lazily read, cached; :meth:`invalidate` after a statement that may have written."""

    def __init__(self, mem: Memory) -> None:
        self._mem = mem
        self._stats: dict[str, Any] | None = None
        self._schema: Schema | None = None
        self._functions: dict[str, str] | None = None

    def invalidate(self) -> None:
        self._stats = None

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = self._mem.schema()
        return self._schema

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
        return dict(self.schema.tables)

    def columns(self, table: str) -> list[Column]:
        """The properties of one of graphmem's tables ([] for a table it does not know)."""
        return list(self.schema.columns.get(table, ()))

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
            self._functions = {}
            for name, kind in self.schema.functions:  # none from an engine that cannot list them: keywords only
                kind = str(kind).lower()
                if "scalar" in kind or "aggregate" in kind or "rewrite" in kind:
                    self._functions.setdefault(str(name).lower(), "aggregate" if "aggregate" in kind else "function")
        return self._functions

    def entity_names(self, prefix: str) -> list[str]:
        """Up to 50 names of the console's namespace starting with ``prefix`` (case-insensitive), in name order."""
        return [entry.name for entry in self._mem.find_names(prefix, limit=_NAMES_SHOWN)]

    def common_patterns(self) -> list[tuple[str, str, str, int]]:
        """The three commonest (source type, relation type, target type, count) of the console's namespace."""
        return [(s, r, t, n) for s, r, t, n in self._mem.type_summary().links
                if s is not None and t is not None][:3]  # fmt: skip

    @property
    def composed_search(self) -> bool:
        """Whether this graphmem's search takes near= (composed search)."""
        return "near" in inspect.signature(self._mem.search).parameters

    def sample_name(self, entity_type: str) -> str | None:
        """An entity of ``entity_type`` (the first by name), for examples."""
        found = self._mem.find_names(type=entity_type, limit=1)
        return found[0].name if found else None
