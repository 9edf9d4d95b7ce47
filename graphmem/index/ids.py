"""The in-memory map between entity keys and graphmem's dense integer ids.

Ids are assigned by graphmem, never reused: they label vectors, bitmap members
and CSR rows, so a reused id could resurrect a deleted entity in a derived
structure. The next id is ``max(highest live id + 1, floor)``, where the store
records ``floor`` only when deletes happen, so creating an entity costs no
extra write.

A map opened from the saved graph state (:mod:`.saved`) starts on the saved
arrays (:class:`SavedKeys`: the keys in id order and a sorted 64-bit hash
index, memory mapped), so opening costs nothing per key; single lookups
binary-search them and single writes go to small overlay dictionaries. The
first bulk operation (a batch of lookups, a bulk insert, a listing) builds the
plain dictionaries once (~0.5 s at 1M keys) and the arrays are dropped.

Over 500 lines: the saved key directory (:class:`SavedKeys`), the live map
(:class:`IdMap`) and the view a snapshot holds (:class:`IdView`) share the
rules of id assignment and the change record a held snapshot reads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Literal

import numpy as np
import pyarrow as pa

from .columns import arrow_int64, arrow_strings

__all__ = ["IdMap", "IdView", "SavedKeys", "key_arrays", "key_hash"]

_FEW = 64
"""Batches up to this size are looked up one by one on the saved arrays; larger ones build the dictionaries."""

_INT32_LIMIT = 2**31 - 1


_blake2b = hashlib.blake2b


def key_hash(key: str) -> int:
    """A 64-bit hash of ``key`` that is the same in every process (``hash`` is salted)."""
    return int.from_bytes(_blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def strings_of(offsets: np.ndarray, blob: np.ndarray) -> list[str]:
    """The strings of (int64 offsets, UTF-8 bytes), decoded by Arrow in one pass."""
    n = int(offsets.shape[0]) - 1
    if n <= 0:
        return []
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(np.ascontiguousarray(offsets)),
                                           pa.py_buffer(np.ascontiguousarray(blob)))  # fmt: skip
    names: list[str] = arr.to_pylist()
    return names


def key_arrays(keys: pa.Array | pa.ChunkedArray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids ascending, int64 offsets, UTF-8 blob) of a string column and its
    parallel ids: the key of ``ids[i]`` is ``blob[offsets[i]:offsets[i + 1]]``,
    the layout :meth:`IdMap.saved_arrays` hands to compiled readers. Arrow
    reorders the column's buffers; no Python string per key.

    Examples
    --------
    >>> i, o, b = key_arrays(pa.array(["bb", "a", "ccc"]), np.array([7, 2, 9]))
    >>> i.tolist(), o.tolist(), b.tobytes()
    ([2, 7, 9], [0, 1, 3, 6], b'abbccc')
    """
    ids = np.asarray(ids, np.int64)
    if not len(ids):  # a new store (combining no chunks would build an array through pa.array)
        return ids, np.zeros(1, np.int64), np.empty(0, np.uint8)
    order = np.argsort(ids, kind="stable")
    column = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    # Not pa.array: it imports pandas (see arrow_int64), which a server's
    # rebuild before its first answer paid.
    taken = column.cast(pa.large_string()).take(arrow_int64(order))
    n = len(taken)
    _, off_buf, data_buf = taken.buffers()
    # Writable copies (numba types a read-only array as another type) that
    # outlive the column's buffers.
    offsets = np.frombuffer(off_buf, np.int64)[taken.offset : taken.offset + n + 1].copy()
    start, end = int(offsets[0]), int(offsets[-1])
    blob = np.frombuffer(data_buf, np.uint8)[start:end].copy() if data_buf is not None else np.empty(0, np.uint8)
    offsets -= start
    return ids[order], offsets, blob


def _ints(arr: np.ndarray, dtype: type, fmt: Literal["q", "Q"]) -> memoryview[int]:
    """``arr`` as a flat memoryview of Python ints (no copy when it already has that dtype)."""
    return np.ascontiguousarray(arr, dtype).data.cast("B").cast(fmt)


