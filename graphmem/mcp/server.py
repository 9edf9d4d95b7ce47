"""The MCP server's answers (:class:`Handlers`) and its two transports' wiring.

On stdio (:func:`serve`) the answers go out through graphmem's own JSON-RPC
layer (:mod:`graphmem.mcp.protocol`), which speaks what the SDK's lowlevel
server speaks: importing the SDK costs ~1 s of CPU, the whole budget of a
start's first answer. Over HTTP (:mod:`graphmem.mcp.http`) the SDK's lowlevel
``Server`` (:func:`build_server`) answers from the same :class:`Handlers`.
The low-level server (not the decorator-based one) is used because the
reference's schemas must be served exactly, including argument names such as
``from`` that are not Python identifiers. Tool calls run in worker threads,
so parallel calls from one client run in parallel; graphmem's writer lock
orders the writes.

Stopping (stdin EOF, SIGTERM, SIGINT) must not wait on anything but the
requests already read: stdin is read by the event loop (a blocked ``read()``
cannot be interrupted), a signal only sets a flag and wakes the loop, and the
input ends once every request read has been answered. See :func:`serve` and
:mod:`graphmem.mcp.stdio` (the transport).

Over 500 lines: the answers and the two servers built on them (with the
signal handling and store lifetime both share, :func:`serving`) change
together; the protocol itself is :mod:`graphmem.mcp.protocol`.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import GraphMemError
from ..memory import Memory
from .protocol import INTERNAL_ERROR, RESOURCE_NOT_FOUND, ClientGone, RpcError
from .schemas import RESOURCE_URI, TOOLS, TOOLS_BY_NAME, ToolSpec
from .share import Shared

__all__ = ["Handlers", "build_server", "serve", "serving"]

SERVER_NAME = "graphmem-memory"

log = logging.getLogger("graphmem.mcp")

INSTRUCTIONS = (
    "A knowledge-graph memory (graphmem). Store people, projects and facts as entities with observations, "
    "connect them with relations in active voice, and look them up with search_nodes, semantic_search, "
    "neighbors, find_path or recall."
)


INLINE = frozenset({"search_nodes", "open_nodes"})
"""Tools a holder answers on the event loop (text-matching search_nodes and open_nodes:
in-memory lookups, Memory.find_text and Memory.text_entries); every other call runs in a
worker thread, but for small writes on the stdio transport (see INLINE_WRITE_ITEMS)."""

INLINE_WRITE_ITEMS = 64
"""A write call of at most this many items (the elements of its argument lists, nested
ones included: entities, their observations, relations, names) runs on a stdio server's
event loop once its tool has run once in a worker thread (which loaded what it needs).
Such a write commits in a few milliseconds, and the hop to a worker thread and back cost
0.3-1.4 ms of it (measured at 1k entities, kuzu, by timing ``Shared.call_tool`` inside
the hop and ``Handlers.call_tool`` around it); the stdio transport serves one client,
which waits for the answer either way. Over HTTP several clients share the loop, so
writes run in worker threads there."""


class _Subscribers:
    """The clients subscribed to resources, and the notices owed to them.

    As the reference does, any URI may be subscribed; only
    ``memory://knowledge-graph`` ever changes. A write call made by a client
    of this server is notified before its answer is sent (as the reference
    does), to every subscribed client of this server; a write made through
    another server sharing the store reaches this one from a thread
    (:meth:`Shared.add_listener`), which only writes a byte to a pipe: the
    event loop then sends one notice for however many such writes arrived
    since the last one.

    Clients are told apart by a key (the HTTP session id, ``Mcp-Session-Id``;
    a stdio server has one client, keyed ``None``); each comes with the
    coroutine function that sends it ``notifications/resources/updated`` for
    a URI (the latest one given is kept: the SDK hands each request its own
    session proxy, and any proxy of a client sends on that client's channel).
    """

    def __init__(self) -> None:
        self._clients: dict[str | None, tuple[Callable[[str], Awaitable[None]], set[str]]] = {}
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def subscribe(self, client: str | None, send: Callable[[str], Awaitable[None]], uri: str) -> None:
        _, uris = self._clients.get(client, (send, set()))
        uris.add(uri)
        self._clients[client] = (send, uris)

    def unsubscribe(self, client: str | None, uri: str) -> None:
        entry = self._clients.get(client)
        if entry is not None:
            entry[1].discard(uri)

    def changed_elsewhere(self) -> None:
        """Called from any thread after a write made through another server."""
        try:
            os.write(self._write, b"x")
        except BlockingIOError:
            pass  # the pipe is full: a notice is already owed

    async def notify(self) -> None:
        """Tell every client subscribed to the graph that it changed."""
        import anyio

        for client, (send, uris) in list(self._clients.items()):
            if RESOURCE_URI not in uris:
                continue
            try:
                await send(RESOURCE_URI)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, ClientGone):
                self._clients.pop(client, None)  # the client is gone

    async def relay(self) -> None:
        """Run for the server's life: notify for writes made elsewhere."""
        import anyio

        while True:
            await anyio.wait_readable(self._read)
            try:
                while os.read(self._read, 512):
                    pass
            except BlockingIOError:
                pass  # drained
            await self.notify()

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class Handlers:
    """What the server answers, as the protocol's plain JSON values: one home for both transports.

    The stdio transport (:mod:`graphmem.mcp.protocol`) writes these dicts as
    they are; the SDK's server (:func:`build_server`, the HTTP transport)
    returns them from its handlers and validates them into its own types. A
    method that must fail raises :class:`~graphmem.mcp.protocol.RpcError`.

    Created, the in-memory indexes ``search_nodes`` and ``open_nodes`` answer
    from start loading in a thread (:meth:`Shared.warm`); see
    :func:`build_server` for the warm-up's ordering.
    """

    name = SERVER_NAME
    version = __version__
    instructions = INSTRUCTIONS
    capabilities: dict[str, Any] = {"resources": {"listChanged": False, "subscribe": True},
                                    "tools": {"listChanged": False}}  # fmt: skip
    """What the SDK's server derives from the handlers registered in :func:`sdk_server` (a test checks)."""

    def __init__(self, shared: Shared, *, semantic_search_nodes: bool = False,
                 subscribers: _Subscribers | None = None, warm_up: Callable[[], Any] | None = None,
                 inline_writes: bool = False) -> None:  # fmt: skip
        self.shared = shared
        self.inline_writes = inline_writes
        """Whether small writes may run on the event loop (INLINE_WRITE_ITEMS): the stdio transport's."""
        self.semantic_search_nodes = semantic_search_nodes
        self.subscribers = subscribers if subscribers is not None else _Subscribers()
        self._warmed: set[str] = set()
        self._indexes = threading.Thread(target=lambda: _warm_indexes(shared, self._warmed),
                                         name="graphmem-mcp-warm", daemon=True)  # fmt: skip
        self._indexes.start()
        self._warm = [warm_up] if warm_up is not None else []
        self._answered = False
        self._after: threading.Thread | None = None
        """The thread that saves what the warm-up rebuilt (under the writer lock: seconds at 100k)."""
        self._limiter: Any = None
        self._tools = {"tools": [_tool_json(spec) for spec in TOOLS]}
        self._resources = {"resources": [{
            "name": "knowledge-graph", "title": "Knowledge Graph", "uri": RESOURCE_URI,
            "description": "The full knowledge graph with all entities and relations", "mimeType": "application/json",
        }]}  # fmt: skip

    def limiter(self) -> Any:
        """The worker threads' limiter: enough for many parallel calls (the writer lock, not this, orders writes)."""
        if self._limiter is None:
            import anyio

            self._limiter = anyio.CapacityLimiter(64)
        return self._limiter

    def _start_warm_up(self) -> None:
        while self._warm:
            self._after_indexes(self._warm.pop())

    def _after_indexes(self, fn: Callable[[], Any]) -> None:
        if not self._indexes.is_alive():
            fn()
            return

        def when_loaded() -> None:
            self._indexes.join()
            fn()

        # Called from the event loop, which must not wait for the indexes' load.
        threading.Thread(target=when_loaded, name="graphmem-mcp-warm-up-wait", daemon=True).start()

    def _first_answer(self) -> None:
        if not self._answered:
            self._answered = True
            if self.shared.holds:  # a follower's calls run in the holder's process
                self._after = threading.Thread(target=_after_first_answer, args=(self.shared, self._indexes),
                                               name="graphmem-mcp-after", daemon=True)  # fmt: skip
                self._after.start()

    def list_tools(self) -> dict[str, Any]:
        """``tools/list``'s result (its one page)."""
        self._start_warm_up()
        return self._tools

    async def call_tool(self, name: str, arguments: Any) -> dict[str, Any]:
        """``tools/call``'s result; a write that succeeded is first notified to the subscribed clients."""
        import anyio

        self._start_warm_up()  # a client that calls before listing the tools (the model may wait for this)
        if self.semantic_search_nodes and name == "search_nodes" and isinstance(arguments, dict):
            # This server's flag, applied here: the holder may be another server without it.
            arguments = {"semantic": True, **arguments}
        shared = self.shared
        spec = TOOLS_BY_NAME.get(name)
        writes = spec is not None and spec.writes
        try:
            if name in self._warmed and shared.holds and (self._small_write(arguments) if writes else not (
                    isinstance(arguments, dict) and arguments.get("semantic"))):  # fmt: skip
                # Answered from memory in well under a millisecond (a read), or
                # committed in a few (a small write): the hop to a worker thread
                # and back costs a good part of that (milliseconds on a busy machine).
                outcome = shared.call_tool(name, arguments)
            else:
                outcome = await anyio.to_thread.run_sync(shared.call_tool, name, arguments, limiter=self.limiter())
                if (name in INLINE or (writes and self.inline_writes)) and not outcome.is_error:
                    # The first call built the in-memory indexes (a scan of the store,
                    # under the writer lock) off the event loop; later ones are lookups.
                    self._warmed.add(name)
        except GraphMemError as exc:  # no process could serve it (the store is unreachable)
            return {"content": [{"type": "text", "text": str(exc)}], "isError": True, "resultType": "complete"}
        self._first_answer()
        if writes and not outcome.is_error:
            await self.subscribers.notify()
        return _wire_result(outcome)

    def _small_write(self, arguments: Any) -> bool:
        """Whether a write call may run on the event loop (see INLINE_WRITE_ITEMS): on
        this server's namespace (another's tools may not be loaded yet), small, and
        not waiting on what may hold it up (the save after the first answer holds the
        writer lock for seconds; a stuck follower holds up the notice of a write)."""
        after = self._after
        return (self.inline_writes and isinstance(arguments, dict)
                and arguments.get("namespace") in (None, self.shared.namespace)
                and _items(arguments, INLINE_WRITE_ITEMS) <= INLINE_WRITE_ITEMS
                and (after is None or not after.is_alive()) and not self.shared.watched)  # fmt: skip

    def list_resources(self) -> dict[str, Any]:
        """``resources/list``'s result."""
        return self._resources

    async def read_resource(self, uri: str) -> dict[str, Any]:
        """``resources/read``'s result: the whole graph, as the reference's JSON text."""
        import anyio

        if uri != RESOURCE_URI:
            raise RpcError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}")
        try:
            text = await anyio.to_thread.run_sync(self.shared.read_graph_text, limiter=self.limiter())
        except GraphMemError as exc:
            raise RpcError(INTERNAL_ERROR, str(exc)) from None
        return {"contents": [{"uri": RESOURCE_URI, "mimeType": "application/json", "text": text}]}


