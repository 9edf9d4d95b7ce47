"""Schema 004's back-fill survives a kill -9 anywhere in it (issue 22).

A store written at schema version 3 holds versions without ``VersionOf``
links; its first read-write open creates the table, links every version
and records version 4, in one transaction. A process killed inside that
transaction (after the table, after the back-fill, before the commit) or
right after it (committed, not yet folded into the data file) must leave a
store the next open takes to version 4 with every version linked, as
if the first open had not been interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import graphmem
from graphmem.records import entity_key
from graphmem.store import schema
from graphmem.store.store import Store
from tests.test_version_links import NAMES, SCAN_VERSIONS, _as_version_3, _scan, check_against_scan, check_links

pytestmark = pytest.mark.engine

# The child opens the version 3 store read-write and kills itself at ``point``:
# table: after CREATE REL TABLE VersionOf; backfill: after the linking statement,
# both inside the migration's transaction; committed: once the open has returned.
_KILLED_MIGRATION = """
import os, sys
from graphmem.store.store import Store

path, engine, point = sys.argv[1:4]
real_run = Store._run

def run(self, conn, name, text, params, **kw):
    rows = real_run(self, conn, name, text, params, **kw)
    if name.startswith("004_"):
        if (point == "table" and "CREATE REL TABLE" in text) or (point == "backfill" and text.startswith("MATCH")):
            print("killed in the migration", flush=True)
            os.kill(os.getpid(), 9)
    return rows

Store._run = run
store = Store(path, engine=engine)
print("migrated to", store.schema_version, flush=True)
os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("point", ["table", "backfill", "committed"])
def test_a_kill_during_the_version_link_migration_is_finished_by_the_next_open(tmp_path, engine, point):
    path = tmp_path / "v3"
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.add_entities([{"name": n, "type": "T", "text": "one"} for n in NAMES])
        mem.add_entities([{"name": n, "type": "T", "text": "two"} for n in NAMES])
        for name in NAMES[:4]:
            mem.add_entity(name, text="three")
        mem.expire_entity("n05")
        expected = {n: _scan(mem._store, SCAN_VERSIONS, {"key": entity_key("default", n)}) for n in NAMES}
    _as_version_3(path, engine)
    with Store(path, engine=engine, migrations=schema.shipped_migrations()[:3]) as store:
        assert store.schema_version == 3

    done = subprocess.run([sys.executable, "-c", _KILLED_MIGRATION, str(path), engine, point],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    assert done.returncode == -9, done.stderr
    assert ("migrated to 4" if point == "committed" else "killed in the migration") in done.stdout, done.stderr

    with graphmem.open(path, engine=engine, embedder=None) as mem:
        assert mem.stats()["schema_version"] == len(schema.shipped_migrations())
        check_links(mem, unlinked=1)  # the orphan _as_version_3 adds has no entity to link to
        assert check_against_scan(mem) == sum(map(len, expected.values())) == len(NAMES) + 4
        for name, rows in expected.items():
            assert mem._store.execute("entity_versions", {"key": entity_key("default", name)}) == rows
        mem.add_entity("n00", text="after")  # writes link after the recovered migration
        assert [v.text for v in mem.entity_versions("n00").versions] == ["one", "two", "three", "after"]
