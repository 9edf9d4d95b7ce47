"""Encoding between Python values and the store's columns.

Keys, JSON properties, int8 quantization of embeddings, and the Arrow tables
that batch writes send to the engine in one statement.

Over 500 lines: every encoding between a Python value and a store column (keys, entity
rows, versions, relations, the Arrow tables of batch writes), so the store's layout is read in one module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .errors import CorruptStore
from .tiers import unpack
from .types import Entity, Relation

if TYPE_CHECKING:  # a parameter's type only: records sits below the store
    from .store.store import Store

__all__ = [
    "KEY_SEPARATOR",
    "key_prefix",
    "as_utc",
    "decode_properties",
    "entity_key",
    "key_name",
    "split_key",
    "quantize",
    "dequantize",
    "blob_literal",
    "EntityRow",
    "CONTENT_KEPT",
    "changes_content_only",
    "ENTITY_COLUMNS",
    "ENTITY_SCHEMA",
    "RELATION_SCHEMA",
    "entity_from_db",
    "BriefRow",
    "brief_from_db",
    "entity_rows_table",
    "entity_row_columns",
    "versioned_update_params",
    "update_row_columns",
    "ENTITY_ROWS_MAX",
    "ENTITY_VECTOR_ROWS_MAX",
    "small_entity_batch",
    "relation_from_db",
    "relation_rows_table",
    "relation_copy_rows",
    "insert_relations",
    "write_new_relations",
    "relation_row_columns",
    "relation_table_columns",
    "RELATION_ROWS_MAX",
    "RELATION_ROWS_ENGINES",
    "RELATION_COLUMNS",
    "copies_relations",
    "BULK_WAL",
    "utcnow",
    "version_key",
    "version_rows_table",
    "version_from_db",
    "micros",
]

KEY_SEPARATOR = "\x1f"
"""Joins namespace and name into the primary key; names cannot contain it
(control characters are rejected), so keys never collide."""

ENTITY_COLUMNS = (
    "id", "namespace", "name", "type", "text", "observations", "properties",
    "embedding", "scale", "created_at", "updated_at", "valid_from", "valid_to", "expired_at", "importance",
    "packed",
)  # fmt: skip
"""The order in which ``entity_get`` and ``entity_get_many`` return columns."""


def entity_key(namespace: str, name: str) -> str:
    """The primary key of an entity.

    Examples
    --------
    >>> entity_key("default", "Alice")
    'default\\x1fAlice'
    """
    return f"{namespace}{KEY_SEPARATOR}{name}"


def key_prefix(namespace: str) -> str:
    """What every key of ``namespace`` starts with: the keys of a namespace are
    found by this prefix, and a name is the rest of its key.

    Examples
    --------
    >>> key_prefix("work") + "Alice" == entity_key("work", "Alice")
    True
    """
    return f"{namespace}{KEY_SEPARATOR}"


def split_key(key: str) -> tuple[str, str]:
    """The namespace and the name of an entity's primary key (the inverse of :func:`entity_key`).

    Examples
    --------
    >>> split_key(entity_key("default", "Alice"))
    ('default', 'Alice')
    """
    namespace, name = key.split(KEY_SEPARATOR, 1)
    return namespace, name


def key_name(key: str) -> str:
    """The entity name in a primary key, without its namespace.

    Examples
    --------
    >>> key_name(entity_key("work", "Alice"))
    'Alice'
    """
    return key.split(KEY_SEPARATOR, 1)[1]


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp the engine stores (it keeps no zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def quantize(vector: np.ndarray) -> tuple[bytes, float]:
    """Symmetric per-vector int8 quantization: ``vector ≈ int8 * scale``.

    Examples
    --------
    >>> data, scale = quantize(np.array([0.6, -0.8], dtype=np.float32))
    >>> [round(float(x), 2) for x in dequantize(data, scale)]
    [0.6, -0.8]
    """
    peak = float(np.max(np.abs(vector)))
    scale = peak / 127.0 if peak > 0 else 1.0
    q = np.clip(np.rint(vector / scale), -127, 127).astype(np.int8)
    return q.tobytes(), scale


def dequantize(data: bytes, scale: float) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int8).astype(np.float32) * np.float32(scale)


_ESCAPES = tuple(f"\\x{b:02x}" for b in range(256))


def blob_literal(data: bytes | None) -> str | None:
    """Bytes as the escaped string ``BLOB()`` parses (kuzu 0.11.3 refuses
    Python ``bytes`` parameters, so single-row writes pass this form)."""
    if data is None:
        return None
    return "".join(map(_ESCAPES.__getitem__, data))


@dataclass(slots=True)
class EntityRow:
    """One entity as stored: the unit that write planning merges and writes."""

    key: str
    id: int
    namespace: str
    name: str
    type: str
    text: str | None
    observations: list[str]
    properties: dict[str, Any]
    embedding: bytes | None
    scale: float | None
    created_at: datetime
    updated_at: datetime
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    expired_at: datetime | None = None
    importance: float | None = None
    cold: bool = False
    """Stored packed (the cold tier); text and observations here are unpacked."""
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """Parameters of ``entity_create`` (and of ``entity_update_versioned``: :func:`versioned_update_params`)."""
        return {
            "key": self.key,
            "id": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "type": self.type,
            "text": self.text,
            "observations": list(self.observations),
            "properties": json.dumps(self.properties, ensure_ascii=False, separators=(",", ":")),
            "embedding": blob_literal(self.embedding),
            "scale": self.scale,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "importance": self.importance,
        }

    def version_params(self, expired_at: datetime) -> dict[str, Any]:
        """This row as the version a write replaces, retired at ``expired_at`` (a row of
        :func:`version_rows_table`; the ``old_*`` parameters of :func:`versioned_update_params`)."""
        return {
            "vkey": version_key(self.key, self.updated_at),
            "key": self.key,
            "id": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "type": self.type,
            "text": self.text,
            "observations": list(self.observations),
            "properties": json.dumps(self.properties, ensure_ascii=False, separators=(",", ":")),
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "recorded_at": self.updated_at,
            "expired_at": expired_at,
        }

    def to_entity(self) -> Entity:
        vector = None if self.embedding is None else dequantize(self.embedding, self.scale or 1.0)
        return Entity(
            name=self.name,
            type=self.type,
            text=self.text,
            observations=tuple(self.observations),
            properties=dict(self.properties),
            id=self.id,
            namespace=self.namespace,
            created_at=as_utc(self.created_at),
            updated_at=as_utc(self.updated_at),
            embedding=vector,
            valid_from=as_utc(self.valid_from),
            valid_to=as_utc(self.valid_to),
            expired_at=as_utc(self.expired_at),
            importance=self.importance,
        )


def entity_from_db(key: str, row: Sequence[Any]) -> EntityRow:
    """An :class:`EntityRow` from a row in :data:`ENTITY_COLUMNS` order."""
    (id_, namespace, name, type_, text, observations, properties, embedding, scale, created, updated,
     valid_from, valid_to, expired, importance, packed) = row
    if packed is not None:
        text, observations = unpack(packed, name=name)
    return EntityRow(
        key=key,
        id=int(id_),
        namespace=namespace,
        name=name,
        type=type_,
        text=text,
        observations=list(observations or ()),
        properties=decode_properties(properties, name),
        embedding=embedding,
        scale=scale,
        created_at=created,
        updated_at=updated,
        valid_from=valid_from,
        valid_to=valid_to,
        expired_at=expired,
        importance=importance,
        cold=packed is not None,
    )


@dataclass(frozen=True, slots=True)
class BriefRow:
    """What :meth:`graphmem.Memory.recall` shows of an entity (``queries/entity_brief.cypher``):
    the attributes it reads of an :class:`EntityRow`, without vector, properties or times."""

    key: str
    id: int
    name: str
    type: str
    text: str | None
    observations: tuple[str, ...]


def brief_from_db(key: str, id_: int, row: Sequence[Any]) -> BriefRow:
    """A :class:`BriefRow` of the entity ``key`` (id ``id_``) from an
    ``entity_brief`` row (cold text unpacked). The statement reads neither key,
    id nor name (each column read costs, see ``queries/entity_brief.cypher``):
    the name is the rest of the key (:func:`key_name`), as everywhere.
    """
    type_, text, observations, packed = row
    name = key_name(key)
    if packed is not None:
        text, observations = unpack(packed, name=name)
    return BriefRow(key, id_, name, type_, text, tuple(observations or ()))


def version_key(key: str, recorded_at: datetime) -> str:
    """The primary key of an entity version: its key and when it was recorded (µs).

    Examples
    --------
    >>> version_key("default\\x1fAlice", datetime(2026, 1, 1))
    'default\\x1fAlice\\x1f1767225600000000'
    """
    return f"{key}{KEY_SEPARATOR}{micros(recorded_at)}"


def micros(value: datetime) -> int:
    """A naive UTC timestamp as integer microseconds since the epoch (exact, no float)."""
    delta = value.replace(tzinfo=None) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1)


def as_utc(value: datetime | None) -> datetime | None:
    """A naive UTC timestamp as read from the store, made timezone-aware (``None``
    passes: entities written through Cypher may lack timestamps)."""
    return None if value is None else value.replace(tzinfo=timezone.utc)


def decode_properties(text: str | None, name: str) -> dict[str, Any]:
    """The stored JSON properties ``text`` of ``name`` as a dict (``{}`` for none);
    :class:`CorruptStore` for text that is not a JSON object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise CorruptStore(
            f"entity {name!r} has properties that are not a JSON object ({text[:60]!r}); "
            "fix them with Cypher (SET e.properties = '{...}') or add_entity(properties=...)"
        )
    return value


