"""Where graphmem's small MCP writes go (issue 19), tool by tool and statement by statement, in process.

Fills a store with :func:`benchmarks.bench_mcp.dataset` through graphmem's
tools (or reuses one filled before, ``--store``: a copy is written to, the
filled one is kept), then runs the six small write calls of
:func:`benchmarks.bench_mcp.script` on ``graphmem.mcp.tools.Tools`` (no
MCP) and prints, per tool, the p50 wall-clock and CPU of a call and, per
store statement it ran, how many per call and the median span (from the
statement's start to the next one's, or to the call's end: the engine's
work plus the Python around it). ``--profile TOOL`` adds a cProfile of that
tool's calls (CPU time, the first two left out: imports and plans).

A statement whose span grows with ``--entities`` is one that scans (compare
1,000 with 100,000); the statements and the commit are what a call costs
beyond the echo's floor.

Run::

    nice -n 5 .venv/bin/python -m benchmarks.mcp_write_probe --entities 100000 --repeat 5 --store /tmp/mcpw
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

WRITES = ["create_entities", "add_observations", "delete_observations", "create_relations", "delete_relations",
          "delete_entities"]  # fmt: skip


def fill(path: Path, n: int, engine: str) -> None:
    """A store of ``n`` entities and ``n`` relations, filled through the tools as a server fills it."""
    import graphmem
    from benchmarks.bench_mcp import CHUNK, dataset
    from graphmem.mcp.tools import Tools

    entities, relations = dataset(n)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        tools = Tools(mem)
        for i in range(0, len(entities), CHUNK):
            tools.call("create_entities", {"entities": entities[i:i + CHUNK]})
        for i in range(0, len(relations), CHUNK):
            tools.call("create_relations", {"relations": relations[i:i + CHUNK]})


def probe(path: Path, n: int, repeat: int, engine: str, profile: str | None) -> dict[str, Any]:
    import graphmem
    from benchmarks.bench_mcp import script
    from graphmem.mcp.tools import Tools

    calls = [c for c in script(n, repeat, 0) if c[0] in WRITES]
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    spans: dict[str, dict[str, list[float]]] = {}
    profiler = cProfile.Profile(time.process_time) if profile else None
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        tools = Tools(mem)
        tools.call("search_nodes", {"query": "warm"})  # the text index, as the server warms it
        mem.find_relations(["warm"])  # the map of relation types as written
        marks: list[tuple[str, float]] = []
        mem.tracer = lambda name, params: marks.append((name, time.perf_counter()))
        for row, tool, arguments in calls:
            marks.clear()
            profiling = profiler is not None and row == profile and len(wall.get(row, ())) >= 2
            c, t = time.process_time(), time.perf_counter()
            if profiling:
                profiler.enable()  # type: ignore[union-attr]
            outcome = tools.call(tool, arguments)
            if profiling:
                profiler.disable()  # type: ignore[union-attr]
            end = time.perf_counter()
            wall.setdefault(row, []).append((end - t) * 1000)
            cpu.setdefault(row, []).append((time.process_time() - c) * 1000)
            if outcome.is_error:
                raise RuntimeError(f"{row}: {outcome.text[:300]}")
            per = spans.setdefault(row, {})
            for (name, started), (_, after) in zip(marks, marks[1:] + [("", end)]):
                per.setdefault(name, []).append((after - started) * 1000)
        mem.tracer = None
    out: dict[str, Any] = {}
    for row in WRITES:
        out[row] = {"wall_ms": statistics.median(wall[row]), "cpu_ms": statistics.median(cpu[row]),
                    "statements": {name: (len(v) / len(wall[row]), statistics.median(v))
                                   for name, v in spans[row].items()}}  # fmt: skip
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--store", type=Path, help="keep the filled store here and reuse it")
    parser.add_argument("--profile", choices=WRITES, help="cProfile this tool's calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-write-probe-") as tmp:
        root = args.store or Path(tmp)
        filled = root / f"filled-{args.engine}-{args.entities}"
        if not filled.exists():
            fill(filled, args.entities, args.engine)
        work = Path(tmp) / "work"
        shutil.copytree(filled, work)
        result = probe(work, args.entities, args.repeat, args.engine, args.profile)
    print(f"{args.entities:,} entities, {args.repeat} calls per tool, engine {args.engine}; ms")
    for row in WRITES:
        r = result[row]
        print(f"{row:<24}wall {r['wall_ms']:8.2f}   CPU {r['cpu_ms']:8.2f}")
        for name, (per_call, span) in r["statements"].items():
            print(f"    {name:<40}{per_call:5.1f} per call {span:8.3f}")
    if "profile" in result:
        print(result["profile"])


if __name__ == "__main__":
    main()
