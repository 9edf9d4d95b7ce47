"""``graphmem mcp`` driven over stdio by the MCP SDK's client: every tool, the
resource, bad arguments, parallel calls and paging."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

import graphmem

from tests.mcp_client import ENGINE, call, call_error, mcp_session, text_json

pytestmark = pytest.mark.engine

# The reference server's tools: argument names, required ones, and hints
# (readOnly, destructive, idempotent), as modelcontextprotocol/servers declares them.
REFERENCE = {
    "create_entities": ({"entities"}, {"entities"}, (False, False, False)),
    "create_relations": ({"relations"}, {"relations"}, (False, False, False)),
    "add_observations": ({"observations"}, {"observations"}, (False, False, False)),
    "delete_entities": ({"entityNames"}, {"entityNames"}, (False, True, True)),
    "delete_observations": ({"deletions"}, {"deletions"}, (False, True, True)),
    "delete_relations": ({"relations"}, {"relations"}, (False, True, True)),
    "read_graph": (set(), set(), (True, False, True)),
    "search_nodes": ({"query"}, {"query"}, (True, False, True)),
    "open_nodes": ({"names"}, {"names"}, (True, False, True)),
}
GRAPHMEM_TOOLS = {"semantic_search", "find_path", "neighbors", "recall", "cypher_query"}


def run(main, *args):
    return anyio.run(main, *args)


def entity(name: str, kind: str = "person", *observations: str) -> dict:
    return {"name": name, "entityType": kind, "observations": list(observations)}


def test_tools_resource_and_schemas(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store") as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools) == set(REFERENCE) | GRAPHMEM_TOOLS
            for name, (args, required, hints) in REFERENCE.items():
                schema = tools[name].input_schema
                assert args <= set(schema["properties"]) and set(schema.get("required", [])) == required, name
                a = tools[name].annotations
                assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint) == hints, name
                assert tools[name].output_schema["type"] == "object"
            item = tools["create_entities"].input_schema["properties"]["entities"]["items"]
            assert item["required"] == ["name", "entityType", "observations"]
            item = tools["create_relations"].input_schema["properties"]["relations"]["items"]
            assert item["required"] == ["from", "to", "relationType"]
            assert all(tools[n].annotations.read_only_hint for n in GRAPHMEM_TOOLS)

            resources = (await s.list_resources()).resources
            assert [str(r.uri) for r in resources] == ["memory://knowledge-graph"]
            await call(s, "create_entities", entities=[entity("Ada", "person", "likes Rust")])
            contents = (await s.read_resource("memory://knowledge-graph")).contents
            assert contents[0].mime_type == "application/json"
            assert json.loads(contents[0].text) == {"entities": [entity("Ada", "person", "likes Rust")], "relations": []}

    run(main)


def test_every_tool(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store") as s:
            created = await call(s, "create_entities", entities=[
                entity("Ada", "person", "likes Rust", "likes Rust"), entity("Acme", "Big Company"),
                entity("Ada", "robot"), entity("Bob", "person", "plays chess"),
            ])  # fmt: skip
            # Only new names come back; a later duplicate of the batch is skipped.
            assert created == {"entities": [entity("Ada", "person", "likes Rust"), entity("Acme", "Big Company"),
                                            entity("Bob", "person", "plays chess")]}  # fmt: skip
            assert await call(s, "create_entities", entities=[entity("Ada", "robot")]) == {"entities": []}

            rels = [{"from": "Ada", "to": "Acme", "relationType": "works at"},
                    {"from": "Bob", "to": "Acme", "relationType": "works at"},
                    {"from": "Ada", "to": "Bob", "relationType": "knows"}]  # fmt: skip
            assert await call(s, "create_relations", relations=rels) == {"relations": rels}
            assert await call(s, "create_relations", relations=rels[:1]) == {"relations": []}

            added = await call(s, "add_observations", observations=[
                {"entityName": "Ada", "contents": ["likes Go", "likes Rust"]}])  # fmt: skip
            assert added == {"results": [{"entityName": "Ada", "addedObservations": ["likes Go"]}]}

            graph = await call(s, "read_graph")
            assert graph["entities"] == [entity("Ada", "person", "likes Rust", "likes Go"), entity("Acme", "Big Company"),
                                         entity("Bob", "person", "plays chess")]  # fmt: skip
            assert sorted(map(json.dumps, graph["relations"])) == sorted(map(json.dumps, rels))

            found = await call(s, "search_nodes", query="CHESS")
            assert [e["name"] for e in found["entities"]] == ["Bob"]
            assert {(r["from"], r["to"]) for r in found["relations"]} == {("Bob", "Acme"), ("Ada", "Bob")}
            found = await call(s, "search_nodes", query="company")  # matches the entity type
            assert [e["name"] for e in found["entities"]] == ["Acme"]

            opened = await call(s, "open_nodes", names=["Acme", "Nobody"])
            assert opened["entities"] == [entity("Acme", "Big Company")]
            assert len(opened["relations"]) == 2

            path = await call(s, "find_path", **{"from": "Ada", "to": "Bob", "relationTypes": ["works at"]})
            assert path["found"] and path["hops"] == 2 and path["nodes"] == ["Ada", "Acme", "Bob"]
            assert path["relations"][1] == {"from": "Bob", "to": "Acme", "relationType": "works at"}
            assert (await call(s, "find_path", **{"from": "Ada", "to": "Bob", "direction": "in"}))["found"] is False

            near = await call(s, "neighbors", name="Acme")
            assert near == {"neighbors": [{"name": "Ada", "relationType": "works at", "direction": "in"},
                                          {"name": "Bob", "relationType": "works at", "direction": "in"}]}  # fmt: skip
            near = await call(s, "neighbors", name="Acme", limit=1)  # the first only, and how many there are
            assert near == {"neighbors": [{"name": "Ada", "relationType": "works at", "direction": "in"}], "total": 2}

            hits = await call(s, "semantic_search", query="likes Rust", limit=2)
            assert hits["results"][0]["name"] == "Ada" and len(hits["results"]) == 2
            hits = await call(s, "semantic_search", query="chess", near=["Ada"], maxHops=1)
            assert {h["name"] for h in hits["results"]} <= {"Ada", "Acme", "Bob"}
            assert all(h["hops"] is not None and h["path"][-1] == h["name"] for h in hits["results"])

            recalled = await call(s, "recall", query="Ada likes Rust", maxChars=200)
            assert len(recalled["text"]) <= 200 and "Ada [person]" in recalled["text"]

            rows = await call(s, "cypher_query", query="MATCH (e:Entity) WHERE e.name = $n RETURN e.name AS name",
                              params={"n": "Bob"})  # fmt: skip
            assert rows == {"columns": ["name"], "rows": [["Bob"]], "truncated": False}

            result = await s.call_tool("delete_observations", {"deletions": [
                {"entityName": "Ada", "observations": ["likes Go"]}]})  # fmt: skip
            assert result.structured_content == {"success": True, "message": "Observations deleted successfully"}
            assert result.content[0].text == "Observations deleted successfully"
            partial = await call(s, "delete_observations", deletions=[
                {"entityName": "Ada", "observations": ["never said"]}, {"entityName": "Zed", "observations": []}])
            assert partial["message"] == "Deleted 0 of 1 observations. Entities not found: Zed"

            assert (await call(s, "delete_relations", relations=rels[2:]))["message"] == "Relations deleted successfully"
            gone = await call(s, "delete_relations", relations=rels[2:])
            assert gone["message"] == "Deleted 0 of 1 relations. The rest matched nothing."

            assert (await call(s, "delete_entities", entityNames=["Bob"]))["message"] == "Entities deleted successfully"
            missing = await call(s, "delete_entities", entityNames=["Bob", "Acme"])
            assert missing["message"] == "Deleted 1 of 2 entities. Not found: Bob"

            # The text content of the graph tools is the reference's pretty JSON.
            final = await s.call_tool("read_graph", {})
            assert text_json(final) == final.structured_content
            assert final.structured_content == {"entities": [entity("Ada", "person", "likes Rust")], "relations": []}

    run(main)


def test_unicode_identifier_types_round_trip_as_through_the_api(tmp_path: Path):
    """位置する and GEHÖRT_ZU are types (str.isidentifier) for the Python API:
    the tools store them as they are, not as an ASCII stand-in."""
    store = tmp_path / "store"
    with graphmem.open(store, embedder=None, engine=ENGINE) as mem:  # written through the API first
        mem.add_entities([{"name": "Zoë", "type": "Persönlichkeit"}, {"name": "Kyoto", "type": "都市"}])
        mem.add_relation("Kyoto", "位置する", "Zoë")

    async def main():
        async with mcp_session(store) as s:
            rels = [{"from": "Zoë", "to": "Kyoto", "relationType": "GEHÖRT_ZU"},
                    {"from": "Zoë", "to": "Kyoto", "relationType": "位置する"},
                    {"from": "Zoë", "to": "Kyoto", "relationType": "gehört zu"}]  # fmt: skip
            created = await call(s, "create_entities", entities=[entity("東京", "都市", "首都"), entity("Bär", "Tier")])
            assert created == {"entities": [entity("東京", "都市", "首都"), entity("Bär", "Tier")]}
            assert await call(s, "create_relations", relations=rels) == {"relations": rels}
            # The relation the API wrote is found by its type as the agent names it: not created again.
            written = {"from": "Kyoto", "to": "Zoë", "relationType": "位置する"}
            assert await call(s, "create_relations", relations=[written]) == {"relations": []}
            graph = await call(s, "read_graph")
            assert sorted((e["name"], e["entityType"]) for e in graph["entities"]) == [
                ("Bär", "Tier"), ("Kyoto", "都市"), ("Zoë", "Persönlichkeit"), ("東京", "都市")]  # fmt: skip
            assert sorted(map(json.dumps, graph["relations"])) == sorted(map(json.dumps, [*rels, written]))
            opened = await call(s, "open_nodes", names=["Kyoto"])
            assert opened["entities"] == [entity("Kyoto", "都市")]
            assert sorted(map(json.dumps, opened["relations"])) == sorted(map(json.dumps, [*rels, written]))
            found = await call(s, "search_nodes", query="都市")  # matches the entity type
            assert sorted(e["name"] for e in found["entities"]) == ["Kyoto", "東京"]
            assert await call(s, "delete_relations", relations=[written]) is not None

    run(main)
    with graphmem.open(store, embedder=None, engine=ENGINE) as mem:
        # Stored as written: the API reads the same types, with no stand-in kept in the properties.
        assert {(e.name, e.type, tuple(e.properties)) for e in mem.iter_entities()} == {
            ("Zoë", "Persönlichkeit", ()), ("Kyoto", "都市", ()), ("東京", "都市", ()), ("Bär", "Tier", ())}  # fmt: skip
        assert {(r.type, tuple(r.properties)) for r in mem.iter_relations()} == {
            ("GEHÖRT_ZU", ()), ("位置する", ()), ("gehört_zu", ("mcp_relation_type",))}  # fmt: skip
        assert mem.get_relation("Kyoto", "位置する", "Zoë") is None  # deleted through the tool


def test_bad_arguments_are_errors_and_change_nothing(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store") as s:
            await call(s, "create_entities", entities=[entity("Ada")])
            assert "entities" in await call_error(s, "create_entities")
            assert "entityType" in await call_error(s, "create_entities", entities=[{"name": "X", "observations": []}])
            assert "not of type 'string'" in await call_error(s, "create_entities", entities=[entity(5)])
            assert "empty" in await call_error(s, "create_entities", entities=[entity("Y"), entity("  ")])
            text = await call_error(s, "create_relations", relations=[
                {"from": "Ada", "to": "Ghost", "relationType": "knows"}])  # fmt: skip
            assert "Entity with name Ghost not found" in text
            text = await call_error(s, "add_observations", observations=[
                {"entityName": "Ada", "contents": ["ok"]}, {"entityName": "Ghost", "contents": ["x"]}])  # fmt: skip
            assert "Entity with name Ghost not found" in text
            assert "Unknown tool" in await call_error(s, "no_such_tool")
            assert "limit" in await call_error(s, "read_graph", limit=0)
            assert "cursor" in await call_error(s, "read_graph", limit=1, cursor="not-a-cursor")
            # The embedding tools refuse what the model could not read; search_nodes takes any length.
            assert "too long" in await call_error(s, "semantic_search", query="x" * 3000)
            assert "'hops' was unexpected" in await call_error(s, "find_path", **{"from": "Ada", "to": "Ada", "hops": 1})
            assert "NotFound" in await call_error(s, "neighbors", name="Ghost")
            assert "ReadOnlyStore" in await call_error(s, "cypher_query", query="MATCH (e:Entity) DETACH DELETE e")
            assert "QueryError" in await call_error(s, "cypher_query", query="MATCH (e:Entity RETURN e")
            unbound = await call_error(s, "cypher_query", query="MATCH (e:Entity) WHERE e.name = $who RETURN e.name")
            assert "$who" in unbound and "not given" in unbound
            # Nothing above wrote anything: "Y" (before the bad name) and "ok" are absent too.
            assert await call(s, "read_graph") == {"entities": [entity("Ada")], "relations": []}

    run(main)


def test_fifty_parallel_calls_lose_nothing(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store") as s:
            await call(s, "create_entities", entities=[entity("hub", "place")])
            results: dict[str, object] = {}

            async def one(i: int) -> None:
                if i % 3 == 0:
                    results[f"o{i}"] = await call(s, "add_observations", observations=[
                        {"entityName": "hub", "contents": [f"note {i}"]}])  # fmt: skip
                elif i % 3 == 1:
                    results[f"e{i}"] = await call(s, "create_entities", entities=[entity(f"n{i}", "thing", f"fact {i}")])
                else:
                    results[f"r{i}"] = await call(s, "search_nodes", query="hub")

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(one, i)
            graph = await call(s, "read_graph")
            names = {e["name"] for e in graph["entities"]}
            assert names == {"hub"} | {f"n{i}" for i in range(50) if i % 3 == 1}
            hub = next(e for e in graph["entities"] if e["name"] == "hub")
            assert sorted(hub["observations"]) == sorted(f"note {i}" for i in range(50) if i % 3 == 0)
            for key, value in results.items():  # each write reports exactly its own change
                if key[0] == "o":
                    assert value == {"results": [{"entityName": "hub", "addedObservations": [f"note {key[1:]}"]}]}
                elif key[0] == "e":
                    assert value == {"entities": [entity(f"n{key[1:]}", "thing", f"fact {key[1:]}")]}

    run(main)


def test_paging(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store") as s:
            await call(s, "create_entities", entities=[entity(f"e{i:02d}", "item", f"tag {i % 2}") for i in range(25)])
            await call(s, "create_relations", relations=[
                {"from": f"e{i:02d}", "to": f"e{i + 1:02d}", "relationType": "next"} for i in range(24)])  # fmt: skip
            full = await call(s, "read_graph")
            pages, cursor = [], None
            while True:
                args = {"limit": 10} if cursor is None else {"limit": 10, "cursor": cursor}
                page = await call(s, "read_graph", **args)
                pages.append(page)
                cursor = page.get("nextCursor")
                if cursor is None:
                    break
            assert [len(p["entities"]) for p in pages] == [10, 10, 5]
            assert [e for p in pages for e in p["entities"]] == full["entities"]
            # Each relation appears once, on the page of its source.
            paged = sorted(json.dumps(r) for p in pages for r in p["relations"])
            assert paged == sorted(json.dumps(r) for r in full["relations"])

            first = await call(s, "search_nodes", query="tag 1", limit=5)
            rest = await call(s, "search_nodes", query="tag 1", cursor=first["nextCursor"])
            names = [e["name"] for e in first["entities"] + rest["entities"]]
            assert sorted(names) == [f"e{i:02d}" for i in range(25) if i % 2 == 1] and "nextCursor" not in rest
            assert "another" in await call_error(s, "search_nodes", query="tag 0", cursor=first["nextCursor"])

            opened = await call(s, "open_nodes", names=["e03", "e01", "zz", "e02"], limit=2)
            assert [e["name"] for e in opened["entities"]] == ["e03", "e01"]
            more = await call(s, "open_nodes", names=["e03", "e01", "zz", "e02"], limit=2, cursor=opened["nextCursor"])
            assert [e["name"] for e in more["entities"]] == ["e02"] and "nextCursor" not in more

    run(main)


def test_search_nodes_ranks_by_meaning_with_the_real_model(tmp_path: Path):
    async def main():
        async with mcp_session(tmp_path / "store", embedder="default") as s:
            await call(s, "create_entities", entities=[
                entity("Ada", "person", "writes data pipelines in Python", "works on the ETL jobs"),
                entity("Bob", "person", "bakes sourdough bread", "runs a bakery"),
                entity("Cleo", "person", "maintains the data warehouse"),
                entity("Dan", "person", "plays the violin"),
            ])  # fmt: skip
            # By default, the reference's search: only the entities containing the text.
            found = await call(s, "search_nodes", query="data")
            assert [e["name"] for e in found["entities"]] == ["Ada", "Cleo"]
            assert (await call(s, "search_nodes", query="who builds ETL data pipelines?"))["entities"] == []
            # Opted in: substring matches are all kept, most similar first.
            found = await call(s, "search_nodes", query="data", semantic=True)
            assert {e["name"] for e in found["entities"]} >= {"Ada", "Cleo"}
            # No entity contains this text; the semantic neighbours still come back, best first.
            found = await call(s, "search_nodes", query="who builds ETL data pipelines?", semantic=True)
            names = [e["name"] for e in found["entities"]]
            assert names and names[0] == "Ada" and "Dan" not in names
            # The exact matching is still there for an unknown word.
            assert (await call(s, "search_nodes", query="zzqx", semantic=True))["entities"] == []
            # A cursor of one mode does not continue the other.
            page = await call(s, "search_nodes", query="data", semantic=True, limit=1)
            assert "another" in await call_error(s, "search_nodes", query="data", cursor=page["nextCursor"])
            # An observation removed is removed from the meaning too.
            await call(s, "delete_observations", deletions=[
                {"entityName": "Bob", "observations": ["bakes sourdough bread", "runs a bakery"]}])  # fmt: skip
            hits = await call(s, "semantic_search", query="bakery bread", limit=4)
            assert hits["results"][0]["name"] != "Bob" or hits["results"][0]["score"] < 0.5

    run(main)
