"""Temporal suite: bi-temporal reads and namespaces of issue 7 ("Performance").

The issue's budgets are ratios: ``as_of`` filtering costs at most 1.5x the
unfiltered path and search latency; a namespace view adds nothing measurable
to lookups; 1,000 namespaces in one store cost at most 10% on lookups against
one namespace of the same total size; validity costs at most 16 extra bytes
per relation. The harness's :class:`Budget` judges absolute p50s and rates, so
each ratio goes in the measurement's ``extra`` as ``ratio`` with its
``ratio_budget`` and ``within_budget`` (the JSON is the record; RESULTS.md
shows the times).

For each graph shape and size, three stores on disk, bulk-loaded through the
public API:

- **A**: the graph of :mod:`benchmarks.datasets` (N entities, 5N relations),
  every entity with an explicit seeded ``DIM``-d embedding, so ``search`` needs
  no model. Measured in this order, so that each benchmark sees the state it
  claims to measure:

  1. baseline, no bounded fact: ``shortest_path`` on seeded pairs (each pair
     asked once: the path cache is cold for it), ``k_hop(name, 2)``,
     ``search(vector, k=10)``; ``get_entity`` through the memory and through
     a ``mem.namespace("default")`` view of the same store, interleaved;
  2. 1% of the relations, and 0.1% of the entities (so that ``as_of`` has
     entities to hide from ``search`` too), are rewritten with a validity
     interval through ``add_relations`` / ``add_entities`` (each rewrite keeps
     the unbounded version as history); memory figures are taken;
  3. the same pairs with no time filter (the current arrays, validity
     ignored), at "now" (a delta view over the snapshot) and at one fixed
     past ``as_of``, interleaved call by call so the load of the shared
     machine hits the variants alike; then a fresh ``as_of`` per query (a
     view built per call) on its own, since its per-call allocations slowed
     whichever variant ran next; ``k_hop`` and ``search`` interleaved too;
  4. ``known_at`` (time travel to just after the load): the first read, which
     builds the view from the store; the same ``known_at`` asked again alone;
     then reads with ``as_of`` fixed too, whose view key does not move with
     the clock (a ``known_at`` read alone keys its view by the current time,
     see ``known_at_repeat``).

- **B**: N entities in 1,000 namespaces of N/1000 each (no relations) and
  **C**: N entities in one namespace, the same names and embeddings. Both are
  open at once and their ``get_entity`` calls interleaved. ``search`` within
  one namespace of B (up to ``NS_SEARCH_MAX`` entities: above it, B's HNSW
  build alone takes longer than the rest of the suite on this machine).

Validity intervals are seeded around the moment of step 2: each starts 30 days
to 2 years before it and lasts 30 days to 2 years, so at "now" some facts have
ended and at ``AS_OF_DAYS`` days ago others have not begun.
"""

from __future__ import annotations

import gc
import shutil
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem import temporal
from graphmem.query import search, traversal

from .datasets import ENTITY_TYPES, Graph, generate, random_vectors
from .suite import Benchmark, RunContext, Suite, failure, measurement
from .timing import Stats, measure, steady_gc, summarize, timed

DIM = 32
"""Embedding size: small, so a 1M-vector HNSW build stays within the suite's
time (the vectors suite measures search at 384 dimensions)."""
K = 10
LOAD_BATCH = 100_000
PAIRS = 1000
QUERIES = 300
WARMUP = 20
BOUNDED_RELATIONS = 0.01
BOUNDED_ENTITIES = 0.001
AS_OF_DAYS = 365
"""The fixed past ``as_of``: this many days before the intervals were written."""
NAMESPACES = 1000
KNOWN_BUILDS = 3
"""Distinct ``known_at`` times asked (each builds its view from the store)."""
NS_SEARCH_MAX = 100_000
"""Largest size at which store B gets embeddings (for search within one namespace)."""
LADYBUG_POOL = 1536 << 20
"""Buffer pool of stores B and C on ladybug (see _run_namespaces)."""
AS_OF_RATIO = 1.5
NAMESPACE_RATIO = 1.10
VIEW_RATIO = 1.10
BYTES_PER_RELATION = 16

