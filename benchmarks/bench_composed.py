"""Composed suite: semantic x structural queries of issue 5 ("Performance").

For each size, one store on disk gets N entities with seeded clustered 384-d
vectors (:mod:`benchmarks.vector_data`) through the public API; its HNSW index
is built by a first search and saved. That store (the expensive part: the
HNSW build at 1M takes ~15 min here) is copied once per graph shape, and each
copy receives that shape's relations (:mod:`benchmarks.datasets`, 5 per
entity), so both shapes share one vector index build. On each copy, reopened
with its saved index, in this order:

1. ``search(q, k=10, near=anchor, max_hops=2)`` (the budget), then
   ``max_hops=3``, ``rank="hybrid"``, and three anchors at once; query vectors
   are held out (not stored), anchors are seeded random entities;
2. ``recall(q, k=10, hops=1)`` (the budget) and ``hops=2``;
3. ``paths_between(a, b)`` on random pairs;
4. the naive compositions a user would write today, on the same queries and
   anchors: (a) Kùzu Cypher, in a raw Kùzu database holding the same float32
   vectors and relations, either with its vector index
   (``QUERY_VECTOR_INDEX`` then a variable-length ``MATCH`` from the anchor)
   or with the variable-length ``MATCH`` first and ``array_cosine_similarity``
   over what it reaches; (b) exact numpy search over all vectors, then a
   networkx k-hop filter (``single_source_shortest_path_length``).

With ``GRAPHMEM_BENCH_BASE_CACHE=DIR`` in the environment, the base store of
each (engine, size, seed) is kept in ``DIR`` and reused by later runs (its
load and build times are then the first run's, and the dataset entry names
the folder under ``base_reused_from``): re-measuring the queries at 1M then
skips the ~15 min HNSW build. Off by default.

Every answer is checked against the exact definition (float32 cosine over the
entities within ``max_hops`` found by networkx): ``recall_at_10`` and
``hops_agree`` go in each measurement's ``extra`` with neighbourhood sizes
and, on ``near_2``, graphmem's speed-up over each peer (peer p50 / graphmem
p50, same run).
"""

from __future__ import annotations

import gc
import importlib.util  # noqa: F401  kuzu 0.11.3 uses importlib.util without importing it
import json
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import graphmem

from .datasets import ENTITY_TYPES, Graph, generate
from .suite import Benchmark, Budget, RunContext, Suite, failure, measurement
from .timing import Stats, measure, steady_gc, timed
from .vector_data import clustered

DIM = 384
K = 10
LOAD_BATCH = 100_000
QUERIES = 300
"""Held-out query vectors per size (cycled over the anchors)."""
WARMUP = 10
SEARCHES = 300
"""Timed calls per graphmem benchmark (fewer with ``--quick``/``--repeat``)."""
SETTLE_S = 5.5
"""Wait after the bulk load before the last write (the index catch-up margin,
``SEQ_MARGIN_US``, plus half a second): see :func:`_settle`."""
KUZU_INDEX_MAX = 100_000
"""Largest size at which Kùzu's ``CREATE_VECTOR_INDEX`` is built for peer (a):
it was measured at ~300 vectors/s here (RESULTS.md, vectors suite), so 1M would
take about an hour. The variable-length-first Cypher peer needs no index and
runs at every size."""
KUZU_FETCH = 1000
"""Candidates asked of Kùzu's vector index before the variable-length
``MATCH`` filters them (a hundred times ``k``, a generous over-fetch)."""
KUZU_BUFFER_POOL = 6 << 30
HYBRID_DECAY = 0.5
MULTI_ANCHORS = 3

