"""Seeded data for the vector benchmarks: clustered unit vectors and short texts.

Synthetic vectors stand in for real embeddings at sizes no model run here
could embed (1M texts at ~300/s is an hour). Isotropic gaussian noise in 384
dimensions would make a needlessly hard and unrealistic data set: every point
is then almost equidistant from every other one, which sentence embeddings are
not (their neighbourhoods have a low intrinsic dimension). So each cluster is a
gaussian with a low-rank covariance (its own random 32-dimensional subspace)
plus isotropic noise, and the mixture has 1,000 equally likely clusters. :func:`hardness` reports figures that make the choice
checkable against the real-model corpus (the JSON carries them for both).

Queries are drawn from the same mixture with another seed, so they are held
out: no query is a stored vector.

The texts are memory-like sentences from templates (who did what, when;
preferences; facts about projects), varied enough that the model's
embeddings spread out instead of collapsing onto a few template shapes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["ClusterModel", "clustered", "hardness", "corpus_texts", "query_texts"]


@dataclass(frozen=True, slots=True)
class ClusterModel:
    """A mixture of ``clusters`` low-rank gaussians on the unit sphere in ``dim`` dimensions."""

    dim: int
    centers: np.ndarray  # (clusters, dim) unit vectors
    bases: np.ndarray  # (clusters, rank, dim): each cluster's spread directions
    spread: float
    noise: float

    @classmethod
    def make(cls, dim: int = 384, *, clusters: int = 1000, rank: int = 32, spread: float = 1.0,
             noise: float = 0.4, seed: int = 42) -> ClusterModel:  # fmt: skip
        rng = np.random.default_rng([seed, 1])
        centers = rng.standard_normal((clusters, dim), dtype=np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        # Rows scaled so a unit-variance coefficient vector gives a term of norm ~1.
        bases = rng.standard_normal((clusters, rank, dim), dtype=np.float32) / np.float32(np.sqrt(rank * dim))
        return cls(dim, centers, bases, spread, noise)

    @property
    def clusters(self) -> int:
        return int(self.centers.shape[0])

    def sample(self, n: int, seed: int | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``n`` unit float32 vectors in random order, with the cluster of each."""
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n, np.full(self.clusters, 1.0 / self.clusters))
        labels = np.repeat(np.arange(self.clusters), counts)
        order = rng.permutation(n)  # stored order: clusters interleaved, as real arrivals are
        out = np.empty((n, self.dim), np.float32)
        rank = self.bases.shape[1]
        start = 0
        # One matrix product per cluster (1,000 iterations, ~1k rows each at 1M):
        # vectorised within a cluster without materialising (n, rank, dim).
        for c, count in enumerate(counts.tolist()):
            if count == 0:
                continue
            z = rng.standard_normal((count, rank), dtype=np.float32)
            block = z @ self.bases[c]
            block *= np.float32(self.spread)
            block += self.centers[c]
            noise = rng.standard_normal((count, self.dim), dtype=np.float32)
            block += noise * np.float32(self.noise / np.sqrt(self.dim))
            out[order[start:start + count]] = block
            start += count
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out, labels[np.argsort(order)]


