"""The Cypher console: driven in a real pseudo-terminal (pexpect), run from
files (scripted mode), and its parts (input splitting, arguments, completion)."""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from rich.console import Console as RichConsole

import graphmem
from graphmem.cli.main import cli
from graphmem.console.commands import CommandError, Session, parse_args, parse_value
from graphmem.console.completion import ConsoleCompleter
from graphmem.console.render import Output
from graphmem.console.script import Item, code_state, parameter_names, split_script

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def store(tmp_path, open_store) -> Path:
    """A closed store whose vectors come from HashEmbedder (the console's hidden --embedder hash)."""
    path = tmp_path / "store"
    mem = open_store(path, embedder=graphmem.HashEmbedder())
    mem.add_entities([
        {"name": "Alice", "type": "Person", "text": "builds data pipelines"},
        {"name": "Bob", "type": "Person", "text": "writes the mobile app"},
        {"name": "Carol", "type": "Person", "text": "runs the data platform team"},
        {"name": "Acme", "type": "Company", "text": "makes anvils"},
        {"name": "Zoë Müller", "type": "Person", "text": "chief technology officer"},
    ])  # fmt: skip
    mem.add_relations([("Alice", "WORKS_AT", "Acme"), ("Bob", "KNOWS", "Alice"), ("Carol", "WORKS_AT", "Acme"),
                       ("Zoë Müller", "WORKS_AT", "Acme")])  # fmt: skip
    mem.close()
    return path


# -- the interactive console, in a pseudo-terminal ----------------------------------------------


class Console:
    """A console process in a 40x120 pseudo-terminal."""

    def __init__(self, store: Path, tmp_path: Path, *args: str) -> None:
        env = dict(
            os.environ,
            GRAPHMEM_HISTORY=str(tmp_path / "history"),
            GRAPHMEM_PAGER="",  # results stay on screen; paging is for people
            TERM="xterm",
            NO_COLOR="1",
            PROMPT_TOOLKIT_NO_CPR="1",  # pexpect does not answer cursor-position requests
            # The terminal's size, as the pty below has it: an inherited COLUMNS
            # (pytest-xdist's workers have COLUMNS=80) would win over the pty's.
            COLUMNS="120",
            LINES="40",
        )
        self.child = pexpect.spawn(
            sys.executable, ["-m", "graphmem", "--engine", ENGINE, "console", str(store), "--embedder", "hash", *args],
            env=env, dimensions=(40, 120), encoding="utf-8", timeout=30,
        )  # fmt: skip
        self.expect("Ctrl-D quits")
        self.prompt()

    def expect(self, pattern: str | list, **kw) -> int:
        return self.child.expect(pattern, **kw)

    def prompt(self) -> None:
        # prompt_toolkit turns on bracketed paste each time it starts reading a line:
        # a sure sign the console is waiting again (the prompt text itself is redrawn in pieces).
        self.child.expect_exact("\x1b[?2004h")

    def run(self, line: str, *expected: str) -> str:
        """Type ``line`` and Enter, wait for the next prompt, and check that the output
        (without escape sequences) matches each expected regex, in order. Returns the output."""
        self.child.send(line + "\r")
        self.prompt()
        out = ANSI.sub("", self.child.before)
        at = 0
        for pattern in expected:
            found = re.compile(pattern).search(out, at)
            assert found, f"{pattern!r} not in the output of {line!r}:\n{out}"
            at = found.end()
        return out

    def quit(self) -> int:
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


@pytest.fixture
def console(store, tmp_path):
    opened: list[Console] = []

    def start(*args: str) -> Console:
        opened.append(Console(store, tmp_path, *args))
        return opened[-1]

    yield start
    for c in opened:
        if c.child.isalive():
            c.child.terminate(force=True)


@pytest.mark.engine
def test_a_query_prints_a_table_and_ctrl_d_exits(console, tmp_path):
    c = console()
    out = c.run("MATCH (e:Entity {type: 'Person'}) RETURN e.name AS person ORDER BY person;", "4 rows")
    assert re.search(r"┃ person\s*┃", out), out
    assert out.index("Alice") < out.index("Bob") < out.index("Carol") < out.index("Zoë Müller")
    assert c.quit() == 0
    assert "MATCH (e:Entity {type: 'Person'})" in (tmp_path / "history").read_text(encoding="utf-8")


