"""The transport's floor for :mod:`benchmarks.bench_mcp`: a minimal MCP server on
the same SDK, over stdio, answering every tool call with a constant text of
the given length (``python -m benchmarks.mcp_echo CHARS``)."""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    import anyio
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    text = "x" * int(sys.argv[1])
    tool = types.Tool(name="search_nodes", input_schema={"type": "object", "properties": {"query": {"type": "string"}}})

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: Any) -> Any:
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server("echo", on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
