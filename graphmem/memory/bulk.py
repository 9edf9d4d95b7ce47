"""The bulk write path: a batch of records as Arrow columns, checked and written column by column.

:meth:`Memory.add_entities` and :meth:`Memory.add_relations` first try this
path. Reading each input record (one pass that picks its fields into column
lists) is the only per-record Python of the common case; every check runs
over whole columns (Arrow kernels, set operations, one encoder call mapped
over a column), keys are resolved in one pass over the in-memory name map,
and the rows go to the engine as one Arrow table (``COPY``).

It is a fast path, not a second implementation of the rules. It takes a batch
only when it can prove that the batch is one that the per-record path
(:mod:`graphmem.memory.writes`) would write in the same way:

- entities that are all new (no key in the store, current or expired, and no
  name twice in the batch), duplicates ``"allow"`` and no namespace capacity;
  with an embedder only when every record brings its own embedding (then the
  embedder is not asked), and embeddings only when the caller reads them
  (``read_entities(..., vectors=True)``: :meth:`Memory.add_entities`);
- relations that are all new (no current relation with the same source,
  type and target, none twice in the batch) between existing entities,
  without ``replaces``;
- every column check certain to pass (see the column checks in
  :mod:`graphmem.validate`).

Anything else (an update, a bad record, a rare field) returns ``None`` and the
caller runs the per-record path from the start, which applies the upsert
rules and raises the exact error. Records with the optional fields
``valid_from`` / ``valid_to`` / ``importance`` stay on this path; those
values are checked by the per-value functions, one call per record that
carries them.

Over 500 lines: two batch kinds (entities, relations), each read, checked
column by column and written, with the proofs above for each.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain, compress, repeat
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from operator import is_not, itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..config import (
    MAX_CALL_BYTES,
    MAX_OBSERVATIONS,
    MAX_OBSERVATIONS_PER_CALL,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_DEPTH,
    MAX_RECORD_BYTES,
    StoreConfig,
)
from ..errors import InvalidInput
from ..index.derived import DerivedState
from ..index.entity_cache import EntityCache
from ..index.vector_store import epoch_us
from ..index.vectors import VectorIndex
from ..records import ENTITY_SCHEMA, RELATION_SCHEMA, EntityRow, insert_relations, key_prefix
from ..store.store import Store
from ..temporal import check_validity
from ..validate import names_pass, string_column, texts_pass, types_pass

__all__ = ["ENTITY_BULK_FROM", "EntityBatch", "RelationBatch", "read_entities", "read_relations", "write_entities",
           "write_relations", "apply_entities", "apply_relations", "quantize_rows", "written_rows"]  # fmt: skip

_ENTITY_FIELDS = frozenset({"name", "type", "text", "observations", "properties", "embedding", "valid_from",
                            "valid_to", "importance"})  # fmt: skip
_RELATION_FIELDS = frozenset({"source", "type", "target", "properties", "valid_from", "valid_to", "replaces"})
_NONE = type(None)

# The encoder json.dumps(..., ensure_ascii=False, separators=(",", ":"),
# allow_nan=False) builds on every call, built once: the per-record writes
# store this exact text (writes._json, EntityRow.params). No cycle markers
# (they would be shared between threads): a cycle raises RecursionError,
# and the caller takes the per-record path, which names the problem.
_ENCODE = c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, False)


def _dumps(value: Any) -> str:
    return "".join(_ENCODE(value, 0))


# -- reading --------------------------------------------------------------------------


def _field(records: list[dict[str, Any]], fields: set[str], name: str) -> list[Any] | None:
    """Column ``name`` of dict records (``None`` where absent), or ``None`` when no record has it."""
    if name not in fields:
        return None
    return list(map(dict.get, records, repeat(name)))


def _dict_columns(records: Any, allowed: frozenset[str], required: tuple[str, ...]) -> dict[str, Any] | None:
    """The columns of a list of plain dicts, or ``None`` when the batch is not one the bulk path reads."""
    if not isinstance(records, list) or not records or set(map(type, records)) != {dict}:
        return None
    fields = set().union(*records)
    if not fields <= allowed:
        return None
    try:
        # One pass per column (a pass building per-record tuples instead wakes the cyclic GC).
        columns: dict[str, Any] = {name: list(map(itemgetter(name), records)) for name in required}
    except KeyError:
        return None
    for name in allowed - set(required):
        columns[name] = _field(records, fields, name)
    if "replaces" in columns and columns["replaces"] is not None:
        # Absent means False; an explicit None is refused by the per-record check.
        columns["replaces"] = list(map(dict.get, records, repeat("replaces"), repeat(False)))
    return columns


def _properties(values: list[Any] | None, n: int) -> tuple[pa.Array, np.ndarray] | None:
    """The properties column as the JSON text the per-record path stores
    (``"{}"`` where absent) and each record's JSON size for the record limits
    (0 where absent), or ``None`` when a value needs the per-record check."""
    if values is None:
        return pa.repeat(pa.scalar("{}"), n), np.zeros(n, np.int64)
    kinds = set(map(type, values))
    if not kinds <= {dict, _NONE}:
        return None
    present = np.fromiter(map(is_not, values, repeat(None)), bool, n)
    given = list(compress(values, present.tolist())) if not present.all() else values
    text_col = _json_column(given)
    if text_col is None:
        return None
    if len(text_col):
        sizes = pc.binary_length(text_col)
        if pc.max(sizes).as_py() > MAX_PROPERTIES_BYTES:
            return None
        # Nesting depth is at most the number of brackets (strings holding
        # brackets only make this stricter).
        if pc.max(pc.count_substring_regex(text_col, r"[\[{]")).as_py() > MAX_PROPERTY_DEPTH:
            return None
    if present.all():
        return text_col, sizes.to_numpy(zero_copy_only=False).astype(np.int64)
    full = np.zeros(n, np.int64)
    where = np.flatnonzero(present)
    if len(text_col):
        full[where] = sizes.to_numpy(zero_copy_only=False)
    column = np.full(n, "{}", dtype=object)
    column[where] = text_col.to_numpy(zero_copy_only=False)
    return pa.array(column, pa.string()), full


_SCALARS = frozenset({str, int, float, bool, _NONE})


def _json_column(given: list[dict[str, Any]]) -> pa.Array | None:
    """Each dict's JSON text (as the per-record path writes it), or ``None``
    when one needs the per-record check: not JSON (NaN, a set...), a key that
    is not a str, a tuple (check_properties refuses the first and stores the
    second as a list), a lone surrogate."""
    if not given:
        return pa.array([], pa.string())
    flat = set(map(type, chain.from_iterable(given))) <= {str} and set(
        map(type, chain.from_iterable(map(dict.values, given)))) <= _SCALARS
    try:
        whole = _dumps(given)
    except (TypeError, ValueError, RecursionError):
        return None
    if flat and whole.count("},{") == len(given) - 1:
        # Flat dicts with str keys: JSON keeps them as they are, and the text of
        # the list is the texts of its dicts joined by "," -- split where no
        # string holds "},{" (the count proves it), one call for the batch.
        parts = string_column(whole[2:-2].split("},{"), nullable=False)
        if parts is None:
            return None  # a lone surrogate
        return pc.binary_join_element_wise(pa.scalar("{"), parts, pa.scalar("}"), "")
    # Nested values: JSON turns int/float/bool keys into strings and tuples
    # into lists; read back, only what round-trips unchanged skips the per-record check.
    if json.loads(whole) != given:
        return None
    try:
        texts = list(map(_dumps, given))
    except (TypeError, ValueError, RecursionError):
        return None
    return string_column(texts, nullable=False)


def _validity(start: list[Any] | None, end: list[Any] | None, n: int) -> tuple[pa.Array, pa.Array] | None:
    """``valid_from`` / ``valid_to`` as UTC timestamps: checked per record that carries one."""
    if start is None and end is None:
        nulls = pa.nulls(n, pa.timestamp("us"))
        return nulls, nulls
    start = start or [None] * n
    end = end or [None] * n
    out_start: list[datetime | None] = [None] * n
    out_end: list[datetime | None] = [None] * n
    try:
        for i in np.flatnonzero(np.fromiter(map(_given, start, end), bool, n)).tolist():
            out_start[i], out_end[i] = check_validity(start[i], end[i])
    except InvalidInput:
        return None
    return pa.array(out_start, pa.timestamp("us")), pa.array(out_end, pa.timestamp("us"))


def _aware(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as the aware datetime the public calls take."""
    return None if value is None else value.replace(tzinfo=timezone.utc)


