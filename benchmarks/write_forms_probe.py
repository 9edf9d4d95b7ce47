"""Three choices of statement form on the write path, timed on a real store (2026-12-08).

- ``content``: ``add_entities`` of ``--rows`` existing entities, each given one
  new observation, with the update forms that set only what changed
  (``records.changes_content_only``) and with them off (every column set),
  alternating blocks of 10 calls in one process; p50 / mean / max wall ms.
- ``access``: the three forms of the access-statistics flush
  (``upkeep.access_form``: ``access_flush_one`` per key, ``access_flush_rows``,
  ``access_flush`` over an Arrow table) for batches of ``--keys`` random keys,
  each in a write transaction opened by a read (so nothing is held back),
  rolled back; p50 ms of the statements.
- ``reads``: full rows of ``--keys`` random entities, one ``entity_get`` per key
  against one ``entity_get_many`` (``query.entity.fetch_rows``), interleaved;
  p50 ms.

Each builds (once) and reuses a store of ``--entities`` entities at
``--store`` (a copy is written to for ``content``)::

    nice -n 5 python -m benchmarks.write_forms_probe content --entities 100000 --store /tmp/wf-100k
    nice -n 5 python -m benchmarks.write_forms_probe access --entities 100000 --store /tmp/wf-100k
    nice -n 5 python -m benchmarks.write_forms_probe reads --entities 10000 --store /tmp/wf-10k --keys 2,4,8,16,32
    GRAPHMEM_ENGINE=ladybug ...   # the other engine (its own --store)
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphmem
import graphmem.records
from graphmem.lifecycle import AccessLog, from_micros
from graphmem.memory import writes
from graphmem.records import entity_key
from graphmem.store.engine import default_engine


class _Rollback(Exception):
    """Ends a timed transaction without committing it."""


def build(path: Path, n: int, engine: str) -> None:
    """A store of ``n`` entities ``e0`` .. ``e{n-1}``, each with one observation (once)."""
    if path.exists():
        return
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for start in range(0, n, 50_000):
            mem.add_entities([{"name": f"e{i}", "type": "T", "observations": ["x"]}
                              for i in range(start, min(n, start + 50_000))])  # fmt: skip


def content(path: Path, n: int, engine: str, rows: int, calls: int) -> dict[str, list[float]]:
    copy = path.with_name(path.name + "-content")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(path, copy)
    real = graphmem.records.changes_content_only
    times: dict[str, list[float]] = {"content": [], "every column": []}
    rng = random.Random(3)
    try:
        with graphmem.open(copy, engine=engine, embedder=None) as mem:
            mem.k_hop("e0", 1)  # the graph state loaded, untimed
            for block in range(calls // 10):
                form = "content" if block % 2 else "every column"
                # The module's name, as the content test does: off, every update sets every column.
                setattr(writes, "changes_content_only", real if form == "content" else (lambda old, new: False))
                for j in range(10):
                    batch = [{"name": f"e{rng.randrange(n)}", "observations": [f"obs {block} {j}"]}
                             for _ in range(rows)]  # fmt: skip
                    start = time.perf_counter()
                    mem.add_entities(batch)
                    times[form].append(time.perf_counter() - start)
    finally:
        setattr(writes, "changes_content_only", real)
        shutil.rmtree(copy, ignore_errors=True)
    return times


def _in_rolled_back_write(mem: graphmem.Memory, work: Callable[[], None]) -> float:
    """Seconds ``work`` took inside a write transaction that a read opened, then rolled back."""
    store = mem._store
    elapsed = 0.0
    try:
        with store.transaction():
            store.execute("meta_all", {})  # begins the transaction: the statements below run at once
            start = time.perf_counter()
            work()
            elapsed = time.perf_counter() - start
            raise _Rollback
    except _Rollback:
        pass
    return elapsed


def access(path: Path, n: int, engine: str, keys: list[int], reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    rng = random.Random(1)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        store, namespace = mem._store, mem._namespace
        for k in keys:
            for form in ("one", "rows", "table"):
                if form == "one" and k > 200:
                    continue
                for rep in range(reps):
                    drained = {entity_key(namespace, f"e{rng.randrange(n)}"): [1, 1_700_000_000_000_000 + rep]
                               for _ in range(k)}  # fmt: skip

                    def work(drained: dict[str, list[Any]] = drained, form: str = form) -> None:
                        if form == "one":
                            for key, (hits, last) in drained.items():
                                store.execute("access_flush_one", {"key": key, "hits": hits, "last": from_micros(last)})
                        elif form == "rows":
                            store.execute("access_flush_rows", AccessLog.rows(drained))
                        else:
                            store.execute("access_flush", {"rows": AccessLog.table(drained)})

                    times.setdefault(f"{k} keys, {form}", []).append(_in_rolled_back_write(mem, work))
    return times


def reads(path: Path, n: int, engine: str, keys: list[int], reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    rng = random.Random(5)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        store, namespace = mem._store, mem._namespace
        for k in keys:
            for rep in range(reps):
                for form in (("one", "many") if rep % 2 else ("many", "one")):
                    chosen = [entity_key(namespace, f"e{rng.randrange(n)}") for _ in range(k)]
                    start = time.perf_counter()
                    if form == "one":
                        for key in chosen:
                            store.execute("entity_get", {"key": key})
                    else:
                        store.execute("entity_get_many", {"keys": chosen})
                    times.setdefault(f"{k} keys, {form}", []).append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["content", "access", "reads"])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--engine", default=default_engine())
    parser.add_argument("--rows", type=int, default=10, help="content: existing entities per add_entities call")
    parser.add_argument("--calls", type=int, default=400, help="content: calls in all (blocks of 10 alternate)")
    parser.add_argument("--keys", default="2,10,50,200,1000", help="access, reads: batch sizes")
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    build(args.store, args.entities, args.engine)
    keys = [int(k) for k in args.keys.split(",")]
    if args.what == "content":
        times = content(args.store, args.entities, args.engine, args.rows, args.calls)
    elif args.what == "access":
        times = access(args.store, args.entities, args.engine, keys, args.reps)
    else:
        times = reads(args.store, args.entities, args.engine, keys, args.reps)
    print(f"{args.what}, {args.engine}, {args.entities:,} entities; wall ms")
    for label, values in times.items():
        values = values[1:] if len(values) > 2 else values  # the first call plans the statement
        print(f"  {label:28s} p50 {statistics.median(values) * 1e3:8.2f}   mean {statistics.mean(values) * 1e3:8.2f}"
              f"   max {max(values) * 1e3:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
