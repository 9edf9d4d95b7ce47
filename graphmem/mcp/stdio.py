"""The stdio transport of ``graphmem mcp``: the client's messages in on stdin, answers out on stdout.

The SDK's ``stdio_server`` reads and writes through anyio's file wrappers,
which run every ``readline``, ``write`` and ``flush`` in a worker thread: three
thread hops per call, each a wake-up the scheduler may delay by milliseconds
on a busy machine. Here a pipe or socket is read and written by the event loop
itself (polled, non-blocking): a call costs no thread hop at all. Anything
else (a terminal, a file) is read and written in worker threads, as the SDK
does.

The protocol over the wire is graphmem's own (:mod:`graphmem.mcp.protocol`):
:meth:`Stdio.next_line` gives it one line of input at a time and
:meth:`Stdio.send` writes one message whole. A connection the SDK must serve
(a client of the stateless 2026 protocol era) gets the SDK's stream
interface over the same wire instead (:meth:`Stdio.sdk_streams`).

Stopping: the input ends at EOF or at :meth:`Stdio.stop`; the protocol layer
then finishes the requests it has read and writes their answers before the
server stops (a call in flight would otherwise finish its work and lose its
answer). New requests are not read once stopping. The SDK's reader blocks a
thread in ``read()`` that nothing can interrupt, so a server could not stop
while its client kept stdin open; a polled descriptor's wait is cancelled at
once.

While serving, descriptors 0 and 1 point at ``/dev/null`` and at stderr (as
the SDK's transport does), so a library that prints to stdout cannot corrupt
the protocol; the wire is read and written through private duplicates, and
both are put back when the transport closes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import stat
from collections import Counter
from types import TracebackType
from typing import Any

__all__ = ["Stdio"]

log = logging.getLogger("graphmem.mcp")

_CHUNK = 1 << 16
_LINE_END = re.compile(rb"[\r\n]")
_CR, _LF = 13, 10


def _pollable(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class Stdio:
    """The wire: stdin and stdout, or two given descriptors.

    Use as a context manager: entering claims the descriptors, leaving puts
    them back. :meth:`next_line` reads, :meth:`send` writes.
    """

    def __init__(self, fd_in: int = 0, fd_out: int = 1, *, claim: bool = True) -> None:
        self._fd_in = fd_in
        self._fd_out = fd_out
        self._claim = claim
        self._restore: list[tuple[int, int]] = []  # (descriptor, private duplicate of the wire)
        self._flags_out: int | None = None
        self._buffer = bytearray()
        self._state = [0, 0]  # where the newline search resumes; whether EOF was seen
        self._lock: Any = None  # one message at a time: a partial write must not interleave
        self.broken = False  # the client stopped reading: answers are dropped
        self._stopping = False
        self._scope: Any = None
        self._in = fd_in
        self._out = fd_out
        self._poll_in = False
        self._poll_out = False

    def __enter__(self) -> Stdio:
        if self._claim:
            self._in = self._divert(self._fd_in, os.O_RDONLY)
            self._out = self._divert(self._fd_out, os.O_WRONLY)
        self._poll_in = _pollable(self._in)
        self._poll_out = _pollable(self._out)
        if self._poll_out:
            # Written by the event loop: a full pipe must make write() return,
            # not block the loop. Put back on close (the descriptor's flags are
            # shared with whoever else holds the pipe).
            self._flags_out = fcntl.fcntl(self._out, fcntl.F_GETFL)
            fcntl.fcntl(self._out, fcntl.F_SETFL, self._flags_out | os.O_NONBLOCK)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._flags_out is not None:
            try:
                fcntl.fcntl(self._out, fcntl.F_SETFL, self._flags_out)
            except OSError:
                pass  # the descriptor is gone; nothing to put back
        for fd, private in reversed(self._restore):
            os.dup2(private, fd)
            os.close(private)
        self._restore.clear()

    def _divert(self, fd: int, mode: int) -> int:
        """A private duplicate of ``fd`` above the standard range; ``fd`` itself
        then reads the null device (stdin) or writes to stderr (stdout)."""
        private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        if mode == os.O_RDONLY:
            stand_in = os.open(os.devnull, os.O_RDONLY)
        else:
            try:
                stand_in = os.dup(2)
            except OSError:  # no stderr (a daemon's): stray output goes nowhere
                stand_in = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(stand_in, fd)
        finally:
            os.close(stand_in)
        self._restore.append((fd, private))
        return private

    def stop(self) -> None:
        """Read no more requests; the read stream ends once the ones passed on are answered."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    # -- the read side -----------------------------------------------------------

    async def next_line(self) -> bytes | None:
        """The next line of input (its line ending included, if it had one: LF, CR or CRLF, as the SDK's
        transport reads lines), or ``None`` at EOF or once stopping."""
        return await self._next_line(self._buffer, self._state)

    async def _next_line(self, buffer: bytearray, state: list[int]) -> bytes | None:
        """The next line of input, or ``None`` at EOF or once stopping."""
        while not self._stopping:
            # A line ends at LF, CR or CRLF: the SDK's transport reads text with universal newlines.
            found = _LINE_END.search(buffer, state[0])
            end = -1 if found is None else found.end()
            if end > 0 and buffer[end - 1] == _CR:
                if end < len(buffer):
                    end += buffer[end] == _LF  # one CRLF ending
                elif not state[1]:
                    end = -1  # a CR last in what was read: whether an LF follows shows on the next read
            if end > 0:
                with memoryview(buffer) as view:  # one copy of the line, not two (a slice, then bytes of it)
                    line = bytes(view[:end])
                del buffer[:end]
                state[0] = 0
                return line
            state[0] = len(buffer) if found is None else found.start()
            if state[1]:  # EOF seen
                if buffer:  # a last line without its newline
                    line = bytes(buffer)
                    buffer.clear()
                    state[0] = 0
                    return line
                return None
            chunk = await self._read_some()
            if chunk == b"":
                state[1] = 1
            elif chunk is not None:
                buffer += chunk
        return None

    async def _read_some(self) -> bytes | None:
        """Some bytes, ``b""`` at EOF, ``None`` if :meth:`stop` interrupted the wait."""
        import anyio

        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._stopping:
                scope.cancel()
            try:
                if self._poll_in:
                    await anyio.wait_readable(self._in)
                    return os.read(self._in, _CHUNK)
                return await anyio.to_thread.run_sync(os.read, self._in, _CHUNK, abandon_on_cancel=True)
            except BlockingIOError:
                return None  # stdin was left non-blocking by the parent: poll again
            finally:
                self._scope = None
        return None

    # -- the write side ------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Write one message (a line) whole; after the client stopped reading, drop it and stop."""
        if self._lock is None:
            import anyio

            self._lock = anyio.Lock()
        if self.broken:
            return
        async with self._lock:
            try:
                await self._write_all(data)
            except OSError as exc:  # the client closed its end: nobody reads answers any more
                log.info("the client stopped reading answers (%s); stopping", exc)
                self.broken = True
                self.stop()

    def sdk_streams(self, lead: list[bytes]) -> tuple[Any, Any]:
        """The SDK's read and write streams over this wire (``Server.run(read, write, ...)``),
        the read one first giving ``lead``'s lines (already read here)."""
        streams = _SdkStreams(self, lead)
        return streams.read, streams.write

    async def _write_all(self, data: bytes) -> None:
        import anyio

        if not self._poll_out:
            await anyio.to_thread.run_sync(_write_blocking, self._out, data)
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._out, view)
            except BlockingIOError:
                await anyio.wait_writable(self._out)  # the client has not read the pipe's 64 KiB yet
                continue
            view = view[written:]


