"""A scripted session of the reference memory server's tools, replayed on
``graphmem mcp`` and on a model of the reference's semantics (written from
modelcontextprotocol/servers ``src/memory``): same results, same graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.mcp_client import mcp_session

pytestmark = pytest.mark.engine


class ReferenceGraph:
    """The reference server's behaviour on an in-memory graph (its JSONL file)."""

    def __init__(self) -> None:
        self.entities: list[dict[str, Any]] = []
        self.relations: list[dict[str, Any]] = []

    def _find(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.entities if e["name"] == name), None)

    def create_entities(self, entities):
        new = [e for i, e in enumerate(entities)
               if self._find(e["name"]) is None and all(p["name"] != e["name"] for p in entities[:i])]  # fmt: skip
        self.entities += [{**e, "observations": list(e["observations"])} for e in new]
        return {"entities": new}

    def create_relations(self, relations):
        for r in relations:
            for end in (r["from"], r["to"]):
                if self._find(end) is None:
                    raise LookupError(f"Entity with name {end} not found")
        new = [r for i, r in enumerate(relations) if r not in self.relations and r not in relations[:i]]
        self.relations += new
        return {"relations": new}

    def add_observations(self, observations):
        for o in observations:
            if self._find(o["entityName"]) is None:
                raise LookupError(f"Entity with name {o['entityName']} not found")
        results = []
        for o in observations:
            entity = self._find(o["entityName"])
            added = [c for c in o["contents"] if c not in entity["observations"]]
            entity["observations"] += added
            results.append({"entityName": o["entityName"], "addedObservations": added})
        return {"results": results}

    def delete_entities(self, entityNames):
        deleted = [n for n in entityNames if self._find(n) is not None]
        missing = [n for n in entityNames if self._find(n) is None]
        self.entities = [e for e in self.entities if e["name"] not in entityNames]
        self.relations = [r for r in self.relations if r["from"] not in entityNames and r["to"] not in entityNames]
        message = ("Entities deleted successfully" if not missing
                   else f"Deleted {len(deleted)} of {len(entityNames)} entities. Not found: {', '.join(missing)}")
        return {"success": True, "message": message}

    def delete_observations(self, deletions):
        count, missing = 0, []
        for d in deletions:
            entity = self._find(d["entityName"])
            if entity is None:
                missing.append(d["entityName"])
                continue
            before = len(entity["observations"])
            entity["observations"] = [o for o in entity["observations"] if o not in d["observations"]]
            count += before - len(entity["observations"])
        requested = sum(len(d["observations"]) for d in deletions)
        message = "Observations deleted successfully" if count == requested else (
            f"Deleted {count} of {requested} observations."
            + (f" Entities not found: {', '.join(missing)}" if missing else ""))
        return {"success": True, "message": message}

    def delete_relations(self, relations):
        before = len(self.relations)
        self.relations = [r for r in self.relations if r not in relations]
        count = before - len(self.relations)
        message = ("Relations deleted successfully" if count == len(relations)
                   else f"Deleted {count} of {len(relations)} relations. The rest matched nothing.")
        return {"success": True, "message": message}

    def _subgraph(self, entities):
        names = {e["name"] for e in entities}
        return {"entities": entities, "relations": [r for r in self.relations if r["from"] in names or r["to"] in names]}

    def read_graph(self):
        return {"entities": self.entities, "relations": self.relations}

    def search_nodes(self, query):
        q = query.lower()
        return self._subgraph([e for e in self.entities if q in e["name"].lower() or q in e["entityType"].lower()
                               or any(q in o.lower() for o in e["observations"])])  # fmt: skip

    def open_nodes(self, names):
        return self._subgraph([e for e in self.entities if e["name"] in names])


def E(name, kind, *obs):  # noqa: N802 - reads like the records it builds
    return {"name": name, "entityType": kind, "observations": list(obs)}


def R(source, kind, target):  # noqa: N802
    return {"from": source, "to": target, "relationType": kind}


