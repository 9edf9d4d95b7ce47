"""The warm-up that ``make setup`` runs compiles every kernel signature real use needs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import graphmem
from graphmem.warm import compile_sources, compiled_signatures, warm

from .conftest import ENGINE


@pytest.mark.engine
def test_a_workload_after_the_warm_up_compiles_nothing_new(tmp_path):
    """If the library called a kernel with other argument types than the
    warm-up did (int32 for int64, a read-only array, another layout), numba
    would compile that signature on the first query of a fresh install: the
    16 s first path this warm-up exists to remove."""
    before = warm()
    assert {name for name, sigs in before.items() if sigs} >= {
        "graphmem.algorithms.paths._shortest", "graphmem.algorithms.paths._all_shortest",
        "graphmem.algorithms.paths._reach_packed", "graphmem.algorithms.paths._induced",
        "graphmem.algorithms.csr._build", "graphmem.algorithms.csr._merge", "graphmem.algorithms.scoring._scores",
        "graphmem.algorithms.near._near",
    }  # fmt: skip
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=(n, 24)).astype(np.float32)
    src, dst = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
    with graphmem.open(tmp_path / "s", engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"n{i}", "type": f"T{i % 5}", "embedding": x[i]} for i in range(n)])
        mem.add_relations([{"source": f"n{a}", "type": f"K{(a + b) % 4}", "target": f"n{b}"}
                           for a, b in zip(src.tolist(), dst.tolist()) if a != b])  # fmt: skip
        mem.search(x[1], k=3)
    with graphmem.open(tmp_path / "s", engine=ENGINE, embedder=None) as mem:
        for i in range(20):
            mem.shortest_path(f"n{i}", f"n{n - 1 - i}", types=["K1", "K2"] if i % 2 else None)
            mem.paths_between(f"n{i}", f"n{i + 50}", direction=("out", "in", "both")[i % 3])
        mem.delete_entity("n7")
        mem.add_relation("n1", "K9", "n2")
        mem.k_hop("n1", 3, types=["K9", "K0"])
        mem.subgraph(["n1", "n2", "n3"], hops=2)
        mem.search(x[2], k=5, near="n1", max_hops=3, rank="hybrid")
        mem.search(x[3], k=5, near=["n1", "n4"], max_hops=2)  # the one-call kernel, names from the saved keys
        mem.search(x[3], k=5, near="n2", relation_types=["K1"], direction="out")
    after = compiled_signatures()
    assert {k: v for k, v in after.items() if v != before.get(k, frozenset())} == {}


def test_the_warm_up_byte_compiles_modules_a_store_does_not_import(tmp_path, monkeypatch):
    """The command line's modules too, so a first CLI call does not compile them."""
    import importlib.util

    import graphmem.console.render as render

    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # leave the checkout's own caches alone
    cached = Path(importlib.util.cache_from_source(render.__file__))
    assert str(cached).startswith(str(tmp_path)) and not cached.exists()
    assert compile_sources()
    assert cached.exists()