_B = {
    b.name: b
    for b in (
        Benchmark("path_baseline", f"`shortest_path(a, b)` (both directions) on store A before any fact is bounded, "
                  f"{PAIRS:,} seeded random pairs each asked once (cold path cache). extra: mean_hops"),
        Benchmark("path_now_bounded", "the same pairs after 1% of the relations (and 0.1% of the entities) got a "
                  "validity interval, read at now (the delta view of the current snapshot, cached until the next "
                  "validity boundary). extra: ratio to path_baseline, ratio_interleaved to path_unfiltered"),
        Benchmark("path_unfiltered", "the same pairs on the same bounded store with no time filter at all (the "
                  "current graph's arrays, validity ignored, through graphmem.query.traversal), interleaved call by call "
                  "with path_now_bounded and path_as_of: the side-by-side reference for their ratios"),
        Benchmark("path_as_of", f"the same pairs with one fixed `as_of` ({AS_OF_DAYS} days ago; its view is built "
                  f"once, then cached). extra: ratio to path_baseline (budget <= {AS_OF_RATIO}), "
                  "ratio_interleaved to path_unfiltered"),
        Benchmark("path_as_of_fresh", "the same pairs with a different `as_of` on every call (a view built per "
                  f"call: O(bounded facts)), measured on its own: interleaved, its per-call allocations slowed the "
                  f"variants that followed it. extra: ratio to path_baseline (budget <= {AS_OF_RATIO})"),
        Benchmark("k_hop_baseline", "`k_hop(name, 2)` on store A before any fact is bounded, seeded entities. "
                  "extra: median_size"),
        Benchmark("k_hop_now_bounded", "the same seeds after bounding, at now. extra: ratio to k_hop_baseline"),
        Benchmark("k_hop_as_of", f"the same seeds at the fixed `as_of`. extra: ratio to k_hop_baseline (budget <= "
                  f"{AS_OF_RATIO})"),
        Benchmark("search_baseline", f"`search(vector, k={K})` on store A ({DIM}-d seeded embeddings, held-out "
                  "query vectors) before any fact is bounded"),
        Benchmark("search_now_bounded", "the same queries after bounding, at now (the entities not valid now are "
                  "filtered out). extra: ratio to search_baseline, ratio_interleaved to search_unfiltered"),
        Benchmark("search_unfiltered", "the same queries on the same bounded store with no filter at all (the "
                  "current graph's index, validity ignored, through graphmem.query.search), interleaved call by call "
                  "with search_now_bounded and search_as_of: the side-by-side reference for their ratios (a "
                  "search_baseline timed alone moved between 0.31 and 0.56 ms across runs of one code at 1M)"),
        Benchmark("search_as_of", f"the same queries at the fixed `as_of`. extra: ratio to search_baseline (budget "
                  f"<= {AS_OF_RATIO}), ratio_interleaved to search_unfiltered"),
        Benchmark("known_at_first", "the first read at a past `known_at` (just after the load; a distinct time per "
                  f"sample, {KNOWN_BUILDS} samples): `shortest_path`, which builds the view from the store's "
                  "history (entities and relations held then). extra: relations in the view"),
        Benchmark("known_at_repeat", "the same `known_at` asked again, alone (as_of left to now), "
                  f"{KNOWN_BUILDS} samples: whether the view is reused. extra: ratio to known_at_first (~1: the "
                  "view is rebuilt on every call)"),
        Benchmark("path_known_at", "`shortest_path` on the same pairs at that `known_at` with `as_of` fixed to the "
                  "same time (a view cache key that does not move with the clock). extra: ratio to path_baseline"),
        Benchmark("search_known_at", "`search` of the same queries at that `known_at` and `as_of`, view cached. "
                  "extra: ratio to search_baseline"),
        Benchmark("validity_view", "building the \"now\" delta view alone (`temporal.current_view`: hidden "
                  "entities, removed relations, `EdgeIndex.without`), as every read does after a write. extra: "
                  "bounded facts, bytes per bounded fact (the bounds' arrays, all they hold; GraphState.nbytes "
                  "reports the same), extra bytes per relation overall (budget <= "
                  f"{BYTES_PER_RELATION}), view delta bytes, rewrites_per_s (re-writing the bounded relations)"),
        Benchmark("get_default", "`get_entity` of a fresh name (not in the entity cache) on store A through the "
                  "memory, interleaved with get_view"),
        Benchmark("get_view", "the same on a `mem.namespace('default')` view of the same store (other fresh names). "
                  f"extra: ratio to get_default (budget <= {VIEW_RATIO}: nothing measurable)"),
        Benchmark("get_warm_default", "`get_entity` of 100 hot names (in the entity cache) through the memory, "
                  "interleaved with get_warm_view"),
        Benchmark("get_warm_view", f"the same through the namespace view. extra: ratio (budget <= {VIEW_RATIO})"),
        Benchmark("ns1_get", "store C (N entities, one namespace): `get_entity` of a fresh name, interleaved with "
                  "ns1000_get"),
        Benchmark("ns1000_get", f"store B (N entities in {NAMESPACES:,} namespaces of N/{NAMESPACES:,}): "
                  "`get_entity` of a fresh name through its namespace's view (views made before timing). "
                  f"extra: ratio to ns1_get (budget <= {NAMESPACE_RATIO})"),
        Benchmark("ns1000_get_warm", "as ns1000_get for 100 hot names (entity cache), interleaved with the same on "
                  f"store C. extra: ratio (budget <= {NAMESPACE_RATIO}), ns1_p50_ms"),
        Benchmark("ns1000_search", f"`search(vector, k={K})` within one namespace of store B (N/{NAMESPACES:,} "
                  f"entities; a random namespace per query), up to {NS_SEARCH_MAX:,} entities. extra: ratio to "
                  "search_baseline (the whole of store A)"),
    )
}  # fmt: skip