_CYPHER_INDEX_FIRST = """\
CALL QUERY_VECTOR_INDEX('E', 'vidx', $q, $fetch)
WITH node AS n, distance
MATCH (a:E {{id: $a}})-[:{rel}*0..2]-(n)
RETURN DISTINCT n.id AS id, distance
ORDER BY distance, id
LIMIT 10"""
_CYPHER_MATCH_FIRST = """\
MATCH (a:E {{id: $a}})-[:{rel}*0..2]-(n:E)
WITH DISTINCT n
RETURN n.id AS id, array_cosine_similarity(n.v, $q) AS score
ORDER BY score DESC, id
LIMIT 10"""
_REL_TABLE = {"random": "RRandom", "powerlaw": "RPowerlaw"}
"""One relation table per graph shape in the peer database (fixed names, not input)."""

_B = {
    b.name: b
    for b in (
        Benchmark("near_2", f"`search(q, k={K}, near=anchor, max_hops=2)` (direction both, no filter): held-out "
                  "query vectors, seeded random anchors; extra: recall_at_10 vs exact float32 cosine over the "
                  "2-hop neighbourhood found by networkx, hops_agree (each hit's hops = its networkx distance), "
                  "neighbourhood sizes, speedup_vs_<peer> (peer p50 / this p50)", budget=Budget("p50_ms", 5)),
        Benchmark("near_3", "as near_2 with `max_hops=3` (report only)"),
        Benchmark("near_2_hybrid", f"as near_2 with `rank='hybrid'` (similarity * {HYBRID_DECAY}**hops, every "
                  "candidate scored); extra: recall_at_10 vs the exact hybrid score"),
        Benchmark("near_2_multi", f"as near_2 with {MULTI_ANCHORS} anchors (`near=[a, b, c]`)"),
        Benchmark("recall_1", f"`recall(q, k={K}, hops=1)` with the default budgets (30 entities, 60 relations); "
                  "rows not in graphmem's entity cache are read from the store (and cached: with random queries "
                  "over a large store most still miss); extra: median entities, relations and to_text() length, "
                  "entity cache hit rate", budget=Budget("p50_ms", 10)),
        Benchmark("recall_1_warm", "recall_1's calls again after the rows of every entity they returned were "
                  "read once more with `get_entity` (so the entity cache holds them): recall without the store "
                  "reads; extra: entity cache hit rate"),
        Benchmark("recall_2", f"`recall(q, k={K}, hops=2)` (report only)"),
        Benchmark("paths_between", "`paths_between(a, b)` (every shortest path, at most 10, with the entities "
                  "along them) on seeded random pairs; extra: median paths and hops"),
        Benchmark("near_2_numpy_networkx", "peer (b): exact search (`data @ q` over all float32 vectors), then "
                  "a networkx filter (`single_source_shortest_path_length(g, anchor, cutoff=2)` on an undirected "
                  "`nx.Graph` of the same relations), top 10 of what passes; extra: its two parts' p50s"),
        Benchmark("near_2_numpy_networkx_ball", "peer (c), the smart composition: the 2-hop ball first "
                  "(`single_source_shortest_path_length(g, anchor, cutoff=2)`), then exact float32 cosine of "
                  "only the ball's vectors (`data[ball] @ q`), top 10; ids only (no hops or paths)"),
        Benchmark("near_2_numpy_networkx_ball_paths", "peer (c'), as (c) but answering what `near_2` answers: "
                  "the ball with a shortest path to each node (`single_source_shortest_path(g, anchor, "
                  "cutoff=2)`), then the top 10 as (name, score, hops, path of names)"),
        Benchmark("near_2_kuzu_vector_varlen", "peer (a), kuzu engine only, up to 100k entities: Kùzu Cypher "
                  f"`CALL QUERY_VECTOR_INDEX(..., $q, {KUZU_FETCH})` then `MATCH (a {{id: $a}})-[*0..2]-(n)`, "
                  "top 10 by distance, in a raw Kùzu database with the same float32 vectors and relations "
                  "(index defaults: cosine, efs 200); extra: recall_at_10 (the index's top candidates rarely "
                  "fall in a small neighbourhood)"),
        Benchmark("near_2_kuzu_varlen_exact", "peer (a'), kuzu engine only: Kùzu Cypher `MATCH (a {id: $a})-"
                  "[*0..2]-(n) WITH DISTINCT n` then `array_cosine_similarity(n.v, $q)`, top 10, same raw "
                  "database (exact; no vector index)"),
    )
}  # fmt: skip

