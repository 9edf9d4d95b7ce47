"""Upkeep of a memory: forgetting, tiers, deduplication, merging, access statistics.

Plain functions over the parts an open memory holds (the store, the derived
graph state, the entity cache, the vector store, the access log), each given
explicitly: :class:`graphmem.Memory`'s public methods (``forget``,
``compact``, ``find_duplicates``, ``merge``, ``access``) check their
arguments once and call one of these. The rules they apply (eviction order,
name normalisation, the access log) live in :mod:`graphmem.lifecycle`, the
packing of the cold tier in :mod:`graphmem.tiers`; retiring entities (the
statements and the bookkeeping after the commit) is :mod:`graphmem.memory.removal`'s,
shared with ``delete_entity`` and ``expire_entity``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from ..errors import InvalidInput, NotFound
from ..lifecycle import AccessLog, check_policy, eviction_order, from_micros, normalize_name
from ..query.entity import fetch_rows
from ..records import entity_key, key_name, utcnow
from ..store.engine import LOOKS_UP_LIST_KEYS
from ..tiers import pack
from ..types import Access, Duplicate
from ..validate import check_count, check_flag, check_fraction, check_name
from . import removal
from .writes import EntityInput, RelationInput, parse_entity, parse_relation

if TYPE_CHECKING:
    from pyroaring import BitMap

    from ..index.derived import Derived, DerivedState
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..index.vectors import VectorIndex
    from ..records import EntityRow
    from ..store.store import Store, Transaction

__all__ = [
    "HOT_WINDOW",
    "access_of",
    "check_cold_after",
    "check_forget",
    "check_merge",
    "check_threshold",
    "compact",
    "deduplicate",
    "evict",
    "find_duplicates",
    "flush_access",
    "forget",
    "merge_plan",
    "purge",
]

FEW_KEYS = 8
"""On kuzu, pending accesses flushed key by key when the store's size is not
known: one keyed statement costs ~0.5 ms whatever the size, the scan 2-3 ms at
1k entities and 20-40 ms at 100k (kuzu 0.11.3)."""

ACCESS_KEYED_PER_KEY = 2_500
"""On kuzu, pending accesses of fewer keys than one per this many stored
entities are flushed key by key (:func:`access_form`)."""

ACCESS_ROWS_MAX = 512
"""Pending accesses of this many keys or more are flushed from an Arrow table
rather than plain lists (:func:`access_form`)."""

HOT_WINDOW = timedelta(days=1)
"""An entity read or written within this window is "hot" in ``stats()["tiers"]``."""


# -- the checks of the public methods (each runs once, in Memory) -----------------


def check_forget(max_entities: object, policy: object, hard: object) -> tuple[int, str, bool]:
    """``forget``'s options, checked: how many to keep, the policy, whether to delete."""
    if max_entities is None:
        raise InvalidInput("forget needs max_entities= (how many entities to keep): it has no other bound")
    keep = check_count(max_entities, "max_entities")
    return keep, check_policy(policy), check_flag(hard, "hard")


def check_cold_after(cold_after: object) -> timedelta:
    """``compact``'s ``cold_after``: a ``timedelta`` >= 0."""
    if not isinstance(cold_after, timedelta) or cold_after < timedelta(0):
        raise InvalidInput(f"cold_after must be a timedelta >= 0, not {cold_after!r}")
    return cold_after


def check_threshold(threshold: object) -> float:
    """``find_duplicates``' ``threshold``: a number in (0, 1]."""
    return check_fraction(threshold, "threshold")


def check_merge(keep: object, other: object) -> tuple[str, str]:
    """``merge``'s two names, checked and different."""
    a, b = check_name(keep, "keep"), check_name(other, "other")
    if a == b:
        raise InvalidInput("merge needs two different entities")
    return a, b


# -- access statistics -------------------------------------------------------------


def loaded_size(derived: Derived) -> int | None:
    """How many current entities the graph state holds, if it is loaded (no load for this)."""
    return len(derived.get().ids) if derived.loaded else None


