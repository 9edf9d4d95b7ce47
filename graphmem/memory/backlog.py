"""Embedding off the write path: entities committed without a vector, embedded after.

A memory opened with ``background_embedding=True`` writes entities whose
embedded text changed without a vector (:func:`graphmem.memory.writes.upsert_entities`
with ``defer_embedding``; a vector the old text had is cleared, it no longer
stands for the entity) and hands their keys to a :class:`Backlog`: one thread
that encodes them in batches and stores the vectors in transactions of their
own. A write then costs what it costs without a model, and a search finds the
entity once its vector is stored (:meth:`Memory.wait_embedded` waits for that).

"Missing" is a fact of the store, not of this process: a current entity whose
``embedding`` is NULL. So a crash loses no work that matters: the next open
with background embedding scans for such entities first
(``entity_missing_vectors``) and embeds them, and :meth:`Memory.embed_missing`
does the same on demand. That scan waits until the embedder may load its
model (:func:`graphmem.embed.when_loadable`): a server defers the model until
its client has listed the tools, and 100k entities without a vector are 100k rows
read into Python (~0.3 s of CPU holding the interpreter) that its start
would otherwise pay for nothing, since nothing can be embedded before the
model loads. A save meanwhile scans itself (:meth:`Backlog.floor`).

Storing a vector leaves ``updated_at`` as it is (it is the version's system
time, which ``known_at`` reads rely on), so the saved vector index's catch-up
("vectors written after ``store_seq``", :mod:`graphmem.index.vector_store`)
would not see a vector stored late. Two rules keep it exact:

* an index saved while keys are pending records a ``store_seq`` below the
  oldest pending write (:meth:`Backlog.floor`), so the next open re-reads
  those entities whatever happened to them since;
* a vector stored for an entity written at or before the saved ``store_seq``
  (one that came from user Cypher, or from an open without an embedder)
  first discards the saved index (it is rebuilt from the store at its next
  load), inside the transaction that stores the vector.

``GRAPHMEM_TEST_HOLD_EMBEDDING`` (tests only) names a FIFO the thread opens
for reading before each batch: it holds there until a writer opens the FIFO,
so a test can kill the process with writes committed and not yet embedded,
without racing a timer.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..embed import Embedder, entity_text
from ..errors import GraphMemError
from ..records import entity_from_db, entity_key, quantize
from ..validate import stored_vector

if TYPE_CHECKING:
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..records import EntityRow
    from ..store.store import Store

__all__ = ["Backlog", "embed_keys", "missing_keys", "HOLD_ENV"]

log = logging.getLogger(__name__)

HOLD_ENV = "GRAPHMEM_TEST_HOLD_EMBEDDING"
BATCH = 256
"""Entities per encode and per transaction: big enough that the model's batching
pays, small enough that a search waiting for the backlog sees progress."""

_VECTOR_ROWS = pa.schema([("key", pa.string()), ("embedding", pa.binary()), ("scale", pa.float32())])


class Stopped(Exception):
    """The backlog was stopped (the memory is closing): touch the store no more."""


def missing_keys(store: Store) -> dict[str, int]:
    """Every current entity without a vector: key -> ``updated_at`` (µs since the epoch)."""
    from ..index.vector_store import epoch_us

    return {key: epoch_us(updated) for key, updated in store.execute("entity_missing_vectors")}


def embed_keys(
    store: Store,
    cache: EntityCache,
    vectors: VectorStore,
    embedder: Embedder,
    keys: Sequence[str],
    *,
    vector_dim: int | None,
    on_dim: Callable[[int], None],
    guard: Callable[[], Any] | None = None,
) -> int:
    """Encode the entities ``keys`` that still have no vector and store their vectors; return how many.

    The texts are read and encoded outside the writer lock (the model takes
    milliseconds per text; writes go on meanwhile). The transaction that
    stores the vectors reads the rows again and keeps only those whose text
    is still the one encoded and which still have no vector: a write that
    landed in between wins, and its own embedding follows. ``guard`` (a
    context manager factory) is entered around the store work, so a closing
    memory can bar it (:class:`Stopped`).
    """
    from ..index.vector_store import epoch_us

    keys = list(dict.fromkeys(keys))
    if not keys:
        return 0
    with guard() if guard is not None else _nothing():
        rows = _unembedded_rows(store, keys)
    if not rows:
        return 0
    texts = [entity_text(row) for row in rows]
    encoded = np.asarray(embedder.encode(texts))
    quantized = {row.key: (text, quantize(stored_vector(vector, embedder.dim, "embedder output")))
                 for row, text, vector in zip(rows, texts, encoded)}  # fmt: skip
    with guard() if guard is not None else _nothing(), store.transaction() as tx:
        now = {row.key: row for row in _unembedded_rows(store, list(quantized))}
        done = [row for key, row in now.items() if entity_text(row) == quantized[key][0]]
        if not done:
            return 0
        for row in done:
            row.embedding, row.scale = quantized[row.key][1]
        saved = vectors.saved_seq()
        if saved is not None and min(epoch_us(row.updated_at) for row in done) <= saved:
            # The saved index's catch-up would never see these vectors (see the module docstring).
            vectors.forget()
        dim = embedder.dim
        if vector_dim is None:  # the store's first vectors fix its dimension
            store.execute("meta_set", {"key": "vector_dim", "value": str(dim)})
            tx.after_commit(lambda: on_dim(dim))
        table = pa.Table.from_arrays(
            [pa.array([r.key for r in done], pa.string()), pa.array([r.embedding for r in done], pa.binary()),
             pa.array([r.scale for r in done], pa.float32())],
            schema=_VECTOR_ROWS,
        )  # fmt: skip
        store.execute("entity_set_vectors", {"rows": table})

        def bookkeeping() -> None:
            cache.written(done)
            index = vectors.peek()
            if index is not None:
                index.upsert(
                    np.fromiter((r.id for r in done), np.int64, len(done)),
                    np.frombuffer(b"".join(r.embedding or b"" for r in done), np.int8).reshape(len(done), -1),
                    np.fromiter((r.scale or 0.0 for r in done), np.float32, len(done)),
                )

        tx.after_commit(bookkeeping)
    return len(done)


def _unembedded_rows(store: Store, keys: list[str]) -> list[EntityRow]:
    rows = [entity_from_db(entity_key(found[1], found[2]), found)
            for found in store.execute("entity_get_many", {"keys": keys})]  # fmt: skip
    return [row for row in rows if row.expired_at is None and row.embedding is None]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class Backlog:
    """The keys of entities committed without a vector, and the thread that embeds them.

    Parameters
    ----------
    embed
        Encodes and stores the vectors of the keys it is given (:func:`embed_keys`),
        entering ``guard`` around its store work; returns how many it stored.
    scan
        Every key the store holds without a vector, with its ``updated_at``
        (:func:`missing_keys`); run once, first, by the thread (or by
        :meth:`floor`, if it comes first).
    when_ready
        Called by :meth:`start` with a callback that lets the thread begin
        (its scan, then its batches); by default the thread begins at once.
        ``lambda go: graphmem.embed.when_loadable(embedder, go)`` begins once
        the embedder may load its model.
    """

    def __init__(self, embed: Callable[[list[str], Callable[[], Any]], int],
                 scan: Callable[[], dict[str, int]], *,
                 when_ready: Callable[[Callable[[], None]], None] | None = None) -> None:  # fmt: skip
        self._embed = embed
        self._scan = scan
        self._when_ready = when_ready
        self._ready = when_ready is None
        self._scan_lock = threading.Lock()  # one scan, by the thread or by floor()
        self._changed = threading.Condition()
        # key -> (oldest updated_at pending, generation): a key written again while
        # its batch is being embedded keeps its place (the batch skips its new text).
        self._pending: dict[str, tuple[int, int]] = {}
        # The keys written since the open, in write order (a subset of _pending):
        # embedded before those the open's scan found, so a search that waits for
        # this process's writes does not wait behind a store filled without the model.
        self._fresh: dict[str, None] = {}
        self._generation = 0
        self._in_flight = 0
        self._scanned = False
        self._stopping = False
        self._store_work = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="graphmem-embed", daemon=True)

    def start(self) -> None:
        _register_exit_hook()
        self._thread.start()
        _STARTED.add(self)
        if self._when_ready is not None:
            self._when_ready(self._let_begin)

    def _let_begin(self) -> None:
        with self._changed:
            self._ready = True
            self._changed.notify_all()

    def add(self, stamped: Iterable[tuple[str, int]]) -> None:
        """After a commit: these keys (with their ``updated_at`` in µs) have no vector."""
        with self._changed:
            self._generation += 1
            for key, us in stamped:
                before = self._pending.get(key)
                self._pending[key] = (us if before is None else min(before[0], us), self._generation)
                self._fresh[key] = None
            self._changed.notify_all()

    def floor(self) -> int | None:
        """The oldest ``updated_at`` (µs) of an entity waiting for its vector;
        ``None`` when none waits. Scans the store first (one read) unless the
        thread has, or waits for the thread's scan under way.

        A saved vector index records a ``store_seq`` below this, so the next
        open re-reads those entities. The caller holds the writer lock
        (:func:`graphmem.memory.saving.save_derived`), so no write lands
        between the scan and the save.
        """
        with self._changed:
            scanned = self._scanned or self._stopping
        if not scanned:
            # The thread has not begun (the model's load is deferred): scan here
            # rather than wait for it, which could be for ever.
            self._scan_once()
        with self._changed:
            return min((us for us, _ in self._pending.values()), default=None)

    def __len__(self) -> int:
        """The entities known to wait for their vector: until the first scan
        (deferred while the model may not load), only this process's writes."""
        with self._changed:
            return len(self._pending)

    def waiting(self) -> int:
        """The entities waiting for their vector, the store's own included:
        scans first if the thread has not (one read, as :meth:`floor`)."""
        self.floor()
        return len(self)

    def wait(self, timeout: float | None = None, *, include_earlier: bool = True) -> bool:
        """Wait until every entity written before the call has its vector (or
        failed to get one: see the log); ``False`` if ``timeout`` seconds passed first.

        ``include_earlier=False`` waits only for the writes made since the open,
        not for the entities the open found without a vector.
        """
        with self._changed:
            target = self._generation

            def done() -> bool:
                if self._stopping:
                    return True
                if not include_earlier:
                    return not any(self._pending[key][1] <= target for key in self._fresh)
                return self._scanned and not any(g <= target for _, g in self._pending.values())

            return self._changed.wait_for(done, timeout)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._store_work:
            if self._stopping:
                raise Stopped
            yield

    def stop(self) -> None:
        """Stop for good, without waiting for an encode under way: on return no
        store work of the thread is under way and none will start (what is
        left is found again by the next open's scan)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        with self._store_work:
            pass  # the thread's store work, if any, has ended; _guard refuses any more

    def _scan_once(self) -> None:
        """Add every key the store holds without a vector to the pending ones, once."""
        with self._scan_lock:
            if self._scanned:
                return
            found = self._scan()
            with self._changed:
                for key, us in found.items():
                    if key not in self._pending:
                        # Generation 0: older than any wait() (they predate the open).
                        self._pending[key] = (us, 0)
                self._scanned = True
                self._changed.notify_all()

    def _next_batch(self) -> dict[str, tuple[int, int]]:
        """Up to ``BATCH`` pending keys, this process's writes first (the caller holds ``_changed``)."""
        batch = {key: self._pending[key] for key in itertools.islice(self._fresh, BATCH)}
        for key, entry in self._pending.items():
            if len(batch) == BATCH:
                break
            batch.setdefault(key, entry)
        return batch

    def _run(self) -> None:
        try:
            with self._changed:
                self._changed.wait_for(lambda: self._ready or self._stopping)
            with self._guard():
                self._scan_once()
            while True:
                with self._changed:
                    self._changed.wait_for(lambda: self._stopping or bool(self._pending))
                    if self._stopping:
                        return
                    batch = self._next_batch()
                _hold()
                try:
                    self._embed(list(batch), self._guard)
                except Stopped:
                    return
                except GraphMemError as exc:
                    # The entities keep no vector; the next open's scan finds them again.
                    log.warning("graphmem: %d entities were not embedded: %s", len(batch), exc)
                with self._changed:
                    for key, (_, generation) in batch.items():
                        if self._pending.get(key, (0, -1))[1] == generation:
                            del self._pending[key]
                            self._fresh.pop(key, None)
                    self._changed.notify_all()
        except Stopped:
            return
        finally:
            # However the thread ends, nobody may wait for it any longer.
            with self._changed:
                self._scanned = True
                self._stopping = True
                self._changed.notify_all()


