"""The public API: upsert rules, batches, atomicity, deletes, bad input."""

from __future__ import annotations

import json
import math
import re
from datetime import timezone

import numpy as np
import pytest

import graphmem
from graphmem.config import MAX_NAME_LENGTH


def _snapshot(mem):
    """Everything observable about a store, for "nothing changed" checks."""
    entities = sorted(
        (e.name, e.type, e.text, e.observations, json.dumps(e.properties, sort_keys=True)) for e in mem.iter_entities()
    )
    relations = sorted((r.source, r.type, r.target, json.dumps(r.properties, sort_keys=True)) for r in mem.iter_relations())
    return entities, relations


class Trace:
    def __init__(self):
        self.names: list[str] = []

    def __call__(self, name, params):
        self.names.append(name)


# -- entities ------------------------------------------------------------------------


def test_add_entity_returns_what_is_stored(mem):
    e = mem.add_entity("Alice", type="Person", text="Data engineer", observations=["likes Rust"], properties={"age": 34})
    assert e == mem.get_entity("Alice")
    assert e.type == "Person" and e.observations == ("likes Rust",) and e.properties == {"age": 34}
    assert e.created_at.tzinfo == timezone.utc and e.created_at == e.updated_at
    assert e.namespace == "default" and e.embedding is None


def test_upsert_replaces_text_appends_observations_merges_properties(mem):
    mem.add_entity("a", type="Person", text="t1", observations=["o1", "o1", "o2"], properties={"x": 1, "y": {"z": 1}})
    first = mem.get_entity("a")
    mem.add_entity("a", text="t2", observations=["o3", "o2"], properties={"y": 2})
    e = mem.get_entity("a")
    assert e.text == "t2" and e.type == "Person"
    assert e.observations == ("o1", "o2", "o3")
    assert e.properties == {"x": 1, "y": 2}
    assert e.id == first.id and e.created_at == first.created_at and e.updated_at >= first.updated_at
    mem.add_entity("a", type="Robot")
    assert mem.get_entity("a").type == "Robot" and mem.get_entity("a").text == "t2"


def test_batch_upserts_apply_in_order(mem):
    mem.add_entity("a", observations=["o1"])
    n = mem.add_entities([
        {"name": "a", "observations": ["o2"], "properties": {"k": 1}},
        {"name": "b", "type": "Thing"},
        {"name": "a", "observations": ["o3"], "properties": {"k": 2, "j": 0}},
        {"name": "b", "text": "bee"},
    ])
    assert n == 4 and len(mem) == 2
    assert mem.get_entity("a").observations == ("o1", "o2", "o3")
    assert mem.get_entity("a").properties == {"k": 2, "j": 0}
    b = mem.get_entity("b")
    assert (b.type, b.text) == ("Thing", "bee")


@pytest.mark.parametrize("size", [1, 5, 40, 25_000])
def test_batch_sizes_take_every_write_path(mem, size):
    """1 row: CREATE; a batch: LOAD FROM; >= copy_threshold: COPY. Updates: per row or join."""
    records = [{"name": f"n{i}", "type": "T", "text": f"text {i}", "observations": [f"o{i}"]} for i in range(size)]
    assert mem.add_entities(records) == size
    assert len(mem) == size
    ups = [{"name": f"n{i}", "text": f"new {i}", "observations": ["extra"], "properties": {"i": i}} for i in range(size)]
    assert mem.add_entities(ups) == size
    probe = f"n{size - 1}"
    e = mem.get_entity(probe)
    assert e.text == f"new {size - 1}" and e.observations == (f"o{size - 1}", "extra") and e.properties == {"i": size - 1}
    assert len({e.id for e in mem.iter_entities()}) == size


def test_ids_are_dense_and_never_reused(disk_mem, open_store, tmp_path):
    mem = disk_mem
    mem.add_entities([{"name": n} for n in "abc"])
    assert [mem.get_entity(n).id for n in "abc"] == [0, 1, 2]
    mem.delete_entity("c")
    mem.add_entity("d")
    assert mem.get_entity("d").id == 3
    mem.delete_entity("d")
    mem.close()
    mem = open_store(tmp_path / "store")
    assert mem.add_entity("e").id == 4