class SavedKeys:
    """Keys and ids as saved: ``ids`` ascending, row ``i``'s key is
    ``blob[offsets[i]:offsets[i + 1]]``; ``hashes`` the sorted
    :func:`key_hash` of every key and ``rows`` the row of each.

    Examples
    --------
    >>> s = SavedKeys.build(["b", "a"], np.array([4, 2]))
    >>> s.id_of("b"), s.key_of(2), s.id_of("zz"), s.key_of(3)
    (4, 'a', None, None)
    """

    __slots__ = ("ids", "offsets", "blob", "hashes", "rows", "_first", "_dense", "_text", "_hash_seq", "_row_seq",
                 "_id_seq", "_off_seq", "_directory", "plain")

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, blob: np.ndarray, hashes: np.ndarray,
                 rows: np.ndarray) -> None:  # fmt: skip
        self.ids, self.offsets, self.blob, self.hashes, self.rows = ids, offsets, blob, hashes, rows
        # Single lookups are on every path query's way (a name per node): they
        # avoid NumPy's per-call costs where they can. Ids ascend strictly, so
        # when they are contiguous (no delete before the save) an id's row is
        # ``id - first``, no search; keys decode straight from the buffer.
        n = int(ids.shape[0])
        self._first = int(ids[0]) if n else 0
        self._dense = n > 0 and int(ids[-1]) - self._first == n - 1
        self._text = np.ascontiguousarray(blob).data.cast("B")
        # Memoryviews index to Python ints in C: reading one value costs a
        # fraction of NumPy's per-call overhead on a single element.
        self._hash_seq = _ints(hashes, np.uint64, "Q")
        self._row_seq = _ints(rows, np.int64, "q")
        self._id_seq = _ints(ids, np.int64, "q")
        self._off_seq = _ints(offsets, np.int64, "q")
        self._directory: tuple[int, memoryview[int]] | None = None
        # (ids, offsets, blob) as plain contiguous ndarrays for compiled readers
        # (numba types a memmap on a slow path, on every call).
        self.plain = tuple(np.ascontiguousarray(a, t).view(np.ndarray)
                           for a, t in ((ids, np.int64), (offsets, np.int64), (blob, np.uint8)))

    def _buckets(self) -> tuple[int, memoryview[int]]:
        """(shift, starts): the hashes whose top bits are ``b`` are
        ``hashes[starts[b]:starts[b + 1]]``, about one per bucket. A lookup
        reads one bucket where a binary search reads ~log2(n) hashes, each a
        likely cache miss when other work ran between two queries (20 at 1M).
        Built on the first single lookup (~10 ms at 1M; 4 bytes per key)."""
        found = self._directory
        if found is None:
            n = int(self.hashes.shape[0])
            bits = max(1, n.bit_length())
            shift = 64 - bits
            counts = np.bincount((self.hashes >> np.uint64(shift)).astype(np.int64), minlength=1 << bits)
            starts = np.zeros((1 << bits) + 1, np.int32 if n < _INT32_LIMIT else np.int64)
            np.cumsum(counts, out=starts[1:])
            found = self._directory = (shift, starts.data.cast("B").cast("i" if n < _INT32_LIMIT else "q"))
        return found

    @classmethod
    def build(cls, keys: list[str], ids: np.ndarray) -> SavedKeys:
        """From parallel keys and ids (any order): sorts by id and hashes every key (Python per key: at save time)."""
        order = np.argsort(np.asarray(ids, np.int64), kind="stable")
        keys = [keys[i] for i in order.tolist()]
        arr = arrow_strings(keys, large=True)
        if len(keys):
            _, off_buf, data_buf = arr.buffers()
            offsets = np.frombuffer(off_buf, np.int64)[: len(keys) + 1].copy()
            blob = np.frombuffer(data_buf, np.uint8)[: int(offsets[-1])].copy() if data_buf is not None else \
                np.empty(0, np.uint8)
        else:
            offsets, blob = np.zeros(1, np.int64), np.empty(0, np.uint8)
        hashes = np.fromiter(map(key_hash, keys), np.uint64, len(keys))
        rows = np.argsort(hashes, kind="stable").astype(np.int64)
        return cls(np.asarray(ids, np.int64)[order], offsets, blob, hashes[rows], rows)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def key_at(self, row: int) -> str:
        offsets = self._off_seq
        return str(self._text[offsets[row] : offsets[row + 1]], "utf-8")

    def id_of(self, key: str) -> int | None:
        # The bucket directory and key_at written out: the anchor of every
        # near search comes here, and those calls (and decoding the candidate's
        # key, where comparing its UTF-8 bytes does) cost ~0.3 us of ~1.4. The
        # bytes compare as the strings do: UTF-8 is one-to-one. key_hash stays
        # a call through the module (a test swaps in a weak hash for collisions).
        h = key_hash(key)
        data = key.encode("utf-8")
        found = self._directory
        shift, starts = self._buckets() if found is None else found
        bucket = h >> shift
        at, end = starts[bucket], starts[bucket + 1]
        hashes = self._hash_seq
        while at < end:  # the bucket is sorted: equal hashes are together, compare their keys
            found_hash = hashes[at]
            if found_hash == h:
                row = self._row_seq[at]
                offsets = self._off_seq
                if self._text[offsets[row] : offsets[row + 1]] == data:
                    return self._id_seq[row]
            elif found_hash > h:
                break
            at += 1
        return None

    def key_of(self, id_: int) -> str | None:
        if self._dense:
            row = id_ - self._first
            return self.key_at(row) if 0 <= row < self.ids.shape[0] else None
        row = int(np.searchsorted(self.ids, id_))
        if row < self.ids.shape[0] and int(self.ids[row]) == id_:
            return self.key_at(row)
        return None

    def keys(self) -> list[str]:
        return strings_of(self.offsets, self.blob)

    def keys_at(self, rows: np.ndarray) -> list[str]:
        """The keys of these rows, decoded by Arrow from the (mapped) arrays
        without building the others.

        Examples
        --------
        >>> SavedKeys.build(["b", "a", "c"], np.array([4, 2, 9])).keys_at(np.array([2, 0]))
        ['c', 'a']
        """
        n = len(self)
        if n == 0 or len(rows) == 0:
            return []
        every = pa.LargeStringArray.from_buffers(n, pa.py_buffer(np.ascontiguousarray(self.offsets)),
                                                 pa.py_buffer(np.ascontiguousarray(self.blob)))  # fmt: skip
        names: list[str] = every.take(pa.array(rows, pa.int64())).to_pylist()
        return names


