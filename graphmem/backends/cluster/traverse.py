"""Breadth-first search over a namespace graph, one server round trip per level.

Why not FalkorDB's ``shortestPath()``: graphmem filters relations by a
``type`` *property* (relation labels never come from user data), and a
variable-length pattern cannot take that filter; exporting the adjacency (as
the embedded store does) would copy the whole graph to every client and go
stale under other clients' writes. A level-synchronous BFS asks the primary
for one level at a time (``EXPAND``: one indexed statement per level), so
each answer reflects the graph as it is, and the cost is bounded by the
neighbourhood visited, not by the graph. Measured on the local cluster: a
level of a few hundred names is one ~1 ms round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product

from ...types import Path

__all__ = ["Expand", "Reach", "all_shortest_paths", "reach", "reverse", "shortest_path"]

# expand(names, direction) -> (from, relation type, other, way) for every
# relation of a name in `names` followed in `direction` ("out", "in" or
# "both"); way is "out" when the relation points from `from` to `other`.
Expand = Callable[[Sequence[str], str], Iterable[tuple[str, str, str, str]]]
Link = tuple[str, str, str]  # (the name a step came from, relation type, way it points along the step)

_REVERSE = {"out": "in", "in": "out", "both": "both"}


def reverse(direction: str) -> str:
    return _REVERSE[direction]


def _levels(rows: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """``rows`` sorted, and when a step has a relation of one type both ways, the
    outgoing one first (the embedded kernels' choice, so both backends agree)."""
    return sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3] != "out"))


@dataclass
class Reach:
    """What a multi-source BFS found: each name's distance, the step that reached it
    (previous name, relation type) and the source it came from."""

    dist: dict[str, int] = field(default_factory=dict)
    parent: dict[str, Link] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    def path_to(self, name: str) -> Path:
        """The path from ``name``'s source to ``name``."""
        nodes = [name]
        types: list[str] = []
        ways: list[str] = []
        while nodes[-1] in self.parent:
            prev, type_, way = self.parent[nodes[-1]]
            nodes.append(prev)
            types.append(type_)
            ways.append(way)
        return Path(nodes=tuple(reversed(nodes)), relations=tuple(reversed(types)), directions=tuple(reversed(ways)))


def reach(expand: Expand, sources: Sequence[str], *, direction: str, max_hops: int | None,
          max_entities: int | None = None) -> Reach:  # fmt: skip
    """Every name within ``max_hops`` (``None``: any distance) of ``sources``.

    Names at equal distance are visited in name order, so parents (and so
    paths) are deterministic. With ``max_entities`` the nearest ones are kept
    and ``truncated`` is set when more existed.
    """
    found = Reach()
    frontier = sorted(dict.fromkeys(sources))
    for s in frontier:
        found.dist[s], found.origin[s] = 0, s
    level = 0
    while frontier and (max_hops is None or level < max_hops):
        if max_entities is not None and len(found.dist) >= max_entities:
            found.truncated = True
            break
        level += 1
        fresh: dict[str, Link] = {}
        for src, type_, other, way in _levels(expand(frontier, direction)):
            if other not in found.dist and other not in fresh:
                fresh[other] = (src, type_, way)
        frontier = sorted(fresh)
        for name in frontier:
            if max_entities is not None and len(found.dist) >= max_entities:
                found.truncated = True
                break
            found.dist[name] = level
            found.parent[name] = fresh[name]
            found.origin[name] = found.origin[fresh[name][0]]
        else:
            continue
        break
    return found


