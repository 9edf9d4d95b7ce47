"""Bulk-load rates of issue 18: ``add_entities`` / ``add_relations`` with lists
of dicts in batches of 50k, and ``graphmem import`` of JSON Lines.

Usage (from the repository root)::

    nice -n 5 python -m benchmarks.bench_bulk --entities 100000 --relations 500000
    GRAPHMEM_ENGINE=ladybug nice -n 5 python -m benchmarks.bench_bulk --entities 100000 --relations 500000

The graph is ``datasets.generate("random", N)`` (5N relations). Entity records
carry a name, a type, a short text and three properties (as the core suite's);
relation records are ``{"source", "type", "target"}`` dicts. The records of a
batch are built before its clock starts; the clock stops when the call returns
(after its commit). The import row writes the same entities as a graphmem
JSONL file first and times ``import_jsonl`` over it (validation pass included)
into a fresh store. The ``engine_*`` rows are the storage engine's own COPY +
COMMIT of the same rows in the same run, interleaved batch by batch (see
``run``): the ceiling graphmem's rates are read against. Every rate is given
per second of wall clock (``*_per_s``) and per second of the process's CPU
(``*_per_cpu_s``, all threads): on a machine shared with other work the first
mostly measures waiting for a core.

Before any clock starts, a few records go through the same calls in a
throwaway store: the first bulk call of a process imports and loads what the
later ones reuse (pyarrow's pandas shim, numba's cached kernels: ~3 s here),
which is not a per-record cost. ``--one-chunk`` runs the engine's relation
COPY from the table as built (one record batch) instead of as graphmem sends
it (``records.relation_copy_rows``), to show what that shaping is worth.
``--no-engine`` leaves the engine's store out (graphmem's calls alone: at a
few hundred thousand entities the engine's COPYs double the run), and
``--per-batch`` adds each relation call's wall and CPU seconds and the WAL's
size after it (``relation_batches``: how a call's cost grows with what the
store holds, and where the store folds its WAL)::

    nice -n 5 python -m benchmarks.bench_bulk --entities 300000 --relations 1500000 --no-engine --no-import --per-batch
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import graphmem
from graphmem.records import ENTITY_SCHEMA, KEY_SEPARATOR, RELATION_SCHEMA, relation_copy_rows
from graphmem.interchange.transfer import import_jsonl
from graphmem.store.store import WAL_FILE

from benchmarks.datasets import RELATION_TYPES, generate

BATCH = 50_000


def _relation_dicts(graph, start: int, stop: int) -> list[dict[str, str]]:
    name = graph.name
    return [
        {"source": name(s), "type": RELATION_TYPES[t], "target": name(d)}
        for s, t, d in zip(graph.src[start:stop].tolist(), graph.rel_type[start:stop].tolist(),
                           graph.dst[start:stop].tolist())
    ]  # fmt: skip


def _warm_up(path: Path) -> None:
    """One small batch of each kind through the timed calls (see the module docstring)."""
    with graphmem.open(path, embedder=None) as mem:
        mem.add_entities([{"name": f"w{i}", "type": "T", "text": "t", "properties": {"i": i}} for i in range(200)])
        mem.add_relations([{"source": f"w{i}", "type": "K", "target": f"w{i + 1}"} for i in range(199)])
    shutil.rmtree(path, ignore_errors=True)


def _engine_entities(graph, keys: list[str], start: int, stop: int, now: datetime) -> pa.Table:
    """Entities ``start:stop`` as the table graphmem's ``entity_copy`` reads (built outside the clock)."""
    records = graph.entity_records(start, stop)
    k = stop - start
    columns = {
        "key": pa.array(keys[start:stop]), "id": pa.array(np.arange(start, stop)),
        "namespace": pa.array(["default"] * k), "name": pa.array([r["name"] for r in records]),
        "type": pa.array([r["type"] for r in records]), "text": pa.array([r["text"] for r in records]),
        "observations": pa.array([[] for _ in records], pa.list_(pa.string())),
        "properties": pa.array([json.dumps(r["properties"], separators=(",", ":")) for r in records]),
        "created_at": pa.array([now] * k, pa.timestamp("us")),
        "updated_at": pa.array([now] * k, pa.timestamp("us")),
    }  # fmt: skip
    return pa.Table.from_arrays([columns[f.name] if f.name in columns else pa.nulls(k, f.type)
                                 for f in ENTITY_SCHEMA], schema=ENTITY_SCHEMA)  # fmt: skip


def _engine_relations(graph, keys: list[str], start: int, stop: int, now: datetime, engine: str | None) -> pa.Table:
    """Relations ``start:stop`` as the table graphmem's ``relation_copy`` reads, shaped for
    ``engine`` as graphmem shapes it (``None``: one record batch)."""
    k = stop - start
    table = pa.Table.from_arrays([
        pa.array([keys[i] for i in graph.src[start:stop].tolist()]),
        pa.array([keys[i] for i in graph.dst[start:stop].tolist()]),
        pa.array([RELATION_TYPES[t] for t in graph.rel_type[start:stop].tolist()]),
        pa.array(["{}"] * k), pa.array([now] * k, pa.timestamp("us")),
        pa.nulls(k, pa.timestamp("us")), pa.nulls(k, pa.timestamp("us")), pa.nulls(k, pa.timestamp("us")),
    ], schema=RELATION_SCHEMA)  # fmt: skip
    return table if engine is None else relation_copy_rows(table, engine=engine)


