"""Lifecycle suite: forgetting, tiers, deduplication and monitoring of issue 8 ("Performance").

The issue's budgets: access tracking adds at most 5% to ``get_entity``; a
read of a compressed (cold) entity adds at most 0.1 ms; ``find_duplicates``
over 100k entities takes at most 30 s; bytes per memory (an entity with 5
relations and a 384-d vector) are reported against the 100 KB, 25 KB and 5 KB
targets, aiming at 3 KB resident. The ratio and byte budgets go in each measurement's
``extra`` (``ratio``/``extra_ms``/bytes with their budget and
``within_budget``), as in the temporal suite; ``find_duplicates`` carries a
:class:`Budget` at 100k.

For each size, one store on disk is bulk-loaded through the public API with
the random graph of :mod:`benchmarks.datasets` (N entities, 5N relations) and
the clustered 384-d vectors of :mod:`benchmarks.vector_data`. Seeded
near-duplicates are planted: the last ``DUP_FRACTION`` of the entities get a
slightly perturbed copy (cosine ~0.99) of an earlier entity's vector and its
type, so ``find_duplicates`` has pairs to find and their recall is checked.
Two groups of ``LONG_GROUP`` entities carry a long text (~2 KB of
memory-like sentences) and ``LONG_OBSERVATIONS`` observations; the rest keep
the dataset's short texts. ``IMPORTANCE_FRACTION`` of the entities are given
an importance. Then, in this order, so each benchmark sees the state it claims
to measure:

1. the vector index is built (first search; its time is reported, not judged);
2. ``get_entity`` with access tracking as built, against the same call with
   the memory's :class:`~graphmem.lifecycle.AccessLog` swapped for a no-op
   object (outside the timed region, call by call, so both variants share the
   store, the cache and the load of the machine), and against the bare method
   (no tracking, no latency recording: ``Memory.get_entity.__wrapped__``).
   Warm (entity cache hits: the cheapest read, where a fixed cost shows most)
   and cold (a cache miss per call). ``AccessLog.record_one`` is also timed alone;
3. seeded reads (Zipf-distributed over a random permutation, ``ZIPF_READS``
   per entity) give LRU/LFU something to rank, then ``flush``;
4. ``find_duplicates(0.9, k=10)`` and ``stats()``;
5. bytes per memory: on disk (the closed store directory), and resident in a
   fresh process that opens the store and warms it (graph snapshot via a
   path query, vector index via a search, ``RSS_READS`` entity reads): its
   RSS delta (``malloc_trim`` first) and the parts ``stats()["bytes"]`` reports;
6. on copies of the store: ``forget(max_entities=N//2)`` per policy, and with
   ``hard=True``; the LRU copy is then reopened with ``capacity=N//2`` and
   batches of 100 new entities are written (each evicts 100);
7. on the store itself: the long-text entities read hot (cache dropped before
   each call, outside the timing), ``compact`` (group A is packed, group B was
   read since and stays hot), and the same reads again, A cold against B hot;
   ``tiers.unpack`` is timed alone on A's packed bytes;
8. the store reopened with ``duplicates="merge"``: batches of 100 new entities,
   ``DUP_WRITE_FRACTION`` of whose names normalise like existing ones.
"""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem import tiers
from graphmem.records import utcnow
from graphmem.memory.stats import disk_bytes

from .datasets import ENTITY_TYPES, Graph, generate
from .suite import Benchmark, Budget, RunContext, Suite, failure, measurement
from .timing import Stats, measure, steady_gc, summarize, timed
from .vector_data import clustered, corpus_texts

DIM = 384
LOAD_BATCH = 100_000
WARMUP = 20
GETS = 2000
"""Timed calls per ``get_entity`` variant."""
HOT_KEYS = 100
RECORD_BATCH = 1000
"""``AccessLog.record_one`` calls per timed sample (one call is ~0.1 µs: a
single call would mostly time the clock)."""
TRACKING_RATIO = 1.05
COLD_EXTRA_MS = 0.1
DUPLICATES_MS = 30_000
THRESHOLD = 0.9
DUP_K = 10
DUP_FRACTION = 0.01
DUP_NOISE = 0.1
"""Norm of the perturbation added to a planted duplicate's unit vector (cosine ~0.995)."""
LONG_GROUP = 200
LONG_TEXT = 2000
LONG_OBSERVATIONS = 5
IMPORTANCE_FRACTION = 0.1
ZIPF_READS = 0.2
RSS_READS = 1000
SETTLE_S = 4.0
"""Seconds between the cut-off of ``compact`` and the reads that keep group B hot."""
BATCH = 100
DUP_WRITE_FRACTION = 0.1
TARGETS = {"target_100kb": 100_000, "target_25kb": 25_000, "target_5kb": 5_000, "aim_resident_3kb": 3_000}
"""The size roadmap the issue cites (100 KB -> 25 KB -> 5 KB per memory) and its 3 KB resident aim."""
POLICIES = ("lru", "lfu", "importance")

