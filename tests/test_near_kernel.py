"""The one-call near search kernel against the steps it replaces and against networkx + numpy.

:func:`graphmem.algorithms.near.near_top_k` must give exactly what the
general path gives (``k_hop``, the ball's candidates with a vector,
``exact_top_k``, ``Reach.paths_to``): the same ids, the same score bits, the
same paths. Random typed multigraphs with a delta overlay (the strategy of
``test_path_kernels``), vectors drawn from a small pool so that many scores
tie, some entities without a vector, every direction, relation type masks
and radius, several seeds (duplicates too).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.algorithms import paths as kernels
from graphmem.algorithms.near import MAX_K, NearTop, near_top_k
from graphmem.algorithms.paths import Reach
from graphmem.algorithms.scoring import exact_top_k

from .test_path_kernels import _mask, _nx, graphs, queries

DIM = 6


@st.composite
def vectors(draw, n):
    """(rows, inv_norms, live) for ids ``0..n-1`` (a few rows more than ids, as
    the index grows ahead): rows from a pool of ``1..4`` int8 vectors (ties),
    the zero vector among them sometimes, some ids without a vector."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = rng.integers(-127, 128, (draw(st.integers(1, 4)), DIM)).astype(np.int8)
    if draw(st.booleans()):
        pool[0] = 0
    capacity = n + draw(st.integers(0, 3))
    rows = pool[rng.integers(0, len(pool), capacity)]
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.int32).astype(np.float32))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    live = (rng.random(capacity) < draw(st.floats(0.3, 1.0))).astype(np.uint8)
    rows[live == 0] = 0  # as VectorIndex.remove leaves them
    inv[live == 0] = 0
    return rows, inv, live[: draw(st.integers(0, capacity))]  # ids past the flags hold no vector


def _general(adj, seeds, hops, direction, mask, n_nodes, rows, inv, live, query, k):
    """The steps the kernel replaces, as the near search took them."""
    found = kernels.k_hop(adj, seeds, hops, direction=direction, allowed=mask, n_nodes=n_nodes)
    has_vector = [v < len(live) and live[v] != 0 for v in found.nodes.tolist()]
    ids = np.sort(found.nodes[np.array(has_vector, bool)])
    if len(ids) == 0:
        return found, ids, np.empty(0, np.int64), np.empty(0, np.float32), None
    top, scores = exact_top_k(rows, inv, ids, query, k)
    return found, ids, top, scores, found.paths_to(top)


@settings(max_examples=150, deadline=None)
@given(g=graphs(), q=queries, data=st.data())
def test_near_top_k_equals_the_general_path_and_networkx(g, q, data):
    n, index, model = g
    direction, allowed, hops = q
    view = index.view
    n_nodes = max(view.nodes, n)
    rows, inv, live = data.draw(vectors(n))
    seeds = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))  # duplicates and any order
    k = data.draw(st.integers(1, MAX_K))
    query = np.random.default_rng(data.draw(st.integers(0, 1000))).normal(size=DIM).astype(np.float32)
    query /= np.float32(np.sqrt(query.dot(query)))
    mask = _mask(allowed)

    found, candidates, top, scores, traced = _general(view.adj, seeds, hops, direction, mask, n_nodes, rows, inv,
                                                      live, query, k)  # fmt: skip
    # Keys for some ids (a saved map may lack the newest), dense or not, some
    # of another namespace: the kernel names the paths only when it can name every node.
    keyed = sorted(set(data.draw(st.lists(st.integers(0, n - 1), max_size=n + 3))))
    spaces = {i: data.draw(st.sampled_from(["ns", "ns", "nß", "other"])) for i in keyed}
    texts = [f"{spaces[i]}\x1fé{i}".encode() for i in keyed]
    keys = (np.array(keyed, np.int64), np.cumsum([0] + [len(t) for t in texts]).astype(np.int64),
            np.frombuffer(b"".join(texts), np.uint8))
    prefix = np.frombuffer("ns\x1f".encode(), np.uint8)
    answer = near_top_k(view.adj, seeds, hops, rows, inv, live, query, k, direction=direction, allowed=mask,
                        exact_limit=n + 10, n_nodes=n_nodes, keys=keys, prefix=prefix)  # fmt: skip
    assert isinstance(answer, NearTop) and answer.candidates == len(candidates)
    assert np.array_equal(np.asarray(answer.scores, np.float32), scores)  # the same bits
    path_nodes = [answer.ids[j] for j in answer.path]
    if traced is None:
        assert answer.offsets == [0] and answer.path == answer.codes == answer.along == answer.ids == []
    else:
        offsets, want_nodes, want_codes, want_along = traced
        assert answer.offsets == offsets.tolist() and path_nodes == want_nodes.tolist()
        assert answer.codes == want_codes.tolist() and answer.along == want_along.astype(int).tolist()
        assert [path_nodes[hi - 1] for hi in answer.offsets[1:]] == top.tolist()
    assert sorted(answer.ids) == sorted(set(path_nodes)) and len(answer.ids) == len(set(answer.ids))
    if keyed and all(spaces.get(i) == "ns" for i in answer.ids):  # no keys at all: not asked to name
        assert answer.names == [f"é{i}" for i in path_nodes]
    else:
        assert answer.names is None
    unnamed = near_top_k(view.adj, seeds, hops, rows, inv, live, query, k, direction=direction, allowed=mask,
                         exact_limit=n + 10, n_nodes=n_nodes)  # fmt: skip
    assert unnamed.names is None and unnamed._replace(names=answer.names) == answer

    # The definition: networkx's ball, numpy's scores of the rows, ties to the smaller id.
    want = nx.multi_source_dijkstra_path_length(_nx(n, model, direction, allowed), set(seeds), cutoff=hops)
    ball = [v for v in want if v < len(live) and live[v]]
    exact = {v: float(rows[v].astype(np.float32) @ query) * float(inv[v]) for v in ball}
    expect = sorted(ball, key=lambda v: (-exact[v], v))[:k]
    got = [path_nodes[hi - 1] for hi in answer.offsets[1:]]
    assert len(got) == len(expect)
    # Distinct pool vectors score apart; equal ones tie exactly: the ranks agree
    # up to float rounding between distinct vectors with near-equal scores.
    assert [round(exact[v], 4) for v in got] == [round(exact[v], 4) for v in expect]
    for lo, hi in zip(answer.offsets, answer.offsets[1:]):
        assert hi - lo - 1 == want[path_nodes[hi - 1]] and path_nodes[lo] in seeds

    # Past the exact limit nothing is scored: the ball comes back as k_hop finds it.
    if len(candidates):
        ball_back = near_top_k(view.adj, seeds, hops, rows, inv, live, query, k, direction=direction, allowed=mask,
                               exact_limit=len(candidates) - 1, n_nodes=n_nodes)  # fmt: skip
        assert isinstance(ball_back, Reach)
        for name in ("nodes", "hops", "parents", "codes", "along", "_order"):
            mine, theirs = getattr(ball_back, name), getattr(found, name)
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
        assert ball_back.truncated == found.truncated


