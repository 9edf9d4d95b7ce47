"""The path kernels, the relation index and the path cache, without a store.

Differential tests against networkx on random typed multigraphs that carry a
delta overlay (random adds and removes after the snapshot), for every
direction, type filter and ``max_hops``."""

from __future__ import annotations

import threading
from unittest import mock

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.algorithms import csr, jit
from graphmem.algorithms import paths as kernels
from graphmem.algorithms.cache import PathCache
from graphmem.algorithms.csr import IN, OUT, from_edges, has_edges, merge_delta, row_arrays, row_edges, sorted_unique
from graphmem.index import adjacency
from graphmem.index.adjacency import EdgeIndex

TYPES = 3
DIRECTIONS = ("out", "in", "both")


@st.composite
def histories(draw, max_nodes=24):
    """(n, snapshot triples, writes as (add, triple), how many relations to remove at the end)."""
    n = draw(st.integers(1, max_nodes))
    triple = st.tuples(st.integers(0, n - 1), st.integers(0, TYPES - 1), st.integers(0, n - 1))
    base = draw(st.sets(triple, max_size=3 * n))
    writes = draw(st.lists(st.tuples(st.booleans(), triple), max_size=2 * n))
    return n, base, writes, draw(st.integers(0, 3))


def _replay(history):
    """(n, EdgeIndex, model set of (source, code, target)): the snapshot, then the writes."""
    n, base, writes, removals = history
    index = EdgeIndex.from_arrays([s for s, _, _ in base], [d for _, _, d in base], [f"T{c}" for _, c, _ in base])
    codes = [index.code_for(f"T{c}") for c in range(TYPES)]
    model = {(s, codes[c], d) for s, c, d in base}
    for add, (s, c, d) in writes:
        t = (s, codes[c], d)
        if add:
            index.add([t])
            model.add(t)
        else:
            index.remove([t])
            model.discard(t)
    gone = sorted(model)[:removals]  # removals of existing relations, in one batch
    index.remove(gone)
    model -= set(gone)
    return n, index, model


def graphs(max_nodes=24):
    """(n, EdgeIndex, model): a snapshot, then random writes (:func:`_replay`)."""
    return histories(max_nodes).map(_replay)


def _current(index: EdgeIndex) -> set[tuple[int, int, int]]:
    src, code, dst = index.arrays()
    return set(zip(src.tolist(), code.tolist(), dst.tolist()))


def _nx(n, model, direction, allowed):
    g = nx.Graph() if direction == "both" else nx.DiGraph()
    g.add_nodes_from(range(n))
    for s, c, d in model:
        if allowed is None or c in allowed:
            g.add_edge(*((d, s) if direction == "in" else (s, d)))
    return g


def _mask(allowed):
    if allowed is None:
        return None
    mask = np.zeros(TYPES, np.uint8)
    mask[list(allowed)] = 1
    return mask


queries = st.tuples(
    st.sampled_from(DIRECTIONS),
    st.none() | st.frozensets(st.integers(0, TYPES - 1)),
    st.none() | st.integers(0, 5),
)


def _uses_only(path, model, allowed):
    for rel in path.relations():
        assert rel in model
        assert allowed is None or rel[1] in allowed


