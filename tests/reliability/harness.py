"""Crash harness: writers in child processes, killed with SIGKILL at seeded points.

Modelled on SQLite's crash tests: a *campaign* keeps one store alive through
many kills. Each *round* the parent

1. generates a script of operations from its model of the store (seeded),
2. starts a child (``python -m tests.reliability.harness child ...``) that
   reopens the store, recovers it, and runs the script, writing ``B i`` to
   its stdout pipe before operation ``i`` and ``A i`` after it returns (the
   pipe outlives the child, so every acknowledgement written before the kill
   reaches the parent),
3. kills the child with SIGKILL, either *timed* (a seeded delay after the
   child begins an operation of the targeted phase) or by a *tripwire* the
   child arms in itself (it SIGKILLs itself before or after the n-th call of a
   hooked function: a COMMIT, an ``fsync``, an ``os.replace`` of the index
   save, the engine's ``Database.close``, a CSR compaction, a derived or
   vector-index load),
4. reopens the store (read-only most rounds, so that the *next child* does the
   real recovery and can be killed in it too; read-write otherwise) and checks:
   every acknowledged write is present, the operation in flight is applied
   wholly or not at all (the store equals exactly one of the two models), no
   deleted entity appears anywhere, every stored embedding is the embedding of
   the entity's current text, every entity is found by a vector search for its
   own vector, neighbours agree with the model and shortest paths with
   networkx.

``GRAPHMEM_RELIABILITY=full`` makes the pytest campaign run 250 kills;
``python -m tests.reliability.harness campaign --kills 250`` runs it outside
pytest and prints the figures as JSON.

The *pool campaign* (``campaign(..., pool_mib=POOL_MIB)``, ``--pool`` on the
command line, test_pool_crash.py) gives each child a small buffer pool and
larger batches (:data:`POOL_SCALE`), so writes also fail for lack of pool. A
write that raises is not acknowledged: the child reports ``F i kind message``
(:func:`failure_kind`), closes the handle if graphmem stopped it (or not:
seeded), writes ``HALT`` and is killed; the parent treats write ``i`` as in
flight (applied wholly or not at all) and counts the failures by kind.

The module is longer than ~500 lines because the child, the parent and the
verification share the model and the script format; split, each would import
the others.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DIM = 64
SEED_ENTITIES = 1_200
"""Above the 1,024 vectors below which search scores exactly, so the HNSW
graph and its saved file are what the checks exercise."""
VOCAB = [f"w{i}" for i in range(400)]

PHASES = ("single", "batch", "save", "snapshot", "close", "recover")
_PHASE_OF = {
    "add_entity": "single", "add_relation": "single", "delete_entity": "single", "delete_relation": "single",
    "add_entities": "batch", "add_relations": "batch",
    "flush": "save", "path": "snapshot", "reopen": "close", "search": "read", "recover": "recover",
}  # fmt: skip
# Which hooks can fire in each phase (see _install_tripwire).
_HOOKS = {
    "single": ["commit"],
    "batch": ["commit"],
    "save": ["fsync", "replace"],
    "snapshot": ["merge_delta", "derived_load"],
    "close": ["db_close", "db_open", "derived_load", "vector_load"],
    "recover": ["db_open", "vector_load", "derived_load"],
}
# Seconds after "B i" within which a timed kill lands (about the operation's
# duration at these sizes on 2 cores, so kills spread over before/during/after).
_DELAY = {"single": 0.012, "batch": 0.15, "save": 0.03, "snapshot": 0.02, "close": 0.08, "recover": 0.1}


@dataclass(frozen=True)
class Scale:
    """The sizes of a campaign's scripts and checks (the defaults: the kill campaign's)."""

    dim: int = DIM
    seed_entities: int = SEED_ENTITIES
    seed_relations: int = 1500
    entity_batches: tuple[int, ...] = (20, 100, 400)
    relation_batches: tuple[int, ...] = (10, 60, 300)  # below and above the relation COPY threshold (64)
    length: int = 40
    weights: tuple[tuple[str, float], ...] = (
        ("single", 4), ("batch", 2), ("save", 1), ("snapshot", 1), ("close", 0.3), ("read", 1))  # fmt: skip
    """How often a script draws each kind of operation (its targeted phase: +4)."""
    phases: tuple[str, ...] = PHASES
    delays: tuple[tuple[str, float], ...] = tuple(_DELAY.items())
    search_sample: int | None = None
    """Own-vector searches per verification (``None``: every entity)."""


DEFAULT_SCALE = Scale()

# The pool campaign (``campaign(..., pool_mib=...)``): each child opens the store
# with a small buffer pool, drawn per round, so that batch writes fail for lack
# of it (a refused statement, a failed COMMIT, or LadybugDB's failed checkpoint
# after a COPY) while other children are killed. Measured (a fresh handle, one
# batch of 2,400 new and 1,600 updated entities, 384-d, COPY from 800 rows, into
# stores of 3k, 9k and 18k): LadybugDB 0.22 refused the statement at 24 MiB (and
# 32 from 9k), lost the checkpoint after the COPY at 32-40 MiB from 3k and 40-64
# from 9k, and wrote it at 80; kuzu 0.11.3 refused at 16-32 MiB, failed the
# COMMIT at 40-64 from 9k and wrote it below.
POOL_MIB = (32, 40, 48, 56, 64)
POOL_SCALE = Scale(
    dim=384, seed_entities=3_000, seed_relations=3_000, entity_batches=(1_500, 4_000, 4_000),
    relation_batches=(10, 300, 3_000), length=8,
    weights=(("single", 2), ("batch", 4), ("save", 0), ("snapshot", 0), ("close", 0.5), ("read", 0.5)), phases=("batch", "batch", "single", "close", "recover"),
    delays=(("single", 0.02), ("batch", 1.5), ("close", 0.5), ("recover", 0.5)), search_sample=200,
)  # fmt: skip
POOL_COPY_THRESHOLD = 800
"""New entities (and relations) from which a pool child's batch goes through
COPY (``StoreConfig.copy_threshold``, ``relation_copy_from``): the COPY path
at sizes a campaign can verify in seconds."""


# -- the model ---------------------------------------------------------------------


@dataclass
class Model:
    """What the store must hold: entities by name and relation triples."""

    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: set[tuple[str, str, str]] = field(default_factory=set)
    counter: int = 0
    deleted: list[str] = field(default_factory=list)

    def copy(self) -> Model:
        return Model(
            {n: {**e, "observations": list(e["observations"]), "properties": dict(e["properties"])}
             for n, e in self.entities.items()},
            set(self.relations), self.counter, list(self.deleted),
        )  # fmt: skip

    def upsert(self, record: dict[str, Any]) -> None:
        name = record["name"]
        e = self.entities.get(name)
        if e is None:
            e = self.entities[name] = {"type": "Entity", "text": None, "observations": [], "properties": {}}
        if record.get("type") is not None:
            e["type"] = record["type"]
        if record.get("text") is not None:
            e["text"] = record["text"]
        for obs in record.get("observations") or ():
            if obs not in e["observations"]:
                e["observations"].append(obs)
        e["properties"].update(record.get("properties") or {})

    def apply(self, op: list[Any]) -> None:
        kind = op[0]
        if kind == "add_entity":
            self.upsert(op[1])
        elif kind == "add_entities":
            for record in op[1]:
                self.upsert(record)
        elif kind == "add_relation":
            self.relations.add(tuple(op[1]))
        elif kind == "add_relations":
            self.relations.update(tuple(r) for r in op[1])
        elif kind == "delete_entity":
            name = op[1]
            if self.entities.pop(name, None) is not None:
                self.deleted.append(name)
            self.relations = {r for r in self.relations if name not in (r[0], r[2])}
        elif kind == "delete_relation":
            self.relations.discard(tuple(op[1]))
        # flush, path, search, reopen change nothing


# -- generating scripts ------------------------------------------------------------------


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def _new_record(rng: random.Random, model: Model) -> dict[str, Any]:
    # Now and then a deleted name comes back: its id must be new and no ghost of
    # the old vector or relations may show.
    if model.deleted and rng.random() < 0.1:
        name = model.deleted.pop(rng.randrange(len(model.deleted)))
    else:
        model.counter += 1
        name = f"n{model.counter}"
    return {
        "name": name,
        "type": rng.choice(["Person", "Company", "Tool", None]),
        "text": f"{name} {_words(rng, 5)}",
        "observations": [_words(rng, 3) for _ in range(rng.randrange(3))],
        "properties": {"k": rng.randrange(1000), "tag": _words(rng, 1)} if rng.random() < 0.5 else None,
    }


def _update_record(rng: random.Random, model: Model, name: str) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name}
    if rng.random() < 0.5:
        record["text"] = f"{name} {_words(rng, 5)}"
    if rng.random() < 0.5:
        record["observations"] = [_words(rng, 3)]
    if rng.random() < 0.3:
        record["properties"] = {"k": rng.randrange(1000)}
    if rng.random() < 0.2:
        record["type"] = rng.choice(["Person", "Company"])
    return record


def _pick(rng: random.Random, model: Model) -> str:
    return rng.choice(sorted(model.entities))


def generate_script(rng: random.Random, model: Model, phase: str, length: int = 40,
                    scale: Scale = DEFAULT_SCALE) -> list[list[Any]]:  # fmt: skip
    """Operations valid against ``model`` (which it advances on a copy),
    weighted towards ``phase`` so the kill finds one soon."""
    scratch = model.copy()
    ops: list[list[Any]] = []
    if scratch.entities:
        # First, what a reopened store does lazily: load (catch up) the vector
        # index and the relation snapshot, i.e. finish recovering.
        ops.append(["recover", _pick(rng, scratch), _pick(rng, scratch)])
    if len(scratch.entities) < scale.seed_entities:
        seed = [_new_record(rng, scratch) for _ in range(scale.seed_entities)]
        ops.append(["add_entities", seed])
        scratch.apply(ops[-1])
        names = sorted(scratch.entities)
        rels = list({(rng.choice(names), rng.choice(["R", "S", "T"]), rng.choice(names)) for _ in range(scale.seed_relations)})
        ops.append(["add_relations", [list(r) for r in rels]])
        scratch.apply(ops[-1])
    weights = dict(scale.weights)
    if phase in weights:
        weights[phase] += 4
    kinds = list(weights)
    while len(ops) < length:
        p = rng.choices(kinds, [weights[k] for k in kinds])[0]
        names = sorted(scratch.entities)
        if p == "single":
            choice = rng.random()
            if choice < 0.3:
                op = ["add_entity", _new_record(rng, scratch)]
            elif choice < 0.5:
                op = ["add_entity", _update_record(rng, scratch, rng.choice(names))]
            elif choice < 0.7:
                op = ["add_relation", [rng.choice(names), rng.choice(["R", "S", "T"]), rng.choice(names)]]
            elif choice < 0.85 and len(names) > scale.seed_entities // 2:
                op = ["delete_entity", rng.choice(names)]
            elif scratch.relations:
                op = ["delete_relation", list(rng.choice(sorted(scratch.relations)))]
            else:
                continue
        elif p == "batch":
            if rng.random() < 0.5:
                size = rng.choice(scale.entity_batches)
                records = [_new_record(rng, scratch) if rng.random() < 0.6
                           else _update_record(rng, scratch, rng.choice(names)) for _ in range(size)]  # fmt: skip
                op = ["add_entities", records]
            else:
                size = rng.choice(scale.relation_batches)
                op = ["add_relations", [[rng.choice(names), rng.choice(["R", "S", "T"]), rng.choice(names)]
                                        for _ in range(size)]]  # fmt: skip
        elif p == "save":
            op = ["flush", rng.choice(names)]
        elif p == "snapshot":
            op = ["path", rng.choice(names), rng.choice(names), rng.random() < 0.4]
        elif p == "close":
            op = ["reopen"]
        else:
            op = ["search", rng.choice(names)]
        scratch.apply(op)
        ops.append(op)
    return ops


# -- the child ---------------------------------------------------------------------------------


def _emit(line: str) -> None:
    os.write(1, (line + "\n").encode())  # unbuffered: on the pipe before the next step


class _Armed:
    on = False


def _install_tripwire(hook: str, nth: int, when: str) -> None:
    """SIGKILL this process before/after the ``nth`` call of ``hook`` made while
    an operation of the targeted phase runs (``_Armed.on``)."""
    from graphmem.index import adjacency, derived, vector_store
    from graphmem.store.store import Store

    calls = Counter()

    def wrap(fn: Any, matches: Any = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _Armed.on or (matches is not None and not matches(*args, **kwargs)):
                return fn(*args, **kwargs)
            calls[hook] += 1
            if calls[hook] == nth and when == "before":
                _die(hook)
            out = fn(*args, **kwargs)
            if calls[hook] == nth and when == "after":
                _die(hook)
            return out

        return wrapper

    if hook == "commit":
        Store._commit_now = wrap(Store._commit_now)  # COMMIT, or a one-statement transaction run alone
    elif hook == "fsync":
        os.fsync = wrap(os.fsync)
    elif hook == "replace":
        os.replace = wrap(os.replace)
    elif hook == "merge_delta":
        adjacency.merge_delta = wrap(adjacency.merge_delta)
    elif hook == "derived_load":
        derived.Derived._load = wrap(derived.Derived._load)
    elif hook == "vector_load":
        vector_store.VectorStore._load = wrap(vector_store.VectorStore._load)
    elif hook in ("db_close", "db_open"):
        from graphmem.store.engine import default_engine, load_engine

        module = load_engine(default_engine())
        if hook == "db_close":
            module.Database.close = wrap(module.Database.close)
        else:  # the engine replays its WAL here
            module.Database.__init__ = wrap(module.Database.__init__)
    else:
        raise ValueError(hook)


def _die(hook: str) -> None:
    _emit(f"K {hook}")
    os.kill(os.getpid(), signal.SIGKILL)


def _vector_of(mem: Any, name: str) -> Any:
    e = mem.get_entity(name)
    return None if e is None or e.embedding is None else e.embedding


def failure_kind(exc: BaseException) -> str:
    """What a failed write met, from graphmem's words (see ``Store.transaction``):
    ``copy-not-durable`` (the checkpoint after a COPY failed: the handle stops),
    ``commit-failed`` (COMMIT raised; the write may have been applied),
    ``pool-refused`` (a statement found the buffer pool full; rolled back),
    else the error's class."""
    text = str(exc)
    if "NOT made durable" in text:
        return "copy-not-durable"
    if "[the COMMIT failed" in text:
        return "commit-failed"
    if "buffer pool" in text:
        return "pool-refused"
    return type(exc).__name__


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("script")
    parser.add_argument("--tripwire", default="")
    parser.add_argument("--phase", default="")
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--pool-mib", type=int, default=None)
    parser.add_argument("--on-stop", choices=["close", "wait"], default="wait")
    args = parser.parse_args(argv)
    import warnings

    import graphmem

    script = json.loads(Path(args.script).read_text())
    if args.tripwire:
        hook, nth, when = args.tripwire.split(":")
        _install_tripwire(hook, int(nth), when)
    _Armed.on = args.phase == "recover"  # the open below recovers the store
    # With a small pool a write may fail: it is reported (``F i kind``), not
    # acknowledged, and ends the script (``HALT``), the next child reopening.
    config = None
    if args.pool_mib is not None:
        config = graphmem.StoreConfig(buffer_pool_size=args.pool_mib << 20, copy_threshold=POOL_COPY_THRESHOLD,
                                      relation_copy_from=POOL_COPY_THRESHOLD)  # fmt: skip

    def open_() -> Any:
        if config is None:
            return graphmem.open(args.store, embedder=graphmem.HashEmbedder(args.dim))
        return graphmem.open(args.store, embedder=graphmem.HashEmbedder(args.dim), config=config)

    if config is None:
        mem = open_()
    else:
        try:
            mem = open_()
        except graphmem.GraphMemError as exc:  # the recovery itself may want more pool
            _emit(f"OPENFAIL {failure_kind(exc)} {_one_line(exc)}")
            _halt()
    _emit("READY")
    for i, op in enumerate(script):
        _Armed.on = _PHASE_OF[op[0]] == args.phase
        _emit(f"B {i}")
        if config is None:
            mem = _run_op(mem, op, open_)
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", graphmem.CheckpointWarning)
                    mem = _run_op(mem, op, open_)
            except graphmem.GraphMemError as exc:
                _emit(f"F {i} {failure_kind(exc)} {_one_line(exc)}")
                if _stopped(mem) and args.on_stop == "close":
                    mem.close()  # as the error advises; the next child reopens
                _halt()
            for w in caught:
                if issubclass(w.category, graphmem.CheckpointWarning):
                    _emit(f"W {i}")  # committed, durable, and its checkpoint failed
        _emit(f"A {i}")
    _emit("DONE")
    sys.stdin.read()  # wait for the parent's kill: never close cleanly


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:400]


