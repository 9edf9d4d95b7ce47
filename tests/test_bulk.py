"""The bulk write path (graphmem/bulk.py) against the per-record path (oracle).

Random batches (new names, names repeated within a batch, names already
stored, optional fields present or not, some invalid records) go through
three stores: ``add_entities`` / ``add_relations`` as shipped (bulk path when
it applies), the same calls with the bulk path switched off (the per-record
path of graphmem/writes.py), and ``add_entity`` / ``add_relation`` one record
at a time. The first two must leave identical stores, history and ids
included, and raise the same errors; the third the same current state
(one-by-one writes make a version per record, a batch one per name).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem import records
from graphmem.memory import bulk
from graphmem.config import StoreConfig
from graphmem.errors import GraphMemError, InvalidInput
from graphmem.validate import _SPACES, names_pass, stored_vector, string_column

# Small thresholds so that small batches take the COPY statements a 50k batch
# takes; a small address-space reservation, as each example opens three stores.
_CONFIG = StoreConfig(copy_threshold=3, relation_copy_threshold=2, relation_copy_from=2, max_db_size=1 << 30)


@pytest.fixture(autouse=True)
def _bulk_from_one_record(monkeypatch):
    """add_entities reads a list as columns from bulk.ENTITY_BULK_FROM records on;
    these tests' batches are smaller, so the bulk path is opened to them as
    _CONFIG opens the COPY statements."""
    monkeypatch.setattr(bulk, "ENTITY_BULK_FROM", 1)


_NAMES = [f"n{i}" for i in range(6)] + ["Zoë", "東京"]
"""Written first in every example, so that relations find their endpoints."""
_FRESH = [f"f{i}" for i in range(40)]
"""Names the entity batches draw too: mostly new, so the bulk path applies."""
_T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
_times = st.sampled_from([None, None, _T0, _T0 + timedelta(days=3), _T0 - timedelta(days=2)])
_props = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["a", "b", "ü"]), st.one_of(st.integers(-3, 3), st.text(max_size=3),
                                                                st.floats(allow_nan=False, allow_infinity=False),
                                                                st.lists(st.integers(0, 2), max_size=2)),
                    max_size=3),
)


@st.composite
def _entity(draw: st.DrawFn) -> dict:
    record = {"name": draw(st.sampled_from(_NAMES + _FRESH))}
    for field, strategy in (
        ("type", st.sampled_from([None, "Person", "Place"])),
        ("text", st.one_of(st.none(), st.text(max_size=4))),
        ("observations", st.one_of(st.none(), st.lists(st.sampled_from(["x", "y", "z", ""]), max_size=4))),
        ("properties", _props),
        ("valid_from", _times),
        ("valid_to", _times),
        ("importance", st.one_of(st.none(), st.floats(0, 1))),
    ):
        if draw(st.booleans()):
            record[field] = draw(strategy)
    if draw(st.integers(0, 2)) == 0:
        # Mostly 3-d (the store's dimension once one is written); now and then
        # one the checks refuse: another length, a zero vector, a NaN.
        record["embedding"] = draw(st.one_of(
            st.lists(st.integers(-3, 3), min_size=3, max_size=3).map(lambda v: np.array(v, np.float32)),
            st.lists(st.floats(-2, 2, width=32), min_size=3, max_size=3),
            st.sampled_from([None, [1.0, 2.0], [0.0, 0.0, 0.0], [float("nan"), 1.0, 1.0]])))
    if draw(st.integers(0, 30)) == 0:  # now and then a record the checks refuse
        record[draw(st.sampled_from(["name", "type", "text", "bogus"]))] = draw(
            st.sampled_from(["", " \u3000", "a\x00", "not a type", 7]))
    return record


@st.composite
def _relation(draw: st.DrawFn, shape: str = "either") -> dict | tuple:
    source, target = draw(st.sampled_from(_NAMES)), draw(st.sampled_from(_NAMES))
    type_ = draw(st.sampled_from(["KNOWS", "LIKES"]))
    if shape == "tuple" or (shape == "either" and draw(st.booleans())):
        return (source, type_, target)
    record = {"source": source, "type": type_, "target": target}
    for field, strategy in (("properties", _props), ("valid_from", _times), ("valid_to", _times)):
        if draw(st.booleans()):
            record[field] = draw(strategy)
    if draw(st.integers(0, 8)) == 0:
        record["replaces"] = draw(st.sampled_from([True, False]))
    return record


_batches = st.lists(
    st.tuples(st.lists(_entity(), min_size=1, max_size=6),
              st.sampled_from(["tuple", "dict", "either"]).flatmap(
                  lambda shape: st.lists(_relation(shape), min_size=1, max_size=6))),
    min_size=1, max_size=3,
)  # fmt: skip


def _state(mem: graphmem.Memory, *, history: bool) -> tuple:
    """Everything a reader can see (timestamps of the writes aside: they differ per store)."""
    entities = sorted(
        ((e.name, e.id, e.type, e.text, e.observations, repr(e.properties), e.valid_from, e.valid_to, e.importance)
         for e in mem.iter_entities()),
        key=repr,
    )
    relations = sorted(
        ((r.source, r.type, r.target, repr(r.properties), r.valid_from, r.valid_to) for r in mem.iter_relations()),
        key=repr,
    )
    names = [e[0] for e in entities]
    # neighbors() of an entity not valid now is NotFound: compared as such.
    neighbors = {n: _outcome(lambda n=n: [(x.name, x.type, x.direction) for x in mem.neighbors(n)]) for n in names}
    stats = {k: v for k, v in mem.stats().items() if k in ("entities", "relations", "entity_types", "relation_types")}
    # get_entity reads through the entity cache, which each path fills as it writes.
    got = {n: _outcome(lambda n=n: None if (e := mem.get_entity(n)) is None else (
        e.type, e.text, e.observations, repr(e.properties), e.valid_from, e.valid_to, e.importance,
        e.embedding is not None)) for n in names}  # fmt: skip
    out = (len(mem), entities, relations, neighbors, stats, mem.vector_dim, got)
    if history:
        versions = {}
        for n in names:
            h = mem.history(n)
            versions[n] = ([(v.type, v.text, v.observations, repr(v.properties), v.valid_from, v.valid_to)
                            for v in h.entity],
                           sorted(((r.source, r.type, r.target, repr(r.properties), r.valid_from, r.valid_to,
                                    r.expired_at is None) for r in h.relations), key=repr))  # fmt: skip
        out += (versions,)
    return out


def _outcome(call, *args) -> tuple:
    try:
        return ("ok", call(*args))
    except GraphMemError as exc:
        return (type(exc).__name__, str(exc))


def _one_by_one(mem: graphmem.Memory, entities: list, relations: list) -> None:
    """The batches that the batch calls wrote, one record per call."""
    for record in entities:
        mem.add_entity(**record)
    for record in relations:
        if isinstance(record, tuple):
            mem.add_relation(*record)
        else:
            mem.add_relation(**record)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches)
def test_bulk_equals_per_record_path(batches, engine, monkeypatch) -> None:
    # Relation COPYs in record batches of 2 rows on either engine (kuzu's 64 would
    # need larger batches than these): the rows a COPY writes must not depend on its chunks.
    monkeypatch.setattr(records, "_RELATION_COPY_CHUNK", {engine: 2})
    # Opened and closed per example (the open_store fixture closes only at the end of the test).
    stores = [graphmem.open(None, embedder=None, engine=engine, config=_CONFIG) for _ in range(3)]
    try:
        _compare(batches, *stores, monkeypatch)
    finally:
        for store in stores:
            store.close()


def _compare(batches, fast, slow, single, monkeypatch) -> None:
    used = []
    real_read = bulk.read_entities

    def spy(records, **options):
        batch = real_read(records, **options)
        used.append(batch is not None)
        return batch

    for store in (fast, slow, single):
        store.add_entities([{"name": n} for n in _NAMES])
    valid_batches = []
    for entities, relations in batches:
        with monkeypatch.context() as patch:
            patch.setattr(bulk, "read_entities", spy)
            got = _outcome(fast.add_entities, [dict(r) for r in entities])
        with monkeypatch.context() as patch:
            patch.setattr(bulk, "read_entities", lambda records, **options: None)
            patch.setattr(bulk, "read_relations", lambda records, **options: None)
            expected = _outcome(slow.add_entities, [dict(r) for r in entities])
            expected_rel = _outcome(slow.add_relations, list(relations))
        assert got == expected
        assert _outcome(fast.add_relations, list(relations)) == expected_rel
        if got[0] == "ok":
            valid_batches.append((entities, relations if expected_rel[0] == "ok" else []))
    assert _state(fast, history=True) == _state(slow, history=True)
    _same_vectors(fast, slow)
    def triple(r):
        return r[:3] if isinstance(r, tuple) else (r["source"], r["type"], r["target"])

    # A batch merges the records of one relation (properties, validity, replaces)
    # before writing; one-by-one calls apply each in turn, and replaces=True of
    # a later record retires relations an earlier record of the batch wrote. The
    # current state agrees when no batch repeats a relation or replaces.
    comparable = all(
        len({triple(r) for r in relations}) == len(relations)
        and not any(isinstance(r, dict) and r.get("replaces") for r in relations)
        for _, relations in batches
    )
    if len(valid_batches) == len(batches) and comparable:
        for entities, relations in valid_batches:
            _one_by_one(single, entities, relations)
        # One-by-one writes of a name repeated in a batch make more versions; the current state is the same.
        assert _state(fast, history=False) == _state(single, history=False)
        _same_vectors(fast, single)


def _same_vectors(a: graphmem.Memory, b: graphmem.Memory) -> None:
    """The same entities hold vectors, equal to within one int8 step: the bulk
    path normalises a whole matrix at once, whose sums of squares may differ
    from a per-vector dot in the last bit (a rounding tie may then go the other way)."""
    left = {e.name: e.embedding for e in a.iter_entities()}
    right = {e.name: e.embedding for e in b.iter_entities()}
    assert {n for n, v in left.items() if v is not None} == {n for n, v in right.items() if v is not None}
    for name, vector in left.items():
        if vector is not None:
            np.testing.assert_allclose(vector, right[name], atol=1 / 127 + 1e-6)


def test_bulk_path_taken_for_new_records(open_store) -> None:
    mem = open_store(None, config=_CONFIG)
    records = [{"name": f"e{i}", "type": "P", "text": "t", "properties": {"i": i}, "observations": ["a", None]}
               for i in range(10)]  # fmt: skip
    assert bulk.read_entities(records) is not None
    assert mem.add_entities(records) == 10
    relations = [{"source": f"e{i}", "type": "K", "target": f"e{i + 1}"} for i in range(9)]
    assert bulk.read_relations(relations) is not None
    assert mem.add_relations(relations) == 9
    assert mem.get_entity("e3").observations == ("a", "")
    assert mem.get_entity("e3").properties == {"i": 3}
    assert [(n.name, n.direction) for n in mem.neighbors("e3")] == [("e2", "in"), ("e4", "out")]
    assert mem.stats()["relations"] == 9
    # Written again: the bulk path declines (they exist) and the per-record path merges.
    assert mem.add_entities([{"name": "e3", "observations": ["b"]}]) == 1
    assert mem.get_entity("e3").observations == ("a", "", "b")


@pytest.mark.parametrize("records", [
    [{"name": "ok"}, {"name": " \u2003 "}],
    [{"name": "ok"}, {"name": "a\x85"}],
    [{"name": "ok", "type": "not a type"}],
    [{"name": "ok", "properties": {1: "int key"}}],
    [{"name": "ok", "properties": {"t": (1, 2)}}],
    [{"name": "ok", "properties": {"x": float("nan")}}],
    [{"name": "ok", "observations": "a string"}],
    [{"name": "ok", "text": "a\x00b"}],
    [{"name": "ok", "importance": True}],
    [{"name": "ok", "valid_from": datetime(2024, 1, 1)}],
    [{"name": "ok", "embedding": [1.0, 0.0]}],
    [{"name": "ok"}, {"name": "ok", "text": "twice"}],
])  # fmt: skip
def test_bulk_declines_what_it_cannot_prove(records) -> None:
    """Each of these needs the per-record path (a refusal, a conversion or a merge)."""
    assert bulk.read_entities(records) is None or len({r["name"] for r in records}) < len(records)


def test_refusals_match_and_write_nothing(open_store) -> None:
    mem = open_store(None, config=_CONFIG)
    with pytest.raises(InvalidInput, match=r"entity #1: name must not be empty or blank"):
        mem.add_entities([{"name": "a"}, {"name": " \u3000"}])
    with pytest.raises(InvalidInput, match=r"property names must be str"):
        mem.add_entities([{"name": "a", "properties": {1: 2}}])
    assert len(mem) == 0


@pytest.mark.parametrize(("importance", "shown"), [
    (True, "True"), ("3", "'3'"), (float("inf"), "inf"), (float("nan"), "nan"),
    (10**400, "an int of 1329 bits"),  # beyond any float: once an OverflowError, not InvalidInput
], ids=["bool", "str", "inf", "nan", "huge-int"])  # fmt: skip
def test_importance_refusals(open_store, importance, shown) -> None:
    mem = open_store(None, config=_CONFIG)
    for call in (lambda: mem.add_entities([{"name": "a"}, {"name": "b", "importance": importance}]),
                 lambda: mem.add_entity("b", importance=importance)):  # fmt: skip
        with pytest.raises(InvalidInput, match=re.escape(f"importance must be a finite number, not {shown}")):
            call()
    assert len(mem) == 0


def test_space_list_matches_the_interpreter() -> None:
    """The blank-name column check lists str.isspace's characters; they must agree."""
    expected = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    expanded = _SPACES.replace("\u2000-\u200a", "".join(chr(c) for c in range(0x2000, 0x200B)))
    assert sorted(expanded) == sorted(expected)
    assert not any(chr(c).isspace() for c in range(0x3001, 0x110000, 1))


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=6))
def test_name_column_check_agrees_with_check_name(name: str) -> None:
    """names_pass never passes a name that check_name refuses."""
    from graphmem.validate import check_name

    column = string_column([name], nullable=False)
    try:
        check_name(name)
        ok = True
    except InvalidInput:
        ok = False
    if column is None:
        assert not ok
    else:
        assert names_pass(column) == ok, (name, unicodedata.category(name[0]) if name else "")


