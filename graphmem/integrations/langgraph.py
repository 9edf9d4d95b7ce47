"""graphmem as a LangGraph long-term memory store: :class:`GraphMemStore`.

One module of ~700 lines because the LangGraph ``BaseStore`` contract is one
unit (four operation kinds that share the namespace mapping, the item
encoding, the filters and the TTL rules); splitting it would scatter one
contract over several files.

Mapping (documented in README.md, "graphmem as a LangGraph store"):

- A LangGraph namespace tuple is one graphmem namespace named ``"lg/"`` +
  its labels joined by ``"/"``, each label percent-encoded (UTF-8) where it
  holds ``%``, ``/``, ``#``, ``~`` or a character graphmem may refuse
  (Unicode categories C* and Z* other than the plain space): ``("users",
  "42")`` is ``lg/users/42`` and ``("users/42",)`` is ``lg/users%2F42``, so
  the mapping is reversible and collision-free. A name longer than graphmem
  allows (512 characters) becomes ``"lg#"`` + the SHA-256 of the encoded
  form; the tuple is then read back from the items' properties.
- An item is one entity of type ``Item`` in that namespace. Its name is the
  key when graphmem accepts the key as a name and it does not start with
  ``~``; otherwise ``"~"`` + the percent-encoded key (``"~#"`` + SHA-256
  past 512 characters). The entity's properties hold ``value`` (the item's
  value, as given) and ``langgraph`` (the exact namespace and key, the
  time of the last put, whether it is indexed, its TTL and deadline); its
  text is the indexed text, and its vector the embedding of that text.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple, cast
from urllib.parse import unquote

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        IndexConfig,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        TTLConfig,
        ensure_embeddings,
        get_text_at_path,
        tokenize_path,
    )
    from langchain_core.embeddings import Embeddings
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "graphmem.integrations.langgraph needs LangGraph: pip install 'graphmem[langgraph]'"
    ) from exc

import numpy as np

from ..config import MAX_NAME_LENGTH
from ..errors import CorruptStore, InvalidInput, NotFound, ReadOnlyStore
from ..memory import Memory, open_memory
from ..types import Entity
from ..validate import check_count, check_flag, check_number_range, check_positive_int

__all__ = ["GraphMemStore", "GraphSearchItem", "encode_namespace", "decode_namespace", "encode_key", "decode_key"]

ITEM_TYPE = "Item"
_PREFIX = "lg/"
_HASHED_NS = "lg#"
_ENCODED_KEY = "~"
_HASHED_KEY = "~#"
_ESCAPED = frozenset("%/#~")
_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
_SCAN_CACHE_ITEMS = 100_000  # decoded items kept for unranked searches (see GraphMemStore._scan)


# -- the name mapping --------------------------------------------------------------


def _needs_escape(char: str) -> bool:
    # Categories C* (controls, format, surrogates, unassigned) and Z* (line and
    # paragraph separators, odd spaces): a superset of what graphmem refuses
    # in a name, so an escaped name always passes graphmem's checks.
    return char in _ESCAPED or (char != " " and unicodedata.category(char)[0] in "CZ")


def _escape(text: str) -> str:
    out: list[str] = []
    for char in text:
        if _needs_escape(char):
            out.extend(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        else:
            out.append(char)
    return "".join(out)


def _unescape(text: str) -> str:
    return unquote(text, encoding="utf-8", errors="surrogatepass")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encode_namespace(namespace: tuple[str, ...]) -> str:
    """The graphmem namespace that holds the LangGraph namespace ``namespace``.

    Examples
    --------
    >>> encode_namespace(("users", "42")), encode_namespace(("users/42",))
    ('lg/users/42', 'lg/users%2F42')
    >>> decode_namespace(encode_namespace(("a b", "\\t%")))
    ('a b', '\\t%')
    """
    name = _PREFIX + "/".join(_escape(label) for label in namespace)
    return name if len(name) <= MAX_NAME_LENGTH else _HASHED_NS + _digest(name)


def decode_namespace(name: str) -> tuple[str, ...] | None:
    """The LangGraph namespace of graphmem namespace ``name``; ``None`` for a
    hashed name (its tuple is kept in its items) or a namespace LangGraph did not make."""
    if not name.startswith(_PREFIX):
        return None
    return tuple(_unescape(label) for label in name[len(_PREFIX):].split("/"))


def encode_key(key: str) -> str:
    """The entity name of the item ``key``: the key itself when graphmem takes it.

    Examples
    --------
    >>> encode_key("note-1"), encode_key(""), encode_key("~x"), encode_key("a\\nb")
    ('note-1', '~', '~%7Ex', '~a%0Ab')
    """
    if key and key.strip() and len(key) <= MAX_NAME_LENGTH and not key.startswith(_ENCODED_KEY) and not any(
            _needs_escape(c) and c not in _ESCAPED for c in key):
        return key
    name = _ENCODED_KEY + _escape(key)
    return name if len(name) <= MAX_NAME_LENGTH else _HASHED_KEY + _digest(key)


def decode_key(name: str) -> str | None:
    """The item key of entity ``name``; ``None`` for a hashed name (its key is in its properties).

    Examples
    --------
    >>> [decode_key(encode_key(k)) for k in ("note-1", "", " ", "~x")]
    ['note-1', '', ' ', '~x']
    """
    if name.startswith(_HASHED_KEY):
        return None
    if name.startswith(_ENCODED_KEY):
        return _unescape(name[len(_ENCODED_KEY):])
    return name


# -- results -----------------------------------------------------------------------


class GraphSearchItem(SearchItem):
    """A :class:`~langgraph.store.base.SearchItem` found by a ``near=`` search:
    ``hops`` is its distance from the nearest anchor item and ``path`` the keys
    along a shortest path from that anchor (both ``None`` otherwise)."""

    __slots__ = ("hops", "path")

    def __init__(self, *args: Any, hops: int | None = None, path: tuple[str, ...] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.hops = hops
        self.path = path

    def dict(self) -> dict[str, Any]:
        out = super().dict()
        out["hops"] = self.hops
        out["path"] = None if self.path is None else list(self.path)
        return out


class _Stored(NamedTuple):
    """One current item as read from its entity."""

    namespace: tuple[str, ...]
    key: str
    name: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    indexed: bool
    ttl: float | None
    expires_at: float | None

    def item(self, cls: type = Item, **extra: Any) -> Any:
        # A copy: the value is shared with graphmem's entity cache and this store's
        # scan cache, which a caller changing the returned dict must not reach.
        return cls(namespace=self.namespace, key=self.key, value=copy.deepcopy(self.value),
                   created_at=self.created_at, updated_at=self.updated_at, **extra)  # fmt: skip

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


class _Plan(NamedTuple):
    """A checked batch: its ops, the puts that win (last per item), the texts to embed."""

    ops: list[Op]
    puts: dict[tuple[tuple[str, ...], str], PutOp]
    texts: dict[tuple[tuple[str, ...], str], list[str]]
    queries: list[str]


# -- checks ------------------------------------------------------------------------


def _check_labels(namespace: Any, what: str, *, empty_ok: bool) -> tuple[str, ...]:
    if not isinstance(namespace, tuple):
        raise InvalidNamespaceError(f"{what} must be a tuple of strings, not {type(namespace).__name__}")
    if not namespace and not empty_ok:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(f"namespace labels must be strings, got {type(label).__name__} in {namespace}")
        if not label or "." in label or "\x00" in label:
            raise InvalidNamespaceError(f"namespace labels must be non-empty, without '.' or NUL: {namespace}")
    return namespace


def _check_filter(filter: Any) -> None:
    if filter is None:
        return
    if not isinstance(filter, Mapping):
        raise InvalidInput(f"filter must be a dict, not {type(filter).__name__}")
    for value in filter.values():
        if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
            unknown = [k for k in value if k not in _OPERATORS]
            if unknown:
                raise InvalidInput(f"unsupported filter operator {unknown[0]!r}: use one of {', '.join(_OPERATORS)}")


def _check_value(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"an item value must be a dict (or None to delete), not {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"an item value must be JSON (string keys, finite numbers): {exc}") from None


def _check_op(op: Any) -> None:
    if isinstance(op, GetOp):
        _check_labels(op.namespace, "namespace", empty_ok=False)
        if not isinstance(op.key, str):
            raise InvalidInput(f"key must be a str, not {type(op.key).__name__}")
    elif isinstance(op, PutOp):
        _check_labels(op.namespace, "namespace", empty_ok=False)
        if op.namespace[0] == "langgraph":
            raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {op.namespace}')
        if not isinstance(op.key, str):
            raise InvalidInput(f"key must be a str, not {type(op.key).__name__}")
        if op.value is not None:
            _check_value(op.value)
        if op.index is not None and op.index is not False and (
                not isinstance(op.index, list) or not all(isinstance(p, str) for p in op.index)):
            raise InvalidInput(f"index must be None, False or a list of field paths, not {op.index!r}")
        check_number_range(op.ttl, "ttl", 0, allow_none=True, expected="a number of minutes >= 0 or None")
    elif isinstance(op, SearchOp):
        _check_labels(op.namespace_prefix, "namespace_prefix", empty_ok=True)
        _check_filter(op.filter)
        check_count(op.limit, "limit")
        check_count(op.offset, "offset")
        if op.query is not None and not isinstance(op.query, str):
            raise InvalidInput(f"query must be a str, not {type(op.query).__name__}")
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise InvalidInput(f"match_type must be 'prefix' or 'suffix', not {condition.match_type!r}")
            _check_labels(tuple(condition.path), "match path", empty_ok=True)
        if op.max_depth is not None:
            check_count(op.max_depth, "max_depth")
        check_count(op.limit, "limit")
        check_count(op.offset, "offset")
    else:
        raise InvalidInput(f"Unknown operation type: {type(op)}")


# -- filters and matching (the semantics of LangGraph's InMemoryStore) ---------------


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(value, op, operand) for op, operand in wanted.items())
        return isinstance(value, Mapping) and all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(wanted)
                and all(_compare(a, b) for a, b in zip(value, wanted)))  # fmt: skip
    return bool(value == wanted)


def _operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    # LangGraph's InMemoryStore compares as floats and raises on a missing or
    # non-numeric field; here such an item simply does not match.
    try:
        a, b = float(value), float(operand)
    except (TypeError, ValueError):
        return False
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]


def _matches(filter: Mapping[str, Any] | None, value: Mapping[str, Any]) -> bool:
    return not filter or all(_compare(value.get(k), v) for k, v in filter.items())


def _condition_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    pairs = zip(namespace, path) if condition.match_type == "prefix" else zip(reversed(namespace), reversed(path))
    return all(p == "*" or n == p for n, p in pairs)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


# -- the store ---------------------------------------------------------------------


def _check_ttl_config(ttl: Mapping[str, Any]) -> None:
    """Refuse a ``TTLConfig`` whose values the store could not use, before anything
    is opened: a negative or non-numeric ``default_ttl`` would fail every later
    ``put`` that takes it, and a negative ``sweep_interval_minutes`` the sweeper's
    thread. Keys LangGraph does not define are ignored, as its own stores do."""
    minutes = "a number of minutes >= 0 or None"
    check_number_range(ttl.get("default_ttl"), "TTLConfig.default_ttl", 0, allow_none=True, expected=minutes)
    check_number_range(ttl.get("sweep_interval_minutes"), "TTLConfig.sweep_interval_minutes", 0, allow_none=True,
                       expected=minutes)  # fmt: skip
    check_flag(ttl.get("refresh_on_read", True), "TTLConfig.refresh_on_read")


class GraphMemStore(BaseStore):
    """A LangGraph ``BaseStore`` kept in a graphmem memory.

    Parameters
    ----------
    path_or_memory
        A store directory (created if missing), ``None`` for an in-memory
        store, or an open :class:`graphmem.Memory` opened with
        ``embedder=None`` (this store embeds the indexed fields itself, so
        unindexed items get no vector). A memory given stays the caller's to close.
    index
        LangGraph's ``IndexConfig``: ``dims``, ``embed`` (a LangChain
        ``Embeddings``, a sync or async function of a list of texts, or a
        provider string) and ``fields`` (default ``["$"]``, the whole value).
        Without ``embed``, graphmem's default embedder (all-MiniLM-L6-v2, 384-d)
        is used. A store holds one vector size: ``dims`` different from the
        vectors already stored is refused (open another path for another space).
        Without ``index`` there is no semantic search (``query`` is ignored).
    ttl
        LangGraph's ``TTLConfig``: ``default_ttl`` (minutes),
        ``refresh_on_read`` (default ``True``) and ``sweep_interval_minutes``
        (starts a sweeper thread). Expired items are never returned (as with
        ``omit_expired=True``); :meth:`sweep_ttl` retires them with graphmem's
        ``expire_entity`` (kept as history until ``purge``).
    engine
        ``"kuzu"`` or ``"ladybug"`` when this store opens the memory.

    Notes
    -----
    Differences from LangGraph's ``InMemoryStore`` (tested in
    ``tests/test_langgraph_store.py``): an item indexed on several texts
    (several fields, or ``[*]`` paths) has one vector, the normalised mean of
    its texts' vectors, where ``InMemoryStore`` keeps one per text and scores
    by the best; scores come from graphmem's int8 vectors (within ~0.01 of
    the float cosine); an unranked search lists items by (namespace, key), not
    by insertion; ranked results are followed by the unindexed matches
    (score ``None``) with ``offset`` applied to the whole list;
    ``created_at`` is the first put's time; ``list_namespaces`` lists only
    namespaces that hold items; ``$gt``-style filters skip non-numeric
    values instead of raising; tuples in values come back as lists.

    Unranked and filtered searches keep each namespace's items as last read
    until this store writes to it: write items through the store, not
    through :attr:`memory`, or a search may miss the change.

    Batches: every op is checked before anything is written (a bad op
    raises and the batch writes nothing); reads see the store as it was
    before the batch's writes; the last put of an item wins; the puts of one
    namespace are one graphmem transaction, so a failure while writing (a
    full disk) can leave the namespaces written before it.

    Examples
    --------
    >>> from graphmem.integrations.langgraph import GraphMemStore
    >>> with GraphMemStore() as store:
    ...     store.put(("users", "42"), "prefs", {"theme": "dark"})
    ...     store.get(("users", "42"), "prefs").value, store.list_namespaces()
    ({'theme': 'dark'}, [('users', '42')])
    """

    supports_ttl = True

    def __init__(
        self,
        path_or_memory: Any = None,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        engine: str | None = None,
    ) -> None:
        if index is not None and not isinstance(index, Mapping):
            raise InvalidInput(f"index must be an IndexConfig dict, not {type(index).__name__}")
        if ttl is not None and not isinstance(ttl, Mapping):
            raise InvalidInput(f"ttl must be a TTLConfig dict, not {type(ttl).__name__}")
        if ttl is not None:
            _check_ttl_config(ttl)
        if isinstance(path_or_memory, Memory):
            if path_or_memory.embedder is not None:
                raise InvalidInput("give GraphMemStore a memory opened with embedder=None: the store embeds the "
                                   "indexed fields itself (give the embedder through index={'embed': ...})")
            memory, owner = path_or_memory, False
        else:
            memory, owner = open_memory(path_or_memory, engine=engine, embedder=None), True
        self._memory: Memory = memory
        self._owner = owner
        self._clock: Callable[[], float] = time.time
        self._hashed: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        # The namespaces holding items, kept as this store writes: listing them
        # from graphmem counts every entity (tens of ms). Puts add to it; deletes
        # and expiries drop it (a namespace may have emptied) until the next read.
        self._known: dict[str, tuple[str, ...]] | None = None
        self._known_generation = 0
        # Scanned namespaces: name -> ((epoch, generation), items by key); see _scan.
        self._scanned: OrderedDict[str, tuple[tuple[int, int], list[_Stored]]] = OrderedDict()
        self._scanned_items = 0
        self._generations: dict[str, int] = {}
        self._scan_epoch = 0
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()
        self.ttl_config: TTLConfig | None = cast(TTLConfig, dict(ttl)) if ttl is not None else None
        self.index_config = dict(index) if index is not None else None
        self.embeddings: Embeddings | None = None
        self._fields: list[tuple[str, Any]] = []
        try:
            if self.index_config is not None:
                self._configure_index(self.index_config)
        except BaseException:
            self.close()
            raise
        interval = (self.ttl_config or {}).get("sweep_interval_minutes")
        if interval:
            self.start_ttl_sweeper(interval)

    def _configure_index(self, config: dict[str, Any]) -> None:
        dims = check_positive_int(config.get("dims"), "IndexConfig.dims")
        embed = config.get("embed")
        if embed is None:
            from ..embed import DefaultEmbedder

            embedder = DefaultEmbedder()
            if dims != embedder.dim:
                raise InvalidInput(f"IndexConfig.dims is {dims} but graphmem's default embedder makes "
                                   f"{embedder.dim}-d vectors: give dims={embedder.dim} or your own embed")
            embed = lambda texts: embedder.encode(list(texts)).tolist()  # noqa: E731
        stored = self._memory.vector_dim
        if stored is not None and stored != dims:
            raise InvalidInput(f"this store holds {stored}-d vectors and IndexConfig.dims is {dims}: one store "
                               "holds one vector space; open another path for this one")
        self.embeddings = ensure_embeddings(embed)
        self._fields = [(p, p if p == "$" else tokenize_path(p)) for p in (config.get("fields") or ["$"])]

    # -- lifecycle -------------------------------------------------------------

    @property
    def memory(self) -> Memory:
        """The graphmem memory behind this store (for graph reads: paths, ``recall``, Cypher)."""
        return self._memory

    def close(self) -> None:
        """Stop the TTL sweeper and close the memory if this store opened it. Safe to call twice."""
        self.stop_ttl_sweeper()
        if self._owner:
            self._memory.close()

    def __enter__(self) -> GraphMemStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the batch -------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` (see the class notes for what a batch guarantees)."""
        plan = self._plan(ops)
        queries: dict[str, list[float]] = {}
        documents: list[list[float]] = []
        if self.embeddings is not None:
            if plan.queries:
                queries = {q: self.embeddings.embed_query(q) for q in plan.queries}
            texts = [t for ts in plan.texts.values() for t in ts]
            if texts:
                documents = self.embeddings.embed_documents(texts)
        return self._run(plan, queries, documents)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` for asyncio: the embedder's async form, the store work in a worker thread."""
        plan = self._plan(ops)
        queries: dict[str, list[float]] = {}
        documents: list[list[float]] = []
        if self.embeddings is not None:
            if plan.queries:
                vectors = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in plan.queries))
                queries = dict(zip(plan.queries, vectors))
            texts = [t for ts in plan.texts.values() for t in ts]
            if texts:
                documents = await self.embeddings.aembed_documents(texts)
        return await asyncio.to_thread(self._run, plan, queries, documents)

    def _plan(self, ops: Iterable[Op]) -> _Plan:
        ops = list(ops)
        for op in ops:
            _check_op(op)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op
        texts: dict[tuple[tuple[str, ...], str], list[str]] = {}
        if self.embeddings is not None:
            for where, op in puts.items():
                if op.value is None or op.index is False:
                    continue
                paths = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
                found = [t for _, tokens in paths for t in get_text_at_path(op.value, tokens)]
                if found:
                    texts[where] = found
        queries = [] if self.embeddings is None else list(dict.fromkeys(
            op.query for op in ops if isinstance(op, SearchOp) and op.query))  # fmt: skip
        return _Plan(ops, puts, texts, queries)

    def _run(self, plan: _Plan, queries: dict[str, Any], documents: Sequence[Any]) -> list[Result]:
        now = self._clock()
        refresh: dict[tuple[tuple[str, ...], str], _Stored] = {}
        results: list[Result] = []
        for op in plan.ops:
            if isinstance(op, GetOp):
                found = self._get(op.namespace, op.key, now)
                if found is not None and op.refresh_ttl:
                    refresh[(found.namespace, found.key)] = found
                results.append(None if found is None else found.item())
            elif isinstance(op, SearchOp):
                vector = queries.get(op.query) if op.query else None
                hits = self._search(op, vector, now)
                if op.refresh_ttl:
                    refresh.update(((s.namespace, s.key), s) for s, _ in hits)
                results.append([s.item(SearchItem, score=score) for s, score in hits])
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                results.append(None)
        vectors = self._vectors(plan.texts, documents)
        self._write(plan.puts, vectors, refresh, now)
        return results

    def _vectors(self, texts: dict[Any, list[str]], documents: Sequence[Any]) -> dict[Any, np.ndarray]:
        total = sum(len(ts) for ts in texts.values())
        if len(documents) != total:
            raise InvalidInput(f"the embedder returned {len(documents)} vectors for {total} texts")
        out = {}
        position = 0
        dims = (self.index_config or {}).get("dims")
        for where, ts in texts.items():
            block = np.asarray(documents[position:position + len(ts)], np.float64)
            position += len(ts)
            if block.ndim != 2 or block.shape[1] != dims:
                raise InvalidInput(f"the embedder made vectors of shape {block.shape[1:]}; IndexConfig.dims is {dims}")
            # One vector per item: the mean of its texts' unit vectors (see the class notes).
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            mean = (block / np.where(norms > 0, norms, 1.0)).mean(axis=0)
            size = float(np.linalg.norm(mean))
            if size > 0 and math.isfinite(size):
                out[where] = (mean / size).astype(np.float32)
        return out

    # -- reads -----------------------------------------------------------------

    def _decode(self, entity: Entity, now: float | None) -> _Stored | None:
        """The item entity ``entity`` holds; ``None`` if it is not an item or it has
        expired at ``now`` (``None``: expired ones too)."""
        meta = entity.properties.get("langgraph")
        if entity.type != ITEM_TYPE or not isinstance(meta, Mapping):
            return None
        expires = meta.get("expires_at")
        if now is not None and expires is not None and expires <= now:
            return None
        # The entity's own times, except after a TTL refresh, which is a write
        # to graphmem but not an update of the item: it pins the item's time.
        pinned = meta.get("updated_at")
        updated = _utc(pinned) if pinned is not None else entity.updated_at
        if entity.created_at is None or updated is None:  # every stored entity has both: a read of the store
            raise CorruptStore(f"item entity {entity.name!r} has no write time")
        return _Stored(tuple(meta["namespace"]), meta["key"], entity.name, entity.properties.get("value", {}),
                       entity.created_at, updated, bool(meta.get("indexed")), meta.get("ttl"), expires)  # fmt: skip

    def _get(self, namespace: tuple[str, ...], key: str, now: float) -> _Stored | None:
        view = self._memory.namespace(encode_namespace(namespace))
        entity = view.get_entity(encode_key(key))
        return None if entity is None else self._decode(entity, now)

    def _spaces(self) -> dict[str, tuple[str, ...]]:
        """graphmem namespace name -> LangGraph namespace, for every namespace holding items."""
        with self._lock:
            if self._known is not None:
                return dict(self._known)
            generation = self._known_generation
        out: dict[str, tuple[str, ...]] = {}
        for info in self._memory.namespaces():
            name = info.name
            if name.startswith(_PREFIX):
                decoded = decode_namespace(name)
                if decoded is not None:  # a namespace under the prefix that LangGraph did not make
                    out[name] = decoded
            elif name.startswith(_HASHED_NS):
                found: tuple[str, ...] | None = self._hashed.get(name)
                if found is None:
                    for entity in self._memory.namespace(name).iter_entities(batch_size=1):
                        meta = entity.properties.get("langgraph")
                        if isinstance(meta, Mapping):
                            found = self._hashed[name] = tuple(meta["namespace"])
                        break
                if found is not None:
                    out[name] = found
        with self._lock:
            if self._known_generation == generation:  # no write since the count began
                self._known = dict(out)
        return out

    def _wrote(self, space: str | None, added: dict[str, tuple[str, ...]], removed: bool) -> None:
        """After a write to ``space`` (``None``: to namespaces not known), keep the caches true."""
        with self._lock:
            self._known_generation += 1
            if removed:
                self._known = None
            elif self._known is not None:
                self._known.update(added)
            if space is None:
                self._scanned.clear()
                self._scanned_items = 0
                self._scan_epoch += 1
            else:
                self._generations[space] = self._generations.get(space, 0) + 1
                dropped = self._scanned.pop(space, None)
                self._scanned_items -= 0 if dropped is None else len(dropped[1])

    def _scan(self, space: str, filter: Any, now: float) -> list[_Stored]:
        """The live items of ``space`` that match ``filter``, in key order.

        A namespace's items are read from graphmem once and kept until this
        store writes to it (unranked searches would otherwise export the
        namespace on every call); at most ``_SCAN_CACHE_ITEMS`` items are kept,
        the least recently scanned namespaces dropped first."""
        with self._lock:
            stamp = (self._scan_epoch, self._generations.get(space, 0))
            cached = self._scanned.get(space)
            if cached is not None and cached[0] == stamp:
                self._scanned.move_to_end(space)
                items = cached[1]
            else:
                items = None
        if items is None:
            decoded = (self._decode(entity, None) for entity in self._memory.namespace(space).iter_entities())
            items = sorted((s for s in decoded if s is not None), key=lambda s: s.key)
            with self._lock:
                if (self._scan_epoch, self._generations.get(space, 0)) == stamp:  # no write since the read began
                    stale = self._scanned.pop(space, None)
                    self._scanned_items += len(items) - (0 if stale is None else len(stale[1]))
                    self._scanned[space] = (stamp, items)
                    while self._scanned_items > _SCAN_CACHE_ITEMS and len(self._scanned) > 1:
                        _, (_, dropped) = self._scanned.popitem(last=False)
                        self._scanned_items -= len(dropped)
        return [s for s in items if s.live(now) and _matches(filter, s.value)]

    def _search(self, op: SearchOp, vector: Any, now: float) -> list[tuple[_Stored, float | None]]:
        prefix = op.namespace_prefix
        spaces = [name for name, ns in self._spaces().items() if ns[:len(prefix)] == prefix]
        want = op.offset + op.limit
        if want == 0:
            return []
        if vector is None:
            items = sorted((s for space in spaces for s in self._scan(space, op.filter, now)),
                           key=lambda s: (s.namespace, s.key))  # fmt: skip
            return [(s, None) for s in items[op.offset:want]]
        ranked: list[tuple[_Stored, float]] = []
        for space in spaces:
            ranked.extend((s, score) for s, score, _ in self._ranked(space, np.asarray(vector, np.float32),
                                                                     op.filter, want, now))
        ranked.sort(key=lambda pair: (-pair[1], pair[0].namespace, pair[0].key))
        out: list[tuple[_Stored, float | None]] = list(ranked[:want])
        if len(out) < want:  # the ranked ones ran out: the unindexed matches follow, unscored
            rest = sorted((s for space in spaces for s in self._scan(space, op.filter, now) if not s.indexed),
                          key=lambda s: (s.namespace, s.key))  # fmt: skip
            out.extend((s, None) for s in rest[:want - len(out)])
        return out[op.offset:]

    def _ranked(self, space: str, vector: np.ndarray, filter: Any, want: int, now: float,
                **near: Any) -> list[tuple[_Stored, float, Any]]:  # fmt: skip
        """The ``want`` best indexed items of ``space`` that match ``filter``, fetching
        more from graphmem's vector index until they are found or it runs out."""
        view = self._memory.namespace(space)
        fetch = want
        while True:
            hits = view.search(vector, k=fetch, types=[ITEM_TYPE], **near)
            found = []
            for hit in hits:
                entity = view.get_entity(hit.name)
                stored = None if entity is None else self._decode(entity, now)
                if stored is not None and stored.indexed and _matches(filter, stored.value):
                    found.append((stored, float(hit.score), hit))
            if len(found) >= want or len(hits) < fetch:
                return found[:want]
            fetch *= 2

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = [ns for ns in self._spaces().values()
                      if all(_condition_matches(c, ns) for c in op.match_conditions or ())]  # fmt: skip
        if op.max_depth is not None:
            namespaces = list({ns[:op.max_depth] for ns in namespaces})
        return sorted(namespaces)[op.offset:op.offset + op.limit]

    # -- writes ----------------------------------------------------------------

    def _write(self, puts: dict[Any, PutOp], vectors: dict[Any, np.ndarray], refresh: dict[Any, _Stored],
               now: float) -> None:  # fmt: skip
        """The batch's writes, one namespace at a time: its upserts in one transaction, then its deletes."""
        if self._memory.read_only:
            if puts:
                raise ReadOnlyStore(f"this store is open read-only ({self._memory.path}): puts and deletes are refused")
            return  # reads of a read-only store do not refresh TTLs
        by_space: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
        spaces = {}
        for (namespace, key), op in puts.items():
            spaces[encode_namespace(namespace)] = namespace
            records, deletes = by_space.setdefault(encode_namespace(namespace), ([], []))
            if op.value is None:
                deletes.append(encode_key(key))
                continue
            vector = vectors.get((namespace, key))
            ttl = op.ttl
            meta = {"namespace": list(namespace), "key": key, "indexed": vector is not None,
                    "ttl": ttl, "expires_at": None if ttl is None else now + 60.0 * ttl}  # fmt: skip
            record = {"name": encode_key(key), "type": ITEM_TYPE,
                      "properties": {"value": dict(op.value), "langgraph": meta},
                      "text": "\n".join(self._texts_of(op)) if vector is not None else ""}  # fmt: skip
            if vector is not None:
                record["embedding"] = vector
            records.append(record)
        for (namespace, key), stored in refresh.items():
            if stored.ttl is None or (namespace, key) in puts or not self._refresh_wanted():
                continue
            spaces[encode_namespace(namespace)] = namespace
            records, _ = by_space.setdefault(encode_namespace(namespace), ([], []))
            meta = {"namespace": list(namespace), "key": key, "updated_at": stored.updated_at.timestamp(),
                    "indexed": stored.indexed, "ttl": stored.ttl, "expires_at": now + 60.0 * stored.ttl}  # fmt: skip
            records.append({"name": stored.name, "properties": {"langgraph": meta}})
        for space, (records, deletes) in by_space.items():
            view = self._memory.namespace(space)
            try:
                if records:
                    view.add_entities(records)
                for name in deletes:
                    view.delete_entity(name)
            except BaseException:
                self._wrote(space, {}, True)  # what was written is not known: list afresh
                raise
            self._wrote(space, {space: spaces[space]} if records else {}, bool(deletes))

    def _refresh_wanted(self) -> bool:
        return (self.ttl_config or {}).get("refresh_on_read", True)

    def _texts_of(self, op: PutOp) -> list[str]:
        paths = self._fields if op.index is None else [(p, tokenize_path(p)) for p in op.index or ()]
        return [t for _, tokens in paths for t in get_text_at_path(op.value, tokens)]

    # -- TTL -------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Retire every expired item now (graphmem's ``expire_entity``: kept as
        history until ``Memory.purge``); returns how many."""
        now = self._clock()
        count = 0
        for space in self._spaces():
            view = self._memory.namespace(space)
            for entity in view.iter_entities():
                meta = entity.properties.get("langgraph")
                if entity.type == ITEM_TYPE and isinstance(meta, Mapping) and meta.get("expires_at") is not None \
                        and meta["expires_at"] <= now and view.expire_entity(entity.name):
                    count += 1
        if count:
            self._wrote(None, {}, True)
        return count

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep expired items every ``sweep_interval_minutes`` (default: the
        ``TTLConfig``'s, else 5) in a daemon thread, until :meth:`stop_ttl_sweeper`."""
        check_number_range(sweep_interval_minutes, "sweep_interval_minutes", 0, allow_none=True,
                           expected="a number of minutes >= 0 or None")  # fmt: skip
        interval = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        with self._lock:
            if self._sweeper is not None and self._sweeper.is_alive():
                return
            self._stop.clear()

            def loop() -> None:
                while not self._stop.wait(60.0 * interval):
                    if self._memory.closed:
                        return
                    self.sweep_ttl()

            self._sweeper = threading.Thread(target=loop, name="graphmem-langgraph-ttl", daemon=True)
            self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it has stopped."""
        with self._lock:
            thread, self._sweeper = self._sweeper, None
        if thread is None:
            return True
        self._stop.set()
        thread.join(timeout)
        return not thread.is_alive()

    # -- the graph extension ---------------------------------------------------

    def link(self, namespace: tuple[str, ...], key: str, relation: str, target: str, *,
             properties: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """Relate item ``key`` to item ``target`` of the same namespace by ``relation``
        (an identifier such as ``"MENTIONS"``). Both must exist (:class:`NotFound`)."""
        view = self._memory.namespace(encode_namespace(_check_labels(namespace, "namespace", empty_ok=False)))
        view.add_relation(encode_key(key), relation, encode_key(target), properties=properties)

    def unlink(self, namespace: tuple[str, ...], key: str, relation: str, target: str) -> bool:
        """Remove a relation made by :meth:`link`; whether there was one."""
        view = self._memory.namespace(encode_namespace(_check_labels(namespace, "namespace", empty_ok=False)))
        return view.delete_relation(encode_key(key), relation, encode_key(target))

    def links(self, namespace: tuple[str, ...], key: str) -> list[tuple[str, str, str]]:
        """The links of item ``key``: ``(relation, other key, "out" | "in")`` triples."""
        view = self._memory.namespace(encode_namespace(_check_labels(namespace, "namespace", empty_ok=False)))
        return sorted((n.type, self._key_of(view, n.name), n.direction) for n in view.neighbors(encode_key(key)))

    def _key_of(self, view: Memory, name: str) -> str:
        key = decode_key(name)
        if key is None:
            entity = view.get_entity(name)
            key = entity.properties["langgraph"]["key"] if entity is not None else name
        return key

    def search(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
               filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
               refresh_ttl: bool | None = None, near: str | Sequence[str] | None = None,
               max_hops: int | None = None) -> list[SearchItem]:  # fmt: skip
        """LangGraph's ``search``, plus graphmem's composed search.

        With ``near`` (an item key, or several, of the namespace
        ``namespace_prefix``), the results are limited to items within
        ``max_hops`` links of them (``None``: any distance) and ranked by
        similarity to ``query`` (required), as :class:`GraphSearchItem` with
        ``hops`` and ``path``: "memories like this, within two hops of that".
        """
        if near is None:
            if max_hops is not None:
                raise InvalidInput("max_hops limits the distance from `near`: give near= too")
            return super().search(namespace_prefix, query=query, filter=filter, limit=limit, offset=offset,
                                  refresh_ttl=refresh_ttl)  # fmt: skip
        return self._near(namespace_prefix, query, filter, limit, offset, near, max_hops, self._embed_query(query))

    async def asearch(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
                      filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
                      refresh_ttl: bool | None = None, near: str | Sequence[str] | None = None,
                      max_hops: int | None = None) -> list[SearchItem]:  # fmt: skip
        """:meth:`search` for asyncio, ``near=`` included."""
        if near is None:
            if max_hops is not None:
                raise InvalidInput("max_hops limits the distance from `near`: give near= too")
            return await super().asearch(namespace_prefix, query=query, filter=filter, limit=limit, offset=offset,
                                         refresh_ttl=refresh_ttl)  # fmt: skip
        if self.embeddings is None or not isinstance(query, str) or not query:
            vector = self._embed_query(query)
        else:
            vector = await self.embeddings.aembed_query(query)
        return await asyncio.to_thread(self._near, namespace_prefix, query, filter, limit, offset, near, max_hops,
                                       vector)  # fmt: skip

    def _embed_query(self, query: Any) -> Any:
        if self.embeddings is None:
            raise InvalidInput("near= ranks by similarity: open the store with index= to search by query")
        if not isinstance(query, str) or not query:
            raise InvalidInput("a near= search needs a query text")
        return self.embeddings.embed_query(query)

    def _near(self, namespace: tuple[str, ...], query: Any, filter: Any, limit: int, offset: int, near: Any,
              max_hops: int | None, vector: Any) -> list[SearchItem]:  # fmt: skip
        _check_labels(namespace, "namespace", empty_ok=False)
        _check_filter(filter)
        check_count(limit, "limit")
        check_count(offset, "offset")
        keys = [near] if isinstance(near, str) else list(near)
        if not keys or not all(isinstance(k, str) for k in keys):
            raise InvalidInput("near must be an item key or a list of keys")
        if offset + limit == 0:
            return []
        space = encode_namespace(namespace)
        view = self._memory.namespace(space)
        now = self._clock()
        for key in keys:
            if self._get(namespace, key, now) is None:
                raise NotFound(f"no item {key!r} in namespace {namespace} (given in near=)")
        found = self._ranked(space, np.asarray(vector, np.float32), filter, offset + limit, now,
                             near=[encode_key(k) for k in keys], max_hops=max_hops)  # fmt: skip
        out = []
        for stored, score, hit in found[offset:]:
            path = None if hit.path is None else tuple(self._key_of(view, n) for n in hit.path.nodes)
            out.append(stored.item(GraphSearchItem, score=score, hops=hit.hops, path=path))
        return out
