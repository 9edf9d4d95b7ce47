"""Forgetting, tiers, deduplication, merging and monitoring (issue 8)."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta, timezone
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import graphmem
import graphmem.records
from graphmem.memory import removal, upkeep
from graphmem import metrics
from graphmem.interchange.transfer import export_jsonl

LONG = "Works on the data platform; owns the ingestion service and its on-call rota. " * 6


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


# -- access statistics --------------------------------------------------------------


def test_reads_are_counted_in_memory_and_flushed_with_the_next_write(disk_mem, open_store, tmp_path):
    disk_mem.add_entities([{"name": "a"}, {"name": "b"}])
    trace: list[str] = []
    disk_mem.tracer = lambda name, params: trace.append(name)
    for _ in range(3):
        disk_mem.get_entity("a")
    assert "access_flush" not in trace  # reads never write
    assert disk_mem.access("a").count == 3 and disk_mem.access("b").count == 0
    disk_mem.add_entity("c")
    assert trace.count("access_flush") + trace.count("access_flush_one") == 1
    disk_mem.tracer = None
    disk_mem.close()
    with open_store(tmp_path / "store") as mem:
        got = mem.access("a")
        assert got.count == 3 and got.last is not None and got.tier == "hot"


def test_access_log_counts_exactly_across_threads_and_folds():
    """Reads append without the lock; counts stay exact and the lists are folded
    when they reach the threshold (so a read-only memory's log stays bounded)."""
    import threading

    from graphmem import lifecycle

    log = lifecycle.AccessLog()
    per_thread, keys = 20_000, [f"k{i}" for i in range(7)]

    def reader(offset: int) -> None:
        for i in range(per_thread):
            log.record_one(keys[(i + offset) % len(keys)])
        log.record(keys)

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log._times) < lifecycle._FOLD_AT  # folded on the way (4 x 20k reads > one fold)
    drained = log.drain()
    assert sum(count for count, _ in drained.values()) == 4 * (per_thread + len(keys))
    assert set(drained) == set(keys) and len(log) == 0
    # microseconds since the epoch, not nanoseconds
    assert all(abs(last - time.time() * 1e6) < 60e6 for _, last in drained.values())
    log.record_one("a")
    log.restore({"a": [2, 5], "b": [1, 7]})
    assert log.pending("a")[0] == 3 and log.pending("b")[0] == 1
    log.discard(["a"])
    assert log.pending("a") == (0, None) and len(log) == 1


def test_a_few_keys_flush_key_by_key_and_many_in_one_statement_alike(mem):
    """A flush of one key goes through the keyed statement (no scan of the
    store), of several through the list statement, of many through the
    Arrow table: all add to the stored counts and keep the last read's time,
    as ``access`` showed it before."""
    many = upkeep.ACCESS_ROWS_MAX
    mem.add_entities([{"name": f"e{i}"} for i in range(many + 5)])
    mem.k_hop("e0", 1)  # the graph state is loaded, so the store's size is known
    trace: list[str] = []
    mem.tracer = lambda name, params: trace.append(name)

    def flushed(reads: dict[str, int], statement: str) -> None:
        for name, count in reads.items():
            for _ in range(count):
                mem.get_entity(name)
        pending = {name: mem.access(name) for name in reads}
        trace.clear()
        mem.add_entity(f"w{len(trace)}{statement}")
        assert statement in trace and len(mem._shared.access) == 0
        assert {name: mem.access(name) for name in reads} == pending

    flushed({"e1": 2}, "access_flush_one")
    flushed({"e2": 1, "e3": 3, "e4": 2}, "access_flush_rows")
    flushed({f"e{i}": 1 + i % 2 for i in range(3, 3 + many)}, "access_flush")
    flushed({"e1": 1}, "access_flush_one")
    assert [mem.access(n).count for n in ("e1", "e2", "e3", "e4", "e5")] == [3, 1, 5, 3, 2]


