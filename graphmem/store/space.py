"""Disk space: what a commit and a checkpoint need, and a ballast to release.

Measured on small tmpfs mounts (kuzu 0.11.3, ladybug 0.22; figures in
``benchmarks/RELIABILITY.md``, reproduced by ``tests/reliability/test_enospc.py``):

- Both engines write a transaction's write-ahead-log records only at COMMIT
  (the WAL does not grow while its statements run), about 1.0-1.7x the bytes
  of the parameters graphmem binds (plus ~0.5 KB per transaction; a Cypher
  statement can write far more than its parameters: 25 KB for a 30-byte ``SET``
  over 500 rows).
- A WAL append cut short by a full disk is torn: ladybug then reports the WAL
  corrupt on the next open ("Checksum verification failed") and aborts the
  process (SIGABRT) when the handle closes.
- A checkpoint needs far more than the WAL: kuzu grew ``graph.db`` by up to
  0.85x its previous size plus 3.6x the WAL (16 MB for a 30 KB WAL of
  scattered updates to a 27 MB file; 6.2 MB for a 2.5 MB WAL into an empty
  file); ladybug by up to 1.9x the WAL plus 50 KB. A checkpoint cut short by a full disk leaves the files recoverable,
  but kuzu then spins forever in ``rollbackCheckpoint`` when the database
  closes, and ladybug aborts at its next write.

- With ``auto_checkpoint`` off, both engines replay a WAL at open in memory
  and write nothing, so a store whose WAL cannot be folded yet still opens
  (the same with it on and a huge ``checkpoint_threshold``). But ladybug 0.22
  with it off lost every relation written by COPY when its WAL was replayed
  after a crash; with it on, a COPY writes nothing until COMMIT and COMMIT
  checkpoints (both engines), so graphmem keeps it on with a threshold the
  WAL never reaches and counts a checkpoint into a COPY's commit.

So graphmem checks free space before every COMMIT (nothing reaches the WAL
unless it fits with a margin), turns the engines' own size-triggered checkpoints
and the one at close off and runs them itself only when the space they may need is free, and keeps a small
ballast file it deletes if the engine meets a full disk anyway (another
process filled it between the check and the write), so the engine can finish
the write it has buffered instead of aborting.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import StorageFull

__all__ = [
    "NO_AUTO_CHECKPOINT",
    "BALLAST_FILE",
    "BALLAST_SIZE",
    "CHECKPOINT_WAL",
    "COMMIT_MARGIN",
    "CYPHER_WRITE_BYTES",
    "Ballast",
    "checkpoint_need",
    "commit_need",
    "free_bytes",
    "full_disk",
    "param_bytes",
]

MiB = 1 << 20

NO_AUTO_CHECKPOINT = 1 << 62
"""The engines' ``checkpoint_threshold``: never by size (graphmem decides), though a COPY still checkpoints at COMMIT."""

CHECKPOINT_WAL = 16 * MiB
"""WAL size from which graphmem checkpoints after a commit (the engines' own default threshold)."""

COMMIT_MARGIN = 1 * MiB
"""Free space kept beyond a commit's estimated WAL records (the manifest, the
lock file, the engine's small files, the estimate's error)."""

CYPHER_WRITE_BYTES = 4 * MiB
"""Assumed WAL bytes of a user Cypher write, whose size its parameters do not tell."""

BALLAST_FILE = "graphmem.ballast"
BALLAST_SIZE = 2 * MiB
"""Enough for the engine to finish the WAL page it had buffered (4 KB) and the
small writes of closing, many times over."""

_WAL_FACTOR = 2
"""Measured WAL bytes per parameter byte were at most ~1.7 (graphmem's own
statements, 7 for tiny ones that _TX_OVERHEAD covers); 2 leaves room for record overheads."""
_TX_OVERHEAD = 64 * 1024
_CHECKPOINT_MARGIN = 4 * MiB


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def param_bytes(value: Any) -> int:
    """About how many bytes ``value`` (a statement's parameters) occupies when written."""
    if value is None or isinstance(value, (bool, int, float, datetime, date, timedelta)):
        return 8
    if isinstance(value, str):
        return len(value) * 4 if len(value) > 4096 else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, pa.Table) and value.num_columns and value.column(0).num_chunks > 64:
        # Cut into many slices (records.relation_copy_rows): nbytes walks each one
        # (~100 ms for 50k rows in 64-row slices); the buffers they reference,
        # each counted once, are those of the table they were cut from.
        return int(value.get_total_buffer_size())
    if isinstance(value, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray)):
        return int(value.nbytes)
    if isinstance(value, Mapping):
        return _sum_bytes(value.keys()) + _sum_bytes(value.values()) + 8
    if isinstance(value, (list, tuple)):
        return _sum_bytes(value) + 8
    return 64


_EIGHT = frozenset({bool, int, float, datetime, date, timedelta, type(None)})


def _sum_bytes(values: Any) -> int:
    """``sum(map(param_bytes, values))`` with strings and 8-byte scalars counted
    inline: a small batch as a list of structs (``entity_create_rows``) is ~300
    values, and a call per value cost ~0.23 ms of a 10-row write (0.07 now)."""
    total = 0
    for v in values:
        kind = type(v)
        if kind is str:
            total += len(v) * 4 if len(v) > 4096 else len(v.encode("utf-8", "surrogatepass"))
        elif kind in _EIGHT:
            total += 8
        else:
            total += param_bytes(v)
    return total


def commit_need(tx_bytes: int) -> int:
    """Free bytes a COMMIT of a transaction that bound ``tx_bytes`` of parameters must find."""
    return _WAL_FACTOR * tx_bytes + _TX_OVERHEAD + COMMIT_MARGIN


def checkpoint_need(engine: str, db_size: int, wal_size: int) -> int:
    """Free bytes a checkpoint of a ``wal_size`` WAL into a ``db_size`` file may use (see the module notes)."""
    if engine == "kuzu":
        return db_size + 4 * wal_size + _CHECKPOINT_MARGIN
    return 3 * wal_size + _CHECKPOINT_MARGIN


def full_disk(exc: OSError) -> bool:
    """Whether an ``OSError`` says the disk or the quota is full."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def storage_full(exc: OSError, what: str) -> StorageFull:
    """The :class:`StorageFull` for an ``OSError`` that :func:`full_disk` accepts."""
    return StorageFull(f"the disk is full: {what} could not be written ({exc.strerror}); free space and retry")


class Ballast:
    """A preallocated file beside the store, deleted to give the engine room when it meets a full disk.

    Created at open when there is room for it (and for a commit after it);
    missing is fine: it only softens a race with other writers on the disk.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / BALLAST_FILE
        self.present = False  # known to be in place (only graphmem deletes it): no stat per commit

    def ensure(self, mode: int = 0o600) -> bool:
        """Create the ballast (with exactly ``mode``, like every file of the store) if it
        is missing and the disk has room; returns whether it exists."""
        if self.present:
            return True
        try:
            if self.path.stat().st_size >= BALLAST_SIZE:
                self.present = True
                return True
        except FileNotFoundError:
            pass
        try:
            if free_bytes(self.path.parent) < BALLAST_SIZE + commit_need(0):
                return False
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, mode)
        except OSError:
            return False
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it
            # posix_fallocate reserves real blocks (a sparse file would reserve nothing).
            os.posix_fallocate(fd, 0, BALLAST_SIZE)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            return False
        os.close(fd)
        self.present = True
        return True

    def release(self) -> bool:
        """Delete the ballast; returns whether there was one to free."""
        self.present = False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
