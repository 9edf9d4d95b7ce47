"""The headline sections of RESULTS.md: operations vs targets, peers as ratios, bytes per memory, cluster.

Everything here reads the JSON records only (no suite code, no engine), and
picks each figure by (suite, engine, benchmark, graph, size). Where the ops
suite has no figure at a size (its 1M run is long), the same call measured by
an earlier suite fills the cell, marked so the reader knows where it came
from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .suite import check_budget, describe_budget, human_count

__all__ = ["Index", "OPS", "GROWTH", "PEER_ROWS", "LUKHAS_TARGETS", "render_summary", "load_cluster"]

GRAPH = "random"
"""The shape the ops and peers suites use (the first of ``--graphs``, random by default)."""
ENGINES = ("kuzu", "ladybug")
_SUITE_GRAPH = {"vectors": "clustered"}
"""Suites whose data is not a graph shape: the vectors suite stores clustered vectors only."""
LUKHAS_TARGETS = (100_000, 25_000, 5_000)
"""Bytes per memory in LUKHAS's memory optimisation roadmap (100 KB, 25 KB, 5 KB)."""

OPS = {
    # op: (label, fallback (suite, benchmark) measuring the same call in an earlier issue's suite)
    "store_single": ("store (single)", ("core", "store_single_vec")),
    "retrieve_by_key": ("retrieve by key", ("core", "get_cold")),
    "semantic_search": ("semantic search", ("vectors", "search_vec")),
    "graph_traversal": ("graph traversal (2 hops)", ("paths", "k_hop_2")),
    "batch_store_100": ("batch store (100)", ("core", "batch100_entities_vec")),
    "memory_scan_10k": ("memory scan (10k)", ("core", "scan_10k_iter")),
}
GROWTH = {
    "retrieve_by_key": ("lookup", ("core", "get_cold")),
    "shortest_path": ("path", ("paths", "path_uncached")),
    "semantic_search": ("search", ("vectors", "search_vec")),
    "hybrid_search": ("hybrid search", ("composed", "near_2")),
}

PEER_ROWS = (
    # (operation label, peer label, (suite, benchmark) of the peer, (suite, benchmark) of graphmem's figure)
    ("lookup by name", "raw Kùzu Cypher", ("peers", "lookup_kuzu_cypher"), ("ops", "retrieve_by_key")),
    ("lookup by name", "networkx", ("peers", "lookup_networkx"), ("ops", "retrieve_by_key")),
    ("lookup by name", "igraph", ("peers", "lookup_igraph"), ("ops", "retrieve_by_key")),
    ("lookup by name", "dict graph", ("peers", "lookup_dict"), ("ops", "retrieve_by_key")),
    ("lookup by name", "kglite", ("peers", "lookup_kglite"), ("ops", "retrieve_by_key")),
    ("k-hop (2)", "raw Kùzu Cypher", ("peers", "k_hop_2_kuzu_cypher"), ("ops", "graph_traversal")),
    ("k-hop (2)", "networkx", ("peers", "k_hop_2_networkx"), ("ops", "graph_traversal")),
    ("k-hop (2)", "rustworkx", ("peers", "k_hop_2_rustworkx"), ("ops", "graph_traversal")),
    ("k-hop (2)", "igraph", ("peers", "k_hop_2_igraph"), ("ops", "graph_traversal")),
    ("k-hop (2)", "dict graph", ("peers", "k_hop_2_dict"), ("ops", "graph_traversal")),
    ("k-hop (2)", "kglite", ("peers", "k_hop_2_kglite"), ("ops", "graph_traversal")),
    ("shortest path", "raw Kùzu Cypher `[* SHORTEST]`", ("paths", "path_kuzu_cypher"), ("paths", "path_uncached")),
    ("shortest path", "networkx", ("paths", "path_networkx"), ("paths", "path_uncached")),
    ("shortest path", "rustworkx", ("paths", "path_rustworkx"), ("paths", "path_uncached")),
    ("shortest path", "igraph", ("paths", "path_igraph"), ("paths", "path_uncached")),
    ("shortest path", "dict graph (BFS)", ("peers", "path_dict"), ("ops", "shortest_path")),
    ("shortest path", "kglite", ("peers", "path_kglite"), ("ops", "shortest_path")),
    ("vector top-10", "numpy brute force", ("vectors", "numpy_brute"), ("vectors", "search_vec")),
    ("vector top-10", "Kùzu vector index", ("vectors", "kuzu_index_query"), ("vectors", "search_vec")),
    ("vector top-10", "kglite (exact, its default)", ("peers", "vector_kglite"), ("ops", "semantic_search")),
    ("vector top-10", "kglite (HNSW)", ("peers", "vector_kglite_hnsw"), ("ops", "semantic_search")),
    ("hybrid (similar within 2 hops)", "numpy + networkx, every vector scored first",
     ("composed", "near_2_numpy_networkx"), ("composed", "near_2")),
    ("hybrid (similar within 2 hops)", "numpy + networkx, 2-hop ball first (ids only)",
     ("composed", "near_2_numpy_networkx_ball"), ("composed", "near_2")),
    ("hybrid (similar within 2 hops)", "numpy + networkx, 2-hop ball with paths first",
     ("composed", "near_2_numpy_networkx_ball_paths"), ("composed", "near_2")),
    ("hybrid (similar within 2 hops)", "Kùzu Cypher, vector index first", ("composed", "near_2_kuzu_vector_varlen"),
     ("composed", "near_2")),
    ("hybrid (similar within 2 hops)", "Kùzu Cypher, traversal first", ("composed", "near_2_kuzu_varlen_exact"),
     ("composed", "near_2")),
)  # fmt: skip
RATIO_ENGINE = "kuzu"
"""Ratios divide by graphmem on its default engine (the peers run in that engine's process)."""


