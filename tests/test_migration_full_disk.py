"""Schema 004's back-fill meeting a full disk (a real one: a small tmpfs; needs root).

The migration links every version in one transaction whose parameters are
none, so graphmem's own room check before COMMIT lets it through and the
engine meets the full disk while it appends the transaction to its
write-ahead log. The open then fails with StorageFull, and nothing of the
migration was acknowledged. Once space is freed the store must open as it
was (schema 3) and migrate, on both engines, even while the process whose
open failed is still running. Seen before the fix: that process kept the
engine's handle, and its lock, open (StoreLocked for everyone else), and on
LadybugDB the torn log left by the first commit after an open was not cut
(the recorded end was 0), so the store was reported damaged (CorruptStore,
"Checksum verification failed").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import graphmem
from graphmem.store import schema, space
from tests.reliability.enospc import NoTmpfs, tmpfs
from tests.test_version_links import _as_version_3, check_links

pytestmark = pytest.mark.engine

ENTITIES = 8_000
"""Three writes of each: 16,000 versions, whose links are ~2-2.5 MB of log on both engines."""

_FAILED_OPEN = """
import sys
import graphmem
try:
    graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None)
    print("opened", flush=True)
except graphmem.GraphMemError as exc:
    print("failed", type(exc).__name__, exc, flush=True)
sys.stdin.read()  # alive, the failed open's error unreferenced, until the test is done
"""


@pytest.fixture
def small_disk():
    try:
        with tmpfs(48) as disk:
            yield disk
    except NoTmpfs as exc:
        pytest.skip(f"needs a tmpfs mount: {exc}")


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` free bytes; the filler's path."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(stat.f_bavail * stat.f_frsize - leave, 0))
    return filler


def test_a_version_link_migration_cut_short_by_a_full_disk_is_redone_once_there_is_room(tmp_path, small_disk, engine):
    built = tmp_path / "v3"
    with graphmem.open(built, engine=engine, embedder=None) as mem:
        for text in ("one", "two", "three"):
            mem.add_entities([{"name": f"e{i}", "type": "T", "text": text} for i in range(ENTITIES)])
    _as_version_3(built, engine)
    path = small_disk / "store"
    shutil.copytree(built, path)
    # Room for graphmem's check before COMMIT, not for the migration's log.
    filler = _fill(small_disk, space.commit_need(0) + (256 << 10))

    child = subprocess.Popen([sys.executable, "-c", _FAILED_OPEN, str(path), engine], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    try:
        assert child.stdout is not None
        said = child.stdout.readline()
        assert said.startswith("failed StorageFull"), said
        filler.unlink()
        with graphmem.open(path, engine=engine, embedder=None) as mem:
            assert mem.stats()["schema_version"] == len(schema.shipped_migrations())
            check_links(mem, unlinked=1)  # every version but _as_version_3's orphan
            assert [v.text for v in mem.entity_versions("e7").versions] == ["one", "two", "three"]
    finally:
        child.communicate(timeout=120)
