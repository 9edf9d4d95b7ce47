"""Several MCP server processes on one store: one holds it, the others ask it.

A store admits one read-write process. The first ``graphmem mcp PATH`` opens
it and becomes the *holder*: it answers its own client and listens on a Unix
domain socket beside the store (``PATH/mcp.sock``, mode 0600, and a peer
that is not this user is hung up on; a follower likewise sends nothing to a
socket whose listener is another user). The next ones find the store locked
and become *followers*: they forward each tool call over the socket.

When the holder exits (or dies), a follower notices on its next call (the
socket refuses it) or during one (the connection closes before the answer):
it then tries to open the store itself. One follower wins and becomes the new
holder; the others go on forwarding, to it. A write call carries a request
id from its first attempt on, so a call that the old holder committed before
dying is not applied again by the new one (see :mod:`graphmem.mcp.atomic`).

Wire format: one JSON object per line each way, one request per connection.
Request ``{"op": "tool", "name": ..., "args": {...}, "id": ... | null}`` or
``{"op": "resource"}``; answer ``{"ok": true, "outcome": {...}}``,
``{"ok": true, "text": ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import GraphMemError, StoreLocked
from ..memory import Memory
from .atomic import new_request_id
from .schemas import TOOLS_BY_NAME
from .tools import Outcome, Tools

__all__ = ["Shared", "SOCKET_NAME"]

log = logging.getLogger("graphmem.mcp")

SOCKET_NAME = "mcp.sock"
MAX_MESSAGE = 256 * 1024 * 1024
# How long a call may wait for some process to hold the store (a takeover
# includes opening the store, which replays its write-ahead log).
DEFAULT_PATIENCE = 60.0


class _HolderGone(Exception):
    """The holder could not be reached, or hung up before answering."""


class Shared:
    """This process's way to the store: it holds it, or asks the process that does.

    Parameters
    ----------
    path
        The store's directory.
    open_memory
        Opens the store read-write; raises :class:`StoreLocked` while another
        process holds it.
    make_tools
        Builds the tools over an opened memory.
    patience
        Seconds a call keeps trying to reach a holder (or become one) before
        it fails with :class:`StoreLocked`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        open_memory: Callable[[], Memory],
        *,
        make_tools: Callable[[Memory], Tools] = Tools,
        patience: float = DEFAULT_PATIENCE,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.socket_path = self.path / SOCKET_NAME
        if len(os.fsencode(self.socket_path)) >= 104:  # sun_path is 108 bytes on Linux, 104 on macOS
            raise GraphMemError(f"the store path is too long for its Unix socket ({self.socket_path}); use a shorter one")
        self._open_memory = open_memory
        self._make_tools = make_tools
        self._patience = patience
        self._role_lock = threading.Lock()
        self._holder: _Holder | None = None
        self._closed = False

    @property
    def holds(self) -> bool:
        """Whether this process holds the store."""
        return self._holder is not None

    def start(self) -> None:
        """Hold the store if no other process does; else be ready to ask the one that does."""
        self._try_hold()

    def _try_hold(self) -> bool:
        with self._role_lock:
            if self._holder is not None:
                return True
            if self._closed:
                raise GraphMemError("this MCP server is shutting down")
            try:
                mem = self._open_memory()
            except StoreLocked:
                return False
            try:
                self._holder = _Holder(mem, self._make_tools(mem), self.socket_path)
            except BaseException:
                mem.close()
                raise
            log.info("holding the store %s; serving other servers on %s", self.path, self.socket_path)
            return True

    # -- calls ---------------------------------------------------------------------

    def call_tool(self, name: str, arguments: dict[str, Any] | None) -> Outcome:
        """Run a tool here or at the holder; retried across a takeover, applied once."""
        spec = TOOLS_BY_NAME.get(name)
        request_id = new_request_id() if spec is not None and spec.writes else None
        request = {"op": "tool", "name": name, "args": arguments or {}, "id": request_id}

        def local(holder: _Holder) -> Outcome:
            return holder.tools.call(name, arguments, request_id)

        def remote(answer: dict[str, Any]) -> Outcome:
            return Outcome.from_dict(answer["outcome"])

        return self._run(request, local, remote)

    def read_graph_text(self) -> str:
        """The ``memory://knowledge-graph`` resource."""
        return self._run({"op": "resource"}, lambda holder: holder.tools.read_graph_text(),
                         lambda answer: str(answer["text"]))  # fmt: skip

    def _run(self, request: dict[str, Any], local: Callable[[_Holder], Any],
             remote: Callable[[dict[str, Any]], Any]) -> Any:  # fmt: skip
        deadline = time.monotonic() + self._patience
        pause = 0.02
        while True:
            holder = self._holder
            if holder is not None:
                return local(holder)
            try:
                answer = _ask(self.socket_path, request)
            except _HolderGone as gone:
                if self._try_hold():
                    continue
                if pause == 0.02:
                    log.info("the server holding %s is unreachable (%s); retrying", self.path, gone)
                if time.monotonic() > deadline:
                    raise StoreLocked(
                        f"the store {self.path} is held by a process that does not answer on "
                        f"{self.socket_path} ({gone})"
                    ) from None
                time.sleep(pause)  # the new holder is still opening the store
                pause = min(pause * 2, 0.5)
                continue
            if not answer.get("ok"):
                raise GraphMemError(f"the MCP server holding {self.path} refused the call: {answer.get('error')}")
            return remote(answer)

    def close(self, *, save_index: bool = True) -> None:
        """Stop serving others (they take over) and release the store
        (``save_index``: see :meth:`Memory.close`)."""
        with self._role_lock:
            self._closed = True
            holder, self._holder = self._holder, None
        if holder is not None:
            holder.close(save_index=save_index)


