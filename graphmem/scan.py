"""Bulk decoding of scanned Arrow batches into :class:`Entity` / :class:`Relation`.

The scans (:meth:`graphmem.Memory.iter_entities` / ``iter_relations``) read
the store as Arrow tables. Decoding them one row at a time through
:func:`graphmem.records.entity_from_db` cost ~14 µs per row (issue 18): a
naive datetime made and then replaced per timestamp, one NumPy dequantization
per vector, an intermediate :class:`~graphmem.records.EntityRow` per row.
Here each column is converted once per batch: timestamps through the few
distinct values a batch holds (a bulk write stamps its rows alike), vectors
as one int8 matrix scaled in one multiply, JSON properties with the empty
object short-cut. Rows the bulk path does not cover (packed cold-tier rows)
go through the per-row decoder, so the result is the same object for object.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from .records import as_utc, decode_properties, entity_from_db, entity_key
from .types import Entity, Relation

__all__ = ["decode_entities", "decode_relations"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_raw_decode = json.JSONDecoder().raw_decode


def _timestamps(column: pa.Array) -> list[datetime | None]:
    """A timestamp column as aware UTC datetimes (``None`` for nulls), equal to
    :func:`graphmem.records.as_utc` of each naive value.

    Each distinct value is converted once: a batch written by one
    ``add_entities`` call shares its timestamps, so this is a few conversions
    per batch instead of two datetime objects per row.
    """
    n = len(column)
    if n == 0:
        return []
    if column.null_count == n:
        return [None] * n
    unit = column.type.unit
    per_us = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[unit]
    if per_us is None:  # nanoseconds: keep the exact per-row conversion (datetime holds µs)
        return [as_utc(v) for v in column.to_pylist()]
    raw = column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    uniq, inverse = np.unique(raw, return_inverse=True)
    made = np.empty(len(uniq), dtype=object)
    for i, value in enumerate(uniq.tolist()):
        made[i] = _EPOCH + timedelta(microseconds=value * per_us)
    out = made[inverse]
    if column.null_count:
        out[np.asarray(column.is_null().to_numpy(zero_copy_only=False))] = None
    values: list[datetime | None] = out.tolist()
    return values


def _vectors(embedding: pa.Array, scale: pa.Array) -> list[np.ndarray | None]:
    """Dequantized vectors (float32 rows of one matrix per batch, ``int8 * scale``
    as :func:`graphmem.records.dequantize`; ``None`` where there is none)."""
    n = len(embedding)
    if embedding.null_count == n:
        return [None] * n
    if isinstance(embedding, pa.ChunkedArray):
        embedding = embedding.combine_chunks()
    offsets = np.frombuffer(embedding.buffers()[1], dtype=np.int32 if embedding.type == pa.binary() else np.int64,
                            count=n + 1, offset=embedding.offset * (4 if embedding.type == pa.binary() else 8))
    lengths = np.diff(offsets)
    present = ~np.asarray(embedding.is_null().to_numpy(zero_copy_only=False))
    dims = np.unique(lengths[present])
    if len(dims) != 1 or int(dims[0]) == 0:
        # Mixed dimensions (should not happen: one store, one dimension): row by row.
        return _vectors_by_row(embedding, scale)
    dim = int(dims[0])
    data = np.frombuffer(embedding.buffers()[2], dtype=np.int8)
    if present.all():
        start = int(offsets[0])
        matrix = data[start:start + n * dim].reshape(n, dim)
    else:  # gather the present rows (null rows occupy no bytes)
        matrix = np.zeros((n, dim), np.int8)
        for i in np.flatnonzero(present).tolist():
            matrix[i] = data[offsets[i]:offsets[i] + dim]
    scales = scale.to_numpy(zero_copy_only=False)
    scales = scales.astype(np.float64)
    # ``scale or 1.0`` in dequantize: a missing or zero scale reads as 1.
    scales = np.where(np.isnan(scales) | (scales == 0), 1.0, scales).astype(np.float32)
    # float32 * float32 per element, as dequantize does: bit-identical vectors.
    floats = matrix.astype(np.float32) * scales[:, None]
    rows: list[np.ndarray | None] = list(floats)
    if not present.all():
        for i in np.flatnonzero(~present).tolist():
            rows[i] = None
    return rows


def _vectors_by_row(embedding: pa.Array, scale: pa.Array) -> list[np.ndarray | None]:
    from .records import dequantize

    return [None if data is None else dequantize(data, s or 1.0)
            for data, s in zip(embedding.to_pylist(), scale.to_pylist())]  # fmt: skip


def _json_objects(texts: list[str | None], label: Callable[[int], str]) -> list[dict[str, Any]]:
    """Each JSON properties text as a dict, as :func:`graphmem.records.decode_properties`
    reads it (``label(i)`` names row ``i`` in its error)."""
    out: list[dict[str, Any]] = []
    append = out.append
    for i, text in enumerate(texts):
        if not text or text == "{}":
            append({})
            continue
        try:
            value, end = _raw_decode(text)
        except ValueError:
            value, end = None, -1
        if end != len(text) or not isinstance(value, dict):
            value = decode_properties(text, label(i))  # the same result or the same CorruptStore as a row-by-row read
        append(value)
    return out


class _EntityFields:
    """Built like :class:`Entity` (the same slots in the same order), made by
    plain attribute stores and then given the class ``Entity``.

    A frozen dataclass sets each field through ``object.__setattr__`` (a call
    per field): 1.6 µs per ``Entity`` of the 14 fields, the largest part of
    decoding a scanned row. Stores to the slots of a plain class are
    specialised bytecode, and assigning ``__class__`` between classes of the
    same slot layout is allowed by CPython: 0.55 µs for the same object (10k
    rows, benchmarks/RESULTS.md "Scans"). The result is an ``Entity`` like
    any other (same class, equality, hash, repr, pickling); the class has no
    ``__init__`` checks or ``__post_init__`` that this would skip
    (``tests/test_scan.py`` compares every field against the per-row decoder).
    """

    __slots__ = Entity.__slots__

    def __init__(self, name: str, type: str, text: str | None, observations: tuple[str, ...],
                 properties: dict[str, Any], id: int, namespace: str, created_at: datetime | None,
                 updated_at: datetime | None, embedding: np.ndarray | None, valid_from: datetime | None,
                 valid_to: datetime | None, expired_at: datetime | None, importance: float | None) -> None:
        self.name = name
        self.type = type
        self.text = text
        self.observations = observations
        self.properties = properties
        self.id = id
        self.namespace = namespace
        self.created_at = created_at
        self.updated_at = updated_at
        self.embedding = embedding
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.expired_at = expired_at
        self.importance = importance


class _RelationFields:
    """:class:`_EntityFields` for :class:`Relation` (8 fields: 0.95 µs frozen, 0.35 µs here)."""

    __slots__ = Relation.__slots__

    def __init__(self, source: str, type: str, target: str, properties: dict[str, Any], created_at: datetime | None,
                 valid_from: datetime | None, valid_to: datetime | None, expired_at: datetime | None) -> None:
        self.source = source
        self.type = type
        self.target = target
        self.properties = properties
        self.created_at = created_at
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.expired_at = expired_at


def _entity(*fields: Any) -> Entity:
    made = _EntityFields(*fields)
    made.__class__ = Entity  # type: ignore[assignment]  # same slot layout: see _EntityFields
    return made  # type: ignore[return-value]


def _relation(*fields: Any) -> Relation:
    made = _RelationFields(*fields)
    made.__class__ = Relation  # type: ignore[assignment]
    return made  # type: ignore[return-value]


def _tuples(lists: list[list[str] | None]) -> list[tuple[str, ...]]:
    empty: tuple[str, ...] = ()
    return [tuple(obs) if obs else empty for obs in lists]


def decode_entities(batch: pa.RecordBatch) -> list[Entity]:
    """The entities of an ``entity_export`` batch (columns in
    :data:`graphmem.records.ENTITY_COLUMNS` order), in row order."""
    n = batch.num_rows
    if n == 0:
        return []
    col = batch.column
    names = col(2).to_pylist()
    created, updated, valid_from, valid_to, expired = (_timestamps(col(i)) for i in range(9, 14))
    out = list(map(_entity, names, col(3).to_pylist(), col(4).to_pylist(), _tuples(col(5).to_pylist()),
                   _json_objects(col(6).to_pylist(), names.__getitem__), col(0).to_pylist(), col(1).to_pylist(),
                   created, updated, _vectors(col(7), col(8)), valid_from, valid_to, expired,
                   col(14).to_pylist()))  # fmt: skip
    packed = col(15)
    if packed.null_count != n:  # cold-tier rows (their text is packed): decoded again, one by one
        rows = batch.to_pylist()
        for i in np.flatnonzero(~np.asarray(packed.is_null().to_numpy(zero_copy_only=False))).tolist():
            row = list(rows[i].values())
            out[i] = entity_from_db(entity_key(row[1], row[2]), row).to_entity()
    return out


def decode_relations(batch: pa.RecordBatch) -> list[Relation]:
    """The relations of a ``relation_export`` batch (source, type, target,
    properties, created_at, valid_from, valid_to, expired_at), in row order."""
    n = batch.num_rows
    if n == 0:
        return []
    col = batch.column
    sources = col(0).to_pylist()
    kinds = col(1).to_pylist()
    targets = col(2).to_pylist()
    properties = _json_objects(col(3).to_pylist(), lambda i: f"{sources[i]} -[{kinds[i]}]-> {targets[i]}")
    created, valid_from, valid_to, expired = (_timestamps(col(i)) for i in range(4, 8))
    return list(map(_relation, sources, kinds, targets, properties, created, valid_from, valid_to, expired))
