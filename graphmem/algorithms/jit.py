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

A kernel also runs as plain Python (:func:`python_form`): its own function,
calling the Python forms of the kernels it calls (an intrinsic supplies its
Python equivalent). A command answering one question on a small graph runs
its kernels that way inside :func:`interpreted`, never importing numba: on a
store of a few hundred entities the search takes milliseconds interpreted,
where starting numba takes 0.5-0.7 s. Tests compare the two forms.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["Kernel", "njit", "intrinsic", "load", "loaded", "interpreted", "python_form"]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_pending: list[Kernel] = []
_loaded = False
# Every kernel recorded, by the id of what a module's namespace holds for it
# (the placeholder, then numba's object): how python_form finds callees.
_recorded: dict[int, Kernel] = {}
# Per kernel module: the Python forms of its kernels, by the id of their record.
_python_forms: dict[str, dict[int, Callable[..., Any]]] = {}
_thread = threading.local()


class Kernel:
    """A kernel not compiled yet: its Python function, numba's options, and
    (once :func:`load` ran) its dispatcher, to which a call forwards."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any], *, is_intrinsic: bool,
                 python: Callable[..., Any] | None = None) -> None:  # fmt: skip
        self.py_func = py_func
        self.options = options
        self.is_intrinsic = is_intrinsic
        self.python = python  # an intrinsic's equivalent in Python
        self.dispatcher: Any = None
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__module__ = py_func.__module__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.dispatcher is None:
            if getattr(_thread, "interpreting", False):
                return python_form(self)(*args, **kwargs)
            load()
        return self.dispatcher(*args, **kwargs)

    @property
    def _numba_type_(self) -> Any:
        """numba's type of this placeholder where a kernel names it: its dispatcher's.

        A module imported while :func:`load` runs in another thread can bind a
        kernel's name after the swap passed it (between :func:`_record`'s return
        and the assignment); a kernel calling that name then found a
        placeholder numba could not type, and failed to compile.
        """
        if self.dispatcher is None:
            raise AttributeError("_numba_type_")  # not loaded: numba never sees one then
        from numba.core.registry import cpu_target

        return cpu_target.typing_context.resolve_value_type(self.dispatcher)

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


def intrinsic(*, python: Callable[..., Any]) -> Callable[[F], F]:
    """``numba.extending.intrinsic``, applied at the first kernel call (see the
    module's notes); ``python`` does in Python what the intrinsic's code does
    (what :func:`python_form` runs in its place)."""

    def decorate(func: F) -> F:
        return _record(func, {}, is_intrinsic=True, python=python)

    return decorate


def _record(func: F, options: dict[str, Any], *, is_intrinsic: bool, python: Callable[..., Any] | None = None) -> F:
    kernel = Kernel(func, options, is_intrinsic=is_intrinsic, python=python)
    with _lock:
        if not _loaded:
            _pending.append(kernel)
            _recorded[id(kernel)] = kernel
            return kernel  # type: ignore[return-value]  # called like the function it stands for
    kernel.dispatcher = _compile(func, options, is_intrinsic=is_intrinsic)
    with _lock:
        _recorded[id(kernel.dispatcher)] = kernel
    return kernel.dispatcher  # type: ignore[no-any-return]


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
    if _loaded:
        return
    # numba's import (0.3-1 s of CPU) before the lock, not under it: meanwhile a
    # thread running kernels as Python (interpreted) takes the lock to find their
    # Python forms, and must not wait for a compiler it never uses. A thread
    # needing numba waits for this import in Python's own import lock instead.
    import numba  # noqa: F401
    import numba.extending  # noqa: F401

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
            _recorded[id(kernel.dispatcher)] = kernel
        _pending.clear()
        _loaded = True


@contextmanager
def interpreted() -> Iterator[None]:
    """Within this block, in this thread, a kernel called before numba is
    loaded runs as Python (:func:`python_form`) instead of loading numba.

    For a process that answers one small question and ends (the command
    line): interpreted, a kernel runs ~100x slower than compiled, so a
    caller chooses this only where the work is small. Once numba is loaded
    (by another thread, or before), kernels run compiled as usual.

    Examples
    --------
    >>> import numpy as np
    >>> from graphmem.algorithms.jit import interpreted, njit
    >>> @njit(cache=False)
    ... def total(values):
    ...     s = 0
    ...     for v in values:
    ...         s += v
    ...     return s
    >>> with interpreted():
    ...     int(total(np.arange(5)))
    10
    """
    before = getattr(_thread, "interpreting", False)
    _thread.interpreting = True
    try:
        yield
    finally:
        _thread.interpreting = before


def python_form(kernel: Any) -> Callable[..., Any]:
    """A kernel (its placeholder or numba's object) as a plain Python function.

    Its own function, run against a copy of its module's namespace in which
    every kernel is in Python form too, so nothing it calls is compiled. An
    intrinsic's form is the equivalent given to :func:`intrinsic`. Whether
    or not numba is loaded, this never loads it.

    Examples
    --------
    >>> import numpy as np
    >>> from graphmem.algorithms import csr, jit
    >>> a = csr.from_edges([0, 1], [1, 2], [0, 0])
    >>> jit.python_form(csr._incident)(a, np.array([1], np.int64)).tolist()
    [[1, 0, 2], [0, 0, 1]]
    """
    with _lock:
        record = _recorded.get(id(kernel))
    if record is None:
        raise TypeError(f"{kernel!r} is not a graphmem kernel")
    return _module_forms(record.__module__)[id(record)]


# Held while a module's copy is made, so no thread sees one half made; a
# thread's own recursion (a callee in another module) re-enters it.
_forms_lock = threading.RLock()


def _module_forms(module_name: str) -> dict[int, Callable[..., Any]]:
    """The Python forms of a kernel module's kernels, by the id of their
    record: functions reading a copy of the module's namespace in which every
    kernel is in Python form (made once per module; a kernel imported from
    another module gets its form from that module)."""
    with _forms_lock:
        known = _python_forms.get(module_name)
        if known is not None:
            return known
        # Both under the lock load() swaps under: copied after a swap that the
        # snapshot predates, the namespace would hold dispatchers it does not
        # know, left compiled in the Python forms (an intrinsic's uncallable).
        with _lock:
            recorded = dict(_recorded)
            namespace = dict(vars(sys.modules[module_name]))
        forms: dict[int, Callable[..., Any]] = {}
        for kernel in {id(k): k for k in recorded.values() if k.__module__ == module_name}.values():
            forms[id(kernel)] = _python_function(kernel, namespace)
        _python_forms[module_name] = forms  # before the callees: modules may name each other's kernels
        for attr, value in list(namespace.items()):
            callee = recorded.get(id(value))
            if callee is not None:
                own = callee.__module__ == module_name
                namespace[attr] = forms[id(callee)] if own else python_form(callee)
        return forms


def _python_function(kernel: Kernel, namespace: dict[str, Any]) -> Callable[..., Any]:
    if kernel.is_intrinsic:
        if kernel.python is None:
            raise TypeError(f"{kernel!r} is an intrinsic without a Python equivalent")
        return kernel.python
    func = kernel.py_func
    return types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)
