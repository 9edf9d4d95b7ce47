"""Cold-tier packing: an entity's text and observations, zstd-compressed.

Chosen by measurement on the demo dataset (``examples/data``, 300 entities,
115 bytes of text and observations each on average; one-shot compression of
each entity, decompression timed per entity):

======================  =========  ===================
codec                   size       decompress / entity
======================  =========  ===================
zstd level 3            0.92x      2.8 µs
zstd + 4 KB dictionary  0.50x      1.1 µs
lz4 frame               1.18x      0.9 µs
zlib level 6            0.91x      3.9 µs
======================  =========  ===================

lz4 makes short texts larger; zstd saves a little on short texts and much on
long ones (agent transcripts, long observation lists), and decompresses in
microseconds, far under the 0.1 ms a read may add. A trained dictionary would
halve short texts but ties the store to a dictionary it must keep and version:
left for later. An entity is packed only when packing saves at least
:data:`MIN_SAVING` bytes, so cold storage never grows.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import zstandard

from .errors import CorruptStore

__all__ = ["pack", "unpack", "MIN_SAVING", "LEVEL"]

LEVEL = 3
MIN_SAVING = 32
_FORMAT = b"\x01"  # a version byte before the frame, so the format can change


class _Codecs(threading.local):
    """One zstd compressor and decompressor per thread.

    Creating a ``ZstdDecompressor`` per call allocates a fresh decompression
    context (~1/3 of an unpack's time on short texts); zstandard's objects may
    not be used by two threads at once, hence one pair per thread.
    """

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()


_codecs = _Codecs()


def pack(text: str | None, observations: list[str]) -> bytes | None:
    """The packed form of ``(text, observations)``, or ``None`` when it would not save ``MIN_SAVING`` bytes.

    Examples
    --------
    >>> packed = pack("a long note " * 20, ["seen at the meeting"] * 5)
    >>> unpack(packed) == ("a long note " * 20, ["seen at the meeting"] * 5)
    True
    >>> pack("short", []) is None
    True
    """
    raw = json.dumps([text, observations], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    packed = _FORMAT + _codecs.compressor.compress(raw)
    return packed if len(packed) + MIN_SAVING <= len(raw) else None


def unpack(packed: bytes, *, name: str = "?") -> tuple[str | None, list[str]]:
    """``(text, observations)`` from :func:`pack`'s bytes."""
    try:
        if packed[:1] != _FORMAT:
            raise ValueError(f"unknown packing format {packed[:1]!r}")
        value: Any = json.loads(_codecs.decompressor.decompress(packed[1:]))
        text, observations = value
    except (ValueError, TypeError, zstandard.ZstdError) as exc:
        raise CorruptStore(f"entity {name!r}: its packed (cold) text cannot be read ({exc}); "
                           "restore the store from an export or a backup") from None
    return text, list(observations)
