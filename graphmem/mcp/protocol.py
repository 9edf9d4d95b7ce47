"""The stdio server's JSON-RPC 2.0 layer: what the MCP SDK's lowlevel server answers, without the SDK.

Importing the SDK (its pydantic models) costs ~1 s of CPU, the whole budget
of a server's first answer at 100k entities (issue 19), so ``graphmem mcp``
on stdio answers through this module, on plain dicts and :mod:`json`: an SDK
client (and the reference's differential test) cannot tell the two apart.
What the SDK does, and this module with it (``mcp`` 2.3; the tests compare
both on the same messages):

- One message per line. A line that is not a JSON-RPC request or
  notification (not JSON, a batch, a wrong ``jsonrpc``, a ``null`` id, a
  response from the client) is dropped without an answer: the SDK's session
  logs it and goes on.
- The client's first request picks the protocol era. The 2026-07-28 era
  (its requests carry ``_meta["io.modelcontextprotocol/protocolVersion"]``,
  no ``initialize``) is handed over whole to the SDK's own server
  (:func:`graphmem.mcp.server.sdk_server`, imported then); everything else is
  the handshake era, served here.
- A request's answer, in the SDK's order of checks: a 2026 envelope on a
  handshake connection is ``-32600``; a spec method's params that fail its
  schema are ``-32602 "Invalid request parameters"`` (``data: ""``); a method
  with no handler (or not in this era) is ``-32601 "Method not found"`` with
  the method as ``data``; any method but ``ping`` before ``initialize`` (or a
  bare ``notifications/initialized``) is ``-32602``; a handler's
  :class:`RpcError` is its code and message; any other exception is code 0
  with its text (the SDK's v1 compatibility).
- ``initialize`` is answered before the next line is read; every other
  request runs as a task of its own, so calls run in parallel.
- ``notifications/cancelled`` cancels the request it names (a string id that
  spells an int names that int); a cancelled request is never answered.
- At the end of input the requests read are finished and answered first.

Params are checked without the SDK for the shapes clients send (a check that
only ever accepts what the SDK's models accept); any other shape is checked
by the SDK's own validators, imported then (only a malformed or unusual
request pays for that import). Lines whose JSON this module is not sure to
read as pydantic does (``NaN``, lone surrogates, extra keys) are likewise
parsed by the SDK's message adapter.

Over 500 lines: the reading of a line, the checks of params and the session's
order of answers must each match the SDK's, and are compared with it as one
(tests/test_mcp_protocol.py); split, a change to one would miss the others.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Handlers
    from .stdio import Stdio

__all__ = [
    "HANDSHAKE_PROTOCOL_VERSIONS", "MODERN_PROTOCOL_VERSIONS", "LATEST_PROTOCOL_VERSION", "RpcError", "ClientGone",
    "Request", "Notification", "parse", "Session",
]  # fmt: skip

log = logging.getLogger("graphmem.mcp")

# The SDK's protocol versions (mcp.types.version; a test checks they are the installed SDK's).
HANDSHAKE_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
SUPPORTED_PROTOCOL_VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[-1]
LATEST_HANDSHAKE_VERSION = HANDSHAKE_PROTOCOL_VERSIONS[-1]
ENVELOPE_KEY = "io.modelcontextprotocol/protocolVersion"

# Error codes (JSON-RPC 2.0, and MCP's resource-not-found).
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002

# The spec's client requests and notifications (mcp.types.methods; a test checks), and those of the 2026 era only.
SPEC_REQUESTS = frozenset({
    "completion/complete", "initialize", "logging/setLevel", "ping", "prompts/get", "prompts/list", "resources/list",
    "resources/read", "resources/subscribe", "resources/templates/list", "resources/unsubscribe", "server/discover",
    "subscriptions/listen", "tools/call", "tools/list",
})  # fmt: skip
MODERN_ONLY_REQUESTS = frozenset({"server/discover", "subscriptions/listen"})
PRE_REQUEST_LIMIT = 8
"""Messages before the client's first request that the SDK keeps (later ones it drops)."""

