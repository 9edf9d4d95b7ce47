"""``relation_create_rows`` (one list per column, ``UNWIND``) writes what
``relation_create_batch`` (``LOAD FROM`` an Arrow table) writes, and
``relation_delete_rows`` (a struct per row, both ends by key) and
``relation_delete_columns`` (a list per field) delete what
``relation_delete_batch`` deletes.

Random batches of new relations (types and properties of any text, validity
bounds absent or set to the microsecond, an expiry or none, every nullable
column NULL in every row or in none) go into one store through both
statements, each under its own tag in the type; the relations read back from
the store must be the same rows. The writers' entry,
:func:`graphmem.records.write_new_relations`, is checked against the Arrow
statement the same way, with validity bounds in any time zone. Both engines
run every statement here, whichever each engine's writers take.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmem import records
from graphmem.memory import unlink
from graphmem.records import KEY_SEPARATOR, RELATION_SCHEMA, relation_table_columns

_NAMES = ["a", "b", "c", "Zoë", "東京"]
_T0 = datetime(2024, 1, 1)
_stamps = st.integers(-10**15, 10**15).map(lambda us: _T0 + timedelta(microseconds=us))
_times = st.one_of(st.none(), _stamps)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_rows = st.lists(
    st.fixed_dictionaries({
        "from": st.sampled_from(_NAMES), "to": st.sampled_from(_NAMES), "type": _text, "properties": _text,
        "created_at": _stamps, "valid_from": _times, "valid_to": _times,
        "expired_at": _times,
    }),
    min_size=1, max_size=40,  # below records.RELATION_ROWS_MAX (128): examples stay quick
)  # fmt: skip
# A validity bound as a writer gives it: aware, in any zone (the Arrow table and the lists hold it in UTC).
_zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_aware = st.one_of(st.none(), st.builds(lambda t, z: t.replace(tzinfo=timezone.utc).astimezone(z), _stamps, _zones))
_tags = itertools.count()


def _table(rows: list[dict], tag: str, namespace: str) -> pa.Table:
    tagged = [{**r, "type": tag + r["type"], "from": namespace + KEY_SEPARATOR + r["from"],
               "to": namespace + KEY_SEPARATOR + r["to"]} for r in rows]  # fmt: skip
    return pa.Table.from_pylist(tagged, schema=RELATION_SCHEMA)


def _read(mem, tag: str) -> list[tuple]:
    rows = mem.cypher(
        "MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE starts_with(r.type, $tag) RETURN a.name AS source, "
        "b.name AS target, r.type AS type, r.properties AS properties, r.created_at AS created_at, "
        "r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at", {"tag": tag})  # fmt: skip
    return sorted(((r["source"], r["target"], r["type"].removeprefix(tag), r["properties"], r["created_at"],
                    r["valid_from"], r["valid_to"], r["expired_at"]) for r in rows), key=repr)  # fmt: skip


@pytest.fixture
def stocked(open_store, tmp_path):
    mem = open_store(tmp_path / "store")
    mem.add_entities([{"name": n} for n in _NAMES])
    return mem


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_rows_statement_writes_what_the_arrow_statement_writes(stocked, rows):
    n = next(_tags)
    arrow, structs = f"A{n}:", f"S{n}:"
    store = stocked._store
    namespace = stocked.namespace_name
    with store.transaction():
        store.execute("relation_create_batch", {"rows": _table(rows, arrow, namespace)})
        store.execute("relation_create_rows", relation_table_columns(_table(rows, structs, namespace)))
    written = _read(stocked, arrow)
    assert len(written) == len(rows)
    assert _read(stocked, structs) == written


def test_insert_relations_takes_the_rows_statement_for_small_batches(stocked, engine):
    store = stocked._store
    namespace = stocked.namespace_name
    seen: list[str] = []
    store.tracer = lambda name, params: seen.append(name)
    rows = [{"from": "a", "to": "b", "type": "T", "properties": "{}", "created_at": _T0, "valid_from": None,
             "valid_to": None, "expired_at": None}]  # fmt: skip
    with store.transaction():
        records.insert_relations(store, _table(rows, "small:", namespace), copy_from=20_000)
        records.insert_relations(store, _table(rows * records.RELATION_ROWS_MAX, "large:", namespace),
                                 copy_from=20_000)  # fmt: skip
    store.tracer = None
    assert engine in records.RELATION_ROWS_ENGINES
    assert [s for s in seen if not s.startswith("<")] == ["relation_create_rows", "relation_create_batch"]
    assert len(_read(stocked, "small:")) == 1 and len(_read(stocked, "large:")) == records.RELATION_ROWS_MAX


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, bounds=st.lists(st.tuples(_aware, _aware), min_size=40, max_size=40))
def test_write_new_relations_stores_what_the_arrow_statement_stores(stocked, rows, bounds):
    """The writers' entry (plain lists, no Arrow table) against the big path's statement."""
    n = next(_tags)
    arrow, small = f"A{n}:", f"W{n}:"
    store = stocked._store
    namespace = stocked.namespace_name
    created = rows[0]["created_at"]
    rows = [{**r, "valid_from": f, "valid_to": u} for r, (f, u) in zip(rows, bounds)]
    with store.transaction():
        store.execute("relation_create_batch", {"rows": _table([{**r, "created_at": created, "expired_at": None}
                                                                for r in rows], arrow, namespace)})
        seen: list[str] = []
        store.tracer = lambda name, params: seen.append(name)
        key = (namespace + KEY_SEPARATOR).__add__
        records.write_new_relations(store, [key(r["from"]) for r in rows], [key(r["to"]) for r in rows],
                                    [small + r["type"] for r in rows], [r["properties"] for r in rows], created,
                                    [r["valid_from"] for r in rows], [r["valid_to"] for r in rows],
                                    copy_from=20_000, stored=0)  # fmt: skip
        store.tracer = None
    assert [name for name in seen if not name.startswith("<")] == ["relation_create_rows"]  # (a <begin> runs first)
    written = _read(stocked, arrow)
    assert len(written) == len(rows)
    assert _read(stocked, small) == written


_pairs = st.tuples(st.sampled_from(_NAMES), st.sampled_from(["T", "U"]), st.sampled_from(_NAMES))


def _stocked_with(open_store, path, stored: list[tuple], history: list[tuple]):
    mem = open_store(path)
    mem.add_entities([{"name": n} for n in _NAMES])
    mem.add_relations(stored)
    for source, type_, target in history:  # a new version keeps the old one as history
        if (source, type_, target) in stored:
            mem.add_relation(source, type_, target, properties={"v": 2})
    return mem


def _unstamped(rows: list[tuple]) -> list[tuple]:
    """``_read``'s rows without created_at, and whether expired rather than when (two stores, two clocks)."""
    return sorted((row[:4] + row[5:7] + (row[7] is None,) for row in rows), key=repr)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(_pairs, max_size=12, unique=True), history=st.lists(_pairs, max_size=4),
       deleted=st.lists(_pairs, min_size=1, max_size=8))  # fmt: skip
