"""The store's tables as the engine lists them: :meth:`graphmem.Memory.schema`.

Read through the named statements ``queries/catalog_*.cypher`` (answered
from the engine's own catalog, read-only), for the console's completion and
``:schema``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from ..errors import QueryError
from ..types import SCHEMA_TABLES, Column, Schema

if TYPE_CHECKING:
    from ..store.store import Store

__all__ = ["read_schema"]

# The named statement that lists the properties of each of SCHEMA_TABLES
# (table_info takes a literal table name, so there is one statement per table).
_COLUMNS = {
    "Entity": "catalog_entity_columns",
    "Relation": "catalog_relation_columns",
    "Meta": "catalog_meta_columns",
}


def read_schema(store: Store) -> Schema:
    """The tables, graphmem's tables' properties and the engine's functions (see :class:`Schema`)."""
    tables = {str(name): str(kind) for name, kind in store.execute("catalog_tables")}
    columns = {
        table: tuple(Column(str(name), str(kind), bool(key)) for name, kind, key in store.execute(_COLUMNS[table]))
        for table in SCHEMA_TABLES
    }
    try:
        functions = tuple((str(name), str(kind)) for name, kind in store.execute("catalog_functions"))
    except QueryError:  # an engine without show_functions
        functions = ()
    return Schema(MappingProxyType(tables), MappingProxyType(columns), functions)