def flush_access(store: Store, access: AccessLog, *, stored: int | None) -> None:
    """Inside a write transaction: the pending access statistics.

    The statements are those :func:`access_form` chooses: one keyed
    statement per entity while that costs less than one statement over them
    all, which scans on kuzu; else one list statement (``access_flush_rows``);
    a big batch reads an Arrow table (``access_flush``). ``stored`` is the
    store's size, ``None`` when it is not known without loading the graph
    state.

    Writes call it after their own checks and statements, so a write that
    graphmem refuses inside its transaction (a missing endpoint, a vector
    of the wrong dimension) has updated no row when it rolls back: rolling
    back row updates is what corrupts kuzu 0.11.3 (see
    ``_CHECKPOINT_AFTER_ROLLBACK`` in the store). If the transaction rolls
    back anyway, the statistics go back to the log instead of being lost.
    """
    drained = access.drain()
    if not drained:
        return
    with store.transaction() as tx:  # joins the caller's transaction
        tx.after_rollback(lambda: access.restore(drained))
        form = access_form(store.engine_name, len(drained), stored)
        if form == "one":
            for key, (hits, last) in drained.items():
                store.execute("access_flush_one", {"key": key, "hits": int(hits), "last": from_micros(last)})
        elif form == "rows":
            store.execute("access_flush_rows", AccessLog.rows(drained))
        else:
            store.execute("access_flush", {"rows": AccessLog.table(drained)})


def access_form(engine: str, keys: int, stored: int | None) -> Literal["one", "rows", "table"]:
    """How :func:`flush_access` writes the statistics of ``keys`` entities on
    ``engine`` with ``stored`` entities (``None``: not known): ``"one"``
    keyed statement per entity, one list statement (``"rows"``), or one
    ``LOAD FROM`` an Arrow ``"table"`` from :data:`ACCESS_ROWS_MAX` keys on.

    Each keyed statement costs ~0.5 ms whatever the store's size; the list
    statement is one primary-key lookup per key on LadybugDB 0.22, but a
    join over a scan of the entities on kuzu 0.11.3 (~2 ms plus ~0.19 us per
    stored entity), so kuzu takes the keyed form below about one key per
    :data:`ACCESS_KEYED_PER_KEY` stored entities. The list form binds no
    Arrow table, whose binding imports pandas on kuzu (0.4 s, once per
    process). Measured in a write transaction, p50 ms (``access_flush_one``
    per key / ``access_flush_rows`` / ``access_flush``)::

        engine   entities  keys   one    rows   table
        kuzu        1k        2   1.04   1.15    2.70
        kuzu        1k       50  22.3    2.88    5.49
        kuzu        1k     1000    -     9.59    5.92
        kuzu       10k        5   2.80   3.59    6.02
        kuzu       10k       10   4.23   2.89    5.98
        kuzu      100k       30  12.2   24.3    30.1
        kuzu      100k       40  19.9   20.0    19.9
        kuzu      100k       60  31.6   17.7    20.7
        kuzu      100k     1000    -    20.0    25.0
        ladybug     1k       10   1.01   0.34    2.45
        ladybug   100k        2   0.31   0.29    1.32
        ladybug   100k      200  44.5    1.73    2.17
        ladybug   100k     1000    -     5.09    5.20

    Examples
    --------
    >>> access_form("kuzu", 1, 1_000), access_form("kuzu", 10, 1_000), access_form("kuzu", 10, 100_000)
    ('one', 'rows', 'one')
    >>> access_form("ladybug", 2, None), access_form("kuzu", 2, None), access_form("ladybug", 5_000, 10)
    ('rows', 'one', 'table')
    """
    if keys <= 1:
        return "one"
    if engine not in LOOKS_UP_LIST_KEYS:
        few = keys <= FEW_KEYS if stored is None else keys * ACCESS_KEYED_PER_KEY < stored
        if few:
            return "one"
    return "rows" if keys < ACCESS_ROWS_MAX else "table"


def access_of(store: Store, access: AccessLog, key: str, name: str) -> Access:
    """How often and when the entity ``key`` (called ``name``) was read, and its tier,
    counting the reads ``access`` holds that are not flushed yet."""
    rows = store.execute("entity_access", {"key": key})
    if not rows:
        raise NotFound(f"no entity named {name!r}")
    stored, last, updated, cold = rows[0]
    pending, pending_last = access.pending(key)
    last = max((t for t in (last, pending_last) if t is not None), default=None)
    recent = max((t for t in (last, updated) if t is not None), default=None)
    tier: Literal["hot", "warm", "cold"] = (
        "cold" if cold else ("hot" if recent is not None and recent >= utcnow() - HOT_WINDOW else "warm"))
    return Access((stored or 0) + pending, None if last is None else last.replace(tzinfo=timezone.utc), tier)


