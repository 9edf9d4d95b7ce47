"""Frozen result types returned by the public API.

Results are small immutable dataclasses (as in hnswlib/usearch bindings), never
bare tuples or dicts, so that fields have names and types.

Over 500 lines: ~20 result types of the public API, each with its docstring and doctest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from .errors import InvalidInput

__all__ = ["Entity", "Relation", "Neighbor", "Neighbors", "Path", "Hit", "Direction"]

Direction = Literal["out", "in", "both"]


@dataclass(frozen=True, slots=True)
class Entity:
    """One remembered thing.

    Timestamps are UTC; they are ``None`` only for entities created through
    Cypher without them. ``embedding`` is the dequantized vector (float32) or ``None``; it is left
    out of equality because arrays do not compare to a single bool.

    ``valid_from`` / ``valid_to`` bound when the entity held in the world
    (given by the caller; ``None``: unbounded); ``updated_at`` is when this
    version was recorded and ``expired_at`` when graphmem retired it
    (``None``: current). ``importance`` is the caller's score for
    ``forget(policy="importance")`` (``None``: unset, ranks lowest).
    """

    name: str
    type: str
    text: str | None
    observations: tuple[str, ...]
    properties: dict[str, Any]
    id: int
    namespace: str
    created_at: datetime | None
    updated_at: datetime | None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    expired_at: datetime | None = None
    importance: float | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed, directed relation ``source -[type]-> target``.

    ``created_at`` is when this version was recorded, ``expired_at`` when it
    was retired (``None``: current); ``valid_from`` / ``valid_to`` bound when
    it held in the world (``None``: unbounded).
    """

    source: str
    type: str
    target: str
    properties: dict[str, Any]
    created_at: datetime | None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    expired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Neighbor:
    """An entity adjacent to the queried one.

    ``type`` is the relation type; ``direction`` is ``"out"`` when the
    relation leaves the queried entity and ``"in"`` when it arrives.
    """

    name: str
    type: str
    direction: Literal["out", "in"]


class Neighbors(list[Neighbor]):
    """The neighbours :meth:`graphmem.Memory.neighbors` returns: a list of
    :class:`Neighbor` (sorted by name, type, direction), plus ``total``, how many
    there are in all.

    Without ``limit=`` every neighbour is in the list and ``total`` is its
    length; with it, at most ``limit`` are, and ``truncated`` says whether the
    limit cut any. It compares, prints and serialises as a plain list.

    Examples
    --------
    >>> shown = Neighbors([Neighbor("Acme", "WORKS_AT", "out")], total=3)
    >>> shown, shown.total, shown.truncated, shown == [Neighbor("Acme", "WORKS_AT", "out")]
    ([Neighbor(name='Acme', type='WORKS_AT', direction='out')], 3, True, True)
    """

    __slots__ = ("total",)

    def __init__(self, neighbors: Iterable[Neighbor] = (), *, total: int | None = None) -> None:
        super().__init__(neighbors)
        self.total: int = len(self) if total is None else total

    @property
    def truncated(self) -> bool:
        """Whether some neighbours are not in the list (``total`` counts them)."""
        return self.total > len(self)


