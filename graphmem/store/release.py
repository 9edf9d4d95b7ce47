"""Release on demand: a read-only reader that keeps the store open yields it to a writer that asks.

A store admits one read-write process or several read-only ones, never both.
A reader that keeps its handle between uses (the viewer, ``graphmem view``)
would keep every agent out; instead it listens on ``PATH/yield-<pid>.<n>.sock``
(:class:`Listener`; 0600 in the store's folder, and a peer of another uid is
hung up on: :mod:`graphmem.store.sockets`). A read-write open that finds the
store locked asks each such reader to let go (:func:`ask_readers`, one
message), then retries the lock for at most :data:`RELEASE_WAIT` seconds in
all before it raises :class:`~graphmem.errors.StoreLocked` as before.

The conversation, one connection per writer::

    writer -> reader   {"op": "release"}
    reader -> writer   {"ok": true, "released": true}   # after finishing its work in flight and closing
    writer             takes the lock, then hangs up

The reader opens nothing while a writer it released is still connected (at
most :data:`RELEASE_WAIT`): it would take the lock back between its answer
and the writer's retry. Once the writer hangs up it holds the store (or gave
up), and the reader's next open either waits its turn (the store is locked)
or succeeds. A socket file left by a reader that was killed answers nothing
(``ECONNREFUSED``) and is passed over at once; a reader that is alive but
stuck costs the writer at most :data:`RELEASE_WAIT`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import GraphMemError, StoreLocked
from .sockets import accept_until_woken, bind_private, check_length, connect_same_user, read_line, same_user

__all__ = ["RELEASE_WAIT", "Listener", "ask_readers", "make_listener", "not_asking", "retry", "socket_path"]

log = logging.getLogger("graphmem.store")

RELEASE_WAIT = 2.0
"""Seconds a read-write open that asked a reader to release the store waits
in all (the reader's answer and the retries of the lock) before it raises
:class:`~graphmem.errors.StoreLocked`; also how long the reader keeps off
the store for a writer that does not hang up."""
_PREFIX, _SUFFIX = "yield-", ".sock"
_RETRY_PAUSE = 0.005


_serial = itertools.count()


def socket_path(store: Path) -> Path:
    """A new name for a reader of this process to listen on, beside the store (the process
    id and a counter: no live process shares it, so a file by that name is a dead one's)."""
    return store / f"{_PREFIX}{os.getpid()}.{next(_serial)}{_SUFFIX}"


# -- the writer's side -----------------------------------------------------------------------


_local = threading.local()


@contextmanager
def not_asking() -> Iterator[None]:
    """Opens in this thread inside the block ask no reader to yield: a yielding reader's own
    open (it would ask itself, and wait for its own answer while it holds its lock)."""
    before = getattr(_local, "quiet", False)
    _local.quiet = True
    try:
        yield
    finally:
        _local.quiet = before


@contextmanager
def ask_readers(store: Path, deadline: float) -> Iterator[bool]:
    """Ask every yielding reader of ``store`` to release it; yield whether one did.

    The connections to the readers that released stay open inside the block,
    which is where the caller retries its lock (until ``deadline``, a
    ``time.monotonic()`` value): a released reader opens nothing meanwhile.
    Inside :func:`not_asking` it asks nobody.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> calls = []
    >>> reader = Listener(folder, release=lambda: calls.append("release") or True,
    ...                   taken=lambda: calls.append("taken"))
    >>> with ask_readers(folder, time.monotonic() + RELEASE_WAIT) as released:
    ...     released, calls
    (True, ['release'])
    >>> reader.close()
    >>> with ask_readers(folder, time.monotonic() + RELEASE_WAIT) as released:
    ...     released  # nobody listens any more
    False
    """
    held: list[socket.socket] = []
    try:
        for path in [] if getattr(_local, "quiet", False) else _reader_sockets(store):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn = _ask(path, remaining)
            if conn is not None:
                held.append(conn)
        yield bool(held)
    finally:
        for conn in held:
            conn.close()


def retry(attempt: Callable[[], bool], deadline: float) -> bool:
    """Call ``attempt()`` until it returns True or ``deadline`` (``time.monotonic()``) passes."""
    while True:
        if attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_RETRY_PAUSE)


def _reader_sockets(store: Path) -> list[Path]:
    try:
        names = os.listdir(store)
    except OSError:
        return []
    return [store / name for name in sorted(names) if name.startswith(_PREFIX) and name.endswith(_SUFFIX)]


def _ask(path: Path, timeout: float) -> socket.socket | None:
    """The connection to the reader on ``path`` once it has released the store, else ``None``."""
    try:
        conn = connect_same_user(path, timeout=timeout)
    except StoreLocked as exc:  # another user's socket: it gets no word from us
        log.warning("not asking %s to release the store: %s", path, exc)
        return None
    except OSError:
        return None  # nobody listens (a reader killed without cleaning up), or the path is too long
    try:
        conn.sendall(b'{"op": "release"}\n')
        line = read_line(conn, limit=4096)
        answer = json.loads(line) if line is not None else {}
        if isinstance(answer, dict) and answer.get("released") is True:
            return conn
    except (OSError, ValueError) as exc:  # timed out (a stuck reader) or hung up
        log.info("the reader on %s did not release the store: %s", path, exc)
    conn.close()
    return None


# -- the reader's side -----------------------------------------------------------------------


class Listener:
    """Listens on :func:`socket_path` for writers asking for the store.

    Parameters
    ----------
    store
        The store's directory.
    release
        Called (in a thread of the listener) when a writer of this user
        asks; it finishes the reader's work in flight, closes the reader's
        handle and returns True, or returns False when the reader held
        nothing. It must not open the store again until ``taken`` is called.
    taken
        Called once the writer that ``release`` answered True to hung up (it
        holds the store now, or gave up), or after :data:`RELEASE_WAIT` if it
        did not.

    Raises :class:`GraphMemError` when the store's path is too long for a
    socket, ``OSError`` when the socket cannot be made.
    """

    def __init__(self, store: Path, release: Callable[[], bool], taken: Callable[[], None]) -> None:
        self.path = check_length(socket_path(store))
        _remove_dead(store)
        self._release = release
        self._taken = taken
        self._listener = bind_private(self.path, backlog=16)
        self._inode = os.stat(self.path).st_ino
        # Closing a socket does not wake a thread blocked on it: the acceptor
        # polls the listener and this pipe, which close() writes to.
        self._wake_read, self._wake_write = os.pipe()
        self._closed = False
        # Each asker's thread and its connection: close() hangs them up and
        # waits, so no callback runs after it returned.
        self._peers: dict[threading.Thread, socket.socket] = {}
        self._peers_lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="graphmem-yield", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        accept_until_woken(self._listener, self._wake_read, self._start_peer)

    def _start_peer(self, conn: socket.socket) -> None:
        peer = threading.Thread(target=self._serve, args=(conn,), name="graphmem-yield-peer", daemon=True)
        with self._peers_lock:
            if self._closed:
                conn.close()
                return
            self._peers[peer] = conn
        peer.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        finally:
            with self._peers_lock:
                self._peers.pop(threading.current_thread(), None)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            if not same_user(conn):
                log.warning("refused a request to release the store from another user's process")
                return
            conn.settimeout(RELEASE_WAIT)
            try:
                line = read_line(conn, limit=4096)
                request = json.loads(line) if line is not None else None
            except (OSError, ValueError):
                return
            if not isinstance(request, dict) or request.get("op") != "release":
                return
            released = self._release()
            try:
                conn.sendall(json.dumps({"ok": True, "released": released}).encode() + b"\n")
                if released:
                    conn.recv(1)  # returns when the writer hangs up (it took the lock), or times out
            except OSError:
                pass  # the writer went away or is slow: either way the store is free to reopen now
            finally:
                if released and not self._closed:  # closed: its owner has let the store go for good
                    self._taken()

    def close(self) -> None:
        """Stop listening, hang up on the writers asking (no callback runs
        once this returns), and remove the socket file (if it is still ours)."""
        if self._closed:
            return
        with self._peers_lock:
            self._closed = True
            peers = dict(self._peers)
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5.0)
        for peer, conn in peers.items():
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes its recv: a closed socket would not
            except OSError:
                pass  # already hung up
            peer.join(timeout=RELEASE_WAIT)
        self._listener.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass


def _remove_dead(store: Path) -> None:
    """Remove the sockets of readers whose process is gone (killed: nobody removed them), so they
    do not pile up; a writer passes over them anyway (nobody answers)."""
    for path in _reader_sockets(store):
        pid = path.name[len(_PREFIX):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)  # no process has that id: no listener can be behind it
        except PermissionError:
            continue  # a live process of another user: not ours to judge


def make_listener(store: Path, release: Callable[[], bool], taken: Callable[[], None]) -> Listener | None:
    """A :class:`Listener`, or ``None`` (logged) when this store cannot have one."""
    try:
        return Listener(store, release, taken)
    except (GraphMemError, OSError) as exc:
        log.warning("cannot listen for writers beside %s (%s)", store, exc)
        return None
