"""graphmem's own JSON-RPC layer for the stdio server (graphmem.mcp.protocol) against the MCP SDK's.

The same lines go to the SDK's lowlevel server (what ``graphmem mcp`` ran
before, still the HTTP transport's) and to graphmem's session, each over a
fresh store: the answers must be the same, in every handshake protocol
version. And a real server answers without the SDK ever being imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphmem
from tests.mcp_client import ENGINE

mcp_types = pytest.importorskip("mcp.types", reason="the differential test needs the 'mcp' extra")

from graphmem.mcp import protocol  # noqa: E402
from graphmem.mcp.server import Handlers, build_server  # noqa: E402
from graphmem.mcp.share import Shared  # noqa: E402


def _init(version: str, request_id: int = 7) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "initialize",
                       "params": {"protocolVersion": version, "capabilities": {},
                                  "clientInfo": {"name": "t", "version": "1"}}})  # fmt: skip


def _script(version: str) -> list[str]:
    """Requests, notifications and garbage, before and after initialize."""

    def req(request_id: Any, method: str, params: Any = None, **extra: Any) -> str:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method, **extra}
        if params is not None:
            body["params"] = params
        return json.dumps(body)

    kg = "memory://knowledge-graph"
    return [
        req(1, "tools/list"),  # before initialize
        req(2, "ping"),
        req(3, "bogus/method"),
        "not json", '{"jsonrpc":"2.0","id":4}', '[{"jsonrpc":"2.0","id":5,"method":"ping"}]',
        '{"jsonrpc":"1.0","id":6,"method":"ping"}', "",
        _init(version),
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        req(8, "tools/list"),
        req("s9", "tools/call", {"name": "create_entities", "arguments": {"entities": [
            {"name": "a", "entityType": "T", "observations": ["x y"]}]}}),
        req(10, "tools/call", {"name": "search_nodes", "arguments": {"query": "x"}, "_meta": {"progressToken": 5}}),
        req(11, "tools/call", {"name": "nope", "arguments": {}}),
        req(12, "tools/call", {"name": "search_nodes", "arguments": {}}),
        req(13, "tools/call", {"name": "search_nodes"}),
        req(14, "tools/call", {"arguments": {}}),
        req(15, "tools/call"),
        req(16, "resources/list"),
        req(17, "resources/read", {"uri": kg}),
        req(18, "resources/read", {"uri": "memory://other"}),
        req(19, "resources/subscribe", {"uri": kg}),
        req(20, "tools/call", {"name": "add_observations", "arguments": {
            "observations": [{"entityName": "a", "contents": ["z"]}]}}),
        req(21, "resources/unsubscribe", {"uri": kg}),
        req(22, "resources/templates/list"), req(23, "prompts/list"), req(24, "logging/setLevel", {"level": "debug"}),
        req(25, "completion/complete", {}), req(26, "server/discover"), req(27, "prompts/get", {"name": 1}),
        '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}',
        req(28, "tools/list", {"cursor": "abc"}),
        req(29, "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        '{"jsonrpc":"2.0","id":null,"method":"ping"}', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
        '{"jsonrpc":"2.0","id":true,"method":"ping"}', '{"jsonrpc":"2.0","id":30,"method":"ping","params":null}',
        '{"jsonrpc":"2.0","id":31,"method":"ping","params":[]}', '{"jsonrpc":"2.0","id":32,"result":{}}',
        '{"jsonrpc":"2.0","id":33,"method":"ping","x":NaN}',
        req(34, "tools/call", {"name": "search_nodes", "arguments": {"query": 5}}),
        req(35, "tools/call", {"name": "search_nodes", "arguments": "x"}),
        req(36, "tools/call", {"name": "search_nodes", "arguments": {"query": "x"}, "extra": 1}),
        req(37, "resources/read", {}), req(38, "resources/subscribe", {"uri": "not a uri"}),
        req(39, "tools/list", extra=1), req(40, "ping", {"_meta": {"progressToken": True}}),
        req(41, "tools/call", {"name": "search_nodes", "arguments": {"query": "\ud800"}}),
        '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
        _init("1999-01-01", 42),
        req(43, "tools/call", {"name": "read_graph", "arguments": {}}),
    ]


def _expected_id(line: str) -> Any:
    """The id of the answer to wait for (the SDK's reading: a line it drops is not waited for)."""
    message = _sdk_reading(line)
    return message.id if isinstance(message, protocol.Request) else None


class _Wire:
    """A :class:`graphmem.mcp.stdio.Stdio` stand-in over memory streams."""

    def __init__(self) -> None:
        self.send_in, self.recv_in = anyio.create_memory_object_stream[bytes | None](100)
        self.send_out, self.recv_out = anyio.create_memory_object_stream[bytes](100)
        self.broken = False

    async def next_line(self) -> bytes | None:
        return await self.recv_in.receive()

    async def send(self, data: bytes) -> None:
        await self.send_out.send(data)


async def _collect(lines: list[str], push: Any, receive: Any) -> list[list[dict[str, Any]]]:
    replies = []
    for line in lines:
        await push(line)
        want = _expected_id(line)
        got: list[dict[str, Any]] = []
        with anyio.move_on_after(10 if want is not None else 0.2):
            while True:
                got.append(await receive())
                if want is not None and got[-1].get("id") == want:
                    break
        replies.append(got)
    return replies


def _with_shared(run: Any) -> Any:
    store = Path(tempfile.mkdtemp(prefix="graphmem-protocol-"))
    shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=None))
    shared.start()
    try:
        return run(shared)
    finally:
        shared.close(save_index=False)


