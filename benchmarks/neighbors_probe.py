"""Focused probe of ``neighbors`` against its Cypher peers (issue 18, "Structural reads from memory").

Build a store once, then time, in one process and on the same random
entities, ``neighbors`` (answered from graphmem's in-memory adjacency) and the
Cypher formulations of the same question on the same engine::

    python -m benchmarks.neighbors_probe build /tmp/nbrs-100k --n 100000 --engine kuzu
    python -m benchmarks.neighbors_probe measure /tmp/nbrs-100k --engine kuzu

The store holds N entities and 5N relations of the core suite's random
graph (``benchmarks.datasets.generate``), written through the public API.
Figures, one JSON line each (p50 / p95 over ``--repeat`` calls, the same
entities for every row):

- ``neighbors``: ``mem.neighbors(name)`` (direction both, no type filter);
- ``cypher_single_direction``: the fastest Cypher form, two single-direction
  ``MATCH`` on the key (``queries/neighbors_out.cypher`` and
  ``neighbors_in.cypher``, the same validity filters), both timed per call
  and summed;
- ``cypher_union``: ``queries/neighbors_both.cypher`` (``UNION ALL``), what
  ``neighbors`` ran before;
- ``k_hop_1``: ``mem.k_hop(name, 1)`` for reference.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.records import entity_key, utcnow

from .datasets import generate
from .timing import measure

BATCH = 100_000


def build(path: Path, n: int, engine: str, seed: int) -> None:
    graph = generate("random", n, seed=seed)
    started = time.perf_counter()
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for start in range(0, n, BATCH):
            mem.add_entities(graph.entity_records(start, min(start + BATCH, n)))
        for start in range(0, graph.m, BATCH):
            mem.add_relations(graph.relation_records(start, min(start + BATCH, graph.m)))
    print(json.dumps({"built": str(path), "n": n, "m": graph.m, "engine": engine,
                      "seconds": round(time.perf_counter() - started, 1)}))  # fmt: skip


def _row(name: str, stats: Any, **extra: Any) -> dict[str, Any]:
    return {"figure": name, "p50_ms": round(stats.p50_ms, 4), "p95_ms": round(stats.p95_ms, 4),
            "samples": stats.samples, **extra}  # fmt: skip


def measure_store(path: Path, engine: str, repeat: int, seed: int) -> None:
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        n = len(mem)
        rng = np.random.default_rng(seed)
        names = [f"ent-{int(i):08d}" for i in rng.integers(0, n, repeat + 10)]
        mem.neighbors(names[0])  # loads the derived state: not what this probe measures
        store = mem._store
        sizes = [len(mem.neighbors(name)) for name in names]
        rows = [_row("neighbors", measure(lambda i: mem.neighbors(names[i]), repeat=repeat, warmup=10),
                     mean_degree=float(np.mean(sizes)))]  # fmt: skip

        def single_direction(i: int) -> None:
            params = {"key": entity_key(mem.namespace_name, names[i]), "now": utcnow()}
            store.execute("neighbors_out", params)
            store.execute("neighbors_in", params)

        # Fewer calls for the Cypher forms: each can take ~1 s at 1M.
        slow = max(10, repeat // 10)
        rows.append(_row("cypher_single_direction", measure(single_direction, repeat=slow, warmup=3)))
        rows.append(_row("cypher_union", measure(lambda i: mem._neighbors_cypher(names[i]), repeat=slow,
                                                 warmup=3)))  # fmt: skip
        rows.append(_row("k_hop_1", measure(lambda i: mem.k_hop(names[i], 1), repeat=repeat, warmup=10)))
        for i, name in enumerate(names[:slow]):  # the figures compare equal answers
            if mem.neighbors(name) != mem._neighbors_cypher(name):
                raise SystemExit(f"neighbors({name!r}) differs from the Cypher answer")
        fastest = min(r["p50_ms"] for r in rows if r["figure"].startswith("cypher"))
        for row in rows:
            row.update(engine=engine, n=n)
            print(json.dumps(row))
        print(json.dumps({"figure": "ratio_fastest_cypher_over_neighbors", "engine": engine, "n": n,
                          "value": round(fastest / rows[0]["p50_ms"], 1)}))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["build", "measure"])
    p.add_argument("path", type=Path)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--engine", default="kuzu")
    p.add_argument("--repeat", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    if args.action == "build":
        build(args.path, args.n, args.engine, args.seed)
    else:
        measure_store(args.path, args.engine, args.repeat, args.seed)


if __name__ == "__main__":
    main()
