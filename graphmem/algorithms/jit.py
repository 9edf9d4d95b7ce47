"""numba kernels whose compiler is imported at the first kernel call, not at import.

Importing numba costs 0.6-1.1 s of CPU (its typing and lowering registries),
more than the rest of ``import graphmem`` together, and most processes that
import graphmem never run a kernel before their first answer (an MCP server
answering ``search_nodes``, a command printing an entity). So the kernel
modules decorate with :func:`njit` and :func:`intrinsic` from here: until a
kernel is first called, each name holds a :class:`Kernel` recording the
Python function and numba's options; the first call (from any thread)
imports numba, makes every recorded kernel a numba dispatcher with those
options, and puts each dispatcher in place of its placeholder in every
``graphmem`` module's namespace. numba resolves a kernel's callees from its
module's globals when it compiles (after that swap), and later Python calls
through those modules reach the dispatcher directly, so a kernel costs what
it did when decorated eagerly. A placeholder held elsewhere (a name imported
into a test) still works: it forwards to its dispatcher.

Once numba is loaded, :func:`njit` and :func:`intrinsic` return numba's own
objects (a module imported later gets dispatchers at once). The on-disk
cache is unchanged: numba keys it by the Python function's file and
qualified name, which the delayed decoration keeps.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Kernel", "njit", "intrinsic", "load", "loaded"]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_pending: list[Kernel] = []
_loaded = False


class Kernel:
    """A kernel not compiled yet: its Python function, numba's options, and
    (once :func:`load` ran) its dispatcher, to which a call forwards."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any], *, is_intrinsic: bool) -> None:
        self.py_func = py_func
        self.options = options
        self.is_intrinsic = is_intrinsic
        self.dispatcher: Any = None
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__module__ = py_func.__module__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.dispatcher is None:
            load()
        return self.dispatcher(*args, **kwargs)

    def __repr__(self) -> str:
        state = "loaded" if self.dispatcher is not None else "not loaded yet"
        return f"<graphmem kernel {self.__module__}.{self.__qualname__} ({state})>"


def loaded() -> bool:
    """Whether numba has been imported and the kernels made dispatchers."""
    return _loaded


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)``, applied at the first kernel call (see the module's notes).

    Examples
    --------
    >>> import numpy as np
    >>> from graphmem.algorithms.jit import njit
    >>> @njit(cache=False, nogil=True)
    ... def total(values):
    ...     s = 0
    ...     for v in values:
    ...         s += v
    ...     return s
    >>> int(total(np.arange(5)))
    10
    """

    def decorate(func: F) -> F:
        return _record(func, options, is_intrinsic=False)

    return decorate


def intrinsic(func: F) -> F:
    """``numba.extending.intrinsic(func)``, applied at the first kernel call (see the module's notes)."""
    return _record(func, {}, is_intrinsic=True)


def _record(func: F, options: dict[str, Any], *, is_intrinsic: bool) -> F:
    with _lock:
        if not _loaded:
            kernel = Kernel(func, options, is_intrinsic=is_intrinsic)
            _pending.append(kernel)
            return kernel  # type: ignore[return-value]  # called like the function it stands for
    return _compile(func, options, is_intrinsic=is_intrinsic)  # type: ignore[no-any-return]


def _compile(func: Callable[..., Any], options: dict[str, Any], *, is_intrinsic: bool) -> Any:
    if is_intrinsic:
        from numba.extending import intrinsic as numba_intrinsic

        return numba_intrinsic(func)
    import numba

    return numba.njit(**options)(func)


def load() -> None:
    """Import numba and make every kernel recorded so far a dispatcher (once per process).

    Intrinsics and kernels are made in the order they were defined, and
    every placeholder in a ``graphmem`` module's namespace is replaced by its
    dispatcher before any kernel compiles (numba compiles at a kernel's first
    call with new argument types, after this returns).
    """
    global _loaded
    with _lock:
        if _loaded:
            return
        made = {id(k): _compile(k.py_func, k.options, is_intrinsic=k.is_intrinsic) for k in _pending}
        for name, module in list(sys.modules.items()):
            if module is None or not (name == "graphmem" or name.startswith("graphmem.")):
                continue
            namespace = vars(module)
            for attr, value in list(namespace.items()):
                if type(value) is Kernel and id(value) in made:
                    namespace[attr] = made[id(value)]
        # Only now may a placeholder forward without taking the lock: a kernel
        # compiling from another thread must find its callees swapped already.
        for kernel in _pending:
            kernel.dispatcher = made[id(kernel)]
        _pending.clear()
        _loaded = True
