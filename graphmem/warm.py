"""Compile the numba kernels ahead of the first query: ``python -m graphmem.warm``.

The kernels are ``njit(cache=True)``: compiled on first use (16–27 s for the
path kernels on this machine), then loaded from numba's on-disk cache (the
``__pycache__`` folder beside each module, or ``NUMBA_CACHE_DIR``). A fresh
install would pay that on its first path query; ``make setup`` runs this
module instead, so the cache is warm before anyone asks.

The cache is keyed by each kernel's argument types (dtypes, layouts, whether
an array is read-only), so warming must call the kernels exactly as the
library does. This module therefore drives the public API (a small store on
disk, written, reopened read-only, queried: paths, k-hop, subgraphs,
neighbour searches, deletes that leave a delta, a compaction) rather than
calling the kernels with arrays of its own making; a test checks that a
different workload afterwards compiles nothing new. Running it twice compiles
nothing the second time (numba finds every signature in its cache).
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .memory import Memory

__all__ = ["warm", "start_kernels", "compiled_signatures", "compile_sources", "main"]


def _workload(path: Path) -> None:
    import graphmem  # imported here: the package imports this module's siblings

    rng = np.random.default_rng(0)
    n, dim = 60, 8
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    with graphmem.open(path, embedder=None) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "A" if i % 2 else "B", "embedding": vectors[i]} for i in range(n)])
        mem.add_relations([{"source": f"e{i}", "type": "R" if i % 3 else "S", "target": f"e{(i * 7 + 1) % n}"}
                           for i in range(n)])  # fmt: skip
        _queries(mem, vectors)
        before = datetime.now(timezone.utc)
        time.sleep(0.002)
        # Writes after the snapshot: the kernels read the delta overlay.
        mem.add_relation("e0", "S", "e59")
        mem.delete_relation("e1", "R", "e8")
        mem.delete_entity("e30")
        _queries(mem, vectors)
        # A time view: the graph as it was, with the later writes hidden.
        mem.shortest_path("e0", "e41", as_of=before)
        mem.k_hop("e0", 2, known_at=before)
    with graphmem.open(path, embedder=None, read_only=True) as mem:  # a reload, as a later process sees it
        _queries(mem, vectors)


def _queries(mem: Memory, vectors: np.ndarray) -> None:
    for direction in ("both", "out", "in"):
        mem.shortest_path("e0", "e41", direction=direction)
        mem.shortest_path("e2", "e13", types=["R"], direction=direction, max_hops=6)
        mem.paths_between("e0", "e41", direction=direction)
        mem.paths_between("e2", "e13", types="S", direction=direction, max_hops=6)
    mem.k_hop("e0", 2)
    mem.k_hop("e3", 3, types=["R"])
    mem.subgraph(["e0", "e5"], hops=2)
    mem.subgraph("e4", hops=1, types=["S"])
    mem.neighbors("e0")
    mem.search(vectors[3], k=5)
    mem.search(vectors[3], k=5, types=["A"])
    mem.search(vectors[4], k=5, near="e0", max_hops=2)
    mem.search(vectors[4], k=5, near=["e0", "e9"], rank="hybrid", types="B")
    mem.recall(vectors[5], k=3)


_NUMBA_EXTRAS = ("cffi", "scipy.linalg")


def start_kernels(*, without_extras: bool = False) -> None:
    """Import numba and make the kernels' dispatchers now, ahead of the first
    kernel call (:func:`graphmem.algorithms.jit.load`), then initialise
    numba's compiler context.

    ``without_extras``: the first compiled kernel a process loads makes numba
    import every integration it has, among them cffi (which builds a C
    parser, to type cffi functions) and scipy.linalg (to see whether
    ``np.dot`` has a BLAS): 0.15-0.4 s of CPU, a sixth of a ``graphmem path``
    call, for code graphmem's kernels never use. With the two imports
    refused for that moment, numba records them as absent and goes on. Only
    for a process graphmem owns (the command line): a library must not change
    numba's features for the rest of its host, and no other thread may import
    either package meanwhile (the MCP server loads the embedding model, whose
    stack imports scipy.linalg, after this returns).

    Safe beside kernel calls in other threads: the kernels' dispatchers are
    made under their own lock (once numba is imported), and numba's context
    initialised under numba's compiler lock (a kernel compiling meanwhile initialises it first, with the
    extras, and this then does nothing).
    """
    from graphmem.algorithms import jit

    jit.load()
    if not without_extras or "numba.core.typing.cffi_utils" in sys.modules:
        return  # numba's context starts as usual (or has started) at the first kernel
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target
    except ImportError:
        return  # another numba layout: it starts as usual, with its extras, on the first kernel
    with global_compiler_lock:
        if "numba.core.typing.cffi_utils" in sys.modules:
            return  # a kernel compiled meanwhile
        refused = [name for name in _NUMBA_EXTRAS if name not in sys.modules]
        for name in refused:
            sys.modules[name] = None  # type: ignore[assignment]  # importing it raises ImportError
        try:
            cpu_target.typing_context.refresh()
            cpu_target.target_context.refresh()
        except (ImportError, AttributeError):
            pass  # another numba layout: it starts as usual, with its extras, on the first kernel
        finally:
            for name in refused:
                sys.modules.pop(name, None)


# Up to this many entities a one-question process runs its kernels as Python
# (kernels_for). Measured (2 cores, load ~1) on random graphs of N nodes and
# 5N-20N edges: the worst search (two halves, no path: a whole half swept)
# took 0.06-0.19 s interpreted at 10k nodes and a path found 1-12 ms, where
# starting numba costs 0.5-0.9 s; rebuilding the graph in Python, when its
# saved state is missing, takes ~0.5 s at 10k. Above it numba pays for itself.
INTERPRET_UP_TO = 10_000


def kernels_for(entities: int, *, without_extras: bool = False) -> AbstractContextManager[None]:
    """How a process that answers one question runs its kernels on a store of
    ``entities``: as Python on a small store
    (:func:`graphmem.algorithms.jit.interpreted`: the answer never waits for
    numba's start), else compiled, numba started now
    (:func:`start_kernels`, ``without_extras`` passed on). Not for a
    long-lived process: its later calls would stay interpreted until
    something loads numba.
    """
    from graphmem.algorithms import jit

    if entities <= INTERPRET_UP_TO:
        return jit.interpreted()
    start_kernels(without_extras=without_extras)
    return nullcontext()


def compiled_signatures() -> dict[str, frozenset[str]]:
    """Each loaded kernel's compiled signatures, by ``module.name`` (what a test compares)."""
    from numba.core.registry import CPUDispatcher

    out = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("graphmem.") or module is None:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.__module__ == name:
                out[f"{name}.{attr}"] = frozenset(str(sig) for sig in value.signatures)
    return out


def warm() -> dict[str, frozenset[str]]:
    """Compile (or load from the cache) every kernel signature the library uses."""
    with tempfile.TemporaryDirectory(prefix="graphmem-warm-") as folder:
        _workload(Path(folder) / "store")
    from graphmem.algorithms import csr
    from graphmem.index.adjacency import EdgeIndex

    # What a large store reaches and the small one above does not: folding a
    # delta into a new snapshot, and merging sorted runs of many writes.
    edges = EdgeIndex.from_arrays([0, 1, 2], [1, 2, 0], ["R", "R", "S"])
    edges.add([(3, 0, 1), (2, 1, 4)])
    edges.remove([(0, 0, 1)])
    edges.incident_many(np.array([1, 2]))
    edges.type_members()
    edges.compact()
    csr.merge_sorted(np.array([1, 5]), np.array([0, 0], np.int32), np.array([1, 3]), np.array([1, 0], np.int32))
    csr.merge_order(np.array([1, 5]), np.array([0, 0], np.int32), np.array([1, 3]), np.array([1, 0], np.int32))
    return compiled_signatures()


def compile_sources() -> bool:
    """Byte-compile every module of the package (``__pycache__`` beside each).

    Importing compiles a module the first time only, but ``warm`` imports
    only what a store needs: the command line and the console would compile
    on a new install's first command (part of what a CLI call on a small
    store costs), or on every one where bytecode is not written (for example
    with ``PYTHONDONTWRITEBYTECODE`` set: ~0.4 s of ``import graphmem.cli.main``
    was compiling). compileall writes the files either way. Returns whether
    every module compiled.
    """
    import compileall

    return bool(compileall.compile_dir(str(Path(__file__).resolve().parent), quiet=1))


def main() -> int:
    started = time.perf_counter()
    compile_sources()
    signatures = warm()
    count = sum(len(s) for s in signatures.values())
    print(f"graphmem: {count} kernel signatures compiled or loaded from numba's cache "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
