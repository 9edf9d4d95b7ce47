"""The viewer's local web server: the page, its static files and the JSON API.

Standard library ``http.server`` (``ThreadingHTTPServer``): the viewer
serves one person's browser on loopback, a handful of small GET requests
at a time, and needs no routing, templating or async machinery a web
framework would bring (nor a new dependency for every install).

Who may read it:

- it binds a loopback IPv4 address only (127.0.0.1 by default; any other
  host is refused before a socket is made);
- the URL it prints carries a random single-use token. The first request
  that shows it gets a random session cookie (``HttpOnly``,
  ``SameSite=Strict``) and a redirect to the bare URL; the token is then
  spent, so a token read from a process list, a terminal or the browser
  history opens nothing. Every other request needs the cookie;
- a request whose ``Host`` header is not this server's address is refused
  (a web page cannot reach the server through a DNS name rebound to
  127.0.0.1);
- only GET and HEAD are served: the viewer never writes, and runs no Cypher
  but its own named statements.

Errors are JSON ``{"error": {"type": ..., "message": ...}}`` with the HTTP
status of their kind (:data:`ERROR_STATUS`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import threading
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import GraphMemError, InvalidInput, LimitExceeded, NotFound, StoreLocked
from .api import OpenMemory, answer

__all__ = ["COOKIE_NAME", "ERROR_STATUS", "ViewServer", "check_host"]

log = logging.getLogger("graphmem.view")

COOKIE_NAME = "graphmem_view"
STATIC = Path(__file__).parent / "static"
# The files the page loads, and their content types: nothing else is served.
_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "vendor/cytoscape.min.js": "text/javascript; charset=utf-8",
}
# Most specific first: LimitExceeded is an InvalidInput.
ERROR_STATUS: tuple[tuple[type[BaseException], HTTPStatus, str], ...] = (
    (LimitExceeded, HTTPStatus.BAD_REQUEST, "limit_exceeded"),
    (InvalidInput, HTTPStatus.BAD_REQUEST, "invalid_input"),
    (NotFound, HTTPStatus.NOT_FOUND, "not_found"),
    (StoreLocked, HTTPStatus.SERVICE_UNAVAILABLE, "store_busy"),
    (GraphMemError, HTTPStatus.INTERNAL_SERVER_ERROR, "store_error"),
)
# The page's own files only; cytoscape sets element styles from script, hence 'unsafe-inline' for styles.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip


def check_host(host: str) -> str:
    """``host`` if it is a loopback IPv4 address; :class:`InvalidInput` otherwise.

    Examples
    --------
    >>> check_host("127.0.0.1")
    '127.0.0.1'
    >>> check_host("0.0.0.0")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: the viewer binds a loopback address only (127.0.0.1), not '0.0.0.0'
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise InvalidInput(f"the viewer binds a loopback address only (127.0.0.1), not {host!r}")
    return host


