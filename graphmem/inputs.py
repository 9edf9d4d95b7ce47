"""Typed requests: the arguments of a read, parsed once, for every backend.

The embedded :class:`~graphmem.Memory` and the cluster backend answer the same
calls (:class:`graphmem.api.MemoryAPI`). Each public read parses its arguments
here into a small frozen request before it touches anything, so both backends
accept and refuse exactly the same inputs with the same message, and the code
below the facade works on checked, normalised values (names deduplicated in
order, filters as tuples, counts as ints).

Only the argument checks live here; what a backend does with a request (its
graph, its index, its store) stays in the backend. The single checks
(``check_name``, ``check_count``, ...) are in :mod:`graphmem.validate`.

Requests are named tuples rather than frozen dataclasses: one is built on
every call, paths included, where a frozen dataclass's ``__init__`` costs
several times as much.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from .errors import InvalidInput
from .validate import (
    check_count,
    check_decay,
    check_direction,
    check_name,
    check_positive_int,
    check_rank,
    check_types_filter,
)

__all__ = [
    "HopRequest", "NeighborsRequest", "PathRequest", "RecallRequest", "SearchRequest",
    "anchor_names", "hop_request", "neighbors_request", "path_request", "recall_request", "search_request",
]  # fmt: skip


class SearchRequest(NamedTuple):
    """The checked options of ``search`` (the query itself is embedded by the backend)."""

    k: int
    types: tuple[str, ...] | None
    near: tuple[str, ...] | None
    """Anchor names, each once, in the order given; ``None`` for a plain search."""
    max_hops: int | None
    direction: str
    relation_types: tuple[str, ...] | None
    rank: str
    decay: float


class RecallRequest(NamedTuple):
    """The checked options of ``recall``."""

    k: int
    max_entities: int
    max_relations: int
    hops: int
    types: tuple[str, ...] | None
    direction: str
    relation_types: tuple[str, ...] | None
    decay: float


class NeighborsRequest(NamedTuple):
    """The checked arguments of ``neighbors``."""

    name: str
    direction: str
    types: tuple[str, ...] | None
    limit: int | None = None


class PathRequest(NamedTuple):
    """The checked arguments of ``shortest_path`` / ``all_shortest_paths``."""

    source: str
    target: str
    max_hops: int | None
    direction: str
    types: tuple[str, ...] | None
    limit: int
    """How many paths at most (1 for ``shortest_path``)."""


class HopRequest(NamedTuple):
    """The checked arguments of ``k_hop`` (one seed) and ``subgraph``."""

    seeds: tuple[str, ...]
    hops: int
    direction: str
    types: tuple[str, ...] | None
    max_entities: int | None
    max_relations: int | None


def anchor_names(near: Any, what: str = "near") -> tuple[str, ...]:
    """The entity names of ``near=`` (or of ``what``): one name or an iterable of names, each kept once, in order.

    Examples
    --------
    >>> anchor_names("ada"), anchor_names(["ada", "bob", "ada"])
    (('ada',), ('ada', 'bob'))
    >>> anchor_names([])
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: near must name at least one entity
    """
    names = [near] if isinstance(near, str) else near
    if not isinstance(names, Iterable):
        raise InvalidInput(f"{what} must be an entity name or a list of names, not {type(near).__name__}")
    checked = tuple(dict.fromkeys(check_name(name, what) for name in names))
    if not checked:
        raise InvalidInput(f"{what} must name at least one entity")
    return checked


def _hop_limit(max_hops: Any) -> int | None:
    """``max_hops`` of a search near anchors: ``None`` (no limit) or an int >= 0 (0: the anchors only)."""
    return check_count(max_hops, "max_hops", allow_none=True)


def search_request(
    *,
    k: Any,
    types: Any,
    near: Any,
    max_hops: Any,
    direction: Any,
    relation_types: Any,
    rank: Any,
    decay: Any,
) -> SearchRequest:
    """Check the options of ``search``; raise :class:`~graphmem.errors.InvalidInput` on the first bad one.

    Examples
    --------
    >>> request = search_request(k=5, types="Person", near=None, max_hops=None, direction="both",
    ...                          relation_types=None, rank="similarity", decay=0.5)
    >>> request.k, request.types, request.near
    (5, ('Person',), None)
    >>> search_request(k=5, types=None, near=None, max_hops=2, direction="both",
    ...                relation_types=None, rank="similarity", decay=0.5)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: max_hops limits the distance from `near`: give near= too
    """
    k = check_positive_int(k, "k")
    type_filter = check_types_filter(types)
    rank = check_rank(rank)
    decay = check_decay(decay)
    if near is None and max_hops is not None:
        raise InvalidInput("max_hops limits the distance from `near`: give near= too")
    if near is None and rank == "hybrid":
        raise InvalidInput('rank="hybrid" weighs the distance from `near`: give near= too')
    return SearchRequest(
        k=k,
        types=type_filter,
        near=None if near is None else anchor_names(near),
        max_hops=None if near is None else _hop_limit(max_hops),
        direction=check_direction(direction),
        relation_types=check_types_filter(relation_types, "relation_types"),
        rank=rank,
        decay=decay,
    )


def recall_request(
    *,
    k: Any,
    max_entities: Any,
    max_relations: Any,
    hops: Any,
    types: Any,
    direction: Any,
    relation_types: Any,
    decay: Any,
) -> RecallRequest:
    """Check the options of ``recall``; raise :class:`~graphmem.errors.InvalidInput` on the first bad one.

    Examples
    --------
    >>> recall_request(k=3, max_entities=20, max_relations=0, hops=1, types=None, direction="out",
    ...                relation_types=["knows"], decay=1).relation_types
    ('knows',)
    >>> recall_request(k=3, max_entities=20, max_relations=-1, hops=1, types=None, direction="out",
    ...                relation_types=None, decay=1)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: max_relations must be an int >= 0, not -1
    """
    return RecallRequest(
        k=check_positive_int(k, "k"),
        max_entities=check_positive_int(max_entities, "max_entities"),
        max_relations=check_count(max_relations, "max_relations"),
        hops=check_count(hops, "hops"),
        types=check_types_filter(types),
        direction=check_direction(direction),
        relation_types=check_types_filter(relation_types, "relation_types"),
        decay=check_decay(decay),
    )


def neighbors_request(name: Any, *, direction: Any, types: Any, limit: Any = None) -> NeighborsRequest:
    """Check the arguments of ``neighbors`` (``limit``: ``None`` or a positive int).

    Examples
    --------
    >>> neighbors_request("ada", direction="in", types=["knows"])
    NeighborsRequest(name='ada', direction='in', types=('knows',), limit=None)
    >>> neighbors_request("ada", direction="both", types=None, limit=0)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: limit must be a positive int, not 0
    """
    return NeighborsRequest(check_name(name), check_direction(direction), check_types_filter(types),
                            None if limit is None else check_positive_int(limit, "limit"))  # fmt: skip


def path_request(
    source: Any, target: Any, *, max_hops: Any, direction: Any, types: Any, limit: Any = 1
) -> PathRequest:
    """Check the arguments of a path query.

    Examples
    --------
    >>> path_request("a", "b", max_hops=3, direction="out", types=None, limit=10)
    PathRequest(source='a', target='b', max_hops=3, direction='out', types=None, limit=10)
    >>> path_request("a", "b", max_hops=None, direction="both", types=None, limit=None)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: limit must be a positive int, not None
    """
    return PathRequest(
        check_name(source, "source"),
        check_name(target, "target"),
        check_count(max_hops, "max_hops", allow_none=True),
        check_direction(direction),
        check_types_filter(types),
        check_positive_int(limit, "limit"),
    )


def hop_request(
    seeds: Any, hops: Any, *, direction: Any, types: Any, max_entities: Any, max_relations: Any = None,
    source: bool = False,
) -> HopRequest:
    """Check the arguments of a neighbourhood query: ``seeds`` one name or several
    (``subgraph``), or with ``source=True`` exactly one name (``k_hop``).

    Examples
    --------
    >>> hop_request("ada", 2, direction="both", types="knows", max_entities=None, source=True)
    HopRequest(seeds=('ada',), hops=2, direction='both', types=('knows',), max_entities=None, max_relations=None)
    >>> hop_request(["ada"], -1, direction="both", types=None, max_entities=None)
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: hops must be an int >= 0, not -1
    """
    return HopRequest(
        (check_name(seeds, "source"),) if source else anchor_names(seeds, "seeds"),
        check_count(hops, "hops"),
        check_direction(direction),
        check_types_filter(types),
        check_positive_int(max_entities, "max_entities", allow_none=True),
        check_count(max_relations, "max_relations", allow_none=True),
    )
