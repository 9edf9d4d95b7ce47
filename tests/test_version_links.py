"""One entity's earlier versions are read through its own VersionOf links (schema 004, issue 22).

The oracle is the statement graphmem ran before the links, a scan of the
history table by its key column: on random sequences of updates (one and
many at a time), expiries, revivals, deletes (one and many) and purges,
what the linked statements, ``Memory.entity_versions`` and
``Memory.get_entity(known_at=)`` answer equals what the scan finds. A store
written at schema version 3 (no links) is linked on its first read-write
open, every version still reachable. The reads are bounded: they ask only
the statements that start at the entity's primary key, the engine plans
them as a key lookup and a walk of the entity's links, and a version that
carries the entity's key but no link is not read (so no scan finds it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.errors import NotFound
from graphmem.records import entity_from_db, entity_key, version_from_db
from graphmem.store import schema
from graphmem.store.queries import load_query
from graphmem.store.store import Store
from graphmem.temporal import held_at
from tests.conftest import ENGINE

pytestmark = pytest.mark.engine

# The reads as they were before schema 004: a scan of the history table by its key column.
SCAN_VERSIONS = """
MATCH (v:EntityVersion) WHERE v.key = $key
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
ORDER BY v.recorded_at
"""
SCAN_VERSION_AT = """
MATCH (v:EntityVersion) WHERE v.key = $key AND v.recorded_at <= $t AND v.expired_at > $t
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
"""
LINKED = ("entity_versions_newest", "entity_versions", "entity_version_at")

NAMES = [f"n{i:02d}" for i in range(18)]  # 18 > update_join_threshold: a write of all uses the batch statements
FEW = NAMES[:6]
SMALL_BATCHES = graphmem.StoreConfig(update_join_threshold=3)
"""The random sequences' store: a write of three or more existing entities uses the batch statements."""


def _scan(store: Store, text: str, params: dict) -> list[list]:
    return store.cypher(text, params, allow_write=False).rows


def _times(rows: list[list], stored) -> list[datetime]:
    """System times around every version boundary of one entity (naive UTC, as stored)."""
    edges = [t for row in rows for t in (row[7], row[10])]
    if stored is not None:
        edges += [t for t in (stored.updated_at, stored.expired_at) if t is not None]
    # Each boundary and the microsecond before it: a version holds from its recorded_at up to,
    # not including, its expired_at (the next one's recorded_at).
    return sorted({t + d for t in edges for d in (-timedelta(microseconds=1), timedelta(0))})


def check_against_scan(mem: graphmem.Memory, names=NAMES) -> int:
    """Every read of each name's versions equals what the scan finds; returns the versions seen."""
    store = mem._store
    seen = 0
    for name in names:
        key = entity_key(mem.namespace_name, name)
        oracle = _scan(store, SCAN_VERSIONS, {"key": key})
        assert store.execute("entity_versions", {"key": key}) == oracle
        newest = store.execute("entity_versions_newest", {"key": key, "limit": 3})
        assert newest == oracle[::-1][:3]
        found = store.execute("entity_get", {"key": key})
        stored = entity_from_db(key, found[0]) if found else None
        everything = [version_from_db(key, row).to_entity() for row in oracle]
        everything += [stored.to_entity()] if stored is not None else []
        for limit in (1, 2, 50):
            if not everything:
                with pytest.raises(NotFound):
                    mem.entity_versions(name, limit=limit)
                continue
            answer = mem.entity_versions(name, limit=limit)
            assert answer.versions == tuple(everything[-limit:])
            assert answer.truncated == (len(everything) > limit)
        for t in _times(oracle, stored):
            at = _scan(store, SCAN_VERSION_AT, {"key": key, "t": t})
            assert store.execute("entity_version_at", {"key": key, "t": t}) == at
            if stored is not None and held_at(stored, t):
                expected = stored.to_entity()
            else:
                expected = version_from_db(key, at[0]).to_entity() if at else None
            assert mem.get_entity(name, known_at=t.replace(tzinfo=UTC)) == expected
        seen += len(oracle)
    return seen


