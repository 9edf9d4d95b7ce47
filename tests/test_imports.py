"""What a process imports before it needs it (issue 19: ``graphmem mcp`` answers its first call sooner).

Each check runs in a fresh interpreter (a module this test process already
imported would hide a regression) and reads its ``sys.modules`` or its
``-X importtime`` report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("numba", "torch", "sentence_transformers", "mcp", "mcp_types", "kuzu", "pyarrow", "rich")


def _modules_after(code: str) -> set[str]:
    """The modules in ``sys.modules`` after ``code`` runs in a new interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120)  # fmt: skip
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_graphmem_loads_none_of_the_heavy_packages() -> None:
    loaded = {m.split(".")[0] for m in _modules_after("import graphmem")}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_every_public_name_still_resolves_and_loads_on_use() -> None:
    loaded = _modules_after(
        "import graphmem, typing\n"
        "assert sorted(dir(graphmem)) == sorted(set(dir(graphmem)))\n"
        "missing = [n for n in graphmem.__all__ if n not in dir(graphmem)]\n"
        "assert not missing, missing\n"
        "for n in graphmem.__all__:\n"
        "    assert getattr(graphmem, n) is not None, n\n"
        "assert graphmem.open.__name__ == 'open_memory'\n"
        "from graphmem import Memory, Entity, NotFound\n"
        "typing.get_type_hints(Memory.add_entity)\n"
    )
    assert "graphmem.memory.facade" in loaded  # Memory was loaded on use


def test_an_unknown_name_is_an_attribute_error() -> None:
    import graphmem

    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        graphmem.nonesuch  # noqa: B018 - the access is the test


def test_opening_a_store_does_not_import_numba() -> None:
    """numba loads at the first compiled kernel, not when the modules holding kernels are imported."""
    loaded = _modules_after("import graphmem\nm = graphmem.open(embedder=None)\nm.stats()\nm.close()")
    assert "numba" not in loaded


def test_rebuilding_a_small_graph_state_imports_neither_numba_nor_pandas(tmp_path: Path) -> None:
    """A store with no saved graph state (an MCP server stops without saving
    one) is rebuilt at the first call that needs it, before a server's first
    answer: on a small graph that build runs in NumPy (not numba: 0.7-1.1 s
    to import and load) and hands Arrow no NumPy array through ``pa.array``,
    which imports pandas when it is installed (0.4 s); nor does a text
    index caught up with the writes made after its save."""
    import graphmem

    from .conftest import ENGINE

    path = tmp_path / "s"
    mem = graphmem.open(path, engine=ENGINE, embedder=None)
    mem.add_entities([{"name": f"e{i}", "observations": [f"note {i}"]} for i in range(50)])
    mem.add_relations([{"source": f"e{i}", "type": "R", "target": f"e{(i * 7 + 1) % 50}"} for i in range(50)])
    mem.close(save_index=False)
    loaded = _modules_after(
        "import graphmem\n"
        f"mem = graphmem.open({str(path)!r}, engine={ENGINE!r}, embedder=None)\n"
        "assert [e.name for e in mem.find_text('e7', limit=1)] == ['e7']\n"
        "assert mem._derived.last_load['source'] == 'rebuilt', mem._derived.last_load\n"
        "assert len(mem.find_relations(['e7'])) == 2\n"
        "mem.close(save_index=False)"
    )
    assert not {m.split(".")[0] for m in loaded} & {"numba", "pandas"}
    # Saved, then written past the save: the next open catches the text index up.
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.find_text("", limit=1)  # loaded, so saved with the graph state
        mem.flush()
        mem.add_entities([{"name": f"late{i}", "observations": ["after the save"]} for i in range(5)])
        mem.close(save_index=False)
    loaded = _modules_after(
        "import graphmem\n"
        f"mem = graphmem.open({str(path)!r}, engine={ENGINE!r}, embedder=None)\n"
        "assert [e.name for e in mem.find_text('late3', limit=1)] == ['late3']\n"
        "assert mem._derived.last_text_load == {'source': 'file', 'caught_up': 5}, mem._derived.last_text_load\n"
        "mem.close(save_index=False)"
    )
    assert not {m.split(".")[0] for m in loaded} & {"numba", "pandas"}


def test_a_vector_search_on_a_reopened_store_imports_no_pandas(tmp_path: Path) -> None:
    """The first search loads the vector index (its rows read from the store
    as Arrow columns): no ``to_numpy`` or ``pa.array`` on the way, which
    import pandas where it is installed (0.3-0.4 s of the first search)."""
    import numpy as np

    import graphmem

    from .conftest import ENGINE

    path = tmp_path / "s"
    rng = np.random.default_rng(0)
    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:
        mem.add_entities([{"name": f"e{i}", "embedding": rng.normal(size=8).astype(np.float32)} for i in range(40)])
    loaded = _modules_after(
        "import graphmem, numpy as np\n"
        f"mem = graphmem.open({str(path)!r}, engine={ENGINE!r}, embedder=None)\n"
        "hits = mem.search(np.ones(8, np.float32), k=3)\n"
        "assert len(hits) == 3, hits\n"
    )
    assert "pandas" not in {m.split(".")[0] for m in loaded}


