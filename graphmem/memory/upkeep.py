"""The lifecycle part of :class:`graphmem.Memory`: forgetting, tiers, deduplication, merging.

A mixin, so the facade keeps one class while each concern keeps its own file;
the rules (eviction order, name normalisation, access statistics) live in
:mod:`graphmem.lifecycle`, the packing in :mod:`graphmem.tiers`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from ..errors import InvalidInput, NotFound
from ..lifecycle import check_policy, eviction_order, normalize_name
from ..records import key_name, utcnow
from ..tiers import pack
from ..types import Access, Duplicate, Entity
from ..validate import check_name, check_positive_int, check_types_filter
from . import removal
from .writes import fetch_rows, parse_entity, parse_relation

if TYPE_CHECKING:
    from ..index.derived import Derived, DerivedState
    from ..records import EntityRow
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from .facade import _Shared
    from ..store.store import Store

__all__ = ["LifecycleMixin", "HOT_WINDOW"]

HOT_WINDOW = timedelta(days=1)
"""An entity read or written within this window is "hot" in ``stats()["tiers"]``."""


class LifecycleMixin:
    """Forgetting, tiers, deduplication and merging (mixed into :class:`graphmem.Memory`)."""

    _store: Store
    _derived: Derived
    _shared: _Shared
    _cache: EntityCache
    _namespace: str
    _vectors: VectorStore
    _vector_dim: int | None

    if TYPE_CHECKING:  # what the facade provides (declared for the type checker only)

        def _writable(self) -> None: ...
        def _flush_access(self) -> None: ...
        def _key(self, name: str) -> str: ...
        def _row(self, key: str) -> EntityRow | None: ...
        def _write_entities(self, items: list[Any]) -> list[Any]: ...
        def _write_relations(self, items: list[Any]) -> None: ...
        def expire_entity(self, name: str) -> bool: ...

    # -- forgetting ----------------------------------------------------------------

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
        if max_entities is None:
            raise InvalidInput("forget needs max_entities= (how many entities to keep): it has no other bound")
        if isinstance(max_entities, bool) or not isinstance(max_entities, int) or max_entities < 0:
            raise InvalidInput(f"max_entities must be an int >= 0, not {max_entities!r}")
        policy = check_policy(policy)
        if not isinstance(hard, bool):
            raise InvalidInput(f"hard must be True or False, not {hard!r}")
        self._writable()
        with self._store.transaction() as tx:
            state = self._derived.get()
            self._flush_access()
            excess = len(state.namespaces.members(self._namespace)) - max_entities
            return self._evict(state, tx, excess, policy, hard=hard, keep=set()) if excess > 0 else []

    def _evict(self, state: DerivedState, tx: Any, count: int, policy: str, *, hard: bool, keep: set[str]) -> list[str]:
        """In the open transaction: retire the ``count`` least valuable entities not in ``keep``."""
        table = self._store.execute_arrow("lifecycle_candidates", {"namespace": self._namespace})
        order = eviction_order(table, policy)
        keys = table.column("key").to_pylist()
        victims = [keys[i] for i in order.tolist() if keys[i] not in keep][:count]
        if not victims:
            return []
        ids = {key: state.ids.id_of(key) for key in victims}
        incident = {key: state.edges.incident(id_) for key, id_ in ids.items() if id_ is not None}
        if hard:
            removal.delete_in_store(self._store, state, victims)
        else:
            removal.expire_in_store(self._store, victims, self._shared.now())

        def bookkeeping() -> None:
            present = {key: id_ for key, id_ in ids.items() if id_ is not None}
            removal.forget_entities(state, self._shared.access, self._vectors, present,
                                    set().union(*incident.values()), expire=not hard,
                                    dropped=victims if hard else ())  # fmt: skip
            self._cache.written(dropped=victims)

        tx.after_commit(bookkeeping)
        return [key_name(key) for key in victims]

    def access(self, name: str) -> Access:
        """How often and when ``name`` was read, and its tier (reads not yet flushed included)."""
        key = self._key(check_name(name))
        self._store.check_open()
        rows = self._store.execute("entity_access", {"key": key})
        if not rows:
            raise NotFound(f"no entity named {name!r}")
        stored, last, updated, cold = rows[0]
        pending, pending_last = self._shared.access.pending(key)
        last = max((t for t in (last, pending_last) if t is not None), default=None)
        recent = max((t for t in (last, updated) if t is not None), default=None)
        tier: Literal["hot", "warm", "cold"] = (
            "cold" if cold else ("hot" if recent is not None and recent >= utcnow() - HOT_WINDOW else "warm"))
        return Access((stored or 0) + pending, None if last is None else last.replace(tzinfo=timezone.utc), tier)

    # -- tiers -----------------------------------------------------------------------

    def compact(self, *, cold_after: timedelta) -> int:
        """Move to the cold tier the entities of this namespace not read or written
        for ``cold_after``: their text and observations are stored zstd-packed
        (only where that saves space, :mod:`graphmem.tiers`) and unpacked by
        every API read; graph, vector and versions stay. A later write stores
        the entity unpacked again. Returns how many were packed."""
        if not isinstance(cold_after, timedelta) or cold_after < timedelta(0):
            raise InvalidInput(f"cold_after must be a timedelta >= 0, not {cold_after!r}")
        self._writable()
        with self._store.transaction() as tx:
            self._flush_access()
            table = self._store.execute_arrow("lifecycle_candidates", {"namespace": self._namespace})
            since = np.datetime64(utcnow() - cold_after, "us").astype(np.int64)
            last = table.column("last_access").cast(pa.timestamp("us")).cast(pa.int64()).fill_null(0)
            updated = table.column("updated_at").cast(pa.timestamp("us")).cast(pa.int64()).fill_null(0)
            recency = np.maximum(last.to_numpy(zero_copy_only=False), updated.to_numpy(zero_copy_only=False))
            cold = table.column("cold").to_numpy(zero_copy_only=False)
            keys = table.column("key").take(pa.array(np.flatnonzero((recency < since) & ~cold))).to_pylist()
            current = fetch_rows(self._store, self._cache, keys, self._store.config,
                                 stored=len(self._derived.get().ids))  # fmt: skip
            rows = []
            for key in keys:
                row = current.get(key)
                packed = None if row is None else pack(row.text, list(row.observations))
                if packed is not None:
                    rows.append((key, packed))
            if rows:
                self._store.execute("entity_pack", {"rows": pa.table({
                    "key": pa.array([k for k, _ in rows], pa.string()),
                    "packed": pa.array([p for _, p in rows], pa.binary()),
                    "observations": pa.array([[] for _ in rows], pa.list_(pa.string())),
                })})  # fmt: skip
            tx.after_commit(lambda: self._cache.written(dropped=[k for k, _ in rows]))
        return len(rows)

    # -- duplicates -----------------------------------------------------------------

    def _deduplicate(self, state: DerivedState, items: list[Any]) -> list[Any]:
        """Send each new name that normalises like a current entity's to that entity
        (``duplicates="merge"``) or refuse the write (``"refuse"``)."""
        index = self._normalized(state)
        seen: dict[str, str] = {}
        out = []
        for item in items:
            key = self._key(item.name)
            if key in state.ids:
                out.append(item)
                continue
            norm = normalize_name(item.name)
            existing = index.get((self._namespace, norm))
            existing_name = key_name(existing) if existing is not None else seen.get(norm)
            if existing_name is None or existing_name == item.name:
                seen.setdefault(norm, item.name)
                out.append(item)
            elif self._shared.duplicates == "refuse":
                raise InvalidInput(f"{item.name!r} duplicates the entity {existing_name!r} (the same name once "
                                   "normalised); nothing was written. Use that name, or open with duplicates='allow'")
            else:
                out.append(replace(item, name=existing_name))
        return out

    def _normalized(self, state: DerivedState) -> dict[tuple[str, str], str]:
        return state.normalized_names(normalize_name)

    def find_duplicates(
        self, threshold: float = 0.9, *, k: int = 10, types: Any = None
    ) -> list[Duplicate]:  # fmt: skip
        """Pairs of entities of one type in this namespace whose vectors have cosine
        similarity ``>= threshold``: candidates to :meth:`merge`.

        Each entity's ``k`` nearest neighbours come from one batched query of the
        vector index (not an all-pairs scan), so a pair is found when either
        entity is among the other's ``k`` nearest. Sorted by score, best first.
        """
        self._store.check_open()  # the index lives in memory: a closed memory must not answer
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise InvalidInput(f"threshold must be a number in (0, 1], not {threshold!r}")
        k = check_positive_int(k, "k")
        type_filter = check_types_filter(types)
        state = self._derived.get()
        index = self._vectors.get(self._vector_dim)
        if index is None:
            return []
        mine = state.namespaces.members(self._namespace) & index.labels
        if type_filter is not None:
            mine &= state.entity_types.union(type_filter)
        ids = np.asarray(mine.to_array(), np.int64)
        if not len(ids):
            return []
        # Type code per id (-1: not a candidate), so the pair filter is array work, not a loop per pair.
        labels = list(state.entity_types.labels())
        type_code = np.full(int(ids.max()) + 1, -1, np.int64)
        for code, name in enumerate(labels):
            members = np.asarray((state.entity_types.members(name) & mine).to_array(), np.int64)
            type_code[members] = code
        near, scores = index.neighbours_of(ids, k)
        other = np.where((near >= 0) & (near < len(type_code)), near, 0)
        same = (near >= 0) & (scores >= threshold) & (type_code[other] == type_code[ids][:, None]) & (
            type_code[other] >= 0)
        rows, cols = np.nonzero(same)
        found: dict[tuple[str, str], Duplicate] = {}
        for id_, partner, score in zip(ids[rows].tolist(), near[rows, cols].tolist(), scores[rows, cols].tolist()):
            a, b = self._name_of(state, id_), self._name_of(state, partner)
            if a is not None and b is not None:
                a, b = sorted((a, b))
                found[(a, b)] = Duplicate(a, b, labels[type_code[id_]], round(float(score), 6))
        return sorted(found.values(), key=lambda d: (-d.score, d.a, d.b))

    @staticmethod
    def _name_of(state: DerivedState, id_: int) -> str | None:
        key = state.ids.key_of(id_)
        return None if key is None else key_name(key)

    def merge(self, keep: str, other: str) -> Entity:
        """Merge entity ``other`` into ``keep``, in one transaction, and return ``keep`` as stored.

        ``keep`` gains ``other``'s observations (appended, duplicates skipped),
        its properties where ``keep`` has none of that name, its text if it has
        none, and each of its current relations (re-attached to ``keep``; one
        between the two is dropped rather than made a self-loop). ``other`` is
        then expired: its versions and relations stay in the history under its
        name. Both must be current entities of this namespace, of one type.
        """
        a, b = check_name(keep, "keep"), check_name(other, "other")
        if a == b:
            raise InvalidInput("merge needs two different entities")
        self._writable()
        with self._store.transaction():
            state = self._derived.get()
            rows = {}
            for name in (a, b):
                row = self._row(self._key(name)) if self._key(name) in state.ids else None
                if row is None:
                    raise NotFound(f"no entity named {name!r} in namespace {self._namespace!r}")
                rows[name] = row
            if rows[a].type != rows[b].type:
                raise InvalidInput(f"cannot merge {b!r} ({rows[b].type}) into {a!r} ({rows[a].type}): "
                                   "entities of different types stay apart")
            moved = self._store.execute("relation_current_of", {"key": self._key(b)})
            item = replace(
                parse_entity(a, observations=rows[b].observations, text=rows[a].text or rows[b].text),
                properties={**rows[b].properties, **rows[a].properties},
            )
            self._write_entities([item])
            relations = []
            for source, type_, target, props, start, end in moved:
                source, target = (a if source == b else source), (a if target == b else target)
                if source == target == a:
                    continue
                relations.append(replace(parse_relation(source, type_, target, json.loads(props) if props else None),
                                         valid_from=start, valid_to=end))
            if relations:
                self._write_relations(relations)
            self.expire_entity(b)
        merged = self._row(self._key(a))
        if merged is None:  # pragma: no cover - written above
            raise NotFound(a)
        entity: Entity = merged.to_entity()  # _row comes through the mixin's untyped self
        return entity

