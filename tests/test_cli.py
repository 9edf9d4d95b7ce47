"""The ``graphmem`` command line, through click's CliRunner (and once as a real process)."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import graphmem
from graphmem.cli.main import cli

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")

MCP_SAMPLE = (
    '{"type":"entity","name":"Zoë Ångström","entityType":"person","observations":["Said \\"ship it\\" at the standup"]}\n'
    '{"type":"entity","name":"Acme Corp","entityType":"organization","observations":["makes anvils"]}\n'
    '{"type":"entity","name":"東京","entityType":"city","observations":[]}\n'
    '{"type":"relation","from":"Zoë Ångström","to":"Acme Corp","relationType":"works_at"}\n'
    '{"type":"relation","from":"Zoë Ångström","to":"東京","relationType":"lives_in"}\n'
)


@pytest.fixture
def run(engine):
    """Invoke ``graphmem --engine ENGINE ARGS...`` in-process; returns the click Result."""
    runner = CliRunner()

    def _run(*args, input=None):
        return runner.invoke(cli, ["--engine", engine, *map(str, args)], input=input, catch_exceptions=False)

    return _run


@pytest.fixture
def store(tmp_path, engine) -> Path:
    """A closed store on disk with a few entities (one with a vector) and relations."""
    path = tmp_path / "store"
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.add_entity("Alice", type="Person", text="Data engineer", observations=['says "hi"'], properties={"age": 34},
                       embedding=[0.6, -0.8, 0.0])
        mem.add_entity("Acme", type="Company")
        mem.add_entity("Bob", type="Person")
        mem.add_relation("Alice", "WORKS_AT", "Acme", properties={"since": 2021})
        mem.add_relation("Bob", "KNOWS", "Alice")
    return path


def _reopen(path: Path) -> graphmem.Memory:
    return graphmem.open(path, engine=ENGINE, embedder=None, read_only=True)


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output


# -- help ------------------------------------------------------------------------------


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    assert {"stats", "query", "import", "export", "demo"} <= set(cli.commands)
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"`graphmem {name} --help` shows no example"
        assert f"graphmem {name}" in result.output.split("Example:")[1], name


def test_unknown_engine_is_a_usage_error():
    result = CliRunner().invoke(cli, ["--engine", "neo4j", "stats", "x"])
    assert result.exit_code == 2 and "neo4j" in result.output


# -- stats -----------------------------------------------------------------------------


@pytest.mark.engine
def test_stats_table(run, store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # the whole store path fits the table's cell, however deep tmp is
    result = run("stats", store)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert str(store) in out and "entities" in out and "Person" in out and "WORKS_AT" in out
    assert "vector dimension  3" in out


@pytest.mark.engine
def test_stats_json(run, store, engine):
    result = run("stats", store, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["entities"] == 3 and info["relations"] == 2 and info["engine"] == engine
    assert info["entity_types"] == {"Person": 2, "Company": 1} and info["read_only"] is True


@pytest.mark.engine
def test_stats_of_a_missing_store_is_an_error(run, tmp_path):
    result = run("stats", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no graphmem store at")
    assert not (tmp_path / "nowhere").exists()
    _no_traceback(result)


# -- query -----------------------------------------------------------------------------


@pytest.mark.engine
def test_query_table(run, store):
    result = run("query", store, "MATCH (e:Entity) RETURN e.name AS name, e.properties AS p, e.embedding AS v ORDER BY e.id")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "name" in out and "Alice" in out and "Acme" in out and "3 rows" in out
    assert "<3 bytes>" in out and "null" in out


@pytest.mark.engine
def test_query_table_with_no_rows(run, store):
    result = run("query", store, "MATCH (e:Entity) WHERE e.name = 'nobody' RETURN e.name")
    assert result.exit_code == 0 and "e.name" in result.stdout and "0 rows" in result.stdout
    csv_out = run("query", store, "--format", "csv", "MATCH (e:Entity) WHERE e.name = 'nobody' RETURN e.name")
    assert csv_out.exit_code == 0 and csv_out.stdout == "e.name\n"  # the header even without rows


@pytest.mark.engine
def test_query_json_converts_every_value(run, store):
    result = run(
        "query", store, "--format", "json",
        "MATCH (e:Entity {name: 'Alice'}) RETURN e.name AS name, e.observations AS obs, e.embedding AS v, "
        "e.created_at AS at, date('2024-02-29') AS d, interval('1 day 2 hours') AS i, 0.0/0.0 AS nan, "
        "CAST(1.5 AS DECIMAL(5,2)) AS dec, NULL AS nothing",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["name"] == "Alice" and row["obs"] == ['says "hi"']
    codes = np.frombuffer(base64.b64decode(row["v"]), dtype=np.int8)
    assert codes.tolist() == [95, -127, 0]  # [0.6, -0.8, 0] quantized: the BLOB as base64
    assert row["at"].startswith("20") and "T" in row["at"]
    assert row["d"] == "2024-02-29" and row["i"] == "P1DT7200S" and row["nan"] == "NaN"
    assert row["dec"] == "1.50" and row["nothing"] is None


@pytest.mark.engine
def test_query_json_of_nodes_and_relations(run, store):
    result = run("query", store, "--format", "json", "MATCH (a:Entity)-[r:Relation]->(b:Entity {name: 'Acme'}) RETURN a, r")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["a"]["name"] == "Alice" and row["r"]["type"] == "WORKS_AT"


@pytest.mark.engine
def test_query_csv(run, store):
    result = run("query", store, "--format", "csv",
                 "MATCH (e:Entity) RETURN e.name AS name, e.observations AS obs, e.text AS text ORDER BY e.id")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [["name", "obs", "text"], ["Alice", '["says \\"hi\\""]', "Data engineer"], ["Acme", "[]", ""], ["Bob", "[]", ""]]


@pytest.mark.engine
def test_query_params_are_parsed_as_json_when_possible(run, store):
    result = run(
        "query", store, "--format", "json", "-p", "who", "Alice", "--param", "n=1", "-p", "quoted", '"2"', "-p", "unused", "x",
        "MATCH (e:Entity {name: $who}) RETURN e.name AS name, $n + 1 AS n, $quoted AS q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"name": "Alice", "n": 2, "q": "2"}]


@pytest.mark.engine
@pytest.mark.parametrize("bad", ["noequals", "1x=3", "=3"])
def test_a_malformed_param_is_a_usage_error(run, store, bad):
    result = run("query", store, "--param", bad, "RETURN 1")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output


@pytest.mark.engine
def test_p_takes_name_and_value(run, store):
    result = run("query", store, "-p", "who=Alice", "RETURN $who AS who")  # the old spelling is --param's
    assert result.exit_code == 2 and "goes with --param" in result.output
    result = run("query", store, "-p", "n", "[1, 2]", "--param", "n=3", "RETURN $n AS n")
    assert result.exit_code == 2 and "$n is given twice" in result.output


@pytest.mark.engine
def test_an_unbound_param_is_refused(run, store):
    result = run("query", store, "MATCH (e:Entity) WHERE e.name = $who DETACH DELETE e")
    assert result.exit_code == 1 and "who" in result.stderr
    _no_traceback(result)


@pytest.mark.engine
def test_query_from_a_file(run, store, tmp_path):
    query_file = tmp_path / "q.cypher"
    query_file.write_text("MATCH (e:Entity {type: 'Person'})\nRETURN e.name AS name ORDER BY name\n", encoding="utf-8")
    result = run("query", store, "--file", query_file, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"name": "Alice"}, {"name": "Bob"}]


@pytest.mark.engine
@pytest.mark.parametrize("dash", [True, False])
def test_query_from_stdin(run, store, dash):
    args = ["query", store, "--format", "csv", *(["-"] if dash else [])]
    result = run(*args, input="MATCH (e:Entity) RETURN count(*) AS n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n3\n"


@pytest.mark.engine
def test_query_and_file_together_is_a_usage_error(run, store, tmp_path):
    (tmp_path / "q.cypher").write_text("RETURN 1", encoding="utf-8")
    result = run("query", store, "RETURN 2", "--file", tmp_path / "q.cypher")
    assert result.exit_code == 2 and "not both" in result.output


@pytest.mark.engine
def test_an_empty_query_is_a_usage_error(run, store):
    result = run("query", store, input="  \n")
    assert result.exit_code == 2 and "the query is empty" in result.output


@pytest.mark.engine
def test_a_write_without_write_flag_is_refused(run, store):
    result = run("query", store, "MATCH (e:Entity {name: 'Bob'}) DETACH DELETE e")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "read-only" in result.stderr and "--write" in result.stderr
    _no_traceback(result)
    with _reopen(store) as mem:
        assert mem.get_entity("Bob") is not None


@pytest.mark.engine
def test_a_write_with_write_flag_runs(run, store):
    result = run("query", store, "--write", "MATCH (e:Entity {name: 'Bob'}) DETACH DELETE e RETURN count(*) AS n")
    assert result.exit_code == 0, result.output
    with _reopen(store) as mem:
        assert mem.get_entity("Bob") is None and len(mem) == 2


@pytest.mark.engine
def test_bad_cypher_prints_the_engine_message(run, store):
    result = run("query", store, "MATCH (e:Entity RETURN e")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Parser exception")
    assert result.stdout == ""
    _no_traceback(result)


# -- import / export ---------------------------------------------------------------------


def _normalised(text: str) -> list[dict]:
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        record.pop("created_at", None)
        record.pop("updated_at", None)
    return records


@pytest.mark.engine
def test_graphmem_round_trip(run, store, tmp_path):
    first = tmp_path / "first.jsonl"
    result = run("export", store, first)
    assert result.exit_code == 0, result.output
    assert "exported 3 entities and 2 relations" in result.stderr
    result = run("import", tmp_path / "copy", first, "--embedder", "none")
    assert result.exit_code == 0, result.output
    assert "imported 3 entities and 2 relations" in result.stdout
    second = tmp_path / "second.jsonl"
    assert run("export", tmp_path / "copy", second).exit_code == 0
    text = first.read_text(encoding="utf-8")
    assert json.loads(text.splitlines()[0]) == {"type": "graphmem", "version": 1}
    assert _normalised(second.read_text(encoding="utf-8")) == _normalised(text)


@pytest.mark.engine
def test_mcp_round_trip_through_stdin_and_stdout(run, tmp_path):
    result = run("import", tmp_path / "s", "-", "--embedder", "none", "--batch-size", "2", input=MCP_SAMPLE.encode("utf-8"))
    assert result.exit_code == 0, result.output
    result = run("export", tmp_path / "s", "-", "--format", "mcp")
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == sorted(MCP_SAMPLE.splitlines())
    with _reopen(tmp_path / "s") as mem:
        assert mem.get_entity("Zoë Ångström").observations == ('Said "ship it" at the standup',)
        assert mem.get_relation("Zoë Ångström", "lives_in", "東京") is not None


@pytest.mark.engine
def test_import_bad_line_names_the_line(run, tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text(MCP_SAMPLE + '{"type":"entity","name":"x",}\n', encoding="utf-8")
    result = run("import", tmp_path / "s", source, "--embedder", "none")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: line 6: not valid JSON")
    _no_traceback(result)
    with _reopen(tmp_path / "s") as mem:
        assert len(mem) == 0


@pytest.mark.engine
def test_import_relation_to_a_missing_entity(run, tmp_path):
    source = tmp_path / "dangling.jsonl"
    source.write_text('{"type":"entity","name":"Alice","entityType":"person","observations":[]}\n'
                      '{"type":"relation","from":"Alice","to":"Ghost","relationType":"knows"}\n', encoding="utf-8")
    result = run("import", tmp_path / "s", source, "--embedder", "none")
    assert result.exit_code == 1
    assert "error: line 2: relation 'Alice' -[knows]-> 'Ghost': no entity named 'Ghost'" in result.stderr


def test_import_of_a_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "s"), str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "s").exists()


@pytest.mark.engine
def test_a_failed_export_leaves_no_file(run, tmp_path):
    target = tmp_path / "out.jsonl"
    result = run("export", tmp_path / "missing_store", target)
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.engine
def test_export_into_a_missing_folder_is_an_error(run, store, tmp_path):
    result = run("export", store, tmp_path / "no" / "such" / "out.jsonl")
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.mark.engine
def test_export_replaces_a_file_only_when_complete(run, store, tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n", encoding="utf-8")
    assert run("export", store, target, "--format", "mcp", "--force").exit_code == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "store"]


@pytest.mark.engine
def test_export_refuses_an_existing_file_without_force(run, store, tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n", encoding="utf-8")
    result = run("export", store, target)
    assert result.exit_code == 1 and "refusing to overwrite" in result.stderr and "--force" in result.stderr
    _no_traceback(result)
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "store"]


@pytest.mark.engine
def test_export_file_is_owner_only(run, store, tmp_path):
    old = os.umask(0)  # the widest umask: the mode must not come from it
    try:
        assert run("export", store, tmp_path / "out.jsonl").exit_code == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out.jsonl").stat().st_mode & 0o777 == 0o600


def _store_files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _store_targets(store: Path, tmp_path: Path) -> list[tuple[str, Path]]:
    """Paths that lead into ``store``: its files, a new name in it, ``..`` tricks, and symlinks."""
    (tmp_path / "elsewhere").mkdir()
    link_to_db = tmp_path / "elsewhere" / "link.jsonl"
    link_to_db.symlink_to(store / "graph.db")
    link_to_store = tmp_path / "elsewhere" / "store-link"
    link_to_store.symlink_to(store, target_is_directory=True)
    dangling = tmp_path / "elsewhere" / "dangling.jsonl"
    dangling.symlink_to(store / "not-yet.jsonl")
    return [
        ("the database file", store / "graph.db"),
        ("the manifest", store / "graphmem.json"),
        ("the lock file", store / "graphmem.lock"),
        ("a new file in the store", store / "new.jsonl"),
        ("the store itself", store),
        ("a '..' path", tmp_path / "elsewhere" / ".." / "store" / "graph.db"),
        ("a '..' path through a missing folder", store / "no-such" / ".." / "graph.db"),
        ("a symlink to the database", link_to_db),
        ("a path through a symlinked store", link_to_store / "graph.db"),
        ("a dangling symlink into the store", dangling),
    ]


@pytest.mark.engine
@pytest.mark.parametrize("force", [False, True])
def test_export_never_writes_into_a_store(run, store, tmp_path, force):
    before = _store_files(store)
    for what, target in _store_targets(store, tmp_path):
        result = run("export", store, target, *(["--force"] if force else []))
        assert result.exit_code == 1, what
        assert "inside the graphmem store" in result.stderr, (what, result.stderr)
        _no_traceback(result)
        assert _store_files(store) == before, what
    with _reopen(store) as mem:
        assert len(mem) == 3


@pytest.mark.engine
def test_export_into_another_store_is_refused(run, store, tmp_path):
    other = tmp_path / "other"
    graphmem.open(other, engine=ENGINE, embedder=None).close()
    before = _store_files(other)
    result = run("export", store, other / "graph.db", "--force")
    assert result.exit_code == 1 and f"inside the graphmem store {other}" in result.stderr
    assert _store_files(other) == before


@pytest.mark.engine
def test_import_never_reads_from_a_store(run, store, tmp_path):
    export = tmp_path / "dump.jsonl"
    assert run("export", store, export).exit_code == 0
    # A real export copied into a store's folder is still refused: the rule is the place, not the content.
    (store / "dump.jsonl").write_bytes(export.read_bytes())
    targets = [*(t for t in _store_targets(store, tmp_path) if t[1].exists() and t[1].is_file()),
               ("an export inside the store", store / "dump.jsonl")]
    assert len(targets) >= 5
    for what, source in targets:
        result = run("import", tmp_path / "new", source, "--embedder", "none")
        assert result.exit_code == 1, what
        assert "inside the graphmem store" in result.stderr, (what, result.stderr)
        assert not (tmp_path / "new").exists(), what  # refused before the store was created
    assert run("import", tmp_path / "new", export, "--embedder", "none").exit_code == 0  # the control


# -- demo --------------------------------------------------------------------------------


def test_demo_calls_run_demo(monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("graphmem.demo")
    fake.run_demo = lambda path, console, **kw: calls.append((path, console, kw))
    monkeypatch.setitem(sys.modules, "graphmem.demo", fake)
    result = CliRunner().invoke(cli, ["--engine", "ladybug", "demo", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert calls[0][0] == tmp_path / "d" and hasattr(calls[0][1], "print") and calls[0][2] == {"engine": "ladybug"}
    assert CliRunner().invoke(cli, ["demo"], env={"GRAPHMEM_ENGINE": None}).exit_code == 0
    assert calls[1][0] is None and calls[1][2] == {"engine": "kuzu"}


# -- the installed entry point -------------------------------------------------------------


@pytest.mark.engine
def test_the_installed_script_runs(store, engine):
    script = Path(sys.executable).parent / "graphmem"
    done = subprocess.run(
        [str(script), "--engine", engine, "query", str(store), "--format", "json", "MATCH (e:Entity) RETURN count(*) AS n"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 3}]


@pytest.mark.engine
@pytest.mark.parametrize("interpreted", [True, False], ids=["small-store", "compiled"])
def test_a_path_query_imports_no_model_or_graph_library(store, engine, interpreted):
    """``graphmem path`` answers from the kernels: loading torch, the
    embedding model's library or networkx would add seconds to a call that
    should take well under one (a model is needed only to embed a text query).
    On a small store the kernels run as Python and numba is never imported
    (its start is 0.5-0.9 s); on a larger one (the limit lowered here) numba
    starts without cffi, one of the two extras it is started without. The
    answer is the same either way."""
    code = (
        "import sys\n"
        "from graphmem import warm\n"
        "from graphmem.cli import main\n"
        f"warm.INTERPRET_UP_TO = {10_000 if interpreted else -1}\n"
        f"main.cli.main(['--engine', {engine!r}, 'path', {str(store)!r}, 'Bob', 'Acme', '--all', '--format', 'json'],"
        " standalone_mode=False)\n"
        "heavy = {'torch', 'sentence_transformers', 'transformers', 'networkx', 'cffi', 'numba'}\n"
        "loaded = sorted(heavy & {name.split('.')[0] for name in sys.modules})\n"
        "import scipy.linalg  # refused only while numba started: importable again\n"
        "print(loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["nodes"] == ["Bob", "Alice", "Acme"]
    assert done.stderr.strip().splitlines()[-1] == ("[]" if interpreted else "['numba']")


@pytest.mark.engine
def test_the_script_ends_a_read_only_query_early_with_its_output_and_status(store, engine):
    """``main`` skips the interpreter's teardown after a read-only command (a
    fifth of a path call's CPU): the answer must still be flushed through a
    pipe, and a failed command must still exit non-zero with its message."""
    script = Path(sys.executable).parent / "graphmem"
    done = subprocess.run([str(script), "--engine", engine, "path", str(store), "Bob", "Acme", "--format", "json"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["nodes"] == ["Bob", "Alice", "Acme"]
    failed = subprocess.run([str(script), "--engine", engine, "path", str(store), "Bob", "Nobody"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert failed.returncode != 0 and "Nobody" in failed.stderr


def test_bench_runs_the_checkouts_runner_without_touching_the_import_path():
    """``graphmem bench`` starts ``benchmarks.run`` from the source checkout in a
    child process: its own ``sys.path`` is left as the user set it, the runner's
    output reaches the terminal, and a failed run is a failed command."""
    root = Path(graphmem.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listed = subprocess.run([sys.executable, "-m", "graphmem", "bench", "--", "--list"], cwd=Path("/"),
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "composed:" in listed.stdout and "near_2" in listed.stdout
    refused = subprocess.run([sys.executable, "-m", "graphmem", "bench", "--", "--no-such-flag"], cwd=Path("/"),
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert refused.returncode != 0
    assert "--no-such-flag" in refused.stderr and "benchmark run failed" in refused.stderr
    before = list(sys.path)
    from graphmem.cli import main as cli_main

    assert cli_main._source_checkout() == root
    assert sys.path == before