_PEERS = ("near_2_numpy_networkx", "near_2_numpy_networkx_ball", "near_2_numpy_networkx_ball_paths",
          "near_2_kuzu_vector_varlen", "near_2_kuzu_varlen_exact")


# -- recording -----------------------------------------------------------------------------


class _Recorder:
    """One (graph, size)'s measurements; a benchmark that raises is recorded as
    an error so one broken size does not cost the others (as in bench_vectors)."""

    def __init__(self, ctx: RunContext, graph: str, size: int, out: list[dict[str, Any]]) -> None:
        self.ctx, self.graph, self.size, self.out = ctx, graph, size, out
        self.done: set[str] = set()
        self.p50: dict[str, float] = {}

    def add(self, name: str, stats: Stats, **extra: Any) -> None:
        self.done.add(name)
        self.p50[name] = stats.p50_ms
        if not self.ctx.wanted(name):
            return
        self.out.append(measurement(_B[name], graph=self.graph, size=self.size, stats=stats, **extra))
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()
                 if isinstance(v, (int, float, str))}  # fmt: skip
        self.ctx.log(f"  {name}: p50 {stats.p50_ms:.3f} ms, p95 {stats.p95_ms:.3f} ms ({stats.samples} samples) "
                     f"{shown}")

    def fail_rest(self, exc: BaseException, names: list[str]) -> None:
        self.ctx.log("".join(traceback.format_exception(exc)).rstrip())
        for name in names:
            if name not in self.done and self.ctx.wanted(name):
                self.done.add(name)
                self.out.append(failure(_B[name], graph=self.graph, size=self.size, exc=exc))
                self.ctx.log(f"  {name}: ERROR {type(exc).__name__}: {exc}")


def _expected(ctx: RunContext, n: int) -> list[str]:
    """The benchmarks one (graph, size) records, so a failure can be recorded for each."""
    names = list(_B)
    if ctx.engine != "kuzu":
        names = [x for x in names if "kuzu" not in x]
    elif n > KUZU_INDEX_MAX:
        names.remove("near_2_kuzu_vector_varlen")
    return names


# -- the suite ---------------------------------------------------------------------------


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in ctx.sizes:
        started = time.perf_counter()
        try:
            _run_size(ctx, n, out)
        except Exception as exc:  # noqa: BLE001 - one broken size must not cost the others
            for kind in ctx.graphs:
                _Recorder(ctx, kind, n, out).fail_rest(exc, [x for x in _expected(ctx, n)
                                                             if not _recorded(out, x, kind, n)])  # fmt: skip
        finally:
            for leftover in ctx.workdir.glob(f"composed-*-{n}"):
                shutil.rmtree(leftover, ignore_errors=True)
            gc.collect()
        ctx.log(f"composed n={n:,}: done in {time.perf_counter() - started:.1f} s")
        ctx.save(out)
    return out


def _recorded(out: list[dict[str, Any]], name: str, graph: str, n: int) -> bool:
    return any((m["benchmark"], m["graph"], m["size"]) == (name, graph, n) for m in out)


