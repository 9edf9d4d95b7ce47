"""One owner of the derived graph state (:class:`graphmem.index.derived.GraphState`).

Only its methods change the id map, bitmaps, relation index, bounds and the
caches built on first use; queries read one snapshot of them
(tests/test_graph_snapshot.py), and code reading the live structures finds
each change ordered: a relation view taken before names are looked up, ids
named with ``IdMap.key_ever``. Checked here: that no other module changes those structures (a scan of the source),
that every published view stays nameable and consistent with the id map
under random histories (hypothesis), that each change is ordered as the
class promises (observed at the moment a new view is published), and that
threads reading paths, neighbourhoods and near-searches while others write
get answers that hold in the graph, never an error.
"""

from __future__ import annotations

import ast
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.errors import NotFound
from graphmem.index.adjacency import EdgeIndex
from graphmem.index.bitmaps import LabelBitmaps
from graphmem.index.derived import GraphState
from graphmem.index.ids import IdMap

ROOT = Path(__file__).resolve().parents[1]

# -- ownership ------------------------------------------------------------------------

_PARTS = {"ids", "edges", "entity_types", "relation_types", "namespaces", "bounds", "expired", "normalized", "text",
          "labels"}  # fmt: skip
_MUTATORS = {"add", "add_arrays", "remove", "allocate", "discard", "discard_everywhere", "add_array", "add_grouped",
             "set_entities", "set_relations", "set_entity", "set_relation", "set_entity_arrays",
             "set_relation_arrays", "drop_entities", "drop_relations", "pop", "update", "clear", "put", "put_arrow",
             "written", "setdefault", "popitem", "code_for"}  # fmt: skip
_ALLOWED = {("graphmem/warm.py", "edges.add()"), ("graphmem/warm.py", "edges.remove()"),
            ("graphmem/scan.py", ".text =")}
"""warm.py changes a private relation index it builds to compile the kernels, not a store's state;
scan.py sets the ``text`` field of an Entity it builds (``_EntityFields``), not the state's text index."""


def _changes_outside_owner(root: Path) -> list[str]:
    """Every place outside ``graphmem/index/`` that changes a part of the graph state."""
    found = []
    for path in sorted(root.glob("graphmem/**/*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("graphmem/index/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            what = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
                target = node.func.value
                if isinstance(target, ast.Attribute) and target.attr in _PARTS:
                    what = f"{target.attr}.{node.func.attr}()"
                elif isinstance(target, ast.Name) and target.id in ("edges", "ids"):  # a local alias of a part
                    what = f"{target.id}.{node.func.attr}()"
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Attribute) and (t.attr in _PARTS or t.attr == "generation"):
                        what = f".{t.attr} ="
                    elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute) and t.value.attr in _PARTS:
                        what = f"{t.value.attr}[...] ="
            if what is not None and (rel, what) not in _ALLOWED:
                found.append(f"{rel}:{node.lineno}: {what}")
    return found


def test_only_graph_state_changes_the_derived_state():
    assert _changes_outside_owner(ROOT) == []


def test_the_ownership_scan_finds_a_change(tmp_path):
    (tmp_path / "graphmem").mkdir()
    (tmp_path / "graphmem" / "x.py").write_text("def f(state):\n    state.edges.add([])\n    state.generation += 1\n")
    assert sorted(_changes_outside_owner(tmp_path)) == ["graphmem/x.py:2: edges.add()", "graphmem/x.py:3: .generation ="]


# -- random histories on one GraphState -------------------------------------------------


def _empty() -> GraphState:
    return GraphState(ids=IdMap(), entity_types=LabelBitmaps(), relation_types=LabelBitmaps(), edges=EdgeIndex())


def _view_ids(view) -> set[int]:
    src, codes, dst = _arrays(view)
    return set(src.tolist()) | set(dst.tolist())