def _items(value: Any, budget: int) -> int:
    """The elements of the lists in ``value`` (a JSON value), nested ones included,
    counted until they exceed ``budget``.

    Examples
    --------
    >>> _items({"entities": [{"name": "a", "observations": ["x", "y"]}, {"name": "b"}]}, 64)
    4
    >>> _items({"names": list(range(1000))}, 64) > 64
    True
    """
    if isinstance(value, dict):
        value = list(value.values())
        count = 0
    elif isinstance(value, list):
        count = len(value)
    else:
        return 0
    for item in value:
        if count > budget:
            break
        if isinstance(item, (dict, list)):
            count += _items(item, budget - count)
    return count


def _tool_json(spec: ToolSpec) -> dict[str, Any]:
    """A tool as ``tools/list`` shows it (what the SDK's ``Tool`` model dumps; a test checks)."""
    return {
        "name": spec.name, "title": spec.title, "description": spec.description,
        "inputSchema": spec.input_schema, "outputSchema": spec.output_schema,
        "annotations": {"title": spec.title, "readOnlyHint": spec.read_only, "destructiveHint": spec.destructive,
                        "idempotentHint": spec.idempotent, "openWorldHint": False},
    }  # fmt: skip


def build_server(shared: Shared, *, semantic_search_nodes: bool = False,
                 subscribers: _Subscribers | None = None, warm_up: Callable[[], Any] | None = None) -> Any:  # fmt: skip
    """The MCP SDK's server object for ``shared`` (a holder or a follower): the HTTP transport's.

    Its handlers are :class:`Handlers`' (the stdio transport answers from the
    same, without the SDK: :mod:`graphmem.mcp.protocol`).

    ``warm_up`` is called once, after the first ``tools/list`` (or ``tools/call``,
    if the client calls without listing): the client is
    connected and its host is busy deciding what to ask, so work started then
    (loading the embedding model in the background) delays neither the
    server's first answer nor, usually, its first write. It is called in a
    thread of its own once the in-memory indexes below are loaded: when they
    must be rebuilt from the store (a first start, a store copied elsewhere:
    seconds of CPU at 100k entities, which the first ``search_nodes`` waits
    for), an import of torch beside the rebuild would share the interpreter
    with it (seen at 100k on a loaded machine: the first ``search_nodes``
    answered 10.8 s after the start, torch importing meanwhile). The in-memory
    indexes ``search_nodes`` and ``open_nodes`` answer from are loaded at
    once, in a thread (:meth:`Shared.warm`: read from the saved files, ~0.1 s
    of CPU at 100k entities, or rebuilt), while this thread imports the MCP
    SDK (~0.7 s of CPU) or, on stdio, reads the client's first requests. Once
    the first call is answered, a thread saves what had to be rebuilt (the
    server stops without saving) and loads numba (the first answers use NumPy
    where a kernel would load it), so neither the next start nor a later call
    waits for them.

    ``semantic_search_nodes`` makes ``search_nodes`` add the entities closest
    in meaning unless a call says ``semantic: false``. ``subscribers`` holds
    the resource subscriptions (its :meth:`_Subscribers.relay` must run beside
    the server for writes made through other servers to be notified).
    """
    handlers = Handlers(shared, semantic_search_nodes=semantic_search_nodes, subscribers=subscribers,
                        warm_up=warm_up)  # fmt: skip  (before the SDK's import below, which it overlaps)
    return sdk_server(handlers)


