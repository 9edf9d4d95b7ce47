"""``graphmem view``: see the memory in a browser (a local, read-only graph explorer).

:func:`serve` runs the viewer for a store (:mod:`graphmem.view.server`: the
page and its JSON API, :mod:`graphmem.view.api`), keeping the store open
read-only between requests yet letting go whenever an agent opens it
read-write (:mod:`graphmem.view.source`), so an agent is never kept out. :func:`write_html` writes a
self-contained page of one neighbourhood instead (:mod:`graphmem.view.export`).
"""

from __future__ import annotations

import logging
import os
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import GraphMemError, InvalidInput, StoreLocked
from .export import page_data, write_html
from .server import ViewServer
from .source import PerRequest

log = logging.getLogger("graphmem.view")

__all__ = ["PerRequest", "ViewServer", "make_server", "page_data", "serve", "write_html"]


def make_server(path: str | os.PathLike[str], *, engine: str | None = None, namespace: str = "default",
                embedder: Any = None, host: str = "127.0.0.1", port: int = 0,
                hold: float | None = None) -> ViewServer:  # fmt: skip
    """A viewer of the store at ``path``, bound but not yet serving.

    The store is opened read-only once here, to fail early on a path that is
    no store (or a namespace it lacks) rather than on the first page load
    (and, by default, kept: see :class:`PerRequest`);
    a store another process holds right now is fine: while an MCP server
    holds it the viewer asks that server through its share socket, and
    otherwise its requests answer "busy" until the store is free.
    """
    if not Path(path).is_dir():
        raise InvalidInput(f"no store at {path}: graphmem view reads an existing store (it never creates one)")
    source = PerRequest(Path(path), engine=engine, namespace=namespace, embedder=embedder, hold=hold)
    try:
        with source():
            pass
    except StoreLocked:
        pass  # held read-write by an agent right now: the page says "busy" until it lets go
    try:
        from .follower import ThroughHolder
    except ImportError:  # no 'mcp' extra: then no MCP server can hold the store either
        holder = None
    else:
        try:
            holder = ThroughHolder(Path(path), namespace=namespace)
        except GraphMemError as exc:  # a path too long for a Unix socket: no MCP server can share it either
            log.info("not reading through an MCP server's socket: %s", exc)
            holder = None
    return ViewServer(source, host=host, port=port, holder=holder)


def serve(path: str | os.PathLike[str], *, engine: str | None = None, namespace: str = "default",
          embedder: Any = None, port: int = 0, hold: float | None = None, open_browser: bool = True,
          announce: Callable[[str], None] = print) -> None:  # fmt: skip
    """Serve the viewer of the store at ``path`` on 127.0.0.1 until interrupted (Ctrl-C).

    ``announce`` is given the URL to open (it carries a single-use token);
    with ``open_browser`` the default browser opens it too, when there is one.
    ``hold``: see :class:`PerRequest`.
    """
    server = make_server(path, engine=engine, namespace=namespace, embedder=embedder, port=port, hold=hold)
    try:
        announce(server.url)
        if open_browser and _has_display():
            webbrowser.open(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a person stops the viewer
    finally:
        server.server_close()


def _has_display() -> bool:
    """Whether a browser could show a window here (a desktop session, or macOS / Windows)."""
    import sys

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
