"""How fast ``graphmem mcp`` stops when asked (issue 16.4).

A server on a store of N entities with 384-d vectors (default 100k) is
started the way an agent host starts it, made to do what a session does (a
semantic search, so the vector index and the embedding model are loaded, and
a write, so the index is dirty), then asked to stop in one of four ways:

- ``sigterm`` / ``sigint``: the signal, with the client's end of stdin still open;
- ``eof``: the client closes the server's stdin;
- ``sdk``: the MCP SDK's stdio client leaves its ``async with`` (it closes
  stdin, waits 2 s, then SIGTERMs the process group, then SIGKILLs it).

The figure is the time from the request to the process's exit (for ``sdk``:
the time the client's ``async with`` takes to exit). After each stop the
script checks that the store's lock is free (it opens the store read-write),
that ``mcp.sock`` is gone and that the write is there.

Run (the store is built once per engine under ``--dir`` and reused)::

    .venv/bin/python -m benchmarks.bench_mcp_shutdown --engine kuzu --entities 100000 --repeat 5
    .venv/bin/python -m benchmarks.bench_mcp_shutdown --engine ladybug --entities 100000 --repeat 5

Not part of ``benchmarks.run``: it measures a process's lifecycle, not an
operation on a store, and prints its figures (``--json`` writes them).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import graphmem

from .vector_data import clustered

MODES = ("sigterm", "sigint", "eof", "sdk")
DIM = 384  # the default embedder's dimension: the server embeds queries with it
BATCH = 10_000
DEADLINE = 60.0  # a server still alive this long after the request counts as hung


def build_store(path: Path, engine: str, n: int, *, log: Any = print) -> None:
    """``n`` entities, each with two observations and a 384-d vector, two
    relations per entity, and a saved vector index (as a store that has been
    searched and closed has)."""
    if (path / ".built").exists():
        return
    start = time.perf_counter()
    vectors, _ = clustered(n, 1, dim=DIM, seed=16)
    rng = np.random.default_rng(16)
    mem = graphmem.open(path, engine=engine, embedder=None)
    try:
        for lo in range(0, n, BATCH):
            hi = min(lo + BATCH, n)
            mem.add_entities([{"name": f"e{i}", "type": "thing", "observations": [f"note {i}", f"seen {i % 97}"],
                               "embedding": vectors[i]} for i in range(lo, hi)])  # fmt: skip
        targets = rng.integers(0, n, size=(n, 2))
        for lo in range(0, n, BATCH):
            hi = min(lo + BATCH, n)
            mem.add_relations([(f"e{i}", "knows", f"e{int(j)}") for i in range(lo, hi) for j in targets[i]
                               if int(j) != i])  # fmt: skip
        mem.search(vectors[0], k=5)  # loads (builds) the vector index, which close() then saves
    finally:
        mem.close()
    (path / ".built").touch()
    log(f"built {engine} store of {n:,} entities in {time.perf_counter() - start:.1f} s: {path}")


def _server_args(path: Path, engine: str) -> list[str]:
    return [sys.executable, "-m", "graphmem", "--engine", engine, "mcp", str(path), "--embedder", "default"]


def _requests(tag: str) -> list[dict[str, Any]]:
    """What the session does before the stop: a semantic search (the model and
    the index load) and a write (the index is dirty; the old close saved it)."""
    return [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "semantic_search", "arguments": {"query": "note 5 seen 3"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "create_entities", "arguments": {"entities": [
                {"name": tag, "entityType": "thing", "observations": ["written before the stop"]}]}}},
    ]  # fmt: skip


def _stop_raw(path: Path, engine: str, mode: str, tag: str, errlog: Any) -> tuple[float, int]:
    """Start a server on a pipe, run the session, stop it by ``mode``; (seconds to exit, status)."""
    proc = subprocess.Popen(_server_args(path, engine), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog)
    try:
        for message in _requests(tag):
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            if "id" in message:
                answer = json.loads(proc.stdout.readline())
                if "error" in answer or answer.get("result", {}).get("isError"):
                    raise RuntimeError(f"the session's request {message['method']} failed: {answer}")
        start = time.perf_counter()
        if mode == "eof":
            proc.stdin.close()
        else:
            proc.send_signal(signal.SIGTERM if mode == "sigterm" else signal.SIGINT)
        status = _wait(proc.pid)
        elapsed = time.perf_counter() - start
        proc.returncode = status
        return elapsed, status
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if not stream.closed:
                stream.close()


def _wait(pid: int) -> int:
    """Block until ``pid`` exits (``waitpid``: no polling in the figure); its exit
    status, -9 if it was still alive after DEADLINE seconds (a hang)."""
    watchdog = threading.Timer(DEADLINE, os.kill, (pid, signal.SIGKILL))
    watchdog.start()
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        watchdog.cancel()
    return os.waitstatus_to_exitcode(status)


def _stop_sdk(path: Path, engine: str, tag: str, errlog: Any) -> tuple[float, int]:
    """The same session through the SDK's stdio client; the figure is its ``async with`` exit."""
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = _server_args(path, engine)
    params = StdioServerParameters(command=args[0], args=args[1:], env=dict(os.environ))

    async def main() -> float:
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            for message in _requests(tag)[2:]:
                result = await session.call_tool(message["params"]["name"], message["params"]["arguments"])
                if result.is_error:
                    raise RuntimeError(f"{message['params']['name']} failed: {result.content[0].text}")
            start = time.perf_counter()
            await stack.aclose()
            return time.perf_counter() - start
        raise AssertionError("unreachable")

    return anyio.run(main), 0


