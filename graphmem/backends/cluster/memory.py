"""``ClusterMemory``: the graphmem API over one FalkorDB graph per namespace.

Each namespace is the graph key ``gm:{<namespace>}``; the braces are a Redis
Cluster hash tag, so everything of a namespace lives in one slot on one
primary and each statement runs there, atomically. graphmem keeps no registry:
the slot map is the cluster's. What differs from the embedded
:class:`graphmem.Memory` is listed in README.md ("Cluster backend").

Over 500 lines: ``ClusterMemory`` implements the whole
:class:`~graphmem.api.MemoryAPI` against FalkorDB, one method per public method
with the decoding of its replies; the argument checks it shares with the
embedded memory live in :mod:`graphmem.inputs` and
:mod:`graphmem.query.search`.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np

from ...embed import Embedder, entity_text, resolve_embedder
from ...errors import GraphMemError, InvalidInput, NotFound, QueryError
from ...store.cypher_guard import check_user_cypher
from ...index.labels import RelationEntry
from ...inputs import hop_request, neighbors_request, path_request, recall_request, search_request
from ...query.search import query_vector
from ...index.names import NameEntry, TypeSummary
from ...index.text import TextEntry
from ...store.store import Tracer
from ...types import (
    Access, Duplicate, Entity, EntityVersions, Explanation, History, Hit, KHop, NamespaceInfo, Neighbor, Neighbors,
    Path, Recall, RecalledEntity, Relation, RelationHistoryPage, Schema, Subgraph,
)
from ...validate import (
    check_name,
    check_namespace,
    check_observations,
    check_count,
    check_positive_int,
    check_properties,
    check_text,
    check_type,
    check_vector,
)
from . import cypher as q
from . import traverse
from .errors import NotSupported
from .router import Router, parse_url

__all__ = ["ClusterMemory", "connect", "graph_key"]

_ENTITY_KEYS = frozenset({"name", "type", "text", "observations", "properties", "embedding"})
_RELATION_KEYS = frozenset({"source", "type", "target", "properties"})
# Fields of the embedded API the cluster keeps nothing for: accepted when unset
# (None / False, e.g. from an export of unbounded facts), refused otherwise.
_UNKEPT = {"valid_from": None, "valid_to": None, "importance": None, "replaces": False}
_CHUNK = 2000  # names per statement in scans and BFS levels (keeps headers small)
_REQUEST_TTL_US = 3600 * 1_000_000  # a request id is remembered this long: far beyond any retry deadline
_PRUNE_EVERY = 1000  # writes between prunes of old request ids, per handle


def graph_key(namespace: str) -> str:
    """The Redis key of a namespace's graph.

    Examples
    --------
    >>> graph_key("project-a")
    'gm:{project-a}'
    """
    return f"gm:{{{namespace}}}"


def _now_us() -> int:
    return time.time_ns() // 1000


def _time(us: Any) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, tz=UTC)


def _properties(keys: Any, values: Any) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in zip(keys or [], values or [])}


def _encode_properties(props: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    props = props or {}
    return list(props), [json.dumps(v, ensure_ascii=False) for v in props.values()]


def _statement_names() -> dict[str, str]:
    """Each statement of :mod:`.cypher` by its text, named as the tracer reports it
    (the constant's name in lower case, ``expand[out]`` for a dict's entry)."""
    names: dict[str, str] = {}
    for name, value in vars(q).items():
        if name.startswith("_") or not name.isupper():
            continue
        if isinstance(value, str):
            names.setdefault(value, name.lower())
        elif isinstance(value, dict):
            for key, text in value.items():
                names.setdefault(text, f"{name.lower()}[{key}]")
        elif isinstance(value, tuple):
            for i, text in enumerate(value):
                names.setdefault(text, f"{name.lower()}[{i}]")
    return names


_STATEMENT_NAMES = _statement_names()


class _Trace:
    """The tracer of one connection, shared by its namespace views (as the
    embedded store's tracer is shared by its views)."""

    __slots__ = ("tracer",)

    def __init__(self) -> None:
        self.tracer: Tracer | None = None

    def __call__(self, text: str, params: Mapping[str, Any] | None) -> None:
        tracer = self.tracer
        if tracer is not None:
            tracer(_STATEMENT_NAMES.get(text, "<cypher>"), params)


class _Graph:
    """The falkordb ``Graph`` of one key, its commands sent through the router."""

    def __init__(self, router: Router, key: str, trace: _Trace) -> None:
        import falkordb
        from falkordb.query_result import QueryResult

        self._router = router
        self.key = key
        self._trace = trace
        self._result = QueryResult
        # The Graph parses compact replies and resolves label / property ids of
        # returned nodes with procedure calls, which go through execute_command.
        self._graph = falkordb.Graph(self, key)

    def execute_command(self, *args: Any) -> Any:  # used by falkordb.Graph for schema procedures
        return self._router.read(self.key, *args)

    def run(self, text: str, params: Mapping[str, Any] | None = None, *, write: bool = False,
            read_only: bool = True) -> Any:  # fmt: skip
        """Run one statement; return falkordb's ``QueryResult``."""
        self._trace(text, params)
        header = self._graph._build_params_header(dict(params)) if params else ""
        command = "GRAPH.RO_QUERY" if read_only and not write else "GRAPH.QUERY"
        args = (command, self.key, header + text, "--compact")
        import redis

        reply = self._router.write(self.key, *args) if write else self._router.read(self.key, *args)
        try:
            return self._result(self._graph, reply)
        except redis.ResponseError as exc:  # a run-time error travels inside the reply
            raise QueryError(str(exc)) from None

    def rows(self, text: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        rows: list[list[Any]] = self.run(text, params).result_set
        return rows


class ClusterMemory:
    """An agent's memory in one namespace of a FalkorDB Redis Cluster.

    Create one with :func:`graphmem.connect`. The methods match
    :class:`graphmem.Memory` where the cluster can honour them; see README.md
    ("Cluster backend") for what differs.
    """

    def __init__(self, router: Router, *, namespace: str, embedder: Embedder | None, url: str,
                 ef_search: int = 100, owner: bool = True, trace: _Trace | None = None) -> None:  # fmt: skip
        self._router = router
        self._namespace = check_namespace(namespace)
        self._embedder = embedder
        self._url = url
        self._ef = ef_search
        self._owner = owner
        self._closed = False
        self._writes = 0
        self._trace = trace if trace is not None else _Trace()
        self._graph = _Graph(router, graph_key(self._namespace), self._trace)
        self._ensure_schema()
        rows = self._graph.rows(q.DIM_GET)
        self._dim: int | None = int(rows[0][0]) if rows else None
        if embedder is not None and self._dim is not None and embedder.dim != self._dim:
            raise InvalidInput(f"the embedder makes {embedder.dim}-d vectors but this namespace holds {self._dim}-d ones")

    def _ensure_schema(self) -> None:
        try:
            if self._graph.rows(q.SCHEMA_READY):
                return
        except QueryError as exc:
            if "empty key" not in str(exc):  # a new namespace has no graph yet
                raise
        for statement in q.SCHEMA:
            self._ddl(statement)
        self._graph.run(q.SCHEMA_SEQ, write=True)

    def _ddl(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._graph.run(statement, params, write=True)
        except QueryError as exc:
            # Another client (or an earlier, interrupted connect) made it: fine.
            if "already indexed" not in str(exc) and "already exists" not in str(exc):
                raise

    # -- handle ----------------------------------------------------------------------

    @property
    def namespace_name(self) -> str:
        """The namespace this memory reads and writes."""
        return self._namespace

    @property
    def graph_key(self) -> str:
        """The Redis key of this namespace's graph."""
        return self._graph.key

    @property
    def vector_dim(self) -> int | None:
        return self._dim

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def read_only(self) -> bool:
        return False

    @property
    def path(self) -> pathlib.Path | None:
        return None

    @property
    def engine(self) -> str:
        return "falkordb-cluster"

    @property
    def tracer(self) -> Tracer | None:
        """Called with (statement name, parameters) before every statement; ``None`` to stop.
        Names are those of :mod:`graphmem.backends.cluster.cypher` in lower case; user Cypher is ``"<cypher>"``."""
        return self._trace.tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        if tracer is not None and not callable(tracer):
            raise InvalidInput(f"tracer must be callable or None, not {type(tracer).__name__}")
        self._trace.tracer = tracer

    def namespace(self, name: str) -> ClusterMemory:
        """A memory of namespace ``name`` on the same connection (created by this call)."""
        self._check_open()
        return ClusterMemory(self._router, namespace=name, embedder=self._embedder, url=self._url,
                             ef_search=self._ef, owner=False, trace=self._trace)  # fmt: skip

    def namespaces(self) -> list[NamespaceInfo]:
        """Every namespace with entities, with its counts, by name: each primary's
        keys are scanned (there is no registry), then each graph is counted."""
        self._check_open()
        found: set[str] = set()
        for node in self._router.cluster.get_primaries():
            client = self._router.cluster.get_redis_connection(node)
            for key in client.scan_iter(match="gm:{*", count=1000):
                if key.endswith("}"):
                    found.add(key[4:-1])
        out = []
        for name in sorted(found):
            graph = _Graph(self._router, graph_key(name), self._trace)
            entities = int(graph.rows(q.ENTITY_COUNT)[0][0])
            if entities:  # a namespace whose entities were all deleted is gone, as on the embedded store
                out.append(NamespaceInfo(name, entities, int(graph.rows(q.RELATION_COUNT)[0][0])))
        return out

    def close(self, *, save_index: bool = True) -> None:
        """Release the connections (a view from :meth:`namespace` shares them). Safe to call twice.

        ``save_index`` is accepted for the embedded API's sake: the vector
        index lives on the servers, so there is nothing local to save."""
        if self._closed:
            return
        self._closed = True
        if self._owner:
            self._router.close()

    def flush(self, *, save_index: bool = True) -> None:
        """Nothing to do: a write returns only after a replica confirmed it (``save_index`` as in :meth:`close`)."""
        self._check_open()

    def __enter__(self) -> ClusterMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "read-write"
        return f"<graphmem.ClusterMemory {self._graph.key} namespace={self._namespace} {state}>"

    def __len__(self) -> int:
        self._check_open()
        return int(self._graph.rows(q.ENTITY_COUNT)[0][0])

    def _check_open(self) -> None:
        if self._closed:
            raise GraphMemError("this memory is closed")

    # -- writes ----------------------------------------------------------------------

    def _write(self, statement: str, params: dict[str, Any]) -> int | None:
        """Run a guarded write once (by request id); its count, or ``None`` if its checks refused it."""
        found = self._write_result(statement, params)
        return None if found is None else int(found or 0)

    def _write_result(self, statement: str, params: dict[str, Any]) -> Any:
        """Run a guarded write once (by request id); the first value it returned
        (or its marker kept for a resend), or ``None`` if its checks refused it."""
        rid = uuid.uuid4().hex
        now = _now_us()
        rows = self._graph.run(statement, {**params, "rid": rid, "now": now}, write=True).result_set
        if not rows:
            # Nothing came back: either a resend after a lost reply (the marker
            # holds the first result) or the statement's checks refused it.
            marker = self._graph.rows(q.REQUEST_RESULT, {"rid": rid})
            if not marker:
                return None
            rows = marker
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            self._graph.run(q.REQUEST_PRUNE, {"cutoff": now - _REQUEST_TTL_US}, write=True)
        return rows[0][0]

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
        """Create or update the entity ``name`` and return it as stored (rules of
        :meth:`graphmem.Memory.add_entity`: ``text`` and ``embedding`` replace,
        ``observations`` append, ``properties`` merge, ``type=None`` keeps)."""
        record = {"name": name, "type": type, "text": text, "observations": observations,
                  "properties": properties, "embedding": embedding, "valid_from": valid_from,
                  "valid_to": valid_to, "importance": importance}  # fmt: skip
        self._write_entities([_parse_entity(record, None)])
        found = self.get_entity(record["name"])
        if found is None:  # pragma: no cover - deleted by another client meanwhile
            raise NotFound(f"no entity named {name!r}")
        return found

    def add_entities(self, entities: Iterable[Mapping[str, Any]]) -> int:
        """Upsert many entities in one atomic statement; return how many records were written."""
        if isinstance(entities, (str, bytes, Mapping)):
            raise InvalidInput("add_entities takes a list of dicts; use add_entity for one")
        items = [_parse_entity(record, i) for i, record in enumerate(entities)]
        if items:
            self._write_entities(items)
        return len(items)

    def _write_entities(self, items: list[dict[str, Any]]) -> None:
        self._check_open()
        merged = _fold(items)
        dim = self._dim
        for item in merged:
            if item["emb"] is not None:
                item["emb"] = check_vector(item["emb"], dim)
                dim = item["emb"].size
        if self._embedder is not None:
            self._embed(merged)
            dim = self._embedder.dim if any(i["emb"] is not None for i in merged) else dim
        has_vectors = any(i["emb"] is not None for i in merged)
        if has_vectors and self._dim is None:
            self._set_dim(int(dim))  # type: ignore[arg-type]
        rows = [
            {"name": i["name"], "i": n, "type": i["type"], "text": i["text"], "obs": list(i["obs"]),
             "pk": i["pk"], "pv": i["pv"], "emb": None if i["emb"] is None else [float(x) for x in i["emb"]]}
            for n, i in enumerate(merged)
        ]  # fmt: skip
        done = self._write(q.ENTITY_UPSERT, {"rows": rows, "dim": self._dim if has_vectors else None})
        if done is None:
            stored = self._graph.rows(q.DIM_GET)
            raise InvalidInput(f"these vectors have dimension {dim}; this namespace's have dimension "
                               f"{stored[0][0] if stored else '?'}: nothing was written")  # fmt: skip

    def _set_dim(self, dim: int) -> None:
        stored = int(self._graph.run(q.DIM_SET, {"dim": dim}, write=True).result_set[0][0])
        if stored != dim:
            self._dim = stored
            raise InvalidInput(f"embedding has dimension {dim}; this namespace's vectors have dimension {stored}")
        self._dim = dim
        self._ddl(q.VECTOR_INDEX, {"dim": dim, "ef": self._ef})

    def _embed(self, merged: list[dict[str, Any]]) -> None:
        """Vectors for the records given none, from their text after the merge (the
        stored row is read first; a concurrent writer may make it slightly stale)."""
        todo = [i for i in merged if i["emb"] is None]
        if not todo:
            return
        stored = {row[0]: row for row in self._graph.rows(q.ENTITY_GET_MANY, {"names": [i["name"] for i in todo]})}
        texts = []
        for item in todo:
            row = stored.get(item["name"])
            old_obs = list(row[3] or []) if row else []
            view = _TextView(
                name=item["name"],
                type=item["type"] or (row[1] if row else "Entity"),
                text=item["text"] if item["text"] is not None else (row[2] if row else None),
                observations=old_obs + [o for o in item["obs"] if o not in old_obs],
            )
            texts.append(entity_text(view))
        vectors = self._embedder.encode(texts)  # type: ignore[union-attr]
        for item, vector in zip(todo, vectors):
            item["emb"] = check_vector(vector, self._dim)

    def delete_entity(self, name: str) -> bool:
        """Delete ``name`` with its relations and vector; ``False`` if it did not exist."""
        name = check_name(name)
        self._check_open()
        return bool(self._write(q.ENTITY_DELETE, {"name": name}))

    def delete_entities(self, names: Iterable[str]) -> list[bool]:
        """:meth:`delete_entity` for many names in one atomic statement; for each
        name, whether it existed before the call (a name given twice: ``True`` both times)."""
        checked = _name_list(names, "delete_entities")
        self._check_open()
        if not checked:
            return []
        gone = set(self._write_result(q.ENTITY_DELETE_MANY, {"names": list(dict.fromkeys(checked))}) or ())
        return [name in gone for name in checked]

    def remove_observations(self, name: str, observations: Iterable[str]) -> Entity:
        """Remove ``observations`` from ``name`` and return it as stored (ones it lacks
        are ignored). With an embedder the entity is embedded again from its new
        text, in the same statement. :class:`NotFound` if there is no ``name``."""
        name = check_name(name)
        drop = list(dict.fromkeys(check_observations(observations) or ()))
        self._check_open()
        row = self._graph.rows(q.ENTITY_GET, {"name": name})
        if not row:
            raise NotFound(f"no entity named {name!r}")
        if drop:
            emb = None
            if self._embedder is not None:
                stored = self._entity(row[0])
                view = _TextView(name=name, type=stored.type, text=stored.text,
                                 observations=[o for o in stored.observations if o not in drop])  # fmt: skip
                emb = [float(x) for x in check_vector(self._embedder.encode([entity_text(view)])[0], self._dim)]
            if not self._write(q.OBSERVATIONS_REMOVE, {"name": name, "drop": drop, "emb": emb}):
                raise NotFound(f"no entity named {name!r}")  # deleted by another client meanwhile
        found = self.get_entity(name)
        if found is None:  # pragma: no cover - deleted by another client meanwhile
            raise NotFound(f"no entity named {name!r}")
        return found

    def add_relation(self, source: str, type: str, target: str, *, properties: Mapping[str, Any] | None = None,
                     valid_from: datetime | None = None, valid_to: datetime | None = None,
                     replaces: bool = False) -> Relation:  # fmt: skip
        """Create ``source -[type]-> target`` or merge ``properties`` into the existing one."""
        record = {"source": source, "type": type, "target": target, "properties": properties,
                  "valid_from": valid_from, "valid_to": valid_to, "replaces": replaces}  # fmt: skip
        item = _parse_relation(record, None)
        self._write_relations([item])
        found = self.get_relation(item["s"], item["type"], item["t"])
        if found is None:  # pragma: no cover - deleted by another client meanwhile
            raise NotFound(f"{source} -[{type}]-> {target}")
        return found

    def add_relations(self, relations: Iterable[Any]) -> int:
        """Upsert many relations in one atomic statement; a missing endpoint raises
        :class:`NotFound` and nothing is written."""
        if isinstance(relations, (str, bytes, Mapping)):
            raise InvalidInput("add_relations takes a list of tuples or dicts; use add_relation for one")
        items = [_parse_relation(record, i) for i, record in enumerate(relations)]
        if items:
            self._write_relations(items)
        return len(items)

    def _write_relations(self, items: list[dict[str, Any]]) -> None:
        self._check_open()
        folded: dict[tuple[str, str, str], dict[str, Any]] = {}
        for item in items:
            key = (item["s"], item["type"], item["t"])
            if key in folded:
                folded[key]["props"].update(item["props"])
            else:
                folded[key] = {**item, "props": dict(item["props"])}
        rows = []
        for item in folded.values():
            pk, pv = _encode_properties(item["props"])
            rows.append({"s": item["s"], "type": item["type"], "t": item["t"], "pk": pk, "pv": pv})
        names = sorted({n for item in items for n in (item["s"], item["t"])})
        if self._write(q.RELATION_UPSERT, {"rows": rows, "names": names}) is None:
            missing = [n for n, count in self._graph.rows(q.NAMES_FOUND, {"names": names}) if not count]
            raise NotFound(f"no entity named {', '.join(map(repr, missing)) or '?'}: no relation was written")

    def delete_relation(self, source: str, type: str, target: str) -> bool:
        """Delete ``source -[type]-> target``; ``False`` if there was none."""
        params = {"s": check_name(source, "source"), "type": check_type(type, "relation type"),
                  "t": check_name(target, "target")}  # fmt: skip
        self._check_open()
        return bool(self._write(q.RELATION_DELETE, params))

    # -- reads -----------------------------------------------------------------------

    def get_entity(self, name: str, *, as_of: datetime | None = None,
                   known_at: datetime | None = None) -> Entity | None:  # fmt: skip
        """The entity called ``name``, or ``None``."""
        _now_only(as_of, known_at)
        name = check_name(name)
        self._check_open()
        rows = self._graph.rows(q.ENTITY_GET, {"name": name})
        return self._entity(rows[0]) if rows else None

    def _entity(self, row: Sequence[Any]) -> Entity:
        name, type_, text, obs, pk, pv, id_, created, updated, *rest = row
        vector = np.asarray(rest[0], np.float32) if rest and rest[0] is not None else None
        return Entity(name=name, type=type_, text=text, observations=tuple(obs or ()), properties=_properties(pk, pv),
                      id=int(id_), namespace=self._namespace, created_at=_time(created), updated_at=_time(updated),
                      embedding=vector)  # fmt: skip

    def get_relation(self, source: str, type: str, target: str) -> Relation | None:
        """The relation ``source -[type]-> target``, or ``None``."""
        params = {"s": check_name(source, "source"), "type": check_type(type, "relation type"),
                  "t": check_name(target, "target")}  # fmt: skip
        self._check_open()
        rows = self._graph.rows(q.RELATION_GET, params)
        if not rows:
            return None
        pk, pv, created = rows[0]
        return Relation(source, type, target, _properties(pk, pv), _time(created))

    def _exists(self, name: str) -> bool:
        return bool(self._graph.rows(q.NAMES_FOUND, {"names": [name]})[0][1])

    def has_entities(self, names: Iterable[str]) -> list[bool]:
        """Whether :meth:`get_entity` would find each name, in one statement per 2,000 names."""
        checked = _name_list(names, "has_entities")
        self._check_open()
        found: set[str] = set()
        unique = list(dict.fromkeys(checked))
        for start in range(0, len(unique), _CHUNK):
            found.update(n for n, c in self._graph.rows(q.NAMES_FOUND, {"names": unique[start : start + _CHUNK]}) if c)
        return [name in found for name in checked]

    def has_relations(self, relations: Iterable[tuple[str, str, str]]) -> list[bool]:
        """Whether each (source, type, target) is a relation, in one statement per 2,000 triples."""
        if isinstance(relations, (str, bytes, Mapping)):
            raise InvalidInput("has_relations takes a list of (source, type, target) tuples")
        rows = []
        for i, triple in enumerate(relations):
            if not isinstance(triple, (tuple, list)) or len(triple) != 3:
                raise InvalidInput(f"relation {i} must be a (source, type, target) tuple, not {triple!r}")
            s, t, d = triple
            rows.append({"i": i, "s": check_name(s, "source"), "type": check_type(t, "relation type"),
                         "t": check_name(d, "target")})  # fmt: skip
        self._check_open()
        found = [False] * len(rows)
        for start in range(0, len(rows), _CHUNK):
            for i, count in self._graph.rows(q.RELATIONS_FOUND, {"rows": rows[start : start + _CHUNK]}):
                found[int(i)] = bool(count)
        return found

    def text_entries(self, names: Iterable[str]) -> list[TextEntry | None]:
        """The :meth:`find_text` entries of these names (``None`` where :meth:`get_entity` finds nothing)."""
        checked = _name_list(names, "text_entries")
        self._check_open()
        unique = list(dict.fromkeys(checked))
        found: dict[str, TextEntry] = {}
        for start in range(0, len(unique), _CHUNK):
            for row in self._graph.rows(q.TEXT_MANY, {"names": unique[start : start + _CHUNK]}):
                entry = _text_entry(row)
                found[entry.name] = entry
        return [found.get(name) for name in checked]

    def neighbors(self, name: str, *, direction: str = "both",
                  types: Iterable[str] | str | None = None, as_of: datetime | None = None,
                  known_at: datetime | None = None, limit: int | None = None) -> Neighbors:  # fmt: skip
        """The entities one relation away from ``name``, sorted by name, type, direction.

        ``limit`` keeps the first that many of them in that order (``total``
        counts them all): the server returns every row, so unlike the
        embedded store's the cost still grows with the degree."""
        _now_only(as_of, known_at)
        request = neighbors_request(name, direction=direction, types=types, limit=limit)
        name, direction, type_filter = request.name, request.direction, request.types
        self._check_open()
        if type_filter is not None and not type_filter:
            return Neighbors()
        rows = self._graph.rows(q.NEIGHBORS[direction], {"name": name, "types": _types(type_filter)})
        if not rows and not self._exists(name):
            raise NotFound(f"no entity named {name!r}")
        found = sorted(rows)
        kept = found if request.limit is None else found[:request.limit]
        return Neighbors([Neighbor(n, t, d) for n, t, d in kept], total=len(found))

    def _expand(self, types: tuple[str, ...] | None) -> traverse.Expand:
        def expand(names: Sequence[str], direction: str) -> list[tuple[str, str, str, str]]:
            out: list[tuple[str, str, str, str]] = []
            for start in range(0, len(names), _CHUNK):
                chunk = list(names[start : start + _CHUNK])
                out.extend(tuple(r) for r in self._graph.rows(q.EXPAND[direction], {"names": chunk, "types": _types(types)}))
            return out

        return expand

    def _require(self, names: Iterable[str], what: str = "") -> None:
        names = list(dict.fromkeys(names))
        missing = [n for n, count in self._graph.rows(q.NAMES_FOUND, {"names": names}) if not count]
        if missing:
            raise NotFound(f"no entity named {missing[0]!r}{what}")

    def shortest_path(self, source: str, target: str, *, max_hops: int | None = None,
                      types: Iterable[str] | str | None = None, direction: str = "both",
                      as_of: datetime | None = None, known_at: datetime | None = None) -> Path | None:  # fmt: skip
        """A shortest path from ``source`` to ``target``, or ``None`` (a bidirectional
        BFS on the server's current graph: no cache to go stale)."""
        _now_only(as_of, known_at)
        request = path_request(source, target, max_hops=max_hops, direction=direction, types=types)
        source, target, max_hops = request.source, request.target, request.max_hops
        direction, type_filter = request.direction, request.types
        self._check_open()
        self._require((source, target))
        if type_filter is not None and not type_filter and source != target:
            return None
        return traverse.shortest_path(self._expand(type_filter), source, target, direction=direction,
                                      max_hops=max_hops)  # fmt: skip

    def k_hop(self, name: str, hops: int = 1, *, direction: str = "both",
              types: Iterable[str] | str | None = None, max_entities: int | None = None,
              as_of: datetime | None = None, known_at: datetime | None = None) -> KHop:  # fmt: skip
        """The entities within ``hops`` relations of ``name`` with their distances, nearest first."""
        _now_only(as_of, known_at)
        request = hop_request(name, hops, direction=direction, types=types, max_entities=max_entities, source=True)
        name, hops, direction, type_filter = request.seeds[0], request.hops, request.direction, request.types
        self._check_open()
        self._require((name,))
        found = traverse.reach(self._expand(type_filter), [name], direction=direction, max_hops=hops,
                               max_entities=request.max_entities)  # fmt: skip
        ordered = dict(sorted(found.dist.items(), key=lambda kv: (kv[1], kv[0])))
        return KHop(name, hops, MappingProxyType(ordered), found.truncated)

    def all_shortest_paths(self, source: str, target: str, *, max_hops: int | None = None,
                           types: Iterable[str] | str | None = None, direction: str = "both",
                           limit: int = 100, as_of: datetime | None = None,
                           known_at: datetime | None = None) -> list[Path]:  # fmt: skip
        """Every shortest path from ``source`` to ``target`` (at most ``limit``), sorted;
        ``[]`` when there is none (a BFS on the server's current graph)."""
        _now_only(as_of, known_at)
        request = path_request(source, target, max_hops=max_hops, direction=direction, types=types, limit=limit)
        source, target, max_hops = request.source, request.target, request.max_hops
        direction, type_filter, limit = request.direction, request.types, request.limit
        self._check_open()
        self._require((source, target))
        if type_filter is not None and not type_filter and source != target:
            return []
        return traverse.all_shortest_paths(self._expand(type_filter), source, target, direction=direction,
                                           max_hops=max_hops, limit=limit)  # fmt: skip

    def paths_between(self, source: str, target: str, *, max_hops: int | None = None,
                      types: Iterable[str] | str | None = None, direction: str = "both",
                      limit: int = 10, as_of: datetime | None = None,
                      known_at: datetime | None = None) -> list[Explanation]:  # fmt: skip
        """Every shortest path from ``source`` to ``target`` (at most ``limit``), each
        with the entities along it: how the memory connects the two."""
        _now_only(as_of, known_at)
        paths = self.all_shortest_paths(source, target, max_hops=max_hops, types=types, direction=direction,
                                        limit=limit)  # fmt: skip
        names = list(dict.fromkeys(n for p in paths for n in p.nodes))
        rows = {r[0]: r for r in self._graph.rows(q.ENTITY_GET_MANY, {"names": names})} if names else {}
        out = []
        for path in paths:
            if all(n in rows for n in path.nodes):  # a concurrent delete drops the path
                out.append(Explanation(path, tuple(self._entity(rows[n]) for n in path.nodes)))
        return out

    def subgraph(self, seeds: str | Iterable[str], hops: int = 1, *, direction: str = "both",
                 types: Iterable[str] | str | None = None, max_entities: int | None = 100,
                 max_relations: int | None = 500, as_of: datetime | None = None,
                 known_at: datetime | None = None) -> Subgraph:  # fmt: skip
        """The entities within ``hops`` of the seeds (name -> distance, nearest first)
        and the ``(source, type, target)`` relations among them that pass ``types``;
        the caps keep the nearest entities and the relations of the nearest ones."""
        _now_only(as_of, known_at)
        request = hop_request(seeds, hops, direction=direction, types=types, max_entities=max_entities,
                              max_relations=max_relations)  # fmt: skip
        names, hops, direction, type_filter = list(request.seeds), request.hops, request.direction, request.types
        self._check_open()
        self._require(names, " (given as a seed)")
        if type_filter is not None and not type_filter:
            found = traverse.reach(lambda _n, _d: [], names, direction=direction, max_hops=0,
                                   max_entities=request.max_entities)  # fmt: skip
        else:
            found = traverse.reach(self._expand(type_filter), names, direction=direction, max_hops=hops,
                                   max_entities=request.max_entities)  # fmt: skip
        ordered = dict(sorted(found.dist.items(), key=lambda kv: (kv[1], kv[0])))
        among = []
        if type_filter is None or type_filter:
            among = self._graph.rows(q.RELATIONS_AMONG, {"names": list(ordered), "types": _types(type_filter)})
        # The relations of the nearest entities first, when capped.
        relations = sorted({tuple(r) for r in among}, key=lambda r: (max(ordered[r[0]], ordered[r[2]]), r))
        capped = request.max_relations is not None and len(relations) > request.max_relations
        kept = sorted(relations[:request.max_relations] if request.max_relations is not None else relations)
        return Subgraph(MappingProxyType(ordered), tuple(kept), found.truncated or capped)

    # -- search ----------------------------------------------------------------------

    def search(self, query: str | Any, k: int = 10, *, types: Iterable[str] | str | None = None,
               near: str | Iterable[str] | None = None, max_hops: int | None = None, direction: str = "both",
               relation_types: Iterable[str] | str | None = None, rank: str = "similarity",
               decay: float = 0.5, as_of: datetime | None = None,
               known_at: datetime | None = None) -> list[Hit]:  # fmt: skip
        """The ``k`` entities most similar to ``query``, best first.

        Without ``near``: FalkorDB's HNSW vector index (approximate; a
        ``types`` filter over-fetches, then falls back to an exact scan).
        With ``near``: the entities within ``max_hops`` of the anchors (a BFS
        on the server), scored exactly, each hit with ``hops`` and ``path``.
        ``rank="hybrid"`` scores ``similarity * decay ** hops``.
        """
        _now_only(as_of, known_at)
        request = search_request(k=k, types=types, near=near, max_hops=max_hops, direction=direction,
                                 relation_types=relation_types, rank=rank, decay=decay)  # fmt: skip
        vector = query_vector(query, self._embedder, self._dim, opened="connected")
        self._check_open()
        if request.types is not None and not request.types:
            return []
        if request.near is None:
            return [Hit(name, score) for name, _, score in self._knn(vector, request.k, request.types)]
        anchors = list(request.near)
        self._require(anchors, " (given in near=)")
        found = traverse.reach(self._expand(request.relation_types), anchors, direction=request.direction,
                               max_hops=request.max_hops)  # fmt: skip
        scored = []
        for name, id_, sim in self._score(list(found.dist), vector, request.types):
            hops = found.dist[name]
            score = sim * request.decay**hops if request.rank == "hybrid" else sim
            scored.append((-score, id_, name, hops))
        scored.sort()
        return [Hit(name, -neg, hops, found.path_to(name)) for neg, _, name, hops in scored[: request.k]]

    def _score(self, names: list[str], vector: np.ndarray, types: tuple[str, ...] | None) -> list[tuple[str, int, float]]:
        out: list[tuple[str, int, float]] = []
        qv = [float(x) for x in vector]
        for start in range(0, len(names), _CHUNK):
            rows = self._graph.rows(q.SCORE, {"names": names[start : start + _CHUNK], "q": qv, "types": _types(types)})
            out.extend((name, int(id_), float(score)) for name, id_, score in rows)
        return out

    def _knn(self, vector: np.ndarray, k: int, types: tuple[str, ...] | None) -> list[tuple[str, int, float]]:
        if self._dim is None:
            return []
        qv = [float(x) for x in vector]
        fetch = k if types is None else k * 4  # a filter drops some: over-fetch
        rows = [(n, int(i), float(s)) for n, i, s in self._graph.rows(q.KNN, {"k": fetch, "q": qv,
                                                                               "types": _types(types)})]  # fmt: skip
        if types is not None and len(rows) < k:
            # Too few survived the filter: the exact answer, from a scan.
            rows = [(n, int(i), float(s)) for n, i, s in self._graph.rows(q.EXACT_TOP, {"k": k, "q": qv,
                                                                                         "types": _types(types)})]  # fmt: skip
        rows.sort(key=lambda r: (-r[2], r[1]))
        return rows[:k]

    def recall(self, query: str | Any, *, k: int = 10, hops: int = 1, max_entities: int = 30,
               max_relations: int = 60, types: Iterable[str] | str | None = None, direction: str = "both",
               relation_types: Iterable[str] | str | None = None, decay: float = 0.5,
               as_of: datetime | None = None, known_at: datetime | None = None) -> Recall:  # fmt: skip
        """What this memory knows about ``query``: the ``k`` most similar entities,
        expanded by ``hops`` relations, each scored ``similarity * decay ** hops``
        (an entity without a vector inherits its seed's similarity); the best
        ``max_entities`` with the ``max_relations`` strongest relations among them."""
        _now_only(as_of, known_at)
        request = recall_request(k=k, max_entities=max_entities, max_relations=max_relations, hops=hops, types=types,
                                 direction=direction, relation_types=relation_types, decay=decay)  # fmt: skip
        k, max_entities, max_relations, hops = request.k, request.max_entities, request.max_relations, request.hops
        type_filter, direction, rel_filter, decay = (request.types, request.direction, request.relation_types,
                                                     request.decay)  # fmt: skip
        text = query if isinstance(query, str) else None
        vector = query_vector(query, self._embedder, self._dim, opened="connected")
        self._check_open()
        seeds = self._knn(vector, k, type_filter) if type_filter is None or type_filter else []
        if not seeds:
            return Recall(text, (), (), False)
        seed_sim = {name: score for name, _, score in seeds}
        found = traverse.reach(self._expand(rel_filter), list(seed_sim), direction=direction, max_hops=hops)
        own = {name: (id_, sim) for name, id_, sim in self._score(list(found.dist), vector, None)}
        stored: dict[str, list[Any]] = {}
        names = list(found.dist)
        for start in range(0, len(names), _CHUNK):
            for row in self._graph.rows(q.ENTITY_GET_MANY, {"names": names[start : start + _CHUNK]}):
                stored[row[0]] = row
        ranked = []
        for name, dist in found.dist.items():
            got = stored.get(name)
            if got is None:  # deleted meanwhile
                continue
            sim = own[name][1] if name in own else seed_sim[found.origin[name]]
            ranked.append((-(sim * decay**dist), int(got[6]), name, dist))
        ranked.sort()
        truncated = len(ranked) > max_entities
        kept = ranked[:max_entities]
        score = {name: -neg for neg, _, name, _ in kept}
        entities = tuple(
            RecalledEntity(name, stored[name][1], stored[name][2], tuple(stored[name][3] or ()), -neg, dist)
            for neg, _, name, dist in kept
        )
        among = self._graph.rows(q.RELATIONS_AMONG, {"names": list(score), "types": _types(rel_filter)}) if kept else []
        relations = sorted({tuple(r) for r in among}, key=lambda r: (-(score[r[0]] + score[r[2]]), r))
        truncated = truncated or len(relations) > max_relations
        return Recall(text, entities, tuple(relations[:max_relations]), truncated)

    # -- text ------------------------------------------------------------------------

    def find_names(self, prefix: str = "", *, limit: int = 10, type: str | None = None) -> list[NameEntry]:
        """Up to ``limit`` entities whose name starts with ``prefix``, ignoring case, in
        name order (:meth:`graphmem.Memory.find_names`' rules). The cluster keeps no
        name index: this scans the namespace, 2,000 entities per statement, and
        compares with Python's ``str.lower`` as the embedded store does."""
        if not isinstance(prefix, str):
            raise InvalidInput(f"prefix must be a str, not {prefix.__class__.__name__}")
        limit = check_positive_int(limit, "limit")
        if type is not None and not isinstance(type, str):
            raise InvalidInput(f"type must be a str or None, not {type!r}")
        self._check_open()
        low = prefix.lower()
        found: list[tuple[str, str, str]] = []
        after = -1
        while True:
            rows = self._graph.rows(q.NAME_PAGE, {"after": after, "n": _CHUNK})
            for _, name, type_ in rows:
                lowered = name.lower()
                if lowered.startswith(low) and (type is None or type_ == type):
                    found.append((lowered, name, type_))
            if len(rows) < _CHUNK:
                break
            after = int(rows[-1][0])
        found.sort()
        return [NameEntry(name, type_) for _, name, type_ in found[:limit]]

    def types_of(self, names: Iterable[str]) -> list[str | None]:
        """The type of each named entity, ``None`` for one that does not exist (one statement per 2,000 names)."""
        return [None if entry is None else entry.type for entry in self.text_entries(names)]

    def type_summary(self) -> TypeSummary:
        """Not available on the cluster backend yet: raises :class:`NotSupported`."""
        raise _unsupported("type_summary", _NO_NAME_INDEX)

    def first_written(self) -> datetime | None:
        """When the oldest entity of this namespace was created (UTC); ``None`` when it
        has none (one scan on the server)."""
        self._check_open()
        rows = self._graph.rows(q.FIRST_CREATED)
        return _time(rows[0][0]) if rows else None

    def schema(self) -> Schema:
        """Not available on the cluster backend (the console and its catalog are for embedded stores):
        raises :class:`NotSupported`."""
        raise _unsupported("schema", "the console and its catalog of the engine's tables are for embedded stores")

    def unchanged(self) -> bool:
        """Not available on the cluster backend (it has no local files to compare): raises :class:`NotSupported`."""
        raise _unsupported("unchanged", _NO_FILES)

    def detached(self) -> ClusterMemory:
        """Not available on the cluster backend (nothing is loaded to answer from): raises :class:`NotSupported`."""
        raise _unsupported("detached", _NO_FILES)

    def find_text(self, query: str, *, limit: int | None = None) -> list[TextEntry]:
        """The entities whose name, type or an observation contains ``query``, ignoring
        case, in id order (:meth:`graphmem.Memory.find_text`'s rules). The cluster
        keeps no text index: this scans the namespace, 2,000 entities per
        statement, and matches here with Python's ``str.lower`` so that both
        backends fold case alike."""
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, not {type(query).__name__}")
        if limit is not None:
            check_positive_int(limit, "limit")
        self._check_open()
        needle = query.lower()
        out: list[TextEntry] = []
        after = -1
        while True:
            rows = self._graph.rows(q.TEXT_PAGE, {"after": after, "n": _CHUNK})
            for row in rows:
                entry = _text_entry(row)
                if needle in entry.hay():
                    out.append(entry)
                    if limit is not None and len(out) == limit:
                        return out
            if len(rows) < _CHUNK:
                return out
            after = int(rows[-1][0])

    def find_relations(self, names: Iterable[str] | None = None) -> list[RelationEntry]:
        """The relations with an end among ``names`` (every one when ``None``), ordered
        by source id, target id, then type; a name that is no entity contributes nothing."""
        if names is None:
            self._check_open()
            rows = self._graph.rows(q.RELATIONS_ALL)
        else:
            checked = list(dict.fromkeys(_name_list(names, "find_relations")))
            self._check_open()
            rows = []
            for start in range(0, len(checked), _CHUNK):
                rows.extend(self._graph.rows(q.RELATIONS_TOUCHING, {"names": checked[start : start + _CHUNK]}))
            rows = sorted({tuple(r) for r in rows}, key=lambda r: (r[0], r[1], r[3]))  # type: ignore[misc]
        return [RelationEntry(source, type_, target, type_) for _, _, source, type_, target in rows]

    # -- what the cluster keeps no data for ----------------------------------------
    # Present with the embedded signatures (graphmem.api.MemoryAPI), so that a
    # call says why instead of an AttributeError.

    def history(self, name: str, *, limit: int | None = None) -> History:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("history", _NO_HISTORY)

    def relation_history(self, name: str, *, limit: int = 25, before: str | None = None) -> RelationHistoryPage:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("relation_history", _NO_HISTORY)

    def entity_versions(self, name: str, *, limit: int = 100) -> EntityVersions:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("entity_versions", _NO_HISTORY)

    def expire_entity(self, name: str) -> bool:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("expire_entity", _NO_HISTORY)

    def expire_relation(self, source: str, type: str, target: str) -> bool:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("expire_relation", _NO_HISTORY)

    def purge(self, *, before: datetime | None = None) -> dict[str, int]:
        """Not available on the cluster backend (it keeps no versions): raises :class:`NotSupported`."""
        raise _unsupported("purge", _NO_HISTORY)

    def forget(self, *, max_entities: int | None = None, policy: str = "lru", hard: bool = False) -> list[str]:
        """Not available on the cluster backend (no access counts or capacity): raises :class:`NotSupported`."""
        raise _unsupported("forget", "it keeps no access counts or capacity")

    def access(self, name: str) -> Access:
        """Not available on the cluster backend (no access counts): raises :class:`NotSupported`."""
        raise _unsupported("access", "it keeps no access counts")

    def apply_once(self, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Not available on the cluster backend (its writes are not grouped in one transaction): raises :class:`NotSupported`."""
        raise _unsupported("apply_once", "its writes are not grouped in one transaction")

    def forget_requests(self, *, older_than: float = 3600) -> int:
        """Not available on the cluster backend (it records no request ids): raises :class:`NotSupported`."""
        raise _unsupported("forget_requests", "it records no request ids")

    def embed_missing(self) -> int:
        """Not available on the cluster backend (its writes embed before they commit): raises :class:`NotSupported`."""
        raise _unsupported("embed_missing", "its writes embed before they commit")

    def wait_embedded(self, timeout: float | None = None, *, include_earlier: bool = True) -> bool:
        """``True`` at once: the cluster backend's writes embed before they commit."""
        return True

    def compact(self, *, cold_after: timedelta) -> int:
        """Not available on the cluster backend (FalkorDB manages its memory): raises :class:`NotSupported`."""
        raise _unsupported("compact", "FalkorDB manages its own memory")

    def find_duplicates(self, threshold: float = 0.9, *, k: int = 10, types: Any = None) -> list[Duplicate]:
        """Not available on the cluster backend (no duplicate detection): raises :class:`NotSupported`."""
        raise _unsupported("find_duplicates", "duplicate detection is not built")

    def merge(self, keep: str, other: str) -> Entity:
        """Not available on the cluster backend (no duplicate detection): raises :class:`NotSupported`."""
        raise _unsupported("merge", "duplicate detection is not built")

    def cypher_table(self, query: str, params: Mapping[str, Any] | None = None, *, read_only: bool = False,
                     allow_file_access: bool = False) -> tuple[list[str], list[list[Any]]]:  # fmt: skip
        """Not available on the cluster backend (the console is for embedded stores): raises :class:`NotSupported`."""
        raise _unsupported("cypher_table", "the console and its tables are for embedded stores")

    # -- scans, Cypher, stats --------------------------------------------------------

    def iter_entities(self, *, batch_size: int = 10_000) -> Iterator[Entity]:
        """Every entity of this namespace in id (creation) order, ``batch_size`` per statement."""
        check_positive_int(batch_size, "batch_size")
        self._check_open()
        after = -1
        while True:
            rows = self._graph.rows(q.ENTITY_PAGE, {"after": after, "n": batch_size})
            for row in rows:
                yield self._entity(row)
            if len(rows) < batch_size:
                return
            after = int(rows[-1][6])

    def iter_relations(self, *, batch_size: int = 10_000) -> Iterator[Relation]:
        """Every relation of this namespace, by source id, then target name and type
        (``batch_size`` source entities per statement)."""
        check_positive_int(batch_size, "batch_size")
        self._check_open()
        after = -1
        while True:
            rows = self._graph.rows(q.RELATION_PAGE, {"after": after, "n": batch_size})
            sources = set()
            for id_, source, type_, target, pk, pv, created in rows:
                sources.add(id_)
                after = max(after, int(id_))
                if type_ is not None:
                    yield Relation(source, type_, target, _properties(pk, pv), _time(created))
            if len(sources) < batch_size:
                return

    def cypher(self, query: str, params: Mapping[str, Any] | None = None, *,
               read_only: bool = False, allow_file_access: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        """Run one FalkorDB Cypher statement on this namespace's graph; rows as dicts.

        Values go in as ``$parameters`` (a missing one is a :class:`QueryError`).
        ``read_only=True`` sends ``GRAPH.RO_QUERY``: a statement that writes is
        refused with :class:`ReadOnlyStore`. A statement that writes is
        confirmed by a replica like every write, but carries no request id:
        a retry after a lost reply may apply it twice. Nodes and relations
        come back as dicts of their properties (``_labels`` / ``_type`` added).

        ``LOAD CSV`` (which FalkorDB runs even under ``GRAPH.RO_QUERY``, from
        ``file://`` and ``https://``) and procedures outside ``db.*`` /
        ``algo.*`` are refused before anything is sent
        (:class:`FileAccessRefused`), unless ``allow_file_access=True``.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("query must be a non-empty str")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput(f"params must be a dict, not {type(params).__name__}")
        check_user_cypher(query, params, allow_file_access=allow_file_access, dialect="falkordb")
        self._check_open()
        try:
            result = self._graph.run(query, params, write=not read_only, read_only=read_only)
        except (TypeError, ValueError) as exc:  # the client could not encode a parameter
            raise InvalidInput(f"cannot pass these parameters to FalkorDB: {exc}") from None
        header = [h[1] if isinstance(h, (list, tuple)) else h for h in result.header]
        return [dict(zip(header, (_plain(v) for v in row))) for row in result.result_set]

    def stats(self) -> dict[str, Any]:
        """Counts and sizes, JSON-serialisable."""
        self._check_open()
        entity_types = {t: int(n) for t, n in self._graph.rows(q.ENTITY_TYPE_COUNTS)}
        relation_types = {t: int(n) for t, n in self._graph.rows(q.RELATION_TYPE_COUNTS)}
        host, port = self._router.node_of(self._graph.key)
        memory = self._router.read(self._graph.key, "MEMORY", "USAGE", self._graph.key)
        return {
            "backend": "falkordb-cluster",
            "namespace": self._namespace,
            "graph_key": self._graph.key,
            "primary": f"{host}:{port}",
            "entities": sum(entity_types.values()),
            "relations": sum(relation_types.values()),
            "entity_types": entity_types,
            "relation_types": relation_types,
            "vector_dim": self._dim,
            "memory_bytes": int(memory or 0),
            "retries": self._router.retries,
        }


_NO_HISTORY = "it keeps no versions (an update overwrites) and reads take no time"


_NO_NAME_INDEX = "it keeps no in-memory name index (the embedded store's viewer reads use it)"
_NO_FILES = "it has no local store files and loads no graph state to answer from"


def _unsupported(name: str, why: str) -> NotSupported:
    return NotSupported(f"{name}() is not available on the cluster backend: {why} (README: Cluster backend)")


def _name_list(names: Any, what: str) -> list[str]:
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise InvalidInput(f"{what} takes a list of names, not {type(names).__name__}")
    return [check_name(n) for n in names]


def _text_entry(row: Sequence[Any]) -> TextEntry:
    id_, name, type_, obs = row
    return TextEntry(int(id_), name, type_, tuple(obs or ()))


class _TextView:
    """The fields :func:`graphmem.embed.entity_text` reads."""

    def __init__(self, *, name: str, type: str, text: str | None, observations: list[str]) -> None:
        self.name, self.type, self.text, self.observations = name, type, text, observations


def _plain(value: Any) -> Any:
    from falkordb.edge import Edge
    from falkordb.node import Node

    if isinstance(value, Node):
        return {"_labels": list(value.labels or []), **value.properties}
    if isinstance(value, Edge):
        return {"_type": value.relation, **value.properties}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _now_only(as_of: Any, known_at: Any) -> None:
    """Reads take no time on the cluster backend: only the present (``None``) is answered."""
    if as_of is not None or known_at is not None:
        raise NotSupported("as_of / known_at are not available on the cluster backend: it keeps no versions "
                           "(README: Cluster backend)")  # fmt: skip


def _types(types: tuple[str, ...] | None) -> list[str] | None:
    return None if types is None else list(types)


def _drop_unkept(record: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    kept = {}
    for key, value in record.items():
        if key in _UNKEPT:
            if value is not _UNKEPT[key] and value != _UNKEPT[key]:
                raise InvalidInput(f"the cluster backend keeps no {key}{where} (README: Cluster backend); "
                                   f"nothing was written")  # fmt: skip
            continue
        kept[key] = value
    return kept


def _parse_entity(record: Any, position: int | None) -> dict[str, Any]:
    where = "" if position is None else f" (record {position})"
    if not isinstance(record, Mapping):
        raise InvalidInput(f"an entity record must be a dict{where}, not {type(record).__name__}")
    record = _drop_unkept(record, where)
    unknown = set(record) - _ENTITY_KEYS
    if unknown:
        raise InvalidInput(f"unknown entity field(s) {sorted(map(str, unknown))}{where}; the cluster backend "
                           f"takes {sorted(_ENTITY_KEYS)}")  # fmt: skip
    try:
        type_ = record.get("type")
        obs = check_observations(record.get("observations"))
        pk, pv = _encode_properties(check_properties(record.get("properties")))
        return {
            "name": check_name(record.get("name")),
            "type": None if type_ is None else check_type(type_),
            "text": check_text(record.get("text")),
            "obs": list(dict.fromkeys(obs or ())),
            "pk": pk, "pv": pv, "emb": record.get("embedding"),
        }  # fmt: skip
    except InvalidInput as exc:
        raise InvalidInput(f"{exc}{where}") from None


def _parse_relation(record: Any, position: int | None) -> dict[str, Any]:
    where = "" if position is None else f" (record {position})"
    if isinstance(record, Mapping):
        record = _drop_unkept(record, where)
        unknown = set(record) - _RELATION_KEYS
        if unknown:
            raise InvalidInput(f"unknown relation field(s) {sorted(map(str, unknown))}{where}")
        fields = (record.get("source"), record.get("type"), record.get("target"), record.get("properties"))
    elif isinstance(record, (tuple, list)) and len(record) in (3, 4):
        fields = (*record, None) if len(record) == 3 else tuple(record)
    else:
        raise InvalidInput(f"a relation is (source, type, target[, properties]) or a dict{where}")
    try:
        return {"s": check_name(fields[0], "source"), "type": check_type(fields[1], "relation type"),
                "t": check_name(fields[2], "target"), "props": check_properties(fields[3]) or {}}  # fmt: skip
    except InvalidInput as exc:
        raise InvalidInput(f"{exc}{where}") from None


def _fold(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of one batch that name the same entity, merged in order (so one
    statement sees each name once and the last record wins, as in sequence)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        have = out.get(item["name"])
        if have is None:
            out[item["name"]] = {**item, "obs": list(item["obs"]), "pk": list(item["pk"]), "pv": list(item["pv"])}
            continue
        for field_ in ("type", "text", "emb"):
            if item[field_] is not None:
                have[field_] = item[field_]
        have["obs"] += [o for o in item["obs"] if o not in have["obs"]]
        props = dict(zip(have["pk"], have["pv"]))
        props.update(zip(item["pk"], item["pv"]))
        have["pk"], have["pv"] = list(props), list(props.values())
    return list(out.values())


def connect(url: str, *, namespace: str = "default", embedder: Any = "default", deadline: float = 15.0,
            replicas: int = 1, ef_search: int = 100) -> ClusterMemory:  # fmt: skip
    """Connect to a FalkorDB Redis Cluster and return the memory of ``namespace``.

    Parameters
    ----------
    url
        ``redis+cluster://[user[:password]@]host:port[,host:port...]``; the
        password may instead come from ``GRAPHMEM_CLUSTER_PASSWORD``.
    namespace
        The namespace (one graph, ``gm:{<namespace>}``), created if missing.
    embedder
        As in :func:`graphmem.open`.
    deadline
        Seconds a call keeps retrying through failover before
        :class:`~graphmem.backends.cluster.ClusterUnavailable`.
    replicas
        Replicas that must confirm each write (``WAIT``); 0 for none.
    ef_search
        The vector index's ``efRuntime`` (set when the index is created).

    Examples
    --------
    >>> connect("http://x")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: the cluster URL must start with redis+cluster://, got 'http'
    """
    address = parse_url(url)
    namespace = check_namespace(namespace)
    if address.password is None and os.environ.get("GRAPHMEM_CLUSTER_PASSWORD"):
        address = type(address)(address.nodes, address.username, os.environ["GRAPHMEM_CLUSTER_PASSWORD"])
    check_count(replicas, "replicas")
    resolved = resolve_embedder(embedder)
    router = Router(address, deadline=deadline, replicas=replicas)
    try:
        return ClusterMemory(router, namespace=namespace, embedder=resolved, url=url, ef_search=ef_search)
    except BaseException:
        router.close()
        raise
