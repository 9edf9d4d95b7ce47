"""graphmem's stdio JSON-RPC layer (graphmem.mcp.protocol) against hostile or broken clients.

Each test names a way a client (or a handler's bug) could make the server
hold memory without bound, end the session, or hang at the end of input,
and checks graphmem does what the MCP SDK's lowlevel server does instead
(the SDK is run on the same messages where its answer is compared).
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc
from datetime import date
from decimal import Decimal
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


# -- 2. a result that cannot be written -------------------------------------------------


class _Returning(_SlowSdkHandlers):
    """Handlers whose tool call returns ``structured`` as its structured content (a handler's bug)."""

    def __init__(self, structured: Any, text: str = "t") -> None:
        super().__init__()
        self.structured = structured
        self.text = text

    async def call_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": self.text}], "structuredContent": {"x": self.structured},
                "isError": False}  # fmt: skip


async def _ours(handlers: Any, lines: list[str], answers: int) -> list[dict[str, Any]]:
    """The first ``answers`` answers of graphmem's session to ``lines``, then EOF: the session must end."""
    wire = _Wire()
    got = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(protocol.Session(handlers, wire).run)
        for line in lines:
            await wire.send_in.send(line.encode() + b"\n")
        for _ in range(answers):
            got.append(json.loads(await wire.recv_out.receive()))
        await wire.send_in.send(None)
    return got


async def _sdks(handlers: Any, lines: list[str], answers: int) -> list[dict[str, Any]]:
    """The first ``answers`` answers of the SDK's server (answering from the same handlers) to ``lines``."""
    from graphmem.mcp.server import sdk_server

    server = sdk_server(handlers)
    send_in, recv_in = anyio.create_memory_object_stream[Any](100)
    send_out, recv_out = anyio.create_memory_object_stream[Any](100)
    got = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.run, recv_in, send_out, server.create_initialization_options())
        for line in lines:
            await send_in.send(SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)))
        for _ in range(answers):
            message = (await recv_out.receive()).message
            got.append(json.loads(type(message).__pydantic_serializer__.to_json(message, by_alias=True,
                                                                                 exclude_unset=True)))  # fmt: skip
        tg.cancel_scope.cancel()
    return got


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


_UNWRITABLE = {"an unknown type": object(), "a cycle": _cycle(), "nesting past any parser": _deep(3000),
               "bytes not UTF-8": b"\xff", "a large answer's unknown type": object()}  # fmt: skip
_WRITABLE_BY_PYDANTIC = {"a set": {1, 2}, "a date": date(2024, 1, 2), "a decimal": Decimal("1.5"),
                         "a tuple key": {(1, 2): 3}, "NaN": float("nan")}  # fmt: skip


@pytest.mark.parametrize("case", [*_UNWRITABLE, *_WRITABLE_BY_PYDANTIC])
def test_a_result_json_cannot_write_is_answered_as_the_sdk_answers_it(case: str) -> None:
    """The SDK dumps a result (pydantic's JSON mode) while handling its request: a value it cannot
    write is that request's error (code 0, the error's text), and the session goes on."""
    value = {**_UNWRITABLE, **_WRITABLE_BY_PYDANTIC}[case]
    text = "x" * (protocol.LARGE + 1) if case.startswith("a large") else "t"
    lines = [_init("2025-06-18", 1), _INITIALIZED, _call(2), '{"jsonrpc":"2.0","id":3,"method":"ping"}']
    ours = anyio.run(_ours, _Returning(value, text), lines, 3)
    theirs = anyio.run(_sdks, _Returning(value, text), lines, 3)
    assert sorted(ours[1:], key=lambda a: a["id"]) == sorted(theirs[1:], key=lambda a: a["id"])
    by_id = {answer["id"]: answer for answer in ours}
    assert by_id[3] == {"jsonrpc": "2.0", "id": 3, "result": {}}  # the session went on
    assert ("error" in by_id[2]) == (case in _UNWRITABLE)
    if case in _UNWRITABLE:
        assert by_id[2]["error"]["code"] == 0 and by_id[2]["error"]["message"]


@pytest.mark.parametrize("value", [{1, 2}, _cycle(), _deep(3000), float("inf")])
def test_without_pydantic_a_result_json_cannot_write_is_still_that_requests_error(
        value: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "pydantic_core", None)  # importing it raises ImportError
    request = protocol.Request(4, "tools/call", {"name": "t"})
    line = protocol._written(request, {"jsonrpc": "2.0", "id": 4, "result": {"structuredContent": {"x": value}}})
    answer = json.loads(line)
    if isinstance(value, float):  # JSON cannot carry an infinity: null, as pydantic writes it
        assert answer["result"]["structuredContent"] == {"x": None}
    else:
        assert answer["id"] == 4 and answer["error"]["code"] == 0