def check_links(mem: graphmem.Memory, *, unlinked: int = 0) -> None:
    """Every version but ``unlinked`` ones has one link, to the entity of its key."""
    store = mem._store
    versions = _scan(store, "MATCH (v:EntityVersion) RETURN count(*)", {})[0][0]
    links = _scan(store, "MATCH (v:EntityVersion)-[:VersionOf]->(e:Entity) RETURN count(*), "
                         "sum(CASE WHEN v.key = e.key THEN 0 ELSE 1 END)", {})[0]  # fmt: skip
    assert (links[0], links[1] or 0) == (versions - unlinked, 0)


# -- random sequences against the scan ------------------------------------------------------

_name = st.sampled_from(FEW)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _name, st.sampled_from("abc")),
        st.tuples(st.just("write_all"), st.sampled_from("abc")),
        st.tuples(st.just("expire"), _name),
        st.tuples(st.just("delete"), _name),
        st.tuples(st.just("delete_many"), st.lists(_name, min_size=2, max_size=4)),
        st.tuples(st.just("purge"), st.integers(0, 30)),
    ),
    min_size=1,
    max_size=20,
)


def _apply(mem: graphmem.Memory, op: tuple, marks: list[datetime]) -> None:
    kind = op[0]
    if kind == "write":
        mem.add_entity(op[1], type="T", text=op[2])
    elif kind == "write_all":
        mem.add_entities([{"name": n, "type": "T", "text": f"{op[1]}{i % 2}"} for i, n in enumerate(FEW)])
    elif kind == "expire":
        mem.expire_entity(op[1])
    elif kind == "delete":
        mem.delete_entity(op[1])
    elif kind == "delete_many":
        mem.delete_entities(op[1])
    else:
        mem.purge(before=marks[op[1] % len(marks)])
    marks.append(datetime.now(UTC))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
def test_linked_reads_equal_the_scan_over_random_histories(ops):
    with graphmem.open(engine=ENGINE, embedder=None, config=SMALL_BATCHES) as mem:
        mem.add_entities([{"name": n, "type": "T", "text": "first"} for n in FEW])
        marks = [datetime.now(UTC)]
        for op in ops:
            _apply(mem, op, marks)
        check_against_scan(mem, FEW)
        check_links(mem)


