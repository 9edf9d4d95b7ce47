"""Background embedding (graphmem/backlog.py): writes commit without the model,
vectors follow, and what a stopped process left unembedded is embedded at the next open."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphmem
from graphmem.embed import entity_text
from graphmem.errors import InvalidInput
from graphmem.records import quantize


class HeldEmbedder:
    """A HashEmbedder whose encodes in the background thread wait until the test
    releases it (a search's query is encoded in the caller's thread, at once)."""

    def __init__(self, dim: int = 16) -> None:
        self.inner = graphmem.HashEmbedder(dim=dim)
        self.dim = dim
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if threading.current_thread().name == "graphmem-embed":
            self.release.wait()
        return self.inner.encode(texts)


class GatedEmbedder:
    """A HashEmbedder whose model may not load until the test lets it
    (``when_loadable``, as :meth:`graphmem.DefaultEmbedder.defer_loading` holds
    the real one); then each encode of the background thread waits for
    ``loaded`` (the load itself)."""

    def __init__(self, dim: int = 16) -> None:
        self.inner = graphmem.HashEmbedder(dim=dim)
        self.dim = dim
        self.loaded = threading.Event()
        self._waiting: list[Callable[[], None]] | None = []

    def when_loadable(self, callback: Callable[[], None]) -> None:
        if self._waiting is None:
            callback()
        else:
            self._waiting.append(callback)

    def allow_loading(self) -> None:
        waiting, self._waiting = self._waiting or [], None
        for callback in waiting:
            callback()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if threading.current_thread().name == "graphmem-embed":
            self.loaded.wait()
        return self.inner.encode(texts)


def _names(mem: graphmem.Memory, query: str) -> list[str]:
    return [hit.name for hit in mem.search(query, k=10)]


def _unembedded(mem: graphmem.Memory) -> int:
    return int(mem.cypher("MATCH (e:Entity) WHERE e.expired_at IS NULL AND e.embedding IS NULL RETURN count(*) AS n")
               [0]["n"])  # fmt: skip


def test_write_returns_before_the_model_and_search_follows() -> None:
    held = HeldEmbedder()
    with graphmem.open(embedder=held, background_embedding=True) as mem:
        mem.add_entities([{"name": "Ada", "text": "writes compilers"}, {"name": "Bob", "text": "grows apples"}])
        # The write committed while the embedder is held: no vector yet, no hit yet.
        assert mem.get_entity("Ada") is not None
        assert _unembedded(mem) == 2
        assert "Ada" not in _names(mem, "compilers")
        assert not mem.wait_embedded(timeout=0)
        held.release.set()
        assert mem.wait_embedded()
        assert _unembedded(mem) == 0
        assert _names(mem, "writes compilers")[0] == "Ada"


def test_a_changed_text_drops_the_old_vector_until_the_new_one_is_stored() -> None:
    held = HeldEmbedder()
    held.release.set()
    with graphmem.open(embedder=held, background_embedding=True) as mem:
        mem.add_entity("Ada", text="writes compilers")
        assert mem.wait_embedded()
        held.release.clear()
        mem.add_entity("Ada", text="grows apples")
        assert _unembedded(mem) == 1
        assert "Ada" not in _names(mem, "writes compilers")  # the old text's vector is gone
        held.release.set()
        assert mem.wait_embedded()
        assert _names(mem, "grows apples")[0] == "Ada"


def test_what_a_stopped_process_left_is_embedded_at_the_next_open(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    held = HeldEmbedder()
    mem = graphmem.open(path, embedder=held, background_embedding=True)
    mem.add_entities([{"name": f"e{i}", "text": f"topic{i} notes"} for i in range(5)])
    mem.close(save_index=False)  # the thread is still held: nothing was embedded
    held.release.set()
    with graphmem.open(path, embedder=graphmem.HashEmbedder(dim=16), read_only=True) as ro:
        assert _unembedded(ro) == 5
    with graphmem.open(path, embedder=graphmem.HashEmbedder(dim=16), background_embedding=True) as mem:
        assert mem.wait_embedded()
        assert _unembedded(mem) == 0
        assert _names(mem, "topic3 notes")[0] == "e3"


def test_an_index_saved_while_vectors_wait_is_caught_up_after_they_land(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The saved index must not claim a vector stored after it (the vector keeps its entity's updated_at)."""
    path = tmp_path / "store"
    held = HeldEmbedder()
    mem = graphmem.open(path, embedder=held, background_embedding=True)
    mem.add_entity("late", text="quiet harbour")
    mem.add_entity("early", text="loud market", embedding=held.inner.encode(["loud market"])[0])
    assert _names(mem, "loud market") == ["early"]  # the index is loaded
    mem.flush()  # saves the index while "late" waits
    held.release.set()
    assert mem.wait_embedded()
    mem.close(save_index=False)  # as after a crash: the index on disk is the one saved above
    with graphmem.open(path, embedder=graphmem.HashEmbedder(dim=16)) as mem:
        assert _names(mem, "quiet harbour")[0] == "late"
        # Caught up from the saved index, whose store_seq stayed below "late"; had it
        # not, storing the vector would have had to discard the saved index.
        assert mem.stats()["vectors"]["last_load"]["source"] == "file"


