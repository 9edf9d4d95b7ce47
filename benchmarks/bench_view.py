"""``graphmem view``: p50 of each API call the page makes, over HTTP, store opened per request (issue 22).

The issue's budget: every call the page makes answers in <= 50 ms (p50) at
1M entities. The store of :mod:`benchmarks.datasets` (``--kind``, N
entities, 5N relations, each entity with a text embedded by
:class:`graphmem.HashEmbedder`, so meaning search runs without a model) is
loaded through the public API; a :class:`~graphmem.view.ViewServer` then
serves it on 127.0.0.1 in this process and a client logged in with the
single-use token times each request end to end (HTTP, the read-only open
the viewer does per request, the answer, the close). Requests go one at a
time, as the page's do when a person clicks, so each pays its own open.

Three modes, one after the other on the same store: ``yielding`` (the
viewer's default: one read-only handle kept across requests, let go whenever
a writer asks for the store through the release socket beside it,
:mod:`graphmem.store.release`), ``per_request`` (``--hold 0``: the store is
opened and closed for every request, so agents can open it read-write between
them) and ``held`` (``--hold 3600``: one handle kept, and no writer heard).
``open_close`` times the per-request open and close alone; in ``yielding``,
``release`` times what a writer's open waits for before it retries its lock
(asking the viewer, which finishes its requests in flight and closes; the
writer's own open is not included, so the store is not written) and
``entity_after_release`` the next request, which opens the store again;
Per request, a call that needs nothing but what an earlier open loaded is
answered without opening at all while the store is unchanged
(:meth:`graphmem.Memory.detached`); each line says how many requests opened.
``overview_first`` is the first call of a mode: it loads the graph state (the
saved one, mapped), builds the name index and the type summary; ``overview``
is the cached answer while the store is unchanged. Per request, what one open
loaded is taken over by the next while the store's files are unchanged
(``graphmem.open(..., reuse=)``), so the timed calls after it pay for the
open and their answer. The first meaning search of a mode loads the vector
index (in the warm-up calls, not timed). ``neighbors_hub`` and ``entity_hub``
ask about the entity with the most relations (24,232 at 1M ``powerlaw``): the
random picks have degree ~6, and a hub's answer must stay bounded too;
``relations_hub`` is the panel's "older relations" there (its second page).

A fourth mode, ``holder`` (not in the default ``--modes``): an MCP server
(``graphmem mcp PATH --http 127.0.0.1:0 --embedder hash``, started here as a
subprocess and stopped after) holds the store read-write, so the viewer
cannot open it and forwards each call over the server's share socket
(:mod:`graphmem.view.follower`), which answers it from its own memory with
the viewer's functions (:mod:`graphmem.explore`); every call the page makes
there is timed (``overview`` is the holder's answer each time: the viewer
caches only its own). The server opens the store read-write, so it writes it (its token file, a
migration to this graphmem's schema); run it on a copy of a store that must
stay as it is.

Run::

    nice -n 5 python -m benchmarks.bench_view --size 100000
    # build a 1M store once and keep it; later runs reuse it:
    nice -n 5 python -m benchmarks.bench_view --size 1000000 --store /some/dir/view-1m
    # the viewer's default only, on a store that must not be written (the release is timed without a writer):
    nice -n 5 python -m benchmarks.bench_view --size 1000000 --store /some/dir/view-1m --modes yielding
    # through an MCP server holding the store (it writes the store: use a copy):
    cp -a /some/dir/view-1m /tmp/view-1m-copy
    nice -n 5 python -m benchmarks.bench_view --size 1000000 --store /tmp/view-1m-copy --modes holder
    # only the history calls, per request (``--calls`` takes the names printed):
    nice -n 5 python -m benchmarks.bench_view --size 1000000 --store /some/dir/view-1m --modes per_request \
        --calls open_close,entity,entity_hub,relations_hub

Where those calls spend their CPU, part by part: :mod:`benchmarks.view_history_probe`.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

import graphmem
from benchmarks.datasets import generate
from graphmem.store import release
from graphmem.store.engine import default_engine
from graphmem.view import make_server
from tests.view_helpers import Client, running

LOAD_BATCH = 50_000
LADYBUG_LOAD_POOL = 2 << 30
"""Buffer pool of the build on ladybug: at the default 512 MiB its ``add_entities`` fails at 1M with
"buffer pool is full" (the viewer's read-only opens keep the default)."""


def _load(path: Path, engine: str, kind: str, n: int) -> tuple[Any, float]:
    graph = generate(kind, n)
    started = time.perf_counter()
    config = graphmem.StoreConfig(buffer_pool_size=LADYBUG_LOAD_POOL) if engine == "ladybug" else None
    with graphmem.open(path, engine=engine, embedder=graphmem.HashEmbedder(), config=config) as mem:
        for start in range(0, n, LOAD_BATCH):
            mem.add_entities(graph.entity_records(start, min(start + LOAD_BATCH, n)))
        for start in range(0, graph.m, LOAD_BATCH):
            mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, graph.m)))
        # One search builds the vector index, so close saves it, as an agent's own searches do: a
        # read-only open cannot save it, and without it each of the viewer's opens would rebuild it.
        mem.search("warm up", 1)
    return graph, time.perf_counter() - started


