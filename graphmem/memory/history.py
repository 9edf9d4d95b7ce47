"""An entity's history: its versions and the versions of its relations (plain functions over the store).

What :meth:`graphmem.Memory.history`, :meth:`~graphmem.Memory.relation_history`
and :meth:`~graphmem.Memory.entity_versions` read, given arguments the facade
has checked (a key, a positive limit) and, where they need it, the entity's
stored row (which the facade reads through its entity cache). Each function
reads through ``queries``: anything with the store's one query entry point,
``execute(name, params) -> rows`` (a :class:`~graphmem.store.Store`, or the
viewer's proxy over an MCP holder's share socket, which runs the same named
statements through ``cypher_query``).

Why the relation history is read in two steps per side: naming a row's other
end is a random read of the entity table (kuzu scans the node group around
it: ~0.2-0.4 ms a row at 1M entities, more with the cold buffer pool each
read-only open starts with), and a hub has tens of thousands of relations,
hundreds of them written in one batch with one ``created_at``. So a page
(:func:`relation_page`) first finds the ``created_at`` and engine relation id
of the newest ``limit + 1`` rows before the cursor on each side from the
relation's own columns (``relation_history_{out,in}_newest``), merges both
sides in (``created_at``, relation id) order, a total order, and only then
names the rows kept (``relation_history_{out,in}_rows``, filtered by id before
the other end is read): O(limit) names whatever the degree or the ties.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import NotFound
from ..records import relation_from_db, version_from_db
from ..types import Entity, EntityVersions, History, HistoryCursor, Relation, RelationHistoryPage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..records import EntityRow

__all__ = ["Queries", "entity_history", "entity_versions", "relation_page"]

# The first page's cursor: after every write time and every relation id.
_NEWEST = HistoryCursor(datetime(9999, 12, 31), 1 << 62)


class Queries(Protocol):
    """The store's one query entry point (:meth:`graphmem.store.Store.execute`)."""

    def execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]: ...


def relation_page(queries: Queries, key: str, name: str, *, limit: int, before: str | None = None
                  ) -> RelationHistoryPage:  # fmt: skip
    """At most ``limit`` versions of the relations touching the entity ``key`` (called ``name``),
    newest first, older than the cursor ``before`` (``None``: the newest).

    A self-loop is one version (the out side's). ``before`` is parsed here
    (:class:`~graphmem.errors.InvalidInput` if it is not a cursor); ``limit``
    is trusted.
    """
    start = _NEWEST if before is None else HistoryCursor.parse(before)
    # The time as text (ISO 8601, no zone: stored times are UTC) so that the statements also run
    # through an MCP holder's cypher_query, whose parameters are JSON.
    params = {"key": key, "limit": limit + 1, "before_at": start.written.isoformat(sep=" "),
              "before_id": start.relation}  # fmt: skip
    newest = sorted([(at, rel, "out") for at, rel in queries.execute("relation_history_out_newest", params)]
                    + [(at, rel, "in") for at, rel in queries.execute("relation_history_in_newest", params)],
                    reverse=True)  # fmt: skip
    kept = newest[:limit]
    outgoing = [rel for _, rel, side in kept if side == "out"]
    incoming = [rel for _, rel, side in kept if side == "in"]
    rows = queries.execute("relation_history_out_rows", {"key": key, "ids": outgoing}) if outgoing else []
    rows += queries.execute("relation_history_in_rows", {"key": key, "ids": incoming}) if incoming else []
    found = {rel: relation_from_db(source, type_, target, rest) for rel, source, type_, target, *rest in rows}
    older = str(HistoryCursor(kept[-1][0], kept[-1][1])) if len(newest) > limit else None
    return RelationHistoryPage(name, tuple(found[rel] for _, rel, _ in kept), older)


def earlier_versions(queries: Queries, key: str, *, limit: int) -> tuple[list[Entity], bool]:
    """The newest ``limit`` earlier versions of the entity ``key`` (oldest first; without its
    stored row), and whether there are older ones."""
    rows = queries.execute("entity_versions_newest", {"key": key, "limit": limit + 1})
    return [version_from_db(key, row).to_entity() for row in reversed(rows[:limit])], len(rows) > limit


def entity_versions(queries: Queries, key: str, name: str, stored: EntityRow | None, *, limit: int
                    ) -> EntityVersions:  # fmt: skip
    """The newest ``limit`` versions of the entity ``key`` (called ``name``), oldest first, its
    ``stored`` row (current or retired) last. :class:`NotFound` if there is none."""
    earlier, truncated = earlier_versions(queries, key, limit=limit if stored is None else limit - 1)
    if stored is None and not earlier:
        raise NotFound(f"no entity named {name!r}, current or past")
    if stored is not None:
        earlier.append(stored.to_entity())
    return EntityVersions(name, tuple(earlier), truncated)


def entity_history(queries: Queries, key: str, name: str, stored: EntityRow | None, *, limit: int | None
                   ) -> History:  # fmt: skip
    """Every version of the entity ``key`` (called ``name``) and of its relations, oldest first;
    with ``limit``, the newest ``limit`` of each. :class:`NotFound` if it was never written."""
    versions = [version_from_db(key, row).to_entity() for row in queries.execute("entity_versions", {"key": key})]
    if limit is None:
        rows = queries.execute("relation_history", {"key": key})
    else:
        # Two steps per side: the limit-th newest write time from the relation's own
        # columns, then the rows from that time on (the only ones whose other end is
        # read): a hub's full ORDER BY read every neighbour's name (1.3 s at a 24k hub).
        # What is left is O(limit + the relations written together with the cut's one).
        params = {"key": key, "limit": limit}
        rows = []
        cut = queries.execute("relation_history_out_cutoff", params)
        if cut:
            rows += queries.execute("relation_history_out_recent", {**params, "since": cut[-1][0]})
        cut = queries.execute("relation_history_in_cutoff", params)
        if cut:
            rows += queries.execute("relation_history_in_recent", {**params, "since": cut[-1][0]})
    relations = [relation_from_db(r[0], r[1], r[2], r[3:]) for r in rows]
    if stored is None and not versions:
        raise NotFound(f"no entity named {name!r}, current or past")
    if stored is not None:
        versions.append(stored.to_entity())
    relations.sort(key=_written)
    if limit is not None:
        versions, relations = versions[-limit:], relations[-limit:]
    return History(name, tuple(versions), tuple(relations))


def _written(r: Relation) -> tuple[datetime, str, str, str]:
    """History's order: by write time (a relation written through Cypher without one first), then the triple."""
    return (r.created_at or datetime.min, r.source, r.type, r.target)
