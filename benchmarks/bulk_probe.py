"""Focused probe of the storage engine's own bulk load (issue 18, "bulk load").

Is the engine's ``COPY`` + ``COMMIT`` a ceiling for graphmem's bulk writes, and
is there a faster way to feed it? For each way of feeding it (``--ways``), a
fresh store takes ``--entities`` entities, then ``--relations`` relations, in
batches of 50,000 rows, each batch its own transaction, with no graphmem code
around the statements (the rows are built before any clock starts, exactly as
``bench_bulk``'s engine rows build them). Per way it prints one JSON line: the
rates per CPU second of the process (every thread; steady on a loaded
machine, where wall time is not) and per wall second, the CPU seconds spent in
``COPY`` and in ``COMMIT`` (which checkpoints after a COPY), and with
``--per-batch`` each batch's two figures (to see the COMMIT grow with what the
store holds)::

    nice -n 5 python -m benchmarks.bulk_probe --entities 100000 --relations 500000 \\
        --ways arrow,parquet,csv,chunk64,chunk2048,filled,threads1

Ways: ``arrow`` (graphmem's: ``COPY ... FROM $rows`` on the Arrow table,
relations in the record batches ``records.relation_copy_rows`` gives the
engine); ``chunkN`` (relations in record batches of N rows); ``parquet`` /
``csv`` (the table written to a file in the store's folder first, 0600,
removed after; the write is inside the clock); ``filled`` (the columns that
are NULL in every row given a value instead, relations in one record batch:
not something graphmem can store, NULL means unbounded or current; it shows
what the NULL columns cost);
``threads1`` (``arrow`` with the engine's ``max_threads=1``);
``createN`` (relations only; entities as ``arrow``): graphmem's
``relation_create_batch`` statement (``LOAD FROM $rows``, two primary-key
``MATCH``es, ``CREATE``) instead of ``COPY``, whose COMMIT does not
checkpoint; the WAL it grows is folded by a ``CHECKPOINT`` once it reaches N
MiB (graphmem's own rule is 16: ``space.CHECKPOINT_WAL``), inside the clock
and reported apart (``*_checkpoint_cpu_s``; with ``--per-batch`` each batch's
third figure).
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

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

import graphmem
from graphmem.config import StoreConfig
from graphmem.records import KEY_SEPARATOR, relation_copy_rows
from graphmem.store.queries import load_query
from graphmem.store.store import WAL_FILE

from benchmarks.bench_bulk import BATCH, _engine_entities, _engine_relations
from benchmarks.datasets import generate

WAYS = ("arrow", "parquet", "csv", "chunk64", "chunk2048", "filled", "threads1", "create16", "create64",
        "create256")


def _filled(table: pa.Table, now: datetime) -> pa.Table:
    """``table`` with every all-NULL column given one non-NULL value."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if column.null_count == len(column) and len(column):
            if pa.types.is_timestamp(field.type):
                column = pa.repeat(pa.scalar(now, field.type), len(table))
            elif pa.types.is_binary(field.type):
                column = pa.repeat(pa.scalar(b"x", field.type), len(table))
            else:
                column = pa.repeat(pa.scalar(1, field.type), len(table))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _shaped(way: str, table: pa.Table, engine: str, *, relations: bool, now: datetime) -> pa.Table:
    if way == "filled":
        table = _filled(table, now)
    if way == "csv":
        # Arrow's CSV writer has no list type: the engine's list literal instead
        # (the bench's observations are empty, so no item needs quoting).
        table = pa.Table.from_arrays(
            [pa.array(["[" + ",".join(v) + "]" for v in c.to_pylist()]) if pa.types.is_list(c.type) else c
             for c in table.columns], names=table.column_names)  # fmt: skip
    if not relations:
        return table
    if way.startswith("create"):
        return table  # LOAD FROM reads any record batches
    if way.startswith("chunk"):
        return pa.Table.from_batches(table.combine_chunks().to_batches(max_chunksize=int(way[5:])))
    if way == "filled":
        return table  # one record batch: without an all-NULL column, kuzu needs no small batches
    return relation_copy_rows(table, engine=engine)


