"""graphmem.integrations.langgraph.GraphMemStore against LangGraph's contract.

The conformance part is differential: the same operations go to
``GraphMemStore`` and to LangGraph's own ``InMemoryStore`` (the oracle), both
given one deterministic toy embedding function through ``IndexConfig``, so
results, scores and rankings compare (scores within the int8 quantisation of
graphmem's vectors). Where the two differ by design (the class docstring's
notes: unranked order, several vectors per item, empty namespaces) the
comparison normalises the oracle's side or a test pins graphmem's behaviour.
No published conformance suite exists for LangGraph stores
(``langgraph-checkpoint-conformance`` covers checkpointers only).
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("langgraph.store.memory",
                    reason="the langgraph extra is not installed (pip install 'graphmem[langgraph]')")

from langgraph.store.base import (  # noqa: E402
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore  # noqa: E402

from graphmem.errors import InvalidInput, NotFound  # noqa: E402
from graphmem.integrations.langgraph import (  # noqa: E402
    GraphMemStore,
    GraphSearchItem,
    decode_key,
    decode_namespace,
    encode_key,
    encode_namespace,
)

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.engine

WORDS = ("red", "blue", "green", "apple", "sky", "sea")
TEXTS = ("red apple", "blue sky", "blue sea", "green apple apple", "red sky at night", "sea sea sky", "nothing")
TOL = 0.02  # graphmem scores come from int8 vectors


def toy_embed(texts):
    """Word counts over a tiny vocabulary plus a constant (never a zero vector)."""
    return [[1.0] + [float(t.split().count(w)) for w in WORDS] for t in texts]


INDEX = {"dims": len(WORDS) + 1, "embed": toy_embed, "fields": ["text"]}


def _store(path=None, **kw) -> GraphMemStore:
    return GraphMemStore(path, engine=ENGINE, **kw)


# -- the namespace and key mapping --------------------------------------------------

labels = st.text(st.characters(blacklist_characters=".\x00", blacklist_categories=()), min_size=1, max_size=8) | \
    st.sampled_from(["a", "a/b", "%2F", "~", "#", " ", "\t", "\u2028", "x" * 600])


@given(st.lists(st.tuples(labels, labels), min_size=2, max_size=6, unique=True))
@settings(max_examples=60, deadline=None)
def test_namespace_mapping_is_reversible_and_collision_free(pairs):
    spaces = [p[:1] if p[1] == " " else p for p in pairs]  # tuples of length 1 and 2
    names = [encode_namespace(ns) for ns in spaces]
    assert len(set(names)) == len(set(spaces))
    for ns, name in zip(spaces, names):
        assert len(name) <= 512 and name.strip()
        decoded = decode_namespace(name)
        assert decoded == ns or (decoded is None and name.startswith("lg#"))


@given(st.text(max_size=20) | st.sampled_from(["", " ", "~", "~#x", "#", "a\x1fb", "k" * 513, "\u2028"]))
@settings(max_examples=100, deadline=None)
def test_key_mapping_is_reversible(key):
    from graphmem.validate import check_name

    name = encode_key(key)
    check_name(name)  # graphmem accepts every encoded key as an entity name
    assert decode_key(name) == key or (decode_key(name) is None and name.startswith("~#"))


def test_namespaces_that_only_a_separator_told_apart_stay_apart():
    with _store() as store:
        store.put(("users", "42"), "k", {"v": 1})
        store.put(("users/42",), "k", {"v": 2})
        assert store.get(("users", "42"), "k").value == {"v": 1}
        assert store.get(("users/42",), "k").value == {"v": 2}
        assert store.list_namespaces() == [("users", "42"), ("users/42",)]
        assert [i.namespace for i in store.search(("users",))] == [("users", "42")]


def test_keys_and_labels_graphmem_refuses_as_names_round_trip():
    awkward_keys = ["", " ", "\n", "a\x1fb", "~tilde", "~#hash", "k" * 600, "\u2028", "%41"]
    space = ("long" * 200, "\t", " ")
    with _store() as store:
        for i, key in enumerate(awkward_keys):
            store.put(space, key, {"i": i})
        for i, key in enumerate(awkward_keys):
            item = store.get(space, key)
            assert item is not None and item.key == key and item.namespace == space and item.value == {"i": i}
        found = store.search((space[0],), limit=100)
        assert sorted(i.key for i in found) == sorted(awkward_keys)
        assert store.list_namespaces() == [space]
        store.delete(space, "k" * 600)
        assert store.get(space, "k" * 600) is None
        assert len(store.search(space, limit=100)) == len(awkward_keys) - 1


# -- differential conformance against InMemoryStore ----------------------------------

spaces = st.sampled_from([("a",), ("a", "b"), ("a", "b", "c"), ("b",), ("a/b",), ("x y", "b")])
keys = st.sampled_from(["k1", "k2", "k3", ""])
values = st.fixed_dictionaries(
    {"text": st.sampled_from(TEXTS), "n": st.integers(0, 2)},
    optional={"tag": st.sampled_from(["x", "y"]), "meta": st.fixed_dictionaries({"m": st.integers(0, 2)})},
)
comparisons = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])
filters = st.none() | st.one_of(
    st.integers(0, 2).map(lambda n: {"n": n}),
    st.dictionaries(comparisons, st.integers(0, 2), min_size=1, max_size=2).map(lambda c: {"n": c}),
    st.sampled_from([{"tag": "x"}, {"tag": {"$ne": "x"}}, {"tag": {"$eq": "y"}}, {"meta": {"m": 1}},
                     {"n": 2, "tag": "y"}, {"tag": None}]),
)
prefixes = st.sampled_from([(), (), ("a",), ("a", "b"), ("b",), ("a/b",), ("x y",), ("zzz",)])
conditions = st.lists(st.builds(MatchCondition, st.sampled_from(["prefix", "suffix"]),
                                st.sampled_from([("a",), ("b",), ("a", "*"), ("*", "b"), ("c",), ("a/b",)])),
                      max_size=2).map(tuple)  # fmt: skip
searches = st.builds(SearchOp, prefixes, filters, st.integers(0, 6), st.integers(0, 4),
                     st.none() | st.sampled_from(TEXTS), refresh_ttl=st.booleans())  # fmt: skip
ops = st.one_of(
    st.builds(PutOp, spaces, keys, values, index=st.none(), ttl=st.none()),
    st.builds(PutOp, spaces, keys, st.none(), index=st.none(), ttl=st.none()),
    st.builds(GetOp, spaces, keys, refresh_ttl=st.booleans()),
    searches,
    searches,
    st.builds(ListNamespacesOp, conditions, st.none() | st.integers(1, 3), st.integers(1, 5), st.integers(0, 2)),
)


def _one_put_per_text(batch):
    # InMemoryStore keys the texts it embeds in one batch by text, and fails
    # ("Number of embeddings (1) does not match number of indices (2)") when
    # two items of a batch share one: keep one put per text in a batch.
    texts, out = set(), []
    for op in batch:
        if isinstance(op, PutOp) and op.value is not None:
            if op.value["text"] in texts:
                continue
            texts.add(op.value["text"])
        out.append(op)
    return out


def _purge_empty(oracle: InMemoryStore) -> None:
    # InMemoryStore lists a namespace once any get touched it, and after its last
    # item is deleted; graphmem lists the namespaces that hold items.
    for ns in [ns for ns, items in oracle._data.items() if not items]:
        del oracle._data[ns]


def _check_search(op: SearchOp, ours, full) -> None:
    """``ours`` against ``full``, the oracle's answer to ``op`` without limit and offset."""
    assert all(isinstance(i.score, float) or i.score is None for i in ours)
    if op.query is None:  # unranked: graphmem lists by (namespace, key)
        expected = sorted(full, key=lambda i: (i.namespace, i.key))[op.offset:op.offset + op.limit]
        assert [(i.namespace, i.key, i.value) for i in ours] == [(i.namespace, i.key, i.value) for i in expected]
        assert all(i.score is None for i in ours)
        return
    page = full[op.offset:op.offset + op.limit]
    assert len(ours) == len(page)
    by_item = {(i.namespace, i.key): i for i in full}
    for got, want in zip(ours, page):  # the same ranking, ties aside
        assert math.isclose(got.score, want.score, abs_tol=TOL)
        twin = by_item[(got.namespace, got.key)]  # and each item carries its own score and value
        assert math.isclose(got.score, twin.score, abs_tol=TOL) and got.value == twin.value


