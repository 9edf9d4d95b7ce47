"""Model-based test of the bi-temporal semantics (issue 17.6).

A hypothesis state machine writes, expires, revives, deletes and purges
entities (with vectors) and relations, and reads at random world times
(``as_of``) and system times (``known_at``); every answer is compared with a
pure-Python oracle of the semantics the README and the docstrings state:

- a write of an existing entity or relation records a new version only when
  it changes something; the replaced version is history (``expired_at`` = the
  write's time); writing an expired entity's name revives it as a fresh row;
- ``expire_*`` retire (an entity's current relations with it), ``delete_*``
  remove every version, ``purge(before=t)`` removes the versions retired
  before ``t``;
- a read at (``as_of``, ``known_at``) sees the versions held at ``known_at``
  (now if ``None``) whose validity ``[valid_from, valid_to)`` covers
  ``as_of`` (now if ``None``); a relation needs both ends visible; an entity
  that is not visible has no neighbours (``NotFound``); search ranks the
  visible entities that are current and have a vector, by that vector.

The system clock is graphmem's own (``memory.utcnow``) replaced by a fake one
that advances one second per step, so every version's time is known exactly
and ``known_at`` points fall on and between writes without sleeping.
``GRAPHMEM_RELIABILITY=full`` runs many more and longer histories.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import graphmem
from graphmem.memory import facade as memory_module
from graphmem.index.vectors import HnswParams

from .conftest import ENGINE

FULL = os.environ.get("GRAPHMEM_RELIABILITY", "") == "full"
UTC = timezone.utc
START = datetime(2025, 1, 1)  # naive UTC, as graphmem's clock returns it
NAMES = ("a", "b", "c")
TYPES = ("R", "S")
WORLD = (datetime(2020, 1, 1), datetime(2024, 1, 1), datetime(2025, 6, 1), datetime(2030, 1, 1))
"""Validity bounds: the fake clock stays in early 2025, so some intervals cover now and some do not."""
BOUND = st.sampled_from((None, None, None, *WORLD))
"""A validity bound given to a write; mostly none, so re-writes that bring nothing new are frequent."""
AS_OF = (datetime(2019, 1, 1), datetime(2021, 1, 1), datetime(2024, 6, 1), datetime(2025, 3, 1), datetime(2031, 1, 1))
VECTORS = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8], [0.0, 0.0, 1.0]], np.float32)
QUERIES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.7]], np.float32)

COUNTS = {"steps": 0, "query_points": 0, "checks": 0, "searches_with_queue": 0}
"""Totals over the run (printed with -s; benchmarks/RELIABILITY.md quotes them)."""


def _aware(naive: datetime | None) -> datetime | None:
    return None if naive is None else naive.replace(tzinfo=UTC)


def _covers(vf: datetime | None, vt: datetime | None, at: datetime) -> bool:
    return (vf is None or vf <= at) and (vt is None or at < vt)


def _held(rec: datetime, exp: datetime | None, known: datetime | None) -> bool:
    """Held at system time ``known`` (``None``: now, i.e. not retired)."""
    if known is None:
        return exp is None
    return rec <= known and (exp is None or known < exp)


@dataclass
class EVersion:
    text: str | None
    vector: int | None
    vf: datetime | None
    vt: datetime | None
    rec: datetime
    exp: datetime | None = None


@dataclass
class RVersion:
    s: str
    t: str
    d: str
    props: dict[str, Any]
    vf: datetime | None
    vt: datetime | None
    rec: datetime
    exp: datetime | None = None


@dataclass
class Oracle:
    """The documented semantics, in plain Python."""

    entities: dict[str, list[EVersion]] = field(default_factory=dict)
    relations: list[RVersion] = field(default_factory=list)

    def current(self, name: str) -> EVersion | None:
        versions = self.entities.get(name)
        return versions[-1] if versions and versions[-1].exp is None else None

    def current_relation(self, s: str, t: str, d: str) -> RVersion | None:
        return next((r for r in self.relations if (r.s, r.t, r.d) == (s, t, d) and r.exp is None), None)

    def visible(self, name: str, at: datetime, known: datetime | None) -> EVersion | None:
        for version in self.entities.get(name, ()):
            if _held(version.rec, version.exp, known) and _covers(version.vf, version.vt, at):
                return version
        return None

    def neighbours(self, name: str, at: datetime, known: datetime | None) -> list[tuple[str, str, str]]:
        out = []
        for r in self.relations:
            if not (_held(r.rec, r.exp, known) and _covers(r.vf, r.vt, at)):
                continue
            if self.visible(r.s, at, known) is None or self.visible(r.d, at, known) is None:
                continue
            if r.s == name:
                out.append((r.d, r.t, "out"))
            if r.d == name:
                out.append((r.s, r.t, "in"))
        return sorted(out)


class TemporalMachine(RuleBasedStateMachine):
    """Drives one in-memory store and the oracle through the same history."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = START
        self._real_utcnow = memory_module.utcnow
        memory_module.utcnow = lambda: self.clock  # graphmem's system clock, for this store only
        self.mem = graphmem.open(embedder=None, engine=ENGINE)
        # Searches through the HNSW graph, not the exact scan a store this
        # small gets: the graph's label bookkeeping under expiry and revival is
        # part of what is checked.
        self.mem._vectors.params = HnswParams(exact_limit=0)
        # The index's background worker is paused and resumed by rules below,
        # so searches meet queues of every length (issue 18): HNSW answers
        # merged with the exact scan of what the worker has not applied yet.
        self.pause: ExitStack | None = None
        self.oracle = Oracle()
        self.times: list[datetime] = [START]  # write times, for known_at and purge bounds

    def teardown(self) -> None:
        try:
            if self.pause is not None:
                self.pause.close()
            self.mem.close()
        finally:
            memory_module.utcnow = self._real_utcnow

    def _tick(self) -> datetime:
        """The time of the next write: one second after the last step."""
        self.clock += timedelta(seconds=1)
        self.times.append(self.clock)
        COUNTS["steps"] += 1
        return self.clock

    # -- writes --------------------------------------------------------------------

    @rule(name=st.sampled_from(NAMES), text=st.sampled_from([None, "x", "y"]),
          vector=st.sampled_from([None, 0, 1, 2, 3, 0]), vf=BOUND, vt=BOUND)
    def add_entity(self, name: str, text: str | None, vector: int | None, vf: datetime | None,
                   vt: datetime | None) -> None:
        now = self._tick()
        if vf is not None and vt is not None and vt <= vf:
            with pytest.raises(graphmem.InvalidInput):
                self.mem.add_entity(name, text=text, valid_from=_aware(vf), valid_to=_aware(vt))
            return
        embedding = None if vector is None else VECTORS[vector]
        current = self.oracle.current(name)
        if current is None:  # new, or an expired entity revived: a fresh row
            new = EVersion(text, vector, vf, vt, now)
        else:
            new = replace(current, text=text if text is not None else current.text,
                          vector=vector if vector is not None else current.vector,
                          vf=vf if vf is not None else current.vf, vt=vt if vt is not None else current.vt, rec=now)
        if new.vf is not None and new.vt is not None and new.vt <= new.vf:
            with pytest.raises(graphmem.InvalidInput):
                self.mem.add_entity(name, text=text, embedding=embedding, valid_from=_aware(vf), valid_to=_aware(vt))
            return
        self.mem.add_entity(name, text=text, embedding=embedding, valid_from=_aware(vf), valid_to=_aware(vt))
        if current is not None and (new.text, new.vector, new.vf, new.vt) == (
                current.text, current.vector, current.vf, current.vt):
            return  # nothing new: no version
        if current is not None:
            current.exp = now
        self.oracle.entities.setdefault(name, []).append(new)

    @rule(name=st.sampled_from(NAMES))
    def expire_entity(self, name: str) -> None:
        now = self._tick()
        current = self.oracle.current(name)
        assert self.mem.expire_entity(name) == (current is not None)
        if current is not None:
            current.exp = now
            for r in self.oracle.relations:
                if r.exp is None and name in (r.s, r.d):
                    r.exp = now

    @rule(name=st.sampled_from(NAMES))
    def delete_entity(self, name: str) -> None:
        self._tick()
        assert self.mem.delete_entity(name) == bool(self.oracle.entities.get(name))
        self.oracle.entities.pop(name, None)
        self.oracle.relations = [r for r in self.oracle.relations if name not in (r.s, r.d)]

    @rule(s=st.sampled_from(NAMES), t=st.sampled_from(TYPES), d=st.sampled_from(NAMES),
          props=st.sampled_from([None, {"k": 1}, {"k": 1}, {"k": 2}, {"j": 1}]), vf=BOUND, vt=BOUND)
    def add_relation(self, s: str, t: str, d: str, props: dict[str, Any] | None, vf: datetime | None,
                     vt: datetime | None) -> None:
        now = self._tick()
        call = lambda: self.mem.add_relation(s, t, d, properties=props, valid_from=_aware(vf),  # noqa: E731
                                             valid_to=_aware(vt))
        if vf is not None and vt is not None and vt <= vf:
            with pytest.raises(graphmem.InvalidInput):
                call()
            return
        if self.oracle.current(s) is None or self.oracle.current(d) is None:
            with pytest.raises(graphmem.NotFound):
                call()
            return
        current = self.oracle.current_relation(s, t, d)
        if current is None:
            call()
            self.oracle.relations.append(RVersion(s, t, d, dict(props or {}), vf, vt, now))
            return
        new = replace(current, props={**current.props, **(props or {})}, vf=vf if vf is not None else current.vf,
                      vt=vt if vt is not None else current.vt, rec=now)
        if new.vf is not None and new.vt is not None and new.vt <= new.vf:
            with pytest.raises(graphmem.InvalidInput):
                call()
            return
        call()
        if (new.props, new.vf, new.vt) != (current.props, current.vf, current.vt):
            current.exp = now
            self.oracle.relations.append(new)

    @precondition(lambda self: any(r.exp is None for r in self.oracle.relations))
    @rule(pick=st.integers(0, 20), keep=st.booleans(), validity=st.booleans())
    def rewrite_relation(self, pick: int, keep: bool, validity: bool) -> None:
        """Write a current relation again with what it holds (some or all of its
        properties, its own validity): nothing new, so no new version."""
        current = [r for r in self.oracle.relations if r.exp is None]
        r = current[pick % len(current)]
        props = dict(r.props) if keep else dict(list(r.props.items())[:1])
        self.add_relation(r.s, r.t, r.d, props or None, r.vf if validity else None, r.vt if validity else None)

    @precondition(lambda self: any(self.oracle.current(n) is None for n in self.oracle.entities))
    @rule(pick=st.integers(0, 20), vector=st.sampled_from([0, 1, 2, 3]))
    def revive(self, pick: int, vector: int) -> None:
        """Write an expired entity's name again, with a vector."""
        expired = sorted(n for n in self.oracle.entities if self.oracle.current(n) is None)
        self.add_entity(expired[pick % len(expired)], None, vector, None, None)

    @rule(s=st.sampled_from(NAMES), t=st.sampled_from(TYPES), d=st.sampled_from(NAMES), hard=st.booleans())
    def end_relation(self, s: str, t: str, d: str, hard: bool) -> None:
        now = self._tick()
        current = self.oracle.current_relation(s, t, d)
        ended = (self.mem.delete_relation if hard else self.mem.expire_relation)(s, t, d)
        assert ended == (current is not None)
        if current is None:
            return
        if hard:  # every version, history included
            self.oracle.relations = [r for r in self.oracle.relations if (r.s, r.t, r.d) != (s, t, d)]
        else:
            current.exp = now

    @rule(back=st.integers(0, 12))
    def purge(self, back: int) -> None:
        self._tick()
        before = self.times[max(0, len(self.times) - 1 - back)]
        oracle = self.oracle
        rows = versions = 0
        for name in list(oracle.entities):
            kept = [v for v in oracle.entities[name] if v.exp is None or v.exp >= before]
            gone = len(oracle.entities[name]) - len(kept)
            if not kept:
                rows, versions = rows + 1, versions + gone - 1
                del oracle.entities[name]
            else:
                versions += gone
                oracle.entities[name] = kept
        relations = sum(1 for r in oracle.relations if r.exp is not None and r.exp < before)
        oracle.relations = [r for r in oracle.relations if r.exp is None or r.exp >= before]
        assert self.mem.purge(before=_aware(before)) == {"relations": relations, "versions": versions,
                                                         "entities": rows}

    # -- reads ---------------------------------------------------------------------

    # -- the vector index's queue -----------------------------------------------------

    @precondition(lambda self: self.pause is None and self.mem._vectors.peek() is not None)
    @rule()
    def pause_index(self) -> None:
        """Hold the worker: the writes that follow stay queued (stale) until a drain or resume."""
        self.pause = ExitStack()
        self.pause.enter_context(self.mem._vectors.peek().paused())

    @precondition(lambda self: self.pause is not None)
    @rule()
    def resume_index(self) -> None:
        self.pause.close()
        self.pause = None

    @precondition(lambda self: self.mem._vectors.peek() is not None)
    @rule()
    def drain_index(self) -> None:
        index = self.mem._vectors.peek()
        index.drain()
        assert not index.stale

    @rule(as_of=st.sampled_from((None, *AS_OF)), known=st.one_of(st.none(), st.integers(0, 40)),
          between=st.booleans(), query=st.integers(0, len(QUERIES) - 1))
    def read(self, as_of: datetime | None, known: int | None, between: bool, query: int) -> None:
        """Every read API at one (as_of, known_at) point, for every name."""
        known_at = None
        if known is not None:
            known_at = self.times[max(0, len(self.times) - 1 - known)] - (timedelta(milliseconds=500) if between
                                                                          else timedelta(0))
        self._check_point(as_of, known_at, query)

    def _check_point(self, as_of: datetime | None, known_at: datetime | None, query: int) -> None:
        # Reads count accesses and the next write flushes them, so these
        # histories also exercise the access flush of issue 17.2.
        self._check_reads(as_of, known_at, query)

    def _check_reads(self, as_of: datetime | None, known_at: datetime | None, query: int) -> None:
        at = as_of if as_of is not None else self.clock
        kw = {"as_of": _aware(as_of), "known_at": _aware(known_at)}
        COUNTS["query_points"] += 1
        for name in NAMES:
            expected = self.oracle.visible(name, at, known_at)
            got = self.mem.get_entity(name, **kw)
            assert (got is None) == (expected is None), (name, kw)
            if got is not None:
                assert got.text == expected.text, (name, kw)
            if expected is None:
                with pytest.raises(graphmem.NotFound):
                    self.mem.neighbors(name, **kw)
            else:
                got_n = [(n.name, n.type, n.direction) for n in self.mem.neighbors(name, **kw)]
                assert got_n == self.oracle.neighbours(name, at, known_at), (name, kw)
            COUNTS["checks"] += 2
        # Search: the visible entities that are current and have a vector, scored by it.
        expected_hits = {}
        for name in NAMES:
            current = self.oracle.current(name)
            if self.oracle.visible(name, at, known_at) is not None and current is not None and (
                    current.vector is not None):
                v = VECTORS[current.vector]
                q = QUERIES[query]
                expected_hits[name] = float(v @ q / np.linalg.norm(v) / np.linalg.norm(q))
        if self.mem.vector_dim is None:
            assert not expected_hits
            return
        index = self.mem._vectors.peek()
        if index is not None and index.stale:
            COUNTS["searches_with_queue"] += 1  # HNSW merged with the exact scan of the queue
        hits = self.mem.search(QUERIES[query], k=len(NAMES), **kw)
        assert {h.name for h in hits} == set(expected_hits), kw
        for h in hits:
            assert abs(h.score - expected_hits[h.name]) < 0.02, (h, expected_hits)
        COUNTS["checks"] += 1

    @invariant()
    def reads_now_agree(self) -> None:
        """The reads every caller makes (no as_of, no known_at), after every step."""
        self._check_point(None, None, COUNTS["steps"] % len(QUERIES))

    @invariant()
    def counts_and_history_agree(self) -> None:
        oracle = self.oracle
        assert len(self.mem) == sum(1 for n in oracle.entities if oracle.current(n) is not None)
        current_relations = sum(1 for r in oracle.relations if r.exp is None)
        assert self.mem.stats()["relations"] == current_relations
        # Issue 17.3: rows a delete left behind show up only when the endpoints are not read.
        raw = "MATCH ()-[r:Relation]->() RETURN count(*) AS n"
        assert self.mem.cypher(raw, read_only=True)[0]["n"] == len(oracle.relations)  # a write would drop the index
        for name in NAMES:
            if name not in oracle.entities:
                with pytest.raises(graphmem.NotFound):
                    self.mem.history(name)
                continue
            history = self.mem.history(name)
            assert len(history.entity) == len(oracle.entities[name]), name
            assert len(history.relations) == sum(1 for r in oracle.relations if name in (r.s, r.d)), name
        COUNTS["checks"] += 2 + len(NAMES)


def test_temporal_semantics_match_the_oracle(engine):
    run_state_machine_as_test(TemporalMachine, settings=settings(
        max_examples=300 if FULL else 25, stateful_step_count=60 if FULL else 30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    print(f"\ntemporal model ({engine}): {COUNTS}")
