"""The side vector index: hnswlib HNSW over dequantized vectors, plus the int8 rows.

The store is the source of truth for every embedding (int8 + scale). This
index is derived data and holds two views of it, both addressed by entity id:

- an HNSW graph (hnswlib, cosine space, float32: its Python bindings take no
  int8) for approximate search over large candidate sets;
- the int8 rows themselves with their inverse norms, scored exactly by
  :func:`graphmem.algorithms.scoring.exact_top_k` when the candidate set is
  small (a type filter, a neighbourhood) or the store is.

hnswlib is not thread-safe between ``add_items``/``resize_index``/
``mark_deleted`` and ``knn_query``, so a readers-writer lock guards it.
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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import hnswlib
import numpy as np
from pyroaring import BitMap

from ..algorithms.scoring import cosine_rows, exact_top_k
from ..errors import InvalidInput

__all__ = ["RWLock", "HnswParams", "VectorIndex"]

_EXACT_BLOCK_CELLS = 1 << 21
"""Scores per block of :meth:`VectorIndex.neighbours_of`'s exact path (8 MB of float32)."""


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
    """Many readers or one writer; a waiting writer blocks new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
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
    """

    def __init__(self, dim: int, params: HnswParams | None = None, *, hnsw: hnswlib.Index | None = None) -> None:
        if dim < 1:
            raise InvalidInput(f"dim must be >= 1, not {dim}")
        self.dim = dim
        self.params = params or HnswParams()
        self._lock = RWLock()
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
        self._labels = BitMap()  # ids with a live vector, in both views
        # Labels with a live vector in the HNSW graph. A loaded graph lists its
        # deleted labels in get_ids_list() too: reconcile_hnsw sorts them out.
        self._hnsw_labels = BitMap(hnsw.get_ids_list()) if hnsw.element_count else BitMap()
        # Labels marked deleted that may still hold a slot: a superset, since
        # hnswlib hands their slots to new labels without saying which.
        self._hnsw_dead = BitMap()
        self.seq = 0
        """The highest store ``updated_at`` (µs) whose vector this index reflects."""
        self.dirty = False

    # -- reading -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def labels(self) -> BitMap:
        with self._lock.read():
            return BitMap(self._labels)

    def search(self, query: np.ndarray, k: int, allowed: BitMap | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ids by cosine similarity among ``allowed`` (all if ``None``).

        The plan follows selectivity: a candidate set of at most
        ``exact_limit`` ids (or a store that small) is scored exactly from the
        int8 rows; a larger one goes through HNSW, over-fetching by the inverse
        of the allowed fraction and filtering, doubling until ``k`` survive.
        """
        with self._lock.read():
            live = len(self._labels)
            candidates = self._labels if allowed is None else (allowed & self._labels)
            n = len(candidates)
            if n == 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            if n <= self.params.exact_limit and (allowed is not None or n <= 1024):
                ids = np.asarray(candidates.to_array(), dtype=np.int64)
                return exact_top_k(self._rows, self._inv_norms, ids, query, k)
            return self._search_hnsw(query, min(k, n), candidates if allowed is not None else None, live)

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
        query (both threads), or exact scores when the index is small."""
        ids = np.asarray(ids, np.int64)
        with self._lock.read():
            live = len(self._labels)
            k = max(0, min(k, live - 1))
            out_ids = np.full((len(ids), k), -1, np.int64)
            out_scores = np.full((len(ids), k), -np.inf, np.float32)
            if not len(ids) or k == 0:
                return out_ids, out_scores
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
                return out_ids, out_scores
            labels, distances = self._hnsw.knn_query(queries, k=k + 1)
        labels = labels.astype(np.int64)
        is_self = labels == ids[:, None]
        # Per row, the k first results that are not the query itself (stable: order kept).
        order = np.argsort(is_self, axis=1, kind="stable")[:, :k]
        found = np.take_along_axis(labels, order, axis=1)
        score = (1.0 - np.take_along_axis(distances, order, axis=1)).astype(np.float32)
        dropped = np.take_along_axis(is_self, order, axis=1)  # a row that held no self match keeps k+1 others
        out_ids[:] = np.where(dropped, -1, found)
        out_scores[:] = np.where(dropped, -np.inf, score)
        return out_ids, out_scores

    def _search_hnsw(self, query: np.ndarray, k: int, allowed: BitMap | None, live: int) -> tuple[np.ndarray, np.ndarray]:
        if allowed is None:
            fetch = k  # hnswlib searches with max(ef, k) candidates: no over-fetch needed
        else:
            fetch = min(live, max(k, int(np.ceil(k / (len(allowed) / live) * 1.5)) + 8))
        while True:
            try:
                labels, distances = self._hnsw.knn_query(query, k=fetch)
            except RuntimeError:
                # hnswlib could not find `fetch` live neighbours (many deleted
                # slots nearby): score the candidates exactly instead.
                ids = np.asarray((allowed if allowed is not None else self._labels).to_array(), dtype=np.int64)
                return exact_top_k(self._rows, self._inv_norms, ids, query, k)
            ids = labels[0].astype(np.int64)
            scores = (1.0 - distances[0]).astype(np.float32)
            if allowed is not None:
                keep = np.fromiter((int(i) in allowed for i in ids), bool, len(ids))
                ids, scores = ids[keep], scores[keep]
            if len(ids) >= k or fetch >= live:
                order = np.lexsort((ids, -scores))[:k]
                return ids[order], scores[order]
            fetch = min(live, fetch * 4)

    # -- writing -----------------------------------------------------------------

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
        self._rows, self._inv_norms, self._scales = rows, inv, scales

    def set_rows(self, ids: np.ndarray, q8: np.ndarray, scales: np.ndarray) -> None:
        """Install int8 rows without touching HNSW (used when loading a saved graph)."""
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

    def upsert(self, ids: np.ndarray, q8: np.ndarray, scales: np.ndarray) -> None:
        """Add or replace the vectors of ``ids`` (int8 rows with their scales)."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0:
            return
        q8 = np.asarray(q8, np.int8).reshape(len(ids), self.dim)
        scales = np.asarray(scales, np.float32)
        with self._lock.write():
            self._set_rows(ids, q8, scales)
            self._hnsw_add(ids, q8.astype(np.float32) * scales[:, None])
            self.dirty = True

    def reserve(self, count: int, max_id: int) -> None:
        """Size both views once for a known number of vectors (a rebuild), instead
        of doubling chunk by chunk."""
        with self._lock.write():
            self._grow_rows(max_id + 1)
            if count > self._hnsw.get_max_elements():
                self._hnsw.resize_index(count)

    def _hnsw_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or update the HNSW vectors of ``ids`` (distinct): in place for a
        label hnswlib holds, in a vacant or new slot otherwise (module docstring)."""
        hnsw = self._hnsw
        held = np.fromiter((i in self._hnsw_labels or (i in self._hnsw_dead and self._undelete(i))
                            for i in ids.tolist()), bool, len(ids))
        if self._hnsw_dead:
            self._hnsw_dead -= BitMap(ids)
        if held.any():
            hnsw.add_items(vectors[held], ids[held], replace_deleted=False)
        fresh = ~held
        if fresh.any():
            needed = hnsw.element_count + int(fresh.sum())
            if needed > hnsw.get_max_elements():
                hnsw.resize_index(max(needed, 2 * hnsw.get_max_elements()))
            hnsw.add_items(vectors[fresh], ids[fresh], replace_deleted=True)
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

    def remove(self, ids: np.ndarray) -> None:
        """Forget the vectors of ``ids`` (ids without a vector are ignored)."""
        with self._lock.write():
            for id_ in np.asarray(ids, np.int64).tolist():
                if id_ in self._hnsw_labels:
                    self._hnsw.mark_deleted(id_)
                    self._hnsw_labels.discard(id_)
                    self._hnsw_dead.add(id_)
                if id_ in self._labels:
                    self._labels.discard(id_)
                    self._rows[id_] = 0
                    self._inv_norms[id_] = 0.0
                self.dirty = True

    def reconcile_hnsw(self, changed: np.ndarray) -> int:
        """Make the HNSW graph agree with the int8 rows: re-add ``changed`` ids and
        any row it lacks, delete labels with no row. Returns how many were fixed."""
        with self._lock.write():
            stale = self._hnsw_labels - self._labels
            already = 0
            for id_ in stale:
                try:
                    self._hnsw.mark_deleted(id_)
                except RuntimeError as exc:
                    # A saved graph keeps the labels it had marked deleted, and
                    # get_ids_list() (which seeds _hnsw_labels on load) lists
                    # them too: those need nothing. Anything else is real.
                    if "already deleted" not in str(exc):
                        raise
                    already += 1
            self._hnsw_labels -= stale
            self._hnsw_dead |= stale
            suspects = BitMap(np.asarray(changed, np.int64)) & self._labels & self._hnsw_labels
            differing = self._differing(np.asarray(suspects.to_array(), np.int64))
            missing = (self._labels - self._hnsw_labels) | differing
            ids = np.asarray(missing.to_array(), np.int64)
            if len(ids):
                self._hnsw_add(ids, self._rows[ids].astype(np.float32) * self._scales[ids, None])
            fixed = len(stale) - already + len(ids)
            if fixed:
                self.dirty = True
            return fixed

    def _differing(self, ids: np.ndarray) -> BitMap:
        """Those of ``ids`` whose HNSW vector is not the int8 row's (hnswlib keeps
        cosine-space vectors normalised, so compare directions). Re-adding an
        unchanged vector is slow in hnswlib (an update, ~4 ms each), so a
        catch-up re-adds only what really changed."""
        differing = BitMap()
        for start in range(0, len(ids), 50_000):
            part = ids[start : start + 50_000]
            try:
                stored = np.asarray(self._hnsw.get_items(part, return_type="numpy"), np.float32)
            except RuntimeError:
                # A saved graph lists its deleted labels as held: an entity
                # expired before the save and revived since is one of them.
                # Find them (one call each, only in a block that has one).
                dead = [i for i in part.tolist() if not self._readable(i)]
                self._hnsw_labels -= BitMap(dead)
                self._hnsw_dead |= BitMap(dead)
                differing.update(dead)
                part = part[~np.isin(part, dead)]
                stored = np.asarray(self._hnsw.get_items(part, return_type="numpy"), np.float32).reshape(
                    len(part), self.dim)
            rows = self._rows[part].astype(np.float32) * self._inv_norms[part, None]
            close = np.all(np.abs(stored - rows) <= 1e-4, axis=1)
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
        """Hold the write lock (for saving a consistent file)."""
        with self._lock.write():
            yield

    def nbytes(self) -> dict[str, int]:
        hnsw = self._hnsw
        per_element = hnsw.dim * 4 + hnsw.M * 2 * 4 + 8 + 4
        return {
            "int8_rows": int(self._rows.nbytes + self._inv_norms.nbytes + self._scales.nbytes),
            "hnsw_estimate": int(hnsw.get_max_elements() * per_element),
        }
