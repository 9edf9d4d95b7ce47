"""The MCP fast paths are exact: the quick argument check never accepts what jsonschema refuses,
and pretty_json writes what json.dumps(indent=2) writes."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from graphmem.mcp.schemas import TOOLS, _compile

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 20_000), st.floats(-2, 5, allow_nan=False),
                   st.text("ab\u00e9 ", max_size=4), st.sampled_from(["out", "in", "both", ""]))  # fmt: skip


def shaped(schema: Any) -> st.SearchStrategy[Any]:
    """Values near ``schema``'s shape: right keys and nesting, leaves of any type."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "object" and "properties" in schema:
        keys = {k: shaped(v) for k, v in schema["properties"].items()}
        return st.fixed_dictionaries({}, optional={**keys, "extra": LEAVES})
    if kind == "array" and "items" in schema:
        return st.one_of(st.lists(shaped(schema["items"]), max_size=3), LEAVES)
    return st.one_of(LEAVES, st.lists(LEAVES, max_size=2))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_quick_check_is_never_looser_than_jsonschema(data: st.DataObject) -> None:
    for tool in TOOLS:
        value = data.draw(shaped(tool.input_schema), label=tool.name)
        if _compile(tool.input_schema)(value):
            assert Draft202012Validator(tool.input_schema).is_valid(value), (tool.name, value)


def test_quick_check_accepts_a_typical_call() -> None:
    spec = {t.name: t for t in TOOLS}["create_relations"]
    args = {"relations": [{"from": "a", "to": "b", "relationType": "knows"}] * 3}
    assert _compile(spec.input_schema)(args)
    assert not _compile(spec.input_schema)({"relations": [{"from": "a", "to": "b"}]})
    assert not _compile({"type": "string", "format": "email"})("x")  # an unknown keyword: jsonschema decides


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_pretty_json_is_json_dumps(value: Any) -> None:
    import json

    from graphmem.mcp.tools import pretty_json

    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_pretty_plain_is_pretty_json_for_every_character() -> None:
    from graphmem.mcp.tools import _pretty_pydantic, pretty_json

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    value = {"alone": chars, "inside": ["a" + "".join(chars[i:i + 4096]) + "z" for i in range(0, len(chars), 4096)]}
    assert _pretty_pydantic(value) == pretty_json(value)