def sdk_server(handlers: Handlers) -> Any:
    """The SDK's lowlevel ``Server`` answering from ``handlers`` (their dicts validated into the SDK's
    result types, which carry the fields each protocol version needs, such as the 2026 era's cache hints)."""
    import mcp.types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    subscribers = handlers.subscribers
    resources = types.ListResourcesResult.model_validate(handlers.list_resources())
    tools: list[Any] = []

    def client(ctx: Any) -> str | None:
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None)
        return None if headers is None else headers.get("mcp-session-id")

    async def list_tools(ctx: Any, params: Any) -> Any:
        listed = handlers.list_tools()
        if not tools:
            tools.append(types.ListToolsResult.model_validate(listed))
        return tools[0]

    async def call_tool(ctx: Any, params: Any) -> Any:
        # A dict, not a CallToolResult: the SDK validates and dumps it either way, but a model it would
        # first dump whole (see _wire_result).
        return await handlers.call_tool(params.name, params.arguments)

    async def list_resources(ctx: Any, params: Any) -> Any:
        return resources

    async def read_resource(ctx: Any, params: Any) -> Any:
        try:
            return types.ReadResourceResult.model_validate(await handlers.read_resource(str(params.uri)))
        except RpcError as exc:
            raise MCPError(exc.code, exc.message) from None

    async def subscribe(ctx: Any, params: Any) -> Any:
        subscribers.subscribe(client(ctx), ctx.session.send_resource_updated, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: Any) -> Any:
        subscribers.unsubscribe(client(ctx), str(params.uri))
        return types.EmptyResult()

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
    )