# -- forgetting --------------------------------------------------------------------


def forget(store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, access: AccessLog, *,
           namespace: str, now: Callable[[], datetime], keep: int, policy: str, hard: bool) -> list[str]:  # fmt: skip
    """In one transaction: keep the ``keep`` most valuable current entities of
    ``namespace`` (by ``policy``) and retire the rest (:func:`evict`); their names,
    least valuable first. ``now`` is the store's write clock (stamps an expiry)."""
    with store.transaction() as tx:
        state = derived.get()
        flush_access(store, access, stored=len(state.ids))  # the ranking reads the statistics
        excess = len(state.namespaces.members(namespace)) - keep
        if excess <= 0:
            return []
        return evict(store, state, tx, cache, vectors, access, namespace=namespace, now=now, count=excess,
                     policy=policy, hard=hard, spare=set())  # fmt: skip


def evict(store: Store, state: DerivedState, tx: Transaction, cache: EntityCache, vectors: VectorStore,
          access: AccessLog, *, namespace: str, now: Callable[[], datetime], count: int, policy: str, hard: bool,
          spare: set[str]) -> list[str]:  # fmt: skip
    """In the open transaction ``tx``: retire the ``count`` least valuable current
    entities of ``namespace`` not in ``spare`` (keys), expired or, with ``hard``,
    deleted (:func:`graphmem.memory.removal.retire`); their names, least valuable first.
    ``forget`` and a namespace's ``capacity`` both evict through here."""
    table = store.execute_arrow("lifecycle_candidates", {"namespace": namespace})
    order = eviction_order(table, policy)
    keys = table.column("key").to_pylist()
    victims = [keys[i] for i in order.tolist() if keys[i] not in spare][:count]
    if not victims:
        return []
    retired = removal.retire(store, state, tx, cache, vectors, access, victims, hard=hard, now=now)
    return [key_name(key) for key in retired]  # the victims' order: retire keeps it


def purge(store: Store, derived: Derived, cache: EntityCache, *, namespace: str, before: datetime) -> dict[str, int]:
    """In one transaction: delete for good the history of ``namespace`` that expired
    before ``before`` (expired relations, entity versions, expired entities with
    their relations); the counts removed. Current facts are never touched."""
    params = {"namespace": namespace, "before": before}
    with store.transaction() as tx:
        state = derived.get()
        counts = {
            "relations": int(store.execute("purge_relations", params)[0][0]),
            "versions": int(store.execute("purge_versions", params)[0][0]),
        }
        counts["entities"] = int(store.execute("purge_entities", params)[0][0])
        if counts["entities"]:
            # A purged entity's id is never handed out again (as after a delete).
            store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})
        left = {key: int(id_) for key, id_ in store.execute("entity_expired_ids")}

        def bookkeeping() -> None:
            cache.written(dropped=state.replace_expired(left))

        tx.after_commit(bookkeeping)
    return counts


# -- tiers -------------------------------------------------------------------------


def compact(store: Store, derived: Derived, cache: EntityCache, access: AccessLog, *, namespace: str,
            cold_after: timedelta) -> int:  # fmt: skip
    """In one transaction: pack the entities of ``namespace`` not read or written for
    ``cold_after`` (:func:`graphmem.tiers.pack`, kept only where it saves space);
    how many were packed."""
    with store.transaction() as tx:
        flush_access(store, access, stored=loaded_size(derived))  # recency counts the reads not flushed yet
        table = store.execute_arrow("lifecycle_candidates", {"namespace": namespace})
        since = np.datetime64(utcnow() - cold_after, "us").astype(np.int64)
        last = table.column("last_access").cast(pa.timestamp("us")).cast(pa.int64()).fill_null(0)
        updated = table.column("updated_at").cast(pa.timestamp("us")).cast(pa.int64()).fill_null(0)
        recency = np.maximum(last.to_numpy(zero_copy_only=False), updated.to_numpy(zero_copy_only=False))
        cold = table.column("cold").to_numpy(zero_copy_only=False)
        keys = table.column("key").take(pa.array(np.flatnonzero((recency < since) & ~cold))).to_pylist()
        current = fetch_rows(store, cache, keys, store.config, stored=len(derived.get().ids))
        rows = []
        for key in keys:
            row = current.get(key)
            packed = None if row is None else pack(row.text, list(row.observations))
            if packed is not None:
                rows.append((key, packed))
        if rows:
            store.execute("entity_pack", {"rows": pa.table({
                "key": pa.array([k for k, _ in rows], pa.string()),
                "packed": pa.array([p for _, p in rows], pa.binary()),
                "observations": pa.array([[] for _ in rows], pa.list_(pa.string())),
            })})  # fmt: skip
        tx.after_commit(lambda: cache.written(dropped=[k for k, _ in rows]))
    return len(rows)


