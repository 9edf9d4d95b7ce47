"""The MCP fast paths are exact: the quick argument check never accepts what jsonschema refuses,
and pretty_json writes what json.dumps(indent=2) writes."""

from __future__ import annotations

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