def test_a_name_read_before_it_existed_is_found_after_a_bulk_write(open_store) -> None:
    """The entity cache remembers misses; a bulk write of the name must drop that."""
    mem = open_store(None, config=_CONFIG)
    assert mem.get_entity("later") is None  # cached as missing
    assert mem.add_entities([{"name": "later"}, {"name": "other"}, {"name": "third"}]) == 3
    assert mem.get_entity("later") is not None


def test_relation_copy_rows_keeps_rows_and_order() -> None:
    """The re-chunked COPY table holds the same rows in the same order, on every engine's setting."""
    table = records.relation_rows_table(
        [f"s{i}" for i in range(150)], [f"t{i}" for i in range(150)], ["K"] * 150, ["{}"] * 150,
        datetime(2024, 1, 1), [None] * 149 + [datetime(2024, 2, 1)], [None] * 150, engine="kuzu")
    assert records.relation_copy_rows(table, engine="kuzu").column(0).num_chunks == 3  # 64 + 64 + 22
    for engine in ("kuzu", "ladybug"):
        shaped = records.relation_copy_rows(table, engine=engine)
        assert shaped.equals(table)
        assert shaped.schema == records.RELATION_SCHEMA


@pytest.mark.parametrize("copy_from", [64, 20_000], ids=["copy", "load"])
def test_relation_batch_reads_back(open_store, copy_from: int) -> None:
    """A batch of relations larger than a COPY chunk, NULL validity in most rows, reads back
    whole, written by COPY or by the LOAD FROM statement (StoreConfig.relation_copy_from)."""
    mem = open_store(None, config=StoreConfig(relation_copy_from=copy_from, max_db_size=1 << 30))
    mem.add_entities([{"name": f"e{i}"} for i in range(200)])
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    relations = [{"source": f"e{i}", "type": "K" if i % 3 else "L", "target": f"e{(i * 7 + 1) % 200}",
                  **({"valid_from": when} if i == 150 else {})} for i in range(200)]  # fmt: skip
    assert mem.add_relations(relations) == 200
    got = {(r.source, r.type, r.target, r.valid_from) for r in mem.iter_relations()}
    assert got == {(r["source"], r["type"], r["target"], r.get("valid_from")) for r in relations}


