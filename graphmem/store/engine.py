"""Loading the graph engine and translating its errors.

``kuzu`` and ``ladybug`` (its maintained fork) expose the same Python API but
cannot both be loaded into one process (measured: ladybug's extension fails
with "type Database is already registered", then the process crashes). So the
engine module is imported lazily, only when a store asks for it, and asking
for the other one afterwards is an :class:`EngineConflict`, never a crash.
"""

from __future__ import annotations

import importlib
import os
import importlib.util  # noqa: F401  kuzu 0.11.3 uses importlib.util without importing it
import sys
import threading
from types import ModuleType

from ..errors import (
    CorruptStore,
    EngineConflict,
    GraphMemError,
    IncompatibleStore,
    InvalidInput,
    PermissionDenied,
    QueryError,
    ReadOnlyStore,
    StorageFull,
    StoreLocked,
)

__all__ = ["ENGINES", "LOOKS_UP_LIST_KEYS", "default_engine", "load_engine", "translate"]

ENGINES = ("kuzu", "ladybug")

LOOKS_UP_LIST_KEYS = frozenset({"ladybug"})
"""Engines whose planner finds the entities of a batch's keys (``UNWIND $keys AS k
MATCH (e:Entity {key: k})``, the same over ``LOAD FROM`` rows) by primary-key
lookups (PROFILE: LadybugDB 0.22 QUERY_PRIMARY_KEY_LOOKUP, 10 keys at 200k
entities in 1.5 ms). kuzu 0.11.3 plans a hash join over a scan of every entity
(17.1 ms there), so its batch statements pay only from enough keys on."""
_lock = threading.Lock()


def load_engine(name: str) -> ModuleType:
    """Import and return the engine module ``name`` (``"kuzu"`` or ``"ladybug"``)."""
    if name not in ENGINES:
        raise InvalidInput(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")
    with _lock:
        for other in ENGINES:
            if other != name and other in sys.modules:
                raise EngineConflict(
                    f"engine {name!r} was asked for, but {other!r} is already loaded in this process; "
                    "the two cannot share a process (use one engine per process, or export/import to move a store)"
                )
        return importlib.import_module(name)


def default_engine() -> str:
    """``GRAPHMEM_ENGINE`` if set, else ``"kuzu"``."""
    return os.environ.get("GRAPHMEM_ENGINE") or "kuzu"


# Substrings of engine messages, checked in order; the first match decides.
_LOCKED = ("Could not set lock on file",)
# Measured on kuzu 0.11.3 with truncated or bit-flipped graph.db / WAL files
# (tests/reliability/test_corruption.py): a valid store never says these.
_CORRUPT = (
    "not a valid", "Corrupted", "corrupted", "checksum", "Invalid database",
    "Reading past the end of the file", "Cannot read from file", "Cannot open file",
)  # fmt: skip
# Measured (kuzu 0.11.3, run as an unprivileged user): an unwritable graph.db or
# store folder fails with "IO exception: Cannot open file ...: Permission
# denied", which would otherwise read as damage ("Cannot open file").
_PERMISSION = ("Permission denied",)
_VERSION = ("database file with a different version",)
# After a kill during a checkpoint, kuzu must replay shadow pages and ladybug
# must finish "checkpoint recovery"; both refuse to in a read-only open.
_RECOVERY = ("replay shadow pages under read-only", "checkpoint recovery is pending")
# Measured on kuzu 0.11.3 with the default 512 MiB pool: batches of entities
# with ~2 KB of distinct text each are refused from ~68,000 entities on (the
# open node group's text is held in the pool); the transaction rolls back and
# the store stays usable. Not a Cypher error: the pool is too small.
_POOL_FULL = ("buffer pool is full",)
_READ_ONLY = ("read-only", "read only mode", "READ_ONLY")
# Measured on a full tmpfs (tests/reliability/test_enospc.py): kuzu 0.11.3 and
# ladybug 0.22 say "No space left on device", or, for a short write, "Cannot
# write to file ... numBytesWritten: 1966. Error: Success" (errno unset). A
# short write to the store's own files is a full disk or quota in practice.
_FULL = ("No space left on device", "Disk quota exceeded", "Cannot write to file")


def translate(exc: BaseException, *, path: object = None) -> GraphMemError:
    """Map an engine exception to graphmem's error tree (the one place that does).

    Examples
    --------
    >>> translate(RuntimeError("Parser exception: Invalid input <MATCH (e RETURN>"))
    QueryError('Parser exception: Invalid input <MATCH (e RETURN>')
    """
    if isinstance(exc, GraphMemError):
        return exc
    message = str(exc).strip()
    where = f" at {path}" if path is not None else ""
    if any(s in message for s in _LOCKED):
        return StoreLocked(
            f"another process has this store open{where} (the engine said: {message.splitlines()[0]}); "
            "close it there, or open this one read-only only when no writer holds it"
        )
    if any(s in message for s in _FULL):
        return StorageFull(
            f"the disk holding the store{where} is full (the engine said: {message.splitlines()[0]}); "
            "the write was not made durable. Free space; the store then opens without repair"
        )
    if any(s in message for s in _POOL_FULL):
        return GraphMemError(
            # Not "refused": at a COMMIT the write may have been applied (Store.transaction says so).
            f"the engine's buffer pool is full{where} (the engine said: {message.splitlines()[0]}). Open the "
            "store with a larger pool, e.g. graphmem.open(path, config=graphmem.StoreConfig(buffer_pool_size=2 << 30))"
        )
    if any(s in message for s in _RECOVERY):
        return ReadOnlyStore(
            f"the store{where} was left mid-checkpoint by a crash, and a read-only open cannot finish that "
            f"(the engine said: {message.splitlines()[0]}); open it once read-write, then read-only opens work again"
        )
    if any(s in message for s in _PERMISSION):
        return PermissionDenied(
            f"permission denied{where} (the engine said: {message.splitlines()[0]}); the store is not damaged: "
            "give this user write access to its folder and files, or open it with read_only=True"
        )
    if any(s in message for s in _VERSION):
        return IncompatibleStore(
            f"the store{where} was written by another version of the engine, or its file header is damaged "
            f"(the engine said: {message}); open it with the version that wrote it and export it, "
            "or restore it from a backup or an export"
        )
    if any(s in message for s in _CORRUPT):
        return CorruptStore(
            f"the store{where} is damaged or is not a graphmem store (the engine said: {message}); "
            "restore it from a backup or an export"
        )
    if any(s in message for s in _READ_ONLY):
        return ReadOnlyStore(f"this store{where} is open read-only: {message}")
    return QueryError(message)