def _write_blocking(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _SdkStreams:
    """The SDK's streams over a :class:`Stdio`: the input ends once every request passed on is answered
    (the SDK cancels the calls still running when its input ends)."""

    def __init__(self, wire: Stdio, lead: list[bytes]) -> None:
        self.wire = wire
        self.lead = list(lead)
        # Answers still owed, by request id: two requests in flight may share an id (the SDK runs and answers
        # both), and the input must not end at the first one's answer.
        self.pending: Counter[int | str] = Counter()
        self.changed: Any = None
        self.read = _Reader(self)
        self.write = _Writer(self)

    def passed_on(self, message: Any) -> None:
        import mcp.types as types
        from mcp.shared.dispatcher import coerce_request_id

        if isinstance(message, types.JSONRPCRequest):
            self.pending[coerce_request_id(message.id)] += 1
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            # A request the client cancelled is never answered (of two with its id, the SDK cancels one: the newer).
            request_id = (message.params or {}).get("requestId")
            if isinstance(request_id, (int, str)) and not isinstance(request_id, bool):
                self.answered(request_id)

    def answered(self, request_id: Any) -> None:
        from mcp.shared.dispatcher import coerce_request_id

        # Keyed as the SDK correlates ids: a cancel naming "5" cancels request 5, and the reverse.
        request_id = coerce_request_id(request_id)
        if self.pending[request_id] > 0:
            self.pending[request_id] -= 1
            if not self.pending[request_id]:
                del self.pending[request_id]
            if self.changed is not None:
                self.changed.set()

    async def drain(self) -> None:
        import anyio

        while self.pending:
            self.changed = anyio.Event()
            await self.changed.wait()


class _Reader:
    """The SDK's read stream: one parsed message per line of input."""

    def __init__(self, streams: _SdkStreams) -> None:
        self._streams = streams

    async def receive(self) -> Any:
        import anyio
        import mcp.types as types
        from mcp.shared.message import SessionMessage

        streams = self._streams
        line = streams.lead.pop(0) if streams.lead else await streams.wire.next_line()
        if line is None:
            await streams.drain()
            raise anyio.EndOfStream
        try:
            # Decoded as the SDK's transport does: bytes that are not UTF-8 become U+FFFD, not an error.
            text = line.decode("utf-8", errors="replace")
            message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
        except ValueError as exc:  # not JSON-RPC: as on the SDK's transport, the session reports it to the client
            return exc
        streams.passed_on(message)
        return SessionMessage(message)

    def __aiter__(self) -> _Reader:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._streams.wire.stop()

    async def __aenter__(self) -> _Reader:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self.aclose()


class _Writer:
    """The SDK's write stream: each message serialised and written whole, in order."""

    def __init__(self, streams: _SdkStreams) -> None:
        self._streams = streams

    async def send(self, item: Any, /) -> None:
        import mcp.types as types

        message = item.message
        # What model_dump_json(by_alias=True, exclude_unset=True) writes, as the UTF-8 bytes pydantic-core makes.
        data = type(message).__pydantic_serializer__.to_json(message, by_alias=True, exclude_unset=True) + b"\n"
        await self._streams.wire.send(data)
        if isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
            self._streams.answered(message.id)

    async def aclose(self) -> None:
        return None  # the descriptors are the transport's, put back when it closes

    async def __aenter__(self) -> _Writer:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        await self.aclose()
