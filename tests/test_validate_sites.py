"""The argument checks that moved to validate.py's number helpers (issue 20)
refuse bad values with :class:`InvalidInput` naming the argument, and change
nothing: a store's directory mode, a LangGraph item's TTL and index size, the
viewer's hold time. And the JSONL header's version, a check of a file's data
kept inline (see docs/architecture.md), refuses with the line named."""

from __future__ import annotations

import io

import pytest

import graphmem
from graphmem.errors import InvalidInput
from graphmem.interchange.transfer import import_jsonl
from graphmem.store import files
from graphmem.view.source import PerRequest

HUGE = 10**5000  # repr() refuses it: the message must not try to print it


def _id(value: object) -> str | None:
    if isinstance(value, int) and abs(value) > 10**100:
        return "huge" if value > 0 else "-huge"
    return None


BAD_MODES = [0o700 * 1.0, "0o700", True, None, -1, 0o1000, HUGE, -HUGE]


@pytest.mark.parametrize("mode", BAD_MODES, ids=_id)
def test_a_bad_mode_is_refused_by_name(mode):
    with pytest.raises(InvalidInput, match=r"^mode must be a permission mode such as 0o700 or 0o750, not "):
        files.check_mode(mode)


@pytest.mark.engine
@pytest.mark.parametrize("mode", [448.0, HUGE], ids=_id)
def test_a_bad_mode_creates_no_store(tmp_path, engine, mode):
    with pytest.raises(InvalidInput, match="mode must be a permission mode"):
        graphmem.open(tmp_path / "s", engine=engine, embedder=None, mode=mode)
    assert not (tmp_path / "s").exists()


BAD_HOLDS = [True, float("nan"), float("inf"), -0.5, 3600.5, "5", HUGE]


@pytest.mark.parametrize("hold", BAD_HOLDS, ids=_id)
def test_a_bad_hold_is_refused_before_the_store_is_touched(tmp_path, hold):
    with pytest.raises(InvalidInput, match=r"^hold must be None or a number of seconds from 0 to 3600, not "):
        PerRequest(tmp_path / "s", hold=hold)
    assert not (tmp_path / "s").exists()


# -- LangGraph's store --------------------------------------------------------------


def _langgraph():
    pytest.importorskip("langgraph.store.memory", reason="the langgraph extra is not installed")
    from graphmem.integrations.langgraph import GraphMemStore

    return GraphMemStore


@pytest.mark.engine
@pytest.mark.parametrize("ttl", [True, float("nan"), float("inf"), -0.5, "5", 10**400, HUGE], ids=_id)
def test_a_bad_ttl_is_refused_and_nothing_is_written(engine, ttl):
    store_type = _langgraph()
    from langgraph.store.base import PutOp

    with store_type(None, engine=engine) as store:
        with pytest.raises(InvalidInput, match=r"^ttl must be a number of minutes >= 0 or None, not "):
            store.put(("a",), "k", {"v": 1}, ttl=ttl)
        with pytest.raises(InvalidInput, match="ttl must be"):
            store.batch([PutOp(("a",), "k0", {"v": 0}), PutOp(("a",), "k", {"v": 1}, ttl=ttl)])
        assert store.list_namespaces() == [] and store.get(("a",), "k0") is None


@pytest.mark.engine
def test_a_good_ttl_is_kept(engine):
    store_type = _langgraph()
    with store_type(None, engine=engine) as store:
        for ttl in (2, 0.5, 10**300, None):
            store.put(("a",), f"k{ttl}", {"v": 1}, ttl=ttl)
        assert sorted(item.key for item in store.search(("a",))) == sorted(f"k{t}" for t in (2, 0.5, 10**300, None))


@pytest.mark.engine
@pytest.mark.parametrize(("config", "message"), [
    ({"default_ttl": -1}, r"^TTLConfig.default_ttl must be a number of minutes >= 0 or None, not -1"),
    ({"default_ttl": "5"}, r"^TTLConfig.default_ttl must be a number of minutes >= 0 or None, not '5'"),
    ({"default_ttl": float("nan")}, r"^TTLConfig.default_ttl must be"),
    ({"sweep_interval_minutes": -5}, r"^TTLConfig.sweep_interval_minutes must be a number of minutes >= 0"),
    ({"sweep_interval_minutes": True}, r"^TTLConfig.sweep_interval_minutes must be"),
    ({"refresh_on_read": "no"}, r"^TTLConfig.refresh_on_read must be True or False, not 'no'"),
])  # fmt: skip
def test_a_bad_ttl_config_is_refused_before_the_store_opens(tmp_path, engine, config, message):
    store_type = _langgraph()
    with pytest.raises(InvalidInput, match=message):
        store_type(tmp_path / "s", engine=engine, ttl=config)
    assert not (tmp_path / "s").exists()  # refused before anything was made
    with graphmem.open(None, engine=engine, embedder=None) as mem:
        with pytest.raises(InvalidInput, match=message):
            store_type(mem, ttl=config)
        assert not mem.closed and len(mem) == 0  # a memory passed in is left as it was


