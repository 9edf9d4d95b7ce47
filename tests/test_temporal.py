"""Bi-temporal facts and history (issue 7): validity, expiry, versions, time-travel reads, purge, migration."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.memory import facade as memory_module
from graphmem.store import schema
from graphmem.store.store import Store

UTC = timezone.utc


def _now() -> datetime:
    return datetime.now(UTC)


def _tick() -> datetime:
    """A system time strictly between the write just made and the next one."""
    time.sleep(0.002)
    moment = _now()
    time.sleep(0.002)
    return moment


@pytest.fixture
def people(mem):
    mem.add_entities([{"name": n, "embedding": np.eye(4, dtype=np.float32)[i]}
                      for i, n in enumerate(("Alice", "Acme", "Beta", "Bob"))])  # fmt: skip
    return mem


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"valid_from": datetime(2020, 1, 1)}, "naive datetime"),
        ({"valid_to": "2020-01-01"}, "timezone-aware datetime, not str"),
        ({"valid_from": datetime(2021, 1, 1, tzinfo=UTC), "valid_to": datetime(2020, 1, 1, tzinfo=UTC)},
         "must be after"),
        ({"valid_from": datetime(2021, 1, 1, tzinfo=UTC), "valid_to": datetime(2021, 1, 1, tzinfo=UTC)},
         "must be after"),
    ],
)
def test_bad_validity_is_refused_and_changes_nothing(people, kwargs, message):
    with pytest.raises(graphmem.InvalidInput, match=message):
        people.add_relation("Alice", "WORKS_AT", "Acme", **kwargs)
    with pytest.raises(graphmem.InvalidInput, match=message):
        people.add_entity("Carol", **kwargs)
    assert people.neighbors("Alice") == [] and people.get_entity("Carol") is None


def test_a_later_write_that_inverts_the_interval_is_refused(people):
    people.add_entity("Alice", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(graphmem.InvalidInput, match="must be after"):
        people.add_entity("Alice", valid_to=datetime(2019, 1, 1, tzinfo=UTC))
    people.add_relation("Alice", "R", "Bob", valid_to=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(graphmem.InvalidInput, match="must be after"):
        people.add_relation("Alice", "R", "Bob", valid_from=datetime(2031, 1, 1, tzinfo=UTC))
    assert len(people.history("Alice").relations) == 1


@pytest.mark.parametrize("bad", ["2020-01-01", 1700000000, datetime(2020, 1, 1), object()])
def test_reads_refuse_times_that_are_not_aware_datetimes(people, bad):
    for call in (
        lambda: people.get_entity("Alice", as_of=bad),
        lambda: people.neighbors("Alice", known_at=bad),
        lambda: people.shortest_path("Alice", "Bob", as_of=bad),
        lambda: people.k_hop("Alice", 1, known_at=bad),
        lambda: people.search(np.ones(4), as_of=bad),
    ):
        with pytest.raises(graphmem.InvalidInput, match="datetime"):
            call()


def test_purge_needs_a_bound(people):
    with pytest.raises(graphmem.InvalidInput, match="before="):
        people.purge()
    with pytest.raises(graphmem.InvalidInput, match="naive"):
        people.purge(before=datetime(2020, 1, 1))


def test_aware_datetimes_in_any_zone_are_the_same_instant(people):
    plus2 = timezone(timedelta(hours=2))
    people.add_relation("Alice", "R", "Bob", valid_to=datetime(2030, 1, 1, 2, tzinfo=plus2))
    rel = people.get_relation("Alice", "R", "Bob")
    assert rel.valid_to == datetime(2030, 1, 1, tzinfo=UTC)


# -- world time (as_of) --------------------------------------------------------------


def test_relation_validity_filters_every_read(people):
    past = _now() - timedelta(days=365)
    people.add_relation("Alice", "WORKS_AT", "Acme", valid_from=past - timedelta(days=30), valid_to=past)
    people.add_relation("Bob", "WORKS_AT", "Acme")
    # Now: the old job is over.
    assert [n.name for n in people.neighbors("Acme")] == ["Bob"]
    assert people.shortest_path("Alice", "Bob") is None
    assert dict(people.k_hop("Acme", 1).distances) == {"Acme": 0, "Bob": 1}
    # Then: it held.
    then = past - timedelta(days=1)
    assert [n.name for n in people.neighbors("Acme", as_of=then)] == ["Alice", "Bob"]
    assert people.shortest_path("Alice", "Bob", as_of=then).nodes == ("Alice", "Acme", "Bob")
    hits = people.search(np.eye(4, dtype=np.float32)[0], k=4, near="Bob", max_hops=2, as_of=then)
    assert {h.name for h in hits} == {"Alice", "Acme", "Bob"}
    assert {h.name for h in people.search(np.eye(4, dtype=np.float32)[0], k=4, near="Bob", max_hops=2)} == {
        "Acme", "Bob"}
    # valid_to is exclusive
    assert people.shortest_path("Alice", "Bob", as_of=past) is None


def test_entity_validity_hides_it_and_its_relations(people):
    ended = _now() - timedelta(days=1)
    people.add_relation("Alice", "KNOWS", "Bob")
    people.add_relation("Bob", "KNOWS", "Beta")
    people.add_entity("Bob", valid_to=ended)
    assert people.get_entity("Bob") is None
    assert people.get_entity("Bob", as_of=ended - timedelta(hours=1)).name == "Bob"
    assert people.neighbors("Alice") == []
    assert people.shortest_path("Alice", "Beta") is None
    with pytest.raises(graphmem.NotFound):
        people.shortest_path("Alice", "Bob")
    assert "Bob" not in {h.name for h in people.search(np.eye(4, dtype=np.float32)[3], k=4)}
    earlier = ended - timedelta(hours=1)
    assert people.shortest_path("Alice", "Beta", as_of=earlier).nodes == ("Alice", "Bob", "Beta")
    assert people.search(np.eye(4, dtype=np.float32)[3], k=1, as_of=earlier)[0].name == "Bob"


def test_an_entity_not_valid_now_has_no_neighbours(people):
    """Issue 17.6: neighbors() listed the neighbours of an entity whose validity
    had ended, where get_entity gave None and as_of=now NotFound."""
    ended = _now() - timedelta(days=1)
    people.add_relation("Bob", "KNOWS", "Alice")
    people.add_entity("Alice", valid_to=ended)
    assert people.get_entity("Alice") is None
    for kwargs in ({}, {"as_of": _now()}, {"direction": "in"}, {"types": ["KNOWS"]}):
        with pytest.raises(graphmem.NotFound):
            people.neighbors("Alice", **kwargs)
    assert people.neighbors("Bob") == []
    assert [n.name for n in people.neighbors("Alice", as_of=ended - timedelta(hours=1))] == ["Bob"]
    people.add_entity("Beta", valid_from=_now() + timedelta(days=1))  # not valid yet
    with pytest.raises(graphmem.NotFound):
        people.neighbors("Beta")


@pytest.mark.parametrize("path", ["one_by_one", "batched"])
def test_a_rewrite_with_nothing_new_makes_no_version(people, monkeypatch, path):
    """Issue 17.6: writing a relation again with the properties and validity it
    has recorded a second, identical version (and purge then removed one)."""
    from graphmem.memory import writes

    if path == "batched":
        monkeypatch.setattr(writes, "REWRITE_JOIN_MIN", 8)
    else:
        monkeypatch.setattr(writes, "REWRITE_JOIN_MAX", 0)
    _chain(people, 30)
    end = _now() + timedelta(days=3)
    people.add_relation("n0", "R", "n1", properties={"k": 1, "j": 2}, valid_to=end)
    before = people.history("n0").relations
    records = [{"source": f"n{i}", "type": "R", "target": f"n{i + 1}"} for i in range(29)]
    records[0].update(properties={"k": 1}, valid_to=end)  # a subset of what it holds: nothing new
    people.add_relations(records)
    people.add_relation("n0", "R", "n1", properties={"j": 2})
    assert people.history("n0").relations == before
    assert people.purge(before=_now())["relations"] == 1  # only the version {} that {"k", "j"} replaced
    # Something new still makes a version, in the same batch as unchanged ones.
    records[0]["properties"] = {"k": 3}
    records[5]["valid_to"] = end
    people.add_relations(records)
    assert [r.properties for r in people.history("n1").relations if r.source == "n0"] == [
        {"k": 1, "j": 2}, {"k": 3, "j": 2}]
    assert len(people.history("n5").relations) == 3  # n4-n5, and n5-n6 with its one earlier version
    assert people.get_relation("n0", "R", "n1").expired_at is None


def test_cached_path_is_not_served_after_its_relation_ends(people, monkeypatch):
    soon = _now() + timedelta(hours=1)
    people.add_relation("Alice", "KNOWS", "Bob", valid_to=soon)
    people.add_relation("Bob", "KNOWS", "Beta")
    assert people.shortest_path("Alice", "Beta").nodes == ("Alice", "Bob", "Beta")
    assert people.shortest_path("Alice", "Beta") is not None  # served from the cache
    later = (soon + timedelta(seconds=1)).replace(tzinfo=None)
    monkeypatch.setattr(memory_module, "utcnow", lambda: later)
    assert people.shortest_path("Alice", "Beta") is None
    assert people.neighbors("Alice") == []


def test_a_relation_that_starts_later_shortens_cached_paths_when_it_starts(people, monkeypatch):
    start = _now() + timedelta(hours=1)
    people.add_relation("Alice", "R", "Acme")
    people.add_relation("Acme", "R", "Beta")
    people.add_relation("Beta", "R", "Bob")
    people.add_relation("Alice", "R", "Bob", valid_from=start)
    assert len(people.shortest_path("Alice", "Bob")) == 3
    later = (start + timedelta(seconds=1)).replace(tzinfo=None)
    monkeypatch.setattr(memory_module, "utcnow", lambda: later)
    assert len(people.shortest_path("Alice", "Bob")) == 1


def _chain(mem, n):
    mem.add_entities([{"name": f"n{i}"} for i in range(n)])
    mem.add_relations([(f"n{i}", "R", f"n{i + 1}") for i in range(n - 1)])


def test_a_batch_of_rewrites_takes_the_batched_path_and_keeps_history(people, monkeypatch):
    from graphmem.memory import writes

    monkeypatch.setattr(writes, "REWRITE_JOIN_MIN", 8)  # the one-statement path even on a small graph
    _chain(people, 100)
    people.add_relation("n0", "R", "n1", properties={"keep": 1})
    start, end = _now() - timedelta(days=10), _now() - timedelta(days=5)
    written = people.add_relations([{"source": f"n{i}", "type": "R", "target": f"n{i + 1}", "valid_from": start,
                                     "valid_to": end, "properties": {"v": i}} for i in range(0, 99, 3)])
    assert written == 33
    # Every rewritten relation has a new version; the old one is history with its properties.
    versions = people.history("n0").relations
    assert [(v.properties, v.expired_at is None) for v in versions if v.target == "n1"] == [
        ({}, False), ({"keep": 1}, False), ({"keep": 1, "v": 0}, True)]
    assert people.get_relation("n3", "R", "n4").properties == {"v": 3}
    assert people.shortest_path("n0", "n99") is None  # n0-n1 ended 5 days ago
    assert len(people.shortest_path("n0", "n99", as_of=end - timedelta(days=1))) == 99
    state = people._derived.get()
    assert len(state.bounds.relations) == 33 and len(state.bounds.entities) == 0


def test_validity_rewrites_one_by_one_keep_what_they_do_not_change(people, monkeypatch):
    from graphmem.memory import writes

    monkeypatch.setattr(writes, "REWRITE_JOIN_MAX", 0)  # the per-row path, as on a large graph
    _chain(people, 20)
    start, end = _now() - timedelta(days=10), _now() + timedelta(days=10)
    people.add_relation("n0", "R", "n1", properties={"p": 1}, valid_from=start)
    people.add_relations([{"source": f"n{i}", "type": "R", "target": f"n{i + 1}", "valid_to": end}
                          for i in range(19)])  # fmt: skip
    current = people.get_relation("n0", "R", "n1")
    assert (current.properties, current.valid_from, current.valid_to) == ({"p": 1}, start.replace(
        microsecond=start.microsecond), end)
    assert [v.expired_at is None for v in people.history("n0").relations] == [False, False, True]
    with pytest.raises(graphmem.InvalidInput, match="must be after"):
        people.add_relation("n0", "R", "n1", valid_to=start - timedelta(days=1))
    bounds = people._derived.get().bounds
    assert len(bounds.relations) == 19
    assert len(people.shortest_path("n0", "n19", as_of=end - timedelta(days=1))) == 19
    assert people.shortest_path("n0", "n19", as_of=end) is None


def test_a_bad_record_in_a_batch_of_rewrites_changes_nothing(people, monkeypatch):
    from graphmem.memory import writes

    monkeypatch.setattr(writes, "REWRITE_JOIN_MIN", 8)
    _chain(people, 30)
    start = _now() - timedelta(days=10)
    people.add_relation("n5", "R", "n6", valid_from=start)
    records = [{"source": f"n{i}", "type": "R", "target": f"n{i + 1}", "valid_to": _now()} for i in range(29)]
    records[5]["valid_to"] = start - timedelta(days=1)  # before the stored valid_from: refused
    with pytest.raises(graphmem.InvalidInput, match="must be after"):
        people.add_relations(records)
    assert len(people.history("n0").relations) == 1
    assert len(people.history("n5").relations) == 3  # n4-n5, and n5-n6 with its one earlier version
    assert len(people._derived.get().bounds.relations) == 1
    assert len(people.shortest_path("n0", "n29")) == 29


def test_bounds_after_writes_equal_bounds_after_a_reload(disk_mem, open_store, tmp_path):
    _chain(disk_mem, 40)
    now = _now()
    disk_mem.add_relations([{"source": f"n{i}", "type": "R", "target": f"n{i + 1}",
                             "valid_from": now - timedelta(days=i + 1)} for i in range(0, 39, 2)])
    disk_mem.add_entities([{"name": f"n{i}", "valid_to": now + timedelta(days=i)} for i in range(0, 40, 5)])
    disk_mem.add_relation("n1", "R", "n2", valid_to=now - timedelta(days=1))
    disk_mem.expire_relation("n2", "R", "n3")
    disk_mem.delete_entity("n10")
    disk_mem.add_entity("n7")  # an update that does not touch validity keeps it unbounded
    live = disk_mem._derived.get().bounds
    disk_mem.close()
    with open_store(tmp_path / "store") as mem:
        loaded = mem._derived.get().bounds
        for mine, theirs in ((live.entities, loaded.entities), (live.relations, loaded.relations)):
            assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))
        assert len(loaded.entities) == 7 and len(loaded.relations) == 19
        at = temporal_micros(now)
        view = mem._graph(None, None)[1]
        hidden, removed = loaded.invalid_at(at)
        assert view is not None and set(view.hidden) == set(hidden.tolist())


def test_time_travel_reads_the_store_in_id_ranges(people, monkeypatch):
    from graphmem.store.store import Store

    _chain(people, 12)
    people.add_relation("n0", "R", "n11", valid_to=_now() + timedelta(days=1))
    before = _tick()
    people.expire_relation("n0", "R", "n1")
    people.delete_entity("n5")
    whole = people.shortest_path("n0", "n4", known_at=before)
    monkeypatch.setattr(Store.execute_arrow_by_id, "__kwdefaults__", {"chunk": 3})  # several ranges, some empty
    people._shared.views.clear()
    assert people.shortest_path("n0", "n4", known_at=before) == whole
    assert whole.nodes == ("n0", "n1", "n2", "n3", "n4")
    assert [n.name for n in people.neighbors("n0", known_at=before)] == ["n1", "n11"]
    assert people.shortest_path("n0", "n4") is None


def temporal_micros(moment):
    from graphmem.records import micros

    return micros(moment.astimezone(UTC).replace(tzinfo=None))


# -- system time (known_at), expiry and history --------------------------------------


def test_replaces_keeps_the_old_fact_as_history(people):
    people.add_relation("Alice", "WORKS_AT", "Acme", properties={"role": "engineer"})
    before = _tick()
    people.add_relation("Alice", "WORKS_AT", "Beta", replaces=True)
    assert [n.name for n in people.neighbors("Alice")] == ["Beta"]
    assert [n.name for n in people.neighbors("Alice", known_at=before)] == ["Acme"]
    assert people.shortest_path("Alice", "Acme") is None
    assert people.shortest_path("Alice", "Acme", known_at=before).relations == ("WORKS_AT",)
    history = people.history("Alice").relations
    assert [(r.target, r.expired_at is None) for r in history] == [("Acme", False), ("Beta", True)]
    assert history[0].properties == {"role": "engineer"}


def test_new_properties_make_a_new_version(people):
    people.add_relation("Alice", "KNOWS", "Bob", properties={"since": 2020})
    first = _tick()
    people.add_relation("Alice", "KNOWS", "Bob", properties={"how": "work"})
    assert people.get_relation("Alice", "KNOWS", "Bob").properties == {"since": 2020, "how": "work"}
    versions = people.history("Bob").relations
    assert [v.properties for v in versions] == [{"since": 2020}, {"since": 2020, "how": "work"}]
    assert versions[0].expired_at == versions[1].created_at
    people.add_relation("Alice", "KNOWS", "Bob")  # nothing new: no version
    assert len(people.history("Bob").relations) == 2
    assert [n.name for n in people.neighbors("Bob", known_at=first)] == ["Alice"]


def test_entity_updates_are_versioned_and_readable_back_in_time(people):
    people.add_entity("Alice", text="intern")
    t1 = _tick()
    people.add_entity("Alice", text="engineer", observations=["likes Rust"])
    t2 = _tick()
    people.add_entity("Alice", text="engineer")  # no change: no version
    versions = people.history("Alice").entity
    assert [v.text for v in versions] == [None, "intern", "engineer"]
    assert versions[-1].expired_at is None and all(v.expired_at is not None for v in versions[:-1])
    assert people.get_entity("Alice", known_at=t1).text == "intern"
    assert people.get_entity("Alice", known_at=t2).observations == ("likes Rust",)
    assert people.get_entity("Alice", known_at=datetime(2000, 1, 1, tzinfo=UTC)) is None


def test_expire_entity_is_the_soft_delete(people):
    people.add_relation("Alice", "KNOWS", "Bob")
    people.add_relation("Bob", "KNOWS", "Beta")
    alice_id = people.get_entity("Alice").id
    before = _tick()
    assert people.expire_entity("Alice") is True
    assert people.expire_entity("Alice") is False
    assert people.get_entity("Alice") is None
    assert people.neighbors("Bob") == [graphmem.Neighbor("Beta", "KNOWS", "out")]
    assert "Alice" not in {h.name for h in people.search(np.eye(4, dtype=np.float32)[0], k=4)}
    assert len(people) == 3
    assert people.get_entity("Alice", known_at=before).name == "Alice"
    assert people.shortest_path("Alice", "Beta", known_at=before).nodes == ("Alice", "Bob", "Beta")
    assert people.history("Alice").entity[-1].expired_at is not None
    # Writing the name again revives it: same id, a new life without the old relations.
    revived = people.add_entity("Alice", text="back", embedding=np.eye(4, dtype=np.float32)[0])
    assert revived.id == alice_id and revived.expired_at is None
    assert people.neighbors("Alice") == []
    assert people.search(np.eye(4, dtype=np.float32)[0], k=1)[0].name == "Alice"
    assert [v.text for v in people.history("Alice").entity] == [None, "back"]


def test_delete_is_the_hard_delete(people):
    people.add_relation("Alice", "KNOWS", "Bob", properties={"a": 1})
    people.add_relation("Alice", "KNOWS", "Bob", properties={"b": 2})
    people.add_entity("Alice", text="v2")
    assert people.delete_relation("Alice", "KNOWS", "Bob") is True
    assert people.history("Alice").relations == ()
    people.expire_entity("Bob")
    assert people.delete_entity("Bob") is True  # an expired entity can be deleted for good
    with pytest.raises(graphmem.NotFound):
        people.history("Bob")
    assert people.delete_entity("Alice") is True
    with pytest.raises(graphmem.NotFound):
        people.history("Alice")


def test_purge_removes_only_history_older_than_the_bound(people):
    people.add_relation("Alice", "WORKS_AT", "Acme")
    people.add_relation("Alice", "WORKS_AT", "Beta", replaces=True)
    people.add_entity("Alice", text="v2")
    people.expire_entity("Bob")
    middle = _tick()
    people.add_relation("Acme", "R", "Beta", properties={"x": 1})
    people.add_relation("Acme", "R", "Beta", properties={"x": 2})  # expires a version after `middle`
    counts = people.purge(before=middle)
    assert counts == {"relations": 1, "versions": 1, "entities": 1}
    assert [r.target for r in people.history("Alice").relations] == ["Beta"]
    assert [r.properties for r in people.history("Acme").relations] == [{"x": 1}, {"x": 2}]
    with pytest.raises(graphmem.NotFound):
        people.history("Bob")
    assert people.purge(before=_now()) == {"relations": 1, "versions": 0, "entities": 0}
    assert [n.name for n in people.neighbors("Alice")] == ["Beta"]  # current facts untouched


def test_time_survives_reopen(disk_mem, open_store, tmp_path):
    disk_mem.add_entities([{"name": n} for n in "abc"])
    disk_mem.add_relation("a", "R", "b", valid_to=_now() - timedelta(days=1))
    disk_mem.add_relation("b", "R", "c")
    before = _tick()
    disk_mem.expire_entity("c")
    disk_mem.close()
    with open_store(tmp_path / "store") as mem:
        assert mem.neighbors("b") == []
        assert mem.shortest_path("a", "c", known_at=before, as_of=_now() - timedelta(days=2)).nodes == ("a", "b", "c")
        assert [v.expired_at is not None for v in mem.history("c").entity] == [True]


# -- migration from schema version 1 ----------------------------------------------------


def test_a_store_of_schema_version_1_is_migrated(tmp_path, engine):
    path = tmp_path / "v1"
    created = datetime(2025, 1, 1)
    with Store(path, engine=engine, migrations=schema.shipped_migrations()[:1]) as store:
        assert store.schema_version == 1
        for i, name in enumerate(("a", "b")):
            store.cypher(
                "CREATE (:Entity {key: $key, id: $id, namespace: 'default', name: $name, type: 'T', "
                "text: $name, observations: [], properties: '{}', created_at: $t, updated_at: $t})",
                {"key": f"default\x1f{name}", "id": i, "name": name, "t": created},
            )
        store.cypher("MATCH (a:Entity {name: 'a'}), (b:Entity {name: 'b'}) "
                     "CREATE (a)-[:Relation {type: 'R', properties: '{}', created_at: $t}]->(b)", {"t": created})
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        assert mem.stats()["schema_version"] == len(schema.shipped_migrations())
        a = mem.get_entity("a")
        assert (a.text, a.valid_from, a.valid_to, a.expired_at) == ("a", None, None, None)
        assert mem.shortest_path("a", "b").relations == ("R",)
        assert mem.get_relation("a", "R", "b").created_at == created.replace(tzinfo=UTC)
        mem.add_relation("a", "R", "b", properties={"new": True})
        mem.add_entity("a", text="a2")
        assert [v.text for v in mem.history("a").entity] == ["a", "a2"]
        assert mem.get_entity("a", known_at=datetime(2025, 6, 1, tzinfo=UTC)).text == "a"
        assert len(mem.history("a").relations) == 2


# -- known_at reads equal a replay of the write log -------------------------------------

NAMES = ["n0", "n1", "n2", "n3", "n4"]
_op = st.one_of(
    st.tuples(st.just("entity"), st.sampled_from(NAMES), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("relation"), st.sampled_from(NAMES), st.sampled_from(["R", "S"]), st.sampled_from(NAMES),
              st.integers(0, 2), st.booleans()),
    st.tuples(st.just("expire_relation"), st.sampled_from(NAMES), st.sampled_from(["R", "S"]),
              st.sampled_from(NAMES)),
    st.tuples(st.just("expire_entity"), st.sampled_from(NAMES)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=1, max_size=14))
def test_known_at_reads_equal_a_replay_of_the_write_log(open_store, ops):
    mem = open_store(None)
    entities: dict[str, str] = {}
    relations: dict[tuple[str, str, str], int] = {}
    log: list[tuple[datetime, dict[str, str], dict[tuple[str, str, str], int]]] = []
    for op in ops:
        kind = op[0]
        if kind == "entity":
            mem.add_entity(op[1], text=op[2])
            entities[op[1]] = op[2]
        elif kind == "relation":
            _, s, t, d, props, replaces = op
            if s not in entities or d not in entities:
                continue
            mem.add_relation(s, t, d, properties={"p": props} if props else None, replaces=replaces)
            if replaces:
                for key in [k for k in relations if k[0] == s and k[1] == t and k[2] != d]:
                    del relations[key]
            relations[(s, t, d)] = props or relations.get((s, t, d), 0)
        elif kind == "expire_relation":
            assert mem.expire_relation(*op[1:]) == (op[1:] in relations)
            relations.pop(op[1:], None)  # type: ignore[call-overload]
        else:
            assert mem.expire_entity(op[1]) == (op[1] in entities)
            entities.pop(op[1], None)
            for key in [k for k in relations if op[1] in (k[0], k[2])]:
                del relations[key]
        log.append((_tick(), dict(entities), dict(relations)))
    for when, ents, rels in log:
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(ents)
        graph.add_edges_from((s, d) for s, _, d in rels)
        for name in NAMES:
            got = mem.get_entity(name, known_at=when)
            assert (got.text if got else None) == ents.get(name)
            if name not in ents:
                continue
            expected = sorted([(d, t, "out") for s, t, d in rels if s == name]
                              + [(s, t, "in") for s, t, d in rels if d == name])
            assert [(n.name, n.type, n.direction) for n in mem.neighbors(name, known_at=when)] == expected
            for other in ents:
                path = mem.shortest_path(name, other, known_at=when)
                undirected = graph.to_undirected(as_view=True)
                if nx.has_path(undirected, name, other):
                    assert len(path) == nx.shortest_path_length(undirected, name, other)
                else:
                    assert path is None


def test_validity_round_trips_through_export_and_import(people, open_store):
    import io

    from graphmem.interchange.transfer import export_jsonl, import_jsonl

    ended = datetime(2024, 5, 1, tzinfo=UTC)
    people.add_entity("Alice", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    people.add_relation("Alice", "WORKS_AT", "Acme", valid_to=ended)
    buffer = io.StringIO()
    export_jsonl(people, buffer)
    other = open_store(None)
    import_jsonl(other, io.StringIO(buffer.getvalue()))
    assert other.get_entity("Alice").valid_from == datetime(2020, 1, 1, tzinfo=UTC)
    assert other.get_relation("Alice", "WORKS_AT", "Acme").valid_to == ended
    bad = '{"type":"entity","name":"x","entityType":"T","valid_to":"2024-01-01T00:00:00"}\n'
    with pytest.raises(graphmem.InvalidInput, match="line 1: valid_to needs a UTC offset"):
        import_jsonl(other, io.StringIO(bad))


def test_remove_observations_is_a_new_version(people):
    people.add_entity("Alice", observations=["likes Rust", "likes Go", "on call"])
    removed = people.remove_observations("Alice", ["likes Go", "never said"])
    assert removed.observations == ("likes Rust", "on call")
    assert [v.observations for v in people.history("Alice").entity][-2:] == [
        ("likes Rust", "likes Go", "on call"), ("likes Rust", "on call")]
    with pytest.raises(graphmem.NotFound):
        people.remove_observations("Nobody", ["x"])
    with pytest.raises(graphmem.InvalidInput):
        people.remove_observations("Alice", "likes Rust")
    assert people.remove_observations("Alice", []).observations == ("likes Rust", "on call")


def test_read_only_cypher_cannot_write(people):
    with pytest.raises(graphmem.ReadOnlyStore):
        people.cypher("MATCH (e:Entity) DETACH DELETE e", read_only=True)
    assert len(people) == 4
    assert people.cypher("MATCH (e:Entity) RETURN count(*) AS n", read_only=True) == [{"n": 4}]