def test_the_first_kernel_call_swaps_in_numba_dispatchers_everywhere() -> None:
    """After the first call every module that named a kernel holds numba's
    dispatcher itself (no forwarding layer on the hot path), and the kernel
    answers as compiled code does."""
    out = subprocess.run([sys.executable, "-c", (
        "import sys, numpy as np\n"
        "from graphmem.algorithms import csr, paths, jit\n"
        "assert type(csr._build) is jit.Kernel and type(paths.segment) is jit.Kernel\n"
        "assert 'numba' not in sys.modules and not jit.loaded()\n"
        "adj = csr.from_edges(np.array([0, 1]), np.array([1, 2]), np.array([0, 0], np.int32), 3)\n"
        "print(paths.bidirectional_bfs(adj, 0, 2, n_nodes=3))\n"
        "from numba.core.registry import CPUDispatcher\n"
        "for module in (csr, paths):\n"
        "    left = [n for n, v in vars(module).items() if type(v) is jit.Kernel]\n"
        "    assert not left, left\n"
        "assert isinstance(csr._build, CPUDispatcher) and paths.segment is csr.segment and jit.loaded()\n"
        "assert isinstance(jit.njit(cache=False)(lambda x: x + 1), CPUDispatcher)  # decorated after the load\n"
    )], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "IdPath(nodes=[0, 1, 2]" in out.stdout or "[0, 1, 2]" in out.stdout, out.stdout


def test_graphmem_mcp_imports_neither_the_console_nor_the_model(tmp_path: Path) -> None:
    """``graphmem mcp PATH`` (stdin at EOF: it starts, then stops) loads the
    server's needs only: not rich, the console, the viewer, the benchmarks,
    the cluster backend, the embedding model's stack, numba, the MCP SDK
    (the stdio server answers through graphmem.mcp.protocol), nor pandas
    (which pyarrow imports, where installed, for pa.array and to_numpy)."""
    pytest.importorskip("mcp")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphmem", "mcp", str(tmp_path / "s"),
                          "--embedder", "none"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "graphmem.mcp.protocol" in imported  # the report is read right
    unwanted = {m for m in imported if m.split(".")[0] in ("rich", "numba", "torch", "sentence_transformers",
                                                           "prompt_toolkit", "benchmarks", "mcp", "mcp_types",
                                                           "pandas")
                or m.startswith(("graphmem.console.", "graphmem.view", "graphmem.backends", "graphmem.demo"))}  # fmt: skip
    assert not unwanted, sorted(unwanted)


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _rpc(proc: subprocess.Popen[bytes], message: dict[str, object]) -> dict[str, object]:
    """Send one JSON-RPC request on the server's stdin; return its answer (notifications skipped)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        assert line, "the server closed its output"
        answer = json.loads(line)
        if answer.get("id") == message["id"]:
            return dict(answer)


def _unembedded_store(path: Path) -> None:
    import graphmem

    from .conftest import ENGINE

    with graphmem.open(path, engine=ENGINE, embedder=None) as mem:  # entities without vectors
        mem.add_entities([{"name": "harbour-master", "observations": ["watches the quiet harbour"]},
                          {"name": "baker", "observations": ["bakes rye bread at dawn"]}])  # fmt: skip


def _start(path: Path) -> subprocess.Popen[bytes]:
    from .conftest import ENGINE

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "graphmem", "--engine", ENGINE, "mcp", str(path)], cwd=ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip


_INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                          "clientInfo": {"name": "test", "version": "0"}}}  # fmt: skip


def _needs_the_model_and_proc() -> None:
    import importlib.util

    pytest.importorskip("mcp")
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("the model extra is not installed")
    if not Path("/proc/self/maps").exists():
        pytest.skip("reads the server's mapped libraries from /proc")


@pytest.mark.engine
def test_the_model_is_not_loaded_before_the_first_answer_even_with_entities_to_embed(tmp_path: Path) -> None:
    """A store holding entities without vectors starts embedding them at open
    (the catch-up after a crash); the model's load must still wait for the
    client: no torch library is mapped when ``initialize`` is answered."""
    _needs_the_model_and_proc()
    _unembedded_store(tmp_path / "s")
    proc = _start(tmp_path / "s")
    try:
        answer = _rpc(proc, _INITIALIZE)
        assert "result" in answer, answer
        assert "libtorch" not in _maps(proc.pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=120)


@pytest.mark.slow
@pytest.mark.engine
def test_a_first_call_without_listing_the_tools_starts_the_deferred_model(tmp_path: Path) -> None:
    """The model's load waits for the warm-up, which the first tools/call
    starts too: a client that never lists the tools still gets its
    semantic_search answered, over the entities embedded meanwhile. The
    entities predate this server, so the search does not wait for them: it
    says how many are still waiting (``notYetEmbedded``) until the backlog
    the first call started has embedded them."""
    _needs_the_model_and_proc()
    _unembedded_store(tmp_path / "s")
    proc = _start(tmp_path / "s")
    try:
        assert "result" in _rpc(proc, _INITIALIZE)
        assert proc.stdin is not None
        proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        for call_id in range(2, 1202):
            answer = _rpc(proc, {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
                                 "params": {"name": "semantic_search", "arguments": {"query": "rye bread"}}})  # fmt: skip
            result = answer["result"]
            assert isinstance(result, dict) and not result.get("isError"), answer
            found = result["structuredContent"]
            if "notYetEmbedded" not in found:
                break
            assert found["notYetEmbedded"] >= 1, found
            time.sleep(0.1)
        else:
            pytest.fail("the first tools/call never started the deferred model: nothing was embedded")
        assert found["results"][0]["name"] == "baker"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=120)
