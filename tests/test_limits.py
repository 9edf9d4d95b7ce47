"""Input limits (issue 17.4) and input the engine would refuse (17.5): refused
with InvalidInput before anything is written, through the API and import."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import graphmem
from graphmem import InvalidInput
from graphmem.config import (
    MAX_CALL_BYTES,
    MAX_LINE_BYTES,
    MAX_OBSERVATIONS,
    MAX_OBSERVATIONS_PER_CALL,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_DEPTH,
    MAX_RECORD_BYTES,
)
from graphmem.interchange.transfer import import_jsonl

pytestmark = pytest.mark.engine


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _unchanged(mem: graphmem.Memory, count: int) -> None:
    assert len(mem) == count
    assert [e.name for e in mem.iter_entities()] == ["a"][:count]


@pytest.mark.parametrize("call, message", [
    (lambda m: m.add_entity("a", observations=["o"] * (MAX_OBSERVATIONS + 1)), "at most 10,000 observations"),
    (lambda m: m.add_entity("a", observations=(f"o{i}" for i in range(10**9))), "more were given"),
    (lambda m: m.add_entities([{"name": f"n{i}", "observations": [f"o{j}" for j in range(MAX_OBSERVATIONS)]}
                               for i in range(MAX_OBSERVATIONS_PER_CALL // MAX_OBSERVATIONS + 1)]),
     "at most 100,000 observations"),
    (lambda m: m.add_entity("a", properties=_nested(10_000)), "nested more than 32 levels"),
    (lambda m: m.add_entity("a", properties=_nested(MAX_PROPERTY_DEPTH + 1)), "nested more than 32 levels"),
    (lambda m: m.add_relation("a", "R", "a", properties=_nested(10_000)), "nested more than 32 levels"),
    (lambda m: m.add_entity("a", properties={"k": "v" * MAX_PROPERTIES_BYTES}), "the limit is 1,048,576"),
    (lambda m: m.add_entity("a", text="t" * 1_000_000, observations=[f"o{i}" + "o" * 999_990 for i in range(16)]),
     f"the limit is {MAX_RECORD_BYTES:,}"),
    (lambda m: m.add_entity("a", properties={"k": "\ud800"}), "lone surrogate"),
    (lambda m: m.add_entity("a", properties={"\udc00": 1}), "lone surrogate"),
    (lambda m: m.add_entity("a", properties={"k": [{"deep": "x\udfff"}]}), "lone surrogate"),
    (lambda m: m.add_relation("a", "R", "a", properties={"k": "\ud800"}), "lone surrogate"),
    (lambda m: m.cypher("MERGE (e:Entity {key: $k}) SET e.text = $t", {"k": "x", "t": "\ud800"}),
     r"parameter \$t holds a lone surrogate"),
    (lambda m: m.cypher("UNWIND $rows AS r RETURN r", {"rows": [["ok"], {"n": "\udc00"}]}), r"\$rows .*lone surrogate"),
])  # fmt: skip
def test_over_the_limit_is_refused_before_writing(mem: graphmem.Memory, call, message: str) -> None:
    mem.add_entity("a")
    with pytest.raises(InvalidInput, match=message):
        call(mem)
    _unchanged(mem, 1)


def test_limits_hold_for_what_a_write_adds_to_the_stored_entity(mem: graphmem.Memory) -> None:
    mem.add_entity("a", observations=[f"o{i}" for i in range(MAX_OBSERVATIONS)])
    with pytest.raises(InvalidInput, match="would hold 10,001 observations"):
        mem.add_entity("a", observations=["one more"])
    mem.add_entity("b", properties={"k": "v" * (MAX_PROPERTIES_BYTES // 2)})
    with pytest.raises(InvalidInput, match="once merged"):
        mem.add_entity("b", properties={"j": "w" * (MAX_PROPERTIES_BYTES // 2)})
    assert len(mem.get_entity("a").observations) == MAX_OBSERVATIONS
    assert set(mem.get_entity("b").properties) == {"k"}


def test_the_limits_themselves_are_accepted(mem: graphmem.Memory) -> None:
    mem.add_entity("a", observations=[f"o{i}" for i in range(MAX_OBSERVATIONS)], properties=_nested(MAX_PROPERTY_DEPTH))
    assert len(mem.get_entity("a").observations) == MAX_OBSERVATIONS
    assert MAX_RECORD_BYTES < MAX_LINE_BYTES and MAX_RECORD_BYTES < MAX_CALL_BYTES


@pytest.mark.parametrize("type_", ["位置する", "GEHÖRT_ZU", "Città", "_x1"])
def test_unicode_identifier_types_are_accepted(mem: graphmem.Memory, type_: str) -> None:
    mem.add_entity("a", type=type_)
    mem.add_entity("b")
    mem.add_relation("a", type_, "b")
    assert mem.get_entity("a").type == type_
    assert [(n.name, n.type) for n in mem.neighbors("a", types=type_)] == [("b", type_)]
    assert mem.cypher("MATCH (e:Entity {type: $t}) RETURN e.name AS n", {"t": type_}) == [{"n": "a"}]


@pytest.mark.parametrize("type_", ["works at", "1st", "a-b", ""])
def test_non_identifier_types_are_still_refused(mem: graphmem.Memory, type_: str) -> None:
    with pytest.raises(InvalidInput, match="identifier"):
        mem.add_entity("a", type=type_)


def _import(mem: graphmem.Memory, text: str) -> None:
    import_jsonl(mem, io.BytesIO(text.encode("utf-8", "surrogatepass")), batch_size=10)


def test_import_checks_everything_the_engine_would_refuse_first(mem: graphmem.Memory) -> None:
    lines = [json.dumps({"type": "entity", "name": f"n{i}"}) for i in range(50)]
    lines.append('{"type":"entity","name":"bad","properties":{"k":"\\ud800"}}')  # a JSON escape: a lone surrogate
    with pytest.raises(InvalidInput, match="line 51: .*lone surrogate"):
        _import(mem, "\n".join(lines) + "\n")
    assert len(mem) == 0  # the earlier batches were not written


def test_import_refuses_deep_json_and_many_observations_over_the_file(mem: graphmem.Memory) -> None:
    deep = '{"type":"entity","name":"d","properties":' + '{"x":' * 10_000 + "1" + "}" * 10_000 + "}"
    with pytest.raises(InvalidInput, match="line 2: JSON nested too deeply"):
        _import(mem, '{"type":"entity","name":"a"}\n' + deep + "\n")
    half = json.dumps({"type": "entity", "name": "x", "observations": [f"o{i}" for i in range(MAX_OBSERVATIONS // 2 + 1)]})
    with pytest.raises(InvalidInput, match="line 2: entity 'x' reaches 10,002 observations"):
        _import(mem, half + "\n" + half + "\n")
    assert len(mem) == 0


@pytest.mark.parametrize("cold", [False, True])
def test_import_counts_the_observations_the_store_holds_before_writing(mem: graphmem.Memory, cold: bool) -> None:
    held = [f"held {j}" for j in range(MAX_OBSERVATIONS - 10)]
    mem.add_entity("near", text="an entity near the limit " * 4, observations=held)
    if cold:  # a cold entity keeps its observations packed: they count all the same
        assert mem.compact(cold_after=timedelta(0)) == 1
    lines = [json.dumps({"type": "entity", "name": f"n{i}", "observations": ["fine"]}) for i in range(30)]
    lines.append(json.dumps({"type": "entity", "name": "near", "observations": [f"new {j}" for j in range(6)]}))
    lines += [json.dumps({"type": "entity", "name": f"m{i}"}) for i in range(30)]
    lines.append(json.dumps({"type": "entity", "name": "near", "observations": [f"more {j}" for j in range(6)]}))
    refused = "line 62: entity 'near' would hold 10,002 observations .*nothing was written"
    with pytest.raises(InvalidInput, match=refused):
        _import(mem, "\n".join(lines) + "\n")  # batch_size=10: the first batches would have been written
    assert len(mem) == 1 and list(mem.get_entity("near").observations) == held


def test_import_of_what_the_store_holds_again_counts_it_once(mem: graphmem.Memory) -> None:
    held = [f"held {j}" for j in range(MAX_OBSERVATIONS - 10)]
    mem.add_entity("near", observations=held)
    again = json.dumps({"type": "entity", "name": "near", "observations": held + [f"new {j}" for j in range(10)]})
    _import(mem, again + "\n" + again + "\n")  # a write removes repeats: exactly at the limit
    assert len(mem.get_entity("near").observations) == MAX_OBSERVATIONS
    one_more = json.dumps({"type": "entity", "name": "near", "observations": ["one more"]})
    with pytest.raises(InvalidInput, match="line 2: entity 'near' would hold 10,001 observations"):
        _import(mem, json.dumps({"type": "entity", "name": "other"}) + "\n" + one_more + "\n")
    assert len(mem) == 1


def test_import_batches_stay_under_the_per_call_limits(mem: graphmem.Memory) -> None:
    per = MAX_OBSERVATIONS
    lines = [json.dumps({"type": "entity", "name": f"n{i}", "observations": [f"o{j}" for j in range(per)]})
             for i in range(MAX_OBSERVATIONS_PER_CALL // per + 2)]  # fmt: skip
    counts = import_jsonl(mem, io.StringIO("\n".join(lines) + "\n"))  # one batch_size batch would exceed the limit
    assert counts.entities == len(lines) and len(mem) == len(lines)


def test_an_over_long_line_is_refused_without_reading_it_whole(mem: graphmem.Memory) -> None:
    class Counting(io.BytesIO):
        largest = 0

        def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
            assert size is not None and size > 0, "a line must be read with a size cap"
            line = super().readline(size)
            Counting.largest = max(Counting.largest, len(line))
            return line

    long_line = b'{"type":"entity","name":"big","observations":[' + b'"o",' * (MAX_LINE_BYTES // 4) + b'"o"]}\n'
    source = Counting(b'{"type":"entity","name":"a"}\n' + long_line)
    with pytest.raises(InvalidInput, match="line 2: longer than 33,554,432 bytes"):
        import_jsonl(mem, source)
    assert Counting.largest <= MAX_LINE_BYTES + 1
    assert len(mem) == 0


def test_cli_import_of_deep_json_prints_an_error_not_a_traceback(tmp_path: Path, engine: str) -> None:
    data = tmp_path / "deep.jsonl"
    data.write_text('{"type":"entity","name":"d","properties":' + '{"x":' * 10_000 + "1" + "}" * 10_000 + "}\n")
    result = subprocess.run([sys.executable, "-m", "graphmem", "--engine", engine, "import", str(tmp_path / "s"),
                             str(data), "--embedder", "none"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "line 1: JSON nested too deeply" in result.stderr + result.stdout
