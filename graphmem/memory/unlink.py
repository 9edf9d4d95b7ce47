"""Hard-delete several relations in one transaction, in one statement where that pays.

The MCP ``delete_relations`` tool deletes a batch of relations in one call;
:meth:`Memory.delete_relation` deletes one per statement, and ten of those
cost 6.2 ms of engine CPU on a 10k-entity store where one
``relation_delete_batch`` costs 4.2 (kuzu 0.11.3), a third of the call's
server time. That statement's lookups join over the entities, so its cost
grows with the store (22 against 8.9 ms for the ten single ones at 100k):
the batch is chosen when the keyed way below would take many statements
(:data:`KEYED_PER_STATEMENT`), and is ``relation_delete_rows`` on
LadybugDB (:data:`BOTH_KEYS_ENGINES`), and on kuzu, from a few rows up
(:data:`COLUMNS_FROM`), ``relation_delete_columns`` (one list per field).
Otherwise the relations sharing an end
go in one statement keyed by that end (``relation_delete_into`` /
``relation_delete_from``: ~1.9 ms for ten into one entity at 100k, against
~6.3 for ten ``relation_delete``), a relation alone by both its ends. A plain function beside the facade rather than a method of it,
doing for many relations what :meth:`Memory.delete_relation` does for one
(the same checks against the derived state, the same bookkeeping after the
commit), so the facade stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .writes import parse_relation

if TYPE_CHECKING:
    from ..store.store import Store
    from .facade import Memory

__all__ = ["delete_relations"]

BOTH_KEYS_ENGINES = frozenset({"ladybug"})
"""Engines on which a batch deletes with ``relation_delete_rows``, which looks both
ends up by primary key (see the file). There one struct per row (three fields)
costs what one list per field does: 10 rows at 1k entities 0.94-1.02 against
0.93-1.05 ms (process CPU of the statement, p50 of 41, load ~2, 2026-12-07),
31 rows 1.54 against 1.38."""

COLUMNS_FROM = 5
COLUMNS_PER = 4_000
"""On kuzu a batch of at least ``COLUMNS_FROM + entities // COLUMNS_PER``
relations deletes with ``relation_delete_columns`` (one list per field, a
hash join against every relation's source key, a cost that does not grow
with the rows) rather than ``relation_delete_batch`` (a struct per row, each
crossed with a scan of the entities). Process CPU of the statement, p50 of
31-41 interleaved, kuzu 0.11.3, load 2-2.8, 2026-12-07, lists against
structs: at 1k entities 4 rows 1.64-1.83 against 1.88-2.23 ms, 10 rows
1.79-2.08 against 2.21-2.71, 31 rows 2.84-3.01 against 3.98-4.07, 200 rows
9.0 against 15.5; at 10k 4 rows 8.9-14.0 against 7.8-9.8, 10 rows 8.6-11.3
against 9.8-14.1, 31 rows 9.0-15.9 against 13.0-23.2; at 100k 20 rows 90
against 74, 31 rows 85 against 91."""


def _deletes_by_columns(rows: int, entities: int) -> bool:
    """Whether ``rows`` relations of a kuzu store of ``entities`` go by :data:`COLUMNS_FROM`'s form.

    Examples
    --------
    >>> _deletes_by_columns(10, 1_000), _deletes_by_columns(4, 10_000), _deletes_by_columns(20, 100_000)
    (True, False, False)
    """
    return rows >= COLUMNS_FROM + entities // COLUMNS_PER


def delete_relations(mem: Memory, triples: Sequence[tuple[str, str, str]]) -> list[bool]:
    """Delete each ``(source, type, target)`` for good, with its history, in one transaction.

    For each triple, whether it was a current relation (as
    :meth:`Memory.delete_relation` returns); a triple named twice is deleted
    once, and ``False`` the second time. Joins the caller's transaction when
    there is one (:meth:`Memory.apply_once`).

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entities([{"name": n} for n in ("Ada", "Bob")])
    ...     _ = mem.add_relations([("Ada", "KNOWS", "Bob")])
    ...     delete_relations(mem, [("Ada", "KNOWS", "Bob"), ("Bob", "KNOWS", "Ada"), ("Ada", "KNOWS", "Bob")])
    ...     mem.get_relation("Ada", "KNOWS", "Bob")
    [True, False, False]
    """
    items = [parse_relation(source, type_, target) for source, type_, target in triples]
    mem._writable()
    found: list[bool] = []
    with mem._store.transaction() as tx:
        state = mem._derived.get()
        gone: dict[tuple[int, int, int], None] = {}
        rows = []
        for item in items:
            source, target = mem._key(item.source), mem._key(item.target)
            s, d = state.ids.id_of(source), state.ids.id_of(target)
            code = state.edges.code_of(item.type)
            if s is None or d is None or code is None or (s, code, d) in gone or not state.edges.contains(s, code, d):
                found.append(False)
                continue
            gone[(s, code, d)] = None
            rows.append({"source": source, "type": item.type, "target": target})
            found.append(True)
        if rows:
            store = mem._store
            if _deletes_in_one(rows, len(state.ids) + len(state.edges)):
                if store.engine_name in BOTH_KEYS_ENGINES:
                    store.execute("relation_delete_rows", {"rows": rows})
                elif _deletes_by_columns(len(rows), len(state.ids)):
                    store.execute("relation_delete_columns", _columns(rows))
                else:
                    store.execute("relation_delete_batch", {"rows": rows})
            else:
                _delete_keyed(store, rows)
            removed = list(gone)

            def bookkeeping() -> None:
                state.remove_relations(removed)

            tx.after_commit(bookkeeping)
    return found


def _columns(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """``rows`` (source, type, target keys) as ``relation_delete_columns`` reads them: a list per
    field, each led by a placeholder.

    Examples
    --------
    >>> _columns([{"source": "a", "type": "T", "target": "b"}])
    {'source': ['', 'a'], 'type': ['', 'T'], 'target': ['', 'b']}
    """
    return {field: [""] + [row[field] for row in rows] for field in ("source", "type", "target")}


KEYED_PER_STATEMENT = 2_500
"""A batch of relation deletes goes in one statement only if the keyed way
(:func:`_delete_keyed`) would take at least ``max(4, (entities + relations)
// KEYED_PER_STATEMENT)`` statements. The one statement's endpoint and
relation lookups are joins over the store (its cost grows with the
entities and the relations), a keyed one costs 0.5-1.2 ms whatever the
size. Process CPU, 10 relations (p50 of 15-25, load 1.1-1.8, 2026-12-07,
5 relations per entity), one statement against keyed, into one entity /
between random entities: LadybugDB 0.22 at 1k 4.8 / 5.1 against 2.5 / 5.6
ms, at 10k 11.0 / 11.0 against 2.1 / 5.2, at 100k 111 / 108 against 2.0 /
5.5, 40 relations at 10k 15.2 / 16.1 against 4.9 / 19.4; kuzu 0.11.3 at 10k
23.3 / 24.7 against 5.8 / 12.6, at 100k 44.5 / 48.7 against 6.9 / 19.2, 40
relations at 100k 241 / 203 against 7.6 / 49.9. (The rule before counted
rows against the entities alone, so from 4 rows at 10k it chose the one
statement: 11-25 ms where the keyed way took 2-13.)"""


def _deletes_in_one(rows: list[dict[str, str]], stored: int) -> bool:
    """Whether ``rows`` go in one statement (see :data:`KEYED_PER_STATEMENT`), ``stored``
    the store's entities and relations.

    Examples
    --------
    >>> spread = [{"source": f"s{i}", "type": "T", "target": f"t{i}"} for i in range(10)]
    >>> into_one = [{"source": f"s{i}", "type": "T", "target": "t"} for i in range(10)]
    >>> _deletes_in_one(spread, 6_000), _deletes_in_one(spread, 60_000), _deletes_in_one(into_one, 6_000)
    (True, False, False)
    """
    return len(_keyed_groups(rows)[1]) >= max(4, stored // KEYED_PER_STATEMENT)


def _keyed_groups(rows: list[dict[str, str]]) -> tuple[bool, dict[str, list[dict[str, str]]]]:
    """How :func:`_delete_keyed` groups ``rows``: whether by target (else by source), and the
    groups, one statement each (the end the more rows share)."""
    by_target: dict[str, list[dict[str, str]]] = {}
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_target.setdefault(row["target"], []).append(row)
        by_source.setdefault(row["source"], []).append(row)
    into = len(by_target) <= len(by_source)
    return into, by_target if into else by_source


def _delete_keyed(store: Store, rows: list[dict[str, str]]) -> None:
    """Delete ``rows`` (source, type, target keys) through statements keyed by one entity:
    the relations sharing an end (the more shared of the two) in one statement from that
    end, a relation alone by both its ends (``relation_delete``)."""
    into, groups = _keyed_groups(rows)
    for key, group in groups.items():
        if len(group) == 1:
            store.execute("relation_delete", group[0])
        elif into:
            pairs = [r["source"] + "|" + r["type"] for r in group]
            store.execute("relation_delete_into", {"target": key, "pairs": pairs})
        else:
            pairs = [r["target"] + "|" + r["type"] for r in group]
            store.execute("relation_delete_from", {"source": key, "pairs": pairs})
