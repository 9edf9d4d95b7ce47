"""The exception tree of graphmem (DESIGN.md, "Errors").

Every error graphmem raises is a :class:`GraphMemError`. Two of them also
subclass a builtin so callers that already catch ``ValueError`` or ``KeyError``
keep working. Engine ``RuntimeError``s are translated into this tree in one
place, :func:`graphmem.store.engine.translate`.
"""

from __future__ import annotations

import errno

__all__ = [
    "GraphMemError",
    "InvalidInput",
    "UnsafePath",
    "LimitExceeded",
    "NotFound",
    "StoreLocked",
    "StoreDetached",
    "ReadOnlyStore",
    "CorruptStore",
    "PermissionDenied",
    "IncompatibleStore",
    "QueryError",
    "FileAccessRefused",
    "EngineConflict",
    "StorageFull",
    "GraphMemWarning",
    "CheckpointWarning",
]


class GraphMemError(Exception):
    """Base class of every graphmem error."""


class InvalidInput(GraphMemError, ValueError):
    """An argument was rejected before anything was written."""


class UnsafePath(InvalidInput):
    """A file path was refused before anything was read or written: it leads
    into a graphmem store's own files, or names a file that exists and would
    be overwritten without ``force``."""


class NotFound(GraphMemError, KeyError):
    """A named entity (or relation) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class LimitExceeded(InvalidInput):
    """A read asked for more than a bound allows (the viewer's expand size,
    search ``k``, path count): refused before anything was read, so no request
    can make a server walk the whole graph."""


class StoreLocked(GraphMemError):
    """Another process (or another handle in this process) holds the store."""


class StoreDetached(GraphMemError):
    """A detached memory (:meth:`graphmem.Memory.detached`) was asked something it had not
    loaded: it answers from memory only; open the store for that read."""


class ReadOnlyStore(GraphMemError):
    """A write was attempted on a store opened with ``read_only=True``."""


class CorruptStore(GraphMemError):
    """The store's files are damaged or are not a graphmem store."""


class PermissionDenied(GraphMemError, PermissionError):
    """The process may not read or write a file or folder of the store.

    The message names the path; the store is not damaged: fix the ownership
    or mode, or open it ``read_only=True`` if it is meant to be read only.
    Also a :class:`PermissionError`, so code that catches that keeps working.
    """


class IncompatibleStore(GraphMemError):
    """The store was written by another engine or a newer graphmem."""


class QueryError(GraphMemError):
    """The engine rejected a Cypher statement; the message is the engine's."""


class FileAccessRefused(QueryError):
    """User Cypher would read or write files, reach the network, load an
    extension or redirect the engine's file access; refused before it ran.

    ``clause`` names the clause (``"COPY ... TO"``, ``"LOAD FROM 'x.csv'"``).
    Read-write callers may opt in with ``allow_file_access=True``.
    """

    def __init__(self, message: str, *, clause: str = "") -> None:
        super().__init__(message)
        self.clause = clause


class EngineConflict(GraphMemError):
    """The other graph engine is already loaded in this process."""


class StorageFull(GraphMemError, OSError):
    """A write could not be made durable: the disk (or the quota) holding the store is full.

    Nothing that raised this was acknowledged, and nothing acknowledged before
    it is lost. It is an ``OSError`` with ``errno`` ``ENOSPC``, so code that
    already handles a full disk keeps working. Free space, then write again
    (a handle whose engine itself hit the full disk refuses writes until it is
    reopened; reopening needs no repair).
    """

    def __init__(self, message: str) -> None:
        OSError.__init__(self, errno.ENOSPC, message)

    def __str__(self) -> str:  # OSError prefixes "[Errno 28]"; the message already says it
        return str(self.strerror)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # OSError pickles (errno, message)
        return (type(self), (str(self.strerror),))


class GraphMemWarning(UserWarning):
    """Base class of every warning graphmem issues."""


class CheckpointWarning(GraphMemWarning):
    """A write committed and is durable, but the engine's checkpoint after it failed.

    The engine keeps the write in its write-ahead log and replays it on the
    next open; the log grows until a checkpoint succeeds (usually: reopen the
    store with a larger buffer pool).
    """
