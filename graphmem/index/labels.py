"""Relation types as their writers spelled them, in memory.

A relation's type is an identifier (``works_at``); a writer that used another
spelling ("works at", as MCP clients do) has it kept in the relation's
properties under :data:`RELATION_LABEL_KEY`. Showing relations without a
store read (:meth:`graphmem.Memory.find_relations`; ~0.5 ms per relation
read from the store) needs those spellings in memory: this map holds them,
for the relations that have one (usually few or none).

Keyed by (source id, type, target id). Built lazily from one scan of the
relations whose properties mention the key (``relation_labels``), then kept
by the write path: every relation written (created, or a new version with
new properties) sets or clears its entry. Entries of relations since removed
may stay: a reader only asks for relations the relation index holds, and
writing such a relation again sets its entry anew. A write through user
Cypher drops the derived state and this map with it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import RELATION_TYPE_KEY
from ..store.store import Store

__all__ = ["RELATION_LABEL_KEY", "RelationEntry", "RelationLabels"]

RELATION_LABEL_KEY = RELATION_TYPE_KEY
"""The relation property holding the type as its writer spelled it."""

Key = tuple[int, str, int]


@dataclass(frozen=True, slots=True)
class RelationEntry:
    """A current relation as :meth:`graphmem.Memory.find_relations` lists it.

    ``type`` is the type as written (the :data:`RELATION_LABEL_KEY` property
    when present), ``stored_type`` the identifier graphmem stores.
    """

    source: str
    type: str
    target: str
    stored_type: str


def label_of(properties: Any, key: str = RELATION_LABEL_KEY) -> str | None:
    """The spelling kept under ``key`` in a record's properties (a dict or its
    JSON text), if it is a string; by default a relation type's.

    Examples
    --------
    >>> label_of('{"mcp_relation_type": "works at"}'), label_of("{}"), label_of({"mcp_relation_type": 3})
    ('works at', None, None)
    """
    if isinstance(properties, str):
        if key not in properties:
            return None
        try:
            properties = json.loads(properties)
        except ValueError:
            return None
    label = properties.get(key) if isinstance(properties, dict) else None
    return label if isinstance(label, str) else None


class RelationLabels:
    """(source id, type, target id) -> the type as written, for relations that have one.

    Examples
    --------
    >>> labels = RelationLabels()
    >>> labels.written([(1, "works_at", 2), (1, "knows", 3)], ['{"mcp_relation_type": "works at"}', "{}"])
    >>> labels.shown(1, "works_at", 2), labels.shown(1, "knows", 3)
    ('works at', 'knows')
    """

    def __init__(self) -> None:
        self._labels: dict[Key, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store: Store) -> RelationLabels:
        """Build from the store: one scan (``relation_labels``). Call it under the writer lock."""
        labels = cls()
        table = store.execute_arrow("relation_labels", {"key": RELATION_LABEL_KEY})
        cols = [table.column(c).to_pylist() for c in ("source", "type", "target", "properties")]
        labels.written(list(zip(cols[0], cols[1], cols[2])), cols[3])
        return labels

    def written(self, keys: Sequence[Key], properties: Sequence[Any]) -> None:
        """Relations as just committed, with their properties (dicts or JSON text;
        ``None`` or ``""`` where the write left them as they were)."""
        with self._lock:
            for key, props in zip(keys, properties):
                if props is None or props == "":
                    continue
                label = label_of(props)
                if label is None:
                    self._labels.pop(key, None)
                else:
                    self._labels[(int(key[0]), key[1], int(key[2]))] = label

    def shown(self, source: int, type_: str, target: int) -> str:
        """The type of this current relation as written."""
        return self._labels.get((source, type_, target), type_)

    def shown_many(self, keys: Iterable[Key]) -> list[str]:
        get = self._labels.get
        return [get(k, k[1]) for k in keys]

    def __len__(self) -> int:
        return len(self._labels)
