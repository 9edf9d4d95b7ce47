"""The NumPy paths of ``incident_edges`` and ``from_edges`` (used until numba
is loaded, so a process's first answers need no compiler) give exactly the
compiled kernels' arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphmem.algorithms import csr
from graphmem.index.adjacency import EdgeIndex

_triple = st.tuples(st.integers(0, 12), st.integers(0, 2), st.integers(0, 12))


@settings(max_examples=150, deadline=None)
@given(base=st.lists(_triple, max_size=40), ops=st.lists(st.tuples(st.booleans(), _triple), max_size=40),
       nodes=st.lists(st.integers(0, 15), max_size=12))
def test_numpy_incident_edges_equal_the_kernels(base, ops, nodes):
    base = sorted(set(base))
    index = EdgeIndex.from_arrays([s for s, _, _ in base], [d for _, _, d in base], [f"T{c}" for _, c, _ in base])
    for add, (s, c, d) in ops:  # left in the delta overlay: additions past the snapshot's rows, removals
        triple = (s, index.code_for(f"T{c}"), d)
        index.add([triple]) if add else index.remove([triple])
    adj = index.view.adj
    wanted = np.array(nodes, np.int64)
    got = csr._incident_numpy(adj, wanted)
    expected = csr._incident(adj, wanted) if len(wanted) else np.empty((0, 3), np.int64)
    assert got.dtype == np.int64 and got.shape[1] == 3
    assert got.tolist() == expected.tolist()


def test_incident_edges_takes_the_numpy_path_until_numba_is_loaded(monkeypatch):
    index = EdgeIndex.from_arrays([0, 1, 2], [1, 2, 0], ["R", "R", "S"])
    monkeypatch.setattr(csr.jit, "loaded", lambda: False)
    monkeypatch.setattr(csr, "_incident", lambda adj, nodes: (_ for _ in ()).throw(AssertionError("compiled")))
    assert csr.incident_edges(index.view.adj, np.array([1])).tolist() == [[1, 0, 2], [0, 0, 1]]


_edge = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 3))


@settings(max_examples=200, deadline=None)
@given(edges=st.lists(_edge, min_size=1, max_size=60), extra_rows=st.integers(0, 4))
def test_numpy_build_equals_the_kernels(edges, extra_rows):
    """Repeated edges, self-loops, hubs past the kernel's insertion-sort length
    (a node with more than 32 neighbours on one side) and rows with no edge."""
    src = np.array([s for s, _, _ in edges], np.int64)
    dst = np.array([d for _, d, _ in edges], np.int64)
    types = np.array([t for _, _, t in edges], np.int32)
    n_rows = int(max(src.max(), dst.max())) + 1 + extra_rows
    got = csr._build_numpy(src, dst, types, n_rows)
    expected = csr._build(src, dst, types, n_rows)
    for mine, theirs in zip(got, expected):
        assert mine.dtype == theirs.dtype and mine.tolist() == theirs.tolist()


def test_a_hub_built_in_numpy_equals_the_kernels():
    rng = np.random.default_rng(7)
    src = np.concatenate((np.zeros(300, np.int64), rng.integers(0, 50, 300)))
    dst = np.concatenate((rng.integers(0, 50, 300), np.zeros(300, np.int64)))
    types = rng.integers(0, 3, 600).astype(np.int32)
    for mine, theirs in zip(csr._build_numpy(src, dst, types, 50), csr._build(src, dst, types, 50)):
        assert mine.tolist() == theirs.tolist()


def test_from_edges_builds_in_numpy_until_numba_is_loaded(monkeypatch):
    monkeypatch.setattr(csr.jit, "loaded", lambda: False)
    monkeypatch.setattr(csr, "_build", lambda *args: (_ for _ in ()).throw(AssertionError("compiled")))
    adj = csr.from_edges([0, 1, 1], [1, 2, 2], [0, 0, 0])
    assert adj.rows.tolist() == [[0, 1], [1, 2], [3, 3], [4, 4]] and adj.nbrs.tolist() == [1, 2, 0, 1]
    big = np.arange(csr.NUMPY_BUILD_UP_TO + 1, dtype=np.int64)
    with pytest.raises(AssertionError, match="compiled"):  # past the limit the compiled build is worth its wait
        csr.from_edges(big, big, np.zeros(big.size, np.int32))



@settings(max_examples=200, deadline=None)
@given(edges=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6),
                                st.one_of(st.sampled_from([0, 1, 2**31 - 1]), st.integers(0, 2**31 - 1))),
                      min_size=1, max_size=60))  # fmt: skip
def test_numpy_build_equals_the_kernels_for_every_type_code(edges):
    """Type codes up to the int32 maximum, in hubs (past the kernel's
    insertion-sort length, where it sorts packed keys) and short rows."""
    src = np.array([s for s, _, _ in edges], np.int64)
    dst = np.array([d for _, d, _ in edges], np.int64)
    types = np.array([t for _, _, t in edges], np.int32)
    n_rows = int(max(src.max(), dst.max())) + 1
    for mine, theirs in zip(csr._build_numpy(src, dst, types, n_rows), csr._build(src, dst, types, n_rows)):
        assert mine.dtype == theirs.dtype and mine.tolist() == theirs.tolist()


@pytest.mark.parametrize("loaded", [False, True])
def test_from_edges_refuses_a_negative_type_code(monkeypatch, loaded):
    """Both builds pack the type into a key's low bits: a negative code set the
    neighbour's bits (neighbour 0 read back as -1), in NumPy for any row and
    in the kernel for a hub, so from_edges refuses one on either path."""
    monkeypatch.setattr(csr.jit, "loaded", lambda: loaded)
    with pytest.raises(ValueError, match="type codes"):
        csr.from_edges([0], [0], [-1])
    with pytest.raises(ValueError, match="type codes"):
        csr.from_edges(np.zeros(40, np.int64), np.zeros(40, np.int64), np.full(40, -(2**31), np.int32))
