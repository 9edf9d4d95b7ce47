"""Hard deletes record the id high-water mark only when they must
(graphmem.memory.removal.raises_floor), and ids are never handed out twice:
not after a delete, an expiry, a reopen, or any mix of them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.index import saved
from graphmem.memory import removal

_NAMES = [f"n{i}" for i in range(8)]

_OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3)),
    st.tuples(st.just("delete"), st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3)),
    st.tuples(st.just("expire"), st.sampled_from(_NAMES)),
    st.tuples(st.just("forget"), st.integers(0, 3)),
    st.tuples(st.just("reopen"), st.booleans()),
), max_size=14)


@pytest.mark.parametrize("per_key", [0, 10**9], ids=["keyed", "batch"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
@example(ops=[("add", ["n0", "n1"]), ("delete", ["n1"]), ("reopen", True), ("add", ["n2"])])
@example(ops=[("add", ["n0", "n1", "n2"]), ("delete", ["n0"]), ("reopen", True), ("delete", ["n2"]), ("reopen", True),
              ("add", ["n3"])])
def test_ids_are_never_reused_across_deletes_and_reopens(engine, ops, per_key, monkeypatch):
    """Against a model of the id each name was given: a name written while current or
    expired keeps its id (an expired one is revived with it); a name written after a
    delete, or for the first time, gets an id no entity ever had, in this handle or
    any earlier one on the store, whether a reopen loads the saved graph state or
    rebuilds it from the store."""
    monkeypatch.setattr(removal, "KEYED_PER_KEY", per_key)
    monkeypatch.setattr(removal, "DELETE_KEYED_PER_KEY", per_key)
    held: dict[str, int] = {}  # name -> id, current or expired
    ever: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="graphmem-ids-") as tmp:
        path = Path(tmp) / "store"
        mem = graphmem.open(path, engine=engine, embedder=None)
        try:
            for op in ops:
                if op[0] == "add":
                    names = list(dict.fromkeys(op[1]))
                    mem.add_entities([{"name": n} for n in names])
                    for name in names:
                        id_ = mem.get_entity(name).id
                        if name in held:
                            assert id_ == held[name], (name, id_, held[name])
                        else:
                            assert id_ not in ever, (name, id_, sorted(ever))
                            held[name] = id_
                            ever.add(id_)
                elif op[0] == "delete":
                    assert mem.delete_entities(op[1]) == [n in held for n in op[1]]
                    for name in op[1]:
                        held.pop(name, None)
                elif op[0] == "expire":
                    mem.expire_entity(op[1])
                elif op[0] == "forget":
                    for name in mem.forget(max_entities=op[1], hard=True):
                        held.pop(name, None)
                else:
                    mem.close()
                    if op[1] and (path / saved.FOLDER).exists():
                        # The saved graph state is a cache (a crash can leave none): without it
                        # the reopen rebuilds from the store, where only id_floor and the rows
                        # left keep deleted ids from coming back.
                        shutil.rmtree(path / saved.FOLDER)
                    mem = graphmem.open(path, engine=engine, embedder=None)
                for name in _NAMES:
                    entity = mem.get_entity(name)
                    if entity is not None:
                        assert entity.id == held[name]
        finally:
            mem.close()


def _floor_writes(mem: graphmem.Memory, call) -> int:
    written: list[str] = []
    mem.tracer = lambda name, params: written.append(params["key"]) if name == "meta_set" else None
    try:
        call()
    finally:
        mem.tracer = None
    return written.count("id_floor")


@pytest.mark.parametrize("per_key", [0, 10**9], ids=["keyed", "batch"])
def test_the_id_floor_is_written_only_when_a_delete_takes_the_highest_id(disk_mem, open_store, tmp_path,
                                                                         per_key, monkeypatch):  # fmt: skip
    monkeypatch.setattr(removal, "DELETE_KEYED_PER_KEY", per_key)
    mem = disk_mem
    mem.add_entities([{"name": n} for n in "abcdef"])  # ids 0-5
    assert _floor_writes(mem, lambda: mem.delete_entities(["b", "c"])) == 0  # f (5) outlives them
    assert _floor_writes(mem, lambda: mem.delete_entity("a")) == 0
    assert _floor_writes(mem, lambda: mem.delete_entities(["d", "f"])) == 1  # f was the highest
    assert _floor_writes(mem, lambda: mem.delete_entity("zzz")) == 0  # nothing deleted
    mem.expire_entity("e")
    assert _floor_writes(mem, lambda: mem.delete_entity("e")) == 1  # an expired entity's id counts too
    mem.close()
    shutil.rmtree(tmp_path / "store" / saved.FOLDER)  # rebuilt from the store: id_floor decides
    mem = open_store(tmp_path / "store")
    assert mem.add_entity("g").id == 6
