"""``graphmem mcp`` against the reference memory server, through the MCP SDK client (issue 19, first cut).

Both servers are filled with the same N entities (``bulk-00000``..., type
"Bulk Item", two observations each, one mentioning another entity) and N
relations, then ``search_nodes`` is called ``--repeat`` times with queries
that each match a few entities ("bulk-00012" style). Reported: p50 and p90
per server in milliseconds, for

- ``reference``: ``@modelcontextprotocol/server-memory`` (pinned, from npm);
- ``graphmem``: ``graphmem mcp --embedder default`` (the real model), default
  ``search_nodes`` (text matches only, as the reference);
- ``graphmem-semantic``: the same server's ``search_nodes`` with
  ``semantic: true`` (what the default did before: it embedded every query);
- ``echo``: a minimal server on the same SDK answering every tool with a
  constant text as long as the reference's answer to the same query: the
  transport's floor.

Run::

    .venv/bin/python -m benchmarks.bench_mcp --entities 1000 --repeat 50
    .venv/bin/python -m benchmarks.bench_mcp --entities 10000 --repeat 50 --engine ladybug

Needs node and npm (the reference is installed into ``--npm-cache`` once).
Prints a table; ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REFERENCE = "@modelcontextprotocol/server-memory@2026.8.31"
CHUNK = 500


def install_reference(cache: Path) -> Path:
    entry = cache / "node_modules" / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
    if not entry.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(cache), "--cache", str(cache / ".npm"), "--no-audit",
                        "--no-fund", REFERENCE], check=True, capture_output=True)  # fmt: skip
    return entry


def dataset(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    width = len(str(n - 1))
    name = [f"bulk-{i:0{width}d}" for i in range(n)]
    entities = [{"name": name[i], "entityType": "Bulk Item",
                 "observations": [f"note {i}", f"mentions {name[(i * 7919) % n]}"]} for i in range(n)]  # fmt: skip
    relations = [{"from": name[i], "to": name[(i + 1) % n], "relationType": "next"} for i in range(n)]
    return entities, relations


def queries(n: int, count: int) -> list[str]:
    width = len(str(n - 1))
    return [f"bulk-{(i * 37) % n:0{width}d}" for i in range(count)]


async def measure(params: Any, log: Path, entities: list, relations: list, qs: list[str],
                  extra: dict[str, Any] | None = None, fill: bool = True) -> dict[str, Any]:  # fmt: skip
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    with open(log, "a", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            return await _calls(s, entities, relations, qs, extra, fill)


async def _calls(s: Any, entities: list, relations: list, qs: list[str], extra: dict[str, Any] | None,
                 fill: bool) -> dict[str, Any]:  # fmt: skip
    started = time.perf_counter()
    if fill:
        for i in range(0, len(entities), CHUNK):
            await s.call_tool("create_entities", {"entities": entities[i:i + CHUNK]})
        for i in range(0, len(relations), CHUNK):
            await s.call_tool("create_relations", {"relations": relations[i:i + CHUNK]})
    filled = time.perf_counter() - started
    await s.call_tool("search_nodes", {"query": qs[0], **(extra or {})})  # warm: caches, the model
    times, sizes = [], []
    for q in qs:
        t = time.perf_counter()
        result = await s.call_tool("search_nodes", {"query": q, **(extra or {})})
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(result.content[0].text))
    times.sort()
    return {"fill_s": round(filled, 2), "p50_ms": round(statistics.median(times), 2),
            "p90_ms": round(times[int(len(times) * 0.9)], 2), "answer_chars": int(statistics.median(sizes))}  # fmt: skip


def main() -> None:
    import anyio
    from mcp import StdioServerParameters

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--npm-cache", type=Path, default=Path.home() / ".cache" / "graphmem-bench" / "server-memory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("needs node and npm to run the reference server")
    entry = install_reference(args.npm_cache)
    entities, relations = dataset(args.entities)
    qs = queries(args.entities, args.repeat)
    env = dict(os.environ)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        root = Path(tmp)

        async def run() -> None:
            ref = StdioServerParameters(command="node", args=[str(entry)],
                                        env={**env, "MEMORY_FILE_PATH": str(root / "memory.jsonl")})  # fmt: skip
            results["reference"] = await measure(ref, root / "ref.log", entities, relations, qs)
            gm_args = ["-m", "graphmem", "--engine", args.engine, "mcp", str(root / "store"), "--embedder", "default"]
            gm = StdioServerParameters(command=sys.executable, args=gm_args, env=env)
            results["graphmem"] = await measure(gm, root / "gm.log", entities, relations, qs)
            results["graphmem-semantic"] = await measure(gm, root / "gm.log", entities, relations, qs,
                                                         {"semantic": True}, fill=False)  # fmt: skip
            echo = StdioServerParameters(command=sys.executable, args=[
                "-m", "benchmarks.mcp_echo", str(results["reference"]["answer_chars"])], env=env)  # fmt: skip
            results["echo"] = await measure(echo, root / "echo.log", [], [], qs, fill=False)

        anyio.run(run)
    floor = results["echo"]["p50_ms"]
    ref = results["reference"]["p50_ms"]
    print(f"search_nodes, {args.entities:,} entities, {args.repeat} calls, engine {args.engine}")
    print(f"{'server':<20}{'p50 ms':>10}{'p90 ms':>10}{'x echo':>10}{'x reference':>14}{'fill s':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['p50_ms']:>10.2f}{r['p90_ms']:>10.2f}{r['p50_ms'] / floor:>10.2f}"
              f"{r['p50_ms'] / ref:>14.2f}{r['fill_s']:>10.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"entities": args.entities, "engine": args.engine, "results": results},
                                        indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
