"""The semantic layer: quantization fidelity, recall against brute force,
filtered search, crash and corruption recovery of the side index, threads."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.algorithms import scoring
from graphmem.algorithms.scoring import exact_top_k
from graphmem.index.vector_store import INDEX_FILE, MANIFEST_FILE
from graphmem.records import dequantize, quantize

from .conftest import ENGINE

ROOT = Path(__file__).resolve().parents[1]


def _unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _clustered(rng, n, d, clusters=40):
    centers = _unit(rng, clusters, d)
    x = centers[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, d)).astype(np.float32) / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# -- real model embeddings ---------------------------------------------------------------

_SUBJECTS = ["The data engineer", "Our CTO", "A junior developer", "The sales team", "The research group",
             "An intern", "The support desk", "The security officer", "A contractor", "The product manager"]
_VERBS = ["migrated", "reviewed", "benchmarked", "documented", "deployed", "refactored", "debugged", "designed",
          "presented", "tested"]
_OBJECTS = ["the billing pipeline", "a Kubernetes cluster", "the mobile app", "the quarterly report",
            "a graph database", "the onboarding guide", "an ETL job in Rust", "the marketing website",
            "a fraud detection model", "the office network", "the customer survey", "a React dashboard",
            "the backup policy", "an LLM agent", "the search service", "a payment gateway", "the data warehouse",
            "an internal wiki", "the CI runners", "a vector index"]
_WHEN = ["last week", "on Monday", "in March", "before the launch", "after the outage", "during the offsite"]


@pytest.fixture(scope="module")
def corpus():
    texts = [f"{s} {v} {o} {w}." for s, v, o, w in itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _WHEN)]
    rng = np.random.default_rng(7)
    texts = [texts[i] for i in rng.choice(len(texts), 2500, replace=False)]
    vectors = graphmem.DefaultEmbedder().encode(texts)
    return texts, vectors


def test_default_embedder_is_normalised_and_semantic(corpus):
    texts, vectors = corpus
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    e = graphmem.DefaultEmbedder()
    cat, kitten, tax = e.encode(["a cat sleeping", "a small kitten napping", "quarterly tax filing"])
    assert float(cat @ kitten) > float(cat @ tax) + 0.2


def test_quantization_fidelity_on_real_embeddings(corpus):
    _, vectors = corpus
    deq = np.stack([dequantize(*quantize(v)) for v in vectors])
    cosine = np.sum(deq * vectors, axis=1) / np.linalg.norm(deq, axis=1)
    assert float(cosine.mean()) >= 0.999
    queries = vectors[:200] * 0.6 + vectors[200:400] * 0.4
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    deq_n = deq / np.linalg.norm(deq, axis=1, keepdims=True)
    approx = np.argsort(-(queries @ deq_n.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx)])
    assert recall >= 0.99


def test_recall_against_brute_force_on_real_embeddings(corpus, tmp_path):
    texts, vectors = corpus
    with graphmem.open(tmp_path / "s", embedder=None) as mem:
        mem.add_entities([{"name": f"t{i}", "text": t, "embedding": v} for i, (t, v) in enumerate(zip(texts, vectors))])
        rng = np.random.default_rng(1)
        picks = rng.choice(len(texts), 100, replace=False)
        queries = vectors[picks] + 0.5 * vectors[rng.permutation(picks)]
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        recalls = []
        for q in queries:
            exact = {f"t{i}" for i in np.argsort(-(vectors @ q))[:10]}
            recalls.append(len(exact & {h.name for h in mem.search(q, k=10)}) / 10)
        assert np.mean(recalls) >= 0.95


def test_text_search_with_the_real_model(tmp_path):
    with graphmem.open(tmp_path / "s") as mem:
        mem.add_entities([
            {"name": "Ada", "type": "Person", "text": "Builds data pipelines in Rust and Python"},
            {"name": "Bo", "type": "Person", "text": "Designs marketing campaigns and brand identity"},
            {"name": "Acme", "type": "Company", "text": "A logistics company that ships parcels"},
        ])  # fmt: skip
        assert mem.search("data pipeline engineer", k=1)[0].name == "Ada"
        assert [h.name for h in mem.search("shipping firm", k=1, types=["Company"])] == ["Acme"]
        mem.add_entity("Bo", text="Now a database administrator tuning PostgreSQL")  # re-embedded
        assert mem.search("who runs our databases?", k=1)[0].name == "Bo"


# -- search semantics ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), k=st.integers(1, 20))
def test_exact_top_k_equals_brute_force(seed, n, k):
    rng = np.random.default_rng(seed)
    x = _unit(rng, n, 16)
    rows = np.stack([np.frombuffer(quantize(v)[0], np.int8) for v in x])
    inv = 1.0 / np.linalg.norm(rows.astype(np.float32), axis=1)
    allowed = np.sort(rng.choice(n, size=max(1, n // 2), replace=False))
    q = _unit(rng, 1, 16)[0]
    ids, scores = exact_top_k(rows, inv.astype(np.float32), allowed, q, k)
    truth = (rows[allowed].astype(np.float32) @ q) * inv[allowed]
    order = allowed[np.lexsort((allowed, -truth))][:k]
    assert ids.tolist() == order.tolist()
    assert np.all(np.diff(scores) <= 1e-6)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), distinct=st.integers(1, 6), k=st.integers(1, 60))
def test_exact_top_k_breaks_ties_by_smaller_id(seed, n, distinct, k):
    # Few distinct rows: many equal scores, also at the k-th place, on both
    # sides of the small-k cut-over (scoring._SMALL_K).
    rng = np.random.default_rng(seed)
    base = np.stack([np.frombuffer(quantize(v)[0], np.int8) for v in _unit(rng, distinct, 8)])
    rows = base[rng.integers(0, distinct, n)]
    inv = (1.0 / np.linalg.norm(rows.astype(np.float32), axis=1)).astype(np.float32)
    allowed = rng.permutation(n)[: rng.integers(1, n + 1)]
    q = _unit(rng, 1, 8)[0]
    ids, scores = exact_top_k(rows, inv, allowed, q, k)
    every = np.empty(len(allowed), np.float32)
    scoring._scores(rows, inv, allowed.astype(np.int64), q, every)  # the same compiled arithmetic
    order = np.lexsort((allowed, -every))[:k]
    assert ids.tolist() == allowed[order].tolist()
    assert scores.tolist() == every[order].tolist()


def test_filtered_search_equals_brute_force_over_allowed(mem):
    rng = np.random.default_rng(3)
    x = _clustered(rng, 3000, 32)
    types = ["Rare" if i % 50 == 0 else ("Mid" if i % 5 == 0 else "Common") for i in range(3000)]
    mem.add_entities([{"name": f"v{i}", "type": t, "embedding": x[i]} for i, t in enumerate(types)])
    stored = np.stack([mem.get_entity(f"v{i}").embedding for i in range(3000)])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    overlaps = []
    for q in _unit(rng, 10, 32):
        for wanted in (["Rare"], ["Mid"], ["Rare", "Mid"]):
            allowed = [i for i, t in enumerate(types) if t in wanted]
            best = sorted(allowed, key=lambda i: (-float(stored[i] @ q), i))[:10]
            hits = mem.search(q, k=10, types=wanted)
            assert [h.name for h in hits] == [f"v{i}" for i in best]
            assert all(abs(h.score - float(stored[int(h.name[1:])] @ q)) < 1e-4 for h in hits)
        unfiltered = {h.name for h in mem.search(q, k=10)}
        exact = {f"v{i}" for i in np.argsort(-(stored @ q))[:10]}
        overlaps.append(len(unfiltered & exact) / 10)
    assert np.mean(overlaps) >= 0.9  # approximate: HNSW over 3,000 clustered vectors, queries off-cluster


def test_search_edge_cases(mem):
    assert mem.search(np.ones(4, np.float32), k=3) == []  # no vectors yet
    rng = np.random.default_rng(5)
    x = _unit(rng, 5, 8)
    mem.add_entities([{"name": f"v{i}", "type": "T", "embedding": x[i]} for i in range(5)])
    mem.add_entity("novector")
    assert len(mem.search(x[0], k=50)) == 5  # k beyond the store: what exists
    assert mem.search(x[0], k=3, types=["Unknown"]) == []
    assert [h.name for h in mem.search(x[0].tolist(), k=1)] == ["v0"]  # a list is a vector too
    for bad in (np.ones(7), np.full(8, np.nan), np.zeros(8), "text without embedder", "", [[1.0] * 8], object()):
        with pytest.raises(graphmem.InvalidInput):
            mem.search(bad, k=1)
    for bad_k in (0, -1, 2.5, "3", True):
        with pytest.raises(graphmem.InvalidInput):
            mem.search(x[0], k=bad_k)


def test_vectors_follow_updates_deletes_and_cypher(mem):
    rng = np.random.default_rng(9)
    x = _unit(rng, 40, 8)
    mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(40)])
    assert mem.search(x[3], k=1)[0].name == "v3"
    mem.add_entity("v3", embedding=x[30])  # replaced: v3 now sits where v30 is
    assert {h.name for h in mem.search(x[30], k=2)} == {"v3", "v30"}
    mem.delete_entity("v30")
    assert all(h.name != "v30" for h in mem.search(x[30], k=40))
    mem.cypher("MATCH (e:Entity) WHERE e.name = $n DETACH DELETE e", {"n": "v3"})
    assert all(h.name != "v3" for h in mem.search(x[30], k=40))
    assert len(mem.search(x[0], k=100)) == 38


def test_embedder_dimension_mismatch_is_refused(tmp_path, open_store):
    with open_store(tmp_path / "s") as mem:
        mem.add_entity("a", embedding=np.ones(8, np.float32))
    with pytest.raises(graphmem.InvalidInput, match="384-d"):
        open_store(tmp_path / "s", embedder=graphmem.HashEmbedder(dim=384))
    with open_store(tmp_path / "s", embedder=graphmem.HashEmbedder(dim=8)) as mem:
        assert mem.search("a", k=1)[0].name == "a"


# -- persistence, crashes, corruption ------------------------------------------------------------


def _fill(mem, n=300, d=16, seed=11):
    x = _unit(np.random.default_rng(seed), n, d)
    mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(n)])
    return x


def test_index_is_saved_and_reused(tmp_path, open_store):
    with open_store(tmp_path / "s") as mem:
        x = _fill(mem, n=2000)
        mem.search(x[0], k=1)  # builds the index
    manifest = json.loads((tmp_path / "s" / "vectors" / MANIFEST_FILE).read_text())
    assert manifest["count"] == 2000 and manifest["dim"] == 16 and manifest["format"] == 1
    with open_store(tmp_path / "s") as mem:
        assert mem.search(x[5], k=1)[0].name == "v5"
        assert mem._vectors.last_load["source"] == "file"


def _count_checks(monkeypatch):
    """Every id the catch-up compares with HNSW or re-adds to it, recorded."""
    from graphmem.index.vectors import VectorIndex

    seen = {"checked": [], "added": []}
    differing, add = VectorIndex._differing, VectorIndex._hnsw_add

    def counted_differing(self, ids, *rest):
        seen["checked"].extend(np.asarray(ids).tolist())
        return differing(self, ids, *rest)

    def counted_add(self, ids, *rest):
        seen["added"].extend(np.asarray(ids).tolist())
        return add(self, ids, *rest)

    monkeypatch.setattr(VectorIndex, "_differing", counted_differing)
    monkeypatch.setattr(VectorIndex, "_hnsw_add", counted_add)
    return seen


def test_reopen_after_a_bulk_load_loads_the_file_and_readds_nothing(tmp_path, open_store, monkeypatch):
    """Regression (issue 18): the catch-up re-checked every vector written
    within 5 s of the saved index's last write, so the first search after a
    bulk load compared the whole load with HNSW (11.8 s at 100k)."""
    with open_store(tmp_path / "s") as mem:
        x = _fill(mem, n=2000)
        mem.search(x[0], k=1)  # builds the index; the close saves it
    seen = _count_checks(monkeypatch)
    with open_store(tmp_path / "s") as mem:
        assert mem.search(x[5], k=1)[0].name == "v5"
        assert mem._vectors.last_load == {"source": "file", "caught_up": 0, "vectors": 2000, "rows": "file"}
    assert seen == {"checked": [], "added": []}


def test_writes_after_the_save_are_caught_up_when_the_clock_steps_back(tmp_path, open_store, monkeypatch):
    """The catch-up compares by write sequence: a write made after the save by a
    process whose wall clock is an hour behind is still re-added on reopen."""
    import graphmem.memory.facade as memory_module

    with open_store(tmp_path / "s") as mem:
        x = _fill(mem, n=300)
        mem.search(x[0], k=1)
    real = memory_module.utcnow
    monkeypatch.setattr(memory_module, "utcnow", lambda: real() - __import__("datetime").timedelta(hours=1))
    with open_store(tmp_path / "s") as mem:  # the index is not loaded: the writes reach only the store
        mem.add_entity("late", embedding=-x[7])
        mem.add_entity("v9", embedding=x[10])  # moved
    monkeypatch.setattr(memory_module, "utcnow", real)
    seen = _count_checks(monkeypatch)
    with open_store(tmp_path / "s") as mem:
        assert mem.search(-x[7], k=1)[0].name == "late"
        assert {h.name for h in mem.search(x[10], k=2)} == {"v9", "v10"}
        assert mem._vectors.last_load["source"] == "file"
    assert len(seen["checked"]) == 1 and len(seen["added"]) == 2  # v9 compared; v9 and "late" added


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "manifest", "delete"])
def test_damaged_index_files_are_rebuilt(tmp_path, open_store, damage):
    with open_store(tmp_path / "s") as mem:
        x = _fill(mem, n=2000)
        mem.search(x[0], k=1)
    folder = tmp_path / "s" / "vectors"
    index_file = folder / INDEX_FILE
    if damage == "truncate":
        data = index_file.read_bytes()
        index_file.write_bytes(data[: len(data) // 3])
    elif damage == "bitflip":
        data = bytearray(index_file.read_bytes())
        data[len(data) // 2] ^= 0x40
        index_file.write_bytes(bytes(data))
    elif damage == "manifest":
        (folder / MANIFEST_FILE).write_text("{ broken")
    else:
        index_file.unlink()
    (folder / "hnsw.bin.tmp").write_bytes(b"leftover from a crash")
    with open_store(tmp_path / "s") as mem:
        for i in (0, 777, 1999):
            assert mem.search(x[i], k=1)[0].name == f"v{i}"
        assert mem._vectors.last_load["source"] == "rebuilt"
    assert not (folder / "hnsw.bin.tmp").exists()


_CRASH = """
import os, signal, sys, numpy as np, graphmem
path, n = sys.argv[1], int(sys.argv[2])
x = np.random.default_rng(21).normal(size=(n, 16)).astype(np.float32)
mem = graphmem.open(path, embedder=None)
mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(n // 2)])
mem.search(x[0], k=1)
mem.flush()                                   # the saved index reflects the first half
mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(n // 2, n)])
mem.add_entity("v1", embedding=x[n - 1])      # moved after the save
for i in range(0, n, 10):
    mem.delete_entity(f"v{i}")                # deleted after the save
print("acknowledged", flush=True)
os.kill(os.getpid(), signal.SIGKILL)          # no close, no index save
"""


@pytest.mark.engine
def test_kill_between_commit_and_index_save(tmp_path):
    n = 1200
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(_CRASH), str(tmp_path / "s"), str(n)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT, env={**__import__("os").environ,
                            "GRAPHMEM_ENGINE": ENGINE})  # fmt: skip
    assert result.returncode == -9 and "acknowledged" in result.stdout, result.stderr
    x = np.random.default_rng(21).normal(size=(n, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with graphmem.open(tmp_path / "s", embedder=None, engine=ENGINE) as mem:
        assert len(mem) == n - n // 10
        for i in range(n):
            hits = mem.search(x[i], k=3)
            names = [h.name for h in hits]
            if i % 10 == 0:
                assert f"v{i}" not in names
            elif i == n - 1:
                assert {"v1", f"v{i}"} <= set(names)
            elif i != 1:
                assert names[0] == f"v{i}", (i, hits)
        assert all(h.name != f"v{i}" for i in range(0, n, 10) for h in mem.search(x[i], k=20))
        assert mem._vectors.last_load["source"] == "file" and mem._vectors.last_load["caught_up"] > 0


def test_concurrent_searches_during_writes(disk_mem):
    mem = disk_mem
    rng = np.random.default_rng(13)
    x = _unit(rng, 3000, 16)
    mem.add_entities([{"name": f"v{i}", "type": "A" if i % 3 else "B", "embedding": x[i]} for i in range(1500)])
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():
        try:
            for start in range(1500, 3000, 100):
                mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(start, start + 100)])
                mem.delete_entity(f"v{start - 1500}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader(seed):
        try:
            r = np.random.default_rng(seed)
            while not done.is_set():
                q = x[r.integers(0, 3000)]
                hits = mem.search(q, k=5)
                assert len(hits) == 5 and all(-1.01 <= h.score <= 1.01 for h in hits)
                mem.search(q, k=5, types=["B"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(0, 1500, 100):
        assert all(h.name != f"v{i}" for h in mem.search(x[i], k=10))


# -- HNSW label bookkeeping under churn (issue 17.6) -------------------------------------


def test_revived_entity_keeps_its_vector_label(mem):
    """The reduction from issue 17.6: expire, delete, revive, add, expire again.
    hnswlib gave the revived label a vacant slot, then handed its own old slot
    to "c", which erased "a" from its label map: the second expire raised after
    the store had committed."""
    mem.add_entity("a", embedding=[1.0, 0.0])
    mem.add_entity("b", embedding=[0.0, 1.0])
    mem.search([1.0, 0.0], k=1)  # loads the index, so writes update it in place
    mem.expire_entity("a")
    mem.delete_entity("b")
    mem.add_entity("a", embedding=[1.0, 0.0])
    mem.add_entity("c", embedding=[0.6, 0.8])
    assert mem.expire_entity("a") is True
    assert mem.get_entity("a") is None
    assert [h.name for h in mem.search([1.0, 0.0], k=5)] == ["c"]
    index = mem._vectors.peek()
    assert sorted(index.hnsw.get_ids_list()) == sorted(set(index.hnsw.get_ids_list()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["upsert", "remove", "upsert", "remove", "drain"]),
                          st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True),
                          st.integers(0, 3)), min_size=1, max_size=40))
def test_hnsw_graph_follows_the_rows_under_churn(ops):
    """Random upserts (new, updated and revived labels), removals and drains of
    the queue against a dict, with the worker paused so the queue holds what
    the steps leave in it. After each step a search (through HNSW merged with
    the exact scan of the queue: exact_limit=0) answers exactly as the dict;
    after each drain the HNSW graph itself holds exactly the live labels, each
    with its current vector."""
    from graphmem.index.vectors import HnswParams, VectorIndex

    directions = np.array([[100, 0], [0, 100], [70, 70], [-70, 70]], np.int8)
    units = directions / np.linalg.norm(directions.astype(np.float32), axis=1, keepdims=True)
    query = np.array([1.0, 0.0], np.float32)
    index = VectorIndex(dim=2, params=HnswParams(exact_limit=0))
    model: dict[int, int] = {}
    with index.paused():
        for op, ids, which in ops:
            if op == "upsert":
                index.upsert(np.array(ids), np.repeat(directions[which : which + 1], len(ids), 0),
                             np.full(len(ids), 0.01, np.float32))
                model.update({i: which for i in ids})
            elif op == "remove":
                index.remove(np.array(ids))
                for i in ids:
                    model.pop(i, None)
            else:
                index.drain()
                assert not index.stale
                _check_hnsw(index, model, directions)
            assert sorted(index.labels) == sorted(model)
            found, scores = index.search(query, len(model) + 3)
            assert sorted(found.tolist()) == sorted(model)
            np.testing.assert_allclose(scores, [units[model[i]] @ query for i in found.tolist()], atol=1e-5)
        index.drain()
        _check_hnsw(index, model, directions)
    index.close()


def _check_hnsw(index, model, directions):
    """knn over the whole HNSW graph: exactly the live labels, no ghosts, none lost."""
    if not model:
        return
    labels, _ = index.hnsw.knn_query(np.array([[1.0, 0.0]], np.float32), k=len(model))
    assert sorted(labels[0].tolist()) == sorted(model)
    stored = index.hnsw.get_items(sorted(model), return_type="numpy")
    expected = directions[[model[i] for i in sorted(model)]].astype(np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(stored, expected, atol=1e-4)


def test_entity_expired_before_a_save_and_revived_unindexed_is_found_after_reopen(tmp_path, open_store):
    """A saved graph lists labels it had marked deleted: the catch-up on load
    must revive such a label rather than trust it, and a later expire must work."""
    x = _unit(np.random.default_rng(5), 1500, 8)
    with open_store(tmp_path / "s") as mem:
        mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(1500)])
        mem.search(x[0], k=1)
        mem.expire_entity("v7")
    with open_store(tmp_path / "s") as mem:  # no search: the index is not loaded
        mem.add_entity("v7", embedding=x[7])
    with open_store(tmp_path / "s") as mem:
        assert mem.search(x[7], k=1)[0].name == "v7"
        assert mem._vectors.last_load["source"] == "file"
        index = mem._vectors.peek()
        index.drain()  # the catch-up is the worker's: apply it before looking inside HNSW
        hits, _ = index.hnsw.knn_query(x[7:8].astype(np.float32), k=1)
        assert hits[0].tolist() == [7]  # in the HNSW graph itself, not only the exact rows
        assert mem.expire_entity("v7") is True
        assert all(h.name != "v7" for h in mem.search(x[7], k=5))


# -- the background queue of the HNSW graph (issue 18) -----------------------------------


def _as_stored(x):
    """Unit rows of the int8 vectors the store keeps for ``x`` (brute force over
    them is what every plan must reproduce; float32 can order a near tie otherwise)."""
    rows = np.stack([dequantize(*quantize(v)) for v in x])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_search_right_after_a_write_sees_it_while_the_queue_holds_it(tmp_path, open_store):
    """With the worker paused, new, moved and expired vectors are queued (stale),
    and a search through HNSW (exact_limit=0) still answers exactly as brute
    force over the committed vectors: the queue is scanned exactly and merged."""
    from graphmem.index.vectors import HnswParams

    rng = np.random.default_rng(31)
    x = _unit(rng, 2600, 16)
    with open_store(tmp_path / "s") as mem:
        mem._vectors.params = HnswParams(exact_limit=0)
        mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(2000)])
        mem.search(x[0], k=1)  # loads the index
        index = mem._vectors.peek()
        index.drain()
        index.hnsw.set_ef(2600)  # HNSW exhaustive: any difference from brute force is the queue's
        with index.paused():
            mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(2000, 2600)])
            mem.add_entity("v5", embedding=x[2599])  # moved: its old vector is still in HNSW
            mem.expire_entity("v6")
            mem.delete_entity("v8")
            stale = index.stale
            assert {2000, 2599, 5, 6, 8} <= set(stale)  # entity ids follow insertion order here
            assert mem.stats()["vectors"]["queued"] == len(stale)
            current = {f"v{i}": x[i] for i in range(2600) if i not in (6, 8)}
            current["v5"] = x[2599]
            names = list(current)
            matrix = _as_stored(np.stack([current[n] for n in names]))
            for q in (x[2599], x[5], x[6], x[2300], x[17]):
                scores = matrix @ q
                truth = np.argsort(-scores)[:10]
                hits = mem.search(q, k=10)
                assert {h.name for h in hits} == {names[i] for i in truth}
                np.testing.assert_allclose([h.score for h in hits], scores[truth], atol=1e-4)  # best first
            assert index.stale == stale  # still queued: the answers above came from the merge
        index.drain()
        assert not index.stale and mem.stats()["vectors"]["queued"] == 0
        assert {h.name for h in mem.search(x[2599], k=2)} == {"v5", "v2599"}


def test_hnsw_capacity_grows_in_steps_and_loads_at_need(tmp_path, open_store):
    """Regression (issue 18): capacity doubled and the doubled figure was saved
    and reloaded (376 MB for 105k vectors)."""
    x = _unit(np.random.default_rng(33), 4000, 8)
    with open_store(tmp_path / "s") as mem:
        mem.add_entity("seed", embedding=x[0])
        mem.search(x[0], k=1)  # loads the index: the writes below grow it
        index = mem._vectors.peek()
        for start in range(1, 4000, 100):
            mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(start, min(start + 100, 4000))])
            index.drain()  # one batch at a time: the growth of a trickle of writes
        assert index.hnsw.element_count == 4000
        assert index.hnsw.get_max_elements() <= 4000 + 1024
    manifest = json.loads((tmp_path / "s" / "vectors" / MANIFEST_FILE).read_text())
    assert manifest["elements"] == 4000
    with open_store(tmp_path / "s") as mem:
        mem.search(x[0], k=1)
        assert mem._vectors.last_load["source"] == "file"
        assert mem._vectors.peek().hnsw.get_max_elements() == 4000


_KILL_IN_WORKER = """
import os, signal, sys, threading, numpy as np, graphmem
from graphmem.index.vectors import VectorIndex
path, n = sys.argv[1], int(sys.argv[2])
x = np.random.default_rng(41).normal(size=(n, 16)).astype(np.float32)
mem = graphmem.open(path, embedder=None)
mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(n * 4 // 5)])
mem.search(x[0], k=1)
mem.flush()                                   # the saved index reflects the first 80%
adding = threading.Event()
real_add = VectorIndex._hnsw_add
def signalling_add(self, *args):
    adding.set()                              # the worker is inside the HNSW add
    return real_add(self, *args)
VectorIndex._hnsw_add = signalling_add
with mem._vectors.peek().paused():            # every write below is committed before the worker starts
    mem.add_entities([{"name": f"v{i}", "embedding": x[i]} for i in range(n * 4 // 5, n)])
    mem.add_entity("v1", embedding=x[n - 1])  # moved after the save
    for i in range(0, n, 10):
        mem.delete_entity(f"v{i}")            # deleted after the save
print("acknowledged", flush=True)
adding.wait()
os.kill(os.getpid(), signal.SIGKILL)          # mid-add: no drain, no save
"""


@pytest.mark.engine
def test_kill_during_the_background_add(tmp_path, monkeypatch):
    """kill -9 while the worker adds committed vectors to HNSW: the reopened store
    answers as brute force over what was committed, before and after its catch-up."""
    n = 3000
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILL_IN_WORKER), str(tmp_path / "s"), str(n)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT, env={**__import__("os").environ,
                            "GRAPHMEM_ENGINE": ENGINE})  # fmt: skip
    assert result.returncode == -9 and "acknowledged" in result.stdout, result.stderr
    x = np.random.default_rng(41).normal(size=(n, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    committed = {f"v{i}": x[i] for i in range(n) if i % 10}
    committed["v1"] = x[n - 1]
    names = sorted(committed)
    matrix = _as_stored(np.stack([committed[m] for m in names]))
    queries = x[np.random.default_rng(42).choice(n, 40, replace=False)]

    def agrees(mem):
        for q in queries:
            truth = {names[i] for i in np.argsort(-(matrix @ q))[:10]}
            assert {h.name for h in mem.search(q, k=10)} == truth

    from graphmem.index.vectors import VectorIndex

    # No worker for the reopened index: the catch-up the load queues stays queued until the drain below.
    monkeypatch.setattr(VectorIndex, "background", False)
    with graphmem.open(tmp_path / "s", embedder=None, engine=ENGINE) as mem:
        assert len(mem) == len(committed)
        mem.search(queries[0], k=1)  # loads the saved graph and queues the catch-up
        assert mem._vectors.last_load["source"] == "file" and mem._vectors.last_load["caught_up"] > 0
        index = mem._vectors.peek()
        index.hnsw.set_ef(n)  # HNSW exhaustive: a difference from brute force is a lost or stale vector
        assert index.stale
        assert 0 < 2 * len(index.stale & index.labels) < len(index)  # the merge plan, not the all-exact one
        agrees(mem)  # HNSW (the saved 80%) merged with the exact scan of the queue
        index.drain()
        assert not index.stale
        agrees(mem)  # HNSW alone, caught up


_rows_op = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 19), st.integers(0, 999)),
    st.tuples(st.just("plain"), st.integers(0, 19)),
    st.tuples(st.just("expire"), st.integers(0, 19)),
    st.tuples(st.just("delete"), st.integers(0, 19)),
)


def _apply_rows_op(mem, op) -> None:
    name = f"v{op[1]}"
    if op[0] == "put":
        mem.add_entity(name, embedding=_unit(np.random.default_rng(op[2]), 1, 8)[0])
    elif op[0] == "plain":
        mem.add_entity(name, text="no vector")
    elif op[0] == "expire":
        if mem.get_entity(name) is not None:
            mem.expire_entity(name)
    else:
        mem.delete_entity(name)


def _vectors_of(mem) -> dict[str, bytes]:
    return {e.name: e.embedding.tobytes() for e in mem.iter_entities() if e.embedding is not None}


@settings(max_examples=12, deadline=None)
@given(before=st.lists(_rows_op, min_size=1, max_size=12), after=st.lists(_rows_op, max_size=8),
       crash=st.booleans())
def test_rows_loaded_from_the_saved_files_equal_the_store(tmp_path_factory, before, after, crash):
    """The int8 rows a reopen maps from the vectors folder, caught up with the
    writes after the save (new, changed, vector removed, expired, deleted),
    answer exact searches as the store's vectors do, and were not read from the store."""
    path = tmp_path_factory.mktemp("rows") / "s"
    mem = graphmem.open(path, engine=ENGINE, embedder=None)
    try:
        mem.add_entity("anchor", embedding=_unit(np.random.default_rng(7), 1, 8)[0])
        for op in before:
            _apply_rows_op(mem, op)
        mem.search(_unit(np.random.default_rng(1), 1, 8)[0], k=1)
        mem.flush()  # saves the graph and the rows
        for op in after:
            _apply_rows_op(mem, op)
    finally:
        mem.close(save_index=not crash)  # without a save: the next open catches the writes up
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        want = _vectors_of(mem)
        query = _unit(np.random.default_rng(3), 1, 8)[0]
        got = mem.search(query, k=len(want) + 5)
        assert mem._vectors.last_load["rows"] == "file"
        assert {h.name for h in got} == set(want)
        index = mem._vectors.peek()
        assert set(index.labels) == {mem.get_entity(name).id for name in want}
        for name, vector in want.items():
            id_ = mem.get_entity(name).id
            assert id_ in index.labels
            stored = dequantize(index._rows[id_].tobytes(), float(index._scales[id_]))
            assert stored.tobytes() == vector
        for hit in got:  # scores are the exact cosine of the store's vector
            v = np.frombuffer(want[hit.name], np.float32)
            assert abs(hit.score - float(v @ query / np.linalg.norm(v) / np.linalg.norm(query))) < 1e-3


def test_rows_of_another_database_are_not_taken(tmp_path, open_store):
    """Rows saved beside one database file are not used for another (a restored backup): the store is read."""
    with open_store(tmp_path / "s") as mem:
        x = _fill(mem, n=50)
        mem.search(x[0], k=1)
    db = tmp_path / "s" / "graph.db"
    copy = db.with_name("graph.db.copy")
    copy.write_bytes(db.read_bytes())
    copy.replace(db)  # same bytes, another inode
    with open_store(tmp_path / "s") as mem:
        assert mem.search(x[3], k=1)[0].name == "v3"
        assert mem._vectors.last_load["rows"] == "store"


# -- the read lock's fast path (issue 18) -------------------------------------------------


def test_rwlock_readers_never_overlap_a_writer():
    """Readers take the bare mutex when no writer is active or waiting; under
    forced thread switches no reader is ever inside while a writer is, and
    writers are alone. It fails if the fast path let a reader past an active
    writer or if a reader's release failed to wake a writer (the join would hang)."""
    import sys
    import time

    from graphmem.index.vectors import RWLock

    lock = RWLock()
    count = threading.Lock()
    inside = {"readers": 0, "writers": 0}
    seen: list[str] = []

    def enter(kind: str, other: str) -> None:
        with count:
            inside[kind] += 1
            if inside[other] or inside["writers"] > 1:
                seen.append(f"{kind} beside {inside}")

    def leave(kind: str) -> None:
        with count:
            inside[kind] -= 1

    def reader() -> None:
        for _ in range(2000):
            lock.acquire_read()
            try:
                enter("readers", "writers")
                time.sleep(0)  # let the others run while inside
                leave("readers")
            finally:
                lock.release_read()
            time.sleep(0)  # and outside, so the readers are sometimes all out

    def writer() -> None:
        for _ in range(1000):
            with lock.write():
                enter("writers", "readers")
                time.sleep(0)
                leave("writers")

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader) for _ in range(3)]
        threads += [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert seen == []
    assert inside == {"readers": 0, "writers": 0} and lock._readers == 0 and not lock._writer


def test_rwlock_a_waiting_writer_goes_before_a_new_reader():
    """A writer waiting for a reader to leave keeps a reader arriving after it
    out (the fast path checks waiting writers too), and the leaving reader's
    release wakes the writer."""
    from graphmem.index.vectors import RWLock

    lock = RWLock()
    order: list[str] = []
    lock.acquire_read()

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        lock.acquire_read()
        try:
            order.append("reader")
        finally:
            lock.release_read()

    w = threading.Thread(target=writer)
    w.start()
    _until(lambda: lock._waiting_writers == 1)  # the writer waits for the first reader
    r = threading.Thread(target=late_reader)
    r.start()
    _until(lambda: len(lock._cond._waiters) == 2)  # type: ignore[attr-defined]  # the late reader waits too
    assert order == []
    lock.release_read()
    w.join()
    r.join()
    assert order == ["writer", "reader"]


def _until(ready) -> None:
    """Wait for another thread to reach a state (a liveness bound of 30 s, so a
    broken lock fails the test instead of hanging it; no timing is asserted)."""
    pause = threading.Event()
    for _ in range(30_000):
        if ready():
            return
        pause.wait(0.001)
    raise AssertionError("the other thread never got there")
