"""An entity's history a page at a time (Memory.relation_history, Memory.entity_versions; issues 20
and 22): paging through its relation versions with the cursor gives exactly what Memory.history
holds, newest first, whatever the page size, through ties of write time (a batch), retired
versions and a self-loop; the versions are history's newest ones; both are bounded at a hub."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphmem
from graphmem import HistoryCursor
from graphmem.errors import InvalidInput, NotFound
from graphmem.memory.history import relation_page
from graphmem.records import entity_key

pytestmark = pytest.mark.engine

NAMES = ("Hub", "Ada", "Bob", "Lone", "n03", "Gone")


@pytest.fixture(scope="module")
def mem(tmp_path_factory):
    from tests.conftest import ENGINE

    path: Path = tmp_path_factory.mktemp("history") / "store"
    with graphmem.open(path, engine=ENGINE, embedder=None) as m:
        m.add_entities([{"name": n, "type": "Person"} for n in ("Hub", "Ada", "Bob", "Lone", "Gone")]
                       + [{"name": f"n{i:02d}", "type": "Thing"} for i in range(12)])  # fmt: skip
        m.add_relations([("Hub", "HAS", f"n{i:02d}") for i in range(12)])  # one write time for twelve: ties
        m.add_relations([(f"n{i:02d}", "POINTS_AT", "Hub") for i in range(0, 12, 2)])  # ties on the in side
        m.add_relation("Hub", "KNOWS", "Ada", properties={"since": 1})
        m.add_relation("Hub", "SELF", "Hub")  # a self-loop: one version, not one per side
        m.expire_relation("Hub", "KNOWS", "Ada")  # retired: still history
        m.add_relation("Hub", "KNOWS", "Ada", properties={"since": 2})
        m.add_relation("Bob", "KNOWS", "Hub")
        m.add_relation("Gone", "KNOWS", "Ada")
        for text in ("one", "two", "three"):
            m.add_entity("Hub", type="Person", text=text)  # earlier versions
        m.expire_entity("Gone")  # retired: its versions and relations are history
    with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as m:
        yield m


def _version(r) -> tuple:
    return (r.source, r.type, r.target, r.created_at, r.expired_at, tuple(sorted(r.properties.items())))


def _pages(mem, name: str, limit: int) -> list[list]:
    before, pages = None, []
    while True:
        page = mem.relation_history(name, limit=limit, before=before)
        assert page.name == name
        pages.append(list(page.relations))
        if page.older is None:
            return pages
        before = page.older


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(NAMES), limit=st.integers(1, 25))
def test_paging_gives_every_relation_version_once_newest_first(mem, name, limit):
    pages = _pages(mem, name, limit)
    everything = [r for page in pages for r in page]
    assert all(len(page) <= limit for page in pages) and all(pages[:-1])  # only the last may be short (or empty)
    assert sorted(map(_version, everything)) == sorted(map(_version, mem.history(name).relations))
    times = [r.created_at for r in everything]
    assert times == sorted(times, reverse=True)


def test_the_hub_holds_ties_retired_versions_and_its_self_loop(mem):
    everything = [r for page in _pages(mem, "Hub", 5) for r in page]
    assert len(everything) == 12 + 6 + 2 + 1 + 1  # HAS, POINTS_AT, KNOWS twice, SELF once, Bob's KNOWS
    knows = sorted((r.properties["since"], r.expired_at is None) for r in everything if r.type == "KNOWS"
                   and r.target == "Ada")  # fmt: skip
    assert knows == [(1, False), (2, True)]
    assert (everything[0].source, everything[0].type, everything[0].target) == ("Bob", "KNOWS", "Hub")  # newest


def test_only_the_rows_shown_have_their_other_end_read(mem):
    """The bound at a hub: whatever the ties, the statements that read the other ends get the
    ids of the rows kept only (the newest ones read the relation's own columns)."""
    asked: list[tuple[str, dict]] = []
    store = mem._store

    class Recording:
        def execute(self, name, params=None):
            asked.append((name, params))
            return store.execute(name, params)

    page = relation_page(Recording(), entity_key(mem.namespace_name, "Hub"), "Hub", limit=3)
    named = [len(p["ids"]) for name, p in asked if name.endswith("_rows")]
    assert len(page.relations) == 3 and sum(named) == 3 and page.older is not None
    assert {name for name, _ in asked} <= {"relation_history_out_newest", "relation_history_in_newest",
                                           "relation_history_out_rows", "relation_history_in_rows"}


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(("Hub", "Ada", "Gone")), limit=st.integers(1, 6))
def test_versions_are_the_newest_of_history_with_the_stored_row_last(mem, name, limit):
    everything = mem.history(name).entity
    found = mem.entity_versions(name, limit=limit)
    assert found.name == name and found.versions == everything[-limit:]
    assert found.truncated == (len(everything) > limit)


