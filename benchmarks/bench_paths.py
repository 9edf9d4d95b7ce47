"""Paths suite: the path engine of issue 4 ("Performance").

For each graph shape and size, a store on disk is bulk-loaded through the
public API (entities with a name and a type only: the path engine never reads
the rest), then, in this order, so that each benchmark sees the state it
claims to measure:

1. the adjacency snapshot is rebuilt from the store as a reopen builds it
   (``relation_ids`` through Arrow, then :meth:`EdgeIndex.from_arrays`), and
   its size is taken;
2. 1,000 seeded random pairs: ``shortest_path`` through the public API, each
   pair asked once (the cache is cold for it), then asked again (cached); the
   compiled kernel alone on the same pairs (ids, no API); direction ``out``;
3. the same pairs on networkx (``bidirectional_shortest_path``, timed in step 2,
   interleaved call by call with the uncached queries), rustworkx
   (``dijkstra_shortest_paths`` to a target) and igraph (``get_shortest_path``),
   each on an undirected graph of the same relations (direction ``both``), and
   Kùzu's own Cypher ``[* SHORTEST 1..k]`` on the same store (fewer pairs: it
   searches from the source to the whole graph);
4. 2-hop neighbourhoods, subgraphs, all shortest paths;
5. a mixed workload: one ``add_relation`` per 10 uncached path queries.

Ratios (speed-ups over each peer on the same pairs, mixed over read-only) go
in each measurement's ``extra``, with path lengths and neighbourhood sizes.
"""

from __future__ import annotations

import gc
import shutil
import time
import warnings
from typing import Any

import numpy as np

import graphmem
from graphmem.algorithms import paths as kernels
from graphmem.index.adjacency import EdgeIndex
from graphmem.records import entity_key

from .bench_temporal import interleaved
from .datasets import ENTITY_TYPES, Graph, generate
from .suite import Benchmark, Budget, RunContext, Suite, measurement
from .timing import Stats, measure, steady_gc, summarize, timed

LOAD_BATCH = 100_000
PAIRS = 1000
WARMUP = 20
CYPHER_MAX_HOPS = 30
"""Upper bound of Kùzu's ``[* SHORTEST 1..k]`` (its default limit is 30)."""
MIXED_EVERY = 10