def test_read_your_writes_and_cache_coherence(mem):
    mem.add_entity("a", text="one")
    assert mem.get_entity("a").text == "one"  # now cached
    mem.add_entity("a", text="two")
    assert mem.get_entity("a").text == "two"
    assert mem.get_entity("ghost") is None  # a cached miss ...
    mem.add_entity("ghost")
    assert mem.get_entity("ghost") is not None  # ... that a write replaces
    mem.cypher("MATCH (e:Entity) WHERE e.name = $n SET e.text = 'three'", {"n": "a"})
    assert mem.get_entity("a").text == "three"  # Cypher writes drop every cache


def test_cypher_write_resets_derived_state(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    mem.cypher("MATCH (e:Entity) WHERE e.name = $n DETACH DELETE e", {"n": "b"})
    assert len(mem) == 1
    with pytest.raises(graphmem.NotFound):
        mem.add_relation("a", "R", "b")
    mem.add_entity("b")
    assert mem.get_entity("b").id == 2  # the id of the Cypher-deleted entity is not reused...
    mem.add_relation("a", "R", "b")
    assert [n.name for n in mem.neighbors("a")] == ["b"]


def test_delete_entity_cascades_relations(mem):
    mem.add_entities([{"name": n} for n in "abcd"])
    mem.add_relations([("a", "R", "b"), ("b", "S", "c"), ("d", "R", "b"), ("a", "R", "c")])
    assert mem.delete_entity("b") is True
    assert mem.get_entity("b") is None
    assert {(n.name, n.type) for n in mem.neighbors("a")} == {("c", "R")}
    assert mem.neighbors("d") == []
    assert sorted((r.source, r.type, r.target) for r in mem.iter_relations()) == [("a", "R", "c")]
    assert mem.delete_entity("b") is False
    mem.add_entity("b")
    assert mem.neighbors("b") == []  # a re-created entity does not inherit old relations


def test_relation_upsert_merges_properties(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    r = mem.add_relation("a", "KNOWS", "b", properties={"since": 2020, "via": "work"})
    assert (r.source, r.type, r.target, r.properties) == ("a", "KNOWS", "b", {"since": 2020, "via": "work"})
    mem.add_relation("a", "KNOWS", "b", properties={"since": 2021})
    assert mem.get_relation("a", "KNOWS", "b").properties == {"since": 2021, "via": "work"}
    mem.add_relation("a", "LIKES", "b")  # another type between the same pair is another relation
    assert mem.stats()["relations"] == 2
    assert mem.add_relations([("a", "KNOWS", "b"), ("a", "KNOWS", "b", {"x": 1})]) == 2
    assert mem.stats()["relations"] == 2
    assert mem.get_relation("a", "KNOWS", "b").properties == {"since": 2021, "via": "work", "x": 1}
    assert mem.get_relation("b", "KNOWS", "a") is None


def test_relations_bulk_path(mem):
    n = 1_000
    mem.add_entities([{"name": f"v{i}"} for i in range(n)])
    edges = [(f"v{i}", "NEXT", f"v{(i + 1) % n}") for i in range(n)]
    assert mem.add_relations(edges) == n  # over relation_copy_threshold: one batch statement
    assert mem.add_relations(edges[:300] + [("v0", "NEXT", "v2")]) == 301  # mostly existing: only one is new
    assert mem.stats()["relations"] == n + 1
    assert {x.name for x in mem.neighbors("v0", direction="out")} == {"v1", "v2"}


def test_neighbors_direction_and_types(mem):
    mem.add_entities([{"name": n} for n in "abc"])
    mem.add_relations([("a", "R", "b"), ("b", "S", "a"), ("c", "R", "a"), ("a", "R", "a")])
    both = {(n.name, n.type, n.direction) for n in mem.neighbors("a")}
    assert both == {("b", "R", "out"), ("b", "S", "in"), ("c", "R", "in"), ("a", "R", "out"), ("a", "R", "in")}
    assert [(n.name, n.type) for n in mem.neighbors("a", direction="out", types="R")] == [("a", "R"), ("b", "R")]
    assert [n.name for n in mem.neighbors("a", direction="in", types=["S"])] == ["b"]
    assert mem.neighbors("a", types=[]) == []
    with pytest.raises(graphmem.NotFound):
        mem.neighbors("nobody")


def test_batch_atomicity(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    mem.add_relation("a", "R", "b")
    before = _snapshot(mem)
    with pytest.raises(graphmem.NotFound, match="missing"):
        mem.add_relations([("b", "R", "a"), ("a", "R", "missing")])
    with pytest.raises(graphmem.InvalidInput, match="entity #2"):
        mem.add_entities([{"name": "a", "text": "changed"}, {"name": "c"}, {"name": "d", "properties": {"x": math.nan}}])
    with pytest.raises(graphmem.InvalidInput):
        mem.add_entities([{"name": "e", "embedding": [1.0, 0.0]}, {"name": "f", "embedding": [1.0, 0.0, 0.0]}])
    assert _snapshot(mem) == before


def test_engine_failure_mid_transaction_rolls_back_everything(mem, monkeypatch):
    """A failure after some statements ran (not caught by validation) leaves no trace."""
    mem.add_entity("a", text="old")
    from graphmem.store.store import Store

    real = Store.execute

    def failing(self, name, params=None):
        if name == "entity_create":
            raise graphmem.QueryError("injected failure")
        return real(self, name, params)

    monkeypatch.setattr(Store, "execute", failing)
    with pytest.raises(graphmem.QueryError, match="injected"):
        mem.add_entities([{"name": "a", "text": "new"}, {"name": "z"}])
    monkeypatch.undo()
    assert mem.get_entity("a").text == "old" and mem.get_entity("z") is None and len(mem) == 1
    assert mem.add_entity("z").name == "z"  # bookkeeping is intact after the rollback


# -- bad input --------------------------------------------------------------------------

BAD_NAMES = ["", "   ", None, 42, b"bytes", "a\x00b", "tab\there", "new\nline", "x" * (MAX_NAME_LENGTH + 1), "\ud800"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=repr)
def test_bad_names(mem, bad):
    mem.add_entity("ok")
    before = _snapshot(mem)
    for call in (
        lambda: mem.add_entity(bad),
        lambda: mem.add_entities([{"name": "fine"}, {"name": bad}]),
        lambda: mem.get_entity(bad),
        lambda: mem.add_relation("ok", "R", bad),
        lambda: mem.add_relation(bad, "R", "ok"),
        lambda: mem.delete_entity(bad),
        lambda: mem.neighbors(bad),
    ):
        with pytest.raises(graphmem.InvalidInput):
            call()
    assert _snapshot(mem) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "has space"},
        {"type": "1starts_with_digit"},
        {"type": ""},
        {"type": 3},
        {"type": "x" * 65},
        {"text": 5},
        {"observations": "not a list"},
        {"observations": [1, 2]},
        {"properties": ["a"]},
        {"properties": {1: "int key"}},
        {"properties": {"when": object()}},
        {"properties": {"inf": float("inf")}},
        {"embedding": [float("nan"), 1.0]},
        {"embedding": [0.0, 0.0]},
        {"embedding": "abc"},
        {"embedding": [[1.0, 2.0]]},
    ],
    # Without the object's address: the parallel test workers must collect identical ids.
    ids=lambda kwargs: re.sub(r" at 0x[0-9a-f]+", "", repr(kwargs)),
)
def test_bad_entity_fields(mem, kwargs):
    with pytest.raises(graphmem.InvalidInput):
        mem.add_entity("x", **kwargs)
    assert mem.get_entity("x") is None and len(mem) == 0