def _check(op, ours, theirs) -> None:
    if isinstance(op, GetOp):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert (ours.namespace, ours.key, ours.value) == (theirs.namespace, theirs.key, theirs.value)
            assert ours.created_at <= ours.updated_at
    elif isinstance(op, SearchOp):
        _check_search(op, ours, theirs)
    else:
        assert ours == theirs


SEED = [PutOp(ns, key, {"text": text, "n": n, **({"tag": "x"} if n % 2 else {})})
        for ns, key, text, n in [(("a",), "k1", TEXTS[0], 1), (("a", "b"), "k2", TEXTS[1], 2),
                                 (("a", "b", "c"), "k3", TEXTS[2], 0), (("b",), "k1", TEXTS[3], 1),
                                 (("a/b",), "", TEXTS[4], 2), (("x y", "b"), "k2", TEXTS[5], 0)]]  # fmt: skip
single = ops.map(lambda op: [op])
batches_ = st.lists(st.one_of(single, single, st.lists(ops, min_size=2, max_size=4)), min_size=3, max_size=15)


@given(batches_)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_same_operations_give_the_same_results_as_in_memory_store(batches):
    oracle = InMemoryStore(index=INDEX)
    with _store(index=INDEX) as store:
        store.batch(SEED)
        oracle.batch(SEED)
        for batch in batches:
            _purge_empty(oracle)
            batch = _one_put_per_text(batch)
            # The oracle's answers to reads that its own quirks would change are
            # taken before the batch (a batch reads the state before its writes):
            # searches without limit and offset (compared by _check_search) and
            # listings (a get on a new namespace makes the oracle list it at once).
            before = {i: oracle.batch([op._replace(limit=10**6, offset=0) if isinstance(op, SearchOp) else op])[0]
                      for i, op in enumerate(batch) if isinstance(op, (SearchOp, ListNamespacesOp))}  # fmt: skip
            ours, theirs = store.batch(batch), oracle.batch(batch)
            for i, (op, a, b) in enumerate(zip(batch, ours, theirs)):
                _check(op, a, before.get(i, b))
        _purge_empty(oracle)
        assert store.list_namespaces(limit=100) == oracle.list_namespaces(limit=100)