def _run_size(ctx: RunContext, n: int, out: list[dict[str, Any]]) -> None:
    (data, queries), gen_ns = timed(lambda: clustered(n, QUERIES, dim=DIM, seed=ctx.seed))
    ctx.log(f"composed n={n:,}: {DIM}-d vectors generated in {gen_ns / 1e9:.1f} s")
    base = ctx.workdir / f"composed-base-{n}"
    kept = _kept_base(ctx, n)
    if kept is not None and (kept / "info.json").is_file():
        # A base built by an earlier run with the same engine, size and seed: the
        # same data, its HNSW index already built (the ~15 min of a 1M run).
        base_info = {**json.loads((kept / "info.json").read_text(encoding="utf-8")), "base_reused_from": str(kept)}
        shutil.copytree(kept / "store", base)
        ctx.log(f"  base store reused from {kept}")
    else:
        base_info = _build_base(ctx, base, data)
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(base, kept / "store")
            (kept / "info.json").write_text(json.dumps(base_info), encoding="utf-8")
    peer = None
    if ctx.engine == "kuzu" and any(ctx.wanted(x) for x in _PEERS if "kuzu" in x):
        peer = _KuzuPeer(ctx, ctx.workdir / f"composed-kuzu-{n}", data, with_index=n <= KUZU_INDEX_MAX)
    try:
        for kind in ctx.graphs:
            graph, graph_ns = timed(lambda: generate(kind, n, seed=ctx.seed))
            entry: dict[str, Any] = {"graph": kind, "size": n, "relations": graph.m, "generate_s": graph_ns / 1e9,
                                     "dim": DIM, "queries": QUERIES, **base_info}  # fmt: skip
            ctx.datasets.append(entry)
            rec = _Recorder(ctx, kind, n, out)
            path = ctx.workdir / f"composed-{kind}-{n}"
            try:
                _, copy_ns = timed(lambda: shutil.copytree(base, path))
                entry["store_copy_s"] = copy_ns / 1e9
                if peer is not None:
                    entry.update(peer.add_relations(kind, graph))
                _run_graph(ctx, rec, graph, path, data, queries, peer, entry)
            except Exception as exc:  # noqa: BLE001 - record it, and still measure the other shape
                rec.fail_rest(exc, _expected(ctx, n))
            finally:
                shutil.rmtree(path, ignore_errors=True)
                del graph
                gc.collect()
            ctx.save(out)
    finally:
        if peer is not None:
            peer.close()
        shutil.rmtree(base, ignore_errors=True)


BASE_CACHE_ENV = "GRAPHMEM_BENCH_BASE_CACHE"
"""Environment variable naming a folder where the base store of each (engine,
size, seed) is kept between runs and reused (opt-in; off by default, so a
normal run measures the load and the index build too)."""


def _kept_base(ctx: RunContext, n: int) -> Path | None:
    folder = os.environ.get(BASE_CACHE_ENV)
    return None if not folder else Path(folder) / f"composed-base-{ctx.engine}-{n}-{ctx.seed}"


def _build_base(ctx: RunContext, path: Path, data: np.ndarray) -> dict[str, float]:
    """Entities with vectors, their HNSW index built and saved: the part both shapes share."""
    n = len(data)
    types = np.random.default_rng([ctx.seed, n, 21]).integers(0, len(ENTITY_TYPES), n)
    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        started = time.perf_counter()
        for start in range(0, n, LOAD_BATCH):
            stop = min(start + LOAD_BATCH, n)
            mem.add_entities([{"name": Graph.name(i), "type": ENTITY_TYPES[types[i]], "embedding": data[i]}
                              for i in range(start, stop)])  # fmt: skip
        loaded_at = time.time()
        load_s = time.perf_counter() - started
        ctx.log(f"  loaded {n:,} entities with vectors in {load_s:.1f} s")
        _, build_ns = timed(lambda: mem.search(data[0], K))
        ctx.log(f"  HNSW index built in {build_ns / 1e9:.1f} s")
        _settle(mem, n, loaded_at)
    finally:
        mem.close()
    return {"load_entities_s": load_s, "hnsw_build_s": build_ns / 1e9}


def _settle(mem: graphmem.Memory, n: int, loaded_at: float) -> None:
    """Write one entity more than the catch-up margin after the bulk load, then save.

    A reopen re-adds to HNSW every entity written within ``SEQ_MARGIN_US`` of
    the saved index's last write; right after a bulk load that is most of the
    store, which would make every copy's first search a partial rebuild. The
    extra entity has a random vector (cosine ~0 to every query) and no
    relations, so it is never a hit.
    """
    wait = loaded_at + SETTLE_S - time.time()
    if wait > 0:
        time.sleep(wait)
    far = np.random.default_rng(n).standard_normal(DIM).astype(np.float32)
    mem.add_entity(Graph.name(n), type="Settle", embedding=far / np.linalg.norm(far))
    mem.flush()


