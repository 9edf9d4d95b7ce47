"""Concurrency: many threads on one Memory with invariants checked on every
read, and the cross-process rules (one writer or many readers; a killed
writer releases the store)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

import graphmem

from ..conftest import ENGINE
from .conftest import FULL

ROOT = Path(__file__).resolve().parents[2]
DURATION = 60.0 if FULL else 6.0
BASE = 50


@pytest.mark.engine
def test_eight_readers_two_writers(tmp_path: Path) -> None:
    mem = graphmem.open(tmp_path / "s", engine=ENGINE, embedder=graphmem.HashEmbedder(32))
    mem.add_entities([{"name": f"b{j}", "text": f"b{j} rev0", "properties": {"rev": 0}} for j in range(BASE)])
    mem.add_entity("g0", type="Grow", text="g0 gen0")
    errors: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()
    grown = [0]  # g0..g{grown} exist with the chain g{i} -NEXT-> g{i-1}, acknowledged
    deleted: list[str] = []  # churned entities whose delete_entity() returned
    ops: Counter = Counter()

    def count(kind: str) -> None:
        with lock:
            ops[kind] += 1

    def grower() -> None:
        i, rev = 0, 0
        while not stop.is_set():
            i += 1
            mem.add_entity(f"g{i}", type="Grow", text=f"g{i} gen{i}", properties={"n": i})
            mem.add_relation(f"g{i}", "NEXT", f"g{i - 1}")
            with lock:
                grown[0] = i
            rev += 1
            j = rev % BASE
            # text and property change in one write: a reader sees both or neither
            mem.add_entity(f"b{j}", text=f"b{j} rev{rev}", properties={"rev": rev})
            count("write")

    def churner() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            name = f"t{k}"
            mem.add_entities([{"name": name, "type": "Temp", "text": f"{name} churn"}])
            mem.add_relations([(name, "NEAR", "b0"), ("g0", "NEAR", name)])
            if k % 5 == 0:
                mem.delete_relation(name, "NEAR", "b0")
            mem.delete_entity(name)
            with lock:
                deleted.append(name)
            count("write")

    def reader(seed: int) -> None:
        step = seed
        last_grow_count = 0
        while not stop.is_set():
            step += 1
            with lock:
                top, gone = grown[0], set(deleted)
            kind = ("get", "neighbors", "path", "search")[step % 4]
            if kind == "get":
                e = mem.get_entity(f"b{step % BASE}")
                assert e is not None and e.text == f"{e.name} rev{e.properties['rev']}", e  # never half-written
                assert mem.get_entity(f"g{top}") is not None  # acknowledged means visible
            elif kind == "neighbors":
                names = {n.name for n in mem.neighbors("g0")}
                assert not names & gone, names & gone  # no ghost of a deleted entity
                if top >= 1:
                    assert "g1" in names
            elif kind == "path":
                target = step % (top + 1)
                path = mem.shortest_path("g0", f"g{target}", types=["NEXT"])
                assert path is not None and len(path) == target, (target, path)
                via = mem.shortest_path("g0", "b0")  # only through a churned entity, if one is alive
                assert via is None or (len(via) == 2 and not set(via.nodes) & gone), via
            else:
                hits = mem.search(f"t{step % 50} churn", k=10)
                assert not {h.name for h in hits} & gone
                n = mem.cypher("MATCH (e:Entity) WHERE e.type = $t RETURN count(*) AS n", {"t": "Grow"})[0]["n"]
                assert n >= max(last_grow_count, top + 1)  # grows monotonically, never behind an ack
                last_grow_count = n
            count(kind)

    def guarded(fn, *args) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # collected and failed on below, with its traceback
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(grower,)), threading.Thread(target=guarded, args=(churner,))]
    threads += [threading.Thread(target=guarded, args=(reader, s)) for s in range(8)]
    try:
        for t in threads:
            t.start()
        stop.wait(DURATION)
        stop.set()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        print(f"stress {DURATION:.0f} s: {dict(ops)}")
        assert all(ops[k] > 0 for k in ("get", "neighbors", "path", "search", "write")), ops
        # After the dust settles the store and every derived view agree.
        assert {e.name for e in mem.iter_entities()} == {f"b{j}" for j in range(BASE)} | {
            f"g{i}" for i in range(grown[0] + 1)
        }
        assert len(mem.shortest_path("g0", f"g{grown[0]}")) == grown[0]
        assert mem.search("churn", k=50, types=["Temp"]) == []
    finally:
        stop.set()
        mem.close()


# -- processes ---------------------------------------------------------------------------------

_HOLDER = """
import sys, graphmem
mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None, read_only=sys.argv[3] == "ro")
print("holding", len(mem), flush=True)
sys.stdin.readline()
mem.close()
"""


def _hold(path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), ENGINE, mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith("holding"), proc.stderr.read()
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    proc.communicate("\n", timeout=120)
    assert proc.returncode == 0


def test_several_read_only_processes_share_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"n{i}"} for i in range(10)])
    readers = [_hold(path, "ro") for _ in range(3)]
    try:
        with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as ro:  # a fourth, here
            assert len(ro) == 10
        with pytest.raises(graphmem.StoreLocked, match="another process"):
            graphmem.open(path, engine=ENGINE, embedder=None)
    finally:
        for proc in readers:
            _release(proc)
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entity("after")


def test_a_writer_locks_out_every_other_open(tmp_path: Path) -> None:
    path = tmp_path / "s"
    graphmem.open(path, engine=ENGINE, embedder=None).close()
    writer = _hold(path, "rw")
    try:
        for read_only in (False, True, False):  # fails at once each time, and leaves no state behind
            with pytest.raises(graphmem.StoreLocked) as info:
                graphmem.open(path, engine=ENGINE, embedder=None, read_only=read_only)
            assert str(path) in str(info.value)
    finally:
        _release(writer)


_KILLED = """
import sys, graphmem
mem = graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=graphmem.HashEmbedder(16))
i = 0
while True:
    mem.add_entity(f"e{i}", text=f"entity number {i}")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("round_", range(3))
def test_a_killed_writer_releases_the_store_which_recovers(tmp_path: Path, round_: int) -> None:
    path = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED), str(path), ENGINE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 20 + 40 * round_:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    # No wait and no retry: the lock died with the process.
    with graphmem.open(path, engine=ENGINE, embedder=graphmem.HashEmbedder(16)) as mem:
        names = {e.name for e in mem.iter_entities()}
        assert {f"e{i}" for i in range(acked + 1)} <= names <= {f"e{i}" for i in range(acked + 2)}
        for i in (0, acked):
            hits = mem.search(mem.get_entity(f"e{i}").embedding, k=5)
            assert f"e{i}" in {h.name for h in hits if h.score >= hits[0].score - 1e-4}, hits
        mem.add_entity("after the kill")
    with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as ro:
        assert ro.get_entity("after the kill") is not None
