"""Atomic tool calls on top of :class:`~graphmem.Memory`: the one module of the
MCP server that reaches past Memory's public methods.

Two things need it, because Memory has no public call for them:

* **One transaction per tool call.** A reference tool call may make several
  Memory writes (``delete_entities`` deletes each name). The store's
  :meth:`transaction` is re-entrant on the thread that holds it, so the
  Memory writes made inside :meth:`Atomic.write` join one transaction: the
  call commits whole or not at all.
* **Applied once.** A call retried after the process serving it died carries
  a request id. The id and the call's result are written to the store's
  ``Meta`` table in the same transaction as the call's changes, so after a
  crash either both are there (the retry gets the recorded result) or
  neither (the retry applies the call). Old ids are pruned.

Removing observations goes through :meth:`Memory.remove_observations` (a
new version of the entity, history kept, the entity embedded again), inside
the same transaction as the request id.

When Memory grows public calls for these, this module shrinks to them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidInput
from ..memory import Memory

__all__ = ["Atomic", "LOG_PREFIX", "new_request_id"]

LOG_PREFIX = "mcp.request."
# A retry comes seconds after the failure it retries; an hour is ample, and
# pruning keeps the Meta table (read whole on every open) small.
LOG_TTL_SECONDS = 3600
PRUNE_EVERY = 256

_LOOKUP = "MATCH (m:Meta {key: $key}) RETURN m.value AS value"
_STALE = "MATCH (m:Meta) WHERE starts_with(m.key, $prefix) AND m.key < $before RETURN count(*) AS n"
_PRUNE = "MATCH (m:Meta) WHERE starts_with(m.key, $prefix) AND m.key < $before DELETE m RETURN count(*) AS n"


def new_request_id() -> str:
    """A fresh request id: the time first, so ids sort by age (pruning relies on it)."""
    import uuid

    return f"{time.time_ns():020d}-{uuid.uuid4().hex}"


def _check_request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or len(request_id) > 100 or not request_id.isascii():
        raise InvalidInput("a request id is an ASCII str of at most 100 characters")
    head = request_id.split("-", 1)[0]
    if len(head) != 20 or not head.isdigit():
        raise InvalidInput(f"request id {request_id!r} does not start with a 20-digit time")
    return request_id


class Atomic:
    """Writer sections, the request log and observation removal for one Memory.

    Parameters
    ----------
    mem
        A writable Memory.
    """

    def __init__(self, mem: Memory) -> None:
        self._mem = mem
        self._store = mem._store  # noqa: SLF001 - see the module docstring
        self._section = threading.RLock()
        self._logged = 0
        self._count_lock = threading.Lock()

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

    def recorded(self, request_id: str | None) -> dict[str, Any] | None:
        """The result recorded for ``request_id``, or ``None`` if it was never applied.

        Call it inside :meth:`section`, before the write, so no other call can
        apply the same id in between.
        """
        if request_id is None:
            return None
        rows = self._mem.cypher(_LOOKUP, {"key": LOG_PREFIX + _check_request_id(request_id)})
        if not rows:
            return None
        return dict(json.loads(rows[0]["value"]))

    def write(self, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``apply`` (Memory writes) as one transaction and return its result.

        With a request id, the result is recorded in the same transaction; a
        second call with the same id returns the recorded result unapplied.
        """
        with self.section():
            found = self.recorded(request_id)
            if found is not None:
                return found
            with self._store.transaction():
                result = apply()
                if request_id is not None:
                    self._store.execute("meta_set", {"key": LOG_PREFIX + request_id, "value": _dump(result)})
        self._after_logging(request_id)
        return result

    def remove_observations(
        self, removals: Sequence[tuple[str, Sequence[str]]], request_id: str | None, result: dict[str, Any]
    ) -> None:
        """Remove observations from existing entities, recording ``result`` under
        ``request_id`` in the same transaction. Call it inside :meth:`section`."""
        with self._store.transaction():
            for name, observations in removals:
                self._mem.remove_observations(name, observations)
            if request_id is not None:
                self._store.execute("meta_set", {"key": LOG_PREFIX + request_id, "value": _dump(result)})
        self._after_logging(request_id)

    def read_only_cypher(self, query: str, params: dict[str, Any] | None) -> tuple[list[str], list[list[Any]]]:
        """Run user Cypher in a read-only transaction; a statement that writes is refused
        (:class:`~graphmem.errors.ReadOnlyStore`) and changes nothing; file, network and
        extension access is refused (:class:`~graphmem.errors.FileAccessRefused`) before it runs."""
        return self._mem.cypher_table(query, params, read_only=True, allow_file_access=False)  # an agent never opts in

    def _after_logging(self, request_id: str | None) -> None:
        if request_id is None:
            return
        with self._count_lock:
            self._logged += 1
            due = self._logged % PRUNE_EVERY == 0
        if due:
            self.prune()

    def prune(self, *, older_than: float = LOG_TTL_SECONDS) -> int:
        """Forget request ids older than ``older_than`` seconds; return how many."""
        before = LOG_PREFIX + f"{time.time_ns() - int(older_than * 1e9):020d}"
        params = {"prefix": LOG_PREFIX, "before": before}
        # Count first: a Cypher write makes Memory rebuild its derived
        # structures, which is worth paying only when something goes.
        if not self._mem.cypher(_STALE, params)[0]["n"]:
            return 0
        return int(self._mem.cypher(_PRUNE, params)[0]["n"])


def _dump(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))