def _stopped(mem: Any) -> bool:
    """Whether the handle answers nothing more (graphmem stopped it)."""
    from graphmem.errors import GraphMemError

    try:
        mem._store.check_open()
    except GraphMemError:  # stopped (or closed by a failed reopen); the F line said why
        return True
    return False


def _halt() -> None:
    _emit("HALT")
    sys.stdin.read()  # the parent kills the child on HALT
    os._exit(3)


def _run_op(mem: Any, op: list[Any], open_: Any) -> Any:
    """Run one script operation on ``mem``; return the handle (``reopen`` makes a new one)."""
    kind = op[0]
    if kind == "add_entity":
        mem.add_entity(**op[1])
    elif kind == "add_entities":
        mem.add_entities(op[1])
    elif kind == "add_relation":
        mem.add_relation(*op[1])
    elif kind == "add_relations":
        mem.add_relations([tuple(r) for r in op[1]])
    elif kind == "delete_entity":
        mem.delete_entity(op[1])
    elif kind == "delete_relation":
        mem.delete_relation(*op[1])
    elif kind == "flush":
        vector = _vector_of(mem, op[1])
        if vector is not None:
            mem.search(vector, k=3)  # loads (recovers) the index so the flush has something to save
        mem.flush()
    elif kind == "path":
        if op[3]:
            # A write through Cypher (it changes nothing the model sees)
            # drops every derived structure and the saved index's manifest:
            # the next read rebuilds the snapshot from the store.
            mem.cypher("MATCH (e:Entity) WHERE e.name = $n SET e.text = e.text", {"n": op[1]})
        mem.shortest_path(op[1], op[2])
        mem.k_hop(op[1], 2)
        # Fold the relation delta into a new CSR snapshot now, rather than
        # when the delta happens to pass its threshold (an internal call:
        # the public API compacts only by size).
        mem._derived.get().edges.compact()
    elif kind == "recover":
        vector = _vector_of(mem, op[1])
        if vector is not None:
            mem.search(vector, k=3)
        mem.shortest_path(op[1], op[2])
    elif kind == "search":
        vector = _vector_of(mem, op[1])
        if vector is not None:
            mem.search(vector, k=5)
    elif kind == "reopen":
        mem.close()
        mem = open_()
        first = sorted_first(mem)
        mem.shortest_path(first, first)  # loads the snapshot
        vector = _vector_of(mem, first)
        if vector is not None:
            mem.search(vector, k=3)  # loads (catches up) the vector index
    return mem