def test_every_flush_form_is_neutral_to_the_saved_graph_state():
    """A transaction that only flushes access statistics leaves the saved graph
    state current, whichever statement it took (a form missing from the list
    made a session that only read save its whole state again at close)."""
    from graphmem.store.queries import query_names
    from graphmem.store.store import DERIVED_NEUTRAL

    forms = {name for name in query_names() if name.startswith("access_flush")}
    assert forms == {"access_flush", "access_flush_one", "access_flush_rows"} and forms <= DERIVED_NEUTRAL


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=st.lists(st.lists(st.integers(0, 11), max_size=14), min_size=1, max_size=4))
def test_every_flush_form_stores_the_same_statistics(tmp_path_factory, reads):
    """The three statements :func:`upkeep.access_form` chooses between, each
    forced in turn on the same reads: the stored counts and last-read times
    are the ones the pending log showed (the keyed form, as before, is the oracle)."""
    seen: dict[str, dict[str, object]] = {}
    for form in ("one", "rows", "table"):
        with graphmem.open(tmp_path_factory.mktemp(form) / "s", embedder=None) as mem:
            mem.add_entities([{"name": f"e{i}"} for i in range(12)])
            original = upkeep.access_form
            upkeep.access_form = lambda engine, keys, stored, _form=form: "one" if keys <= 1 else _form
            try:
                for batch in reads:
                    for i in batch:
                        mem.get_entity(f"e{i}")
                    pending = [mem.access(f"e{i}") for i in range(12)]
                    mem.add_entity(f"w{len(seen)}")  # flushes
                    assert len(mem._shared.access) == 0
                    assert [mem.access(f"e{i}") for i in range(12)] == pending  # counts and times, as the log showed
            finally:
                upkeep.access_form = original
            seen[form] = {f"e{i}": mem.access(f"e{i}").count for i in range(12)}
            seen[form + " read"] = {f"e{i}": mem.access(f"e{i}").last is not None for i in range(12)}
    assert seen["one"] == seen["rows"] == seen["table"]
    assert seen["one read"] == seen["rows read"] == seen["table read"]
    assert seen["one"] == {f"e{i}": sum(b.count(i) for b in reads) for i in range(12)}


def test_access_order_is_kept_between_flushes(mem):
    """LRU among reads since the last write follows their order (each read has its own time)."""
    mem.add_entities([{"name": n} for n in ("a", "b", "c", "d")])
    for name in ("c", "a", "d"):
        mem.get_entity(name)
        time.sleep(0.002)
    assert mem.forget(max_entities=1, policy="lru") == ["b", "c", "a"]


def test_forget_needs_a_bound_and_a_known_policy(mem):
    mem.add_entity("a")
    for kwargs, message in (({}, "max_entities"), ({"max_entities": -1}, "max_entities"),
                            ({"max_entities": 1, "policy": "random"}, "policy"),
                            ({"max_entities": 1, "hard": "yes"}, "hard")):  # fmt: skip
        with pytest.raises(graphmem.InvalidInput, match=message):
            mem.forget(**kwargs)
    assert len(mem) == 1


def _five(mem):
    mem.add_entities([{"name": n, "importance": imp} for n, imp in zip("abcde", (5, None, 1, 3, 2))])
    for name, reads in (("a", 1), ("b", 4), ("c", 2), ("d", 0), ("e", 3)):
        for _ in range(reads):
            mem.get_entity(name)
        time.sleep(0.002)  # distinct last-access times, in the order a, b, c, e


@pytest.mark.parametrize(
    "policy, forgotten",
    [("lru", ["d", "a", "b"]),          # d never read (its write is its last use), then a, b
     ("lfu", ["d", "a", "c"]),          # 0, 1, 2 reads
     ("importance", ["b", "c", "e"])],  # unset ranks lowest, then 1, 2
)
def test_forget_order_per_policy(mem, policy, forgotten):
    _five(mem)
    assert mem.forget(max_entities=2, policy=policy) == forgotten
    assert sorted(e.name for e in mem.iter_entities()) == sorted(set("abcde") - set(forgotten))