# -- helpers ---------------------------------------------------------------------------


class _Recorder:
    """Records one data set's measurements; a benchmark that raises is recorded
    as an error, so one broken step does not cost the others' figures."""

    def __init__(self, ctx: RunContext, graph: str, size: int, out: list[dict[str, Any]]) -> None:
        self.ctx, self.graph, self.size, self.out = ctx, graph, size, out
        self.p50: dict[str, float] = {}
        self.done: set[str] = set()

    def add(self, name: str, stats: Stats, **extra: Any) -> None:
        self.p50[name] = stats.p50_ms
        self.done.add(name)
        if not self.ctx.wanted(name):
            return
        self.out.append(measurement(_B[name], graph=self.graph, size=self.size, stats=stats, **extra))
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()
                 if isinstance(v, (int, float, str, bool))}  # fmt: skip
        self.ctx.log(f"  {name}: p50 {stats.p50_ms:.4f} ms, p95 {stats.p95_ms:.4f} ms ({stats.samples} samples) "
                     f"{shown if shown else ''}")

    def ratio(self, name: str, stats: Stats, base: str, budget: float | None = None, **extra: Any) -> None:
        """Record ``name`` with its p50 ratio to benchmark ``base`` (and the ratio's budget, if any)."""
        ratio = stats.p50_ms / self.p50[base] if base in self.p50 else None
        if budget is not None:
            extra.update(ratio_budget=budget, within_budget=None if ratio is None else bool(ratio <= budget))
        self.add(name, stats, ratio=ratio, ratio_to=base, **extra)

    def fail_rest(self, exc: BaseException, names: tuple[str, ...]) -> None:
        """Record ``exc`` for each of ``names`` this data set has not measured yet."""
        self.ctx.log("".join(traceback.format_exception(exc)).rstrip())
        for name in names:
            if name not in self.done and self.ctx.wanted(name):
                self.done.add(name)
                self.out.append(failure(_B[name], graph=self.graph, size=self.size, exc=exc))


