"""Issue 16.1: user Cypher never touches files, the network or extensions
unless the caller opts in (``allow_file_access=True``).

Every statement of the catalogue below goes through every surface (the Python
API read-only and read-write, a read-only store, ``Store.cypher``,
``graphmem query``, the console, MCP ``cypher_query`` through the SDK client)
and must be refused with :class:`FileAccessRefused` while a canary file keeps
its content and a target directory stays empty. Each statement has a positive
control: with ``allow_file_access=True`` on a read-write store it reaches the
engine and does what it says (reads or overwrites the canary, creates the
directory), or fails with the engine's own run-time error — never a parser
error — so a typo cannot pass for a refusal. The lexer and the clause rules
are also checked with hypothesis: obfuscated forbidden statements are always
refused, benign ones with the same words in strings, comments, backticks and
property names always pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.cli.main import cli
from graphmem.errors import FileAccessRefused, QueryError
from graphmem.store import Store
from graphmem.store.cypher_guard import check_user_cypher, tokens

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
CANARY_TEXT = "canary,line\nkeep,me\n"


@dataclass(frozen=True)
class Case:
    """One forbidden statement. ``text`` has ``{canary}`` (an existing CSV) and
    ``{target}`` (an empty directory) to fill in; ``effect`` says what the
    positive control must see: "read" (the canary's content in the rows),
    "write" (the canary overwritten), "mkdir" (something created in target),
    "engine" (the engine's own run-time answer, not a parser error)."""

    name: str
    text: str
    effect: str
    params: tuple[tuple[str, str], ...] = ()


CASES = [
    Case("load_from_literal", "LOAD FROM '{canary}' RETURN *", "read"),
    Case("load_with_headers", "LOAD WITH HEADERS (canary STRING, line STRING) FROM '{canary}' RETURN *", "read"),
    Case("load_from_glob", "LOAD FROM ['{canary}'] RETURN *", "read"),
    # Kùzu reads a bare name from the caller's Python stack frames.
    Case("load_from_variable", "LOAD FROM gm_secret_table RETURN *", "read"),
    Case("load_from_str_param", "LOAD FROM $src RETURN *", "engine", (("src", "{canary}"),)),
    Case("copy_to", "COPY (RETURN 'pwned' AS line) TO '{canary}' (HEADER=false)", "write"),
    Case("copy_from_file", "COPY Meta FROM '{canary}' (HEADER=true)", "engine"),
    Case("export_database", "EXPORT DATABASE '{target}/exported'", "mkdir"),
    Case("import_database", "IMPORT DATABASE '{target}/nothing'", "engine"),
    Case("install", "INSTALL json", "engine"),
    Case("load_extension", "LOAD EXTENSION json", "engine"),
    Case("load_extension_short", "LOAD json", "engine"),
    Case("uninstall", "UNINSTALL json", "engine"),
    Case("attach", "ATTACH '{target}/other.db' AS other (dbtype kuzu)", "engine"),
    Case("detach", "DETACH other", "engine"),
    Case("use", "USE other", "engine"),
    Case("set_home_directory", "CALL home_directory='{target}'", "engine"),
    Case("set_file_search_path", "CALL file_search_path='{target}'", "engine"),
    Case("set_spill_to_disk", "CALL spill_to_disk=false", "engine"),
    # Positive control in a subprocess (test_table_function_reaches_the_engine): it kills the process.
    Case("call_read_csv", "CALL read_csv_serial('{canary}') RETURN *", "crash"),
    Case("call_read_parquet", "CALL read_parquet('{canary}') RETURN *", "crash"),
    Case("profile_copy_to", "PROFILE COPY (RETURN 'pwned' AS line) TO '{canary}' (HEADER=false)", "write"),
]
IDS = [c.name for c in CASES]


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    outside = tmp_path / "outside"
    target = outside / "target"
    target.mkdir(parents=True)
    canary = outside / "canary.csv"
    canary.write_text(CANARY_TEXT)
    return {"canary": canary, "target": target}


def fill(case: Case, place: dict[str, Path]) -> tuple[str, dict[str, str]]:
    subs = {k: str(v) for k, v in place.items()}
    return case.text.format(**subs), {k: v.format(**subs) for k, v in case.params}


def untouched(place: dict[str, Path]) -> None:
    assert place["canary"].read_text() == CANARY_TEXT
    assert list(place["target"].iterdir()) == []
    assert sorted(p.name for p in place["canary"].parent.iterdir()) == ["canary.csv", "target"]


def _store(tmp_path: Path, open_store) -> Path:
    path = tmp_path / "store"
    mem = open_store(path)
    mem.add_entities([{"name": "Ada", "type": "person"}, {"name": "Bob", "type": "person"}])
    mem.add_relations([("Ada", "knows", "Bob")])
    mem.close()
    return path


def _snapshot(mem: graphmem.Memory) -> list:
    return mem.cypher("MATCH (e:Entity) OPTIONAL MATCH (e)-[r:Relation]->(b) RETURN e.name, r.type, b.name ORDER BY e.name")


# -- every statement through the Python API and Store.cypher -------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_python_api_refuses_before_running(case, place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    text, params = fill(case, place)
    gm_secret_table = pa.table({"x": ["secret"]})  # noqa: F841 - what `LOAD FROM gm_secret_table` would read
    mem = open_store(path)
    before = _snapshot(mem)
    for read_only in (True, False):
        with pytest.raises(FileAccessRefused) as refused:
            mem.cypher(text, params, read_only=read_only)
        assert refused.value.clause
        with pytest.raises(FileAccessRefused):
            mem.cypher_table(text, params, read_only=read_only)
    assert _snapshot(mem) == before
    mem.close()
    ro = open_store(path, read_only=True)
    with pytest.raises(FileAccessRefused):
        ro.cypher(text, params)
    with pytest.raises(FileAccessRefused):
        ro.cypher(text, params, read_only=True)
    ro.close()
    with Store(path, engine=ENGINE) as store:
        with pytest.raises(FileAccessRefused):
            store.cypher(text, params)
        with pytest.raises(FileAccessRefused):
            store.cypher(text, params, allow_write=False)
    untouched(place)


@pytest.mark.parametrize("case", [c for c in CASES if c.effect != "crash"], ids=[c.name for c in CASES if c.effect != "crash"])
def test_positive_control_the_statement_really_reaches_the_engine(case, place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    text, params = fill(case, place)
    gm_secret_table = pa.table({"x": ["secret"]})  # noqa: F841 - read by `LOAD FROM gm_secret_table`
    mem = open_store(path)
    try:
        rows = mem.cypher(text, params, allow_file_access=True)
    except FileAccessRefused:
        pytest.fail("refused although allow_file_access=True")
    except QueryError as exc:
        assert case.effect == "engine", f"{case.name}: {exc}"
        assert "Parser exception" not in str(exc), f"{case.name} is not valid Cypher: {exc}"
        return
    flat = json.dumps(rows, default=str)
    if case.effect == "read":
        assert "keep" in flat or "secret" in flat, rows
    elif case.effect == "write":
        assert place["canary"].read_text().strip() == "pwned"
    elif case.effect == "mkdir":
        assert (place["target"] / "exported").is_dir()


def test_table_function_reaches_the_engine(place, tmp_path, open_store):
    """The file-reading table functions kill the process (SIGSEGV) on both engines,
    measured: the guard is what keeps an MCP client from crashing the server."""
    path = _store(tmp_path, open_store)
    code = (
        "import sys, graphmem\n"
        "m = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None)\n"
        "m.cypher(sys.argv[3], allow_file_access=True)\n"
    )
    text = f"CALL read_csv_serial('{place['canary']}') RETURN *"
    done = subprocess.run([sys.executable, "-c", code, str(path), ENGINE, text], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode != 0 and "FileAccessRefused" not in done.stderr, done.stderr[-2000:]
    mem = open_store(path)
    with pytest.raises(FileAccessRefused):
        mem.cypher(text)


# -- the other surfaces ------------------------------------------------------------------


def _cli(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--engine", ENGINE, *args], input=input, catch_exceptions=False)


@pytest.mark.parametrize("write", [False, True])
def test_graphmem_query_refuses_every_statement(write, place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    for case in CASES:
        text, params = fill(case, place)
        args = ["query", str(path), text, *(["--write"] if write else [])]
        for name, value in params.items():
            args += ["-p", name, json.dumps(value)]
        result = _cli(*args)
        assert result.exit_code != 0, (case.name, result.output)
        assert "refused before it ran" in result.output and "--allow-file-access" in result.output, result.output
    untouched(place)
    assert json.loads(_cli("query", str(path), "MATCH (e:Entity) RETURN count(*) AS n", "--format", "json").output) \
        == [{"n": 2}]  # fmt: skip


def test_graphmem_query_allow_file_access_reads_the_file(place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    result = _cli("query", str(path), f"LOAD FROM '{place['canary']}' RETURN *", "--allow-file-access",
                  "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "keep" in result.output


@pytest.mark.parametrize("flags", [(), ("--write",)])
def test_console_refuses_every_statement(flags, place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    script = "".join(fill(case, place)[0] + ";\n" for case in CASES if not case.params)
    script += "MATCH (e:Entity) RETURN count(*) AS n;\n"
    result = _cli("console", str(path), *flags, "--format", "json", "--embedder", "none", input=script)
    assert result.exit_code == 1
    refusals = [line for line in result.stderr.splitlines() if "refused before it ran" in line]
    assert len(refusals) == len([c for c in CASES if not c.params]), result.stderr
    assert all("--allow-file-access" in line for line in refusals)
    assert json.loads(result.stdout.strip()) == [{"n": 2}]
    untouched(place)


def test_console_allow_file_access_is_separate_from_write(place, tmp_path, open_store):
    path = _store(tmp_path, open_store)
    statement = f"COPY (RETURN 'pwned' AS line) TO '{place['canary']}' (HEADER=false);\n"
    result = _cli("console", str(path), "--write", "--format", "json", "--embedder", "none", input=statement)
    assert result.exit_code == 1 and "refused before it ran" in result.stderr
    untouched(place)
    result = _cli("console", str(path), "--allow-file-access", "--format", "json", "--embedder", "none",
                  input=statement)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert place["canary"].read_text().strip() == "pwned"


def test_mcp_cypher_query_refuses_every_statement(place, tmp_path, open_store):
    pytest.importorskip("mcp", reason="the MCP server needs the 'mcp' extra")
    import anyio

    from tests.mcp_client import call, call_error, mcp_session

    path = _store(tmp_path, open_store)

    async def main():
        async with mcp_session(path) as s:
            for case in CASES:
                text, params = fill(case, place)
                error = await call_error(s, "cypher_query", query=text, **({"params": params} if params else {}))
                assert error.startswith("FileAccessRefused:"), (case.name, error)
            rows = await call(s, "cypher_query", query="MATCH (e:Entity) RETURN count(*) AS n")
            assert rows["rows"] == [[2]]

    anyio.run(main)
    untouched(place)


# -- what stays allowed ------------------------------------------------------------------


BENIGN = [
    "MATCH (e:Entity) RETURN e.name AS load ORDER BY load",
    "MATCH (e:Entity) WHERE e.name <> 'COPY (RETURN 1) TO \\'x\\'' RETURN count(*) AS n",
    "RETURN 'LOAD FROM \"/etc/passwd\"' AS copy, \"EXPORT DATABASE '/tmp'\" AS export",
    "// LOAD FROM '/etc/passwd'\nMATCH (e:Entity) /* COPY (RETURN 1) TO 'x' */ RETURN count(*) AS n",
    "RETURN 1 AS `LOAD`, 2 AS `COPY`, {load: 1, copy: 2, attach: 3} AS m",
    "WITH 1 AS load, 2 AS call RETURN load + call AS s",
    "MATCH (e:Entity {name: 'Bob'}) RETURN e.name",
    "CALL show_tables() RETURN *",
    "CALL table_info('Entity') RETURN *",
    "CALL current_setting('threads') RETURN *",
    "RETURN 1;",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_statements_run_read_only(text, tmp_path, open_store):
    mem = open_store(_store(tmp_path, open_store), read_only=True)
    mem.cypher(text)


def test_detach_delete_is_cypher_not_detach(tmp_path, open_store):
    mem = open_store(_store(tmp_path, open_store))
    mem.cypher("MATCH (e:Entity {name: 'Bob'}) DETACH DELETE e")
    assert [r["e.name"] for r in mem.cypher("MATCH (e:Entity) RETURN e.name")] == ["Ada"]


def test_load_from_a_bound_table_is_allowed_and_graphmem_own_loads_skip_the_check(tmp_path, open_store, monkeypatch):
    mem = open_store(_store(tmp_path, open_store))
    rows = mem.cypher("LOAD FROM $t RETURN x", {"t": pa.table({"x": [1, 2]})}, read_only=True)
    assert [r["x"] for r in rows] == [1, 2]

    def boom(*args, **kw):
        raise AssertionError("graphmem's own statements must not go through the user-Cypher check")

    monkeypatch.setattr("graphmem.store.store.check_user_cypher", boom)
    mem.add_entities([{"name": f"n{i}", "type": "t"} for i in range(5)])  # LOAD FROM $rows inside
    assert len(mem) == 7


def test_several_statements_are_refused(tmp_path, open_store):
    """Several statements in one call crashed the process through Store.cypher (measured): one per call."""
    mem = open_store(_store(tmp_path, open_store))
    with pytest.raises(QueryError, match="one statement per call"):
        mem.cypher("RETURN 1; RETURN 2")
    with pytest.raises(FileAccessRefused):
        mem.cypher("RETURN 1; COPY (RETURN 1) TO '/tmp/x.csv'", allow_file_access=False)
    with pytest.raises(QueryError, match="transaction control"):
        mem.cypher("COMMIT")


def test_allow_file_access_must_be_a_bool(tmp_path, open_store):
    mem = open_store(_store(tmp_path, open_store))
    with pytest.raises(graphmem.InvalidInput):
        mem.cypher("RETURN 1", allow_file_access="yes")


# -- the lexer and the rules, property-based ------------------------------------------------

FORBIDDEN = [
    ["LOAD", "FROM", "'/etc/passwd'", "RETURN", "*"],
    ["LOAD", "FROM", "secret", "RETURN", "*"],
    ["LOAD", "WITH", "HEADERS", "(", "a", "STRING", ")", "FROM", "'/x.csv'", "RETURN", "*"],
    ["MATCH", "(", "n", ")", "LOAD", "FROM", "'/x.csv'", "RETURN", "*"],
    ["COPY", "(", "RETURN", "1", ")", "TO", "'/tmp/x.csv'"],
    ["COPY", "Entity", "FROM", "'/x.csv'"],
    ["EXPORT", "DATABASE", "'/tmp/d'"],
    ["IMPORT", "DATABASE", "'/tmp/d'"],
    ["INSTALL", "httpfs"],
    ["LOAD", "EXTENSION", "httpfs"],
    ["LOAD", "httpfs"],
    ["ATTACH", "'/tmp/o.db'", "AS", "o", "(", "dbtype", "kuzu", ")"],
    ["DETACH", "o"],
    ["USE", "o"],
    ["CALL", "home_directory", "=", "'/tmp'"],
    ["CALL", "read_csv_serial", "(", "'/x.csv'", ")", "RETURN", "*"],
    ["LOAD", "CSV", "FROM", "'file:///etc/passwd'", "AS", "row", "RETURN", "row"],
    ["EXPLAIN", "COPY", "(", "RETURN", "1", ")", "TO", "'/tmp/x.csv'"],
]
_SEPARATORS = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\u3000", "/**/", "/* LOAD */",
                               " /* x ; y */ ", "// c\n", "//\n", "\x0b", "\x1c"])  # fmt: skip


def _recase(word: str, flips: list[bool]) -> str:
    if word.startswith(("'", '"')):
        return word
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips + [False] * len(word)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    statement=st.sampled_from(FORBIDDEN),
    seps=st.lists(_SEPARATORS, min_size=20, max_size=20),
    flips=st.lists(st.lists(st.booleans(), max_size=12), min_size=20, max_size=20),
    before=st.sampled_from(["", "RETURN 1;", "MATCH (n) RETURN n ;\n", "/* ; */"]),
    after=st.sampled_from(["", ";", " ; RETURN 2", "// trailing"]),
)
def test_obfuscated_forbidden_statements_are_always_refused(statement, seps, flips, before, after):
    words = [_recase(w, flips[i]) for i, w in enumerate(statement)]
    text = before + seps[0] + "".join(w + seps[i + 1] for i, w in enumerate(words)) + after
    with pytest.raises(FileAccessRefused):
        check_user_cypher(text)


_WORDS = ["LOAD", "load", "COPY", "Copy", "EXPORT", "IMPORT", "INSTALL", "ATTACH", "DETACH", "USE", "CALL", "FROM",
          "TO", "DATABASE", "CSV", "EXTENSION"]  # fmt: skip
_PHRASES = ["LOAD FROM '/etc/passwd'", "COPY (RETURN 1) TO '/tmp/x'", "EXPORT DATABASE '/tmp'", "LOAD CSV FROM 'f'",
            "INSTALL httpfs; LOAD httpfs", "ATTACH 'x' AS y", "CALL home_directory='/'", "; COPY x FROM 'y'"]  # fmt: skip


def _quote(text: str, quote: str) -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


@settings(max_examples=400, deadline=None)
@given(
    phrase=st.sampled_from(_PHRASES),
    word=st.sampled_from(_WORDS),
    quote=st.sampled_from(["'", '"']),
    shape=st.integers(0, 5),
)
def test_benign_statements_with_the_same_words_are_allowed(phrase, word, quote, shape):
    text = [
        f"MATCH (e:Entity) WHERE e.name = {_quote(phrase, quote)} RETURN e.{word}",
        f"MATCH (e:Entity) // {phrase}\nRETURN e.name /* {phrase.replace('*/', '')} */",
        f"RETURN {_quote(phrase, quote)} AS `{word}`",
        f"MATCH (e:`{word}`) RETURN e.`{phrase.replace('`', '')}` AS x",
        f"RETURN {{{word.lower()}: {_quote(phrase, quote)}}} AS m",
        f"WITH {_quote(phrase, quote)} AS {word} RETURN {word}",
    ][shape]
    check_user_cypher(text)


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_the_lexer_reads_or_refuses_never_crashes(text):
    try:
        toks = tokens(text)
    except QueryError:
        return
    assert all(t.kind in {"word", "name", "param", "string", "number", "punct"} for t in toks)


@pytest.mark.parametrize("text", ["RETURN 'abc", "RETURN /* x", 'RETURN "a\\q"', "RETURN `x", "RETURN 1 €"])
def test_unreadable_text_is_refused(text):
    with pytest.raises(QueryError):
        check_user_cypher(text)