def test_soft_forget_keeps_history_and_hard_forget_does_not(mem):
    mem.add_entities([{"name": n} for n in "abc"])
    mem.add_relation("a", "R", "b")
    mem.get_entity("b"), mem.get_entity("c")
    assert mem.forget(max_entities=2) == ["a"]
    assert mem.get_entity("a") is None and mem.neighbors("b") == []
    assert mem.history("a").entity[-1].expired_at is not None
    assert mem.forget(max_entities=1, hard=True) == ["b"]
    with pytest.raises(graphmem.NotFound):
        mem.history("b")
    assert mem.forget(max_entities=5) == []


def test_capacity_applies_the_policy_on_write(tmp_path, open_store):
    with open_store(tmp_path / "s", capacity=3) as mem:
        mem.add_entities([{"name": n} for n in "abc"])
        mem.get_entity("a")
        mem.add_entity("d")  # b is now the least recently used
        assert sorted(e.name for e in mem.iter_entities()) == ["a", "c", "d"]
        with pytest.raises(graphmem.InvalidInput, match="more than the capacity"):
            mem.add_entities([{"name": n} for n in "wxyz"])
        assert sorted(e.name for e in mem.iter_entities()) == ["a", "c", "d"]
    for bad in ({"capacity": 0}, {"capacity_policy": "fifo"}, {"duplicates": "maybe"}):
        with pytest.raises(graphmem.InvalidInput):
            open_store(None, **bad)


_NAMES = "abcde"
_OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(_NAMES)),
    st.tuples(st.just("relate"), st.sampled_from(_NAMES), st.sampled_from(_NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(_NAMES)),
    st.tuples(st.just("delete_many"), st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4)),
    st.tuples(st.just("expire"), st.sampled_from(_NAMES)),
    st.tuples(st.just("forget"), st.integers(0, 4), st.booleans()),
), max_size=12)