def interleaved(fns: dict[str, Callable[[int], Any]], *, repeat: int, warmup: int) -> dict[str, Stats]:
    """Time each of ``fns`` on call ``i``, for each ``i``, the order rotating per round.

    Variants measured one after the other on a shared 2-core machine see
    different loads; alternating them call by call makes their ratio fair
    (each keeps its own wall-clock and CPU times).
    """
    names = list(fns)
    for i in range(warmup):
        for name in names:
            fns[name](i)
    ns: dict[str, list[int]] = {name: [] for name in names}
    cpu: dict[str, int] = dict.fromkeys(names, 0)
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    with steady_gc():
        for i in range(warmup, warmup + repeat):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                fn = fns[name]
                c0 = cpu_clock()
                start = clock()
                fn(i)
                ns[name].append(clock() - start)
                cpu[name] += cpu_clock() - c0
    return {name: summarize(ns[name], cpu_ns=cpu[name]) for name in names}


def _delta_bytes(edges: Any) -> int:
    """Bytes of an edge index's delta arrays (what a view adds over the shared snapshot)."""
    adj = edges.view.adj
    return int(sum(a.nbytes for f, a in adj._asdict().items() if f not in ("rows", "nbrs", "types")))


def _load_graph(ctx: RunContext, mem: graphmem.Memory, graph: Graph, vectors: np.ndarray) -> None:
    n, m = graph.n, graph.m
    types = [ENTITY_TYPES[t] for t in graph.ent_type.tolist()]
    started = time.perf_counter()
    for start in range(0, n, LOAD_BATCH):
        stop = min(start + LOAD_BATCH, n)
        mem.add_entities([{"name": graph.name(i), "type": types[i], "embedding": vectors[i]}
                          for i in range(start, stop)])  # fmt: skip
    entities_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, m, LOAD_BATCH):
        mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, m)))
    ctx.log(f"  store A: {n:,} entities in {entities_s:.1f} s, {m:,} relations in "
            f"{time.perf_counter() - started:.1f} s")


def _intervals(rng: np.random.Generator, count: int, now: datetime) -> list[tuple[datetime, datetime]]:
    """Seeded ``(valid_from, valid_to)`` pairs: start 30 days to 2 years before ``now``, same spread of lengths."""
    start_days = rng.uniform(30, 730, count)
    length_days = rng.uniform(30, 730, count)
    return [(now - timedelta(days=float(s)), now - timedelta(days=float(s)) + timedelta(days=float(d)))
            for s, d in zip(start_days.tolist(), length_days.tolist())]  # fmt: skip


# -- the suite ---------------------------------------------------------------------------


_NAMESPACE = ("ns1_get", "ns1000_get", "ns1000_get_warm", "ns1000_search")
_TEMPORAL = tuple(name for name in _B if name not in _NAMESPACE)


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind in ctx.graphs:
        for size in ctx.sizes:
            started = time.perf_counter()
            graph, gen_ns = timed(partial(generate, kind, size, seed=ctx.seed))
            vectors = random_vectors(size, DIM, seed=ctx.seed)
            ctx.datasets.append({"graph": kind, "size": size, "relations": graph.m, "generate_s": gen_ns / 1e9,
                                 "dim": DIM})  # fmt: skip
            ctx.log(f"{kind} n={size:,} m={graph.m:,}: generated in {gen_ns / 1e9:.2f} s")
            rec = _Recorder(ctx, kind, size, out)
            paths = [ctx.workdir / f"temporal-{kind}-{size}-{store}" for store in "ABC"]
            # Store A's part and the namespace stores' part fail separately: a
            # failing time-travel read must not cost the namespace figures.
            parts = ((_TEMPORAL, partial(_run_temporal, ctx, rec, graph, vectors, paths[0])),
                     (_NAMESPACE, partial(_run_namespaces, ctx, rec, graph, vectors, paths[1], paths[2])))
            for names, part in parts:
                if not any(ctx.wanted(x) for x in names):
                    continue
                try:
                    part()
                except Exception as exc:  # noqa: BLE001 - one broken part must not cost the others
                    rec.fail_rest(exc, names)
                finally:
                    for path in paths:
                        shutil.rmtree(path, ignore_errors=True)
                    gc.collect()
            ctx.log(f"{kind} n={size:,}: done in {time.perf_counter() - started:.1f} s")
            ctx.save(out)
    return out


