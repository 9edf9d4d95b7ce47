"""Ops suite: the agent-memory operations table of issue 10, and how each cost grows.

For each size N, one store on disk holds N *memories*: an entity (name, type,
an 8-word text, three properties) with a 384-d embedding (seeded clustered
vectors, :mod:`benchmarks.vector_data`) and 5 relations per entity on average
(the first shape of ``--graphs``, ``random`` by default: :mod:`benchmarks.datasets`),
all written through the public API. The HNSW index is built by a first search
and saved. Then:

1. bytes per memory: the store's size on disk (closed, index saved) and the
   resident memory of a fresh process that opened it and ran one of each read
   (:mod:`benchmarks.resident`), each divided by N;
2. on the store reopened with its saved index (as an agent's next session
   would find it), the six operations of AgentiCraft's memory performance
   guide, each next to its published target and our budget from the earlier
   issue that measured the same call (the budgets are imported from those
   suites, not restated), plus the shortest path and the hybrid search the
   growth plots need.

The peers (:mod:`benchmarks.bench_peers`) use the same seeded graph and
vectors, so their figures divide by these.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

import graphmem

from .bench_composed import SUITE as COMPOSED
from .bench_composed import _settle
from .bench_core import SUITE as CORE
from .bench_paths import SUITE as PATHS
from .bench_vectors import SUITE as VECTORS
from .datasets import ENTITY_TYPES, Graph, generate
from .resident import disk_bytes
from .suite import Benchmark, Reference, RunContext, Suite, failure, measurement
from .timing import Stats, measure, summarize, timed
from .vector_data import clustered

DIM = 384
K = 10
LOAD_BATCH = 100_000
QUERIES = 300
WARMUP = 10
SCAN_ROWS = 10_000
AGENTICRAFT = "AgentiCraft memory performance guide"

OPS = ("store_single", "retrieve_by_key", "semantic_search", "graph_traversal", "batch_store_100", "memory_scan_10k")
"""The rows of the operations table, in AgentiCraft's order."""

_B = {
    b.name: b
    for b in (
        Benchmark("store_single", f"`add_entity(name, type=, text=, properties=, embedding=)` of a new memory with "
                  f"a {DIM}-d embedding: one durable transaction per call (budget: core store_single_vec)",
                  budget=CORE.benchmark("store_single_vec").budget, reference=Reference(AGENTICRAFT, 10)),
        Benchmark("retrieve_by_key", "`get_entity(name)` of a memory not in graphmem's entity cache (a fresh "
                  "key per call, store just reopened; returns the embedding too) (budget: core get_cold)",
                  budget=CORE.benchmark("get_cold").budget, reference=Reference(AGENTICRAFT, 5)),
        Benchmark("semantic_search", f"`search(vector, k={K})` with a held-out 384-d query vector (HNSW, default "
                  "ef); a text query adds the model's encode, ~8 ms here (vectors suite, text_query); extra: "
                  "recall_at_10 vs exact float32 (budget: vectors search_vec)",
                  budget=VECTORS.benchmark("search_vec").budget, reference=Reference(AGENTICRAFT, 50)),
        Benchmark("graph_traversal", "`k_hop(name, 2)`: every memory within 2 relations, with its distance "
                  "(both directions; extra: neighbourhood sizes) (budget: paths k_hop_2)",
                  budget=PATHS.benchmark("k_hop_2").budget, reference=Reference(AGENTICRAFT, 20)),
        Benchmark("batch_store_100", f"`add_entities` of 100 new memories, each with a {DIM}-d embedding "
                  "(budget: core batch100_entities_vec)", unit="entities",
                  budget=CORE.benchmark("batch100_entities_vec").budget, reference=Reference(AGENTICRAFT, 100)),
        Benchmark("memory_scan_10k", f"the first {SCAN_ROWS:,} memories of `iter_entities()`, every field "
                  "touched (embedding included) (budget: core scan_10k_iter)", unit="entities",
                  budget=CORE.benchmark("scan_10k_iter").budget, reference=Reference(AGENTICRAFT, 200)),
        Benchmark("shortest_path", "`shortest_path(a, b)` (both directions) of seeded random pairs, each asked "
                  "once (path cache cold) (budget: paths path_uncached)",
                  budget=PATHS.benchmark("path_uncached").budget),
        Benchmark("hybrid_search", f"`search(vector, k={K}, near=anchor, max_hops=2)`: the most similar memories "
                  "within 2 relations of a random anchor (budget: composed near_2)",
                  budget=COMPOSED.benchmark("near_2").budget),
        Benchmark("bytes_per_memory", "one memory = an entity + 5 relations + a 384-d embedding. p50 is not a "
                  "time here: the record's extra holds disk_bytes_per_memory (allocated blocks of the store "
                  "folder, closed, HNSW index saved) and resident_bytes_per_memory (RSS growth of a fresh "
                  "process from before `graphmem.open` to after one lookup, search, hybrid search and k-hop), "
                  "resident_fixed_bytes (the same for a one-memory store) and "
                  "resident_marginal_bytes_per_memory (resident minus fixed, per memory); the timed figure is "
                  "the probe's wall time", unit="probes"),
    )
}  # fmt: skip


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kind = ctx.graphs[0]
    for n in ctx.sizes:
        started = time.perf_counter()
        path = ctx.workdir / f"ops-{kind}-{n}"
        try:
            _run_size(ctx, kind, n, path, out)
        except Exception as exc:  # noqa: BLE001 - record it for every benchmark; the other sizes still run
            ctx.log(f"ops n={n:,}: {type(exc).__name__}: {exc}")
            done = {m["benchmark"] for m in out if m["size"] == n}
            out.extend(failure(b, graph=kind, size=n, exc=exc) for name, b in _B.items()
                       if name not in done and ctx.wanted(name))  # fmt: skip
        finally:
            shutil.rmtree(path, ignore_errors=True)
            gc.collect()
        ctx.log(f"ops n={n:,}: done in {time.perf_counter() - started:.1f} s")
        ctx.save(out)
    return out


