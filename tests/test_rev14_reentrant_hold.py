"""A statement run by a write hook while the transaction's first statement is
being held back must not cost that statement.

:meth:`graphmem.store.store.Store.transaction` holds back the first statement
of a write transaction (see there). The store's write hooks
(``Store.write_hooks``, ``delete_hooks``, ``relation_hooks``) and its tracer
run inside that statement's call, after it was decided to hold it and before
it is recorded as held: a hook that reads the store there BEGINs the
transaction, and a hook that writes is held itself. Either way the outer
statement must still be written, and every statement must commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graphmem.store.store import Store

from .conftest import ENGINE

pytestmark = pytest.mark.engine


def _meta(store: Store) -> dict[str, str]:
    return {str(k): str(v) for k, v in store.execute("meta_all")}


@pytest.mark.parametrize("hook_writes", [False, True])
def test_a_hook_that_runs_a_statement_does_not_lose_the_held_one(tmp_path: Path, hook_writes: bool) -> None:
    store = Store(tmp_path / "s", engine=ENGINE)
    try:
        def hook() -> None:
            if hook_writes:
                store.execute("meta_set", {"key": "from_hook", "value": "1"})
            else:
                store.execute("meta_all")  # a read: it BEGINs the transaction

        store.write_hooks.append(hook)
        with store.transaction():
            store.execute("meta_set", {"key": "outer", "value": "1"})
        store.write_hooks.remove(hook)
        meta = _meta(store)
        assert meta.get("outer") == "1"
        assert meta.get("from_hook") == ("1" if hook_writes else None)
    finally:
        store.close()
