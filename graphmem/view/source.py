"""How the viewer reaches the store without ever keeping an agent out of it.

A store admits one read-write process or several read-only ones, never both
(DESIGN.md, "The graph engine"). The viewer keeps its read-only handle
between requests, yet yields it to any agent that wants the store: by
default (``hold=None``) :class:`PerRequest` opens the store read-only at the
first request and keeps it, and while it holds it it listens on
``PATH/yield-<pid>.<n>.sock`` (:mod:`graphmem.store.release`: 0600 in the
store's folder, and only a process of the same user is heard). An agent
whose read-write :func:`graphmem.open` finds the store locked asks it to let
go; the viewer finishes the requests in flight, closes, and the agent's open
retries the lock (for at most :data:`graphmem.store.release.RELEASE_WAIT`
seconds in all). Requests meanwhile, and while the agent holds the store,
answer "busy" (:class:`~graphmem.errors.StoreLocked`, HTTP 503) unless what
the last handle loaded answers them; the first request after the agent let
go opens the store again, and keeps it. Held, no request pays an open: at
1M entities an open and close cost 15-50 ms and the engine plans each
statement afresh after one (benchmarks/RESULTS.md, the viewer's section).

What an open loads (the graph state, the vector index, the name index)
outlives the handle: the next open takes it over when no write reached the
store in between (``graphmem.open(..., reuse=)``, checked against the
engine's files, :func:`graphmem.store.files.fingerprint`), and a request
that needs nothing but that is answered from the closed handle's detached
view without opening at all, so a load happens once per change of the
store.

``hold`` as a number is the older way: open per request and close when the
last request in flight is answered (0, nothing held between requests), or
that many seconds after it; an agent's read-write open is refused
(:class:`~graphmem.errors.StoreLocked`) while the handle is open, as it is
when the store cannot have a socket (a path too long for one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphmem

from ..errors import StoreLocked
from ..memory import Memory
from ..store import files, release
from ..validate import check_number_range

__all__ = ["PerRequest"]

log = logging.getLogger("graphmem.view")


class PerRequest:
    """Opens the store at ``path`` read-only for the viewer's requests: kept, and yielded to a
    writer that asks (``hold=None``), or closed after them (``hold`` seconds).

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
        ``None`` (the default): keep the store open until a writer asks for it.
        A number of seconds from 0 to 3600: keep it that long after the last
        request (0: close at once), and hear no writer meanwhile.
    """

    def __init__(self, path: str | Path, *, engine: str | None = None, namespace: str = "default",
                 embedder: Any = None, hold: float | None = None) -> None:  # fmt: skip
        self._hold = check_number_range(hold, "hold", 0, 3600, allow_none=True,
                                        expected="None or a number of seconds from 0 to 3600")  # fmt: skip
        self._timer: threading.Timer | None = None
        self.path = Path(path)
        self._engine = engine
        self._namespace = namespace
        self._embedder = embedder
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last request in flight ends
        self._users = 0
        self._mem: Memory | None = None
        self._last: Memory | None = None  # the last handle, closed: what it loaded is reused while unchanged
        self._detached: Memory | None = None  # its detached view: answers from memory without opening
        self._listener: release.Listener | None = None
        self._yielding = 0  # writers released and not yet settled: open nothing meanwhile
        self._closed = False
        self.opens = 0  # how many times the store was opened (tests and the benchmark read it)
        self.detached_answers = 0  # requests answered without opening (likewise)
        self.releases = 0  # how many times a writer's request made the viewer let go (likewise)

    @property
    def yields(self) -> bool:
        """Whether the handle is kept between requests and yielded to a writer that asks."""
        return self._hold is None

    def version(self) -> tuple[tuple[str, int, int, int, int], ...]:
        """What the engine's files look like now (:func:`graphmem.store.files.fingerprint`).

        An answer computed while this was unchanged is still right: the
        viewer caches its costliest one (the overview) under it.
        """
        return files.fingerprint(self.path)

    @property
    def yielding_to(self) -> int:
        """How many writers the viewer let go for and is still keeping off the store for
        (requests that need the store answer "busy" meanwhile)."""
        return self._yielding

    @property
    def is_open(self) -> bool:
        """Whether the viewer holds the store right now."""
        return self._mem is not None

    @contextmanager
    def __call__(self, *, store: bool = False) -> Iterator[Memory]:
        """The memory to answer one request with: the open handle if one is (kept, a request in
        flight or a hold), else what the last handle loaded while no write reached the store
        (:meth:`graphmem.Memory.detached`: no open at all; a read it cannot answer raises
        :class:`~graphmem.errors.StoreDetached`, and the caller asks again with ``store=True``),
        else a read-only open (:class:`~graphmem.errors.StoreLocked` while a writer holds the
        store, or was just given it)."""
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
            if self._yielding:  # not even joining the open handle: the writer waits for it to close
                raise StoreLocked(f"an agent asked for the store at {self.path}: busy until it lets go")
            if self._mem is None:
                if self.yields and self._listener is None and not self._closed:
                    # Listening before the open, so no writer finds the store held and nobody to ask.
                    self._listener = release.make_listener(self.path, self._release, self._taken)
                    if self._listener is None:  # no socket here: never keep what no writer could ask back
                        self._hold = 0.0
                with release.not_asking():  # another reader of this process that yields is not ours to evict
                    self._mem = graphmem.open(self.path, engine=self._engine, embedder=self._embedder,
                                              read_only=True, namespace=self._namespace, reuse=self._last)  # fmt: skip
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
                    self._idle.notify_all()
                    if self._closed or self._hold == 0:
                        self._close_locked()
                    elif self._hold is not None:
                        self._timer = threading.Timer(self._hold, self._close_if_idle)
                        self._timer.daemon = True
                        self._timer.start()
                    # else (hold=None): kept until a writer asks (_release)

    def _release(self) -> bool:
        """A writer asks for the store (the listener's thread): finish the requests in flight,
        close, and open nothing until it has settled (:meth:`_taken`)."""
        with self._lock:
            self._yielding += 1  # from now on no request joins the handle or opens one
            while self._users:
                self._idle.wait()
            if self._mem is None:
                self._yielding -= 1
                return False
            self._close_locked()
            self.releases += 1
            return True

    def _taken(self) -> None:
        with self._lock:
            self._yielding -= 1

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
            self._closed = True
            listener, self._listener = self._listener, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._users == 0:
                self._close_locked()
            self._last = self._detached = None
        if listener is not None:
            listener.close()