def sorted_first(mem: Any) -> str:
    for e in mem.iter_entities(batch_size=1):
        return e.name
    raise RuntimeError("empty store")


# -- the parent ------------------------------------------------------------------------------


@dataclass
class RoundResult:
    mode: str
    phase: str
    hook: str | None
    acked: int
    inflight: str | None  # the kind of operation the kill interrupted, if any
    inflight_applied: bool | None
    verified_read_only: bool
    seconds: float
    # The pool campaign's: the child's pool, and the write failure that ended its script.
    pool_mib: int | None = None
    failure: str | None = None  # its kind (see failure_kind), or "open:<kind>" when the open failed
    failure_op: str | None = None
    failure_applied: bool | None = None  # whether the store held the failed write afterwards
    failure_message: str | None = None
    checkpoint_warnings: int = 0  # acknowledged writes whose checkpoint failed


@dataclass
class CampaignStats:
    rounds: list[RoundResult] = field(default_factory=list)
    acked_ops: int = 0
    checks: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        r = self.rounds
        return {
            "kills": len(r),
            "by_phase": dict(Counter(x.phase for x in r)),
            "by_mode": dict(Counter(x.mode for x in r)),
            "by_hook": dict(Counter(x.hook for x in r if x.hook)),
            "mid_operation": sum(1 for x in r if x.inflight),
            "mid_operation_by_kind": dict(Counter(x.inflight for x in r if x.inflight)),
            "inflight_applied": sum(1 for x in r if x.inflight_applied),
            "inflight_rolled_back": sum(1 for x in r if x.inflight and not x.inflight_applied),
            "acknowledged_operations": self.acked_ops,
            "acknowledged_lost": 0,  # any loss fails verification before this is reported
            "verified_read_only": sum(1 for x in r if x.verified_read_only),
            "checks": dict(self.checks),
            "seconds": round(sum(x.seconds for x in r), 1),
            **(self.pool_summary() if any(x.pool_mib is not None for x in r) else {}),
        }

    def pool_summary(self) -> dict[str, Any]:
        r = self.rounds
        failed = [x for x in r if x.failure and x.failure_applied is not None]
        examples: dict[str, str] = {}
        for x in r:
            if x.failure and x.failure_message:
                examples.setdefault(x.failure, x.failure_message)
        return {
            "rounds_by_pool_mib": dict(sorted(Counter(x.pool_mib for x in r).items())),
            "killed_mid_operation": sum(1 for x in r if x.inflight and not x.failure),
            "pool_failures": dict(Counter(x.failure for x in r if x.failure)),
            "failed_writes_by_operation": dict(Counter(x.failure_op for x in failed)),
            "failed_writes_applied": dict(Counter(x.failure for x in failed if x.failure_applied)),
            "failed_writes_rolled_back": dict(Counter(x.failure for x in failed if not x.failure_applied)),
            "checkpoint_warnings_acknowledged": sum(x.checkpoint_warnings for x in r),
            "failure_examples": examples,
        }


