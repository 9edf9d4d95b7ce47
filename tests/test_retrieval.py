"""Composed queries against their brute-force definitions (networkx + numpy)."""

from __future__ import annotations

import json
import shutil

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem


def _load(mem, g: nx.Graph | nx.DiGraph, dim: int, seed: int, *, with_vectors=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(g.number_of_nodes(), dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    records = []
    for n in g.nodes():
        record = {"name": f"v{n}", "type": "Even" if n % 2 == 0 else "Odd"}
        if with_vectors is None or with_vectors(n):
            record["embedding"] = x[n]
        records.append(record)
    mem.add_entities(records)
    mem.add_relations([(f"v{a}", "R" if (a + b) % 3 else "S", f"v{b}") for a, b in g.edges()])
    stored = {}
    for n in g.nodes():
        e = mem.get_entity(f"v{n}").embedding
        if e is not None:
            stored[n] = e / np.linalg.norm(e)
    return x, stored


def _check_path(mem, g, hit, anchors):
    path = hit.path
    assert len(path) == hit.hops and path.nodes[-1] == hit.name and int(path.nodes[0][1:]) in anchors
    assert len(path.directions) == len(path)
    for (a, b), rel, way in zip(zip(path.nodes, path.nodes[1:]), path.relations, path.directions):
        ia, ib = int(a[1:]), int(b[1:])
        assert g.has_edge(ia, ib) if way == "out" else g.has_edge(ib, ia)  # the way the stored relation points
        assert rel == ("R" if (ia + ib) % 3 else "S")


@pytest.mark.engine
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    density=st.floats(0.5, 3.0),
    hops=st.one_of(st.none(), st.integers(0, 4)),
    k=st.integers(1, 8),
    n_anchors=st.integers(1, 3),
)
def test_near_search_equals_brute_force(open_store, seed, n, density, hops, k, n_anchors):
    g = nx.gnm_random_graph(n, int(n * density), seed=seed)
    mem = open_store(None)
    try:
        _, stored = _load(mem, g, 12, seed)
        rng = np.random.default_rng(seed + 1)
        anchors = sorted(set(rng.integers(0, n, n_anchors).tolist()))
        q = rng.normal(size=12).astype(np.float32)
        q /= np.linalg.norm(q)
        dist = nx.multi_source_dijkstra_path_length(g, anchors, cutoff=hops)
        expect = sorted(dist, key=lambda i: (-float(stored[i] @ q), i))[:k]
        hits = mem.search(q, k=k, near=[f"v{a}" for a in anchors], max_hops=hops)
        assert [h.name for h in hits] == [f"v{i}" for i in expect]
        for h in hits:
            assert h.hops == dist[int(h.name[1:])]
            assert abs(h.score - float(stored[int(h.name[1:])] @ q)) < 1e-4
            _check_path(mem, g, h, anchors)
        # hybrid: the documented formula, over the same candidates
        hybrid = mem.search(q, k=k, near=[f"v{a}" for a in anchors], max_hops=hops, rank="hybrid", decay=0.7)
        scored = sorted(dist, key=lambda i: (-float(stored[i] @ q) * 0.7 ** dist[i], i))[:k]
        assert [h.name for h in hybrid] == [f"v{i}" for i in scored]
        for h in hybrid:
            i = int(h.name[1:])
            assert abs(h.score - float(stored[i] @ q) * 0.7 ** dist[i]) < 1e-4
    finally:
        mem.close()


def test_near_search_directions_types_and_filters(mem):
    g = nx.DiGraph([(0, 1), (1, 2), (3, 0), (2, 4)])
    _, stored = _load(mem, g, 8, 3)
    q = stored[4]
    out = {h.name: h.hops for h in mem.search(q, k=10, near="v0", direction="out")}
    assert out == {"v0": 0, "v1": 1, "v2": 2, "v4": 3}
    inward = {h.name: h.hops for h in mem.search(q, k=10, near="v0", direction="in")}
    assert inward == {"v0": 0, "v3": 1}
    typed = {h.name for h in mem.search(q, k=10, near="v0", relation_types=["R"])}  # only (0,1) is R
    assert typed == {"v0", "v1"}
    assert {h.name for h in mem.search(q, k=10, near="v0", relation_types=["S"])} == {"v0", "v3"}
    evens = {h.name for h in mem.search(q, k=10, near="v0", types=["Even"])}
    assert evens == {"v0", "v2", "v4"}
    assert mem.search(q, k=10, near="v0", max_hops=0)[0].name == "v0"


@pytest.mark.engine
def test_near_search_sees_each_relation_written_or_deleted_between_searches(mem):
    """The near kernel's packed adjacency is kept for the last view searched:
    every write makes a new view, so the next search must find the relation
    added (through the delta) and lose the one deleted, never the view before."""
    g = nx.DiGraph([(0, 1), (1, 2)])
    _, stored = _load(mem, g, 8, 5)
    mem.add_entities([{"name": "v3", "type": "Odd", "embedding": stored[2]}])
    q = stored[2]
    assert {h.name: h.hops for h in mem.search(q, k=10, near="v0", max_hops=2)} == {"v0": 0, "v1": 1, "v2": 2}
    mem.add_relation("v1", "R", "v3")
    assert {h.name: h.hops for h in mem.search(q, k=10, near="v0", max_hops=2)} == {"v0": 0, "v1": 1, "v2": 2,
                                                                                   "v3": 2}  # fmt: skip
    assert mem.delete_relation("v0", "R", "v1")
    assert {h.name: h.hops for h in mem.search(q, k=10, near="v0", max_hops=2)} == {"v0": 0}
    mem.add_relation("v3", "S", "v0")
    hits = mem.search(q, k=10, near="v0", max_hops=2)
    assert {h.name: h.hops for h in hits} == {"v0": 0, "v3": 1, "v1": 2}
    assert hits[[h.name for h in hits].index("v1")].path.directions == ("in", "in")


def test_entities_without_vectors_are_not_hits_but_still_connect(mem):
    g = nx.path_graph(5)
    _, stored = _load(mem, g, 8, 4, with_vectors=lambda n: n != 2)
    hits = mem.search(stored[4], k=5, near="v0")
    assert [h.name for h in hits][0] == "v4" and "v2" not in {h.name for h in hits}
    assert hits[0].path.nodes == ("v0", "v1", "v2", "v3", "v4")


def test_bad_input(mem):
    mem.add_entities([{"name": "a", "embedding": [1.0, 0.0]}, {"name": "b", "embedding": [0.0, 1.0]}])
    q = np.array([1.0, 0.0])
    with pytest.raises(graphmem.NotFound):
        mem.search(q, near="nobody")
    with pytest.raises(graphmem.NotFound):
        mem.search(q, near=["a", "nobody"])
    for kwargs in ({"max_hops": 2}, {"rank": "hybrid"}, {"near": "a", "rank": "best"}, {"near": "a", "decay": 0},
                   {"near": "a", "decay": 1.5}, {"near": "a", "max_hops": -1}, {"near": []}, {"near": 5},
                   {"near": "a", "direction": "up"}):  # fmt: skip
        with pytest.raises(graphmem.InvalidInput):
            mem.search(q, **kwargs)
    for kwargs in ({"k": 0}, {"hops": -1}, {"max_entities": 0}, {"max_relations": -1}, {"decay": 2}):
        with pytest.raises(graphmem.InvalidInput):
            mem.recall(q, **kwargs)
    with pytest.raises(graphmem.InvalidInput):
        mem.recall(q).to_text(max_chars=0)


def test_recall_respects_budgets_and_is_deterministic(mem):
    g = nx.barabasi_albert_graph(120, 2, seed=5)
    _, stored = _load(mem, g, 16, 5, with_vectors=lambda n: n % 7 != 0)
    q = stored[1]
    r = mem.recall(q, k=5, hops=2, max_entities=12, max_relations=9)
    assert len(r.entities) == 12 and len(r.relations) <= 9 and r.truncated
    assert r.entities[0].name == "v1" and r.entities[0].hops == 0
    scores = [e.score for e in r.entities]
    assert scores == sorted(scores, reverse=True)
    names = {e.name for e in r.entities}
    for s, t, d in r.relations:
        assert s in names and d in names and (g.has_edge(int(s[1:]), int(d[1:])))
    again = mem.recall(q, k=5, hops=2, max_entities=12, max_relations=9)
    assert again == r and again.to_text() == r.to_text()
    json.dumps(r.to_dict())
    text = r.to_text(max_chars=200)
    assert len(text) <= 200 and text.startswith("Entities:\n- v1 [Odd]")
    seeds = {h.name for h in mem.search(q, k=5)}
    assert seeds <= names  # the seeds outrank their neighbours (decay < 1)
    wide = mem.recall(q, k=5, hops=1, max_entities=1000, max_relations=1000)
    expected = set(nx.multi_source_dijkstra_path_length(g, [int(s[1:]) for s in seeds], cutoff=1))
    assert {int(e.name[1:]) for e in wide.entities} == expected and not wide.truncated
    assert {e.name: e.hops for e in wide.entities if e.name in seeds} == {s: 0 for s in seeds}


def test_recall_reads_brief_rows_caches_them_and_sees_every_write(mem):
    """recall reads what it shows with entity_brief (cold text unpacked), caches it,
    and a write, an expiry or a compaction makes it read the entity again."""
    from datetime import timedelta

    long = "Keeps the release notes and the on-call calendar up to date. " * 8
    mem.add_entities([
        {"name": "a", "type": "T", "text": long, "observations": ["first"], "embedding": [1.0, 0.0, 0.0]},
        {"name": "b", "type": "T", "text": "short b", "embedding": [0.9, 0.1, 0.0]},
        {"name": "c", "type": "T", "text": "short c", "embedding": [0.0, 1.0, 0.0]},
    ])  # fmt: skip
    mem.add_relations([("a", "R", "b"), ("b", "R", "c")])
    assert mem.compact(cold_after=timedelta(0)) == 1  # a is packed and dropped from the cache; b, c stay
    trace: list[str] = []
    mem.tracer = lambda name, params: trace.append(name)
    q = np.array([1.0, 0.0, 0.0], np.float32)
    first = mem.recall(q, k=1, hops=2)
    assert [e.name for e in first.entities] == ["a", "b", "c"]
    assert first.entities[0].text == long and first.entities[0].observations == ("first",)
    assert trace.count("entity_brief") == 1 and "entity_get" not in trace  # a, read brief and unpacked
    trace.clear()
    assert mem.recall(q, k=1, hops=2) == first and trace.count("entity_brief") == 0  # cached
    mem.add_entity("b", text="b, rewritten")
    trace.clear()
    again = mem.recall(q, k=1, hops=2)
    assert {e.name: e.text for e in again.entities}["b"] == "b, rewritten"
    assert "entity_brief" not in trace  # the write cached b's new row, and dropped its brief
    mem.expire_entity("c")
    assert [e.name for e in mem.recall(q, k=1, hops=2).entities] == ["a", "b"]
    mem.tracer = None


@given(st.lists(st.text(min_size=1, max_size=3), unique=True, max_size=100))
def test_brief_blocks_read_every_key_once_with_few_unused_slots(keys):
    """Every key is read once, in order, by a block of 32, 16 or 4 or alone; a
    block leaves at most 3 slots unused (each costs a lookup) and holds 2 keys or more."""
    from graphmem.query.retrieval import brief_blocks

    blocks = brief_blocks(keys)
    assert [k for block in blocks for k in block if k] == keys
    for block in blocks:
        used = sum(1 for k in block if k)
        assert len(block) in (32, 16, 4, 1) and block[:used] == [k for k in block if k]
        assert len(block) - used <= 3 and (used >= 2 or len(block) == 1)
    assert sum(len(block) == 1 for block in blocks) <= 1 and len(blocks) <= len(keys) // 13 + 4


def test_recall_reads_many_missing_entities_in_blocks(open_store, tmp_path):
    """Twenty entities not cached: one block of 16 and one of 4, not twenty reads;
    the answer is the one the rows read one by one give (cold text unpacked)."""
    from datetime import timedelta

    # As on a large store, where twenty keys are too few for a join that scans it.
    mem = open_store(tmp_path / "s", config=graphmem.StoreConfig(update_join_threshold=1_000, max_db_size=1 << 30))
    mem.add_entities([{"name": f"n{i}", "type": "T", "text": f"text {i} " * (40 if i % 3 == 0 else 1),
                       "observations": [f"o{i}"], "embedding": [1.0, i / 20, 0.0]} for i in range(20)])  # fmt: skip
    mem.add_relations([(f"n{i}", "R", f"n{i + 1}") for i in range(19)])
    mem.compact(cold_after=timedelta(0))  # long texts packed; the cache is cleared of them
    q = np.array([1.0, 0.0, 0.0], np.float32)
    reference = {e.name: mem.get_entity(e.name) for e in mem.recall(q, k=20, hops=0).entities}
    mem._cache.clear()  # private: the test needs every row read from the store again
    trace: list[str] = []
    mem.tracer = lambda name, params: trace.append(name)
    r = mem.recall(q, k=20, hops=0)
    mem.tracer = None
    assert sorted(n for n in trace if n.startswith("entity_")) == ["entity_brief_four", "entity_brief_sixteen"]
    assert len(r.entities) == 20
    for e in r.entities:
        row = reference[e.name]
        assert (e.type, e.text, e.observations) == (row.type, row.text, tuple(row.observations))


@pytest.mark.engine
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 45),
    density=st.floats(0.3, 3.0),
    k=st.integers(1, 10),
    hops=st.integers(0, 2),
    max_entities=st.integers(1, 50),
    cached=st.floats(0.0, 1.0),
    join=st.booleans(),
)
def test_recall_shows_what_get_entity_reads_whatever_the_cache(open_store, tmp_path_factory, seed, n, density, k,
                                                                hops, max_entities, cached, join):  # fmt: skip
    """recall against an oracle: the seeds are search's top k, every entity it
    shows is within ``hops`` of them at its networkx distance, scored
    ``cosine * 0.5 ** hops`` (the index scores int8 rows: to 0.02), and shows
    the name, type, text and observations get_entity reads (long texts packed
    cold, so unpacked); the relations are the stored ones among the shown
    entities, all of them when the budget allows. The answer is the same
    whatever the entity cache holds (nothing, some full rows, the brief rows
    of the first answer, every full row) and whichever way the rows are read
    (keyed blocks, or the join when ``join`` makes it pay)."""
    from datetime import timedelta

    g = nx.gnm_random_graph(n, int(n * density), seed=seed, directed=True)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    config = graphmem.StoreConfig(update_join_threshold=1 if join else 1_000, max_db_size=1 << 30)
    mem = open_store(tmp_path_factory.mktemp("recall") / "s", config=config)
    mem.add_entities([{"name": f"v{i}", "type": "ABC"[i % 3],
                       "text": f"about v{i} " * (30 if i % 4 == 0 else 1) if i % 5 else None,
                       "observations": [f"o{i}-{j}" for j in range(i % 3)], "embedding": x[i]}
                      for i in range(n)])  # fmt: skip
    mem.add_relations([(f"v{a}", "R" if (a + b) % 3 else "S", f"v{b}") for a, b in g.edges()])
    mem.compact(cold_after=timedelta(0))  # the long texts are packed
    mem._cache.clear()  # private: the test sets what the cache holds
    for i in np.flatnonzero(rng.random(n) < cached).tolist():
        mem.get_entity(f"v{i}")
    q = rng.normal(size=6).astype(np.float32)
    budget = {"k": k, "hops": hops, "max_entities": max_entities, "max_relations": 500}
    got = mem.recall(q, **budget)

    seeds = [h.name for h in mem.search(q, k=k)]
    ball = nx.multi_source_dijkstra_path_length(g.to_undirected(as_view=True), [int(s[1:]) for s in seeds],
                                                cutoff=hops)  # fmt: skip
    names = [e.name for e in got.entities]
    assert len(set(names)) == len(names) == min(max_entities, len(ball))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosine = unit @ (q / np.linalg.norm(q))
    for e in got.entities:
        i = int(e.name[1:])
        assert e.hops == ball[i]
        assert e.score == pytest.approx(float(cosine[i]) * 0.5**e.hops, abs=0.02)
        row = mem.get_entity(e.name)
        assert (e.type, e.text, e.observations) == (row.type, row.text, tuple(row.observations))
    shown = {int(name[1:]) for name in names}
    stored = {(f"v{a}", "R" if (a + b) % 3 else "S", f"v{b}") for a, b in g.edges() if a in shown and b in shown}
    assert set(got.relations) == stored and len(got.relations) == len(stored)
    assert got.truncated == (len(ball) > max_entities)

    assert mem.recall(q, **budget) == got  # the brief rows the first answer cached
    mem._cache.clear()
    assert mem.recall(q, **budget) == got  # every row read again
    for name in names:
        mem.get_entity(name)
    assert mem.recall(q, **budget) == got  # every row a cached full row


