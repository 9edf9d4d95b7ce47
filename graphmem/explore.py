"""The viewer's endpoints: bounded JSON answers, each a plain function over a :class:`~graphmem.Memory`.

Two processes answer them: ``graphmem view`` over a memory it opened
(:mod:`graphmem.view.api`, which adds HTTP), and an MCP server holding the
store, asked over its share socket (:mod:`graphmem.mcp.share`, the
``explore`` request) while it keeps the viewer out of the store. Both run
these functions on a warm memory, so a viewer never sends the holder a
statement of its own: a scan or join the holder ran for it could fill the
holder's buffer pool and fail the agent's own calls (measured at 1M
entities, benchmarks/RESULTS.md). Hence this module sits below both faces.

:func:`prepare` checks one request's query parameters once (unknown or
repeated parameters, bad values and bounds are refused with
:class:`~graphmem.errors.InvalidInput` / :class:`~graphmem.errors.LimitExceeded`
before any memory is touched); :func:`run` checks them and answers. Every
answer is bounded: search ``k``, expand size, path count and history length
have a maximum (:data:`LIMITS`), so no request walks the whole graph.
Nothing here writes.

The endpoints read through the public API only, most from memory once the
graph state is loaded (names by prefix and type: :meth:`Memory.find_names`;
types of many entities: :meth:`Memory.types_of`; the overview:
:meth:`Memory.type_summary`), so none scans the store. The first write of a
namespace (where the time slider starts) is :meth:`Memory.first_written`,
read only when the slider is shown. An entity's panel reads its text
(:meth:`Memory.get_entity`), its newest versions
(:meth:`Memory.entity_versions`) and its relation history a page at a time
(:meth:`Memory.relation_history`, bounded at a hub, with a cursor).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import InvalidInput, LimitExceeded, NotFound
from .memory import Memory
from .types import Entity, HistoryCursor, Relation
from .validate import check_name

__all__ = ["ENDPOINTS", "LIMITS", "Limits", "entity_json", "parse_time", "prepare", "relation_json", "run"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of every viewer request (defaults, and the most a request may ask)."""

    search_k: int = 10
    search_k_max: int = 50
    expand: int = 25
    expand_max: int = 200
    paths: int = 5
    paths_max: int = 20
    hops_max: int = 12
    members: int = 50
    members_max: int = 200
    history_max: int = 100
    relations: int = 25
    relations_max: int = 100
    type_links_max: int = 200
    text_max: int = 200


LIMITS = Limits()

# -- parameters ------------------------------------------------------------------------


def parse_time(value: str, what: str = "as_of") -> datetime:
    """An ISO 8601 time with a zone (``Z`` or an offset), as a timezone-aware datetime.

    Examples
    --------
    >>> parse_time("2026-01-02T03:04:05Z")
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    >>> parse_time("2026-01-02")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: as_of has no time zone ('2026-01-02'): give one, e.g. 2026-01-02T00:00:00Z
    """
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} is not an ISO 8601 time ({value!r}), e.g. 2026-01-02T00:00:00Z") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what} has no time zone ({value!r}): give one, e.g. 2026-01-02T00:00:00Z")
    return at


