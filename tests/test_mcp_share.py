"""Several ``graphmem mcp`` servers on one store: the holder serves the others
over its socket; a kill -9 of the holder loses nothing acknowledged and applies
no write twice. Also the request-id log itself, in-process."""

from __future__ import annotations

import os
import signal
import stat
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest

import graphmem
from tests.mcp_client import call, mcp_session

pytestmark = pytest.mark.engine


def entity(name: str, *observations: str) -> dict:
    return {"name": name, "entityType": "thing", "observations": list(observations)}


def test_three_servers_one_store_and_a_kill_9_of_the_holder(tmp_path: Path):
    store = tmp_path / "store"
    pids = [tmp_path / f"server{i}.pid" for i in range(3)]
    acked: dict[str, object] = {}

    async def writes(session, tag: str, count: int) -> None:
        """``count`` writes, two kinds, each reporting exactly its own change
        unless it was applied twice (a second application reports nothing new)."""

        async def one(i: int) -> None:
            key = f"{tag}{i}"
            if i % 2:
                acked[key] = await call(session, "create_entities", entities=[entity(key, f"made by {tag}")])
            else:
                acked[key] = await call(session, "add_observations", observations=[
                    {"entityName": "hub", "contents": [key]}])  # fmt: skip

        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(one, i)

    async def main():
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(mcp_session(store, pidfile=pids[0]))
            await call(a, "create_entities", entities=[entity("hub")])  # a holds the store from here on
            b = await stack.enter_async_context(mcp_session(store, pidfile=pids[1]))
            c = await stack.enter_async_context(mcp_session(store, pidfile=pids[2]))
            sock = store / "mcp.sock"
            assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600

            # Parallel calls from all three.
            async with anyio.create_task_group() as tg:
                for session, tag in ((a, "a"), (b, "b"), (c, "c")):
                    tg.start_soon(writes, session, tag, 10)

            # kill -9 of the holder while the two others write through it.
            async def kill_holder() -> None:
                # Once the first of these writes is through, the rest are in flight.
                while not any(key[0] in "BC" for key in acked):
                    await anyio.sleep(0.001)
                os.kill(int(pids[0].read_text()), signal.SIGKILL)

            async with anyio.create_task_group() as tg:
                tg.start_soon(writes, b, "B", 16)
                tg.start_soon(writes, c, "C", 16)
                tg.start_soon(kill_holder)

            graph_b, graph_c = await call(b, "read_graph"), await call(c, "read_graph")
            assert graph_b == graph_c
            # One of b and c took the store over and serves the other on a new socket.
            assert stat.S_IMODE(sock.stat().st_mode) == 0o600
            logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
            assert logs.count("holding the store") == 2
            names = {e["name"] for e in graph_b["entities"]}
            hub = next(e for e in graph_b["entities"] if e["name"] == "hub")
            assert len(hub["observations"]) == len(set(hub["observations"]))
            for key, result in acked.items():
                if "entities" in result:  # created once, and reported as created
                    assert result == {"entities": [entity(key, f"made by {key.rstrip('0123456789')}")]}, key
                    assert key in names, f"acknowledged {key} was lost"
                else:
                    assert result == {"results": [{"entityName": "hub", "addedObservations": [key]}]}, key
                    assert key in hub["observations"], f"acknowledged {key} was lost"
            assert len(acked) == 30 + 32

            # The holder's exit (here: b's client hangs up) hands the store on again.
            await stack.aclose()

    anyio.run(main)

    async def after():
        async with mcp_session(store) as d:
            graph = await call(d, "read_graph")
            assert len(graph["entities"]) == 1 + 15 + 16  # hub, 5 per client before the kill, 8 each after

    anyio.run(after)


