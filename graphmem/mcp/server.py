"""The MCP SDK wiring: a low-level ``mcp`` Server over stdio.

The low-level server (not the decorator-based one) is used because the
reference's schemas must be served exactly, including argument names such as
``from`` that are not Python identifiers. Tool calls run in worker threads,
so parallel calls from one client run in parallel; graphmem's writer lock
orders the writes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import GraphMemError
from ..memory import Memory
from .schemas import RESOURCE_URI, TOOLS
from .share import Shared

__all__ = ["build_server", "serve"]

log = logging.getLogger("graphmem.mcp")

INSTRUCTIONS = (
    "A knowledge-graph memory (graphmem). Store people, projects and facts as entities with observations, "
    "connect them with relations in active voice, and look them up with search_nodes, semantic_search, "
    "neighbors, find_path or recall."
)


def build_server(shared: Shared) -> Any:
    """The MCP server object for ``shared`` (a holder or a follower)."""
    import anyio
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    tools = [
        types.Tool(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            input_schema=spec.input_schema,
            output_schema=spec.output_schema,
            annotations=types.ToolAnnotations(
                title=spec.title, read_only_hint=spec.read_only, destructive_hint=spec.destructive,
                idempotent_hint=spec.idempotent, open_world_hint=False,
            ),  # fmt: skip
        )
        for spec in TOOLS
    ]
    # Enough threads for many parallel calls; the writer lock, not this, orders writes.
    limiter = anyio.CapacityLimiter(64)

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: Any) -> Any:
        try:
            outcome = await anyio.to_thread.run_sync(shared.call_tool, params.name, params.arguments, limiter=limiter)
        except GraphMemError as exc:  # no process could serve it (the store is unreachable)
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
        result: dict[str, Any] = {"content": [types.TextContent(type="text", text=outcome.text)],
                                  "is_error": outcome.is_error}  # fmt: skip
        if outcome.structured is not None:
            result["structured_content"] = outcome.structured
        return types.CallToolResult(**result)

    async def list_resources(ctx: Any, params: Any) -> Any:
        return types.ListResourcesResult(resources=[types.Resource(
            name="knowledge-graph", title="Knowledge Graph", uri=RESOURCE_URI,
            description="The full knowledge graph with all entities and relations", mime_type="application/json",
        )])  # fmt: skip

    async def read_resource(ctx: Any, params: Any) -> Any:
        if str(params.uri) != RESOURCE_URI:
            raise MCPError(-32002, f"Resource not found: {params.uri}")
        try:
            text = await anyio.to_thread.run_sync(shared.read_graph_text, limiter=limiter)
        except GraphMemError as exc:
            raise MCPError(-32603, str(exc)) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=RESOURCE_URI, mime_type="application/json", text=text)]
        )

    return Server(
        "graphmem-memory",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def serve(path: str | os.PathLike[str], open_memory: Callable[[], Memory]) -> None:
    """Serve MCP over stdin/stdout for the store at ``path`` until the client hangs up.

    Parameters
    ----------
    path
        The store's directory (created by the first server if missing).
    open_memory
        Opens that store read-write (raising :class:`~graphmem.errors.StoreLocked`
        while another process holds it).
    """
    import anyio
    from mcp.server.stdio import stdio_server

    if not logging.getLogger().handlers:
        # stdout carries the protocol; what the server tells its operator goes to stderr.
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
        log.setLevel(logging.INFO)  # graphmem's own notes (who holds the store), not the SDK's chatter
    Path(path).expanduser().mkdir(parents=True, exist_ok=True)
    shared = Shared(path, open_memory)
    shared.start()

    def stop(signum: int, frame: Any) -> None:
        # Leave through the finally below, so the store is closed cleanly and
        # another server can take over at once.
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    server = build_server(shared)

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(run)
    finally:
        shared.close()
        sys.stderr.flush()
