"""graphmem: a knowledge-graph-first memory engine for AI agents.

>>> import graphmem
>>> with graphmem.open(embedder=None) as mem:      # in memory; pass a path to persist
...     _ = mem.add_entity("Alice", type="Person", text="Data engineer at Acme")
...     _ = mem.add_entity("Acme", type="Company")
...     _ = mem.add_relation("Alice", "WORKS_AT", "Acme")
...     [(n.name, n.type, n.direction) for n in mem.neighbors("Acme")]
[('Alice', 'WORKS_AT', 'in')]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The errors are plain classes, cheap to import and caught by name: loaded at once.
from .errors import (
    CheckpointWarning,
    CorruptStore,
    PermissionDenied,
    EngineConflict,
    FileAccessRefused,
    StorageFull,
    GraphMemError,
    GraphMemWarning,
    IncompatibleStore,
    InvalidInput,
    NotFound,
    QueryError,
    ReadOnlyStore,
    StoreLocked,
    StoreDetached,
    UnsafePath,
)

if TYPE_CHECKING:  # the names below load on first use (see __getattr__); here for type checkers
    from .api import MemoryAPI
    from .backends.cluster import ClusterMemory
    from .config import StoreConfig
    from .embed import DefaultEmbedder, Embedder, HashEmbedder
    from .index.labels import RelationEntry
    from .index.names import NameEntry
    from .index.text import TextEntry
    from .memory import Memory
    from .memory import open_memory as open
    from .store.files import is_store
    from .types import (Column, Entity, EntityVersions, History, HistoryCursor, Hit, KHop, NamespaceInfo, Neighbor,
                        Neighbors, Path, Relation, RelationHistoryPage, Schema, Subgraph)

# Public name -> (module, attribute), imported at the name's first use (PEP 562):
# ``import graphmem`` stays cheap (no engine, numpy, pyarrow or numba), which a
# process that needs little of graphmem before its first answer (``graphmem mcp``,
# ``graphmem --help``) feels in its start.
_LAZY = {
    "open": (".memory", "open_memory"),
    "Memory": (".memory", "Memory"),
    "MemoryAPI": (".api", "MemoryAPI"),
    "is_store": (".store.files", "is_store"),
    "StoreConfig": (".config", "StoreConfig"),
    "Embedder": (".embed", "Embedder"),
    "DefaultEmbedder": (".embed", "DefaultEmbedder"),
    "HashEmbedder": (".embed", "HashEmbedder"),
    "TextEntry": (".index.text", "TextEntry"),
    "NameEntry": (".index.names", "NameEntry"),
    "RelationEntry": (".index.labels", "RelationEntry"),
    **{name: (".types", name) for name in
       ("Entity", "Relation", "Neighbor", "Neighbors", "Path", "Hit", "KHop", "Subgraph", "History",
        "RelationHistoryPage", "HistoryCursor", "EntityVersions", "NamespaceInfo", "Schema", "Column")},
}  # fmt: skip


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # later uses are a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def connect(url: str, **kwargs: Any) -> ClusterMemory:
    """The memory of one namespace on a FalkorDB Redis Cluster (the optional
    cluster backend): ``connect("redis+cluster://:PASSWORD@127.0.0.1:7000",
    namespace="project-a")``. See :func:`graphmem.backends.cluster.connect`."""
    from .backends.cluster import connect as _connect  # imported on use: the extra is optional

    return _connect(url, **kwargs)


__version__ = "0.1.0"

__all__ = [
    "open",
    "connect",
    "Memory",
    "MemoryAPI",
    "is_store",
    "StoreConfig",
    "Embedder",
    "DefaultEmbedder",
    "HashEmbedder",
    "Entity",
    "Relation",
    "Neighbor",
    "Neighbors",
    "Path",
    "Hit",
    "KHop",
    "Subgraph",
    "History",
    "RelationHistoryPage",
    "HistoryCursor",
    "EntityVersions",
    "NamespaceInfo",
    "Schema",
    "Column",
    "TextEntry",
    "NameEntry",
    "RelationEntry",
    "GraphMemError",
    "InvalidInput",
    "UnsafePath",
    "NotFound",
    "StoreLocked",
    "StoreDetached",
    "ReadOnlyStore",
    "CorruptStore",
    "PermissionDenied",
    "IncompatibleStore",
    "QueryError",
    "FileAccessRefused",
    "EngineConflict",
    "StorageFull",
    "GraphMemWarning",
    "CheckpointWarning",
]
