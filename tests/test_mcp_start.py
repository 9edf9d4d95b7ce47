"""An MCP server's start (issue 19: first answer within a second at 100k
entities): the indexes come from the saved files, a server saves what it had
to rebuild (it stops without saving), and its first answers need no numba."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import graphmem
from graphmem.index.saved import FOLDER, MANIFEST_FILE
from tests.mcp_client import ENGINE

pytestmark = pytest.mark.engine


def _fill(store: Path) -> None:
    with graphmem.open(store, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "Thing", "observations": [f"obs {i}"]} for i in range(60)])
        mem.add_relations([(f"e{i}", "R", f"e{(i * 7 + 1) % 60}") for i in range(60)])
        mem.shortest_path("e0", "e1")  # the graph state is loaded, and saved at the close; no text index


def _manifest(store: Path) -> dict:
    return json.loads((store / FOLDER / MANIFEST_FILE).read_text())


def test_a_server_saves_the_text_index_it_rebuilt_and_the_next_start_reads_it(tmp_path: Path, monkeypatch):
    from graphmem.mcp.share import Shared
    from graphmem.memory import ready

    store = tmp_path / "store"
    _fill(store)
    assert "text" not in _manifest(store)
    shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=None))
    shared.start()
    try:  # a small store: a rebuild costs less than a save, none is made
        assert shared.warm()
        before = _manifest(store)["save_id"]
        monkeypatch.setattr(ready, "REBUILT_SAVED", 121)
        shared.save_rebuilt()
        assert _manifest(store)["save_id"] == before
    finally:
        shared.close(save_index=False)
    monkeypatch.setattr(ready, "REBUILT_SAVED", 120)
    for start in ("rebuilt", "file"):
        shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=None))
        shared.start()
        try:
            assert shared.warm()
            before = _manifest(store)["save_id"]
            shared.save_rebuilt()
            derived = shared._holder.mem._derived  # type: ignore[union-attr]
            assert derived.last_text_load["source"] == start
            if start == "rebuilt":
                assert "text" in _manifest(store) and _manifest(store)["save_id"] != before
            else:
                assert derived.last_text_load == {"source": "file", "caught_up": 0}
                assert _manifest(store)["save_id"] == before  # nothing rebuilt: nothing saved
            outcome = shared.call_tool("search_nodes", {"query": "obs 1"})
            found = [e["name"] for e in outcome.structured["entities"]]
            assert found == ["e1"] + [f"e{i}" for i in range(10, 20)]
        finally:
            shared.close(save_index=False)  # as the server stops: no save


def test_the_first_search_nodes_answer_imports_no_numba(tmp_path: Path):
    """In a fresh process: search_nodes (with its relations step) answers
    through NumPy; numba is loaded only by what needs a compiled kernel."""
    store = tmp_path / "store"
    _fill(store)
    script = (
        "import sys, graphmem\n"
        "from graphmem.mcp.tools import Tools\n"
        f"mem = graphmem.open({str(store)!r}, engine={ENGINE!r}, embedder=None)\n"
        "out = Tools(mem).call('search_nodes', {'query': 'obs 1'}).structured\n"
        "print(len(out['entities']), len(out['relations']), 'numba' in sys.modules)\n"
        "mem.shortest_path('e0', 'e1')\n"
        "print('numba' in sys.modules)\n"
        "mem.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    first, after = done.stdout.split("\n")[:2]
    relations = {(i, (i * 7 + 1) % 60) for i in range(60)}
    hits = {1, *range(10, 20)}
    assert first == f"11 {sum(1 for s, t in relations if s in hits or t in hits)} False"
    assert after == "True"