ENTITY_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("id", pa.int64()),
        ("namespace", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
        ("text", pa.string()),
        ("observations", pa.list_(pa.string())),
        ("properties", pa.string()),
        ("embedding", pa.binary()),
        ("scale", pa.float32()),
        ("created_at", pa.timestamp("us")),
        ("updated_at", pa.timestamp("us")),
        ("valid_from", pa.timestamp("us")),
        ("valid_to", pa.timestamp("us")),
        ("expired_at", pa.timestamp("us")),
        ("access_count", pa.int64()),
        ("last_access", pa.timestamp("us")),
        ("importance", pa.float64()),
        ("packed", pa.binary()),
    ]
)


def entity_rows_table(rows: Sequence[EntityRow]) -> pa.Table:
    """The Arrow table that ``entity_create_batch`` / ``entity_copy`` / ``entity_update_batch`` read."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    columns = [
        [r.key for r in rows],
        [r.id for r in rows],
        [r.namespace for r in rows],
        [r.name for r in rows],
        [r.type for r in rows],
        [r.text for r in rows],
        [r.observations for r in rows],
        [dumps(r.properties) for r in rows],
        [r.embedding for r in rows],
        [r.scale for r in rows],
        [r.created_at for r in rows],
        [r.updated_at for r in rows],
        [r.valid_from for r in rows],
        [r.valid_to for r in rows],
        [r.expired_at for r in rows],
        [None] * len(rows),
        [None] * len(rows),
        [r.importance for r in rows],
        [None] * len(rows),  # a write stores the entity unpacked: it is hot again
    ]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, ENTITY_SCHEMA)], schema=ENTITY_SCHEMA
    )


ENTITY_ROWS_MAX = 64
"""Batches of fewer new entities than this (and more than one) are one prepared
``UNWIND`` statement over one list per property (``entity_create_rows``,
parameters of :func:`entity_row_columns`) instead of ``LOAD FROM`` an Arrow
table, which is parsed and planned again on every call (the table is bound
when planned). Measured through ``Store.execute`` (the process's CPU for the
statement, p50 of 31, 1k entities, 2 shared cores at load 1.5-2.1,
2026-12-07): kuzu 0.11.3, 10 rows 1.87 against 2.92 ms, 64 rows 2.71 against
3.01, 96 rows 4.35 against 4.25, 128 rows 5.42 against 4.67; LadybugDB 0.22,
10 rows 1.86 against 3.69, 64 rows 2.73 against 3.88, 128 rows 5.70 against
5.56. (With one struct per row, the form before, the binding converted
every field of every row: 64 rows 4.69 ms on kuzu, and the bound was 20.)"""

ENTITY_VECTOR_ROWS_MAX = 24
""":data:`ENTITY_ROWS_MAX` for a batch in which an entity carries a vector: the
embedding travels as an escaped string (:func:`blob_literal`, four characters a
byte) that the engine parses, where the Arrow table holds the bytes. Measured
as above with 384-byte vectors: kuzu 0.11.3, 16 rows 2.68 against 3.77 ms, 24
rows 4.17 against 4.20, 32 rows 4.89 against 4.40; LadybugDB 0.22, 24 rows
3.43 against 4.38, 32 rows 4.39 against 4.75, 40 rows 5.35 against 5.19."""


def small_entity_batch(rows: Sequence[EntityRow]) -> bool:
    """Whether new entities ``rows`` go as ``entity_create_rows`` (see :data:`ENTITY_ROWS_MAX`):
    more than one, and fewer than the bound for batches with or without vectors."""
    limit = ENTITY_VECTOR_ROWS_MAX if any(r.embedding is not None for r in rows) else ENTITY_ROWS_MAX
    return 1 < len(rows) < limit


_PLACEHOLDER_TIME = datetime(1970, 1, 1)
# Position 1 of each list entity_create_rows reads: a value of the list's type
# (see the statement), never written.
_ROW_PLACEHOLDER: dict[str, Any] = {
    "key": "", "id": 0, "namespace": "", "name": "", "type": "", "text": "", "observations": [""],
    "properties": "", "embedding": "", "scale": 0.0, "created_at": _PLACEHOLDER_TIME,
    "updated_at": _PLACEHOLDER_TIME, "valid_from": _PLACEHOLDER_TIME, "valid_to": _PLACEHOLDER_TIME,
    "expired_at": _PLACEHOLDER_TIME, "importance": 0.0,
}  # fmt: skip


def entity_row_columns(rows: Sequence[EntityRow]) -> dict[str, list[Any]]:
    """The parameters ``entity_create_rows`` reads: what :func:`entity_rows_table`
    holds of each new entity, one list per property (the embedding as
    :func:`blob_literal`), each led by a typed placeholder.

    Examples
    --------
    >>> row = EntityRow(key="k", id=7, namespace="n", name="a", type="T", text=None, observations=[],
    ...                 properties={"x": 1}, embedding=b"\\x01", scale=0.5, created_at=datetime(2026, 1, 1),
    ...                 updated_at=datetime(2026, 1, 1), importance=2)
    >>> c = entity_row_columns([row])
    >>> c["properties"][1:], c["embedding"][1:], c["valid_to"][1:], c["observations"][1:], c["importance"][1:]
    (['{"x":1}'], ['\\\\x01'], [None], [[]], [2.0])
    """
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    columns = {name: [value] for name, value in _ROW_PLACEHOLDER.items()}
    for r in rows:
        # Doubles, whatever number was given: a list mixing ints and floats has no
        # one type. The scale, a FLOAT column, rounded to float32 here as the Arrow
        # table rounds it: the engines' own DOUBLE-to-FLOAT conversion differs in
        # the last bit (measured on LadybugDB 0.22).
        importance = None if r.importance is None else float(r.importance)
        scale = None if r.scale is None else float(np.float32(r.scale))
        for name, value in (
            ("key", r.key), ("id", r.id), ("namespace", r.namespace), ("name", r.name), ("type", r.type),
            ("text", r.text), ("observations", list(r.observations)), ("properties", dumps(r.properties)),
            ("embedding", blob_literal(r.embedding)), ("scale", scale), ("created_at", r.created_at),
            ("updated_at", r.updated_at), ("valid_from", r.valid_from), ("valid_to", r.valid_to),
            ("expired_at", r.expired_at), ("importance", importance),
        ):  # fmt: skip
            columns[name].append(value)
    return columns


_OLD_NAMES = {"type": "old_type", "text": "old_text", "observations": "old_observations",
              "properties": "old_properties", "valid_from": "old_valid_from", "valid_to": "old_valid_to",
              "expired_at": "retired_at"}  # fmt: skip
"""The parameters of ``entity_update_versioned`` / ``entity_update_rows`` that hold a
version's own values (:meth:`EntityRow.version_params`), where the entity's new
values of the same name are set; the others (vkey, key, id, namespace, name,
recorded_at) keep their names."""


def versioned_update_params(row: EntityRow, version: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``entity_update_versioned``: ``row``'s new values (as
    ``entity_create`` takes them) and ``version``, the :meth:`EntityRow.version_params`
    of the row it replaces (same key, id, namespace and name).

    Examples
    --------
    >>> t0, t1 = datetime(2026, 1, 1), datetime(2026, 2, 1)
    >>> old = EntityRow(key="k", id=7, namespace="n", name="a", type="T", text="x", observations=["o"],
    ...                 properties={}, embedding=None, scale=None, created_at=t0, updated_at=t0)
    >>> new = EntityRow(key="k", id=7, namespace="n", name="a", type="U", text="y", observations=["o", "p"],
    ...                 properties={}, embedding=None, scale=None, created_at=t0, updated_at=t1)
    >>> p = versioned_update_params(new, old.version_params(t1))
    >>> p["type"], p["old_type"], p["observations"], p["old_observations"], p["retired_at"] == t1
    ('U', 'T', ['o', 'p'], ['o'], True)
    """
    params = row.params()
    for name, value in version.items():
        params[_OLD_NAMES.get(name, name)] = value
    return params


