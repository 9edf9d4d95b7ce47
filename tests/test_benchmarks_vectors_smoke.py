"""The vectors benchmark suite runs end to end at a tiny size and its JSON is complete.

No timing is asserted. The suite runs in this process with the engine under
test (the harness's ``--child`` mode), with the real model on a tiny corpus so
the model-bound benchmarks still run through their code (loading the model is
most of this test's time).
"""

from __future__ import annotations

import json
import math
import os

import pytest

from benchmarks import bench_vectors, run
from benchmarks.bench_vectors import SUITE

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
SIZE = 1500
CORPUS = 40

pytestmark = pytest.mark.engine

_KUZU_ONLY = {"kuzu_index_build", "kuzu_index_query"}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("bench-vectors")
    out = base / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench_vectors, "CORPUS_TEXTS", CORPUS)
        mp.setattr(bench_vectors, "TEXT_QUERIES", 5)
        code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "1", "--out", str(out),
                         "--workdir", str(base), "--only", "vectors"])  # fmt: skip
    assert code == 0
    return json.loads((out / f"vectors-{ENGINE}.json").read_text(encoding="utf-8"))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_every_benchmark_is_measured_with_numeric_figures(result):
    expected = {b.name for b in SUITE.benchmarks} - (set() if ENGINE == "kuzu" else _KUZU_ONLY)
    measured = {m["benchmark"] for m in result["measurements"]}
    assert measured == expected
    for m in result["measurements"]:
        assert m["samples"] >= 1, m["benchmark"]
        for field in ("p50_ms", "p95_ms", "mean_ms", "ops_per_s"):
            assert _finite(m[field]) and m[field] > 0, (m["benchmark"], field)
        assert m["size"] == (CORPUS if m["graph"] == "minilm" else SIZE)


def test_recall_and_size_figures_reach_the_json(result):
    by_name = {m["benchmark"]: m["extra"] for m in result["measurements"]}
    for name in ("search_vec", "search_filtered_1pct", *(f"search_ef{ef}" for ef in bench_vectors.EF_CURVE)):
        assert 0.0 <= by_name[name]["recall_at_10"] <= 1.0, name
    # Exact scoring of a 1% allowed set misses only near-ties from int8 rounding.
    assert by_name["search_filtered_1pct"]["recall_at_10"] >= 0.9
    save = by_name["index_save"]
    assert save["disk_bytes_per_entity"] > 0 and save["resident_bytes_per_entity"] > 0
    assert save["int8_vs_float32"] > 3.9
    assert by_name["reopen_search"]["caught_up"] <= 1
    assert _finite(by_name["reopen_search"]["vs_hnswlib"]) and by_name["reopen_search"]["vs_hnswlib"] > 0
    # Vectors written just before the save are compared, not re-added: nothing differs.
    assert by_name["reopen_burst"]["caught_up"] == 0
    quant = by_name["quantize"]
    assert quant["mean_cos"] >= 0.999 and _finite(quant["recall_int8_vs_f32"])
    assert _finite(by_name["text_query"]["embed_p50_ms"])
    if ENGINE == "kuzu":
        kuzu = by_name["kuzu_index_query"]
        assert kuzu["status"].startswith("bundled") and 0.0 <= kuzu["recall_at_10"] <= 1.0
        assert _finite(kuzu["speedup_vs_graphmem_default_ef"])


def test_datasets_record_the_generated_vectors(result):
    (entry,) = result["datasets"]
    assert entry["graph"] == "clustered" and entry["size"] == SIZE and entry["queries"] == bench_vectors.QUERIES
    assert set(entry["hardness"]) == {"nn1_cos", "nn10_cos", "random_cos", "contrast"}