def test_param_bytes_of_a_rechunked_copy_table_counts_its_rows() -> None:
    """The disk-room estimate of a COPY table cut into slices is the size of the rows it holds
    (within what NULL columns sharing one buffer change), not zero or the slices' count."""
    from graphmem.store import space

    n = 5_000
    table = records.relation_rows_table([f"source-{i}" for i in range(n)], [f"target-{i}" for i in range(n)],
                                        ["K"] * n, ["{}"] * n, datetime(2024, 1, 1), [None] * n, [None] * n,
                                        engine="ladybug")  # fmt: skip
    cut = records.relation_copy_rows(table, engine="kuzu")
    assert cut.column(0).num_chunks > 64
    whole = space.param_bytes(table)
    assert 0.5 * whole <= space.param_bytes(cut) <= 1.5 * whole
    assert space.param_bytes(cut) >= sum(len(f"source-{i}") + len(f"target-{i}") for i in range(n))


def _passes(check, value) -> bool:
    try:
        check(value)
    except InvalidInput:
        return False
    return True


_column_text = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\x1f", "\x85", "_", "1", " "]),
                       max_size=8)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _column_text), min_size=1, max_size=5))
def test_type_and_text_column_checks_agree_with_the_per_value_checks(values) -> None:
    """A column passes types_pass / texts_pass exactly when every value passes
    check_type / check_text (the per-value reference; None is "not given")."""
    from graphmem.validate import check_text, check_type, texts_pass, types_pass

    column = string_column(values, nullable=True)
    given = [v for v in values if v is not None]
    if column is None:  # a lone surrogate: Arrow cannot hold it, the per-record path decides
        return
    assert types_pass(column) == all(_passes(check_type, v) for v in given)
    assert texts_pass(column) == all(_passes(check_text, v) for v in given)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(_column_text, min_size=1, max_size=5))