def test_ties_at_the_kth_place_go_to_the_smaller_id():
    """A star whose leaves all hold the same vector: the k kept are the k smallest ids."""
    from graphmem.algorithms.csr import from_edges

    leaves = np.arange(1, 40)
    adj = from_edges(np.zeros(len(leaves), np.int64), leaves, np.zeros(len(leaves), np.int32))
    rows = np.tile(np.array([[3, 4]], np.int8), (40, 1))
    rows[0] = [-3, -4]
    inv = np.full(40, 0.2, np.float32)
    live = np.ones(40, np.uint8)
    answer = near_top_k(adj, [0], 1, rows, inv, live, np.array([0.6, 0.8], np.float32), 5, exact_limit=100)
    assert [answer.ids[answer.path[hi - 1]] for hi in answer.offsets[1:]] == [1, 2, 3, 4, 5]
    assert answer.candidates == 40


def test_a_name_holding_the_joining_byte_is_left_to_the_caller():
    from graphmem.algorithms.csr import from_edges

    adj = from_edges(np.array([0]), np.array([1]), np.array([0], np.int32))
    rows = np.array([[1, 0], [0, 1]], np.int8)
    texts = [b"n\x1fa", b"n\x1fb\x1fc"]
    keys = (np.array([0, 1]), np.array([0, 3, 8]), np.frombuffer(b"".join(texts), np.uint8))
    prefix = np.frombuffer(b"n\x1f", np.uint8)
    args = (adj, [0], 1, rows, np.ones(2, np.float32), np.ones(2, np.uint8), np.array([1, 0], np.float32))
    assert near_top_k(*args, 1, exact_limit=9, keys=keys, prefix=prefix).names == ["a"]
    assert near_top_k(*args, 2, exact_limit=9, keys=keys, prefix=prefix).names is None


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["upsert", "remove"]), st.lists(st.integers(0, 3000), max_size=8)),
                      max_size=12),
       installed=st.lists(st.integers(0, 50), max_size=10, unique=True))
def test_the_vector_index_live_flags_mirror_its_labels(steps, installed):
    """What the kernel reads as "holds a vector" is the index's labels after any
    history of writes and removals, from empty or from installed (saved) rows."""
    from pyroaring import BitMap

    from graphmem.index.vectors import VectorIndex

    index = VectorIndex(4)
    try:
        if installed:
            end = max(installed) + 1
            rows = np.ones((end, 4), np.int8)
            index.install_rows(rows, np.full(end, 0.5, np.float32), np.ones(end, np.float32), BitMap(installed))
        for op, ids in steps:
            ids_arr = np.array(sorted(set(ids)), np.int64)
            if op == "upsert":
                index.upsert(ids_arr, np.ones((len(ids_arr), 4), np.int8), np.ones(len(ids_arr), np.float32))
            else:
                index.remove(ids_arr)
        rows, inv, live, _ = index.with_rows(lambda *arrays: arrays)
        assert len(live) == len(rows) == len(inv) and type(rows) is np.ndarray
        assert np.flatnonzero(live).tolist() == index.labels.to_array().tolist()
    finally:
        index.close()
