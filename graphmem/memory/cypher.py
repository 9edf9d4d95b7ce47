"""User Cypher through :meth:`graphmem.Memory.cypher`: the argument checks and the
guards around a statement that writes.

A write is bracketed by the store (:meth:`graphmem.store.store.Store.cypher`):
before it, the id high-water mark is pinned (:func:`pin_id_floor`); after it,
inside the same transaction, :func:`check_data_model` refuses a result
graphmem cannot use (and so rolls the statement back); after the commit, the
caller drops what it derived from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, QueryError
from ..records import KEY_SEPARATOR
from ..validate import check_flag, check_param_strings

if TYPE_CHECKING:
    from ..index.derived import Derived
    from ..store.store import CypherResult, Store

__all__ = ["check_data_model", "pin_id_floor", "run"]


def run(store: Store, derived: Derived, query: str, params: Mapping[str, Any] | None, *, read_only: bool,
        allow_file_access: bool, after_write: Callable[[], None]) -> CypherResult:  # fmt: skip
    """Check the arguments, then run ``query`` (a write between the guards above;
    ``after_write`` runs once it committed)."""
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput(f"params must be a dict, not {type(params).__name__}")
    if params:
        check_param_strings(params)
    if check_flag(read_only, "read_only"):
        return store.cypher(query, params, allow_write=False, allow_file_access=allow_file_access)
    return store.cypher(
        query, params, allow_file_access=allow_file_access, before_write=lambda: pin_id_floor(store, derived),
        check_write=lambda: check_data_model(store), after_write=after_write,
    )  # fmt: skip


def check_data_model(store: Store) -> None:
    """Refuse (roll back) a user Cypher write that leaves entities graphmem
    cannot use: its id map, bitmaps and vectors need every entity to have an
    id of its own and a key of namespace + U+001F + name."""
    bad = store.execute("model_violations", {"separator": KEY_SEPARATOR})
    if bad:
        keys = ", ".join(repr(row[0]) for row in bad)
        raise QueryError(
            f"refused: the statement leaves entities outside graphmem's data model ({keys}): each needs "
            "id (a unique INT64 >= 0), namespace, name, type and key = namespace + '\\x1f' + name; "
            "use add_entity() to create entities. Nothing was changed."
        )
    duplicates = store.execute("duplicate_ids")
    if duplicates:
        raise QueryError(
            f"refused: entity ids {[row[0] for row in duplicates]} would be shared by several entities; "
            "ids must be unique. Nothing was changed."
        )
    untyped = store.execute("untyped_relations")
    if untyped:
        raise QueryError(f"refused: relations {untyped} have no type. Nothing was changed.")
    crossing = store.execute("cross_namespace_relations")
    if crossing:
        raise QueryError(f"refused: relations {crossing} join entities of different namespaces, which stay "
                         "apart. Nothing was changed.")


def pin_id_floor(store: Store, derived: Derived) -> None:
    """Before user Cypher writes: record the id high-water mark in the same
    transaction, so a statement that deletes the newest entity cannot make
    its id available again."""
    meta = dict(store.execute("meta_all"))
    highest = store.execute("entity_max_id")[0][0]
    floor = max(int(meta.get("id_floor", "0")), -1 if highest is None else int(highest) + 1)
    if derived.loaded:
        floor = max(floor, derived.get().ids.next_id)
    store.execute("meta_set", {"key": "id_floor", "value": str(floor)})
    # Before the statement runs: Cypher writes no write times, so no
    # catch-up could find its changes; the saved graph state must go.
    derived.saved.forget()
