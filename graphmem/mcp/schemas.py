"""The tools the MCP server offers: names, JSON Schemas, annotations.

The first nine are the reference memory server's tools (modelcontextprotocol/
servers, ``src/memory``) with the same names, argument schemas, result shapes
and hints, so an agent configured for it works unchanged. Optional arguments
are additions that the reference does not have (``limit``/``cursor``); leaving
them out gives the reference's behaviour. The last five tools are graphmem's.

This module is data plus one check: :func:`check_arguments` validates a call's
arguments against its schema and raises :class:`~graphmem.errors.InvalidInput`
naming the offending field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

__all__ = ["ToolSpec", "TOOLS", "TOOLS_BY_NAME", "RESOURCE_URI", "SEARCH_QUERY_MAX_LENGTH", "check_arguments"]

RESOURCE_URI = "memory://knowledge-graph"
# semantic_search and recall embed their query, and the model reads at most a
# few hundred tokens: longer text is refused rather than silently cut.
# search_nodes takes any length, as the reference does (it only embeds with
# semantic: true, and then the model reads the query's beginning).
SEARCH_QUERY_MAX_LENGTH = 2048
MAX_PAGE = 10_000
MIN_READ_CHARS = 256
"""The smallest read_graph maxChars: room for the answer's frame and a cursor."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what ``tools/list`` shows, and whether a call writes."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool

    @property
    def writes(self) -> bool:
        return not self.read_only


