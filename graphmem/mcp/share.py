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

Changes: after every write call that succeeded, wherever it came from, each
server hears of it so it can tell its client (``notifications/resources/
updated``). The holder calls its listeners (:meth:`Shared.add_listener`) for
calls that came over the socket, and tells every follower over a *watch*
connection each follower keeps open. A server is not told of the write calls
it made itself (its client sees their answer; the server notifies that client
itself), so each request names its origin. A follower that loses its watch
(the holder exited; it may have missed a change meanwhile) tells its listeners
at once, and again when it watches the next holder or becomes the holder.

Wire format: one JSON object per line each way, one request per connection.
Request ``{"op": "tool", "name": ..., "args": {...}, "id": ... | null,
"origin": ...}`` (``args`` name the namespace) or ``{"op": "resource", "namespace": ...}``; answer ``{"ok": true, "outcome":
{...}}``, ``{"ok": true, "text": ...}`` or ``{"ok": false, "error": ...}``.
``{"op": "explore", "endpoint": ..., "params": {name: [value, ...]}, "namespace": ...}``
asks for one of ``graphmem view``'s bounded endpoints (:mod:`graphmem.explore`),
answered read-only from the holder's own memory in that namespace:
``{"ok": true, "answer": {...}}``, or ``{"ok": true, "refused": {"type":
"NotFound", "message": ...}}`` for the typed error the viewer would give.
``{"op": "watch", "origin": ...}`` is answered ``{"ok": true}`` and the
connection stays open: the holder then sends ``{"changed": true}`` after each
write call not made by that origin, until it closes.

