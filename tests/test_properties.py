"""Property-based tests: the store against a plain-Python model, and the index
structures against sets. What goes in comes out, also after a reopen."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import graphmem
from graphmem.index.adjacency import EdgeIndex
from graphmem.index.bitmaps import LabelBitmaps

from .conftest import ENGINE

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=24
).filter(lambda s: s.strip() != "")
types = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
properties = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
texts = st.none() | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
observations = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12), max_size=3)


def _view(mem):
    return (
        {e.name: (e.type, e.text, e.observations, e.properties) for e in mem.iter_entities()},
        {(r.source, r.type, r.target): r.properties for r in mem.iter_relations()},
    )


@pytest.mark.engine
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entities=st.lists(st.tuples(names, st.none() | types, texts, observations, properties), min_size=1, max_size=12),
    edges=st.lists(st.tuples(st.integers(0, 11), types, st.integers(0, 11)), max_size=15),
)
def test_round_trip_through_reopen(entities, edges):
    """Upserts applied to a model dict agree with the store, before and after a reopen."""
    model: dict[str, list] = {}
    for name, type_, text, obs, props in entities:
        if name not in model:
            model[name] = [type_ or "Entity", text, [], {}]
        row = model[name]
        row[0] = type_ or row[0]
        row[1] = text if text is not None else row[1]
        row[2] += [o for o in dict.fromkeys(obs) if o not in row[2]]
        row[3] = {**row[3], **props}
    order = list(dict.fromkeys(e[0] for e in entities))
    rels = {(order[s % len(order)], t, order[d % len(order)]): {} for s, t, d in edges}
    expected = ({n: (r[0], r[1], tuple(r[2]), r[3]) for n, r in model.items()}, rels)

    folder = Path(tempfile.mkdtemp())
    try:
        with graphmem.open(folder / "s", engine=ENGINE, embedder=None) as mem:
            for name, type_, text, obs, props in entities[: len(entities) // 2]:
                mem.add_entity(name, type=type_, text=text, observations=obs, properties=props)
            mem.add_entities([
                {"name": n, "type": t, "text": x, "observations": o, "properties": p}
                for n, t, x, o, p in entities[len(entities) // 2 :]
            ])  # fmt: skip
            mem.add_relations(list(rels))
            assert _view(mem) == expected
        with graphmem.open(folder / "s", engine=ENGINE, embedder=None, read_only=True) as mem:
            assert _view(mem) == expected
            for name in model:
                assert mem.get_entity(name).name == name
    finally:
        shutil.rmtree(folder)


class MemoryMachine(RuleBasedStateMachine):
    """Random interleavings of every write, checked against a model after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.mem = graphmem.open(self.folder / "s", engine=ENGINE, embedder=None)
        self.entities: dict[str, str] = {}
        self.relations: set[tuple[str, str, str]] = set()
        self.ids: dict[str, int] = {}
        self.retired_ids: set[int] = set()

    pool = st.sampled_from([f"n{i}" for i in range(8)])
    rel_types = st.sampled_from(["R", "S"])

    @rule(name=pool, type_=st.sampled_from(["A", "B", None]))
    def add_entity(self, name, type_):
        e = self.mem.add_entity(name, type=type_)
        self.entities[name] = type_ or self.entities.get(name, "Entity")
        if name in self.ids:
            assert e.id == self.ids[name]
        else:
            assert e.id not in self.retired_ids
            self.ids[name] = e.id

    @rule(batch=st.lists(st.tuples(pool, rel_types, pool), min_size=1, max_size=6))
    def add_relations(self, batch):
        if all(s in self.entities and t in self.entities for s, _, t in batch):
            assert self.mem.add_relations(batch) == len(batch)
            self.relations |= set(batch)
        else:
            try:
                self.mem.add_relations(batch)
            except graphmem.NotFound:
                return
            raise AssertionError("a relation to a missing entity was accepted")

    @rule(rel=st.tuples(pool, rel_types, pool))
    def delete_relation(self, rel):
        assert self.mem.delete_relation(*rel) is (rel in self.relations)
        self.relations.discard(rel)

    @rule(name=pool)
    def delete_entity(self, name):
        assert self.mem.delete_entity(name) is (name in self.entities)
        if name in self.entities:
            del self.entities[name]
            self.retired_ids.add(self.ids.pop(name))
            self.relations = {r for r in self.relations if name not in (r[0], r[2])}

    @precondition(lambda self: True)
    @rule()
    def reopen(self):
        self.mem.close()
        self.mem = graphmem.open(self.folder / "s", engine=ENGINE, embedder=None)

    @invariant()
    def agrees_with_model(self):
        assert len(self.mem) == len(self.entities)
        assert {(r.source, r.type, r.target) for r in self.mem.iter_relations()} == self.relations
        for name in self.entities:
            expected = {(t, "out", d) for s, t, d in self.relations if s == name}
            expected |= {(t, "in", s) for s, t, d in self.relations if d == name}
            assert {(n.type, n.direction, n.name) for n in self.mem.neighbors(name)} == expected
        state = self.mem._derived.get() if self.mem._derived.loaded else None
        if state is not None:  # the bitmaps are exact, not just supersets
            for type_ in ("A", "B", "Entity"):
                want = {self.ids[n] for n, t in self.entities.items() if t == type_}
                assert set(state.entity_types.members(type_)) == want
            for rel in ("R", "S"):
                want = {self.ids[n] for r in self.relations if r[1] == rel for n in (r[0], r[2])}
                assert set(state.relation_types.members(rel)) == want

    def teardown(self):
        self.mem.close()
        shutil.rmtree(self.folder)


TestMemoryMachine = MemoryMachine.TestCase
TestMemoryMachine.settings = settings(max_examples=20, stateful_step_count=25, deadline=None)
TestMemoryMachine.pytestmark = [pytest.mark.engine]


@settings(max_examples=200, deadline=None)
@given(
    base=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 30)), max_size=60),
    ops=st.lists(st.tuples(st.booleans(), st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 30))), max_size=60),
)
def test_edge_index_agrees_with_a_set(base, ops):
    base_set = set(base)
    index = EdgeIndex.from_arrays([s for s, _, _ in base_set], [d for _, _, d in base_set], [f"T{c}" for _, c, _ in base_set])
    codes = {f"T{c}": index.code_for(f"T{c}") for c in range(4)}
    model = {(s, codes[f"T{c}"], d) for s, c, d in base_set}
    for add, (s, c, d) in ops:
        triple = (s, codes[f"T{c}"], d)
        if add:
            index.add([triple])
            model.add(triple)
        else:
            index.remove([triple])
            model.discard(triple)
    assert len(index) == len(model)
    probe = [(s, codes[f"T{c}"], d) for s in range(0, 31, 3) for c in range(4) for d in range(0, 31, 2)]
    got = index.contains_many(np.array([p[0] for p in probe]), np.array([p[1] for p in probe]), np.array([p[2] for p in probe]))
    assert [bool(g) for g in got] == [p in model for p in probe]
    for node in range(0, 31, 5):
        assert index.incident(node) == {t for t in model if node in (t[0], t[2])}
    index.compact()
    src, code, dst = index.arrays()
    assert set(zip(src.tolist(), code.tolist(), dst.tolist())) == model


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 1000)), max_size=50))
def test_label_bitmaps_match_sets(pairs):
    labels = [p[0] for p in pairs]
    ids = np.array([p[1] for p in pairs], dtype=np.int64)
    maps = LabelBitmaps.from_arrays(labels, ids)
    for label in "abc":
        assert set(maps.members(label)) == {i for lab, i in pairs if lab == label}
