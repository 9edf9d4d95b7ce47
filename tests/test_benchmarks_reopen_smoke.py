"""benchmarks/bench_reopen.py runs end to end on a tiny store and each variant
reached the graph state it claims to measure (no timing is asserted)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.engine


def test_reopen_benchmark_runs_and_measures_what_it_says(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_reopen", "--size", "300", "--runs", "1", "--work", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "GRAPHMEM_ENGINE": ENGINE}, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    states = {(r["variant"], r["call"]): r["graph_state"] for r in rows}
    assert states[("saved", "first_get")] == "not loaded"  # a get loads no graph
    assert states[("saved", "first_path")] == states[("saved", "first_write")] == "file"
    # Caught up, not rebuilt (a get before it loaded no graph, so its unsaved writes add up).
    assert re.fullmatch(r"file \(\+\d+ caught up\)", states[("caught_up", "first_path")])
    assert states[("rebuilt", "first_path")] == "rebuilt"
    assert states[("fresh_process", "first_path")] == "file"
    assert all(r["median_ms"] > 0 and r["engine"] == ENGINE for r in rows)
