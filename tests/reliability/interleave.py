"""Random interleaving stress (issue 17.2): every call checked against a model.

One seed drives one store through a long random mix of calls: reads
(``get_entity``, ``neighbors``, ``search``, ``access``), accepted writes
(small and 1 MB texts, batches, relations), writes refused before they start
(bad input), writes refused inside their transaction (a relation to a missing
entity, a vector of the wrong dimension: both after the access statistics were
flushed in that transaction), a write the engine itself refuses (a duplicate
primary key through Cypher: the engine rolls the transaction back on its own),
``flush``, ``forget`` (soft and hard), ``compact``, deletes, expiries and
close/reopen. After each call its outcome (return value or error type) is
compared with what a plain-Python model of the README's semantics says, and
every reader sees what the model holds: content, neighbours, vector hits and
access counts (a rejected write must not lose the reads counted before it).
After each lifecycle call (forget, compact, delete, expire) and the last
reopen, the relation counts of ``stats()``, iteration and raw Cypher agree
with the model (issue 17.3's invariant).

``python -m tests.reliability.interleave --seeds 0-49 --ops 1000`` runs it
outside pytest and prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

import graphmem
from graphmem import InvalidInput, NotFound, QueryError

DIM = 8
# Current relation rows counted without reading their endpoints (where rows a
# delete of their endpoint left behind show up), and with both endpoints read.
_CURRENT_ROWS = "MATCH ()-[r:Relation]->() WHERE r.expired_at IS NULL RETURN count(*) AS n"
_CURRENT_WITH_ENDS = ("MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE r.expired_at IS NULL AND a.id >= 0 "
                      "AND b.id >= 0 RETURN count(*) AS n")  # fmt: skip
TYPES = ("Person", "Company", "Tool")
RELATION_TYPES = ("KNOWS", "USES", "OWNS")
BIG = 1_000_000
"""Characters of a large text (the README's limit for one text)."""
REVIVE_EXPIRED = True
"""Whether expired (or softly forgotten) names are written again (same id, new
vector). Before the issue 17.6 fix, a revived entity made a later reload of the
vector index fail with hnswlib's "Label not found" (seeds 0, 2, 3, 4, 5 at 1,000
calls). Hard-deleted names come back either way (new ids)."""


@dataclass
class Model:
    """What the store must hold after each call."""

    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: set[tuple[str, str, str]] = field(default_factory=set)
    access: dict[str, int] = field(default_factory=dict)
    """Reads counted per entity; names missing here are not checked (an
    expired entity written again keeps its old counts, which the model does
    not follow)."""
    retired: set[str] = field(default_factory=set)
    """Expired or softly forgotten names (history only)."""
    deleted: set[str] = field(default_factory=set)
    """Hard-deleted names (gone for good)."""
    counter: int = 0

    def upsert(self, record: dict[str, Any]) -> None:
        name = record["name"]
        entity = self.entities.get(name)
        if entity is None:
            entity = self.entities[name] = {"type": "Entity", "text": None, "observations": [], "properties": {},
                                            "vector": None}  # fmt: skip
            self.deleted.discard(name)
            if name in self.retired:
                self.retired.discard(name)
                self.access.pop(name, None)
            else:
                self.access[name] = 0
        if record.get("type") is not None:
            entity["type"] = record["type"]
        if record.get("text") is not None:
            entity["text"] = record["text"]
        for observation in record.get("observations") or ():
            if observation not in entity["observations"]:
                entity["observations"].append(observation)
        entity["properties"].update(record.get("properties") or {})
        if record.get("embedding") is not None:
            vector = np.asarray(record["embedding"], np.float32)
            entity["vector"] = vector / np.linalg.norm(vector)

    def remove(self, name: str, *, hard: bool) -> None:
        self.entities.pop(name, None)
        self.relations = {r for r in self.relations if name not in (r[0], r[2])}
        self.access.pop(name, None)
        if hard:
            self.retired.discard(name)
            self.deleted.add(name)
        else:
            self.retired.add(name)

    def neighbors(self, name: str) -> list[tuple[str, str, str]]:
        found = [(t, r, "out") for s, r, t in self.relations if s == name]
        found += [(s, r, "in") for s, r, t in self.relations if t == name]
        return sorted(found)


@dataclass
class Outcome:
    seed: int
    ops: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "ops": self.ops, "calls": self.calls, "mismatches": self.mismatches}


