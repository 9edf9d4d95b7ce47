"""Write planning: turn validated upserts into the fewest store statements.

Each function runs inside the caller's transaction, reads only what it must
(existing rows are taken from the entity cache or fetched in one statement),
chooses the statement by batch size (one indexed statement per row for a few
rows, a prepared ``UNWIND`` over plain rows for a small batch where the engine
allows, ``LOAD FROM`` an Arrow table for a batch, ``COPY`` for a bulk load) and
registers its in-memory bookkeeping to run after the commit, so a failed
transaction changes nothing anywhere.

Over 500 lines: the parsing, planning and applying of entity and relation
writes, which share the input types and the versioning rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..config import MAX_OBSERVATIONS, MAX_PROPERTIES_BYTES, StoreConfig
from ..embed import Embedder, entity_text
from ..errors import GraphMemError, InvalidInput, NotFound
from ..index.derived import NEVER_AFTER, NEVER_BEFORE, DerivedState
from ..index.entity_cache import EntityCache
from ..index.vector_store import epoch_us
from ..query.entity import fetch_rows
from ..records import (
    CONTENT_KEPT,
    EntityRow,
    changes_content_only,
    entity_key,
    entity_row_columns,
    entity_rows_table,
    quantize,
    small_entity_batch,
    update_row_columns,
    version_rows_table,
    versioned_update_params,
    write_new_relations,
)
from ..store.engine import LOOKS_UP_LIST_KEYS
from ..store.store import Store
from ..temporal import check_validity
from ..validate import (
    check_finite_number,
    check_flag,
    check_name,
    check_observations,
    check_properties,
    check_record_bytes,
    check_text,
    check_type,
    stored_vector,
    utf8_size,
)

if TYPE_CHECKING:
    from ..index.vectors import VectorIndex
    from .backlog import Backlog

__all__ = [
    "EntityInput",
    "RelationInput",
    "EntityPlan",
    "RelationPlan",
    "parse_entity",
    "parse_entity_record",
    "parse_relation",
    "parse_relation_record",
    "upsert_entities",
    "upsert_relations",
    "apply_entity_vectors",
    "apply_entity_plan",
    "apply_relation_plan",
]

_ENTITY_FIELDS = frozenset(
    {"name", "type", "text", "observations", "properties", "embedding", "valid_from", "valid_to", "importance"}
)
_RELATION_FIELDS = frozenset({"source", "type", "target", "properties", "valid_from", "valid_to", "replaces"})


@dataclass(frozen=True, slots=True)
class EntityInput:
    name: str
    type: str | None = None
    text: str | None = None
    observations: tuple[str, ...] | None = None
    properties: dict[str, Any] | None = None
    embedding: np.ndarray | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    drop_observations: frozenset[str] | None = None
    """Observations to remove before appending (:meth:`Memory.remove_observations`)."""
    importance: float | None = None
    size: int = 0
    """UTF-8 bytes of the record's texts (see ``check_record_bytes``), for per-call limits."""


@dataclass(frozen=True, slots=True)
class RelationInput:
    source: str
    type: str
    target: str
    properties: dict[str, Any] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    replaces: bool = False
    size: int = 0
    """UTF-8 bytes of the record's texts, for per-call limits."""


def _properties_size(properties: dict[str, Any] | None) -> int:
    return 0 if properties is None else utf8_size(_json(properties))


def parse_entity(
    name: Any,
    type: Any = None,
    text: Any = None,
    observations: Any = None,
    properties: Any = None,
    embedding: Any = None,
    valid_from: Any = None,
    valid_to: Any = None,
    importance: Any = None,
) -> EntityInput:
    """Validate one entity upsert."""
    start, end = check_validity(valid_from, valid_to)
    importance = None if importance is None else check_finite_number(importance, "importance")
    name = check_name(name)
    type = None if type is None else check_type(type, "entity type")
    text = check_text(text)
    observations = check_observations(observations)
    properties = check_properties(properties)
    size = check_record_bytes(f"entity {name!r}", name, type, text, observations,
                              extra=_properties_size(properties))  # fmt: skip
    return EntityInput(
        name=name,
        type=type,
        text=text,
        observations=observations,
        properties=properties,
        embedding=None if embedding is None else stored_vector(embedding, None),
        valid_from=start,
        valid_to=end,
        importance=importance,
        size=size,
    )