def _through_sdk(lines: list[str]) -> list[list[dict[str, Any]]]:
    from mcp.shared.message import SessionMessage

    async def main(shared: Shared) -> list[list[dict[str, Any]]]:
        server = build_server(shared)
        send_in, recv_in = anyio.create_memory_object_stream[Any](100)
        send_out, recv_out = anyio.create_memory_object_stream[Any](100)

        async def push(line: str) -> None:
            try:
                item: Any = SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
            except ValueError as exc:
                item = exc
            await send_in.send(item)

        async def receive() -> dict[str, Any]:
            message = (await recv_out.receive()).message
            return json.loads(type(message).__pydantic_serializer__.to_json(message, by_alias=True, exclude_unset=True))

        async with anyio.create_task_group() as tg:
            tg.start_soon(server.run, recv_in, send_out, server.create_initialization_options())
            replies = await _collect(lines, push, receive)
            tg.cancel_scope.cancel()
        return replies

    return _with_shared(lambda shared: anyio.run(main, shared))


def _through_protocol(lines: list[str]) -> list[list[dict[str, Any]]]:
    async def main(shared: Shared) -> list[list[dict[str, Any]]]:
        wire = _Wire()
        session = protocol.Session(Handlers(shared), wire)  # type: ignore[arg-type]

        async def push(line: str) -> None:
            await wire.send_in.send(line.encode("utf-8", "surrogatepass") + b"\n")

        async def receive() -> dict[str, Any]:
            return json.loads(await wire.recv_out.receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(session.run)
            replies = await _collect(lines, push, receive)
            await wire.send_in.send(None)  # EOF
        return replies

    return _with_shared(lambda shared: anyio.run(main, shared))


@pytest.mark.engine
@pytest.mark.parametrize("version", protocol.HANDSHAKE_PROTOCOL_VERSIONS)
def test_the_protocol_layer_answers_as_the_sdk_does(version: str) -> None:
    lines = _script(version)
    ours, theirs = _through_protocol(lines), _through_sdk(lines)
    for line, mine, sdk in zip(lines, ours, theirs, strict=True):
        assert mine == sdk, line
    answered = {reply.get("id") for replies in ours for reply in replies}
    assert {1, 3, 8, 11, 14, 26, 29, 42} <= answered  # the script reached its errors and both initializes
    assert not {4, 5, 6, 31, 32} & answered  # invalid lines are dropped, as by the SDK
    assert ours[lines.index(_init(version))][0]["result"]["protocolVersion"] == version
    by_id = {reply.get("id"): reply for replies in ours for reply in replies}
    before_initialize, unknown_method = by_id[1]["error"], by_id[3]["error"]
    assert before_initialize == {"code": -32602, "message": "Invalid request parameters", "data": ""}
    assert unknown_method == {"code": -32601, "message": "Method not found", "data": "bogus/method"}
    assert by_id[11]["result"] == {"content": [{"type": "text", "text": "Unknown tool: nope"}], "isError": True}
    assert by_id[18]["error"] == {"code": -32002, "message": "Resource not found: memory://other"}
    assert by_id[42]["result"]["protocolVersion"] == protocol.LATEST_HANDSHAKE_VERSION  # an unknown version
    assert ours[lines.index("not json")] == []  # dropped, and the next requests are answered


def test_the_protocol_versions_are_the_installed_sdks() -> None:
    from mcp_types import version

    assert protocol.SUPPORTED_PROTOCOL_VERSIONS == tuple(version.SUPPORTED_PROTOCOL_VERSIONS)
    assert protocol.HANDSHAKE_PROTOCOL_VERSIONS == version.HANDSHAKE_PROTOCOL_VERSIONS
    assert protocol.MODERN_PROTOCOL_VERSIONS == version.MODERN_PROTOCOL_VERSIONS
    assert protocol.LATEST_PROTOCOL_VERSION == version.LATEST_PROTOCOL_VERSION
    assert protocol.LATEST_HANDSHAKE_VERSION == version.LATEST_HANDSHAKE_VERSION


def test_the_spec_methods_are_the_installed_sdks() -> None:
    from mcp_types import methods

    assert protocol.SPEC_REQUESTS == methods.SPEC_CLIENT_METHODS
    handshake = {m for m, v in methods.CLIENT_REQUESTS if v in protocol.HANDSHAKE_PROTOCOL_VERSIONS}
    assert protocol.MODERN_ONLY_REQUESTS == methods.SPEC_CLIENT_METHODS - handshake


def test_tools_list_is_the_sdk_typed_list() -> None:
    from graphmem.mcp.schemas import TOOLS
    from graphmem.mcp.server import _tool_json

    typed = [mcp_types.Tool(
        name=spec.name, title=spec.title, description=spec.description, input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=mcp_types.ToolAnnotations(title=spec.title, read_only_hint=spec.read_only,
                                              destructive_hint=spec.destructive, idempotent_hint=spec.idempotent,
                                              open_world_hint=False),
    ).model_dump(by_alias=True, exclude_none=True, mode="json") for spec in TOOLS]  # fmt: skip
    assert [_tool_json(spec) for spec in TOOLS] == typed


# -- framing -----------------------------------------------------------------------

_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["2.0", "1.0", "ping", "tools/list", "", "7"]),
                    st.lists(st.integers(0, 2), max_size=2), st.dictionaries(st.sampled_from(["a", "_meta"]),
                                                                             st.integers(0, 2), max_size=2))  # fmt: skip
