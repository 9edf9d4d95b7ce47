"""``neighbors`` from the in-memory adjacency equals the store's answer (issue 18).

Two oracles, both read from the store rather than the derived state the
answer comes from: the former Cypher implementation (``_neighbors_cypher``,
for reads at now) and a filter over ``iter_entities`` / ``iter_relations``
(for every ``as_of``). Random histories mix writes with validity bounds on
either side of now, deletes, expiries and two namespaces sharing names, and
the answers are compared after every write (read-your-writes through the
delta overlay) and, at the end, for every direction, type filter and time.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmem.errors import InvalidInput, NotFound

UTC = timezone.utc
NAMES = ["a", "b", "c", "d"]
TYPES = ["R", "S"]
SPACES = ["default", "other"]
DAY = timedelta(days=1)
_BOUND = st.sampled_from([None, None, -2, -1, 1, 2])  # days from now; None: unbounded (twice: most facts hold now)

_op = st.one_of(
    st.tuples(st.just("entity"), st.sampled_from(SPACES), st.sampled_from(NAMES), _BOUND, _BOUND),
    st.tuples(st.just("relation"), st.sampled_from(SPACES), st.sampled_from(NAMES), st.sampled_from(TYPES),
              st.sampled_from(NAMES), _BOUND, _BOUND),
    st.tuples(st.sampled_from(["delete_entity", "expire_entity"]), st.sampled_from(SPACES), st.sampled_from(NAMES)),
    st.tuples(st.sampled_from(["delete_relation", "expire_relation"]), st.sampled_from(SPACES),
              st.sampled_from(NAMES), st.sampled_from(TYPES), st.sampled_from(NAMES)),
)


def _valid(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    return (start is None or start <= at) and (end is None or at < end)


def _answer(call):
    """A neighbours call as comparable data: the rows, or ``NotFound``."""
    try:
        return [(n.name, n.type, n.direction) for n in call()]
    except NotFound:
        return NotFound


def _facts(space):
    """The store's current entities (name: validity) and relations of one namespace, by a scan."""
    return {e.name: (e.valid_from, e.valid_to) for e in space.iter_entities()}, list(space.iter_relations())


def _from_iter(facts, name: str, direction: str, types, at: datetime):
    """What ``neighbors`` must answer at world time ``at``, from the store's current facts."""
    entities, relations = facts
    if name not in entities or not _valid(*entities[name], at):
        return NotFound
    seen = {n for n, bounds in entities.items() if _valid(*bounds, at)}
    rows = []
    for r in relations:
        if not _valid(r.valid_from, r.valid_to, at) or r.source not in seen or r.target not in seen:
            continue
        if types is not None and r.type not in types:
            continue
        if r.source == name and direction in ("out", "both"):
            rows.append((r.target, r.type, "out"))
        if r.target == name and direction in ("in", "both"):
            rows.append((r.source, r.type, "in"))
    return sorted(rows)


def _apply(spaces, op, now: datetime) -> None:
    kind, space = op[0], spaces[op[1]]
    try:
        if kind == "entity":
            _, _, name, start, end = op
            space.add_entity(name, valid_from=None if start is None else now + start * DAY,
                             valid_to=None if end is None else now + end * DAY)  # fmt: skip
        elif kind == "relation":
            _, _, source, type_, target, start, end = op
            space.add_relation(source, type_, target, valid_from=None if start is None else now + start * DAY,
                               valid_to=None if end is None else now + end * DAY)  # fmt: skip
        else:
            getattr(space, kind)(*op[2:])
    except (NotFound, InvalidInput):
        pass  # a relation to a missing entity, or valid_to not after valid_from: nothing written


