"""``graphmem mcp`` answers writes once they commit and embeds in the background
(graphmem/backlog.py): reads never wait for the model, ``semantic_search``
finds the caller's writes, and a kill -9 before the embedding loses no vector
(the next start embeds the entities the store holds without one).

The embedding is held, not raced: ``GRAPHMEM_TEST_HOLD_EMBEDDING`` names a FIFO
the server's embedding thread opens before each batch, which blocks until a
writer opens it; nobody does, so the kill comes with the writes committed and
not embedded, whatever the machine's load.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest

import graphmem
from graphmem.memory.backlog import HOLD_ENV
from tests.mcp_client import ENGINE, call, mcp_session

pytestmark = pytest.mark.engine

ENTITIES = [
    {"name": "harbour-master", "entityType": "person", "observations": ["watches the quiet harbour"]},
    {"name": "baker", "entityType": "person", "observations": ["bakes rye bread at dawn"]},
    {"name": "lighthouse", "entityType": "place", "observations": ["guides ships past the reef"]},
]


def _unembedded(store: Path) -> int:
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        rows = mem.cypher("MATCH (e:Entity) WHERE e.expired_at IS NULL AND e.embedding IS NULL RETURN count(*) AS n")
        return int(rows[0]["n"])


def test_kill_9_before_the_embedding_then_the_next_start_embeds_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    pid = tmp_path / "server.pid"
    monkeypatch.setenv(HOLD_ENV, str(fifo))

    async def first() -> None:
        async with mcp_session(store, pidfile=pid) as session:
            assert await call(session, "create_entities", entities=ENTITIES) == {"entities": ENTITIES}
            added = await call(session, "add_observations",
                               observations=[{"entityName": "baker", "contents": ["sells rye loaves"]}])  # fmt: skip
            assert added == {"results": [{"entityName": "baker", "addedObservations": ["sells rye loaves"]}]}
            # Answered while the embedding thread is held: no read waits for the model.
            found = await call(session, "search_nodes", query="harbour")
            assert [e["name"] for e in found["entities"]] == ["harbour-master"]
            opened = await call(session, "open_nodes", names=["baker"])
            assert opened["entities"][0]["observations"] == ["bakes rye bread at dawn", "sells rye loaves"]
            assert len((await call(session, "read_graph"))["entities"]) == 3
            os.kill(int(pid.read_text()), signal.SIGKILL)

    anyio.run(first)
    # Committed, acknowledged, and never embedded.
    assert _unembedded(store) == 3

    monkeypatch.delenv(HOLD_ENV)

    async def second() -> None:
        async with mcp_session(store) as session:
            hits = await call(session, "semantic_search", query="quiet harbour", limit=3)
            assert hits["results"][0]["name"] == "harbour-master"
            hits = await call(session, "semantic_search", query="rye loaves", limit=3)
            assert hits["results"][0]["name"] == "baker"
            graph = await call(session, "read_graph")
            assert {e["name"] for e in graph["entities"]} == {e["name"] for e in ENTITIES}

    anyio.run(second)
    assert _unembedded(store) == 0
