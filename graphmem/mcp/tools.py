"""Tool calls mapped to :class:`~graphmem.Memory`: what each MCP tool does.

:class:`Tools` validates a call's arguments against the tool's schema, runs it
and returns an :class:`Outcome` (the text content, the structured content,
and whether it is an error). It knows nothing of the MCP SDK or sockets, so
the holder runs it for its own client and for the servers it serves.

Reference semantics kept (``src/memory`` of modelcontextprotocol/servers):
``create_entities`` creates only names that do not exist yet (first of a batch
wins) and returns those; ``create_relations`` skips exact duplicates and fails
whole when an endpoint does not exist ("Entity with name X not found");
``add_observations`` fails whole on an unknown entity and returns what was new
per entity; the three deletes never fail on missing things and say so in their
message; ``search_nodes`` returns the entities whose name, entity type (as the
client wrote it) or an observation contains the query, ignoring case (meaning-
based matches only with ``semantic: true``); ``search_nodes`` and ``open_nodes``
return the relations with at least one endpoint among the returned entities. Every write tool call is one
transaction.

Over 500 lines: one method per MCP tool (the reference server's nine and
graphmem's own), each mapping a schema-checked call onto the public API, plus
the text rendering every tool shares.
"""

from __future__ import annotations

import base64
import json
import math
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from json.encoder import encode_basestring as _encode_str  # the C encoder when built
from typing import Any

import numpy as np

from ..errors import GraphMemError, InvalidInput, NotFound
from ..memory import Memory
from ..memory.unlink import delete_relations
from ..memory.whole import relation_dicts
from ..index.text import TextEntry
from ..types import Entity
from ..validate import check_name
from .atomic import Atomic
from .schemas import TOOLS_BY_NAME, check_arguments
from .shapes import (
    ENTITY_TYPE_KEY,
    RELATION_TYPE_KEY,
    decode_cursor,
    encode_cursor,
    entity_json,
    fingerprint,
    relation_json,
    relation_type_shown,
    stored_type,
)

__all__ = ["Outcome", "Tools"]

# Semantic neighbours that search_nodes (with semantic: true) adds to the substring matches: at most
# this many, and only this similar (cosine) or more. MiniLM puts unrelated
# short texts at 0.0-0.25 and related ones above 0.35.
SEARCH_SEMANTIC_K = 10
SEARCH_MIN_SCORE = 0.35


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool call's result: text content, structured content, error flag."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False

    @classmethod
    def error(cls, message: str) -> Outcome:
        return cls(message, None, True)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "structured": self.structured, "isError": self.is_error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(str(data["text"]), data.get("structured"), bool(data.get("isError", False)))


def _json_outcome(structured: dict[str, Any], shown: Any = None, *, floats: bool = False) -> dict[str, Any]:
    """The reference's result: the JSON (pretty, as ``JSON.stringify(x, null, 2)``) as text.

    ``floats``: the value may hold floats, which :func:`pretty_json` writes as
    Python does (``1e+16``); without it the text comes from the faster
    :func:`_pretty_plain` (a result of strings, ints, booleans and ``None``).
    """
    value = structured if shown is None else shown
    return {"text": pretty_json(value) if floats else _pretty_plain(value), "structured": structured}


def _pretty_plain(value: Any) -> str:
    """:func:`pretty_json` of a value without floats: by pydantic-core's
    encoder (:func:`_pretty_pydantic`, 5 times faster) unless the value is a
    small answer and pydantic-core is not imported yet. Its import costs
    ~25 ms, more than the slower encoder on a few dozen entities: a server's
    first ``search_nodes`` answers without it."""
    if "pydantic_core" not in sys.modules and _rows(value) <= _FEW_ROWS:
        return pretty_json(value)
    return _pretty_pydantic(value)


_FEW_ROWS = 200
"""Up to this many rows (the items of a result's lists) an answer is written by :func:`pretty_json`
until pydantic-core is imported: measured ~1 ms for 200 entities, against ~0.2 ms and the import."""


def _rows(value: Any) -> int:
    """The items of a result's top-level lists (its entities, relations, names)."""
    if not isinstance(value, dict):
        return 0 if not isinstance(value, list) else len(value)
    return sum(len(v) for v in value.values() if isinstance(v, list))


