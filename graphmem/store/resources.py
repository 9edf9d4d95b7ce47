"""Where the shipped Cypher lives: ``schema/`` and ``queries/``.

In a wheel they are force-included as ``graphmem/_schema`` and
``graphmem/_queries``; in a source checkout (or an editable install) they are
the top-level folders beside the package.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["resource_dir"]


def resource_dir(kind: str) -> Traversable:
    """The folder of ``kind`` (``"schema"`` or ``"queries"``)."""
    packaged = resources.files("graphmem") / f"_{kind}"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / kind
    if source.is_dir():
        return source
    raise FileNotFoundError(f"graphmem's {kind}/ folder is missing from this installation")
