"""Import and export of a memory as JSON Lines (one JSON object per line).

Two formats are read and written.

``graphmem`` (lossless except for timestamps on import, see below)::

    {"type":"graphmem","version":1}
    {"type":"entity","name":"Alice","entityType":"Person","text":"Data engineer",
     "observations":["likes Rust"],"properties":{"age":34},"embedding":[0.12,...] or null,
     "created_at":"2025-01-02T03:04:05.000006+00:00","updated_at":"..."}
    {"type":"relation","source":"Alice","relationType":"WORKS_AT","target":"Acme",
     "properties":{"since":2021},"created_at":"..."}

(each record is on one line; they are wrapped here for reading). The first
line is a header naming the format version; a reader refuses a newer version.
``entityType`` is the entity's type (``type`` names the kind of record, as in
the MCP format). ``embedding`` is the stored vector, L2-normalised, with its
components rounded to 6 decimals: the store keeps int8 vectors (about 2-3
significant digits), so the rounding loses nothing, and importing the vector
reproduces the same int8 codes. Timestamps are ISO 8601 in UTC. Entities and
relations with a validity carry ``valid_from`` / ``valid_to`` (ISO 8601 with a
UTC offset; absent when unbounded), restored on import. An export holds the
current facts of one namespace; history (expired versions) is not exported.

``mcp``, the ``memory.jsonl`` of the reference MCP memory server::

    {"type":"entity","name":"Alice","entityType":"person","observations":["likes Rust"]}
    {"type":"relation","from":"Alice","to":"Acme","relationType":"works_at"}

The reference accepts any type string ("works at"); an imported type that is
not an identifier is stored as one (``works_at``) with the original kept in
the properties (``mcp_entity_type`` / ``mcp_relation_type``), which
``graphmem mcp`` shows back unchanged. Exporting to ``mcp`` keeps only those fields: an entity's ``text``,
``properties`` and embedding, a relation's ``properties``, and all timestamps
are dropped.

Reading (:func:`import_jsonl`)
------------------------------
Both formats are recognised line by line, so a file may mix them: a record
with ``source``/``target`` is a graphmem relation, one with ``from``/``to`` an
MCP relation; a record without ``type`` is classified by its keys
(``entityType`` -> entity, ``relationType`` -> relation). The graphmem header
is optional but, when present, must be the first record. Blank lines are
skipped; line numbers in messages count every physical line from 1. Unknown
fields are an error rather than silently dropped. ``created_at`` and
``updated_at`` are checked to be ISO 8601 but not restored: the store stamps
records with the time of the import.

The importer reads the input twice after validating it: one pass checks every
line (JSON syntax, record shape, names, types, vectors, one vector dimension,
the input limits of :mod:`graphmem.config` including an entity's observations
added up over the file's lines and the ones the store already holds for it
(read once per check batch; an entity the store holds is recounted exactly,
repeats removed as a write removes them, only if that sum passes the limit:
the file is then read once more), anything the engine would refuse such as a
lone surrogate, and that every relation endpoint is an entity of the file or
of the store), and nothing is written unless the whole file passes. Lines are
read with a size cap (``MAX_LINE_BYTES``): a longer line is refused with its
number without being read whole. Batches end early rather than pass a call's
limits (observations, bytes). Entities are then
written in batches of ``batch_size`` through :meth:`Memory.add_entities`, and
afterwards relations through :meth:`Memory.add_relations`, so a file may list
a relation before its endpoints.

Speed: the checking pass parses each line once and checks the records 50,000
lines at a time, column by column (:mod:`graphmem.memory.bulk`); only a batch that
holds a bad record is checked line by line, so the first bad line is still
the one reported. It keeps the checked columns (up to 16 MiB of them in
memory, the rest in unnamed temporary files as Arrow IPC streams), and the
writing pass sends those to the store as they are (``COPY`` for new records;
the per-record upsert for records that update stored ones) instead of reading
the file again; then what is written is what was checked, even if the file
changes meanwhile. The file is read again only when a batch needed the
per-line checks or a temporary file could not be written.

Atomicity: each batch is one transaction, all or nothing; the import as a
whole is not. A failure while writing (a full disk, another writer, an
embedder error) leaves the earlier batches written, and the message says how
many records were. Re-running the same import is safe: records are upserts.

Paths
-----
Both functions take a path as well as an open file. A path that leads into
a graphmem store's own files (after resolving symlinks and ``..``; a store
directory is recognised by its manifest, see
:func:`graphmem.store.files.store_root_of`) is refused with
:class:`~graphmem.errors.UnsafePath` before anything is opened: ``export S
S/graph.db`` would otherwise replace the database with JSON. An export to a
path refuses to overwrite an existing file unless ``force=True``, writes
beside the target and renames over it only once complete, and makes the file
``0600`` (it holds the whole memory). An open file whose name leads into a
store is refused too.

Memory use: a pipe (stdin) is first spooled to a temporary file (in memory
up to 64 MiB, on disk beyond). Beyond one batch of records and the kept
columns (at most 16 MiB in memory; beyond that on disk in the temporary
directory, about the size of the file's checked text), the importer holds the
set of entity names in the file (roughly 100 bytes per entity) and one byte
per line.

Over 500 lines: two formats each way, and an import checks the whole file
before it writes anything (the checker, the checked columns kept in temporary
files, then the batches): one pipeline whose steps change together. The
formats' description above is ~100 lines of it.
"""

from __future__ import annotations