_B = {
    b.name: b
    for b in (
        Benchmark("index_build_384", f"the first `search` after the bulk load and the drain of the index's queue: "
                  f"builds the HNSW index over the N {DIM}-d vectors (what `find_duplicates` needs; not judged "
                  "here)", "throughput", "vectors"),
        Benchmark("access_record", f"`AccessLog.record_one(key)` alone: what every tracked read adds "
                  f"(timed in runs of {RECORD_BATCH:,} calls; figures per call)"),
        Benchmark("get_warm_untracked", f"`get_entity` of {HOT_KEYS} hot names (entity cache hits) with the "
                  "memory's AccessLog swapped for a no-op, interleaved call by call with get_warm_tracked and "
                  "get_warm_bare"),
        Benchmark("get_warm_tracked", "the same calls with access tracking as built. extra: ratio to "
                  f"get_warm_untracked (budget <= {TRACKING_RATIO}), record_share (access_record p50 / "
                  "untracked p50: the same figure without the noise of two latencies)"),
        Benchmark("get_warm_bare", "the same calls through `Memory.get_entity.__wrapped__` with the no-op log: "
                  "neither access tracking nor latency recording. extra: ratio of get_warm_tracked to it (all "
                  "the per-read cost of issue 8)"),
        Benchmark("get_cold_untracked", "`get_entity` of a fresh name per call (entity cache miss: a store "
                  "read), no-op AccessLog, interleaved with get_cold_tracked"),
        Benchmark("get_cold_tracked", "the same with tracking as built (other fresh names). extra: ratio to "
                  f"get_cold_untracked (budget <= {TRACKING_RATIO})"),
        Benchmark("zipf_reads", "seeded Zipf reads (`get_entity`) that give LRU/LFU something to rank, "
                  "then `flush()` (one statement writes the gathered accesses). extra: flush_ms, distinct keys",
                  "throughput", "reads"),
        Benchmark("find_duplicates", f"`find_duplicates({THRESHOLD}, k={DUP_K})` over the N entities (index "
                  f"built). extra: pairs found, recall of the {DUP_FRACTION:.0%} planted near-duplicates",
                  budget=Budget("p50_ms", DUPLICATES_MS, at_size=100_000)),
        Benchmark("stats", "`mem.stats()` (counts, bytes per part, caches, latencies, tiers): what a "
                  "Prometheus scrape costs"),
        Benchmark("bytes_per_memory", f"a fresh process opens the store and warms it (path query: graph "
                  f"snapshot; search: vector index; {RSS_READS:,} entity reads); p50 is that open+warm time. "
                  "extra: bytes per memory (entity + 5 relations + 384-d vector) on disk and resident (RSS delta "
                  "and the stats() parts), against 100 KB / 25 KB / 5 KB and the 3 KB resident aim"),
        *(Benchmark(f"forget_{p}", f"`forget(max_entities=N//2, policy='{p}')` on a copy of the store (graph "
                    "snapshot loaded first): expires N/2 entities and their relations, one call",
                    "throughput", "entities") for p in POLICIES),
        Benchmark("forget_hard", "`forget(max_entities=N//2, policy='lru', hard=True)` on a copy: deletes N/2 "
                  "entities for good", "throughput", "entities"),
        Benchmark("capacity_write", f"`add_entities` of {BATCH} new entities into the LRU copy reopened with "
                  f"`capacity=N//2` (at capacity: each batch evicts {BATCH} by LRU)", unit="entities"),
        Benchmark("cold_read_hot", f"`get_entity` of a long-text entity (~{LONG_TEXT} B text, "
                  f"{LONG_OBSERVATIONS} observations; entity cache dropped before each call, outside the timing) "
                  "of group B, hot, interleaved with cold_read_packed"),
        Benchmark("cold_read_packed", "the same read of a group A entity after `compact` packed it (zstd; "
                  f"unpacked by the read). extra: extra_ms over cold_read_hot (budget <= {COLD_EXTRA_MS} ms), "
                  "extra_ms_same_entity (over A's own reads before compact), packed/unpacked bytes"),
        Benchmark("cold_read_before", "group A's reads before `compact` (interleaved with group B, both hot): "
                  "the same entity hot. extra: ratio to group B then (the noise floor of the comparison)"),
        Benchmark("unpack", "`graphmem.tiers.unpack` alone on group A's packed bytes (the CPU a cold read adds)"),
        Benchmark("compact", "`compact(cold_after=...)` over the N entities: ranks them, reads those old enough "
                  "and packs the ones packing saves >= 32 B (the long texts). extra: packed count",
                  "throughput", "entities"),
        Benchmark("dedup_write", f"`add_entities` of {BATCH} new entities on the store reopened with "
                  f"`duplicates='merge'`, {DUP_WRITE_FRACTION:.0%} of the names normalising like existing ones "
                  "(merged into them). extra: first_call_ms (builds the normalised-name index)", unit="entities"),
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
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in extra.items()
                 if isinstance(v, (int, float, str, bool))}  # fmt: skip
        self.ctx.log(f"  {name}: p50 {stats.p50_ms:.4f} ms, p95 {stats.p95_ms:.4f} ms ({stats.samples} samples) "
                     f"{shown if shown else ''}")

    def ratio(self, name: str, stats: Stats, base: str, budget: float | None = None, **extra: Any) -> None:
        """Record ``name`` with its p50 ratio to benchmark ``base`` (and the ratio's budget, if any)."""
        ratio = stats.p50_ms / self.p50[base] if base in self.p50 else None
        if budget is not None:
            extra.update(ratio_budget=budget, within_budget=None if ratio is None else bool(ratio <= budget))
        self.add(name, stats, ratio=ratio, ratio_to=base, **extra)

    def fail(self, names: list[str], exc: BaseException) -> None:
        """Record ``exc`` for each of ``names`` not measured yet (one step failed, the next ones still run)."""
        self.ctx.log("".join(traceback.format_exception(exc)).rstrip())
        for name in names:
            if name not in self.done and self.ctx.wanted(name):
                self.done.add(name)
                self.out.append(failure(_B[name], graph=self.graph, size=self.size, exc=exc))


class _NoAccessLog:
    """Stands in for the memory's AccessLog to time reads without tracking (benchmark only)."""

    def record(self, keys: Any) -> None:
        return None

    def record_one(self, key: str) -> None:
        return None

    def pending(self, key: str) -> tuple[int, None]:
        return 0, None

    def discard(self, keys: Any) -> None:
        return None

    def drain(self) -> dict[str, list[Any]]:
        return {}

    def __len__(self) -> int:
        return 0


Variant = tuple[Callable[[int], Any] | None, Callable[[int], Any]]
"""``(prepare, call)``: ``prepare(i)`` runs untimed just before the timed ``call(i)``."""


def interleaved(variants: dict[str, Variant], *, repeat: int, warmup: int) -> dict[str, Stats]:
    """Time each variant's call ``i`` for each ``i``, the order rotating per round.

    As :func:`benchmarks.bench_temporal.interleaved`, with an untimed
    ``prepare`` per call: swapping the access log in or dropping a key from
    the entity cache must not count as part of the read.
    """
    names = list(variants)
    for i in range(warmup):
        for name in names:
            prepare, call = variants[name]
            if prepare is not None:
                prepare(i)
            call(i)
    ns: dict[str, list[int]] = {name: [] for name in names}
    cpu: dict[str, int] = dict.fromkeys(names, 0)
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    with steady_gc():
        for i in range(warmup, warmup + repeat):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                prepare, call = variants[name]
                if prepare is not None:
                    prepare(i)
                c0 = cpu_clock()
                start = clock()
                call(i)
                ns[name].append(clock() - start)
                cpu[name] += cpu_clock() - c0
    return {name: summarize(ns[name], cpu_ns=cpu[name]) for name in names}


def _per_call(fn: Callable[[], Any], *, runs: int, batch: int) -> Stats:
    """Stats per call of ``fn``, timed in ``runs`` runs of ``batch`` calls (for calls near the clock's cost)."""
    ns = []
    with steady_gc():
        for _ in range(runs):
            start = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            ns.append((time.perf_counter_ns() - start) // batch)
    return summarize(ns)


def _long_texts(count: int, rng: np.random.Generator) -> tuple[list[str], list[list[str]]]:
    """``count`` texts of about ``LONG_TEXT`` characters, and ``LONG_OBSERVATIONS`` observations each,
    made of memory-like sentences (:func:`benchmarks.vector_data.corpus_texts`)."""
    pool = corpus_texts(4000, seed=int(rng.integers(1 << 30)))
    texts, observations = [], []
    for _ in range(count):
        parts: list[str] = []
        length = 0
        while length < LONG_TEXT:
            parts.append(pool[int(rng.integers(len(pool)))])
            length += len(parts[-1]) + 1
        texts.append(" ".join(parts))
        observations.append([pool[int(rng.integers(len(pool)))] for _ in range(LONG_OBSERVATIONS)])
    return texts, observations


_RSS_SCRIPT = r"""
import ctypes, gc, json, os, sys, tempfile, time
import numpy as np
import graphmem
from graphmem.store.engine import load_engine

path, engine, a, b, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])

def rss():
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

load_engine(engine)  # the engine library is code, not memory the store costs
first = rss()
# The same warm-up on a tiny store first: numba's compiled kernels, the
# engine's buffer pool set-up and other one-time costs are not per memory.
with tempfile.TemporaryDirectory() as tiny:
    rng = np.random.default_rng(1)
    small = graphmem.open(tiny + "/s", engine=engine, embedder=None)
    small.add_entities([{"name": f"t{i}", "embedding": rng.standard_normal(384).astype(np.float32)}
                        for i in range(3)])
    small.add_relations([("t0", "R", "t1"), ("t1", "R", "t2")])
    small.shortest_path("t0", "t2")
    small.search(rng.standard_normal(384).astype(np.float32), k=2)
    small.get_entity("t0")
    small.close()
    del small
before = rss()
start = time.perf_counter_ns()
mem = graphmem.open(path, engine=engine, embedder=None)
mem.shortest_path(a, b)                      # graph snapshot (ids, bitmaps, relation arrays)
query = np.random.default_rng(0).standard_normal(384).astype(np.float32)
mem.search(query, k=10)                      # vector index, from its saved file
for name in names:
    mem.get_entity(name)
warm_ns = time.perf_counter_ns() - start
after = rss()
stats = mem.stats()
print(json.dumps({"rss_first": first, "rss_before": before, "rss_after": after, "warm_ns": warm_ns,
                  "bytes": stats["bytes"],
                  "derived_bytes": stats.get("derived_bytes"), "vectors": stats["vectors"]["last_load"]}))
mem.close()
"""


def _fresh_process_rss(path: Path, engine: str, a: str, b: str, names: list[str]) -> dict[str, Any]:
    """Resident figures of a fresh process that opens the store at ``path`` and warms it."""
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path), engine, a, b, json.dumps(names)],
                          capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"the RSS probe process failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the suite ---------------------------------------------------------------------------


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for size in ctx.sizes:
        started = time.perf_counter()
        rec = _Recorder(ctx, "random", size, out)
        base = ctx.workdir / f"lifecycle-{size}"
        try:
            _run_size(ctx, rec, size, base)
        except Exception as exc:  # noqa: BLE001 - one broken size must not cost the others
            rec.fail(list(_B), exc)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            gc.collect()
        ctx.log(f"random n={size:,}: done in {time.perf_counter() - started:.1f} s")
        ctx.save(out)
    return out


