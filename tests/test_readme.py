"""README.md's ```python blocks run as-is, in order, in one namespace (the API tour is tested)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

import graphmem

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of every ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def test_block_extraction():
    text = "intro\n```python\nx = 1\n```\n```console\n$ ls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = x\n")]


def test_readme_opens_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = text.index("```python")
    assert text.index("make demo") < first_block and text.index("make test") < first_block


@pytest.mark.engine
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    monkeypatch.chdir(tmp_path)
    # The README leaves the engine at its default; run it on the engine under test.
    monkeypatch.setattr(graphmem, "open", functools.partial(graphmem.open, engine=ENGINE))
    namespace: dict[str, object] = {"__name__": "__readme__"}
    try:
        for line, code in blocks:
            exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, graphmem.Memory):
                value.close()