@pytest.mark.parametrize("per_key", [0, 10**9], ids=["keyed", "batch"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_delete_expire_and_forget_retire_entities_alike(engine, ops, per_key, monkeypatch):
    """delete_entity, delete_entities, expire_entity and forget (soft and hard) share one
    removal path (memory/removal.retire; one key and many keys take different statements):
    against a model of which names are current, expired or gone, and which relations are
    current, every call answers as the model does and leaves the same reads. Run with many
    keys through the statements keyed by one entity (as on a large store) and through the
    batch forms (as on a small one): removal.keyed picks by the store's size."""
    monkeypatch.setattr(removal, "KEYED_PER_KEY", per_key)
    monkeypatch.setattr(removal, "DELETE_KEYED_PER_KEY", per_key)
    # Every example starts from a ring of relations, so removals meet relations from the first op.
    current: set[str] = set(_NAMES)
    expired: set[str] = set()
    relations: set[tuple[str, str]] = set(zip(_NAMES, _NAMES[1:] + _NAMES[0]))

    def drop(names: set[str], *, hard: bool) -> None:
        if hard:
            expired.difference_update(names)
        else:
            expired.update(names & current)  # expiring what is not current changes nothing
        current.difference_update(names)
        relations.difference_update({r for r in relations if set(r) & names})

    mem = graphmem.open(None, engine=engine, embedder=None)
    try:
        mem.add_entities([{"name": n} for n in _NAMES])
        mem.add_relations(sorted((a, "R", b) for a, b in relations))
        for op in ops:
            if op[0] == "add":
                mem.add_entity(op[1])
                current.add(op[1]), expired.discard(op[1])
            elif op[0] == "relate":
                if op[1] in current and op[2] in current and op[1] != op[2]:
                    mem.add_relation(op[1], "R", op[2])
                    relations.add((op[1], op[2]))
            elif op[0] == "delete":
                assert mem.delete_entity(op[1]) == (op[1] in current | expired)
                drop({op[1]}, hard=True)
            elif op[0] == "delete_many":
                assert mem.delete_entities(op[1]) == [n in current | expired for n in op[1]]
                drop(set(op[1]), hard=True)
            elif op[0] == "expire":
                assert mem.expire_entity(op[1]) == (op[1] in current)
                drop({op[1]}, hard=False)
            else:
                _, keep, hard = op
                gone = mem.forget(max_entities=keep, hard=hard)
                assert len(gone) == max(0, len(current) - keep) and set(gone) <= current
                drop(set(gone), hard=hard)
            assert len(mem) == len(current)
            assert sorted(e.name for e in mem.iter_entities()) == sorted(current)
            # The store's relations and the derived state's (kept by the bookkeeping after each commit).
            assert {(r.source, r.target) for r in mem.iter_relations()} == relations
            assert {(r.source, r.target) for r in mem.find_relations()} == relations
            assert mem.stats()["relations"] == len(relations)
            for name in _NAMES:
                assert (mem.get_entity(name) is not None) == (name in current)
                if name in current:
                    seen = {(n.name, n.direction) for n in mem.neighbors(name)}
                    assert seen == ({(b, "out") for a, b in relations if a == name}
                                    | {(a, "in") for a, b in relations if b == name})
                if name not in current | expired:
                    with pytest.raises(graphmem.NotFound):
                        mem.history(name)
                else:
                    assert mem.history(name).entity
    finally:
        mem.close()


# -- tiers ---------------------------------------------------------------------------


def test_cold_entities_are_packed_and_read_back_transparently(mem):
    mem.add_entities([
        {"name": "a", "type": "Person", "text": LONG, "observations": ["likes Rust"] * 1 + ["on call " * 10],
         "embedding": _unit(np.array([1.0, 0, 0]))},
        {"name": "b", "text": "short", "embedding": _unit(np.array([0, 1.0, 0]))},
    ])
    mem.add_relation("a", "R", "b")
    before = mem.get_entity("a")
    assert mem.compact(cold_after=timedelta(0)) == 1  # "short" would not shrink: left as is
    raw = mem.cypher("MATCH (e:Entity {name: 'a'}) RETURN e.text AS text, e.packed IS NOT NULL AS packed")
    assert raw == [{"text": None, "packed": True}]
    assert mem.access("a").tier == "cold"
    # every read path unpacks
    assert mem.get_entity("a") == before
    assert [e.text for e in mem.iter_entities() if e.name == "a"] == [LONG]
    assert mem.recall(np.array([1.0, 0, 0]), k=1).entities[0].text == LONG
    assert mem.paths_between("a", "b")[0].entities[0].observations == before.observations
    out = io.StringIO()
    export_jsonl(mem, out)
    assert LONG in out.getvalue()
    # a write stores it unpacked again, with the old text kept
    mem.add_entity("a", observations=["new"])
    assert mem.get_entity("a").text == LONG and mem.access("a").tier == "hot"
    assert mem.stats()["tiers"] == {"hot": 2, "warm": 0, "cold": 0}
    with pytest.raises(graphmem.InvalidInput):
        mem.compact(cold_after=-timedelta(days=1))


def test_unpack_reuses_one_decompressor_per_thread():
    """tiers keeps a zstd context per thread: concurrent unpacks never share one."""
    import threading

    from graphmem import tiers

    blobs = [(f"note {i} " * 50, [f"obs {i}"] * 3) for i in range(20)]
    packed = [tiers.pack(t, o) for t, o in blobs]
    errors: list[BaseException] = []
    seen: list[object] = []  # the objects, kept alive so their ids stay distinct

    def work() -> None:
        try:
            seen.append(tiers._codecs.decompressor)
            for _ in range(200):
                for blob, expected in zip(packed, blobs):
                    assert tiers.unpack(blob) == (expected[0], list(expected[1]))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len({id(d) for d in seen}) == 4
    with pytest.raises(graphmem.CorruptStore):
        tiers.unpack(b"\x01not a zstd frame")


# -- duplicates ----------------------------------------------------------------------


def test_duplicate_names_merge_or_are_refused_as_configured(tmp_path, open_store):
    with open_store(tmp_path / "m", duplicates="merge") as mem:
        mem.add_entity("Alice Smith", observations=["one"])
        got = mem.add_entity("alice_smith", observations=["two"])
        assert got.name == "Alice Smith" and got.observations == ("one", "two") and len(mem) == 1
        mem.add_entities([{"name": "Bob Lee"}, {"name": "BOB-LEE", "text": "t"}])
        assert [e.name for e in mem.iter_entities()] == ["Alice Smith", "Bob Lee"]
        mem.delete_entity("Bob Lee")
        assert mem.add_entity("bob lee").name == "bob lee"  # the old one is gone: a new name
    with open_store(tmp_path / "r", duplicates="refuse") as mem:
        mem.add_entity("Alice Smith")
        with pytest.raises(graphmem.InvalidInput, match="duplicates the entity 'Alice Smith'"):
            mem.add_entities([{"name": "x"}, {"name": "ALICE SMITH"}])
        assert len(mem) == 1
        mem.add_entity("Alice Smith", text="same name: an update")
    with open_store(tmp_path / "a") as mem:  # allow, the default
        mem.add_entities([{"name": "Alice"}, {"name": "alice"}])
        assert len(mem) == 2


@pytest.mark.parametrize("block_cells", [None, 64])
def test_find_duplicates_equals_brute_force(mem, monkeypatch, block_cells):
    if block_cells is not None:  # the exact path scored in blocks of a few query rows
        monkeypatch.setattr("graphmem.index.vectors._EXACT_BLOCK_CELLS", block_cells)
    rng = np.random.default_rng(7)
    base = rng.normal(size=(12, 16))
    records = []
    for i in range(40):
        vector = base[i % 12] + rng.normal(scale=0.15 if i < 24 else 1.5, size=16)
        records.append({"name": f"e{i:02d}", "type": "A" if i % 2 else "B", "embedding": _unit(vector)})
    mem.add_entities(records)
    threshold = 0.8
    found = mem.find_duplicates(threshold, k=50)
    vectors = {r["name"]: mem.get_entity(r["name"]).embedding for r in records}
    types = {r["name"]: r["type"] for r in records}
    expected = set()
    for a, b in combinations(sorted(vectors), 2):
        score = float(_unit(vectors[a]) @ _unit(vectors[b]))
        if types[a] == types[b] and score >= threshold:
            expected.add((a, b))
    assert {(d.a, d.b) for d in found} == expected and expected
    assert all(types[d.a] == types[d.b] == d.type for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    for bad in (0, 1.5, "high"):
        with pytest.raises(graphmem.InvalidInput):
            mem.find_duplicates(bad)


def _top_k_oracle(vectors: dict[str, np.ndarray], types: dict[str, str], threshold: float, k: int):
    """find_duplicates by brute force: each entity's ``k`` nearest others (any
    type), kept when of its type and scoring ``>= threshold``; ``None`` when a
    score sits within 1e-4 of the threshold or of a row's k-th/(k+1)-th boundary
    (float32 against float64 could order it either way)."""
    names = sorted(vectors)
    unit = np.stack([vectors[n] / np.linalg.norm(vectors[n]) for n in names]).astype(np.float64)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    pairs: dict[tuple[str, str], float] = {}
    for i, a in enumerate(names):
        order = np.argsort(-scores[i], kind="stable")
        row = scores[i][order]
        if len(names) - 1 > k and row[k - 1] - row[k] < 1e-4:
            return None
        for j in order[:k]:
            if abs(scores[i, j] - threshold) < 1e-4:
                return None
            if scores[i, j] >= threshold and types[a] == types[names[j]]:
                pairs[tuple(sorted((a, names[j])))] = float(scores[i, j])
    return pairs


@pytest.mark.parametrize("plan", ["exact", "hnsw_screened"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), dim=st.integers(3, 12), k=st.integers(1, 6),
       threshold=st.floats(0.3, 0.99), kinds=st.integers(1, 3), planted=st.floats(0.0, 0.5))
def test_find_duplicates_equals_the_top_k_oracle(engine, plan, monkeypatch, seed, n, dim, k, threshold, kinds,
                                                 planted):  # fmt: skip
    """find_duplicates(threshold, k) is the brute-force answer with a real k
    (not every pair): a pair of one type scoring >= threshold where either is
    among the other's k nearest of any type. Through the exact scan (a small
    index) and through HNSW with the screen, both searches exhaustive (breadth
    above the entity count, so recall is 1), the screen in blocks of a few
    entities and a third of its searches made to miss their own vector (as a
    search that lost its way does), so its blocks, its margin, what it does
    with a lost search and its giving up at low thresholds all meet the oracle."""
    from graphmem.index.vectors import HnswParams, VectorIndex
    from graphmem.memory import upkeep

    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim))
    copies = rng.random(n) < planted  # near-duplicates of an earlier entity (with its type)
    kind = rng.integers(0, kinds, n)
    for i in range(1, n):
        if copies[i]:
            j = int(rng.integers(0, i))
            base[i], kind[i] = base[j] + rng.normal(scale=0.1, size=dim), kind[j]
    records = [{"name": f"e{i:02d}", "type": f"T{kind[i]}", "embedding": _unit(base[i])} for i in range(n)]
    mem = graphmem.open(None, engine=engine, embedder=None)
    try:
        if plan == "hnsw_screened":
            mem._vectors.params = HnswParams(exact_limit=0, ef_search=256)
            monkeypatch.setattr(upkeep, "SCREEN_EF", 64)
            monkeypatch.setattr(upkeep, "SCREEN_BLOCK", 5)
            screen = VectorIndex.screen

            def lost(self, ids, ef):  # every third search misses its own vector: its row must still be queried
                best, sure = screen(self, ids, ef)
                astray = np.asarray(ids) % 3 == 0
                return np.where(astray, -np.inf, best).astype(np.float32), sure & ~astray

            monkeypatch.setattr(VectorIndex, "screen", lost)
        mem.add_entities(records)
        vectors = {r["name"]: mem.get_entity(r["name"]).embedding for r in records}
        expected = _top_k_oracle(vectors, {r["name"]: r["type"] for r in records}, threshold, k)
        assume(expected is not None)
        found = mem.find_duplicates(threshold, k=k)
        assert {(d.a, d.b): d.type for d in found} == {p: records[int(p[0][1:])]["type"] for p in expected}
        for d in found:
            assert d.a < d.b and abs(d.score - expected[(d.a, d.b)]) < 1e-4
        assert [(-d.score, d.a, d.b) for d in found] == sorted((-d.score, d.a, d.b) for d in found)
        if plan == "hnsw_screened":
            assert mem._vectors.peek().hnsw.ef == 256  # the screen's breadth was put back
    finally:
        mem.close()


def test_merge_keeps_every_relation_and_observation(mem):
    mem.add_entities([
        {"name": "Alice", "type": "Person", "observations": ["likes Rust"], "properties": {"age": 34}},
        {"name": "A. Smith", "type": "Person", "text": "engineer", "observations": ["likes Rust", "on call"],
         "properties": {"age": 35, "team": "data"}},
        {"name": "Acme", "type": "Company"}, {"name": "Bob", "type": "Person"},
    ])
    mem.add_relation("A. Smith", "WORKS_AT", "Acme", properties={"since": 2021})
    mem.add_relation("Bob", "KNOWS", "A. Smith")
    mem.add_relation("Alice", "KNOWS", "A. Smith")  # between the two: dropped, not a self-loop
    merged = mem.merge("Alice", "A. Smith")
    assert merged.observations == ("likes Rust", "on call")
    assert merged.properties == {"age": 34, "team": "data"} and merged.text == "engineer"
    assert sorted((n.name, n.type, n.direction) for n in mem.neighbors("Alice")) == [
        ("Acme", "WORKS_AT", "out"), ("Bob", "KNOWS", "in")]
    assert mem.get_relation("Alice", "WORKS_AT", "Acme").properties == {"since": 2021}
    assert mem.get_entity("A. Smith") is None
    assert len(mem.history("A. Smith").relations) == 3  # its relations stay as history
    with pytest.raises(graphmem.InvalidInput, match="different types"):
        mem.merge("Alice", "Acme")
    with pytest.raises(graphmem.InvalidInput, match="two different"):
        mem.merge("Alice", "Alice")
    with pytest.raises(graphmem.NotFound):
        mem.merge("Alice", "A. Smith")


# -- stats and metrics ---------------------------------------------------------------


def test_stats_report_namespaces_bytes_caches_latencies_and_tiers(disk_mem):
    disk_mem.add_entities([{"name": n} for n in "abc"])
    disk_mem.namespace("other").add_entity("x")
    disk_mem.add_relation("a", "R", "b")
    disk_mem.get_entity("a"), disk_mem.get_entity("a"), disk_mem.shortest_path("a", "b"), disk_mem.shortest_path("a", "b")
    s = disk_mem.stats()
    assert s["namespaces"] == {"default": {"entities": 3, "relations": 1}, "other": {"entities": 1, "relations": 0}}
    assert s["bytes"]["disk_store"] > 0 and s["bytes"]["resident_snapshot"] > 0
    assert s["caches"]["paths"]["hits"] >= 1 and s["caches"]["entities"]["hit_rate"] is not None
    assert s["latency_ms"]["get_entity"]["count"] == 2 and s["latency_ms"]["shortest_path"]["p50_ms"] > 0
    assert s["tiers"] == {"hot": 3, "warm": 0, "cold": 0}
    json.dumps(s, default=str)


def test_prometheus_exposition_has_the_documented_names(disk_mem):
    prometheus_client = pytest.importorskip("prometheus_client")
    disk_mem.add_entities([{"name": n, "embedding": np.eye(4, dtype=np.float32)[i]} for i, n in enumerate("ab")])
    disk_mem.get_entity("a")
    disk_mem.search(np.eye(4, dtype=np.float32)[0], k=1)  # a loaded vector index reports its bytes too
    assert disk_mem.stats()["bytes"]["resident_vectors"] > 0
    registry = prometheus_client.CollectorRegistry()
    registry.register(metrics.collector(disk_mem))
    text = prometheus_client.generate_latest(registry).decode()
    for name in ("graphmem_entities{namespace=\"default\"} 2.0", "graphmem_bytes{part=\"disk_store\"}",
                 "graphmem_cache_hits_total{cache=\"entities\"}", "graphmem_operations_total{operation=\"get_entity\"}",
                 "graphmem_operation_latency_seconds{operation=\"get_entity\",quantile=\"0.5\"}",
                 "graphmem_tier_entities{tier=\"hot\"} 2.0", "graphmem_bytes{part=\"resident_vectors\"}", "graphmem_relations{namespace=\"default\"} 0.0"):
        assert name in text, name
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, _thread = metrics.serve(disk_mem, port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "graphmem_entities" in body
    finally:
        server.shutdown()


@pytest.mark.engine
def test_stats_watch_refreshes(tmp_path, engine):
    with graphmem.open(tmp_path / "s", engine=engine, embedder=None) as mem:
        mem.add_entity("a")
    done = subprocess.run(
        [sys.executable, "-m", "graphmem", "--engine", engine, "stats", str(tmp_path / "s"), "--json", "--watch",
         "--interval", "0.1", "--iterations", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line["entities"] == 1 for line in lines)


def test_scans_after_expiry_return_valid_arrow_data(mem):
    """kuzu exports an all-empty list column with a garbage child offset after a
    filtered, ordered scan; the store repairs it (it once read as CorruptStore)."""
    mem.add_entities([{"name": n} for n in "abcde"])
    for name in "abce":
        mem.get_entity(name)
    mem.forget(max_entities=2)
    for _ in range(50):
        assert sorted(e.observations for e in mem.iter_entities()) == [(), ()]
        mem._store.execute_arrow_by_id("entity_export", {"namespace": "default"}, next_id=5).validate(full=True)


# -- relation counts agree after every lifecycle call (issue 17.3) -----------------------

_RAW_ALL = "MATCH ()-[r:Relation]->() WHERE r.expired_at IS NULL RETURN count(*) AS n"
"""Counts relation rows without reading their endpoints: on kuzu 0.11.3 this is
where rows left behind by a DETACH DELETE of their endpoint show up."""
_RAW_BOTH_ENDS = ("MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE r.expired_at IS NULL "
                  "AND a.id >= 0 AND b.id >= 0 RETURN count(*) AS n")
_RAW_EVERY_VERSION = ("MATCH ()-[r:Relation]->() RETURN count(*) AS n", "MATCH (a:Entity)-[r:Relation]->(b:Entity) "
                      "WHERE a.id >= 0 AND b.id >= 0 RETURN count(*) AS n")


def _check_relation_counts(mem, after: str) -> int:
    """The relation count of stats(), what traversal sees, and raw Cypher counts
    (with and without reading both endpoints, history included) agree."""
    stats = mem.stats()["relations"]
    traversal = sum(len(mem.neighbors(e.name, direction="out")) for e in mem.iter_entities())
    exported = sum(1 for _ in mem.iter_relations())
    raw = mem.cypher(_RAW_ALL)[0]["n"]
    both_ends = mem.cypher(_RAW_BOTH_ENDS)[0]["n"]
    every, every_both_ends = (mem.cypher(q)[0]["n"] for q in _RAW_EVERY_VERSION)
    assert stats == raw == both_ends == exported, (after, stats, raw, both_ends, exported)
    assert every == every_both_ends, (after, every, every_both_ends)
    # Traversal sees the relations valid now; these histories bound none.
    assert traversal == stats, (after, traversal, stats)
    return stats


def _history(mem, n: int, seed: int) -> list[tuple[str, str, str]]:
    """n entities; relations loaded by COPY (a batch above the copy threshold) and
    one by one; property updates (versions) and expired relations."""
    rng = np.random.default_rng(seed)
    mem.add_entities([{"name": f"e{i}", "text": f"t{i}"} for i in range(n)])
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, size=(n // 2, 2)) if a != b}
    relations = [(f"e{a}", "R", f"e{b}") for a, b in sorted(pairs)]
    mem.add_relations(relations)
    for s, t, d in relations[: max(2, len(relations) // 10)]:
        mem.add_relation(s, t, d)  # one by one (relation_create), as well as the COPY above
    mem.add_relations([(s, t, d, {"v": 1}) for s, t, d in relations[::3]])
    mem.add_entities([{"name": f"e{i}", "text": "updated"} for i in range(0, n, 4)])
    for s, t, d in relations[1::7]:
        mem.expire_relation(s, t, d)
    return relations


def test_forget_hard_leaves_no_relation_behind(mem):
    """The reduction of issue 17.3: forget(hard=True) after relations loaded by
    COPY left rows whose endpoints were gone (kuzu's DETACH DELETE), counted by
    stats() but invisible to traversal; on disk they outlived a reopen."""
    _history(mem, 600, seed=2)
    _check_relation_counts(mem, "history")
    mem.forget(max_entities=100, hard=True)
    assert len(mem) == 100
    _check_relation_counts(mem, "forget hard")


def test_relation_counts_agree_after_every_lifecycle_call(disk_mem, open_store, tmp_path):
    mem = disk_mem
    relations = _history(mem, 400, seed=3)
    _check_relation_counts(mem, "history")
    steps = [
        ("forget soft", lambda: mem.forget(max_entities=350)),
        ("expire entity", lambda: mem.expire_entity(next(e.name for e in mem.iter_entities()))),
        ("delete entity", lambda: mem.delete_entity(next(e.name for e in mem.iter_entities()))),
        ("delete expired entity", lambda: (mem.expire_entity(relations[-1][2]), mem.delete_entity(relations[-1][2]))),
        ("merge", lambda: mem.merge(*[e.name for e in mem.iter_entities()][:2])),
        ("compact", lambda: mem.compact(cold_after=timedelta(0))),
        ("forget hard", lambda: mem.forget(max_entities=200, hard=True)),
        ("purge", lambda: mem.purge(before=graphmem.records.utcnow().replace(tzinfo=timezone.utc))),
        ("forget hard again", lambda: mem.forget(max_entities=50, hard=True)),
    ]
    for name, step in steps:
        step()
        _check_relation_counts(mem, name)
    count = mem.stats()["relations"]
    mem.close()
    reopened = open_store(tmp_path / "store")
    assert _check_relation_counts(reopened, "reopen") == count