@settings(max_examples=80, deadline=None)
@given(g=graphs(), q=queries, data=st.data())
def test_shortest_paths_match_networkx(g, q, data):
    n, index, model = g
    direction, allowed, max_hops = q
    view = index.view
    nxg = _nx(n, model, direction, allowed)
    for _ in range(6):
        s, d = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
        try:
            want = nx.shortest_path_length(nxg, s, d)
        except nx.NetworkXNoPath:
            want = None
        if want is not None and max_hops is not None and want > max_hops:
            want = None
        found = kernels.bidirectional_bfs(view.adj, s, d, direction=direction, allowed=_mask(allowed),
                                          max_hops=max_hops, n_nodes=max(view.nodes, n))
        assert (None if found is None else len(found)) == want
        # The plain-list form (what Memory.shortest_path names) is the same path.
        as_lists = kernels.shortest_lists(view.adj, s, d, direction=direction, allowed=_mask(allowed),
                                          max_hops=max_hops, n_nodes=max(view.nodes, n))
        assert as_lists == (None if found is None else
                            (found.nodes.tolist(), found.codes.tolist(), found.along.tolist()))
        if found is not None:
            assert found.nodes[0] == s and found.nodes[-1] == d
            _uses_only(found, model, allowed)
            # `along` says which way each relation points.
            for i, rel in enumerate(found.relations()):
                a, b = int(found.nodes[i]), int(found.nodes[i + 1])
                assert rel == ((a, int(found.codes[i]), b) if found.along[i] else (b, int(found.codes[i]), a))
                if direction != "both":
                    assert bool(found.along[i]) == (direction == "out")

        every = kernels.all_shortest_paths(view.adj, s, d, direction=direction, allowed=_mask(allowed),
                                           max_hops=max_hops, limit=50, n_nodes=max(view.nodes, n))
        if want is None:
            assert every.paths == ()
            continue
        expected = {tuple(p) for p in nx.all_shortest_paths(nxg, s, d)}
        got = [tuple(p.nodes.tolist()) for p in every.paths]
        distinct = {(tuple(p.nodes.tolist()), tuple(p.codes.tolist())) for p in every.paths}
        assert len(distinct) == len(every.paths)
        for p in every.paths:
            assert len(p) == want
            _uses_only(p, model, allowed)
        if every.truncated:
            assert len(every.paths) == 50 and set(got) <= expected
        else:
            assert set(got) == expected
            # Every (nodes, types) combination: one path per choice of type on each hop.
            assert len(distinct) == sum(_type_choices(p, model, direction, allowed) for p in expected)
        assert {tuple(r) for r in every.relations.tolist()} <= model


def _as_python(module):
    """Patch every kernel ``module`` names with its Python form (what a
    command on a small store runs, :func:`graphmem.algorithms.jit.interpreted`)."""
    forms = {}
    for name, value in vars(module).items():
        try:
            forms[name] = jit.python_form(value)
        except TypeError:  # not a kernel
            continue
    assert forms and all(type(f) is not jit.Kernel for f in forms.values())
    return mock.patch.multiple(module, **forms)


def _answers(view, n, q, pairs, seeds):
    direction, allowed, max_hops = q
    kw = {"direction": direction, "allowed": _mask(allowed), "n_nodes": max(view.nodes, n)}
    out = []
    for s, d in pairs:
        found = kernels.bidirectional_bfs(view.adj, s, d, max_hops=max_hops, **kw)
        out.append(None if found is None else (found.nodes.tolist(), found.codes.tolist(), found.along.tolist()))
        every = kernels.all_shortest_paths(view.adj, s, d, max_hops=max_hops, limit=7, **kw)
        out.append(([(p.nodes.tolist(), p.codes.tolist(), p.along.tolist()) for p in every.paths],
                    every.truncated, every.relations.tolist()))
    reached = kernels.k_hop(view.adj, seeds, 2 if max_hops is None else max_hops, max_nodes=5, **kw)
    out.append((reached.nodes.tolist(), reached.hops.tolist(), reached.truncated))
    return out


