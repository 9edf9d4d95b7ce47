"""Path queries through the public API, against networkx, under interleaved writes."""

from __future__ import annotations

import threading

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.query import traversal
from graphmem.index import adjacency

from .conftest import ENGINE

TYPES = ("R", "S", "T")
DIRECTIONS = ("out", "in", "both")


def _open():
    return graphmem.open(None, engine=ENGINE, embedder=None)


def _load(mem, edges, n=None):
    names = {x for s, _, d in edges for x in (s, d)} | ({f"v{i}" for i in range(n)} if n else set())
    mem.add_entities([{"name": x} for x in sorted(names)])
    if edges:
        mem.add_relations(edges)


def _nx(nodes, relations, direction, types):
    g = nx.Graph() if direction == "both" else nx.DiGraph()
    g.add_nodes_from(nodes)
    for s, t, d in relations:
        if types is None or t in types:
            g.add_edge(*((d, s) if direction == "in" else (s, d)))
    return g


def _check_path(path, relations, source, target, direction, types):
    """The path is real: each hop is a stored relation of an allowed type, followed in an
    allowed way, and the path says which way each one points (``directions``)."""
    assert path.nodes[0] == source and path.nodes[-1] == target and len(path.nodes) == len(path) + 1
    assert len(path.directions) == len(path)
    for a, rel, b, way in zip(path.nodes, path.relations, path.nodes[1:], path.directions):
        assert types is None or rel in types
        assert way in ("out", "in") and direction in ("both", way), (a, rel, b, way)
        assert ((a, rel, b) if way == "out" else (b, rel, a)) in relations, (a, rel, b, way)


# -- shape and bad input --------------------------------------------------------------


def test_paths_and_bad_input(mem):
    _load(mem, [("a", "R", "b"), ("b", "S", "c"), ("d", "R", "c"), ("e", "R", "e")])
    mem.add_entity("lonely")
    assert mem.shortest_path("a", "d") == graphmem.Path(("a", "b", "c", "d"), ("R", "S", "R"))
    assert mem.shortest_path("a", "d", types="R") is None
    assert mem.shortest_path("a", "d", types=["NO_SUCH_TYPE"]) is None  # unknown type: no error, no path
    assert mem.shortest_path("a", "d", types=[]) is None
    assert mem.shortest_path("a", "a", types=["NO_SUCH_TYPE"]) == graphmem.Path(("a",), ())
    assert mem.shortest_path("c", "a", direction="in").nodes == ("c", "b", "a")
    assert mem.shortest_path("d", "a", direction="in") is None
    assert mem.shortest_path("a", "lonely") is None and mem.shortest_path("e", "e").nodes == ("e",)
    assert mem.shortest_path("a", "d", max_hops=3) and mem.shortest_path("a", "d", max_hops=0) is None
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(graphmem.InvalidInput, match="max_hops"):
            mem.shortest_path("a", "b", max_hops=bad)
    with pytest.raises(graphmem.InvalidInput, match="direction"):
        mem.shortest_path("a", "b", direction="sideways")
    with pytest.raises(graphmem.InvalidInput):
        mem.shortest_path("a", "b", types=["not a type"])
    with pytest.raises(graphmem.NotFound, match="zzz"):
        mem.shortest_path("zzz", "a")
    with pytest.raises(graphmem.NotFound):
        mem.all_shortest_paths("a", "zzz")
    with pytest.raises(graphmem.InvalidInput, match="limit"):
        mem.all_shortest_paths("a", "b", limit=0)
    with pytest.raises(graphmem.NotFound):
        mem.k_hop("zzz", 1)
    with pytest.raises(graphmem.InvalidInput, match="hops"):
        mem.k_hop("a", -1)
    with pytest.raises(graphmem.InvalidInput, match="max_entities"):
        mem.subgraph("a", 1, max_entities=0)
    with pytest.raises(graphmem.InvalidInput, match="seed"):
        mem.subgraph([], 1)
    with pytest.raises(graphmem.NotFound):
        mem.subgraph(["a", "zzz"], 1)


