"""Seeded synthetic graphs for the benchmarks.

The graph itself (endpoints, relation types, entity types, the attributes
behind each record) is generated with numpy in one vectorised pass, so a
1M-entity, 5M-relation graph takes a few seconds. The records the public API
takes (dicts and tuples of Python strings) are built per batch, on demand,
because 5M tuples held at once would cost gigabytes and are not what is being
measured.

Two shapes:

- ``random``: Erdős–Rényi G(n, m) with m = n * avg_degree, endpoints uniform;
- ``powerlaw``: Chung-Lu with expected degrees following a power law
  (exponent ``gamma``, default 2.5), the heavy-tailed shape of real knowledge
  graphs where a few hubs (a company, a city) touch a large share of relations.

Both drop self-loops and repeated (source, target) pairs, so each relation
record creates exactly one relation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["KINDS", "ENTITY_TYPES", "RELATION_TYPES", "Graph", "generate", "random_vectors"]

KINDS = ("random", "powerlaw")
ENTITY_TYPES = ("Person", "Company", "Project", "Document", "Place", "Event", "Concept", "Tool")
RELATION_TYPES = ("KNOWS", "WORKS_AT", "MENTIONS", "PART_OF", "RELATED_TO", "LOCATED_IN")
_WORDS = (
    "data pipeline agent memory graph vector search cluster latency schema query index model "
    "service deploy storage stream batch cache review design meeting customer contract budget "
    "release incident metric dashboard team roadmap research paper notebook experiment dataset "
    "training inference embedding kernel compiler network protocol sensor robot warehouse invoice"
).split()
_TEXT_WORDS = 8


@dataclass(frozen=True, slots=True)
class Graph:
    """A generated graph: arrays, plus record builders for the public API."""

    kind: str
    n: int
    seed: int
    src: np.ndarray  # int64, relation sources (entity indices)
    dst: np.ndarray  # int64, relation targets
    rel_type: np.ndarray  # uint8 index into RELATION_TYPES
    ent_type: np.ndarray  # uint8 index into ENTITY_TYPES
    words: np.ndarray  # (n, _TEXT_WORDS) uint8 indices into _WORDS
    rank: np.ndarray  # int32, a property
    score: np.ndarray  # float32, a property

    @property
    def m(self) -> int:
        return int(self.src.size)

    @staticmethod
    def name(i: int) -> str:
        """The entity name of index ``i``; stable, so a benchmark can derive names without the records."""
        return f"ent-{i:08d}"

    def entity_records(self, start: int, stop: int, vectors: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Records ``start:stop`` for ``add_entities``; ``vectors`` (one row per record) adds embeddings."""
        types = [ENTITY_TYPES[t] for t in self.ent_type[start:stop].tolist()]
        words = self.words[start:stop].tolist()
        ranks = self.rank[start:stop].tolist()
        scores = np.round(self.score[start:stop].astype(np.float64), 4).tolist()
        out: list[dict[str, Any]] = []
        for j, i in enumerate(range(start, stop)):
            record: dict[str, Any] = {
                "name": self.name(i),
                "type": types[j],
                "text": f"{types[j]} {i}: " + " ".join(_WORDS[w] for w in words[j]),
                "properties": {"rank": ranks[j], "score": scores[j], "shard": i % 16},
            }
            if vectors is not None:
                record["embedding"] = vectors[j]
            out.append(record)
        return out

    def relation_records(self, start: int, stop: int) -> list[tuple[str, str, str]]:
        """Relations ``start:stop`` as ``(source, type, target)`` tuples for ``add_relations``."""
        name = self.name
        return [
            (name(s), RELATION_TYPES[t], name(d))
            for s, t, d in zip(self.src[start:stop].tolist(), self.rel_type[start:stop].tolist(),
                               self.dst[start:stop].tolist())
        ]  # fmt: skip