SESSION: list[tuple[str, dict[str, Any]]] = [
    ("create_entities", {"entities": [E("John_Smith", "person", "Speaks fluent Spanish", "Graduated in 2019"),
                                      E("Anthropic", "organization", "AI safety company"),
                                      E("Rust", "Programming Language", "memory safe")]}),
    ("create_entities", {"entities": [E("John_Smith", "robot"), E("Mary", "person"), E("Mary", "cat")]}),
    ("create_relations", {"relations": [R("John_Smith", "works_at", "Anthropic"), R("Mary", "works at", "Anthropic"),
                                        R("John_Smith", "knows", "Mary"), R("John_Smith", "knows", "Mary")]}),
    ("create_relations", {"relations": [R("John_Smith", "works_at", "Anthropic"), R("Mary", "likes", "Rust")]}),
    ("create_relations", {"relations": [R("Mary", "knows", "Ghost")]}),
    ("add_observations", {"observations": [{"entityName": "John_Smith", "contents": ["Likes Rust", "Speaks fluent Spanish"]},
                                           {"entityName": "Mary", "contents": ["Prefers tea"]},
                                           {"entityName": "John_Smith", "contents": ["Likes Rust", "Rides a bike"]}]}),
    ("add_observations", {"observations": [{"entityName": "Mary", "contents": ["x"]},
                                           {"entityName": "Nobody", "contents": ["y"]}]}),
    ("search_nodes", {"query": "rust"}),
    ("search_nodes", {"query": "ORGANIZATION"}),
    ("open_nodes", {"names": ["Mary", "Nobody"]}),
    ("delete_observations", {"deletions": [{"entityName": "John_Smith", "observations": ["Graduated in 2019"]},
                                           {"entityName": "Mary", "observations": ["never said"]},
                                           {"entityName": "Nobody", "observations": ["z"]}]}),
    ("delete_relations", {"relations": [R("John_Smith", "knows", "Mary"), R("Mary", "knows", "John_Smith")]}),
    ("delete_relations", {"relations": [R("Mary", "works at", "Anthropic")]}),
    ("create_entities", {"entities": [E("Temp", "note", "to be removed")]}),
    ("create_relations", {"relations": [R("Temp", "mentions", "Rust"), R("Anthropic", "uses", "Temp")]}),
    ("delete_entities", {"entityNames": ["Temp", "Ghost"]}),
    ("delete_entities", {"entityNames": ["Rust"]}),
    ("read_graph", {}),
]  # fmt: skip


def _canonical(graph: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Order-free form: the reference lists relations in creation order, graphmem by endpoints."""
    return sorted(json.dumps(e, sort_keys=True) for e in graph["entities"]), sorted(
        json.dumps(r, sort_keys=True) for r in graph["relations"])


def test_replay_of_a_reference_session(tmp_path: Path):
    reference = ReferenceGraph()

    async def main():
        async with mcp_session(tmp_path / "store") as s:
            for step, (tool, args) in enumerate(SESSION):
                try:
                    expected, error = getattr(reference, tool)(**args), None
                except LookupError as exc:
                    expected, error = None, str(exc)
                result = await s.call_tool(tool, args)
                where = f"step {step} ({tool})"
                if error is not None:
                    assert result.is_error and error in result.content[0].text, where
                    continue
                assert not result.is_error, f"{where}: {result.content[0].text}"
                got = result.structured_content
                if tool == "search_nodes":
                    # graphmem adds semantic neighbours to the substring matches.
                    ents, rels = _canonical(got)
                    want_ents, want_rels = _canonical(expected)
                    assert set(want_ents) <= set(ents) and set(want_rels) <= set(rels), where
                elif tool in ("open_nodes", "read_graph"):
                    assert _canonical(got) == _canonical(expected), where
                else:
                    assert got == expected, where
            final = await s.call_tool("read_graph", {})
            assert _canonical(final.structured_content) == _canonical(reference.read_graph())

    anyio.run(main)
