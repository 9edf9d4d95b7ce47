"""``graphmem mcp PATH --http HOST:PORT``: the MCP server over streamable HTTP,
driven by the SDK's own HTTP client against a real server process."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from graphmem.errors import InvalidInput, UnsafePath

from .mcp_client import ENGINE, call

pytest.importorskip("uvicorn", reason="the HTTP transport needs uvicorn (the 'mcp' extra)")
httpx2 = pytest.importorskip("httpx2", reason="the SDK's HTTP client needs httpx2 (the 'mcp' extra)")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from graphmem.mcp.http import TOKEN_FILE, parse_address, resolve_token  # noqa: E402

pytestmark = pytest.mark.engine

TOKEN = "t0ken-for-the-http-tests-0123456789"
GRAPH_URI = "memory://knowledge-graph"
STARTUP_S = 120  # the first import of the SDK and the store's open, on a loaded machine


@contextmanager
def http_server(store: Path, *, env: dict[str, str] | None = None,
                extra: tuple[str, ...] = ()) -> Iterator[tuple[subprocess.Popen[str], str]]:  # fmt: skip
    """A ``graphmem mcp --http 127.0.0.1:0`` process and its URL (read from its stderr)."""
    env = {**os.environ, "GRAPHMEM_MCP_TOKEN": TOKEN, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphmem", "--engine", ENGINE, "mcp", str(store), "--embedder", "none",
         "--http", "127.0.0.1:0", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        url, seen = None, []
        deadline = time.monotonic() + STARTUP_S
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            found = re.search(r"serving (http://\S+)", line)
            url = found.group(1) if found else None
        assert url is not None, f"the server did not start: {''.join(seen)}"
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@asynccontextmanager
async def http_session(url: str, *, token: str = TOKEN, notes: list[str] | None = None) -> AsyncIterator[ClientSession]:
    """An initialised SDK client session over streamable HTTP (notifications into ``notes``)."""

    async def record(message: Any) -> None:
        if notes is not None and getattr(message, "method", None) == "notifications/resources/updated":
            notes.append(str(message.params.uri))

    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                timeout=httpx2.Timeout(30, read=300))  # fmt: skip
    async with client, streamable_http_client(url, http_client=client) as (read, write):
        async with ClientSession(read, write, message_handler=record) as session:
            await session.initialize()
            yield session


async def _eventually(check: Any, what: str) -> None:
    """Notifications travel on their own stream: wait (bounded) for them to arrive."""
    with anyio.fail_after(30):
        while not check():
            await anyio.sleep(0.05)


def test_agents_share_one_http_server_and_are_notified_of_each_others_writes(tmp_path: Path):
    store = tmp_path / "store"

    async def main(url: str) -> None:
        notes: list[str] = []
        async with http_session(url) as writer, http_session(url, notes=notes) as watcher:
            await watcher.subscribe_resource(GRAPH_URI)
            created = await call(writer, "create_entities",
                                 entities=[{"name": "Ada", "entityType": "person", "observations": ["wrote"]}])
            assert [e["name"] for e in created["entities"]] == ["Ada"]
            await _eventually(lambda: notes == [GRAPH_URI], "a notice of the write")
            graph = await call(watcher, "read_graph")
            assert [(e["name"], e["observations"]) for e in graph["entities"]] == [("Ada", ["wrote"])]
            await call(writer, "create_relations", relations=[{"from": "Ada", "to": "Ada", "relationType": "knows"}])
            await _eventually(lambda: notes == [GRAPH_URI] * 2, "a notice of the second write")
            await watcher.unsubscribe_resource(GRAPH_URI)
            await call(writer, "add_observations", observations=[{"entityName": "Ada", "contents": ["more"]}])
            found = await call(watcher, "search_nodes", query="more")
            assert [e["name"] for e in found["entities"]] == ["Ada"]
            assert notes == [GRAPH_URI] * 2  # unsubscribed: no third notice

    with http_server(store) as (proc, url):
        assert url.startswith("http://127.0.0.1:")
        anyio.run(main, url)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    # The server closed the store on its way out: it opens again, with the writes.
    import graphmem

    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        assert mem.get_entity("Ada").observations == ("wrote", "more")


def test_requests_without_the_token_are_refused(tmp_path: Path):
    async def main(url: str) -> None:
        async with httpx2.AsyncClient() as client:
            for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
                response = await client.post(url, headers={**headers, "Content-Type": "application/json"},
                                             content=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')  # fmt: skip
                assert response.status_code == 401, headers
                assert response.headers["www-authenticate"].startswith("Bearer")
        with pytest.raises(BaseException):  # noqa: B017 - the SDK wraps the 401 in an exception group
            async with http_session(url, token="not-the-right-token-at-all"):
                pass

    with http_server(tmp_path / "store") as (proc, url):
        anyio.run(main, url)
        assert proc.poll() is None  # refusing requests did not stop the server
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert TOKEN not in err  # the token is never printed


def test_a_token_file_is_read_only_when_owner_only(tmp_path: Path):
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    token_file = tmp_path / "token"
    token_file.write_text("a-token-from-a-file-0123456789\n")
    token_file.chmod(0o644)
    with pytest.raises(UnsafePath, match="chmod 600"):
        resolve_token(store, token_file)
    token_file.chmod(0o600)
    assert resolve_token(store, token_file) == ("a-token-from-a-file-0123456789", f"the token file {token_file}")
    short = tmp_path / "short"
    short.write_text("abc\n")
    short.chmod(0o600)
    with pytest.raises(InvalidInput, match="shorter"):
        resolve_token(store, short)


def test_without_a_token_one_is_made_in_an_owner_only_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GRAPHMEM_MCP_TOKEN", raising=False)
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    token, source = resolve_token(store, None)
    path = store / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(token) >= 32
    assert source == f"the token file {path}"
    assert resolve_token(store, None)[0] == token  # kept: agents configured with it keep working

    async def main(url: str) -> None:
        async with http_session(url, token=token) as session:
            assert (await call(session, "read_graph"))["entities"] == []

    with http_server(store, env={"GRAPHMEM_MCP_TOKEN": ""}) as (proc, url):
        anyio.run(main, url)


@pytest.mark.parametrize("address", ["0.0.0.0:8765", "192.168.1.5:80", "example.com:80", "[::]:1"])
def test_only_loopback_addresses_are_served(tmp_path: Path, address: str):
    with pytest.raises(InvalidInput, match="loopback"):
        parse_address(address)
    done = subprocess.run(
        [sys.executable, "-m", "graphmem", "--engine", ENGINE, "mcp", str(tmp_path / "store"), "--embedder", "none",
         "--http", address], capture_output=True, text=True, timeout=120, env={**os.environ, "GRAPHMEM_MCP_TOKEN": TOKEN},
    )  # fmt: skip
    assert done.returncode != 0 and "loopback" in done.stderr
    assert not (tmp_path / "store").exists()  # refused before anything was created


@pytest.mark.parametrize("address", ["8765", "127.0.0.1", "127.0.0.1:99999", ":80"])
def test_malformed_addresses_are_refused(address: str):
    with pytest.raises(InvalidInput, match="HOST:PORT|port"):
        parse_address(address)


def test_the_warm_up_runs_once_after_the_first_tools_list(tmp_path: Path):
    """The embedding model starts loading once the client has listed the tools
    (and the in-memory indexes are loaded), not before the first answer (and only once)."""
    import threading

    from mcp.client.client import Client

    import graphmem
    from graphmem.mcp.server import build_server
    from graphmem.mcp.share import Shared

    calls: list[int] = []
    called = threading.Event()
    shared = Shared(tmp_path / "store", lambda: graphmem.open(tmp_path / "store", engine=ENGINE, embedder=None))
    shared.start()
    try:
        server = build_server(shared, warm_up=lambda: (calls.append(1), called.set()))

        async def main() -> None:
            async with Client(server) as client:
                assert calls == []  # initialised: nothing started yet
                await client.list_tools()
                await client.list_tools()
                assert await anyio.to_thread.run_sync(called.wait, 60)
                await client.list_tools()
                assert calls == [1]

        anyio.run(main)
    finally:
        shared.close(save_index=False)
