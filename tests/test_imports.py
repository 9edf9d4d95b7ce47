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
    the cluster backend, the embedding model's stack, nor numba."""
    pytest.importorskip("mcp")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphmem", "mcp", str(tmp_path / "s"),
                          "--embedder", "none"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "mcp.server.lowlevel" in imported  # the report is read right
    unwanted = {m for m in imported if m.split(".")[0] in ("rich", "numba", "torch", "sentence_transformers",
                                                           "prompt_toolkit", "benchmarks")
                or m.startswith(("graphmem.console.", "graphmem.view", "graphmem.backends", "graphmem.demo"))}  # fmt: skip
    assert not unwanted, sorted(unwanted)
