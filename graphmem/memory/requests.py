"""Calls applied once: a write's result recorded under its request id, in the write's own transaction.

A caller that retries a write after the process serving it died (the MCP
server's followers, :mod:`graphmem.mcp.share`) sends the same request id
again. The id and the call's result are written to the store's ``Meta`` table
in the transaction that makes the call's changes, so after a crash either
both are there (the retry gets the recorded result) or neither (the retry
applies the call). Ids start with the time they were made, so they sort by
age and old ones are pruned by a range (:func:`prune`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from ..store.store import Store

__all__ = ["LOG_PREFIX", "LOG_TTL_SECONDS", "new_request_id", "check_request_id", "apply_once", "prune"]

LOG_PREFIX = "mcp.request."
# A retry comes seconds after the failure it retries; an hour is ample, and
# pruning keeps the Meta table (read whole on every open) small.
LOG_TTL_SECONDS = 3600


def new_request_id() -> str:
    """A fresh request id: the time first, so ids sort by age (pruning relies on it).

    Examples
    --------
    >>> check_request_id(new_request_id()) is not None
    True
    """
    return f"{time.time_ns():020d}-{uuid.uuid4().hex}"


def check_request_id(request_id: Any) -> str:
    """``request_id`` if it is one :func:`new_request_id` could have made (an
    ASCII str of at most 100 characters starting with a 20-digit time)."""
    if not isinstance(request_id, str) or len(request_id) > 100 or not request_id.isascii():
        raise InvalidInput("a request id is an ASCII str of at most 100 characters")
    head = request_id.split("-", 1)[0]
    if len(head) != 20 or not head.isdigit():
        raise InvalidInput(f"request id {request_id!r} does not start with a 20-digit time")
    return request_id


def apply_once(store: Store, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Run ``apply`` in one transaction, recording its result under ``request_id``;
    returns the result and whether ``apply`` ran (``False``: the id was recorded before)."""
    key = None if request_id is None else LOG_PREFIX + check_request_id(request_id)
    with store.transaction():
        if key is not None:
            rows = store.execute("request_get", {"key": key})
            if rows:
                return dict(json.loads(rows[0][0])), False
        result = apply()
        if key is not None:
            store.execute("meta_set", {"key": key, "value": json.dumps(result, ensure_ascii=False,
                                                                       separators=(",", ":"))})  # fmt: skip
    return result, True


def prune(store: Store, older_than: float) -> int:
    """Forget the request ids recorded more than ``older_than`` seconds ago; return how many."""
    before = LOG_PREFIX + f"{time.time_ns() - int(older_than * 1e9):020d}"
    params = {"prefix": LOG_PREFIX, "before": before}
    # Count first, outside any transaction: most calls find nothing to prune.
    if not store.execute("request_stale_count", params)[0][0]:
        return 0
    with store.transaction():
        return int(store.execute("request_prune", params)[0][0])
