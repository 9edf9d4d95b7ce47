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
from collections.abc import Awaitable, Callable
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


async def _sdks(handlers: Any, lines: list[str], answers: int, *,
                before: Callable[[], Awaitable[None]] | None = None, no_more: bool = False) -> list[dict[str, Any]]:
    """The first ``answers`` answers of the SDK's server (answering from the same handlers) to
    ``lines``, ``before`` awaited once the lines are sent; with ``no_more``, a further answer
    within 0.5 s is kept as ``{"unexpected": ...}``."""
    from graphmem.mcp.server import sdk_server

    server = sdk_server(handlers)
    send_in, recv_in = anyio.create_memory_object_stream[Any](100)
    send_out, recv_out = anyio.create_memory_object_stream[Any](100)
    got = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.run, recv_in, send_out, server.create_initialization_options())
        for line in lines:
            await send_in.send(SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)))
        if before is not None:
            await before()
        for _ in range(answers):
            message = (await recv_out.receive()).message
            got.append(json.loads(type(message).__pydantic_serializer__.to_json(message, by_alias=True,
                                                                                 exclude_unset=True)))  # fmt: skip
        if no_more:
            with anyio.move_on_after(0.5):  # (only to show no further answer comes)
                message = (await recv_out.receive()).message
                got.append({"unexpected": str(message)})
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


# -- 3. two requests in flight with one id --------------------------------------------


class _Gate(_SlowSdkHandlers):
    """Handlers whose tool calls each wait until released (in the order they started: :meth:`release_next`),
    each answering its ``tag`` argument."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.gates = [anyio.Event() for _ in range(calls)]
        self.calls = 0
        self.released = 0
        self.all_started = anyio.Event()

    async def call_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        gate = self.gates[self.calls]
        self.calls += 1
        if self.calls == len(self.gates):
            self.all_started.set()
        await gate.wait()
        return {"content": [{"type": "text", "text": str((arguments or {}).get("tag"))}], "isError": False,
                "resultType": "complete"}  # fmt: skip

    def release_next(self) -> None:
        self.gates[self.released].set()
        self.released += 1


def _tagged(request_id: Any, tag: str, *, modern: bool = False) -> str:
    message = json.loads(_call(request_id, modern=modern))
    message["params"]["arguments"] = {"tag": tag}
    return json.dumps(message)


_CANCEL_5 = '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}'


async def _ours_at_eof(lines: list[str], calls: int, answers: int) -> tuple[bool, list[dict[str, Any]]]:
    """graphmem's session given ``lines``, then (``calls`` calls running) EOF, then the calls released:
    whether it ended, and its answers."""
    wire, handlers = _Wire(), _Gate(calls)
    ended = anyio.Event()
    got = []

    async def run() -> None:
        await protocol.Session(handlers, wire).run()  # type: ignore[arg-type]
        ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        for line in lines:
            await wire.send_in.send(line.encode() + b"\n")
            if line == _CANCEL_5:
                await anyio.sleep(0)  # (the cancel is a notification: nothing answers it to wait for)
        await handlers.all_started.wait()
        await wire.send_in.send(None)  # EOF while the calls run
        handlers.release_next()  # the older one: answered while the newer one still runs
        while not got or got[-1]["id"] != 5:
            got.append(json.loads(await wire.recv_out.receive()))
        handlers.release_next()
        with anyio.move_on_after(30):  # a guard against a hang only: the session ends once they are answered
            await ended.wait()
        tg.cancel_scope.cancel()
    while True:
        try:
            got.append(json.loads(wire.recv_out.receive_nowait()))
        except anyio.WouldBlock:
            break
    return ended.is_set(), got


async def _sdks_released(lines: list[str], calls: int, answers: int) -> list[dict[str, Any]]:
    """The SDK's answers to ``lines`` once its ``calls`` calls are released (its input kept open: at EOF
    the SDK cancels the calls it runs, where graphmem answers them)."""
    handlers = _Gate(calls)

    async def release() -> None:
        await handlers.all_started.wait()
        handlers.release_next()
        handlers.release_next()

    return await _sdks(handlers, lines, answers, before=release, no_more=True)


def _key(answer: dict[str, Any]) -> str:
    return json.dumps(answer, sort_keys=True)


@pytest.mark.parametrize("cancel", [False, True])
def test_two_requests_with_one_id_are_both_answered_and_the_input_ends(cancel: bool) -> None:
    """The SDK runs both and answers both (the id's table entry is the newest's; a cancel naming the id
    cancels the newest only). graphmem does the same, and at EOF ends once both are settled."""
    lines = [_init("2025-06-18", 1), _INITIALIZED, _tagged(5, "older"), _tagged(5, "newer")]
    if cancel:
        lines.append(_CANCEL_5)
    answers = 2 if cancel else 3
    ended, ours = anyio.run(_ours_at_eof, lines, 2, answers)
    theirs = anyio.run(_sdks_released, lines, 2, answers)
    assert ended
    assert [a["id"] for a in ours].count(1) == 1  # (initialize: the stub handlers' own, not the SDK's)
    assert sorted(_key(a) for a in ours if a["id"] != 1) == sorted(_key(a) for a in theirs if a.get("id") != 1)
    tags = sorted(a["result"]["content"][0]["text"] for a in ours if a["id"] == 5)
    assert tags == (["older"] if cancel else ["newer", "older"])


async def _modern_at_eof(lines: list[str], calls: int) -> tuple[bool, list[dict[str, Any]]]:
    """:func:`_ours_at_eof` over a real :class:`Stdio` on pipes (a 2026-era client is served by the SDK)."""
    from graphmem.mcp.stdio import Stdio

    handlers = _Gate(calls)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        with Stdio(in_r, out_w, claim=False) as wire:
            ended = anyio.Event()

            async def run() -> None:
                await protocol.Session(handlers, wire).run()  # type: ignore[arg-type]
                ended.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                os.write(in_w, "".join(line + "\n" for line in lines).encode())
                await handlers.all_started.wait()
                os.close(in_w)  # EOF while the calls run
                in_w = -1
                handlers.release_next()  # the older one: answered while the newer one still runs
                first = b""
                while not first.endswith(b"\n"):
                    await anyio.wait_readable(out_r)
                    first += os.read(out_r, 1 << 16)
                handlers.release_next()
                with anyio.move_on_after(30):  # a guard against a hang only
                    await ended.wait()
                tg.cancel_scope.cancel()
        os.close(out_w)
        out_w = -1
        data = first
        while chunk := os.read(out_r, 1 << 16):
            data += chunk
        return ended.is_set(), [json.loads(line) for line in data.splitlines()]
    finally:
        for gate in handlers.gates:
            gate.set()
        for fd in (in_r, in_w, out_r, out_w):
            if fd >= 0:
                os.close(fd)


@pytest.mark.parametrize("cancel", [False, True])
def test_two_2026_requests_with_one_id_are_both_answered_before_the_input_ends(cancel: bool) -> None:
    """In the 2026 era the SDK serves the wire; graphmem's streams end its input only once every request
    read is settled: two requests with one id are two answers to wait for, not one."""
    lines = [_tagged(5, "older", modern=True), _tagged(5, "newer", modern=True)]
    if cancel:
        lines.append(_CANCEL_5)
    ended, ours = anyio.run(_modern_at_eof, lines, 2)
    theirs = anyio.run(_sdks_released, lines, 2, 1 if cancel else 2)
    assert ended
    assert sorted(map(_key, ours)) == sorted(map(_key, theirs))
    tags = sorted(a["result"]["content"][0]["text"] for a in ours)
    assert tags == (["older"] if cancel else ["newer", "older"])


# -- 4. lines: their endings, their bytes, their length ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from graphmem.mcp.stdio import Stdio  # noqa: E402


def _lines_read(chunks: list[bytes]) -> tuple[list[bytes], Stdio]:
    """The lines :meth:`Stdio.next_line` makes of input arriving in ``chunks`` (then EOF)."""
    wire = Stdio(claim=False)
    pending = list(chunks)

    async def read_some() -> bytes:
        return pending.pop(0) if pending else b""

    wire._read_some = read_some  # type: ignore[method-assign]

    async def main() -> list[bytes]:
        lines = []
        while (line := await wire.next_line()) is not None:
            lines.append(line)
        return lines

    return anyio.run(main), wire


def _sdk_lines(data: bytes) -> list[str]:
    """The lines the SDK's stdio transport reads (text, universal newlines, bad UTF-8 replaced)."""
    import io

    return list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace"))


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from([b"a", b"{}", b"\r", b"\n", b"\r\n", "é".encode(), b"\xff", b"\xe2\x82"]),
                      max_size=12),
       cuts=st.lists(st.integers(0, 30), max_size=4))  # fmt: skip