def clustered(n: int, queries: int, *, dim: int = 384, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """``n`` stored vectors and ``queries`` held-out query vectors from one mixture."""
    model = ClusterModel.make(dim, seed=seed)
    data, _ = model.sample(n, [seed, n, 2])
    held_out, _ = model.sample(queries, [seed, n, 3])
    return data, held_out


def hardness(data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How hard a data set is for approximate search, from the exact top-10.

    ``nn1_cos``/``nn10_cos``: mean cosine of the true 1st and 10th neighbour;
    ``random_cos``: mean cosine to random stored points; ``contrast``: mean
    distance to a random point over distance to the 10th neighbour (the
    "relative contrast": near 1 means neighbours barely stand out, which is
    what makes HNSW recall fall).
    """
    rng = np.random.default_rng(0)
    sample = data[rng.integers(0, len(data), 256)]
    rand = queries @ sample.T
    nn = np.einsum("qd,qkd->qk", queries, data[truth[:, [0, -1]]])
    d_rand = 1.0 - rand.mean(axis=1)
    d_10 = np.maximum(1.0 - nn[:, 1], 1e-6)
    return {
        "nn1_cos": float(nn[:, 0].mean()),
        "nn10_cos": float(nn[:, 1].mean()),
        "random_cos": float(rand.mean()),
        "contrast": float(np.median(d_rand / d_10)),
    }


# -- texts -------------------------------------------------------------------------

_PEOPLE = ["Alice", "Bob", "Chen Wei", "Dana", "Emeka", "Farah", "Gustavo", "Hana", "Ivan", "Jaya", "Kofi",
           "Lena", "Mateo", "Nadia", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tomoko"]
_ROLES = ["the data engineer", "our CTO", "a junior developer", "the sales lead", "the research group",
          "an intern", "the support desk", "the security officer", "a contractor", "the product manager"]
_VERBS = ["migrated", "reviewed", "benchmarked", "documented", "deployed", "refactored", "debugged", "designed",
          "presented", "tested", "rolled back", "estimated", "paused", "rewrote", "monitored"]
_THINGS = ["the billing pipeline", "a Kubernetes cluster", "the mobile app", "the quarterly report",
           "a graph database", "the onboarding guide", "an ETL job in Rust", "the marketing website",
           "a fraud detection model", "the office network", "the customer survey", "a React dashboard",
           "the backup policy", "an LLM agent", "the search service", "a payment gateway", "the data warehouse",
           "an internal wiki", "the CI runners", "a vector index", "the invoice parser", "the recommendation engine",
           "a Postgres replica", "the holiday schedule", "the hiring plan"]
_WHEN = ["last week", "on Monday", "in March", "before the launch", "after the outage", "during the offsite",
         "yesterday", "two sprints ago"]
_LIKES = ["prefers", "dislikes", "is allergic to", "always orders", "collects", "is learning", "recommends",
          "avoids"]
_OBJECTS = ["green tea", "spicy food", "vinyl records", "Python type hints", "early meetings", "Italian coffee",
            "mechanical keyboards", "long walks", "jazz", "sci-fi novels", "dark mode", "pair programming",
            "cats", "cycling to work", "chess", "sourdough bread"]
_PLACES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Berlin", "São Paulo", "Melbourne", "Oslo", "Austin", "Pune"]
_FACTS = ["{p} lives in {place} and {like} {obj}.",
          "{p} moved to {place} {when}.",
          "{p} {like} {obj}.",
          "{role} {verb} {thing} {when}.",
          "{p} {verb} {thing} with {q}.",
          "Meeting note: {p} and {q} discussed {thing}; follow up {when}.",
          "{thing} failed {when}; {p} is on call.",
          "Decision: {role} owns {thing} from now on."]


def corpus_texts(n: int, *, seed: int = 42) -> list[str]:
    """``n`` distinct memory-like sentences (a few thousand at most are distinct)."""
    rng = np.random.default_rng([seed, 5])
    out: list[str] = []
    seen: set[str] = set()
    pools = {"p": _PEOPLE, "q": _PEOPLE, "role": _ROLES, "verb": _VERBS, "thing": _THINGS, "when": _WHEN,
             "like": _LIKES, "obj": _OBJECTS, "place": _PLACES}  # fmt: skip
    for attempt in itertools.count():
        if len(out) >= n or attempt > 50 * n:
            break
        template = _FACTS[int(rng.integers(len(_FACTS)))]
        text = template.format(**{k: v[int(rng.integers(len(v)))] for k, v in pools.items()})
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def query_texts(n: int, *, seed: int = 42) -> list[str]:
    """``n`` agent-style questions over the corpus's vocabulary."""
    rng = np.random.default_rng([seed, 6])
    forms = ["who worked on {thing}?", "what does {p} like?", "problems with {thing} {when}",
             "where does {p} live?", "decisions about {thing}", "{p} {obj}"]
    pools = {"p": _PEOPLE, "thing": _THINGS, "when": _WHEN, "obj": _OBJECTS}
    return [forms[int(rng.integers(len(forms)))].format(**{k: v[int(rng.integers(len(v)))] for k, v in pools.items()})
            for _ in range(n)]  # fmt: skip
