"""``search`` at a world time (``as_of``) equals an oracle: the unfiltered
ranking of every vector, minus what is not valid then, cut at ``k``.

Both plans of the vector index are checked: the exact scan (a store this
small gets it) and HNSW (``exact_limit=0``, with ``ef_search`` above the
store's size so the graph search is exhaustive and the oracle exact). The
time view's allowed ids are reused across searches and rebuilt after a write
(the store grows between the two rounds), so a stale one would show.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmem.index.vectors import HnswParams
from graphmem.query.search import allowed_ids
from graphmem.records import entity_key, key_name

UTC = timezone.utc
DIM = 8
DAY = timedelta(days=1)


def _entities(rng: np.random.Generator, start: int, count: int, bounded: float,
              now: datetime) -> tuple[list[dict], dict[str, tuple[datetime | None, datetime | None]]]:  # fmt: skip
    """``count`` entities with random vectors; a ``bounded`` share of them valid
    for a random span around ``now`` (days -40..+10, 1..30 days long)."""
    records, spans = [], {}
    for i in range(start, start + count):
        name = f"e{i}"
        record = {"name": name, "embedding": rng.standard_normal(DIM).astype(np.float32)}
        span: tuple[datetime | None, datetime | None] = (None, None)
        if rng.random() < bounded:
            begin = now + DAY * int(rng.integers(-40, 10))
            span = (begin, begin + DAY * int(rng.integers(1, 30)))
            record["valid_from"], record["valid_to"] = span
        records.append(record)
        spans[name] = span
    return records, spans


def _oracle(mem, query: np.ndarray, k: int, at: datetime,
            spans: dict[str, tuple[datetime | None, datetime | None]]) -> list[tuple[str, float]]:  # fmt: skip
    """The first ``k`` of the index's whole unfiltered ranking whose entity of
    this namespace is valid at ``at``."""
    index = mem._vectors.get(DIM)
    ids, scores = index.search(query, len(index), None)
    key_of = mem._derived.get().snapshot().ids.key_of
    found = []
    for id_, score in zip(ids.tolist(), scores.tolist()):
        key = key_of(id_)
        name = None if key is None or not key.startswith(entity_key("default", "")) else key_name(key)
        if name is None:
            continue
        start, end = spans[name]
        if (start is None or start <= at) and (end is None or at < end):
            found.append((name, float(score)))
    return found[:k]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 200), bounded=st.sampled_from([0.05, 0.3, 0.9]),
       k=st.integers(1, 25), hnsw=st.booleans(), other=st.integers(0, 30),
       days=st.lists(st.integers(-45, 15), min_size=1, max_size=4))  # fmt: skip
def test_search_as_of_equals_the_unfiltered_ranking_filtered_by_validity(open_store, seed, n, bounded, k, hnsw,
                                                                          other, days):  # fmt: skip
    rng = np.random.default_rng(seed)
    mem = open_store(None)
    if hnsw:
        mem._vectors.params = HnswParams(exact_limit=0, ef_search=1024)  # exhaustive on a store this small
    now = datetime.now(UTC)
    records, spans = _entities(rng, 0, n, bounded, now)
    mem.add_entities(records)
    if other:  # another namespace: its ids are never hits here (the namespace filter meets the time filter)
        mem.namespace("other").add_entities([{"name": f"o{i}", "embedding": rng.standard_normal(DIM)}
                                             for i in range(other)])  # fmt: skip
    queries = rng.standard_normal((2, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)  # as search makes them: the oracle's scores match
    for round_ in range(2):
        if round_:  # a write: every view (and the ids it allows) is rebuilt
            more, more_spans = _entities(rng, n, n // 2 + 1, bounded, now)
            mem.add_entities(more)
            spans.update(more_spans)
        mem._vectors.get(DIM).drain()  # HNSW holds every vector: the oracle's ranking is the graph's
        for query in queries:
            for day in days:
                at = now + DAY * day
                got = [(h.name, h.score) for h in mem.search(query, k=k, as_of=at)]
                want = _oracle(mem, query, k, at, spans)
                assert [name for name, _ in got] == [name for name, _ in want], (day, round_)
                assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
                # The ids the view lets a search return (made once per view): none
                # hidden then, every one visible (naming hits drops hidden ids
                # too, so the answers alone would not show a wrong set).
                state, view = mem._shared.views.graph(mem._store, mem._derived, at, None, datetime.now)
                allowed = allowed_ids(state, view, "default", None)
                ids = mem._derived.get().snapshot().ids
                for name, (start, end) in spans.items():
                    valid = (start is None or start <= at) and (end is None or at < end)
                    id_ = ids.id_of(entity_key("default", name))
                    assert (allowed is None or id_ in allowed) == valid, (name, day)
            # now (no as_of): the current view, filtered the same way
            got_now = [h.name for h in mem.search(query, k=k)]
            assert got_now == [name for name, _ in _oracle(mem, query, k, datetime.now(UTC), spans)]