def test_rows_delete_removes_what_the_batch_delete_removes(open_store, tmp_path_factory, stored, history, deleted):
    """``relation_delete_rows`` (both ends by key, LadybugDB's form) deletes exactly what
    ``relation_delete_batch`` does, in two stores written alike: every version of
    each named relation, nothing else."""
    left = []
    for statement in ("relation_delete_batch", "relation_delete_rows", "relation_delete_columns"):
        mem = _stocked_with(open_store, tmp_path_factory.mktemp("store"), stored, history)
        before = _unstamped(_read(mem, ""))
        key = (mem.namespace_name + KEY_SEPARATOR).__add__
        rows = [{"source": key(s), "type": t, "target": key(d)} for s, t, d in deleted]
        with mem._store.transaction():
            mem._store.execute(statement, unlink._columns(rows) if statement == "relation_delete_columns"
                               else {"rows": rows})  # fmt: skip
        left.append(_unstamped(_read(mem, "")))
        mem.close()
    gone = set(deleted)
    assert left[0] == [r for r in before if (r[0], r[2], r[1]) not in gone]
    assert left[1] == left[0] and left[2] == left[0]


def test_add_relations_batches_on_ladybug_whatever_the_store_size(stocked, engine):
    """Two new relations are below kuzu's batch rule (StoreConfig.batch_relations), so there each is
    one keyed statement; LadybugDB finds a batch's ends by key, so there they are one statement."""
    seen: list[str] = []
    stocked._store.tracer = lambda name, params: seen.append(name)
    stocked.add_relations([("a", "T", "b"), ("b", "T", "c")])
    stocked._store.tracer = None
    written = [s for s in seen if s.startswith("relation_create")]
    assert written == (["relation_create_rows"] if engine == "ladybug" else ["relation_create", "relation_create"])
    assert [(r[0], r[1]) for r in _read(stocked, "T")] == [("a", "b"), ("b", "c")]


def test_delete_relations_takes_each_engines_batch_statement(open_store, tmp_path, engine):
    """A batch of deletes between many entities on a small store: both ends by key on LadybugDB, a
    list per field on kuzu (unlink.COLUMNS_FROM); the named relations go, the others stay. The same
    count into one entity is one statement keyed by it (unlink.KEYED_PER_STATEMENT)."""
    mem = open_store(tmp_path / "store")
    names = [f"n{i}" for i in range(12)]
    ring = [(names[i], "T", names[i % 11 + 1]) for i in range(1, 12)]  # n1 -> n2 ... n11 -> n1
    mem.add_entities([{"name": n} for n in names])
    mem.add_relations(ring + [(n, "T", "n0") for n in names[2:]] + [("n0", "U", n) for n in names[1:]])
    seen: list[str] = []
    mem._store.tracer = lambda name, params: seen.append(name)
    found = unlink.delete_relations(mem, ring + [("n0", "T", "n5")])
    assert found == [True] * 11 + [False]
    expected = "relation_delete_rows" if engine in unlink.BOTH_KEYS_ENGINES else "relation_delete_columns"
    assert expected in seen
    seen.clear()
    assert unlink.delete_relations(mem, [(n, "T", "n0") for n in names[2:]]) == [True] * 10
    mem._store.tracer = None
    assert [s for s in seen if s.startswith("relation_delete")] == ["relation_delete_into"]
    assert [(r[0], r[1], r[2]) for r in _read(mem, "")] == sorted((("n0", n, "U") for n in names[1:]), key=repr)
    assert not any(mem.get_relation(*t) for t in ring) and all(mem.get_relation(n, "T", "n0") is None for n in names)
