"""LangGraph stores side by side: graphmem's GraphMemStore, InMemoryStore, SqliteStore.

Run from the project root (needs the ``langgraph`` extra; SqliteStore comes
with ``langgraph-checkpoint-sqlite``, in the ``bench`` extra, and is skipped
when missing)::

    python -m benchmarks.bench_langgraph --items 2000

Each store gets the same ``IndexConfig``: one deterministic embedding
function (word hashing, 64-d, a few µs per text), so the figures compare the
stores, not a model. ``--items`` items are loaded in batches of 500 over 10
namespaces, then, one call at a time with the clock around it:
``put`` (a new key), ``get`` (an existing key), ``search`` (a query, top 10
of one namespace), ``filter`` (no query, ``{"n": v}`` over one namespace) and
``put+filter`` (a put, then a filter of the namespace it changed).
GraphMemStore and SqliteStore keep their data on disk (a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.timing import measure

DIM = 64
NAMESPACES = 10
WORDS = [f"w{i}" for i in range(200)]


def embed(texts: list[str]) -> list[list[float]]:
    out = np.zeros((len(texts), DIM), np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row, hash(word) % DIM] += 1.0
    out[:, 0] += 0.5
    return out.tolist()


def _stores(stack: ExitStack, folder: Path, engine: str | None) -> dict[str, Any]:
    from langgraph.store.memory import InMemoryStore

    from graphmem.integrations.langgraph import GraphMemStore

    index = {"dims": DIM, "embed": embed, "fields": ["text"]}
    stores: dict[str, Any] = {
        "graphmem": stack.enter_context(GraphMemStore(folder / "graphmem", index=index, engine=engine)),
        "in_memory": InMemoryStore(index=index),
    }
    try:
        from langgraph.store.sqlite import SqliteStore
    except ImportError:
        print("SqliteStore not installed (pip install langgraph-checkpoint-sqlite): skipped")
    else:
        import sqlite3

        # SqliteStore's vector search loads the sqlite-vec extension, which needs a
        # Python whose sqlite3 can load extensions; without one it runs unindexed
        # (no "search" row; its puts then embed nothing).
        vectors = hasattr(sqlite3.Connection, "enable_load_extension")
        sqlite = stack.enter_context(SqliteStore.from_conn_string(str(folder / "sqlite.db"),
                                                                  index=index if vectors else None))  # fmt: skip
        sqlite.setup()
        stores["sqlite" if vectors else "sqlite (no index)"] = sqlite
    return stores


def run(items: int, repeat: int, engine: str | None) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    texts = [" ".join(rng.choices(WORDS, k=8)) for _ in range(items + repeat + 10)]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        stores = _stores(stack, Path(tmp), engine)
        for name, store in stores.items():
            from langgraph.store.base import PutOp

            ops = [PutOp(("bench", f"ns{i % NAMESPACES}"), f"k{i}", {"text": texts[i], "n": i % 50})
                   for i in range(items)]  # fmt: skip
            for start in range(0, items, 500):
                store.batch(ops[start:start + 500])
            row = {}
            row["put"] = measure(lambda i: store.put(("bench", f"ns{i % NAMESPACES}"), f"new{i}",
                                                     {"text": texts[items + i], "n": i % 50}), repeat=repeat)
            per_space = items // NAMESPACES
            row["get"] = measure(lambda i: store.get(("bench", f"ns{i % NAMESPACES}"),
                                                     f"k{rng.randrange(per_space) * NAMESPACES + i % NAMESPACES}"),
                                 repeat=repeat)  # fmt: skip
            if getattr(store, "index_config", None):
                row["search"] = measure(lambda i: store.search(("bench", f"ns{i % NAMESPACES}"), query=texts[i],
                                                               limit=10), repeat=repeat)  # fmt: skip
            row["filter"] = measure(lambda i: store.search(("bench", f"ns{i % NAMESPACES}"), filter={"n": i % 50},
                                                           limit=10), repeat=repeat)  # fmt: skip
            # A put, then a filter of the namespace it changed: GraphMemStore reads a
            # namespace again after a write to it (it keeps the last scan until then).
            row["put+filter"] = measure(
                lambda i: (store.put(("bench", f"ns{i % NAMESPACES}"), f"again{i}", {"text": texts[i], "n": i % 50}),
                           store.search(("bench", f"ns{i % NAMESPACES}"), filter={"n": i % 50}, limit=10)),
                repeat=repeat)  # fmt: skip
            results[name] = {op: stats.as_dict() for op, stats in row.items()}
            print(name, {op: round(stats.p50_ms, 3) for op, stats in row.items()}, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--engine", default=None, help="kuzu or ladybug (default: GRAPHMEM_ENGINE, else kuzu)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = run(args.items, args.repeat, args.engine)
    ops = ("put", "get", "search", "filter", "put+filter")
    print(f"\np50 ms, {args.items} items ({NAMESPACES} namespaces), {args.repeat} calls each")
    print("| store | " + " | ".join(ops) + " |")
    print("| --- |" + " --- |" * len(ops))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{row[op]['p50_ms']:.3f}" if op in row else "n/a" for op in ops) + " |")
    base = results["graphmem"]
    for name, row in results.items():
        if name != "graphmem":
            print(f"graphmem / {name} (p50): " + ", ".join(
                f"{op} {base[op]['p50_ms'] / row[op]['p50_ms']:.1f}x" for op in ops if op in row))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"items": args.items, "repeat": args.repeat, "results": results}, indent=2))


if __name__ == "__main__":
    main()