def test_recall_with_the_text_model_reads_well(tmp_path):
    with graphmem.open(tmp_path / "s") as mem:
        mem.add_entities([
            {"name": "Ada", "type": "Person", "text": "Builds data pipelines in Rust"},
            {"name": "Acme", "type": "Company", "text": "A logistics company"},
            {"name": "Rust", "type": "Technology", "text": "A systems programming language"},
            {"name": "Bo", "type": "Person", "text": "Paints watercolours of birds"},
        ])  # fmt: skip
        mem.add_relations([("Ada", "WORKS_AT", "Acme"), ("Ada", "USES", "Rust"), ("Bo", "KNOWS", "Ada")])
        r = mem.recall("data pipeline engineer", k=1, hops=1)
        assert r.entities[0].name == "Ada" and {e.name for e in r.entities} == {"Ada", "Acme", "Rust", "Bo"}
        assert "Ada -WORKS_AT-> Acme" in r.to_text()


def test_paths_between_explains(mem):
    mem.add_entities([{"name": n, "text": f"about {n}"} for n in "abcde"])
    mem.add_relations([("a", "R", "b"), ("a", "R", "c"), ("b", "S", "d"), ("c", "S", "d"), ("d", "T", "e")])
    paths = mem.paths_between("a", "e")
    assert [p.path.nodes for p in paths] == [("a", "b", "d", "e"), ("a", "c", "d", "e")]
    assert [e.text for e in paths[0].entities] == ["about a", "about b", "about d", "about e"]
    assert paths[0].to_text().splitlines()[1] == "  -R- b [Entity]: about b"
    assert mem.paths_between("a", "e", limit=1)[0].path.nodes == ("a", "b", "d", "e")
    assert mem.paths_between("e", "a", direction="out") == []
    with pytest.raises(graphmem.NotFound):
        mem.paths_between("a", "zzz")


