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

from typing import TYPE_CHECKING, Any

from .config import StoreConfig
from .embed import DefaultEmbedder, Embedder, HashEmbedder
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
from .api import MemoryAPI
from .memory import Memory
from .memory import open_memory as open
from .index.labels import RelationEntry
from .index.names import NameEntry
from .index.text import TextEntry
from .store.files import is_store
from .types import Entity, History, Hit, KHop, NamespaceInfo, Neighbor, Path, Relation, Subgraph

if TYPE_CHECKING:  # the cluster extra is optional: import it only on use
    from .backends.cluster import ClusterMemory


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
    "Path",
    "Hit",
    "KHop",
    "Subgraph",
    "History",
    "NamespaceInfo",
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
