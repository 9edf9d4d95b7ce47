"""An entity's history for the viewer's panel, bounded at a hub: the newest relation versions, a page at a time.

:meth:`graphmem.Memory.history` with a limit names every relation written
from the limit-th newest write time on, on each side. At a hub of a store
loaded in batches that is hundreds of rows (one batch gives a hub hundreds
of relations with one ``created_at``), and naming a row's other end is a
random read of the entity table (kuzu scans the node group around it:
~0.2 ms a row at 1M entities, more with a cold buffer pool, which is what
each of the viewer's per-request opens starts with). So the panel took
64 ms per request at the 1M store's largest hub, most of it naming ~240
rows to show 100.

Here a page is found in two steps per side, both bounded:

1. the ``created_at`` and engine relation id of the newest ``limit + 1``
   rows before the cursor (``view_relations_{out,in}_newest``): the
   relation's own columns only, no other end read; both sides merged in
   (``created_at``, relation id) order, newest first, a total order over
   the relation table;
2. the rows kept (at most ``limit``) with their other ends' names
   (``view_relations_{out,in}_rows``: filtered by relation id before the
   other end is read).

What is read from the other ends is O(limit) whatever the degree or the
ties; step 1 reads two columns of each of the entity's relations (~6 ms at
the 24k-relation hub of the 1M store). The cursor of the next (older) page
is the last row's (``created_at``, relation id), as text; it is good while
the store is unchanged (the engine's relation ids are its own: after a
write a page may repeat or skip rows written in the same transaction).

The entity's earlier versions come from ``entity_versions`` (a scan of the
versions table, as :meth:`Memory.history` does: it grows with the history
of the whole store, not with the degree).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from ..records import entity_key, relation_from_db, version_from_db
from ..types import Entity, Relation

__all__ = ["RelationPage", "entity_versions", "parse_cursor", "relation_page"]

_EPOCH = datetime(1970, 1, 1)
# The first page's cursor: after every write time and every relation id.
_NEWEST = (datetime(9999, 12, 31), 1 << 62)
_LAST_MICROS = (datetime.max - _EPOCH) // timedelta(microseconds=1)  # a larger cursor is no time


@dataclass(frozen=True, slots=True)
class RelationPage:
    """Relation versions touching one entity, newest first, and the cursor of the older ones.

    ``older`` is ``None`` when there is none older than the last shown;
    otherwise pass it as ``before`` to :func:`relation_page` for the next page.
    """

    relations: tuple[Relation, ...]
    older: str | None


def parse_cursor(text: str) -> tuple[datetime, int]:
    """The (write time, relation id) a cursor of :class:`RelationPage` names.

    Examples
    --------
    >>> parse_cursor("1700000000000000:42")
    (datetime.datetime(2023, 11, 14, 22, 13, 20), 42)
    >>> parse_cursor("yesterday")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: not a history cursor: 'yesterday' (pass back the 'older' of a page)
    """
    micros, sep, rel = text.partition(":")
    if (sep and all(part.isascii() and part.isdigit() and len(part) <= 18 for part in (micros, rel))
            and int(micros) <= _LAST_MICROS):  # fmt: skip
        return _EPOCH + timedelta(microseconds=int(micros)), int(rel)
    raise InvalidInput(f"not a history cursor: {text!r} (pass back the 'older' of a page)")


def _cursor(at: datetime, rel: int) -> str:
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}:{rel}"


def relation_page(store: Any, namespace: str, name: str, *, limit: int, before: str | None = None) -> RelationPage:
    """At most ``limit`` relation versions touching entity ``name`` of ``namespace``, newest first,
    older than the cursor ``before`` (``None``: the newest), read through ``store`` (a
    :class:`~graphmem.store.Store`). ``limit`` is trusted (the viewer bounds it)."""
    key = entity_key(namespace, name)
    before_at, before_id = _NEWEST if before is None else parse_cursor(before)
    params = {"key": key, "limit": limit + 1, "before_at": before_at.isoformat(sep=" "), "before_id": before_id}
    newest = sorted([(at, rel, "out") for at, rel in store.execute("view_relations_out_newest", params)]
                    + [(at, rel, "in") for at, rel in store.execute("view_relations_in_newest", params)],
                    reverse=True)  # fmt: skip
    kept = newest[:limit]
    outgoing = [rel for _, rel, side in kept if side == "out"]
    incoming = [rel for _, rel, side in kept if side == "in"]
    rows = store.execute("view_relations_out_rows", {"key": key, "ids": outgoing}) if outgoing else []
    rows += store.execute("view_relations_in_rows", {"key": key, "ids": incoming}) if incoming else []
    found = {rel: relation_from_db(source, type_, target, rest) for rel, source, type_, target, *rest in rows}
    older = _cursor(kept[-1][0], kept[-1][1]) if len(newest) > limit else None
    return RelationPage(tuple(found[rel] for _, rel, _ in kept), older)


def entity_versions(store: Any, namespace: str, name: str) -> list[Entity]:
    """The earlier versions of entity ``name`` of ``namespace``, oldest first (without the
    current row: the caller has it)."""
    key = entity_key(namespace, name)
    return [version_from_db(key, row).to_entity() for row in store.execute("entity_versions", {"key": key})]
