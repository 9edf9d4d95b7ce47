"""The viewer's JSON API: the endpoints of :mod:`graphmem.explore`, answered from the memory the
viewer opened or, while an MCP server holds the store, by that server.

:func:`answer` checks one request's parameters once (:func:`graphmem.explore.prepare`:
refused before the store is touched), opens the memory through the caller's
``open_memory`` and calls the endpoint. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from ..errors import StoreDetached, StoreLocked
from ..explore import ENDPOINTS, LIMITS, Limits, parse_time, prepare
from ..memory import Memory

__all__ = ["ENDPOINTS", "LIMITS", "Limits", "OpenMemory", "answer", "parse_time"]

OpenMemory = Callable[..., AbstractContextManager[Memory]]
"""Called with no argument for the memory to answer with, and with ``store=True`` when that
memory was a detached one that could not answer (:class:`StoreDetached`)."""


def answer(open_memory: OpenMemory, endpoint: str, query: Mapping[str, list[str]], *,
           holder: Any = None) -> dict[str, Any]:  # fmt: skip
    """Run one API call: check its parameters, then read through a memory opened for it.

    Raises :class:`NotFound` for an unknown endpoint or entity,
    :class:`InvalidInput` for bad parameters and :class:`LimitExceeded` past
    a bound, both before ``open_memory`` is called. When the store is held
    by another process (:class:`StoreLocked`) and ``holder`` (a
    :class:`~graphmem.view.follower.ThroughHolder`) has a socket to ask, the
    holder answers with the same functions on its own memory; otherwise
    :class:`StoreLocked` propagates.

    Examples
    --------
    >>> import contextlib, graphmem
    >>> mem = graphmem.open(embedder=None)
    >>> _ = mem.add_entities([{"name": "Ada", "type": "Person"}, {"name": "Bob", "type": "Person"}])
    >>> _ = mem.add_relation("Ada", "KNOWS", "Bob")
    >>> opener = lambda: contextlib.nullcontext(mem)
    >>> answer(opener, "neighbors", {"name": ["Ada"]})["neighbors"]
    [{'name': 'Bob', 'relation': 'KNOWS', 'direction': 'out', 'type': 'Person'}]
    >>> answer(opener, "neighbors", {"name": ["Ada"], "limit": ["100000"]})
    Traceback (most recent call last):
    ...
    graphmem.errors.LimitExceeded: parameter 'limit' is 100000: at most 200 per request
    >>> mem.close()
    """
    fn, args = prepare(endpoint, query)
    try:
        try:
            with open_memory() as mem:
                return fn(mem, **args)
        except StoreDetached:  # answered from memory until it needed the store: open it
            with open_memory(store=True) as mem:
                return fn(mem, **args)
    except StoreLocked:
        if holder is None or not holder.available:
            raise
    # The parameters as the request gave them: the holder checks them again (it trusts no peer).
    return holder.answer(endpoint, dict(query))  # type: ignore[no-any-return]
