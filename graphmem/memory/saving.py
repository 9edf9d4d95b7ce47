"""Saving the derived data beside the store (:meth:`graphmem.Memory.flush` and ``close``):
the vector index and the graph state, which the next open maps instead of
rebuilding, and which a crash only makes it catch up from the store."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import PermissionDenied
from ..records import micros

if TYPE_CHECKING:
    from ..index.derived import Derived
    from ..index.vector_store import VectorStore
    from ..store.store import Store
    from .backlog import Backlog

__all__ = ["close", "save_derived"]


def save_derived(store: Store, vectors: VectorStore, derived: Derived, backlog: Backlog | None,
                 tick: Callable[[], datetime]) -> None:  # fmt: skip
    """Save the vector index and the graph state, with no write committing meanwhile.

    ``tick`` is the store's write clock (a fresh tick is later than every write
    so far and earlier than any to come). A save refused for want of
    permission raises :class:`PermissionDenied`, which says the store itself
    is not damaged.
    """
    with store.exclusive():  # no write commits (and none is added to the backlog) meanwhile
        floor = None if backlog is None else backlog.floor()
        try:
            # Below the oldest entity still waiting for its vector: the next
            # open's catch-up reads it again, vector or not (graphmem/backlog.py).
            vectors.save(seq_below=floor)
            # The graph state reflects every write so far (the lock is
            # held); a fresh clock tick is later than all of them and
            # earlier than any write to come.
            derived.save(micros(tick()))
        except OSError as exc:
            folder = vectors.folder
            # hnswlib writes nothing, silently, where it may not: the save
            # then fails on the missing file, not on the permission.
            if isinstance(exc, PermissionError) or (
                    folder is not None and folder.exists()
                    and not os.access(folder, os.W_OK | os.X_OK, effective_ids=True)):
                raise PermissionDenied(
                    f"permission denied: cannot save the vector index or graph state in {folder} ({exc}); the store is "
                    "not damaged (the index is rebuilt from it when needed): give this user write access"
                ) from None
            raise


def close(store: Store, vectors: VectorStore, backlog: Backlog | None, flush: Callable[[], None]) -> None:
    """Close an open memory's parts: stop the embedding ``backlog`` (what it has not
    embedded, the next open finds again), ``flush`` (unless the engine met a full
    disk: then nothing is safe to save), stop the vector index's background
    worker and release the store, each even if the one before raised."""
    if backlog is not None:
        backlog.stop()
    try:
        if store.unusable is None:
            flush()
    finally:
        try:
            vectors.close()
        finally:
            store.close()
