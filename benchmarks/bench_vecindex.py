"""The side vector index against raw hnswlib in one process (issue 18).

Three measurements, each printed as one JSON line:

``build``
    N seeded random 384-d vectors, quantized to int8 as the store keeps them:
    raw hnswlib (``init_index(N)``, 2 threads, one ``add_items`` of the
    dequantized float32 vectors) next to graphmem's :class:`VectorIndex`
    built the way a rebuild builds it (rows installed, then the HNSW graph
    filled and drained), same M, ef_construction and threads, same vectors.
    Recall@10 of both at the default ef against brute force, the HNSW
    capacity left after the build, the saved file's bytes per vector, and
    the resident growth of each build.
``writes``
    ``add_entities`` of 100 new entities with a 384-d embedding each, on a
    store of ``--base`` vectors whose index is loaded (every write also
    updates the index): p50 / p95 per call (the clock stops when the call
    returns), then the time the index took to catch up with all of them.
``reopen``
    the resident growth of loading the saved index of the build above
    through :class:`VectorStore` (what a reopen's first search loads).

Run: ``nice -n 5 python -m benchmarks.bench_vecindex --n 100000`` (``--only
build`` or ``--only writes`` for one part; ``--via worker`` builds through the
background worker instead of a drain).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

import graphmem
from graphmem.records import quantize
from graphmem.index.vectors import HnswParams, VectorIndex

from .resident import rss_bytes

DIM = 384
QUERIES = 200


def _vectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and their scales, as the store holds them."""
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    q8 = np.empty((n, DIM), np.int8)
    scales = np.empty(n, np.float32)
    for i in range(n):
        raw, scales[i] = quantize(x[i])
        q8[i] = np.frombuffer(raw, np.int8)
    return q8, scales


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / truth.shape[1] for f, t in zip(found, truth)]))


def _drain(index: VectorIndex, via: str = "drain") -> None:
    """Wait until the HNSW graph holds every upserted vector: ``drain`` applies the
    queue in this thread (what flush and close do); ``worker`` lets the
    background worker do it (what a search after a rebuild relies on) and
    polls for its end (a benchmark may poll; the tests use ``paused``)."""
    drain = getattr(index, "drain", None)  # absent before issue 18: upsert added synchronously
    if drain is None:
        return
    if via == "worker":
        while index.stale:
            time.sleep(0.005)
    drain()


def build(n: int, seed: int, via: str = "drain") -> dict[str, Any]:
    params = HnswParams()
    q8, scales = _vectors(n, seed)
    floats = q8.astype(np.float32) * scales[:, None]
    unit = floats / np.linalg.norm(floats, axis=1, keepdims=True)
    queries = unit[np.random.default_rng(seed + 1).choice(n, QUERIES, replace=False)] + 0.02
    truth = np.argsort(-(queries @ unit.T), axis=1)[:, :10]
    out: dict[str, Any] = {"bench": "build", "via": via, "n": n, "dim": DIM, "M": params.M,
                           "ef_construction": params.ef_construction, "ef_search": params.ef_search}  # fmt: skip

    gc.collect()
    rss0 = rss_bytes()
    start = time.perf_counter()
    raw = hnswlib.Index(space="cosine", dim=DIM)
    raw.init_index(max_elements=n, M=params.M, ef_construction=params.ef_construction)
    raw.set_num_threads(2)
    raw.add_items(floats, np.arange(n))
    out["raw_s"] = time.perf_counter() - start
    out["raw_rss_delta"] = rss_bytes() - rss0
    raw.set_ef(params.ef_search)
    out["raw_recall_at_10"] = _recall(raw.knn_query(queries, k=10)[0], truth)
    del raw
    gc.collect()

    rss0 = rss_bytes()
    start = time.perf_counter()
    index = VectorIndex(DIM, params)
    index.reserve(n, n - 1)
    for lo in range(0, n, 50_000):
        ids = np.arange(lo, min(lo + 50_000, n))
        index.upsert(ids, q8[ids], scales[ids])
    _drain(index, via)
    out["graphmem_s"] = time.perf_counter() - start
    out["graphmem_rss_delta"] = rss_bytes() - rss0
    out["ratio"] = out["graphmem_s"] / out["raw_s"]
    found = index.hnsw.knn_query(queries, k=10)[0]  # the HNSW graph itself, not the exact path
    out["graphmem_recall_at_10"] = _recall(found, truth)
    out["capacity"] = index.hnsw.get_max_elements()
    out["elements"] = index.hnsw.element_count
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hnsw.bin"
        index.hnsw.save_index(str(path))
        out["saved_bytes_per_vector"] = path.stat().st_size / n
        close = getattr(index, "close", None)
        if close is not None:
            close()
        del index
        gc.collect()
        reloaded = hnswlib.Index(space="cosine", dim=DIM)
        rss0 = rss_bytes()
        reloaded.load_index(str(path), max_elements=0)  # what the header asks for
        out["reload_header_capacity"] = reloaded.get_max_elements()
        out["reload_rss_delta"] = rss_bytes() - rss0
        del reloaded
        gc.collect()
        # The same file loaded with twice the capacity, as a doubled index was reloaded.
        doubled = hnswlib.Index(space="cosine", dim=DIM)
        rss0 = rss_bytes()
        doubled.load_index(str(path), max_elements=2 * n)
        out["reload_doubled_rss_delta"] = rss_bytes() - rss0
        del doubled
    return out