class Index:
    """Every measurement, by (suite, engine, benchmark, graph, size), with each suite's benchmark info."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.results = results
        self.meas: dict[tuple[str, str, str, str, int], dict[str, Any]] = {}
        self.info: dict[tuple[str, str], dict[str, Any]] = {}
        for r in results:
            for name, info in r.get("benchmarks", {}).items():
                self.info.setdefault((r["suite"], name), info)
            for m in r["measurements"]:
                self.meas[(r["suite"], r["engine"], m["benchmark"], m["graph"], m["size"])] = m

    def get(self, suite: str, engine: str, bench: str, size: int, graph: str = GRAPH) -> dict[str, Any] | None:
        m = self.meas.get((suite, engine, bench, _SUITE_GRAPH.get(suite, graph), size))
        return None if m is None or "error" in m else m

    def sizes(self, suite: str, engines: tuple[str, ...] = ENGINES) -> list[int]:
        graph = _SUITE_GRAPH.get(suite, GRAPH)
        return sorted({k[4] for k in self.meas if k[0] == suite and k[1] in engines and k[3] == graph})

    def op(self, op: str, engine: str, size: int, table: dict[str, tuple[str, tuple[str, str]]] = OPS
           ) -> tuple[dict[str, Any] | None, str | None]:  # fmt: skip
        """The ops suite's figure, else the earlier suite's (with that suite's name)."""
        m = self.get("ops", engine, op, size)
        if m is not None:
            return m, None
        suite, bench = table[op][1]
        m = self.get(suite, engine, bench, size)
        return (m, f"{suite}.{bench}") if m is not None else (None, None)


# Measured by benchmarks/rustworkx_calls.py; says why rustworkx's path call is the fair one.
RUSTWORKX_NOTE = (
    'rustworkx has no point-to-point BFS; its shortest path is timed with `dijkstra_shortest_paths(g, a, '
    'target=b)`, its fastest call that returns a path. `python -m benchmarks.rustworkx_calls --sizes '
    '10000,100000,1000000 --pairs 20` times the alternatives on the same seeded graph (1M, p50): that '
    'call 1,265 ms, `all_shortest_paths` 1,845 ms, the length-only '
    '`dijkstra_shortest_path_lengths(goal=b)` 1,061 ms, a full `bfs_layers` 1,557 ms; so the ratio is not'
    ' a handicap of the API chosen.'
)


def format_ms(value: float | None) -> str:
    """
    >>> format_ms(0.01234), format_ms(1.5), format_ms(123.4), format_ms(2345.6), format_ms(None)
    ('0.0123', '1.50', '123', '2,346', '—')
    """
    if value is None:
        return "—"
    if value < 0.1:
        return f"{value:.4f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.0f}"
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    """
    >>> _ratio(123.4), _ratio(2.345), _ratio(0.0123)
    ('123×', '2.3×', '0.012×')
    """
    if value >= 100:
        return f"{value:,.0f}×"
    if value >= 1:
        return f"{value:.2g}×" if value < 10 else f"{value:.0f}×"
    return f"{value:.2g}×"


def _bytes(value: float) -> str:
    """
    >>> _bytes(512), _bytes(2048), _bytes(3.5 * 2**20)
    ('512 B', '2.0 KiB', '3.5 MiB')
    """
    for factor, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value:.0f} B"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _samples(m: dict[str, Any]) -> str:
    warm = m.get("warmup")
    return f"{m['samples']}" + (f"+{warm}w" if warm else "")


