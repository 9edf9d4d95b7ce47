"""The text index: which entities' name, type or observations contain a string.

:meth:`graphmem.Memory.find_text` answers "which entities mention
``bulk-012``, ignoring case" (the reference MCP server's ``search_nodes``)
from memory, without a scan of the store: reading every entity and testing
each in Python (what ``search_nodes`` did) took 50-110 ms at 10k entities,
where the answer should take well under one.

Structure, chosen by measurement (10k entities of ~50 characters, a query
matching two, on this project's shared 2-core machine): a loop of ``needle in
hay`` over one lowercased string per entity took ~0.7 ms; ``str.find`` over
all of them joined into one buffer ~0.3-0.4 ms (the scan is linear in the
text: ~4 ms at 100k); a trigram index (each entity listed under every
three-character window of its text, as sorted NumPy arrays) ~0.05 ms: the
rarest trigrams of the needle leave a few candidates, each then checked with
``needle in hay``, so the cost follows the matches, not the store. Needles
shorter than three characters are checked against every entity.

The trigram arrays are immutable; writes go to a small side table
(``fresh``: the lowercased text of entities written since the arrays were
built, checked one by one) and a set of indexed entries to skip (``stale``:
changed or gone). When the two outgrow a quarter of the index it is rebuilt
(one vectorised pass), so a write costs O(its text) and a rebuild O(all
text) once per n/4 writes.

Exactness: fields are lowercased one by one (``str.lower``, as the
oracle does) and joined with NUL; trigrams spanning a NUL are not indexed
and a needle without NUL cannot match across one, so every hit lies inside
one field and every candidate is confirmed on the text itself. A needle with a NUL (rare) is
answered field by field. The index is built lazily from one Arrow scan of
the store (under the writer lock, so no commit lands in between) and kept by
the write path's post-commit hooks: :meth:`TextIndex.put` (entity rows
written), :meth:`TextIndex.put_arrow` (the bulk path's columns) and
:meth:`TextIndex.remove` (deleted or expired ids). A write through user
Cypher drops the derived state and this index with it.

Saved with the graph state (:mod:`graphmem.index.saved`): :meth:`TextIndex.to_arrays`
gives the joined index as a few flat arrays (each space's ids, its
lowercased texts and its original fields as UTF-8 with code-point offsets,
its trigram postings) and :meth:`TextIndex.from_arrays` takes them back with
one decode per text: the entries stay in those columns
(:class:`_Entries`) until asked for, so a reopen at 100k entities costs
tens of milliseconds instead of the ~1 s scan and build.

Over 500 lines: the index, its on-disk columns and the entries read from
them share the join's layout, so they live together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, overload

import numpy as np
import pyarrow as pa

from ..config import ENTITY_TYPE_KEY
from ..records import EntityRow
from ..store.store import Store
from ..tiers import unpack
from .labels import label_of

__all__ = ["TextEntry", "TextIndex", "TYPE_LABEL_KEY"]

TYPE_LABEL_KEY = ENTITY_TYPE_KEY
"""The property holding an entity's type as its writer spelled it when that
was not an identifier ("Programming Language" stored as type
``Programming_Language``): the MCP tools keep it there, and the text index
matches the spelling the writer used."""

SEP = "\x00"


@dataclass(frozen=True, slots=True)
class TextEntry:
    """What the text index holds of one current entity.

    ``type`` is the type as written (the :data:`TYPE_LABEL_KEY` property
    when present, else the stored type); ``id`` is the entity's id, which
    orders entities by creation.
    """

    id: int
    name: str
    type: str
    observations: tuple[str, ...]

    def hay(self) -> str:
        """The entry's fields lowercased, NUL-joined: what a needle is searched in."""
        return SEP.join([self.name.lower(), self.type.lower(), *(o.lower() for o in self.observations)])


