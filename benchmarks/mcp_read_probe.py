"""Where the server's CPU goes in one MCP ``read_graph`` (issue 19), stage by stage, in process.

Fills a store with :func:`benchmarks.bench_mcp.dataset` through graphmem's
tools, then times (CPU, the least of ``--repeat`` runs) each step the
server takes for ``read_graph``, with the collector set as ``graphmem mcp``
sets it once warm (frozen, full passes 100 times rarer):

- ``tool``: ``Tools.call("read_graph")`` whole, of which ``entities``
  (:meth:`Memory.find_text` and the dicts), ``relations``
  (:func:`graphmem.memory.whole.relation_dicts`) and ``text`` (the pretty
  JSON by pydantic-core); beside them, what they replaced:
  ``find_relations`` (:meth:`Memory.find_relations` and the dicts) and
  ``pretty_json`` (the pure-Python encoder);
- the SDK's steps after the handler returns: ``sdk_model_dump`` (what a
  returned ``CallToolResult`` costs first, skipped since the handler returns
  the wire dict), ``sdk_sieve`` (the SDK validating and dumping the result
  against the protocol version's model, ``mcp_types.methods.serialize_server_result``:
  unavoidable on the SDK's request path) and ``wire_json`` (the JSON-RPC
  message to bytes, as :mod:`graphmem.mcp.stdio` writes it).

Run::

    nice -n 5 .venv/bin/python -m benchmarks.mcp_read_probe --entities 100000
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _cpu_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        out = run()
        best = min(best, (time.process_time() - started) * 1000)
    return best, out


def main() -> None:
    import mcp.types as types
    from mcp_types import methods

    import graphmem
    from benchmarks.bench_mcp import CHUNK, dataset
    from graphmem.mcp.server import _wire_result
    from graphmem.mcp.tools import Tools, _entry_json, _pretty_plain, pretty_json
    from graphmem.memory.whole import relation_dicts

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", default="kuzu")
    args = parser.parse_args()
    entities, relations = dataset(args.entities)
    with tempfile.TemporaryDirectory(prefix="mcp-read-probe-") as tmp, \
            graphmem.open(Path(tmp) / "store", engine=args.engine, embedder=None) as mem:  # fmt: skip
        tools = Tools(mem)
        for i in range(0, len(entities), CHUNK):
            tools.call("create_entities", {"entities": entities[i:i + CHUNK]})
        for i in range(0, len(relations), CHUNK):
            tools.call("create_relations", {"relations": relations[i:i + CHUNK]})
        tools.call("search_nodes", {"query": "warm"})  # the text index
        mem.find_relations(["warm"])  # the map of relation types as written
        gc.collect()
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1000)
        figures: dict[str, float] = {}
        figures["tool"], outcome = _cpu_ms(lambda: tools.call("read_graph", {}), args.repeat)
        entries = mem.find_text("")
        figures["entities"], graph_entities = _cpu_ms(lambda: [_entry_json(e) for e in mem.find_text("")],
                                                      args.repeat)  # fmt: skip
        figures["relations"], graph_relations = _cpu_ms(lambda: relation_dicts(mem, entries), args.repeat)
        graph = {"entities": graph_entities, "relations": graph_relations}
        figures["text"], text = _cpu_ms(lambda: _pretty_plain(graph), args.repeat)
        figures["find_relations"], _ = _cpu_ms(
            lambda: [{"from": r.source, "to": r.target, "relationType": r.type} for r in mem.find_relations()],
            args.repeat)  # fmt: skip
        figures["pretty_json"], slow_text = _cpu_ms(lambda: pretty_json(graph), args.repeat)
        if slow_text != text or text != outcome.text:
            raise RuntimeError("the texts differ")
        model = types.CallToolResult(content=[types.TextContent(type="text", text=outcome.text)],
                                     structured_content=outcome.structured, is_error=False)  # fmt: skip
        figures["sdk_model_dump"], _ = _cpu_ms(
            lambda: model.model_dump(by_alias=True, mode="json", exclude_none=True), args.repeat)
        wire = _wire_result(outcome)
        figures["sdk_sieve"], sieved = _cpu_ms(
            lambda: methods.serialize_server_result("tools/call", "2025-11-25", wire), args.repeat)
        message = types.JSONRPCResponse(jsonrpc="2.0", id=1, result=sieved)
        figures["wire_json"], data = _cpu_ms(
            lambda: type(message).__pydantic_serializer__.to_json(message, by_alias=True, exclude_unset=True),
            args.repeat)  # fmt: skip
    print(f"read_graph of {args.entities:,} entities and {len(relations):,} relations ({len(text):,} characters "
          f"of text, {len(data):,} bytes on the wire), engine {args.engine}: CPU ms, least of {args.repeat}")
    for name, ms in figures.items():
        print(f"{name:<18}{ms:>10.1f}")


if __name__ == "__main__":
    main()