def render_summary(results: list[dict[str, Any]], cluster: list[dict[str, Any]], plots: list[str]) -> list[str]:
    """The sections that come first in RESULTS.md; ``plots`` are paths relative to RESULTS.md."""
    idx = Index(results)
    lines: list[str] = []
    lines += _method(idx)
    lines += _ops_table(idx)
    lines += _peers_table(idx)
    lines += _bytes_table(idx)
    if cluster:
        lines += _cluster_section(idx, cluster)
    if plots:
        lines += ["## Growth plots", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in plots]
        lines.append("")
    return lines


def _method(idx: Index) -> list[str]:
    first = next((r for r in idx.results if r["suite"] in ("ops", "peers")), idx.results[0] if idx.results else None)
    if first is None:
        return []
    m = first["machine"]
    pkgs = {k: v for k, v in (m.get("packages") or {}).items() if v}
    return [
        "## How these figures were measured",
        "",
        f"- Machine: {m.get('cpus_usable')} CPUs ({m.get('cpu_model')}), {m.get('memory_gib')} GiB RAM, "
        f"{m.get('platform')}, Python {m.get('python')}; " + ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items()))
        + ". The machine is shared: each suite below lists the load average before and after its run.",
        "- Each latency is `time.perf_counter_ns()` around one call of the code under test (arguments built "
        "outside), after untimed warm-up calls; the garbage collector runs and freezes existing objects before "
        "each timed loop. Cells give the median (p50) and the 95th percentile (p95) of the timed calls, in "
        "milliseconds; `n+Ww` is the number of timed calls and warm-up calls. Data: seeded synthetic graphs "
        "(5 relations per entity, Erdős–Rényi `random` shape, seed 42) and seeded clustered 384-d vectors; "
        "every peer gets the same graph and vectors.",
        "- A ratio is the peer's p50 divided by graphmem's p50 on the same data (graphmem on kuzu, its default "
        "engine): above 1 graphmem is faster, below 1 the **peer wins** (listed under the table). Figures from "
        "the paths, vectors and composed suites are ratios within one process; the others divide by the ops "
        "suite's figure from the same run.",
        "",
    ]


