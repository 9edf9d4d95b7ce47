"""``Memory``: the public facade (DESIGN.md, "Public API").

Each public method checks its arguments once (:mod:`graphmem.inputs`,
:mod:`graphmem.validate`), makes one call into the module that owns the job
and returns its answer. The jobs are plain functions over the parts given
explicitly: the writes and their transaction rules in
:mod:`graphmem.memory.commit` (plans in ``writes`` and ``bulk``), upkeep
(forgetting, purge, tiers, duplicates, access statistics) in ``upkeep``,
removal, counts, history, the schema, user Cypher, closing and saving in
their :mod:`graphmem.memory` modules; the reads in :mod:`graphmem.query`
(``search``, ``recall``, ``traversal``, ``lookup``, ``entity``), the time
views in :mod:`graphmem.temporal`. ``Memory`` holds the parts an open memory
owns (the store, the derived graph state, the entity cache, the vector
store and the state its namespace views share, :mod:`graphmem.memory.parts`)
and binds them to those calls.

Over 500 lines because it is the public API: ~60 public members, whose
docstrings with their doctests (the reference users read) are ~720 of its
~1,460 lines and their signatures ~200; the bodies are ~360 (a check and one
call each, ~4 lines a method).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
import pathlib
from typing import Any

import numpy as np

from . import bulk, commit, cypher, removal, requests, saving, stats, upkeep
from .backlog import embed_keys, missing_keys
from .detached import detach
from .history import entity_history, entity_versions as read_versions, relation_page
from .parts import open_parts, stored_vector_dim
from .schema import read_schema
from .writes import EntityInput, RelationInput, parse_entity, parse_relation
from ..config import DEFAULT_NAMESPACE
from ..embed import Embedder
from ..errors import InvalidInput, NotFound
from ..index.derived import DerivedState, GraphSnapshot
from ..index.labels import RelationEntry, RelationLabels
from ..index.names import NameEntry, NameIndex, TypeSummary
from ..index.text import TextEntry, TextIndex
from ..inputs import neighbors_request, recall_request
from ..metrics import timed
from ..query import lookup, recall as recalling, search, traversal
from ..query.entity import entity_at, explain, fetch_rows, held_observations, stored_row
from ..records import EntityRow, entity_key, micros, relation_from_db, utcnow
from ..scan import decode_entities, decode_relations
from ..store import files as store_files
from ..store.store import CypherResult, Store, Tracer
from ..temporal import TimeView, check_time
from ..types import (
    Access, Duplicate, Entity, EntityVersions, Explanation, History, Hit, KHop, NamespaceInfo, Neighbor, Neighbors,
    Path, Recall, Relation, RelationHistoryPage, Schema, Subgraph,
)  # fmt: skip
from ..validate import (
    check_flag, check_name, check_namespace, check_observations, check_positive_int, check_type, check_types_filter,
)  # fmt: skip

__all__ = ["Memory"]

class Memory:
    """An agent's memory: entities and typed relations in an embedded graph store.

    Create one with :func:`graphmem.open`. Use it as a context manager, or call
    :meth:`close` (safe to call twice) to release the store's file lock.
    """

    def __init__(self, store: Store, *, embedder: Embedder | None, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._store = store
        self._embedder = embedder
        self._namespace = check_namespace(namespace)
        self._owner = True
        self._fingerprint: tuple[Any, ...] | None = None  # read-only: the store's files at open (see reuse=)
        self._names: tuple[DerivedState, int, str, NameIndex] | None = None  # (state, generation, namespace, index)
        # A COMMIT that raised may still have applied: _invalidate drops what was derived. The clock is
        # this module's utcnow looked up at each call, as every read here passes it: one clock to replace.
        self._derived, self._cache, self._vectors, self._shared = open_parts(store, embedder, self._invalidate,
                                                                             lambda: utcnow())  # fmt: skip

    @property
    def _vector_dim(self) -> int | None:
        return self._shared.vector_dim

    @_vector_dim.setter
    def _vector_dim(self, value: int | None) -> None:
        self._shared.vector_dim = value

    # -- namespaces --------------------------------------------------------------

    @property
    def namespace_name(self) -> str:
        """The namespace this memory reads and writes."""
        return self._namespace

    def namespace(self, name: str) -> Memory:
        """A view of this store confined to namespace ``name`` (created by its first write).

        Names are unique per namespace; every read and write of the view stays
        in it. The view shares this memory's store, caches and indexes; it does
        not own the store: its :meth:`close` does nothing, close the memory
        that opened the store.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.namespace("project-a").add_entity("Alice")
        ...     mem.get_entity("Alice"), mem.namespace("project-a").get_entity("Alice").namespace
        (None, 'project-a')
        """
        view = self._view()
        view._namespace = check_namespace(name)
        return view

    def _view(self) -> Memory:
        """Another memory over this one's parts that does not own the store."""
        view = object.__new__(Memory)
        view.__dict__.update(self.__dict__)
        view._owner = False
        return view

    def namespaces(self) -> list[NamespaceInfo]:
        """Every namespace with current entities, with its counts, by name."""
        self._store.check_open()
        return stats.namespace_infos(self._store)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def path(self) -> pathlib.Path | None:
        return self._store.path

    @property
    def engine(self) -> str:
        return self._store.engine_name

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @property
    def closed(self) -> bool:
        return self._store.closed

    @property
    def vector_dim(self) -> int | None:
        """The dimension of this store's vectors (fixed by the embedder or the
        first vector stored); ``None`` while it has none."""
        return self._vector_dim

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    @property
    def tracer(self) -> Tracer | None:
        """Called with (query name, parameters) before every statement; ``None`` to stop."""
        return self._store.tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        self._store.tracer = tracer

    def close(self, *, save_index: bool = True) -> None:
        """Save the vector index if it changed and release the store. Safe to call twice.
        On a namespace view (:meth:`namespace`) it does nothing.

        ``save_index=False`` skips the index save (seconds on a large store),
        for a process that must exit quickly: the next open catches the saved
        index up from the store, as it does after a crash, at the cost of
        re-adding what changed since the last save. The index adds vectors to
        its HNSW graph in the background; the save first drains that queue,
        and ``save_index=False`` leaves it to the next open's catch-up."""
        check_flag(save_index, "save_index")
        if not self._store.closed and self._owner:
            saving.close(self._store, self._vectors, self._shared.backlog, lambda: self.flush(save_index=save_index))

    def unchanged(self) -> bool:
        """Whether no write reached the store since this read-only memory was opened (its
        engine files are as they were then: :func:`graphmem.store.files.fingerprint`);
        ``False`` for a read-write or in-memory one."""
        return self._fingerprint is not None and self.path is not None and (
            store_files.fingerprint(self.path) == self._fingerprint)

    def detached(self) -> Memory:
        """A view of this read-only memory that answers from what it has loaded, without its store.

        Once this memory is closed (the store free for any other process),
        the view still answers the reads that need nothing but the loaded
        graph state, vector index and name index: :meth:`neighbors`, the
        path queries, :meth:`search`, :meth:`find_names`, :meth:`types_of`,
        :meth:`type_summary` and the like, as of when this memory was opened.
        Any read that needs the store raises :class:`StoreDetached`: open
        the store for it. Check :meth:`unchanged` first: after a write the
        view answers for the store as it was. It never writes.

        Examples
        --------
        >>> import tempfile, graphmem
        >>> path = tempfile.mkdtemp() + "/store"
        >>> with graphmem.open(path, embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "Bob", "type": "Person"}])
        ...     _ = mem.add_relation("Ada", "KNOWS", "Bob")
        >>> with graphmem.open(path, embedder=None, read_only=True) as mem:
        ...     _ = mem.neighbors("Ada")  # loads the graph state
        ...     view = mem.detached()
        >>> view.unchanged(), [n.name for n in view.neighbors("Ada")]
        (True, ['Bob'])
        >>> view.get_entity("Ada")
        Traceback (most recent call last):
        ...
        graphmem.errors.StoreDetached: a detached memory answers from what it loaded; this needs the store (execute)
        """
        if not self.read_only or self._fingerprint is None:
            raise InvalidInput("only a read-only memory of a store on disk can be detached")
        view = self._view()
        # A DetachedStore stands in for the Store (its reads raise StoreDetached).
        stand_in, view._derived, view._vectors = detach(self._store, self._derived, self._vectors)
        view._store = stand_in  # type: ignore[assignment]
        return view

    def flush(self, *, save_index: bool = True) -> None:
        """Write the access statistics gathered since the last write and save the
        side vector index (both also happen at close). The store itself is
        durable at every commit; the index is derived data that is caught up
        from the store if a crash loses it."""
        check_flag(save_index, "save_index")
        self._store.check_open()
        if not self._store.read_only and len(self._shared.access):
            with self._store.transaction():
                self._flush_access()
        if save_index:
            saving.save_derived(self._store, self._vectors, self._derived, self._shared.backlog, self._shared.now)

    def _flush_access(self) -> None:
        """Inside a write transaction: the pending access statistics (:func:`upkeep.flush_access`)."""
        commit.flush_access(self._store, self._derived, self._shared)

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in memory"
        state = "closed" if self.closed else ("read-only" if self.read_only else "read-write")
        return f"<graphmem.Memory {where} engine={self.engine} namespace={self._namespace} {state}>"

    def _writable(self) -> None:
        commit.writable(self._store)

    def _key(self, name: str) -> str:
        return entity_key(self._namespace, name)

    # -- entities ----------------------------------------------------------------

    @timed("add_entity")
    def add_entity(
        self,
        name: str,
        *,
        type: str | None = None,
        text: str | None = None,
        observations: Iterable[str] | None = None,
        properties: Mapping[str, Any] | None = None,
        embedding: Any = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        importance: float | None = None,
    ) -> Entity:
        """Create or update the entity ``name`` and return it as stored.

        On an existing entity only what is given changes: ``text`` and
        ``embedding`` replace, ``observations`` are appended (duplicates
        skipped, order kept), ``properties`` merge key by key, and ``type=None``
        keeps the stored type (a new entity gets ``"Entity"``).

        ``valid_from`` / ``valid_to`` (timezone-aware datetimes; ``None``
        keeps what is stored) bound when the entity holds in the world; reads
        at a time outside them do not see it. An update keeps the version it
        replaces as history (:meth:`history`); a write that changes nothing
        writes nothing. Writing the name of an expired entity revives it.
        ``importance`` (a number; ``None`` keeps it) ranks the entity for
        ``forget(policy="importance")``.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entity("Alice", type="Person", observations=["likes Rust"])
        ...     mem.add_entity("Alice", observations=["likes Go"]).observations
        ('likes Rust', 'likes Go')
        """
        item = parse_entity(name, type, text, observations, properties, embedding, valid_from, valid_to, importance)
        return self._written(self._write_entities([item])[0].name)  # another name if merged into a duplicate

    def remove_observations(self, name: str, observations: Iterable[str]) -> Entity:
        """Remove ``observations`` from the current entity ``name`` and return it as stored.

        Observations it does not have are ignored; removing any records a new
        version (the old one stays in :meth:`history`) and embeds the entity
        again from its new text. :class:`NotFound` if there is no current
        entity ``name``.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entity("Alice", observations=["likes Rust", "likes Go"])
        ...     mem.remove_observations("Alice", ["likes Go", "never said"]).observations
        ('likes Rust',)
        """
        item = parse_entity(name)
        drop = frozenset(check_observations(observations) or ())
        commit.remove_observations(self._store, self._derived, self._cache, self._vectors, self._shared, item, drop,
                                   namespace=self._namespace, embedder=self._embedder)  # fmt: skip
        return self._written(item.name)

    @timed("add_entities")
    def add_entities(self, entities: Iterable[Mapping[str, Any]]) -> int:
        """Upsert many entities in one transaction; return how many records were written.

        Each record is a dict with ``name`` and optionally ``type``, ``text``,
        ``observations``, ``properties``, ``embedding``, ``valid_from``,
        ``valid_to``, ``importance`` (same rules as
        :meth:`add_entity`, applied in order). One bad record raises and
        nothing is written.
        """
        if isinstance(entities, (str, bytes, Mapping)):
            raise InvalidInput("add_entities takes a list of dicts; use add_entity for one")
        batch = bulk.read_entities(entities, vectors=True, min_rows=bulk.ENTITY_BULK_FROM)
        if batch is not None and self._write_entity_batch(batch):
            return len(batch)
        items = commit.entity_items(entities)
        if items:
            self._write_entities(items)
        return len(items)

    def _write_entity_batch(self, batch: bulk.EntityBatch) -> bool:
        """The bulk path (:func:`commit.write_entity_batch`): whether it wrote ``batch``."""
        return commit.write_entity_batch(self._store, self._derived, self._cache, self._vectors, self._shared, batch,
                                         namespace=self._namespace, embedder=self._embedder)  # fmt: skip

    def has_entities(self, names: Iterable[str]) -> list[bool]:
        """Whether :meth:`get_entity` would find each name, answered from memory in one pass.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entity("Alice")
        ...     mem.has_entities(["Alice", "Bob"])
        [True, False]
        """
        if isinstance(names, str):
            raise InvalidInput("has_entities takes a list of names, not one str")
        checked = [check_name(n) for n in names]
        self._store.check_open()
        return self._stored(checked) if checked else []

    def has_relations(self, relations: Iterable[tuple[str, str, str]]) -> list[bool]:
        """Whether each (source, type, target) is a current relation, answered from memory in one pass.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Alice"}, {"name": "Acme"}])
        ...     _ = mem.add_relation("Alice", "WORKS_AT", "Acme")
        ...     mem.has_relations([("Alice", "WORKS_AT", "Acme"), ("Acme", "WORKS_AT", "Alice")])
        [True, False]
        """
        triples = [(check_name(s, "source"), check_type(t, "relation type"), check_name(d, "target"))
                   for s, t, d in relations]  # fmt: skip
        self._store.check_open()
        if not triples:
            return []
        return lookup.relations_present(self._derived.get(), self._namespace, triples)

    def text_entries(self, names: Iterable[str]) -> list[TextEntry | None]:
        """The :meth:`find_text` entries of these names (``None`` where :meth:`get_entity` finds nothing).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entity("Alice", type="Person", observations=["likes Rust"])
        ...     [e and e.observations for e in mem.text_entries(["Alice", "Bob"])]
        [('likes Rust',), None]
        """
        checked = list(names) if not isinstance(names, str) else None
        if checked is None:
            raise InvalidInput("text_entries takes a list of names, not one str")
        here = self.has_entities(checked)
        text = self._text_index()
        return lookup.text_entries(self._derived.get(), text, self._namespace, checked, here)

    def _stored(self, names: list[str]) -> list[bool]:
        """Whether :meth:`get_entity` finds each name (a current entity whose
        validity covers now), in one pass over the id map and the validity bounds."""
        return lookup.entities_present(self._derived.get(), self._namespace, names, micros(utcnow()))

    def _held_observations(self, names: list[str], *, texts: bool = False) -> dict[str, Any]:
        """How many observations each current entity of ``names`` holds (or, with ``texts``,
        which): ``graphmem import`` checks its lines against these before writing anything."""
        return held_observations(self._store, self._derived.get(), self._namespace, names, texts=texts)

    def _write_entities(self, items: list[EntityInput]) -> list[EntityInput]:
        """Write ``items`` in one transaction; returns them as written (see ``duplicates``)."""
        return commit.write_entities(self._store, self._derived, self._cache, self._vectors, self._shared, items,
                                     namespace=self._namespace, embedder=self._embedder)  # fmt: skip

    @timed("get_entity")
    def get_entity(
        self, name: str, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> Entity | None:
        """The entity called ``name``, or ``None``.

        By default the current entity, if its validity covers now. ``as_of``
        (world time) asks for the entity if it was valid then; ``known_at``
        (system time) for the version graphmem held then (history versions
        carry no vector). Both are timezone-aware datetimes.
        """
        key = self._key(check_name(name))
        at, known = check_time(as_of, "as_of"), check_time(known_at, "known_at")
        self._store.check_open()
        row = entity_at(self._store, self._cache, key, at=at, known=known, clock=utcnow)
        if row is None:
            return None
        self._shared.access.record_one(key)
        return row.to_entity()

    def _row(self, key: str) -> EntityRow | None:
        """The stored row of ``key`` (current or expired), through the entity cache."""
        return stored_row(self._store, self._cache, key)

    def _written(self, name: str) -> Entity:
        """The entity ``name`` as a write that just committed stored it."""
        row = self._row(self._key(name))
        if row is None:  # pragma: no cover - the write just committed
            raise NotFound(name)
        return row.to_entity()

    def delete_entity(self, name: str) -> bool:
        """Delete ``name`` for good: its relations, vector and history go too (the hard
        delete; :meth:`expire_entity` is the soft one). ``False`` if it did not exist."""
        return bool(self._retire([self._key(check_name(name))], hard=True))

    def delete_entities(self, names: Iterable[str]) -> list[bool]:
        """:meth:`delete_entity` for many names in one transaction, a few statements in all.

        Returns, for each name, whether it existed (current or expired) before
        the call; a name given twice is deleted once (``True`` both times).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Alice"}, {"name": "Bob"}])
        ...     mem.delete_entities(["Alice", "Zed", "Bob"]), len(mem)
        ([True, False, True], 0)
        """
        if isinstance(names, str):
            raise InvalidInput("delete_entities takes a list of names; use delete_entity for one")
        keys = [self._key(check_name(n)) for n in names]
        gone = set(self._retire(keys, hard=True))
        return [key in gone for key in keys]

    def expire_entity(self, name: str) -> bool:
        """Retire ``name`` and its current relations (the soft delete).

        The entity is kept as history: invisible to current reads, visible to
        ``known_at`` reads before now, listed by :meth:`history`, removed for
        good by :meth:`purge`. Writing the name again revives it (a new
        version, same id). ``False`` if there was no current entity.
        """
        return bool(self._retire([self._key(check_name(name))], hard=False))

    def _retire(self, keys: list[str], *, hard: bool) -> list[str]:
        """Delete (``hard``) or expire these entities in one transaction; the keys there were."""
        self._writable()
        with self._store.transaction() as tx:
            return removal.retire(self._store, self._derived.get(), tx, self._cache, self._vectors,
                                  self._shared.access, keys, hard=hard, now=self._shared.now)  # fmt: skip

    # -- relations ---------------------------------------------------------------

    @timed("add_relation")
    def add_relation(
        self, source: str, type: str, target: str, *, properties: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None, valid_to: datetime | None = None, replaces: bool = False,
    ) -> Relation:  # fmt: skip
        """Create ``source -[type]-> target``, or a new version of the current one.

        Both entities must exist (:class:`NotFound` otherwise). There is at
        most one current relation per (source, type, target): writing it again
        with new ``properties`` (merged into the old ones) or a new validity
        retires the old version (kept as history, :meth:`history`) and records
        the new one; writing it with nothing new changes nothing.

        ``valid_from`` / ``valid_to`` (timezone-aware datetimes) bound when the
        fact holds in the world. ``replaces=True`` retires the source's other
        current relations of this type: "Alice WORKS_AT Beta" replacing
        "Alice WORKS_AT Acme" keeps the old job as history.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("Alice", "Acme", "Beta")])
        ...     _ = mem.add_relation("Alice", "WORKS_AT", "Acme")
        ...     _ = mem.add_relation("Alice", "WORKS_AT", "Beta", replaces=True)
        ...     [n.name for n in mem.neighbors("Alice")], len(mem.history("Alice").relations)
        (['Beta'], 2)
        """
        item = parse_relation(source, type, target, properties, valid_from, valid_to, replaces)
        self._write_relations([item])
        relation = self.get_relation(item.source, item.type, item.target)
        if relation is None:  # pragma: no cover - the write just committed
            raise NotFound(f"{item.source} -[{item.type}]-> {item.target}")
        return relation

    @timed("add_relations")
    def add_relations(self, relations: Iterable[Any]) -> int:
        """Upsert many relations in one transaction; return how many records were written.

        Each record is ``(source, type, target)``, ``(source, type, target,
        properties)`` or a dict with ``source``, ``type``, ``target`` and
        optionally ``properties``, ``valid_from``, ``valid_to``, ``replaces``
        (as in :meth:`add_relation`). A missing endpoint raises
        :class:`NotFound` and nothing is written.
        """
        if isinstance(relations, (str, bytes, Mapping)):
            raise InvalidInput("add_relations takes a list of tuples or dicts; use add_relation for one")
        batch = bulk.read_relations(relations, min_rows=self._store.config.relation_copy_threshold)
        if batch is not None and self._write_relation_batch(batch):
            return len(batch)
        items = commit.relation_items(relations)
        if items:
            self._write_relations(items)
        return len(items)

    def _write_relation_batch(self, batch: bulk.RelationBatch) -> bool:
        """The bulk path for relations (:func:`commit.write_relation_batch`)."""
        return commit.write_relation_batch(self._store, self._derived, self._shared, batch, namespace=self._namespace)

    def _write_relations(self, items: list[RelationInput]) -> None:
        commit.write_relations(self._store, self._derived, self._shared, items, namespace=self._namespace)

    def get_relation(self, source: str, type: str, target: str) -> Relation | None:
        """The relation ``source -[type]-> target``, or ``None``."""
        params = {
            "source": self._key(check_name(source, "source")),
            "type": check_type(type, "relation type"),
            "target": self._key(check_name(target, "target")),
        }
        rows = self._store.execute("relation_get", params)
        return relation_from_db(source, type, target, rows[0]) if rows else None

    def delete_relation(self, source: str, type: str, target: str) -> bool:
        """Delete ``source -[type]-> target`` for good, with its history (the hard
        delete; :meth:`expire_relation` is the soft one). ``False`` if it was not current."""
        return self._end_relation(source, type, target, expire=False)

    def expire_relation(self, source: str, type: str, target: str) -> bool:
        """Retire the current ``source -[type]-> target`` (kept as history, invisible
        to current reads); ``False`` if there was none."""
        return self._end_relation(source, type, target, expire=True)

    def _end_relation(self, source: str, type: str, target: str, *, expire: bool) -> bool:
        item = parse_relation(source, type, target)
        return commit.end_relation(self._store, self._derived, self._shared, item, namespace=self._namespace,
                                   expire=expire)  # fmt: skip

    # -- history -----------------------------------------------------------------

    def history(self, name: str, *, limit: int | None = None) -> History:
        """Every version graphmem holds of ``name`` and of its relations, oldest first.

        ``entity`` lists the entity's versions (the current or expired row
        last; earlier versions carry no vector), ``relations`` every version
        of the relations that touch it, current and expired, by the time they
        were recorded. :class:`NotFound` if the name was never written (or was
        deleted or purged).

        ``limit`` keeps the newest ``limit`` entity versions and the newest
        ``limit`` relation versions (still oldest first): a hub's relation
        history is as long as its degree, and the store then returns only
        those rows.
        """
        key = self._key(check_name(name))
        if limit is not None:
            limit = check_positive_int(limit, "limit")
        self._store.check_open()
        with self._store.exclusive():  # one consistent read of both tables
            return entity_history(self._store, key, name, self._row(key), limit=limit)

    def relation_history(self, name: str, *, limit: int = 25, before: str | None = None) -> RelationHistoryPage:
        """A page of the versions of the relations touching ``name``, newest first: at most ``limit``.

        Current and retired versions, in the order they were recorded (ties, as
        in a batch write, by the engine's relation id); a self-loop counts once.
        The page's ``older`` is the cursor of the next (older) page: pass it as
        ``before`` (a cursor is good while the store is unchanged; after a write
        a page may repeat or skip versions written in one transaction). Bounded
        at a hub: the cost grows with ``limit`` (and two columns of each of the
        entity's relations), not with how many relations share a write time.
        :class:`NotFound` if the name was never written (or was deleted or
        purged); :class:`InvalidInput` for a ``before`` that is not a cursor.

        Examples
        --------
        >>> import graphmem
        >>> mem = graphmem.open(embedder=None)
        >>> _ = mem.add_entities([{"name": n} for n in ("Ada", "Bob", "Cy", "Acme")])
        >>> _ = mem.add_relations([("Ada", "KNOWS", "Bob"), ("Cy", "KNOWS", "Ada")])
        >>> _ = mem.add_relation("Ada", "WORKS_AT", "Acme")
        >>> page = mem.relation_history("Ada", limit=2)
        >>> [(r.source, r.type, r.target) for r in page.relations]
        [('Ada', 'WORKS_AT', 'Acme'), ('Cy', 'KNOWS', 'Ada')]
        >>> rest = mem.relation_history("Ada", limit=2, before=page.older)
        >>> [(r.source, r.type, r.target) for r in rest.relations], rest.older
        ([('Ada', 'KNOWS', 'Bob')], None)
        >>> mem.close()
        """
        key = self._key(check_name(name))
        limit = check_positive_int(limit, "limit")
        if before is not None and not isinstance(before, str):
            raise InvalidInput(f"before must be the text of a page's 'older', not {type(before).__name__}")
        self._store.check_open()
        with self._store.exclusive():
            page = relation_page(self._store, key, name, limit=limit, before=before)
            if not page.relations and self._row(key) is None:
                read_versions(self._store, key, name, None, limit=1)  # NotFound unless it has a past
        return page

    def entity_versions(self, name: str, *, limit: int = 100) -> EntityVersions:
        """The newest ``limit`` versions of ``name``, oldest first: the current (or retired) one last.

        Each version's ``updated_at`` is when it was recorded, ``expired_at``
        when it was replaced or retired; earlier versions carry no vector.
        ``truncated`` says older versions were left out. :class:`NotFound` if
        the name was never written (or was deleted or purged). The answer is
        bounded by ``limit``, its read by the entity's own history (its versions
        are found from its key through their links, not by a scan of the store's).

        Examples
        --------
        >>> import graphmem
        >>> mem = graphmem.open(embedder=None)
        >>> _ = mem.add_entity("Ada", type="Person", text="engineer")
        >>> _ = mem.add_entity("Ada", text="countess")
        >>> found = mem.entity_versions("Ada")
        >>> [(v.text, v.expired_at is None) for v in found.versions], found.truncated
        ([('engineer', False), ('countess', True)], False)
        >>> [v.text for v in mem.entity_versions("Ada", limit=1).versions]
        ['countess']
        >>> mem.close()
        """
        key = self._key(check_name(name))
        limit = check_positive_int(limit, "limit")
        self._store.check_open()
        with self._store.exclusive():  # one consistent read of both tables
            return read_versions(self._store, key, name, self._row(key), limit=limit)

    def purge(self, *, before: datetime | None = None) -> dict[str, int]:
        """Remove for good the history of this namespace that expired before ``before``.

        Expired relations, entity versions and expired entities (with their
        relations) whose ``expired_at`` is earlier than ``before`` (a required,
        timezone-aware datetime) are deleted; current facts are never touched.
        Returns the counts removed.
        """
        bound = check_time(before, "before")
        if bound is None:
            raise InvalidInput("purge needs before= (a timezone-aware datetime): it deletes history for good")
        self._writable()
        return upkeep.purge(self._store, self._derived, self._cache, namespace=self._namespace, before=bound)

    # -- traversal ---------------------------------------------------------------

    @timed("neighbors")
    def neighbors(
        self, name: str, *, direction: str = "both", types: Iterable[str] | str | None = None,
        as_of: datetime | None = None, known_at: datetime | None = None, limit: int | None = None,
    ) -> Neighbors:  # fmt: skip
        """The entities one relation away from ``name``.

        ``direction`` is ``"out"``, ``"in"`` or ``"both"``; each neighbour says
        which way its relation points relative to ``name``. ``types`` keeps only
        those relation types. Sorted by name, type, direction. ``as_of`` /
        ``known_at`` as in :meth:`get_entity`: the relations and neighbours
        valid (and known) then.

        ``limit`` (a positive int) keeps at most that many, for a caller that
        must stay bounded at a hub: the result's ``total`` counts them all and
        ``truncated`` says whether any were left out. Only the kept ones are
        named, so the cost does not grow with the degree beyond a count in
        NumPy; which ones are kept is the relation index's order (the oldest
        entities first; a larger ``limit`` keeps a superset), and they come
        back sorted as without a limit.

        Answered from the in-memory relation index (the same graph the path
        queries read, with this process's writes applied), not from the
        store: Kuzu plans the Cypher form as a scan of every relation. A past
        ``known_at`` still loads the relations held then from the store once
        (cached per time), as every time-travel read does.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("Ada", "Bob", "Cy", "Acme")])
        ...     _ = mem.add_relations([("Ada", "KNOWS", "Bob"), ("Cy", "KNOWS", "Ada"), ("Ada", "WORKS_AT", "Acme")])
        ...     shown = mem.neighbors("Ada", limit=2)
        ...     [n.name for n in mem.neighbors("Ada")], len(shown), shown.total, shown.truncated
        (['Acme', 'Bob', 'Cy'], 2, 3, True)
        """
        request = neighbors_request(name, direction=direction, types=types, limit=limit)
        at_now = as_of is None and known_at is None
        if at_now and request.types is not None and not request.types:
            return Neighbors()
        self._store.check_open()
        graph, _ = self._graph(as_of, known_at)  # one snapshot: the name and its neighbours in one state
        return traversal.neighbors_of(graph, self._namespace, request, at_now=at_now)

    def _neighbors_cypher(self, name: str, *, direction: str = "both",
                          types: Iterable[str] | str | None = None) -> list[Neighbor]:  # fmt: skip
        """``neighbors`` at now through the store's Cypher (the former implementation).

        Kept as the oracle of the differential tests and the Cypher peer of the
        benchmarks: the in-memory answer must equal it on every graph.
        """
        request = neighbors_request(name, direction=direction, types=types)
        return traversal.neighbors_cypher(self._store, lambda: self._graph(None, None)[0], self._namespace, request,
                                          utcnow())  # fmt: skip

    def _graph(self, as_of: Any, known_at: Any) -> tuple[GraphSnapshot, TimeView | None]:
        """The graph a read at (``as_of``, ``known_at``) sees, as one snapshot (:meth:`TimeViews.graph`)."""
        return self._shared.views.graph(self._store, self._derived, as_of, known_at, utcnow)

    # -- paths (graphmem/query/traversal.py) -------------------------------------------

    @timed("shortest_path")
    def shortest_path(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both",
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> Path | None:  # fmt: skip
        """A shortest path from ``source`` to ``target``, or ``None`` if there is none.

        ``direction`` is ``"out"`` (relations followed source to target),
        ``"in"`` (backwards) or ``"both"``; ``types`` keeps only those relation
        types (types that do not exist match nothing: no error); ``max_hops``
        bounds the length. ``len(path)`` is the hop count, and ``source ==
        target`` is a zero-hop path. Unknown names raise :class:`NotFound`.
        Answers are cached, and the cache stays exact under writes and as
        validity intervals begin and end. ``as_of`` / ``known_at`` (every path
        method takes them) read the graph at another world or system time, as
        in :meth:`get_entity`.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("Ada", "Acme", "Bob")])
        ...     _ = mem.add_relations([("Ada", "WORKS_AT", "Acme"), ("Bob", "WORKS_AT", "Acme")])
        ...     mem.shortest_path("Ada", "Bob"), mem.shortest_path("Ada", "Bob", direction="out")
        (Path(nodes=('Ada', 'Acme', 'Bob'), relations=('WORKS_AT', 'WORKS_AT')), None)
        """
        self._store.check_open()
        return traversal.shortest_path(self._graph(as_of, known_at)[0], self._namespace, source, target,
                                       max_hops=max_hops, types=types, direction=direction)  # fmt: skip

    def all_shortest_paths(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both", limit: int = 100,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> list[Path]:  # fmt: skip
        """Every shortest path from ``source`` to ``target`` (at most ``limit``), sorted.

        Same arguments as :meth:`shortest_path`. Paths are distinct as
        (nodes, relation types); when more than ``limit`` exist, ``limit`` of
        them are returned (ask again with a larger ``limit`` for more). No
        path gives ``[]``.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in "abcd"])
        ...     _ = mem.add_relations([("a", "R", "b"), ("a", "R", "c"), ("b", "R", "d"), ("c", "R", "d")])
        ...     [p.nodes for p in mem.all_shortest_paths("a", "d")]
        [('a', 'b', 'd'), ('a', 'c', 'd')]
        """
        self._store.check_open()
        return traversal.all_shortest_paths(self._graph(as_of, known_at)[0], self._namespace, source, target,
                                            max_hops=max_hops, types=types, direction=direction, limit=limit)  # fmt: skip

    @timed("k_hop")
    def k_hop(
        self, name: str, hops: int = 1, *, direction: str = "both",
        types: Iterable[str] | str | None = None, max_entities: int | None = None,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> KHop:  # fmt: skip
        """The entities within ``hops`` relations of ``name``, with their distances.

        The result maps each name to its hop count (``name`` itself is 0),
        nearest first; ``max_entities`` keeps only the nearest ones (and sets
        ``truncated``). ``direction`` and ``types`` as in :meth:`shortest_path`.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in "abcd"])
        ...     _ = mem.add_relations([("a", "R", "b"), ("b", "R", "c"), ("c", "R", "d")])
        ...     dict(mem.k_hop("b", 2).distances)
        {'b': 0, 'a': 1, 'c': 1, 'd': 2}
        """
        self._store.check_open()
        return traversal.k_hop(self._graph(as_of, known_at)[0], self._namespace, name, hops, direction=direction,
                               types=types, max_entities=max_entities)  # fmt: skip

    def subgraph(
        self, seeds: str | Iterable[str], hops: int = 1, *, direction: str = "both",
        types: Iterable[str] | str | None = None, max_entities: int | None = 100, max_relations: int | None = 500,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> Subgraph:  # fmt: skip
        """The entities within ``hops`` of the seed entities, and the relations among them.

        For an agent's context: ``entities`` maps each name to its distance
        from the nearest seed (nearest first), ``relations`` lists the
        ``(source, type, target)`` relations between those entities that pass
        ``types``. ``max_entities`` keeps the nearest entities and
        ``max_relations`` the relations of the nearest ones; ``truncated`` says
        whether a cap cut anything.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in "abcd"])
        ...     _ = mem.add_relations([("a", "R", "b"), ("b", "S", "c"), ("c", "R", "d")])
        ...     g = mem.subgraph("b", 1)
        ...     dict(g.entities), g.relations
        ({'b': 0, 'a': 1, 'c': 1}, (('a', 'R', 'b'), ('b', 'S', 'c')))
        """
        self._store.check_open()
        return traversal.subgraph(self._graph(as_of, known_at)[0], self._namespace, seeds, hops, direction=direction,
                                  types=types, max_entities=max_entities, max_relations=max_relations)  # fmt: skip

    # -- semantic search ---------------------------------------------------------

    @timed("search")
    def search(
        self,
        query: str | Any,
        k: int = 10,
        *,
        types: Iterable[str] | str | None = None,
        near: str | Iterable[str] | None = None,
        max_hops: int | None = None,
        direction: str = "both",
        relation_types: Iterable[str] | str | None = None,
        rank: str = "similarity",
        decay: float = 0.5,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> list[Hit]:
        """The ``k`` entities most similar to ``query``, best first.

        ``query`` is a text (embedded with this memory's embedder) or a vector
        of the store's dimension. ``types`` keeps only entities of those types
        (an unknown type matches nothing). ``k`` larger than the store returns
        what exists. Entities without a vector (added with no embedder and no
        ``embedding``, or through Cypher) are never hits.

        With ``near`` (one entity name or several), hits are limited to the
        entities within ``max_hops`` relations of any of them (``None``: any
        distance), following ``direction`` and ``relation_types`` as in
        :meth:`shortest_path`; the anchors themselves are candidates (0 hops).
        Each hit then carries ``hops`` (distance to the nearest anchor) and
        ``path`` (a shortest path from that anchor): the explanation.

        ``rank="similarity"`` scores by cosine similarity; ``rank="hybrid"``
        (needs ``near``) by ``similarity * decay ** hops``. Ties go to the
        older entity.

        Hits are entities of this memory's namespace. ``as_of`` / ``known_at``
        search what was valid / known then (as in :meth:`get_entity`), ranked
        by the current vectors.

        Examples
        --------
        >>> import graphmem, numpy as np
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "x", "embedding": [1.0, 0.0]}, {"name": "y", "embedding": [0.6, 0.8]}])
        ...     [(h.name, round(h.score, 2)) for h in mem.search(np.array([0.0, 1.0]), k=2)]
        [('y', 0.8), ('x', 0.0)]
        """
        self._store.check_open()  # the index lives in memory: without this a closed memory still answered
        request = search.search_request(k, types, near, max_hops, direction, relation_types, rank, decay)
        vector = search.query_vector(query, self._embedder, self._vector_dim)
        hits, keys = search.search_hits(self._store, self._derived, self._vectors, self._shared.views, request, vector,
                                        namespace=self._namespace, vector_dim=self._vector_dim, as_of=as_of,
                                        known_at=known_at, clock=utcnow)  # fmt: skip
        self._shared.access.record(keys)
        return hits

    @timed("recall")
    def recall(
        self,
        query: str | Any,
        *,
        k: int = 10,
        hops: int = 1,
        max_entities: int = 30,
        max_relations: int = 60,
        types: Iterable[str] | str | None = None,
        direction: str = "both",
        relation_types: Iterable[str] | str | None = None,
        decay: float = 0.5,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> Recall:
        """What this memory knows about ``query``: a ranked, capped subgraph.

        In the spirit of local graph-RAG search: the ``k`` entities most
        similar to the query (of ``types``, if given) are the seeds; they are
        expanded by ``hops`` relations (``direction``, ``relation_types``); each
        entity scores ``similarity * decay ** hops`` (an entity without a vector
        inherits its seed's similarity); the best ``max_entities`` are kept
        with the ``max_relations`` strongest relations among them (ranked by
        their endpoints' scores). Deterministic. Use :meth:`Recall.to_text` to
        put it in a prompt. ``as_of`` / ``known_at`` recall what was valid /
        known then (the entity texts are the current ones).
        """
        self._store.check_open()  # the index lives in memory: without this a closed memory still answered
        request = recall_request(k=k, max_entities=max_entities, max_relations=max_relations, hops=hops, types=types,
                                 direction=direction, relation_types=relation_types, decay=decay)  # fmt: skip
        vector = search.query_vector(query, self._embedder, self._vector_dim)
        state, view = self._graph(as_of, known_at)
        found, keys = recalling.recall(self._store, self._cache, state, view, self._vectors.get(self._vector_dim),
                                       vector, request, namespace=self._namespace,
                                       text=query if isinstance(query, str) else None)  # fmt: skip
        self._shared.access.record(keys)
        return found

    def paths_between(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both", limit: int = 10,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> list[Explanation]:  # fmt: skip
        """Every shortest path from ``source`` to ``target`` (at most ``limit``),
        each with the entities along it (their current versions): how the memory connects the two."""
        paths = self.all_shortest_paths(source, target, max_hops=max_hops, types=types, direction=direction,
                                        limit=limit, as_of=as_of, known_at=known_at)  # fmt: skip
        stored = len(self._derived.get().ids)
        return explain(paths, self._namespace, lambda keys: fetch_rows(self._store, self._cache, keys, self._store.config,
                                                                       stored=stored, remember=True))  # fmt: skip

    def embed_missing(self) -> int:
        """Embed every current entity that has no vector; return how many got one.

        Entities lack a vector when they were written by user Cypher, with no
        embedder, or with background embedding (``graphmem.open(...,
        background_embedding=True)``) by a process that stopped before it
        embedded them. Needs an embedder. With background embedding the open
        already does this in the background; this does it now, in batches
        of 256 (each encoded outside the writer lock, stored in a transaction
        of its own).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=graphmem.HashEmbedder(dim=8)) as mem:
        ...     _ = mem.cypher("CREATE (:Entity {key: 'default\x1fAda', id: 0, namespace: 'default', name: 'Ada', "
        ...                    "type: 'Entity', observations: [], properties: '{}'})")
        ...     mem.embed_missing(), mem.embed_missing()
        (1, 0)
        """
        self._writable()
        embedder = self._embedder
        if embedder is None:
            raise InvalidInput("this memory has no embedder (opened with embedder=None): nothing can embed")
        keys = list(missing_keys(self._store))
        return sum(self._embed_keys(keys[i : i + 256], None) for i in range(0, len(keys), 256))

    def apply_once(self, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``apply`` (writes to this memory, made on this thread) as one
        transaction and return its result, a JSON-serialisable dict.

        Every write ``apply`` makes joins the one transaction: it commits
        whole or not at all. With a ``request_id`` (from
        :func:`graphmem.memory.requests.new_request_id`) the result is recorded in
        the same transaction, and a later call with the same id returns the
        recorded result without running ``apply``: a caller that retries
        after a crash applies its call once. Recorded ids are forgotten by
        :meth:`forget_requests`.

        The graph state (which entities exist, their ids and relations) takes
        in a transaction's writes when it commits. Within ``apply``, entity
        rows are read from the store once something was written, so writing
        one entity twice, or expiring and then writing it again, stores what
        separate calls would; but an entity created earlier in the same
        ``apply`` is not yet one that a relation may name (:class:`NotFound`,
        nothing written) or that ``expire_entity`` finds (``False``). Make
        such writes in separate calls.

        Examples
        --------
        >>> import graphmem
        >>> from graphmem.memory.requests import new_request_id
        >>> with graphmem.open(embedder=None) as mem:
        ...     rid = new_request_id()
        ...     def apply():
        ...         return {"written": mem.add_entities([{"name": "Ada"}, {"name": "Bob"}])}
        ...     mem.apply_once(rid, apply), mem.apply_once(rid, lambda: {"written": -1})
        ({'written': 2}, {'written': 2})
        """
        self._writable()
        result, applied = requests.apply_once(self._store, request_id, apply)
        if applied and request_id is not None:
            with self._shared.clock:
                self._shared.recorded += 1
                due = self._shared.recorded % 256 == 0
            if due:  # now and then, not on every call: a prune is a scan of Meta
                self.forget_requests()
        return result

    def forget_requests(self, *, older_than: float = requests.LOG_TTL_SECONDS) -> int:
        """Forget the request ids :meth:`apply_once` recorded more than
        ``older_than`` seconds ago (a retry of such a call applies it again);
        return how many. :meth:`apply_once` calls it every 256 recorded ids."""
        self._writable()
        return requests.prune(self._store, older_than)

    def wait_embedded(self, timeout: float | None = None, *, include_earlier: bool = True) -> bool:
        """With background embedding: wait until every entity written before
        this call has its vector (a search then finds it); ``False`` if
        ``timeout`` seconds passed first. Without it, returns ``True`` at once.

        ``include_earlier=False`` waits only for the writes of this memory
        since it opened, not for the entities it found without a vector when
        it opened (a store filled without the model: those are embedded in the
        background after this memory's own writes, and can take minutes).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=graphmem.HashEmbedder(dim=8), background_embedding=True) as mem:
        ...     _ = mem.add_entity("Ada", text="writes programs")
        ...     mem.wait_embedded(), [h.name for h in mem.search("programs", k=1)]
        (True, ['Ada'])
        """
        check_flag(include_earlier, "include_earlier")
        backlog = self._shared.backlog
        return True if backlog is None else backlog.wait(timeout, include_earlier=include_earlier)

    def _embed_keys(self, keys: list[str], guard: Any) -> int:
        embedder = self._embedder
        if embedder is None:  # pragma: no cover - a backlog exists only with an embedder
            return 0

        def fixed(dim: int) -> None:
            self._vector_dim = dim

        return embed_keys(self._store, self._cache, self._vectors, embedder, keys, vector_dim=self._vector_dim,
                          on_dim=fixed, guard=guard)  # fmt: skip

    # -- text ------------------------------------------------------------------

    def find_text(self, query: str, *, limit: int | None = None) -> list[TextEntry]:
        """The current entities whose name, type or an observation contains ``query``, ignoring case.

        The reference MCP server's search: ``query.lower()`` a substring of
        the lowercased name, type (as written: see
        :data:`~graphmem.index.text.TYPE_LABEL_KEY`) or an observation, in
        creation (id) order; the empty query matches every entity. Answered
        from an in-memory index (:mod:`graphmem.index.text`), built from the
        store on first use and kept exact by every write; validity bounds are
        not applied (as :meth:`iter_entities`).

        Parameters
        ----------
        query
            The text to look for (any length).
        limit
            At most this many entries (the first by id); ``None`` for all.

        Returns
        -------
        list of TextEntry
            ``id``, ``name``, ``type`` and ``observations`` of each match.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Alice", "observations": ["likes Rust"]},
        ...                           {"name": "Bob", "type": "Rustacean"}])
        ...     [e.name for e in mem.find_text("rust")], [e.name for e in mem.find_text("RUST", limit=1)]
        (['Alice', 'Bob'], ['Alice'])
        """
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, not {type(query).__name__}")
        if limit is not None:
            check_positive_int(limit, "limit")
        self._store.check_open()
        return self._text_index().find(self._namespace, query, limit=limit)

    def find_names(self, prefix: str = "", *, limit: int = 10, type: str | None = None) -> list[NameEntry]:
        """Up to ``limit`` current entities whose name starts with ``prefix``, ignoring case, in name order.

        Name order ignores case (ties: the exact name); ``type`` keeps only
        entities of that type (``prefix=""`` with a type: the type's first
        names). Answered from an in-memory index of the names
        (:mod:`graphmem.index.names`), built on first use after a write
        (~0.4 s at 1M entities) instead of a scan of the store per call;
        validity bounds are not applied (as :meth:`find_text`).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "ada", "type": "Person"}, {"name": "Adam", "type": "Person"},
        ...                           {"name": "Bob", "type": "Robot"}])
        ...     [e.name for e in mem.find_names("AD")], mem.find_names(type="Robot")
        (['ada', 'Adam'], [NameEntry(name='Bob', type='Robot')])
        """
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {prefix.__class__.__name__}")
        limit = check_positive_int(limit, "limit")
        if type is not None and not isinstance(type, str):
            raise InvalidInput(f"type must be a str or None, not {type!r}")
        self._store.check_open()
        return [NameEntry(name, kind) for name, kind in self._name_index().find(prefix, limit=limit, type=type)]

    def types_of(self, names: Iterable[str]) -> list[str | None]:
        """The type of each named current entity of this namespace, ``None`` for one that
        does not exist; from memory (one lookup per name, no store read).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "x"}])
        ...     mem.types_of(["Ada", "x", "nobody"])
        ['Person', 'Entity', None]
        """
        if isinstance(names, str):
            raise InvalidInput("names must be a list of names, not one str")
        keys = [self._key(check_name(n, "name")) for n in names]
        self._store.check_open()
        index = self._name_index()
        return lookup.types_of(self._derived.get(), index, keys)

    def type_summary(self) -> TypeSummary:
        """Current entities and relations of this namespace counted by type, how types connect
        (source type, relation type, target type, count; most used first) and the validity
        bounds of current facts: from memory, one vectorised pass over the relations (the
        store would scan and join every relation: ~4 s at 100k). Validity is not applied
        (as :meth:`stats`: current means not expired).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "Acme", "type": "Company"}])
        ...     _ = mem.add_relation("Ada", "WORKS_AT", "Acme")
        ...     summary = mem.type_summary()
        ...     summary.entity_types, summary.links, summary.bounded
        ({'Company': 1, 'Person': 1}, [('Person', 'WORKS_AT', 'Company', 1)], 0)
        """
        self._store.check_open()
        index = self._name_index()
        snap = self._derived.get().snapshot()  # the relations and their bounds of one state
        return lookup.type_summary(snap, index)

    def first_written(self) -> datetime | None:
        """When the oldest current entity of this namespace was created (timezone-aware,
        UTC); ``None`` when it has none.

        Read from the store, one scan of the namespace's entities (the derived
        state keeps no creation times): where a time line starts, such as the
        viewer's time slider.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     empty = mem.first_written()
        ...     ada = mem.add_entity("Ada")
        ...     _ = mem.add_entity("Bob")
        ...     empty, mem.first_written() == ada.created_at
        (None, True)
        """
        self._store.check_open()
        first = self._store.execute("first_written", {"namespace": self._namespace})[0][0]
        if isinstance(first, str):  # an engine that returns the timestamp as text
            first = datetime.fromisoformat(first)
        if first is None or first.tzinfo is not None:
            return first  # type: ignore[no-any-return]
        return first.replace(tzinfo=timezone.utc)  # type: ignore[no-any-return]

    def schema(self) -> Schema:
        """The store's tables as the engine's own catalog lists them: every table and
        its kind, the properties of graphmem's tables and the engine's Cypher functions
        (see :class:`~graphmem.types.Schema`). For tools that help write Cypher
        (the console's completion and ``:schema``); read-only, a few catalog reads.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     schema = mem.schema()
        ...     schema.tables["Entity"], schema.tables["Relation"], "name" in [c.name for c in schema.columns["Entity"]]
        ('NODE', 'REL', True)
        """
        self._store.check_open()
        return read_schema(self._store)

    def _name_index(self) -> NameIndex:
        """The name index of the current graph state, built again after a write."""
        state = self._derived.get()
        generation = state.generation  # read first: a write landing during the build makes the next call rebuild
        cached = self._names  # a namespace view starts with its parent's: the namespace is part of the key
        if cached is not None and cached[0] is state and cached[1] == generation and cached[2] == self._namespace:
            return cached[3]
        index = NameIndex.build(state.ids, state.entity_types, self._namespace)
        self._names = (state, generation, self._namespace, index)
        return index

    def find_relations(self, names: Iterable[str] | None = None) -> list[RelationEntry]:
        """The current relations of this namespace with an end among ``names`` (every one when ``None``).

        From memory (the relation index and the map of types as written,
        :mod:`graphmem.index.labels`), without reading the store; ordered by
        source id and target id (then type, in the order types were first used). Validity
        bounds are not applied (as :meth:`iter_relations`). A name that is not
        a current entity contributes nothing.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("Alice", "Acme", "Bob")])
        ...     _ = mem.add_relations([("Alice", "works_at", "Acme", {"mcp_relation_type": "works at"}),
        ...                            ("Bob", "KNOWS", "Alice")])
        ...     [(r.source, r.type, r.target) for r in mem.find_relations(["Acme"])]
        [('Alice', 'works at', 'Acme')]
        """
        checked = None
        if names is not None:
            if isinstance(names, str):
                raise InvalidInput("find_relations takes a list of names, not one str")
            checked = [check_name(n) for n in names]
        self._store.check_open()
        labels = self._relation_labels()
        snap = self._derived.get().snapshot()  # the names, the relations and their ends' names of one state
        return lookup.relation_entries(snap, labels, self._namespace, checked)

    def _relation_labels(self) -> RelationLabels:
        labels = self._derived.get().labels
        if labels is not None:
            return labels
        with self._store.exclusive():
            return self._derived.get().relation_labels(lambda: RelationLabels.load(self._store))

    def _text_index(self) -> TextIndex:
        """The derived state's text index, built on first use under the writer lock."""
        text = self._derived.get().text
        if text is not None:
            return text
        with self._store.exclusive():
            # The saved index (caught up) if there is one, else a scan of the store.
            return self._derived.get().text_index(self._derived.load_text)

    # -- scans -------------------------------------------------------------------

    def iter_entities(self, *, batch_size: int = 10_000) -> Iterator[Entity]:
        """Every current entity of this namespace, in id (creation) order.

        The store is read as Arrow tables, one statement per window of entity
        ids (a whole 1M-entity store in one statement overflows the engine's
        buffer pool), and converted ``batch_size`` rows at a time, column by
        column (:mod:`graphmem.scan`), so Python objects exist only per batch.
        Each window is read when the iteration reaches it: a write between
        windows may or may not be seen.
        """
        check_positive_int(batch_size, "batch_size")
        for table in self._id_windows("entity_export", first=batch_size):
            for batch in table.to_batches(max_chunksize=batch_size):
                yield from decode_entities(batch)

    def iter_relations(self, *, batch_size: int = 10_000) -> Iterator[Relation]:
        """Every current relation of this namespace, ordered by source id, target
        id and type; read in windows of source ids like :meth:`iter_entities`."""
        check_positive_int(batch_size, "batch_size")
        # ~5 relations per entity in a typical graph: the first window of
        # sources is a fifth of a batch, so taking the first batch reads about one.
        for table in self._id_windows("relation_export", first=max(1, batch_size // 5)):
            for batch in table.to_batches(max_chunksize=batch_size):
                yield from decode_relations(batch)

    def _id_windows(self, name: str, *, first: int) -> Iterator[Any]:
        """The Arrow tables of ``name`` over consecutive windows of entity ids
        that start with ``first`` of this namespace's entities and double up
        to the store's range size.

        When the derived state is loaded, its namespace bitmap places each
        window's end at an exact count of current entities and the last window
        is open-ended: no ``max(id)`` scan. Otherwise the windows are ranges of
        ids up to the store's highest id (:meth:`Store.iter_arrow_by_id`).
        Either way the windows are contiguous from id 0, so nothing is missed
        that is in the store when its window is read.
        """
        params = {"namespace": self._namespace}
        if not self._derived.loaded:
            yield from self._store.iter_arrow_by_id(name, params, next_id=self._store.entity_id_end(), first=first)
            return
        ids = np.asarray(self._derived.get().namespaces.members(self._namespace).to_array(), np.int64)
        yield from self._store.iter_arrow_windows(name, params, ids=ids, first=first)

    # -- Cypher and stats --------------------------------------------------------

    @timed("cypher")
    def cypher(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        read_only: bool = False,
        allow_file_access: bool = False,
    ) -> list[dict[str, Any]]:
        """Run one Cypher statement; rows come back as dicts keyed by column.

        Values go in as ``$parameters``; a statement whose parameter is not
        given is refused (:class:`QueryError`). A statement that writes is
        allowed on a writable store unless ``read_only=True`` (then it is
        refused with :class:`ReadOnlyStore` and changes nothing); graphmem
        then rebuilds its derived structures lazily. Entities created through Cypher have no vector and
        must follow the data model (``key`` = namespace, U+001F, name; a fresh
        ``id``); prefer :meth:`add_entity`.

        A statement that reads or writes files, reaches the network or loads
        code (``LOAD FROM`` anything but a ``$parameter`` bound to an
        in-memory table, ``COPY ... TO``, ``EXPORT``/``IMPORT DATABASE``,
        ``INSTALL``/``LOAD`` an extension, ``ATTACH``, table functions that
        read files, settings that move file access) is refused before it
        runs with :class:`FileAccessRefused`, read-only or not, unless the
        caller opts in with ``allow_file_access=True`` — only for Cypher you
        wrote yourself, never for text from an agent or a user.
        """
        return self._cypher(query, params, read_only, allow_file_access).dicts()

    def cypher_table(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        read_only: bool = False,
        allow_file_access: bool = False,
    ) -> tuple[list[str], list[list[Any]]]:
        """Like :meth:`cypher`, as (column names, rows): for tools that print
        tables, where an empty result still has columns."""
        result = self._cypher(query, params, read_only, allow_file_access)
        return result.columns, result.rows

    def _cypher(
        self, query: str, params: Mapping[str, Any] | None, read_only: bool, allow_file_access: bool
    ) -> CypherResult:
        return cypher.run(self._store, self._derived, query, params, read_only=read_only,
                          allow_file_access=allow_file_access, after_write=self._invalidate)  # fmt: skip

    # -- upkeep (graphmem/memory/upkeep.py) -----------------------------------------------

    def forget(self, *, max_entities: int | None = None, policy: str = "lru", hard: bool = False) -> list[str]:
        """Keep the ``max_entities`` most valuable current entities of this namespace; forget the rest.

        ``policy`` ranks them (``"lru"``, ``"lfu"`` or ``"importance"``; see
        :mod:`graphmem.lifecycle`). Forgotten entities are expired with their
        relations (kept as history, :meth:`history`), or deleted for good with
        ``hard=True``. Returns their names, least valuable first.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("a", "b", "c")])
        ...     _ = mem.get_entity("a")   # a was read: b is now the least recently used
        ...     mem.forget(max_entities=2), sorted(e.name for e in mem.iter_entities())
        (['b'], ['a', 'c'])
        """
        keep, policy, hard = upkeep.check_forget(max_entities, policy, hard)
        self._writable()
        return upkeep.forget(self._store, self._derived, self._cache, self._vectors, self._shared.access,
                             namespace=self._namespace, now=self._shared.now, keep=keep, policy=policy, hard=hard)

    def access(self, name: str) -> Access:
        """How often and when ``name`` was read, and its tier (reads not yet flushed included)."""
        key = self._key(check_name(name))
        self._store.check_open()
        return upkeep.access_of(self._store, self._shared.access, key, name)

    def compact(self, *, cold_after: timedelta) -> int:
        """Move to the cold tier the entities of this namespace not read or written
        for ``cold_after``: their text and observations are stored zstd-packed
        (only where that saves space, :mod:`graphmem.tiers`) and unpacked by
        every API read; graph, vector and versions stay. A later write stores
        the entity unpacked again. Returns how many were packed."""
        cold_after = upkeep.check_cold_after(cold_after)
        self._writable()
        return upkeep.compact(self._store, self._derived, self._cache, self._shared.access, namespace=self._namespace,
                              cold_after=cold_after)  # fmt: skip

    def find_duplicates(self, threshold: float = 0.9, *, k: int = 10, types: Any = None) -> list[Duplicate]:
        """Pairs of entities of one type in this namespace whose vectors have cosine
        similarity ``>= threshold``: candidates to :meth:`merge`.

        Each entity's ``k`` nearest neighbours come from one batched query of the
        vector index (not an all-pairs scan), so a pair is found when either
        entity is among the other's ``k`` nearest. Sorted by score, best first.
        On a large index a cheaper pass comes first (HNSW at a small search
        breadth): only the entities whose nearest neighbour scores near
        ``threshold`` (or whose search went astray) are queried for their
        ``k`` nearest (on the 100k benchmark store: the same pairs).
        """
        self._store.check_open()  # the index lives in memory: a closed memory must not answer
        threshold, k, types = upkeep.check_threshold(threshold), check_positive_int(k, "k"), check_types_filter(types)
        return upkeep.find_duplicates(self._derived.get(), self._vectors.get(self._vector_dim),
                                      namespace=self._namespace, threshold=threshold, k=k, types=types)

    def merge(self, keep: str, other: str) -> Entity:
        """Merge entity ``other`` into ``keep``, in one transaction, and return ``keep`` as stored.

        ``keep`` gains ``other``'s observations (appended, duplicates skipped),
        its properties where ``keep`` has none of that name, its text if it has
        none, and each of its current relations (re-attached to ``keep``; one
        between the two is dropped rather than made a self-loop). ``other`` is
        then expired: its versions and relations stay in the history under its
        name. Both must be current entities of this namespace, of one type.
        """
        a, b = upkeep.check_merge(keep, other)
        return commit.merge(self._store, self._derived, self._cache, self._vectors, self._shared, self._row, a, b,
                            namespace=self._namespace, embedder=self._embedder).to_entity()  # fmt: skip

    def _invalidate(self) -> None:
        self._derived.reset()
        self._shared.views.clear()
        self._cache.clear()
        self._vectors.forget()
        self._vector_dim = stored_vector_dim(self._store)

    def __len__(self) -> int:
        """The number of current entities in this namespace."""
        self._store.check_open()
        return stats.count(self._store, self._derived, self._namespace)

    def stats(self) -> dict[str, Any]:
        """Counts and sizes, JSON-serialisable.

        ``entities``, ``relations``, ``entity_types`` and ``relation_types``
        count the current facts of this memory's namespace (so ``entities ==
        len(mem)``, on a namespace view too); ``store_entities`` and
        ``store_relations`` count every namespace, and ``namespaces`` has the
        counts of each. Current means not expired: facts whose validity does
        not cover now are counted (as by ``len``), history is not.
        """
        return stats.stats(
            self._store, self._derived, self._cache, self._vectors, namespace=self._namespace,
            vector_dim=self._vector_dim, backlog=self._shared.backlog, latencies=self._shared.latencies,
            access_pending=len(self._shared.access), hot_since=utcnow() - upkeep.HOT_WINDOW,
        )  # fmt: skip