Over 500 lines: the holder's side and the asking side of one socket protocol
(framing, the peer's user check, what happens when the holder goes) change
together, so both ends live here.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import GraphMemError, StoreLocked
from ..explore import run as explore
from ..memory import Memory
from ..memory.requests import new_request_id
from ..memory.ready import save_rebuilt_state
from ..store.sockets import (
    MAX_MESSAGE,
    accept_until_woken,
    bind_private,
    check_length,
    connect_same_user,
    read_line,
    same_user,
)
from .schemas import TOOLS_BY_NAME
from .tools import Outcome, Tools

__all__ = ["Shared", "SOCKET_NAME"]

log = logging.getLogger("graphmem.mcp")

SOCKET_NAME = "mcp.sock"
# How long a call may wait for some process to hold the store (a takeover
# includes opening the store, which replays its write-ahead log).
DEFAULT_PATIENCE = 60.0
# A follower that does not take a change notice within this long is dropped
# (it re-attaches and tells its client then): a stuck peer must not hold up writes.
WATCH_SEND_TIMEOUT = 2.0


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
    namespace
        This server's namespace, sent with every call that names none: the
        holder may be a server of another namespace, and answers each call
        in the namespace the call carries.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        open_memory: Callable[[], Memory],
        *,
        make_tools: Callable[[Memory], Tools] = Tools,
        patience: float = DEFAULT_PATIENCE,
        namespace: str | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.socket_path = check_length(self.path / SOCKET_NAME)
        self._open_memory = open_memory
        self._make_tools = make_tools
        self._patience = patience
        self.namespace = namespace
        self._role_lock = threading.Lock()
        self._holder: _Holder | None = None
        self._closed = False
        # Who this server is in change notices, so it is not told of its own writes.
        self.origin = uuid.uuid4().hex
        self._listeners: list[Callable[[], None]] = []
        self._watcher: threading.Thread | None = None
        self._watch_sock: socket.socket | None = None
        self._wake_read, self._wake_write = os.pipe()  # close() wakes the watcher's wait

    @property
    def holds(self) -> bool:
        """Whether this process holds the store."""
        return self._holder is not None

    @property
    def watched(self) -> bool:
        """Whether this process holds the store and other servers follow its writes
        (each write then sends them a notice, which a stuck follower can hold up)."""
        holder = self._holder
        return holder is not None and holder.watched

    def start(self) -> None:
        """Hold the store if no other process does; else be ready to ask the one that does."""
        if not self._try_hold():
            self._start_watching()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each write call made through another server
        on this store (from any thread; it must not block)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _start_watching(self) -> None:
        with self._role_lock:
            if self._watcher is not None or self._closed or self._holder is not None:
                return
            self._watcher = threading.Thread(target=self._watch, name="graphmem-mcp-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        """A follower's thread: hear of the holder's writes, re-attaching across takeovers."""
        attached_before = False
        pause = 0.02
        while not self._closed and self._holder is None:
            try:
                sock = _connect(self.socket_path)
            except StoreLocked as exc:  # another user's socket: calls fail and say so; no notices
                log.warning("not watching %s for changes: %s", self.path, exc)
                return
            except _HolderGone:
                # Nobody holds the store right now; the next call (here or
                # at another follower) takes it over.
                if self._wait(pause):
                    return
                pause = min(pause * 2, 0.5)
                continue
            with self._role_lock:
                if self._closed:
                    sock.close()
                    return
                self._watch_sock = sock  # close() shuts it down to wake the read below
            with sock, sock.makefile("rb") as reader:
                try:
                    sock.sendall(json.dumps({"op": "watch", "origin": self.origin}).encode() + b"\n")
                    line = reader.readline(MAX_MESSAGE)
                    if not line.endswith(b"\n") or not json.loads(line).get("ok"):
                        raise _HolderGone("refused the watch")
                    if attached_before:
                        self._changed()  # a change made while detached would go unheard
                    attached_before = True
                    pause = 0.02
                    while reader.readline(MAX_MESSAGE).endswith(b"\n"):  # one notice per line until EOF
                        self._changed()
                except (OSError, ValueError, _HolderGone) as exc:
                    log.info("lost the change notices of %s (%s); re-attaching", self.path, exc)
                finally:
                    with self._role_lock:
                        self._watch_sock = None
            if attached_before and not self._closed:
                # The holder went away, maybe after a write whose notice never
                # came (and no process may hold the store for a while): tell
                # the client now, and again once watching the next holder.
                self._changed()
            if self._wait(pause):
                return
        if self._holder is not None and attached_before:
            self._changed()  # now the holder: what the old one did last went unheard

    def _wait(self, seconds: float) -> bool:
        """Sleep, or return True at once when close() was called."""
        ready, _, _ = select.select([self._wake_read], [], [], seconds)
        return bool(ready) or self._closed

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
                self._holder = _Holder(mem, self._make_tools(mem), self.socket_path, self._changed)
            except BaseException:
                mem.close()
                raise
            log.info("holding the store %s; serving other servers on %s", self.path, self.socket_path)
            return True

    def warm(self) -> bool:
        """Build the in-memory indexes that ``search_nodes`` and ``open_nodes``
        answer from (the text index, the relation index: a scan of the store,
        seconds at 100k entities) if this process holds the store; return
        whether it does. Calls meanwhile wait for the build, as the first
        call would have built it."""
        holder = self._holder
        if holder is None:
            return False
        try:
            holder.mem.find_text("", limit=1)
            holder.mem.find_relations([])
        except GraphMemError as exc:  # closed meanwhile (the server is stopping)
            log.info("the in-memory indexes of %s were not built ahead of the first call: %s", self.path, exc)
            return False
        return True

    def save_rebuilt(self) -> None:
        """If this process holds the store and :meth:`warm` had to rebuild the
        graph state or the text index (or catch up many writes), save them
        (:func:`graphmem.memory.ready.save_rebuilt_state`): a server stops without
        saving (see :func:`graphmem.mcp.server.serve`), and the next start
        then reads them from the files."""
        holder = self._holder
        if holder is None:
            return
        try:
            save_rebuilt_state(holder.mem)
        except OSError as exc:  # a full disk, a permission: answers do not need it
            log.warning("the rebuilt graph state of %s was not saved: %s", self.path, exc)
        except GraphMemError as exc:  # closed meanwhile (the server is stopping)
            log.info("the rebuilt graph state of %s was not saved: %s", self.path, exc)

    # -- calls ---------------------------------------------------------------------

    def call_tool(self, name: str, arguments: dict[str, Any] | None) -> Outcome:
        """Run a tool here or at the holder; retried across a takeover, applied once."""
        spec = TOOLS_BY_NAME.get(name)
        request_id = new_request_id() if spec is not None and spec.writes else None
        if self.namespace is not None and isinstance(arguments, dict) and "namespace" not in arguments:
            arguments = {**arguments, "namespace": self.namespace}
        request = {"op": "tool", "name": name, "args": arguments or {}, "id": request_id, "origin": self.origin}

        sent = False  # whether the request went to a holder (which may have applied it, then died)

        def local(holder: _Holder) -> Outcome:
            # A call answered here on its first try is never retried under this
            # id, so it needs no record (a store read and a write per call);
            # one already sent to a holder that died may have been applied
            # there, so it keeps its id and is applied once.
            outcome = holder.tools.call(name, arguments, request_id if sent else None)
            if request_id is not None and not outcome.is_error:
                holder.tell_watchers(self.origin)
            return outcome

        def remote(answer: dict[str, Any]) -> Outcome:
            return Outcome.from_dict(answer["outcome"])

        def sending() -> None:
            nonlocal sent
            sent = True

        outcome: Outcome = self._run(request, local, remote, sending)
        return outcome

    def read_graph_text(self) -> str:
        """The ``memory://knowledge-graph`` resource."""
        text: str = self._run({"op": "resource", "namespace": self.namespace},
                              lambda holder: holder.tools.in_namespace(self.namespace).read_graph_text(),
                              lambda answer: str(answer["text"]))  # fmt: skip
        return text

    def explore(self, endpoint: str, params: dict[str, list[str]]) -> dict[str, Any]:
        """One of the viewer's endpoints (:mod:`graphmem.explore`) answered by the holder's memory in
        this namespace; its refusal is raised as the same typed error (:class:`NotFound`, ...)."""

        def local(holder: _Holder) -> dict[str, Any]:
            return explore(holder.tools.in_namespace(self.namespace).mem, endpoint, params)

        def remote(answer: dict[str, Any]) -> dict[str, Any]:
            refused = answer.get("refused")
            if refused is not None:
                raise _refusal(refused)
            found: dict[str, Any] = answer["answer"]
            return found

        request = {"op": "explore", "endpoint": endpoint, "params": params, "namespace": self.namespace}
        found: dict[str, Any] = self._run(request, local, remote)
        return found

    def _run(self, request: dict[str, Any], local: Callable[[_Holder], Any],
             remote: Callable[[dict[str, Any]], Any], sending: Callable[[], None] | None = None) -> Any:  # fmt: skip
        deadline = time.monotonic() + self._patience
        pause = 0.02
        while True:
            holder = self._holder
            if holder is not None:
                return local(holder)
            try:
                if sending is not None:
                    sending()
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
            if self._closed and self._holder is None and self._watcher is None:
                return
            self._closed = True
            holder, self._holder = self._holder, None
            watcher, watch_sock = self._watcher, self._watch_sock
            self._watcher = None
        os.write(self._wake_write, b"x")
        if watch_sock is not None:
            try:
                watch_sock.shutdown(socket.SHUT_RDWR)  # wakes the watcher's recv()
            except OSError:
                pass  # the holder hung up already
        if watcher is not None:
            watcher.join(timeout=5.0)
        if watcher is None or not watcher.is_alive():
            os.close(self._wake_read)
            os.close(self._wake_write)
        if holder is not None:
            holder.close(save_index=save_index)


def _connect(socket_path: Path) -> socket.socket:
    """A connection to the holder, checked to be this user's (:func:`connect_same_user`)."""
    try:
        return connect_same_user(socket_path)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise _HolderGone(f"cannot connect: {exc.strerror}") from None


def _ask(socket_path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the holder and read its answer."""
    with _connect(socket_path) as sock:
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
    return read_line(sock)


class _Holder:
    """The open store, the tools over it, and the socket that serves other servers."""

    def __init__(self, mem: Memory, tools: Tools, socket_path: Path, changed: Callable[[], None]) -> None:
        self.mem = mem
        self.tools = tools
        self._path = socket_path
        self._changed = changed  # this process's listeners, for writes that came over the socket
        self._watchers: dict[socket.socket, str] = {}  # followers' watch connections and their origin
        self._watchers_lock = threading.Lock()
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
        return bind_private(path)

    def _accept(self) -> None:
        accept_until_woken(self._listener, self._wake_read, self._start_peer)

    def _start_peer(self, conn: socket.socket) -> None:
        worker = threading.Thread(target=self._serve, args=(conn,), name="graphmem-mcp-peer", daemon=True)
        with self._active_lock:
            self._active.add(worker)
            self._waiting.add(conn)
        worker.start()

    def _serve(self, conn: socket.socket) -> None:
        kept = False
        try:
            if not _same_user(conn):
                return
            line = self._read_request(conn)
            if line is None:
                return
            answer, origin = self._answer(line)
            if origin is not None:  # a watch: the connection stays open for change notices
                conn.settimeout(WATCH_SEND_TIMEOUT)
                with self._watchers_lock:
                    conn.sendall(b'{"ok": true}\n')
                    self._watchers[conn] = origin
                kept = True
                return
            conn.sendall(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        except OSError as exc:
            log.info("a peer server went away mid-call: %s", exc)  # it retries with the same request id
        finally:
            if not kept:
                conn.close()
            with self._active_lock:
                self._active.discard(threading.current_thread())

    @property
    def watched(self) -> bool:
        """Whether any follower watches this holder's writes."""
        with self._watchers_lock:
            return bool(self._watchers)

    def tell_watchers(self, origin: str) -> None:
        """Tell every follower but ``origin`` that a write call succeeded."""
        with self._watchers_lock:
            for conn, who in list(self._watchers.items()):
                if who == origin:
                    continue
                try:
                    conn.sendall(b'{"changed": true}\n')
                except OSError as exc:  # gone, or stuck: it re-attaches and tells its client then
                    log.info("dropping a follower's change notices: %s", exc)
                    del self._watchers[conn]
                    conn.close()

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

    def _answer(self, line: bytes) -> tuple[dict[str, Any], str | None]:
        """The answer to a request, and for a watch request the watcher's origin."""
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, TypeError, KeyError):
            return {"ok": False, "error": "malformed request"}, None
        origin = request.get("origin")
        origin = origin if isinstance(origin, str) else ""
        if op == "watch":
            return {"ok": True}, origin
        if op == "resource":
            namespace = request.get("namespace")
            try:
                tools = self.tools.in_namespace(namespace if isinstance(namespace, str) else None)
                return {"ok": True, "text": tools.read_graph_text()}, None
            except GraphMemError as exc:
                return {"ok": False, "error": str(exc)}, None
        if op == "explore":
            return self._explore(request), None
        if op != "tool" or not isinstance(request.get("name"), str) or not isinstance(request.get("args"), dict):
            return {"ok": False, "error": f"unknown request {op!r}"}, None
        request_id = request.get("id")
        request_id = request_id if isinstance(request_id, str) else None
        outcome = self.tools.call(request["name"], request["args"], request_id)
        spec = TOOLS_BY_NAME.get(request["name"])
        if spec is not None and spec.writes and not outcome.is_error:
            self._changed()
            self.tell_watchers(origin)
        return {"ok": True, "outcome": outcome.to_dict()}, None

    def _explore(self, request: dict[str, Any]) -> dict[str, Any]:
        """A viewer's endpoint, from this memory (warm: no statement of the viewer's own reaches the store)."""
        namespace = request.get("namespace")
        try:
            mem = self.tools.in_namespace(namespace if isinstance(namespace, str) else None).mem
            return {"ok": True, "answer": explore(mem, request.get("endpoint"), request.get("params") or {})}
        except GraphMemError as exc:
            return {"ok": True, "refused": {"type": type(exc).__name__, "message": str(exc)}}

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
        # Only now: the calls just finished have told the followers of their writes.
        with self._watchers_lock:
            watchers, self._watchers = list(self._watchers), {}
        for conn in watchers:
            conn.close()  # the followers re-attach to the next holder
        try:
            if os.stat(self._path).st_ino == self._inode:
                os.unlink(self._path)  # not a successor's socket: ours
        except FileNotFoundError:
            pass
        self.mem.close(save_index=save_index)


def _refusal(refused: Any) -> GraphMemError:
    """The typed error of a holder's refusal (its class named in ``graphmem.errors``; else the base class)."""
    kind = getattr(errors, str(refused.get("type")), None) if isinstance(refused, dict) else None
    message = str(refused.get("message")) if isinstance(refused, dict) else str(refused)
    if isinstance(kind, type) and issubclass(kind, GraphMemError):
        return kind(message)
    return GraphMemError(message)


def _same_user(conn: socket.socket) -> bool:
    """Whether the peer runs as this user (see :func:`graphmem.store.sockets.same_user`)."""
    return same_user(conn)