def test_put_updates_the_value_and_times():
    with _store() as store:
        store.put(("a",), "k", {"x": 1, "y": 2})
        first = store.get(("a",), "k")
        store.put(("a",), "k", {"x": 3})
        second = store.get(("a",), "k")
        assert second.value == {"x": 3}  # replaced, not merged
        assert second.created_at == first.created_at and second.updated_at > first.updated_at


def test_search_with_no_index_ignores_the_query_as_in_memory_store_does():
    oracle = InMemoryStore()
    with _store() as store:
        for s in (store, oracle):
            s.put(("a",), "k1", {"text": "red"})
            s.put(("a",), "k2", {"text": "blue"})
        ours = store.search(("a",), query="red")
        assert [(i.key, i.score) for i in ours] == [(i.key, i.score) for i in oracle.search(("a",), query="red")]


def test_unindexed_items_follow_the_ranked_ones_unscored():
    with _store(index=INDEX) as store:
        store.put(("a",), "ranked", {"text": "red apple"})
        store.put(("a",), "off", {"text": "red apple"}, index=False)
        store.put(("a",), "missing", {"other": "no text field"})
        store.put(("a",), "flip", {"text": "red apple"})
        store.put(("a",), "flip", {"text": "red apple"}, index=False)  # its old vector no longer ranks it
        found = store.search(("a",), query="red apple", limit=10)
        assert [i.key for i in found] == ["ranked", "flip", "missing", "off"]
        assert found[0].score > 0.99 and [i.score for i in found[1:]] == [None, None, None]
        assert [i.key for i in store.search(("a",), query="red apple", limit=2, offset=1)] == ["flip", "missing"]


