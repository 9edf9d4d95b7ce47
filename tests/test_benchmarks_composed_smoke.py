"""The composed benchmark suite runs end to end at a tiny size and its JSON is complete.

No timing is asserted. The suite runs in this process with the engine under
test (the harness's ``--child`` mode) on both graph shapes, so the shared
vector-index build, the store copy per shape and, on kuzu, the raw Kùzu peer
database all run through their code.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from benchmarks import run
from benchmarks.bench_composed import SUITE
from benchmarks.datasets import KINDS

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
SIZE = 800

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("bench-composed")
    out = base / "results"
    code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "3", "--graphs", ",".join(KINDS),
                     "--out", str(out), "--workdir", str(base), "--only", "composed"])  # fmt: skip
    assert code == 0
    return json.loads((out / f"composed-{ENGINE}.json").read_text(encoding="utf-8"))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_every_benchmark_is_measured_on_both_shapes(result):
    names = {b.name for b in SUITE.benchmarks}
    if ENGINE != "kuzu":
        names = {n for n in names if "kuzu" not in n}
    errors = [f"{m['benchmark']} ({m['graph']}): {m['error']}" for m in result["measurements"] if "error" in m]
    assert not errors, errors
    assert result["complete"] is True
    assert {(m["benchmark"], m["graph"]) for m in result["measurements"]} == {(n, k) for n in names for k in KINDS}
    for m in result["measurements"]:
        assert m["size"] == SIZE and m["samples"] == 3, m["benchmark"]
        for field in ("p50_ms", "p95_ms", "mean_ms", "ops_per_s"):
            assert _finite(m[field]) and m[field] > 0, (m["benchmark"], field)


def test_answers_match_the_brute_force_definition(result):
    """graphmem's answers are checked against networkx + exact cosine inside the suite; the
    figures must say they agree (int8 scores may swap near-ties, hence not exactly 1)."""
    for m in result["measurements"]:
        extra = m["extra"]
        if m["benchmark"].startswith("near_") and "numpy" not in m["benchmark"] and "kuzu" not in m["benchmark"]:
            assert extra["recall_at_10"] >= 0.9, (m["benchmark"], m["graph"], extra)
            assert extra["hops_agree"] == 1.0, (m["benchmark"], m["graph"])
            assert extra["median_neighbourhood"] >= 1
        if m["benchmark"] in ("near_2_numpy_networkx", "near_2_kuzu_varlen_exact"):
            assert extra["recall_at_10"] >= 0.99, (m["benchmark"], m["graph"], extra)
        if m["benchmark"] == "near_2_kuzu_vector_varlen":
            assert 0.0 <= extra["recall_at_10"] <= 1.0


def test_ratios_and_recall_figures_reach_the_json(result):
    near = {m["graph"]: m["extra"] for m in result["measurements"] if m["benchmark"] == "near_2"}
    peers = {"numpy_networkx"} | ({"kuzu_vector_varlen", "kuzu_varlen_exact"} if ENGINE == "kuzu" else set())
    for kind in KINDS:
        for peer in peers:
            assert _finite(near[kind][f"speedup_vs_{peer}"]), (kind, peer)
    for m in result["measurements"]:
        if m["benchmark"] == "recall_1":
            assert 1 <= m["extra"]["median_entities"] <= 30 and m["extra"]["median_text_chars"] > 0
        if m["benchmark"] == "paths_between":
            assert 0.0 <= m["extra"]["connected"] <= 1.0


def test_datasets_record_the_shared_index_build(result):
    entries = {d["graph"]: d for d in result["datasets"]}
    assert set(entries) == set(KINDS)
    for entry in entries.values():
        assert entry["size"] == SIZE and entry["relations"] > 0 and entry["hnsw_build_s"] > 0
        # Each shape's copy of the store reuses the saved index instead of rebuilding it.
        assert entry["index_load"]["source"] == "file" and entry["index_load"]["caught_up"] <= 1