def _load_relations(ctx: RunContext, mem: graphmem.Memory, graph: Graph) -> float:
    started = time.perf_counter()
    for start in range(0, graph.m, LOAD_BATCH):
        mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, graph.m)))
    seconds = time.perf_counter() - started
    ctx.log(f"  {graph.kind}: loaded {graph.m:,} relations in {seconds:.1f} s")
    return seconds


def _nx_graph(graph: Graph) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    return g


def _index(name: str) -> int:
    return int(name[4:])  # Graph.name: "ent-%08d"


def _top(ids: np.ndarray, scores: np.ndarray) -> list[int]:
    """Top ``K`` ids by score, ties to the smaller id (graphmem's order)."""
    order = np.lexsort((ids, -scores))[:K]
    return ids[order].tolist()


def _recall(found: list[list[int]], truth: list[list[int]]) -> float:
    hits = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth) if t]
    return float(np.mean(hits)) if hits else float("nan")


class _Truth:
    """The exact answers, from networkx and float32 numpy: the brute-force definition."""

    def __init__(self, g: Any, data: np.ndarray) -> None:
        self.g, self.data = g, data

    def within(self, anchors: list[int], hops: int) -> dict[int, int]:
        import networkx as nx

        if len(anchors) == 1:
            return dict(nx.single_source_shortest_path_length(self.g, anchors[0], cutoff=hops))
        return {int(k): int(v) for k, v in nx.multi_source_dijkstra_path_length(self.g, set(anchors),
                                                                                 cutoff=hops).items()}  # fmt: skip

    def top(self, query: np.ndarray, reach: dict[int, int], decay: float | None = None) -> list[int]:
        ids = np.fromiter(reach, np.int64, len(reach))
        scores = self.data[ids] @ query
        if decay is not None:
            hops = np.fromiter((reach[i] for i in ids.tolist()), np.float64, len(ids))
            scores = (scores * np.power(decay, hops)).astype(np.float32)
        return _top(ids, scores)


