"""Hostile and bad input: each case is refused with a typed error and a message
that says what was wrong, and the store's content is unchanged (its export is
byte-for-byte the same before and after). Cypher-looking values are data."""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import graphmem
from graphmem import CorruptStore, InvalidInput, NotFound, QueryError, ReadOnlyStore
from graphmem.cli.main import cli
from graphmem.interchange.transfer import export_jsonl

from ..conftest import ENGINE


def _export(mem: graphmem.Memory) -> bytes:
    out = io.BytesIO()
    export_jsonl(mem, out, format="graphmem")
    return out.getvalue()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "s"
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entity("Alice", type="Person", text="Data engineer", observations=["likes Rust"],
                       properties={"age": 34}, embedding=[0.6, -0.8, 0.0])  # fmt: skip
        mem.add_entity("Acme", type="Company", embedding=[0.0, 0.0, 1.0])
        mem.add_entity("Bob", type="Person")
        mem.add_relation("Alice", "WORKS_AT", "Acme", properties={"since": 2021})
        mem.add_relation("Bob", "KNOWS", "Alice")
    return path


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    path = tmp_path / "s"
    shutil.copytree(pristine, path)
    return path


V = [1.0, 0.0, 0.0]
_many_then_bad = [{"name": f"bulk{i}"} for i in range(100_000)] + [{"name": "bad\x00"}]