def _arrays(view) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    holder = EdgeIndex()
    holder._view = view  # read a published view as the index would (arrays() reads only the view)
    return holder.arrays()


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 11)),
        st.tuples(st.just("relate"), st.integers(0, 11), st.sampled_from(["A", "B"]), st.integers(0, 11)),
        st.tuples(st.just("unrelate"), st.integers(0, 11), st.sampled_from(["A", "B"]), st.integers(0, 11)),
        st.tuples(st.just("expire"), st.integers(0, 11)),
        st.tuples(st.just("delete"), st.integers(0, 11)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_OPS)
def test_every_published_view_stays_named_and_consistent(ops):
    """After any history: each view ever published names all its ids (``key_ever``),
    the current view relates only current entities, and the structures agree with
    a plain model of the graph."""
    state = _empty()
    model_ids: dict[str, int] = {}  # current key -> id
    expired: dict[str, int] = {}
    relations: set[tuple[str, str, str]] = set()
    views = [state.edges.view]
    names_of: dict[int, str] = {}
    changes = 0
    for op in ops:
        kind = op[0]
        if kind == "add":
            key = f"e{op[1]}"
            if key in model_ids:
                continue
            if key in expired:  # written again: revived with its old id
                id_ = expired.pop(key)
                row = SimpleNamespace(key=key, id=id_, type="T", namespace="ns", valid_from=None, valid_to=None)
                state.write_entities([row], added=[row], old_types={})
            else:
                id_ = state.allocate_ids(1)[0]
                state.add_entity_keys([key], np.array([id_]), "T", "ns")
            model_ids[key] = id_
            names_of[id_] = key
        elif kind == "relate":
            s, t, d = f"e{op[1]}", op[2], f"e{op[3]}"
            if s not in model_ids or d not in model_ids or (s, t, d) in relations:
                continue
            state.add_relation_triples([(model_ids[s], t, model_ids[d])])
            relations.add((s, t, d))
        elif kind == "unrelate":
            s, t, d = f"e{op[1]}", op[2], f"e{op[3]}"
            if (s, t, d) not in relations:
                continue
            state.remove_relations([(model_ids[s], state.edges.code_of(t), model_ids[d])])
            relations.discard((s, t, d))
        else:
            key = f"e{op[1]}"
            if kind == "delete" and key in expired:
                state.remove_entities({}, [], expire=False, dropped=[key])
                del expired[key]
                changes += 1
                continue
            if key not in model_ids:
                continue
            id_ = model_ids.pop(key)
            state.remove_entities({key: id_}, state.edges.incident(id_), expire=kind == "expire")
            relations = {r for r in relations if key not in (r[0], r[2])}
            if kind == "expire":
                expired[key] = id_
        changes += 1
        views.append(state.edges.view)
        for view in views:  # a reader holding any view names every id in it
            for id_ in _view_ids(view):
                assert state.ids.key_ever(id_) == names_of[id_]
        current = _view_ids(state.edges.view)
        assert all(state.ids.key_of(i) is not None for i in current)
    src, codes, dst = _arrays(state.edges.view)
    names = state.edges.type_names
    assert {(names_of[s], names[c], names_of[d]) for s, c, d in zip(src.tolist(), codes.tolist(), dst.tolist())} \
        == relations  # fmt: skip
    assert {k: state.ids.id_of(k) for k in model_ids} == model_ids
    assert state.expired == expired
    assert set(state.namespaces.members("ns")) == set(model_ids.values())
    for t in ("A", "B"):
        ends = {model_ids[e] for s, tt, d in relations if tt == t for e in (s, d)}
        assert set(state.relation_types.members(t)) == ends
    assert state.generation == changes  # one per change, whatever it touched


# -- the order of each change ---------------------------------------------------------------


class _Watcher:
    """Called by the relation index just before it publishes a new view: records
    what a reader could see of the id map and the bounds at that moment."""

    def __init__(self, state: GraphState) -> None:
        self.state = state
        self.seen: list[dict] = []

    def edges_changed(self, added, removed, version, type_names) -> None:
        ids = self.state.ids
        self.seen.append({
            "added": [(ids.key_of(s), ids.key_of(d)) for s, _, d in added.tolist()],
            "removed": [(ids.key_of(s), ids.key_of(d)) for s, _, d in removed.tolist()],
            "bounded": {(int(k) >> 32, int(k) & 0xFFFFFFFF) for k in self.state.bounds.relations.keys.tolist()},
        })  # fmt: skip


