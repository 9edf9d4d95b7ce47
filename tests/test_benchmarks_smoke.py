"""The benchmark harness runs end to end on a tiny graph and its outputs are complete.

No timing is asserted: this checks that every benchmark still runs against the
current API and that the JSON and RESULTS.md it writes are well formed. The
suite runs in this process with the engine under test (the harness's
``--child`` mode); the parent mode, which spawns one process per engine, is
covered by running it for that one engine.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import graphmem
from benchmarks import report, run
from benchmarks.bench_core import SUITE as CORE
from benchmarks.datasets import KINDS, generate

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
ROOT = Path(__file__).resolve().parent.parent
SIZE = 500

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def core_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("bench")
    out = base / "results"
    code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "1", "--graphs", ",".join(KINDS),
                     "--out", str(out), "--workdir", str(base), "--only", "core"])  # fmt: skip
    assert code == 0
    return base, json.loads((out / f"core-{ENGINE}.json").read_text(encoding="utf-8"))


def test_every_core_benchmark_is_measured_with_numeric_percentiles(core_result):
    _, result = core_result
    assert result["suite"] == "core" and result["engine"] == ENGINE and result["sizes"] == [SIZE]
    expected = {(b.name, kind) for b in CORE.benchmarks for kind in KINDS}
    errors = [f"{m['benchmark']} ({m['graph']}): {m['error']}" for m in result["measurements"] if "error" in m]
    assert not errors, errors
    assert result["complete"] is True
    measured = {(m["benchmark"], m["graph"]) for m in result["measurements"]}
    assert measured == expected
    for m in result["measurements"]:
        assert m["size"] == SIZE and m["samples"] >= 1
        for field in ("p50_ms", "p95_ms", "mean_ms", "ops_per_s"):
            assert isinstance(m[field], float) and math.isfinite(m[field]) and m[field] > 0, (m["benchmark"], field)
        assert m["p50_ms"] <= m["p95_ms"] <= m["max_ms"]
    assert set(result["benchmarks"]) == {b.name for b in CORE.benchmarks}


def test_result_records_machine_versions_seed_and_command(core_result):
    _, result = core_result
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"]
    assert {"kuzu", "ladybug", "numpy", "pyarrow"} <= set(machine["packages"])
    assert machine["packages"][ENGINE]
    assert result["seed"] == 42 and result["command"].startswith("python -m benchmarks.run")
    assert {d["graph"] for d in result["datasets"]} == set(KINDS)


def test_bulk_load_writes_every_record(core_result):
    _, result = core_result
    ops = {(m["benchmark"], m["graph"]): m["ops"] for m in result["measurements"]}
    for kind in KINDS:
        assert ops[("bulk_entities", kind)] == SIZE
        assert ops[("bulk_relations", kind)] == generate(kind, SIZE).m


def test_results_md_is_generated_into_the_given_directory(core_result):
    base, _ = core_result
    markdown = report.write_markdown(base / "results", base / "RESULTS.md")
    assert markdown == base / "RESULTS.md"
    text = markdown.read_text(encoding="utf-8")
    assert "python -m benchmarks.run" in text and f"**{ENGINE}**" in text
    for bench in CORE.benchmarks:
        assert f"| {bench.name} | random | {SIZE} |" in text
    assert "p50 <= 0.05 ms" in text and ">= 150k/s at 1M" in text


def test_only_merges_into_existing_results(core_result, tmp_path):
    base, full = core_result
    out = tmp_path / "results"
    out.mkdir()
    # The first run as if made by other code: its header must keep that commit.
    first_machine = {**full["machine"], "git": {"commit": "f" * 40, "dirty": False}}
    (out / f"core-{ENGINE}.json").write_text(json.dumps({**full, "machine": first_machine}), encoding="utf-8")
    code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "1", "--graphs", "random",
                     "--out", str(out), "--workdir", str(tmp_path), "--only", "get_warm"])  # fmt: skip
    assert code == 0
    merged = json.loads((out / f"core-{ENGINE}.json").read_text(encoding="utf-8"))
    assert len(merged["measurements"]) == len(full["measurements"])
    assert [u["benchmarks"] for u in merged["updates"]] == [["get_warm"]]
    assert merged["machine"] == first_machine and merged["command"] == full["command"]
    (update,) = merged["updates"]
    assert update["git"] == report.machine_info()["git"] and update["packages"][ENGINE]
    text = report.render_markdown([merged])
    assert f"**{ENGINE}**" in text and "graphmem ffffffffff" in text
    assert f"re-measured by `{update['command']}`" in text and f"graphmem {update['git']['commit'][:10]}" in text


def test_parent_runs_the_engine_in_a_child_process(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--engines", ENGINE, "--sizes", "200", "--repeat", "1",
         "--graphs", "random", "--out", str(out), "--workdir", str(tmp_path), "--only", "get_cold"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / f"core-{ENGINE}.json").read_text(encoding="utf-8"))
    assert [m["benchmark"] for m in result["measurements"]] == ["get_cold"]
    assert result["complete"] is True and not result.get("updates")
    assert result["measurements"][0]["cpu_mean_ms"] > 0
    assert (tmp_path / "RESULTS.md").exists()


def test_unknown_only_name_is_refused():
    with pytest.raises(SystemExit, match="no suite or benchmark named 'nope'"):
        run.main(["--engines", ENGINE, "--only", "nope"])


def test_bulk_probe_feeds_the_engine_every_way(tmp_path):
    """benchmarks/bulk_probe.py: each way of feeding the engine writes every row (a tiny load)."""
    from benchmarks import bulk_probe

    for way in bulk_probe.WAYS:
        out = bulk_probe.probe(way, 300, 900, tmp_path / way, per_batch=True)
        assert out["entity_per_cpu_s"] > 0 and out["relation_per_cpu_s"] > 0, out
        assert len(out["relation_batches_copy_commit_cpu_s"]) == 1, out
        # Counted by the engine: the probe's raw COPYs bypass graphmem's own bookkeeping.
        with graphmem.open(tmp_path / way / way, embedder=None, engine=ENGINE, read_only=True) as mem:
            counts = [mem.cypher(f"MATCH {pattern} RETURN count(*) AS n")[0]["n"]
                      for pattern in ("(e:Entity)", "()-[r:Relation]->()")]  # fmt: skip
        assert counts == [300, 900], (way, counts)


def test_bulk_parts_accounts_for_the_engine_and_the_bulk_functions(tmp_path):
    from benchmarks import bulk_parts

    entities, relations = bulk_parts.run(300, 900, tmp_path)
    assert (entities["records"], relations["records"]) == (300, 900)
    for line, kind in ((entities, "entities"), (relations, "relations")):
        parts = line["parts_cpu_s"]
        assert {f"read_{kind}", f"write_{kind}", f"apply_{kind}", "engine:<commit>"} <= set(parts), line
        # The bulk functions run inside the calls (write_* holds the COPY): never more than the whole.
        assert parts[f"read_{kind}"] + parts[f"write_{kind}"] + parts[f"apply_{kind}"] <= line["cpu_s"] + 0.01, line


def test_mcp_write_probe_times_each_write_and_its_statements(tmp_path):
    """benchmarks/mcp_write_probe.py: every small write tool is timed with the statements it ran."""
    from benchmarks import mcp_write_probe

    mcp_write_probe.fill(tmp_path / "filled", 60, ENGINE)
    out = mcp_write_probe.probe(tmp_path / "filled", 60, 3, ENGINE, "delete_entities")
    for tool in mcp_write_probe.WRITES:
        assert out[tool]["wall_ms"] > 0 and out[tool]["cpu_ms"] >= 0
        assert out[tool]["statements"]["<commit>"][0] == 1.0  # one transaction per call
    assert "entity_create_rows" in out["create_entities"]["statements"]  # ten new entities: a small batch
    native = {"kuzu": "kuzu._kuzu.execute", "ladybug": "ladybug._lbug.execute"}[ENGINE]
    assert native in out["profile"]  # the profiled calls ran statements


@pytest.mark.parametrize("settle", [False, True])
def test_write_probe_splits_each_write(tmp_path, settle):
    """benchmarks/write_probe.py: the call's wall, CPU and sleep, its stages, and the
    vector index's queue; the wrapped functions are put back afterwards."""
    from benchmarks import write_probe
    from graphmem.memory import bulk
    from graphmem.store.store import Store

    before = (Store._run, bulk.read_entities, bulk.written_rows)
    out = write_probe.probe(300, 0, 3, tmp_path, search=True, settle=settle)
    assert (Store._run, bulk.read_entities, bulk.written_rows) == before
    assert out["wall_ms_p50"] > 0 and out["thread_cpu_ms_p50"] > 0 and out["pending"] is not None
    stages = set(out["stages_ms_p50_wall_cpu"])
    assert {"read_entities", "write_entities", "written_rows", "statement <commit>"} <= stages
    assert "statement access_flush_one" not in stages  # the search's, flushed untimed