class ChildFailed(AssertionError):
    pass


def _reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode().rstrip("\n"))
    lines.put(None)


def run_round(
    store: Path, model: Model, rng: random.Random, work: Path, engine: str, verify_read_only: bool, phase: str,
    tripwire: tuple[str, int, str] | None = None, *, pool: int | None = None, scale: Scale = DEFAULT_SCALE,
    mode: str | None = None,
) -> tuple[Model, RoundResult, int, Counter]:
    """One kill: timed or at a tripwire drawn from ``rng``, or at ``tripwire`` (hook, nth call, before/after).

    With ``pool`` (MiB) the child opens the store with that buffer pool, and a
    write that fails ends its script: it is in flight like an interrupted one
    (applied wholly or not at all), and the child is killed once it halts."""
    # A pool round may also run unkilled until its script ends or a write fails ("run").
    modes = ["timed", "tripwire"] if pool is None else ["timed", "tripwire", "run"]
    mode = mode or ("tripwire" if tripwire is not None else rng.choice(modes))
    script = generate_script(rng, model, phase, scale.length, scale)
    script_path = work / "script.json"
    script_path.write_text(json.dumps(script))
    targets = [i for i, op in enumerate(script) if _PHASE_OF[op[0]] == phase]
    cmd = [sys.executable, "-m", "tests.reliability.harness", "child", str(store), str(script_path), "--phase", phase]
    hook = None
    if tripwire is not None:
        hook, nth, when = tripwire
        cmd += ["--tripwire", f"{hook}:{nth}:{when}"]
    elif mode == "tripwire":
        hook = rng.choice(_HOOKS[phase])
        nth = rng.randint(1, 4 if hook in ("commit", "fsync") else 2)
        cmd += ["--tripwire", f"{hook}:{nth}:{rng.choice(['before', 'after'])}"]
    if pool is not None:
        cmd += ["--pool-mib", str(pool), "--dim", str(scale.dim), "--on-stop", rng.choice(["close", "wait"])]
    env = {**os.environ, "GRAPHMEM_ENGINE": engine, "PYTHONPATH": str(ROOT)}
    stderr = open(work / "stderr.txt", "w+b")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    wanted = rng.choice(targets[:3]) if targets else None
    delay = rng.uniform(0, dict(scale.delays)[phase])
    try:
        while True:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                raise ChildFailed(f"child silent for 120 s; stderr: {_tail(stderr)}") from None
            if line is None:
                break
            seen.append(line)
            if line in ("DONE", "HALT") or (mode == "timed" and line == f"B {wanted}"):
                if line.startswith("B "):
                    time.sleep(delay)
                proc.kill()
                mode = {"DONE": f"{mode}-after-script", "HALT": f"{mode}-after-failure"}.get(line, mode)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        proc.stdin.close()
        proc.stdout.close()
    if proc.returncode != -signal.SIGKILL:
        raise ChildFailed(f"child exited with {proc.returncode}, not SIGKILL; stderr: {_tail(stderr)}")
    stderr.close()
    began = {int(x[2:]) for x in seen if x.startswith("B ")}
    acked = {int(x[2:]) for x in seen if x.startswith("A ")}
    if "READY" not in seen:
        # Killed while the child was opening (recovering) the store: nothing of the script ran.
        began, acked = set(), set()
    inflight = sorted(began - acked)
    assert len(inflight) <= 1 and all(i > max(acked, default=-1) for i in inflight), seen
    failure = failure_message = None
    for x in seen:
        if x.startswith("F "):  # F i kind message: write i failed, so it is in flight
            _, index, failure, failure_message = x.split(" ", 3)
            assert inflight == [int(index)], seen
        elif x.startswith("OPENFAIL "):
            _, kind, failure_message = x.split(" ", 2)
            failure = f"open:{kind}"
    done = model.copy()
    for i in sorted(acked):
        done.apply(script[i])
    candidates = [done]
    if inflight:
        with_inflight = done.copy()
        with_inflight.apply(script[inflight[0]])
        candidates.append(with_inflight)
    checks: Counter = Counter()
    matched = verify(store, candidates, engine, read_only=verify_read_only, checks=checks, dim=scale.dim,
                     search_sample=scale.search_sample)  # fmt: skip
    failed_write = failure is not None and inflight
    result = RoundResult(
        mode=mode, phase=phase, hook=hook, acked=len(acked),
        inflight=script[inflight[0]][0] if inflight else None,
        inflight_applied=(matched == 1) if inflight else None,
        verified_read_only=verify_read_only, seconds=time.monotonic() - start,
        pool_mib=pool, failure=failure, failure_op=script[inflight[0]][0] if failed_write else None,
        failure_applied=(matched == 1) if failed_write else None, failure_message=failure_message,
        checkpoint_warnings=sum(1 for x in seen if x.startswith("W ")),
    )  # fmt: skip
    return candidates[matched], result, len(acked), checks