@dataclass(frozen=True, slots=True)
class Path:
    """A path through the graph: ``nodes[i] -relations[i]- nodes[i+1]``.

    A path is always truthy, even with zero hops; ``len(path)`` is its hop
    count. "No path" is ``None``, never an empty ``Path``.

    ``directions[i]`` says which way relation ``i`` points: ``"out"`` from
    ``nodes[i]`` to ``nodes[i + 1]``, ``"in"`` the other way (a path found
    with ``direction="both"`` may follow relations backwards). Every path a
    query returns carries it; a path made by hand may leave it empty. It is
    not part of equality: a path is its nodes and relation types, as networkx
    compares them.

    Examples
    --------
    >>> p = Path(nodes=("a", "b"), relations=("KNOWS",), directions=("in",))
    >>> len(p), bool(Path(nodes=("a",), relations=())), p.directions
    (1, True, ('in',))
    >>> p == Path(nodes=("a", "b"), relations=("KNOWS",))
    True
    """

    nodes: tuple[str, ...]
    relations: tuple[str, ...]
    directions: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.relations)

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result. ``hops`` and ``path`` are set only for ``near=`` searches."""

    name: str
    score: float
    hops: int | None = None
    path: Path | None = None


# -- path results (graphmem/query/traversal.py) ------------------------------------------

from collections.abc import Iterator, Mapping  # noqa: E402

__all__ += ["KHop", "Subgraph"]


@dataclass(frozen=True, slots=True)
class KHop:
    """The entities within ``hops`` relations of ``source``, with their distances.

    ``distances`` maps each name to its hop count (the source itself is 0),
    ordered by distance then name; ``truncated`` is true when a cap on the
    number of entities cut the neighbourhood short (the nearest are kept).
    It reads like that mapping: ``len``, ``in``, iteration and ``khop[name]``.

    Examples
    --------
    >>> from types import MappingProxyType
    >>> k = KHop("a", 2, MappingProxyType({"a": 0, "b": 1, "c": 2}))
    >>> len(k), k["c"], "z" in k, k.at(1)
    (3, 2, False, ('b',))
    """

    source: str
    hops: int | None
    distances: Mapping[str, int]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.distances)

    def __contains__(self, name: object) -> bool:
        return name in self.distances

    def __iter__(self) -> Iterator[str]:
        return iter(self.distances)

    def __getitem__(self, name: str) -> int:
        return self.distances[name]

    def at(self, hops: int) -> tuple[str, ...]:
        """The names exactly ``hops`` away."""
        return tuple(n for n, d in self.distances.items() if d == hops)


@dataclass(frozen=True, slots=True)
class Subgraph:
    """The entities within some hops of seed entities, and the relations among them.

    ``entities`` maps each name to its distance from the nearest seed (seeds
    are 0), ordered by distance then name; ``relations`` are the
    ``(source, type, target)`` relations between those entities that pass the
    type filter, sorted; ``truncated`` is true when a cap on entities or
    relations left some out (the nearest entities are kept).

    Examples
    --------
    >>> from types import MappingProxyType
    >>> g = Subgraph(MappingProxyType({"a": 0, "b": 1}), (("a", "KNOWS", "b"),), False)
    >>> g.to_dict()
    {'entities': {'a': 0, 'b': 1}, 'relations': [['a', 'KNOWS', 'b']], 'truncated': False}
    """

    entities: Mapping[str, int]
    relations: tuple[tuple[str, str, str], ...]
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "entities": dict(self.entities),
            "relations": [list(r) for r in self.relations],
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class RecalledEntity:
    """One entity of a :class:`Recall`: what it is, how relevant, how far from the seeds."""

    name: str
    type: str
    text: str | None
    observations: tuple[str, ...]
    score: float
    hops: int


@dataclass(frozen=True, slots=True)
class Recall:
    """What the memory knows about a query: ranked entities and the relations among them.

    ``entities`` are best first (score, then age); ``relations`` are
    ``(source, type, target)``, strongest first; ``truncated`` says a budget
    left something out.

    Examples
    --------
    >>> r = Recall("who?", (RecalledEntity("Ada", "Person", "Engineer", ("likes Rust",), 0.9, 0),
    ...                     RecalledEntity("Acme", "Company", None, (), 0.4, 1)),
    ...            (("Ada", "WORKS_AT", "Acme"),), False)
    >>> print(r.to_text())
    Entities:
    - Ada [Person]: Engineer (likes Rust)
    - Acme [Company]
    Relations:
    - Ada -WORKS_AT-> Acme
    >>> len(r.to_text(max_chars=40)) <= 40
    True
    """

    query: str | None
    entities: tuple[RecalledEntity, ...]
    relations: tuple[tuple[str, str, str], ...]
    truncated: bool = False

    def to_text(self, *, max_chars: int = 4000) -> str:
        """A compact, deterministic text to paste into a prompt, at most ``max_chars`` long.

        Lines are added in rank order (entities, then relations) while they
        fit, so a tight budget keeps the most relevant facts.
        """
        # Not validate.check_positive_int: types sits below validate in the layers
        # (pyproject.toml), so the one argument check of a result type stays here.
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise InvalidInput(f"max_chars must be a positive int, not {max_chars!r}")
        lines = ["Entities:"]
        for e in self.entities:
            line = f"- {e.name} [{e.type}]"
            if e.text:
                line += f": {e.text}"
            if e.observations:
                line += f" ({'; '.join(e.observations)})"
            lines.append(" ".join(line.split()))  # one line each, whatever the text holds
        if self.relations:
            lines.append("Relations:")
            lines.extend(f"- {s} -{t}-> {d}" for s, t, d in self.relations)
        out: list[str] = []
        used = 0
        for line in lines:
            cost = len(line) + (1 if out else 0)
            if used + cost > max_chars:
                break
            out.append(line)
            used += cost
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "query": self.query,
            "entities": [
                {"name": e.name, "type": e.type, "text": e.text, "observations": list(e.observations),
                 "score": e.score, "hops": e.hops}
                for e in self.entities
            ],  # fmt: skip
            "relations": [list(r) for r in self.relations],
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """A path between two entities with the entities along it: "how do I know that"."""

    path: Path
    entities: tuple[Entity, ...]

    def to_text(self) -> str:
        """One line per hop, with each entity's text.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> a = Entity("Ada", "Person", "Engineer", (), {}, 0, "default", t, t)
        >>> b = Entity("Acme", "Company", None, (), {}, 1, "default", t, t)
        >>> print(Explanation(Path(("Ada", "Acme"), ("WORKS_AT",)), (a, b)).to_text())
        Ada [Person]: Engineer
          -WORKS_AT- Acme [Company]
        """
        def describe(e: Entity) -> str:
            return f"{e.name} [{e.type}]" + (f": {e.text}" if e.text else "")

        lines = [describe(self.entities[0])]
        for relation, entity in zip(self.path.relations, self.entities[1:]):
            lines.append(f"  -{relation}- {describe(entity)}")
        return "\n".join(lines)


__all__ += ["History", "NamespaceInfo"]


@dataclass(frozen=True, slots=True)
class History:
    """Every version graphmem holds of an entity and of its relations, oldest first.

    ``entity``: the entity's versions; each one's ``updated_at`` is when it
    was recorded and ``expired_at`` when it was replaced or retired (``None``
    for the current version). ``relations``: every version of the relations
    that touch it, current (``expired_at is None``) and retired.
    """

    name: str
    entity: tuple[Entity, ...]
    relations: tuple[Relation, ...]


__all__ += ["EntityVersions", "HistoryCursor", "RelationHistoryPage"]

_EPOCH = datetime(1970, 1, 1)
_LAST_MICROS = (datetime.max - _EPOCH) // timedelta(microseconds=1)  # a larger position is no time


@dataclass(frozen=True, slots=True, order=True)
class HistoryCursor:
    """Where a page of relation history ends: the write time (naive UTC) and the engine's
    relation id of its last (oldest) row, a total order over a store's relation versions.

    Its text (``str``) is what :class:`RelationHistoryPage` gives as ``older`` and what
    ``relation_history(..., before=)`` takes back; it is good while the store is unchanged.
    :meth:`parse` checks one without a store (the viewer refuses a bad one before it opens).

    Examples
    --------
    >>> cursor = HistoryCursor.parse("1700000000000000:42")
    >>> cursor.written, cursor.relation, str(cursor)
    (datetime.datetime(2023, 11, 14, 22, 13, 20), 42, '1700000000000000:42')
    >>> HistoryCursor.parse("yesterday")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: not a history cursor: 'yesterday' (pass back the 'older' of a page)
    """

    written: datetime
    relation: int

    @classmethod
    def parse(cls, text: str) -> HistoryCursor:
        """The cursor ``text`` names (two integers, ``micros:id``); :class:`InvalidInput` if it is not one."""
        micros, sep, rel = text.partition(":") if isinstance(text, str) else ("", "", "")
        if (sep and all(part.isascii() and part.isdigit() and len(part) <= 18 for part in (micros, rel))
                and int(micros) <= _LAST_MICROS):  # fmt: skip
            return cls(_EPOCH + timedelta(microseconds=int(micros)), int(rel))
        raise InvalidInput(f"not a history cursor: {text!r} (pass back the 'older' of a page)")

    def __str__(self) -> str:
        return f"{(self.written - _EPOCH) // timedelta(microseconds=1)}:{self.relation}"


@dataclass(frozen=True, slots=True)
class RelationHistoryPage:
    """A page of the versions of the relations touching one entity, newest first.

    ``relations``: at most the ``limit`` asked for, current (``expired_at is
    None``) and retired, by the time they were recorded (ties by the engine's
    relation id). ``older``: the cursor of the next (older) page, to pass as
    ``before=``; ``None`` when no older version is left.

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entities([{"name": "Ada"}, {"name": "Bob"}])
    ...     _ = mem.add_relation("Ada", "KNOWS", "Bob")
    ...     page = mem.relation_history("Bob")
    >>> [(r.source, r.type, r.target) for r in page.relations], page.older
    ([('Ada', 'KNOWS', 'Bob')], None)
    """

    name: str
    relations: tuple[Relation, ...]
    older: str | None


@dataclass(frozen=True, slots=True)
class EntityVersions:
    """The newest versions of one entity, oldest first: the current (or retired) row last.

    Each version's ``updated_at`` is when it was recorded and ``expired_at``
    when it was replaced or retired (``None`` for the current one); earlier
    versions carry no vector. ``truncated``: older versions exist than the
    ones given.

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     for text in ("one", "two", "three"):
    ...         _ = mem.add_entity("Ada", text=text)
    ...     newest = mem.entity_versions("Ada", limit=2)
    >>> [v.text for v in newest.versions], newest.truncated
    (['two', 'three'], True)
    """

    name: str
    versions: tuple[Entity, ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """A namespace of a store with its current entities and relations."""

    name: str
    entities: int
    relations: int


__all__ += ["Duplicate", "Access"]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Two entities of one type whose vectors are at least as similar as asked (``a < b``)."""

    a: str
    b: str
    type: str
    score: float


@dataclass(frozen=True, slots=True)
class Access:
    """How often and when an entity was last read (including reads not yet flushed)."""

    count: int
    last: datetime | None
    tier: Literal["hot", "warm", "cold"]


__all__ += ["Column", "Schema"]


@dataclass(frozen=True, slots=True)
class Column:
    """One property of a table of the store, as the engine's catalog describes it."""

    name: str
    type: str
    primary_key: bool


@dataclass(frozen=True, slots=True)
class Schema:
    """What :meth:`graphmem.Memory.schema` returns: the store's tables as the engine lists them.

    ``tables`` maps every table (graphmem's and any a user made through
    Cypher) to ``"NODE"`` or ``"REL"``; ``columns`` maps each of graphmem's
    own tables (:data:`SCHEMA_TABLES`) to its properties; ``functions`` are the
    engine's Cypher functions as (name, kind as the engine words it), ``()``
    for an engine that cannot list them.
    """

    tables: Mapping[str, str]
    columns: Mapping[str, tuple[Column, ...]]
    functions: tuple[tuple[str, str], ...]


SCHEMA_TABLES = ("Entity", "Relation", "Meta")
"""graphmem's tables whose properties :attr:`Schema.columns` lists."""