def _run_graph(ctx: RunContext, rec: _Recorder, graph: Graph, path: Path, data: np.ndarray, queries: np.ndarray,
               peer: _KuzuPeer | None, entry: dict[str, Any]) -> None:  # fmt: skip
    n = graph.n
    name = Graph.name
    reps = ctx.reps(SEARCHES, 50)
    calls = reps + WARMUP
    rng = np.random.default_rng([ctx.seed, n, 22, len(graph.kind)])
    anchors = rng.integers(0, n, (calls, MULTI_ANCHORS)).tolist()
    pairs = rng.integers(0, n, (calls, 2)).tolist()
    query = [queries[i % len(queries)] for i in range(calls)]

    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        entry["load_relations_s"] = _load_relations(ctx, mem, graph)
        _, first_ns = timed(lambda: mem.search(query[0], K, near=name(anchors[0][0]), max_hops=1))
        last_load = dict(mem._vectors.last_load)  # private: the benchmark checks it measures a loaded index
        entry["first_search_s"] = first_ns / 1e9
        entry["index_load"] = last_load
        if last_load.get("source") != "file":
            ctx.log(f"  warning: the copied store's index was not loaded from its file: {last_load}")
        g, nx_ns = timed(lambda: _nx_graph(graph))
        ctx.log(f"  networkx graph built in {nx_ns / 1e9:.1f} s")
        truth = _Truth(g, data)
        reach2 = [truth.within(a[:1], 2) for a in anchors]

        def near(label: str, hops: int, *, multi: bool = False, rank: str = "similarity") -> tuple[Stats, dict]:
            found: list[Any] = [None] * calls

            def call(i: int) -> None:
                near_names = [name(a) for a in anchors[i]] if multi else name(anchors[i][0])
                found[i] = mem.search(query[i], K, near=near_names, max_hops=hops, rank=rank, decay=HYBRID_DECAY)

            with ctx.profiling(label, f"{graph.kind}-{n}"):
                stats = measure(call, repeat=reps, warmup=WARMUP)
            timed_range = range(WARMUP, calls)
            reach = reach2 if (hops == 2 and not multi) else [
                truth.within(anchors[i] if multi else anchors[i][:1], hops) if i >= WARMUP else {}
                for i in range(calls)]  # fmt: skip
            decay = HYBRID_DECAY if rank == "hybrid" else None
            got = [[_index(h.name) for h in found[i]] for i in timed_range]
            expected = [truth.top(query[i], reach[i], decay) for i in timed_range]
            agree = [h.hops == reach[i].get(_index(h.name)) and len(h.path) == h.hops
                     for i in timed_range for h in found[i]]  # fmt: skip
            sizes = [len(reach[i]) for i in timed_range]
            return stats, {
                "recall_at_10": _recall(got, expected), "hops_agree": float(np.mean(agree)) if agree else None,
                "median_neighbourhood": float(np.median(sizes)), "p95_neighbourhood": float(np.percentile(sizes, 95)),
                "max_neighbourhood": int(max(sizes)),
            }  # fmt: skip

        # near_2 is always measured: it is what the peers' ratios are taken against.
        near_stats, near_extra = near("near_2", 2)
        peer_stats = _peers(ctx, rec, truth, data, query, anchors, reach2, peer, graph.kind)
        near_extra.update({f"speedup_vs_{peer_name}": stats.p50_ms / near_stats.p50_ms
                           for peer_name, stats in peer_stats.items()})  # fmt: skip
        rec.add("near_2", near_stats, **near_extra)
        for label, hops, options in (("near_3", 3, {}), ("near_2_hybrid", 2, {"rank": "hybrid"}),
                                     ("near_2_multi", 2, {"multi": True})):  # fmt: skip
            if ctx.wanted(label):
                stats, extra = near(label, hops, **options)
                rec.add(label, stats, **extra)

        # recall reads the rows of the entities it returns (text, observations) from the store unless
        # graphmem's entity cache holds them; the hit rate tells the two costs apart.
        recalled: list[Any] = [None] * calls
        for label, hops in (("recall_1", 1), ("recall_1_warm", 1), ("recall_2", 2)):
            if not ctx.wanted(label) and not (label == "recall_1" and ctx.wanted("recall_1_warm")):
                continue
            if label == "recall_1_warm":
                for answer in recalled:
                    for entity in answer.entities if answer is not None else ():
                        mem.get_entity(entity.name)
            recalled = [None] * calls
            before = mem.stats()["cache"]
            with ctx.profiling(label, f"{graph.kind}-{n}"):
                stats = measure(lambda i: recalled.__setitem__(i, mem.recall(query[i], k=K, hops=hops)),
                                repeat=reps, warmup=WARMUP)  # fmt: skip
            after = mem.stats()["cache"]
            lookups = (after["hits"] - before["hits"]) + (after["misses"] - before["misses"])
            timed_recalls = [r for r in recalled[WARMUP:] if r is not None]
            rec.add(label, stats,
                    median_entities=float(np.median([len(r.entities) for r in timed_recalls])),
                    median_relations=float(np.median([len(r.relations) for r in timed_recalls])),
                    median_text_chars=float(np.median([len(r.to_text()) for r in timed_recalls])),
                    truncated=float(np.mean([r.truncated for r in timed_recalls])),
                    entity_cache_hit_rate=(after["hits"] - before["hits"]) / lookups if lookups else None)  # fmt: skip

        if ctx.wanted("paths_between"):
            explained: list[Any] = [None] * calls
            stats = measure(lambda i: explained.__setitem__(i, mem.paths_between(name(pairs[i][0]),
                                                                                  name(pairs[i][1]))),
                            repeat=reps, warmup=WARMUP)  # fmt: skip
            timed_paths = explained[WARMUP:]
            hop_counts = [len(p[0].path) for p in timed_paths if p]
            rec.add("paths_between", stats, median_paths=float(np.median([len(p) for p in timed_paths])),
                    median_hops=float(np.median(hop_counts)) if hop_counts else None,
                    connected=float(np.mean([bool(p) for p in timed_paths])))  # fmt: skip
    finally:
        mem.close()


