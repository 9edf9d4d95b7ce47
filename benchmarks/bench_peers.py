"""Peers suite: what a user would otherwise pick, on the same data as the ops suite.

Runs once per run (in the kuzu engine's process: the raw Kùzu peer needs the
``kuzu`` module, which cannot share a process with ladybug). For each size it
generates the same seeded graph as :mod:`benchmarks.bench_ops` (the first
shape of ``--graphs``, 5 relations per entity) and the same 384-d vectors, and
measures each peer the way its own documentation recommends:

- raw Kùzu Cypher (the engine graphmem is built on, used directly): a node
  table keyed by name (STRING primary key, the indexed lookup), a relation
  table, both bulk-loaded with ``COPY`` from Arrow; prepared statements
  (``Connection.prepare``) with parameters;
- networkx: an undirected ``nx.Graph`` whose nodes are the names, with the
  entity's type and text as node attributes;
- rustworkx: an undirected ``PyGraph`` on integer indices (it has no
  name index; a caller keeps a dict, which is the dict peer's lookup);
- igraph: an undirected ``Graph`` with a ``name`` vertex attribute (igraph
  indexes names for ``vs.find(name=...)`` and accepts them in ``neighborhood``);
- a dict of adjacency lists keyed by name, with a plain breadth-first search
  (a deque and a parent dict): the style of several agent-memory frameworks
  that keep their graph in Python;
- kglite (PyPI ``kglite``, an embedded Cypher knowledge graph in Rust,
  in memory): ``add_nodes``/``add_connections`` from DataFrames, ``node()``,
  ``shortest_path_lengths_from(max_hops=2)``, ``shortest_path_ids``, and
  ``node_vector_search`` over ``set_embeddings``/``add_embeddings`` (an exact
  scan, its default; its opt-in HNSW index at the smallest sizes only).

Shortest paths on networkx/rustworkx/igraph and Kùzu's ``[* SHORTEST]``, Kùzu's
vector index and numpy brute force are measured by the paths and vectors
suites already; RESULTS.md takes those from there (with graphmem's figure
from the same process) instead of measuring them twice. A peer that is not
installed is skipped and said so in the log.

Each record's ``extra`` has the peer, the operation, the resident memory the
peer's structure added to this process (RSS before and after building it:
approximate, the allocator may reuse freed pages) and its build time.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util  # noqa: F401  kuzu 0.11.3 uses importlib.util without importing it
import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import ENTITY_TYPES, RELATION_TYPES, Graph, generate
from .resident import rss_bytes
from .suite import Benchmark, RunContext, Suite, failure, measurement
from .timing import Stats, measure, steady_gc, timed
from .vector_data import clustered

DIM = 384
K = 10
QUERIES = 300
WARMUP = 5
KUZU_BUFFER_POOL = 4 << 30
"""Raw Kùzu's buffer pool: enough for the 1M graph (Kùzu's default, ~80% of RAM,
is wrong on a shared machine; DESIGN.md)."""
KGLITE_INDEX_MAX = 10_000
"""Largest size at which kglite's opt-in HNSW index is built: it took ~43 s for
10k vectors here, so 100k would take several minutes per run."""
SLOW_PATH_REPS = {100_000: 100, 1_000_000: 20}
"""Fewer pairs for the dict BFS from these sizes up: a plain BFS in Python
explores a large part of the graph per pair (~1 s at 1M)."""

PEERS = ("kuzu_cypher", "networkx", "rustworkx", "igraph", "dict", "kglite")
OPERATIONS = {
    "lookup": "retrieve one entity by its name (with its attributes)",
    "k_hop_2": "every entity within 2 relations of a random one (both directions)",
    "path": "a shortest path between two random entities (both directions)",
    "vector": f"the {K} entities most similar to a held-out 384-d query vector",
}
_DESCRIBE = {
    ("lookup", "kuzu_cypher"): "prepared `MATCH (e:E {key: $k}) RETURN e.key, e.type, e.text` (primary-key index)",
    ("lookup", "networkx"): "`G.nodes[name]` (the node's attribute dict)",
    ("lookup", "igraph"): "`g.vs.find(name=name).attributes()` (igraph's name index)",
    ("lookup", "dict"): "`records[name]`",
    ("lookup", "kglite"): "`kg.node('Entity', name)` (identity index)",
    ("k_hop_2", "kuzu_cypher"): "prepared `MATCH (a:E {key: $k})-[:R*1..2]-(b:E) RETURN DISTINCT b.key`",
    ("k_hop_2", "networkx"): "`nx.single_source_shortest_path_length(G, name, cutoff=2)`",
    ("k_hop_2", "rustworkx"): "neighbours of neighbours with `PyGraph.neighbors` (rustworkx's BFS functions "
                              "take no depth limit)",
    ("k_hop_2", "igraph"): "`g.neighborhood(name, order=2)`",
    ("k_hop_2", "dict"): "breadth-first search to depth 2 over the adjacency dict (a deque, a distance dict)",
    ("k_hop_2", "kglite"): "`kg.shortest_path_lengths_from('Entity', name, max_hops=2)`",
    ("path", "dict"): "plain breadth-first search from the source until the target is reached (a deque, a "
                      "parent dict), then the path read back",
    ("path", "kglite"): "`kg.shortest_path_ids('Entity', a, 'Entity', b)` (BFS, undirected)",
    ("vector", "kglite"): "`kg.node_vector_search('text', q, top_k=10, returning=[])` with no index (an exact "
                          "scan: kglite's default); extra: recall_at_10",
    ("vector", "kglite_hnsw"): f"as vector_kglite after `kg.build_vector_index('Entity', 'text')` (defaults; built "
                               f"up to {KGLITE_INDEX_MAX:,} entities only); extra: recall_at_10, index_build_s",
}  # fmt: skip

_B = {f"{op}_{peer}": Benchmark(f"{op}_{peer}", f"{peer}: {text}") for (op, peer), text in _DESCRIBE.items()}


def run(ctx: RunContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kind = ctx.graphs[0]
    for n in ctx.sizes:
        started = time.perf_counter()
        graph, gen_ns = timed(lambda: generate(kind, n, seed=ctx.seed))
        data, queries = clustered(n, QUERIES, dim=DIM, seed=ctx.seed)
        ctx.datasets.append({"graph": kind, "size": n, "relations": graph.m, "generate_s": gen_ns / 1e9})
        ctx.log(f"peers {kind} n={n:,} m={graph.m:,}")
        names = [graph.name(i) for i in range(n)]
        rng = np.random.default_rng([ctx.seed, n, 12])
        work = _Work(ctx, graph, names, rng, data, queries, out)
        for peer in ("dict", "networkx", "rustworkx", "igraph", "kglite", "kuzu_cypher"):
            if not any(ctx.wanted(name) for name in _B if name.endswith("_" + peer) or name.endswith(peer + "_hnsw")):
                continue
            try:
                PEER_RUNS[peer](work)
            except ImportError as exc:
                ctx.log(f"  {peer}: not installed ({exc}); skipped")
            except Exception as exc:  # noqa: BLE001 - record it, and still measure the other peers
                ctx.log("".join(traceback.format_exception(exc)).rstrip())
                work.fail_rest(peer, exc)
            finally:
                gc.collect()
        ctx.log(f"peers n={n:,}: done in {time.perf_counter() - started:.1f} s")
        ctx.save(out)
    return out


class _Work:
    """One size's data, seeded inputs and records, shared by every peer."""

    def __init__(self, ctx: RunContext, graph: Graph, names: list[str], rng: np.random.Generator,
                 data: np.ndarray, queries: np.ndarray, out: list[dict[str, Any]]) -> None:  # fmt: skip
        self.ctx, self.graph, self.names, self.data, self.queries, self.out = ctx, graph, names, data, queries, out
        n = graph.n
        self.lookup_reps = ctx.reps(1000, 200)
        self.hop_reps = ctx.reps(500, 100)
        slow = min([self.hop_reps] + [reps for size, reps in SLOW_PATH_REPS.items() if n >= size])
        self.path_reps = slow
        self.lookups = rng.integers(0, n, self.lookup_reps + WARMUP).tolist()
        self.seeds = rng.integers(0, n, self.hop_reps + WARMUP).tolist()
        self.pairs = rng.integers(0, n, (self.hop_reps + WARMUP, 2)).tolist()
        self.vector_reps = ctx.reps(100 if n < 1_000_000 else 30, 20)
        self.done: set[str] = set()

    def record(self, op: str, peer: str, stats: Stats, **extra: Any) -> None:
        name = f"{op}_{peer}"
        self.done.add(name)
        if not self.ctx.wanted(name):
            return
        bench = _B[name]
        self.out.append(measurement(bench, graph=self.graph.kind, size=self.graph.n, stats=stats, peer=peer,
                                    operation=op, **extra))  # fmt: skip
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()}
        self.ctx.log(f"  {name}: p50 {stats.p50_ms:.4f} ms, p95 {stats.p95_ms:.4f} ms ({stats.samples}) {shown}")

    def fail_rest(self, peer: str, exc: BaseException) -> None:
        for name, bench in _B.items():
            if (name.endswith("_" + peer) or name.endswith(peer + "_hnsw")) and name not in self.done \
                    and self.ctx.wanted(name):  # fmt: skip
                self.done.add(name)
                self.out.append(failure(bench, graph=self.graph.kind, size=self.graph.n, exc=exc))

    def built(self, build: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
        """``build()``, with the resident memory it added and its time."""
        gc.collect()
        _trim()
        before = rss_bytes()
        with steady_gc():
            value, ns = timed(build)
        gc.collect()
        grown = rss_bytes() - before
        self.ctx.log(f"  built in {ns / 1e9:.1f} s, +{grown / 2**20:.0f} MiB resident")
        return value, {"build_s": ns / 1e9, "resident_bytes": grown,
                       "resident_bytes_per_entity": grown / self.graph.n}  # fmt: skip


def _trim() -> None:
    """Hand freed heap pages back to the OS, so the next RSS growth is the next build's own: without
    it glibc keeps the previous peer's freed arenas and reuses them (measured: rustworkx "grew" 6
    bytes per entity at 100k right after networkx was freed)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the figure is then a lower bound, as the README says


# -- the peers ------------------------------------------------------------------------------


def _dict_peer(w: _Work) -> None:
    g, names = w.graph, w.names
    types = [ENTITY_TYPES[t] for t in g.ent_type.tolist()]

    def build() -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
        records = {names[i]: {"name": names[i], "type": types[i]} for i in range(g.n)}
        adjacency: dict[str, list[str]] = {name: [] for name in names}
        for s, d in zip(g.src.tolist(), g.dst.tolist()):
            adjacency[names[s]].append(names[d])
            adjacency[names[d]].append(names[s])
        return records, adjacency

    (records, adjacency), info = w.built(build)
    keys = [names[i] for i in w.lookups]
    w.record("lookup", "dict", measure(lambda i: records[keys[i]], repeat=w.lookup_reps, warmup=WARMUP), **info)
    seeds = [names[i] for i in w.seeds]
    w.record("k_hop_2", "dict", measure(lambda i: _bfs_depth(adjacency, seeds[i], 2), repeat=w.hop_reps,
                                        warmup=WARMUP), **info)  # fmt: skip
    pairs = [(names[a], names[b]) for a, b in w.pairs]
    w.record("path", "dict", measure(lambda i: _bfs_path(adjacency, *pairs[i]), repeat=w.path_reps, warmup=2),
             **info)


def _bfs_depth(adjacency: dict[str, list[str]], source: str, depth: int) -> dict[str, int]:
    dist = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        d = dist[node]
        if d == depth:
            continue
        for nxt in adjacency[node]:
            if nxt not in dist:
                dist[nxt] = d + 1
                queue.append(nxt)
    return dist


def _bfs_path(adjacency: dict[str, list[str]], source: str, target: str) -> list[str] | None:
    parent: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if node == target:
            path = [node]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for nxt in adjacency[node]:
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def _networkx_peer(w: _Work) -> None:
    import networkx as nx

    g, names = w.graph, w.names
    types = [ENTITY_TYPES[t] for t in g.ent_type.tolist()]

    def build() -> Any:
        graph = nx.Graph()
        graph.add_nodes_from((names[i], {"type": types[i]}) for i in range(g.n))
        graph.add_edges_from((names[s], names[d], {"type": RELATION_TYPES[t]})
                             for s, d, t in zip(g.src.tolist(), g.dst.tolist(), g.rel_type.tolist()))  # fmt: skip
        return graph

    graph, info = w.built(build)
    keys = [names[i] for i in w.lookups]
    w.record("lookup", "networkx", measure(lambda i: graph.nodes[keys[i]], repeat=w.lookup_reps, warmup=WARMUP),
             **info)
    seeds = [names[i] for i in w.seeds]
    w.record("k_hop_2", "networkx", measure(lambda i: nx.single_source_shortest_path_length(graph, seeds[i], cutoff=2),
                                            repeat=w.hop_reps, warmup=WARMUP), **info)  # fmt: skip


def _rustworkx_peer(w: _Work) -> None:
    import rustworkx as rx

    g = w.graph

    def build() -> Any:
        graph = rx.PyGraph(multigraph=False)
        graph.add_nodes_from(range(g.n))
        graph.extend_from_edge_list(list(zip(g.src.tolist(), g.dst.tolist())))
        return graph

    graph, info = w.built(build)

    def two_hops(source: int) -> set[int]:
        first = graph.neighbors(source)
        reached = {source, *first}
        for node in first:
            reached.update(graph.neighbors(node))
        return reached

    w.record("k_hop_2", "rustworkx", measure(lambda i: two_hops(w.seeds[i]), repeat=w.hop_reps, warmup=WARMUP),
             **info)


def _igraph_peer(w: _Work) -> None:
    import igraph as ig

    g, names = w.graph, w.names
    types = [ENTITY_TYPES[t] for t in g.ent_type.tolist()]

    def build() -> Any:
        graph = ig.Graph(n=g.n, edges=np.stack([g.src, g.dst], axis=1), directed=False)
        graph.vs["name"] = names
        graph.vs["type"] = types
        graph.vs.find(name=names[0])  # igraph builds its name index on the first lookup
        return graph

    graph, info = w.built(build)
    keys = [names[i] for i in w.lookups]
    w.record("lookup", "igraph", measure(lambda i: graph.vs.find(name=keys[i]).attributes(), repeat=w.lookup_reps,
                                         warmup=WARMUP), **info)  # fmt: skip
    seeds = [names[i] for i in w.seeds]
    w.record("k_hop_2", "igraph", measure(lambda i: graph.neighborhood(seeds[i], order=2), repeat=w.hop_reps,
                                          warmup=WARMUP), **info)  # fmt: skip


def _kglite_peer(w: _Work) -> None:
    import kglite
    import pandas as pd

    g, names, data = w.graph, w.names, w.data
    types = [ENTITY_TYPES[t] for t in g.ent_type.tolist()]

    def build() -> Any:
        kg = kglite.KnowledgeGraph()
        kg.add_nodes(pd.DataFrame({"key": names, "type": types, "text": types}), "Entity", "key")
        for t, rel in enumerate(RELATION_TYPES):
            mask = g.rel_type == t
            frame = pd.DataFrame({"src": [names[i] for i in g.src[mask].tolist()],
                                  "dst": [names[i] for i in g.dst[mask].tolist()]})  # fmt: skip
            kg.add_connections(frame, rel, "Entity", "src", "Entity", "dst")
        # Vectors in chunks: one dict of a million rows at once would be the
        # benchmark's own cost, not kglite's.
        for start in range(0, g.n, 50_000):
            chunk = {names[i]: data[i] for i in range(start, min(start + 50_000, g.n))}
            (kg.set_embeddings if start == 0 else kg.add_embeddings)("Entity", "text", chunk)
        return kg

    kg, info = w.built(build)
    keys = [names[i] for i in w.lookups]
    w.record("lookup", "kglite", measure(lambda i: kg.node("Entity", keys[i]), repeat=w.lookup_reps,
                                         warmup=WARMUP), **info)  # fmt: skip
    seeds = [names[i] for i in w.seeds]
    w.record("k_hop_2", "kglite", measure(lambda i: kg.shortest_path_lengths_from("Entity", seeds[i], max_hops=2),
                                          repeat=w.hop_reps, warmup=WARMUP), **info)  # fmt: skip
    pairs = [(names[a], names[b]) for a, b in w.pairs]
    w.record("path", "kglite", measure(lambda i: kg.shortest_path_ids("Entity", pairs[i][0], "Entity", pairs[i][1]),
                                       repeat=w.hop_reps, warmup=WARMUP), **info)  # fmt: skip
    truth = [_exact_top(data, q) for q in w.queries[: w.vector_reps + WARMUP]]
    query_lists = [q.tolist() for q in w.queries[: w.vector_reps + WARMUP]]

    def vector_search(label: str, extra: dict[str, Any]) -> None:
        found: list[set[str]] = [set() for _ in query_lists]

        def call(i: int) -> None:
            found[i] = {hit["id"] for hit in kg.node_vector_search("text", query_lists[i], top_k=K, returning=[])}

        stats = measure(call, repeat=w.vector_reps, warmup=WARMUP)
        recall = float(np.mean([len(found[i] & {names[j] for j in truth[i]}) / K
                                for i in range(WARMUP, len(query_lists))]))  # fmt: skip
        w.record("vector", label, stats, recall_at_10=recall, **info, **extra)

    vector_search("kglite", {})
    if g.n <= KGLITE_INDEX_MAX and w.ctx.wanted("vector_kglite_hnsw"):
        _, ns = timed(lambda: kg.build_vector_index("Entity", "text"))
        vector_search("kglite_hnsw", {"index_build_s": ns / 1e9})


def _exact_top(data: np.ndarray, query: np.ndarray) -> list[int]:
    scores = data @ query
    return np.argpartition(-scores, K)[:K].tolist()


def _kuzu_peer(w: _Work) -> None:
    import kuzu
    import pyarrow as pa

    if w.ctx.engine != "kuzu":
        raise ImportError("the raw Kùzu peer runs in the kuzu engine's process")
    g, names = w.graph, w.names
    path = w.ctx.workdir / f"peers-kuzu-{g.n}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    types = [ENTITY_TYPES[t] for t in g.ent_type.tolist()]
    db = kuzu.Database(str(path / "db"), buffer_pool_size=KUZU_BUFFER_POOL)
    conn = kuzu.Connection(db)
    try:
        def execute(query: Any, params: dict[str, Any] | None = None) -> list[list[Any]]:
            # Close every result: one left to the garbage collector after the
            # database closes crashes kuzu 0.11.3 (as in bench_composed).
            result = conn.execute(query, params or {})
            try:
                return result.get_all()
            finally:
                result.close()

        def build() -> None:
            execute("CREATE NODE TABLE E(key STRING PRIMARY KEY, type STRING, text STRING)")
            execute("CREATE REL TABLE R(FROM E TO E, type STRING)")
            nodes = pa.table({"key": names, "type": types, "text": types})
            execute("COPY E FROM $rows", {"rows": nodes})
            rels = pa.table({"from": pa.array([names[i] for i in g.src.tolist()]),
                             "to": pa.array([names[i] for i in g.dst.tolist()]),
                             "type": pa.array([RELATION_TYPES[t] for t in g.rel_type.tolist()])})  # fmt: skip
            execute("COPY R FROM $rows", {"rows": rels})

        _, info = w.built(build)
        lookup = conn.prepare("MATCH (e:E {key: $k}) RETURN e.key, e.type, e.text")
        keys = [names[i] for i in w.lookups]
        w.record("lookup", "kuzu_cypher", measure(lambda i: execute(lookup, {"k": keys[i]}), repeat=w.lookup_reps,
                                                  warmup=WARMUP), **info)  # fmt: skip
        hops = conn.prepare("MATCH (a:E {key: $k})-[:R*1..2]-(b:E) RETURN DISTINCT b.key")
        seeds = [names[i] for i in w.seeds]
        reps = min(w.hop_reps, w.ctx.reps(200, 50))
        w.record("k_hop_2", "kuzu_cypher", measure(lambda i: execute(hops, {"k": seeds[i]}), repeat=reps,
                                                   warmup=WARMUP), **info)  # fmt: skip
    finally:
        conn.close()
        db.close()
        shutil.rmtree(path, ignore_errors=True)


PEER_RUNS: dict[str, Callable[[_Work], None]] = {
    "dict": _dict_peer,
    "networkx": _networkx_peer,
    "rustworkx": _rustworkx_peer,
    "igraph": _igraph_peer,
    "kglite": _kglite_peer,
    "kuzu_cypher": _kuzu_peer,
}

SUITE = Suite(
    name="peers",
    title="Peers on the same data: raw Kùzu Cypher, networkx, rustworkx, igraph, a dict graph, kglite (issue 10)",
    benchmarks=tuple(_B.values()),
    run=run,
    engines=("kuzu",),
)
