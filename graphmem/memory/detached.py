"""What a detached memory (:meth:`graphmem.Memory.detached`) holds in place of its store."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import StoreDetached

if TYPE_CHECKING:
    from ..index.derived import Derived
    from ..index.vector_store import VectorStore
    from ..store.store import Store

__all__ = ["DetachedStore", "detach"]


class DetachedStore:
    """The closed store's description, an open check that passes, and
    :class:`StoreDetached` for anything that would read the store.

    It stands in for the :class:`~graphmem.store.store.Store` wherever the
    detached memory and its derived parts hold one, so a read that needs the
    store fails with a clear error instead of touching a closed engine.

    Examples
    --------
    >>> import tempfile, graphmem
    >>> from graphmem.store.store import Store
    >>> with Store(tempfile.mkdtemp() + "/s") as store:
    ...     stand_in = DetachedStore(store)
    >>> stand_in.check_open(), stand_in.read_only, stand_in.closed
    (None, True, False)
    >>> stand_in.execute("entity_get", {"key": "x"})
    Traceback (most recent call last):
    ...
    graphmem.errors.StoreDetached: a detached memory answers from what it loaded; this needs the store (execute)
    """

    def __init__(self, store: Store) -> None:
        self.path, self.engine_name, self.read_only, self.config = store.path, store.engine_name, True, store.config
        self.schema_version = store.schema_version
        self.closed = False

    def check_open(self) -> None:
        """A detached memory is open to what it loaded."""

    def __getattr__(self, name: str) -> Any:
        raise StoreDetached(f"a detached memory answers from what it loaded; this needs the store ({name})")


def detach(store: Store, derived: Derived, vectors: VectorStore) -> tuple[DetachedStore, Derived, VectorStore]:
    """A :class:`DetachedStore` for ``store``, and copies of ``derived`` and ``vectors``
    that hold it instead: loading what they have not loaded raises
    :class:`StoreDetached` rather than reading a store that may be closed."""
    stand_in = DetachedStore(store)
    derived, vectors = copy.copy(derived), copy.copy(vectors)
    derived._store = stand_in  # type: ignore[assignment]
    vectors._store = stand_in  # type: ignore[assignment]
    return stand_in, derived, vectors
