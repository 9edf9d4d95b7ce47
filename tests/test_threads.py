"""Many threads on one Memory: writes queue behind the writer lock, reads never
see a torn or stale state."""

from __future__ import annotations

import threading

import graphmem


def test_concurrent_readers_and_writers(disk_mem):
    mem = disk_mem
    mem.add_entities([{"name": f"seed{i}", "text": "v0"} for i in range(50)])
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            for i in range(60):
                mem.add_entity(f"w{w}-{i}", type="W", text=f"v{i}")
                mem.add_entity(f"seed{i % 50}", text=f"w{w}-{i}")
                if i and (i - 1) % 7 != 0:  # w-(i-1) was deleted when (i-1) % 7 == 0
                    mem.add_relation(f"w{w}-{i - 1}", "NEXT", f"w{w}-{i}")
                if i % 7 == 0:
                    mem.delete_entity(f"w{w}-{i}")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                for i in range(0, 50, 7):
                    e = mem.get_entity(f"seed{i}")
                    assert e is not None and e.name == f"seed{i}"
                mem.neighbors("seed0")
                mem.cypher("MATCH (e:Entity) RETURN count(*) AS n")
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors
    # Each writer made 60 and deleted those with i % 7 == 0 (9 of them).
    assert len(mem) == 50 + 2 * (60 - 9)
    for i in range(50):  # the cache agrees with the store after the dust settles
        cached = mem.get_entity(f"seed{i}").text
        stored = mem.cypher("MATCH (e:Entity) WHERE e.name = $n RETURN e.text AS t", {"n": f"seed{i}"})[0]["t"]
        assert cached == stored
    assert mem.stats()["relations"] == sum(
        1 for w in range(2) for i in range(1, 60) if i % 7 != 0 and (i - 1) % 7 != 0
    )
