"""The relations as numpy arrays: a sorted snapshot plus a small delta overlay.

Each relation is a triple ``(source id, type code, target id)``. The snapshot
keeps them twice, sorted by ``source << 32 | target`` (out) and by
``target << 32 | source`` (in), which is CSR order: the out-edges of a node are
one contiguous slice. Writes after the snapshot go to the delta (added triples,
removed triples) that every reader consults, so reads always see the latest
writes; the snapshot is rebuilt when the delta grows past a fraction of it.

Today this answers "does this relation exist" for batch upserts (vectorised,
no store round trip) and "which relation types touch this entity" for the
relation-type bitmaps. The path kernels read the same arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["EdgeIndex", "MAX_ID"]

MAX_ID = (1 << 31) - 1
"""Ids are packed two to an int64, so each must fit in 31 bits."""

Triple = tuple[int, int, int]  # (source, type code, target)

_LOW = np.int64((1 << 32) - 1)


class EdgeIndex:
    """Every relation, as integer triples.

    Examples
    --------
    >>> e = EdgeIndex.from_arrays([0, 1], [1, 2], ["KNOWS", "KNOWS"])
    >>> k = e.code_for("KNOWS")
    >>> e.contains(0, k, 1), e.contains(1, k, 0)
    (True, False)
    >>> e.add([(2, k, 0)]); e.remove([(0, k, 1)])
    >>> sorted(e.incident(0)), len(e)
    ([(2, 0, 0)], 2)
    """

    def __init__(self) -> None:
        self.type_names: list[str] = []
        self._codes: dict[str, int] = {}
        self._out_key = np.empty(0, np.int64)
        self._out_type = np.empty(0, np.int32)
        self._in_key = np.empty(0, np.int64)
        self._in_type = np.empty(0, np.int32)
        self._added: set[Triple] = set()
        self._removed: set[Triple] = set()
        self._added_by_node: dict[int, set[Triple]] = {}

    @classmethod
    def from_arrays(cls, sources: Sequence[int] | np.ndarray, targets: Sequence[int] | np.ndarray,
                    types: Sequence[str] | np.ndarray) -> EdgeIndex:
        new = cls()
        type_arr = np.asarray(types, dtype=object)
        if type_arr.size:
            names, codes = np.unique(type_arr, return_inverse=True)
            new.type_names = [str(n) for n in names]
            new._codes = {n: i for i, n in enumerate(new.type_names)}
        else:
            codes = np.empty(0, np.int64)
        new._build(np.asarray(sources, np.int64), codes.astype(np.int32), np.asarray(targets, np.int64))
        return new

    def _build(self, src: np.ndarray, codes: np.ndarray, dst: np.ndarray) -> None:
        out_key = (src << 32) | dst
        order = np.lexsort((codes, out_key))
        self._out_key, self._out_type = out_key[order], codes[order]
        in_key = (dst << 32) | src
        order = np.lexsort((codes, in_key))
        self._in_key, self._in_type = in_key[order], codes[order]
        self._added.clear()
        self._removed.clear()
        self._added_by_node.clear()

    # -- types -------------------------------------------------------------------

    def code_of(self, type_name: str) -> int | None:
        return self._codes.get(type_name)

    def code_for(self, type_name: str) -> int:
        """The code of ``type_name``, assigning a new one if needed."""
        code = self._codes.get(type_name)
        if code is None:
            code = self._codes[type_name] = len(self.type_names)
            self.type_names.append(type_name)
        return code

    # -- membership ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._out_key) - len(self._removed) + len(self._added)

    def _in_snapshot(self, src: int, code: int, dst: int) -> bool:
        key = (src << 32) | dst
        lo = int(np.searchsorted(self._out_key, key, "left"))
        hi = int(np.searchsorted(self._out_key, key, "right"))
        return bool(np.any(self._out_type[lo:hi] == code))

    def contains(self, src: int, code: int, dst: int) -> bool:
        triple = (src, code, dst)
        if triple in self._added:
            return True
        return triple not in self._removed and self._in_snapshot(src, code, dst)

    def contains_many(self, src: np.ndarray, codes: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`contains` over parallel arrays."""
        src = np.asarray(src, np.int64)
        dst = np.asarray(dst, np.int64)
        codes = np.asarray(codes, np.int32)
        keys = (src << 32) | dst
        lo = np.searchsorted(self._out_key, keys, "left")
        hi = np.searchsorted(self._out_key, keys, "right")
        found = np.zeros(len(keys), dtype=bool)
        single = (hi - lo) == 1
        found[single] = self._out_type[lo[single]] == codes[single]
        for i in np.flatnonzero((hi - lo) > 1):  # same pair under several types: rare
            found[i] = bool(np.any(self._out_type[lo[i] : hi[i]] == codes[i]))
        if self._removed or self._added:
            for i in range(len(keys)):
                triple = (int(src[i]), int(codes[i]), int(dst[i]))
                if triple in self._added:
                    found[i] = True
                elif found[i] and triple in self._removed:
                    found[i] = False
        return found

    # -- changes -------------------------------------------------------------------

    def add(self, triples: Iterable[Triple]) -> None:
        for triple in triples:
            if triple in self._removed:
                self._removed.discard(triple)
            elif not self._in_snapshot(*triple):
                self._added.add(triple)
                self._added_by_node.setdefault(triple[0], set()).add(triple)
                self._added_by_node.setdefault(triple[2], set()).add(triple)
        self._maybe_compact()

    def remove(self, triples: Iterable[Triple]) -> None:
        for triple in triples:
            if triple in self._added:
                self._added.discard(triple)
                for node in (triple[0], triple[2]):
                    bucket = self._added_by_node.get(node)
                    if bucket is not None:
                        bucket.discard(triple)
                        if not bucket:
                            del self._added_by_node[node]
            elif self._in_snapshot(*triple):
                self._removed.add(triple)
        self._maybe_compact()

    def incident(self, node: int) -> set[Triple]:
        """Every relation with ``node`` as source or target."""
        found: set[Triple] = set()
        lo, hi = np.searchsorted(self._out_key, [node << 32, (node + 1) << 32])
        for key, code in zip(self._out_key[lo:hi].tolist(), self._out_type[lo:hi].tolist()):
            found.add((node, code, key & 0xFFFFFFFF))
        lo, hi = np.searchsorted(self._in_key, [node << 32, (node + 1) << 32])
        for key, code in zip(self._in_key[lo:hi].tolist(), self._in_type[lo:hi].tolist()):
            found.add((key & 0xFFFFFFFF, code, node))
        found -= self._removed
        found |= self._added_by_node.get(node, set())
        return found

    def has_incident_type(self, node: int, code: int) -> bool:
        return any(t[1] == code for t in self.incident(node))

    # -- snapshot ------------------------------------------------------------------

    def _maybe_compact(self) -> None:
        if len(self._added) + len(self._removed) > max(50_000, len(self._out_key) // 8):
            self.compact()

    def compact(self) -> None:
        """Fold the delta into a new snapshot."""
        src = self._out_key >> 32
        dst = self._out_key & _LOW
        codes = self._out_type
        if self._removed:
            gone = np.array(sorted(self._removed), dtype=np.int64).reshape(-1, 3)
            gone_key = (gone[:, 0] << 32) | gone[:, 2]
            keep = ~_rows_in(self._out_key, codes, gone_key, gone[:, 1].astype(np.int32))
            src, dst, codes = src[keep], dst[keep], codes[keep]
        if self._added:
            new = np.array(sorted(self._added), dtype=np.int64).reshape(-1, 3)
            src = np.concatenate([src, new[:, 0]])
            codes = np.concatenate([codes, new[:, 1].astype(np.int32)])
            dst = np.concatenate([dst, new[:, 2]])
        self._build(src, codes, dst)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All current relations as (sources, type codes, targets), snapshot order."""
        if self._added or self._removed:
            self.compact()
        return self._out_key >> 32, self._out_type.copy(), self._out_key & _LOW

    def nbytes(self) -> int:
        return int(self._out_key.nbytes + self._out_type.nbytes + self._in_key.nbytes + self._in_type.nbytes)


def _rows_in(keys: np.ndarray, codes: np.ndarray, want_keys: np.ndarray, want_codes: np.ndarray) -> np.ndarray:
    """Mask of (keys, codes) rows that appear among (want_keys, want_codes)."""
    mask = np.isin(keys, want_keys)
    for i in np.flatnonzero(mask):
        hits = want_codes[want_keys == keys[i]]
        mask[i] = bool(np.any(hits == codes[i]))
    return mask