def test_a_retried_write_applies_once_on_a_new_holder(tmp_path: Path, open_store):
    from graphmem.memory.requests import LOG_PREFIX, new_request_id
    from graphmem.mcp.tools import Tools

    path = tmp_path / "store"
    mem = open_store(path, embedder=graphmem.HashEmbedder())
    tools = Tools(mem)
    tools.call("create_entities", {"entities": [entity("hub", "old")]})
    rid_add, rid_del, rid_new = new_request_id(), new_request_id(), new_request_id()
    first_add = tools.call("add_observations", {"observations": [{"entityName": "hub", "contents": ["x"]}]}, rid_add)
    first_del = tools.call("delete_observations", {"deletions": [{"entityName": "hub", "observations": ["old"]}]},
                           rid_del)  # fmt: skip
    first_new = tools.call("create_entities", {"entities": [entity("n1")]}, rid_new)
    mem.close()

    # Another process takes over and the caller retries with the same ids.
    mem = open_store(path, embedder=graphmem.HashEmbedder())
    tools = Tools(mem)
    tools.call("add_observations", {"observations": [{"entityName": "hub", "contents": ["old"]}]})
    assert tools.call("add_observations", {"observations": [{"entityName": "hub", "contents": ["x"]}]},
                      rid_add) == first_add  # fmt: skip
    assert tools.call("delete_observations", {"deletions": [{"entityName": "hub", "observations": ["old"]}]},
                      rid_del) == first_del  # fmt: skip
    assert tools.call("create_entities", {"entities": [entity("n1")]}, rid_new) == first_new
    assert first_new.structured == {"entities": [entity("n1")]}
    # "old" came back after the delete and the replayed delete did not remove it again.
    assert mem.get_entity("hub").observations == ("x", "old")
    assert len(mem.cypher("MATCH (m:Meta) WHERE starts_with(m.key, $p) RETURN m.key", {"p": LOG_PREFIX})) == 3

    # Pruned ids are forgotten; a malformed id is refused.
    assert tools.atomic.prune(older_than=0) == 3
    again = tools.call("delete_observations", {"deletions": [{"entityName": "hub", "observations": ["old"]}]}, rid_del)
    assert again.structured["message"] == "Observations deleted successfully" and mem.get_entity("hub").observations == ("x",)
    assert tools.call("delete_entities", {"entityNames": ["hub"]}, "not-an-id").is_error


def test_a_failed_call_writes_nothing_and_records_nothing(tmp_path: Path, open_store):
    from graphmem.memory.requests import new_request_id
    from graphmem.mcp.tools import Tools

    mem = open_store(tmp_path / "store", embedder=graphmem.HashEmbedder())
    tools = Tools(mem)
    tools.call("create_entities", {"entities": [entity("a"), entity("b")]})
    tools.call("create_relations", {"relations": [{"from": "a", "to": "b", "relationType": "r"}]})
    rid = new_request_id()
    bad = tools.call("create_entities", {"entities": [entity("c"), entity("")]}, rid)
    assert bad.is_error and mem.get_entity("c") is None
    # One transaction for several deletes: both go, with the relation between them.
    assert tools.call("delete_entities", {"entityNames": ["a", "b", "a"]}, rid).structured["success"]
    assert len(mem) == 0 and list(mem.iter_relations()) == []


def test_subscribers_hear_of_writes_made_through_any_server(tmp_path: Path):
    """A subscriber on any server sharing the store is told of every write,
    also across a takeover (a follower re-attached to the new holder)."""
    import warnings

    store = tmp_path / "store"
    notes: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    def recorder(tag: str):
        async def record(message) -> None:
            if getattr(message, "method", None) == "notifications/resources/updated":
                notes[tag].append(str(message.params.uri))

        return record

    async def heard(tag: str, count: int) -> None:
        # The notice travels holder -> follower -> client on its own; the bound
        # only keeps a broken build from hanging the suite.
        with anyio.fail_after(60):
            while len(notes[tag]) < count:
                await anyio.sleep(0.02)

    async def main():
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(mcp_session(store, pidfile=tmp_path / "a.pid",
                                                            message_handler=recorder("a")))  # fmt: skip
            await call(a, "create_entities", entities=[entity("hub")])  # a holds the store from here on
            b = await stack.enter_async_context(mcp_session(store, message_handler=recorder("b")))
            c = await stack.enter_async_context(mcp_session(store, message_handler=recorder("c")))
            with warnings.catch_warnings():  # deprecated for the 2026-07-28 protocol only
                warnings.simplefilter("ignore")
                for session in (a, b, c):
                    await session.subscribe_resource("memory://knowledge-graph")

            await call(b, "add_observations", observations=[{"entityName": "hub", "contents": ["from b"]}])
            assert len(notes["b"]) == 1  # its own write: before the answer
            await heard("a", 1)
            await heard("c", 1)
            await call(a, "create_entities", entities=[entity("from a")])
            assert len(notes["a"]) == 2
            await heard("b", 2)
            await heard("c", 2)
            # A failed write changes nothing and notifies no one.
            assert (await c.call_tool("add_observations", {"observations": [
                {"entityName": "Nobody", "contents": ["x"]}]})).is_error  # fmt: skip
            assert len(notes["c"]) == 2

            # The holder stops; c takes over at its next write, and b, now
            # watching c, hears of it.
            before = len(notes["b"])
            os.kill(int((tmp_path / "a.pid").read_text()), signal.SIGTERM)
            await call(c, "create_entities", entities=[entity("from c")])
            await heard("b", before + 1)
            names = {e["name"] for e in (await call(b, "read_graph"))["entities"]}
            assert names == {"hub", "from a", "from c"}

    anyio.run(main)
