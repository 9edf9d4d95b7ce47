"""The default embedder's loading (the model itself is exercised by the tests that embed)."""

from __future__ import annotations

import pytest

import graphmem
from graphmem.errors import GraphMemError


def test_the_default_model_loads_in_the_background_and_a_failure_is_reported(monkeypatch, caplog):
    """load_in_background runs the same load as encode (one lock); a load that
    fails is logged there and raised again by the first encode, not lost."""
    attempts = []

    def failing_load(cls):
        attempts.append(1)
        raise GraphMemError("the 'model' extra is missing (simulated)")

    monkeypatch.setattr(graphmem.DefaultEmbedder, "_load", classmethod(failing_load))
    with caplog.at_level("WARNING", logger="graphmem"):
        graphmem.DefaultEmbedder.load_in_background().join(timeout=30)
    assert attempts == [1] and "simulated" in caplog.text
    with pytest.raises(GraphMemError, match="simulated"):
        graphmem.DefaultEmbedder().encode(["a text"])


def test_deferred_loading_holds_when_loadable_until_load_in_background(monkeypatch):
    """What waits for the model's load (the background embedding's first scan)
    starts when the load is let go, before the load itself, and at once otherwise."""
    order: list[str] = []
    monkeypatch.setattr(graphmem.DefaultEmbedder, "_load", classmethod(lambda cls: order.append("load")))
    graphmem.DefaultEmbedder.defer_loading()
    try:
        graphmem.embed.when_loadable(graphmem.DefaultEmbedder(), lambda: order.append("first"))
        graphmem.DefaultEmbedder.when_loadable(lambda: order.append("second"))
        assert order == []
    finally:
        graphmem.DefaultEmbedder.load_in_background().join(timeout=30)
    assert order == ["first", "second", "load"]
    graphmem.embed.when_loadable(graphmem.DefaultEmbedder(), lambda: order.append("now"))
    assert order[-1] == "now"
