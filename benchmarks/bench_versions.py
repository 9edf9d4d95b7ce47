"""One entity's earlier versions on a store with history: ``entity_versions`` and ``get_entity(known_at=)``.

Not part of ``benchmarks.run``. ``--size`` entities (names ``e00000000``...)
are written ``--updates + 1`` times through the public API, so the store holds
``size * updates`` earlier versions (each write of an existing entity keeps
the version it replaces), spread over the whole store as an agent's edits
are. Then, on one read-only handle (as the viewer holds it), a random entity
per call (seeded; distinct entities, so each call reads versions the last
one did not):

``entity_versions``
    ``Memory.entity_versions(name, limit=20)`` (what the viewer's entity
    panel asks for).
``get_entity_known_at``
    ``Memory.get_entity(name, known_at=t)`` with ``t`` the time its first
    version was recorded, so the answer comes from the versions table (the
    current row was written later), not from the entity row.

With ``--writes``, what keeping a version costs a write, on a copy of the
store (so the store stays as built): ``update_1`` (``add_entity`` of one
existing entity with a new text), ``update_10`` and ``update_1000``
(``add_entities`` of that many existing ones: the keyed and the batch
statements), distinct entities each call.

Each figure is wall p50 / p95 and the process's CPU p50 in ms over
``--reps`` calls after 20 warm-up ones (``update_1000``: 5 after 1). ``open_rw`` is the read-write open
before them (on a store of an older schema version, it migrates: the first
open of this branch over a store an older graphmem built pays the back-fill
once). ``--store DIR`` builds the store there once and reuses it (the build
is a few minutes at 100k); copy a built store before running a newer
graphmem over it if the older one must run again on the same data.

Run::

    nice -n 5 python -m benchmarks.bench_versions --size 100000 --store /tmp/versions-100k-kuzu
    GRAPHMEM_ENGINE=ladybug nice -n 5 python -m benchmarks.bench_versions --size 100000 --engine ladybug \\
        --store /tmp/versions-100k-ladybug
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.store.engine import default_engine

BATCH = 50_000
WARMUP = 20


def _name(i: int) -> str:
    return f"e{i:08d}"


def build(path: Path, *, engine: str, size: int, updates: int) -> float:
    """Write ``size`` entities ``updates + 1`` times; seconds taken."""
    started = time.perf_counter()
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for round_ in range(updates + 1):
            for first in range(0, size, BATCH):
                mem.add_entities([{"name": _name(i), "type": "Thing", "text": f"version {round_} of {i}"}
                                  for i in range(first, min(size, first + BATCH))])  # fmt: skip
    return time.perf_counter() - started


def _timed(fn: Callable[[int], Any], reps: int, warmup: int = WARMUP) -> tuple[float, float, float]:
    """Wall p50, wall p95 and CPU p50 (ms) of ``fn(i)`` over ``reps`` calls after ``warmup`` ones."""
    for i in range(warmup):
        fn(i)
    wall, cpu = [], []
    for i in range(warmup, warmup + reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(i)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    wall.sort()
    return statistics.median(wall), wall[min(len(wall) - 1, int(0.95 * len(wall)))], statistics.median(cpu)


def measure(path: Path, *, engine: str, size: int, updates: int, reps: int) -> dict[str, Any]:
    """Time the two calls on a read-only handle of the store at ``path``."""
    start = time.perf_counter()
    with graphmem.open(path, engine=engine, embedder=None):  # migrates a store of an older schema version
        pass
    out: dict[str, Any] = {"open_rw_ms": (time.perf_counter() - start) * 1000}
    picks = [_name(int(i)) for i in np.random.default_rng(7).permutation(size)[: 2 * (WARMUP + reps)]]
    with graphmem.open(path, engine=engine, embedder=None, read_only=True) as mem:
        # Each pick's first version's write time: a known_at the versions table answers (untimed).
        first = {}
        for name in picks[WARMUP + reps:]:
            found = mem.entity_versions(name, limit=updates + 1)
            if len(found.versions) != updates + 1:
                raise RuntimeError(f"{name}: {len(found.versions)} versions, expected {updates + 1}")
            first[name] = found.versions[0].updated_at

        def versions(i: int) -> None:
            found = mem.entity_versions(picks[i], limit=20)
            if len(found.versions) != updates + 1:
                raise RuntimeError(f"{picks[i]}: {len(found.versions)} versions, expected {updates + 1}")

        known = list(first)

        def known_at(i: int) -> None:
            entity = mem.get_entity(known[i], known_at=first[known[i]])
            if entity is None or entity.text != f"version 0 of {int(known[i][1:])}":
                raise RuntimeError(f"{known[i]} at {first[known[i]]}: {entity}")

        out["entity_versions"] = _timed(versions, reps)
        out["get_entity_known_at"] = _timed(known_at, reps)
    return out


def writes(path: Path, *, engine: str, size: int, reps: int) -> dict[str, Any]:
    """Time updates of existing entities on a copy of the store at ``path``."""
    with tempfile.TemporaryDirectory(prefix="bench-versions-writes-") as folder:
        copy = Path(folder) / "store"
        shutil.copytree(path, copy)
        order = [_name(int(i)) for i in np.random.default_rng(11).permutation(size)]
        out: dict[str, Any] = {}
        with graphmem.open(copy, engine=engine, embedder=None) as mem:
            taken = 0

            def update(n: int, tag: str) -> Callable[[int], Any]:
                def call(i: int) -> None:
                    nonlocal taken
                    names, taken = order[taken:taken + n], taken + n
                    if n == 1:
                        mem.add_entity(names[0], text=f"{tag} {i}")
                    else:
                        mem.add_entities([{"name": name, "text": f"{tag} {i}"} for name in names])
                return call

            out["update_1"] = _timed(update(1, "one"), reps)
            out["update_10"] = _timed(update(10, "ten"), reps)
            out["update_1000"] = _timed(update(1000, "thousand"), 5, warmup=1)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=2, help="Writes after the first: versions per entity.")
    parser.add_argument("--engine", default=default_engine(), choices=("kuzu", "ladybug"))
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--store", type=Path, help="Build the store here once and reuse it on later runs.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--writes", action="store_true", help="Also time updates, on a copy of the store.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-versions-"))
    try:
        path = folder / "store" if args.store is None else args.store
        if (path / "graph.db").exists():
            print(f"reusing {path}", flush=True)
        else:
            took = build(path, engine=args.engine, size=args.size, updates=args.updates)
            print(f"built {args.size:,} entities, {args.size * args.updates:,} earlier versions in {took:.0f} s",
                  flush=True)  # fmt: skip
        load = os.getloadavg()[0]
        out = measure(path, engine=args.engine, size=args.size, updates=args.updates, reps=args.reps)
        out.update(size=args.size, versions=args.size * args.updates, engine=args.engine,
                   load=(load, os.getloadavg()[0]))  # fmt: skip
        print(f"{args.engine}, {args.size:,} entities, {args.size * args.updates:,} versions, "
              f"load {load:.2f} -> {out['load'][1]:.2f}; read-write open {out['open_rw_ms']:.0f} ms")
        if args.writes:
            out.update(writes(path, engine=args.engine, size=args.size, reps=args.reps))
        for call in ("entity_versions", "get_entity_known_at", "update_1", "update_10", "update_1000"):
            if call not in out:
                continue
            wall, p95, cpu = out[call]
            print(f"  {call}: p50 {wall:.2f} ms, p95 {p95:.2f} ms, CPU p50 {cpu:.2f} ms")
        if args.json is not None:
            args.json.write_text(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
