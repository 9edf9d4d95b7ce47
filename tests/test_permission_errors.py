"""Permission problems are typed (issue 17.5): PermissionDenied naming the path,
never a raw PermissionError, a FileNotFoundError at close(), or CorruptStore.

Root ignores permission bits, so each case runs in a forked child that has
become ``nobody`` (uid/gid 65534); the suite skips them when it is not root.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

import graphmem
from graphmem import PermissionDenied

from .conftest import ENGINE

NOBODY = 65534
pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="needs root, to run each case as the unprivileged user nobody (root ignores modes)"),
]  # fmt: skip


def as_nobody(call: Callable[[], object]) -> tuple[str, str, list[str]]:
    """Run ``call`` in a child that is uid/gid 65534; its error's (type, message, MRO names)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                call()
                answer = ("", "no error", [])
            except BaseException as exc:  # noqa: BLE001 - the error is the answer
                answer = (type(exc).__name__, str(exc), [c.__name__ for c in type(exc).__mro__])
        except BaseException:  # noqa: BLE001
            answer = ("harness", traceback.format_exc(), [])
        with os.fdopen(write, "wb") as fh:
            pickle.dump(answer, fh)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.fixture
def tmp_path() -> Path:  # noqa: PT004 - shadows pytest's: nobody cannot enter its root-only parents
    """A folder nobody can reach (pytest's own are under a root-only 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="graphmem-perm-"))
    folder.chmod(0o777)
    yield folder
    for entry in [folder, *folder.rglob("*")]:
        if entry.is_dir():
            entry.chmod(0o755)  # root could remove it anyway; keeps rmtree simple
    shutil.rmtree(folder)


def _store(tmp_path: Path) -> Path:
    """A store with a saved vector index, owned by nobody."""
    path = tmp_path / "s"
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entity("a", embedding=[1.0, 0.0])
        mem.add_entity("b", embedding=[0.0, 1.0])
        mem.search([1.0, 0.0], k=1)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files, "."]:
            os.chown(os.path.join(root, name), NOBODY, NOBODY)
    assert (path / "vectors").is_dir()
    return path


def _use(path: Path) -> Callable[[], None]:
    def call() -> None:
        mem = graphmem.open(path, engine=ENGINE, embedder=None)
        mem.add_entity("c", embedding=[0.6, 0.8])
        mem.search([0.6, 0.8], k=1)
        mem.close()
    return call


@pytest.mark.parametrize("target, mode", [
    (".", 0o500),                   # the store folder
    ("graphmem.lock", 0o400),
    ("graph.db", 0o400),
    ("vectors", 0o500),
    ("vectors/hnsw.bin", 0o400),
])  # fmt: skip
def test_an_unwritable_part_of_the_store_is_permission_denied(tmp_path: Path, target: str, mode: int) -> None:
    path = _store(tmp_path)
    (path / target).chmod(mode)
    name, message, mro = as_nobody(_use(path))
    assert name == "PermissionDenied", message
    assert {"GraphMemError", "PermissionError"} <= set(mro)
    assert str((path / target).resolve()) in message and "not damaged" in message
    assert "restore it from a backup" not in message


def test_a_store_that_cannot_be_created_is_permission_denied(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    name, message, _ = as_nobody(lambda: graphmem.open(tmp_path / "new", engine=ENGINE, embedder=None))
    assert name == "PermissionDenied" and str(tmp_path / "new") in message


def test_a_readable_store_still_opens_read_only(tmp_path: Path) -> None:
    path = _store(tmp_path)
    for entry in [path, *path.rglob("*")]:
        entry.chmod(0o555 if entry.is_dir() else 0o444)

    def read() -> None:
        with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as mem:
            if mem.get_entity("a") is None:
                raise AssertionError("a is missing")
    name, message, _ = as_nobody(read)
    assert name == "", message


def test_a_vector_folder_made_read_only_while_open_fails_close_with_permission_denied(tmp_path: Path) -> None:
    path = _store(tmp_path)

    def call() -> None:
        mem = graphmem.open(path, engine=ENGINE, embedder=None)
        mem.add_entity("c", embedding=[0.6, 0.8])
        mem.search([0.6, 0.8], k=1)
        os.chmod(path / "vectors", 0o500)  # the owner may: as if an admin did it meanwhile
        try:
            mem.close()
        finally:
            if not mem.closed:
                raise AssertionError("close() must release the store even when the index save fails")
    name, message, _ = as_nobody(call)
    assert name == "PermissionDenied", message
    assert str(path / "vectors") in message


def test_search_after_close_raises(mem: graphmem.Memory) -> None:
    mem.add_entity("a", embedding=[1.0, 0.0])
    mem.search([1.0, 0.0], k=1)
    mem.close()
    for call in (lambda: mem.search([1.0, 0.0], k=1), lambda: mem.recall([1.0, 0.0]), lambda: len(mem),
                 lambda: mem.find_duplicates(0.5)):  # fmt: skip
        with pytest.raises(graphmem.GraphMemError, match="closed"):
            call()


def test_permission_denied_is_a_permission_error() -> None:
    assert issubclass(PermissionDenied, PermissionError) and issubclass(PermissionDenied, graphmem.GraphMemError)