class _Data:
    """The seeded data set of one size: graph, vectors, planted duplicates, long texts."""

    def __init__(self, ctx: RunContext, n: int) -> None:
        self.graph, gen_ns = timed(lambda: generate("random", n, seed=ctx.seed))
        (vectors, self.queries), vec_ns = timed(lambda: clustered(n, 10, dim=DIM, seed=ctx.seed))
        rng = np.random.default_rng([ctx.seed, n, 81])
        self.rng = rng
        types = self.graph.ent_type.copy()
        # Planted near-duplicates: the last DUP_FRACTION of the entities copy an
        # earlier entity's vector (plus small noise) and type.
        dups = max(2, int(n * DUP_FRACTION))
        copies = np.arange(n - dups, n)
        originals = rng.choice(n - dups, dups, replace=False)
        noise = rng.standard_normal((dups, DIM)).astype(np.float32)
        noise *= DUP_NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        vectors[copies] = vectors[originals] + noise
        vectors[copies] /= np.linalg.norm(vectors[copies], axis=1, keepdims=True)
        types[copies] = types[originals]
        self.vectors, self.types = vectors, types
        self.planted = {tuple(sorted((Graph.name(int(a)), Graph.name(int(b))))) for a, b in zip(originals, copies)}
        # Long texts: groups A and B, drawn among the entities that are not planted copies.
        group = min(LONG_GROUP, max(2, n // 20))
        chosen = rng.choice(n - dups, 2 * group, replace=False)
        self.group_a = [Graph.name(int(i)) for i in chosen[:group]]
        self.group_b = [Graph.name(int(i)) for i in chosen[group:]]
        texts, observations = _long_texts(2 * group, rng)
        self.long = {int(i): (texts[j], observations[j]) for j, i in enumerate(chosen.tolist())}
        self.important = rng.random(n) < IMPORTANCE_FRACTION
        self.importance = np.round(rng.random(n), 3)
        ctx.datasets.append({"graph": "random", "size": n, "relations": self.graph.m, "dim": DIM,
                             "generate_s": (gen_ns + vec_ns) / 1e9, "planted_duplicates": dups,
                             "long_text_entities": 2 * group,
                             "long_text_mean_chars": float(np.mean([len(t) for t in texts]))})  # fmt: skip
        ctx.log(f"random n={n:,} m={self.graph.m:,}: generated in {(gen_ns + vec_ns) / 1e9:.1f} s "
                f"({dups:,} planted duplicates, {2 * group} long-text entities)")

    def records(self, start: int, stop: int) -> list[dict[str, Any]]:
        g = self.graph
        out = g.entity_records(start, stop, self.vectors[start:stop])
        for j, i in enumerate(range(start, stop)):
            r = out[j]
            r["type"] = ENTITY_TYPES[int(self.types[i])]
            if i in self.long:
                r["text"], r["observations"] = self.long[i]
            if self.important[i]:
                r["importance"] = float(self.importance[i])
        return out


def _run_size(ctx: RunContext, rec: _Recorder, n: int, path: Path) -> None:
    data = _Data(ctx, n)
    graph = data.graph
    mem = graphmem.open(path, engine=ctx.engine, embedder=None)
    try:
        started = time.perf_counter()
        for start in range(0, n, LOAD_BATCH):
            mem.add_entities(data.records(start, min(start + LOAD_BATCH, n)))
        entities_s = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, graph.m, LOAD_BATCH):
            mem.add_relations(graph.relation_records(start, min(start + LOAD_BATCH, graph.m)))
        ctx.log(f"  loaded {n:,} entities in {entities_s:.1f} s, {graph.m:,} relations in "
                f"{time.perf_counter() - started:.1f} s")
        # The first search answers at once (an exact scan of the vectors the
        # index has not taken) while the HNSW graph is built in the background:
        # the build is timed to its end, and nothing below runs beside it.
        _, build_ns = timed(lambda: (mem.search(data.queries[0], k=10), mem._vectors.get(DIM).drain()))
        rec.add("index_build_384", summarize([build_ns], n))

        _run_reads(ctx, rec, mem, data)
        _run_duplicates(ctx, rec, mem, data)
        mem.flush()
    finally:
        mem.close()

    _run_bytes(ctx, rec, path, data)
    _run_forget(ctx, rec, path, data)
    _run_tiers(ctx, rec, path, data)
    _run_dedup_write(ctx, rec, path, data)


def _run_reads(ctx: RunContext, rec: _Recorder, mem: graphmem.Memory, data: _Data) -> None:
    """Access tracking on ``get_entity``, then the seeded Zipf reads."""
    names = ["access_record", "get_warm_untracked", "get_warm_tracked", "get_warm_bare", "get_cold_untracked",
             "get_cold_tracked", "zipf_reads"]  # fmt: skip
    try:
        n, name = data.graph.n, data.graph.name
        rng = np.random.default_rng([ctx.seed, n, 82])
        reps = ctx.reps(GETS, 300)
        real, noop = mem._shared.access, _NoAccessLog()  # private: the benchmark swaps what it measures
        shared = mem._shared
        key = mem._key(name(0))
        rec.add("access_record", _per_call(lambda: real.record_one(key), runs=ctx.reps(200, 20),
                                           batch=RECORD_BATCH))  # fmt: skip

        def use(log: Any) -> Callable[[int], None]:
            def swap(i: int) -> None:
                shared.access = log

            return swap

        hot = [name(int(i)) for i in rng.choice(n, min(HOT_KEYS, n), replace=False)]
        for h in hot:
            mem.get_entity(h)
        bare = type(mem).get_entity.__wrapped__  # the method without the latency-recording wrapper
        try:
            got = interleaved({
                "get_warm_untracked": (use(noop), lambda i: mem.get_entity(hot[i % len(hot)])),
                "get_warm_tracked": (use(real), lambda i: mem.get_entity(hot[i % len(hot)])),
                "get_warm_bare": (use(noop), lambda i: bare(mem, hot[i % len(hot)])),
            }, repeat=ctx.reps(10 * GETS, 1000), warmup=WARMUP)  # fmt: skip
            # A fresh name per call, not read by anything before (cache misses).
            fresh = [name(int(i)) for i in rng.permutation(n)[: 2 * (reps + WARMUP)] if name(int(i)) not in hot]
            while len(fresh) < 2 * (reps + WARMUP):
                fresh += fresh[: 2 * (reps + WARMUP) - len(fresh)]  # tiny sizes only: some reads repeat
            def miss(log: Any, offset: int) -> Callable[[int], None]:
                def prepare(i: int) -> None:
                    shared.access = log
                    mem._cache.written(dropped=[mem._key(fresh[2 * i + offset])])  # a store read, not a hit

                return prepare

            cold = interleaved({
                "get_cold_untracked": (miss(noop, 0), lambda i: mem.get_entity(fresh[2 * i])),
                "get_cold_tracked": (miss(real, 1), lambda i: mem.get_entity(fresh[2 * i + 1])),
            }, repeat=reps, warmup=WARMUP)  # fmt: skip
        finally:
            shared.access = real
        rec.add("get_warm_untracked", got["get_warm_untracked"])
        rec.ratio("get_warm_tracked", got["get_warm_tracked"], "get_warm_untracked", TRACKING_RATIO,
                  record_share=rec.p50["access_record"] / got["get_warm_untracked"].p50_ms,
                  extra_us=(got["get_warm_tracked"].p50_ms - got["get_warm_untracked"].p50_ms) * 1e3)
        rec.add("get_warm_bare", got["get_warm_bare"],
                tracked_ratio=got["get_warm_tracked"].p50_ms / got["get_warm_bare"].p50_ms,
                untracked_ratio=got["get_warm_untracked"].p50_ms / got["get_warm_bare"].p50_ms)
        rec.add("get_cold_untracked", cold["get_cold_untracked"])
        rec.ratio("get_cold_tracked", cold["get_cold_tracked"], "get_cold_untracked", TRACKING_RATIO,
                  record_share=rec.p50["access_record"] / cold["get_cold_untracked"].p50_ms)

        # Zipf over a random permutation: a few entities read often, most never.
        count = max(1, int(n * ZIPF_READS))
        order = rng.permutation(n)
        ranks = np.minimum(rng.zipf(1.3, count) - 1, n - 1)
        reads = [name(int(order[r])) for r in ranks]
        started = time.perf_counter_ns()
        for r in reads:
            mem.get_entity(r)
        read_ns = time.perf_counter_ns() - started
        pending = len(mem._shared.access)
        _, flush_ns = timed(mem.flush)
        rec.add("zipf_reads", summarize([read_ns], count), flush_ms=flush_ns / 1e6, distinct_keys=pending)
    except Exception as exc:  # noqa: BLE001 - the later steps still run
        rec.fail(names, exc)


def _run_duplicates(ctx: RunContext, rec: _Recorder, mem: graphmem.Memory, data: _Data) -> None:
    try:
        found: list[Any] = []

        def call(i: int) -> None:
            found[:] = mem.find_duplicates(THRESHOLD, k=DUP_K)

        # One call at 100k is ~the budget: a single sample there.
        stats = measure(call, repeat=ctx.reps(3 if data.graph.n <= 10_000 else 1, 1), warmup=0)
        pairs = {(d.a, d.b) for d in found}
        recall = len(pairs & data.planted) / len(data.planted)
        rec.add("find_duplicates", stats, pairs=len(pairs), planted=len(data.planted), planted_recall=recall,
                other_pairs=len(pairs - data.planted), threshold=THRESHOLD, k=DUP_K)
    except Exception as exc:  # noqa: BLE001 - the later steps still run
        rec.fail(["find_duplicates"], exc)
    try:
        rec.add("stats", measure(lambda i: mem.stats(), repeat=ctx.reps(20, 5), warmup=1))
    except Exception as exc:  # noqa: BLE001
        rec.fail(["stats"], exc)


def _run_bytes(ctx: RunContext, rec: _Recorder, path: Path, data: _Data) -> None:
    """On disk (closed store) and resident (a fresh process) bytes per memory."""
    if not ctx.wanted("bytes_per_memory"):
        return
    try:
        n, name = data.graph.n, data.graph.name
        disk = disk_bytes(path)
        vectors_disk = disk_bytes(path / "vectors")
        rng = np.random.default_rng([ctx.seed, n, 83])
        reads = [name(int(i)) for i in rng.choice(n, min(RSS_READS, n), replace=False)]
        probe = _fresh_process_rss(path, ctx.engine, name(0), name(n - 1), reads)
        rss = probe["rss_after"] - probe["rss_before"]
        one_time = probe["rss_before"] - probe["rss_first"]
        # stats()["bytes"]["resident_vectors"] comes as VectorIndex.nbytes()'s dict
        # (int8 rows, HNSW estimate), the other parts as ints: flatten to one figure each.
        parts = {k: (sum(v.values()) if isinstance(v, dict) else v) for k, v in probe["bytes"].items()
                 if k.startswith("resident_") and v is not None}
        nested = {k: v for k, v in probe["bytes"].items() if isinstance(v, dict)}
        per = {"disk_per_memory": disk / n, "disk_store_per_memory": (disk - vectors_disk) / n,
               "disk_vectors_per_memory": vectors_disk / n, "rss_delta_per_memory": rss / n,
               "resident_parts_per_memory": sum(parts.values()) / n}  # fmt: skip
        within = {f"{key}_{label}": bool(per[key] <= limit)
                  for key in ("disk_per_memory", "rss_delta_per_memory", "resident_parts_per_memory")
                  for label, limit in TARGETS.items() if not (key.startswith("disk") and label.startswith("aim"))}
        rec.add("bytes_per_memory", summarize([probe["warm_ns"]]), **per, **within, disk_bytes=disk, rss_delta=rss,
                rss_one_time=one_time,
                resident_parts={k: v / n for k, v in parts.items()}, vectors_load=probe["vectors"],
                derived_bytes=probe["derived_bytes"], nested_parts=nested, targets=TARGETS,
                relations_per_memory=data.graph.m / n,
                entity_text="short (~60 B) for all but the long-text groups; 384-d vector; 3 properties")
    except Exception as exc:  # noqa: BLE001 - the later steps still run
        rec.fail(["bytes_per_memory"], exc)


def _warm_graph(mem: graphmem.Memory) -> None:
    """Load the graph snapshot (what the first write after a reopen would load) outside any timing."""
    mem._derived.get()  # private: no public read loads it whatever entities were forgotten


def _run_forget(ctx: RunContext, rec: _Recorder, path: Path, data: _Data) -> None:
    n = data.graph.n
    keep = n // 2
    runs = [(f"forget_{p}", p, False) for p in POLICIES] + [("forget_hard", "lru", True)]
    for bench, policy, hard in runs:
        wanted = ctx.wanted(bench) or (policy == "lru" and not hard and ctx.wanted("capacity_write"))
        if not wanted:
            continue
        copy = path.with_name(path.name + f"-{bench}")
        try:
            shutil.copytree(path, copy)
            mem = graphmem.open(copy, engine=ctx.engine, embedder=None)
            try:
                _warm_graph(mem)
                gc.collect()
                with steady_gc(), ctx.profiling(bench, f"random-{n}"):
                    forgotten, ns = timed(lambda m=mem, p=policy, h=hard: m.forget(max_entities=keep, policy=p, hard=h))
                left = len(mem)
                rec.add(bench, summarize([ns], max(1, len(forgotten))), forgotten=len(forgotten), left=left,
                        hard=hard)
            finally:
                mem.close()
            if policy == "lru" and not hard:
                _run_capacity(ctx, rec, copy, data, keep)
        except Exception as exc:  # noqa: BLE001 - the other policies still run
            rec.fail([bench] + (["capacity_write"] if policy == "lru" and not hard else []), exc)
        finally:
            shutil.rmtree(copy, ignore_errors=True)


def _run_capacity(ctx: RunContext, rec: _Recorder, path: Path, data: _Data, capacity: int) -> None:
    if not ctx.wanted("capacity_write"):
        return
    mem = graphmem.open(path, engine=ctx.engine, embedder=None, capacity=capacity)
    try:
        _warm_graph(mem)
        written = 0

        def write(i: int) -> None:
            nonlocal written
            written += mem.add_entities([{"name": f"cap-{i}-{j}", "type": "Note", "text": f"new note {i}.{j}"}
                                         for j in range(BATCH)])  # fmt: skip

        stats = measure(write, repeat=ctx.reps(10 if data.graph.n <= 10_000 else 5, 2), warmup=1,
                        ops_per_call=BATCH)  # fmt: skip
        rec.add("capacity_write", stats, capacity=capacity, entities_after=len(mem))
    finally:
        mem.close()


def _run_tiers(ctx: RunContext, rec: _Recorder, path: Path, data: _Data) -> None:
    names = ["cold_read_before", "compact", "cold_read_hot", "cold_read_packed", "unpack"]
    if not any(ctx.wanted(x) for x in names):
        return
    try:
        mem = graphmem.open(path, engine=ctx.engine, embedder=None)
        try:
            _tiers(ctx, rec, mem, data)
        finally:
            mem.close()
    except Exception as exc:  # noqa: BLE001 - the later steps still run
        rec.fail(names, exc)


def _tiers(ctx: RunContext, rec: _Recorder, mem: graphmem.Memory, data: _Data) -> None:
    a, b = data.group_a, data.group_b
    reps = ctx.reps(GETS, 300)

    def reads(label_a: str, label_b: str) -> dict[str, Stats]:
        def drop(keys: list[str]) -> Callable[[int], None]:
            # Every read goes to the store: a cached row is already unpacked.
            return lambda i: mem._cache.written(dropped=[mem._key(keys[i % len(keys)])])

        return interleaved({
            label_a: (drop(a), lambda i: mem.get_entity(a[i % len(a)])),
            label_b: (drop(b), lambda i: mem.get_entity(b[i % len(b)])),
        }, repeat=reps, warmup=WARMUP)  # fmt: skip

    _warm_graph(mem)
    before = reads("a", "b")
    rec.add("cold_read_before", before["a"], ratio=before["a"].p50_ms / before["b"].p50_ms,
            group_b_p50_ms=before["b"].p50_ms)

    # Group A's last access or write is before `mark`; group B is read
    # SETTLE_S after it. compact() measures cold_after back from its own clock
    # reading, taken after it flushed the access log and ranked every entity,
    # so the cut-off is put SETTLE_S / 2 after `mark`: A (and every entity not
    # read since the load whose packing pays) is packed, B is not.
    mark = utcnow()
    time.sleep(SETTLE_S)
    for name in b:
        mem.get_entity(name)
    n = data.graph.n
    gc.collect()
    with steady_gc(), ctx.profiling("compact", f"random-{n}"):
        packed, ns = timed(lambda: mem.compact(cold_after=utcnow() - mark - timedelta(seconds=SETTLE_S / 2)))
    tiers_now = mem.stats()["tiers"]
    rec.add("compact", summarize([ns], n), packed=packed, tiers=tiers_now)
    if packed < len(a):
        raise RuntimeError(f"compact packed {packed} entities, fewer than the {len(a)} of group A")
    if mem.access(a[0]).tier != "cold" or mem.access(b[0]).tier == "cold":
        raise RuntimeError("group A should be cold and group B not after compact")

    after = reads("cold_read_packed", "cold_read_hot")
    raw = [len(json.dumps([t, o], ensure_ascii=False, separators=(",", ":")).encode()) for t, o in
           (data.long[int(x.split("-")[1])] for x in a)]  # fmt: skip
    blobs = [tiers.pack(*data.long[int(x.split("-")[1])]) for x in a]
    packed_sizes = [len(p) for p in blobs if p is not None]
    text_bytes = [len(data.long[int(x.split("-")[1])][0].encode()) for x in a]
    rec.add("cold_read_hot", after["cold_read_hot"])
    extra = after["cold_read_packed"].p50_ms - after["cold_read_hot"].p50_ms
    same = after["cold_read_packed"].p50_ms - before["a"].p50_ms
    rec.add("cold_read_packed", after["cold_read_packed"], extra_ms=extra, extra_ms_budget=COLD_EXTRA_MS,
            within_budget=bool(extra <= COLD_EXTRA_MS), extra_ms_same_entity=same,
            within_budget_same_entity=bool(same <= COLD_EXTRA_MS),
            ratio=after["cold_read_packed"].p50_ms / after["cold_read_hot"].p50_ms,
            text_bytes_mean=float(np.mean(text_bytes)), unpacked_bytes_mean=float(np.mean(raw)),
            packed_bytes_mean=float(np.mean(packed_sizes)) if packed_sizes else None,
            compression_ratio=float(np.sum(raw) / np.sum(packed_sizes)) if packed_sizes else None,
            zstd_level=tiers.LEVEL)  # fmt: skip
    usable = [p for p in blobs if p is not None]
    if usable:
        it = iter(range(1 << 62))
        rec.add("unpack", _per_call(lambda: tiers.unpack(usable[next(it) % len(usable)]),
                                    runs=ctx.reps(200, 20), batch=100))  # fmt: skip


def _run_dedup_write(ctx: RunContext, rec: _Recorder, path: Path, data: _Data) -> None:
    if not ctx.wanted("dedup_write"):
        return
    try:
        n, name = data.graph.n, data.graph.name
        rng = np.random.default_rng([ctx.seed, n, 84])
        mem = graphmem.open(path, engine=ctx.engine, embedder=None, duplicates="merge")
        try:
            _warm_graph(mem)
            merged_names = 0

            def batch(i: int) -> list[dict[str, Any]]:
                nonlocal merged_names
                records = []
                for j in range(BATCH):
                    if rng.random() < DUP_WRITE_FRACTION:
                        # "ent-00000042" written as "ENT_00000042": normalises like the stored name.
                        records.append({"name": name(int(rng.integers(n))).upper().replace("-", "_"),
                                        "observations": [f"seen again in batch {i}"]})  # fmt: skip
                        merged_names += 1
                    else:
                        records.append({"name": f"dedup-{i}-{j}", "type": "Note", "text": f"note {i}.{j}"})
                return records

            batches = [batch(i) for i in range(1 + ctx.reps(20, 3))]
            gc.collect()
            with steady_gc():
                _, first_ns = timed(lambda: mem.add_entities(batches[0]))
            stats = measure(lambda i: mem.add_entities(batches[i + 1]), repeat=len(batches) - 1, warmup=0,
                            ops_per_call=BATCH)  # fmt: skip
            before = len(mem)
            rec.add("dedup_write", stats, first_call_ms=first_ns / 1e6, merged_names=merged_names,
                    entities_after=before)
        finally:
            mem.close()
    except Exception as exc:  # noqa: BLE001
        rec.fail(["dedup_write"], exc)


SUITE = Suite(
    name="lifecycle",
    title="Lifecycle: forgetting, tiers, deduplication, monitoring (issue 8)",
    benchmarks=tuple(_B.values()),
    run=run,
)