def _run_temporal(ctx: RunContext, rec: _Recorder, graph: Graph, vectors: np.ndarray, path: Path) -> None:
    n, name = graph.n, graph.name
    rng = np.random.default_rng([ctx.seed, n, 7])
    reps = ctx.reps(PAIRS, 200)
    q_reps = ctx.reps(QUERIES, 100)
    # Entities bounded in step 2 are drawn now: reads at a time they do not
    # cover would not find them (NotFound), so no pair or seed uses them.
    bounded_ent = np.sort(rng.choice(n, max(1, int(n * BOUNDED_ENTITIES)), replace=False))
    always = np.setdiff1d(np.arange(n), bounded_ent)
    ends = always[rng.integers(0, always.size, (reps + WARMUP, 2))]
    pairs = [(name(int(a)), name(int(b))) for a, b in ends]
    seeds = [name(int(i)) for i in always[rng.integers(0, always.size, reps + WARMUP)]]
    queries = random_vectors(q_reps + WARMUP, DIM, seed=ctx.seed + 1)  # held out: another seed
    fresh = rng.permutation(n)[: 2 * (reps + WARMUP)]
    cold = [name(int(i)) for i in fresh]

    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        _load_graph(ctx, mem, graph, vectors)
        # The first search answers at once (an exact scan of what the index has
        # not taken yet) and the HNSW graph is built in the background: wait
        # for it, so that the searches below time the index, not that scan.
        _, build_ns = timed(lambda: (mem.search(queries[0], k=K), mem._vectors.get(DIM).drain()))
        ctx.log(f"  store A: vector index built in {build_ns / 1e9:.1f} s")
        loaded_at = datetime.now(UTC)
        state = mem._derived.get()
        bytes_before = state.nbytes()

        # 1. baseline: no bounded fact (the reads use the current graph itself)
        hops: list[int] = []

        def path_now(i: int) -> None:
            p = mem.shortest_path(*pairs[i])
            if p is not None:
                hops.append(len(p))

        rec.add("path_baseline", measure(path_now, repeat=reps, warmup=WARMUP),
                mean_hops=float(np.mean(hops)) if hops else None)
        sizes: list[int] = []
        rec.add("k_hop_baseline", measure(lambda i: sizes.append(len(mem.k_hop(seeds[i], 2))), repeat=reps,
                                          warmup=WARMUP), median_size=float(np.median(sizes)))
        rec.add("search_baseline", measure(lambda i: mem.search(queries[i], k=K), repeat=q_reps, warmup=WARMUP))

        view = mem.namespace("default")
        got = interleaved({"get_default": lambda i: mem.get_entity(cold[2 * i]),
                           "get_view": lambda i: view.get_entity(cold[2 * i + 1])}, repeat=reps, warmup=WARMUP)
        rec.add("get_default", got["get_default"])
        rec.ratio("get_view", got["get_view"], "get_default", VIEW_RATIO)
        hot = cold[:100]
        for key in hot:
            mem.get_entity(key)
        got = interleaved({"get_warm_default": lambda i: mem.get_entity(hot[i % 100]),
                           "get_warm_view": lambda i: view.get_entity(hot[i % 100])},
                          repeat=ctx.reps(10 * PAIRS, 1000), warmup=WARMUP)  # fmt: skip
        rec.add("get_warm_default", got["get_warm_default"])
        rec.ratio("get_warm_view", got["get_warm_view"], "get_warm_default", VIEW_RATIO)

        # 2. bound 1% of the relations and 0.1% of the entities
        now = datetime.now(UTC)
        bounded_rel = np.sort(rng.choice(graph.m, max(1, int(graph.m * BOUNDED_RELATIONS)), replace=False))
        rel_spans = _intervals(rng, bounded_rel.size, now)
        ent_spans = _intervals(rng, bounded_ent.size, now)
        triples = graph.relation_records(0, graph.m) if graph.m <= LOAD_BATCH else None
        started = time.perf_counter()
        for start in range(0, bounded_rel.size, LOAD_BATCH):
            chunk = bounded_rel[start:start + LOAD_BATCH].tolist()
            records = []
            for j, r in enumerate(chunk, start):
                s, t, d = triples[r] if triples is not None else graph.relation_records(r, r + 1)[0]
                records.append({"source": s, "type": t, "target": d, "valid_from": rel_spans[j][0],
                                "valid_to": rel_spans[j][1]})  # fmt: skip
            mem.add_relations(records)
        rewrite_s = time.perf_counter() - started
        mem.add_entities([{"name": name(int(e)), "valid_from": ent_spans[j][0], "valid_to": ent_spans[j][1]}
                          for j, e in enumerate(bounded_ent.tolist())])  # fmt: skip
        bound_s = time.perf_counter() - started
        state = mem._derived.get()
        bounds = state.bounds
        ctx.log(f"  bounded {len(bounds.relations):,} relations and {len(bounds.entities):,} entities in "
                f"{bound_s:.1f} s")

        # 3. the same reads at now, at a fixed as_of, at a fresh as_of per call
        as_of = now - timedelta(days=AS_OF_DAYS)
        hops.clear()
        current = mem._derived.get()
        traversal.path_cache(current.edges).clear()  # path_baseline asked these pairs of the current graph
        got = interleaved({
            "path_unfiltered": lambda i: traversal.shortest_path(current, "default", *pairs[i]),
            "path_now_bounded": path_now,
            "path_as_of": lambda i: mem.shortest_path(*pairs[i], as_of=as_of),
        }, repeat=reps, warmup=WARMUP)  # fmt: skip
        unfiltered = got["path_unfiltered"].p50_ms
        rec.add("path_unfiltered", got["path_unfiltered"])
        rec.ratio("path_now_bounded", got["path_now_bounded"], "path_baseline",
                  mean_hops=float(np.mean(hops)) if hops else None,
                  ratio_interleaved=got["path_now_bounded"].p50_ms / unfiltered)
        rec.ratio("path_as_of", got["path_as_of"], "path_baseline", AS_OF_RATIO,
                  ratio_interleaved=got["path_as_of"].p50_ms / unfiltered)
        gc.collect()
        rec.ratio("path_as_of_fresh", measure(lambda i: mem.shortest_path(*pairs[i], as_of=as_of + timedelta(
            microseconds=i)), repeat=ctx.reps(QUERIES, 100), warmup=WARMUP), "path_baseline", AS_OF_RATIO)
        got = interleaved({"k_hop_now_bounded": lambda i: mem.k_hop(seeds[i], 2),
                           "k_hop_as_of": lambda i: mem.k_hop(seeds[i], 2, as_of=as_of)},
                          repeat=reps, warmup=WARMUP)  # fmt: skip
        rec.ratio("k_hop_now_bounded", got["k_hop_now_bounded"], "k_hop_baseline")
        rec.ratio("k_hop_as_of", got["k_hop_as_of"], "k_hop_baseline", AS_OF_RATIO)
        index = mem._vectors.get(DIM)
        got = interleaved({
            "search_unfiltered": lambda i: search.search_loaded(current, index, search.query_vector(
                queries[i], None, DIM), K, None),
            "search_now_bounded": lambda i: mem.search(queries[i], k=K),
            "search_as_of": lambda i: mem.search(queries[i], k=K, as_of=as_of),
        }, repeat=q_reps, warmup=WARMUP)  # fmt: skip
        unfiltered = got["search_unfiltered"].p50_ms
        rec.add("search_unfiltered", got["search_unfiltered"])
        rec.ratio("search_now_bounded", got["search_now_bounded"], "search_baseline",
                  ratio_interleaved=got["search_now_bounded"].p50_ms / unfiltered)
        rec.ratio("search_as_of", got["search_as_of"], "search_baseline", AS_OF_RATIO,
                  ratio_interleaved=got["search_as_of"].p50_ms / unfiltered)

        # memory: the bounds themselves, and the delta a view adds
        at = temporal.micros(now)
        view_stats = measure(lambda i: temporal.current_view(state, at + i), repeat=ctx.reps(20, 5), warmup=1)
        now_view = temporal.current_view(state, at)
        bounds = state.bounds
        bounded = len(bounds.relations) + len(bounds.entities)
        rel_bytes = bounds.relations.nbytes()
        bytes_after = state.nbytes()
        relations = state.edges.view.relations
        rec.add("validity_view", view_stats, bounded_relations=len(bounds.relations),
                bounded_entities=len(bounds.entities), bound_write_s=bound_s,
                rewrites_per_s=bounded_rel.size / max(rewrite_s, 1e-9),
                bytes_per_bounded_fact=bounds.nbytes() / max(1, bounded),
                estimated_bytes_per_bounded_fact=bytes_after["validity_bounds"] / max(1, bounded),
                extra_bytes_per_relation=rel_bytes / max(1, relations), ratio_budget=BYTES_PER_RELATION,
                within_budget=bool(rel_bytes / max(1, relations) <= BYTES_PER_RELATION),
                view_hidden_entities=len(now_view.hidden or ()), view_delta_bytes=_delta_bytes(now_view.state.index),
                derived_bytes_before=sum(bytes_before.values()), derived_bytes_after=sum(bytes_after.values()),
                derived_bytes_per_relation_change=(sum(bytes_after.values()) - sum(bytes_before.values()))
                / max(1, relations))  # fmt: skip
        del now_view

        # 4. time travel to just after the load
        first_ns: list[int] = []
        for j in range(ctx.reps(KNOWN_BUILDS, 1)):
            when = loaded_at - timedelta(microseconds=j)
            gc.collect()
            with steady_gc():
                _, ns = timed(partial(mem.shortest_path, *pairs[0], known_at=when))
            first_ns.append(ns)
        known_state, _ = mem._graph(loaded_at, loaded_at)
        rec.add("known_at_first", summarize(first_ns), relations=known_state.view.relations,
                entities=len(known_state.ids))
        # A few samples only: if the view is not reused, each call costs a build.
        rec.ratio("known_at_repeat", measure(lambda i: mem.shortest_path(*pairs[i], known_at=loaded_at),
                                             repeat=ctx.reps(KNOWN_BUILDS, 1), warmup=0), "known_at_first")
        rec.ratio("path_known_at", measure(lambda i: mem.shortest_path(*pairs[i], known_at=loaded_at,
                                                                       as_of=loaded_at),
                                           repeat=reps, warmup=WARMUP), "path_baseline")  # fmt: skip
        rec.ratio("search_known_at", measure(lambda i: mem.search(queries[i], k=K, known_at=loaded_at,
                                                                  as_of=loaded_at),
                                             repeat=q_reps, warmup=WARMUP), "search_baseline")  # fmt: skip
    finally:
        mem.close()


