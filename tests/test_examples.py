"""examples/agent_memory.py runs as a user would run it, and says something true.

The script runs in a subprocess with the real default model; its output is
checked against the scripted conversation it plays (imported from the script
itself), and every explanation path it prints is checked hop by hop against
the relations the conversation wrote.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "agent_memory.py"
ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
HOP = re.compile(r"(<-|-)([A-Z_]+)(->|-) ")

pytestmark = pytest.mark.engine


def _script():
    spec = importlib.util.spec_from_file_location("agent_memory_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _run(path: Path) -> str:
    result = subprocess.run([sys.executable, str(SCRIPT), "--path", str(path), "--engine", ENGINE],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _relations(example) -> set[tuple[str, str, str]]:
    return {r for turn in example.TURNS for r in turn.relations}


def _check_path(line: str, relations: set[tuple[str, str, str]]) -> list[str]:
    """The entity names along a printed path, after checking each hop is a stored relation."""
    names = [part.strip() for part in HOP.split(line)[::4]]
    hops = HOP.findall(line)
    assert len(names) == len(hops) + 1, line
    for (left, relation, right), a, b in zip(hops, names, names[1:]):
        stored = (a, relation, b) if (left, right) == ("-", "->") else (b, relation, a)
        assert (left, right) in (("-", "->"), ("<-", "-")), line
        assert stored in relations, f"{stored} in {line!r} was never written"
    return names


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    path = tmp_path_factory.mktemp("agent") / "memory"
    return _run(path), _run(path)


def test_every_turn_is_written(runs):
    first, _ = runs
    example = _script()
    names = {fact.name for turn in example.TURNS for fact in turn.facts}
    assert "(engine " + ENGINE + ", 0 entities to start with)" in first
    for number, turn in enumerate(example.TURNS, start=1):
        assert f"turn {number}: {turn.said}" in first
    assert f"Memory now holds {len(names)} entities and {len(_relations(example))} relations." in first
    # A fact met again is an update (its observations are appended), not a new entity.
    assert "remembered: new Lisbon; updated Ravi; 1 relation" in first


def test_replaying_the_conversation_changes_nothing(runs):
    first, second = runs
    example = _script()
    names = {fact.name for turn in example.TURNS for fact in turn.facts}
    assert f"{len(names)} entities to start with" in second
    totals = re.compile(r"Memory now holds \d+ entities and \d+ relations\.")
    assert totals.findall(first) == totals.findall(second)


def test_recall_puts_the_kafka_expert_in_the_prompt(runs):
    first, _ = runs
    block = first.split("Q: Who knows Kafka well?", 1)[1].split("\nQ: ", 1)[0]
    match = re.search(r"recall\(k=3, hops=1\) -> (\d+) entities, (\d+) relations; prompt context \((\d+) chars\)",
                      block)  # fmt: skip
    assert match is not None, block
    entities, relations, chars = map(int, match.groups())
    assert 1 <= entities <= 6 and relations <= 8 and chars <= 1000
    assert "- Kafka [Technology]: Distributed event streaming platform" in block
    assert "- Ravi -EXPERT_IN-> Kafka" in block


def test_near_searches_explain_each_hit_with_a_real_path(runs):
    first, _ = runs
    relations = _relations(_script())
    sections = re.split(r"\nQ: ", first)
    searches = [s for s in sections if "search(near=" in s.split("\n", 1)[0]]
    assert len(searches) == 3
    for section in searches:
        anchor = re.search(r"near='([^']+)', max_hops=(\d)", section)
        assert anchor is not None
        hits = re.findall(r"^  (.+?) \(score (-?[\d.]+), (\d+) hops?\)", section, re.MULTILINE)
        paths = re.findall(r"^      because: (.+)$", section, re.MULTILINE)
        assert len(hits) == 3
        scores = [float(score) for _, score, _ in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(int(hops) <= int(anchor.group(2)) for _, _, hops in hits)
        # Every hit but the anchor itself (0 hops) has a path, starting at the anchor, ending at
        # the hit, as long as its hop count.
        moved = [(name, int(hops)) for name, _, hops in hits if int(hops) > 0]
        assert len(paths) == len(moved)
        for (name, hops), line in zip(moved, paths):
            names = _check_path(line, relations)
            assert names[0] == anchor.group(1) and names[-1] == name and len(names) == hops + 1
    batch = searches[0]
    assert "Nightly ETL (score" in batch.split("\n")[1] and "Billing pipeline <-READS_FROM- Nightly ETL" in batch
    holiday = searches[1]
    assert "Ravi (score" in holiday.split("\n")[1]
    assert "Maya -LEADS-> Platform team <-MEMBER_OF- Ravi" in holiday


def test_paths_between_lists_each_shortest_path_with_its_entities(runs):
    first, _ = runs
    block = first.split("paths_between('Lena', 'Ravi'):", 1)[1]
    lines = block.strip("\n").split("\n")
    names = _check_path(lines[0].strip(), _relations(_script()))
    assert names == ["Lena", "Data team", "Orbit Labs", "Platform team", "Ravi"]
    described = [line.strip().split(" [", 1)[0] for line in lines[1:1 + len(names)]]
    assert described == names
