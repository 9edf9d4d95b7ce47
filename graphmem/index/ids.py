"""The in-memory map between entity keys and graphmem's dense integer ids.

Ids are assigned by graphmem, never reused: they label vectors, bitmap members
and CSR rows, so a reused id could resurrect a deleted entity in a derived
structure. The next id is ``max(highest live id + 1, floor)``, where the store
records ``floor`` only when deletes happen, so creating an entity costs no
extra write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from itertools import repeat

import numpy as np

__all__ = ["IdMap"]


class IdMap:
    """Keys to ids and back, with id allocation.

    Examples
    --------
    >>> ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0)
    >>> ids.allocate(2), ids.id_of("b"), ids.key_of(0)
    (range(2, 4), 1, 'a')
    """

    __slots__ = ("_by_key", "_by_id", "_next", "_lock")

    def __init__(self) -> None:
        self._by_key: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_arrays(cls, keys: Sequence[str], ids: Sequence[int] | np.ndarray, *, floor: int) -> IdMap:
        new = cls()
        id_list = ids.tolist() if isinstance(ids, np.ndarray) else [int(i) for i in ids]
        new._by_key = dict(zip(keys, id_list))
        new._by_id = dict(zip(id_list, keys))
        new._next = max(floor, max(id_list, default=-1) + 1)
        return new

    def to_arrays(self) -> tuple[list[str], np.ndarray]:
        """Every key and its id, as parallel list and int64 array (what :meth:`from_arrays` takes).

        Examples
        --------
        >>> keys, ids = IdMap.from_arrays(["a", "b"], [0, 1], floor=0).to_arrays()
        >>> keys, ids.tolist()
        (['a', 'b'], [0, 1])
        """
        keys = list(self._by_key)
        return keys, np.fromiter(self._by_key.values(), np.int64, len(keys))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def id_of(self, key: str) -> int | None:
        return self._by_key.get(key)

    def ids_of(self, keys: list[str]) -> np.ndarray:
        """The id of each key (-1 where absent), in one pass over the map in C.

        Examples
        --------
        >>> IdMap.from_arrays(["a", "b"], [0, 1], floor=0).ids_of(["b", "x"]).tolist()
        [1, -1]
        """
        return np.fromiter(map(self._by_key.get, keys, repeat(-1)), np.int64, len(keys))

    def none_of(self, keys: Iterable[str]) -> bool:
        """Whether no key of ``keys`` is in the map (one set operation)."""
        return self._by_key.keys().isdisjoint(keys)

    def key_of(self, id_: int) -> str | None:
        return self._by_id.get(id_)

    def keys_of(self, ids: list[int]) -> list[str | None]:
        """The key of each id (``None`` where absent), in one pass over the map in C.

        Examples
        --------
        >>> IdMap.from_arrays(["a", "b"], [0, 1], floor=0).keys_of([1, 7])
        ['b', None]
        """
        return list(map(self._by_id.get, ids))

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
            self._by_key[key] = id_
            self._by_id[id_] = key

    def add_arrays(self, keys: list[str], ids: np.ndarray) -> None:
        """:meth:`add` for parallel lists (two dict updates, no Python loop)."""
        id_list = ids.tolist()
        self._by_key.update(zip(keys, id_list))
        self._by_id.update(zip(id_list, keys))

    def remove(self, key: str) -> int | None:
        id_ = self._by_key.pop(key, None)
        if id_ is not None:
            self._by_id.pop(id_, None)
        return id_
