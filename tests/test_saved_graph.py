"""The derived graph state saved beside the store (graphmem/index/saved.py):
a reopen maps it (and catches up what was written after it) instead of
rebuilding, and what it maps equals a rebuild from the store."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.index.derived import DerivedState
from graphmem.index.saved import CLEAN_FILE, FOLDER, MANIFEST_FILE, RELATIONS_FILE

from .conftest import ENGINE

pytestmark = pytest.mark.engine


def _open(path: Path, **kw: Any) -> graphmem.Memory:
    return graphmem.open(path, engine=ENGINE, embedder=None, **kw)


def _canon(state: DerivedState) -> dict[str, Any]:
    """Everything a state answers, independent of how it was built (type
    codes are replaced by names: a loaded index keeps its codes, a rebuild
    numbers the names afresh)."""
    names = state.edges.type_names
    src, codes, dst = state.edges.arrays()
    keys, ids = state.ids.to_arrays()
    rel = state.bounds.relations
    return {
        "ids": sorted(zip(keys, ids.tolist())),
        "expired": sorted(state.expired.items()),
        "entity_types": {k: sorted(state.entity_types.members(k)) for k in state.entity_types.labels()},
        "namespaces": {k: sorted(state.namespaces.members(k)) for k in state.namespaces.labels()},
        "relation_types": {k: sorted(state.relation_types.members(k)) for k in state.relation_types.labels()},
        "relations": sorted(zip(src.tolist(), (names[c] for c in codes.tolist()), dst.tolist())),
        "entity_bounds": sorted(zip(*(a.tolist() for a in state.bounds.entities))),
        "relation_bounds": sorted((int(k >> 32), names[c], int(k & 0xFFFFFFFF), s, e) for k, c, s, e in
                                  zip(rel.keys.tolist(), rel.codes.tolist(), rel.start.tolist(), rel.end.tolist())),
        "edges_count": len(state.edges),
    }  # fmt: skip


def _check_equals_rebuild(mem: graphmem.Memory) -> DerivedState:
    state = mem._derived.get()
    with mem._store.exclusive():
        rebuilt = mem._derived._rebuild()
    assert _canon(state) == _canon(rebuilt)
    assert state.ids.next_id >= rebuilt.ids.next_id  # an id is never handed out twice
    return state


# -- random histories --------------------------------------------------------------------

NAMES = [f"n{i}" for i in range(8)]
TYPES = ["A", "B"]
RTYPES = ["R", "S"]
WHEN = datetime(2020, 1, 1, tzinfo=timezone.utc)

_op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(NAMES), st.sampled_from(TYPES), st.booleans()),
    st.tuples(st.just("relate"), st.sampled_from(NAMES), st.sampled_from(RTYPES), st.sampled_from(NAMES),
              st.booleans()),
    st.tuples(st.just("expire"), st.sampled_from(NAMES)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("expire_rel"), st.sampled_from(NAMES), st.sampled_from(RTYPES), st.sampled_from(NAMES)),
    st.tuples(st.just("delete_rel"), st.sampled_from(NAMES), st.sampled_from(RTYPES), st.sampled_from(NAMES)),
    st.tuples(st.just("reopen"), st.sampled_from(["close", "crash"])),
)  # fmt: skip


def _apply(mem: graphmem.Memory, op: tuple[Any, ...]) -> bool:
    """Run ``op``; whether it may delete something for good (which no write time shows)."""
    kind = op[0]
    if kind == "add":
        _, name, type_, bounded = op
        mem.add_entity(name, type=type_, valid_from=WHEN if bounded else None)
    elif kind == "relate":
        _, a, t, b, bounded = op
        for name in (a, b):
            if mem.get_entity(name) is None:
                mem.add_entity(name, type="A")
        mem.add_relation(a, t, b, valid_to=WHEN if bounded else None)
    elif kind == "expire":
        mem.expire_entity(op[1])
    elif kind == "delete":
        mem.delete_entity(op[1])
        return True
    elif kind == "expire_rel":
        mem.expire_relation(*op[1:])
    elif kind == "delete_rel":
        mem.delete_relation(*op[1:])
        return True
    return False


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=1, max_size=14))
def test_a_reopen_maps_the_saved_state_and_it_equals_a_rebuild(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("hist") / "s"
    mem = _open(path)
    mem.add_entity("seed", type="A")
    deleted = False  # a hard delete since the last save
    saved = False  # a save exists (a clean close of a loaded state)
    try:
        for op in ops:
            if op[0] != "reopen":
                deleted = _apply(mem, op) or deleted
                continue
            crash = op[1] == "crash"
            mem._derived.get()  # loaded: a clean close saves it
            mem.close(save_index=not crash)  # save_index=False: as a kill leaves it (no save)
            if not crash:
                deleted, saved = False, True
            mem = _open(path)
            loads = mem._derived.saved.loads
            _check_equals_rebuild(mem)
            how = mem._derived.last_load
            if saved and not deleted:
                # Loaded from the files (caught up after a "crash"), not rebuilt.
                assert mem._derived.saved.loads == loads + 1
                assert how["source"] == "file", how
                if not crash:
                    assert how["caught_up"] == 0
            elif not saved:
                assert how["source"] == "rebuilt", how
            # else: a delete for good since the save may have dropped it (rebuilt).
        _check_equals_rebuild(mem)
    finally:
        mem.close()


def test_clean_reopen_runs_no_scan(tmp_path):
    """A reopen after a clean close reads no entity or relation from the store to build the graph."""
    path = tmp_path / "s"
    with _open(path) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "T"} for i in range(50)])
        mem.add_relations([(f"e{i}", "R", f"e{i + 1}") for i in range(49)])
        expected = mem.shortest_path("e0", "e49").nodes
    ran: list[str] = []
    with _open(path) as mem:
        mem.tracer = lambda name, params: ran.append(name)
        assert mem.shortest_path("e0", "e49").nodes == expected
        assert mem._derived.last_load == {"source": "file", "caught_up": 0}
    assert not {"entity_ids", "relation_ids", "entities_written_since", "relations_written_since"} & set(ran)


# -- damaged, missing, mismatched --------------------------------------------------------


def _build(path: Path) -> list[str]:
    with _open(path) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "T" if i % 2 else "U"} for i in range(30)])
        mem.add_relations([(f"e{i}", "R", f"e{i + 1}") for i in range(29)]
                          + [(f"e{i}", "S", f"e{(i * 7 + 1) % 30}") for i in range(30)])
        mem.find_text("e1")  # the text index is saved too
        return list(mem.shortest_path("e0", "e29").nodes)


def _check_text_equals_rebuild(mem: graphmem.Memory) -> None:
    from graphmem.index.text import TextIndex

    mem.find_text("")
    index = mem._derived.get().text
    assert index is not None
    with mem._store.exclusive():
        rebuilt = TextIndex.load(mem._store)
    for query in ["", "e1", "k", "k1", "e", "2"]:
        assert index.find("default", query) == rebuilt.find("default", query), query
    assert len(index) == len(rebuilt)


def _saved_arrays(path: Path) -> list[Path]:
    manifest = json.loads((path / FOLDER / MANIFEST_FILE).read_text())
    return sorted((path / FOLDER / manifest["save_id"]).glob("*.npy"))


def _flip(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing_array", "missing_manifest", "manifest_edit",
                                    "format", "missing_folder"])  # fmt: skip
def test_damaged_or_missing_files_rebuild_with_correct_answers(tmp_path, damage):
    path = tmp_path / "s"
    expected = _build(path)
    arrays = _saved_arrays(path)
    nbrs = next(a for a in arrays if a.name == "adj_nbrs.npy")
    manifest_path = path / FOLDER / MANIFEST_FILE
    if damage == "flip":
        _flip(nbrs)
    elif damage == "truncate":
        _truncate(nbrs)
    elif damage == "missing_array":
        nbrs.unlink()
    elif damage == "missing_manifest":
        manifest_path.unlink()
    elif damage == "manifest_edit":  # a changed digit, without fixing the manifest's own checksum
        text = manifest_path.read_text()
        manifest_path.write_text(text.replace('"store_seq": ', '"store_seq": 1', 1))
    elif damage == "format":
        manifest = json.loads(manifest_path.read_text())
        manifest["format"] = 999
        manifest_path.write_text(json.dumps(manifest))
    else:
        import shutil

        shutil.rmtree(path / FOLDER)
    with _open(path) as mem:
        assert list(mem.shortest_path("e0", "e29").nodes) == expected
        assert mem._derived.last_load["source"] == "rebuilt"
        _check_equals_rebuild(mem)
    with _open(path) as mem:  # the close saved a good copy again
        assert list(mem.shortest_path("e0", "e29").nodes) == expected
        assert mem._derived.last_load == {"source": "file", "caught_up": 0}


def test_a_cypher_write_drops_the_saved_state(tmp_path):
    """Cypher writes carry no write time, so no catch-up can find them: the next open rebuilds."""
    path = tmp_path / "s"
    _build(path)
    mem = _open(path)
    mem.cypher("MATCH (e:Entity {name: 'e3'}) SET e.type = 'Changed'")
    assert not (path / FOLDER / MANIFEST_FILE).exists()
    mem._store.close()  # as a kill would leave it: no save at close
    with _open(path) as again:
        state = _check_equals_rebuild(again)
        assert again._derived.last_load["source"] == "rebuilt"
        assert state.ids.id_of("default\x1fe3") in state.entity_types.members("Changed")


def test_the_first_write_after_a_save_withdraws_the_clean_claim(tmp_path):
    path = tmp_path / "s"
    _build(path)
    assert (path / FOLDER / CLEAN_FILE).exists()
    mem = _open(path)
    mem.get_entity("e1")  # a read claims nothing
    assert (path / FOLDER / CLEAN_FILE).exists()
    mem.add_entity("late", type="T")
    assert not (path / FOLDER / CLEAN_FILE).exists()
    assert not (path / FOLDER / RELATIONS_FILE).exists()  # no relation written
    mem._store.close()
    ran: list[str] = []
    with _open(path) as again:
        again.tracer = lambda name, params: ran.append(name)
        assert again.get_entity("late") is not None
        assert again.shortest_path("late", "late") is not None
        assert again._derived.last_load == {"source": "file", "caught_up": 1}
        assert "entities_written_since" in ran and "relations_written_since" not in ran
        _check_equals_rebuild(again)
        again.add_relation("late", "R", "e2")
        assert (path / FOLDER / RELATIONS_FILE).exists()
        again._store.close()
    ran.clear()
    with _open(path) as third:
        third.tracer = lambda name, params: ran.append(name)
        assert third.shortest_path("late", "e2") is not None
        assert third._derived.last_load == {"source": "file", "caught_up": 2}  # "late" and its relation
        assert "relations_written_since" in ran
        _check_equals_rebuild(third)
    assert not (path / FOLDER / RELATIONS_FILE).exists()  # the close saved: nothing to catch up


@pytest.mark.parametrize("reads", [["e1"], ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11"]])
def test_a_session_that_only_reads_keeps_the_saved_state(tmp_path, reads):
    """Reads record access statistics, which the close writes to the store
    (one statement per key for a few keys, one for many): that is no change
    to the graph, so the clean claim stays and the close saves nothing."""
    path = tmp_path / "s"
    _build(path)
    manifest = (path / FOLDER / MANIFEST_FILE).read_text()
    ran: list[str] = []
    with _open(path) as mem:
        mem.tracer = lambda name, params: ran.append(name)
        for name in reads:
            mem.get_entity(name)
        mem.shortest_path("e0", "e29")
    assert {"access_flush", "access_flush_rows", "access_flush_one"} & set(ran)  # the statistics were written
    assert (path / FOLDER / CLEAN_FILE).exists()
    assert (path / FOLDER / MANIFEST_FILE).read_text() == manifest  # not saved again
    with _open(path) as again:
        assert again.access("e1").count == 1
        again.shortest_path("e0", "e29")
        assert again._derived.last_load == {"source": "file", "caught_up": 0}
        _check_equals_rebuild(again)


def test_saved_files_are_private(tmp_path):
    path = tmp_path / "s"
    old = os.umask(0)
    try:
        _build(path)
    finally:
        os.umask(old)
    folder = path / FOLDER
    found = [p for p in folder.rglob("*")]
    assert any(p.name == "adj_nbrs.npy" for p in found)
    assert any(p.name == "text_field_bytes.npy" for p in found)  # the saved text index
    for p in [folder, *found]:
        want = 0o700 if p.is_dir() else 0o600
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_plain_search_does_not_load_the_graph(tmp_path):
    """While loading the graph would mean a catch-up or a rebuild (the saved
    state is not clean), a plain search names its hits through the store; a
    clean saved state is mapped instead (cheap, and later searches are faster)."""
    path = tmp_path / "s"
    with _open(path) as mem:
        mem.add_entities([{"name": f"e{i}", "embedding": [1.0, float(i)]} for i in range(20)])
        mem.add_relation("e1", "R", "e2")
        mem.namespace("other").add_entity("x", embedding=[1.0, 0.0])
        expected = [h.name for h in mem.search([1.0, 0.0], k=3)]
    with _open(path) as mem:
        assert [h.name for h in mem.search([1.0, 0.0], k=3)] == expected
        assert mem._derived.loaded and mem._derived.last_load == {"source": "file", "caught_up": 0}
    (path / "derived" / "clean").unlink()  # as after a crash: loading would catch up
    with _open(path) as mem:
        assert [h.name for h in mem.search([1.0, 0.0], k=3)] == expected
        assert not mem._derived.loaded
        assert [h.name for h in mem.namespace("other").search([1.0, 0.0], k=3)] == ["x"]
        assert not mem._derived.loaded
        mem.search([1.0, 0.0], k=3, types="Entity")  # a filtered search uses the graph
        assert mem._derived.loaded


# -- kill -9 during a save ------------------------------------------------------------------


def _saver(path: str, engine: str, ready: int, point: str, nth: int) -> None:
    """Child: write and save in a loop until killed; with ``point``, kill
    itself at the ``nth`` call of that step of the save (the header of an
    array file, or ``os.replace`` of the manifest (1) or the clean claim (2))."""
    from graphmem.index import saved

    if point != "link":  # every save writes the text index (else one read from the files is linked)
        saved.TEXT_CARRIED_AT_MOST = -1
    if point != "timed":
        calls = {"n": 0}
        target = saved.np.lib.format if point == "write_array_header_1_0" else saved.os
        original = getattr(target, point)

        def dying(*args: Any, **kw: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kw)

        # Patched only after the open: the store's own files use os.replace too.
        mem = graphmem.open(path, engine=engine, embedder=None)
        setattr(target, point, dying)
    else:
        mem = graphmem.open(path, engine=engine, embedder=None)
    os.write(ready, b"x")
    i = 0
    while True:
        mem.add_entity(f"k{i}", type="K")
        mem.add_relations([(f"e{(i * 3) % 30}", "R", f"k{i}"), (f"k{i}", "S", f"e{(i * 5) % 30}")])
        mem._derived.get()
        mem.find_text("k")  # the text index changed: each save writes it
        mem.flush()
        i += 1


# The 35th array header and after: the text index's arrays (after the graph's 34); "link": the
# text index's files linked into a new save (an index read from them, a few rows away).
@pytest.mark.parametrize("point,nth", [("write_array_header_1_0", 1), ("write_array_header_1_0", 9),
                                       ("write_array_header_1_0", 37), ("replace", 1), ("replace", 2),
                                       ("replace", 4), ("link", 3), ("timed", 0.3)])  # fmt: skip
def test_kill_during_a_save_leaves_answers_equal_to_a_rebuild(tmp_path, point, nth):
    path = tmp_path / "s"
    _build(path)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            _saver(str(path), ENGINE, write, point, nth)
        finally:
            os._exit(3)  # only a kill may end the child
    os.close(write)
    assert os.read(read, 1) == b"x"
    os.close(read)
    if point == "timed":
        time.sleep(nth)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    with _open(path) as mem:
        state = _check_equals_rebuild(mem)
        assert mem._derived.last_load["source"] == "file"  # a kill never damages the saved state
        _check_text_equals_rebuild(mem)
        assert mem._derived.last_text_load["source"] == "file"  # nor the saved text index
        graph = nx.Graph()
        names = state.edges.type_names
        src, codes, dst = state.edges.arrays()
        graph.add_edges_from((state.ids.key_of(s), state.ids.key_of(d)) for s, d in zip(src.tolist(), dst.tolist()))
        for a, b in [("e0", "e29"), ("e3", "e17"), ("e0", "k0")]:
            key_a, key_b = f"default\x1f{a}", f"default\x1f{b}"
            if key_b not in state.ids:  # the child was killed before it wrote k0
                with pytest.raises(graphmem.NotFound):
                    mem.shortest_path(a, b)
                continue
            found = mem.shortest_path(a, b)
            if key_a in graph and key_b in graph and nx.has_path(graph, key_a, key_b):
                assert found is not None and len(found.nodes) - 1 == nx.shortest_path_length(graph, key_a, key_b)
            else:
                assert found is None
        assert names  # the relation types came back


# -- a full disk during a save -----------------------------------------------------------------


def test_a_save_on_a_full_disk_keeps_the_previous_state(monkeypatch):
    from graphmem.store import space

    from .reliability.enospc import NoTmpfs, tmpfs

    try:
        with tmpfs(30) as where:
            path = where / "store"
            mem = _open(path)
            try:
                mem.add_entities([{"name": f"e{i}", "type": "T"} for i in range(3000)])
                mem.add_relations([(f"e{i}", "R", f"e{(i * 7 + 1) % 3000}") for i in range(3000)])
                mem.find_text("e1")  # the text index is saved too
                mem.flush()
                folder = path / FOLDER
                before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
                mem.add_relations([(f"e{i}", "S", f"e{(i * 11 + 5) % 3000}") for i in range(3000)])
                with open(where / "filler", "wb") as fh:
                    fh.write(b"\0" * (space.free_bytes(where) - 100_000))
                # graphmem's own check refuses first ...
                with pytest.raises(graphmem.StorageFull, match="saved graph state needs"):
                    mem.flush()
                # ... and without it the writes themselves fail: the new folder goes,
                # the previous save stays whole.
                monkeypatch.setattr(space, "free_bytes", lambda folder: 1 << 40)
                with pytest.raises(graphmem.StorageFull):
                    mem.flush()
                monkeypatch.undo()
                assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == sorted(
                    [p for p in before if p.name != CLEAN_FILE] + [Path(RELATIONS_FILE)])  # fmt: skip
            finally:
                mem._store.close()  # as a kill leaves it
            with _open(path) as again:  # the previous save, caught up
                _check_equals_rebuild(again)
                assert again._derived.last_load == {"source": "file", "caught_up": 3000}
                _check_text_equals_rebuild(again)
                assert again._derived.last_text_load == {"source": "file", "caught_up": 0}
                (where / "filler").unlink()
    except NoTmpfs as exc:
        pytest.skip(f"needs a tmpfs mount: {exc}")


# -- the id map on saved arrays ---------------------------------------------------------------

_KEYS = [f"k{i}" for i in range(12)]
_id_op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(_KEYS), st.integers(0, 40)),
    st.tuples(st.just("remove"), st.sampled_from(_KEYS)),
    st.tuples(st.just("add_many"), st.lists(st.tuples(st.sampled_from(_KEYS), st.integers(0, 40)), max_size=80)),
    st.tuples(st.just("lookup_many"), st.lists(st.sampled_from(_KEYS + ["nope"]), max_size=80)),
    st.tuples(st.just("keys_many"), st.lists(st.integers(-1, 45), min_size=65, max_size=120)),
)


@settings(max_examples=60, deadline=None)
@given(start=st.dictionaries(st.sampled_from(_KEYS), st.integers(0, 40), max_size=12), ops=st.lists(_id_op, max_size=30))
def test_an_id_map_on_saved_arrays_answers_like_dictionaries(start, ops):
    from graphmem.index.ids import IdMap, SavedKeys

    items = list({id_: key for key, id_ in start.items()}.items())  # one key per id, as saved maps hold
    model = {key: id_ for id_, key in items}
    ids_model = {id_: key for id_, key in items}
    mapped = IdMap.from_saved(SavedKeys.build([k for _, k in items], np.array([i for i, _ in items], np.int64)),
                              floor=0)
    for op in ops:
        if op[0] == "add":
            mapped.add([(op[1], op[2])])
            model[op[1]] = op[2]
            ids_model[op[2]] = op[1]
        elif op[0] == "remove":
            gone = model.pop(op[1], None)
            assert mapped.remove(op[1]) == gone
            if gone is not None:
                ids_model.pop(gone, None)
        elif op[0] == "add_many":
            keys = [k for k, _ in op[1]]
            mapped.add_arrays(keys, np.array([i for _, i in op[1]], np.int64))
            for key, id_ in op[1]:
                model[key] = id_
                ids_model[id_] = key
        elif op[0] == "keys_many":
            on_arrays = mapped.unchanged_saved() is not None or mapped._saved is not None
            assert mapped.keys_of(op[1]) == [ids_model.get(i) for i in op[1]]
            # A read of many keys answers from the saved arrays: it does not build the dictionaries.
            assert (mapped._saved is not None) == on_arrays
        else:
            assert mapped.ids_of(op[1]).tolist() == [model.get(k, -1) for k in op[1]]
        assert len(mapped) == len(model)
        for key in _KEYS:
            assert mapped.id_of(key) == model.get(key)
            assert (key in mapped) == (key in model)
        for id_ in range(41):
            assert mapped.key_of(id_) == ids_model.get(id_)
        assert mapped.keys_of(list(range(41))) == [ids_model.get(i) for i in range(41)]
    many = list(range(41)) * 2  # past the one-by-one limit
    assert mapped.keys_of(many) == [ids_model.get(i) for i in many]
    keys, ids = mapped.to_arrays()
    assert dict(zip(keys, ids.tolist())) == model


def test_a_delete_for_good_drops_the_saved_state_before_it_runs(tmp_path):
    """A delete leaves no write time: after a kill the next open must rebuild, not catch up."""
    path = tmp_path / "s"
    _build(path)
    mem = _open(path)
    mem.add_entity("late", type="T")  # caught up by write time ...
    assert (path / FOLDER / MANIFEST_FILE).exists()
    mem.delete_relation("e0", "R", "e1")  # ... this is not
    assert not (path / FOLDER / MANIFEST_FILE).exists()
    mem._store.close()  # as a kill leaves it
    with _open(path) as again:
        _check_equals_rebuild(again)
        assert again._derived.last_load["source"] == "rebuilt"
        assert again.get_relation("e0", "R", "e1") is None


def test_a_database_restored_over_the_store_is_not_taken_for_the_saved_one(tmp_path):
    path = tmp_path / "s"
    _build(path)
    backup = tmp_path / "graph.db.backup"
    backup.write_bytes((path / "graph.db").read_bytes())
    with _open(path) as mem:
        mem.add_entity("after-backup", type="T")
        mem.add_relation("after-backup", "R", "e0")
    os.replace(backup, path / "graph.db")  # the backup comes back; derived/ is the newer store's
    with _open(path) as mem:
        assert mem.get_entity("after-backup") is None
        state = _check_equals_rebuild(mem)
        assert mem._derived.last_load["source"] == "rebuilt"
        assert state.ids.id_of("default\x1fafter-backup") is None


@settings(max_examples=60, deadline=None)
@given(keys=st.sets(st.text(min_size=1, max_size=6), max_size=300), absent=st.lists(st.text(max_size=6), max_size=20),
       bits=st.integers(1, 64))
def test_saved_keys_find_every_key_through_the_hash_buckets(keys, absent, bits):
    # A hash of only `bits` top bits set (many equal hashes, many keys per
    # bucket, empty buckets) exercises each branch of the bucket scan.
    from unittest import mock

    from graphmem.index import ids as ids_module

    real = ids_module.key_hash

    def weak(key: str) -> int:
        return (real(key) >> (64 - bits)) << (64 - bits)

    keys = sorted(keys)
    with mock.patch.object(ids_module, "key_hash", weak):
        saved = ids_module.SavedKeys.build(keys, np.arange(len(keys), dtype=np.int64) * 3 + 1)
        for i, key in enumerate(keys):
            assert saved.id_of(key) == i * 3 + 1
            assert saved.key_of(i * 3 + 1) == key
        for key in absent:
            if key not in keys:
                assert saved.id_of(key) is None


def test_a_rebuild_gives_no_new_entity_the_id_of_an_expired_one(tmp_path):
    """Expired entities keep their ids (a later write revives them with it), so
    a rebuild after a crash must hand out ids past theirs too: before the fix a
    new entity took the expired one's id, and reviving that one then gave two
    entities one id (found by the random histories above)."""
    path = tmp_path / "s"
    mem = _open(path)
    try:
        mem.add_entity("seed", type="A")
        mem.add_entity("old", type="A")
        mem.expire_entity("old")
        mem.close(save_index=False)  # as a kill leaves it: no saved state, so the reopen rebuilds
        mem = _open(path)
        mem.add_entity("new", type="A")
        mem.add_entity("old", type="A")  # revived with its own id
        mem.add_relation("new", "R", "old")
        ids = {row["e.key"]: row["e.id"] for row in mem.cypher("MATCH (e:Entity) RETURN e.key, e.id")}
        assert len(set(ids.values())) == 3, ids
        assert [(n.name, n.type, n.direction) for n in mem.neighbors("new")] == [("old", "R", "out")]
        assert [(n.name, n.direction) for n in mem.neighbors("old")] == [("new", "in")]
        _check_equals_rebuild(mem)
    finally:
        mem.close()
