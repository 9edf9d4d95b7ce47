"""What graph snapshots cost a write and a read (issue 18, "One owner of derived state").

A query takes one :class:`graphmem.index.derived.GraphSnapshot`; while one is
held, each change records what it changes in the id map and copies the
bitmaps it touches on their first change after a share. This probe builds a
:class:`~graphmem.index.derived.GraphState` of N entities (one type, one
namespace) and 5N random relations in memory (no store: the costs are the
state's own) and times, p50 over ``--repeat`` calls::

    python -m benchmarks.snapshot_probe --n 100000

- ``snapshot_reused``: ``state.snapshot()`` when nothing changed since the last one (every query after the first);
- ``snapshot_new``: the first ``snapshot()`` after a change;
- ``write_entity_no_reader`` / ``write_relation_no_reader``: one entity (one
  relation) written, no snapshot taken since the last change (what every
  write cost before snapshots existed);
- ``write_entity_reader`` / ``write_relation_reader``: the same with a
  snapshot taken, and held, before each write (the worst case: each write
  records its keys and copies the bitmaps it touches, shared again by the
  snapshot before it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from graphmem.index.adjacency import EdgeIndex
from graphmem.index.bitmaps import LabelBitmaps
from graphmem.index.derived import GraphSnapshot, GraphState
from graphmem.index.ids import IdMap

from .timing import Stats, measure, steady_gc, summarize


def build(n: int, seed: int) -> GraphState:
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.int64)
    keys = [f"ns\x1fent-{i:08d}" for i in range(n)]
    src, dst = rng.integers(0, n, 5 * n), rng.integers(0, n, 5 * n)
    edges = EdgeIndex.from_arrays(src, dst, np.array(["R", "S"], dtype=object)[rng.integers(0, 2, 5 * n)])
    relation_types = LabelBitmaps()
    for name, members in edges.type_members().items():
        relation_types.add_array(name, members)
    namespaces, entity_types = LabelBitmaps(), LabelBitmaps()
    namespaces.add_array("ns", ids)
    entity_types.add_array("T", ids)
    return GraphState(ids=IdMap.from_arrays(keys, ids, floor=n), entity_types=entity_types,
                      relation_types=relation_types, edges=edges, namespaces=namespaces)  # fmt: skip


def _timed(op: Callable[[int], None], *, before: Callable[[int], None], repeat: int) -> Stats:
    """``op(i)`` timed alone, ``before(i)`` run untimed just before each call."""
    ns = []
    clock = time.perf_counter_ns
    with steady_gc():
        for i in range(repeat):
            before(i)
            start = clock()
            op(i)
            ns.append(clock() - start)
    return summarize(ns, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    state = build(args.n, args.seed)
    n, repeat = args.n, args.repeat
    ends = np.random.default_rng(args.seed + 1).integers(0, n, (5 * repeat, 2)).tolist()
    fresh = iter(range(5 * repeat))
    held: list[GraphSnapshot] = []

    def write_entity(_: int) -> None:
        i = next(fresh)
        state.add_entity_keys([f"ns\x1fnew-{i}"], np.array(state.allocate_ids(1)), "T", "ns")

    def write_relation(i: int) -> None:
        a, b = ends[i]
        state.add_relation_triples([(a, "R", b)])

    def take(_: int) -> None:
        held[:] = [state.snapshot()]

    def nothing(_: int) -> None:
        held.clear()

    rows = {}
    state.snapshot()
    rows["snapshot_reused"] = measure(lambda i: state.snapshot(), repeat=repeat, warmup=10)
    rows["snapshot_new"] = _timed(take, before=lambda i: write_relation(i), repeat=repeat)
    rows["write_entity_no_reader"] = _timed(write_entity, before=nothing, repeat=repeat)
    rows["write_relation_no_reader"] = _timed(lambda i: write_relation(repeat + i), before=nothing, repeat=repeat)
    rows["write_entity_reader"] = _timed(write_entity, before=take, repeat=repeat)
    rows["write_relation_reader"] = _timed(lambda i: write_relation(2 * repeat + i), before=take, repeat=repeat)
    for name, stats in rows.items():
        print(json.dumps({"figure": name, "p50_us": round(stats.p50_ms * 1000, 2), "n": n}))


if __name__ == "__main__":
    main()