# (id, call, error type, a fragment the message must contain)
API_CASES: list[tuple[str, Callable[[graphmem.Memory], Any], type[Exception], str]] = [
    ("name None", lambda m: m.add_entity(None), InvalidInput, "name must be a str"),
    ("name int", lambda m: m.add_entity(123), InvalidInput, "not int"),
    ("name empty", lambda m: m.add_entity(""), InvalidInput, "empty"),
    ("name blank", lambda m: m.add_entity(" \t "), InvalidInput, "blank"),
    ("name huge", lambda m: m.add_entity("n" * 100_000), InvalidInput, "limit is 512"),
    ("name NUL", lambda m: m.add_entity("a\x00b"), InvalidInput, "control characters"),
    ("name newline", lambda m: m.add_entity("a\nb"), InvalidInput, "control characters"),
    ("name key separator", lambda m: m.add_entity("default\x1fAlice"), InvalidInput, "control characters"),
    ("name lone surrogate", lambda m: m.add_entity("a\ud800"), InvalidInput, "control characters"),
    ("name bytes", lambda m: m.add_entity(b"Alice"), InvalidInput, "not bytes"),
    ("type with space", lambda m: m.add_entity("x", type="Not A Type"), InvalidInput, "identifier"),
    ("type Cypher", lambda m: m.add_entity("x", type="T}) DETACH DELETE e //"), InvalidInput, "identifier"),
    ("type too long", lambda m: m.add_entity("x", type="T" * 65), InvalidInput, "limit is 64"),
    ("text int", lambda m: m.add_entity("x", text=5), InvalidInput, "text must be a str"),
    ("text 10 MB", lambda m: m.add_entity("x", text="a" * 10_000_000), InvalidInput, "limit is 1000000"),
    ("text NUL", lambda m: m.add_entity("x", text="a\x00b"), InvalidInput, "NUL"),
    ("observations str", lambda m: m.add_entity("x", observations="one"), InvalidInput, "list of str"),
    ("observation int", lambda m: m.add_entity("x", observations=["ok", 1]), InvalidInput, "observation must be"),
    ("properties list", lambda m: m.add_entity("x", properties=[1, 2]), InvalidInput, "properties must be a dict"),
    ("property key int", lambda m: m.add_entity("x", properties={1: "a"}), InvalidInput, "property names"),
    ("property NaN", lambda m: m.add_entity("x", properties={"a": math.nan}), InvalidInput, "JSON"),
    ("property object", lambda m: m.add_entity("x", properties={"a": object()}), InvalidInput, "JSON"),
    ("embedding NaN", lambda m: m.add_entity("x", embedding=[math.nan] * 3), InvalidInput, "NaN"),
    ("embedding inf", lambda m: m.add_entity("x", embedding=[math.inf, 0, 0]), InvalidInput, "infinity"),
    ("embedding zero", lambda m: m.add_entity("x", embedding=[0, 0, 0]), InvalidInput, "zero vector"),
    ("embedding wrong dim", lambda m: m.add_entity("x", embedding=[1.0, 2.0]), InvalidInput, "dimension"),
    ("embedding 2-D", lambda m: m.add_entity("x", embedding=[V]), InvalidInput, "1-D"),
    ("embedding text", lambda m: m.add_entity("x", embedding="abc"), InvalidInput, "numbers"),
    ("update with a bad embedding", lambda m: m.add_entity("Alice", text="new", embedding=[1.0]), InvalidInput,
     "dimension"),
    ("batch is a str", lambda m: m.add_entities("Alice"), InvalidInput, "list of dicts"),
    ("batch is a dict", lambda m: m.add_entities({"name": "x"}), InvalidInput, "list of dicts"),
    ("batch record int", lambda m: m.add_entities([42]), InvalidInput, "entity #0"),
    ("batch unknown field", lambda m: m.add_entities([{"name": "x", "bogus": 1}]), InvalidInput, "unknown field"),
    ("batch without name", lambda m: m.add_entities([{"type": "T"}]), InvalidInput, "no 'name'"),
    ("batch bad second record", lambda m: m.add_entities([{"name": "ok"}, {"name": ""}]), InvalidInput, "entity #1"),
    ("batch mixed dims", lambda m: m.add_entities([{"name": "p", "embedding": V}, {"name": "q", "embedding": [1.0]}]),
     InvalidInput, "dimension"),
    ("100k batch, last bad", lambda m: m.add_entities(_many_then_bad), InvalidInput, "entity #100000"),
    ("relation to missing", lambda m: m.add_relation("Alice", "KNOWS", "Nobody"), NotFound, "Nobody"),
    ("relation from missing", lambda m: m.add_relation("Nobody", "KNOWS", "Alice"), NotFound, "Nobody"),
    ("relation bad type", lambda m: m.add_relation("Alice", "knows well", "Bob"), InvalidInput, "identifier"),
    ("relation target None", lambda m: m.add_relation("Alice", "KNOWS", None), InvalidInput, "target must be"),
    ("relation properties NaN", lambda m: m.add_relation("Alice", "KNOWS", "Bob", properties={"w": math.inf}),
     InvalidInput, "JSON"),
    ("relations short tuple", lambda m: m.add_relations([("Alice", "KNOWS")]), InvalidInput, "(source, type, target)"),
    ("relations one missing", lambda m: m.add_relations([("Alice", "KNOWS", "Bob"), ("Alice", "KNOWS", "Ghost")]),
     NotFound, "Ghost"),
    ("relations dict missing field", lambda m: m.add_relations([{"source": "Alice", "type": "K"}]), InvalidInput,
     "missing field"),
    ("relations is a str", lambda m: m.add_relations("Alice KNOWS Bob"), InvalidInput, "list of tuples"),
    ("delete name None", lambda m: m.delete_entity(None), InvalidInput, "name must be a str"),
    ("delete relation bad type", lambda m: m.delete_relation("Alice", "not valid", "Bob"), InvalidInput, "identifier"),
    ("neighbors of missing", lambda m: m.neighbors("Nobody"), NotFound, "Nobody"),
    ("neighbors direction", lambda m: m.neighbors("Alice", direction="sideways"), InvalidInput, "direction"),
    ("neighbors types int", lambda m: m.neighbors("Alice", types=5), InvalidInput, "types"),
    ("path to missing", lambda m: m.shortest_path("Alice", "Nobody"), NotFound, "Nobody"),
    ("path negative hops", lambda m: m.shortest_path("Alice", "Bob", max_hops=-1), InvalidInput, "max_hops"),
    ("path hops str", lambda m: m.shortest_path("Alice", "Bob", max_hops="2"), InvalidInput, "max_hops"),
    ("k_hop negative", lambda m: m.k_hop("Alice", -1), InvalidInput, "hops"),
    ("search NaN", lambda m: m.search([math.nan] * 3), InvalidInput, "NaN"),
    ("search wrong dim", lambda m: m.search([1.0, 0.0]), InvalidInput, "dimension"),
    ("search text without embedder", lambda m: m.search("who?"), InvalidInput, "embedder"),
    ("search k zero", lambda m: m.search(V, k=0), InvalidInput, "k must be"),
    ("search k bool", lambda m: m.search(V, k=True), InvalidInput, "k must be"),
    ("search near missing", lambda m: m.search(V, near="Nobody"), NotFound, "Nobody"),
    ("search hops without near", lambda m: m.search(V, max_hops=2), InvalidInput, "near"),
    ("search rank", lambda m: m.search(V, rank="bogus"), InvalidInput, "rank"),
    ("cypher syntax", lambda m: m.cypher("MATCH (e RETURN e"), QueryError, "Parser exception"),
    ("cypher empty", lambda m: m.cypher("   "), QueryError, "non-empty"),
    ("cypher injection-shaped", lambda m: m.cypher("'; MATCH (e) DETACH DELETE e; //"), QueryError, ""),
    ("cypher unbound parameter", lambda m: m.cypher("MATCH (e:Entity) WHERE e.name = $who DETACH DELETE e"),
     QueryError, "who"),
    ("cypher params not a dict", lambda m: m.cypher("RETURN $x AS x", [1]), InvalidInput, "params must be a dict"),
    ("cypher entity outside the model", lambda m: m.cypher("CREATE (:Entity {key: 'k', name: 'k', id: 5})"),
     QueryError, "refused"),
    ("cypher drops a table", lambda m: m.cypher("DROP TABLE Relation"), QueryError, ""),
]


