"""Where the viewer's history calls spend their time, per request (issue 22; not part of ``benchmarks.run``).

Two probes, CPU milliseconds of this process (the viewer answers in it; on a
shared machine wall time follows the scheduler more than the work):

``parts STORE``
    The entity panel (``entity``) and its older relations (``relations``) of
    one entity, answered as ``graphmem view`` answers them by default: the
    store opened read-only for the request (taking over what the last handle
    loaded), read, closed. Each request is split into the read-only open,
    :meth:`~graphmem.Memory.get_entity`, :meth:`~graphmem.Memory.entity_versions`,
    :meth:`~graphmem.Memory.relation_history` and the close; medians over
    ``--reps`` requests after two warm-up ones.

``versions``
    What :meth:`~graphmem.Memory.entity_versions` costs when the store has
    history: ``--size`` entities each rewritten ``--updates`` times (so
    ``size * updates`` earlier versions), then the versions of a few entities
    on fresh read-only opens. Before schema 004 this scanned the whole
    versions table (its primary key is the version's); since, the entity's
    own versions are reached through its ``VersionOf`` links
    (:mod:`benchmarks.bench_versions` times both reads on a kept handle).

Run::

    python -m benchmarks.view_history_probe parts /work/stores/view1m-kuzu --entity ent-00752525
    python -m benchmarks.view_history_probe versions --size 100000 --engine ladybug
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import graphmem
from graphmem.memory.facade import Memory
from graphmem.store.engine import default_engine
from graphmem.view import source as view_source
from graphmem.view.api import answer
from graphmem.view.source import PerRequest

_TIMED = ("get_entity", "entity_versions", "relation_history", "close")


def _cpu_ms(fn: Any) -> tuple[Any, float]:
    start = time.process_time()
    out = fn()
    return out, (time.process_time() - start) * 1000


def parts(store: Path, *, engine: str, entity: str, reps: int) -> dict[str, dict[str, float]]:
    """Median CPU ms of each part of the ``entity`` and ``relations`` requests for ``entity``."""
    spent: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out, ms = _cpu_ms(lambda: inner(*args, **kwargs))
            spent[label] = spent.get(label, 0.0) + ms
            return out

        setattr(owner, name, wrapper)

    timed(view_source.graphmem, "open", "open")
    for name in _TIMED:
        timed(Memory, name, name)
    source = PerRequest(store, engine=engine, embedder=None, hold=0)  # per request: the parts include the open
    answer(source, "overview", {})  # loads the graph state once, as the page's first call does
    older = answer(source, "entity", {"name": [entity]})["history"]["older"]
    requests = {"entity": {"name": [entity]}, "relations": {"name": [entity], **({"before": [older]} if older else {})}}
    out: dict[str, dict[str, float]] = {}
    for endpoint, query in requests.items():
        rows: list[dict[str, float]] = []
        for i in range(reps + 2):
            spent.clear()
            _, total = _cpu_ms(lambda: answer(source, endpoint, query))
            if i >= 2:
                rows.append({**spent, "total": total})
        out[endpoint] = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in ("open", *_TIMED, "total")}
        out[endpoint]["rest"] = out[endpoint]["total"] - sum(v for k, v in out[endpoint].items() if k != "total")
    source.close()
    return out


def versions(*, engine: str, size: int, updates: int, reps: int) -> dict[str, float]:
    """Median CPU ms of ``entity_versions`` on fresh read-only opens of a store with ``size * updates`` versions."""
    with tempfile.TemporaryDirectory(prefix="history-probe-") as folder:
        path = Path(folder) / "store"
        start = time.perf_counter()
        with graphmem.open(path, engine=engine, embedder=None) as mem:
            for round_ in range(updates + 1):
                for first in range(0, size, 50_000):
                    mem.add_entities([{"name": f"e{i:08d}", "type": "Thing", "text": f"version {round_}"}
                                      for i in range(first, min(size, first + 50_000))])  # fmt: skip
        print(f"built {size:,} entities, {size * updates:,} earlier versions in {time.perf_counter() - start:.0f} s")
        names = [f"e{i:08d}" for i in (0, size // 2, size - 1)]
        cpu: list[float] = []
        for _ in range(reps):
            with graphmem.open(path, engine=engine, embedder=None, read_only=True) as mem:
                for name in names:
                    found, ms = _cpu_ms(lambda: mem.entity_versions(name))
                    if len(found.versions) != updates + 1:
                        raise RuntimeError(f"{name}: {len(found.versions)} versions, expected {updates + 1}")
                    cpu.append(ms)
        return {"versions": size * updates, "entity_versions_cpu_ms": statistics.median(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default=default_engine(), choices=("kuzu", "ladybug"))
    parser.add_argument("--reps", type=int, default=8)
    sub = parser.add_subparsers(dest="probe", required=True)
    p = sub.add_parser("parts", help="the parts of the history requests, per request")
    p.add_argument("store", type=Path)
    p.add_argument("--entity", required=True)
    v = sub.add_parser("versions", help="entity_versions on a store with history")
    v.add_argument("--size", type=int, default=100_000)
    v.add_argument("--updates", type=int, default=2)
    args = parser.parse_args()
    if args.probe == "parts":
        for endpoint, figures in parts(args.store, engine=args.engine, entity=args.entity, reps=args.reps).items():
            print(endpoint, " ".join(f"{k} {v:.1f}" for k, v in figures.items()))
    else:
        print(versions(engine=args.engine, size=args.size, updates=args.updates, reps=args.reps))


if __name__ == "__main__":
    main()
