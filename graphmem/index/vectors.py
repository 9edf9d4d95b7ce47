"""The side vector index: hnswlib HNSW over dequantized vectors, plus the int8 rows.

The store is the source of truth for every embedding (int8 + scale). This
index is derived data and holds two views of it, both addressed by entity id:

- an HNSW graph (hnswlib, cosine space, float32: its Python bindings take no
  int8) for approximate search over large candidate sets;
- the int8 rows themselves with their inverse norms, scored exactly by
  :func:`graphmem.algorithms.scoring.exact_top_k` when the candidate set is
  small (a type filter, a neighbourhood) or the store is.

Writes never wait for the HNSW graph (issue 18). A write updates the int8 rows
(microseconds) and queues the labels it touched; a background worker applies
the queue to hnswlib in batches. Until it has, those labels are *stale*: a
search takes HNSW's answer over the labels that are not stale and merges it
with an exact scan of the stale ones, so every committed vector is found and
none is found with an old vector. Removals are queued the same way (the rows
forget the label at once; HNSW results are filtered until the worker marks
it deleted), so expiries, deletes and revivals stay exact whatever the queue
holds. :meth:`VectorIndex.drain` applies the queue in the calling thread;
:meth:`VectorIndex.paused` holds the worker (tests use it to search with a
full queue).

Two readers-writer locks, always taken in this order when both are held:
``_hnsw_lock`` (hnswlib is not thread-safe between ``add_items`` /
``resize_index`` / ``mark_deleted`` and ``knn_query``) and ``_lock`` (rows,
labels and the queue). Writers take ``_lock`` alone, so a batch the worker is
adding to hnswlib (which holds ``_hnsw_lock`` only) never delays a commit.

Deleted slots are reused for new labels (``allow_replace_deleted``), so churn
does not grow the index without bound while entity ids stay never-reused.

A label hnswlib still holds must never be added with ``replace_deleted=True``
(measured, hnswlib 0.8.0): the vector goes to an arbitrary vacant slot while
the label's own slot keeps the label, so a live label's old vector stays
searchable, and a revived (expired, then written again) label's slot is later
handed to another label, which erases the revived one from hnswlib's label map
(the next ``mark_deleted`` raised "Label not found" after the store had
committed). So a label hnswlib holds is updated in place (``unmark_deleted``
first if it is marked deleted) and only labels it does not hold take a vacant
slot.

The module is over 500 lines because the two views, their queue and its
worker share one set of invariants (what "stale" means) and are clearer read
together.

Over 500 lines: :class:`VectorIndex` owns the HNSW graph, the int8 rows, the
queue of vectors not yet in the graph with its worker, and the saved file; one
lock keeps them consistent, so they stay in one class.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import hnswlib
import numpy as np
from pyroaring import BitMap

from ..algorithms.scoring import cosine_rows, exact_top_k
from ..errors import InvalidInput

__all__ = ["RWLock", "HnswParams", "VectorIndex"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_EXACT_BLOCK_CELLS = 1 << 21
"""Scores per block of :meth:`VectorIndex.neighbours_of`'s exact path (8 MB of float32)."""

_SCAN_BLOCK = 2048
"""Queries per block of :meth:`VectorIndex.screen`, which holds the HNSW graph exclusively: ~0.1 s of a screen at 100k
384-d vectors on two threads, so a search waits about that long at most."""

_GROW_STEP = (1024, 1 << 16)
"""Bounds of one capacity step of the HNSW graph (an eighth of its size in
between): it used to double, and the doubled capacity was saved and reloaded."""

_BATCH_SECONDS = 0.2
"""The worker sizes its batches to take about this long: searches wait for a
batch (hnswlib cannot search while it adds), and each ``add_items`` call is
a barrier for its two threads, so neither tiny nor huge batches."""

_BATCH_BOUNDS = (64, 16_384)

_BULK = 2048
"""Labels in a batch plus those queued behind it from which the worker adds
on two threads instead of one."""

_WORKER_NICE = 10
"""How many steps below the thread that starts it the worker thread runs
(Linux: niceness is per thread; capped at 19). Ten steps below the caller
gives it ~10% of a busy core: writes and searches come first, and the exact
scan of the queue keeps answers complete while it waits."""