def test_lines_are_read_as_the_sdks_transport_reads_them(parts: list[bytes], cuts: list[int]) -> None:
    """Wherever the reads split the input (a CRLF, a character's bytes), the lines are the SDK's: ended
    by LF, CR or CRLF, a last one without its ending kept, bytes that are not UTF-8 replaced."""
    data = b"".join(parts)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    lines, _ = _lines_read(chunks)
    assert b"".join(lines) == data
    texts = [line.decode("utf-8", "replace") for line in lines]
    normalised = [t[:-2] + "\n" if t.endswith("\r\n") else t[:-1] + "\n" if t.endswith("\r") else t for t in texts]
    assert normalised == _sdk_lines(data)


def test_a_long_line_is_read_whole_in_one_copy_and_let_go() -> None:
    """A line of 8 MB over 128 reads is one line, parsed as the SDK parses it; its bytes are not kept.
    (The SDK reads a line whole too, however long: a client can make either hold one line's worth.)"""
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "t", "arguments": {"q": "é" * (4 << 20)}}}) + "\n"  # fmt: skip
    data = text.encode()
    chunks = [data[i : i + (1 << 16)] for i in range(0, len(data), 1 << 16)] + [b'{"jsonrpc":"2.0"']
    lines, wire = _lines_read(chunks)
    assert lines == [data, b'{"jsonrpc":"2.0"']  # the last, without its newline, kept (as the SDK's readline)
    message = protocol.parse(lines[0])
    assert isinstance(message, protocol.Request) and message.params == json.loads(text)["params"]
    assert len(wire._buffer) == 0


def test_a_request_ended_by_a_cr_is_answered_as_the_sdk_answers_it() -> None:
    from tests.test_mcp_protocol import _sdk_reading

    lines, _ = _lines_read([b'{"jsonrpc":"2.0","id":1,"method":"ping"}\r{"jsonrpc":"2.0","id":2,"method":"ping"}\r'])
    assert [protocol.parse(line) for line in lines] == [_sdk_reading(t) for t in _sdk_lines(b"".join(lines))]
    assert [protocol.parse(line).id for line in lines] == [1, 2]  # type: ignore[union-attr]
