"""The store: one embedded graph database on disk (or in memory).

This is the only code that talks to the engine. It offers one entry point for
every statement, :meth:`Store.execute` with a query *name* (the statement is
``queries/<name>.cypher``), an optional tracer that sees every statement run,
one writer lock with explicit transactions, and the process-wide rule of one
open ``Database`` per path.

Over 500 lines: this is the only module that talks to the engine (import-linter
keeps the engine out of every other one), so everything that does lives here:
opening with its lock and file modes, transactions and post-commit hooks, the
named-statement entry point, the bulk COPY and LOAD FROM paths and the
translation of the engine's failures.
"""

from __future__ import annotations

import fcntl
import json
import operator
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from ..config import StoreConfig
from ..errors import (
    CheckpointWarning,
    CorruptStore,
    GraphMemError,
    IncompatibleStore,
    InvalidInput,
    PermissionDenied,
    QueryError,
    ReadOnlyStore,
    StorageFull,
    StoreLocked,
)
from . import files, release, schema, space
from .cypher_guard import check_user_cypher
from .engine import default_engine, load_engine, translate
from .queries import changed_rows, check_bound, deletes, load_query, may_update, runs_alone, touches_relations

if TYPE_CHECKING:  # the id arrays some callers pass; the store itself does not need NumPy
    import numpy as np

__all__ = ["Store", "Tracer", "Transaction", "CypherResult"]

Tracer = Callable[[str, Mapping[str, Any] | None], None]
"""Called with (query name, parameters) before each statement runs; user
Cypher is reported under the name ``"<cypher>"``."""

MANIFEST = files.MANIFEST
DATABASE_FILE = files.DATABASE_FILE
LOCK_FILE = files.LOCK_FILE
WAL_FILE = DATABASE_FILE + ".wal"
WAL_END_FILE = "graphmem.walend"
"""Written when the engine met a full disk: the WAL's length after the last
acknowledged COMMIT, so the next open cuts the torn record after it."""
FORMAT_VERSION = 1
RECOVERY_TIMEOUT = 600.0
"""Seconds a write-ahead-log replay may take in the probe process (see
:meth:`Store._probe_wal`) before the store is reported as damaged."""

# Replays a leftover write-ahead log in a child process. Measured on kuzu
# 0.11.3: a bit flip in the WAL can segfault or abort the engine while it
# replays (tests/reliability/test_corruption.py), which would kill the
# caller's process. The child asks to die with its parent, so a killed caller
# leaves no replay running that holds the engine's file lock.
_WAL_PROBE = """
import ctypes, importlib, importlib.util, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
except (AttributeError, OSError):
    pass  # elsewhere the probe just outlives a killed caller; it is harmless
if os.getppid() != int(sys.argv[7]):
    sys.exit(3)  # the caller is already gone
engine = importlib.import_module(sys.argv[1])
fold = sys.argv[8] == "1"  # checkpoint the replayed log, or only prove it replays (a disk without room)
db = engine.Database(sys.argv[2], buffer_pool_size=int(sys.argv[3]), max_db_size=int(sys.argv[4]),
                     max_num_threads=int(sys.argv[5]), read_only=sys.argv[6] == "1",
                     **({} if fold else {"checkpoint_threshold": 1 << 62}))
if not fold and sys.argv[6] != "1":
    conn = engine.Connection(db)
    conn.execute(sys.argv[9])  # queries/setting_no_checkpoint_on_close.cypher
    conn.close()
db.close()
"""

_open_paths: set[Path] = set()
_open_paths_lock = threading.Lock()

_WRITE_REFUSED = "Can not execute a write query inside a read-only transaction"

# Engines whose rollback of row updates corrupts their in-memory version
# chains. Measured on kuzu 0.11.3 (python -m tests.reliability.rollback_probe,
# 8 trials x 300 transactions): after a transaction that SET existing rows is
# rolled back (by ROLLBACK, or by the engine itself when a statement fails),
# later updates of those rows fail with "Write-write conflict of updating the
# same row" (501 in the 2 trials that finished) or the process dies with
# SIGSEGV (6 of 8 trials). A CHECKPOINT right after each rollback folds the
# committed updates into the file and drops the chains: 0 conflicts, 0 crashes,
# every sum right. LadybugDB 0.22 shows neither (its UpdateInfo rollback was
# rewritten upstream), so it skips the checkpoint.
_CHECKPOINT_AFTER_ROLLBACK = frozenset({"kuzu"})
# In kuzu 0.11.3's own in-memory mode (":memory:") that CHECKPOINT folds
# nothing: the same probe on an in-memory database died with SIGSEGV in 4 of
# 6 trials and met a write-write conflict on nearly every transaction of the
# other two (seen first as a crash in NodeTable::update of tests/
# test_update_rows.py, an apply_once whose second write was refused after
# compact had updated rows). So an in-memory store on these engines keeps its
# database in a private scratch folder in memory (/dev/shm where there is one:
# files.memory_scratch), removed when the handle closes or is collected, and
# by the next in-memory open after a process killed before it could.

CHANGED_ROW_POOL_BYTES = 640 * 1024
"""Buffer pool to allow per existing row a write changed since the last
checkpoint: a quarter of the pool holds the changes a checkpoint lets go of.
Both engines keep what an update or delete changed in the buffer pool until
the next checkpoint, which the WAL's size alone (``space.CHECKPOINT_WAL``)
did not call often enough: updates log few bytes. Measured (512 MiB pool,
entities updated 10 at random per transaction, graphmem's update setting
every column): kuzu 0.11.3 failed with "buffer pool is full" after ~3,300
rows at 100k entities (~160 KiB each: one row per column chunk) and 33,150
at 1k (one chunk); LadybugDB 0.22 after ~3,060 at 100k; the raw engines,
one column: kuzu 13.5k rows at 128 MiB and 39.5k at 512 MiB, and a
CHECKPOINT every 1,000 rows kept both going. Once full, the checkpoint
itself failed, and so did the next open's first write
(``tests/test_pool_checkpoint.py``). The price: a checkpoint rewrites the
column chunks the changes touched, ~0.4-0.5 s on kuzu at 100k entities
after ~800 rows changed at random (every ~80 calls updating 10). An update
that changes only an entity's content sets 4 columns
(``entity_update_*_content``) and costs about a third of that (raw engines,
100k, 128 MiB: kuzu 720 rows in 13 columns, 2,130 in 4; LadybugDB 790 and
2,380); it is still counted as a row, which leaves that margin."""


class Transaction:
    """The write transaction in progress; see :meth:`Store.transaction`."""

    __slots__ = ("callbacks", "undo", "wrote", "changed", "announced", "deleted", "related", "begun", "held", "ending")

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []
        self.undo: list[Callable[[], None]] = []
        self.begun = False
        """BEGIN TRANSACTION ran: it runs before the first statement that is not held."""
        self.held: _Held | None = None
        """The transaction's first statement, not run yet (see Store.transaction)."""
        self.ending = False
        """The caller's block has ended: statements now run as they come (a CHECKPOINT after a rollback)."""
        self.announced = False
        """The write hooks ran for this transaction (see Store.write_hooks)."""
        self.deleted = False
        """The delete hooks ran for this transaction (see Store.delete_hooks)."""
        self.related = False
        """The relation hooks ran for this transaction (see Store.relation_hooks)."""
        self.wrote = False
        """A statement that may change or delete existing rows ran (see
        _CHECKPOINT_AFTER_ROLLBACK); one that only adds rows does not count."""
        self.changed = 0
        """About how many existing rows its statements changed or deleted (see CHANGED_ROW_POOL_BYTES)."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` if the transaction is rolled back (not when its COMMIT
        fails: the write may then have applied)."""
        self.undo.append(callback)


class _Held(NamedTuple):
    """A statement held back by :meth:`Store.transaction` (see there)."""

    name: str
    text: str
    params: Mapping[str, Any] | None
    prepare: bool


class _NoRows:
    """The answer of a held statement (one without ``RETURN``: no rows)."""

    __slots__ = ()

    def get_all(self) -> list[list[Any]]:
        return []

    def close(self) -> None:
        return None


