"""CPU of hard deletes of 10 entities, by delete plan: the cost model's choice
(``graphmem.memory.removal.delete_plan``) against each plan forced, on a store
that is written to (use a copy), 10 of the newest entities and 10 at random per
call, the plans taken in turn so that the load weighs on all alike.

Run::

    python benchmarks/delete_plan_probe.py STORE_COPY ENGINE ROUNDS
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

PLANS: dict[str, tuple[bool, bool] | None] = {
    "model": None, "keyed": (True, False), "parameters": (False, False), "literals": (False, True)}  # fmt: skip
"""(keyed, literal) forced on ``delete_plan``; ``None``: the model decides."""


def _names(mem: Any, way: str, top: int, rng: random.Random) -> list[str]:
    """Ten live entities: the newest, or drawn at random (not timed: these scan)."""
    if way == "newest":
        rows = mem.cypher("MATCH (e:Entity) WHERE e.id > $lo AND e.expired_at IS NULL "
                          "RETURN e.name AS n ORDER BY e.id DESC LIMIT 10", {"lo": top - 2000})  # fmt: skip
    else:
        rows = mem.cypher("MATCH (e:Entity) WHERE e.id IN $ids AND e.expired_at IS NULL RETURN e.name AS n LIMIT 10",
                          {"ids": rng.sample(range(top), 40)})  # fmt: skip
    return [row["n"] for row in rows]


def probe(path: Path, engine: str, rounds: int) -> dict[tuple[str, str], list[float]]:
    import graphmem
    from graphmem.memory import removal

    real = removal.delete_plan
    chosen: list[tuple[bool, bool]] = []

    def spy(*args: Any) -> tuple[bool, bool]:
        plan = real(*args)
        chosen.append(plan)
        return plan

    rng = random.Random(7)
    out: dict[tuple[str, str], list[float]] = {(p, w): [] for p in PLANS for w in ("newest", "random")}
    try:
        with graphmem.open(path, engine=engine, embedder=None) as mem:
            top = mem.cypher("MATCH (e:Entity) RETURN max(e.id) AS m")[0]["m"]
            for _ in range(rounds):
                for plan, forced in PLANS.items():
                    for way in ("newest", "random"):
                        names = _names(mem, way, top, rng)
                        removal.delete_plan = spy if forced is None else (lambda *_, f=forced: f)
                        chosen.clear()
                        started = time.process_time()
                        mem.delete_entities(names)
                        out[(plan, way)].append((time.process_time() - started) * 1000)
                        if forced is None:
                            print(f"model chose (keyed, literal) {chosen} for {way}", flush=True)
    finally:
        removal.delete_plan = real
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path, help="a copy of a store: it is written to")
    parser.add_argument("engine")
    parser.add_argument("rounds", type=int)
    args = parser.parse_args()
    for (plan, way), cpu in probe(args.store, args.engine, args.rounds).items():
        print(f"{plan:<11} {way:<7} CPU ms p50 {statistics.median(cpu):8.1f}  all {[round(x, 1) for x in cpu]}")


if __name__ == "__main__":
    main()
