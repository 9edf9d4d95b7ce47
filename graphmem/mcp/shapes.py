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
from typing import Any

from ..config import ENTITY_TYPE_KEY, RELATION_TYPE_KEY
from ..errors import InvalidInput
from ..validate import check_count, stored_type
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

    Examples
    --------
    A cursor whose position is not an int >= 0 (here ``true``) was not made here:

    >>> decode_cursor("eyJ0IjoieCIsInEiOiIiLCJwIjp0cnVlfQ", "x", "")
    Traceback (most recent call last):
    ...
    graphmem.errors.InvalidInput: cursor 'eyJ0IjoieCIsInEiOiIiLCJwIjp0cnVlfQ' is not a cursor this server made
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
    try:
        return check_count(position, "a cursor's position")
    except InvalidInput:
        raise InvalidInput(f"cursor {cursor!r} is not a cursor this server made") from None