@settings(max_examples=80, deadline=None)
@given(history=histories(), q=queries, data=st.data())
def test_the_python_forms_answer_as_the_compiled_kernels(history, q, data):
    """Run as Python (a command on a small store), the kernels build the same
    adjacency (snapshot, delta overlay, merges) and give the same paths,
    tie-breaking included, as compiled: same nodes, types and directions,
    the same capped sets."""
    n, index, _ = _replay(history)
    node = st.integers(0, n - 1)
    pairs = data.draw(st.lists(st.tuples(node, node), min_size=1, max_size=4))
    seeds = sorted(data.draw(st.sets(node, min_size=1, max_size=3)))
    compiled = _answers(index.view, n, q, pairs, seeds)
    with _as_python(csr), _as_python(kernels):
        _, python_index, _ = _replay(history)
        python_view = python_index.view
        interpreted = _answers(python_view, n, q, pairs, seeds)
        merged = csr.merge_delta(python_view.adj, max(python_view.nodes, n))
    assert interpreted == compiled
    for mine, theirs in zip(python_view.adj, index.view.adj, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(merged, csr.merge_delta(index.view.adj, max(index.view.nodes, n)), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_python_form_refuses_what_is_not_a_kernel():
    with pytest.raises(TypeError, match="not a graphmem kernel"):
        jit.python_form(len)


def _type_choices(nodes, model, direction, allowed):
    count = 1
    for a, b in zip(nodes, nodes[1:]):
        ok = set()
        for s, c, d in model:
            if allowed is not None and c not in allowed:
                continue
            if (direction != "in" and (s, d) == (a, b)) or (direction != "out" and (s, d) == (b, a)):
                ok.add(c)
        count *= len(ok)
    return count


@settings(max_examples=80, deadline=None)
@given(g=graphs(), q=queries, data=st.data())
def test_k_hop_and_induced_edges_match_networkx(g, q, data):
    n, index, model = g
    direction, allowed, hops = q
    view = index.view
    nxg = _nx(n, model, direction, allowed)
    seeds = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=3))
    found = kernels.k_hop(view.adj, sorted(seeds), hops, direction=direction, allowed=_mask(allowed),
                          n_nodes=max(view.nodes, n))
    want = nx.multi_source_dijkstra_path_length(nxg, seeds, cutoff=hops)
    got = dict(zip(found.nodes.tolist(), found.hops.tolist()))
    assert got == want and not found.truncated
    assert list(found.hops) == sorted(found.hops)  # breadth-first order
    for node, dist in got.items():
        path = found.path_to(node)
        assert len(path) == dist and int(path.nodes[0]) in seeds and int(path.nodes[-1]) == node
        _uses_only(path, model, allowed)

    cap = data.draw(st.integers(1, n + 1))
    capped = kernels.k_hop(view.adj, sorted(seeds), hops, direction=direction, allowed=_mask(allowed),
                           max_nodes=cap, n_nodes=max(view.nodes, n))
    kept = dict(zip(capped.nodes.tolist(), capped.hops.tolist()))
    assert len(kept) == min(cap, len(want)) and capped.truncated == (len(want) > cap)
    assert all(want[k] == v for k, v in kept.items())
    if kept:  # the nearest are kept
        assert all(k in kept for k, v in want.items() if v < max(kept.values()))

    rows, truncated = kernels.induced_edges(view.adj, list(got), allowed=_mask(allowed), n_nodes=max(view.nodes, n))
    expected = {(s, c, d) for s, c, d in model if s in got and d in got and (allowed is None or c in allowed)}
    assert {tuple(r) for r in rows.tolist()} == expected and len(rows) == len(expected) and not truncated
    if expected:
        limit = data.draw(st.integers(0, len(expected)))
        rows, truncated = kernels.induced_edges(view.adj, list(got), allowed=_mask(allowed), max_edges=limit,
                                                n_nodes=max(view.nodes, n))
        assert len(rows) == limit and truncated == (limit < len(expected))


@settings(max_examples=60, deadline=None)
@given(g=graphs(max_nodes=30))
def test_index_views_agree_with_the_model(g):
    n, index, model = g
    view = index.view
    assert len(index) == len(model) == view.relations
    src = np.array([s for s, _, _ in model], np.int64)
    dst = np.array([d for _, _, d in model], np.int64)
    code = np.array([c for _, c, _ in model], np.int32)
    assert has_edges(view.adj, src, dst, code).all()
    merged = merge_delta(view.adj, view.nodes)
    assert merged.snapshot_edges == len(model) and merged.nbrs.size == 2 * len(model)
    for node in range(n):  # both halves of the merged rows hold every edge
        assert row_edges(merged, node, OUT) == sorted((d, c) for s, c, d in model if s == node)
        assert row_edges(merged, node, IN) == sorted((s, c) for s, c, d in model if d == node)
        for adj in (view.adj, merged):  # the arrays form, over the delta (view.adj) and without one
            for side, want in ((OUT, [(d, c) for s, c, d in model if s == node]),
                               (IN, [(s, c) for s, c, d in model if d == node])):
                nbrs, types = row_arrays(adj, node, side)
                assert list(zip(nbrs.tolist(), types.tolist())) == sorted(want)
    assert _current(index) == model
    members = {name: set(ids.tolist()) for name, ids in index.type_members().items()}
    want: dict[str, set[int]] = {}
    for s, c, d in model:
        want.setdefault(index.type_names[c], set()).update((s, d))
    assert members == want


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.integers(-(1 << 63), (1 << 63) - 1) | st.integers(0, 8), max_size=60),
       dtype=st.sampled_from([np.int64, np.uint32, np.int32]))