@pytest.mark.engine
def test_a_statement_spans_lines_until_its_semicolon(console):
    c = console()
    c.child.send("MATCH (e:Entity)\r")
    c.child.expect(r"\.+> ")  # the continuation prompt: Enter did not run it
    c.child.send("WHERE e.name = 'Bob'\r")
    c.child.expect(r"\.+> ")
    out = c.run("RETURN 40 + size(e.name) AS n;", r"\b43\b", "1 row")
    assert "43" in out
    assert c.quit() == 0


@pytest.mark.engine
def test_tab_completes_an_entity_type_and_a_name(console):
    c = console()
    c.child.send("MATCH (e:Entity {type: 'Comp\t")  # only Company starts with Comp: it is inserted, quote closed
    c.child.expect_exact("'Company'")
    c.run("}) RETURN count(*) + 500 AS n;", r"\b501\b")
    c.child.send(":path Zo\t")  # the name has a space: it comes quoted
    c.child.expect_exact('"Zoë Müller"')
    c.child.send(" Bo\t")
    c.child.expect_exact("Bob")
    out = c.run("", "3 hops")
    assert "Zoë Müller -[WORKS_AT]-> Acme <-[WORKS_AT]- Alice <-[KNOWS]- Bob" in out, out
    assert c.quit() == 0


@pytest.mark.engine
def test_a_syntax_error_then_a_working_query(console):
    c = console()
    out = c.run("MATCH (e:Entity RETURN e;", "Parser exception")
    assert "error" in out
    c.run("RETURN 6 * 7 AS answer;", r"\b42\b", "1 row")
    c.run("MATCH (e:Entity) RETURN e.nope;", "Cannot find property nope")
    c.run("RETURN 1 + 1 AS two;", r"\b2\b", "1 row")
    assert c.quit() == 0


@pytest.mark.engine
def test_a_write_is_refused_read_only_and_the_console_goes_on(console, store):
    c = console()
    out = c.run("MATCH (e:Entity {name: 'Bob'}) DETACH DELETE e;", "refused")
    assert "read-only" in out and "--write" in out
    c.run("MATCH (e:Entity {name: 'Bob'}) RETURN count(*) + 100 AS n;", r"\b101\b")
    assert c.quit() == 0
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        assert mem.get_entity("Bob") is not None


@pytest.mark.engine
def test_write_mode_writes_and_keeps_graphmem_consistent(console, store):
    c = console("--write")
    c.run("MATCH (e:Entity {name: 'Bob'})-[r:Relation]->() DELETE r RETURN count(*) AS gone;", r"\b1\b", "1 row")
    out = c.run(":neighbors Alice", "1 row")  # the deleted relation is gone from graphmem's view too
    assert "Acme" in out and "Bob" not in out
    c.run(":path Bob Acme", "no path between Bob and Acme")  # nor do paths use it
    assert c.quit() == 0
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        assert mem.neighbors("Bob") == []


@pytest.mark.engine
def test_search_binds_a_parameter_for_the_next_query(console):
    c = console()
    out = c.run(":search data pipelines k=2 -> hits", r"\$hits = \[")
    assert out.index("Alice") < out.index("$hits")  # the best hit, then the binding
    out = c.run(":params", "hits")
    c.run("MATCH (e:Entity) WHERE e.name IN $hits RETURN count(*) + 900 AS n;", r"\b902\b")
    out = c.run("MATCH (e:Entity) WHERE e.name = $nobody RETURN e;", "not set")
    assert ":param nobody" in out
    assert c.quit() == 0


@pytest.mark.engine
def test_ctrl_c_cancels_the_line(console):
    c = console()
    c.child.send("MATCH (x")
    c.child.sendcontrol("c")
    c.prompt()
    c.child.send("RETURN 1 + 1 AS two;\r")
    index = c.expect(["1 row", "Parser exception"])
    assert index == 0  # the cancelled text did not join the statement
    c.prompt()
    assert c.quit() == 0