def shown_type(type_: str, properties: Any) -> str:
    """The type as written: the label property if it is a string, else ``type_``."""
    label = label_of(properties, TYPE_LABEL_KEY)
    return type_ if label is None else label


class _Columns(NamedTuple):
    """The entries of one space as saved: ids ascending, and each entry's
    fields (name, type, observations...) as slices of one string."""

    ids: np.ndarray  # int64
    text: str  # every field, end to end
    field_offsets: np.ndarray  # int64 code-point offsets into text (each field's start, then the end)
    entry_fields: np.ndarray  # int64: the entry of row r has fields [entry_fields[r], entry_fields[r + 1])

    def entry(self, row: int) -> TextEntry:
        first, end = int(self.entry_fields[row]), int(self.entry_fields[row + 1])
        off, text = self.field_offsets[first:end + 1].tolist(), self.text
        fields = [text[a:b] for a, b in zip(off, off[1:])]
        return TextEntry(int(self.ids[row]), fields[0], fields[1], tuple(fields[2:]))

    def every_entry(self) -> list[TextEntry]:
        """Every entry, in row order (one pass over Python lists: ~1 us an entry,
        where :meth:`entry` one by one costs ~10)."""
        starts = self.entry_fields.tolist()
        first, end = starts[0], starts[-1]
        off, text = self.field_offsets[first:end + 1].tolist(), self.text
        fields = [text[a:b] for a, b in zip(off, off[1:])]
        rows = [f - first for f in starts]
        return [TextEntry(id_, fields[a], fields[a + 1], tuple(fields[a + 2:b]))
                for id_, a, b in zip(self.ids.tolist(), rows, rows[1:])]

    def row_of(self, id_: int) -> int:
        """The row of ``id_``, or -1."""
        ids = self.ids
        row = int(np.searchsorted(ids, id_))
        return row if row < ids.shape[0] and int(ids[row]) == id_ else -1


class _Slices(Sequence[str]):
    """Strings as slices of one text (code-point offsets), cut when asked for:
    a loaded index does not make 100k strings before its first search."""

    __slots__ = ("_text", "_offsets")

    def __init__(self, text: str, offsets: np.ndarray) -> None:
        self._text = text
        self._offsets = offsets

    def __len__(self) -> int:
        return int(self._offsets.shape[0] - 1)

    @overload
    def __getitem__(self, k: int) -> str: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[str]: ...

    def __getitem__(self, k: int | slice) -> str | Sequence[str]:
        if isinstance(k, slice):
            return list(self)[k]
        off = self._offsets
        return self._text[off[k]:off[k + 1]]

    def __iter__(self) -> Iterator[str]:
        off = self._offsets.tolist()
        text = self._text
        return (text[a:b] for a, b in zip(off, off[1:]))


class _Entries(MutableMapping[int, TextEntry]):
    """id -> :class:`TextEntry` of one space: saved columns (read an entry
    at a time, when asked for, then kept) under the changes since."""

    __slots__ = ("_base", "_base_ids", "_got", "_gone", "_extra")

    def __init__(self, base: _Columns | None = None) -> None:
        self._base = base
        self._base_ids: list[int] = [] if base is None else base.ids.tolist()
        self._got: dict[int, TextEntry] = {}  # set since, or read from the base
        self._gone: set[int] = set()  # base ids removed since
        self._extra: set[int] = set()  # ids set since that the base does not hold

    def many(self, ids: Sequence[int]) -> list[TextEntry]:
        """The entries of ``ids`` (each present); many at once read the whole base in one pass."""
        base = self._base
        if base is not None and len(ids) > len(self._base_ids) // 8:
            got, gone = self._got, self._gone
            for entry in base.every_entry():
                if entry.id not in gone:
                    got.setdefault(entry.id, entry)
            self._base = None  # every entry is in _got now
            self._extra.update(got)  # as if set since: no base left to find them in
            self._gone.clear()
            self._base_ids = []
        return [self[i] for i in ids]

    def _in_base(self, id_: int) -> int:
        return -1 if self._base is None else self._base.row_of(id_)

    def __getitem__(self, id_: int) -> TextEntry:
        found = self._got.get(id_)
        if found is not None:
            return found
        row = -1 if id_ in self._gone else self._in_base(id_)
        if row < 0 or self._base is None:
            raise KeyError(id_)
        entry = self._got[id_] = self._base.entry(row)
        return entry

    def __setitem__(self, id_: int, entry: TextEntry) -> None:
        if id_ not in self._got and self._in_base(id_) < 0:
            self._extra.add(id_)
        self._gone.discard(id_)
        self._got[id_] = entry

    def __delitem__(self, id_: int) -> None:
        self[id_]  # KeyError if absent
        self._got.pop(id_, None)
        if id_ in self._extra:
            self._extra.discard(id_)
        else:
            self._gone.add(id_)

    def __iter__(self) -> Iterator[int]:
        gone = self._gone
        yield from (i for i in self._base_ids if i not in gone) if gone else self._base_ids
        yield from self._extra

    def __len__(self) -> int:
        return len(self._base_ids) - len(self._gone) + len(self._extra)


