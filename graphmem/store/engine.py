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
    InvalidInput,
    QueryError,
    ReadOnlyStore,
    StoreLocked,
)

__all__ = ["ENGINES", "default_engine", "load_engine", "translate"]

ENGINES = ("kuzu", "ladybug")
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
_CORRUPT = ("not a valid", "Corrupted", "corrupted", "checksum", "Invalid database")
_READ_ONLY = ("read-only", "read only mode", "READ_ONLY")


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
    if any(s in message for s in _CORRUPT):
        return CorruptStore(
            f"the store{where} is damaged or is not a graphmem store (the engine said: {message}); "
            "restore it from a backup or an export"
        )
    if any(s in message for s in _READ_ONLY):
        return ReadOnlyStore(f"this store{where} is open read-only: {message}")
    return QueryError(message)