def _given(a: Any, b: Any) -> bool:
    return a is not None or b is not None


def _importance(values: list[Any] | None, n: int) -> pa.Array | None:
    if values is None:
        return pa.nulls(n, pa.float64())
    if not set(map(type, values)) <= {int, float, _NONE}:
        return None  # bool, str, numpy scalars...: the per-record check decides
    out: list[float | None] = [None] * n
    for i in np.flatnonzero(np.fromiter(map(is_not, values, repeat(None)), bool, n)).tolist():
        try:
            if not math.isfinite(values[i]):
                return None
        except OverflowError:
            return None
        out[i] = float(values[i])
    return pa.array(out, pa.float64())


_SMALL_GROUP = 512
"""Observations up to this many are checked for repeats in Python, more by Arrow."""


def _observations(values: list[Any] | None, n: int) -> tuple[pa.Array, np.ndarray, np.ndarray] | None:
    """Observations as the per-record path stores a new entity's (``None``
    items as ``""``), with each record's count and UTF-8 bytes; ``None`` when
    a value needs the per-record check or a list repeats an observation (the
    per-record path keeps the first of each)."""
    empty = pa.array([[]] * n, pa.list_(pa.string()))
    if values is None:
        return empty, np.zeros(n, np.int64), np.zeros(n, np.int64)
    if not set(map(type, values)) <= {list, tuple, _NONE}:
        return None
    try:
        column = pa.array(values, pa.list_(pa.string()))
    except (pa.ArrowException, UnicodeEncodeError):
        return None
    column = column.fill_null(pa.scalar([], pa.list_(pa.string())))
    counts = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    if counts.size and counts.max() > MAX_OBSERVATIONS:
        return None
    items = pc.fill_null(column.flatten(), "")
    if len(items):
        if not texts_pass(items):
            return None
        parents = pc.list_parent_indices(column)
        if len(items) <= _SMALL_GROUP:
            # A set of pairs: Arrow's group_by has a fixed cost of ~1.7 ms a call
            # (measured, kuzu store at 1k, one MCP create_entities of 10), a fifth of the write.
            repeated = len(set(zip(parents.to_pylist(), items.to_pylist()))) != len(items)
        else:
            repeated = pa.table({"p": parents, "v": items}).group_by(["p", "v"]).aggregate([]).num_rows != len(items)
        if repeated:
            return None
        lengths = pc.binary_length(items).to_numpy(zero_copy_only=False).astype(np.int64)
        sizes = np.bincount(parents.to_numpy(zero_copy_only=False), weights=lengths, minlength=n).astype(np.int64)
        column = pa.ListArray.from_arrays(column.offsets, items)
    else:
        sizes = np.zeros(n, np.int64)
    return column, counts, sizes


