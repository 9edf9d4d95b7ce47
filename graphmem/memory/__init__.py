"""The memory facade and the jobs it delegates to (DESIGN.md, "Public API").

:mod:`~graphmem.memory.facade` holds :class:`Memory`, the one class users hold;
:mod:`~graphmem.memory.opening` has :func:`open_memory`, which makes one;
:mod:`~graphmem.memory.upkeep` its forgetting, tiers,
deduplication and merging; :mod:`~graphmem.memory.writes` and
:mod:`~graphmem.memory.bulk` plan and apply writes (one at a time, and in
batches); :mod:`~graphmem.memory.backlog` stores embeddings after the commit;
:mod:`~graphmem.memory.requests` keeps the log that makes a resent write apply
once; :mod:`~graphmem.memory.history` reads an entity's versions and relation
history in bounded pages; :mod:`~graphmem.memory.loading` is the one way the
bulk import (``interchange/``) reaches the embedded memory's batch writes. The storage engine, the derived graph state and
the query algorithms live below this package (``store/``, ``index/``,
``query/``, ``algorithms/``); the faces (CLI, console, MCP, viewer) above it.
"""

from .facade import Memory
from .opening import open_memory

__all__ = ["Memory", "open_memory"]
