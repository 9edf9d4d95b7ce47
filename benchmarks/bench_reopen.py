"""Reopen to first answer: how long from ``graphmem.open`` to the first
``get_entity``, the first ``shortest_path`` and the first write, with the
derived graph state saved beside the store (mapped on open), and, as the peer
in the same run, with it removed (rebuilt from the store, as before issue 18).

A store of N entities and 5N random relations (``benchmarks.datasets``,
"random") is built once through ``add_entities`` / ``add_relations`` in
batches of 100k and kept in ``--work`` for later runs. Each timed run opens
the store, does one call and closes it (the clean close saves the state
again when the run wrote); the page cache is warm, as for a process that
restarts on the same machine. ``caught_up`` runs leave an entity and a
relation unsaved (``close(save_index=False)``, what a kill leaves) before the
reopen, so the load catches them up by write time.

Run: ``nice -n 5 python -m benchmarks.bench_reopen --size 100000 --runs 3``
(``GRAPHMEM_ENGINE=ladybug`` for the other engine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphmem

from .datasets import Graph, generate

BATCH = 100_000


def _build(path: Path, n: int, engine: str) -> None:
    graph = generate("random", n)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for start in range(0, n, BATCH):
            mem.add_entities(graph.entity_records(start, min(start + BATCH, n)))
        for start in range(0, graph.m, BATCH):
            mem.add_relations(graph.relation_records(start, min(start + BATCH, graph.m)))
        mem._derived.get()  # loaded, so the close saves it


def _first(path: Path, engine: str, call: Callable[[graphmem.Memory], Any], *,
           drop_saved: bool = False, unsaved_write: bool = False) -> tuple[float, str]:
    """Seconds from open to the end of ``call`` and how the graph state came to be."""
    if unsaved_write:
        mem = graphmem.open(path, engine=engine, embedder=None)
        name = f"unsaved-{time.time_ns()}"
        mem.add_entity(name, type="Note")
        mem.add_relation(name, "MENTIONS", Graph.name(3))  # so the catch-up reads the relations too
        mem.close(save_index=False)
    if drop_saved:
        shutil.rmtree(path / "derived", ignore_errors=True)
    start = time.perf_counter()
    mem = graphmem.open(path, engine=engine, embedder=None)
    call(mem)
    took = time.perf_counter() - start
    how = mem._derived.last_load.get("source", "not loaded") if mem._derived.loaded else "not loaded"
    if mem._derived.last_load.get("caught_up"):
        how += f" (+{mem._derived.last_load['caught_up']} caught up)"
    mem.close()
    return took, how


_FRESH = """
import sys, time
t0 = time.perf_counter()
import graphmem
t1 = time.perf_counter()
mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None)
mem.shortest_path(sys.argv[3], sys.argv[4])
t2 = time.perf_counter()
print(round((t1 - t0) * 1000, 1), round((t2 - t1) * 1000, 1), mem._derived.last_load.get("source"))
mem.close()
"""


def _fresh_process(path: Path, engine: str) -> tuple[float, float, str]:
    """A new interpreter: import time, and open to the first path (with numba's
    cache load of the path kernels, which a process that already ran one skips)."""
    out = subprocess.run([sys.executable, "-c", _FRESH, str(path), engine, Graph.name(1), Graph.name(2)],
                         check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1]), out[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/tmp/graphmem-bench-reopen")
    parser.add_argument("--variants", default="saved,caught_up,rebuilt", help="which of saved, caught_up, rebuilt")
    parser.add_argument("--rebuild-runs", type=int, default=None, help="runs of the rebuild peer (default --runs; ~30 s each at 1M)")
    args = parser.parse_args()
    engine = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
    path = Path(args.work) / f"{engine}-{args.size}"
    if not (path / "graphmem.json").exists():
        shutil.rmtree(path, ignore_errors=True)
        t0 = time.perf_counter()
        _build(path, args.size, engine)
        print(f"built {args.size} entities / {5 * args.size} relations in {time.perf_counter() - t0:.0f} s")
    counter = iter(range(10**9))
    calls: dict[str, Callable[[graphmem.Memory], Any]] = {
        "first_get": lambda mem: mem.get_entity(Graph.name(7)),
        "first_path": lambda mem: mem.shortest_path(Graph.name(1), Graph.name(2)),
        "first_write": lambda mem: mem.add_entity(f"w-{next(counter)}-{time.time_ns()}", type="Note"),
    }
    options_of = {"saved": {}, "caught_up": {"unsaved_write": True}, "rebuilt": {"drop_saved": True}}
    variants = {v: options_of[v] for v in args.variants.split(",") if v and not (v == "rebuilt" and args.rebuild_runs == 0)}
    _first(path, engine, calls["first_path"])  # warm: numba caches, page cache; saves the state if missing
    rows = []
    for variant, options in variants.items():
        for name, call in calls.items():
            count = args.rebuild_runs if variant == "rebuilt" and args.rebuild_runs else args.runs
            runs = [_first(path, engine, call, **options) for _ in range(count)]
            if variant == "rebuilt":
                _first(path, engine, calls["first_path"])  # leave a saved state for the next variant
            row = {"engine": engine, "size": args.size, "variant": variant, "call": name,
                   "median_ms": round(statistics.median(t for t, _ in runs) * 1000, 1),
                   "runs_ms": [round(t * 1000, 1) for t, _ in runs], "graph_state": runs[-1][1]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    fresh = [_fresh_process(path, engine) for _ in range(args.runs)]
    row = {"engine": engine, "size": args.size, "variant": "fresh_process", "call": "first_path",
           "median_ms": statistics.median(f[1] for f in fresh), "runs_ms": [f[1] for f in fresh],
           "import_ms": [f[0] for f in fresh], "graph_state": fresh[-1][2]}  # fmt: skip
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
