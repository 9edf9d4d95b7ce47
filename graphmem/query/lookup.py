"""Lookups answered from the derived state alone, without the store (layer L3).

Which names are entities and which triples are relations
(:meth:`graphmem.Memory.has_entities` / ``has_relations``), the text entries
and types of names, the type summary and the relations touching some names:
each a plain function over one snapshot of the graph state (and the name,
text or label index built from it), given arguments already checked by the
facade. None reads the clock: the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..index.labels import RelationEntry
from ..index.names import TypeSummary, summarise_types
from ..records import key_name, key_prefix

if TYPE_CHECKING:
    from ..index.derived import DerivedState, GraphSnapshot
    from ..index.labels import RelationLabels
    from ..index.names import NameIndex
    from ..index.text import TextEntry, TextIndex

__all__ = ["entities_present", "relation_entries", "relations_present", "text_entries", "type_summary", "types_of"]


def _ids(state: DerivedState | GraphSnapshot, namespace: str, names: Sequence[str]) -> np.ndarray:
    """The id of each name of ``namespace`` (-1 for one that is not a current entity), in one pass."""
    prefix = key_prefix(namespace)
    return state.ids.ids_of([prefix + name for name in names])


def entities_present(state: DerivedState, namespace: str, names: Sequence[str], now_us: int) -> list[bool]:
    """Whether each name is a current entity whose validity covers ``now_us`` (µs since
    the epoch): what :meth:`graphmem.Memory.get_entity` would find, from the id map and
    the validity bounds."""
    ids = _ids(state, namespace, names)
    hidden, _ = state.bounds.invalid_at(now_us)
    present: list[bool] = ((ids >= 0) & ~np.isin(ids, hidden)).tolist()
    return present


def relations_present(state: DerivedState, namespace: str, triples: Sequence[tuple[str, str, str]]) -> list[bool]:
    """Whether each (source, type, target) of ``namespace`` is a current relation, in one
    vectorised probe of the relation index."""
    src = _ids(state, namespace, [s for s, _, _ in triples])
    dst = _ids(state, namespace, [d for _, _, d in triples])
    code_of = state.edges.code_of
    codes = np.array([-1 if (code := code_of(t)) is None else code for _, t, _ in triples], np.int32)
    known = (src >= 0) & (dst >= 0) & (codes >= 0)
    found = np.zeros(len(triples), bool)
    if known.any():
        found[known] = state.edges.contains_many(src[known], codes[known], dst[known])
    present: list[bool] = found.tolist()
    return present


def text_entries(state: DerivedState, text: TextIndex, namespace: str, names: Sequence[str],
                 present: Sequence[bool]) -> list[TextEntry | None]:  # fmt: skip
    """The text entry of each name that is ``present`` (``None`` for the others)."""
    ids = _ids(state, namespace, [n for n, ok in zip(names, present) if ok]).tolist()
    found = iter(text.get(namespace, ids))
    return [next(found) if ok else None for ok in present]


def types_of(state: DerivedState, index: NameIndex, keys: Sequence[str]) -> list[str | None]:
    """The type of each key's current entity (``None`` for one that is not), one lookup each."""
    id_of = state.ids.id_of
    out: list[str | None] = []
    for key in keys:
        id_ = id_of(key)
        out.append(None if id_ is None else index.type_of(id_))
    return out


def type_summary(snap: GraphSnapshot, index: NameIndex) -> TypeSummary:
    """Counts by type, how types connect and the validity bounds of current facts, in one
    vectorised pass over the relations of ``snap`` (``index``: its namespace's names)."""
    from ..index.derived import NEVER_AFTER, NEVER_BEFORE  # the derived state's module loads the compiled kernels

    src, codes, dst = snap.arrays()
    ents, rels = snap.bounds.entities, snap.bounds.relations
    bounds = (ents.keys, rels.keys >> 32, np.concatenate([ents.start, rels.start]),
              np.concatenate([ents.end, rels.end]))  # fmt: skip
    return summarise_types(index, src, codes, dst, list(snap.type_names[:snap.types]), bounds,
                           (NEVER_BEFORE, NEVER_AFTER))  # fmt: skip


def relation_entries(snap: GraphSnapshot, labels: RelationLabels, namespace: str,
                     names: Sequence[str] | None) -> list[RelationEntry]:  # fmt: skip
    """The current relations of ``namespace`` with an end among ``names`` (every one for
    ``None``), ordered by source id, target id, then type code; each with its type as written."""
    if names is None:
        src, codes, dst = snap.arrays()
        members = np.asarray(snap.namespaces.members(namespace).to_array(), np.int64)
        keep = np.isin(src, members)
        rows = np.column_stack([src[keep], codes[keep].astype(np.int64), dst[keep]])
    else:
        ids = _ids(snap, namespace, names)
        rows = snap.incident_many(ids[ids >= 0])
        if len(rows):
            # Sorted by source, target, type, each once (np.unique(axis=0) would import
            # numpy.ma at a process's first call, ~25 ms of an MCP server's first answer).
            rows = rows[np.lexsort((rows[:, 1], rows[:, 2], rows[:, 0]))]
            keep = np.ones(len(rows), bool)
            keep[1:] = (rows[1:] != rows[:-1]).any(axis=1)
            rows = rows[keep]
    type_names = snap.type_names
    key_ever = snap.ids.key_ever  # an end deleted since the snapshot keeps its name
    shown = labels.shown
    out = []
    for s, c, d in rows.tolist():
        source, target = key_ever(s), key_ever(d)
        stored = type_names[c]
        # Every id in the snapshot's relations has a key (key_ever keeps deleted ones).
        out.append(RelationEntry(key_name(source), shown(s, stored, d),  # type: ignore[arg-type]
                                 key_name(target), stored))  # type: ignore[arg-type]
    return out
