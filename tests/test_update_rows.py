"""Updates of existing entities store the same rows whichever statement form writes them.

A write that changes existing entities records, for each, the version it
replaces (linked ``VersionOf`` to its entity) and sets the new values, in one
of three forms (:func:`graphmem.memory.writes.update_form`): one
``entity_update_versioned`` per row, one ``entity_update_rows`` over lists, or
``entity_version_batch`` + ``entity_update_batch`` over Arrow tables (the form
every update of a big batch took before, kept for big batches).

Random scripts (batches of upserts mixing set and absent fields: type, text,
observations, properties, an embedding, validity bounds, importance; names
repeated within a batch; entities expired and then written again, so revived;
observations removed; batches that change only content, which take the
``_content`` forms; entities packed by ``compact``, alone or followed by a write
in the same transaction) run on one store per form, each forced for every
update, on the same clock; every stored column of every entity and every
version, and each version's link, must be the same in all of them.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.config import StoreConfig
from graphmem.memory import upkeep, writes
from graphmem.records import EntityRow

FORMS = ("one", "rows", "batch")
_STATEMENTS = {
    "one": {"entity_update_versioned", "entity_update_versioned_content"},
    "rows": {"entity_update_rows", "entity_update_rows_content"},
    "batch": {"entity_version_batch", "entity_update_batch"},
}
_NAMES = ["a", "b", "c", "Zoë"]
_T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
_bounds = st.integers(-10**12, 10**12).map(lambda us: _T0 + timedelta(microseconds=us))
_text = st.text("abxyzé東\n", min_size=1, max_size=6)
_record = st.fixed_dictionaries(
    {"name": st.sampled_from(_NAMES)},
    optional={
        "type": st.sampled_from(["T", "U"]), "text": _text, "observations": st.lists(_text, max_size=3),
        "properties": st.dictionaries(_text, st.one_of(st.integers(-9, 9), _text), max_size=2),
        "embedding": st.lists(st.floats(-1, 1, width=32), min_size=4, max_size=4),
        "valid_from": _bounds, "valid_to": _bounds,
        "importance": st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6)),
    },
)  # fmt: skip
# Observations long enough that compact packs the entity that holds them (tiers.pack).
_LONG = ["seen at the meeting " * 8, "noted in the minutes " * 8]
_long = st.sampled_from(_LONG)
# Writes that change only content (observations, a vector), so take the _content forms.
_content = st.fixed_dictionaries(
    {"name": st.sampled_from(_NAMES)},
    optional={"observations": st.lists(st.one_of(_text, _long), min_size=1, max_size=3),
              "embedding": st.lists(st.floats(-1, 1, width=32), min_size=4, max_size=4)},
)  # fmt: skip
_step = st.one_of(
    st.tuples(st.just("write"), st.lists(_record, min_size=1, max_size=7)),
    st.tuples(st.just("write"), st.lists(_content, min_size=1, max_size=7)),
    st.tuples(st.just("expire"), st.sampled_from(_NAMES)),
    st.tuples(st.just("drop"), st.sampled_from(_NAMES),
              st.lists(st.one_of(st.just("first"), _text, _long), min_size=1, max_size=2)),
    st.tuples(st.just("compact")),
    # compact, then a write, in one transaction: the cache learns of the packing at commit only
    st.tuples(st.just("compact+write"), st.lists(_content, min_size=1, max_size=4)),
)

_ENTITY = ("key", "id", "namespace", "name", "type", "text", "observations", "properties", "embedding", "scale",
           "created_at", "updated_at", "valid_from", "valid_to", "expired_at", "importance", "packed",
           "access_count", "last_access")  # fmt: skip
_VERSION = ("vkey", "key", "id", "namespace", "name", "type", "text", "observations", "properties", "valid_from",
            "valid_to", "recorded_at", "expired_at")  # fmt: skip


def _stored(mem) -> tuple[list[tuple], list[tuple]]:
    """Every column of every entity, and of every version with the key of the entity it links to."""
    entities = mem.cypher("MATCH (e:Entity) RETURN " + ", ".join(f"e.{c} AS {c}" for c in _ENTITY))
    versions = mem.cypher("MATCH (v:EntityVersion) OPTIONAL MATCH (v)-[:VersionOf]->(e:Entity) RETURN "
                          + ", ".join(f"v.{c} AS {c}" for c in _VERSION) + ", e.key AS linked")  # fmt: skip
    return (sorted((tuple(r[c] for c in _ENTITY) for r in entities), key=repr),
            sorted((tuple(r[c] for c in (*_VERSION, "linked")) for r in versions), key=repr))  # fmt: skip


def _run(open_store, monkeypatch, form: str, script: list[tuple], *,
         content: bool = True) -> tuple[list, tuple, list[str]]:  # fmt: skip
    """``script`` on a new store with every update written in ``form``: the outcome of each
    step, what is stored, and the names of the statements run. Without ``content``, no
    update takes the forms that set only the columns it changes."""
    monkeypatch.setattr(writes, "update_form", lambda engine, rows, *, config, stored: form)
    monkeypatch.setattr(writes, "changes_content_only",
                        graphmem.records.changes_content_only if content else lambda old, new: False)  # fmt: skip
    monkeypatch.setattr(upkeep, "utcnow", lambda: datetime(2100, 1, 1))  # compact: every entity is cold
    mem = open_store(None)
    ticks = itertools.count(1)
    mem._shared.wall = lambda: datetime(2026, 1, 1) + timedelta(seconds=next(ticks))
    seen: list[str] = []
    mem.tracer = lambda name, params: seen.append(name)
    outcomes: list = []
    # "a" and "b" hold enough text from the start that compact packs them.
    mem.add_entities([{"name": n, "observations": ["first", *(_LONG[:1] if n in ("a", "b") else [])]} for n in _NAMES])
    for step in script:
        try:
            if step[0] == "write":
                outcomes.append(mem.add_entities(step[1]))
            elif step[0] == "expire":
                outcomes.append(mem.expire_entity(step[1]))
            elif step[0] == "compact":
                outcomes.append(mem.compact(cold_after=timedelta(0)))
            elif step[0] == "compact+write":
                records = step[1]
                outcomes.append(mem.apply_once(None, lambda: {"packed": mem.compact(cold_after=timedelta(0)),
                                                              "written": mem.add_entities(records)}))  # fmt: skip
            else:
                outcomes.append(mem.remove_observations(step[1], step[2]).observations)
        except (graphmem.InvalidInput, graphmem.NotFound) as exc:  # refused alike, before any statement
            outcomes.append(type(exc).__name__)
    mem.tracer = None
    stored = _stored(mem)
    mem.close()
    return outcomes, stored, seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(_step, min_size=1, max_size=6))
@example(script=[("compact+write", [{"name": "a", "observations": ["x"]}, {"name": "b", "observations": ["y"]}])])
@example(script=[("compact",), ("write", [{"name": "a", "observations": ["x"]},
                                          {"name": "c", "embedding": [1, 0, 0, 0]}])])
def test_every_update_form_stores_the_same_entities_and_versions(open_store, monkeypatch, script):
    """The batch form, which sets every column, is the reference; the keyed and list
    forms run with and without their ``_content`` variants."""
    runs = {form: _run(open_store, monkeypatch, form, script) for form in FORMS}
    runs.update({f"{form} full": _run(open_store, monkeypatch, form, script, content=False) for form in ("one", "rows")})
    for form, (_, _, seen) in runs.items():
        others = set().union(*(_STATEMENTS[f] for f in FORMS if f != form.split()[0]))
        assert not others & set(seen), form
        if form.endswith("full"):
            assert not any(name.endswith("_content") for name in seen), form
    reference = runs["batch"]
    for form in ("one", "rows", "one full", "rows full"):
        assert runs[form][0] == reference[0]
        assert runs[form][1][0] == reference[1][0]  # entities
        assert runs[form][1][1] == reference[1][1]  # versions and their links


def test_a_revived_entity_keeps_its_expired_row_as_a_version(open_store, monkeypatch):
    """The case the random scripts reach only sometimes, written out: expire, write again, in each form."""
    script = [("expire", "a"), ("write", [{"name": "a", "text": "back"}, {"name": "b", "text": "x"}])]
    runs = {form: _run(open_store, monkeypatch, form, script) for form in FORMS}
    versions = runs["batch"][1][1]
    retired = [v for v in versions if v[1].endswith("a")]
    assert len(retired) == 1 and retired[0][-1] == retired[0][1]  # linked to its own entity
    assert retired[0][12] == datetime(2026, 1, 1) + timedelta(seconds=2)  # retired when it expired
    assert all(run[1] == runs["batch"][1] for run in runs.values())


def test_updates_are_one_statement(open_store, engine):
    """One changed entity is one statement; ten on a small store are one too (both engines)."""
    mem = open_store(None)
    mem.add_entities([{"name": f"e{i}", "observations": ["o"]} for i in range(20)])
    seen: list[str] = []
    mem.tracer = lambda name, params: seen.append(name)
    mem.add_entities([{"name": "e0", "observations": ["new"]}])
    mem.add_entities([{"name": f"e{i}", "observations": ["new"]} for i in range(10)])
    mem.tracer = None
    assert [s for s in seen if not s.startswith("<")] == ["entity_update_versioned_content",
                                                         "entity_update_rows_content"]  # fmt: skip
    assert mem.get_entity("e0").observations == ("o", "new")
    assert len(mem.entity_versions("e0").versions) == 2  # the first write's version and the current row


def test_only_a_change_of_content_sets_fewer_columns(open_store):
    """New observations, removed ones or a new embedding set only those columns (and the
    write time); any other change, a packed (cold) entity or a revived one sets every
    column, and what is stored is what was written either way."""
    mem = open_store(None)
    mem.add_entities([{"name": f"e{i}", "observations": ["o"], "properties": {"a": 1, "b": 2}} for i in range(4)])
    seen: list[str] = []
    mem.tracer = lambda name, params: seen.append(name)

    def statements(write) -> list[str]:
        seen.clear()
        write()
        return [s for s in seen if s.startswith("entity_update")]

    assert statements(lambda: mem.remove_observations("e0", ["o"])) == ["entity_update_versioned_content"]
    assert statements(lambda: mem.add_entity("e1", embedding=[1.0, 0.0, 0.0])) == ["entity_update_versioned_content"]
    assert statements(lambda: mem.add_entity("e1", observations=["p"], embedding=[0.0, 1.0, 0.0])) == [
        "entity_update_versioned_content"]
    assert statements(lambda: mem.add_entity("e2", type="U")) == ["entity_update_versioned"]
    assert statements(lambda: mem.add_entity("e2", properties={"b": 2, "a": 1})) == []  # the same dict: no write
    assert statements(lambda: mem.add_entity("e2", properties={"c": 3})) == ["entity_update_versioned"]
    assert statements(lambda: mem.add_entity("e3", importance=2.0)) == ["entity_update_versioned"]
    assert statements(lambda: mem.add_entities([{"name": "e0", "observations": ["x"]}, {"name": "e3", "text": "t"},
                                                {"name": "e1", "observations": ["q"]}])) == ["entity_update_rows"]
    assert statements(lambda: mem.add_entities([{"name": f"e{i}", "observations": ["y"]} for i in (0, 1, 3)])) == [
        "entity_update_rows_content"]
    mem.expire_entity("e0")
    assert statements(lambda: mem.add_entity("e0", observations=["back"])) == ["entity_update_versioned"]
    mem.tracer = None
    assert mem.get_entity("e0").observations == ("back",)  # a revived entity starts a new life
    assert mem.get_entity("e1").observations == ("o", "p", "q", "y") and mem.get_entity("e1").embedding is not None
    assert mem.get_entity("e2").properties == {"a": 1, "b": 2, "c": 3} and mem.get_entity("e2").type == "U"
    assert mem.get_entity("e3").text == "t" and mem.get_entity("e3").importance == 2.0


def _rows(n: int, *, vector: bool = False) -> list[EntityRow]:
    t = datetime(2026, 1, 1)
    return [EntityRow(key=f"k{i}", id=i, namespace="n", name=f"k{i}", type="T", text=None, observations=[],
                      properties={}, embedding=b"\x01" if vector else None, scale=1.0 if vector else None,
                      created_at=t, updated_at=t) for i in range(n)]  # fmt: skip


@pytest.mark.parametrize(("engine_name", "rows", "stored", "form"), [
    ("kuzu", 1, 1_000, "one"), ("ladybug", 1, 1_000, "one"),
    ("ladybug", 2, 1_000_000, "rows"), ("ladybug", writes.UPDATE_ROWS_MAX - 1, 1_000_000, "rows"),
    ("ladybug", writes.UPDATE_ROWS_MAX, 1_000, "batch"),
    ("kuzu", 2, 1_000, "one"), ("kuzu", 3, 1_000, "rows"), ("kuzu", 10, 1_000, "rows"),
    ("kuzu", 19, 100_000, "one"), ("kuzu", 20, 100_000, "rows"), ("kuzu", 10, 1_000_000, "one"),
    ("kuzu", writes.UPDATE_ROWS_MAX, 1_000, "batch"), ("kuzu", writes.UPDATE_ROWS_MAX, 1_000_000, "one"),
])  # fmt: skip
def test_update_form_rule(engine_name, rows, stored, form):
    assert writes.update_form(engine_name, _rows(rows), config=StoreConfig(), stored=stored) == form


def test_update_form_bounds_batches_with_vectors():
    rows = _rows(writes.UPDATE_VECTOR_ROWS_MAX, vector=True)
    assert writes.update_form("ladybug", rows, config=StoreConfig(), stored=1_000) == "batch"
    assert writes.update_form("ladybug", rows[:-1], config=StoreConfig(), stored=1_000) == "rows"


@pytest.mark.parametrize("rows", [1, 3])
def test_a_write_after_compact_in_the_same_transaction_unpacks_the_entity(open_store, rows):
    """``compact`` packs an entity whose row the cache holds unpacked and drops it from
    the cache only at commit; a write of its content in the same transaction
    (``apply_once``) must still store it unpacked, with the new observation (the
    ``_content`` forms, which leave ``packed`` as stored, lost it: reads unpack the
    packed blob of before)."""
    mem = open_store(None)
    names = [f"e{i}" for i in range(rows)]
    mem.add_entities([{"name": n, "observations": [f"seen at the meeting {j} " * 6 for j in range(8)]}
                      for n in names])  # fmt: skip
    for name in names:
        mem.get_entity(name)  # cached, unpacked

    def apply() -> dict:
        packed = mem.compact(cold_after=timedelta(0))
        mem.add_entities([{"name": n, "observations": ["new"]} for n in names])
        return {"packed": packed}

    assert mem.apply_once(None, apply) == {"packed": rows}
    mem._cache.clear()
    for name in names:
        assert mem.get_entity(name).observations[-1] == "new"
    assert mem.cypher("MATCH (e:Entity) WHERE e.packed IS NOT NULL RETURN count(*) AS n") == [{"n": 0}]


def test_every_write_of_a_transaction_may_set_content_only(open_store):
    """``apply_once`` (one MCP tool call) whose writes add observations takes the
    ``_content`` form for each, the second one too: after the first changed rows,
    the rows it compares are read from the store, not from the cache."""
    mem = open_store(None)
    mem.add_entities([{"name": n, "observations": ["o"]} for n in ("a", "b")])
    mem.get_entity("a"), mem.get_entity("b")
    seen: list[str] = []
    mem.tracer = lambda name, params: seen.append(name)
    from graphmem.memory.requests import new_request_id

    mem.apply_once(new_request_id(), lambda: {"n": mem.add_entities([{"name": "a", "observations": ["p"]}])})
    assert [s for s in seen if s.startswith("entity_update")] == ["entity_update_versioned_content"]
    seen.clear()
    mem.apply_once(None, lambda: {"n": mem.add_entities([{"name": "a", "observations": ["q"]}])
                                  + mem.add_entities([{"name": "b", "observations": ["q"]}])
                                  + mem.add_entities([{"name": "a", "observations": ["r"]}])})
    mem.tracer = None
    assert [s for s in seen if s.startswith("entity_update")] == ["entity_update_versioned_content"] * 3
    assert [mem.get_entity(n).observations for n in ("a", "b")] == [("o", "p", "q", "r"), ("o", "q")]
    assert len(mem.entity_versions("a").versions) == 4  # the same entity twice in one transaction: two versions


def test_an_entity_expired_and_written_again_in_one_transaction_is_revived(open_store):
    """The graph state follows a transaction at its commit: a write after an expiry
    in the same transaction reads the expired row from the store and revives it,
    and the state agrees with the store afterwards (it said expired while the
    store held a current row)."""
    mem = open_store(None)
    mem.add_entities([{"name": "b", "observations": ["o1"]}])
    mem.get_entity("b")

    def apply() -> dict:
        mem.expire_entity("b")
        mem.add_entity("b", observations=["new"])
        return {}

    mem.apply_once(None, apply)
    assert mem.has_entities(["b"]) == [True]
    assert mem.get_entity("b").observations == ("new",)  # a new life, as after an expiry committed alone
    assert [e.name for e in mem.iter_entities()] == ["b"]


def test_apply_once_refuses_a_relation_to_an_entity_it_created_whole(open_store):
    """What ``Memory.apply_once`` documents: the graph state takes in the writes at
    the commit, so a relation to an entity created earlier in the same call is
    refused, and the call writes nothing; in two calls it is written."""
    mem = open_store(None)

    def apply() -> dict:
        mem.add_entities([{"name": "x"}, {"name": "y"}])
        mem.add_relations([("x", "R", "y")])
        return {}

    with pytest.raises(graphmem.NotFound):
        mem.apply_once(None, apply)
    assert mem.has_entities(["x", "y"]) == [False, False] and len(mem) == 0
    mem.apply_once(None, lambda: {"n": mem.add_entities([{"name": "x"}, {"name": "y"}])})
    mem.apply_once(None, lambda: {"n": mem.add_relations([("x", "R", "y")])})
    assert [n.name for n in mem.neighbors("x")] == ["y"]