def _peers(ctx: RunContext, rec: _Recorder, truth: _Truth, data: np.ndarray, query: list[np.ndarray],
           anchors: list[list[int]], reach2: list[dict[int, int]], peer: _KuzuPeer | None,
           kind: str) -> dict[str, Stats]:  # fmt: skip
    """The naive compositions, on the same queries and anchors; returns their stats by peer name."""
    import networkx as nx

    n = len(data)
    g = truth.g
    out: dict[str, Stats] = {}
    count = ctx.reps(100 if n < 1_000_000 else 30, 10)
    calls = count + 2
    expected = [truth.top(query[i], reach2[i]) for i in range(calls)]

    if ctx.wanted("near_2_numpy_networkx"):
        found: list[list[int]] = [[] for _ in range(calls)]

        def exact_then_filter(i: int) -> None:
            scores = data @ query[i]
            reach = nx.single_source_shortest_path_length(g, anchors[i][0], cutoff=2)
            ids = np.fromiter(reach, np.int64, len(reach))
            found[i] = _top(ids, scores[ids])

        stats = measure(exact_then_filter, repeat=count, warmup=2)
        khop = measure(lambda i: nx.single_source_shortest_path_length(g, anchors[i][0], cutoff=2),
                       repeat=count, warmup=2)  # fmt: skip
        dot = measure(lambda i: data @ query[i], repeat=count, warmup=2)
        out["numpy_networkx"] = stats
        rec.add("near_2_numpy_networkx", stats, recall_at_10=_recall(found[2:], expected[2:]),
                networkx_k_hop_p50_ms=khop.p50_ms, numpy_scores_p50_ms=dot.p50_ms)  # fmt: skip

    if ctx.wanted("near_2_numpy_networkx_ball"):
        found = [[] for _ in range(calls)]

        def ball_then_score(i: int) -> None:
            reach = nx.single_source_shortest_path_length(g, anchors[i][0], cutoff=2)
            ids = np.fromiter(reach, np.int64, len(reach))
            found[i] = _top(ids, data[ids] @ query[i])

        stats = measure(ball_then_score, repeat=count, warmup=2)
        out["numpy_networkx_ball"] = stats
        rec.add("near_2_numpy_networkx_ball", stats, recall_at_10=_recall(found[2:], expected[2:]))

    if ctx.wanted("near_2_numpy_networkx_ball_paths"):
        found = [[] for _ in range(calls)]
        answers: list[Any] = [None] * calls

        def ball_paths_then_score(i: int) -> None:
            paths = nx.single_source_shortest_path(g, anchors[i][0], cutoff=2)
            ids = np.fromiter(paths, np.int64, len(paths))
            top = _top(ids, data[ids] @ query[i])
            scores = data[top] @ query[i]
            answers[i] = [(Graph.name(t), float(s), len(paths[t]) - 1, [Graph.name(x) for x in paths[t]])
                          for t, s in zip(top, scores.tolist())]  # fmt: skip
            found[i] = top

        stats = measure(ball_paths_then_score, repeat=count, warmup=2)
        out["numpy_networkx_ball_paths"] = stats
        rec.add("near_2_numpy_networkx_ball_paths", stats, recall_at_10=_recall(found[2:], expected[2:]))

    if peer is not None:
        params = [{"q": query[i].tolist(), "a": anchors[i][0]} for i in range(calls)]  # lists, built untimed
        if peer.with_index and ctx.wanted("near_2_kuzu_vector_varlen"):
            found = [[] for _ in range(calls)]
            cypher = _CYPHER_INDEX_FIRST.format(rel=_REL_TABLE[kind])

            def index_first(i: int) -> None:
                found[i] = [int(row[0]) for row in peer.execute(cypher, {**params[i], "fetch": KUZU_FETCH})]

            stats = measure(index_first, repeat=count, warmup=2)
            out["kuzu_vector_varlen"] = stats
            rec.add("near_2_kuzu_vector_varlen", stats, recall_at_10=_recall(found[2:], expected[2:]),
                    fetch=KUZU_FETCH, index_build_s=peer.index_build_s)  # fmt: skip
        if ctx.wanted("near_2_kuzu_varlen_exact"):
            found = [[] for _ in range(calls)]
            cypher = _CYPHER_MATCH_FIRST.format(rel=_REL_TABLE[kind])

            def match_first(i: int) -> None:
                found[i] = [int(row[0]) for row in peer.execute(cypher, params[i])]

            stats = measure(match_first, repeat=count, warmup=2)
            out["kuzu_varlen_exact"] = stats
            rec.add("near_2_kuzu_varlen_exact", stats, recall_at_10=_recall(found[2:], expected[2:]))
    return out


