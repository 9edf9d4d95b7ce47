"""The benchmark report (issue 10) runs end to end at a tiny size and every table cell is filled.

What ``make bench-quick`` runs, shrunk to 300 entities and 2 repetitions: the
ops suite on both engines and the peers suite, each engine in its own child
process as the real run does, then RESULTS.md and the plots. No timing is
asserted. A peer that is not installed (the ``bench`` extra is optional) is
skipped, not failed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.bench_ops import SUITE as OPS
from benchmarks.bench_peers import SUITE as PEERS
from benchmarks.summary import OPS as OPS_ROWS

SIZE = 300
ENGINES = ("kuzu", "ladybug")
_MODULES = {"networkx": "networkx", "rustworkx": "rustworkx", "igraph": "igraph", "kglite": "kglite",
            "kuzu_cypher": "kuzu", "dict": "collections"}  # fmt: skip


def _installed(peer: str) -> bool:
    module = _MODULES[peer]
    if peer == "kglite" and importlib.util.find_spec("pandas") is None:
        return False
    return importlib.util.find_spec(module) is not None


def _peer_of(name: str) -> str:
    return next(p for p in _MODULES if name.endswith("_" + p) or name.endswith(p + "_hnsw"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bench-report")
    code = run.main(["--engines", ",".join(ENGINES), "--sizes", str(SIZE), "--repeat", "2", "--graphs", "random",
                     "--only", "ops,peers", "--out", str(base / "results"), "--workdir", str(base)])  # fmt: skip
    assert code == 0
    return base


def _load(base: Path, name: str) -> dict:
    return json.loads((base / "results" / f"{name}.json").read_text(encoding="utf-8"))


def test_ops_results_are_valid_json_with_every_operation_on_both_engines(report):
    for engine in ENGINES:
        result = _load(report, f"ops-{engine}")
        assert result["complete"] is True and result["engine"] == engine
        errors = [f"{m['benchmark']}: {m['error']}" for m in result["measurements"] if "error" in m]
        assert not errors, errors
        assert {m["benchmark"] for m in result["measurements"]} == {b.name for b in OPS.benchmarks}
        for m in result["measurements"]:
            for field in ("p50_ms", "p95_ms", "p99_ms"):
                assert math.isfinite(m[field]) and m[field] > 0, (m["benchmark"], field)
        size = next(m for m in result["measurements"] if m["benchmark"] == "bytes_per_memory")["extra"]
        assert size["disk_bytes_per_memory"] > 0 and size["resident_bytes_per_memory"] > 0


def test_peers_run_once_and_measure_every_installed_peer(report):
    assert not (report / "results" / "peers-ladybug.json").exists()
    result = _load(report, "peers-kuzu")
    errors = [f"{m['benchmark']}: {m['error']}" for m in result["measurements"] if "error" in m]
    assert not errors, errors
    expected = {b.name for b in PEERS.benchmarks if _installed(_peer_of(b.name))}
    assert {m["benchmark"] for m in result["measurements"]} == expected


def _table(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


def test_every_cell_of_the_headline_tables_is_filled(report):
    markdown = (report / "RESULTS.md").read_text(encoding="utf-8")
    ops = _table(markdown, "Agent-memory operations")
    assert [row[0] for row in ops] == [label for label, _ in OPS_ROWS.values()]
    for row in ops:
        assert "—" not in row and all(row), row
    peers = _table(markdown, "Peers side by side")
    assert peers, "no peer rows"
    for row in peers:
        assert "—" not in row and all(row), row
    sizes = _table(markdown, "Bytes per memory")
    assert {row[0] for row in sizes} == set(ENGINES)
    for row in sizes:
        assert "—" not in row and all(row), row


def test_plots_are_written_and_linked(report):
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib (the bench extra) is not installed")
    markdown = (report / "RESULTS.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", markdown)
    assert {Path(link).name for link in links} >= {"latency_vs_size.png", "memory_vs_size.png", "peers_vs_size.png"}
    for link in links:
        png = report / link
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link


@pytest.mark.skipif(importlib.util.find_spec("rustworkx") is None, reason="rustworkx (bench extra) not installed")
def test_rustworkx_call_comparison_times_every_call(capsys):
    from benchmarks import rustworkx_calls

    rustworkx_calls.main(["--sizes", str(SIZE), "--pairs", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(rustworkx_calls.CALLS)
    for line, name in zip(lines, rustworkx_calls.CALLS):
        assert name in line and math.isfinite(float(line.split("p50")[1].split()[0]))