def parse_entity_record(record: Any, position: int) -> EntityInput:
    if not isinstance(record, Mapping):
        raise InvalidInput(f"entity #{position} must be a dict with a 'name', not {type(record).__name__}")
    unknown = set(record) - _ENTITY_FIELDS
    if unknown:
        raise InvalidInput(f"entity #{position} has unknown field(s) {sorted(map(str, unknown))}; "
                           f"allowed: {sorted(_ENTITY_FIELDS)}")
    if "name" not in record:
        raise InvalidInput(f"entity #{position} has no 'name'")
    try:
        return parse_entity(**record)
    except InvalidInput as exc:
        raise InvalidInput(f"entity #{position}: {exc}") from None


def parse_relation(
    source: Any, type: Any, target: Any, properties: Any = None, valid_from: Any = None, valid_to: Any = None,
    replaces: Any = False,
) -> RelationInput:  # fmt: skip
    """Validate one relation upsert."""
    check_flag(replaces, "replaces")
    start, end = check_validity(valid_from, valid_to)
    source = check_name(source, "source")
    type = check_type(type, "relation type")
    target = check_name(target, "target")
    properties = check_properties(properties)
    size = check_record_bytes(f"relation {source!r} -[{type}]-> {target!r}", source, type, target,
                              extra=_properties_size(properties))  # fmt: skip
    return RelationInput(
        source=source,
        type=type,
        target=target,
        properties=properties,
        valid_from=start,
        valid_to=end,
        replaces=replaces,
        size=size,
    )


def parse_relation_record(record: Any, position: int) -> RelationInput:
    try:
        if isinstance(record, Mapping):
            unknown = set(record) - _RELATION_FIELDS
            if unknown:
                raise InvalidInput(f"unknown field(s) {sorted(map(str, unknown))}; allowed: {sorted(_RELATION_FIELDS)}")
            missing = {"source", "type", "target"} - set(record)
            if missing:
                raise InvalidInput(f"missing field(s) {sorted(missing)}")
            return parse_relation(**record)
        if isinstance(record, (tuple, list)) and len(record) in (3, 4):
            return parse_relation(*record)
        raise InvalidInput(
            "a relation is (source, type, target), (source, type, target, properties) "
            f"or a dict with source/type/target, not {type(record).__name__}"
        )
    except InvalidInput as exc:
        raise InvalidInput(f"relation #{position}: {exc}") from None


# -- entities ---------------------------------------------------------------------


def _merge(base: EntityRow | None, item: EntityInput, key: str, namespace: str, now: datetime) -> EntityRow:
    if base is None:
        row = EntityRow(
            key=key,
            id=-1,
            namespace=namespace,
            name=item.name,
            type=item.type or "Entity",
            text=item.text,
            observations=list(dict.fromkeys(item.observations or ())),
            properties=dict(item.properties or {}),
            embedding=None,
            scale=None,
            created_at=now,
            updated_at=now,
            valid_from=item.valid_from,
            valid_to=item.valid_to,
            importance=item.importance,
        )
        return row
    observations = base.observations
    if item.drop_observations:
        observations = [o for o in observations if o not in item.drop_observations]
    if item.observations:
        seen = set(observations)
        observations = observations + [o for o in dict.fromkeys(item.observations) if o not in seen]
    properties = {**base.properties, **item.properties} if item.properties else base.properties
    merged = replace(
        base,
        type=item.type or base.type,
        text=item.text if item.text is not None else base.text,
        observations=list(observations),
        properties=dict(properties),
        updated_at=now,
        valid_from=item.valid_from if item.valid_from is not None else base.valid_from,
        valid_to=item.valid_to if item.valid_to is not None else base.valid_to,
        importance=item.importance if item.importance is not None else base.importance,
    )
    if item.observations or item.properties or item.text is not None:
        _check_merged(item, merged)
    if merged.valid_from is not None and merged.valid_to is not None and merged.valid_to <= merged.valid_from:
        raise InvalidInput(f"entity {item.name!r}: valid_to ({merged.valid_to} UTC) must be after "
                           f"valid_from ({merged.valid_from} UTC)")
    return merged


def _check_merged(item: EntityInput, row: EntityRow) -> None:
    """The stored entity's limits once a write appended its observations or merged
    its properties (each record passed its own limits): checked before any
    statement of the write runs."""
    if len(row.observations) > MAX_OBSERVATIONS:
        raise InvalidInput(f"entity {item.name!r} would hold {len(row.observations):,} observations; an entity "
                           f"holds at most {MAX_OBSERVATIONS:,} (remove some with remove_observations)")  # fmt: skip
    size = _properties_size(row.properties)
    if item.properties and size > MAX_PROPERTIES_BYTES:
        raise InvalidInput(f"entity {item.name!r}'s properties would be {size:,} bytes as JSON once merged; "
                           f"the limit is {MAX_PROPERTIES_BYTES:,}")  # fmt: skip
    check_record_bytes(f"entity {item.name!r} once written", row.name, row.type, row.text, row.observations,
                       extra=size)  # fmt: skip