@pytest.mark.engine
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 40),
    density=st.floats(0.5, 3.0),
    hops=st.one_of(st.none(), st.integers(0, 3)),
    k=st.integers(1, 12),
    n_anchors=st.integers(1, 3),
    pool=st.integers(1, 4),
    direction=st.sampled_from(["both", "out", "in"]),
    relation_types=st.sampled_from([None, ("R",), ("S",), ("R", "S"), ("X",)]),
    types=st.sampled_from([None, ("Even",)]),
    later=st.booleans(),
    reopen=st.sampled_from([None, "saved", "saved+new", "rebuilt", "rebuilt+new"]),
)
def test_near_search_fast_path_equals_the_general_path_and_brute_force(
        open_store, monkeypatch, tmp_path_factory, seed, n, density, hops, k, n_anchors, pool, direction,
        relation_types, types, later, reopen):  # fmt: skip
    """The one-call near search (graphmem.algorithms.near) answers exactly what
    the general path answers (forced here by allowing it no k), hit for hit:
    names, score bits, hops, paths with their relations and directions; and
    both answer the definition: networkx's ball over the relations valid then,
    numpy's scores, ties (entities sharing a vector) to the older entity.
    ``reopen``: the store is closed and opened again, so the kernel names the
    hits from the saved keys ("saved+new": with the last entities, and their
    relations, written after the open, which the saved keys do not hold);
    "rebuilt": the saved graph state removed first, so the open rebuilds it
    from the store and the kernel names the hits from the key column it read
    (the id map then holds dictionaries)."""
    from datetime import datetime, timedelta, timezone

    from graphmem.index import saved
    from graphmem.query import retrieval

    g = nx.gnm_random_graph(n, int(n * density), seed=seed, directed=True)
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(pool, 10)).astype(np.float32)
    pick = rng.integers(0, pool, n)
    now = datetime.now(timezone.utc)
    expiring = {(a, b) for a, b in g.edges() if (a * b) % 4 == 1}
    path = None if reopen is None else tmp_path_factory.mktemp("near") / "store"
    mem = open_store(path)
    entities = [{"name": f"v{i}", "type": "Even" if i % 2 == 0 else "Odd",
                 **({"embedding": vectors[pick[i]]} if i % 5 != 3 else {})} for i in range(n)]  # fmt: skip
    relations = [{"source": f"v{a}", "type": "R" if (a + b) % 3 else "S", "target": f"v{b}",
                  **({"valid_to": now + timedelta(days=1)} if (a, b) in expiring else {})}
                 for a, b in g.edges()]  # fmt: skip
    new = n - n // 3 if reopen is not None and reopen.endswith("+new") else n  # entities from here on are written after the reopen
    try:
        mem.add_entities(entities[:new])
        mem.add_relations([r for r in relations if max(int(r["source"][1:]), int(r["target"][1:])) < new])
        if reopen is not None:
            mem.close()
            if reopen.startswith("rebuilt"):
                shutil.rmtree(path / saved.FOLDER)
            mem = open_store(path)
            assert mem._graph(None, None)[0].ids.saved_arrays() is not None  # the saved or rebuilt keys are read
            mem.add_entities(entities[new:])
            mem.add_relations([r for r in relations if max(int(r["source"][1:]), int(r["target"][1:])) >= new])
        stored = {i: e / np.linalg.norm(e) for i in range(n) if (e := mem.get_entity(f"v{i}").embedding) is not None}
        anchors = [f"v{a}" for a in rng.integers(0, n, n_anchors).tolist()]  # duplicates allowed
        q = rng.normal(size=10).astype(np.float32)
        as_of = now + timedelta(days=2) if later else None
        options = dict(near=anchors, max_hops=hops, direction=direction, relation_types=relation_types, types=types,
                       as_of=as_of)  # fmt: skip
        fast = mem.search(q, k=k, **options)
        with monkeypatch.context() as patch:
            patch.setattr(retrieval, "MAX_K", 0)
            general = mem.search(q, k=k, **options)
        assert fast == general
        assert [(h.score, h.hops, h.path.directions) for h in fast] == [
            (h.score, h.hops, h.path.directions) for h in general]

        oracle = nx.DiGraph()
        oracle.add_nodes_from(range(n))
        for a, b in g.edges():
            kind = "R" if (a + b) % 3 else "S"
            if (relation_types is None or kind in relation_types) and not (later and (a, b) in expiring):
                oracle.add_edge(*((b, a) if direction == "in" else (a, b)))
        if direction == "both":
            oracle = oracle.to_undirected()
        dist = nx.multi_source_dijkstra_path_length(oracle, {int(a[1:]) for a in anchors}, cutoff=hops)
        unit = q / np.linalg.norm(q)
        ball = [i for i in dist if i in stored and (types is None or i % 2 == 0)]
        score = {i: float(stored[i] @ unit) for i in ball}
        expect = sorted(ball, key=lambda i: (-round(score[i], 5), i))[:k]
        assert [h.name for h in fast] == [f"v{i}" for i in expect]
        for h in fast:
            i = int(h.name[1:])
            assert h.hops == dist[i] and abs(h.score - score[i]) < 1e-4
            assert len(h.path) == h.hops and h.path.nodes[0] in anchors and h.path.nodes[-1] == h.name
    finally:
        mem.close()


