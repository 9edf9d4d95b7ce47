"""The text index behind Memory.find_text: exact against a brute-force oracle
under random writes (hypothesis), on the engine under test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.errors import InvalidInput
from graphmem.index import text as text_module
from graphmem.index.labels import RELATION_LABEL_KEY
from graphmem.index.text import TYPE_LABEL_KEY, TextEntry, TextIndex

# A small alphabet with case pairs and a character whose lowercase is longer
# ("İ" lowers to two code points), so queries hit, miss and straddle often.
ALPHABET = "abAB-İi\u0307 z"
NAMES = st.sampled_from(["a", "B", "ab", "Ab", "bİ"])  # few: writes hit the same entities often
TEXTS = st.text(ALPHABET, max_size=8)


def oracle(mem: graphmem.Memory, query: str) -> list[str]:
    """The reference semantics, straight from a scan of the store."""
    needle = query.lower()
    out = []
    for e in mem.iter_entities():
        label = e.properties.get(TYPE_LABEL_KEY)
        shown = label if isinstance(label, str) else e.type
        if needle in e.name.lower() or needle in shown.lower() or any(needle in o.lower() for o in e.observations):
            out.append(e.name)
    return out


OPS = st.one_of(
    st.tuples(st.just("add"), NAMES, st.lists(TEXTS, max_size=3), st.sampled_from([None, "Person", "Bulk Item"])),
    st.tuples(st.just("bulk"), st.lists(NAMES, min_size=1, max_size=4, unique=True), st.lists(TEXTS, max_size=2)),
    st.tuples(st.just("remove"), NAMES, st.lists(TEXTS, max_size=2)),
    st.tuples(st.just("delete"), NAMES),
    st.tuples(st.just("delete_many"), st.lists(NAMES, max_size=3)),
    st.tuples(st.just("expire"), NAMES),
    st.tuples(st.just("space"), NAMES, st.lists(TEXTS, max_size=2)),
)


def apply(mem: graphmem.Memory, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "add":
        _, name, observations, shown = op
        properties = None if shown is None or shown.isidentifier() else {TYPE_LABEL_KEY: shown}
        stored = None if shown is None else shown.replace(" ", "_")
        mem.add_entity(name, type=stored, observations=observations, properties=properties)
    elif kind == "bulk":
        _, names, observations = op
        existing = {e.name for e in mem.iter_entities()}
        if existing.isdisjoint(names):
            mem.add_entities([{"name": n, "observations": observations} for n in names])
    elif kind == "remove":
        if mem.get_entity(op[1]) is not None:
            mem.remove_observations(op[1], op[2])
    elif kind == "delete":
        mem.delete_entity(op[1])
    elif kind == "delete_many":
        before = {e.name for e in mem.iter_entities()}
        existed = mem.delete_entities(op[1])
        assert all(there for n, there in zip(op[1], existed) if n in before)  # (expired ones count too)
        assert not before & set(op[1]) & {e.name for e in mem.iter_entities()}
    elif kind == "expire":
        mem.expire_entity(op[1])
    else:  # another namespace: must never show in the default one
        mem.namespace("other").add_entity(op[1], observations=op[2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, max_size=14), queries=st.lists(TEXTS, min_size=1, max_size=4),
       early=st.booleans(), join_at=st.sampled_from([1, 3, 256]))  # fmt: skip
def test_find_text_matches_the_oracle(ops: list[tuple[Any, ...]], queries: list[str], early: bool,
                                      join_at: int) -> None:  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_module, "JOIN_AT_LEAST", join_at)  # small: the rebuild runs mid-sequence
        with graphmem.open(embedder=None) as mem:
            if early:
                mem.find_text("")  # built before the writes: the hooks must keep it exact
            for op in ops:
                apply(mem, op)
                if early:
                    assert [e.name for e in mem.find_text(queries[0])] == oracle(mem, queries[0])
            for q in queries:
                assert [e.name for e in mem.find_text(q)] == oracle(mem, q)
            other = mem.namespace("other")
            assert [e.name for e in other.find_text(queries[0])] == oracle(other, queries[0])


def test_find_text_entries_limit_and_rebuild_after_cypher() -> None:
    with graphmem.open(embedder=None) as mem:
        mem.add_entities([{"name": "Alice", "type": "Person", "observations": ["likes Rust"]},
                          {"name": "Bob", "type": "Person", "observations": ["likes Go", "RUSTY"]},
                          {"name": "Carl", "properties": {TYPE_LABEL_KEY: "Rust Fan"}}])  # fmt: skip
        found = mem.find_text("rust")
        assert [e.name for e in found] == ["Alice", "Bob", "Carl"]
        assert found[1] == TextEntry(found[1].id, "Bob", "Person", ("likes Go", "RUSTY"))
        assert found[2].type == "Rust Fan"
        assert [e.name for e in mem.find_text("RUST", limit=2)] == ["Alice", "Bob"]
        assert [e.name for e in mem.find_text("")] == ["Alice", "Bob", "Carl"]
        assert mem.find_text("rust\x00") == [] and mem.find_text("x" * 5000) == []
        mem.cypher("MATCH (e:Entity {name: 'Alice'}) SET e.observations = ['likes Zig']")
        assert [e.name for e in mem.find_text("rust")] == ["Bob", "Carl"]  # the index was rebuilt from the store
        with pytest.raises(InvalidInput):
            mem.find_text(3)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            mem.find_text("a", limit=0)


def test_find_text_over_packed_entities() -> None:
    with graphmem.open(embedder=None) as mem:
        mem.add_entity("Cold", text="the long story " * 40, observations=["a long note about the glacier " * 8])
        mem.add_entity("Warm", observations=["sunny"])
        assert mem.compact(cold_after=timedelta(0)) == 1  # Cold is stored packed: the scan must unpack it
        assert [e.name for e in mem.find_text("GLACIER")] == oracle(mem, "GLACIER") == ["Cold"]


def test_text_index_across_namespaces() -> None:
    index = TextIndex()
    index.put_entries("a", [TextEntry(1, "x1", "T", ("hello",))])
    index.put_entries("b", [TextEntry(2, "x2", "T", ("hello",))])
    assert [e.id for e in index.find("a", "HELLO")] == [1]
    assert [e.id for e in index.find("b", "hello")] == [2]
    index.remove([2, 99])
    assert index.find("b", "hello") == [] and len(index) == 1


def test_text_index_nbytes_counts_the_text_held() -> None:
    index = TextIndex()
    assert index.nbytes() == 0
    index.put_entries("a", [TextEntry(1, "x1", "T", ("hello",))])
    small = index.nbytes()
    index.put_entries("a", [TextEntry(i, f"x{i}", "T", ("a long observation " * 20,)) for i in range(2, 40)])
    assert small > 0 and index.nbytes() > small + 38 * 380  # each new entry holds 380 characters of observation


def relation_oracle(mem: graphmem.Memory, names: list[str] | None) -> list[tuple[str, str, str]]:
    out = []
    for r in mem.iter_relations():
        if names is None or r.source in names or r.target in names:
            label = r.properties.get(RELATION_LABEL_KEY)
            out.append((r.source, label if isinstance(label, str) else r.type, r.target))
    return sorted(out)


REL_OPS = st.one_of(
    OPS,
    st.tuples(st.just("relate"), st.lists(st.tuples(NAMES, st.sampled_from(["R", "works_at"]), NAMES,
                                                    st.sampled_from([None, "works at", "works-at"])),
                                          min_size=1, max_size=70)),  # 64 or more take the bulk path
    st.tuples(st.just("unrelate"), NAMES, st.sampled_from(["R", "works_at"]), NAMES),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(REL_OPS, max_size=10), names=st.lists(NAMES, max_size=3), early=st.booleans())
def test_find_relations_matches_the_oracle(ops: list[tuple[Any, ...]], names: list[str], early: bool) -> None:
    with graphmem.open(embedder=None) as mem:
        if early:
            mem.find_relations()  # built before the writes: the hooks must keep it exact
        for op in ops:
            if op[0] == "relate":
                known = {e.name for e in mem.iter_entities()}
                missing = {n for s, _, d, _ in op[1] for n in (s, d)} - known
                if missing:
                    mem.add_entities([{"name": n} for n in sorted(missing)])
                mem.add_relations([(s, t, d, None if label is None else {RELATION_LABEL_KEY: label})
                                   for s, t, d, label in op[1]])  # fmt: skip
            elif op[0] == "unrelate":
                mem.delete_relation(op[1], op[2], op[3])
            else:
                apply(mem, op)
        for query in (names, None):
            got = [(r.source, r.type, r.target) for r in mem.find_relations(query)]
            assert sorted(got) == relation_oracle(mem, query)
            stored = [(r.source, r.stored_type, r.target) for r in mem.find_relations(query)]
            assert len(set(stored)) == len(stored)  # each relation once


# -- saved and loaded (graphmem/index/saved.py keeps these arrays beside the store) ------------

_ENTRY_OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(0, 12), NAMES, st.lists(TEXTS, max_size=3), TEXTS),
    st.tuples(st.just("remove"), st.lists(st.integers(0, 12), max_size=3)),
), max_size=25)  # fmt: skip


def _apply_entries(index: TextIndex, ops: list[tuple[Any, ...]]) -> None:
    for op in ops:
        if op[0] == "put":
            _, id_, name, observations, type_ = op
            # An id belongs to one namespace for good (a store never moves one).
            index.put_entries("default" if id_ % 3 else "other", [TextEntry(id_, name, type_, tuple(observations))])
        else:
            index.remove(op[1])


@settings(max_examples=150, deadline=None)
@given(before=_ENTRY_OPS, after=_ENTRY_OPS, queries=st.lists(TEXTS, min_size=1, max_size=4),
       join_at=st.sampled_from([1, 2, 256]))  # fmt: skip
def test_a_saved_and_loaded_index_answers_like_the_one_saved(before, after, queries, join_at) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_module, "JOIN_AT_LEAST", join_at)
        index = TextIndex()
        _apply_entries(index, before)
        loaded = TextIndex.from_arrays(*index.to_arrays())
        for ops_done in (False, True):
            if ops_done:  # the same writes after the load, to both
                _apply_entries(index, after)
                _apply_entries(loaded, after)
            assert len(loaded) == len(index)
            for space in ("default", "other", "none"):
                for q in ["", "\x00", *queries]:
                    assert loaded.find(space, q) == index.find(space, q), (space, q)
                assert loaded.get(space, range(14)) == index.get(space, range(14))
            assert loaded.nbytes() == index.nbytes()


def test_from_arrays_refuses_arrays_that_do_not_fit() -> None:
    index = TextIndex()
    index.put_entries("default", [TextEntry(1, "Alice", "Person", ("likes Rust",)), TextEntry(2, "Bob", "P", ())])
    names, arrays = index.to_arrays()
    for key, bad in [("ids", arrays["ids"][::-1].copy()), ("members", arrays["members"] + 5),
                     ("hay_lengths", arrays["hay_lengths"] + 1), ("counts", arrays["counts"][:, :3])]:  # fmt: skip
        with pytest.raises(ValueError):
            TextIndex.from_arrays(names, {**arrays, key: bad})