def _copy(conn, folder: Path, way: str, label: str, table: pa.Table) -> None:
    if way.startswith("create") and label == "Relation":
        conn.execute(load_query("relation_create_batch"), {"rows": table})
        return
    if way not in ("parquet", "csv"):
        conn.execute(f"COPY {label} FROM $rows", {"rows": table})
        return
    path = folder / f"bulk-probe.{way}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        if way == "parquet":
            pq.write_table(table, path, compression="none")
            conn.execute(f"COPY {label} FROM '{path}'")
        else:
            pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=False))
            conn.execute(f"COPY {label} FROM '{path}' (header=false)")
    finally:
        path.unlink()


def probe(way: str, n: int, m: int, workdir: Path, *, per_batch: bool) -> dict[str, object]:
    engine = os.environ.get("GRAPHMEM_ENGINE") or "kuzu"
    graph = generate("random", n, seed=42)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    keys = [KEY_SEPARATOR.join(("default", graph.name(i))) for i in range(n)]
    entities = [_shaped(way, _engine_entities(graph, keys, s, min(s + BATCH, n), now), engine,
                        relations=False, now=now) for s in range(0, n, BATCH)]  # fmt: skip
    relations = [_shaped(way, _engine_relations(graph, keys, s, min(s + BATCH, m), now, None), engine,
                         relations=True, now=now) for s in range(0, m, BATCH)]  # fmt: skip
    config = StoreConfig(max_threads=1) if way == "threads1" else None
    out: dict[str, object] = {"engine": engine, "way": way, "entities": n, "relations": m}
    path = workdir / way
    with graphmem.open(path, embedder=None, **({"config": config} if config else {})) as mem:
        conn = mem._store._write_conn  # the engine's own connection: no graphmem code in the clock
        fold = int(way[6:]) << 20 if way.startswith("create") else None
        for label, tables, count in (("Entity", entities, n), ("Relation", relations, m)):
            wall = copy_cpu = commit_cpu = checkpoint_cpu = 0.0
            batches = []
            for table in tables:
                w0, c0 = time.perf_counter(), time.process_time()
                conn.execute("BEGIN TRANSACTION")
                _copy(conn, path, way, label, table)
                c1 = time.process_time()
                conn.execute("COMMIT")
                c2 = time.process_time()
                wal = path / WAL_FILE
                if fold is not None and wal.exists() and wal.stat().st_size >= fold:
                    conn.execute("CHECKPOINT")
                c3 = time.process_time()
                wall += time.perf_counter() - w0
                copy_cpu += c1 - c0
                commit_cpu += c2 - c1
                checkpoint_cpu += c3 - c2
                batches.append([round(c1 - c0, 3), round(c2 - c1, 3)] + ([round(c3 - c2, 3)] if fold else []))
            what = label.lower()
            out[f"{what}_per_cpu_s"] = round(count / (copy_cpu + commit_cpu + checkpoint_cpu))
            out[f"{what}_per_s"] = round(count / wall)
            out[f"{what}_copy_cpu_s"] = round(copy_cpu, 2)
            out[f"{what}_commit_cpu_s"] = round(commit_cpu, 2)
            if fold is not None:
                out[f"{what}_checkpoint_cpu_s"] = round(checkpoint_cpu, 2)
            if per_batch:
                out[f"{what}_batches_copy_commit_cpu_s"] = batches
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=500_000)
    parser.add_argument("--ways", default="arrow", help=f"comma-separated, of {', '.join(WAYS)}")
    parser.add_argument("--per-batch", action="store_true")
    args = parser.parse_args()
    ways = args.ways.split(",")
    unknown = set(ways) - set(WAYS)
    if unknown:
        parser.error(f"unknown ways {sorted(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-bulk-probe-"))
    try:
        # Once through the smallest load first: the first COPY of a process
        # imports pyarrow's pandas shim and the like, not a per-row cost.
        probe("arrow", 1000, 1000, workdir / "warm", per_batch=False)
        for way in ways:
            print(json.dumps(probe(way, args.entities, args.relations, workdir, per_batch=args.per_batch)),
                  flush=True)  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