def _record(ctx: RunContext, out: list[dict[str, Any]], name: str, kind: str, n: int, stats: Stats,
            **extra: Any) -> None:  # fmt: skip
    if not ctx.wanted(name):
        return
    out.append(measurement(_B[name], graph=kind, size=n, stats=stats, **extra))
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()}
    ctx.log(f"  {name}: p50 {stats.p50_ms:.3f} ms, p95 {stats.p95_ms:.3f} ms ({stats.samples} samples) {shown}")


def _guarded(ctx: RunContext, out: list[dict[str, Any]], name: str, kind: str, n: int,
             body: Callable[[], None]) -> None:  # fmt: skip
    """Run one benchmark's ``body``; if it raises, record the library's error for it and go on
    with the next benchmark (one failing call must not hide the other operations' figures)."""
    if not ctx.wanted(name):
        return
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - recorded and shown under "Errors" in RESULTS.md
        ctx.log(f"  {name}: ERROR {type(exc).__name__}: {exc}")
        out.append(failure(_B[name], graph=kind, size=n, exc=exc))


def load_memories(ctx: RunContext, mem: graphmem.Memory, graph: Graph, data: np.ndarray) -> dict[str, float]:
    """Write every memory through the public API: entities with embeddings, then relations."""
    n, m = graph.n, graph.m
    started = time.perf_counter()
    for start in range(0, n, LOAD_BATCH):
        stop = min(start + LOAD_BATCH, n)
        mem.add_entities(graph.entity_records(start, stop, vectors=data[start:stop]))
    entities_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, m, LOAD_BATCH):
        mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, m)))
    relations_s = time.perf_counter() - started
    ctx.log(f"  loaded {n:,} memories in {entities_s:.1f} s, {m:,} relations in {relations_s:.1f} s")
    return {"load_entities_s": entities_s, "load_relations_s": relations_s}


