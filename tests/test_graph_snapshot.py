"""One snapshot per query (:meth:`graphmem.index.derived.GraphState.snapshot`).

A query that resolves several names (both ends of a path, a name and its
neighbours, anchors and hits) must resolve them all in one state of the
graph, however many writes land meanwhile. Checked here: random histories
where a writer thread keeps writing while a reader queries snapshots it
took, against a networkx oracle captured in the same critical section as
each snapshot (hypothesis); a snapshot taken before a delete and a rewrite
of the same name still resolving both names as they were; a write landing
between the two name lookups of a ``Memory`` query (both engines); and that
the record of changes kept for held snapshots goes once none is held.
"""

from __future__ import annotations

import gc
import queue
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.query import traversal
from graphmem.errors import NotFound
from graphmem.index.adjacency import EdgeIndex
from graphmem.index.bitmaps import LabelBitmaps
from graphmem.index.derived import GraphSnapshot, GraphState
from graphmem.index.ids import IdMap, IdView
from graphmem.records import entity_key

NS = "ns"
NAMES = [f"e{i}" for i in range(8)]


def _empty() -> GraphState:
    return GraphState(ids=IdMap(), entity_types=LabelBitmaps(), relation_types=LabelBitmaps(), edges=EdgeIndex())


class _Model:
    """The graph a history should produce: current names -> ids, expired names -> ids, relations by name."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.expired: dict[str, int] = {}
        self.relations: set[tuple[str, str, str]] = set()

    def copy(self) -> _Model:
        new = _Model()
        new.ids, new.expired, new.relations = dict(self.ids), dict(self.expired), set(self.relations)
        return new

    def undirected(self, types: set[str] | None = None) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(self.ids)
        g.add_edges_from((s, d) for s, t, d in self.relations if s != d and (types is None or t in types))
        return g


def _apply(state: GraphState, model: _Model, op: tuple) -> None:
    """One write, to the state (through its methods) and to the model."""
    kind = op[0]
    if kind == "add":
        name = NAMES[op[1]]
        key = entity_key(NS, name)
        if name in model.ids:
            return
        if name in model.expired:  # written again: revived with its old id
            id_ = model.expired.pop(name)
            row = SimpleNamespace(key=key, id=id_, type="T", namespace=NS, valid_from=None, valid_to=None)
            state.write_entities([row], added=[row], old_types={})
        else:
            id_ = state.allocate_ids(1)[0]
            state.add_entity_keys([key], np.array([id_]), "T", NS)
        model.ids[name] = id_
    elif kind in ("relate", "unrelate"):
        s, t, d = NAMES[op[1]], op[2], NAMES[op[3]]
        if s not in model.ids or d not in model.ids:
            return
        if kind == "relate" and (s, t, d) not in model.relations:
            state.add_relation_triples([(model.ids[s], t, model.ids[d])])
            model.relations.add((s, t, d))
        elif kind == "unrelate" and (s, t, d) in model.relations:
            state.remove_relations([(model.ids[s], state.edges.code_of(t), model.ids[d])])
            model.relations.discard((s, t, d))
    else:
        name = NAMES[op[1]]
        if kind == "delete" and name in model.expired:
            state.remove_entities({}, [], expire=False, dropped=[entity_key(NS, name)])
            del model.expired[name]
            return
        if name not in model.ids:
            return
        id_ = model.ids.pop(name)
        state.remove_entities({entity_key(NS, name): id_}, state.edges.incident(id_), expire=kind == "expire")
        model.relations = {r for r in model.relations if name not in (r[0], r[2])}
        if kind == "expire":
            model.expired[name] = id_


def _check(snap: GraphSnapshot, oracle: _Model) -> None:
    """Every answer the snapshot gives equals the oracle's, the graph as it was when it was taken."""
    g = oracle.undirected()
    for name in NAMES:
        assert snap.ids.id_of(entity_key(NS, name)) == oracle.ids.get(name)
    for name, id_ in oracle.ids.items():
        assert snap.ids.key_of(id_) == entity_key(NS, name)
    assert set(snap.namespaces.members(NS)) == set(oracle.ids.values())
    assert set(snap.entity_types.members("T")) == set(oracle.ids.values())
    for t in ("A", "B"):
        ends = {oracle.ids[e] for s, tt, d in oracle.relations if tt == t for e in (s, d)}
        assert set(snap.relation_types.members(t)) == ends
    for a in NAMES:
        for b in NAMES:
            if a not in oracle.ids or b not in oracle.ids:
                with pytest.raises(NotFound):
                    traversal.shortest_path(snap, NS, a, b)
                continue
            path = traversal.shortest_path(snap, NS, a, b)
            if not nx.has_path(g, a, b):
                assert path is None
                continue
            assert path is not None and len(path) == nx.shortest_path_length(g, a, b)
            for x, t, y, way in zip(path.nodes, path.relations, path.nodes[1:], path.directions):
                assert ((x, t, y) if way == "out" else (y, t, x)) in oracle.relations
            if a != b:
                found = {p.nodes for p in traversal.all_shortest_paths(snap, NS, a, b, limit=1000)}
                assert found == {tuple(p) for p in nx.all_shortest_paths(g, a, b)}
        if a in oracle.ids:
            within = traversal.k_hop(snap, NS, a, 2)
            assert dict(within.distances) == nx.single_source_shortest_path_length(g, a, cutoff=2)
            id_ = snap.ids.id_of(entity_key(NS, a))
            for types in (None, ["A"]):
                expected = sorted({(d, t, "out") for s, t, d in oracle.relations if s == a and (types is None or t in types)}
                                  | {(s, t, "in") for s, t, d in oracle.relations if d == a and (types is None or t in types)})  # fmt: skip
                got = [(n.name, n.type, n.direction) for n in traversal.neighbors(snap, id_, "both", types)]
                assert got == expected