def test_several_indexed_texts_make_one_mean_vector():
    # The documented difference: InMemoryStore keeps one vector per text and
    # scores by the best; graphmem keeps the normalised mean of the texts' vectors.
    value = {"text": "red apple", "title": "blue sea"}
    index = {**INDEX, "fields": ["text", "title"]}
    oracle = InMemoryStore(index=index)
    oracle.put(("a",), "k", value)
    with _store(index=index) as store:
        store.put(("a",), "k", value)
        ours = store.search(("a",), query="red apple")[0].score
    theirs = oracle.search(("a",), query="red apple")[0].score
    u, v, q = (_unit(toy_embed([t])[0]) for t in ("red apple", "blue sea", "red apple"))
    mean = _unit([a + b for a, b in zip(u, v)])
    assert math.isclose(theirs, 1.0, abs_tol=1e-9)
    assert math.isclose(ours, sum(a * b for a, b in zip(mean, q)), abs_tol=TOL) and ours < theirs - 0.05


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def test_every_filter_operator_and_operand_agrees_with_in_memory_store():
    oracle = InMemoryStore()
    with _store() as store:
        for s in (store, oracle):
            for n in range(4):
                s.put(("a",), f"k{n}", {"n": n, "tag": "x" if n % 2 else "y", "meta": {"m": n % 2}})
        cases = [{"n": {op: v}} for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte") for v in (0, 1.5, 2, 3)]
        cases += [{"n": 1}, {"tag": "x"}, {"meta": {"m": 1}}, {"n": {"$gt": 0, "$lt": 3}}, {"tag": None}]
        for case in cases:
            assert [i.key for i in store.search(("a",), filter=case)] == [i.key for i in
                                                                          oracle.search(("a",), filter=case)], case


def test_filters_skip_missing_numbers_instead_of_raising():
    with _store() as store:
        store.put(("a",), "with", {"n": 3})
        store.put(("a",), "without", {"m": 1})
        store.put(("a",), "text", {"n": "three"})
        assert [i.key for i in store.search(("a",), filter={"n": {"$gt": 1}})] == ["with"]
        with pytest.raises(InvalidInput, match="unsupported filter operator"):
            store.search(("a",), filter={"n": {"$in": [1]}})


def test_list_namespaces_prefix_suffix_depth_and_pages():
    oracle = InMemoryStore()
    spaces_ = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f")]
    with _store() as store:
        for s in (store, oracle):
            for ns in spaces_:
                s.put(ns, "k", {"v": 1})
        for kw in ({"prefix": ("a", "b"), "max_depth": 3}, {"suffix": ("f",)}, {"prefix": ("a", "*", "f")},
                   {"max_depth": 2, "limit": 1, "offset": 1}, {"prefix": ("a",), "suffix": ("*", "f")}):
            assert store.list_namespaces(**kw) == oracle.list_namespaces(**kw), kw


def test_invalid_namespaces_are_refused_like_langgraph_does():
    with _store() as store:
        for bad in ((), ("a.b",), ("",), ("langgraph", "x")):
            with pytest.raises(InvalidNamespaceError):
                store.put(bad, "k", {"v": 1})
        with pytest.raises(InvalidNamespaceError):  # ops given to batch directly are checked too
            store.batch([GetOp(("a.b",), "k")])


# -- batches ---------------------------------------------------------------------------


def test_a_batch_with_a_bad_op_writes_nothing():
    with _store() as store:
        good = PutOp(("a",), "k1", {"v": 1})
        for bad in (PutOp(("b",), "k2", {"v": object()}), PutOp(("b",), "k2", {"v": float("nan")}),
                    PutOp(("b",), "k2", {"v": 1}, ttl=-1), SearchOp(("a",), limit=-1), "not an op"):
            with pytest.raises(ValueError):
                store.batch([good, bad])
            assert store.get(("a",), "k1") is None and store.list_namespaces() == []


def test_a_batch_reads_before_its_writes_and_the_last_put_wins():
    with _store() as store:
        store.put(("a",), "k", {"v": 0})
        got, _, _, again = store.batch([GetOp(("a",), "k"), PutOp(("a",), "k", {"v": 1}),
                                        PutOp(("a",), "k", {"v": 2}), GetOp(("a",), "k")])  # fmt: skip
        assert got.value == {"v": 0} and again.value == {"v": 0}
        assert store.get(("a",), "k").value == {"v": 2}


# -- TTL -------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_expires_refreshes_on_read_and_sweeps_into_history():
    clock = Clock()
    with _store(ttl={"default_ttl": 1.0}) as store:
        store._clock = clock
        store.put(("a",), "short", {"v": 1})  # the default TTL: one minute
        store.put(("a",), "kept", {"v": 2}, ttl=None)
        clock.now += 50
        assert store.get(("a",), "short").value == {"v": 1}  # refreshes: a minute from now
        clock.now += 50
        assert store.get(("a",), "short", refresh_ttl=False) is not None  # does not refresh
        clock.now += 15
        assert store.get(("a",), "short") is None
        assert [i.key for i in store.search(("a",))] == ["kept"]
        assert store.sweep_ttl() == 1 and store.sweep_ttl() == 0
        assert store.list_namespaces() == [("a",)]
        history = store.memory.namespace(encode_namespace(("a",))).history("short")
        assert history.entity[-1].expired_at is not None  # retired, not destroyed
        store.put(("a",), "short", {"v": 3}, ttl=0.5)  # revived with its own TTL
        clock.now += 29
        assert store.get(("a",), "short").value == {"v": 3}


def test_ttl_refresh_on_read_can_be_turned_off():
    clock = Clock()
    with _store(ttl={"default_ttl": 1.0, "refresh_on_read": False}) as store:
        store._clock = clock
        store.put(("a",), "k", {"v": 1})
        clock.now += 50
        assert store.get(("a",), "k") is not None
        assert store.search(("a",))[0].key == "k"
        clock.now += 20
        assert store.get(("a",), "k") is None


def test_ttl_sweeper_thread_starts_and_stops():
    with _store(ttl={"sweep_interval_minutes": 60}) as store:
        assert store._sweeper is not None and store._sweeper.is_alive()
        assert store.stop_ttl_sweeper(timeout=10)
        assert store._sweeper is None


# -- vector spaces -------------------------------------------------------------------


def test_a_store_keeps_one_vector_space(tmp_path):
    path = tmp_path / "store"
    with _store(path, index=INDEX) as store:
        store.put(("a",), "k", {"text": "red"})
    with pytest.raises(InvalidInput, match="7-d vectors and IndexConfig.dims is 3"):
        _store(path, index={"dims": 3, "embed": lambda texts: [[1.0, 0.0, 0.0] for _ in texts]})
    with pytest.raises(InvalidInput, match="default embedder makes 384-d"):
        _store(index={"dims": 7})
    with _store(index={"dims": 3, "embed": toy_embed}) as wrong:  # an embedder that breaks its promise
        with pytest.raises(InvalidInput, match="IndexConfig.dims is 3"):
            wrong.put(("a",), "k", {"text": "red"})
        assert wrong.get(("a",), "k") is None


# -- links and the composed search ---------------------------------------------------


def test_links_and_near_search():
    with _store(index=INDEX) as store:
        ns = ("user", "1")
        for key, text in [("trip", "blue sea"), ("hotel", "blue sky"), ("food", "red apple"),
                          ("far", "blue sea sea"), ("~odd key", "sea sky")]:  # fmt: skip
            store.put(ns, key, {"text": text})
        store.link(ns, "trip", "INCLUDES", "hotel")
        store.link(ns, "hotel", "NEAR", "food")
        store.link(ns, "food", "NEAR", "far")
        store.link(ns, "trip", "MENTIONS", "~odd key")
        assert store.links(ns, "trip") == [("INCLUDES", "hotel", "out"), ("MENTIONS", "~odd key", "out")]
        found = store.search(ns, query="blue sea", near="trip", max_hops=2)
        assert all(isinstance(i, GraphSearchItem) for i in found)
        assert {i.key for i in found} == {"trip", "hotel", "food", "~odd key"}  # "far" is 3 hops away
        assert found[0].key == "trip" and found[0].hops == 0 and found[0].path == ("trip",)
        food = next(i for i in found if i.key == "food")
        assert food.hops == 2 and food.path == ("trip", "hotel", "food")
        assert [i.key for i in store.search(ns, query="blue sea", near=["trip"], max_hops=2, limit=1, offset=1)] \
            == [found[1].key]
        assert store.unlink(ns, "hotel", "NEAR", "food") and not store.unlink(ns, "hotel", "NEAR", "food")
        assert {i.key for i in store.search(ns, query="blue sea", near="trip")} == {"trip", "hotel", "~odd key"}
        store.delete(ns, "hotel")  # an item's links go with it
        assert store.links(ns, "trip") == [("MENTIONS", "~odd key", "out")]
        with pytest.raises(NotFound):
            store.search(ns, query="sea", near="nobody")
        with pytest.raises(NotFound):
            store.link(ns, "trip", "KNOWS", "nobody")
        with pytest.raises(InvalidInput):
            store.search(ns, query="sea", max_hops=2)


# -- async, threads, persistence -------------------------------------------------------


def test_async_forms():
    async def scenario(store):
        await store.aput(("a",), "k1", {"text": "red apple"})
        await store.aput(("a",), "k2", {"text": "blue sky"})
        await store.aput(("b",), "k3", {"text": "red sky at night"})
        got = await store.aget(("a",), "k1")
        found = await store.asearch((), query="red")
        store.link(("a",), "k1", "SEES", "k2")
        near = await store.asearch(("a",), query="blue sky", near="k1", max_hops=1)
        spaces_ = await store.alist_namespaces()
        await store.adelete(("a",), "k1")
        return got, found, near, spaces_, await store.aget(("a",), "k1")

    async def embed(texts):  # an async-only embedding function
        return toy_embed(texts)

    with _store(index={**INDEX, "embed": embed}) as store:
        got, found, near, spaces_, gone = asyncio.run(scenario(store))
    assert got.value == {"text": "red apple"} and gone is None
    assert [i.key for i in found][:2] == ["k1", "k3"] and found[0].score > found[-1].score
    assert [i.key for i in near] == ["k2", "k1"] and near[0].hops == 1
    assert spaces_ == [("a",), ("b",)]


def test_threads_write_and_read_at_once():
    errors = []
    with _store(index=INDEX) as store:
        def work(t):
            try:
                for i in range(25):
                    store.put(("t", str(t)), f"k{i}", {"text": TEXTS[i % len(TEXTS)], "i": i})
                    assert store.get(("t", str(t)), f"k{i}").value["i"] == i
                    store.search(("t",), query="red", limit=3)
            except BaseException as exc:  # reported below: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(store.search(("t",), limit=1000)) == 100
        assert store.list_namespaces() == [("t", str(t)) for t in range(4)]


def test_everything_survives_a_reopen(tmp_path):
    path = tmp_path / "store"
    clock = Clock()
    with _store(path, index=INDEX) as store:
        store._clock = clock
        store.put(("a", "b"), "k1", {"text": "red apple", "n": 1})
        store.put(("a", "b"), "", {"text": "blue sky"})
        store.put(("x" * 600,), "k" * 600, {"text": "sea"})
        store.put(("a", "b"), "brief", {"text": "blue sea"}, ttl=1.0)
        store.link(("a", "b"), "k1", "LIKES", "")
        before = store.get(("a", "b"), "k1")
    with _store(path, index=INDEX) as store:
        store._clock = clock
        again = store.get(("a", "b"), "k1")
        assert (again.value, again.created_at, again.updated_at) == (before.value, before.created_at, before.updated_at)
        assert store.get(("x" * 600,), "k" * 600).value == {"text": "sea"}
        assert store.list_namespaces() == [("a", "b"), ("x" * 600,)]
        assert store.search(("a",), query="blue sky")[0].key == ""
        assert store.links(("a", "b"), "k1") == [("LIKES", "", "out")]
        clock.now += 61
        assert store.get(("a", "b"), "brief") is None


def test_read_only_store_reads_and_refuses_writes(tmp_path):
    from graphmem.errors import ReadOnlyStore

    import graphmem

    path = tmp_path / "store"
    with _store(path, ttl={"default_ttl": 5.0}) as store:
        store.put(("a",), "k", {"v": 1})
    with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as mem:
        store = GraphMemStore(mem)
        assert store.get(("a",), "k").value == {"v": 1}  # its TTL is not refreshed: nothing is written
        with pytest.raises(ReadOnlyStore):
            store.put(("a",), "k2", {"v": 2})
        store.close()  # the memory stays the caller's
        assert not mem.closed


def test_a_memory_with_an_embedder_is_refused():
    import graphmem
    from graphmem.embed import HashEmbedder

    with graphmem.open(engine=ENGINE, embedder=HashEmbedder(dim=8)) as mem:
        with pytest.raises(InvalidInput, match="embedder=None"):
            GraphMemStore(mem)


# -- the example -----------------------------------------------------------------------


def test_the_langgraph_example_runs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "langgraph_agent.py")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "GRAPHMEM_ENGINE": ENGINE, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "recalled for 'what should I pack for the beach trip?': sunscreen, swimsuit" in lines
    assert "within 1 hop of 'trip': swimsuit, trip" in lines


