"""graphmem's own answers (search hits, paths, neighbours) as printable results.

Shared by the console's meta-commands and the ``graphmem search`` /
``graphmem path`` commands, so both print the same thing in every format.
Everything here goes through the public :class:`graphmem.Memory` API.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from ..errors import InvalidInput, NotFound
from ..memory import Memory
from ..types import Path, Recall
from .render import Output

__all__ = ["accepts", "like", "search", "find_paths", "chain_text"]
__all__ += ["show_hits", "show_paths", "show_neighbors", "show_recall"]


def accepts(method: Callable[..., Any], name: str) -> bool:
    """Whether ``method`` takes the keyword ``name`` (features arrive release by release)."""
    return name in inspect.signature(method).parameters


def like(mem: Memory, name: str) -> Any:
    """The stored vector of entity ``name``, to search for entities like it."""
    entity = mem.get_entity(name)
    if entity is None:
        raise NotFound(f"no entity named {name!r}")
    if entity.embedding is None:
        raise InvalidInput(f"{name!r} has no vector (it was stored without one), so there is nothing to compare with")
    return entity.embedding


def search(mem: Memory, query: Any, *, k: int = 10, types: Sequence[str] | None = None, exclude: str | None = None,
           near: str | Sequence[str] | None = None, hops: int | None = None, **composed: Any) -> list[Any]:  # fmt: skip
    """``mem.search``. ``near``, ``hops`` (``max_hops``) and the other options of
    composed search (``direction``, ``relation_types``, ``rank``, ``decay``; None
    means the default) are passed only when given, and refused clearly where this
    graphmem lacks them. ``exclude`` drops one name from the hits (the entity a
    like= search starts from)."""
    if isinstance(query, str) and mem.embedder is None:
        raise InvalidInput("searching by text needs an embedder, and this store was opened without one "
                           "(--embedder none, or a store whose vectors the embedder cannot make); "
                           "search like an entity instead (like=NAME in the console, --like NAME in the CLI)")
    kwargs: dict[str, Any] = {"k": k + (exclude is not None), "types": list(types) if types else None}
    given = {"near": near, "max_hops": hops, **composed}
    for key, value in given.items():
        if value is None:
            continue
        if not accepts(mem.search, key):
            raise InvalidInput(f"search({key}=...) is not available in this version of graphmem")
        kwargs[key] = value
    hits = [h for h in mem.search(query, **kwargs) if h.name != exclude]
    return hits[:k]


def _types_of(mem: Memory, names: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        entity = mem.get_entity(name)  # a primary-key lookup each: cheap for k hits
        out[name] = None if entity is None else entity.type
    return out


def show_hits(out: Output, mem: Memory, hits: Sequence[Any], *, elapsed: float | None = None) -> None:
    """Hits as rows: name, type, score, and hops and path for near= searches."""
    types = _types_of(mem, [h.name for h in hits])
    composed = any(getattr(h, "hops", None) is not None for h in hits)
    columns = ["name", "type", "score"] + (["hops", "path"] if composed else [])
    rows: list[list[Any]] = []
    for hit in hits:
        score = f"{hit.score:.4f}" if out.fmt == "table" else hit.score
        row: list[Any] = [hit.name, types[hit.name], score]
        if composed:
            path = hit.path
            if path is None:
                shown: Any = None
            elif out.fmt == "table":
                shown = chain_text(mem, path).plain
            else:
                shown = {"nodes": list(path.nodes), "relations": list(path.relations)}
            row += [hit.hops, shown]
        rows.append(row)
    out.result(columns, rows, elapsed=elapsed)


def find_paths(mem: Memory, source: str, target: str, *, all_paths: bool = False, max_hops: int | None = None,
               types: Sequence[str] | None = None, direction: str = "both") -> list[Path]:  # fmt: skip
    kwargs: dict[str, Any] = {"max_hops": max_hops, "types": list(types) if types else None, "direction": direction}
    if all_paths:
        return list(mem.all_shortest_paths(source, target, **kwargs))
    path = mem.shortest_path(source, target, **kwargs)
    return [] if path is None else [path]


def _hop_directions(mem: Memory, path: Path) -> list[str]:
    """Which way each relation of ``path`` points: "out" (walk order) or "in".

    A path a query returned says so itself; one made by hand is looked up
    (one read per hop)."""
    if len(path.directions) == len(path.relations):
        return list(path.directions)
    directions = []
    for i, relation in enumerate(path.relations):
        forward = mem.get_relation(path.nodes[i], relation, path.nodes[i + 1]) is not None
        directions.append("out" if forward else "in")
    return directions


def chain_text(mem: Memory, path: Path) -> Text:
    """``Alice -[WORKS_AT]-> Acme <-[WORKS_AT]- Bob``."""
    text = Text(path.nodes[0], style="bold")
    for node, relation, way in zip(path.nodes[1:], path.relations, _hop_directions(mem, path)):
        left, right = ("-", "->") if way == "out" else ("<-", "-")
        text.append(f" {left}[")
        text.append(relation, style="cyan")
        text.append(f"]{right} ")
        text.append(node, style="bold")
    return text


def show_paths(out: Output, mem: Memory, paths: Sequence[Path], *, source: str, target: str,
               elapsed: float | None = None) -> None:  # fmt: skip
    """Table: each path as a chain. JSON: an array of {hops, nodes, relations, directions}.
    CSV: one row per hop (path number, hop, from, relation, to, direction)."""
    if out.fmt == "table":
        timing = f" ({elapsed * 1000:,.1f} ms)" if elapsed is not None and out.timing else ""
        if not paths:
            out.show(Text(f"no path between {source} and {target}{timing}", style="yellow"))
            return
        hops = len(paths[0])
        lines: list[RenderableType] = [chain_text(mem, p) for p in paths]
        count = f"{len(paths)} paths of " if len(paths) > 1 else ""
        lines.append(Text(f"{count}{hops} hop{'s' if hops != 1 else ''}{timing}", style="dim"))
        out.show(Group(*lines))
        return
    if out.fmt == "json":
        records = []
        for path in paths:
            records.append({"hops": len(path), "nodes": list(path.nodes), "relations": list(path.relations),
                            "directions": _hop_directions(mem, path)})  # fmt: skip
        out.data(records)
        return
    rows = []
    for number, path in enumerate(paths, 1):
        for hop, way in enumerate(_hop_directions(mem, path)):
            rows.append([number, hop + 1, path.nodes[hop], path.relations[hop], path.nodes[hop + 1], way])
    out.result(["path", "hop", "from", "relation", "to", "direction"], rows, elapsed=elapsed)


def show_neighbors(out: Output, neighbors: Sequence[Any], *, elapsed: float | None = None) -> None:
    rows = [[n.name, n.type, n.direction] for n in neighbors]
    out.result(["name", "relation", "direction"], rows, elapsed=elapsed)



def show_recall(out: Output, found: Recall, *, chars: int | None = None, elapsed: float | None = None) -> None:
    """A :class:`~graphmem.types.Recall`. With ``chars``: the text an agent would get
    (``to_text``). Else, table: the entities (best first) and the relations among
    them; JSON: ``to_dict()``; CSV: an entities block and a relations block."""
    timing = f"{elapsed * 1000:,.1f} ms" if elapsed is not None and out.timing else ""
    cut = " (budgets left some out)" if found.truncated else ""
    if chars is not None:
        text = found.to_text(max_chars=chars)
        if out.fmt == "json":
            out.data({"text": text})
        elif out.fmt == "csv":
            out.result(["text"], [[text]])
        else:
            out.show(Text(text))
    elif out.fmt == "json":
        out.data(found.to_dict())
    else:
        table = out.fmt == "table"
        rows = []
        for e in found.entities:
            text = e.text or ""
            if table and len(text) > 80:
                text = text[:79] + "…"  # a table row per entity stays readable; JSON and CSV keep it whole
            score = f"{e.score:.4f}" if table else e.score
            rows.append([e.name, e.type, score, e.hops, text] + ([] if table else [list(e.observations)]))
        out.result(["name", "type", "score", "hops", "text"] + ([] if table else ["observations"]), rows)
        out.result(["source", "relation", "target"], [list(r) for r in found.relations])
    if cut and out.fmt == "table":
        out.info(cut.strip(" ()"))
    if timing:
        out.info(timing)