_NO_ROWS = _NoRows()


class CypherResult:
    """Columns and rows of one Cypher statement, and whether it wrote."""

    __slots__ = ("columns", "rows", "wrote")

    def __init__(self, columns: list[str], rows: list[list[Any]], wrote: bool) -> None:
        self.columns = columns
        self.rows = rows
        self.wrote = wrote

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


DERIVED_NEUTRAL = frozenset(
    {"access_flush", "access_flush_one", "access_flush_rows", "meta_all", "<begin>", "<commit>"})
"""Statements that change nothing graphmem derives from the store (access
statistics, reads): a transaction running only these leaves the saved graph
state current (see ``Store.write_hooks``). Every form of the access flush
belongs here: a session that only read used to save its whole graph state
again at close because its one-key flush was missing (0.17 s of writes and
40 fsyncs at 100k entities)."""

ID_RANGE = 100_000
"""Entity ids per statement in :meth:`Store.execute_arrow_by_id`: 100k source
ids is ~500k relations (~50 MB of result) or 100k 384-d vectors (~40 MB)."""
_OPEN_END = (1 << 63) - 1
_BOUND = re.compile(r"\$(lo|hi)\b")
"""The window bounds of a ranged statement, for :meth:`Store.iter_arrow_windows`."""


def _bounded(name: str, lo: int, hi: int) -> tuple[str, dict[str, int]]:
    """The text of statement ``name`` with its ``$lo`` / ``$hi`` written in as
    integer literals (``operator.index``: nothing but an integer reaches the text),
    and those bounds."""
    bounds = {"lo": operator.index(lo), "hi": operator.index(hi)}
    return _BOUND.sub(lambda m: str(bounds[m.group(1)]), load_query(name)), bounds


# The engine's words when a COMMIT succeeded and only the checkpoint after it failed.
_COMMITTED_BEFORE_CHECKPOINT = "Transaction committed successfully, but the post-commit checkpoint failed"
_ENGINE_SAID = re.compile(r"\(the engine said: (.*?)\)(?:;|$)")
"""The engine's own words inside a translated error (see :func:`graphmem.store.engine.translate`)."""


def _shape(params: Mapping[str, Any] | None) -> Any:
    """What of the parameter values decides how Kùzu types them: each value's
    type, and for a list its first element's (or that it is empty)."""
    if not params:
        return ()
    return tuple(sorted((name, _kind(value)) for name, value in params.items()))


def _kind(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ("list", _kind(value[0]) if value else "empty")
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _kind(v)) for k, v in value.items())))
    return type(value).__name__


def _plain(value: Any) -> bool:
    """Whether a parameter value is a scalar, a struct of such or a list of such (not a table a
    statement scans). A list is judged by its first element, as the engines type it (a list's
    elements share one type; ``_kind`` keys the prepared statement the same way): walking
    every value of a 10-row list of structs cost ~0.08 ms per statement."""
    if value is None or isinstance(value, (str, bytes, bool, int, float, datetime, date, timedelta)):
        return True
    if isinstance(value, (list, tuple)):
        return not value or _plain(value[0])
    return isinstance(value, dict) and all(_plain(v) for v in value.values())


def _empty_lists_fixed(table: pa.Table) -> pa.Table:
    """kuzu 0.11.3 (and LadybugDB) export a list column whose lists are all
    empty with a child array of garbage offset, length, or first value offset
    ("array starts at negative offset", seen after a filter with ORDER BY);
    the lists themselves are right, as the parent's offsets say. Such chunks
    are rebuilt with a clean empty child, so validation passes. A chunk with
    any non-empty list is left as it is, for validation to judge."""
    for i, column in enumerate(table.columns):
        if not pa.types.is_list(column.type):
            continue
        chunks = []
        changed = False
        for chunk in column.chunks:
            # The child of an all-empty chunk cannot be trusted even when its
            # length and offset look clean: its value offsets may be garbage.
            # (The longest list, not "any length > 0": comparing with a Python 0
            # makes pyarrow import pandas, 0.3 s of a process's first scan.)
            if len(chunk) and not (pc.max(pc.list_value_length(chunk)).as_py() or 0) > 0:
                chunk = pa.ListArray.from_arrays(
                    pa.repeat(pa.scalar(0, pa.int32()), len(chunk) + 1), pa.array([], column.type.value_type),
                    mask=chunk.is_null(),
                )
                changed = True
            chunks.append(chunk)
        if changed:
            table = table.set_column(i, table.field(i), pa.chunked_array(chunks, column.type))
    return table