def _top_k_rows(scores: np.ndarray, every: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``scores`` (queries ``ids`` against ``every``), the ``k`` best
    others, best first, ties to the smaller id."""
    scores[every[None, :] == ids[:, None]] = -np.inf  # a vector is not its own neighbour
    # argpartition then a sort of the k kept per row: O(n) per row, not O(n log n).
    if k < len(every):
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.tile(np.arange(len(every)), (len(ids), 1))
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((every[top], -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    return every[top], np.take_along_axis(scores, top, axis=1).astype(np.float32)


class RWLock:
    """Many readers or one writer; a waiting writer blocks new readers (no starvation).

    A reader that finds no writer active or waiting takes and releases the
    bare mutex only: entering and leaving the ``Condition`` (Python-level
    ``__enter__`` / ``__exit__`` around the same mutex), once to acquire and
    once to release, measured 0.87 us a search, the bare mutex 0.43 (min of
    40 rounds, both in one process). The state is the same and
    only ever read or changed with the mutex held, so the fast path keeps
    every guarantee of the slow one; it waits on the condition only when a
    writer is active or waiting, and wakes waiters only when one may be
    waiting for it (a writer waits for the last reader; readers wait only
    while a writer is active or waiting, and the writer's release wakes them).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    def acquire_read(self) -> None:
        """:meth:`read` without the context manager (pair it with
        :meth:`release_read` in ``try``/``finally``): the generator behind
        ``read`` cost ~3 us a call, a tenth of a near search."""
        with self._mutex:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting_writers:
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class HnswParams:
    """HNSW settings. ``ef_search`` is not saved by hnswlib and is set again after every load."""

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 96
    """Measured at 1M clustered 384-d vectors (benchmarks/RESULTS.md): ef 64 gives
    recall@10 0.94, ef 128 gives 0.99 at ~0.5 ms; 96 sits between."""
    exact_limit: int = 16_384
    """Candidate sets up to this size are scored exactly instead of through HNSW."""


class _Queue:
    """What the worker thread shares with its index: a condition to sleep on
    and flags. The thread holds the index only weakly, so an index nobody
    closed is still collected, and its finalizer stops the thread."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.paused = 0
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.batch = _BATCH_BOUNDS[0]
        self.failure: BaseException | None = None


def _stop(queue: _Queue) -> None:
    with queue.cond:
        queue.stopping = True
        queue.cond.notify_all()


_RUNNING: weakref.WeakSet[_Queue] = weakref.WeakSet()
"""The queues whose worker was started. A running worker holds its queue
(its thread's arguments), so every worker still running is here."""


def _stop_workers_at_exit() -> None:
    """At interpreter exit, stop every worker and wait for the batch it is applying.

    A worker is a daemon thread and :meth:`VectorIndex.close` (``wait=False``,
    as after a full disk, or ``close(save_index=False)``) does not wait for it.
    Left running, a worker whose ``add_items`` returns while the interpreter
    finalizes is ended by Python as it takes the GIL back, inside pybind11's
    ``gil_scoped_release`` destructor (noexcept): C++ calls ``std::terminate``
    and the process dies by SIGABRT ("terminate called without an active
    exception"; met by the full-disk race trial with vectors, whose close after
    the engine's ENOSPC skips the drain; benchmarks/RELIABILITY.md, section 9).
    Atexit handlers run before finalization, so waiting here costs at most the
    batch under way (sized to take ~_BATCH_SECONDS).
    """
    queues = list(_RUNNING)
    for queue in queues:
        _stop(queue)
    current = threading.current_thread()
    for queue in queues:
        thread = queue.thread
        if thread is not None and thread is not current:
            thread.join()


@functools.cache
def _register_exit_hook() -> None:
    """Register :func:`_stop_workers_at_exit` once, when the first worker starts
    (not at import: importing graphmem changes nothing in the process). Two
    threads racing here may register it twice, which is harmless: a second
    pass finds the workers stopped."""
    atexit.register(_stop_workers_at_exit)


def _lower_priority() -> None:
    """Make the calling thread (and the threads hnswlib starts from it, which
    inherit it on Linux) yield the CPU to the caller's writes and searches:
    on a 2-core machine a worker at the same priority doubled their latency.

    The step is relative: the thread starts with its creator's niceness, and
    a fixed value (10) left the worker of a process run under ``nice -n 5``
    (as every benchmark here is) only five steps below the writer."""
    if not hasattr(os, "setpriority"):
        return
    me = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, me, min(os.getpriority(os.PRIO_PROCESS, me) + _WORKER_NICE, 19))
    except OSError as exc:  # a sandbox may refuse: the worker still runs, at normal priority
        log.debug("graphmem: could not lower the vector index worker's priority: %s", exc)


def _work(ref: weakref.ReferenceType[VectorIndex], queue: _Queue) -> None:
    """The worker: sleep until labels are queued, apply them in batches."""
    _lower_priority()
    while True:
        with queue.cond:
            while True:
                if queue.stopping:
                    return
                index = ref()
                if index is None:
                    return
                if not queue.paused and index._pending:
                    break
                del index  # sleeping must not keep the index alive
                queue.cond.wait()
        try:
            start = time.perf_counter()
            done = index._apply_batch(queue.batch, worker=True)
            if done >= queue.batch:  # a full batch: size the next to take about _BATCH_SECONDS
                rate = done / max(time.perf_counter() - start, 1e-6)
                queue.batch = int(min(max(rate * _BATCH_SECONDS, _BATCH_BOUNDS[0]), _BATCH_BOUNDS[1]))
        except BaseException as exc:  # noqa: BLE001 - kept and re-raised by drain(); searches stay exact
            log.error("graphmem: the vector index worker stopped (%s); searches scan the queued vectors exactly",
                      exc)
            queue.failure = exc
            return
        finally:
            del index


class VectorIndex:
    """Vectors by entity id: an HNSW graph and the int8 rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q8 = rng.integers(-127, 128, size=(50, 8)).astype(np.int8)
    >>> index = VectorIndex(dim=8)
    >>> index.upsert(np.arange(50), q8, np.full(50, 0.01, np.float32))
    >>> query = q8[7].astype(np.float32) / np.linalg.norm(q8[7].astype(np.float32))
    >>> ids, scores = index.search(query, 3)
    >>> int(ids[0]), round(float(scores[0]), 4)
    (7, 1.0)
    >>> index.remove(np.array([7])); int(index.search(query, 1)[0][0]) != 7
    True
    >>> index.drain(); len(index.stale)
    0
    >>> index.close()
    """

    background: bool = True
    """Whether a worker thread applies the queue (else only :meth:`drain` does);
    a class default, so a test can hold the worker of an index not created yet."""

    def __init__(self, dim: int, params: HnswParams | None = None, *, hnsw: hnswlib.Index | None = None) -> None:
        if dim < 1:
            raise InvalidInput(f"dim must be >= 1, not {dim}")
        self.dim = dim
        self.params = params or HnswParams()
        self._lock = RWLock()  # rows, labels, queue
        self._hnsw_lock = RWLock()  # the hnswlib graph and its label sets
        self._apply_lock = threading.Lock()  # one applier at a time (worker or drain), in queue order
        if hnsw is None:
            hnsw = hnswlib.Index(space="cosine", dim=dim)
            hnsw.init_index(max_elements=1024, M=self.params.M, ef_construction=self.params.ef_construction,
                            allow_replace_deleted=True)  # fmt: skip
        hnsw.set_ef(self.params.ef_search)
        hnsw.set_num_threads(2)
        self._hnsw = hnsw
        self._rows = np.zeros((0, dim), np.int8)
        self._inv_norms = np.zeros(0, np.float32)
        self._scales = np.zeros(0, np.float32)
        self._labels = BitMap()  # ids with a live vector in the rows
        # The labels again, as a uint8 flag per row: what a compiled search
        # tests membership in (a bitmap cannot cross into numba).
        self._live = np.zeros(0, np.uint8)
        # Labels whose HNSW entry may differ from their row (queued, and the
        # batch being applied): searched exactly, filtered out of HNSW answers.
        self._pending = BitMap()
        self._inflight = BitMap()
        # Labels with a live vector in the HNSW graph. A loaded graph lists its
        # deleted labels in get_ids_list() too: queue_reconcile sorts them out.
        self._hnsw_labels = BitMap(hnsw.get_ids_list()) if hnsw.element_count else BitMap()
        # Labels marked deleted that may still hold a slot: a superset, since
        # hnswlib hands their slots to new labels without saying which.
        self._hnsw_dead = BitMap()
        self._queue = _Queue()
        self._finalizer = weakref.finalize(self, _stop, self._queue)
        self.seq = 0
        """The highest store ``updated_at`` (µs) whose vector the rows reflect."""
        self.dirty = False

    # -- reading -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def labels(self) -> BitMap:
        with self._lock.read():
            return BitMap(self._labels)

    @property
    def stale(self) -> BitMap:
        """Labels whose change has not reached the HNSW graph yet (queued or being applied)."""
        with self._lock.read():
            return self._pending | self._inflight

    def search(self, query: np.ndarray, k: int, allowed: BitMap | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ids by cosine similarity among ``allowed`` (all if ``None``).

        The plan follows selectivity: a candidate set of at most
        ``exact_limit`` ids (or a store that small) is scored exactly from the
        int8 rows; a larger one goes through HNSW, over-fetching by the inverse
        of the allowed fraction and filtering, doubling until ``k`` survive.
        Stale labels (:attr:`stale`) are scored exactly and merged in.
        """
        # The plan needs only how many candidates there are: a large allowed set
        # (a time view's every visible id) is not intersected with the labels
        # unless a plan reads the candidates (at 1M ids, each intersection cost
        # ~13 us and 128 KiB of a ~300 us search).
        with self._lock.read():
            # An exact plan needs no HNSW lock: it does not wait for a batch the worker is adding.
            n = len(self._labels) if allowed is None else allowed.intersection_cardinality(self._labels)
            if self._exact_plan(n, allowed):
                if not n:
                    return np.empty(0, np.int64), np.empty(0, np.float32)
                candidates = self._labels if allowed is None else (allowed & self._labels)
                ids = np.asarray(candidates.to_array(), dtype=np.int64)
                return exact_top_k(self._rows, self._inv_norms, ids, query, k)
        with self._hnsw_lock.read(), self._lock.read():  # this order (module docstring)
            n = len(self._labels) if allowed is None else allowed.intersection_cardinality(self._labels)
            if n == 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            stale_all = self._pending | self._inflight
            if not stale_all and not self._exact_plan(n, allowed):
                # HNSW answers alone; its answers are filtered by `allowed` and the labels (the candidates).
                return self._search_hnsw(query, min(k, n), allowed, self._labels if allowed is not None else None)
            candidates = self._labels if allowed is None else (allowed & self._labels)
            # Removed labels are stale too (HNSW may still return them): they
            # are not candidates, so filtering HNSW by `indexed` drops them.
            stale = stale_all & candidates
            # Mostly stale (a bulk load the worker has not reached): HNSW has little to add.
            if self._exact_plan(n, allowed) or 2 * len(stale) >= n:
                ids = np.asarray(candidates.to_array(), dtype=np.int64)
                return exact_top_k(self._rows, self._inv_norms, ids, query, k)
            if not stale_all:
                return self._search_hnsw(query, min(k, n), candidates if allowed is not None else None)
            indexed = candidates - stale
            ids, scores = self._search_hnsw(query, min(k, len(indexed)), indexed)
            tail_ids, tail_scores = exact_top_k(
                self._rows, self._inv_norms, np.asarray(stale.to_array(), np.int64), query, k)
        ids, scores = np.concatenate([ids, tail_ids]), np.concatenate([scores, tail_scores])
        order = np.lexsort((ids, -scores))[:k]
        return ids[order], scores[order]

    def with_rows(self, read: Callable[[np.ndarray, np.ndarray, np.ndarray, int], T]) -> T:
        """``read(rows, inv_norms, live, exact_limit)`` with the rows read-locked.

        For a compiled search that scores some candidates itself: ``rows`` and
        ``inv_norms`` as :func:`~graphmem.algorithms.scoring.exact_top_k` takes
        them, ``live`` a uint8 flag per row (1: the id holds a vector, as
        :attr:`labels`), ``exact_limit`` the most candidates :meth:`search`
        scores exactly (a larger set it answers through HNSW). ``read`` must
        not keep the arrays: a write may replace them once the lock is gone.
        """
        lock = self._lock
        lock.acquire_read()
        try:
            return read(self._rows, self._inv_norms, self._live, self.params.exact_limit)
        finally:
            lock.release_read()

    def scores(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosine similarity of ``query`` with each of ``ids`` (0 where an id has no vector)."""
        ids = np.asarray(ids, np.int64)
        out = np.zeros(len(ids), np.float32)
        with self._lock.read():
            inside = ids < len(self._rows)
            if inside.any():
                out[inside] = cosine_rows(self._rows, self._inv_norms, ids[inside], query)
        return out

    def neighbours_of(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other vectors of each of ``ids`` (all with a vector), by
        cosine, as (ids, scores) matrices padded with -1 / -inf: one batched HNSW
        query (both threads), or exact scores when the index is small.

        A maintenance scan (duplicates): it first applies the queue
        (:meth:`drain`), so the HNSW graph answers for every label.
        """
        ids = np.asarray(ids, np.int64)
        self.drain()
        found, scores, _ = self._neighbours_of(ids, k, None)
        return found, scores

    def screen(self, ids: np.ndarray, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``ids`` (all with a vector): the score of the nearest other
        vector HNSW finds at search breadth ``ef`` (a cheap, lower-recall pass;
        -inf if none), and whether that search found the id's own vector.

        A search that missed its own vector lost its way in the graph and its
        score says nothing: at 100k 384-d vectors and ef 16 (hnswlib 0.8.0),
        0.8% of the searches, and every entity whose true nearest neighbour
        the screen under-scored was one of them. A small index is scored exactly
        (``ef`` unused). hnswlib has one ``ef`` per graph, so the scan holds
        the graph exclusively, in blocks of ``_SCAN_BLOCK`` queries: a search
        waits for one block at most. It first applies the queue, as
        :meth:`neighbours_of`.
        """
        ids = np.asarray(ids, np.int64)
        self.drain()
        scores, sure = [], []
        for start in range(0, len(ids), _SCAN_BLOCK):
            _, best, found_self = self._neighbours_of(ids[start:start + _SCAN_BLOCK], 1, ef)
            scores.append(best[:, 0] if best.shape[1] else np.full(len(best), -np.inf, np.float32))
            sure.append(found_self)
        if not scores:
            return np.empty(0, np.float32), np.empty(0, bool)
        return np.concatenate(scores), np.concatenate(sure)

    def _neighbours_of(self, ids: np.ndarray, k: int,
                       ef: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """:meth:`neighbours_of` after the drain, and per id whether the search
        found the id itself (always, exactly); with ``ef``, the graph held exclusively."""
        with (self._hnsw_lock.write() if ef is not None else self._hnsw_lock.read()), self._lock.read():
            live = len(self._labels)
            k = max(0, min(k, live - 1))
            out_ids = np.full((len(ids), k), -1, np.int64)
            out_scores = np.full((len(ids), k), -np.inf, np.float32)
            if not len(ids) or k == 0:
                return out_ids, out_scores, np.ones(len(ids), bool)
            queries = self._rows[ids].astype(np.float32) * self._inv_norms[ids, None]
            if live <= self.params.exact_limit:
                every = np.asarray(self._labels.to_array(), dtype=np.int64)
                matrix = self._rows[every].astype(np.float32) * self._inv_norms[every, None]
                # Blocks of query rows: the full score matrix of a 16k-vector
                # store would be 1 GB; a block is a few MB and stays in cache.
                block = max(1, _EXACT_BLOCK_CELLS // max(1, len(every)))
                for start in range(0, len(ids), block):
                    stop = min(start + block, len(ids))
                    out_ids[start:stop], out_scores[start:stop] = _top_k_rows(
                        queries[start:stop] @ matrix.T, every, ids[start:stop], k)
                return out_ids, out_scores, np.ones(len(ids), bool)
            if ef is None:
                labels, distances = self._hnsw.knn_query(queries, k=k + 1)
            else:
                usual = self._hnsw.ef
                self._hnsw.set_ef(ef)
                try:
                    labels, distances = self._hnsw.knn_query(queries, k=k + 1)
                finally:
                    self._hnsw.set_ef(usual)
            # A label removed after the drain may still be in HNSW (its removal
            # queued): drop it. (A vector rewritten meanwhile scores as before
            # the write: the scan raced that write.)
            gone = ~np.isin(labels, np.asarray(self._labels.to_array(), np.int64))
        labels = np.where(gone, -1, labels.astype(np.int64))
        distances = np.where(gone, np.inf, distances)
        is_self = labels == ids[:, None]
        # Per row, the k first results that are not the query itself (stable: order kept).
        order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
        found = np.take_along_axis(labels, order, axis=1)
        score = (1.0 - np.take_along_axis(distances, order, axis=1)).astype(np.float32)
        # A row that held no self match keeps k+1 others; a removed label is dropped.
        dropped = np.take_along_axis(is_self, order, axis=1) | (found < 0)
        out_ids[:] = np.where(dropped, -1, found)
        out_scores[:] = np.where(dropped, -np.inf, score)
        return out_ids, out_scores, is_self.any(axis=1)

    def _exact_plan(self, n: int, allowed: BitMap | None) -> bool:
        """Whether ``n`` candidates are scored exactly rather than searched in
        HNSW: few enough, and for an unfiltered search fewer still (HNSW with
        no filter needs no over-fetch, so it wins sooner)."""
        return n <= self.params.exact_limit and (allowed is not None or n <= 1024)

    def _search_hnsw(self, query: np.ndarray, k: int, allowed: BitMap | None,
                     within: BitMap | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """HNSW's top ``k`` among ``allowed`` (every label it holds if ``None``),
        and of those among ``within`` if given (the labels: the candidates are
        then ``allowed & within``, never made); both locks held. The candidates
        exclude the stale labels when there are any."""
        live = len(self._hnsw_labels)
        if k < 1 or live == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if allowed is None:
            fetch = k  # hnswlib searches with max(ef, k) candidates: no over-fetch needed
        else:
            # Over-fetch by the allowed fraction, plus the stale labels HNSW
            # still holds (they come back and are dropped). Counted without
            # `within`: with no stale label, what HNSW holds has a row, save
            # for a loaded graph's deleted labels until queue_reconcile (a
            # count a little high then only fetches a little more).
            held = allowed.intersection_cardinality(self._hnsw_labels) or 1
            fetch = min(live, max(k, int(np.ceil(k / (held / live) * 1.5)) + 8))
        while True:
            try:
                labels, distances = self._hnsw.knn_query(query, k=fetch)
            except RuntimeError:
                # hnswlib could not find `fetch` live neighbours (many deleted
                # slots nearby): score the candidates exactly instead.
                every = self._labels if allowed is None else allowed if within is None else allowed & within
                ids = np.asarray(every.to_array(), dtype=np.int64)
                return exact_top_k(self._rows, self._inv_norms, ids, query, k)
            ids = labels[0].astype(np.int64)
            scores = (1.0 - distances[0]).astype(np.float32)
            if allowed is not None:
                # A list of a few dozen flags: np.fromiter over numpy ints cost ~2x.
                if within is None:
                    flags = [i in allowed for i in ids.tolist()]
                else:
                    flags = [i in allowed and i in within for i in ids.tolist()]
                keep = np.array(flags, bool)
                ids, scores = ids[keep], scores[keep]
            if len(ids) >= k or fetch >= live:
                order = np.lexsort((ids, -scores))[:k]
                return ids[order], scores[order]
            fetch = min(live, fetch * 4)

    # -- writing: the rows, at once, and the queue ---------------------------------

    def _grow_rows(self, needed: int) -> None:
        if needed <= len(self._rows):
            return
        capacity = max(needed, 2 * len(self._rows), 1024)
        rows = np.zeros((capacity, self.dim), np.int8)
        rows[: len(self._rows)] = self._rows
        inv = np.zeros(capacity, np.float32)
        inv[: len(self._inv_norms)] = self._inv_norms
        scales = np.zeros(capacity, np.float32)
        scales[: len(self._scales)] = self._scales
        live = np.zeros(capacity, np.uint8)
        live[: len(self._live)] = self._live
        self._rows, self._inv_norms, self._scales, self._live = rows, inv, scales, live

    def saved_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(int8 rows, inverse norms, scales, sorted labels) as they are, the rows
        up to the highest label: what :meth:`install_rows` takes back. The
        caller holds :meth:`exclusive` (a save)."""
        labels = np.asarray(self._labels.to_array(), np.int64)
        end = int(labels[-1]) + 1 if labels.size else 0
        return self._rows[:end], self._inv_norms[:end], self._scales[:end], labels

    def install_rows(self, rows: np.ndarray, inv_norms: np.ndarray, scales: np.ndarray, labels: BitMap) -> None:
        """Take these arrays as the rows (not copied: a memory-mapped file stays
        mapped, so only the rows a search reads become resident) with ``labels``
        live, on an index that has none yet; nothing is queued for HNSW."""
        with self._lock.write():
            if self._labels or len(self._rows):
                raise ValueError("install_rows is for an index without rows")
            # Plain ndarray views of the (mapped) arrays: numba types an ndarray
            # subclass such as np.memmap on a slow path, ~0.7 us per array per call.
            self._rows, self._inv_norms, self._scales = (a.view(np.ndarray) for a in (rows, inv_norms, scales))
            self._labels = BitMap(labels)
            self._live = np.zeros(len(rows), np.uint8)
            self._live[np.asarray(self._labels.to_array(), np.int64)] = 1

    def set_rows(self, ids: np.ndarray, q8: np.ndarray, scales: np.ndarray) -> None:
        """Install int8 rows without queueing them for HNSW (used when loading a saved graph)."""
        with self._lock.write():
            self._set_rows(ids, q8, scales)

    def _set_rows(self, ids: np.ndarray, q8: np.ndarray, scales: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._grow_rows(int(ids.max()) + 1)
        self._rows[ids] = q8
        # Squared norms in int32 straight from the int8 rows: a float32 copy of
        # 1M x 384 rows would cost two 1.5 GB temporaries (measured: 30 s at 1M).
        squared = np.einsum("ij,ij->i", q8, q8, dtype=np.int32).astype(np.float32)
        norms = np.sqrt(squared)
        self._inv_norms[ids] = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self._scales[ids] = scales
        self._labels.update(ids)
        self._live[ids] = 1

    def upsert(self, ids: np.ndarray, q8: np.ndarray, scales: np.ndarray) -> None:
        """Add or replace the vectors of ``ids`` (int8 rows with their scales):
        searchable on return; the HNSW graph follows in the background."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0:
            return
        q8 = np.asarray(q8, np.int8).reshape(len(ids), self.dim)
        scales = np.asarray(scales, np.float32)
        with self._lock.write():
            self._set_rows(ids, q8, scales)
            self._pending.update(ids)
            self.dirty = True
        self._wake()

    def remove(self, ids: np.ndarray) -> None:
        """Forget the vectors of ``ids`` (ids without a vector are ignored)."""
        ids = np.asarray(ids, np.int64)
        with self._lock.write():
            gone = BitMap(ids) & self._labels
            self._labels -= gone
            dead = np.asarray(gone.to_array(), np.int64)
            self._rows[dead] = 0
            self._inv_norms[dead] = 0.0
            self._live[dead] = 0
            # Every id, not only those with a row: HNSW may still hold one the
            # rows no longer do (a saved graph's label), and the worker checks.
            self._pending.update(ids)
            self.dirty = True
        self._wake()

    def reserve(self, count: int, max_id: int) -> None:
        """Size both views once for a known number of vectors (a rebuild), instead
        of growing step by step."""
        with self._hnsw_lock.write(), self._lock.write():
            self._grow_rows(max_id + 1)
            if count > self._hnsw.get_max_elements():
                self._hnsw.resize_index(count)

    def queue_reconcile(self, changed: np.ndarray) -> int:
        """After loading a saved graph and the store's rows: delete the labels it
        holds with no row, and queue what else it may have wrong (labels with a
        row it lacks, and ``changed``, the labels written after it was saved).
        Returns how many were deleted or queued; the worker (or :meth:`drain`) applies them, comparing
        a changed label's vector first, since re-adding an unchanged one is slow."""
        with self._hnsw_lock.write(), self._lock.write():
            # Labels with no row are marked deleted at once (cheap, no add):
            # a saved graph lists the ones it had marked already, which are
            # not counted, so an unchanged store reports nothing to catch up.
            gone = self._hnsw_labels - self._labels
            already = self._hnsw_delete(np.asarray(gone.to_array(), np.int64))
            removed = len(gone) - already
            suspects = BitMap(np.asarray(changed, np.int64)) & self._labels & self._hnsw_labels
            queued = (self._labels - self._hnsw_labels) | suspects
            self._pending |= queued
            if queued or removed:
                self.dirty = True
        self._wake()
        return removed + len(queued)

    # -- the queue's worker --------------------------------------------------------------

    def _wake(self) -> None:
        queue = self._queue
        with queue.cond:
            if queue.stopping or not self.background:
                return
            if queue.thread is None and queue.failure is None:
                queue.thread = threading.Thread(target=_work, args=(weakref.ref(self), queue),
                                                name="graphmem-vector-index", daemon=True)  # fmt: skip
                _register_exit_hook()
                queue.thread.start()
                _RUNNING.add(queue)
            queue.cond.notify_all()

    def drain(self) -> None:
        """Apply the whole queue to the HNSW graph now, in the calling thread
        (also while :meth:`paused`). Re-raises the error that stopped the worker."""
        failure = self._queue.failure
        if failure is not None:
            raise failure
        while self._apply_batch(1 << 20, worker=False):
            pass

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the worker: on entry any batch it is applying has finished, and
        until exit it takes no other (writes queue, searches scan them exactly)."""
        queue = self._queue
        with queue.cond:
            queue.paused += 1
        try:
            with self._apply_lock:  # waits for the batch under way, if any
                pass
            yield
        finally:
            with queue.cond:
                queue.paused -= 1
                queue.cond.notify_all()

    def close(self, *, drain: bool = False, wait: bool = True) -> None:
        """Stop the worker (after applying the queue if ``drain``). Safe to call twice;
        writes after it still reach the rows, and :meth:`drain` still applies them.
        ``wait=False`` does not wait for a batch under way (a quick exit: the
        worker ends after it, and the queue is the next open's catch-up; at
        interpreter exit :func:`_stop_workers_at_exit` waits for it, since a
        worker still inside hnswlib then would abort the process)."""
        if drain:
            self.drain()
        queue = self._queue
        with queue.cond:
            queue.stopping = True
            queue.cond.notify_all()
            thread = queue.thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()

    def _apply_batch(self, limit: int, *, worker: bool) -> int:
        """Apply up to ``limit`` queued labels to the HNSW graph; returns how many."""
        with self._apply_lock:
            with self._lock.write():
                if worker and (self._queue.paused or self._queue.stopping):
                    return 0
                if not self._pending:
                    return 0
                if len(self._pending) <= limit:
                    batch, self._pending = self._pending, BitMap()
                else:
                    batch = BitMap(self._pending[:limit])
                    self._pending -= batch
                self._inflight = batch
                live = np.asarray((batch & self._labels).to_array(), np.int64)
                gone = np.asarray((batch - self._labels).to_array(), np.int64)
                vectors = self._rows[live].astype(np.float32) * self._scales[live, None]
                upcoming = len(self._pending)
            try:
                with self._hnsw_lock.write():
                    self._hnsw_delete(gone)
                    if len(live):
                        self._hnsw_upsert(live, vectors, upcoming)
            except BaseException:
                with self._lock.write():
                    self._pending |= batch  # still stale: searches keep scanning them exactly
                    self._inflight = BitMap()
                raise
            with self._lock.write():
                self._inflight = BitMap()
            return len(batch)

    # -- the HNSW graph (``_hnsw_lock`` held for writing) ---------------------------------

    def _hnsw_delete(self, ids: np.ndarray) -> int:
        """Mark ``ids`` deleted in HNSW; returns how many already were."""
        already = 0
        for id_ in ids.tolist():
            if id_ in self._hnsw_labels:
                try:
                    self._hnsw.mark_deleted(id_)
                except RuntimeError as exc:
                    # A saved graph keeps the labels it had marked deleted, and
                    # get_ids_list() (which seeds _hnsw_labels on load) lists
                    # them too: those need nothing. Anything else is real.
                    if "already deleted" not in str(exc):
                        raise
                    already += 1
                self._hnsw_labels.discard(id_)
                self._hnsw_dead.add(id_)
        return already

    def _hnsw_upsert(self, ids: np.ndarray, vectors: np.ndarray, upcoming: int) -> None:
        """Add the vectors of ``ids`` (all with a row); a label HNSW holds is
        compared first and re-added only if its vector changed."""
        held = np.fromiter((i in self._hnsw_labels for i in ids.tolist()), bool, len(ids))
        if held.any():
            differing = self._differing(ids[held], vectors[held])
            keep = ~held | np.fromiter((i in differing for i in ids.tolist()), bool, len(ids))
            ids, vectors = ids[keep], vectors[keep]
        if len(ids):
            self._hnsw_add(ids, vectors, upcoming)

    def _hnsw_add(self, ids: np.ndarray, vectors: np.ndarray, upcoming: int = 0) -> None:
        """Add or update the HNSW vectors of ``ids`` (distinct): in place for a
        label hnswlib holds, in a vacant or new slot otherwise (module docstring).
        Capacity grows in bounded steps, or by ``upcoming`` (the rest of the
        queue) at once when that is larger, never doubling."""
        hnsw = self._hnsw
        held = np.fromiter((i in self._hnsw_labels or (i in self._hnsw_dead and self._undelete(i))
                            for i in ids.tolist()), bool, len(ids))
        if self._hnsw_dead:
            self._hnsw_dead -= BitMap(ids)
        # A trickle of writes is added on one thread, leaving the other core to
        # the writer; a backlog (a bulk load, a catch-up) gets both.
        threads = 2 if len(ids) + upcoming >= _BULK else 1
        if held.any():
            hnsw.add_items(vectors[held], ids[held], num_threads=threads, replace_deleted=False)
        fresh = ~held
        if fresh.any():
            needed = hnsw.element_count + int(fresh.sum())
            capacity = hnsw.get_max_elements()
            if needed > capacity:
                step = min(max(capacity // 8, _GROW_STEP[0]), _GROW_STEP[1])
                hnsw.resize_index(needed + max(step, upcoming))
            hnsw.add_items(vectors[fresh], ids[fresh], num_threads=threads, replace_deleted=True)
        self._hnsw_labels.update(ids)

    def _undelete(self, id_: int) -> bool:
        """Unmark a deleted label so it can be updated in place; ``False`` if hnswlib
        no longer holds it (its slot went to another label)."""
        try:
            self._hnsw.unmark_deleted(id_)
        except RuntimeError as exc:
            if "Label not found" in str(exc):
                return False
            if "not deleted" in str(exc):  # live after all: an update in place
                return True
            raise
        return True

    def _differing(self, ids: np.ndarray, expected: np.ndarray) -> BitMap:
        """Those of ``ids`` whose HNSW vector is not the direction of their row of
        ``expected`` (hnswlib keeps cosine-space vectors normalised). Re-adding an
        unchanged vector is slow in hnswlib (an update, ~4 ms each), so a
        catch-up re-adds only what really changed."""
        norms = np.linalg.norm(expected, axis=1, keepdims=True)
        unit = np.divide(expected, norms, out=np.zeros_like(expected), where=norms > 0)
        differing = BitMap()
        for start in range(0, len(ids), 50_000):
            part, want = ids[start : start + 50_000], unit[start : start + 50_000]
            try:
                stored = np.asarray(self._hnsw.get_items(part, return_type="numpy"), np.float32)
            except RuntimeError:
                # A saved graph lists its deleted labels as held: an entity
                # expired before the save and revived since is one of them.
                # Find them (one call each, only in a block that has one).
                dead = np.array([i for i in part.tolist() if not self._readable(i)], np.int64)
                self._hnsw_labels -= BitMap(dead)
                self._hnsw_dead |= BitMap(dead)
                differing.update(dead)
                alive = ~np.isin(part, dead)
                part, want = part[alive], want[alive]
                stored = np.asarray(self._hnsw.get_items(part, return_type="numpy"), np.float32).reshape(
                    len(part), self.dim)
            close = np.all(np.abs(stored - want) <= 1e-4, axis=1)
            differing.update(part[~close])
        return differing

    def _readable(self, id_: int) -> bool:
        """Whether hnswlib returns the vector of label ``id_`` (not deleted, not gone)."""
        try:
            self._hnsw.get_items([id_])
        except RuntimeError as exc:
            if "Label not found" in str(exc):
                return False
            raise
        return True

    # -- persistence helpers -------------------------------------------------------------

    @property
    def hnsw(self) -> hnswlib.Index:
        return self._hnsw

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold both locks (for saving a consistent file)."""
        with self._hnsw_lock.write(), self._lock.write():
            yield

    def nbytes(self) -> dict[str, int]:
        hnsw = self._hnsw
        per_element = hnsw.dim * 4 + hnsw.M * 2 * 4 + 8 + 4
        return {
            "int8_rows": int(self._rows.nbytes + self._inv_norms.nbytes + self._scales.nbytes + self._live.nbytes),
            "hnsw_estimate": int(hnsw.get_max_elements() * per_element),
        }