def shortest_path(expand: Expand, source: str, target: str, *, direction: str,
                  max_hops: int | None) -> Path | None:  # fmt: skip
    """A shortest path from ``source`` to ``target`` by bidirectional BFS, or ``None``.

    Each round expands the smaller frontier by one full level; the first round
    that meets the other side's visited set yields the best meeting point
    (smallest total length, then name).
    """
    if source == target:
        return Path(nodes=(source,), relations=())
    fwd: dict[str, Link | None] = {source: None}  # name -> (previous, type, way) towards source
    bwd: dict[str, Link | None] = {target: None}  # name -> (next, type, way) towards target
    fdist, bdist = {source: 0}, {target: 0}
    ffront, bfront = [source], [target]
    flevel = blevel = 0
    while ffront and bfront:
        if max_hops is not None and flevel + blevel + 1 > max_hops:
            return None
        forward = len(ffront) <= len(bfront)
        front, seen, dist = (ffront, fwd, fdist) if forward else (bfront, bwd, bdist)
        other_dist = bdist if forward else fdist
        step = direction if forward else reverse(direction)
        level = (flevel if forward else blevel) + 1
        fresh: dict[str, Link] = {}
        for src, type_, other, way in _levels(expand(front, step)):
            if other not in seen and other not in fresh:
                fresh[other] = (src, type_, way)
        for name, link in fresh.items():
            seen[name], dist[name] = link, level
        meets = [n for n in fresh if n in other_dist]
        if forward:
            ffront, flevel = sorted(fresh), level
        else:
            bfront, blevel = sorted(fresh), level
        if meets:
            best = min(meets, key=lambda n: (fdist[n] + bdist[n], n))
            if max_hops is not None and fdist[best] + bdist[best] > max_hops:
                return None
            return _join(best, fwd, bwd)
    return None


def _join(meet: str, fwd: dict[str, Link | None], bwd: dict[str, Link | None]) -> Path:
    nodes = [meet]
    types: list[str] = []
    ways: list[str] = []
    link = fwd[meet]
    while link is not None:
        nodes.append(link[0])
        types.append(link[1])
        ways.append(link[2])
        link = fwd[link[0]]
    nodes.reverse()
    types.reverse()
    ways.reverse()
    link = bwd[meet]
    while link is not None:
        nodes.append(link[0])
        types.append(link[1])
        # Found walking back from the target: a relation pointing from the next
        # name to this one points against the path's walk.
        ways.append("in" if link[2] == "out" else "out")
        link = bwd[link[0]]
    return Path(nodes=tuple(nodes), relations=tuple(types), directions=tuple(ways))


def all_shortest_paths(expand: Expand, source: str, target: str, *, direction: str, max_hops: int | None,
                       limit: int) -> list[Path]:  # fmt: skip
    """Up to ``limit`` shortest paths from ``source`` to ``target``, sorted by
    (nodes, relation types), as :meth:`graphmem.Memory.all_shortest_paths` returns them.

    A level-synchronous BFS from ``source`` keeps every (previous name,
    relation type) that reaches a name at its distance, and stops at the
    level that reaches ``target``. The paths are then listed from the DAG of
    names that lead to ``target``, in sorted order, so only ``limit`` of them
    are ever built (their number can grow exponentially with length).
    """
    if source == target:
        return [Path(nodes=(source,), relations=())]
    parents: dict[str, dict[tuple[str, str], str]] = {}  # name -> (previous, type) -> way
    dist = {source: 0}
    frontier = [source]
    level = 0
    while frontier and target not in dist and (max_hops is None or level < max_hops):
        level += 1
        fresh: dict[str, dict[tuple[str, str], str]] = {}
        for src, type_, other, way in expand(frontier, direction):
            if other not in dist:
                links = fresh.setdefault(other, {})
                if links.get((src, type_)) != "out":  # both ways: one path, the outgoing one (as embedded)
                    links[(src, type_)] = way
        for name, links in fresh.items():
            dist[name] = level
            parents[name] = links
        frontier = sorted(fresh)
    if target not in dist:
        return []
    # The names on some shortest path: the ancestors of `target` in the BFS DAG.
    steps: dict[str, dict[str, list[tuple[str, str]]]] = {}  # name -> next name -> (type, way), forward
    todo, seen = [target], {target}
    while todo:
        name = todo.pop()
        for (prev, type_), way in parents.get(name, {}).items():
            steps.setdefault(prev, {}).setdefault(name, []).append((type_, way))
            if prev not in seen:
                seen.add(prev)
                todo.append(prev)
    out: list[Path] = []

    def walk(nodes: list[str]) -> None:
        if len(out) >= limit:
            return
        if nodes[-1] == target:
            # One node sequence; its relation-type choices in sorted order.
            options = [sorted(steps[a][b]) for a, b in zip(nodes, nodes[1:])]
            for choice in product(*options):
                if len(out) >= limit:
                    return
                out.append(Path(nodes=tuple(nodes), relations=tuple(t for t, _ in choice),
                                directions=tuple(w for _, w in choice)))  # fmt: skip
            return
        for nxt in sorted(steps.get(nodes[-1], {})):
            walk([*nodes, nxt])

    walk([source])
    return out