_INVALID_ERA = ("this connection serves the handshake protocol era; "
                "requests carrying the 2026-07-28 envelope are not accepted on it")  # fmt: skip
_LOG_LEVELS = frozenset({"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"})
_PAGED = frozenset({"tools/list", "resources/list", "prompts/list", "resources/templates/list"})
_BY_URI = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class RpcError(Exception):
    """A request's JSON-RPC error: its code, message and (if any) data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ClientGone(Exception):
    """The client no longer reads what the server sends."""


def _invalid_params() -> RpcError:
    return RpcError(INVALID_PARAMS, "Invalid request parameters", "")


@dataclass(frozen=True, slots=True)
class Request:
    id: int | str
    method: str
    params: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: dict[str, Any] | None


Message = Request | Notification


class _Constant(ValueError):
    """``NaN`` or ``Infinity`` in a line: read by the SDK, as pydantic does."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def parse(line: bytes) -> Message | None:
    """The request or notification a line of input holds; ``None`` for anything else (dropped unanswered)."""
    # Decoded as the SDK's transport does: bytes that are not UTF-8 become U+FFFD, not an error.
    text = line.decode("utf-8", errors="replace")
    if _SURROGATE.search(text) is None:
        try:
            value = json.loads(text, parse_constant=_refuse_constant)
        except _Constant:
            return _sdk_parse(text)
        except (ValueError, RecursionError):
            return None  # not JSON, or nested deeper than any parser here reads
        if text.count("[") + text.count("{") >= MAX_DEPTH and _deeper(value, MAX_DEPTH):
            return None  # nested deeper than pydantic's parser reads
        message = _plain(value)
        if message is not None:
            return message
    return _sdk_parse(text)


MAX_DEPTH = 201
"""The deepest message the SDK's parser reads (a scalar, or an empty list or object, is 1 deep)."""