def _same(a: EntityRow, b: EntityRow) -> bool:
    """Whether a write changes nothing graphmem keeps (then it writes nothing, and makes no version)."""
    return (a.type, a.text, a.observations, a.properties, a.embedding, a.scale, a.valid_from, a.valid_to,
            a.importance) == (b.type, b.text, b.observations, b.properties, b.embedding, b.scale, b.valid_from,
                              b.valid_to, b.importance)  # fmt: skip


@dataclass(slots=True)
class EntityPlan:
    rows: list[EntityRow]
    created: list[EntityRow]
    updated: list[EntityRow]
    old_types: dict[str, str]
    new_dim: int | None
    vector_rows: list[EntityRow]
    """Rows whose stored vector is new or different (the side index must follow)."""
    revived: list[EntityRow]
    """Expired entities written again: back in the id map, with their old id."""
    unembedded: list[EntityRow] = field(default_factory=list)
    """With ``defer_embedding``: rows written without a vector because their
    embedded text changed (a vector they had is cleared: it was the old text's)."""


def upsert_entities(
    store: Store,
    state: DerivedState,
    cache: EntityCache,
    items: Sequence[EntityInput],
    *,
    namespace: str,
    embedder: Embedder | None,
    vector_dim: int | None,
    config: StoreConfig,
    now: datetime,
    defer_embedding: bool = False,
) -> EntityPlan:
    """Write ``items`` (upserts by name, applied in order) in the open transaction.

    ``defer_embedding`` writes the rows whose embedded text changed without a
    vector (listed in :attr:`EntityPlan.unembedded`) instead of encoding them
    here: the caller embeds them after the commit (:mod:`graphmem.memory.backlog`)."""
    dim = embedder.dim if embedder is not None else vector_dim
    for position, item in enumerate(items):
        if item.embedding is not None:
            if dim is None:
                dim = item.embedding.size
            elif item.embedding.size != dim:
                raise InvalidInput(
                    f"entity #{position} ({item.name!r}): embedding has dimension {item.embedding.size}; "
                    f"this store's vectors have dimension {dim}"
                )
    keys = [entity_key(namespace, item.name) for item in items]
    stored = len(state.ids)
    current = fetch_rows(store, cache, dict.fromkeys(k for k in keys if k in state.ids), config, stored=stored)
    # An expired entity keeps its row (history) under the same primary key:
    # writing its name again starts a new life in that row, with its old id.
    retired = fetch_rows(store, cache, dict.fromkeys(k for k in keys if k in state.expired), config, stored=stored)
    # The graph state too follows the transaction at its commit: an entity this
    # transaction expired is still current there, but its row (read from the
    # store, see fetch_rows) says expired, and writing it again revives it.
    for key in [k for k, row in current.items() if row.expired_at is not None]:
        retired[key] = current.pop(key)
    pending: dict[str, EntityRow] = {}
    explicit: dict[str, np.ndarray] = {}
    for key, item in zip(keys, items):
        pending[key] = _merge(pending.get(key) or current.get(key), item, key, namespace, now)
        if item.embedding is not None:
            explicit[key] = item.embedding
    unembedded = _embed(pending, current, explicit, embedder, defer=defer_embedding)
    for key in [k for k, row in pending.items() if k in current and _same(row, current[k])]:
        del pending[key]  # nothing changed: no write, no version

    revived = [row for key, row in pending.items() if key in retired]
    for row in revived:
        row.id = retired[row.key].id
    created = [row for key, row in pending.items() if key not in current and key not in retired]
    for row, id_ in zip(created, state.allocate_ids(len(created))):
        row.id = id_

    if created:
        if len(created) >= config.copy_threshold:
            store.execute("entity_copy", {"rows": entity_rows_table(created)})
        elif len(created) == 1:
            store.execute("entity_create", created[0].params())
        elif small_entity_batch(created):
            # A prepared statement over plain rows: LOAD FROM plans each call again.
            store.execute("entity_create_rows", entity_row_columns(created))
        else:
            store.execute("entity_create_batch", {"rows": entity_rows_table(created)})
    updated = [row for key, row in pending.items() if key in current or key in retired]
    # Each updated row replaces exactly one version: the current row's (retired
    # now), or for a revived entity the expired row's (retired when it expired).
    versions = [current[row.key].version_params(now) if row.key in current
                else retired[row.key].version_params(retired[row.key].expired_at or now) for row in updated]
    # The rows compared are the stored ones, also after this transaction changed
    # some (compact packing them, an expiry): fetch_rows then reads the store.
    content_only = all(row.key in current and changes_content_only(current[row.key], row) for row in updated)
    write_updates(store, updated, versions, config=config, stored=stored, content_only=content_only)
    old_types = {key: row.type for key, row in current.items()}
    new_dim = dim if vector_dim is None and dim is not None and (explicit or embedder is not None) else None
    vector_rows = [
        row for key, row in pending.items()
        if row.embedding is not None and (key not in current or current[key].embedding != row.embedding
                                          or current[key].scale != row.scale)
    ]  # fmt: skip
    return EntityPlan(list(pending.values()), created, updated, old_types, new_dim, vector_rows, revived,
                      [row for row in unembedded if row.key in pending])