_B = {
    b.name: b
    for b in (
        Benchmark("snapshot_build", "the adjacency snapshot from the store: `relation_ids` through Arrow, then "
                  "`EdgeIndex.from_arrays` (CSR of both directions); extra: bytes per relation per direction",
                  budget=Budget("p50_ms", 3000, at_size=1_000_000)),
        Benchmark("derived_load", "the rebuild of the graph state from the store (id map, type bitmaps, relation "
                  "index: `Derived.get()` after a reset, no save yet): what a reopen without a saved state "
                  "(benchmarks/bench_reopen.py) does; for comparison with snapshot_build"),
        Benchmark("path_uncached", f"`shortest_path(a, b)` (both directions, no filter) through the public API, "
                  f"{PAIRS:,} seeded random pairs each asked once (cold cache), interleaved call by call with networkx; "
                  "extra: speed-up over each peer",
                  budget=Budget("p50_ms", 0.15)),
        Benchmark("path_cached", "the same pairs asked again (answers from the path cache)",
                  budget=Budget("p50_ms", 0.02)),
        Benchmark("path_kernel", "the compiled bidirectional BFS alone on the same pairs (entity ids, no names, "
                  "no cache)"),
        Benchmark("path_out", "`shortest_path(a, b, direction='out')` through the public API, fresh pairs"),
        Benchmark("path_networkx", "`networkx.bidirectional_shortest_path` on an undirected `nx.Graph` of the "
                  "same relations, same pairs, interleaved call by call with path_uncached"),
        Benchmark("path_rustworkx", "`rustworkx.dijkstra_shortest_paths(g, a, target=b)` on an undirected "
                  "`PyGraph` of the same relations, same pairs (the first 200 from 100k entities, 50 from 1M); "
                  "rustworkx has no point-to-point BFS, and this is its fastest call that returns a path "
                  "(`python -m benchmarks.rustworkx_calls` times the others: `all_shortest_paths` is slower, "
                  "the length-only `dijkstra_shortest_path_lengths(goal=b)` at most 1.3x faster)"),
        Benchmark("path_igraph", "`igraph.Graph.get_shortest_path(a, to=b)` on an undirected graph of the same "
                  "relations, same pairs (the first 200 from 100k entities, 50 from 1M)"),
        Benchmark("path_kuzu_cypher", f"Kùzu Cypher `MATCH p = (a)-[:Relation* SHORTEST 1..{CYPHER_MAX_HOPS}]-(b) "
                  "RETURN length(p)` on the same store through `mem.cypher` (the first pairs only)"),
        Benchmark("k_hop_2", "`k_hop(name, 2)`: the entities within 2 hops, with distances (extra: sizes)",
                  budget=Budget("p50_ms", 1.0)),
        Benchmark("subgraph_2", "`subgraph(name, 2)` with the default caps (100 entities, 500 relations)"),
        Benchmark("all_shortest", "`all_shortest_paths(a, b)` (at most 100), fresh pairs"),
        Benchmark("path_mixed", f"uncached `shortest_path` latency while one `add_relation` runs per "
                  f"{MIXED_EVERY} queries (fresh pairs; extra: ratio to path_uncached, budget <= 2)"),
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
            path = ctx.workdir / f"paths-{kind}-{size}"
            try:
                out.extend(_run_one(ctx, graph, path))
            finally:
                shutil.rmtree(path, ignore_errors=True)
                gc.collect()
            ctx.log(f"{kind} n={size:,}: done in {time.perf_counter() - started:.1f} s")
    return out


class _Recorder:
    def __init__(self, ctx: RunContext, graph: Graph, out: list[dict[str, Any]]) -> None:
        self.ctx, self.graph, self.out = ctx, graph, out
        self.p50: dict[str, float] = {}

    def add(self, name: str, stats: Stats, **extra: Any) -> None:
        self.p50[name] = stats.p50_ms
        if not self.ctx.wanted(name):
            return
        self.out.append(measurement(_B[name], graph=self.graph.kind, size=self.graph.n, stats=stats, **extra))
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()}
        self.ctx.log(f"  {name}: p50 {stats.p50_ms:.4f} ms, p95 {stats.p95_ms:.4f} ms ({stats.samples} samples) "
                     f"{shown if shown else ''}")


def _load(ctx: RunContext, mem: graphmem.Memory, graph: Graph) -> dict[str, float]:
    n, m = graph.n, graph.m
    types = [ENTITY_TYPES[t] for t in graph.ent_type.tolist()]
    started = time.perf_counter()
    for start in range(0, n, LOAD_BATCH):
        stop = min(start + LOAD_BATCH, n)
        mem.add_entities([{"name": graph.name(i), "type": types[i]} for i in range(start, stop)])
    entities_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, m, LOAD_BATCH):
        mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, m)))
    relations_s = time.perf_counter() - started
    ctx.log(f"  loaded {n:,} entities in {entities_s:.1f} s, {m:,} relations in {relations_s:.1f} s")
    return {"load_entities_s": entities_s, "load_relations_s": relations_s}


