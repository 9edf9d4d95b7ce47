"""Bulk-load rates of issue 18: ``add_entities`` / ``add_relations`` with lists
of dicts in batches of 50k, and ``graphmem import`` of JSON Lines.

Usage (from the repository root)::

    python -m benchmarks.bench_bulk --entities 200000 --engine kuzu
    GRAPHMEM_ENGINE=ladybug python -m benchmarks.bench_bulk --entities 200000

The graph is ``datasets.generate("random", N)`` (5N relations). Entity records
carry a name, a type, a short text and three properties (as the core suite's);
relation records are ``{"source", "type", "target"}`` dicts. The records of a
batch are built before its clock starts; the clock stops when the call returns
(after its commit). The import row writes the same entities as a graphmem
JSONL file first and times ``import_jsonl`` over it (validation pass included)
into a fresh store. The ``engine_*`` rows are the storage engine's own COPY +
COMMIT of the same rows in the same run (see ``_engine_ceiling``): the ceiling
graphmem's rates are read against.
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

import numpy as np
import pyarrow as pa

import graphmem
from graphmem.records import ENTITY_SCHEMA, KEY_SEPARATOR, RELATION_SCHEMA
from graphmem.transfer import import_jsonl

from benchmarks.datasets import RELATION_TYPES, generate

BATCH = 50_000


def _relation_dicts(graph, start: int, stop: int) -> list[dict[str, str]]:
    name = graph.name
    return [
        {"source": name(s), "type": RELATION_TYPES[t], "target": name(d)}
        for s, t, d in zip(graph.src[start:stop].tolist(), graph.rel_type[start:stop].tolist(),
                           graph.dst[start:stop].tolist())
    ]  # fmt: skip


def _engine_ceiling(graph, n: int, m: int, path: Path) -> dict[str, float]:
    """The storage engine's own rate for the same rows: graphmem's ``entity_copy``
    and ``relation_copy`` statements (Kùzu/LadybugDB ``COPY ... FROM`` an Arrow
    table with exactly the columns graphmem writes) plus COMMIT, in batches of
    ``BATCH``, with the tables built before each clock starts. No Python
    runs per record inside the clock, so this is the floor graphmem's bulk path
    can approach, not beat: its ratio to this row is the overhead to judge.
    Reaches into ``mem._store`` (private) because no public call writes rows
    without checking them first, which is the point of the comparison."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    keys = [KEY_SEPARATOR.join(("default", graph.name(i))) for i in range(n)]
    out: dict[str, float] = {}
    with graphmem.open(path, embedder=None) as mem:
        store = mem._store
        spent = 0.0
        for start in range(0, n, BATCH):
            stop = min(start + BATCH, n)
            records = graph.entity_records(start, stop)
            k = stop - start
            columns = {
                "key": pa.array(keys[start:stop]), "id": pa.array(np.arange(start, stop)),
                "namespace": pa.array(["default"] * k), "name": pa.array([r["name"] for r in records]),
                "type": pa.array([r["type"] for r in records]), "text": pa.array([r["text"] for r in records]),
                "observations": pa.array([[] for _ in records], pa.list_(pa.string())),
                "properties": pa.array([json.dumps(r["properties"]) for r in records]),
                "created_at": pa.array([now] * k, pa.timestamp("us")),
                "updated_at": pa.array([now] * k, pa.timestamp("us")),
            }  # fmt: skip
            table = pa.Table.from_arrays([columns[f.name] if f.name in columns else pa.nulls(k, f.type)
                                          for f in ENTITY_SCHEMA], schema=ENTITY_SCHEMA)  # fmt: skip
            t0 = time.perf_counter()
            with store.transaction():
                store.execute("entity_copy", {"rows": table})
            spent += time.perf_counter() - t0
        out["engine_entities_per_s"] = n / spent
        spent = 0.0
        for start in range(0, m, BATCH):
            stop = min(start + BATCH, m)
            k = stop - start
            table = pa.Table.from_arrays([
                pa.array([keys[i] for i in graph.src[start:stop].tolist()]),
                pa.array([keys[i] for i in graph.dst[start:stop].tolist()]),
                pa.array([RELATION_TYPES[t] for t in graph.rel_type[start:stop].tolist()]),
                pa.array(["{}"] * k), pa.array([now] * k, pa.timestamp("us")),
                pa.nulls(k, pa.timestamp("us")), pa.nulls(k, pa.timestamp("us")), pa.nulls(k, pa.timestamp("us")),
            ], schema=RELATION_SCHEMA)  # fmt: skip
            t0 = time.perf_counter()
            with store.transaction():
                store.execute("relation_copy", {"rows": table})
            spent += time.perf_counter() - t0
        out["engine_relations_per_s"] = m / spent
    return out


def run(n: int, relations: int | None, workdir: Path, with_import: bool) -> dict[str, float]:
    graph = generate("random", n, seed=42)
    m = graph.m if relations is None else min(relations, graph.m)
    out: dict[str, float] = {"entities": n, "relations": m}
    with graphmem.open(workdir / "bulk", embedder=None) as mem:
        spent = 0.0
        for start in range(0, n, BATCH):
            records = graph.entity_records(start, min(start + BATCH, n))
            t0 = time.perf_counter()
            mem.add_entities(records)
            spent += time.perf_counter() - t0
        out["entities_per_s"] = n / spent
        spent = 0.0
        for start in range(0, m, BATCH):
            records = _relation_dicts(graph, start, min(start + BATCH, m))
            t0 = time.perf_counter()
            mem.add_relations(records)
            spent += time.perf_counter() - t0
        out["relations_per_s"] = m / spent
        if len(mem) != n:
            raise AssertionError(f"{len(mem)} entities stored, expected {n}")
    out.update(_engine_ceiling(graph, n, m, workdir / "engine"))
    out["ratio_entities_to_engine"] = out["entities_per_s"] / out["engine_entities_per_s"]
    out["ratio_relations_to_engine"] = out["relations_per_s"] / out["engine_relations_per_s"]
    if with_import:
        path = workdir / "entities.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('{"type":"graphmem","version":1}\n')
            for start in range(0, n, BATCH):
                for r in graph.entity_records(start, min(start + BATCH, n)):
                    fh.write(json.dumps({"type": "entity", "name": r["name"], "entityType": r["type"],
                                         "text": r["text"], "properties": r["properties"]}) + "\n")
        with graphmem.open(workdir / "imported", embedder=None) as mem:
            t0 = time.perf_counter()
            counts = import_jsonl(mem, path, batch_size=BATCH)
            out["import_entities_per_s"] = counts.entities / (time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--relations", type=int, default=None, help="default 5x entities")
    parser.add_argument("--no-import", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-bulk-"))
    try:
        result = run(args.entities, args.relations, workdir, not args.no_import)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["engine"] = os.environ.get("GRAPHMEM_ENGINE") or "kuzu"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
