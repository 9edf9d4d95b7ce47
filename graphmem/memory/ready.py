"""Getting a long-lived process ready in the background: saving what it
rebuilt, loading numba ahead of the first kernel.

An MCP server stops without saving (a host that asks it to stop waits for
it; see :func:`graphmem.mcp.server.serve`), so a graph state or text index
it had to rebuild from the store (a scan and a build, ~1-2 s of CPU at 100k
entities) would be rebuilt at every start. :func:`save_rebuilt_state` saves
them once, after the first load, so the next start reads them from the files.

A process's first answers do not import numba (``incident_edges`` answers
through NumPy until it is loaded: :mod:`graphmem.algorithms.jit`);
:func:`load_kernels` loads it, and the kernel those answers use, once a
server has answered, so that no later call waits for it.

Plain functions beside the facade, over its parts, as in :mod:`.whole`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..algorithms import jit
from ..algorithms.csr import empty_adjacency, incident_edges

if TYPE_CHECKING:
    from .facade import Memory

__all__ = ["CATCH_UP_SAVED", "save_rebuilt_state", "load_kernels"]

CATCH_UP_SAVED = 1000
"""Rows caught up at a load past which :func:`save_rebuilt_state` saves."""
REBUILT_SAVED = 10_000
"""Entities and relations from which a rebuilt state is worth saving (a
rebuild of fewer costs less than the save, ~0.1 s)."""


def save_rebuilt_state(mem: Memory, *, at_least: int | None = None) -> bool:
    """Save the graph state and text index (:meth:`Memory.flush`) if ``mem``
    rebuilt either from the store (holding at least ``at_least`` entities and
    relations, :data:`REBUILT_SAVED` by default), or caught up more than :data:`CATCH_UP_SAVED`
    rows written after their save. Returns whether it saved.

    Examples
    --------
    >>> import tempfile, graphmem
    >>> path = tempfile.mkdtemp() + "/store"
    >>> with graphmem.open(path, embedder=None) as mem:
    ...     _ = mem.add_entity("Ada", observations=["writes programs"])
    >>> mem = graphmem.open(path, embedder=None)
    >>> _ = mem.find_text("ada")  # the text index was never saved: rebuilt
    >>> save_rebuilt_state(mem)  # one entity: a rebuild is cheaper than a save
    False
    >>> save_rebuilt_state(mem, at_least=1), save_rebuilt_state(mem, at_least=1)
    (True, False)
    >>> mem.close(save_index=False)
    """
    derived = mem._derived
    if mem.read_only or mem.path is None or not derived.loaded:
        return False
    if derived.saved.current and not derived.saved.text_unsaved(derived.get().text):
        return False  # the files are what is loaded (saved since, or loaded clean)
    state = derived.get()
    big = len(state.ids) + len(state.edges) >= (REBUILT_SAVED if at_least is None else at_least)
    loads = [load for load in (derived.last_load, derived.last_text_load) if load]
    if not any((load.get("source") == "rebuilt" and big) or _caught_up(load) > CATCH_UP_SAVED for load in loads):
        return False
    mem.flush()
    return True


def _caught_up(load: dict[str, object]) -> int:
    rows = load.get("caught_up", 0)
    return rows if isinstance(rows, int) else 0


def load_kernels() -> None:
    """Import numba, make the kernels dispatchers (:func:`graphmem.algorithms.jit.load`)
    and load from numba's cache the kernel ``search_nodes``' relations step
    calls once numba is loaded (``incident_edges``)."""
    jit.load()
    # The argument types of every real call (C-contiguous, writable arrays of
    # the same dtypes): the signature numba loads is the one they use.
    incident_edges(empty_adjacency(1), np.zeros(1, np.int64))
