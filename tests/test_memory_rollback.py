"""An in-memory store survives rolled-back updates, and leaves no files behind.

kuzu 0.11.3 corrupts its in-memory version chains when a transaction that
updated rows rolls back; the store then checkpoints (see
``_CHECKPOINT_AFTER_ROLLBACK``), which folds nothing in kuzu's own in-memory
mode: there later updates crashed the process (SIGSEGV) or met write-write
conflicts. An in-memory store on kuzu keeps its database in a private scratch
folder instead (``files.memory_scratch``). Each trial runs in a child process,
since the failure is a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from graphmem.store import files

from .conftest import ENGINE

pytestmark = pytest.mark.engine

_CHILD = textwrap.dedent("""
    import random, sys
    import graphmem
    seed = int(sys.argv[1])
    rng = random.Random(seed)
    names = [f"e{i}" for i in range(12)]
    committed = {n: 0 for n in names}
    with graphmem.open(engine=sys.argv[2], embedder=None) as mem:
        mem.add_entities([{"name": n} for n in names])
        for step in range(150):
            chosen = rng.sample(names, 3)
            records = [{"name": n, "observations": [f"s{step}"]} for n in chosen]
            refuse = rng.random() < 0.4

            def apply():
                for record in records:  # three statements updating existing rows (one alone would be held back)
                    mem.add_entities([record])
                if refuse:  # then a write graphmem refuses: the transaction rolls back
                    mem.add_relations([(chosen[0], "R", "missing")])
                return {}

            try:
                mem.apply_once(None, apply)
            except graphmem.NotFound:
                continue
            for n in chosen:
                committed[n] += 1
        stored = {n: len(mem.get_entity(n).observations) for n in names}
    print("consistent" if stored == committed else f"inconsistent {stored} {committed}")
""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rolled_back_updates_leave_an_in_memory_store_whole(seed: int) -> None:
    child = subprocess.run([sys.executable, "-c", _CHILD, str(seed), ENGINE], capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    assert child.stdout.strip() == "consistent"


def _scratch_folders() -> set[str]:
    """The scratch folders in both places ``files.memory_scratch`` may use."""
    parents = [Path(tempfile.gettempdir())] + ([Path("/dev/shm")] if os.access("/dev/shm", os.R_OK) else [])
    return {p.name for parent in parents for p in parent.iterdir() if p.name.startswith(files.MEMORY_SCRATCH_PREFIX)}


def test_a_killed_process_s_scratch_folder_is_removed_by_the_next_in_memory_open() -> None:
    """Closing removes the folder; a process killed with SIGKILL cannot, so the
    next in-memory open of the same user removes what a dead process left."""
    if ENGINE != "kuzu":
        pytest.skip("only kuzu keeps an in-memory store in a scratch folder")
    import graphmem

    before = _scratch_folders()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time, graphmem
        mem = graphmem.open(engine="kuzu", embedder=None)
        mem.add_entities([{"name": "a"}])
        print("ready", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        left = _scratch_folders() - before
        assert len(left) == 1 and f"-{holder.pid}-" in next(iter(left))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert left <= _scratch_folders()  # killed: still there
    with graphmem.open(engine="kuzu", embedder=None) as mem:
        assert not left & _scratch_folders()  # swept by this open
        assert len(_scratch_folders() - before) == 1  # this handle's own
    deadline = time.monotonic() + 5
    while _scratch_folders() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _scratch_folders() - before  # closed: removed


def test_a_small_dev_shm_leaves_the_scratch_folder_on_disk(monkeypatch) -> None:
    """A container's /dev/shm (often 64 MiB) would fill long before the buffer
    pool: without :data:`files.SCRATCH_SHM_MIN_FREE` free there, the folder goes
    to the temporary directory."""
    monkeypatch.setattr(files, "SCRATCH_SHM_MIN_FREE", 1 << 62)
    folder = files.memory_scratch()
    try:
        assert folder.parent == Path(tempfile.gettempdir()) and folder.stat().st_mode & 0o777 == 0o700
    finally:
        folder.rmdir()