def _sizes(*columns: pa.Array | None) -> np.ndarray:
    """UTF-8 bytes per row summed over string columns (a null adds nothing)."""
    total: np.ndarray | None = None
    for column in columns:
        if column is None:
            continue
        lengths = pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        total = lengths if total is None else total + lengths
    return total  # type: ignore[return-value]


def _limits_pass(sizes: np.ndarray, observations: np.ndarray) -> bool:
    """The record and call limits of ``check_record_bytes`` / ``check_call_totals``."""
    if not sizes.size:
        return True
    return bool(sizes.max() <= MAX_RECORD_BYTES and sizes.sum() <= MAX_CALL_BYTES
                and observations.sum() <= MAX_OBSERVATIONS_PER_CALL)


# -- entities -------------------------------------------------------------------------


_ENTITY_BATCH_COLUMNS = ("names", "types", "texts", "observations", "properties", "valid_from", "valid_to",
                         "importance")  # fmt: skip
_RELATION_BATCH_COLUMNS = ("sources", "targets", "types", "properties", "valid_from", "valid_to")


@dataclass(slots=True)
class EntityBatch:
    """New-entity records as checked Arrow columns (``type`` null where not given)."""

    names: pa.Array
    name_list: list[str]
    types: pa.Array
    texts: pa.Array
    observations: pa.Array
    properties: pa.Array
    valid_from: pa.Array
    valid_to: pa.Array
    importance: pa.Array
    vectors: np.ndarray | None = None
    """The embeddings, checked and L2-normalised as ``check_vector`` leaves them
    (float32, one row per record; rows of records without one are unused), or
    ``None`` when no record has one."""
    has_vector: np.ndarray | None = None
    """Which records brought an embedding (bool per record), with :attr:`vectors`."""

    def __len__(self) -> int:
        return len(self.name_list)

    def nbytes(self) -> int:
        """Bytes of the Arrow columns (the name list shares its strings with the caller)."""
        total: int = sum(c.nbytes for c in (self.names, self.types, self.texts, self.observations, self.properties,
                                            self.valid_from, self.valid_to, self.importance))  # fmt: skip
        if self.vectors is not None:
            total += self.vectors.nbytes
        return total + 8 * len(self)

    def slice(self, start: int, stop: int) -> EntityBatch:
        """Records ``start:stop`` (zero-copy for the columns)."""
        n = stop - start
        vectors = has = None
        if self.vectors is not None and self.has_vector is not None:
            vectors, has = self.vectors[start:stop], self.has_vector[start:stop]
        return EntityBatch(self.names.slice(start, n), self.name_list[start:stop], self.types.slice(start, n),
                           self.texts.slice(start, n), self.observations.slice(start, n),
                           self.properties.slice(start, n), self.valid_from.slice(start, n),
                           self.valid_to.slice(start, n), self.importance.slice(start, n), vectors, has)  # fmt: skip

    def to_arrow(self) -> pa.RecordBatch:
        """The columns as one record batch (see :meth:`from_arrow`): what an import spills to disk
        (an import reads no embedding into a batch: ``read_entities`` without ``vectors``)."""
        if self.vectors is not None:
            raise ValueError("a batch with embeddings is written, not spilled")
        return pa.RecordBatch.from_arrays(
            [self.names, self.types, self.texts, self.observations, self.properties, self.valid_from,
             self.valid_to, self.importance], names=_ENTITY_BATCH_COLUMNS)  # fmt: skip

    @classmethod
    def from_arrow(cls, batch: pa.RecordBatch) -> EntityBatch:
        """The batch :meth:`to_arrow` gave (columns as they were checked, not checked again).

        Examples
        --------
        >>> batch = read_entities([{"name": "Ada", "type": "Person"}])
        >>> EntityBatch.from_arrow(batch.to_arrow()).records()[0]["type"]
        'Person'
        """
        names = batch.column("names")
        return cls(names, names.to_pylist(), *(batch.column(c) for c in _ENTITY_BATCH_COLUMNS[1:]))

    def records(self) -> list[dict[str, Any]]:
        """The records again, as :meth:`Memory.add_entities` takes them (for the
        per-record path when the batch turns out to update stored entities)."""
        out: list[dict[str, Any]] = []
        for name, type_, text, observations, properties, start, end, importance in zip(
            self.name_list, self.types.to_pylist(), self.texts.to_pylist(), self.observations.to_pylist(),
            self.properties.to_pylist(), self.valid_from.to_pylist(), self.valid_to.to_pylist(),
            self.importance.to_pylist(),
        ):  # fmt: skip
            out.append({"name": name, "type": type_, "text": text, "observations": observations,
                        "properties": json.loads(properties), "valid_from": _aware(start), "valid_to": _aware(end),
                        "importance": importance})  # fmt: skip
        if self.vectors is not None and self.has_vector is not None:
            for i in np.flatnonzero(self.has_vector).tolist():
                out[i]["embedding"] = self.vectors[i]
        return out


