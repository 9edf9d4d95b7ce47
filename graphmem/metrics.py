"""Monitoring: operation latencies, and ``mem.stats()`` as Prometheus metrics.

Latencies
---------
Each public call of :class:`~graphmem.Memory` listed in :data:`TIMED` records
its wall time in a rolling window of the last :data:`WINDOW` calls per
operation (about 1 µs per call); ``mem.stats()["latency_ms"]`` reports p50 and
p95 over the window and the total count.

Prometheus
----------
With the ``metrics`` extra (``prometheus-client``), :func:`collector` exposes
a memory through any registry and :func:`serve` starts an HTTP endpoint on
127.0.0.1. Every sample is read from ``mem.stats()`` when scraped:

================================================  =========  ==================================
name                                              type       labels
================================================  =========  ==================================
``graphmem_entities``                             gauge      ``namespace``
``graphmem_relations``                            gauge      ``namespace``
``graphmem_bytes``                                gauge      ``part`` (disk_store, disk_vectors,
                                                             resident_vectors, resident_snapshot,
                                                             resident_bitmaps)
``graphmem_cache_hits_total``                     counter    ``cache`` (entities, paths)
``graphmem_cache_misses_total``                   counter    ``cache``
``graphmem_operations_total``                     counter    ``operation``
``graphmem_operation_latency_seconds``            gauge      ``operation``, ``quantile`` (0.5, 0.95)
``graphmem_tier_entities``                        gauge      ``tier`` (hot, warm, cold)
================================================  =========  ==================================
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

__all__ = ["Latencies", "timed", "TIMED", "WINDOW", "collector", "serve"]

WINDOW = 1024
TIMED = (
    "get_entity", "add_entity", "add_entities", "add_relation", "add_relations", "neighbors", "shortest_path",
    "k_hop", "search", "recall", "cypher", "forget",
)  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


class Latencies:
    """Rolling windows of call durations (ns), one per operation."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._samples: dict[str, deque[int]] = {}
        self._counts: dict[str, int] = {}

    def add(self, operation: str, ns: int) -> None:
        with self._lock:
            samples = self._samples.get(operation)
            if samples is None:
                samples = self._samples[operation] = deque(maxlen=self._window)
            samples.append(ns)
            self._counts[operation] = self._counts.get(operation, 0) + 1

    def summary(self) -> dict[str, dict[str, float]]:
        """Per operation: p50 and p95 in ms over the window, and the total count.

        Examples
        --------
        >>> lat = Latencies()
        >>> for ms in (1, 2, 3, 4): lat.add("get_entity", ms * 1_000_000)
        >>> lat.summary()["get_entity"]
        {'p50_ms': 2.5, 'p95_ms': 3.85, 'count': 4}
        """
        with self._lock:
            items = [(op, np.fromiter(s, np.int64, len(s)), self._counts[op]) for op, s in self._samples.items()]
        return {
            op: {"p50_ms": round(float(np.percentile(s, 50)) / 1e6, 6),
                 "p95_ms": round(float(np.percentile(s, 95)) / 1e6, 6), "count": count}
            for op, s, count in sorted(items, key=lambda item: item[0])
        }  # fmt: skip


def timed(operation: str) -> Callable[[F], F]:
    """Record the wall time of each call of a Memory method in its ``_latencies``."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return method(self, *args, **kwargs)
            finally:
                self._shared.latencies.add(operation, time.perf_counter_ns() - start)

        return run  # type: ignore[return-value]

    return wrap


def _samples(stats: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, str], float]]:
    """(name, type, help, labels, value) for every metric of one ``stats()`` snapshot."""
    for ns, counts in stats.get("namespaces", {}).items():
        yield "graphmem_entities", "gauge", "Current entities", {"namespace": ns}, counts["entities"]
        yield "graphmem_relations", "gauge", "Current relations", {"namespace": ns}, counts["relations"]
    for part, value in stats.get("bytes", {}).items():
        if value is not None:
            yield "graphmem_bytes", "gauge", "Bytes on disk and resident, per part", {"part": part}, value
    for cache, info in stats.get("caches", {}).items():
        yield "graphmem_cache_hits_total", "counter", "Cache hits", {"cache": cache}, info["hits"]
        yield "graphmem_cache_misses_total", "counter", "Cache misses", {"cache": cache}, info["misses"]
    for op, info in stats.get("latency_ms", {}).items():
        yield "graphmem_operations_total", "counter", "Calls", {"operation": op}, info["count"]
        for quantile, key in (("0.5", "p50_ms"), ("0.95", "p95_ms")):
            yield ("graphmem_operation_latency_seconds", "gauge", "Call latency over the last calls",
                   {"operation": op, "quantile": quantile}, info[key] / 1000.0)  # fmt: skip
    for tier, count in stats.get("tiers", {}).items():
        yield "graphmem_tier_entities", "gauge", "Current entities per tier", {"tier": tier}, count


def collector(mem: Any) -> Any:
    """A prometheus-client collector of ``mem`` (register it with any registry)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class _Collector:
        def collect(self) -> Iterator[Any]:
            families: dict[str, Any] = {}
            for name, kind, help_text, labels, value in _samples(mem.stats()):
                family = families.get(name)
                if family is None:
                    base = name[: -len("_total")] if kind == "counter" else name
                    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                    family = families[name] = cls(base, help_text, labels=sorted(labels))
                family.add_metric([labels[k] for k in sorted(labels)], float(value))
            yield from families.values()

        def describe(self) -> list[Any]:
            return []  # no fixed description: samples follow the store's namespaces

    return _Collector()


def serve(mem: Any, port: int, *, addr: str = "127.0.0.1") -> Any:
    """Serve ``mem``'s metrics at ``http://addr:port/metrics``; returns (server, thread)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(collector(mem))
    return start_http_server(port, addr=addr, registry=registry)