def test_name_column_check_agrees_over_columns(names) -> None:
    """names_pass over a column is check_name over every value, with several values at once."""
    from graphmem.validate import check_name

    column = string_column(names, nullable=False)
    if column is not None:
        assert names_pass(column) == all(_passes(check_name, n) for n in names)


@settings(deadline=None)  # the first example pays pyarrow's first compute calls
@given(pairs=st.lists(st.tuples(st.sampled_from(_NAMES + ["gone", "x"]), st.sampled_from(_NAMES + ["gone"])),
                      min_size=1, max_size=12))  # fmt: skip
def test_endpoints_resolved_once_per_name_match_a_lookup_per_key(pairs) -> None:
    from types import SimpleNamespace

    import pyarrow as pa

    from graphmem.index.ids import IdMap

    prefix = "ns" + records.KEY_SEPARATOR
    ids = IdMap.from_arrays([prefix + n for n in _NAMES], list(range(10, 10 + len(_NAMES))), floor=0)
    batch = bulk.read_relations([(s, "R", t) for s, t in pairs])
    src, dst = bulk._endpoint_ids(SimpleNamespace(ids=ids), batch, pa.scalar(prefix))
    assert src.tolist() == ids.ids_of([prefix + s for s, _ in pairs]).tolist()
    assert dst.tolist() == ids.ids_of([prefix + t for _, t in pairs]).tolist()


