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
    "NotFound",
    "StoreLocked",
    "ReadOnlyStore",
    "CorruptStore",
    "IncompatibleStore",
    "QueryError",
    "EngineConflict",
    "StorageFull",
    "GraphMemWarning",
    "CheckpointWarning",
]


class GraphMemError(Exception):
    """Base class of every graphmem error."""


class InvalidInput(GraphMemError, ValueError):
    """An argument was rejected before anything was written."""


class NotFound(GraphMemError, KeyError):
    """A named entity (or relation) does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class StoreLocked(GraphMemError):
    """Another process (or another handle in this process) holds the store."""


class ReadOnlyStore(GraphMemError):
    """A write was attempted on a store opened with ``read_only=True``."""


class CorruptStore(GraphMemError):
    """The store's files are damaged or are not a graphmem store."""


class IncompatibleStore(GraphMemError):
    """The store was written by another engine or a newer graphmem."""


class QueryError(GraphMemError):
    """The engine rejected a Cypher statement; the message is the engine's."""


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
