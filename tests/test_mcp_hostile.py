"""graphmem's stdio JSON-RPC layer (graphmem.mcp.protocol) against hostile or broken clients.

Each test names a way a client (or a handler's bug) could make the server
hold memory without bound, end the session, or hang at the end of input,
and checks graphmem does what the MCP SDK's lowlevel server does instead
(the SDK is run on the same messages where its answer is compared).
"""

from __future__ import annotations

import json
import os
import tracemalloc
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp.types", reason="the comparisons need the 'mcp' extra")

import mcp.types as mcp_types  # noqa: E402
from mcp.shared.message import SessionMessage  # noqa: E402

from graphmem.mcp import protocol  # noqa: E402
from tests.test_mcp_protocol import _init, _SlowSdkHandlers, _Wire  # noqa: E402

_INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}'
_ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
             "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
             "io.modelcontextprotocol/clientCapabilities": {}}  # fmt: skip


def _call(request_id: Any, name: str = "t", *, modern: bool = False) -> str:
    params: dict[str, Any] = {"name": name}
    if modern:
        params["_meta"] = _ENVELOPE
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})


# -- 1. lines before the first request -------------------------------------------------


class _Flood:
    """A wire whose client sends ``count`` notifications of ``size`` bytes before any request,
    each made when read (so only what the session keeps stays in memory), then a ping and EOF;
    the memory traced is sampled once the flood has been read."""

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.padding = "x" * size
        self.sent = 0
        self.held: int | None = None  # bytes traced once the flood has been read
        self.answers: list[dict[str, Any]] = []
        self.broken = False

    async def next_line(self) -> bytes | None:
        if self.sent < self.count:
            self.sent += 1
            note = {"jsonrpc": "2.0", "method": "notifications/x", "params": {"n": self.sent, "pad": self.padding}}
            return json.dumps(note).encode() + b"\n"
        if self.held is None:
            self.held = tracemalloc.get_traced_memory()[0]
            return b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
        return None

    async def send(self, data: bytes) -> None:
        self.answers.append(json.loads(data))


def test_lines_before_the_first_request_are_not_all_kept() -> None:
    """A client that floods notifications before its first request: the session keeps at most
    the SDK's few (PRE_REQUEST_LIMIT), so memory does not grow with the flood (40 MB sent here)."""
    wire = _Flood(count=4000, size=10_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        anyio.run(protocol.Session(_SlowSdkHandlers(), wire).run)  # type: ignore[arg-type]
    finally:
        tracemalloc.stop()
    assert wire.answers == [{"jsonrpc": "2.0", "id": 1, "result": {}}]  # still served after the flood
    assert wire.held is not None
    kept = wire.held - before
    assert kept < (protocol.PRE_REQUEST_LIMIT + 8) * 10_000  # the lines kept, not the 40 MB read


@pytest.mark.engine
@pytest.mark.parametrize("junk", [protocol.PRE_REQUEST_LIMIT - 1, protocol.PRE_REQUEST_LIMIT])
def test_the_lines_kept_before_the_first_request_are_the_sdks(junk: int) -> None:
    """A bare notifications/initialized counts (lets a request in without initialize) only if it is
    among the first PRE_REQUEST_LIMIT lines, as on the SDK."""
    from tests.test_mcp_protocol import _through_protocol, _through_sdk

    lines = ["not json"] * junk + [_INITIALIZED, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}']
    ours, theirs = _through_protocol(lines), _through_sdk(lines)
    assert ours == theirs
    assert ("error" in ours[-1][0]) == (junk >= protocol.PRE_REQUEST_LIMIT)