@settings(deadline=None)
@given(records_=st.lists(st.fixed_dictionaries({"name": st.sampled_from(_FRESH), "type": st.sampled_from([None, "T"]),
                                               "text": st.one_of(st.none(), st.text(max_size=4)),
                                               "properties": _props, "valid_from": _times}),
                         min_size=1, max_size=6))  # fmt: skip
def test_batches_read_back_from_arrow_as_they_were(records_) -> None:
    """What an import spills to a temporary file (graphmem.interchange.transfer._Kept) comes back unchanged."""
    entities = bulk.read_entities(records_)
    if entities is not None:
        again = bulk.EntityBatch.from_arrow(entities.to_arrow())
        assert again.records() == entities.records() and again.name_list == entities.name_list
    relations = bulk.read_relations([{"source": r["name"], "type": "R", "target": r["name"],
                                      "properties": r["properties"]} for r in records_])  # fmt: skip
    if relations is not None:
        again = bulk.RelationBatch.from_arrow(relations.to_arrow())
        assert again.records() == relations.records()
        assert (again.sources, again.targets) == (relations.sources, relations.targets)


def test_bulk_path_writes_embeddings(open_store) -> None:
    """Records with embeddings take the bulk path (add_entities reads them as a
    matrix), set the store's dimension, reach a loaded vector index, and a
    later batch of another dimension is refused as the per-record path refuses it."""
    mem = open_store(None, config=_CONFIG)
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    assert bulk.read_entities([{"name": "a", "embedding": vectors[0]}]) is None  # not without vectors=True
    batch = bulk.read_entities([{"name": f"v{i}", "embedding": v} for i, v in enumerate(vectors)], vectors=True)
    assert batch is not None and batch.vectors is not None and batch.vectors.shape == (20, 8)
    mem.add_entities([{"name": f"v{i}", "embedding": vectors[i]} for i in range(10)] + [{"name": "plain"}])
    assert mem.vector_dim == 8
    assert mem.get_entity("plain").embedding is None
    assert mem.search(vectors[3], 1)[0].name == "v3"  # loads the index
    mem.add_entities([{"name": f"v{i}", "embedding": vectors[i]} for i in range(10, 20)])
    assert mem.search(vectors[15], 1)[0].name == "v15"  # upserted into the loaded index
    unit = vectors[12] / np.linalg.norm(vectors[12])
    np.testing.assert_allclose(mem.get_entity("v12").embedding, unit, atol=1 / 127)
    with pytest.raises(InvalidInput, match="dimension 3"):
        mem.add_entities([{"name": "w", "embedding": [1.0, 2.0, 3.0]}])
    assert mem.get_entity("w") is None


