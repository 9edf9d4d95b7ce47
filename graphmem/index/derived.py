"""The derived structures of one store, loaded together, lazily, and dropped together.

Everything here can be rebuilt from the store: the key/id map, the entity-type
and relation-type bitmaps and the relation arrays. They load on first use (a
reopened store answers lookups at once) under the store's writer lock, so no
commit can land between the scan and the install; writes keep them exact,
through :class:`GraphState`'s methods only (the one owner of these
structures: see its docstring for how readers stay consistent without
locks or retries); a write through user Cypher drops them all and the next
use reloads.

A load first takes the state saved beside the store (:mod:`.saved`, memory
mapped); if writes happened after that save (a crash before the next one),
it catches up the entities and relations written after the save's write
time. Changes that leave no write time (a delete for good, user Cypher)
remove the saved manifest before they run, so the load rebuilds from the
store: that, missing or damaged files, another format, or a catch-up too
large to apply row by row, are the only rebuilds.

Over 500 lines: :class:`GraphState` is the one owner of the derived graph
state: how a change is applied, the snapshots readers hold and the catch-up
after a reopen must change together, so they live together.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..algorithms.csr import find_pairs, incident_edges, merge_order
from ..errors import CorruptStore
from ..records import EntityRow, micros, split_key
from ..store.store import Store
from .adjacency import MAX_ID, EdgeIndex, EdgeView
from .bitmaps import LabelBitmaps, LabelSets
from .columns import int_numpy
from .ids import IdMap, IdView, key_arrays
from .labels import RelationLabels
from .saved import Loaded, SavedGraph
from .vector_store import from_epoch_us
from .text import TextIndex

__all__ = ["Derived", "GraphState", "GraphSnapshot", "DerivedState", "Bounds", "Intervals", "NEVER_BEFORE", "NEVER_AFTER"]

NEVER_BEFORE = -(1 << 62)
NEVER_AFTER = 1 << 62
"""An open end of a validity interval, in µs (far beyond any datetime)."""

Triple = tuple[int, int, int]


class Intervals(NamedTuple):
    """Validity intervals (µs, half-open ``[start, end)``) keyed by (key, code),
    sorted by key then code. For entities the key is the id and the code 0;
    for relations the key is ``source << 32 | target`` and the code the type
    code. 28 bytes per row."""

    keys: np.ndarray  # int64
    codes: np.ndarray  # int32
    start: np.ndarray  # int64
    end: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self))

    def invalid_at(self, at: int) -> np.ndarray:
        """Row mask of the intervals that do not contain ``at``."""
        return (self.start > at) | (at >= self.end)

    def next_after(self, at: int) -> int:
        """The first start or end after ``at`` (``NEVER_AFTER`` if none)."""
        best = NEVER_AFTER
        for ends in (self.start, self.end):
            later = ends[ends > at]
            if later.size:
                best = min(best, int(later.min()))
        return best


_NO_INTERVALS = Intervals(np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64))


def _upsert(old: Intervals, keys: np.ndarray, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> Intervals:
    """``old`` with the rows of (keys, codes) set to (start, end); a row both of
    whose ends are open is dropped instead (unbounded facts are not listed).
    New arrays (readers holding ``old`` keep a consistent copy); O(len(old) +
    batch) for the copy, O(batch log batch) for the sort."""
    order = np.lexsort((codes, keys))
    keys, codes, start, end = keys[order], codes[order], start[order], end[order]
    if keys.size > 1:  # the same fact twice in one batch: the last write wins
        last = np.ones(keys.size, bool)
        last[:-1] = (keys[1:] != keys[:-1]) | (codes[1:] != codes[:-1])
        keys, codes, start, end = keys[last], codes[last], start[last], end[last]
    at = find_pairs(old.keys, old.codes, keys, codes)
    keep = np.ones(len(old), bool)
    keep[at[at >= 0]] = False
    bounded = (start != NEVER_BEFORE) | (end != NEVER_AFTER)
    if keep.all() and not bounded.any():
        return old  # nothing bounded written, nothing bounded cleared: the common unbounded write
    k1, c1, s1, e1 = (a[keep] for a in old)
    k2, c2, s2, e2 = keys[bounded], codes[bounded], start[bounded], end[bounded]
    merge = merge_order(k1, c1, k2, c2)
    return Intervals(*(np.concatenate([a, b])[merge] for a, b in ((k1, k2), (c1, c2), (s1, s2), (e1, e2))))


def _drop(old: Intervals, keys: np.ndarray, codes: np.ndarray) -> Intervals:
    if not len(old) or not keys.size:
        return old
    at = find_pairs(old.keys, old.codes, keys, codes)
    at = at[at >= 0]
    if not at.size:
        return old
    keep = np.ones(len(old), bool)
    keep[at] = False
    return Intervals(*(a[keep] for a in old))


def _relation_keys(triples: Iterable[Triple] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(triples if isinstance(triples, np.ndarray) else list(triples), np.int64).reshape(-1, 3)
    return (arr[:, 0] << 32) | arr[:, 2], arr[:, 1].astype(np.int32)


class Bounds:
    """The validity intervals of current facts that have one, as sorted arrays.

    Most facts are unbounded and not listed: the time views cost O(this)
    (vectorised: one comparison per bounded fact), 28 bytes per bounded fact
    (:meth:`nbytes`, exact), nothing per unbounded one. Writes replace the
    arrays (copy on write, O(bounded facts) per write batch that touches a
    bounded fact, like the relation index's delta); a reader takes them once
    (:attr:`entities`, :attr:`relations`) and sees one consistent state.

    Examples
    --------
    >>> from datetime import datetime
    >>> b = Bounds()
    >>> b.set_relation((3, 0, 4), datetime(2020, 1, 1), None)
    >>> b.set_entity(7, None, datetime(2021, 1, 1))
    >>> len(b.relations), len(b.entities), b.empty
    (1, 1, False)
    >>> b.drop_relations([(3, 0, 4)]); b.drop_entities([7]); b.empty
    True
    """

    __slots__ = ("entities", "relations")

    def __init__(self, entities: Intervals = _NO_INTERVALS, relations: Intervals = _NO_INTERVALS) -> None:
        self.entities = entities
        self.relations = relations

    @property
    def empty(self) -> bool:
        return not len(self.entities) and not len(self.relations)

    def set_entity(self, id_: int, valid_from: datetime | None, valid_to: datetime | None) -> None:
        self.set_entities([id_], [valid_from], [valid_to])

    def set_entities(self, ids: Sequence[int] | np.ndarray, valid_from: Sequence[datetime | None],
                     valid_to: Sequence[datetime | None]) -> None:
        """Set (or clear, when both ends are ``None``) the validity of these entities."""
        keys = np.asarray(ids, np.int64).reshape(-1)
        if keys.size:
            self.entities = _upsert(self.entities, keys, np.zeros(keys.size, np.int32),
                                    _us_array(valid_from, NEVER_BEFORE), _us_array(valid_to, NEVER_AFTER))

    def set_relation(self, triple: Triple, valid_from: datetime | None, valid_to: datetime | None) -> None:
        self.set_relations([triple], [valid_from], [valid_to])

    def set_relations(self, triples: Sequence[Triple] | np.ndarray, valid_from: Sequence[datetime | None],
                      valid_to: Sequence[datetime | None]) -> None:
        """Set (or clear) the validity of these (source, type code, target) relations, one array update."""
        if len(triples):
            keys, codes = _relation_keys(triples)
            self.relations = _upsert(self.relations, keys, codes, _us_array(valid_from, NEVER_BEFORE),
                                     _us_array(valid_to, NEVER_AFTER))

    def set_relation_arrays(self, src: np.ndarray, codes: np.ndarray, dst: np.ndarray, start: np.ndarray,
                            end: np.ndarray) -> None:
        """:meth:`set_relations` from arrays, ends already in µs (a reload)."""
        keys = (np.asarray(src, np.int64) << 32) | np.asarray(dst, np.int64)
        self.relations = _upsert(self.relations, keys, np.asarray(codes, np.int32), np.asarray(start, np.int64),
                                 np.asarray(end, np.int64))

    def set_entity_arrays(self, ids: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """:meth:`set_entities` from arrays, ends already in µs (a reload)."""
        keys = np.asarray(ids, np.int64)
        self.entities = _upsert(self.entities, keys, np.zeros(keys.size, np.int32), np.asarray(start, np.int64),
                                np.asarray(end, np.int64))

    def drop_entities(self, ids: Iterable[int]) -> None:
        keys = np.fromiter(ids, np.int64)
        self.entities = _drop(self.entities, keys, np.zeros(keys.size, np.int32))

    def drop_relations(self, triples: Iterable[Triple] | np.ndarray) -> None:
        keys, codes = _relation_keys(triples)
        self.relations = _drop(self.relations, keys, codes)

    def entity(self, id_: int) -> tuple[int, int] | None:
        """The (start, end) of entity ``id_`` in µs, or ``None`` when unbounded."""
        found = _find(self.entities, np.array([id_], np.int64), np.zeros(1, np.int32))
        return found

    def relation(self, triple: Triple) -> tuple[int, int] | None:
        """The (start, end) of relation ``triple`` in µs, or ``None`` when unbounded."""
        keys, codes = _relation_keys([triple])
        return _find(self.relations, keys, codes)

    def invalid_at(self, at: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the bounded entities and the (k, 3) (source, code, target)
        rows of the bounded relations whose validity does not contain ``at``."""
        ents, rels = self.entities, self.relations
        bad = rels.invalid_at(at)
        keys = rels.keys[bad]
        triples = np.stack([keys >> 32, rels.codes[bad].astype(np.int64), keys & 0xFFFFFFFF], axis=1)
        return ents.keys[ents.invalid_at(at)], triples

    def next_boundary(self, at: int) -> int:
        """The first validity start or end after ``at``: until then, what is valid stays the same."""
        return min(self.entities.next_after(at), self.relations.next_after(at))

    def nbytes(self) -> int:
        """Bytes held (exact: the arrays are all there is)."""
        return self.entities.nbytes() + self.relations.nbytes()


def _find(iv: Intervals, keys: np.ndarray, codes: np.ndarray) -> tuple[int, int] | None:
    at = int(find_pairs(iv.keys, iv.codes, keys, codes)[0])
    return None if at < 0 else (int(iv.start[at]), int(iv.end[at]))


def _us_array(values: Sequence[datetime | None], missing: int) -> np.ndarray:
    return np.fromiter((missing if v is None else micros(v) for v in values), np.int64, len(values))


def _us(value: datetime | None, missing: int) -> int:
    return missing if value is None else micros(value)


class _Lease:
    """What a held snapshot holds: the generation it reflects (the owner
    records later changes while any lease lives) and its relation view
    (which keeps the names of ids removed since readable, ``IdMap.key_ever``)."""

    __slots__ = ("generation", "view", "__weakref__")

    def __init__(self, generation: int, view: EdgeView) -> None:
        self.generation = generation
        self.view = view


_FIELDS = ("generation", "view", "index", "ids", "entity_types", "relation_types", "namespaces", "bounds", "types",
           "bounded", "lease")


class GraphSnapshot:
    """One consistent state of the graph, for one reader (never changes).

    Taken by :meth:`GraphState.snapshot` in O(1): ``view`` the relations
    (:class:`~graphmem.index.adjacency.EdgeView`), ``ids`` the key/id map
    (:class:`~graphmem.index.ids.IdView`), the entity-type, relation-type and
    namespace bitmaps (:class:`~graphmem.index.bitmaps.LabelSets`) and the
    validity ``bounds``, all as they were after change ``generation``, however
    many writes land meanwhile. ``index`` is the relation index the view
    came from (its path cache) and ``types`` how many relation types it had:
    codes from ``types`` on were made later and are in no relation of the view;
    ``bounded`` whether any fact has a validity bound (a time view is needed).

    A query takes one snapshot at its start and reads only it, holding it
    (its ``lease``) while it reads its parts: the parts copy nothing, they
    stay as they were because the owner records and copies what each change
    touches while a lease is held. ``snapshot()`` of a snapshot is itself,
    so functions that take either take one. A time view
    (:mod:`graphmem.temporal`) is a snapshot too, derived from one.
    Immutable (setting an attribute raises); a plain slotted class rather
    than a frozen dataclass, whose constructor cost ~3 us more, and one that
    can be weakly referenced (what :meth:`GraphState._begin` needs).

    Examples
    --------
    >>> s = GraphState(ids=IdMap(), entity_types=LabelBitmaps(), relation_types=LabelBitmaps(),
    ...                edges=EdgeIndex())
    >>> a, b = s.allocate_ids(2)
    >>> s.add_entity_keys(["da", "db"], np.array([a, b]), "T", "d")
    >>> s.add_relation_triples([(a, "KNOWS", b)])
    >>> held = s.snapshot()
    >>> s.remove_entities({"db": b}, s.edges.incident(b), expire=False)
    >>> s.add_relation_triples([(a, "LIKES", a)])
    >>> held.ids.id_of("db"), held.view.relations, held.code_of("LIKES"), s.ids.id_of("db"), len(s.edges)
    (1, 1, None, None, 1)
    """

    __slots__ = (*_FIELDS, "__weakref__")

    generation: int
    view: EdgeView
    index: EdgeIndex
    ids: IdView
    entity_types: LabelSets
    relation_types: LabelSets
    namespaces: LabelSets
    bounds: Bounds
    types: int
    bounded: bool
    lease: _Lease | None

    def __init__(self, generation: int, view: EdgeView, index: EdgeIndex, ids: IdView, entity_types: LabelSets,
                 relation_types: LabelSets, namespaces: LabelSets, bounds: Bounds, types: int, bounded: bool,
                 lease: _Lease | None = None) -> None:  # fmt: skip
        put = object.__setattr__
        put(self, "generation", generation)
        put(self, "view", view)
        put(self, "index", index)
        put(self, "ids", ids)
        put(self, "entity_types", entity_types)
        put(self, "relation_types", relation_types)
        put(self, "namespaces", namespaces)
        put(self, "bounds", bounds)
        put(self, "types", types)
        put(self, "bounded", bounded)
        put(self, "lease", lease)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a GraphSnapshot never changes")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a GraphSnapshot never changes")

    def __repr__(self) -> str:
        return f"GraphSnapshot(generation={self.generation}, relations={self.view.relations}, entities={len(self.ids)})"

    def _replace(self, **changes: object) -> GraphSnapshot:
        """A copy with ``changes`` (field name -> value)."""
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(changes)
        return GraphSnapshot(**fields)

    def snapshot(self) -> GraphSnapshot:
        """Itself: a snapshot is one already."""
        return self

    @property
    def type_names(self) -> list[str]:
        """Relation type names by code (every code of ``view`` has its name; the list only grows)."""
        return self.index.type_names

    def code_of(self, type_name: str) -> int | None:
        """The code of ``type_name`` if it existed when the snapshot was taken."""
        code = self.index.code_of(type_name)
        return code if code is not None and code < self.types else None

    def incident_many(self, nodes: np.ndarray) -> np.ndarray:
        """The relations of the view with an end in ``nodes`` (as ``EdgeIndex.incident_many``)."""
        return incident_edges(self.view.adj, np.asarray(nodes, np.int64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The view's relations as (sources, type codes, targets) (as ``EdgeIndex.arrays``)."""
        return self.index.arrays(view=self.view)

    def without(self, triples: np.ndarray, ids: object | None = None) -> GraphSnapshot:
        """This snapshot minus the relations ``triples`` (``EdgeIndex.without`` of
        the view), with ``ids`` (an id map seen through a filter) if given."""
        index = self.index.without(triples, view=self.view)
        return self._replace(view=index.view, index=index, ids=self.ids if ids is None else ids)


@dataclass(slots=True, eq=False)
class GraphState:
    """The current graph in memory, and the only code that changes it.

    ``ids`` (key <-> id), the entity-type, relation-type and namespace
    bitmaps, the relation index ``edges``, the validity ``bounds``,
    ``expired`` (the keys of expired entities, history outside the id map,
    with their ids, so that writing the name again revives the row) and the
    caches built on first use (``normalized``, ``text``, ``labels``) change
    only through the methods below, one per kind of change, each run after
    the store committed it (under the store's writer lock) and each counting
    one ``generation``.

    Readers never retry or poll. A query takes one :class:`GraphSnapshot`
    (:meth:`snapshot`: O(1); the current generation's, kept here, without a
    lock, or a new one under this object's lock after a change) and reads
    only it, so a query that resolves two names resolves both in one state.
    Taking one copies nothing: while a snapshot is held, each change records
    what it changes in the id map (``IdMap.record``: the id a key had
    before), and the bitmaps copy a label's bitmap on its first change after
    they were shared; the relation view and the bounds are immutable
    already. When no snapshot is held a change costs what it did before
    snapshots existed. The one wait: while a change is being applied (in
    memory, after the store's commit), readers get the snapshot from before
    it if a reader held that one as the change began (the change is recorded
    for it); if none did, a reader arriving then waits for the change.

    Code that reads the live structures directly (the writers, which hold
    the store's writer lock) sees each change ordered so that any published
    relation view is consistent with the names a reader can find:

    - facts appear in the order bounds, bitmaps, relations, and the key last
      (a reader that finds a key finds everything about it);
    - they go in the order key first, then bitmaps, relations and bounds (a
      reader that found the key took a view from before the change; a view
      from before the change still names its ids, ``IdMap.key_ever``).

    Examples
    --------
    >>> s = GraphState(ids=IdMap(), entity_types=LabelBitmaps(), relation_types=LabelBitmaps(),
    ...                edges=EdgeIndex())
    >>> a, b = s.allocate_ids(2)
    >>> s.add_entity_keys(["da", "db"], np.array([a, b]), "T", "d")
    >>> s.add_relation_triples([(a, "KNOWS", b)])
    >>> reader = s.edges.view  # a query in flight holds the view it started on
    >>> s.remove_entities({"db": b}, s.edges.incident(b), expire=True)
    >>> s.ids.id_of("db"), s.ids.key_ever(b), s.expired, len(s.edges), s.generation
    (None, 'db', {'db': 1}, 0, 3)
    """

    ids: IdMap
    entity_types: LabelBitmaps
    relation_types: LabelBitmaps
    edges: EdgeIndex
    namespaces: LabelBitmaps = field(default_factory=LabelBitmaps)
    expired: dict[str, int] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=Bounds)
    generation: int = 0
    """The number of changes applied (time views and caches are keyed by it)."""
    normalized: dict[tuple[str, str], str] | None = None
    """(namespace, normalised name) -> key, built on first use by duplicate detection."""
    text: TextIndex | None = None
    """The text index (:mod:`graphmem.index.text`), built on first use by ``Memory.find_text``."""
    labels: RelationLabels | None = None
    """Relation types as written (:mod:`graphmem.index.labels`), built on first use by ``Memory.find_relations``."""
    normalize: Callable[[str], str] | None = None
    """How ``normalized`` normalises a name (given when it is built)."""
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Serialises the changes for direct use; in a store they already hold its writer lock."""
    _retiring: deque[tuple[int, list[int]]] = field(default_factory=deque, repr=False)
    """Ids removed from the map, each batch with the relation version current at its
    removal: ``ids.key_ever`` names them until no held view is that old (see ``_changed``)."""
    _leases: list[weakref.ref[_Lease]] = field(default_factory=list, repr=False)
    """The leases of the snapshots handed out (dead references pruned as they pile up)."""
    _latest: GraphSnapshot | None = field(default=None, repr=False)
    """The snapshot of the current generation, handed to every reader until the next change."""
    _log_kept: int = field(default=0, repr=False)
    """Keys the id map's change record kept at its last pruning (see :meth:`_begin`)."""
    LOG_PRUNE_MIN = 1024
    """The id map's change record is pruned once it holds more keys than this and twice its last size."""

    def nbytes(self) -> dict[str, int]:
        return {
            "entity_type_bitmaps": self.entity_types.nbytes(),
            "relation_type_bitmaps": self.relation_types.nbytes(),
            "namespace_bitmaps": self.namespaces.nbytes(),
            "relation_arrays": self.edges.nbytes(),
            "validity_bounds": self.bounds.nbytes(),
        }

    # -- snapshots ---------------------------------------------------------------------

    @property
    def type_names(self) -> list[str]:
        """Relation type names by code (as :attr:`GraphSnapshot.type_names`, of the live index)."""
        return self.edges.type_names

    def snapshot(self) -> GraphSnapshot:
        """The current graph as one :class:`GraphSnapshot`, for one query.

        O(1): the snapshot of the current generation, kept here and handed to
        every reader until the next change (no lock); else a new one, taken
        under the lock, so it never sees half a change (a delta past the
        small-write threshold is folded in first: ``EdgeIndex.maybe_compact``,
        so the first query after a bulk load pays for the merge once).
        """
        snap = self._latest
        if snap is not None and snap.generation == self.generation:
            return snap  # also while a change is applied, when a reader held this one as it began
        edges = self.edges
        edges.maybe_compact()
        with self._lock:
            generation = self.generation
            lease = _Lease(generation, edges.view)
            leases = self._leases
            if len(leases) >= 32:  # most are dead: each lives as long as its queries
                leases[:] = [ref for ref in leases if ref() is not None]
            leases.append(weakref.ref(lease))  # from now on every change is recorded for it (see _begin)
            bounds = Bounds(self.bounds.entities, self.bounds.relations)
            snap = GraphSnapshot(generation, lease.view, edges, self.ids.view(generation), self.entity_types.share(),
                                 self.relation_types.share(), self.namespaces.share(), bounds, len(edges.type_names),
                                 not bounds.empty, lease)  # fmt: skip
            self._latest = snap
            return snap

    def compact_relations(self) -> None:
        """Fold the relation index's delta into its arrays if it is past the
        small-write threshold (the same graph); the next reader takes a
        snapshot of the compacted view."""
        with self._lock:
            view = self.edges.view
            self.edges.maybe_compact()
            if self.edges.view is not view:
                self._latest = None

    def _begin(self) -> None:
        """Start a change (under the lock): record it for the snapshots held, or,
        when none is, record nothing and change the bitmaps in place again."""
        # Dropped first (kept by a weak reference): if nobody else holds it, it
        # goes here and now; a reader that took it before holds it (its lease
        # lives, so the change is recorded) and it is handed out again until
        # the change is done, so readers do not wait for it. A reader that
        # finds none waits for the lock.
        latest = None if self._latest is None else weakref.ref(self._latest)
        self._latest = None
        ids = self.ids
        held = [lease for ref in self._leases if (lease := ref()) is not None]
        if held:
            self._leases = [weakref.ref(lease) for lease in held]
            ids.record(self.generation + 1)
            if ids.logged > max(self.LOG_PRUNE_MIN, 2 * self._log_kept):
                # Changes older than every held snapshot undo nothing any reader can ask for.
                ids.drop_log(min(lease.generation for lease in held))
                self._log_kept = ids.logged
            self._latest = None if latest is None else latest()
            return
        self._leases = []
        ids.record(None)
        ids.drop_log()
        self._log_kept = 0
        for labels in (self.entity_types, self.relation_types, self.namespaces):
            labels.release()

    def _changed(self) -> None:
        self.ids.record(None)
        self._latest = None  # of the generation before: the next reader takes a new one
        self.generation += 1  # the one place a change is counted
        if self._retiring:
            # A batch removed at version v is named only for readers holding a
            # view of version <= v; once none is held, its keys can go.
            oldest = self.edges.oldest_live_version()
            while self._retiring and self._retiring[0][0] < oldest:
                self.ids.forget_retired(self._retiring.popleft()[1])

    # -- ids ---------------------------------------------------------------------------

    def allocate_ids(self, count: int) -> range:
        """Reserve ``count`` fresh ids for a write being planned (a failed write leaves a gap)."""
        return self.ids.allocate(count)

    def reserve_ids_below(self, floor: int) -> None:
        """Make every id below ``floor`` taken (the store's id floor)."""
        with self._lock:
            if floor > self.ids.next_id:
                self.ids.allocate(floor - self.ids.next_id)

    # -- entities ----------------------------------------------------------------------

    def write_entities(self, rows: Sequence[EntityRow], *, added: Sequence[EntityRow],
                       old_types: Mapping[str, str]) -> None:
        """Entity rows written (per-record path): ``rows`` every row written,
        ``added`` those new to the current graph (created, or expired and
        written again: revived with their old id), ``old_types`` the type
        each existing row had before."""
        with self._lock:
            self._begin()
            self.bounds.set_entities([row.id for row in rows], [row.valid_from for row in rows],
                                     [row.valid_to for row in rows])
            for row in rows:
                old = old_types.get(row.key)
                if old is not None and old != row.type:
                    self.entity_types.discard(old, [row.id])
                self.entity_types.add(row.type, [row.id])
            for row in added:
                self.namespaces.add(row.namespace, [row.id])
            if self.text is not None:
                self.text.put(rows)
            self._normalized_add([row.key for row in added])
            self.ids.add((row.key, row.id) for row in added)  # last: see the class docstring
            for row in added:
                self.expired.pop(row.key, None)
            self._changed()

    def add_entity_arrays(self, keys: list[str], ids: np.ndarray, types: pa.Array, namespace: str,
                          valid_from: pa.Array, valid_to: pa.Array, *,
                          text: tuple[list[str], pa.Array, pa.Array] | None = None) -> None:
        """New entities of one namespace (the bulk path), as parallel columns;
        ``text``: their (names, observations, properties) for the text index."""
        with self._lock:
            self._begin()
            bounded = pc.or_(pc.is_valid(valid_from), pc.is_valid(valid_to)).to_numpy(zero_copy_only=False)
            if bounded.any():
                where = np.flatnonzero(bounded)
                self.bounds.set_entities(ids[where], valid_from.take(where).to_pylist(),
                                         valid_to.take(where).to_pylist())
            self.entity_types.add_grouped(types, ids)
            self.namespaces.add_array(namespace, ids)
            if self.text is not None and text is not None:
                self.text.put_arrow(namespace, ids.tolist(), text[0], types, text[1], text[2])
            self._normalized_add(keys)
            self.ids.add_arrays(keys, ids)  # last: see the class docstring
            self._changed()

    def add_entity_keys(self, keys: list[str], ids: np.ndarray, type_: str, namespace: str) -> None:
        """:meth:`add_entity_arrays` for unbounded entities of one type.

        Examples
        --------
        >>> s = GraphState(ids=IdMap(), entity_types=LabelBitmaps(), relation_types=LabelBitmaps(),
        ...                edges=EdgeIndex())
        >>> s.add_entity_keys(["da"], np.array(s.allocate_ids(1)), "T", "d")
        >>> s.ids.id_of("da"), s.entity_types.counts()
        (0, {'T': 1})
        """
        n = len(keys)
        self.add_entity_arrays(keys, np.asarray(ids, np.int64), pa.array([type_] * n, pa.string()), namespace,
                               pa.nulls(n, pa.timestamp("us")), pa.nulls(n, pa.timestamp("us")))

    def remove_entities(self, current: Mapping[str, int], incident: Iterable[Triple], *, expire: bool,
                        dropped: Iterable[str] = ()) -> None:
        """Entities leave the current graph: ``current`` (key -> id) with the
        relations ``incident`` to them, expired (kept in ``expired`` so a write
        revives them) or, with ``expire=False``, deleted for good; ``dropped``:
        keys of expired entities deleted for good (out of ``expired``)."""
        incident = list(incident)
        with self._lock:
            self._begin()
            gone = list(current.values())
            gone_set = set(gone)
            if gone:
                self._retiring.append((self.edges.view.version, gone))
            for key in current:
                self.ids.remove(key)  # first: see the class docstring
            for key in dropped:
                self.expired.pop(key, None)
            if expire:
                self.expired.update(current)
            else:
                for key in current:
                    self.expired.pop(key, None)
            if gone:
                self.entity_types.discard_everywhere(gone)
                self.namespaces.discard_everywhere(gone)
                self.edges.remove(incident)
                self.relation_types.discard_everywhere(gone)
                # The surviving end of each removed relation may have lost its last one of a type.
                survivors = {(t[0], t[1]) for t in incident if t[0] not in gone_set} | {
                    (t[2], t[1]) for t in incident if t[2] not in gone_set}
                self._refresh_relation_types(survivors)
                self.bounds.drop_entities(gone)
                self.bounds.drop_relations(incident)
                if self.text is not None:
                    self.text.remove(gone)
                if self.normalized is not None and self.normalize is not None:
                    for key in current:
                        space, name = split_key(key)
                        self.normalized.pop((space, self.normalize(name)), None)
            self._changed()

    def replace_expired(self, left: Mapping[str, int]) -> list[str]:
        """The expired entities are now ``left`` (after a purge); returns the keys that went."""
        with self._lock:
            self._begin()
            gone = [key for key in self.expired if key not in left]
            for key in gone:
                del self.expired[key]
            self.expired.update(left)
            self._changed()
            return gone

    # -- relations ---------------------------------------------------------------------

    def write_relations(self, created: Sequence[Triple], created_types: Sequence[str],
                        retired: Sequence[tuple[int, str, int]],
                        bounds: Mapping[tuple[int, str, int], tuple[datetime | None, datetime | None]],
                        properties: Mapping[tuple[int, str, int], str]) -> None:
        """Relations written (per-record path): ``created`` (source, _, target)
        with their ``created_types``; ``retired`` (source, type, target) those
        the write expired; ``bounds`` the validity of every relation written;
        ``properties`` (JSON) of every relation written."""
        with self._lock:
            self._begin()
            edges = self.edges
            written = list(bounds.items())
            self.bounds.set_relations([(s, edges.code_for(name), d) for (s, name, d), _ in written],
                                      [span[0] for _, span in written], [span[1] for _, span in written])
            new = [(s, edges.code_for(name), d) for (s, _, d), name in zip(created, created_types)]
            edges.add(new)
            for (s, _, d), name in zip(created, created_types):
                self.relation_types.add(name, (s, d))
            gone = [(s, edges.code_for(name), d) for s, name, d in retired]
            edges.remove(gone)
            self.bounds.drop_relations(gone)
            if self.labels is not None:
                self.labels.written(list(properties), list(properties.values()))
            self._refresh_relation_types([(s, c) for s, c, _ in gone] + [(d, c) for _, c, d in gone])
            self._changed()

    def add_relation_arrays(self, src: np.ndarray, dst: np.ndarray, local: np.ndarray, type_names: Sequence[str],
                            valid_from: pa.Array, valid_to: pa.Array, *,
                            properties: pa.Array | None = None) -> None:
        """New relations (the bulk path), as parallel columns: ``local`` indexes
        ``type_names``; ``properties`` (JSON) for the relation labels."""
        with self._lock:
            self._begin()
            edges = self.edges
            codes = np.array([edges.code_for(t) for t in type_names], np.int64)[local]
            bounded = pc.or_(pc.is_valid(valid_from), pc.is_valid(valid_to)).to_numpy(zero_copy_only=False)
            if bounded.any():
                where = np.flatnonzero(bounded)
                triples = np.column_stack([src[where], codes[where], dst[where]])
                self.bounds.set_relations(triples, valid_from.take(where).to_pylist(), valid_to.take(where).to_pylist())
            edges.add(np.column_stack([src, codes, dst]))
            order = np.argsort(local, kind="stable")
            ends = np.searchsorted(local[order], np.arange(len(type_names) + 1))
            for j, name in enumerate(type_names):
                members = order[ends[j]:ends[j + 1]]
                self.relation_types.add_array(name, np.concatenate([src[members], dst[members]]))
            if self.labels is not None and properties is not None:
                self.labels.written(list(zip(src.tolist(), [type_names[i] for i in local.tolist()], dst.tolist())),
                                    properties.to_pylist())
            self._changed()

    def add_relation_triples(self, triples: Sequence[tuple[int, str, int]]) -> None:
        """:meth:`add_relation_arrays` for a few unbounded (source, type name, target)."""
        names = sorted({t for _, t, _ in triples})
        local = np.array([names.index(t) for _, t, _ in triples], np.int64)
        n = len(triples)
        self.add_relation_arrays(np.array([s for s, _, _ in triples], np.int64).reshape(-1),
                                 np.array([d for _, _, d in triples], np.int64).reshape(-1), local, names,
                                 pa.nulls(n, pa.timestamp("us")), pa.nulls(n, pa.timestamp("us")))

    def remove_relations(self, triples: Sequence[Triple]) -> None:
        """Relations (source, type code, target) deleted or expired."""
        with self._lock:
            self._begin()
            self.edges.remove(triples)
            self.bounds.drop_relations(triples)
            self._refresh_relation_types({(s, c) for s, c, _ in triples} | {(d, c) for _, c, d in triples})
            self._changed()

    def _refresh_relation_types(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Drop an entity from a relation type's bitmap once its last such relation is gone."""
        for node, code in pairs:
            if not self.edges.has_incident_type(node, code):
                self.relation_types.discard(self.edges.type_names[code], [node])

    # -- caches built on first use -----------------------------------------------------

    def text_index(self, load: Callable[[], TextIndex]) -> TextIndex:
        """The text index, built by ``load`` on first use (the caller holds the writer lock)."""
        with self._lock:
            if self.text is None:
                self.text = load()
            return self.text

    def relation_labels(self, load: Callable[[], RelationLabels]) -> RelationLabels:
        """The relation labels, built by ``load`` on first use (the caller holds the writer lock)."""
        with self._lock:
            if self.labels is None:
                self.labels = load()
            return self.labels

    def normalized_names(self, normalize: Callable[[str], str]) -> dict[tuple[str, str], str]:
        """(namespace, normalised name) -> key of every current entity, built on first use
        (one pass over the id map) and kept by the changes above."""
        with self._lock:
            if self.normalized is None:
                built: dict[tuple[str, str], str] = {}
                for key in self.ids.keys():
                    space, name = split_key(key)
                    built.setdefault((space, normalize(name)), key)
                self.normalize = normalize
                self.normalized = built
            return self.normalized

    def _normalized_add(self, keys: Iterable[str]) -> None:
        if self.normalized is not None and self.normalize is not None:
            for key in keys:
                space, name = split_key(key)
                self.normalized[(space, self.normalize(name))] = key


DerivedState = GraphState
"""The former name of :class:`GraphState`."""


CATCH_UP_MIN = 10_000
CATCH_UP_FRACTION = 20
"""A catch-up of more than ``max(CATCH_UP_MIN, size // CATCH_UP_FRACTION)``
written rows rebuilds instead: the catch-up applies rows one by one, the
rebuild is vectorised."""


class Derived:
    """Holder that loads :class:`GraphState` on demand (from the saved files
    when they are current or can be caught up, else from the store)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._state: GraphState | None = None
        self._lock = threading.Lock()
        self.loads = 0
        self.saved = SavedGraph(store)
        self.last_load: dict[str, object] = {}
        """How the last load went: ``source`` ``"file"`` (with ``caught_up``, the rows applied) or ``"rebuilt"`` (with ``reason``)."""
        self.last_text_load: dict[str, object] = {}
        """How the text index was last made, as ``last_load`` tells for the graph."""
        if not store.read_only:
            store.write_hooks.append(self.saved.mark_written)
            store.delete_hooks.append(self.saved.forget)
            store.relation_hooks.append(self.saved.mark_relations)

    @property
    def loaded(self) -> bool:
        return self._state is not None

    def get(self) -> GraphState:
        state = self._state
        if state is not None:
            return state
        with self._store.exclusive(), self._lock:
            if self._state is None:
                self._state = self._load()
                self.loads += 1
            return self._state

    def reset(self) -> None:
        with self._lock:
            self._state = None

    def save(self, seq: int) -> bool:
        """Save the loaded state as reflecting every write up to ``seq`` (µs),
        unless the saved files already are the store. The caller holds the
        writer lock. Returns whether it wrote."""
        state = self._state
        if state is None or (self.saved.current and not self.saved.text_unsaved(state.text)):
            return False
        # What the first path query of every later open would do, done once here.
        state.compact_relations()
        return self.saved.save(state, seq)

    def _load(self) -> GraphState:
        self.saved.clean_leftovers()
        loaded, why = self.saved.load()
        if loaded is not None:
            state = _from_parts(loaded)
            if loaded.clean:
                self.last_load = {"source": "file", "caught_up": 0}
                return state
            caught = self._catch_up(state, loaded)
            if caught is not None:
                self.last_load = {"source": "file", "caught_up": caught}
                return state
            why = "too many writes since the save to catch up one by one"
        state = self._rebuild()
        self.last_load = {"source": "rebuilt", "reason": why}
        return state

    def load_text(self) -> TextIndex:
        """The text index: the saved one caught up by write time, else built
        from the store (the caller holds the writer lock, as for :meth:`get`)."""
        index, seq, why = self.saved.load_text()
        if index is not None:
            if self.saved.current and seq == self.saved.current_seq:
                # Saved with the state that is the store (a clean load, no write
                # since): nothing to read (the query is 20-50 ms at 100k, a
                # fifth of an MCP server's warm-up before its first answer).
                self.last_text_load = {"source": "file", "caught_up": 0}
                return index
            written = self._store.execute_arrow("entity_text_written_since", {"seq": from_epoch_us(seq)})
            if len(written) <= max(CATCH_UP_MIN, len(index) // CATCH_UP_FRACTION):
                index.apply_written(written)
                self.last_text_load = {"source": "file", "caught_up": len(written)}
                return index
            why = "too many writes since the save to catch up one by one"
            self.saved.drop_text()  # the next save writes the rebuilt one
        index = TextIndex.load(self._store)
        self.last_text_load = {"source": "rebuilt", "reason": why}
        return index

    def _catch_up(self, state: GraphState, loaded: Loaded) -> int | None:
        """Apply to ``state`` what was written after ``loaded.seq``; the rows
        applied, or ``None`` when there are too many to apply one by one (rebuild)."""
        since = from_epoch_us(loaded.seq)
        entities = self._store.execute_arrow("entities_written_since", {"seq": since})
        # No statement named the relation table since the save: nothing to read there.
        relations = (self._store.execute_arrow("relations_written_since", {"seq": since})
                     if loaded.relations_written else None)  # fmt: skip
        size = len(state.ids) + len(state.edges)
        written = len(entities) + (0 if relations is None else len(relations))
        if written > max(CATCH_UP_MIN, size // CATCH_UP_FRACTION):
            return None
        _catch_up_entities(state, entities)
        if relations is not None:
            _catch_up_relations(state, relations)
        state.ids.forget_retired()  # not published yet: no reader holds a view of it
        state.reserve_ids_below(int(dict(self._store.execute("meta_all")).get("id_floor", "0")))
        return written

    def _rebuild(self) -> GraphState:
        meta = dict(self._store.execute("meta_all"))
        entities = self._store.execute_arrow("entity_ids")
        keys = entities.column("key").to_pylist()
        ids = int_numpy(entities.column("id"))
        if len(ids) and (ids.min() < 0 or ids.max() > MAX_ID):
            raise CorruptStore("entity ids out of range; the store was not written by graphmem")
        expired = {key: int(id_) for key, id_ in self._store.execute("entity_expired_ids")}
        # An expired entity keeps its id (written again, it is revived with
        # it), so no new entity may be given one: the map holds only current
        # entities, and its next id must also pass the expired ones.
        floor = max(int(meta.get("id_floor", "0")), max(expired.values(), default=-1) + 1)
        # The key column's layout too (one more copy of the keys' bytes,
        # ~16 bytes a key beside): a near search names its paths' nodes from
        # it in the compiled call, where ~13 dictionary lookups in Python
        # cost more than the search's own work.
        id_map = IdMap.from_arrays(keys, ids, floor=floor, named=key_arrays(entities.column("key"), ids))
        relations = self._store.execute_arrow_by_id("relation_ids", next_id=id_map.next_id)
        src = int_numpy(relations.column("source")).astype(np.int64, copy=False)
        dst = int_numpy(relations.column("target")).astype(np.int64, copy=False)
        edges = EdgeIndex.from_arrays(src, dst, relations.column("type"))
        relation_types = LabelBitmaps()  # from the index's codes: np.unique over 10M type strings took ~20 s at 5M
        for name, members in edges.type_members().items():
            relation_types.add(name, members)
        bounds = Bounds()
        ent = self._store.execute_arrow("entity_bounds")
        if len(ent):
            bounds.set_entity_arrays(ent.column("id").to_numpy(zero_copy_only=False),
                                     micros_column(ent.column("valid_from"), NEVER_BEFORE),
                                     micros_column(ent.column("valid_to"), NEVER_AFTER))
        bounded = _bounded(relations)
        if len(bounded):
            names, codes = _type_codes(bounded.column("type"))
            code_of = np.array([edges.code_for(n) for n in names], np.int32)
            bounds.set_relation_arrays(bounded.column("source").to_numpy(zero_copy_only=False), code_of[codes],
                                       bounded.column("target").to_numpy(zero_copy_only=False),
                                       micros_column(bounded.column("valid_from"), NEVER_BEFORE),
                                       micros_column(bounded.column("valid_to"), NEVER_AFTER))
        return GraphState(
            ids=id_map,
            entity_types=LabelBitmaps.from_arrow(entities.column("type"), ids),
            relation_types=relation_types,
            edges=edges,
            namespaces=LabelBitmaps.from_arrow(entities.column("namespace"), ids),
            expired=expired,
            bounds=bounds,
        )


def _from_parts(loaded: Loaded) -> GraphState:
    parts = loaded.parts
    return GraphState(ids=parts["ids"], entity_types=parts["entity_types"], relation_types=parts["relation_types"],
                        edges=parts["edges"], namespaces=parts["namespaces"], expired=parts["expired"],
                        bounds=parts["bounds"])  # fmt: skip


def _few_micros(column: pa.ChunkedArray, missing: int) -> np.ndarray:
    """:func:`micros_column` for the few rows of a catch-up, in Python: Arrow's
    ``fill_null`` imports pandas on first use (~2 s)."""
    return np.array([missing if v is None else micros(v) for v in column.to_pylist()], np.int64).reshape(-1)


def _catch_up_entities(state: GraphState, table: pa.Table) -> None:
    """Apply entity rows written since a save (current: in the id map with
    their type, namespace and validity; expired: out of it, into ``expired``)."""
    if not len(table):
        return
    keys = table.column("key").to_pylist()
    ids = int_numpy(table.column("id")).astype(np.int64)
    types = table.column("type").to_pylist()
    spaces = table.column("namespace").to_pylist()
    current = np.array(table.column("current").to_pylist(), bool)  # few rows; to_numpy of a bool column imports pandas
    if ids.size and (ids.min() < 0 or ids.max() > MAX_ID):
        raise CorruptStore("entity ids out of range; the store was not written by graphmem")
    id_list = ids.tolist()
    # A key deleted for good and written again has a new id: its old id goes too.
    before = [i for i in map(state.ids.id_of, keys) if i is not None]
    stale = sorted(set(id_list) | set(before))
    state.entity_types.discard_everywhere(stale)
    state.namespaces.discard_everywhere(stale)
    state.bounds.drop_entities(stale)
    for key, id_, type_, space, cur in zip(keys, id_list, types, spaces, current.tolist()):
        state.ids.remove(key)
        if cur:
            state.ids.add([(key, id_)])
            state.expired.pop(key, None)
            if type_ is not None:
                state.entity_types.add(type_, [id_])
            state.namespaces.add(space, [id_])
        else:
            state.expired[key] = id_
    grow = int(ids.max()) + 1 - state.ids.next_id
    if grow > 0:
        state.ids.allocate(grow)  # ids written since the save are taken
    start = _few_micros(table.column("valid_from"), NEVER_BEFORE)
    end = _few_micros(table.column("valid_to"), NEVER_AFTER)
    bounded = current & ((start != NEVER_BEFORE) | (end != NEVER_AFTER))
    if bounded.any():
        state.bounds.set_entity_arrays(ids[bounded], start[bounded], end[bounded])


def _catch_up_relations(state: GraphState, table: pa.Table) -> None:
    """Apply relation rows written since a save: a (source, type, target)
    with a current row is present (with that row's validity), one with only
    expired rows is gone; the relation-type bitmaps of every endpoint touched
    are recomputed from its relations."""
    if not len(table):
        return
    edges = state.edges
    src = int_numpy(table.column("source")).astype(np.int64)
    dst = int_numpy(table.column("target")).astype(np.int64)
    codes = np.array([edges.code_for(t) for t in table.column("type").to_pylist()], np.int64)
    current = np.array(table.column("current").to_pylist(), bool)
    triples = np.stack([src, codes, dst], axis=1)
    present = set(map(tuple, triples[current].tolist()))
    gone = sorted({t for t in map(tuple, triples[~current].tolist()) if t not in present})
    if gone:
        edges.remove(gone)
    if present:
        edges.add(sorted(present))
    state.bounds.drop_relations(list(present) + gone)
    start = _few_micros(table.column("valid_from"), NEVER_BEFORE)
    end = _few_micros(table.column("valid_to"), NEVER_AFTER)
    bounded = current & ((start != NEVER_BEFORE) | (end != NEVER_AFTER))
    if bounded.any():
        state.bounds.set_relation_arrays(src[bounded], codes[bounded], dst[bounded], start[bounded], end[bounded])
    nodes = sorted(set(src.tolist()) | set(dst.tolist()))
    state.relation_types.discard_everywhere(nodes)
    names = edges.type_names
    for node in nodes:
        for code in {c for _, c, _ in edges.incident(node)}:
            state.relation_types.add(names[code], [node])


def _bounded(relations: pa.Table) -> pa.Table:
    """The relations with a validity bound (usually few)."""
    mask = pc.or_(pc.is_valid(relations.column("valid_from")), pc.is_valid(relations.column("valid_to")))
    return relations.filter(mask)


def _type_codes(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """Distinct names of a string column and each row's index into them."""
    encoded = column.combine_chunks().dictionary_encode()
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False)


def micros_column(column: pa.ChunkedArray, missing: int) -> np.ndarray:
    """A timestamp column as int64 µs, ``missing`` where null."""
    as_int = pc.cast(column, pa.timestamp("us")).cast(pa.int64())
    micros: np.ndarray = pc.fill_null(as_int, missing).to_numpy(zero_copy_only=False).astype(np.int64)
    return micros
