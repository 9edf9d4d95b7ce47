"""Where a bulk write's CPU goes: graphmem's bulk functions and the engine's statements, timed apart.

Usage (from the repository root)::

    GRAPHMEM_ENGINE=kuzu nice -n 5 python -m benchmarks.bulk_parts --entities 100000 --relations 500000

Writes ``bench_bulk``'s entities then relations (batches of 50k, lists of
dicts) through ``add_entities`` / ``add_relations`` and prints one JSON line
per kind: the CPU seconds (process time, every thread) of the whole calls,
of each function of :mod:`graphmem.memory.bulk` (``read_*``: dicts to checked
columns; ``write_*``: keys, ids, duplicate checks and the table, the
engine's ``COPY`` included; ``apply_*``: in-memory state after commit) and
of each statement the store ran (``engine:<name>``; ``<commit>`` is the
COMMIT, which checkpoints after a COPY). CPU time, not wall time, so that a
shared machine's load does not move the split. The wrappers cost a few
microseconds per call, not per record.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import graphmem
import graphmem.memory.bulk as bulk
from graphmem.store.store import Store

from benchmarks.bench_bulk import BATCH, _relation_dicts, _warm_up
from benchmarks.datasets import generate

_TIMED = ("read_entities", "write_entities", "apply_entities", "read_relations", "write_relations",
          "apply_relations")  # fmt: skip


def _timing(spent: dict[str, float], label: str, call: Any) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - start

    return timed


def run(n: int, m: int, workdir: Path) -> list[dict[str, Any]]:
    graph = generate("random", n, seed=42)
    _warm_up(workdir / "warm")
    entities = [graph.entity_records(s, min(s + BATCH, n)) for s in range(0, n, BATCH)]
    relations = [_relation_dicts(graph, s, min(s + BATCH, m)) for s in range(0, m, BATCH)]
    spent: dict[str, float] = {}
    saved = {name: getattr(bulk, name) for name in _TIMED}
    raw, commit_now = Store._execute_raw, Store._commit_now

    def execute_raw(self: Store, conn: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        return _timing(spent, f"engine:{name}", raw)(self, conn, name, *args, **kwargs)

    def commit(self: Store, held: Any) -> None:  # COMMIT, or a transaction's one statement run alone
        _timing(spent, "engine:<commit>", commit_now)(self, held)

    out = []
    try:
        for name, call in saved.items():
            setattr(bulk, name, _timing(spent, name, call))
        Store._execute_raw = execute_raw  # type: ignore[method-assign]
        Store._commit_now = commit  # type: ignore[method-assign]
        with graphmem.open(workdir / "parts", embedder=None) as mem:
            for what, batches, write in (("entities", entities, mem.add_entities),
                                         ("relations", relations, mem.add_relations)):  # fmt: skip
                spent.clear()
                start = time.process_time()
                for batch in batches:
                    write(batch)
                total = time.process_time() - start
                count = sum(map(len, batches))
                parts = {k: round(v, 4) for k, v in sorted(spent.items())}
                out.append({"what": what, "records": count, "cpu_s": round(total, 3),
                            "per_cpu_s": round(count / total), "parts_cpu_s": parts})  # fmt: skip
    finally:
        for name, call in saved.items():
            setattr(bulk, name, call)
        Store._execute_raw = raw  # type: ignore[method-assign]
        Store._commit_now = commit_now  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--relations", type=int, default=500_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="graphmem-bulk-parts-"))
    try:
        for line in run(args.entities, args.relations, workdir):
            print(json.dumps(line), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
