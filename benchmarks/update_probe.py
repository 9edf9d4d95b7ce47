"""What an update of existing entities costs in each statement form (``writes.update_form``).

A write that changes ``k`` existing entities records, for each, the version it
replaces and sets its new values. This probe times, on a store of
``--entities`` entities (kept at ``--store`` between runs), the statements of
each form for batches of ``--rows`` entities (each a new observation; with
``--dim`` a new int8 vector too), interleaved, each batch in its own
committed transaction (the COMMIT untimed):

- ``one``: one ``entity_update_versioned`` per row (``k`` statements);
- ``rows``: one ``entity_update_rows`` (lists, prepared once);
- ``batch``: ``entity_version_batch`` + ``entity_update_batch`` (``LOAD FROM``
  an Arrow table, planned each call).

It prints, per form and batch size, the p50 of the statements' wall time and
of the process's CPU time (every thread: the engine's workers too). The
table in ``writes.update_form`` came from it, with one more form then: the
``entity_version_create`` + ``entity_update`` per row that updates took before.

On kuzu 0.11.3 at 100k entities, run a few hundred transactions per process
(one size per run, ``--reps`` 5-25): there ~3,300 updates of random entities
in one process fill the 512 MiB buffer pool (through ``add_entities`` too,
whatever the statement form), and the checkpoint at close fails with it::

    nice -n 5 python -m benchmarks.update_probe --entities 100000 --rows 1,2,4,10 --reps 25
    GRAPHMEM_ENGINE=ladybug nice -n 5 python -m benchmarks.update_probe --entities 1000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.query.entity import fetch_rows
from graphmem.records import (
    EntityRow,
    entity_key,
    entity_rows_table,
    update_row_columns,
    utcnow,
    version_rows_table,
    versioned_update_params,
)
from graphmem.store.store import Store

FORMS = ("one", "rows", "batch")


def _write(store: Store, form: str, rows: list[EntityRow], versions: list[dict[str, Any]]) -> None:
    if form == "one":
        for row, version in zip(rows, versions):
            store.execute("entity_update_versioned", versioned_update_params(row, version))
    elif form == "rows":
        store.execute("entity_update_rows", update_row_columns(rows, versions))
    else:
        store.execute("entity_version_batch", {"rows": version_rows_table(versions)})
        store.execute("entity_update_batch", {"rows": entity_rows_table(rows)})


def probe(path: Path, n: int, sizes: list[int], reps: int, *, engine: str, dim: int, seed: int = 7) -> dict[str, Any]:
    fresh = not path.exists()
    mem = graphmem.open(path, embedder=None, engine=engine)
    try:
        if fresh:
            for start in range(0, n, 50_000):
                mem.add_entities([{"name": f"e{i}", "type": "T", "observations": [f"obs {i}", "more"]}
                                  for i in range(start, min(start + 50_000, n))])  # fmt: skip
        store = mem._store
        keys = [entity_key(mem.namespace_name, f"e{i}") for i in range(n)]
        rng = random.Random(seed)
        vectors = np.random.default_rng(seed)
        held: dict[str, EntityRow] = {}
        clock = utcnow()
        spent: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for rep in range(reps + 2):  # the first two warm the prepared statements and caches, untimed
            for k in sizes:
                for form in rng.sample(FORMS, len(FORMS)):
                    chosen = rng.sample(keys, k)
                    missing = [key for key in chosen if key not in held]
                    held.update(fetch_rows(store, mem._cache, missing, store.config, stored=n))
                    clock += timedelta(milliseconds=1)
                    old = [held[key] for key in chosen]
                    new = [replace(row, observations=[*row.observations, f"u{rep}"], updated_at=clock) for row in old]
                    if dim:
                        for row in new:
                            row.embedding = vectors.integers(-127, 128, dim, dtype=np.int8).tobytes()
                            row.scale = 0.01
                    versions = [row.version_params(clock) for row in old]
                    with store.transaction():
                        w, c = time.perf_counter(), time.process_time()
                        _write(store, form, new, versions)
                        took = (time.perf_counter() - w, time.process_time() - c)
                    held.update((row.key, row) for row in new)
                    if rep >= 2:
                        spent.setdefault((form, k), []).append(took)
    finally:
        mem.close()
    return {
        f"{form} {k}": {"wall_ms_p50": round(float(np.median([t[0] for t in v])) * 1e3, 2),
                        "cpu_ms_p50": round(float(np.median([t[1] for t in v])) * 1e3, 2)}
        for (form, k), v in sorted(spent.items(), key=lambda item: (item[0][1], item[0][0]))
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=1_000)
    parser.add_argument("--rows", default="1,2,10,64", help="batch sizes, comma-separated")
    parser.add_argument("--reps", type=int, default=31)
    parser.add_argument("--dim", type=int, default=0, help="give each updated row a new int8 vector of this size")
    parser.add_argument("--store", type=Path, default=None,
                        help="the store (built on first use); default a directory per engine and size in /tmp")
    args = parser.parse_args()
    engine = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
    path = args.store or Path(f"/tmp/graphmem-update-probe-{engine}-{args.entities}")
    sizes = [int(s) for s in args.rows.split(",")]
    out = probe(path, args.entities, sizes, args.reps, engine=engine, dim=args.dim)
    print(json.dumps({"engine": engine, "entities": args.entities, "rows": sizes, "dim": args.dim,
                      "load": [round(x, 2) for x in os.getloadavg()]}))
    for name, figures in out.items():
        print(f"{name:12s} wall {figures['wall_ms_p50']:7.2f} ms  cpu {figures['cpu_ms_p50']:7.2f} ms")


if __name__ == "__main__":
    main()