def _run_namespaces(ctx: RunContext, rec: _Recorder, graph: Graph, vectors: np.ndarray, path_b: Path,
                    path_c: Path) -> None:  # fmt: skip
    n, name = graph.n, graph.name
    spaces = min(NAMESPACES, n)
    per = n // spaces  # the last namespace takes the remainder
    with_vectors = n <= NS_SEARCH_MAX

    def space_of(i: int) -> int:
        return min(i // per, spaces - 1)

    def record(i: int) -> dict[str, Any]:
        r: dict[str, Any] = {"name": name(i), "type": "Note"}
        if with_vectors:
            r["embedding"] = vectors[i]
        return r

    # Measured: ladybug 0.22 keeps ~512 KiB of its buffer pool for every
    # Arrow table a LOAD FROM or COPY reads, until the database closes (kuzu
    # 0.11.3 frees it), so store B's 1,000 batch writes filled a 512 MiB pool
    # at the ~975th. Both stores get the pool that leak needs on ladybug.
    config = graphmem.StoreConfig(buffer_pool_size=LADYBUG_POOL) if ctx.engine == "ladybug" else None
    mem_b = graphmem.open(path_b, engine=ctx.engine, embedder=None, config=config)
    mem_c = graphmem.open(path_c, engine=ctx.engine, embedder=None, config=config)
    try:
        started = time.perf_counter()
        views = [mem_b.namespace(f"ns-{j:04d}") for j in range(spaces)]
        for j in range(spaces):
            stop = n if j == spaces - 1 else (j + 1) * per
            views[j].add_entities([record(i) for i in range(j * per, stop)])
        b_s = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, n, LOAD_BATCH):
            mem_c.add_entities([record(i) for i in range(start, min(start + LOAD_BATCH, n))])
        ctx.log(f"  store B: {n:,} entities in {spaces:,} namespaces in {b_s:.1f} s; store C: one namespace in "
                f"{time.perf_counter() - started:.1f} s")

        rng = np.random.default_rng([ctx.seed, n, 8])
        reps = ctx.reps(PAIRS, 200)
        fresh = rng.permutation(n)[: 2 * (reps + WARMUP)].tolist()
        # Names and views picked before timing: the calls differ only in the store they ask.
        c_names = [name(i) for i in fresh[0::2]]
        b_asks = [(views[space_of(i)], name(i)) for i in fresh[1::2]]
        got = interleaved({
            "ns1_get": lambda i: mem_c.get_entity(c_names[i]),
            "ns1000_get": lambda i: b_asks[i][0].get_entity(b_asks[i][1]),
        }, repeat=reps, warmup=WARMUP)  # fmt: skip
        rec.add("ns1_get", got["ns1_get"])
        rec.ratio("ns1000_get", got["ns1000_get"], "ns1_get", NAMESPACE_RATIO, namespaces=spaces)
        hot_c, hot_b = c_names[:100], b_asks[:100]
        got = interleaved({
            "c": lambda i: mem_c.get_entity(hot_c[i % 100]),
            "b": lambda i: hot_b[i % 100][0].get_entity(hot_b[i % 100][1]),
        }, repeat=ctx.reps(10 * PAIRS, 1000), warmup=WARMUP)  # fmt: skip
        ratio = got["b"].p50_ms / got["c"].p50_ms
        rec.add("ns1000_get_warm", got["b"], ns1_p50_ms=got["c"].p50_ms, ratio=ratio, ratio_budget=NAMESPACE_RATIO,
                within_budget=bool(ratio <= NAMESPACE_RATIO))

        if with_vectors and ctx.wanted("ns1000_search"):
            q_reps = ctx.reps(QUERIES, 100)
            queries = random_vectors(q_reps + WARMUP, DIM, seed=ctx.seed + 1)
            _, build_ns = timed(lambda: views[0].search(queries[0], k=K))
            ctx.log(f"  store B: vector index built in {build_ns / 1e9:.1f} s")
            which = rng.integers(0, spaces, q_reps + WARMUP).tolist()
            rec.ratio("ns1000_search", measure(lambda i: views[which[i]].search(queries[i], k=K), repeat=q_reps,
                                               warmup=WARMUP), "search_baseline",
                      entities_per_namespace=per)  # fmt: skip
        elif not with_vectors:
            ctx.log(f"  ns1000_search: skipped above {NS_SEARCH_MAX:,} entities (store B has no embeddings)")
    finally:
        mem_b.close()
        mem_c.close()


SUITE = Suite(
    name="temporal",
    title="Temporal: bi-temporal reads and namespaces (issue 7)",
    benchmarks=tuple(_B.values()),
    run=run,
)
