"""read_graph's namesOnly and maxChars paging (issue 19), on the tool layer in process:
every entity once and in order, every relation once, every page within budget."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.mcp.tools import Tools

pytestmark = pytest.mark.engine


def _graph(tools: Tools, sizes: list[int], links: list[tuple[int, int]]) -> None:
    entities = [{"name": f"e{i:02d}", "entityType": "thing" if i % 2 else "Big Thing",
                 "observations": [f"fact {i}-{j} " + "x" * (i * 7 % 40) for j in range(k)]}
                for i, k in enumerate(sizes)]  # fmt: skip
    assert not tools.call("create_entities", {"entities": entities}).is_error
    relations = [{"from": f"e{a:02d}", "to": f"e{b:02d}", "relationType": "links to"} for a, b in links
                 if a < len(sizes) and b < len(sizes)]  # fmt: skip
    if relations:
        assert not tools.call("create_relations", {"relations": relations}).is_error


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=25),
       links=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=30),
       budget=st.integers(256, 3000), names_only=st.booleans())  # fmt: skip
def test_pages_cover_the_graph_within_budget(sizes: list[int], links: list[tuple[int, int]], budget: int,
                                             names_only: bool) -> None:  # fmt: skip
    with graphmem.open(embedder=None) as mem:
        tools = Tools(mem)
        _graph(tools, sizes, links)
        whole = tools.call("read_graph", {}).structured
        entities, relations, cursor, pages = [], [], None, 0
        while True:
            args = {"maxChars": budget, "namesOnly": names_only, **({"cursor": cursor} if cursor else {})}
            out = tools.call("read_graph", args)
            assert not out.is_error, out.text
            page = out.structured
            assert json.loads(out.text) == page
            assert len(out.text) <= budget or len(page["entities"]) == 1  # one entity always fits on its page
            assert page["entities"], "a page is never empty while entities remain"
            entities += page["entities"]
            relations += page["relations"]
            pages += 1
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        want = whole["entities"]
        if names_only:
            want = [{"name": e["name"], "entityType": e["entityType"]} for e in want]
        assert entities == want
        assert sorted(map(json.dumps, relations)) == sorted(map(json.dumps, whole["relations"]))
        if len(whole["entities"]) > 1 and len(tools.call("read_graph", {"namesOnly": names_only}).text) > budget:
            assert pages > 1


def test_names_only_and_errors() -> None:
    with graphmem.open(embedder=None) as mem:
        tools = Tools(mem)
        _graph(tools, [2, 1], [(0, 1)])
        out = tools.call("read_graph", {"namesOnly": True}).structured
        assert out == {"entities": [{"name": "e00", "entityType": "Big Thing"}, {"name": "e01", "entityType": "thing"}],
                       "relations": [{"from": "e00", "to": "e01", "relationType": "links to"}]}  # fmt: skip
        assert tools.call("read_graph", {"maxChars": 10}).is_error  # below the schema's minimum
        first = tools.call("read_graph", {"maxChars": 256}).structured
        assert [e["name"] for e in first["entities"]] == ["e00"] and "nextCursor" in first
        rest = tools.call("read_graph", {"maxChars": 100_000, "cursor": first["nextCursor"]}).structured
        assert [e["name"] for e in rest["entities"]] == ["e01"] and "nextCursor" not in rest
        # Entities created while paging land on later pages; none is skipped.
        assert not tools.call("create_entities", {"entities": [{"name": "e02", "entityType": "t",
                                                                "observations": []}]}).is_error  # fmt: skip
        again = tools.call("read_graph", {"maxChars": 100_000, "cursor": first["nextCursor"]}).structured
        assert [e["name"] for e in again["entities"]] == ["e01", "e02"]
