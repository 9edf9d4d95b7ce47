"""Where an uncached ``shortest_path`` spends its time, step by step (issue 18).

Build a store once, then reopen it (the saved graph state, as a restarted
process sees it) and time, on fresh seeded pairs, the public call and each
step of :func:`graphmem.query.traversal.shortest_path` replayed one by one::

    python -m benchmarks.path_probe build /tmp/path-100k --n 100000
    python -m benchmarks.path_probe measure /tmp/path-100k --n 100000 --interleave
    python -m benchmarks.path_probe measure /tmp/path-100k --n 100000 --dicts
    python -m benchmarks.path_probe kernel_floor - --n 1000000 --pairs 500

``--interleave`` runs one networkx ``bidirectional_shortest_path`` (on a
graph of the same relations) before each timed call, as ``bench_paths``
interleaves them: it evicts graphmem's data and code from the CPU caches,
which is what the ratio against networkx measures. ``--dicts`` builds the id
map's dictionaries first (what a process that wrote the store holds)
instead of answering names from the saved arrays. Output: one line per step,
p50 and mean in microseconds.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import graphmem
from graphmem.query import traversal
from graphmem.algorithms import paths as kernels

from .datasets import ENTITY_TYPES, Graph, generate

_BATCH = 100_000
_STEPS = ("checks", "ids", "cache_get", "compact", "mask", "kernel", "to_path", "relations", "put")


def build(path: Path, n: int, engine: str) -> None:
    graph = generate("random", n, seed=0)
    types = [ENTITY_TYPES[t] for t in graph.ent_type.tolist()]
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for start in range(0, n, _BATCH):
            mem.add_entities([{"name": graph.name(i), "type": types[i]} for i in range(start, min(start + _BATCH, n))])
        for start in range(0, graph.m, _BATCH):
            mem.add_relations(graph.relation_records(start, min(start + _BATCH, graph.m)))


def _evictor(n: int, interleave: bool, calls: int) -> Callable[[], None]:
    if not interleave:
        return lambda: None
    import networkx as nx

    graph = generate("random", n, seed=0)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    pairs = iter(np.random.default_rng(3).integers(0, n, (calls, 2)).tolist())

    def evict() -> None:
        a, b = next(pairs)
        try:
            nx.bidirectional_shortest_path(g, a, b)
        except nx.NetworkXNoPath:
            pass

    return evict


def measure(path: Path, n: int, engine: str, pairs: int, interleave: bool, dicts: bool) -> None:
    rng = np.random.default_rng(7)
    ends = rng.integers(0, n, (3 * pairs + 50, 2)).tolist()
    names = [(Graph.name(a), Graph.name(b)) for a, b in ends]
    evict = _evictor(n, interleave, 3 * pairs + 10)
    clock = time.perf_counter_ns
    steps: dict[str, list[int]] = {name: [] for name in ("api", *_STEPS, "kernel_alone")}
    with graphmem.open(path, engine=engine, embedder=None, read_only=True) as mem:
        for a, b in names[:50]:
            mem.shortest_path(a, b)
        state = mem._derived.get()
        if dicts:
            list(state.ids.keys())
        ns = mem._namespace
        gc.collect()
        gc.freeze()
        for a, b in names[50 : 50 + pairs]:
            evict()
            start = clock()
            mem.shortest_path(a, b)
            steps["api"].append(clock() - start)
        for a, b in names[50 + pairs : 50 + 2 * pairs]:  # the body of traversal.shortest_path, step by step
            evict()
            t = [clock()]
            request = traversal.path_request(a, b, max_hops=None, direction="both", types=None)
            direction, hops, types = request.direction, request.max_hops, traversal._type_set(request.types)
            t.append(clock())
            src, dst = traversal._id(state, ns, a, "source"), traversal._id(state, ns, b, "target")
            t.append(clock())
            edges = state.edges
            cache = traversal.path_cache(edges)
            key = ("probe", src, dst, direction, types, hops)
            cache.get(key)
            t.append(clock())
            edges.maybe_compact()
            view = edges.view
            t.append(clock())
            mask = traversal._mask(edges, types)
            t.append(clock())
            found = kernels.shortest_lists(view.adj, src, dst, direction=direction, allowed=mask, max_hops=hops,
                                           n_nodes=view.nodes)  # fmt: skip
            t.append(clock())
            answer = None if found is None else traversal._named_path(state, ns, *found)
            t.append(clock())
            relations = traversal._path_relations(*found) if found is not None else []
            t.append(clock())
            cache.put(key, answer, version=view.version, types=types, relations=relations)
            t.append(clock())
            for name, lo, hi in zip(_STEPS, t, t[1:]):
                steps[name].append(hi - lo)
        view = state.edges.view
        for a, b in names[50 + 2 * pairs : 50 + 3 * pairs]:
            ids = traversal._id(state, ns, a, "source"), traversal._id(state, ns, b, "target")
            evict()
            start = clock()
            kernels.bidirectional_bfs(view.adj, *ids, n_nodes=view.nodes)
            steps["kernel_alone"].append(clock() - start)
        gc.unfreeze()
    for name, values in steps.items():
        print(f"{name:13s} p50 {np.median(values) / 1000:8.2f} us  mean {np.mean(values) / 1000:8.2f} us")


def kernel_floor(n: int, pairs: int) -> None:
    """The compiled search alone on a random graph of ``n`` nodes / ``5n``
    edges built in memory (no store): in a warm loop, and with a 64 MB sweep
    before each call (caches cold, as after an interleaved networkx call),
    and cold but with the search's marks loaded back first. Shows how much
    of an interleaved call is the kernel waiting on memory."""
    from graphmem.algorithms.csr import from_edges

    rng = np.random.default_rng(0)
    adj = from_edges(rng.integers(0, n, 5 * n), rng.integers(0, n, 5 * n), rng.integers(0, 8, 5 * n), n)
    ws = kernels.workspace()
    ws.reserve(n)
    sweep = np.ones(64_000_000 // 8)
    ends = rng.integers(0, n, (pairs + 20, 2)).tolist()
    for a, b in ends[:20]:
        kernels.bidirectional_bfs(adj, a, b, n_nodes=n)
    for mode in ("warm", "cold", "cold, marks loaded"):
        times = []
        for a, b in ends[20:]:
            if mode != "warm":
                sweep.sum()
            if mode == "cold, marks loaded":
                ws.marks.sum()
            start = time.perf_counter_ns()
            kernels.bidirectional_bfs(adj, a, b, n_nodes=n)
            times.append(time.perf_counter_ns() - start)
        print(f"{mode:19s} p50 {np.median(times) / 1000:8.2f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "measure", "kernel_floor"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--interleave", action="store_true")
    parser.add_argument("--dicts", action="store_true")
    args = parser.parse_args()
    if args.action == "build":
        build(args.path, args.n, args.engine)
    elif args.action == "kernel_floor":
        kernel_floor(args.n, args.pairs)
    else:
        measure(args.path, args.n, args.engine, args.pairs, args.interleave, args.dicts)


if __name__ == "__main__":
    main()
