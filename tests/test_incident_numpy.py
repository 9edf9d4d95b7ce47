"""The NumPy path of ``incident_edges`` (used until numba is loaded, so a
process's first answers need no compiler) gives exactly the compiled kernel's rows."""

from __future__ import annotations

import numpy as np
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