def _ops_table(idx: Index) -> list[str]:
    sizes = sorted(set(idx.sizes("ops")) | set(idx.sizes("core")))
    if not sizes:
        return []
    lines = [
        "## Agent-memory operations",
        "",
        "graphmem through its public API on a store of N memories (entity + 384-d embedding + 5 relations each, "
        "on disk, reopened with its saved vector index), next to the targets AgentiCraft's memory performance "
        "guide publishes and the budgets of this project's earlier issues (the same call, same budget). "
        "`target`/`budget` columns: `pass` when the p50 is within it, **FAIL** when not, `·` when the budget "
        "does not apply at that size. A figure marked † comes from the earlier suite named in the note (the ops "
        "suite was not run at that size); those stores hold no embeddings on the bulk-loaded entities "
        "(core) or no relations (vectors).",
        "",
    ]
    head = ["operation", "N"]
    for e in ENGINES:
        head += [f"{e} p50", f"{e} p95", f"{e} n"]
    head += ["AgentiCraft target", "our budget", "vs target", "vs budget"]
    lines += [_row(head), _row(["---"] * len(head))]
    notes: set[str] = set()
    raised: set[str] = set()
    for op, (label, _) in OPS.items():
        info = idx.info.get(("ops", op), {})
        reference = (info.get("reference") or {}).get("limit")
        budget = info.get("budget")
        for size in sizes:
            cells = [label, human_count(size)]
            target_marks, budget_marks = [], []
            found = False
            for e in ENGINES:
                m, source = idx.op(op, e, size)
                if m is None:
                    cells += ["—", "—", "—"]
                    continue
                found = True
                mark = "†" if source else ""
                if source:
                    notes.add(source)
                    if "error" in idx.meas.get(("ops", e, op, GRAPH, size), {}):
                        mark = "‡"
                        raised.add(f"{label} on {e} at {human_count(size)}")
                cells += [format_ms(m["p50_ms"]) + mark, format_ms(m["p95_ms"]) + mark, _samples(m)]
                if reference is not None:
                    target_marks.append(f"{e[0]}:{'pass' if m['p50_ms'] < reference else '**FAIL**'}")
                ok = check_budget(budget, m) if budget else None
                budget_marks.append(f"{e[0]}:{ {True: 'pass', False: '**FAIL**', None: '·'}[ok] }")
            if not found:
                continue
            cells += [f"< {reference:g} ms" if reference is not None else "—",
                      describe_budget(budget) if budget else "—",
                      " ".join(target_marks) or "—", " ".join(budget_marks) or "—"]  # fmt: skip
            lines.append(_row(cells))
    lines.append("")
    if notes:
        lines.append("† taken from " + ", ".join(f"`{n}`" for n in sorted(notes)) + " (see that suite's section "
                     "below for what it measures); `k:`/`l:` = kuzu/ladybug.")
        lines.append("")
    if raised:
        lines.append("‡ the ops suite's call **raised an error** here (" + "; ".join(sorted(raised)) + "; the "
                     "message is under Errors in the ops suite's section): the figure is the earlier suite's.")
        lines.append("")
    return lines


def peer_cells(idx: Index, size: int) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None, float | None]]:
    """Each peer row's (operation, peer, peer figure, graphmem figure, ratio) at ``size``."""
    out = []
    for op, peer, (ps, pb), (gs, gb) in PEER_ROWS:
        m = idx.get(ps, RATIO_ENGINE, pb, size) or idx.get(ps, "ladybug", pb, size)
        if m is None:
            continue
        g = idx.get(gs, RATIO_ENGINE, gb, size)
        if g is None and gs == "ops":
            # No ops figure at this size (its 1M run is long): the earlier suite's, for the same call.
            g, _ = idx.op(gb, RATIO_ENGINE, size, {**OPS, **GROWTH})
            if g is not None:
                g = {**g, "borrowed": True}
        ratio = m["p50_ms"] / g["p50_ms"] if g is not None and g["p50_ms"] > 0 else None
        out.append((op, peer, m, g, ratio))
    return out