def test_sorted_unique_is_np_unique(keys, dtype):
    """The sort-based unique that replaced ``np.unique`` on the reload path returns exactly what it did."""
    arr = np.array([k % (1 << 31) if dtype != np.int64 else k for k in keys], dtype)
    got = sorted_unique(arr)
    want = np.unique(arr)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_compaction_keeps_the_graph(monkeypatch):
    """With a tiny threshold every few writes fold the delta into the snapshot."""
    monkeypatch.setattr(adjacency, "DELTA_MIN", 3)
    rng = np.random.default_rng(5)
    index = EdgeIndex.from_arrays([0, 1], [1, 2], ["R", "R"])
    model = {(0, 0, 1), (1, 0, 2)}
    for _ in range(400):
        t = (int(rng.integers(0, 40)), int(rng.integers(0, 2)), int(rng.integers(0, 40)))
        index.code_for("S")
        if rng.random() < 0.6:
            index.add([t])
            model.add(t)
        else:
            index.remove([t])
            model.discard(t)
        assert index.view.delta <= 4
    assert index.compactions > 10
    assert _current(index) == model
    view = index.view
    nxg = _nx(40, model, "out", None)
    for s in range(0, 40, 7):
        for d in range(0, 40, 5):
            p = kernels.bidirectional_bfs(view.adj, s, d, direction="out", n_nodes=40)
            want = nx.shortest_path_length(nxg, s, d) if nx.has_path(nxg, s, d) else None
            assert (None if p is None else len(p)) == want


def test_bad_arguments_raise():
    adj = from_edges([0], [1], [0])
    with pytest.raises(graphmem.InvalidInput, match="direction"):
        kernels.bidirectional_bfs(adj, 0, 1, direction="up")
    with pytest.raises(graphmem.InvalidInput, match="max_hops"):
        kernels.bidirectional_bfs(adj, 0, 1, max_hops=-1)
    with pytest.raises(graphmem.InvalidInput, match="max_hops"):
        kernels.bidirectional_bfs(adj, 0, 1, max_hops=True)
    with pytest.raises(graphmem.InvalidInput, match="limit"):
        kernels.all_shortest_paths(adj, 0, 1, limit=0)
    with pytest.raises(graphmem.InvalidInput, match=">= 0"):
        kernels.k_hop(adj, [-1], 1)
    with pytest.raises(graphmem.InvalidInput, match="rows"):
        kernels.bidirectional_bfs(adj, 0, 1, n_nodes=1)


def test_ids_beyond_the_snapshot_and_generation_wrap():
    adj = from_edges([0], [1], [0])
    assert kernels.bidirectional_bfs(adj, 0, 50) is None  # a new entity with no relation
    ws = kernels.Workspace()
    ws.reserve(10)
    kernels.bidirectional_bfs(adj, 1, 0, ws=ws)
    ws.stamp = np.iinfo(np.int32).max - ws.size - 8
    for _ in range(8):  # runs out of stamps: marks are cleared, answers stay right
        assert len(kernels.bidirectional_bfs(adj, 1, 0, ws=ws)) == 1
        assert len(kernels.k_hop(adj, [0], 2, ws=ws)) == 2
    assert ws.stamp < 100


# -- the path cache -------------------------------------------------------------------


def _put(cache, key, rels, types=None, version=0):
    return cache.put(key, key, version=version, types=types, relations=rels)


def test_cache_drops_entries_whose_filter_admits_an_added_type():
    cache = PathCache(version=0)
    _put(cache, "any", [(1, 0, 2)])
    _put(cache, "only-knows", [(1, 0, 2)], types=frozenset({"KNOWS"}))
    _put(cache, "only-likes", [(1, 1, 2)], types=frozenset({"LIKES"}))
    _put(cache, "none", [])
    cache.edges_changed(np.array([[7, 0, 8]]), np.empty((0, 3), np.int64), 1, ["KNOWS", "LIKES"])
    assert [cache.get(k)[0] for k in ("any", "only-knows", "only-likes", "none")] == [False, False, True, False]


def test_cache_drops_only_entries_using_a_removed_relation():
    cache = PathCache(version=0)
    _put(cache, "uses", [(1, 0, 2), (2, 0, 3)])
    _put(cache, "reverse", [(2, 0, 1)])  # same endpoints, other direction: a different relation
    _put(cache, "other-type", [(1, 1, 2)])
    _put(cache, "elsewhere", [(5, 0, 6)])
    _put(cache, "none", [])
    cache.edges_changed(np.empty((0, 3), np.int64), np.array([[1, 0, 2]]), 1, ["KNOWS", "LIKES"])
    assert [cache.get(k)[0] for k in ("uses", "reverse", "other-type", "elsewhere", "none")] == [
        False, True, True, True, True]  # fmt: skip
    cache.edges_changed(np.empty((0, 3), np.int64), np.array([[5, 0, 6], [9, 9, 9], [8, 8, 8], [7, 7, 7],
                                                              [6, 6, 6]]), 2, ["KNOWS"])  # fmt: skip
    assert [cache.get(k)[0] for k in ("reverse", "other-type", "elsewhere", "none")] == [True, True, False, True]