# Position 1 of each list entity_update_rows reads besides entity_row_columns' own
# (see entity_create_rows): a value of the list's type, never written.
_VERSION_PLACEHOLDER: dict[str, Any] = {
    "vkey": "", "old_type": "", "old_text": "", "old_observations": [""], "old_properties": "",
    "old_valid_from": _PLACEHOLDER_TIME, "old_valid_to": _PLACEHOLDER_TIME, "recorded_at": _PLACEHOLDER_TIME,
    "retired_at": _PLACEHOLDER_TIME,
}  # fmt: skip


CONTENT_KEPT = ("type", "text", "properties", "created_at", "valid_from", "valid_to", "importance")
"""The new values ``entity_update_versioned`` / ``entity_update_rows`` set that their
``_content`` forms leave as stored (see :func:`changes_content_only`)."""


def changes_content_only(old: EntityRow, new: EntityRow) -> bool:
    """Whether writing ``new`` over the stored ``old`` changes only the columns the
    ``_content`` update forms set (observations, embedding, scale, write time):
    ``old`` is current and unpacked, and every other column of ``new`` is ``old``'s
    as stored (properties compared as the JSON the store holds, key order included).

    Examples
    --------
    >>> from dataclasses import replace
    >>> t0, t1 = datetime(2026, 1, 1), datetime(2026, 2, 1)
    >>> old = EntityRow(key="k", id=7, namespace="n", name="a", type="T", text=None, observations=["o"],
    ...                 properties={"x": 1, "y": 2}, embedding=None, scale=None, created_at=t0, updated_at=t0)
    >>> changes_content_only(old, replace(old, observations=["o", "p"], updated_at=t1))
    True
    >>> changes_content_only(old, replace(old, type="U"))
    False
    >>> changes_content_only(old, replace(old, properties={"y": 2, "x": 1}))  # stored as other JSON
    False
    >>> changes_content_only(replace(old, cold=True), replace(old, observations=["p"]))
    False
    """
    return (not old.cold and old.expired_at is None and new.expired_at is None and new.type == old.type
            and new.text == old.text and new.created_at == old.created_at and new.valid_from == old.valid_from
            and new.valid_to == old.valid_to and new.importance == old.importance
            and (new.properties is old.properties or _dumps(new.properties) == _dumps(old.properties)))  # fmt: skip


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def update_row_columns(rows: Sequence[EntityRow], versions: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The parameters of ``entity_update_rows``: for each existing entity of
    ``rows``, its new values (the lists :func:`entity_row_columns` builds, but
    for ``expired_at``, which an update sets to NULL) and, at the same
    position, the version it replaces (``versions``, as
    :func:`versioned_update_params` takes them), each list led by a typed
    placeholder.

    Examples
    --------
    >>> t0, t1 = datetime(2026, 1, 1), datetime(2026, 2, 1)
    >>> old = EntityRow(key="k", id=7, namespace="n", name="a", type="T", text=None, observations=[],
    ...                 properties={}, embedding=None, scale=None, created_at=t0, updated_at=t0)
    >>> new = EntityRow(key="k", id=7, namespace="n", name="a", type="U", text="y", observations=["o"],
    ...                 properties={"x": 1}, embedding=None, scale=None, created_at=t0, updated_at=t1)
    >>> c = update_row_columns([new], [old.version_params(t1)])
    >>> c["type"][1:], c["old_type"][1:], c["old_text"][1:], c["properties"][1:], c["retired_at"][1:] == [t1]
    (['U'], ['T'], [None], ['{"x":1}'], True)
    >>> "expired_at" in c, len({len(v) for v in c.values()})
    (False, 1)
    """
    columns = entity_row_columns(rows)
    del columns["expired_at"]
    for name in ("id", "namespace", "name"):  # the version's own: the same as the row's
        columns[name] = [columns[name][0], *(v[name] for v in versions)]
    for name, value in _VERSION_PLACEHOLDER.items():
        columns[name] = [value]
    for version in versions:
        for name, value in version.items():
            name = _OLD_NAMES.get(name, name)
            if name in _VERSION_PLACEHOLDER:
                columns[name].append(value)
    return columns


RELATION_SCHEMA = pa.schema(
    [
        ("from", pa.string()),
        ("to", pa.string()),
        ("type", pa.string()),
        ("properties", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("valid_from", pa.timestamp("us")),
        ("valid_to", pa.timestamp("us")),
        ("expired_at", pa.timestamp("us")),
    ]
)


def relation_rows_table(
    sources: Sequence[str], targets: Sequence[str], types: Sequence[str], properties: Sequence[str], created: datetime,
    valid_from: Sequence[datetime | None], valid_to: Sequence[datetime | None], *, engine: str,
) -> pa.Table:
    """The Arrow table of new relations (endpoints are entity keys) that :func:`relation_insert` writes."""
    n = len(sources)
    columns = [sources, targets, types, properties, [created] * n, valid_from, valid_to, [None] * n]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, RELATION_SCHEMA)], schema=RELATION_SCHEMA
    )


_RELATION_COPY_CHUNK = {"kuzu": 64}
"""Rows per Arrow record batch of a relation ``COPY``, per engine (absent: as built).

Kùzu 0.11.3 partitions a relation COPY row by row, and each row's append
looks for the first non-NULL value of every column across the whole scanned
vector (one per record batch, up to 2,048 rows; ``ValueVector::firstNonNull``
in ``ColumnChunkData::updateStats``): a column NULL in every row (valid_from,
valid_to, expired_at of new relations) costs the vector's length per row.
Measured on 50k-row COPYs (kuzu, 100k entities, the Relation schema): 1.6 s
per batch as one chunk, 0.5 s in chunks of 64 (128: the same; 16: slower);
2,048 rows without NULL columns: 0.3 s. LadybugDB 0.22 has not got the cost,
and there chunking made the COPY ~10-20% slower, so it keeps one chunk."""


COPY_PER_STORED = 8
"""A batch of new relations is written with ``COPY`` only when it holds at
least one row per this many relations already stored (and at least
``relation_copy_from`` rows): see :func:`copies_relations`."""


def copies_relations(rows: int, stored: int, *, copy_from: int) -> bool:
    """Whether ``rows`` new relations, into a store holding ``stored``, are
    cheaper as one ``COPY`` than as one ``relation_create_batch`` statement.

    A relation COPY's COMMIT checkpoints the whole database on both engines
    (COPY writes its pages unlogged), rewriting the relation CSR of every node
    group the batch touches: with endpoints spread over the store, all of
    them, so it costs in proportion to what is stored, whatever the batch
    size. ``LOAD FROM`` + ``CREATE`` costs more per row but logs its rows to the
    WAL, whose fold (:meth:`Store.allow_wal`) is then shared by many batches.
    Measured per 50k batch of random relations (CPU seconds; 200k entities,
    ``benchmarks/bulk_probe.py --ways arrow,create256 --per-batch``): COPY
    0.18 + a COMMIT of 0.86 µs per stored relation on kuzu 0.11.3 (0.16 +
    1.2 µs on ladybug 0.22); LOAD FROM 0.30 + COMMIT 0.20 (0.36 + 0.25), plus
    a fold of ~1 s per ~1M relations logged. They cross where a batch holds a
    row per ~7.5 stored relations (both engines).

    Examples
    --------
    >>> copies_relations(50_000, 0, copy_from=20_000), copies_relations(50_000, 1_000_000, copy_from=20_000)
    (True, False)
    >>> copies_relations(10_000, 0, copy_from=20_000)
    False
    """
    return rows >= copy_from and rows * COPY_PER_STORED >= stored


BULK_WAL = 64 << 20
"""The WAL a store may grow to before it folds it when relations went to the
WAL in bulk (``LOAD FROM`` batches, see :func:`copies_relations`), instead of
``space.CHECKPOINT_WAL``. A fold rewrites the relation CSR of every node
group touched since the last one, so it costs about what the store holds;
at 16 MiB (~50k relations of ~340 bytes of WAL each) it came every batch or
two and cost what the COPY it replaces does (measured, kuzu, 200k entities /
1M relations: 55k relations per CPU-second against 90k with 256 MiB). The
bound is what a reopen after a crash replays: measured on kuzu 0.11.3 at load
6 on 2 cores, a 161 MiB WAL took 35 s to replay (~4.6 MiB/s), so 64 MiB
(~200k relations, a fold per ~4 batches of 50k) rather than more."""


RELATION_ROWS_MAX = 128
"""Batches of fewer new relations than this are one prepared ``UNWIND`` over
one list per column (``relation_create_rows``, parameters of
:func:`relation_row_columns` / :func:`relation_table_columns`) instead of
``LOAD FROM`` an Arrow table, whose plan is built for each call (the table is
bound when planned). Measured through ``Store.execute`` (the process's CPU
for the statement, p50 of 31, interleaved, 2 shared cores at load 1.8-2.5,
2026-12-07), lists against ``LOAD FROM``: LadybugDB 0.22 at 1k entities, 10
relations 0.59-0.66 against 1.73-1.83 ms, 32 1.53 against 3.09, 128 2.32
against 2.92, 192 2.86 against 2.89, 256 4.89 against 4.55; at 100k, 10
relations 0.89 against 2.03, 100 3.49 against 4.23. kuzu 0.11.3 at 1k, 10
relations 1.76 against 2.64, 128 3.28 against 3.39, 192 3.38 against 3.16; at
10k, 10 relations 3.58 against 4.13; at 100k, 31 relations 24.1 against 24.7,
100 26.0 against 27.0 (both forms scan the entities there, see
:data:`RELATION_ROWS_ENGINES`). With one struct per row, the form before (the
binding converted every field of every row), LadybugDB's 10 relations cost
1.34-1.47 ms and the bound was 32."""

RELATION_ROWS_ENGINES = frozenset({"kuzu", "ladybug"})
"""The engines on which small relation batches take ``relation_create_rows``
(:data:`RELATION_ROWS_MAX`): both. On LadybugDB 0.22 the endpoints are
primary-key lookups (EXPLAIN: two QUERY_PRIMARY_KEY_LOOKUPs), whatever the
store's size. kuzu 0.11.3 plans them as a hash join over a scan of the
entities, as it plans ``relation_create_batch``'s (1,000 rows at 1k entities
1.1 s against 10 ms when each row's MATCH was a scan of its own, in the
struct form); there the statement costs with the store, and
:meth:`StoreConfig.batch_relations` sends the rows of a big store to one keyed
``relation_create`` each. New entities need no lookup: their small batches
take ``entity_create_rows`` on both engines (:data:`ENTITY_ROWS_MAX`)."""

RELATION_COLUMNS = ("from", "to", "type", "properties", "created_at", "valid_from", "valid_to", "expired_at")
"""The lists ``relation_create_rows`` reads, one per column of :data:`RELATION_SCHEMA`."""

# Position 1 of each list relation_create_rows reads: a value of the list's type
# (see the statement), never written.
_RELATION_PLACEHOLDER: dict[str, Any] = {
    "from": "", "to": "", "type": "", "properties": "", "created_at": _PLACEHOLDER_TIME,
    "valid_from": _PLACEHOLDER_TIME, "valid_to": _PLACEHOLDER_TIME, "expired_at": _PLACEHOLDER_TIME,
}  # fmt: skip


def _naive_utc(value: datetime | None) -> datetime | None:
    """``value`` as the naive UTC timestamp an Arrow ``timestamp("us")`` column holds of it.

    Examples
    --------
    >>> from datetime import timedelta
    >>> _naive_utc(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    datetime.datetime(2026, 1, 1, 0, 0)
    """
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def relation_row_columns(
    sources: Sequence[str], targets: Sequence[str], types: Sequence[str], properties: Sequence[str], created: datetime,
    valid_from: Sequence[datetime | None], valid_to: Sequence[datetime | None],
) -> dict[str, list[Any]]:
    """The parameters ``relation_create_rows`` reads for new relations (what
    :func:`relation_rows_table` holds of them, without building the table): one
    list per column, each led by a typed placeholder; timestamps naive UTC.

    Examples
    --------
    >>> c = relation_row_columns(["a"], ["b"], ["T"], ["{}"], datetime(2026, 1, 1), [None],
    ...                          [datetime(2027, 1, 1, tzinfo=timezone.utc)])
    >>> c["from"][1:], c["expired_at"][1:], c["valid_from"][1:], c["valid_to"][1:]
    (['a'], [None], [None], [datetime.datetime(2027, 1, 1, 0, 0)])
    """
    n = len(sources)
    place = _RELATION_PLACEHOLDER
    return {
        "from": [place["from"], *sources], "to": [place["to"], *targets], "type": [place["type"], *types],
        "properties": [place["properties"], *properties],
        "created_at": [place["created_at"], *([_naive_utc(created)] * n)],
        "valid_from": [place["valid_from"], *map(_naive_utc, valid_from)],
        "valid_to": [place["valid_to"], *map(_naive_utc, valid_to)],
        "expired_at": [place["expired_at"], *([None] * n)],
    }  # fmt: skip


def relation_table_columns(table: pa.Table) -> dict[str, list[Any]]:
    """The parameters ``relation_create_rows`` reads for the relations of
    ``table`` (:data:`RELATION_SCHEMA`): its columns as lists, each led by a
    typed placeholder (Arrow gives timestamps back naive, in UTC, as it holds them).

    Examples
    --------
    >>> t = relation_rows_table(["a"], ["b"], ["T"], ["{}"], datetime(2026, 1, 1), [None], [None], engine="kuzu")
    >>> c = relation_table_columns(t)
    >>> c["to"], c["valid_to"][1:]
    (['', 'b'], [None])
    """
    return {name: [_RELATION_PLACEHOLDER[name], *table.column(name).to_pylist()] for name in RELATION_COLUMNS}


def insert_relations(store: Store, table: pa.Table, *, copy_from: int, stored: int = 0) -> None:
    """Add the relations of ``table`` (:data:`RELATION_SCHEMA`, endpoints that
    exist) in the open transaction: with ``relation_copy``, or with
    ``relation_create_batch``, as :func:`copies_relations` decides from the
    batch and ``stored`` (the relations the store holds); a small batch
    (:data:`RELATION_ROWS_MAX`) on an engine of :data:`RELATION_ROWS_ENGINES`
    with ``relation_create_rows``.

    Large batches that go through the WAL let it grow to :data:`BULK_WAL`
    before the store folds it. Measured on kuzu 0.11.3, 5,000 relations on 2
    shared cores: at 10k entities COPY 23-85 ms and COMMIT 98-670 ms against
    67-121 ms and 42-73 ms; at 100k 103-217 ms + 106-793 ms against 228-344
    ms + 90-108 ms.
    """
    if copies_relations(table.num_rows, stored, copy_from=copy_from):
        store.execute("relation_copy", {"rows": relation_copy_rows(table, engine=store.engine_name)})
        return
    if table.num_rows < RELATION_ROWS_MAX and store.engine_name in RELATION_ROWS_ENGINES:
        store.execute("relation_create_rows", relation_table_columns(table))
    else:
        store.execute("relation_create_batch", {"rows": table})
    if table.num_rows >= copy_from:
        store.allow_wal(BULK_WAL)


def write_new_relations(
    store: Store, sources: Sequence[str], targets: Sequence[str], types: Sequence[str], properties: Sequence[str],
    created: datetime, valid_from: Sequence[datetime | None], valid_to: Sequence[datetime | None], *,
    copy_from: int, stored: int,
) -> None:
    """Add new relations (endpoint keys that exist; one value per relation in
    each sequence, ``created`` for all) in the open transaction, as
    :func:`insert_relations` does, building the Arrow table only for the
    statements that read one: a small batch on an engine of
    :data:`RELATION_ROWS_ENGINES` goes as plain lists (:func:`relation_row_columns`)."""
    n = len(sources)
    if (n < RELATION_ROWS_MAX and store.engine_name in RELATION_ROWS_ENGINES
            and not copies_relations(n, stored, copy_from=copy_from)):
        columns = relation_row_columns(sources, targets, types, properties, created, valid_from, valid_to)
        store.execute("relation_create_rows", columns)
        return
    table = relation_rows_table(sources, targets, types, properties, created, valid_from, valid_to,
                                engine=store.engine_name)  # fmt: skip
    insert_relations(store, table, copy_from=copy_from, stored=stored)


def relation_copy_rows(table: pa.Table, *, engine: str) -> pa.Table:
    """``table`` (RELATION_SCHEMA) in the record batches :data:`_RELATION_COPY_CHUNK` gives ``engine``.

    Examples
    --------
    >>> t = pa.table({"from": ["a"] * 100})
    >>> relation_copy_rows(t, engine="kuzu").column(0).num_chunks, relation_copy_rows(t, engine="ladybug").num_rows
    (2, 100)
    """
    size = _RELATION_COPY_CHUNK.get(engine)
    if size is None or table.num_rows <= size:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=size), schema=table.schema)


_VERSION_SCHEMA = pa.schema(
    [
        ("vkey", pa.string()),
        ("key", pa.string()),
        ("id", pa.int64()),
        ("namespace", pa.string()),
        ("name", pa.string()),
        ("type", pa.string()),
        ("text", pa.string()),
        ("observations", pa.list_(pa.string())),
        ("properties", pa.string()),
        ("valid_from", pa.timestamp("us")),
        ("valid_to", pa.timestamp("us")),
        ("recorded_at", pa.timestamp("us")),
        ("expired_at", pa.timestamp("us")),
    ]
)


def version_rows_table(versions: Sequence[dict[str, Any]]) -> pa.Table:
    """The Arrow table that ``entity_version_batch`` reads (rows of :meth:`EntityRow.version_params`)."""
    return pa.Table.from_arrays(
        [pa.array([v[f.name] for v in versions], type=f.type) for f in _VERSION_SCHEMA], schema=_VERSION_SCHEMA
    )


def version_from_db(key: str, row: Sequence[Any]) -> EntityRow:
    """An :class:`EntityRow` (no vector) from an ``entity_versions`` / ``entity_version_at`` row."""
    id_, namespace, name, type_, text, observations, properties, recorded, valid_from, valid_to, expired = row
    return EntityRow(
        key=key, id=int(id_), namespace=namespace, name=name, type=type_, text=text,
        observations=list(observations or ()), properties=decode_properties(properties, name), embedding=None,
        scale=None, created_at=recorded, updated_at=recorded, valid_from=valid_from, valid_to=valid_to,
        expired_at=expired,
    )  # fmt: skip


def relation_from_db(source: str, type_: str, target: str, row: Sequence[Any]) -> Relation:
    """A :class:`Relation` from a ``relation_get`` row (properties, created_at, valid_from, valid_to, expired_at)."""
    properties, created, valid_from, valid_to, expired = row
    return Relation(
        source=source,
        type=type_,
        target=target,
        properties=decode_properties(properties, f"{source} -[{type_}]-> {target}"),
        created_at=as_utc(created),
        valid_from=as_utc(valid_from),
        valid_to=as_utc(valid_to),
        expired_at=as_utc(expired),
    )
