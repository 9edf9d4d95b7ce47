"""How the viewer reaches the store without ever keeping an agent out of it.

A store admits one read-write process or several read-only ones, never both
(DESIGN.md, "The graph engine"). So the viewer holds no handle between
requests: :class:`PerRequest` opens the store read-only when a request
arrives and closes it when the last request in flight is answered; requests
that overlap share one handle (a process may open a path only once). While
an agent holds the store read-write the open fails with
:class:`~graphmem.errors.StoreLocked`, which the server answers as "busy"
(HTTP 503); the agent is never blocked by the viewer for longer than one
request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphmem

from ..memory import Memory

__all__ = ["PerRequest"]


class PerRequest:
    """Opens the store at ``path`` read-only for the requests in flight, and closes it after.

    Parameters
    ----------
    path
        The store's directory (it must exist: the viewer never creates one).
    engine, namespace
        As in :func:`graphmem.open`.
    embedder
        The embedder for meaning search (an :class:`~graphmem.Embedder`,
        built once by the caller: loading a model per request would take
        seconds), or ``None``.
    """

    def __init__(self, path: str | Path, *, engine: str | None = None, namespace: str = "default",
                 embedder: Any = None) -> None:  # fmt: skip
        self.path = Path(path)
        self._engine = engine
        self._namespace = namespace
        self._embedder = embedder
        self._lock = threading.Lock()
        self._users = 0
        self._mem: Memory | None = None
        self.opens = 0  # how many times the store was opened (tests and the benchmark read it)

    @property
    def is_open(self) -> bool:
        """Whether a request holds the store right now."""
        return self._mem is not None

    @contextmanager
    def __call__(self) -> Iterator[Memory]:
        with self._lock:
            if self._mem is None:
                self._mem = graphmem.open(self.path, engine=self._engine, embedder=self._embedder, read_only=True,
                                          namespace=self._namespace)  # fmt: skip
                self.opens += 1
            self._users += 1
            mem = self._mem
        try:
            yield mem
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._mem = None
                    # Nothing to save on a read-only handle: close at once.
                    mem.close(save_index=False)
