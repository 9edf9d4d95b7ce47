"""Between the reference server's JSON shapes and graphmem's records.

The reference accepts any string as an ``entityType`` or ``relationType``
("Programming Language", "works at"); graphmem types are identifiers
(``WORKS_AT``, ``位置する``: what :meth:`str.isidentifier` accepts, as
:func:`graphmem.validate.check_type` does) because people write them in
Cypher. A type that is already an identifier is stored as it is, so a tool
and the Python API store and show the same type. Any other type is stored as an identifier made
from it (``works_at``) and the string the agent wrote is kept in the record's
properties, under :data:`ENTITY_TYPE_KEY` or :data:`RELATION_TYPE_KEY`, so that
every tool shows the agent exactly what it wrote.

Cursors are opaque to the client: URL-safe base64 of a small JSON object
naming the tool and the position, so a cursor cannot be replayed on another
tool or another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from ..config import MAX_TYPE_LENGTH
from ..errors import InvalidInput
from ..types import Entity, Relation

__all__ = [
    "ENTITY_TYPE_KEY",
    "RELATION_TYPE_KEY",
    "stored_type",
    "entity_json",
    "relation_json",
    "relation_type_shown",
    "encode_cursor",
    "decode_cursor",
    "fingerprint",
]

ENTITY_TYPE_KEY = "mcp_entity_type"
RELATION_TYPE_KEY = "mcp_relation_type"

_RUNS = re.compile(r"_{2,}")


def stored_type(shown: str, *, fallback: str) -> tuple[str, str | None]:
    """The graphmem type for a type string, and the string to keep if they differ.

    Examples
    --------
    >>> stored_type("person", fallback="Entity")
    ('person', None)
    >>> stored_type("works at", fallback="RELATED_TO")
    ('works_at', 'works at')
    >>> stored_type("3D model", fallback="Entity")
    ('T_3D_model', '3D model')
    >>> stored_type("位置する", fallback="RELATED_TO")
    ('位置する', None)
    >>> stored_type("gehört zu", fallback="RELATED_TO")
    ('gehört_zu', 'gehört zu')
    >>> stored_type("", fallback="Entity")
    ('Entity', '')
    """
    if len(shown) <= MAX_TYPE_LENGTH and shown.isidentifier():
        return shown, None
    # Keep every character an identifier may continue with (Unicode letters
    # included, as check_type accepts them); the rest become "_".
    word = _RUNS.sub("_", "".join(c if ("_" + c).isidentifier() else "_" for c in shown)).strip("_")
    if not word:
        # Nothing to keep ("", "--", "!?"): distinct strings still get
        # distinct types, so type filters keep them apart.
        word = f"{fallback}_{_digest(shown)}" if shown else fallback
    elif not word.isidentifier():  # starts with a digit (or a character only allowed after the first)
        word = "T_" + word
    if len(word) > MAX_TYPE_LENGTH:
        word = word[: MAX_TYPE_LENGTH - 9] + "_" + _digest(shown)
    return word, shown


def _digest(shown: str) -> str:
    return hashlib.sha1(shown.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def entity_json(entity: Entity) -> dict[str, Any]:
    """An entity in the reference's shape: ``{name, entityType, observations}``."""
    shown = entity.properties.get(ENTITY_TYPE_KEY)
    return {
        "name": entity.name,
        "entityType": shown if isinstance(shown, str) else entity.type,
        "observations": list(entity.observations),
    }


def relation_type_shown(stored: str, properties: dict[str, Any]) -> str:
    """The relation type as the agent wrote it."""
    shown = properties.get(RELATION_TYPE_KEY)
    return shown if isinstance(shown, str) else stored


def relation_json(relation: Relation) -> dict[str, Any]:
    """A relation in the reference's shape: ``{from, to, relationType}``."""
    return {
        "from": relation.source,
        "to": relation.target,
        "relationType": relation_type_shown(relation.type, relation.properties),
    }


def fingerprint(value: Any) -> str:
    """A short digest of a tool's arguments, so a cursor only continues its own query."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def encode_cursor(tool: str, query: str, position: int) -> str:
    """An opaque cursor for ``tool``'s next page.

    Examples
    --------
    >>> decode_cursor(encode_cursor("read_graph", "", 42), "read_graph", "")
    42
    """
    raw = json.dumps({"t": tool, "q": query, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, tool: str, query: str) -> int:
    """The position a cursor made by :func:`encode_cursor` points at.

    Raises
    ------
    InvalidInput
        The cursor is malformed, or was made by another tool or query.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        position = data["p"]
        same = data["t"] == tool and data["q"] == query
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidInput(f"cursor {cursor!r} is not a cursor this server made") from None
    if not same:
        raise InvalidInput("this cursor belongs to another tool or another query; start again without a cursor")
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise InvalidInput(f"cursor {cursor!r} is not a cursor this server made")
    return position
