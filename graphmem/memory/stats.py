"""Counts and sizes of an open memory: what :meth:`graphmem.Memory.stats`,
:meth:`~graphmem.Memory.namespaces` and ``len`` report.

Plain functions over the parts the facade owns (the store, the derived state,
the entity cache, the vector store), passed in explicitly; the facade checks
that the memory is open and reads the clock.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING, Any

from ..algorithms.cache import PathCache
from ..types import NamespaceInfo

if TYPE_CHECKING:  # annotations only: the facade imports these parts and passes them in
    from datetime import datetime

    from ..index.derived import Derived
    from ..index.entity_cache import EntityCache
    from ..index.vector_store import VectorStore
    from ..metrics import Latencies
    from ..store.store import Store
    from .backlog import Backlog

__all__ = ["count", "disk_bytes", "namespace_infos", "stats"]


def namespace_infos(store: Store) -> list[NamespaceInfo]:
    """Every namespace with current entities, with its counts, by name."""
    entities, relations = _namespace_counts(store)
    return [NamespaceInfo(ns, entities[ns], relations.get(ns, 0)) for ns in sorted(entities)]


def count(store: Store, derived: Derived, namespace: str) -> int:
    """The current entities of ``namespace``: from the graph state when it is
    loaded, else one count in the store (loading the state to count would
    cost far more)."""
    if derived.loaded:
        return len(derived.get().namespaces.members(namespace))
    return int(store.execute("entity_count", {"namespace": namespace})[0][0])


def stats(
    store: Store, derived: Derived, cache: EntityCache, vectors: VectorStore, *, namespace: str,
    vector_dim: int | None, backlog: Backlog | None, latencies: Latencies, access_pending: int, hot_since: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The dictionary :meth:`graphmem.Memory.stats` documents; ``hot_since``
    is the start of the hot window (the caller's clock)."""
    entity_types: dict[str, int] = {}
    relation_types: dict[str, int] = {}
    store_entities = store_relations = 0
    for ns, type_, n in store.execute("entity_type_counts"):
        store_entities += int(n)
        if ns == namespace:
            entity_types[type_] = int(n)
    for ns, type_, n in store.execute("relation_type_counts"):
        store_relations += int(n)
        if ns == namespace:
            relation_types[type_] = int(n)
    path = store.path
    disk = disk_bytes(path)
    out: dict[str, Any] = {
        "path": str(path) if path else None,
        "engine": store.engine_name,
        "read_only": store.read_only,
        "schema_version": store.schema_version,
        "namespace": namespace,
        "entities": sum(entity_types.values()),
        "relations": sum(relation_types.values()),
        "store_entities": store_entities,
        "store_relations": store_relations,
        "entity_types": entity_types,
        "relation_types": relation_types,
        "vector_dim": vector_dim,
        "disk_bytes": disk,
        "cache": {"entries": len(cache), "hits": cache.hits, "misses": cache.misses},
        "derived_loaded": derived.loaded,
        "derived_last_load": dict(derived.last_load),
    }
    derived_bytes: dict[str, int] = derived.get().nbytes() if derived.loaded else {}
    if derived.loaded:
        out["derived_bytes"] = derived_bytes
    index = vectors.peek()
    out["vectors"] = {
        "loaded": index is not None,
        "count": None if index is None else len(index),
        "queued": None if index is None else len(index.stale),  # not yet in HNSW (searched exactly)
        "bytes": None if index is None else index.nbytes(),
        "last_load": dict(vectors.last_load),
        # With background embedding: entities committed and not yet embedded.
        "waiting": 0 if backlog is None else backlog.waiting(),
    }
    entities, relations = _namespace_counts(store)
    out["namespaces"] = {ns: {"entities": n, "relations": relations.get(ns, 0)} for ns, n in sorted(entities.items())}
    disk_vectors = disk_bytes(path / "vectors") if path is not None else 0
    out["bytes"] = {
        "disk_store": disk - disk_vectors,
        "disk_vectors": disk_vectors,
        "resident_vectors": None if index is None else sum(index.nbytes().values()),
        "resident_snapshot": derived_bytes.get("relation_arrays"),
        "resident_bitmaps": (sum(v for k, v in derived_bytes.items() if k.endswith("bitmaps"))
                             if derived_bytes else None),  # fmt: skip
    }
    paths = derived.get().edges.attached("paths") if derived.loaded else None
    out["caches"] = {"entities": _rates(cache.hits, cache.misses)}
    if isinstance(paths, PathCache):
        out["caches"]["paths"] = _rates(paths.hits, paths.misses)
    out["latency_ms"] = latencies.summary()
    tiers = {"hot": 0, "warm": 0, "cold": 0}
    for cold, hot, n in store.execute("tier_counts", {"namespace": namespace, "hot_since": hot_since}):
        tiers["cold" if cold else ("hot" if hot else "warm")] += int(n)
    out["tiers"] = tiers
    out["access_pending"] = access_pending
    return out


def disk_bytes(path: pathlib.Path | None) -> int:
    """The bytes of every file under ``path`` (0 for ``None``, an in-memory store).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_bytes(b"12345")
    >>> disk_bytes(folder), disk_bytes(None)
    (5, 0)
    """
    if path is None:
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                continue  # a WAL file may vanish at checkpoint between listing and stat
    return total


def _namespace_counts(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    entities = {ns: int(n) for ns, n in store.execute("namespace_counts")}
    relations = {ns: int(n) for ns, n in store.execute("namespace_relation_counts")}
    return entities, relations


def _rates(hits: int, misses: int) -> dict[str, Any]:
    total = hits + misses
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / total, 4) if total else None}