def _tail(fh: Any) -> str:
    fh.flush()
    fh.seek(0)
    return fh.read().decode(errors="replace")[-3000:]


def _content(mem: Any) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]], dict[str, Any]]:
    entities, vectors = {}, {}
    for e in mem.iter_entities():
        entities[e.name] = {"type": e.type, "text": e.text, "observations": list(e.observations),
                            "properties": dict(e.properties)}  # fmt: skip
        vectors[e.name] = e.embedding
    relations = {(r.source, r.type, r.target) for r in mem.iter_relations()}
    return entities, relations, vectors


def verify(store: Path, candidates: list[Model], engine: str, *, read_only: bool, checks: Counter,
           dim: int = DIM, search_sample: int | None = None) -> int:  # fmt: skip
    """Reopen ``store``; it must equal one of ``candidates`` (returned by index)
    and answer every read consistently with it (own-vector searches for
    ``search_sample`` seeded entities, or for all)."""
    import networkx as nx

    import graphmem
    from graphmem.embed import HashEmbedder, entity_text

    try:
        mem = graphmem.open(store, engine=engine, embedder=None, read_only=read_only)
    except graphmem.ReadOnlyStore as exc:
        # Killed during a checkpoint: the engine must replay shadow pages,
        # which only a read-write open may do (the error says so).
        assert read_only and "open it once read-write" in str(exc), exc
        checks["read_only_open_needed_read_write"] += 1
        mem = graphmem.open(store, engine=engine, embedder=None)
    with mem:
        entities, relations, vectors = _content(mem)
        matched = next(
            (i for i, m in enumerate(candidates) if m.entities == entities and m.relations == relations), None
        )
        if matched is None:
            expected = candidates[0]
            missing = sorted(set(expected.entities) - set(entities))[:5]
            extra = sorted(set(entities) - set(expected.entities))[:5]
            differing = [n for n in expected.entities if n in entities and expected.entities[n] != entities[n]][:3]
            raise AssertionError(
                f"store matches none of {len(candidates)} candidate states: missing {missing}, extra {extra}, "
                f"differing {[(n, expected.entities[n], entities[n]) for n in differing]}, "
                f"relations missing {sorted(expected.relations - relations)[:5]}, "
                f"extra {sorted(relations - expected.relations)[:5]}"
            )
        model = candidates[matched]
        live = set(model.entities)
        assert len(mem) == len(live)
        checks["entities_compared"] += len(live)
        checks["relations_compared"] += len(relations)
        # Every embedding is that of the entity's current text (none stale after a crash).
        embedder = HashEmbedder(dim)
        names = sorted(live)
        if names:
            expected_vectors = embedder.encode([entity_text(_Shim(n, model.entities[n])) for n in names])
            for name, want in zip(names, expected_vectors):
                got = vectors[name]
                assert got is not None, f"{name} has no embedding"
                cos = float(got @ want) / float(np.linalg.norm(got))
                assert cos > 0.99, f"{name}'s embedding is stale (cosine {cos:.3f} with its text's)"
            checks["embeddings_checked"] += len(names)
        # Every entity is found by a search for its own vector; no hit is a deleted entity.
        searched = names
        if search_sample is not None and search_sample < len(names):
            searched = random.Random(len(live)).sample(names, search_sample)
        for name in searched:
            hits = mem.search(vectors[name], k=10)
            assert hits, f"search for {name}'s own vector found nothing"
            assert {h.name for h in hits} <= live, ("deleted entity in search hits", {h.name for h in hits} - live)
            top = hits[0].score
            assert name in {h.name for h in hits if h.score >= top - 1e-4}, (name, hits[:3])
        checks["searches"] += len(searched)
        # Neighbours and shortest paths agree with the model (networkx).
        graph = nx.Graph()
        graph.add_nodes_from(live)
        graph.add_edges_from((s, d) for s, _, d in model.relations)
        digraph = nx.DiGraph()
        digraph.add_nodes_from(live)
        digraph.add_edges_from((s, d) for s, _, d in model.relations)
        rng = random.Random(len(live) * 7919 + len(model.relations))
        for name in rng.sample(names, min(40, len(names))):
            got_n = {(n.name, n.direction) for n in mem.neighbors(name)}
            want_n = {(d, "out") for s, _, d in model.relations if s == name}
            want_n |= {(s, "in") for s, _, d in model.relations if d == name}
            assert {n for n, _ in got_n} == {n for n, _ in want_n}, (name, got_n ^ want_n)
            checks["neighbour_lists"] += 1
        for _ in range(min(60, len(names))):
            a, b = rng.choice(names), rng.choice(names)
            for direction, g in (("both", graph), ("out", digraph)):
                path = mem.shortest_path(a, b, direction=direction)
                want = nx.shortest_path_length(g, a, b) if nx.has_path(g, a, b) else None
                if want is None:
                    assert path is None, (a, b, direction, path)
                    continue
                assert path is not None and len(path) == want, (a, b, direction, path, want)
                assert set(path.nodes) <= live
                for x, t, y in zip(path.nodes, path.relations, path.nodes[1:]):
                    assert (x, t, y) in model.relations or (direction == "both" and (y, t, x) in model.relations)
                checks["paths"] += 1
    return matched