def test_large_relation_batch_into_a_full_store_is_logged_not_copied(open_store, tmp_path) -> None:
    """Past a row per COPY_PER_STORED stored relations a batch goes to the WAL
    (relation_create_batch, no checkpointing COMMIT) and lets the WAL grow to
    BULK_WAL before it is folded; the rows read back whole, and after a
    reopen (close folds the WAL)."""
    config = StoreConfig(relation_copy_threshold=2, relation_copy_from=10, max_db_size=1 << 30)
    mem = open_store(tmp_path / "store", config=config)
    mem.add_entities([{"name": f"e{i}"} for i in range(100)])
    statements: list[str] = []
    mem._store.tracer = lambda name, params: statements.append(name)
    first = [{"source": f"e{i}", "type": "K", "target": f"e{(i + 1) % 100}"} for i in range(100)]
    assert mem.add_relations(first) == 100  # 100 rows, nothing stored: COPY
    assert "relation_copy" in statements and "relation_create_batch" not in statements
    statements.clear()
    second = [{"source": f"e{i}", "type": "L", "target": f"e{(i * 3 + 1) % 100}"} for i in range(12)]
    assert not records.copies_relations(12, 100, copy_from=10)
    assert mem.add_relations(second) == 12
    # Logged: LOAD FROM, or on LadybugDB for so few rows the UNWIND form (records.RELATION_ROWS_MAX).
    assert {"relation_create_batch", "relation_create_rows"} & set(statements) and "relation_copy" not in statements
    assert mem._store._next_checkpoint_wal >= records.BULK_WAL
    expected = {(r["source"], r["type"], r["target"]) for r in first + second}
    assert {(r.source, r.type, r.target) for r in mem.iter_relations()} == expected
    mem.close()
    again = open_store(tmp_path / "store", config=config)
    assert {(r.source, r.type, r.target) for r in again.iter_relations()} == expected