PLAIN = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(value=PLAIN)
def test_pretty_plain_is_json_dumps(value: Any) -> None:
    """Also for what pydantic-core refuses (a lone surrogate, which st.text draws): the slow path writes it."""
    import json

    from graphmem.mcp.tools import _pretty_plain, _pretty_pydantic

    assert _pretty_pydantic(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert _pretty_plain(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_a_wire_dict_result_is_what_the_sdk_makes_of_a_call_tool_result() -> None:
    """The handler returns the result as a dict (graphmem.mcp.server._wire_result): the SDK
    must send what it sends for the same CallToolResult, in every protocol version."""
    import mcp.types as types
    from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
    from mcp_types import methods

    from graphmem.mcp.server import _wire_result
    from graphmem.mcp.tools import Outcome

    outcomes = [Outcome("[]", {"entities": [{"name": "a", "entityType": "T", "observations": ["é"]}], "relations": []}),
                Outcome("Entities deleted successfully", {"success": True, "message": "x"}),
                Outcome("InvalidInput: no", None, True)]  # fmt: skip
    for outcome in outcomes:
        model = types.CallToolResult(content=[types.TextContent(type="text", text=outcome.text)],
                                     is_error=outcome.is_error, structured_content=outcome.structured)  # fmt: skip
        for version in KNOWN_PROTOCOL_VERSIONS:
            if ("tools/call", version) not in methods.SERVER_RESULTS:
                continue
            expected = methods.serialize_server_result(
                "tools/call", version, model.model_dump(by_alias=True, mode="json", exclude_none=True))
            assert methods.serialize_server_result("tools/call", version, _wire_result(outcome)) == expected
            assert list(_wire_result(outcome)) == list(model.model_dump(by_alias=True, mode="json", exclude_none=True))


NAMES = ["Ada", "Bob", "Cy", "Dee", "Éva", "東京"]
TYPES = ["KNOWS", "works at", "likes"]


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_relation_dicts_is_find_relations(data: st.DataObject) -> None:
    """relation_dicts (read_graph's relations) lists what Memory.find_relations lists, in its order,
    whatever was written and deleted, in any namespace, and with ends missing from the entity list."""
    import graphmem
    from graphmem.mcp.tools import Tools
    from graphmem.memory.whole import relation_dicts

    triples = st.tuples(st.sampled_from(NAMES), st.sampled_from(TYPES), st.sampled_from(NAMES))
    with graphmem.open(embedder=None) as mem:
        for space in ("default", "other"):
            tools = Tools(mem).in_namespace(space)
            names = data.draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True), label=f"{space} names")
            tools.call("create_entities", {"entities": [{"name": n, "entityType": "Person", "observations": []}
                                                        for n in names]})  # fmt: skip
            made = [t for t in data.draw(st.lists(triples, max_size=12), label=f"{space} relations")
                    if t[0] in names and t[2] in names]  # fmt: skip
            if made:
                tools.call("create_relations", {"relations": [{"from": a, "to": b, "relationType": t}
                                                              for a, t, b in made]})  # fmt: skip
            gone = data.draw(st.lists(st.sampled_from(made), max_size=3), label=f"{space} deleted") if made else []
            if gone:
                tools.call("delete_relations", {"relations": [{"from": a, "to": b, "relationType": t}
                                                              for a, t, b in gone]})  # fmt: skip
            dropped = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True), label=f"{space} dropped")
            tools.call("delete_entities", {"entityNames": dropped})
        for space in ("default", "other"):
            view = mem if space == "default" else mem.namespace(space)
            expected = [{"from": r.source, "to": r.target, "relationType": r.type} for r in view.find_relations()]
            entries = view.find_text("")
            assert relation_dicts(view, entries) == expected
            kept = data.draw(st.lists(st.sampled_from(entries), unique_by=lambda e: e.id), label="listed") \
                if entries else []  # fmt: skip
            assert relation_dicts(view, sorted(kept, key=lambda e: e.id)) == expected


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_delete_relations_is_delete_relation_per_triple(data: st.DataObject) -> None:
    """delete_relations (MCP delete_relations' one statement) deletes what Memory.delete_relation
    deletes triple by triple, and says the same of each (a triple named again: False): by the rule
    (unlink.KEYED_PER_STATEMENT: the keyed statements unless they would be 4 or more), the keyed
    statements for any number (as on a large store: those sharing an end in one statement), and
    the one batch statement for any number."""
    from unittest import mock

    import graphmem
    from graphmem.memory import unlink
    from graphmem.memory.unlink import delete_relations

    triples = st.tuples(st.sampled_from(NAMES[:4]), st.sampled_from(["KNOWS", "LIKES"]), st.sampled_from(NAMES[:4]))
    made = data.draw(st.lists(triples, max_size=10), label="made")
    # Mostly relations that are there, so that several share an end.
    asked = data.draw(st.lists(st.sampled_from(made) | triples if made else triples, max_size=8), label="asked")
    outcomes = []
    for way in ("one by one", "by the rule", "keyed", "batch"):
        with graphmem.open(embedder=None) as mem, \
                mock.patch.object(unlink, "_deletes_in_one", lambda rows, stored, one=way == "batch": one) \
                if way in ("keyed", "batch") else contextlib.nullcontext():  # fmt: skip
            mem.add_entities([{"name": n} for n in NAMES[:4]])
            if made:
                mem.add_relations(made)
            said = [mem.delete_relation(*t) for t in asked] if way == "one by one" else delete_relations(mem, asked)
            left = sorted((r.source, r.type, r.target) for r in mem.find_relations())
            stored = sorted((r.source, r.type, r.target) for r in mem.iter_relations())
            outcomes.append((said, left, stored))
    (said_one, left_one, stored_one), *others = outcomes
    for said, left, stored in others:
        assert said == said_one  # one by one, a triple named again is no longer there
        assert left == left_one == stored == stored_one
