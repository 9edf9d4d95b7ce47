"""The lifecycle benchmark suite runs end to end at a tiny size and its JSON is complete.

No timing is asserted. The suite runs in this process with the engine under
test (the harness's ``--child`` mode), on one small random graph.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from benchmarks import run
from benchmarks.bench_lifecycle import SUITE

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
SIZE = 2000

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("bench-lifecycle")
    out = base / "results"
    code = run.main(["--child", ENGINE, "--sizes", str(SIZE), "--repeat", "2", "--graphs", "random",
                     "--out", str(out), "--workdir", str(base), "--only", "lifecycle"])  # fmt: skip
    assert code == 0
    return json.loads((out / f"lifecycle-{ENGINE}.json").read_text(encoding="utf-8"))


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


def test_ratios_sizes_and_lifecycle_figures_reach_the_json(result):
    extra = {m["benchmark"]: m["extra"] for m in result["measurements"]}
    for name in ("get_warm_tracked", "get_cold_tracked"):
        assert _finite(extra[name]["ratio"]) and isinstance(extra[name]["within_budget"], bool), name
    packed = extra["cold_read_packed"]
    assert _finite(packed["extra_ms"]) and isinstance(packed["within_budget"], bool)
    assert 0 < packed["packed_bytes_mean"] < packed["unpacked_bytes_mean"]
    assert extra["compact"]["packed"] >= 100  # group A at least (SIZE // 20 long-text entities)
    # The planted near-duplicates are found (cosine ~0.995, far above the 0.9 threshold).
    assert extra["find_duplicates"]["planted_recall"] >= 0.9
    for policy in ("lru", "lfu", "importance", "hard"):
        assert extra[f"forget_{policy}"]["forgotten"] == SIZE // 2 and extra[f"forget_{policy}"]["left"] == SIZE // 2
    size = extra["bytes_per_memory"]
    for key in ("disk_per_memory", "rss_delta_per_memory", "resident_parts_per_memory"):
        assert _finite(size[key]) and size[key] > 0, key
    assert extra["dedup_write"]["merged_names"] > 0
