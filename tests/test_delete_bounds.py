"""Hard deletes through every plan removal.delete_plan can choose (keyed, the batch
forms with id bounds as parameters, with id bounds written in as literals), and
through the forms that join the keys (many keys), take exactly the deleted entities, their relations in both directions and their
versions, and nothing else.

The bounds only narrow the scan (the key filter decides), so a bound that missed
an id would leave that entity behind, and one that reached too far must still
leave other entities alone. Keys are deleted in runs of consecutive ids (as an
MCP client deletes what it just made) and scattered, current and expired alike,
against an oracle of the entities, relation rows and version rows that must
remain, read through the engine's own counts and again after a reopen.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.memory import removal

N = 40
_PAIRS = st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)), max_size=80)
_RUN = st.tuples(st.just("run"), st.integers(0, N - 1), st.integers(1, 12))
_SAMPLE = st.tuples(st.just("sample"), st.lists(st.integers(0, N - 1), min_size=1, max_size=12))
_PLANS = {"keyed": (True, False), "parameters": (False, False), "literals": (False, True), "model": None,
          "joined": None}
"""Forced (keyed, literal) answers of delete_plan; "joined": every delete of
more than one key through the forms that join the keys (as for more than
removal.BOUNDED_KEYS_MAX keys)."""


def _rows(mem: graphmem.Memory) -> tuple[int, int, dict[str, int]]:
    entities = mem.cypher("MATCH (e:Entity) RETURN count(e) AS n")[0]["n"]
    relations = mem.cypher("MATCH ()-[r:Relation]->() RETURN count(r) AS n")[0]["n"]
    versions = {row["k"]: row["n"] for row in mem.cypher("MATCH (v:EntityVersion) RETURN v.key AS k, count(v) AS n")}
    return entities, relations, versions


@pytest.mark.parametrize("plan", list(_PLANS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=_PAIRS, updated=st.sets(st.integers(0, N - 1), max_size=10),
       expired=st.sets(st.integers(0, N - 1), max_size=6),
       deletes=st.lists(st.one_of(_RUN, _SAMPLE), min_size=1, max_size=5), later=st.integers(0, 8))  # fmt: skip
def test_deletes_take_exactly_their_rows(engine, plan, monkeypatch, pairs, updated, expired, deletes, later):
    if _PLANS[plan] is not None:
        forced = _PLANS[plan]
        monkeypatch.setattr(removal, "delete_plan", lambda *_: forced)
    if plan == "joined":
        monkeypatch.setattr(removal, "BOUNDED_KEYS_MAX", 1)
        monkeypatch.setattr(removal, "JOINED_KEYED_PER_KEY", 10**9)  # never keyed but for one key
    with tempfile.TemporaryDirectory(prefix="graphmem-bounds-") as tmp:
        path = Path(tmp) / "store"
        mem = graphmem.open(path, engine=engine, embedder=None)
        try:
            names = [f"e{i}" for i in range(N)]
            mem.add_entities([{"name": name} for name in names])
            relations = {(a, b) for a, b in pairs if a != b}
            mem.add_relations([(names[a], "R", names[b]) for a, b in sorted(relations)])
            for i in sorted(updated):
                mem.add_entities([{"name": names[i], "observations": ["changed"]}])  # a version of the old one
            for i in sorted(expired):
                mem.expire_entity(names[i])
            # Entities made after the others, so that a run of the newest ids spans old and new ones.
            names += [f"late{j}" for j in range(later)]
            if later:
                mem.add_entities([{"name": name} for name in names[N:]])
            key = {row["name"]: row["k"] for row in mem.cypher("MATCH (e:Entity) RETURN e.name AS name, e.key AS k")}
            _, _, versions = _rows(mem)
            alive = set(range(len(names)))
            for kind, *args in deletes:
                if kind == "run":
                    start, length = args
                    chosen = list(range(start, min(start + length, len(names))))
                else:
                    chosen = [i % len(names) for i in args[0]]
                mem.delete_entities([names[i] for i in chosen])
                alive -= set(chosen)
            expected = (
                len(alive),
                sum(1 for a, b in relations if a in alive and b in alive),
                {key[names[i]]: versions[key[names[i]]] for i in alive if key[names[i]] in versions},
            )
            assert _rows(mem) == expected
        finally:
            mem.close()
        again = graphmem.open(path, engine=engine, embedder=None)
        try:
            assert _rows(again) == expected
        finally:
            again.close()
