"""Core suite: the store and the public API of issue 2 ("Performance").

For each graph shape and size, a store on disk is bulk-loaded through the
public API, then every benchmark runs against it in an order chosen so that
each one sees the state it claims to measure (a reopened store has an empty
entity cache, so cold lookups really miss it). Entities carry no embedding
except in the ``*_vec`` benchmarks: DESIGN.md measures the store budgets with
vectors given, issue 2's bulk budgets without.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

import numpy as np

import graphmem
from graphmem.records import entity_key, utcnow

from .datasets import ENTITY_TYPES, Graph, generate, random_vectors
from .suite import Benchmark, Budget, RunContext, Suite, failure, measurement
from .timing import Stats, measure, steady_gc, summarize, timed, timed_cpu

BULK_BATCH = 100_000
"""Records per ``add_entities`` / ``add_relations`` call in the bulk load."""
SCAN_ROWS = 10_000
VECTOR_DIM = 384

_B = {
    b.name: b
    for b in (
        Benchmark("bulk_entities", f"`add_entities` of N entities, {BULK_BATCH:,} per call, into an empty store "
                  "(rate over the calls; p50/p95 per call)", "throughput", "entities",
                  Budget("ops_per_s", 150_000, at_size=1_000_000)),
        Benchmark("bulk_relations", f"`add_relations` of 5N relations, {BULK_BATCH:,} per call, after the entities",
                  "throughput", "relations", Budget("ops_per_s", 500_000, at_size=1_000_000)),
        Benchmark("reopen", "close, then `graphmem.open` + first `get_entity` + `len(mem)`: ready to answer",
                  budget=Budget("p50_ms", 2000, at_size=1_000_000)),
        Benchmark("reopen_first_write", "the first `add_entity` after a reopen (loads graphmem's id map, "
                  "type bitmaps and relation arrays from the store)"),
        Benchmark("get_cold", "`get_entity` of a key not in graphmem's entity cache (a fresh key per call, "
                  "store just reopened)", budget=Budget("p50_ms", 0.5)),
        Benchmark("get_warm", "`get_entity` of a key in the entity cache (100 hot keys, cycled)",
                  budget=Budget("p50_ms", 0.05)),
        Benchmark("neighbors", "`neighbors(name)` (direction both, no type filter) of a random entity",
                  budget=Budget("p50_ms", 0.05, at_size=1_000_000)),
        Benchmark("neighbors_cypher", "the fastest Cypher form of `neighbors` on the same engine, as its peer: "
                  "two single-direction `MATCH` on the key (`queries/neighbors_out.cypher`, `neighbors_in.cypher`, "
                  "the same validity filters), summed per call"),
        Benchmark("scan_10k", f"`mem.cypher('MATCH (e:Entity) RETURN e.* LIMIT {SCAN_ROWS}')`, "
                  "touching every field of every row", unit="entities", budget=Budget("p50_ms", 20)),
        Benchmark("scan_10k_iter", f"the first {SCAN_ROWS:,} entities of `mem.iter_entities()`, touching every "
                  "field (at 10k this is the whole store)", unit="entities",
                  budget=Budget("p50_ms", 20, at_size=10_000)),
        Benchmark("store_single", "`add_entity` of a new name (type, text, properties), one durable "
                  "transaction per call", budget=Budget("p50_ms", 2)),
        Benchmark("store_single_vec", f"as store_single, with a {VECTOR_DIM}-d embedding given",
                  budget=Budget("p50_ms", 2)),
        Benchmark("update_single", "`add_entity` on an existing name (new text, a merged property)"),
        Benchmark("relation_single", "`add_relation` between two existing entities (a new relation)"),
        Benchmark("batch100_entities", "`add_entities` of 100 new entities in one call", unit="entities",
                  budget=Budget("p50_ms", 10)),
        Benchmark("batch100_entities_vec", f"as batch100_entities, each with a {VECTOR_DIM}-d embedding",
                  unit="entities", budget=Budget("p50_ms", 10)),
        Benchmark("batch100_relations", "`add_relations` of 100 new relations between existing entities",
                  unit="relations"),
    )
}  # fmt: skip


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind in ctx.graphs:
        for size in ctx.sizes:
            started = time.perf_counter()
            graph, gen_ns = timed(lambda: generate(kind, size, seed=ctx.seed))
            ctx.datasets.append({"graph": kind, "size": size, "relations": graph.m, "generate_s": gen_ns / 1e9})
            ctx.log(f"{kind} n={size:,} m={graph.m:,}: generated in {gen_ns / 1e9:.2f} s")
            path = ctx.workdir / f"core-{kind}-{size}"
            rec = _Recorder(ctx, graph, out)
            try:
                _run_one(ctx, rec, graph, path)
            except Exception as exc:  # noqa: BLE001 - one broken size must not cost the others
                rec.fail_rest(exc)
            finally:
                shutil.rmtree(path, ignore_errors=True)
            ctx.log(f"{kind} n={size:,}: done in {time.perf_counter() - started:.1f} s")
            ctx.save(out)
    return out


class _Recorder:
    """Records one graph's measurements; a benchmark that raises is recorded
    as an error (the library's message) and the next one still runs."""

    def __init__(self, ctx: RunContext, graph: Graph, out: list[dict[str, Any]]) -> None:
        self.ctx, self.graph, self.out = ctx, graph, out
        self.done: set[str] = set()

    def add(self, name: str, stats: Stats, **extra: Any) -> None:
        bench = _B[name]
        self.done.add(name)
        if not self.ctx.wanted(name):
            return
        self.out.append(measurement(bench, graph=self.graph.kind, size=self.graph.n, stats=stats, **extra))
        if bench.kind == "throughput":
            figure = f"{stats.ops_per_s:,.0f} {bench.unit}/s, p50 {stats.p50_ms:.3f} ms per call"
        else:
            figure = f"p50 {stats.p50_ms:.3f} ms, p95 {stats.p95_ms:.3f} ms"
        if stats.cpu_mean_ms is not None:
            figure += f", cpu {stats.cpu_mean_ms:.3f} ms/call (wall mean {stats.mean_ms:.3f})"
        self.ctx.log(f"  {name}: {figure} ({stats.samples} samples)")

    def run(self, name: str, fn: Callable[[], tuple[Stats, dict[str, Any]]]) -> None:
        if not self.ctx.wanted(name):
            return
        try:
            with self.profiling(name):
                stats, extra = fn()
        except Exception as exc:  # noqa: BLE001
            self.error(name, exc)
        else:
            self.add(name, stats, **extra)

    def profiling(self, name: str) -> Any:
        return self.ctx.profiling(name, f"{self.graph.kind}-{self.graph.n}")

    def error(self, name: str, exc: BaseException) -> None:
        self.done.add(name)
        if not self.ctx.wanted(name):
            return
        self.out.append(failure(_B[name], graph=self.graph.kind, size=self.graph.n, exc=exc))
        self.ctx.log(f"  {name}: ERROR {type(exc).__name__}: {exc}")

    def fail_rest(self, exc: BaseException) -> None:
        self.ctx.log("".join(traceback.format_exception(exc)).rstrip())
        for name in _B:
            if name not in self.done:
                self.error(name, exc)


def _open(ctx: RunContext, path: Any) -> graphmem.Memory:
    return graphmem.open(path, engine=ctx.engine, embedder=None)


def _run_one(ctx: RunContext, rec: _Recorder, graph: Graph, path: Any) -> None:
    n = graph.n
    rng = np.random.default_rng([ctx.seed, n, 99])

    mem = _open(ctx, path)
    try:
        _bulk_load(rec, mem, graph)
    finally:
        mem.close()

    # Distinct keys per benchmark, so no benchmark reads what another one
    # cached; cold lookups take theirs first from a freshly reopened store.
    order = rng.permutation(n)
    taken = 0

    def take(count: int) -> list[str]:
        nonlocal taken
        picked = order[taken:taken + count] if taken + count <= n else rng.integers(0, n, count)
        taken += count
        return [graph.name(int(i)) for i in picked]

    reps = ctx.reps(5, 2) if n < 1_000_000 else ctx.reps(3, 2)
    warm = 1
    open_ns: list[int] = []
    write_ns: list[int] = []
    open_cpu = write_cpu = 0
    probe = take(warm + reps)
    mem = None

    def ready(i: int) -> int:
        nonlocal mem
        mem = _open(ctx, path)
        mem.get_entity(probe[i])
        return len(mem)

    with rec.profiling("reopen_first_write" if ctx.wanted("reopen_first_write") else "reopen"):
        for i in range(warm + reps):
            if mem is not None:
                mem.close()
            with steady_gc():
                length, ns, cpu = timed_cpu(lambda: ready(i))
                open_ns.append(ns)
                open_cpu += cpu if i >= warm else 0
                _, ns, cpu = timed_cpu(lambda: mem.add_entity(f"reopen-{i}", type="Note", text="after a reopen"))
                write_ns.append(ns)
                write_cpu += cpu if i >= warm else 0
            if length < n:
                raise AssertionError(f"reopened store has {length} entities, expected at least {n}")
    assert mem is not None
    try:
        rec.add("reopen", summarize(open_ns[warm:], cpu_ns=open_cpu), entities=length)
        rec.add("reopen_first_write", summarize(write_ns[warm:], cpu_ns=write_cpu))
        # The last reopen's cache holds only its probe key and its write.
        _reads(ctx, rec, mem, graph, take, rng)
        _writes(ctx, rec, mem, graph, take, rng)
    finally:
        mem.close()


def _bulk_load(rec: _Recorder, mem: graphmem.Memory, graph: Graph) -> None:
    n, m = graph.n, graph.m
    ent_ns, ent_ops, ent_cpu, build_s = [], [], 0, 0.0
    with rec.profiling("bulk_entities"):
        for start in range(0, n, BULK_BATCH):
            records, ns = timed(lambda: graph.entity_records(start, min(start + BULK_BATCH, n)))
            build_s += ns / 1e9
            with steady_gc():
                written, ns, cpu = timed_cpu(lambda: mem.add_entities(records))
            ent_ns.append(ns)
            ent_ops.append(written)
            ent_cpu += cpu
            del records
    rec.add("bulk_entities", summarize(ent_ns, ent_ops, cpu_ns=ent_cpu), batch=BULK_BATCH,
            total_s=sum(ent_ns) / 1e9, build_records_s=build_s)
    rel_ns, rel_ops, rel_cpu, build_s = [], [], 0, 0.0
    with rec.profiling("bulk_relations"):
        for start in range(0, m, BULK_BATCH):
            records, ns = timed(lambda: graph.relation_records(start, min(start + BULK_BATCH, m)))
            build_s += ns / 1e9
            with steady_gc():
                written, ns, cpu = timed_cpu(lambda: mem.add_relations(records))
            rel_ns.append(ns)
            rel_ops.append(written)
            rel_cpu += cpu
            del records
    # The first and last call show how the cost of one call grows with the
    # relations already stored.
    rec.add("bulk_relations", summarize(rel_ns, rel_ops, cpu_ns=rel_cpu), batch=BULK_BATCH,
            total_s=sum(rel_ns) / 1e9, build_records_s=build_s, first_call_ms=rel_ns[0] / 1e6,
            last_call_ms=rel_ns[-1] / 1e6)
    if len(mem) != n:
        raise AssertionError(f"bulk load left {len(mem)} entities, expected {n}")


def _reads(ctx: RunContext, rec: _Recorder, mem: graphmem.Memory, graph: Graph, take: Any, rng: Any) -> None:
    reps = ctx.reps(2000, 300)
    cold = take(reps + 5)
    rec.run("get_cold", lambda: (measure(lambda i: mem.get_entity(cold[i]), repeat=reps, warmup=5), {}))

    hot = take(100)
    warm_reps = ctx.reps(5000, 1000)
    rec.run("get_warm", lambda: (measure(lambda i: mem.get_entity(hot[i % 100]), repeat=warm_reps,
                                         warmup=len(hot)), {}))  # fmt: skip

    nb_reps = ctx.reps(1000, 200)
    names = [graph.name(int(i)) for i in rng.integers(0, graph.n, nb_reps + 5)]
    sizes: list[int] = []

    def neighbors() -> tuple[Stats, dict[str, Any]]:
        stats = measure(lambda i: sizes.append(len(mem.neighbors(names[i]))), repeat=nb_reps, warmup=5)
        return stats, {"mean_neighbors": float(np.mean(sizes)), "max_neighbors": int(max(sizes))}

    rec.run("neighbors", neighbors)

    def neighbors_cypher() -> tuple[Stats, dict[str, Any]]:
        store = mem._store

        def both(i: int) -> None:
            params = {"key": entity_key(mem.namespace_name, names[i]), "now": utcnow()}
            store.execute("neighbors_out", params)
            store.execute("neighbors_in", params)

        # Fewer calls: each can take ~1 s at 1M on Kuzu (a scan of every relation).
        return measure(both, repeat=min(max(10, nb_reps // 10), len(names) - 3), warmup=3), {}

    rec.run("neighbors_cypher", neighbors_cypher)

    def scan_cypher(_: int) -> None:
        for row in mem.cypher(f"MATCH (e:Entity) RETURN e.* LIMIT {SCAN_ROWS}"):
            deque(row.values(), maxlen=0)  # every field, at C speed: the harness adds ~nothing

    rows = min(SCAN_ROWS, len(mem))
    rec.run("scan_10k", lambda: (measure(scan_cypher, repeat=ctx.reps(20, 5), warmup=1, ops_per_call=rows),
                                 {"rows": rows}))  # fmt: skip

    def scan_iter(_: int) -> int:
        count = 0
        for e in islice(mem.iter_entities(), SCAN_ROWS):
            fields = (e.name, e.type, e.text, e.observations, e.properties, e.id, e.namespace,
                      e.created_at, e.updated_at, e.embedding)  # fmt: skip
            count += sum(f is not None for f in fields)
        return count

    iter_reps = ctx.reps(20, 5) if graph.n <= 100_000 else ctx.reps(5, 2)
    rec.run("scan_10k_iter", lambda: (measure(scan_iter, repeat=iter_reps, warmup=1, ops_per_call=rows),
                                      {"rows": rows, "store_entities": len(mem)}))  # fmt: skip


def _writes(ctx: RunContext, rec: _Recorder, mem: graphmem.Memory, graph: Graph, take: Any, rng: Any) -> None:
    reps = ctx.reps(300, 50)
    warm = 3
    types = ENTITY_TYPES

    def new_entity(prefix: str, i: int, vector: np.ndarray | None = None) -> graphmem.Entity:
        return mem.add_entity(f"{prefix}-{i}", type=types[i % len(types)], text=f"a note written by the agent, {i}",
                              properties={"source": "bench", "n": i}, embedding=vector)

    rec.run("store_single", lambda: (measure(lambda i: new_entity("single", i), repeat=reps, warmup=warm), {}))
    vectors = random_vectors(reps + warm, VECTOR_DIM, seed=ctx.seed)
    rec.run("store_single_vec", lambda: (measure(lambda i: new_entity("single-vec", i, vectors[i]), repeat=reps,
                                                 warmup=warm), {}))  # fmt: skip

    existing = take(reps + warm)
    rec.run("update_single", lambda: (measure(
        lambda i: mem.add_entity(existing[i], text=f"updated {i}", properties={"updated": i}),
        repeat=reps, warmup=warm), {}))  # fmt: skip

    sources, targets = take(reps + warm), take(reps + warm)
    rec.run("relation_single", lambda: (measure(lambda i: mem.add_relation(sources[i], "BENCH_LINK", targets[i]),
                                                repeat=reps, warmup=warm), {}))  # fmt: skip

    b_reps = ctx.reps(50, 10)
    batches = [graph_batch("batch", b, None) for b in range(b_reps + warm)]
    rec.run("batch100_entities", lambda: (measure(lambda i: mem.add_entities(batches[i]), repeat=b_reps,
                                                  warmup=warm, ops_per_call=100), {}))  # fmt: skip
    vectors = random_vectors((b_reps + warm) * 100, VECTOR_DIM, seed=ctx.seed + 1)
    vec_batches = [graph_batch("batch-vec", b, vectors[b * 100:(b + 1) * 100]) for b in range(b_reps + warm)]
    rec.run("batch100_entities_vec", lambda: (measure(lambda i: mem.add_entities(vec_batches[i]), repeat=b_reps,
                                                      warmup=warm, ops_per_call=100), {}))  # fmt: skip

    ends = rng.integers(0, graph.n, (b_reps + warm, 100, 2))
    rel_batches = [[(graph.name(int(a)), "BENCH_BATCH", graph.name(int(b))) for a, b in batch] for batch in ends]
    rec.run("batch100_relations", lambda: (measure(lambda i: mem.add_relations(rel_batches[i]), repeat=b_reps,
                                                   warmup=warm, ops_per_call=100), {}))  # fmt: skip


def graph_batch(prefix: str, b: int, vectors: np.ndarray | None) -> list[dict[str, Any]]:
    """100 new entity records, the shape an agent writes after reading a document."""
    out = []
    for j in range(100):
        record: dict[str, Any] = {
            "name": f"{prefix}-{b}-{j}",
            "type": ENTITY_TYPES[j % len(ENTITY_TYPES)],
            "text": f"extracted from document {b}, item {j}",
            "properties": {"doc": b, "item": j},
        }
        if vectors is not None:
            record["embedding"] = vectors[j]
        out.append(record)
    return out


SUITE = Suite(
    name="core",
    title="Core: the store and the public API (issue 2)",
    benchmarks=tuple(_B.values()),
    run=run,
)