def _obj(properties: dict[str, Any], required: list[str], *, strict: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if strict:
        schema["additionalProperties"] = False
    return schema


def _strings(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if description:
        schema["description"] = description
    return schema


_ENTITY = _obj(
    {
        "name": {"type": "string", "description": "The name of the entity"},
        "entityType": {"type": "string", "description": "The type of the entity"},
        "observations": _strings("An array of observation contents associated with the entity"),
    },
    ["name", "entityType", "observations"],
)
_RELATION = _obj(
    {
        "from": {"type": "string", "description": "The name of the entity where the relation starts"},
        "to": {"type": "string", "description": "The name of the entity where the relation ends"},
        "relationType": {"type": "string", "description": "The type of the relation"},
    },
    ["from", "to", "relationType"],
)
_LIMIT = {
    "type": "integer", "minimum": 1, "maximum": MAX_PAGE,
    "description": "graphmem: at most this many entities per page (default: all)",
}  # fmt: skip
_CURSOR = {"type": "string", "description": "graphmem: the nextCursor of the previous page"}
_NEXT = {"type": "string", "description": "graphmem: pass as cursor to get the next page; absent on the last page"}
_GRAPH_OUT = _obj(
    {"entities": {"type": "array", "items": _ENTITY}, "relations": {"type": "array", "items": _RELATION},
     "nextCursor": _NEXT},
    ["entities", "relations"],
)  # fmt: skip
# read_graph with namesOnly lists entities without observations.
_GRAPH_PAGE_OUT = _obj(
    {"entities": {"type": "array", "items": {**_ENTITY, "required": ["name", "entityType"]}},
     "relations": {"type": "array", "items": _RELATION}, "nextCursor": _NEXT},
    ["entities", "relations"],
)  # fmt: skip
_STATUS_OUT = _obj({"success": {"type": "boolean"}, "message": {"type": "string"}}, ["success", "message"])
_NAMESPACE = {
    "type": "string", "minLength": 1,
    "description": "graphmem: the namespace (project) this call reads and writes (default: the server's, set with "
                   "graphmem --namespace NS mcp PATH); namespaces never see each other's entities",
}  # fmt: skip
_DIRECTION = {"type": "string", "enum": ["out", "in", "both"], "description": "Which way relations are followed"}
_RELATION_TYPES = _strings("Only follow relations of these types (default: all)")


def _spec(name: str, title: str, description: str, inputs: dict[str, Any], outputs: dict[str, Any],
          kind: str) -> ToolSpec:  # fmt: skip
    # The reference's hints: creators are neither destructive nor idempotent,
    # deleters are both, readers are read-only and idempotent.
    hints = {"create": (False, False, False), "delete": (False, True, True), "read": (True, False, True)}[kind]
    inputs = {**inputs, "properties": {**inputs["properties"], "namespace": _NAMESPACE}}
    return ToolSpec(name, title, description, inputs, outputs, *hints)


TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "create_entities", "Create Entities", "Create multiple new entities in the knowledge graph",
        _obj({"entities": {"type": "array", "items": _ENTITY}}, ["entities"]),
        _obj({"entities": {"type": "array", "items": _ENTITY}}, ["entities"]), "create",
    ),
    _spec(
        "create_relations", "Create Relations",
        "Create multiple new relations between entities in the knowledge graph. Relations should be in active voice",
        _obj({"relations": {"type": "array", "items": _RELATION}}, ["relations"]),
        _obj({"relations": {"type": "array", "items": _RELATION}}, ["relations"]), "create",
    ),
    _spec(
        "add_observations", "Add Observations", "Add new observations to existing entities in the knowledge graph",
        _obj({"observations": {"type": "array", "items": _obj({
            "entityName": {"type": "string", "description": "The name of the entity to add the observations to"},
            "contents": _strings("An array of observation contents to add"),
        }, ["entityName", "contents"])}}, ["observations"]),
        _obj({"results": {"type": "array", "items": _obj(
            {"entityName": {"type": "string"}, "addedObservations": _strings()}, ["entityName", "addedObservations"],
        )}}, ["results"]), "create",
    ),
    _spec(
        "delete_entities", "Delete Entities",
        "Delete multiple entities and their associated relations from the knowledge graph",
        _obj({"entityNames": _strings("An array of entity names to delete")}, ["entityNames"]), _STATUS_OUT, "delete",
    ),
    _spec(
        "delete_observations", "Delete Observations", "Delete specific observations from entities in the knowledge graph",
        _obj({"deletions": {"type": "array", "items": _obj({
            "entityName": {"type": "string", "description": "The name of the entity containing the observations"},
            "observations": _strings("An array of observations to delete"),
        }, ["entityName", "observations"])}}, ["deletions"]),
        _STATUS_OUT, "delete",
    ),
    _spec(
        "delete_relations", "Delete Relations", "Delete multiple relations from the knowledge graph",
        _obj({"relations": {"type": "array", "items": _RELATION, "description": "An array of relations to delete"}},
             ["relations"]),
        _STATUS_OUT, "delete",
    ),
    _spec(
        "read_graph", "Read Graph",
        "Read the entire knowledge graph (graphmem: page it with limit and cursor, or with maxChars to bound "
        "each answer's size; namesOnly leaves out the observations)",
        _obj({"limit": _LIMIT, "cursor": _CURSOR,
              "namesOnly": {"type": "boolean", "default": False, "description": (
                  "graphmem: list each entity's name and type only, without its observations (an overview of "
                  "a large graph at a fraction of its size)")},
              "maxChars": {"type": "integer", "minimum": MIN_READ_CHARS, "description": (
                  "graphmem: at most this many characters of JSON text per answer (at least one entity per "
                  "page); when the graph does not fit, nextCursor continues it. Entities come in creation "
                  "order; each relation comes once, on its source's page")}}, []),
        _GRAPH_PAGE_OUT, "read",
    ),
    _spec(
        "search_nodes", "Search Nodes",
        "Search for nodes in the knowledge graph based on a query (graphmem: the entities whose name, type or "
        "observations contain the query, ignoring case, and the relations touching them, as the reference "
        "does; with semantic: true, also the entities closest in meaning, most similar first — or use "
        "semantic_search)",
        _obj({"query": {"type": "string",
                        "description": "The search query to match against entity names, types, and observation content"},
              "semantic": {"type": "boolean", "default": False, "description": (
                  "graphmem: also return entities whose meaning is close to the query, most similar first "
                  "(default: false, or true when the server runs with --semantic-search-nodes)")},
              "limit": _LIMIT, "cursor": _CURSOR}, ["query"]),
        _GRAPH_OUT, "read",
    ),
    _spec(
        "open_nodes", "Open Nodes", "Open specific nodes in the knowledge graph by their names",
        _obj({"names": _strings("An array of entity names to retrieve"), "limit": _LIMIT, "cursor": _CURSOR},
             ["names"]),
        _GRAPH_OUT, "read",
    ),
    # -- graphmem's own tools ------------------------------------------------------
    _spec(
        "semantic_search", "Semantic Search",
        "Find the entities whose meaning is closest to a question, best first; optionally only those within "
        "maxHops relations of the entities named in near (each hit then says how it connects)",
        _obj({
            "query": {"type": "string", "minLength": 1, "maxLength": SEARCH_QUERY_MAX_LENGTH},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
            "entityTypes": _strings("Only entities of these types"),
            "near": _strings("Only entities connected to these entities"),
            "maxHops": {"type": "integer", "minimum": 0, "description": "With near: at most this many relations away"},
        }, ["query"], strict=True),
        _obj({"results": {"type": "array", "items": _obj({
            "name": {"type": "string"}, "entityType": {"type": "string"}, "observations": _strings(),
            "score": {"type": "number"}, "hops": {"type": ["integer", "null"]},
            "path": {"type": ["array", "null"], "items": {"type": "string"}},
        }, ["name", "entityType", "observations", "score"])},
            "notYetEmbedded": {"type": "integer", "minimum": 1, "description":
                               "Entities still waiting for their vector (embedded in the background): "
                               "this search could not find them yet"}}, ["results"]), "read",
    ),
    _spec(
        "find_path", "Find Path", "A shortest chain of relations connecting two entities",
        _obj({
            "from": {"type": "string"}, "to": {"type": "string"},
            "maxHops": {"type": "integer", "minimum": 0}, "relationTypes": _RELATION_TYPES, "direction": _DIRECTION,
        }, ["from", "to"], strict=True),
        _obj({"found": {"type": "boolean"}, "hops": {"type": ["integer", "null"]}, "nodes": _strings(),
              "relations": {"type": "array", "items": _RELATION}}, ["found", "hops", "nodes", "relations"]), "read",
    ),
    _spec(
        "neighbors", "Neighbors", "The entities one relation away from an entity",
        _obj({"name": {"type": "string"}, "direction": _DIRECTION, "relationTypes": _RELATION_TYPES,
              "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                        "description": "graphmem: at most this many (the first in the answer's order); "
                                       "total then says how many there are (default: all)"}},
             ["name"], strict=True),
        _obj({"neighbors": {"type": "array", "items": _obj({
            "name": {"type": "string"}, "relationType": {"type": "string"},
            "direction": {"type": "string", "enum": ["out", "in"]},
        }, ["name", "relationType", "direction"])},
            "total": {"type": "integer", "description": "graphmem: how many there are (given with limit)"}},
            ["neighbors"]), "read",
    ),
    _spec(
        "recall", "Recall",
        "What the memory knows about a question, as a compact text within a character budget: the most "
        "relevant entities, their neighbours and the relations among them",
        _obj({
            "query": {"type": "string", "minLength": 1, "maxLength": SEARCH_QUERY_MAX_LENGTH},
            "maxChars": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 4000},
            "k": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
            "hops": {"type": "integer", "minimum": 0, "maximum": 5, "default": 1},
        }, ["query"], strict=True),
        _obj({"text": {"type": "string"}, "entities": {"type": "array"}, "relations": {"type": "array"},
              "truncated": {"type": "boolean"}}, ["text", "entities", "relations", "truncated"]), "read",
    ),
    _spec(
        "cypher_query", "Cypher Query",
        "Run a read-only Cypher query; values go in params as $name. Entities are (e:Entity) with name, type, "
        "observations; relations are [r:Relation] with type. Statements that write are refused, and so are "
        "statements that read or write files, reach the network or load extensions (LOAD FROM a path, COPY, "
        "EXPORT/IMPORT DATABASE, INSTALL, ATTACH)",
        _obj({
            "query": {"type": "string", "minLength": 1},
            "params": {"type": "object"},
            "maxRows": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1000},
        }, ["query"], strict=True),
        _obj({"columns": _strings(), "rows": {"type": "array"}, "truncated": {"type": "boolean"}},
             ["columns", "rows", "truncated"]), "read",
    ),
)  # fmt: skip