# -- duplicates --------------------------------------------------------------------


def deduplicate(state: DerivedState, items: list[EntityInput], *, namespace: str,
                refuse: bool) -> list[EntityInput]:  # fmt: skip
    """``items`` with each new name that normalises like a current entity's of
    ``namespace`` (or like an earlier item's) renamed to that entity; with
    ``refuse``, :class:`InvalidInput` instead (``duplicates="merge"`` / ``"refuse"``)."""
    index = state.normalized_names(normalize_name)
    seen: dict[str, str] = {}
    out = []
    for item in items:
        if entity_key(namespace, item.name) in state.ids:
            out.append(item)
            continue
        norm = normalize_name(item.name)
        existing = index.get((namespace, norm))
        existing_name = key_name(existing) if existing is not None else seen.get(norm)
        if existing_name is None or existing_name == item.name:
            seen.setdefault(norm, item.name)
            out.append(item)
        elif refuse:
            raise InvalidInput(f"{item.name!r} duplicates the entity {existing_name!r} (the same name once "
                               "normalised); nothing was written. Use that name, or open with duplicates='allow'")
        else:
            out.append(replace(item, name=existing_name))
    return out


def find_duplicates(state: DerivedState, index: VectorIndex | None, *, namespace: str, threshold: float, k: int,
                    types: tuple[str, ...] | None) -> list[Duplicate]:  # fmt: skip
    """Pairs of entities of one type (of ``types``, if given) in ``namespace``
    whose vectors in ``index`` have cosine similarity ``>= threshold``, each
    found among the other's ``k`` nearest (one batched query); best first.

    On an index large enough for HNSW, a screen comes first (:func:`_screened`):
    only the entities with a neighbour near the threshold are queried for
    their ``k`` nearest, with the index's own search breadth.
    """
    if index is None:
        return []
    mine: BitMap = state.namespaces.members(namespace) & index.labels
    if types is not None:
        mine &= state.entity_types.union(types)
    ids = np.asarray(mine.to_array(), np.int64)
    if not len(ids):
        return []
    # Type code per id (-1: not a candidate), so the pair filter is array work, not a loop per pair.
    labels = list(state.entity_types.labels())
    type_code = np.full(int(ids.max()) + 1, -1, np.int64)
    for code, name in enumerate(labels):
        members = np.asarray((state.entity_types.members(name) & mine).to_array(), np.int64)
        type_code[members] = code
    ids = _screened(index, ids, threshold=threshold, k=k)
    if not len(ids):
        return []
    near, scores = index.neighbours_of(ids, k)
    other = np.where((near >= 0) & (near < len(type_code)), near, 0)
    same = (near >= 0) & (scores >= threshold) & (type_code[other] == type_code[ids][:, None]) & (
        type_code[other] >= 0)
    rows, cols = np.nonzero(same)
    firsts, seconds, found_scores = ids[rows], near[rows, cols], scores[rows, cols]
    # One entry per unordered pair (found from both sides, it scored the same
    # twice): the last found, as a dict keyed by the pair would keep.
    low, high = np.minimum(firsts, seconds), np.maximum(firsts, seconds)
    _, last = np.unique(np.stack([low, high], axis=1)[::-1], axis=0, return_index=True)
    keep = len(low) - 1 - last
    out = []
    for id_, partner, score in zip(firsts[keep].tolist(), seconds[keep].tolist(), found_scores[keep].tolist()):
        a, b = _name_of(state, id_), _name_of(state, partner)
        if a is not None and b is not None:
            a, b = sorted((a, b))
            out.append(Duplicate(a, b, labels[type_code[id_]], round(float(score), 6)))
    return sorted(out, key=lambda d: (-d.score, d.a, d.b))


