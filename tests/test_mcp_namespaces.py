"""Namespaces through MCP: a ``namespace`` argument on every tool, and
``graphmem --namespace NS mcp PATH`` per server, never leaking across."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from .mcp_client import ENGINE, call, call_error, stdio_session

from mcp import StdioServerParameters  # noqa: E402  (mcp_client skipped the module without the extra)

pytestmark = pytest.mark.engine


def _params(store: Path, namespace: str | None = None) -> StdioServerParameters:
    chosen = [] if namespace is None else ["--namespace", namespace]
    args = ["-m", "graphmem", "--engine", ENGINE, *chosen, "mcp", str(store), "--embedder", "hash"]
    return StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))


def _entity(name: str, kind: str, *observations: str) -> dict:
    return {"name": name, "entityType": kind, "observations": list(observations)}


def test_a_namespace_argument_confines_every_tool(tmp_path: Path):
    store = tmp_path / "store"

    async def main() -> None:
        async with stdio_session(_params(store), tmp_path / "server.log") as s:
            for ns in ("alpha", "beta"):
                await call(s, "create_entities", namespace=ns,
                           entities=[_entity("Ada", f"{ns}-person", f"in {ns}"), _entity("Bob", "person")])
            await call(s, "create_entities", entities=[_entity("Ada", "default-person")])
            await call(s, "create_relations", namespace="alpha",
                       relations=[{"from": "Ada", "to": "Bob", "relationType": "knows"}])
            # Bob exists in beta, but not in the default namespace: the relation cannot cross.
            missing = await call_error(s, "create_relations", relations=[{"from": "Ada", "to": "Bob",
                                                                         "relationType": "knows"}])
            assert "Bob" in missing
            await call(s, "add_observations", namespace="beta",
                       observations=[{"entityName": "Ada", "contents": ["beta only"]}])

            alpha = await call(s, "read_graph", namespace="alpha")
            assert alpha == {"entities": [_entity("Ada", "alpha-person", "in alpha"), _entity("Bob", "person")],
                             "relations": [{"from": "Ada", "to": "Bob", "relationType": "knows"}]}
            beta = await call(s, "read_graph", namespace="beta")
            assert beta == {"entities": [_entity("Ada", "beta-person", "in beta", "beta only"),
                                         _entity("Bob", "person")], "relations": []}
            assert (await call(s, "read_graph"))["entities"] == [_entity("Ada", "default-person")]

            found = await call(s, "search_nodes", namespace="beta", query="only")
            assert [e["name"] for e in found["entities"]] == ["Ada"]
            assert (await call(s, "search_nodes", namespace="alpha", query="only"))["entities"] == []
            opened = await call(s, "open_nodes", namespace="alpha", names=["Ada", "Bob"])
            assert [e["entityType"] for e in opened["entities"]] == ["alpha-person", "person"]

            await call(s, "delete_entities", namespace="alpha", entityNames=["Ada"])
            assert [e["name"] for e in (await call(s, "read_graph", namespace="alpha"))["entities"]] == ["Bob"]
            assert len((await call(s, "read_graph", namespace="beta"))["entities"]) == 2  # untouched
            assert "namespace" in await call_error(s, "read_graph", namespace="")
            # graphmem's own tools take it too.
            near = await call(s, "neighbors", namespace="alpha", name="Bob")
            assert near is not None

    anyio.run(main)


def test_servers_of_different_namespaces_share_a_store_without_leaking(tmp_path: Path):
    """The first server holds the store; the second (another namespace) goes
    through it, and its calls must still land in its own namespace."""
    store = tmp_path / "store"

    async def main() -> None:
        async with stdio_session(_params(store, "team-a"), tmp_path / "a.log") as a:
            await call(a, "create_entities", entities=[_entity("Ada", "person", "from a")])
            async with stdio_session(_params(store, "team-b"), tmp_path / "b.log") as b:
                await call(b, "create_entities", entities=[_entity("Ada", "robot", "from b")])
                seen_by_b = await call(b, "read_graph")
                assert seen_by_b["entities"] == [_entity("Ada", "robot", "from b")]
                resource = (await b.read_resource("memory://knowledge-graph")).contents[0].text
                assert json.loads(resource)["entities"] == [_entity("Ada", "robot", "from b")]
                found = await call(b, "search_nodes", query="from")
                assert [e["entityType"] for e in found["entities"]] == ["robot"]
            assert (await call(a, "read_graph"))["entities"] == [_entity("Ada", "person", "from a")]
            # A call may still name another namespace explicitly.
            other = await call(a, "read_graph", namespace="team-b")
            assert other["entities"] == [_entity("Ada", "robot", "from b")]

    anyio.run(main)
