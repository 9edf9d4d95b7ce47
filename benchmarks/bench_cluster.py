"""Cluster suite: the FalkorDB Redis Cluster backend beside the embedded store (issue 12).

For each size N (``--sizes``; 10k is the reference, the cluster load is slow
beyond 100k because vectors travel as Cypher text), one namespace of a fresh
local 3-primary / 3-replica cluster and one embedded store on disk are loaded
with the same N memories (one memory = an entity + 5 relations + a 384-d
embedding), then measured side by side, one backend after the other:

- ``*_get``, ``*_neighbors``, ``*_search``: reads (p50/p99); the embedded
  ``get`` is cold (a fresh key per call, not in graphmem's entity cache);
- ``*_write``, ``*_batch100``: writes; a cluster write returns once a replica
  has it (``WAIT 1``), an embedded write once its transaction committed;
- ``cluster_failover``: ``kill -9`` of the primary serving the loaded
  namespace while a writer writes to it; the time to the first write
  acknowledged after the kill (min / median / max over the runs are min_ms /
  p50_ms / max_ms; the killed node is restarted once its replica took over,
  as a supervisor would). With one replica per primary the promoted replica
  has none until the killed node has reloaded its AOF and resynced, which
  grows with the shard's data; ``cluster_failover_r2`` repeats it with two
  replicas per primary, where the surviving replica follows the promoted one;
- ``*_resident``: resident bytes per 10k memories. p50 is not a time here
  (it is the probe's duration): ``extra.resident_bytes_per_10k`` holds the
  figure. Cluster: growth of Redis ``used_memory`` (bytes the allocator has
  in use) on the namespace's primary plus its replica (the data lives on
  both) while the N memories were written; their RSS growth is in extra too,
  but it is noise at this scale (it moves by whole arenas). Embedded: RSS
  growth of a fresh process that opens the store and runs one of each read
  (caches, HNSW index, CSR snapshot), minus the same for a one-memory store.

Run it alone, on a quiet machine (timed runs take the lock the other suites use)::

    flock /tmp/graphmem-bench.lock .venv/bin/python -m benchmarks.run --only cluster --engines kuzu --sizes 10000

Every process the suite starts is stopped at the end (``LocalCluster.down``).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import graphmem

from .datasets import Graph, generate, random_vectors
from .suite import Benchmark, RunContext, Suite, failure, measurement
from .timing import Stats, measure, summarize, timed

DIM = 384
LOAD_BATCH = 500
"""Entities per ``add_entities`` call while loading (a 384-d vector is ~4 KB of Cypher text)."""
BACKENDS = ("cluster", "embedded")
NAMESPACE = "bench"
"""The namespace loaded with the N memories; the failover runs kill its primary."""

_B = {
    b.name: b
    for backend in BACKENDS
    for b in (
        Benchmark(f"{backend}_get", f"{backend}: `get_entity` of an existing name (a fresh name per call)"),
        Benchmark(f"{backend}_neighbors", f"{backend}: `neighbors(name)` of a random entity (direction both)"),
        Benchmark(f"{backend}_search", f"{backend}: `search(vector, k=10)` over the N 384-d embeddings"),
        Benchmark(f"{backend}_write", f"{backend}: `add_entity` of a new name (type, text, properties)"
                  + (", returned once one replica has it (WAIT 1)" if backend == "cluster" else "")),
        Benchmark(f"{backend}_batch100", f"{backend}: `add_entities` of 100 new entities (no vectors) in one call",
                  unit="entities"),
        Benchmark(f"{backend}_resident", f"{backend}: resident bytes per 10k memories (entity + 5 relations + "
                  "384-d embedding); p50 is not a time here: see extra.resident_bytes_per_10k"),
    )
}  # fmt: skip
_B["cluster_failover"] = Benchmark(
    "cluster_failover",
    "3 primaries x 1 replica: kill -9 of the primary serving the loaded namespace (N memories) under a writer; "
    "time until a write to it is acknowledged again (min_ms / p50_ms / max_ms = min / median / max over the runs). "
    "The promoted replica has no replica until the killed node, restarted, has loaded and resynced",
)
_B["cluster_failover_r2"] = Benchmark(
    "cluster_failover_r2",
    "as cluster_failover on 3 primaries x 2 replicas: the surviving replica follows the promoted one "
    "(a partial resync), so writes need not wait for the killed node",
)


MAX_SIZE = 100_000
"""Larger sizes are skipped: a namespace is one graph held in memory on one primary and
its replica, and loading 1M 384-d vectors as Cypher text would take most of an hour."""


def run(ctx: RunContext) -> list[dict[str, Any]]:
    from graphmem.backends.cluster.local import LocalCluster, binaries

    out: list[dict[str, Any]] = []
    try:
        binaries()
    except graphmem.GraphMemError as exc:
        # The backend is optional (SSPLv1): a full run without the extra measures the rest.
        ctx.log(f"suite cluster: skipped ({exc})")
        return out
    kind = "random"
    for size in ctx.sizes:
        if size > MAX_SIZE:
            ctx.log(f"n={size:,}: skipped (the cluster suite runs up to {MAX_SIZE:,})")
            continue
        graph, gen_ns = timed(lambda: generate(kind, size, seed=ctx.seed))
        ctx.datasets.append({"graph": kind, "size": size, "relations": graph.m, "generate_s": gen_ns / 1e9})
        vectors = random_vectors(size, DIM, seed=ctx.seed)
        local = LocalCluster(ctx.workdir / f"cluster-{size}", primaries=3, replicas=1).up()
        try:
            ctx.log(f"n={size:,}: cluster up on ports {local.ports}")
            _cluster(ctx, out, local, graph, vectors)
            _failover(ctx, out, local, size, "cluster_failover")
        except Exception as exc:  # noqa: BLE001 - record it; the embedded side still runs
            _fail(ctx, out, "cluster", size, exc)
        finally:
            local.down()
            shutil.rmtree(local.root, ignore_errors=True)
        if ctx.wanted("cluster_failover_r2"):
            local = LocalCluster(ctx.workdir / f"cluster-r2-{size}", primaries=3, replicas=2).up()
            try:
                with graphmem.connect(local.url, namespace=NAMESPACE, embedder=None) as mem:
                    _load(mem, graph, vectors)
                _failover(ctx, out, local, size, "cluster_failover_r2")
            except Exception as exc:  # noqa: BLE001
                _fail(ctx, out, "cluster_failover_r2", size, exc)
            finally:
                local.down()
                shutil.rmtree(local.root, ignore_errors=True)
        path = ctx.workdir / f"embedded-{size}"
        try:
            _embedded(ctx, out, path, graph, vectors)
        except Exception as exc:  # noqa: BLE001
            _fail(ctx, out, "embedded", size, exc)
        finally:
            shutil.rmtree(path, ignore_errors=True)
        ctx.save(out)
    return out


def _fail(ctx: RunContext, out: list[dict[str, Any]], backend: str, size: int, exc: BaseException) -> None:
    done = {m["benchmark"] for m in out if m["size"] == size}
    for name, bench in _B.items():
        mine = name == backend or (name.startswith(backend + "_") and name != "cluster_failover_r2")
        if mine and name not in done and ctx.wanted(name):
            out.append(failure(bench, graph="random", size=size, exc=exc))
    ctx.log(f"n={size:,} {backend}: ERROR {type(exc).__name__}: {exc}")


def _record(ctx: RunContext, out: list[dict[str, Any]], name: str, size: int, stats: Stats, **extra: Any) -> None:
    out.append(measurement(_B[name], graph="random", size=size, stats=stats, **extra))
    ctx.log(f"  {name}: p50 {stats.p50_ms:.3f} ms, p99 {stats.p99_ms:.3f} ms ({stats.samples} samples)"
            + (f" {extra}" if extra else ""))  # fmt: skip


def _load(mem: Any, graph: Graph, vectors: np.ndarray) -> float:
    started = time.perf_counter()
    for start in range(0, graph.n, LOAD_BATCH):
        stop = min(graph.n, start + LOAD_BATCH)
        mem.add_entities(graph.entity_records(start, stop, vectors[start:stop]))
    for start in range(0, graph.m, 5000):
        mem.add_relations(graph.relation_records(start, min(graph.m, start + 5000)))
    return time.perf_counter() - started


def _ops(ctx: RunContext, out: list[dict[str, Any]], backend: str, mem: Any, graph: Graph) -> None:
    """The read and write benchmarks, the same calls on either backend."""
    n = graph.n
    rng = np.random.default_rng([ctx.seed, n, 12])
    reps = ctx.reps(2000, 300)
    names = [graph.name(int(i)) for i in rng.permutation(n)[: reps + 5]]
    if len(names) < reps + 5:
        names = [graph.name(int(i)) for i in rng.integers(0, n, reps + 5)]
    if ctx.wanted(f"{backend}_get"):
        _record(ctx, out, f"{backend}_get", n, measure(lambda i: mem.get_entity(names[i]), repeat=reps, warmup=5))
    picks = [graph.name(int(i)) for i in rng.integers(0, n, reps + 5)]
    if ctx.wanted(f"{backend}_neighbors"):
        _record(ctx, out, f"{backend}_neighbors", n, measure(lambda i: mem.neighbors(picks[i]), repeat=reps,
                                                             warmup=5))  # fmt: skip
    queries = random_vectors(ctx.reps(500, 100) + 5, DIM, seed=ctx.seed + 3)
    if ctx.wanted(f"{backend}_search"):
        _record(ctx, out, f"{backend}_search", n, measure(lambda i: mem.search(queries[i], 10),
                                                          repeat=len(queries) - 5, warmup=5))  # fmt: skip
    w_reps = ctx.reps(1000, 200)
    if ctx.wanted(f"{backend}_write"):
        _record(ctx, out, f"{backend}_write", n, measure(
            lambda i: mem.add_entity(f"w-{i}", type="Note", text=f"a note written by the agent, {i}",
                                     properties={"source": "bench", "n": i}),
            repeat=w_reps, warmup=3))  # fmt: skip
    b_reps = ctx.reps(100, 20)
    batches = [[{"name": f"b-{b}-{j}", "type": "Note", "text": f"from document {b}, item {j}",
                 "properties": {"doc": b, "item": j}} for j in range(100)] for b in range(b_reps + 3)]  # fmt: skip
    if ctx.wanted(f"{backend}_batch100"):
        _record(ctx, out, f"{backend}_batch100", n, measure(lambda i: mem.add_entities(batches[i]), repeat=b_reps,
                                                            warmup=3, ops_per_call=100))  # fmt: skip


# -- the cluster --------------------------------------------------------------------------


def _used(local: Any, port: int) -> int:
    return int(local._redis(port).info("memory")["used_memory"])


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _shard_pids(local: Any, primary_port: int) -> dict[int, int]:
    """port -> pid of a primary and of its replicas."""
    topology = local.topology()
    primary_id = next(n["id"] for n in topology if n["port"] == primary_port)
    ports = [primary_port] + [n["port"] for n in topology if n["primary_id"] == primary_id]
    return {n.port: n.pid for n in local.nodes if n.port in ports}


def _cluster(ctx: RunContext, out: list[dict[str, Any]], local: Any, graph: Graph, vectors: np.ndarray) -> None:
    from graphmem.backends.cluster import graph_key

    n = graph.n
    namespace = NAMESPACE
    with graphmem.connect(local.url, namespace=namespace, embedder=None) as mem:
        primary = local.primary_of(graph_key(namespace))
        pids = _shard_pids(local, primary)
        # A first graph with a vector index makes each server allocate its
        # thread pools and module state (~40-50 MB measured): paid before the baseline.
        base = mem.namespace(_warm_namespace(local, primary, graph_key))
        base.add_entities([{"name": "a", "embedding": vectors[0]}, {"name": "b", "embedding": vectors[1]}])
        base.add_relations([("a", "R", "b")])
        mem.add_entities([{"name": "warm", "embedding": vectors[0]}])
        mem.delete_entity("warm")
        local.wait_ok()
        time.sleep(1.0)
        # used_memory (the allocator's bytes in use) of the primary and of its
        # replica, before and after the load: RSS moves by whole arenas and
        # falls when jemalloc returns freed pages (measured: it even shrank
        # while 1,000 memories were written), so it is kept only as context.
        time.sleep(1.0)
        before = {port: (_rss(pid), _used(local, port)) for port, pid in pids.items()}
        load_s = _load(mem, graph, vectors)
        # Replicas apply the stream asynchronously (WAIT 1 keeps them at most one write behind).
        time.sleep(1.0)
        after, probe_ns = timed(lambda: {port: (_rss(pid), _used(local, port)) for port, pid in pids.items()})
        ctx.log(f"n={n:,} cluster: loaded in {load_s:.1f} s")
        if ctx.wanted("cluster_resident"):
            used = {str(p): after[p][1] - before[p][1] for p in pids}
            rss = {str(p): after[p][0] - before[p][0] for p in pids}
            _record(ctx, out, "cluster_resident", n, summarize([probe_ns]),
                    resident_bytes_per_10k=sum(used.values()) / n * 10_000,
                    primary_bytes_per_10k=used[str(primary)] / n * 10_000,
                    rss_bytes_per_10k=sum(rss.values()) / n * 10_000, used_memory_growth_by_port=used,
                    rss_growth_by_port=rss, memories=n, relations=graph.m, load_s=load_s, copies=len(pids),
                    method="growth of Redis used_memory on the namespace's primary plus its replica (the data "
                           "lives on both) while the N memories were written, per 10k")  # fmt: skip
        _ops(ctx, out, "cluster", mem, graph)


def _warm_namespace(local: Any, primary: int, graph_key: Any) -> str:
    """A namespace name whose slot the same primary serves."""
    for i in range(10_000):
        name = f"warm-{i}"
        if local.primary_of(graph_key(name)) == primary:
            return name
    raise RuntimeError(f"no namespace found on primary {primary}")


def _failover(ctx: RunContext, out: list[dict[str, Any]], local: Any, size: int, name: str) -> None:
    from graphmem.backends.cluster import graph_key

    if not ctx.wanted(name):
        return
    runs: list[dict[str, float]] = []
    for r in range(ctx.reps(5, 3)):
        runs.append(_failover_once(local, NAMESPACE, graph_key, r))
        ctx.log(f"  {name} run {r}: {runs[-1]}")
    resumed = [x["resumed_s"] for x in runs]
    _record(ctx, out, name, size, summarize([int(s * 1e9) for s in resumed]), runs=runs,
            median_s=statistics.median(resumed), min_s=min(resumed), max_s=max(resumed),
            replicas_per_primary=local.replicas, shard_memories=size)  # fmt: skip


def _failover_once(local: Any, namespace: str, graph_key: Any, run: int) -> dict[str, float]:
    acks: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    mem = graphmem.connect(local.url, namespace=namespace, embedder=None, deadline=30)

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                mem.add_entities([{"name": f"fo-{run}-{i}"}])
                acks.append(time.monotonic())
            except graphmem.GraphMemError as exc:
                errors.append(exc)
            i += 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    try:
        victim = local.primary_of(graph_key(namespace))
        thread.start()
        time.sleep(1.0)
        killed = time.monotonic()
        local.kill(victim)
        deadline = killed + 30
        promoted = None
        while time.monotonic() < deadline:
            try:
                if local.primary_of(graph_key(namespace)) != victim:
                    promoted = time.monotonic()
                    break
            except graphmem.GraphMemError:
                pass  # the election is running
            time.sleep(0.05)
        if promoted is None:
            raise RuntimeError("no replica took over within 30 s")
        local.restart_node(victim)
        while time.monotonic() < deadline and not [t for t in acks if t > killed + 0.05]:
            time.sleep(0.02)
        stop.set()
        thread.join()
        if errors:
            raise RuntimeError(f"the writer saw {len(errors)} error(s), first: {errors[0]}")
        resumed = min((t for t in acks if t > killed + 0.05), default=None)
        if resumed is None:
            raise RuntimeError("writes did not resume within 30 s")
        local.wait_ok(timeout=60)
        return {"promoted_s": round(promoted - killed, 3), "resumed_s": round(resumed - killed, 3)}
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        mem.close()


# -- the embedded store -----------------------------------------------------------------


def _embedded(ctx: RunContext, out: list[dict[str, Any]], path: Path, graph: Graph, vectors: np.ndarray) -> None:
    n = graph.n
    with graphmem.open(path, engine=ctx.engine, embedder=None) as mem:
        load_s = _load(mem, graph, vectors)
    ctx.log(f"n={n:,} embedded: loaded in {load_s:.1f} s")
    if ctx.wanted("embedded_resident"):
        # The marginal cost: a store of one memory gives what opening any store
        # costs (buffer pool set-up, compiled kernels, hnswlib), left out.
        one = path.with_name(path.name + "-one")
        try:
            with graphmem.open(one, engine=ctx.engine, embedder=None) as mem:
                mem.add_entity(graph.name(0), embedding=vectors[0])
            fixed, _ = _run_probe(one, ctx.engine, graph.name(0))
        finally:
            shutil.rmtree(one, ignore_errors=True)
        probe, ns = _run_probe(path, ctx.engine, graph.name(0))
        _record(ctx, out, "embedded_resident", n, summarize([ns]),
                resident_bytes_per_10k=(probe["resident_bytes"] - fixed["resident_bytes"]) / n * 10_000,
                resident_fixed_bytes=fixed["resident_bytes"], memories=n, relations=graph.m, load_s=load_s, copies=1,
                method="RSS growth of a fresh process opening the store and running one of each read, "
                       "minus the same for a store of one memory, per 10k", **probe)  # fmt: skip
    with graphmem.open(path, engine=ctx.engine, embedder=None) as mem:
        _ops(ctx, out, "embedded", mem, graph)


def _run_probe(path: Path, engine: str, name: str) -> tuple[dict[str, int], int]:
    argv = [sys.executable, "-m", "benchmarks.bench_cluster", "--probe", str(path), engine, name]
    done, ns = timed(lambda: subprocess.run(argv, cwd=Path(__file__).resolve().parent.parent,
                                            capture_output=True, text=True, check=False))  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"resident probe failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), ns


def _probe(path: str, engine: str, name: str) -> dict[str, int]:
    """In a fresh process: RSS growth from opening the store and running one of each read."""
    import gc

    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc/self/status")

    query = random_vectors(1, DIM, seed=1)[0]
    gc.collect()
    before = rss()
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.get_entity(name)
        mem.neighbors(name)
        mem.search(query, 10)
        mem.k_hop(name, 2)
        gc.collect()
        after = rss()
    return {"rss_before": before, "rss_after": after, "resident_bytes": after - before}


SUITE = Suite(
    name="cluster",
    title="Cluster backend (FalkorDB + Redis Cluster, 3+3 on 127.0.0.1) beside the embedded store (issue 12)",
    benchmarks=tuple(_B.values()),
    run=run,
    engines=("kuzu",),  # the embedded side is measured on one engine; the cluster has none
)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--probe":
        print(json.dumps(_probe(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        raise SystemExit("usage: python -m benchmarks.bench_cluster --probe PATH ENGINE NAME (run the suite with "
                         "python -m benchmarks.run --only cluster)")