ENTITY_BULK_FROM = 64
""":meth:`Memory.add_entities` reads a list of fewer entity records than this
record by record (``read_entities(..., min_rows=ENTITY_BULK_FROM)``): the
columnar checks cost more than they save on a few records, and a batch
naming an existing entity (``add_observations``) is read twice. Measured in
process (``create_entities`` of new entities through the MCP tools, kuzu
0.11.3, 1k entities, CPU per call): 10 records 4.2 against 5.1 ms, 32 5.7
against 6.8, 64 6.5 either way, 128 8.5 against 8.2."""


def read_entities(records: Any, *, vectors: bool = False, min_rows: int = 0) -> EntityBatch | None:
    """The batch as columns when every record passes the per-record checks
    for certain and, unless ``vectors``, carries no embedding; ``None`` otherwise,
    and for fewer than ``min_rows`` records (the per-record path is cheaper there:
    :data:`ENTITY_BULK_FROM`).

    With ``vectors`` the embeddings are checked as one matrix (see
    :func:`_vectors`); whether their dimension is the store's is for
    :func:`write_entities`, which knows the store.

    Examples
    --------
    >>> batch = read_entities([{"name": "Ada", "embedding": [3.0, 4.0]}, {"name": "Bob"}], vectors=True)
    >>> batch.vectors[0].tolist(), batch.has_vector.tolist()
    ([0.6000000238418579, 0.800000011920929], [True, False])
    >>> read_entities([{"name": "Ada", "embedding": [3.0, 4.0]}]) is None
    True
    """
    if isinstance(records, list) and len(records) < min_rows:
        return None
    columns = _dict_columns(records, _ENTITY_FIELDS, ("name",))
    if columns is None:
        return None
    matrix = has = None
    if columns["embedding"] is not None and set(map(type, columns["embedding"])) != {_NONE}:
        if not vectors:
            return None
        checked = _vectors(columns["embedding"])
        if checked is None:
            return None
        matrix, has = checked
    n = len(records)
    names = string_column(columns["name"], nullable=False)
    if names is None or not names_pass(names):
        return None
    types = string_column(columns["type"] or [None] * n, nullable=True)
    if types is None or not types_pass(types):
        return None
    texts = string_column(columns["text"] or [None] * n, nullable=True)
    if texts is None or not texts_pass(texts):
        return None
    observations = _observations(columns["observations"], n)
    properties = _properties(columns["properties"], n)
    validity = _validity(columns["valid_from"], columns["valid_to"], n)
    importance = _importance(columns["importance"], n)
    if observations is None or properties is None or validity is None or importance is None:
        return None
    if not _limits_pass(_sizes(names, types, texts) + observations[2] + properties[1], observations[1]):
        return None
    return EntityBatch(names, columns["name"], types, texts, observations[0], properties[0], *validity,
                       importance, matrix, has)  # fmt: skip