@pytest.mark.parametrize(("call", "error", "fragment"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_bad_input_to_the_api_is_refused_and_changes_nothing(store: Path, call, error, fragment) -> None:
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        before = _export(mem)
        with pytest.raises(error) as info:
            call(mem)
        assert isinstance(info.value, graphmem.GraphMemError)
        assert fragment in str(info.value), str(info.value)
        assert _export(mem) == before
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:  # and on disk
        assert _export(mem) == before


# -- the command line ----------------------------------------------------------------------------


def _cli_cases(store: Path, tmp: Path) -> dict[str, tuple[list[str], str | None, int, str]]:
    bad_json = tmp / "bad_json.jsonl"
    bad_json.write_text('{"type":"entity","name":"ok"}\n\n{"type":"entity","name":\n')
    bad_vec = tmp / "bad_vec.jsonl"
    bad_vec.write_text('{"type":"entity","name":"a"}\n{"type":"entity","name":"b","embedding":[NaN,0,0]}\n')
    bad_name = tmp / "bad_name.jsonl"
    bad_name.write_text('{"type":"entity","name":"a"}\n' * 3 + '{"type":"entity","name":"x\\u0000y"}\n')
    bad_utf8 = tmp / "bad_utf8.jsonl"
    bad_utf8.write_bytes(b'{"type":"entity","name":"a"}\n{"type":"entity","name":"\xff\xfe"}\n')
    dangling = tmp / "dangling.jsonl"
    dangling.write_text('{"type":"entity","name":"new"}\n{"type":"relation","from":"new","to":"Ghost",'
                        '"relationType":"knows"}\n')  # fmt: skip
    unknown = tmp / "unknown.jsonl"
    unknown.write_text('{"type":"entity","name":"a","colour":"red"}\n')
    future = tmp / "future.jsonl"
    future.write_text('{"type":"graphmem","version":99}\n{"type":"entity","name":"a"}\n')
    s = str(store)
    return {
        "query syntax": (["query", s, "MATCH (e RETURN e"], None, 1, "Parser exception"),
        "query write without --write": (["query", s, "MATCH (e:Entity) DETACH DELETE e"], None, 1, "--write"),
        "query unbound parameter": (["query", s, "--write", "MATCH (e:Entity) WHERE e.name = $n DETACH DELETE e"],
                                    None, 1, "n"),
        "query bad -p value": (["query", s, "RETURN $x", "--param", "x"], None, 2, "NAME=VALUE"),
        "query missing store": (["query", str(tmp / "absent"), "RETURN 1"], None, 1, "no graphmem store"),
        "import missing file": (["import", "--embedder", "none", s, str(tmp / "absent.jsonl")], None, 2, "does not exist"),
        "import a folder": (["import", "--embedder", "none", s, str(tmp)], None, 2, "is a directory"),
        "import bad JSON line": (["import", "--embedder", "none", s, str(bad_json)], None, 1, "line 3"),
        "import NaN vector": (["import", "--embedder", "none", s, str(bad_vec)], None, 1, "line 2"),
        "import NUL in name": (["import", "--embedder", "none", s, str(bad_name)], None, 1, "line 4"),
        "import invalid UTF-8": (["import", "--embedder", "none", s, str(bad_utf8)], None, 1, "UTF-8"),
        "import dangling relation": (["import", "--embedder", "none", s, str(dangling)], None, 1, "Ghost"),
        "import unknown field": (["import", "--embedder", "none", s, str(unknown)], None, 1, "colour"),
        "import newer format": (["import", "--embedder", "none", s, str(future)], None, 1, "version"),
        "import from stdin, bad": (["import", "--embedder", "none", s, "-"], '{"type":"entity"}\n', 1, "line 1"),
        "export into a missing folder": (["export", s, str(tmp / "no" / "such" / "out.jsonl")], None, 1, "does not exist"),
        "export bad format": (["export", s, str(tmp / "o.jsonl"), "--format", "xml"], None, 2, "xml"),
        "search wrong dim": (["search", s, "--vector", "[1, 2]"], None, 1, "dimension"),
        "search vector not JSON": (["search", s, "--vector", "one,two"], None, 2, "JSON"),
        "search NaN vector": (["search", s, "--vector", "[NaN, 0, 0]"], None, 1, ""),
        "search k zero": (["search", s, "--vector", "[1, 0, 0]", "-k", "0"], None, 2, "0"),
        "search like missing": (["search", s, "--like", "Nobody"], None, 1, "Nobody"),
        "path to missing": (["path", s, "Alice", "Nobody"], None, 1, "Nobody"),
        "path negative hops": (["path", s, "Alice", "Bob", "--max-hops", "-1"], None, 2, "-1"),
        "stats of a file": (["stats", str(bad_json)], None, 1, "is a file"),
        "unknown engine": (["--engine", "sqlite", "stats", s], None, 2, "sqlite"),
        "console read-only write": (["console", "--embedder", "none", s], "CREATE (:Entity {key: 'z', name: 'z', id: 77});\n", 1,
                                    "read-only"),
        "console read-only delete": (["console", "--embedder", "none", s], "MATCH (e:Entity) DETACH DELETE e;\n", 1, "read-only"),
    }


# The ids of _cli_cases (which writes its files into the test's tmp_path, so
# it cannot run at collection); test_the_tables_have_at_least_forty_cases
# checks the two agree.
_CLI_IDS = [
    "query syntax", "query write without --write", "query unbound parameter", "query bad -p value",
    "query missing store", "import missing file", "import a folder", "import bad JSON line", "import NaN vector",
    "import NUL in name", "import invalid UTF-8", "import dangling relation", "import unknown field",
    "import newer format", "import from stdin, bad", "export into a missing folder", "export bad format",
    "search wrong dim", "search vector not JSON", "search NaN vector", "search k zero", "search like missing",
    "path to missing", "path negative hops", "stats of a file", "unknown engine", "console read-only write",
    "console read-only delete",
]  # fmt: skip


@pytest.mark.parametrize("case", _CLI_IDS)
def test_bad_input_to_the_cli_is_refused_and_changes_nothing(store: Path, tmp_path: Path, case: str) -> None:
    args, stdin, status, fragment = _cli_cases(store, tmp_path)[case]
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        before = _export(mem)
    args = args if args[0] == "--engine" else ["--engine", ENGINE, *args]
    result = CliRunner().invoke(cli, args, input=stdin, catch_exceptions=False)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == status, output
    assert "Traceback" not in output and fragment in output, output
    if status == 1:
        assert "error:" in output
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        assert _export(mem) == before


def test_the_tables_have_at_least_forty_cases(tmp_path: Path) -> None:
    assert len(API_CASES) + len(_CLI_IDS) >= 40
    assert list(_cli_cases(Path("/s"), tmp_path)) == _CLI_IDS


# -- Cypher-looking values are data; read-only means read-only --------------------------------------

_HOSTILE_STRINGS = [
    "x'}) MATCH (e) DETACH DELETE e //",
    'Robert"); DROP TABLE Entity; --',
    "$key",
    "{name: 'Alice'}",
    "MATCH (n) RETURN n",
    "` backtick",
    "\u202e right-to-left",
    "東京 🙂",
]


def test_cypher_looking_values_are_stored_verbatim(store: Path) -> None:
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        before = {e.name for e in mem.iter_entities()}
        for i, s in enumerate(_HOSTILE_STRINGS):
            mem.add_entity(s, text=s, observations=[s], properties={s: s}, embedding=[1.0, float(i), 0.0])
            mem.add_relation(s, "MENTIONS", "Alice", properties={s: s})
        for s in _HOSTILE_STRINGS:
            e = mem.get_entity(s)
            assert (e.name, e.text, e.observations, e.properties) == (s, s, (s,), {s: s})
            assert mem.get_relation(s, "MENTIONS", "Alice").properties == {s: s}
            assert {n.name for n in mem.neighbors(s)} == {"Alice"}
            assert mem.shortest_path(s, "Bob") is not None
        assert {e.name for e in mem.iter_entities()} == before | set(_HOSTILE_STRINGS)
        assert mem.delete_entity(_HOSTILE_STRINGS[0])
        assert {e.name for e in mem.iter_entities()} == before | set(_HOSTILE_STRINGS[1:])


_WRITES = [
    "CREATE (:Entity {key: 'default\x1fz', namespace: 'default', name: 'z', id: 500, type: 'T'})",
    "MATCH (e:Entity) SET e.text = 'changed'",
    "MATCH (e:Entity) DETACH DELETE e",
    "MATCH ()-[r:Relation]->() DELETE r",
    "MERGE (e:Entity {key: 'default\x1fm'}) SET e.name = 'm', e.id = 501, e.namespace = 'default', e.type = 'T'",
    "DROP TABLE Relation",
    "CREATE NODE TABLE Evil (id INT64, PRIMARY KEY (id))",
    "ALTER TABLE Entity ADD evil STRING",
    "MATCH (a:Entity), (b:Entity) CREATE (a)-[:Relation {type: 'X'}]->(b)",
    "CHECKPOINT",
]


@pytest.mark.parametrize("statement", _WRITES)
def test_read_only_cypher_cannot_write(store: Path, statement: str) -> None:
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        before = _export(mem)
        with pytest.raises((ReadOnlyStore, QueryError)):
            mem.cypher(statement)
        assert _export(mem) == before
    result = CliRunner().invoke(cli, ["--engine", ENGINE, "query", str(store), statement], catch_exceptions=False)
    assert result.exit_code != 0 and "Traceback" not in result.output
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        assert _export(mem) == before


def test_opening_with_bad_arguments_leaves_the_store_alone(store: Path, tmp_path: Path) -> None:
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        before = _export(mem)
    listing = sorted(p.name for p in store.iterdir())
    for call, error in [
        (lambda: graphmem.open(store, engine="sqlite", embedder=None), InvalidInput),
        (lambda: graphmem.open(store, engine=ENGINE, embedder="bogus"), InvalidInput),
        (lambda: graphmem.open(store, engine=ENGINE, embedder=graphmem.HashEmbedder(dim=8)), InvalidInput),
        (lambda: graphmem.open(store / "graph.db", engine=ENGINE, embedder=None), CorruptStore),
        (lambda: graphmem.open(None, engine=ENGINE, embedder=None, read_only=True), InvalidInput),
    ]:
        with pytest.raises(error):
            call()
    assert sorted(p.name for p in store.iterdir()) == listing
    with graphmem.open(store, engine=ENGINE, embedder=None, read_only=True) as mem:
        assert _export(mem) == before
