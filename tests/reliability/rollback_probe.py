"""The engine fault behind issue 17.2, measured on the engine alone (no graphmem).

Each trial is a child process: 20 rows; 300 write transactions, each SETting 3
random rows, then 60% COMMIT, 20% ROLLBACK, 20% a statement the engine refuses
(a duplicate primary key: the engine rolls back by itself); with ``--checkpoint``
a CHECKPOINT follows every rollback. Reported per mode: transactions refused
with "Write-write conflict", trials killed by a signal, and whether the stored
sum equals the committed increments.

    python -m tests.reliability.rollback_probe --engine kuzu --seeds 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import importlib, json, random, sys, tempfile
engine, seed, checkpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
eng = importlib.import_module(engine)
conn = eng.Connection(eng.Database(tempfile.mkdtemp() + "/db"))
conn.execute("CREATE NODE TABLE N(k STRING, a INT64, PRIMARY KEY(k))")
keys = [f"k{i}" for i in range(20)]
for k in keys:
    conn.execute("CREATE (:N {k: $k, a: 0})", {"k": k})
def rolled_back():
    if checkpoint:
        conn.execute("CHECKPOINT")
conflicts = committed = 0
rng = random.Random(seed)
for _ in range(300):
    conn.execute("BEGIN TRANSACTION")
    try:
        for k in rng.sample(keys, 3):
            conn.execute("MATCH (n:N {k: $k}) SET n.a = n.a + 1", {"k": k})
    except RuntimeError as exc:
        conflicts += "Write-write conflict" in str(exc)
        try:
            conn.execute("ROLLBACK")
        except RuntimeError:
            pass  # the engine rolled back already
        rolled_back()
        continue
    r = rng.random()
    if r < 0.2:
        try:
            conn.execute("CREATE (:N {k: 'k0'})")
        except RuntimeError:
            pass
        rolled_back()
    elif r < 0.4:
        conn.execute("ROLLBACK")
        rolled_back()
    else:
        conn.execute("COMMIT")
        committed += 3
total = sum(row[0] for row in conn.execute("MATCH (n:N) RETURN n.a").get_all())
print(json.dumps({"conflicts": conflicts, "consistent": total == committed}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="kuzu")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    for checkpoint in (False, True):
        conflicts = signals = inconsistent = 0
        for seed in range(args.seeds):
            done = subprocess.run([sys.executable, "-c", _CHILD, args.engine, str(seed), "1" if checkpoint else "0"],
                                  capture_output=True, text=True, timeout=600)  # fmt: skip
            if done.returncode < 0:
                signals += 1
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            conflicts += result["conflicts"]
            inconsistent += not result["consistent"]
        print(json.dumps({"engine": args.engine, "checkpoint_after_rollback": checkpoint, "trials": args.seeds,
                          "transactions": 300 * args.seeds, "conflicts": conflicts, "killed_by_signal": signals,
                          "inconsistent_sums": inconsistent}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
