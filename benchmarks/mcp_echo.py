"""The transport's floor for :mod:`benchmarks.bench_mcp`: a minimal MCP server on
the same SDK, over stdio, answering every tool call with a constant.

``python -m benchmarks.mcp_echo CHARS`` answers every tool with CHARS
characters of text. ``python -m benchmarks.mcp_echo ANSWERS.json`` declares
graphmem's tools (the reference's names and output schemas) and answers each
with the answer recorded for such a call in the file (``{"tool/items":
{"text": ..., "structured": ...}}``, the peer's own answer, keyed by
:func:`benchmarks.bench_mcp.answer_key`), so the floor
carries the same payload through the same client-side checks (the SDK
client validates structured content against the tool's output schema).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    import anyio
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    spec = sys.argv[1]
    if spec.isdigit():
        answers: dict[str, Any] = {"search_nodes": {"text": "x" * int(spec), "structured": None}}
        tools = [types.Tool(name="search_nodes", input_schema={"type": "object"})]
        fallback = answers["search_nodes"]
    else:
        from graphmem.mcp.schemas import TOOLS

        answers = json.loads(Path(spec).read_text(encoding="utf-8"))
        tools = [types.Tool(name=t.name, input_schema=t.input_schema, output_schema=t.output_schema) for t in TOOLS]
        fallback = {"text": "x" * 100, "structured": None}

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: Any) -> Any:
        if spec.isdigit():
            answer = fallback
        else:
            from benchmarks.bench_mcp import answer_key

            answer = answers.get(answer_key(params.name, params.arguments or {}))
            if answer is None:  # a call not measured (the warm-up): any answer of that tool
                answer = next((a for k, a in answers.items() if k.split("/")[0] == params.name), fallback)
        result: dict[str, Any] = {"content": [types.TextContent(type="text", text=answer["text"])]}
        if answer.get("structured") is not None:
            result["structured_content"] = answer["structured"]
        return types.CallToolResult(**result)

    server = Server("echo", on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


if __name__ == "__main__":
    main()
