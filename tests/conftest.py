"""Shared fixtures. GRAPHMEM_ENGINE picks the engine (one per process: kuzu and
ladybug cannot share a process); tests that use a store are marked ``engine``
automatically so the Makefile can run them again under the other engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import graphmem

ENGINE = os.environ.get("GRAPHMEM_ENGINE", "kuzu")
_STORE_FIXTURES = {"mem", "disk_mem", "open_store", "engine"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _STORE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)


@pytest.fixture
def engine() -> str:
    return ENGINE


@pytest.fixture
def open_store():
    """``graphmem.open`` with the engine under test and no embedder (unless given)."""
    opened: list[graphmem.Memory] = []

    def _open(path, **kw):
        kw.setdefault("embedder", None)
        kw.setdefault("engine", ENGINE)
        mem = graphmem.open(path, **kw)
        opened.append(mem)
        return mem

    yield _open
    for mem in opened:
        mem.close()


@pytest.fixture(params=["memory", "disk"])
def mem(request, tmp_path: Path, open_store):
    return open_store(None if request.param == "memory" else tmp_path / "store")


@pytest.fixture
def disk_mem(tmp_path: Path, open_store):
    return open_store(tmp_path / "store")