class IdMap:
    """Keys to ids and back, with id allocation.

    Examples
    --------
    >>> ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0)
    >>> ids.allocate(2), ids.id_of("b"), ids.key_of(0)
    (range(2, 4), 1, 'a')
    >>> saved = IdMap.from_saved(SavedKeys.build(["a", "b"], np.array([0, 1])), floor=0)
    >>> _ = saved.remove("a"); saved.add([("c", 7)])
    >>> saved.id_of("a"), saved.id_of("c"), saved.key_of(1), len(saved), saved.next_id
    (None, 7, 'b', 2, 2)
    """

    __slots__ = ("_by_key", "_by_id", "_next", "_lock", "_saved", "_gone", "_gone_ids", "_count", "_retired", "_log",
                 "_stamp", "_named")

    def __init__(self) -> None:
        # With ``_saved``, the dictionaries hold only what changed since the
        # open, ``_gone`` / ``_gone_ids`` the saved keys and ids removed since.
        self._by_key: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._saved: SavedKeys | None = None
        self._gone: set[str] = set()
        self._gone_ids: set[int] = set()
        self._count = 0
        # The key of every id removed since the load: ids are never reused, so
        # an id's key never changes and this only grows (by the deletes and
        # expiries since the load). A reader holding an older relation view
        # may still find such an id on a path; it must still read its name.
        self._retired: dict[int, str] = {}
        # While a snapshot (:class:`IdView`) may be held, each change to a key
        # appends (stamp, id before the change) to the key's entry here, the
        # stamp being the number of the change (``GraphState.generation`` it
        # makes); an entry is a tuple, replaced, never changed in place, so a
        # reader iterating one is safe. ``_stamp`` is ``None`` when no
        # snapshot is held: nothing is recorded.
        self._log: dict[str, tuple[tuple[int, int | None], ...]] = {}
        self._stamp: int | None = None
        # (ids, offsets, blob) of the keys the map was built from, kept once
        # it holds dictionaries (:meth:`saved_arrays`): an id's key never
        # changes and ids are never reused, so they name every id they hold,
        # removed since or not, for good. ``None``: built from no arrays.
        self._named: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_arrays(cls, keys: Sequence[str], ids: Sequence[int] | np.ndarray, *, floor: int,
                    named: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> IdMap:  # fmt: skip
        """The map of parallel ``keys`` and ``ids``; ``named``: the same keys
        as :func:`key_arrays` lays them out, for :meth:`saved_arrays`."""
        new = cls()
        new._named = named
        id_list = ids.tolist() if isinstance(ids, np.ndarray) else [int(i) for i in ids]
        new._by_key = dict(zip(keys, id_list))
        new._by_id = dict(zip(id_list, keys))
        new._next = max(floor, max(id_list, default=-1) + 1)
        return new

    @classmethod
    def from_saved(cls, saved: SavedKeys, *, floor: int) -> IdMap:
        """A map on saved arrays (nothing built per key)."""
        new = cls()
        new._saved = saved
        new._count = len(saved)
        new._next = max(floor, int(saved.ids[-1]) + 1 if len(saved) else 0)
        return new

    def _materialize(self) -> None:
        """Build the plain dictionaries from the saved arrays and the changes, and drop the arrays."""
        with self._lock:
            saved = self._saved
            if saved is None:
                return
            keys = saved.keys()
            ids = saved.ids.tolist()
            by_key = dict(zip(keys, ids))
            by_id = dict(zip(ids, keys))
            for key in self._gone:
                by_key.pop(key, None)
            for id_ in self._gone_ids:
                by_id.pop(id_, None)
            by_key.update(self._by_key)
            by_id.update(self._by_id)
            # Full dictionaries first, then drop the arrays: a reader between the
            # two finds every key in either. Their key layout stays (mapped
            # from the saved file: no copy) for the compiled readers.
            self._named = saved.plain  # type: ignore[assignment]
            self._by_key, self._by_id = by_key, by_id
            self._saved = None
            self._gone, self._gone_ids = set(), set()

    def to_arrays(self) -> tuple[list[str], np.ndarray]:
        """Every key and its id, as parallel list and int64 array (what :meth:`from_arrays` takes).

        Examples
        --------
        >>> keys, ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0).to_arrays()
        >>> keys, ids.tolist()
        (['a', 'b'], [0, 1])
        """
        self._materialize()
        keys = list(self._by_key)
        return keys, np.fromiter(self._by_key.values(), np.int64, len(keys))

    def unchanged_saved(self) -> SavedKeys | None:
        """The saved arrays this map still is exactly (opened from them, no key
        added or removed since), so a save can write them again as they are."""
        saved = self._saved
        if saved is None or self._by_key or self._gone:
            return None
        return saved

    def keys(self) -> Iterator[str]:
        """Every key (builds the dictionaries)."""
        self._materialize()
        return iter(self._by_key)

    def __len__(self) -> int:
        return self._count if self._saved is not None else len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.id_of(key) is not None

    def id_of(self, key: str) -> int | None:
        found = self._by_key.get(key)
        saved = self._saved
        if found is not None or saved is None or key in self._gone:
            return found
        return saved.id_of(key)

    def ids_of(self, keys: list[str]) -> np.ndarray:
        """The id of each key (-1 where absent), in one pass over the map in C.

        Examples
        --------
        >>> IdMap.from_arrays(["a", "b"], [0, 1], floor=0).ids_of(["b", "x"]).tolist()
        [1, -1]
        """
        if self._saved is not None:
            if len(keys) <= _FEW:
                return np.array([-1 if (i := self.id_of(k)) is None else i for k in keys], np.int64).reshape(-1)
            self._materialize()
        return np.fromiter(map(self._by_key.get, keys, repeat(-1)), np.int64, len(keys))

    def none_of(self, keys: Iterable[str]) -> bool:
        """Whether no key of ``keys`` is in the map (one set operation)."""
        if self._saved is not None:
            keys = list(keys)
            if len(keys) <= _FEW:
                return all(self.id_of(k) is None for k in keys)
            self._materialize()
        return self._by_key.keys().isdisjoint(keys)

    def key_of(self, id_: int) -> str | None:
        found = self._by_id.get(id_)
        saved = self._saved
        if found is not None or saved is None or id_ in self._gone_ids:
            return found
        return saved.key_of(id_)

    def key_ever(self, id_: int) -> str | None:
        """The key of ``id_``, current or removed since this map was loaded.

        What a reader holding an older :class:`~graphmem.index.adjacency.EdgeView`
        uses to name the ids it found there: a concurrent delete removes the
        id from the map before it removes the relations, and :meth:`remove`
        records the key here before the id leaves the map, so the name is
        readable for every id any published view contains.

        Examples
        --------
        >>> ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0)
        >>> _ = ids.remove("a")
        >>> ids.key_of(0), ids.key_ever(0), ids.key_ever(1), ids.key_ever(9)
        (None, 'a', 'b', None)
        """
        found = self.key_of(id_)
        return self._retired.get(id_) if found is None else found

    def saved_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(ids, offsets, blob) of the keys this map was opened or built from
        (the saved keys, or the rebuild's key column; ``None`` when built from
        neither): the key of ``ids[i]`` is ``blob[offsets[i]:offsets[i + 1]]``
        (UTF-8), for good, since an id's key never changes. For a compiled
        reader that names many ids at once; ids not among them (added since)
        are named by :meth:`key_ever`.

        Examples
        --------
        >>> import pyarrow as pa
        >>> built = IdMap.from_arrays(["b", "a"], [3, 1], floor=0, named=key_arrays(pa.array(["b", "a"]), [3, 1]))
        >>> _ = built.remove("a"); built.add([("c", 7)])
        >>> ids, offsets, blob = built.saved_arrays()
        >>> ids.tolist(), offsets.tolist(), blob.tobytes()
        ([1, 3], [0, 1, 2], b'ab')
        """
        saved = self._saved
        return self._named if saved is None else saved.plain  # type: ignore[return-value]

    def keys_ever(self, ids: Iterable[int]) -> list[str | None]:
        """:meth:`key_ever` of each of ``ids``, in one call: a near search names
        ~15 ids, and the four calls a :meth:`key_ever` makes cost more than
        the lookups.

        Examples
        --------
        >>> ids = IdMap.from_saved(SavedKeys.build(["a", "b"], np.array([0, 1])), floor=0)
        >>> _ = ids.remove("a"); ids.add([("c", 7)])
        >>> ids.keys_ever([1, 0, 7, 9])
        ['b', 'a', 'c', None]
        """
        # The arrays before the dictionaries: _materialize fills the
        # dictionaries before it drops the arrays, so either pair read here
        # names every id (as key_of, which reads them in this order too).
        saved = self._saved
        gone = self._gone_ids
        by_id = self._by_id.get
        retired = self._retired.get
        out: list[str | None] = []
        add = out.append
        if saved is None:
            for id_ in ids:
                found = by_id(id_)
                add(retired(id_) if found is None else found)
            return out
        dense, first, count = saved._dense, saved._first, len(saved._id_seq)
        offsets, text = saved._off_seq, saved._text
        for id_ in ids:
            found = by_id(id_)
            if found is None and id_ not in gone:
                if dense:
                    row = id_ - first
                    if 0 <= row < count:
                        found = str(text[offsets[row] : offsets[row + 1]], "utf-8")
                else:
                    found = saved.key_of(id_)
            add(retired(id_) if found is None else found)
        return out

    def forget_retired(self, ids: Iterable[int] | None = None) -> None:
        """Stop naming these removed ids (every one when ``None``) in :meth:`key_ever`:
        called once no reader can hold a view that contains them."""
        if ids is None:
            self._retired.clear()
            return
        for id_ in ids:
            self._retired.pop(id_, None)

    @property
    def retired(self) -> int:
        """How many removed ids :meth:`key_ever` still names."""
        return len(self._retired)

    # -- snapshots ---------------------------------------------------------------------

    def view(self, generation: int) -> IdView:
        """The map as it is now (change ``generation``), for a reader: O(1).

        Correct while every change after ``generation`` is recorded
        (:meth:`record`): :class:`~graphmem.index.derived.GraphState` records
        them while the snapshot the view belongs to is held.
        """
        return IdView(self, generation)

    def record(self, stamp: int | None) -> None:
        """Record the next changes as change ``stamp`` (``None``: record nothing)."""
        self._stamp = stamp

    def drop_log(self, through: int | None = None) -> None:
        """Forget the recorded changes numbered ``through`` or lower (every one when ``None``):
        no held snapshot is older."""
        if through is None:
            if self._log:
                self._log = {}
            return
        # A new dict, not deletions: a reader may be iterating an entry.
        self._log = {key: kept for key, changes in self._log.items()
                     if (kept := tuple(c for c in changes if c[0] > through))}

    @property
    def logged(self) -> int:
        """How many keys have changes recorded for held snapshots."""
        return len(self._log)

    def _note(self, key: str, before: int | None) -> None:
        """Record that ``key`` changes now, and the id it had before (before it changes)."""
        stamp = self._stamp
        if stamp is not None:
            log = self._log
            log[key] = log.get(key, ()) + ((stamp, before),)

    def keys_of(self, ids: list[int]) -> list[str | None]:
        """The key of each id (``None`` where absent), in one pass over the map in C.

        Examples
        --------
        >>> IdMap.from_arrays(["a", "b"], [0, 1], floor=0).keys_of([1, 7])
        ['b', None]
        """
        saved = self._saved
        if saved is not None:
            if len(ids) <= _FEW:
                return [self.key_of(i) for i in ids]
            # A read: answered from the saved arrays and the changes since, without
            # building the dictionaries (~270 B per key resident for good, 0.5 s at 1M).
            out = self._saved_keys_of(saved, ids)
            if self._saved is not None:  # not materialised meanwhile (then the overlays were reset)
                return out
        return list(map(self._by_id.get, ids))

    def _saved_keys_of(self, saved: SavedKeys, ids: list[int]) -> list[str | None]:
        by_id, gone = self._by_id, self._gone_ids
        wanted = np.asarray(ids, np.int64).reshape(-1)
        out: list[str | None] = [None] * len(ids)
        if len(saved):
            rows = np.minimum(np.searchsorted(saved.ids, wanted), len(saved) - 1)
            hit = np.flatnonzero(saved.ids[rows] == wanted)
            for at, key in zip(hit.tolist(), saved.keys_at(rows[hit])):
                out[at] = key
        if by_id or gone:
            for at, id_ in enumerate(ids):
                if id_ in by_id:
                    out[at] = by_id[id_]
                elif id_ in gone:
                    out[at] = None
        return out

    @property
    def next_id(self) -> int:
        return self._next

    def allocate(self, count: int) -> range:
        """Reserve ``count`` fresh ids. A failed write leaves a gap, which is fine:
        ids only need to be unique and never reused."""
        with self._lock:
            start = self._next
            self._next += count
            return range(start, start + count)

    def add(self, items: Iterable[tuple[str, int]]) -> None:
        for key, id_ in items:
            if self._stamp is not None:
                self._note(key, self.id_of(key))
            if self._saved is not None and self.id_of(key) is None:
                self._count += 1
            self._by_key[key] = id_
            self._by_id[id_] = key

    def add_arrays(self, keys: list[str], ids: np.ndarray) -> None:
        """:meth:`add` for parallel lists (two dict updates, no Python loop)."""
        if self._stamp is not None:
            self._note_all(keys)
        if self._saved is not None:
            if len(keys) <= _FEW:
                self.add(zip(keys, ids.tolist()))
                return
            self._materialize()
        id_list = ids.tolist()
        self._by_key.update(zip(keys, id_list))
        self._by_id.update(zip(id_list, keys))

    def _note_all(self, keys: list[str]) -> None:
        """:meth:`_note` for a batch of keys (new ones in C: the bulk path's keys all are)."""
        log, stamp = self._log, self._stamp
        if stamp is None:
            return
        before = self.ids_of(keys)
        if bool((before < 0).all()) and log.keys().isdisjoint(keys):
            created: tuple[tuple[int, int | None], ...] = ((stamp, None),)
            log.update(zip(keys, repeat(created)))
            return
        for key, id_ in zip(keys, before.tolist()):
            self._note(key, None if id_ < 0 else id_)

    def remove(self, key: str) -> int | None:
        """Take ``key`` out of the map (its id keeps its name for :meth:`key_ever`)."""
        id_ = self.id_of(key)
        if id_ is None:
            return None
        self._note(key, id_)  # before the key leaves: see IdView
        self._retired[id_] = key  # before the id leaves: see key_ever
        if self._saved is not None:
            self._count -= 1
            self._gone.add(key)  # first: a lookup never falls back to the saved arrays for a removed key
            self._gone_ids.add(id_)
            self._by_key.pop(key, None)
            self._by_id.pop(id_, None)
            return id_
        self._by_key.pop(key, None)
        self._by_id.pop(id_, None)
        return id_


class IdView:
    """The key/id map as it was at one change (a snapshot's), in O(1) and
    without copying: lookups read the live map, then undo the changes made
    since, which the map records while a view may be held (:meth:`IdMap.record`).

    Each lookup reads the live map first and the record second; a change
    records itself before it changes the map, so a change landing between
    the two reads is undone too.

    Examples
    --------
    >>> ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0)
    >>> held = ids.view(0)
    >>> ids.record(1); _ = ids.remove("a"); ids.add([("c", 2)]); ids.record(None)
    >>> held.id_of("a"), held.id_of("c"), held.key_of(0), held.key_of(2), len(held)
    (0, None, 'a', None, 2)
    >>> ids.id_of("a"), ids.id_of("c"), len(ids)
    (None, 2, 2)
    """

    __slots__ = ("_map", "_at", "_count", "_next", "key_ever", "keys_ever", "saved_arrays")

    def __init__(self, ids: IdMap, generation: int) -> None:
        self._map = ids
        self._at = generation
        self._count = len(ids)
        self._next = ids.next_id
        # The key of an id of the snapshot's relations: the map's own method
        # (ids are never reused, so an id's key is the same in every state),
        # bound here to save a call per name on the path queries' way.
        self.key_ever = ids.key_ever
        self.keys_ever = ids.keys_ever
        self.saved_arrays = ids.saved_arrays

    @property
    def generation(self) -> int:
        return self._at

    @property
    def next_id(self) -> int:
        """The next id to be allocated when the view was taken."""
        return self._next

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.id_of(key) is not None

    def id_of(self, key: str) -> int | None:
        ids = self._map
        found = ids.id_of(key)  # first: see the class docstring
        changes = ids._log.get(key)
        if changes is not None:
            at = self._at
            for stamp, before in changes:
                if stamp > at:
                    return before  # the id it had until the first change after the view
        return found

    def ids_of(self, keys: list[str]) -> np.ndarray:
        """The id of each key (-1 where absent)."""
        ids = self._map
        found = ids.ids_of(keys)
        log = ids._log
        if log and not log.keys().isdisjoint(keys):
            for at, key in enumerate(keys):
                if key in log:
                    id_ = self.id_of(key)
                    found[at] = -1 if id_ is None else id_
        return found

    def key_of(self, id_: int) -> str | None:
        """The key of ``id_`` if it was in the map when the view was taken."""
        ids = self._map
        found = ids.key_of(id_)
        if not ids._log:
            return found  # nothing changed since any held view (read after the map: see above)
        key = ids.key_ever(id_)  # ids are never reused: an id has one key for good
        return key if key is not None and self.id_of(key) == id_ else None
