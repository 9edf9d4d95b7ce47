"""The positional scans (``iter_entities`` / ``iter_relations``) against a plain
full read ordered by id, on random stores with deletions (gaps in ids),
namespaces, expired and time-bounded entities, cold-tier rows and random batch
sizes; both with graphmem's derived state loaded (windows sized from the
namespace bitmap) and without (windows up to the store's highest id)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.errors import CorruptStore

from .conftest import ENGINE

NAMES = [f"n{i}" for i in range(12)]
SPACES = ["default", "other"]

_op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(SPACES), st.sampled_from(NAMES), st.booleans(), st.booleans(),
              st.integers(0, 2)),
    st.tuples(st.just("delete"), st.sampled_from(SPACES), st.sampled_from(NAMES)),
    st.tuples(st.just("expire"), st.sampled_from(SPACES), st.sampled_from(NAMES)),
    st.tuples(st.just("relate"), st.sampled_from(SPACES), st.sampled_from(NAMES), st.sampled_from(NAMES),
              st.sampled_from(["A", "B"])),
)  # fmt: skip


def _apply(root: graphmem.Memory, op: tuple) -> None:
    mem = root.namespace(op[1])
    kind = op[0]
    if kind == "add":
        _, _, name, vector, bounded, props = op
        mem.add_entity(
            name, type="T", text=f"text of {name} " + "long words here " * 20 * (props == 2), observations=[f"seen {props}"] if props else None,
            properties={f"p{i}": i for i in range(props)},
            embedding=np.arange(4, dtype=np.float32) * (len(name) - 1.5) if vector else None,
            valid_to=datetime(2030, 1, 1, tzinfo=timezone.utc) if bounded else None,
            importance=0.5 if props == 1 else None,
        )  # fmt: skip
    elif kind == "delete":
        mem.delete_entity(op[2])
    elif kind == "expire":
        mem.expire_entity(op[2])
    elif mem.get_entity(op[2]) is not None and mem.get_entity(op[3]) is not None:
        mem.add_relation(op[2], op[4], op[3], properties={"w": len(op[2])})


def _oracle_entities(mem: graphmem.Memory) -> list[graphmem.Entity]:
    rows = mem.cypher("MATCH (e:Entity) WHERE e.namespace = $ns AND e.expired_at IS NULL RETURN e.name AS name ORDER BY e.id",
                      {"ns": mem.namespace_name})  # fmt: skip
    return [mem.get_entity(r["name"]) for r in rows]


def _oracle_relations(mem: graphmem.Memory) -> list[graphmem.Relation]:
    rows = mem.cypher(
        "MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE a.namespace = $ns AND r.expired_at IS NULL "
        "RETURN a.name AS s, r.type AS t, b.name AS d ORDER BY a.id, b.id, r.type", {"ns": mem.namespace_name})
    return [mem.get_relation(r["s"], r["t"], r["d"]) for r in rows]


def _same(scanned: list[graphmem.Entity], expected: list[graphmem.Entity]) -> None:
    assert scanned == expected
    for got, want in zip(scanned, expected):
        if want.embedding is None:
            assert got.embedding is None
        else:
            assert got.embedding.dtype == want.embedding.dtype
            assert np.array_equal(got.embedding, want.embedding)
        assert got.created_at is None or got.created_at.tzinfo is timezone.utc


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, max_size=40), batch=st.integers(1, 7), cold=st.booleans())
def test_scan_equals_full_read_by_id(open_store, ops, batch, cold) -> None:
    root = open_store(None)
    for op in ops:
        _apply(root, op)
    if cold:
        # Pack long texts into the cold tier: those rows take the per-row decoder, mixed with bulk ones.
        for space in SPACES:
            root.namespace(space).compact(cold_after=timedelta(0))
    for space in SPACES:
        mem = root.namespace(space)
        entities, relations = _oracle_entities(mem), _oracle_relations(mem)
        for loaded in (True, False):
            if loaded:
                root._derived.get()
            else:
                root._derived.reset()  # the scan of a session that has not loaded its id map yet
            _same(list(mem.iter_entities(batch_size=batch)), entities)
            assert list(mem.iter_relations(batch_size=batch)) == relations


def test_scan_windows_skip_gaps(open_store) -> None:
    """A deleted run of ids larger than a window leaves no window empty-handed
    in the loaded path, and the scan still finds the entities after it."""
    mem = open_store(None)
    mem.add_entities([{"name": f"e{i}", "type": "T"} for i in range(50)])
    for i in range(5, 45):
        mem.delete_entity(f"e{i}")
    assert mem._derived.loaded
    assert [e.name for e in mem.iter_entities(batch_size=3)] == [f"e{i}" for i in (*range(5), *range(45, 50))]


def test_scan_properties_not_an_object(open_store) -> None:
    """Damaged properties raise CorruptStore naming the entity, as a row-by-row read did."""
    mem = open_store(None)
    mem.add_entities([{"name": "ok", "type": "T", "properties": {"a": 1}}, {"name": "bad", "type": "T"}])
    mem.cypher("MATCH (e:Entity {name: 'bad'}) SET e.properties = '[1, 2]'")
    with pytest.raises(CorruptStore, match="'bad'"):
        list(mem.iter_entities())
    mem.cypher("MATCH (e:Entity {name: 'bad'}) SET e.properties = '{\"a\": 1} trailing'")
    with pytest.raises(CorruptStore, match="'bad'"):
        list(mem.iter_entities())


def test_engine_under_test() -> None:
    assert ENGINE in ("kuzu", "ladybug")


_text = st.text(max_size=8)
_when = st.none() | st.datetimes(timezones=st.just(timezone.utc))


@settings(max_examples=60, deadline=None)
@given(name=_text, type_=_text, text=st.none() | _text, observations=st.lists(_text, max_size=3).map(tuple),
       properties=st.dictionaries(_text, st.integers()), id_=st.integers(0, 1 << 40), space=_text,
       times=st.tuples(_when, _when, _when, _when, _when), importance=st.none() | st.floats(0, 1))
def test_bulk_built_entity_is_an_entity(name, type_, text, observations, properties, id_, space, times,
                                        importance) -> None:
    """The scan's fast constructor (scan._entity) gives what Entity(...) gives:
    same class, fields, equality, repr and pickle, and still frozen."""
    import dataclasses
    import pickle

    from graphmem.scan import _entity

    created, updated, valid_from, valid_to, expired = times
    vector = np.arange(3, dtype=np.float32)
    fields = (name, type_, text, observations, properties, id_, space, created, updated, vector, valid_from,
              valid_to, expired, importance)  # fmt: skip
    made, want = _entity(*fields), graphmem.Entity(*fields)
    assert type(made) is graphmem.Entity
    assert made == want and repr(made) == repr(want)
    assert [getattr(made, f.name) is getattr(want, f.name) for f in dataclasses.fields(want)] == [True] * 14
    assert pickle.loads(pickle.dumps(made)) == want
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_bulk_built_relation_is_a_relation() -> None:
    import dataclasses

    from graphmem.scan import _relation

    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    fields = ("a", "KNOWS", "b", {"w": 1}, when, None, when, None)
    made = _relation(*fields)
    assert type(made) is graphmem.Relation and made == graphmem.Relation(*fields)
    assert repr(made) == repr(graphmem.Relation(*fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.type = "OTHER"  # type: ignore[misc]
