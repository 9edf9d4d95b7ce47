"""``graphmem.api.MemoryAPI``: both backends implement every member with the same signature.

The behaviour is checked by the contract tests (which the cluster runs too:
``tests/test_cluster.py``) and the cluster's differential tests; here the
shape: every protocol member exists on ``Memory`` and ``ClusterMemory`` with
the protocol's parameters (names, kinds, defaults) and resolvable annotations
equal to the protocol's, so that a face typed ``MemoryAPI`` runs on either.
"""

from __future__ import annotations

import inspect
import typing

import pytest

import graphmem
from graphmem.api import MemoryAPI
from graphmem.backends.cluster.memory import ClusterMemory

BACKENDS = [graphmem.Memory, ClusterMemory]


def _members() -> list[str]:
    names = [n for n in vars(MemoryAPI) if not n.startswith("_") or n in ("__enter__", "__exit__", "__len__")]
    return sorted(n for n in names if callable(getattr(MemoryAPI, n)) or isinstance(vars(MemoryAPI)[n], property))


def _function(cls: type, name: str):  # noqa: ANN202 - a function or a property's getter
    member = inspect.getattr_static(cls, name)
    return member.fget if isinstance(member, property) else member


def test_protocol_lists_every_public_member_of_the_embedded_memory() -> None:
    public = {n for n in dir(graphmem.Memory) if not n.startswith("_")}
    assert public <= set(_members()), f"public on Memory but not in MemoryAPI: {sorted(public - set(_members()))}"


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", _members())
def test_backend_matches_the_protocol(cls: type, name: str) -> None:
    want, got = _function(MemoryAPI, name), _function(cls, name)
    assert isinstance(inspect.getattr_static(cls, name), property) == isinstance(vars(MemoryAPI)[name], property)
    if isinstance(vars(MemoryAPI)[name], property):
        assert (inspect.getattr_static(cls, name).fset is None) == (vars(MemoryAPI)[name].fset is None), name
    params_want = list(inspect.signature(want).parameters.values())[1:]
    params_got = list(inspect.signature(got).parameters.values())[1:]
    shape = [(p.name, p.kind, p.default) for p in params_want]
    assert [(p.name, p.kind, p.default) for p in params_got] == shape, f"{cls.__name__}.{name}"
    hints_want, hints_got = typing.get_type_hints(want), typing.get_type_hints(got)
    returns = hints_want.pop("return")
    got_returns = hints_got.pop("return")
    assert hints_got == hints_want, f"{cls.__name__}.{name}"
    if returns is MemoryAPI:  # namespace() / __enter__ return the backend's own class
        assert got_returns is cls
    else:
        assert got_returns == returns, f"{cls.__name__}.{name}"


def test_every_public_method_has_resolvable_annotations() -> None:
    """``typing.get_type_hints`` works on each public member (no name imported only lazily)."""
    for cls in (*BACKENDS, MemoryAPI):
        for name in _members():
            typing.get_type_hints(_function(cls, name))


def test_the_cluster_says_why_it_has_no_history_pages() -> None:
    """relation_history / entity_versions on the cluster raise NotSupported (a NotImplementedError)
    naming the reason, before any call to the cluster (so no connection is needed here)."""
    from graphmem.backends.cluster import NotSupported

    cluster = object.__new__(ClusterMemory)
    for call in (lambda: cluster.relation_history("x", limit=5), lambda: cluster.entity_versions("x")):
        with pytest.raises(NotSupported, match="keeps no versions"):
            call()


def test_embedded_memory_is_a_memory_api(tmp_path) -> None:
    with graphmem.open(tmp_path / "s", embedder=None) as mem:
        assert isinstance(mem, MemoryAPI)
        assert isinstance(mem.namespace("other"), MemoryAPI)


def test_faces_read_no_private_member_of_the_memory() -> None:
    """The faces (CLI, console, MCP server, viewer, demo, integrations) use the public API only:
    none reads an underscored attribute of the memory it holds (``mem._store`` and the like)."""
    import re
    from pathlib import Path

    root = Path(graphmem.__file__).parent
    faces = [root / "demo.py", root / "warm.py"]
    for package in ("cli", "console", "mcp", "view", "integrations"):
        faces += sorted((root / package).rglob("*.py"))
    reached = re.compile(r"\b(?:mem|memory|_mem|self\._mem|self\.mem)\._[a-z]\w*")
    found = {str(p.relative_to(root)): reached.findall(p.read_text()) for p in faces}
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_interchange_reaches_no_private_member_of_the_memory() -> None:
    """Import and export use the public API (``MemoryAPI``), and an embedded memory's bulk
    path only through :mod:`graphmem.memory.loading`: no underscored member of the memory,
    as an attribute or by name through ``getattr`` (as the import once found ``_write_entity_batch``)."""
    import re
    from pathlib import Path

    root = Path(graphmem.__file__).parent
    reached = re.compile(r"\b(?:mem|memory)\._[a-z]\w*|getattr\(\s*(?:mem|memory)\s*,\s*[\"']_")
    found = {str(p.relative_to(root)): reached.findall(p.read_text())
             for p in sorted((root / "interchange").rglob("*.py"))}  # fmt: skip
    assert {path: hits for path, hits in found.items() if hits} == {}