def _warm_indexes(shared: Shared, warmed: set[str]) -> None:
    """Load the in-memory indexes (:meth:`Shared.warm`); once they are, the
    ``INLINE`` tools are answered on the event loop."""
    # Everything imported so far lives as long as the server: out of the
    # collector's full passes before the build, whose 100k-odd new objects
    # would otherwise walk it all several times (measured at 100k entities:
    # 1.3-1.4 s of CPU instead of 1.6-1.9 s for the build and the first search).
    gc.freeze()
    if shared.warm():
        warmed.update(INLINE)  # the first search_nodes is answered inline too
    # What is alive now (modules, the SDK's models, the indexes just built)
    # lives as long as the server: left out of the cyclic collector's full
    # passes, which otherwise walk it all whenever a call allocates much
    # (measured: 90 of 230 ms of CPU for read_graph at 10k entities).
    # Reference counting still frees such objects when they are dropped.
    gc.freeze()
    # CPython runs a full pass only once the objects that survived into the
    # oldest generation since the last one exceed a quarter of those it
    # holds; frozen objects are not counted, so after the freeze that guard
    # is gone and a full pass came every 10 middle ones (~70k allocations),
    # each walking the whole answer being built: quadratic in a big answer
    # (a 100k-entity read_graph: 1.0 s of server CPU, 0.7 s with these
    # passes 100 times rarer, 0.66 s with no collector at all).
    # The younger generations are collected as before.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1000)