def test_changes_are_ordered_for_readers():
    state = _empty()
    a, b, c = state.allocate_ids(3)
    state.add_entity_keys(["a", "b", "c"], np.array([a, b, c]), "T", "ns")
    watcher = state.edges.attach("watch", lambda: _Watcher(state))
    until = pa.array([datetime(2001, 1, 1)], pa.timestamp("us"))
    # A bounded relation: its bounds are in place when the view that holds it is published.
    state.add_relation_arrays(np.array([a]), np.array([b]), np.array([0]), ["R"], pa.nulls(1, pa.timestamp("us")),
                              until)  # fmt: skip
    assert watcher.seen[-1]["added"] == [("a", "b")] and (a, b) in watcher.seen[-1]["bounded"]
    state.add_relation_triples([(b, "R", c)])
    # A delete: the key is out of the map before the view without its relations is published.
    reader = state.edges.view  # held, as by a query in flight: it keeps b's name readable
    state.remove_entities({"b": b}, state.edges.incident(b), expire=False)
    assert set(watcher.seen[-1]["removed"]) == {("a", None), (None, "c")}
    assert state.ids.key_ever(b) == "b" and state.ids.id_of("b") is None
    del reader
    assert (a, b) not in {(int(k) >> 32, int(k) & 0xFFFFFFFF) for k in state.bounds.relations.keys.tolist()}


def test_a_path_found_on_an_older_view_keeps_its_names():
    """The race traversal used to retry on: a path found on a view taken just
    before a delete crosses the deleted entity, and still names it."""
    from graphmem.query import traversal
    from graphmem.algorithms import paths as kernels

    state = _empty()
    ids = list(state.allocate_ids(3))
    state.add_entity_keys([f"ns\x1f{n}" for n in "abc"], np.array(ids), "T", "ns")
    state.add_relation_triples([(ids[0], "R", ids[1]), (ids[1], "R", ids[2])])
    view = state.edges.view
    state.remove_entities({"ns\x1fb": ids[1]}, state.edges.incident(ids[1]), expire=False)
    found = kernels.bidirectional_bfs(view.adj, ids[0], ids[2], direction="both", allowed=None, max_hops=None,
                                      n_nodes=view.nodes)  # fmt: skip
    assert traversal.to_path(state, "ns", found).nodes == ("a", "b", "c")
    assert traversal.shortest_path(state, "ns", "a", "c") is None  # the current graph: b is gone
    with pytest.raises(NotFound):
        traversal.shortest_path(state, "ns", "a", "b")


def test_removed_names_are_kept_only_while_a_view_may_need_them():
    """Deleted ids keep their names (``key_ever``) for readers of older views, and
    only for them: once no held view is that old, the next change drops them, so
    a long-running process that deletes a lot does not keep every key it ever had."""
    import gc

    state = _empty()
    ids = list(state.allocate_ids(6))
    state.add_entity_keys([f"ns\x1f{i}" for i in range(6)], np.array(ids), "T", "ns")
    state.add_relation_triples([(ids[i], "R", ids[i + 1]) for i in range(5)])
    held = state.edges.view
    state.remove_entities({"ns\x1f1": ids[1]}, state.edges.incident(ids[1]), expire=False)
    state.remove_entities({"ns\x1f5": ids[5]}, state.edges.incident(ids[5]), expire=False)
    assert state.ids.key_ever(ids[1]) == "ns\x1f1" and state.ids.retired == 2  # `held` may contain both
    del held
    gc.collect()
    state.add_relation_triples([(ids[0], "R", ids[2])])  # any change prunes
    assert state.ids.retired == 0 and state.ids.key_ever(ids[1]) is None
    # An entity without relations publishes no new view: kept until the next relation change.
    state.remove_entities({"ns\x1f3": ids[3]}, [], expire=False)
    assert state.ids.key_ever(ids[3]) is not None
    state.add_relation_triples([(ids[0], "R", ids[4])])
    assert state.ids.retired == 0


