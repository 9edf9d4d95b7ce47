"""The server's write sections over :class:`~graphmem.Memory`'s public calls.

* **One transaction per tool call, applied once.** A reference tool call may
  make several Memory writes (``delete_entities`` deletes each name);
  :meth:`Memory.apply_once` runs them as one transaction and records the
  call's result under its request id in that transaction, so a call retried
  after the process serving it died applies once (:mod:`graphmem.memory.requests`).
* **Check-then-write.** The server's calls are ordered by its own lock
  (:meth:`Atomic.section`), so what a call reads before it writes is what it
  writes over.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..memory import Memory
from ..memory.requests import LOG_PREFIX, LOG_TTL_SECONDS, new_request_id

__all__ = ["Atomic", "LOG_PREFIX", "new_request_id"]


class Atomic:
    """Writer sections, the request log and observation removal for one Memory.

    Parameters
    ----------
    mem
        A writable Memory.
    """

    def __init__(self, mem: Memory) -> None:
        self._mem = mem
        self._section = threading.RLock()

    @contextmanager
    def section(self) -> Iterator[None]:
        """Order the server's write calls: reads made inside see no other write
        call land, so check-then-write is atomic.

        This is the server's own lock, not the store's writer lock: Memory's
        Cypher runs a trial in a read-only transaction on the writer's
        connection when called under that lock, which ladybug then refuses
        to reuse for the write. The server is the store's only writer (the
        store admits one writer process, and in it only these tools write),
        so ordering its calls is enough.
        """
        with self._section:
            yield

    def write(self, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``apply`` (Memory writes) as one transaction and return its result.

        With a request id, the result is recorded in the same transaction; a
        second call with the same id returns the recorded result unapplied.
        """
        with self.section():
            return self._mem.apply_once(request_id, apply)

    def remove_observations(self, removals: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Remove observations from existing entities (each a new version, history
        kept, embedded again); call it inside :meth:`write`'s ``apply``."""
        for name, observations in removals:
            self._mem.remove_observations(name, observations)

    def read_only_cypher(self, query: str, params: dict[str, Any] | None) -> tuple[list[str], list[list[Any]]]:
        """Run user Cypher in a read-only transaction; a statement that writes is refused
        (:class:`~graphmem.errors.ReadOnlyStore`) and changes nothing; file, network and
        extension access is refused (:class:`~graphmem.errors.FileAccessRefused`) before it runs."""
        return self._mem.cypher_table(query, params, read_only=True, allow_file_access=False)  # an agent never opts in

    def prune(self, *, older_than: float = LOG_TTL_SECONDS) -> int:
        """Forget request ids older than ``older_than`` seconds; return how many."""
        return self._mem.forget_requests(older_than=older_than)
