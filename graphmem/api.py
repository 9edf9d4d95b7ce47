"""``MemoryAPI``: the public interface that every graphmem backend implements.

The embedded :class:`graphmem.Memory` and the cluster backend's
:class:`graphmem.backends.cluster.ClusterMemory` both implement it, with the same
signatures (``tests/test_api.py`` compares them parameter by parameter and
resolves every annotation); the shared contract tests check the behaviour.
Code that should run on either backend (the faces: CLI, console, MCP server,
viewer, integrations) types its memory as ``MemoryAPI``.

A backend may lack a capability (the cluster keeps no history, so
``as_of`` / ``known_at`` other than ``None``, ``history``, ``relation_history``,
``entity_versions`` or ``expire_entity``
raise :class:`graphmem.backends.cluster.NotSupported` there): the method is still
present, with the same signature, and says why instead of an
``AttributeError``. The full documentation of each method is on
:class:`graphmem.Memory`.

Examples
--------
>>> import graphmem
>>> from graphmem.api import MemoryAPI
>>> def remember(mem: MemoryAPI, who: str) -> int:
...     mem.add_entity(who, type="Person")
...     return len(mem)
>>> with graphmem.open(embedder=None) as mem:
...     isinstance(mem, MemoryAPI), remember(mem, "Ada")
(True, 1)
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from .embed import Embedder
from .index.labels import RelationEntry
from .index.names import NameEntry, TypeSummary
from .index.text import TextEntry
from .store.store import Tracer
from .types import (
    Access, Duplicate, Entity, EntityVersions, Explanation, History, Hit, KHop, NamespaceInfo, Neighbors, Path, Recall,
    Relation, RelationHistoryPage, Schema, Subgraph,
)  # fmt: skip

__all__ = ["MemoryAPI"]


@runtime_checkable
class MemoryAPI(Protocol):
    """Every public method and property of a graphmem memory (see :class:`graphmem.Memory`)."""

    # -- the handle ------------------------------------------------------------------

    @property
    def namespace_name(self) -> str: ...
    @property
    def path(self) -> pathlib.Path | None: ...
    @property
    def engine(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    @property
    def vector_dim(self) -> int | None: ...
    @property
    def embedder(self) -> Embedder | None: ...
    @property
    def tracer(self) -> Tracer | None: ...
    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None: ...

    def namespace(self, name: str) -> MemoryAPI: ...
    def namespaces(self) -> list[NamespaceInfo]: ...
    def close(self, *, save_index: bool = True) -> None: ...
    def flush(self, *, save_index: bool = True) -> None: ...
    def __enter__(self) -> MemoryAPI: ...
    def __exit__(self, *exc: object) -> None: ...
    def __len__(self) -> int: ...

    # -- entities --------------------------------------------------------------------

    def add_entity(
        self, name: str, *, type: str | None = None, text: str | None = None,
        observations: Iterable[str] | None = None, properties: Mapping[str, Any] | None = None,
        embedding: Any = None, valid_from: datetime | None = None, valid_to: datetime | None = None,
        importance: float | None = None,
    ) -> Entity: ...  # fmt: skip
    def add_entities(self, entities: Iterable[Mapping[str, Any]]) -> int: ...
    def remove_observations(self, name: str, observations: Iterable[str]) -> Entity: ...
    def get_entity(self, name: str, *, as_of: datetime | None = None, known_at: datetime | None = None) -> Entity | None: ...
    def has_entities(self, names: Iterable[str]) -> list[bool]: ...
    def text_entries(self, names: Iterable[str]) -> list[TextEntry | None]: ...
    def delete_entity(self, name: str) -> bool: ...
    def delete_entities(self, names: Iterable[str]) -> list[bool]: ...
    def expire_entity(self, name: str) -> bool: ...
    def history(self, name: str, *, limit: int | None = None) -> History: ...
    def relation_history(self, name: str, *, limit: int = 25, before: str | None = None) -> RelationHistoryPage: ...
    def entity_versions(self, name: str, *, limit: int = 100) -> EntityVersions: ...
    def purge(self, *, before: datetime | None = None) -> dict[str, int]: ...

    # -- relations -------------------------------------------------------------------

    def add_relation(
        self, source: str, type: str, target: str, *, properties: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None, valid_to: datetime | None = None, replaces: bool = False,
    ) -> Relation: ...  # fmt: skip
    def add_relations(self, relations: Iterable[Any]) -> int: ...
    def get_relation(self, source: str, type: str, target: str) -> Relation | None: ...
    def has_relations(self, relations: Iterable[tuple[str, str, str]]) -> list[bool]: ...
    def delete_relation(self, source: str, type: str, target: str) -> bool: ...
    def expire_relation(self, source: str, type: str, target: str) -> bool: ...

    # -- structure -------------------------------------------------------------------

    def neighbors(
        self, name: str, *, direction: str = "both", types: Iterable[str] | str | None = None,
        as_of: datetime | None = None, known_at: datetime | None = None, limit: int | None = None,
    ) -> Neighbors: ...  # fmt: skip
    def shortest_path(
        self, source: str, target: str, *, max_hops: int | None = None, types: Iterable[str] | str | None = None,
        direction: str = "both", as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> Path | None: ...  # fmt: skip
    def all_shortest_paths(
        self, source: str, target: str, *, max_hops: int | None = None, types: Iterable[str] | str | None = None,
        direction: str = "both", limit: int = 100, as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> list[Path]: ...  # fmt: skip
    def paths_between(
        self, source: str, target: str, *, max_hops: int | None = None, types: Iterable[str] | str | None = None,
        direction: str = "both", limit: int = 10, as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> list[Explanation]: ...  # fmt: skip
    def k_hop(
        self, name: str, hops: int = 1, *, direction: str = "both", types: Iterable[str] | str | None = None,
        max_entities: int | None = None, as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> KHop: ...  # fmt: skip
    def subgraph(
        self, seeds: str | Iterable[str], hops: int = 1, *, direction: str = "both",
        types: Iterable[str] | str | None = None, max_entities: int | None = 100, max_relations: int | None = 500,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> Subgraph: ...  # fmt: skip

    # -- meaning and text ------------------------------------------------------------

    def search(
        self, query: str | Any, k: int = 10, *, types: Iterable[str] | str | None = None,
        near: str | Iterable[str] | None = None, max_hops: int | None = None, direction: str = "both",
        relation_types: Iterable[str] | str | None = None, rank: str = "similarity", decay: float = 0.5,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> list[Hit]: ...  # fmt: skip
    def recall(
        self, query: str | Any, *, k: int = 10, hops: int = 1, max_entities: int = 30, max_relations: int = 60,
        types: Iterable[str] | str | None = None, direction: str = "both",
        relation_types: Iterable[str] | str | None = None, decay: float = 0.5,
        as_of: datetime | None = None, known_at: datetime | None = None,
    ) -> Recall: ...  # fmt: skip
    def apply_once(self, request_id: str | None, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]: ...
    def forget_requests(self, *, older_than: float = 3600) -> int: ...
    def embed_missing(self) -> int: ...
    def wait_embedded(self, timeout: float | None = None, *, include_earlier: bool = True) -> bool: ...
    def find_text(self, query: str, *, limit: int | None = None) -> list[TextEntry]: ...
    def find_relations(self, names: Iterable[str] | None = None) -> list[RelationEntry]: ...
    def find_names(self, prefix: str = "", *, limit: int = 10, type: str | None = None) -> list[NameEntry]: ...
    def types_of(self, names: Iterable[str]) -> list[str | None]: ...
    def type_summary(self) -> TypeSummary: ...
    def first_written(self) -> datetime | None: ...
    def schema(self) -> Schema: ...
    def unchanged(self) -> bool: ...
    def detached(self) -> MemoryAPI: ...
    def find_duplicates(self, threshold: float = 0.9, *, k: int = 10, types: Any = None) -> list[Duplicate]: ...
    def merge(self, keep: str, other: str) -> Entity: ...

    # -- lifecycle -------------------------------------------------------------------

    def access(self, name: str) -> Access: ...
    def forget(self, *, max_entities: int | None = None, policy: str = "lru", hard: bool = False) -> list[str]: ...
    def compact(self, *, cold_after: timedelta) -> int: ...

    # -- scans, Cypher, stats --------------------------------------------------------

    def iter_entities(self, *, batch_size: int = 10_000) -> Iterator[Entity]: ...
    def iter_relations(self, *, batch_size: int = 10_000) -> Iterator[Relation]: ...
    def cypher(
        self, query: str, params: Mapping[str, Any] | None = None, *, read_only: bool = False,
        allow_file_access: bool = False,
    ) -> list[dict[str, Any]]: ...  # fmt: skip
    def cypher_table(
        self, query: str, params: Mapping[str, Any] | None = None, *, read_only: bool = False,
        allow_file_access: bool = False,
    ) -> tuple[list[str], list[list[Any]]]: ...  # fmt: skip
    def stats(self) -> dict[str, Any]: ...