def _after_first_answer(shared: Shared, indexes: threading.Thread) -> None:
    """Once the first call is answered (no answer waits for this): save what
    the index load had to rebuild (:meth:`Shared.save_rebuilt`), then load
    numba and the kernels from its cache (:func:`graphmem.memory.ready.load_kernels`)."""
    from ..memory.ready import load_kernels

    indexes.join()
    shared.save_rebuilt()
    try:
        load_kernels()
    except ImportError as exc:  # no numba: the kernels' first call says so to its caller
        log.info("numba was not loaded ahead of the first kernel call: %s", exc)


def _wire_result(outcome: Any) -> dict[str, Any]:
    """A tool call's result as ``CallToolResult(...).model_dump(by_alias=True, mode="json", exclude_none=True)``.

    A handler may return this dict rather than a ``CallToolResult``: the SDK
    validates it against the protocol version's result model and dumps it
    either way, but a model it would first dump whole, copying the structured
    content (0.1-0.3 s of CPU for a 100k-entity ``read_graph``), before that.
    """
    result: dict[str, Any] = {"content": [{"type": "text", "text": outcome.text}]}
    if outcome.structured is not None:
        result["structuredContent"] = outcome.structured
    # resultType: what the model's dump carries (the 2026-07-28 protocol requires it; older ones drop it).
    result.update(isError=outcome.is_error, resultType="complete")
    return result


class _Stop:
    """SIGTERM and SIGINT: the first asks for an orderly stop, a second one exits at once.

    Installed before the store is opened, so a signal during the open is
    remembered rather than killing the process half-way. The handler only
    records the signal: Python runs it in the main thread when that thread
    next executes bytecode, and the kernel may deliver the signal to any
    thread, so the wakeup fd is what wakes the event loop out of its poll.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1
        # signal.signal works in the main thread only; elsewhere (a server run
        # inside some other program's thread) that program owns the signals.
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
            self._previous_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            # Asked twice: the operator will not wait for the call in flight.
            # Exiting now is as safe as a kill -9 (the write-ahead log recovers
            # the store at the next open) and is what they asked for.
            os._exit(128 + signum)
        self.signum = signum

    async def wait(self) -> int:
        """Return the signal's number once one has arrived."""
        import anyio

        while self.signum is None:
            await anyio.wait_readable(self._read)
            try:
                os.read(self._read, 512)
            except BlockingIOError:
                pass  # another waiter drained it; the loop re-checks the flag
        return self.signum

    def restore(self) -> None:
        """Put back the handlers and the wakeup fd that were there before."""
        if self._installed:
            signal.set_wakeup_fd(self._previous_wakeup)
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
        os.close(self._read)
        os.close(self._write)