class Store:
    """An open graph database.

    Parameters
    ----------
    path
        A directory (created if missing) holding the database file and a small
        manifest naming the engine, or ``None`` for an in-memory store.
    engine
        ``"kuzu"`` or ``"ladybug"``.
    read_only
        Open without write access; several read-only processes may share a store.
    mode
        Permissions of a store this open creates: the directory gets ``mode``
        (default ``0o700``) and every file graphmem writes in it the same bits
        without execute (``0o600``), whatever the umask. An existing store
        keeps its modes (see :mod:`graphmem.store.files`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        engine: str | None = None,
        read_only: bool = False,
        config: StoreConfig | None = None,
        tracer: Tracer | None = None,
        migrations: list[schema.Migration] | None = None,
        mode: int | None = None,
    ) -> None:
        if mode is not None and path is None:
            raise InvalidInput("mode applies to a store on disk; an in-memory store has no files")
        self.dir_mode = files.check_mode(files.DEFAULT_DIR_MODE if mode is None else mode)
        """The store directory's mode: the one created with, or the existing one's (see _check_manifest)."""
        self.config = config or StoreConfig()
        self.engine_name = engine or default_engine()
        self.read_only = read_only
        self.tracer = tracer
        self.path: Path | None = None if path is None else Path(path).expanduser().resolve()
        self._module = load_engine(self.engine_name)
        self._write_lock = threading.Lock()
        self._writer: int | None = None  # thread id holding the writer lock
        self._tx: Transaction | None = None
        self.commits = 0
        self._local = threading.local()
        # Named statements prepared once per connection: a point read costs
        # ~0.18 ms prepared against ~0.6 ms parsed and planned each time (kuzu
        # 0.11.3, 100k entities). Keyed by connection id; connections live
        # until close(), so an id is not reused while its entries exist.
        self._prepared: dict[tuple[int, str, Any], Any] = {}
        self._unpreparable: set[str] = set()
        self._read_conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._lock_fd: int | None = None
        self._created = False  # whether this open made the store (see _check_manifest)
        self._manifest: dict[str, Any] = {}
        self._tx_bytes = 0  # parameter bytes bound in the write transaction in progress (see space.commit_need)
        self._tx_copies = False  # whether it ran a COPY (its COMMIT checkpoints: see _check_room_to_commit)
        self._unwritable: GraphMemError | None = None  # set when the engine met a full disk: see _stop_writing
        self._wal_end = 0  # the WAL's length after the last acknowledged commit
        self.checkpoints_deferred = 0
        self._next_checkpoint_wal = space.CHECKPOINT_WAL  # raised after a deferral, so commits do not retry each time
        self._changed_rows = 0  # existing rows changed by commits since the last checkpoint
        self._changed_budget = max(64, self.config.pool_bytes(self.engine_name) // CHANGED_ROW_POOL_BYTES)
        self._next_checkpoint_rows = self._changed_budget  # raised after a deferral, as _next_checkpoint_wal
        self._wal_allowance = space.CHECKPOINT_WAL  # see allow_wal
        """Checkpoints skipped because the disk had not the room they may need (the WAL holds those writes)."""
        self._ballast = None if self.path is None or read_only else space.Ballast(self.path)
        self._scratch_cleanup: Callable[[], object] = lambda: None  # an in-memory store's folder (_open_database)
        self.commit_failed_hooks: list[Callable[[], None]] = []
        self.write_hooks: list[Callable[[], None]] = []
        """Called (under the writer lock) before the first statement of a write
        transaction that may change the graph (any not in ``DERIVED_NEUTRAL``),
        before it runs: the saved graph state drops its claim to be current."""
        self.delete_hooks: list[Callable[[], None]] = []
        """Called (under the writer lock) before the first statement of a write
        transaction that deletes rows for good (``queries.deletes``): no write
        time records such a change, so the saved graph state is dropped."""
        self.relation_hooks: list[Callable[[], None]] = []
        """Called (under the writer lock) before the first statement of a write
        transaction that names the relation table: a catch-up of the saved
        graph state reads the relations only when one ran since the save."""
        """Called (under the writer lock) when a COMMIT raised: see :meth:`transaction`."""
        self._checkpoint_owed = False
        """A write transaction was rolled back and the CHECKPOINT that must
        follow it (see _CHECKPOINT_AFTER_ROLLBACK) has not succeeded yet."""
        self._claim_path()
        try:
            self._db = self._open_database()
            self._write_conn = self._connect()
            if self.path is not None and self._ballast is not None:  # a writable store on disk
                # Measured: a checkpoint at close on a full disk made kuzu spin
                # forever in rollbackCheckpoint; close() checkpoints itself when there is room.
                self._run(self._write_conn, "setting_no_checkpoint_on_close",
                          load_query("setting_no_checkpoint_on_close"), None)
                self._ballast.ensure(self.file_mode)
                self._wal_end = _size(self.path / WAL_FILE)
            self.schema_version = self._migrate(migrations if migrations is not None else schema.shipped_migrations())
            self._record_database()
            if self.path is not None and not self.read_only:
                # The engine made its files with the umask; see graphmem.store.files.
                files.narrow(self.path, DATABASE_FILE, self.file_mode, exact=self._created)
        except BaseException:
            # The engine's handle holds its lock on the file until closed; left to the
            # garbage collector it outlived a failed migration for as long as its error
            # was kept (its traceback holds this frame; a full disk's is also kept by
            # _stop_writing, a cycle), and every other process was refused the store.
            self._close_engine()
            self._release()
            raise

    def _close_engine(self) -> None:
        """Close the handles a failed open made (no checkpoint: the open failed), its
        prepared statements first (on LadybugDB they kept the database, and its lock,
        past its close). A close that fails too is not reported: the open's own error
        is the one to see."""
        self._forget_prepared()
        for handle in (getattr(self, "_write_conn", None), getattr(self, "_db", None)):
            if handle is not None:
                with suppress(RuntimeError):
                    handle.close()

    # -- opening -----------------------------------------------------------------

    @property
    def file_mode(self) -> int:
        """The mode of each file graphmem writes in the store: the directory's bits without execute."""
        return files.file_mode_of(self.dir_mode)

    def _where(self) -> str:
        return f" at {self.path}" if self.path else " (in memory)"

    def _claim_path(self) -> None:
        path = self.path
        if path is None or _try_claim(path):
            return
        # A yielding reader of this process (the viewer run in-process) lets
        # go when asked, as one in another process does for a writer
        # (_lock_files); here a reader asks too: one handle per path per process.
        deadline = time.monotonic() + release.RELEASE_WAIT
        with release.ask_readers(path, deadline) as asked:
            if asked and release.retry(lambda: _try_claim(path), deadline):
                return
        raise StoreLocked(
            f"the store at {path} is already open in this process; "
            "close that handle first or share it (one Database per path per process)"
        )

    def _check_manifest(self) -> None:
        if self.path is None:
            return
        manifest = self.path / MANIFEST
        if self.path.exists() and not self.path.is_dir():
            raise CorruptStore(f"{self.path} is a file; a graphmem store is a directory")
        if manifest.exists():
            try:
                info = json.loads(manifest.read_text(encoding="utf-8"))
                recorded = info["engine"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CorruptStore(f"the manifest {manifest} is unreadable ({exc}); restore it or re-import the store") from None
            if recorded != self.engine_name:
                raise IncompatibleStore(
                    f"the store at {self.path} was made with engine {recorded!r}, not {self.engine_name!r}; "
                    f"open it with engine={recorded!r}, or move it with `graphmem export` then `graphmem import`"
                )
            self._manifest = info
            self.dir_mode = files.dir_mode_of(self.path)  # an existing store keeps its modes
            database = self.path / DATABASE_FILE
            # "database" is recorded once the database file exists (after the
            # first open); a missing or empty file then means lost data, and
            # the engine would silently start an empty store in its place.
            if info.get("database") == DATABASE_FILE and (not database.exists() or database.stat().st_size == 0):
                state = "missing" if not database.exists() else "empty (0 bytes)"
                raise CorruptStore(
                    f"the database file {database} is {state}, but the store at {self.path} had one; "
                    "restore it from a backup, or re-import an export into a new store"
                )
            return
        if self.read_only:
            if not self.path.exists():
                raise CorruptStore(f"no graphmem store at {self.path} (a read-only open does not create one)")
            if (self.path / DATABASE_FILE).exists():
                raise CorruptStore(f"{self.path} has a database file but no {MANIFEST}; it was not made by graphmem")
            raise CorruptStore(f"no graphmem store at {self.path}")
        if self.path.exists() and any(p.name != files.MCP_TOKEN_FILE for p in self.path.iterdir()):
            raise CorruptStore(f"{self.path} is a non-empty directory that is not a graphmem store")
        try:
            files.make_dir(self.path, self.dir_mode, parents=True)
            self._created = True
            self._manifest = {"format": FORMAT_VERSION, "engine": self.engine_name}
            _write_small_file(manifest, json.dumps(self._manifest, indent=2) + "\n", self.file_mode)
        except PermissionError as exc:
            raise permission_denied(exc, "cannot create the store") from None

    def _record_database(self) -> None:
        """Note in the manifest that the database file now exists (see _check_manifest)."""
        if self.path is None or self.read_only or self._manifest.get("database") == DATABASE_FILE:
            return
        if (self.path / DATABASE_FILE).exists():
            self._manifest = {**self._manifest, "database": DATABASE_FILE}
            _write_small_file(self.path / MANIFEST, json.dumps(self._manifest, indent=2) + "\n", self.file_mode)

    def _cut_torn_wal(self) -> None:
        """Drop the torn tail a full disk left after the last acknowledged COMMIT.

        Measured: a WAL append cut short by a full disk leaves a partial record;
        ladybug then refuses the whole WAL ("Checksum verification failed").
        The handle that met the full disk recorded how long the WAL was after
        its last acknowledged commit (:data:`WAL_END_FILE`); everything past
        that belongs to the transaction whose COMMIT raised :class:`StorageFull`.
        """
        if self.path is None:
            return
        marker = self.path / WAL_END_FILE
        try:
            end = int(json.loads(marker.read_text(encoding="utf-8"))["wal_bytes"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptStore(f"{marker} is unreadable ({exc}); delete it to open the store") from None
        if self.read_only:
            raise ReadOnlyStore(
                f"the store at {self.path} was left by a full disk with an unacknowledged write at the end of its "
                "write-ahead log; open it once read-write (nothing acknowledged is lost), then read-only opens work"
            )
        wal = self.path / WAL_FILE
        if end < _size(wal):
            with open(wal, "r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        marker.unlink()
        files.fsync_dir(self.path)

    def _probe_wal(self) -> None:
        """Replay a leftover write-ahead log in a child process first (only after
        a crash: a clean close leaves none). If the engine crashes or hangs on
        it, the store is reported damaged instead of taking the caller down; if
        the replay works, a read-write probe also checkpoints it, so the open
        below finds a clean file."""
        if self.path is None:
            return
        wal = self.path / WAL_FILE
        try:
            if wal.stat().st_size == 0:
                return
        except FileNotFoundError:
            return
        # The probe folds the log into the database file only when the disk has
        # the room a checkpoint may need: one cut short by a full disk made kuzu
        # spin forever (measured). Otherwise it only replays it, writing
        # nothing, and the open below replays it in memory again (both engines
        # do that without a checkpoint under a checkpoint_threshold it never reaches): the store
        # opens on a full disk, and graphmem checkpoints once there is room.
        fold = not self.read_only and space.free_bytes(self.path) >= space.checkpoint_need(
            self.engine_name, _size(self.path / DATABASE_FILE), _size(wal))
        args = [sys.executable, "-c", _WAL_PROBE, self._module.__name__, str(self.path / DATABASE_FILE),
                str(self.config.pool_bytes(self.engine_name)), str(self.config.max_db_size),
                str(self.config.max_threads),
                "1" if self.read_only else "0", str(os.getpid()), "1" if fold else "0",
                load_query("setting_no_checkpoint_on_close")]  # fmt: skip
        advice = (f"move {wal.name} aside to open the store without its last transactions, "
                  "or restore it from a backup or an export")  # fmt: skip
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=RECOVERY_TIMEOUT,
                                    stdin=subprocess.DEVNULL)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise CorruptStore(
                f"replaying the write-ahead log {wal} did not finish in {RECOVERY_TIMEOUT:.0f} s; {advice}"
            ) from None
        if result.returncode == 0:
            return
        if result.returncode < 0:
            raise CorruptStore(
                f"the write-ahead log {wal} is damaged: the engine crashed (signal {-result.returncode}) "
                f"replaying it; {advice}"
            )
        # The engine's message is what follows the traceback's last indented
        # line; it can span lines (the lock message ends "See the docs: ...").
        lines = result.stderr.strip().splitlines()
        last_indented = max((i for i, line in enumerate(lines) if line.startswith(" ")), default=-1)
        said = " ".join(lines[last_indented + 1:]) or "no message"
        error = translate(RuntimeError(said), path=self.path)
        if isinstance(error, (StoreLocked, IncompatibleStore, ReadOnlyStore, StorageFull)):
            raise error  # ReadOnlyStore: a crash mid-checkpoint needs a read-write open (nothing is lost)
        raise CorruptStore(f"replaying the write-ahead log {wal} failed (the engine said: {said}); {advice}")

    def _lock_files(self) -> None:
        """Take graphmem's own advisory lock: exclusive to write, shared to read.

        kuzu's file lock already keeps readers and a writer apart, but ladybug
        lets a read-only open proceed beside a writer (measured), so graphmem
        enforces the same rule on both engines itself. ``flock`` locks vanish
        with the process, so a crash never leaves a store locked.
        """
        if self.path is None:
            return
        lock_path = self.path / LOCK_FILE
        try:
            # Owner-only in a new store: anyone who can open the lock file,
            # even read-only, can flock it and lock the owner out.
            fd = files.open_creating(lock_path, os.O_RDWR, self.file_mode)
        except PermissionError as exc:
            if not self.read_only:
                raise permission_denied(exc, "cannot open the store's lock file") from None
            return  # a read-only store on read-only media: the engine's lock is all there is

        def attempt() -> bool:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if self.read_only else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        locked = attempt()
        if not locked and not self.read_only:
            # A reader that keeps the store open between uses (graphmem view)
            # listens for writers: ask it to let go, then retry for a bounded time.
            deadline = time.monotonic() + release.RELEASE_WAIT
            with release.ask_readers(self.path, deadline) as asked:
                locked = asked and release.retry(attempt, deadline)
        if not locked:
            os.close(fd)
            holder = "a writer" if self.read_only else "a reader or a writer"
            raise StoreLocked(
                f"another process has this store open at {self.path} ({holder} holds it); close it there first: "
                "one process may hold a store read-write, or several read-only, never both"
            )
        self._lock_fd = fd

    def _check_writable(self) -> None:
        """A read-write open needs to write the store's folder and every file and
        folder graphmem keeps in it (the engine's WAL, the lock, the manifest,
        the vector index): refuse at open, naming the first that is not
        writable, rather than fail at the first COMMIT or at close()."""
        if self.path is None or self.read_only or not self.path.is_dir():
            return
        paths = [self.path]
        for entry in sorted(self.path.iterdir()):
            paths.append(entry)
            try:
                if entry.is_dir():
                    paths.extend(sorted(entry.iterdir()))
            except FileNotFoundError:
                continue  # removed since the listing, as below
        for path in paths:
            mode = os.W_OK | (os.X_OK if path.is_dir() else 0)
            # This check runs before the lock, so the engine of the process
            # holding the store (e.g. a follower that took over from a killed
            # holder, checkpointing) may remove a file it keeps beside the WAL
            # between the listing and here: a file gone is not one refused.
            if not os.access(path, mode, effective_ids=os.access in os.supports_effective_ids) and path.exists():
                kind = "folder" if path.is_dir() else "file"
                raise PermissionDenied(
                    f"permission denied: this process (uid {os.geteuid()}) cannot write the {kind} {path} of the "
                    f"store at {self.path}; the store is not damaged: give this user write access, or open it "
                    "with read_only=True"
                )

    def _open_database(self) -> Any:
        try:
            self._check_manifest()
        except PermissionDenied:
            raise
        except PermissionError as exc:
            raise permission_denied(exc, "cannot read the store") from None
        self._check_writable()
        self._lock_files()
        self._cut_torn_wal()
        self._probe_wal()
        if self.path is not None:
            target = str(self.path / DATABASE_FILE)
        elif self.engine_name in _CHECKPOINT_AFTER_ROLLBACK:
            scratch = files.memory_scratch()
            self._scratch_cleanup = weakref.finalize(self, shutil.rmtree, scratch, True)
            target = str(scratch / DATABASE_FILE)
        else:
            target = ":memory:"
        try:
            return self._module.Database(
                target,
                buffer_pool_size=self.config.pool_bytes(self.engine_name),
                max_db_size=self.config.max_db_size,
                max_num_threads=self.config.max_threads,
                read_only=self.read_only,
                # graphmem checkpoints itself, when the disk has the room (see
                # space.py). auto_checkpoint stays on: measured on ladybug 0.22
                # with it off, relations written by COPY were lost by the WAL
                # replay after a crash; with it on, COPY checkpoints at COMMIT.
                **({} if self.path is None else {"checkpoint_threshold": space.NO_AUTO_CHECKPOINT}),
            )
        except (RuntimeError, IndexError, ValueError, OverflowError) as exc:
            # pybind11 turns the engine's std::out_of_range into IndexError and
            # invalid_argument into ValueError; a damaged file raised each of
            # them (measured). A failed open that is not a lock or a version
            # says the file is unusable.
            error = translate(exc, path=self.path)
            if isinstance(error, QueryError):
                error = CorruptStore(
                    f"the store{self._where()} could not be opened (the engine said: {str(exc).strip()}); "
                    "it is damaged: restore it from a backup or an export"
                )
            raise error from None

    def _connect(self) -> Any:
        try:
            return self._module.Connection(self._db, num_threads=self.config.max_threads)
        except RuntimeError as exc:
            raise translate(exc, path=self.path) from None

    def _migrate(self, migrations: list[schema.Migration]) -> int:
        try:
            tables = {row[0] for row in self._run(self._write_conn, "schema_tables", load_query("schema_tables"), None)}
            current = 0
            if "Meta" in tables:
                meta = dict(self._run(self._write_conn, "meta_all", load_query("meta_all"), None))
                current = int(meta.get("schema_version", "0"))
        except QueryError as exc:
            # graphmem's own first reads cannot be bad Cypher: the file is damaged.
            raise CorruptStore(
                f"the store{self._where()} cannot be read (the engine said: {exc}); "
                "restore it from a backup or an export"
            ) from None
        if "Meta" not in tables and tables:
            raise CorruptStore(f"the database{self._where()} has tables {sorted(tables)} but no graphmem Meta table")
        pending = schema.plan(current, migrations, where=self._where())
        if pending and self.read_only:
            raise IncompatibleStore(
                f"the store{self._where()} is at schema version {current} and needs migrating to "
                f"{migrations[-1].version}; open it once read-write to migrate"
            )
        for migration in pending:
            with self.transaction():
                schema.apply(migration, lambda text, params: self._run(self._write_conn, migration.name, text, params))
                self.execute("meta_set", {"key": "schema_version", "value": str(migration.version)})
            current = migration.version
        return current

    # -- running statements ------------------------------------------------------

    def _conn(self) -> Any:
        if self._writer == threading.get_ident():
            return self._write_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.check_open()
            conn = self._connect()
            self._local.conn = conn
            with self._conns_lock:
                self._read_conns.append(conn)
        return conn

    def check_open(self) -> None:
        if self._closed:
            raise GraphMemError(f"the store{self._where()} is closed")
        if self._unwritable is not None:
            if not isinstance(self._unwritable, StorageFull):
                raise GraphMemError(f"this handle of the store{self._where()} answers nothing more: {self._unwritable}")
            # Measured on kuzu 0.11.3: after a COMMIT torn by a full disk, primary-key
            # lookups miss acknowledged entities that a scan still finds; a reopen reads right.
            raise StorageFull(
                f"the engine met a full disk{self._where()} ({self._unwritable}); this handle answers nothing "
                "more: free space, then close and reopen the store (it opens without repair; nothing "
                "acknowledged was lost)"
            )

    def _run(self, conn: Any, name: str, text: str, params: Mapping[str, Any] | None,
             *, prepare: bool = False, traced: Mapping[str, Any] | None = None) -> list[list[Any]]:
        result = self._execute_raw(conn, name, text, params, prepare=prepare, traced=traced, may_hold=True)
        try:
            rows: list[list[Any]] = result.get_all()
            return rows
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None
        finally:
            result.close()

    def _not_utf8(self, exc: UnicodeDecodeError) -> CorruptStore:
        # Measured: a bit flip in a WAL record can replay into a STRING that is
        # not UTF-8; the engine does not check, so reading it is where it shows.
        return CorruptStore(
            f"the store{self._where()} holds text that is not valid UTF-8 ({exc}); it is damaged: "
            "restore it from a backup or an export"
        )

    def _execute_raw(self, conn: Any, name: str, text: str, params: Mapping[str, Any] | None,
                     *, prepare: bool = False, traced: Mapping[str, Any] | None = None,
                     may_hold: bool = False) -> Any:
        """Run one statement on ``conn``. In the write transaction, ``may_hold``
        lets its first statement wait (see :meth:`transaction`) if it answers no rows."""
        self.check_open()
        check_bound(text, params, label=f"query {name!r}")
        tx = self._tx if conn is self._write_conn else None
        hold = False
        if tx is not None:
            self._tx_bytes += space.param_bytes(params) + (space.CYPHER_WRITE_BYTES if name == "<cypher>" else 0)
            self._tx_copies = self._tx_copies or "COPY" in text.upper()
            if not tx.begun and not tx.ending:
                hold = may_hold and tx.held is None and not name.startswith("<") and runs_alone(text)
                if not hold:
                    self._begin(tx)
        if self.tracer is not None:
            # ``traced``: the parameters as the statement file names them, when some were written in as literals.
            self.tracer(name, params if traced is None else traced)
        if tx is not None:
            if not tx.announced and name not in DERIVED_NEUTRAL:
                tx.announced = True
                for hook in self.write_hooks:
                    hook()
            if not tx.deleted and deletes(text):
                tx.deleted = True
                for hook in self.delete_hooks:
                    hook()
            if not tx.related and touches_relations(text):
                tx.related = True
                for hook in self.relation_hooks:
                    hook()
            if may_update(text):
                tx.wrote = True
                tx.changed += changed_rows(text, params)
            if hold and not tx.begun and tx.held is None:
                tx.held = _Held(name, text, None if params is None else dict(params), prepare)
                return _NO_ROWS
            if hold and not tx.begun:
                # The tracer or a hook above ran a statement that was held itself
                # (one that BEGAN needs nothing more): this one runs in the transaction.
                self._begin(tx)
        return self._execute_now(conn, name, text, params, prepare=prepare)

    def _begin(self, tx: Transaction) -> None:
        """BEGIN the write transaction ``tx``, then run the statement it held back."""
        tx.begun = True
        if self.tracer is not None:
            self.tracer("<begin>", None)
        self._execute_now(self._write_conn, "<begin>", "BEGIN TRANSACTION", None).close()
        held, tx.held = tx.held, None
        if held is not None:
            self._execute_now(self._write_conn, held.name, held.text, held.params, prepare=held.prepare).close()

    def _execute_now(self, conn: Any, name: str, text: str, params: Mapping[str, Any] | None,
                     *, prepare: bool = False) -> Any:
        try:
            statement = self._prepared_statement(conn, name, text, params) if prepare else text
            result = conn.execute(statement, dict(params) if params else None)
        except RuntimeError as exc:
            # No local names the error: a frame holding its own exception is a
            # cycle that kept a prepared statement, and with it ladybug's file
            # lock, alive after close() until the garbage collector ran (measured).
            raise self._translated(exc) from None
        if isinstance(result, list):  # several statements: the last one answers
            for extra in result[:-1]:
                extra.close()
            result = result[-1]
        return result

    def _translated(self, exc: RuntimeError) -> GraphMemError:
        """:func:`translate`, and a full disk met by the engine stops this handle (see :meth:`_stop_writing`)."""
        error = translate(exc, path=self.path)
        if isinstance(error, StorageFull):
            self._stop_writing(error)
        return error

    def _prepared_statement(self, conn: Any, name: str, text: str, params: Mapping[str, Any] | None) -> Any:
        """The prepared form of named statement ``name`` on ``conn``, or ``text`` where it cannot be prepared.

        Statements that scan a caller's Arrow table (``LOAD FROM $rows``) bind
        the table when planned, and files of several statements do not prepare:
        those run as text.
        """
        if name in self._unpreparable or (params and any(not _plain(v) for v in params.values())):
            return text
        # Kùzu types a parameter from the value given at prepare time (a list
        # of unknown element type crashed it), so a statement is prepared per
        # shape of its parameters: None, empty lists and element types vary.
        key = (id(conn), name, _shape(params))
        statement = self._prepared.get(key)
        if statement is None:
            with warnings.catch_warnings():
                # kuzu 0.11 deprecates prepare() in favour of execute(text), which re-plans every call.
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    statement = conn.prepare(text, dict(params) if params else None)
                except RuntimeError:
                    statement = None
            if statement is None or not statement.is_success():
                self._unpreparable.add(name)
                return text
            self._prepared[key] = statement
        return statement

    def _forget_prepared(self) -> None:
        """Drop every prepared statement (user Cypher may have changed the schema they were planned on)."""
        self._prepared = {}

    def execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        """Run the named statement ``queries/<name>.cypher``; return its rows as lists.

        Inside :meth:`transaction` (on the thread that holds it) the statement
        joins that transaction; elsewhere it runs on this thread's own
        read connection in an automatic transaction.
        """
        return self._run(self._conn(), name, load_query(name), params, prepare=True)

    def execute_bounded(self, name: str, params: Mapping[str, Any] | None, *, lo: int, hi: int,
                        literal: bool = True) -> list[list[Any]]:  # fmt: skip
        """:meth:`execute` of a statement bounded by ``$lo`` / ``$hi``, which are
        written in as integer literals (``literal``, as :meth:`iter_arrow_windows`
        does) or else bound as parameters. With literals the engine skips the
        chunks of a node-table scan outside the bounds (measured on kuzu 0.11.3
        at 1M entities, the four statements of a hard delete of the 10 newest
        entities: 22 ms of CPU with literal id bounds, 147 ms with the same
        bounds as parameters), but plans the statement on every call (~0.5 ms)
        where parameters use the prepared one.
        """
        if not literal:
            return self.execute(name, {**(params or {}), "lo": lo, "hi": hi})
        text, bounds = _bounded(name, lo, hi)
        return self._run(self._conn(), name, text, params, traced={**(params or {}), **bounds})

    def execute_arrow(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Like :meth:`execute`, with the result as a pyarrow table (for scans)."""
        return self._arrow(name, load_query(name), params, prepare=True)

    def iter_arrow_windows(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        *,
        ids: Sequence[int] | np.ndarray,
        first: int,
        chunk: int = ID_RANGE,
    ) -> Iterator[pa.Table]:
        """:meth:`execute_arrow` of a statement over entity ids in ``[$lo, $hi)``
        per window, each read when it is reached, the windows sized by the
        sorted ``ids`` (a snapshot of the entities the statement will find):
        the first holds ``first`` of them, the next ones twice as many up to
        ``chunk``, the last is open-ended. Unlike :meth:`iter_arrow_by_id` no
        highest id is needed (no ``max(id)`` scan), and a window returns what
        the snapshot counted even where ids have gaps. The windows are
        contiguous from 0, so a stale snapshot only mis-sizes them.

        The bounds are written into the statement as integer literals, not
        bound as parameters. Measured on 100k entities: ladybug prunes a
        node-table scan by its chunks' min/max only for literal bounds (a
        10k-id window scanned ~10k rows with literals, all 100k with ``$lo`` /
        ``$hi``), so a window costs what it returns instead of what the store
        holds; kuzu 0.11.3 filters after the scan either way. A literal
        statement is planned per call (~1 ms).
        """
        size, lo, at = min(first, chunk), 0, 0
        while True:
            at += size
            hi = int(ids[at]) if at < len(ids) else None
            yield self._window(name, params, lo, _OPEN_END if hi is None else hi)
            if hi is None:
                return
            lo, size = hi, min(2 * size, chunk)

    def _window(self, name: str, params: Mapping[str, Any] | None, lo: int, hi: int) -> pa.Table:
        """:meth:`execute_arrow` of ``name`` with ``$lo`` / ``$hi`` written in as
        literals (see :meth:`iter_arrow_windows`: the engines prune a scan by
        literal bounds only; measured at 1M on kuzu, the first 10k-id window
        of ``entity_export`` took 656 ms of CPU with bound parameters, 50 ms
        with literals)."""
        text, bounds = _bounded(name, lo, hi)
        return self._arrow(name, text, params, prepare=False, traced={**(params or {}), **bounds})

    def _arrow(self, name: str, text: str, params: Mapping[str, Any] | None, *, prepare: bool,
               traced: Mapping[str, Any] | None = None) -> pa.Table:
        result = self._execute_raw(self._conn(), name, text, params, prepare=prepare, traced=traced)
        try:
            table = _empty_lists_fixed(result.get_as_arrow(chunk_size=1_000_000))
        finally:
            result.close()
        try:
            # Arrow takes the engine's strings as they are; checking them here
            # (~10 ms per million) turns damaged text into CorruptStore instead
            # of a UnicodeDecodeError wherever a caller reads the column.
            table.validate(full=True)
        except pa.ArrowInvalid as exc:
            raise CorruptStore(
                f"the store{self._where()} returned invalid data ({exc}); it is damaged: "
                "restore it from a backup or an export"
            ) from None
        return table

    def execute_arrow_by_id(
        self, name: str, params: Mapping[str, Any] | None = None, *, next_id: int, chunk: int = ID_RANGE
    ) -> pa.Table:
        """:meth:`execute_arrow` of a statement over entity ids in ``[$lo, $hi)``,
        run once per range of ``chunk`` ids below ``next_id`` (the last range
        open-ended), the parts concatenated in order.

        The engine builds a statement's whole result in its buffer pool: the
        5M relations of a 1M-entity store read at once filled the default
        512 MiB pool (kuzu 0.11.3), so scans that grow with the store read in
        ranges.
        """
        parts = list(self.iter_arrow_by_id(name, params, next_id=next_id, chunk=chunk))
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def iter_arrow_by_id(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        next_id: int,
        chunk: int = ID_RANGE,
        first: int | None = None,
    ) -> Iterator[pa.Table]:
        """The parts of :meth:`execute_arrow_by_id`, each read when it is reached
        (each range is its own read transaction). With ``first``, ranges start
        that small and double up to ``chunk``, so a caller that stops early
        (the first 10k of a 1M-entity scan) reads little more than it uses."""
        size = min(first or chunk, chunk)
        lo = 0
        while True:
            last = lo + size >= next_id
            hi = _OPEN_END if last else lo + size
            yield self._window(name, params, lo, hi)
            if last:
                return
            lo, size = hi, min(2 * size, chunk)

    def entity_id_end(self) -> int:
        """One past the highest entity id in the store (0 when it has none)."""
        return int(self.execute("entity_id_end")[0][0] or 0)

    def wrote_here(self) -> bool:
        """Whether this thread is inside a write transaction that has run (or
        holds) a statement that may write: its reads must then come from the
        store, which shows the transaction's own changes, not from what the
        caches hold (they follow a transaction's changes only at its commit)."""
        tx = self._tx
        return tx is not None and tx.wrote and self._writer == threading.get_ident()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock without opening a transaction (nested use is fine).

        Derived structures load under it, so no commit can land between
        reading the store and installing what was read.
        """
        self.check_open()
        if self._writer == threading.get_ident():
            yield
            return
        with self._write_lock:
            self.check_open()
            self._writer = threading.get_ident()
            try:
                yield
            finally:
                self._writer = None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the writer lock and run the enclosed statements as one transaction.

        Kùzu allows one write transaction at a time and fails a second one at
        once instead of queueing it, so graphmem queues writers here. Callbacks
        registered with :meth:`Transaction.after_commit` run after COMMIT while
        the lock is still held, so in-memory bookkeeping changes in the same
        order as the store.

        A transaction of one statement runs it alone, in the engine's own
        transaction: its first statement, if it answers no rows
        (:func:`~graphmem.store.queries.runs_alone`), is held back, and BEGIN
        and that statement run only when a second statement comes; a block
        that ran no other runs it alone at its end, after the same disk-room
        check as a COMMIT. Durability is the same: the engine syncs its log
        before the statement returns (strace: kuzu 0.11.3 then syncs twice,
        LadybugDB 0.22 once). It saves BEGIN and COMMIT, two calls into the
        engine: the MCP tools' small writes on a 1k store
        (``benchmarks/mcp_write_probe.py``, kuzu, p50 of two runs each, the
        two trees alternating) ``create_entities`` of 10 4.93 / 4.08 ms ->
        3.40 / 3.05 ms, ``create_relations`` 4.88 / 4.36 -> 3.62 / 3.15,
        ``delete_relations`` 4.05 / 3.42 -> 2.86 / 2.62. An error of a held
        statement is raised at the end of the block, not where it was called,
        and not at all if the block raises first (the statement never ran).
        """
        self.check_open()
        if self.read_only:
            raise ReadOnlyStore(f"the store{self._where()} is open read-only; reopen it with read_only=False to write")
        current = self._tx
        if current is not None and self._writer == threading.get_ident():
            yield current  # nested: join this thread's transaction
            return
        with self.exclusive():
            if self._checkpoint_owed:
                self._checkpoint_after_rollback(strict=True)
            tx = Transaction()
            self._tx = tx
            self._tx_bytes = 0
            self._tx_copies = False
            try:
                try:
                    yield tx
                    tx.ending = True
                    self.check_open()  # another thread may have stopped the handle (a full disk)
                    self._check_room_to_commit()  # a refusal rolls back like any other error
                except BaseException:
                    tx.ending = True
                    if tx.begun:  # else nothing ran: a held statement is dropped unrun
                        _rollback(self._write_conn)
                        if tx.wrote:
                            self._checkpoint_after_rollback(strict=False)
                    for undo in tx.undo:
                        undo()
                    raise
                checkpointed = True  # a block that ran no statement has nothing to commit
                if tx.begun or tx.held is not None:
                    checkpointed = self._commit(tx) if tx.begun else self._run_alone(tx)
                    self.commits += 1
                    self._changed_rows += tx.changed
                    if self.path is not None:
                        self._wal_end = _size(self.path / WAL_FILE)
                for callback in tx.callbacks:
                    callback()
            finally:
                self._tx = None
            if checkpointed:  # else the engine's own checkpoint just failed (a warning said so)
                self._checkpoint()

    def _commit(self, tx: Transaction) -> bool:
        """COMMIT the transaction ``tx`` began. It returns once the write stands
        (see :meth:`_commit_failed`): False if the engine's checkpoint after it failed."""
        try:
            self._commit_now(None)
        except GraphMemError as exc:
            self._commit_failed(tx, exc)
            return False
        return True

    def _run_alone(self, tx: Transaction) -> bool:
        """Run the one statement ``tx`` held, in the engine's own transaction
        (returns as :meth:`_commit` does)."""
        held, tx.held = tx.held, None
        if held is None:
            raise GraphMemError("internal: no statement held to run alone")
        try:
            self._commit_now(held)
        except GraphMemError as exc:
            if type(exc) is QueryError and "IO exception" not in str(exc) and _COMMITTED_BEFORE_CHECKPOINT not in str(exc):
                # The statement itself failed (bound, typed, a constraint):
                # the engine rolled its transaction back, as after a failed
                # statement between BEGIN and COMMIT.
                if tx.wrote:
                    self._checkpoint_after_rollback(strict=False)
                for undo in tx.undo:
                    undo()
                raise
            # A full disk, a full pool, an I/O error: these can come from the
            # commit, so the write may have applied, as when a COMMIT raises.
            self._commit_failed(tx, exc)
            return False
        return True

    def _commit_now(self, held: _Held | None) -> None:
        """The moment a write transaction commits: COMMIT, or (``held``) its one
        statement run alone. The tracer sees ``<commit>`` here either way."""
        if self.tracer is not None:
            self.tracer("<commit>", None)
        if held is None:
            self._execute_now(self._write_conn, "<commit>", "COMMIT", None).close()
        else:
            self._execute_now(self._write_conn, held.name, held.text, held.params, prepare=held.prepare).close()

    def _commit_failed(self, tx: Transaction, exc: GraphMemError) -> None:
        """The commit of ``tx`` raised ``exc``: return if the write stands (the
        engine committed and only its checkpoint after the commit failed), else
        raise, after the store's readers reload what the store holds."""
        if _COMMITTED_BEFORE_CHECKPOINT in str(exc) and self._tx_copies:
            # Measured (LadybugDB 0.22, a full buffer pool): the same
            # message after a COPY is not true. A COPY writes its pages
            # without logging them and relies on this checkpoint, so the
            # rows live only in this handle's memory and are gone at the
            # next open. Nothing is acknowledged, and the handle, whose
            # reads would show rows the store does not hold, stops.
            said = _ENGINE_SAID.search(str(exc))
            lost = GraphMemError(
                f"the engine's checkpoint after a COPY failed{self._where()}, so this write was NOT made "
                f"durable, whatever the engine said ({said.group(1) if said else exc}); this handle "
                "stops: close it, reopen the store (with a larger buffer pool if the engine said its "
                "pool was full: graphmem.StoreConfig(buffer_pool_size=...)) and write the batch again"
            )
            self._stop_writing(lost)
            raise lost from None
        if _COMMITTED_BEFORE_CHECKPOINT in str(exc):
            # Measured (LadybugDB, a full buffer pool): the engine
            # says the commit is durable and only the automatic
            # checkpoint after it failed, so the write stands.
            warnings.warn(
                f"the write committed and is durable, but the checkpoint after it failed: {exc}", CheckpointWarning, stacklevel=5,
            )
            if self.path is not None and self._unwritable is not None:
                # The log now ends after this acknowledged commit. A full disk
                # met by that checkpoint stopped the handle (_stop_writing) and
                # recorded the end before it, which the next open cuts back to.
                self._wal_end = _size(self.path / WAL_FILE)
                self._record_wal_end(self.path)
            return
        # Measured (kuzu 0.11.3, a full buffer pool): COMMIT can
        # raise after the transaction became durable, when the
        # automatic checkpoint that follows it fails. Whether it
        # applied is unknown here, so whatever is derived from the
        # store is reloaded from it instead of updated by callbacks.
        if not isinstance(exc, StorageFull):
            # After a full disk the handle writes no more (see
            # _stop_writing), and the engine's state after a torn
            # COMMIT is not one to roll back from: kuzu aborted the
            # process on such a ROLLBACK ("Invalid transaction type to rollback").
            _rollback(self._write_conn)
            if tx.wrote:
                self._checkpoint_after_rollback(strict=False)
        if self._unwritable is None:  # an unusable handle reloads nothing (check_open refuses)
            for hook in self.commit_failed_hooks:
                hook()
        raise type(exc)(
            f"{exc} [the COMMIT failed: the write may nevertheless have been applied; "
            "graphmem reloads its indexes from the store, so reads show what it holds]"
        ) from None

    # -- disk space ------------------------------------------------------------------

    def _check_room_to_commit(self) -> None:
        """Before COMMIT: refuse (the caller rolls back; nothing written) unless the disk has
        room for the transaction's WAL records. The engines write a
        transaction's records only at COMMIT, and a torn append corrupts the WAL
        (measured: see space.py), so this is the last safe moment."""
        if self.path is None:
            return
        need = space.commit_need(self._tx_bytes)
        if self._tx_copies:
            # Measured on both engines: a COPY writes nothing until COMMIT, which
            # then checkpoints (whatever the threshold): that needs room too.
            need += space.checkpoint_need(self.engine_name, _size(self.path / DATABASE_FILE),
                                          _size(self.path / WAL_FILE) + need)
        free = space.free_bytes(self.path)
        # The ballast must be in place before the engine writes: measured without
        # it, a disk filled by another writer after this check made both engines
        # abort (SIGABRT) when the handle closed, and ladybug's WAL unreadable.
        if free >= need and (self._ballast is None or self._ballast.ensure(self.file_mode)):
            return
        raise StorageFull(
            f"the disk holding the store{self._where()} is full: this write needs about {need} bytes free "
            f"(and a {space.BALLAST_SIZE}-byte reserve) and {free} are; it was not written (nothing earlier is "
            "lost). Free space and retry"
        )

    def allow_wal(self, size: int) -> None:
        """Let the WAL grow to ``size`` bytes before a commit folds it (instead of
        :data:`space.CHECKPOINT_WAL`), until the next fold: a bulk write that
        logs its rows (see :func:`graphmem.records.insert_relations`) then
        shares one fold with the batches after it. Durability does not change
        (every commit is in the WAL); a reopen after a crash replays more, and
        :meth:`close` still folds everything.

        Examples
        --------
        >>> store = Store(None)
        >>> store.allow_wal(1 << 28); store._next_checkpoint_wal == 1 << 28
        True
        >>> store.close()
        """
        self._wal_allowance = max(self._wal_allowance, size)
        self._next_checkpoint_wal = max(self._next_checkpoint_wal, size)

    def _checkpoint(self, *, force: bool = False) -> None:
        """Fold the WAL into the database file when it has grown past
        :data:`space.CHECKPOINT_WAL` (any size with ``force``), but only if the
        disk has the room a checkpoint may need; otherwise the WAL keeps the
        writes (they are durable) and a later commit or the next open folds it."""
        if self.path is None or self.read_only or self._unwritable is not None:
            return
        wal = _size(self.path / WAL_FILE)
        if wal == 0 or (wal < self._next_checkpoint_wal and self._changed_rows < self._next_checkpoint_rows
                        and not force):  # fmt: skip
            return
        # After a deferral the next try waits for 4 MiB more of WAL: measured on
        # kuzu 0.11.3, CHECKPOINT waits ~5-7 s for a reader's open transaction
        # before it gives up, and every commit would wait again.
        self._next_checkpoint_wal = max(wal + space.CHECKPOINT_WAL // 4, self._wal_allowance)
        self._next_checkpoint_rows = self._changed_rows + self._changed_budget // 4
        if space.free_bytes(self.path) < space.checkpoint_need(self.engine_name, _size(self.path / DATABASE_FILE), wal):
            self.checkpoints_deferred += 1
            return
        with self.exclusive():
            try:
                self._run(self._write_conn, "<checkpoint>", "CHECKPOINT", None)
                self._wal_end = _size(self.path / WAL_FILE)
                self._next_checkpoint_wal = self._wal_allowance = space.CHECKPOINT_WAL
                self._changed_rows, self._next_checkpoint_rows = 0, self._changed_budget
            except GraphMemError as exc:
                if not isinstance(exc, (StorageFull, CorruptStore)):
                    # A reader holding a transaction ("Timeout waiting for active
                    # transactions"), a full buffer pool: the writes are durable in
                    # the WAL and the engine is fine (as when its own checkpoint
                    # failed inside COMMIT); a later commit or close folds them.
                    self.checkpoints_deferred += 1
                    warnings.warn(f"the writes are durable, but the checkpoint after them failed: {exc}",
                                  CheckpointWarning, stacklevel=3)
                    return
                # A checkpoint cut short by the disk leaves the engine unfit
                # (measured: kuzu then said "Cannot read from file" and spun at
                # close), so the handle stops; the files reopen without repair.
                self._stop_writing(exc)
                warnings.warn(
                    f"the writes are durable, but the checkpoint after them failed; this handle answers nothing "
                    f"more until the store is reopened: {exc}", CheckpointWarning, stacklevel=3,
                )

    def _stop_writing(self, error: GraphMemError) -> None:
        """The engine met a full disk (or a checkpoint failed): refuse further
        writes on this handle, and free the ballast so the engine can finish the
        write it has buffered when it closes instead of aborting."""
        if self._unwritable is not None or self.path is None:
            return
        self._unwritable = error
        if self._ballast is not None:
            self._ballast.release()
        self._record_wal_end(self.path)

    def _record_wal_end(self, path: Path) -> None:
        """Write where the WAL's acknowledged part ends (:data:`WAL_END_FILE`), for the next open."""
        try:
            _write_small_file(path / WAL_END_FILE, json.dumps({"wal_bytes": self._wal_end}) + "\n", self.file_mode)
        except OSError as exc:
            # Without it, kuzu still replays up to the torn record; ladybug
            # reports the WAL damaged. Say so now rather than at the next open.
            warnings.warn(f"could not record where the write-ahead log's acknowledged part ends ({exc})",
                          CheckpointWarning, stacklevel=5)

    @property
    def unusable(self) -> GraphMemError | None:
        """Why this handle refuses reads and writes (the engine met a full disk, or lost a COPY
        it had reported committed), or ``None``."""
        return self._unwritable

    def _checkpoint_after_rollback(self, *, strict: bool) -> None:
        """After a write transaction was rolled back, on an engine that needs it
        (see _CHECKPOINT_AFTER_ROLLBACK): CHECKPOINT, so no later write meets the
        rolled-back updates. If it fails, the debt stays and the next write
        transaction pays it first; ``strict`` raises then (no write may run on
        the damaged chains), else the original error goes on unmasked."""
        if self.engine_name not in _CHECKPOINT_AFTER_ROLLBACK or self._unwritable is not None:
            return
        self._checkpoint_owed = True
        if self.path is not None and space.free_bytes(self.path) < space.checkpoint_need(
                self.engine_name, _size(self.path / DATABASE_FILE), _size(self.path / WAL_FILE)):
            # A checkpoint cut short by a full disk leaves kuzu unfit (see
            # space.py): the debt stays, and the next write waits for room.
            if strict:
                raise StorageFull(
                    f"the disk holding the store{self._where()} has not the room for the checkpoint that must "
                    "follow a rolled-back write before the next one; free space and retry (nothing is lost)"
                )
            return
        try:
            self._run(self._write_conn, "<checkpoint>", "CHECKPOINT", None)
        except GraphMemError as exc:
            if strict:
                raise GraphMemError(
                    f"the store{self._where()} must checkpoint after a rolled-back write before it writes again, "
                    f"and the checkpoint failed (the engine said: {exc}); retry, or close and reopen the store"
                ) from None
            return
        self._checkpoint_owed = False
        self._changed_rows, self._next_checkpoint_rows = 0, self._changed_budget

    def cypher(
        self,
        text: str,
        params: Mapping[str, Any] | None = None,
        *,
        allow_write: bool = True,
        allow_file_access: bool = False,
        before_write: Callable[[], None] | None = None,
        check_write: Callable[[], None] | None = None,
        after_write: Callable[[], None] | None = None,
    ) -> CypherResult:
        """Run user Cypher. It first runs in a read-only transaction, so the engine
        itself decides whether it writes; a write is rerun under the writer lock
        when ``allow_write`` and the store is writable, else refused.
        ``before_write`` runs inside that write transaction before the
        statement, ``check_write`` after it (an exception rolls it back), and
        ``after_write`` after its commit, under the writer lock.

        Before anything runs, the text is checked
        (:func:`~graphmem.store.cypher_guard.check_user_cypher`): one statement,
        and unless ``allow_file_access`` nothing that reads or writes files,
        reaches the network or loads an extension (the engine lets all of that
        through a read-only transaction) — :class:`FileAccessRefused` names the
        clause. Graphmem's own statements go through :meth:`execute`, unchecked.
        """
        if not isinstance(text, str) or not text.strip():
            raise QueryError("a Cypher statement must be a non-empty str")
        check_user_cypher(text, params, allow_file_access=allow_file_access)
        check_bound(text, params, label="the Cypher statement")
        conn = self._conn()
        self._run(conn, "<begin>", "BEGIN TRANSACTION READ ONLY", None)
        try:
            result = self._execute_raw(conn, "<cypher>", text, params)
            columns, rows = _collect(result)
        except ReadOnlyStore as exc:
            _rollback(conn)
            if _WRITE_REFUSED not in str(exc):
                raise
            if self.read_only or not allow_write:
                why = "the store is open read-only" if self.read_only else "writes are not enabled here"
                raise ReadOnlyStore(f"this statement writes, and {why}") from None
            with self.transaction() as tx:
                if before_write is not None:
                    before_write()
                if after_write is not None:
                    tx.after_commit(after_write)
                self._forget_prepared()
                result = self._execute_raw(self._write_conn, "<cypher>", text, params)
                columns, rows = _collect(result)
                if check_write is not None:
                    check_write()  # raising here rolls the statement back
            return CypherResult(columns, rows, wrote=True)
        except BaseException:
            _rollback(conn)
            raise
        self._run(conn, "<commit>", "COMMIT", None)
        return CypherResult(columns, rows, wrote=False)

    # -- closing -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the database and its file lock. Safe to call twice."""
        if self._closed:
            return
        self._checkpoint(force=True)
        with self._write_lock:
            self._closed = True
            self._forget_prepared()
            with self._conns_lock:
                conns, self._read_conns = self._read_conns, []
            for conn in [*conns, getattr(self, "_write_conn", None)]:
                if conn is not None:
                    conn.close()
            db = getattr(self, "_db", None)
            if db is not None:
                db.close()
            self._scratch_cleanup()
            self._release()

    def _release(self) -> None:
        self._closed = True
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the flock
        if self.path is not None:
            with _open_paths_lock:
                _open_paths.discard(self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def permission_denied(exc: OSError, what: str) -> PermissionDenied:
    """A :class:`PermissionDenied` for an ``OSError`` of the file system, naming its path."""
    return PermissionDenied(
        f"permission denied: {what}: this process (uid {os.geteuid()}) may not access {exc.filename or exc} "
        f"({exc.strerror}); the store is not damaged: give this user access, or open it with read_only=True"
    )


def _try_claim(path: Path) -> bool:
    """Claim ``path`` for this handle unless another handle of this process has it."""
    with _open_paths_lock:
        if path in _open_paths:
            return False
        _open_paths.add(path)
        return True


def _collect(result: Any) -> tuple[list[str], list[list[Any]]]:
    try:
        return list(result.get_column_names()), result.get_all()
    finally:
        result.close()


def _rollback(conn: Any) -> None:
    """Roll back if a transaction is still active (the engine already rolls back
    a transaction whose statement failed, and then refuses ROLLBACK)."""
    try:
        conn.execute("ROLLBACK")
    except RuntimeError as exc:
        if "No active transaction" not in str(exc):
            raise translate(exc) from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_atomically(target: Path, text: str, mode: int) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", opener=files.private_opener(mode)) as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    files.fsync_dir(target.parent)


def _write_small_file(target: Path, text: str, mode: int) -> None:
    """:func:`_write_atomically`, with a full disk reported as :class:`StorageFull`
    (the old file stays: Python raises on a short write, before the rename)."""
    try:
        _write_atomically(target, text, mode)
    except OSError as exc:
        target.with_name(target.name + ".tmp").unlink(missing_ok=True)
        if space.full_disk(exc):
            raise space.storage_full(exc, str(target)) from None
        raise
