"""Entities read by key from the store: one row through the entity cache, the
current rows of many keys, the version held at a system time, and the
observations a batch of names holds.

``get_entity`` answers through :func:`entity_at`; every other read of one
stored row (``add_entity``'s answer, ``merge``, ``history``) through
:func:`stored_row`; reads of many rows (a write's plan, ``recall``'s full rows,
``paths_between``, duplicates) through :func:`fetch_rows`. Each function
takes its arguments already checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..records import entity_from_db, entity_key, version_from_db
from ..store.engine import LOOKS_UP_LIST_KEYS
from ..temporal import held_at, valid_at
from ..tiers import unpack
from ..types import Explanation, Path

if TYPE_CHECKING:
    from ..index.derived import DerivedState
    from ..index.entity_cache import EntityCache
    from ..config import StoreConfig
    from ..records import EntityRow
    from ..store.store import Store

__all__ = ["entity_at", "explain", "fetch_rows", "held_observations", "stored_row"]


def fetch_rows(
    store: Store, cache: EntityCache, keys: Iterable[str], config: StoreConfig, *, stored: int = 0,
    remember: bool = False,
) -> dict[str, EntityRow]:
    """Current rows of existing entities: cached ones, the rest in as few statements as the size calls for
    (one ``entity_get_many`` where the engine looks its keys up or a scan pays,
    :meth:`StoreConfig.use_join`; else one ``entity_get`` per key).

    ``remember``: put the rows read into ``cache`` (reads outside a write
    transaction only: a row read inside one may yet be rolled back). Inside a
    write transaction that has written, every row is read from the store
    (:meth:`Store.wrote_here`).
    """
    generation = cache.generation
    found: dict[str, EntityRow] = {}
    missing: list[str] = []
    if store.wrote_here():  # the cache may not hold what this transaction wrote
        missing, remember = list(keys), False
    else:
        for key in keys:
            hit, row = cache.lookup(key)
            if hit and row is not None:
                found[key] = row
            else:
                missing.append(key)
    joined = len(missing) > 1 and store.engine_name in LOOKS_UP_LIST_KEYS or config.use_join(len(missing), stored)
    if not joined:
        for key in missing:
            rows = store.execute("entity_get", {"key": key})
            if rows:
                found[key] = entity_from_db(key, rows[0])
    else:
        for db_row in store.execute("entity_get_many", {"keys": missing}):
            record = entity_from_db("", db_row)
            record.key = entity_key(record.namespace, record.name)
            found[record.key] = record
    if remember:
        for key in missing:
            if key in found:
                cache.put_if_current(key, found[key], generation)
    return found


def stored_row(store: Store, cache: EntityCache, key: str) -> EntityRow | None:
    """The stored row of ``key`` (current or expired), through the entity cache."""
    hit, row = cache.lookup(key)
    if not hit:
        generation = cache.generation
        rows = store.execute("entity_get", {"key": key})
        row = entity_from_db(key, rows[0]) if rows else None
        cache.put_if_current(key, row, generation)
    return row


def entity_at(store: Store, cache: EntityCache, key: str, *, at: datetime | None, known: datetime | None,
              clock: Callable[[], datetime]) -> EntityRow | None:  # fmt: skip
    """The row ``get_entity`` answers for ``key``: the version held at system time
    ``known`` (the current one when ``None``; a retired entity is history only),
    if it is valid at world time ``at`` (``clock()`` when ``None``); else ``None``."""
    row = stored_row(store, cache, key)
    if known is None:
        if row is not None and row.expired_at is not None:
            row = None  # retired: history only
    elif row is None or not held_at(row, known):
        rows = store.execute("entity_version_at", {"key": key, "t": known})
        row = version_from_db(key, rows[0]) if rows else None
    if row is None:
        return None
    if (row.valid_from is not None or row.valid_to is not None) and not valid_at(
            row.valid_from, row.valid_to, at or clock()):
        return None
    return row


def held_observations(store: Store, state: DerivedState, namespace: str, names: Sequence[str], *,
                      texts: bool = False) -> dict[str, Any]:  # fmt: skip
    """For each name of a current entity of ``namespace`` in ``state`` (expired ones
    excluded: a write starts those afresh), how many observations it holds, or
    with ``texts`` the observations themselves; one statement for all the names."""
    keys = [key for key in (entity_key(namespace, n) for n in names) if key in state.ids]
    if not keys:
        return {}
    if texts:
        rows = store.execute("entity_get_many", {"keys": keys})
        return {row[2]: entity_from_db("", row).observations for row in rows}
    rows = store.execute("entity_observation_counts", {"keys": keys})
    return {name: count if packed is None else len(unpack(packed, name=name)[1]) for name, count, packed in rows}


def explain(paths: Sequence[Path], namespace: str,
            fetch: Callable[[list[str]], Mapping[str, EntityRow]]) -> list[Explanation]:  # fmt: skip
    """``paths_between``' answer: each path of ``namespace`` with the entities along it,
    read in one ``fetch`` of their keys (rows by key); a path with an entity no
    longer stored (a concurrent delete) is dropped."""
    keys = list(dict.fromkeys(entity_key(namespace, n) for p in paths for n in p.nodes))
    rows = fetch(keys)
    out = []
    for path in paths:
        found = [rows.get(entity_key(namespace, n)) for n in path.nodes]
        if all(row is not None for row in found):
            out.append(Explanation(path, tuple(row.to_entity() for row in found if row is not None)))
    return out
