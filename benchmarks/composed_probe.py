"""Where ``recall`` and ``search(near=, max_hops=2)`` spend their time, on the composed suite's stores (issue 18).

Each run copies the base store ``bench_composed`` keeps under
``GRAPHMEM_BENCH_BASE_CACHE`` (entities with vectors and a built HNSW index,
for one engine, size and seed 42) and loads the same random relations in
this process, as the benchmark does (so the graph state is rebuilt here and
its id map holds dictionaries: the benchmark's case). Run it from the code
to measure (``python -m`` puts the working directory first), so two
checkouts can be compared run by run::

    GRAPHMEM_BENCH_BASE_CACHE=/tmp/near2/basecache python -m benchmarks.composed_probe recall --n 100000
    GRAPHMEM_BENCH_BASE_CACHE=/tmp/near2/basecache python -m benchmarks.composed_probe lane --n 10000
    GRAPHMEM_BENCH_BASE_CACHE=/tmp/near2/basecache python -m benchmarks.composed_probe reads --n 100000

``recall``: ``recall(q, k=10, hops=1)`` timed call by call (wall and the
process's CPU), and how many store statements a call runs. ``lane``: each
line of ``Memory.search`` (and ``query.search.search_hits``, its body) for
``near_2`` replayed with a clock between lines (min and median per line over rounds of 2,000 calls).
``reads``: the engine alone (its own connection on a copy of the base
store's database), the brief rows of 28 random keys read one statement per
key, in blocks of 4 and in blocks of 16 (the ``entity_brief*`` statements),
CPU and wall per round.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.store.queries import load_query

from .bench_composed import BASE_CACHE_ENV, QUERIES
from .datasets import Graph, generate
from .vector_data import clustered

SEED = 42
_BATCH = 100_000


def _base(engine: str, n: int) -> Path:
    folder = os.environ.get(BASE_CACHE_ENV)
    path = Path(folder or "") / f"composed-base-{engine}-{n}-{SEED}" / "store"
    if not folder or not path.is_dir():
        raise SystemExit(f"no base store at {path}: set {BASE_CACHE_ENV} to a folder bench_composed filled")
    return path


def _opened(engine: str, n: int, work: Path) -> tuple[graphmem.Memory, np.ndarray]:
    """A copy of the base store with the benchmark's random relations loaded here; the held-out queries."""
    shutil.copytree(_base(engine, n), work)
    _, queries = clustered(n, QUERIES, dim=384, seed=SEED)
    graph = generate("random", n, seed=SEED)
    mem = graphmem.open(work, engine=engine, embedder=None)
    for start in range(0, graph.m, _BATCH):
        mem.add_relations(graph.relation_records(start, min(start + _BATCH, graph.m)))
    return mem, queries


def recall(engine: str, n: int, calls: int, work: Path) -> dict[str, Any]:
    mem, queries = _opened(engine, n, work)
    try:
        q = [queries[i % len(queries)] for i in range(calls + 10)]
        for i in range(10):
            mem.recall(q[i], k=10, hops=1)
        statements: list[str] = []
        mem.tracer = lambda name, params: statements.append(name)
        wall, cpu = [], []
        for i in range(10, calls + 10):
            start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
            mem.recall(q[i], k=10, hops=1)
            wall.append(time.perf_counter_ns() - start)
            cpu.append(time.process_time_ns() - start_cpu)
        mem.tracer = None
        return {"p50_ms": float(np.median(wall)) / 1e6, "p10_ms": float(np.percentile(wall, 10)) / 1e6,
                "cpu_p50_ms": float(np.median(cpu)) / 1e6, "statements_per_call": len(statements) / calls,
                "cache": mem.stats()["cache"]}  # fmt: skip
    finally:
        mem.close()


