"""The reader's side of a writer's request for the store (graphmem.store.release)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from graphmem.store.release import RELEASE_WAIT, Listener, ask_readers


def test_no_callback_runs_once_a_listener_is_closed(tmp_path: Path) -> None:
    """close() hangs up on a writer still asking and waits for its thread:
    ``taken`` (the owner may open the store again) must not run after it,
    when the owner has let the store go for good. Before, it ran once the
    writer hung up, after close() had returned."""
    calls: list[str] = []
    before = set(threading.enumerate())  # other tests' listeners may be running
    reader = Listener(tmp_path, release=lambda: calls.append("release") or True, taken=lambda: calls.append("taken"))
    with ask_readers(tmp_path, time.monotonic() + RELEASE_WAIT) as released:
        assert released and calls == ["release"]
        reader.close()
        after_close = list(calls)
    time.sleep(0.3)  # the writer has hung up: a late callback would run now
    assert calls == after_close == ["release"]
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("graphmem-yield")]


def test_taken_follows_the_writer_hanging_up(tmp_path: Path) -> None:
    taken = threading.Event()
    reader = Listener(tmp_path, release=lambda: True, taken=taken.set)
    try:
        with ask_readers(tmp_path, time.monotonic() + RELEASE_WAIT) as released:
            assert released and not taken.is_set()
        assert taken.wait(RELEASE_WAIT)
    finally:
        reader.close()