@pytest.mark.engine
def test_a_good_ttl_config_is_taken_and_a_bad_sweep_interval_refused(engine):
    store_type = _langgraph()
    with store_type(None, engine=engine, ttl={"default_ttl": 0.5, "sweep_interval_minutes": 0,
                                              "refresh_on_read": False, "unknown": 1}) as store:  # fmt: skip
        store.put(("a",), "k", {"v": 1})
        assert store.get(("a",), "k") is not None
        with pytest.raises(InvalidInput, match=r"^sweep_interval_minutes must be a number of minutes >= 0"):
            store.start_ttl_sweeper(-1)
        assert store._sweeper is None  # no thread was started


@pytest.mark.engine
@pytest.mark.parametrize("dims", [None, 0, -1, True, 3.0, "3", HUGE * -1], ids=_id)
def test_bad_index_dims_are_refused_and_the_memory_is_untouched(engine, dims):
    store_type = _langgraph()
    with graphmem.open(None, engine=engine, embedder=None) as mem:
        with pytest.raises(InvalidInput, match=r"^IndexConfig.dims must be a positive int, not "):
            store_type(mem, index={"dims": dims, "embed": lambda texts: [[1.0, 0.0, 0.0] for _ in texts]})
        assert not mem.closed and len(mem) == 0 and mem.vector_dim is None


# -- a data check kept inline: the JSONL header's version -----------------------------


@pytest.mark.engine
@pytest.mark.parametrize(("version", "message"), [
    ("true", "the header's version must be an integer, not True"),
    ("1.0", "the header's version must be an integer, not 1.0"),
    ('"1"', "the header's version must be an integer, not '1'"),
    ("0", "unknown graphmem format version 0"),
    ("-1", "unknown graphmem format version -1"),
])  # fmt: skip
def test_a_bad_header_version_names_the_line_and_imports_nothing(open_store, version, message):
    mem = open_store(None)
    text = f'{{"type":"graphmem","version":{version}}}\n{{"type":"entity","name":"Ada","entityType":"person"}}\n'
    with pytest.raises(InvalidInput, match=f"^line 1: {message}$"):
        import_jsonl(mem, io.StringIO(text))
    assert len(mem) == 0


# -- switches: True or False, never a truthy string (check_flag) ----------------------


@pytest.mark.engine
@pytest.mark.parametrize("flag", ["false", 0, 1, None, "True"])
def test_a_switch_that_is_not_a_bool_is_refused_and_changes_nothing(tmp_path, engine, flag):
    mem = graphmem.open(tmp_path / "s", engine=engine, embedder=None)
    try:
        mem.add_entities([{"name": f"e{i}"} for i in range(4)])
        mem.add_relation("e0", "R", "e1")
        refusals = {
            "hard": lambda: mem.forget(max_entities=1, hard=flag),
            "read_only": lambda: mem.cypher("MATCH (e:Entity) DETACH DELETE e", read_only=flag),
            "allow_file_access": lambda: mem.cypher("MATCH (e:Entity) RETURN count(e)", allow_file_access=flag),
            "replaces": lambda: mem.add_relation("e0", "R", "e2", replaces=flag),
            "include_earlier": lambda: mem.wait_embedded(0.1, include_earlier=flag),
            "save_index": lambda: mem.flush(save_index=flag),
        }
        for what, call in refusals.items():
            with pytest.raises(InvalidInput, match=f"^{what} must be True or False, not {flag!r}$"):
                call()
        with pytest.raises(InvalidInput, match=f"^save_index must be True or False, not {flag!r}$"):
            mem.close(save_index=flag)
        assert not mem.closed
        assert sorted(e.name for e in mem.iter_entities()) == ["e0", "e1", "e2", "e3"]
        assert [(r.source, r.type, r.target) for r in mem.iter_relations()] == [("e0", "R", "e1")]
    finally:
        mem.close()
    assert mem.closed
