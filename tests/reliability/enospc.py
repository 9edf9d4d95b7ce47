"""Full-disk trials on real tmpfs mounts (issue 17, item 1).

Each *trial* mounts a small tmpfs (root only), partly pre-filled by a filler
file so the store meets the end of the disk soon, and starts a child
(``python -m tests.reliability.enospc fill ...``) that writes batches of
entities (and one relation per batch) until graphmem raises ``StorageFull``,
printing ``A i`` after each acknowledged batch. Two kinds alternate:

- ``fill``: the store grows until graphmem's own space check refuses a
  commit; the child then fills the rest of the disk until the OS itself says
  ENOSPC, tries another write (it must raise ``StorageFull`` too) and, with
  vectors, saves the vector index on the full disk;
- ``race``: another writer fills the disk between graphmem's space check and
  the engine's COMMIT (a tracer does it at ``<commit>``), so the engine itself
  meets ENOSPC halfway through its WAL append.

A trial counts only if the child really hit ENOSPC (the OS refused the filler,
or the engine's own message said so) and the write raised ``StorageFull``.
Then the parent frees space (``mount -o remount,size=...``) and a second
child reopens the store without any repair, checks that every acknowledged
entity and relation is there and the refused batch is wholly present or
wholly absent, and writes once more. Children die by a signal only if graphmem
failed; the parent counts that as ``signals``.

``python -m tests.reliability.enospc campaign --trials 20 --engine kuzu
--vectors 1`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DIM = 16


class NoTmpfs(Exception):
    """Mounting a tmpfs is not possible here (not root, or mount refused)."""


@contextlib.contextmanager
def tmpfs(size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mb`` MiB, unmounted on the way out."""
    if os.geteuid() != 0:
        raise NoTmpfs("mounting a tmpfs needs root (CI runs these as root)")
    where = Path(tempfile.mkdtemp(prefix="graphmem-enospc-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        where.rmdir()
        raise NoTmpfs(f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def remount(where: Path, size_mb: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_mb}m", str(where)], check=True)


def _child(args: list[str], engine: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRAPHMEM_ENGINE": engine, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tests.reliability.enospc", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


# -- the children ----------------------------------------------------------------------


def _batch(seed: int, b: int, vectors: bool) -> list[dict[str, Any]]:
    """Batch ``b`` of a trial: the same records every time (the check child rebuilds them)."""
    rng = random.Random(seed * 1_000_003 + b)
    size = rng.randrange(300, 700)
    text = rng.randrange(200, 600)
    records = []
    for i in range(size):
        record: dict[str, Any] = {"name": f"b{b}_{i}", "text": f"b{b}_{i} " + "t" * text,
                                  "observations": ["o" * 100]}  # fmt: skip
        if vectors:
            record["embedding"] = [rng.gauss(0, 1) for _ in range(DIM)]
        records.append(record)
    return records


def _fill_rest(folder: Path) -> bool:
    """Write a file until the OS says ENOSPC; whether it did."""
    with open(folder / "filler.rest", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        except OSError as exc:
            return exc.errno == errno.ENOSPC


def child_fill(path: Path, kind: str, vectors: bool, seed: int) -> None:
    """Write batches until StorageFull; report on stdout (see the module notes)."""
    import graphmem

    rng = random.Random(seed)
    out: dict[str, Any] = {"storage_full": False, "os_enospc": False, "engine_enospc": False, "errors": []}
    armed = [False]
    folder = path.parent

    def tracer(name: str, params: Any) -> None:
        if name == "<commit>" and armed[0]:
            armed[0] = False
            out["os_enospc"] = _fill_rest(folder)

    mem = graphmem.open(path, embedder=None, tracer=tracer if kind == "race" else None)
    race_at = rng.randrange(1, 4)
    b = 0
    while True:
        armed[0] = kind == "race" and b == race_at
        try:
            mem.add_entities(_batch(seed, b, vectors))
            mem.add_relation(f"b{b}_0", "R", f"b{b}_1")
        except graphmem.StorageFull as exc:
            out["storage_full"] = True
            out["engine_enospc"] = "the engine said" in str(exc)
            out["refused"] = b
            out["errors"].append(str(exc)[:300])
            break
        print(f"A {b}", flush=True)
        if vectors and b % 5 == 0:
            mem.search([rng.gauss(0, 1) for _ in range(DIM)], k=3)  # the index is loaded, so close saves it
        if b % 5 == 1:
            mem.find_text(f"b{b}_")  # the text index is loaded and kept, so flush and close save it too
        b += 1
        if b > 10_000:
            raise RuntimeError("the disk never filled")
    if kind == "fill":
        out["os_enospc"] = _fill_rest(folder)
        for attempt in (lambda: mem.add_entity("one_more", text="x" * 1000), mem.flush):
            try:
                attempt()
            except graphmem.StorageFull as exc:
                out["errors"].append(str(exc)[:300])
            except graphmem.GraphMemError as exc:
                out["errors"].append(f"NOT StorageFull: {type(exc).__name__}: {exc}"[:300])
    try:
        mem.close()
    except graphmem.StorageFull as exc:
        out["errors"].append(f"close: {exc}"[:300])
    print("R " + json.dumps(out), flush=True)


def child_check(path: Path, acked: int, refused: int, vectors: bool, seed: int) -> None:
    """Reopen (no repair), compare with what was acknowledged, write once more."""
    import graphmem

    out: dict[str, Any] = {}
    mem = graphmem.open(path, embedder=None)
    stored = {e.name: e for e in mem.iter_entities()}
    expected: set[str] = set()
    lost = lost_relations = 0
    for b in range(acked):
        for record in _batch(seed, b, vectors):
            expected.add(record["name"])
            entity = stored.get(record["name"])
            if entity is None or entity.text != record["text"] or list(entity.observations) != record["observations"]:
                lost += 1
        if not any(n.name == f"b{b}_1" for n in mem.neighbors(f"b{b}_0")):
            lost_relations += 1
    refused_names = {r["name"] for r in _batch(seed, refused, vectors)}
    applied = len(refused_names & set(stored))
    out["refused_half_applied"] = applied not in (0, len(refused_names))
    out["lost_entities"] = lost
    out["lost_relations"] = lost_relations
    out["acked_entities"] = len(expected)
    out["unexpected"] = sorted(set(stored) - expected - refused_names - {"one_more"})[:5]
    if vectors and acked:
        probe = _batch(seed, 0, vectors)[0]
        out["vector_found"] = any(h.name == probe["name"] for h in mem.search(probe["embedding"], k=5))
    # The text index (saved beside the store, maybe during the full disk) answers as one rebuilt from the store.
    from graphmem.index.text import TextIndex

    loaded = mem.find_text("")
    with mem._store.exclusive():
        rebuilt = TextIndex.load(mem._store)
    out["text_as_rebuilt"] = loaded == rebuilt.find("default", "") and all(
        mem.find_text(q) == rebuilt.find("default", q) for q in ("b1", "_0", "b2_3"))  # fmt: skip
    mem.add_entity("after", text="space is back")
    mem.close()
    mem = graphmem.open(path, embedder=None)
    out["write_after"] = mem.get_entity("after") is not None
    mem.close()
    print("R " + json.dumps(out), flush=True)


# -- a trial, and a campaign of them ------------------------------------------------------


def trial(engine: str, kind: str, vectors: bool, seed: int, *, size_mb: int = 30, prefill_mb: int = 16) -> dict[str, Any]:
    """One fill-to-ENOSPC trial; the figures of it (see the module notes)."""
    result: dict[str, Any] = {"kind": kind, "vectors": vectors, "seed": seed, "signals": 0}
    with tmpfs(size_mb) as where:
        with open(where / "filler.start", "wb") as fh:
            fh.write(b"\0" * (prefill_mb << 20))
        store = where / "store"
        fill = _child(["fill", str(store), kind, "1" if vectors else "0", str(seed)], engine)
        acked = [int(line.split()[1]) for line in fill.stdout.splitlines() if line.startswith("A ")]
        result["acked_batches"] = len(acked)
        if fill.returncode < 0:
            result["signals"] += 1
            result["fill_signal"] = -fill.returncode
        reports = [json.loads(line[2:]) for line in fill.stdout.splitlines() if line.startswith("R ")]
        report = reports[0] if reports else {}
        result.update({k: report.get(k) for k in ("storage_full", "os_enospc", "engine_enospc", "errors")})
        result["fill_rc"] = fill.returncode
        result["fill_stderr"] = fill.stderr[-2000:] if fill.returncode else ""
        result["counts"] = bool(report.get("storage_full")) and bool(report.get("os_enospc") or report.get("engine_enospc"))
        remount(where, size_mb + 200)
        for leftover in ("filler.start", "filler.rest"):
            (where / leftover).unlink(missing_ok=True)
        check = _child(["check", str(store), str(len(acked)), str(report.get("refused", len(acked))),
                        "1" if vectors else "0", str(seed)], engine)  # fmt: skip
        if check.returncode < 0:
            result["signals"] += 1
            result["check_signal"] = -check.returncode
        checked = [json.loads(line[2:]) for line in check.stdout.splitlines() if line.startswith("R ")]
        result["reopened"] = check.returncode == 0 and bool(checked)
        result["check_stderr"] = check.stderr[-2000:] if check.returncode else ""
        if checked:
            result.update(checked[0])
    return result


def campaign(trials: int, *, engine: str, vectors: bool, seed: int = 17, size_mb: int = 30,
             prefill_mb: int = 16) -> dict[str, Any]:  # fmt: skip
    """``trials`` trials alternating ``fill`` and ``race``; the summed figures and each trial."""
    runs = [trial(engine, ("fill", "race")[i % 2], vectors, seed + i, size_mb=size_mb, prefill_mb=prefill_mb)
            for i in range(trials)]  # fmt: skip
    counted = [r for r in runs if r["counts"]]
    return {
        "engine": engine,
        "vectors": vectors,
        "trials": trials,
        "counted": len(counted),
        "engine_enospc": sum(bool(r.get("engine_enospc")) for r in counted),
        "acknowledged_batches": sum(r["acked_batches"] for r in counted),
        "acknowledged_entities": sum(r.get("acked_entities", 0) for r in counted),
        "lost": sum(r.get("lost_entities", r["acked_batches"]) + r.get("lost_relations", 0) for r in runs),
        "half_applied": sum(bool(r.get("refused_half_applied")) for r in runs),
        "signals": sum(r["signals"] for r in runs),
        "reopened_without_repair": sum(bool(r["reopened"]) for r in runs),
        "write_after": sum(bool(r.get("write_after")) for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fill")
    f.add_argument("path", type=Path)
    f.add_argument("kind", choices=["fill", "race"])
    f.add_argument("vectors", type=int)
    f.add_argument("seed", type=int)
    c = sub.add_parser("check")
    c.add_argument("path", type=Path)
    c.add_argument("acked", type=int)
    c.add_argument("refused", type=int)
    c.add_argument("vectors", type=int)
    c.add_argument("seed", type=int)
    g = sub.add_parser("campaign")
    g.add_argument("--trials", type=int, default=20)
    g.add_argument("--engine", default=os.environ.get("GRAPHMEM_ENGINE", "kuzu"))
    g.add_argument("--vectors", type=int, default=0)
    g.add_argument("--seed", type=int, default=17)
    a = parser.parse_args()
    if a.cmd == "fill":
        child_fill(a.path, a.kind, bool(a.vectors), a.seed)
    elif a.cmd == "check":
        child_check(a.path, a.acked, a.refused, bool(a.vectors), a.seed)
    else:
        figures = campaign(a.trials, engine=a.engine, vectors=bool(a.vectors), seed=a.seed)
        print(json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