def _run_size(ctx: RunContext, kind: str, n: int, path: Path, out: list[dict[str, Any]]) -> None:
    (data, queries), gen_ns = timed(lambda: clustered(n, QUERIES, dim=DIM, seed=ctx.seed))
    graph = generate(kind, n, seed=ctx.seed)
    entry: dict[str, Any] = {"graph": kind, "size": n, "relations": graph.m, "generate_s": gen_ns / 1e9, "dim": DIM}
    ctx.datasets.append(entry)
    ctx.log(f"ops {kind} n={n:,} m={graph.m:,}: data generated in {gen_ns / 1e9:.1f} s")

    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        entry.update(load_memories(ctx, mem, graph, data))
        loaded_at = time.time()
        _, build_ns = timed(lambda: mem.search(queries[0], K))
        entry["hnsw_build_s"] = build_ns / 1e9
        ctx.log(f"  HNSW index built in {build_ns / 1e9:.1f} s")
        _settle(mem, n, loaded_at)
    finally:
        mem.close()

    if ctx.wanted("bytes_per_memory"):
        _bytes_per_memory(ctx, out, kind, n, path, graph, queries[0])

    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        _reads(ctx, out, mem, graph, data, queries)
        _writes(ctx, out, mem, graph)
    finally:
        mem.close()


def _probe(ctx: RunContext, path: Path, name: str, query: np.ndarray) -> tuple[dict[str, Any], int]:
    """The resident probe (:mod:`benchmarks.resident`) in a fresh process, and its wall time."""
    argv = [sys.executable, "-m", "benchmarks.resident", str(path), ctx.engine, name, json.dumps(query.tolist())]
    done, ns = timed(lambda: subprocess.run(argv, cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                                            text=True, check=False))  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"resident probe failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), ns


def _fixed_resident(ctx: RunContext, query: np.ndarray) -> int:
    """Resident bytes of a store holding one memory: what opening any store costs (the engine's
    buffer pool set-up, compiled kernels, hnswlib), so the per-memory cost can leave it out."""
    path = ctx.workdir / "ops-one-memory"
    shutil.rmtree(path, ignore_errors=True)
    try:
        with graphmem.open(path, engine=ctx.engine, embedder=None) as mem:
            mem.add_entity("only", type="Note", text="the one memory", embedding=query)
            mem.search(query, 1)
        return int(_probe(ctx, path, "only", query)[0]["resident_bytes"])
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _bytes_per_memory(ctx: RunContext, out: list[dict[str, Any]], kind: str, n: int, path: Path, graph: Graph,
                      query: np.ndarray) -> None:  # fmt: skip
    disk = disk_bytes(path)
    probe, ns = _probe(ctx, path, graph.name(0), query)
    fixed = _fixed_resident(ctx, query)
    memories = probe["entities"]
    _record(ctx, out, "bytes_per_memory", kind, n, summarize([ns]),
            disk_bytes=disk["allocated"], disk_apparent_bytes=disk["apparent"], resident_bytes=probe["resident_bytes"],
            rss_before=probe["rss_before"], memories=memories, relations=graph.m,
            disk_bytes_per_memory=disk["allocated"] / memories,
            resident_bytes_per_memory=probe["resident_bytes"] / memories, resident_fixed_bytes=fixed,
            resident_marginal_bytes_per_memory=(probe["resident_bytes"] - fixed) / memories)  # fmt: skip


def _exact_top(data: np.ndarray, query: np.ndarray) -> set[int]:
    scores = data @ query
    return set(np.argpartition(-scores, K)[:K].tolist())


