"""How much memory and disk a store costs: ``python -m benchmarks.resident PATH ENGINE``.

Resident memory is measured in a fresh process, because the process that
bulk-loaded the store still holds the load's garbage (the allocator keeps
freed pages), which would hide part of the store's own cost. The probe imports
everything first, then takes the resident set size (RSS) before
``graphmem.open`` and again after one of each read (lookup, search, path,
k-hop; the k-hop builds the snapshot paths use too), which loads every derived structure an agent's reads need: the id
maps, the HNSW index from its file, the CSR snapshot, the engine's buffer
pool pages those reads touched. It prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["rss_bytes", "disk_bytes", "probe"]


def rss_bytes() -> int:
    """This process's resident set size, from ``/proc/self/status`` (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def disk_bytes(path: Path) -> dict[str, int]:
    """Bytes under ``path``: ``allocated`` (blocks the file system holds) and ``apparent`` (file sizes).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "f").write_bytes(b"x" * 10)
    ...     disk_bytes(Path(d))["apparent"]
    10
    """
    allocated = apparent = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(root, name))
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return {"allocated": allocated, "apparent": apparent}


def probe(path: Path, engine: str, name: str, vector: list[float]) -> dict[str, Any]:
    """Open the store at ``path``, run one of each read, and return RSS before and after."""
    import numpy as np

    import graphmem

    gc.collect()
    before = rss_bytes()
    mem = graphmem.open(path, engine=engine, embedder=None)
    try:
        query = np.asarray(vector, dtype=np.float32)
        mem.get_entity(name)
        mem.search(query, 10)
        mem.search(query, 10, near=name, max_hops=2)
        mem.k_hop(name, 2)
        gc.collect()
        after = rss_bytes()
        entities = len(mem)
    finally:
        mem.close()
    return {"rss_before": before, "rss_after": after, "resident_bytes": after - before, "entities": entities}


def main(argv: list[str]) -> int:
    path, engine, name, vector_json = argv
    print(json.dumps(probe(Path(path), engine, name, json.loads(vector_json))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
