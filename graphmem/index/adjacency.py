"""The relations as a CSR adjacency snapshot plus a small delta overlay.

Each relation is a triple ``(source id, type code, target id)``. The index
keeps them in one :class:`graphmem.algorithms.csr.Adjacency`: a CSR snapshot
whose row for an entity lists its out-relations, then its in-relations
(int32 neighbour and type per relation per direction, 16 bytes of row bounds
per entity: ~9.6 bytes per relation per direction at 5 relations per
entity), and a delta of the relations added and removed since the snapshot,
as sorted key arrays per direction.

Readers never lock. Every change builds new delta arrays (the snapshot
arrays are shared, never written) and publishes them in one new
:class:`EdgeView`, replacing the old one with a single attribute store; a
reader takes ``index.view`` once and runs on that consistent graph, however
many writes land meanwhile. Writers are serialised by the store's writer
lock and, for direct use, by this index's own lock.

The delta is folded into a new snapshot ("compaction", one sequential merge,
O(relations): ~0.2 s at 5M relations here, mostly first-touching the new
arrays) on demand, by these rules:

- after a small write, once the delta holds more than ``max(DELTA_MIN,
  snapshot / DELTA_FRACTION)`` entries: a write copies the delta, O(delta), so
  this keeps single writes in the tens of microseconds while the merge is
  amortised over thousands of them;
- after a bulk write (a batch at least that large), only once the delta
  passes a quarter of the snapshot, so that loading relations in big batches
  costs O(relations) overall instead of one merge per batch;
- before a query, when the delta is past the small-write threshold
  (:meth:`EdgeIndex.maybe_compact`, called by the path queries): the first
  query after a bulk load pays for the merge once.

Objects attached with :meth:`EdgeIndex.attach` (the path cache) are told of
every change, under the writer's lock, before the new view is published.

Examples
--------
>>> e = EdgeIndex.from_arrays([0, 1], [1, 2], ["KNOWS", "KNOWS"])
>>> k = e.code_for("KNOWS")
>>> e.add([(2, k, 0)])
>>> e.view.version, len(e), e.contains(2, k, 0)
(1, 3, True)

Over 500 lines: :class:`EdgeIndex` keeps the snapshot, the delta overlay, the
type members and the listeners consistent under one lock.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from ..algorithms.csr import (
    IN,
    OUT,
    Adjacency,
    edge_lookup,
    empty_adjacency,
    find_pairs,
    from_edges,
    has_edges,
    incident_edges,
    merge_delta,
    merge_sorted,
    row_edges,
    sort_pairs,
    sorted_unique,
    touched_mask,
)

from .columns import int_numpy

__all__ = ["EdgeIndex", "EdgeView", "EdgeListener", "MAX_ID", "DELTA_MIN", "DELTA_FRACTION"]

MAX_ID = (1 << 31) - 1
"""Ids are int32 in the CSR and packed two to an int64 in the delta keys."""

DELTA_MIN = 4096
DELTA_FRACTION = 512
"""Compaction threshold: the delta is merged into the snapshot once it holds
more than ``max(DELTA_MIN, snapshot relations // DELTA_FRACTION)`` entries
(~10k at 5M relations: copying that per write is ~20 µs, and the ~0.2 s merge
then costs ~20 µs per write amortised)."""
BULK_FRACTION = 4
"""After bulk writes the delta may grow to ``snapshot // BULK_FRACTION``."""

Triple = tuple[int, int, int]  # (source, type code, target)

_EMPTY_TRIPLES = np.empty((0, 3), np.int64)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class EdgeView:
    """One consistent state of the graph's relations (never modified).

    ``adj``: the adjacency (snapshot and delta); ``nodes``: one more than the
    highest entity id that has a relation (the kernels' workspace size);
    ``version``: the number of changes applied to the index so far (the
    graph version this view reflects); ``relations``: how many there are.
    """

    adj: Adjacency
    nodes: int
    version: int
    relations: int

    @property
    def delta(self) -> int:
        return self.adj.delta

    def nbytes(self) -> int:
        return self.adj.nbytes()


class EdgeListener(Protocol):
    def edges_changed(self, added: np.ndarray, removed: np.ndarray, version: int, type_names: Sequence[str]) -> None:
        """``added``/``removed``: (k, 3) int64 arrays of (source, code, target) that changed."""


L = TypeVar("L", bound=EdgeListener)


class EdgeIndex:
    """Every relation, as integer triples in a CSR snapshot plus delta.

    Examples
    --------
    >>> e = EdgeIndex.from_arrays([0, 1], [1, 2], ["KNOWS", "KNOWS"])
    >>> k = e.code_for("KNOWS")
    >>> e.contains(0, k, 1), e.contains(1, k, 0)
    (True, False)
    >>> e.add([(2, k, 0)]); e.remove([(0, k, 1)])
    >>> sorted(e.incident(0)), len(e)
    ([(2, 0, 0)], 2)
    """

    def __init__(self) -> None:
        self.type_names: list[str] = []
        self._codes: dict[str, int] = {}
        self._lock = threading.RLock()
        self._view = EdgeView(empty_adjacency(0), 0, 0, 0)
        # Every view this index handed out that someone still holds (readers
        # hold one per query): what :meth:`oldest_live_version` looks at.
        self._live: list[weakref.ref[EdgeView]] = [weakref.ref(self._view)]
        self._attached: dict[str, EdgeListener] = {}
        self.compactions = 0
        self._frozen = False

    @classmethod
    def from_arrays(
        cls,
        sources: Sequence[int] | np.ndarray,
        targets: Sequence[int] | np.ndarray,
        types: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray,
    ) -> EdgeIndex:
        """Build from parallel arrays (``types`` may be an Arrow string column)."""
        new = cls()
        src = np.asarray(sources, np.int64)
        dst = np.asarray(targets, np.int64)
        names, codes = _encode(types)
        if not (src.shape == dst.shape == codes.shape):
            raise ValueError("sources, targets and types must have one length")
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) > MAX_ID):
            raise ValueError(f"entity ids must be in [0, {MAX_ID}]")
        new.type_names = names
        new._codes = {n: i for i, n in enumerate(names)}
        nodes = int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
        adj = from_edges(src, dst, codes, nodes)
        new._view = EdgeView(adj, nodes, 0, adj.snapshot_edges)
        new._track(new._view)
        return new

    @property
    def view(self) -> EdgeView:
        """The current state; take it once per query and use only it."""
        return self._view

    def oldest_live_version(self) -> int:
        """The lowest version among the views of this index still held anywhere
        (the current one included, and those of :meth:`without` copies): what
        a reader may still be looking at.

        Examples
        --------
        >>> e = EdgeIndex.from_arrays([0], [1], ["R"])
        >>> held = e.view
        >>> e.add([(1, 0, 2)])
        >>> e.oldest_live_version(), e.view.version
        (0, 1)
        >>> del held
        >>> e.oldest_live_version()
        1
        """
        with self._lock:
            self._live = [ref for ref in self._live if ref() is not None]
            held = [view.version for view in (ref() for ref in self._live) if view is not None]
        return min(held, default=self._view.version)

    def _track(self, view: EdgeView) -> None:
        with self._lock:
            if len(self._live) >= 64:  # views live for one query: most references are dead
                self._live = [ref for ref in self._live if ref() is not None]
            self._live.append(weakref.ref(view))

    # -- types -------------------------------------------------------------------

    def code_of(self, type_name: str) -> int | None:
        return self._codes.get(type_name)

    def code_for(self, type_name: str) -> int:
        """The code of ``type_name``, assigning a new one if needed."""
        with self._lock:
            code = self._codes.get(type_name)
            if code is None:
                # Append before publishing the code: a reader that sees the
                # code can always find its name.
                self.type_names.append(type_name)
                code = self._codes[type_name] = len(self.type_names) - 1
            return code

    # -- membership ----------------------------------------------------------------

    def __len__(self) -> int:
        return self._view.relations

    def contains(self, src: int, code: int, dst: int) -> bool:
        return bool(has_edges(self._view.adj, [src], [dst], [code])[0])

    def contains_many(self, src: np.ndarray, codes: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`contains` over parallel arrays (a code of -1 is never found)."""
        return has_edges(self._view.adj, src, dst, codes)

    def incident_many(self, nodes: np.ndarray) -> np.ndarray:
        """Every relation with an end in ``nodes``, as (k, 3) int64 rows of
        (source, type code, target), compiled (a relation may appear twice)."""
        return incident_edges(self._view.adj, np.asarray(nodes, np.int64))

    def incident(self, node: int) -> set[Triple]:
        """Every relation with ``node`` as source or target."""
        adj = self._view.adj
        found = {(node, t, v) for v, t in row_edges(adj, node, OUT)}
        found.update((v, t, node) for v, t in row_edges(adj, node, IN))
        return found

    def has_incident_type(self, node: int, code: int) -> bool:
        adj = self._view.adj
        return any(t == code for _, t in row_edges(adj, node, OUT)) or any(t == code for _, t in row_edges(adj, node, IN))

    # -- changes -------------------------------------------------------------------

    def attach(self, name: str, factory: Callable[[], L]) -> L:
        """The listener registered under ``name``, created by ``factory`` on first use.

        It lives as long as this index, so dropping the index (a reload of the
        derived state) drops it too.
        """
        found = self._attached.get(name)
        if found is None:
            with self._lock:
                found = self._attached.get(name)
                if found is None:
                    found = self._attached[name] = factory()
        return found  # type: ignore[return-value]

    def attached(self, name: str) -> EdgeListener | None:
        """The listener registered under ``name``, if any (never creates one)."""
        return self._attached.get(name)

    def add(self, triples: Iterable[Triple]) -> None:
        arr = _as_triples(triples)
        if not arr.size:
            return
        with self._lock:
            view = self._view
            s, c, d = arr[:, 0], arr[:, 1].astype(np.int32), arr[:, 2]
            where = edge_lookup(view.adj, s, d, c)
            revive, new = where == 3, where == 0
            if not (revive.any() or new.any()):
                return
            adj = _apply(view.adj, s, d, c, revive, new)
            nodes = max(view.nodes, int(max(s.max(), d.max())) + 1)
            changed = arr[revive | new]
            self._publish(adj, nodes, view.relations + len(changed), changed, _EMPTY_TRIPLES, len(arr))

    def remove(self, triples: Iterable[Triple]) -> None:
        arr = _as_triples(triples)
        if not arr.size:
            return
        with self._lock:
            view = self._view
            s, c, d = arr[:, 0], arr[:, 1].astype(np.int32), arr[:, 2]
            where = edge_lookup(view.adj, s, d, c)
            unadd, kill = where == 2, where == 1
            if not (unadd.any() or kill.any()):
                return
            adj = _apply_removal(view.adj, s, d, c, unadd, kill)
            changed = arr[unadd | kill]
            self._publish(adj, view.nodes, view.relations - len(changed), _EMPTY_TRIPLES, changed, len(arr))

    def without(self, triples: Iterable[Triple] | np.ndarray, *, view: EdgeView | None = None) -> EdgeIndex:
        """A read-only index of the current graph (or of ``view``, one of this
        index's) minus ``triples`` (the graph a time-filtered read sees): the
        snapshot is shared, the removals go in a delta, so this costs
        O(delta + removed), not a rebuild.

        The result is never compacted (:meth:`maybe_compact` does nothing):
        folding its removals into a private snapshot cost ~0.2 s and a copy of
        the snapshot per view at 5M relations. Instead its ``touched`` mask
        has a slot per entity, so only the entities next to a removed relation
        take the kernels' delta path (a hashed mask sized to the delta sent
        ~20% of all entities there when 1% of the relations were removed).

        Examples
        --------
        >>> e = EdgeIndex.from_arrays([0, 1], [1, 2], ["R", "R"])
        >>> f = e.without([(0, 0, 1)])
        >>> len(f), f.contains(0, 0, 1), e.contains(0, 0, 1)
        (1, False, True)
        """
        arr = _as_triples(triples)
        if arr.shape[0] > 1:
            # A relation may be listed twice (bounded, and next to a hidden entity).
            order = np.lexsort((arr[:, 1], arr[:, 2], arr[:, 0]))
            arr = arr[order]
            keep = np.ones(arr.shape[0], bool)
            keep[1:] = (arr[1:] != arr[:-1]).any(axis=1)
            arr = arr[keep]
        if view is None:
            view = self._view
        new = EdgeIndex()
        new.type_names = self.type_names  # shared: codes only ever get appended
        new._codes = self._codes
        new._view = view
        new._frozen = True
        if arr.size:
            s, c, d = arr[:, 0], arr[:, 1].astype(np.int32), arr[:, 2]
            where = edge_lookup(view.adj, s, d, c)
            unadd, kill = where == 2, where == 1
            if unadd.any() or kill.any():
                adj = _apply_removal(view.adj, s, d, c, unadd, kill)
                fields = adj._asdict()
                keys = [fields[f"{side}_{kind}_key"] for side in ("out", "in") for kind in ("add", "rem")]
                adj = adj._replace(touched=touched_mask(keys, adj.delta, min_size=max(view.nodes, adj.n_rows)))
                new._view = EdgeView(adj, view.nodes, view.version, view.relations - int((unadd | kill).sum()))
                self._track(new._view)
        return new

    @staticmethod
    def _threshold(adj: Adjacency) -> int:
        return max(DELTA_MIN, adj.snapshot_edges // DELTA_FRACTION)

    def _publish(self, adj: Adjacency, nodes: int, relations: int, added: np.ndarray, removed: np.ndarray,
                 batch: int) -> None:
        version = self._view.version + 1
        small = self._threshold(adj)
        if adj.delta > small and (batch < small or adj.delta > adj.snapshot_edges // BULK_FRACTION):
            adj = merge_delta(adj, nodes)
            self.compactions += 1
        # Listeners first: a cache must have dropped what this change makes
        # stale (and learnt the new version) before any reader can see it.
        for listener in self._attached.values():
            listener.edges_changed(added, removed, version, self.type_names)
        self._view = EdgeView(adj, nodes, version, relations)
        self._track(self._view)

    # -- snapshot ------------------------------------------------------------------

    def maybe_compact(self) -> None:
        """Compact if the delta is past the small-write threshold (after bulk
        writes); a no-op costing one comparison otherwise."""
        adj = self._view.adj
        if adj.delta > self._threshold(adj) and not self._frozen:
            self.compact()

    def compact(self) -> None:
        """Fold the delta into a new snapshot (the graph, and its version, stay the same)."""
        with self._lock:
            view = self._view
            if view.delta or view.adj.n_rows < view.nodes:
                self._view = EdgeView(merge_delta(view.adj, view.nodes), view.nodes, view.version, view.relations)
                self._track(self._view)
                self.compactions += 1

    def arrays(self, *, view: EdgeView | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All current relations (or those of ``view``, one of this index's) as
        (sources, type codes, targets), sorted by source, target, type."""
        if view is None:
            view = self._view
        adj = merge_delta(view.adj, view.nodes) if view.delta else view.adj
        rows = adj.rows
        out_deg = rows[:-1, 1] - rows[:-1, 0]
        keep = np.zeros(adj.nbrs.size + 1, np.int64)  # +1/-1 at each out part's ends, cumsum: inside
        np.add.at(keep, rows[:-1, 0], 1)
        np.add.at(keep, rows[:-1, 1], -1)
        mask = np.cumsum(keep[:-1]) > 0
        src = np.repeat(np.arange(adj.n_rows, dtype=np.int64), out_deg)
        return src, adj.types[mask].copy(), adj.nbrs[mask].astype(np.int64)

    def type_members(self) -> dict[str, np.ndarray]:
        """For each relation type, the sorted ids of the entities with a relation of that type (either end).

        Vectorised over the snapshot: a few seconds at 5M relations, where
        ``np.unique`` over the 10M endpoint type strings takes tens (what the
        relation-type bitmaps are built from on a reload).

        Examples
        --------
        >>> e = EdgeIndex.from_arrays([0, 1, 3], [1, 2, 0], ["A", "B", "A"])
        >>> {k: v.tolist() for k, v in e.type_members().items()}
        {'A': [0, 1, 3], 'B': [1, 2]}
        """
        view = self._view
        adj = merge_delta(view.adj, view.nodes) if view.delta else view.adj
        node = np.repeat(np.arange(adj.n_rows, dtype=np.uint32), np.diff(adj.rows[:, 0]))
        key = (adj.types.astype(np.int64) << 32) | node  # every (type, node) the rows hold, both directions
        key = sorted_unique(key)
        code = (key >> 32).astype(np.int64)
        bounds = np.searchsorted(code, np.arange(len(self.type_names) + 1))
        members = (key & 0xFFFFFFFF).astype(np.uint32)
        return {name: members[bounds[c]:bounds[c + 1]] for c, name in enumerate(self.type_names)
                if bounds[c + 1] > bounds[c]}

    def nbytes(self) -> int:
        return self._view.nbytes()

    def stats(self) -> dict[str, Any]:
        """Sizes of the snapshot and delta (JSON-serialisable)."""
        view = self._view
        return {
            "relations": view.relations,
            "version": view.version,
            "snapshot_relations": view.adj.snapshot_edges,
            "snapshot_rows": view.adj.n_rows,
            "delta_added": int(view.adj.out_add_key.size),
            "delta_removed": int(view.adj.out_rem_key.size),
            "compactions": self.compactions,
            "bytes": view.nbytes(),
        }


def _encode(types: Any) -> tuple[list[str], np.ndarray]:
    """Distinct type names (sorted) and each relation's code, via Arrow's
    dictionary encoding (np.unique over millions of Python strings is seconds)."""
    if isinstance(types, pa.ChunkedArray):
        if not len(types):  # combine_chunks of no chunks imports pandas (~0.3 s)
            return [], np.empty(0, np.int32)
        arr = types.combine_chunks()
    elif isinstance(types, pa.Array):
        arr = types
    else:
        values = np.asarray(types, dtype=object)
        if values.ndim != 1:
            raise ValueError("types must be 1-D")
        arr = pa.array(values, type=pa.string())
    if len(arr) == 0:
        return [], np.empty(0, np.int32)
    if arr.null_count:
        raise ValueError("relation types must not be null")
    encoded = arr.dictionary_encode()
    names = [str(n) for n in encoded.dictionary.to_pylist()]
    order = np.argsort(np.array(names, dtype=object))
    rank = np.empty(len(names), np.int32)
    rank[order] = np.arange(len(names), dtype=np.int32)
    codes = rank[int_numpy(encoded.indices)]
    return [names[i] for i in order], codes


def _as_triples(triples: Iterable[Triple]) -> np.ndarray:
    if isinstance(triples, np.ndarray):
        arr = triples.astype(np.int64, copy=False)
    else:
        arr = np.array(list(triples), dtype=np.int64)
    arr = arr.reshape(-1, 3)
    if arr.size and (arr[:, [0, 2]].min() < 0 or arr[:, [0, 2]].max() > MAX_ID):
        raise ValueError(f"entity ids must be in [0, {MAX_ID}]")
    return arr


def _apply(adj: Adjacency, s: np.ndarray, d: np.ndarray, code: np.ndarray,
           revive: np.ndarray, new: np.ndarray) -> Adjacency:
    """``adj`` with the removed snapshot edges ``revive`` restored and ``new`` added to the delta."""
    fields = adj._asdict()
    new_keys = []
    for side, keys in (("out", (s << 32) | d), ("in", (d << 32) | s)):
        rem_key, rem_type = fields[f"{side}_rem_key"], fields[f"{side}_rem_type"]
        if revive.any():
            at = find_pairs(rem_key, rem_type, keys[revive], code[revive])
            fields[f"{side}_rem_key"], fields[f"{side}_rem_type"] = np.delete(rem_key, at), np.delete(rem_type, at)
        if new.any():
            add_key, add_type = sort_pairs(keys[new], code[new])
            new_keys.append(add_key)
            fields[f"{side}_add_key"], fields[f"{side}_add_type"] = merge_sorted(
                fields[f"{side}_add_key"], fields[f"{side}_add_type"], add_key, add_type)
    if new_keys:
        fields["touched"] = _touch(fields, new_keys)
    return Adjacency(**fields)


def _apply_removal(adj: Adjacency, s: np.ndarray, d: np.ndarray, code: np.ndarray,
                   unadd: np.ndarray, kill: np.ndarray) -> Adjacency:
    """``adj`` with delta edges ``unadd`` dropped and snapshot edges ``kill`` marked removed."""
    fields = adj._asdict()
    new_keys = []
    for side, keys in (("out", (s << 32) | d), ("in", (d << 32) | s)):
        add_key, add_type = fields[f"{side}_add_key"], fields[f"{side}_add_type"]
        if unadd.any():
            at = find_pairs(add_key, add_type, keys[unadd], code[unadd])
            fields[f"{side}_add_key"], fields[f"{side}_add_type"] = np.delete(add_key, at), np.delete(add_type, at)
        if kill.any():
            gone_key, gone_type = sort_pairs(keys[kill], code[kill])
            new_keys.append(gone_key)
            fields[f"{side}_rem_key"], fields[f"{side}_rem_type"] = merge_sorted(
                fields[f"{side}_rem_key"], fields[f"{side}_rem_type"], gone_key, gone_type)
    if new_keys:
        fields["touched"] = _touch(fields, new_keys)
    return Adjacency(**fields)


def _touch(fields: dict[str, np.ndarray], new_keys: list[np.ndarray]) -> np.ndarray:
    """A new ``touched`` mask with the nodes of ``new_keys`` set (rebuilt larger
    when the delta outgrows it; slots of entries that left the delta stay set
    until then, which only costs a binary search)."""
    mask = fields["touched"]
    delta = fields["out_add_key"].size + fields["out_rem_key"].size
    if 8 * delta > mask.size:
        return touched_mask([fields[f"{side}_{kind}_key"] for side in ("out", "in") for kind in ("add", "rem")], delta)
    mask = mask.copy()
    for keys in new_keys:
        mask[(keys >> 32) & (mask.size - 1)] = 1
    return mask
