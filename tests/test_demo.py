"""The bundled dataset, ``graphmem demo`` and examples/quickstart.py."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

import graphmem
from graphmem.demo import CENTRAL, COMPANY, LEAVER, OUTSIDER, PROJECT, find_dataset, read_dataset, run_demo

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "examples" / "data" / "agent_memory.jsonl"
ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def records() -> list[dict]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines()]


def entities() -> list[dict]:
    return [r for r in records() if r["type"] == "entity"]


def relations() -> list[dict]:
    return [r for r in records() if r["type"] == "relation"]


def demo_output(path, **kw) -> str:
    console = Console(file=io.StringIO(), width=120)
    kw.setdefault("embedder", None)
    run_demo(path, console, engine=ENGINE, **kw)
    return console.file.getvalue()


HOP = re.compile(r"(<-|-)([A-Z_]+)(->|-) ")


def path_names(line: str, rels: list[dict]) -> list[str]:
    """The entity names along a printed path, after checking each hop is a relation of the dataset
    pointing the way its arrow says."""
    stored = {(r["source"], r["relationType"], r["target"]) for r in rels}
    names = [part.strip() for part in HOP.split(line)[::4]]
    hops = HOP.findall(line)
    assert len(names) == len(hops) + 1, line
    for (left, relation, right), a, b in zip(hops, names, names[1:]):
        assert (left, right) in (("-", "->"), ("<-", "-")), line
        assert ((a, relation, b) if right == "->" else (b, relation, a)) in stored, (a, relation, b, line)
    return names


def undirected(rels: list[dict]):
    import networkx as nx

    g = nx.Graph()
    g.add_edges_from((r["source"], r["target"]) for r in rels)
    return g


def row(*cells) -> re.Pattern[str]:
    """A table row holding exactly these cells, in order (rich pads them with spaces)."""
    return re.compile(r"^\s*" + r"\s+".join(re.escape(str(c)) for c in cells) + r"(\s|$)", re.MULTILINE)


# -- the dataset -------------------------------------------------------------------------


def test_dataset_is_what_make_dataset_writes(tmp_path):
    out = tmp_path / "generated.jsonl"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_dataset.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    assert out.read_bytes() == DATASET.read_bytes(), "regenerate it: python examples/make_dataset.py"


def test_dataset_is_well_formed():
    ents, rels = entities(), relations()
    names = [e["name"] for e in ents]
    assert 250 <= len(ents) <= 350 and 500 <= len(rels) <= 800
    assert len(set(names)) == len(names)
    assert len({(r["source"], r["relationType"], r["target"]) for r in rels}) == len(rels)
    assert all(IDENTIFIER.match(e["entityType"]) for e in ents)
    assert all(IDENTIFIER.match(r["relationType"]) for r in rels)
    assert {r["source"] for r in rels} | {r["target"] for r in rels} <= set(names)
    assert all(0 <= len(e["observations"]) <= 3 and e["text"] for e in ents)
    assert {"Zoë Müller", "José García"} <= set(names)
    assert len({e["entityType"] for e in ents}) >= 8 and len({r["relationType"] for r in rels}) >= 10
    # What the tour relies on, and what the README says about the file.
    assert {CENTRAL, LEAVER, COMPANY} <= set(names)
    assert f"{len(ents)} entities and {len(rels)} relations" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_find_and_read_dataset():
    assert find_dataset() == DATASET.resolve()
    ds = read_dataset(DATASET)
    assert (len(ds.entities), len(ds.relations)) == (len(entities()), len(relations()))
    first = entities()[0]
    assert ds.entities[0] == {"name": first["name"], "type": first["entityType"], "text": first["text"],
                              "observations": first["observations"], "properties": first["properties"]}


def test_bad_dataset_lines_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "entity", "name": "a", "entityType": "T"}\n\n{"type": "relation", "source": "a"}\n')
    with pytest.raises(graphmem.InvalidInput, match=r"bad\.jsonl:3: .*KeyError"):
        read_dataset(bad)
    bad.write_text('{"type": "edge"}\n')
    with pytest.raises(graphmem.InvalidInput, match=r":1: unknown record type 'edge'"):
        read_dataset(bad)
    bad.write_text("not json\n")
    with pytest.raises(graphmem.InvalidInput, match=r":1: not a graphmem JSONL record"):
        read_dataset(bad)


# -- the demo ----------------------------------------------------------------------------


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(graphmem.GraphMemError, match="cannot read the demo dataset"):
        run_demo(tmp_path / "store", Console(file=io.StringIO()), dataset=tmp_path / "nope.jsonl")
    assert not (tmp_path / "store").exists()


def test_refuses_a_directory_that_is_not_a_store(tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "todo.txt").write_text("keep me")
    with pytest.raises(graphmem.GraphMemError, match="not a graphmem store"):
        run_demo(target, Console(file=io.StringIO()), engine=ENGINE, embedder=None)
    assert (target / "todo.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(graphmem.GraphMemError, match="is a file"):
        run_demo(a_file, Console(file=io.StringIO()), engine=ENGINE, embedder=None)
    assert a_file.read_text() == "x"


@pytest.mark.engine
def test_demo_tour_reports_the_dataset(tmp_path):
    out = demo_output(tmp_path / "store")
    ents, rels = entities(), relations()
    n_ent, n_rel = len(ents), len(rels)
    assert f"Loaded {n_ent} entities and {n_rel} relations" in out
    assert f"{n_ent} entities, {n_rel} relations, no vectors" in out

    for entity_type, n in Counter(e["entityType"] for e in ents).items():
        assert row(entity_type, n).search(out), entity_type
    assert f"relation types ({n_rel})" in out

    # Cypher: technologies by number of projects using them, computed here from the file.
    kind = {e["name"]: e["entityType"] for e in ents}
    uses = Counter(r["target"] for r in rels if r["relationType"] == "USES"
                   and kind[r["source"]] == "Project" and kind[r["target"]] == "Technology")  # fmt: skip
    top = sorted(uses.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    for technology, n in top:
        assert row(technology, n).search(out), (technology, n)
    # Cypher with $company: where the company's people are located.
    staff = {r["source"] for r in rels if r["relationType"] == "WORKS_AT" and r["target"] == COMPANY}
    cities = Counter(r["target"] for r in rels if r["relationType"] == "LOCATED_IN" and r["source"] in staff)
    for city, n in cities.items():
        assert row(city, n).search(out), (city, n)

    # Lookup, neighbours, upsert, delete.
    central = next(e for e in ents if e["name"] == CENTRAL)
    assert all(o in out for o in central["observations"])
    degree = sum(1 for r in rels if CENTRAL in (r["source"], r["target"]))
    assert f"{CENTRAL}  {degree} neighbours" in out
    assert row("on_call", "-", "true", "added").search(out)
    leaver_degree = sum(1 for r in rels if LEAVER in (r["source"], r["target"]))
    assert f"his {leaver_degree} relations went with him" in out
    assert row("relations", n_rel, n_rel - leaver_degree).search(out)
    assert "a second delete → False" in out
    assert "Timings" in out and "add_relations × 1" in out

    # Paths: the hop count and the number of shortest paths agree with networkx, and the path
    # shown is made of relations of the dataset, each arrow pointing the way it was stored.
    import networkx as nx

    g = undirected(rels)
    hops = nx.shortest_path_length(g, OUTSIDER, CENTRAL)
    count = len(list(nx.all_shortest_paths(g, OUTSIDER, CENTRAL)))
    assert f"mem.shortest_path({OUTSIDER!r}, {CENTRAL!r}) → {hops} hops:" in out
    shown = out.split(f"mem.shortest_path({OUTSIDER!r}, {CENTRAL!r}) → {hops} hops:\n", 1)[1].split("\n", 1)[0]
    names = path_names(shown, rels)
    assert names[0] == OUTSIDER and names[-1] == CENTRAL and len(names) == hops + 1
    assert f"every shortest path ({count} here)" in out
    # Without an embedder the three semantic steps say why they are skipped.
    assert out.count("This run has no embedder (embedder=None)") == 3

    # The store stays behind with the tour's changes.
    with graphmem.open(tmp_path / "store", engine=ENGINE, embedder=None) as mem:
        assert len(mem) == n_ent - 1 and mem.stats()["relations"] == n_rel - leaver_degree
        assert mem.get_entity(LEAVER) is None
        zoe = mem.get_entity(CENTRAL)
        assert zoe.properties["on_call"] is True and zoe.observations[: len(central["observations"])] == tuple(
            central["observations"]
        )


@pytest.mark.engine
def test_rerun_rebuilds_the_store_from_scratch(tmp_path):
    path = tmp_path / "store"
    demo_output(path)
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entity("left over from last time")
    out = demo_output(path)
    assert f"Loaded {len(entities())} entities" in out
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        assert mem.get_entity("left over from last time") is None
        assert len(mem) == len(entities()) - 1


@pytest.mark.engine
def test_an_empty_directory_is_used(tmp_path):
    out = demo_output(tmp_path)
    assert f"Loaded {len(entities())} entities" in out and (tmp_path / "graphmem.json").is_file()


@pytest.mark.engine
def test_a_store_open_elsewhere_is_not_deleted(tmp_path):
    path = tmp_path / "store"
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entity("still here")
        with pytest.raises(graphmem.StoreLocked):
            demo_output(path)
        assert mem.get_entity("still here") is not None


@pytest.mark.engine
def test_temporary_store_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = demo_output(None)
    assert "a temporary directory (removed at the end)" in out and "The store stays" not in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.engine
def test_demo_with_an_embedder_stores_vectors(tmp_path):
    out = demo_output(tmp_path / "store", embedder=graphmem.HashEmbedder(dim=32))
    assert "32-d vectors" in out and "HashEmbedder, 32-d" in out and "embedding" in out
    # The semantic steps run (the hash embedder's rankings mean nothing, so only their shape is checked).
    assert "This run has no embedder" not in out
    assert "mem.search('data pipelines that run every night', k=5)" in out
    assert f"near={PROJECT!r}, max_hops=2" in out and "why: the path from the anchor" in out
    hops = re.findall(r"\(-?[\d.]+, (\d+) hops?\)", out.split("rank='hybrid'", 1)[1].split("\n\n", 1)[0])
    assert hops and all(int(h) <= 2 for h in hops)
    recall_panel = out.split("mem.recall(", 1)[1]
    assert "Entities:" in recall_panel and re.search(r"─ \d+ characters ─", recall_panel)


@pytest.mark.engine
@pytest.mark.slow
def test_demo_with_the_default_model(tmp_path):
    out = demo_output(tmp_path / "store", embedder="default")
    assert "384-d vectors" in out and "load all-MiniLM-L6-v2" in out
    # What the model finds in this dataset (deterministic on CPU).
    assert row(1, "Airflow", "Technology").search(out)
    near = out.split(f"near={PROJECT!r}, max_hops=2", 1)[1]
    assert row(1, "Lea Krüger", "Person").search(near)
    assert f"{PROJECT} <-LEADS- Lea Krüger" in near
    assert "Copperleaf Forecasting Model [Project]" in out.split("mem.recall(", 1)[1]


# -- the quickstart ----------------------------------------------------------------------


@pytest.mark.engine
def test_quickstart_runs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--engine", ENGINE],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "observations: ['prefers written specs', 'on call this week']" in out
    assert "properties:   {'role': 'backend engineer', 'on_call': True}" in out
    assert "Ada -[REPORTS_TO]-> Tomás Reis" in out
    assert "Who leads a project on PostgreSQL: [{'person': 'Ada Okafor', 'project': 'Billing service'}]" in out
    assert "After Tomás left: ['Ada Okafor']" in out
    assert "NotFound (also a KeyError)" in out
    assert "4 entities, 3 relations" in out
