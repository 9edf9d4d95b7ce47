"""Schema migrations: ``schema/NNN_name.cypher`` applied in order.

The version a store is at is the ``schema_version`` row of its ``Meta`` table
(0 for a new, empty database). Opening a store made by an older version applies
the missing files, each in its own transaction together with the new version
number, so a crash mid-migration leaves the store at a whole version. A store
from a newer version is refused: this graphmem cannot know what it means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptStore, IncompatibleStore
from .resources import resource_dir

__all__ = ["Migration", "shipped_migrations", "split_statements"]

_FILE = re.compile(r"(\d{3})_[A-Za-z0-9_]+\.cypher\Z")
_COMMENT = re.compile(r"//[^\n]*")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(text: str) -> tuple[str, ...]:
    """Split a DDL file on ``;`` (the schema files contain no string literals with ``;``).

    Examples
    --------
    >>> split_statements("CREATE NODE TABLE A(k STRING PRIMARY KEY); // note\\n;")
    ('CREATE NODE TABLE A(k STRING PRIMARY KEY)',)
    """
    body = _COMMENT.sub("", text)
    return tuple(s.strip() for s in body.split(";") if s.strip())


def shipped_migrations() -> list[Migration]:
    """The migrations in ``schema/``, ordered and checked to be 1, 2, 3, ..."""
    found = []
    for node in resource_dir("schema").iterdir():
        m = _FILE.match(node.name)
        if m:
            found.append(Migration(int(m.group(1)), node.name, split_statements(node.read_text(encoding="utf-8"))))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise CorruptStore(f"schema files must be numbered 001, 002, ... without gaps; found {mig.name}")
    return found


def plan(current: int, migrations: Sequence[Migration], *, where: str) -> list[Migration]:
    """The migrations to apply to a store at version ``current``."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise IncompatibleStore(
            f"the store{where} has schema version {current}, newer than this graphmem knows ({latest}); "
            "upgrade graphmem to open it"
        )
    return [m for m in migrations if m.version > current]


def apply(migration: Migration, run: Callable[[str, dict[str, Any] | None], object]) -> None:
    """Run one migration's statements (the caller wraps them in a transaction)."""
    for statement in migration.statements:
        run(statement, None)