_messages = st.dictionaries(st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error", "extra"]),
                            _values, max_size=5)  # fmt: skip


def _sdk_reading(text: str) -> Any:
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError:
        return None
    if isinstance(message, mcp_types.JSONRPCRequest):
        return protocol.Request(message.id, message.method, message.params)
    if isinstance(message, mcp_types.JSONRPCNotification):
        return protocol.Notification(message.method, message.params)
    return None


@settings(max_examples=300, deadline=None)
@given(message=_messages, jsonrpc=st.booleans(), method=st.booleans())
def test_a_line_is_read_as_the_sdk_reads_it(message: dict[str, Any], jsonrpc: bool, method: bool) -> None:
    if jsonrpc:
        message["jsonrpc"] = "2.0"  # mostly well-formed messages, with every kind of odd field
    if method:
        message["method"] = "ping"
    text = json.dumps(message)
    assert protocol.parse(text.encode()) == _sdk_reading(text)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=30))
def test_any_text_is_read_as_the_sdk_reads_it(text: str) -> None:
    line = text.encode("utf-8", "surrogatepass")
    assert protocol.parse(line) == _sdk_reading(line.decode("utf-8", "replace"))


# -- the real server ---------------------------------------------------------------


@pytest.mark.engine
def test_a_stdio_server_answers_without_importing_the_sdk(tmp_path: Path) -> None:
    """initialize, tools/list and search_nodes, and the server exits at EOF, the SDK never imported
    (python -X importtime names every module the process imports, on its stderr)."""
    store = tmp_path / "store"
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": "harbour", "type": "place", "observations": ["boats"]}])
    lines = [_init("2025-06-18", 1), '{"jsonrpc":"2.0","method":"notifications/initialized"}',
             '{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
             json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                         "params": {"name": "search_nodes", "arguments": {"query": "boats"}}})]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphmem", "--engine", ENGINE, "mcp",
                           str(store), "--embedder", "none"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answers = {a["id"]: a for a in map(json.loads, done.stdout.splitlines())}
    assert answers[1]["result"]["serverInfo"]["name"] == "graphmem-memory"
    assert len(answers[2]["result"]["tools"]) > 10
    assert [e["name"] for e in answers[3]["result"]["structuredContent"]["entities"]] == ["harbour"]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "graphmem.mcp.protocol" in imported  # (the listing is there)
    assert not {m for m in imported if m.split(".")[0] in ("mcp", "mcp_types")}
    assert "pydantic_core" not in imported  # a small answer's JSON: the json module (tools._pretty_plain)