# -- the Kùzu peer ----------------------------------------------------------------------------


class _KuzuPeer:
    """A raw Kùzu database with the same float32 vectors (and, per shape, relations).

    Kùzu 0.11.3 bundles its vector extension (``CREATE_VECTOR_INDEX`` runs with
    no INSTALL or LOAD); nothing here downloads anything.
    """

    def __init__(self, ctx: RunContext, path: Path, data: np.ndarray, *, with_index: bool) -> None:
        import kuzu
        import pyarrow as pa

        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        self.ctx = ctx
        self.db = kuzu.Database(str(path / "db"), buffer_pool_size=KUZU_BUFFER_POOL)
        self.conn = kuzu.Connection(self.db)
        self.with_index = with_index
        self.index_build_s: float | None = None
        n = len(data)
        self.execute(f"CREATE NODE TABLE E(id INT64 PRIMARY KEY, v FLOAT[{DIM}])")
        table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)),
                          "v": pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), DIM)})  # fmt: skip
        _, copy_ns = timed(lambda: self.execute("COPY E FROM $rows", {"rows": table}))
        del table
        ctx.log(f"  kuzu peer: {n:,} vectors copied in {copy_ns / 1e9:.1f} s")
        if with_index:
            _, build_ns = timed(lambda: self.execute("CALL CREATE_VECTOR_INDEX('E', 'vidx', 'v')"))
            self.index_build_s = build_ns / 1e9
            ctx.log(f"  kuzu peer: vector index built in {self.index_build_s:.1f} s")

    def execute(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        # Every result is closed here: one left for the garbage collector after
        # the database is closed crashes the process (kuzu 0.11.3).
        result = self.conn.execute(query, params or {})
        try:
            return result.get_all()
        finally:
            result.close()

    def add_relations(self, kind: str, graph: Graph) -> dict[str, float]:
        import pyarrow as pa

        table_name = _REL_TABLE[kind]
        self.execute(f"CREATE REL TABLE {table_name}(FROM E TO E)")
        rows = pa.table({"from": pa.array(graph.src), "to": pa.array(graph.dst)})
        with steady_gc():
            _, ns = timed(lambda: self.execute(f"COPY {table_name} FROM $rows", {"rows": rows}))
        self.ctx.log(f"  kuzu peer: {graph.m:,} {kind} relations copied in {ns / 1e9:.1f} s")
        return {"kuzu_peer_copy_relations_s": ns / 1e9}

    def close(self) -> None:
        self.conn.close()
        self.db.close()


SUITE = Suite(
    name="composed",
    title="Composed queries: search near=, recall, paths_between (issue 5)",
    benchmarks=tuple(_B.values()),
    run=run,
)