def _p50(fn: Any, reps: int, warmup: int = 2) -> tuple[float, float, float]:
    """p50 and p95 wall ms of ``fn``, and p50 CPU ms of this process while it ran (the server
    answers in a thread of this process: on a shared machine wall minus CPU is mostly waiting
    for a core)."""
    for i in range(warmup):
        fn(i)
    times, cpu = [], []
    for i in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(warmup + i)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], statistics.median(cpu)


class CallFailed(RuntimeError):
    """A call the page makes answered other than 200 (recorded as the call's result, and the run goes on)."""


MODES = {"yielding": None, "per_request": 0.0, "held": 3600.0}
"""Each mode's ``hold`` (see :class:`graphmem.view.PerRequest`)."""
ALL_MODES = (*MODES, "holder")
HOLDER_CALLS = ("overview", "search", "type", "entity", "neighbors", "neighbors_as_of", "neighbors_hub", "entity_hub",
                "relations_hub", "relation", "paths")
"""What the page asks of a viewer reading through an MCP holder (all of it, ``as_of`` included)."""
HOLDER_START = 600.0
"""Seconds the MCP server may take to open the store (a migration at 1M included) before the run gives up."""


@contextmanager
def mcp_holder(path: Path, engine: str) -> Iterator[None]:
    """An MCP server (this checkout's graphmem, a subprocess) holding ``path`` until the block ends."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    log = open(path.parent / f"{path.name}-mcp.log", "ab")  # noqa: SIM115  closed below
    server = subprocess.Popen([sys.executable, "-m", "graphmem", "--engine", engine, "mcp", str(path), "--embedder",
                               "hash", "--http", "127.0.0.1:0"], cwd=root, env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + HOLDER_START
        while not (path / "mcp.sock").exists():  # the holder listens once it has the store open
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the MCP server did not hold {path} (see {log.name})")
            time.sleep(0.2)
        yield
    finally:
        server.terminate()
        server.wait(60)
        log.close()


def _measure(path: Path, engine: str, hold: float | None, reps: int, picks: list[str], pairs: list[tuple[str, str]],
             relations: list[tuple[str, str, str]], hub: str, only: tuple[str, ...] = ()
             ) -> dict[str, Any]:  # fmt: skip
    as_of = "2020-01-01T00:00:00Z"
    out: dict[str, Any] = {}
    failed: dict[str, str] = {}  # call -> the answer of a call that did not succeed (it is a result too)
    server = make_server(path, engine=engine, embedder=graphmem.HashEmbedder(), hold=hold)
    with running(server):
        client = Client(server.origin)
        client.login(server.url)

        def get(endpoint: str, **params: Any) -> Any:
            status, _, body = client.request("GET", f"/api/{endpoint}?{urlencode(params)}")
            if status != 200:
                raise CallFailed(f"{endpoint} {params}: {status} {body[:300]!r}")
            return json.loads(body)

        # The panel's "older relations" at the hub: the page after the first (its cursor, from one call).
        older = get("entity", name=hub)["history"]["older"]

        calls = {
            "overview": lambda i: get("overview"),
            "search": lambda i: get("search", q=picks[i][:9], k=10),
            "type": lambda i: get("type", type="Person", limit=100),
            "entity": lambda i: get("entity", name=picks[i]),
            "neighbors": lambda i: get("neighbors", name=picks[i], limit=25),
            "neighbors_as_of": lambda i: get("neighbors", name=picks[i], limit=25, as_of=as_of),
            # The largest hub (what a click on the most connected entity costs: the random picks above
            # are mostly of degree ~6, and a hub's answer must stay bounded too).
            "neighbors_hub": lambda i: get("neighbors", name=hub, limit=25),
            "entity_hub": lambda i: get("entity", name=hub),
            "relations_hub": lambda i: get("relations", name=hub, before=older),
            "relation": lambda i: get("relation", source=relations[i][0], type=relations[i][1],
                                      target=relations[i][2]),
            "paths": lambda i: get("paths", source=pairs[i][0], target=pairs[i][1], limit=5),
        }  # fmt: skip
        # The first overview scans every entity and relation; later ones come from the server's cache
        # while the store's files are unchanged (what a page reload or a return to "Types" costs).
        if not only or "overview" in only:
            start = time.perf_counter()
            try:
                get("overview")
            except CallFailed as exc:
                failed["overview_first"] = f"after {(time.perf_counter() - start) * 1000:.0f} ms: {exc}"
                print(f"  overview_first failed {failed['overview_first']}", flush=True)
            else:
                first = (time.perf_counter() - start) * 1000
                out["overview_first"] = (first, first)
                print(f"  overview_first: {first:.1f} ms", flush=True)
        if hold == 0:
            opener = server.open_memory

            def open_close(i: int) -> None:
                with opener(store=True):  # a real open (without it, the detached view would answer)
                    pass

            calls = {"open_close": open_close, **calls}
        if only:
            calls = {name: fn for name, fn in calls.items() if name in only}
        source = server.open_memory
        for name, fn in calls.items():
            opens, detached, releases = source.opens, source.detached_answers, source.releases
            start = time.perf_counter()
            try:
                out[name] = _p50(fn, reps)
            except CallFailed as exc:
                failed[name] = f"after {(time.perf_counter() - start) * 1000:.0f} ms: {exc}"
                print(f"  {name} failed {failed[name]}", flush=True)
                continue
            opened = source.opens - opens
            print(f"  {name}: p50 {out[name][0]:.1f} ms, p95 {out[name][1]:.1f} ms, CPU p50 {out[name][2]:.1f} ms "
                  f"({opened} opens, {source.detached_answers - detached} answered without one, "
                  f"{source.releases - releases} releases)", flush=True)
        if hold is None and (not only or {"release", "entity_after_release"} & set(only)):
            out.update(_releases(path, source, lambda i: get("entity", name=picks[i % len(picks)]), reps))
    if failed:
        out["failed"] = failed
    return out


def _releases(path: Path, source: Any, entity: Any, reps: int, warmup: int = 2) -> dict[str, tuple[float, ...]]:
    """``release``: what a writer's open waits for before it retries its lock (it asks the viewer,
    which closes); ``entity_after_release``: the viewer's next request, which opens the store again.
    Wall p50, p95 and CPU p50 ms, as :func:`_p50`."""
    asks, reopens = [], []
    for i in range(warmup + reps):
        entity(i)  # held (opened again after the previous release)
        start, start_cpu = time.perf_counter(), time.process_time()
        with release.ask_readers(path, time.monotonic() + release.RELEASE_WAIT) as asked:
            took = ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
            if not asked:
                raise RuntimeError("the viewer did not release the store")
        while source.yielding_to:  # the viewer hears the hang-up in its own thread
            time.sleep(0.001)
        start, start_cpu = time.perf_counter(), time.process_time()
        entity(warmup + reps + i)
        again = ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
        if i >= warmup:
            asks.append(took)
            reopens.append(again)
    out = {}
    for name, figures in (("release", asks), ("entity_after_release", reopens)):
        wall = sorted(f[0] for f in figures)
        out[name] = (statistics.median(wall), wall[min(len(wall) - 1, int(0.95 * len(wall)))],
                     statistics.median(f[1] for f in figures))  # fmt: skip
        print(f"  {name}: p50 {out[name][0]:.1f} ms, p95 {out[name][1]:.1f} ms, CPU p50 {out[name][2]:.1f} ms "
              f"({source.releases} releases in all)", flush=True)
    return out


def run(size: int, *, engine: str, kind: str, reps: int, store: Path | None = None,
        modes: tuple[str, ...] = tuple(MODES), calls: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="bench-view-"))
    try:
        path = folder / "store" if store is None else store
        if store is not None and (store / "graph.db").exists():
            # A store this script built before, at the same size and kind (building 1M takes ~half an hour).
            graph = generate(kind, size)
            print(f"reusing {store} ({size:,} entities, {graph.m:,} relations)", flush=True)
        else:
            graph, load_s = _load(path, engine, kind, size)
            print(f"loaded {size:,} entities and {graph.m:,} relations in {load_s:.1f} s", flush=True)
        rng = np.random.default_rng(7)
        picks = [graph.name(int(i)) for i in rng.integers(0, size, reps + 10)]
        pairs = [(graph.name(int(a)), graph.name(int(b))) for a, b in rng.integers(0, size, (reps + 10, 2))]
        relations = [graph.relation_records(int(i), int(i) + 1)[0] for i in rng.integers(0, graph.m, reps + 10)]
        degree = np.bincount(np.concatenate([graph.src, graph.dst]), minlength=size)
        hub = graph.name(int(degree.argmax()))
        print(f"hub {hub!r}: {int(degree.max()):,} relations", flush=True)
        out: dict[str, Any] = {"size": size, "engine": engine, "kind": kind, "relations": graph.m, "reps": reps,
                               "hub_degree": int(degree.max())}  # fmt: skip
        for mode in modes:
            load = os.getloadavg()[0]
            if mode == "holder":
                print(f" holder (an MCP server holds the store), load average {load:.2f}", flush=True)
                with mcp_holder(path, engine):
                    out[mode] = _measure(path, engine, None, reps, picks, pairs, relations, hub,
                                         tuple(c for c in HOLDER_CALLS if not calls or c in calls))
            else:
                hold = MODES[mode]
                print(f" {mode} (hold={'until asked' if hold is None else f'{hold:g} s'}), load average {load:.2f}",
                      flush=True)  # fmt: skip
                out[mode] = _measure(path, engine, hold, reps, picks, pairs, relations, hub, calls)
            out[f"{mode}_load"] = (load, os.getloadavg()[0])
            print(f" load average after: {out[f'{mode}_load'][1]:.2f}", flush=True)
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--engine", default=default_engine(), choices=("kuzu", "ladybug"),
                        help="The engine (default: GRAPHMEM_ENGINE, else kuzu).")
    parser.add_argument("--kind", default="powerlaw")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--store", type=Path,
                        help="Build the store here and keep it, or reuse the one built here before (same --size, "
                             "--kind and --engine): the timed part then starts at once.")
    parser.add_argument("--modes", default=",".join(MODES), help=f"Which of {','.join(ALL_MODES)} to time.")
    parser.add_argument("--calls", default="", help="Time only these calls (comma-separated names as printed, e.g. "
                                                    "entity,entity_hub,relations_hub; default: every one).")
    args = parser.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    if not modes or set(modes) - set(ALL_MODES):
        parser.error(f"--modes takes some of {','.join(ALL_MODES)}, not {args.modes!r}")
    calls = tuple(c for c in args.calls.split(",") if c)
    result = run(args.size, engine=args.engine, kind=args.kind, reps=args.reps, store=args.store, modes=modes,
                 calls=calls)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
