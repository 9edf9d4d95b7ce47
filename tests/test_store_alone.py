"""A write transaction of one statement runs it alone, in the engine's own transaction.

:meth:`graphmem.store.store.Store.transaction` holds back the first statement
of a write transaction when it answers no rows, and runs BEGIN (then it) only
when a second statement comes; a block that ran no other runs it alone at its
end (so an error of that statement is raised at the end of the block, and
not at all if the block raises its own first). Random programs of transactions (writes, reads of what was written,
statements that fail in the engine, blocks that raise) run on two stores, one
as shipped and one that never holds a statement back (every transaction
BEGINs at its first statement, as before): every read inside a transaction,
every outcome, every callback, and the stores' contents (open, and reopened
from disk) must be the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmem.errors import GraphMemError, QueryError
from graphmem.store import store as store_module
from graphmem.store.store import Store

from .conftest import ENGINE

pytestmark = pytest.mark.engine


def _entity(key: str) -> dict[str, Any]:
    return {
        "key": key, "id": abs(hash(key)) % (1 << 40), "namespace": "t", "name": key, "type": "T", "text": None,
        "observations": [], "properties": "{}", "embedding": None, "scale": None, "created_at": None,
        "updated_at": None, "valid_from": None, "valid_to": None, "importance": None,
    }  # fmt: skip


class _NeverAlone:
    """Runs a store as it ran before statements were held back (for the differential test)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        self.saved = store_module.runs_alone
        store_module.runs_alone = lambda text: False
        return self.store

    def __exit__(self, *exc: object) -> None:
        store_module.runs_alone = self.saved


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("alone")
    yield root / "held", root / "begun"


def _traced(path: Path) -> tuple[Store, list[str]]:
    names: list[str] = []
    store = Store(path, engine=ENGINE, tracer=lambda name, params: names.append(name))
    return store, names


def test_a_transaction_of_one_statement_runs_without_begin_and_stays(tmp_path: Path) -> None:
    store, names = _traced(tmp_path / "s")
    with store:
        names.clear()  # the open's own statements
        opened = store.commits
        with store.transaction():
            store.execute("meta_set", {"key": "one", "value": "1"})
        assert names == ["meta_set", "<commit>"]  # no BEGIN: the statement ran alone at the commit
        names.clear()
        with store.transaction():
            store.execute("meta_set", {"key": "two", "value": "2"})
            seen = dict(store.execute("meta_all"))  # a read runs BEGIN, then the held write, then itself
            store.execute("meta_set", {"key": "two", "value": "3"})
        assert seen["two"] == "2"
        assert names == ["meta_set", "<begin>", "meta_all", "meta_set", "<commit>"]
        names.clear()
        with store.transaction():
            pass
        assert names == []  # nothing ran, nothing to commit
        assert store.commits == opened + 2
    with Store(tmp_path / "s", engine=ENGINE) as reopened:
        assert {k: v for k, v in reopened.execute("meta_all") if k in ("one", "two")} == {"one": "1", "two": "3"}


def test_a_held_statement_that_fails_alone_raises_at_the_end_and_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s", engine=ENGINE) as store:
        with store.transaction():
            store.execute("entity_create", _entity("t\x1fa"))
        events: list[str] = []
        with pytest.raises(QueryError):
            with store.transaction() as tx:
                tx.after_commit(lambda: events.append("commit"))
                tx.after_rollback(lambda: events.append("undo"))
                store.execute("entity_create", _entity("t\x1fa"))  # the same primary key: the engine refuses
                events.append("block ended")
        assert events == ["block ended", "undo"]
        with store.transaction():  # the handle writes on
            store.execute("entity_create", _entity("t\x1fb"))
        assert sorted(r[0] for r in store.cypher("MATCH (e:Entity) RETURN e.key").rows) == ["t\x1fa", "t\x1fb"]


def test_a_block_that_raises_drops_its_held_statement_unrun(tmp_path: Path) -> None:
    store, names = _traced(tmp_path / "s")
    with store:
        names.clear()
        with pytest.raises(KeyError):
            with store.transaction():
                store.execute("meta_set", {"key": "dropped", "value": "x"})
                raise KeyError("the caller's own error")
        assert "dropped" not in dict(store.execute("meta_all"))
        assert "<begin>" not in names and "<commit>" not in names


# -- differential: held back or not, the same answers --------------------------------------

_OP = st.one_of(
    st.tuples(st.just("set"), st.sampled_from("abc"), st.sampled_from(["1", "2", "3"])),
    st.tuples(st.just("read")),
    st.tuples(st.just("create"), st.sampled_from("xy")),  # a key made twice fails in the engine
)
_TRANSACTION = st.tuples(st.lists(_OP, max_size=3), st.booleans())  # (statements, the block raises at its end)
_counter = itertools.count()


def _play(store: Store, program: list[tuple[list[tuple[str, ...]], bool]], tag: str) -> list[Any]:
    """Run ``program``; what a caller could observe: reads, outcomes, callbacks."""
    seen: list[Any] = []
    for number, (statements, raises) in enumerate(program):
        try:
            with store.transaction() as tx:
                tx.after_commit(lambda number=number: seen.append(("committed", number)))
                tx.after_rollback(lambda number=number: seen.append(("rolled back", number)))
                for op in statements:
                    if op[0] == "set":
                        store.execute("meta_set", {"key": f"{tag}{op[1]}", "value": op[2]})
                    elif op[0] == "read":
                        seen.append(sorted((k, v) for k, v in store.execute("meta_all") if k.startswith(tag)))
                    else:
                        store.execute("entity_create", _entity(f"{tag}\x1f{op[1]}"))
                if raises:
                    raise LookupError("the block's own error")
            seen.append(("ok", number))
        except (GraphMemError, LookupError) as exc:
            # A block that raises drops its held statement unrun, so the block's
            # own error is the one raised (else the engine's, had it run first):
            # either way nothing of the transaction is written.
            seen.append(("failed" if raises else type(exc).__name__, number))
    return seen


def _contents(store: Store, tag: str) -> Any:
    meta = sorted((k, v) for k, v in store.execute("meta_all") if k.startswith(tag))
    keys = sorted(r[0] for r in store.cypher("MATCH (e:Entity) RETURN e.key").rows if r[0].startswith(tag))
    return meta, keys


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=st.lists(_TRANSACTION, min_size=1, max_size=5))
def test_holding_the_first_statement_back_changes_nothing_a_caller_sees(stores: tuple[Path, Path], program: Any) -> None:
    held_path, begun_path = stores
    tag = f"p{next(_counter)}-"
    with Store(held_path, engine=ENGINE) as held:
        held_seen = _play(held, program, tag)
        held_contents = _contents(held, tag)
    with Store(begun_path, engine=ENGINE) as plain, _NeverAlone(plain):
        plain_seen = _play(plain, program, tag)
        plain_contents = _contents(plain, tag)
    assert held_seen == plain_seen
    assert held_contents == plain_contents
    with Store(held_path, engine=ENGINE, read_only=True) as reopened:
        assert _contents(reopened, tag) == plain_contents  # what was acknowledged is on disk