def test_all_shortest_paths_k_hop_and_subgraph(mem):
    _load(mem, [("a", "R", "b"), ("a", "S", "b"), ("a", "R", "c"), ("b", "R", "d"), ("c", "R", "d"),
                ("d", "R", "e"), ("x", "R", "x")])  # fmt: skip
    paths = mem.all_shortest_paths("a", "d")
    assert [(p.nodes, p.relations) for p in paths] == [
        (("a", "b", "d"), ("R", "R")), (("a", "b", "d"), ("S", "R")), (("a", "c", "d"), ("R", "R"))]  # fmt: skip
    assert len(mem.all_shortest_paths("a", "d", limit=2)) == 2
    assert mem.all_shortest_paths("a", "x") == [] and mem.all_shortest_paths("a", "a") == [graphmem.Path(("a",), ())]

    k = mem.k_hop("a", 2)
    assert dict(k.distances) == {"a": 0, "b": 1, "c": 1, "d": 2} and not k.truncated and k.at(1) == ("b", "c")
    assert dict(mem.k_hop("d", 1, direction="in").distances) == {"d": 0, "b": 1, "c": 1}
    assert dict(mem.k_hop("a", 1, types="S").distances) == {"a": 0, "b": 1}
    assert mem.k_hop("a", 0).at(0) == ("a",)
    capped = mem.k_hop("a", 3, max_entities=2)
    assert len(capped) == 2 and capped.truncated and capped["a"] == 0

    g = mem.subgraph(["a", "e"], 1)
    assert dict(g.entities) == {"a": 0, "e": 0, "b": 1, "c": 1, "d": 1}
    assert g.relations == (("a", "R", "b"), ("a", "R", "c"), ("a", "S", "b"), ("b", "R", "d"), ("c", "R", "d"),
                           ("d", "R", "e"))  # fmt: skip
    assert mem.subgraph("a", 1, types=["S"]).relations == (("a", "S", "b"),)
    small = mem.subgraph("a", 2, max_relations=2)
    assert len(small.relations) == 2 and small.truncated
    assert mem.subgraph("x", 3).relations == (("x", "R", "x"),)
    assert small.to_dict()["truncated"] is True


def test_cypher_writes_drop_the_cache(mem):
    _load(mem, [(f"n{i}", "R", f"n{i + 1}") for i in range(6)])
    assert len(mem.shortest_path("n0", "n6")) == 6
    mem.cypher("MATCH (a:Entity {name: $a}), (b:Entity {name: $b}) CREATE (a)-[:Relation {type: 'R'}]->(b)",
               {"a": "n0", "b": "n6"})
    assert len(mem.shortest_path("n0", "n6")) == 1
    mem.cypher("MATCH (a:Entity {name: $a})-[r:Relation]->(b:Entity {name: $b}) DELETE r", {"a": "n0", "b": "n6"})
    assert len(mem.shortest_path("n0", "n6")) == 6


def test_cache_serves_repeats_and_survives_unrelated_deletes(mem):
    _load(mem, [("a", "R", "b"), ("b", "R", "c"), ("x", "R", "y"), ("a", "S", "q")])
    p = mem.shortest_path("a", "c")
    state = mem._derived.get()
    cache = traversal.path_cache(state.edges)
    hits = cache.hits
    assert mem.shortest_path("a", "c") is p and cache.hits == hits + 1  # the very same answer object
    assert mem.shortest_path("a", "y") is None
    mem.delete_relation("x", "R", "y")  # not on the cached path
    mem.delete_entity("q")
    assert mem.shortest_path("a", "c") is p and mem.shortest_path("a", "y") is None
    assert mem.shortest_path("a", "c", types=["R"]) == p
    mem.add_relation("y", "S", "c")  # an S relation: the R-only entry stays, the unfiltered ones go
    hits = cache.hits
    assert mem.shortest_path("a", "c", types=["R"]) == p and cache.hits == hits + 1
    assert mem.shortest_path("a", "y") == graphmem.Path(("a", "b", "c", "y"), ("R", "R", "S"))
    mem.delete_entity("b")
    assert mem.shortest_path("a", "c") is None


# -- differential tests ---------------------------------------------------------------

edge_lists = st.lists(st.tuples(st.integers(0, 14), st.sampled_from(TYPES), st.integers(0, 14)), max_size=40)
type_filters = st.none() | st.sets(st.sampled_from(TYPES + ("UNKNOWN",)), max_size=2)


