"""Small writes on a stdio server run on its event loop; large ones, and every write over HTTP, in a worker thread.

The hop to a worker thread and back is a good part of a small write's time
(``graphmem.mcp.server.INLINE_WRITE_ITEMS``). What runs where is seen by
wrapping :meth:`Shared.call_tool`, which the handlers call either on the
event loop's thread or through ``anyio.to_thread``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

import graphmem
from graphmem.mcp.server import INLINE_WRITE_ITEMS, Handlers
from graphmem.mcp.share import Shared

from .conftest import ENGINE

pytestmark = pytest.mark.engine


def _entities(prefix: str, count: int) -> dict[str, Any]:
    return {"entities": [{"name": f"{prefix}{i}", "entityType": "t", "observations": []} for i in range(count)]}


def _where_calls_ran(tmp_path: Path, calls: list[tuple[str, dict[str, Any]]], *, inline_writes: bool,
                     before: Any = None) -> list[Any]:  # fmt: skip
    store = tmp_path / "s"
    shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=None))
    shared.start()
    seen: list[Any] = []
    real = shared.call_tool
    loop_thread: list[int] = []

    def spy(name: str, arguments: Any) -> Any:
        outcome = real(name, arguments)
        seen.append((name, "loop" if threading.get_ident() in loop_thread else "worker", outcome.is_error))
        return outcome

    shared.call_tool = spy  # type: ignore[method-assign]

    async def main() -> None:
        loop_thread.append(threading.get_ident())
        handlers = Handlers(shared, inline_writes=inline_writes)
        for number, (name, arguments) in enumerate(calls):
            if before is not None:
                before(number, handlers)
            await handlers.call_tool(name, arguments)
            after = handlers._after
            if after is not None and after.name == "graphmem-mcp-after":
                after.join(60)  # the save after the first answer (writes wait for it in workers)

    try:
        anyio.run(main)
    finally:
        shared.close(save_index=False)
    return seen


def test_small_writes_run_on_the_loop_once_their_tool_ran_in_a_worker(tmp_path: Path) -> None:
    calls = [
        ("create_entities", _entities("a", 2)),  # the tool's first call: a worker thread (it loads what it needs)
        ("create_entities", _entities("b", 2)),  # small: the loop
        ("create_entities", _entities("c", INLINE_WRITE_ITEMS + 1)),  # too many items: a worker
        ("create_entities", {"entities": [{"name": "d", "entityType": "t",
                                           "observations": ["o"] * INLINE_WRITE_ITEMS}]}),  # nested items count
        ("add_observations", {"observations": [{"entityName": "a0", "contents": ["x"]}]}),
        ("add_observations", {"observations": [{"entityName": "a0", "contents": ["y"]}]}),
        ("create_entities", {**_entities("e", 1), "namespace": "elsewhere"}),  # another namespace: a worker
        ("create_entities", {**_entities("f", 1), "namespace": "elsewhere"}),
        ("add_observations", {"observations": [{"entityName": "missing", "contents": ["z"]}]}),  # an error, on the loop
    ]
    where = _where_calls_ran(tmp_path, calls, inline_writes=True)
    assert where == [
        ("create_entities", "worker", False), ("create_entities", "loop", False),
        ("create_entities", "worker", False), ("create_entities", "worker", False),
        ("add_observations", "worker", False), ("add_observations", "loop", False),
        ("create_entities", "worker", False), ("create_entities", "worker", False),
        ("add_observations", "loop", True),
    ]  # fmt: skip


def test_without_inline_writes_every_write_runs_in_a_worker(tmp_path: Path) -> None:
    """The HTTP transport's handlers: several clients share the loop."""
    calls = [("create_entities", _entities("a", 1)), ("create_entities", _entities("b", 1)),
             ("search_nodes", {"query": "a"}), ("search_nodes", {"query": "b"})]  # fmt: skip
    where = _where_calls_ran(tmp_path, calls, inline_writes=False)
    assert [w for name, w, _ in where if name == "create_entities"] == ["worker", "worker"]
    assert [w for name, w, _ in where if name == "search_nodes"][-1] == "loop"  # reads as before


def test_a_small_write_runs_in_a_worker_while_something_may_hold_it_up(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The save after the first answer holds the writer lock (seconds at 100k entities),
    and a stuck follower holds up a write's notice: the loop must not wait for either."""
    saving = threading.Event()
    save = threading.Thread(target=saving.wait, daemon=True)
    watched = [False]
    monkeypatch.setattr(Shared, "watched", property(lambda self: watched[0]))

    def before(number: int, handlers: Handlers) -> None:
        if number == 2:  # the save runs
            save.start()
            handlers._after = save
        elif number == 3:  # the save is done; a follower watches
            saving.set()
            save.join()
            watched[0] = True
        elif number == 4:
            watched[0] = False

    calls = [("create_entities", _entities(p, 1)) for p in "abcde"]
    where = _where_calls_ran(tmp_path, calls, inline_writes=True, before=before)
    assert [w for _, w, _ in where] == ["worker", "loop", "worker", "worker", "loop"]
