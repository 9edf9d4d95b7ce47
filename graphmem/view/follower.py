"""The viewer's way in while an MCP server holds the store: the holder's share socket.

``graphmem mcp PATH`` holds its store read-write and serves other processes
over ``PATH/mcp.sock`` (:mod:`graphmem.mcp.share`). While it does, the
viewer cannot open the store at all, so :class:`ThroughHolder` answers the
same endpoints as :mod:`graphmem.view.api` by asking the holder: read-only
tool calls (``neighbors``, ``find_path``, ``semantic_search``) and the
viewer's own named statements sent through ``cypher_query`` (which the
holder runs in a read-only transaction). It never holds the store itself.

An entity's history is read with the same bounded statements as when the
viewer opens the store (:mod:`graphmem.memory.history`, what
:meth:`graphmem.Memory.relation_history` and ``entity_versions`` run), sent
through ``cypher_query``: the socket has no history tool. What the socket
cannot give, it says so (HTTP 503, "store_busy"): ``as_of`` reads need the
store's own time views. Every call names the viewer's namespace, which the
holder answers in (whatever namespace it serves itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import GraphMemError, InvalidInput, NotFound, StoreLocked
from ..memory.history import earlier_versions, relation_page
from ..records import entity_key
from ..store.queries import load_query
from .api import LIMITS, _entity, _iso, _relation, summarise

__all__ = ["ThroughHolder"]

# The MCP tools report graphmem's errors as "<ErrorClass>: message".
# Rows of the overview's statements: cypher_query returns at most 10,000.
_TYPE_ROWS = 10_000
_ERRORS: dict[str, type[GraphMemError]] = {"NotFound": NotFound, "InvalidInput": InvalidInput}
# The time columns of the history statements' rows: cypher_query sends times as ISO text.
_TIME_COLUMNS: dict[str, tuple[int, ...]] = {
    "entity_versions_newest": (7, 8, 9, 10),
    "relation_history_out_newest": (0,), "relation_history_in_newest": (0,),
    "relation_history_out_rows": (5, 6, 7, 8), "relation_history_in_rows": (5, 6, 7, 8),
}  # fmt: skip


class _Socket:
    """The query entry point :mod:`graphmem.memory.history` reads through, over the holder's socket:
    its statements' rows with their times as datetimes again (naive UTC, as the store gives them)."""

    def __init__(self, holder: ThroughHolder) -> None:
        self._holder = holder

    def execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        times = _TIME_COLUMNS[name]
        return [[datetime.fromisoformat(v) if i in times and v is not None else v for i, v in enumerate(row)]
                for row in self._holder._execute(name, dict(params or {}), _TYPE_ROWS)]  # fmt: skip


def _time(value: Any) -> str | None:
    """A time from ``cypher_query`` (ISO text, naive UTC) in the API's form."""
    return None if value is None else _iso(datetime.fromisoformat(value))