def test_hits_built_through_their_slots_equal_hits_built_as_usual():
    """The near search builds its hits without the dataclass __init__: the
    fields it sets must be every field, in order, and the objects equal."""
    from dataclasses import fields

    from graphmem.query.retrieval import _build_hits
    from graphmem.types import Hit, Path

    assert [f.name for f in fields(Hit)] == ["name", "score", "hops", "path"]
    assert [f.name for f in fields(Path)] == ["nodes", "relations", "directions"]
    made, keys = _build_hits(("a", "b", "c", "d"), ("-", "R", "S", "-"), ("-", "out", "in", "-"), [0, 3, 3, 4],
                             [0.5, 0.4, 0.2], "ns")  # the empty run [3, 3) is no hit
    usual = [Hit("c", 0.5, 2, Path(("a", "b", "c"), ("R", "S"), ("out", "in"))), Hit("d", 0.2, 0, Path(("d",), ()))]
    assert keys == ["ns\x1fc", "ns\x1fd"] and all(type(h) is Hit and type(h.path) is Path for h in made)
    assert made == usual and repr(made) == repr(usual) and [h.path.directions for h in made] == [("out", "in"), ()]
    assert [hash(h) for h in made] == [hash(h) for h in usual]



_OPTION_VALUES = {
    "k": (1, 10, 33, 0, -1, 2.5, True, "3", np.int64(5)),
    "types": (None, "T", [], ["T", "bad type"]),
    "near": ("ada", "", " ", "a\x00b", "x" * 5000, ["ada"], None, 3, np.str_("ada")),
    "max_hops": (None, 0, 2, -1, True, 2.0, np.int64(2)),
    "direction": ("both", "out", "in", "up", None, np.str_("out")),
    "relation_types": (None, "R", "not a type"),
    "rank": ("similarity", "hybrid", "best", None),
    "decay": (0.5, 1.0, 0.0, 1.5, float("nan"), 1, True, "0.5", np.float64(0.5)),
}