@pytest.mark.parametrize(
    "record",
    [
        "a string",
        {"name": "x", "colour": "red"},
        {"type": "T"},
        ("a", "R"),
        {"source": "a", "target": "b"},
        ("a", "bad type", "b"),
        ("a", "R", "b", "props-not-a-dict"),
        42,
    ],
    ids=repr,
)
def test_bad_records(mem, record):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    before = _snapshot(mem)
    with pytest.raises(graphmem.InvalidInput):
        if isinstance(record, dict) and "name" in record or isinstance(record, dict) and set(record) == {"type"}:
            mem.add_entities([record])
        else:
            mem.add_relations([record])
    assert _snapshot(mem) == before


def test_wrong_argument_types(mem):
    mem.add_entity("a")
    with pytest.raises(graphmem.InvalidInput):
        mem.neighbors("a", direction="sideways")
    with pytest.raises(graphmem.InvalidInput):
        mem.neighbors("a", types=5)
    with pytest.raises(graphmem.InvalidInput):
        mem.add_entities({"name": "a"})
    with pytest.raises(graphmem.InvalidInput):
        mem.add_relations("abc")
    with pytest.raises(graphmem.InvalidInput):
        mem.cypher("RETURN 1", params=[1])
    with pytest.raises(graphmem.InvalidInput):
        list(mem.iter_entities(batch_size=0))
    with pytest.raises(graphmem.InvalidInput):
        graphmem.open(None, engine="sqlite", embedder=None)
    with pytest.raises(graphmem.InvalidInput):
        graphmem.open(None, embedder="nonsense")