UPDATE_ROWS_MAX = 128
"""Updates of fewer existing entities than this (and more than one) may be one
prepared ``entity_update_rows`` over one list per parameter; from here on the
two ``LOAD FROM`` statements (``entity_version_batch`` + ``entity_update_batch``,
planned on every call) cost as much. Measured with ``benchmarks/update_probe.py``
(p50 wall of the statements, their transaction committed untimed, interleaved;
2 shared cores at load 1.2-2.5, 2026-12-07), lists against ``LOAD FROM``:
kuzu 0.11.3 at 1k entities, 64 rows 11.9 against 13.6 ms, 128 rows 21.7
against 20.1; at 100k, 96 rows 35.5 against 45.9; LadybugDB 0.22 at 1k, 64
rows 13.3 against 15.3, 128 rows 26.7 against 26.1; at 100k, 96 rows 35.9
against 39.6."""

UPDATE_VECTOR_ROWS_MAX = 40
""":data:`UPDATE_ROWS_MAX` for a batch in which an entity carries a new vector
(it travels as an escaped string the engine parses, see
``records.ENTITY_VECTOR_ROWS_MAX``). Measured as above with 384-byte vectors
at 1k entities: kuzu 0.11.3, 32 rows 8.2 against 8.4 ms, 48 rows 9.7 against
9.5; LadybugDB 0.22, 32 rows 9.8 against 11.5, 48 rows 12.9 against 14.1."""


def update_form(engine: str, rows: Sequence[EntityRow], *, config: StoreConfig, stored: int) -> str:
    """How :func:`write_updates` writes ``rows`` (existing entities) on ``engine`` with ``stored`` entities:
    ``"one"`` (one ``entity_update_versioned`` per row), ``"rows"`` (one ``entity_update_rows``) or
    ``"batch"`` (``entity_version_batch`` + ``entity_update_batch``, two ``LOAD FROM`` an Arrow table).

    One row is one keyed statement. A small batch is one list statement where
    the engine looks its keys up (LadybugDB 0.22, whatever the store's size)
    or, on kuzu, whose statement scans the entities, where the scan pays
    (:meth:`StoreConfig.batch_updates`); a big batch, the ``LOAD FROM`` pair
    where the engine looks keys up or the scan pays (:meth:`StoreConfig.use_join`);
    otherwise one keyed statement per row. Measured as for :data:`UPDATE_ROWS_MAX`
    (p50 wall, ms; "pair" is the ``entity_version_create`` + ``entity_update``
    per row that every small update took before, "one" joins the two)::

        engine   entities  rows   pair    one   rows  LOAD FROM
        kuzu        1k       1    3.85   3.10   5.14   8.35
        kuzu        1k       2    5.03   4.14   5.16   8.61
        kuzu        1k      10   16.26  12.74   5.96   9.28
        kuzu        1k      64   86.58  68.08  11.94  13.63
        kuzu       10k       1    1.79   1.62   4.05   7.64
        kuzu       10k      10   12.90  11.44   7.02  10.52
        kuzu       10k      64   66.72  50.73  10.88  12.24
        kuzu      100k       1    1.54   1.21  15.22  29.74
        kuzu      100k      10   14.09  10.18  17.51  31.18
        kuzu      100k      64   68.63  66.61  27.41  43.67
        ladybug     1k       1    1.96   1.58   2.25   5.17
        ladybug     1k       2    3.30   2.70   1.90   4.89
        ladybug     1k      10   14.39  11.35   3.42   6.65
        ladybug     1k      64   87.20  70.91  13.33  15.32
        ladybug    10k       2    3.17   2.82   1.87   4.89
        ladybug    10k      10   14.20  11.96   3.40   6.93
        ladybug   100k       1    2.10   1.58   2.30   5.31
        ladybug   100k       2    3.58   2.71   2.24   5.39
        ladybug   100k      10   16.68  14.67   5.61   9.27
        ladybug   100k      64  101.52  80.99  24.13  26.38
    """
    n = len(rows)
    if n <= 1:
        return "one"
    looks_up = engine in LOOKS_UP_LIST_KEYS
    limit = UPDATE_VECTOR_ROWS_MAX if any(r.embedding is not None for r in rows) else UPDATE_ROWS_MAX
    if n < limit and (looks_up or config.batch_updates(n, stored)):
        return "rows"
    if looks_up or config.use_join(n, stored):
        return "batch"
    return "one"


