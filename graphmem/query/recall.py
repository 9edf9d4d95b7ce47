"""``recall``: what a memory knows about a query, as a ranked, capped subgraph (layer L3).

The seeds are the query's nearest entities (:func:`~graphmem.query.search.allowed_ids`
bounds them as it bounds a search); :func:`~graphmem.query.retrieval.rank_context`
expands and ranks them over one snapshot of the graph state;
:func:`~graphmem.query.retrieval.read_briefs` reads what the answer shows of
each entity. :meth:`graphmem.Memory.recall` checks the arguments once
(:func:`graphmem.inputs.recall_request`), resolves the time view and the query
vector, and calls :func:`recall`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..types import Recall, RecalledEntity
from .retrieval import rank_context, read_briefs
from .search import allowed_ids

if TYPE_CHECKING:  # annotations only: importing this module loads no index, engine or model code
    import numpy as np

    from ..index.derived import GraphSnapshot
    from ..index.entity_cache import EntityCache
    from ..index.vectors import VectorIndex
    from ..inputs import RecallRequest
    from ..records import EntityRow
    from ..store.store import Store
    from ..temporal import TimeView

__all__ = ["recall"]


def recall(store: Store, cache: EntityCache, state: GraphSnapshot, view: TimeView | None, index: VectorIndex | None,
           vector: np.ndarray, request: RecallRequest, *, namespace: str,
           text: str | None) -> tuple[Recall, Sequence[str]]:  # fmt: skip
    """The recall of ``vector`` (the query ``text``, if it was one) in ``namespace``
    as seen by ``state`` (and ``view``, a past one), and the keys of the entities it
    shows (the reads to count in the access statistics).

    ``request`` holds the checked options (:class:`graphmem.inputs.RecallRequest`):
    the ``k`` seeds of ``types`` nearest in ``index`` are expanded by ``hops``;
    each entity scores ``similarity * decay ** hops``; the best
    ``max_entities`` are kept with the ``max_relations`` strongest relations
    among them. An answer with no entity when there is no vector index yet or
    no entity of those types.
    """
    if index is None:
        return Recall(text, (), (), False), ()
    allowed = allowed_ids(state, view, namespace, request.types)
    if allowed is not None and not allowed:
        return Recall(text, (), (), False), ()
    seed_ids, seed_scores = index.search(vector, request.k, allowed)
    ranked = rank_context(
        state, index, vector, seed_ids, seed_scores, hops=request.hops, direction=request.direction,
        relation_types=request.relation_types, decay=request.decay, max_entities=request.max_entities,
        max_relations=request.max_relations,
    )  # fmt: skip
    keys = [state.ids.key_of(i) for i in ranked.ids]
    wanted = {key: id_ for key, id_ in zip(keys, ranked.ids) if key is not None}
    rows = read_briefs(store, cache, wanted, store.config, stored=len(state.ids))
    entities = tuple(
        RecalledEntity(row.name, row.type, row.text, tuple(row.observations), score, hop)
        for key, score, hop in zip(keys, ranked.scores, ranked.hops)
        if key is not None and (row := rows.get(key)) is not None
    )
    # By the ids of this state: the relations' ends are (a cached row's id is its entity's as the store held it).
    names = {id_: rows[key].name for key, id_ in wanted.items() if key in rows}
    type_names = state.type_names
    relations = tuple(
        (names[s], type_names[c], names[d]) for s, c, d in ranked.relations if s in names and d in names
    )
    return Recall(text, entities, relations, ranked.truncated), list(rows)