def test_cypher_looking_names_are_data(mem):
    evil = ["x'}) DETACH DELETE n //", "$key", "a`b", "'; MATCH (n) DETACH DELETE n; //", "\\' OR 1=1"]
    mem.add_entities([{"name": n, "text": n, "properties": {n: n}} for n in evil])
    mem.add_relations([(evil[0], "R", evil[1])])
    for n in evil:
        e = mem.get_entity(n)
        assert (e.name, e.text, e.properties) == (n, n, {n: n})
    assert len(mem) == len(evil)
    assert [x.name for x in mem.neighbors(evil[0])] == [evil[1]]


def test_unicode_round_trip(mem):
    names = ["Zoë Müller", "東京", "😀 emoji", "Ω≈ç√", "José García", "\u200bzero-width"]
    mem.add_entities([{"name": n, "text": n * 2, "observations": [n]} for n in names])
    for n in names:
        e = mem.get_entity(n)
        assert (e.name, e.text, e.observations) == (n, n * 2, (n,))


# -- cypher, tracer, stats --------------------------------------------------------------------


def test_cypher_parameters_must_be_bound(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    with pytest.raises(graphmem.QueryError, match=r"\$who"):
        mem.cypher("MATCH (e:Entity) WHERE e.name = $who DETACH DELETE e")
    assert len(mem) == 2  # kuzu would have deleted everything (DESIGN.md)
    assert mem.cypher("MATCH (e:Entity) WHERE e.name = $who RETURN e.name AS n", {"who": "a"}) == [{"n": "a"}]
    assert mem.cypher("RETURN '$not_a_param' AS s") == [{"s": "$not_a_param"}]


def test_bad_cypher_is_query_error_and_store_stays_usable(mem):
    for bad in ["MATCH (e:Entity RETURN e", "MATCH (e:Nope) RETURN e", "RETURN 1 +", ""]:
        with pytest.raises(graphmem.QueryError):
            mem.cypher(bad)
    mem.add_entity("still fine")
    assert mem.cypher("MATCH (e:Entity) RETURN count(*) AS n") == [{"n": 1}]


def test_tracer_sees_every_statement_and_batches_are_not_n_plus_1(mem):
    mem.add_entities([{"name": f"e{i}"} for i in range(200)])
    trace = Trace()
    mem.tracer = trace
    mem.add_entities([{"name": f"e{i}", "text": "t"} for i in range(200)] + [{"name": f"new{i}"} for i in range(200)])
    mem.add_relations([(f"e{i}", "R", f"e{i + 1}") for i in range(199)])
    mem.add_relations([(f"e{i}", "R", f"e{i + 1}") for i in range(50)])  # all exist, no properties: no writes
    writes = [n for n in trace.names if not n.startswith("<")]
    # Existing rows come from the cache or one join read; each kind of write is one statement
    # (the replaced versions go to the history table in one statement too).
    assert writes in (
        ["entity_create_batch", "entity_version_batch", "entity_update_batch", "relation_create_batch"],
        ["entity_get_many", "entity_create_batch", "entity_version_batch", "entity_update_batch",
         "relation_create_batch"],
    )
    trace.names.clear()
    assert mem.get_entity("e1").text == "t"  # just written: served by the cache
    mem.get_entity("nobody")
    mem.get_entity("nobody")
    assert trace.names == ["entity_get"]  # one miss reaches the store; the repeat is cached
    mem.tracer = None


def test_stats(mem):
    mem.add_entities([{"name": "a", "type": "Person"}, {"name": "b", "type": "Person"}, {"name": "c"}])
    mem.add_relations([("a", "KNOWS", "b"), ("a", "NEAR", "c")])
    s = mem.stats()
    json.dumps(s)
    assert s["entities"] == 3 and s["relations"] == 2
    assert s["entity_types"] == {"Entity": 1, "Person": 2}
    assert s["relation_types"] == {"KNOWS": 1, "NEAR": 1}
    assert s["engine"] == mem.engine and s["schema_version"] >= 1


def test_embeddings_are_stored_int8(mem):
    rng = np.random.default_rng(0)
    v = rng.normal(size=32).astype(np.float32)
    mem.add_entity("a", embedding=v)
    got = mem.get_entity("a").embedding
    unit = v / np.linalg.norm(v)
    assert got.dtype == np.float32 and got.shape == (32,)
    assert float(got @ unit / np.linalg.norm(got)) > 0.999
    with pytest.raises(graphmem.InvalidInput, match="dimension"):
        mem.add_entity("b", embedding=rng.normal(size=16))
    assert mem.stats()["vector_dim"] == 32


def test_custom_embedder_embeds_on_write_and_on_text_change(mem_factory_embedder):
    mem, calls = mem_factory_embedder
    mem.add_entities([{"name": "a", "text": "red apple"}, {"name": "b", "text": "green pear"}])
    assert calls == [["a. red apple", "b. green pear"]]  # one batch, not one call per entity
    mem.add_entity("a", properties={"x": 1})  # embedded text unchanged: no call
    assert len(calls) == 1
    mem.add_entity("a", observations=["crunchy"])
    assert calls[-1] == ["a. red apple. crunchy"]
    assert mem.get_entity("a").embedding is not None


@pytest.fixture
def mem_factory_embedder(open_store):
    calls: list[list[str]] = []
    inner = graphmem.HashEmbedder(dim=24)

    class Recording:
        dim = 24

        def encode(self, texts):
            calls.append(list(texts))
            return inner.encode(texts)

    return open_store(None, embedder=Recording()), calls


def test_close_is_idempotent_and_closed_store_refuses(open_store, tmp_path):
    mem = open_store(tmp_path / "s")
    mem.add_entity("a")
    mem.close()
    mem.close()
    assert mem.closed
    with pytest.raises(graphmem.GraphMemError, match="closed"):
        mem.get_entity("a")
    with open_store(tmp_path / "s") as again:  # released at once: reopen in the same process works
        assert again.get_entity("a") is not None


def test_cypher_writes_outside_the_data_model_are_refused(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    mem.add_relation("a", "R", "b")
    before = _snapshot(mem)
    for statement in (
        "CREATE (:Entity {key: 'x'})",
        "MATCH (e:Entity) WHERE e.name = 'b' SET e.id = 0",
        "MATCH (e:Entity) WHERE e.name = 'a' SET e.name = 'renamed'",
        "MATCH (a:Entity), (b:Entity) WHERE a.name = 'a' AND b.name = 'b' CREATE (a)-[:Relation]->(b)",
    ):
        with pytest.raises(graphmem.QueryError, match="refused"):
            mem.cypher(statement)
    assert _snapshot(mem) == before and len(mem) == 2
    mem.cypher(
        "CREATE (:Entity {key: $k, id: 99, namespace: 'default', name: 'c', type: 'Thing'})", {"k": "default\x1fc"}
    )
    c = mem.get_entity("c")
    assert (c.id, c.type, c.created_at) == (99, "Thing", None)  # accepted; Cypher-made entities have no timestamps
    assert mem.add_entity("d").id == 100  # the id floor follows


def test_first_written_is_the_oldest_current_entity_of_the_namespace(mem):
    assert mem.first_written() is None
    first = mem.add_entity("Ada")
    mem.add_entity("Bob")
    other = mem.namespace("other")
    assert other.first_written() is None  # another namespace's entities are not counted
    assert mem.first_written() == first.created_at and mem.first_written().tzinfo is not None
    mem.expire_entity("Ada")  # history only: no longer current
    assert mem.first_written() == mem.get_entity("Bob").created_at


def test_schema_lists_the_tables_their_properties_and_the_functions(mem):
    schema = mem.schema()
    assert schema.tables["Entity"] == "NODE" and schema.tables["Relation"] == "REL"
    assert set(schema.columns) == set(graphmem.types.SCHEMA_TABLES)
    keys = [c.name for c in schema.columns["Entity"] if c.primary_key]
    assert keys == ["key"] and {"name", "type", "namespace"} <= {c.name for c in schema.columns["Entity"]}
    assert "lower" in {name.lower() for name, _ in schema.functions}
    mem.close()
    with pytest.raises(graphmem.GraphMemError):
        mem.schema()