def generate(kind: str, n: int, *, avg_degree: float = 5.0, seed: int = 42, gamma: float = 2.5) -> Graph:
    """A ``kind`` graph on ``n`` entities with about ``n * avg_degree`` relations (exactly, unless
    the shape cannot hold that many distinct pairs).

    Examples
    --------
    >>> g = generate("powerlaw", 1000, seed=1)
    >>> g.m, bool((g.src != g.dst).all())
    (5000, True)
    >>> len(set(zip(g.src.tolist(), g.dst.tolist()))) == g.m
    True
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if n < 2:
        raise ValueError("a graph needs at least 2 entities")
    rng = np.random.default_rng([seed, n, KINDS.index(kind)])
    m = min(int(round(n * avg_degree)), n * (n - 1))
    if kind == "random":
        draw = lambda size: (rng.integers(0, n, size), rng.integers(0, n, size))  # noqa: E731
    else:
        # Chung-Lu: both endpoints drawn with probability proportional to an
        # expected degree w_i ~ i^(-1/(gamma-1)). Drawn by the inverse of the
        # continuous CDF of that weight, which is O(1) per draw: a binary search
        # of a 5M-entry discrete CDF was measured at ~20 s for 25M draws (cache
        # misses). A random permutation spreads the hubs over the id range
        # instead of making them the oldest entities.
        a = 1.0 - 1.0 / (gamma - 1.0)
        top = (n + 1.0) ** a - 1.0
        perm = rng.permutation(n)

        def draw(size: int) -> tuple[np.ndarray, np.ndarray]:
            def one() -> np.ndarray:
                x = (1.0 + rng.random(size) * top) ** (1.0 / a)
                return perm[np.clip(x.astype(np.int64) - 1, 0, n - 1)]

            return one(), one()

    src, dst = _distinct_pairs(draw, n, m, rng)
    return Graph(
        kind=kind,
        n=n,
        seed=seed,
        src=src,
        dst=dst,
        rel_type=rng.integers(0, len(RELATION_TYPES), src.size, dtype=np.uint8),
        ent_type=rng.integers(0, len(ENTITY_TYPES), n, dtype=np.uint8),
        words=rng.integers(0, len(_WORDS), (n, _TEXT_WORDS), dtype=np.uint8),
        rank=rng.integers(0, 1_000_000, n, dtype=np.int32),
        score=rng.random(n, dtype=np.float32),
    )


def _distinct_pairs(draw: Any, n: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` distinct non-loop pairs from ``draw``, in random order (like real arrivals)."""
    keys = np.empty(0, np.int64)  # sorted, distinct: source * n + target
    for _ in range(64):
        want = m - keys.size
        if want <= 0:
            break
        # Oversample: the first round loses a few percent to loops and repeats
        # (hub pairs in a power-law graph), later rounds top up the remainder.
        s, d = draw(int(want * (1.05 if keys.size == 0 else 3.0)) + 16)
        s, d = np.asarray(s, np.int64), np.asarray(d, np.int64)
        fresh = _sorted_distinct((s * n + d)[s != d])
        if keys.size:
            at = np.searchsorted(keys, fresh)
            seen = keys[np.minimum(at, keys.size - 1)] == fresh
            fresh, at = fresh[~seen], at[~seen]
            keys = np.insert(keys, at, fresh)
        else:
            keys = fresh
    keys = keys[rng.permutation(keys.size)[:m]]
    return keys // n, keys % n


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2.4's hash-based ``unique`` was measured
    at ~47 s on 26M int64 here, a sort and a mask at ~2 s."""
    values = np.sort(values)
    if values.size:
        keep = np.empty(values.size, bool)
        keep[0] = True
        np.not_equal(values[1:], values[:-1], out=keep[1:])
        values = values[keep]
    return values


def random_vectors(count: int, dim: int = 384, *, seed: int = 7) -> np.ndarray:
    """``count`` L2-normalised float32 vectors.

    Examples
    --------
    >>> v = random_vectors(3, 8)
    >>> v.shape, bool(np.allclose(np.linalg.norm(v, axis=1), 1))
    ((3, 8), True)
    """
    v = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v