import gc
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache, partial
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import GraphMemError, InvalidInput, NotFound, ReadOnlyStore, UnsafePath
from ..store import space
from ..store.files import store_root_of
from ..config import (
    ENTITY_TYPE_KEY,
    MAX_CALL_BYTES,
    MAX_LINE_BYTES,
    MAX_OBSERVATIONS,
    MAX_OBSERVATIONS_PER_CALL,
    MAX_PROPERTY_DEPTH,
    MAX_RECORD_BYTES,
    RELATION_TYPE_KEY,
)
from ..validate import check_flag, check_positive_int, stored_type
from ..memory import bulk, loading
from ..memory.writes import parse_entity, parse_relation

if TYPE_CHECKING:
    from ..api import MemoryAPI
    from ..types import Entity, Relation

__all__ = [
    "FORMATS",
    "FORMAT_VERSION",
    "ExportCounts",
    "ImportCounts",
    "Progress",
    "export_jsonl",
    "import_jsonl",
    "check_input_path",
    "check_output_path",
]

FORMATS = ("graphmem", "mcp")
FORMAT_VERSION = 1
"""Version written in the graphmem header; readers refuse a newer one."""

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: see :func:`import_jsonl` and :func:`export_jsonl`."""

_SPOOL_BYTES = 64 << 20
_VALIDATE_TICK = 10_000  # lines between progress calls while validating
_VECTOR_DECIMALS = 6

_HEADER_KEYS = frozenset({"type", "version"})
_ENTITY_KEYS = frozenset(
    {"type", "name", "entityType", "text", "observations", "properties", "embedding", "created_at", "updated_at",
     "valid_from", "valid_to"}
)
_RELATION_KEYS = frozenset({"type", "source", "target", "from", "to", "relationType", "properties", "created_at",
                            "valid_from", "valid_to"})
_VALIDITY = ("valid_from", "valid_to")

# Kinds of line, remembered per line by the validating pass (one byte each)
# so the writing passes parse only the lines they write.
_SKIP, _ENTITY, _RELATION = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ExportCounts:
    """Records written by :func:`export_jsonl` (the header line is not counted)."""

    entities: int
    relations: int


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Records written by :func:`import_jsonl`; a name given on two lines counts twice."""

    entities: int
    relations: int


# -- export -----------------------------------------------------------------------


