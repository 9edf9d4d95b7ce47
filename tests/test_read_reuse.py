"""A read-only open that takes over what the previous one loaded (``graphmem.open(reuse=)``),
and the name index behind ``Memory.find_names`` / ``Memory.types_of`` (issue 22: the viewer
opens the store per request, so what it loads must survive between requests while the store
is unchanged, and its name search must not scan the store)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.errors import InvalidInput

pytestmark = pytest.mark.engine


def _build(path, engine):
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": "Ada", "type": "Person", "embedding": [1.0, 0.0]},
                          {"name": "adam", "type": "Person", "embedding": [0.6, 0.8]},
                          {"name": "Bob", "type": "Robot", "embedding": [0.0, 1.0]}])  # fmt: skip
        mem.add_relation("Ada", "KNOWS", "Bob")


def _warm(path, engine, reuse=None):
    mem = graphmem.open(path, engine=engine, embedder=None, read_only=True, reuse=reuse)
    mem.neighbors("Ada"), mem.search([1.0, 0.0], 1), mem.find_names("a")
    return mem


def test_a_reopen_of_an_unchanged_store_takes_over_what_the_last_one_loaded(tmp_path, engine):
    path = tmp_path / "store"
    _build(path, engine)
    first = _warm(path, engine)
    first.close()
    second = graphmem.open(path, engine=engine, embedder=None, read_only=True, reuse=first)
    stats = second.stats()
    assert stats["derived_last_load"] == {"source": "reused"} and stats["vectors"]["last_load"]["source"] == "reused"
    assert [n.name for n in second.neighbors("Ada")] == ["Bob"]
    assert [h.name for h in second.search([1.0, 0.0], 1)] == ["Ada"]
    assert [e.name for e in second.find_names("A")] == ["Ada", "adam"]
    second.close()


def test_a_write_in_between_makes_the_reopen_load_afresh(tmp_path, engine):
    path = tmp_path / "store"
    _build(path, engine)
    first = _warm(path, engine)
    first.close()
    with graphmem.open(path, engine=engine, embedder=None) as agent:
        agent.add_entity("Adele", type="Person", embedding=[0.9, 0.1])
        agent.add_relation("Ada", "KNOWS", "Adele")
    with graphmem.open(path, engine=engine, embedder=None, read_only=True, reuse=first) as second:
        assert second.stats()["derived_last_load"] == {}  # nothing taken over: loaded on use
        assert sorted(n.name for n in second.neighbors("Ada")) == ["Adele", "Bob"]
        assert [e.name for e in second.find_names("ad")] == ["Ada", "adam", "Adele"]
        assert [h.name for h in second.search([0.9, 0.1], 1)] == ["Adele"]


def test_reuse_is_refused_unless_both_are_read_only_and_the_old_one_is_closed(tmp_path, engine):
    path = tmp_path / "store"
    _build(path, engine)
    first = _warm(path, engine)
    with pytest.raises(InvalidInput, match="closed read-only"):
        graphmem.open(tmp_path / "other", engine=engine, embedder=None, read_only=True, reuse=first)
    first.close()
    with pytest.raises(InvalidInput, match="read-only open"):
        graphmem.open(path, engine=engine, embedder=None, reuse=first)
    with pytest.raises(InvalidInput, match="closed read-only"):
        graphmem.open(path, engine=engine, embedder=None, read_only=True, reuse="first")  # type: ignore[arg-type]


def test_find_names_and_types_of_follow_writes_namespaces_and_bad_input(tmp_path, engine):
    with graphmem.open(tmp_path / "store", engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "Bob", "type": "Robot"}])
        assert [e.name for e in mem.find_names("a")] == ["Ada"]
        mem.add_entity("alan", type="Person")
        mem.delete_entity("Ada")
        mem.namespace("other").add_entity("Al", type="Robot")
        assert mem.find_names("A") == [graphmem.NameEntry("alan", "Person")]
        assert mem.namespace("other").find_names("a") == [graphmem.NameEntry("Al", "Robot")]
        assert mem.find_names(type="Robot") == [graphmem.NameEntry("Bob", "Robot")]
        assert mem.find_names("zz") == [] and mem.find_names(type="Nothing") == []
        assert mem.types_of(["Bob", "Ada", "Al"]) == ["Robot", None, None]
        for bad in ({"prefix": 3}, {"limit": 0}, {"type": 3}):
            with pytest.raises(InvalidInput):
                mem.find_names(**bad)
        with pytest.raises(InvalidInput):
            mem.types_of("Bob")


_names = st.lists(st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=6),
                  min_size=1, max_size=30, unique=True)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=_names, prefix=st.text(st.characters(codec="utf-8", categories=("L", "N")), max_size=2),
       limit=st.integers(1, 8), data=st.data())  # fmt: skip
def test_find_names_matches_a_sort_of_the_names(names, prefix, limit, data):
    types = data.draw(st.lists(st.sampled_from(["A", "B"]), min_size=len(names), max_size=len(names)))
    with graphmem.open(embedder=None) as mem:
        mem.add_entities([{"name": n, "type": t} for n, t in zip(names, types)])
        ordered = sorted(zip(names, types), key=lambda nt: (nt[0].lower(), nt[0]))
        expected = [(n, t) for n, t in ordered if n.lower().startswith(prefix.lower())]
        assert [(e.name, e.type) for e in mem.find_names(prefix, limit=limit)] == expected[:limit]
        typed = [(n, t) for n, t in expected if t == "A"]
        assert [(e.name, e.type) for e in mem.find_names(prefix, limit=limit, type="A")] == typed[:limit]
        assert mem.types_of(names) == types


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 50])
def test_history_with_a_limit_is_the_tail_of_the_whole_history(tmp_path, engine, limit):
    """The viewer's entity panel asks a bounded history (a hub's is as long as its degree)."""
    with graphmem.open(tmp_path / "store", engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": n} for n in ("hub", "a", "b", "c", "d")])
        # One batch: equal write times, so the cut falls inside a tie.
        mem.add_relations([("hub", t, n) for t in ("R", "S") for n in ("a", "b", "c")] + [("d", "R", "hub")])
        mem.add_relation("c", "S", "hub")
        mem.add_relation("hub", "R", "hub")
        mem.expire_relation("hub", "R", "a")
        mem.add_entity("hub", text="again")
        whole = mem.history("hub")
        cut = mem.history("hub", limit=limit)
        assert cut.relations == whole.relations[-limit:] and cut.entity == whole.entity[-limit:]
        with pytest.raises(InvalidInput):
            mem.history("hub", limit=0)


def test_a_detached_memory_answers_from_memory_while_an_agent_holds_the_store(tmp_path, engine):
    path = tmp_path / "store"
    _build(path, engine)
    mem = _warm(path, engine)
    mem.type_summary()
    view = mem.detached()
    mem.close()
    with graphmem.open(path, engine=engine, embedder=None) as agent:  # the store is free: nothing holds it
        assert view.unchanged()  # open, not written
        assert [n.name for n in view.neighbors("Ada")] == ["Bob"]
        assert [p.nodes for p in view.all_shortest_paths("Ada", "Bob")] == [("Ada", "Bob")]
        assert [h.name for h in view.search([1.0, 0.0], 1)] == ["Ada"]
        assert [e.name for e in view.find_names("a")] == ["Ada", "adam"] and view.types_of(["Bob"]) == ["Robot"]
        assert view.type_summary().links == [("Person", "KNOWS", "Robot", 1)]
        for read in (lambda: view.get_entity("Ada"), lambda: view.history("Ada"),
                     lambda: view.get_relation("Ada", "KNOWS", "Bob")):  # fmt: skip
            with pytest.raises(graphmem.StoreDetached):
                read()
        agent.add_entity("Eve")
        assert not view.unchanged()
    with pytest.raises(InvalidInput, match="detached"):
        graphmem.open(embedder=None).detached()


def test_a_detached_memory_of_a_memory_that_loaded_nothing_says_so(tmp_path, engine):
    path = tmp_path / "store"
    _build(path, engine)
    with graphmem.open(path, engine=engine, embedder=None, read_only=True) as mem:
        view = mem.detached()
    with pytest.raises(graphmem.StoreDetached):
        view.neighbors("Ada")  # the graph state was never loaded: loading it needs the store