@pytest.mark.engine
def test_meta_commands(console):
    c = console()
    out = c.run(":help", ":schema")
    assert ":search" in out and ":path" in out
    out = c.run(":schema", "examples")
    assert "Entity" in out and "Relation" in out and "Person" in out and "WORKS_AT" in out
    assert "MATCH (a:Entity {type:'Person'})-[r:Relation {type:'WORKS_AT'}]->(b:Entity {type:'Company'})" in out
    c.run(":format csv", "format: csv")
    out = c.run("RETURN 'x,y' AS a, 2 AS b;", '"x,y",2')
    c.run(":param who \"Bob\"", r'\$who = "Bob"')
    c.run(":format json", "format: json")
    c.run("MATCH (e:Entity {name: $who}) RETURN e.type AS type;", r'"type": "Person"')
    c.run(":timing on", "timing is on")
    if hasattr(graphmem.Memory, "recall"):
        c.run(":recall data pipelines k=1", r'"name": "Alice"')
    else:
        c.run(":recall anything", "not available in this version")
    c.run(":nonsense", "unknown command")
    assert c.quit() == 0


# -- scripted: graphmem console PATH < file --------------------------------------------------------


SCRIPT = """\
// people first
MATCH (e:Entity {type: 'Person'})
RETURN e.name AS name ORDER BY name;
:param who "Alice"
MATCH (e:Entity {name: $who})-[r:Relation]->(c) RETURN r.type AS rel, c.name AS target;
:search data pipelines k=1 -> best
MATCH (e:Entity) WHERE e.name IN $best RETURN e.name AS name
"""


@pytest.fixture
def run(engine):
    runner = CliRunner()

    def _run(*args, input=None):
        return runner.invoke(cli, ["--engine", engine, *map(str, args)], input=input, catch_exceptions=False)

    return _run


@pytest.mark.engine
def test_scripted_json_is_one_line_per_result(run, store):
    result = run("console", store, "--format", "json", "--embedder", "hash", input=SCRIPT)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == [{"name": n} for n in ("Alice", "Bob", "Carol", "Zoë Müller")]
    assert lines[1] == [{"rel": "WORKS_AT", "target": "Acme"}]
    assert lines[2][0]["name"] == "Alice" and lines[2][0]["type"] == "Person" and 0 < lines[2][0]["score"] <= 1.0001
    assert lines[3] == [{"name": "Alice"}]  # the last statement may omit its ;
    assert '$who = "Alice"' in result.stderr and "$best = [Alice]" in result.stderr


@pytest.mark.engine
def test_scripted_csv_blocks(run, store):
    result = run("console", store, "--format", "csv", "--embedder", "hash", input=SCRIPT)
    assert result.exit_code == 0, result.output
    blocks = result.stdout.split("\n\n")
    assert len(blocks) == 4
    assert list(csv.reader(io.StringIO(blocks[0]))) == [["name"], ["Alice"], ["Bob"], ["Carol"], ["Zoë Müller"]]
    assert list(csv.reader(io.StringIO(blocks[2])))[0] == ["name", "type", "score"]


@pytest.mark.engine
def test_scripted_failures_go_on_and_set_the_exit_status(run, store):
    script = (
        "RETURN 1 AS a;\nMATCH (e:Entity RETURN e;\nMATCH (e:Entity {name: 'Bob'}) DETACH DELETE e;\nRETURN 2 AS b;\n"
    )
    result = run("console", store, "--format", "json", "--embedder", "none", input=script)
    assert result.exit_code == 1
    assert [json.loads(line) for line in result.stdout.splitlines()] == [[{"a": 1}], [{"b": 2}]]
    errors = result.stderr.splitlines()
    assert errors[0].startswith("error: line 2: Parser exception")
    assert any(e.startswith("error: line 3: refused") for e in errors)
    assert "Traceback" not in result.output


@pytest.mark.engine
def test_scripted_params_from_the_command_line(run, store):
    query = "MATCH (e:Entity) WHERE e.name IN $names RETURN e.name AS name, $n AS n ORDER BY name;"
    result = run("console", store, "--format", "json", "-p", "names", '["Bob", "Carol"]', "--param", "n=1", input=query)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"name": "Bob", "n": 1}, {"name": "Carol", "n": 1}]