TOOLS_BY_NAME: dict[str, ToolSpec] = {tool.name: tool for tool in TOOLS}


def check_arguments(tool: ToolSpec, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``arguments`` against ``tool``'s input schema.

    Returns a plain dict copy. Unknown keys are kept for the reference's tools
    (their schemas do not forbid them, and the reference ignores them) and
    refused for graphmem's (``additionalProperties: false``).

    Raises
    ------
    InvalidInput
        The first violation, with the JSON path of the field (``entities[0].name``).
    """
    args = dict(arguments or {})
    quick = _quick.get(tool.name)
    if quick is None:
        quick = _quick.setdefault(tool.name, _compile(tool.input_schema))
    if quick(args):
        return args  # surely valid; jsonschema (~0.2 ms per item of a list) only decides the rest
    # Imported only here: a server whose calls are all valid never pays its import (~0.2 s).
    from jsonschema import Draft202012Validator

    validator = _validators.get(tool.name)
    if validator is None:
        validator = _validators.setdefault(tool.name, Draft202012Validator(tool.input_schema))
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise InvalidInput(f"{tool.name}: {where or 'arguments'}: {error.message}")
    return args


_validators: dict[str, Any] = {}
_quick: dict[str, Callable[[Any], bool]] = {}

# The schema keywords _compile understands; a schema with any other has no quick check.
_KNOWN = {"type", "properties", "required", "items", "description", "default", "minimum", "maximum",
          "minLength", "maxLength", "additionalProperties", "enum"}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _never(value: Any) -> bool:
    return False


_PLAIN = {"description", "default"}


def _compile_common(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """One function for the shapes every reference call has (an object of
    plain strings and nested checks, an array of those): the general
    checks below cost a closure call per keyword per value (~60 ms for
    5,000 relations), this one a few type tests per value."""
    kind = schema.get("type")
    keys = set(schema) - _PLAIN
    if kind == "array" and keys == {"type", "items"}:
        each = _compile(schema["items"])
        return lambda v: type(v) is list and all(map(each, v))
    if kind != "object" or not keys <= {"type", "properties", "required", "additionalProperties"}:
        return None
    extra = schema.get("additionalProperties", True)
    if extra not in (True, False):
        return None
    required = list(schema.get("required", ()))
    plain = {k for k, sub in schema.get("properties", {}).items()
             if isinstance(sub, dict) and sub.get("type") == "string" and set(sub) - _PLAIN == {"type"}}
    others = {k: _compile(sub) for k, sub in schema.get("properties", {}).items() if k not in plain}

    def check(v: Any) -> bool:
        if type(v) is not dict:
            return False
        for k in required:
            if k not in v:
                return False
        for k, item in v.items():
            if k in plain:
                if type(item) is not str:
                    return False
                continue
            sub = others.get(k)
            if sub is None:
                if extra is False:
                    return False
            elif not sub(item):
                return False
        return True

    return check


def _compile(schema: Any) -> Callable[[Any], bool]:
    """A check that returns ``True`` only for values ``schema`` surely accepts.

    It covers the keywords the tool schemas use, and answers ``False`` (so
    jsonschema decides, and words the error) on anything it is unsure of: an
    integer written as ``3.0``, a keyword it does not know. Being stricter
    than jsonschema is safe; being looser is not.
    """
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        return _never
    fast = _compile_common(schema)
    if fast is not None:
        return fast
    checks: list[Callable[[Any], bool]] = []
    kinds = schema.get("type")
    if kinds is not None:
        tests = [_TYPES.get(k) for k in (kinds if isinstance(kinds, list) else [kinds])]
        if None in tests:
            return _never
        checks.append(lambda v: any(t(v) for t in tests))  # type: ignore[misc]
    if "enum" in schema:
        allowed = schema["enum"]
        checks.append(lambda v: any(type(v) is type(a) and v == a for a in allowed))
    if "minimum" in schema or "maximum" in schema:
        low, high = schema.get("minimum"), schema.get("maximum")
        checks.append(lambda v: not isinstance(v, (int, float)) or isinstance(v, bool) or (
            (low is None or v >= low) and (high is None or v <= high)))
    if "minLength" in schema or "maxLength" in schema:
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
        checks.append(lambda v: not isinstance(v, str) or (len(v) >= shortest and (longest is None
                                                                                    or len(v) <= longest)))
    if "required" in schema:
        required = list(schema["required"])
        checks.append(lambda v: not isinstance(v, dict) or all(k in v for k in required))
    if "properties" in schema or "additionalProperties" in schema:
        props = {k: _compile(sub) for k, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            return _never

        def properties(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for k, item in v.items():
                check = props.get(k)
                if check is None:
                    if extra is False:
                        return False
                elif not check(item):
                    return False
            return True

        checks.append(properties)
    if "items" in schema:
        each = _compile(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(map(each, v)))
    return lambda v: all(c(v) for c in checks)