def lane(engine: str, n: int, rounds: int, work: Path) -> dict[str, Any]:
    from graphmem.query import search
    from graphmem.query.retrieval import near_search
    from graphmem.records import utcnow

    mem, queries = _opened(engine, n, work)
    try:
        calls = 2_000
        rng = np.random.default_rng([SEED, n, 22, 6])
        names = [Graph.name(a) for a in rng.integers(0, n, calls).tolist()]
        q = [queries[i % len(queries)] for i in range(calls)]
        for i in range(calls):
            mem.search(q[i], 10, near=names[i], max_hops=2)
        # Private members: the probe replays the facade's own lines (Memory.search, then search_hits).
        store, shared, namespace, dim = mem._store, mem._shared, mem._namespace, mem._vector_dim
        derived, vectors, views = mem._derived, mem._vectors, shared.views
        labels = ("check_open", "search_request", "query_vector", "views.graph", "anchor_ids", "vectors.get",
                  "allowed_ids", "near_search", "access.record")  # fmt: skip
        per_round: dict[str, list[float]] = {label: [] for label in labels}
        clock = time.perf_counter_ns
        for _ in range(rounds):
            gc.collect()
            gc.disable()
            spent = dict.fromkeys(labels, 0)
            for i in range(calls):
                t0 = clock()
                store.check_open()
                t1 = clock()
                request = search.search_request(10, None, names[i], 2, "both", None, "similarity", 0.5)
                t2 = clock()
                vector = search.query_vector(q[i], None, dim)
                t3 = clock()
                state, view = views.graph(store, derived, None, None, utcnow)
                t4 = clock()
                anchors = search.anchor_ids(state, namespace, request.near)  # type: ignore[arg-type]
                t5 = clock()
                index = vectors.get(dim)
                t6 = clock()
                allowed = search.allowed_ids(state, view, namespace, request.types)
                t7 = clock()
                _, keys = near_search(state, index, namespace, vector, request.k, anchors=anchors,  # type: ignore[arg-type]
                                      max_hops=request.max_hops, direction=request.direction,
                                      relation_types=request.relation_types, allowed_types=allowed,
                                      rank=request.rank, decay=request.decay)  # fmt: skip
                t8 = clock()
                shared.access.record(keys)
                t9 = clock()
                for label, a, b in zip(labels, (t0, t1, t2, t3, t4, t5, t6, t7, t8), (t1, t2, t3, t4, t5, t6, t7, t8, t9)):
                    spent[label] += b - a
            gc.enable()
            for label in labels:
                per_round[label].append(spent[label] / calls / 1000)
        return {label: {"min_us": round(min(v), 2), "median_us": round(float(np.median(v)), 2)}
                for label, v in per_round.items()}  # fmt: skip
    finally:
        mem.close()


def reads(engine: str, n: int, rounds: int, work: Path) -> dict[str, Any]:
    module: Any = __import__("kuzu" if engine == "kuzu" else "ladybug")
    source = _base(engine, n) / "graph.db"
    target = work / "graph.db"
    work.mkdir()
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
    db = module.Database(str(target), buffer_pool_size=512 << 20, max_num_threads=2)
    conn = module.Connection(db, num_threads=2)
    one = conn.prepare(load_query("entity_brief"))
    blocks = {size: conn.prepare(load_query(name)) for size, name in ((4, "entity_brief_four"),
                                                                      (16, "entity_brief_sixteen"))}  # fmt: skip

    def keyed(keys: list[str]) -> int:
        return sum(len(conn.execute(one, {"key": key}).get_all()) for key in keys)

    def blocked(keys: list[str], size: int) -> int:
        keys = keys + [""] * (-len(keys) % size)
        return sum(len(conn.execute(blocks[size], {f"k{i}": k for i, k in enumerate(keys[at : at + size])}).get_all())
                   for at in range(0, len(keys), size))  # fmt: skip

    ways: dict[str, Callable[[list[str]], int]] = {
        "one statement per key": keyed, "blocks of 4": partial(blocked, size=4), "blocks of 16": partial(blocked, size=16),
    }  # fmt: skip
    rng = np.random.default_rng(1)
    cpu: dict[str, list[float]] = {w: [] for w in ways}
    wall: dict[str, list[float]] = {w: [] for w in ways}
    for _ in range(rounds):
        keys = [f"default\x1f{Graph.name(i)}" for i in rng.integers(0, n, 28).tolist()]
        for way, read in ways.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            if read(keys) != 28:
                raise SystemExit(f"{way} did not read the 28 rows")
            cpu[way].append(time.process_time() - start_cpu)
            wall[way].append(time.perf_counter() - start)
    return {way: {"cpu_p50_ms": round(float(np.median(cpu[way])) * 1e3, 2),
                  "wall_p50_ms": round(float(np.median(wall[way])) * 1e3, 2)} for way in ways}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("recall", "lane", "reads"))
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--calls", type=int, default=300, help="recall: timed calls")
    parser.add_argument("--rounds", type=int, default=5, help="lane: rounds of 2,000 calls; reads: rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="composed-probe-") as folder:
        work = Path(folder) / "store"
        if args.what == "recall":
            out = recall(args.engine, args.n, args.calls, work)
        elif args.what == "lane":
            out = lane(args.engine, args.n, args.rounds, work)
        else:
            out = reads(args.engine, args.n, args.rounds, work)
    print(json.dumps({"what": args.what, "engine": args.engine, "n": args.n, "code": os.getcwd(),
                      "load": os.getloadavg()[0], **out}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