def test_versions_of_an_edited_and_a_retired_entity(mem):
    assert [v.text for v in mem.entity_versions("Hub").versions] == [None, "one", "two", "three"]
    assert [v.expired_at is None for v in mem.entity_versions("Hub").versions] == [False, False, False, True]
    gone = mem.entity_versions("Gone").versions
    assert len(gone) == 1 and gone[-1].expired_at is not None  # retired: the stored row, expired
    assert [(r.source, r.target) for r in mem.relation_history("Gone").relations] == [("Gone", "Ada")]


def test_an_entity_without_relations_has_one_empty_page(mem):
    assert _pages(mem, "Lone", 3) == [[]]


def test_a_name_never_written_is_not_found_and_bad_arguments_are_refused(mem):
    with pytest.raises(NotFound):
        mem.relation_history("Nobody")
    with pytest.raises(NotFound):
        mem.entity_versions("Nobody")
    for bad in ({"limit": 0}, {"limit": True}, {"before": "yesterday"}, {"before": 5}):
        with pytest.raises(InvalidInput):
            mem.relation_history("Hub", **bad)
    with pytest.raises(InvalidInput):
        mem.entity_versions("Hub", limit=-1)


def test_a_cursor_is_two_integers_or_refused():
    assert HistoryCursor.parse("0:0").relation == 0
    assert str(HistoryCursor.parse("1700000000000000:42")) == "1700000000000000:42"
    for bad in ("", ":", "1:", ":1", "1:x", "-1:2", "1:2:3", "१:2", "9" * 19 + ":1", "9" * 18 + ":1"):
        with pytest.raises(InvalidInput):
            HistoryCursor.parse(bad)


@settings(max_examples=200, deadline=None)
@given(written=st.datetimes(min_value=datetime(1970, 1, 1)), relation=st.integers(0, 10**18 - 1))
def test_a_cursor_survives_its_text(written, relation):
    cursor = HistoryCursor(written, relation)
    assert HistoryCursor.parse(str(cursor)) == cursor


def test_the_public_methods_read_bounded_statements_only(mem):
    """What Memory.relation_history and Memory.entity_versions ask the store, through its tracer:
    the rows named are the page's only, and the versions statement returns at most limit + 1."""
    asked: list[tuple[str, dict]] = []
    mem.tracer = lambda name, params: asked.append((name, dict(params or {})))
    try:
        page = mem.relation_history("Hub", limit=4)
        versions = mem.entity_versions("Hub", limit=2)
    finally:
        mem.tracer = None
    named = sum(len(p["ids"]) for name, p in asked if name.endswith("_rows"))
    assert len(page.relations) == 4 and named == 4
    assert [p["limit"] for name, p in asked if name.startswith("entity_versions")] == [2]  # 1 earlier + 1 to see more
    assert len(versions.versions) == 2 and versions.truncated
    assert not {name for name, _ in asked} & {"entity_versions", "relation_history"}  # the unbounded ones