class _Shim:
    __slots__ = ("name", "observations", "text", "type")

    def __init__(self, name: str, e: dict[str, Any]) -> None:
        self.name, self.type, self.text, self.observations = name, e["type"], e["text"], e["observations"]


def campaign(kills: int, *, seed: int, engine: str, kills_per_store: int = 10,
             work: Path | None = None, log: Any = None, pool_mib: Sequence[int] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run ``kills`` rounds over fresh stores of ``kills_per_store`` rounds each.

    The first single-write round is killed right after its commit and the first
    batch round right before it, so that every campaign, however its timed
    kills fall, has an in-flight write that must be applied and one that must
    be rolled back (timed kills alone land after a commit only now and then).

    ``pool_mib``: the pool campaign. Each child opens the store with a buffer
    pool drawn from these sizes (MiB) and runs :data:`POOL_SCALE` scripts (384-d
    vectors, batches of thousands through COPY), so writes fail for lack of
    pool between the kills; the verifying opens use the default pool.
    """
    scale = DEFAULT_SCALE if pool_mib is None else POOL_SCALE
    stats = CampaignStats()
    rng = random.Random(seed)
    forced = {"single": ("commit", 1, "after"), "batch": ("commit", 1, "before")}
    # The pool campaign's second batch round runs unkilled with a pool in which
    # both engines fail a batch of thousands (LadybugDB: its checkpoint after
    # the COPY; kuzu: the statement or the COMMIT), whatever the timed kills did.
    forced_runs = {} if pool_mib is None else {"batch": 48}
    owned = work is None
    base = Path(tempfile.mkdtemp(prefix="graphmem-crash-")) if work is None else work
    try:
        store_no = 0
        phases: list[str] = []
        while len(stats.rounds) < kills:
            store_no += 1
            store = base / f"store{store_no}"
            model = Model()
            for _ in range(min(kills_per_store, kills - len(stats.rounds))):
                if not phases:  # every phase once per len(phases) kills, in a seeded order
                    phases = rng.sample(scale.phases, len(scale.phases))
                read_only = rng.random() < 0.7
                phase = phases.pop()
                tripwire = forced.pop(phase, None)
                pool = None if pool_mib is None else rng.choice(list(pool_mib))
                mode = None
                if tripwire is None and phase in forced_runs:
                    mode, pool = "run", forced_runs.pop(phase)
                model, result, acked, checks = run_round(store, model, rng, base, engine, read_only, phase, tripwire,
                                                         pool=pool, scale=scale, mode=mode)  # fmt: skip
                stats.rounds.append(result)
                stats.acked_ops += acked
                stats.checks.update(checks)
                if log is not None:
                    log(f"kill {len(stats.rounds)}/{kills}: {result}")
    finally:
        if owned:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    out = stats.summary()
    out.update(seed=seed, engine=engine)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        child_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description="graphmem crash campaign")
    parser.add_argument("command", choices=["campaign"])
    parser.add_argument("--kills", type=int, default=250)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--engine", default=os.environ.get("GRAPHMEM_ENGINE", "kuzu"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--kills-per-store", type=int, default=10)
    parser.add_argument("--pool", nargs="?", const="default", default=None, metavar="MIB,MIB,...",
                        help="the pool campaign: children open with these buffer pools (default: POOL_MIB's)")
    args = parser.parse_args(argv)
    pools = None
    if args.pool is not None:
        pools = list(POOL_MIB) if args.pool == "default" else [int(x) for x in args.pool.split(",")]
    figures = campaign(args.kills, seed=args.seed, engine=args.engine, kills_per_store=args.kills_per_store,
                       log=lambda msg: print(msg, file=sys.stderr, flush=True), pool_mib=pools)  # fmt: skip
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
