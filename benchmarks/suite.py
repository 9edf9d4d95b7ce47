"""What a benchmark suite declares, and what one run of it gets to work with.

A suite module (``benchmarks/bench_<name>.py``) exposes ``SUITE``: its
benchmarks with their budgets, and a ``run(ctx)`` that returns measurements
(plain dicts, written to JSON as they are). Budgets travel inside the JSON, so
the report needs no suite code (and no engine) to judge a result.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .timing import Stats

__all__ = ["Budget", "Reference", "Benchmark", "Suite", "RunContext", "measurement", "failure"]


@dataclass(frozen=True, slots=True)
class Budget:
    """A target from the issues: ``p50_ms`` at most ``limit``, or ``ops_per_s`` at least ``limit``.

    ``at_size`` restricts the check to one graph size (the bulk-load rates are
    promised at 1M entities, where fixed costs no longer dominate).

    Examples
    --------
    >>> b = Budget("ops_per_s", 150_000, at_size=1_000_000)
    >>> b.describe(), b.check({"ops_per_s": 2e5, "size": 1_000_000}), b.check({"ops_per_s": 2e5, "size": 10})
    ('>= 150k/s at 1M', True, None)
    >>> Budget("p50_ms", 0.05).describe()
    'p50 <= 0.05 ms'
    """

    metric: str
    limit: float
    at_size: int | None = None

    def __post_init__(self) -> None:
        if self.metric not in ("p50_ms", "ops_per_s"):
            raise ValueError(f"unknown budget metric {self.metric!r}")

    def describe(self) -> str:
        return describe_budget(asdict(self))

    def check(self, m: dict[str, Any]) -> bool | None:
        return check_budget(asdict(self), m)


def describe_budget(budget: dict[str, Any]) -> str:
    if budget["metric"] == "p50_ms":
        text = f"p50 <= {budget['limit']:g} ms"
    else:
        text = f">= {human_count(budget['limit'])}/s"
    if budget.get("at_size"):
        text += f" at {human_count(budget['at_size'])}"
    return text


def check_budget(budget: dict[str, Any] | None, m: dict[str, Any]) -> bool | None:
    """``True``/``False`` for a measurement the budget applies to, ``None`` otherwise."""
    if budget is None or (budget.get("at_size") and m["size"] != budget["at_size"]):
        return None
    if "error" in m:
        return False
    if budget["metric"] == "p50_ms":
        return bool(m["p50_ms"] <= budget["limit"])
    return bool(m["ops_per_s"] >= budget["limit"])


def human_count(value: float) -> str:
    """
    >>> human_count(150_000), human_count(1_000_000), human_count(1_234), human_count(999)
    ('150k', '1M', '1.23k', '999')
    """
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One thing measured. ``kind`` is ``"latency"`` (per call) or ``"throughput"`` (``unit`` per second)."""

    name: str
    description: str
    kind: str = "latency"
    unit: str = "calls"
    budget: Budget | None = None
    reference: Reference | None = None
    """A published target from outside the project, shown beside the budget."""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["budget"] = None if self.budget is None else asdict(self.budget)
        out["reference"] = None if self.reference is None else asdict(self.reference)
        return out


@dataclass(frozen=True, slots=True)
class Reference:
    """Someone else's published target for a benchmark: ``p50_ms`` at most
    ``limit`` (their wording says "under"; p50 is the figure compared), with
    where it comes from."""

    source: str
    limit: float
    metric: str = "p50_ms"


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    title: str
    benchmarks: tuple[Benchmark, ...]
    run: Callable[[RunContext], list[dict[str, Any]]]
    engines: tuple[str, ...] | None = None
    """The engines whose child process runs this suite (``None``: every one).
    A suite that does not measure graphmem itself (the peers) runs once."""

    def benchmark(self, name: str) -> Benchmark:
        for b in self.benchmarks:
            if b.name == name:
                return b
        raise KeyError(f"suite {self.name!r} has no benchmark {name!r}")


@dataclass(slots=True)
class RunContext:
    """Everything a suite's ``run`` may use: the engine, the sizes and graph
    shapes to cover, how many repetitions, and where to put stores on disk."""

    engine: str
    sizes: list[int]
    graphs: list[str]
    seed: int
    quick: bool
    workdir: Path
    repeat: int | None = None
    """Overrides every benchmark's repetition count (the smoke test uses 1)."""
    only: set[str] | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Callable[[list[dict[str, Any]]], None] | None = None
    """Set by the runner: writes the measurements so far, so a crash at 1M
    does not lose the smaller sizes."""
    profile_dir: Path | None = None
    """With ``--profile DIR``: each benchmark run inside :meth:`profiling`
    writes a cProfile dump and a text summary there."""
    _started: float = field(default_factory=time.perf_counter)

    def reps(self, full: int, quick: int) -> int:
        if self.repeat is not None:
            return self.repeat
        return quick if self.quick else full

    def wanted(self, name: str) -> bool:
        return self.only is None or name in self.only

    def save(self, measurements: list[dict[str, Any]]) -> None:
        if self.checkpoint is not None:
            self.checkpoint(measurements)

    @contextmanager
    def profiling(self, name: str, tag: str) -> Iterator[None]:
        """Profile the enclosed code as benchmark ``name`` (``tag``: graph and size) when asked to."""
        if self.profile_dir is None or not self.wanted(name):
            yield
            return
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            stem = self.profile_dir / f"{name}-{tag}-{self.engine}"
            profiler.dump_stats(stem.with_suffix(".prof"))
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text).strip_dirs()
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)
            stem.with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")
            self.log(f"  {name}: profile in {stem}.txt (.prof for snakeviz/pstats)")

    def log(self, message: str) -> None:
        elapsed = time.perf_counter() - self._started
        print(f"[{elapsed:7.1f}s {self.engine}] {message}", file=sys.stderr, flush=True)


def failure(bench: Benchmark, *, graph: str, size: int, exc: BaseException) -> dict[str, Any]:
    """The JSON record of a benchmark that raised: the library's error, kept
    with the figures so a failure at one size is as visible as a slow result."""
    return {
        "benchmark": bench.name,
        "graph": graph,
        "size": size,
        "kind": bench.kind,
        "unit": bench.unit,
        "error": f"{type(exc).__name__}: {exc}",
    }


def measurement(bench: Benchmark, *, graph: str, size: int, stats: Stats, **extra: Any) -> dict[str, Any]:
    """One JSON record: which benchmark, on what, and its figures."""
    return {
        "benchmark": bench.name,
        # Other processes on a 2-core machine shift latencies by whole
        # scheduler ticks (4 ms here); the load at record time flags that.
        "load1": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "graph": graph,
        "size": size,
        "kind": bench.kind,
        "unit": bench.unit,
        **stats.as_dict(),
        "extra": extra,
    }
