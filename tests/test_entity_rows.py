"""New entities written through the small-batch statement (``entity_create_rows``,
a prepared ``UNWIND`` over one list per property) are stored exactly as through the
big-batch one (``entity_create_batch``, ``LOAD FROM`` an Arrow table).

At the statement level, random batches (texts and observations of any
characters, empty lists, properties JSON, embeddings of any bytes, scales,
timestamps to the microsecond, every nullable field absent or set, differing
from row to row) go into one store through both statements under distinct
tags; every stored column read back must be the same. At the writer level,
``add_entities`` of a few records takes the small statement and of many the
big one, and the entities read back through the API must agree.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmem.records import (
    ENTITY_ROWS_MAX,
    ENTITY_VECTOR_ROWS_MAX,
    KEY_SEPARATOR,
    EntityRow,
    entity_row_columns,
    entity_rows_table,
    small_entity_batch,
)

_T0 = datetime(2024, 1, 1)
_stamps = st.integers(-10**15, 10**15).map(lambda us: _T0 + timedelta(microseconds=us))
_times = st.one_of(st.none(), _stamps)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_json = st.dictionaries(_text, st.one_of(st.none(), st.integers(-10**6, 10**6), _text, st.lists(_text, max_size=3)),
                        max_size=3)  # fmt: skip
# Scales are doubles (quantize: peak / 127) stored as FLOAT: both paths must round them alike.
_floats = st.one_of(st.just(0.0), st.floats(1e-30, 1e30), st.floats(-1e30, -1e-30))
_rows = st.lists(
    st.fixed_dictionaries({
        "type": _text, "text": st.one_of(st.none(), _text), "observations": st.lists(_text, max_size=3),
        "properties": _json, "embedding": st.one_of(st.none(), st.binary(min_size=1, max_size=16)),
        "scale": st.one_of(st.none(), _floats), "created_at": _stamps, "updated_at": _stamps,
        "valid_from": _times, "valid_to": _times, "expired_at": _times,
        "importance": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False),
                                st.integers(-1000, 1000)),
    }),
    min_size=1, max_size=ENTITY_ROWS_MAX - 1,
)  # fmt: skip
_tags = itertools.count()
_COLUMNS = ("id", "namespace", "name", "type", "text", "observations", "properties", "embedding", "scale",
            "created_at", "updated_at", "valid_from", "valid_to", "expired_at", "importance")  # fmt: skip


def _entity_rows(rows: list[dict], tag: str, namespace: str, first_id: int) -> list[EntityRow]:
    return [
        EntityRow(key=namespace + KEY_SEPARATOR + f"{tag}{i}", id=first_id + i, namespace=namespace, name=f"{tag}{i}",
                  **r)
        for i, r in enumerate(rows)
    ]  # fmt: skip


def _read(mem, tag: str) -> list[tuple]:
    """Every stored column of the entities written under ``tag``, the tag taken off the name."""
    found = mem.cypher(
        "MATCH (e:Entity) WHERE starts_with(e.key, $prefix) RETURN " + ", ".join(f"e.{c} AS {c}" for c in _COLUMNS),
        {"prefix": mem.namespace_name + KEY_SEPARATOR + tag},
    )
    return sorted(
        (tuple(r[c] for c in _COLUMNS if c not in ("id", "name")) + (r["name"].removeprefix(tag),) for r in found),
        key=lambda t: t[-1],
    )


@pytest.fixture
def mem(open_store, tmp_path):
    return open_store(tmp_path / "store")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_rows_statement_stores_what_the_arrow_statement_stores(mem, rows):
    n = next(_tags)
    arrow, structs = f"A{n}:", f"S{n}:"
    store = mem._store
    namespace = mem.namespace_name
    with store.transaction():
        store.execute("entity_create_batch", {"rows": entity_rows_table(_entity_rows(rows, arrow, namespace,
                                                                                    10**9 + 1000 * n))})
        store.execute("entity_create_rows", entity_row_columns(_entity_rows(rows, structs, namespace,
                                                                             2 * 10**9 + 1000 * n)))
    written = _read(mem, arrow)
    assert len(written) == len(rows)
    assert _read(mem, structs) == written
    # Not only equal to each other: what was given (NULLs and empty lists included).
    by_name = {str(i): r for i, r in enumerate(rows)}
    for stored in written:
        given_row = by_name[stored[-1]]
        assert (stored[2], stored[3], stored[5]) == (given_row["text"], given_row["observations"],
                                                     given_row["embedding"])  # fmt: skip
        assert (stored[9], stored[10], stored[11], stored[12]) == (
            given_row["valid_from"], given_row["valid_to"], given_row["expired_at"], given_row["importance"])


_words = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs")), min_size=1, max_size=10).filter(str.strip)
_records = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["T", "Person"]), "observations": st.lists(_words, max_size=3)},
        optional={
            "text": _words,
            "properties": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(-5, 5), max_size=2),
            "embedding": st.lists(st.floats(-1, 1, width=32), min_size=4, max_size=4).filter(
                lambda v: max(map(abs, v)) > 1e-3),  # a vector near zero is refused (no direction)
            "valid_from": st.integers(0, 10**6).map(lambda s: datetime(2020, 1, 1, tzinfo=timezone.utc)
                                                    + timedelta(seconds=s)),
            "importance": st.floats(0, 1),
        },
    ),
    min_size=2, max_size=ENTITY_VECTOR_ROWS_MAX - 1,  # small with or without vectors
)  # fmt: skip


def _seen(mem) -> list[str]:
    """The names of the statements the store runs from now on."""
    names: list[str] = []
    mem._store.tracer = lambda name, params: names.append(name)
    return names


def _unstamped(rows: list[tuple]) -> list[tuple]:
    """``_read``'s rows without created_at / updated_at (two calls, two clocks)."""
    return [row[:7] + row[9:] for row in rows]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=_records)
def test_add_entities_small_and_big_batches_store_the_same(mem, records):
    n = next(_tags)
    small = [{**r, "name": f"s{n}-{i}"} for i, r in enumerate(records)]
    filler = [{"name": f"f{n}-{i}"} for i in range(ENTITY_ROWS_MAX - len(records))]
    big = [{**r, "name": f"b{n}-{i}"} for i, r in enumerate(records)] + filler
    names = _seen(mem)
    mem.add_entities(small)
    mem.add_entities(big)
    mem._store.tracer = None
    # The big batch: LOAD FROM, in its full form or (no validity, no importance) its plain one.
    assert "entity_create_rows" in names and {"entity_create_batch", "entity_create_batch_plain"} & set(names)
    stored = _unstamped(_read(mem, f"s{n}-"))
    assert len(stored) == len(records)
    assert stored == _unstamped(_read(mem, f"b{n}-"))


def test_small_entity_batch_bounds():
    def rows(n: int, vectors: int) -> list[EntityRow]:
        return [EntityRow(key=str(i), id=i, namespace="n", name=str(i), type="T", text=None, observations=[],
                          properties={}, embedding=b"\x01" if i < vectors else None, scale=None,
                          created_at=_T0, updated_at=_T0) for i in range(n)]  # fmt: skip

    assert not small_entity_batch(rows(1, 0))
    assert small_entity_batch(rows(ENTITY_ROWS_MAX - 1, 0)) and not small_entity_batch(rows(ENTITY_ROWS_MAX, 0))
    assert small_entity_batch(rows(ENTITY_VECTOR_ROWS_MAX - 1, 1))
    assert not small_entity_batch(rows(ENTITY_VECTOR_ROWS_MAX, 1))
