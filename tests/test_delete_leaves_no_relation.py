"""A hard delete leaves no relation row behind, through the keyed and the batch statements.

kuzu 0.11.3's ``DETACH DELETE`` leaves some of a deleted node's relation rows
in the relation table, in both directions: deleting only the outgoing ones
first left incoming rows behind (4 here, 37 in a graph of 30,000 entities),
which the engine's own count and every Cypher scan still see, on disk too.
The oracle is the list of relations written minus those with a deleted end;
the engine's raw count, the graph state's count and a reopened store's must
all equal it.
"""

from __future__ import annotations

import random

import pytest

from graphmem.memory import removal

pytestmark = pytest.mark.engine

N, M = 2_000, 4_000
_RAW = "MATCH ()-[r:Relation]->() RETURN count(r) AS n"


@pytest.mark.parametrize("path", ["keyed", "batch"])
def test_deleted_entities_take_all_their_relations(open_store, tmp_path, monkeypatch, path):
    # Forcing the path: keyed below (each key its own statements), batch above.
    monkeypatch.setattr(removal, "DELETE_KEYED_PER_KEY", 0 if path == "keyed" else 10**9)
    rng = random.Random(7)
    mem = open_store(tmp_path / "store")
    mem.add_entities([{"name": f"e{i}"} for i in range(N)])
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < M:
        a, b = rng.randrange(N), rng.randrange(N)
        if a != b:
            pairs.add((a, b))
    mem.add_relations([(f"e{a}", "R", f"e{b}") for a, b in sorted(pairs)])
    alive = set(range(N))
    victims = rng.sample(range(N), N // 10)
    at = 0
    for size in (5, 10, 40):
        for _ in range(2):
            chunk = victims[at : at + size]
            at += size
            mem.delete_entities([f"e{v}" for v in chunk])
            alive -= set(chunk)
    expected = sum(1 for a, b in pairs if a in alive and b in alive)
    assert mem.cypher(_RAW)[0]["n"] == expected
    assert mem.stats()["relations"] == expected
    mem.close()
    again = open_store(tmp_path / "store")
    assert again.cypher(_RAW)[0]["n"] == expected
    assert again.stats()["relations"] == expected
