"""The vector index's background worker never outlives the interpreter's atexit phase.

A worker still inside hnswlib's ``add_items`` when the interpreter finalizes
aborts the process (SIGABRT, "terminate called without an active exception":
Python ends the thread as it takes the GIL back, inside pybind11's noexcept
``gil_scoped_release`` destructor). ``close(wait=False)`` (after a full disk,
or ``close(save_index=False)``) does not wait for the worker, so graphmem's
atexit hook must. The full-disk trial that met it is
``tests/reliability/test_enospc.py::test_a_race_with_vectors_closes_without_a_signal``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The child's own atexit hook is registered before graphmem is imported, so it
# runs after graphmem's (atexit is last in, first out): it sees what
# finalization would meet.
_CHILD = textwrap.dedent(
    """
    import atexit, json, threading, time

    seen, worker = {}, []

    def after_graphmem_hooks():
        seen["alive_at_finalization"] = worker[0].is_alive()
        print(json.dumps(seen), flush=True)

    atexit.register(after_graphmem_hooks)

    import numpy as np
    from graphmem.index import vectors

    # One batch for the whole queue, so the worker is inside add_items for a while.
    vectors._BATCH_BOUNDS = (1 << 20, 1 << 20)
    rng = np.random.default_rng(7)
    count, dim = 3000, 128
    index = vectors.VectorIndex(dim=dim)
    index.upsert(np.arange(count), rng.integers(-127, 128, size=(count, dim)).astype(np.int8),
                 np.full(count, 0.01, np.float32))
    deadline = time.monotonic() + 120
    while not len(index._inflight) and time.monotonic() < deadline:  # the worker has taken the batch
        time.sleep(0.001)
    worker.append(index._queue.thread)
    index.close(wait=False)
    seen["inflight_at_close"] = len(index._inflight)
    """
)


def test_a_worker_left_running_by_a_quick_close_is_waited_for_before_finalization() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The close did leave the worker in the middle of its batch ...
    assert seen["inflight_at_close"] == 3000, seen
    # ... and graphmem's atexit hook waited for it: nothing of it runs while the interpreter finalizes.
    assert seen["alive_at_finalization"] is False, seen


_NICE_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from graphmem.index import vectors

    os.nice(int(sys.argv[1]))  # the process's (and so the creating thread's) niceness
    index = vectors.VectorIndex(dim=8)
    index.upsert(np.arange(4), np.ones((4, 8), np.int8), np.full(4, 0.01, np.float32))
    deadline = time.monotonic() + 120
    while index.stale and time.monotonic() < deadline:  # the worker has run, so it has set its niceness
        time.sleep(0.001)
    thread = index._queue.thread
    print(json.dumps({"main": os.getpriority(os.PRIO_PROCESS, 0),
                      "worker": os.getpriority(os.PRIO_PROCESS, thread.native_id)}))
    index.close()
    """
)


@pytest.mark.skipif(not hasattr(os, "setpriority") or sys.platform != "linux", reason="per-thread niceness: Linux")
@pytest.mark.parametrize("start", [0, 4, 13])
def test_the_worker_runs_ten_steps_below_its_creator(start: int) -> None:
    """Relative to the process's niceness (a benchmark under ``nice -n 5``),
    not a fixed value, and capped at 19."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _NICE_CHILD, str(start)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["worker"] == min(seen["main"] + 10, 19), seen
    assert seen["worker"] > seen["main"] or seen["main"] == 19, seen
