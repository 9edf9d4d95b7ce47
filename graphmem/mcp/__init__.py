"""graphmem as an MCP server: ``graphmem mcp PATH``.

A drop-in replacement for the reference knowledge-graph memory server
(modelcontextprotocol/servers, ``src/memory``): the same tools, argument
schemas, result shapes and hints, on a transactional graph store, plus paging,
semantic search, paths, neighbours, recall and read-only Cypher. Several
server processes may share one store (see :mod:`graphmem.mcp.share`).

Modules: :mod:`~graphmem.mcp.schemas` (the tools' schemas),
:mod:`~graphmem.mcp.shapes` (JSON shapes and cursors),
:mod:`~graphmem.mcp.tools` (tool calls on a Memory),
:mod:`~graphmem.mcp.atomic` (one transaction and one application per call),
:mod:`~graphmem.mcp.share` (holder and followers),
:mod:`~graphmem.mcp.server` (the answers, and both transports' wiring),
:mod:`~graphmem.mcp.protocol` (the stdio server's JSON-RPC layer, without the SDK),
:mod:`~graphmem.mcp.stdio` (the stdio wire), :mod:`~graphmem.mcp.http` (streamable HTTP,
the SDK's). Needs the ``mcp`` extra.
"""

from __future__ import annotations