# -- errors and cancellation ---------------------------------------------------------


class _SlowHandlers:
    """Handlers whose tool calls wait until released."""

    name, version, instructions = "x", "1", "i"
    capabilities: dict[str, Any] = {}

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.started = anyio.Event()

    async def call_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        self.started.set()
        await self.release.wait()
        return {"content": [], "isError": False}


def test_a_cancelled_request_is_never_answered_and_others_go_on() -> None:
    async def main() -> list[dict[str, Any]]:
        wire, handlers = _Wire(), _SlowHandlers()
        session = protocol.Session(handlers, wire)  # type: ignore[arg-type]
        for line in [_init("2025-06-18", 1), '{"jsonrpc":"2.0","id":"5","method":"tools/call","params":{"name":"t"}}']:
            await wire.send_in.send(line.encode() + b"\n")
        got = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.run)
            got.append(json.loads(await wire.recv_out.receive()))
            await handlers.started.wait()
            # Named by the int its string id spells, as the SDK correlates them.
            await wire.send_in.send(b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}\n')
            await wire.send_in.send(b'{"jsonrpc":"2.0","id":6,"method":"ping"}\n')
            got.append(json.loads(await wire.recv_out.receive()))
            await wire.send_in.send(None)
        handlers.release.set()
        return got

    got = anyio.run(main)
    assert [g["id"] for g in got] == [1, 6]


def test_the_input_ends_only_once_the_requests_read_are_answered() -> None:
    async def main() -> list[str]:
        wire, handlers = _Wire(), _SlowHandlers()
        session = protocol.Session(handlers, wire)  # type: ignore[arg-type]
        for line in [_init("2025-06-18", 1), '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t"}}']:
            await wire.send_in.send(line.encode() + b"\n")
        await wire.send_in.send(None)  # EOF right after the call
        events = []
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await session.run()
                events.append("ended")

            tg.start_soon(run)
            await handlers.started.wait()
            await anyio.sleep(0.1)
            events.append("releasing")
            handlers.release.set()
        while True:
            try:
                events.append(str(json.loads(wire.recv_out.receive_nowait())["id"]))
            except anyio.WouldBlock:
                break
        return events

    assert anyio.run(main) == ["releasing", "ended", "1", "2"]


@settings(max_examples=60, deadline=None)
@given(value=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                                    st.floats(allow_nan=False, allow_infinity=False)),
                          lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=12))
def test_a_large_answer_is_the_same_json_either_way(value: Any) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "result": {"structuredContent": value}}
    small, large = protocol.encode(message), protocol.encode(message, large=True)
    assert small.endswith(b"\n") and large.endswith(b"\n") and b"\n" not in small[:-1] + large[:-1]
    assert json.loads(small) == json.loads(large) == json.loads(json.dumps(message))


def _through_stdio(lines: list[str]) -> list[list[dict[str, Any]]]:
    """graphmem's session over a real :class:`Stdio` on pipes (the 2026 era hands the wire to the SDK)."""
    from graphmem.mcp.stdio import Stdio

    async def main(shared: Shared) -> list[list[dict[str, Any]]]:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        buffer = bytearray()

        async def push(line: str) -> None:
            os.write(in_w, line.encode() + b"\n")

        async def receive() -> dict[str, Any]:
            while b"\n" not in buffer:
                await anyio.wait_readable(out_r)
                buffer.extend(os.read(out_r, 1 << 16))
            end = buffer.index(b"\n")
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            return json.loads(line)

        try:
            with Stdio(in_r, out_w, claim=False) as wire:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(protocol.Session(Handlers(shared), wire).run)
                    replies = await _collect(lines, push, receive)
                    os.close(in_w)
                    in_w = -1
        finally:
            for fd in (in_r, in_w, out_r, out_w):
                if fd >= 0:
                    os.close(fd)
        return replies

    return _with_shared(lambda shared: anyio.run(main, shared))