@pytest.mark.engine
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edges=edge_lists, data=st.data())
def test_queries_agree_with_networkx(edges, data):
    n = 15
    relations = {(f"v{s}", t, f"v{d}") for s, t, d in edges}
    nodes = [f"v{i}" for i in range(n)]
    with _open() as mem:
        _load(mem, sorted(relations), n)
        for _ in range(8):
            s, d = data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes))
            direction = data.draw(st.sampled_from(DIRECTIONS))
            types = data.draw(type_filters)
            max_hops = data.draw(st.none() | st.integers(0, 4))
            g = _nx(nodes, relations, direction, types)
            want = nx.shortest_path_length(g, s, d) if nx.has_path(g, s, d) else None
            if want is not None and max_hops is not None and want > max_hops:
                want = None
            for _ in range(2):  # the second answer comes from the cache
                p = mem.shortest_path(s, d, max_hops=max_hops, types=types, direction=direction)
                assert (None if p is None else len(p)) == want
                if p is not None:
                    _check_path(p, relations, s, d, direction, types)
            every = mem.all_shortest_paths(s, d, max_hops=max_hops, types=types, direction=direction, limit=1000)
            if want is None:
                assert every == []
            else:
                assert {p.nodes for p in every} == {tuple(x) for x in nx.all_shortest_paths(g, s, d)}
                for p in every:
                    assert len(p) == want
                    _check_path(p, relations, s, d, direction, types)
            hops = data.draw(st.integers(0, 3))
            k = mem.k_hop(s, hops, direction=direction, types=types)
            assert dict(k.distances) == nx.single_source_shortest_path_length(g, s, cutoff=hops)
            sub = mem.subgraph(s, hops, direction=direction, types=types, max_entities=1000, max_relations=1000)
            assert dict(sub.entities) == dict(k.distances)
            assert set(sub.relations) == {r for r in relations if r[0] in k and r[2] in k
                                          and (types is None or r[1] in types)}  # fmt: skip


ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 11), st.sampled_from(TYPES), st.integers(0, 11)),
        st.tuples(st.just("delete"), st.integers(0, 11), st.sampled_from(TYPES), st.integers(0, 11)),
        st.tuples(st.just("delete_entity"), st.integers(0, 11)),
        st.tuples(st.just("add_entity"), st.integers(0, 11)),
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.engine
@pytest.mark.parametrize("delta_min", [None, 2], ids=["default", "compacting"])
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(base=edge_lists, script=ops, data=st.data())
def test_cached_answers_follow_interleaved_writes(monkeypatch, delta_min, base, script, data):
    """Random adds and deletes through the public API, with (mostly cached)
    queries between them: every answer's length equals networkx's at that
    moment and every returned path exists in the graph. ``compacting`` folds
    the delta into a new snapshot every few writes."""
    if delta_min is not None:
        monkeypatch.setattr(adjacency, "DELTA_MIN", delta_min)
    names = [f"v{i}" for i in range(12)]
    alive = set(names)
    relations = {(f"v{s}", t, f"v{d}") for s, t, d in base if s < 12 and d < 12}
    pairs = [(a, b) for a in names[:5] for b in names[6:]]  # a fixed pool, so the cache gets reused
    with _open() as mem:
        _load(mem, sorted(relations), 12)
        for op in script:
            if op[0] == "add":
                a, t, b = f"v{op[1]}", op[2], f"v{op[3]}"
                if a in alive and b in alive:
                    mem.add_relation(a, t, b)
                    relations.add((a, t, b))
            elif op[0] == "delete":
                rel = (f"v{op[1]}", op[2], f"v{op[3]}")
                assert mem.delete_relation(*rel) == (rel in relations)
                relations.discard(rel)
            elif op[0] == "delete_entity":
                name = f"v{op[1]}"
                assert mem.delete_entity(name) == (name in alive)
                alive.discard(name)
                relations = {r for r in relations if name not in (r[0], r[2])}
            else:
                name = f"v{op[1]}"
                mem.add_entity(name)
                alive.add(name)
            for _ in range(3):
                s, d = data.draw(st.sampled_from(pairs))
                direction = data.draw(st.sampled_from(DIRECTIONS))
                types = data.draw(st.none() | st.just({"R"}) | st.just({"S", "T"}))
                if s not in alive or d not in alive:
                    with pytest.raises(graphmem.NotFound):
                        mem.shortest_path(s, d, direction=direction, types=types)
                    continue
                g = _nx(sorted(alive), relations, direction, types)
                want = nx.shortest_path_length(g, s, d) if nx.has_path(g, s, d) else None
                p = mem.shortest_path(s, d, direction=direction, types=types)
                assert (None if p is None else len(p)) == want
                if p is not None:
                    _check_path(p, relations, s, d, direction, types)
                every = mem.all_shortest_paths(s, d, direction=direction, types=types, limit=1000)
                assert {q.nodes for q in every} == (
                    set() if want is None else {tuple(x) for x in nx.all_shortest_paths(g, s, d)})


def test_paths_after_reopen(tmp_path, open_store):
    """The snapshot is rebuilt from the store on open; relations and deletions persist."""
    mem = open_store(tmp_path / "s")
    _load(mem, [("a", "R", "b"), ("b", "R", "c"), ("a", "S", "c")])
    mem.delete_relation("a", "S", "c")
    assert len(mem.shortest_path("a", "c")) == 2
    mem.close()
    again = open_store(tmp_path / "s")
    assert again.shortest_path("a", "c") == graphmem.Path(("a", "b", "c"), ("R", "R"))
    again.add_relation("c", "T", "a")
    assert again.shortest_path("a", "c").relations == ("T",)


def test_queries_from_threads_during_writes(open_store):
    """Readers on several threads while a writer adds and removes a shortcut:
    every answer is one of the two true lengths and every path is real."""
    mem = open_store(None)
    chain = [(f"n{i}", "R", f"n{i + 1}") for i in range(30)]
    _load(mem, chain)
    stop = threading.Event()
    errors: list[object] = []

    def reader():
        while not stop.is_set():
            try:
                p = mem.shortest_path("n0", "n30")
                if len(p) not in (2, 16, 30):  # both shortcuts, the second only, none
                    errors.append(len(p))
            except Exception as exc:  # collected and re-raised by the test thread
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(15):
            mem.add_relations([("n0", "S", "n15"), ("n15", "S", "n30")])
            mem.delete_relation("n0", "S", "n15")
            mem.delete_relation("n15", "S", "n30")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert len(mem.shortest_path("n0", "n30")) == 30
