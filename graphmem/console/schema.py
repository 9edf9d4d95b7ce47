"""``:schema``: graphmem's data model as this store fills it, with example queries.

The examples are text for the user to copy, built from this store's most
common (type, relation, type) pattern; types are identifiers (graphmem
refuses anything else), so they sit safely inside the quotes.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from .catalog import INTERNAL_TABLES, NODE_TABLES, REL_TABLES, Catalog

__all__ = ["schema_data", "schema_renderables", "examples"]

_FALLBACK = ("Person", "WORKS_AT", "Company")

RAW_VIEW = (
    "Cypher shows the raw tables: every namespace and every version. Current facts have expired_at IS NULL "
    "(entities and relations); a namespace is the namespace property; EntityVersion holds earlier entity "
    "versions; valid_from / valid_to bound when a fact held in the world. The API (and :search, :path, "
    ":neighbors, :recall) reads only current facts of the console's namespace."
)


def examples(catalog: Catalog) -> list[tuple[str, str]]:
    """(what it does, the statement or commands) pairs in graphmem's data model."""
    patterns = catalog.common_patterns()
    source, relation, target = patterns[0][:3] if patterns else _FALLBACK
    entity_types = catalog.entity_types
    some_type = max(entity_types, key=lambda t: (entity_types[t], t)) if entity_types else source
    who = json.dumps(catalog.sample_name(source) or "NAME", ensure_ascii=False)
    composed = []
    if catalog.composed_search:
        composed = [("semantic search within two relations of an entity, with the path to each hit",
                     f":search data pipelines near={who} hops=2 k=5")]  # fmt: skip
    return [
        (f"{source} -[{relation}]-> {target}: types are properties, not labels",
         f"MATCH (a:Entity {{type:'{source}'}})-[r:Relation {{type:'{relation}'}}]->(b:Entity {{type:'{target}'}})\n"
         "RETURN a.name, b.name LIMIT 10;"),
        ("count entities by type", "MATCH (e:Entity) RETURN e.type AS type, count(*) AS n ORDER BY n DESC;"),
        (f"{some_type} entities with their text and observations",
         f"MATCH (e:Entity {{type:'{some_type}'}}) RETURN e.name, e.text, e.observations LIMIT 10;"),
        ("everything one relation away from an entity (values go in as $parameters)",
         f":param who {who}\nMATCH (e:Entity {{name: $who}})-[r:Relation]-(n:Entity)\nRETURN r.type, n.name, n.type;"),
        ("semantic search, then Cypher over the hits",
         ":search data pipelines k=5 -> hits\nMATCH (e:Entity)-[r:Relation]->(n:Entity) WHERE e.name IN $hits\n"
         "RETURN e.name, r.type, n.name;"),
        *composed,
        ("current facts of one namespace (Cypher sees every namespace and every version)",
         "MATCH (a:Entity)-[r:Relation]->(b:Entity)\n"
         "WHERE a.namespace = 'default' AND a.expired_at IS NULL AND r.expired_at IS NULL AND b.expired_at IS NULL\n"
         "RETURN a.name, r.type, b.name LIMIT 10;"),
        ("relations of each type, and what they connect",
         "MATCH (a:Entity)-[r:Relation]->(b:Entity)\n"
         "RETURN r.type AS relation, a.type AS source, b.type AS target, count(*) AS n ORDER BY n DESC;"),
    ]  # fmt: skip


def schema_data(catalog: Catalog) -> dict[str, Any]:
    tables = {}
    for name, kind in _ordered_tables(catalog):
        tables[name] = {
            "kind": kind,
            "internal": name in INTERNAL_TABLES,
            "properties": [
                {"name": c.name, "type": c.type, "primary_key": c.primary_key} for c in catalog.columns(name)
            ],
        }
    return {
        "tables": tables,
        "entity_types": catalog.entity_types,
        "relation_types": catalog.relation_types,
        "examples": [{"about": about, "query": query} for about, query in examples(catalog)],
        "raw_view": RAW_VIEW,
    }


def _counts(title: str, counts: dict[str, int]) -> RenderableType:
    if not counts:
        return Text(f"{title}: none yet", style="dim")
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="green")
    table.add_column(justify="right")
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(name, f"{count:,}")
    return Group(Text(f"{title} ({len(counts)})", style="bold"), table)


def _ordered_tables(catalog: Catalog) -> list[tuple[str, str]]:
    """Entity, Relation, then the rest (graphmem's own last)."""
    order = {name: i for i, name in enumerate((*NODE_TABLES, *REL_TABLES))}
    def rank(item: tuple[str, str]) -> tuple[bool, int, str]:
        return item[0] in INTERNAL_TABLES, order.get(item[0], len(order)), item[0]

    return sorted(catalog.tables.items(), key=rank)


def schema_renderables(catalog: Catalog) -> list[RenderableType]:
    tables = Table(title="tables", title_justify="left")
    tables.add_column("table", style="bold")
    tables.add_column("kind")
    tables.add_column("properties")
    for name, kind in _ordered_tables(catalog):
        props = Text()
        for i, column in enumerate(catalog.columns(name)):
            if i:
                props.append(", ")
            props.append(column.name, style="cyan")
            props.append(f" {column.type}" + (" (primary key)" if column.primary_key else ""), style="dim")
        shown_kind = "node" if kind == "NODE" else ("relation" if kind == "REL" else kind.lower())
        if name in REL_TABLES:
            shown_kind += ": Entity -> Entity"  # graphmem's own VersionOf links EntityVersion -> Entity
        if name in INTERNAL_TABLES:
            shown_kind += ", graphmem's own"
        tables.add_row(name, shown_kind, props)
    notes = Text(
        "key = namespace + U+001F + name (the indexed lookup); name, type, text are plain properties; "
        "properties is JSON text; embedding is the int8 vector (entities written through Cypher have none).\n"
        + RAW_VIEW,
        style="dim",
    )
    examples_out: list[RenderableType] = [Text("examples", style="bold")]
    for about, query in examples(catalog):
        examples_out.append(Text(f"-- {about}", style="dim"))
        examples_out.append(Syntax(query, "cypher", theme="ansi_dark", background_color="default", word_wrap=True))
    return [
        tables,
        notes,
        Text(""),
        _counts("entity types", catalog.entity_types),
        Text(""),
        _counts("relation types", catalog.relation_types),
        Text(""),
        Group(*examples_out),
    ]
