"""Timing primitives: repeated calls, warm-up, percentiles, rates.

Every figure comes from ``time.perf_counter_ns`` around one call of the code
under test; set-up that a caller would not repeat (building the arguments)
stays outside the timed region.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

__all__ = ["Stats", "summarize", "measure", "timed", "timed_cpu", "steady_gc"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of the timed calls of one benchmark.

    ``ops_per_s`` counts operations (entities, relations, lookups...) per
    second of time spent inside the timed calls, so for a throughput
    benchmark it is the rate and for a latency benchmark it is ``1 / mean``
    times the operations per call.
    """

    samples: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    ops: int
    ops_per_s: float
    cpu_mean_ms: float | None = None
    """Process CPU time (all threads, engine workers included) per timed call.
    Close to ``mean_ms`` on an idle machine; when other processes compete for
    the cores, wall-clock figures grow and this one mostly does not."""
    p99_ms: float | None = None
    """99th percentile; ``None`` in records written before it was kept. With
    fewer than 100 samples it is interpolated from the slowest few calls."""
    warmup: int | None = None
    """Untimed calls made before the timed ones (``None``: not recorded)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(ns: Sequence[int], ops: Sequence[int] | int = 1, *, cpu_ns: int | None = None) -> Stats:
    """Stats of call durations ``ns`` (nanoseconds); ``ops`` is per call, or one count for every call.

    Examples
    --------
    >>> s = summarize([1_000_000, 2_000_000, 3_000_000], ops=10)
    >>> s.p50_ms, s.ops, round(s.ops_per_s)
    (2.0, 30, 5000)
    """
    if not ns:
        raise ValueError("no samples to summarize")
    arr = np.asarray(ns, dtype=np.float64) / 1e6
    counts = [ops] * len(ns) if isinstance(ops, int) else list(ops)
    if len(counts) != len(ns):
        raise ValueError(f"{len(ns)} samples but {len(counts)} operation counts")
    total_ops = int(sum(counts))
    total_s = float(arr.sum()) / 1e3
    return Stats(
        samples=len(ns),
        p50_ms=float(np.percentile(arr, 50)),
        p95_ms=float(np.percentile(arr, 95)),
        mean_ms=float(arr.mean()),
        min_ms=float(arr.min()),
        max_ms=float(arr.max()),
        ops=total_ops,
        ops_per_s=total_ops / total_s if total_s > 0 else float("inf"),
        cpu_mean_ms=None if cpu_ns is None else cpu_ns / 1e6 / len(ns),
        p99_ms=float(np.percentile(arr, 99)),
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``(fn(), elapsed nanoseconds)``."""
    start = time.perf_counter_ns()
    result = fn()
    return result, time.perf_counter_ns() - start


def timed_cpu(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """``(fn(), elapsed nanoseconds, process CPU nanoseconds)``."""
    cpu = time.process_time_ns()
    start = time.perf_counter_ns()
    result = fn()
    return result, time.perf_counter_ns() - start, time.process_time_ns() - cpu


def measure(fn: Callable[[int], Any], *, repeat: int, warmup: int = 1, ops_per_call: int = 1) -> Stats:
    """Call ``fn(i)`` for ``i`` in ``range(warmup + repeat)``, timing the last ``repeat`` calls.

    The index lets a benchmark use a fresh key on every call, warm-up
    included (cold lookups, new entities), without timing how it picks one.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    for i in range(warmup):
        fn(i)
    ns: list[int] = []
    clock = time.perf_counter_ns
    with steady_gc():
        cpu_start = time.process_time_ns()
        for i in range(warmup, warmup + repeat):
            start = clock()
            fn(i)
            ns.append(clock() - start)
        cpu = time.process_time_ns() - cpu_start
    return replace(summarize(ns, ops_per_call, cpu_ns=cpu), warmup=warmup)


@contextmanager
def steady_gc() -> Iterator[None]:
    """Collect, then freeze what exists, for the duration of a timed loop.

    The benchmark's own data set (millions of records) would otherwise be
    rescanned by every full collection the code under test triggers, adding
    pauses that belong to the harness. The collector stays on, so garbage the
    code under test makes is still paid for.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
