"""Where ``search(q, k=10, near=anchor, max_hops=2)`` spends its time, step by step (issue 18).

Build a store as ``bench_composed`` does (clustered 384-d vectors, a random
graph of 5 relations per entity), then reopen it (the saved graph state and
keys, as a restarted process sees them) and time, on seeded anchors and
held-out queries, the public call, each step of it replayed one by one, and
the smart numpy + networkx peer (the 2-hop ball first, then exact float32
scores of its vectors: ``bench_composed``'s peer (c)) in the same process::

    python -m benchmarks.near_probe build /tmp/near-10k --n 10000
    python -m benchmarks.near_probe measure /tmp/near-10k --n 10000

The steps: ``checks`` (the options, through the common near search's
quick lane, :func:`graphmem.query.search.plain_near`), ``vector`` (the query's check and
norm), ``snapshot`` (graph snapshot, vector index, entity filter),
``anchors`` (names to ids), ``near_search`` (all of
:func:`graphmem.query.retrieval.near_search`), and inside it ``call`` (the
one compiled call with its Python wrapper and the index's read lock),
``kernel`` (the compiled function alone, called directly: dispatch, ball,
scores, top k, paths, names), ``kernel_0`` (the same with ``max_hops=0``:
what dispatching it and boxing its answer cost) and ``hits`` (the Hit and
Path objects); ``record`` (the access log). Rounds alternate graphmem and
the peer, so both see the same machine. Output: p50 and p10 in
microseconds per step.

Which naming path a run measures depends on the store's state: a store
whose graph state was built from the store in this process (as the
benchmark's, which loads its relations after opening) holds its id map as
dictionaries and names the hits in Python; a store reopened from a saved
graph state (any run's close saves one) names them in the kernel, ~5 us
less. The first line says which (``names from the saved keys``); measure a
fresh copy of the built store each time to compare with the benchmark.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem.algorithms import paths as kernels
from graphmem.algorithms.near import _near, near_top_k, pack_adjacency
from graphmem.query import retrieval, search

from .datasets import ENTITY_TYPES, Graph, generate
from .vector_data import clustered

_BATCH = 100_000
K = 10


def build(path: Path, n: int, engine: str) -> None:
    data, _ = clustered(n, 300, dim=384, seed=42)
    graph = generate("random", n, seed=42)
    types = [ENTITY_TYPES[t] for t in graph.ent_type.tolist()]
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        for start in range(0, n, _BATCH):
            mem.add_entities([{"name": Graph.name(i), "type": types[i], "embedding": data[i]}
                              for i in range(start, min(start + _BATCH, n))])  # fmt: skip
        for start in range(0, graph.m, _BATCH):
            mem.add_relations(graph.relation_records(start, min(start + _BATCH, graph.m)))
        mem.search(data[0], K)  # builds the vector index, saved at close


def _median(ns: list[int]) -> tuple[float, float]:
    return float(np.median(ns)) / 1000, float(np.percentile(ns, 10)) / 1000


def measure(path: Path, n: int, engine: str, calls: int, rounds: int) -> None:
    import networkx as nx

    data, queries = clustered(n, 300, dim=384, seed=42)
    graph = generate("random", n, seed=42)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    rng = np.random.default_rng(7)
    anchors = rng.integers(0, n, calls).tolist()
    names = [Graph.name(a) for a in anchors]
    qs = [queries[i % len(queries)] for i in range(calls)]
    clock = time.perf_counter_ns
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.search(qs[0], K, near=names[0], max_hops=2)  # loads the graph and the index
        state, view = mem._graph(None, None)
        index = mem._vectors.get(mem._vector_dim)
        namespace = mem._namespace
        ids = [search.anchor_ids(state, namespace, (name,)) for name in names]
        vectors = [search.query_vector(q, None, mem._vector_dim) for q in qs]
        keys, prefix = state.ids.saved_arrays(), retrieval._prefix(namespace)
        edges = state.view
        print(f"{engine}, {n:,} entities; names from the saved keys: {keys is not None}")

        def public(i: int) -> Any:
            return mem.search(qs[i], K, near=names[i], max_hops=2)

        def peer(i: int) -> Any:
            reach = nx.single_source_shortest_path_length(g, anchors[i], cutoff=2)
            ball = np.fromiter(reach, np.int64, len(reach))
            scores = data[ball] @ qs[i]
            return ball[np.lexsort((ball, -scores))[:K]]

        def call(i: int) -> Any:
            return index.with_rows(lambda rows, inv, live, limit: near_top_k(
                edges.adj, ids[i], 2, rows, inv, live, vectors[i], K, exact_limit=limit, n_nodes=edges.nodes,
                keys=keys, prefix=prefix, packed=packed))  # fmt: skip

        ws = kernels.workspace()
        packed = pack_adjacency(edges.adj)
        no_seeds = np.zeros(0, np.int64)
        seeds = [np.asarray(a, np.int64) for a in ids]
        rows, inv, live, limit = index.with_rows(lambda *a: a)
        no_keys = keys or (np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.uint8))

        def kernel(i: int, hops: int = 2) -> Any:
            base = ws.begin()
            one = len(seeds[i]) == 1
            found = _near(*packed, int(seeds[i][0]) if one else -1, no_seeds if one else seeds[i], 2, False,
                          kernels._ALL, hops, ws.size, base, ws.buf, rows, inv, live, vectors[i], K, limit, *no_keys,
                          prefix)  # fmt: skip
            ws.finish(base, found[1])

        answers = [call(i) for i in range(calls)]
        steps: dict[str, Callable[[int], Any]] = {
            "search": public,
            "checks": lambda i: search.plain_near(K, None, names[i], 2, "both", None, "similarity", 0.5),
            "vector": lambda i: search.query_vector(qs[i], None, mem._vector_dim),
            "snapshot": lambda i: (mem._graph(None, None), mem._vectors.get(mem._vector_dim),
                                   search.allowed_ids(state, view, namespace, None)),
            "anchors": lambda i: search.anchor_ids(state, namespace, (names[i],)),
            "near_search": lambda i: retrieval.near_search(
                state, index, namespace, vectors[i], K, anchors=ids[i], max_hops=2, direction="both",
                relation_types=None, allowed_types=None, rank="similarity", decay=0.5),
            "call": call,
            "kernel": kernel,
            "kernel_0": lambda i: kernel(i, 0),
            "hits": lambda i: retrieval._near_hits(state, namespace, answers[i]),
            "record": lambda i: mem._shared.access.record([f"{namespace}\x1f{n}" for n in names[i : i + K]]),
            "peer (c)": peer,
        }
        times: dict[str, list[int]] = {name: [] for name in steps}
        for _ in range(rounds):
            for name, fn in steps.items():
                gc.collect()
                ns = times[name]
                for i in range(calls):
                    start = clock()
                    fn(i)
                    ns.append(clock() - start)
        for name, ns in times.items():
            p50, p10 = _median(ns)
            print(f"{name:12s} p50 {p50:7.1f} us   p10 {p10:7.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("build", "measure"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.what == "build":
        build(args.path, args.n, args.engine)
    else:
        measure(args.path, args.n, args.engine, args.calls, args.rounds)


if __name__ == "__main__":
    main()