def _run_one(ctx: RunContext, graph: Graph, path: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rec = _Recorder(ctx, graph, out)
    n = graph.n
    rng = np.random.default_rng([ctx.seed, n, 4])
    pairs_needed = PAIRS + WARMUP
    ends = rng.integers(0, n, (6 * pairs_needed, 2))
    batches = [ends[i * pairs_needed:(i + 1) * pairs_needed] for i in range(6)]  # fresh pairs per benchmark
    name = graph.name

    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        load = _load(ctx, mem, graph)
        store = mem._store
        state = mem._derived.get()

        # 1. snapshot build, as a reopen does it (after one small build: compiled code loads once per process)
        EdgeIndex.from_arrays([0], [1], ["WARM_UP"])
        reps = ctx.reps(3, 1)
        build_ns: list[int] = []
        index = None
        for _ in range(reps):
            index = None
            gc.collect()
            with steady_gc():
                start = time.perf_counter_ns()
                table = store.execute_arrow_by_id("relation_ids", next_id=state.ids.next_id)
                index = EdgeIndex.from_arrays(table.column("source").to_numpy(), table.column("target").to_numpy(),
                                              table.column("type"))
                build_ns.append(time.perf_counter_ns() - start)
            del table
        if index is None:
            raise RuntimeError("snapshot_build ran no repetition")
        view = index.view
        bytes_per = view.nbytes() / max(1, 2 * view.relations)
        rec.add("snapshot_build", summarize(build_ns), relations=view.relations,
                snapshot_bytes=view.nbytes(), bytes_per_relation_per_direction=bytes_per, **load)
        del index, view

        reps = ctx.reps(3, 1)
        load_ns: list[int] = []
        for _ in range(reps):
            mem._derived.reset()
            gc.collect()
            with steady_gc():
                _, ns = timed(mem._derived.get)
            load_ns.append(ns)
        rec.add("derived_load", summarize(load_ns))
        state = mem._derived.get()
        ids = state.ids

        def id_of(i: int) -> int:
            found = ids.id_of(entity_key("default", name(i)))
            if found is None:
                raise RuntimeError(f"entity {name(i)} missing after the bulk load")
            return found

        # 2. shortest paths through the API
        pairs = [(name(int(a)), name(int(b))) for a, b in batches[0]]
        hops: list[int] = []
        found = [0]

        def ask(i: int) -> None:
            p = mem.shortest_path(*pairs[i])
            if p is not None:
                found[0] += 1
                hops.append(len(p))

        reps = ctx.reps(PAIRS, 200)
        # networkx interleaved call by call with the uncached query, on the
        # same pairs: on a shared machine the load changes between two loops
        # run one after the other, and the ratio is what the target is about.
        import networkx as nx

        g, ns = timed(lambda: _nx_graph(graph))
        ctx.log(f"  networkx graph built in {ns / 1e9:.1f} s")
        nx_pairs = [(int(a), int(b)) for a, b in batches[0]]

        def nx_path(i: int) -> None:
            try:
                nx.bidirectional_shortest_path(g, *nx_pairs[i])
            except nx.NetworkXNoPath:
                pass

        both = interleaved({"graphmem": ask, "networkx": nx_path}, repeat=reps, warmup=WARMUP)
        uncached, nx_stats = both["graphmem"], both["networkx"]
        del g
        gc.collect()
        mean_hops = float(np.mean(hops)) if hops else None
        cached = measure(lambda i: mem.shortest_path(*pairs[i]), repeat=reps, warmup=WARMUP)
        view = state.edges.view
        id_pairs = [(id_of(int(a)), id_of(int(b))) for a, b in batches[0]]
        kernel = measure(lambda i: kernels.bidirectional_bfs(view.adj, *id_pairs[i], n_nodes=view.nodes),
                         repeat=reps, warmup=WARMUP)
        out_pairs = [(name(int(a)), name(int(b))) for a, b in batches[1]]
        out_stats = measure(lambda i: mem.shortest_path(*out_pairs[i], direction="out"), repeat=reps, warmup=WARMUP)

        # 3. peers on the same pairs
        peers = {"networkx": nx_stats, **_peers(ctx, rec, graph, batches[0], reps)}
        cypher = _cypher(ctx, mem, pairs, n)
        ratios = {f"speedup_vs_{peer}": stats.p50_ms / uncached.p50_ms for peer, stats in peers.items()}
        if cypher is not None:
            ratios["speedup_vs_kuzu_cypher"] = cypher.p50_ms / uncached.p50_ms
        rec.add("path_uncached", uncached, mean_hops=mean_hops, found=found[0] / (reps + WARMUP), **ratios)
        rec.add("path_cached", cached)
        rec.add("path_kernel", kernel, api_overhead_ms=uncached.p50_ms - kernel.p50_ms)
        rec.add("path_out", out_stats)
        for peer, stats in peers.items():
            rec.add(f"path_{peer}", stats)
        if cypher is not None:
            rec.add("path_kuzu_cypher", cypher, pairs=cypher.samples, max_hops=CYPHER_MAX_HOPS)

        # 4. neighbourhoods
        seeds = [name(int(a)) for a, _ in batches[2]]
        sizes: list[int] = []
        stats = measure(lambda i: sizes.append(len(mem.k_hop(seeds[i], 2))), repeat=reps, warmup=WARMUP)
        rec.add("k_hop_2", stats, median_size=float(np.median(sizes)), p95_size=float(np.percentile(sizes, 95)),
                max_size=int(max(sizes)))
        sub_sizes: list[int] = []
        stats = measure(lambda i: sub_sizes.append(len(mem.subgraph(seeds[i], 2).relations)), repeat=reps,
                        warmup=WARMUP)
        rec.add("subgraph_2", stats, median_relations=float(np.median(sub_sizes)))
        all_pairs = [(name(int(a)), name(int(b))) for a, b in batches[3]]
        counts: list[int] = []
        stats = measure(lambda i: counts.append(len(mem.all_shortest_paths(*all_pairs[i]))), repeat=reps,
                        warmup=WARMUP)
        rec.add("all_shortest", stats, median_paths=float(np.median(counts)))

        # 5. mixed workload
        mixed_pairs = [(name(int(a)), name(int(b))) for a, b in batches[4]]
        new_edges = [(name(int(a)), "MIXED_LINK", name(int(b))) for a, b in batches[5]]
        ns: list[int] = []
        write_ns: list[int] = []
        clock = time.perf_counter_ns
        with steady_gc():
            for i in range(reps + WARMUP):
                if i % MIXED_EVERY == 0:
                    start = clock()
                    mem.add_relation(*new_edges[i // MIXED_EVERY])
                    write_ns.append(clock() - start)
                start = clock()
                mem.shortest_path(*mixed_pairs[i])
                if i >= WARMUP:
                    ns.append(clock() - start)
        mixed = summarize(ns)
        rec.add("path_mixed", mixed, ratio_to_read_only=mixed.p50_ms / uncached.p50_ms,
                add_relation_p50_ms=float(np.median(write_ns)) / 1e6, delta_after=state.edges.view.delta)
    finally:
        mem.close()
    return out


PEER_PAIRS_LARGE = {100_000: 200, 1_000_000: 50}
"""Pairs for rustworkx and igraph from these sizes up: their point-to-point
calls were measured at ~100 ms (rustworkx) and ~4 ms (igraph) per pair at
100k, far from the others, so fewer pairs give a stable median in minutes."""


def _peers(ctx: RunContext, rec: _Recorder, graph: Graph, ends: np.ndarray, reps: int) -> dict[str, Stats]:
    """rustworkx, igraph: undirected graphs of the same relations, the same pairs (as indices); networkx
    is timed with the uncached query, interleaved."""
    out: dict[str, Stats] = {}
    pairs = [(int(a), int(b)) for a, b in ends]
    slow_reps = min([reps] + [count for size, count in PEER_PAIRS_LARGE.items() if graph.n >= size])

    try:
        import rustworkx as rx
    except ImportError:
        ctx.log("  rustworkx not installed: skipped")
    else:
        rg = rx.PyGraph(multigraph=False)
        rg.add_nodes_from(range(graph.n))
        rg.extend_from_edge_list(list(zip(graph.src.tolist(), graph.dst.tolist())))
        out["rustworkx"] = measure(lambda i: rx.dijkstra_shortest_paths(rg, pairs[i][0], target=pairs[i][1]),
                                   repeat=slow_reps, warmup=2)
        del rg
        gc.collect()

    try:
        import igraph as ig
    except ImportError:
        ctx.log("  igraph not installed: skipped")
    else:
        edges = np.stack([graph.src, graph.dst], axis=1)
        gi = ig.Graph(n=graph.n, edges=edges, directed=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "Couldn't reach some vertices": an answer, not a fault
            out["igraph"] = measure(lambda i: gi.get_shortest_path(pairs[i][0], to=pairs[i][1]), repeat=slow_reps,
                                    warmup=2)
        del gi
        gc.collect()
    return out


def _nx_graph(graph: Graph) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    return g


def _cypher(ctx: RunContext, mem: graphmem.Memory, pairs: list[tuple[str, str]], n: int) -> Stats | None:
    """Kùzu's own shortest path on the same store; few pairs (each searches the whole graph)."""
    count = ctx.reps(20 if n >= 1_000_000 else 50, 5)
    query = "MATCH p = (a:Entity {key: $a})-[:Relation* SHORTEST 1..30]-(b:Entity {key: $b}) RETURN length(p) AS hops"
    keys = [(entity_key("default", a), entity_key("default", b)) for a, b in pairs[: count + 2]]
    try:
        return measure(lambda i: mem.cypher(query, {"a": keys[i][0], "b": keys[i][1]}), repeat=count, warmup=2)
    except graphmem.GraphMemError as exc:
        ctx.log(f"  path_kuzu_cypher failed: {exc}")
        return None


SUITE = Suite(
    name="paths",
    title="Paths: CSR snapshot, bidirectional BFS, path cache (issue 4)",
    benchmarks=tuple(_B.values()),
    run=run,
)