class ViewServer(ThreadingHTTPServer):
    """The viewer on ``host:port`` (``port=0``: a free one), reading through ``open_memory``.

    ``url`` is the address to open once (it carries the single-use token).
    Serve with :meth:`serve_forever` (in a thread, or the main one) and stop
    with :meth:`shutdown` then :meth:`server_close`.
    """

    daemon_threads = True
    allow_reuse_address = False  # another process's port is not ours to take

    def __init__(self, open_memory: OpenMemory, *, host: str = "127.0.0.1", port: int = 0,
                 holder: Any = None) -> None:  # fmt: skip
        super().__init__((check_host(host), port), _Handler)
        self.open_memory = open_memory
        self.holder = holder  # asked while another process holds the store (graphmem.view.follower)
        self._overview: tuple[Any, dict[str, Any]] | None = None  # (store version, answer)
        self.token = secrets.token_urlsafe(32)
        self.session = secrets.token_urlsafe(32)
        self._token_lock = threading.Lock()
        self.token_spent = False

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def host(self) -> str:
        """The address bound (a loopback IP literal; the socket types it ``str | bytes``)."""
        host = self.server_address[0]
        return host.decode() if isinstance(host, (bytes, bytearray)) else host

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/?token={self.token}"

    def server_close(self) -> None:
        """Stop listening and let go of the store (a source that holds it between requests has ``close``)."""
        super().server_close()
        for source in (self.open_memory, self.holder):
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def answer(self, endpoint: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """One API call; the overview is answered again from memory while the store's files are unchanged."""
        version = getattr(self.open_memory, "version", None)
        if endpoint != "overview" or query or version is None:
            return answer(self.open_memory, endpoint, query, holder=self.holder)
        before = version()  # taken first: a write landing meanwhile makes the next call recompute
        cached = self._overview
        if cached is not None and cached[0] == before:
            return cached[1]
        payload = answer(self.open_memory, endpoint, query, holder=self.holder)
        # Kept whoever answered: an MCP holder answers with the same functions on the same store
        # (graphmem.explore), and its writes change the files too; so a page reload costs the holder
        # nothing (its type summary is a pass over every relation, ~60 ms at 100k).
        self._overview = (before, payload)
        return payload

    def spend(self, token: str) -> bool:
        """Whether ``token`` is the unspent token (which it then spends)."""
        with self._token_lock:
            if self.token_spent or not hmac.compare_digest(token.encode(), self.token.encode()):
                return False
            self.token_spent = True
            return True

    def hosts(self) -> set[str]:
        """The ``Host`` headers a browser that was given :attr:`url` sends."""
        return {f"{self.host}:{self.port}", f"localhost:{self.port}"}


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer
    protocol_version = "HTTP/1.1"
    server_version = "graphmem-view"
    sys_version = ""

    # -- the methods ---------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def _refuse_write(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "read_only",
                    f"the viewer is read-only: {self.command} is not served (GET and HEAD only)",
                    extra={"Allow": "GET, HEAD"})  # fmt: skip

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_write  # noqa: N815

    # -- routing ---------------------------------------------------------------------

    def _serve(self, *, body: bool) -> None:
        self._body = body
        if self.headers.get("Host") not in self.server.hosts():
            self._error(HTTPStatus.FORBIDDEN, "bad_host", "this server answers requests for 127.0.0.1 only")
            return
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True, max_num_fields=32)
        except ValueError:  # more fields than any endpoint takes
            self._error(HTTPStatus.BAD_REQUEST, "invalid_input", "too many query parameters")
            return
        if url.path == "/" and "token" in query:
            if self._authorised():  # the link opened again in a browser that has the session
                self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", extra={"Location": "/"})
            else:
                self._exchange(query["token"])
            return
        if not self._authorised():
            self._error(HTTPStatus.FORBIDDEN, "unauthorised",
                        "open the URL graphmem view printed (its token works once, in one browser)")  # fmt: skip
            return
        if url.path == "/":
            self._file("index.html", "text/html; charset=utf-8")
        elif url.path.startswith("/static/") and url.path[len("/static/"):] in _FILES:
            name = url.path[len("/static/"):]
            self._file(name, _FILES[name])
        elif url.path.startswith("/api/"):
            self._api(url.path[len("/api/"):], query)
        else:
            self._error(HTTPStatus.NOT_FOUND, "not_found", f"nothing at {url.path}")

    def _exchange(self, tokens: list[str]) -> None:
        """The single-use token for the session cookie, then back to the bare URL."""
        if len(tokens) != 1 or not self.server.spend(tokens[0]):
            self._error(HTTPStatus.FORBIDDEN, "token_spent",
                        "this link's token was used already (or is wrong): "
                        "restart graphmem view for a new one")  # fmt: skip
            return
        cookie = f"{COOKIE_NAME}={self.server.session}; HttpOnly; SameSite=Strict; Path=/"
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", extra={"Location": "/", "Set-Cookie": cookie})

    def _authorised(self) -> bool:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = jar.get(COOKIE_NAME)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), self.server.session.encode())

    def _api(self, endpoint: str, query: dict[str, list[str]]) -> None:
        try:
            payload = self.server.answer(endpoint, query)
        except GraphMemError as exc:
            for kind, status, name in ERROR_STATUS:
                if isinstance(exc, kind):
                    extra = {"Retry-After": "1"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
                    self._error(status, name, str(exc), extra=extra)
                    return
        except Exception as exc:  # a bug: say so to the page (and the log) instead of dropping the connection
            log.exception("the viewer failed answering /api/%s", endpoint)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", f"{type(exc).__name__}: {exc}")
            return
        self._send(HTTPStatus.OK, json.dumps(payload, default=str).encode(), "application/json")

    # -- answers -----------------------------------------------------------------------

    def _file(self, name: str, content_type: str) -> None:
        self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), content_type)

    def _error(self, status: HTTPStatus, kind: str, message: str, *, extra: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": {"type": kind, "message": message, "status": int(status)}}).encode()
        self._send(status, body, "application/json", extra=extra)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *,
              extra: dict[str, str] | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if getattr(self, "_body", True):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        # Request lines go to the debug log, not stderr: the first one carries the token.
        log.debug("%s " + format, self.address_string(), *args)