def _parse(raw: Mapping[str, list[str]], spec: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    """Every parameter of one request, checked before the store is opened.

    ``spec`` maps each parameter to its kind: ``("name",)`` (an entity name),
    ``("text",)``, ``("count", default, maximum)``, ``("time",)`` or
    ``("cursor",)`` (a history page's ``older``, checked here and passed on as
    text); a parameter whose kind is a name or text is required. Absent
    optional ones come back as their default (``None`` for a time or a cursor).
    """
    for key, values in raw.items():
        if key not in spec:
            raise InvalidInput(f"unknown parameter {key!r} (this endpoint takes: {', '.join(sorted(spec)) or 'none'})")
        if len(values) != 1:
            raise InvalidInput(f"parameter {key!r} given {len(values)} times")
    out: dict[str, Any] = {}
    for key, (kind, *rest) in spec.items():
        value = raw[key][0] if key in raw else None
        if value is not None and len(value) > LIMITS.text_max:
            raise LimitExceeded(f"parameter {key!r} is longer than {LIMITS.text_max} characters")
        if kind == "count":
            out[key] = rest[0] if value is None else _count(key, value, rest[1])
        elif kind == "time":
            out[key] = None if value is None else parse_time(value, key)
        elif kind == "cursor":
            if value is not None:
                HistoryCursor.parse(value)  # refused here, before the store is opened
            out[key] = value
        elif value is None:
            raise InvalidInput(f"parameter {key!r} is required")
        elif kind == "name":
            out[key] = check_name(value, key)
        elif not value.strip():
            raise InvalidInput(f"parameter {key!r} must not be blank")
        else:
            out[key] = value
    return out


def _count(key: str, value: str, maximum: int) -> int:
    if not value.isascii() or not value.isdigit():
        raise InvalidInput(f"parameter {key!r} must be a positive integer, not {value!r}")
    n = int(value)
    if n < 1:
        raise InvalidInput(f"parameter {key!r} must be at least 1")
    if n > maximum:
        raise LimitExceeded(f"parameter {key!r} is {n}: at most {maximum} per request")
    return n


# -- shapes -------------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    """Stored times are naive UTC: say so."""
    if at is None:
        return None
    return (at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)).isoformat()


def entity_json(e: Entity) -> dict[str, Any]:
    """An entity as the endpoints show it (times in ISO 8601, UTC)."""
    return {
        "name": e.name, "type": e.type, "text": e.text, "observations": list(e.observations),
        "properties": e.properties, "created_at": _iso(e.created_at), "updated_at": _iso(e.updated_at),
        "valid_from": _iso(e.valid_from), "valid_to": _iso(e.valid_to), "expired_at": _iso(e.expired_at),
    }  # fmt: skip


def relation_json(r: Relation) -> dict[str, Any]:
    """A relation as the endpoints show it (times in ISO 8601, UTC)."""
    return {
        "source": r.source, "type": r.type, "target": r.target, "properties": r.properties,
        "created_at": _iso(r.created_at), "valid_from": _iso(r.valid_from), "valid_to": _iso(r.valid_to),
        "expired_at": _iso(r.expired_at),
    }  # fmt: skip


def _types(mem: Memory, names: list[str]) -> list[str | None]:
    """The type of each entity, from memory in one call (no store read), at any ``as_of``.

    An ``as_of`` read (world time, known now) sees the current entities whose
    validity covers ``as_of`` (:mod:`graphmem.temporal`), and the type of such
    an entity then is its current type: every name a view answer shows comes
    from that graph, so its current type is right. (Reading each entity at
    ``as_of`` instead opened the store and cost one read per neighbour.)
    """
    return mem.types_of(names)


# -- endpoints ------------------------------------------------------------------------------


def overview(mem: Memory) -> dict[str, Any]:
    """Counts by entity and relation type, how types connect, and the time span (for the slider)."""
    ns = mem.namespace_name
    summary = mem.type_summary()  # from memory: the store would scan and join every relation
    links = [{"source_type": a, "relation": r, "target_type": b, "count": n}
             for a, r, b, n in summary.links[:LIMITS.type_links_max]]  # fmt: skip
    start = end = None
    if summary.valid_span is not None:
        # The slider starts at the first write: the one figure not answered from memory (a scan, asked only
        # when some fact has a validity bound, i.e. when the slider is shown at all).
        first = mem.first_written()
        marks = [_from_us(summary.valid_span[0]), _from_us(summary.valid_span[1])]
        if first is not None:
            marks.append(first)
        marks = [m if m.tzinfo is not None else m.replace(tzinfo=timezone.utc) for m in marks]
        start, end = _iso(min(marks)), _iso(max(marks))
    return {
        "namespace": ns,
        "entities": sum(summary.entity_types.values()),
        "relations": sum(summary.relation_types.values()),
        "entity_types": summary.entity_types,
        "relation_types": summary.relation_types,
        "type_links": links,
        "type_links_truncated": len(summary.links) > LIMITS.type_links_max,
        "can_search_meaning": mem.embedder is not None and mem.vector_dim is not None,
        "time": {"has_history": summary.bounded > 0, "bounded_facts": summary.bounded, "start": start, "end": end},
        "limits": _limits(),
    }


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