def test_cache_refuses_answers_from_an_older_graph_and_cleans_up_on_eviction():
    cache = PathCache(maxsize=2, version=3)
    assert not _put(cache, "stale", [(1, 0, 2)], version=2)
    assert _put(cache, "a", [(1, 0, 2)], version=3) and _put(cache, "b", [(2, 0, 3)], version=3)
    assert _put(cache, "c", [(3, 0, 4)], version=3)  # evicts "a"
    assert len(cache) == 2 and cache.get("a") == (False, None)
    assert cache._by_relation.keys() == {(2, 0, 3), (3, 0, 4)}
    cache.clear()
    assert len(cache) == 0 and not cache._by_relation and not cache._by_filter


_CACHE_OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(0, 7), st.lists(st.integers(0, 3), max_size=3, unique=True)),
    st.tuples(st.just("get"), st.integers(0, 7), st.just([])),
    st.tuples(st.just("remove"), st.integers(0, 3), st.just([])),
), max_size=60)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(ops=_CACHE_OPS, maxsize=st.integers(1, 4))
def test_cache_matches_a_plain_lru_model(ops, maxsize):
    """Puts, gets (which refresh recency) and relation removals against a
    list-based LRU: same answers, and the indexes name exactly the live entries."""
    cache = PathCache(maxsize=maxsize, version=0)
    model: list[tuple[int, tuple]] = []  # (key, relations), least recently used first
    for op, key, rels in ops:
        if op == "put":
            triples = tuple((r, 0, r + 1) for r in rels)
            assert _put(cache, key, triples)
            model = [e for e in model if e[0] != key] + [(key, triples)]
            model = model[-maxsize:]
        elif op == "get":
            hit = [e for e in model if e[0] == key]
            assert cache.get(key) == ((True, key) if hit else (False, None))
            model = [e for e in model if e[0] != key] + hit
        else:
            gone = (key, 0, key + 1)
            cache.edges_changed(np.empty((0, 3), np.int64), np.array([gone]), 0, ["R"])
            model = [e for e in model if gone not in e[1]]
        assert list(cache._lru) == [k for k, _ in model]
        assert cache._by_relation == {
            rel: {k for k, rs in model if rel in rs} for _, rs in model for rel in rs}
        assert set().union(*cache._by_filter.values()) == {k for k, _ in model}


def test_cache_size_must_be_positive():
    with pytest.raises(graphmem.InvalidInput, match="maxsize must be a positive int"):
        PathCache(maxsize=0)


def test_index_tells_listeners_before_readers_see_a_change():
    index = EdgeIndex.from_arrays([0], [1], ["R"])
    seen = []

    class Listener:
        def edges_changed(self, added, removed, version, type_names):
            seen.append((added.tolist(), removed.tolist(), version, index.view.version))

    index.attach("probe", Listener)
    index.add([(1, 0, 2), (0, 0, 1)])  # (0, R, 1) exists: not a change
    index.remove([(0, 0, 1), (5, 0, 6)])
    index.remove([(5, 0, 6)])  # nothing changes: no call
    assert seen == [([[1, 0, 2]], [], 1, 0), ([], [[0, 0, 1]], 2, 1)]


def test_readers_see_whole_writes_while_a_writer_runs():
    """Each reader runs on one view: a path either uses the rung a batch adds
    or not, never half a batch, and every relation of it exists in that view."""
    n = 400
    index = EdgeIndex.from_arrays(np.arange(n - 1), np.arange(1, n), ["R"] * (n - 1))
    code = index.code_of("R")
    shortcut = [(0, code, 200), (200, code, 399)]  # written and deleted together: 2 hops when present
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            view = index.view
            p = kernels.bidirectional_bfs(view.adj, 0, n - 1, direction="out", n_nodes=view.nodes)
            rels = p.relations()
            ok = has_edges(view.adj, [r[0] for r in rels], [r[2] for r in rels], [r[1] for r in rels]).all()
            if not ok or len(p) not in (2, n - 1):
                errors.append(len(p))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(300):
        index.add(shortcut)
        index.remove(shortcut)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