def _reads(ctx: RunContext, out: list[dict[str, Any]], mem: graphmem.Memory, graph: Graph, data: np.ndarray,
           queries: np.ndarray) -> None:  # fmt: skip
    n, kind, name = graph.n, graph.kind, graph.name
    rng = np.random.default_rng([ctx.seed, n, 10])
    order = rng.permutation(n)

    reps = min(ctx.reps(1000, 200), n - WARMUP)
    cold = [name(int(i)) for i in order[: reps + WARMUP]]
    _guarded(ctx, out, "retrieve_by_key", kind, n, lambda: _record(
        ctx, out, "retrieve_by_key", kind, n, measure(lambda i: mem.get_entity(cold[i]), repeat=reps,
                                                      warmup=WARMUP)))  # fmt: skip

    reps = ctx.reps(500, 100)
    query = [queries[i % len(queries)] for i in range(reps + WARMUP)]

    def search() -> None:
        found: list[Any] = [None] * (reps + WARMUP)
        stats = measure(lambda i: found.__setitem__(i, mem.search(query[i], K)), repeat=reps, warmup=WARMUP)
        truth = {i: _exact_top(data, queries[i]) for i in range(min(len(queries), reps + WARMUP))}
        recall = float(np.mean([len({int(h.name[4:]) for h in found[i]} & truth[i % len(queries)]) / K
                                for i in range(WARMUP, reps + WARMUP)]))  # fmt: skip
        _record(ctx, out, "semantic_search", kind, n, stats, recall_at_10=recall)

    _guarded(ctx, out, "semantic_search", kind, n, search)

    seeds = [name(int(i)) for i in rng.integers(0, n, reps + WARMUP)]

    def traversal() -> None:
        sizes: list[int] = []
        stats = measure(lambda i: sizes.append(len(mem.k_hop(seeds[i], 2))), repeat=reps, warmup=WARMUP)
        _record(ctx, out, "graph_traversal", kind, n, stats, median_size=float(np.median(sizes)),
                max_size=int(max(sizes)))  # fmt: skip

    _guarded(ctx, out, "graph_traversal", kind, n, traversal)

    pairs = [(name(int(a)), name(int(b))) for a, b in rng.integers(0, n, (reps + WARMUP, 2))]

    def paths() -> None:
        hops: list[int] = []

        def path(i: int) -> None:
            p = mem.shortest_path(*pairs[i])
            if p is not None:
                hops.append(len(p))

        _record(ctx, out, "shortest_path", kind, n, measure(path, repeat=reps, warmup=WARMUP),
                mean_hops=float(np.mean(hops)) if hops else None)  # fmt: skip

    _guarded(ctx, out, "shortest_path", kind, n, paths)

    reps = ctx.reps(300, 50)
    anchors = [name(int(i)) for i in rng.integers(0, n, reps + WARMUP)]
    _guarded(ctx, out, "hybrid_search", kind, n, lambda: _record(
        ctx, out, "hybrid_search", kind, n,
        measure(lambda i: mem.search(query[i], K, near=anchors[i], max_hops=2), repeat=reps, warmup=WARMUP)))

    rows = min(SCAN_ROWS, len(mem))

    def scan(_: int) -> None:
        for e in islice(mem.iter_entities(), SCAN_ROWS):
            deque((e.name, e.type, e.text, e.observations, e.properties, e.id, e.created_at, e.updated_at,
                   e.embedding), maxlen=0)  # fmt: skip

    _guarded(ctx, out, "memory_scan_10k", kind, n, lambda: _record(
        ctx, out, "memory_scan_10k", kind, n, measure(scan, repeat=ctx.reps(20, 5), warmup=1, ops_per_call=rows),
        rows=rows))  # fmt: skip


def _writes(ctx: RunContext, out: list[dict[str, Any]], mem: graphmem.Memory, graph: Graph) -> None:
    n, kind = graph.n, graph.kind
    rng = np.random.default_rng([ctx.seed, n, 11])
    reps = ctx.reps(300, 50)
    vectors = _unit(rng, reps + WARMUP)
    types = ENTITY_TYPES

    def store(i: int) -> None:
        mem.add_entity(f"new-{i}", type=types[i % len(types)], text=f"a note the agent wrote, {i}",
                       properties={"source": "bench", "n": i}, embedding=vectors[i])  # fmt: skip

    _guarded(ctx, out, "store_single", kind, n,
             lambda: _record(ctx, out, "store_single", kind, n, measure(store, repeat=reps, warmup=WARMUP)))

    reps = ctx.reps(50, 10)
    warm = 3
    vectors = _unit(rng, (reps + warm) * 100)
    batches = [[{"name": f"batch-{b}-{j}", "type": types[j % len(types)], "text": f"from document {b}, item {j}",
                 "properties": {"doc": b, "item": j}, "embedding": vectors[b * 100 + j]} for j in range(100)]
               for b in range(reps + warm)]  # fmt: skip
    _guarded(ctx, out, "batch_store_100", kind, n, lambda: _record(
        ctx, out, "batch_store_100", kind, n, measure(lambda i: mem.add_entities(batches[i]), repeat=reps,
                                                      warmup=warm, ops_per_call=100)))  # fmt: skip


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    v = rng.standard_normal((count, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


SUITE = Suite(
    name="ops",
    title="Agent-memory operations and growth (issue 10)",
    benchmarks=tuple(_B.values()),
    run=run,
)