def _check(path: Path, engine: str, tag: str) -> dict[str, Any]:
    """After a stop: the socket is gone, the store opens read-write, the write is there."""
    socket_left = (path / "mcp.sock").exists()
    try:
        mem = graphmem.open(path, engine=engine, embedder=None)
    except graphmem.StoreLocked:
        return {"socket_left": socket_left, "lock_free": False, "write_kept": None}
    try:
        return {"socket_left": socket_left, "lock_free": True, "write_kept": mem.get_entity(tag) is not None}
    finally:
        mem.close()


def measure(path: Path, engine: str, modes: tuple[str, ...], repeat: int, *, log: Any = print) -> dict[str, Any]:
    """``repeat`` stops of each mode, interleaved (mode order rotates each round)."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    errlog_path = path.parent / f"{path.name}-servers.log"
    with open(errlog_path, "a", encoding="utf-8") as errlog:
        for round_ in range(repeat):
            for mode in modes[round_ % len(modes):] + modes[: round_ % len(modes)]:
                tag = f"stop-{mode}-{round_}-{time.time_ns()}"
                errlog.write(f"== {mode} {tag}\n")
                errlog.flush()
                before = errlog_path.stat().st_size
                if mode == "sdk":
                    elapsed, status = _stop_sdk(path, engine, tag, errlog)
                else:
                    elapsed, status = _stop_raw(path, engine, mode, tag, errlog)
                errlog.flush()
                with open(errlog_path, encoding="utf-8") as fh:
                    fh.seek(before)
                    escalated = "stopped by signal" in fh.read() and mode in ("eof", "sdk")
                run = {"seconds": elapsed, "status": status, "escalated_to_signal": escalated,
                       **_check(path, engine, tag)}  # fmt: skip
                runs[mode].append(run)
                log(f"{engine} {mode}: {elapsed * 1000:.0f} ms, status {status}, {run}")
    summary = {
        mode: {
            "median_ms": round(statistics.median(r["seconds"] for r in rs) * 1000, 1),
            "min_ms": round(min(r["seconds"] for r in rs) * 1000, 1),
            "max_ms": round(max(r["seconds"] for r in rs) * 1000, 1),
            "runs": len(rs),
            "hung": sum(r["status"] == -signal.SIGKILL for r in rs),  # killed by the DEADLINE watchdog
            "all_clean": all(r["status"] >= 0 and r["lock_free"] and r["write_kept"] and not r["socket_left"]
                             for r in rs),  # fmt: skip
        }
        for mode, rs in runs.items()
    }
    return {"engine": engine, "summary": summary, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="kuzu", choices=("kuzu", "ladybug"))
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "graphmem-bench-mcp-shutdown")
    parser.add_argument("--json", type=Path, help="write the runs and the summary here")
    args = parser.parse_args(argv)
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}")
    path = args.dir / f"{args.engine}-{args.entities}"
    args.dir.mkdir(parents=True, exist_ok=True)
    build_store(path, args.engine, args.entities)
    result = measure(path, args.engine, modes, args.repeat)
    result.update(entities=args.entities, load_average=os.getloadavg(), commit=_commit())
    for mode, s in result["summary"].items():
        print(f"{args.engine} {args.entities:,} entities, {mode}: median {s['median_ms']} ms "
              f"(min {s['min_ms']}, max {s['max_ms']}, {s['runs']} runs), hung {s['hung']}, clean: {s['all_clean']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


if __name__ == "__main__":
    main()