def export_jsonl(
    mem: MemoryAPI,
    fh: IO[Any] | str | os.PathLike[str],
    *,
    format: str = "graphmem",
    progress: Progress | None = None,
    batch_size: int = 10_000,
    force: bool = False,
) -> ExportCounts:
    """Write every entity, then every relation, of ``mem`` to ``fh`` as JSON Lines.

    Parameters
    ----------
    mem
        An open memory (read-only is fine).
    fh
        A file opened for writing, text (UTF-8 advised: names are written as
        they are, not ``\\u`` escaped) or binary (UTF-8 is written); or a
        path, written beside and renamed over it once complete, mode 0600
        (see the module notes on paths).
    format
        ``"graphmem"`` (everything, with a header line) or ``"mcp"`` (the
        reference MCP memory server's ``memory.jsonl``; see the module notes
        for what it cannot carry).
    progress
        Called as ``progress(done, total)`` after each batch, ``done`` being
        records written and ``total`` the store's entities plus relations.
    batch_size
        Records converted and written per step.
    force
        Whether a path may name an existing file, which is then replaced.

    Returns
    -------
    ExportCounts
        How many entities and relations were written.

    Raises
    ------
    UnsafePath
        The path (or the open file's name) leads into a graphmem store, or
        names an existing file and ``force`` is false. Nothing was written.
    StorageFull
        The disk holding the path filled up; the file named (if any) is as it
        was and the partial copy is removed.

    Notes
    -----
    Entities and relations are read in two statements. A write by another
    thread of this process between the two could make the file list a
    relation to an entity it does not contain; export while no one writes.

    Examples
    --------
    >>> import io, graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entity("Alice", type="person", observations=['says "hi"'])
    ...     _ = mem.add_entity("Acme", type="organization")
    ...     _ = mem.add_relation("Alice", "works_at", "Acme")
    ...     out = io.StringIO()
    ...     export_jsonl(mem, out, format="mcp")
    ...     print(out.getvalue(), end="")
    ExportCounts(entities=2, relations=1)
    {"type":"entity","name":"Alice","entityType":"person","observations":["says \\"hi\\""]}
    {"type":"entity","name":"Acme","entityType":"organization","observations":[]}
    {"type":"relation","from":"Alice","to":"Acme","relationType":"works_at"}
    """
    if format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    check_positive_int(batch_size, "batch_size")
    check_flag(force, "force")
    if isinstance(fh, (str, os.PathLike)):
        with _replacing(check_output_path(fh, force=force)) as out:
            return export_jsonl(mem, out, format=format, progress=progress, batch_size=batch_size)
    _check_open_file(fh, "write to")
    write = _writer(fh)
    entity_record = _graphmem_entity if format == "graphmem" else _mcp_entity
    relation_record = _graphmem_relation if format == "graphmem" else _mcp_relation
    total: int | None = None
    if progress is not None:
        stats = mem.stats()
        total = int(stats["entities"]) + int(stats["relations"])
        progress(0, total)
    if format == "graphmem":
        write(_dumps({"type": "graphmem", "version": FORMAT_VERSION}) + "\n")

    done = 0

    def emit(records: Iterator[Any], convert: Callable[[Any], dict[str, Any]]) -> int:
        nonlocal done
        count = 0
        chunk: list[str] = []
        for record in records:
            chunk.append(_dumps(convert(record)))
            if len(chunk) >= batch_size:
                write("\n".join(chunk) + "\n")
                count += len(chunk)
                done += len(chunk)
                chunk.clear()
                if progress is not None:
                    progress(done, total)
        if chunk:
            write("\n".join(chunk) + "\n")
            count += len(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return count

    entities = emit(mem.iter_entities(batch_size=batch_size), entity_record)
    relations = emit(mem.iter_relations(batch_size=batch_size), relation_record)
    return ExportCounts(entities=entities, relations=relations)


def check_output_path(target: str | os.PathLike[str], *, force: bool = False) -> Path:
    """``target`` as a path an export may write, or :class:`UnsafePath` /
    :class:`InvalidInput` saying why not (see the module notes on paths)."""
    path = Path(os.fspath(target)).expanduser()
    root = store_root_of(path)
    if root is not None:
        raise UnsafePath(
            f"refusing to write {target}: it is inside the graphmem store {root} "
            f"({os.path.realpath(path)}), whose files it would replace; write the export outside the store"
        )
    if path.is_dir():
        raise InvalidInput(f"cannot write {target}: it is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInput(f"cannot write {target}: the folder {folder} does not exist")
    if os.path.lexists(path) and not force:
        raise UnsafePath(f"refusing to overwrite {target}: the file exists (use --force, or force=True, to replace it)")
    return path


def check_input_path(source: str | os.PathLike[str]) -> Path:
    """``source`` as a path an import may read, or :class:`UnsafePath` if it leads into a store."""
    path = Path(os.fspath(source)).expanduser()
    root = store_root_of(path)
    if root is not None:
        raise UnsafePath(
            f"refusing to read {source}: it is inside the graphmem store {root} ({os.path.realpath(path)}); "
            "a store's own files are not an import (export the store first)"
        )
    return path


def _check_open_file(fh: IO[Any], verb: str) -> None:
    """Refuse an open file whose name is a regular file in a store (``<stdin>``,
    descriptors and in-memory buffers have no such name and pass)."""
    name = getattr(fh, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        root = store_root_of(name)
        if root is not None:
            raise UnsafePath(f"refusing to {verb} {name}: it is inside the graphmem store {root}")


@contextmanager
def _replacing(final: Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``final`` once complete (a failure leaves
    ``final`` as it was). mkstemp makes it 0600: an export holds the whole memory."""
    folder = final.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and space.full_disk(exc):
            # Typed as a store write's full disk is; the old file is untouched.
            raise space.storage_full(exc, f"the export {final}") from None
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def _writer(fh: IO[Any]) -> Callable[[str], Any]:
    if isinstance(fh, (io.RawIOBase, io.BufferedIOBase)) or "b" in str(getattr(fh, "mode", "")):
        return lambda text: fh.write(text.encode("utf-8"))
    return fh.write


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _vector(embedding: np.ndarray | None) -> list[float] | None:
    if embedding is None:
        return None
    v = embedding.astype(np.float64)
    peak = float(np.max(np.abs(v))) if v.size else 0.0
    if peak == 0.0:
        zeros: list[float] = np.round(v, _VECTOR_DECIMALS).tolist()
        return zeros
    # The store keeps int8 codes times a float scale, the largest code being
    # 127. Normalising the recovered integer codes (not the float32 product,
    # whose rounding depends on the scale) makes export -> import -> export
    # reproduce the very same numbers, so two exports of one graph diff clean.
    codes = v * (127.0 / peak)
    rounded = np.rint(codes)
    if np.all(np.abs(codes - rounded) < 1e-3):
        v = rounded
    unit: list[float] = np.round(v / np.linalg.norm(v), _VECTOR_DECIMALS).tolist()
    return unit


def _graphmem_entity(e: Entity) -> dict[str, Any]:
    return {
        "type": "entity",
        "name": e.name,
        "entityType": e.type,
        "text": e.text,
        "observations": list(e.observations),
        "properties": e.properties,
        "embedding": _vector(e.embedding),
        "created_at": _iso(e.created_at),
        "updated_at": _iso(e.updated_at),
        **_validity(e.valid_from, e.valid_to),
    }


def _validity(valid_from: datetime | None, valid_to: datetime | None) -> dict[str, str | None]:
    """The validity fields of a record, only when set (files of unbounded facts stay as before)."""
    return {name: _iso(value) for name, value in zip(_VALIDITY, (valid_from, valid_to)) if value is not None}


def _graphmem_relation(r: Relation) -> dict[str, Any]:
    return {
        "type": "relation",
        "source": r.source,
        "relationType": r.type,
        "target": r.target,
        "properties": r.properties,
        "created_at": _iso(r.created_at),
        **_validity(r.valid_from, r.valid_to),
    }


def _mcp_entity(e: Entity) -> dict[str, Any]:
    return {"type": "entity", "name": e.name, "entityType": e.type, "observations": list(e.observations)}


def _mcp_relation(r: Relation) -> dict[str, Any]:
    return {"type": "relation", "from": r.source, "to": r.target, "relationType": r.type}


# -- import -----------------------------------------------------------------------


def import_jsonl(
    mem: MemoryAPI,
    fh: IO[Any] | str | os.PathLike[str],
    *,
    batch_size: int = 10_000,
    progress: Progress | None = None,
) -> ImportCounts:
    """Read entities and relations from JSON Lines in either format into ``mem``.

    Parameters
    ----------
    mem
        A memory open read-write.
    fh
        A file opened for reading, text or binary (decoded as UTF-8; a byte
        order mark is allowed), or a path. A file that cannot seek (a pipe) is
        spooled to a temporary file first.
    batch_size
        Records per :meth:`Memory.add_entities` / :meth:`Memory.add_relations`
        call, i.e. per transaction.
    progress
        Called as ``progress(lines_read, None)`` every 10,000 lines while the
        file is validated, then ``progress(records_written, total_records)``
        after each batch.

    Returns
    -------
    ImportCounts
        How many entity and relation records were written.

    Raises
    ------
    InvalidInput
        A line is not valid JSON or not a valid record; the message names the
        line. Nothing has been written.
    NotFound
        A relation names an entity that is neither in the file nor in the
        store; the message names the line. Nothing has been written.
    ReadOnlyStore
        ``mem`` is open read-only.
    UnsafePath
        The path (or the open file's name) leads into a graphmem store.
        Nothing has been read or written.

    Notes
    -----
    See the module notes for atomicity (each batch is one transaction, the
    whole import is not) and memory use.

    Examples
    --------
    >>> import io, graphmem
    >>> lines = '''{"type":"relation","from":"Ada","to":"Charles","relationType":"knows"}
    ... {"type":"entity","name":"Ada","entityType":"person","observations":["wrote the first program"]}
    ... {"type":"entity","name":"Charles","entityType":"person","observations":[]}
    ... '''
    >>> with graphmem.open(embedder=None) as mem:
    ...     import_jsonl(mem, io.StringIO(lines))
    ...     [(n.name, n.type, n.direction) for n in mem.neighbors("Ada")]
    ImportCounts(entities=2, relations=1)
    [('Charles', 'knows', 'out')]
    """
    check_positive_int(batch_size, "batch_size")
    if mem.read_only:
        raise ReadOnlyStore(f"cannot import into a store open read-only ({mem.path}); reopen it read-write")
    if isinstance(fh, (str, os.PathLike)):
        with open(check_input_path(fh), "rb") as opened:
            return import_jsonl(mem, opened, batch_size=batch_size, progress=progress)
    _check_open_file(fh, "read")
    with _without_cyclic_gc():
        return _import(mem, fh, batch_size, progress)


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting goes on).

    An import allocates a dict per line, and the collector, counting those
    allocations, ran ~850 times over a 100k-line file (6 full passes over every
    live object): 2.7 of the import's 14.6 s, measured (tests/reliability keep
    the import's memory bounded; JSON parsing and the checks make no cycles). The
    pause is process-wide for the import's duration; a caller that had paused
    it already keeps it paused."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _import(mem: MemoryAPI, fh: IO[Any], batch_size: int, progress: Progress | None) -> ImportCounts:
    source, spooled = _seekable(fh)
    try:
        start = source.tell()
        kinds, checker = _validate(mem, source, progress)
    except BaseException:
        if spooled:
            source.close()
        raise
    try:
        total = kinds.count(_ENTITY) + kinds.count(_RELATION)
        if progress is not None:
            progress(0, total)
        done = 0
        counts = {}
        # A memory without the bulk path (a cluster's) is written record by record.
        write_entity_batch = partial(loading.write_entity_batch, mem) if loading.embedded(mem) else None
        write_relation_batch = partial(loading.write_relation_batch, mem) if loading.embedded(mem) else None
        kept = checker.kept if write_entity_batch is not None and write_relation_batch is not None else None
        for kind, write, write_batch in ((_ENTITY, mem.add_entities, write_entity_batch),
                                         (_RELATION, mem.add_relations, write_relation_batch)):  # fmt: skip
            if kept is not None:
                batches: Iterator[tuple[int, int, Any]] = _kept_batches(kept.read(kind), batch_size)
            else:
                source.seek(start)
                batches = _batches(source, kinds, kind, batch_size)
            written = 0
            for first, last, batch in batches:
                try:
                    if kept is None:
                        written += write(batch)
                    elif write_batch is not None and write_batch(batch):  # checked columns straight to the store
                        written += len(batch)
                    else:  # updates: the per-record path merges
                        written += write(batch.records())
                except GraphMemError as exc:
                    what = "entity" if kind == _ENTITY else "relation"
                    raise type(exc)(
                        f"{exc} (while writing the {what} batch of lines {first}-{last}; "
                        f"the {done} records of earlier batches stay written)"
                    ) from None
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            counts[kind] = written
        return ImportCounts(entities=counts[_ENTITY], relations=counts[_RELATION])
    finally:
        checker.forget_kept()
        if spooled:
            source.close()


def _seekable(fh: IO[Any]) -> tuple[IO[Any], bool]:
    """``fh`` itself if it can seek back, else a spooled copy (and whether one was made)."""
    try:
        if fh.seekable():
            fh.tell()
            return fh, False
    except (AttributeError, OSError, ValueError):
        pass  # not seekable after all (some pipes claim otherwise): spool below
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")
    while True:
        block = fh.read(1 << 20)
        if not block:
            break
        spool.write(block.encode("utf-8") if isinstance(block, str) else block)
    spool.seek(0)
    return spool, True


def _lines(fh: IO[Any]) -> Iterator[tuple[int, str]]:
    """(line number, text) of every physical line, decoded.

    Each line is read with a size cap: a line longer than ``MAX_LINE_BYTES``
    is refused with its number after reading at most that much of it (never
    the whole line), so one runaway line cannot exhaust memory.
    """
    number = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and raw[-1:] not in ("\n", b"\n"):
            raise InvalidInput(
                f"line {number}: longer than {MAX_LINE_BYTES:,} bytes, the limit of one import line "
                f"(a record holds at most {MAX_RECORD_BYTES:,} bytes of text); nothing was written"
            )
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"line {number}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        else:
            line = raw
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield number, line


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with an argument builds a decoder per call (a third of a line's parse)."""


_RAW_DECODE = _DECODER.raw_decode
_JSON_SPACE = " \t\n\r"


def _decode(line: str) -> Any:
    """``_DECODER.decode(line)``; the common line (a value, then the newline) is
    parsed without decode()'s two whitespace regex matches, anything else (an
    error included) by decode() itself, which gives the exact message."""
    try:
        value, end = _RAW_DECODE(line)
    except ValueError:
        return _DECODER.decode(line)
    if line[end:].strip(_JSON_SPACE):
        return _DECODER.decode(line)
    return value


def _load(line: str, number: int) -> dict[str, Any]:
    try:
        value = _decode(line)
    except ValueError as exc:
        raise InvalidInput(f"line {number}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidInput(f"line {number}: JSON nested too deeply (properties nest at most "
                           f"{MAX_PROPERTY_DEPTH} levels)") from None  # fmt: skip
    if not isinstance(value, dict):
        raise InvalidInput(f"line {number}: expected a JSON object, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _classify(record: Mapping[str, Any], number: int) -> str:
    """``"header"``, ``"entity"`` or ``"relation"``."""
    kind = record.get("type")
    if kind is None:
        if "relationType" in record:
            return "relation"
        if "entityType" in record:
            return "entity"
        raise InvalidInput(
            f"line {number}: cannot tell whether this is an entity or a relation "
            "(no 'type' field, and neither 'entityType' nor 'relationType')"
        )
    if kind in ("graphmem", "entity", "relation"):
        return str(kind)
    raise InvalidInput(f"line {number}: unknown record type {kind!r}; expected 'entity', 'relation' or 'graphmem'")


def _check_keys(record: Mapping[str, Any], allowed: frozenset[str], number: int, what: str) -> None:
    if allowed.issuperset(record):  # no set built per line (it was the largest cost of checking one)
        return
    unknown = set(record) - allowed
    if unknown:
        raise InvalidInput(
            f"line {number}: unknown field(s) {sorted(unknown)} in {what} record; allowed: {sorted(allowed)}"
        )


_TIMESTAMPS = frozenset({"created_at", "updated_at", *_VALIDITY})


def _check_timestamps(record: Mapping[str, Any], number: int) -> None:
    if _TIMESTAMPS.isdisjoint(record):
        return
    for name in ("created_at", "updated_at", *_VALIDITY):
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"line {number}: {name} must be an ISO 8601 string, not {_json_kind(value)}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"line {number}: {name} is not an ISO 8601 timestamp: {value!r}") from None
        if name in _VALIDITY and moment.tzinfo is None:
            raise InvalidInput(f"line {number}: {name} needs a UTC offset (e.g. {value}+00:00): {value!r}")


def _check_header(record: Mapping[str, Any], number: int, first: bool) -> None:
    _check_keys(record, _HEADER_KEYS, number, "the header")
    if not first:
        raise InvalidInput(f"line {number}: the graphmem header must be the first record of the file")
    version = record.get("version")
    # A check of the file's data, not of an argument: its messages name the
    # line, and tell a newer format (upgrade) from an unknown one.
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"line {number}: the header's version must be an integer, not {version!r}")
    if version > FORMAT_VERSION:
        raise InvalidInput(
            f"line {number}: the file is graphmem format version {version}; this graphmem reads up to "
            f"{FORMAT_VERSION} (upgrade graphmem)"
        )
    if version < 1:
        raise InvalidInput(f"line {number}: unknown graphmem format version {version}")


def _entity_args(record: Mapping[str, Any], number: int) -> dict[str, Any]:
    """The :meth:`Memory.add_entities` record of an entity line."""
    _check_keys(record, _ENTITY_KEYS, number, "an entity")
    if "name" not in record:
        raise InvalidInput(f"line {number}: an entity record needs a 'name'")
    args: dict[str, Any] = {"name": record["name"]}
    for field, arg in (("entityType", "type"), ("text", "text"), ("observations", "observations"),
                       ("properties", "properties"), ("embedding", "embedding")):  # fmt: skip
        if record.get(field) is not None:
            args[arg] = record[field]
    _map_type(args, ENTITY_TYPE_KEY, "Entity")
    if record.get("valid_from") is None and record.get("valid_to") is None:
        return args
    return {**args, **_validity_args(record)}


def _map_type(args: dict[str, Any], key: str, fallback: str) -> None:
    """The reference server takes any string as a type ("works at"); graphmem
    types are identifiers. Such a type is stored as one (``works_at``) with the
    original kept in the properties, as the MCP server does, so an imported
    reference file reads back unchanged through ``graphmem mcp``."""
    shown = args.get("type")
    if isinstance(shown, str):
        args["type"], original = _stored_type(shown, fallback)
        if original is not None:
            properties = args.get("properties")
            args["properties"] = {**(properties if isinstance(properties, Mapping) else {}), key: original}


@lru_cache(maxsize=4096)
def _stored_type(shown: str, fallback: str) -> tuple[str, str | None]:
    """:func:`stored_type`, remembered: a file has few distinct types and many lines."""
    return stored_type(shown, fallback=fallback)


def _validity_args(record: Mapping[str, Any]) -> dict[str, datetime]:
    return {name: datetime.fromisoformat(record[name]) for name in _VALIDITY if record.get(name) is not None}


def _relation_args(record: Mapping[str, Any], number: int) -> dict[str, Any]:
    """The :meth:`Memory.add_relations` record of a relation line (either format)."""
    _check_keys(record, _RELATION_KEYS, number, "a relation")
    graphmem_shape = "source" in record or "target" in record
    mcp_shape = "from" in record or "to" in record
    if graphmem_shape and mcp_shape:
        raise InvalidInput(f"line {number}: a relation has either 'source'/'target' or 'from'/'to', not both")
    first, second = ("from", "to") if mcp_shape else ("source", "target")
    missing = [k for k in (first, second, "relationType") if k not in record]
    if missing:
        raise InvalidInput(f"line {number}: a relation record needs {first!r}, {second!r} and 'relationType'; "
                           f"missing {missing}")
    args: dict[str, Any] = {"source": record[first], "type": record["relationType"], "target": record[second]}
    if record.get("properties") is not None:
        args["properties"] = record["properties"]
    _map_type(args, RELATION_TYPE_KEY, "RELATED_TO")
    return {**args, **_validity_args(record)}


def _record(line: str, number: int, first: bool) -> tuple[int, dict[str, Any]]:
    """Parse and shape-check one line: its kind and its ``add_*`` record (empty for a skipped line)."""
    if not line.strip():
        return _SKIP, {}
    record = _load(line, number)
    kind = _classify(record, number)
    if kind == "graphmem":
        _check_header(record, number, first)
        return _SKIP, {}
    _check_timestamps(record, number)
    if kind == "entity":
        return _ENTITY, _entity_args(record, number)
    return _RELATION, _relation_args(record, number)


_CHECK_BATCH = 50_000
"""Lines the validating pass checks together, column by column (graphmem.memory.bulk)."""
_CHECK_BYTES = 8 << 20
"""...or fewer, when their lines reach this many bytes: the records of a batch
are held at once, and an import must not hold more as its file grows
(tests/reliability/test_resources.py measured ~3.6 KB of heap per entity when
the 50,000 lines were the only bound)."""

_KEEP_BYTES = 16 << 20
"""The validating pass keeps the checked columns of a file up to this size in
memory, so the writing pass sends them to the store without reading, parsing
and checking the file again; beyond it they go to a temporary file (see
:class:`_Kept`). Small on purpose: an import streams its file, so what it holds
in memory must stay bounded whatever the file's size."""


class _Kept:
    """The checked batches of the validating pass, per kind, with their records'
    line numbers: in memory up to ``_KEEP_BYTES``, then all of them in a
    temporary file per kind (Arrow IPC streams), read back one batch at a time.

    The writing pass then costs what the store's writes cost: re-reading the
    file instead (parse, shape checks, column checks again) took as long as
    the validating pass (measured: ~1.0 of 2.8 CPU-s for 100k entities). The
    temporary files are unnamed (``tempfile.TemporaryFile``: 0600, removed when
    closed or when the process ends, however it ends) and hold about the
    checked text of the file. What is written is exactly what was checked,
    even if the file changes meanwhile. A temporary file that cannot be
    written (a full disk) ends the keeping: the writing pass reads the file
    again, as it did before."""

    def __init__(self) -> None:
        self.batches: dict[int, list[tuple[list[int], Any]]] = {_ENTITY: [], _RELATION: []}
        self.bytes = 0
        self.files: dict[int, tuple[IO[bytes], Any]] = {}  # kind -> (file, its Arrow stream writer)

    def add(self, kind: int, lines: list[int], batch: Any) -> bool:
        """Keep one checked batch; ``False`` when it could not be kept (nothing is kept any more)."""
        if not self.files:
            self.batches[kind].append((lines, batch))
            self.bytes += batch.nbytes()
            if self.bytes <= _KEEP_BYTES:
                return True
            held, self.batches = self.batches, {_ENTITY: [], _RELATION: []}
            return all(self._spill(k, l, b) for k in (_ENTITY, _RELATION) for l, b in held[k])
        return self._spill(kind, lines, batch)

    def _spill(self, kind: int, lines: list[int], batch: Any) -> bool:
        record = batch.to_arrow()
        record = record.append_column("line", pa.array(lines, pa.int64()))
        try:
            if kind not in self.files:
                fh = tempfile.TemporaryFile()
                self.files[kind] = (fh, pa.ipc.new_stream(fh, record.schema))
            self.files[kind][1].write_batch(record)
        except (OSError, pa.ArrowException):
            self.close()
            return False
        return True

    def read(self, kind: int) -> Iterator[tuple[list[int], Any]]:
        """(line numbers, batch) of each kept batch of ``kind``, in file order."""
        if kind not in self.files:
            yield from self.batches[kind]
            return
        fh, writer = self.files[kind]
        writer.close()
        fh.seek(0)
        of = bulk.EntityBatch if kind == _ENTITY else bulk.RelationBatch
        for record in pa.ipc.open_stream(fh):
            # Each column copied out of the message it was read from: they all
            # share its one buffer, and a column the store's indexes hold on to
            # (the types, say) would keep the whole batch's text alive (measured:
            # the heap then grew by the file's text).
            record = pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in record.columns],
                                                schema=record.schema)  # fmt: skip
            yield record.column("line").to_pylist(), of.from_arrow(record)

    def close(self) -> None:
        for fh, _ in self.files.values():
            fh.close()
        self.files = {}


class _Checker:
    """What the validating pass remembers across lines: entity names, relation
    endpoints not yet seen as entities, observation counts per name, the vector
    dimension. Records are checked in batches: column by column when the bulk
    checks prove every record of a batch valid, else line by line (exact
    messages, first bad line first).

    ``held`` gives the observation counts the store already holds for a list
    of names (one read per check batch): a write appends a line's observations
    to them, so they count towards the per-entity limit."""

    def __init__(self, held: Callable[[list[str]], dict[str, int]]) -> None:
        self.held = held
        self.names: set[str] = set()
        # An endpoint not (yet) seen as an entity of the file, with the first line using it.
        self.unresolved: dict[str, tuple[int, dict[str, Any]]] = {}
        self.dim: tuple[int, int] | None = None  # (dimension, line that set it)
        # Per entity name with observations: how many the store holds plus the file gives.
        self.observations: dict[str, int] = {}
        self.stored: set[str] = set()  # names of those the store already holds observations for
        # A stored entity whose bound passes the limit, with the line where it did:
        # checked exactly at the end (the store's observations and the file's
        # lines, duplicates removed as a write removes them).
        self.recount: dict[str, int] = {}
        self.pending: list[tuple[int, int, dict[str, Any]]] = []
        self.pending_bytes = 0
        # The checked batches, per kind, with their records' line numbers;
        # None once the file is too large or a batch needed the per-line checks.
        self.kept: _Kept | None = _Kept()

    def add(self, number: int, kind: int, args: dict[str, Any], size: int) -> None:
        self.pending.append((number, kind, args))
        self.pending_bytes += size
        if len(self.pending) >= _CHECK_BATCH or self.pending_bytes >= _CHECK_BYTES:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.pending_bytes = 0
        if not pending:
            return
        entities = [(number, args) for number, kind, args in pending if kind == _ENTITY]
        relations = [(number, args) for number, kind, args in pending if kind == _RELATION]
        self._count_held(entities)
        entity_batch = bulk.read_entities([args for _, args in entities]) if entities else None
        relation_batch = bulk.read_relations([args for _, args in relations]) if relations else None
        if (entities and entity_batch is None) or (relations and relation_batch is None):
            self.forget_kept()
            for number, kind, args in pending:  # the exact message of the first bad line
                self._parse(number, kind, args)
            return
        if self.kept is not None:
            for kind, lines, batch in ((_ENTITY, entities, entity_batch), (_RELATION, relations, relation_batch)):
                if batch is not None and not self.kept.add(kind, [number for number, _ in lines], batch):
                    self.kept = None
                    break
        self.names.update(args["name"] for _, args in entities)
        for number, args in entities:
            if args.get("observations"):
                self._count_observations(number, args["name"], len(args["observations"]))
        self._note_endpoints(relations)

    def forget_kept(self) -> None:
        """Keep nothing more (the writing pass reads the file again)."""
        if self.kept is not None:
            self.kept.close()
            self.kept = None

    def _parse(self, number: int, kind: int, args: dict[str, Any]) -> None:
        try:
            if kind == _RELATION:
                parse_relation(**args)
            else:
                item = parse_entity(**args)
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc}") from None
        if kind == _RELATION:
            self._note_endpoints([(number, args)])
            return
        self.names.add(item.name)
        if item.observations:
            self._count_observations(number, item.name, len(item.observations))
        if item.embedding is not None:
            if self.dim is None:
                self.dim = (item.embedding.size, number)
            elif item.embedding.size != self.dim[0]:
                raise InvalidInput(
                    f"line {number}: the embedding has dimension {item.embedding.size}, but line {self.dim[1]}'s "
                    f"has {self.dim[0]}; all vectors of a store have one dimension"
                )

    def _count_held(self, entities: list[tuple[int, dict[str, Any]]]) -> None:
        """Start the count of each name first seen with observations at what the store holds."""
        new = list(dict.fromkeys(
            args["name"] for _, args in entities
            if args.get("observations") and isinstance(args.get("name"), str) and args["name"] not in self.observations
        ))  # fmt: skip
        if not new:
            return
        for name, count in self.held(new).items():
            if count:
                self.observations[name] = count
                self.stored.add(name)

    def _count_observations(self, number: int, name: str, count: int) -> None:
        # Lines of one name are merged on write: their observations add up
        # (counted without duplicates removed: a bound).
        total = self.observations.get(name, 0) + count
        if total > MAX_OBSERVATIONS and name in self.stored:
            # Re-importing what the store holds repeats its observations: only
            # an exact count may refuse this one.
            self.recount.setdefault(name, number)
        elif total > MAX_OBSERVATIONS:
            raise InvalidInput(
                f"line {number}: entity {name!r} reaches {total:,} observations over the file's "
                f"lines for it; an entity holds at most {MAX_OBSERVATIONS:,}; nothing was written"
            )
        self.observations[name] = total

    def _note_endpoints(self, relations: list[tuple[int, dict[str, Any]]]) -> None:
        """Remember, with its first line, each endpoint not seen as an entity so far
        (set operations first: most endpoints are known)."""
        if not relations:
            return
        endpoints = {args["source"] for _, args in relations} | {args["target"] for _, args in relations}
        new = endpoints - self.names - self.unresolved.keys()
        if not new:
            return
        for number, args in relations:
            for endpoint in (args["source"], args["target"]):
                if endpoint in new and endpoint not in self.unresolved:
                    self.unresolved[endpoint] = (number, args)


def _validate(mem: MemoryAPI, fh: IO[Any], progress: Progress | None) -> tuple[bytearray, _Checker]:
    """Check every line; return the kind of each line (index = line number - 1) and the checker."""
    kinds = bytearray()
    start = fh.tell()
    checker = _Checker(_held(mem))
    if not loading.embedded(mem):
        checker.forget_kept()  # a memory without the bulk path (a cluster's) writes records, not columns
    try:
        return _check_lines(mem, fh, start, kinds, checker, progress)
    except BaseException:
        checker.forget_kept()  # its temporary files, at once
        raise


def _check_lines(mem: MemoryAPI, fh: IO[Any], start: int, kinds: bytearray, checker: _Checker,
                 progress: Progress | None) -> tuple[bytearray, _Checker]:
    first = True
    for number, line in _lines(fh):
        try:
            kind, args = _record(line, number, first)
        except InvalidInput:
            checker.flush()  # an earlier bad line is reported first
            raise
        kinds.append(kind)
        if progress is not None and number % _VALIDATE_TICK == 0:
            progress(number, None)
        if kind == _SKIP:
            first = first and not line.strip()
            continue
        first = False
        checker.add(number, kind, args, len(line))
    checker.flush()
    if checker.recount:
        _recount_observations(mem, fh, start, kinds, checker.recount)
    _check_store_dimension(mem, checker.dim)
    _check_endpoints(mem, checker.names, checker.unresolved)
    return kinds, checker


def _held(mem: MemoryAPI) -> Callable[..., dict[str, Any]]:
    """``held(names, texts=False)``: the observations the store holds for each of ``names``
    (:func:`graphmem.memory.loading.held_observations`: one read for many names; a cluster's reads each)."""
    return partial(loading.held_observations, mem) if loading.embedded(mem) else partial(_held_one_by_one, mem)


def _held_one_by_one(mem: MemoryAPI, names: list[str], *, texts: bool = False) -> dict[str, Any]:
    """:func:`graphmem.memory.loading.held_observations` for another backend (a cluster's)."""
    entities = ((name, mem.get_entity(name)) for name in names)
    return {name: e.observations if texts else len(e.observations) for name, e in entities if e is not None}


def _recount_observations(mem: MemoryAPI, fh: IO[Any], start: int, kinds: bytearray, recount: dict[str, int]) -> None:
    """Merge, as the write will, the store's observations of each entity in
    ``recount`` with the file's lines for it, and refuse the first line that
    takes one past the limit. Reads the file again: only reached when an
    entity the store holds would pass the limit unless the file repeats its
    observations (re-importing an export does)."""
    stored = _held(mem)(list(recount), texts=True)
    merged = {name: dict.fromkeys(stored.get(name, ())) for name in recount}
    end = fh.tell()
    fh.seek(start)
    try:
        for number, line in _lines(fh):
            if number > len(kinds):
                break
            if kinds[number - 1] != _ENTITY:
                continue
            _, args = _record(line, number, first=False)
            have = merged.get(args["name"])
            if have is None or not args.get("observations"):
                continue
            have.update(dict.fromkeys(args["observations"]))
            if len(have) > MAX_OBSERVATIONS:
                raise InvalidInput(
                    f"line {number}: entity {args['name']!r} would hold {len(have):,} observations (the "
                    f"{len(stored.get(args['name'], ())):,} the store holds and the new ones of the file's lines "
                    f"for it up to this one); an entity holds at most {MAX_OBSERVATIONS:,}; nothing was written"
                )
    finally:
        fh.seek(end)


def _kept_batches(kept: Iterator[tuple[list[int], Any]], batch_size: int) -> Iterator[tuple[int, int, Any]]:
    """(first line, last line, batch) of the checked batches cut to ``batch_size`` records
    (each checked batch passed the call limits whole, so each piece does)."""
    for lines, batch in kept:
        for start in range(0, len(lines), batch_size):
            stop = min(start + batch_size, len(lines))
            yield lines[start], lines[stop - 1], batch.slice(start, stop)


def _check_store_dimension(mem: MemoryAPI, dim: tuple[int, int] | None) -> None:
    if dim is None:
        return
    stored = mem.stats().get("vector_dim")
    if stored is not None and int(stored) != dim[0]:
        raise InvalidInput(
            f"line {dim[1]}: the file's embeddings have dimension {dim[0]}, but this store's vectors have "
            f"dimension {stored}"
        )


def _check_endpoints(mem: MemoryAPI, names: set[str], unresolved: dict[str, tuple[int, dict[str, Any]]]) -> None:
    outside = [endpoint for endpoint in unresolved if endpoint not in names]
    # An embedded memory: one pass over the store's name map, not a read per name.
    stored = loading.stored(mem, outside) if loading.embedded(mem) else [mem.get_entity(e) is not None for e in outside]
    for endpoint, found in zip(outside, stored):
        if found:
            continue
        number, args = unresolved[endpoint]
        raise NotFound(
            f"line {number}: relation {args['source']!r} -[{args['type']}]-> {args['target']!r}: "
            f"no entity named {endpoint!r} in the file or in the store; nothing was written"
        )


def _batches(
    fh: IO[Any], kinds: bytearray, wanted: int, batch_size: int
) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """(first line, last line, records) of each batch of ``wanted`` lines; only those lines are parsed."""
    batch: list[dict[str, Any]] = []
    first_line = last_line = 0
    # A batch also ends before it passes a call's limits; a line's length
    # bounds its record's bytes (JSON only adds quotes and escapes).
    observations = size = 0
    for number, line in _lines(fh):
        if number > len(kinds):
            # The file grew after validation; what was not validated is not written.
            break
        if kinds[number - 1] != wanted:
            continue
        _, args = _record(line, number, first=False)
        count = len(args.get("observations") or ())
        length = len(line.encode("utf-8", "surrogatepass")) if not line.isascii() else len(line)
        if batch and (observations + count > MAX_OBSERVATIONS_PER_CALL or size + length > MAX_CALL_BYTES):
            yield first_line, last_line, batch
            batch, observations, size = [], 0, 0
        if not batch:
            first_line = number
        last_line = number
        batch.append(args)
        observations += count
        size += length
        if len(batch) >= batch_size:
            yield first_line, last_line, batch
            batch, observations, size = [], 0, 0
    if batch:
        yield first_line, last_line, batch