_KILLED_WRITER = """
import os, sys
import graphmem
from graphmem.config import StoreConfig
config = StoreConfig(relation_copy_threshold=2, relation_copy_from=10, max_db_size=1 << 30)
mem = graphmem.open(sys.argv[1], embedder=None, engine=sys.argv[2], config=config)
mem.add_entities([{"name": f"e{i}"} for i in range(100)])
mem.add_relations([{"source": f"e{i}", "type": "K", "target": f"e{(i + 1) % 100}"} for i in range(100)])
for b in range(3):  # each past a row per 8 stored: logged, the WAL left to grow (BULK_WAL)
    mem.add_relations([{"source": f"e{i}", "type": f"L{b}", "target": f"e{(i * 3 + b) % 100}"} for i in range(12)])
assert mem._store._next_checkpoint_wal >= 64 << 20
print("acknowledged", flush=True)
os.kill(os.getpid(), 9)
"""


def test_relations_logged_in_bulk_survive_a_kill(tmp_path, engine) -> None:
    """The batches a raised WAL allowance leaves unfolded are durable: a process
    killed right after they were acknowledged loses none of them."""
    import os
    import subprocess
    import sys

    path = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path), engine], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    assert "acknowledged" in done.stdout, done.stderr
    assert done.returncode == -9
    with graphmem.open(path, embedder=None, engine=engine) as mem:
        got = {(r.source, r.type, r.target) for r in mem.iter_relations()}
    expected = {(f"e{i}", "K", f"e{(i + 1) % 100}") for i in range(100)}
    expected |= {(f"e{i}", f"L{b}", f"e{(i * 3 + b) % 100}") for b in range(3) for i in range(12)}
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(dim=st.integers(1, 64), rows=st.integers(1, 80), seed=st.integers(0, 2**32 - 1),
       spread=st.floats(-20, 20))  # fmt: skip
def test_a_batch_normalises_each_vector_to_the_bits_of_one_stored_alone(dim, rows, seed, spread):
    """An entity's stored vector does not depend on the batch it came in: the
    columnar path (64+ records) gives each row the bits stored_vector gives
    it alone (the per-record path), whatever the batch's size."""
    rng = np.random.default_rng(seed)
    matrix = (rng.normal(size=(rows, dim)) * 2.0**spread).astype(np.float32)
    matrix[np.abs(matrix).max(axis=1) == 0, 0] = 1.0
    batch, has = bulk._vectors(list(matrix))
    assert has.all()
    for row, normalised in zip(matrix, batch):
        assert normalised.tobytes() == stored_vector(row, dim).tobytes()



