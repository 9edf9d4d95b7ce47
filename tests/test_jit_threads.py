"""The kernels' first load (graphmem.algorithms.jit.load) beside kernel calls in other threads.

An MCP server loads numba in a thread of its own once its first call is
answered (graphmem.mcp.server._after_first_answer), while other threads
answer calls. A thread running kernels as Python (jit.interpreted) never
needs numba, so it must not wait for numba's import in another thread; a
thread calling a compiled kernel needs numba, and gets it once that import
ends. Each check runs in a fresh process (numba not yet imported), with
numba's import held open by an import hook until the check has run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_HOLD_NUMBA = """
import importlib.abc, sys, threading
import numpy as np
importing, go_on = threading.Event(), threading.Event()

class HoldNumba(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "numba":
            importing.set()
            go_on.wait()
        return None

sys.meta_path.insert(0, HoldNumba())
from graphmem.algorithms import csr, jit
assert not jit.loaded() and "numba" not in sys.modules
loader = threading.Thread(target=jit.load)
loader.start()
importing.wait()  # the loader is inside numba's import, and stays there until go_on
"""


def _fresh(script: str) -> str:
    """The output of ``script`` run by a fresh interpreter (it must succeed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _run(check: str) -> str:
    """The output of ``check`` run while another thread is held inside numba's import."""
    return _fresh(_HOLD_NUMBA + textwrap.dedent(check)).strip()


def test_an_interpreted_kernel_does_not_wait_for_numbas_import_in_another_thread() -> None:
    out = _run("""
        got = []

        def call():
            with jit.interpreted():
                adj = csr.from_edges([0, 1], [1, 2], [0, 0])
                got.append(csr._incident(adj, np.array([1], np.int64)).tolist())

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(60)  # a guard against the wait only: an interpreted call never waits for numba
        print("answered while numba was importing" if got else "waited for numba's import")
        go_on.set()
        loader.join()
        print(got, jit.loaded())
    """)
    assert out.splitlines() == ["answered while numba was importing", "[[[1, 0, 2], [0, 0, 1]]] True"]


def test_a_compiled_kernel_called_meanwhile_runs_once_numba_is_loaded() -> None:
    """No deadlock: a thread calling a kernel while another imports numba waits for that import, then runs."""
    out = _run("""
        got = []

        def call():
            adj = csr.from_edges([0, 1], [1, 2], [0, 0])
            got.append(csr._incident(adj, np.array([1], np.int64)).tolist())

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(0.5)  # (not a timing check: only gives it a chance to run before numba is there)
        before = list(got)
        go_on.set()
        loader.join()
        caller.join(240)  # a guard against a deadlock only
        print(before, got, jit.loaded())
    """)
    assert out == "[] [[[1, 0, 2], [0, 0, 1]]] True"


def test_python_forms_made_while_another_thread_swaps_in_the_dispatchers_stay_python() -> None:
    """python_form reads the kernels recorded and then copies the module's namespace;
    load(), its numba import now outside the lock, can swap the dispatchers in
    between. A copy holding a dispatcher a snapshot does not know stays compiled
    in the cached Python form, and an intrinsic's numba object cannot be called
    from Python at all. The interleaving is forced: load() runs in the gap."""
    script = _in_the_gap("_module_forms") + textwrap.dedent("""
        from graphmem.algorithms import paths

        jit._lock = InTheGap()  # load() runs between the snapshot and the copy
        form = jit.python_form(paths._prefetch_ahead)
        jit._lock = real
        print(jit.loaded(), form.__globals__["_prefetch"] is paths._no_prefetch)
    """)
    assert _fresh(script).split() == ["True", "True"]


def _in_the_gap(function: str) -> str:
    """Script text defining ``InTheGap``: a stand-in for jit's lock that runs
    ``jit.load()`` (as another thread would) right after ``function`` first
    releases it, and ``real``, the lock itself."""
    return textwrap.dedent(f"""
        import sys
        from graphmem.algorithms import jit

        real = jit._lock

        class InTheGap:
            armed = True

            def __enter__(self):
                return real.__enter__()

            def __exit__(self, *exc):
                real.__exit__(*exc)
                if InTheGap.armed and sys._getframe(1).f_code.co_name == {function!r}:
                    InTheGap.armed = False
                    jit.load()
                return False
    """)


_LATE_BINDING = _in_the_gap("_record") + """
import types

jit._lock = InTheGap()  # load() runs after _record returned, before the name is bound
module = types.ModuleType("graphmem._late_binding_check")
sys.modules[module.__name__] = module  # imported (lazily, as graphmem's kernel modules are) while load() runs
exec(compile(SOURCE, "<late binding>", "exec"), module.__dict__)
jit._lock = real
print(type(module.inner).__name__, module.outer(3))
"""


def test_a_kernel_bound_after_the_swap_is_still_callable_from_compiled_code() -> None:
    """graphmem's kernel modules are imported lazily (``import graphmem`` loads
    none), so one can be mid-import while another thread's load() swaps the
    dispatchers in: a name bound after the swap passed it keeps its
    placeholder, and a kernel calling it failed to compile (numba could not
    type the placeholder). The interleaving is forced, for a kernel and for an
    intrinsic."""
    kernel = """
        @njit(cache=False)
        def inner(x):
            return x + 1
    """
    intrinsic = """
        @intrinsic(python=lambda x: x)
        def inner(typingctx, x):
            def codegen(context, builder, signature, args):
                return args[0]
            return x(x), codegen
    """
    caller = """
        @njit(cache=False)
        def outer(x):
            return inner(x) * 2
    """
    for inner, expected in ((kernel, "Kernel 8"), (intrinsic, "Kernel 6")):
        source = "".join(("from graphmem.algorithms.jit import intrinsic, njit\n", textwrap.dedent(inner),
                          textwrap.dedent(caller)))
        assert _fresh(f"SOURCE = {source!r}\n" + _LATE_BINDING).strip() == expected