def test_the_look_for_missing_vectors_waits_for_the_model_and_a_write_meanwhile_is_embedded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An open with background embedding does not read the entities without a
    vector until the model may load (a server defers it past its first
    answer); a save meanwhile looks for them itself, and everything, old and
    newly written, is embedded once the model has loaded."""
    path = tmp_path / "store"
    with graphmem.open(path, embedder=None) as mem:
        mem.add_entities([{"name": f"old{i}", "text": f"topic{i} notes"} for i in range(3)])
    gated = GatedEmbedder()
    with graphmem.open(path, embedder=gated, background_embedding=True) as mem:
        mem.add_entity("new", text="quiet harbour")
        backlog = mem._shared.backlog  # what the thread knows so far (stats() would look itself)
        assert backlog is not None and len(backlog) == 1  # the three old ones are not looked for yet
        mem.flush()  # needs the oldest entity waiting (Backlog.floor): it looks for them itself
        assert len(backlog) == 4
        assert mem.stats()["vectors"]["waiting"] == 4
        assert not mem.wait_embedded(timeout=0)
        gated.allow_loading()
        assert not mem.wait_embedded(timeout=0)  # the model is still loading
        gated.loaded.set()
        assert mem.wait_embedded()
        assert _unembedded(mem) == 0
        assert _names(mem, "quiet harbour")[0] == "new"
        assert _names(mem, "topic1 notes")[0] == "old1"


class RecordingEmbedder:
    """A HashEmbedder that records each encode of the background thread, and
    holds it until the test releases it."""

    def __init__(self, dim: int = 16) -> None:
        self.inner = graphmem.HashEmbedder(dim=dim)
        self.dim = dim
        self.release = threading.Event()
        self.batches: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if threading.current_thread().name == "graphmem-embed":
            self.release.wait()
            self.batches.append(list(texts))
        return self.inner.encode(texts)


def test_this_memorys_writes_are_embedded_before_what_the_open_found(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A store filled without the model: the entities it holds without a vector
    wait behind the writes made since the open, and a wait for those writes
    (``include_earlier=False``) does not wait for the rest."""
    from graphmem.memory import backlog

    monkeypatch.setattr(backlog, "BATCH", 2)
    path = tmp_path / "store"
    with graphmem.open(path, embedder=None) as mem:
        mem.add_entities([{"name": f"old{i}", "text": f"old note {i}"} for i in range(5)])
    recording = RecordingEmbedder()
    with graphmem.open(path, embedder=recording, background_embedding=True) as mem:
        mem.add_entity("new", text="fresh note")
        assert not mem.wait_embedded(timeout=0, include_earlier=False)
        assert mem.stats()["vectors"]["waiting"] == 6  # the store's five counted, scanned or not
        recording.release.set()
        assert mem.wait_embedded(include_earlier=False)
        # The thread may have taken one batch of the old ones before the write
        # (it then held in encode); the write goes in the next one, before the rest.
        first = [i for i, batch in enumerate(recording.batches) if any("fresh note" in t for t in batch)]
        assert first in ([0], [1]), recording.batches
        assert mem.wait_embedded()
        assert sum(len(batch) for batch in recording.batches) == 6
        assert len(recording.batches) >= 3
        assert mem.stats()["vectors"]["waiting"] == 0
        assert _unembedded(mem) == 0


def test_a_backlog_that_never_begins_stops_and_closes() -> None:
    """A memory closed before its model may load: nothing waits for the thread."""
    gated = GatedEmbedder()
    mem = graphmem.open(embedder=gated, background_embedding=True)
    mem.add_entity("Ada", text="writes compilers")
    backlog = mem._shared.backlog
    mem.close()
    gated.allow_loading()  # after the close: the thread ends without touching the store
    gated.loaded.set()
    backlog._thread.join(timeout=30)
    assert not backlog._thread.is_alive()


def test_embed_missing_embeds_what_cypher_wrote_and_the_saved_index_follows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    embedder = graphmem.HashEmbedder(dim=16)
    with graphmem.open(path, embedder=embedder) as mem:
        mem.add_entity("Ada", text="writes compilers")
        assert _names(mem, "compilers") == ["Ada"]
    with graphmem.open(path, embedder=None) as mem:
        mem.cypher("CREATE (:Entity {key: 'default\x1fBob', id: 100, namespace: 'default', name: 'Bob', "
                   "type: 'Entity', observations: ['grows apples'], properties: '{}'})")  # fmt: skip
    with graphmem.open(path, embedder=embedder) as mem:
        assert _names(mem, "grows apples") == ["Ada"]  # Bob has no vector: never a hit
        assert mem.embed_missing() == 1
        assert mem.embed_missing() == 0
        mem.close(save_index=False)
    with graphmem.open(path, embedder=embedder) as mem:
        assert _names(mem, "grows apples")[0] == "Bob"


def test_embed_missing_needs_an_embedder() -> None:
    with graphmem.open(embedder=None) as mem, pytest.raises(InvalidInput):
        mem.embed_missing()
    with graphmem.open(embedder=None, background_embedding=True) as mem:
        assert mem.wait_embedded(timeout=0)  # nothing to wait for without an embedder


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["red", "green", "blue", None]),
                          st.booleans()), min_size=1, max_size=12))  # fmt: skip
def test_every_entity_ends_with_the_vector_of_its_last_text(steps: list[tuple[str, str | None, bool]]) -> None:
    """Writes interleaved with the embedding thread (held, then let go at random
    points): once it is done, each entity's vector is its current text's, whatever
    landed while an older text was being encoded."""
    held = HeldEmbedder()
    with graphmem.open(embedder=held, background_embedding=True) as mem:
        for name, colour, release in steps:
            if colour is None:
                mem.add_entity(name)
            else:
                mem.add_entity(name, text=f"{colour} paint")
            if release:
                held.release.set()
            else:
                held.release.clear()
        held.release.set()
        assert mem.wait_embedded()
        assert _unembedded(mem) == 0
        for row in mem.cypher("MATCH (e:Entity) RETURN e.name AS name, e.embedding AS v, e.scale AS s"):
            entity = mem.get_entity(row["name"])
            expected = quantize(held.inner.encode([entity_text(entity)])[0])
            assert (row["v"], pytest.approx(row["s"])) == (expected[0], expected[1])
