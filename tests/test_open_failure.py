"""A store whose open fails lets go of its files at once.

Store.__init__ opens the engine's database (which takes the engine's lock on
the file) and then migrates it. When a migration fails (schema 004's back-fill
meeting a full disk is the case seen: StorageFull, on kuzu and LadybugDB), the
engine's handle must be closed before the error reaches the caller. Left to
the garbage collector it stays open for as long as anything holds the error
(its traceback holds the failed ``__init__``'s frame, hence the handle; the
full-disk error is also kept by the half-made Store itself, a cycle only the
cyclic collector breaks): meanwhile every open of the store, in this process
or any other, was refused with StoreLocked ("another process has this store
open"), even after the disk was freed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import graphmem
from graphmem.store import schema
from graphmem.store.store import Store

pytestmark = pytest.mark.engine


def _broken() -> list[schema.Migration]:
    shipped = schema.shipped_migrations()
    bad = schema.Migration(len(shipped) + 1, f"{len(shipped) + 1:03d}_test.cypher",
                           schema.split_statements("CREATE NODE TABLE Bad(oops NOPE);"))  # fmt: skip
    return [*shipped, bad]


_OPEN_ELSEWHERE = """
import sys
from graphmem.store.store import Store
with Store(sys.argv[1], engine=sys.argv[2]) as store:
    print("opened at", store.schema_version)
"""


def test_a_failed_migration_leaves_the_store_openable_while_its_error_is_kept(tmp_path, engine):
    path = tmp_path / "s"
    Store(path, engine=engine).close()
    with pytest.raises(graphmem.QueryError) as failed:
        Store(path, engine=engine, migrations=_broken())
    kept = failed.value  # as a caller that logs or re-raises it later holds it
    # Another process (another MCP server, the CLI, the viewer) opens it.
    done = subprocess.run([sys.executable, "-c", _OPEN_ELSEWHERE, str(path), engine], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"opened at {len(schema.shipped_migrations())}" in done.stdout
    with graphmem.open(path, engine=engine, embedder=None) as mem:  # and this one again
        assert mem.add_entity("Ada").name == "Ada"
    assert kept.__traceback__ is not None