def write_updates(store: Store, rows: list[EntityRow], versions: list[dict[str, Any]], *, config: StoreConfig,
                  stored: int, content_only: bool = False) -> None:
    """Write ``rows``, existing entities (distinct keys), each with ``versions[i]``, the
    :meth:`EntityRow.version_params` of the row it replaces, kept in the history table
    linked to its entity (``VersionOf``, so that reading one entity's versions walks its
    own), in the statements :func:`update_form` chooses.

    ``content_only``: every row changes only what the ``_content`` forms set
    (:func:`~graphmem.records.changes_content_only`), so the keyed and list
    forms set those columns alone (a big batch's ``LOAD FROM`` sets all).
    """
    if not rows:
        return
    form = update_form(store.engine_name, rows, config=config, stored=stored)
    if form == "rows" and content_only:
        store.execute("entity_update_rows_content", _content(update_row_columns(rows, versions)))
    elif form == "rows":
        store.execute("entity_update_rows", update_row_columns(rows, versions))
    elif form == "batch":
        store.execute("entity_version_batch", {"rows": version_rows_table(versions)})
        store.execute("entity_update_batch", {"rows": entity_rows_table(rows)})
    elif content_only:
        for row, version in zip(rows, versions):
            store.execute("entity_update_versioned_content", _content(versioned_update_params(row, version)))
    else:
        for row, version in zip(rows, versions):
            store.execute("entity_update_versioned", versioned_update_params(row, version))


