"""Every current relation of a namespace, in the MCP reference's shape, fast.

``read_graph`` (the MCP tool and the ``memory://knowledge-graph`` resource)
shows every relation as ``{"from", "to", "relationType"}``.
:meth:`Memory.find_relations` names each end through the id map, one key
lookup and one :class:`~graphmem.index.labels.RelationEntry` per relation:
~2.4 us a relation, 0.24 s of CPU at 100k relations, the largest part of a
``read_graph`` after the JSON. The caller of ``read_graph`` has just listed
every entity of the namespace (:meth:`Memory.find_text` of ``""``, in id
order), so the ends are named here from that list, for all the relations at
once (one ``searchsorted``): 0.02 s at 100k.

A plain function beside the facade rather than a method of it, reading the
same parts :meth:`Memory.find_relations` reads (the derived state's snapshot,
the map of types as written), so the facade stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..index.text import TextEntry
from ..records import key_name

if TYPE_CHECKING:
    from .facade import Memory

__all__ = ["relation_dicts"]


def relation_dicts(mem: Memory, entries: Sequence[TextEntry]) -> list[dict[str, Any]]:
    """Every current relation of ``mem``'s namespace as ``{"from", "to", "relationType"}``.

    The same relations, in the same order (by source id, target id, then
    type) and with the same type as written, as
    ``[{"from": r.source, "to": r.target, "relationType": r.type} for r in
    mem.find_relations()]``. ``entries`` are the namespace's entities by id
    (:meth:`Memory.find_text` of ``""``); an end missing from them (an entity
    created or deleted between that call and this one) is named through the id
    map, as :meth:`Memory.find_relations` names every end.

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entities([{"name": n} for n in ("Alice", "Acme", "Bob")])
    ...     _ = mem.add_relations([("Alice", "works_at", "Acme", {"mcp_relation_type": "works at"}),
    ...                            ("Bob", "KNOWS", "Alice")])
    ...     relation_dicts(mem, mem.find_text(""))
    [{'from': 'Alice', 'to': 'Acme', 'relationType': 'works at'}, {'from': 'Bob', 'to': 'Alice', 'relationType': 'KNOWS'}]
    """
    mem._store.check_open()
    labels = mem._relation_labels()
    state = mem._derived.get().snapshot()  # the relations and their ends' names of one state
    src, codes, dst = state.arrays()
    members = np.asarray(state.namespaces.members(mem._namespace).to_array(), np.int64)
    keep = np.isin(src, members)
    src, codes, dst = src[keep], codes[keep], dst[keep]
    if not len(src):
        return []
    ids = np.fromiter((e.id for e in entries), np.int64, len(entries))
    names = [e.name for e in entries]
    sources = _names(src, ids, names, state.ids.key_ever)
    targets = _names(dst, ids, names, state.ids.key_ever)
    stored = np.asarray(state.type_names, dtype=object)[codes.astype(np.int64)].tolist()
    shown = labels.shown_many(zip(src.tolist(), stored, dst.tolist())) if len(labels) else stored
    return [{"from": s, "to": d, "relationType": t} for s, d, t in zip(sources, targets, shown)]


def _names(ends: np.ndarray, ids: np.ndarray, names: list[str], key_ever: Any) -> list[str]:
    """The names of the entities ``ends`` (ids), from ``ids``/``names`` (sorted by id) or else the id map."""
    if not len(ids):
        return [key_name(key_ever(i)) for i in ends.tolist()]
    at = np.minimum(np.searchsorted(ids, ends), len(ids) - 1)
    found = ids[at] == ends
    out = [names[i] for i in at.tolist()]
    if not found.all():
        for k in np.flatnonzero(~found).tolist():
            out[k] = key_name(key_ever(int(ends[k])))
    return out
