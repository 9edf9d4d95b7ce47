"""Store files are private to their owner (issue 16, item 3).

The other user's side runs as a real unprivileged uid: the test process forks
and the child drops to uid/gid 65534 (``nobody``) before it touches a file.
Root ignores permission bits, so asserting as root would prove nothing; the
tests therefore need root to *drop* privileges and skip with that reason
otherwise. Each refusal has a positive control (a wider file or folder in
the same place is readable by the same child), so a harness that cannot read
anything cannot pass for a private store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import graphmem
from graphmem.errors import InvalidInput, StoreLocked
from graphmem.store import files

NOBODY = 65534
SECRET = "s3cret-0f-the-0wner-7c1d"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root to run the other user's side as uid 65534 (fork + setuid); CI runs as root",
)


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every user may traverse (pytest's own tmp folders are 0700 to
    other users, which would make every refusal below vacuous)."""
    folder = Path(tempfile.mkdtemp(prefix="graphmem-perm-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@contextlib.contextmanager
def as_user(fn: Callable[..., Any], *args: Any, uid: int = NOBODY, gid: int = NOBODY,
            then: Callable[[], Any] | None = None) -> Iterator[dict[str, Any]]:
    """Run ``fn(*args)`` in a forked child as ``uid``/``gid`` and yield what it
    returned (JSON); the child stays alive (holding whatever it opened, e.g.
    a lock) until the block ends. ``then()`` runs in the child after that;
    its result lands in the yielded dict under ``"then"`` once the block ends."""
    result_r, result_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(result_r)
            os.close(release_w)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            try:
                answer = {"ok": fn(*args)}
            except OSError as exc:
                answer = {"errno": errno.errorcode.get(exc.errno or 0, str(exc.errno)), "message": str(exc)}
            os.write(result_w, json.dumps(answer).encode() + b"\n")
            os.read(release_r, 1)  # hold until the parent is done
            if then is not None:
                os.write(result_w, json.dumps(then()).encode() + b"\n")
        except BaseException:  # noqa: BLE001 - a child must reach os._exit whatever happens
            code = 1
        finally:
            os._exit(code)
    os.close(result_w)
    os.close(release_r)
    with os.fdopen(result_r, "rb") as reader:
        try:
            line = reader.readline()
            if not line:
                raise AssertionError("the child running as another user died before answering")
            answer = json.loads(line)
            yield answer
        finally:
            os.close(release_w)
            if then is not None:
                line = reader.readline()
                answer["then"] = json.loads(line) if line else None
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0


def run_as(fn: Callable[..., Any], *args: Any, **ids: int) -> Any:
    with as_user(fn, *args, **ids) as answer:
        return answer


def _read(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return {"uid": os.getuid(), "bytes": len(fh.read())}


def _grep(folder: str, needle: str) -> bool:
    """Whether any file under ``folder`` holds ``needle`` (what the other user tried)."""
    def fail(exc: OSError) -> None:
        raise exc

    for root, _, names in os.walk(folder, onerror=fail):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                if needle.encode() in fh.read():
                    return True
    return False


def _list(path: str) -> list[str]:
    return sorted(os.listdir(path))


def _lock(path: str) -> str:
    # What the attack did: a read-only descriptor is enough for flock.
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return "locked"  # the descriptor stays open (and locked) while the child waits


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _make_store(path: Path, engine: str, **kw: Any) -> None:
    """A closed store with a secret in it and a saved vector index."""
    with graphmem.open(path, engine=engine, embedder=None, **kw) as mem:
        mem.add_entity("Owner", type="Person", text=SECRET, embedding=[1.0, 0.0, 0.0, 0.0])
        mem.add_entity("Other", type="Person", embedding=[0.0, 1.0, 0.0, 0.0])
        assert mem.search([1.0, 0.0, 0.0, 0.0], k=1)[0].name == "Owner"  # loads the index, saved at close


def test_harness_reads_what_is_world_readable(base):
    """The positive control for everything below: the child really is uid
    65534, and reaches a 0644 file in a 0755 folder under ``base``."""
    folder = base / "open"
    folder.mkdir(mode=0o755)
    (folder / "f").write_text("x")
    os.chmod(folder / "f", 0o644)
    assert run_as(_read, str(folder / "f")) == {"ok": {"uid": NOBODY, "bytes": 1}}
    os.chmod(folder / "f", 0o600)
    assert run_as(_read, str(folder / "f"))["errno"] == "EACCES"


def test_a_new_store_is_private_whatever_the_umask(base, engine):
    path = base / "store"
    with _umask(0):  # the widest umask: nothing below may come from it
        _make_store(path, engine)
    assert _mode(path) == 0o700
    found = _files(path)
    names = {str(p.relative_to(path)) for p in found}
    assert {"graph.db", "graphmem.json", "graphmem.lock", "vectors/hnsw.bin", "vectors/manifest.json",
            "derived/manifest.json", "derived/clean"} <= names
    assert any(name.endswith("/adj_nbrs.npy") for name in names)  # the saved graph state
    assert {str(p.relative_to(path)): _mode(p) for p in found} == {n: 0o600 for n in names}
    assert _mode(path / "vectors") == 0o700
    assert {_mode(p) for p in (path / "derived").rglob("*") if p.is_dir()} | {_mode(path / "derived")} == {0o700}
    assert any(SECRET.encode() in p.read_bytes() for p in found), "control: the secret is on disk"
    assert run_as(_grep, str(path), SECRET)["errno"] == "EACCES"
    # The other user can neither list the folder nor open any file in it.
    assert run_as(_list, str(path))["errno"] == "EACCES"
    for p in found:
        assert run_as(_read, str(p))["errno"] == "EACCES", p
    # The files' own bits hold too, with the folder opened up (as a careless chmod would).
    os.chmod(path, 0o755)
    os.chmod(path / "vectors", 0o755)
    assert "graph.db" in run_as(_list, str(path))["ok"]  # control: the folder is now readable
    for p in found:
        assert run_as(_read, str(p))["errno"] == "EACCES", p


def test_another_user_cannot_lock_the_owner_out(base, engine):
    path = base / "store"
    with _umask(0o022):  # the usual umask, under which the attack worked
        _make_store(path, engine)
    with as_user(_lock, str(path / "graphmem.lock")) as answer:
        assert answer["errno"] == "EACCES"
        with graphmem.open(path, engine=engine, embedder=None) as mem:  # the owner still opens
            assert mem.get_entity("Owner").text == SECRET


def test_the_lock_out_is_real_on_a_store_with_the_old_modes(base, engine):
    """The attack of the issue, on a store with the modes graphmem used to
    give (0755 / 0644): it works there, so the test above can fail."""
    path = base / "old"
    _make_store(path, engine)
    os.chmod(path, 0o755)
    for p in _files(path):
        os.chmod(p, 0o644)
    with as_user(_lock, str(path / "graphmem.lock")) as answer:
        assert answer == {"ok": "locked"}
        with pytest.raises(StoreLocked):
            graphmem.open(path, engine=engine, embedder=None)
    assert run_as(_grep, str(path), SECRET) == {"ok": True}  # and every local user read the secret


def test_an_existing_store_keeps_its_modes(base, engine):
    path = base / "old"
    _make_store(path, engine)
    os.chmod(path, 0o755)
    for p in _files(path):
        os.chmod(p, 0o644)
    shutil.rmtree(path / "vectors")  # written again at the next close, into the existing store
    with _umask(0o077):
        _make_store(path, engine)
    assert _mode(path) == 0o755
    assert _mode(path / "vectors") == 0o755
    assert {p.name: _mode(p) for p in _files(path)} == {p.name: 0o644 for p in _files(path)}


def test_mode_widens_a_new_store_for_the_group(base, engine):
    path = base / "shared"
    with _umask(0o077):  # narrower than asked: mode wins
        _make_store(path, engine, mode=0o750)
    assert _mode(path) == 0o750
    assert {p.name: _mode(p) for p in _files(path)} == {p.name: 0o640 for p in _files(path)}
    os.chown(path, 0, NOBODY)
    for p in [path / "vectors", *_files(path)]:
        os.chown(p, 0, NOBODY)
    # A member of the store's group (gid 65534) reads; any other user does not.
    assert run_as(_read, str(path / "graph.db"), gid=NOBODY)["ok"]["bytes"] > 0
    assert run_as(_read, str(path / "graph.db"), gid=NOBODY - 1)["errno"] == "EACCES"


@pytest.mark.parametrize("mode", [0o600, 0o711, 0o701, 0o1700, -1, "0o700", True, None])
def test_mode_is_checked(tmp_path, engine, mode):
    if mode is None:
        with pytest.raises(InvalidInput, match="store on disk"):
            graphmem.open(None, engine=engine, embedder=None, mode=0o700)
        return
    with pytest.raises(InvalidInput):
        graphmem.open(tmp_path / "s", engine=engine, embedder=None, mode=mode)
    assert not (tmp_path / "s").exists()


def test_file_modes_follow_the_directory():
    assert files.file_mode_of(0o700) == 0o600
    assert files.file_mode_of(0o750) == 0o640
    assert files.file_mode_of(0o755) == 0o644
    for good in (0o700, 0o750, 0o755, 0o740, 0o777):
        assert files.check_mode(good) == good


def test_an_empty_folder_made_beforehand_becomes_private(base, engine):
    """``graphmem mcp`` (and users) create the folder first; it is not a store yet, so it is made private."""
    path = base / "pre"
    path.mkdir(mode=0o755)
    graphmem.open(path, engine=engine, embedder=None).close()
    assert _mode(path) == 0o700


def test_the_engine_files_are_narrowed_at_open(base, engine):
    path = base / "store"
    _make_store(path, engine)
    os.chmod(path / "graph.db", 0o644)  # as the engine makes it under umask 022
    (path / "graph.db.wal").write_bytes(b"")  # an empty log left beside it (nothing to replay)
    os.chmod(path / "graph.db.wal", 0o666)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        assert len(mem) == 2
        assert _mode(path / "graph.db") == 0o600
        if (path / "graph.db.wal").exists():
            assert _mode(path / "graph.db.wal") == 0o600


# -- the MCP share socket ----------------------------------------------------------------

_listening: dict[str, Any] = {}


def _serve_once(path: str) -> str:
    """Listen on ``path`` like a holder and answer one request with who we are."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # as reachable as can be: only the follower's own check may refuse it
    sock.listen(1)

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            received = b""
            while not received.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received += chunk
            _listening["received"] = len(received)
            if received:
                conn.sendall(json.dumps({"ok": True, "text": f"served by uid {os.getuid()}"}).encode() + b"\n")

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    _listening["worker"] = worker
    return "listening"


def _served() -> dict[str, Any]:
    _listening["worker"].join(timeout=30)  # a bound, not a timing assertion: the parent has connected already
    return {"received": _listening.get("received")}


def _no_holder() -> graphmem.Memory:
    raise StoreLocked("held elsewhere")


@pytest.mark.parametrize("uid", [NOBODY, 0])
def test_a_follower_sends_nothing_to_another_users_socket(base, uid):
    """A socket at ``PATH/mcp.sock`` whose listener is another uid gets no
    call: the follower checks SO_PEERCRED before it writes. With the same uid
    (the control) the same listener answers."""
    from graphmem.mcp.share import SOCKET_NAME, Shared

    folder = base / "store"
    folder.mkdir()
    os.chmod(folder, 0o777)  # so the other user can put a socket in it
    shared = Shared(folder, _no_holder, patience=5.0)
    with as_user(_serve_once, str(folder / SOCKET_NAME), uid=uid, gid=uid, then=_served) as answer:
        assert answer == {"ok": "listening"}
        if uid == NOBODY:
            with pytest.raises(StoreLocked, match=f"runs as uid {NOBODY}, not as this user"):
                shared.read_graph_text()
        else:
            assert shared.read_graph_text() == "served by uid 0"
    received = answer["then"]["received"]
    assert received == 0 if uid == NOBODY else received > 0


def _connect(path: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
    return "connected"


def test_the_holder_socket_is_owner_only_whatever_the_umask(base):
    from graphmem.mcp.share import SOCKET_NAME, _Holder

    folder = base / "store"
    folder.mkdir()
    os.chmod(folder, 0o755)  # the socket's own bits are under test, not the folder's
    path = folder / SOCKET_NAME
    with _umask(0):
        listener = _Holder._bind(path)
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode) and _mode(path) == 0o600
        assert run_as(_connect, str(path))["errno"] == "EACCES"
        os.chmod(path, 0o666)
        assert run_as(_connect, str(path)) == {"ok": "connected"}  # control: the child could connect
    finally:
        listener.close()
