"""The MCP server's stdio transport (graphmem.mcp.stdio), on pipes in this process.

The end-to-end behaviour (a real server over stdin/stdout, stopping on EOF
and on signals) is in test_mcp.py and test_mcp_shutdown.py; these check the
transport's own promises: one message per line in and out, answers of any
size written whole, the input ending at EOF or stop (and, for the SDK's
streams, only once every request passed on is answered), and the descriptors
diverted while serving and put back after.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp.shared.message import SessionMessage

from graphmem.mcp.protocol import Request, parse
from graphmem.mcp.stdio import Stdio

pytestmark = pytest.mark.skipif(not hasattr(os, "pipe"), reason="needs pipes")


def _request(request_id: int, method: str = "ping") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method}).encode() + b"\n"


def _answer(request_id: int, text: str = "") -> SessionMessage:
    return SessionMessage(types.JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"text": text}))


def _line(request_id: Any, text: str = "") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {"text": text}}).encode() + b"\n"


def _read_all(fd: int, into: list[bytes]) -> threading.Thread:
    def run() -> None:
        while chunk := os.read(fd, 1 << 16):
            into.append(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_each_line_is_one_message_and_each_answer_one_line() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    got: list[bytes] = []
    reader = _read_all(out_r, got)
    # Two requests in one write and one split across writes: lines, not reads, make messages.
    os.write(in_w, _request(1) + _request(2)[:10])
    os.write(in_w, _request(2)[10:] + b"not json\n")
    os.close(in_w)

    async def main() -> list[object]:
        seen: list[object] = []
        with Stdio(in_r, out_w, claim=False) as wire:
            while (line := await wire.next_line()) is not None:
                seen.append(parse(line))
                if isinstance(seen[-1], Request):
                    await wire.send(_line(seen[-1].id, "ok"))
        return seen

    seen = anyio.run(main)
    os.close(out_w)
    reader.join(5)
    os.close(in_r)
    os.close(out_r)
    assert [m.id for m in seen if isinstance(m, Request)] == [1, 2]
    assert seen[-1] is None  # the line that is not JSON-RPC
    lines = b"".join(got).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2]


def test_an_answer_larger_than_the_pipe_is_written_whole_and_in_order() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    got: list[bytes] = []
    reader = _read_all(out_r, got)
    os.write(in_w, _request(1) + _request(2))
    os.close(in_w)
    big = "x" * (3 << 20)  # far beyond a pipe's 64 KiB: the writer waits for the reader many times

    async def main() -> None:
        with Stdio(in_r, out_w, claim=False) as wire:
            async with anyio.create_task_group() as tg:
                while (line := await wire.next_line()) is not None:
                    request_id = json.loads(line)["id"]
                    # Both answers at once: the lock keeps the big one's pieces together.
                    tg.start_soon(wire.send, _line(request_id, big if request_id == 1 else "small"))

    anyio.run(main)
    os.close(out_w)
    reader.join(5)
    os.close(in_r)
    os.close(out_r)
    lines = b"".join(got).splitlines()
    answers = {json.loads(line)["id"]: json.loads(line)["result"]["text"] for line in lines}
    assert len(lines) == 2 and answers == {1: big, 2: "small"}


def test_the_sdk_streams_input_ends_only_once_the_requests_passed_on_are_answered() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    got: list[bytes] = []
    reader = _read_all(out_r, got)
    os.write(in_w, _request(7))
    os.close(in_w)  # EOF right after the request
    events: list[str] = []

    async def main() -> None:
        with Stdio(in_r, out_w, claim=False) as wire:
            read, write = wire.sdk_streams([])
            first = await read.receive()
            events.append("received")

            async def answer_later() -> None:
                await anyio.sleep(0.2)
                events.append("answering")
                await write.send(_answer(first.message.id))

            async with anyio.create_task_group() as tg:
                tg.start_soon(answer_later)
                with pytest.raises(anyio.EndOfStream):
                    await read.receive()
                events.append("ended")

    anyio.run(main)
    os.close(out_w)
    reader.join(5)
    os.close(in_r)
    os.close(out_r)
    assert events == ["received", "answering", "ended"]
    assert json.loads(b"".join(got))["id"] == 7


def test_stop_ends_the_input_while_the_client_keeps_it_open() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    async def main() -> bool:
        with Stdio(in_r, out_w, claim=False) as wire:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_stop_soon, wire)
                assert await wire.next_line() is None  # nothing was sent, and stdin stays open
        return True

    assert anyio.run(main)
    for fd in (in_r, in_w, out_r, out_w):
        os.close(fd)


async def _stop_soon(wire: Stdio) -> None:
    await anyio.sleep(0.1)
    wire.stop()


def test_the_descriptors_are_diverted_while_serving_and_put_back() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.set_blocking(out_r, False)
    with Stdio(in_r, out_w) as wire:
        # What a library prints to the descriptor no longer reaches the client...
        os.write(out_w, b"")  # the descriptor is still valid (stderr now)
        assert os.fstat(out_w).st_ino != os.fstat(out_r).st_ino
        assert os.fstat(in_r).st_ino != os.fstat(in_w).st_ino
        # ...while the transport's own answers do.
        anyio.run(wire.send, _line(1))
    assert json.loads(os.read(out_r, 1 << 16))["id"] == 1
    # Put back: the descriptors are the pipes again, blocking as before.
    os.write(out_w, b"after\n")
    assert os.read(out_r, 100) == b"after\n"
    assert os.get_blocking(out_w)
    for fd in (in_r, in_w, out_r, out_w):
        os.close(fd)


def test_bytes_that_are_not_utf8_become_replacement_characters_as_on_the_sdk_transport() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "a\xff"}}\n')
    os.close(in_w)

    async def main() -> tuple[object, object]:
        with Stdio(in_r, out_w, claim=False) as wire:
            line = await wire.next_line()
            assert line is not None
            sdk = await wire.sdk_streams([line])[0].receive()
            return parse(line), sdk

    ours, sdk = anyio.run(main)
    for fd in (in_r, out_r, out_w):
        os.close(fd)
    assert isinstance(ours, Request) and isinstance(sdk, SessionMessage)
    assert ours.params == sdk.message.params == {"name": "a\ufffd"}
