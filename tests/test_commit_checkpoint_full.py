"""A commit the engine made durable, whose own checkpoint then met a full disk, survives.

The engine may say "Transaction committed successfully, but the post-commit
checkpoint failed: ..." (measured on LadybugDB). graphmem acknowledges the
write (it is durable in the write-ahead log). When the failure names a full
disk, the handle also stops writing and records where the log's
acknowledged part ends, and the next open cuts the log there. That end must
include the commit just acknowledged: it was the end before it, so the next
open cut the acknowledged write away.

The engine's answer is played here by a stand-in for the write connection
that runs the real commit (a COMMIT, or the write's one statement run alone
in the engine's own transaction) and then raises the engine's words for a full
disk met by the checkpoint after it; the process is then killed, as a
crash or an operator would, leaving the log to the next open.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import graphmem

pytestmark = pytest.mark.engine

_ACKED_THEN_KILLED = """
import os, sys, warnings
import graphmem

mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None)
mem.add_entity("before", text="a commit with its checkpoint")
store = mem._store
real = store._write_conn
committing = []
real_commit = store._commit_now


def commit_now(held):  # COMMIT, or a transaction's one statement run alone (Store.transaction)
    committing.append(True)
    try:
        return real_commit(held)
    finally:
        committing.clear()


class CheckpointMeetsFullDisk:
    def __getattr__(self, name):
        return getattr(real, name)

    def execute(self, query, *args, **kwargs):
        result = real.execute(query, *args, **kwargs)
        if committing:
            raise RuntimeError("Transaction committed successfully, but the post-commit checkpoint failed: "
                               "IO exception: Cannot write to file. path: graph.db. Error: No space left on device")
        return result


store._write_conn = CheckpointMeetsFullDisk()
store._commit_now = commit_now
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    mem.add_entity("acked", text="durable, its checkpoint failed")
assert any("committed and is durable" in str(w.message) for w in seen), [str(w.message) for w in seen]
print("acknowledged", flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_write_acknowledged_when_its_checkpoint_met_a_full_disk_is_kept(tmp_path, engine):
    path = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", _ACKED_THEN_KILLED, str(path), engine], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    assert "acknowledged" in done.stdout, done.stderr
    assert done.returncode == -9, done.stderr
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        assert mem.has_entities(["before", "acked"]) == [True, True]
        assert mem.get_entity("acked").text == "durable, its checkpoint failed"