def _timed(call, *args) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (every thread: the engine's too) of ``call(*args)``."""
    w0, c0 = time.perf_counter(), time.process_time()
    call(*args)
    return time.perf_counter() - w0, time.process_time() - c0


def _copy(store, name: str, table: pa.Table) -> None:
    with store.transaction():
        store.execute(name, {"rows": table})


def run(n: int, relations: int | None, workdir: Path, with_import: bool, *, one_chunk: bool = False,
        engine: bool = True, per_batch: bool = False) -> dict[str, Any]:
    """graphmem's calls and the engine's own ``COPY`` + ``COMMIT`` of the same rows
    (graphmem's ``entity_copy`` / ``relation_copy`` statements on an Arrow table
    with exactly the columns graphmem writes, built before the clock starts: no
    Python per record inside it), batch by batch into two stores, the two
    alternating which goes first. Interleaved so that both see the same load
    of a shared machine; the engine row is the floor graphmem's bulk path can
    approach, not beat. It reaches into ``Memory._store`` (private) because no
    public call writes rows without checking them first, which is the point."""
    graph = generate("random", n, seed=42)
    _warm_up(workdir / "warm")
    m = graph.m if relations is None else min(relations, graph.m)
    out: dict[str, Any] = {"entities": n, "relations": m}
    batches: list[list[float]] = []
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    keys = [KEY_SEPARATOR.join(("default", graph.name(i))) for i in range(n)]
    spent = {"entities": 0.0, "relations": 0.0}
    if engine:
        spent.update({"engine_entities": 0.0, "engine_relations": 0.0})
    cpu = dict.fromkeys(spent, 0.0)

    def clock(what: str, call, *args) -> None:
        if what not in spent:
            return
        wall, used = _timed(call, *args)
        spent[what] += wall
        cpu[what] += used
        if per_batch and what == "relations":
            wal = workdir / "bulk" / WAL_FILE
            batches.append([round(wall, 3), round(used, 3), round((wal.stat().st_size if wal.exists() else 0) / 2**20)])

    with graphmem.open(workdir / "bulk", embedder=None) as mem, \
            graphmem.open(workdir / "engine", embedder=None) as ceiling:
        store = ceiling._store
        shape = None if one_chunk else store.engine_name
        for i, start in enumerate(range(0, n, BATCH)):
            stop = min(start + BATCH, n)
            records = graph.entity_records(start, stop)
            table = _engine_entities(graph, keys, start, stop, now) if engine else None
            for turn in ((0, 1) if i % 2 == 0 else (1, 0)):
                if turn == 0:
                    clock("entities", mem.add_entities, records)
                else:
                    clock("engine_entities", _copy, store, "entity_copy", table)
        for i, start in enumerate(range(0, m, BATCH)):
            stop = min(start + BATCH, m)
            records = _relation_dicts(graph, start, stop)
            table = _engine_relations(graph, keys, start, stop, now, shape) if engine else None
            for turn in ((0, 1) if i % 2 == 0 else (1, 0)):
                if turn == 0:
                    clock("relations", mem.add_relations, records)
                else:
                    clock("engine_relations", _copy, store, "relation_copy", table)
        if len(mem) != n or mem.stats()["relations"] != m:
            raise AssertionError(f"{len(mem)} entities / {mem.stats()['relations']} relations stored, "
                                 f"expected {n} / {m}")
    for what, seconds in spent.items():
        count = n if what.endswith("entities") else m
        out[f"{what}_per_s"] = count / seconds
        # Per CPU second of the process: on a machine shared with other work the
        # wall clock mostly measures waiting for a core; this does not.
        out[f"{what}_per_cpu_s"] = count / cpu[what]
    if engine:
        out["ratio_entities_to_engine"] = out["entities_per_s"] / out["engine_entities_per_s"]
        out["ratio_relations_to_engine"] = out["relations_per_s"] / out["engine_relations_per_s"]
        out["cpu_ratio_entities_to_engine"] = out["entities_per_cpu_s"] / out["engine_entities_per_cpu_s"]
        out["cpu_ratio_relations_to_engine"] = out["relations_per_cpu_s"] / out["engine_relations_per_cpu_s"]
    if per_batch:
        out["relation_batches"] = batches  # [wall s, CPU s, WAL MiB after] per call
    if with_import:
        path = workdir / "entities.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('{"type":"graphmem","version":1}\n')
            for start in range(0, n, BATCH):
                for r in graph.entity_records(start, min(start + BATCH, n)):
                    fh.write(json.dumps({"type": "entity", "name": r["name"], "entityType": r["type"],
                                         "text": r["text"], "properties": r["properties"]}) + "\n")
        with graphmem.open(workdir / "imported", embedder=None) as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            counts = import_jsonl(mem, path, batch_size=BATCH)
            out["import_entities_per_s"] = counts.entities / (time.perf_counter() - t0)
            out["import_entities_per_cpu_s"] = counts.entities / (time.process_time() - c0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--relations", type=int, default=None, help="default 5x entities")
    parser.add_argument("--no-import", action="store_true")
    parser.add_argument("--one-chunk", action="store_true", help="engine relation COPY from one record batch")
    parser.add_argument("--no-engine", action="store_true", help="graphmem's calls only, no engine store")
    parser.add_argument("--per-batch", action="store_true", help="each relation call's wall, CPU and WAL size")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-bulk-"))
    try:
        result = run(args.entities, args.relations, workdir, not args.no_import, one_chunk=args.one_chunk,
                     engine=not args.no_engine, per_batch=args.per_batch)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["engine"] = os.environ.get("GRAPHMEM_ENGINE") or "kuzu"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