# -- threads on one Memory --------------------------------------------------------------------


def test_readers_see_consistent_graphs_while_writers_change_it(open_store):
    """Writers add, relate, delete and expire entities and relations while
    readers ask for paths, neighbourhoods, neighbours and near-searches. Every
    answer must hold in the graph: each hop of a path or each neighbour's
    relation is one that was written (and a path is simple and starts and ends
    where asked); the only error allowed is NotFound for a name a writer
    removed. No reader waits or retries. (In memory: the derived state is the
    same on disk, and a disk store's commits only slow the writers down.)"""
    mem = open_store(None)
    rng = np.random.default_rng(7)
    n = 40
    dim = 8
    vectors = rng.normal(size=(n + 200, dim)).astype(np.float32)
    mem.add_entities([{"name": f"s{i}", "type": "S", "embedding": vectors[i]} for i in range(n)])
    written: set[tuple[str, str, str]] = set()
    base = [(f"s{i}", "R", f"s{(i + 1) % n}") for i in range(n)]
    mem.add_relations(base)
    written.update(base)
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()
    answers = {"paths": 0, "khop": 0, "neighbors": 0, "near": 0}

    def hop_ok(a: str, t: str, b: str) -> bool:
        with lock:
            return (a, t, b) in written or (b, t, a) in written

    def writer(w: int) -> None:
        try:
            wrng = np.random.default_rng(w)
            for i in range(18):
                name = f"w{w}-{i}"
                mem.add_entity(name, type="W", embedding=vectors[n + (w * 40 + i) % 200])
                a, b = f"s{int(wrng.integers(n))}", f"s{int(wrng.integers(n))}"
                new = [(a, "R", name), (name, "Q", b)]
                with lock:
                    written.update(new)
                mem.add_relations(new)
                if i % 3 == 0:
                    mem.delete_entity(name)
                elif i % 3 == 1:
                    mem.expire_entity(name)
                else:
                    mem.delete_relation(name, "Q", b)
                    mem.add_relation(name, "Q", b, valid_to=datetime.now(timezone.utc) + timedelta(days=1))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def check_path(path, source: str, target: str) -> None:
        assert path.nodes[0] == source and path.nodes[-1] == target
        assert len(set(path.nodes)) == len(path.nodes)
        for a, t, b in zip(path.nodes, path.relations, path.nodes[1:]):
            assert hop_ok(a, t, b), (a, t, b)

    def reader(r: int) -> None:
        rrng = np.random.default_rng(100 + r)
        try:
            while not stop.is_set():
                a = f"s{int(rrng.integers(n))}"
                others = [f"s{int(rrng.integers(n))}", f"w{int(rrng.integers(2))}-{int(rrng.integers(18))}"]
                for b in others:
                    try:
                        path = mem.shortest_path(a, b)
                    except NotFound:
                        continue  # b was deleted, expired or not written yet
                    if path is not None:
                        check_path(path, a, b)
                        answers["paths"] += 1
                found = mem.k_hop(a, 2)
                assert found[a] == 0 and all(0 <= found[name] <= 2 for name in found)
                answers["khop"] += 1
                for nb in mem.neighbors(a):
                    assert hop_ok(a, nb.type, nb.name) if nb.direction == "out" else hop_ok(nb.name, nb.type, a)
                    answers["neighbors"] += 1
                for hit in mem.search(vectors[int(rrng.integers(n))], k=5, near=a, max_hops=2):
                    check_path(hit.path, a, hit.name)
                    assert hit.hops == len(hit.path) <= 2
                    answers["near"] += 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(2)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors
    assert all(count > 0 for count in answers.values()), answers
    # Afterwards the state equals what the store holds.
    for i in range(n):
        stored = mem.cypher(
            "MATCH (a:Entity {name: $n})-[r:Relation]-(b:Entity) WHERE r.expired_at IS NULL "
            "RETURN b.name AS b, r.type AS t", {"n": f"s{i}"})  # fmt: skip
        assert sorted({(row["b"], row["t"]) for row in stored}) == sorted(
            {(nb.name, nb.type) for nb in mem.neighbors(f"s{i}")})