def _peers_table(idx: Index) -> list[str]:
    suites = {s for _, _, (s, _), _ in PEER_ROWS}
    sizes = sorted({k[4] for k in idx.meas if k[0] in suites and k[3] == _SUITE_GRAPH.get(k[0], GRAPH)})
    rows: dict[tuple[str, str], dict[int, str]] = {}
    wins: list[str] = []
    for size in sizes:
        for op, peer, m, g, ratio in peer_cells(idx, size):
            text = f"{format_ms(m['p50_ms'])}"
            if ratio is not None:
                text += f" ({_ratio(ratio)}{'†' if g.get('borrowed') else ''})"
                if ratio < 1:
                    text = f"**{text}**"
                    wins.append(f"{peer}, {op}, {human_count(size)}: {format_ms(m['p50_ms'])} ms against graphmem's "
                                f"{format_ms(g['p50_ms'])} ms ({_ratio(1 / ratio)} faster)")  # fmt: skip
            recall = (m.get("extra") or {}).get("recall_at_10")
            if recall is not None:
                text += f" r={recall:.2f}"
            rows.setdefault((op, peer), {})[size] = text
    if not rows:
        return []
    used = sorted({s for cells in rows.values() for s in cells})
    lines = [
        "## Peers side by side",
        "",
        "p50 in ms of each peer, and in brackets its ratio to graphmem (peer p50 / graphmem p50, same data, same "
        "run; **bold**: the peer is faster). `r=` is recall@10 against exact search where the answer is "
        "approximate. graphmem's own figures are in the *italic* rows, each above the peers it divides: the "
        "paths, vectors and composed suites time graphmem and the peer in one process on one store; the ops "
        "suite's graphmem figures divide the peers suite's; † where the ops suite has no figure at that size, "
        "the ratio divides by graphmem's figure for the same call from the core, paths or vectors suite "
        "(same seeded graph and vectors, another process). `—`: not measured at that size (the README says "
        "why: e.g. Kùzu's vector index is built up to 100k only, at a few hundred vectors/s).",
        "",
        _row(["operation", "peer"] + [human_count(s) for s in used]),
        _row(["---"] * (2 + len(used))),
    ]
    shown: set[tuple[str, str, str]] = set()
    for op, peer, _, (gs, gb) in PEER_ROWS:
        if (op, peer) not in rows:
            continue
        if (op, gs, gb) not in shown:
            # graphmem's figure the next rows divide by, and which suite measured it
            shown.add((op, gs, gb))
            own = [idx.get(gs, RATIO_ENGINE, gb, s) or (idx.op(gb, RATIO_ENGINE, s, {**OPS, **GROWTH})[0]
                                                        if gs == "ops" else None) for s in used]  # fmt: skip
            lines.append(_row([op, f"*graphmem ({RATIO_ENGINE}), {gs} suite `{gb}`*"]
                              + [(format_ms(g["p50_ms"]) + ("" if g.get("benchmark") == gb else "†")) if g else "—"
                                 for g in own]))  # fmt: skip
        lines.append(_row([op, peer] + [rows[(op, peer)].get(s, "—") for s in used]))
    lines.append("")
    if any(peer == "rustworkx" for _, peer in rows):
        lines += [RUSTWORKX_NOTE, ""]
    if wins:
        lines += ["**Where a peer wins** (it is faster than graphmem at that call):", ""]
        lines += [f"- {w}" for w in wins]
        lines.append("")
        lines.append("In-process structures (a dict, networkx, igraph, kglite) answer a lookup from memory "
                     "with no database or transaction in the way; graphmem reads the entity from the embedded "
                     "database (durable, larger than RAM) and returns it with its embedding.")
        lines.append("")
    return lines


def _bytes_table(idx: Index) -> list[str]:
    rows = []
    for e in ENGINES:
        for size in idx.sizes("ops", (e,)):
            m = idx.get("ops", e, "bytes_per_memory", size)
            if m is not None:
                rows.append((e, size, m["extra"]))
    peers = []
    for r in idx.results:
        if r["suite"] != "peers":
            continue
        seen: set[tuple[str, int]] = set()
        for m in r["measurements"]:
            x = m.get("extra") or {}
            key = (x.get("peer"), m["size"])
            if "error" in m or x.get("resident_bytes_per_entity") is None or key in seen or \
                    m["benchmark"].endswith("_hnsw"):
                continue
            seen.add(key)
            peers.append((x["peer"], m["size"], x["resident_bytes_per_entity"]))
    if not rows and not peers:
        return []
    lines = [
        "## Bytes per memory",
        "",
        "One memory = an entity (name, type, 8-word text, 3 properties) + 5 relations + a 384-d embedding. "
        "Disk: allocated blocks of the store folder (closed, vector index saved). Resident: growth of the "
        "resident set of a fresh process from before `graphmem.open` to after one lookup, search, hybrid "
        "search and 2-hop traversal (measured, not estimated); *marginal* leaves out what a one-memory store "
        "already costs (engine, compiled kernels). Targets: LUKHAS's memory optimisation roadmap "
        "(100 KB, 25 KB, 5 KB per memory).",
        "",
        _row(["engine", "N", "disk / memory", "resident / memory", "marginal resident / memory",
              "≤ 100 KB", "≤ 25 KB", "≤ 5 KB"]),
        _row(["---"] * 8),
    ]  # fmt: skip
    for e, size, x in rows:
        worst = max(x["disk_bytes_per_memory"], x["resident_bytes_per_memory"])
        marks = ["pass" if worst <= t else "**FAIL**" for t in LUKHAS_TARGETS]
        marginal = x.get("resident_marginal_bytes_per_memory")
        lines.append(_row([e, human_count(size), _bytes(x["disk_bytes_per_memory"]),
                           _bytes(x["resident_bytes_per_memory"]),
                           _bytes(marginal) if marginal is not None else "—", *marks]))  # fmt: skip
    lines += ["", "A target passes when both disk and resident bytes per memory are within it.", ""]
    if peers:
        lines += ["The peers, for comparison: resident growth of the benchmark process per entity while "
                  "building each one's structure (RSS after minus before, freed heap returned to the OS first; "
                  "approximate). They hold less than a memory: names, types and relations (kglite also the "
                  "float32 vectors); the in-process ones keep nothing on disk, raw Kùzu's figure is its buffer "
                  "pool and caches after loading:", ""]
        lines.append(", ".join(f"{p} {human_count(s)}: {_bytes(b)}" for p, s, b in sorted(peers)) + ".")
        lines.append("")
    return lines