@pytest.mark.engine
def test_scripted_from_a_real_stdin_file(store, tmp_path, engine):
    script = tmp_path / "q.cypher"
    script.write_text(":format csv\nMATCH (e:Entity) RETURN count(*) AS n;\n:path Bob Acme dir=out\n", encoding="utf-8")
    with open(script, encoding="utf-8") as stdin:
        done = subprocess.run([sys.executable, "-m", "graphmem", "--engine", engine, "console", str(store)],
                              stdin=stdin, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "n\n5\n\npath,hop,from,relation,to,direction\n1,1,Bob,KNOWS,Alice,out\n1,2,Alice,WORKS_AT,Acme,out\n"
    )


@pytest.mark.engine
def test_an_embedder_that_does_not_fit_the_store_leaves_text_search_off(run, store):
    result = run("console", store, "--embedder", "default", "--format", "json",
                 input=":search data\n:search like=Alice k=1\n")  # fmt: skip
    assert result.exit_code == 1
    assert "text search is off" in result.stderr and "like=NAME" in result.stderr
    assert json.loads(result.stdout)[0]["name"] in {"Bob", "Carol", "Acme", "Zoë Müller"}  # like= excludes Alice


# -- graphmem search / graphmem path -----------------------------------------------------------------


@pytest.mark.engine
def test_search_command_formats(run, store):
    result = run("search", store, "data pipelines", "-k", "2", "--embedder", "hash", "--format", "json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["name"] for h in hits][0] == "Alice" and len(hits) == 2
    result = run("search", store, "data pipelines", "-k", "2", "--embedder", "hash", "--type", "Company",
                 "--format", "csv")  # fmt: skip
    assert list(csv.reader(io.StringIO(result.stdout)))[1][:2] == ["Acme", "Company"]
    table = run("search", store, "--like", "Alice", "-k", "3", "--embedder", "hash")
    assert table.exit_code == 0 and "3 rows" in table.stdout and "Alice" not in table.stdout
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        vector = mem.get_entity("Bob").embedding.tolist()
    result = run("search", store, "--vector", json.dumps(vector), "-k", "1", "--format", "json")
    assert json.loads(result.stdout)[0]["name"] == "Bob"


@pytest.mark.engine
def test_search_command_errors(run, store):
    assert run("search", store).exit_code == 2
    assert run("search", store, "x", "--like", "Alice").exit_code == 2
    result = run("search", store, "x", "--embedder", "none")
    assert result.exit_code == 1 and "needs an embedder" in result.stderr
    result = run("search", store, "--like", "Nobody")
    assert result.exit_code == 1 and "no entity named 'Nobody'" in result.stderr
    result = run("search", store, "--vector", "[1, 2", "--format", "json")
    assert result.exit_code == 2 and "not JSON" in result.output


@pytest.mark.engine
def test_path_command_formats(run, store):
    result = run("path", store, "Bob", "Zoë Müller")
    assert result.exit_code == 0, result.output
    assert "Bob -[KNOWS]-> Alice -[WORKS_AT]-> Acme <-[WORKS_AT]- Zoë Müller" in result.stdout
    assert "3 hops" in result.stdout
    result = run("path", store, "Alice", "Carol", "--all", "--format", "json")
    assert json.loads(result.stdout) == [
        {"hops": 2, "nodes": ["Alice", "Acme", "Carol"], "relations": ["WORKS_AT", "WORKS_AT"],
         "directions": ["out", "in"]}  # fmt: skip
    ]
    result = run("path", store, "Alice", "Carol", "--format", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["path", "hop", "from", "relation", "to", "direction"],
        ["1", "1", "Alice", "WORKS_AT", "Acme", "out"],
        ["1", "2", "Acme", "WORKS_AT", "Carol", "in"],
    ]


@pytest.mark.engine
def test_path_command_without_a_path(run, store):
    result = run("path", store, "Alice", "Carol", "--direction", "out")
    assert result.exit_code == 0 and "no path between Alice and Carol" in result.stdout
    assert json.loads(run("path", store, "Alice", "Bob", "--type", "WORKS_AT", "--format", "json").stdout) == []
    result = run("path", store, "Alice", "Nobody")
    assert result.exit_code == 1 and "Nobody" in result.stderr


# -- the parts ------------------------------------------------------------------------------------------


def test_split_script():
    split = split_script("MATCH (e) // a ; in a comment\nRETURN 'a;b', \"c;d\", `e;f`;\n  :help\n/* ; */ RETURN 1;")
    assert [(i.kind, i.text, i.line) for i in split.items] == [
        ("cypher", "MATCH (e) // a ; in a comment\nRETURN 'a;b', \"c;d\", `e;f`", 1),
        ("meta", ":help", 3),
        ("cypher", "RETURN 1", 4),
    ]
    assert split.complete
    assert not split_script("RETURN 'it''s").complete
    assert not split_script("RETURN 1 /* open").complete
    assert split_script(":search who's there?").items[0].text == ":search who's there?"
    inside = split_script("RETURN 1;\nMATCH (n:Entity)\n:not meta inside a statement")
    assert inside.rest.endswith(":not meta inside a statement")
    assert split_script("  \n// only a comment\n").complete


def test_parameter_names_and_code_state():
    assert parameter_names("MATCH (e {name: $who}) WHERE e.x <> '$no' RETURN $n, $who /* $c */") == ["who", "n"]
    state = code_state("MATCH (a)-[r:Relation {type: 'WO")
    assert state.quote == "'" and state.brackets == "[{"


def test_parse_args_and_values():
    args = parse_args('"Zoë Müller" Acme hops=2 type=KNOWS,WORKS_AT -> p', ["hops", "type"])
    assert args.words == ["Zoë Müller", "Acme"] and args.options == {"hops": "2", "type": "KNOWS,WORKS_AT"}
    assert args.bind == "p"
    assert parse_args("who's k=3 ->hits", ["k"]).text == "who's" and parse_args("x ->hits", []).bind == "hits"
    assert parse_args('near="Zoë Müller" data', ["near"]).options == {"near": "Zoë Müller"}
    assert parse_args('"k=3"', ["k"]).words == ["k=3"]
    for bad in ("x -> 1abc", "x -> a b", '"open'):
        with pytest.raises(CommandError):
            parse_args(bad, [])
    assert parse_value("[1, 2]") == [1, 2] and parse_value("NaN") == "NaN" and parse_value("Bob") == "Bob"


def _completions(session: Session, text: str) -> list[str]:
    event = CompleteEvent(completion_requested=True)
    return [c.text for c in ConsoleCompleter(session).get_completions(Document(text), event)]


@pytest.mark.engine
def test_completion(store, open_store):
    session = Session(open_store(store, read_only=True), Output(interactive=False), params={"hits": []})
    assert _completions(session, "MATCH (e:Entity {type: 'Pe") == ["Person'"]
    assert _completions(session, "MATCH (a)-[r:Relation {type: 'W") == ["WORKS_AT'"]
    assert _completions(session, "MATCH (a)-[r:Relation]->(b) WHERE r.type = 'K") == ["KNOWS'"]
    assert _completions(session, "MATCH (e:Entity {name: 'zo") == ["Zoë Müller'"]
    assert sorted(_completions(session, "MATCH (e:Ent")) == ["Entity", "EntityVersion"]  # history table too
    assert _completions(session, "MATCH (a)-[r:Rel") == ["Relation"]
    assert "observations" in _completions(session, "MATCH (e:Entity) RETURN e.obs")
    assert _completions(session, "MATCH (a)-[r:Relation]->(b) RETURN r.") == [
        "type", "properties", "created_at", "valid_from", "valid_to", "expired_at"]
    assert _completions(session, "RETURN $h") == ["hits"]
    assert "MATCH" in _completions(session, "MAT") and "match" in _completions(session, "mat")
    assert "lower(" in _completions(session, "RETURN lowe")
    assert _completions(session, ":pa") == [":pager", ":param", ":params", ":path", ":paths"]
    assert _completions(session, ":path Zo") == ['"Zoë Müller"']
    assert _completions(session, ':neighbors "Zoë M') == ['"Zoë Müller"']
    assert _completions(session, ":search x type=Co") == ["Company"]
    assert _completions(session, ":search x near=Al") == ["Alice"]
    assert _completions(session, ":format j") == ["json"]
    assert _completions(session, "RETURN 'Pe") == []  # a string that is not a type or a name
    session.mem.close()
    assert _completions(session, ":path Al") == [""]  # the store failed: an entry saying so, inserting nothing


class _OlderMemory:
    """A stand-in for a graphmem whose search has no near= and which has no recall:
    the console must say so rather than fake them."""

    read_only = True
    embedder = object()

    def search(self, query, k=10, *, types=None):
        return []


def _session(mem, fmt: str) -> tuple[Session, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    output = Output(fmt=fmt, interactive=False, json_lines=True, console=RichConsole(file=out, width=200),
                    err_console=RichConsole(file=err, width=200))  # fmt: skip
    return Session(mem, output), out, err


def test_features_this_memory_lacks_are_said_so():
    session, out, err = _session(_OlderMemory(), "table")
    assert session.run(Item("meta", ":search data k=2", 1))
    assert not session.run(Item("meta", ":search data near=Alice hops=1", 2))
    assert "search(near=...) is not available in this version" in err.getvalue()
    assert not session.run(Item("meta", ":recall data", 3))
    assert ":recall is not available in this version" in err.getvalue()
    session.run(Item("meta", ":help recall", 4))
    assert "(not available in this version)" in out.getvalue()


@pytest.mark.engine
def test_recall_in_the_console(store, open_store):
    mem = open_store(store, read_only=True, embedder=graphmem.HashEmbedder())
    if not hasattr(mem, "recall"):
        pytest.skip("this graphmem has no recall yet")
    session, out, err = _session(mem, "json")
    assert session.run(Item("meta", ":recall data pipelines k=1 hops=1 max_entities=3 -> ctx", 1)), err.getvalue()
    found = json.loads(out.getvalue())
    assert found["entities"][0]["name"] == "Alice" and len(found["entities"]) <= 3
    assert ["Alice", "WORKS_AT", "Acme"] in found["relations"]
    assert session.params["ctx"] == [e["name"] for e in found["entities"]]
    assert session.run(Item("meta", ":recall data pipelines k=1 chars=60", 2)), err.getvalue()
    text = json.loads(out.getvalue().splitlines()[-1])["text"]
    assert text.startswith("Entities:\n- Alice [Person]") and len(text) <= 60
    session, out, err = _session(mem, "table")
    assert session.run(Item("meta", ":recall data pipelines k=1 hops=1", 3)), err.getvalue()
    assert "builds data pipelines" in out.getvalue() and "WORKS_AT" in out.getvalue()
    assert not session.run(Item("meta", ":recall data hops=-1", 4)) and "hops= must be at least 0" in err.getvalue()


@pytest.mark.engine
def test_composed_search_in_the_console(store, open_store):
    mem = open_store(store, read_only=True, embedder=graphmem.HashEmbedder())
    if "near" not in inspect.signature(mem.search).parameters:
        pytest.skip("this graphmem has no composed search yet")
    session, out, err = _session(mem, "json")
    assert session.run(Item("meta", ":search data near=Bob hops=2 k=3 -> close", 1)), err.getvalue()
    hits = json.loads(out.getvalue())
    assert {h["name"] for h in hits} <= {"Bob", "Alice", "Acme"} and all(h["hops"] <= 2 for h in hits)
    assert all(h["path"]["nodes"][0] == "Bob" and len(h["path"]["relations"]) == h["hops"] for h in hits)
    session.params["anchors"] = ["Carol", "Zoë Müller"]
    assert session.run(Item("meta", ":search data near=$anchors hops=0 rank=hybrid decay=0.5", 2)), err.getvalue()
    assert {h["name"] for h in json.loads(out.getvalue().splitlines()[-1])} == {"Carol", "Zoë Müller"}
    assert not session.run(Item("meta", ":search data near=$nothing", 3))
    assert "no parameter $nothing" in err.getvalue()


@pytest.mark.engine
def test_search_command_near(run, store):
    if "near" not in inspect.signature(graphmem.Memory.search).parameters:
        pytest.skip("this graphmem has no composed search yet")
    result = run("search", store, "data", "--near", "Bob", "--hops", "1", "--embedder", "hash", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["name"] for r in rows} == {"Bob", "Alice"} and {r["hops"] for r in rows} == {"0", "1"}
    table = run("search", store, "data", "--near", "Bob", "--hops", "1", "--embedder", "hash")
    assert "Bob -[KNOWS]-> Alice" in table.stdout
