"""What an open memory holds beside its store, and the state its namespace views share.

:func:`open_parts` builds them when :class:`graphmem.Memory` is made over a
store (:func:`graphmem.open`): the derived graph state, the entity cache, the
vector store and :class:`Shared`, the state every namespace view of one open
store shares (its write clock, time views, access log, capacity and
duplicate rules, embedding backlog, vector dimension).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from ..index.derived import Derived
from ..index.entity_cache import EntityCache
from ..index.vector_store import VectorStore, from_epoch_us
from ..lifecycle import AccessLog
from ..metrics import Latencies
from ..temporal import TimeViews

if TYPE_CHECKING:
    from ..embed import Embedder
    from ..store.store import Store
    from .backlog import Backlog

__all__ = ["Shared", "open_parts", "stored_vector_dim"]

_TICK = timedelta(microseconds=1)


class Shared:
    """What every namespace view of one open store shares.

    ``clock`` is graphmem's system clock (the wall clock as a timezone-aware
    UTC datetime); :meth:`now` makes it strictly increasing per store.
    """

    def __init__(self, vector_dim: int | None, clock: Callable[[], datetime]) -> None:
        self.vector_dim = vector_dim
        self.wall = clock
        self.views = TimeViews()
        self.clock = threading.Lock()
        self.last_write: datetime | None = None
        self.access = AccessLog()
        self.latencies = Latencies()
        self.capacity: int | None = None
        self.capacity_policy = "lru"
        self.duplicates = "allow"
        self.backlog: Backlog | None = None
        """With background embedding: the entities committed without their vector yet."""
        self.recorded = 0  # request ids apply_once recorded (pruned every 256)

    def now(self) -> datetime:
        """The system time of a write: strictly increasing per store, so every
        version has its own ``recorded_at`` and ``known_at`` reads are exact."""
        with self.clock:
            now = self.wall()
            if self.last_write is not None and now <= self.last_write:
                now = self.last_write + _TICK
            self.last_write = now
            return now

    def start_after(self, seq_us: int) -> None:
        """Make every later write time exceed ``seq_us`` (µs since the epoch):
        the saved vector index's ``store_seq``, so that the writes it lacks
        are exactly those stamped after it, however the wall clock moves."""
        floor = from_epoch_us(seq_us)
        with self.clock:
            if floor is not None and (self.last_write is None or floor > self.last_write):
                self.last_write = floor


def stored_vector_dim(store: Store) -> int | None:
    """The store's vector dimension as its metadata records it (``None`` while it has no vector)."""
    meta = dict(store.execute("meta_all"))
    return int(meta["vector_dim"]) if "vector_dim" in meta else None


def open_parts(store: Store, embedder: Embedder | None, on_failed_commit: Callable[[], None],
               clock: Callable[[], datetime]) -> tuple[Derived, EntityCache, VectorStore, Shared]:  # fmt: skip
    """The derived state, entity cache, vector store and shared state (on ``clock``)
    of a memory over ``store``.

    ``on_failed_commit`` runs when a COMMIT raises (it may still have
    applied, so the memory drops what it derived). An ``embedder`` whose
    dimension is not the store's closes the store and raises
    :class:`InvalidInput`.
    """
    derived = Derived(store)
    cache = EntityCache(store.config.entity_cache_size)
    vectors = VectorStore(store)
    store.commit_failed_hooks.append(on_failed_commit)
    shared = Shared(stored_vector_dim(store), clock)
    # Writes are stamped after both saves, so each catch-up finds exactly
    # the writes stamped after its own save.
    for saved in (vectors.saved_seq(), derived.saved.saved_seq()):
        if saved is not None:
            shared.start_after(saved)
    if embedder is not None and shared.vector_dim is not None and embedder.dim != shared.vector_dim:
        store.close()
        raise InvalidInput(f"the embedder makes {embedder.dim}-d vectors but this store holds "
                           f"{shared.vector_dim}-d ones")  # fmt: skip
    return derived, cache, vectors, shared