# -- the cluster column (issue 12) ----------------------------------------------------------


def load_cluster(out_dir: Path) -> list[dict[str, Any]]:
    """Every ``cluster*.json`` in ``out_dir``, whatever its shape, with its file name."""
    found = []
    for path in sorted(Path(out_dir).glob("cluster*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            data = {"error": f"unreadable: {exc}"}
        found.append({"file": path.name, "data": data})
    return found


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves of a JSON value with dotted keys.

    >>> _flatten({"a": {"b": 1, "c": [2, "x"]}, "d": None})
    [('a.b', 1), ('a.c.0', 2), ('a.c.1', 'x')]
    """
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return [kv for i, v in enumerate(value) for kv in _flatten(v, f"{prefix}{i}.")]
    if value is None:
        return []
    return [(prefix[:-1], value)]


_SKIP = ("machine.", "command", "date", "git", "benchmarks.", "load_average", "datasets.")


def _cluster_section(idx: Index, cluster: list[dict[str, Any]]) -> list[str]:
    lines = ["## Cluster beside embedded", "",
             "The cluster backend's results (`results/cluster*.json`, issue 12) as recorded, then the embedded "
             "store's equivalent figures from the ops suite.", ""]  # fmt: skip
    for entry in cluster:
        data = entry["data"]
        lines += [f"### `{entry['file']}`", ""]
        if isinstance(data, dict) and isinstance(data.get("measurements"), list):
            lines += [_row(["benchmark", "size", "p50 ms", "p95 ms", "p99 ms", "other figures"]),
                      _row(["---"] * 6)]  # fmt: skip
            for m in data["measurements"]:
                extra = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in _flatten(m.get("extra") or {}))  # fmt: skip
                if "error" in m:
                    extra = f"error: {m['error']}"
                lines.append(_row([str(m.get("benchmark")), human_count(m["size"]) if m.get("size") else "—",
                                   format_ms(m.get("p50_ms")), format_ms(m.get("p95_ms")), format_ms(m.get("p99_ms")),
                                   extra or "—"]))  # fmt: skip
        else:
            lines += [_row(["figure", "value"]), _row(["---"] * 2)]
            for key, value in _flatten(data):
                if not key.startswith(_SKIP):
                    lines.append(_row([key, f"{value:.4g}" if isinstance(value, float) else str(value)]))
        lines.append("")
    lines += [_row(["embedded (ops suite)", "engine", "N", "p50 ms", "p99 ms"]), _row(["---"] * 5)]
    for op, label in (("retrieve_by_key", "read (retrieve by key)"), ("store_single", "write (store single)")):
        for e in ENGINES:
            for size in idx.sizes("ops", (e,)):
                m = idx.get("ops", e, op, size)
                if m is not None:
                    lines.append(_row([label, e, human_count(size), format_ms(m["p50_ms"]),
                                       format_ms(m.get("p99_ms"))]))
    for e in ENGINES:
        m = idx.get("ops", e, "bytes_per_memory", 10_000)
        if m is not None:
            lines.append(_row(["resident bytes per 10k memories", e, "10k", _bytes(m["extra"]["resident_bytes"]),
                               "—"]))  # fmt: skip
    lines += ["", "Failover time does not apply to the embedded store (one process, no replica).", ""]
    return lines
