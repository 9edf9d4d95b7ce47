"""Unix domain sockets beside a store, private to its owner.

Two conversations use them: the MCP servers of one store (the holder answers
the others on ``PATH/mcp.sock``, :mod:`graphmem.mcp.share`) and a read-only
reader that yields the store to a writer on request (``PATH/yield-<pid>.<n>.sock``,
:mod:`graphmem.store.release`). Both need the same three guards, kept here
once: the socket file is made 0600 (in the store's 0700 folder, like every
file graphmem writes), the listener hangs up on a peer of another uid, and
the connecting side sends nothing to a listener of another uid (Linux
``SO_PEERCRED``; elsewhere the file mode and the folder are the guard).
Messages are one JSON object per line.
"""

from __future__ import annotations

import os
import selectors
import socket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import GraphMemError, StoreLocked

__all__ = [
    "MAX_MESSAGE", "accept_until_woken", "bind_private", "check_length", "connect_same_user", "peer_uid", "read_line",
    "same_user",
]

MAX_MESSAGE = 256 * 1024 * 1024
_SUN_PATH = 104  # sun_path is 108 bytes on Linux, 104 on macOS: the smaller bound everywhere


def check_length(path: Path) -> Path:
    """``path``, or :class:`GraphMemError` if it is too long for a Unix socket's address."""
    if len(os.fsencode(path)) >= _SUN_PATH:
        raise GraphMemError(f"the store path is too long for its Unix socket ({path}); use a shorter one")
    return path


def bind_private(path: Path, *, backlog: int = 128) -> socket.socket:
    """A non-blocking socket listening on ``path``, its file mode 0600.

    A socket file already at ``path`` is removed first: the caller owns the
    name (the MCP holder holds the store's lock; a yielding reader's name
    carries its own process id, which no live process shares).
    """
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if sys.platform == "linux":
            # Linux makes the socket file with the mode of the unbound
            # socket's inode (less the umask): set to 0600 first, the file
            # is never reachable with wider rights. Narrowing the umask
            # around bind() would do it too, but the umask is process-wide:
            # a folder another thread made meanwhile would lose its owner's
            # x bit. Elsewhere the chmod below and the 0700 store folder guard it.
            os.fchmod(sock.fileno(), 0o600)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)  # accept() only after a poll says a peer is there
    return sock


def connect_same_user(path: Path, *, timeout: float | None = None) -> socket.socket:
    """A connection to the listener on ``path``, checked to run as this user.

    Raises ``OSError`` when nobody listens (``FileNotFoundError``,
    ``ConnectionRefusedError``: a socket file left by a killed process), and
    :class:`StoreLocked` when the listener is another user: nothing is sent
    to it (a socket another user made in the folder, which only one who may
    write there can, would otherwise get every message).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        peer = peer_uid(sock)
        if peer is not None and peer != os.getuid():
            raise StoreLocked(
                f"the process listening on {path} runs as uid {peer}, not as this user (uid {os.getuid()}); "
                "refusing to send it anything. Stop it, or remove the socket if no graphmem process of yours made it"
            )
    except BaseException:
        sock.close()
        raise
    return sock


def read_line(sock: socket.socket, *, limit: int = MAX_MESSAGE) -> bytes | None:
    """One newline-terminated message (without the newline), or ``None`` if the peer closed first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        end = chunk.find(b"\n")
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise OSError("message too large")


def same_user(conn: socket.socket) -> bool:
    """Whether the peer runs as this user (Linux SO_PEERCRED; elsewhere the
    socket file's 0600 mode is the guard)."""
    peer = peer_uid(conn)
    return peer is None or peer == os.getuid()


def peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end (for the connecting side: the
    one that called ``listen``), or ``None`` where SO_PEERCRED does not exist."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)


def accept_until_woken(listener: socket.socket, wake: int, handle: Callable[[socket.socket], None]) -> None:
    """Accept connections on the non-blocking ``listener`` and pass each,
    made blocking, to ``handle``, until the file descriptor ``wake`` is
    readable or the listener is closed.

    Closing a socket does not wake a thread blocked on it, so the loop polls
    the listener and ``wake`` (the read end of a pipe the owner writes to when
    it closes).
    """
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while True:
            ready = {key.fd for key, _ in selector.select()}
            if wake in ready:
                return
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # the peer gave up between the poll and the accept
            except OSError:
                return  # the listener was closed
            conn.setblocking(True)
            handle(conn)
