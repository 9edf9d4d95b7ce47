"""Named Cypher statements (``queries/NAME.cypher``) and parameter checks.

Every statement graphmem runs is a file, so reviews see the Cypher whole and a
test can check that each name used in code has a file and each file is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from ..errors import QueryError
from .resources import resource_dir

__all__ = ["load_query", "query_names", "parameter_names", "check_bound", "may_write", "deletes", "touches_relations",
           "runs_alone", "changed_rows"]

# String literals and comments are removed before looking for $names, so that
# "'costs $5'" or "// $x" do not count as parameters.
_STRIP = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_WRITE_CLAUSE = re.compile(r"\b(SET|DELETE|CREATE|MERGE|REMOVE|COPY|DROP|ALTER)\b", re.I)
# Clauses that change rows that already exist; CREATE and COPY only add rows.
_UPDATE_CLAUSE = re.compile(r"\b(SET|DELETE|MERGE|REMOVE|DROP|ALTER)\b", re.I)
_DELETE_CLAUSE = re.compile(r"\bDELETE\b", re.I)
_RELATION_TABLE = re.compile(r"\bRelation\b")
_ITERATES = re.compile(r"\bUNWIND\b|\bIN\s+\$|\bsize\(\s*\$", re.I)
_ANSWERS_OR_COPIES = re.compile(r"\b(RETURN|COPY|CALL)\b|;", re.I)


@cache
def load_query(name: str) -> str:
    """The text of ``queries/<name>.cypher``."""
    node = resource_dir("queries") / f"{name}.cypher"
    if not node.is_file():
        raise QueryError(f"no named query {name!r} (expected queries/{name}.cypher)")
    return node.read_text(encoding="utf-8").strip().rstrip(";")


def query_names() -> list[str]:
    """Names of every shipped query."""
    return sorted(n.name[: -len(".cypher")] for n in resource_dir("queries").iterdir() if n.name.endswith(".cypher"))


@cache
def parameter_names(text: str) -> frozenset[str]:
    """The ``$parameters`` a Cypher statement refers to.

    Examples
    --------
    >>> sorted(parameter_names("MATCH (e {name: $who}) WHERE e.note <> '$x' RETURN $limit"))
    ['limit', 'who']
    """
    return frozenset(_PARAM.findall(_STRIP.sub(" ", text)))


@lru_cache(maxsize=1024)  # user Cypher texts vary: bounded
def may_write(text: str) -> bool:
    """Whether a statement may change rows (conservatively: it has a write clause).

    Examples
    --------
    >>> may_write("MATCH (e:Entity {key: $k}) RETURN e.name"), may_write("MATCH (e) SET e.x = 1")
    (False, True)
    >>> may_write("MATCH (e) WHERE e.note = 'SET' RETURN e")
    False
    """
    return _WRITE_CLAUSE.search(_STRIP.sub(" ", text)) is not None


@lru_cache(maxsize=1024)
def deletes(text: str) -> bool:
    """Whether a statement may delete rows for good (it has a ``DELETE`` clause):
    such a change leaves no write time behind for a catch-up to find.

    Examples
    --------
    >>> deletes("MATCH (e) DETACH DELETE e"), deletes("// DELETE in a comment\\nMATCH (e) RETURN e")
    (True, False)
    """
    return _DELETE_CLAUSE.search(_STRIP.sub(" ", text)) is not None


@lru_cache(maxsize=1024)
def touches_relations(text: str) -> bool:
    """Whether a statement names the relation table (so may write relations).

    Examples
    --------
    >>> touches_relations("MATCH (a)-[r:Relation]->(b) SET r.expired_at = $now")
    True
    >>> touches_relations("MATCH (e:Entity {key: $k}) SET e.text = 'Relation'")
    False
    """
    return _RELATION_TABLE.search(_STRIP.sub(" ", text)) is not None


def may_update(text: str) -> bool:
    """Whether a statement may change or delete rows that already exist
    (conservatively: it has such a clause). kuzu 0.11.3's rollback damages
    only the update history of existing rows (issue 17.2): a transaction that
    only added rows needs no checkpoint after it is rolled back.

    Examples
    --------
    >>> may_update("UNWIND $rows AS r CREATE (:Entity {key: r.key})"), may_update("MATCH (e) SET e.x = 1")
    (False, True)
    >>> may_update("COPY Entity FROM $rows"), may_update("MATCH (e) DETACH DELETE e")
    (False, True)
    """
    return _UPDATE_CLAUSE.search(_STRIP.sub(" ", text)) is not None


def check_bound(text: str, params: Mapping[str, Any] | None, *, label: str = "query") -> None:
    """Refuse to run ``text`` unless every ``$name`` in it is bound.

    kuzu 0.11.3 runs a statement whose parameter is unbound and the predicate
    then matches every row (measured: a DELETE without its ``$who`` empties the
    table), so an unbound parameter must never reach the engine.
    """
    missing = parameter_names(text) - set(params or ())
    if missing:
        names = ", ".join(f"${m}" for m in sorted(missing))
        raise QueryError(f"{label} refers to parameter(s) {names} that were not given")


@lru_cache(maxsize=1024)
def runs_alone(text: str) -> bool:
    """Whether a write statement may be held back and, when it is its
    transaction's only statement, run alone in the engine's own transaction
    (see ``Store.transaction``): it answers no rows (no ``RETURN``), is one
    statement, and neither copies nor calls a procedure (whose commits have
    their own rules).

    Examples
    --------
    >>> runs_alone("UNWIND $rows AS r CREATE (:Entity {key: r.key})")
    True
    >>> runs_alone("MATCH (e) RETURN e.key"), runs_alone("COPY Entity FROM $rows")
    (False, False)
    >>> runs_alone("MATCH (e {key: 'a;b'}) SET e.x = 1"), runs_alone("CREATE (:T); CREATE (:T)")
    (True, False)
    """
    return _ANSWERS_OR_COPIES.search(_STRIP.sub(" ", text)) is None and may_write(text)


def changed_rows(text: str, params: Mapping[str, Any] | None) -> int:
    """About how many existing rows a statement that updates or deletes
    changes: the rows of a table it reads (``LOAD FROM``), else the longest
    list it iterates (``UNWIND``, ``IN $list``, ``size($list)``), else one.
    A statement that changes every row its pattern finds (an entity's
    relations, a range of ids) counts as one: only its parameters are seen.

    Examples
    --------
    >>> changed_rows("MATCH (e:Entity {key: $key}) SET e.observations = $observations",
    ...              {"key": "k", "observations": ["a", "b", "c"]})
    1
    >>> changed_rows("UNWIND range(2, size($key)) AS i MATCH (e:Entity {key: $key[i]}) SET e.x = 1",
    ...              {"key": ["", "a", "b"]})
    3
    """
    if not params:
        return 1
    tables = [v.num_rows for v in params.values() if hasattr(v, "num_rows")]
    if tables:
        return int(max(tables))
    if not _iterates(text):
        return 1
    return max([len(v) for v in params.values() if isinstance(v, (list, tuple))], default=1)


@lru_cache(maxsize=1024)
def _iterates(text: str) -> bool:
    """Whether a statement iterates a list parameter (stripping the text costs ~35 µs: once per text)."""
    return _ITERATES.search(_STRIP.sub(" ", text)) is not None
