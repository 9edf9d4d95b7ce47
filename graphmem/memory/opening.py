"""Opening a memory: :func:`open_memory` (``graphmem.open``) checks its options,
opens the store, builds the :class:`~graphmem.memory.facade.Memory` over it and
sets up what the options ask for (capacity, duplicates, background embedding,
the reuse of a closed read-only memory's loaded state).
"""

from __future__ import annotations

import os
from typing import Any

from ..config import DEFAULT_NAMESPACE, StoreConfig
from ..embed import resolve_embedder, when_loadable
from ..errors import InvalidInput, NotFound
from ..lifecycle import DUPLICATE_MODES, check_policy
from ..store import files as store_files
from ..store.engine import default_engine
from ..store.store import Store, Tracer
from ..validate import check_namespace, check_positive_int
from .backlog import Backlog, missing_keys
from .facade import Memory

__all__ = ["open_memory"]


def open_memory(
    path: str | os.PathLike[str] | None = None,
    *,
    engine: str | None = None,
    embedder: Any = "default",
    read_only: bool = False,
    config: StoreConfig | None = None,
    tracer: Tracer | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    capacity: int | None = None,
    capacity_policy: str = "lru",
    duplicates: str = "allow",
    mode: int | None = None,
    reuse: Memory | None = None,
    background_embedding: bool = False,
) -> Memory:
    """Open (creating if needed) the memory at ``path``; ``None`` is in-memory.

    ``engine`` is ``"kuzu"`` or ``"ladybug"``; ``None`` means the
    ``GRAPHMEM_ENGINE`` environment variable if set, else ``"kuzu"``. A process
    can load only one of the two engines. ``namespace`` confines every read and
    write (a namespace is created by its first write; a read-only open of a
    namespace that does not exist is refused).

    ``capacity`` caps the current entities of each namespace: a write that
    goes past it expires the least valuable others by ``capacity_policy``
    (see :meth:`Memory.forget`); a single batch larger than the capacity is
    refused. ``duplicates`` decides what a new name that normalises like an
    existing one does (``"Alice Smith"`` / ``"alice_smith"``): ``"allow"``
    (the default: a distinct entity), ``"merge"`` (the write goes to the
    existing entity) or ``"refuse"`` (:class:`InvalidInput`).

    A store this call creates is private to the user: its directory is made
    ``0o700`` and every file graphmem writes in it ``0o600``, whatever the
    umask. ``mode`` widens that deliberately (``mode=0o750`` lets the group
    read: files become ``0o640``); it applies when the store is created, and
    an existing store keeps its modes.

    ``reuse`` (read-only opens only) takes a closed read-only memory of the
    same store: when no write reached the store since that one was opened
    (:func:`graphmem.store.files.fingerprint`), this memory takes over what
    it had loaded (the graph state, the vector index, the entity cache)
    instead of loading them again; otherwise it is ignored. A process that
    reads a store now and then without keeping it open (``graphmem view``)
    so pays for the open alone.

    ``background_embedding=True`` (a writable memory with an embedder) takes
    the model off the write path: a write commits the entities whose text
    changed without a vector and returns; one thread then encodes them and
    stores their vectors (:mod:`graphmem.memory.backlog`). A search finds such an
    entity once its vector is stored (:meth:`Memory.wait_embedded` waits for
    that); a vector an entity had is dropped when its text changes. If the
    process stops first, the next open with background embedding embeds what
    is missing (it looks for it at the start, in that thread, once the model
    may load: :meth:`DefaultEmbedder.defer_loading`; see also
    :meth:`Memory.embed_missing`).
    """
    if read_only and path is None:
        raise InvalidInput("an in-memory store cannot be opened read-only (it would always be empty)")
    if reuse is not None and (not isinstance(reuse, Memory) or not read_only or not reuse.read_only
                              or not reuse.closed):  # fmt: skip
        raise InvalidInput("reuse takes a closed read-only Memory, and only for a read-only open")
    namespace = check_namespace(namespace)
    if capacity is not None:
        capacity = check_positive_int(capacity, "capacity")
    capacity_policy = check_policy(capacity_policy)
    if duplicates not in DUPLICATE_MODES:
        raise InvalidInput(f"duplicates must be one of {', '.join(DUPLICATE_MODES)}, not {duplicates!r}")
    resolved = resolve_embedder(embedder)
    store = Store(path, engine=engine or default_engine(), read_only=read_only, config=config, tracer=tracer,
                  mode=mode)
    try:
        memory = Memory(store, embedder=resolved, namespace=namespace)
        memory._shared.capacity, memory._shared.capacity_policy = capacity, capacity_policy
        memory._shared.duplicates = duplicates
        if background_embedding and resolved is not None and not read_only:
            # Its look for entities without a vector waits until the model may
            # load (a server defers it past its first answer).
            backlog = Backlog(memory._embed_keys, lambda: missing_keys(store),
                              when_ready=lambda begin: when_loadable(resolved, begin))  # fmt: skip
            memory._shared.backlog = backlog
            backlog.start()
        if read_only and store.path is not None:  # (a read-only store is always on disk)
            memory._fingerprint = store_files.fingerprint(store.path)
            if reuse is not None:
                _adopt(memory, reuse)
        if read_only and namespace != DEFAULT_NAMESPACE and not store.execute("namespace_exists",
                                                                                 {"namespace": namespace}):
            known = ", ".join(repr(info.name) for info in memory.namespaces()) or "none"
            raise NotFound(f"no namespace {namespace!r} in {path} (namespaces: {known}); a read-only open "
                           "cannot create one")
        return memory
    except BaseException:
        store.close()
        raise


def _adopt(memory: Memory, other: Memory) -> bool:
    """Let ``memory`` take over what ``other`` (closed, read-only, of the same store)
    loaded, if no write reached the store since ``other`` was opened; whether it did."""
    if (other._fingerprint is None or other._fingerprint != memory._fingerprint or other.path != memory.path
            or other.engine != memory.engine or other._vector_dim != memory._vector_dim):  # fmt: skip
        return False
    if other._derived.loaded:
        memory._derived._state = other._derived.get()
        memory._derived.last_load = {"source": "reused"}
    index = other._vectors.peek()
    if index is not None:
        memory._vectors._index = index
        memory._vectors.last_load = {"source": "reused", "vectors": len(index)}
    memory._cache = other._cache
    memory._names = other._names
    return True