EXIT_WAIT = 60.0
"""Seconds the interpreter's exit waits for each backlog's thread to end (an encode under way)."""

_STARTED: weakref.WeakSet[Backlog] = weakref.WeakSet()
"""The backlogs whose thread was started (a running thread holds its backlog)."""


def _stop_at_exit() -> None:
    """At interpreter exit, stop every backlog and wait for its thread's encode under way.

    The thread is a daemon and :meth:`Backlog.stop` does not wait for an encode.
    A native embedder (torch) that returns from a call that released the GIL
    while the interpreter finalizes has its thread ended by Python inside a C++
    frame, which aborts the process (SIGABRT; the vector index's worker met it
    after a full disk: :func:`graphmem.index.vectors._stop_workers_at_exit`).
    Atexit handlers run before finalization; the wait is bounded by
    :data:`EXIT_WAIT` (a thread held by the test FIFO is not waited for ever).
    Nothing is lost by stopping: what is left is the next open's scan.
    """
    backlogs = list(_STARTED)
    for backlog in backlogs:
        backlog.stop()
    current = threading.current_thread()
    for backlog in backlogs:
        if backlog._thread is not current:
            backlog._thread.join(EXIT_WAIT)


@functools.cache
def _register_exit_hook() -> None:
    """Register :func:`_stop_at_exit` once, when the first thread starts (not at
    import; a racing second registration is harmless: stop and join are idempotent)."""
    atexit.register(_stop_at_exit)


def _hold() -> None:
    """The test hook: wait for a writer on the FIFO named by ``GRAPHMEM_TEST_HOLD_EMBEDDING``."""
    path = os.environ.get(HOLD_ENV)
    if path:
        with open(path, "rb") as fifo:
            fifo.read()
