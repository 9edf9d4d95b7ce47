"""The background embedder's thread never outlives the interpreter's atexit phase.

:meth:`graphmem.memory.backlog.Backlog.stop` (what ``Memory.close`` calls)
does not wait for an encode under way. A native embedder (torch) still
encoding when the interpreter finalizes would abort the process as it takes
the GIL back, as the vector index's worker did after a full disk
(``tests/test_vector_worker_exit.py``), so graphmem's atexit hook waits for it.
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
# finalization would meet. The embedder stands in for a slow native model.
_CHILD = textwrap.dedent(
    """
    import atexit, json, sys, threading, time

    seen, threads = {}, []

    def after_graphmem_hooks():
        seen["alive_at_finalization"] = any(t.is_alive() for t in threads)
        print(json.dumps(seen), flush=True)

    atexit.register(after_graphmem_hooks)

    import numpy as np
    import graphmem

    encoding = threading.Event()

    class SlowEmbedder:
        dim = 8

        def encode(self, texts):
            encoding.set()
            time.sleep(1.5)
            rows = np.ones((len(texts), 8), np.float32)
            return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=SlowEmbedder(), background_embedding=True)
    mem.add_entities([{"name": f"e{i}", "text": "waiting for its vector"} for i in range(5)])
    seen["encoding_before_close"] = encoding.wait(120)
    threads.extend(t for t in threading.enumerate() if t.name == "graphmem-embed")
    mem.close()
    seen["alive_after_close"] = any(t.is_alive() for t in threads)
    """
)


@pytest.mark.engine
def test_an_encode_under_way_at_exit_is_waited_for_before_finalization(tmp_path: Path, engine: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "s"), engine], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The close did leave the thread inside the embedder's encode ...
    assert seen["encoding_before_close"] is True and seen["alive_after_close"] is True, seen
    # ... and graphmem's atexit hook waited for it: nothing of it runs while the interpreter finalizes.
    assert seen["alive_at_finalization"] is False, seen
