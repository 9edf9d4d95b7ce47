"""``Memory``: the public facade (DESIGN.md, "Public API").

It validates every argument before touching anything, runs writes as one
transaction each (through :mod:`graphmem.writes`), and keeps the derived
structures and the entity cache in step with the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .config import DEFAULT_NAMESPACE, StoreConfig
from .embed import Embedder, resolve_embedder
from .errors import InvalidInput, NotFound, QueryError, ReadOnlyStore
from .index.derived import Derived
from .index.entity_cache import EntityCache
from .index.vector_store import VectorStore, epoch_us
from .records import KEY_SEPARATOR, entity_from_db, entity_key, relation_from_db, utcnow
from .store.engine import default_engine
from .store.store import CypherResult, Store, Tracer
from .types import Entity, Explanation, Hit, Neighbor, Recall, RecalledEntity, Relation
from .validate import (
    check_direction,
    check_name,
    check_positive_int,
    check_type,
    check_types_filter,
    check_vector,
)
from .retrieval import check_decay, check_rank, near_search, rank_context
from .writes import (
    apply_entity_plan,
    apply_relation_plan,
    fetch_rows,
    parse_entity,
    parse_entity_record,
    parse_relation,
    parse_relation_record,
    upsert_entities,
    upsert_relations,
)

__all__ = ["Memory", "open_memory"]

_NEIGHBORS = {"out": "neighbors_out", "in": "neighbors_in", "both": "neighbors_both"}
_NEIGHBORS_TYPED = {"out": "neighbors_out_typed", "in": "neighbors_in_typed", "both": "neighbors_both_typed"}


class Memory:
    """An agent's memory: entities and typed relations in an embedded graph store.

    Create one with :func:`graphmem.open`. Use it as a context manager, or call
    :meth:`close` (safe to call twice) to release the store's file lock.
    """

    def __init__(self, store: Store, *, embedder: Embedder | None, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._store = store
        self._embedder = embedder
        self._namespace = namespace
        self._derived = Derived(store)
        self._cache = EntityCache(store.config.entity_cache_size)
        self._vectors = VectorStore(store)
        meta = dict(store.execute("meta_all"))
        self._vector_dim: int | None = int(meta["vector_dim"]) if "vector_dim" in meta else None
        if embedder is not None and self._vector_dim is not None and embedder.dim != self._vector_dim:
            store.close()
            raise InvalidInput(
                f"the embedder makes {embedder.dim}-d vectors but this store holds {self._vector_dim}-d ones"
            )

    # -- lifecycle ---------------------------------------------------------------

    @property
    def path(self) -> Path | None:
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

    def close(self) -> None:
        """Save the vector index if it changed and release the store. Safe to call twice."""
        if self._store.closed:
            return
        try:
            self.flush()
        finally:
            self._store.close()

    def flush(self) -> None:
        """Save the side vector index now (it is also saved at close). The store
        itself is durable at every commit; the index is derived data that is
        caught up from the store if a crash loses it."""
        self._store.check_open()
        with self._store.exclusive():
            self._vectors.save()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in memory"
        state = "closed" if self.closed else ("read-only" if self.read_only else "read-write")
        return f"<graphmem.Memory {where} engine={self.engine} {state}>"

    def _writable(self) -> None:
        if self._store.read_only:
            raise ReadOnlyStore(f"this memory is open read-only ({self.path}); reopen it with read_only=False to write")

    def _key(self, name: str) -> str:
        return entity_key(self._namespace, name)

    # -- entities ----------------------------------------------------------------

    def add_entity(
        self,
        name: str,
        *,
        type: str | None = None,
        text: str | None = None,
        observations: Iterable[str] | None = None,
        properties: Mapping[str, Any] | None = None,
        embedding: Any = None,
    ) -> Entity:
        """Create or update the entity ``name`` and return it as stored.

        On an existing entity only what is given changes: ``text`` and
        ``embedding`` replace, ``observations`` are appended (duplicates
        skipped, order kept), ``properties`` merge key by key, and ``type=None``
        keeps the stored type (a new entity gets ``"Entity"``).

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entity("Alice", type="Person", observations=["likes Rust"])
        ...     mem.add_entity("Alice", observations=["likes Go"]).observations
        ('likes Rust', 'likes Go')
        """
        item = parse_entity(name, type, text, observations, properties, embedding)
        self._write_entities([item])
        hit, row = self._cache.lookup(self._key(item.name))
        if hit and row is not None:
            return row.to_entity()
        entity = self.get_entity(item.name)
        if entity is None:  # pragma: no cover - the write just committed
            raise NotFound(item.name)
        return entity

    def add_entities(self, entities: Iterable[Mapping[str, Any]]) -> int:
        """Upsert many entities in one transaction; return how many records were written.

        Each record is a dict with ``name`` and optionally ``type``, ``text``,
        ``observations``, ``properties``, ``embedding`` (same rules as
        :meth:`add_entity`, applied in order). One bad record raises and
        nothing is written.
        """
        if isinstance(entities, (str, bytes, Mapping)):
            raise InvalidInput("add_entities takes a list of dicts; use add_entity for one")
        items = [parse_entity_record(record, i) for i, record in enumerate(entities)]
        if items:
            self._write_entities(items)
        return len(items)

    def _write_entities(self, items: list[Any]) -> None:
        self._writable()
        with self._store.transaction() as tx:
            state = self._derived.get()
            plan = upsert_entities(
                self._store, state, self._cache, items,
                namespace=self._namespace, embedder=self._embedder, vector_dim=self._vector_dim,
                config=self._store.config, now=utcnow(),
            )  # fmt: skip
            if plan.new_dim is not None:
                self._store.execute("meta_set", {"key": "vector_dim", "value": str(plan.new_dim)})

            def bookkeeping() -> None:
                apply_entity_plan(state, self._cache, plan)
                if plan.new_dim is not None:
                    self._vector_dim = plan.new_dim
                index = self._vectors.peek()
                if index is not None and plan.vector_rows:
                    rows = plan.vector_rows
                    index.upsert(
                        np.fromiter((r.id for r in rows), np.int64, len(rows)),
                        np.frombuffer(b"".join(r.embedding or b"" for r in rows), np.int8).reshape(len(rows), -1),
                        np.fromiter((r.scale or 0.0 for r in rows), np.float32, len(rows)),
                    )
                    index.seq = max(index.seq, max(epoch_us(r.updated_at) for r in rows))

            tx.after_commit(bookkeeping)

    def get_entity(self, name: str) -> Entity | None:
        """The entity called ``name``, or ``None``."""
        key = self._key(check_name(name))
        self._store.check_open()
        hit, row = self._cache.lookup(key)
        if not hit:
            generation = self._cache.generation
            rows = self._store.execute("entity_get", {"key": key})
            row = entity_from_db(key, rows[0]) if rows else None
            self._cache.put_if_current(key, row, generation)
        return None if row is None else row.to_entity()

    def delete_entity(self, name: str) -> bool:
        """Delete ``name`` with its relations (and vector); ``False`` if it did not exist."""
        key = self._key(check_name(name))
        self._writable()
        with self._store.transaction() as tx:
            state = self._derived.get()
            id_ = state.ids.id_of(key)
            if id_ is None:
                return False
            incident = state.edges.incident(id_)
            self._store.execute("entity_delete", {"key": key})
            # Ids are never reused: remember the high-water mark across reopens.
            self._store.execute("meta_set", {"key": "id_floor", "value": str(state.ids.next_id)})

            def bookkeeping() -> None:
                state.ids.remove(key)
                state.entity_types.discard_everywhere([id_])
                state.edges.remove(incident)
                state.relation_types.discard_everywhere([id_])
                self._refresh_relation_types(state, {(t[0] if t[2] == id_ else t[2], t[1]) for t in incident})
                self._cache.written(deleted=[key])
                index = self._vectors.peek()
                if index is not None:
                    index.remove(np.array([id_]))

            tx.after_commit(bookkeeping)
        return True

    # -- relations ---------------------------------------------------------------

    def add_relation(
        self, source: str, type: str, target: str, *, properties: Mapping[str, Any] | None = None
    ) -> Relation:
        """Create ``source -[type]-> target`` (or merge ``properties`` into the existing one).

        Both entities must exist (:class:`NotFound` otherwise).
        """
        item = parse_relation(source, type, target, properties)
        self._write_relations([item])
        relation = self.get_relation(item.source, item.type, item.target)
        if relation is None:  # pragma: no cover - the write just committed
            raise NotFound(f"{item.source} -[{item.type}]-> {item.target}")
        return relation

    def add_relations(self, relations: Iterable[Any]) -> int:
        """Upsert many relations in one transaction; return how many records were written.

        Each record is ``(source, type, target)``, ``(source, type, target,
        properties)`` or a dict with ``source``, ``type``, ``target`` and
        optionally ``properties``. A missing endpoint raises :class:`NotFound`
        and nothing is written.
        """
        if isinstance(relations, (str, bytes, Mapping)):
            raise InvalidInput("add_relations takes a list of tuples or dicts; use add_relation for one")
        items = [parse_relation_record(record, i) for i, record in enumerate(relations)]
        if items:
            self._write_relations(items)
        return len(items)

    def _write_relations(self, items: list[Any]) -> None:
        self._writable()
        with self._store.transaction() as tx:
            state = self._derived.get()
            plan = upsert_relations(
                self._store, state, items, namespace=self._namespace, config=self._store.config, now=utcnow()
            )
            tx.after_commit(lambda: apply_relation_plan(state, plan))

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
        """Delete ``source -[type]-> target``; ``False`` if it did not exist."""
        item = parse_relation(source, type, target)
        self._writable()
        with self._store.transaction() as tx:
            state = self._derived.get()
            s, d = state.ids.id_of(self._key(item.source)), state.ids.id_of(self._key(item.target))
            code = state.edges.code_of(item.type)
            if s is None or d is None or code is None or not state.edges.contains(s, code, d):
                return False
            self._store.execute(
                "relation_delete",
                {"source": self._key(item.source), "type": item.type, "target": self._key(item.target)},
            )

            def bookkeeping() -> None:
                state.edges.remove([(s, code, d)])
                self._refresh_relation_types(state, {(s, code), (d, code)})

            tx.after_commit(bookkeeping)
        return True

    @staticmethod
    def _refresh_relation_types(state: Any, pairs: Iterable[tuple[int, int]]) -> None:
        """Drop an entity from a relation type's bitmap once its last such relation is gone."""
        for node, code in pairs:
            if not state.edges.has_incident_type(node, code):
                state.relation_types.discard(state.edges.type_names[code], [node])

    # -- traversal ---------------------------------------------------------------

    def neighbors(self, name: str, *, direction: str = "both", types: Iterable[str] | str | None = None) -> list[Neighbor]:
        """The entities one relation away from ``name``.

        ``direction`` is ``"out"``, ``"in"`` or ``"both"``; each neighbour says
        which way its relation points relative to ``name``. ``types`` keeps only
        those relation types. Sorted by name, type, direction.
        """
        key = self._key(check_name(name))
        direction = check_direction(direction)
        type_filter = check_types_filter(types)
        if type_filter is not None and not type_filter:
            return []
        if type_filter is None:
            rows = self._store.execute(_NEIGHBORS[direction], {"key": key})
        else:
            rows = self._store.execute(_NEIGHBORS_TYPED[direction], {"key": key, "types": list(type_filter)})
        if not rows and self.get_entity(name) is None:
            raise NotFound(f"no entity named {name!r}")
        return [Neighbor(n, t, d) for n, t, d in sorted(rows)]

    # -- paths (graphmem/traversal.py) -------------------------------------------

    def shortest_path(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both",
    ) -> traversal.Path | None:  # fmt: skip
        """A shortest path from ``source`` to ``target``, or ``None`` if there is none.

        ``direction`` is ``"out"`` (relations followed source to target),
        ``"in"`` (backwards) or ``"both"``; ``types`` keeps only those relation
        types (types that do not exist match nothing: no error); ``max_hops``
        bounds the length. ``len(path)`` is the hop count, and ``source ==
        target`` is a zero-hop path. Unknown names raise :class:`NotFound`.
        Answers are cached, and the cache stays exact under writes.

        Examples
        --------
        >>> import graphmem
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": n} for n in ("Ada", "Acme", "Bob")])
        ...     _ = mem.add_relations([("Ada", "WORKS_AT", "Acme"), ("Bob", "WORKS_AT", "Acme")])
        ...     mem.shortest_path("Ada", "Bob"), mem.shortest_path("Ada", "Bob", direction="out")
        (Path(nodes=('Ada', 'Acme', 'Bob'), relations=('WORKS_AT', 'WORKS_AT')), None)
        """
        from . import traversal

        self._store.check_open()
        return traversal.shortest_path(self._derived.get(), self._namespace, source, target,
                                       max_hops=max_hops, types=types, direction=direction)  # fmt: skip

    def all_shortest_paths(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both", limit: int = 100,
    ) -> list[traversal.Path]:  # fmt: skip
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
        from . import traversal

        self._store.check_open()
        return traversal.all_shortest_paths(self._derived.get(), self._namespace, source, target,
                                            max_hops=max_hops, types=types, direction=direction, limit=limit)  # fmt: skip

    def k_hop(
        self, name: str, hops: int = 1, *, direction: str = "both",
        types: Iterable[str] | str | None = None, max_entities: int | None = None,
    ) -> traversal.KHop:  # fmt: skip
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
        from . import traversal

        self._store.check_open()
        return traversal.k_hop(self._derived.get(), self._namespace, name, hops, direction=direction,
                               types=types, max_entities=max_entities)  # fmt: skip

    def subgraph(
        self, seeds: str | Iterable[str], hops: int = 1, *, direction: str = "both",
        types: Iterable[str] | str | None = None, max_entities: int = 100, max_relations: int = 500,
    ) -> traversal.Subgraph:  # fmt: skip
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
        from . import traversal

        self._store.check_open()
        return traversal.subgraph(self._derived.get(), self._namespace, seeds, hops, direction=direction,
                                  types=types, max_entities=max_entities, max_relations=max_relations)  # fmt: skip

    # -- semantic search ---------------------------------------------------------

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

        Examples
        --------
        >>> import graphmem, numpy as np
        >>> with graphmem.open(embedder=None) as mem:
        ...     _ = mem.add_entities([{"name": "x", "embedding": [1.0, 0.0]}, {"name": "y", "embedding": [0.6, 0.8]}])
        ...     [(h.name, round(h.score, 2)) for h in mem.search(np.array([0.0, 1.0]), k=2)]
        [('y', 0.8), ('x', 0.0)]
        """
        k = check_positive_int(k, "k")  # type: ignore[assignment]
        type_filter = check_types_filter(types)
        rank = check_rank(rank)
        decay = check_decay(decay)
        if near is None and max_hops is not None:
            raise InvalidInput("max_hops limits the distance from `near`: give near= too")
        if near is None and rank == "hybrid":
            raise InvalidInput('rank="hybrid" weighs the distance from `near`: give near= too')
        vector = self._query_vector(query)
        state = self._derived.get()
        anchors = self._anchor_ids(state, near) if near is not None else None
        index = self._vectors.get(self._vector_dim)
        if index is None:
            return []
        allowed = None if type_filter is None else state.entity_types.union(type_filter)
        if anchors is not None:
            return near_search(
                state, index, self._namespace, vector, k, anchors=anchors, max_hops=max_hops,
                direction=direction, relation_types=relation_types, allowed_types=allowed, rank=rank, decay=decay,
            )  # fmt: skip
        ids, scores = index.search(vector, k, allowed)
        hits = []
        for id_, score in zip(ids.tolist(), scores.tolist()):
            key = state.ids.key_of(id_)
            if key is not None:  # an entity deleted since the search began
                hits.append(Hit(name=key.split(KEY_SEPARATOR, 1)[1], score=float(score)))
        return hits

    def _anchor_ids(self, state: Any, near: Any) -> list[int]:
        names = [near] if isinstance(near, str) else near
        if not isinstance(names, Iterable):
            raise InvalidInput(f"near must be an entity name or a list of names, not {type(near).__name__}")
        names = [check_name(n, "near") for n in names]
        if not names:
            raise InvalidInput("near must name at least one entity")
        ids = []
        for name in dict.fromkeys(names):
            id_ = state.ids.id_of(self._key(name))
            if id_ is None:
                raise NotFound(f"no entity named {name!r} (given in near=)")
            ids.append(id_)
        return ids

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
    ) -> Recall:
        """What this memory knows about ``query``: a ranked, capped subgraph.

        In the spirit of local graph-RAG search: the ``k`` entities most
        similar to the query (of ``types``, if given) are the seeds; they are
        expanded by ``hops`` relations (``direction``, ``relation_types``); each
        entity scores ``similarity * decay ** hops`` (an entity without a vector
        inherits its seed's similarity); the best ``max_entities`` are kept
        with the ``max_relations`` strongest relations among them (ranked by
        their endpoints' scores). Deterministic. Use :meth:`Recall.to_text` to
        put it in a prompt.
        """
        k = check_positive_int(k, "k")  # type: ignore[assignment]
        check_positive_int(max_entities, "max_entities")
        if isinstance(max_relations, bool) or not isinstance(max_relations, int) or max_relations < 0:
            raise InvalidInput(f"max_relations must be an int >= 0, not {max_relations!r}")
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
            raise InvalidInput(f"hops must be an int >= 0, not {hops!r}")
        type_filter = check_types_filter(types)
        direction = check_direction(direction)
        check_types_filter(relation_types, "relation_types")
        decay = check_decay(decay)
        text = query if isinstance(query, str) else None
        vector = self._query_vector(query)
        state = self._derived.get()
        index = self._vectors.get(self._vector_dim)
        if index is None:
            return Recall(text, (), (), False)
        allowed = None if type_filter is None else state.entity_types.union(type_filter)
        seed_ids, seed_scores = index.search(vector, k, allowed)
        ranked = rank_context(
            state, index, vector, seed_ids, seed_scores, hops=hops, direction=direction,
            relation_types=relation_types, decay=decay, max_entities=max_entities, max_relations=max_relations,
        )  # fmt: skip
        keys = [state.ids.key_of(i) for i in ranked.ids]
        rows = fetch_rows(self._store, self._cache, [key for key in keys if key is not None],
                          self._store.config, stored=len(state.ids))  # fmt: skip
        entities = tuple(
            RecalledEntity(row.name, row.type, row.text, tuple(row.observations), score, hop)
            for key, score, hop in zip(keys, ranked.scores, ranked.hops)
            if key is not None and (row := rows.get(key)) is not None
        )
        names = {row.id: row.name for row in rows.values()}
        type_names = state.edges.type_names
        relations = tuple(
            (names[s], type_names[c], names[d]) for s, c, d in ranked.relations if s in names and d in names
        )
        return Recall(text, entities, relations, ranked.truncated)

    def paths_between(
        self, source: str, target: str, *, max_hops: int | None = None,
        types: Iterable[str] | str | None = None, direction: str = "both", limit: int = 10,
    ) -> list[Explanation]:  # fmt: skip
        """Every shortest path from ``source`` to ``target`` (at most ``limit``),
        each with the entities along it: how the memory connects the two."""
        paths = self.all_shortest_paths(source, target, max_hops=max_hops, types=types, direction=direction,
                                        limit=limit)  # fmt: skip
        state = self._derived.get()
        keys = list(dict.fromkeys(self._key(n) for p in paths for n in p.nodes))
        rows = fetch_rows(self._store, self._cache, keys, self._store.config, stored=len(state.ids))
        out = []
        for path in paths:
            found = [rows.get(self._key(n)) for n in path.nodes]
            if all(row is not None for row in found):  # a concurrent delete drops the path
                out.append(Explanation(path, tuple(row.to_entity() for row in found if row is not None)))
        return out

    def _query_vector(self, query: Any) -> np.ndarray:
        if isinstance(query, str):
            if self._embedder is None:
                raise InvalidInput("this memory has no embedder (opened with embedder=None): search with a vector")
            if not query.strip():
                raise InvalidInput("the query text is empty")
            query = self._embedder.encode([query])[0]
        return check_vector(query, self._vector_dim, "query vector")

    # -- scans -------------------------------------------------------------------

    def iter_entities(self, *, batch_size: int = 10_000) -> Iterator[Entity]:
        """Every entity, in id (creation) order.

        The store is read in one statement as an Arrow table and converted
        ``batch_size`` rows at a time, so Python objects exist only per batch.
        """
        check_positive_int(batch_size, "batch_size")
        table = self._store.execute_arrow("entity_export")
        for batch in table.to_batches(max_chunksize=batch_size):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for row in zip(*columns):
                yield entity_from_db(entity_key(row[1], row[2]), row).to_entity()

    def iter_relations(self, *, batch_size: int = 10_000) -> Iterator[Relation]:
        """Every relation, ordered by source, target and type."""
        check_positive_int(batch_size, "batch_size")
        table = self._store.execute_arrow("relation_export")
        for batch in table.to_batches(max_chunksize=batch_size):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for source, type_, target, properties, created in zip(*columns):
                yield relation_from_db(source, type_, target, (properties, created))

    # -- Cypher and stats --------------------------------------------------------

    def cypher(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a Cypher statement; rows come back as dicts keyed by column.

        Values go in as ``$parameters``; a statement whose parameter is not
        given is refused (:class:`QueryError`). A statement that writes is
        allowed on a writable store; graphmem then rebuilds its derived
        structures lazily. Entities created through Cypher have no vector and
        must follow the data model (``key`` = namespace, U+001F, name; a fresh
        ``id``); prefer :meth:`add_entity`.
        """
        return self._cypher(query, params).dicts()

    def cypher_table(self, query: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[Any]]]:
        """Like :meth:`cypher`, as (column names, rows): for tools that print
        tables, where an empty result still has columns."""
        result = self._cypher(query, params)
        return result.columns, result.rows

    def _cypher(self, query: str, params: Mapping[str, Any] | None) -> CypherResult:
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput(f"params must be a dict, not {type(params).__name__}")
        return self._store.cypher(
            query, params, before_write=self._pin_id_floor, check_write=self._check_data_model,
            after_write=self._invalidate,
        )  # fmt: skip

    def _check_data_model(self) -> None:
        """Refuse (roll back) a user Cypher write that leaves entities graphmem
        cannot use: its id map, bitmaps and vectors need every entity to have an
        id of its own and a key of namespace + U+001F + name."""
        bad = self._store.execute("model_violations", {"separator": KEY_SEPARATOR})
        if bad:
            keys = ", ".join(repr(row[0]) for row in bad)
            raise QueryError(
                f"refused: the statement leaves entities outside graphmem's data model ({keys}): each needs "
                "id (a unique INT64 >= 0), namespace, name, type and key = namespace + '\\x1f' + name; "
                "use add_entity() to create entities. Nothing was changed."
            )
        duplicates = self._store.execute("duplicate_ids")
        if duplicates:
            raise QueryError(
                f"refused: entity ids {[row[0] for row in duplicates]} would be shared by several entities; "
                "ids must be unique. Nothing was changed."
            )
        untyped = self._store.execute("untyped_relations")
        if untyped:
            raise QueryError(f"refused: relations {untyped} have no type. Nothing was changed.")

    def _pin_id_floor(self) -> None:
        """Before user Cypher writes: record the id high-water mark in the same
        transaction, so a statement that deletes the newest entity cannot make
        its id available again."""
        meta = dict(self._store.execute("meta_all"))
        highest = self._store.execute("entity_max_id")[0][0]
        floor = max(int(meta.get("id_floor", "0")), -1 if highest is None else int(highest) + 1)
        if self._derived.loaded:
            floor = max(floor, self._derived.get().ids.next_id)
        self._store.execute("meta_set", {"key": "id_floor", "value": str(floor)})

    def _invalidate(self) -> None:
        self._derived.reset()
        self._cache.clear()
        self._vectors.forget()
        meta = dict(self._store.execute("meta_all"))
        self._vector_dim = int(meta["vector_dim"]) if "vector_dim" in meta else None

    def __len__(self) -> int:
        if self._derived.loaded:
            return len(self._derived.get().ids)
        return int(self._store.execute("entity_count")[0][0])

    def stats(self) -> dict[str, Any]:
        """Counts and sizes, JSON-serialisable."""
        entity_types = {t: int(n) for t, n in self._store.execute("entity_type_counts")}
        relation_types = {t: int(n) for t, n in self._store.execute("relation_type_counts")}
        out: dict[str, Any] = {
            "path": str(self.path) if self.path else None,
            "engine": self.engine,
            "read_only": self.read_only,
            "schema_version": self._store.schema_version,
            "namespace": self._namespace,
            "entities": sum(entity_types.values()),
            "relations": sum(relation_types.values()),
            "entity_types": entity_types,
            "relation_types": relation_types,
            "vector_dim": self._vector_dim,
            "disk_bytes": _disk_bytes(self.path),
            "cache": {"entries": len(self._cache), "hits": self._cache.hits, "misses": self._cache.misses},
            "derived_loaded": self._derived.loaded,
        }
        if self._derived.loaded:
            out["derived_bytes"] = self._derived.get().nbytes()
        index = self._vectors.peek()
        out["vectors"] = {
            "loaded": index is not None,
            "count": None if index is None else len(index),
            "bytes": None if index is None else index.nbytes(),
            "last_load": dict(self._vectors.last_load),
        }
        return out


def _disk_bytes(path: Path | None) -> int:
    if path is None:
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                continue  # a WAL file may vanish at checkpoint between listing and stat
    return total


def open_memory(
    path: str | os.PathLike[str] | None = None,
    *,
    engine: str | None = None,
    embedder: Any = "default",
    read_only: bool = False,
    config: StoreConfig | None = None,
    tracer: Tracer | None = None,
) -> Memory:
    """Open (creating if needed) the memory at ``path``; ``None`` is in-memory.

    ``engine`` is ``"kuzu"`` or ``"ladybug"``; ``None`` means the
    ``GRAPHMEM_ENGINE`` environment variable if set, else ``"kuzu"``. A process
    can load only one of the two engines.
    """
    if read_only and path is None:
        raise InvalidInput("an in-memory store cannot be opened read-only (it would always be empty)")
    resolved = resolve_embedder(embedder)
    store = Store(path, engine=engine or default_engine(), read_only=read_only, config=config, tracer=tracer)
    try:
        return Memory(store, embedder=resolved)
    except BaseException:
        store.close()
        raise