def serve(path: str | os.PathLike[str], open_memory: Callable[[], Memory], *,
          semantic_search_nodes: bool = False, warm_up: Callable[[], Any] | None = None,
          namespace: str | None = None) -> int:  # fmt: skip
    """Serve MCP over stdin/stdout for the store at ``path`` until the client
    hangs up or a SIGTERM or SIGINT arrives.

    Either way the requests already read are finished and answered, the
    socket other servers use is removed (one of them takes the store over)
    and the store is closed, without saving the vector index (the next open
    catches it up from the store, as after a crash): saving it takes seconds
    on a large store, and a host that asked a server to stop waits for it.

    Parameters
    ----------
    path
        The store's directory (created by the first server if missing).
    open_memory
        Opens that store read-write (raising :class:`~graphmem.errors.StoreLocked`
        while another process holds it).
    semantic_search_nodes
        ``search_nodes`` also returns the entities closest in meaning unless a
        call says ``semantic: false`` (by default it matches text only, as the
        reference does).
    warm_up
        Called once, at the client's first ``tools/list`` (see :func:`build_server`).
    namespace
        The namespace of calls that name none (``open_memory`` opens a view of
        it); sent along when another server holds the store.

    Returns
    -------
    int
        The exit status: 0 when the client hung up, 128 + the signal's number
        when a signal stopped the server.
    """
    import anyio

    # The cyclic collector is off while the store opens and the server starts:
    # what they allocate lives as long as the server, so its passes found
    # nothing and cost CPU before the first answer. It is back on (with those
    # objects frozen out of it) once the event loop runs (_run).
    gc.disable()
    with serving(path, open_memory, namespace=namespace) as (stop, shared, subscribers):
        if stop.signum is None:
            handlers = Handlers(shared, semantic_search_nodes=semantic_search_nodes, subscribers=subscribers,
                                warm_up=warm_up, inline_writes=True)  # fmt: skip
            anyio.run(_run, handlers, stop)
    gc.enable()  # (stopped before the loop ran)
    if stop.signum is not None:
        log.info("stopped by signal %d", stop.signum)
        return 128 + stop.signum
    return 0


@contextmanager
def serving(path: str | os.PathLike[str], open_memory: Callable[[], Memory], *,
            namespace: str | None) -> Iterator[tuple[_Stop, Shared, _Subscribers]]:  # fmt: skip
    """What every transport's server holds while it runs: the signal handlers
    (installed first, so a signal during the open is kept), the store (held,
    or reached through its holder) and the subscriptions. On the way out the
    store is closed without saving the vector index (see :func:`serve`) and
    the handlers are put back."""
    if not logging.getLogger().handlers:
        # stdout carries the stdio protocol; what the server tells its operator goes to stderr.
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
        log.setLevel(logging.INFO)  # graphmem's own notes (who holds the store), not the SDK's chatter
    stop = _Stop()
    try:
        Path(path).expanduser().mkdir(parents=True, exist_ok=True)
        shared = Shared(path, open_memory, namespace=namespace)
        subscribers = _Subscribers()
        shared.add_listener(subscribers.changed_elsewhere)
        try:
            shared.start()
            yield stop, shared, subscribers
        finally:
            shared.close(save_index=False)
            subscribers.close()
    finally:
        stop.restore()


async def _run(handlers: Handlers, stop: _Stop) -> None:
    import anyio

    from .protocol import Session
    from .stdio import Stdio

    gc.freeze()  # everything imported and built so far lives as long as the server
    gc.enable()
    with Stdio() as wire:
        async with anyio.create_task_group() as tg:
            tg.start_soon(handlers.subscribers.relay)

            async def on_signal() -> None:
                await stop.wait()
                wire.stop()

            tg.start_soon(on_signal)
            await Session(handlers, wire).run()
            tg.cancel_scope.cancel()
