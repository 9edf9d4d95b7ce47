"""Frozen result types returned by the public API.

Results are small immutable dataclasses (as in hnswlib/usearch bindings), never
bare tuples or dicts, so that fields have names and types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

__all__ = ["Entity", "Relation", "Neighbor", "Path", "Hit", "Direction"]

Direction = Literal["out", "in", "both"]


@dataclass(frozen=True, slots=True)
class Entity:
    """One remembered thing.

    ``embedding`` is the dequantized vector (float32) or ``None``; it is left
    out of equality because arrays do not compare to a single bool.
    """

    name: str
    type: str
    text: str | None
    observations: tuple[str, ...]
    properties: dict[str, Any]
    id: int
    namespace: str
    created_at: datetime
    updated_at: datetime
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed, directed relation ``source -[type]-> target``."""

    source: str
    type: str
    target: str
    properties: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Neighbor:
    """An entity adjacent to the queried one.

    ``type`` is the relation type; ``direction`` is ``"out"`` when the
    relation leaves the queried entity and ``"in"`` when it arrives.
    """

    name: str
    type: str
    direction: Literal["out", "in"]


@dataclass(frozen=True, slots=True)
class Path:
    """A path through the graph: ``nodes[i] -relations[i]- nodes[i+1]``.

    A path is always truthy, even with zero hops; ``len(path)`` is its hop
    count. "No path" is ``None``, never an empty ``Path``.

    Examples
    --------
    >>> p = Path(nodes=("a", "b"), relations=("KNOWS",))
    >>> len(p), bool(Path(nodes=("a",), relations=()))
    (1, True)
    """

    nodes: tuple[str, ...]
    relations: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.relations)

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result. ``hops`` and ``path`` are set only for ``near=`` searches."""

    name: str
    score: float
    hops: int | None = None
    path: Path | None = None