def _content(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without what the ``_content`` forms leave as stored."""
    for name in CONTENT_KEPT:
        del params[name]
    return params


def _embed(
    pending: dict[str, EntityRow],
    current: dict[str, EntityRow],
    explicit: dict[str, np.ndarray],
    embedder: Embedder | None,
    *,
    defer: bool = False,
) -> list[EntityRow]:
    """Set each row's int8 vector: the caller's, or the embedder's when the embedded text changed.

    With ``defer`` the rows the embedder would encode get no vector instead,
    and are returned (the old text's vector must not stand for the new text)."""
    for key, vector in explicit.items():
        pending[key].embedding, pending[key].scale = quantize(vector)
    if embedder is None:
        return []
    stale: list[EntityRow] = []
    for key, row in pending.items():
        if key in explicit:
            continue
        before = current.get(key)
        text = entity_text(row)
        if before is None or before.embedding is None or entity_text(before) != text:
            stale.append(row)
    if defer:
        for row in stale:
            row.embedding = row.scale = None
        return stale
    if stale:
        vectors = embedder.encode([entity_text(row) for row in stale])
        for row, vector in zip(stale, vectors):
            row.embedding, row.scale = quantize(stored_vector(vector, embedder.dim, "embedder output"))
    return []


def apply_entity_plan(state: DerivedState, cache: EntityCache, plan: EntityPlan) -> None:
    """After commit: the graph state (ids, type and namespace bitmaps, validity bounds) and the cache follow the store."""
    state.write_entities(plan.rows, added=[*plan.created, *plan.revived], old_types=plan.old_types)
    cache.written(plan.rows)


def apply_entity_vectors(index: VectorIndex | None, backlog: Backlog | None, plan: EntityPlan) -> None:
    """After commit: the vector index (when loaded) and the embedding backlog follow the store.

    An entity whose text changed without a new vector loses its old one (it no
    longer stands for the entity) and, with background embedding, waits in
    the backlog; the vectors written are added to the index.
    """
    if plan.unembedded:
        if index is not None:
            created = {row.key for row in plan.created}
            index.remove(np.array([r.id for r in plan.unembedded if r.key not in created], np.int64))
        if backlog is not None:
            backlog.add((r.key, epoch_us(r.updated_at)) for r in plan.unembedded)
    if index is not None and plan.vector_rows:
        rows = plan.vector_rows
        index.upsert(
            np.fromiter((r.id for r in rows), np.int64, len(rows)),
            np.frombuffer(b"".join(r.embedding or b"" for r in rows), np.int8).reshape(len(rows), -1),
            np.fromiter((r.scale or 0.0 for r in rows), np.float32, len(rows)),
        )
        index.seq = max(index.seq, max(epoch_us(r.updated_at) for r in rows))


# -- relations --------------------------------------------------------------------


@dataclass(slots=True)
class RelationPlan:
    created: list[tuple[int, int, int]]
    created_types: list[str]
    retired: list[tuple[int, str, int]]
    """Current relations this write expired (``replaces=True``)."""
    bounds: dict[tuple[int, str, int], tuple[datetime | None, datetime | None]]
    """The validity of every relation written (created or new version)."""
    properties: dict[tuple[int, str, int], str] = field(default_factory=dict)
    """The properties (JSON) of every relation written; ``""`` where a new version kept them."""


def upsert_relations(
    store: Store,
    state: DerivedState,
    items: Sequence[RelationInput],
    *,
    namespace: str,
    config: StoreConfig,
    now: datetime,
) -> RelationPlan:
    """Write ``items`` (upserts per source/type/target) in the open transaction.

    A relation that is already current stays as it is when the write brings
    nothing new; new properties (merged into the old ones) or a new validity
    retire it (``expired_at = now``, kept as history) and record the new
    version. ``replaces=True`` also retires the source's other current
    relations of the same type (one statement per such record).
    """
    ids = state.ids
    # Each endpoint's id, looked up once per name; every one must exist.
    found = {n: ids.id_of(entity_key(namespace, n)) for item in items for n in (item.source, item.target)}
    missing = sorted(n for n, id_ in found.items() if id_ is None)
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise NotFound(f"relation endpoint(s) not found: {shown} ({len(missing)} missing); nothing was written")
    id_of = {n: id_ for n, id_ in found.items() if id_ is not None}
    key_of = {id_: entity_key(namespace, n) for n, id_ in id_of.items()}.__getitem__

    merged: dict[tuple[int, str, int], RelationInput] = {}
    for item in items:
        triple = (id_of[item.source], item.type, id_of[item.target])
        merged[triple] = _combine(merged.get(triple), item)
    triples = list(merged)
    edges = state.edges
    src = np.fromiter((t[0] for t in triples), np.int64, len(triples))
    dst = np.fromiter((t[2] for t in triples), np.int64, len(triples))
    codes = np.array([edges.code_of(t[1]) if edges.code_of(t[1]) is not None else -1 for t in triples], np.int32)
    exists = edges.contains_many(src, codes, dst)

    retired: list[tuple[int, str, int]] = []
    for triple, item in merged.items():
        if item.replaces:
            params = {"source": key_of(triple[0]), "type": triple[1], "target": key_of(triple[2]), "now": now}
            retired += [(triple[0], triple[1], int(row[0])) for row in store.execute("relation_expire_others", params)]
    new = [t for t, e in zip(triples, exists) if not e]
    bounds: dict[tuple[int, str, int], tuple[datetime | None, datetime | None]] = {}
    changed = [t for t, present in zip(triples, exists) if present and _changes(merged[t])]
    # A write that brings nothing new (the same validity, properties already
    # held) changes nothing: no retired version, no new one. The validity is
    # checked against the bounds in memory (exact: writes keep them so);
    # properties need the stored ones, read by the re-write itself.
    changed = [t for t in changed if not _same_validity(state, merged[t], t) or merged[t].properties]
    if len(changed) >= max(REWRITE_JOIN_MIN, len(edges) // REWRITE_JOIN_PER) and len(edges) <= REWRITE_JOIN_MAX:
        changed, versions = _rewrite_batch(store, merged, changed, key_of, now)
    else:
        # A validity-only re-write takes the old validity from the bounds in memory
        # and is one statement; new properties must be merged with the stored ones.
        for t in [t for t in changed if not merged[t].properties]:
            _, start, end = _rewrite_validity(store, state, merged[t], t, key_of, now)
            bounds[t] = (start, end)
        rewritten = [(t, _rewrite_one(store, merged[t], t, key_of, now)) for t in changed if merged[t].properties]
        changed = [t for t, version in rewritten if version is not None]
        versions = [version for _, version in rewritten if version is not None]
    for t, (_, start, end) in zip(changed, versions):
        bounds[t] = (start, end)
    store_size = len(state.ids)
    if _batch_relations(store, config, len(versions), store_size):
        write_new_relations(
            store, [key_of(t[0]) for t in changed], [key_of(t[2]) for t in changed], [t[1] for t in changed],
            [v[0] for v in versions], now, [v[1] for v in versions], [v[2] for v in versions],
            copy_from=config.relation_copy_from, stored=len(state.edges))
    else:
        for t, (properties, start, end) in zip(changed, versions):
            store.execute("relation_create", {"source": key_of(t[0]), "type": t[1], "target": key_of(t[2]),
                                              "properties": properties, "created_at": now, "valid_from": start,
                                              "valid_to": end})
    if _batch_relations(store, config, len(new), store_size):
        write_new_relations(
            store, [key_of(t[0]) for t in new], [key_of(t[2]) for t in new], [t[1] for t in new],
            [_json(merged[t].properties or {}) for t in new], now, [merged[t].valid_from for t in new],
            [merged[t].valid_to for t in new], copy_from=config.relation_copy_from, stored=len(state.edges))
    else:
        for t in new:
            store.execute(
                "relation_create",
                {"source": key_of(t[0]), "target": key_of(t[2]), "type": t[1],
                 "properties": _json(merged[t].properties or {}), "created_at": now,
                 "valid_from": merged[t].valid_from, "valid_to": merged[t].valid_to},
            )
    for t in new:
        bounds[t] = (merged[t].valid_from, merged[t].valid_to)
    stored = {t: version[0] for t, version in zip(changed, versions)}
    stored.update((t, _json(merged[t].properties or {})) for t in new)
    return RelationPlan([(t[0], 0, t[2]) for t in new], [t[1] for t in new], retired, bounds, stored)


def _batch_relations(store: Store, config: StoreConfig, rows: int, store_size: int) -> bool:
    """Whether ``rows`` new relations go in one statement rather than one keyed ``relation_create``
    each. Where the engine finds a batch's endpoints by primary key (:data:`LOOKS_UP_LIST_KEYS`)
    any batch of two or more does: EXPLAIN on LadybugDB 0.22 at 100k entities, both
    ``relation_create_batch`` and ``relation_create_rows`` plan QUERY_PRIMARY_KEY_LOOKUPs, 10 rows
    1.9 and 1.4 ms against 9.7 for ten ``relation_create``. On kuzu, whose batch scans the
    entities, :meth:`StoreConfig.batch_relations` weighs the scan against the statements."""
    return (rows > 1 and store.engine_name in LOOKS_UP_LIST_KEYS) or config.batch_relations(rows, store_size)


REWRITE_JOIN_MIN = 64
REWRITE_JOIN_PER = 2_000
"""Re-written relations in a batch use one join statement (``relation_rewrite_batch``)
when there are at least ``max(REWRITE_JOIN_MIN, current relations //
REWRITE_JOIN_PER)`` of them: the join scans every current relation (~1 µs
each: ~0.5 s at 500k, kuzu 0.11.3), where one re-write costs two keyed
statements (~1-3 ms); fewer use those per row. Measured at 100k entities /
500k relations, 5,000 re-writes: ~13 s per row, ~2.4 s batched (with the
``COPY`` of the new versions). On ladybug 0.22 every Arrow table a statement
reads keeps ~512 KiB of the buffer pool until the store closes (measured; kuzu
frees it), one more reason to keep such statements to large batches."""

REWRITE_JOIN_MAX = 1_000_000
"""Above this many current relations the join is not used: its hash table holds
the keys of every current relation in the engine's buffer pool, and at 5M it
filled a 512 MiB pool (kuzu 0.11.3)."""

Version = tuple[str, "datetime | None", "datetime | None"]
"""A relation's new version: (properties JSON, valid_from, valid_to)."""


def _changes(item: RelationInput) -> bool:
    """Whether a write of an existing relation brings something new (a new version)."""
    return bool(item.properties) or item.valid_from is not None or item.valid_to is not None


def _new_version(item: RelationInput, old_props: str | None, old_from: datetime | None,
                 old_to: datetime | None) -> Version:
    """The new version of a re-written relation: properties merged, validity ends given replace the old."""
    old = json.loads(old_props) if old_props else {}
    start = item.valid_from if item.valid_from is not None else old_from
    end = item.valid_to if item.valid_to is not None else old_to
    if start is not None and end is not None and end <= start:
        # Raised inside the transaction: the caller's rollback undoes what this batch retired.
        raise InvalidInput(f"{item.source} -[{item.type}]-> {item.target}: valid_to ({end} UTC) must be "
                           f"after valid_from ({start} UTC)")
    return _json({**old, **(item.properties or {})}), start, end


def _old_validity(state: DerivedState, triple: tuple[int, str, int]) -> tuple[datetime | None, datetime | None]:
    """A current relation's validity, from the bounds in memory (which writes keep exact)."""
    code = state.edges.code_of(triple[1])
    old = None if code is None else state.bounds.relation((triple[0], code, triple[2]))
    return (None, None) if old is None else (_from_us(old[0], NEVER_BEFORE), _from_us(old[1], NEVER_AFTER))


def _same_validity(state: DerivedState, item: RelationInput, triple: tuple[int, str, int]) -> bool:
    """Whether a re-write of a current relation leaves its validity as it is."""
    old_from, old_to = _old_validity(state, triple)
    return ((item.valid_from if item.valid_from is not None else old_from) == old_from
            and (item.valid_to if item.valid_to is not None else old_to) == old_to)


def _unchanged(version: Version, old_props: str | None, old_from: datetime | None, old_to: datetime | None) -> bool:
    """Whether a re-written relation's new version equals the current one."""
    return (json.loads(version[0]), version[1], version[2]) == (json.loads(old_props) if old_props else {},
                                                                old_from, old_to)


def _rewrite_one(store: Store, item: RelationInput, triple: tuple[int, str, int], key_of: Callable[[int], str],
                 now: datetime) -> Version | None:
    """Retire one current relation (two keyed statements) and return its new
    version; ``None`` (nothing written) when the new version equals it."""
    params = {"source": key_of(triple[0]), "type": triple[1], "target": key_of(triple[2])}
    old_props, _, old_from, old_to, _ = store.execute("relation_get", params)[0]
    version = _new_version(item, old_props, old_from, old_to)
    if _unchanged(version, old_props, old_from, old_to):
        return None
    store.execute("relation_expire", {**params, "now": now})
    return version


def _rewrite_validity(store: Store, state: DerivedState, item: RelationInput, triple: tuple[int, str, int],
                      key_of: Callable[[int], str], now: datetime) -> Version:
    """Re-write one current relation's validity in one statement (``relation_rewrite``):
    the old validity comes from the bounds in memory, which writes keep exact."""
    old_from, old_to = _old_validity(state, triple)
    _, start, end = _new_version(item, None, old_from, old_to)
    store.execute("relation_rewrite", {"source": key_of(triple[0]), "type": triple[1], "target": key_of(triple[2]),
                                       "now": now, "valid_from": start, "valid_to": end})
    return "", start, end


def _from_us(us: int, open_end: int) -> datetime | None:
    return None if us == open_end else datetime(1970, 1, 1) + timedelta(microseconds=us)


def _rewrite_batch(store: Store, merged: Mapping[tuple[int, str, int], RelationInput],
                   changed: Sequence[tuple[int, str, int]], key_of: Callable[[int], str],
                   now: datetime) -> tuple[list[tuple[int, str, int]], list[Version]]:
    """Retire the current versions of ``changed`` in one statement over an Arrow
    table; return those that really change with their new versions, in order
    (the others, whose new version equals the old, are made current again)."""
    rows = pa.table({
        "i": pa.array(range(len(changed)), pa.int64()),
        "source": pa.array([key_of(t[0]) for t in changed], pa.string()),
        "target": pa.array([key_of(t[2]) for t in changed], pa.string()),
        "type": pa.array([t[1] for t in changed], pa.string()),
    })  # fmt: skip
    found = {int(i): (props, start, end) for i, props, start, end in
             store.execute("relation_rewrite_batch", {"rows": rows, "now": now})}
    if len(found) != len(changed):  # the in-memory index said each was current: the store disagrees
        raise GraphMemError(f"{len(changed) - len(found)} of {len(changed)} re-written relations were not found "
                            "current in the store; nothing was written")
    versions = [_new_version(merged[t], *found[j]) for j, t in enumerate(changed)]
    same = [j for j, version in enumerate(versions) if _unchanged(version, *found[j])]
    if same:
        # Retired by the statement above, in this transaction: restore them,
        # so the transaction leaves them as they were.
        store.execute("relation_restore_batch", {"rows": rows.take(pa.array(same, pa.int64())), "now": now})
        kept = sorted(set(range(len(changed))) - set(same))
        return [changed[j] for j in kept], [versions[j] for j in kept]
    return list(changed), versions


def _combine(before: RelationInput | None, item: RelationInput) -> RelationInput:
    """Two writes of one relation in one batch: properties merge, the later validity wins."""
    if before is None:
        return item
    properties = before.properties
    if item.properties is not None:
        properties = {**(before.properties or {}), **item.properties}
    return replace(
        item,
        properties=properties,
        valid_from=item.valid_from if item.valid_from is not None else before.valid_from,
        valid_to=item.valid_to if item.valid_to is not None else before.valid_to,
        replaces=before.replaces or item.replaces,
    )


def apply_relation_plan(state: DerivedState, plan: RelationPlan) -> None:
    """After commit: the graph state (relation index, relation-type bitmaps, bounds) follows the store."""
    state.write_relations(plan.created, plan.created_types, plan.retired, plan.bounds, plan.properties)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