def _vectors(values: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The embeddings as one float32 matrix, each row L2-normalised as
    ``check_vector`` normalises one (rows of records without one are zero),
    with which records have one; ``None`` when one needs the per-record check
    (not numbers, not 1-D, lengths that differ, NaN, infinity, zero)."""
    n = len(values)
    has = np.fromiter(map(is_not, values, repeat(None)), bool, n)
    given = values if has.all() else list(compress(values, has.tolist()))
    try:
        if set(map(type, given)) == {np.ndarray}:
            if len({(v.ndim, v.size) for v in given}) != 1:
                return None
            matrix = np.stack(given).astype(np.float32, copy=False)
        else:
            matrix = np.asarray(given, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        return None
    # As stored_vector: the float32 sum of squares (einsum's, row by row: the
    # same bits as stored_vector's for one row), its square root taken in
    # double and rounded to float32.
    with np.errstate(over="ignore", invalid="ignore"):
        squared = np.einsum("ij,ij->i", matrix, matrix).astype(np.float64)
    if not np.isfinite(squared).all() or not (squared > 0).all():
        return None  # NaN, infinity, an overflowing sum or a zero vector: the per-record check names it
    norms = np.sqrt(squared).astype(np.float32)
    if not (norms > 0).all():
        return None
    matrix = matrix / norms[:, None]
    if has.all():
        return matrix, has
    full = np.zeros((n, matrix.shape[1]), np.float32)
    full[has] = matrix
    return full, has


def quantize_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`graphmem.records.quantize` of every row at once: int8 rows and
    their scales (float64, as the per-row function returns them).

    Examples
    --------
    >>> from graphmem.records import quantize
    >>> v = np.array([[0.6, -0.8], [0.0, 1.0]], np.float32)
    >>> q8, scales = quantize_rows(v)
    >>> [(bytes(row), float(s)) for row, s in zip(q8, scales)] == [quantize(row) for row in v]
    True
    """
    peak = np.abs(vectors).max(axis=1).astype(np.float64)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    # Divided by the scale rounded to float32, as numpy divides a float32
    # vector by a Python float in quantize.
    q8 = np.clip(np.rint(vectors / scales.astype(np.float32)[:, None]), -127, 127).astype(np.int8)
    return q8, scales


def _binary_rows(rows: np.ndarray, present: np.ndarray) -> pa.Array:
    """Each row of ``rows`` (int8) as one binary value, null where not ``present``: no copy per row."""
    n, width = rows.shape
    lengths = np.where(present, width, 0).astype(np.int32)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = np.ascontiguousarray(rows[present]).view(np.uint8).reshape(-1)
    validity = None if present.all() else pa.array(present).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                 null_count=int(n - present.sum()))


@dataclass(slots=True)
class EntityBulkPlan:
    keys: list[str]
    ids: np.ndarray
    types: pa.Array
    namespace: str
    valid_from: pa.Array
    valid_to: pa.Array
    vector_ids: np.ndarray | None = None
    """The ids of the entities written with a vector, with :attr:`q8` and :attr:`scales`."""
    q8: np.ndarray | None = None
    scales: np.ndarray | None = None
    new_dim: int | None = None
    """The store's vector dimension, when this write is the first to set it."""


_OPTIONAL_COLUMNS = ("valid_from", "valid_to", "importance")
"""Columns of a batch that are usually all null: when they are (and the batch
is not COPYed), ``entity_create_batch_plain`` writes it without them or the
other always-null ones (``expired_at``, ``access_count``, ``last_access``,
``packed``). Measured side by side in one process on a 100k store, 100 rows:
BEGIN + the statement + COMMIT 4.43 -> 4.09 ms wall on kuzu, 6.68 -> 6.25 ms
on LadybugDB (load 1.8)."""

_PLAIN_SCHEMA = pa.schema([ENTITY_SCHEMA.field(name) for name in (
    "key", "id", "namespace", "name", "type", "text", "observations", "properties", "embedding", "scale",
    "created_at", "updated_at")])  # fmt: skip
"""The columns ``queries/entity_create_batch_plain.cypher`` reads."""