class ThroughHolder:
    """The viewer's endpoints answered by the process holding the store at ``path``.

    Parameters
    ----------
    path
        The store's directory.
    namespace
        The namespace the viewer shows (the named statements filter by it).
    patience
        Seconds a call keeps trying to reach the holder.
    """

    def __init__(self, path: str | Path, *, namespace: str = "default", patience: float = 5.0) -> None:
        from ..mcp.share import SOCKET_NAME, Shared  # the MCP extra is optional: imported on use

        self.path = Path(path)
        self.socket_path = self.path / SOCKET_NAME
        self._namespace = namespace
        # Every tool call carries the viewer's namespace: the holder answers in it, whatever its own.
        self._shared = Shared(self.path, self._never, patience=patience, namespace=namespace)

    @staticmethod
    def _never() -> Any:
        raise StoreLocked("the viewer never holds the store: it asks the process that does")

    @property
    def available(self) -> bool:
        """Whether a holder's socket is there to ask."""
        return self.socket_path.exists()

    def close(self) -> None:
        self._shared.close()

    # -- asking ----------------------------------------------------------------------------

    def _tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        outcome = self._shared.call_tool(name, args)
        if outcome.is_error:
            kind, _, message = outcome.text.partition(": ")
            raise _ERRORS.get(kind, GraphMemError)(message or outcome.text)
        return outcome.structured or {}

    def _execute(self, query: str, params: dict[str, Any], max_rows: int = 1000) -> list[list[Any]]:
        found = self._tool("cypher_query", {"query": load_query(query), "params": params, "maxRows": max_rows})
        rows: list[list[Any]] = found["rows"]
        return rows

    def _key(self, name: str) -> str:
        return entity_key(self._namespace, name)

    def _types(self, names: list[str]) -> dict[str, str]:
        rows = self._execute("view_entity_types", {"keys": [self._key(n) for n in names]}, len(names) or 1)
        return {n: t for n, t in rows}

    @staticmethod
    def _present_only(as_of: datetime | None) -> None:
        if as_of is not None:
            raise StoreLocked("an MCP server holds the store: the viewer reads through it and sees the present "
                              "only (as_of needs the store itself; try again when the server exits)")  # fmt: skip

    # -- the endpoints (as in graphmem.view.api) -------------------------------------------------

    def overview(self) -> dict[str, Any]:
        ns = self._namespace
        entity_rows = self._execute("view_entity_overview", {"namespace": ns}, _TYPE_ROWS)
        link_rows = self._execute("view_type_links", {"namespace": ns}, _TYPE_ROWS)
        out = summarise(ns, entity_rows, link_rows, can_search_meaning=True)
        # The slider needs as_of, which the socket cannot serve: hidden.
        out["time"] = {"has_history": False, "bounded_facts": out["time"]["bounded_facts"], "start": None, "end": None}
        out["through"] = "mcp"
        return out

    def type_members(self, *, type: str, limit: int) -> dict[str, Any]:
        rows = self._execute("view_type_members", {"namespace": self._namespace, "type": type, "limit": limit + 1})
        names = [r[0] for r in rows]
        return {"type": type, "names": names[:limit], "truncated": len(names) > limit}

    def search(self, *, q: str, k: int) -> dict[str, Any]:
        prefix = [{"name": n, "type": t} for n, t in
                  self._execute("view_name_prefix", {"namespace": self._namespace, "prefix": q.lower(), "limit": k})]
        try:
            hits = self._tool("semantic_search", {"query": q, "limit": k})["results"]
        except GraphMemError:
            hits = []  # the holder has no embedder or no vectors: names only
        meaning = [{"name": h["name"], "score": round(h["score"], 4), "type": h["entityType"]} for h in hits]
        return {"q": q, "prefix": prefix, "meaning": meaning}

    def entity(self, *, name: str, as_of: datetime | None) -> dict[str, Any]:
        self._present_only(as_of)
        rows = self._execute("view_entity_detail", {"key": self._key(name)})
        if not rows:
            raise NotFound(f"no entity named {name!r}")
        n, type_, text, observations, properties, created, updated, valid_from, valid_to = rows[0]
        entity = {
            "name": n, "type": type_, "text": text, "observations": list(observations or []),
            "properties": json.loads(properties) if properties else {}, "created_at": _time(created),
            "updated_at": _time(updated), "valid_from": _time(valid_from), "valid_to": _time(valid_to),
            "expired_at": None,
        }  # fmt: skip
        socket, key = _Socket(self), self._key(name)
        earlier, truncated = earlier_versions(socket, key, limit=LIMITS.history_max - 1)
        page = relation_page(socket, key, name, limit=LIMITS.relations)
        return {"entity": entity, "history": {
            "versions": [_entity(v) for v in earlier] + [entity], "versions_truncated": truncated,
            "relations": [_relation(r) for r in page.relations], "older": page.older,
            "truncated": truncated or page.older is not None,
        }}  # fmt: skip

    def relations(self, *, name: str, before: str | None, limit: int) -> dict[str, Any]:
        page = relation_page(_Socket(self), self._key(name), name, limit=limit, before=before)
        if not page.relations and name not in self._types([name]):
            raise NotFound(f"no entity named {name!r}")
        return {"name": name, "relations": [_relation(r) for r in page.relations], "older": page.older}

    def neighbors(self, *, name: str, limit: int, as_of: datetime | None) -> dict[str, Any]:
        self._present_only(as_of)
        # Bounded in the request: the holder reads (and sends) the shown neighbours' relations only.
        found = self._tool("neighbors", {"name": name, "limit": limit})
        shown, total = found["neighbors"], found["total"]
        types = self._types([name] + [n["name"] for n in shown])
        if name not in types:
            raise NotFound(f"no entity named {name!r}")
        return {
            "name": name, "type": types[name], "total": total, "truncated": total > len(shown),
            "neighbors": [{"name": n["name"], "relation": n["relationType"], "direction": n["direction"],
                           "type": types.get(n["name"])} for n in shown],
        }  # fmt: skip

    def relation(self, *, source: str, type: str, target: str) -> dict[str, Any]:
        rows = self._execute("view_relation", {"source": self._key(source), "type": type, "target": self._key(target)})
        if not rows:
            raise NotFound(f"no relation {source!r} -[{type}]-> {target!r}")
        properties, created, valid_from, valid_to = rows[0]
        return {"relation": {
            "source": source, "type": type, "target": target,
            "properties": json.loads(properties) if properties else {}, "created_at": _time(created),
            "valid_from": _time(valid_from), "valid_to": _time(valid_to), "expired_at": None,
        }}  # fmt: skip

    def paths(self, *, source: str, target: str, limit: int, max_hops: int, as_of: datetime | None) -> dict[str, Any]:
        self._present_only(as_of)
        # find_path gives one shortest path: the socket offers no all-paths tool.
        found = self._tool("find_path", {"from": source, "to": target, "maxHops": max_hops})
        paths = []
        if found["found"]:
            paths.append({"nodes": found["nodes"], "relations": [r["relationType"] for r in found["relations"]]})
        names = sorted({n for p in paths for n in p["nodes"]})
        return {"source": source, "target": target, "paths": paths, "types": self._types(names) if names else {},
                "truncated": False}  # fmt: skip
