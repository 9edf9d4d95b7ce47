"""JSONL import and export (graphmem.interchange.transfer): both formats, round trips, bad lines, batching."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.interchange.transfer import ExportCounts, ImportCounts, export_jsonl, import_jsonl

pytestmark = pytest.mark.engine

# What the reference MCP memory server writes (src/memory/index.ts, saveGraph):
# one object per line, key order type/name/entityType/observations and
# type/from/to/relationType, entities first.
MCP_SAMPLE = "\n".join(
    [
        '{"type":"entity","name":"Zoë Ångström","entityType":"person","observations":["Speaks fluent Swedish","Said \\"ship it\\" at the standup"]}',
        '{"type":"entity","name":"東京","entityType":"city","observations":["capital of Japan"]}',
        '{"type":"entity","name":"Acme Corp","entityType":"organization","observations":[]}',
        '{"type":"entity","name":"O\'Brien","entityType":"person","observations":["prefers tea ☕"]}',
        '{"type":"relation","from":"Zoë Ångström","to":"Acme Corp","relationType":"works_at"}',
        '{"type":"relation","from":"Zoë Ångström","to":"東京","relationType":"lives_in"}',
        '{"type":"relation","from":"O\'Brien","to":"Zoë Ångström","relationType":"mentors"}',
    ]
) + "\n"


def _build(mem) -> None:
    """A small graph using every field graphmem exports."""
    rng = np.random.default_rng(7)
    mem.add_entities(
        [
            {"name": "Alice", "type": "Person", "text": "Data engineer at Acme", "observations": ['says "hi"', "likes Rust"],
             "properties": {"age": 34, "tags": ["a", "b"], "nested": {"x": None}}, "embedding": rng.normal(size=8)},
            {"name": "Acme", "type": "Company", "embedding": rng.normal(size=8)},
            {"name": "Zoë 東京", "text": "línea\tcon tab", "observations": ["ünïcødé"]},
            {"name": "Bob", "type": "Person", "properties": {"ratio": 0.25}},
        ]
    )
    mem.add_relations(
        [
            ("Alice", "WORKS_AT", "Acme", {"since": 2021}),
            ("Alice", "KNOWS", "Bob"),
            ("Bob", "KNOWS", "Zoë 東京"),
            ("Zoë 東京", "VISITED", "Acme", {"when": ["2024-01", "2024-02"]}),
        ]
    )


def _export(mem, format="graphmem") -> str:
    out = io.StringIO()
    export_jsonl(mem, out, format=format)
    return out.getvalue()


def _without_timestamps(text: str) -> list[dict]:
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        record.pop("created_at", None)
        record.pop("updated_at", None)
    return records


def _graph(mem):
    entities = sorted((e.name, e.type, e.text, e.observations, json.dumps(e.properties, sort_keys=True)) for e in mem.iter_entities())
    relations = sorted((r.source, r.type, r.target, json.dumps(r.properties, sort_keys=True)) for r in mem.iter_relations())
    return entities, relations


# -- export -------------------------------------------------------------------------


def test_graphmem_export_fields(open_store):
    mem = open_store(None)
    _build(mem)
    out = io.StringIO()
    counts = export_jsonl(mem, out)
    assert counts == ExportCounts(entities=4, relations=4)
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == {"type": "graphmem", "version": 1}
    alice = json.loads(lines[1])
    assert list(alice) == ["type", "name", "entityType", "text", "observations", "properties", "embedding",
                           "created_at", "updated_at"]
    assert alice["entityType"] == "Person" and alice["observations"] == ['says "hi"', "likes Rust"]
    assert alice["properties"] == {"age": 34, "tags": ["a", "b"], "nested": {"x": None}}
    assert len(alice["embedding"]) == 8 and abs(np.linalg.norm(alice["embedding"]) - 1) < 1e-5
    assert alice["created_at"].endswith("+00:00")
    stored = mem.get_entity("Alice").embedding
    assert float(np.dot(stored / np.linalg.norm(stored), alice["embedding"])) > 0.9999
    relation = json.loads(lines[5])
    assert list(relation) == ["type", "source", "relationType", "target", "properties", "created_at"]
    assert "Zoë 東京" in out.getvalue()  # written as UTF-8, not \u escapes
    assert json.loads(lines[3])["embedding"] is None


def test_mcp_export_has_exactly_the_reference_keys(open_store):
    mem = open_store(None)
    _build(mem)
    records = [json.loads(line) for line in _export(mem, "mcp").splitlines()]
    entities = [r for r in records if r["type"] == "entity"]
    relations = [r for r in records if r["type"] == "relation"]
    assert len(entities) == 4 and len(relations) == 4 and len(records) == 8
    assert records[:4] == entities  # entities first, as the reference server writes them
    for r in entities:
        assert list(r) == ["type", "name", "entityType", "observations"]
    for r in relations:
        assert list(r) == ["type", "from", "to", "relationType"]
    assert {"type": "relation", "from": "Alice", "to": "Acme", "relationType": "WORKS_AT"} in relations


def test_export_to_a_binary_file_writes_utf8(open_store):
    mem = open_store(None)
    mem.add_entity("Zoë")
    out = io.BytesIO()
    export_jsonl(mem, out, format="mcp")
    assert out.getvalue().decode("utf-8") == '{"type":"entity","name":"Zoë","entityType":"Entity","observations":[]}\n'


def test_export_rejects_an_unknown_format(open_store):
    with pytest.raises(graphmem.InvalidInput, match="format must be one of graphmem, mcp"):
        export_jsonl(open_store(None), io.StringIO(), format="csv")


def test_export_reports_progress(open_store):
    mem = open_store(None)
    mem.add_entities([{"name": f"n{i}"} for i in range(5)])
    mem.add_relations([(f"n{i}", "NEXT", f"n{i + 1}") for i in range(4)])
    calls = []
    export_jsonl(mem, io.StringIO(), progress=lambda done, total: calls.append((done, total)), batch_size=2)
    assert calls[0] == (0, 9) and calls[-1] == (9, 9)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# -- round trips -----------------------------------------------------------------------


def test_graphmem_round_trip_is_identical_but_for_timestamps(open_store):
    first = open_store(None)
    _build(first)
    exported = _export(first)
    second = open_store(None)
    assert import_jsonl(second, io.StringIO(exported)) == ImportCounts(entities=4, relations=4)
    again = _export(second)
    assert _without_timestamps(again) == _without_timestamps(exported)
    assert _graph(second) == _graph(first)


def test_mcp_round_trip_is_byte_identical(open_store):
    first = open_store(None)
    assert import_jsonl(first, io.StringIO(MCP_SAMPLE)) == ImportCounts(entities=4, relations=3)
    exported = _export(first, "mcp")
    # Same lines; relations come out in graphmem's order (by endpoint ids), not the file's.
    assert sorted(exported.splitlines()) == sorted(MCP_SAMPLE.splitlines())
    second = open_store(None)
    import_jsonl(second, io.StringIO(exported))
    assert _export(second, "mcp") == exported


def test_reference_mcp_sample_imports_as_a_graph(open_store):
    mem = open_store(None)
    import_jsonl(mem, io.BytesIO(MCP_SAMPLE.encode("utf-8")))
    zoe = mem.get_entity("Zoë Ångström")
    assert zoe.type == "person" and zoe.observations == ("Speaks fluent Swedish", 'Said "ship it" at the standup')
    assert zoe.text is None and zoe.properties == {} and zoe.embedding is None
    assert mem.get_entity("O'Brien").observations == ("prefers tea \u2615",)
    assert [(n.name, n.type, n.direction) for n in mem.neighbors("Zoë Ångström")] == [
        ("Acme Corp", "works_at", "out"),
        ("O'Brien", "mentors", "in"),
        ("東京", "lives_in", "out"),
    ]


def test_embeddings_survive_the_round_trip(open_store):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(20, 16))
    first = open_store(None)
    first.add_entities([{"name": f"v{i}", "embedding": v} for i, v in enumerate(vectors)])
    second = open_store(None)
    import_jsonl(second, io.StringIO(_export(first)))
    for i, v in enumerate(vectors):
        got = second.get_entity(f"v{i}").embedding
        cosine = float(np.dot(got, v) / (np.linalg.norm(got) * np.linalg.norm(v)))
        assert cosine > 0.999
    assert second.stats()["vector_dim"] == 16


def test_disk_round_trip_through_files(tmp_path, open_store):
    first = open_store(tmp_path / "a")
    _build(first)
    target = tmp_path / "export.jsonl"
    with open(target, "w", encoding="utf-8") as fh:
        export_jsonl(first, fh)
    second = open_store(tmp_path / "b")
    with open(target, "rb") as fh:
        import_jsonl(second, fh)
    assert _graph(second) == _graph(first)


# -- reading ---------------------------------------------------------------------------


def test_relations_may_come_before_their_entities(open_store):
    mem = open_store(None)
    text = (
        '{"type":"relation","source":"a","relationType":"KNOWS","target":"b","properties":{"w":1}}\n'
        '{"type":"entity","name":"a"}\n'
        '\n'
        '{"type":"entity","name":"b","entityType":"Person"}\n'
    )
    assert import_jsonl(mem, io.StringIO(text)) == ImportCounts(entities=2, relations=1)
    assert mem.get_relation("a", "KNOWS", "b").properties == {"w": 1}


def test_records_without_a_type_field_are_recognised_by_their_keys(open_store):
    mem = open_store(None)
    text = '{"name":"a","entityType":"thing","observations":[]}\n{"name":"b","entityType":"thing"}\n' \
           '{"from":"a","to":"b","relationType":"near"}\n'
    assert import_jsonl(mem, io.StringIO(text)) == ImportCounts(entities=2, relations=1)
    assert mem.get_entity("a").type == "thing"


def test_relation_endpoints_may_already_be_in_the_store(open_store):
    mem = open_store(None)
    mem.add_entity("Existing")
    import_jsonl(mem, io.StringIO('{"type":"entity","name":"New"}\n{"type":"relation","from":"New","to":"Existing","relationType":"REFERS_TO"}\n'))
    assert mem.get_relation("New", "REFERS_TO", "Existing") is not None


def test_import_upserts_into_existing_entities(open_store):
    mem = open_store(None)
    mem.add_entity("a", type="Person", text="kept", observations=["old"], properties={"x": 1})
    import_jsonl(mem, io.StringIO('{"type":"entity","name":"a","entityType":"person","observations":["new","old"],"properties":{"y":2}}\n'))
    a = mem.get_entity("a")
    assert (a.type, a.text, a.observations, a.properties) == ("person", "kept", ("old", "new"), {"x": 1, "y": 2})


def test_crlf_bom_and_a_pipe_are_read(open_store):
    mem = open_store(None)
    data = ("\ufeff" + MCP_SAMPLE.replace("\n", "\r\n")).encode("utf-8")
    read_end, write_end = os.pipe()
    os.write(write_end, data)  # fits in the pipe buffer, so no writer thread is needed
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        assert not pipe.seekable()
        assert import_jsonl(mem, pipe) == ImportCounts(entities=4, relations=3)
    assert len(mem) == 4


def test_writes_in_batches_and_reports_progress(open_store):
    mem = open_store(None)
    calls = {"entities": [], "relations": []}
    add_entities, add_relations = mem.add_entities, mem.add_relations

    def spy_entities(records):
        calls["entities"].append(len(records))
        return add_entities(records)

    def spy_relations(records):
        calls["relations"].append(len(records))
        return add_relations(records)

    # The checked columns of a new batch go to the store without add_entities /
    # add_relations (graphmem.memory.bulk); one transaction either way.
    write_entity_batch, write_relation_batch = mem._write_entity_batch, mem._write_relation_batch

    def spy_entity_batch(batch):
        wrote = write_entity_batch(batch)
        if wrote:
            calls["entities"].append(len(batch))
        return wrote

    def spy_relation_batch(batch):
        wrote = write_relation_batch(batch)
        if wrote:
            calls["relations"].append(len(batch))
        return wrote

    mem.add_entities, mem.add_relations = spy_entities, spy_relations
    mem._write_entity_batch, mem._write_relation_batch = spy_entity_batch, spy_relation_batch
    lines = [json.dumps({"type": "entity", "name": f"n{i}"}) for i in range(7)]
    lines += [json.dumps({"type": "relation", "from": f"n{i}", "to": f"n{i + 1}", "relationType": "NEXT"}) for i in range(6)]
    progress = []
    counts = import_jsonl(mem, io.StringIO("\n".join(lines)), batch_size=3,
                          progress=lambda done, total: progress.append((done, total)))
    assert counts == ImportCounts(entities=7, relations=6)
    assert calls == {"entities": [3, 3, 1], "relations": [3, 3]}
    assert progress[0] == (0, 13) and progress[-1] == (13, 13)
    assert [d for d, t in progress if t is not None] == [0, 3, 6, 7, 10, 13]


def test_a_failing_batch_says_what_was_already_written(open_store):
    mem = open_store(None)
    add_entities, write_entity_batch = mem.add_entities, mem._write_entity_batch
    seen = []

    def fail_second(write):
        def run(records):
            seen.append(records)
            if len(seen) == 2:
                raise graphmem.StoreLocked("simulated: another writer")
            return write(records)
        return run

    # Either way a batch reaches the store: add_entities, or its checked columns (graphmem.memory.bulk).
    mem.add_entities, mem._write_entity_batch = fail_second(add_entities), fail_second(write_entity_batch)
    text = "\n".join(json.dumps({"type": "entity", "name": f"n{i}"}) for i in range(5))
    with pytest.raises(graphmem.StoreLocked, match=r"simulated: another writer \(while writing the entity batch of "
                                                   r"lines 3-4; the 2 records of earlier batches stay written\)"):
        import_jsonl(mem, io.StringIO(text), batch_size=2)
    assert sorted(e.name for e in mem.iter_entities()) == ["n0", "n1"]


def test_import_into_a_read_only_store_is_refused(tmp_path, open_store):
    open_store(tmp_path / "s").close()
    mem = open_store(tmp_path / "s", read_only=True)
    with pytest.raises(graphmem.ReadOnlyStore, match="read-only"):
        import_jsonl(mem, io.StringIO(MCP_SAMPLE))


def test_a_file_with_only_a_header_imports_nothing(open_store):
    mem = open_store(None)
    assert import_jsonl(mem, io.StringIO('\n{"type":"graphmem","version":1}\n\n')) == ImportCounts(0, 0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type":"entity","name":"x"', "line 2: not valid JSON"),
        ('["entity","x"]', "line 2: expected a JSON object, got an array"),
        ('{"type":"node","name":"x"}', "line 2: unknown record type 'node'"),
        ('{"name":"x"}', "line 2: cannot tell whether this is an entity or a relation"),
        ('{"type":"entity","entityType":"person"}', "line 2: an entity record needs a 'name'"),
        ('{"type":"entity","name":"x","colour":"red"}', r"line 2: unknown field\(s\) \['colour'\] in an entity record"),
        ('{"type":"entity","name":"x","entityType":["software engineer"]}', "line 2: entity type must be a str"),
        ('{"type":"entity","name":"x","observations":"one"}', "line 2: observations must be a list of str"),
        ('{"type":"entity","name":"","entityType":"person"}', "line 2: name must not be empty"),
        ('{"type":"entity","name":"x","embedding":[NaN, 1.0]}', "line 2: not valid JSON .*NaN"),
        ('{"type":"entity","name":"x","embedding":[0, 0]}', "line 2: embedding is the zero vector"),
        ('{"type":"entity","name":"x","created_at":"yesterday"}', "line 2: created_at is not an ISO 8601 timestamp"),
        ('{"type":"relation","from":"a","relationType":"R"}', r"line 2: a relation record needs 'from', 'to' and 'relationType'"),
        ('{"type":"relation","from":"a","target":"a","relationType":"R"}', "line 2: a relation has either"),
        ('{"type":"relation","from":"a","to":"a","relationType":7}', "line 2: relation type must be a str"),
        ('{"type":"relation","source":"a","target":"a","relationType":"R","properties":[1]}', "line 2: properties must be a dict"),
        ('{"type":"graphmem","version":1}', "line 2: the graphmem header must be the first record"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_written(open_store, line, message):
    mem = open_store(None)
    text = '{"type":"entity","name":"a"}\n' + line + '\n{"type":"entity","name":"b"}\n'
    with pytest.raises(graphmem.InvalidInput, match=message):
        import_jsonl(mem, io.StringIO(text))
    assert len(mem) == 0


def test_a_newer_format_version_is_refused(open_store):
    with pytest.raises(graphmem.InvalidInput, match="line 1: the file is graphmem format version 2"):
        import_jsonl(open_store(None), io.StringIO('{"type":"graphmem","version":2}\n'))


def test_invalid_utf8_is_named(open_store):
    with pytest.raises(graphmem.InvalidInput, match="line 2: not valid UTF-8"):
        import_jsonl(open_store(None), io.BytesIO(b'{"type":"entity","name":"a"}\n{"type":"entity","name":"\xff"}\n'))


def test_mixed_embedding_dimensions_are_refused(open_store):
    mem = open_store(None)
    text = '{"type":"entity","name":"a","embedding":[1,0,0]}\n{"type":"entity","name":"b","embedding":[1,0]}\n'
    with pytest.raises(graphmem.InvalidInput, match="line 2: the embedding has dimension 2, but line 1's has 3"):
        import_jsonl(mem, io.StringIO(text))
    assert len(mem) == 0


def test_embeddings_must_match_the_store_dimension(open_store):
    mem = open_store(None)
    mem.add_entity("old", embedding=[1.0, 0.0, 0.0, 0.0])
    with pytest.raises(graphmem.InvalidInput, match="line 1: the file's embeddings have dimension 2, but this store's vectors have dimension 4"):
        import_jsonl(mem, io.StringIO('{"type":"entity","name":"a","embedding":[1,0]}\n'))
    assert len(mem) == 1


def test_a_relation_to_a_missing_entity_is_refused_before_writing(open_store):
    mem = open_store(None)
    text = (
        '{"type":"entity","name":"Alice","entityType":"person","observations":[]}\n'
        '{"type":"relation","from":"Alice","to":"Bob","relationType":"knows"}\n'
    )
    with pytest.raises(graphmem.NotFound) as info:
        import_jsonl(mem, io.StringIO(text))
    assert str(info.value) == (
        "line 2: relation 'Alice' -[knows]-> 'Bob': no entity named 'Bob' in the file or in the store; "
        "nothing was written"
    )
    assert len(mem) == 0


def test_batch_size_must_be_positive(open_store):
    with pytest.raises(graphmem.InvalidInput, match="batch_size must be a positive int"):
        import_jsonl(open_store(None), io.StringIO(MCP_SAMPLE), batch_size=0)


def test_reference_types_that_are_not_identifiers_are_mapped_and_kept(open_store):
    """The reference server takes any type string; graphmem stores an identifier and keeps the original."""
    mem = open_store(None)
    lines = (
        '{"type":"entity","name":"Ada","entityType":"famous person","observations":[]}\n'
        '{"type":"entity","name":"Analytical Engine","entityType":"machine","observations":[]}\n'
        '{"type":"relation","from":"Ada","to":"Analytical Engine","relationType":"wrote programs for"}\n'
    )
    import_jsonl(mem, io.StringIO(lines))
    ada = mem.get_entity("Ada")
    assert (ada.type, ada.properties) == ("famous_person", {"mcp_entity_type": "famous person"})
    relation = mem.get_relation("Ada", "wrote_programs_for", "Analytical Engine")
    assert relation.properties == {"mcp_relation_type": "wrote programs for"}


# -- paths: never into a store's own files (issue 16, item 2) -------------------------


def test_export_to_a_path_refuses_to_overwrite_unless_forced(tmp_path, open_store):
    from graphmem.errors import UnsafePath

    mem = open_store(tmp_path / "a")
    _build(mem)
    target = tmp_path / "out.jsonl"
    target.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(UnsafePath, match="refusing to overwrite"):
        export_jsonl(mem, target)
    assert target.read_text(encoding="utf-8") == "keep me\n"
    assert export_jsonl(mem, target, force=True) == ExportCounts(entities=4, relations=4)
    assert target.stat().st_mode & 0o777 == 0o600
    second = open_store(tmp_path / "b")
    import_jsonl(second, str(target))  # a path reads too
    assert _graph(second) == _graph(mem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "out.jsonl"]  # no temp file left


def test_paths_into_a_store_are_refused_for_export_and_import(tmp_path, open_store):
    from graphmem.errors import InvalidInput, UnsafePath

    mem = open_store(tmp_path / "a")
    _build(mem)
    store = tmp_path / "a"
    exported = tmp_path / "dump.jsonl"
    export_jsonl(mem, exported)
    (tmp_path / "link").symlink_to(store / "graph.db")
    before = {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()}
    for target in (store / "graph.db", store / "x.jsonl", tmp_path / "link", tmp_path / "b" / ".." / "a" / "graph.db"):
        with pytest.raises(UnsafePath, match="inside the graphmem store"):
            export_jsonl(mem, target, force=True)
        with pytest.raises(UnsafePath, match="inside the graphmem store"):
            import_jsonl(mem, target)
    # An open file whose name is in a store is refused too (r+b: opening did not truncate it).
    with open(store / "graph.db", "r+b") as fh:
        with pytest.raises(UnsafePath):
            export_jsonl(mem, fh)
        with pytest.raises(UnsafePath):
            import_jsonl(mem, fh)
    assert {p.name: p.read_bytes() for p in store.iterdir() if p.is_file()} == before
    with pytest.raises(InvalidInput, match="force must be True or False"):
        export_jsonl(mem, tmp_path / "new.jsonl", force="yes")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _lines(draw: st.DrawFn) -> str:
    """A JSON value with whitespace (JSON's and others) around it, or text that is not quite JSON."""
    text = json.dumps(draw(_json_values))
    space = st.text(st.sampled_from(" \t\r\n\x0b\x0c\u3000"), max_size=2)
    line = draw(space) + text + draw(space) + draw(st.sampled_from(["", "\n", "x", "}", " 1"]))
    if draw(st.integers(0, 5)) == 0:  # cut or garble it
        cut = draw(st.integers(0, len(line)))
        line = line[:cut] + draw(st.text(max_size=2))
    return line


@settings(max_examples=400, deadline=None)
@given(line=_lines())
def test_line_decoder_agrees_with_json_decode(line: str) -> None:
    """The import's line parser gives what JSONDecoder.decode gives: the value, or the same error."""
    from graphmem.interchange.transfer import _DECODER, _decode

    def outcome(call):
        try:
            value = call(line)
        except ValueError as exc:
            return ("error", str(exc))
        return ("ok", json.dumps(value, sort_keys=True))  # NaN-safe comparison

    assert outcome(_decode) == outcome(_DECODER.decode)


def test_import_restores_the_garbage_collector(open_store) -> None:
    """The import pauses the cyclic collector and leaves it as it found it, after a refusal too."""
    import gc

    from graphmem.errors import InvalidInput

    mem = open_store(None)
    good = '{"type":"entity","name":"a"}\n'
    assert gc.isenabled()
    seen = []
    import_jsonl(mem, io.StringIO(good), progress=lambda done, total: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(InvalidInput, match="line 2"):
        import_jsonl(mem, io.StringIO(good + "{not json\n"))
    assert gc.isenabled()
    gc.disable()
    try:
        import_jsonl(mem, io.StringIO(good))
        assert not gc.isenabled()
    finally:
        gc.enable()


def _spill_lines() -> list[str]:
    """Entities with every bulk column filled somewhere, and relations between them."""
    lines = ['{"type":"graphmem","version":1}']
    for i in range(12):
        record = {"type": "entity", "name": f"n{i}", "entityType": "Thing" if i % 2 else "Place",
                  "text": f"text {i}", "observations": [f"o{i}", "shared"], "properties": {"i": i, "tag": "é"}}
        if i % 3 == 0:
            record["valid_from"] = "2024-01-02T03:04:05+00:00"
        lines.append(json.dumps(record))
    lines += [json.dumps({"type": "relation", "source": f"n{i}", "relationType": "NEXT", "target": f"n{i + 1}",
                          "properties": {"w": i}}) for i in range(11)]  # fmt: skip
    return lines


@pytest.fixture
def spill_files(monkeypatch):
    """Every temporary file the importer opens (it keeps nothing in memory: _KEEP_BYTES = 1),
    with the checks done 4 lines at a time so that several batches are kept."""
    import tempfile
    from types import SimpleNamespace

    from graphmem.interchange import transfer

    opened = []
    make = tempfile.TemporaryFile

    def spy(*args, **kwargs):
        fh = make(*args, **kwargs)
        opened.append(fh)
        return fh

    monkeypatch.setattr(transfer, "_KEEP_BYTES", 1)
    monkeypatch.setattr(transfer, "_CHECK_BATCH", 4)
    # The importer's own view of tempfile, not the module every library shares: numba's
    # first compile of a kernel in the process (its cache-path check) opens a TemporaryFile too.
    monkeypatch.setattr(transfer, "tempfile", SimpleNamespace(**{**vars(tempfile), "TemporaryFile": spy}))
    return opened


def _exported(mem) -> list[dict]:
    out = io.StringIO()
    export_jsonl(mem, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()[1:]]
    for row in rows:
        row.pop("created_at", None), row.pop("updated_at", None)
    return sorted(rows, key=json.dumps)


def test_checked_columns_past_the_memory_bound_are_written_from_temporary_files(open_store, spill_files, tmp_path,
                                                                               monkeypatch):  # fmt: skip
    from graphmem.interchange import transfer

    lines = _spill_lines()
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = open_store(tmp_path / "plain")
    monkeypatch.setattr(transfer, "_KEEP_BYTES", 1 << 40)  # kept in memory
    import_jsonl(expected, io.StringIO("\n".join(lines)), batch_size=5)
    monkeypatch.setattr(transfer, "_KEEP_BYTES", 1)
    assert not spill_files

    def not_read_again(*args, **kwargs):
        raise AssertionError("the writing pass read the file again instead of the kept columns")

    monkeypatch.setattr(transfer, "_batches", not_read_again)
    mem = open_store(tmp_path / "spilled")
    assert import_jsonl(mem, path, batch_size=5) == ImportCounts(entities=12, relations=11)
    assert len(spill_files) == 2 and all(fh.closed for fh in spill_files)  # one per kind, closed after
    assert _exported(mem) == _exported(expected)
    assert mem.get_entity("n3").valid_from is not None and mem.get_entity("n3").observations == ("o3", "shared")


def test_what_is_written_is_what_was_checked(open_store, spill_files, tmp_path, monkeypatch):
    """With the checked columns kept, a file changed between the two passes changes nothing written."""
    from graphmem.interchange import transfer

    lines = _spill_lines()
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    validate = transfer._validate

    def then_change_the_file(*args):
        out = validate(*args)
        path.write_text("\n".join(line.replace('"n1"', '"changed"') for line in lines) + "\n", encoding="utf-8")
        return out

    monkeypatch.setattr(transfer, "_validate", then_change_the_file)
    mem = open_store(tmp_path / "s")
    assert import_jsonl(mem, path) == ImportCounts(entities=12, relations=11)
    assert mem.get_entity("n1") is not None and mem.get_entity("changed") is None


def test_a_temporary_file_that_cannot_be_written_means_reading_the_file_again(open_store, spill_files, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    import errno

    from graphmem.interchange import transfer

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(transfer.tempfile, "TemporaryFile", full_disk)
    reads = []
    batches = transfer._batches
    monkeypatch.setattr(transfer, "_batches", lambda *a: reads.append(a[2]) or batches(*a))
    lines = _spill_lines()
    mem = open_store(tmp_path / "s")
    assert import_jsonl(mem, io.StringIO("\n".join(lines))) == ImportCounts(entities=12, relations=11)
    assert reads == [1, 2]  # entities, then relations, read again from the file
    expected = open_store(tmp_path / "plain")
    monkeypatch.undo()
    import_jsonl(expected, io.StringIO("\n".join(lines)))
    assert _exported(mem) == _exported(expected)


def test_a_refused_file_leaves_no_temporary_file_open(open_store, spill_files, tmp_path):
    from graphmem.errors import InvalidInput, NotFound

    mem = open_store(tmp_path / "s")
    lines = _spill_lines()
    with pytest.raises(InvalidInput, match=f"line {len(lines) + 1}"):
        import_jsonl(mem, io.StringIO("\n".join(lines + ['{"type":"entity","name":""}'])))
    with pytest.raises(NotFound, match="nobody"):
        import_jsonl(mem, io.StringIO("\n".join(lines + ['{"type":"relation","source":"n1","relationType":"R",'
                                                         '"target":"nobody"}'])))  # fmt: skip
    assert spill_files and all(fh.closed for fh in spill_files)
    assert len(mem) == 0