def test_the_core_never_imports_langgraph():
    code = ("import sys, graphmem, graphmem.integrations; "
            "found = sorted(m for m in sys.modules if m.split('.')[0] in ('langgraph', 'langchain_core')); "
            "sys.exit(f'imported: {found}' if found else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_returned_values_are_copies_and_scans_see_every_write():
    with _store(index=INDEX) as store:
        store.put(("a",), "k", {"list": [1], "text": "red"})
        store.get(("a",), "k").value["list"].append(2)  # a caller changing what it got
        store.search(("a",))[0].value["list"].append(3)
        assert store.get(("a",), "k").value == {"list": [1], "text": "red"}
        assert store.search(("a",))[0].value == {"list": [1], "text": "red"}
        store.put(("a",), "k2", {"text": "blue"})  # after a scan: the next scan sees the write
        assert [i.key for i in store.search(("a",))] == ["k", "k2"]
        store.delete(("a",), "k")
        assert [i.key for i in store.search(("a",))] == ["k2"]
        assert [i.key for i in store.search(("a",), query="red")] == ["k2"]


def test_the_scan_cache_stays_bounded(monkeypatch):
    from graphmem.integrations import langgraph as module

    monkeypatch.setattr(module, "_SCAN_CACHE_ITEMS", 5)
    with _store() as store:
        for ns in ("a", "b", "c"):
            store.batch([PutOp((ns,), f"k{i}", {"i": i}) for i in range(3)])
        for ns in ("a", "b", "c", "a"):
            assert [i.value["i"] for i in store.search((ns,))] == [0, 1, 2]
        assert store._scanned_items <= 5 and list(store._scanned) == ["lg/a"]
        assert store._scanned_items == sum(len(items) for _, items in store._scanned.values())