def _pretty_pydantic(value: Any) -> str:
    """:func:`pretty_json` of a value without floats, by pydantic-core's encoder (Rust).

    The same text (2-space indent, ``": "``, ``[]`` and ``{}`` when empty,
    characters outside ASCII as they are, the same escapes: checked over
    every code point by ``tests/test_mcp_schemas.py``) 5 times faster:
    85 against 460 ms for the 25 MB of a 100k-entity ``read_graph``. Only
    floats are written otherwise (``1e16`` for Python's ``1e+16``), so a value
    that may hold one goes to :func:`pretty_json`, as does one the encoder
    refuses (a lone surrogate). pydantic-core comes with the MCP SDK; without
    it, :func:`pretty_json`.
    """
    try:
        from pydantic_core import PydanticSerializationError, to_json
    except ImportError:  # graphmem's tools used without the 'mcp' extra
        return pretty_json(value)
    try:
        return to_json(value, indent=2).decode("utf-8")
    except PydanticSerializationError:
        return pretty_json(value)


_STR = {str}


class _Unusual(Exception):
    """A value :func:`pretty_json` leaves to :func:`json.dumps`."""


def pretty_json(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, several times faster.

    With ``indent`` set, :mod:`json` encodes in pure Python (~40 ms for 5,000
    relations); this walks dicts, lists and strings itself with the C string
    encoder and joins once. Anything else than str keys, strings, ints,
    finite floats, booleans and ``None`` goes to :func:`json.dumps`.

    Examples
    --------
    >>> print(pretty_json({"entities": [{"name": "Ada", "observations": ["a", "b"]}], "relations": []}))
    {
      "entities": [
        {
          "name": "Ada",
          "observations": [
            "a",
            "b"
          ]
        }
      ],
      "relations": []
    }
    """
    out: list[str] = []
    try:
        _emit(value, "\n", out)
    except _Unusual:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(out)


def _emit(value: Any, newline: str, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        if set(map(type, value.values())) == _STR and set(map(type, value)) == _STR:  # a relation, a status
            out.append("{" + inner + ("," + inner).join([_encode_str(k) + ": " + _encode_str(v)
                                                         for k, v in value.items()]) + newline + "}")  # fmt: skip
            return
        lead = "{" + inner
        deeper = inner + "  "
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unusual
            kind = type(item)
            # Strings and lists of strings (an entity's fields) inline: no call per field.
            if kind is str:
                out.append(lead + _encode_str(key) + ": " + _encode_str(item))
            elif kind is list and item and set(map(type, item)) == _STR:
                out.append(lead + _encode_str(key) + ": [" + deeper + ("," + deeper).join(map(_encode_str, item))
                           + inner + "]")  # fmt: skip
            else:
                out.append(lead + _encode_str(key) + ": ")
                _emit(item, inner, out)
            lead = "," + inner
        out.append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        if set(map(type, value)) == _STR:
            out.append("[" + inner + ("," + inner).join(map(_encode_str, value)) + newline + "]")
            return
        lead = "[" + inner
        for item in value:
            out.append(lead)
            lead = "," + inner
            _emit(item, inner, out)
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif type(value) is float and math.isfinite(value):
        out.append(float.__repr__(value))
    else:
        raise _Unusual


def _status(message: str) -> dict[str, Any]:
    return {"text": message, "structured": {"success": True, "message": message}}


class Tools:
    """The MCP tools over one open, writable Memory.

    Parameters
    ----------
    mem
        The memory the tools read and write. Calls may come from many
        threads at once; writes are serialised by the store's writer lock.
    min_score
        How similar (cosine) a semantic neighbour must be for ``search_nodes``
        to add it to the substring matches.
    """

    def __init__(self, mem: Memory, *, min_score: float = SEARCH_MIN_SCORE) -> None:
        self.mem = mem
        self.atomic = Atomic(mem)
        self.min_score = min_score
        self._other_namespaces: dict[str, Tools] = {}
        self._namespaces_lock = threading.Lock()

    def in_namespace(self, namespace: str | None) -> Tools:
        """The tools over ``namespace`` of the same store (these, for ``None``
        or this memory's own namespace); made once per namespace and kept."""
        if namespace is None or namespace == self.mem.namespace_name:
            return self
        with self._namespaces_lock:
            tools = self._other_namespaces.get(namespace)
            if tools is None:
                tools = Tools(self.mem.namespace(namespace), min_score=self.min_score)
                self._other_namespaces[namespace] = tools
            return tools

    # -- dispatch ----------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any] | None, request_id: str | None = None) -> Outcome:
        """Run tool ``name``; bad input and graphmem errors become error outcomes.

        ``request_id`` (write tools only) makes a retried call apply once: a
        call whose id was already applied returns the first call's result.
        """
        spec = TOOLS_BY_NAME.get(name)
        if spec is None:
            return Outcome.error(f"Unknown tool: {name}")
        try:
            args = check_arguments(spec, arguments)
            namespace = args.pop("namespace", None)
            if namespace is not None and namespace != self.mem.namespace_name:
                return self.in_namespace(namespace).call(name, args, request_id)
            if spec.writes:
                result = getattr(self, f"_{name}")(args, request_id)
            else:
                result = getattr(self, f"_{name}")(args)
        except GraphMemError as exc:
            return Outcome.error(f"{type(exc).__name__}: {exc}")
        return Outcome(result["text"], result["structured"])

    def read_graph_text(self) -> str:
        """The whole graph as the ``memory://knowledge-graph`` resource shows it."""
        return _pretty_plain(self._whole_graph())

    # -- lookups -----------------------------------------------------------------

    def _entity(self, name: str) -> Entity | None:
        """The entity ``name``; ``None`` also for a name graphmem cannot hold
        (blank, control characters), which therefore does not exist."""
        try:
            return self.mem.get_entity(name)
        except InvalidInput:
            return None

    def _observations(self, names: list[str]) -> dict[str, tuple[str, ...]]:
        """The observations of each name that is a current entity, from the text index in memory.

        Not :meth:`Memory.get_entity`: a write's check of what an entity
        holds is no read by the agent, and each read it recorded made the
        write flush the access statistics, a statement that joins over every
        entity (~35 ms at 100k entities, kuzu 0.11.3; 2-3 ms at 1k). The
        index is the one ``search_nodes`` answers from, kept exact on every
        write; a name graphmem cannot hold (blank, control characters) does
        not exist.
        """
        distinct = [n for n in dict.fromkeys(names) if _holdable(n)]
        entries = self.mem.text_entries(distinct) if distinct else []
        return {name: entry.observations for name, entry in zip(distinct, entries) if entry is not None}

    def _exist(self, names: list[str]) -> list[bool]:
        """Whether each name is a current entity, in one pass over memory; a name
        graphmem cannot hold (blank, control characters) does not exist."""
        try:
            return self.mem.has_entities(names)
        except InvalidInput:
            pass  # some name graphmem cannot hold: ask for the others
        fine = [_holdable(n) for n in names]
        found = iter(self.mem.has_entities([n for n, ok in zip(names, fine) if ok]))
        return [next(found) if ok else False for ok in fine]

    def _held_relations(self, sources: Iterable[str]) -> set[tuple[str, str, str, str]]:
        """The current relations leaving ``sources`` as (from, type as written, to, stored type)."""
        names = [n for n in sources if _holdable(n)]
        leaving = set(names)
        return {(r.source, r.type, r.target, r.stored_type) for r in self.mem.find_relations(names)
                if r.source in leaving}  # fmt: skip

    def _relations_of(self, names: Iterable[str], *, outgoing_only: bool = False) -> list[dict[str, Any]]:
        """Relations with at least one endpoint in ``names`` (or, with
        ``outgoing_only``, those leaving them), each once: from memory
        (:meth:`Memory.find_relations`), no store read."""
        names = list(names)
        if not names:
            return []
        found = self.mem.find_relations(names)
        if outgoing_only:
            sources = set(names)
            found = [r for r in found if r.source in sources]
        return [{"from": r.source, "to": r.target, "relationType": r.type} for r in found]

    def _whole_graph(self) -> dict[str, Any]:
        entries = self.mem.find_text("")
        # The relations' ends named from the entities just listed (relation_dicts):
        # a tenth of Memory.find_relations' cost at 100k relations.
        return {"entities": [_entry_json(e) for e in entries], "relations": relation_dicts(self.mem, entries)}

    def _page(self, tool: str, key: str, entities: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        """One page (``limit``/``cursor``) of ranked ``entities`` (reference-shaped) with their relations."""
        start = decode_cursor(args["cursor"], tool, key) if "cursor" in args else 0
        limit = args.get("limit")
        stop = len(entities) if limit is None else start + limit
        page = entities[start:stop]
        structured: dict[str, Any] = {
            "entities": page,
            "relations": self._relations_of(e["name"] for e in page),
        }
        if stop < len(entities):
            structured["nextCursor"] = encode_cursor(tool, key, stop)
        return _json_outcome(structured)

    # -- reference tools: writes -------------------------------------------------

    def _create_entities(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            created: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            records = args["entities"]
            # A name graphmem cannot hold (blank, control characters) does not exist:
            # add_entities refuses it below, as the per-name lookup did.
            exists = self._exist([record["name"] for record in records])
            for record, there in zip(records, exists):
                name = record["name"]
                if name in seen or there:
                    continue  # the reference skips existing names (and later duplicates) untouched
                seen.add(name)
                graph_type, shown = stored_type(record["entityType"], fallback="Entity")
                observations = list(dict.fromkeys(record["observations"]))
                rows.append({"name": name, "type": graph_type, "observations": observations,
                             "properties": None if shown is None else {ENTITY_TYPE_KEY: shown}})  # fmt: skip
                created.append({"name": name, "entityType": record["entityType"], "observations": observations})
            if rows:
                self.mem.add_entities(rows)
            return _json_outcome({"entities": created}, created)

        return self.atomic.write(request_id, apply)

    def _create_relations(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            relations = args["relations"]
            endpoints = list(dict.fromkeys(n for r in relations for n in (r["from"], r["to"])))
            missing = [n for n, there in zip(endpoints, self._exist(endpoints)) if not there]
            if missing:
                more = f" (nor {', '.join(missing[1:])})" if len(missing) > 1 else ""
                raise NotFound(f"Entity with name {missing[0]} not found{more}; no relation was created")
            created: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            # Which are held already: one lookup in memory for the batch, not a
            # store read per relation (5,000 took seconds).
            types = {t: stored_type(t, fallback="RELATED_TO") for t in dict.fromkeys(r["relationType"]
                                                                                      for r in relations)}
            triples = [(r["from"], types[r["relationType"]], r["to"]) for r in relations]
            held = self.mem.has_relations([(s, t[0], d) for s, t, d in triples])
            seen: set[tuple[str, str, str]] = set()
            for r, (source, (graph_type, shown), target), there in zip(relations, triples, held):
                triple = (source, graph_type, target)
                if there or triple in seen:
                    continue  # graphmem holds one relation per (from, type, to)
                seen.add(triple)
                rows.append({"source": r["from"], "type": graph_type, "target": r["to"],
                             "properties": None if shown is None else {RELATION_TYPE_KEY: shown}})  # fmt: skip
                created.append({"from": r["from"], "to": r["to"], "relationType": r["relationType"]})
            if rows:
                self.mem.add_relations(rows)
            return _json_outcome({"relations": created}, created)

        return self.atomic.write(request_id, apply)

    def _add_observations(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            held = self._observations([item["entityName"] for item in args["observations"]])
            for item in args["observations"]:
                if item["entityName"] not in held:
                    raise NotFound(f"Entity with name {item['entityName']} not found")
            current = {name: list(observations) for name, observations in held.items()}
            results = []
            writes = []
            for item in args["observations"]:
                have = current[item["entityName"]]
                added = [c for c in dict.fromkeys(item["contents"]) if c not in have]
                have.extend(added)
                results.append({"entityName": item["entityName"], "addedObservations": added})
                if added:
                    writes.append({"name": item["entityName"], "observations": added})
            if writes:
                self.mem.add_entities(writes)
            return _json_outcome({"results": results}, results)

        return self.atomic.write(request_id, apply)

    def _delete_entities(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            names = args["entityNames"]
            distinct = [n for n in dict.fromkeys(names) if _holdable(n)]  # any other name was never there
            gone = dict(zip(distinct, self.mem.delete_entities(distinct)))
            gone.update((n, False) for n in names if n not in gone)
            deleted = [n for n in names if gone[n]]
            missing = [n for n in names if not gone[n]]
            if not missing:
                return _status("Entities deleted successfully")
            return _status(f"Deleted {len(deleted)} of {len(names)} entities. Not found: {', '.join(missing)}")

        return self.atomic.write(request_id, apply)

    def _delete_observations(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        deletions = args["deletions"]

        def apply() -> dict[str, Any]:
            current: dict[str, list[str]] = {}
            before: dict[str, int] = {}
            originals: dict[str, list[str]] = {}
            missing: list[str] = []
            deleted = 0
            held = self._observations([item["entityName"] for item in deletions])
            for item in deletions:
                name = item["entityName"]
                if name not in current:
                    if name not in held:
                        missing.append(name)
                        continue
                    current[name] = list(held[name])
                    originals[name] = list(held[name])
                    before[name] = len(held[name])
                drop = set(item["observations"])
                kept = [o for o in current[name] if o not in drop]
                deleted += len(current[name]) - len(kept)
                current[name] = kept
            requested = sum(len(item["observations"]) for item in deletions)
            if deleted == requested:
                message = "Observations deleted successfully"
            else:
                message = f"Deleted {deleted} of {requested} observations." + (
                    f" Entities not found: {', '.join(missing)}" if missing else "")
            result = _status(message)
            removed = [(n, [o for o in originals[n] if o not in set(obs)]) for n, obs in current.items()
                       if len(obs) != before[n]]
            self.atomic.remove_observations(removed)
            return result

        return self.atomic.write(request_id, apply)

    def _delete_relations(self, args: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            relations = args["relations"]
            asked = dict.fromkeys((r["from"], r["relationType"], r["to"]) for r in relations)
            held = self._held_relations({a[0] for a in asked})
            doomed = []
            for source, shown, target in asked:
                # The relation as the agent names it: the type it wrote, stored as that type's identifier.
                stored = stored_type(shown, fallback="RELATED_TO")[0]
                if (source, shown, target, stored) in held:
                    doomed.append((source, stored, target))
            deleted = sum(delete_relations(self.mem, doomed)) if doomed else 0
            if deleted == len(relations):
                return _status("Relations deleted successfully")
            return _status(f"Deleted {deleted} of {len(relations)} relations. The rest matched nothing.")

        return self.atomic.write(request_id, apply)

    # -- reference tools: reads --------------------------------------------------

    def _read_graph(self, args: dict[str, Any]) -> dict[str, Any]:
        names_only = bool(args.get("namesOnly", False))
        budget = args.get("maxChars")
        if "limit" not in args and "cursor" not in args and budget is None:
            graph = self._whole_graph()
            if names_only:
                graph["entities"] = [{"name": e["name"], "entityType": e["entityType"]} for e in graph["entities"]]
            return _json_outcome(graph)
        # Pages go by entity id, which only grows: entities created while an
        # agent pages through land on later pages and none is skipped.
        after = decode_cursor(args["cursor"], "read_graph", "") if "cursor" in args else 0
        limit = args.get("limit")  # a cursor without a limit asks for the rest
        entries = [e for e in self.mem.find_text("") if e.id >= after]
        if limit is not None:
            entries = entries[: limit + 1]
        page: list[dict[str, Any]] = []
        relations: list[dict[str, Any]] = []
        # Each relation is shown once over all pages: on its source's page.
        leaving: dict[str, list[dict[str, Any]]] = {}
        for r in self._relations_of((e.name for e in entries[:limit]), outgoing_only=True):
            leaving.setdefault(r["from"], []).append(r)
        used = _FRAME_CHARS
        taken = 0
        for entry in entries[:limit]:
            item = ({"name": entry.name, "entityType": entry.type} if names_only else _entry_json(entry))
            out = leaving.get(entry.name, [])
            if budget is not None:
                cost = _pretty_len(item) + sum(map(_pretty_len, out))
                if page and used + cost > budget:
                    break
                used += cost
            page.append(item)
            relations.extend(out)
            taken += 1
        structured: dict[str, Any] = {"entities": page, "relations": relations}
        if taken < len(entries):
            structured["nextCursor"] = encode_cursor("read_graph", "", entries[taken].id)
        return _json_outcome(structured)

    def _search_nodes(self, args: dict[str, Any]) -> dict[str, Any]:
        query = args["query"]
        semantic = bool(args.get("semantic", False))
        # The reference's search: a case-insensitive substring of the name, of
        # the type as the client wrote it, or of an observation, in creation
        # order, answered by the text index in memory (Memory.find_text). The
        # model is only asked with semantic: true, so the default never waits
        # for it and never returns an entity without the query.
        matches = self.mem.find_text(query)
        if not semantic:
            return self._page("search_nodes", fingerprint(query), [_entry_json(e) for e in matches], args)
        self._wait_for_vectors()
        vector = self._query_vector(query)
        ranked: dict[str, tuple[float | None, int, dict[str, Any]]] = {}
        if vector is not None:
            found = [self._entity(e.name) for e in matches]
            for order, (entry, entity) in enumerate(zip(matches, found)):
                score = None
                if entity is not None and entity.embedding is not None:
                    score = float(np.dot(entity.embedding, vector))
                ranked[entry.name] = (score, order, _entry_json(entry))
            for hit in self.mem.search(vector, k=SEARCH_SEMANTIC_K):
                if hit.name not in ranked and hit.score >= self.min_score:
                    entity = self._entity(hit.name)
                    if entity is not None:
                        ranked[hit.name] = (hit.score, len(ranked) + 1_000_000_000, entity_json(entity))
        else:
            ranked = {e.name: (None, order, _entry_json(e)) for order, e in enumerate(matches)}
        best = sorted(ranked.values(), key=lambda t: (t[0] is None, -(t[0] or 0.0), t[1]))
        # A cursor of one mode must not continue the other's ranking.
        return self._page("search_nodes", fingerprint([query, "semantic"]), [t[2] for t in best], args)

    def _query_vector(self, query: str) -> np.ndarray | None:
        embedder = self.mem.embedder
        if embedder is None or not query.strip() or self.mem.vector_dim is None:
            return None
        return np.asarray(embedder.encode([query])[0], np.float32)

    def _open_nodes(self, args: dict[str, Any]) -> dict[str, Any]:
        names = list(dict.fromkeys(args["names"]))
        holdable = [n for n in names if _holdable(n)]  # any other name was never there
        found = [_entry_json(e) for e in self.mem.text_entries(holdable) if e is not None]
        return self._page("open_nodes", fingerprint(names), found, args)

    # -- graphmem's tools --------------------------------------------------------

    def _semantic_search(self, args: dict[str, Any]) -> dict[str, Any]:
        types = [stored_type(t, fallback="Entity")[0] for t in args["entityTypes"]] if "entityTypes" in args else None
        waiting = self._wait_for_vectors()
        hits = self.mem.search(args["query"], k=args.get("limit", 10), types=types, near=args.get("near"),
                               max_hops=args.get("maxHops"))  # fmt: skip
        results = []
        for hit in hits:
            entity = self._entity(hit.name)
            if entity is None:
                continue  # deleted by a concurrent call
            results.append({**entity_json(entity), "score": round(hit.score, 6), "hops": hit.hops,
                            "path": None if hit.path is None else list(hit.path.nodes)})  # fmt: skip
        structured: dict[str, Any] = {"results": results}
        if waiting:
            structured["notYetEmbedded"] = waiting
        return _json_outcome(structured, floats=True)

    def _wait_for_vectors(self) -> int:
        """Before a search by meaning: wait for the vectors of this server's own
        writes, and return how many entities still have none (0 when none).

        Writes return before their entities are embedded (background
        embedding); a search by meaning needs the model anyway, and waits for
        what this server wrote before it, so a client finds its own writes
        (they are embedded first). It does not wait for the entities the
        store held without a vector when the server opened (a store filled
        without the model: at ~70 entities a second on two busy cores, that
        can be many minutes); semantic_search says how many are left instead.
        No other read waits.
        """
        self.mem.wait_embedded(include_earlier=False)
        if self.mem.wait_embedded(timeout=0):
            return 0
        return int(self.mem.stats()["vectors"]["waiting"])

    def _find_path(self, args: dict[str, Any]) -> dict[str, Any]:
        types = self._relation_types(args)
        path = self.mem.shortest_path(args["from"], args["to"], max_hops=args.get("maxHops"), types=types,
                                      direction=args.get("direction", "both"))  # fmt: skip
        if path is None:
            return _json_outcome({"found": False, "hops": None, "nodes": [], "relations": []})
        hops = []
        for a, stored, b in zip(path.nodes, path.relations, path.nodes[1:]):
            relation = self.mem.get_relation(a, stored, b) or self.mem.get_relation(b, stored, a)
            if relation is None:  # removed by a concurrent call after the path was found
                hops.append({"from": a, "to": b, "relationType": stored})
            else:
                hops.append(relation_json(relation))
        return _json_outcome({"found": True, "hops": len(path), "nodes": list(path.nodes), "relations": hops})

    def _neighbors(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args["name"]
        found = self.mem.neighbors(name, direction=args.get("direction", "both"), types=self._relation_types(args))
        limit = args.get("limit")
        out = []
        # The list comes from memory; each shown one reads its relation from the store (the type as the
        # agent wrote it), so limit bounds the store reads and the answer at a hub.
        for n in found if limit is None else found[:limit]:
            source, target = (name, n.name) if n.direction == "out" else (n.name, name)
            relation = self.mem.get_relation(source, n.type, target)
            shown = n.type if relation is None else relation_type_shown(relation.type, relation.properties)
            out.append({"name": n.name, "relationType": shown, "direction": n.direction})
        return _json_outcome({"neighbors": out} if limit is None else {"neighbors": out, "total": len(found)})

    def _shown_type(self, name: str, stored: str) -> str:
        """The entity type of ``name`` as the agent wrote it."""
        entity = self._entity(name)
        return stored if entity is None else entity_json(entity)["entityType"]

    @staticmethod
    def _relation_types(args: dict[str, Any]) -> list[str] | None:
        if "relationTypes" not in args:
            return None
        return [stored_type(t, fallback="RELATED_TO")[0] for t in args["relationTypes"]]

    def _recall(self, args: dict[str, Any]) -> dict[str, Any]:
        self._wait_for_vectors()
        recall = self.mem.recall(args["query"], k=args.get("k", 10), hops=args.get("hops", 1))
        recall = replace(recall, entities=tuple(replace(e, type=self._shown_type(e.name, e.type))
                                                for e in recall.entities))  # fmt: skip
        text = recall.to_text(max_chars=args.get("maxChars", 4000))
        # Report only what made it into the text, so the structured content
        # keeps the same budget.
        lines = text.split("\n")
        if "Relations:" in lines:
            split = lines.index("Relations:")
            entity_lines, relation_lines = split - 1, len(lines) - split - 1
        else:
            entity_lines, relation_lines = max(0, len(lines) - 1), 0
        entities = [{"name": e.name, "score": round(e.score, 6), "hops": e.hops}
                    for e in recall.entities[:entity_lines]]  # fmt: skip
        relations = [list(r) for r in recall.relations[:relation_lines]]
        truncated = recall.truncated or entity_lines < len(recall.entities) or relation_lines < len(recall.relations)
        structured = {"text": text, "entities": entities, "relations": relations, "truncated": truncated}
        return {"text": text, "structured": structured}

    def _cypher_query(self, args: dict[str, Any]) -> dict[str, Any]:
        columns, rows = self.atomic.read_only_cypher(args["query"], args.get("params"))
        limit = args.get("maxRows", 1000)
        shown = [[_plain(v) for v in row] for row in rows[:limit]]
        return _json_outcome({"columns": columns, "rows": shown, "truncated": len(rows) > limit}, floats=True)


# The characters of read_graph's answer besides its items: the braces, keys,
# brackets and a cursor (~100 characters; counted generously).
_FRAME_CHARS = 200


def _pretty_len(item: dict[str, Any]) -> int:
    """The characters ``item`` takes in the answer's text: its 2-space JSON at
    depth 2 (4 more spaces per line) and the ``,\n`` after it."""
    text = json.dumps(item, indent=2, ensure_ascii=False)
    return len(text) + 4 * (text.count("\n") + 1) + 2


def _entry_json(entry: TextEntry) -> dict[str, Any]:
    """A text-index entry in the reference's shape: ``{name, entityType, observations}``."""
    return {"name": entry.name, "entityType": entry.type, "observations": list(entry.observations)}


def _holdable(name: str) -> bool:
    """Whether graphmem could hold an entity called ``name`` (else it does not exist)."""
    try:
        check_name(name)
    except InvalidInput:
        return False
    return True


def _plain(value: Any) -> Any:
    """A Cypher value as JSON can carry it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
