"""``graphmem mcp PATH --http HOST:PORT``: the same MCP server over streamable HTTP.

Several agents then share one server (and one open store) without the stdio
servers' socket hand-over. The transport is the SDK's own (its session
manager, DNS-rebinding protection for loopback hosts) run by uvicorn; graphmem
adds what a local multi-client server needs:

- **Loopback only.** The host must be a loopback address (``127.0.0.1``,
  ``::1``, ``localhost``); anything else is refused before a socket is opened.
  A remote agent reaches the server through a tunnel of its owner's choosing.
- **A bearer token on every request**, compared in constant time. It comes
  from ``GRAPHMEM_MCP_TOKEN``, or from an owner-only file (``--token-file``;
  a file group or others may read is refused); with neither, a random token
  is written to ``graphmem.mcp-token`` (0600) in the store's directory and
  its path, never the token, is printed. The token is never in argv.
- **Stopping** as the stdio server does: SIGTERM or SIGINT finishes the
  requests in flight (uvicorn's graceful shutdown, bounded), then the store
  is closed without saving the vector index.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..memory import Memory
from ..store.files import MCP_TOKEN_FILE as TOKEN_FILE
from ..store.files import read_secret, write_secret

__all__ = ["TOKEN_ENV", "TOKEN_FILE", "parse_address", "resolve_token", "serve_http"]

log = logging.getLogger("graphmem.mcp")

TOKEN_ENV = "GRAPHMEM_MCP_TOKEN"
ENDPOINT = "/mcp"
GRACEFUL_SHUTDOWN_S = 10
"""How long a stop waits for open requests and streams before closing them."""
MIN_TOKEN_LENGTH = 16


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a loopback host and a port (0: any free one).

    Examples
    --------
    >>> parse_address("127.0.0.1:8765"), parse_address("[::1]:0"), parse_address("localhost:9000")
    (('127.0.0.1', 8765), ('::1', 0), ('localhost', 9000))
    """
    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise InvalidInput(f"--http takes HOST:PORT (e.g. 127.0.0.1:8765), not {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidInput(f"the port of --http must be a number from 0 to 65535, not {port_text!r}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise InvalidInput(
                f"graphmem mcp serves HTTP on a loopback address only (127.0.0.1, ::1 or localhost), not {host!r}: "
                "other machines would reach the memory; use an SSH tunnel or a proxy you control"
            )
    return host, int(port_text)


def resolve_token(store: Path, token_file: Path | None) -> tuple[str, str]:
    """The bearer token and where it came from (for the operator's log line).

    ``GRAPHMEM_MCP_TOKEN``, else ``token_file`` (owner-only), else the store's
    ``graphmem.mcp-token``, created with a new random token if missing.
    """
    if token_file is not None:
        token, source = read_secret(token_file, "token file", secret="token"), f"the token file {token_file}"
    elif os.environ.get(TOKEN_ENV):
        token, source = os.environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        path = store / TOKEN_FILE
        if not path.exists():
            write_secret(path, secrets.token_urlsafe(32))
        token, source = read_secret(path, "token file", secret="token"), f"the token file {path}"
    if len(token) < MIN_TOKEN_LENGTH:
        raise InvalidInput(f"the MCP token from {source} is shorter than {MIN_TOKEN_LENGTH} characters: too easy to guess")
    return token, source


class _RequireToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b'Bearer realm="graphmem"')]})  # fmt: skip
                await send({"type": "http.response.body",
                            "body": b'{"error":"unauthorized: send Authorization: Bearer <token>"}'})  # fmt: skip
                return
        await self._app(scope, receive, send)


def serve_http(path: str | os.PathLike[str], open_memory: Callable[[], Memory], *, host: str, port: int,
               token: str, semantic_search_nodes: bool = False, warm_up: Callable[[], Any] | None = None,
               namespace: str | None = None, on_listening: Callable[[str], None] | None = None) -> int:  # fmt: skip
    """Serve MCP over streamable HTTP at ``http://host:port/mcp`` until SIGTERM or SIGINT.

    ``host`` must be a loopback address (see :func:`parse_address`) and every
    request must carry ``token`` as a bearer token. ``on_listening`` receives
    the endpoint's URL once the socket is bound (with ``port=0``, the port
    the system chose); ``warm_up`` and ``namespace`` are as in
    :func:`graphmem.mcp.server.serve`. Returns 128 + the signal's number, or
    1 if the server stopped by itself (its socket could not be bound, say).
    """
    import anyio

    from .server import build_server, serving

    parse_address(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")  # loopback only, whoever calls
    with serving(path, open_memory, namespace=namespace) as (stop, shared, subscribers):
        if stop.signum is None:
            server = build_server(shared, semantic_search_nodes=semantic_search_nodes, subscribers=subscribers,
                                  warm_up=warm_up)  # fmt: skip
            app = _RequireToken(server.streamable_http_app(streamable_http_path=ENDPOINT, host=host), token)
            anyio.run(_run, app, host, port, stop, subscribers, on_listening)
    if stop.signum is None:
        log.error("the HTTP server stopped without being asked to (see above)")
        return 1
    log.info("stopped by signal %d", stop.signum)
    return 128 + stop.signum


async def _run(app: Any, host: str, port: int, stop: Any, subscribers: Any,
               on_listening: Callable[[str], None] | None) -> None:  # fmt: skip
    import anyio
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its signal handlers (:class:`~graphmem.mcp.server._Stop`
        owns SIGTERM/SIGINT: installed before the store opens, so a signal during
        the open is kept) that says its URL once its socket is bound."""

        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_listening is not None:
                bound = self.servers[0].sockets[0].getsockname()
                shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
                on_listening(f"http://{shown}:{bound[1]}{ENDPOINT}")

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                   timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))  # fmt: skip
    async with anyio.create_task_group() as tg:
        tg.start_soon(subscribers.relay)

        async def on_signal() -> None:
            await stop.wait()
            server.should_exit = True

        tg.start_soon(on_signal)
        await server.serve()
        tg.cancel_scope.cancel()