def write_entities(store: Store, state: DerivedState, batch: EntityBatch, *, namespace: str, config: StoreConfig,
                   now: datetime, vector_dim: int | None = None) -> EntityBulkPlan | None:
    """Create the batch's entities in the open transaction, or ``None`` (nothing
    written) when one of them exists, a name repeats or an embedding's
    dimension is not ``vector_dim`` (the store's; ``None``: not set yet, and
    this write sets it): then the per-record path must merge or refuse."""
    n = len(batch)
    dim = None if batch.vectors is None else batch.vectors.shape[1]
    if dim is not None and vector_dim is not None and dim != vector_dim:
        return None
    prefix = key_prefix(namespace)
    keys = list(map(prefix.__add__, batch.name_list))
    if len(set(keys)) != n or not state.ids.none_of(keys) or not state.expired.keys().isdisjoint(keys):
        return None
    ids = np.fromiter(state.allocate_ids(n), np.int64, n)
    vectors: dict[str, pa.Array] = {}
    q8 = scales = vector_ids = None
    if batch.vectors is not None and batch.has_vector is not None:
        has = batch.has_vector
        q8, scales = quantize_rows(batch.vectors[has] if not has.all() else batch.vectors)
        vector_ids = ids[has]
        full = q8 if has.all() else np.zeros((n, q8.shape[1]), np.int8)
        if full is not q8:
            full[has] = q8
        scale_col = np.zeros(n, np.float32)
        scale_col[has] = scales
        vectors = {"embedding": _binary_rows(full, has),
                   "scale": pa.array(scale_col, pa.float32(), mask=~has if not has.all() else None)}
    types = pc.fill_null(batch.types, "Entity")
    stamp = pa.repeat(pa.scalar(now, pa.timestamp("us")), n)
    columns = {
        "key": pa.array(keys, pa.string()), "id": pa.array(ids, pa.int64()),
        "namespace": pa.repeat(pa.scalar(namespace), n), "name": batch.names, "type": types, "text": batch.texts,
        "observations": batch.observations, "properties": batch.properties, "created_at": stamp, "updated_at": stamp,
        "valid_from": batch.valid_from, "valid_to": batch.valid_to, "importance": batch.importance, **vectors,
    }  # fmt: skip
    copy = n >= config.copy_threshold
    plain = not copy and not any(columns[c].null_count < n for c in _OPTIONAL_COLUMNS)
    schema = _PLAIN_SCHEMA if plain else ENTITY_SCHEMA
    table = pa.Table.from_arrays(
        [columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type) for f in schema], schema=schema,
    )
    if copy:
        store.execute("entity_copy", {"rows": table})  # COPY takes every column of the table, in order
    elif plain:
        store.execute("entity_create_batch_plain", {"rows": table})
    else:
        store.execute("entity_create_batch", {"rows": table})
    new_dim = dim if vector_dim is None and dim is not None and vector_ids is not None and len(vector_ids) else None
    if new_dim is not None:
        store.execute("meta_set", {"key": "vector_dim", "value": str(new_dim)})
    return EntityBulkPlan(keys, ids, types, namespace, batch.valid_from, batch.valid_to, vector_ids, q8, scales,
                          new_dim)  # fmt: skip


def apply_entities(state: DerivedState, cache: EntityCache, plan: EntityBulkPlan, *,
                   text: tuple[list[str], pa.Array, pa.Array] | None = None, index: VectorIndex | None = None,
                   now: datetime | None = None, rows: list[EntityRow] | None = None) -> None:
    """After commit: as :func:`graphmem.memory.writes.apply_entity_plan` and
    ``apply_entity_vectors`` for new entities (``text``: their names,
    observations and properties, for the text index; ``index``: the vector
    index when it is loaded, ``now``: the write's time, its sequence;
    ``rows``: the rows written, for the entity cache, see :func:`written_rows`).
    """
    state.add_entity_arrays(plan.keys, plan.ids, plan.types, plan.namespace, plan.valid_from, plan.valid_to,
                            text=text)
    if rows is not None:
        cache.written(rows)  # as the per-record path: a write is often read back at once
    else:
        cache.forget(plan.keys)  # a name read before it existed is cached as missing
    if index is not None and plan.vector_ids is not None and plan.q8 is not None and plan.scales is not None \
            and len(plan.vector_ids):
        index.upsert(plan.vector_ids, plan.q8, plan.scales.astype(np.float32))
        if now is not None:
            index.seq = max(index.seq, epoch_us(now))


CACHE_WRITTEN = 1024
"""Batches of up to this many new entities put their rows in the entity cache,
as the per-record path does (an agent often reads back what it just wrote);
larger ones only drop what the cache held of their keys (they would churn it)."""