@pytest.mark.engine
def test_a_client_of_the_2026_era_is_served_by_the_sdk() -> None:
    envelope = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}  # fmt: skip

    def req(request_id: int, method: str, params: dict[str, Any]) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                           "params": {**params, "_meta": envelope}})  # fmt: skip

    lines = ['{"jsonrpc":"2.0","method":"notifications/initialized"}', req(1, "tools/list", {}),
             req(2, "tools/call", {"name": "create_entities", "arguments": {"entities": [
                 {"name": "a", "entityType": "T", "observations": ["x"]}]}}),
             req(3, "tools/call", {"name": "search_nodes", "arguments": {"query": "x"}}), _init("2025-06-18", 4)]
    ours, theirs = _through_stdio(lines), _through_sdk(lines)
    assert ours == theirs
    assert ours[1][0]["result"]["resultType"] == "complete" and ours[4][0]["error"]  # the 2026 era's answers


@pytest.mark.parametrize("depth", [198, 199, 200, 201])
def test_a_deeply_nested_line_is_read_as_the_sdk_reads_it(depth: int) -> None:
    head = '{"jsonrpc":"2.0","id":1,"method":"x","params":'
    for line in [head + '{"b":' * depth + "1" + "}" * depth + "}",
                 head + '{"a":' + "[" * depth + "]" * depth + "}}",
                 head + '{"a":' + '[{"q":' * (depth // 2) + "[]" + "}]" * (depth // 2) + "}}"]:
        assert protocol.parse(line.encode()) == _sdk_reading(line)


def _strict_json(line: bytes) -> Any:
    """A line read as strict JSON: ``NaN`` and ``Infinity`` are not JSON (a JavaScript client's parse fails)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


@settings(max_examples=60, deadline=None)
@given(value=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.floats()),
                          lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=12))
def test_an_answer_is_strict_json_as_pydantic_writes_it(value: Any) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "result": {"structuredContent": value}}
    answer = mcp_types.JSONRPCResponse.model_validate(message)
    sdk = _strict_json(type(answer).__pydantic_serializer__.to_json(answer, by_alias=True, exclude_unset=True))
    for large in (False, True):
        assert _strict_json(protocol.encode(message, large=large)) == sdk


@pytest.mark.engine
def test_a_cypher_nan_is_answered_as_the_sdk_answers_it() -> None:
    query = {"name": "cypher_query", "arguments": {"query": "RETURN 0.0/0.0 AS x, 1.0/0.0 AS y, -1.0/0.0 AS z"}}
    lines = [_init("2025-11-25", 1), '{"jsonrpc":"2.0","method":"notifications/initialized"}',
             json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": query})]
    ours, theirs = _through_protocol(lines), _through_sdk(lines)
    assert ours == theirs
    assert ours[-1][-1]["result"]["structuredContent"]["rows"] == [[None, None, None]]


class _SlowSdkHandlers(_SlowHandlers):
    """:class:`_SlowHandlers` with what the SDK's server (the 2026 era's) also asks of them."""

    def __init__(self) -> None:
        from graphmem.mcp.server import _Subscribers

        super().__init__()
        self.subscribers = _Subscribers()

    def list_resources(self) -> dict[str, Any]:
        return {"resources": []}


@pytest.mark.parametrize(("request_id", "named"), [("5", 5), (5, "5")])
def test_a_2026_request_cancelled_by_its_ids_other_spelling_does_not_hold_the_end_of_input(
        request_id: Any, named: Any) -> None:  # fmt: skip
    """The SDK cancels a request named by the int its string id spells (or the reverse) and never answers it:
    at EOF the server must not wait for that answer."""
    from graphmem.mcp.stdio import Stdio

    envelope = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}  # fmt: skip
    call = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "t", "_meta": envelope}}
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": named}}

    async def main() -> bool:
        handlers = _SlowSdkHandlers()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            with Stdio(in_r, out_w, claim=False) as wire:
                done = anyio.Event()

                async def run() -> None:
                    await protocol.Session(handlers, wire).run()  # type: ignore[arg-type]
                    done.set()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(run)
                    os.write(in_w, json.dumps(call).encode() + b"\n")
                    await handlers.started.wait()
                    os.write(in_w, json.dumps(cancel).encode() + b"\n")
                    os.close(in_w)
                    in_w = -1
                    with anyio.move_on_after(30):  # a guard against the hang only: the session ends at once
                        await done.wait()
                    ended = done.is_set()
                    tg.cancel_scope.cancel()
            os.set_blocking(out_r, False)
            try:
                unanswered = os.read(out_r, 1 << 16) == b""
            except BlockingIOError:
                unanswered = True
            return ended and unanswered
        finally:
            handlers.release.set()
            for fd in (in_r, in_w, out_r, out_w):
                if fd >= 0:
                    os.close(fd)

    assert anyio.run(main)