def _ask(socket_path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the holder and read its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise _HolderGone(f"cannot connect: {exc.strerror}") from None
        # Before a word is sent: a socket another user made in the folder
        # (it can only be one who may write there) would get every call.
        peer = _peer_uid(sock)
        if peer is not None and peer != os.getuid():
            raise StoreLocked(
                f"the process listening on {socket_path} runs as uid {peer}, not as this user (uid {os.getuid()}); "
                "refusing to send it calls. Stop it, or remove the socket if no graphmem server of yours holds the store"
            )
        try:
            sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            line = _read_line(sock)
        except OSError as exc:  # reset or broken pipe: the holder died mid-call
            raise _HolderGone(f"connection lost: {exc}") from None
    if line is None:
        raise _HolderGone("the holder hung up before answering")
    return dict(json.loads(line))


def _read_line(sock: socket.socket) -> bytes | None:
    """One newline-terminated message, or ``None`` if the peer closed first."""
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
        if size > MAX_MESSAGE:
            raise OSError("message too large")


class _Holder:
    """The open store, the tools over it, and the socket that serves other servers."""

    def __init__(self, mem: Memory, tools: Tools, socket_path: Path) -> None:
        self.mem = mem
        self.tools = tools
        self._path = socket_path
        self._active: set[threading.Thread] = set()
        self._waiting: set[socket.socket] = set()  # connections whose request has not arrived yet
        self._active_lock = threading.Lock()
        # Closing a socket does not wake a thread blocked in accept() on it
        # (that cost every exit 30 s): the acceptor polls the listener and
        # this pipe, which close() writes to.
        self._wake_read, self._wake_write = os.pipe()
        self._listener = self._bind(socket_path)
        self._inode = os.stat(socket_path).st_ino
        self._acceptor = threading.Thread(target=self._accept, name="graphmem-mcp-accept", daemon=True)
        self._acceptor.start()

    @staticmethod
    def _bind(path: Path) -> socket.socket:
        # Only the holder of the store's lock gets here, so a socket file
        # left by a holder that died can be removed without a race.
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
        except BaseException:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)  # accept() only after a poll says a peer is there
        return sock

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                ready = {key.fd for key, _ in selector.select()}
                if self._wake_read in ready:
                    return  # close() asked us to stop
                try:
                    conn, _ = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue  # the peer gave up between the poll and the accept
                except OSError:
                    return  # the listener was closed: we are shutting down
                self._start_peer(conn)

    def _start_peer(self, conn: socket.socket) -> None:
        conn.setblocking(True)  # accepted from a non-blocking listener
        worker = threading.Thread(target=self._serve, args=(conn,), name="graphmem-mcp-peer", daemon=True)
        with self._active_lock:
            self._active.add(worker)
            self._waiting.add(conn)
        worker.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                if not _same_user(conn):
                    return
                line = self._read_request(conn)
                if line is None:
                    return
                conn.sendall(json.dumps(self._answer(line), ensure_ascii=False).encode() + b"\n")
        except OSError as exc:
            log.info("a peer server went away mid-call: %s", exc)  # it retries with the same request id
        finally:
            with self._active_lock:
                self._active.discard(threading.current_thread())

    def _read_request(self, conn: socket.socket) -> bytes | None:
        """The peer's request; ``None`` if it hung up or close() dropped it first."""
        try:
            line = _read_line(conn)
        finally:
            with self._active_lock:
                dropped = conn not in self._waiting
                self._waiting.discard(conn)
        # Once out of _waiting, close() leaves the call to finish; before, it
        # hangs up on the peer, which then retries at the next holder.
        return None if dropped else line

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, TypeError, KeyError):
            return {"ok": False, "error": "malformed request"}
        if op == "resource":
            return {"ok": True, "text": self.tools.read_graph_text()}
        if op != "tool" or not isinstance(request.get("name"), str) or not isinstance(request.get("args"), dict):
            return {"ok": False, "error": f"unknown request {op!r}"}
        request_id = request.get("id")
        outcome = self.tools.call(request["name"], request["args"], request_id if isinstance(request_id, str) else None)
        return {"ok": True, "outcome": outcome.to_dict()}

    def close(self, *, grace: float = 30.0, save_index: bool = True) -> None:
        """Stop accepting, hang up on peers that have not sent their request,
        let calls in progress finish, remove the socket, release the store."""
        os.write(self._wake_write, b"x")
        self._acceptor.join(timeout=grace)
        self._listener.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        with self._active_lock:
            idle, self._waiting = list(self._waiting), set()
        for conn in idle:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes its thread's recv(); the peer sees a hang-up
            except OSError:
                pass  # it hung up already
        deadline = time.monotonic() + grace
        while True:
            with self._active_lock:
                pending = list(self._active)
            if not pending or time.monotonic() > deadline:
                break
            pending[0].join(timeout=max(0.0, deadline - time.monotonic()))
        try:
            if os.stat(self._path).st_ino == self._inode:
                os.unlink(self._path)  # not a successor's socket: ours
        except FileNotFoundError:
            pass
        self.mem.close(save_index=save_index)


def _same_user(conn: socket.socket) -> bool:
    """Whether the peer runs as this user (Linux SO_PEERCRED; elsewhere the
    socket file's 0600 mode is the guard)."""
    peer = _peer_uid(conn)
    return peer is None or peer == os.getuid()


def _peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end (for a follower: the one that
    called ``listen``), or ``None`` where SO_PEERCRED does not exist."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)