def written_rows(batch: EntityBatch, plan: EntityBulkPlan, now: datetime) -> list[EntityRow] | None:
    """The rows ``plan`` wrote, as the per-record path caches them, or ``None``
    past :data:`CACHE_WRITTEN` rows.

    This runs on the write's own call, after its commit: the properties are
    parsed as one JSON list and the vectors cut from one buffer, instead of a
    ``json.loads`` and a ``tobytes`` per row (100 rows: 0.36 -> 0.16 ms alone,
    0.58-0.81 -> 0.41-0.57 ms inside ``add_entities``, measured side by side
    in one process; the rows' construction is the rest).
    """
    n = len(batch)
    if n > CACHE_WRITTEN:
        return None
    vectors: list[bytes | None] = [None] * n
    scales: list[float | None] = [None] * n
    if plan.vector_ids is not None and plan.q8 is not None and plan.scales is not None \
            and batch.has_vector is not None:
        width = plan.q8.shape[1]  # >= 1: a vector has a dimension (check_vector)
        blob = plan.q8.tobytes()  # C order whatever the array's layout
        rows = [blob[j:j + width] for j in range(0, len(blob), width)]
        given = plan.scales.tolist()
        where = np.flatnonzero(batch.has_vector).tolist()
        if len(where) == n:
            vectors, scales = list(rows), list(given)
        else:
            for j, i in enumerate(where):
                vectors[i], scales[i] = rows[j], given[j]
    # Every value is the JSON text of one object (read_entities wrote it), so
    # the texts joined by "," are one JSON list: one parse instead of n.
    properties = json.loads("[" + ",".join(batch.properties.to_pylist()) + "]")
    return [
        EntityRow(key=key, id=id_, namespace=plan.namespace, name=name, type=type_, text=text,
                  observations=observations, properties=props, embedding=vector, scale=scale,
                  created_at=now, updated_at=now, valid_from=start, valid_to=end, importance=importance)
        for key, id_, name, type_, text, observations, props, vector, scale, start, end, importance in zip(
            plan.keys, plan.ids.tolist(), batch.name_list, plan.types.to_pylist(), batch.texts.to_pylist(),
            batch.observations.to_pylist(), properties, vectors, scales,
            batch.valid_from.to_pylist(), batch.valid_to.to_pylist(), batch.importance.to_pylist())
    ]  # fmt: skip


# -- relations ------------------------------------------------------------------------


@dataclass(slots=True)
class RelationBatch:
    sources: list[str]
    targets: list[str]
    types: pa.Array
    properties: pa.Array
    valid_from: pa.Array
    valid_to: pa.Array
    source_names: pa.Array
    """``sources`` as an Arrow column (endpoints are resolved from these, see :func:`write_relations`)."""
    target_names: pa.Array

    def __len__(self) -> int:
        return len(self.sources)

    def nbytes(self) -> int:
        total: int = sum(c.nbytes for c in (self.types, self.properties, self.valid_from, self.valid_to))
        return total + 16 * len(self)

    def slice(self, start: int, stop: int) -> RelationBatch:
        n = stop - start
        return RelationBatch(self.sources[start:stop], self.targets[start:stop], self.types.slice(start, n),
                             self.properties.slice(start, n), self.valid_from.slice(start, n),
                             self.valid_to.slice(start, n), self.source_names.slice(start, n),
                             self.target_names.slice(start, n))  # fmt: skip

    def to_arrow(self) -> pa.RecordBatch:
        """The columns as one record batch (see :meth:`from_arrow`)."""
        return pa.RecordBatch.from_arrays(
            [self.source_names, self.target_names, self.types, self.properties, self.valid_from, self.valid_to],
            names=_RELATION_BATCH_COLUMNS)  # fmt: skip

    @classmethod
    def from_arrow(cls, batch: pa.RecordBatch) -> RelationBatch:
        """The batch :meth:`to_arrow` gave (not checked again).

        Examples
        --------
        >>> batch = read_relations([("Ada", "KNOWS", "Charles")])
        >>> RelationBatch.from_arrow(batch.to_arrow()).records()[0]["target"]
        'Charles'
        """
        sources, targets = batch.column("sources"), batch.column("targets")
        return cls(sources.to_pylist(), targets.to_pylist(), batch.column("types"), batch.column("properties"),
                   batch.column("valid_from"), batch.column("valid_to"), sources, targets)  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        """The records again, as :meth:`Memory.add_relations` takes them."""
        return [
            {"source": source, "type": type_, "target": target,
             "properties": None if properties == "{}" else json.loads(properties), "valid_from": _aware(start),
             "valid_to": _aware(end)}
            for source, type_, target, properties, start, end in zip(
                self.sources, self.types.to_pylist(), self.targets, self.properties.to_pylist(),
                self.valid_from.to_pylist(), self.valid_to.to_pylist())
        ]  # fmt: skip


def _tuple_columns(records: Any) -> dict[str, Any] | None:
    if not isinstance(records, list) or not records or not set(map(type, records)) <= {tuple, list}:
        return None
    lengths = set(map(len, records))
    if lengths not in ({3}, {4}):
        return None
    columns = [list(c) for c in zip(*records)]
    return {"source": columns[0], "type": columns[1], "target": columns[2],
            "properties": columns[3] if len(columns) == 4 else None, "valid_from": None, "valid_to": None,
            "replaces": None}  # fmt: skip