def _limits() -> dict[str, int]:
    return {"search_k": LIMITS.search_k_max, "expand": LIMITS.expand_max, "paths": LIMITS.paths_max}


def type_members(mem: Memory, *, type: str, limit: int) -> dict[str, Any]:
    """The first entities of one type, by name ignoring case (a drill-down from the overview)."""
    names = [e.name for e in mem.find_names("", limit=limit + 1, type=type)]
    return {"type": type, "names": names[:limit], "truncated": len(names) > limit}


def search(mem: Memory, *, q: str, k: int) -> dict[str, Any]:
    """Entities whose name starts with ``q`` (ignoring case) and, with an embedder, those closest in meaning."""
    prefix = [{"name": e.name, "type": e.type} for e in mem.find_names(q, limit=k)]
    meaning: list[dict[str, Any]] = []
    if mem.embedder is not None and mem.vector_dim is not None:
        hits = mem.search(q, k)
        for hit, kind in zip(hits, mem.types_of([h.name for h in hits])):
            meaning.append({"name": hit.name, "score": round(hit.score, 4), "type": kind})
    return {"q": q, "prefix": prefix, "meaning": meaning}


def entity(mem: Memory, *, name: str, as_of: datetime | None) -> dict[str, Any]:
    """One entity (at ``as_of``) with its newest versions (oldest first) and the first page of its
    relation versions (newest first; :func:`relations` with ``history.older`` gives the next).

    Bounded at a hub (:meth:`Memory.relation_history`): the names of the other ends are read
    for the rows shown only, not for every relation written with them.
    """
    found = mem.get_entity(name, as_of=as_of)
    if found is None:
        raise NotFound(f"no entity named {name!r}" + ("" if as_of is None else " at that time"))
    # The versions end with the stored row, the one found (get_entity reads it whatever as_of:
    # only its validity is checked).
    versions = mem.entity_versions(name, limit=LIMITS.history_max)
    page = mem.relation_history(name, limit=LIMITS.relations)
    return {
        "entity": entity_json(found),
        "history": {
            "versions": [entity_json(v) for v in versions.versions],
            "versions_truncated": versions.truncated,
            "relations": [relation_json(r) for r in page.relations],
            "older": page.older,
            "truncated": versions.truncated or page.older is not None,
        },
    }


def relations(mem: Memory, *, name: str, before: str | None, limit: int) -> dict[str, Any]:
    """A page of ``name``'s relation versions (current and retired), newest first, older than the
    cursor ``before`` (a page's ``older``; none: the newest); ``older`` is the next page's cursor."""
    page = mem.relation_history(name, limit=limit, before=before)
    return {"name": name, "relations": [relation_json(r) for r in page.relations], "older": page.older}


def neighbors(mem: Memory, *, name: str, limit: int, as_of: datetime | None) -> dict[str, Any]:
    """At most ``limit`` neighbours of ``name`` (at ``as_of``), with their types; ``total`` says how many exist.

    Bounded at a hub: only the shown neighbours are named and typed, the rest
    are counted (:meth:`Memory.neighbors` with ``limit=``; which ones are shown is
    the relation index's order, the oldest entities first), so the cost does
    not grow with the degree beyond a count in NumPy.
    """
    shown = mem.neighbors(name, limit=limit, as_of=as_of)
    total = shown.total
    kind, *kinds = _types(mem, [name] + [n.name for n in shown])
    return {
        "name": name,
        "type": kind,
        "total": total,
        "truncated": total > len(shown),
        "neighbors": [
            {"name": n.name, "relation": n.type, "direction": n.direction, "type": t}
            for n, t in zip(shown, kinds)
        ],
    }