@settings(max_examples=200, deadline=None)
@given(dim=st.integers(1, 64), stride=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_a_vector_given_as_a_strided_view_is_stored_with_the_bits_of_its_copy(dim, stride, seed):
    """stored_vector's bits do not depend on the vector's memory layout: a column
    of a float32 matrix (a strided view, as ``matrix[:, j]`` or ``matrix.T[i]``
    gives it) is stored as its contiguous copy is, and so as the columnar path
    (which stacks the rows into a new matrix) stores it. einsum sums a strided
    operand in another order, and its last bit differed for about half of such vectors."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(dim, stride)).astype(np.float32)
    matrix[0, 0] = matrix[0, 0] or 1.0  # not the zero vector
    view = matrix[:, 0]
    assert not view.flags.c_contiguous or dim == 1
    copy = np.ascontiguousarray(view)
    assert stored_vector(view, dim).tobytes() == stored_vector(copy, dim).tobytes()
    batch, _ = bulk._vectors([view, copy])
    assert batch[0].tobytes() == stored_vector(view, dim).tobytes()

def _written_rows_one_by_one(batch: bulk.EntityBatch, plan: bulk.EntityBulkPlan, now: datetime) -> list:
    """The cached rows built the plain way: one JSON parse and one ``tobytes`` per row."""
    where = {i: j for j, i in enumerate(np.flatnonzero(batch.has_vector).tolist())} \
        if batch.has_vector is not None and plan.q8 is not None else {}
    rows = []
    for i, name in enumerate(batch.name_list):
        j = where.get(i)
        rows.append(records.EntityRow(
            key=plan.keys[i], id=int(plan.ids[i]), namespace=plan.namespace, name=name,
            type=plan.types[i].as_py(), text=batch.texts[i].as_py(), observations=batch.observations[i].as_py(),
            properties=json.loads(batch.properties[i].as_py()),
            embedding=None if j is None else plan.q8[j].tobytes(),
            scale=None if j is None else float(plan.scales[j]), created_at=now, updated_at=now,
            valid_from=batch.valid_from[i].as_py(), valid_to=batch.valid_to[i].as_py(),
            importance=batch.importance[i].as_py()))
    return rows


@settings(max_examples=150, deadline=None)
@given(records_=st.lists(_entity(), min_size=1, max_size=8))
def test_written_rows_are_the_rows_one_by_one(records_) -> None:
    """The rows a bulk write puts in the entity cache (built column-wise, one
    JSON parse for the batch) are those built row by row."""
    by_name = {r["name"]: r for r in records_ if isinstance(r.get("name"), str)}  # names must be distinct
    batch = bulk.read_entities(list(by_name.values()), vectors=True)
    if batch is None:
        return  # the per-record path's records: nothing cached by written_rows
    now = datetime(2025, 5, 1, tzinfo=timezone.utc)
    n = len(batch)
    q8 = scales = vector_ids = None
    if batch.vectors is not None and batch.has_vector is not None:
        q8, scales = bulk.quantize_rows(batch.vectors[batch.has_vector])
        vector_ids = np.flatnonzero(batch.has_vector).astype(np.int64)
    plan = bulk.EntityBulkPlan([f"ns\x1f{x}" for x in batch.name_list], np.arange(n, dtype=np.int64) + 5,
                               pc.fill_null(batch.types, "Entity"), "ns", batch.valid_from, batch.valid_to,
                               vector_ids, q8, scales)  # fmt: skip
    got = bulk.written_rows(batch, plan, now)
    assert got == _written_rows_one_by_one(batch, plan, now)
    assert all(type(r.scale) is float for r in got if r.scale is not None)


def test_a_batch_without_validity_or_importance_is_written_by_the_plain_statement(open_store, tmp_path) -> None:
    """Below the COPY threshold, a batch whose optional columns are all null takes
    ``entity_create_batch_plain`` (those columns left out), one with any of them the
    full statement; both store what the per-record path stores, and so does a reopen."""
    mem = open_store(tmp_path / "s", config=_CONFIG)
    ran: list[str] = []
    mem._store.tracer = lambda name, params: ran.append(name)
    vectors = np.eye(4, dtype=np.float32)
    mem.add_entities([{"name": "a", "embedding": vectors[0], "properties": {"k": 1}}, {"name": "b", "text": "t"}])
    mem.add_entities([{"name": "c", "importance": 0.5}, {"name": "d"}])
    later = datetime(2100, 1, 1, tzinfo=timezone.utc)
    mem.add_entities([{"name": "e", "valid_to": later}, {"name": "f"}])
    mem.add_entities([{"name": f"g{i}"} for i in range(3)])  # COPY: every column
    writes = [n for n in ran if n.startswith("entity_c")]
    assert writes == ["entity_create_batch_plain", "entity_create_batch", "entity_create_batch", "entity_copy"]
    mem._store.tracer = None
    a, b, c, e = (mem.get_entity(n) for n in "abce")
    assert (a.valid_from, a.valid_to, a.importance, a.properties) == (None, None, None, {"k": 1})
    np.testing.assert_allclose(a.embedding, vectors[0], atol=1 / 127)
    assert (b.text, b.embedding, b.valid_to) == ("t", None, None)
    assert (c.importance, e.valid_to) == (0.5, later)
    mem.close()
    again = open_store(tmp_path / "s", config=_CONFIG)
    a = again.get_entity("a")
    assert (a.valid_from, a.valid_to, a.importance, a.properties, a.text) == (None, None, None, {"k": 1}, None)
    assert again.get_entity("b").text == "t" and again.get_entity("c").importance == 0.5
    assert again.stats()["entities"] == 9
