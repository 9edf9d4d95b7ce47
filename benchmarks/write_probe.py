"""Where the time of ``add_entities`` of 100 records with 384-d vectors goes (issue 18).

The core suite's ``batch100_entities_vec`` row gives wall time; on a shared
2-core machine that mostly measures waiting. This probe times the same call
on a store of ``--entities`` entities (built first through the bulk path,
with ``--relations`` relations) and splits each call into:

- ``wall``: the call's duration;
- ``cpu``: the process's CPU time (every thread: the engine's workers and the
  vector index's worker too);
- ``thread_cpu``: the calling thread's own CPU time;
- ``runqueue``: how long the calling thread waited for a core while runnable
  (``/proc/thread-self/schedstat``, Linux): the load's share of the wall time;
- ``asleep``: ``wall - thread_cpu - runqueue`` per call, the time the calling
  thread slept: on the engine's worker threads, the WAL's ``fdatasync``, a lock;
- ``stages``: the calling thread's wall and CPU time in each part (reading
  the records, the write statement, ``BEGIN``, ``COMMIT``, the in-memory
  bookkeeping after it).

What the wall time holds besides ``thread_cpu`` and ``runqueue`` is waiting
on other threads (every engine statement runs on the engine's worker
threads, which wait for a core too) and on the disk (one ``fdatasync`` of
the WAL per commit). ``--search`` loads the vector index first, so that each
write also queues its vectors for the HNSW worker (off the commit path). The
calls run back to back, so with ``--search`` the worker adds one call's
vectors while the next call runs (sustained writes: the two share the
cores); ``--settle`` waits, untimed, for the worker to empty its queue before
each call (one write with the index idle, as an agent's writes between
model calls meet it). ``pending`` is the queue left behind the last call::

    nice -n 5 python -m benchmarks.write_probe --entities 100000
    nice -n 5 python -m benchmarks.write_probe --entities 100000 --search
    nice -n 5 python -m benchmarks.write_probe --entities 100000 --search --settle
    GRAPHMEM_ENGINE=ladybug nice -n 5 python -m benchmarks.write_probe --entities 1000000 --pool-mib 2048
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.memory import bulk
from graphmem.store.store import Store

from benchmarks.bench_core import graph_batch
from benchmarks.datasets import generate, random_vectors

BATCH = 50_000


def _schedstat() -> int:
    """Nanoseconds the calling thread has waited on a run queue."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _stage(owner: Any, name: str, label: Any, into: dict[str, list[float]]) -> Any:
    """Wrap ``owner.name`` to add its wall and calling-thread CPU seconds to
    ``into[label(args)]``; returns what it replaced, for :func:`probe` to put back."""
    real = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent = into.setdefault(label(args), [0.0, 0.0])
            spent[0] += time.perf_counter() - w
            spent[1] += time.thread_time() - c

    setattr(owner, name, timed)
    return real


def _settle(mem: Any, seconds: float = 60.0) -> None:
    """Wait (untimed) until the vector index's worker has applied its queue."""
    index = mem._vectors.peek()
    deadline = time.monotonic() + seconds
    while index is not None and index.stale and time.monotonic() < deadline:
        time.sleep(0.002)


def probe(n: int, m: int, reps: int, workdir: Path, *, search: bool, settle: bool = False,
          pool_mib: int | None = None) -> dict[str, Any]:  # fmt: skip
    graph = generate("random", n, seed=42)
    m = min(m, graph.m)
    config = None if pool_mib is None else graphmem.StoreConfig(buffer_pool_size=pool_mib << 20)
    mem = graphmem.open(workdir / "store", embedder=None, **({"config": config} if config else {}))
    wrapped: list[tuple[Any, str, Any]] = []
    try:
        for start in range(0, n, BATCH):
            mem.add_entities(graph.entity_records(start, min(start + BATCH, n)))
        for start in range(0, m, BATCH):
            mem.add_relations(graph.relation_records(start, min(start + BATCH, m)))
        warm = 5
        vectors = random_vectors((reps + warm) * 100, 384, seed=1)
        batches = [graph_batch("probe", b, vectors[b * 100:(b + 1) * 100]) for b in range(reps + warm)]
        for b in range(warm):
            mem.add_entities(batches[b])
        if search:
            mem.search(vectors[0], 10)
            # The search's access statistics are flushed by the next write: this one, untimed.
            mem.add_entities([{"name": "probe-flush"}])
        current: dict[str, list[float]] = {}
        wrapped.append((Store, "_run", _stage(Store, "_run", lambda a: "statement " + a[2], current)))
        # A transaction of one statement runs it at its commit (Store.transaction): its time is <commit>'s.
        wrapped.append((Store, "_commit_now", _stage(Store, "_commit_now", lambda a: "statement <commit>", current)))
        for part in ("read_entities", "write_entities", "apply_entities", "written_rows"):
            wrapped.append((bulk, part, _stage(bulk, part, lambda a, part=part: part, current)))
        rows: dict[str, list[float]] = defaultdict(list)
        stages: dict[str, list[list[float]]] = defaultdict(list)
        for b in range(warm, warm + reps):
            if settle:
                _settle(mem)
            current.clear()
            q0, w0, c0, t0 = _schedstat(), time.perf_counter(), time.process_time(), time.thread_time()
            mem.add_entities(batches[b])
            rows["wall"].append(time.perf_counter() - w0)
            rows["cpu"].append(time.process_time() - c0)
            rows["thread_cpu"].append(time.thread_time() - t0)
            rows["runqueue"].append((_schedstat() - q0) / 1e9)
            rows["asleep"].append(rows["wall"][-1] - rows["thread_cpu"][-1] - rows["runqueue"][-1])
            for label, spent in current.items():
                stages[label].append(spent)
        index = mem._vectors.peek()
        pending = None if index is None else len(index.stale)
    finally:
        for owner, name, real in reversed(wrapped):
            setattr(owner, name, real)
        mem.close()
    out: dict[str, Any] = {"entities": n, "relations": m, "reps": reps, "search": search, "settle": settle}
    out.update({f"{k}_ms_p50": round(float(np.median(v)) * 1e3, 3) for k, v in rows.items()})
    out["wall_ms_p90"] = round(float(np.percentile(rows["wall"], 90)) * 1e3, 3)
    out["pending"] = pending
    out["stages_ms_p50_wall_cpu"] = {
        label: [round(float(np.median([s[0] for s in v])) * 1e3, 3), round(float(np.median([s[1] for s in v])) * 1e3, 3)]
        for label, v in sorted(stages.items())
    }  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=0)
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--search", action="store_true", help="load the vector index before the timed calls")
    parser.add_argument("--settle", action="store_true",
                        help="with --search: wait (untimed) for the index's worker to empty its queue before each call")
    parser.add_argument("--pool-mib", type=int, default=None,
                        help="the engine's buffer pool (default graphmem's 512 MiB; LadybugDB 0.22 filled it "
                             "while COPYing the 1M entities)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-write-probe-"))
    try:
        print(json.dumps(probe(args.entities, args.relations, args.reps, workdir, search=args.search,
                               settle=args.settle, pool_mib=args.pool_mib)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