def _deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` is nested deeper than ``limit`` levels."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if type(item) is dict:
            stack.extend((child, depth + 1) for child in item.values())
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item)
    return False


def _plain(value: Any) -> Message | None:
    """The message, if ``value`` has the shape every client sends (which the SDK accepts); else ``None``."""
    if type(value) is not dict or value.get("jsonrpc") != "2.0":
        return None
    method = value.get("method")
    params = value.get("params")
    if type(method) is not str or not (params is None or type(params) is dict):
        return None
    if "id" in value:
        request_id = value["id"]
        if (type(request_id) is int or type(request_id) is str) and len(value) <= 3 + ("params" in value):
            return Request(request_id, method, params)
        return None
    if len(value) <= 2 + ("params" in value):
        return Notification(method, params)
    return None


def _sdk_parse(text: str) -> Message | None:
    """The message as the SDK's adapter reads it (an unusual line: the SDK is imported for it)."""
    import mcp.types as types

    try:
        message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError:
        return None
    if isinstance(message, types.JSONRPCRequest):
        return Request(message.id, message.method, message.params)
    if isinstance(message, types.JSONRPCNotification):
        return Notification(message.method, message.params)
    return None  # a response: this server sends the client no requests


def has_envelope(params: dict[str, Any] | None) -> bool:
    """Whether a request carries the 2026-07-28 per-request envelope."""
    meta = params.get("_meta") if params else None
    return isinstance(meta, dict) and ENVELOPE_KEY in meta


def _request_id(value: Any) -> int | str | None:
    """A request id as the SDK correlates it (a string spelling an int is that int); ``None`` if not an id."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


# -- params ---------------------------------------------------------------------


def _plain_params(method: str, params: dict[str, Any] | None) -> bool:
    """Whether ``params`` has a shape the SDK's model for ``method`` certainly accepts."""
    p = params or {}
    meta = p.get("_meta")
    if meta is not None:
        token = meta.get("progressToken") if type(meta) is dict else None
        if type(meta) is not dict or len(meta) > 1 or (meta and type(token) not in (int, str)):
            return False
    keys = p.keys() - {"_meta"}
    if method in _PAGED:
        return keys <= {"cursor"} and type(p.get("cursor", "")) is str
    if method == "tools/call":
        return keys <= {"name", "arguments"} and type(p.get("name")) is str and type(p.get("arguments", {})) is dict
    if method in _BY_URI:
        return keys == {"uri"} and type(p["uri"]) is str and p["uri"] != ""
    if method == "ping":
        return not keys
    if method == "initialize":
        return _plain_initialize(p, keys)
    if method == "logging/setLevel":
        return keys == {"level"} and p["level"] in _LOG_LEVELS
    return False


def _plain_initialize(p: dict[str, Any], keys: set[str]) -> bool:
    capabilities, info = p.get("capabilities"), p.get("clientInfo")
    if keys != {"protocolVersion", "capabilities", "clientInfo"} or type(p["protocolVersion"]) is not str:
        return False
    if type(capabilities) is not dict or type(info) is not dict:
        return False
    for name, value in capabilities.items():
        if type(value) is not dict:
            return False
        if name == "roots":
            if not value.keys() <= {"listChanged"} or type(value.get("listChanged", False)) is not bool:
                return False
        elif name == "experimental":
            if any(type(v) is not dict for v in value.values()):
                return False
        elif name not in ("sampling", "elicitation") or value:
            return False
    return (info.keys() <= {"name", "version", "title"} and type(info.get("name")) is str
            and type(info.get("version")) is str and type(info.get("title", "")) is str)  # fmt: skip


def _sdk_check(method: str, version: str, params: dict[str, Any] | None) -> None:
    """Check ``params`` with the SDK's validators (an unusual shape: the SDK is imported for it)."""
    import mcp_types as types
    from mcp_types import methods
    from pydantic import ValidationError

    typed: dict[str, Any] = {
        "tools/list": types.PaginatedRequestParams, "resources/list": types.PaginatedRequestParams,
        "tools/call": types.CallToolRequestParams, "resources/read": types.ReadResourceRequestParams,
        "resources/subscribe": types.SubscribeRequestParams, "resources/unsubscribe": types.UnsubscribeRequestParams,
        "ping": types.RequestParams,
    }  # fmt: skip  (the SDK's own table of the handlers registered here)
    try:
        methods.validate_client_request(method, version, params)
        if method in typed:
            typed[method].model_validate({} if params is None else params, by_name=False)
    except KeyError:
        raise RpcError(METHOD_NOT_FOUND, "Method not found", method) from None
    except ValidationError:
        raise _invalid_params() from None


def _sdk_accepts_notification(method: str, version: str, params: dict[str, Any] | None) -> bool:
    from mcp_types import methods
    from pydantic import ValidationError

    try:
        methods.validate_client_notification(method, version, params)
    except (KeyError, ValidationError):
        return False
    return True


# -- the session ----------------------------------------------------------------


class _Flight:
    """A request being answered: cancelling its scope stops it unanswered."""

    __slots__ = ("scope", "cancelled")

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self.cancelled = False


class Session:
    """One client's connection over ``wire``, answered from ``handlers``."""

    def __init__(self, handlers: Handlers, wire: Stdio) -> None:
        self._handlers = handlers
        self._wire = wire
        self._version = LATEST_HANDSHAKE_VERSION  # until initialize negotiates one
        self._accepted = False  # initialize answered, or notifications/initialized received
        self._flights: dict[int | str, _Flight] = {}
        self._idle: Any = None  # set when the last request in flight is answered
        self._tg: Any = None
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "ping": self._ping, "tools/list": self._list_tools, "tools/call": self._call_tool,
            "resources/list": self._list_resources, "resources/read": self._read_resource,
            "resources/subscribe": self._subscribe, "resources/unsubscribe": self._unsubscribe,
        }  # fmt: skip

    async def run(self) -> None:
        """Serve until the input ends (EOF, or the wire stopped), then finish the requests read."""
        import anyio

        lead: list[bytes] = []  # the lines before the first request, for the SDK if the 2026 era is chosen
        deciding = True  # no request yet: the first one picks the era
        async with anyio.create_task_group() as tg:
            self._tg = tg
            while (line := await self._wire.next_line()) is not None:
                message = parse(line)
                if deciding:
                    if isinstance(message, Request):
                        if message.method != "initialize" and has_envelope(message.params):
                            await self._serve_with_sdk([*lead, line])
                            break
                        deciding = False
                    elif len(lead) >= PRE_REQUEST_LIMIT:
                        continue  # dropped unkept, as the SDK does: a flood before any request holds no memory
                    else:
                        lead.append(line)
                if isinstance(message, Request):
                    await self._dispatch(message)
                elif message is not None:
                    self._notified(message)
                else:
                    log.debug("dropped a line that is not a JSON-RPC request or notification: %.200r", line)
            while self._flights:  # the input ended: answer what was read
                self._idle = anyio.Event()
                await self._idle.wait()

    async def _serve_with_sdk(self, lead: list[bytes]) -> None:
        from .server import sdk_server

        log.info("the client speaks the 2026-07-28 protocol: the MCP SDK serves it")
        server = sdk_server(self._handlers)
        read, write = self._wire.sdk_streams(lead)
        await server.run(read, write, server.create_initialization_options())

    async def _dispatch(self, request: Request) -> None:
        import anyio

        # Duplicate ids overwrite (as the SDK does); the key is the id as cancellation names it.
        flight = self._flights[_request_id(request.id)] = _Flight(anyio.CancelScope())  # type: ignore[index]
        if request.method == "initialize":
            await self._answer(request, flight)  # the next line is read once it is answered
        else:
            self._tg.start_soon(self._answer, request, flight)

    def _notified(self, note: Notification) -> None:
        params = note.params
        if note.method == "notifications/cancelled":
            key = _request_id(params.get("requestId")) if params else None
            flight = self._flights.get(key) if key is not None else None
            if flight is not None:
                flight.cancelled = True
                flight.scope.cancel()
        elif note.method == "notifications/initialized":
            plain = params is None or params.keys() <= {"_meta"} and type(params.get("_meta", {})) is dict
            if plain or _sdk_accepts_notification(note.method, self._version, params):
                self._accepted = True
        # Any other notification needs nothing from this server.

    async def _answer(self, request: Request, flight: _Flight) -> None:
        answer: dict[str, Any] | None = None
        try:
            with flight.scope:
                try:
                    answer = {"jsonrpc": "2.0", "id": request.id, "result": await self._result(request)}
                except RpcError as exc:
                    answer = {"jsonrpc": "2.0", "id": request.id, "error": exc.to_json()}
                except Exception as exc:  # a bug: the SDK answers code 0 with its text (its v1 compatibility)
                    log.exception("handler for %r raised", request.method)
                    answer = {"jsonrpc": "2.0", "id": request.id, "error": {"code": 0, "message": str(exc)}}
            if answer is not None and not flight.cancelled:
                await self._wire.send(_written(request, answer))
        finally:
            key = _request_id(request.id)
            if self._flights.get(key) is flight:  # type: ignore[arg-type]
                del self._flights[key]  # type: ignore[arg-type]
            if not self._flights and self._idle is not None:
                self._idle.set()

    async def _result(self, request: Request) -> Any:
        method, params = request.method, request.params
        if method != "initialize" and has_envelope(params):
            raise RpcError(INVALID_REQUEST, _INVALID_ERA)
        if method in SPEC_REQUESTS:
            if method in MODERN_ONLY_REQUESTS:
                raise RpcError(METHOD_NOT_FOUND, "Method not found", method)
            if not _plain_params(method, params):
                _sdk_check(method, self._version, params)
        if method == "initialize":
            return self._initialize(params or {})
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found", method)
        if not self._accepted and method != "ping":
            raise _invalid_params()
        return await handler(params or {})

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        requested = params["protocolVersion"]
        self._version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        self._accepted = True
        handlers = self._handlers
        return {
            "protocolVersion": self._version, "capabilities": handlers.capabilities,
            "serverInfo": {"name": handlers.name, "version": handlers.version}, "instructions": handlers.instructions,
        }  # fmt: skip

    async def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def _list_tools(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._handlers.list_tools()

    async def _call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        result = await self._handlers.call_tool(params["name"], params.get("arguments"))
        result.pop("resultType", None)  # the 2026 era's field: the SDK drops it in the handshake era
        return result

    async def _list_resources(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._handlers.list_resources()

    async def _read_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._handlers.read_resource(params["uri"])

    async def _subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._handlers.subscribers.subscribe(None, self._resource_updated, params["uri"])
        return {}

    async def _unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._handlers.subscribers.unsubscribe(None, params["uri"])
        return {}

    async def _resource_updated(self, uri: str) -> None:
        if self._wire.broken:
            raise ClientGone("the client stopped reading")
        await self._send({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}})

    async def _send(self, message: dict[str, Any]) -> None:
        await self._wire.send(encode(message))


LARGE = 1 << 18
"""An answer whose text is longer is written by pydantic-core (imported then, ~0.05 s): at 100k
entities read_graph's 45 MB answer costs it 0.2 s of CPU against 0.3-0.5 s for :func:`json.dumps`."""


def _large(result: Any) -> bool:
    """Whether a tool call's or a resource read's result carries a text of over :data:`LARGE` characters."""
    if not isinstance(result, dict):
        return False
    parts = result.get("content") or result.get("contents")
    return isinstance(parts, list) and any(isinstance(part, dict) and len(part.get("text") or "") > LARGE
                                           for part in parts)  # fmt: skip


def _written(request: Request, answer: dict[str, Any]) -> bytes:
    """``answer`` as its line; a result that cannot be written answers its request with the error instead.

    The SDK dumps a result while it handles the request, so a result it
    cannot write (a handler's bug: an object of no JSON type, a cycle) fails
    that request alone, code 0 with the error's text, as any exception of a
    handler; here too, not the session.
    """
    try:
        return encode(answer, large=_large(answer.get("result")))
    except (ValueError, TypeError, RecursionError) as exc:  # (the last two only without pydantic: see _jsonable)
        log.exception("the answer to %r could not be written", request.method)
        return encode({"jsonrpc": "2.0", "id": request.id, "error": {"code": 0, "message": str(exc)}})


def encode(message: dict[str, Any], *, large: bool = False) -> bytes:
    """A message as one line of compact UTF-8 JSON (as pydantic writes it).

    Raises
    ------
    ValueError
        ``message`` holds a value pydantic cannot write as JSON either (an
        object of no JSON type, a cycle, nesting over 255 deep), with
        pydantic's text, which the SDK answers.
    """
    if large:
        import pydantic_core

        try:
            return pydantic_core.to_json(message, inf_nan_mode="null") + b"\n"
        except ValueError:  # a lone surrogate (json below escapes it), or a value that is not JSON
            pass
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        # NaN or an infinity (JSON cannot carry them), a type json does not know (a set, a date), a cycle:
        # made JSON as the SDK's dump of a result makes it (NaN as null, a set as a list), or refused as it is.
        message = _jsonable(message)
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    try:
        return (text + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate: escaped, so the line stays valid UTF-8
        return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def _jsonable(value: Any) -> Any:
    """``value`` in JSON's types, as pydantic's JSON mode makes it (what the SDK dumps a result with)."""
    try:
        import pydantic_core
    except ImportError:  # no SDK (nor pydantic): only the floats JSON cannot carry are mended
        return _finite(value)  # (json then refuses what else it cannot write: TypeError, RecursionError)
    return pydantic_core.to_jsonable_python(value, inf_nan_mode="null")


def _finite(value: Any) -> Any:
    """``value`` with each float that is not finite replaced by ``None`` (what pydantic writes for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
