"""The temporal benchmark suite runs end to end at a tiny size and its JSON is complete.

No timing is asserted. The suite runs in this process with the engine under
test (the harness's ``--child`` mode), on one small random graph.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from benchmarks import run
from benchmarks.bench_temporal import SUITE

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
SIZE = 2000

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("bench-temporal")
    out = base / "results"
    code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "2", "--graphs", "random",
                     "--out", str(out), "--workdir", str(base), "--only", "temporal"])  # fmt: skip
    assert code == 0
    return json.loads((out / f"temporal-{ENGINE}.json").read_text(encoding="utf-8"))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_every_benchmark_is_measured_with_numeric_figures(result):
    errors = [f"{m['benchmark']}: {m['error']}" for m in result["measurements"] if "error" in m]
    assert not errors, errors
    assert result["complete"] is True
    assert {m["benchmark"] for m in result["measurements"]} == {b.name for b in SUITE.benchmarks}
    for m in result["measurements"]:
        assert m["size"] == SIZE and m["graph"] == "random" and m["samples"] >= 1
        for field in ("p50_ms", "p95_ms", "mean_ms", "ops_per_s"):
            assert _finite(m[field]) and m[field] > 0, (m["benchmark"], field)


def test_ratios_and_memory_figures_reach_the_json(result):
    extra = {m["benchmark"]: m["extra"] for m in result["measurements"]}
    for name in ("path_as_of", "path_as_of_fresh", "k_hop_as_of", "search_as_of", "get_view", "ns1000_get",
                 "ns1000_get_warm"):
        assert _finite(extra[name]["ratio"]) and isinstance(extra[name]["within_budget"], bool), name
    for name in ("path_now_bounded", "search_now_bounded", "path_known_at", "search_known_at", "ns1000_search"):
        assert _finite(extra[name]["ratio"]), name
    for name in ("path_now_bounded", "path_as_of", "search_now_bounded", "search_as_of"):
        assert _finite(extra[name]["ratio_interleaved"]), name  # to path_unfiltered / search_unfiltered
    view = extra["validity_view"]
    assert view["bounded_relations"] == int(SIZE * 5 * 0.01) and view["bounded_entities"] == 2
    assert view["bytes_per_bounded_fact"] > 0 and _finite(view["extra_bytes_per_relation"])
    # Time travel to before the intervals were written sees every relation, unbounded.
    assert extra["known_at_first"]["relations"] == SIZE * 5
    assert extra["ns1000_get"]["namespaces"] == 1000
