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

What an open loads (the graph state, the vector index, the name index)
outlives the handle: the next open takes it over when no write reached the
store in between (``graphmem.open(..., reuse=)``, checked against the
engine's files, :func:`graphmem.store.files.fingerprint`), so a request
pays for the read-only open and its answer, and a load happens once per
change of the store. Nothing kept holds the store: an agent may open it
read-write at any moment, and its first write makes the viewer load afresh.
``hold`` trades some of that freedom for speed: the handle
stays open that many seconds after the last request, so a person clicking
through the graph pays the open once; an agent opening the store read-write
meanwhile is refused (:class:`~graphmem.errors.StoreLocked`) until the hold
runs out. The default, 0, closes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphmem

from ..errors import InvalidInput
from ..memory import Memory
from ..store import files

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
    hold
        Seconds to keep the store open after the last request (0: close at once).
    """

    def __init__(self, path: str | Path, *, engine: str | None = None, namespace: str = "default",
                 embedder: Any = None, hold: float = 0.0) -> None:  # fmt: skip
        if not isinstance(hold, (int, float)) or isinstance(hold, bool) or not 0 <= hold <= 3600:
            raise InvalidInput(f"hold must be a number of seconds from 0 to 3600, not {hold!r}")
        self._hold = float(hold)
        self._timer: threading.Timer | None = None
        self.path = Path(path)
        self._engine = engine
        self._namespace = namespace
        self._embedder = embedder
        self._lock = threading.Lock()
        self._users = 0
        self._mem: Memory | None = None
        self._last: Memory | None = None  # the last handle, closed: what it loaded is reused while unchanged
        self._detached: Memory | None = None  # its detached view: answers from memory without opening
        self.opens = 0  # how many times the store was opened (tests and the benchmark read it)
        self.detached_answers = 0  # requests answered without opening (likewise)

    def version(self) -> tuple[tuple[str, int, int, int, int], ...]:
        """What the engine's files look like now (:func:`graphmem.store.files.fingerprint`).

        An answer computed while this was unchanged is still right: the
        viewer caches its costliest one (the overview) under it.
        """
        return files.fingerprint(self.path)

    @property
    def is_open(self) -> bool:
        """Whether a request holds the store right now."""
        return self._mem is not None

    @contextmanager
    def __call__(self, *, store: bool = False) -> Iterator[Memory]:
        """The memory to answer one request with: the open handle if one is (a request in
        flight or a hold), else what the last handle loaded while no write reached the store
        (:meth:`graphmem.Memory.detached`: no open at all; a read it cannot answer raises
        :class:`~graphmem.errors.StoreDetached`, and the caller asks again with ``store=True``),
        else a read-only open."""
        with self._lock:
            kept = self._detached if self._mem is None and not store else None
        if kept is not None and kept.unchanged():
            yield kept  # StoreDetached from the answer propagates: the caller opens
            self.detached_answers += 1
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()  # a request within the hold: keep the handle
                self._timer = None
            if self._mem is None:
                self._mem = graphmem.open(self.path, engine=self._engine, embedder=self._embedder, read_only=True,
                                          namespace=self._namespace, reuse=self._last)  # fmt: skip
                self._last = self._detached = None
                self.opens += 1
            self._users += 1
            mem = self._mem
        try:
            yield mem
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    if self._hold > 0:
                        self._timer = threading.Timer(self._hold, self._close_if_idle)
                        self._timer.daemon = True
                        self._timer.start()
                    else:
                        self._close_locked()

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._users == 0 and self._timer is not None:
                self._timer = None
                self._close_locked()

    def _close_locked(self) -> None:
        mem, self._mem = self._mem, None
        if mem is not None:
            mem.close(save_index=False)  # nothing to save on a read-only handle
            self._last, self._detached = mem, mem.detached()

    def close(self) -> None:
        """Let go of the store now (the server calls this when it stops)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._users == 0:
                self._close_locked()
            self._last = self._detached = None