SCREEN_EF = 16
"""HNSW's search breadth for :func:`find_duplicates`' screen. An entity's
nearest neighbour is found at a small breadth (a near-duplicate is almost
always a direct link of the HNSW graph); the breadth that finds the rest of its
``k`` nearest is what costs. At 100k 384-d vectors, a self-join of all of them
took 12 s of CPU at ef 16 and 44 s at the default ef 96 (hnswlib 0.8.0, k 11).
At ef 16, 0.8% of those searches did not find their own vector (35 at ef 32):
:func:`_screened` queries those entities in full."""

SCREEN_MARGIN = 0.05
"""How far below the threshold a screened neighbour may score and still have
its entity queried in full: the screen's breadth may miss the best neighbour
and find a slightly worse one."""

SCREEN_BLOCK = 4096
"""Entities screened per step; after each, the screen is given up if most of
them passed (a low threshold): the full query alone is cheaper then."""


def _screened(index: VectorIndex, ids: np.ndarray, *, threshold: float, k: int) -> np.ndarray:
    """``ids`` that may have a neighbour scoring ``>= threshold``: those whose
    nearest other vector, found with HNSW breadth ``SCREEN_EF``, scores at
    least ``threshold - SCREEN_MARGIN``, and those whose screening search did
    not find the entity itself (:meth:`VectorIndex.screen`). All of ``ids``
    when the index answers exactly (small) or the screen would not be much
    cheaper than the full query; the unscreened rest too once more than half
    of those screened passed.

    Measured on the lifecycle suite's 100k store (384-d, k 10, brute force
    for truth): the pairs found equal those of the full query of every entity
    at thresholds 0.9, 0.8, 0.6 and 0.5 (recall 1 against brute force at each).
    """
    if len(index) <= index.params.exact_limit or 2 * SCREEN_EF > max(index.params.ef_search, k + 1):
        return ids
    passed = []
    screened = kept = 0
    for start in range(0, len(ids), SCREEN_BLOCK):
        block = ids[start:start + SCREEN_BLOCK]
        best, sure = index.screen(block, SCREEN_EF)
        # A search that did not find the entity itself lost its way: its score says nothing.
        hit = block[~sure | (best >= threshold - SCREEN_MARGIN)]
        passed.append(hit)
        screened, kept = screened + len(block), kept + len(hit)
        if 2 * kept > screened:
            passed.append(ids[start + SCREEN_BLOCK:])
            break
    return np.concatenate(passed)


def _name_of(state: DerivedState, id_: int) -> str | None:
    key = state.ids.key_of(id_)
    return None if key is None else key_name(key)


# -- merging -----------------------------------------------------------------------


def merge_plan(store: Store, state: DerivedState, row: Callable[[str], EntityRow | None], keep: str, other: str, *,
               namespace: str) -> tuple[EntityInput, list[RelationInput]]:  # fmt: skip
    """What merging ``other`` into ``keep`` writes (in the caller's transaction, before
    it expires ``other``): ``keep``'s new version and ``other``'s current relations
    re-attached to ``keep`` (one between the two is dropped, not made a self-loop).
    ``row`` reads an entity's stored row by key (through the entity cache).
    :class:`NotFound` unless both are current entities of ``namespace``;
    :class:`InvalidInput` if their types differ."""
    rows: dict[str, EntityRow] = {}
    for name in (keep, other):
        key = entity_key(namespace, name)
        found = row(key) if key in state.ids else None
        if found is None:
            raise NotFound(f"no entity named {name!r} in namespace {namespace!r}")
        rows[name] = found
    if rows[keep].type != rows[other].type:
        raise InvalidInput(f"cannot merge {other!r} ({rows[other].type}) into {keep!r} ({rows[keep].type}): "
                           "entities of different types stay apart")
    item = replace(
        parse_entity(keep, observations=rows[other].observations, text=rows[keep].text or rows[other].text),
        properties={**rows[other].properties, **rows[keep].properties},
    )
    moved = store.execute("relation_current_of", {"key": entity_key(namespace, other)})
    return item, list(_reattached(moved, keep, other))


def _reattached(moved: list[list[Any]], keep: str, other: str) -> list[RelationInput]:
    """``other``'s relations (rows of ``relation_current_of``) with ``keep`` in its place,
    their validity kept; the ones between the two left out."""
    relations = []
    for source, type_, target, props, start, end in moved:
        source, target = (keep if source == other else source), (keep if target == other else target)
        if source == target == keep:
            continue
        relation = parse_relation(source, type_, target, json.loads(props) if props else None)
        relations.append(replace(relation, valid_from=start, valid_to=end))
    return relations
