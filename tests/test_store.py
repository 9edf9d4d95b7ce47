"""The store layer: files, migrations, named queries, locking, read-only, engines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import graphmem
from graphmem.store import schema
from graphmem.store.queries import check_bound, load_query, parameter_names
from graphmem.store.store import DATABASE_FILE, MANIFEST, Store

from .conftest import ENGINE

ROOT = Path(__file__).resolve().parents[1]
OTHER_ENGINE = "ladybug" if ENGINE == "kuzu" else "kuzu"


def _child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


# -- layout and manifest --------------------------------------------------------------


def test_store_directory_layout(tmp_path, open_store):
    with open_store(tmp_path / "s") as mem:
        mem.add_entity("a")
    info = json.loads((tmp_path / "s" / MANIFEST).read_text())
    # "database" is recorded once the file exists, so a lost file is noticed.
    assert info == {"format": 1, "engine": ENGINE, "database": DATABASE_FILE}
    assert (tmp_path / "s" / DATABASE_FILE).exists()


def test_a_file_removed_while_the_open_checks_the_folder_is_not_refused(tmp_path, open_store, monkeypatch):
    """The open checks that it may write every file in the store's folder. A file
    listed and then removed before its check (the engine of a process that held
    the store a moment ago cleaning up beside its WAL, as when a follower takes
    over from a killed holder) is not a permission problem: the open goes on."""
    path = tmp_path / "s"
    with open_store(path) as mem:
        mem.add_entity("a")
    vanishing = path / (DATABASE_FILE + ".wal.checkpoint")
    vanishing.write_bytes(b"")
    real_access = os.access

    def access_after_the_other_process_removed_it(target, mode, **kwargs):
        if Path(target) == vanishing and vanishing.exists():
            vanishing.unlink()
        return real_access(target, mode, **kwargs)

    monkeypatch.setattr(os, "access", access_after_the_other_process_removed_it)
    with open_store(path) as mem:
        assert not vanishing.exists()  # the check did see it, and it was gone by then
        assert mem.get_entity("a") is not None


def test_engine_mismatch_is_refused_with_advice(tmp_path, open_store):
    with open_store(tmp_path / "s") as mem:
        mem.add_entity("a")
    manifest = tmp_path / "s" / MANIFEST
    manifest.write_text(json.dumps({"format": 1, "engine": OTHER_ENGINE}))
    with pytest.raises(graphmem.IncompatibleStore, match="export"):
        open_store(tmp_path / "s")


def test_refuses_foreign_directories_and_files(tmp_path, open_store):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    with pytest.raises(graphmem.CorruptStore, match="not a graphmem store"):
        open_store(tmp_path / "notes")
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["todo.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(graphmem.CorruptStore, match="is a file"):
        open_store(tmp_path / "file")
    with pytest.raises(graphmem.CorruptStore):
        open_store(tmp_path / "absent", read_only=True)
    assert not (tmp_path / "absent").exists()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / MANIFEST).write_text("{not json")
    with pytest.raises(graphmem.CorruptStore, match="manifest"):
        open_store(tmp_path / "broken")


def test_damaged_database_file_is_corrupt_store(tmp_path, open_store):
    with open_store(tmp_path / "s") as mem:
        mem.add_entities([{"name": f"n{i}"} for i in range(100)])
    db = tmp_path / "s" / DATABASE_FILE
    db.write_bytes(b"\x00garbage" * 512)
    # The engine may crash on a damaged file: probe the open in a child process.
    result = _child(
        """
        import sys, graphmem
        try:
            graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None)
        except graphmem.GraphMemError as exc:
            print(type(exc).__name__, exc)
        """,
        str(tmp_path / "s"),
        ENGINE,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CorruptStore"), result.stdout


# -- migrations -----------------------------------------------------------------------


def _migrations(*extra: str) -> list[schema.Migration]:
    shipped = schema.shipped_migrations()
    return shipped + [
        schema.Migration(len(shipped) + 1 + i, f"{len(shipped) + 1 + i:03d}_test.cypher", schema.split_statements(text))
        for i, text in enumerate(extra)
    ]


def test_shipped_schema_is_numbered_from_one():
    versions = [m.version for m in schema.shipped_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_old_store_is_migrated_and_new_store_refused(tmp_path, engine):
    path = tmp_path / "s"
    with Store(path, engine=engine) as store:
        assert store.schema_version == len(schema.shipped_migrations())
        with store.transaction():
            store.execute("entity_create", {
                "key": "default\x1fa", "id": 0, "namespace": "default", "name": "a", "type": "Entity",
                "text": None, "observations": [], "properties": "{}", "embedding": None, "scale": None,
                "created_at": None, "updated_at": None, "valid_from": None, "valid_to": None, "importance": None,
            })  # fmt: skip
    newer = _migrations("CREATE NODE TABLE Note(id INT64 PRIMARY KEY, body STRING);")
    with Store(path, engine=engine, migrations=newer) as store:
        assert store.schema_version == newer[-1].version
        assert store.cypher("MATCH (e:Entity) RETURN e.name AS n").dicts() == [{"n": "a"}]
        assert store.cypher("MATCH (n:Note) RETURN count(*) AS c").dicts() == [{"c": 0}]
    with pytest.raises(graphmem.IncompatibleStore, match="newer"):
        Store(path, engine=engine)
    with pytest.raises(graphmem.IncompatibleStore, match="newer"):
        graphmem.open(path, engine=engine, embedder=None)


def test_failed_migration_leaves_the_previous_version(tmp_path, engine):
    path = tmp_path / "s"
    Store(path, engine=engine).close()
    broken = _migrations("CREATE NODE TABLE Ok(id INT64 PRIMARY KEY); CREATE NODE TABLE Bad(oops NOPE);")
    with pytest.raises(graphmem.QueryError):
        Store(path, engine=engine, migrations=broken)
    with Store(path, engine=engine) as store:
        assert store.schema_version == len(schema.shipped_migrations())
        tables = {row[0] for row in store.execute("schema_tables")}
        assert "Ok" not in tables  # the half-applied migration was rolled back


def test_read_only_open_does_not_migrate(tmp_path, engine):
    path = tmp_path / "s"
    Store(path, engine=engine).close()
    with pytest.raises(graphmem.IncompatibleStore, match="read-write to migrate"):
        Store(path, engine=engine, read_only=True, migrations=_migrations("CREATE NODE TABLE N(id INT64 PRIMARY KEY);"))


# -- named queries ----------------------------------------------------------------------


def test_every_query_file_is_used_and_every_used_name_has_a_file():
    import re

    from graphmem.store.queries import query_names

    source = "\n".join(p.read_text() for p in (ROOT / "graphmem").rglob("*.py"))
    used = set(re.findall(r"""(?:execute(?:_arrow(?:_by_id)?|_bounded)?|iter_arrow_by_id|_id_windows|load_query)\(\s*["']([a-z_]+)["']""", source))
    # the tables direction -> query (neighbors) and table -> query (the console's catalog)
    used |= set(re.findall(r""":\s*"((?:neighbors|catalog)_[a-z_]+)\"""", source))
    files = set(query_names())
    assert used - files == set(), "names used in code without a queries/ file"
    assert files - used == set(), "queries/ files no code uses"


def test_parameter_names_ignore_strings_and_comments():
    text = "MATCH (e) WHERE e.a = $a AND e.b = '$b' // $c\nRETURN $d /* $e */"
    assert parameter_names(text) == {"a", "d"}
    with pytest.raises(graphmem.QueryError, match=r"\$d"):
        check_bound(text, {"a": 1})
    check_bound(text, {"a": 1, "d": 2})


def test_named_queries_refuse_unbound_parameters(mem):
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    with pytest.raises(graphmem.QueryError, match=r"\$key"):
        mem._store.execute("entity_delete", {})
    assert len(mem) == 2
    with pytest.raises(graphmem.QueryError, match="no named query"):
        load_query("drop_everything")


# -- locking, read-only, engines ----------------------------------------------------------------

_HOLD = """
import sys, time, graphmem
mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None, read_only=sys.argv[3] == "ro")
print("open", flush=True)
sys.stdin.readline()
mem.close()
"""


def _holder(path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), ENGINE, mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open", proc.stderr.read() if proc.stderr else ""
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


def test_writer_in_another_process_locks_the_store(tmp_path, open_store):
    path = tmp_path / "s"
    open_store(path).close()
    proc = _holder(path, "rw")
    try:
        for read_only in (False, True):
            with pytest.raises(graphmem.StoreLocked) as info:
                open_store(path, read_only=read_only)
            assert str(path) in str(info.value) and "another process" in str(info.value)
    finally:
        _release(proc)
    with open_store(path) as mem:  # released at close
        mem.add_entity("after")


def test_readers_share_and_block_a_writer(tmp_path, open_store):
    path = tmp_path / "s"
    with open_store(path) as mem:
        mem.add_entity("a")
    proc = _holder(path, "ro")
    try:
        with open_store(path, read_only=True) as ro:
            assert ro.get_entity("a") is not None
        with pytest.raises(graphmem.StoreLocked):
            open_store(path)
    finally:
        _release(proc)


def test_one_handle_per_path_per_process(tmp_path, open_store):
    path = tmp_path / "s"
    first = open_store(path)
    with pytest.raises(graphmem.StoreLocked, match="already open in this process"):
        open_store(path)
    with pytest.raises(graphmem.StoreLocked):
        open_store(tmp_path / "." / "s", read_only=True)  # the same path spelled differently
    first.close()
    open_store(path).close()


def test_read_only_refuses_every_write(tmp_path, open_store):
    path = tmp_path / "s"
    with open_store(path) as mem:
        mem.add_entities([{"name": "a"}, {"name": "b"}])
        mem.add_relation("a", "R", "b")
    with open_store(path, read_only=True) as ro:
        assert ro.read_only and [n.name for n in ro.neighbors("a")] == ["b"]
        for write in (
            lambda: ro.add_entity("c"),
            lambda: ro.add_entities([{"name": "c"}]),
            lambda: ro.add_relation("b", "R", "a"),
            lambda: ro.add_relations([("b", "R", "a")]),
            lambda: ro.delete_entity("a"),
            lambda: ro.delete_relation("a", "R", "b"),
            lambda: ro.cypher("MATCH (e:Entity) DETACH DELETE e"),
            lambda: ro.cypher("CREATE (:Entity {key: 'x', id: 99})"),
        ):
            with pytest.raises(graphmem.ReadOnlyStore):
                write()
        assert ro.cypher("MATCH (e:Entity) RETURN count(*) AS n") == [{"n": 2}]
    with pytest.raises(graphmem.InvalidInput):
        graphmem.open(None, read_only=True, embedder=None)


def test_other_engine_in_same_process_is_a_clear_error():
    result = _child(
        """
        import sys, graphmem
        a = graphmem.open(None, engine=sys.argv[1], embedder=None)
        try:
            graphmem.open(None, engine=sys.argv[2], embedder=None)
        except graphmem.EngineConflict as exc:
            print("conflict:", exc)
        """,
        ENGINE,
        OTHER_ENGINE,
    )
    assert result.returncode == 0, result.stderr
    assert "conflict:" in result.stdout and "one engine per process" in result.stdout


def test_import_contracts_hold_and_cover_every_module():
    """DESIGN.md's layering, checked by import-linter (``make test`` runs
    ``lint-imports`` too): store/ alone imports the engine, imports flow down,
    faces use the public API; and the layers contract names every top-level
    module, so a new module cannot slip past it unlisted."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["id"] == "layers"]
    listed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    modules = {f"graphmem.{p.stem if p.is_file() else p.name}" for p in (ROOT / "graphmem").iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}  # fmt: skip
    assert modules == listed, f"not in the layers contract: {sorted(modules - listed)}; gone: {sorted(listed - modules)}"
    for contract in config["contracts"]:  # a package's own layers (memory/, query/) name each of its modules
        for container in contract.get("containers", []):
            folder = ROOT / container.replace(".", "/")
            inner = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
            named = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
            assert inner == named, f"{contract['id']}: unlisted {sorted(inner - named)}, gone {sorted(named - inner)}"
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]


def test_prepared_statements_follow_parameter_shapes_and_schema_changes(mem):
    """Named statements are prepared once per connection and parameter shape;
    answers must not depend on which shape was prepared first."""
    mem.add_entities([{"name": n} for n in "abc"])
    mem.add_relations([("a", "R", "b"), ("a", "S", "c")])
    for _ in range(2):  # the second round runs the statements prepared by the first
        assert mem.neighbors("a", types=[]) == []
        assert [n.name for n in mem.neighbors("a", types=["S"])] == ["c"]
        assert sorted(n.name for n in mem.neighbors("a")) == ["b", "c"]
        assert mem.get_entity("zzz") is None and mem.get_entity("b").name == "b"
    # User Cypher that changes the schema drops the prepared statements planned on the old one.
    mem.cypher("ALTER TABLE Entity ADD extra STRING DEFAULT 'x'")
    assert mem.get_entity("b").name == "b"
    assert [n.name for n in mem.neighbors("a", types=["R"])] == ["b"]


def test_an_all_empty_list_column_with_a_garbage_child_is_rebuilt() -> None:
    """Regression: the engine exported a column of empty lists whose (empty)
    string child began at value offset -653496016, and validation turned the
    intact store into CorruptStore."""
    import pyarrow as pa

    from graphmem.store.store import _empty_lists_fixed

    garbage = pa.py_buffer(np.array([-653496016], dtype=np.int32).tobytes())
    child = pa.Array.from_buffers(pa.string(), 0, [None, garbage, pa.py_buffer(b"")])
    lists = pa.ListArray.from_arrays(pa.array([0, 0, 0], pa.int32()), child)
    with pytest.raises(pa.ArrowInvalid, match="negative offset"):
        lists.validate(full=True)
    fixed = _empty_lists_fixed(pa.table({"id": [1, 2], "observations": lists}))
    fixed.validate(full=True)
    assert fixed.column("observations").to_pylist() == [[], []]
    # A chunk holding data is left for validation to judge.
    kept = pa.table({"observations": pa.array([["a"], []])})
    assert _empty_lists_fixed(kept).equals(kept)


def test_scans_that_grow_with_the_store_read_in_id_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: reopening a 1M-entity / 5M-relation store read all its
    relations in one statement, whose result filled the default 512 MiB
    buffer pool; the derived maps and the vectors now load in id ranges."""
    from graphmem.store import store as store_module

    path = tmp_path / "s"
    vectors = np.random.default_rng(3).normal(size=(25, 8))
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"e{i}", "embedding": vectors[i]} for i in range(25)])
        mem.add_relations([(f"e{i}", "NEXT", f"e{(i + 1) % 25}") for i in range(25)])
        whole = mem._store.execute_arrow_by_id("relation_ids", next_id=1)  # one open-ended range
        parts = mem._store.execute_arrow_by_id("relation_ids", next_id=25, chunk=4)
        assert whole.num_rows == 25 and parts.sort_by("source").equals(whole.sort_by("source"))
    for method in (store_module.Store.execute_arrow_by_id, store_module.Store.iter_arrow_by_id,
                   store_module.Store.iter_arrow_windows):
        monkeypatch.setattr(method, "__kwdefaults__", {**method.__kwdefaults__, "chunk": 4})
    trace: list[tuple[str, dict]] = []
    shutil.rmtree(path / "derived")  # the saved graph state would be mapped instead: this is about the rebuild
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.tracer = lambda name, params: trace.append((name, dict(params or {})))
        assert len(mem.shortest_path("e0", "e24", direction="out")) == 24
        assert mem.search(vectors[7], k=1)[0].name == "e7"
        assert [e.name for e in mem.iter_entities(batch_size=3)] == [f"e{i}" for i in range(25)]
        assert [(r.source, r.target) for r in mem.iter_relations()] == [
            (f"e{i}", f"e{(i + 1) % 25}") for i in range(25)]  # fmt: skip
    for name in ("relation_ids", "entity_vectors", "entity_export", "relation_export"):
        ranges = [(p["lo"], p["hi"]) for n, p in trace if n == name]
        # Contiguous ranges of at most 4 ids from 0, the last one open-ended
        # (iter_entities starts at its batch size, 3, and doubles).
        assert ranges[0][0] == 0 and all(hi == lo for (_, hi), (lo, _) in zip(ranges, ranges[1:])), (name, ranges)
        assert all(hi - lo <= 4 for lo, hi in ranges[:-1]) and ranges[-1][0] <= 24 < ranges[-1][1], (name, ranges)
    assert [r for n, r in trace if n == "entity_export"][0]["hi"] == 3
