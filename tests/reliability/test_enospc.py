"""A full disk (issue 17, item 1): a write that cannot be made durable raises
StorageFull, nothing acknowledged is lost, no process dies by a signal, and
once space is freed the store opens without repair and takes writes again.

Real tmpfs mounts (root only: skipped with the reason otherwise); every write
and every reopen runs in a child process so that a crash would be counted,
not take pytest down. See enospc.py for what one trial does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphmem
from graphmem.store import space

from ..conftest import ENGINE
from .conftest import FULL
from .enospc import ROOT, NoTmpfs, campaign, remount, tmpfs, trial

TRIALS = 20 if FULL else 0


def _skip_without_tmpfs(exc: NoTmpfs) -> None:
    pytest.skip(f"needs a tmpfs mount: {exc}")


def _check(result: dict) -> None:
    """Every requirement of one trial, with the trial in the message."""
    shown = json.dumps(result, indent=1)[:4000]
    assert result["signals"] == 0, shown
    assert result["counts"], f"the trial did not really hit ENOSPC with StorageFull: {shown}"
    assert result["reopened"], f"the store did not reopen without repair: {shown}"
    assert result["lost_entities"] == 0 and result["lost_relations"] == 0, shown
    assert not result["refused_half_applied"] and not result["unexpected"], shown
    assert result["write_after"], shown
    assert result["text_as_rebuilt"], shown
    assert not [e for e in result["errors"] if e.startswith("NOT StorageFull")], shown
    if result["vectors"] and result["acked_batches"]:
        assert result["vector_found"], shown


@pytest.mark.engine
@pytest.mark.parametrize(("kind", "vectors"), [("fill", True), ("race", False)])
def test_a_full_disk_loses_nothing_and_the_store_reopens(kind: str, vectors: bool) -> None:
    # A 30 MB disk, 24 MB of it taken, so the store meets the end within seconds.
    try:
        result = trial(ENGINE, kind, vectors, seed=5, size_mb=30, prefill_mb=24)
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)
    _check(result)
    if kind == "race":
        assert result["engine_enospc"], "the race trial must make the engine itself meet the full disk"


@pytest.mark.engine
def test_a_race_with_vectors_closes_without_a_signal() -> None:
    # Seed 102 of the vector campaign: the engine meets ENOSPC in its COMMIT, so the
    # close skips the flush (and with it the drain of the vector index's queue) and
    # leaves the index's worker inside hnswlib's add_items. It used to be still there
    # when the interpreter finalized: SIGABRT, "terminate called without an active
    # exception" (tests/test_vector_worker_exit.py has the cheap check).
    try:
        result = trial(ENGINE, "race", True, seed=102, size_mb=30, prefill_mb=16)
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)
    _check(result)
    assert result["engine_enospc"], "the race trial must make the engine itself meet the full disk"


@pytest.mark.engine
@pytest.mark.skipif(not FULL, reason="the 20-trial campaigns run with GRAPHMEM_RELIABILITY=full")
@pytest.mark.parametrize("vectors", [False, True])
def test_full_disk_campaign(vectors: bool) -> None:
    try:
        figures = campaign(TRIALS, engine=ENGINE, vectors=vectors, seed=101 if vectors else 1)
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)
    summary = {k: v for k, v in figures.items() if k != "runs"}
    print(json.dumps(summary, indent=2))
    if os.environ.get("GRAPHMEM_RELIABILITY_REPORT"):
        report = Path(os.environ["GRAPHMEM_RELIABILITY_REPORT"])
        report.with_name(f"{report.stem}-enospc-{ENGINE}-{int(vectors)}.json").write_text(json.dumps(summary, indent=2))
    for run in figures["runs"]:
        _check(run)
    assert figures["counted"] == TRIALS and figures["engine_enospc"] >= TRIALS // 2, summary


@pytest.mark.engine
def test_import_onto_a_full_disk_exits_with_an_error_and_keeps_what_it_reported(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    with open(source, "w", encoding="utf-8") as fh:
        for i in range(30_000):
            fh.write(json.dumps({"type": "entity", "name": f"n{i}", "text": "t" * 400, "observations": ["o" * 100]}) + "\n")
        for i in range(0, 30_000, 7):
            fh.write(json.dumps({"type": "relation", "from": f"n{i}", "to": f"n{i + 1}", "relationType": "R"}) + "\n")
    try:
        with tmpfs(30) as where:
            (where / "filler").write_bytes(b"\0" * (18 << 20))
            store = where / "store"
            env = {**os.environ, "GRAPHMEM_ENGINE": ENGINE, "PYTHONPATH": str(ROOT)}
            done = subprocess.run(
                [sys.executable, "-m", "graphmem", "import", str(store), str(source), "--embedder", "none",
                 "--batch-size", "5000"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert done.returncode == 1, (done.returncode, done.stderr[-2000:])  # an error, not a signal
            assert "disk holding the store" in done.stderr and "is full" in done.stderr, done.stderr[-2000:]
            written = int(re.search(r"the (\d+) records of earlier batches stay written", done.stderr).group(1))
            remount(where, 300)
            (where / "filler").unlink()
            check = subprocess.run(
                [sys.executable, "-c", (
                    "import sys, graphmem\n"
                    "mem = graphmem.open(sys.argv[1], embedder=None)\n"
                    "names = {e.name for e in mem.iter_entities()}\n"
                    "mem.add_entity('after')\n"
                    "mem.close()\n"
                    "print(len(names), all(f'n{i}' in names for i in range(int(sys.argv[2]))))\n"
                ), str(store), str(written)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            assert check.returncode == 0, check.stderr[-2000:]
            count, all_there = check.stdout.split()
            # Entities come first in batches of 5,000: what was reported written is there, and
            # the refused batch is not (it was refused before its COMMIT reached the engine).
            assert all_there == "True" and int(count) == written, check.stdout
            assert 0 < written < 30_000
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)


@pytest.mark.engine
def test_an_export_onto_a_full_disk_is_storage_full_and_keeps_the_old_file(tmp_path: Path) -> None:
    from graphmem.interchange.transfer import export_jsonl

    with graphmem.open(tmp_path / "store", engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"n{i}", "text": "t" * 400} for i in range(8000)])  # ~3.5 MB of JSON
        try:
            with tmpfs(2) as where:
                (where / "out.jsonl").write_text("the previous export\n")
                with pytest.raises(graphmem.StorageFull, match="the export"):
                    export_jsonl(mem, where / "out.jsonl", force=True)
                assert [p.name for p in where.iterdir()] == ["out.jsonl"]  # no partial copy left
                assert (where / "out.jsonl").read_text() == "the previous export\n"
        except NoTmpfs as exc:
            _skip_without_tmpfs(exc)


def test_a_secret_file_written_on_a_full_disk_is_storage_full_and_keeps_the_old_one() -> None:
    from graphmem.store.files import MCP_TOKEN_FILE, write_secret

    try:
        with tmpfs(1) as where:
            write_secret(where / MCP_TOKEN_FILE, "old")
            with open(where / "filler", "wb", buffering=0) as fh, pytest.raises(OSError):
                while True:
                    fh.write(b"\0" * 4096)
            with pytest.raises(graphmem.StorageFull, match=MCP_TOKEN_FILE):
                write_secret(where / MCP_TOKEN_FILE, "new " * 4096)
            assert sorted(p.name for p in where.iterdir()) == ["filler", MCP_TOKEN_FILE]
            assert (where / MCP_TOKEN_FILE).read_text() == "old\n"
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)


def test_storage_full_is_an_oserror_with_enospc() -> None:
    import errno
    import pickle

    exc = graphmem.StorageFull("the disk is full")
    assert isinstance(exc, graphmem.GraphMemError) and isinstance(exc, OSError)
    assert exc.errno == errno.ENOSPC and str(exc) == "the disk is full"
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is graphmem.StorageFull and again.errno == errno.ENOSPC


@pytest.mark.parametrize(
    "message",
    [
        "IO exception: Cannot write to file. path: /x/graph.db.wal fileDescriptor: 5 offsetToWrite: 16877650 "
        "numBytesToWrite: 4096 numBytesWritten: 1966. Error: Success",
        "IO exception: Cannot write to file. path: /x/graph.db fileDescriptor: 4 offsetToWrite: 17649664 "
        "numBytesToWrite: 4096 numBytesWritten: -1. Error: No space left on device",
    ],
)
def test_the_engines_full_disk_messages_become_storage_full(message: str) -> None:
    from graphmem.store.engine import translate

    assert isinstance(translate(RuntimeError(message)), graphmem.StorageFull)


def test_a_commit_needs_room_for_its_log_records_and_a_checkpoint_more() -> None:
    # The commit reserve grows with what the transaction binds; a checkpoint's
    # with the WAL (and, on kuzu, the database file: see space.py for the measurements).
    assert space.commit_need(10 << 20) > 2 * (10 << 20) > space.commit_need(0)
    assert space.checkpoint_need("kuzu", 100 << 20, 1 << 20) > 100 << 20
    assert space.checkpoint_need("ladybug", 100 << 20, 1 << 20) >= 3 << 20


@pytest.mark.engine
def test_a_vector_index_saved_on_a_full_disk_is_never_recorded_short(monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    import numpy as np

    from graphmem.index import vector_store

    rng = np.random.default_rng(3)
    try:
        with tmpfs(30) as where:
            path = where / "store"
            mem = graphmem.open(path, engine=ENGINE, embedder=None)
            try:
                mem.add_entities([{"name": f"v{i}", "embedding": rng.standard_normal(16)} for i in range(3000)])
                mem.search(rng.standard_normal(16), k=3)
                mem.flush()
                folder = path / "vectors"
                before = (folder / vector_store.INDEX_FILE).read_bytes()
                files_before = {p.name: p.read_bytes() for p in folder.iterdir()}  # index, rows files, manifest
                mem.add_entities([{"name": f"w{i}", "embedding": rng.standard_normal(16)} for i in range(3000)])
                mem.search(rng.standard_normal(16), k=3)
                with open(where / "filler", "wb") as fh:
                    fh.write(b"\0" * (space.free_bytes(where) - 300_000))
                # graphmem's own check refuses first ...
                with pytest.raises(graphmem.StorageFull, match="vector index needs"), mem._store.exclusive():
                    mem._vectors.save()
                # ... and without it, hnswlib writes a short file and says nothing: the
                # length check catches it, and the saved index and manifest stay as they were.
                monkeypatch.setattr(space, "free_bytes", lambda folder: 1 << 40)
                with pytest.raises(graphmem.StorageFull, match="written short"), mem._store.exclusive():
                    mem._vectors.save()
                monkeypatch.undo()
                manifest = json.loads((folder / vector_store.MANIFEST_FILE).read_text())
                saved = (folder / vector_store.INDEX_FILE).read_bytes()
                assert saved == before and manifest["size"] == len(saved)
                assert manifest["checksum"] == zlib.crc32(saved)
                # Nothing of the failed saves is left, and the previous save is whole.
                assert {p.name: p.read_bytes() for p in folder.iterdir()} == files_before
                (where / "filler").unlink()
                with mem._store.exclusive():
                    assert mem._vectors.save()  # room again: it saves, whole
                manifest = json.loads((folder / vector_store.MANIFEST_FILE).read_text())
                saved = (folder / vector_store.INDEX_FILE).read_bytes()
                assert manifest["size"] == len(saved) > len(before) and manifest["checksum"] == zlib.crc32(saved)
            finally:
                mem.close()
    except NoTmpfs as exc:
        _skip_without_tmpfs(exc)


@pytest.mark.engine
def test_graphmem_checkpoints_a_grown_log_and_closes_clean(tmp_path: Path) -> None:
    # The engines' own size-triggered and closing checkpoints are off (see
    # space.py); graphmem's must still fold the WAL when the disk has room.
    from graphmem.store.store import WAL_FILE

    path = tmp_path / "s"
    mem = graphmem.open(path, engine=ENGINE, embedder=None)
    try:
        wal_sizes = []
        for b in range(4):
            mem.add_entities([{"name": f"b{b}_{i}", "text": "t" * 1000} for i in range(5000)])
            wal = path / WAL_FILE
            wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
        assert max(wal_sizes) < space.CHECKPOINT_WAL + (8 << 20), wal_sizes  # folded once past 16 MiB
        assert min(wal_sizes) < max(wal_sizes), wal_sizes
        assert mem._store.checkpoints_deferred == 0
    finally:
        mem.close()
    assert not (path / WAL_FILE).exists() or (path / WAL_FILE).stat().st_size == 0
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        assert len(mem) == 20_000