class _Space:
    """The text of one namespace: a trigram index over the entries as of the
    last join, plus the writes since."""

    __slots__ = ("entries", "ids", "hays", "grams", "offsets", "members", "stale", "fresh")

    def __init__(self) -> None:
        self.entries = _Entries()
        self.ids: list[int] = []
        self.hays: Sequence[str] = []
        self.grams = np.empty(0, np.uint64)
        self.offsets = np.zeros(1, np.int64)
        self.members = np.empty(0, np.int32)
        self.stale: set[int] = set()
        self.fresh: dict[int, str] = {}

    def join(self) -> None:
        """Index every entry (ids ascending) and empty the side tables."""
        self.ids = sorted(self.entries)
        self.hays = [e.hay() for e in self.entry_list(self.ids)]
        self.grams, self.offsets, self.members = _trigram_postings(self.hays)
        self.stale.clear()
        self.fresh.clear()

    def entry_list(self, ids: Sequence[int]) -> list[TextEntry]:
        """The entries of ``ids`` (each present)."""
        return self.entries.many(ids)

    def set(self, entry: TextEntry) -> None:
        old = self.entries.get(entry.id)
        if old == entry:
            return
        if old is not None:
            self.stale.add(entry.id)
        self.entries[entry.id] = entry
        self.fresh[entry.id] = entry.hay()
        self._maybe_join()

    def drop(self, id_: int) -> None:
        if self.entries.pop(id_, None) is None:
            return
        self.stale.add(id_)
        self.fresh.pop(id_, None)
        self._maybe_join()

    def _maybe_join(self) -> None:
        if len(self.fresh) + len(self.stale) > max(JOIN_AT_LEAST, len(self.ids) // 4):
            self.join()

    def search(self, needle: str) -> list[int]:
        if not needle:
            return sorted(self.entries)
        if SEP in needle:
            return sorted(i for i, e in self.entries.items()
                          if any(needle in f.lower() for f in (e.name, e.type, *e.observations)))  # fmt: skip
        ids, hays, stale = self.ids, self.hays, self.stale
        if len(needle) < 3:  # every entry is a candidate: one pass over the texts
            hits = [i for i, hay in zip(ids, hays) if needle in hay and i not in stale]
        else:
            hits = [ids[k] for k in self._candidates(needle) if needle in hays[k] and ids[k] not in stale]
        if self.fresh:
            hits.extend(i for i, hay in self.fresh.items() if needle in hay)
            hits.sort()
        return hits

    def _candidates(self, needle: str) -> list[int]:
        """Positions (in ``ids``) of the joined entries holding every trigram of ``needle``."""
        wanted = _distinct(_trigrams(needle))
        at = np.searchsorted(self.grams, wanted)
        if not wanted.size or (at >= self.grams.size).any() or (self.grams[np.minimum(at, self.grams.size - 1)]
                                                                  != wanted).any():  # fmt: skip
            return []
        lists = sorted((self.members[self.offsets[a]:self.offsets[a + 1]] for a in at.tolist()), key=len)
        found = lists[0]
        # Intersecting the few shortest lists leaves few candidates; each
        # further intersection costs more than checking them.
        for other in lists[1:INTERSECT_AT_MOST]:
            if found.size <= VERIFY_BELOW:
                break
            found = np.intersect1d(found, other, assume_unique=True)
        ids: list[int] = found.tolist()
        return ids


JOIN_AT_LEAST = 256
_LABELS_KEPT = 4096
"""Distinct properties texts whose label :meth:`TextIndex.load` remembers (a store of
unique properties per entity gains nothing from more)."""
"""Writes kept in the side tables before the trigram index is rebuilt (at least)."""
INTERSECT_AT_MOST = 4
VERIFY_BELOW = 64


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.uint64)


