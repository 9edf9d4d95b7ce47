"""The text index saved beside the store (graphmem/index/saved.py,
graphmem/index/text.py): a reopen reads it (and catches up what was written
after it) instead of scanning the store, and it answers exactly like an index
rebuilt from the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.index import saved as saved_module
from graphmem.index import text as text_module
from graphmem.index.saved import FOLDER, MANIFEST_FILE, TEXT_PREFIX
from graphmem.index.text import TextIndex

from .conftest import ENGINE
from .test_text_index import OPS, TEXTS, apply

pytestmark = pytest.mark.engine

PROBES = ["", "a", "b", "ab", "İ", "i\u0307", " z", "-", "ba", "zz"]


def _open(path: Path) -> graphmem.Memory:
    return graphmem.open(path, engine=ENGINE, embedder=None)


def _answers(index: TextIndex, queries: list[str]) -> dict[tuple[str, str], list[Any]]:
    spaces = ["default", "other"]
    return {(space, q): [(e.id, e.name, e.type, e.observations) for e in index.find(space, q)]
            for space in spaces for q in queries}  # fmt: skip


def _check_equals_rebuild(mem: graphmem.Memory, queries: list[str]) -> None:
    mem.find_text("")  # the index in use: loaded (and caught up) or built
    index = mem._derived.get().text
    assert index is not None
    with mem._store.exclusive():
        rebuilt = TextIndex.load(mem._store)
    assert _answers(index, PROBES + queries) == _answers(rebuilt, PROBES + queries)
    assert len(index) == len(rebuilt)


REOPEN = st.tuples(st.just("reopen"), st.sampled_from(["close", "crash"]), st.booleans())


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(ops=st.lists(st.one_of(OPS, REOPEN), min_size=1, max_size=16), queries=st.lists(TEXTS, max_size=3),
       join_at=st.sampled_from([1, 256]))  # fmt: skip
def test_a_reopened_text_index_answers_like_a_rebuilt_one(tmp_path_factory, ops, queries, join_at):
    """Random writes, closes, kills (a close without a save) and sessions that
    never read the text index (a save then carries the saved one over)."""
    path = tmp_path_factory.mktemp("text") / "s"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_module, "JOIN_AT_LEAST", join_at)  # small: joins (and saved joins) mid-sequence
        mem = _open(path)
        mem.find_text("")
        read = True  # the text index was read in this session
        saved: bool | None = False  # a saved text index exists (None: unknown)
        deleted = False  # a delete for good since the last save
        try:
            for op in ops:
                if op[0] != "reopen":
                    apply(mem, op)
                    deleted = deleted or op[0] in ("delete", "delete_many")
                    continue
                _, how_closed, read_next = op
                mem._derived.get()
                mem.close(save_index=how_closed == "close")
                if how_closed == "close":
                    # Written if read; else the saved one carried over, unless a delete
                    # dropped it (None: unknown, a delete of a name not there drops nothing).
                    saved = True if read or (saved and not deleted) else (False if saved is False else None)
                    deleted = False
                mem = _open(path)
                read = read_next
                if not read:
                    continue
                loads = mem._derived.saved.text_loads
                _check_equals_rebuild(mem, queries)
                how = mem._derived.last_text_load
                if saved is True and not deleted:
                    assert how["source"] == "file", how
                    assert mem._derived.saved.text_loads == loads + 1
                elif saved is False:
                    assert how["source"] == "rebuilt", how
            _check_equals_rebuild(mem, queries)
        finally:
            mem.close()


def _build(path: Path) -> None:
    with _open(path) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "Thing", "observations": [f"obs {i}", "shared"]}
                          for i in range(40)])  # fmt: skip
        mem.namespace("other").add_entity("x1", observations=["shared too"])
        mem.find_text("e1")


def test_a_clean_reopen_reads_the_saved_text_index_without_a_scan(tmp_path):
    path = tmp_path / "s"
    _build(path)
    ran: list[str] = []
    with _open(path) as mem:
        mem.tracer = lambda name, params: ran.append(name)
        assert [e.name for e in mem.find_text("obs 1")] == ["e1"] + [f"e{i}" for i in range(10, 20)]
        assert mem._derived.last_text_load == {"source": "file", "caught_up": 0}
        assert mem._derived.saved.text_loads == 1
        assert "entity_text" not in ran  # the store was not scanned to build it
        assert "entity_text_written_since" not in ran  # saved with a clean state: nothing to catch up
        _check_equals_rebuild(mem, ["shared"])
    manifest = json.loads((path / FOLDER / MANIFEST_FILE).read_text())
    assert manifest["text"]["namespaces"] == ["default", "other"]


def test_writes_after_the_save_are_caught_up_and_an_unread_index_is_carried_over(tmp_path, monkeypatch):
    path = tmp_path / "s"
    _build(path)
    mem = _open(path)
    mem.add_entity("late", observations=["shared late"])
    mem.add_entity("e3", observations=["changed"])  # appended to the existing entity's
    mem.expire_entity("e4")
    mem._derived.get()
    mem.close()  # the text index was never asked for: its files are linked into the new save
    manifest = json.loads((path / FOLDER / MANIFEST_FILE).read_text())
    folder = path / FOLDER / manifest["save_id"]
    assert (folder / f"{TEXT_PREFIX}ids.npy").stat().st_nlink == 1  # the old save's folder is gone
    with _open(path) as mem:
        names = [e.name for e in mem.find_text("shared")]
        assert "late" in names and "e4" not in names
        assert [e.name for e in mem.find_text("changed")] == ["e3"]
        assert mem._derived.last_text_load == {"source": "file", "caught_up": 3}
        _check_equals_rebuild(mem, ["shared", "changed"])
    with _open(path) as mem:  # 3 rows from the files it was read from: that close linked them again
        mem.find_text("x")
        assert mem._derived.last_text_load == {"source": "file", "caught_up": 3}
        monkeypatch.setattr(saved_module, "TEXT_CARRIED_AT_MOST", 2)
    with _open(path) as mem:  # more rows than that: the close wrote the caught-up index
        mem.find_text("x")
        assert mem._derived.last_text_load == {"source": "file", "caught_up": 0}
        _check_equals_rebuild(mem, ["shared", "changed"])


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing", "folder"])
def test_damaged_text_files_are_rebuilt_with_correct_answers(tmp_path, damage):
    path = tmp_path / "s"
    _build(path)
    manifest = json.loads((path / FOLDER / MANIFEST_FILE).read_text())
    target = path / FOLDER / manifest["save_id"] / f"{TEXT_PREFIX}field_bytes.npy"
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[-1] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-3])
    elif damage == "missing":
        target.unlink()
    else:
        shutil.rmtree(path / FOLDER)
    with _open(path) as mem:
        assert [e.name for e in mem.find_text("obs 39")] == ["e39"]
        assert mem._derived.last_text_load["source"] == "rebuilt"
        _check_equals_rebuild(mem, ["shared"])
    with _open(path) as mem:  # the close saved a good copy
        assert [e.name for e in mem.find_text("obs 39")] == ["e39"]
        assert mem._derived.last_text_load == {"source": "file", "caught_up": 0}


def test_a_delete_for_good_drops_the_saved_text_index(tmp_path):
    """A delete leaves no write time: a reopen after a kill must rebuild the text index too."""
    path = tmp_path / "s"
    _build(path)
    mem = _open(path)
    mem.find_text("")
    mem.delete_entity("e5")
    mem._store.close()  # as a kill leaves it
    with _open(path) as again:
        assert [e.name for e in again.find_text("obs 5")] == []
        assert again._derived.last_text_load["source"] == "rebuilt"
        _check_equals_rebuild(again, ["obs"])