def writes(base: int, calls: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        mem = graphmem.open(Path(tmp) / "s", embedder=None)
        try:
            x = rng.normal(size=(base, DIM)).astype(np.float32)
            for lo in range(0, base, 10_000):
                mem.add_entities([{"name": f"b{i}", "embedding": x[i]} for i in range(lo, min(lo + 10_000, base))])
            mem.search(x[0], k=10)  # loads (builds) the index: later writes update it
            index = mem._vectors.peek()
            _drain(index)
            new = rng.normal(size=(calls * 100, DIM)).astype(np.float32)
            batches = [[{"name": f"w{c}-{i}", "embedding": new[c * 100 + i]} for i in range(100)]
                       for c in range(calls)]  # fmt: skip
            plain = [[{"name": f"p{c}-{i}"} for i in range(100)] for c in range(calls)]
            mem.add_entities(plain[0])  # warm-up
            gc.collect()
            floor = []  # the same call without vectors, just before: what the store alone costs
            for batch in plain[1:]:
                start = time.perf_counter_ns()
                mem.add_entities(batch)
                floor.append(time.perf_counter_ns() - start)
            mem.add_entities(batches[0])  # warm-up
            gc.collect()
            times = []
            for batch in batches[1:]:
                start = time.perf_counter_ns()
                mem.add_entities(batch)
                times.append(time.perf_counter_ns() - start)
            held = []  # the same calls with the worker paused: what the worker's CPU costs the writes
            paused = getattr(index, "paused", None)
            if paused is not None:
                other = rng.normal(size=(calls * 100, DIM)).astype(np.float32)  # not ties of `new`
                extra = [[{"name": f"h{c}-{i}", "embedding": other[c * 100 + i]} for i in range(100)]
                         for c in range(calls)]  # fmt: skip
                _drain(index)
                with paused():
                    for batch in extra[1:]:
                        start = time.perf_counter_ns()
                        mem.add_entities(batch)
                        held.append(time.perf_counter_ns() - start)
            start = time.perf_counter()
            _drain(index)
            caught_up = time.perf_counter() - start
            hit = mem.search(new[-1], k=1)[0].name
            capacity, elements = index.hnsw.get_max_elements(), index.hnsw.element_count
        finally:
            mem.close()
        del index, mem
        gc.collect()
        # The reopen: the saved graph loaded as a first search loads it, and the resident growth.
        manifest = json.loads((Path(tmp) / "s" / "vectors" / "manifest.json").read_text())
        saved = (Path(tmp) / "s" / "vectors" / "hnsw.bin").stat().st_size
        mem = graphmem.open(Path(tmp) / "s", embedder=None)
        try:
            rss0 = rss_bytes()
            mem.search(new[0], k=1)
            reopen_rss = rss_bytes() - rss0
            reopen_capacity = mem._vectors.peek().hnsw.get_max_elements()
        finally:
            mem.close()
    ms = np.array(times) / 1e6
    return {"bench": "writes", "base": base, "calls": len(times), "p50_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95)), "no_vectors_p50_ms": float(np.median(floor)) / 1e6,
            "worker_paused_p50_ms": float(np.median(held)) / 1e6 if held else None,
            "drain_after_s": caught_up,
            "last_write_found": hit == f"w{calls - 1}-99", "capacity": capacity, "elements": elements,
            "saved_max_elements": manifest["max_elements"], "saved_bytes_per_vector": saved / elements,
            "reopen_capacity": reopen_capacity, "reopen_rss_delta": reopen_rss,
            "reopen_rss_per_vector": reopen_rss / elements}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors in the build comparison")
    parser.add_argument("--base", type=int, default=20_000, help="vectors already in the store for `writes`")
    parser.add_argument("--calls", type=int, default=40, help="timed add_entities calls")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=("build", "writes"))
    parser.add_argument("--via", choices=("drain", "worker"), default="drain",
                        help="who fills the HNSW graph in `build`: this thread, or the background worker")
    args = parser.parse_args(argv)
    print(json.dumps({"graphmem": graphmem.__file__, "hnswlib": getattr(hnswlib, "__version__", "?")}), flush=True)
    if args.only in (None, "writes"):
        print(json.dumps(writes(args.base, args.calls + 1, args.seed)), flush=True)
    if args.only in (None, "build"):
        print(json.dumps(build(args.n, args.seed, args.via)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
