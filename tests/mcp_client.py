"""Start ``graphmem mcp`` as a subprocess and talk to it with the MCP SDK's own
stdio client (shared by the tests/test_mcp*.py files)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP server needs the 'mcp' extra")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")


def server_command(store: Path, *, embedder: str = "hash", pidfile: Path | None = None) -> tuple[str, list[str]]:
    """The command line of a server; with ``pidfile``, a shell writes the
    server's pid there and then becomes the server (``exec`` keeps the pid)."""
    args = ["-m", "graphmem", "--engine", ENGINE, "mcp", str(store), "--embedder", embedder]
    if pidfile is None:
        return sys.executable, args
    return "/bin/sh", ["-c", 'echo $$ > "$0"; exec "$@"', str(pidfile), sys.executable, *args]


@asynccontextmanager
async def mcp_session(
    store: Path, *, embedder: str = "hash", pidfile: Path | None = None, log: Path | None = None,
    message_handler: Any = None,
) -> AsyncIterator[ClientSession]:
    """An initialised client session with a fresh server on ``store``
    (``message_handler`` receives the server's notifications)."""
    command, args = server_command(store, embedder=embedder, pidfile=pidfile)
    params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    log = log or store.parent / f"{store.name}-server.log"
    async with stdio_session(params, log, message_handler=message_handler) as session:
        yield session


@asynccontextmanager
async def stdio_session(params: StdioServerParameters, log: Path, *,
                        message_handler: Any = None) -> AsyncIterator[ClientSession]:  # fmt: skip
    """An initialised client session with any stdio server (its stderr goes to ``log``)."""
    with open(log, "a", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, message_handler=message_handler) as session:
                await session.initialize()
                yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; return its structured content (the SDK
    client has already checked it against the tool's output schema)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text}"
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; return its error text."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed, returned {result.structured_content}"
    return result.content[0].text


def text_json(result: Any) -> Any:
    return json.loads(result.content[0].text)