def read_relations(records: Any, *, min_rows: int = 0) -> RelationBatch | None:
    """The batch as columns when every record passes the per-record checks
    for certain and none has ``replaces=True``; ``None`` otherwise, and for fewer
    than ``min_rows`` records (:meth:`Memory.add_relations` passes
    ``StoreConfig.relation_copy_threshold``, below which it writes record by
    record anyway: reading 10 relations as columns cost ~0.7-1.3 ms for nothing)."""
    if isinstance(records, list) and len(records) < min_rows:
        return None
    columns = _tuple_columns(records) or _dict_columns(records, _RELATION_FIELDS, ("source", "type", "target"))
    if columns is None:
        return None
    replaces = columns["replaces"]
    if replaces is not None and (set(map(type, replaces)) != {bool} or any(replaces)):
        return None
    n = len(records)
    sources = string_column(columns["source"], nullable=False)
    targets = string_column(columns["target"], nullable=False)
    types = string_column(columns["type"], nullable=False)
    if sources is None or targets is None or types is None:
        return None
    if not (names_pass(sources) and names_pass(targets) and types_pass(types)):
        return None
    properties = _properties(columns["properties"], n)
    validity = _validity(columns["valid_from"], columns["valid_to"], n)
    if properties is None or validity is None:
        return None
    if not _limits_pass(_sizes(sources, types, targets) + properties[1], np.zeros(1, np.int64)):
        return None
    return RelationBatch(columns["source"], columns["target"], types, properties[0], *validity, sources, targets)


def _endpoint_ids(state: DerivedState, batch: RelationBatch, prefix: pa.Scalar) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the batch's sources and targets (-1 where none), each distinct
    name looked up once: an entity is the endpoint of many relations (measured,
    50k random relations over 100k entities: 63k distinct of 100k endpoints,
    1.0 vs 1.2 us per relation)."""
    n = len(batch)
    encoded = pa.concat_arrays([batch.source_names, batch.target_names]).dictionary_encode()
    keys = pc.binary_join_element_wise(prefix, encoded.dictionary, "").to_pylist()
    ids = state.ids.ids_of(keys)[encoded.indices.to_numpy(zero_copy_only=False)]
    return ids[:n], ids[n:]


@dataclass(slots=True)
class RelationBulkPlan:
    src: np.ndarray
    dst: np.ndarray
    local: np.ndarray
    """Each relation's index into ``type_names``."""
    type_names: list[str]
    valid_from: pa.Array
    valid_to: pa.Array


def write_relations(store: Store, state: DerivedState, batch: RelationBatch, *, namespace: str,
                    config: StoreConfig, now: datetime) -> RelationBulkPlan | None:
    """Create the batch's relations in the open transaction, or ``None``
    (nothing written) when an endpoint is missing, a relation is current
    already or repeats in the batch: then the per-record path decides."""
    n = len(batch)
    prefix = pa.scalar(key_prefix(namespace))
    src, dst = _endpoint_ids(state, batch, prefix)
    if (src < 0).any() or (dst < 0).any():
        return None
    encoded = batch.types.dictionary_encode()
    type_names = encoded.dictionary.to_pylist()
    local = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pair = (src << 32) | dst
    order = np.lexsort((local, pair))
    if n > 1 and ((pair[order][1:] == pair[order][:-1]) & (local[order][1:] == local[order][:-1])).any():
        return None
    edges = state.edges
    known = np.array([-1 if edges.code_of(t) is None else edges.code_of(t) for t in type_names], np.int32)
    if edges.contains_many(src, known[local], dst).any():
        return None
    table = pa.Table.from_arrays([
        pc.binary_join_element_wise(prefix, batch.source_names, ""),
        pc.binary_join_element_wise(prefix, batch.target_names, ""), batch.types, batch.properties,
        pa.repeat(pa.scalar(now, pa.timestamp("us")), n), batch.valid_from, batch.valid_to,
        pa.nulls(n, pa.timestamp("us")),
    ], schema=RELATION_SCHEMA)  # fmt: skip
    insert_relations(store, table, copy_from=config.relation_copy_from, stored=len(edges))
    return RelationBulkPlan(src, dst, local, type_names, batch.valid_from, batch.valid_to)


def apply_relations(state: DerivedState, plan: RelationBulkPlan, *, properties: pa.Array | None = None) -> None:
    """After commit: as :func:`graphmem.memory.writes.apply_relation_plan` for new relations
    (``properties``: their JSON, for the relation labels)."""
    state.add_relation_arrays(plan.src, plan.dst, plan.local, plan.type_names, plan.valid_from, plan.valid_to,
                              properties=properties)
