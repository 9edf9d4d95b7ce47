"""Roaring bitmaps of entity ids per label (entity type, relation type).

They answer "which entities are Persons" or "which entities take part in a
WORKS_AT relation" as compressed sets that intersect in microseconds, the
filters of typed search and traversal.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
from pyroaring import BitMap

from .columns import int_numpy

__all__ = ["LabelBitmaps", "LabelSets"]


class LabelSets:
    """Read access to one bitmap of ids per label; what a graph snapshot holds
    (:meth:`LabelBitmaps.share`: the labels as they were, unchanged while the
    snapshot is held, see :class:`graphmem.index.derived.GraphState`).
    """

    __slots__ = ("_maps",)

    def __init__(self) -> None:
        self._maps: dict[str, BitMap] = {}

    def labels(self) -> list[str]:
        return sorted(self._maps)

    def __len__(self) -> int:
        """The number of labels."""
        return len(self._maps)

    def __contains__(self, label: object) -> bool:
        return label in self._maps

    def members(self, label: str) -> BitMap:
        """The ids under ``label`` (a copy: callers may mutate it)."""
        return BitMap(self._maps.get(label, ()))

    def union(self, labels: Iterable[str]) -> BitMap:
        return BitMap.union(BitMap(), *(self._maps[label] for label in labels if label in self._maps))

    def counts(self) -> dict[str, int]:
        return {label: len(bm) for label, bm in sorted(self._maps.items())}

    def nbytes(self) -> int:
        """Bytes held by the bitmaps' containers."""
        total = 0
        for bitmap in self._maps.values():
            stats = bitmap.get_statistics()
            total += (stats["n_bytes_array_containers"] + stats["n_bytes_run_containers"]
                      + stats["n_bytes_bitset_containers"])  # fmt: skip
        return total


class LabelBitmaps(LabelSets):
    """One bitmap of ids per label, changed in place until shared.

    :meth:`share` hands a reader the current labels in O(1); from then on the
    first change to the label dictionary copies it, and the first change to
    a label's bitmap copies that bitmap (copy on write of what changes, and
    only while a snapshot may hold it: :meth:`release` ends the sharing once
    none does).

    Examples
    --------
    >>> b = LabelBitmaps()
    >>> b.add("Person", [1, 2]); b.add("Place", [3]); b.discard("Person", [2])
    >>> sorted(b.members("Person")), b.counts()
    ([1], {'Person': 1, 'Place': 1})
    >>> held = b.share()
    >>> b.add("Person", [4]); b.discard("Place", [3])
    >>> held.counts(), b.counts()
    ({'Person': 1, 'Place': 1}, {'Person': 2})
    """

    __slots__ = ("_owned", "_dict_owned")

    def __init__(self) -> None:
        super().__init__()
        # Labels whose bitmap this object made since it last shared
        # (``None``: every one is unshared) and whether the dict itself is.
        self._owned: set[str] | None = None
        self._dict_owned = True

    @classmethod
    def from_arrays(cls, labels: np.ndarray | list[str], ids: np.ndarray) -> LabelBitmaps:
        """Build from parallel arrays of labels and ids (one pass per distinct label)."""
        new = cls()
        labels_arr = np.asarray(labels, dtype=object)
        ids_arr = np.asarray(ids, dtype=np.uint32)
        if labels_arr.size:
            uniq, inverse = np.unique(labels_arr, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
            for i, label in enumerate(uniq):
                new._maps[str(label)] = BitMap(ids_arr[order[bounds[i] : bounds[i + 1]]])
        return new

    @classmethod
    def from_arrow(cls, labels: pa.Array | pa.ChunkedArray, ids: np.ndarray) -> LabelBitmaps:
        """Like :meth:`from_arrays` for an Arrow string column: dictionary-encoded
        in Arrow, so grouping sorts small integer codes instead of Python strings
        (``np.unique`` over 1M object strings takes seconds).

        Examples
        --------
        >>> import pyarrow as pa
        >>> LabelBitmaps.from_arrow(pa.array(["a", "b", "a"]), np.array([5, 6, 7])).counts()
        {'a': 2, 'b': 1}
        """
        new = cls()
        if len(labels) == 0:
            return new
        if isinstance(labels, pa.ChunkedArray):
            labels = labels.combine_chunks()
        encoded = labels.cast(pa.string()).dictionary_encode()
        codes = int_numpy(encoded.indices).astype(np.int64)
        names = encoded.dictionary.to_pylist()
        ids_arr = np.asarray(ids, dtype=np.uint32)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        for i, label in enumerate(names):
            if bounds[i + 1] > bounds[i]:
                new._maps[str(label)] = BitMap(ids_arr[order[bounds[i] : bounds[i + 1]]])
        return new

    def share(self) -> LabelSets:
        """The labels as they are now, for a reader; later changes copy what they touch."""
        frozen = LabelSets()
        frozen._maps = self._maps
        self._owned = set()
        self._dict_owned = False
        return frozen

    def release(self) -> None:
        """No reader holds a shared state any more: change in place again."""
        self._owned = None
        self._dict_owned = True

    def _writable(self, label: str) -> BitMap | None:
        """The bitmap of ``label`` (``None`` if none), safe to change in place."""
        if not self._dict_owned:
            self._maps = dict(self._maps)
            self._dict_owned = True
        bitmap = self._maps.get(label)
        owned = self._owned
        if bitmap is not None and owned is not None and label not in owned:
            bitmap = self._maps[label] = BitMap(bitmap)  # a snapshot holds the old one
            owned.add(label)
        return bitmap

    def _put(self, label: str, bitmap: BitMap) -> None:
        """Install a bitmap this object made (unshared)."""
        self._maps[label] = bitmap
        if self._owned is not None:
            self._owned.add(label)

    def add(self, label: str, ids: Iterable[int]) -> None:
        found = self._writable(label)
        if found is None:
            self._put(label, BitMap(ids))
        else:
            found.update(ids)

    def add_array(self, label: str, ids: np.ndarray) -> None:
        """:meth:`add` for an id array (built from its buffer, not element by element)."""
        if len(ids):
            found = self._writable(label)
            if found is None:
                self._put(label, BitMap(np.asarray(ids, np.uint32)))
            else:
                found |= BitMap(np.asarray(ids, np.uint32))

    def add_grouped(self, labels: pa.Array, ids: np.ndarray) -> None:
        """Add each id under its label (parallel arrays; grouped in Arrow, one bitmap update per label).

        Examples
        --------
        >>> b = LabelBitmaps(); b.add("a", [1])
        >>> b.add_grouped(pa.array(["a", "b", "a"]), np.array([5, 6, 7])); b.counts()
        {'a': 3, 'b': 1}
        """
        for label, members in LabelBitmaps.from_arrow(labels, ids)._maps.items():
            found = self._writable(label)
            if found is None:
                self._put(label, members)
            else:
                found |= members

    def discard(self, label: str, ids: Iterable[int]) -> None:
        gone = ids if isinstance(ids, BitMap) else BitMap(ids)
        bitmap = self._maps.get(label)
        if bitmap is None or not bitmap.intersect(gone):
            return  # nothing to take out: no copy of a shared bitmap
        bitmap = self._writable(label)
        bitmap.difference_update(gone)  # type: ignore[union-attr]
        if not bitmap:
            del self._maps[label]

    def discard_everywhere(self, ids: Iterable[int]) -> None:
        gone = BitMap(ids)
        for label in list(self._maps):
            self.discard(label, gone)
