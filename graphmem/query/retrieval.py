"""Composed semantic x structural queries (layer L3).

``search(near=...)`` restricts a vector search to the entities within some hops
of anchor entities and explains each hit with the path that connects it;
``recall`` gathers what the memory knows about a question as a small ranked
subgraph; ``paths_between`` explains how two entities are connected.

Scores
------
``rank="similarity"``: the cosine similarity between the query and the hit.
``rank="hybrid"``: ``similarity * decay ** hops``, where ``hops`` is the
distance from the nearest anchor (anchors are 0 hops away). Both are
deterministic; ties go to the smaller entity id (the older entity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any
from weakref import ref

import numpy as np
from pyroaring import BitMap

from . import traversal
from ..algorithms import paths as kernels
from ..algorithms.near import MAX_K, NearTop, PackedAdjacency, near_top_k, pack_adjacency
from ..algorithms.paths import Reach
from ..index.derived import GraphSnapshot
from ..index.vectors import VectorIndex
from .entity import fetch_rows
from ..records import BriefRow, EntityRow, brief_from_db, key_prefix
from ..types import Hit, Path

if TYPE_CHECKING:
    from ..config import StoreConfig
    from ..index.adjacency import EdgeView
    from ..index.entity_cache import EntityCache
    from ..store.store import Store

__all__ = ["near_search", "recall_seeds", "rank_context", "read_briefs"]

HYBRID_EXACT_LIMIT = 200_000
"""Up to this many candidates, hybrid ranking scores every one exactly; above,
it re-ranks an over-fetched similarity top list (documented as approximate)."""


# Hits are built as plain objects and then made Hits: a frozen dataclass's
# __init__ assigns each field through object.__setattr__, ~1.5 us for a Hit and
# its Path, a tenth of a near search for ten hits, and even calling each slot's
# own setter (which a frozen class's guard does not see) cost ~0.5 us. A twin
# class with the very same slots takes plain attribute stores (which the
# interpreter specialises), and CPython lets an object change its class to one
# of identical layout: the object then is a Hit, built in ~0.4 us with its
# Path (timeit, one pair at a time). The same objects (tests/test_retrieval.py compares them with ones built
# the usual way, and pins the fields: one added to Hit or Path would be a slot
# of the twin too, left unset here).
_new = object.__new__


class _HitTwin:
    __slots__ = Hit.__slots__


class _PathTwin:
    __slots__ = Path.__slots__


_WAYS = ("in", "out")  # indexed by an ``along`` flag


def _build_hits(names: tuple[str, ...], relations: tuple[str, ...], ways: tuple[str, ...], offsets: list[int],
                scores: list[float], namespace: str) -> tuple[list[Hit], list[str]]:  # fmt: skip
    """The hits and their keys (in ``namespace``): hit ``i`` scored
    ``scores[i]``; its path visits ``names[offsets[i]:offsets[i + 1]]`` (an
    empty run: not reached, no hit), reaching each over ``relations[p]``
    followed ``ways[p]`` (whatever is at a path's first place is not read).
    One loop, no call per hit: a call per hit cost ~7% of this."""
    new = _new
    hit_twin, path_twin, hit_cls, path_cls = _HitTwin, _PathTwin, Hit, Path
    prefix = key_prefix(namespace)
    hits: list[Hit] = []
    keys: list[str] = []
    add, add_key = hits.append, keys.append
    lo = offsets[0]
    for hi, score in zip(offsets[1:], scores):
        if hi > lo:
            path: Any = new(path_twin)
            path.nodes = names[lo:hi]
            path.relations = relations[lo + 1 : hi]
            path.directions = ways[lo + 1 : hi]
            path.__class__ = path_cls
            hit: Any = new(hit_twin)
            hit.name = name = names[hi - 1]
            hit.score = score
            hit.hops = hi - lo - 1
            hit.path = path
            hit.__class__ = hit_cls
            add(hit)
            add_key(prefix + name)
        lo = hi
    return hits, keys


def _named_hits(state: GraphSnapshot, namespace: str, scores: list[float], offsets: list[int], path_ids: list[int],
                path_codes: list[int], path_along: list[int]) -> tuple[list[Hit], list[str]]:  # fmt: skip
    """The hits, each with its path from its nearest anchor: hit ``i`` scored
    ``scores[i]`` and its path visits ``path_ids[offsets[i]:offsets[i + 1]]``
    (an empty run: not reached, no hit), as traced by :meth:`Reach.paths_to`."""
    skip = len(key_prefix(namespace))
    # One lookup per distinct id: the paths of a 2-hop search share their
    # anchor and most of their middles (~29 nodes, ~15 distinct, for 10 hits).
    # Every id of the view the paths were found in has a name (keys_ever).
    distinct = list(dict.fromkeys(path_ids))
    named = dict(zip(distinct, [key[skip:] for key in state.ids.keys_ever(distinct)]))  # type: ignore[index]
    return _build_hits(tuple(map(named.__getitem__, path_ids)), _relations(state, path_codes), _ways(path_along),
                       offsets, scores, namespace)  # fmt: skip


def _pick(table: Sequence[str], at: list[int]) -> tuple[str, ...]:
    """``table[i]`` for each ``i`` of ``at``: one ``itemgetter`` builds the tuple
    in C, ~0.45 us for a near search's ~29 places where ``tuple(map(...))``
    cost ~1.3 (it returns the item itself, not a tuple, for a single index).

    >>> _pick(["R", "S"], [1, -1]), _pick(["R", "S"], [0]), _pick(["R"], [])
    (('S', 'S'), ('R',), ())
    """
    return itemgetter(*at)(table) if len(at) > 1 else tuple(map(table.__getitem__, at))


def _ways(along: list[int]) -> tuple[str, ...]:
    """The direction word of each ``along`` flag."""
    return _pick(_WAYS, along)


def _relations(state: GraphSnapshot, codes: list[int]) -> tuple[str, ...]:
    """The type name of each code; a seed's -1 reads the last name (or ""): seeds
    start each path, outside its relations' slice."""
    type_names = state.type_names
    return _pick(type_names, codes) if type_names else ("",) * len(codes)


@lru_cache(maxsize=64)
def _prefix(namespace: str) -> np.ndarray:
    """The UTF-8 bytes every key of ``namespace`` starts with (its names do not)."""
    # A writable copy: numba compiles a read-only array (frombuffer's) as another type.
    return np.frombuffer(key_prefix(namespace).encode(), np.uint8).copy()


_packed_views: dict[int, tuple[ref[EdgeView], PackedAdjacency]] = {}
"""Each live view's packed adjacency, by the view's id; an entry leaves with its
view (the weak reference's callback), so an id is never read for a later view."""


def _packed(view: EdgeView) -> PackedAdjacency:
    """``view``'s adjacency packed for the near kernel
    (:func:`~graphmem.algorithms.near.pack_adjacency`), packed at the view's first
    near search and kept while the view lives: searches run on one view until a
    write, and stores searched in turn (or threads on different views) each keep
    theirs rather than packing again per call.

    >>> from graphmem.index.adjacency import EdgeIndex
    >>> first = EdgeIndex.from_arrays([0], [1], ["R"]).view
    >>> second = EdgeIndex.from_arrays([1], [0], ["R"]).view
    >>> packed = _packed(first)
    >>> _packed(second) is not packed and _packed(first) is packed
    True
    >>> del first; id(packed) not in [id(p) for _, p in _packed_views.values()]
    True
    """
    key = id(view)
    entry = _packed_views.get(key)
    if entry is not None and entry[0]() is view:
        return entry[1]
    packed = pack_adjacency(view.adj)

    def forget(_: object) -> None:
        _packed_views.pop(key, None)

    _packed_views[key] = (ref(view, forget), packed)
    return packed


def _near_hits(state: GraphSnapshot, namespace: str, answer: NearTop) -> tuple[list[Hit], list[str]]:
    """The hits of a :func:`~graphmem.algorithms.near.near_top_k` answer and
    their keys, named (by the kernel from the saved keys, else here, each
    distinct node once)."""
    names = answer.names
    if names is None:
        skip = len(key_prefix(namespace))
        named = [key[skip:] for key in state.ids.keys_ever(answer.ids)]  # type: ignore[index]
        places = tuple(map(named.__getitem__, answer.path))
    else:
        places = tuple(names)
    # Tuples, so each hit's slices are its tuples already (a list's slice is a list to copy).
    return _build_hits(places, _relations(state, answer.codes), _ways(answer.along), answer.offsets, answer.scores,
                       namespace)  # fmt: skip


def _hits(
    state: GraphSnapshot, namespace: str, found: Reach, ids: np.ndarray, scores: np.ndarray
) -> tuple[list[Hit], list[str]]:
    """The hits of ``ids``, each with a shortest path from its nearest anchor
    (traced for all hits in one compiled pass: :meth:`Reach.paths_to`)."""
    offsets, path_ids, path_codes, path_along = found.paths_to(ids)
    return _named_hits(state, namespace, scores.tolist(), offsets.tolist(), path_ids.tolist(), path_codes.tolist(),
                       path_along.tolist())  # fmt: skip


def near_search(
    state: GraphSnapshot,
    index: VectorIndex,
    namespace: str,
    query: np.ndarray,
    k: int,
    *,
    anchors: Sequence[int],
    max_hops: int | None,
    direction: str,
    relation_types: Iterable[str] | str | None,
    allowed_types: BitMap | None,
    rank: str,
    decay: float,
) -> tuple[list[Hit], list[str]]:
    """Top ``k`` hits among the entities within ``max_hops`` of ``anchors``, and their keys.

    The neighbourhood (a breadth-first search from all anchors at once, which
    also records a shortest path back to the nearest anchor) becomes a bitmap
    that the vector index's planner treats like any filter. ``state``: the
    snapshot the anchors were looked up in (and ``allowed_types`` taken
    from), so the anchors, the neighbourhood and the hits' names are of one
    state (see :mod:`graphmem.query.traversal`).

    The common case (similarity, no entity filter, ``k`` up to
    :data:`~graphmem.algorithms.near.MAX_K`, a neighbourhood the index would
    score exactly) is one compiled call from the anchors to the traced top
    ``k`` (:func:`~graphmem.algorithms.near.near_top_k`): the same hits,
    scores and paths as the general path below, without its bitmaps.
    """
    view = state.view
    if rank == "similarity" and allowed_types is None and k <= MAX_K:
        # No filter is no mask (relation_type_mask's answer, without its four calls).
        mask = None if relation_types is None else traversal.relation_type_mask(state, relation_types)
        adj, nodes = view.adj, view.nodes
        keys = state.ids.saved_arrays()
        prefix = _prefix(namespace)
        packed = _packed(view)

        def top(rows: np.ndarray, inv_norms: np.ndarray, live: np.ndarray, exact_limit: int) -> NearTop | Reach:
            return near_top_k(adj, anchors, max_hops, rows, inv_norms, live, query, k, direction=direction,
                              allowed=mask, exact_limit=exact_limit, n_nodes=nodes, keys=keys,
                              prefix=prefix, packed=packed)  # fmt: skip

        answer = index.with_rows(top)
        if isinstance(answer, NearTop):
            return _near_hits(state, namespace, answer)
        found = answer  # more candidates than the index scores exactly: it searches the ball through HNSW
    else:
        found = traversal.reach(state, anchors, max_hops, direction=direction, types=relation_types)
    allowed = BitMap(found.nodes.tolist())
    if allowed_types is not None:
        allowed &= allowed_types
    if rank == "similarity":
        ids, scores = index.search(query, k, allowed)
        return _hits(state, namespace, found, ids, scores)
    candidates = allowed & index.labels
    if len(candidates) <= HYBRID_EXACT_LIMIT:
        ids = np.asarray(candidates.to_array(), np.int64)
        sims = index.scores(query, ids)
    else:
        ids, sims = index.search(query, min(len(candidates), max(50 * k, 1000)), candidates)
    hops = found.hops[found.positions(ids)].astype(np.float64)
    hybrid = (sims * np.power(decay, hops)).astype(np.float32)
    order = np.lexsort((ids, -hybrid))[:k]
    return _hits(state, namespace, found, ids[order], hybrid[order])


def recall_seeds(index: VectorIndex, query: np.ndarray, k: int, allowed: BitMap | None) -> tuple[np.ndarray, np.ndarray]:
    """The semantic seeds of a recall: the ``k`` most similar entities."""
    return index.search(query, k, allowed)


@dataclass(frozen=True, slots=True)
class RankedContext:
    """Ids of a recall's entities ranked best first with scores and hops, and its relations as id triples."""

    ids: tuple[int, ...]
    scores: tuple[float, ...]
    hops: tuple[int, ...]
    relations: tuple[tuple[int, int, int], ...]
    truncated: bool


def rank_context(
    state: GraphSnapshot,
    index: VectorIndex,
    query: np.ndarray,
    seed_ids: np.ndarray,
    seed_scores: np.ndarray,
    *,
    hops: int,
    direction: str,
    relation_types: Iterable[str] | str | None,
    decay: float,
    max_entities: int,
    max_relations: int,
) -> RankedContext:
    """Expand the seeds by ``hops`` and keep the best ``max_entities`` and ``max_relations``.

    An entity's score is ``similarity * decay ** hops`` (hops from the nearest
    seed); an entity without a vector inherits the similarity of the seed it
    was reached from, so a bare but well-connected fact is not lost. Relations
    among the kept entities are ranked by the sum of their endpoints' scores.
    """
    if len(seed_ids) == 0:
        return RankedContext((), (), (), (), False)
    view = state.view
    found = traversal.reach(state, seed_ids.tolist(), hops, direction=direction, types=relation_types)
    ids = found.nodes.astype(np.int64)
    sims = index.scores(query, ids)
    labels = index.labels
    has_vector = np.fromiter((int(i) in labels for i in ids.tolist()), bool, len(ids))
    seed_sim = dict(zip(seed_ids.tolist(), seed_scores.tolist()))
    roots = _roots(found)
    root_sim = np.array([seed_sim.get(int(found.nodes[r]), 0.0) for r in roots.tolist()], np.float32)
    sims = np.where(has_vector, sims, root_sim)
    for i, id_ in enumerate(ids.tolist()):
        if id_ in seed_sim:
            sims[i] = seed_sim[id_]
    score = (sims * np.power(decay, found.hops.astype(np.float64))).astype(np.float32)
    order = np.lexsort((ids, -score))
    kept = order[:max_entities]
    kept_ids = ids[kept]
    mask = traversal.relation_type_mask(state, relation_types)
    rows, capped = kernels.induced_edges(view.adj, kept_ids, allowed=mask, n_nodes=view.nodes)
    weight = dict(zip(kept_ids.tolist(), score[kept].tolist()))
    ranked = sorted(
        (tuple(r) for r in rows.tolist()),
        key=lambda r: (-(weight[r[0]] + weight[r[2]]), r[0], r[1], r[2]),
    )
    return RankedContext(
        ids=tuple(kept_ids.tolist()),
        scores=tuple(float(s) for s in score[kept]),
        hops=tuple(int(h) for h in found.hops[kept]),
        relations=tuple(ranked[:max_relations]),
        truncated=len(ids) > max_entities or len(ranked) > max_relations or capped or found.truncated,
    )


def _roots(found: Reach) -> np.ndarray:
    """For each node of ``found``, the position of the seed it was reached from.

    Breadth-first order puts every parent before its children, so one pass
    settles them all.
    """
    parents = found.parents.tolist()
    roots = list(range(len(parents)))
    for i, parent in enumerate(parents):
        if parent >= 0:
            roots[i] = roots[parent]
    return np.asarray(roots, np.int64)


def read_briefs(
    store: Store, cache: EntityCache, wanted: Mapping[str, int], config: StoreConfig, *, stored: int,
) -> dict[str, EntityRow | BriefRow]:
    """What ``recall`` shows of each entity of ``wanted`` (key -> id): cached
    rows, the rest read brief.

    A cached full row or brief row is used as it is; the other keys are read
    in blocks (:func:`brief_blocks`): each block is one statement of 32, 16 or
    4 primary-key reads joined by ``UNION ALL`` (``entity_brief_thirtytwo``,
    ``entity_brief_sixteen``, ``entity_brief_four``), a lone key one
    ``entity_brief``; the brief rows are cached. Each statement reads the type,
    text, observations and packed text only: the id is ``wanted``'s and the
    name the rest of the key, and a row says which of the block's keys it is
    by its slot. On kuzu 0.11.3 a keyed read costs a lookup (~0.05 ms of CPU
    at 1M entities) and a result pipeline of its own (~0.15 ms), whatever
    the block, plus each column it reads: 30 random keys at 1M entities (raw
    engine, load 1-2, p50 of 30 rounds, two runs) took 9.6 and 14.7 ms of CPU
    in one block of 32 reading these 4 columns, 11.7 and 18.7 in two blocks
    of 16 reading the 7 of before (key, id and name as well) in the same
    rounds; blocks of 16 or of 32 cost alike when they read the same columns.
    In graphmem's store (recall's own 30 keys per query, the two ways
    alternating, cache cleared before each): 10.0 and 10.2 ms of CPU against
    11.2 and 12.1, a lookup per key the floor of both. Earlier, at 100k: 30
    keys read one by one took 7.3 ms of CPU, in two blocks of 16 5.3-5.6
    (LadybugDB ~1.3 ms either way). A keyed read of many rows through one list is not an option:
    ``UNWIND`` then ``MATCH`` on the key, or ``key IN $keys``, scans the table
    instead of using its index (66-99 ms at 100k), and so does a filter on the
    internal id (30-70 ms at 1M). Only when so many rows are missing that a
    scan pays (``config.use_join``) are they read with
    :func:`graphmem.query.entity.fetch_rows` (full rows, one join, cached).
    Entities missing from the store are left out.
    """
    generation = cache.generation
    found: dict[str, EntityRow | BriefRow] = {}
    missing = []
    for key in wanted:
        row = cache.lookup_brief(key)
        if row is None:
            missing.append(key)
        else:
            found[key] = row
    if config.use_join(len(missing), stored):
        found.update(fetch_rows(store, cache, missing, config, stored=stored, remember=True))
        return found
    for block in brief_blocks(missing):
        if len(block) == 1:
            rows = store.execute("entity_brief", {"key": block[0]})
            read = [(block[0], rows[0])] if rows else []
        else:
            params = dict(zip(_SLOTS, block))
            if len(block) == 32:
                rows = store.execute("entity_brief_thirtytwo", params)
            elif len(block) == 16:
                rows = store.execute("entity_brief_sixteen", params)
            else:
                rows = store.execute("entity_brief_four", params)
            # A row of an unused slot only if user Cypher wrote an entity with the empty key: not asked for.
            read = [(block[row[0]], row[1:]) for row in rows if block[row[0]] != _NO_KEY]
        for key, fields in read:
            brief = found[key] = brief_from_db(key, wanted[key], fields)
            cache.put_brief_if_current(brief, generation)
    return found


_BLOCKS = (32, 16, 4)
_SLOTS = tuple(f"k{i}" for i in range(max(_BLOCKS)))  # the blocks' parameters: $k0, $k1, ...
_NO_KEY = ""
"""Fills a block's unused slots: every key holds the namespace separator, so no entity has this one."""


def brief_blocks(keys: Sequence[str]) -> list[list[str]]:
    """How :func:`read_briefs` reads the brief rows of ``keys`` (distinct): in
    blocks of 32, 16 or 4 (``entity_brief_thirtytwo``, ``entity_brief_sixteen``,
    ``entity_brief_four``), each filled up with :data:`_NO_KEY` (at most 3
    unused slots: each costs a lookup), and a last lone key by itself
    (``entity_brief``).

    Examples
    --------
    >>> [(len(block), block.count("")) for block in brief_blocks([str(i) for i in range(30)])]
    [(32, 2)]
    >>> [(len(block), block.count("")) for block in brief_blocks([str(i) for i in range(28)])]
    [(16, 0), (4, 0), (4, 0), (4, 0)]
    >>> [(len(block), block.count("")) for block in brief_blocks([str(i) for i in range(9)])]
    [(4, 0), (4, 0), (1, 0)]
    >>> brief_blocks(["a", "b", "c"])
    [['a', 'b', 'c', '']]
    """
    out: list[list[str]] = []
    at, left = 0, len(keys)
    for size in _BLOCKS:
        while left >= max(size - 3, 2):
            take = min(size, left)
            out.append([*keys[at : at + take], *[_NO_KEY] * (size - take)])
            at, left = at + take, left - take
    if left:
        out.append([keys[at]])
    return out
