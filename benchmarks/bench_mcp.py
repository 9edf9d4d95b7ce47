"""``graphmem mcp`` against the reference memory server, through the MCP SDK client (issue 19).

Both servers are filled with the same N entities (``bulk-00000``..., type
"Bulk Item", two observations each, one mentioning another entity) and N
relations, then every reference tool is called ``--repeat`` times (read_graph
``--repeat-big`` times) with the same arguments on each server:

- ``search_nodes``: a query matching a few entities ("bulk-00012" style);
- ``open_nodes``: three names; ``read_graph``: the whole graph;
- ``create_entities``: 10 new entities; ``add_observations`` /
  ``delete_observations``: one observation on one entity;
- ``create_relations``: 10 new relations; ``create_relations_5000``: 5,000
  new relations in one call (``--repeat-big`` times, a new type each);
- ``delete_relations`` / ``delete_entities``: the 10 created above.

Reported per call: p50 in milliseconds for

- ``reference``: ``@modelcontextprotocol/server-memory`` (pinned, from npm);
- ``graphmem``: ``graphmem mcp --embedder none`` (``--embedder default`` to
  run the real model: writes return once committed and embed in the
  background; the fill's embedding is waited for, and timed, before the
  calls, so each measured call shares the machine only with its own);
- ``echo``: a minimal server on the same SDK answering each tool with the
  reference's answer to such a call (the same request payloads are sent):
  the transport's floor;

and the ratios graphmem / reference and graphmem / echo, all from one run.
The three run side by side, each call sent to each in turn, so the
machine's load weighs on all alike. The echo replays the reference's
answers, so the reference is first run alone (filled, its file saved, then
the calls for their answers); the reference measured is a second one started
on a copy of the saved file.

On Linux also each server's CPU time per call (median over the calls, all
its threads, from ``/proc/PID/task/*/schedstat``): what a call costs the
server, which the load inflates far less than the wall-clock p50 (that one
also holds the waits for a CPU on a busy machine).

Then the same calls run on graphmem's tools in this process (no MCP, no
transport): what a call costs graphmem itself. And graphmem and the
reference are started again on their filled stores and timed from the spawn
to the answer of ``initialize`` and to the answer of a ``search_nodes`` sent
right after ``tools/list`` (no pause for the background work that
``tools/list`` starts).

Run::

    .venv/bin/python -m benchmarks.bench_mcp --entities 1000 --repeat 30
    .venv/bin/python -m benchmarks.bench_mcp --entities 10000 --repeat 30 --engine ladybug
    .venv/bin/python -m benchmarks.bench_mcp --entities 100000 --only start --starts 5 --store /tmp/start-100k

``--only start`` measures the start alone: graphmem's store is filled in this
process (through ``graphmem.mcp.tools.Tools``, minutes faster than through a
server) and the reference's file written directly; ``--store DIR`` keeps both
for the next run.

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
from collections.abc import Callable
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


TOOLS = ["search_nodes", "open_nodes", "read_graph", "create_entities", "add_observations", "delete_observations",
         "create_relations", "delete_relations", "delete_entities", "create_relations_5000"]


def script(n: int, repeat: int, big: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The measured calls, in order: (row, tool, arguments)."""
    width = len(str(n - 1))
    name = [f"bulk-{i:0{width}d}" for i in range(n)]
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for k, q in enumerate(queries(n, repeat)):
        calls.append(("search_nodes", "search_nodes", {"query": q}))
    for k in range(repeat):
        calls.append(("open_nodes", "open_nodes", {"names": [name[(k * 7 + j * 101) % n] for j in range(3)]}))
    for k in range(big):
        calls.append(("read_graph", "read_graph", {}))
    for k in range(repeat):
        fresh = [f"new-{k}-{j}" for j in range(10)]
        target = name[(k * 13) % n]
        calls += [
            ("create_entities", "create_entities",
             {"entities": [{"name": f, "entityType": "New Item", "observations": [f"made in round {k}"]}
                           for f in fresh]}),
            ("add_observations", "add_observations",
             {"observations": [{"entityName": target, "contents": [f"extra {k}"]}]}),
            ("delete_observations", "delete_observations",
             {"deletions": [{"entityName": target, "observations": [f"extra {k}"]}]}),
            ("create_relations", "create_relations",
             {"relations": [{"from": f, "to": target, "relationType": "made for"} for f in fresh]}),
            ("delete_relations", "delete_relations",
             {"relations": [{"from": f, "to": target, "relationType": "made for"} for f in fresh]}),
            ("delete_entities", "delete_entities", {"entityNames": fresh}),
        ]  # fmt: skip
    for k in range(big):
        wide = [{"from": name[i % n], "to": name[(i % n + 1 + i // n) % n], "relationType": f"wide {k}"}
                for i in range(5000)]  # fmt: skip
        calls.append(("create_relations_5000", "create_relations", {"relations": wide}))
    return calls


async def measure(servers: dict[str, tuple[Any, Path, bool]], entities: list, relations: list,
                  calls: list[tuple[str, str, dict[str, Any]]], filled: Callable[[], None] | None = None,
                  embedded: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Run ``calls`` on every server (name: (parameters, log file, whether to fill it)),
    interleaved: each call goes to each server in turn, so a change in the
    machine's load between calls weighs on all of them alike. ``filled`` is
    called once the servers are filled, before the calls. The servers named
    in ``embedded`` embed in the background: after the fill, one
    ``semantic_search`` waits until every filled entity has its vector
    (reported as ``embedded_s``, from the fill's end), so the calls measured
    do not share the machine with the fill's embedding, only with their own."""
    from contextlib import AsyncExitStack

    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async with AsyncExitStack() as stack:
        sessions: dict[str, tuple[Any, set[int]]] = {}
        fill_s: dict[str, float] = {}
        embedded_s: dict[str, float] = {}
        for name, (params, log, fill) in servers.items():
            errlog = stack.enter_context(open(log, "a", encoding="utf-8"))
            before = _children()
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            sessions[name] = (session, _children() - before)
            fill_s[name] = await _fill(session, entities, relations) if fill else 0.0
            if name in embedded:
                started = time.perf_counter()
                await session.call_tool("semantic_search", {"query": "warm", "limit": 1})
                embedded_s[name] = time.perf_counter() - started
        if filled is not None:
            filled()
        times: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
        cpu: dict[str, dict[str, list[int]]] = {name: {} for name in servers}
        answers: dict[str, dict[str, list[tuple[int, dict[str, Any]]]]] = {name: {} for name in servers}
        for row, tool, arguments in calls:
            for name, (session, server) in sessions.items():
                used = _cpu_ns(server)
                t = time.perf_counter()
                result = await session.call_tool(tool, arguments)
                times[name].setdefault(row, []).append((time.perf_counter() - t) * 1000)
                after = _cpu_ns(server)
                if used is not None and after is not None:
                    cpu[name].setdefault(row, []).append(after - used)
                if result.is_error:
                    raise RuntimeError(f"{name} {row}: {result.content[0].text[:300]}")
                text = result.content[0].text
                answers[name].setdefault(answer_key(tool, arguments), []).append(
                    (len(text), {"text": text, "structured": result.structured_content}))
    out = {}
    for name in servers:
        # Each kind of call's answer of median size: what the echo floor sends back for it.
        typical = {key: sorted(v, key=lambda a: a[0])[len(v) // 2][1] for key, v in answers[name].items()}
        out[name] = {"fill_s": round(fill_s[name], 2), **({"embedded_s": round(embedded_s[name], 2)}
                                                           if name in embedded_s else {}),
                     "p50_ms": {row: round(statistics.median(v), 3) for row, v in times[name].items()},
                     "cpu_ms": {row: round(statistics.median(v) / 1e6, 3) for row, v in cpu[name].items()},
                     "answer_chars": {key: len(a["text"]) for key, a in typical.items()}, "answers": typical}  # fmt: skip
    return out


async def _fill(s: Any, entities: list, relations: list) -> float:
    started = time.perf_counter()
    for i in range(0, len(entities), CHUNK):
        await s.call_tool("create_entities", {"entities": entities[i:i + CHUNK]})
    for i in range(0, len(relations), CHUNK):
        await s.call_tool("create_relations", {"relations": relations[i:i + CHUNK]})
    filled = time.perf_counter() - started
    await s.call_tool("search_nodes", {"query": "warm"})  # warm: derived structures, the text index
    await s.call_tool("open_nodes", {"names": ["warm"]})
    return filled


async def start_times(params: Any, log: Path, query: str) -> dict[str, float]:
    """Seconds from spawning the server to the answer of ``initialize``, and to
    the answer of a ``search_nodes`` sent right after ``tools/list``; on Linux
    also the server's CPU seconds (every thread, ended ones too) up to that
    answer, which the machine's load inflates far less than the wall clock."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    with open(log, "a", encoding="utf-8") as errlog:
        before = _children()
        started = time.perf_counter()
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            initialized = time.perf_counter() - started
            await s.list_tools()
            result = await s.call_tool("search_nodes", {"query": query})
            searched = time.perf_counter() - started
            cpu = _process_cpu_s(_children() - before)
            if result.is_error:
                raise RuntimeError(f"search_nodes after a restart: {result.content[0].text[:300]}")
    out = {"initialize_s": round(initialized, 3), "first_search_s": round(searched, 3)}
    if cpu is not None:
        out["cpu_s"] = round(cpu, 3)
    return out


def start_only(args: argparse.Namespace, entry: Path, root: Path) -> None:
    """``--only start``: fill a graphmem store in this process (``Tools``, as
    :func:`in_process` does) and write the reference's file directly, unless
    ``root`` holds them from an earlier run; then start each server
    ``--starts`` times in turn on them and print the median of each figure."""
    import anyio
    from mcp import StdioServerParameters

    entities, relations = dataset(args.entities)
    store, jsonl = root / "store", root / "memory.jsonl"
    marker = root / f"filled-{args.entities}-{args.engine}"
    if not marker.exists():
        import graphmem
        from graphmem.mcp.tools import Tools

        shutil.rmtree(store, ignore_errors=True)
        with graphmem.open(store, engine=args.engine, embedder=None) as mem:
            tools = Tools(mem)
            for i in range(0, len(entities), CHUNK):
                tools.call("create_entities", {"entities": entities[i:i + CHUNK]})
            for i in range(0, len(relations), CHUNK):
                tools.call("create_relations", {"relations": relations[i:i + CHUNK]})
        with open(jsonl, "w", encoding="utf-8") as fh:
            for e in entities:
                fh.write(json.dumps({"type": "entity", **e}) + "\n")
            for r in relations:
                fh.write(json.dumps({"type": "relation", **r}) + "\n")
        marker.touch()
    env = dict(os.environ)
    servers = {
        "reference": StdioServerParameters(command="node", args=[str(entry)], env={**env, "MEMORY_FILE_PATH": str(jsonl)}),
        "graphmem": StdioServerParameters(command=sys.executable, env=env, args=[
            "-m", "graphmem", "--engine", args.engine, "mcp", str(store), "--embedder", args.embedder]),
    }  # fmt: skip
    query = queries(args.entities, 1)[0]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}

    async def run() -> None:
        for _ in range(args.starts):
            for name, params in servers.items():
                runs[name].append(await start_times(params, root / f"{name}.log", query))

    anyio.run(run)
    print(f"start, {args.entities:,} entities, engine {args.engine}, embedder {args.embedder}, "
          f"{args.starts} starts each (median; all runs after)")
    for name, figures in runs.items():
        med = {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        cpu = f", server CPU {med['cpu_s']:.2f} s" if "cpu_s" in med else ""
        print(f"{name:<10} initialize {med['initialize_s']:.2f} s, first search_nodes {med['first_search_s']:.2f} s{cpu}"
              f"   {[(f['initialize_s'], f['first_search_s'], f.get('cpu_s')) for f in figures]}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"entities": args.entities, "engine": args.engine, "embedder": args.embedder,
                                         "start": runs}, indent=2) + "\n")  # fmt: skip


def _children() -> set[int]:
    """This process's child processes (Linux; empty elsewhere)."""
    try:
        tasks = os.listdir(f"/proc/{os.getpid()}/task")
        return {int(p) for t in tasks for p in Path(f"/proc/{os.getpid()}/task/{t}/children").read_text().split()}
    except OSError:
        return set()


def _cpu_ns(pids: set[int]) -> int | None:
    """CPU time so far of ``pids`` (every thread), in nanoseconds; ``None`` where /proc has no schedstat."""
    total = 0
    try:
        for pid in pids:
            for task in os.listdir(f"/proc/{pid}/task"):
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total if pids else None


def _process_cpu_s(pids: set[int]) -> float | None:
    """CPU seconds so far of the processes ``pids`` (user + system, every thread
    including those that have ended, from ``/proc/PID/stat``); ``None`` where
    there is no such file."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK") if pids else None


def in_process(entities: list, relations: list, calls: list[tuple[str, str, dict[str, Any]]], *, engine: str,
               embedder: str, path: Path) -> dict[str, Any]:  # fmt: skip
    """The same calls on graphmem's tools in this process (``graphmem.mcp.tools.Tools``
    over an open store, no MCP): what a call costs before any transport; p50
    wall-clock and CPU (this process, every thread: the engine's too) per call."""
    import graphmem
    from graphmem.mcp.tools import Tools

    # Opened as `graphmem mcp` opens it: with the model, writes embed in the background.
    with graphmem.open(path, engine=engine, embedder=None if embedder == "none" else embedder,
                       background_embedding=True) as mem:  # fmt: skip
        tools = Tools(mem)
        for i in range(0, len(entities), CHUNK):
            tools.call("create_entities", {"entities": entities[i:i + CHUNK]})
        for i in range(0, len(relations), CHUNK):
            tools.call("create_relations", {"relations": relations[i:i + CHUNK]})
        tools.call("search_nodes", {"query": "warm"})
        mem.wait_embedded()  # as measure() does: the fill's embedding is not in the calls' figures
        times: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for row, tool, arguments in calls:
            c, t = time.process_time(), time.perf_counter()
            outcome = tools.call(tool, arguments)
            times.setdefault(row, []).append((time.perf_counter() - t) * 1000)
            cpu.setdefault(row, []).append((time.process_time() - c) * 1000)
            if outcome.is_error:
                raise RuntimeError(f"in process {row}: {outcome.text[:300]}")
    return {"p50_ms": {row: round(statistics.median(v), 3) for row, v in times.items()},
            "cpu_ms": {row: round(statistics.median(v), 3) for row, v in cpu.items()}}


def answer_key(tool: str, arguments: dict[str, Any]) -> str:
    """Calls of one tool with as many items get the same echo answer (10 and 5,000 relations differ)."""
    return f"{tool}/{sum(len(v) for v in arguments.values() if isinstance(v, list))}"


def main() -> None:
    import anyio
    from mcp import StdioServerParameters

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--repeat-big", type=int, default=5, help="read_graph and the 5,000-relation call")
    parser.add_argument("--embedder", default="none", choices=["none", "default"])
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--npm-cache", type=Path, default=Path.home() / ".cache" / "graphmem-bench" / "server-memory")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["start"],
                        help="start: only the start times (stores filled in process, not through the servers)")
    parser.add_argument("--starts", type=int, default=3, help="with --only start: starts per server")
    parser.add_argument("--store", type=Path, help="with --only start: keep the filled stores here and reuse them")
    args = parser.parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("needs node and npm to run the reference server")
    entry = install_reference(args.npm_cache)
    if args.only == "start":
        if args.store is not None:
            args.store.mkdir(parents=True, exist_ok=True)
            start_only(args, entry, args.store)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
                start_only(args, entry, Path(tmp))
        return
    entities, relations = dataset(args.entities)
    calls = script(args.entities, args.repeat, args.repeat_big)
    env = dict(os.environ)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        root = Path(tmp)

        async def run() -> None:
            ref = StdioServerParameters(command="node", args=[str(entry)],
                                        env={**env, "MEMORY_FILE_PATH": str(root / "memory.jsonl")})  # fmt: skip
            # The reference once alone, for its answers (the echo answers each call with
            # the reference's answer to it), saving its file as filled; then a second
            # reference on a copy of that file runs side by side with graphmem and the echo.
            filled = root / "memory-filled.jsonl"
            alone = await measure({"reference": (ref, root / "ref.log", True)}, entities, relations, calls,
                                  filled=lambda: shutil.copyfile(root / "memory.jsonl", filled))  # fmt: skip
            answers = root / "answers.json"
            answers.write_text(json.dumps(alone["reference"]["answers"]), encoding="utf-8")
            shutil.copyfile(filled, root / "memory-2.jsonl")
            ref2 = StdioServerParameters(command="node", args=[str(entry)],
                                         env={**env, "MEMORY_FILE_PATH": str(root / "memory-2.jsonl")})  # fmt: skip
            gm_args = ["-m", "graphmem", "--engine", args.engine, "mcp", str(root / "store"),
                       "--embedder", args.embedder]  # fmt: skip
            gm = StdioServerParameters(command=sys.executable, args=gm_args, env=env)
            echo = StdioServerParameters(command=sys.executable, args=["-m", "benchmarks.mcp_echo", str(answers)],
                                         env=env)  # fmt: skip
            results.update(await measure({"reference": (ref2, root / "ref.log", False),
                                          "graphmem": (gm, root / "gm.log", True),
                                          "echo": (echo, root / "echo.log", False)}, entities, relations, calls,
                                         embedded=frozenset() if args.embedder == "none" else frozenset({"graphmem"})))
            results["reference"]["fill_s"] = alone["reference"]["fill_s"]
            query = queries(args.entities, 1)[0]
            results["reference"]["start"] = await start_times(ref, root / "ref.log", query)
            results["graphmem"]["start"] = await start_times(gm, root / "gm.log", query)

        anyio.run(run)
        results["in_process"] = in_process(entities, relations, calls, engine=args.engine, embedder=args.embedder,
                                           path=root / "in-process")  # fmt: skip
    ref, gm, echo = (results[k]["p50_ms"] for k in ("reference", "graphmem", "echo"))
    print(f"{args.entities:,} entities, {args.repeat} calls per tool ({args.repeat_big} for read_graph and "
          f"create_relations_5000), engine {args.engine}, embedder {args.embedder}")
    embedded = results["graphmem"].get("embedded_s")
    print(f"fill s: reference {results['reference']['fill_s']}, graphmem {results['graphmem']['fill_s']}"
          + ("" if embedded is None else f" (every vector stored {embedded} s after the fill's last answer)"))
    print(f"{'call':<24}{'reference':>11}{'graphmem':>10}{'echo':>9}{'x reference':>13}{'x echo':>9}")
    for row in TOOLS:
        print(f"{row:<24}{ref[row]:>11.2f}{gm[row]:>10.2f}{echo[row]:>9.2f}{gm[row] / ref[row]:>13.2f}"
              f"{gm[row] / echo[row]:>9.2f}")  # fmt: skip
    cpus = [results[k].get("cpu_ms", {}) for k in ("reference", "graphmem", "echo")]
    if all(cpus):
        print("server CPU per call, ms (all threads; median)")
        print(f"{'call':<24}{'reference':>11}{'graphmem':>10}{'echo':>9}{'x reference':>13}{'x echo':>9}")
        for row in TOOLS:
            r, g, e = (c[row] for c in cpus)
            print(f"{row:<24}{r:>11.2f}{g:>10.2f}{e:>9.2f}{g / r:>13.2f}{g / e:>9.2f}")
    inner = results["in_process"]
    print("graphmem's tools in process (no MCP), ms: p50 wall-clock, CPU")
    for row in TOOLS:
        print(f"{row:<24}{inner['p50_ms'][row]:>11.2f}{inner['cpu_ms'][row]:>10.2f}")
    for name in ("reference", "graphmem"):
        start = results[name]["start"]
        print(f"start ({name}): initialize answered after {start['initialize_s']:.2f} s, "
              f"search_nodes after {start['first_search_s']:.2f} s")
    for r in results.values():
        r.pop("answers", None)
    if args.json:
        args.json.write_text(json.dumps({"entities": args.entities, "engine": args.engine, "embedder": args.embedder,
                                         "results": results}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