def test_the_near_fast_lane_parses_as_search_request():
    """``search``'s quick check of the common near options either passes them
    on exactly as :func:`search_request` parses them, raises exactly its
    error, or leaves them to it: every value above, alone and in pairs, over
    the common case."""
    from itertools import combinations, product

    from graphmem.inputs import SearchRequest, search_request
    from graphmem.query.search import plain_near

    def outcome(parse):
        try:
            return parse(), None
        except graphmem.InvalidInput as exc:
            return None, str(exc)

    base = {name: values[0] for name, values in _OPTION_VALUES.items()}
    cases = [base]
    for one, two in combinations(_OPTION_VALUES, 2):
        cases += [{**base, one: a, two: b} for a, b in product(_OPTION_VALUES[one], _OPTION_VALUES[two])]
    passed = raised = 0
    for options in cases:
        expected, expected_error = outcome(lambda: search_request(**options))
        names, error = outcome(lambda: plain_near(*options.values()))
        if error is not None:
            assert error == expected_error, options
            raised += 1
        elif names is not None:
            assert expected_error is None, options
            quick = SearchRequest(options["k"], None, names, options["max_hops"], options["direction"], None,
                                  options["rank"], options["decay"])  # fmt: skip
            assert quick == expected and [type(v) for v in quick] == [type(v) for v in expected], options
            passed += 1
    assert passed > 100 and raised > 10  # the lane is taken, and raises, in many of the cases