def test_a_hard_delete_takes_every_version_and_its_link(engine):
    with graphmem.open(engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": n, "type": "T", "text": "one"} for n in NAMES])
        for text in ("two", "three"):
            mem.add_entities([{"name": n, "type": "T", "text": text} for n in NAMES])  # the batch path
            mem.add_entity("n00", text=f"{text} alone")  # the keyed path
        assert check_against_scan(mem) == 2 * len(NAMES) + 2
        assert mem.delete_entity("n00") and mem.delete_entities(["n01", "n02", "n03"]) == [True] * 3
        mem.add_entity("n00", type="T", text="again")  # a new life: no history of the old one
        assert check_against_scan(mem) == 2 * (len(NAMES) - 4)
        assert [v.text for v in mem.entity_versions("n00").versions] == ["again"]
        check_links(mem)


# -- a store of schema version 3 --------------------------------------------------------------


def _as_version_3(path, engine: str) -> None:
    """What the same history looks like in a store written before schema 004: no links."""
    with Store(path, engine=engine) as store:
        store.cypher("DROP TABLE VersionOf")
        with store.transaction():
            store.execute("meta_set", {"key": "schema_version", "value": "3"})
        # A version whose entity is gone (only user Cypher leaves one): it cannot be linked.
        store.cypher("CREATE (:EntityVersion {vkey: 'orphan', key: $key, id: 999, namespace: 'default', "
                     "name: 'ghost', type: 'T', observations: [], properties: '{}', recorded_at: $t, "
                     "expired_at: $t})", {"key": entity_key("default", "ghost"), "t": datetime(2020, 1, 1)})


def test_a_store_of_schema_version_3_is_linked_on_open(tmp_path, engine):
    path = tmp_path / "v3"
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": n, "type": "T", "text": "one"} for n in NAMES])
        mem.add_entities([{"name": n, "type": "T", "text": "two"} for n in NAMES])
        for name in NAMES[:4]:
            mem.add_entity(name, text="three")
        mem.expire_entity("n05")
        mem.add_entity("n06", text="four")
        mem.expire_entity("n06")
        mem.add_entity("n06", text="revived")
        expected = {n: _scan(mem._store, SCAN_VERSIONS, {"key": entity_key("default", n)}) for n in NAMES}
    _as_version_3(path, engine)
    with Store(path, engine=engine, migrations=schema.shipped_migrations()[:3]) as store:
        assert store.schema_version == 3
        assert "VersionOf" not in {row[0] for row in store.cypher("CALL show_tables() RETURN name").rows}
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        assert mem.stats()["schema_version"] == len(schema.shipped_migrations()) >= 4
        assert check_against_scan(mem) == sum(map(len, expected.values())) == len(NAMES) + 6
        for name, rows in expected.items():  # the same versions as before the migration
            assert mem._store.execute("entity_versions", {"key": entity_key("default", name)}) == rows
        check_links(mem, unlinked=1)
        assert mem.purge(before=datetime(2021, 1, 1, tzinfo=UTC))["versions"] == 1  # purge still finds it
        check_links(mem)
        mem.add_entity("n00", text="after")  # new writes link as before
        check_against_scan(mem, ["n00"])
        assert [v.text for v in mem.entity_versions("n00").versions] == ["one", "two", "three", "after"]


# -- bounded reads -------------------------------------------------------------------------------


def test_the_version_reads_are_bounded_by_the_entity(engine):
    """What entity_versions and get_entity(known_at=) ask the store (its tracer): the linked
    statements only; each starts at the entity's primary key and walks its links (the plan);
    and a version carrying the entity's key without a link is never read, so no scan of the
    key column answers them."""
    with graphmem.open(engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": n, "type": "T", "text": "one"} for n in NAMES])
        mem.add_entity("n00", text="two")
        first = mem.entity_versions("n00").versions[0].updated_at
        key = entity_key(mem.namespace_name, "n00")
        mem.cypher("CREATE (:EntityVersion {vkey: 'stray', key: $key, id: 0, namespace: 'default', name: 'n00', "
                   "type: 'T', text: 'stray', observations: [], properties: '{}', recorded_at: $t, "
                   "expired_at: $until})", {"key": key, "t": datetime(2000, 1, 1), "until": datetime(2001, 1, 1)})
        assert len(_scan(mem._store, SCAN_VERSIONS, {"key": key})) == 2  # the scan would see it
        asked: list[str] = []
        mem.tracer = lambda name, params: asked.append(name)
        try:
            assert [v.text for v in mem.entity_versions("n00").versions] == ["one", "two"]
            assert mem.get_entity("n00", known_at=first).text == "one"
            assert mem.get_entity("n00", known_at=datetime(2000, 6, 1, tzinfo=UTC)) is None
            assert [v.text for v in mem.history("n00").entity] == ["one", "two"]
        finally:
            mem.tracer = None
        assert {name for name in asked if "version" in name} == set(LINKED)
        params = {"entity_versions_newest": {"key": key, "limit": 3}, "entity_versions": {"key": key},
                  "entity_version_at": {"key": key, "t": datetime(2000, 1, 1)}}
        for name in LINKED:
            text = load_query(name)
            assert "MATCH (e:Entity {key: $key})<-[:VersionOf]-(v:EntityVersion)" in text
            plan = "\n".join(str(row[0]) for row in mem._store.cypher("EXPLAIN " + text, params[name],
                                                                        allow_write=False).rows)
            assert "PRIMARY_KEY_SCAN" in plan and "VersionOf" in plan, plan