class Mismatch(AssertionError):
    """A call's outcome differs from the model's."""


class Run:
    """One seed's store, model and random source."""

    def __init__(self, seed: int, path: Path | None, engine: str) -> None:
        self.rng = random.Random(seed)
        self.path = path
        self.engine = engine
        self.model = Model()
        self.outcome = Outcome(seed)
        self.mem = self._open()

    def _open(self) -> graphmem.Memory:
        return graphmem.open(self.path, engine=self.engine, embedder=None)

    # -- inputs ---------------------------------------------------------------------

    def _vector(self) -> list[float]:
        vector = [self.rng.gauss(0.0, 1.0) for _ in range(DIM)]
        return vector if any(vector) else [1.0] + [0.0] * (DIM - 1)

    def _text(self) -> str:
        if self.rng.random() < 0.01:
            return self.rng.choice("abcdefgh") * BIG  # a 1 MB text
        return " ".join(self.rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(self.rng.randrange(1, 6)))

    def _record(self, name: str) -> dict[str, Any]:
        rng = self.rng
        record: dict[str, Any] = {"name": name}
        if rng.random() < 0.5:
            record["type"] = rng.choice(TYPES)
        if rng.random() < 0.7:
            record["text"] = self._text()
        if rng.random() < 0.5:
            record["observations"] = [f"obs{rng.randrange(20)}" for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.5:
            record["properties"] = {f"p{rng.randrange(4)}": rng.randrange(100), "tag": rng.choice("xyz")}
        if rng.random() < 0.6:
            record["embedding"] = self._vector()
        return record

    def _fresh_name(self) -> str:
        back = sorted(self.model.deleted | (self.model.retired if REVIVE_EXPIRED else set()))
        if back and self.rng.random() < 0.2:
            return self.rng.choice(back)  # a deleted or retired name comes back
        self.model.counter += 1
        return f"e{self.model.counter}"

    def _existing(self) -> str | None:
        names = sorted(self.model.entities)
        return self.rng.choice(names) if names else None

    def _any_name(self) -> str:
        name = self._existing()
        if name is None or self.rng.random() < 0.15:
            return f"ghost{self.rng.randrange(5)}"
        return name

    # -- checks -----------------------------------------------------------------------

    def _expect(self, what: str, got: Any, want: Any) -> None:
        if got != want:
            raise Mismatch(f"{what}: got {_short(got)}, the model says {_short(want)}")

    def _check_entity(self, name: str) -> None:
        got = self.mem.get_entity(name)
        want = self.model.entities.get(name)
        if want is None:
            self._expect(f"get_entity({name!r})", got, None)
            return
        if got is None:
            raise Mismatch(f"get_entity({name!r}) is None; the model holds it")
        if name in self.model.access:
            self.model.access[name] += 1
        self._expect(f"{name}.type", got.type, want["type"])
        self._expect(f"{name}.text", got.text, want["text"])
        self._expect(f"{name}.observations", list(got.observations), want["observations"])
        self._expect(f"{name}.properties", got.properties, want["properties"])
        if (got.embedding is None) != (want["vector"] is None):
            raise Mismatch(f"{name}: has a vector: {got.embedding is not None}, the model says {want['vector'] is not None}")
        if want["vector"] is not None and float(np.dot(got.embedding / np.linalg.norm(got.embedding), want["vector"])) < 0.99:
            raise Mismatch(f"{name}: its vector is not the one written")

    # -- operations --------------------------------------------------------------------

    def step(self) -> None:
        ops = (
            ("get", 14), ("neighbors", 8), ("search", 5), ("access", 5), ("add", 12), ("update", 8),
            ("batch", 5), ("bad_batch", 2), ("bad_dim", 3), ("relate", 10), ("relate_missing", 4),
            ("relate_batch_missing", 2), ("unrelate", 3), ("delete", 2), ("expire", 2), ("engine_refuses", 2),
            ("flush", 3), ("forget", 1), ("compact", 1), ("reopen", 1.5),
        )  # fmt: skip
        kind = self.rng.choices([k for k, _ in ops], [w for _, w in ops])[0]
        self.outcome.calls[kind] = self.outcome.calls.get(kind, 0) + 1
        getattr(self, f"op_{kind}")()
        self.outcome.ops += 1

    def op_get(self) -> None:
        self._check_entity(self._any_name())

    def op_neighbors(self) -> None:
        name = self._any_name()
        if name not in self.model.entities:
            self._raises(NotFound, lambda: self.mem.neighbors(name), f"neighbors({name!r})")
            return
        got = [(n.name, n.type, n.direction) for n in self.mem.neighbors(name)]
        self._expect(f"neighbors({name!r})", got, self.model.neighbors(name))

    def op_search(self) -> None:
        with_vectors = [n for n, e in sorted(self.model.entities.items()) if e["vector"] is not None]
        if not with_vectors or self.mem.vector_dim is None:
            return
        name = self.rng.choice(with_vectors)
        hits = self.mem.search(self.model.entities[name]["vector"], k=3)
        names = [h.name for h in hits]
        if name not in names:
            raise Mismatch(f"search for {name!r}'s own vector missed it: {names}")
        stray = [n for n in names if n not in with_vectors]
        if stray:
            raise Mismatch(f"search returned {stray}, which the model has no vector for")
        self._expect(f"search({name!r}) hit count", len(hits), min(3, len(with_vectors)))
        for hit in names:
            if hit in self.model.access:
                self.model.access[hit] += 1

    def op_access(self) -> None:
        name = self._existing()
        if name is None or name not in self.model.access:
            return
        self._expect(f"access({name!r}).count", self.mem.access(name).count, self.model.access[name])

    def op_add(self) -> None:
        record = self._record(self._fresh_name())
        self._add(record)

    def op_update(self) -> None:
        name = self._existing()
        if name is None:
            return self.op_add()
        record = self._record(name)
        if self.model.entities[name]["vector"] is None and self.mem.vector_dim is not None:
            record.setdefault("embedding", self._vector())
        self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        entity = self.mem.add_entity(**record)
        self.model.upsert(record)
        self._expect(f"add_entity({record['name']!r}).text", entity.text, self.model.entities[record["name"]]["text"])
        self._check_entity(record["name"])

    def op_batch(self) -> None:
        records = [self._record(self._fresh_name() if self.rng.random() < 0.6 else (self._existing() or "e0"))
                   for _ in range(self.rng.randrange(2, 12))]  # fmt: skip
        self._expect("add_entities", self.mem.add_entities(records), len(records))
        for record in records:
            self.model.upsert(record)
        for record in records[:3]:
            self._check_entity(record["name"])

    def op_bad_batch(self) -> None:
        records = [self._record(self._fresh_name()) for _ in range(self.rng.randrange(1, 6))]
        records.insert(self.rng.randrange(len(records) + 1), {"name": "bad", "type": "1 not an identifier"})
        self._raises(InvalidInput, lambda: self.mem.add_entities(records), "add_entities with a bad record")
        for record in records:
            if record["name"] != "bad":
                self._check_entity(record["name"])

    def op_bad_dim(self) -> None:
        """Refused inside the write transaction, after the access flush ran in it."""
        if self.mem.vector_dim is None:
            return
        name = self._any_name()
        self._raises(InvalidInput, lambda: self.mem.add_entities([{"name": name, "embedding": [1.0] * (DIM + 1)}]),
                     "an embedding of the wrong dimension")  # fmt: skip
        self._check_entity(name)

    def _relation(self) -> tuple[str, str, str] | None:
        names = sorted(self.model.entities)
        if len(names) < 2:
            return None
        source, target = self.rng.sample(names, 2)
        return source, self.rng.choice(RELATION_TYPES), target

    def op_relate(self) -> None:
        triple = self._relation()
        if triple is None:
            return self.op_add()
        relation = self.mem.add_relation(*triple)
        self._expect("add_relation", (relation.source, relation.type, relation.target), triple)
        self.model.relations.add(triple)

    def op_relate_missing(self) -> None:
        source = self._existing() or "e0"
        missing = f"missing{self.rng.randrange(3)}"
        args = (source, "KNOWS", missing) if self.rng.random() < 0.5 else (missing, "KNOWS", source)
        self._raises(NotFound, lambda: self.mem.add_relation(*args), f"add_relation{args}")

    def op_relate_batch_missing(self) -> None:
        batch = [t for t in (self._relation() for _ in range(3)) if t is not None]
        batch.append((self._existing() or "e0", "USES", "missing"))
        self._raises(NotFound, lambda: self.mem.add_relations(batch), "add_relations with a missing endpoint")
        for source, type_, target in batch[:-1]:
            got = self.mem.get_relation(source, type_, target) is not None
            self._expect(f"relation {source}-{type_}->{target} present", got, (source, type_, target) in self.model.relations)

    def op_unrelate(self) -> None:
        if self.model.relations and self.rng.random() < 0.8:
            triple = self.rng.choice(sorted(self.model.relations))
        else:
            triple = self._relation() or ("e0", "KNOWS", "e1")
        expire = self.rng.random() < 0.5
        call = self.mem.expire_relation if expire else self.mem.delete_relation
        self._expect(f"{'expire' if expire else 'delete'}_relation{triple}", call(*triple), triple in self.model.relations)
        self.model.relations.discard(triple)

    def op_delete(self) -> None:
        name = self._any_name()
        self._expect(f"delete_entity({name!r})", self.mem.delete_entity(name),
                     name in self.model.entities or name in self.model.retired)  # fmt: skip
        self.model.remove(name, hard=True)
        self._check_relation_counts(f"delete_entity({name!r})")

    def op_expire(self) -> None:
        name = self._any_name()
        self._expect(f"expire_entity({name!r})", self.mem.expire_entity(name), name in self.model.entities)
        if name in self.model.entities:
            self.model.remove(name, hard=False)
        self._check_relation_counts(f"expire_entity({name!r})")

    def op_engine_refuses(self) -> None:
        """A Cypher write the engine itself refuses (duplicate primary key): it
        rolls the transaction back on its own, before graphmem's ROLLBACK."""
        name = self._existing()
        if name is None:
            return
        key = f"default\x1f{name}"
        self._raises(QueryError, lambda: self.mem.cypher(
            "CREATE (:Entity {key: $key, id: 999999999, namespace: 'default', name: $name, type: 'Entity'})",
            {"key": key, "name": name}), "a Cypher CREATE of an existing key")  # fmt: skip
        self._check_entity(name)

    def op_flush(self) -> None:
        self.mem.flush()

    def op_forget(self) -> None:
        current = len(self.model.entities)
        keep = max(0, current - self.rng.randrange(1, 4))
        hard = self.rng.random() < 0.5
        gone = self.mem.forget(max_entities=keep, policy=self.rng.choice(("lru", "lfu", "importance")), hard=hard)
        self._expect("forget: how many", len(gone), current - keep)
        unknown = [n for n in gone if n not in self.model.entities]
        if unknown:
            raise Mismatch(f"forget returned {unknown}, which the model does not hold")
        for name in gone:
            self.model.remove(name, hard=hard)
        self._check_relation_counts(f"forget(hard={hard})")

    def op_compact(self) -> None:
        self.mem.compact(cold_after=timedelta(0))
        self._check_relation_counts("compact")
        name = self._existing()
        if name is not None:
            self._check_entity(name)

    def op_reopen(self) -> None:
        if self.path is None:
            return self.op_flush()
        self.mem.close()
        self.mem = self._open()

    def _check_relation_counts(self, after: str) -> None:
        """The lifecycle invariant of issue 17.3: the relation count stats()
        gives, the relations iteration lists, the rows raw Cypher counts (with
        and without reading their endpoints) and the model's all agree."""
        want = len(self.model.relations)
        self._expect(f"stats()['relations'] after {after}", self.mem.stats()["relations"], want)
        self._expect(f"iter_relations() after {after}", sum(1 for _ in self.mem.iter_relations()), want)
        for query in (_CURRENT_ROWS, _CURRENT_WITH_ENDS):
            self._expect(f"{query!r} after {after}", self.mem.cypher(query)[0]["n"], want)

    def _raises(self, error: type[Exception], call: Any, what: str) -> None:
        try:
            call()
        except error:
            return
        except Exception as exc:  # noqa: BLE001 - the wrong error is the finding
            raise Mismatch(f"{what} raised {type(exc).__name__}: {exc}; expected {error.__name__}") from exc
        raise Mismatch(f"{what} did not raise; expected {error.__name__}")

    def finish(self) -> None:
        """Close (which flushes) and check everything once more after a reopen."""
        self.mem.close()
        if self.path is None:
            return
        self.mem = self._open()
        try:
            for name in sorted(self.model.entities):
                if name in self.model.access:
                    self._expect(f"access({name!r}).count after reopen", self.mem.access(name).count, self.model.access[name])
                self._check_entity(name)
            self._expect("entities after reopen", len(self.mem), len(self.model.entities))
            self._check_relation_counts("the last reopen")
        finally:
            self.mem.close()


def run_seed(seed: int, ops: int, path: Path | None, engine: str) -> Outcome:
    """Run ``ops`` random calls from ``seed``; the first mismatch (or unexpected error) ends the run."""
    run = Run(seed, path, engine)
    try:
        for _ in range(ops):
            run.step()
        run.finish()
    except Exception as exc:  # noqa: BLE001 - reported with the seed and call number
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if not isinstance(exc, Mismatch):  # an error no call should raise: where it came from
            frames = traceback.extract_tb(exc.__traceback__)[-3:]
            detail += " at " + " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
        run.outcome.mismatches.append(f"seed {seed}, call {run.outcome.ops}: {detail}")
        if not run.mem.closed:
            try:
                run.mem.close()
            except Exception as close_exc:  # noqa: BLE001 - the close error is a finding too
                run.outcome.mismatches.append(f"seed {seed}, close: {type(close_exc).__name__}: {close_exc}")
    return run.outcome


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + f"... ({len(text)} chars)"


def _seeds(spec: str) -> list[int]:
    if "-" in spec:
        lo, hi = spec.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in spec.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--engine", default=None)
    parser.add_argument("--memory", action="store_true", help="an in-memory store (no reopen)")
    args = parser.parse_args(argv)
    engine = args.engine or graphmem.store.engine.default_engine()
    results = []
    for seed in _seeds(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_seed(seed, args.ops, None if args.memory else Path(tmp) / "s", engine)
        results.append(outcome.as_dict())
        print(json.dumps(outcome.as_dict()), flush=True)
    failed = [r for r in results if r["mismatches"]]
    print(json.dumps({"engine": engine, "seeds": len(results), "ops": sum(r["ops"] for r in results),
                      "seeds_with_mismatch": len(failed)}))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