def _trigrams(text: str) -> np.ndarray:
    """Each window of three code points as one integer (21 bits each)."""
    c = _codes(text)
    grams: np.ndarray = (c[:-2] << np.uint64(42)) | (c[1:-1] << np.uint64(21)) | c[2:]
    return grams


def _trigram_postings(hays: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct trigrams of ``hays`` (sorted), and for each the sorted
    positions of the hays holding it (CSR: ``members[offsets[g]:offsets[g + 1]]``).

    One vectorised pass over the NUL-joined text: a trigram spanning a NUL
    crosses two fields and is left out.
    """
    if not hays:
        return np.empty(0, np.uint64), np.zeros(1, np.int64), np.empty(0, np.int32)
    text = SEP.join(hays) + SEP
    c = _codes(text)
    lengths = np.fromiter(map(len, hays), np.int64, len(hays)) + 1
    owner = np.repeat(np.arange(len(hays), dtype=np.int32), lengths)
    if c.size < 3:
        return np.empty(0, np.uint64), np.zeros(1, np.int64), np.empty(0, np.int32)
    gram = (c[:-2] << np.uint64(42)) | (c[1:-1] << np.uint64(21)) | c[2:]
    keep = (c[:-2] != 0) & (c[1:-1] != 0) & (c[2:] != 0)
    gram, owner = gram[keep], owner[:-2][keep]
    order = np.lexsort((owner, gram))
    gram, owner = gram[order], owner[order]
    first = np.ones(gram.size, bool)
    first[1:] = (gram[1:] != gram[:-1]) | (owner[1:] != owner[:-1])
    gram, owner = gram[first], owner[first]
    starts = np.flatnonzero(np.r_[True, gram[1:] != gram[:-1]]) if gram.size else np.empty(0, np.int64)
    offsets = np.append(starts, gram.size).astype(np.int64)
    return gram[starts], offsets, owner


class TextIndex:
    """Entities by the text of their name, type (as written) and observations, per namespace.

    Examples
    --------
    >>> index = TextIndex()
    >>> index.put_entries("default", [TextEntry(1, "Alice", "Person", ("likes Rust",)),
    ...                               TextEntry(2, "Bob", "Person", ("likes Go",))])
    >>> [e.name for e in index.find("default", "RUST")]
    ['Alice']
    >>> index.remove([1]); index.find("default", "rust")
    []
    """

    def __init__(self) -> None:
        self._spaces: dict[str, _Space] = {}
        self._space_of: dict[int, str] = {}
        self._lock = threading.Lock()
        self.version = 0
        """Rows written to it since it was built or loaded (a save tells how far
        it is from the files it came from)."""

    @classmethod
    def load(cls, store: Store) -> TextIndex:
        """Build from the store's current entities: one Arrow scan (``entity_text``) in id windows.

        Call it under the store's writer lock (:meth:`Store.exclusive`) so that
        no commit lands between the scan and the index's install.
        """
        index = cls()
        # Entities of one written type share one properties text (often only the
        # label): each distinct text is parsed once, not once per entity (0.6 s
        # of the 2.4 s build at 100k entities, measured).
        labels: dict[str, str | None] = {}
        for table in store.iter_arrow_by_id("entity_text", {}, next_id=store.entity_id_end()):
            for name, entries in _entries_by_space(table, labels).items():
                index._put(name, entries, join=False)
        for space in index._spaces.values():
            space.join()
        return index

    def apply_written(self, table: pa.Table) -> None:
        """Entity rows written since a save (``entity_text_written_since``):
        each current one set, each expired one removed."""
        if not len(table):
            return
        current = table.column("current").to_pylist()
        gone = [int(i) for i, cur in zip(table.column("id").to_pylist(), current) if not cur]
        kept = table.filter(table.column("current"))  # the column itself: pa.array(...) would import pandas
        for space, entries in _entries_by_space(kept, {}).items():
            self.put_entries(space, entries)
        self.remove(gone)

    # -- saving ------------------------------------------------------------------

    def to_arrays(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The namespaces and the arrays :meth:`from_arrays` takes (every space
        is joined first, under the lock, so the arrays are the whole index).

        ``counts`` holds, per space, its entries, fields, distinct trigrams
        and postings; the other arrays are the spaces' own end to end.
        """
        with self._lock:
            names = sorted(self._spaces)
            counts = np.zeros((len(names), 4), np.int64)
            hays: list[str] = []
            fields: list[str] = []
            ids: list[np.ndarray] = []
            hay_lengths: list[np.ndarray] = []
            field_lengths: list[np.ndarray] = []
            entry_fields: list[np.ndarray] = []
            grams: list[np.ndarray] = []
            offsets: list[np.ndarray] = []
            members: list[np.ndarray] = []
            for k, name in enumerate(names):
                space = self._spaces[name]
                if space.fresh or space.stale:
                    space.join()
                entries = space.entry_list(space.ids)
                own = [f for e in entries for f in (e.name, e.type, *e.observations)]
                counts[k] = (len(entries), len(own), space.grams.shape[0], space.members.shape[0])
                ids.append(np.asarray(space.ids, np.int64))
                hays.extend(space.hays)
                hay_lengths.append(np.fromiter(map(len, space.hays), np.int64, len(space.hays)))
                fields.extend(own)
                field_lengths.append(np.fromiter(map(len, own), np.int64, len(own)))
                entry_fields.append(np.fromiter((2 + len(e.observations) for e in entries), np.int64, len(entries)))
                grams.append(space.grams)
                offsets.append(space.offsets)
                members.append(space.members)
        arrays = {
            "counts": counts,
            "ids": _cat(ids, np.int64),
            "hay_lengths": _cat(hay_lengths, np.int64),
            "hay_bytes": _utf8("".join(hays)),
            "field_lengths": _cat(field_lengths, np.int64),
            "field_bytes": _utf8("".join(fields)),
            "entry_fields": _cat(entry_fields, np.int64),
            "grams": _cat(grams, np.uint64),
            "gram_offsets": _cat(offsets, np.int64),
            "members": _cat(members, np.int32),
        }
        return names, arrays

    @classmethod
    def from_arrays(cls, names: Sequence[str], arrays: dict[str, np.ndarray]) -> TextIndex:
        """The index :meth:`to_arrays` gave (``ValueError`` if the arrays do not fit together).

        Examples
        --------
        >>> index = TextIndex()
        >>> index.put_entries("default", [TextEntry(1, "Alice", "Person", ("likes Rust",))])
        >>> again = TextIndex.from_arrays(*index.to_arrays())
        >>> [e.observations for e in again.find("default", "rust")]
        [('likes Rust',)]
        """
        counts = arrays["counts"]
        if counts.shape != (len(names), 4) or (counts < 0).any():
            raise ValueError("the saved text index's counts do not fit its namespaces")
        n, n_fields, n_grams, n_members = (int(c) for c in counts.sum(axis=0))
        shapes = {"ids": n, "hay_lengths": n, "entry_fields": n, "field_lengths": n_fields, "grams": n_grams,
                  "gram_offsets": n_grams + len(names), "members": n_members}  # fmt: skip
        for key, size in shapes.items():
            if arrays[key].shape != (size,):
                raise ValueError(f"the saved text index's {key} has the wrong length")
        hay_text = _text_of(arrays["hay_bytes"])
        field_text = _text_of(arrays["field_bytes"])
        hay_off = _ends(arrays["hay_lengths"])
        field_off = _ends(arrays["field_lengths"])
        entry_off = _ends(arrays["entry_fields"])
        if hay_off[-1] != len(hay_text) or field_off[-1] != len(field_text) or entry_off[-1] != n_fields:
            raise ValueError("the saved text index's texts do not fit their lengths")
        if (arrays["entry_fields"] < 2).any() or (arrays["hay_lengths"] < 0).any() or (
                arrays["field_lengths"] < 0).any():  # fmt: skip
            raise ValueError("a saved text entry has no name or type, or a negative length")
        index = cls()
        at = np.zeros(4, np.int64)
        for k, name in enumerate(names):
            e0, f0, g0, m0 = (int(x) for x in at)
            e1, f1, g1, m1 = (int(x) for x in at + counts[k])
            ids = arrays["ids"][e0:e1]
            if e1 > e0 and (np.diff(ids) <= 0).any():
                raise ValueError("the saved text index's ids are out of order")
            offsets = arrays["gram_offsets"][g0 + k:g1 + k + 1]
            members = arrays["members"][m0:m1]
            if offsets[0] != 0 or offsets[-1] != m1 - m0 or (np.diff(offsets) < 0).any() or (
                    members.size and (members.min() < 0 or members.max() >= e1 - e0)):  # fmt: skip
                raise ValueError("the saved text index's postings do not fit its entries")
            space = index._spaces[name] = _Space()
            # Offsets into the whole texts: the space's rows index its own slice of them.
            space.entries = _Entries(_Columns(ids, field_text, field_off, entry_off[e0:e1 + 1]))
            space.ids = ids.tolist()
            space.hays = _Slices(hay_text, hay_off[e0:e1 + 1])
            space.grams = arrays["grams"][g0:g1]
            space.offsets = offsets
            space.members = members
            index._space_of.update(dict.fromkeys(space.ids, name))
            at += counts[k]
        if len(index._space_of) != n:
            raise ValueError("an id is saved in two namespaces")
        return index

    # -- writes (post-commit hooks, under the writer lock) -----------------------

    def put(self, rows: Iterable[EntityRow]) -> None:
        """Entity rows as just committed (created, updated or revived)."""
        by_space: dict[str, list[TextEntry]] = {}
        for row in rows:
            entry = TextEntry(row.id, row.name, shown_type(row.type, row.properties), _texts(row.observations))
            by_space.setdefault(row.namespace, []).append(entry)
        for space, entries in by_space.items():
            self.put_entries(space, entries)

    def put_arrow(self, namespace: str, ids: Sequence[int], names: Sequence[str], types: pa.Array,
                  observations: pa.Array, properties: pa.Array) -> None:  # fmt: skip
        """New entities written by the bulk path, from its columns."""
        entries = [TextEntry(int(i), name, shown_type(t, p), _texts(obs))
                   for i, name, t, obs, p in zip(ids, names, types.to_pylist(), observations.to_pylist(),
                                                 properties.to_pylist())]  # fmt: skip
        self.put_entries(namespace, entries)

    def put_entries(self, namespace: str, entries: Sequence[TextEntry]) -> None:
        """Set the entries of ``namespace`` (replacing those with the same ids)."""
        self._put(namespace, entries, join=True)

    def _put(self, namespace: str, entries: Sequence[TextEntry], *, join: bool) -> None:
        with self._lock:
            self.version += len(entries)
            space = self._spaces.get(namespace)
            if space is None:
                space = self._spaces[namespace] = _Space()
            for entry in entries:
                self._space_of[entry.id] = namespace
                if join:
                    space.set(entry)
                else:
                    space.entries[entry.id] = entry

    def remove(self, ids: Iterable[int]) -> None:
        """Entities deleted or expired."""
        with self._lock:
            for id_ in ids:
                self.version += 1
                namespace = self._space_of.pop(int(id_), None)
                if namespace is not None:
                    self._spaces[namespace].drop(int(id_))

    # -- reads -------------------------------------------------------------------

    def find(self, namespace: str, query: str, *, limit: int | None = None) -> list[TextEntry]:
        """The entries of ``namespace`` whose name, type or an observation contains
        ``query`` ignoring case (``str.lower`` of both), by id; at most ``limit``."""
        needle = query.lower()
        with self._lock:
            space = self._spaces.get(namespace)
            if space is None:
                return []
            ids = space.search(needle)
            if limit is not None:
                ids = ids[:limit]
            return space.entry_list(ids)

    def get(self, namespace: str, ids: Iterable[int]) -> list[TextEntry | None]:
        """The entries of these ids (``None`` where an id is not a current entity of ``namespace``)."""
        with self._lock:
            space = self._spaces.get(namespace)
            entries = space.entries if space is not None else {}
            return [entries.get(int(i)) for i in ids]

    def __len__(self) -> int:
        return len(self._space_of)

    def nbytes(self) -> int:
        """Approximate bytes held: the indexed text (characters counted once
        each), the side table's text and the trigram postings' arrays."""
        with self._lock:
            return sum(sum(map(len, s.hays)) + sum(map(len, s.fresh.values()))
                       + s.grams.nbytes + s.offsets.nbytes + s.members.nbytes
                       for s in self._spaces.values())  # fmt: skip


def _texts(observations: Any) -> tuple[str, ...]:
    # A null item is stored by some paths; the scans show it as "" (what a
    # search can match in it: nothing but the empty query).
    return tuple("" if o is None else o for o in (observations or ()))


def _entries_by_space(table: pa.Table, labels: dict[str, str | None]) -> dict[str, list[TextEntry]]:
    """The entries of rows of ``entity_text``'s columns, by namespace; ``labels``
    remembers the type label of each properties text seen (filled here)."""
    by_space: dict[str, list[TextEntry]] = {}
    if not len(table):
        return by_space
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    for id_, space, name, type_, observations, properties, packed in zip(
            cols["id"], cols["namespace"], cols["name"], cols["type"], cols["observations"],
            cols["properties"], cols["packed"]):  # fmt: skip
        if packed is not None:
            observations = unpack(packed, name=name)[1]
        if isinstance(properties, str):
            try:
                label = labels[properties]
            except KeyError:
                label = label_of(properties, TYPE_LABEL_KEY)
                if len(labels) < _LABELS_KEPT:
                    labels[properties] = label
            shown = type_ if label is None else label
        else:
            shown = shown_type(type_, properties)
        by_space.setdefault(space, []).append(TextEntry(int(id_), name, shown, _texts(observations)))
    return by_space


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def _utf8(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate is refused at the write, but the index must
    # round-trip whatever it holds.
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)


def _text_of(blob: np.ndarray) -> str:
    return blob.tobytes().decode("utf-8", "surrogatepass")


def _ends(lengths: np.ndarray) -> np.ndarray:
    """Offsets from lengths: ``[0, l0, l0 + l1, ...]``."""
    out = np.zeros(lengths.shape[0] + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a small array, without its first call's import of ``numpy.ma`` (~25 ms)."""
    values = np.sort(values)
    keep = np.ones(values.shape[0], bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]
