"""Focused probe of the positional scans (issue 18, "Scans by position").

Build a store once, then time the first rows of ``iter_entities`` /
``iter_relations`` on it, in a fresh process per engine::

    python -m benchmarks.scan_probe build /tmp/scan-100k --n 100000 --engine kuzu
    python -m benchmarks.scan_probe measure /tmp/scan-100k --engine kuzu

The store holds N entities shaped like the ops suite's memories (a type, an
8-word text, three properties, a 384-d embedding) and 5N random relations,
written through the public API. No search runs, so no HNSW index is built:
the probe measures the scans alone. ``measure`` times, on the reopened store,
the first ``--rows`` entities (every field touched, embedding included) and
relations, both before graphmem's derived state is loaded (a fresh session's
first scan) and after (``len(mem.neighbors(...))`` loads it), and prints one
JSON line per figure (median and p95 over ``--repeat`` runs). ``split``
times the two halves of the first ``--rows`` entities in CPU time (with
``--warm``, after the derived state is loaded) (steady on
a loaded machine, where wall time is not): the engine's read of the window as
Arrow, and decoding it into ``Entity`` objects (every field touched).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

import graphmem

from .datasets import generate

DIM = 384
BATCH = 100_000


def build(path: Path, n: int, engine: str, seed: int) -> None:
    """Write ``n`` memories and ``5n`` relations into a new store at ``path``."""
    graph = generate("random", n, seed=seed)
    rng = np.random.default_rng(seed)
    mem = graphmem.open(path, engine=engine, embedder=None)
    try:
        started = time.perf_counter()
        for start in range(0, n, BATCH):
            stop = min(start + BATCH, n)
            vectors = rng.standard_normal((stop - start, DIM), dtype=np.float32)
            mem.add_entities(graph.entity_records(start, stop, vectors=vectors))
        for start in range(0, graph.m, BATCH):
            mem.add_relations(graph.relation_records(start, min(start + BATCH, graph.m)))
        print(json.dumps({"built": str(path), "n": n, "m": graph.m, "s": round(time.perf_counter() - started, 1)}))
    finally:
        mem.close()


def _entities(mem: graphmem.Memory, rows: int) -> None:
    for e in islice(mem.iter_entities(), rows):
        deque((e.name, e.type, e.text, e.observations, e.properties, e.id, e.created_at, e.updated_at,
               e.embedding), maxlen=0)  # fmt: skip


def _relations(mem: graphmem.Memory, rows: int) -> None:
    for r in islice(mem.iter_relations(), rows):
        deque((r.source, r.type, r.target, r.properties, r.created_at), maxlen=0)


def _times(body: Callable[[], None], repeat: int) -> Iterator[float]:
    for _ in range(repeat):
        started = time.perf_counter()
        body()
        yield (time.perf_counter() - started) * 1e3


def _report(name: str, engine: str, samples: list[float], **extra: Any) -> None:
    print(json.dumps({"probe": name, "engine": engine, "p50_ms": round(float(np.median(samples)), 2),
                      "p95_ms": round(float(np.percentile(samples, 95)), 2), "runs": len(samples), **extra}))


def measure(path: Path, engine: str, rows: int, repeat: int) -> None:
    mem = graphmem.open(path, engine=engine, embedder=None)
    try:
        size = len(mem)
        # Before the derived state loads: what an agent's first scan of a session costs.
        for name, body in (("entities_first_cold", _entities), ("relations_first_cold", _relations)):
            _report(name, engine, list(_times(lambda body=body: body(mem, rows), 1)), rows=rows, size=size)
        for name, body in (("entities_cold", _entities), ("relations_cold", _relations)):
            _report(name, engine, list(_times(lambda body=body: body(mem, rows), repeat)), rows=rows, size=size)
        mem.neighbors(next(mem.iter_entities()).name)  # loads the derived state (id map, bitmaps)
        for name, body in (("entities_warm", _entities), ("relations_warm", _relations)):
            _report(name, engine, list(_times(lambda body=body: body(mem, rows), repeat)), rows=rows, size=size)
    finally:
        mem.close()


def _cpu_times(body: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.process_time()
        body()
        out.append((time.process_time() - started) * 1e3)
    return out


def split(path: Path, engine: str, rows: int, repeat: int, warm: bool) -> None:
    from graphmem.scan import decode_entities

    mem = graphmem.open(path, engine=engine, embedder=None)
    try:
        if warm:
            mem.neighbors(next(mem.iter_entities()).name)  # loads the derived state: windows from its bitmaps

        def read() -> Any:  # the first window iter_entities reads (private: the scan's own plan)
            return next(mem._id_windows("entity_export", first=rows))

        batch = read().to_batches(max_chunksize=rows)[0]

        def decode() -> None:
            for e in decode_entities(batch):
                deque((e.name, e.type, e.text, e.observations, e.properties, e.id, e.created_at, e.updated_at,
                       e.embedding), maxlen=0)  # fmt: skip

        for name, body in (("engine_read_cpu", read), ("decode_cpu", decode)):
            _report(name, engine, _cpu_times(body, repeat), rows=batch.num_rows, size=len(mem))
    finally:
        mem.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scan_probe", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("build", "measure", "split"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warm", action="store_true", help="split: load the derived state first")
    args = parser.parse_args(argv)
    if args.action == "build":
        build(args.path, args.n, args.engine, args.seed)
    elif args.action == "split":
        split(args.path, args.engine, args.rows, args.repeat, args.warm)
    else:
        measure(args.path, args.engine, args.rows, args.repeat)


if __name__ == "__main__":
    main()
