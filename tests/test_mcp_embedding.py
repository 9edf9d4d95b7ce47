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
            # The restart embeds the three in the background; a search by meaning
            # does not wait for them (they predate this server) but says how many are left.
            for _ in range(1200):
                hits = await call(session, "semantic_search", query="quiet harbour", limit=3)
                if "notYetEmbedded" not in hits:
                    break
                assert 1 <= hits["notYetEmbedded"] <= 3
                await anyio.sleep(0.1)
            else:
                pytest.fail("the restarted server never embedded the three entities")
            assert hits["results"][0]["name"] == "harbour-master"
            hits = await call(session, "semantic_search", query="rye loaves", limit=3)
            assert hits["results"][0]["name"] == "baker"
            graph = await call(session, "read_graph")
            assert {e["name"] for e in graph["entities"]} == {e["name"] for e in ENTITIES}

    anyio.run(second)
    assert _unembedded(store) == 0


def test_the_first_answers_do_not_wait_for_the_model_and_writes_meanwhile_get_their_vectors(tmp_path: Path) -> None:
    """A server whose model cannot load yet (``GatedEmbedder``: held until the
    warm-up lets it, then its load blocks until the test sets ``loaded``)
    answers initialize, tools/list, search_nodes and a write; semantic_search
    waits for the model and then finds both the write and what the store held
    without a vector before the start."""
    from mcp.client.client import Client

    from graphmem.mcp.server import build_server
    from graphmem.mcp.share import Shared
    from tests.test_backlog import GatedEmbedder

    store = tmp_path / "store"
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": e["name"], "type": e["entityType"], "observations": e["observations"]}
                          for e in ENTITIES])  # fmt: skip
    gated = GatedEmbedder(dim=64)
    shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=gated, background_embedding=True))
    shared.start()

    def unembedded() -> int:  # through the server's own memory (one open per path per process)
        rows = shared._holder.mem.cypher(  # type: ignore[union-attr]
            "MATCH (e:Entity) WHERE e.expired_at IS NULL AND e.embedding IS NULL RETURN count(*) AS n")
        return int(rows[0]["n"])

    try:
        server = build_server(shared, warm_up=gated.allow_loading)

        async def main() -> None:
            async with Client(server) as client:  # initialize answered
                await client.list_tools()  # the warm-up: the model may load (and blocks)
                found = (await client.call_tool("search_nodes", {"query": "harbour"})).structured_content
                assert [e["name"] for e in found["entities"]] == ["harbour-master"]
                made = {"name": "ferry", "entityType": "boat", "observations": ["crosses the quiet harbour"]}
                written = await client.call_tool("create_entities", {"entities": [made]})
                assert written.structured_content == {"entities": [made]}
                assert unembedded() == 4  # answered with the model still loading
                results: list[list[str]] = []

                async def semantic() -> None:
                    hits = await client.call_tool("semantic_search", {"query": "crosses the quiet harbour"})
                    results.append([h["name"] for h in hits.structured_content["results"]])

                async with anyio.create_task_group() as tg:
                    tg.start_soon(semantic)
                    await anyio.sleep(0.2)
                    assert results == []  # it waits for the model and for what is being embedded
                    gated.loaded.set()
                assert results[0][0] == "ferry"
                hits = await client.call_tool("semantic_search", {"query": "bakes rye bread at dawn", "limit": 1})
                assert [h["name"] for h in hits.structured_content["results"]] == ["baker"]

        anyio.run(main)
        assert shared._holder.mem.wait_embedded()  # type: ignore[union-attr]
        assert unembedded() == 0
    finally:
        gated.loaded.set()
        shared.close(save_index=False)


def test_a_search_by_meaning_does_not_wait_for_a_stores_backlog_and_says_what_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store filled without the model: the server's embedding thread is held
    (the FIFO), so none of its entities gets a vector; semantic_search still
    answers at once, with the count of entities it cannot find yet."""
    store = tmp_path / "store"
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": e["name"], "type": e["entityType"], "observations": e["observations"]}
                          for e in ENTITIES])  # fmt: skip
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    pid = tmp_path / "server.pid"
    monkeypatch.setenv(HOLD_ENV, str(fifo))

    async def main() -> None:
        async with mcp_session(store, pidfile=pid) as session:
            hits = await call(session, "semantic_search", query="quiet harbour", limit=3)
            assert hits["notYetEmbedded"] == 3
            assert hits["results"] == []  # no entity has a vector yet
            os.kill(int(pid.read_text()), signal.SIGKILL)

    anyio.run(main)
