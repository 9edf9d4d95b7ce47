"""Namespaces (issue 7): names unique per namespace, every read and write confined to it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.interchange.transfer import export_jsonl


def _vec(i: int) -> np.ndarray:
    v = np.zeros(8, np.float32)
    v[i % 8] = 1.0
    v[(i + 3) % 8] = 0.5
    return v


def test_the_same_name_in_two_namespaces_is_two_entities(mem):
    a, b = mem.namespace("project-a"), mem.namespace("project-b")
    a.add_entity("Alice", text="in a", embedding=_vec(0))
    b.add_entity("Alice", text="in b", embedding=_vec(0))
    a.add_entity("Acme", embedding=_vec(1))
    a.add_relation("Alice", "WORKS_AT", "Acme")
    assert a.get_entity("Alice").text == "in a" and b.get_entity("Alice").text == "in b"
    assert a.get_entity("Alice").id != b.get_entity("Alice").id
    assert mem.get_entity("Alice") is None  # the default namespace is another one
    assert [n.name for n in a.neighbors("Alice")] == ["Acme"] and b.neighbors("Alice") == []
    with pytest.raises(graphmem.NotFound):
        b.add_relation("Alice", "WORKS_AT", "Acme")  # Acme is not in b
    with pytest.raises(graphmem.NotFound):
        b.shortest_path("Alice", "Acme")
    assert [h.name for h in b.search(_vec(1), k=5)] == ["Alice"]
    assert {h.name for h in a.search(_vec(0), k=5)} == {"Alice", "Acme"}
    assert len(a) == 2 and len(b) == 1 and len(mem) == 0
    assert [(i.name, i.entities, i.relations) for i in mem.namespaces()] == [("project-a", 2, 1), ("project-b", 1, 0)]
    assert [e.name for e in b.iter_entities()] == ["Alice"] and list(b.iter_relations()) == []
    assert b.delete_entity("Acme") is False and a.get_entity("Acme") is not None


def test_views_share_the_store_and_only_the_owner_closes_it(disk_mem):
    view = disk_mem.namespace("x")
    view.add_entity("e")
    view.close()  # a view does not own the store
    assert not disk_mem.closed and view.get_entity("e") is not None
    assert repr(view).endswith("namespace=x read-write>")


def test_open_with_a_namespace_and_read_only_unknown_namespace(tmp_path, open_store):
    path = tmp_path / "s"
    with open_store(path, namespace="team") as mem:
        mem.add_entity("a")
    with open_store(path, namespace="team", read_only=True) as mem:
        assert mem.get_entity("a") is not None and mem.namespace_name == "team"
    with pytest.raises(graphmem.NotFound, match="no namespace 'nope'.*'team'"):
        open_store(path, namespace="nope", read_only=True)
    with pytest.raises(graphmem.InvalidInput, match="namespace"):
        open_store(path, namespace="bad\x1fname")
    with pytest.raises(graphmem.InvalidInput, match="namespace"):
        graphmem.open(embedder=None).namespace("")


def test_export_is_confined_to_the_namespace(tmp_path, mem):
    mem.namespace("a").add_entities([{"name": "x"}, {"name": "y"}])
    mem.namespace("a").add_relation("x", "R", "y")
    mem.namespace("b").add_entity("z")
    out = tmp_path / "a.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        export_jsonl(mem.namespace("a"), fh)
    text = out.read_text()
    assert '"x"' in text and '"y"' in text and '"z"' not in text


def test_cypher_cannot_join_namespaces(mem):
    mem.namespace("a").add_entity("x")
    mem.namespace("b").add_entity("y")
    with pytest.raises(graphmem.QueryError, match="different namespaces"):
        mem.cypher("MATCH (a:Entity {key: $a}), (b:Entity {key: $b}) "
                   "CREATE (a)-[:Relation {type: 'R', properties: '{}'}]->(b)",
                   {"a": "a\x1fx", "b": "b\x1fy"})
    assert mem.namespace("a").neighbors("x") == []


# -- no call leaks across namespaces (hypothesis) ----------------------------------------

SPACES = ["default", "p", "q"]
NAMES = ["a", "b", "c", "d"]
_op = st.one_of(
    st.tuples(st.just("entity"), st.sampled_from(SPACES), st.sampled_from(NAMES), st.integers(0, 7)),
    st.tuples(st.just("relation"), st.sampled_from(SPACES), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(SPACES), st.sampled_from(NAMES)),
    st.tuples(st.just("expire"), st.sampled_from(SPACES), st.sampled_from(NAMES)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=25))
def test_no_call_leaks_across_namespaces(open_store, ops):
    mem = open_store(None)
    model: dict[str, dict[str, int]] = {ns: {} for ns in SPACES}
    edges: dict[str, set[tuple[str, str]]] = {ns: set() for ns in SPACES}
    retired: dict[str, set[str]] = {ns: set() for ns in SPACES}  # expired: history that delete removes
    for op in ops:
        view = mem.namespace(op[1])
        ents, rels = model[op[1]], edges[op[1]]
        if op[0] == "entity":
            view.add_entity(op[2], embedding=_vec(op[3]))
            ents[op[2]] = op[3]
            retired[op[1]].discard(op[2])  # writing the name again revives it
        elif op[0] == "relation":
            if op[2] in ents and op[3] in ents:
                view.add_relation(op[2], "R", op[3])
                rels.add((op[2], op[3]))
            else:
                with pytest.raises(graphmem.NotFound):
                    view.add_relation(op[2], "R", op[3])
        else:
            if op[0] == "delete":
                assert view.delete_entity(op[2]) == (op[2] in ents or op[2] in retired[op[1]])
                retired[op[1]].discard(op[2])
            else:
                assert view.expire_entity(op[2]) == (op[2] in ents)
                if op[2] in ents:
                    retired[op[1]].add(op[2])
            ents.pop(op[2], None)
            rels -= {e for e in rels if op[2] in e}
    for ns in SPACES:
        view, ents, rels = mem.namespace(ns), model[ns], edges[ns]
        assert len(view) == len(ents)
        assert sorted(e.name for e in view.iter_entities()) == sorted(ents)
        assert sorted((r.source, r.target) for r in view.iter_relations()) == sorted(rels)
        for name in NAMES:
            got = view.get_entity(name)
            assert (got is not None) == (name in ents)
            if name in ents:
                assert got.namespace == ns
                expected = sorted({d for s, d in rels if s == name} | {s for s, d in rels if d == name})
                assert sorted({n.name for n in view.neighbors(name)}) == expected
                assert set(view.k_hop(name, 3).distances) <= set(ents)
        hits = view.search(_vec(0), k=10)
        assert {h.name for h in hits} == set(ents)
        if ents:
            anchor = sorted(ents)[0]
            assert {h.name for h in view.search(_vec(1), k=10, near=anchor, max_hops=2)} <= set(ents)
            assert {e.name for e in view.recall(_vec(2), k=3, hops=2).entities} <= set(ents)
    listed = {info.name: info.entities for info in mem.namespaces()}
    assert listed == {ns: len(ents) for ns, ents in model.items() if ents}


def test_stats_on_a_view_count_its_namespace_and_name_the_store_totals(mem):
    """Issue 17.6: stats()["entities"] on a view counted every namespace (19 where len() was 6)."""
    mem.add_entities([{"name": f"d{i}", "type": "Doc"} for i in range(13)])
    mem.add_relations([(f"d{i}", "NEXT", f"d{i + 1}") for i in range(12)])
    view = mem.namespace("p")
    view.add_entities([{"name": f"x{i}", "type": "Person"} for i in range(6)])
    view.add_relations([("x0", "KNOWS", "x1"), ("x1", "KNOWS", "x2")])
    view.expire_entity("x5")  # expired: no longer counted, as by len()
    stats = view.stats()
    assert (stats["entities"], len(view)) == (5, 5)
    assert (stats["relations"], stats["entity_types"], stats["relation_types"]) == (2, {"Person": 5}, {"KNOWS": 2})
    assert (stats["store_entities"], stats["store_relations"]) == (18, 14)
    assert stats["namespaces"] == {"default": {"entities": 13, "relations": 12}, "p": {"entities": 5, "relations": 2}}
    top = mem.stats()
    assert (top["entities"], top["relations"], top["store_entities"]) == (len(mem), 12, 18)