def relation(mem: Memory, *, source: str, type: str, target: str) -> dict[str, Any]:
    """One current relation with its properties (the page asks on hover)."""
    found = mem.get_relation(source, type, target)
    if found is None:
        raise NotFound(f"no relation {source!r} -[{type}]-> {target!r}")
    return {"relation": relation_json(found)}


def paths(mem: Memory, *, source: str, target: str, limit: int, max_hops: int,
          as_of: datetime | None) -> dict[str, Any]:  # fmt: skip
    """Up to ``limit`` shortest paths between two entities (at ``as_of``), with the types of their entities."""
    found = mem.all_shortest_paths(source, target, max_hops=max_hops, limit=limit + 1, as_of=as_of)
    shown = found[:limit]
    names = sorted({n for path in shown for n in path.nodes})
    return {
        "source": source,
        "target": target,
        "paths": [{"nodes": list(path.nodes), "relations": list(path.relations)} for path in shown],
        "types": dict(zip(names, _types(mem, names))),
        "truncated": len(found) > limit,
    }


_NAME, _TEXT, _TIME = ("name",), ("text",), ("time",)

# endpoint -> (function, its parameters and their kinds; see _parse)
ENDPOINTS: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, tuple[Any, ...]]]] = {
    "overview": (overview, {}),
    "type": (type_members, {"type": _TEXT, "limit": ("count", LIMITS.members, LIMITS.members_max)}),
    "search": (search, {"q": _TEXT, "k": ("count", LIMITS.search_k, LIMITS.search_k_max)}),
    "entity": (entity, {"name": _NAME, "as_of": _TIME}),
    "relations": (relations, {"name": _NAME, "before": ("cursor",),
                              "limit": ("count", LIMITS.relations, LIMITS.relations_max)}),
    "neighbors": (neighbors, {"name": _NAME, "limit": ("count", LIMITS.expand, LIMITS.expand_max), "as_of": _TIME}),
    "relation": (relation, {"source": _NAME, "type": _TEXT, "target": _NAME}),
    "paths": (paths, {"source": _NAME, "target": _NAME, "limit": ("count", LIMITS.paths, LIMITS.paths_max),
                      "max_hops": ("count", LIMITS.hops_max, LIMITS.hops_max), "as_of": _TIME}),
}




Endpoint = Callable[..., dict[str, Any]]


def prepare(endpoint: Any, query: Any) -> tuple[Endpoint, dict[str, Any]]:
    """The function of ``endpoint`` and its checked arguments, from a request's query parameters.

    Raises :class:`NotFound` for an unknown endpoint, :class:`InvalidInput` for
    bad parameters and :class:`LimitExceeded` past a bound.

    Examples
    --------
    >>> fn, args = prepare("neighbors", {"name": ["Ada"], "limit": ["5"]})
    >>> fn.__name__, args
    ('neighbors', {'name': 'Ada', 'limit': 5, 'as_of': None})
    >>> prepare("everything", {})
    Traceback (most recent call last):
    ...
    graphmem.errors.NotFound: no API endpoint 'everything' (there are: entity, neighbors, overview, paths, relation, relations, search, type)
    """
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise NotFound(f"no API endpoint {endpoint!r} (there are: {', '.join(sorted(ENDPOINTS))})")
    if not isinstance(query, Mapping) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in query.items()
    ):
        raise InvalidInput("the parameters must map each name to a list of strings")
    fn, spec = ENDPOINTS[endpoint]
    return fn, _parse(query, spec)


def run(mem: Memory, endpoint: Any, query: Any) -> dict[str, Any]:
    """Answer one request on ``mem``: its parameters checked (:func:`prepare`), then its endpoint.

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "Bob", "type": "Person"}])
    ...     _ = mem.add_relation("Ada", "KNOWS", "Bob")
    ...     run(mem, "neighbors", {"name": ["Ada"]})["neighbors"]
    [{'name': 'Bob', 'relation': 'KNOWS', 'direction': 'out', 'type': 'Person'}]
    """
    fn, args = prepare(endpoint, query)
    return fn(mem, **args)