_WRITES = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 7)),
        st.tuples(st.just("relate"), st.integers(0, 7), st.sampled_from(["A", "B"]), st.integers(0, 7)),
        st.tuples(st.just("unrelate"), st.integers(0, 7), st.sampled_from(["A", "B"]), st.integers(0, 7)),
        st.tuples(st.just("expire"), st.integers(0, 7)),
        st.tuples(st.just("delete"), st.integers(0, 7)),
        st.tuples(st.just("snapshot")),
    ),
    max_size=50,
)


@settings(max_examples=40, deadline=None)
@given(_WRITES)
def test_a_held_snapshot_answers_as_the_graph_was_while_a_writer_goes_on(ops):
    """A writer thread applies the history; at each ``snapshot`` step it lets the
    reader take one, and the reader captures the oracle in the same critical
    section (the state's lock, which every change holds), then queries the
    snapshot while the writer goes on, and once more after the last write."""
    state = _empty()
    model = _Model()
    for i in range(4):  # a few entities and relations to start from
        _apply(state, model, ("add", i))
    _apply(state, model, ("relate", 0, "A", 1))
    _apply(state, model, ("relate", 1, "B", 2))
    requests: queue.Queue[threading.Event | None] = queue.Queue()
    held: list[tuple[GraphSnapshot, _Model]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for op in ops:
                if op[0] == "snapshot":
                    taken = threading.Event()
                    requests.put(taken)
                    taken.wait()  # then go on writing while the reader queries it
                    continue
                with state._lock:  # the model moves with the state, in one critical section
                    _apply(state, model, op)
        finally:
            requests.put(None)

    def reader() -> None:
        while (taken := requests.get()) is not None:
            try:
                with state._lock:  # no change can land between the snapshot and the oracle
                    held.append((state.snapshot(), model.copy()))
            finally:
                taken.set()
            try:
                _check(*held[-1])  # while the writer goes on
            except BaseException as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(held) == sum(op[0] == "snapshot" for op in ops)
    for snap, oracle in held:  # after every write
        _check(snap, oracle)
    _check(state.snapshot(), model)  # and the current graph


def test_a_snapshot_taken_before_a_delete_and_a_rewrite_resolves_both_names_as_they_were():
    state = _empty()
    model = _Model()
    for i in range(3):
        _apply(state, model, ("add", i))
    _apply(state, model, ("relate", 0, "A", 1))
    _apply(state, model, ("relate", 1, "A", 2))
    before = state.snapshot()
    old = model.copy()
    # e1 deleted for good and written again (a new id), e2 expired, e3 created, e0 and e3 related.
    _apply(state, model, ("delete", 1))
    _apply(state, model, ("add", 1))
    _apply(state, model, ("expire", 2))
    _apply(state, model, ("add", 3))
    _apply(state, model, ("relate", 0, "B", 3))
    assert model.ids["e1"] != old.ids["e1"]
    _check(before, old)
    assert traversal.shortest_path(before, NS, "e0", "e2").nodes == ("e0", "e1", "e2")
    with pytest.raises(NotFound):
        traversal.shortest_path(before, NS, "e0", "e3")
    _check(state.snapshot(), model)
    with pytest.raises(NotFound):
        traversal.shortest_path(state, NS, "e0", "e2")
    assert traversal.shortest_path(state, NS, "e0", "e1") is None


def test_the_same_snapshot_is_handed_out_until_the_graph_changes():
    state = _empty()
    model = _Model()
    _apply(state, model, ("add", 0))
    first = state.snapshot()
    assert state.snapshot() is first and first.snapshot() is first
    _apply(state, model, ("add", 1))
    second = state.snapshot()
    assert second is not first and second.generation == first.generation + 1


def test_the_record_for_held_snapshots_goes_once_none_is_held():
    """While a snapshot is held each change records what it changed in the id
    map; while one is held the record is pruned (once it doubled) to what a
    held snapshot may ask for, and once none is held the next change drops it."""
    state = _empty()
    keys = [f"k{i}" for i in range(3000)]
    ids = np.array(state.allocate_ids(len(keys)))

    def add(i: int) -> None:  # one change per key
        state.add_entity_keys(keys[i : i + 1], ids[i : i + 1], "T", NS)

    add(0)
    held = state.snapshot()
    for i in range(1, 1500):
        add(i)
    assert state.ids.logged == 1499  # every change is after `held`: nothing pruned
    assert held.ids.id_of("k5") is None and held.ids.id_of("k0") == ids[0] and len(held.namespaces.members(NS)) == 1
    del held
    gc.collect()
    newer = state.snapshot()
    for i in range(1500, 3000):
        add(i)
    # Pruned once the record doubled: only changes after `newer` remain.
    assert state.ids.logged == 1500 and all(stamp > newer.generation for changes in state.ids._log.values()
                                             for stamp, _ in changes)  # fmt: skip
    assert newer.ids.id_of("k2999") is None and newer.ids.id_of("k1499") == ids[1499]
    del newer
    gc.collect()
    state.add_relation_triples([(int(ids[0]), "A", int(ids[1]))])
    assert state.ids.logged == 0  # none held: the record dropped, nothing recorded


def test_a_shared_bitmap_is_copied_only_while_a_snapshot_holds_it():
    state = _empty()
    a, b = state.allocate_ids(2)
    state.add_entity_keys(["a"], np.array([a]), "T", NS)
    snap = state.snapshot()
    held = snap.entity_types._maps["T"]
    state.add_entity_keys(["b"], np.array([b]), "T", NS)
    assert set(snap.entity_types.members("T")) == {a} and set(state.entity_types.members("T")) == {a, b}
    assert state.entity_types._maps["T"] is not held  # copied on write
    del snap, held
    gc.collect()
    mine = state.entity_types._maps["T"]
    c = state.allocate_ids(1)[0]
    state.add_entity_keys(["c"], np.array([c]), "T", NS)
    assert state.entity_types._maps["T"] is mine  # nothing held: changed in place


# -- through Memory (both engines) ---------------------------------------------------------


def _write_between_lookups(monkeypatch, after: str, write) -> None:
    """Run ``write`` right after the snapshot's id map resolved the name ``after``
    (once): a write landing between two name lookups of one query."""
    original = IdView.id_of
    fired: list[bool] = []

    def id_of(self: IdView, key: str) -> int | None:
        found = original(self, key)
        if not fired and key.endswith("\x1f" + after):
            fired.append(True)
            write()
        return found

    monkeypatch.setattr(IdView, "id_of", id_of)


def test_a_write_between_the_two_ends_of_a_path_query_is_not_seen(open_store, monkeypatch):
    mem = open_store(None)
    mem.add_entities([{"name": n} for n in ("a", "b", "c", "d")])
    mem.add_relations([("a", "R", "b"), ("b", "R", "c")])

    def write() -> None:  # c deleted and written again elsewhere, b gone: a and c no longer connected
        mem.delete_entity("c")
        mem.add_entity("c")
        mem.delete_entity("b")
        mem.add_relation("c", "S", "d")

    _write_between_lookups(monkeypatch, "a", write)
    path = mem.shortest_path("a", "c")
    assert path is not None and path.nodes == ("a", "b", "c") and path.relations == ("R", "R")
    monkeypatch.undo()
    assert mem.shortest_path("a", "c") is None
    with pytest.raises(NotFound):
        mem.shortest_path("a", "b")


def test_a_write_between_a_name_and_its_neighbours_is_not_seen(open_store, monkeypatch):
    mem = open_store(None)
    mem.add_entities([{"name": n} for n in ("a", "b", "c")])
    mem.add_relations([("a", "R", "b"), ("c", "Q", "a")])
    _write_between_lookups(monkeypatch, "a", lambda: (mem.delete_entity("b"), mem.add_relation("a", "NEW", "c")))
    assert [(n.name, n.type, n.direction) for n in mem.neighbors("a", types=["R", "NEW"])] == [("b", "R", "out")]
    monkeypatch.undo()
    assert [(n.name, n.type, n.direction) for n in mem.neighbors("a")] == [("c", "NEW", "out"), ("c", "Q", "in")]


def test_a_write_between_the_anchor_and_the_hits_of_a_near_search_is_not_seen(open_store, monkeypatch):
    """The anchor, its neighbourhood, the type filter's members and the hits'
    names all come from one snapshot: a write after the anchor was resolved
    (b retyped, its relation moved to another entity) changes none of them."""
    mem = open_store(None)
    mem.add_entities([{"name": "a", "type": "T", "embedding": [1.0, 0.0]},
                      {"name": "b", "type": "T", "embedding": [0.0, 1.0]},
                      {"name": "far", "type": "T", "embedding": [0.0, 1.0]}])  # fmt: skip
    mem.add_relations([("a", "R", "b")])

    def write() -> None:
        mem.add_entity("b", type="U", embedding=[0.0, 1.0])
        mem.delete_relation("a", "R", "b")
        mem.add_relation("a", "R", "far")

    _write_between_lookups(monkeypatch, "a", write)
    hits = mem.search(np.array([0.0, 1.0]), k=3, types=["T"], near="a", max_hops=1)
    assert [(h.name, h.path.nodes) for h in hits] == [("b", ("a", "b")), ("a", ("a",))]
    monkeypatch.undo()
    hits = mem.search(np.array([0.0, 1.0]), k=3, types=["T"], near="a", max_hops=1)
    assert [(h.name, h.path.nodes) for h in hits] == [("far", ("a", "far")), ("a", ("a",))]


def test_a_time_view_read_keeps_nothing_recorded_after_it(open_store):
    """A time view is cached without its snapshot's lease: once the read is over
    no snapshot is held, and the next write records nothing."""
    mem = open_store(None)
    mem.add_entities([{"name": n} for n in ("a", "b")])
    mem.add_relation("a", "R", "b", valid_to=datetime.now(timezone.utc) + timedelta(days=1))
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert [n.name for n in mem.neighbors("a")] == ["b"] and mem.neighbors("a", as_of=later) == []
    gc.collect()
    mem.add_entity("c")
    state = mem._derived.get()
    assert state.ids.logged == 0 and not any(ref() for ref in state._leases)
    assert mem.neighbors("a", as_of=later) == []  # the cached view is still used (same generation or rebuilt)


class _DuringChange:
    """Called by the relation index in the middle of a change (before it
    publishes the new view): what a reader asking for a snapshot then gets."""

    def __init__(self, state: GraphState) -> None:
        self.state = state
        self.seen: list[GraphSnapshot | None] = []

    def edges_changed(self, added, removed, version, type_names) -> None:
        self.seen.append(self.state._latest)


def test_a_reader_during_a_change_gets_the_held_snapshot_without_waiting():
    """While a change is applied, a reader gets the snapshot from before it
    (lock-free, consistent: the change is recorded for it) when a reader held
    that one as the change began; with none held there is none to hand out
    (a reader then waits for the lock)."""
    state = _empty()
    model = _Model()
    for i in range(3):
        _apply(state, model, ("add", i))
    watcher = state.edges.attach("during", lambda: _DuringChange(state))
    held = state.snapshot()
    _apply(state, model, ("relate", 0, "A", 1))
    assert watcher.seen[-1] is held  # what snapshot() returned mid-change (same generation)
    assert state.snapshot() is not held and state.snapshot().generation == held.generation + 1
    del held
    gc.collect()
    _apply(state, model, ("relate", 1, "A", 2))
    assert watcher.seen[-1] is None