def _check_bounded(space, name: str, as_of: datetime | None = None) -> None:
    """``neighbors(limit=)`` (the viewer's bounded expand) against the full answer: its total is
    the full answer's length, what it keeps is a sorted part of it, and a larger limit keeps more;
    in each direction and with a type filter too."""
    for direction, types in (("both", None), ("out", None), ("in", ["R"])):
        full = _answer(lambda: space.neighbors(name, as_of=as_of, direction=direction, types=types))
        if full is not NotFound:
            unlimited = space.neighbors(name, as_of=as_of, direction=direction, types=types)
            assert unlimited.total == len(unlimited) and not unlimited.truncated
        smaller: list = []
        for limit in (1, 2, 3, 100):
            try:
                kept = space.neighbors(name, limit=limit, as_of=as_of, direction=direction, types=types)
            except NotFound:
                assert full is NotFound
                break
            rows = [(n.name, n.type, n.direction) for n in kept]
            assert kept.total == len(full) and len(rows) == min(limit, kept.total) and rows == sorted(rows)
            assert kept.truncated == (kept.total > limit)
            assert not set(rows) - set(full) and not set(smaller) - set(rows)
            smaller = rows


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=1, max_size=12))
def test_neighbors_equals_the_store_after_random_histories(open_store, ops):
    mem = open_store(None)
    spaces = {"default": mem, "other": mem.namespace("other")}
    now = datetime.now(UTC)
    for space in spaces.values():  # the same names in both namespaces, so that a leak across them shows
        space.add_entities([{"name": n} for n in NAMES])
    for op in ops:
        _apply(spaces, op, now)
        for space in spaces.values():
            for name in NAMES:
                # Read-your-writes: the write just made is in the answer.
                assert _answer(lambda: space.neighbors(name)) == _answer(lambda: space._neighbors_cypher(name))
                _check_bounded(space, name)
    time.sleep(0.002)
    known = datetime.now(UTC)
    for space in spaces.values():
        facts = _facts(space)
        for name in NAMES:
            for direction in ("out", "in", "both"):
                for types in (None, ["R"], ["S", "missing"], ["missing"]):
                    got = _answer(lambda: space.neighbors(name, direction=direction, types=types))
                    assert got == _answer(lambda: space._neighbors_cypher(name, direction=direction, types=types))
                    assert got == _from_iter(facts, name, direction, types, datetime.now(UTC))
                    for days in (-1.5, -0.5, 0.5, 1.5):
                        at = now + days * DAY
                        assert _answer(lambda: space.neighbors(name, direction=direction, types=types, as_of=at)) \
                            == _from_iter(facts, name, direction, types, at)
            for days in (-1.5, 0.5, 1.5):
                _check_bounded(space, name, now + days * DAY)
            # A past known_at (after the last write) reads the store's history: the same graph.
            assert _answer(lambda: space.neighbors(name, known_at=known)) == _answer(lambda: space.neighbors(name))


def test_an_empty_type_filter_matches_nothing_and_unknown_names_are_not_found(open_store):
    mem = open_store(None)
    mem.add_entities([{"name": "a"}, {"name": "b"}])
    mem.add_relation("a", "R", "b")
    assert mem.neighbors("a", types=[]) == []
    assert mem.neighbors("a", types="R")[0].name == "b"
    with pytest.raises(NotFound):
        mem.neighbors("zz")
    with pytest.raises(NotFound):
        mem.neighbors("zz", as_of=datetime.now(UTC))


def test_a_self_loop_is_both_out_and_in(open_store):
    mem = open_store(None)
    mem.add_entity("a")
    mem.add_relation("a", "R", "a")
    rows = [(n.name, n.type, n.direction) for n in mem.neighbors("a")]
    assert rows == [("a", "R", "in"), ("a", "R", "out")] == _answer(lambda: mem._neighbors_cypher("a"))


def test_a_closed_memory_refuses_neighbors(open_store):
    from graphmem.errors import GraphMemError

    mem = open_store(None)
    mem.add_entity("a")
    mem.close()
    with pytest.raises(GraphMemError):
        mem.neighbors("a")
